//! [`Pool`]: a group of tasks, at most `size` of them alive at once
//! (gevent's `pool.Pool`).

use super::sync::{Event, Permit, Semaphore};
use super::task::{Task, spawn};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A group of tasks of which at most `size` are alive at once (gevent's
/// `pool.Pool`). [`spawn`](Pool::spawn) waits (letting the others run)
/// while the pool is full; a task leaves the pool when it dies (returns,
/// panics or is killed), and the first spawner waiting takes its place.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, Pool};
/// use std::time::{Duration, Instant};
///
/// let pool = Pool::new(10);
/// let start = Instant::now();
/// // 50 jobs of 10 ms, 10 at a time: about 50 ms, not 500 (nor 10).
/// let squares = pool.map(0..50u64, |i| {
///     hub::sleep(Duration::from_millis(10));
///     i * i
/// });
/// assert_eq!(squares[7], 49);
/// assert!(start.elapsed() >= Duration::from_millis(50));
/// ```
pub struct Pool {
    inner: Rc<Inner>,
}

struct Inner {
    size: usize,
    slots: Semaphore,
    /// Its tasks from spawn until death, by id (to kill them).
    members: RefCell<Vec<(u64, Rc<dyn Member>)>>,
    next_id: Cell<u64>,
    /// Set while the pool has no task.
    empty: Event,
}

/// What the pool needs of a task, whatever its result type.
trait Member {
    /// [`Task::begin_kill`]: true if it must be waited for.
    fn begin_kill(&self) -> bool;
    fn join(&self);
}

impl<R> Member for Task<R> {
    fn begin_kill(&self) -> bool {
        Task::begin_kill(self)
    }

    fn join(&self) {
        Task::join(self, None);
    }
}

/// Moved into a task's closure: when the closure is dropped (the task
/// ended, or was killed before it started), the task leaves the pool and
/// its slot is freed.
struct Leave {
    pool: Rc<Inner>,
    id: u64,
    _slot: Permit,
}

impl Drop for Leave {
    fn drop(&mut self) {
        let gone = {
            let mut m = self.pool.members.borrow_mut();
            m.iter()
                .position(|(id, _)| *id == self.id)
                .map(|i| m.swap_remove(i))
        };
        // Outside the borrow: it drops a task handle.
        drop(gone);
        if self.pool.members.borrow().is_empty() {
            self.pool.empty.set();
        }
    }
}

impl Pool {
    /// A pool of at most `size` tasks alive at once.
    ///
    /// # Panics
    /// If `size` is 0 (nothing could ever be spawned).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::Pool;
    ///
    /// let pool = Pool::new(4);
    /// assert_eq!((pool.size(), pool.len()), (4, 0));
    /// assert!(std::panic::catch_unwind(|| Pool::new(0)).is_err()); // size 0 panics
    /// ```
    pub fn new(size: usize) -> Pool {
        assert!(
            size > 0,
            "greenlet::hub: a Pool of size 0 could never run a task"
        );
        let empty = Event::new();
        empty.set();
        Pool {
            inner: Rc::new(Inner {
                size,
                slots: Semaphore::new(size),
                members: RefCell::new(Vec::new()),
                next_id: Cell::new(0),
                empty,
            }),
        }
    }

    /// Spawn `f` as a task of the pool, waiting first while `size` of its
    /// tasks are alive. The task starts as [`hub::spawn`](super::spawn)'s
    /// do (in spawn order, when the spawner blocks).
    ///
    /// # Panics
    /// As [`hub::spawn`](super::spawn); with the hub's deadlock message
    /// (naming `Pool::spawn`) if the pool is full and nothing can ever end
    /// one of its tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, Pool};
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(2);
    /// let a = pool.spawn(|| hub::sleep(Duration::from_millis(20)));
    /// let b = pool.spawn(|| hub::sleep(Duration::from_millis(20)));
    /// assert_eq!(pool.len(), 2);
    /// let c = pool.spawn(|| "third"); // full: waits until a or b has died
    /// assert!(a.is_ready() || b.is_ready());
    /// assert_eq!(c.get().unwrap(), "third");
    /// ```
    pub fn spawn<F, R>(&self, f: F) -> Task<R>
    where
        F: FnOnce() -> R + 'static,
        R: 'static,
    {
        let slot = self.inner.slots.acquire_named("Pool::spawn");
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        self.inner.empty.clear();
        let leave = Leave {
            pool: Rc::clone(&self.inner),
            id,
            _slot: slot,
        };
        let task = spawn(move || {
            let _leave = leave;
            f()
        });
        let member: Rc<dyn Member> = Rc::new(task.clone_handle());
        self.inner.members.borrow_mut().push((id, member));
        task
    }

    /// Wait until every task of the pool has died, or `timeout` has passed
    /// (`None`: no limit). True if the pool is empty.
    ///
    /// # Panics
    /// With the hub's deadlock message if nothing can ever end its tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, Pool};
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(3);
    /// let tasks = [5, 10, 300].map(|ms| pool.spawn(move || hub::sleep(Duration::from_millis(ms))));
    /// assert!(!pool.join(Some(Duration::from_millis(100))));
    /// assert_eq!(pool.len(), 1); // the 300 ms one
    /// assert!(pool.join(None));
    /// assert!(pool.is_empty() && tasks.iter().all(|t| t.is_ready()));
    /// ```
    pub fn join(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        while !self.is_empty() {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) || !self.inner.empty.wait(left) {
                return self.is_empty();
            }
        }
        true
    }

    /// Kill every task of the pool, and return once all are dead: each is
    /// interrupted (an unstarted one never runs) before any runs again, as
    /// [`hub::kill_all`](super::kill_all) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, Pool};
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(10);
    /// let tasks: Vec<_> = (0..3)
    ///     .map(|_| pool.spawn(|| hub::sleep(Duration::from_secs(60))))
    ///     .collect();
    /// pool.kill(); // they have not even started: none ever runs
    /// assert!(pool.is_empty());
    /// assert!(tasks.iter().all(|t| t.is_ready()));
    /// ```
    pub fn kill(&self) {
        loop {
            // Cloned out of the borrow: a task's end removes it.
            let members: Vec<Rc<dyn Member>> = self
                .inner
                .members
                .borrow()
                .iter()
                .map(|(_, m)| Rc::clone(m))
                .collect();
            if members.is_empty() {
                return;
            }
            // Every task is interrupted before any runs again (none starts
            // meanwhile); then the ones that unwind are waited for.
            let interrupted: Vec<_> = members.into_iter().filter(|m| m.begin_kill()).collect();
            for m in interrupted {
                m.join();
            }
        }
    }

    /// Its tasks from spawn until death, started or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::Pool;
    ///
    /// let pool = Pool::new(5);
    /// let t = pool.spawn(|| ());
    /// assert_eq!(pool.len(), 1); // counted from spawn, started or not
    /// t.get().unwrap();
    /// assert_eq!(pool.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.members.borrow().len()
    }

    /// Whether [`len`](Pool::len) is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::Pool;
    ///
    /// let pool = Pool::new(1);
    /// assert!(pool.is_empty());
    /// let _t = pool.spawn(|| ());
    /// assert!(!pool.is_empty());
    /// pool.join(None);
    /// assert!(pool.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most tasks alive at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::Pool;
    ///
    /// let pool = Pool::new(8);
    /// let _t = pool.spawn(|| ());
    /// assert_eq!((pool.size(), pool.len()), (8, 1));
    /// ```
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// Run `f` on each item as a task of the pool (spawning as room
    /// allows), and return the results in input order.
    ///
    /// # Panics
    /// If `f` panics for an item, that panic continues in the caller, once
    /// the tasks before it have finished; the tasks after it are killed
    /// first.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, Pool};
    /// use std::panic::{AssertUnwindSafe, catch_unwind};
    /// use std::time::Duration;
    ///
    /// let pool = Pool::new(3);
    /// // In input order, whatever order the tasks finish in.
    /// let out = pool.map([30u64, 10, 20], |ms| {
    ///     hub::sleep(Duration::from_millis(ms));
    ///     ms * 2
    /// });
    /// assert_eq!(out, [60, 20, 40]);
    /// // A panic in one task continues in the caller.
    /// let r = catch_unwind(AssertUnwindSafe(|| {
    ///     pool.map(0..4, |i| if i == 2 { panic!("bad item") } else { i })
    /// }));
    /// assert!(r.is_err());
    /// ```
    pub fn map<I, F, R>(&self, items: I, f: F) -> Vec<R>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> R + Clone + 'static,
        R: 'static,
    {
        let tasks: Vec<Task<R>> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.spawn(move || f(item))
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        let mut rest = tasks.into_iter();
        while let Some(t) = rest.next() {
            match t.get() {
                Ok(r) => out.push(r),
                Err(p) => {
                    let rest: Vec<Task<R>> = rest.collect();
                    super::task::kill_all(&rest);
                    panic::resume_unwind(p);
                }
            }
        }
        out
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.inner.size)
            .field("len", &self.len())
            .finish()
    }
}

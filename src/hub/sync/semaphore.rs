//! [`Semaphore`] and its [`Permit`] (gevent's `lock.Semaphore`).

use super::waiters::WaitList;
use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A counting semaphore for the greenlets of one thread (gevent's
/// `lock.Semaphore`): [`acquire`](Semaphore::acquire) takes a permit,
/// waiting (and letting the others run) while none is free; the
/// [`Permit`] gives it back when dropped.
///
/// Clones share one semaphore. Waiters get permits in the order they came
/// (FIFO), and a released permit goes straight to the first waiter: a
/// [`try_acquire`](Semaphore::try_acquire) made meanwhile cannot take it.
/// If that waiter is killed or timed out before it resumes, the permit
/// passes on to the next waiter (or back to the semaphore).
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, sync::Semaphore};
/// use std::time::Duration;
///
/// let sem = Semaphore::new(2);
/// let tasks: Vec<_> = (0..6)
///     .map(|_| {
///         let sem = sem.clone();
///         hub::spawn(move || {
///             let _permit = sem.acquire(); // at most two hold one at once
///             hub::sleep(Duration::from_millis(5));
///         })
///     })
///     .collect();
/// assert_eq!(hub::join_all(&tasks, None), 6);
/// assert_eq!(sem.available(), 2);
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Rc<Inner>,
}

struct Inner {
    /// Free permits. Never above zero while someone waits: a released
    /// permit goes to the first waiter.
    free: Cell<usize>,
    waiters: WaitList<()>,
}

impl Inner {
    /// Give one permit back: to the first waiter, or to the count.
    fn release(&self) {
        if self.waiters.hand_first(()).is_err() {
            self.free.set(self.free.get() + 1);
        }
    }

    fn acquire(
        self: &Rc<Self>,
        what: &'static str,
        deadline: Option<Instant>,
    ) -> Result<Permit, Shutdown> {
        if let Some(p) = self.try_acquire() {
            return Ok(p);
        }
        let this = Rc::clone(self);
        let w = self
            .waiters
            .wait(what, deadline, None, move |()| this.release());
        if w.slot.is_some() {
            Ok(Permit {
                sem: Rc::clone(self),
            })
        } else if w.done {
            unreachable!("a semaphore's waiter is only ever handed a permit")
        } else {
            Err(Shutdown)
        }
    }

    fn try_acquire(self: &Rc<Self>) -> Option<Permit> {
        let n = self.free.get();
        if n == 0 {
            return None;
        }
        self.free.set(n - 1);
        Some(Permit {
            sem: Rc::clone(self),
        })
    }
}

/// The wait ended with no permit: its deadline passed, or the thread's hub
/// is shutting down.
pub(crate) struct Shutdown;

impl Semaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// assert_eq!(sem.available(), 3);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available(), 2);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            inner: Rc::new(Inner {
                free: Cell::new(permits),
                waiters: WaitList::new(),
            }),
        }
    }

    /// Take a permit, waiting while none is free.
    ///
    /// # Panics
    /// With the hub's deadlock message (naming `Semaphore::acquire`) if
    /// nothing can ever release one; and if the thread's hub is shutting
    /// down (the thread is exiting) and no permit is free.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Semaphore};
    /// use std::time::Duration;
    ///
    /// let sem = Semaphore::new(1);
    /// let held = sem.acquire(); // free: no wait
    /// let waiter = {
    ///     let sem = sem.clone();
    ///     hub::spawn(move || sem.acquire().forget())
    /// };
    /// hub::sleep(Duration::ZERO); // the task now waits for a permit
    /// assert!(!waiter.is_ready());
    /// drop(held); // hands the permit to the waiter
    /// waiter.get().unwrap();
    /// assert_eq!(sem.available(), 0); // it kept it
    /// ```
    pub fn acquire(&self) -> Permit {
        self.acquire_named("Semaphore::acquire")
    }

    /// [`acquire`](Semaphore::acquire), with the name a deadlock reports.
    pub(crate) fn acquire_named(&self, what: &'static str) -> Permit {
        self.inner.acquire(what, None).unwrap_or_else(|Shutdown| {
            panic!("greenlet::hub: {what} while the thread's hub shuts down, with no permit free")
        })
    }

    /// [`acquire`](Semaphore::acquire), giving up after `d`: `None` then.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Semaphore;
    /// use std::time::Duration;
    ///
    /// let sem = Semaphore::new(1);
    /// let d = Duration::from_millis(1);
    /// let p = sem.acquire_timeout(d).expect("one is free");
    /// assert!(sem.acquire_timeout(d).is_none()); // none came back within 1 ms
    /// drop(p);
    /// assert!(sem.acquire_timeout(d).is_some());
    /// ```
    pub fn acquire_timeout(&self, d: Duration) -> Option<Permit> {
        self.inner
            .acquire("Semaphore::acquire", Some(Instant::now() + d))
            .ok()
    }

    /// Take a permit if one is free now (a permit released to a waiter is
    /// not free).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// let p = sem.try_acquire();
    /// assert!(p.is_some());
    /// assert!(sem.try_acquire().is_none()); // none free, and it never waits
    /// ```
    pub fn try_acquire(&self) -> Option<Permit> {
        self.inner.try_acquire()
    }

    /// Free permits now.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// let a = sem.acquire();
    /// assert_eq!(sem.available(), 1);
    /// drop(a);
    /// assert_eq!(sem.available(), 2);
    /// ```
    pub fn available(&self) -> usize {
        self.inner.free.get()
    }

    /// Add `n` permits: each goes to the first waiter, in order, and the
    /// rest become free.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(0);
    /// assert!(sem.try_acquire().is_none());
    /// sem.add_permits(2);
    /// assert_eq!(sem.available(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        for _ in 0..n {
            self.inner.release();
        }
    }

    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        self.inner.waiters.len()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.inner.free.get())
            .field("waiters", &self.inner.waiters.len())
            .finish()
    }
}

/// One permit of a [`Semaphore`], given back when dropped.
///
/// # Examples
///
/// ```
/// use greenlet::hub::sync::Semaphore;
///
/// let sem = Semaphore::new(1);
/// {
///     let _permit = sem.acquire();
///     assert_eq!(sem.available(), 0);
/// } // dropped: given back
/// assert_eq!(sem.available(), 1);
/// ```
#[must_use = "dropping a Permit gives the permit back at once"]
pub struct Permit {
    sem: Rc<Inner>,
}

impl Permit {
    /// Keep the permit taken: it is never given back (the semaphore has
    /// one permit fewer from now on).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available(), 1); // for good
    /// ```
    pub fn forget(self) {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never dropped nor used again, so moving its one
        // field out drops that `Rc` exactly once (and runs no release).
        drop(unsafe { std::ptr::read(&me.sem) });
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.sem.release();
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit")
    }
}

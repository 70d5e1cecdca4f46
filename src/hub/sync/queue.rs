//! [`Queue`] (gevent's `queue.Queue`, and `queue.Channel` when bounded to
//! zero).

use super::waiters::WaitList;
use crate::hub::time::Elapsed;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A first-in, first-out queue between the greenlets of one thread
/// (gevent's `queue.Queue`): [`get`](Queue::get) waits while it is empty,
/// and [`put`](Queue::put) on a [bounded](Queue::bounded) queue waits while
/// it is full; both let the other greenlets run meanwhile. Clones share one
/// queue, for every `T`.
///
/// * Getters and putters are served in the order they came (FIFO). A value
///   put while a getter waits goes straight to the first getter: a
///   [`try_get`](Queue::try_get) made meanwhile cannot take it. If that
///   getter is killed or timed out before it resumes, the value goes to
///   the next getter, or back to the front of the queue: nothing put is
///   lost. (Back in the queue, it may make a bounded queue one over its
///   capacity for a while.)
/// * [`close`](Queue::close) ends it: puts fail (returning the value),
///   waiting putters get their values back, and getters drain what is left
///   and then get `None`.
/// * `Queue::bounded(0)` is a rendezvous channel (gevent's `Channel`):
///   nothing is stored (`len()` is 0); `put` returns once a getter has
///   taken the value, and when a getter was waiting already, `put` first
///   yields to it, so that it runs before the putter goes on. `try_put`
///   succeeds only if a getter waits, `try_get` only if a putter does.
/// * A waiting greenlet holds the queue alive: if every other handle is
///   dropped meanwhile, nothing can wake it, and its wait ends by its
///   timeout or (if every greenlet waits) by the hub's deadlock panic,
///   which names `Queue::get` or `Queue::put`.
///
/// ```
/// use greenlet::hub::{self, sync::Queue};
///
/// let q = Queue::new();
/// let consumer = {
///     let q = q.clone();
///     hub::spawn(move || q.iter().sum::<u32>()) // get() until None
/// };
/// for i in 1..=4 {
///     q.put(i).unwrap();
/// }
/// q.close();
/// assert_eq!(consumer.get().unwrap(), 10);
/// ```
pub struct Queue<T> {
    inner: Rc<Inner<T>>,
}

struct Inner<T> {
    items: RefCell<VecDeque<T>>,
    /// `None`: unbounded.
    capacity: Option<usize>,
    closed: Cell<bool>,
    /// Waiting getters: a value is handed into their slot.
    getters: WaitList<T>,
    /// Waiting putters: their slot holds the value they offer.
    putters: WaitList<T>,
}

impl<T> Inner<T> {
    fn has_room(&self) -> bool {
        self.capacity
            .is_none_or(|c| self.items.borrow().len() < c && self.putters.is_empty())
    }

    /// A value handed to a getter that did not take it (killed or timed
    /// out before it resumed): to the next getter, or back to the front.
    fn pass_on(&self, v: T) {
        if let Err(v) = self.getters.hand_first(v) {
            self.items.borrow_mut().push_front(v);
        }
    }

    fn try_get(&self) -> Option<T> {
        let front = self.items.borrow_mut().pop_front();
        match front {
            Some(v) => {
                // Room now: the first waiting putter's value moves in.
                if let Some(p) = self.putters.take_first() {
                    self.items.borrow_mut().push_back(p);
                }
                Some(v)
            }
            // Empty, or a rendezvous: straight from a waiting putter.
            None => self.putters.take_first(),
        }
    }

    fn try_put(&self, v: T) -> Result<(), T> {
        if self.closed.get() {
            return Err(v);
        }
        let v = match self.getters.hand_first(v) {
            Ok(()) => return Ok(()),
            Err(v) => v,
        };
        if self.has_room() {
            self.items.borrow_mut().push_back(v);
            return Ok(());
        }
        Err(v)
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<T: 'static> Queue<T> {
    /// An unbounded queue.
    pub fn new() -> Queue<T> {
        Self::with_capacity(None)
    }

    /// A queue of at most `capacity` values: `put` waits while it is full.
    /// `0` makes a rendezvous channel (see the type's documentation).
    pub fn bounded(capacity: usize) -> Queue<T> {
        Self::with_capacity(Some(capacity))
    }

    fn with_capacity(capacity: Option<usize>) -> Queue<T> {
        Queue {
            inner: Rc::new(Inner {
                items: RefCell::new(VecDeque::new()),
                capacity,
                closed: Cell::new(false),
                getters: WaitList::new(),
                putters: WaitList::new(),
            }),
        }
    }

    /// Put `v` at the end, waiting while the queue is full. `Err(v)` once
    /// the queue is closed (also if it is closed while this waits).
    ///
    /// # Panics
    /// With the hub's deadlock message (naming `Queue::put`) if nothing can
    /// ever make room.
    pub fn put(&self, v: T) -> Result<(), T> {
        self.put_until(v, None)
    }

    /// Put `v` if that needs no wait now; `Err(v)` if the queue is full or
    /// closed.
    pub fn try_put(&self, v: T) -> Result<(), T> {
        self.inner.try_put(v)
    }

    /// [`put`](Queue::put), giving up after `d`: `Err(v)` then.
    pub fn put_timeout(&self, v: T, d: Duration) -> Result<(), T> {
        self.put_until(v, Some(Instant::now() + d))
    }

    fn put_until(&self, v: T, deadline: Option<Instant>) -> Result<(), T> {
        let inner = &*self.inner;
        let handed = !inner.getters.is_empty();
        let v = match inner.try_put(v) {
            Ok(()) => {
                if handed && inner.capacity == Some(0) {
                    // A rendezvous: the getter runs before the putter goes on.
                    crate::hub::time::sleep(Duration::ZERO);
                }
                return Ok(());
            }
            Err(v) if inner.closed.get() => return Err(v),
            Err(v) => v,
        };
        // An unwinding putter's value was never put: it is dropped with it.
        let w = inner.putters.wait("Queue::put", deadline, Some(v), drop);
        match w.slot {
            None => Ok(()),
            // Closed, timed out, or the hub shuts down.
            Some(v) => Err(v),
        }
    }

    /// Take the first value, waiting while the queue is empty. `None` once
    /// the queue is closed and drained (and while the thread's hub shuts
    /// down).
    ///
    /// # Panics
    /// With the hub's deadlock message (naming `Queue::get`) if nothing can
    /// ever put a value or close it.
    pub fn get(&self) -> Option<T> {
        self.get_until(None).unwrap_or(None)
    }

    /// Take the first value if there is one now (on a rendezvous channel:
    /// if a putter waits).
    pub fn try_get(&self) -> Option<T> {
        self.inner.try_get()
    }

    /// [`get`](Queue::get), giving up after `d`: `Err(Elapsed)` then.
    pub fn get_timeout(&self, d: Duration) -> Result<Option<T>, Elapsed> {
        self.get_until(Some(Instant::now() + d))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<Option<T>, Elapsed> {
        if let Some(v) = self.inner.try_get() {
            return Ok(Some(v));
        }
        if self.inner.closed.get() {
            return Ok(None);
        }
        let this = Rc::clone(&self.inner);
        let w = self
            .inner
            .getters
            .wait("Queue::get", deadline, None, move |v| this.pass_on(v));
        match w.slot {
            Some(v) => Ok(Some(v)),
            // Woken by `close`.
            None if w.done => Ok(None),
            // The deadline passed (or the hub shuts down).
            None if deadline.is_some() => Err(Elapsed),
            None => Ok(None),
        }
    }

    /// Close the queue: every waiter wakes (getters with `None`, putters
    /// with their value back); later puts fail, and gets drain what is left
    /// and then return `None`.
    pub fn close(&self) {
        self.inner.closed.set(true);
        self.inner.getters.wake_all(|| None);
        self.inner.putters.wake_all(|| None);
    }

    /// Whether [`close`](Queue::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Values in the queue now (not counting values offered by waiting
    /// putters; always 0 for a rendezvous channel).
    pub fn len(&self) -> usize {
        self.inner.items.borrow().len()
    }

    /// Whether [`len`](Queue::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`get`](Queue::get) until it returns `None` (the queue is closed and
    /// drained).
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.get())
    }

    /// Greenlets registered as waiting on this object now (getters and
    /// putters; for tests and diagnostics: after a wait ends, however it
    /// ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        self.inner.getters.len() + self.inner.putters.len()
    }
}

impl<T: 'static> Default for Queue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("len", &self.inner.items.borrow().len())
            .field("capacity", &self.inner.capacity)
            .field("closed", &self.inner.closed.get())
            .field("getters", &self.inner.getters.len())
            .field("putters", &self.inner.putters.len())
            .finish()
    }
}

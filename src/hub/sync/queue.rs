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
///   lost.
/// * A bounded queue never holds more than its capacity. A value handed to
///   a getter that has not resumed yet counts toward it (as in gevent,
///   where such a value sits in the queue until its getter runs), so
///   that it always fits when it comes back; `len()` does not count it.
/// * [`close`](Queue::close) ends it: puts fail (returning the value),
///   waiting putters get their values back, and getters drain what is left
///   and then get `None`.
/// * `Queue::bounded(0)` is a rendezvous channel (gevent's `Channel`):
///   nothing is stored (`len()` is 0); `put` returns once a getter has
///   taken the value, and when a getter was waiting already, `put` first
///   yields to it, so that it runs before the putter goes on. If that
///   getter is killed or timed out before it takes the value, the putter
///   goes on waiting for the next getter. `try_put` succeeds only if a
///   getter waits, `try_get` only if a putter does. (One exception to
///   "stores nothing": a value `try_put` handed to a getter that is killed
///   before it resumes, with no other getter waiting, stays in the channel
///   for the next `get`, counted by `len()`, as `try_put` cannot take it
///   back.)
/// * A waiting greenlet holds the queue alive: if every other handle is
///   dropped meanwhile, nothing can wake it, and its wait ends by its
///   timeout or (if every greenlet waits) by the hub's deadlock panic,
///   which names `Queue::get` or `Queue::put`.
///
/// # Examples
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
    /// Waiting getters. A waker puts `Some(v)` in a getter's slot (a value
    /// handed to it), or `None`: look again (a rendezvous putter waits now,
    /// or the queue was closed).
    getters: WaitList<Option<T>>,
    /// Getters woken to look again that have not resumed yet: a rendezvous
    /// putter's value is theirs, not a newcomer's `try_get`'s.
    looking: Cell<usize>,
    /// Values handed to getters that have not resumed yet: they count
    /// toward a bounded queue's capacity, so that one coming back (its
    /// getter killed) still fits.
    handed: Cell<usize>,
    /// Waiting putters: their slot holds the value they offer.
    putters: WaitList<T>,
}

impl<T> Inner<T> {
    fn is_rendezvous(&self) -> bool {
        self.capacity == Some(0)
    }

    /// Room for one more value, counting those handed to getters.
    fn fits_one_more(&self) -> bool {
        self.capacity
            .is_none_or(|c| self.items.borrow().len() + self.handed.get() < c)
    }

    fn has_room(&self) -> bool {
        self.fits_one_more() && (self.capacity.is_none() || self.putters.is_empty())
    }

    /// Hand `v` to the first waiting getter; `Err(v)` if none waits.
    fn hand_to_getter(&self, v: T) -> Result<(), T> {
        match self.getters.hand_first(Some(v)) {
            Ok(()) => {
                self.handed.set(self.handed.get() + 1);
                Ok(())
            }
            Err(v) => Err(v.expect("handed a value")),
        }
    }

    /// A getter took the value handed to it: that room is free again, for
    /// the first waiting putter's value if there is one (not in a
    /// rendezvous, whose putters wait for a getter to take their value).
    fn handed_taken(&self) {
        self.handed.set(self.handed.get() - 1);
        if !self.putters.is_empty()
            && !self.is_rendezvous()
            && self.fits_one_more()
            && let Some(p) = self.putters.take_first()
        {
            self.items.borrow_mut().push_back(p);
        }
    }

    /// Wake the first waiting getter to look again (a rendezvous putter
    /// waits). False if none waits.
    fn signal_getter(&self) -> bool {
        let woke = self.getters.hand_first(None).is_ok();
        if woke {
            self.looking.set(self.looking.get() + 1);
        }
        woke
    }

    /// What was handed to a getter that did not take it (killed or timed
    /// out before it resumed): a value goes to the next getter, or back to
    /// the front; a "look again" goes to the next getter.
    fn pass_on(&self, x: Option<T>) {
        match x {
            Some(v) => {
                // Still counted in `handed` until here, so it fits.
                self.handed.set(self.handed.get() - 1);
                if let Err(v) = self.hand_to_getter(v) {
                    self.items.borrow_mut().push_front(v);
                }
            }
            None => {
                self.looking.set(self.looking.get() - 1);
                if !self.putters.is_empty() {
                    self.signal_getter();
                }
            }
        }
    }

    fn try_get(&self) -> Option<T> {
        let front = self.items.borrow_mut().pop_front();
        match front {
            Some(v) => {
                // Room now: the first waiting putter's value moves in (not
                // in a rendezvous, which has no room: its putters wait for
                // a getter to take their value).
                if !self.is_rendezvous()
                    && let Some(p) = self.putters.take_first()
                {
                    self.items.borrow_mut().push_back(p);
                }
                Some(v)
            }
            // A rendezvous: straight from a waiting putter, unless every
            // waiting putter's value is promised to a getter woken for it.
            None if self.putters.len() > self.looking.get() => self.putters.take_first(),
            None => None,
        }
    }

    fn try_put(&self, v: T) -> Result<(), T> {
        if self.closed.get() {
            return Err(v);
        }
        let v = match self.hand_to_getter(v) {
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    ///
    /// let q = Queue::new();
    /// for i in 0..1000 {
    ///     q.put(i).unwrap(); // unbounded: never waits
    /// }
    /// assert_eq!(q.len(), 1000);
    /// assert_eq!(q.try_get(), Some(0));
    /// ```
    pub fn new() -> Queue<T> {
        Self::with_capacity(None)
    }

    /// A queue of at most `capacity` values: `put` waits while it is full.
    /// `0` makes a rendezvous channel (see the type's documentation).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Queue};
    ///
    /// let q = Queue::bounded(1);
    /// q.put('a').unwrap();
    /// assert_eq!(q.try_put('b'), Err('b')); // full
    /// let reader = {
    ///     let q = q.clone();
    ///     hub::spawn(move || q.get())
    /// };
    /// q.put('b').unwrap(); // waits until the reader has made room
    /// assert_eq!(reader.get().unwrap(), Some('a'));
    /// assert_eq!(q.try_get(), Some('b'));
    /// ```
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
                looking: Cell::new(0),
                handed: Cell::new(0),
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Queue};
    ///
    /// let ch = Queue::bounded(0); // a rendezvous channel
    /// let getter = {
    ///     let ch = ch.clone();
    ///     hub::spawn(move || ch.get())
    /// };
    /// ch.put("hand-off").unwrap(); // returns once the getter has it
    /// assert_eq!(getter.get().unwrap(), Some("hand-off"));
    /// ch.close();
    /// assert_eq!(ch.put("late"), Err("late")); // closed: the value comes back
    /// ```
    pub fn put(&self, v: T) -> Result<(), T> {
        self.put_until(v, None)
    }

    /// Put `v` if that needs no wait now; `Err(v)` if the queue is full or
    /// closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    ///
    /// let q = Queue::bounded(1);
    /// assert_eq!(q.try_put(1), Ok(()));
    /// assert_eq!(q.try_put(2), Err(2)); // full
    /// assert_eq!(q.try_get(), Some(1));
    /// q.close();
    /// assert_eq!(q.try_put(3), Err(3)); // closed
    /// ```
    pub fn try_put(&self, v: T) -> Result<(), T> {
        self.inner.try_put(v)
    }

    /// [`put`](Queue::put), giving up after `d`: `Err(v)` then.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    /// use std::time::Duration;
    ///
    /// let q = Queue::bounded(1);
    /// let d = Duration::from_millis(1);
    /// assert_eq!(q.put_timeout(1, d), Ok(()));
    /// assert_eq!(q.put_timeout(2, d), Err(2)); // still full after 1 ms
    /// ```
    pub fn put_timeout(&self, v: T, d: Duration) -> Result<(), T> {
        self.put_until(v, Some(Instant::now() + d))
    }

    fn put_until(&self, v: T, deadline: Option<Instant>) -> Result<(), T> {
        let inner = &*self.inner;
        if inner.closed.get() {
            return Err(v);
        }
        let v = if inner.is_rendezvous() {
            // Wait as a putter in any case; a waiting getter is woken to
            // take the value (it runs before this putter goes on), and if
            // it dies first, the next getter is.
            inner.signal_getter();
            v
        } else {
            match inner.try_put(v) {
                Ok(()) => return Ok(()),
                Err(v) => v,
            }
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Queue};
    ///
    /// let q = Queue::new();
    /// let producer = {
    ///     let q = q.clone();
    ///     hub::spawn(move || {
    ///         q.put(1).unwrap();
    ///         q.close();
    ///     })
    /// };
    /// assert_eq!(q.get(), Some(1)); // waits; the producer runs
    /// assert_eq!(q.get(), None); // closed and drained
    /// producer.get().unwrap();
    /// ```
    pub fn get(&self) -> Option<T> {
        self.get_until(None).unwrap_or(None)
    }

    /// Take the first value if there is one now (on a rendezvous channel:
    /// if a putter waits).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    ///
    /// let q = Queue::new();
    /// assert_eq!(q.try_get(), None); // never waits
    /// q.put("x").unwrap();
    /// assert_eq!(q.try_get(), Some("x"));
    /// ```
    pub fn try_get(&self) -> Option<T> {
        self.inner.try_get()
    }

    /// [`get`](Queue::get), giving up after `d`: `Err(Elapsed)` then.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{Elapsed, sync::Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::new();
    /// let d = Duration::from_millis(1);
    /// assert_eq!(q.get_timeout(d), Err(Elapsed));
    /// q.put(7).unwrap();
    /// assert_eq!(q.get_timeout(d), Ok(Some(7)));
    /// q.close();
    /// assert_eq!(q.get_timeout(d), Ok(None));
    /// ```
    pub fn get_timeout(&self, d: Duration) -> Result<Option<T>, Elapsed> {
        self.get_until(Some(Instant::now() + d))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<Option<T>, Elapsed> {
        let inner = &*self.inner;
        loop {
            if let Some(v) = inner.try_get() {
                return Ok(Some(v));
            }
            if inner.closed.get() {
                return Ok(None);
            }
            let this = Rc::clone(&self.inner);
            let w = inner
                .getters
                .wait("Queue::get", deadline, None, move |x| this.pass_on(x));
            match w.slot {
                Some(Some(v)) => {
                    inner.handed_taken();
                    return Ok(Some(v));
                }
                // Look again: a rendezvous putter waits, or it is closed.
                Some(None) => {
                    if w.done {
                        inner.looking.set(inner.looking.get() - 1);
                    }
                    if let Some(v) = inner.putters.take_first() {
                        return Ok(Some(v));
                    }
                }
                // The deadline passed (or the hub shuts down).
                None if deadline.is_some() => return Err(Elapsed),
                None => return Ok(None),
            }
        }
    }

    /// Close the queue: every waiter wakes (getters with `None`, putters
    /// with their value back); later puts fail, and gets drain what is left
    /// and then return `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<i32>::new();
    /// let getter = {
    ///     let q = q.clone();
    ///     hub::spawn(move || q.get())
    /// };
    /// hub::sleep(Duration::ZERO); // the getter waits
    /// q.close(); // wakes it, with None
    /// assert_eq!(getter.get().unwrap(), None);
    /// assert_eq!(q.put(1), Err(1));
    /// ```
    pub fn close(&self) {
        let inner = &*self.inner;
        inner.closed.set(true);
        let n = inner.getters.len();
        inner.looking.set(inner.looking.get() + n);
        inner.getters.wake_all(|| Some(None));
        inner.putters.wake_all(|| None);
    }

    /// Whether [`close`](Queue::close) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    ///
    /// let q = Queue::new();
    /// q.put(1).unwrap();
    /// q.close();
    /// assert!(q.is_closed());
    /// assert_eq!(q.get(), Some(1)); // what is left can still be taken
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Values in the queue now (not counting values offered by waiting
    /// putters or handed to getters that have not resumed; always 0 for a
    /// rendezvous channel).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    ///
    /// let q = Queue::new();
    /// q.put('a').unwrap();
    /// q.put('b').unwrap();
    /// assert_eq!(q.len(), 2);
    /// assert_eq!(Queue::<char>::bounded(0).len(), 0); // a rendezvous stores nothing
    /// ```
    pub fn len(&self) -> usize {
        self.inner.items.borrow().len()
    }

    /// Whether [`len`](Queue::len) is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    ///
    /// let q = Queue::new();
    /// assert!(q.is_empty());
    /// q.put(()).unwrap();
    /// assert!(!q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`get`](Queue::get) until it returns `None` (the queue is closed and
    /// drained).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Queue;
    ///
    /// let q = Queue::new();
    /// for word in ["a", "b", "c"] {
    ///     q.put(word).unwrap();
    /// }
    /// q.close(); // without it, `iter` would wait for more
    /// assert_eq!(q.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    /// ```
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
            .field("handed", &self.inner.handed.get())
            .field("closed", &self.inner.closed.get())
            .field("getters", &self.inner.getters.len())
            .field("putters", &self.inner.putters.len())
            .finish()
    }
}

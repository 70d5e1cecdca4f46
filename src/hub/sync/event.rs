//! [`Event`] (gevent's `event.Event`).

use super::waiters::WaitList;
use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A flag greenlets can wait for (gevent's `event.Event`):
/// [`set`](Event::set) raises it and wakes every waiter, in the order they
/// came; [`clear`](Event::clear) lowers it. Clones share one event.
///
/// A waiting greenlet holds the event alive: if every other handle is
/// dropped meanwhile, nothing can set it any more, and the wait ends by
/// its timeout, or (if every greenlet waits) by the hub's deadlock panic,
/// which names `Event::wait`.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, sync::Event};
///
/// let ready = Event::new();
/// let waiter = {
///     let ready = ready.clone();
///     hub::spawn(move || ready.wait(None))
/// };
/// ready.set();
/// assert_eq!(waiter.get().unwrap(), true);
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Rc<Inner>,
}

struct Inner {
    set: Cell<bool>,
    waiters: WaitList<()>,
}

impl Event {
    /// A new event, not set.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Event;
    ///
    /// let e = Event::new();
    /// assert!(!e.is_set());
    /// assert!(!Event::default().is_set());
    /// ```
    pub fn new() -> Event {
        Event {
            inner: Rc::new(Inner {
                set: Cell::new(false),
                waiters: WaitList::new(),
            }),
        }
    }

    /// Raise the flag and wake every waiter (each of their waits returns
    /// true, even if the flag is cleared before it resumes).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Event};
    /// use std::time::Duration;
    ///
    /// let go = Event::new();
    /// let waiters: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let go = go.clone();
    ///         hub::spawn(move || go.wait(None))
    ///     })
    ///     .collect();
    /// hub::sleep(Duration::ZERO); // all three wait now
    /// go.set(); // wakes every one
    /// assert_eq!(hub::join_all(&waiters, None), 3);
    /// assert!(go.is_set());
    /// ```
    pub fn set(&self) {
        self.inner.set.set(true);
        self.inner.waiters.wake_all(|| Some(()));
    }

    /// Lower the flag.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Event;
    /// use std::time::Duration;
    ///
    /// let e = Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// assert!(!e.wait(Some(Duration::from_millis(1)))); // waits again, here in vain
    /// ```
    pub fn clear(&self) {
        self.inner.set.set(false);
    }

    /// Whether the flag is raised.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Event;
    ///
    /// let e = Event::new();
    /// let clone = e.clone();
    /// clone.set();
    /// assert!(e.is_set()); // clones share one flag
    /// ```
    pub fn is_set(&self) -> bool {
        self.inner.set.get()
    }

    /// Wait until the flag is raised, or `timeout` passes (`None`: no
    /// limit). True if the flag was set at return or a [`set`](Event::set)
    /// woke this wait; false on timeout.
    ///
    /// # Panics
    /// With the hub's deadlock message (naming `Event::wait`) if nothing
    /// can ever set it.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Event};
    /// use std::time::Duration;
    ///
    /// let e = Event::new();
    /// assert!(!e.wait(Some(Duration::from_millis(1)))); // timed out
    /// let setter = {
    ///     let e = e.clone();
    ///     hub::spawn(move || e.set())
    /// };
    /// assert!(e.wait(None)); // woken by the set
    /// assert!(e.wait(None)); // set already: returns at once
    /// setter.get().unwrap();
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        if self.is_set() {
            return true;
        }
        let deadline = timeout.map(|d| Instant::now() + d);
        let w = self.inner.waiters.wait("Event::wait", deadline, None, drop);
        w.slot.is_some() || self.is_set()
    }

    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        self.inner.waiters.len()
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .field("waiters", &self.inner.waiters.len())
            .finish()
    }
}

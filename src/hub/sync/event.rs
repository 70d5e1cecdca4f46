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
    pub fn set(&self) {
        self.inner.set.set(true);
        self.inner.waiters.wake_all(|| Some(()));
    }

    /// Lower the flag.
    pub fn clear(&self) {
        self.inner.set.set(false);
    }

    /// Whether the flag is raised.
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

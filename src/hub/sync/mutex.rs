//! [`Mutex`]: a lock that may be held across waits.

use super::waiters::WaitList;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// A lock for the greenlets of one thread that may be held across waits
/// (a `RefCell` borrow must not be: another greenlet touching the cell
/// meanwhile panics with "already borrowed").
///
/// [`lock`](Mutex::lock) waits (letting the others run) while another
/// greenlet holds the lock; waiters get it in the order they came (FIFO),
/// and an unlock hands it straight to the first waiter: a
/// [`try_lock`](Mutex::try_lock) made meanwhile fails. If that waiter is
/// killed or timed out before it resumes, the lock passes on to the next
/// waiter (or is unlocked).
///
/// There is no poisoning: a panic while the lock is held unwinds through
/// the [`MutexGuard`], which unlocks it. A `Mutex` is not `Clone`; share
/// it with an `Rc`.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, sync::Mutex};
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// let log = Rc::new(Mutex::new(Vec::new()));
/// let tasks: Vec<_> = (0..3)
///     .map(|i| {
///         let log = Rc::clone(&log);
///         hub::spawn(move || {
///             let mut l = log.lock();
///             l.push(i);
///             hub::sleep(Duration::from_millis(1)); // held across a wait
///             l.push(i);
///         })
///     })
///     .collect();
/// hub::join_all(&tasks, None);
/// assert_eq!(*log.lock(), [0, 0, 1, 1, 2, 2]);
/// ```
pub struct Mutex<T> {
    locked: Cell<bool>,
    waiters: WaitList<()>,
    value: UnsafeCell<T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Mutex;
    ///
    /// let m = Mutex::new(String::from("x"));
    /// m.lock().push('y');
    /// assert_eq!(m.into_inner(), "xy");
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            locked: Cell::new(false),
            waiters: WaitList::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// Lock it, waiting while another greenlet holds it.
    ///
    /// # Panics
    /// With the hub's deadlock message (naming `Mutex::lock`) if nothing
    /// can ever unlock it (for example, the current greenlet holds it
    /// already and nothing else can run); and if the thread's hub is
    /// shutting down (the thread is exiting) and the lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, sync::Mutex};
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let m = Rc::new(Mutex::new(0));
    /// let guard = m.lock();
    /// let t = {
    ///     let m = Rc::clone(&m);
    ///     hub::spawn(move || *m.lock() += 1)
    /// };
    /// hub::sleep(Duration::from_millis(1)); // t waits for the lock meanwhile
    /// assert!(!t.is_ready());
    /// drop(guard);
    /// t.get().unwrap();
    /// assert_eq!(*m.lock(), 1);
    /// ```
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if let Some(g) = self.try_lock() {
            return g;
        }
        let w = self
            .waiters
            .wait("Mutex::lock", None, None, |()| self.unlock());
        if w.slot.is_some() {
            MutexGuard { mutex: self }
        } else {
            panic!("greenlet::hub: Mutex::lock while the thread's hub shuts down, and it is held")
        }
    }

    /// Lock it if nobody holds it now (a lock being handed to a waiter is
    /// held).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Mutex;
    ///
    /// let m = Mutex::new(5);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none()); // held
    /// drop(g);
    /// assert_eq!(*m.try_lock().unwrap(), 5);
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.replace(true) {
            return None;
        }
        Some(MutexGuard { mutex: self })
    }

    /// The value (no lock can be held: this takes the mutex by value).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Mutex;
    ///
    /// let m = Mutex::new(vec![1]);
    /// m.lock().push(2);
    /// assert_eq!(m.into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// The value, through a unique borrow (no lock can be held).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::Mutex;
    ///
    /// let mut m = Mutex::new(0);
    /// *m.get_mut() += 10; // no lock: the borrow is unique
    /// assert_eq!(*m.lock(), 10);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Hand the lock to the first waiter, or unlock it.
    fn unlock(&self) {
        if self.waiters.hand_first(()).is_err() {
            self.locked.set(false);
        }
    }

    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        self.waiters.len()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("value", &&*g),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The lock of a [`Mutex`], held: the value through `Deref`/`DerefMut`.
/// Dropping it unlocks (or hands the lock to the first waiter).
///
/// # Examples
///
/// ```
/// use greenlet::hub::sync::{Mutex, MutexGuard};
/// use std::panic::{AssertUnwindSafe, catch_unwind};
///
/// let m = Mutex::new(vec![1, 2]);
/// let mut g: MutexGuard<'_, Vec<i32>> = m.lock();
/// g.push(3); // DerefMut
/// assert_eq!(g.len(), 3); // Deref
/// drop(g); // unlocks
/// // No poisoning: a panic while it is held just unlocks.
/// let _ = catch_unwind(AssertUnwindSafe(|| {
///     let _g = m.lock();
///     panic!("while locked");
/// }));
/// assert_eq!(*m.try_lock().unwrap(), [1, 2, 3]);
/// ```
#[must_use = "dropping the guard unlocks at once"]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other guard exists, and
        // the mutex hands out references only through guards (and
        // `get_mut`/`into_inner`, which need it unborrowed).
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

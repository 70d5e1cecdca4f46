//! [`AsyncResult`] (gevent's `event.AsyncResult`).

use super::waiters::WaitList;
use crate::hub::time::Elapsed;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A value set once and read by many (gevent's `event.AsyncResult`):
/// [`get`](AsyncResult::get) waits until [`set`](AsyncResult::set) has
/// been called, and every getter receives a clone. Clones share one
/// result, for every `T`.
///
/// A waiting greenlet holds the result alive: if every other handle is
/// dropped meanwhile, its wait ends by its timeout or (if every greenlet
/// waits) by the hub's deadlock panic, which names `AsyncResult::get`.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, sync::AsyncResult};
///
/// let answer = AsyncResult::new();
/// let reader = {
///     let answer = answer.clone();
///     hub::spawn(move || answer.get(None))
/// };
/// answer.set(42);
/// assert_eq!(reader.get().unwrap(), Ok(42));
/// assert_eq!(answer.try_get(), Some(42));
/// ```
pub struct AsyncResult<T> {
    inner: Rc<Inner<T>>,
}

struct Inner<T> {
    value: RefCell<Option<T>>,
    waiters: WaitList<()>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<T: Clone + 'static> AsyncResult<T> {
    /// A result not set yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::AsyncResult;
    ///
    /// let r: AsyncResult<String> = AsyncResult::new();
    /// assert!(!r.is_ready());
    /// assert_eq!(r.try_get(), None);
    /// ```
    pub fn new() -> AsyncResult<T> {
        AsyncResult {
            inner: Rc::new(Inner {
                value: RefCell::new(None),
                waiters: WaitList::new(),
            }),
        }
    }

    /// Set the value and wake every getter, in the order they came.
    ///
    /// # Panics
    /// If it was set already (the value given here is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::AsyncResult;
    /// use std::panic::{AssertUnwindSafe, catch_unwind};
    ///
    /// let r = AsyncResult::new();
    /// r.set(vec![1, 2]);
    /// assert_eq!(r.try_get(), Some(vec![1, 2]));
    /// assert!(catch_unwind(AssertUnwindSafe(|| r.set(vec![3]))).is_err()); // set twice
    /// assert_eq!(r.try_get(), Some(vec![1, 2]));
    /// ```
    pub fn set(&self, value: T) {
        {
            let mut v = self.inner.value.borrow_mut();
            if v.is_some() {
                drop(v);
                panic!("greenlet::hub: AsyncResult::set called on a result that is set already");
            }
            *v = Some(value);
        }
        self.inner.waiters.wake_all(|| Some(()));
    }

    /// Whether the value has been set.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::AsyncResult;
    ///
    /// let r = AsyncResult::new();
    /// assert!(!r.is_ready());
    /// r.set(());
    /// assert!(r.is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        self.inner.value.borrow().is_some()
    }

    /// A clone of the value, if it has been set.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::sync::AsyncResult;
    ///
    /// let r = AsyncResult::new();
    /// assert_eq!(r.try_get(), None); // never waits
    /// r.set("ok");
    /// assert_eq!(r.try_get(), Some("ok"));
    /// assert_eq!(r.try_get(), Some("ok")); // every read gets a clone
    /// ```
    pub fn try_get(&self) -> Option<T> {
        self.inner.value.borrow().clone()
    }

    /// A clone of the value, waiting until it is set or `timeout` passes
    /// (`None`: no limit): `Err(Elapsed)` then (and if the thread's hub is
    /// shutting down).
    ///
    /// # Panics
    /// With the hub's deadlock message (naming `AsyncResult::get`) if
    /// nothing can ever set it.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, Elapsed, sync::AsyncResult};
    /// use std::time::Duration;
    ///
    /// let r = AsyncResult::new();
    /// assert_eq!(r.get(Some(Duration::from_millis(1))), Err(Elapsed));
    /// let setter = {
    ///     let r = r.clone();
    ///     hub::spawn_later(Duration::from_millis(5), move || r.set(99))
    /// };
    /// assert_eq!(r.get(None), Ok(99));
    /// setter.get().unwrap();
    /// ```
    pub fn get(&self, timeout: Option<Duration>) -> Result<T, Elapsed> {
        if let Some(v) = self.try_get() {
            return Ok(v);
        }
        let deadline = timeout.map(|d| Instant::now() + d);
        self.inner
            .waiters
            .wait("AsyncResult::get", deadline, None, drop);
        self.try_get().ok_or(Elapsed)
    }

    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        self.inner.waiters.len()
    }
}

impl<T: Clone + 'static> Default for AsyncResult<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("value", &*self.inner.value.borrow())
            .field("waiters", &self.inner.waiters.len())
            .finish()
    }
}

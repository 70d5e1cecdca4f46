use crate::hub::Elapsed;
use std::marker::PhantomData;
use std::time::Duration;

/// gevent's `AsyncResult`.
pub struct AsyncResult<T> {
    _t: PhantomData<T>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        todo!()
    }
}

impl<T: Clone + 'static> Default for AsyncResult<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + 'static> AsyncResult<T> {
    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        todo!()
    }
    pub fn new() -> AsyncResult<T> {
        todo!()
    }
    pub fn set(&self, _value: T) {
        todo!()
    }
    pub fn is_ready(&self) -> bool {
        todo!()
    }
    pub fn try_get(&self) -> Option<T> {
        todo!()
    }
    pub fn get(&self, _timeout: Option<Duration>) -> Result<T, Elapsed> {
        todo!()
    }
}

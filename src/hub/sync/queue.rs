use crate::hub::Elapsed;
use std::marker::PhantomData;
use std::time::Duration;

/// gevent's `Queue` / `Channel`.
pub struct Queue<T> {
    _t: PhantomData<T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        todo!()
    }
}

impl<T: 'static> Default for Queue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> Queue<T> {
    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        todo!()
    }
    pub fn new() -> Queue<T> {
        todo!()
    }
    pub fn bounded(_capacity: usize) -> Queue<T> {
        todo!()
    }
    pub fn put(&self, _v: T) -> Result<(), T> {
        todo!()
    }
    pub fn try_put(&self, _v: T) -> Result<(), T> {
        todo!()
    }
    pub fn put_timeout(&self, _v: T, _d: Duration) -> Result<(), T> {
        todo!()
    }
    pub fn get(&self) -> Option<T> {
        todo!()
    }
    pub fn try_get(&self) -> Option<T> {
        todo!()
    }
    pub fn get_timeout(&self, _d: Duration) -> Result<Option<T>, Elapsed> {
        todo!()
    }
    pub fn close(&self) {
        todo!()
    }
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.get())
    }
}

use std::time::Duration;

/// gevent's `Semaphore`.
#[derive(Clone)]
pub struct Semaphore {}

/// A permit of a [`Semaphore`]; returns it on drop.
pub struct Permit {}

impl Permit {
    pub fn forget(self) {
        todo!()
    }
}

impl Semaphore {
    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        todo!()
    }
    pub fn new(_permits: usize) -> Semaphore {
        todo!()
    }
    pub fn acquire(&self) -> Permit {
        todo!()
    }
    pub fn acquire_timeout(&self, _d: Duration) -> Option<Permit> {
        todo!()
    }
    pub fn try_acquire(&self) -> Option<Permit> {
        todo!()
    }
    pub fn available(&self) -> usize {
        todo!()
    }
    pub fn add_permits(&self, _n: usize) {
        todo!()
    }
}

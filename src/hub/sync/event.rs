use std::time::Duration;

/// gevent's `Event`.
#[derive(Clone)]
pub struct Event {}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl Event {
    /// Greenlets registered as waiting on this object now (for tests and
    /// diagnostics: after a wait ends, however it ends, it is not counted).
    #[doc(hidden)]
    pub fn waiter_count(&self) -> usize {
        todo!()
    }
    pub fn new() -> Event {
        todo!()
    }
    pub fn set(&self) {
        todo!()
    }
    pub fn clear(&self) {
        todo!()
    }
    pub fn is_set(&self) -> bool {
        todo!()
    }
    pub fn wait(&self, _timeout: Option<Duration>) -> bool {
        todo!()
    }
}

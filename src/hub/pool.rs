//! [`Pool`]: at most `size` tasks alive at once (gevent's `pool.Pool`).
use super::Task;
use std::time::Duration;

/// gevent's `Pool`.
pub struct Pool {}

impl Pool {
    pub fn new(_size: usize) -> Pool {
        todo!()
    }
    pub fn spawn<F, R>(&self, _f: F) -> Task<R>
    where
        F: FnOnce() -> R + 'static,
        R: 'static,
    {
        todo!()
    }
    pub fn join(&self, _timeout: Option<Duration>) -> bool {
        todo!()
    }
    pub fn kill(&self) {
        todo!()
    }
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn map<I, F, R>(&self, _items: I, _f: F) -> Vec<R>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> R + Clone + 'static,
        R: 'static,
    {
        todo!()
    }
}

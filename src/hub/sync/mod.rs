//! Waiting together: gevent's `event`, `lock` and `queue` for the hub.
//! (Stub: the API of API.md §3b; the implementation lands next.)

mod async_result;
mod event;
mod mutex;
mod queue;
mod semaphore;

pub use async_result::AsyncResult;
pub use event::Event;
pub use mutex::{Mutex, MutexGuard};
pub use queue::Queue;
pub use semaphore::{Permit, Semaphore};

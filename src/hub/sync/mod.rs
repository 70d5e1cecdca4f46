//! Waiting together: gevent's `event`, `lock` and `queue`, for the
//! greenlets of one thread's hub.
//!
//! * [`Event`]: a flag to wait for; [`AsyncResult`]: a value set once and
//!   read by many.
//! * [`Semaphore`] (with its [`Permit`]) and [`Mutex`]: limits and locks
//!   that may be held across waits.
//! * [`Queue`]: a FIFO queue, unbounded, bounded, or a rendezvous channel.
//!
//! Every type is per-thread (`!Send`); the `Clone` ones share one object
//! between clones. Every waiting method switches to the hub (the others
//! run) instead of blocking the thread, and:
//!
//! * waiters are served in the order they came, and what is released (a
//!   permit, a lock, a value) is handed straight to the first waiter, so a
//!   newcomer's `try_*` cannot take it first; if that waiter is killed or
//!   timed out before it resumes, it passes on to the next (nothing is
//!   lost);
//! * a wait ended by [`Task::kill`](super::Task::kill) or
//!   [`with_timeout`](super::with_timeout) leaves nothing registered;
//! * a wait nothing can ever end, while every greenlet waits, panics with
//!   the hub's deadlock message naming the call (`"Queue::get"`, ...).
//!
//! They are built on the hub's one waiting primitive (the scheduler's
//! park) and nothing else: no IO, no timers of their own.
//!
//! ```
//! use greenlet::hub::{self, sync::{Event, Queue}};
//!
//! let jobs = Queue::new();
//! let done = Event::new();
//! let worker = {
//!     let (jobs, done) = (jobs.clone(), done.clone());
//!     hub::spawn(move || {
//!         let handled = jobs.iter().count(); // get() until closed and drained
//!         done.set();
//!         handled
//!     })
//! };
//! (0..3).for_each(|job| jobs.put(job).unwrap());
//! jobs.close();
//! assert!(done.wait(None));
//! assert_eq!(worker.get().unwrap(), 3);
//! ```

mod async_result;
mod event;
mod mutex;
mod queue;
mod semaphore;
mod waiters;

pub use async_result::AsyncResult;
pub use event::Event;
pub use mutex::{Mutex, MutexGuard};
pub use queue::Queue;
pub use semaphore::{Permit, Semaphore};

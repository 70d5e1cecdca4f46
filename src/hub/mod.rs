//! gevent-style cooperative scheduling: one hub per thread.
//!
//! The hub is a greenlet (its parent is the thread's main greenlet) that
//! runs a loop over greenlets that are ready to go on (first in, first out),
//! timers, and IO readiness (epoll, through `mio`). A blocking call of this
//! module — [`sleep`], [`Task::join`], [`wait_readable`], a read on a
//! [`net::TcpStream`], a [`sync::Queue::get`] — switches to the hub, which switches back when the
//! call can go on; meanwhile the hub runs every other greenlet that can.
//!
//! ```
//! use greenlet::hub;
//! use std::time::Duration;
//!
//! let a = hub::spawn(|| {
//!     hub::sleep(Duration::from_millis(20));
//!     "a"
//! });
//! let b = hub::spawn(|| {
//!     hub::sleep(Duration::from_millis(10));
//!     "b"
//! });
//! // Both sleep at once: this takes about 20 ms, not 30.
//! assert_eq!(hub::join_all(&[a, b], None), 2);
//! ```
//!
//! # Rules
//!
//! * Spawned greenlets start in spawn order, and only when the spawner
//!   blocks. Dropping a [`Task`] detaches it; only [`Task::kill`] stops it.
//! * `sleep(Duration::ZERO)` lets every greenlet that is ready run first;
//!   `sleep(d)` never wakes early, and sleepers wake in deadline order.
//! * A wait that times out returns `io::ErrorKind::TimedOut`; an expired
//!   [`with_timeout`] returns `Err(Elapsed)`. Either way nothing stays
//!   registered, and neither does anything of a task that is killed while
//!   it waits.
//! * If every greenlet waits and nothing can ever wake one of them (nothing
//!   ready, no timer, no IO wait, no `spawn_blocking` call in progress, no
//!   `Receiver` waiting while a `Sender` lives), the waiting call of the main greenlet
//!   (or, if main is not waiting, of the greenlet that waited last) panics
//!   with a message that says so, instead of hanging.
//! * A generator resumed by a greenlet runs as part of it: a
//!   [`with_timeout`] or [`Task::kill`] aimed at the greenlet also
//!   interrupts a blocking call inside the generator's body (at any depth
//!   of generators), unwinding those bodies the same way.
//! * Timers have the poller's granularity (1 ms): a sleep ends at or up to
//!   about a millisecond after its deadline.
//! * Greenlets of the hub must not switch to each other directly: a
//!   greenlet waiting in the hub expects to be resumed by the hub.
//! * When the thread exits, the hub kills every greenlet it still holds
//!   (their destructors run); blocking calls made by those destructors
//!   return at once (IO waits with an error).
//!
//! # The toolkit
//!
//! [`sync`] has gevent's `Event`, `AsyncResult`, `Semaphore`, a `Mutex`
//! and `Queue`; [`Pool`] bounds how many tasks run at once;
//! [`spawn_later`], [`wait_any`] and [`kill_all`] round out [`spawn`].
//!
//! # Other threads
//!
//! A hub runs on one thread, but need not be alone: [`spawn_blocking`]
//! runs a blocking function (a file read, a C library, a DNS lookup) on a
//! worker thread while the caller waits and the others run, and
//! [`channel()`] carries values into a hub from any thread. Either wakes the
//! hub through its poller, so a hub with nothing else to do sleeps until
//! then; and a wait that another thread will end is never taken for a
//! deadlock. Before it sleeps, a hub with nothing to do but wait for a
//! `spawn_blocking` call watches for the worker's answer for up to 50 µs
//! (on a machine with more than one CPU): a short call then returns in a
//! few microseconds instead of the tens a sleep and a wake-up cost. [`net`] looks host names up with `spawn_blocking`.
//!
//! # Never hold a `RefCell` borrow across a blocking call
//!
//! A blocking call lets every other greenlet run. If one of them borrows a
//! `RefCell` that the waiting greenlet holds borrowed, it panics with
//! "already borrowed". Shared state that must stay locked across a wait
//! goes in a [`sync::Mutex`]: the others wait for it instead.
//!
//! ```
//! use greenlet::hub::{self, sync::Mutex};
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! let balance = Rc::new(Mutex::new(100));
//! let tasks: Vec<_> = (0..4)
//!     .map(|_| {
//!         let balance = Rc::clone(&balance);
//!         hub::spawn(move || {
//!             // With a RefCell, `borrow_mut()` here would be held across
//!             // the sleep, and the next task's `borrow_mut()` would panic.
//!             let mut b = balance.lock();
//!             let seen = *b;
//!             hub::sleep(Duration::from_millis(1)); // e.g. a write to a socket
//!             *b = seen - 10;
//!         })
//!     })
//!     .collect();
//! hub::join_all(&tasks, None);
//! assert_eq!(*balance.lock(), 60); // no update lost
//! ```

pub(crate) mod blocking;
mod channel;
pub mod net;
mod pool;
mod reactor;
mod remote;
mod scheduler;
mod slab;
pub mod sync;
mod task;
mod time;
mod timers;
mod wait;
mod workers;

pub use blocking::spawn_blocking;
pub use channel::{Receiver, Sender, channel};
pub use pool::Pool;
pub use task::{
    Task, join_all, kill_all, spawn, spawn_later, spawn_with, try_spawn_with, wait_any,
};
pub use time::{Elapsed, sleep, sleep_until, with_timeout};

use crate::os::net::{AsSock, borrow};
use scheduler::hub;
use std::time::Duration;

/// Block the current greenlet until `fd` is readable (or has an error or
/// hang-up to report), or `timeout` has passed: then `Err` of kind
/// `io::ErrorKind::TimedOut`. The descriptor is registered with the hub for
/// the duration of the wait only.
///
/// `fd` is anything that lends a descriptor: on Unix `AsFd`
/// (a `File`, a socket, a pipe end, a `BorrowedFd`), on Windows `AsSocket`
/// (a socket, a `BorrowedSocket`: Windows' poller takes sockets only), so
/// it cannot be closed while the wait lasts. A descriptor that is only a
/// number (say, from a C library) becomes a `BorrowedFd` through the
/// `unsafe` `BorrowedFd::borrow_raw`
/// (`BorrowedSocket::borrow_raw` on Windows): its safety argument is that
/// nothing closes the number until the wait has returned.
///
/// Like `poll(2)`, readiness is a hint: the next read may still say "would
/// block". Regular files are always ready (epoll does not take them).
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::io::Write;
/// use std::net::{TcpListener, TcpStream};
/// use std::time::Duration;
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let mut b = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let (a, _) = listener.accept().unwrap();
/// // Nothing to read yet: the wait times out.
/// let e = hub::wait_readable(&a, Some(Duration::from_millis(10))).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// b.write_all(b"x").unwrap();
/// // A raw number (as C code would hand it over).
/// #[cfg(unix)]
/// {
///     use std::os::fd::{AsRawFd, BorrowedFd};
///     let raw = a.as_raw_fd();
///     // SAFETY: `a` owns `raw` and outlives the wait: nothing closes it.
///     let fd = unsafe { BorrowedFd::borrow_raw(raw) };
///     hub::wait_readable(fd, None).unwrap();
/// }
/// #[cfg(windows)]
/// {
///     use std::os::windows::io::{AsRawSocket, BorrowedSocket};
///     let raw = a.as_raw_socket();
///     // SAFETY: `a` owns `raw` and outlives the wait: nothing closes it.
///     let sock = unsafe { BorrowedSocket::borrow_raw(raw) };
///     hub::wait_readable(sock, None).unwrap();
/// }
/// ```
///
/// # Errors
/// `TimedOut`; the poller's error if it cannot watch `fd`.
pub fn wait_readable(fd: impl AsSock, timeout: Option<Duration>) -> std::io::Result<()> {
    wait::wait_fd(&hub(), borrow(&fd), reactor::Dir::Read, timeout)
}

/// [`wait_readable`] for writability.
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// hub::wait_writable(&a, None).unwrap(); // an empty send buffer has room
/// ```
///
/// # Errors
/// As [`wait_readable`].
pub fn wait_writable(fd: impl AsSock, timeout: Option<Duration>) -> std::io::Result<()> {
    wait::wait_fd(&hub(), borrow(&fd), reactor::Dir::Write, timeout)
}

/// The worker pool of [`spawn_blocking`]: `(threads running now, most
/// threads)`. For tests.
#[doc(hidden)]
pub fn blocking_threads() -> (usize, usize) {
    (workers::threads(), workers::max_threads())
}

/// How many turns this thread's hub loop has made: for tests that check
/// that a hub waiting for another thread sleeps instead of spinning.
#[doc(hidden)]
pub fn loop_turns() -> u64 {
    hub().turns()
}

/// How many parks (waiting calls, and tasks not yet started) this thread's
/// hub holds now: for tests that check that nothing is left registered.
#[doc(hidden)]
pub fn parked_count() -> usize {
    hub().parked_count()
}

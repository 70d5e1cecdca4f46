//! [`spawn_blocking`]: run a blocking function on a worker thread while the
//! calling greenlet waits in the hub and the others run.

use super::scheduler::{Park, Wake, try_hub};
use super::workers;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

/// Run `f` on a worker thread; the calling greenlet waits in the hub
/// meanwhile, and every other greenlet of the thread runs. Returns what `f`
/// returns; a panic of `f` continues in the caller.
///
/// For what would otherwise stall every greenlet of the thread: a file
/// read, a call into a blocking C library, a DNS lookup, heavy computation.
///
/// * **The pool.** One pool of worker threads for the whole process, made
///   on first use: at most 64 threads, or the number in the environment
///   variable `GREENLET_BLOCKING_THREADS` (read once, when the pool is
///   made). Threads start as calls come and exit after 10 s idle. When all
///   are busy, a call waits for one to become free; that wait, like the
///   call itself, is not a deadlock for the hub (a worker will wake it).
/// * **`f` runs on a plain thread.** It must not expect the caller's hub,
///   thread-locals or greenlets; it may use a hub of its own (the worker's).
/// * **Interrupting the caller.** [`Task::kill`](super::Task::kill) and
///   [`with_timeout`](super::with_timeout) end the caller's wait as any
///   other blocking call's. The worker cannot be interrupted: `f` runs to
///   its end, and its result (or panic) is then dropped on the worker's
///   thread.
/// * **While the thread's hub shuts down** (thread exit), the call blocks
///   the thread until `f` is done.
///
/// # Examples
///
/// ```
/// use greenlet::hub;
///
/// let ticker = hub::spawn(|| {
///     for _ in 0..3 {
///         hub::sleep(std::time::Duration::from_millis(1));
///     }
///     "ticked"
/// });
/// let len = hub::spawn_blocking(|| {
///     // Runs on a worker thread; the ticker ticks meanwhile.
///     std::thread::sleep(std::time::Duration::from_millis(20));
///     std::fs::read("Cargo.toml").map(|b| b.len())
/// });
/// assert!(len.unwrap() > 0);
/// assert_eq!(ticker.get().unwrap(), "ticked");
/// ```
///
/// # Panics
/// With `f`'s panic. If no worker thread can be started at all, or the
/// hub's cross-thread waker cannot be made (the process is out of file
/// descriptors), with a message saying so; `f` does not run then.
pub fn spawn_blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    run_blocking(f).unwrap_or_else(|e| panic!("{e}"))
}

/// [`spawn_blocking`], with the errors that keep `f` from running (no
/// worker thread, no waker) returned instead of raised. `f`'s own panic
/// still continues in the caller.
pub(crate) fn run_blocking<F, R>(f: F) -> io::Result<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let hub = try_hub()?;
    let remote = hub.remote()?;
    let done = Arc::new(Done {
        result: Mutex::new(Outcome {
            value: None,
            blocked: false,
        }),
        finished: Condvar::new(),
    });
    let park = Park::new(&hub, "hub::spawn_blocking");
    let _expect = hub.expect_remote_wake(true);
    let key = park.key();
    let job = {
        let done = Arc::clone(&done);
        Box::new(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            // If the caller's wait ended (killed, timed out), nobody takes
            // the result: it is dropped with the last `Arc`, which may be
            // this one, here on the worker's thread.
            let blocked = {
                let mut out = done.lock();
                out.value = Some(r);
                out.blocked
            };
            if blocked {
                done.finished.notify_all();
            }
            remote.wake(key);
        })
    };
    workers::submit(job)?;
    match park.wait() {
        Wake::Signal => {}
        Wake::Shutdown => {
            // The thread is exiting: no hub loop will wake this wait, so
            // block the thread until the worker is done.
            let mut out = done.lock();
            out.blocked = true;
            while out.value.is_none() {
                out = done.finished.wait(out).unwrap_or_else(|e| e.into_inner());
            }
        }
        other => unreachable!("greenlet::hub: spawn_blocking was resumed with {other:?}"),
    }
    drop(park);
    let r = done
        .lock()
        .value
        .take()
        .expect("greenlet::hub: spawn_blocking woken before its result came");
    match r {
        Ok(v) => Ok(v),
        Err(p) => panic::resume_unwind(p),
    }
}

/// Where the worker leaves the result of `f`.
struct Done<R> {
    result: Mutex<Outcome<R>>,
    /// Signalled with the result if the caller blocks the thread for it
    /// (a notify is a system call even with nobody waiting, so only then).
    finished: Condvar,
}

struct Outcome<R> {
    value: Option<thread::Result<R>>,
    /// The caller blocks the thread on `finished` (its hub shuts down).
    blocked: bool,
}

impl<R> Done<R> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Outcome<R>> {
        // Only this module's code runs under the lock, and it cannot panic
        // there: a poisoned lock still holds a consistent value.
        self.result.lock().unwrap_or_else(|e| e.into_inner())
    }
}

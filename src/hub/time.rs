//! Waiting for time: [`sleep`], [`sleep_until`], and [`with_timeout`]
//! with its [`Elapsed`] error.

use super::scheduler::{Park, TimeoutUnwind, Wake, hub};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Block the current greenlet for `d`, letting the others run.
///
/// `Duration::ZERO` yields: every greenlet that is ready runs before this
/// one goes on. Otherwise it wakes at the earliest at `now + d`, after
/// every sleeper with an earlier deadline ([`sleep_until`]).
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// hub::sleep(Duration::from_millis(10));
/// assert!(start.elapsed() >= Duration::from_millis(10)); // never early
/// // ZERO only yields: a task that is ready runs first.
/// let t = hub::spawn(|| ());
/// hub::sleep(Duration::ZERO);
/// assert!(t.is_ready());
/// ```
pub fn sleep(d: Duration) {
    if d.is_zero() {
        yield_now();
    } else {
        sleep_until(Instant::now() + d);
    }
}

/// Block the current greenlet until `deadline` (at the earliest), letting
/// the others run. Sleepers wake in deadline order; equal deadlines in the
/// order they went to sleep.
///
/// # Examples
///
/// ```
/// use greenlet::hub;
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use std::time::{Duration, Instant};
///
/// let woke = Rc::new(RefCell::new(Vec::new()));
/// let now = Instant::now();
/// let tasks = [30, 10, 20]
///     .map(|ms| {
///         let woke = Rc::clone(&woke);
///         hub::spawn(move || {
///             hub::sleep_until(now + Duration::from_millis(ms));
///             woke.borrow_mut().push(ms);
///         })
///     });
/// hub::join_all(&tasks, None);
/// assert_eq!(*woke.borrow(), [10, 20, 30]); // deadline order
/// ```
pub fn sleep_until(deadline: Instant) {
    let hub = hub();
    let park = Park::new(&hub, "hub::sleep");
    park.deadline(deadline);
    match park.wait() {
        Wake::Timer | Wake::Shutdown => {}
        other => unreachable!("greenlet::hub: a sleep was resumed with {other:?}"),
    }
}

fn yield_now() {
    let hub = hub();
    if hub.yield_alone() {
        return;
    }
    let park = Park::ready(&hub, "hub::sleep");
    match park.wait() {
        Wake::Ready | Wake::Shutdown => {}
        other => unreachable!("greenlet::hub: a yield was resumed with {other:?}"),
    }
}

/// The error of a [`with_timeout`] whose time ran out.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, Elapsed};
/// use std::time::Duration;
///
/// let r = hub::with_timeout(Duration::from_millis(5), || hub::sleep(Duration::from_secs(10)));
/// assert_eq!(r, Err(Elapsed));
/// assert_eq!(Elapsed.to_string(), "the timeout elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the timeout elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Run `f` in the current greenlet; if it is still running after `d`,
/// interrupt the blocking call it is in (by unwinding out of it, so its
/// destructors run) and return `Err(Elapsed)`.
///
/// The blocking call may be inside a generator that this greenlet
/// resumed, at any depth: a generator's body runs as part of the greenlet
/// that resumes it (API.md §3), so the unwinding goes through the
/// generators' bodies (each then ends as by a panic) back to `f`.
///
/// Only a blocking call of the hub can be interrupted: `f` computing without
/// blocking runs to its end. If time runs out while the greenlet is ready
/// but not yet resumed, it is interrupted at its next blocking call inside
/// `f`. Nested timeouts each catch only their own expiry. Nothing stays
/// registered once this returns.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, Elapsed};
/// use std::time::Duration;
///
/// // Done in time: its value comes back.
/// assert_eq!(hub::with_timeout(Duration::from_secs(5), || 7), Ok(7));
/// // Too slow: the sleep is interrupted by unwinding (destructors run).
/// let r = hub::with_timeout(Duration::from_millis(5), || {
///     hub::sleep(Duration::from_secs(60));
///     "never"
/// });
/// assert_eq!(r, Err(Elapsed));
/// ```
pub fn with_timeout<R>(d: Duration, f: impl FnOnce() -> R) -> Result<R, Elapsed> {
    let hub = hub();
    let id = hub.start_timeout(Instant::now() + d);
    struct End<'a>(&'a super::scheduler::Hub, u64);
    impl Drop for End<'_> {
        fn drop(&mut self) {
            self.0.end_timeout(self.1);
        }
    }
    let end = End(&hub, id);
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    drop(end);
    match r {
        Ok(v) => Ok(v),
        Err(p) => match p.downcast::<TimeoutUnwind>() {
            Ok(t) if t.0 == id => Err(Elapsed),
            Ok(t) => panic::resume_unwind(t),
            Err(p) => panic::resume_unwind(p),
        },
    }
}

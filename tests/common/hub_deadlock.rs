//! Running a hub scenario on a thread of its own (so that it has its own
//! hub), bounded in time; and the deadlock check of API.md §3 / §3b: a wait
//! that nothing can ever end panics, with a message that says "deadlock"
//! and names the call waited in, instead of hanging.

use super::panic_text::panic_text;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The waiting calls a deadlock message may name: it names exactly one.
pub const WAITING_CALLS: [&str; 9] = [
    "Event::wait",
    "AsyncResult::get",
    "Semaphore::acquire",
    "Mutex::lock",
    "Queue::get",
    "Queue::put",
    "Pool::spawn",
    "Task::join",
    "hub::wait_any",
];

/// Run `f` on a new thread (with its own hub) and return what it returns; a
/// panic in it continues here. Fails if it has not finished within `limit`
/// (the thread is left behind: it hangs).
pub fn on_own_thread<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => panic::resume_unwind(p),
        Err(_) => panic!("the scenario did not finish within {limit:?}: it hangs"),
    }
}

/// Run `scenario` on a thread of its own: it must end in a waiting call of
/// the main greenlet that nothing can ever end, which must panic within 5 s
/// with a message containing "deadlock" and naming `call` (and no other of
/// [`WAITING_CALLS`]).
pub fn assert_deadlock_in(call: &'static str, scenario: impl FnOnce() + Send + 'static) {
    assert!(WAITING_CALLS.contains(&call), "not a waiting call: {call}");
    let outcome = on_own_thread(Duration::from_secs(5), move || {
        panic::catch_unwind(AssertUnwindSafe(scenario))
            .err()
            .map(|p| panic_text(&*p))
    });
    let message = outcome.unwrap_or_else(|| {
        panic!("{call}: the waiting call returned; it should have panicked as a deadlock")
    });
    assert!(
        message.contains("deadlock"),
        "{call}: the panic does not say \"deadlock\": {message:?}"
    );
    let named: Vec<&str> = WAITING_CALLS
        .iter()
        .copied()
        .filter(|c| message.contains(c))
        .collect();
    assert_eq!(
        named,
        [call],
        "the deadlock message must name the call waited in, {call}, and no other: {message:?}"
    );
}

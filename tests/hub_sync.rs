//! The hub's toolkit, `hub::sync` (API.md §3b): Event, AsyncResult,
//! Semaphore and Permit, Mutex and MutexGuard, Queue. A test per sentence of
//! the contract and of its "further rules" (hand-off, rendezvous, clones);
//! and for every waiting method: FIFO wake order, interruption by
//! `Task::kill` and by `hub::with_timeout` (nothing left registered, the
//! object still usable), and the deadlock panic naming the call.
//!
//! Each test runs on its own thread, so each has its own hub; the deadlock
//! scenarios run on a thread of their own too, bounded in time.

#[path = "common/counted.rs"]
mod counted;
#[path = "common/hub_deadlock.rs"]
mod hub_deadlock;
#[path = "common/panic_text.rs"]
mod panic_text;
#[path = "common/quiet.rs"]
mod quiet;

use counted::Counted;
use greenlet::GreenletExit;
use greenlet::hub::sync::{AsyncResult, Event, Mutex, Permit, Queue, Semaphore};
use greenlet::hub::{self, Elapsed, Task};
use hub_deadlock::assert_deadlock_in;
use panic_text::panic_text;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

const ZERO: Duration = Duration::ZERO;
/// Long enough never to end during a test.
const HOUR: Duration = Duration::from_secs(3600);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(l: &Log, s: impl Into<String>) {
    l.borrow_mut().push(s.into());
}

fn strs(l: &Log) -> Vec<String> {
    l.borrow().clone()
}

fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// Keep the expected panics (deadlocks, panics "on purpose") off stderr.
fn quiet() {
    quiet::quiet_panics(|p| {
        let t = panic_text(p);
        t.contains("deadlock") || t.contains("on purpose")
    });
}

/// Spawn `n` tasks running `wait(i)`, one at a time: each has started and
/// is waiting (`waiters()` counts it) before the next is spawned, so they
/// wait in the order 0, 1, ..., n-1.
fn waiters_in_order<R: 'static>(
    n: usize,
    waiters: impl Fn() -> usize,
    wait: impl Fn(usize) -> R + Clone + 'static,
) -> Vec<Task<R>> {
    (0..n)
        .map(|i| {
            let w = wait.clone();
            let t = hub::spawn(move || w(i));
            hub::sleep(ZERO);
            assert!(!t.is_ready(), "waiter {i} should be waiting");
            assert_eq!(waiters(), i + 1, "waiter {i} should be registered");
            t
        })
        .collect()
}

/// `wait` must block until something else ends it (the caller set that
/// up). Checks that a wait in it ends cleanly by `Task::kill`, by
/// `hub::with_timeout` in main and by `hub::with_timeout` in a task: the
/// wait does not return, destructors run, `waiters()` is 0 and
/// `hub::parked_count()` is back to its value before.
fn check_interruptions(what: &str, waiters: impl Fn() -> usize, wait: impl Fn() + Clone + 'static) {
    let before = hub::parked_count();
    assert_eq!(waiters(), 0, "{what}: nobody waits at first");

    // Task::kill.
    let drops = Rc::new(Cell::new(0));
    let returned = Rc::new(Cell::new(false));
    let t = {
        let (w, d, r) = (wait.clone(), drops.clone(), returned.clone());
        hub::spawn(move || {
            let _g = Counted(d);
            w();
            r.set(true);
        })
    };
    hub::sleep(ZERO);
    assert!(!t.is_ready(), "{what}: the task should be waiting");
    assert_eq!(waiters(), 1, "{what}: one waiter registered");
    assert_eq!(
        hub::parked_count(),
        before + 1,
        "{what}: the waiting task is one park"
    );
    t.kill();
    assert!(t.is_ready(), "{what}: kill returns once the task is dead");
    assert!(!returned.get(), "{what}: the killed wait must not return");
    assert_eq!(drops.get(), 1, "{what}: the killed task's destructors ran");
    assert_eq!(waiters(), 0, "{what}: killed waiter still registered");
    assert_eq!(
        hub::parked_count(),
        before,
        "{what}: parks left behind by the kill"
    );
    let err = t.get().expect_err("killed");
    assert!(err.is::<GreenletExit>(), "{what}: get() holds GreenletExit");

    // with_timeout in main.
    let t0 = Instant::now();
    let r = hub::with_timeout(ms(20), &wait);
    assert_eq!(r, Err(Elapsed), "{what}: with_timeout in main");
    assert!(
        t0.elapsed() >= ms(20),
        "{what}: with_timeout ended early: {:?}",
        t0.elapsed()
    );
    assert_eq!(waiters(), 0, "{what}: timed-out waiter still registered");
    assert_eq!(
        hub::parked_count(),
        before,
        "{what}: parks left behind by with_timeout in main"
    );

    // with_timeout in a task.
    let w = wait.clone();
    let t = hub::spawn(move || hub::with_timeout(ms(20), w));
    assert_eq!(
        t.get().expect("no panic"),
        Err(Elapsed),
        "{what}: with_timeout in a task"
    );
    assert_eq!(waiters(), 0, "{what}: timed-out task still registered");
    assert_eq!(
        hub::parked_count(),
        before,
        "{what}: parks left behind by with_timeout in a task"
    );
}

// ===========================================================================
// Shared rules.

fn assert_clone<T: Clone>() {}

#[test]
fn queue_and_async_result_are_clone_for_every_t() {
    struct NotClone;
    assert_clone::<Queue<NotClone>>();
    assert_clone::<AsyncResult<NotClone>>();
    assert_clone::<Event>();
    assert_clone::<Semaphore>();
    // A clone of a Queue of a non-Clone type shares the one queue.
    let q: Queue<NotClone> = Queue::new();
    let q2 = q.clone();
    assert!(q2.put(NotClone).is_ok());
    assert_eq!(q.len(), 1);
    assert!(q.try_get().is_some());
    assert!(q2.is_empty());
}

#[test]
fn elapsed_is_debug_clone_copy_eq_display_error() {
    fn traits<
        T: std::fmt::Debug + Clone + Copy + PartialEq + Eq + std::fmt::Display + std::error::Error,
    >() {
    }
    traits::<Elapsed>();
    let e = Elapsed;
    let copy = e;
    assert_eq!(e, copy);
    assert!(!e.to_string().is_empty(), "Display says something");
    assert!(!format!("{e:?}").is_empty());
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert_eq!(boxed.to_string(), e.to_string());
}

// ===========================================================================
// Event.

#[test]
fn event_starts_clear_and_set_and_clear_change_it() {
    let e = Event::new();
    assert!(!e.is_set(), "a new Event is clear");
    e.set();
    assert!(e.is_set());
    e.set();
    assert!(e.is_set(), "a second set keeps it set");
    e.clear();
    assert!(!e.is_set());
    e.clear();
    assert!(!e.is_set());
}

#[test]
fn event_clones_share_one_event() {
    let e = Event::new();
    let e2 = e.clone();
    e2.set();
    assert!(e.is_set(), "set through a clone");
    e.clear();
    assert!(!e2.is_set(), "cleared through the original");
    // A waiter on a clone is woken by a set on the original.
    let w = hub::spawn(move || e2.wait(None));
    hub::sleep(ZERO);
    assert_eq!(
        e.waiter_count(),
        1,
        "the clone's waiter counts on the original"
    );
    e.set();
    assert!(w.get().unwrap());
}

#[test]
fn event_wait_on_a_set_event_returns_true_at_once() {
    let e = Event::new();
    e.set();
    let t0 = Instant::now();
    assert!(e.wait(None));
    assert!(e.wait(Some(ZERO)));
    assert!(e.wait(Some(HOUR)));
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(e.waiter_count(), 0);
}

#[test]
fn event_wait_times_out_with_false_and_leaves_nothing_registered() {
    let e = Event::new();
    let before = hub::parked_count();
    let t0 = Instant::now();
    assert!(!e.wait(Some(ms(20))), "nobody sets it");
    assert!(t0.elapsed() >= ms(20), "a timed wait never ends early");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(!e.wait(Some(ZERO)), "a zero timeout on a clear event");
    assert_eq!(e.waiter_count(), 0);
    assert_eq!(hub::parked_count(), before);
}

#[test]
fn event_set_wakes_every_waiter() {
    let e = Event::new();
    let tasks: Vec<Task<bool>> = (0..5)
        .map(|i| {
            let e = e.clone();
            hub::spawn(move || {
                if i % 2 == 0 {
                    e.wait(None)
                } else {
                    e.wait(Some(HOUR))
                }
            })
        })
        .collect();
    hub::sleep(ZERO);
    assert_eq!(e.waiter_count(), 5);
    assert!(tasks.iter().all(|t| !t.is_ready()));
    e.set();
    assert_eq!(hub::join_all(&tasks, Some(Duration::from_secs(10))), 5);
    for (i, t) in tasks.into_iter().enumerate() {
        assert!(t.get().unwrap(), "waiter {i} returns true");
    }
    assert_eq!(e.waiter_count(), 0);
}

#[test]
fn event_wait_woken_by_set_returns_true_even_if_cleared_before_it_resumes() {
    let e = Event::new();
    let (e1, e2) = (e.clone(), e.clone());
    let a = hub::spawn(move || e1.wait(None));
    let b = hub::spawn(move || e2.wait(Some(HOUR)));
    hub::sleep(ZERO);
    e.set();
    e.clear(); // before either waiter resumes
    assert!(a.get().unwrap(), "woken by a set(): true");
    assert!(b.get().unwrap(), "woken by a set(): true (timed wait)");
    assert!(!e.is_set());
}

#[test]
fn event_timed_wait_ends_when_set() {
    let e = Event::new();
    let e2 = e.clone();
    let setter = hub::spawn(move || {
        hub::sleep(ms(10));
        e2.set();
    });
    let t0 = Instant::now();
    assert!(e.wait(Some(Duration::from_secs(30))));
    assert!(t0.elapsed() >= ms(10), "not before the set");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    setter.get().unwrap();
}

#[test]
fn event_wait_wakes_in_fifo_order() {
    let e = Event::new();
    let l = log();
    let tasks = waiters_in_order(5, || e.waiter_count(), {
        let (e, l) = (e.clone(), l.clone());
        move |i| {
            assert!(e.wait(None));
            push(&l, i.to_string());
        }
    });
    e.set();
    assert_eq!(hub::join_all(&tasks, None), 5);
    assert_eq!(
        strs(&l),
        numbered(5),
        "waiters resume in the order they waited"
    );
}

#[test]
fn event_wait_interrupted_by_kill_and_with_timeout() {
    let e = Event::new();
    check_interruptions("Event::wait", || e.waiter_count(), {
        let e = e.clone();
        move || {
            e.wait(None);
        }
    });
    // The event still works.
    let e2 = e.clone();
    let setter = hub::spawn(move || {
        hub::sleep(ms(5));
        e2.set();
    });
    assert!(e.wait(None));
    setter.get().unwrap();
    assert_eq!(e.waiter_count(), 0);
}

#[test]
fn event_wait_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Event::wait", || {
        let e = Event::new();
        e.wait(None);
    });
}

#[test]
fn event_wait_keeps_its_event_alive_when_every_other_handle_is_dropped() {
    // Main waits; the one other handle, in a task, is dropped meanwhile:
    // nothing can set it any more, which is a deadlock, not a silent hang.
    assert_deadlock_in("Event::wait", || {
        let e = Event::new();
        let other = e.clone();
        let _t = hub::spawn(move || {
            hub::sleep(ms(5));
            drop(other);
        });
        e.wait(None);
    });
    // With a timeout it times out normally.
    let e = Event::new();
    let other = e.clone();
    let t = hub::spawn(move || {
        hub::sleep(ms(5));
        drop(other);
    });
    let t0 = Instant::now();
    assert!(!e.wait(Some(ms(30))));
    assert!(t0.elapsed() >= ms(30));
    assert_eq!(hub::with_timeout(ms(20), || e.wait(None)), Err(Elapsed));
    t.get().unwrap();
    // A task holding the last handle, waiting with a timeout.
    let e = Event::new();
    let mine = e.clone();
    drop(e);
    let t = hub::spawn(move || (mine.wait(Some(ms(20))), mine.waiter_count()));
    assert_eq!(t.get().unwrap(), (false, 0));
}

// ===========================================================================
// AsyncResult.

#[test]
fn async_result_starts_unset_and_set_makes_it_ready() {
    let r: AsyncResult<String> = AsyncResult::new();
    assert!(!r.is_ready());
    assert_eq!(r.try_get(), None);
    r.set("forty-two".to_string());
    assert!(r.is_ready());
    assert_eq!(r.try_get().as_deref(), Some("forty-two"));
    assert_eq!(r.try_get().as_deref(), Some("forty-two"), "read by many");
    let t0 = Instant::now();
    assert_eq!(r.get(None).as_deref(), Ok("forty-two"));
    assert_eq!(r.get(Some(ZERO)).as_deref(), Ok("forty-two"));
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "a ready get returns at once"
    );
}

#[test]
fn async_result_second_set_panics_and_keeps_the_first_value() {
    let r: AsyncResult<u32> = AsyncResult::new();
    r.set(1);
    let again = panic::catch_unwind(AssertUnwindSafe(|| r.set(2)));
    assert!(again.is_err(), "a second set must panic");
    assert_eq!(r.try_get(), Some(1));
    assert_eq!(r.get(None), Ok(1));
}

#[test]
fn async_result_clones_share_one_result() {
    let r: AsyncResult<u32> = AsyncResult::new();
    let r2 = r.clone();
    r2.set(9);
    assert!(r.is_ready());
    assert_eq!(r.try_get(), Some(9));
    let again = panic::catch_unwind(AssertUnwindSafe(|| r.set(10)));
    assert!(again.is_err(), "set through a clone counts as the first");
}

#[test]
fn async_result_get_waits_until_set() {
    let r: AsyncResult<u32> = AsyncResult::new();
    let r2 = r.clone();
    let setter = hub::spawn(move || {
        hub::sleep(ms(10));
        r2.set(7);
    });
    let t0 = Instant::now();
    assert_eq!(r.get(None), Ok(7));
    assert!(t0.elapsed() >= ms(10));
    setter.get().unwrap();
    let r: AsyncResult<u32> = AsyncResult::new();
    let r2 = r.clone();
    let setter = hub::spawn(move || {
        hub::sleep(ms(10));
        r2.set(8);
    });
    assert_eq!(r.get(Some(Duration::from_secs(30))), Ok(8));
    setter.get().unwrap();
}

#[test]
fn async_result_many_getters_each_receive_a_clone() {
    let r: AsyncResult<Rc<String>> = AsyncResult::new();
    let tasks: Vec<Task<Rc<String>>> = (0..5)
        .map(|_| {
            let r = r.clone();
            hub::spawn(move || r.get(None).expect("no timeout"))
        })
        .collect();
    hub::sleep(ZERO);
    assert_eq!(r.waiter_count(), 5);
    let value = Rc::new("shared".to_string());
    r.set(value.clone());
    let got: Vec<Rc<String>> = tasks.into_iter().map(|t| t.get().unwrap()).collect();
    for g in &got {
        assert!(
            Rc::ptr_eq(g, &value),
            "each getter has a clone of the value"
        );
    }
    assert_eq!(r.waiter_count(), 0);
}

#[test]
fn async_result_get_times_out_with_elapsed() {
    let r: AsyncResult<u32> = AsyncResult::new();
    let before = hub::parked_count();
    let t0 = Instant::now();
    assert_eq!(r.get(Some(ms(20))), Err(Elapsed));
    assert!(t0.elapsed() >= ms(20), "a timed get never ends early");
    assert_eq!(r.get(Some(ZERO)), Err(Elapsed));
    assert_eq!(r.waiter_count(), 0);
    assert_eq!(hub::parked_count(), before);
    // It can still be set and read.
    r.set(3);
    assert_eq!(r.get(Some(ms(20))), Ok(3));
}

#[test]
fn async_result_get_wakes_in_fifo_order() {
    let r: AsyncResult<u32> = AsyncResult::new();
    let l = log();
    let tasks = waiters_in_order(5, || r.waiter_count(), {
        let (r, l) = (r.clone(), l.clone());
        move |i| {
            assert_eq!(r.get(None), Ok(11));
            push(&l, i.to_string());
        }
    });
    r.set(11);
    assert_eq!(hub::join_all(&tasks, None), 5);
    assert_eq!(strs(&l), numbered(5));
}

#[test]
fn async_result_get_interrupted_by_kill_and_with_timeout() {
    let r: AsyncResult<u32> = AsyncResult::new();
    check_interruptions("AsyncResult::get", || r.waiter_count(), {
        let r = r.clone();
        move || {
            let _ = r.get(None);
        }
    });
    let r2 = r.clone();
    let setter = hub::spawn(move || {
        hub::sleep(ms(5));
        r2.set(5);
    });
    assert_eq!(r.get(None), Ok(5));
    setter.get().unwrap();
}

#[test]
fn async_result_get_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("AsyncResult::get", || {
        let r: AsyncResult<u8> = AsyncResult::new();
        let _ = r.get(None);
    });
}

// ===========================================================================
// Semaphore and Permit.

#[test]
fn semaphore_counts_permits_taken_and_returned() {
    let s = Semaphore::new(2);
    assert_eq!(s.available(), 2);
    let a = s.try_acquire().expect("first permit");
    assert_eq!(s.available(), 1);
    let b = s.acquire(); // available: returns at once
    assert_eq!(s.available(), 0);
    assert!(s.try_acquire().is_none(), "none left");
    drop(a);
    assert_eq!(s.available(), 1, "a dropped permit is returned");
    drop(b);
    assert_eq!(s.available(), 2);
    assert!(Semaphore::new(0).try_acquire().is_none());
    assert_eq!(Semaphore::new(0).available(), 0);
}

#[test]
fn semaphore_clones_share_the_permits() {
    let s = Semaphore::new(1);
    let s2 = s.clone();
    let p = s2.try_acquire().unwrap();
    assert_eq!(s.available(), 0);
    assert!(s.try_acquire().is_none());
    drop(p);
    assert_eq!(s.available(), 1);
    s.add_permits(2);
    assert_eq!(s2.available(), 3);
}

#[test]
fn permit_forget_keeps_it_taken() {
    let s = Semaphore::new(2);
    s.try_acquire().unwrap().forget();
    assert_eq!(s.available(), 1, "a forgotten permit stays taken");
    let p = s.acquire();
    drop(p);
    assert_eq!(s.available(), 1);
    hub::sleep(ms(1));
    assert_eq!(s.available(), 1, "and is never returned");
    s.add_permits(1);
    assert_eq!(s.available(), 2);
}

#[test]
fn add_permits_adds_to_available() {
    let s = Semaphore::new(0);
    s.add_permits(3);
    assert_eq!(s.available(), 3);
    let ps: Vec<Permit> = (0..3).map(|_| s.try_acquire().unwrap()).collect();
    assert!(s.try_acquire().is_none());
    drop(ps);
    assert_eq!(s.available(), 3);
}

#[test]
fn acquire_waits_until_a_permit_is_returned() {
    let s = Semaphore::new(1);
    let held = s.acquire();
    let s2 = s.clone();
    let t = hub::spawn(move || {
        let p = s2.acquire();
        let left = s2.available();
        drop(p);
        left
    });
    hub::sleep(ms(20));
    assert!(!t.is_ready(), "waits while no permit is available");
    assert_eq!(s.waiter_count(), 1);
    drop(held);
    assert_eq!(t.get().unwrap(), 0, "it held the one permit");
    assert_eq!(s.available(), 1);
    assert_eq!(s.waiter_count(), 0);
}

#[test]
fn acquire_timeout_times_out_with_none_or_gets_a_permit_in_time() {
    let s = Semaphore::new(0);
    let before = hub::parked_count();
    let t0 = Instant::now();
    assert!(s.acquire_timeout(ms(20)).is_none());
    assert!(t0.elapsed() >= ms(20), "never ends early");
    assert_eq!(s.waiter_count(), 0);
    assert_eq!(hub::parked_count(), before);
    let s2 = s.clone();
    let adder = hub::spawn(move || {
        hub::sleep(ms(10));
        s2.add_permits(1);
    });
    let t0 = Instant::now();
    let p = s
        .acquire_timeout(Duration::from_secs(30))
        .expect("a permit came in time");
    assert!(t0.elapsed() >= ms(10));
    assert_eq!(s.available(), 0);
    drop(p);
    assert_eq!(s.available(), 1);
    adder.get().unwrap();
    // With a permit available it returns at once.
    assert!(s.acquire_timeout(ZERO).is_some());
}

#[test]
fn add_permits_wakes_waiters_in_fifo_order() {
    let s = Semaphore::new(0);
    let l = log();
    let tasks = waiters_in_order(5, || s.waiter_count(), {
        let (s, l) = (s.clone(), l.clone());
        move |i| {
            s.acquire().forget();
            push(&l, i.to_string());
        }
    });
    s.add_permits(2);
    hub::sleep(ZERO);
    assert_eq!(strs(&l), numbered(2), "the first two waiters got them");
    assert_eq!(s.waiter_count(), 3);
    assert_eq!(s.available(), 0);
    s.add_permits(3);
    assert_eq!(hub::join_all(&tasks, None), 5);
    assert_eq!(strs(&l), numbered(5));
    assert_eq!(s.available(), 0, "all five forgotten");
}

#[test]
fn semaphore_acquire_wakes_in_fifo_order_one_permit_at_a_time() {
    let s = Semaphore::new(0);
    let l = log();
    let tasks = waiters_in_order(5, || s.waiter_count(), {
        let (s, l) = (s.clone(), l.clone());
        move |i| {
            s.acquire().forget();
            push(&l, i.to_string());
        }
    });
    for k in 0..5 {
        s.add_permits(1);
        hub::sleep(ZERO);
        assert_eq!(strs(&l), numbered(k + 1), "permit {k} went to waiter {k}");
    }
    assert_eq!(hub::join_all(&tasks, None), 5);
}

#[test]
fn semaphore_acquire_timeout_wakes_in_fifo_order() {
    let s = Semaphore::new(1);
    let held = s.acquire();
    let l = log();
    let tasks = waiters_in_order(5, || s.waiter_count(), {
        let (s, l) = (s.clone(), l.clone());
        move |i| {
            let p = s.acquire_timeout(Duration::from_secs(60)).expect("in time");
            push(&l, i.to_string());
            hub::sleep(ZERO); // hold it across a yield
            drop(p);
        }
    });
    drop(held);
    assert_eq!(hub::join_all(&tasks, None), 5);
    assert_eq!(strs(&l), numbered(5));
    assert_eq!(s.available(), 1);
}

#[test]
fn semaphore_acquire_interrupted_by_kill_and_with_timeout() {
    let s = Semaphore::new(0);
    check_interruptions("Semaphore::acquire", || s.waiter_count(), {
        let s = s.clone();
        move || drop(s.acquire())
    });
    assert_eq!(s.available(), 0, "no permit appeared or vanished");
    let s2 = s.clone();
    let adder = hub::spawn(move || {
        hub::sleep(ms(5));
        s2.add_permits(1);
    });
    let p = s.acquire();
    assert_eq!(s.available(), 0);
    drop(p);
    assert_eq!(s.available(), 1);
    adder.get().unwrap();
}

#[test]
fn semaphore_acquire_timeout_interrupted_by_kill_and_with_timeout() {
    let s = Semaphore::new(0);
    check_interruptions("Semaphore::acquire_timeout", || s.waiter_count(), {
        let s = s.clone();
        move || drop(s.acquire_timeout(HOUR))
    });
    let s2 = s.clone();
    let adder = hub::spawn(move || {
        hub::sleep(ms(5));
        s2.add_permits(1);
    });
    assert!(s.acquire_timeout(Duration::from_secs(30)).is_some());
    adder.get().unwrap();
    assert_eq!(s.available(), 1);
}

#[test]
fn semaphore_acquire_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Semaphore::acquire", || {
        let s = Semaphore::new(0);
        drop(s.acquire());
    });
    assert_deadlock_in("Semaphore::acquire", || {
        let s = Semaphore::new(1);
        let _held = s.acquire();
        drop(s.acquire());
    });
}

#[test]
fn released_permit_goes_to_the_first_waiter_not_to_a_newcomer() {
    let s = Semaphore::new(1);
    let held = s.acquire();
    let s2 = s.clone();
    let waiter = hub::spawn(move || {
        let p = s2.acquire();
        p.forget();
        "got it"
    });
    hub::sleep(ZERO);
    assert_eq!(s.waiter_count(), 1);
    drop(held); // handed to the waiter, which has not resumed yet
    assert!(
        s.try_acquire().is_none(),
        "a newcomer's try_acquire took the permit handed to the waiter"
    );
    assert_eq!(s.available(), 0, "the handed permit is not available");
    assert!(
        s.acquire_timeout(ZERO).is_none(),
        "nor to acquire_timeout(0)"
    );
    assert_eq!(waiter.get().unwrap(), "got it");
    assert_eq!(s.available(), 0);
}

#[test]
fn permit_handed_to_a_killed_waiter_passes_to_the_next_one() {
    let s = Semaphore::new(1);
    let held = s.acquire();
    let l = log();
    let tasks = waiters_in_order(2, || s.waiter_count(), {
        let (s, l) = (s.clone(), l.clone());
        move |i| {
            let p = s.acquire();
            push(&l, format!("{i} got it"));
            p.forget();
        }
    });
    drop(held); // to waiter 0
    tasks[0].kill(); // before it resumes (kill waits in the hub: others may run)
    assert!(
        !strs(&l).contains(&"0 got it".to_string()),
        "waiter 0 never ran past acquire"
    );
    assert!(tasks[0].is_ready());
    assert_eq!(hub::join_all(&tasks, Some(Duration::from_secs(10))), 2);
    assert_eq!(strs(&l), ["1 got it"], "the permit passed on to waiter 1");
    assert_eq!(s.available(), 0);
    assert_eq!(s.waiter_count(), 0);
}

#[test]
fn permit_handed_to_a_killed_last_waiter_is_available_again() {
    let s = Semaphore::new(1);
    let held = s.acquire();
    let s2 = s.clone();
    let waiter = hub::spawn(move || s2.acquire().forget());
    hub::sleep(ZERO);
    drop(held);
    waiter.kill();
    assert_eq!(s.available(), 1, "the permit came back: nothing is lost");
    assert!(s.try_acquire().is_some());
    assert_eq!(s.waiter_count(), 0);
}

#[test]
fn permit_released_while_its_waiter_times_out_is_not_lost() {
    // Waiter A's timeout expires about when the permit is released; waiter
    // B waits without one. However the race goes, exactly one of them ends
    // up with the permit.
    for round in 0..2 {
        let s = Semaphore::new(1);
        let held = s.acquire();
        let start = Instant::now();
        let s_a = s.clone();
        let a = hub::spawn(move || {
            let p = if round == 0 {
                s_a.acquire_timeout(ms(10))
            } else {
                hub::with_timeout(ms(10), || s_a.acquire()).ok()
            };
            p.map(Permit::forget).is_some()
        });
        let s_b = s.clone();
        let b = hub::spawn(move || s_b.acquire_timeout(ms(300)).map(Permit::forget).is_some());
        hub::sleep(ZERO);
        assert_eq!(s.waiter_count(), 2);
        // Let A's deadline pass without the hub running, then make the hub
        // see main's earlier deadline and A's expired one at once.
        std::thread::sleep(ms(30));
        hub::sleep_until(start);
        drop(held);
        let got_a = a.get().unwrap();
        let got_b = b.get().unwrap();
        assert_eq!(
            u8::from(got_a) + u8::from(got_b),
            1,
            "round {round}: exactly one waiter gets the permit (A {got_a}, B {got_b})"
        );
        assert_eq!(
            s.available(),
            0,
            "round {round}: it was forgotten by its taker"
        );
        assert_eq!(s.waiter_count(), 0);
    }
}

// ===========================================================================
// Mutex and MutexGuard.

#[test]
fn mutex_lock_derefs_to_the_value_and_into_inner_returns_it() {
    let m = Mutex::new(vec![1]);
    {
        let mut g = m.lock();
        g.push(2);
        assert_eq!(*g, [1, 2]);
        assert_eq!(g.len(), 2, "Deref");
    }
    {
        let mut g = m.try_lock().expect("free");
        g.push(3);
    }
    assert_eq!(m.into_inner(), [1, 2, 3]);
}

#[test]
fn try_lock_fails_while_held_and_succeeds_once_unlocked() {
    let m = Mutex::new(0);
    let g = m.lock();
    assert!(m.try_lock().is_none(), "held");
    drop(g);
    let g = m.try_lock().expect("unlocked");
    drop(g);
    assert!(m.try_lock().is_some());
}

#[test]
fn mutex_is_held_across_waits() {
    let m = Rc::new(Mutex::new(Vec::<&str>::new()));
    let m2 = m.clone();
    let holder = hub::spawn(move || {
        let mut g = m2.lock();
        g.push("holder in");
        hub::sleep(ms(20));
        g.push("holder out");
    });
    hub::sleep(ZERO);
    assert!(m.try_lock().is_none(), "held by the sleeping task");
    let t0 = Instant::now();
    {
        let mut g = m.lock();
        assert!(
            t0.elapsed() >= ms(15),
            "lock waited for the holder: {:?}",
            t0.elapsed()
        );
        g.push("main");
    }
    holder.get().unwrap();
    let Ok(m) = Rc::try_unwrap(m) else {
        panic!("the tasks left their handles of the Mutex behind")
    };
    assert_eq!(m.into_inner(), ["holder in", "holder out", "main"]);
}

#[test]
fn mutex_is_not_poisoned_by_a_panic_while_held() {
    quiet();
    let m = Rc::new(Mutex::new(0));
    let m2 = m.clone();
    let t = hub::spawn(move || {
        let mut g = m2.lock();
        *g = 5;
        panic!("panic while holding the lock, on purpose");
    });
    let err = t.get().expect_err("it panicked");
    assert!(panic_text(&*err).contains("on purpose"));
    let g = m.try_lock().expect("the panic unlocked it");
    assert_eq!(*g, 5, "its change stays");
    drop(g);
    // In main, caught.
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut g = m.lock();
        *g += 1;
        panic!("again on purpose");
    }));
    assert!(r.is_err());
    assert_eq!(*m.lock(), 6, "no poisoning: lock just works");
}

#[test]
fn mutex_held_by_a_killed_task_is_unlocked() {
    let m = Rc::new(Mutex::new(0));
    let m2 = m.clone();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let t = hub::spawn(move || {
        let mut g = m2.lock();
        *g += 1;
        let _c = Counted(d);
        hub::sleep(HOUR);
        *g += 100;
    });
    hub::sleep(ZERO);
    assert!(m.try_lock().is_none());
    // A waiter behind it gets it once the holder is killed.
    let m3 = m.clone();
    let waiter = hub::spawn(move || *m3.lock());
    hub::sleep(ZERO);
    assert_eq!(m.waiter_count(), 1);
    t.kill();
    assert_eq!(drops.get(), 1);
    assert_eq!(waiter.get().unwrap(), 1, "the waiter got the lock");
    assert_eq!(*m.try_lock().expect("unlocked"), 1);
    let Ok(m) = Rc::try_unwrap(m) else {
        panic!("the tasks left their handles of the Mutex behind")
    };
    assert_eq!(m.into_inner(), 1);
}

#[test]
fn mutex_lock_wakes_in_fifo_order() {
    let m = Rc::new(Mutex::new(Vec::new()));
    let held = m.lock();
    let l = log();
    let tasks = waiters_in_order(5, || m.waiter_count(), {
        let (m, l) = (m.clone(), l.clone());
        move |i| {
            let mut g = m.lock();
            push(&l, i.to_string());
            g.push(i);
            hub::sleep(ZERO); // hold it across a yield
        }
    });
    drop(held);
    assert_eq!(hub::join_all(&tasks, None), 5);
    assert_eq!(strs(&l), numbered(5));
    assert_eq!(*m.lock(), [0, 1, 2, 3, 4]);
}

#[test]
fn mutex_lock_interrupted_by_kill_and_with_timeout() {
    let m = Rc::new(Mutex::new(0));
    let held = m.lock();
    check_interruptions("Mutex::lock", || m.waiter_count(), {
        let m = m.clone();
        move || drop(m.lock())
    });
    // A later lock still works: a task waits, main unlocks.
    let m2 = m.clone();
    let t = hub::spawn(move || {
        let mut g = m2.lock();
        *g += 1;
    });
    hub::sleep(ZERO);
    assert_eq!(m.waiter_count(), 1);
    drop(held);
    t.get().unwrap();
    assert_eq!(*m.lock(), 1);
}

#[test]
fn mutex_lock_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Mutex::lock", || {
        let m = Rc::new(Mutex::new(()));
        let m2 = m.clone();
        // The holder waits for ever on an event nobody else has.
        let _holder = hub::spawn(move || {
            let _g = m2.lock();
            Event::new().wait(None);
        });
        hub::sleep(ZERO);
        drop(m.lock());
    });
}

#[test]
fn unlocked_mutex_goes_to_the_first_waiter_not_to_a_newcomer() {
    let m = Rc::new(Mutex::new(Vec::new()));
    let held = m.lock();
    let m2 = m.clone();
    let waiter = hub::spawn(move || m2.lock().push("waiter"));
    hub::sleep(ZERO);
    drop(held); // handed to the waiter, not yet resumed
    assert!(
        m.try_lock().is_none(),
        "a newcomer's try_lock took the lock handed to the waiter"
    );
    waiter.get().unwrap();
    m.try_lock().expect("free again").push("main");
    assert_eq!(*m.lock(), ["waiter", "main"]);
}

#[test]
fn mutex_handed_to_a_killed_waiter_passes_to_the_next_one_or_is_unlocked() {
    let m = Rc::new(Mutex::new(Vec::new()));
    let held = m.lock();
    let tasks = waiters_in_order(2, || m.waiter_count(), {
        let m = m.clone();
        move |i| m.lock().push(i)
    });
    drop(held); // to waiter 0
    tasks[0].kill(); // before it resumes
    assert_eq!(hub::join_all(&tasks, Some(Duration::from_secs(10))), 2);
    assert_eq!(*m.lock(), [1], "waiter 1 got it");
    // The last waiter killed: unlocked.
    let held = m.lock();
    let m2 = m.clone();
    let t = hub::spawn(move || m2.lock().push(9));
    hub::sleep(ZERO);
    drop(held);
    t.kill();
    assert!(m.try_lock().is_some(), "unlocked: nothing is lost");
    assert_eq!(m.waiter_count(), 0);
}

#[test]
fn mutex_unlocked_while_its_waiter_times_out_is_not_lost() {
    let m = Rc::new(Mutex::new(Vec::new()));
    let held = m.lock();
    let start = Instant::now();
    let m_a = m.clone();
    let a = hub::spawn(move || hub::with_timeout(ms(10), || m_a.lock().push("a")).is_ok());
    let m_b = m.clone();
    let b = hub::spawn(move || hub::with_timeout(ms(300), || m_b.lock().push("b")).is_ok());
    hub::sleep(ZERO);
    assert_eq!(m.waiter_count(), 2);
    std::thread::sleep(ms(30));
    hub::sleep_until(start);
    drop(held);
    let (got_a, got_b) = (a.get().unwrap(), b.get().unwrap());
    // Whether or not A's timeout won, B (300 ms) must get the lock: from
    // main's unlock, passed on from A, or after A.
    assert!(got_b, "the unlocked mutex was lost (A got it: {got_a})");
    let want: &[&str] = if got_a { &["a", "b"] } else { &["b"] };
    assert_eq!(*m.try_lock().expect("free again"), want);
    assert_eq!(m.waiter_count(), 0);
}

// ===========================================================================
// Queue: unbounded and bounded.

#[test]
fn unbounded_queue_puts_without_waiting_and_gets_in_order() {
    let q = Queue::new();
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let _t = hub::spawn(move || r.set(true));
    for i in 0..1000 {
        assert_eq!(q.put(i), Ok(()));
    }
    assert!(
        !ran.get(),
        "put on an unbounded queue never waits (nothing ran)"
    );
    assert_eq!(q.len(), 1000);
    assert!(!q.is_empty());
    for i in 0..1000 {
        assert_eq!(q.try_get(), Some(i));
    }
    assert_eq!(q.try_get(), None);
    assert!(q.is_empty());
    q.put(5).unwrap();
    assert_eq!(q.get(), Some(5), "get of a non-empty queue returns at once");
    assert_eq!(q.get_timeout(ZERO), Err(Elapsed), "empty");
}

#[test]
fn queue_clones_share_one_queue() {
    let q = Queue::new();
    let q2 = q.clone();
    q2.put("a").unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q.try_get(), Some("a"));
    assert!(q2.is_empty());
    q.close();
    assert_eq!(q2.put("b"), Err("b"), "closed through a clone");
}

#[test]
fn queue_get_waits_while_empty() {
    let q = Queue::new();
    let q2 = q.clone();
    let putter = hub::spawn(move || {
        hub::sleep(ms(10));
        q2.put(3).unwrap();
    });
    let t0 = Instant::now();
    assert_eq!(q.get(), Some(3));
    assert!(t0.elapsed() >= ms(10));
    putter.get().unwrap();
}

#[test]
fn queue_get_timeout_times_out_or_gets_in_time() {
    let q: Queue<u32> = Queue::new();
    let before = hub::parked_count();
    let t0 = Instant::now();
    assert_eq!(q.get_timeout(ms(20)), Err(Elapsed));
    assert!(t0.elapsed() >= ms(20), "never ends early");
    assert_eq!(q.waiter_count(), 0);
    assert_eq!(hub::parked_count(), before);
    let q2 = q.clone();
    let putter = hub::spawn(move || {
        hub::sleep(ms(10));
        q2.put(4).unwrap();
    });
    assert_eq!(q.get_timeout(Duration::from_secs(30)), Ok(Some(4)));
    putter.get().unwrap();
    q.put(1).unwrap();
    q.close();
    assert_eq!(q.get_timeout(ms(10)), Ok(Some(1)), "drained after close");
    assert_eq!(q.get_timeout(HOUR), Ok(None), "closed and drained");
}

#[test]
fn bounded_queue_put_waits_while_full() {
    let q = Queue::bounded(2);
    assert_eq!(q.put(1), Ok(()));
    assert_eq!(q.put(2), Ok(()));
    assert_eq!(q.len(), 2);
    assert_eq!(
        q.try_put(3),
        Err(3),
        "try_put on a full queue gives the value back"
    );
    let q2 = q.clone();
    let putter = hub::spawn(move || {
        q2.put(3).unwrap();
        "put"
    });
    hub::sleep(ms(10));
    assert!(!putter.is_ready(), "put waits while full");
    assert_eq!(q.waiter_count(), 1);
    assert_eq!(q.len(), 2);
    assert_eq!(q.get(), Some(1));
    assert_eq!(putter.get().unwrap(), "put");
    assert_eq!(q.len(), 2);
    assert_eq!(q.try_get(), Some(2));
    assert_eq!(q.try_get(), Some(3));
    assert_eq!(q.try_put(4), Ok(()), "room again");
}

#[test]
fn put_timeout_gives_the_value_back_on_timeout() {
    let q = Queue::bounded(1);
    q.put(Box::new(1)).unwrap();
    let before = hub::parked_count();
    let t0 = Instant::now();
    assert_eq!(q.put_timeout(Box::new(2), ms(20)), Err(Box::new(2)));
    assert!(t0.elapsed() >= ms(20), "never ends early");
    assert_eq!(q.waiter_count(), 0);
    assert_eq!(hub::parked_count(), before);
    assert_eq!(q.len(), 1);
    // With room in time it puts.
    let q2 = q.clone();
    let getter = hub::spawn(move || {
        hub::sleep(ms(10));
        q2.get()
    });
    assert_eq!(q.put_timeout(Box::new(3), Duration::from_secs(30)), Ok(()));
    assert_eq!(getter.get().unwrap(), Some(Box::new(1)));
    assert_eq!(q.try_get(), Some(Box::new(3)));
    // With room it puts at once; on an unbounded queue always.
    assert_eq!(q.put_timeout(Box::new(4), ZERO), Ok(()));
    let u = Queue::new();
    assert_eq!(u.put_timeout(5, ZERO), Ok(()));
}

#[test]
fn closed_queue_refuses_puts_and_drains_then_gives_none() {
    let q = Queue::bounded(5);
    q.put(1).unwrap();
    q.put(2).unwrap();
    q.close();
    assert_eq!(q.put(3), Err(3), "put after close");
    assert_eq!(q.try_put(4), Err(4), "try_put after close");
    assert_eq!(q.put_timeout(5, HOUR), Err(5), "put_timeout after close");
    assert_eq!(q.len(), 2, "values put before close are still there");
    assert_eq!(q.get(), Some(1));
    assert_eq!(q.try_get(), Some(2));
    assert_eq!(q.get(), None, "closed and drained");
    assert_eq!(q.try_get(), None);
    assert_eq!(q.get_timeout(HOUR), Ok(None));
    q.close(); // twice: no effect
    assert_eq!(q.get(), None);
}

#[test]
fn close_wakes_every_getter_with_none_after_the_values() {
    let q = Queue::new();
    let tasks: Vec<Task<Vec<Option<u32>>>> = (0..4)
        .map(|i| {
            let q = q.clone();
            hub::spawn(move || match i {
                0 => vec![q.get()],
                1 => vec![q.get_timeout(HOUR).expect("no timeout")],
                2 => q.iter().map(Some).collect(),
                _ => vec![q.get(), q.get()],
            })
        })
        .collect();
    hub::sleep(ZERO);
    assert_eq!(q.waiter_count(), 4);
    q.close();
    assert_eq!(hub::join_all(&tasks, Some(Duration::from_secs(10))), 4);
    let got: Vec<Vec<Option<u32>>> = tasks.into_iter().map(|t| t.get().unwrap()).collect();
    assert_eq!(got, [vec![None], vec![None], vec![], vec![None, None]]);
    assert_eq!(q.waiter_count(), 0);
}

#[test]
fn close_wakes_every_putter_with_its_value_back() {
    let q = Queue::bounded(1);
    q.put("before close".to_string()).unwrap();
    let tasks: Vec<Task<Result<(), String>>> = (0..3)
        .map(|i| {
            let q = q.clone();
            hub::spawn(move || {
                if i == 1 {
                    q.put_timeout(format!("p{i}"), HOUR)
                } else {
                    q.put(format!("p{i}"))
                }
            })
        })
        .collect();
    hub::sleep(ZERO);
    assert_eq!(q.waiter_count(), 3);
    q.close();
    assert_eq!(hub::join_all(&tasks, Some(Duration::from_secs(10))), 3);
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(
            t.get().unwrap(),
            Err(format!("p{i}")),
            "putter {i} gets its value back"
        );
    }
    assert_eq!(q.waiter_count(), 0);
    assert_eq!(q.get().as_deref(), Some("before close"));
    assert_eq!(q.get(), None);
}

#[test]
fn iter_yields_values_until_closed_and_drained() {
    let q = Queue::new();
    q.put(1).unwrap();
    q.put(2).unwrap();
    let q2 = q.clone();
    let producer = hub::spawn(move || {
        for i in 3..=5 {
            hub::sleep(ms(2));
            q2.put(i).unwrap();
        }
        q2.close();
    });
    let got: Vec<u32> = q.iter().collect();
    assert_eq!(got, [1, 2, 3, 4, 5]);
    producer.get().unwrap();
    assert_eq!(q.iter().count(), 0, "closed: iter ends at once");
}

#[test]
fn queue_get_wakes_in_fifo_order_and_values_go_in_order() {
    let q = Queue::new();
    let l = log();
    let tasks = waiters_in_order(5, || q.waiter_count(), {
        let (q, l) = (q.clone(), l.clone());
        move |i| {
            let v = q.get();
            push(&l, format!("{i}:{v:?}"));
        }
    });
    for v in 0..5 {
        q.put(v).unwrap();
    }
    assert_eq!(hub::join_all(&tasks, None), 5);
    let want: Vec<String> = (0..5).map(|i| format!("{i}:Some({i})")).collect();
    assert_eq!(strs(&l), want);
}

#[test]
fn queue_get_timeout_wakes_in_fifo_order() {
    let q = Queue::new();
    let l = log();
    let tasks = waiters_in_order(5, || q.waiter_count(), {
        let (q, l) = (q.clone(), l.clone());
        move |i| {
            let v = q.get_timeout(Duration::from_secs(60));
            push(&l, format!("{i}:{v:?}"));
        }
    });
    for v in 0..5 {
        q.put(v).unwrap();
    }
    assert_eq!(hub::join_all(&tasks, None), 5);
    let want: Vec<String> = (0..5).map(|i| format!("{i}:Ok(Some({i}))")).collect();
    assert_eq!(strs(&l), want);
}

#[test]
fn queue_put_on_a_full_queue_wakes_in_fifo_order() {
    for timed in [false, true] {
        let q = Queue::bounded(1);
        q.put(100).unwrap();
        let l = log();
        let tasks = waiters_in_order(5, || q.waiter_count(), {
            let (q, l) = (q.clone(), l.clone());
            move |i| {
                let r = if timed {
                    q.put_timeout(i, Duration::from_secs(60))
                } else {
                    q.put(i)
                };
                assert_eq!(r, Ok(()));
                push(&l, i.to_string());
            }
        });
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(q.get().expect("a value"));
            hub::sleep(ZERO);
        }
        assert_eq!(hub::join_all(&tasks, None), 5);
        assert_eq!(
            got,
            [100, 0, 1, 2, 3, 4],
            "timed {timed}: values in put order"
        );
        assert_eq!(
            strs(&l),
            numbered(5),
            "timed {timed}: putters resume in order"
        );
    }
}

#[test]
fn queue_get_interrupted_by_kill_and_with_timeout() {
    let q: Queue<u32> = Queue::new();
    check_interruptions("Queue::get", || q.waiter_count(), {
        let q = q.clone();
        move || {
            let _ = q.get();
        }
    });
    let q2 = q.clone();
    let putter = hub::spawn(move || {
        hub::sleep(ms(5));
        q2.put(1).unwrap();
    });
    assert_eq!(q.get(), Some(1));
    putter.get().unwrap();
}

#[test]
fn queue_get_timeout_interrupted_by_kill_and_with_timeout() {
    let q: Queue<u32> = Queue::new();
    check_interruptions("Queue::get_timeout", || q.waiter_count(), {
        let q = q.clone();
        move || {
            let _ = q.get_timeout(HOUR);
        }
    });
    let q2 = q.clone();
    let putter = hub::spawn(move || {
        hub::sleep(ms(5));
        q2.put(1).unwrap();
    });
    assert_eq!(q.get_timeout(Duration::from_secs(30)), Ok(Some(1)));
    putter.get().unwrap();
}

#[test]
fn queue_put_interrupted_by_kill_and_with_timeout() {
    let drops = Rc::new(Cell::new(0));
    let q: Queue<Counted> = Queue::bounded(1);
    q.put(Counted(drops.clone())).unwrap();
    check_interruptions("Queue::put", || q.waiter_count(), {
        let (q, d) = (q.clone(), drops.clone());
        move || drop(q.put(Counted(d.clone())))
    });
    // Three interrupted puts: their values were dropped, not queued.
    assert_eq!(
        drops.get(),
        3,
        "each interrupted put's value was dropped once"
    );
    assert_eq!(q.len(), 1);
    let q2 = q.clone();
    let getter = hub::spawn(move || {
        hub::sleep(ms(5));
        q2.get().is_some()
    });
    assert!(q.put(Counted(drops.clone())).is_ok(), "a later put works");
    assert!(getter.get().unwrap());
    assert_eq!(q.len(), 1);
}

#[test]
fn queue_put_timeout_interrupted_by_kill_and_with_timeout() {
    let q: Queue<u32> = Queue::bounded(1);
    q.put(0).unwrap();
    check_interruptions("Queue::put_timeout", || q.waiter_count(), {
        let q = q.clone();
        move || {
            let _ = q.put_timeout(1, HOUR);
        }
    });
    assert_eq!(q.len(), 1);
    let q2 = q.clone();
    let getter = hub::spawn(move || {
        hub::sleep(ms(5));
        q2.get()
    });
    assert_eq!(q.put_timeout(2, Duration::from_secs(30)), Ok(()));
    assert_eq!(getter.get().unwrap(), Some(0));
    assert_eq!(q.try_get(), Some(2));
}

#[test]
fn queue_get_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Queue::get", || {
        let q: Queue<u32> = Queue::new();
        q.get();
    });
}

#[test]
fn queue_put_on_a_full_queue_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Queue::put", || {
        let q = Queue::bounded(1);
        q.put(1).unwrap();
        let _ = q.put(2);
    });
}

#[test]
fn queue_get_keeps_its_queue_alive_when_every_other_handle_is_dropped() {
    // Main waits in get; the one other handle, in a task, is dropped
    // meanwhile: nothing can put any more, which is a deadlock.
    assert_deadlock_in("Queue::get", || {
        let q: Queue<u32> = Queue::new();
        let other = q.clone();
        let _t = hub::spawn(move || {
            hub::sleep(ms(5));
            drop(other);
        });
        q.get();
    });
    // A putter on a full queue, likewise.
    assert_deadlock_in("Queue::put", || {
        let q = Queue::bounded(1);
        q.put(0).unwrap();
        let other = q.clone();
        let _t = hub::spawn(move || {
            hub::sleep(ms(5));
            drop(other);
        });
        let _ = q.put(1);
    });
    // With a timeout, it times out normally.
    let q: Queue<u32> = Queue::new();
    let other = q.clone();
    let t = hub::spawn(move || {
        hub::sleep(ms(5));
        drop(other);
    });
    let t0 = Instant::now();
    assert_eq!(q.get_timeout(ms(30)), Err(Elapsed));
    assert!(t0.elapsed() >= ms(30));
    assert_eq!(hub::with_timeout(ms(20), || q.get()), Err(Elapsed));
    t.get().unwrap();
    // A task holding the last handle.
    let mine: Queue<u32> = Queue::new();
    let t = hub::spawn(move || (mine.get_timeout(ms(20)), mine.waiter_count()));
    assert_eq!(t.get().unwrap(), (Err(Elapsed), 0));
    // A task waiting without a timeout on the last handle: main's join is
    // the deadlock; killing the task afterwards ends its wait.
    assert_deadlock_in("Task::join", || {
        let mine: Queue<u32> = Queue::new();
        let t = hub::spawn(move || mine.get());
        t.join(None);
    });
}

#[test]
fn put_value_goes_to_the_first_getter_not_to_a_newcomer() {
    let q = Queue::new();
    let q2 = q.clone();
    let getter = hub::spawn(move || q2.get());
    hub::sleep(ZERO);
    q.put(7).unwrap(); // handed to the getter, not yet resumed
    assert_eq!(
        q.try_get(),
        None,
        "a newcomer's try_get took the value handed to the waiting getter"
    );
    assert_eq!(q.get_timeout(ZERO), Err(Elapsed), "nor get_timeout(0)");
    assert_eq!(getter.get().unwrap(), Some(7));
    assert!(q.is_empty());
}

#[test]
fn value_handed_to_a_killed_getter_passes_to_the_next_one() {
    let q = Queue::new();
    let l = log();
    let tasks = waiters_in_order(2, || q.waiter_count(), {
        let (q, l) = (q.clone(), l.clone());
        move |i| {
            let v = q.get();
            push(&l, format!("{i}:{v:?}"));
        }
    });
    q.put(7).unwrap(); // to getter 0
    tasks[0].kill(); // before it resumes
    assert_eq!(hub::join_all(&tasks, Some(Duration::from_secs(10))), 2);
    assert_eq!(strs(&l), ["1:Some(7)"], "the value passed on to getter 1");
    assert!(q.is_empty());
    assert_eq!(q.waiter_count(), 0);
}

#[test]
fn value_handed_to_a_killed_last_getter_goes_back_to_the_queue() {
    let q = Queue::new();
    let q2 = q.clone();
    let getter = hub::spawn(move || q2.get());
    hub::sleep(ZERO);
    q.put(7).unwrap();
    q.put(8).unwrap();
    getter.kill();
    assert_eq!(q.len(), 2, "the handed value came back: nothing is lost");
    assert_eq!(q.try_get(), Some(7), "at the front");
    assert_eq!(q.try_get(), Some(8));
    assert_eq!(q.waiter_count(), 0);
}

/// A value handed to a waiting getter counts toward a bounded queue's
/// capacity until the getter takes it: if the getter is killed first, the
/// value comes back to the front and the queue still holds no more than
/// its capacity (it held capacity + 1 before).
#[test]
fn value_handed_to_a_killed_getter_of_a_full_bounded_queue_never_overfills_it() {
    let q = Queue::bounded(2);
    let q2 = q.clone();
    let getter = hub::spawn(move || q2.get());
    hub::sleep(ZERO);
    q.put(1).unwrap(); // handed to the getter, not yet resumed
    assert_eq!(q.len(), 0, "len() does not count the handed value");
    assert_eq!(q.try_put(2), Ok(()));
    assert_eq!(q.try_put(3), Err(3), "full: 1 handed + 1 queued");
    getter.kill(); // before it resumes: 1 comes back
    assert_eq!(q.len(), 2, "the handed value came back within the capacity");
    assert_eq!(q.try_get(), Some(1), "at the front");
    assert_eq!(q.try_get(), Some(2));
    assert_eq!(q.waiter_count(), 0);
}

/// When the getter takes the handed value, its room goes to the first
/// waiting putter at once, as room made by a get does.
#[test]
fn a_putter_waiting_on_room_held_by_a_handed_value_gets_in_when_the_getter_takes_it() {
    let q = Queue::bounded(1);
    let q_get = q.clone();
    let getter = hub::spawn(move || q_get.get());
    hub::sleep(ZERO);
    let q_put = q.clone();
    let putter = hub::spawn(move || q_put.put('b')); // runs before the getter resumes
    q.put('a').unwrap(); // handed to the getter
    hub::sleep(ZERO); // the putter waits (full: 'a' is handed), then the getter takes 'a'
    assert_eq!(getter.get().unwrap(), Some('a'));
    assert_eq!(
        putter.get().unwrap(),
        Ok(()),
        "the putter got in without a get"
    );
    assert_eq!(q.len(), 1);
    assert_eq!(q.try_get(), Some('b'));
    assert_eq!(q.waiter_count(), 0);
}

#[test]
fn value_put_while_its_getter_times_out_is_not_lost() {
    for round in 0..2 {
        let q = Queue::new();
        let start = Instant::now();
        let q_a = q.clone();
        let a = hub::spawn(move || {
            if round == 0 {
                q_a.get_timeout(ms(10)).ok().flatten()
            } else {
                hub::with_timeout(ms(10), || q_a.get()).ok().flatten()
            }
        });
        let q_b = q.clone();
        let b = hub::spawn(move || q_b.get_timeout(ms(300)).ok().flatten());
        hub::sleep(ZERO);
        assert_eq!(q.waiter_count(), 2);
        std::thread::sleep(ms(30));
        hub::sleep_until(start);
        q.put(7).unwrap();
        let (got_a, got_b) = (a.get().unwrap(), b.get().unwrap());
        let left = q.try_get();
        let seen: Vec<u32> = [got_a, got_b, left].into_iter().flatten().collect();
        assert_eq!(
            seen,
            [7],
            "round {round}: the value must be got or stay queued, exactly once \
             (A {got_a:?}, B {got_b:?}, queue {left:?})"
        );
        assert_eq!(q.waiter_count(), 0);
    }
}

// ===========================================================================
// Queue: rendezvous (bounded(0)).

#[test]
fn rendezvous_put_to_a_waiting_getter_yields_to_it_first() {
    let q = Queue::bounded(0);
    let l = log();
    let (q2, l2) = (q.clone(), l.clone());
    let getter = hub::spawn(move || {
        let v = q2.get();
        push(&l2, format!("got {v:?}"));
    });
    hub::sleep(ZERO);
    assert_eq!(q.waiter_count(), 1);
    assert_eq!(q.put(1), Ok(()));
    push(&l, "put returned");
    assert_eq!(
        strs(&l),
        ["got Some(1)", "put returned"],
        "put returns once the getter has taken the value, after yielding to it"
    );
    getter.get().unwrap();
}

#[test]
fn rendezvous_put_waits_for_a_getter() {
    let q = Queue::bounded(0);
    let l = log();
    let (q2, l2) = (q.clone(), l.clone());
    let getter = hub::spawn(move || {
        hub::sleep(ms(20));
        push(&l2, "getting");
        let v = q2.get();
        push(&l2, format!("got {v:?}"));
    });
    let t0 = Instant::now();
    assert_eq!(q.put(5), Ok(()));
    push(&l, "put returned");
    assert!(t0.elapsed() >= ms(20), "put waited for the getter");
    assert_eq!(strs(&l), ["getting", "got Some(5)", "put returned"]);
    getter.get().unwrap();
    // put_timeout without a getter times out with the value back.
    let t0 = Instant::now();
    assert_eq!(q.put_timeout(6, ms(20)), Err(6));
    assert!(t0.elapsed() >= ms(20));
    assert_eq!(q.waiter_count(), 0);
}

#[test]
fn rendezvous_try_put_succeeds_only_if_a_getter_waits() {
    let q = Queue::bounded(0);
    assert_eq!(q.try_put(1), Err(1), "nobody waits to get");
    let q2 = q.clone();
    let getter = hub::spawn(move || q2.get());
    hub::sleep(ZERO);
    assert_eq!(q.try_put(2), Ok(()), "a getter waits");
    assert_eq!(q.try_put(3), Err(3), "that getter has its value already");
    assert_eq!(getter.get().unwrap(), Some(2));
    assert_eq!(q.try_put(4), Err(4));
}

#[test]
fn rendezvous_try_get_succeeds_only_if_a_putter_waits() {
    let q = Queue::bounded(0);
    assert_eq!(q.try_get(), None, "nobody waits to put");
    let q2 = q.clone();
    let putter = hub::spawn(move || q2.put(8));
    hub::sleep(ZERO);
    assert_eq!(q.waiter_count(), 1);
    assert_eq!(q.len(), 0, "a rendezvous queue holds nothing");
    assert!(q.is_empty());
    assert_eq!(q.try_get(), Some(8), "a putter waits");
    assert_eq!(putter.get().unwrap(), Ok(()), "its put returned Ok");
    assert_eq!(q.try_get(), None);
}

#[test]
fn rendezvous_len_is_zero_and_get_waits_for_a_putter() {
    let q = Queue::bounded(0);
    let putters: Vec<Task<Result<(), u32>>> = (0..3)
        .map(|i| {
            let q = q.clone();
            hub::spawn(move || q.put(i))
        })
        .collect();
    hub::sleep(ZERO);
    assert_eq!(
        q.len(),
        0,
        "len() of a rendezvous queue is 0 even with putters waiting"
    );
    assert_eq!(q.waiter_count(), 3);
    let got: Vec<Option<u32>> = (0..3).map(|_| q.get()).collect();
    assert_eq!(got, [Some(0), Some(1), Some(2)], "putters in FIFO order");
    for p in putters {
        assert_eq!(p.get().unwrap(), Ok(()));
    }
    assert_eq!(q.get_timeout(ms(10)), Err(Elapsed));
    assert_eq!(q.len(), 0);
}

#[test]
fn rendezvous_close_gives_waiting_putters_their_values_back() {
    let q = Queue::bounded(0);
    let q2 = q.clone();
    let putter = hub::spawn(move || q2.put("v".to_string()));
    let q3 = q.clone();
    let late = hub::spawn(move || {
        hub::sleep(ms(10));
        q3.get()
    });
    hub::sleep(ZERO);
    q.close();
    assert_eq!(putter.get().unwrap(), Err("v".to_string()));
    assert_eq!(late.get().unwrap(), None, "closed: get gives None");
    assert_eq!(q.try_put("w".to_string()), Err("w".to_string()));
}

#[test]
fn rendezvous_value_handed_to_a_getter_killed_before_it_resumes_is_not_taken() {
    // A getter waits; a putter hands it a value and yields to it; main runs
    // in between (it was ready first) and kills the getter before it
    // resumes. No getter has taken the value: the hand-off rule says it is
    // not lost, the rendezvous rules say put returns only once a getter has
    // taken it and that the channel holds nothing (len() 0, try_get only
    // from a waiting putter).
    let q = Queue::bounded(0);
    let l = log();
    let (q2, l2) = (q.clone(), l.clone());
    let getter = hub::spawn(move || {
        let v = q2.get();
        push(&l2, format!("getter got {v:?}"));
    });
    hub::sleep(ZERO);
    assert_eq!(q.waiter_count(), 1, "the getter waits");
    let (q3, l3) = (q.clone(), l.clone());
    let putter = hub::spawn(move || {
        let r = q3.put(7);
        push(&l3, format!("put returned {r:?}"));
    });
    // Ready: the putter, then main. The putter hands 7 to the getter (now
    // ready behind main) and yields; main runs before the getter.
    hub::sleep(ZERO);
    assert!(
        !getter.is_ready() && strs(&l).is_empty(),
        "setup: the getter was handed the value and has not resumed: {:?}",
        strs(&l)
    );
    getter.kill();
    let len_after_kill = q.len();
    hub::sleep(ZERO); // the putter resumes from its yield
    let log_after_yield = strs(&l);
    // A new getter must get the value, exactly once, and only then may the
    // put return Ok.
    let late = q.get_timeout(ms(100));
    hub::sleep(ZERO);
    let log_at_end = strs(&l);
    assert_eq!(
        late,
        Ok(Some(7)),
        "the value is not lost: a later get takes it"
    );
    assert!(
        len_after_kill == 0 && log_after_yield.is_empty(),
        "no getter has taken the value, yet: len() of the rendezvous queue is \
         {len_after_kill} (must be 0) and the putter's log is {log_after_yield:?} (put \
         must not return before a getter has taken the value)"
    );
    assert_eq!(log_at_end, ["put returned Ok(())"]);
    assert!(putter.is_ready());
}

#[test]
fn rendezvous_put_that_nothing_can_end_is_a_deadlock() {
    assert_deadlock_in("Queue::put", || {
        let q = Queue::bounded(0);
        let _ = q.put(1);
    });
}

#[test]
fn rendezvous_put_after_a_stranded_try_put_value_still_waits_for_its_getter() {
    // A try_put hands 1 to a waiting getter, which is killed before it
    // resumes: 1 goes back into the channel (nothing is lost; try_put
    // cannot take it back). A later put of 2 must still wait until a getter
    // has taken 2 itself: taking 1 must not move 2 into the channel.
    let q = Queue::bounded(0);
    let q2 = q.clone();
    let getter = hub::spawn(move || q2.get());
    hub::sleep(ZERO);
    assert_eq!(q.try_put(1), Ok(()));
    getter.kill();
    assert_eq!(q.len(), 1, "the value handed to the killed getter is back");
    let l = log();
    let (q3, l3) = (q.clone(), l.clone());
    let putter = hub::spawn(move || {
        let r = q3.put(2);
        push(&l3, format!("put returned {r:?}"));
    });
    hub::sleep(ZERO);
    assert_eq!(q.get(), Some(1));
    hub::sleep(ZERO);
    assert!(
        strs(&l).is_empty(),
        "put of 2 returned before any getter took 2: {:?}",
        strs(&l)
    );
    assert_eq!(q.len(), 0);
    assert_eq!(q.get(), Some(2));
    putter.get().unwrap();
    assert_eq!(strs(&l), ["put returned Ok(())"]);
}

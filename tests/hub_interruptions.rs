//! Interrupting a greenlet that is already unwinding (issue 16, item 1):
//! a `Task::kill` or an expiring `with_timeout` that reaches a wait made by
//! a destructor during unwinding must not throw a second panic there
//! (Rust aborts the process on a panic escaping a destructor during
//! unwinding). The interruption is deferred: the wait goes on, and the
//! unwinding ends the task (or reaches the `with_timeout`) with the panic
//! it carried. Each test runs on its own thread (its own hub).

#[path = "common/panic_text.rs"]
mod panic_text;
#[path = "common/quiet.rs"]
mod quiet;

use greenlet::GreenletExit;
use greenlet::hub::{self, Elapsed};
use panic_text::panic_text;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The tests' own panics (all say "failed") stay off stderr.
fn quiet() {
    quiet::quiet_panics(|p| panic_text(p).ends_with("failed"));
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sleeps in the hub when dropped, and counts the sleeps that finished.
struct SleepsInDrop {
    ms: u64,
    done: Rc<Cell<u32>>,
}

impl Drop for SleepsInDrop {
    fn drop(&mut self) {
        hub::sleep(ms(self.ms));
        self.done.set(self.done.get() + 1);
    }
}

fn sleeper(ms: u64, done: &Rc<Cell<u32>>) -> SleepsInDrop {
    SleepsInDrop {
        ms,
        done: Rc::clone(done),
    }
}

#[test]
fn with_timeout_expiring_while_its_body_unwinds_does_not_abort() {
    quiet();
    let done = Rc::new(Cell::new(0));
    let d = Rc::clone(&done);
    let t0 = Instant::now();
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        hub::with_timeout(ms(5), move || {
            let _s = sleeper(30, &d);
            panic!("handler failed")
        })
    }));
    let err = r.expect_err("the body's panic continues past with_timeout");
    assert_eq!(panic_text(&*err), "handler failed");
    assert_eq!(done.get(), 1, "the destructor's sleep ran to its end");
    assert!(t0.elapsed() >= ms(30), "the sleep was not cut short");
    assert_eq!(hub::parked_count(), 0, "nothing left registered");
    // The hub still works, and a timeout still interrupts a normal wait.
    assert_eq!(
        hub::with_timeout(ms(5), || hub::sleep(ms(500))),
        Err(Elapsed)
    );
}

#[test]
fn nested_with_timeouts_expiring_while_the_body_unwinds_do_not_abort() {
    quiet();
    let done = Rc::new(Cell::new(0));
    let d = Rc::clone(&done);
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        hub::with_timeout(ms(5), move || {
            hub::with_timeout(ms(10), move || {
                hub::with_timeout(ms(15), move || {
                    // Two destructors, each waiting past every deadline.
                    let _a = sleeper(20, &d);
                    let _b = sleeper(20, &d);
                    panic!("inner failed")
                })
            })
        })
    }));
    let err = r.expect_err("the panic continues past all three");
    assert_eq!(panic_text(&*err), "inner failed");
    assert_eq!(done.get(), 2);
    assert_eq!(hub::parked_count(), 0);
    assert_eq!(
        hub::with_timeout(ms(5), || hub::sleep(ms(500))),
        Err(Elapsed)
    );
}

#[test]
fn killing_a_task_that_unwinds_waits_for_it_and_does_not_abort() {
    quiet();
    let done = Rc::new(Cell::new(0));
    let d = Rc::clone(&done);
    let task = hub::spawn(move || {
        let _s = sleeper(30, &d);
        panic!("task failed");
    });
    hub::sleep(ms(5)); // the task now sleeps in its destructor, unwinding
    assert!(!task.is_ready());
    task.kill();
    task.kill(); // twice
    task.kill(); // three times
    assert!(task.is_ready(), "kill returns once the task is dead");
    assert_eq!(done.get(), 1, "its destructor's sleep ran to its end");
    let err = task.get().expect_err("it panicked");
    assert_eq!(
        panic_text(&*err),
        "task failed",
        "it ends with the panic it was unwinding with"
    );
    assert_eq!(hub::parked_count(), 0);
}

#[test]
fn kills_from_several_tasks_at_once_of_a_task_that_unwinds_do_not_abort() {
    quiet();
    let done = Rc::new(Cell::new(0));
    let d = Rc::clone(&done);
    let victim = Rc::new(hub::spawn(move || {
        let _s = sleeper(30, &d);
        panic!("victim failed");
    }));
    hub::sleep(ms(5));
    let killers: Vec<_> = (0..3)
        .map(|_| {
            let v = Rc::clone(&victim);
            hub::spawn(move || v.kill())
        })
        .collect();
    assert_eq!(hub::join_all(&killers, Some(ms(5_000))), 3);
    assert!(victim.is_ready());
    assert_eq!(done.get(), 1);
    drop(killers);
    let victim = Rc::try_unwrap(victim).expect("the killers are gone");
    assert_eq!(panic_text(&*victim.get().unwrap_err()), "victim failed");
}

#[test]
fn a_killed_task_whose_destructor_waits_survives_a_second_kill() {
    quiet();
    let done = Rc::new(Cell::new(0));
    let d = Rc::clone(&done);
    let task = Rc::new(hub::spawn(move || {
        let _s = sleeper(30, &d);
        hub::sleep(ms(10_000));
    }));
    hub::sleep(ms(5));
    // The first kill unwinds it with GreenletExit into the destructor's
    // sleep; a second kill, from another task, arrives meanwhile.
    let t2 = Rc::clone(&task);
    let second = hub::spawn(move || {
        hub::sleep(ms(5));
        t2.kill();
    });
    task.kill();
    assert!(task.is_ready());
    assert_eq!(hub::join_all(&[second], Some(ms(5_000))), 1);
    assert_eq!(done.get(), 1);
    let task = Rc::try_unwrap(task).expect("the second killer is done");
    assert!(task.get().unwrap_err().is::<GreenletExit>());
    assert_eq!(hub::parked_count(), 0);
}

#[test]
fn a_kill_of_another_task_made_while_one_unwinds_is_delivered_afterwards() {
    quiet();
    let done = Rc::new(Cell::new(0));
    let d = Rc::clone(&done);
    let unwinding = hub::spawn(move || {
        let _s = sleeper(40, &d);
        panic!("first failed");
    });
    let looping = hub::spawn(|| {
        loop {
            hub::sleep(ms(1));
        }
    });
    hub::sleep(ms(5));
    // While `unwinding` waits in its destructor, the thread is panicking:
    // the kill of `looping` is deferred until that ends, then delivered.
    looping.kill();
    assert!(looping.is_ready());
    assert!(unwinding.is_ready(), "the deferred kill came after it");
    assert!(looping.get().unwrap_err().is::<GreenletExit>());
    assert_eq!(panic_text(&*unwinding.get().unwrap_err()), "first failed");
    assert_eq!(done.get(), 1);
    assert_eq!(hub::parked_count(), 0);
}

#[test]
fn a_wake_that_comes_between_a_deferred_kill_and_its_delivery_is_kept() {
    quiet();
    let done = Rc::new(Cell::new(0));
    let d = Rc::clone(&done);
    let unwinding = hub::spawn(move || {
        let _s = sleeper(30, &d);
        panic!("first failed");
    });
    let event = hub::sync::Event::new();
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    let (e, l) = (event.clone(), Rc::clone(&log));
    let waiter = hub::spawn(move || {
        let woken = e.wait(None);
        l.borrow_mut().push(format!("woken {woken}"));
        loop {
            hub::sleep(ms(1));
        }
    });
    hub::sleep(ms(5)); // `unwinding` sleeps in its destructor; `waiter` waits
    // Queued before the kill's interruption: sets the event after the kill
    // has interrupted the wait and before the waiter resumes.
    let e = event.clone();
    let setter = hub::spawn(move || e.set());
    // The kill is deferred (a greenlet unwinds): the wait goes on, and must
    // end by the set() that came meanwhile, not hang.
    waiter.kill();
    assert_eq!(*log.borrow(), ["woken true"]);
    assert!(waiter.get().unwrap_err().is::<GreenletExit>());
    assert!(setter.is_ready() && unwinding.is_ready());
    assert_eq!(hub::parked_count(), 0);
}

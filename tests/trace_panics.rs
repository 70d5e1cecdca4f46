//! A trace callback that panics (issue 16, item 5): it is removed, its
//! panic continues in the target of the traced switch, and no switch is
//! left half done: hub tasks all finish and every destructor runs, also
//! when the callback is installed again and again, and dropping a
//! suspended greenlet still kills it.

#[path = "common/counted.rs"]
mod counted;
#[path = "common/panic_text.rs"]
mod panic_text;
#[path = "common/quiet.rs"]
mod quiet;

use counted::Counted;
use greenlet::Greenlet;
use greenlet::GreenletExit;
use greenlet::hub;
use panic_text::panic_text;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

fn quiet() {
    quiet::quiet_panics(|p| panic_text(p).starts_with("trace callback failed"));
}

/// A callback that panics on its `n`-th call.
fn panics_on_call(n: u32) -> greenlet::TraceFn {
    let calls = Cell::new(0);
    Box::new(move |_, _, _| {
        calls.set(calls.get() + 1);
        if calls.get() == n {
            panic!("trace callback failed on call {n}");
        }
    })
}

#[test]
fn hub_tasks_all_finish_under_a_trace_callback_that_keeps_panicking() {
    quiet();
    std::thread::spawn(|| {
        let drops = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let guard = Counted(Rc::clone(&drops));
                hub::spawn(move || {
                    let _g = guard;
                    for _ in 0..5 {
                        hub::sleep(Duration::ZERO);
                    }
                    if i % 3 == 0 {
                        hub::sleep(Duration::from_millis(1));
                    }
                    i
                })
            })
            .collect();
        // Install a fresh panicking callback at every turn of main, while
        // the tasks switch: each panics at some switch of the hub's.
        for round in 0..60 {
            greenlet::settrace(Some(panics_on_call(1 + round % 7)));
            // main may get the panic itself (it is a target too)
            let _ = std::panic::catch_unwind(|| hub::sleep(Duration::ZERO));
        }
        greenlet::settrace(None);
        let finished = loop {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                hub::join_all(&tasks, Some(Duration::from_secs(10)))
            })) {
                Ok(n) => break n,
                Err(p) => assert!(panic_text(&*p).starts_with("trace callback failed")),
            }
        };
        assert_eq!(finished, 200, "every task finished");
        let mut ok = 0;
        for t in tasks {
            match t.get() {
                Ok(_) => ok += 1,
                // A callback that panics at a task's start kills it before
                // its body runs: it ends as killed before it started.
                Err(p) => assert!(
                    panic_text(&*p).starts_with("trace callback failed") || p.is::<GreenletExit>(),
                    "a task ends with its value, the callback's panic or GreenletExit, not {}",
                    panic_text(&*p)
                ),
            }
        }
        assert!(ok > 0);
        assert_eq!(drops.get(), 200, "every task's destructors ran");
        assert_eq!(hub::parked_count(), 0, "nothing left registered");
    })
    .join()
    .expect("the scenario's thread");
}

#[test]
fn dropping_a_suspended_greenlet_under_a_panicking_callback_kills_it() {
    quiet();
    std::thread::spawn(|| {
        let drops = Rc::new(Cell::new(0));
        let guard = Counted(Rc::clone(&drops));
        let g = Greenlet::new(move |()| {
            let _g = guard;
            Greenlet::main().switch::<(), ()>(());
        });
        g.switch::<(), ()>(());
        assert!(g.is_active());
        let watch = g.clone();
        greenlet::settrace(Some(panics_on_call(1)));
        // The kill's switch into g is traced: the callback panics in g, so
        // g unwinds with that panic instead of GreenletExit, and dies.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.kill()));
        greenlet::settrace(None);
        assert!(watch.is_dead(), "the greenlet died ({r:?})");
        assert_eq!(drops.get(), 1, "its destructors ran");
        drop(watch);
        // And plain drop of a suspended greenlet under a panicking callback.
        let drops2 = Rc::new(Cell::new(0));
        let guard = Counted(Rc::clone(&drops2));
        let g2 = Greenlet::new(move |()| {
            let _g = guard;
            Greenlet::main().switch::<(), ()>(());
        });
        g2.switch::<(), ()>(());
        greenlet::settrace(Some(panics_on_call(1)));
        drop(g2);
        greenlet::settrace(None);
        assert_eq!(
            drops2.get(),
            1,
            "dropping it killed it: its destructors ran"
        );
    })
    .join()
    .expect("the scenario's thread");
}

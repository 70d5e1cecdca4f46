//! Tracing (API.md §1, "Tracing"; src/greenlet/trace.rs): the callback runs
//! in the target after the switch, switching to oneself fires nothing, a
//! switch made from inside the callback is traced too (after the outer call
//! returns, in Python's order), a callback that panics is removed and its
//! panic continues in the target, and `settrace` from inside the callback
//! takes effect.
//!
//! Each test runs on its own thread (the harness's), and the callback is per
//! thread, so tests do not see each other's switches.

#[path = "common/quiet.rs"]
mod quiet;
use quiet::quiet_panics;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};
use std::rc::Rc;

use greenlet::{Event, Generator, GeneratorState, Greenlet, GreenletExit};

#[path = "common/counted.rs"]
mod counted;
use counted::Counted;

/// The payload of the panics these tests raise on purpose.
#[derive(Debug, PartialEq)]
struct Boom(u32);

/// The payload of a trace callback that panics on purpose.
#[derive(Debug, PartialEq)]
struct TracerBoom;

/// Keep the expected panics of this binary off stderr.
fn quiet() {
    quiet_panics(|p| p.is::<Boom>() || p.is::<TracerBoom>() || p.is::<GreenletExit>());
}

/// A name for the log: "main", the greenlet's name, or "?".
fn label(g: &Greenlet) -> String {
    if g.is_main() {
        "main".to_string()
    } else {
        g.name().unwrap_or("?").to_string()
    }
}

/// Recorded `(origin, target)` labels, borrowed for comparing with a list.
fn as_strs(traces: &[(String, String)]) -> Vec<(&str, &str)> {
    traces
        .iter()
        .map(|(o, t)| (o.as_str(), t.as_str()))
        .collect()
}

/// One traced switch: event, origin, target, and whether
/// `Greenlet::current()` was the target inside the callback.
type Record = (Event, String, String, bool);
type Log = Rc<RefCell<Vec<Record>>>;

fn recorder(log: &Log) -> greenlet::TraceFn {
    let log = log.clone();
    Box::new(move |event, origin, target| {
        let here = Greenlet::current() == *target;
        log.borrow_mut()
            .push((event, label(origin), label(target), here));
    })
}

fn rec(event: Event, origin: &str, target: &str) -> Record {
    (event, origin.to_string(), target.to_string(), true)
}

use Event::{Switch, Throw};

// ---------------------------------------------------------------------------
// Where the callback runs

#[test]
fn callback_runs_in_the_target_for_every_kind_of_switch() {
    quiet();
    let log: Log = Rc::default();
    assert!(greenlet::settrace(Some(recorder(&log))).is_none());

    // A first start, a plain switch each way, a death by return.
    let g = Greenlet::builder().name("g").create(|x: u32| {
        let y: u32 = Greenlet::main().switch(x + 1);
        y * 2
    });
    let a: u32 = g.switch(1u32);
    assert_eq!(a, 2);
    let b: u32 = g.switch(5u32);
    assert_eq!(b, 10);
    assert!(g.is_dead());

    // A death by return whose target is a parent other than main.
    let q = Greenlet::builder().name("q").create(|()| {
        let c = Greenlet::builder().name("c").create(|x: u32| x * 3);
        let r: u32 = c.switch(7u32);
        r + 1
    });
    let r: u32 = q.switch(());
    assert_eq!(r, 22);

    // A throw that is caught, then a kill.
    let t = Greenlet::builder().name("t").create(|()| {
        let caught = catch_unwind(|| {
            let () = Greenlet::main().switch(());
        });
        let boom = caught.unwrap_err().downcast::<Boom>().unwrap();
        let () = Greenlet::main().switch(boom.0);
        unreachable!("killed while suspended");
    });
    let () = t.switch(());
    let n: u32 = t.throw(Boom(4));
    assert_eq!(n, 4);
    t.kill();
    assert!(t.is_dead());

    // A death by panic.
    let h = Greenlet::builder()
        .name("h")
        .create(|()| -> () { panic_any(Boom(9)) });
    let p = catch_unwind(AssertUnwindSafe(|| {
        let () = h.switch(());
    }));
    assert_eq!(*p.unwrap_err().downcast::<Boom>().unwrap(), Boom(9));

    assert!(greenlet::settrace(None).is_some());
    assert_eq!(
        *log.borrow(),
        [
            rec(Switch, "main", "g"), // first start
            rec(Switch, "g", "main"), // plain switch
            rec(Switch, "main", "g"), // plain switch (resume)
            rec(Switch, "g", "main"), // death by return: target = parent
            rec(Switch, "main", "q"),
            rec(Switch, "q", "c"),
            rec(Switch, "c", "q"), // death by return to a parent that is not main
            rec(Switch, "q", "main"),
            rec(Switch, "main", "t"),
            rec(Switch, "t", "main"),
            rec(Throw, "main", "t"), // throw
            rec(Switch, "t", "main"),
            rec(Throw, "main", "t"),  // kill: GreenletExit thrown in
            rec(Switch, "t", "main"), // death by GreenletExit: a value
            rec(Switch, "main", "h"),
            rec(Throw, "h", "main"), // death by panic
        ]
    );
}

#[test]
fn switching_to_oneself_fires_nothing() {
    let log: Log = Rc::default();
    assert!(greenlet::settrace(Some(recorder(&log))).is_none());
    let main = Greenlet::current();
    let same: u32 = main.switch(3u32);
    assert_eq!(same, 3);
    assert!(log.borrow().is_empty(), "main to main: {:?}", log.borrow());

    let g = Greenlet::builder().name("g").create(|()| {
        let me = Greenlet::current();
        let x: u32 = me.switch(8u32);
        x
    });
    let x: u32 = g.switch(());
    assert_eq!(x, 8);
    assert!(greenlet::settrace(None).is_some());
    assert_eq!(
        *log.borrow(),
        [rec(Switch, "main", "g"), rec(Switch, "g", "main")],
        "g's switch to itself is not traced"
    );
}

// ---------------------------------------------------------------------------
// A switch made from inside the callback

/// python-greenlet's `fail_switch_two_greenlets.py`:
///
/// ```python
/// def tracefunc(*args):
///     print('TRACE', *args)
///     global switch_to_g2
///     if switch_to_g2:
///         switch_to_g2 = False
///         g2.switch()
///     print('\tLEAVE TRACE', *args)
///
/// def g1_run():
///     print('In g1_run')
///     global switch_to_g2
///     switch_to_g2 = True
///     greenlet.getcurrent().parent.switch()
///     print('Return to g1_run')
///     print('Falling off end of g1_run')
///
/// def g2_run():
///     g1.switch()
///     print('Falling off end of g2')
///
/// greenlet.settrace(tracefunc)
/// g1 = greenlet.greenlet(g1_run)
/// g2 = greenlet.greenlet(g2_run)
/// g1.switch()
/// print('Falling off end of main')
/// g2.switch()
/// ```
#[test]
fn switch_from_inside_the_callback_two_greenlets() {
    thread_local! {
        static SWITCH_TO_G2: Cell<bool> = const { Cell::new(false) };
        static G2: RefCell<Option<Greenlet>> = const { RefCell::new(None) };
    }
    let program: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let traces: Rc<RefCell<Vec<(String, String)>>> = Rc::default();
    // Where each call of the callback ran (see the end of the test).
    let ran_in: Rc<RefCell<Vec<String>>> = Rc::default();

    let (t, r) = (traces.clone(), ran_in.clone());
    let tracefunc: greenlet::TraceFn = Box::new(move |event, origin, target| {
        assert_eq!(event, Switch);
        t.borrow_mut().push((label(origin), label(target)));
        r.borrow_mut().push(label(&Greenlet::current()));
        if SWITCH_TO_G2.with(|f| f.replace(false)) {
            let g2 = G2.with(|g| g.borrow().clone().unwrap());
            let () = g2.switch(());
        }
    });
    assert!(greenlet::settrace(Some(tracefunc)).is_none());

    let p = program.clone();
    let g1 = Greenlet::builder().name("g1").create(move |()| {
        p.borrow_mut().push("In g1_run");
        SWITCH_TO_G2.with(|f| f.set(true));
        let () = Greenlet::current().parent().unwrap().switch(());
        p.borrow_mut().push("Return to g1_run");
        p.borrow_mut().push("Falling off end of g1_run");
    });
    let (p, g1c) = (program.clone(), g1.clone());
    let g2 = Greenlet::builder().name("g2").create(move |()| {
        let () = g1c.switch(());
        p.borrow_mut().push("Falling off end of g2");
    });
    G2.with(|g| *g.borrow_mut() = Some(g2.clone()));

    let () = g1.switch(());
    program.borrow_mut().push("Falling off end of main");
    let () = g2.switch(());

    assert!(greenlet::settrace(None).is_some());
    G2.with(|g| g.borrow_mut().take());
    assert!(g1.is_dead() && g2.is_dead());

    assert_eq!(
        *program.borrow(),
        [
            "In g1_run",
            "Return to g1_run",
            "Falling off end of g1_run",
            "Falling off end of main",
            "Falling off end of g2",
        ]
    );
    // What Python records (each callback call appends first, in the target
    // right after the switch):
    //  1. main: g1.switch()           -> (main, g1), in g1; flag unset.
    //     g1 prints, sets the flag, switches to its parent.
    //  2. g1 -> main                  -> (g1, main), in main; flag set: the
    //     callback clears it and switches to g2 (nested, from main).
    //  3. main -> g2 (first start)    -> (main, g2); g2 switches to g1.
    //  4. g2 -> g1                    -> (g2, g1); g1 resumes, prints, dies.
    //  5. g1's death -> parent main   -> (g1, main): main resumes inside the
    //     callback of step 2, which returns; main's g1.switch() returns and
    //     main prints 'Falling off end of main', then g2.switch().
    //  6. main -> g2                  -> (main, g2); g2 prints and dies.
    //  7. g2's death -> parent main   -> (g2, main).
    let traces = traces.borrow();
    let pairs = as_strs(&traces);
    assert_eq!(
        pairs,
        [
            ("main", "g1"),
            ("g1", "main"),
            ("main", "g2"),
            ("g2", "g1"),
            ("g1", "main"),
            ("main", "g2"),
            ("g2", "main"),
        ]
    );
    // The calls for 3-5, switches made while the callback of step 2 was
    // out, are made after it returned, in main (trace.rs: "Greenlet::current()
    // in a delayed call is the greenlet the outer call ran in"); the others
    // run in their target.
    assert_eq!(
        *ran_in.borrow(),
        ["g1", "main", "main", "main", "main", "g2", "main"]
    );
}

/// A three-greenlet variant: while the callback (in main) is out, its
/// switch to g2 sets off a chain g2 -> g3 -> g1, and g1's death comes back
/// into the callback; values travel normally throughout.
#[test]
fn switch_from_inside_the_callback_three_greenlets() {
    thread_local! {
        static ARMED: Cell<bool> = const { Cell::new(false) };
        static G2: RefCell<Option<Greenlet>> = const { RefCell::new(None) };
    }
    let program: Rc<RefCell<Vec<String>>> = Rc::default();
    let traces: Rc<RefCell<Vec<(String, String)>>> = Rc::default();

    let (t, p) = (traces.clone(), program.clone());
    let tracefunc: greenlet::TraceFn = Box::new(move |_event, origin, target| {
        t.borrow_mut().push((label(origin), label(target)));
        if ARMED.with(|f| f.replace(false)) {
            let g2 = G2.with(|g| g.borrow().clone().unwrap());
            let got: &'static str = g2.switch("to g2 from tracefunc");
            p.borrow_mut().push(format!("tracefunc got {got}"));
        }
    });
    assert!(greenlet::settrace(Some(tracefunc)).is_none());

    let slots: Rc<RefCell<Vec<Greenlet>>> = Rc::default();
    let p = program.clone();
    let g1 = Greenlet::builder()
        .name("g1")
        .create(move |arg: &'static str| {
            p.borrow_mut().push(format!("g1 start {arg}"));
            ARMED.with(|f| f.set(true));
            let back: &'static str = Greenlet::main().switch("from g1");
            p.borrow_mut().push(format!("g1 back {back}"));
            "g1 done" // to its parent, main: resumes the tracefunc's switch
        });
    let (p, s) = (program.clone(), slots.clone());
    let g2 = Greenlet::builder()
        .name("g2")
        .create(move |arg: &'static str| {
            p.borrow_mut().push(format!("g2 start {arg}"));
            let g3 = s.borrow()[1].clone();
            let back: &'static str = g3.switch("to g3 from g2");
            p.borrow_mut().push(format!("g2 back {back}"));
            "g2 done"
        });
    let (p, s) = (program.clone(), slots.clone());
    let g3 = Greenlet::builder()
        .name("g3")
        .create(move |arg: &'static str| {
            p.borrow_mut().push(format!("g3 start {arg}"));
            let g1 = s.borrow()[0].clone();
            let back: &'static str = g1.switch("to g1 from g3");
            p.borrow_mut().push(format!("g3 back {back}"));
            "g3 done"
        });
    slots.borrow_mut().extend([g1.clone(), g3.clone()]);
    G2.with(|g| *g.borrow_mut() = Some(g2.clone()));

    let x: &'static str = g1.switch("from main");
    program.borrow_mut().push(format!("main after g1: {x}"));
    let x: &'static str = g3.switch("g3 from main");
    program.borrow_mut().push(format!("main after g3: {x}"));
    let x: &'static str = g2.switch("g2 from main");
    program.borrow_mut().push(format!("main after g2: {x}"));

    assert!(greenlet::settrace(None).is_some());
    G2.with(|g| g.borrow_mut().take());
    slots.borrow_mut().clear();
    assert!(g1.is_dead() && g2.is_dead() && g3.is_dead());

    // 1. main -> g1 (start): g1 arms the flag and switches to main.
    // 2. g1 -> main: the callback (in main) switches to g2, which starts,
    // 3.   switches to g3 (start), which switches to g1, which resumes and
    // 4.   returns "g1 done" to main: main resumes in the callback, whose
    //      switch returns "g1 done"; the callback returns and main's
    //      g1.switch() gets g1's "from g1".
    // 5. main -> g3: g3 resumes, returns "g3 done" to main.
    // 6. main -> g2: g2 resumes, returns "g2 done" to main.
    assert_eq!(
        *program.borrow(),
        [
            "g1 start from main",
            "g2 start to g2 from tracefunc",
            "g3 start to g3 from g2",
            "g1 back to g1 from g3",
            "tracefunc got g1 done",
            "main after g1: from g1",
            "g3 back g3 from main",
            "main after g3: g3 done",
            "g2 back g2 from main",
            "main after g2: g2 done",
        ]
    );
    let traces = traces.borrow();
    let pairs = as_strs(&traces);
    // In Python each switch is traced in its target at once; here those made
    // while the callback was out come after it returns, in the same order.
    assert_eq!(
        pairs,
        [
            ("main", "g1"),
            ("g1", "main"),
            ("main", "g2"), // the callback's own switch
            ("g2", "g3"),
            ("g3", "g1"),
            ("g1", "main"), // g1's death, back into the callback
            ("main", "g3"),
            ("g3", "main"),
            ("main", "g2"),
            ("g2", "main"),
        ]
    );
}

// ---------------------------------------------------------------------------
// A callback that panics

/// The callback panics when it is called for a switch into `g`: the panic
/// comes out of g's pending switch, in g; g does not catch it, dies, and the
/// panic reaches main. The callback is removed.
#[test]
fn panicking_callback_is_removed_and_its_panic_unwinds_the_target() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let g = Greenlet::builder().name("g").create(move |()| {
        let _guard = Counted(d);
        let () = Greenlet::main().switch(());
        unreachable!("the tracer's panic unwinds this switch");
    });
    let () = g.switch(());

    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    assert!(
        greenlet::settrace(Some(Box::new(move |_, _, target| {
            c.set(c.get() + 1);
            if target.name() == Some("g") {
                panic_any(TracerBoom);
            }
        })))
        .is_none()
    );
    let p = catch_unwind(AssertUnwindSafe(|| {
        let () = g.switch(());
    }));
    assert!(
        p.unwrap_err().is::<TracerBoom>(),
        "the tracer's panic reaches main"
    );
    assert!(g.is_dead(), "g died of the panic");
    assert_eq!(drops.get(), 1, "g's stack was unwound");
    assert_eq!(calls.get(), 1, "called once, then removed");

    assert!(
        greenlet::settrace(None).is_none(),
        "the panicking callback was removed"
    );
    let k = Greenlet::builder().name("g").create(|x: u32| x + 1);
    let two: u32 = k.switch(1u32);
    assert_eq!(two, 2);
    assert_eq!(calls.get(), 1, "later switches are not traced");
}

/// The same, with g catching the panic: it proves the panic is raised from
/// g's pending switch, in g, and that the switch has happened.
#[test]
fn panicking_callback_panic_can_be_caught_in_the_target() {
    quiet();
    let g = Greenlet::builder().name("g").create(|()| {
        let caught = catch_unwind(|| {
            let () = Greenlet::main().switch(());
        });
        let was_tracer = caught.is_err_and(|p| p.is::<TracerBoom>());
        let () = Greenlet::main().switch(was_tracer);
    });
    let () = g.switch(());
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    assert!(
        greenlet::settrace(Some(Box::new(move |_, _, _| {
            c.set(c.get() + 1);
            panic_any(TracerBoom);
        })))
        .is_none()
    );
    let was_tracer: bool = g.switch(());
    assert!(was_tracer, "g's pending switch raised the tracer's panic");
    assert_eq!(calls.get(), 1);
    assert!(greenlet::settrace(None).is_none());
    let () = g.switch(());
    assert!(g.is_dead());
    assert_eq!(calls.get(), 1);
}

// ---------------------------------------------------------------------------
// settrace from inside the callback

#[test]
fn settrace_inside_the_callback_replaces_it() {
    let first = Rc::new(Cell::new(0));
    let second: Log = Rc::default();
    let dropped = Rc::new(Cell::new(0));
    let (f, s, guard) = (first.clone(), second.clone(), Counted(dropped.clone()));
    assert!(
        greenlet::settrace(Some(Box::new(move |_, _, _| {
            let _keep = &guard;
            f.set(f.get() + 1);
            let previous = greenlet::settrace(Some(recorder(&s)));
            assert!(
                previous.is_none(),
                "the running callback is not installed while it runs"
            );
        })))
        .is_none()
    );
    let g = Greenlet::builder().name("g").create(|x: u32| {
        let y: u32 = Greenlet::main().switch(x);
        y
    });
    let _: u32 = g.switch(1u32); // first callback: replaces itself
    assert_eq!(first.get(), 1);
    assert_eq!(dropped.get(), 1, "the replaced callback is dropped");
    let _: u32 = g.switch(2u32);
    assert_eq!(first.get(), 1, "the replaced callback is not called again");
    assert!(
        greenlet::settrace(None).is_some(),
        "the replacement is installed"
    );
    assert_eq!(
        *second.borrow(),
        [
            rec(Switch, "g", "main"), // g's first switch back
            rec(Switch, "main", "g"),
            rec(Switch, "g", "main"),
        ],
        "the replacement traces every switch after the replacing call"
    );
}

#[test]
fn settrace_none_inside_the_callback_removes_it() {
    let calls = Rc::new(Cell::new(0));
    let dropped = Rc::new(Cell::new(0));
    let (c, guard) = (calls.clone(), Counted(dropped.clone()));
    assert!(
        greenlet::settrace(Some(Box::new(move |_, _, _| {
            let _keep = &guard;
            c.set(c.get() + 1);
            assert!(greenlet::settrace(None).is_none());
        })))
        .is_none()
    );
    let g = Greenlet::new(|x: u32| x + 1);
    let two: u32 = g.switch(1u32);
    assert_eq!(two, 2);
    assert_eq!(calls.get(), 1, "called for the first switch only");
    assert_eq!(dropped.get(), 1, "the removed callback is dropped");
    assert!(greenlet::settrace(None).is_none(), "nothing is installed");
    let g = Greenlet::new(|x: u32| x + 1);
    let _: u32 = g.switch(1u32);
    assert_eq!(calls.get(), 1);
}

// ---------------------------------------------------------------------------
// Generators

/// Tracing sees a generator's resume and suspend switches (the typed fast
/// path takes the traced slow path), with the generator's greenlet as
/// target and origin.
#[test]
fn tracing_sees_generator_resume_and_suspend() {
    type HandleLog = Rc<RefCell<Vec<(Event, Greenlet, Greenlet, bool)>>>;
    let log: HandleLog = Rc::default();
    let l = log.clone();
    let body_greenlet: Rc<RefCell<Option<Greenlet>>> = Rc::default();
    let b = body_greenlet.clone();
    let mut gen_: Generator<u32, u32, u32> = Generator::new(move |y, first| {
        *b.borrow_mut() = Some(Greenlet::current());
        let second = y.suspend(first + 1);
        let third = y.suspend(second + 1);
        third + 100
    });
    assert!(
        greenlet::settrace(Some(Box::new(move |e, o, t| {
            let here = Greenlet::current() == *t;
            l.borrow_mut().push((e, o.clone(), t.clone(), here));
        })))
        .is_none()
    );
    assert_eq!(gen_.resume(1), GeneratorState::Yielded(2));
    assert_eq!(gen_.resume(5), GeneratorState::Yielded(6));
    assert_eq!(gen_.resume(7), GeneratorState::Complete(107));
    assert!(greenlet::settrace(None).is_some());

    let main = Greenlet::main();
    let gg = body_greenlet.borrow_mut().take().unwrap();
    assert_ne!(gg, main);
    let expected = [
        (Switch, main.clone(), gg.clone(), true), // first resume
        (Switch, gg.clone(), main.clone(), true), // suspend
        (Switch, main.clone(), gg.clone(), true), // resume (typed)
        (Switch, gg.clone(), main.clone(), true), // suspend
        (Switch, main.clone(), gg.clone(), true), // resume
        (Switch, gg.clone(), main.clone(), true), // return
    ];
    assert_eq!(*log.borrow(), expected);
    log.borrow_mut().clear();
}

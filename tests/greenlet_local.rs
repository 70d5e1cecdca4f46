//! `Local<T>` (API.md §1b, §3b; src/greenlet/local.rs): made by `init` on
//! the first access from each greenlet, one value per greenlet, not
//! inherited, dropped when its greenlet dies (main's at thread exit), and the
//! misuse panics (`with` from `init`, `with` from a destructor of a value
//! being dropped, a panicking `init`).
//!
//! Counters that `init` functions (plain `fn`s) must reach are thread-locals:
//! each test runs on its own thread. Each test has its own `static Local`.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use greenlet::{Generator, GeneratorState, Greenlet, GreenletExit, Local};

#[path = "common/quiet.rs"]
mod quiet;
use quiet::quiet_panics;
#[path = "common/panic_text.rs"]
mod panic_text;
use panic_text::panic_text;

#[derive(Debug, PartialEq)]
struct Boom(u32);

fn quiet() {
    quiet_panics(|p| {
        p.is::<Boom>()
            || p.is::<GreenletExit>()
            || panic_text(p).starts_with("greenlet::Local::with called")
    });
}

thread_local! {
    static INITS: Cell<u32> = const { Cell::new(0) };
    static DROPS: Cell<u32> = const { Cell::new(0) };
}

fn inits() -> u32 {
    INITS.with(Cell::get)
}

fn drops() -> u32 {
    DROPS.with(Cell::get)
}

/// A value that counts its drops in `DROPS` (a thread-local, so it must be
/// dropped on the thread that made it).
struct Tracked(Cell<u32>);

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn new_tracked() -> Tracked {
    INITS.with(|i| i.set(i.get() + 1));
    Tracked(Cell::new(0))
}

fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn std::any::Any + Send>> {
    catch_unwind(AssertUnwindSafe(f))
}

// ---------------------------------------------------------------------------
// init, isolation, inheritance

#[test]
fn first_access_calls_init_once_per_greenlet() {
    static L: Local<Tracked> = Local::new(new_tracked);
    assert_eq!(inits(), 0, "nothing is made before the first access");
    L.with(|v| v.0.set(5));
    assert_eq!(inits(), 1);
    assert_eq!(L.with(|v| v.0.get()), 5, "the same value on later accesses");
    assert_eq!(inits(), 1, "init ran once in main");
    let g = Greenlet::new(|()| {
        L.with(|v| v.0.set(v.0.get() + 1));
        L.with(|v| v.0.get())
    });
    assert_eq!(g.switch::<(), u32>(()), 1);
    assert_eq!(inits(), 2, "init ran once in g");
    assert_eq!(drops(), 1, "g's value dropped at its death");
    assert_eq!(L.with(|v| v.0.get()), 5);
}

#[test]
fn each_greenlet_sees_its_own_value() {
    static L: Local<Cell<u32>> = Local::new(|| Cell::new(0));
    L.with(|v| v.set(1));
    let make = |n: u32| {
        Greenlet::new(move |()| {
            L.with(|v| v.set(n));
            loop {
                let () = Greenlet::main().switch(L.with(Cell::get));
                L.with(|v| v.set(v.get() + 100));
            }
        })
    };
    let (a, b) = (make(2), make(3));
    assert_eq!(a.switch::<(), u32>(()), 2);
    assert_eq!(b.switch::<(), u32>(()), 3);
    assert_eq!(L.with(Cell::get), 1, "main's own");
    assert_eq!(a.switch::<(), u32>(()), 102);
    assert_eq!(b.switch::<(), u32>(()), 103);
    assert_eq!(a.switch::<(), u32>(()), 202);
    assert_eq!(L.with(Cell::get), 1);
}

#[test]
fn a_new_greenlet_does_not_inherit_its_creators_value() {
    static L: Local<Cell<u32>> = Local::new(|| Cell::new(0));
    L.with(|v| v.set(7));
    let outer = Greenlet::new(|()| {
        let inherited = L.with(Cell::get);
        L.with(|v| v.set(8));
        let inner = Greenlet::new(|()| L.with(Cell::get)); // created by outer
        let inner_saw: u32 = inner.switch(());
        (inherited, inner_saw, L.with(Cell::get))
    });
    let (inherited, inner_saw, outer_after): (u32, u32, u32) = outer.switch(());
    assert_eq!(inherited, 0, "not main's 7");
    assert_eq!(inner_saw, 0, "not its creator's 8");
    assert_eq!(outer_after, 8);
    assert_eq!(L.with(Cell::get), 7);
}

#[test]
fn a_hub_task_does_not_inherit_and_sees_its_own_value() {
    static L: Local<Cell<u32>> = Local::new(|| Cell::new(0));
    L.with(|v| v.set(7));
    let a = greenlet::hub::spawn(|| {
        let first = L.with(Cell::get);
        L.with(|v| v.set(11));
        greenlet::hub::sleep(std::time::Duration::ZERO); // b runs meanwhile
        (first, L.with(Cell::get))
    });
    let b = greenlet::hub::spawn(|| {
        let first = L.with(Cell::get);
        L.with(|v| v.set(22));
        greenlet::hub::sleep(std::time::Duration::ZERO);
        (first, L.with(Cell::get))
    });
    assert_eq!(a.get().unwrap(), (0, 11));
    assert_eq!(b.get().unwrap(), (0, 22));
    assert_eq!(L.with(Cell::get), 7, "main's value is untouched");
}

/// API.md §3b: "A generator sees the values of the greenlet that resumed
/// it, as a Python generator runs in its greenlet's context."
#[test]
fn a_generator_body_sees_the_values_of_its_resumer() {
    static L: Local<Cell<u32>> = Local::new(|| Cell::new(0));
    L.with(|v| v.set(7));
    let generator: Rc<RefCell<Generator<(), u32>>> =
        Rc::new(RefCell::new(Generator::new(|y, ()| {
            loop {
                y.suspend(L.with(Cell::get));
            }
        })));
    let seen_by_main = generator.borrow_mut().resume(());
    assert_eq!(seen_by_main, GeneratorState::Yielded(7), "main's value");
    let gen2 = generator.clone();
    let g = Greenlet::new(move |()| {
        L.with(|v| v.set(42));
        gen2.borrow_mut().resume(())
    });
    let seen_by_g: GeneratorState<u32, ()> = g.switch(());
    assert_eq!(seen_by_g, GeneratorState::Yielded(42), "g's value");
    assert_eq!(L.with(Cell::get), 7);
}

// ---------------------------------------------------------------------------
// Drop

#[test]
fn the_value_is_dropped_when_its_greenlet_returns() {
    static L: Local<Tracked> = Local::new(new_tracked);
    let g = Greenlet::new(|()| {
        L.with(|_| ());
        let () = Greenlet::main().switch(());
    });
    let () = g.switch(());
    assert_eq!((inits(), drops()), (1, 0), "alive while g is suspended");
    let () = g.switch(());
    assert!(g.is_dead());
    assert_eq!(drops(), 1, "dropped when g returned");
}

#[test]
fn the_value_is_dropped_when_its_greenlet_panics() {
    quiet();
    static L: Local<Tracked> = Local::new(new_tracked);
    let g = Greenlet::new(|()| {
        L.with(|_| ());
        panic_any(Boom(3));
    });
    let p = catch(|| {
        let () = g.switch(());
    });
    assert!(p.unwrap_err().is::<Boom>());
    assert_eq!((inits(), drops()), (1, 1));
}

#[test]
fn the_value_is_dropped_when_its_greenlet_is_killed() {
    quiet();
    static L: Local<Tracked> = Local::new(new_tracked);
    let g = Greenlet::new(|()| {
        L.with(|_| ());
        let () = Greenlet::main().switch(());
    });
    let () = g.switch(());
    g.kill();
    assert_eq!((inits(), drops()), (1, 1), "by kill");

    let g = Greenlet::new(|()| {
        L.with(|_| ());
        let () = Greenlet::main().switch(());
    });
    let () = g.switch(());
    assert_eq!(drops(), 1);
    drop(g); // the last handle: killed
    assert_eq!((inits(), drops()), (2, 2), "by dropping the last handle");
}

#[test]
fn mains_value_is_dropped_at_thread_exit() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Flag;
    impl Drop for Flag {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    static L: Local<Flag> = Local::new(|| Flag);
    std::thread::spawn(|| {
        L.with(|_| ());
        assert_eq!(DROPPED.load(Ordering::SeqCst), 0);
    })
    .join()
    .unwrap();
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        1,
        "main's value dropped when its thread exited"
    );
}

// ---------------------------------------------------------------------------
// Misuse

#[test]
fn with_from_its_own_init_panics_and_leaves_no_value() {
    quiet();
    thread_local! {
        static REENTER: Cell<bool> = const { Cell::new(true) };
    }
    static L: Local<u32> = Local::new(|| {
        INITS.with(|i| i.set(i.get() + 1));
        if REENTER.with(|r| r.replace(false)) {
            L.with(|v| *v) // from its own init
        } else {
            9
        }
    });
    let p = catch(|| L.with(|v| *v));
    let text = panic_text(&*p.unwrap_err());
    assert!(
        text.contains("greenlet::Local::with called from its own init"),
        "a clear message: {text}"
    );
    assert_eq!(inits(), 1);
    assert_eq!(L.with(|v| *v), 9, "no value was left: init runs again");
    assert_eq!(inits(), 2);
}

#[test]
fn a_panicking_init_leaves_no_value() {
    quiet();
    static L: Local<u32> = Local::new(|| {
        INITS.with(|i| i.set(i.get() + 1));
        if INITS.with(Cell::get) == 1 {
            panic_any(Boom(1));
        }
        5
    });
    let p = catch(|| L.with(|v| *v));
    assert!(p.unwrap_err().is::<Boom>());
    assert_eq!(L.with(|v| *v), 5, "the next with calls init again");
    assert_eq!(inits(), 2);
    assert_eq!(L.with(|v| *v), 5);
    assert_eq!(inits(), 2);
}

thread_local! {
    static FROM_DROP: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Calls `with` on another Local from its destructor, and records the
/// message of the panic it gets.
struct CallsWithOnDrop;

impl Drop for CallsWithOnDrop {
    fn drop(&mut self) {
        static OTHER: Local<u32> = Local::new(|| 1);
        let r = catch(|| OTHER.with(|v| *v));
        let text = match r {
            Ok(v) => format!("no panic: {v}"),
            Err(p) => panic_text(&*p),
        };
        FROM_DROP.with(|f| f.borrow_mut().push(text));
    }
}

/// Lets the panic of `with` escape its destructor.
struct EscapesOnDrop;

impl Drop for EscapesOnDrop {
    fn drop(&mut self) {
        static OTHER: Local<u32> = Local::new(|| 1);
        FROM_DROP.with(|f| f.borrow_mut().push("escaping".to_string()));
        OTHER.with(|v| *v);
        FROM_DROP.with(|f| f.borrow_mut().push("not reached".to_string()));
    }
}

#[test]
fn with_from_a_destructor_while_the_greenlet_dies_panics_and_is_reported() {
    quiet();
    static A: Local<Tracked> = Local::new(new_tracked);
    static B: Local<CallsWithOnDrop> = Local::new(|| CallsWithOnDrop);
    static C: Local<EscapesOnDrop> = Local::new(|| EscapesOnDrop);
    static D: Local<Tracked> = Local::new(new_tracked);
    let g = Greenlet::new(|()| {
        A.with(|_| ());
        B.with(|_| ());
        C.with(|_| ());
        D.with(|_| ());
        "g's result"
    });
    let r: &str = g.switch(());
    assert_eq!(r, "g's result", "the greenlet still dies normally");
    assert!(g.is_dead());
    assert_eq!(drops(), 2, "the other locals (before and after) still drop");
    let from_drop = FROM_DROP.with(|f| f.borrow().clone());
    assert_eq!(from_drop.len(), 2, "{from_drop:?}");
    assert!(from_drop.contains(&"escaping".to_string()));
    let message = from_drop.iter().find(|m| *m != "escaping").unwrap();
    assert!(
        message.contains(
            "greenlet::Local::with called while this greenlet's locals are being dropped"
        ),
        "a clear message: {message}"
    );
    // This thread's greenlets go on working.
    let h = Greenlet::new(|()| A.with(|v| v.0.get() + 1));
    assert_eq!(h.switch::<(), u32>(()), 1);
}

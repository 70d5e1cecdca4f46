//! Ownership (src/greenlet/inner.rs, "Ownership"): a running greenlet that
//! drops its own last handle, iterative freeing of a long chain of dead
//! parents, dropping an unstarted greenlet; the per-thread panic state
//! (API.md §1, "Panic state is per thread"); and misuse panics located at
//! the caller (`#[track_caller]`).

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, catch_unwind, panic_any};
use std::rc::Rc;
use std::sync::{Mutex, Once};

use greenlet::{Generator, GeneratorState, Greenlet, GreenletExit};

#[path = "common/counted.rs"]
mod counted;
#[path = "common/panic_text.rs"]
mod panic_text;
use counted::Counted;
use panic_text::panic_text;

#[derive(Debug, PartialEq)]
struct Boom(u32);

thread_local! {
    /// Set while a test captures the location of the next panic on this
    /// thread (see `panic_location`).
    static CAPTURE: RefCell<Option<Option<(String, u32, String)>>> = const { RefCell::new(None) };
}

/// Keep the expected panics off stderr, and record the location of a panic
/// on a thread that asked for it.
fn hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE
                .try_with(|c| {
                    let mut c = c.borrow_mut();
                    match c.as_mut() {
                        Some(slot @ None) => {
                            let loc = info.location().unwrap();
                            *slot = Some((
                                loc.file().to_string(),
                                loc.line(),
                                panic_text(info.payload()),
                            ));
                            true
                        }
                        _ => false,
                    }
                })
                .unwrap_or(false);
            let p = info.payload();
            if captured || p.is::<Boom>() || p.is::<GreenletExit>() {
                return;
            }
            previous(info);
        }));
    });
}

/// Run `f`, which must panic; return the file, line and message of its
/// panic as the panic hook saw them.
fn panic_location(f: impl FnOnce()) -> (String, u32, String) {
    hook();
    CAPTURE.with(|c| *c.borrow_mut() = Some(None));
    let r = catch_unwind(AssertUnwindSafe(f));
    let got = CAPTURE.with(|c| c.borrow_mut().take()).flatten();
    assert!(r.is_err(), "expected a panic");
    got.expect("the hook saw the panic")
}

fn counter() -> Rc<Cell<u32>> {
    Rc::new(Cell::new(0))
}

// ---------------------------------------------------------------------------
// A running greenlet that drops its own last handle

/// Set up `g`, suspended, whose only handle is in `slot`, and a dead child
/// `d` of g that main holds: `d.switch(..)` goes to g (its nearest live
/// ancestor) without anyone holding a handle of g across the switch. `d_slot`
/// lets g reparent `d` to main, giving back d's count of g, so that g's
/// handle in `slot` is its last count.
///
/// `rest` runs in g after it has dropped its own last handle.
fn greenlet_that_drops_its_own_last_handle<R: 'static>(
    drops: &Rc<Cell<u32>>,
    log: &Rc<RefCell<Vec<&'static str>>>,
    rest: impl FnOnce() -> R + 'static,
) -> Greenlet {
    let slot: Rc<RefCell<Option<Greenlet>>> = Rc::default();
    let d_slot: Rc<RefCell<Option<Greenlet>>> = Rc::default();
    let (drops, log) = (drops.clone(), log.clone());
    let (s, ds) = (slot.clone(), d_slot.clone());
    let g = Greenlet::new(move |()| {
        let _guard = Counted(drops.clone());
        let d = Greenlet::new(|()| ()); // parent: g
        let () = d.switch(()); // d dies at once, back to g
        *ds.borrow_mut() = Some(d.clone());
        // Hand d to main; main moves our handle into the slot and switches
        // to d, which lands here.
        let () = Greenlet::main().switch((d, s.clone()));
        let d = ds.borrow_mut().take().unwrap();
        d.set_parent(&Greenlet::main()).unwrap(); // d's count of g is gone
        drop(d);
        log.borrow_mut().push("dropping own last handle");
        drop(s.borrow_mut().take()); // the last count of g
        assert_eq!(drops.get(), 0, "still running: nothing unwound");
        log.borrow_mut().push("still running");
        rest()
    });
    let (d, slot): (Greenlet, Rc<RefCell<Option<Greenlet>>>) = g.switch(());
    *slot.borrow_mut() = Some(g); // main keeps no handle of g
    d
}

#[test]
fn running_greenlet_dropping_its_last_handle_is_killed_after_it_switches_away() {
    hook();
    let drops = counter();
    let log: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let l = log.clone();
    let dr = drops.clone();
    let d = greenlet_that_drops_its_own_last_handle(&drops, &log, move || {
        l.borrow_mut().push("switching away");
        // Switch away: once the switch has happened, the deferred count is
        // dropped by main, which kills us (the guard's destructor runs).
        let () = Greenlet::main().switch(41u32);
        // Only reached if the kill did not happen (or happened here, too
        // early, in which case this unwinds instead).
        dr.set(dr.get() + 100);
    });
    let r: u32 = d.switch(());
    assert_eq!(r, 41, "g's value reached main");
    assert_eq!(
        drops.get(),
        1,
        "g was killed once it had switched away: its destructors ran, once"
    );
    assert_eq!(
        *log.borrow(),
        [
            "dropping own last handle",
            "still running",
            "switching away"
        ]
    );
}

#[test]
fn running_greenlet_dropping_its_last_handle_then_returning_is_freed() {
    let drops = counter();
    let log: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let l = log.clone();
    let d = greenlet_that_drops_its_own_last_handle(&drops, &log, move || {
        l.borrow_mut().push("returning");
        String::from("result")
    });
    // g's parent is main: its result comes back out of this switch.
    let r: String = d.switch(());
    assert_eq!(r, "result");
    assert_eq!(drops.get(), 1, "g's stack unwound once, by its return");
    assert_eq!(
        *log.borrow(),
        ["dropping own last handle", "still running", "returning"]
    );
    // The thread goes on switching normally.
    let g = Greenlet::new(|x: u32| x * 2);
    assert_eq!(g.switch::<u32, u32>(21), 42);
}

// ---------------------------------------------------------------------------
// A long chain of dead parents

/// 200,000 dead greenlets, each the parent of the next, dropped from the last
/// handle: freeing walks up the chain in a loop. Run on a thread with a
/// 256 KiB stack, so that freeing by recursion (a few dozen bytes of frame
/// per level at least) would overflow it.
///
/// Each greenlet is run and then killed rather than left to return: a
/// return goes to the nearest *live* ancestor, which would walk the whole
/// dead chain above it (quadratic over the chain), while `kill` makes the
/// killer its parent for the duration (and restores `prev` afterwards).
#[test]
fn dropping_a_long_chain_of_dead_parents_does_not_overflow() {
    const N: usize = 200_000;
    let t = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let ran = Rc::new(Cell::new(0usize));
            let mut prev = Greenlet::current();
            for _ in 0..N {
                let r = ran.clone();
                let g = Greenlet::builder().parent(&prev).create(move |()| {
                    r.set(r.get() + 1);
                    let () = Greenlet::main().switch(());
                });
                let () = g.switch(());
                g.kill();
                assert!(g.is_dead());
                assert_eq!(g.parent().as_ref(), Some(&prev));
                prev = g; // the previous handle goes; g's parent count keeps it
            }
            assert_eq!(ran.get(), N);
            drop(prev);
            // Still usable afterwards.
            let g = Greenlet::new(|x: u32| x + 1);
            g.switch::<u32, u32>(1)
        })
        .unwrap();
    assert_eq!(t.join().expect("no stack overflow"), 2);
}

// ---------------------------------------------------------------------------
// Unstarted greenlets

#[test]
fn dropping_an_unstarted_greenlet_drops_its_captures_without_running_it() {
    let drops = counter();
    let ran = Rc::new(Cell::new(false));
    let (c, r) = (Counted(drops.clone()), ran.clone());
    let g = Greenlet::new(move |()| {
        let _c = &c;
        r.set(true);
    });
    assert_eq!(drops.get(), 0);
    drop(g);
    assert_eq!(drops.get(), 1, "the closure's capture was dropped once");
    assert!(!ran.get(), "the closure never ran");

    // A closure too big to sit on its own stack is boxed: same rule.
    let (c, r) = (Counted(drops.clone()), ran.clone());
    // (Bodies above an eighth of the stack are boxed: 48 KiB on 256 KiB.)
    let big = [7u8; 48 * 1024];
    let g = Greenlet::builder()
        .stack_size(256 * 1024)
        .create(move |()| {
            let _c = &c;
            r.set(big[0] == 7);
        });
    drop(g);
    assert_eq!(drops.get(), 2);
    assert!(!ran.get());

    // Also when the parent it would have returned to is gone.
    let (c, r) = (Counted(drops.clone()), ran.clone());
    let parent = Greenlet::new(|()| ());
    let g = Greenlet::builder().parent(&parent).create(move |()| {
        let _c = &c;
        r.set(true);
    });
    drop(parent);
    drop(g);
    assert_eq!(drops.get(), 3);
    assert!(!ran.get());
}

// ---------------------------------------------------------------------------
// Panic state is per thread

/// `std::thread::panicking()` is one count per thread, which a switch cannot
/// save or restore: a greenlet resumed by a destructor that runs while
/// another greenlet unwinds (here, killed) sees `true`, although it is not
/// unwinding itself; and a `std::sync::MutexGuard` it drops there poisons
/// its mutex. Python keeps `sys.exc_info()` per greenlet; Rust cannot.
#[test]
fn panicking_is_per_thread_when_a_destructor_switches_during_a_kill() {
    hook();
    let seen: Rc<RefCell<Vec<bool>>> = Rc::default();
    // A static (not a leaked box, which LeakSanitizer would report); only
    // this test uses it.
    static MUTEX: Mutex<u32> = Mutex::new(0);
    let mutex: &'static Mutex<u32> = &MUTEX;
    let s = seen.clone();
    // The observer: records panicking() each time it is resumed, drops the
    // MutexGuard it took when last resumed (a guard poisons its mutex if
    // the thread is panicking at its drop and was not at its lock), takes a
    // new one, and switches back to whoever sent it their handle.
    let observer = Greenlet::new(move |mut back: Option<Greenlet>| {
        let mut held = None;
        loop {
            s.borrow_mut().push(std::thread::panicking());
            drop(held.take());
            held = Some(mutex.lock().unwrap_or_else(|e| e.into_inner()));
            back = match back {
                Some(g) => g.switch(()),
                None => Greenlet::main().switch(()),
            };
        }
    });
    let () = observer.switch(None::<Greenlet>); // not unwinding: false
    assert!(!mutex.is_poisoned());

    struct SwitchOnDrop(Greenlet);
    impl Drop for SwitchOnDrop {
        fn drop(&mut self) {
            let () = self.0.switch(Some(Greenlet::current()));
        }
    }
    let o = observer.clone();
    let victim = Greenlet::new(move |()| {
        let _d = SwitchOnDrop(o);
        let () = Greenlet::main().switch(());
    });
    let () = victim.switch(());
    victim.kill(); // GreenletExit unwinds victim; its destructor switches
    assert!(victim.is_dead());
    assert!(!std::thread::panicking(), "main is not unwinding");
    assert_eq!(
        *seen.borrow(),
        [false, true],
        "the observer, resumed during victim's unwinding, sees panicking()"
    );
    assert!(
        mutex.is_poisoned(),
        "a MutexGuard dropped there poisons its mutex"
    );

    // The same during a panic's unwinding (not a kill).
    let o = observer.clone();
    let victim = Greenlet::new(move |()| {
        let _d = SwitchOnDrop(o);
        panic_any(Boom(1));
    });
    let p = catch_unwind(AssertUnwindSafe(|| {
        let () = victim.switch(());
    }));
    assert_eq!(*p.unwrap_err().downcast::<Boom>().unwrap(), Boom(1));
    assert_eq!(*seen.borrow(), [false, true, true]);
    observer.kill();
}

// ---------------------------------------------------------------------------
// #[track_caller]

#[test]
fn switch_type_mismatch_is_reported_at_the_callers_line() {
    let g = Greenlet::new(|x: u32| x + 1); // returns a u32
    let (file, line, msg) = panic_location(|| {
        let _s: String = g.switch(1u32); // the line reported
    });
    assert!(file.ends_with("greenlet_ownership.rs"), "file: {file}");
    assert_eq!(line, line!() - 3, "message: {msg}");
    assert!(
        msg.contains("alloc::string::String") && msg.contains("u32"),
        "the message names both types: {msg}"
    );

    // In the receiver: a greenlet expecting a String is sent a u32; the
    // panic is located at its own pending switch.
    let located: Rc<RefCell<Option<(String, u32, u32)>>> = Rc::default();
    let l = located.clone();
    let g = Greenlet::new(move |()| {
        let expected_line = line!() + 2;
        let (file, line, _) = panic_location(|| {
            let _s: String = Greenlet::main().switch(());
        });
        *l.borrow_mut() = Some((file, line, expected_line));
    });
    let () = g.switch(());
    g.switch::<u32, ()>(5);
    let (file, line, expected) = located.borrow_mut().take().unwrap();
    assert!(file.ends_with("greenlet_ownership.rs"), "file: {file}");
    assert_eq!(line, expected);
}

#[test]
fn resume_after_completion_is_reported_at_the_callers_line() {
    let mut g: Generator<(), u32, u32> = Generator::new(|_, ()| 5);
    assert_eq!(g.resume(()), GeneratorState::Complete(5));
    let (file, line, msg) = panic_location(|| {
        g.resume(()); // the line reported
    });
    assert!(file.ends_with("greenlet_ownership.rs"), "file: {file}");
    assert_eq!(line, line!() - 3, "message: {msg}");
    assert!(msg.contains("after the generator completed"), "{msg}");
}

/// Greenlet `k` creates greenlet `k + 1` (its child), returns it to main
/// and dies, 300,000 times: each death goes past every dead ancestor to
/// main. With a walk over the dead ancestors per death this is quadratic
/// (about 45 * 10^9 steps here: hours); with path compression it is a
/// fraction of a second. Dropping the chain of dead greenlets at the end
/// must not overflow the stack either.
#[test]
fn successions_reach_main_past_every_dead_ancestor_in_linear_time() {
    fn link(left: usize) -> Option<Greenlet> {
        (left > 0).then(|| Greenlet::new(link))
    }
    const N: usize = 300_000;
    let mut g = Greenlet::new(link);
    let mut left = N;
    let mut links = 0;
    while let Some(next) = g.switch::<usize, Option<Greenlet>>(left) {
        assert!(g.is_dead(), "each link dies after returning its successor");
        g = next;
        left -= 1;
        links += 1;
    }
    assert_eq!(links, N);
    assert!(g.is_dead());
    // The last link's parent chain is every link before it, all dead.
    let parent = g.parent().expect("not main");
    assert!(parent.is_dead());
    drop(parent);
    drop(g);
}

/// Path compression remembers, in each dead greenlet passed, the live
/// ancestor found. Changing the parent of a dead greenlet must make those
/// shortcuts stale: a later death is delivered to the new live ancestor.
#[test]
fn a_death_follows_the_new_parent_of_a_dead_ancestor() {
    // a: dead, child of main.
    let a = Greenlet::new(|()| ());
    a.switch::<(), ()>(());
    assert!(a.is_dead());
    // b, child of a, dies: its value goes past a to main, and a remembers
    // main as its nearest live ancestor.
    let b = Greenlet::builder().parent(&a).create(|()| 1_i32);
    assert_eq!(b.switch::<(), i32>(()), 1);
    // x: live, suspended, waiting for an i32.
    let x = Greenlet::new(|()| {
        let v: i32 = Greenlet::main().switch::<(), i32>(());
        format!("x got {v}")
    });
    x.switch::<(), ()>(());
    // a's parent becomes x: the death of c (a child of a) goes to x now.
    a.set_parent(&x)
        .expect("a dead greenlet may get a new parent");
    let c = Greenlet::builder().parent(&a).create(|()| 7_i32);
    assert_eq!(
        c.switch::<(), String>(()),
        "x got 7",
        "c's death went to a's new parent x (and x's result to main)"
    );
    assert!(x.is_dead());
    // a's parent() is what was set, not a shortcut.
    assert!(a.parent().expect("not main") == x);
}

/// `kill` makes the killer the victim's parent while the victim unwinds.
/// When the killer is the victim's own child, the chain is a loop for that
/// time (victim -> killer -> victim). A parent walk made then (here:
/// `set_parent` in the victim's destructor, which checks for a cycle) must
/// end. Run on a thread of its own, so that a spin fails the test instead
/// of hanging it.
#[test]
fn set_parent_while_a_child_kills_its_parent_ends() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome: Rc<RefCell<Option<bool>>> = Rc::new(RefCell::new(None));
        struct SetsParent(Rc<RefCell<Option<bool>>>);
        impl Drop for SetsParent {
            fn drop(&mut self) {
                let victim = Greenlet::current();
                let g = Greenlet::new(|()| ());
                // Walks victim -> killer (its temporary parent) -> victim ...
                *self.0.borrow_mut() = Some(g.set_parent(&victim).is_ok());
            }
        }
        let seen = Rc::clone(&outcome);
        let parent = Greenlet::new(move |()| {
            let _guard = SetsParent(seen);
            let me = Greenlet::current();
            let child = Greenlet::new(move |()| me.kill());
            child.switch::<(), ()>(());
            unreachable!("killed by its child");
        });
        parent.switch::<(), ()>(());
        assert!(parent.is_dead());
        let ok = outcome.borrow().expect("the destructor ran");
        tx.send(ok).expect("the test waits");
    });
    let ok = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("set_parent during the kill returned (no endless parent walk)");
    assert!(
        ok,
        "the victim is no descendant of the new greenlet: no cycle"
    );
}

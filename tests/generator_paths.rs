//! The paths of `Generator` (src/generator.rs, "How it works"): the typed
//! fast path and the generic slow paths, and how they meet the rest of the
//! greenlet core: resumers that change, generators driving generators,
//! direct switches out of and into a body, a resumer killed while the body
//! is elsewhere, `Y == R`, panics, and drops.
//!
//! (Tracing of resume and suspend is in tests/greenlet_tracing.rs.)

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, catch_unwind, panic_any};
use std::rc::Rc;

use greenlet::{Generator, GeneratorState, Greenlet, GreenletExit, SwitchError};

#[path = "common/counted.rs"]
mod counted;
#[path = "common/quiet.rs"]
mod quiet;
use quiet::quiet_panics;
#[path = "common/panic_text.rs"]
mod panic_text;
use counted::Counted;
use panic_text::panic_text;

use GeneratorState::{Complete, Yielded};

#[derive(Debug, PartialEq)]
struct Boom(u32);

fn quiet() {
    quiet_panics(|p| {
        p.is::<Boom>()
            || p.is::<GreenletExit>()
            || panic_text(p).starts_with("greenlet: Generator::resume called after")
    });
}

fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(f))
}

type Shared<I, Y, R> = Rc<RefCell<Generator<I, Y, R>>>;

fn shared<I: 'static, Y: 'static, R: 'static>(g: Generator<I, Y, R>) -> Shared<I, Y, R> {
    Rc::new(RefCell::new(g))
}

// ---------------------------------------------------------------------------
// Resumers

/// Three greenlets take turns resuming one generator; each resume gets the
/// value the body yields next, never the greenlet that resumed it before
/// (nor the body's parent, main).
#[test]
fn a_generator_answers_whoever_resumed_it_last() {
    let generator = shared(Generator::new(|y, first: u32| {
        let mut seen = vec![first];
        while seen.len() < 4 {
            seen.push(y.suspend(seen.len() as u32 * 10 + first));
        }
        seen
    }));
    let gen1 = generator.clone();
    let g1 = Greenlet::builder().name("g1").create(move |()| {
        let a = gen1.borrow_mut().resume(1);
        // Hand it to main, wait, resume again.
        let () = Greenlet::main().switch(("g1", a));
        gen1.borrow_mut().resume(4)
    });
    let gen2 = generator.clone();
    let g2 = Greenlet::builder()
        .name("g2")
        .create(move |()| gen2.borrow_mut().resume(3));

    let (who, a): (&str, GeneratorState<u32, Vec<u32>>) = g1.switch(());
    assert_eq!((who, a), ("g1", Yielded(11)));
    assert_eq!(generator.borrow_mut().resume(2), Yielded(21), "main");
    let b: GeneratorState<u32, Vec<u32>> = g2.switch(());
    assert_eq!(b, Yielded(31), "g2 (which then returned it to main)");
    let c: GeneratorState<u32, Vec<u32>> = g1.switch(());
    assert_eq!(c, Complete(vec![1, 2, 3, 4]), "the end goes to g1");
    assert!(g1.is_dead() && g2.is_dead());
    assert!(generator.borrow().is_complete());
}

/// A generator's body drives another generator, which main also resumes in
/// between: each yield of the inner one goes to whoever resumed it.
#[test]
fn a_generator_driving_another_generator() {
    let inner = shared(Generator::new(|y, ()| {
        for i in 1..=4u32 {
            y.suspend(i);
        }
        "inner done"
    }));
    let driven = inner.clone();
    let mut outer: Generator<(), u32, Vec<&str>> = Generator::new(move |y, ()| {
        let mut ends = Vec::new();
        loop {
            let state = driven.borrow_mut().resume(());
            match state {
                Yielded(v) => {
                    y.suspend(v * 100);
                }
                Complete(end) => {
                    ends.push(end);
                    return ends;
                }
            }
        }
    });
    assert_eq!(outer.resume(()), Yielded(100));
    assert_eq!(inner.borrow_mut().resume(()), Yielded(2), "main's turn");
    assert_eq!(outer.resume(()), Yielded(300));
    assert_eq!(outer.resume(()), Yielded(400));
    assert_eq!(outer.resume(()), Complete(vec!["inner done"]));
    assert!(inner.borrow().is_complete() && outer.is_complete());

    // Three levels, built inside the bodies.
    let mut top: Generator<(), u32, u32> = Generator::new(|y, ()| {
        let mut mid: Generator<(), u32, u32> = Generator::new(|y, ()| {
            let bottom: Generator<(), u32, u32> = Generator::new(|y, ()| {
                y.suspend(1);
                y.suspend(2);
                10
            });
            let mut n = 0;
            for v in bottom {
                y.suspend(v + 1000);
                n += 1;
            }
            n
        });
        loop {
            match mid.resume(()) {
                Yielded(v) => y.suspend(v * 2),
                Complete(n) => return n,
            }
        }
    });
    assert_eq!(top.resume(()), Yielded(2002));
    assert_eq!(top.resume(()), Yielded(2004));
    assert_eq!(top.resume(()), Complete(2));
}

// ---------------------------------------------------------------------------
// Direct switches out of and into a body

/// `Greenlet::current()` in a body is the generator's own greenlet; the body
/// can switch straight to main while another greenlet, `r`, waits in
/// `resume`; main switches straight back into it, and its next yield still
/// goes to `r`. Later (once `r` no longer holds the generator) main and a
/// third greenlet resume it, each getting the next value.
#[test]
fn current_in_a_body_and_a_direct_switch_out_of_it() {
    let main = Greenlet::main();
    let generator = shared(Generator::new(|y, first: u32| {
        let me = Greenlet::current();
        assert!(!me.is_main());
        let x: u32 = Greenlet::main().switch((me, first));
        let z = y.suspend(x + 1);
        let w = y.suspend(z + 1);
        w + 1
    }));
    let gen_r = generator.clone();
    let r = Greenlet::builder().name("r").create(move |()| {
        let a = gen_r.borrow_mut().resume(1);
        let () = Greenlet::main().switch(("r", a));
    });
    let (body, first): (Greenlet, u32) = r.switch(());
    assert_eq!(first, 1);
    assert_ne!(body, main);
    assert_ne!(body, r);
    assert!(body.is_active());
    assert_ne!(Greenlet::current(), body, "main runs, not the body");

    // Straight back into the body: its yield goes to r, which was waiting
    // in resume all along, and r passes it on.
    let (who, a): (&str, GeneratorState<u32, u32>) = body.switch(10u32);
    assert_eq!((who, a), ("r", Yielded(11)));
    // Resumed by main: the yield comes to main.
    assert_eq!(generator.borrow_mut().resume(20), Yielded(21));
    // Resumed by a third greenlet: the end goes there.
    let gen_t = generator.clone();
    let t = Greenlet::new(move |()| gen_t.borrow_mut().resume(30));
    let s: GeneratorState<u32, u32> = t.switch(());
    assert_eq!(s, Complete(31));
    assert!(body.is_dead());
    let () = r.switch(());
    assert!(r.is_dead());
}

/// The greenlet waiting in `resume` is killed (its last handle dropped)
/// while the body is suspended elsewhere (in a direct switch to main): the
/// generator must not keep it as its resumer. A direct switch into the body
/// followed by a `suspend` (which, with a resumer, would switch to it) and
/// then an ordinary resume from main both work.
#[test]
fn killing_the_waiting_resumer_leaves_no_dangling_resumer() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let generator = shared(Generator::new(|y, first: u32| {
        let x: u32 = Greenlet::main().switch((Greenlet::current(), first));
        let z = y.suspend(x + 1); // nobody waits in resume: goes to the parent
        let w = y.suspend(z + 1); // a resume from main
        w + 1
    }));
    let gen_r = generator.clone();
    let d = drops.clone();
    let r = Greenlet::new(move |()| {
        let _guard = Counted(d);
        gen_r.borrow_mut().resume(1)
    });
    let (body, _): (Greenlet, u32) = r.switch(());
    drop(r); // the last handle: r is killed in its resume
    assert_eq!(drops.get(), 1, "r was killed");

    // Into the body directly; its suspend has no resumer and goes to its
    // parent, main, as a plain switch.
    let v: u32 = body.switch(5u32);
    assert_eq!(v, 6);
    // An ordinary resume from main.
    assert_eq!(generator.borrow_mut().resume(7), Yielded(8));
    assert_eq!(generator.borrow_mut().resume(9), Complete(10));
}

/// A body whose `suspend` went to its parent (it had no resumer: it caught
/// a `throw`) is then resumed by a greenlet other than its parent: the
/// next yield must go to that greenlet ("a generator answers whoever
/// resumed it last"), not to the parent.
#[test]
fn a_body_that_yielded_to_its_parent_answers_its_next_resumer() {
    quiet();
    let handle: Rc<RefCell<Option<Greenlet>>> = Rc::default();
    let h = handle.clone();
    let generator = shared(Generator::<u32, u32, ()>::new(move |y, first| {
        let mut n = first;
        *h.borrow_mut() = Some(Greenlet::current());
        loop {
            match catch(|| y.suspend(n)) {
                Ok(x) => n = x + 1,
                Err(p) => match p.downcast::<Boom>() {
                    Ok(b) => n = 100 + b.0,
                    Err(other) => panic::resume_unwind(other), // GreenletExit
                },
            }
        }
    }));
    assert_eq!(generator.borrow_mut().resume(0), Yielded(0));
    let body = handle.borrow_mut().take().unwrap();
    // A throw it catches: its suspend has no resumer, so the yield goes to
    // its parent, main, as the answer of the throw.
    let v: u32 = body.throw(Boom(1));
    assert_eq!(v, 101);
    // Now a resume from another greenlet.
    let gen_r = generator.clone();
    let r = Greenlet::new(move |()| gen_r.borrow_mut().resume(5));
    let got: Result<GeneratorState<u32, ()>, SwitchError> = r.try_switch(());
    assert_eq!(
        got,
        Ok(Yielded(6)),
        "the yield must go to r, which resumed the body"
    );
    // And from main again.
    assert_eq!(generator.borrow_mut().resume(6), Yielded(7));
}

// ---------------------------------------------------------------------------
// Types, panics, drops

/// `Y == R`: yields are `Yielded`, the end is `Complete`, on the typed fast
/// path and on the slow path (tracing on: every switch takes it).
#[test]
fn same_yield_and_return_type() {
    for traced in [false, true] {
        if traced {
            assert!(greenlet::settrace(Some(Box::new(|_, _, _| {}))).is_none());
        }
        let mut g: Generator<(), u32, u32> = Generator::new(|y, ()| {
            y.suspend(1);
            y.suspend(2);
            3
        });
        assert_eq!(g.resume(()), Yielded(1), "traced: {traced}");
        assert_eq!(g.resume(()), Yielded(2), "traced: {traced}");
        assert_eq!(g.resume(()), Complete(3), "traced: {traced}");
        assert!(g.is_complete());
        let it: Generator<(), u32, u32> = Generator::new(|y, ()| {
            y.suspend(1);
            y.suspend(2);
            3
        });
        assert_eq!(
            it.collect::<Vec<_>>(),
            [1, 2],
            "the return value is not an item"
        );
        // Resumed from another greenlet.
        let g = shared(Generator::<(), u32, u32>::new(|y, ()| {
            y.suspend(1);
            2
        }));
        let g2 = g.clone();
        let r = Greenlet::new(move |()| {
            let a = g2.borrow_mut().resume(());
            let b = g2.borrow_mut().resume(());
            (a, b)
        });
        let (a, b): (GeneratorState<u32, u32>, GeneratorState<u32, u32>) = r.switch(());
        assert_eq!((a, b), (Yielded(1), Complete(2)), "traced: {traced}");
    }
    assert!(greenlet::settrace(None).is_some());
}

#[test]
fn a_panicking_body_makes_resume_panic_and_completes_the_generator() {
    quiet();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut g: Generator<u32, u32, u32> = Generator::new(move |y, first| {
        let _guard = Counted(d);
        let x = y.suspend(first);
        panic_any(Boom(x));
    });
    assert_eq!(g.resume(1), Yielded(1));
    let p = catch(|| g.resume(2));
    assert_eq!(*p.unwrap_err().downcast::<Boom>().unwrap(), Boom(2));
    assert!(g.is_complete());
    assert_eq!(drops.get(), 1);
    let again = catch(|| g.resume(3));
    assert!(
        panic_text(&*again.unwrap_err()).contains("after the generator completed"),
        "a complete generator cannot be resumed"
    );

    // A panic before the first yield, and from a resumer other than main.
    let g = shared(Generator::<(), u32, ()>::new(|_, ()| panic_any(Boom(7))));
    let g2 = g.clone();
    let r = Greenlet::new(move |()| {
        let p = catch(|| g2.borrow_mut().resume(()));
        p.unwrap_err().downcast::<Boom>().map(|b| b.0).unwrap_or(0)
    });
    assert_eq!(r.switch::<(), u32>(()), 7, "the panic reached the resumer");
    assert!(g.borrow().is_complete());
}

/// A value that counts how many of its kind are alive.
struct Note(#[allow(dead_code)] String, Rc<Cell<i32>>);

impl Note {
    fn new(text: &str, live: &Rc<Cell<i32>>) -> Note {
        live.set(live.get() + 1);
        Note(text.to_string(), live.clone())
    }
}

impl Drop for Note {
    fn drop(&mut self) {
        self.1.set(self.1.get() - 1);
    }
}

#[test]
fn yielded_values_that_need_dropping_do_not_leak() {
    let live = Rc::new(Cell::new(0));
    let l = live.clone();
    let mut g: Generator<(), Note, Note> = Generator::new(move |y, ()| {
        let _held = Note::new("held by the body", &l);
        for i in 0..10 {
            y.suspend(Note::new(&format!("yield {i}"), &l));
        }
        Note::new("end", &l)
    });
    for _ in 0..3 {
        match g.resume(()) {
            Yielded(n) => drop(n),
            Complete(_) => panic!("not yet"),
        }
    }
    assert_eq!(live.get(), 1, "only the body's own note is alive");
    drop(g); // suspended: the body unwinds
    assert_eq!(live.get(), 0, "nothing leaked");

    // A yield that reaches a receiver expecting another type (the body had
    // no resumer after catching a throw, so its yield goes to main's throw,
    // which expects a u32): the Note is dropped, not leaked.
    let l = live.clone();
    let handle: Rc<RefCell<Option<Greenlet>>> = Rc::default();
    let h = handle.clone();
    let mut g: Generator<(), Note> = Generator::new(move |y, ()| {
        *h.borrow_mut() = Some(Greenlet::current());
        loop {
            // Catches the Boom thrown below, but lets GreenletExit through,
            // so that dropping the generator ends the body (a body that
            // refuses to die is leaked by design, which is not this test).
            if let Err(p) = catch(|| y.suspend(Note::new("yield", &l)))
                && p.is::<GreenletExit>()
            {
                std::panic::resume_unwind(p);
            }
        }
    });
    assert!(matches!(g.resume(()), Yielded(_)));
    let body = handle.borrow_mut().take().unwrap();
    let mismatch = catch(|| body.throw::<Boom, u32>(Boom(1)));
    assert!(panic_text(&*mismatch.unwrap_err()).contains("Note"));
    assert_eq!(live.get(), 0, "the mismatched yield was dropped");
    drop(g);
    assert_eq!(live.get(), 0);
}

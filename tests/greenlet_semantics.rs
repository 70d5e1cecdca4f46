//! Conformance tests for `Greenlet`, one group per semantic rule of
//! `shared/API.md` §1 (values, types, death, panics, `GreenletExit`, dead
//! targets, `throw`, `kill`, parents, drop, threads, tracing, identity,
//! deep stacks, many greenlets).
//!
//! These tests are written against the public contract only.

#[cfg(unix)]
#[path = "common/emulation.rs"]
#[allow(dead_code, reason = "this file asks about /proc/self/maps only")]
mod emulation;

use std::alloc::{GlobalAlloc, Layout, System};
use std::any::{Any, type_name};
use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, catch_unwind, panic_any};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Once, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;

use greenlet::{Event, Greenlet, GreenletExit, ParentError, SwitchError};

#[path = "common/panic_text.rs"]
mod common_panic_text;

// ---------------------------------------------------------------------------
// Harness helpers
// ---------------------------------------------------------------------------

/// The many-greenlets test may use up every kernel mapping the process is
/// allowed (`vm.max_map_count`); nothing else in this binary may run then,
/// or it would fail to map a stack (or the harness would fail to spawn a
/// thread). Every other test holds a read guard, that one a write guard.
static MAPPINGS: RwLock<()> = RwLock::new(());

/// Common set-up for every test except the many-greenlets one.
fn setup() -> RwLockReadGuard<'static, ()> {
    quiet_expected_panics();
    MAPPINGS.read().unwrap_or_else(PoisonError::into_inner)
}

fn setup_exclusive() -> RwLockWriteGuard<'static, ()> {
    quiet_expected_panics();
    MAPPINGS.write().unwrap_or_else(PoisonError::into_inner)
}

/// The panic payload these tests throw on purpose.
#[derive(Debug, PartialEq)]
struct Boom(u32);

/// Silences the panic hook for the payloads the tests raise on purpose
/// (`Boom`, `GreenletExit`), keeping it for everything else (assertion
/// failures must still be printed).
fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            if payload.is::<Boom>() || payload.is::<GreenletExit>() {
                return;
            }
            previous(info);
        }));
    });
}

fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(f))
}

/// The text of a panic payload made by `panic!`, or a description of it
/// (this file's `Boom` included).
fn panic_text(payload: &(dyn Any + Send)) -> String {
    match payload.downcast_ref::<Boom>() {
        Some(b) => format!("<Boom({}) payload>", b.0),
        None => common_panic_text::panic_text(payload),
    }
}

/// The `Boom` a panic carried; fails the test with a readable message if
/// the payload is anything else.
fn expect_boom<T>(result: Result<T, Box<dyn Any + Send>>) -> Boom {
    match result {
        Ok(_) => panic!("expected a Boom panic, but the call returned normally"),
        Err(payload) => match payload.downcast::<Boom>() {
            Ok(boom) => *boom,
            Err(other) => panic!("expected a Boom payload, got {}", panic_text(&*other)),
        },
    }
}

/// `Greenlet::main().switch(value)`: the usual way for a greenlet body to
/// hand control back to the test.
fn to_main<T: 'static, R: 'static>(value: T) -> R {
    Greenlet::main().switch(value)
}

fn counter() -> Rc<Cell<u32>> {
    Rc::new(Cell::new(0))
}

/// A value that is not `Clone` and counts its drops.
struct Tracked {
    id: u32,
    drops: Rc<Cell<u32>>,
}

impl Tracked {
    fn new(id: u32, drops: &Rc<Cell<u32>>) -> Tracked {
        Tracked {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

/// Like `Tracked`, but countable from another thread.
struct SendTracked(Arc<AtomicUsize>);

impl Drop for SendTracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[track_caller]
fn assert_flags(g: &Greenlet, started: bool, dead: bool, active: bool, main: bool) {
    assert_eq!(g.is_started(), started, "is_started of {g:?}");
    assert_eq!(g.is_dead(), dead, "is_dead of {g:?}");
    assert_eq!(g.is_active(), active, "is_active of {g:?}");
    assert_eq!(g.is_main(), main, "is_main of {g:?}");
}

const STATE_WORDS: [&str; 4] = ["unstarted", "suspended", "running", "dead"];

/// Which of the four non-main state words a `Debug` rendering contains.
fn debug_states(g: &Greenlet) -> Vec<&'static str> {
    let text = format!("{g:?}");
    STATE_WORDS
        .iter()
        .copied()
        .filter(|w| text.contains(w))
        .collect()
}

/// Counts this thread's heap allocations, to check that passing a value
/// needs none.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_allocation() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` unchanged; counting touches only
// a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

#[test]
fn values_passing_a_value_does_not_allocate() {
    let _s = setup();
    let g = Greenlet::new(|mut x: u64| {
        loop {
            x = to_main(x + 1);
        }
    });
    let h = Greenlet::new(|mut v: (String, [u64; 8])| {
        loop {
            v.1[0] += 1;
            v = to_main(v);
        }
    });
    // Warm up (lazy per-thread state may allocate once).
    let _: u64 = g.switch(0u64);
    let mut v: (String, [u64; 8]) = h.switch((String::from("payload"), [0u64; 8]));
    // Self-check: the counter sees an allocation.
    let probe = allocations();
    drop(black_box(vec![1u8; 3]));
    assert_eq!(allocations(), probe + 1);
    let before = allocations();
    for i in 0..1_000u64 {
        let r: u64 = g.switch(i);
        assert_eq!(r, i + 1);
        v = h.switch(v);
    }
    let after = allocations();
    assert_eq!(v.1[0], 1_001);
    assert_eq!(
        after - before,
        0,
        "switching values allocated {} times",
        after - before
    );
    g.kill();
    h.kill();
}

#[test]
fn values_switch_into_unstarted_calls_f_with_the_value() {
    let _s = setup();
    let seen = counter();
    let seen2 = seen.clone();
    let g = Greenlet::new(move |x: u32| {
        seen2.set(x);
        x * 2
    });
    assert_eq!(seen.get(), 0, "f must not run before the first switch");
    assert!(!g.is_started());
    let r: u32 = g.switch(21u32);
    assert_eq!(seen.get(), 21);
    assert_eq!(r, 42);
    assert!(g.is_dead());
}

#[test]
fn values_switch_into_suspended_returns_from_its_pending_switch() {
    let _s = setup();
    let g = Greenlet::new(|first: u32| {
        let second: u32 = to_main(first + 1);
        let third: u32 = to_main(second + 10);
        third + 100
    });
    let a: u32 = g.switch(1u32);
    assert_eq!(a, 2);
    assert!(g.is_active());
    let b: u32 = g.switch(5u32);
    assert_eq!(b, 15);
    let c: u32 = g.switch(7u32);
    assert_eq!(c, 107);
    assert!(g.is_dead());
}

#[test]
fn values_are_moved_not_copied_and_dropped_exactly_once() {
    let _s = setup();
    let drops = counter();
    let arrivals = counter();
    let arrivals2 = arrivals.clone();
    let drops2 = drops.clone();
    let g = Greenlet::new(move |t: Tracked| {
        arrivals2.set(arrivals2.get() + 1);
        assert_eq!(t.id, 7);
        assert_eq!(drops2.get(), 0, "moving into f must not drop");
        let back: Tracked = to_main(t);
        arrivals2.set(arrivals2.get() + 1);
        assert_eq!(back.id, 7);
        back
    });
    let sent = Tracked::new(7, &drops);
    let returned: Tracked = g.switch(sent);
    assert_eq!(returned.id, 7);
    assert_eq!(drops.get(), 0);
    let fin: Tracked = g.switch(returned);
    assert_eq!(fin.id, 7);
    assert_eq!(arrivals.get(), 2, "each switch delivers the value once");
    assert_eq!(drops.get(), 0, "a moved value is never dropped in transit");
    drop(fin);
    assert_eq!(drops.get(), 1);
    drop(g);
    assert_eq!(drops.get(), 1, "no second drop anywhere");
}

#[test]
fn values_heap_contents_are_moved_without_copying() {
    let _s = setup();
    let g = Greenlet::new(|b: Box<[u64; 32]>| {
        let back: Box<[u64; 32]> = to_main(b);
        back
    });
    let original = Box::new([5u64; 32]);
    let addr = &raw const *original as usize;
    let there: Box<[u64; 32]> = g.switch(original);
    assert_eq!(&raw const *there as usize, addr, "the Box itself is moved");
    let back: Box<[u64; 32]> = g.switch(there);
    assert_eq!(&raw const *back as usize, addr);
    assert_eq!(*back, [5u64; 32]);
}

#[test]
fn values_several_values_travel_as_a_tuple() {
    let _s = setup();
    let g = Greenlet::new(|(a, b, c): (u8, String, Vec<i32>)| {
        let (x, y): (i64, char) = to_main((c.len(), b.to_uppercase(), a + 1));
        (y, x * 2)
    });
    let (len, up, next): (usize, String, u8) = g.switch((4u8, "abc".to_string(), vec![1, 2, 3]));
    assert_eq!((len, up.as_str(), next), (3, "ABC", 5));
    let (ch, doubled): (char, i64) = g.switch((-21i64, 'z'));
    assert_eq!((ch, doubled), ('z', -42));
    assert!(g.is_dead());
}

#[test]
fn values_unit_is_no_value() {
    let _s = setup();
    let steps = counter();
    let steps2 = steps.clone();
    let g = Greenlet::new(move |()| {
        steps2.set(1);
        let () = to_main(());
        steps2.set(2);
    });
    let () = g.switch(());
    assert_eq!(steps.get(), 1);
    let () = g.switch(());
    assert_eq!(steps.get(), 2);
    assert!(g.is_dead());
}

#[test]
fn values_string_and_vec_round_trip() {
    let _s = setup();
    let g = Greenlet::new(|(s, v): (String, Vec<u32>)| {
        let (s2, v2): (String, Vec<u32>) = to_main((s + " ünïcødé ✓", v));
        let total: u32 = v2.iter().sum();
        (s2.chars().rev().collect::<String>(), total)
    });
    let v: Vec<u32> = (0..10_000).collect();
    let (s, v): (String, Vec<u32>) = g.switch(("héllo".to_string(), v));
    assert_eq!(s, "héllo ünïcødé ✓");
    assert_eq!(v.len(), 10_000);
    assert_eq!(v[9_999], 9_999);
    let (rev, total): (String, u32) = g.switch((s, v));
    assert_eq!(rev, "✓ édøcïnü olléh");
    assert_eq!(total, (0..10_000).sum::<u32>());
}

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

#[test]
fn types_receiver_names_the_type() {
    let _s = setup();
    let g = Greenlet::new(|n: u8| -> String { "x".repeat(usize::from(n)) });
    let r: String = g.switch(3u8);
    assert_eq!(r, "xxx");
}

#[test]
fn types_mismatch_panics_in_main_receiver_naming_both_types() {
    let _s = setup();
    let g = Greenlet::new(|x: u32| u64::from(x) + 1);
    let err = catch(|| {
        let _s: String = g.switch(1u32);
    })
    .expect_err("receiving a u64 as a String must panic");
    let text = panic_text(&*err);
    assert!(
        text.contains(type_name::<String>()),
        "{text:?} must name the expected type {}",
        type_name::<String>()
    );
    assert!(
        text.contains(type_name::<u64>()),
        "{text:?} must name the type sent {}",
        type_name::<u64>()
    );
    assert!(g.is_dead());
    assert!(Greenlet::current().is_main());
}

#[test]
fn types_mismatch_panics_in_suspended_greenlet_receiver() {
    let _s = setup();
    // The greenlet is the receiver: the panic must happen at *its* pending
    // switch, where it can catch it.
    let g = Greenlet::new(|()| {
        let caught = catch(|| {
            let _v: String = to_main(());
        });
        panic_text(&*caught.expect_err("a mismatched value must panic here"))
    });
    let () = g.switch(());
    let text: String = g.switch(5i64);
    assert!(text.contains(type_name::<String>()), "{text:?}");
    assert!(text.contains(type_name::<i64>()), "{text:?}");
    assert!(g.is_dead());
}

#[test]
fn types_mismatch_into_unstarted_panics_in_it_and_continues_in_parent() {
    let _s = setup();
    let ran = counter();
    let ran2 = ran.clone();
    let g = Greenlet::new(move |s: String| {
        ran2.set(1);
        s.len()
    });
    let err = catch(|| {
        let _n: usize = g.switch(9u8);
    })
    .expect_err("f takes a String; a u8 must panic");
    let text = panic_text(&*err);
    assert!(text.contains(type_name::<String>()), "{text:?}");
    assert!(text.contains(type_name::<u8>()), "{text:?}");
    assert_eq!(
        ran.get(),
        0,
        "f must not run with a value of the wrong type"
    );
    assert!(g.is_dead());
}

#[test]
fn types_mismatched_value_is_dropped_exactly_once() {
    let _s = setup();
    // Returned to main with the wrong type.
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| Tracked::new(1, &d2));
    let err = catch(|| {
        let _s: String = g.switch(());
    })
    .expect_err("mismatch must panic");
    assert!(panic_text(&*err).contains(type_name::<Tracked>()));
    drop(err);
    assert_eq!(drops.get(), 1, "the mismatched value is dropped, once");

    // Sent into a suspended greenlet with the wrong type.
    let drops = counter();
    let h = Greenlet::new(|()| {
        let _v: String = to_main(());
    });
    let () = h.switch(());
    let err = catch(|| {
        let () = h.switch(Tracked::new(2, &drops));
    })
    .expect_err("mismatch in the greenlet continues in main");
    drop(err);
    assert_eq!(drops.get(), 1);
    assert!(h.is_dead());
    drop(h);
    assert_eq!(drops.get(), 1);
}

#[test]
fn types_try_switch_returns_type_mismatch_with_both_names() {
    let _s = setup();
    let g = Greenlet::new(|x: u32| u64::from(x));
    let r: Result<String, SwitchError> = g.try_switch(1u32);
    let Err(SwitchError::TypeMismatch {
        expected, found, ..
    }) = r
    else {
        panic!("try_switch must fail with TypeMismatch");
    };
    assert_eq!(expected, type_name::<String>());
    assert_eq!(found, type_name::<u64>());
    assert!(g.is_dead());
    assert!(Greenlet::current().is_main());
}

#[test]
fn types_try_switch_ok_and_mismatch_drops_the_value() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |x: u8| {
        let () = to_main(Tracked::new(u32::from(x), &d2));
        let y: u8 = to_main(x + 1);
        y * 2
    });
    let r: Result<Vec<u8>, SwitchError> = g.try_switch(3u8);
    let Err(SwitchError::TypeMismatch {
        expected, found, ..
    }) = r
    else {
        panic!("expected TypeMismatch");
    };
    assert_eq!(expected, type_name::<Vec<u8>>());
    assert_eq!(found, type_name::<Tracked>());
    assert_eq!(drops.get(), 1, "the mismatched value is dropped, once");
    // The greenlet is still suspended and usable.
    assert!(g.is_active());
    let r: Result<u8, SwitchError> = g.try_switch(());
    assert!(matches!(r, Ok(4)));
    let r: Result<u8, SwitchError> = g.try_switch(10u8);
    assert!(matches!(r, Ok(20)));
    assert!(g.is_dead());
    assert_eq!(drops.get(), 1);
}

// ---------------------------------------------------------------------------
// Death
// ---------------------------------------------------------------------------

#[test]
fn death_return_value_goes_to_parents_pending_switch() {
    let _s = setup();
    let p = Greenlet::new(|x: i32| {
        let c = Greenlet::new(|y: i32| y + 1);
        assert_eq!(c.parent(), Some(Greenlet::current()));
        let r: i32 = c.switch(x);
        assert!(c.is_dead());
        r * 10
    });
    let r: i32 = p.switch(1);
    assert_eq!(r, 20);
}

#[test]
fn death_return_value_to_main_marks_dead() {
    let _s = setup();
    let g = Greenlet::new(|()| "done");
    let r: &str = g.switch(());
    assert_eq!(r, "done");
    assert_flags(&g, true, true, false, false);
}

#[test]
fn death_dead_parent_is_skipped_to_nearest_live_ancestor() {
    let _s = setup();
    // q is suspended; p is dead; c's parent is p, p's parent is q.
    let q = Greenlet::new(|()| {
        let v: i32 = to_main(());
        v * 100
    });
    let () = q.switch(());
    let p = Greenlet::builder().parent(&q).create(|()| ());
    // Make p dead without involving q: kill (main is p's parent meanwhile).
    p.kill();
    assert!(p.is_dead());
    assert_eq!(p.parent(), Some(q.clone()), "kill restores the parent");
    let c = Greenlet::builder().parent(&p).create(|x: i32| x + 1);
    let r: i32 = c.switch(5);
    assert_eq!(
        r, 600,
        "c's 6 must reach q (skipping dead p), which sends 600"
    );
    assert!(c.is_dead());
    assert!(q.is_dead());

    // With main as the nearest live ancestor.
    let p2 = Greenlet::new(|()| ());
    let () = p2.switch(());
    let c2 = Greenlet::builder().parent(&p2).create(|x: i32| x * 3);
    let r: i32 = c2.switch(7);
    assert_eq!(r, 21);
}

#[test]
fn death_two_dead_parents_are_skipped() {
    let _s = setup();
    let a = Greenlet::new(|()| ());
    let () = a.switch(());
    let b = Greenlet::builder().parent(&a).create(|()| ());
    b.kill();
    assert!(a.is_dead() && b.is_dead());
    let c = Greenlet::builder().parent(&b).create(|s: String| s + "!");
    let r: String = c.switch("hi".to_string());
    assert_eq!(r, "hi!");
}

#[test]
fn death_unstarted_parent_is_started_by_childs_return_value() {
    let _s = setup();
    let started_with = counter();
    let sw = started_with.clone();
    let p = Greenlet::new(move |x: u32| {
        sw.set(x);
        x * 3
    });
    let c = Greenlet::builder().parent(&p).create(|x: u32| x + 1);
    assert!(!p.is_started());
    let r: u32 = c.switch(4u32);
    assert_eq!(started_with.get(), 5, "the child's result is p's argument");
    assert_eq!(r, 15, "p's result then reaches main");
    assert!(c.is_dead());
    assert!(p.is_dead());
}

// ---------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------

#[test]
fn panics_continue_in_parent_with_same_payload() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |x: u32| {
        let _on_stack = Tracked::new(0, &d2);
        panic_any(Boom(x));
    });
    let boom = expect_boom(catch(|| {
        let () = g.switch(17u32);
    }));
    assert_eq!(boom, Boom(17));
    assert_eq!(drops.get(), 1, "the greenlet's stack was unwound");
    assert_flags(&g, true, true, false, false);
    assert!(Greenlet::current().is_main());
    // Switching to it now is switching to a dead greenlet.
    let r: u32 = g.switch(3u32);
    assert_eq!(r, 3);
}

#[test]
fn panics_from_suspended_state_continue_in_parent() {
    let _s = setup();
    let g = Greenlet::new(|()| {
        let n: u32 = to_main(());
        panic_any(Boom(n));
    });
    let () = g.switch(());
    let boom = expect_boom(catch(|| {
        let () = g.switch(5u32);
    }));
    assert_eq!(boom, Boom(5));
    assert!(g.is_dead());
}

#[test]
fn panics_string_payload_is_kept() {
    let _s = setup();
    let g = Greenlet::new(|n: u32| {
        if n > 0 {
            panic!("formatted panic {n}");
        }
        n
    });
    let err = catch(|| {
        let _: u32 = g.switch(3u32);
    })
    .expect_err("must panic");
    assert_eq!(panic_text(&*err), "formatted panic 3");
}

#[test]
fn panics_chain_of_three_reaches_main() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let child = Greenlet::new(move |()| {
        let _on_child_stack = Tracked::new(1, &d2);
        let d3 = d2.clone();
        let grandchild = Greenlet::new(move |()| {
            let _on_grandchild_stack = Tracked::new(2, &d3);
            panic_any(Boom(333));
        });
        // Not caught here: it must continue out of this switch.
        let () = grandchild.switch(());
        unreachable!("the grandchild's panic must unwind through here");
    });
    let boom = expect_boom(catch(|| {
        let () = child.switch(());
    }));
    assert_eq!(boom, Boom(333));
    assert_eq!(drops.get(), 2, "both stacks unwound");
    assert!(child.is_dead());
}

#[test]
fn panics_chain_middle_greenlet_can_catch() {
    let _s = setup();
    let child = Greenlet::new(|()| {
        let grandchild = Greenlet::new(|()| panic_any(Boom(4)));
        let r = catch(|| {
            let () = grandchild.switch(());
        });
        assert!(grandchild.is_dead());
        expect_boom(r).0 + 1
    });
    let r: u32 = child.switch(());
    assert_eq!(r, 5);
}

// ---------------------------------------------------------------------------
// GreenletExit
// ---------------------------------------------------------------------------

#[test]
fn greenlet_exit_death_delivers_value_to_parent() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        panic_any(GreenletExit);
    });
    // Not a panic in main: a value.
    let r = catch(|| {
        let _exit: GreenletExit = g.switch(());
    });
    assert!(
        r.is_ok(),
        "GreenletExit must arrive as a value, not a panic"
    );
    assert_eq!(drops.get(), 1);
    assert!(g.is_dead());
}

#[test]
fn greenlet_exit_death_delivers_value_to_greenlet_parent() {
    let _s = setup();
    let p = Greenlet::new(|()| {
        let c = Greenlet::new(|()| {
            let parent = Greenlet::current().parent().expect("c has a parent");
            let () = parent.switch(());
            unreachable!("c is killed by the GreenletExit thrown at it");
        });
        assert!(c.parent() == Some(Greenlet::current()));
        let () = c.switch(());
        // c dies of GreenletExit; p, its parent, receives it as a value.
        let _exit: GreenletExit = c.throw(GreenletExit);
        c.is_dead()
    });
    let r: bool = p.switch(());
    assert!(r);
    assert!(p.is_dead());
}

// ---------------------------------------------------------------------------
// Switching to dead greenlets and to oneself
// ---------------------------------------------------------------------------

#[test]
fn switch_to_dead_from_main_returns_value_immediately() {
    let _s = setup();
    let g = Greenlet::new(|()| ());
    let () = g.switch(());
    assert!(g.is_dead());
    let r: i32 = g.switch(7);
    assert_eq!(r, 7);
    let s: String = g.switch("again".to_string());
    assert_eq!(s, "again");
    assert!(Greenlet::current().is_main());
}

#[test]
fn switch_to_dead_goes_to_nearest_live_ancestor() {
    let _s = setup();
    let q = Greenlet::new(|()| {
        let v: u32 = to_main(());
        let () = to_main(v + 1000);
    });
    let () = q.switch(());
    let d = Greenlet::builder().parent(&q).create(|()| ());
    d.kill();
    assert!(d.is_dead());
    // d is dead: the value goes to q, whose pending switch returns 5.
    let r: u32 = d.switch(5u32);
    assert_eq!(r, 1005);
    assert!(q.is_active());
    let () = q.switch(());
    assert!(q.is_dead());
}

#[test]
fn switch_to_current_returns_value_immediately() {
    let _s = setup();
    let me = Greenlet::current();
    let r: u32 = me.switch(9u32);
    assert_eq!(r, 9);
    let g = Greenlet::new(|x: u32| {
        let me = Greenlet::current();
        let y: u32 = me.switch(x * 2);
        y + 1
    });
    let r: u32 = g.switch(4u32);
    assert_eq!(r, 9);
}

// ---------------------------------------------------------------------------
// throw
// ---------------------------------------------------------------------------

#[test]
fn throw_into_unstarted_never_runs_and_continues_in_caller_parent() {
    let _s = setup();
    let ran = counter();
    let ran2 = ran.clone();
    let g = Greenlet::new(move |()| ran2.set(1));
    let boom = expect_boom(catch(|| {
        let () = g.throw(Boom(1));
    }));
    assert_eq!(boom, Boom(1));
    assert_eq!(ran.get(), 0, "f never runs");
    assert!(g.is_dead());
    assert!(!g.is_active());
}

#[test]
fn throw_into_unstarted_continues_in_its_parent_not_the_caller() {
    let _s = setup();
    // q is suspended and catches what arrives at its pending switch.
    let q = Greenlet::new(|()| {
        let r = catch(|| {
            let () = to_main(());
        });
        let () = to_main(expect_boom(r).0 * 11);
    });
    let () = q.switch(());
    let ran = counter();
    let ran2 = ran.clone();
    let g = Greenlet::builder().parent(&q).create(move |()| ran2.set(1));
    let r: u32 = g.throw(Boom(5));
    assert_eq!(r, 55, "the panic continued in q, which caught it");
    assert_eq!(ran.get(), 0);
    assert!(g.is_dead());
}

#[test]
fn throw_greenlet_exit_into_unstarted_arrives_as_a_value() {
    let _s = setup();
    let ran = counter();
    let ran2 = ran.clone();
    let g = Greenlet::new(move |()| ran2.set(1));
    let r = catch(|| {
        let _exit: GreenletExit = g.throw(GreenletExit);
    });
    assert!(r.is_ok(), "GreenletExit comes back as a value");
    assert_eq!(ran.get(), 0);
    assert!(g.is_dead());
}

#[test]
fn throw_into_suspended_is_raised_at_its_pending_switch() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        let r = catch(|| {
            let () = to_main(());
        });
        let boom = expect_boom(r);
        // It caught the panic and goes on: switch a value back.
        let again: u32 = to_main(boom.0 + 1);
        again * 2
    });
    let () = g.switch(());
    let r: u32 = g.throw(Boom(41));
    assert_eq!(r, 42);
    assert!(g.is_active());
    assert_eq!(drops.get(), 0, "caught: the stack is intact");
    let r: u32 = g.switch(8u32);
    assert_eq!(r, 16);
    assert_eq!(drops.get(), 1);
}

#[test]
fn throw_into_suspended_uncaught_kills_it_and_continues_in_parent() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        let () = to_main(());
        unreachable!("the throw is raised at the switch above");
    });
    let () = g.switch(());
    let boom = expect_boom(catch(|| {
        let () = g.throw(Boom(9));
    }));
    assert_eq!(boom, Boom(9));
    assert_eq!(drops.get(), 1);
    assert!(g.is_dead());
}

#[test]
fn throw_into_dead_from_main_is_raised_in_the_caller() {
    let _s = setup();
    let g = Greenlet::new(|()| ());
    let () = g.switch(());
    let boom = expect_boom(catch(|| {
        let () = g.throw(Boom(3));
    }));
    assert_eq!(boom, Boom(3));
    assert!(Greenlet::current().is_main());
}

#[test]
fn throw_into_dead_goes_to_nearest_live_ancestor() {
    let _s = setup();
    let q = Greenlet::new(|()| {
        let r = catch(|| {
            let () = to_main(());
        });
        let () = to_main(expect_boom(r).0 + 100);
    });
    let () = q.switch(());
    let d = Greenlet::builder().parent(&q).create(|()| ());
    d.kill();
    let r: u32 = d.throw(Boom(1));
    assert_eq!(r, 101);
}

#[test]
fn throw_greenlet_exit_at_dead_comes_back_as_a_value() {
    let _s = setup();
    let g = Greenlet::new(|()| ());
    let () = g.switch(());
    let r = catch(|| {
        let _exit: GreenletExit = g.throw(GreenletExit);
    });
    assert!(
        r.is_ok(),
        "GreenletExit thrown at a dead greenlet is a value"
    );
}

#[test]
fn throw_greenlet_exit_into_suspended_delivers_value() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        let () = to_main(());
    });
    let () = g.switch(());
    let r = catch(|| {
        let _exit: GreenletExit = g.throw(GreenletExit);
    });
    assert!(r.is_ok());
    assert_eq!(drops.get(), 1);
    assert!(g.is_dead());
}

#[test]
fn throw_at_the_current_greenlet_is_raised_right_there() {
    let _s = setup();
    let boom = expect_boom(catch(|| {
        let () = Greenlet::current().throw(Boom(8));
    }));
    assert_eq!(boom, Boom(8));
    let g = Greenlet::new(|()| {
        let r = catch(|| {
            let () = Greenlet::current().throw(Boom(6));
        });
        expect_boom(r).0
    });
    let r: u32 = g.switch(());
    assert_eq!(r, 6);
}

// ---------------------------------------------------------------------------
// kill
// ---------------------------------------------------------------------------

#[test]
fn kill_suspended_runs_destructors_and_leaves_it_dead() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| {
        let _a = Tracked::new(1, &d2);
        nested_suspend(&d2);
        unreachable!("killed in nested_suspend");
    });
    let () = g.switch(());
    assert_eq!(drops.get(), 0);
    g.kill();
    assert_eq!(drops.get(), 2, "both frames' destructors ran, once");
    assert!(g.is_dead());
    assert!(Greenlet::current().is_main());
    drop(g);
    assert_eq!(drops.get(), 2);
}

#[inline(never)]
fn nested_suspend(drops: &Rc<Cell<u32>>) {
    let _b = Tracked::new(2, drops);
    let () = to_main(());
}

#[test]
fn kill_unstarted_never_runs_and_is_dead() {
    let _s = setup();
    let ran = counter();
    let drops = counter();
    let ran2 = ran.clone();
    let captured = Tracked::new(0, &drops);
    let g = Greenlet::new(move |()| {
        let _c = &captured;
        ran2.set(1);
    });
    g.kill();
    assert_eq!(ran.get(), 0);
    assert!(g.is_dead());
    assert!(!g.is_active());
    drop(g);
    assert_eq!(drops.get(), 1, "the closure's captures are dropped once");
}

#[test]
fn kill_dead_is_a_no_op() {
    let _s = setup();
    let g = Greenlet::new(|()| 5u32);
    let _: u32 = g.switch(());
    g.kill();
    assert!(g.is_dead());
    assert!(Greenlet::current().is_main());
}

#[test]
fn kill_greenlet_that_catches_exit_and_returns_normally() {
    let _s = setup();
    let caught = counter();
    let drops = counter();
    let (c2, d2) = (caught.clone(), drops.clone());
    let g = Greenlet::new(move |()| {
        let r = catch(|| {
            let () = to_main(());
        });
        let payload = r.expect_err("kill raises GreenletExit here");
        assert!(payload.is::<GreenletExit>(), "{}", panic_text(&*payload));
        c2.set(1);
        // Returns normally: a value of some type, which kill discards.
        Tracked::new(9, &d2)
    });
    let () = g.switch(());
    g.kill();
    assert_eq!(caught.get(), 1);
    assert!(g.is_dead());
    assert_eq!(drops.get(), 1, "the returned value is dropped, once");
    assert!(Greenlet::current().is_main());
}

#[test]
fn kill_makes_the_caller_the_parent_for_the_duration_then_restores_it() {
    let _s = setup();
    // q would fail if anything reached it.
    let q = Greenlet::new(|()| {
        let _: u32 = to_main(());
        panic!("nothing may reach q");
    });
    let () = q.switch(());
    let g = Greenlet::builder().parent(&q).create(|()| {
        let () = to_main(());
    });
    let () = g.switch(());
    g.kill();
    assert!(g.is_dead());
    assert!(q.is_active(), "q was not resumed");
    assert_eq!(g.parent(), Some(q.clone()), "old parent restored");
    q.kill();
    assert!(q.is_dead());
}

#[test]
fn kill_from_inside_a_greenlet_returns_there() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let victim = Greenlet::new(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        let () = to_main(());
    });
    let () = victim.switch(());
    let v2 = victim.clone();
    let killer = Greenlet::new(move |()| {
        v2.kill();
        v2.is_dead()
    });
    let r: bool = killer.switch(());
    assert!(r);
    assert_eq!(drops.get(), 1);
    assert!(killer.is_dead());
}

// ---------------------------------------------------------------------------
// Parents
// ---------------------------------------------------------------------------

#[test]
fn parents_parent_is_none_only_for_main() {
    let _s = setup();
    let main = Greenlet::main();
    assert!(main.parent().is_none());
    let g = Greenlet::new(|()| ());
    assert_eq!(g.parent(), Some(main.clone()));
    let () = g.switch(());
    assert!(g.is_dead());
    assert_eq!(
        g.parent(),
        Some(main.clone()),
        "dead greenlets keep a parent"
    );
    let u = Greenlet::new(|()| ());
    u.kill();
    assert!(u.parent().is_some());
}

#[test]
fn parents_new_inside_greenlet_has_it_as_parent() {
    let _s = setup();
    let outer = Greenlet::new(|()| {
        let inner = Greenlet::new(|()| ());
        inner.parent() == Some(Greenlet::current())
    });
    let r: bool = outer.switch(());
    assert!(r);
}

#[test]
fn parents_builder_parent_sets_it() {
    let _s = setup();
    let p = Greenlet::new(|x: u32| x + 1);
    let c = Greenlet::builder().parent(&p).create(|x: u32| x * 2);
    assert_eq!(c.parent(), Some(p.clone()));
    let r: u32 = c.switch(3u32);
    assert_eq!(r, 7, "c's 6 started p, whose 7 reached main");
}

#[test]
fn parents_set_parent_to_self_is_a_cycle() {
    let _s = setup();
    let g = Greenlet::new(|()| ());
    assert!(matches!(g.set_parent(&g), Err(ParentError::Cycle)));
    assert_eq!(g.parent(), Some(Greenlet::main()));
}

#[test]
fn parents_set_parent_cycle_through_chain_is_refused() {
    let _s = setup();
    let a = Greenlet::new(|()| ());
    let b = Greenlet::builder().parent(&a).create(|()| ());
    let c = Greenlet::builder().parent(&b).create(|()| ());
    assert!(matches!(a.set_parent(&c), Err(ParentError::Cycle)));
    assert!(matches!(a.set_parent(&b), Err(ParentError::Cycle)));
    assert_eq!(
        a.parent(),
        Some(Greenlet::main()),
        "unchanged after refusal"
    );
    // Not a cycle: allowed.
    assert!(c.set_parent(&a).is_ok());
    assert_eq!(c.parent(), Some(a.clone()));
    assert!(b.set_parent(&Greenlet::main()).is_ok());
    assert_eq!(b.parent(), Some(Greenlet::main()));
    // Now a -> main and c -> a: a under b is fine.
    assert!(a.set_parent(&b).is_ok());
    assert!(matches!(b.set_parent(&c), Err(ParentError::Cycle)));
}

#[test]
fn parents_changing_mains_parent_is_refused_first() {
    let _s = setup();
    let main = Greenlet::main();
    let g = Greenlet::new(|()| ());
    assert!(matches!(
        main.set_parent(&g),
        Err(ParentError::MainGreenlet)
    ));
    // main -> main would also be a cycle; MainGreenlet is checked first.
    assert!(matches!(
        main.set_parent(&main),
        Err(ParentError::MainGreenlet)
    ));
    assert!(main.parent().is_none());
}

#[test]
fn parents_a_child_keeps_its_parent_alive() {
    let _s = setup();
    // Suspended parent whose only handle main drops: the child's parent
    // link keeps it alive (not killed), and the child's result resumes it.
    let drops = counter();
    let d2 = drops.clone();
    let p = Greenlet::new(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        let v: u32 = to_main(());
        v + 1
    });
    let () = p.switch(());
    let c = Greenlet::builder().parent(&p).create(|x: u32| x * 2);
    drop(p);
    assert_eq!(drops.get(), 0, "p is still referenced by c");
    assert!(c.parent().is_some_and(|p| p.is_active()));
    let r: u32 = c.switch(10u32);
    assert_eq!(r, 21, "c's 20 resumed p, which returned 21");
    assert_eq!(drops.get(), 1);

    // Unstarted parent whose handle main drops: still started by the child.
    let q = Greenlet::new(|x: u32| x + 1000);
    let c = Greenlet::builder().parent(&q).create(|x: u32| x);
    drop(q);
    let r: u32 = c.switch(1u32);
    assert_eq!(r, 1001);
}

#[test]
fn parents_set_parent_redirects_the_return_value() {
    let _s = setup();
    let q = Greenlet::new(|()| {
        let v: u32 = to_main(());
        let () = to_main(v + 1);
    });
    let () = q.switch(());
    let g = Greenlet::new(|x: u32| x * 10);
    assert!(g.set_parent(&q).is_ok());
    let r: u32 = g.switch(4u32);
    assert_eq!(r, 41);
}

// ---------------------------------------------------------------------------
// Drop
// ---------------------------------------------------------------------------

#[test]
fn drop_last_handle_of_suspended_kills_it_before_drop_returns() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| {
        let _a = Tracked::new(1, &d2);
        nested_suspend(&d2);
        unreachable!();
    });
    let () = g.switch(());
    let other = g.clone();
    drop(g);
    assert_eq!(drops.get(), 0, "a clone is still alive");
    assert!(other.is_active());
    drop(other);
    assert_eq!(drops.get(), 2, "every destructor ran, exactly once");
    assert!(Greenlet::current().is_main());
}

#[test]
fn drop_kills_with_greenlet_exit() {
    let _s = setup();
    let seen = Rc::new(Cell::new(""));
    let s2 = seen.clone();
    let g = Greenlet::new(move |()| {
        let r = catch(|| {
            let () = to_main(());
        });
        match r {
            Ok(()) => s2.set("resumed"),
            Err(p) if p.is::<GreenletExit>() => s2.set("GreenletExit"),
            Err(_) => s2.set("other panic"),
        }
    });
    let () = g.switch(());
    drop(g);
    assert_eq!(seen.get(), "GreenletExit");
}

#[test]
fn drop_from_a_greenlet_kills_from_that_greenlet() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let outer = Greenlet::new(move |()| {
        let d3 = d2.clone();
        let inner = Greenlet::new(move |()| {
            let _on_stack = Tracked::new(0, &d3);
            let parent = Greenlet::current().parent().expect("parent");
            let () = parent.switch(());
        });
        let () = inner.switch(());
        drop(inner);
        // Control came back here, in the dropping greenlet.
        d2.get()
    });
    let r: u32 = outer.switch(());
    assert_eq!(r, 1);
    assert_eq!(drops.get(), 1);
}

#[test]
fn drop_unstarted_frees_without_running() {
    let _s = setup();
    let ran = counter();
    let drops = counter();
    let ran2 = ran.clone();
    let captured = Tracked::new(0, &drops);
    let g = Greenlet::new(move |()| {
        let _c = &captured;
        ran2.set(1);
    });
    let g2 = g.clone();
    drop(g);
    assert_eq!(drops.get(), 0);
    drop(g2);
    assert_eq!(ran.get(), 0, "an unstarted greenlet never runs on drop");
    assert_eq!(drops.get(), 1, "its closure is dropped exactly once");
}

#[test]
fn drop_last_handle_from_inside_the_running_greenlet() {
    let _s = setup();
    // The running greenlet holds the only handle to itself and drops it,
    // then finishes: it must not be freed under its own feet.
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |me: Greenlet| {
        let _on_stack = Tracked::new(0, &d2);
        drop(me);
        let inner = Greenlet::new(|x: u32| x + 1);
        let y: u32 = inner.switch(1u32);
        assert!(Greenlet::current().is_active());
        y * 100
    });
    let handle = g.clone();
    drop(g);
    let r: u32 = handle.clone().switch(handle);
    assert_eq!(r, 200);
    assert_eq!(drops.get(), 1);
    assert!(Greenlet::current().is_main());
}

#[test]
fn drop_last_handle_inside_then_suspend_does_not_crash() {
    let _s = setup();
    // Same, but it then switches away with no handle left anywhere: it can
    // never be resumed. Whatever the implementation does (kill it when it
    // becomes unreachable, or leak it), nothing may be dropped twice and
    // the thread must go on.
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |me: Greenlet| {
        let _on_stack = Tracked::new(0, &d2);
        drop(me);
        let () = to_main(7u32);
    });
    let handle = g.clone();
    drop(g);
    let r: u32 = handle.clone().switch(handle);
    assert_eq!(r, 7);
    assert!(drops.get() <= 1, "dropped {} times", drops.get());
    let h = Greenlet::new(|x: u32| x + 1);
    let r: u32 = h.switch(1u32);
    assert_eq!(r, 2);
    assert!(drops.get() <= 1);
    eprintln!(
        "drop_last_handle_inside_then_suspend: the unreachable greenlet was {}",
        if drops.get() == 1 { "killed" } else { "leaked" }
    );
}

#[test]
fn drop_dead_greenlet_does_not_run_anything() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::new(move |()| {
        let _t = Tracked::new(0, &d2);
    });
    let () = g.switch(());
    assert_eq!(drops.get(), 1);
    drop(g);
    assert_eq!(drops.get(), 1);
}

#[test]
fn drop_greenlet_that_catches_exit_and_switches_away_does_not_crash() {
    let _s = setup();
    let drops = counter();
    let caught = counter();
    let (d2, c2) = (drops.clone(), caught.clone());
    let g = Greenlet::builder().name(REFUSER).create(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        let r = catch(|| {
            let () = to_main(());
        });
        if r.is_err() {
            c2.set(1);
        }
        // Refuses to die: switches away instead.
        let () = to_main(());
        c2.set(2);
    });
    let () = g.switch(());
    drop(g); // prints one line on stderr and leaks the stack
    assert_eq!(caught.get(), 1, "it was sent GreenletExit and caught it");
    assert_eq!(drops.get(), 0, "its stack is leaked, not unwound or freed");
    assert!(Greenlet::current().is_main());
    // The thread's greenlets still work afterwards.
    let h = Greenlet::new(|x: u32| x + 1);
    let r: u32 = h.switch(1u32);
    assert_eq!(r, 2);
    assert_eq!(caught.get(), 1, "the leaked greenlet never runs again");
}

const REFUSER: &str = "refuser-3b9e";

/// Runs one test of this binary in a child process, checks that it passed,
/// and returns its stderr.
fn stderr_of_test_in_child(test: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("re-run this test binary (under qemu-user this needs binfmt_misc)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed: {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    stderr
}

#[test]
fn drop_greenlet_that_refuses_to_die_prints_one_stderr_line() {
    let _s = setup();
    // Run the test above in a child process and look at its stderr.
    let stderr =
        stderr_of_test_in_child("drop_greenlet_that_catches_exit_and_switches_away_does_not_crash");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got:\n{stderr}");
    assert!(
        lines[0].contains(REFUSER),
        "the line names the greenlet: {:?}",
        lines[0]
    );
}

const PANICKER: &str = "panics-while-killed-5c1d";

#[test]
fn drop_greenlet_that_panics_while_being_killed_does_not_unwind_out_of_drop() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::builder().name(PANICKER).create(move |()| {
        let _on_stack = Tracked::new(0, &d2);
        let r = catch(|| {
            let () = to_main(());
        });
        assert!(r.is_err(), "it is killed with GreenletExit");
        // A second, different panic while it is being killed: it dies of it,
        // and the panic goes to the greenlet that dropped it.
        panic!("{PANICKER}: panicked while being killed");
    });
    let () = g.switch(());
    drop(g); // reports the panic on stderr instead of unwinding out of drop
    assert_eq!(drops.get(), 1, "its stack unwound: the destructor ran once");
    assert!(Greenlet::current().is_main());
}

#[test]
fn drop_greenlet_that_panics_while_being_killed_prints_the_panic() {
    let _s = setup();
    let stderr = stderr_of_test_in_child(
        "drop_greenlet_that_panics_while_being_killed_does_not_unwind_out_of_drop",
    );
    let line = format!(
        "greenlet: a panic escaped a dropped greenlet while it was killed: \
         {PANICKER}: panicked while being killed"
    );
    assert!(
        stderr.lines().any(|l| l == line),
        "no line {line:?} on stderr:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------

/// `<Probe<T>>::SEND` is true exactly when `T: Send` (inherent associated
/// constants win over the blanket trait's when their bounds hold).
struct Probe<T>(PhantomData<T>);
trait Fallback {
    const SEND: bool = false;
    const SYNC: bool = false;
}
impl<T> Fallback for Probe<T> {}
impl<T: Send> Probe<T> {
    #[allow(dead_code)]
    const SEND: bool = true;
}
struct SyncProbe<T>(PhantomData<T>);
impl<T> Fallback for SyncProbe<T> {}
impl<T: Sync> SyncProbe<T> {
    #[allow(dead_code)]
    const SYNC: bool = true;
}

#[test]
fn threads_greenlet_is_not_send_nor_sync() {
    let _s = setup();
    // Checked at compile time: this file does not build if Greenlet
    // becomes Send or Sync. First a self-check of the probe.
    const {
        assert!(<Probe<u32>>::SEND);
        assert!(!<Probe<Rc<u32>>>::SEND);
        assert!(<SyncProbe<u32>>::SYNC);
        assert!(!<SyncProbe<Cell<u32>>>::SYNC);
        assert!(!<Probe<Greenlet>>::SEND, "Greenlet must be !Send");
        assert!(!<SyncProbe<Greenlet>>::SYNC, "Greenlet must be !Sync");
    }
}

#[test]
fn threads_each_thread_has_its_own_main_and_greenlets_never_meet() {
    let _s = setup();
    let here_main = Greenlet::main();
    // A greenlet of this thread, suspended while the others run.
    let local = Greenlet::new(|x: u64| {
        let y: u64 = to_main(x + 1);
        y + 1
    });
    let r: u64 = local.switch(1u64);
    assert_eq!(r, 2);

    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (1..=3u64)
        .map(|k| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let cur = Greenlet::current();
                assert!(cur.is_main(), "a new thread starts in its own main");
                assert!(cur == Greenlet::main());
                assert!(cur.parent().is_none());
                let g = Greenlet::new(move |x: u64| {
                    let y: u64 = to_main(x * k);
                    y + k
                });
                assert_eq!(g.parent(), Some(cur.clone()));
                let a: u64 = g.switch(10u64);
                // All three threads have a suspended greenlet now.
                barrier.wait();
                let b: u64 = g.switch(a);
                barrier.wait();
                assert!(g.is_dead());
                assert!(Greenlet::current() == cur);
                (a, b)
            })
        })
        .collect();
    let results: Vec<(u64, u64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, vec![(10, 11), (20, 22), (30, 33)]);

    // This thread is unaffected.
    assert!(Greenlet::current() == here_main);
    assert!(local.is_active());
    let r: u64 = local.switch(40u64);
    assert_eq!(r, 41);
}

thread_local! {
    static KEPT: RefCell<Vec<Greenlet>> = const { RefCell::new(Vec::new()) };
}

#[test]
fn threads_exit_kills_suspended_greenlets_kept_in_thread_locals() {
    let _s = setup();
    let on_stack = Arc::new(AtomicUsize::new(0));
    let captured = Arc::new(AtomicUsize::new(0));
    let (s2, c2) = (on_stack.clone(), captured.clone());
    thread::spawn(move || {
        let s3 = s2.clone();
        let suspended = Greenlet::new(move |()| {
            let _a = SendTracked(s3.clone());
            let _b = SendTracked(s3);
            let () = to_main(());
            unreachable!("killed at thread exit");
        });
        let () = suspended.switch(());
        let cap = SendTracked(c2);
        let unstarted = Greenlet::new(move |()| {
            let _c = &cap;
        });
        KEPT.with(|k| {
            k.borrow_mut().push(suspended);
            k.borrow_mut().push(unstarted);
        });
        assert_eq!(s2.load(Ordering::SeqCst), 0);
    })
    .join()
    .expect("the thread exits cleanly");
    assert_eq!(
        on_stack.load(Ordering::SeqCst),
        2,
        "the suspended greenlet's destructors ran at thread exit"
    );
    assert_eq!(captured.load(Ordering::SeqCst), 1);
}

thread_local! {
    static KEPT_EARLY: RefCell<Vec<Greenlet>> = const { RefCell::new(Vec::new()) };
}

/// The same with the thread-local first used before the thread's first
/// greenlet, so that its destructor runs after those of the greenlet
/// layer's own thread-locals have been registered.
///
/// On windows-gnu, Rust's thread-locals are TlsAlloc keys, and at thread
/// exit std frees every key's value, last registered first; the greenlet
/// layer's own state is kept apart (`src/os/windows/tls.rs`) and freed by
/// the crate's own TLS callback, after std's, so this destructor still finds
/// the running greenlet there.
#[test]
fn threads_exit_kills_suspended_greenlets_kept_in_thread_locals_used_before_them() {
    let _s = setup();
    let on_stack = Arc::new(AtomicUsize::new(0));
    let s2 = on_stack.clone();
    thread::spawn(move || {
        KEPT_EARLY.with(|k| {
            let s3 = s2.clone();
            let suspended = Greenlet::new(move |()| {
                let _a = SendTracked(s3);
                let () = to_main(());
                unreachable!("killed at thread exit");
            });
            let () = suspended.switch(());
            k.borrow_mut().push(suspended);
        });
        assert_eq!(s2.load(Ordering::SeqCst), 0);
    })
    .join()
    .expect("the thread exits cleanly");
    assert_eq!(
        on_stack.load(Ordering::SeqCst),
        1,
        "the suspended greenlet's destructor ran at thread exit"
    );
}

// ---------------------------------------------------------------------------
// Tracing
// ---------------------------------------------------------------------------

type TraceLog = Rc<RefCell<Vec<(char, Greenlet, Greenlet)>>>;
type TraceFn = Box<dyn FnMut(Event, &Greenlet, &Greenlet)>;

fn event_char(e: &Event) -> char {
    if matches!(e, Event::Switch) {
        'S'
    } else if matches!(e, Event::Throw) {
        'T'
    } else {
        '?'
    }
}

fn recorder(log: &TraceLog) -> TraceFn {
    let log = log.clone();
    Box::new(move |e: Event, origin: &Greenlet, target: &Greenlet| {
        log.borrow_mut()
            .push((event_char(&e), origin.clone(), target.clone()));
    })
}

#[track_caller]
fn assert_trace(log: &TraceLog, expected: &[(char, &Greenlet, &Greenlet)]) {
    let got = log.borrow();
    let got_view: Vec<(char, &Greenlet, &Greenlet)> =
        got.iter().map(|(c, o, t)| (*c, o, t)).collect();
    assert_eq!(got_view, expected, "trace events (S = Switch, T = Throw)");
}

#[test]
fn tracing_reports_switch_and_throw_events_in_order() {
    let _s = setup();
    let log: TraceLog = Rc::default();
    let previous = greenlet::settrace(Some(recorder(&log)));
    assert!(previous.is_none(), "no callback installed on a new thread");

    let main = Greenlet::current();
    let g = Greenlet::builder().name("g").create(|x: u32| {
        let y: u32 = to_main(x + 1);
        let r = catch(|| {
            let _: u32 = to_main(y + 1);
        });
        let boom = expect_boom(r);
        let z: u32 = to_main(boom.0 + 90);
        z + 42
    });
    // 1. start g, g switches back.
    let a: u32 = g.switch(1u32);
    assert_eq!(a, 2);
    // 2. switching to oneself fires nothing.
    let same: u32 = main.switch(5u32);
    assert_eq!(same, 5);
    // 3. a plain resume.
    let b: u32 = g.switch(10u32);
    assert_eq!(b, 11);
    // 4. throw: g catches and switches back.
    let c: u32 = g.throw(Boom(9));
    assert_eq!(c, 99);
    // 5. death by panic.
    let h = Greenlet::builder()
        .name("h")
        .create(|()| panic_any(Boom(2)));
    let boom = expect_boom(catch(|| {
        let () = h.switch(());
    }));
    assert_eq!(boom, Boom(2));
    // 6. death by return.
    let d: u32 = g.switch(0u32);
    assert_eq!(d, 42);

    assert_trace(
        &log,
        &[
            ('S', &main, &g),
            ('S', &g, &main),
            ('S', &main, &g),
            ('S', &g, &main),
            ('T', &main, &g),
            ('S', &g, &main),
            ('S', &main, &h),
            ('T', &h, &main),
            ('S', &main, &g),
            ('S', &g, &main),
        ],
    );
    log.borrow_mut().clear();
    let removed = greenlet::settrace(None);
    assert!(removed.is_some());
}

#[test]
fn tracing_settrace_returns_previous_and_none_removes() {
    let _s = setup();
    let first: TraceLog = Rc::default();
    let second: TraceLog = Rc::default();
    assert!(greenlet::settrace(Some(recorder(&first))).is_none());
    let g = Greenlet::new(|x: u32| x);
    let _: u32 = g.switch(1u32);
    assert_eq!(first.borrow().len(), 2);

    let previous = greenlet::settrace(Some(recorder(&second)));
    let mut previous = previous.expect("settrace returns the previous callback");
    // The returned callback is the first recorder.
    let main = Greenlet::main();
    previous(Event::Switch, &main, &main);
    assert_eq!(first.borrow().len(), 3);
    assert_eq!(second.borrow().len(), 0);

    let g = Greenlet::new(|x: u32| x);
    let _: u32 = g.switch(1u32);
    assert_eq!(
        first.borrow().len(),
        3,
        "the replaced callback is not called"
    );
    assert_eq!(second.borrow().len(), 2);

    let removed = greenlet::settrace(None);
    assert!(removed.is_some(), "returns the second recorder");
    let g = Greenlet::new(|x: u32| x);
    let _: u32 = g.switch(1u32);
    assert_eq!(first.borrow().len(), 3);
    assert_eq!(second.borrow().len(), 2, "removed: nothing is recorded");
    assert!(greenlet::settrace(None).is_none());
    first.borrow_mut().clear();
    second.borrow_mut().clear();
}

#[test]
fn tracing_is_per_thread() {
    let _s = setup();
    let log: TraceLog = Rc::default();
    assert!(greenlet::settrace(Some(recorder(&log))).is_none());
    thread::spawn(|| {
        let g = Greenlet::new(|x: u32| x + 1);
        let r: u32 = g.switch(1u32);
        assert_eq!(r, 2);
    })
    .join()
    .unwrap();
    assert!(
        log.borrow().is_empty(),
        "another thread's switches are not traced here"
    );
    let g = Greenlet::new(|x: u32| x + 1);
    let _: u32 = g.switch(1u32);
    assert_eq!(log.borrow().len(), 2);
    log.borrow_mut().clear();
    assert!(greenlet::settrace(None).is_some());
}

#[test]
fn tracing_kill_fires_a_throw_event() {
    let _s = setup();
    let log: TraceLog = Rc::default();
    let g = Greenlet::new(|()| {
        let () = to_main(());
    });
    let () = g.switch(());
    assert!(greenlet::settrace(Some(recorder(&log))).is_none());
    g.kill();
    let main = Greenlet::main();
    {
        let events = log.borrow();
        assert!(!events.is_empty());
        assert_eq!(
            (events[0].0, &events[0].1, &events[0].2),
            ('T', &main, &g),
            "kill throws GreenletExit into g"
        );
    }
    log.borrow_mut().clear();
    assert!(greenlet::settrace(None).is_some());
}

// ---------------------------------------------------------------------------
// Identity, Debug, state predicates, Builder
// ---------------------------------------------------------------------------

#[test]
fn identity_clones_are_equal_and_different_greenlets_are_not() {
    let _s = setup();
    let a = Greenlet::new(|()| ());
    let a2 = a.clone();
    let b = Greenlet::new(|()| ());
    assert_eq!(a, a2);
    assert_ne!(a, b);
    assert_ne!(a, Greenlet::main());
    let () = a.switch(());
    assert_eq!(a, a2, "identity survives death");
    assert_eq!(Greenlet::main(), Greenlet::current());
    assert_eq!(Greenlet::main(), Greenlet::main());
}

#[test]
fn identity_current_inside_a_greenlet_is_that_greenlet() {
    let _s = setup();
    let g = Greenlet::new(|me: Greenlet| {
        let same = Greenlet::current() == me;
        let not_main = Greenlet::current() != Greenlet::main();
        drop(me);
        same && not_main
    });
    let r: bool = g.switch(g.clone());
    assert!(r);
}

#[test]
fn debug_and_predicates_in_every_state() {
    let _s = setup();
    let main = Greenlet::main();
    assert!(format!("{main:?}").contains("main"), "{main:?}");
    assert_flags(&main, true, false, true, true);

    let g = Greenlet::builder().name("alpha").create(|()| {
        let me = Greenlet::current();
        let text = format!("{me:?}");
        let flags = (me.is_started(), me.is_dead(), me.is_active(), me.is_main());
        drop(me);
        let () = to_main((text, flags));
    });
    assert_eq!(g.name(), Some("alpha"));
    assert!(format!("{g:?}").contains("alpha"), "{g:?}");
    assert_eq!(debug_states(&g), ["unstarted"], "{g:?}");
    assert_flags(&g, false, false, false, false);

    let (running_text, running_flags): (String, (bool, bool, bool, bool)) = g.switch(());
    assert!(running_text.contains("alpha"), "{running_text}");
    assert!(running_text.contains("running"), "{running_text}");
    assert!(!running_text.contains("suspended") && !running_text.contains("dead"));
    assert_eq!(running_flags, (true, false, true, false));

    assert_eq!(debug_states(&g), ["suspended"], "{g:?}");
    assert_flags(&g, true, false, true, false);

    let () = g.switch(());
    assert_eq!(debug_states(&g), ["dead"], "{g:?}");
    assert!(format!("{g:?}").contains("alpha"));
    assert_flags(&g, true, true, false, false);

    let unnamed = Greenlet::new(|()| ());
    assert_eq!(unnamed.name(), None);
    assert_eq!(debug_states(&unnamed), ["unstarted"]);
}

#[test]
fn builder_name_stack_size_and_parent() {
    let _s = setup();
    let p = Greenlet::new(|x: u32| x + 100);
    let g = Greenlet::builder()
        .name(String::from("beta"))
        .stack_size(100_001)
        .parent(&p)
        .create(|x: u32| x + 1);
    assert_eq!(g.name(), Some("beta"));
    assert_eq!(g.parent(), Some(p.clone()));
    assert!(!g.is_started(), "create does not run it");
    let r: u32 = g.switch(1u32);
    assert_eq!(r, 102);
}

#[test]
fn builder_create_failure_is_an_io_error_and_create_panics_with_its_text() {
    let _s = setup();
    let err = Greenlet::builder()
        .stack_size(usize::MAX)
        .try_create(|x: u32| x)
        .expect_err("a stack of usize::MAX bytes cannot be made");
    let text = err.to_string();
    assert!(!text.is_empty());
    let panic = catch(|| {
        Greenlet::builder()
            .stack_size(usize::MAX)
            .create(|x: u32| x)
    })
    .expect_err("create panics when the stack cannot be made");
    let message = panic_text(&*panic);
    assert!(
        message.contains(&text),
        "create's panic {message:?} must contain the io error text {text:?}"
    );
    // Nothing is left half-made: the thread still works.
    let g = Greenlet::new(|x: u32| x + 1);
    let r: u32 = g.switch(1u32);
    assert_eq!(r, 2);
}

#[test]
fn builder_tiny_stack_size_works_for_a_trivial_body() {
    let _s = setup();
    for size in [0, 1, 100, 4096] {
        let g = Greenlet::builder()
            .stack_size(size)
            .try_create(|x: u32| x * 2)
            .expect("a tiny stack is rounded up, not refused");
        let r: u32 = g.switch(21u32);
        assert_eq!(r, 42, "stack_size({size})");
    }
}

#[test]
#[cfg_attr(
    feature = "asan",
    ignore = "measures stack use by the address of a local, which ASan's \
              use-after-return mode moves to its fake stack"
)]
fn builder_odd_stack_size_is_rounded_up_and_usable() {
    let _s = setup();
    // 192 KiB + 1 byte: not a page multiple. Use 128 KiB of it.
    let g = Greenlet::builder()
        .stack_size(192 * 1024 + 1)
        .create(|want: usize| {
            let top = black_box(0u8);
            let top = &raw const top as usize;
            eat_stack(top, want)
        });
    let frames: usize = g.switch(128 * 1024usize);
    assert!(frames > 64);
}

#[inline(never)]
fn eat_stack(top: usize, want: usize) -> usize {
    let mut pad = [0u8; 1024];
    black_box(&mut pad);
    let here = pad.as_ptr() as usize;
    let n = if top.saturating_sub(here) >= want {
        1
    } else {
        eat_stack(top, want) + 1
    };
    black_box(&pad);
    n
}

// ---------------------------------------------------------------------------
// Deep stacks
// ---------------------------------------------------------------------------

const DEEP_FRAMES: u32 = 10_000;

fn frame_sum(depth: u32) -> u64 {
    // sum over i in 0..16 of depth * 31 + i
    16 * 31 * u64::from(depth) + 120
}

/// One real frame per level: a local array that must survive the switch
/// out and back at the bottom, and a drop-counted guard.
#[inline(never)]
fn descend(depth: u32, bottom: u32, drops: &Rc<Cell<u32>>) -> u64 {
    let mut frame = [0u64; 16];
    for (i, slot) in frame.iter_mut().enumerate() {
        *slot = u64::from(depth) * 31 + i as u64;
    }
    black_box(&mut frame);
    let _guard = Tracked::new(depth, drops);
    let below = if depth == bottom {
        let back: u64 = to_main(u64::from(depth));
        back
    } else {
        descend(depth + 1, bottom, drops)
    };
    black_box(&frame);
    let mine: u64 = frame.iter().sum();
    assert_eq!(mine, frame_sum(depth), "frame {depth} was corrupted");
    below + mine
}

#[test]
fn deep_recursion_switches_out_at_the_bottom_and_back_then_unwinds() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::builder()
        .stack_size(32 << 20)
        .create(move |()| descend(0, DEEP_FRAMES - 1, &d2));
    let bottom: u64 = g.switch(());
    assert_eq!(bottom, u64::from(DEEP_FRAMES - 1));
    assert_eq!(drops.get(), 0);
    // Do some other switching while it is suspended deep down.
    let other = Greenlet::new(|x: u64| x + 1);
    let _: u64 = other.switch(1u64);
    let total: u64 = g.switch(5u64);
    let expected: u64 = 5 + (0..DEEP_FRAMES).map(frame_sum).sum::<u64>();
    assert_eq!(total, expected);
    assert_eq!(drops.get(), DEEP_FRAMES);
    assert!(g.is_dead());
}

#[test]
fn deep_recursion_killed_at_the_bottom_runs_every_frame_destructor() {
    let _s = setup();
    let drops = counter();
    let d2 = drops.clone();
    let g = Greenlet::builder()
        .stack_size(32 << 20)
        .create(move |()| descend(0, DEEP_FRAMES - 1, &d2));
    let _: u64 = g.switch(());
    drop(g);
    assert_eq!(drops.get(), DEEP_FRAMES, "each of the frames unwound once");
}

#[test]
#[cfg_attr(
    feature = "asan",
    ignore = "measures stack use by the address of a local, which ASan's \
              use-after-return mode moves to its fake stack"
)]
fn deep_stack_use_fits_in_the_default_stack() {
    let _s = setup();
    // The default stack is 1 MiB; use 600 KiB of it with real frames, and
    // switch out at the bottom and back.
    let g = Greenlet::new(|want: usize| {
        let top = black_box(0u8);
        let top = &raw const top as usize;
        deep_then_switch(top, want)
    });
    let used: usize = g.switch(600 * 1024usize);
    assert!(used >= 600 * 1024);
    let frames: usize = g.switch(7usize);
    // Each frame holds a 1 KiB array, and is surely under 4 KiB.
    assert!(
        (used / 4096..=used / 1024 + 1).contains(&frames),
        "{frames} frames for {used} bytes"
    );
}

#[inline(never)]
fn deep_then_switch(top: usize, want: usize) -> usize {
    let mut pad = [0u8; 1024];
    pad[0] = 7;
    black_box(&mut pad);
    let used = top.saturating_sub(pad.as_ptr() as usize);
    let n = if used >= want {
        let back: usize = to_main(used);
        assert_eq!(back, 7);
        1
    } else {
        deep_then_switch(top, want) + 1
    };
    black_box(&pad);
    assert_eq!(pad[0], 7);
    n
}

// ---------------------------------------------------------------------------
// Many greenlets
// ---------------------------------------------------------------------------

#[test]
fn many_greenlets_all_suspended_at_once_then_resumed_to_completion() {
    let _x = setup_exclusive();
    // qemu-user with a 32-bit guest (qemu-arm 7.2) keeps the host mappings
    // of unmapped guest memory, so exhausting the map count there would
    // starve every later test of the process: stay well below the limit.
    #[cfg(unix)]
    let qemu_32 = cfg!(target_pointer_width = "32") && emulation::maps_hide_prot_none();
    #[cfg(not(unix))]
    let qemu_32 = false;
    // Under Valgrind (ci/test.sh's valgrind step sets GREENLET_UNDER_VALGRIND)
    // every switch between registered stacks looks the target up in a list
    // of all of them, so 100,000 would take many minutes: 2,000 still
    // checks that many suspended greenlets coexist and resume in order.
    let valgrind = std::env::var_os("GREENLET_UNDER_VALGRIND").is_some();
    // Under Wine each stack is three host mappings (the PAGE_NOACCESS page,
    // the PAGE_GUARD reserve, the usable range), against the host's
    // vm.max_map_count (65530 by default): about 21,800 fit there, and
    // running into that limit can take Wine itself down (its next thread
    // exit cannot load libgcc_s: "libgcc_s.so.1 must be installed for
    // pthread_exit to work", then "wine client error"). So 20,000 on
    // Windows.
    let wanted: usize = if valgrind {
        2_000
    } else if qemu_32 {
        10_000
    } else if cfg!(windows) {
        20_000
    } else {
        100_000
    };
    const AT_LEAST: usize = if cfg!(windows) { 20_000 } else { 30_000 };
    let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    let mut greenlets: Vec<Greenlet> = Vec::with_capacity(wanted);
    let mut failure = None;
    for _ in 0..wanted {
        let made = Greenlet::builder()
            .stack_size(16 * 1024)
            .try_create(|x: u64| {
                let y: u64 = to_main(x * 3);
                y + x
            });
        match made {
            Ok(g) => greenlets.push(g),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let created = greenlets.len();
    eprintln!(
        "many_greenlets: created {created} of {wanted} greenlets with 16 KiB stacks \
         (vm.max_map_count = {max_map_count:?})"
    );
    if let Some(e) = failure {
        let text = e.to_string();
        eprintln!("many_greenlets: creation stopped with: {text}");
        // Windows has no mapping limit to name: the message names the
        // reservation and the commit limit instead.
        let limit = if cfg!(windows) {
            "commit limit"
        } else {
            "vm.max_map_count"
        };
        assert!(
            text.contains(limit),
            "the error must name the limit: {text}"
        );
        assert!(
            created >= AT_LEAST,
            "only {created} greenlets before running out: {text}"
        );
    }
    for (i, g) in greenlets.iter().enumerate() {
        let r: u64 = g.switch(i as u64);
        assert_eq!(r, 3 * i as u64);
    }
    assert!(greenlets.iter().all(Greenlet::is_active));
    for (i, g) in greenlets.iter().enumerate() {
        let r: u64 = g.switch(1_000_000u64);
        assert_eq!(r, 1_000_000 + i as u64);
        assert!(g.is_dead());
    }
    drop(greenlets);
    // The mappings are given back: a new greenlet can be made.
    let g = Greenlet::builder()
        .stack_size(16 * 1024)
        .try_create(|x: u64| x)
        .expect("stacks are unmapped when their greenlets are dropped");
    let r: u64 = g.switch(5u64);
    assert_eq!(r, 5);
}

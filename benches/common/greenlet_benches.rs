//! The crate's own side of the comparison benches, one function per
//! measurement, so that every bench file (and `benches/ratios.rs`, which
//! runs them all in one group) measures exactly the same code. Each bench
//! carries a word through and adds one, as corosensei_peer.rs does, so that
//! nothing can be optimised into nothing. Each bench uses what it needs.
#![allow(dead_code)]

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use greenlet::raw::{self, StackPointer};
use greenlet::stack::Stack;
use greenlet::{Generator, GeneratorState, Greenlet};
use std::hint::black_box;

unsafe extern "C" fn add_one(mut from: StackPointer, mut data: usize) -> ! {
    loop {
        // SAFETY: `from` switched to us and is suspended.
        let t = unsafe { raw::switch(from, data + 1) };
        (from, data) = (t.sp, t.data);
    }
}

/// `raw::switch` into a context that answers with `raw::switch(from, x + 1)`,
/// as bench "greenlet_raw".
pub fn raw_round_trip(g: &mut BenchmarkGroup<'_, WallTime>) {
    let stack = Stack::new(64 * 1024).expect("stack");
    // SAFETY: the stack outlives the context, which is abandoned suspended in
    // its loop (nothing on it needs dropping) before the stack is dropped.
    let mut sp = unsafe { raw::stack_init(stack.top(), add_one) };
    g.bench_function("greenlet_raw", |b| {
        let mut x = 0usize;
        b.iter(|| {
            // SAFETY: `sp` is the context's current saved stack pointer.
            let t = unsafe { raw::switch(sp, black_box(x)) };
            sp = t.sp;
            x = t.data;
        });
        assert!(x > 0);
    });
    drop(stack);
}

/// `g.switch(x)` into a greenlet that answers with `main.switch(x + 1)`, as
/// bench "greenlet".
pub fn greenlet_round_trip(g: &mut BenchmarkGroup<'_, WallTime>) {
    let main = Greenlet::main();
    let child = Greenlet::new(move |mut x: usize| {
        loop {
            x = main.switch(x + 1);
        }
    });
    g.bench_function("greenlet", |b| {
        let mut x = 0usize;
        b.iter(|| x = child.switch(black_box(x)));
        assert!(x > 0);
    });
    // `child` is killed here (GreenletExit unwinds its loop).
}

/// `gen.resume(x)` into a body that answers with `y.suspend(x + 1)`, as
/// bench "generator".
pub fn generator_round_trip(g: &mut BenchmarkGroup<'_, WallTime>) {
    let mut generator = Generator::new(|y, mut input: usize| {
        loop {
            input = y.suspend(input + 1);
        }
    });
    g.bench_function("generator", |b| {
        let mut x = 0usize;
        b.iter(|| match generator.resume(black_box(x)) {
            GeneratorState::Yielded(v) => x = v,
            GeneratorState::Complete(()) => unreachable!(),
        });
        assert!(x > 0);
    });
    // `generator` is unwound by GreenletExit when dropped here.
}

/// A `Greenlet` created with the default stack from the per-thread pool,
/// switched into until it returns, and dropped, as bench "greenlet_pooled".
pub fn create_run_drop(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.bench_function("greenlet_pooled", |b| {
        b.iter(|| {
            let child = Greenlet::new(|x: usize| x + 1);
            let r: usize = child.switch(black_box(1usize));
            r
        })
    });
}

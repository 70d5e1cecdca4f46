//! The ratios of issue 13 ("the safe layers at the cost of the raw switch")
//! in one criterion run, so that every time in a ratio was taken on the
//! same machine in the same minute:
//!
//! * group `round_trip`: the raw round trip (`raw::switch` into a context
//!   that answers with `raw::switch(from, x + 1)`), `Greenlet::switch` into
//!   a greenlet that answers with `main.switch(x + 1)`, `Generator::resume`
//!   into a body that answers with `y.suspend(x + 1)`, and corosensei's
//!   `resume` + `suspend` doing the same;
//! * group `create_run_drop`: a `Greenlet` created (default stack from the
//!   per-thread pool), switched into until it returns, dropped, against
//!   corosensei with a reused stack (`Coroutine::with_stack` /
//!   `into_stack`).
//!
//! The bench ids are those of benches/raw.rs and benches/greenlet.rs for the
//! same measurements. `ci/bench-ratios.sh` runs this and prints each time
//! as a ratio to the raw round trip and to corosensei. Times are not CI
//! gates; the exact instruction counts are (`ci/callgrind.sh --check`).

use criterion::{Criterion, criterion_group, criterion_main};
use greenlet::raw::{self, StackPointer};
use greenlet::stack::Stack;
use greenlet::{Generator, GeneratorState, Greenlet};
use std::hint::black_box;

#[path = "common/corosensei_peer.rs"]
mod corosensei_peer;

unsafe extern "C" fn add_one(mut from: StackPointer, mut data: usize) -> ! {
    loop {
        // SAFETY: `from` switched to us and is suspended.
        let t = unsafe { raw::switch(from, data + 1) };
        (from, data) = (t.sp, t.data);
    }
}

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("round_trip");

    let stack = Stack::new(64 * 1024).expect("stack");
    // SAFETY: the stack outlives the context, which is abandoned suspended in
    // its loop (nothing on it needs dropping).
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

    corosensei_peer::round_trip(&mut g);
    g.finish();
    // `generator` and `child` are unwound by GreenletExit when dropped here,
    // `co` by corosensei's own forced unwind; the raw context is abandoned
    // with its stack.
    drop(stack);
}

fn create_run_drop(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_run_drop");
    g.bench_function("greenlet_pooled", |b| {
        b.iter(|| {
            let child = Greenlet::new(|x: usize| x + 1);
            let r: usize = child.switch(black_box(1usize));
            r
        })
    });
    corosensei_peer::create_reused_stack(&mut g);
    g.finish();
}

criterion_group!(benches, round_trip, create_run_drop);
criterion_main!(benches);

//! The raw round trip (two switches: into a context and back) against
//! corosensei's `resume` + `suspend`, in the same criterion run.
//!
//! Both sides carry a word through and add one, so neither can be optimised
//! into nothing. greenlet's switch also preserves the FP control state
//! (MXCSR/x87 CW, FPCR); corosensei's does not.
//!
//! Run: `cargo bench --bench raw`. Instruction counts per round trip, which
//! are exact where times are noisy: `ci/callgrind.sh`.

use criterion::{Criterion, criterion_group, criterion_main};
use greenlet::raw::{self, StackPointer};
use greenlet::stack::Stack;
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

fn round_trips(c: &mut Criterion) {
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

    corosensei_peer::round_trip(&mut g);

    g.bench_function("plain_call", |b| {
        #[inline(never)]
        fn add(x: usize) -> usize {
            x + 1
        }
        let mut x = 0usize;
        b.iter(|| x = add(black_box(x)));
    });
    g.finish();
    drop(stack);
}

criterion_group!(benches, round_trips);
criterion_main!(benches);

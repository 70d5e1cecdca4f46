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
use std::hint::black_box;

#[path = "common/corosensei_peer.rs"]
mod corosensei_peer;
#[path = "common/greenlet_benches.rs"]
mod greenlet_benches;

fn round_trips(c: &mut Criterion) {
    let mut g = c.benchmark_group("round_trip");

    greenlet_benches::raw_round_trip(&mut g);

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
}

criterion_group!(benches, round_trips);
criterion_main!(benches);

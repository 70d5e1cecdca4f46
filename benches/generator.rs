//! `Generator` against corosensei, in the same criterion run: the round trip
//! `gen.resume(x)` into a body that answers with `y.suspend(x + 1)`, against
//! corosensei's `Coroutine::resume` + `Yielder::suspend` doing the same.
//!
//! `cargo bench --bench generator`.

use criterion::{Criterion, criterion_group, criterion_main};
use greenlet::{Generator, GeneratorState};
use std::hint::black_box;

#[path = "common/corosensei_peer.rs"]
mod corosensei_peer;

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("generator_round_trip");
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
    // Both are unwound when dropped here: `generator` by GreenletExit,
    // `co` by corosensei's own forced unwind.
}

criterion_group!(benches, round_trip);
criterion_main!(benches);

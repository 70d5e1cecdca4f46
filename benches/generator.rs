//! `Generator` against corosensei, in the same criterion run: the round trip
//! `gen.resume(x)` into a body that answers with `y.suspend(x + 1)`, against
//! corosensei's `Coroutine::resume` + `Yielder::suspend` doing the same.
//!
//! `cargo bench --bench generator`.

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "common/corosensei_peer.rs"]
mod corosensei_peer;
#[path = "common/greenlet_benches.rs"]
mod greenlet_benches;

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("generator_round_trip");
    greenlet_benches::generator_round_trip(&mut g);
    corosensei_peer::round_trip(&mut g);
    g.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);

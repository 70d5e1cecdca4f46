//! `Greenlet` against corosensei, in the same criterion run:
//!
//! * the switch round trip: `g.switch(x)` into a greenlet that answers with
//!   `main.switch(x + 1)`, against corosensei's `resume` + `suspend`;
//! * create + run to completion + drop, with the default stack from the
//!   per-thread pool, against corosensei with a reused stack
//!   (`Coroutine::with_stack` / `into_stack`) and with a new default stack.
//!
//! `cargo bench --bench greenlet`; instruction counts: `ci/callgrind.sh`.

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "common/corosensei_peer.rs"]
mod corosensei_peer;
#[path = "common/greenlet_benches.rs"]
mod greenlet_benches;

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("greenlet_round_trip");
    greenlet_benches::greenlet_round_trip(&mut g);
    corosensei_peer::round_trip(&mut g);
    g.finish();
}

fn create(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_run_drop");
    greenlet_benches::create_run_drop(&mut g);
    corosensei_peer::create(&mut g);
    g.finish();
}

criterion_group!(benches, round_trip, create);
criterion_main!(benches);

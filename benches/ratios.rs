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

#[path = "common/corosensei_peer.rs"]
mod corosensei_peer;
#[path = "common/greenlet_benches.rs"]
mod greenlet_benches;

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("round_trip");
    greenlet_benches::raw_round_trip(&mut g);
    greenlet_benches::greenlet_round_trip(&mut g);
    greenlet_benches::generator_round_trip(&mut g);
    corosensei_peer::round_trip(&mut g);
    g.finish();
}

fn create_run_drop(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_run_drop");
    greenlet_benches::create_run_drop(&mut g);
    corosensei_peer::create_reused_stack(&mut g);
    g.finish();
}

criterion_group!(benches, round_trip, create_run_drop);
criterion_main!(benches);

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
use greenlet::Greenlet;
use std::hint::black_box;

#[path = "common/corosensei_peer.rs"]
mod corosensei_peer;

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("greenlet_round_trip");
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
    corosensei_peer::round_trip(&mut g);
    g.finish();
    // `child` is killed here (GreenletExit unwinds its loop); `co` is
    // unwound by corosensei's drop.
}

fn create(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_run_drop");
    g.bench_function("greenlet_pooled", |b| {
        b.iter(|| {
            let child = Greenlet::new(|x: usize| x + 1);
            let r: usize = child.switch(black_box(1usize));
            r
        })
    });
    corosensei_peer::create(&mut g);
    g.finish();
}

criterion_group!(benches, round_trip, create);
criterion_main!(benches);

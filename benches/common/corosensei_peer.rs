//! corosensei, measured beside greenlet in the same criterion run: the peer
//! every bench compares with. corosensei has no s390x or powerpc64 port;
//! there (`cfg(not(peer_corosensei))`, set by build.rs) these add nothing.
//! Each bench uses what it needs of this module.
#![allow(dead_code)]

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// corosensei's `resume(x)` answered by `suspend(x + 1)`, as bench
/// "corosensei".
#[cfg(peer_corosensei)]
pub fn round_trip(g: &mut BenchmarkGroup<'_, WallTime>) {
    use corosensei::{Coroutine, CoroutineResult};
    use std::hint::black_box;
    let mut co = Coroutine::new(|y, mut input: usize| {
        loop {
            input = y.suspend(input + 1);
        }
    });
    g.bench_function("corosensei", |b| {
        let mut x = 0usize;
        b.iter(|| match co.resume(black_box(x)) {
            CoroutineResult::Yield(v) => x = v,
            CoroutineResult::Return(()) => unreachable!(),
        });
        assert!(x > 0);
    });
    // `co` is unwound by corosensei's own forced unwind when dropped.
}

/// Create + run to completion + drop: with a reused stack
/// (`Coroutine::with_stack` / `into_stack`) and with a new default stack.
pub fn create(g: &mut BenchmarkGroup<'_, WallTime>) {
    create_reused_stack(g);
    create_new_stack(g);
}

/// Create + run to completion + drop with a reused stack
/// (`Coroutine::with_stack` / `into_stack`), as bench
/// "corosensei_reused_stack".
#[cfg(peer_corosensei)]
pub fn create_reused_stack(g: &mut BenchmarkGroup<'_, WallTime>) {
    use corosensei::stack::DefaultStack;
    use corosensei::{Coroutine, CoroutineResult};
    use std::hint::black_box;
    let mut stack = Some(DefaultStack::default());
    g.bench_function("corosensei_reused_stack", |b| {
        b.iter(|| {
            let mut co = Coroutine::with_stack(stack.take().unwrap(), |_, x: usize| x + 1);
            let r = match co.resume(black_box(1usize)) {
                CoroutineResult::Return(r) => r,
                CoroutineResult::Yield(()) => unreachable!(),
            };
            stack = Some(co.into_stack());
            r
        })
    });
}

/// Create + run to completion + drop with a new default stack each time, as
/// bench "corosensei_new_stack".
#[cfg(peer_corosensei)]
pub fn create_new_stack(g: &mut BenchmarkGroup<'_, WallTime>) {
    use corosensei::{Coroutine, CoroutineResult};
    use std::hint::black_box;
    g.bench_function("corosensei_new_stack", |b| {
        b.iter(|| {
            let mut co = Coroutine::new(|_, x: usize| x + 1);
            match co.resume(black_box(1usize)) {
                CoroutineResult::Return(r) => r,
                CoroutineResult::Yield(()) => unreachable!(),
            }
        })
    });
}

#[cfg(not(peer_corosensei))]
pub fn round_trip(_: &mut BenchmarkGroup<'_, WallTime>) {}

#[cfg(not(peer_corosensei))]
pub fn create_reused_stack(_: &mut BenchmarkGroup<'_, WallTime>) {}

#[cfg(not(peer_corosensei))]
pub fn create_new_stack(_: &mut BenchmarkGroup<'_, WallTime>) {}

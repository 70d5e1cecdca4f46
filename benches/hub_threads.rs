//! The hub's cross-thread tools against tokio's, in the same criterion run
//! (tokio: a `current_thread` runtime, which has a blocking pool of its
//! own):
//!
//! * `channel/<runtime>`: one `std::thread` sends `u64`s as fast as it can
//!   into a channel (`hub::channel`, `tokio::sync::mpsc::unbounded_channel`)
//!   whose receiver waits on the hub / the runtime. One iteration is one
//!   message; the time runs from the first send to the last receive (the
//!   sender thread's start included, a few tens of microseconds over the
//!   millions of messages of a measurement).
//! * `spawn_blocking/<runtime>`: one task calling `spawn_blocking(|| 1)`
//!   and waiting for it, in a loop (`hub::spawn_blocking`,
//!   `tokio::task::spawn_blocking`): one iteration is one round trip to a
//!   worker thread and back.
//!
//! `cargo bench --bench hub_threads`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use greenlet::hub;
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

/// `msgs` messages from a thread into this thread's hub; their time.
fn hub_channel(msgs: u64) -> Duration {
    let (tx, rx) = hub::channel::<u64>();
    let t = Instant::now();
    let sender = thread::spawn(move || {
        for i in 0..msgs {
            tx.send(i).expect("the receiver lives");
        }
    });
    let mut sum = 0u64;
    while let Some(v) = rx.recv() {
        sum = sum.wrapping_add(v);
    }
    let d = t.elapsed();
    sender.join().expect("no panic");
    assert_eq!(sum, msgs * msgs.saturating_sub(1) / 2);
    d
}

/// The same into a tokio `current_thread` runtime.
fn tokio_channel(rt: &tokio::runtime::Runtime, msgs: u64) -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    rt.block_on(async move {
        let t = Instant::now();
        let sender = thread::spawn(move || {
            for i in 0..msgs {
                tx.send(i).expect("the receiver lives");
            }
        });
        let mut sum = 0u64;
        while let Some(v) = rx.recv().await {
            sum = sum.wrapping_add(v);
        }
        let d = t.elapsed();
        sender.join().expect("no panic");
        assert_eq!(sum, msgs * msgs.saturating_sub(1) / 2);
        d
    })
}

fn channel_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel");
    g.throughput(Throughput::Elements(1)); // one message
    g.bench_function("greenlet_hub", |b| b.iter_custom(hub_channel));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    g.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| tokio_channel(&rt, iters))
    });
    g.finish();
}

fn hub_blocking(calls: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..calls {
        black_box(hub::spawn_blocking(|| black_box(1u64)));
    }
    t.elapsed()
}

fn tokio_blocking(rt: &tokio::runtime::Runtime, calls: u64) -> Duration {
    rt.block_on(async move {
        let t = Instant::now();
        for _ in 0..calls {
            let r = tokio::task::spawn_blocking(|| black_box(1u64)).await;
            black_box(r.expect("no panic"));
        }
        t.elapsed()
    })
}

fn spawn_blocking_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_blocking");
    g.throughput(Throughput::Elements(1)); // one round trip
    g.bench_function("greenlet_hub", |b| b.iter_custom(hub_blocking));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    g.bench_function("tokio_current_thread", |b| {
        b.iter_custom(|iters| tokio_blocking(&rt, iters))
    });
    g.finish();
}

criterion_group!(benches, channel_bench, spawn_blocking_bench);
criterion_main!(benches);

//! A bounded crawler: 100 "fetches" of 20 ms each (a `hub::sleep` standing
//! in for the network), run through a `hub::Pool` of 10, so that at most 10
//! are in flight at once. Done twice: with `Pool::spawn` and then with
//! `Pool::map` (which returns the results in input order).
//!
//! Usage: `crawler_pool [--jobs N] [--size N] [--millis N]`
//! (defaults: 100 jobs, a pool of 10, 20 ms each). It prints one line per
//! way, e.g.
//!
//! ```text
//! spawn: 100 jobs of 20 ms through a pool of 10: 203.1 ms (expected about 100/10 x 20 ms = 200 ms; one at a time: 2000 ms); max concurrency 10
//! map: 100 jobs of 20 ms through a pool of 10: 202.4 ms (expected about 100/10 x 20 ms = 200 ms; one at a time: 2000 ms); max concurrency 10; results in input order
//! ```
//!
//! (the times vary from run to run).

use greenlet::hub::{self, Pool};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How many fetches are in flight now, and the most there ever were.
#[derive(Default)]
struct Gauge {
    now: Cell<usize>,
    max: Cell<usize>,
}

/// A pretend fetch of page `i`: counted in `gauge` while it "waits for the
/// network".
fn fetch(gauge: &Gauge, i: usize, millis: u64) -> String {
    gauge.now.set(gauge.now.get() + 1);
    gauge.max.set(gauge.max.get().max(gauge.now.get()));
    hub::sleep(Duration::from_millis(millis));
    gauge.now.set(gauge.now.get() - 1);
    format!("page {i}")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut jobs, mut size, mut millis) = (100usize, 10usize, 20u64);
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        let Some(value) = value else {
            eprintln!("crawler_pool: {a} needs a number");
            eprintln!("usage: crawler_pool [--jobs N] [--size N] [--millis N]");
            std::process::exit(2);
        };
        match a.as_str() {
            "--jobs" => jobs = value as usize,
            "--size" => size = value as usize,
            "--millis" => millis = value,
            _ => {
                eprintln!("crawler_pool: unknown argument {a:?}");
                std::process::exit(2);
            }
        }
    }
    let pool = Pool::new(size);
    let summary = |how: &str, elapsed: Duration, gauge: &Gauge| {
        format!(
            "{how}: {jobs} jobs of {millis} ms through a pool of {size}: {:.1} ms \
             (expected about {jobs}/{size} x {millis} ms = {} ms; one at a time: {} ms); \
             max concurrency {}",
            elapsed.as_secs_f64() * 1e3,
            (jobs.div_ceil(size) as u64) * millis,
            jobs as u64 * millis,
            gauge.max.get(),
        )
    };

    // Pool::spawn waits while the pool is full, so this loop itself is
    // throttled: it hands out job 11 only when one of the first 10 is done.
    let gauge = Rc::new(Gauge::default());
    let t = Instant::now();
    let tasks: Vec<_> = (0..jobs)
        .map(|i| {
            let gauge = Rc::clone(&gauge);
            pool.spawn(move || fetch(&gauge, i, millis))
        })
        .collect();
    assert!(pool.join(None), "every job finishes");
    let elapsed = t.elapsed();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.get().expect("no panic"), format!("page {i}"));
    }
    println!("{}", summary("spawn", elapsed, &gauge));

    // Pool::map: the same through the pool, results in input order.
    let gauge = Rc::new(Gauge::default());
    let t = Instant::now();
    let pages = {
        let gauge = Rc::clone(&gauge);
        pool.map(0..jobs, move |i| fetch(&gauge, i, millis))
    };
    let elapsed = t.elapsed();
    let in_order = pages
        .iter()
        .enumerate()
        .all(|(i, p)| *p == format!("page {i}"));
    assert_eq!(pages.len(), jobs);
    println!(
        "{}; results {}",
        summary("map", elapsed, &gauge),
        if in_order {
            "in input order"
        } else {
            "OUT OF ORDER"
        }
    );
    assert_eq!(pool.len(), 0, "the pool is empty again");
}

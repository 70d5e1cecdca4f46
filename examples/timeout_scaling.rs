//! How `hub::with_timeout` scales with the number of tasks (issue 16, item
//! 2): N tasks each yield 10 times, plainly or inside a `with_timeout` of
//! 1 ms (so that most timeouts expire while their task is ready, and are
//! delivered at its next wait). Before the fix every wait scanned every
//! expired timeout, which made the run quadratic in N.
//!
//! `cargo run --release --example timeout_scaling [N ...]` (default 16000
//! 32000 64000); prints the time of both runs and their ratio per N.

use greenlet::hub;
use std::time::{Duration, Instant};

fn run(n: usize, timeout: Option<Duration>) -> (Duration, usize) {
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            hub::spawn(move || {
                let body = || {
                    for _ in 0..10 {
                        hub::sleep(Duration::ZERO);
                    }
                };
                match timeout {
                    Some(d) => hub::with_timeout(d, body).is_err(),
                    None => {
                        body();
                        false
                    }
                }
            })
        })
        .collect();
    let expired = tasks.into_iter().filter(|t| t.join(None)).count();
    (t0.elapsed(), expired)
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("task counts"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![16_000, 32_000, 64_000]
    } else {
        sizes
    };
    println!("tasks    plain      with_timeout(1 ms)  expired  ratio");
    for n in sizes {
        let (plain, _) = run(n, None);
        let (timed, expired) = run(n, Some(Duration::from_millis(1)));
        println!(
            "{n:>6}  {:>8.1} ms  {:>8.1} ms        {expired:>6}  {:.2}x",
            plain.as_secs_f64() * 1e3,
            timed.as_secs_f64() * 1e3,
            timed.as_secs_f64() / plain.as_secs_f64()
        );
    }
}

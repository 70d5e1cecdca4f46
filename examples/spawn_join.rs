//! The cost of many short tasks, spawn to join: what `yield/<runtime>` of
//! `benches/hub.rs` measures (100,000 tasks each yielding 10 times), as a
//! program that also reports what the run cost in memory, so that changes
//! to the stacks can be weighed in time *and* memory.
//!
//! Usage: `spawn_join [hub|tokio] [--tasks N] [--yields N] [--rounds N] [--stack BYTES] [--batch K]`
//!
//! `--stack` gives the hub's tasks stacks of that size (`hub::spawn_with`)
//! instead of the default (`hub::spawn`). `--batch K` spawns and joins the
//! hub's tasks K at a time (default: all at once), so that at most K are
//! alive: `--yields 0 --batch 1` is what a task that takes its stack only
//! when it starts would cost in `--yields 0` (each task then finishes before
//! the next one needs a stack, which comes warm from the pool).
//!
//! Each round spawns the tasks, joins them all, and prints one line:
//!
//! ```text
//! hub round 1: 100000 tasks x 10 yields in 712.3 ms (7.12 us/task); minor faults 200113; RSS 812 MiB peak 1024 MiB; page tables 5.1 MiB
//! ```
//!
//! (the figures above are only an example of the format). Minor faults are
//! the round's own (`getrusage`); RSS and page tables (`VmRSS`, `VmHWM`,
//! `VmPTE` of `/proc/self/status`) are the process's after the round. A
//! last line gives the median time of the rounds after the first (which
//! also pays for mapping the stacks and their page tables).

use greenlet::{Greenlet, hub};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut runtime = "hub".to_string();
    let (mut tasks, mut yields, mut rounds) = (100_000usize, 10usize, 3usize);
    let mut stack = None;
    let mut batch = None;
    while let Some(a) = args.next() {
        let mut num = || -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{a} needs a number")))
        };
        match a.as_str() {
            "hub" | "tokio" => runtime = a.clone(),
            "--tasks" => tasks = num(),
            "--yields" => yields = num(),
            "--rounds" => rounds = num(),
            "--stack" => stack = Some(num()),
            "--batch" => batch = Some(num().max(1)),
            _ => usage(&format!("unknown argument {a:?}")),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut steady = Vec::new();
    for round in 1..=rounds {
        let faults0 = minor_faults();
        let t = Instant::now();
        if runtime == "hub" {
            let batch = batch.unwrap_or(tasks).max(1);
            let mut left = tasks;
            while left > 0 {
                let n = left.min(batch);
                run_hub(n, yields, stack);
                left -= n;
            }
        } else {
            run_tokio(&rt, tasks, yields);
        }
        let d = t.elapsed();
        // -1: not counted (Windows).
        let faults = minor_faults().zip(faults0).map_or(-1, |(b, a)| b - a);
        if round > 1 {
            steady.push(d);
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |field: &str| -> f64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        println!(
            "{runtime} round {round}: {tasks} tasks x {yields} yields in {:.1} ms ({:.2} us/task); \
             minor faults {faults}; RSS {:.0} MiB peak {:.0} MiB; page tables {:.1} MiB",
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e6 / tasks as f64,
            kib("VmRSS:") / 1024.0,
            kib("VmHWM:") / 1024.0,
            kib("VmPTE:") / 1024.0,
        );
    }
    if !steady.is_empty() {
        steady.sort();
        let median = steady[steady.len() / 2];
        println!(
            "{runtime} median of rounds 2-{rounds}: {:.1} ms ({:.2} us/task)",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e6 / tasks as f64,
        );
    }
}

fn usage(why: &str) -> ! {
    eprintln!("spawn_join: {why}");
    eprintln!(
        "usage: spawn_join [hub|tokio] [--tasks N] [--yields N] [--rounds N] [--stack BYTES]"
    );
    std::process::exit(2);
}

fn run_hub(tasks: usize, yields: usize, stack: Option<usize>) {
    let body = move || {
        for _ in 0..yields {
            hub::sleep(Duration::ZERO);
        }
    };
    let all: Vec<_> = (0..tasks)
        .map(|_| match stack {
            None => hub::spawn(body),
            Some(size) => hub::spawn_with(Greenlet::builder().stack_size(size), body),
        })
        .collect();
    assert_eq!(hub::join_all(&all, None), tasks);
}

fn run_tokio(rt: &tokio::runtime::Runtime, tasks: usize, yields: usize) {
    rt.block_on(async {
        let all: Vec<_> = (0..tasks)
            .map(|_| {
                tokio::spawn(async move {
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in all {
            t.await.expect("task");
        }
    });
}

/// This process's minor page faults so far (`None` on Windows, which has
/// no getrusage; like the RSS figures from /proc, only Linux reports it).
#[cfg(not(unix))]
fn minor_faults() -> Option<i64> {
    None
}

/// This process's minor page faults so far.
#[cfg(unix)]
fn minor_faults() -> Option<i64> {
    // SAFETY: getrusage writes one rusage into a local.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    // A c_long: i32 on 32-bit targets, where the conversion is not a no-op.
    #[allow(clippy::useless_conversion)]
    Some(i64::from(u.ru_minflt))
}

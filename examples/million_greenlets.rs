//! A benchmark, not a test: a million suspended greenlets at once.
//!
//! ```text
//! cargo run --release --example million_greenlets [corosensei] [COUNT [STACK_SIZE]]
//! ```
//!
//! With `corosensei` first, the same is done with corosensei coroutines on
//! its `DefaultStack`s (mmap + mprotect guard each), for comparison (where
//! corosensei is a dev-dependency: not on s390x or powerpc64).
//!
//! Creates `COUNT` greenlets (default 1,000,000) with stacks of `STACK_SIZE`
//! bytes (default `greenlet::stack::DEFAULT_STACK_SIZE`, 1 MiB), switches
//! into each once so that each is suspended with a live frame, then resumes
//! each to completion. Prints the guard mode, the time of both phases, and
//! while all are alive: peak RSS per greenlet (`VmHWM` of
//! /proc/self/status, less the RSS before, over COUNT), page-table memory
//! per greenlet (`VmPTE`, likewise) and the number of mappings (lines of
//! /proc/self/maps).
//!
//! In `GuardMode::KernelGuard` mode (Linux 6.13+) the stacks live in a few
//! arena mappings; in `Mprotect` mode each costs two mappings and creation
//! stops at `vm.max_map_count` with an error, which this program reports.

use std::time::{Duration, Instant};

use greenlet::Greenlet;
use greenlet::stack::{DEFAULT_STACK_SIZE, guard_mode};

/// A field of /proc/self/status in KiB (`VmHWM`, `VmRSS`, `VmPTE`, ...).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Lines of /proc/self/maps, read through a buffer on the stack: at the
/// map limit, growing a heap buffer would need a mapping of its own.
fn mappings() -> usize {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open("/proc/self/maps") else {
        return 0;
    };
    let mut buf = [0u8; 16384];
    let mut lines = 0;
    while let Ok(n @ 1..) = file.read(&mut buf) {
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    lines
}

/// Figures taken before and while all are alive.
struct Before {
    rss: u64,
    pte: u64,
    maps: usize,
}

fn before() -> Before {
    Before {
        rss: status_kib("VmRSS"),
        pte: status_kib("VmPTE"),
        maps: mappings(),
    }
}

fn report(
    before: &Before,
    alive: usize,
    created: Duration,
    resumed: Duration,
    maps: usize,
    pte: u64,
) {
    let hwm = status_kib("VmHWM");
    let per = |kib: u64| kib as f64 * 1024.0 / alive.max(1) as f64;
    let ns = |d: Duration| d.as_nanos() as f64 / alive.max(1) as f64;
    println!(
        "create + switch in + suspend: {:.3} s ({:.0} ns each)",
        created.as_secs_f64(),
        ns(created)
    );
    println!(
        "resume to completion (and free): {:.3} s ({:.0} ns each)",
        resumed.as_secs_f64(),
        ns(resumed)
    );
    println!("live at once: {alive}");
    println!(
        "peak RSS: {hwm} KiB, {:.0} bytes per greenlet above the {} KiB before",
        per(hwm.saturating_sub(before.rss)),
        before.rss
    );
    println!(
        "page tables (VmPTE) with all alive: {pte} KiB, {:.0} bytes per greenlet",
        per(pte.saturating_sub(before.pte))
    );
    println!("mappings: {} before, {maps} with all alive", before.maps);
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let peer = args.first().is_some_and(|a| a == "corosensei");
    if peer {
        args.remove(0);
    }
    let arg = |n: usize, default: usize| {
        args.get(n)
            .map_or(default, |a| a.replace('_', "").parse().expect("a number"))
    };
    let count = arg(0, 1_000_000);
    let stack_size = arg(1, DEFAULT_STACK_SIZE);
    if peer {
        #[cfg(peer_corosensei)]
        corosensei_run(count, stack_size);
        #[cfg(not(peer_corosensei))]
        println!("corosensei is not available on this target");
        return;
    }
    println!("greenlet, guard mode: {:?}", guard_mode());
    println!("greenlets: {count}, stack size: {stack_size} bytes");
    let before = before();

    let mut greenlets: Vec<Greenlet> = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count {
        let made = Greenlet::builder()
            .stack_size(stack_size)
            .try_create(|x: u64| {
                let y: u64 = Greenlet::main().switch(x + 1);
                x + y
            });
        match made {
            Ok(g) => {
                let r: u64 = g.switch(i as u64);
                assert_eq!(r, i as u64 + 1);
                greenlets.push(g);
            }
            Err(e) => {
                println!("creation stopped after {i} greenlets: {e}");
                break;
            }
        }
    }
    let created = start.elapsed();
    let alive = greenlets.len();
    let maps_alive = mappings();
    let pte_alive = status_kib("VmPTE");

    let start = Instant::now();
    for (i, g) in greenlets.iter().enumerate() {
        let r: u64 = g.switch(1u64);
        assert_eq!(r, i as u64 + 1);
    }
    drop(greenlets);
    let resumed = start.elapsed();
    report(&before, alive, created, resumed, maps_alive, pte_alive);
}

/// The same with corosensei coroutines, each on its own `DefaultStack`.
#[cfg(peer_corosensei)]
fn corosensei_run(count: usize, stack_size: usize) {
    use corosensei::stack::DefaultStack;
    use corosensei::{Coroutine, CoroutineResult};

    println!("corosensei 0.3, DefaultStack (mmap + mprotect guard)");
    println!("coroutines: {count}, stack size: {stack_size} bytes");
    let before = before();
    let mut coroutines = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count as u64 {
        let stack = match DefaultStack::new(stack_size) {
            Ok(stack) => stack,
            Err(e) => {
                println!("creation stopped after {i} coroutines: {e}");
                break;
            }
        };
        let mut co = Coroutine::with_stack(stack, |yielder, x: u64| {
            let y = yielder.suspend(x + 1);
            x + y
        });
        match co.resume(i) {
            CoroutineResult::Yield(r) => assert_eq!(r, i + 1),
            CoroutineResult::Return(_) => unreachable!(),
        }
        coroutines.push(co);
    }
    let created = start.elapsed();
    let alive = coroutines.len();
    let maps_alive = mappings();
    let pte_alive = status_kib("VmPTE");
    let start = Instant::now();
    for (i, co) in coroutines.iter_mut().enumerate() {
        match co.resume(1) {
            CoroutineResult::Return(r) => assert_eq!(r, i as u64 + 1),
            CoroutineResult::Yield(_) => unreachable!(),
        }
    }
    drop(coroutines);
    let resumed = start.elapsed();
    report(&before, alive, created, resumed, maps_alive, pte_alive);
}

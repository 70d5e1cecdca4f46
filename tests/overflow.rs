//! Stack overflows in greenlets are reported, not suffered: one line on
//! stderr naming the greenlet and its stack size, then abort. Faults
//! anywhere else behave as before. Each case runs in a child process (the
//! test binary re-executed), which must print a start marker first: a child
//! that never started (say, a missing qemu loader) does not count.

use greenlet::Greenlet;
use greenlet::hub;
use std::cell::RefCell;
use std::hint::black_box;
use std::process::{Command, ExitStatus};

const CHILD_ENV: &str = "GREENLET_OVERFLOW_CHILD";
const STARTED: &str = "overflow-child-started";

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let pad = black_box([n; 32]);
    if n == u64::MAX {
        return 0;
    }
    recurse(n + 1) + pad[3]
}

#[inline(never)]
fn big_array() -> u8 {
    let buf = black_box([7u8; 256 * 1024]);
    buf[1000]
}

/// Recurses without end when dropped: an overflow from a destructor.
struct OverflowOnDrop;

impl Drop for OverflowOnDrop {
    fn drop(&mut self) {
        black_box(recurse(0));
    }
}

thread_local! {
    /// Holds a suspended greenlet until the thread exits.
    static HELD: RefCell<Option<Greenlet>> = const { RefCell::new(None) };
}

/// On a new thread, leaves a suspended greenlet that overflows its stack
/// when it is killed at thread exit by `HELD`'s destructor. `HELD` is first
/// used before the thread's first greenlet.
fn greenlet_killed_by_a_thread_local_at_exit() {
    std::thread::spawn(|| {
        HELD.with(|h| {
            let g = Greenlet::builder()
                .name("held")
                .stack_size(64 * 1024)
                .create(|()| {
                    let _boom = OverflowOnDrop;
                    Greenlet::main().switch::<(), ()>(());
                });
            g.switch::<(), ()>(());
            *h.borrow_mut() = Some(g);
        });
    })
    .join()
    .unwrap();
}

/// Leaves a hub task waiting that overflows its stack when the hub's
/// teardown kills it at thread exit.
fn leave_a_hub_task_that_overflows_when_killed() {
    let _task = hub::spawn(|| {
        let _boom = OverflowOnDrop;
        hub::sleep(std::time::Duration::from_secs(3600));
    });
    hub::sleep(std::time::Duration::from_millis(1));
}

/// Recurses `n` frames deep, then switches back to main from the deepest
/// frame: the switch's own pushes are the deepest stack accesses.
#[inline(never)]
fn dive(n: u32) {
    if n == 0 {
        Greenlet::main().switch::<(), ()>(());
    } else {
        dive(black_box(n - 1));
        black_box(n);
    }
}

fn child_case(which: &str) {
    eprintln!("{STARTED}");
    if let Some(depth) = which.strip_prefix("dive:") {
        let depth: u32 = depth.parse().unwrap();
        let g = Greenlet::builder()
            .name("diver")
            .stack_size(16 * 1024)
            .create(move |()| dive(depth));
        g.switch::<(), ()>(());
        eprintln!("overflow-child-survived");
        std::process::exit(0);
    }
    match which {
        "disabled" | "disabled_too_late" => {
            let too_late = which == "disabled_too_late";
            let before = segv_handler();
            if too_late {
                let g = Greenlet::new(|()| ());
                g.switch::<(), ()>(());
            }
            let took = greenlet::disable_overflow_handler();
            eprintln!("disable={took}");
            let g = Greenlet::builder()
                .name("deep")
                .stack_size(64 * 1024)
                .create(|()| {
                    Greenlet::main().switch::<(), ()>(());
                    recurse(0)
                });
            g.switch::<(), ()>(());
            match (before, segv_handler()) {
                (Some(before), Some(now)) => eprintln!("handler_unchanged={}", now == before),
                _ => eprintln!("handler_unchanged=unknown"),
            }
            let _: u64 = g.switch(());
        }
        "recursion" => {
            let g = Greenlet::builder()
                .name("deep")
                .stack_size(64 * 1024)
                .create(|()| recurse(0));
            let _: u64 = g.switch(());
        }
        "array" => {
            let g = Greenlet::builder()
                .name("wide")
                .stack_size(64 * 1024)
                .create(|()| big_array());
            let _: u8 = g.switch(());
        }
        "nested" => {
            let outer = Greenlet::builder().name("outer").create(|()| {
                let inner = Greenlet::builder()
                    .name("inner")
                    .stack_size(64 * 1024)
                    .create(|()| recurse(0));
                let r: u64 = inner.switch(());
                r
            });
            let _: u64 = outer.switch(());
        }
        "plain_segv" => {
            // A greenlet exists (so the handler is installed), but the fault
            // happens on the main stack, far from any guard page.
            let g = Greenlet::new(|x: u32| x);
            let _: u32 = g.switch(1u32);
            // SAFETY: none: this deliberately writes to an unmapped address
            // to raise SIGSEGV in this child process.
            unsafe { std::ptr::write_volatile(16 as *mut u64, 1) };
        }
        "thread_local_at_exit" => greenlet_killed_by_a_thread_local_at_exit(),
        // The thread-local holding the greenlet is first used after the
        // thread's first greenlet: its destructor runs before the one that
        // arms the alternate stack again at thread exit.
        "thread_local_after_a_greenlet_at_exit" => std::thread::spawn(|| {
            let g = Greenlet::new(|()| ());
            g.switch::<(), ()>(());
            HELD.with(|h| {
                let g = Greenlet::builder()
                    .name("held")
                    .stack_size(64 * 1024)
                    .create(|()| {
                        let _boom = OverflowOnDrop;
                        Greenlet::main().switch::<(), ()>(());
                    });
                g.switch::<(), ()>(());
                *h.borrow_mut() = Some(g);
            });
        })
        .join()
        .unwrap(),
        // The hub is the thread's first user of greenlets.
        "hub_at_exit" => std::thread::spawn(leave_a_hub_task_that_overflows_when_killed)
            .join()
            .unwrap(),
        "hub_after_a_greenlet_at_exit" => std::thread::spawn(|| {
            let g = Greenlet::new(|()| ());
            g.switch::<(), ()>(());
            leave_a_hub_task_that_overflows_when_killed();
        })
        .join()
        .unwrap(),
        "exit_thread_local" => {
            // The same on the thread that calls `exit`: its thread-local
            // destructors run there, after the alternate stack Rust gave
            // the thread may be gone (the main thread's is, once `main`
            // returns).
            HELD.with(|h| {
                let g = Greenlet::builder()
                    .name("held")
                    .stack_size(64 * 1024)
                    .create(|()| {
                        let _boom = OverflowOnDrop;
                        Greenlet::main().switch::<(), ()>(());
                    });
                g.switch::<(), ()>(());
                *h.borrow_mut() = Some(g);
            });
            eprintln!("overflow-child-main-returns");
            std::process::exit(0);
        }
        other => panic!("unknown case {other}"),
    }
    eprintln!("overflow-child-survived");
    std::process::exit(0);
}

/// The address of the process's `SIGSEGV` handler now.
#[cfg(unix)]
fn segv_handler() -> Option<usize> {
    // SAFETY: all-zero is a valid `sigaction`; reading the current action
    // (a null new action) changes nothing.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGSEGV, std::ptr::null(), &raw mut old),
            0
        );
        Some(old.sa_sigaction)
    }
}

/// Windows cannot list the vectored exception handlers: unknown.
#[cfg(not(unix))]
fn segv_handler() -> Option<usize> {
    None
}

/// How a child died.
#[derive(Debug, PartialEq, Eq)]
enum Death {
    /// By an abort: `SIGABRT`; on Windows `std::process::abort`'s
    /// `__fastfail`, STATUS_STACK_BUFFER_OVERRUN.
    Abort,
    /// By the fault itself: `SIGSEGV`; on Windows an unhandled access
    /// violation or stack overflow.
    Fault,
    /// Any other way (its exit code or signal).
    Other(Option<i32>),
}

#[cfg(unix)]
fn death(status: ExitStatus) -> Death {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(libc::SIGABRT) => Death::Abort,
        Some(libc::SIGSEGV) => Death::Fault,
        other => Death::Other(other),
    }
}

#[cfg(windows)]
fn death(status: ExitStatus) -> Death {
    match status.code().map(|c| c as u32) {
        Some(0xC000_0409) => Death::Abort,
        Some(0xC000_0005 | 0xC000_00FD) => Death::Fault,
        other => Death::Other(other.map(|c| c as i32)),
    }
}

#[test]
fn child_entry() {
    if let Ok(which) = std::env::var(CHILD_ENV) {
        child_case(&which);
    }
}

/// Run a case; return its stderr and how it died.
fn run(which: &str) -> (String, Death) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, which)
        .output()
        .expect("spawn child");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains(STARTED),
        "child {which} never started ({:?}): {stderr}",
        out.status
    );
    (stderr, death(out.status))
}

/// The report of an overflow in a greenlet with any name and stack size.
fn assert_reported_any(which: &str) {
    let (stderr, signal) = run(which);
    assert!(
        stderr.contains("greenlet: stack overflow in greenlet"),
        "{which}: no report (a bare SIGSEGV: {signal:?}):\n{stderr}"
    );
    assert_eq!(signal, Death::Abort, "{which}: aborts:\n{stderr}");
}

fn assert_reported(which: &str, name: &str) {
    let (stderr, signal) = run(which);
    if cfg!(feature = "asan") && !stderr.contains("greenlet: stack overflow") {
        // Under ASan a frame with a large array is laid out by ASan (with
        // redzones) and its first access can land below the guard page, in
        // no greenlet's stack: our handler passes the fault on to ASan's,
        // which reports it as a stack overflow in that function and exits.
        // Where the frame lands depends on what is mapped below the stack
        // (since arena chunks start at one slot, often another mapping), so
        // ASan classifies the fault as a stack overflow or as a SEGV in the
        // function with the large frame.
        assert!(
            stderr.contains("ERROR: AddressSanitizer: stack-overflow")
                || (stderr.contains("ERROR: AddressSanitizer: SEGV")
                    && stderr.contains("overflow::big_array")),
            "{which}: neither our report nor ASan's:\n{stderr}"
        );
        assert!(!stderr.contains("overflow-child-survived"), "{stderr}");
        return;
    }
    let line =
        format!("greenlet: stack overflow in greenlet \"{name}\" with a stack of 65536 bytes");
    assert!(
        stderr.contains(&line),
        "{which}: no report line `{line}`:\n{stderr}"
    );
    assert!(
        stderr.contains("stack_size"),
        "{which}: says how to fix:\n{stderr}"
    );
    assert_eq!(signal, Death::Abort, "{which}: aborts:\n{stderr}");
}

/// Issue 16: a guard fault inside the switch window. The sender of a
/// switch used to record the target as the running greenlet before the
/// raw switch pushed its registers on the sender's stack, so a push into
/// the sender's guard page was checked against the target's stack and died
/// as a bare SIGSEGV. This finds the deepest `dive` whose switch back to
/// main still fits (children are deterministic: same code, same stack
/// layout), then checks that one frame deeper (where the first access
/// below the usable stack is the switch's deepest push, on the CPUs where
/// the raw switch is the innermost frame) and a few more are reported as
/// the overflow of "diver".
#[test]
fn a_guard_fault_inside_a_switch_is_reported_as_the_senders_overflow() {
    let survives = |depth: u32| {
        let (stderr, signal) = run(&format!("dive:{depth}"));
        if stderr.contains("overflow-child-survived") {
            return true;
        }
        assert!(
            stderr.contains(
                "greenlet: stack overflow in greenlet \"diver\" with a stack of 16384 bytes"
            ),
            "dive:{depth}: died without the report (signal {signal:?}):\n{stderr}"
        );
        false
    };
    assert!(survives(0), "a shallow switch must fit");
    // 16-byte frames at the least: 2,048 of them do not fit in 16 KiB.
    let (mut lo, mut hi) = (0u32, 2048u32);
    assert!(!survives(hi));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if survives(mid) { lo = mid } else { hi = mid }
    }
    for depth in hi..hi + 4 {
        assert!(!survives(depth), "dive:{depth} fits, deeper than dive:{hi}");
    }
}

#[test]
fn unbounded_recursion_in_a_greenlet_is_reported() {
    assert_reported("recursion", "deep");
}

// Stack probes (which make a large frame touch the guard page instead of
// jumping past it) exist on these CPUs' Rust targets.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[test]
fn a_large_stack_array_in_a_greenlet_is_reported() {
    assert_reported("array", "wide");
}

#[test]
fn an_overflow_in_a_nested_greenlet_names_the_inner_one() {
    assert_reported("nested", "inner");
}

#[test]
fn a_segfault_outside_any_greenlet_still_kills_by_sigsegv() {
    let (stderr, signal) = run("plain_segv");
    assert!(!stderr.contains("greenlet: stack overflow"), "{stderr}");
    assert!(!stderr.contains("overflow-child-survived"), "{stderr}");
    if cfg!(feature = "asan") {
        // The previous handler is ASan's: it reports the SEGV and exits.
        assert!(stderr.contains("ERROR: AddressSanitizer: SEGV"), "{stderr}");
    } else {
        assert_eq!(signal, Death::Fault, "{stderr}");
    }
}

/// Issue 16: Rust removes a thread's alternate signal stack before the
/// thread's thread-local destructors run, and this module's own one was
/// freed by a thread-local destructor too, before the hub's teardown ran.
/// A greenlet killed then that overflows its stack died by a bare SIGSEGV.
///
/// On windows-gnu, where std frees every key-based thread-local at thread
/// exit, this checks that the greenlet layer's own state outlives them
/// (`src/os/windows/tls.rs`).
#[test]
fn an_overflow_in_a_greenlet_killed_by_a_thread_local_at_thread_exit_is_reported() {
    assert_reported_any("thread_local_at_exit");
}

/// Issue 16: the same when the thread-local was first used after the
/// thread's first greenlet, so its destructor runs before the overflow
/// module's re-arming one: dropping a suspended greenlet arms the alternate
/// stack itself before it kills.
#[test]
fn an_overflow_in_a_greenlet_killed_by_a_later_thread_local_at_thread_exit_is_reported() {
    assert_reported_any("thread_local_after_a_greenlet_at_exit");
}

#[test]
fn an_overflow_in_a_hub_task_killed_by_the_hubs_teardown_is_reported() {
    assert_reported_any("hub_at_exit");
}

#[test]
// Not on Windows: `exit` there (ExitProcess) runs no thread-local destructor
// of the calling thread; the child exits 0 without killing the greenlet.
#[cfg(not(windows))]
fn an_overflow_in_a_thread_local_destructor_run_by_exit_is_reported() {
    let (stderr, signal) = run("exit_thread_local");
    assert!(
        stderr.contains("overflow-child-main-returns"),
        "did not get to exit:\n{stderr}"
    );
    assert!(
        stderr.contains("greenlet: stack overflow in greenlet \"held\""),
        "no report (a bare SIGSEGV: {signal:?}):\n{stderr}"
    );
    assert_eq!(signal, Death::Abort, "aborts:\n{stderr}");
}

/// The same when the thread used a greenlet before the hub: the hub's
/// teardown destructor is then registered after the overflow module's, so
/// it runs before the alternate stack is armed again, and arms it itself
/// (the first thing the hub's `Teardown::drop` does).
#[test]
fn an_overflow_in_a_hub_task_killed_at_exit_after_an_earlier_greenlet_is_reported() {
    assert_reported_any("hub_after_a_greenlet_at_exit");
}

/// Issue 17: a program that owns fault handling opts out before its first
/// greenlet: the process's SIGSEGV handler is then left as it was, and an
/// overflow dies as any fault does (no report line).
#[test]
fn an_opt_out_before_the_first_greenlet_leaves_the_fault_handler_alone() {
    let (stderr, signal) = run("disabled");
    assert!(stderr.contains("disable=true"), "{stderr}");
    #[cfg(unix)] // Windows cannot list the vectored handlers
    assert!(stderr.contains("handler_unchanged=true"), "{stderr}");
    assert!(!stderr.contains("greenlet: stack overflow"), "{stderr}");
    assert!(!stderr.contains("overflow-child-survived"), "{stderr}");
    if !cfg!(feature = "asan") {
        assert_eq!(signal, Death::Fault, "{stderr}");
    }
}

/// Too late, after a greenlet: the opt-out says so, and the handler stays
/// and reports.
#[test]
fn an_opt_out_after_the_first_greenlet_is_refused_and_reports_still_come() {
    let (stderr, signal) = run("disabled_too_late");
    assert!(stderr.contains("disable=false"), "{stderr}");
    #[cfg(unix)] // Windows cannot list the vectored handlers
    assert!(stderr.contains("handler_unchanged=false"), "{stderr}");
    assert!(
        stderr.contains("greenlet: stack overflow in greenlet \"deep\""),
        "{stderr}"
    );
    assert_eq!(signal, Death::Abort, "{stderr}");
}

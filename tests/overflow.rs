//! Stack overflows in greenlets are reported, not suffered: one line on
//! stderr naming the greenlet and its stack size, then abort. Faults
//! anywhere else behave as before. Each case runs in a child process (the
//! test binary re-executed), which must print a start marker first: a child
//! that never started (say, a missing qemu loader) does not count.

use greenlet::Greenlet;
use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

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

fn child_case(which: &str) {
    eprintln!("{STARTED}");
    match which {
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
        other => panic!("unknown case {other}"),
    }
    eprintln!("overflow-child-survived");
    std::process::exit(0);
}

#[test]
fn child_entry() {
    if let Ok(which) = std::env::var(CHILD_ENV) {
        child_case(&which);
    }
}

/// Run a case; return its stderr and the signal that killed it.
fn run(which: &str) -> (String, Option<i32>) {
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
    (stderr, out.status.signal())
}

fn assert_reported(which: &str, name: &str) {
    let (stderr, signal) = run(which);
    if cfg!(feature = "asan") && !stderr.contains("greenlet: stack overflow") {
        // Under ASan a frame with a large array is laid out by ASan (with
        // redzones) and its first access can land below the guard page, in
        // no greenlet's stack: our handler passes the fault on to ASan's,
        // which reports it as a stack overflow in that function and exits.
        assert!(
            stderr.contains("ERROR: AddressSanitizer: stack-overflow"),
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
    assert_eq!(signal, Some(libc::SIGABRT), "{which}: aborts:\n{stderr}");
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
        assert_eq!(signal, Some(libc::SIGSEGV), "{stderr}");
    }
}

//! Arena stacks (`GuardMode::KernelGuard`): 100,000 greenlets suspended at
//! once in a child process with the default `vm.max_map_count`, each with a
//! working guard page, in a handful of kernel mappings.
//!
//! Runs in KernelGuard mode only (Linux 6.13+, natively): under qemu-user
//! and on older kernels the test notes that it was skipped. The child
//! process protocol is the one of tests/stack.rs: the test binary
//! re-executes itself with `--exact <test>` and `GREENLET_STACK_CHILD` set to
//! the job, and the parent checks the child's start marker.

use std::env;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::ptr;

use greenlet::Greenlet;
use greenlet::stack::{GuardMode, guard_mode, page_size};

const CHILD_ENV: &str = "GREENLET_STACK_CHILD";
const STARTED: &str = "greenlet-stack-child-started";
const TEST: &str = "hundred_thousand_guarded_greenlets_in_a_few_mappings";

/// Greenlets alive at once. A 32-bit process (i686 natively) has only 4 GiB
/// of address space: 20,000 stacks of 64 KiB + guard are 1.3 GiB of it.
const COUNT: usize = if usize::BITS >= 64 { 100_000 } else { 20_000 };
const STACK_SIZE: usize = 64 * 1024;
/// The value that tells a greenlet to write into its own guard page.
const CRASH: u64 = u64::MAX;

fn child_job() -> Option<String> {
    env::var(CHILD_ENV).ok()
}

fn started(job: &str) {
    let mut err = io::stderr().lock();
    writeln!(err, "{STARTED}: {job}").unwrap();
    err.flush().unwrap();
}

fn run_child(job: &str) -> (std::process::ExitStatus, String, String) {
    let output = Command::new(env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, job)
        .stdin(Stdio::null())
        .output()
        .expect("spawn the test binary as a child");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains(&format!("{STARTED}: {job}")),
        "the child never started {job}: {:?}\n{stdout}\n{stderr}",
        output.status
    );
    (output.status, stdout, stderr)
}

fn mapping_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}

/// Whether the kernel refuses to read the byte at `addr` with EFAULT (a
/// one-byte `write()` from there into a pipe fails). Never faults.
fn kernel_cannot_read(addr: usize) -> bool {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the kernel checks the source address itself and reports an
    // inaccessible one as EFAULT; fds[1] is our pipe's write end.
    let n = unsafe { libc::write(fds[1], addr as *const libc::c_void, 1) };
    let errno = io::Error::last_os_error().raw_os_error();
    for fd in fds {
        // SAFETY: closes the pipe made above, once.
        unsafe { libc::close(fd) };
    }
    n == -1 && errno == Some(libc::EFAULT)
}

/// Runs on a greenlet's own stack: finds its guard page, which must sit
/// exactly `STACK_SIZE` below the page-aligned top of the stack (a few pages
/// above the current frame): that page is unreadable and the one above it
/// readable. Returns 0 if there is no such page.
fn own_guard() -> usize {
    let page = page_size();
    let here = std::hint::black_box(0u8);
    let frame = ptr::from_ref(&here) as usize;
    let above = frame.next_multiple_of(page);
    (0..8)
        .map(|k| above + k * page - STACK_SIZE - page)
        .find(|&guard| kernel_cannot_read(guard) && !kernel_cannot_read(guard + page))
        .unwrap_or(0)
}

/// `COUNT` greenlets, each switched into once and suspended, with the guard
/// address each reported.
fn suspended_greenlets() -> (Vec<Greenlet>, Vec<usize>) {
    let mut greenlets = Vec::with_capacity(COUNT);
    let mut guards = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let g = Greenlet::builder()
            .stack_size(STACK_SIZE)
            .try_create(|_: u64| {
                let guard = own_guard();
                let cmd: u64 = Greenlet::main().switch(guard as u64);
                if cmd == CRASH {
                    // SAFETY: not safe, on purpose: writes into this
                    // greenlet's own guard page, which must fault; the
                    // overflow handler then reports it and aborts.
                    unsafe { ptr::write_volatile(guard as *mut u8, 1) };
                }
                cmd
            })
            .expect("create a greenlet with a 64 KiB arena stack");
        let guard: u64 = g.switch(0u64);
        guards.push(usize::try_from(guard).unwrap());
        greenlets.push(g);
    }
    (greenlets, guards)
}

#[test]
#[cfg_attr(
    feature = "asan",
    ignore = "finds each greenlet's stack by the address of a local, which ASan's \
              use-after-return mode moves to its fake stack"
)]
fn hundred_thousand_guarded_greenlets_in_a_few_mappings() {
    match child_job().as_deref() {
        Some("overflow") => {
            let (greenlets, guards) = suspended_greenlets();
            started("overflow");
            let victim = COUNT / 2;
            assert_ne!(guards[victim], 0);
            let _: u64 = greenlets[victim].switch(CRASH);
            println!("overflow-survived");
            std::process::exit(3);
        }
        Some("many") => {
            started("many");
            // The test harness's "test ... " has no newline yet.
            println!();
            println!("mode={:?}", guard_mode());
            if guard_mode() != GuardMode::KernelGuard {
                return;
            }
            let before = mapping_count();
            let (greenlets, guards) = suspended_greenlets();
            let during = mapping_count();
            assert!(greenlets.iter().all(Greenlet::is_active));
            let missing = guards.iter().filter(|&&g| g == 0).count();
            let mut distinct = guards.clone();
            distinct.sort_unstable();
            distinct.dedup();
            println!("before={before}");
            println!("during={during}");
            println!("missing_guards={missing}");
            println!("distinct_guards={}", distinct.len());
            for g in &greenlets {
                let r: u64 = g.switch(7u64);
                assert_eq!(r, 7);
                assert!(g.is_dead());
            }
            drop(greenlets);

            // Overflow one of them in a further child.
            let (status, stdout, stderr) = run_child("overflow");
            // The guard faulted: the overflow handler (src/overflow.rs)
            // recognised this greenlet's guard page, reported and aborted.
            let reported = status.signal() == Some(libc::SIGABRT)
                && stderr.contains("greenlet: stack overflow in greenlet")
                && !stdout.contains("overflow-survived");
            if !reported {
                eprintln!("grandchild: {status:?}\n{stdout}\n{stderr}");
            }
            println!("overflow_reported={reported}");
            return;
        }
        Some(_) => return,
        None => {}
    }

    let (status, stdout, stderr) = run_child("many");
    assert!(status.success(), "{status:?}\n{stdout}\n{stderr}");
    let value = |key: &str| -> &str {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in\n{stdout}\n{stderr}"))
    };
    if value("mode") != "KernelGuard" {
        eprintln!(
            "note: guard mode is {}, not KernelGuard (qemu-user or a kernel before 6.13): \
             arena stacks not tested",
            value("mode")
        );
        return;
    }
    let (before, during): (usize, usize) = (
        value("before").parse().unwrap(),
        value("during").parse().unwrap(),
    );
    eprintln!("{COUNT} suspended greenlets: mappings {before} -> {during}");
    assert!(during < 1000, "{during} mappings for {COUNT} greenlets");
    assert!(during < before + 100, "{before} -> {during} mappings");
    assert_eq!(value("missing_guards"), "0", "{stdout}");
    assert_eq!(value("distinct_guards"), COUNT.to_string(), "{stdout}");
    assert_eq!(value("overflow_reported"), "true", "{stdout}\n{stderr}");
}

//! Integration tests for `greenlet::stack`.
//!
//! These run natively and under qemu-user, so they contain no per-CPU code.
//! Tests that must crash, exhaust a process-wide limit or count the
//! process's mappings precisely run in a child process: the test binary
//! re-executes itself with `--exact <test name>` and the environment
//! variable `GREENLET_STACK_CHILD` set to the job to do. The parent checks
//! that the child printed a start marker, so a child that never started
//! (under qemu without binfmt_misc it exits 127 or 255) cannot pass.
//!
//! Guard modes: natively on Linux 6.13+ this binary runs in
//! `GuardMode::KernelGuard` (arena stacks), and
//! `all_tests_pass_in_forced_mprotect_mode` runs every test again in a child
//! with `GREENLET_GUARD_MODE=mprotect` (children inherit it), so each test
//! runs in both modes. Under qemu-user and on older kernels the mode is
//! `Mprotect` anyway. Tests whose checks differ by mode say so.
//!
//! Windows (run under Wine): there are no guard markers, so the mode is
//! always `Mprotect`, each stack one `VirtualAlloc` reservation whose guard
//! is a `PAGE_NOACCESS` page under `PAGE_GUARD` pages. The checks that ask
//! the OS (is this page accessible, how many mappings) have a Unix and a
//! Windows form (`VirtualQuery`) below; the tests that are about Unix calls
//! (`mincore`, `/proc`, `RLIMIT_AS`, `vm.max_map_count`, guard markers) are
//! `cfg(unix)`, each with its reason, and the commit limit, Windows'
//! ceiling, has a test of its own.

#[cfg(unix)] // mmap and madvise probes of qemu-user's behaviour
#[path = "common/emulation.rs"]
mod emulation;

use std::env;
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::ptr;
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

#[cfg(unix)] // the warm-window test, which needs mincore
use greenlet::stack::WARM_STACKS;
use greenlet::stack::{
    self, DEFAULT_STACK_SIZE, GUARD_MODE_ENV, GuardMode, MIN_STACK_SIZE, POOL_CAPACITY, Stack,
    guard_mode, page_size, pooled,
};

/// Environment variable that tells a re-executed test binary which child job
/// to run.
const CHILD_ENV: &str = "GREENLET_STACK_CHILD";

/// Line a child prints to stderr once it is running its job.
const STARTED: &str = "greenlet-stack-child-started";

/// Whether this process is a child that was asked to run `job`.
fn is_child(job: &str) -> bool {
    env::var(CHILD_ENV).is_ok_and(|value| value == job)
}

/// Called first in a child: prints the start marker and flushes it.
fn child_started(job: &str) {
    let mut err = io::stderr().lock();
    writeln!(err, "{STARTED}: {job}").unwrap();
    err.flush().unwrap();
    // Initialise stdout's buffer now, while memory is still plentiful.
    let mut out = io::stdout().lock();
    writeln!(out, "child {job} running").unwrap();
    out.flush().unwrap();
}

struct ChildOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl ChildOutput {
    /// The value of the first stdout line `key=value`.
    fn value(&self, key: &str) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
    }

    fn describe(&self) -> String {
        format!(
            "status: {:?}\n--- child stdout ---\n{}\n--- child stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Re-executes this test binary to run only `test` with the child job
/// `job`, and checks that it really started.
fn run_child(test: &str, job: &str) -> ChildOutput {
    run_child_with(test, job, &[])
}

/// As [`run_child`], with extra environment variables for the child.
fn run_child_with(test: &str, job: &str, envs: &[(&str, &str)]) -> ChildOutput {
    let exe = env::current_exe().expect("current_exe");
    let output = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, job)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("spawn the test binary as a child");
    let child = ChildOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        child.stderr.contains(&format!("{STARTED}: {job}")),
        "the child never started its job (under qemu-user, re-executing the \
         test binary needs binfmt_misc)\n{}",
        child.describe()
    );
    child
}

/// Lines of `/proc/self/maps`: the number of mappings of this process.
/// Running as a 32-bit guest of qemu-user (told from the evidence, see
/// `common/emulation.rs`). qemu-arm 7.2's emulated
/// `/proc/self/maps` leaves out `PROT_NONE` pages, and at the host's map
/// limit its munmap keeps host mappings and reading `/proc/self/maps` fails:
/// the tests that depend on those say so and stop there.
#[cfg(unix)]
fn qemu_32bit_guest() -> bool {
    cfg!(target_pointer_width = "32") && emulation::maps_hide_prot_none()
}

/// The number of mappings of this process: the lines of `/proc/self/maps`.
#[cfg(unix)]
fn mapping_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}

/// What `VirtualQuery` says about the region containing `addr`.
#[cfg(windows)]
fn query(addr: usize) -> Option<windows_sys::Win32::System::Memory::MEMORY_BASIC_INFORMATION> {
    use windows_sys::Win32::System::Memory::{MEMORY_BASIC_INFORMATION, VirtualQuery};
    // SAFETY: all-zero is a valid MEMORY_BASIC_INFORMATION (integers and
    // raw pointers).
    let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: VirtualQuery only reads the process's address-space
    // bookkeeping (any address is allowed) and writes `info`, whose size
    // is passed.
    let n = unsafe { VirtualQuery(addr as *const _, &raw mut info, size_of_val(&info)) };
    (n != 0).then_some(info)
}

/// The number of mappings of this process, in Windows' terms: the
/// allocations (`VirtualAlloc` reservations, images, sections), each
/// counted at the region where it starts, walking the whole user address
/// space with `VirtualQuery`.
#[cfg(windows)]
fn mapping_count() -> usize {
    use windows_sys::Win32::System::Memory::MEM_FREE;
    let (mut addr, mut count) = (0usize, 0);
    while let Some(info) = query(addr) {
        if info.State != MEM_FREE && info.AllocationBase == info.BaseAddress {
            count += 1;
        }
        match (info.BaseAddress as usize).checked_add(info.RegionSize) {
            Some(next) if next > addr => addr = next,
            _ => break,
        }
    }
    assert!(count > 0, "VirtualQuery found no allocation");
    count
}

/// Bytes of guard below every stack: one page on Unix; on Windows a
/// `PAGE_NOACCESS` page under 32 KiB of `PAGE_GUARD` pages, the room the
/// exception dispatcher needs on an overflowed stack (`os/windows/faults.rs`).
fn guard_len() -> usize {
    if cfg!(windows) {
        page_size() + round_to_page(32 * 1024)
    } else {
        page_size()
    }
}

/// Rounds `n` up to a multiple of the page size.
fn round_to_page(n: usize) -> usize {
    n.next_multiple_of(page_size())
}

#[test]
fn stack_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Stack>();
}

#[test]
fn sizes_are_rounded_and_layout_is_consistent() {
    let page = page_size();
    assert!(page.is_power_of_two());

    let small = Stack::new(1).unwrap();
    assert_eq!(small.size(), round_to_page(MIN_STACK_SIZE));
    assert_eq!(Stack::new(0).unwrap().size(), round_to_page(MIN_STACK_SIZE));

    let odd = Stack::new(page * 3 + 1).unwrap();
    assert_eq!(odd.size(), round_to_page(MIN_STACK_SIZE.max(page * 4)));
    if page * 4 >= MIN_STACK_SIZE {
        assert_eq!(odd.size(), page * 4);
    }

    let big = Stack::new(MIN_STACK_SIZE * 8 + 1).unwrap();
    assert_eq!(big.size(), round_to_page(MIN_STACK_SIZE * 8 + 1));

    for stack in [&small, &odd, &big] {
        let top = stack.top() as usize;
        let bottom = stack.bottom() as usize;
        assert_eq!(top % page, 0, "top not page aligned: {stack:?}");
        assert_eq!(bottom % page, 0, "bottom not page aligned: {stack:?}");
        assert_eq!(top - bottom, stack.size());

        let guard = stack.guard();
        assert_eq!(guard.end, bottom, "guard must sit right below bottom");
        assert_eq!(guard.len(), guard_len(), "{stack:?}");

        assert!(stack.contains(bottom));
        assert!(stack.contains(top - 1));
        assert!(stack.contains(bottom + stack.size() / 2));
        assert!(!stack.contains(top));
        assert!(!stack.contains(bottom - 1));
        assert!(!stack.contains(guard.start));
        assert!(!stack.contains(0));
    }
}

#[test]
fn usable_memory_is_zeroed_and_writable() {
    let page = page_size();
    for size in [
        MIN_STACK_SIZE,
        DEFAULT_STACK_SIZE,
        3 * DEFAULT_STACK_SIZE + 5,
    ] {
        let stack = Stack::new(size).unwrap();
        let bottom = stack.bottom();
        let pages = stack.size() / page;
        for i in 0..pages {
            for offset in [i * page, i * page + page - 1] {
                // SAFETY: `offset < size()`, so the byte lies in the usable,
                // read/write part of a mapping `stack` keeps alive.
                unsafe {
                    let p = bottom.add(offset);
                    assert_eq!(ptr::read_volatile(p), 0, "fresh memory not zero");
                    ptr::write_volatile(p, (offset % 251) as u8 + 1);
                }
            }
        }
        for i in 0..pages {
            for offset in [i * page, i * page + page - 1] {
                // SAFETY: as above.
                let value = unsafe { ptr::read_volatile(bottom.add(offset)) };
                assert_eq!(value, (offset % 251) as u8 + 1);
            }
        }
        // The byte just below top() is the first a new frame would use.
        // SAFETY: top() - 1 is the highest usable byte.
        unsafe { ptr::write_volatile(stack.top().sub(1), 0xAA) };
    }
}

/// Whether `status` is the death of a process by a fault in a guard: on
/// Unix `SIGSEGV` (only: a `PROT_NONE` page or a guard marker faults with
/// `SIGSEGV` on Linux, natively and under qemu-user; `SIGBUS` would mean the
/// access hit something other than our guard).
#[cfg(unix)]
fn died_of_guard_fault(status: ExitStatus) -> bool {
    status.signal() == Some(libc::SIGSEGV)
}

/// Whether `status` is the death of a process by a fault in a guard: on
/// Windows an unhandled `STATUS_ACCESS_VIOLATION` (the `PAGE_NOACCESS`
/// page) or `STATUS_GUARD_PAGE_VIOLATION` (a `PAGE_GUARD` page, with no
/// overflow handler installed, as here: no greenlet ever ran).
#[cfg(windows)]
fn died_of_guard_fault(status: ExitStatus) -> bool {
    use windows_sys::Win32::Foundation::{STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION};
    let code = status.code();
    code == Some(STATUS_ACCESS_VIOLATION) || code == Some(STATUS_GUARD_PAGE_VIOLATION)
}

/// Lets the child crash without leaving a core file (Unix; nothing to do
/// on Windows).
fn no_core_file() {
    #[cfg(unix)]
    {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `no_core` is a valid rlimit that outlives the call.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    }
}

#[test]
fn guard_page_write_kills_the_child() {
    const TEST: &str = "guard_page_write_kills_the_child";
    // The lowest and the highest byte of the guard: on Unix the same page,
    // on Windows the PAGE_NOACCESS page and the top PAGE_GUARD page.
    for (job, at_top) in [("guard_write_low", false), ("guard_write_high", true)] {
        if is_child(job) {
            no_core_file();
            let stack = Stack::new(MIN_STACK_SIZE).unwrap();
            child_started(job);
            let guard = stack.guard();
            let target = if at_top { guard.end - 1 } else { guard.start } as *mut u8;
            // SAFETY: not safe at all, on purpose: this writes to the
            // guard, which must kill this (child) process.
            unsafe { ptr::write_volatile(target, 1) };
            println!("guard-write-survived");
            std::process::exit(3);
        }
    }
    if env::var_os(CHILD_ENV).is_some() {
        return; // a child of another job
    }
    for job in ["guard_write_low", "guard_write_high"] {
        let child = run_child(TEST, job);
        assert!(
            !child.stdout.contains("guard-write-survived"),
            "{job}: {}",
            child.describe()
        );
        if cfg!(feature = "asan") {
            // ASan's SIGSEGV handler reports the fault and exits instead.
            assert!(
                child.stderr.contains("ERROR: AddressSanitizer: SEGV"),
                "{job}: {}",
                child.describe()
            );
            continue;
        }
        assert!(
            died_of_guard_fault(child.status),
            "{job}: the child must die of the guard's fault\n{}",
            child.describe()
        );
    }
}

/// `None` if the kernel can read the byte at `addr` (a one-byte `write()`
/// from there into a pipe succeeds), else the errno. Never faults.
#[cfg(unix)]
fn kernel_read_errno(addr: usize) -> Option<i32> {
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
    if n == 1 { None } else { errno }
}

/// An anonymous private mapping of `pages` pages, unmapped when dropped:
/// for checking what the kernel (or an emulator) really does, without the
/// crate's code.
#[cfg(unix)]
struct Scratch {
    base: *mut u8,
    len: usize,
}

#[cfg(unix)]
impl Scratch {
    fn new(pages: usize) -> Scratch {
        let len = pages * page_size();
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
        Scratch {
            base: p.cast(),
            len,
        }
    }
}

#[cfg(unix)]
impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// Whether `madvise(MADV_GUARD_INSTALL)` really guards a page here, seen
/// from outside the crate: the kernel cannot read the page afterwards.
/// (qemu-user accepts the call but installs nothing; kernels before 6.13
/// refuse it.)
#[cfg(unix)]
fn kernel_guards_work() -> bool {
    const MADV_GUARD_INSTALL: libc::c_int = 102;
    let m = Scratch::new(2);
    // SAFETY: the first page of our own scratch mapping.
    let rc = unsafe { libc::madvise(m.base.cast(), page_size(), MADV_GUARD_INSTALL) };
    rc == 0 && kernel_read_errno(m.base as usize) == Some(libc::EFAULT)
}

/// Whether the OS itself refuses access to the byte at `addr`, asked
/// without touching it: on Unix the kernel cannot read it (`EFAULT`).
#[cfg(unix)]
fn guard_is_inaccessible(addr: usize) -> bool {
    kernel_read_errno(addr) == Some(libc::EFAULT)
}

/// Whether the OS itself refuses access to the byte at `addr`, asked
/// without touching it: on Windows its page is committed `PAGE_NOACCESS`
/// or carries `PAGE_GUARD` (`VirtualQuery`).
#[cfg(windows)]
fn guard_is_inaccessible(addr: usize) -> bool {
    use windows_sys::Win32::System::Memory::{MEM_COMMIT, PAGE_GUARD, PAGE_NOACCESS};
    query(addr).is_some_and(|info| {
        info.State == MEM_COMMIT
            && (info.Protect == PAGE_NOACCESS || info.Protect & PAGE_GUARD != 0)
    })
}

#[test]
#[cfg(windows)] // the Unix form below reads /proc/self/maps
fn guard_page_below_bottom_is_inaccessible_and_rest_is_not() {
    use windows_sys::Win32::System::Memory::{
        MEM_COMMIT, PAGE_GUARD, PAGE_NOACCESS, PAGE_READWRITE,
    };
    let page = page_size();
    for size in [MIN_STACK_SIZE, DEFAULT_STACK_SIZE] {
        let stack = Stack::new(size).unwrap();
        let guard = stack.guard();
        let at = |addr: usize| query(addr).expect("VirtualQuery");
        // One reservation, starting at the guard, all of it committed.
        for addr in [
            guard.start,
            guard.end - 1,
            stack.bottom() as usize,
            stack.top() as usize - 1,
        ] {
            let info = at(addr);
            assert_eq!(
                info.AllocationBase as usize, guard.start,
                "{addr:#x} {stack:?}"
            );
            assert_eq!(info.State, MEM_COMMIT, "{addr:#x} {stack:?}");
        }
        // The lowest page faults on every access, the rest of the guard on
        // the first one; the usable bytes are plain read/write memory.
        assert_eq!(at(guard.start).Protect, PAGE_NOACCESS, "{stack:?}");
        for addr in [guard.start + page, guard.end - 1] {
            assert_eq!(
                at(addr).Protect,
                PAGE_READWRITE | PAGE_GUARD,
                "{addr:#x} {stack:?}"
            );
        }
        for addr in [stack.bottom() as usize, stack.top() as usize - 1] {
            assert_eq!(at(addr).Protect, PAGE_READWRITE, "{addr:#x} {stack:?}");
            assert!(!guard_is_inaccessible(addr));
        }
        assert!(guard_is_inaccessible(guard.start) && guard_is_inaccessible(guard.end - 1));
    }
}

#[test]
#[cfg(unix)] // /proc/self/maps and the kernel's EFAULT; the Windows form is above
fn guard_page_below_bottom_is_inaccessible_and_rest_is_not() {
    // Without crashing: read the pages' permissions from /proc/self/maps.
    let stack = Stack::new(DEFAULT_STACK_SIZE).unwrap();
    let guard = stack.guard();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let perms_at = |addr: usize| -> Option<String> {
        maps.lines().find_map(|line| {
            let (range, rest) = line.split_once(' ')?;
            let (lo, hi) = range.split_once('-')?;
            let lo = usize::from_str_radix(lo, 16).ok()?;
            let hi = usize::from_str_radix(hi, 16).ok()?;
            (lo..hi)
                .contains(&addr)
                .then(|| rest.split(' ').next().unwrap_or("").to_owned())
        })
    };
    // In both modes the kernel itself must refuse to read the guard page
    // (EFAULT) and read the usable bytes around it.
    assert_eq!(
        kernel_read_errno(guard.start),
        Some(libc::EFAULT),
        "{stack:?}"
    );
    assert_eq!(
        kernel_read_errno(guard.end - 1),
        Some(libc::EFAULT),
        "{stack:?}"
    );
    assert_eq!(
        kernel_read_errno(stack.bottom() as usize),
        None,
        "{stack:?}"
    );
    assert_eq!(
        kernel_read_errno(stack.top() as usize - 1),
        None,
        "{stack:?}"
    );
    if guard_mode() == GuardMode::KernelGuard {
        // Mode-specific: a kernel guard marker lives only in the page
        // tables, so /proc/self/maps shows the guard inside the read/write
        // arena mapping (the `---p` check below runs in the forced-mprotect
        // rerun).
        let perms = perms_at(guard.start).expect("guard page is in an arena mapping");
        assert!(perms.starts_with("rw"), "arena perms {perms}");
        return;
    }
    // Mprotect mode: the guard is its own PROT_NONE mapping.
    let Some(guard_perms) = perms_at(guard.start) else {
        assert!(qemu_32bit_guest(), "guard page not in /proc/self/maps");
        eprintln!("note: qemu's /proc/self/maps omits PROT_NONE pages; not checked");
        return;
    };
    assert!(guard_perms.starts_with("---"), "guard perms {guard_perms}");
    let usable_perms = perms_at(stack.bottom() as usize).expect("bottom is mapped");
    assert!(
        usable_perms.starts_with("rw"),
        "usable perms {usable_perms}"
    );
    let top_perms = perms_at(stack.top() as usize - 1).expect("top - 1 is mapped");
    assert!(top_perms.starts_with("rw"), "usable perms {top_perms}");
}

#[test]
fn pool_reuses_released_stacks() {
    // A fresh thread starts with an empty pool.
    thread::spawn(|| {
        assert_eq!(pooled(), 0);

        let first = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(first.size(), round_to_page(DEFAULT_STACK_SIZE));
        let first_bottom = first.bottom();
        first.release();
        assert_eq!(pooled(), 1);

        // A request that rounds to the default size is served from the pool.
        let again = Stack::acquire(DEFAULT_STACK_SIZE - 1).unwrap();
        assert_eq!(again.bottom(), first_bottom, "the pooled stack is reused");
        assert_eq!(pooled(), 0);
        again.release();
        assert_eq!(pooled(), 1);

        // Stack::new never takes from the pool.
        let fresh = Stack::new(DEFAULT_STACK_SIZE).unwrap();
        assert_ne!(fresh.bottom(), first_bottom);
        assert_eq!(pooled(), 1);
        drop(fresh);

        // Other sizes are neither taken from nor put into the pool.
        let small = Stack::acquire(MIN_STACK_SIZE).unwrap();
        assert_ne!(small.bottom(), first_bottom);
        assert_eq!(pooled(), 1);
        small.release();
        assert_eq!(pooled(), 1);
        let large = Stack::acquire(2 * DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(pooled(), 1);
        large.release();
        assert_eq!(pooled(), 1);

        // The pool never holds more than POOL_CAPACITY stacks.
        let held: Vec<Stack> = (0..POOL_CAPACITY + 36)
            .map(|_| Stack::acquire(DEFAULT_STACK_SIZE).unwrap())
            .collect();
        assert_eq!(pooled(), 0);
        let addresses: Vec<*mut u8> = held.iter().map(Stack::bottom).collect();
        for (i, stack) in held.into_iter().enumerate() {
            stack.release();
            assert_eq!(pooled(), (i + 1).min(POOL_CAPACITY));
        }
        assert_eq!(pooled(), POOL_CAPACITY);

        // Last in, first out: the next acquire gets the last stack pooled.
        let reused = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(pooled(), POOL_CAPACITY - 1);
        assert_eq!(reused.bottom(), addresses[POOL_CAPACITY - 1]);
    })
    .join()
    .unwrap();
}

#[test]
fn pool_keeps_mapping_count_bounded() {
    const JOB: &str = "pool_bounded";
    const ROUNDS: usize = 100_000;
    const BATCH: usize = 1000;
    if is_child(JOB) {
        child_started(JOB);
        let before = mapping_count();
        for _ in 0..ROUNDS {
            Stack::acquire(DEFAULT_STACK_SIZE).unwrap().release();
        }
        let after_single = mapping_count();
        let mut held = Vec::with_capacity(BATCH);
        let mut peak = 0;
        for round in 0..ROUNDS / BATCH {
            held.extend((0..BATCH).map(|_| Stack::acquire(DEFAULT_STACK_SIZE).unwrap()));
            if round == 0 {
                peak = mapping_count();
            }
            held.drain(..).for_each(Stack::release);
        }
        let after_batches = mapping_count();
        println!("before={before}");
        println!("after_single={after_single}");
        println!("peak={peak}");
        println!("after_batches={after_batches}");
        println!("pooled={}", pooled());
        println!("mode={:?}", guard_mode());
        return;
    }

    let child = run_child("pool_keeps_mapping_count_bounded", JOB);
    assert!(child.status.success(), "{}", child.describe());
    let get = |key: &str| -> usize {
        child
            .value(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in child output\n{}", child.describe()))
    };
    let (before, single, peak, batches) = (
        get("before"),
        get("after_single"),
        get("peak"),
        get("after_batches"),
    );
    eprintln!(
        "mappings: before {before}, after {ROUNDS} single acquire/release {single}, \
         holding {BATCH} stacks {peak}, after {} batches {batches}",
        ROUNDS / BATCH
    );
    let bound = before + 2 * POOL_CAPACITY + 16;
    assert!(single <= bound, "{single} > {bound}\n{}", child.describe());
    assert!(
        batches <= bound,
        "{batches} > {bound}\n{}",
        child.describe()
    );
    match child.value("mode") {
        // Sanity check that counting works: 1000 live stacks are ~2000
        // mappings (Unix), or 1000 allocations (Windows).
        Some("Mprotect") => assert!(
            peak >= before + BATCH,
            "holding {BATCH} stacks should add mappings: {peak} vs {before}"
        ),
        // Mode-specific: arena stacks share a few chunk mappings.
        Some("KernelGuard") => assert!(
            peak <= before + 16,
            "holding {BATCH} arena stacks added {} mappings",
            peak - before
        ),
        mode => panic!("unknown mode {mode:?}\n{}", child.describe()),
    }
    assert_eq!(get("pooled"), POOL_CAPACITY);
}

#[test]
#[cfg(unix)] // vm.max_map_count is Linux's; Windows has no mapping-count limit
fn map_count_exhaustion_is_an_out_of_memory_error() {
    const JOB: &str = "map_count";
    const MAX_STACKS: usize = 1_000_000;
    if qemu_32bit_guest() {
        eprintln!("note: qemu-user with a 32-bit guest breaks at the host's map limit; not run");
        return;
    }
    if is_child(JOB) {
        child_started(JOB);
        let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        println!("max_map_count={limit:?}");
        if guard_mode() == GuardMode::KernelGuard {
            // Mode-specific: arena stacks do not use a mapping each, so the
            // map count cannot run out; this test runs in the
            // forced-mprotect rerun (all_tests_pass_in_forced_mprotect_mode).
            println!("skip=arena stacks (KernelGuard mode) cannot exhaust vm.max_map_count");
            return;
        }
        if limit.is_some_and(|max| max / 2 > MAX_STACKS - 10_000) {
            println!("skip=vm.max_map_count too high to exhaust in {MAX_STACKS} stacks");
            return;
        }
        // Reserve up front: growing the vector needs memory exactly when
        // mappings have run out.
        let mut held = Vec::with_capacity(limit.map_or(MAX_STACKS, |max| max / 2 + 1024));
        for _ in 0..MAX_STACKS {
            match Stack::new(MIN_STACK_SIZE) {
                Ok(stack) => held.push(stack),
                Err(err) => {
                    let count = held.len();
                    // Make room again before formatting anything.
                    held.truncate(count.saturating_sub(100));
                    let mappings = mapping_count();
                    println!("stacks={count}");
                    println!("mappings_after_freeing_100={mappings}");
                    println!("error_kind={:?}", err.kind());
                    println!("error_text={err}");
                    let source = std::error::Error::source(&err)
                        .and_then(|s| s.downcast_ref::<io::Error>())
                        .and_then(io::Error::raw_os_error);
                    println!("error_source_errno={source:?}");
                    // Nothing was lost: with room again, mapping works.
                    let again = Stack::new(MIN_STACK_SIZE).map(|s| s.size());
                    println!("recovered={}", again.is_ok());
                    return;
                }
            }
        }
        panic!("mapped {MAX_STACKS} stacks without ever failing");
    }

    let child = run_child("map_count_exhaustion_is_an_out_of_memory_error", JOB);
    assert!(child.status.success(), "{}", child.describe());
    if let Some(reason) = child.value("skip") {
        eprintln!("NOTE: exhaustion by map count not tested: {reason}");
        return;
    }
    eprintln!(
        "stacks mapped before failure: {:?} (max_map_count {:?}); error: {:?}",
        child.value("stacks"),
        child.value("max_map_count"),
        child.value("error_text")
    );
    assert_eq!(
        child.value("error_kind"),
        Some("OutOfMemory"),
        "{}",
        child.describe()
    );
    let text = child.value("error_text").unwrap();
    for needle in ["greenlet", "vm.max_map_count", "mappings", "sysctl"] {
        assert!(text.contains(needle), "{needle:?} missing from {text:?}");
    }
    assert_eq!(
        child.value("error_source_errno"),
        Some(format!("Some({})", libc::ENOMEM).as_str()),
        "{}",
        child.describe()
    );
    assert_eq!(
        child.value("recovered"),
        Some("true"),
        "{}",
        child.describe()
    );
    let stacks: usize = child.value("stacks").unwrap().parse().unwrap();
    assert!(stacks > 1000, "only {stacks} stacks fit");
}

/// Bytes of address space this process uses (`VmSize` in /proc/self/status).
#[cfg(unix)]
fn vm_size() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmSize:"))
        .expect("VmSize in /proc/self/status");
    let kib: usize = line
        .trim_start_matches("VmSize:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    // Saturating: under qemu this is the emulator's size, which can exceed
    // a 32-bit guest's usize.
    kib.saturating_mul(1024)
}

#[test]
#[cfg(unix)] // RLIMIT_AS; Windows' ceiling, the commit limit, has the test below
fn rlimit_as_exhaustion_is_an_out_of_memory_error() {
    const JOB: &str = "rlimit_as";
    const HUGE: usize = 1 << 30;
    if qemu_32bit_guest() {
        // VmSize is the emulator's (over 4 GiB), so no RLIMIT_AS below it
        // can be expressed for the 32-bit guest.
        eprintln!("note: RLIMIT_AS exhaustion not run under qemu with a 32-bit guest");
        return;
    }
    if is_child(JOB) {
        child_started(JOB);
        let wanted = vm_size().saturating_add(64 << 20);
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `old` is a valid, writable rlimit that outlives the call.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut old) }, 0);
        let new = libc::rlimit {
            rlim_cur: libc::rlim_t::try_from(wanted).unwrap(),
            rlim_max: old.rlim_max,
        };
        // SAFETY: `new` is a valid rlimit that outlives the call.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &new) };
        assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
        let mut now = old;
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut now) }, 0);
        if now.rlim_cur != new.rlim_cur {
            // qemu-user accepts setrlimit(RLIMIT_AS) but ignores it, because
            // the limit would apply to the emulator itself; getrlimit then
            // still reports the old value.
            println!("skip=setrlimit(RLIMIT_AS) reported success but was not applied");
            return;
        }
        match Stack::new(HUGE) {
            Ok(stack) => println!("huge_mapped={}", stack.size()),
            Err(err) => {
                println!("error_kind={:?}", err.kind());
                println!("error_text={err}");
            }
        }
        let small = Stack::new(MIN_STACK_SIZE).map(|s| s.size());
        println!("small_ok={}", small.is_ok());
        let default = Stack::acquire(DEFAULT_STACK_SIZE).map(|s| s.size());
        println!("default_ok={}", default.is_ok());
        return;
    }

    let child = run_child("rlimit_as_exhaustion_is_an_out_of_memory_error", JOB);
    assert!(child.status.success(), "{}", child.describe());
    if let Some(reason) = child.value("skip") {
        eprintln!("NOTE: exhaustion by RLIMIT_AS not tested: {reason}");
        return;
    }
    eprintln!("RLIMIT_AS error: {:?}", child.value("error_text"));
    assert_eq!(
        child.value("error_kind"),
        Some("OutOfMemory"),
        "{}",
        child.describe()
    );
    let text = child.value("error_text").unwrap();
    for needle in ["greenlet", &HUGE.to_string(), "RLIMIT_AS", "ulimit"] {
        assert!(text.contains(needle), "{needle:?} missing from {text:?}");
    }
    assert_eq!(
        child.value("small_ok"),
        Some("true"),
        "{}",
        child.describe()
    );
    assert_eq!(
        child.value("default_ok"),
        Some("true"),
        "{}",
        child.describe()
    );
}

#[test]
fn absurd_sizes_are_errors_not_panics() {
    for size in [usize::MAX, usize::MAX - 1, usize::MAX / 2 + 1] {
        for result in [Stack::new(size), Stack::acquire(size)] {
            let err = result.expect_err("an absurd size must fail");
            assert!(
                matches!(
                    err.kind(),
                    io::ErrorKind::InvalidInput | io::ErrorKind::OutOfMemory
                ),
                "{size}: {err:?}"
            );
            assert!(err.to_string().contains("greenlet"), "{err}");
        }
    }
    assert_eq!(
        Stack::new(usize::MAX).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );

    // Representable, but larger than any address space: the kernel refuses
    // it. (On 32-bit targets a quarter of the address space may well fit.)
    if usize::BITS == 64 {
        let err = Stack::new(usize::MAX / 4).unwrap_err();
        if env::var_os("GREENLET_UNDER_VALGRIND").is_some() || cfg!(windows) {
            // Valgrind's own mmap (ci/valgrind.sh sets this variable)
            // refuses a length it cannot place with EINVAL, where Linux
            // says ENOMEM. So does VirtualAlloc (under Wine:
            // ERROR_INVALID_PARAMETER) for a size beyond the user address
            // space; the commit limit has its own test.
            assert!(
                matches!(
                    err.kind(),
                    io::ErrorKind::OutOfMemory | io::ErrorKind::InvalidInput
                ),
                "{err}"
            );
        } else {
            assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
        }
        // The limits the OS layer names: mappings on Unix, the commit
        // limit on Windows.
        let limit = if cfg!(windows) {
            "commit limit"
        } else {
            "vm.max_map_count"
        };
        assert!(err.to_string().contains(limit), "{err}");
    }
}

/// The commit limit: memory plus paging file (Windows' `ullTotalPageFile`).
///
/// Wine's `GlobalMemoryStatusEx` answers from a cache for a second after a
/// call, and marks the cache fresh before it fills it: a thread that asks
/// while another fills it gets zeros (seen here when another test's stack
/// error read the address space at the same time). So a zero is asked
/// again, a little later.
#[cfg(windows)]
fn commit_limit() -> u64 {
    use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};
    for _ in 0..200 {
        // SAFETY: all-zero is a valid MEMORYSTATUSEX (plain integers).
        let mut status: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
        status.dwLength = size_of::<MEMORYSTATUSEX>() as u32;
        // SAFETY: `status` is a writable MEMORYSTATUSEX whose dwLength is
        // set; the function writes only into it.
        let ok = unsafe { GlobalMemoryStatusEx(&raw mut status) };
        assert_ne!(
            ok,
            0,
            "GlobalMemoryStatusEx: {}",
            io::Error::last_os_error()
        );
        if status.ullTotalPageFile != 0 {
            return status.ullTotalPageFile;
        }
        thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("GlobalMemoryStatusEx kept reporting a commit limit of 0");
}

#[test]
#[cfg(windows)] // the counterpart of the RLIMIT_AS tests above
fn commit_limit_exhaustion_is_an_out_of_memory_error() {
    // A stack is committed whole, so one larger than the commit limit
    // (memory plus paging file) cannot be made. Under Wine, the commit is
    // an mmap that Linux's overcommit heuristic refuses past memory plus
    // swap, which is what Wine reports as the commit limit.
    let limit = commit_limit();
    let huge = usize::try_from(limit).unwrap().saturating_add(1 << 30);
    let held = Stack::new(MIN_STACK_SIZE).unwrap();
    let err = Stack::new(huge).expect_err("a stack beyond the commit limit");
    eprintln!("commit limit {limit}: {err}");
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
    let text = err.to_string();
    for needle in [
        "greenlet",
        &huge.to_string(),
        "VirtualAlloc",
        "commit limit",
        "paging file",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from {text:?}");
    }
    // Nothing was lost: stacks are made as before, the one held still works.
    let again = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
    // SAFETY: top() - 1 is the highest usable byte of each live stack.
    unsafe {
        ptr::write_volatile(again.top().sub(1), 1);
        ptr::write_volatile(held.top().sub(1), 1);
    }
}

#[test]
fn pools_are_per_thread() {
    let released = Arc::new(Barrier::new(2));
    let checked = Arc::new(Barrier::new(2));
    let (tx, rx) = mpsc::channel();

    let a = {
        let (released, checked) = (released.clone(), checked.clone());
        thread::spawn(move || {
            assert_eq!(pooled(), 0);
            let stack = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
            let bottom = stack.bottom() as usize;
            stack.release();
            assert_eq!(pooled(), 1);
            tx.send(bottom).unwrap();
            released.wait();
            checked.wait();
            // Still ours, untouched by the other thread.
            assert_eq!(pooled(), 1);
            let again = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
            assert_eq!(again.bottom() as usize, bottom);
            // Hand a stack to the other thread's pool by moving it there.
            again
        })
    };
    let b = thread::spawn(move || {
        let a_bottom = rx.recv().unwrap();
        released.wait();
        assert_eq!(pooled(), 0, "thread A's pool leaked into thread B");
        let mine = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
        assert_ne!(mine.bottom() as usize, a_bottom);
        mine.release();
        assert_eq!(pooled(), 1);
        checked.wait();
        a_bottom
    });

    let from_a = a.join().unwrap();
    let a_bottom = b.join().unwrap();
    assert_eq!(from_a.bottom() as usize, a_bottom);

    // A stack moved to another thread is released into that thread's pool.
    thread::spawn(move || {
        assert_eq!(pooled(), 0);
        from_a.release();
        assert_eq!(pooled(), 1);
        let again = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(again.bottom() as usize, a_bottom);
    })
    .join()
    .unwrap();
}

/// Releases its stack when the thread-local holding it is destroyed.
struct ReleaseOnDrop(Option<Stack>);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Some(stack) = self.0.take() {
            stack.release();
        }
        // Also exercise the other entry points during destruction.
        let _ = stack::pooled();
        if let Ok(stack) = Stack::acquire(DEFAULT_STACK_SIZE) {
            stack.release();
        }
    }
}

thread_local! {
    static HOLDER: std::cell::RefCell<ReleaseOnDrop> =
        const { std::cell::RefCell::new(ReleaseOnDrop(None)) };
}

#[test]
fn release_during_thread_exit_does_not_panic() {
    // Thread-local destructors run in reverse order of first use on Linux;
    // try both orders so that release() runs both before and after the
    // pool's own destructor.
    for pool_first in [true, false] {
        thread::spawn(move || {
            if pool_first {
                Stack::acquire(DEFAULT_STACK_SIZE).unwrap().release();
            }
            HOLDER.with(|holder| {
                holder.borrow_mut().0 = Some(Stack::acquire(DEFAULT_STACK_SIZE).unwrap());
            });
            if !pool_first {
                Stack::acquire(DEFAULT_STACK_SIZE).unwrap().release();
            }
        })
        .join()
        .expect("thread exit with a pending release must not panic");
    }
}

/// The running kernel's (major, minor) version, from `uname`.
#[cfg(unix)]
fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: `utsname` is plain old data; all zeroes is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname that outlives the call.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    // SAFETY: uname stores a NUL-terminated string in `release`.
    let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
    let release = release.to_str().ok()?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[test]
fn guard_mode_probe_picks_the_right_mode() {
    const JOB: &str = "forced_mode";
    if is_child(JOB) {
        child_started(JOB);
        println!("mode={:?}", guard_mode());
        let stack = Stack::new(MIN_STACK_SIZE).unwrap();
        println!(
            "guard_inaccessible={}",
            guard_is_inaccessible(stack.guard().start)
        );
        return;
    }
    let mode = guard_mode();
    let forced = env::var_os(GUARD_MODE_ENV).is_some_and(|v| v == "mprotect");
    // The evidence the probe must go by, gathered here independently: a
    // kernel that accepts MADV_GUARD_INSTALL may still install nothing
    // (qemu-user does exactly that). Windows has no guard markers.
    #[cfg(unix)]
    let (version, works) = (kernel_version(), kernel_guards_work());
    #[cfg(windows)]
    let (version, works) = (None::<(u32, u32)>, false);
    eprintln!(
        "guard mode {mode:?} (kernel {version:?}, guards work: {works}, forced mprotect: {forced})"
    );
    if forced || !works {
        assert_eq!(mode, GuardMode::Mprotect);
    } else {
        assert_eq!(mode, GuardMode::KernelGuard, "kernel {version:?}");
    }
    assert_eq!(guard_mode(), mode, "the mode is decided once");

    // The environment variable forces the fallback.
    let child = run_child_with(
        "guard_mode_probe_picks_the_right_mode",
        JOB,
        &[(GUARD_MODE_ENV, "mprotect")],
    );
    assert!(child.status.success(), "{}", child.describe());
    assert_eq!(
        child.value("mode"),
        Some("Mprotect"),
        "{}",
        child.describe()
    );
    assert_eq!(
        child.value("guard_inaccessible"),
        Some("true"),
        "{}",
        child.describe()
    );
}

#[test]
fn all_tests_pass_in_forced_mprotect_mode() {
    const NAME: &str = "all_tests_pass_in_forced_mprotect_mode";
    if guard_mode() == GuardMode::Mprotect {
        eprintln!("note: already in Mprotect mode; no rerun needed");
        return;
    }
    let exe = env::current_exe().expect("current_exe");
    let output = Command::new(exe)
        .args(["--skip", NAME, "--test-threads=2"])
        .env(GUARD_MODE_ENV, "mprotect")
        .stdin(Stdio::null())
        .output()
        .expect("spawn the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok"),
        "the suite failed with GREENLET_GUARD_MODE=mprotect: {:?}\n--- stdout ---\n{stdout}\n\
         --- stderr ---\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("guard_mode_probe_picks_the_right_mode ... ok"),
        "{stdout}"
    );
}

/// Which of the pages in `[addr, addr + len)` are resident (`mincore`).
#[cfg(unix)]
fn resident_pages(addr: *mut u8, len: usize) -> usize {
    let page = page_size();
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: `addr` is page aligned, `[addr, addr + len)` is mapped (a live
    // stack's usable part or a given-back slot of an arena chunk still in
    // use), and `vec` has one byte per page.
    let rc = unsafe { libc::mincore(addr.cast(), len, vec.as_mut_ptr().cast()) };
    assert_eq!(rc, 0, "mincore: {}", io::Error::last_os_error());
    vec.iter().filter(|&&b| b & 1 != 0).count()
}

/// Whether the page at `addr` is mapped: mincore fails with ENOMEM on an
/// unmapped page.
#[cfg(unix)]
fn is_mapped(addr: *mut u8) -> bool {
    let mut vec = [0u8; 1];
    // SAFETY: mincore only inspects the page tables for one page and writes
    // one byte into `vec`.
    let rc = unsafe { libc::mincore(addr.cast(), page_size(), vec.as_mut_ptr().cast()) };
    if rc == 0 {
        return true;
    }
    let err = io::Error::last_os_error();
    assert_eq!(err.raw_os_error(), Some(libc::ENOMEM), "mincore: {err}");
    false
}

/// Touches the top page of `stack`, as a greenlet's first frame does.
#[cfg(unix)]
fn touch_top(stack: &Stack) {
    // SAFETY: top() - 1 is the highest usable byte of a live stack.
    unsafe { ptr::write_volatile(stack.top().sub(1), 0x5A) };
}

#[test]
// mincore; Windows gives pages back with MEM_RESET, after which a page may
// keep its contents until the memory manager needs it: nothing to check.
#[cfg(unix)]
fn pooled_stacks_beyond_the_warm_ones_hold_no_memory() {
    if !emulation::dontneed_frees_pages() {
        // qemu-user 7.2 ignores MADV_DONTNEED (and emulates mincore
        // loosely): residency cannot be checked.
        eprintln!("note: MADV_DONTNEED frees nothing here; page residency not checked");
        return;
    }
    thread::spawn(|| {
        let page = page_size();
        let held: Vec<Stack> = (0..POOL_CAPACITY)
            .map(|_| Stack::acquire(DEFAULT_STACK_SIZE).unwrap())
            .collect();
        for stack in &held {
            touch_top(stack);
            assert_eq!(resident_pages(stack.top().wrapping_sub(page), page), 1);
        }
        let tops: Vec<*mut u8> = held.iter().map(Stack::top).collect();
        held.into_iter().for_each(Stack::release);
        assert_eq!(pooled(), POOL_CAPACITY);
        // The oldest POOL_CAPACITY - WARM_STACKS were given back; the last
        // WARM_STACKS released keep their page.
        for (i, &top) in tops.iter().enumerate() {
            let resident = resident_pages(top.wrapping_sub(page), page);
            let warm = i >= POOL_CAPACITY - WARM_STACKS;
            assert_eq!(resident, usize::from(warm), "stack {i} (warm: {warm})");
        }
        // A given-back stack reads as zero again and works.
        let all: Vec<Stack> = (0..POOL_CAPACITY)
            .map(|_| Stack::acquire(DEFAULT_STACK_SIZE).unwrap())
            .collect();
        for stack in &all {
            // SAFETY: top() - 1 is the highest usable byte of a live stack.
            let byte = unsafe { ptr::read_volatile(stack.top().sub(1)) };
            let warm = tops[POOL_CAPACITY - WARM_STACKS..].contains(&stack.top());
            assert_eq!(byte, if warm { 0x5A } else { 0 }, "{stack:?}");
        }
    })
    .join()
    .unwrap();
}

#[test]
#[cfg(unix)] // arenas need guard markers (Linux 6.13+); mincore, EFAULT
fn arena_slots_are_reused_emptied_and_stay_guarded() {
    const JOB: &str = "arena_slots";
    if guard_mode() != GuardMode::KernelGuard {
        eprintln!("note: arenas are used in KernelGuard mode only");
        return;
    }
    if !is_child(JOB) {
        // In a child process of its own, so that no other test's mapping
        // takes the place of a chunk unmapped here.
        let child = run_child("arena_slots_are_reused_emptied_and_stay_guarded", JOB);
        assert!(child.status.success(), "{}", child.describe());
        return;
    }
    child_started(JOB);
    let page = page_size();
    // A size no other test uses, so this arena is ours alone.
    let size = 5 * MIN_STACK_SIZE + 3 * page;
    let stacks: Vec<Stack> = (0..100).map(|_| Stack::new(size).unwrap()).collect();
    for stack in &stacks {
        touch_top(stack);
        assert_eq!(kernel_read_errno(stack.guard().start), Some(libc::EFAULT));
    }
    // Neighbouring slots: each guard sits right above the previous slot's
    // top or below the next slot's bottom, never inside another stack.
    let mut ranges: Vec<(usize, usize)> = stacks
        .iter()
        .map(|s| (s.guard().start, s.top() as usize))
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "slots overlap: {pair:?}");
    }
    let tops: Vec<*mut u8> = stacks.iter().map(Stack::top).collect();
    // Chunks of 1, 1, 2, 4, ... 64 slots: stacks 64..100 are in the last
    // one. Keep stack 0 (alone in the first chunk) and stacks 64 and 99;
    // give the rest back.
    let mut stacks: Vec<Option<Stack>> = stacks.into_iter().map(Some).collect();
    let kept = [0, 64, 99];
    for (i, stack) in stacks.iter_mut().enumerate() {
        if !kept.contains(&i) {
            *stack = None;
        }
    }
    // Given back into a chunk that is still in use: no resident page, still
    // mapped (mincore succeeds), and the guard survives MADV_DONTNEED.
    for &top in &tops[65..99] {
        assert_eq!(resident_pages(top.wrapping_sub(page), page), 0);
        let guard = top as usize - size - page;
        assert_eq!(kernel_read_errno(guard), Some(libc::EFAULT));
    }
    // Given back from chunks none of whose stacks is in use: unmapped.
    for &top in &tops[1..64] {
        assert!(!is_mapped(top.wrapping_sub(page)), "{top:?} still mapped");
    }
    // Reused, last in first out, zeroed.
    let again = Stack::new(size).unwrap();
    assert_eq!(again.top(), tops[98]);
    // SAFETY: top() - 1 is the highest usable byte of a live stack.
    assert_eq!(unsafe { ptr::read_volatile(again.top().sub(1)) }, 0);
    assert_eq!(kernel_read_errno(again.guard().start), Some(libc::EFAULT));
    drop(again);
    drop(stacks);
    for &top in &tops {
        assert!(!is_mapped(top.wrapping_sub(page)), "{top:?} still mapped");
    }
    // Stacks above ARENA_MAX_STACK_SIZE get a mapping of their own, still
    // with a kernel guard.
    let big = Stack::new(stack::ARENA_MAX_STACK_SIZE + page).unwrap();
    assert_eq!(kernel_read_errno(big.guard().start), Some(libc::EFAULT));
    assert_eq!(kernel_read_errno(big.bottom() as usize), None);
    touch_top(&big);
    // Dropping it unmaps all of it, guard page included.
    let (guard, top) = (big.guard().start as *mut u8, big.top());
    drop(big);
    assert!(!is_mapped(guard), "the big stack's guard is still mapped");
    assert!(
        !is_mapped(top.wrapping_sub(page)),
        "the big stack's top is still mapped"
    );
}

#[test]
#[cfg(unix)] // RLIMIT_AS; on Windows, see commit_limit_exhaustion_is_an_out_of_memory_error
fn exhausting_address_space_with_many_stacks_is_an_out_of_memory_error() {
    // Both modes: in KernelGuard mode the arena cannot grow (its chunk
    // halves down to one slot, then fails); in Mprotect mode the stack's
    // own mapping fails.
    const JOB: &str = "rlimit_many";
    if qemu_32bit_guest() {
        eprintln!("note: RLIMIT_AS exhaustion not run under qemu with a 32-bit guest");
        return;
    }
    if is_child(JOB) {
        child_started(JOB);
        println!("mode={:?}", guard_mode());
        // Map one stack first so the probe's and arena's bookkeeping exist.
        drop(Stack::new(64 * 1024).unwrap());
        let mut held = Vec::with_capacity(100_000);
        let wanted = vm_size().saturating_add(32 << 20);
        let limit = libc::rlimit {
            rlim_cur: libc::rlim_t::try_from(wanted).unwrap(),
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: `limit` is a valid rlimit that outlives the call.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
        let mut now = limit;
        // SAFETY: `now` is a valid, writable rlimit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut now) }, 0);
        if now.rlim_cur != limit.rlim_cur {
            println!("skip=setrlimit(RLIMIT_AS) reported success but was not applied");
            return;
        }
        for _ in 0..100_000 {
            match Stack::new(64 * 1024) {
                Ok(stack) => held.push(stack),
                Err(err) => {
                    println!("stacks={}", held.len());
                    println!("error_kind={:?}", err.kind());
                    println!("error_text={err}");
                    held.truncate(held.len() / 2);
                    println!("recovered={}", Stack::new(64 * 1024).is_ok());
                    return;
                }
            }
        }
        println!("never_failed=true");
        return;
    }
    let child = run_child(
        "exhausting_address_space_with_many_stacks_is_an_out_of_memory_error",
        JOB,
    );
    assert!(child.status.success(), "{}", child.describe());
    if let Some(reason) = child.value("skip") {
        eprintln!("NOTE: not tested: {reason}");
        return;
    }
    eprintln!(
        "{:?} mode: {:?} stacks, then {:?}",
        child.value("mode"),
        child.value("stacks"),
        child.value("error_text")
    );
    assert_eq!(
        child.value("error_kind"),
        Some("OutOfMemory"),
        "{}",
        child.describe()
    );
    let text = child.value("error_text").unwrap();
    let mut needles = vec!["greenlet", "RLIMIT_AS", "ulimit", "vm.max_map_count"];
    if child.value("mode") == Some("KernelGuard") {
        needles.push("arena");
    }
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from {text:?}");
    }
    assert_eq!(
        child.value("recovered"),
        Some("true"),
        "{}",
        child.describe()
    );
}

/// Sets its flag when dropped: the greenlet holding it was killed.
struct SetOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One thread's work for `threads_give_their_stacks_back_at_exit`: leaves
/// default-size stacks to be given back at its exit, in one of three ways.
fn leave_stacks_at_exit(case: &str, killed: Arc<std::sync::atomic::AtomicBool>) {
    use greenlet::Greenlet;
    match case {
        // In the pool.
        "pool" => {
            let held: Vec<Stack> = (0..4)
                .map(|_| Stack::acquire(DEFAULT_STACK_SIZE).unwrap())
                .collect();
            held.into_iter().for_each(Stack::release);
            assert_eq!(pooled(), 4);
            killed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        // Released by a thread-local first used before the pool, so
        // destroyed after it.
        "holder" => {
            HOLDER.with(|holder| {
                holder.borrow_mut().0 = Some(Stack::acquire(DEFAULT_STACK_SIZE).unwrap());
            });
            Stack::acquire(DEFAULT_STACK_SIZE).unwrap().release();
            killed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        // On a suspended greenlet that only the trace callback holds: the
        // greenlet layer's per-thread state (windows-gnu: freed after every
        // std thread-local destructor) kills it, and its stack goes back
        // to the pool after the pool's own thread-locals were destroyed.
        "trace" => {
            let suspended = Greenlet::new(move |()| {
                let _flag = SetOnDrop(killed);
                let () = Greenlet::main().switch(());
                unreachable!("killed at thread exit");
            });
            let () = suspended.switch(());
            let previous = greenlet::settrace(Some(Box::new(move |_, _, _| {
                let _ = &suspended;
            })));
            assert!(previous.is_none());
        }
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn threads_give_their_stacks_back_at_exit() {
    const JOB: &str = "thread_exit";
    const THREADS: usize = 16;
    const CASES: [&str; 3] = ["pool", "holder", "trace"];
    if is_child(JOB) {
        // A child: no other test's stacks or threads come and go while
        // this one counts.
        child_started(JOB);
        let run = |case: &str| {
            for _ in 0..THREADS {
                let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let flag = killed.clone();
                let owned = case.to_owned();
                thread::spawn(move || leave_stacks_at_exit(&owned, flag))
                    .join()
                    .expect("thread");
                assert!(killed.load(std::sync::atomic::Ordering::SeqCst), "{case}");
            }
        };
        for case in CASES {
            run(case); // warm up: the heap and the OS settle
            let before = mapping_count();
            run(case);
            let after = mapping_count();
            println!("{case}={before},{after}");
        }
        return;
    }
    let child = run_child("threads_give_their_stacks_back_at_exit", JOB);
    assert!(child.status.success(), "{}", child.describe());
    for case in CASES {
        let counts = child
            .value(case)
            .unwrap_or_else(|| panic!("no {case} in child output\n{}", child.describe()));
        let (before, after) = counts.split_once(',').unwrap();
        let (before, after): (usize, usize) = (before.parse().unwrap(), after.parse().unwrap());
        eprintln!("{case}: {before} mappings before {THREADS} threads, {after} after");
        // A stack left behind per thread would add THREADS (or more) to
        // the count; the OS may keep a thread's stack a little longer.
        assert!(
            after <= before + THREADS / 4,
            "{case}: {before} mappings before {THREADS} threads, {after} after: stacks \
             left behind by exited threads\n{}",
            child.describe()
        );
    }
}

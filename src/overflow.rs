//! Stack overflows reported, not suffered: a `SIGSEGV`/`SIGBUS` handler
//! that recognises the guard page of a greenlet's stack in use, prints one
//! line naming the greenlet and its stack size, and aborts.
//!
//! * It is installed once per process, the first time a greenlet is
//!   created (unless the program called [`disable_overflow_handler`]
//!   first), on top of whatever handler was there (Rust's own, which
//!   reports overflows of threads' stacks, or a program's). Any fault that
//!   is not in the guard page of a greenlet's stack in use goes on to that
//!   previous handler unchanged; if there was none, the default action runs
//!   (the process dies by the signal, as before).
//! * The install never lets the handler see a half-written previous action:
//!   the previous action is read first, copied, and published (an atomic
//!   pointer to the complete copy) before our handler goes in; if another
//!   handler was put in between, the action our `sigaction` replaced is
//!   published too, again as a complete copy. A `sigaction` that fails is
//!   reported on stderr, once, with the signal and the error: overflows are
//!   then not reported, and nothing else changes. (The signal machinery is
//!   the OS layer's: `os::unix::faults`.)
//! * The handler asks the greenlet layer which greenlets' stacks may be in
//!   use ([`InUse`]): the running greenlet, and, in the window of a switch
//!   where the running greenlet is already recorded as the target but the
//!   sender still runs its last instructions and pushes on its own stack,
//!   the sender too.
//! * It runs on an alternate signal stack (an overflowed stack has no room
//!   left): the OS layer's `arm_fault_stack` gives each thread one, and the
//!   first install on a thread registers a thread-local destructor that
//!   arms it again when the thread's thread-local destructors run (see
//!   `os::unix::faults`).
//! * It is async-signal-safe: no allocation, no locks; the line is written
//!   with `write(2)` from buffers on the signal stack.
//!

use crate::os;
use std::cell::Cell;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Once;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

static INSTALL: Once = Once::new();

/// Whether the handler goes in: [`UNDECIDED`] until the first greenlet's
/// install ([`INSTALLED`]) or [`disable_overflow_handler`] ([`DISABLED`]),
/// whichever comes first.
static DECISION: AtomicU8 = AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const INSTALLED: u8 = 1;
const DISABLED: u8 = 2;

/// Never install this crate's `SIGSEGV`/`SIGBUS` handler in this process:
/// for programs that own fault handling themselves (a runtime with its own
/// guard pages, a wasm engine, a crash reporter that must be the first to
/// see every fault).
///
/// Call it before the first greenlet is created. It returns `true` if the
/// handler will never be installed, and `false` if it is too late: the
/// handler is already in (it then stays, and keeps passing every fault
/// that is not a greenlet's overflow on to the handler that was there
/// before it).
///
/// Without the handler, a greenlet that overflows its stack still cannot
/// corrupt memory (its guard page faults), but it dies as any other
/// `SIGSEGV` does, by the previous handler or the default action, with no
/// line naming the greenlet.
///
/// # Examples
///
/// ```standalone_crate
/// // First thing in main, before any greenlet or hub:
/// assert!(greenlet::disable_overflow_handler());
/// let g = greenlet::Greenlet::new(|x: u32| x + 1);
/// assert_eq!(g.switch::<u32, u32>(1), 2);
/// ```
pub fn disable_overflow_handler() -> bool {
    match DECISION.compare_exchange(UNDECIDED, DISABLED, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => true,
        Err(now) => now == DISABLED,
    }
}

/// How the handler learns which greenlets' stacks this thread may be
/// running on: calls `visit(name, guard range, usable size)` for the
/// running greenlet and, during the window of a switch in which the
/// running greenlet is recorded as the target but the sender still runs on
/// its own stack (its last stores, the switch's pushes), for the sender.
/// Main (on the thread's own stack) is not visited. Must be
/// async-signal-safe: read plain thread-local words and fields, no
/// allocation, no locks. Handed in by the greenlet layer at
/// [`install`], so that this module imports nothing above it.
pub(crate) type InUse = fn(&mut Visit<'_>);

/// What an [`InUse`] calls for each greenlet: `(name, guard range, usable
/// size)`.
pub(crate) type Visit<'a> = dyn FnMut(Option<&str>, Range<usize>, usize) + 'a;

/// The [`InUse`] handed to [`install`], as an address (0: none).
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Install the handler (once per process) and arm this thread's alternate
/// signal stack (see the module documentation). `in_use` is how the
/// handler learns which greenlets' stacks this thread may be running on;
/// the first call's is kept.
#[inline]
pub(crate) fn install(in_use: InUse) {
    if !INSTALLED_HERE.with(Cell::get) {
        install_in_use(in_use);
    }
}

/// [`install`] off its fast path. A function of its own taking `in_use` as
/// an argument, so that the fast path prepares nothing for it.
#[cold]
#[inline(never)]
fn install_in_use(in_use: InUse) {
    install_slow(|| IN_USE.store(in_use as usize, Ordering::Release));
}

/// The first [`install`] on this thread: the process-wide handler (once,
/// after `store_lookup`), and this thread's alternate stack, now and at
/// thread exit.
fn install_slow(store_lookup: impl FnOnce()) {
    INSTALL.call_once(|| {
        let decided =
            DECISION.compare_exchange(UNDECIDED, INSTALLED, Ordering::AcqRel, Ordering::Acquire);
        if decided == Err(DISABLED) {
            return; // the program owns fault handling
        }
        store_lookup();
        if let Err(e) = os::install_fault_handler(reported_overflow) {
            // Not `eprintln!`, which panics if stderr cannot be written.
            let _ = writeln!(io::stderr(), "{e}");
        }
    });
    INSTALLED_HERE.with(|c| c.set(true));
    if DECISION.load(Ordering::Acquire) == DISABLED {
        return; // no handler: no alternate stack needed for it
    }
    arm();
    // Registers the destructor that arms the alternate stack again when the
    // thread's thread-local destructors run. Fails only if they are running
    // already, which is then too late to register anything.
    let _ = ARM_AT_EXIT.try_with(|_| ());
}

// ---------------------------------------------------------------------------
// The thread's fault stack, now and at thread exit.

crate::os::state_local! {
    /// Whether this thread has been through `install_slow`. After that,
    /// `install` is this one test. No destructor: readable at thread exit.
    static INSTALLED_HERE: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    /// Its destructor arms the fault stack when the thread's thread-local
    /// destructors run: they run last registered first, so it runs before
    /// every destructor registered earlier on the thread (the hub's
    /// teardown, when the hub was the thread's first user of greenlets; a
    /// thread-local that holds a greenlet and was first used before the
    /// thread's first greenlet). Code that runs greenlets from a destructor
    /// registered *later* calls [`arm`] first.
    static ARM_AT_EXIT: ArmAtExit = const { ArmAtExit };
}

struct ArmAtExit;

impl Drop for ArmAtExit {
    fn drop(&mut self) {
        arm();
    }
}

/// Makes sure the calling thread can report an overflow now (on Unix: has
/// an enabled alternate signal stack); returns whether it can. Call it
/// before running greenlets from a thread-local destructor.
pub(crate) fn arm() -> bool {
    os::arm_fault_stack()
}

// ---------------------------------------------------------------------------
// The report.

/// `n` in decimal, into `buf`, without allocating.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The report line: which greenlet overflowed and its stack size.
fn report(name: Option<&str>, size: usize) {
    let mut digits = [0u8; 20];
    os::write_stderr(b"greenlet: stack overflow in greenlet ");
    match name {
        Some(name) => {
            os::write_stderr(b"\"");
            os::write_stderr(name.as_bytes());
            os::write_stderr(b"\"");
        }
        None => os::write_stderr(b"(unnamed)"),
    }
    os::write_stderr(b" with a stack of ");
    os::write_stderr(decimal(size, &mut digits));
    os::write_stderr(b" bytes; give it a bigger one with Greenlet::builder().stack_size(bytes)\n");
}

/// Whether `addr` is in the guard page of a greenlet's stack in use on this
/// thread; if so, the report has been written.
fn reported_overflow(addr: usize) -> bool {
    let in_use = IN_USE.load(Ordering::Acquire);
    if in_use == 0 {
        return false;
    }
    // SAFETY: a non-zero IN_USE was stored from an `InUse`.
    let in_use: InUse = unsafe { std::mem::transmute::<usize, InUse>(in_use) };
    let mut found = false;
    in_use(&mut |name, guard, size| {
        if !found && guard.contains(&addr) {
            found = true;
            report(name, size);
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Stack;
    use std::process::{Command, ExitStatus};
    use std::ptr;

    const CHILD_ENV: &str = "GREENLET_OVERFLOW_UNIT_CHILD";
    const STARTED: &str = "overflow-unit-child-started";

    /// The guards and sizes the stand-in `InUse` reports: the running
    /// greenlet ("target") and the sender of the switch in progress.
    static TARGET: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
    static SENDER: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

    fn fake_in_use(visit: &mut Visit<'_>) {
        for (name, g) in [("target", &TARGET), ("sender", &SENDER)] {
            let [start, end, size] = [0, 1, 2].map(|k| g[k].load(Ordering::Relaxed));
            visit(Some(name), start..end, size);
        }
    }

    fn child(which: &str) {
        eprintln!("{STARTED}");
        let target = Stack::new(64 * 1024).unwrap();
        let sender = Stack::new(128 * 1024).unwrap();
        for (stack, g) in [(&target, &TARGET), (&sender, &SENDER)] {
            g[0].store(stack.guard().start, Ordering::Relaxed);
            g[1].store(stack.guard().end, Ordering::Relaxed);
            g[2].store(stack.size(), Ordering::Relaxed);
        }
        install(fake_in_use);
        let addr = match which {
            "sender" => sender.guard().start + 8,
            "target" => target.guard().end - 8,
            _ => 16,
        };
        // SAFETY: none: a deliberate write into a guard page (or an unmapped
        // page) to raise SIGSEGV in this child process.
        unsafe { ptr::write_volatile(addr as *mut u64, 1) };
        eprintln!("overflow-unit-child-survived");
        std::process::exit(0);
    }

    /// How a child died: `Some(true)` by an abort (SIGABRT; on Windows
    /// `__fastfail`'s STATUS_STACK_BUFFER_OVERRUN), `Some(false)` by the
    /// fault (SIGSEGV; an unhandled access violation), `None` otherwise.
    fn aborted(status: ExitStatus) -> Option<bool> {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            match status.signal() {
                Some(libc::SIGABRT) => Some(true),
                Some(libc::SIGSEGV) => Some(false),
                _ => None,
            }
        }
        #[cfg(windows)]
        match status.code().map(|c| c as u32) {
            Some(0xC000_0409) => Some(true),
            Some(0xC000_0005) => Some(false),
            _ => None,
        }
    }

    fn run_child(which: &str) -> (String, Option<bool>) {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "overflow::tests::a_guard_fault_of_the_sender_of_a_switch_is_reported",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, which)
            .output()
            .expect("spawn child");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stderr.contains(STARTED), "{which}: never started: {stderr}");
        (stderr, aborted(out.status))
    }

    /// Issue 16: in the window of a switch the running greenlet is already
    /// the target while the sender still pushes on its own stack. A guard
    /// fault there is the sender's: the handler checks every stack the
    /// greenlet layer says may be in use, not only the running one's.
    #[test]
    fn a_guard_fault_of_the_sender_of_a_switch_is_reported() {
        if let Ok(which) = std::env::var(CHILD_ENV) {
            child(&which);
        }
        for (which, name, size) in [("sender", "sender", 131_072), ("target", "target", 65_536)] {
            let (stderr, signal) = run_child(which);
            let line = format!(
                "greenlet: stack overflow in greenlet \"{name}\" with a stack of {size} bytes"
            );
            assert!(stderr.contains(&line), "{which}: no `{line}`:\n{stderr}");
            assert_eq!(signal, Some(true), "{which}:\n{stderr}");
        }
        let (stderr, signal) = run_child("elsewhere");
        assert!(!stderr.contains("stack overflow"), "{stderr}");
        assert!(!stderr.contains("survived"), "{stderr}");
        if !cfg!(feature = "asan") {
            assert_eq!(signal, Some(false), "{stderr}");
        }
    }
}

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
//!   then not reported, and nothing else changes.
//! * The handler asks the greenlet layer which greenlets' stacks may be in
//!   use ([`InUse`]): the running greenlet, and, in the window of a switch
//!   where the running greenlet is already recorded as the target but the
//!   sender still runs its last instructions and pushes on its own stack,
//!   the sender too.
//! * It runs on an alternate signal stack (an overflowed stack has no room
//!   left); see "The alternate signal stack" below.
//! * It is async-signal-safe: no allocation, no locks; the line is written
//!   with `write(2)` from buffers on the signal stack.
//!
//! # The alternate signal stack
//!
//! A thread must have an alternate signal stack whenever it may run a
//! greenlet, including while its thread-local destructors run (the hub's
//! teardown kills its tasks then; a thread-local holding a greenlet kills it
//! then). Rust gives its threads one, but takes it away *before* any
//! thread-local destructor runs (when the thread's main function returns;
//! for the main thread, when `main` returns), so it cannot be relied on at
//! thread exit. So:
//!
//! * [`arm`] makes sure the calling thread has an enabled alternate stack:
//!   the one it has, or else this module's own for the thread (64 KiB,
//!   mapped once per thread and reused if it was disabled).
//! * The first [`install`] on a thread arms it, and registers a
//!   thread-local destructor that arms it again: thread-local destructors
//!   run last registered first, so it runs before every destructor
//!   registered earlier on the thread (the hub's teardown, when the hub was
//!   the thread's first user of greenlets; a thread-local that holds a
//!   greenlet and was first used before the thread's first greenlet).
//!   Code that runs greenlets from a destructor registered *later* calls
//!   [`arm`] first.
//! * This module's own alternate stack is never freed while the thread can
//!   run greenlets: it is not freed by a thread-local destructor but by the
//!   destructor of a `pthread` key, which the C library runs after all
//!   thread-local destructors (glibc's `start_thread`:
//!   `__call_tls_dtors`, then `__nptl_deallocate_tsd`). On the main thread
//!   it stays until the process exits.

use std::cell::{Cell, UnsafeCell};
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::ops::Range;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

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

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Bytes of the alternate signal stack this module maps for a thread that
/// has none (enough for the handler and for a chained Rust handler).
const ALT_STACK_BYTES: usize = 64 * 1024;

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
        if let Err(e) = install_handlers(&PREVIOUS, real_sigaction) {
            report_install_failure(&e);
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
// Installing the handler.

/// One copy of a previous action: written once, before its address is
/// published in [`Previous::at`], never written again.
struct ActionCopy(UnsafeCell<MaybeUninit<libc::sigaction>>);

// SAFETY: a copy is written only before its address is published (with a
// release store, by the one thread that runs the install) and read only
// through a published address (loaded with acquire), so no access races
// with the write.
unsafe impl Sync for ActionCopy {}

impl ActionCopy {
    const fn new() -> ActionCopy {
        ActionCopy(UnsafeCell::new(MaybeUninit::uninit()))
    }
}

/// The actions that were installed before ours, per signal of [`SIGNALS`].
struct Previous {
    /// Per signal: `[0]` the action read before ours went in, `[1]` the one
    /// our `sigaction` replaced, when another was put in between.
    copies: [[ActionCopy; 2]; 2],
    /// Per signal: the copy that is the previous action; null until one is
    /// complete.
    at: [AtomicPtr<libc::sigaction>; 2],
}

impl Previous {
    const fn new() -> Previous {
        Previous {
            copies: [
                [ActionCopy::new(), ActionCopy::new()],
                [ActionCopy::new(), ActionCopy::new()],
            ],
            at: [
                AtomicPtr::new(ptr::null_mut()),
                AtomicPtr::new(ptr::null_mut()),
            ],
        }
    }

    /// Writes `action` into copy `which` of signal `i` and publishes it.
    /// Each copy is written at most once (the caller's promise).
    fn publish(&self, i: usize, which: usize, action: &libc::sigaction) {
        let copy = self.copies[i][which].0.get();
        // SAFETY: this copy has not been published before (each is written
        // at most once), so no reader can hold its address yet.
        unsafe { (*copy).write(*action) };
        self.at[i].store(copy.cast(), Ordering::Release);
    }

    /// The previous action of signal `i`, if recorded.
    fn get(&self, i: usize) -> Option<&libc::sigaction> {
        let p = self.at[i].load(Ordering::Acquire);
        // SAFETY: a published copy is complete and never written again.
        unsafe { p.as_ref() }
    }
}

/// The previous actions the process's handler chains to.
static PREVIOUS: Previous = Previous::new();

/// `sigaction(2)`, or a stand-in for tests.
type Sigaction =
    unsafe fn(libc::c_int, *const libc::sigaction, *mut libc::sigaction) -> libc::c_int;

/// `libc::sigaction`, as a [`Sigaction`].
unsafe fn real_sigaction(
    sig: libc::c_int,
    action: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> libc::c_int {
    // SAFETY: forwarded; the caller passes valid pointers or null.
    unsafe { libc::sigaction(sig, action, old) }
}

/// A `sigaction` call that failed while installing the handler.
#[derive(Debug)]
struct InstallError {
    sig: libc::c_int,
    /// Whether it failed reading the previous action (else installing ours).
    reading: bool,
    os: io::Error,
}

/// Installs [`handler`] for each signal of [`SIGNALS`], recording the
/// previous actions in `previous` before the handler can run: read the
/// current action, publish a complete copy, then install ours; if the
/// action ours replaced is not the one read (another thread put a handler
/// in between), publish a copy of that one too. Stops at the first failing
/// `sigaction`; a signal whose handler did not go in keeps its action.
fn install_handlers(previous: &Previous, sigaction: Sigaction) -> Result<(), InstallError> {
    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = handler;
    for (i, &sig) in SIGNALS.iter().enumerate() {
        // SAFETY: all-zero is a valid `sigaction` (SIG_DFL, no flags).
        let mut read: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: reads the current action into `read`; installs nothing.
        if unsafe { sigaction(sig, ptr::null(), &raw mut read) } != 0 {
            let os = io::Error::last_os_error();
            return Err(InstallError {
                sig,
                reading: true,
                os,
            });
        }
        previous.publish(i, 0, &read);
        // SAFETY: as above.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = f as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `sa_mask` is ours to initialise.
        unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
        // SAFETY: as above.
        let mut replaced: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `action` is a complete action whose handler is
        // async-signal-safe and finds its previous action published.
        if unsafe { sigaction(sig, &raw const action, &raw mut replaced) } != 0 {
            let os = io::Error::last_os_error();
            return Err(InstallError {
                sig,
                reading: false,
                os,
            });
        }
        if !same_action(&replaced, &read) {
            previous.publish(i, 1, &replaced);
        }
    }
    Ok(())
}

/// Whether two actions would be handled the same by [`chain`].
fn same_action(a: &libc::sigaction, b: &libc::sigaction) -> bool {
    a.sa_sigaction == b.sa_sigaction && a.sa_flags == b.sa_flags
}

fn signal_name(sig: libc::c_int) -> &'static str {
    if sig == libc::SIGSEGV {
        "SIGSEGV"
    } else if sig == libc::SIGBUS {
        "SIGBUS"
    } else {
        "a signal"
    }
}

/// The line [`install_slow`] prints when the handler could not be put in.
fn install_failure_text(e: &InstallError) -> String {
    let what = if e.reading {
        "reading its current action"
    } else {
        "installing the handler"
    };
    format!(
        "greenlet: cannot install the stack-overflow handler for {}: sigaction failed {what}: \
         {}; a stack overflow in a greenlet will not be reported (the process dies by the \
         signal, as without the handler)",
        signal_name(e.sig),
        e.os
    )
}

#[cold]
fn report_install_failure(e: &InstallError) {
    // Not `eprintln!`, which panics if stderr cannot be written.
    let _ = writeln!(io::stderr(), "{}", install_failure_text(e));
}

// ---------------------------------------------------------------------------
// The alternate signal stack.

thread_local! {
    /// Whether this thread has been through `install_slow`. After that,
    /// `install` is this one test. No destructor: readable at thread exit.
    static INSTALLED_HERE: Cell<bool> = const { Cell::new(false) };
    /// The alternate stack this module mapped for this thread, if any. Freed
    /// by [`free_alt_stack`], the destructor of [`alt_key`], after every
    /// thread-local destructor. No destructor of its own.
    static OWN_ALT: Cell<*mut libc::c_void> = const { Cell::new(ptr::null_mut()) };
    /// Its destructor arms the alternate stack when the thread's
    /// thread-local destructors run (see the module documentation).
    static ARM_AT_EXIT: ArmAtExit = const { ArmAtExit };
}

struct ArmAtExit;

impl Drop for ArmAtExit {
    fn drop(&mut self) {
        arm();
    }
}

/// The `pthread` key whose destructor frees this module's alternate stack
/// of an exiting thread; `None` if no key could be made (the stacks are
/// then left mapped when their threads exit).
fn alt_key() -> Option<libc::pthread_key_t> {
    static KEY: OnceLock<Option<libc::pthread_key_t>> = OnceLock::new();
    *KEY.get_or_init(|| {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is writable; the destructor is an `extern "C"` fn
        // that takes the value set with `pthread_setspecific`.
        let rc = unsafe { libc::pthread_key_create(&raw mut key, Some(free_alt_stack)) };
        (rc == 0).then_some(key)
    })
}

/// The destructor of [`alt_key`]: disables the thread's alternate stack if
/// it is this one, and unmaps it. The C library runs it after every
/// thread-local destructor of the thread, when no greenlet can run any
/// more.
unsafe extern "C" fn free_alt_stack(p: *mut libc::c_void) {
    // SAFETY: `p` is the ALT_STACK_BYTES mapping `arm` made for this thread
    // and handed to the key. No signal is being handled on it (this runs in
    // the thread's normal flow), so it can be disabled and unmapped.
    unsafe {
        let mut now: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(ptr::null(), &raw mut now) == 0 && now.ss_sp == p {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&raw const disable, ptr::null_mut());
        }
        libc::munmap(p, ALT_STACK_BYTES);
    }
    let _ = OWN_ALT.try_with(|o| o.set(ptr::null_mut()));
}

/// Makes sure the calling thread has an enabled alternate signal stack, so
/// that an overflow of a greenlet's stack on this thread can be reported:
/// the one it has, or this module's own for the thread (mapped on first
/// need, kept until after the thread's last thread-local destructor).
/// Returns whether the thread has one now. Call it before running
/// greenlets from a thread-local destructor (see the module
/// documentation); costs one `sigaltstack` call when the thread has one.
pub(crate) fn arm() -> bool {
    // SAFETY: all-zero is a valid `stack_t`; sigaltstack only writes it.
    let mut now: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: queries this thread's alternate stack into `now`.
    if unsafe { libc::sigaltstack(ptr::null(), &raw mut now) } != 0 {
        return false;
    }
    if now.ss_flags & libc::SS_DISABLE == 0 {
        return true; // it has one (Rust's, ours, or the program's)
    }
    let mut p = OWN_ALT.try_with(Cell::get).unwrap_or(ptr::null_mut());
    if p.is_null() {
        // SAFETY: a new anonymous mapping at an address of the kernel's
        // choosing overlaps nothing of ours.
        p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                ALT_STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            let _ = writeln!(
                io::stderr(),
                "greenlet: cannot map an alternate signal stack for this thread: {e}; a stack \
                 overflow in a greenlet on it will kill the process by SIGSEGV without a report"
            );
            return false;
        }
        let _ = OWN_ALT.try_with(|o| o.set(p));
        if let Some(key) = alt_key() {
            // SAFETY: `key` is a live key; the value is our mapping, which
            // its destructor frees. If this fails the mapping is left mapped
            // when the thread exits.
            unsafe { libc::pthread_setspecific(key, p) };
        }
    }
    let stack = libc::stack_t {
        ss_sp: p,
        ss_flags: 0,
        ss_size: ALT_STACK_BYTES,
    };
    // SAFETY: `p` is our live ALT_STACK_BYTES mapping for this thread, not
    // in use (no alternate stack is enabled, so no handler runs on it).
    unsafe { libc::sigaltstack(&raw const stack, ptr::null_mut()) == 0 }
}

// ---------------------------------------------------------------------------
// The handler.

/// Write all of `bytes` to stderr with `write(2)` (async-signal-safe).
fn write_stderr(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: writing from a valid buffer to fd 2.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

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
    write_stderr(b"greenlet: stack overflow in greenlet ");
    match name {
        Some(name) => {
            write_stderr(b"\"");
            write_stderr(name.as_bytes());
            write_stderr(b"\"");
        }
        None => write_stderr(b"(unnamed)"),
    }
    write_stderr(b" with a stack of ");
    write_stderr(decimal(size, &mut digits));
    write_stderr(b" bytes; give it a bigger one with Greenlet::builder().stack_size(bytes)\n");
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

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if reported_overflow(addr) {
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    chain(&PREVIOUS, sig, info, context);
}

/// Hand the signal to the handler that was there before ours.
fn chain(
    previous: &Previous,
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    let i = usize::from(sig != libc::SIGSEGV);
    let (action, flags) = previous
        .get(i)
        .map_or((libc::SIG_DFL, 0), |p| (p.sa_sigaction, p.sa_flags));
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction
        // runs again and the process dies by the signal, as without us.
        // SAFETY: setting a valid (zeroed = SIG_DFL) action.
        unsafe {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &raw const default, ptr::null_mut());
        }
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler asked for three arguments.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(action) };
        f(sig, info, context);
    } else {
        // SAFETY: a one-argument handler.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action) };
        f(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Stack;
    use std::cell::RefCell;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    /// What the stand-in `sigaction` does and saw.
    struct Fake {
        /// The action of each signal of SIGNALS, as the stand-in's "kernel"
        /// has it.
        current: [libc::sigaction; 2],
        /// Where the install under test records the previous actions.
        previous: *const Previous,
        /// Fail the read of the current action of this signal (EINVAL).
        fail_read: Option<libc::c_int>,
        /// Fail the install of our handler for this signal (EINVAL).
        fail_install: Option<libc::c_int>,
        /// Another thread puts this handler in between our read and our
        /// install.
        in_between: Option<libc::sigaction>,
        /// For each install of a handler: what a signal arriving at that
        /// instant would have been chained to (the published previous
        /// action's handler), or None if nothing was published.
        chained_at_install: Vec<Option<usize>>,
    }

    thread_local! {
        static FAKE: RefCell<Option<Fake>> = const { RefCell::new(None) };
    }

    fn action_of(handler: usize) -> libc::sigaction {
        // SAFETY: all-zero is a valid sigaction.
        let mut a: libc::sigaction = unsafe { std::mem::zeroed() };
        a.sa_sigaction = handler;
        a.sa_flags = libc::SA_SIGINFO;
        a
    }

    fn set_errno(e: libc::c_int) {
        // SAFETY: this thread's errno is a valid int location.
        unsafe { *libc::__errno_location() = e };
    }

    /// The stand-in `sigaction`: the "kernel" is `FAKE.current`. On an
    /// install, it records what the handler would chain to if the signal
    /// came at once, at the moment the new handler is live.
    unsafe fn fake_sigaction(
        sig: libc::c_int,
        action: *const libc::sigaction,
        old: *mut libc::sigaction,
    ) -> libc::c_int {
        FAKE.with(|f| {
            let mut f = f.borrow_mut();
            let f = f.as_mut().expect("a fake is set up");
            let i = usize::from(sig != libc::SIGSEGV);
            if action.is_null() {
                if f.fail_read == Some(sig) {
                    set_errno(libc::EINVAL);
                    return -1;
                }
                // SAFETY: the caller passes a writable `old`.
                unsafe { *old = f.current[i] };
                return 0;
            }
            if f.fail_install == Some(sig) {
                set_errno(libc::EINVAL);
                return -1;
            }
            if let Some(other) = f.in_between.take() {
                f.current[i] = other;
            }
            if !old.is_null() {
                // SAFETY: as above.
                unsafe { *old = f.current[i] };
            }
            // SAFETY: the caller passes a complete action.
            f.current[i] = unsafe { *action };
            // Our handler is live now: a signal would chain to this.
            // SAFETY: `previous` outlives the install under test.
            let previous = unsafe { &*f.previous };
            f.chained_at_install
                .push(previous.get(i).map(|p| p.sa_sigaction));
            0
        })
    }

    /// Runs `install_handlers` against the stand-in, starting from the
    /// actions `first` (SIGSEGV) and `second` (SIGBUS); returns its result,
    /// the fake and the previous actions it recorded.
    fn run_install(
        setup: impl FnOnce(&mut Fake),
    ) -> (Result<(), InstallError>, Fake, Box<Previous>) {
        let previous = Box::new(Previous::new());
        let mut fake = Fake {
            current: [action_of(0x1111), action_of(0x2222)],
            previous: &raw const *previous,
            fail_read: None,
            fail_install: None,
            in_between: None,
            chained_at_install: Vec::new(),
        };
        setup(&mut fake);
        FAKE.with(|f| *f.borrow_mut() = Some(fake));
        let result = install_handlers(&previous, fake_sigaction);
        let fake = FAKE.with(|f| f.borrow_mut().take()).unwrap();
        (result, fake, previous)
    }

    fn ours() -> usize {
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = handler;
        f as *const () as usize
    }

    #[test]
    fn the_previous_action_is_published_before_the_handler_goes_in() {
        let (result, fake, previous) = run_install(|_| {});
        result.unwrap();
        // At the instant each handler went live, a signal would have been
        // chained to the complete previous action, never to nothing (the
        // old install wrote it after: a fault then died by SIG_DFL).
        assert_eq!(fake.chained_at_install, [Some(0x1111), Some(0x2222)]);
        assert_eq!(previous.get(0).unwrap().sa_sigaction, 0x1111);
        assert_eq!(previous.get(1).unwrap().sa_sigaction, 0x2222);
        assert_eq!(fake.current[0].sa_sigaction, ours());
        assert_eq!(fake.current[1].sa_sigaction, ours());
        let flags = fake.current[0].sa_flags;
        assert_eq!(
            flags & (libc::SA_SIGINFO | libc::SA_ONSTACK),
            libc::SA_SIGINFO | libc::SA_ONSTACK
        );
    }

    #[test]
    fn a_handler_put_in_between_is_the_one_chained_to() {
        let (result, fake, previous) = run_install(|f| f.in_between = Some(action_of(0x3333)));
        result.unwrap();
        // While ours went in, the action read before was the complete one to
        // chain to; right after, the one ours really replaced.
        assert_eq!(fake.chained_at_install[0], Some(0x1111));
        assert_eq!(previous.get(0).unwrap().sa_sigaction, 0x3333);
        assert_eq!(previous.get(1).unwrap().sa_sigaction, 0x2222);
    }

    #[test]
    fn a_failing_sigaction_is_reported_and_changes_nothing() {
        let (result, fake, previous) = run_install(|f| f.fail_read = Some(libc::SIGSEGV));
        let err = result.unwrap_err();
        assert!(err.reading);
        assert!(fake.chained_at_install.is_empty(), "nothing installed");
        assert_eq!(fake.current[0].sa_sigaction, 0x1111);
        assert!(previous.get(0).is_none());
        let text = install_failure_text(&err);
        for needle in [
            "greenlet",
            "SIGSEGV",
            "sigaction",
            "reading",
            "not be reported",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        assert!(text.contains(&io::Error::from_raw_os_error(libc::EINVAL).to_string()));

        let (result, fake, _) = run_install(|f| f.fail_install = Some(libc::SIGBUS));
        let err = result.unwrap_err();
        assert_eq!((err.sig, err.reading), (libc::SIGBUS, false));
        // SIGSEGV's handler went in and works; SIGBUS keeps its action.
        assert_eq!(fake.current[0].sa_sigaction, ours());
        assert_eq!(fake.current[1].sa_sigaction, 0x2222);
        assert!(install_failure_text(&err).contains("SIGBUS"));
    }

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

    fn run_child(which: &str) -> (String, Option<i32>) {
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
        (stderr, out.status.signal())
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
            assert_eq!(signal, Some(libc::SIGABRT), "{which}:\n{stderr}");
        }
        let (stderr, signal) = run_child("elsewhere");
        assert!(!stderr.contains("stack overflow"), "{stderr}");
        assert!(!stderr.contains("survived"), "{stderr}");
        if !cfg!(feature = "asan") {
            assert_eq!(signal, Some(libc::SIGSEGV), "{stderr}");
        }
    }
}

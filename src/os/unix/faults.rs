//! The fault side of the overflow report on Unix: a `SIGSEGV`/`SIGBUS`
//! handler, installed without a window in which a fault finds no previous
//! action to chain to, that asks the layer above whether the faulting
//! address is a greenlet's guard page, aborts if so, and otherwise hands
//! the signal to the handler that was there before; and the per-thread
//! alternate signal stack that handler runs on.
//!
//! * The install never lets the handler see a half-written previous action:
//!   the previous action is read first, copied, and published (an atomic
//!   pointer to the complete copy) before our handler goes in; if another
//!   handler was put in between, the action our `sigaction` replaced is
//!   published too, again as a complete copy.
//! * The handler is async-signal-safe: no allocation, no locks.
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
//! * [`arm_fault_stack`] makes sure the calling thread has an enabled alternate stack:
//!   the one it has, or else this module's own for the thread (64 KiB,
//!   mapped once per thread and reused if it was disabled).
//! * The first first install (`overflow::install`) on a thread arms it, and registers a
//!   thread-local destructor that arms it again: thread-local destructors
//!   run last registered first, so it runs before every destructor
//!   registered earlier on the thread (the hub's teardown, when the hub was
//!   the thread's first user of greenlets; a thread-local that holds a
//!   greenlet and was first used before the thread's first greenlet).
//!   Code that runs greenlets from a destructor registered *later* calls
//!   [`arm_fault_stack`] first.
//! * This module's own alternate stack is never freed while the thread can
//!   run greenlets: it is not freed by a thread-local destructor but by the
//!   destructor of a `pthread` key, which the C library runs after all
//!   thread-local destructors (glibc's `start_thread`:
//!   `__call_tls_dtors`, then `__nptl_deallocate_tsd`). On the main thread
//!   it stays until the process exits.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Asks whether a fault at this address is a reported overflow (the report
/// then has been written); see [`install_fault_handler`].
pub(crate) type IsOverflow = fn(usize) -> bool;

/// The [`IsOverflow`] of the installed handler, as an address (0: none).
static IS_OVERFLOW: AtomicUsize = AtomicUsize::new(0);

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Bytes of the alternate signal stack this module maps for a thread that
/// has none (enough for the handler and for a chained Rust handler).
const ALT_STACK_BYTES: usize = 64 * 1024;

/// `MAP_STACK` where the system has it (Linux: a hint that the mapping is
/// a stack); macOS has no such flag.
#[cfg(target_os = "linux")]
const MAP_STACK: libc::c_int = libc::MAP_STACK;
#[cfg(not(target_os = "linux"))]
const MAP_STACK: libc::c_int = 0;

/// Installs the process's fault handler (call once): a fault for which
/// `is_overflow(address)` is true aborts the process (`is_overflow` has
/// written the report); any other goes on to the previous handler, or the
/// default action. A `sigaction` that fails is returned: overflows are then
/// not reported, and nothing else changes.
pub(crate) fn install_fault_handler(is_overflow: IsOverflow) -> Result<(), FaultInstallError> {
    IS_OVERFLOW.store(is_overflow as usize, Ordering::Release);
    install_handlers(&PREVIOUS, real_sigaction)
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
pub(crate) struct FaultInstallError {
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
fn install_handlers(previous: &Previous, sigaction: Sigaction) -> Result<(), FaultInstallError> {
    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = handler;
    for (i, &sig) in SIGNALS.iter().enumerate() {
        // SAFETY: all-zero is a valid `sigaction` (SIG_DFL, no flags).
        let mut read: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: reads the current action into `read`; installs nothing.
        if unsafe { sigaction(sig, ptr::null(), &raw mut read) } != 0 {
            let os = io::Error::last_os_error();
            return Err(FaultInstallError {
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
            return Err(FaultInstallError {
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

/// The line printed when the handler could not be put in.
fn install_failure_text(e: &FaultInstallError) -> String {
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

impl fmt::Display for FaultInstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&install_failure_text(self))
    }
}

// ---------------------------------------------------------------------------
// The alternate signal stack.

thread_local! {
    /// The alternate stack this module mapped for this thread, if any. Freed
    /// by [`free_alt_stack`], the destructor of [`alt_key`], after every
    /// thread-local destructor. No destructor of its own.
    static OWN_ALT: Cell<*mut libc::c_void> = const { Cell::new(ptr::null_mut()) };
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
pub(crate) fn arm_fault_stack() -> bool {
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
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | MAP_STACK,
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
pub(crate) fn write_stderr(bytes: &[u8]) {
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

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let is_overflow = IS_OVERFLOW.load(Ordering::Acquire);
    // SAFETY: a non-zero IS_OVERFLOW was stored from an `IsOverflow`.
    if is_overflow != 0 && unsafe { std::mem::transmute::<usize, IsOverflow>(is_overflow) }(addr) {
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
    use std::cell::RefCell;

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
        #[cfg(target_os = "linux")]
        unsafe {
            *libc::__errno_location() = e;
        }
        // SAFETY: as above.
        #[cfg(target_vendor = "apple")]
        unsafe {
            *libc::__error() = e;
        }
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
    ) -> (Result<(), FaultInstallError>, Fake, Box<Previous>) {
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
}

//! Stack overflows reported, not suffered: a `SIGSEGV`/`SIGBUS` handler
//! that recognises the guard page of the running greenlet's stack, prints
//! one line naming the greenlet and its stack size, and aborts.
//!
//! * It is installed once per process, the first time a greenlet is
//!   created, on top of whatever handler was there (Rust's own, which
//!   reports overflows of threads' stacks, or a program's). Any fault that
//!   is not in the running greenlet's guard page goes on to that previous
//!   handler unchanged; if there was none, the default action runs (the
//!   process dies by the signal, as before).
//! * It runs on an alternate signal stack (an overflowed stack has no room
//!   left): each thread that creates a greenlet gets one unless it already
//!   has one (Rust gives its threads one).
//! * It is async-signal-safe: no allocation, no locks; the line is written
//!   with `write(2)` from buffers on the signal stack.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

static INSTALL: Once = Once::new();

/// How the handler finds the running greenlet's guard page: given the
/// faulting address, call the reporter with the greenlet's name and stack
/// size and return true, or return false if the address is not in that
/// guard. Handed in by the greenlet layer at [`install`], so that this
/// module imports nothing above it. Must be async-signal-safe.
pub(crate) type Lookup = fn(usize, &mut dyn FnMut(Option<&str>, usize)) -> bool;

/// The [`Lookup`] handed to [`install`], as an address (0: none yet).
/// Written once, before the handler is installed.
static LOOKUP: AtomicUsize = AtomicUsize::new(0);

/// The handlers that were installed before ours, for SIGSEGV and SIGBUS.
/// Written once under `INSTALL` before our handler can run, then only read.
static mut PREVIOUS: [MaybeUninit<libc::sigaction>; 2] = [MaybeUninit::uninit(); 2];

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Bytes of the alternate signal stack this module maps for a thread that
/// has none (enough for the handler and for a chained Rust handler).
const ALT_STACK_BYTES: usize = 64 * 1024;

/// Install the handler (once per process) and make sure this thread has an
/// alternate signal stack. `lookup` is how the handler recognises the
/// running greenlet's guard page (the first call's is kept).
#[inline]
pub(crate) fn install(lookup: Lookup) {
    if !ALT_CHECKED.with(Cell::get) {
        install_slow(lookup);
    }
}

/// [`install`] on a thread's first call: the process-wide handler (once),
/// and this thread's alternate signal stack.
#[cold]
fn install_slow(lookup: Lookup) {
    INSTALL.call_once(|| {
        LOOKUP.store(lookup as usize, Ordering::Release);
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: `action` is fully initialised before use (zeroed is a
            // valid sigaction); PREVIOUS[i] is written before the handler is
            // installed and nothing else writes it.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    handler;
                action.sa_sigaction = f as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let previous = (&raw mut PREVIOUS[i]).cast::<libc::sigaction>();
                ptr::write(previous, std::mem::zeroed());
                libc::sigaction(sig, &action, previous);
            }
        }
    });
    ensure_alt_stack();
}

thread_local! {
    /// Whether this thread has been through `install_slow`: the handler is
    /// installed (once per process) and this thread's alternate signal
    /// stack has been checked. After that, `install` is this one test.
    static ALT_CHECKED: Cell<bool> = const { Cell::new(false) };
    /// The alternate stack this module mapped for this thread, if any:
    /// disabled and unmapped when the thread exits.
    static ALT_STACK: AltStack = const { AltStack(Cell::new(ptr::null_mut())) };
}

struct AltStack(Cell<*mut libc::c_void>);

impl Drop for AltStack {
    fn drop(&mut self) {
        let p = self.0.get();
        if p.is_null() {
            return;
        }
        // SAFETY: `p` is the ALT_STACK_BYTES mapping this module made and
        // installed for this thread; it is disabled before it is unmapped,
        // and this thread is not running on it (no signal is being handled).
        unsafe {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(p, ALT_STACK_BYTES);
        }
    }
}

fn ensure_alt_stack() {
    ALT_CHECKED.with(|c| c.set(true));
    // SAFETY: querying and setting this thread's alternate signal stack;
    // the mapping is owned by ALT_STACK from then on.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut old) != 0 || old.ss_flags & libc::SS_DISABLE == 0 {
            return; // already has one (Rust gives its threads one), or cannot tell
        }
        let p = libc::mmap(
            ptr::null_mut(),
            ALT_STACK_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return; // no report possible on this thread; faults behave as before
        }
        let stack = libc::stack_t {
            ss_sp: p,
            ss_flags: 0,
            ss_size: ALT_STACK_BYTES,
        };
        if libc::sigaltstack(&stack, ptr::null_mut()) != 0 {
            libc::munmap(p, ALT_STACK_BYTES);
            return;
        }
        // If the thread-local is already gone (thread exit), the mapping
        // stays with the thread's last moments: leaked, never reused.
        let _ = ALT_STACK.try_with(|a| a.0.set(p));
    }
}

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

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let lookup = LOOKUP.load(Ordering::Acquire);
    if lookup == 0 {
        chain(sig, info, context);
        return;
    }
    // SAFETY: a non-zero LOOKUP was stored from a `Lookup` by `install`.
    let lookup: Lookup = unsafe { std::mem::transmute::<usize, Lookup>(lookup) };
    let overflowed = lookup(addr, &mut |name, size| {
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
    });
    if overflowed {
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    chain(sig, info, context);
}

/// Hand the signal to the handler that was there before ours.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let i = if sig == libc::SIGSEGV { 0 } else { 1 };
    // SAFETY: PREVIOUS[i] was written before our handler was installed.
    let previous = unsafe { &*(&raw const PREVIOUS[i]).cast::<libc::sigaction>() };
    let action = previous.sa_sigaction;
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction
        // runs again and the process dies by the signal, as without us.
        // SAFETY: setting a valid (zeroed = SIG_DFL) action.
        unsafe {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &default, ptr::null_mut());
        }
    } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
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

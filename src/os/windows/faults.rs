//! The fault side of the overflow report on Windows: a vectored exception
//! handler that asks the layer above whether the faulting address is in
//! the guard of a greenlet's stack in use, aborts if so, and otherwise lets
//! the exception go on (`EXCEPTION_CONTINUE_SEARCH`: the next handler, or
//! the default, as without it).
//!
//! # Dispatch on an overflowed stack
//!
//! Windows dispatches an exception on the faulting thread's own stack:
//! the exception record and the context are pushed below the faulting
//! stack pointer, and the vectored handlers run below them. For an
//! overflow that stack is the greenlet's, whose stack pointer is at its
//! guard, so the guard must leave the dispatcher room. Unix has an
//! alternate signal stack for this; Windows has guard pages and a
//! per-thread stack guarantee, and decides from the thread information
//! block (TIB/TEB) which stack is running. The switch
//! (`asm/x86_64_win64.S`) carries `StackBase`, `StackLimit` and
//! `DeallocationStack` with each context, so those checks apply to the
//! greenlet's stack while it runs.
//!
//! What Wine does (read in `dlls/ntdll/unix/virtual.c` of the Wine 8 line,
//! `virtual_handle_fault`, `grow_thread_stack`, `virtual_setup_exception`):
//!
//! * A fault on a `PAGE_GUARD` page between the running stack's
//!   `DeallocationStack` and `StackBase` is stack growth: the guard moves
//!   one page down, silently, until the faulting page lies within the
//!   thread's guarantee (`GuaranteedStackBytes`, at least two pages on
//!   x64) above `DeallocationStack` plus one page; then that whole range
//!   loses its guard and `STATUS_STACK_OVERFLOW` is raised (with the
//!   faulting address as its second parameter), the range being the
//!   dispatcher's room. A `PAGE_GUARD` page outside the running stack's
//!   bounds raises `STATUS_GUARD_PAGE_VIOLATION` once.
//! * The exception frame goes at the faulting stack pointer minus its size;
//!   if that is below `DeallocationStack` plus one page, the thread is
//!   killed (`abort_thread(1)`) and no handler runs. Real Windows does the
//!   same in its memory manager (`MiCheckForUserStackOverflow`) from the
//!   same TEB fields; that is not verified here (no Windows machine).
//!
//! Hence the layout (see `memory.rs`): a stack's guard is a
//! `PAGE_NOACCESS` page under [`DISPATCH_RESERVE`](super::memory::DISPATCH_RESERVE)
//! bytes (32 KiB) of `PAGE_GUARD` pages; a greenlet's context is made with
//! `DeallocationStack = StackLimit =` the guard's start
//! (`raw::stack_init_bounded`, as a thread's `DeallocationStack` is the
//! base of its reservation, below its guard pages); and
//! [`arm_fault_stack`] raises the thread's guarantee to [`GUARANTEE`]
//! (16 KiB; Rust's own threads have 20 KiB). An overflow then runs into the
//! guard pages, Wine moves the guard down through the reserve and raises
//! `STATUS_STACK_OVERFLOW` with 16 KiB or more of the reserve free below
//! the stack pointer; the handler finds the address in the guard, the
//! report is written, and `std::process::abort` ends the process
//! (`__fastfail`, exit status `0xC0000409`). A direct access to the
//! `PAGE_NOACCESS` page from a stack with room (the unit test's writes
//! from the main stack) is an access violation with the address, handled
//! the same way.
//!
//! Evidence (Wine 8.0~repack-4, Debian 12): with this layout every case of
//! `tests/overflow.rs` that Windows can run is reported (unbounded
//! recursion, a 256 KiB array behind `__chkstk`'s probes, a nested
//! greenlet, the guard fault inside a switch at every depth of the binary
//! search, the opt-out before and after the first greenlet, a thread-local
//! destructor at thread exit), and so are the sender and target faults of
//! the unit test in `overflow.rs`. With the guard cut to the one
//! `PAGE_NOACCESS` page (the Unix layout), each case run alone was still
//! reported, but the full `overflow` test binary hung in
//! `a_guard_fault_inside_a_switch_is_reported_as_the_senders_overflow`
//! (twice, killed at 120 s): a child that loses its faulting thread as the
//! source says, with the process left waiting. The reserve costs 32 KiB
//! of address space and commit charge per stack, no resident memory.
//!
//! `AddVectoredExceptionHandler(1, ...)` puts the handler first, before
//! Rust's own (which would call a greenlet's overflow an overflow of the
//! thread's stack); every exception that is not a greenlet's overflow goes
//! on with `EXCEPTION_CONTINUE_SEARCH`. A record without an address (a
//! `STATUS_STACK_OVERFLOW` that the dispatcher raises itself when its frame
//! would land in a guard page) is looked up by the running context's
//! `DeallocationStack`, which for a greenlet is its guard's start.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use windows_sys::Win32::Foundation::{
    EXCEPTION_ACCESS_VIOLATION, EXCEPTION_STACK_OVERFLOW, STATUS_GUARD_PAGE_VIOLATION,
};
use windows_sys::Win32::Storage::FileSystem::WriteFile;
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::Diagnostics::Debug::{
    AddVectoredExceptionHandler, EXCEPTION_CONTINUE_SEARCH, EXCEPTION_POINTERS,
};
use windows_sys::Win32::System::Threading::SetThreadStackGuarantee;

/// Asks whether a fault at this address is a reported overflow (the report
/// then has been written); see [`install_fault_handler`].
pub(crate) type IsOverflow = fn(usize) -> bool;

/// The [`IsOverflow`] of the installed handler, as an address (0: none).
static IS_OVERFLOW: AtomicUsize = AtomicUsize::new(0);

/// The stack guarantee [`arm_fault_stack`] gives each thread: what the
/// exception dispatcher and the handler may use of a stack after the
/// overflow is detected. It must stay below the dispatch reserve of a
/// stack's guard (`memory::DISPATCH_RESERVE`), so that it lies wholly in
/// the guard.
const GUARANTEE: u32 = 16 * 1024;
const _: () = assert!(GUARANTEE as usize + 4096 <= super::memory::DISPATCH_RESERVE);

/// `AddVectoredExceptionHandler` failed.
#[derive(Debug)]
pub(crate) struct FaultInstallError {
    os: io::Error,
}

impl fmt::Display for FaultInstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "greenlet: cannot install the stack-overflow handler: AddVectoredExceptionHandler \
             failed: {}; a stack overflow in a greenlet will not be reported (the process \
             dies by the exception, as without the handler)",
            self.os
        )
    }
}

/// Installs the process's handler (call once): first in the vectored
/// list, so that an overflow of a greenlet's stack is reported before
/// Rust's own handler (which would call it an overflow of the thread's
/// stack) sees it. Every exception that is not a greenlet's overflow goes
/// on unchanged.
pub(crate) fn install_fault_handler(is_overflow: IsOverflow) -> Result<(), FaultInstallError> {
    IS_OVERFLOW.store(is_overflow as usize, Ordering::Release);
    // SAFETY: `handler` has the signature of a vectored handler and stays
    // valid for the life of the process; it is never removed.
    let h = unsafe { AddVectoredExceptionHandler(1, Some(handler)) };
    if h.is_null() {
        Err(FaultInstallError {
            os: io::Error::last_os_error(),
        })
    } else {
        Ok(())
    }
}

/// Makes sure the calling thread can report an overflow: its stack
/// guarantee (`SetThreadStackGuarantee`, a per-thread value in the TEB,
/// not switched with the stacks) is at least [`GUARANTEE`], so that the
/// OS raises `STATUS_STACK_OVERFLOW` while that much of the guard is left
/// for the dispatcher. Never lowers a larger guarantee (Rust's threads
/// have 20 KiB). Returns whether the thread has it now.
pub(crate) fn arm_fault_stack() -> bool {
    let mut now: u32 = 0;
    // SAFETY: with 0 in `now` the call only reports the current guarantee
    // into it.
    if unsafe { SetThreadStackGuarantee(&raw mut now) } == 0 {
        return false;
    }
    if now >= GUARANTEE {
        return true;
    }
    let mut want = GUARANTEE;
    // SAFETY: sets this thread's guarantee; `want` is writable (it receives
    // the previous value).
    unsafe { SetThreadStackGuarantee(&raw mut want) != 0 }
}

/// Writes all of `bytes` to the standard error handle with `WriteFile`
/// (no allocation, no lock of Rust's).
pub(crate) fn write_stderr(bytes: &[u8]) {
    // SAFETY: GetStdHandle only reads the process parameters.
    let handle = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    if handle.is_null() || handle as isize == -1 {
        return;
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
        let mut written: u32 = 0;
        // SAFETY: `rest` is readable for `len` bytes, `written` is writable,
        // no OVERLAPPED (a synchronous write).
        let ok = unsafe {
            WriteFile(
                handle,
                rest.as_ptr(),
                len,
                &raw mut written,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 || written == 0 {
            return;
        }
        rest = &rest[written as usize..];
    }
}

/// The running context's `DeallocationStack` (TEB offset 0x1478 on x64),
/// which the switch sets to the bottom a context was made with: for a
/// greenlet, the start of its stack's guard. The address a record without
/// one (`STATUS_STACK_OVERFLOW` raised by the dispatcher itself) is looked
/// up by.
#[cfg(target_arch = "x86_64")]
fn deallocation_stack() -> usize {
    let v: usize;
    // SAFETY: gs points at the running thread's TEB on x64 Windows; the
    // load reads one word of it and has no other effect.
    unsafe {
        std::arch::asm!("mov {}, gs:[0x1478]", out(reg) v, options(nostack, readonly, preserves_flags));
    }
    v
}

#[cfg(not(target_arch = "x86_64"))]
fn deallocation_stack() -> usize {
    0
}

/// The vectored handler. Runs on the faulting stack (see the module
/// documentation): no allocation, no locks.
unsafe extern "system" fn handler(info: *mut EXCEPTION_POINTERS) -> i32 {
    // SAFETY: the dispatcher passes valid exception pointers whose record
    // lives until the handler returns.
    let rec = unsafe { &*(*info).ExceptionRecord };
    let code = rec.ExceptionCode;
    if code != EXCEPTION_ACCESS_VIOLATION
        && code != EXCEPTION_STACK_OVERFLOW
        && code != STATUS_GUARD_PAGE_VIOLATION
    {
        return EXCEPTION_CONTINUE_SEARCH;
    }
    // Access violations and guard-page faults carry the address in their
    // second parameter; a stack overflow does when the memory manager
    // raised it, not when the dispatcher did (then the running stack is the
    // one that overflowed).
    let addr = if rec.NumberParameters >= 2 {
        rec.ExceptionInformation[1]
    } else {
        deallocation_stack()
    };
    let is_overflow = IS_OVERFLOW.load(Ordering::Acquire);
    // SAFETY: a non-zero IS_OVERFLOW was stored from an `IsOverflow`.
    if is_overflow != 0 && unsafe { std::mem::transmute::<usize, IsOverflow>(is_overflow) }(addr) {
        std::process::abort();
    }
    EXCEPTION_CONTINUE_SEARCH
}

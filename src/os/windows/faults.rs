//! The fault side of the overflow report on Windows: a vectored exception
//! handler that asks the layer above whether the faulting address is in
//! the guard of a greenlet's stack in use, aborts if so, and otherwise lets
//! the exception go on (`EXCEPTION_CONTINUE_SEARCH`: the next handler, or
//! the default, as without it).
//!
//! # Dispatch on an overflowed stack
//!
//! EVIDENCE-PLACEHOLDER

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

//! Memory for stacks on Windows: the page size (`GetSystemInfo`),
//! pagefile-backed mappings (`memmap2`), guards (`VirtualProtect`).
//!
//! # Decisions
//!
//! * **Mappings: `memmap2::MmapOptions::map_anon`**, which on Windows is a
//!   pagefile-backed section (`CreateFileMappingW(INVALID_HANDLE_VALUE)`)
//!   mapped with `MapViewOfFile`, unmapped when the handle drops. The stack
//!   layer owns its mappings as `MmapMut` (a stack's own mapping is an
//!   `Option<Box<MmapMut>>`), so this keeps one type on every OS; a
//!   `VirtualAlloc` reservation would need a second owner type for the
//!   same job. The cost: the whole mapping is committed (charged against
//!   the commit limit) when it is made, not page by page as a thread stack
//!   is; pages still become resident only when touched.
//! * **The guard: `VirtualProtect`**, in two parts (see `faults.rs` for
//!   why): the lowest page `PAGE_NOACCESS`, the rest of the guard
//!   ([`guard_size`]: one page plus [`DISPATCH_RESERVE`]) `PAGE_READWRITE
//!   | PAGE_GUARD`. A guard page faults once (`STATUS_GUARD_PAGE_VIOLATION`,
//!   or, inside the running stack's bounds, the OS's stack-growth check,
//!   which ends in `STATUS_STACK_OVERFLOW`); the `PAGE_NOACCESS` page below
//!   faults on every access, so nothing runs off the mapping.
//! * **Giving pages back: nothing.** `MEM_RESET` (`VirtualAlloc`) and
//!   `DiscardVirtualMemory` are for private (`VirtualAlloc`) memory; Wine 8
//!   refuses `MEM_RESET` on a mapped view (`NtAllocateVirtualMemory` checks
//!   `is_view_valloc`: `STATUS_INVALID_PARAMETER`), and a system call that
//!   always fails is worse than none. A pooled stack keeps its pages, as a
//!   thread's stack keeps its high-water mark on Windows; the memory manager
//!   can still page them out. Nothing relies on a pooled stack reading as
//!   zero.
//! * **No kernel guards** (Linux's guard markers): `Unsupported`/`false`,
//!   so the stack layer gives every stack a mapping of its own.

use memmap2::{MmapMut, MmapOptions};
use std::io;
use std::ops::Range;
use windows_sys::Win32::Foundation::{
    ERROR_COMMITMENT_LIMIT, ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY,
};
use windows_sys::Win32::System::Memory::{
    PAGE_GUARD, PAGE_NOACCESS, PAGE_PROTECTION_FLAGS, PAGE_READWRITE, VirtualProtect,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

/// The page size `GetSystemInfo` reports, if it is a power of two.
pub(crate) fn page_size() -> Option<usize> {
    // SAFETY: all-zero is a valid SYSTEM_INFO (integers, pointers, a union
    // of integers).
    let mut info: SYSTEM_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a writable SYSTEM_INFO; GetSystemInfo only fills it
    // and cannot fail.
    unsafe { GetSystemInfo(&raw mut info) };
    let page = info.dwPageSize as usize;
    page.is_power_of_two().then_some(page)
}

/// Bytes of the guard above the `PAGE_NOACCESS` page: `PAGE_GUARD` pages,
/// in which an overflow is caught while the exception dispatcher still has
/// room on the overflowed stack (see `faults.rs`). At least the thread's
/// stack guarantee that [`arm_fault_stack`](super::arm_fault_stack) sets,
/// plus a page.
pub(crate) const DISPATCH_RESERVE: usize = 32 * 1024;

/// Bytes of guard below a stack's usable range, for pages of `page` bytes:
/// one `PAGE_NOACCESS` page and the [`DISPATCH_RESERVE`] of guard pages.
#[inline(always)]
pub(crate) const fn guard_size(page: usize) -> usize {
    page + DISPATCH_RESERVE.next_multiple_of(page)
}

/// The raw OS error for "not enough memory" (`ERROR_NOT_ENOUGH_MEMORY`).
pub(crate) const NO_MEMORY: i32 = ERROR_NOT_ENOUGH_MEMORY as i32;

/// Whether `e` is the OS refusing for want of memory or commit charge.
pub(crate) fn is_no_memory(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_COMMITMENT_LIMIT)
    )
}

/// Maps `len` bytes of pagefile-backed, private, read/write memory. The
/// handle unmaps it when dropped.
pub(crate) fn map_anonymous(len: usize) -> io::Result<MmapMut> {
    MmapOptions::new().len(len).map_anon()
}

/// `VirtualProtect` on a range, returning the OS error.
///
/// # Safety
/// As [`protect_none`].
unsafe fn protect(start: *mut u8, len: usize, flags: PAGE_PROTECTION_FLAGS) -> io::Result<()> {
    let mut old: PAGE_PROTECTION_FLAGS = 0;
    // SAFETY: the caller's promise: the range lies in a mapping it owns and
    // nothing uses; `old` is writable, as VirtualProtect requires.
    let ok = unsafe { VirtualProtect(start.cast_const().cast(), len, flags, &raw mut old) };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes `[start, start + len)` a guard: its lowest page `PAGE_NOACCESS`
/// (faults on every access), the rest `PAGE_GUARD` (faults on the first
/// access, which the overflow report catches; see `faults.rs`). `len` is
/// [`guard_size`] for a stack's guard; a one-page range is all
/// `PAGE_NOACCESS`.
///
/// # Safety
/// The range is page aligned, lies in a mapping the caller owns, and
/// nothing uses it (nothing of Rust's refers to it).
pub(crate) unsafe fn protect_none(start: *mut u8, len: usize) -> io::Result<()> {
    let page = page_size().unwrap_or(4096).min(len);
    // SAFETY: the caller's promise, for the first page of its range.
    unsafe { protect(start, page, PAGE_NOACCESS) }?;
    if len > page {
        // SAFETY: the caller's promise, for the rest of its range.
        unsafe { protect(start.add(page), len - page, PAGE_READWRITE | PAGE_GUARD) }?;
    }
    Ok(())
}

/// Kernel guard markers are Linux's: `Unsupported`.
///
/// # Safety
/// As [`protect_none`] (nothing is done).
pub(crate) unsafe fn install_kernel_guard(start: *mut u8, len: usize) -> io::Result<()> {
    let _ = (start, len);
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Always false: Windows has no guard without a protection change.
pub(crate) fn kernel_guard_works() -> bool {
    false
}

/// Gives nothing back (see the module documentation: the stacks are
/// mapped views, for which Windows has no `MADV_DONTNEED`).
///
/// # Safety
/// As on Unix: the range is page aligned, in a mapping the caller owns,
/// and its contents are not needed.
#[inline]
pub(crate) unsafe fn forget_pages(start: *mut u8, len: usize) {
    let _ = (start, len);
}

/// At most this many ranges go to one [`forget_many`].
pub(crate) const FORGET_MANY_MAX: usize = 64;

/// No batched call on Windows: 0 ranges done.
///
/// # Safety
/// Each range is as [`forget_pages`] requires.
pub(crate) unsafe fn forget_many(ranges: impl Iterator<Item = Range<usize>>) -> usize {
    let _ = ranges;
    0
}

/// Whether giving a page back makes it read as zero: never on Windows
/// (nothing is given back).
#[cfg(test)]
pub(crate) fn dontneed_frees_pages() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_and_guard() {
        let page = page_size().expect("a page size");
        assert!(page >= 4096);
        assert_eq!(guard_size(page) % page, 0);
        assert!(guard_size(page) > DISPATCH_RESERVE);
        let mut m = map_anonymous(guard_size(page) + page).expect("a mapping");
        let base = m.as_mut_ptr();
        // SAFETY: the guard range is the start of our fresh mapping, page
        // aligned, and nothing refers to it; the page above stays writable.
        unsafe {
            protect_none(base, guard_size(page)).expect("VirtualProtect");
            base.add(guard_size(page)).write_volatile(1);
        }
        assert!(is_no_memory(&io::Error::from_raw_os_error(NO_MEMORY)));
        assert!(!is_no_memory(&io::Error::from_raw_os_error(5)));
    }
}

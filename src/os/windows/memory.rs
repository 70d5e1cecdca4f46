//! Memory for stacks on Windows: the page size (`GetSystemInfo`),
//! private mappings (`VirtualAlloc`), guards (`VirtualProtect`).
//!
//! # Decisions
//!
//! * **Mappings: `VirtualAlloc(MEM_RESERVE | MEM_COMMIT)`**, owned by
//!   [`Mapping`], which releases it (`VirtualFree(MEM_RELEASE)`) when
//!   dropped: private memory, as a thread's stack is. First written with
//!   `memmap2::MmapOptions::map_anon` (the Unix family's owner type), which
//!   on Windows is a pagefile-backed *section* mapped with
//!   `MapViewOfFile`; under Wine 8 every section is backed by a file
//!   descriptor, and `greenlet_semantics`' many-greenlets test stopped at
//!   19,794 stacks with `ERROR_TOO_MANY_OPEN_FILES`. Private memory has no
//!   such limit, and is the kind Windows' own stack-overflow machinery
//!   (guard pages in a reservation) is made for. Committing the whole
//!   mapping charges it against the commit limit at once; pages become
//!   resident only when touched.
//! * **The guard: `VirtualProtect`**, in two parts (see `faults.rs` for
//!   why): the lowest page `PAGE_NOACCESS`, the rest of the guard
//!   ([`guard_size`]: one page plus [`DISPATCH_RESERVE`]) `PAGE_READWRITE
//!   | PAGE_GUARD`. A guard page faults once (`STATUS_GUARD_PAGE_VIOLATION`,
//!   or, inside the running stack's bounds, the OS's stack-growth check,
//!   which ends in `STATUS_STACK_OVERFLOW`); the `PAGE_NOACCESS` page below
//!   faults on every access, so nothing runs off the mapping.
//! * **Giving pages back: `VirtualAlloc(MEM_RESET)`**: the contents are
//!   no longer needed, and the memory manager may drop the pages instead of
//!   writing them to the pagefile; they stay committed and may keep their
//!   old contents until reused (nothing relies on a pooled stack reading
//!   as zero). Failures are ignored, as on Unix.
//! * **No kernel guards** (Linux's guard markers): `Unsupported`/`false`,
//!   so the stack layer gives every stack a mapping of its own.

use std::io;
use std::ops::Range;
use std::ptr::{self, NonNull};
use windows_sys::Win32::Foundation::{
    ERROR_COMMITMENT_LIMIT, ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY,
};
use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, MEM_RESET, PAGE_GUARD, PAGE_NOACCESS,
    PAGE_PROTECTION_FLAGS, PAGE_READWRITE, VirtualAlloc, VirtualFree, VirtualProtect,
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

/// A `VirtualAlloc` reservation, committed read/write when made, released
/// when dropped. Never dereferenced: its owner hands out addresses only.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
}

// SAFETY: a `Mapping` is the sole owner of its reservation, which any
// thread may release; it holds no reference into it.
unsafe impl Send for Mapping {}

// SAFETY: `&Mapping` gives nothing but the address.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// The start of the memory.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.base.as_ptr()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base` is the start of a reservation this handle owns and
        // nothing runs on any more (its owner drops it last); MEM_RELEASE
        // with size 0 releases the whole reservation.
        unsafe { VirtualFree(self.base.as_ptr().cast(), 0, MEM_RELEASE) };
    }
}

/// Reserves and commits `len` bytes of private read/write memory. The
/// handle releases it when dropped.
pub(crate) fn map_anonymous(len: usize) -> io::Result<Mapping> {
    // SAFETY: a new reservation at an address of the system's choosing
    // overlaps nothing of ours.
    let p = unsafe { VirtualAlloc(ptr::null(), len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE) };
    NonNull::new(p.cast::<u8>())
        .map(|base| Mapping { base })
        .ok_or_else(io::Error::last_os_error)
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

/// Tells the memory manager that the contents of `[start, start + len)`
/// are not needed (`MEM_RESET`); the range stays committed and usable.
/// Failures are ignored: the pages then stay as they are.
///
/// # Safety
/// As on Unix: the range is page aligned, in a mapping the caller owns,
/// and its contents are not needed (nothing runs on it).
#[inline]
pub(crate) unsafe fn forget_pages(start: *mut u8, len: usize) {
    // SAFETY: the caller's promise; MEM_RESET changes no protection and
    // maps nothing (the protection argument is ignored with it).
    unsafe { VirtualAlloc(start.cast_const().cast(), len, MEM_RESET, PAGE_NOACCESS) };
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

/// Whether giving a page back makes it read as zero: not on Windows
/// (`MEM_RESET` keeps the contents until the memory manager needs the page).
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
            // MEM_RESET is accepted on this memory (its result is ignored
            // by forget_pages).
            let reset = VirtualAlloc(
                base.add(guard_size(page)).cast_const().cast(),
                page,
                MEM_RESET,
                PAGE_NOACCESS,
            );
            assert!(
                !reset.is_null(),
                "MEM_RESET: {}",
                io::Error::last_os_error()
            );
            forget_pages(base.add(guard_size(page)), page);
            base.add(guard_size(page)).write_volatile(2);
            assert_eq!(base.add(guard_size(page)).read_volatile(), 2);
        }
        assert!(is_no_memory(&io::Error::from_raw_os_error(NO_MEMORY)));
        assert!(!is_no_memory(&io::Error::from_raw_os_error(5)));
    }
}

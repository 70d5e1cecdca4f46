//! Memory for stacks on Unix: the page size, anonymous mappings, guard
//! pages (`mprotect`, or Linux 6.13's guard markers), and giving pages
//! back to the kernel, one range at a time or many with one
//! `process_madvise` (Linux 6.15).
//!
//! Linux-only calls are behind `cfg(target_os = "linux")`; elsewhere they
//! report that they are not available, and the stack layer falls back to
//! what every Unix has.

use memmap2::{MmapMut, MmapOptions};
use std::io;
use std::ops::Range;
#[cfg(any(target_os = "linux", test))]
use std::ptr;
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicBool, Ordering};

/// The page size `sysconf(_SC_PAGESIZE)` reports, if it is a power of two.
pub(crate) fn page_size() -> Option<usize> {
    // SAFETY: `sysconf` only reads a system constant; it has no
    // preconditions and touches no memory of ours.
    let raw = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(raw).ok().filter(|n| n.is_power_of_two())
}

/// Bytes of guard below a stack's usable range: one page.
#[inline(always)]
pub(crate) const fn guard_size(page: usize) -> usize {
    page
}

/// The raw OS error for "not enough memory" (`ENOMEM`).
pub(crate) const NO_MEMORY: i32 = libc::ENOMEM;

/// Whether `e` is the kernel refusing for want of memory (`ENOMEM`).
#[inline]
pub(crate) fn is_no_memory(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOMEM)
}

/// Maps `len` bytes of anonymous, private, read/write memory, with
/// `MAP_STACK` and without reserving swap (`MAP_NORESERVE`): pages are
/// committed as they are first touched. The handle unmaps it when dropped.
pub(crate) fn map_anonymous(len: usize) -> io::Result<MmapMut> {
    MmapOptions::new()
        .len(len)
        .stack()
        .no_reserve_swap()
        .map_anon()
}

/// Makes `[start, start + len)` inaccessible (`mprotect(PROT_NONE)`):
/// any access faults with `SIGSEGV`.
///
/// # Safety
/// The range is page aligned, lies in a mapping the caller owns, and
/// nothing uses it (nothing of Rust's refers to it).
pub(crate) unsafe fn protect_none(start: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    let rc = unsafe { libc::mprotect(start.cast(), len, libc::PROT_NONE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `madvise` advice that installs guard markers in the page tables: any
/// access to the range then faults (SIGSEGV), and the kernel's own accesses
/// fail with `EFAULT`. Added in Linux 6.13 (`include/uapi/asm-generic/mman-common.h`:
/// `#define MADV_GUARD_INSTALL 102`); the markers survive `MADV_DONTNEED`
/// and `MADV_FREE`. The libc crate does not define it on every target yet.
#[cfg(target_os = "linux")]
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Installs a kernel guard marker on `[start, start + len)` (Linux 6.13's
/// `MADV_GUARD_INSTALL`): the range faults as a `PROT_NONE` one does,
/// without splitting the mapping. `Unsupported` on other systems.
///
/// # Safety
/// As [`protect_none`].
pub(crate) unsafe fn install_kernel_guard(start: *mut u8, len: usize) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: the caller's promise.
        if unsafe { libc::madvise(start.cast(), len, MADV_GUARD_INSTALL) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (start, len);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Whether [`install_kernel_guard`] really makes a page inaccessible here:
/// a probe maps two pages, installs a guard on the first and, without
/// trusting `madvise`'s return value, checks that the kernel refuses to
/// read it: `write()`ing one byte from the guard page into a pipe must
/// fail with `EFAULT` (while writing from the second page succeeds).
/// Kernels before 6.13 reject the advice (`EINVAL`); qemu-user accepts it
/// but installs nothing, and the write succeeds. Leaves no mapping or file
/// descriptor behind. Always false off Linux.
pub(crate) fn kernel_guard_works() -> bool {
    #[cfg(target_os = "linux")]
    {
        kernel_guard_probe()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(target_os = "linux")]
fn kernel_guard_probe() -> bool {
    let page = page_size().unwrap_or(4096);
    // Dropped (unmapped) at the end of this function.
    let Ok(mut probe) = map_anonymous(2 * page) else {
        return false;
    };
    // Taken while both pages are read/write; the handle is not dereferenced
    // after the guard goes in.
    let map: *mut u8 = probe.as_mut_ptr();
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    let piped = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == 0;
    // SAFETY: `map` is our live mapping of two pages; the guard goes on the
    // first one, which nothing uses.
    let installed = piped && unsafe { install_kernel_guard(map, page) }.is_ok();
    let works = installed && {
        // SAFETY: `fds[1]` is our pipe's write end and both source bytes
        // lie in our mapping. Reading them happens in the kernel, which
        // reports an inaccessible page as EFAULT instead of faulting.
        let (plain, guarded) = unsafe {
            let plain = libc::write(fds[1], map.add(page).cast(), 1);
            let guarded = libc::write(fds[1], map.cast_const().cast(), 1);
            (plain, guarded)
        };
        let errno = io::Error::last_os_error().raw_os_error();
        plain == 1 && guarded == -1 && errno == Some(libc::EFAULT)
    };
    if piped {
        for fd in fds {
            // SAFETY: `fd` is an open descriptor of the pipe made above,
            // closed exactly once.
            unsafe { libc::close(fd) };
        }
    }
    drop(probe);
    works
}

/// Gives the pages of `[start, start + len)` back to the kernel
/// (`MADV_DONTNEED`); the range stays mapped, and reads as zero on Linux
/// afterwards (other systems may keep the old contents until the memory
/// is needed). Failures are ignored: the pages then stay resident.
///
/// # Safety
/// The range is page aligned, lies in a mapping the caller owns, and its
/// contents are not needed (nothing runs on it).
#[inline]
pub(crate) unsafe fn forget_pages(start: *mut u8, len: usize) {
    // SAFETY: the caller's promise.
    unsafe { libc::madvise(start.cast(), len, libc::MADV_DONTNEED) };
}

/// At most this many ranges go to one [`forget_many`].
pub(crate) const FORGET_MANY_MAX: usize = 64;

/// `PIDFD_SELF_THREAD` (`include/uapi/linux/pidfd.h`, Linux 6.15): as the
/// process file descriptor of a `pidfd_*` call or `process_madvise`, the
/// calling thread (and so its process) without opening a descriptor; the
/// libc crate does not define it yet. Always the caller's own process, also
/// in the child of a `fork`.
#[cfg(target_os = "linux")]
const PIDFD_SELF_THREAD: libc::c_int = -10000;

/// Whether `process_madvise` may work here: cleared on its first failure
/// (a kernel before 6.15, a seccomp filter, qemu-user), after which
/// [`forget_many`] does nothing and its callers use [`forget_pages`].
#[cfg(target_os = "linux")]
static BATCH_MADVISE: AtomicBool = AtomicBool::new(true);

/// Gives the pages of the first ranges of `ranges` back to the kernel
/// (`MADV_DONTNEED`) with one `process_madvise` system call for all of
/// them, and returns how many ranges that covered: all of them (at most
/// [`FORGET_MANY_MAX`]) normally; 0 where the kernel refuses or off Linux
/// (then the caller gives each its own [`forget_pages`]). Not to be used
/// under Valgrind (3.19), which does not know the system call.
///
/// # Safety
/// Each range is as [`forget_pages`] requires.
pub(crate) unsafe fn forget_many(ranges: impl Iterator<Item = Range<usize>>) -> usize {
    #[cfg(target_os = "linux")]
    {
        if !BATCH_MADVISE.load(Ordering::Relaxed) {
            return 0;
        }
        let mut iov = [libc::iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        }; FORGET_MANY_MAX];
        let mut n = 0;
        for (v, r) in iov.iter_mut().zip(ranges) {
            *v = libc::iovec {
                iov_base: r.start as *mut libc::c_void,
                iov_len: r.len(),
            };
            n += 1;
        }
        if n == 0 {
            return 0;
        }
        // SAFETY: each range is one the caller may give back (its promise);
        // the kernel only reads the `n` iovecs, which live in this frame.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                PIDFD_SELF_THREAD,
                iov.as_ptr(),
                n,
                libc::MADV_DONTNEED,
                0,
            )
        };
        let Ok(mut bytes) = usize::try_from(rc) else {
            // EBADF (no PIDFD_SELF_THREAD), EINVAL (MADV_DONTNEED not allowed
            // through process_madvise before 6.13), ENOSYS, EPERM: give up on
            // it for the rest of the process.
            BATCH_MADVISE.store(false, Ordering::Relaxed);
            return 0;
        };
        // A short count means the kernel stopped after the first few ranges:
        // only the ones it covered whole are done.
        let mut done = 0;
        for v in &iov[..n] {
            if bytes < v.iov_len {
                break;
            }
            bytes -= v.iov_len;
            done += 1;
        }
        done
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = ranges;
        0
    }
}

/// Whether `madvise(MADV_DONTNEED)` really frees a private page here (its
/// next read is zero): qemu-user ignores it, so tests of what the pool
/// gives back are skipped there. Decided from the evidence, not from an
/// environment variable.
#[cfg(test)]
pub(crate) fn dontneed_frees_pages() -> bool {
    let page = page_size().unwrap_or(4096);
    let mut m = map_anonymous(page).expect("one page");
    let byte = m.as_mut_ptr();
    // SAFETY: `byte` is in the fresh writable page mapped above, which stays
    // mapped after MADV_DONTNEED (it reads as zero, or as before if the
    // advice is ignored) until `m` is dropped at the end.
    unsafe {
        ptr::write_volatile(byte, 0x5A);
        forget_pages(byte, page);
        ptr::read_volatile(byte) == 0
    }
}

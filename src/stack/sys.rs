//! The memory system calls of stacks: mapping anonymous memory, and giving
//! stacks' pages back to the kernel, one range at a time or many with one
//! `process_madvise`.

use super::{RELEASE_BATCH, Stack};
use crate::raw;
use memmap2::{MmapMut, MmapOptions};
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Maps `len` bytes of anonymous, private, read/write memory, with
/// `MAP_STACK` and without reserving swap (`MAP_NORESERVE`): pages are
/// committed as they are first touched. The handle unmaps it when dropped.
pub(super) fn map_anonymous(len: usize) -> io::Result<MmapMut> {
    MmapOptions::new()
        .len(len)
        .stack()
        .no_reserve_swap()
        .map_anon()
}

/// `PIDFD_SELF_THREAD` (`include/uapi/linux/pidfd.h`, Linux 6.15): as the
/// process file descriptor of a `pidfd_*` call or `process_madvise`, the
/// calling thread (and so its process) without opening a descriptor; the
/// libc crate does not define it yet. Always the caller's own process, also
/// in the child of a `fork`.
const PIDFD_SELF_THREAD: libc::c_int = -10000;

/// Whether `process_madvise` may work here: cleared on its first failure
/// (a kernel before 6.15, a seccomp filter, qemu-user) or under Valgrind,
/// after which [`forget_pages_of`] only uses `madvise`.
static BATCH_MADVISE: AtomicBool = AtomicBool::new(true);

/// Returns the usable pages of the first stacks of `stacks` to the kernel
/// (`MADV_DONTNEED`) with one `process_madvise` system call for all of
/// them, and how many stacks that covered: all of them normally; 0 where
/// the kernel refuses (then the caller gives each its own `madvise`).
/// At most [`RELEASE_BATCH`] stacks are taken at once.
pub(super) fn forget_pages_of(stacks: &[Stack]) -> usize {
    if !BATCH_MADVISE.load(Ordering::Relaxed) || stacks.is_empty() {
        return 0;
    }
    if raw::running_on_valgrind() != 0 {
        // Valgrind (3.19) does not know the system call: it would fail
        // anyway, after a warning on stderr.
        BATCH_MADVISE.store(false, Ordering::Relaxed);
        return 0;
    }
    let n = stacks.len().min(RELEASE_BATCH);
    let mut iov = [libc::iovec {
        iov_base: ptr::null_mut(),
        iov_len: 0,
    }; RELEASE_BATCH];
    for (v, stack) in iov.iter_mut().zip(stacks) {
        *v = libc::iovec {
            iov_base: stack.bottom().cast(),
            iov_len: stack.size(),
        };
    }
    // SAFETY: each range is the usable part of a stack given to us to give
    // back (nothing runs on it), page aligned, as `forget_pages` requires;
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

/// Whether `madvise(MADV_DONTNEED)` really frees a private page here (its
/// next read is zero): qemu-user ignores it, so tests of what the pool
/// gives back are skipped there. Decided from the evidence, not from an
/// environment variable.
#[cfg(test)]
pub(super) fn dontneed_frees_pages() -> bool {
    let page = super::sizes::page_size();
    let mut m = map_anonymous(page).expect("one page");
    let byte = m.as_mut_ptr();
    // SAFETY: `byte` is in the fresh writable page mapped above, which stays
    // mapped after MADV_DONTNEED (it reads as zero, or as before if the
    // advice is ignored) until `m` is dropped at the end.
    unsafe {
        ptr::write_volatile(byte, 0x5A);
        libc::madvise(byte.cast(), page, libc::MADV_DONTNEED);
        ptr::read_volatile(byte) == 0
    }
}

//! Stack sizes: the page size, the default and smallest stack, and how a
//! requested size is rounded to the usable size a [`Stack`](super::Stack) gets.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The usable size, in bytes, of a stack created with the default size:
/// 1 MiB, not counting the guard page.
///
/// Only stacks of this size (after rounding to whole pages) are kept in the
/// per-thread pool.
///
/// # Examples
///
/// ```
/// use greenlet::stack::{DEFAULT_STACK_SIZE, Stack};
///
/// assert_eq!(DEFAULT_STACK_SIZE, 1 << 20);
/// let s = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
/// assert_eq!(s.size(), DEFAULT_STACK_SIZE); // 1 MiB is whole pages everywhere
/// ```
pub const DEFAULT_STACK_SIZE: usize = 1024 * 1024;

/// The smallest usable size, in bytes, that a [`Stack`](super::Stack) is given: 16 KiB.
///
/// Smaller requests (including 0) are rounded up to this, and then to a
/// whole number of pages, so on a system with pages larger than 16 KiB the
/// smallest stack is one page.
///
/// # Examples
///
/// ```
/// use greenlet::stack::{MIN_STACK_SIZE, Stack};
///
/// let s = Stack::new(1).unwrap();
/// assert!(s.size() >= MIN_STACK_SIZE);
/// ```
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Page size used when `sysconf(_SC_PAGESIZE)` reports nothing usable.
const FALLBACK_PAGE_SIZE: usize = 4096;

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The size of a memory page in bytes, as reported by the OS
/// (`sysconf(_SC_PAGESIZE)` on Unix, `GetSystemInfo` on Windows).
///
/// The value is queried once and cached. It is always a power of two.
///
/// # Examples
///
/// ```
/// use greenlet::stack::{Stack, page_size};
///
/// let p = page_size();
/// assert!(p.is_power_of_two());
/// assert_eq!(Stack::new(1000).unwrap().size() % p, 0); // stacks are whole pages
/// // On Unix, the OS's own answer:
/// // SAFETY: sysconf has no preconditions.
/// #[cfg(unix)]
/// assert_eq!(p as libc::c_long, unsafe { libc::sysconf(libc::_SC_PAGESIZE) });
/// ```
#[must_use]
#[inline]
pub fn page_size() -> usize {
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // The OS always answers; the fallback only guards against a
    // nonsensical value so that the rounding arithmetic stays well defined.
    let size = crate::os::page_size().unwrap_or(FALLBACK_PAGE_SIZE);
    // Racing threads all store the same value, so a plain store is enough.
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

/// The usable size a request for `size` bytes gets: at least
/// [`MIN_STACK_SIZE`], rounded up to whole pages.
///
/// Fails with `InvalidInput` when the rounded size, plus the guard (one
/// page; more on Windows), cannot be mapped at all (it overflows `usize` or
/// exceeds `isize::MAX`).
#[inline]
pub(super) fn usable_size(size: usize) -> io::Result<usize> {
    let page = page_size();
    // `page` is a power of two: round with a mask, not a division (this is
    // on the path of every pooled greenlet creation).
    let usable = size
        .max(MIN_STACK_SIZE)
        .checked_add(page - 1)
        .map(|s| s & !(page - 1))
        .filter(|&usable| {
            usable
                .checked_add(crate::os::guard_size(page))
                .is_some_and(|total| isize::try_from(total).is_ok())
        });
    usable.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "greenlet: a stack of {size} bytes is too large: rounded to whole \
                 {page}-byte pages and with a guard page added it does not fit in the \
                 address space"
            ),
        )
    })
}

/// [`default_usable_size`], once computed (0 before).
static DEFAULT_USABLE: AtomicUsize = AtomicUsize::new(0);

/// The usable size of a default-size stack after rounding, i.e. the size of
/// the stacks the pool holds.
#[inline]
pub(super) fn default_usable_size() -> usize {
    let cached = DEFAULT_USABLE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    default_usable_size_slow()
}

#[cold]
fn default_usable_size_slow() -> usize {
    // DEFAULT_STACK_SIZE is small, so rounding it cannot fail; fall back to
    // the constant rather than panic all the same. Racing threads store the
    // same value.
    let size = usable_size(DEFAULT_STACK_SIZE).unwrap_or(DEFAULT_STACK_SIZE);
    DEFAULT_USABLE.store(size, Ordering::Relaxed);
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_size_rounds_up() {
        let page = page_size();
        let min = MIN_STACK_SIZE.next_multiple_of(page);
        assert_eq!(usable_size(0).unwrap(), min);
        assert_eq!(usable_size(1).unwrap(), min);
        assert_eq!(usable_size(min).unwrap(), min);
        assert_eq!(usable_size(min + 1).unwrap(), min + page);
        assert_eq!(default_usable_size() % page, 0);
        assert!(default_usable_size() >= DEFAULT_STACK_SIZE);
    }

    #[test]
    fn usable_size_rejects_overflow() {
        for size in [usize::MAX, usize::MAX - page_size(), isize::MAX as usize] {
            let err = usable_size(size).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{size}");
        }
    }
}

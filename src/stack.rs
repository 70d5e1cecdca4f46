//! Guarded, pooled stacks for greenlets.
//!
//! A [`Stack`] is one anonymous memory mapping laid out as
//!
//! ```text
//! low addresses                                          high addresses
//! [ guard page: PROT_NONE ][ usable bytes: read/write ..................]
//! ^ guard().start          ^ bottom()                                    ^ top()
//! ```
//!
//! Stacks grow down, so a greenlet starts with its stack pointer at
//! [`Stack::top`] and an overflow runs into the guard page, which faults
//! instead of silently corrupting a neighbouring mapping.
//!
//! The mapping is made with `MAP_STACK` and `MAP_NORESERVE` and is touched
//! lazily: a stack that was only used shallowly costs only the pages it
//! touched, not its full size.
//!
//! Each stack is *two* kernel mappings (VMAs): making the guard page
//! `PROT_NONE` splits the single `mmap` in two. Linux limits a process to
//! `vm.max_map_count` mappings (65530 by default), so roughly 32 000 live
//! stacks fit under the default limit. Running into that limit, into
//! `RLIMIT_AS`, or into memory exhaustion is reported as an [`io::Error`]
//! of kind [`io::ErrorKind::OutOfMemory`] whose text says what ran out and
//! what to do about it; it is never a panic or a crash.
//!
//! Creating and destroying mappings costs system calls, so stacks of the
//! default size are recycled through a small per-thread pool:
//! [`Stack::acquire`] takes one from the pool when it can and
//! [`Stack::release`] puts one back.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use memmap2::{MmapOptions, MmapRaw};

/// The usable size, in bytes, of a stack created with the default size:
/// 1 MiB, not counting the guard page.
///
/// Only stacks of this size (after rounding to whole pages) are kept in the
/// per-thread pool.
pub const DEFAULT_STACK_SIZE: usize = 1024 * 1024;

/// The smallest usable size, in bytes, that a [`Stack`] is given: 16 KiB.
///
/// Smaller requests (including 0) are rounded up to this, and then to a
/// whole number of pages, so on a system with pages larger than 16 KiB the
/// smallest stack is one page.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// How many default-size stacks each thread keeps in its pool at most.
///
/// Releasing a default-size stack while the pool is full unmaps it.
pub const POOL_CAPACITY: usize = 64;

/// Page size used when `sysconf(_SC_PAGESIZE)` reports nothing usable.
const FALLBACK_PAGE_SIZE: usize = 4096;

/// Number of kernel mappings each guarded stack costs.
const MAPPINGS_PER_STACK: usize = 2;

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The size of a memory page in bytes, as reported by
/// `sysconf(_SC_PAGESIZE)`.
///
/// The value is queried once and cached. It is always a power of two.
#[must_use]
#[inline]
pub fn page_size() -> usize {
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: `sysconf` only reads a system constant; it has no
    // preconditions and touches no memory of ours.
    let raw = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = match usize::try_from(raw) {
        Ok(n) if n.is_power_of_two() => n,
        // Linux always answers; this only guards against a nonsensical
        // value so that the rounding arithmetic stays well defined.
        _ => FALLBACK_PAGE_SIZE,
    };
    // Racing threads all store the same value, so a plain store is enough.
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

/// The usable size a request for `size` bytes gets: at least
/// [`MIN_STACK_SIZE`], rounded up to whole pages.
///
/// Fails with `InvalidInput` when the rounded size, plus one guard page,
/// cannot be mapped at all (it overflows `usize` or exceeds `isize::MAX`).
#[inline]
fn usable_size(size: usize) -> io::Result<usize> {
    let page = page_size();
    // `page` is a power of two: round with a mask, not a division (this is
    // on the path of every pooled greenlet creation).
    let usable = size
        .max(MIN_STACK_SIZE)
        .checked_add(page - 1)
        .map(|s| s & !(page - 1))
        .filter(|&usable| {
            usable
                .checked_add(page)
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

/// The usable size of a default-size stack after rounding, i.e. the size of
/// the stacks the pool holds.
#[inline]
fn default_usable_size() -> usize {
    static DEFAULT_USABLE: AtomicUsize = AtomicUsize::new(0);
    let cached = DEFAULT_USABLE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // DEFAULT_STACK_SIZE is small, so rounding it cannot fail; fall back to
    // the constant rather than panic all the same. Racing threads store the
    // same value.
    let size = usable_size(DEFAULT_STACK_SIZE).unwrap_or(DEFAULT_STACK_SIZE);
    DEFAULT_USABLE.store(size, Ordering::Relaxed);
    size
}

/// One guarded stack mapping: `[guard page PROT_NONE][usable bytes]`,
/// growing down from [`top`](Stack::top).
///
/// A `Stack` owns its mapping; dropping it unmaps the whole mapping, guard
/// page included. It hands out only raw pointers and addresses, never
/// references to its memory: the memory belongs to whatever code runs on
/// the stack.
///
/// `Stack` is `Send`: a mapping may be unmapped from any thread, and a stack
/// may be moved to another thread (for example to be released into that
/// thread's pool).
pub struct Stack {
    /// The whole mapping, guard page first. `MmapRaw` rather than `MmapMut`
    /// because the memory is written through raw pointers by code running
    /// on the stack, and because a slice over the mapping would include the
    /// unreadable guard page.
    map: MmapRaw,
    /// Bytes of guard at the low end of `map` (one page).
    guard: usize,
    /// Usable bytes above the guard; `guard + usable == map.len()`.
    usable: usize,
}

impl Stack {
    /// Maps a fresh stack with at least `size` usable bytes and one guard
    /// page below them. Always makes a new mapping; the pool is not used.
    ///
    /// `size` is rounded up to at least [`MIN_STACK_SIZE`] and then to
    /// whole pages; [`size`](Stack::size) reports the result.
    ///
    /// # Errors
    ///
    /// * [`io::ErrorKind::InvalidInput`] if `size` is so large that the
    ///   rounded size plus the guard page overflows or exceeds `isize::MAX`.
    /// * [`io::ErrorKind::OutOfMemory`] if the kernel refuses the mapping or
    ///   the guard page with `ENOMEM`: memory or address space (`RLIMIT_AS`)
    ///   is exhausted, or the process has reached `vm.max_map_count`
    ///   mappings. The message gives the current mapping count, the limits,
    ///   and what to do; [`Error::source`] on the returned error is the
    ///   original OS error.
    /// * Any other OS error from `mmap` or `mprotect`, with the same kind of
    ///   explanation.
    ///
    /// Nothing is leaked on failure: if the guard page cannot be made, the
    /// mapping is unmapped again before returning.
    pub fn new(size: usize) -> io::Result<Stack> {
        let usable = usable_size(size)?;
        let guard = page_size();
        // `usable_size` checked that this sum neither overflows nor exceeds
        // `isize::MAX`.
        let total = usable + guard;

        let map = MmapOptions::new()
            .len(total)
            .stack()
            .no_reserve_swap()
            .map_anon()
            .map_err(|os| StackError::new(Step::Map, usable, guard, os).into_io())?;
        let map = MmapRaw::from(map);

        // SAFETY: `map` is a live anonymous mapping of `total` bytes that we
        // own exclusively; it starts at a page boundary (mmap returns page
        // aligned addresses) and `guard` is one page, so the range
        // `[ptr, ptr + guard)` lies entirely inside it and is page aligned as
        // mprotect requires. Nothing has been handed out yet, so no one can
        // be using the page we make inaccessible.
        let rc = unsafe { libc::mprotect(map.as_mut_ptr().cast(), guard, libc::PROT_NONE) };
        if rc != 0 {
            let os = io::Error::last_os_error();
            // Dropping `map` unmaps it, so the failed stack leaks nothing.
            drop(map);
            return Err(StackError::new(Step::Guard, usable, guard, os).into_io());
        }

        Ok(Stack { map, guard, usable })
    }

    /// Returns a stack with at least `size` usable bytes, taking it from
    /// this thread's pool when possible.
    ///
    /// If `size` rounds to the same usable size as [`DEFAULT_STACK_SIZE`]
    /// and the pool is not empty, the most recently released stack is
    /// reused without any system call. Otherwise this is
    /// [`Stack::new(size)`](Stack::new).
    ///
    /// A reused stack still holds whatever its previous user left in it;
    /// stack memory is not cleared.
    ///
    /// # Errors
    ///
    /// As [`Stack::new`].
    pub fn acquire(size: usize) -> io::Result<Stack> {
        if usable_size(size)? == default_usable_size() {
            let reused = POOL
                .try_with(|pool| pool.try_borrow_mut().ok().and_then(|mut pool| pool.pop()))
                .ok()
                .flatten();
            if let Some(stack) = reused {
                return Ok(stack);
            }
        }
        Stack::new(size)
    }

    /// Gives the stack back for reuse by [`Stack::acquire`] on this thread.
    ///
    /// A default-size stack goes into this thread's pool if the pool holds
    /// fewer than [`POOL_CAPACITY`] stacks; any other stack is unmapped.
    ///
    /// Pooled stacks keep their memory: pages the previous user touched stay
    /// resident until the stack is reused or the thread exits (then the pool
    /// is dropped and its stacks unmapped). Returning those pages to the
    /// kernel with `madvise` is left for later.
    ///
    /// This never panics, even when called from a thread-local destructor
    /// after the pool itself is gone: the stack is then simply unmapped.
    pub fn release(self) {
        if self.usable != default_usable_size() {
            return; // Dropping `self` unmaps it.
        }
        let mut stack = Some(self);
        // `try_with` fails without running the closure once the pool has been
        // destroyed (the thread is exiting), and `try_borrow_mut` fails if
        // the pool is somehow in use; either way `stack` stays `Some` and is
        // unmapped below instead of panicking.
        let _ = POOL.try_with(|pool| {
            let Ok(mut pool) = pool.try_borrow_mut() else {
                return;
            };
            if pool.len() < POOL_CAPACITY {
                if pool.capacity() == 0 {
                    pool.reserve_exact(POOL_CAPACITY);
                }
                pool.extend(stack.take());
            }
        });
        // Not taken into the pool: dropping it unmaps it.
        drop(stack);
    }

    /// One past the highest usable byte: where a new stack pointer starts.
    /// Page aligned.
    #[must_use]
    pub fn top(&self) -> *mut u8 {
        // `guard + usable == map.len()`, so this is the end of the mapping.
        self.map.as_mut_ptr().wrapping_add(self.guard + self.usable)
    }

    /// The lowest usable byte, immediately above the guard page.
    #[must_use]
    pub fn bottom(&self) -> *mut u8 {
        self.map.as_mut_ptr().wrapping_add(self.guard)
    }

    /// The number of usable bytes: `top() - bottom()`.
    ///
    /// This is the requested size rounded up to at least [`MIN_STACK_SIZE`]
    /// and to whole pages; the guard page is not included.
    #[must_use]
    pub fn size(&self) -> usize {
        self.usable
    }

    /// The address range of the guard page(s) below the usable memory. Any
    /// access there faults.
    #[must_use]
    pub fn guard(&self) -> Range<usize> {
        let start = self.map.as_ptr() as usize;
        start..start + self.guard
    }

    /// Whether `addr` lies in the usable range `bottom()..top()`.
    #[must_use]
    pub fn contains(&self, addr: usize) -> bool {
        (self.bottom() as usize..self.top() as usize).contains(&addr)
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("bottom", &self.bottom())
            .field("top", &self.top())
            .field("size", &self.usable)
            .field("guard", &self.guard())
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// This thread's recycled default-size stacks, most recently released
    /// last. Dropped (and so unmapped) when the thread exits.
    static POOL: RefCell<Vec<Stack>> = const { RefCell::new(Vec::new()) };
}

/// The number of stacks in the current thread's pool, for tests and
/// diagnostics. Returns 0 if the pool has already been destroyed because the
/// thread is exiting.
#[must_use]
pub fn pooled() -> usize {
    POOL.try_with(|pool| pool.try_borrow().map_or(0, |pool| pool.len()))
        .unwrap_or(0)
}

/// Which system call failed while making a stack.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `mmap` of the whole stack.
    Map,
    /// `mprotect` of the guard page, which splits the mapping in two.
    Guard,
}

/// A number read from `/proc`, or why it could not be read.
#[derive(Debug)]
enum ProcValue {
    Known(usize),
    Unknown(io::Error),
}

/// Why a stack could not be made, with the facts needed to act on it.
///
/// Wrapped in an [`io::Error`]; its [`Error::source`] is the OS error.
/// Everything is collected when the error happens, but the message is only
/// formatted when displayed, so building this error allocates nothing
/// beyond the error box itself.
#[derive(Debug)]
struct StackError {
    step: Step,
    usable: usize,
    guard: usize,
    os: io::Error,
    /// Current number of mappings (lines of `/proc/self/maps`).
    maps: ProcValue,
    /// `vm.max_map_count`.
    max_maps: ProcValue,
    /// Soft `RLIMIT_AS` in bytes; `None` when unlimited or unknown.
    rlimit_as: Option<u64>,
}

impl StackError {
    fn new(step: Step, usable: usize, guard: usize, os: io::Error) -> StackError {
        StackError {
            step,
            usable,
            guard,
            os,
            maps: count_mappings(),
            max_maps: read_max_map_count(),
            rlimit_as: address_space_limit(),
        }
    }

    fn into_io(self) -> io::Error {
        let kind = if self.os.raw_os_error() == Some(libc::ENOMEM) {
            io::ErrorKind::OutOfMemory
        } else {
            self.os.kind()
        };
        io::Error::new(kind, self)
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (usable, guard) = (self.usable, self.guard);
        match self.step {
            Step::Map => write!(
                f,
                "greenlet: cannot map a stack of {usable} bytes + {guard}-byte guard: "
            )?,
            Step::Guard => write!(
                f,
                "greenlet: cannot protect the {guard}-byte guard page of a new stack of \
                 {usable} bytes (mprotect, which splits the mapping in two): "
            )?,
        }
        write!(
            f,
            "{}. Each guarded stack uses {MAPPINGS_PER_STACK} kernel mappings; ",
            self.os
        )?;
        match &self.maps {
            ProcValue::Known(n) => write!(f, "this process has {n} mappings")?,
            ProcValue::Unknown(e) => write!(
                f,
                "the number of mappings of this process is unknown (/proc/self/maps: {e})"
            )?,
        }
        match &self.max_maps {
            ProcValue::Known(max) => {
                write!(
                    f,
                    " and vm.max_map_count is {max} (/proc/sys/vm/max_map_count)"
                )?;
                // Within 1%: emulators such as qemu-user hide their own
                // mappings from /proc/self/maps, so the count can be a
                // little low even when the limit is what failed.
                if let ProcValue::Known(n) = self.maps
                    && n + MAPPINGS_PER_STACK + max / 100 >= *max
                {
                    write!(f, ", which is at or near that limit")?;
                }
            }
            ProcValue::Unknown(e) => write!(
                f,
                " and vm.max_map_count is unknown (/proc/sys/vm/max_map_count: {e})"
            )?,
        }
        match self.rlimit_as {
            Some(limit) => write!(f, "; RLIMIT_AS is {limit} bytes")?,
            None => write!(f, "; RLIMIT_AS is unlimited")?,
        }
        write!(
            f,
            ". If mappings are the limit, raise it (sysctl -w vm.max_map_count=262144) or \
             drop unused greenlets; if memory is the limit, raise RLIMIT_AS (ulimit -v), \
             free memory, or use smaller stacks."
        )
    }
}

impl Error for StackError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.os)
    }
}

/// Counts this process's mappings: the lines of `/proc/self/maps`.
///
/// Used on the error path only, possibly while memory is exhausted, so it
/// reads through a fixed buffer on the stack and does not allocate.
fn count_mappings() -> ProcValue {
    let mut file = match File::open("/proc/self/maps") {
        Ok(file) => file,
        Err(e) => return ProcValue::Unknown(e),
    };
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return ProcValue::Known(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return ProcValue::Unknown(e),
        }
    }
}

/// Reads `vm.max_map_count` from `/proc/sys/vm/max_map_count` without
/// allocating.
fn read_max_map_count() -> ProcValue {
    let mut file = match File::open("/proc/sys/vm/max_map_count") {
        Ok(file) => file,
        Err(e) => return ProcValue::Unknown(e),
    };
    let mut buf = [0u8; 32];
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return ProcValue::Unknown(e),
        }
    }
    parse_decimal(&buf[..len]).map_or_else(
        || {
            ProcValue::Unknown(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a decimal number",
            ))
        },
        ProcValue::Known,
    )
}

/// Parses an unsigned decimal number surrounded by optional ASCII
/// whitespace.
fn parse_decimal(bytes: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.trim().parse().ok()
}

/// The soft `RLIMIT_AS` in bytes, or `None` if it is unlimited or cannot be
/// read.
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` that outlives the call;
    // getrlimit writes only into it.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &raw mut limit) };
    if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    // `rlim_t` is 32 or 64 bits wide depending on the target; widen it.
    #[allow(clippy::useless_conversion)]
    Some(u64::from(limit.rlim_cur))
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

    #[test]
    fn parse_decimal_accepts_proc_format() {
        assert_eq!(parse_decimal(b"65530\n"), Some(65530));
        assert_eq!(parse_decimal(b" 7 "), Some(7));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"x1"), None);
        assert_eq!(parse_decimal(b"\xff"), None);
    }

    #[test]
    fn proc_readers_work() {
        match count_mappings() {
            ProcValue::Known(n) => assert!(n > 0),
            ProcValue::Unknown(e) => panic!("/proc/self/maps: {e}"),
        }
        if let ProcValue::Unknown(e) = read_max_map_count() {
            panic!("/proc/sys/vm/max_map_count: {e}");
        }
    }

    #[test]
    fn error_message_names_limits_and_keeps_source() {
        let os = io::Error::from_raw_os_error(libc::ENOMEM);
        let err = StackError::new(Step::Guard, 1 << 20, 4096, os).into_io();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let text = err.to_string();
        for needle in [
            "greenlet",
            "1048576",
            "vm.max_map_count",
            "RLIMIT_AS",
            "mprotect",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        let source = err.source().expect("source");
        let source = source
            .downcast_ref::<io::Error>()
            .expect("io::Error source");
        assert_eq!(source.raw_os_error(), Some(libc::ENOMEM));

        let other = StackError::new(Step::Map, 1, 2, io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(other.into_io().kind(), io::ErrorKind::PermissionDenied);
    }
}

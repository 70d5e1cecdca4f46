//! Guarded, pooled stacks for greenlets.
//!
//! A [`Stack`] is laid out as
//!
//! ```text
//! low addresses                                          high addresses
//! [ guard page: no access ][ usable bytes: read/write ..................]
//! ^ guard().start          ^ bottom()                                    ^ top()
//! ```
//!
//! Stacks grow down, so a greenlet starts with its stack pointer at
//! [`Stack::top`] and an overflow runs into the guard page, which faults
//! instead of silently corrupting a neighbouring stack.
//!
//! # Guard modes
//!
//! How the guard page is made depends on the [`GuardMode`], decided once per
//! process by [`guard_mode`]:
//!
//! * [`GuardMode::KernelGuard`] (Linux 6.13 and later): stacks are slots
//!   carved out of large shared *arenas*, `MAP_NORESERVE` mappings of many
//!   `[guard page][usable]` slots, and each guard is installed with
//!   `madvise(MADV_GUARD_INSTALL)`, which marks the page in the page tables
//!   without splitting the mapping. Any number of guarded stacks then costs
//!   a handful of kernel mappings (VMAs), so `vm.max_map_count` no longer
//!   limits how many greenlets a process can have. A slot is never unmapped:
//!   a dropped stack's pages are given back with `MADV_DONTNEED` (the guard
//!   marker survives that) and the slot goes to its arena's free list, from
//!   which [`Stack::new`] reuses it. Stacks larger than
//!   [`ARENA_MAX_STACK_SIZE`] get a mapping of their own, still guarded with
//!   `MADV_GUARD_INSTALL` (one VMA each).
//! * [`GuardMode::Mprotect`] (older kernels, and qemu-user, which accepts
//!   `MADV_GUARD_INSTALL` but installs nothing): each stack is its own
//!   mapping whose guard page is made `PROT_NONE` with `mprotect`. That
//!   splits the mapping in two, so each stack costs *two* kernel mappings
//!   and Linux's default `vm.max_map_count` (65530) allows roughly 32 000
//!   live stacks.
//!
//! Mappings are made with `libc::mmap` directly. (The first version held
//! each stack in a `memmap2` handle; an arena slot is not a mapping of its
//! own and is never unmapped, so a per-mapping owner no longer fits, and a
//! raw base pointer keeps `Stack` four words, which the pooled creation
//! path is measurably sensitive to.)
//!
//! Memory is mapped with `MAP_STACK` and `MAP_NORESERVE` and touched lazily:
//! a stack that was only used shallowly costs only the pages it touched.
//! Running out of mappings, address space (`RLIMIT_AS`) or memory is
//! reported as an [`io::Error`] of kind [`io::ErrorKind::OutOfMemory`] whose
//! text says what ran out and what to do about it; it is never a panic or a
//! crash.
//!
//! # The per-thread pool
//!
//! Stacks of the default size are recycled through a per-thread pool so
//! that creating a greenlet costs no system call: [`Stack::acquire`] takes
//! the most recently released one and [`Stack::release`] puts one back. The
//! [`WARM_STACKS`] most recently released stacks keep their pages (reusing
//! them is free); a stack that falls out of that warm window, and any stack
//! given back to an arena, first has its usable pages returned to the
//! kernel with `madvise(MADV_DONTNEED)`. So at most [`WARM_STACKS`] stacks'
//! touched pages stay resident per thread while unused.
//!
//! Arena stacks released while the pool is full (a burst of more than
//! [`POOL_CAPACITY`] greenlets ending) are given back [`RELEASE_BATCH`] at a
//! time, with one `process_madvise(MADV_DONTNEED)` for the whole batch where
//! the kernel allows it for the calling process (Linux 6.15 and later, with
//! `PIDFD_SELF_THREAD`), instead of one `madvise` each; elsewhere each gets
//! its own `madvise` as before. So up to `RELEASE_BATCH - 1` such stacks
//! keep their pages for a while (until the batch is full, or the thread
//! exits).
//!
//! Why these numbers (`examples/spawn_join.rs`, AMD EPYC VM, Linux 6.18, 1
//! MiB stacks each touching one page): a stack that has to be given back
//! and touched again costs about 2.5 us (the `madvise`, a page fault, a
//! zeroed page) where a warm one costs nothing, so a workload with more
//! greenlets alive at once than the warm window pays that on every
//! greenlet: with 100 alive (yielding 10 times each), 3.0 us per greenlet
//! with a window of 16 against 0.55 us with 256; tokio's task costs 0.63 us
//! there. The price is memory kept per thread after such a burst: 256 times
//! the pages each stack touched (1 MiB for stacks that touch one page; at
//! worst 256 MiB if every one of them had used its whole 1 MiB). Batching
//! the give-backs of a larger burst saves about 0.7 us of the 1.5 us that
//! `madvise` costs per stack (100,000 alive: 6.0 us per greenlet to 5.2).
//!
//! # Valgrind
//!
//! Every stack's usable range is registered with Valgrind
//! (`VALGRIND_STACK_REGISTER`, through [`crate::raw::valgrind_request`]; a
//! no-op on a real CPU): a stack in a mapping of its own when it is mapped,
//! deregistered when it is unmapped; an arena slot once, when it is first
//! carved, for good (slots are never unmapped). Pooled stacks stay
//! registered. So under Valgrind a switch is a change of stack, not a huge
//! push or pop on one stack.

mod pool;

pub use pool::pooled;
use pool::{pool_pop, pool_push};

use crate::raw;
use std::error::Error;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

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
/// Releasing a default-size stack while the pool is full gives it back:
/// unmaps it ([`GuardMode::Mprotect`]) or returns it to its arena
/// ([`GuardMode::KernelGuard`]; arena stacks are given back
/// [`RELEASE_BATCH`] at a time).
pub const POOL_CAPACITY: usize = 512;

/// How many of the most recently released stacks in a thread's pool keep
/// their memory. Older pooled stacks have had their pages returned to the
/// kernel with `madvise(MADV_DONTNEED)`. (See the [module
/// documentation](self) for the measurements behind the number.)
pub const WARM_STACKS: usize = 256;

/// How many arena stacks released while the pool is full are given back
/// together, with one system call where the kernel allows it (see the
/// [module documentation](self), "The per-thread pool").
pub const RELEASE_BATCH: usize = 32;

/// The largest usable size, in bytes, of a stack carved from a shared arena
/// in [`GuardMode::KernelGuard`] mode: 8 MiB on 64-bit targets, 2 MiB on
/// 32-bit ones. Larger stacks get a mapping of their own.
pub const ARENA_MAX_STACK_SIZE: usize = if usize::BITS >= 64 { 8 << 20 } else { 2 << 20 };

/// The largest arena chunk (one `MAP_NORESERVE` mapping), in bytes: 16 GiB
/// on 64-bit targets; 64 MiB on 32-bit ones, whose address space is small.
/// An arena's chunks grow geometrically (each as large as all before it,
/// starting at [`ARENA_FIRST_CHUNK_SLOTS`] slots) up to this size, so the
/// address space reserved is at most about twice what is in use, and a
/// million 1 MiB stacks need well under a hundred mappings.
const ARENA_MAX_CHUNK: usize = if usize::BITS >= 64 {
    16 << 30
} else {
    64 << 20
};

/// Slots in an arena's first chunk.
const ARENA_FIRST_CHUNK_SLOTS: usize = 16;

/// `madvise` advice that installs guard markers in the page tables: any
/// access to the range then faults (SIGSEGV), and the kernel's own accesses
/// fail with `EFAULT`. Added in Linux 6.13 (`include/uapi/asm-generic/mman-common.h`:
/// `#define MADV_GUARD_INSTALL 102`); the markers survive `MADV_DONTNEED`
/// and `MADV_FREE`. The libc crate does not define it on every target yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Environment variable that overrides the guard mode: `mprotect` forces
/// [`GuardMode::Mprotect`]; any other value (or none) lets [`guard_mode`]
/// probe the kernel.
pub const GUARD_MODE_ENV: &str = "GREENLET_GUARD_MODE";

/// Page size used when `sysconf(_SC_PAGESIZE)` reports nothing usable.
const FALLBACK_PAGE_SIZE: usize = 4096;

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

/// How guard pages are made in this process; see the [module
/// documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)` guards (Linux 6.13+), stacks carved
    /// from shared arenas: a few kernel mappings in all.
    KernelGuard,
    /// `mprotect(PROT_NONE)` guards, one mapping per stack: two kernel
    /// mappings per stack.
    Mprotect,
}

/// 0: not decided yet; otherwise `mode_code(mode)`.
static GUARD_MODE: AtomicU8 = AtomicU8::new(0);

const KERNEL_GUARD_CODE: u8 = 1;
const MPROTECT_CODE: u8 = 2;

/// The guard mode of this process, decided on first use and then fixed.
///
/// [`GuardMode::Mprotect`] if the environment variable [`GUARD_MODE_ENV`]
/// (`GREENLET_GUARD_MODE`) is `mprotect`. Otherwise a probe maps two pages,
/// installs a guard on the first with `madvise(MADV_GUARD_INSTALL)` and,
/// without trusting `madvise`'s return value, checks that the kernel really
/// refuses to read it: `write()`ing one byte from the guard page into a pipe
/// must fail with `EFAULT` (while writing from the second page succeeds).
/// Kernels before 6.13 reject the advice (`EINVAL`); qemu-user accepts it
/// but installs nothing, and the write succeeds. Either way the mode is
/// [`GuardMode::Mprotect`].
#[must_use]
pub fn guard_mode() -> GuardMode {
    let code = match GUARD_MODE.load(Ordering::Relaxed) {
        0 => {
            let forced = std::env::var_os(GUARD_MODE_ENV).is_some_and(|v| v == "mprotect");
            let code = if !forced && kernel_guard_works() {
                KERNEL_GUARD_CODE
            } else {
                MPROTECT_CODE
            };
            // Racing threads may both probe; the first decision wins so that
            // the mode never changes once a stack has been made.
            match GUARD_MODE.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => code,
                Err(earlier) => earlier,
            }
        }
        code => code,
    };
    if code == KERNEL_GUARD_CODE {
        GuardMode::KernelGuard
    } else {
        GuardMode::Mprotect
    }
}

/// The probe of [`guard_mode`]: whether `MADV_GUARD_INSTALL` really makes a
/// page inaccessible. Leaves no mapping or file descriptor behind.
fn kernel_guard_works() -> bool {
    let page = page_size();
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing; it overlaps nothing of ours.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return false;
    }
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    let piped = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == 0;
    // SAFETY: `map` is our live mapping of two pages; the guard goes on the
    // first one, which nothing uses.
    let installed = piped && unsafe { libc::madvise(map, page, MADV_GUARD_INSTALL) } == 0;
    let works = installed && {
        // SAFETY: `fds[1]` is our pipe's write end and both source bytes
        // lie in our mapping. Reading them happens in the kernel, which
        // reports an inaccessible page as EFAULT instead of faulting.
        let (plain, guarded) = unsafe {
            let plain = libc::write(fds[1], map.cast::<u8>().add(page).cast(), 1);
            let guarded = libc::write(fds[1], map.cast_const(), 1);
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
    // SAFETY: unmaps exactly the probe mapping made above, which nothing
    // refers to any more.
    unsafe { libc::munmap(map, 2 * page) };
    works
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

/// [`default_usable_size`], once computed (0 before).
static DEFAULT_USABLE: AtomicUsize = AtomicUsize::new(0);

/// The usable size of a default-size stack after rounding, i.e. the size of
/// the stacks the pool holds.
#[inline]
fn default_usable_size() -> usize {
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

/// One guarded stack: `[guard page][usable bytes]`, growing down from
/// [`top`](Stack::top).
///
/// A `Stack` owns its memory: dropping it unmaps its own mapping, or gives
/// an arena slot's pages back to the kernel and the slot to its arena (see
/// the [module documentation](self)). It hands out only raw pointers and
/// addresses, never references to its memory: the memory belongs to
/// whatever code runs on the stack.
///
/// `Stack` is `Send`: it may be dropped on any thread, and moved to another
/// thread (for example to be released into that thread's pool).
pub struct Stack {
    /// The lowest address: the start of the guard page. Written through raw
    /// pointers by code running on the stack, never through references.
    base: NonNull<u8>,
    /// Bytes of guard at the low end (one page).
    guard: usize,
    /// Usable bytes above the guard.
    usable: usize,
    /// [`IN_ARENA`] if this is a slot of the arena for `usable`-byte stacks,
    /// else [`OWN_MAPPING`] (`guard + usable` bytes at `base` are a mapping
    /// of its own). A `u8` rather than a `bool`: a `bool`'s spare values
    /// would become the niche of `Option<Stack>` and `io::Result<Stack>`,
    /// which makes moving a stack through them cost more instructions on
    /// the pooled creation path than the `NonNull` niche does.
    origin: u8,
    /// The id Valgrind gave this stack's own mapping when it was registered
    /// (`VALGRIND_STACK_REGISTER`), to deregister it when it is unmapped;
    /// unused for arena slots, which stay registered for the life of the
    /// process. Natively it is 0. It fits in the padding after `origin`.
    valgrind_id: u32,
}

// SAFETY: a `Stack` exclusively owns its memory (a mapping, or an arena slot
// no one else is handed), and it only exposes addresses, never references.
// Unmapping or returning a slot works from any thread: the arena registry is
// behind a mutex.
unsafe impl Send for Stack {}

/// [`Stack::origin`] of an arena slot.
const IN_ARENA: u8 = 1;
/// [`Stack::origin`] of a stack in a mapping of its own.
const OWN_MAPPING: u8 = 0;
// SAFETY: `&Stack` only allows reading the addresses and sizes, which never
// change.
unsafe impl Sync for Stack {}

impl Stack {
    /// Makes a stack with at least `size` usable bytes and one guard page
    /// below them. The per-thread pool is not used: in
    /// [`GuardMode::Mprotect`] mode this always makes a new mapping; in
    /// [`GuardMode::KernelGuard`] mode it takes a free slot of the arena for
    /// this size (carving a new one, or mapping a new arena chunk, when
    /// there is none), or maps a stack of its own when `size` is above
    /// [`ARENA_MAX_STACK_SIZE`].
    ///
    /// `size` is rounded up to at least [`MIN_STACK_SIZE`] and then to
    /// whole pages; [`size`](Stack::size) reports the result. A fresh
    /// stack's memory reads as zero; a reused arena slot's memory was given
    /// back with `MADV_DONTNEED` and reads as zero too.
    ///
    /// # Errors
    ///
    /// * [`io::ErrorKind::InvalidInput`] if `size` is so large that the
    ///   rounded size plus the guard page overflows or exceeds `isize::MAX`.
    /// * [`io::ErrorKind::OutOfMemory`] if the kernel refuses the mapping,
    ///   the arena chunk or the guard page with `ENOMEM`: memory or address
    ///   space (`RLIMIT_AS`) is exhausted, or the process has reached
    ///   `vm.max_map_count` mappings. The message gives the current mapping
    ///   count, the limits, and what to do; [`Error::source`] on the
    ///   returned error is the original OS error.
    /// * Any other OS error from `mmap`, `mprotect` or `madvise`, with the
    ///   same kind of explanation.
    ///
    /// Nothing is leaked on failure.
    pub fn new(size: usize) -> io::Result<Stack> {
        let usable = usable_size(size)?;
        let guard = page_size();
        match guard_mode() {
            GuardMode::KernelGuard if usable <= ARENA_MAX_STACK_SIZE => {
                let base = arena_take(usable, guard)?;
                Ok(Stack {
                    base,
                    guard,
                    usable,
                    origin: IN_ARENA,
                    valgrind_id: 0,
                })
            }
            mode => Stack::map_own(usable, guard, mode),
        }
    }

    /// A stack in a mapping of its own, guarded according to `mode`.
    fn map_own(usable: usize, guard: usize, mode: GuardMode) -> io::Result<Stack> {
        // `usable_size` checked that this sum neither overflows nor exceeds
        // `isize::MAX`.
        let total = usable + guard;
        let base = map_anonymous(total)
            .map_err(|os| StackError::new(Step::Map, usable, guard, os).with_mode(mode))?;
        let (rc, step) = match mode {
            // SAFETY: `base` is a live anonymous mapping of `total` bytes
            // that we own exclusively; it is page aligned and `guard` is one
            // page, so `[base, base + guard)` lies inside it and is page
            // aligned as mprotect requires. Nothing has been handed out yet,
            // so no one can be using the page we make inaccessible.
            GuardMode::Mprotect => (
                unsafe { libc::mprotect(base.as_ptr().cast(), guard, libc::PROT_NONE) },
                Step::Guard,
            ),
            // SAFETY: as above, for installing a guard marker instead.
            GuardMode::KernelGuard => (
                unsafe { libc::madvise(base.as_ptr().cast(), guard, MADV_GUARD_INSTALL) },
                Step::KernelGuard,
            ),
        };
        if rc != 0 {
            let os = io::Error::last_os_error();
            // SAFETY: unmaps exactly the mapping made above, which nothing
            // refers to.
            unsafe { libc::munmap(base.as_ptr().cast(), total) };
            return Err(StackError::new(step, usable, guard, os).into_io());
        }
        Ok(Stack {
            base,
            guard,
            usable,
            origin: OWN_MAPPING,
            valgrind_id: valgrind_register(base.as_ptr().wrapping_add(guard), usable),
        })
    }

    /// Returns a stack with at least `size` usable bytes, taking it from
    /// this thread's pool when possible.
    ///
    /// If `size` rounds to the same usable size as [`DEFAULT_STACK_SIZE`]
    /// and the pool is not empty, the most recently released stack is
    /// reused without any system call. Otherwise this is
    /// [`Stack::new(size)`](Stack::new).
    ///
    /// A reused stack may still hold whatever its previous user left in it;
    /// stack memory is not cleared.
    ///
    /// # Errors
    ///
    /// As [`Stack::new`].
    #[inline]
    pub fn acquire(size: usize) -> io::Result<Stack> {
        // The default size needs no rounding to know it is the pool's.
        if size == DEFAULT_STACK_SIZE
            && let Some(stack) = pool_pop()
        {
            return Ok(stack);
        }
        Stack::acquire_slow(size)
    }

    #[cold]
    #[inline(never)]
    fn acquire_slow(size: usize) -> io::Result<Stack> {
        if usable_size(size)? == default_usable_size()
            && let Some(stack) = pool_pop()
        {
            return Ok(stack);
        }
        Stack::new(size)
    }

    /// Gives the stack back for reuse by [`Stack::acquire`] on this thread.
    ///
    /// A default-size stack goes into this thread's pool if the pool holds
    /// fewer than [`POOL_CAPACITY`] stacks; any other stack is dropped
    /// (unmapped, or returned to its arena), except that a default-size
    /// arena stack released into a full pool waits until [`RELEASE_BATCH`]
    /// of them can be given back together (or the thread exits).
    ///
    /// The [`WARM_STACKS`] most recently pooled stacks keep their memory, so
    /// that reusing them costs nothing; when a stack falls out of that
    /// window its pages are returned to the kernel with `MADV_DONTNEED`
    /// (one system call). The pool is dropped when the thread exits.
    ///
    /// This never panics, even when called from a thread-local destructor
    /// after the pool itself is gone: the stack is then simply dropped.
    #[inline]
    pub fn release(self) {
        if self.usable == default_usable_size() {
            pool_push(self);
        }
        // Otherwise dropping `self` gives it back.
    }

    /// One past the highest usable byte: where a new stack pointer starts.
    /// Page aligned.
    #[must_use]
    pub fn top(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.guard + self.usable)
    }

    /// The lowest usable byte, immediately above the guard page.
    #[must_use]
    pub fn bottom(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.guard)
    }

    /// The number of usable bytes: `top() - bottom()`.
    ///
    /// This is the requested size rounded up to at least [`MIN_STACK_SIZE`]
    /// and to whole pages; the guard page is not included.
    #[must_use]
    pub fn size(&self) -> usize {
        self.usable
    }

    /// The address range of the guard page(s) right below the usable
    /// memory, in both guard modes. Any access there faults with SIGSEGV;
    /// the kernel's own accesses (a `write()` from there) fail with
    /// `EFAULT`. In [`GuardMode::KernelGuard`] mode the page lies inside a
    /// read/write mapping in `/proc/self/maps`: only the page tables know
    /// it is a guard.
    #[must_use]
    pub fn guard(&self) -> Range<usize> {
        let start = self.base.as_ptr() as usize;
        start..start + self.guard
    }

    /// Whether `addr` lies in the usable range `bottom()..top()`.
    #[must_use]
    pub fn contains(&self, addr: usize) -> bool {
        (self.bottom() as usize..self.top() as usize).contains(&addr)
    }

    /// Returns the usable pages to the kernel (`MADV_DONTNEED`); the guard
    /// stays. The memory reads as zero afterwards.
    fn forget_pages(&self) {
        // SAFETY: `[bottom, top)` is the usable part of memory this stack
        // owns, page aligned; nothing runs on a stack that is being pooled
        // or dropped, so discarding its contents harms no one.
        unsafe { libc::madvise(self.bottom().cast(), self.usable, libc::MADV_DONTNEED) };
    }

    /// Whether this stack is a slot of an arena (not a mapping of its own).
    fn in_arena(&self) -> bool {
        self.origin == IN_ARENA
    }

    /// Gives every stack of `stacks` back, as dropping each would, with the
    /// pages of the arena slots among them returned to the kernel in as few
    /// system calls as possible ([`forget_pages_of`]).
    fn drop_all(stacks: &mut Vec<Stack>) {
        let done = forget_pages_of(stacks);
        for (i, stack) in stacks.drain(..).enumerate() {
            if i < done && stack.in_arena() {
                // Its pages are gone already: only the slot goes back.
                arena_give_back(stack.base, stack.usable);
                std::mem::forget(stack);
            }
            // Otherwise dropping it gives it back, pages and all.
        }
    }
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
fn forget_pages_of(stacks: &[Stack]) -> usize {
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
            iov_len: stack.usable,
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

impl Drop for Stack {
    fn drop(&mut self) {
        if self.origin == IN_ARENA {
            self.forget_pages();
            arena_give_back(self.base, self.usable);
        } else {
            valgrind_deregister(self.valgrind_id);
            // SAFETY: `base` is the start of a mapping of `guard + usable`
            // bytes that this stack owns and that nothing runs on any more.
            unsafe { libc::munmap(self.base.as_ptr().cast(), self.guard + self.usable) };
        }
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("bottom", &self.bottom())
            .field("top", &self.top())
            .field("size", &self.usable)
            .field("guard", &self.guard())
            .field("in_arena", &(self.origin == IN_ARENA))
            .finish_non_exhaustive()
    }
}

/// Valgrind's client request codes for stacks (valgrind.h,
/// `VG_USERREQ__STACK_REGISTER` and `VG_USERREQ__STACK_DEREGISTER`).
const VG_STACK_REGISTER: usize = 0x1501;
const VG_STACK_DEREGISTER: usize = 0x1502;

/// Tells Valgrind (when the program runs under it) that the `usable` bytes
/// from `bottom` are a stack, and returns the id it gives it (0 natively).
///
/// Without this, Valgrind takes a switch between two stacks less than
/// `--max-stackframe` (2 MB) apart, such as neighbouring slots of an arena,
/// for a huge push or pop on one stack, and marks the memory in between as
/// undefined or inaccessible: false errors on the other greenlets' frames.
fn valgrind_register(bottom: *mut u8, usable: usize) -> u32 {
    let start = bottom as usize;
    // valgrind.h: "start is the lowest addressable stack byte, end is the
    // highest addressable stack byte".
    let args = [VG_STACK_REGISTER, start, start + usable - 1, 0, 0, 0];
    // SAFETY: the range is usable stack memory that this crate owns for as
    // long as the registration lasts (until `valgrind_deregister`, or for
    // ever for arena slots, which are never unmapped). Natively a no-op.
    let id = unsafe { raw::valgrind_request(0, &args) };
    // valgrind.h declares the id `unsigned`.
    id as u32
}

/// Undoes [`valgrind_register`] before a stack's mapping goes away.
fn valgrind_deregister(id: u32) {
    let args = [VG_STACK_DEREGISTER, id as usize, 0, 0, 0, 0];
    // SAFETY: forgets a registration made by `valgrind_register` for a
    // stack that is about to be unmapped. Natively a no-op.
    unsafe { raw::valgrind_request(0, &args) };
}

/// Maps `len` bytes of anonymous, private, read/write, unreserved memory.
fn map_anonymous(len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: a new anonymous mapping at an address of the kernel's choosing
    // overlaps nothing of ours.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(map.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
}

/// An address inside an arena chunk.
#[derive(Clone, Copy)]
struct Slot(NonNull<u8>);

// SAFETY: a slot address is only data; whoever takes it from an arena owns
// the slot's memory exclusively, on whatever thread.
unsafe impl Send for Slot {}

/// Stacks of one usable size in [`GuardMode::KernelGuard`] mode: chunks of
/// `[guard][usable]` slots that are never unmapped.
struct Arena {
    usable: usize,
    /// `guard + usable`: the distance between slots.
    stride: usize,
    /// Slots given back, ready for reuse (usable pages already returned to
    /// the kernel, guard installed). Its capacity is always at least the
    /// number of slots ever carved plus those still to carve in `chunk`, so
    /// giving a slot back never allocates.
    free: Vec<Slot>,
    /// The current chunk, if any.
    chunk: Option<Slot>,
    /// Slots of the current chunk carved so far (their guards installed).
    carved: usize,
    /// Slots in the current chunk.
    chunk_slots: usize,
    /// Slots in all chunks so far.
    reserved: usize,
}

/// Every arena of this process, one per usable size. Creating stacks is
/// rare next to reusing pooled ones, so one lock is enough.
static ARENAS: Mutex<Vec<Arena>> = Mutex::new(Vec::new());

fn arenas() -> MutexGuard<'static, Vec<Arena>> {
    // Nothing panics while holding the lock; if something did, the arenas
    // are still consistent (each update is a single push, pop or field
    // store), so carry on.
    ARENAS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A free slot (its guard start) for a `usable`-byte stack.
fn arena_take(usable: usize, guard: usize) -> io::Result<NonNull<u8>> {
    let mut arenas = arenas();
    let index = match arenas.iter().position(|a| a.usable == usable) {
        Some(index) => index,
        None => {
            arenas.try_reserve(1).map_err(|_| {
                StackError::new(
                    Step::Arena { chunk: 0 },
                    usable,
                    guard,
                    io::Error::from_raw_os_error(libc::ENOMEM),
                )
                .into_io()
            })?;
            arenas.push(Arena {
                usable,
                stride: usable + guard,
                free: Vec::new(),
                chunk: None,
                carved: 0,
                chunk_slots: 0,
                reserved: 0,
            });
            arenas.len() - 1
        }
    };
    let arena = &mut arenas[index];
    if let Some(slot) = arena.free.pop() {
        return Ok(slot.0);
    }
    if arena.chunk.is_none() || arena.carved == arena.chunk_slots {
        arena.grow(guard)?;
    }
    let chunk = arena.chunk.expect("grow() maps a chunk or fails").0;
    // `carved < chunk_slots`, so the slot lies inside the chunk.
    let slot = chunk.as_ptr().wrapping_add(arena.carved * arena.stride);
    // SAFETY: `[slot, slot + guard)` is a page-aligned page of our chunk
    // that no one has been handed yet.
    let rc = unsafe { libc::madvise(slot.cast(), guard, MADV_GUARD_INSTALL) };
    if rc != 0 {
        let os = io::Error::last_os_error();
        return Err(StackError::new(Step::KernelGuard, usable, guard, os).into_io());
    }
    // A slot is a stack for the rest of the process (never unmapped), so it
    // is registered once, here, and never deregistered.
    valgrind_register(slot.wrapping_add(guard), usable);
    arena.carved += 1;
    NonNull::new(slot).ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))
}

impl Arena {
    /// Maps the next chunk: as many slots as all chunks before it (at least
    /// [`ARENA_FIRST_CHUNK_SLOTS`], at most [`ARENA_MAX_CHUNK`] bytes, at
    /// least one slot), halving on `ENOMEM` down to one slot.
    fn grow(&mut self, guard: usize) -> io::Result<()> {
        let most = (ARENA_MAX_CHUNK / self.stride).max(1);
        let mut slots = self.reserved.max(ARENA_FIRST_CHUNK_SLOTS).min(most);
        loop {
            let total = self.reserved + slots;
            let result = self
                .free
                .try_reserve_exact(total - self.free.len())
                .map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))
                .and_then(|()| map_anonymous(slots * self.stride));
            match result {
                Ok(chunk) => {
                    self.chunk = Some(Slot(chunk));
                    self.carved = 0;
                    self.chunk_slots = slots;
                    self.reserved = total;
                    return Ok(());
                }
                Err(os) if os.raw_os_error() == Some(libc::ENOMEM) && slots > 1 => slots /= 2,
                Err(os) => {
                    let step = Step::Arena {
                        chunk: slots * self.stride,
                    };
                    return Err(StackError::new(step, self.usable, guard, os).into_io());
                }
            }
        }
    }
}

/// Puts the slot at `base` back on the free list of the arena for
/// `usable`-byte stacks. Never allocates.
fn arena_give_back(base: NonNull<u8>, usable: usize) {
    let mut arenas = arenas();
    if let Some(arena) = arenas.iter_mut().find(|a| a.usable == usable)
        && arena.free.len() < arena.free.capacity()
    {
        arena.free.push(Slot(base));
    }
    // Otherwise (impossible: the capacity covers every slot) the slot is
    // leaked, which is harmless.
}

/// Which system call failed while making a stack.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `mmap` of a stack's own mapping.
    Map,
    /// `mprotect` of the guard page, which splits the mapping in two.
    Guard,
    /// `madvise(MADV_GUARD_INSTALL)` of the guard page.
    KernelGuard,
    /// `mmap` of a new arena chunk of `chunk` bytes.
    Arena { chunk: usize },
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
    /// The guard mode the failed stack was made in.
    mode: GuardMode,
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
            mode: match step {
                Step::Map | Step::Guard => GuardMode::Mprotect,
                Step::KernelGuard | Step::Arena { .. } => GuardMode::KernelGuard,
            },
            usable,
            guard,
            os,
            maps: count_mappings(),
            max_maps: read_max_map_count(),
            rlimit_as: address_space_limit(),
        }
    }

    fn with_mode(mut self, mode: GuardMode) -> io::Error {
        self.mode = mode;
        self.into_io()
    }

    fn into_io(self) -> io::Error {
        let kind = if self.os.raw_os_error() == Some(libc::ENOMEM) {
            io::ErrorKind::OutOfMemory
        } else {
            self.os.kind()
        };
        io::Error::new(kind, self)
    }

    /// Kernel mappings a new stack adds (the failed one included).
    fn mappings_per_stack(&self) -> usize {
        match (self.step, self.mode) {
            (Step::Arena { .. }, _) | (_, GuardMode::KernelGuard) => 1,
            _ => 2,
        }
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
            Step::KernelGuard => write!(
                f,
                "greenlet: cannot install the {guard}-byte guard page of a new stack of \
                 {usable} bytes (madvise MADV_GUARD_INSTALL, which needs page-table \
                 memory): "
            )?,
            Step::Arena { chunk } => write!(
                f,
                "greenlet: cannot reserve {chunk} bytes of address space (MAP_NORESERVE) \
                 for a new arena chunk of stacks of {usable} bytes + {guard}-byte guard: "
            )?,
        }
        write!(f, "{}. ", self.os)?;
        match (self.step, self.mode) {
            (Step::Arena { .. }, _) => write!(
                f,
                "Stacks share arena mappings (kernel guard pages), so address space, \
                 memory or the overcommit policy ran out rather than mappings; "
            )?,
            (_, GuardMode::KernelGuard) => write!(
                f,
                "Each stack larger than {ARENA_MAX_STACK_SIZE} bytes uses 1 kernel mapping; "
            )?,
            (_, GuardMode::Mprotect) => write!(
                f,
                "Each guarded stack uses {} kernel mappings; ",
                self.mappings_per_stack()
            )?,
        }
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
                    && n + self.mappings_per_stack() + max / 100 >= *max
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
             free memory, or use smaller stacks or fewer live greenlets."
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

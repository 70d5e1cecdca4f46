//! The [`Stack`] type: one guarded stack, in an arena slot or a mapping of
//! its own; how it is made, taken from and given back to the pool, and
//! given back to the kernel.

use super::arena;
use super::error::{StackError, Step};
use super::pool::{pool_pop, pool_push};
use super::sizes::{default_usable_size, usable_size};
use super::valgrind::{valgrind_deregister, valgrind_register};
use super::{ARENA_MAX_STACK_SIZE, DEFAULT_STACK_SIZE, GuardMode, guard_mode, page_size};
use crate::os::{self, Mapping, map_anonymous};
use crate::raw;
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::ops::Range;
use std::ptr::NonNull;

/// One guarded stack: `[guard page][usable bytes]`, growing down from
/// [`top`](Stack::top).
///
/// A `Stack` owns its memory: dropping it unmaps its own mapping, or gives
/// an arena slot's pages back to the kernel and the slot to its arena (see
/// the [module documentation](super)). It hands out only raw pointers and
/// addresses, never references to its memory: the memory belongs to
/// whatever code runs on the stack.
///
/// `Stack` is `Send`: it may be dropped on any thread, and moved to another
/// thread (for example to be released into that thread's pool).
///
/// # Examples
///
/// ```
/// use greenlet::stack::Stack;
///
/// let stack = Stack::new(32 * 1024).unwrap();
/// let slot = stack.top().wrapping_sub(8).cast::<u64>(); // page-aligned top
/// // SAFETY: inside the usable range, which nothing else uses; aligned.
/// unsafe { slot.write(0xfeed) };
/// assert!(stack.contains(slot as usize));
/// // `Send`: it can be dropped (unmapped) on another thread.
/// std::thread::spawn(move || drop(stack)).join().unwrap();
/// ```
pub struct Stack {
    /// The lowest usable address, right above the guard page. The memory
    /// is written through raw pointers by code running on the stack, never
    /// through references. (The bottom rather than the start of the guard:
    /// `top()`, on the creation path, is then one addition.)
    bottom: NonNull<u8>,
    /// Usable bytes above the guard.
    usable: usize,
    /// The mapping, if the stack has one of its own (`guard + usable` bytes
    /// from the guard page's start): the OS layer's `Mapping` (`memmap2` on
    /// Unix, `VirtualAlloc` on Windows) owns it and unmaps it when
    /// this is dropped.
    /// `None` for a slot of the arena for `usable`-byte stacks (the arena
    /// owns that mapping).
    ///
    /// Boxed so that `Stack` stays four words on a 64-bit target, and the `NonNull` niche of
    /// `bottom` stays the niche of `Option<Stack>` and `io::Result<Stack>`:
    /// the pooled creation path moves a stack through both and is
    /// measurably sensitive to their size and tag (see [`Stack::map_own`]
    /// for what the box costs). The box is only ever read to be dropped:
    /// the `Mapping` is never dereferenced, since a slice over the whole
    /// mapping would claim the guard page is readable memory.
    ///
    /// `ManuallyDrop` so that dropping it happens in the cold, out-of-line
    /// [`Drop::drop`] only, and no drop glue for it is inlined into the
    /// callers that may drop a stack (the pool's release path).
    own: ManuallyDrop<Option<Box<Mapping>>>,
    /// Bytes of guard below `bottom` (one page): only the cold paths read it.
    guard: u32,
    /// The id Valgrind gave this stack when it was registered
    /// (`VALGRIND_STACK_REGISTER`, when it was made), to deregister it when
    /// it is given back. Natively it is 0.
    valgrind_id: u32,
}

// SAFETY: a `Stack` exclusively owns its memory (a mapping, or an arena slot
// no one else is handed), and it only exposes addresses, never references.
// Unmapping or returning a slot works from any thread: the arena registry is
// behind a mutex.
unsafe impl Send for Stack {}

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
    /// `size` is rounded up to at least [`MIN_STACK_SIZE`](super::MIN_STACK_SIZE) and then to
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
    ///   count, the limits, and what to do; [`Error::source`](std::error::Error::source) on the
    ///   returned error is the original OS error.
    /// * Any other OS error from `mmap`, `mprotect` or `madvise`, with the
    ///   same kind of explanation.
    ///
    /// Nothing is leaked on failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::{MIN_STACK_SIZE, Stack, page_size};
    ///
    /// let s = Stack::new(0).unwrap();
    /// assert_eq!(s.size(), MIN_STACK_SIZE.next_multiple_of(page_size())); // rounded up
    /// // SAFETY: the usable range is readable; a fresh stack reads as zero.
    /// assert_eq!(unsafe { s.bottom().read() }, 0);
    /// let e = Stack::new(usize::MAX).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn new(size: usize) -> io::Result<Stack> {
        let usable = usable_size(size)?;
        // One page on Unix; on Windows a page and the exception dispatcher's
        // reserve (os::windows::memory).
        let guard = os::guard_size(page_size());
        match guard_mode() {
            GuardMode::KernelGuard if usable <= ARENA_MAX_STACK_SIZE => {
                let base = arena::take(usable, guard)?;
                Ok(Stack::at(base, guard, usable, None))
            }
            mode => Stack::map_own(usable, guard, mode),
        }
    }

    /// A stack in a mapping of its own, guarded according to `mode`.
    ///
    /// The OS layer makes the mapping and its `Mapping` owns it; boxing the handle costs one
    /// allocation per stack of this kind (a stack above
    /// [`ARENA_MAX_STACK_SIZE`], or any new stack in
    /// [`GuardMode::Mprotect`] mode), next to an `mmap` and an `mprotect`
    /// or `madvise` system call; pooled stacks never come here.
    fn map_own(usable: usize, guard: usize, mode: GuardMode) -> io::Result<Stack> {
        // `usable_size` checked that this sum neither overflows nor exceeds
        // `isize::MAX`.
        let total = usable + guard;
        let fail = |step, os| StackError::new(step, usable, guard, os).with_mode(mode);
        let mut map = map_anonymous(total).map_err(|os| fail(Step::Map, os))?;
        // Taken before the guard goes in, while all of the mapping is
        // read/write memory: the one time the handle is dereferenced.
        let base = NonNull::new(map.as_mut_ptr()).expect("a mapping is never at address 0");
        let (guarded, step) = match mode {
            // SAFETY: `base` is the start of the anonymous mapping of
            // `total` bytes made above, which `map` owns and nothing else
            // refers to; it is page aligned and `guard` is one page, so
            // `[base, base + guard)` lies inside it and is page aligned.
            // Nothing has been handed out yet, so no one can be using the
            // page we make inaccessible.
            GuardMode::Mprotect => (
                unsafe { os::protect_none(base.as_ptr(), guard) },
                Step::Guard,
            ),
            // SAFETY: as above, for installing a guard marker instead.
            GuardMode::KernelGuard => (
                unsafe { os::install_kernel_guard(base.as_ptr(), guard) },
                Step::KernelGuard,
            ),
        };
        if let Err(e) = guarded {
            // Dropping `map` unmaps it.
            return Err(StackError::new(step, usable, guard, e).into_io());
        }
        Ok(Stack::at(base, guard, usable, Some(Box::new(map))))
    }

    /// The stack whose guard page starts at `base`, registered with
    /// Valgrind.
    fn at(base: NonNull<u8>, guard: usize, usable: usize, own: Option<Box<Mapping>>) -> Stack {
        // SAFETY: the guard lies inside the mapping or slot at `base`, and
        // the usable memory above it too, so the sum stays in it.
        let bottom = unsafe { base.add(guard) };
        Stack {
            bottom,
            usable,
            own: ManuallyDrop::new(own),
            guard: u32::try_from(guard).expect("a page is smaller than 4 GiB"),
            valgrind_id: valgrind_register(bottom.as_ptr(), usable),
        }
    }

    /// The start of the guard page: where the slot or mapping begins.
    fn base(&self) -> NonNull<u8> {
        // SAFETY: the guard page lies right below `bottom`, in the same
        // slot or mapping.
        unsafe { self.bottom.sub(self.guard as usize) }
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::{DEFAULT_STACK_SIZE, Stack};
    ///
    /// let s = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
    /// let top = s.top();
    /// s.release(); // into this thread's pool
    /// let again = Stack::acquire(DEFAULT_STACK_SIZE).unwrap();
    /// assert_eq!(again.top(), top); // the same stack, without a system call
    /// ```
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
    /// fewer than [`POOL_CAPACITY`](super::POOL_CAPACITY) stacks; any other stack is dropped
    /// (unmapped, or returned to its arena), except that a default-size
    /// arena stack released into a full pool waits until [`RELEASE_BATCH`](super::RELEASE_BATCH)
    /// of them can be given back together (or the thread exits).
    ///
    /// The [`WARM_STACKS`](super::WARM_STACKS) most recently pooled stacks keep their memory, so
    /// that reusing them costs nothing; when a stack falls out of that
    /// window its pages are returned to the kernel with `MADV_DONTNEED`
    /// (one system call). The pool is dropped when the thread exits.
    ///
    /// This never panics, even when called from a thread-local destructor
    /// after the pool itself is gone: the stack is then simply dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::{DEFAULT_STACK_SIZE, Stack, pooled};
    ///
    /// let before = pooled();
    /// Stack::new(DEFAULT_STACK_SIZE).unwrap().release();
    /// assert_eq!(pooled(), before + 1); // the default size is pooled
    /// Stack::new(64 * 1024).unwrap().release();
    /// assert_eq!(pooled(), before + 1); // any other size is given back
    /// ```
    #[inline]
    pub fn release(self) {
        // A usable size is a whole number of pages, so one equal to
        // DEFAULT_STACK_SIZE is the rounded default size: a compare with a
        // constant settles it on every real system (pages of at most 1 MiB)
        // without loading the cached size.
        if self.usable == DEFAULT_STACK_SIZE {
            pool_push(self);
        } else {
            self.release_slow();
        }
    }

    /// [`Stack::release`] of a stack whose size is not `DEFAULT_STACK_SIZE`:
    /// pooled if it is the rounded default size all the same (pages larger
    /// than 1 MiB), else dropped, which gives it back.
    #[cold]
    #[inline(never)]
    fn release_slow(self) {
        if self.usable == default_usable_size() {
            pool_push(self);
        }
    }

    /// One past the highest usable byte: where a new stack pointer starts.
    /// Page aligned.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::{Stack, page_size};
    ///
    /// let s = Stack::new(64 * 1024).unwrap();
    /// assert_eq!(s.top() as usize % page_size(), 0);
    /// assert_eq!(s.top() as usize - s.bottom() as usize, s.size());
    /// ```
    #[must_use]
    pub fn top(&self) -> *mut u8 {
        self.bottom.as_ptr().wrapping_add(self.usable)
    }

    /// The lowest usable byte, immediately above the guard page.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::Stack;
    ///
    /// let s = Stack::new(64 * 1024).unwrap();
    /// assert_eq!(s.bottom() as usize, s.guard().end); // right above the guard
    /// ```
    #[must_use]
    pub fn bottom(&self) -> *mut u8 {
        self.bottom.as_ptr()
    }

    /// The number of usable bytes: `top() - bottom()`.
    ///
    /// This is the requested size rounded up to at least [`MIN_STACK_SIZE`](super::MIN_STACK_SIZE)
    /// and to whole pages; the guard page is not included.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::{Stack, page_size};
    ///
    /// let s = Stack::new(100_000).unwrap();
    /// assert!(s.size() >= 100_000);
    /// assert_eq!(s.size() % page_size(), 0); // whole pages; the guard not counted
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::{Stack, page_size};
    ///
    /// let s = Stack::new(64 * 1024).unwrap();
    /// let guard = s.guard();
    /// assert_eq!(guard.end, s.bottom() as usize);
    /// assert!(guard.len() >= page_size());
    /// assert!(!s.contains(guard.start));
    /// ```
    #[must_use]
    pub fn guard(&self) -> Range<usize> {
        let start = self.base().as_ptr() as usize;
        start..start + self.guard as usize
    }

    /// Whether `addr` lies in the usable range `bottom()..top()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::stack::Stack;
    ///
    /// let s = Stack::new(64 * 1024).unwrap();
    /// assert!(s.contains(s.bottom() as usize));
    /// assert!(!s.contains(s.top() as usize)); // one past the end
    /// assert!(!s.contains(s.guard().start));
    /// ```
    #[must_use]
    pub fn contains(&self, addr: usize) -> bool {
        (self.bottom() as usize..self.top() as usize).contains(&addr)
    }

    /// Returns the usable pages to the kernel (`MADV_DONTNEED`); the guard
    /// stays. The memory reads as zero afterwards.
    pub(super) fn forget_pages(&self) {
        // SAFETY: `[bottom, top)` is the usable part of memory this stack
        // owns, page aligned; nothing runs on a stack that is being pooled
        // or dropped, so discarding its contents harms no one.
        unsafe { os::forget_pages(self.bottom(), self.usable) };
    }

    /// Whether this stack is a slot of an arena (not a mapping of its own).
    pub(super) fn in_arena(&self) -> bool {
        self.own.is_none()
    }

    /// Gives every stack of `stacks` back, as dropping each would, with the
    /// pages of the arena slots among them returned to the kernel in as few
    /// system calls as possible ([`forget_pages_of`]).
    pub(super) fn drop_all(stacks: &mut Vec<Stack>) {
        let done = forget_pages_of(stacks);
        for (i, stack) in stacks.drain(..).enumerate() {
            if i < done && stack.in_arena() {
                // Its pages are gone already: only the slot goes back.
                valgrind_deregister(stack.valgrind_id);
                arena::give_back(stack.base(), stack.usable);
                std::mem::forget(stack);
            }
            // Otherwise dropping it gives it back, pages and all.
        }
    }
}

/// Returns the usable pages of the first stacks of `stacks` to the kernel
/// with as few system calls as the OS allows ([`os::forget_many`]), and how
/// many stacks that covered (0: the caller gives each its own
/// [`Stack::forget_pages`]). Not under Valgrind (3.19), which does not know
/// `process_madvise` and would warn on stderr.
fn forget_pages_of(stacks: &[Stack]) -> usize {
    const { assert!(super::RELEASE_BATCH <= os::FORGET_MANY_MAX) };
    if stacks.is_empty() || raw::running_on_valgrind() != 0 {
        return 0;
    }
    let ranges = stacks
        .iter()
        .take(os::FORGET_MANY_MAX)
        .map(|s| s.bottom() as usize..s.top() as usize);
    // SAFETY: each range is the usable part of a stack given to us to give
    // back (nothing runs on it), page aligned, as `forget_pages` requires.
    unsafe { os::forget_many(ranges) }
}

impl Drop for Stack {
    /// Cold and out of line: most stacks are pooled, not dropped, and
    /// inlined into a caller such as [`Stack::release`] (which drops only the
    /// stacks the pool does not take) this body makes the caller save more
    /// registers on the pooled path: 26 more instructions per greenlet
    /// creation, measured.
    #[cold]
    #[inline(never)]
    fn drop(&mut self) {
        valgrind_deregister(self.valgrind_id);
        if self.in_arena() {
            // The pages go before the slot becomes another stack's.
            self.forget_pages();
            arena::give_back(self.base(), self.usable);
        }
        // SAFETY: `own` is dropped here only, once: this is the stack's
        // drop, and nothing reads the field after it. Dropping it unmaps a
        // mapping of its own, on which nothing runs any more.
        unsafe { ManuallyDrop::drop(&mut self.own) };
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("bottom", &self.bottom())
            .field("top", &self.top())
            .field("size", &self.usable)
            .field("guard", &self.guard())
            .field("in_arena", &self.in_arena())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pooled creation path moves stacks through `Option<Stack>` and
    /// `io::Result<Stack>`: three words and two `u32`s each (four words on a
    /// 64-bit target, five on a 32-bit one), no tag word of their own.
    #[test]
    fn a_stack_is_three_words_and_two_u32s_and_its_options_add_nothing() {
        let size = 3 * std::mem::size_of::<usize>() + 2 * std::mem::size_of::<u32>();
        assert_eq!(std::mem::size_of::<Stack>(), size);
        assert_eq!(std::mem::size_of::<Option<Stack>>(), size);
        assert_eq!(std::mem::size_of::<io::Result<Stack>>(), size);
    }
}

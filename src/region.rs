//! Stacks on memory the caller provides: a `static` buffer, a block from
//! the caller's own allocator, a region a kernel set aside. No allocation,
//! no system call, no `std`.
//!
//! A [`StackRegion`] is a checked description of such memory: the usable
//! range, and optionally a *guard* range just below it that the caller says
//! will fault on access (a `PROT_NONE` page, an MPU region, an unmapped
//! page). The crate never touches or maps the guard; it only records it, so
//! that the caller's fault handler can ask [`StackRegion::guard_contains`].
//! Checking the description turns the usual mistakes (misalignment, a
//! region too small for the initial frame, a guard that is not directly
//! below the stack, an address range that wraps) into a [`RegionError`]
//! instead of memory corruption.
//!
//! The layout, addresses increasing upwards:
//!
//! ```text
//!   top     +--------------------+  <- aligned to STACK_ALIGN; stack_init
//!           |  usable stack      |     builds the first frame below it,
//!           |  (grows down)      |     and the context grows down from there
//!   bottom  +--------------------+  <- aligned to STACK_ALIGN
//!           |  guard (optional)  |     declared by the caller: must fault
//!           +--------------------+
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::ops::Range;

use crate::raw::{self, EntryFn, MAX_FRAME_BYTES, STACK_ALIGN, StackPointer};

/// The smallest usable size a [`StackRegion`] accepts: room for the initial
/// frame that [`raw::stack_init`] writes on every CPU. The entry function's
/// own needs come on top and are the caller's to judge.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{MIN_REGION_BYTES, RegionError, StackRegion};
///
/// let mut tiny = [0u8; 512];
/// let err = StackRegion::from_slice(&mut tiny).unwrap_err();
/// assert!(matches!(err, RegionError::TooSmall { min: MIN_REGION_BYTES, .. }));
/// let mut enough = [0u8; MIN_REGION_BYTES + 32];
/// assert!(StackRegion::from_slice(&mut enough).is_ok());
/// ```
pub const MIN_REGION_BYTES: usize = MAX_FRAME_BYTES;

/// What is wrong with a described region; see [`StackRegion::new`].
///
/// # Examples
///
/// ```
/// use greenlet::raw::{RegionError, StackRegion};
///
/// #[repr(align(16))]
/// struct Memory([u8; 4096]);
/// let mut memory = Memory([0; 4096]);
/// let start = memory.0.as_mut_ptr();
/// // SAFETY: the memory is valid and unused; this region is only checked.
/// let err = unsafe { StackRegion::new(start.wrapping_add(1), 2048) }.unwrap_err();
/// assert!(matches!(err, RegionError::Misaligned { .. }));
/// // SAFETY: as above, and no context is built on this one.
/// let region = unsafe { StackRegion::new(start.wrapping_add(2048), 2048) }.unwrap();
/// // SAFETY: a guard that is not right below the stack is refused before
/// // anything could rely on it.
/// let err = unsafe { region.with_guard(0..4096) }.unwrap_err();
/// assert!(matches!(err, RegionError::GuardNotBelow { .. }));
/// assert!(err.to_string().starts_with("guard 0x0..0x1000 is not"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionError {
    /// The region starts at address zero.
    Null,
    /// `start + len` does not fit in the address space.
    Wraps {
        /// The region's first address.
        start: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// An end of the usable range is not a multiple of
    /// [`STACK_ALIGN`].
    Misaligned {
        /// The usable range's lowest address.
        bottom: usize,
        /// One past its highest address.
        top: usize,
    },
    /// Fewer usable bytes than [`MIN_REGION_BYTES`].
    TooSmall {
        /// The usable bytes the region has.
        usable: usize,
        /// The fewest it may have ([`MIN_REGION_BYTES`]).
        min: usize,
    },
    /// The declared guard is empty, or does not end exactly where the usable
    /// range begins (a stack overflows downwards, so a guard elsewhere, or a
    /// gap between the two, would not catch it).
    GuardNotBelow {
        /// The declared guard's addresses.
        guard: Range<usize>,
        /// The usable range's lowest address.
        bottom: usize,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::Null => write!(f, "stack region starts at address 0"),
            RegionError::Wraps { start, len } => write!(
                f,
                "stack region {start:#x} + {len:#x} bytes wraps around the address space"
            ),
            RegionError::Misaligned { bottom, top } => write!(
                f,
                "stack region {bottom:#x}..{top:#x} is not aligned to {STACK_ALIGN} bytes at \
                 both ends (use StackRegion::from_slice to trim a buffer, or align it)"
            ),
            RegionError::TooSmall { usable, min } => write!(
                f,
                "stack region has {usable} usable bytes, fewer than the {min} the initial \
                 frame needs"
            ),
            RegionError::GuardNotBelow { guard, bottom } => write!(
                f,
                "guard {:#x}..{:#x} is not a non-empty range ending at the stack's bottom \
                 {bottom:#x}",
                guard.start, guard.end
            ),
        }
    }
}

impl core::error::Error for RegionError {}

/// A stack on memory the caller provides, checked, for [`raw::stack_init`].
///
/// It borrows the memory for `'a` (a `'static` buffer gives a
/// `StackRegion<'static>`); it owns nothing and frees nothing. The borrow
/// does not follow the contexts built on it (a [`StackPointer`] is a raw
/// pointer), which is why [`StackRegion::init`] is `unsafe`.
///
/// # Examples
///
/// ```
/// use greenlet::raw::{self, StackPointer, StackRegion};
///
/// unsafe extern "C" fn double(mut from: StackPointer, mut data: usize) -> ! {
///     loop {
///         // SAFETY: `from` switched to us and is suspended.
///         let t = unsafe { raw::switch(from, data * 2) };
///         (from, data) = (t.sp, t.data);
///     }
/// }
///
/// static mut STACK: [u8; 16 * 1024] = [0; 16 * 1024];
/// let stack = &raw mut STACK;
/// // SAFETY: this is the only reference ever made to STACK.
/// let region = StackRegion::from_slice(unsafe { &mut *stack }).unwrap();
/// // SAFETY: STACK lives forever and holds only this context, which is
/// // abandoned suspended in its loop.
/// let sp = unsafe { region.init(double) };
/// // SAFETY: `sp` is the new context's stack pointer.
/// assert_eq!(unsafe { raw::switch(sp, 21) }.data, 42);
/// ```
#[derive(Debug)]
pub struct StackRegion<'a> {
    bottom: usize,
    top: usize,
    guard: Option<Range<usize>>,
    _memory: PhantomData<&'a mut [u8]>,
}

impl<'a> StackRegion<'a> {
    /// The usable stack `[start, start + len)`, exactly: both ends must be
    /// multiples of [`STACK_ALIGN`], and `len` at least
    /// [`MIN_REGION_BYTES`].
    ///
    /// # Errors
    ///
    /// [`RegionError::Null`], [`RegionError::Wraps`],
    /// [`RegionError::Misaligned`] or [`RegionError::TooSmall`]; nothing is
    /// read or written either way.
    ///
    /// # Safety
    ///
    /// `[start, start + len)` must be memory that is valid for reads and
    /// writes and not used for anything else for `'a`, and for as long as
    /// any context built on it may run or be resumed (even past `'a`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::{RegionError, STACK_ALIGN, StackRegion};
    ///
    /// #[repr(align(16))]
    /// struct Memory([u8; 8192]);
    /// let mut memory = Memory([0; 8192]);
    /// let start = memory.0.as_mut_ptr();
    /// // SAFETY: `memory` is valid for reads and writes, used for nothing else,
    /// // and outlives the region (no context is built on it here).
    /// let region = unsafe { StackRegion::new(start, 8192) }.unwrap();
    /// assert_eq!((region.size(), region.top() as usize % STACK_ALIGN), (8192, 0));
    /// // SAFETY: address 0 is refused before anything is read or written.
    /// let err = unsafe { StackRegion::new(std::ptr::null_mut(), 8192) }.unwrap_err();
    /// assert_eq!(err, RegionError::Null);
    /// ```
    pub unsafe fn new(start: *mut u8, len: usize) -> Result<StackRegion<'a>, RegionError> {
        let bottom = start as usize;
        if bottom == 0 {
            return Err(RegionError::Null);
        }
        let top = bottom
            .checked_add(len)
            .ok_or(RegionError::Wraps { start: bottom, len })?;
        if !bottom.is_multiple_of(STACK_ALIGN) || !top.is_multiple_of(STACK_ALIGN) {
            return Err(RegionError::Misaligned { bottom, top });
        }
        if len < MIN_REGION_BYTES {
            return Err(RegionError::TooSmall {
                usable: len,
                min: MIN_REGION_BYTES,
            });
        }
        Ok(StackRegion {
            bottom,
            top,
            guard: None,
            _memory: PhantomData,
        })
    }

    /// The largest aligned part of `buf`: its ends are rounded inwards to
    /// [`STACK_ALIGN`], so any buffer (`[u8; N]` has
    /// alignment 1) works if it is large enough.
    ///
    /// # Errors
    ///
    /// [`RegionError::TooSmall`] if fewer than [`MIN_REGION_BYTES`] remain
    /// after trimming.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::{STACK_ALIGN, StackRegion};
    ///
    /// let mut buf = [0u8; 10_000];
    /// let region = StackRegion::from_slice(&mut buf[3..]).unwrap();
    /// // Trimmed inwards to aligned ends: under STACK_ALIGN bytes lost at each.
    /// assert!(region.size() > 9_997 - 2 * STACK_ALIGN);
    /// assert_eq!(region.size() % STACK_ALIGN, 0);
    /// ```
    pub fn from_slice(buf: &'a mut [u8]) -> Result<StackRegion<'a>, RegionError> {
        let range = buf.as_mut_ptr_range();
        let (lo, hi) = (range.start as usize, range.end as usize);
        let bottom = lo.next_multiple_of(STACK_ALIGN);
        let top = hi & !(STACK_ALIGN - 1);
        let usable = top.saturating_sub(bottom);
        if usable < MIN_REGION_BYTES {
            return Err(RegionError::TooSmall {
                usable,
                min: MIN_REGION_BYTES,
            });
        }
        // `bottom` lies within `buf` (rounded inwards), so the pointer keeps
        // `buf`'s provenance.
        let bottom_ptr = range.start.wrapping_add(bottom - lo);
        // SAFETY: `buf` is an exclusive borrow for 'a of the whole range,
        // which contains [bottom, top); `new` checks the rest (it passes:
        // aligned, large enough, and a real slice is neither null nor
        // wrapping).
        unsafe { StackRegion::new(bottom_ptr, usable) }
    }

    /// Declare that `guard` faults on every access and lies directly below
    /// the usable range (`guard.end == self.bottom()`). The crate neither
    /// maps nor touches it; [`guard_contains`](Self::guard_contains) lets a
    /// fault handler recognise an overflow.
    ///
    /// # Errors
    ///
    /// [`RegionError::GuardNotBelow`] if `guard` is empty or does not end
    /// at the bottom of the usable range.
    ///
    /// # Safety
    ///
    /// The caller vouches that the guard really faults (nothing in this
    /// crate depends on it, but code that trusts the guard to stop an
    /// overflow does).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::StackRegion;
    ///
    /// // Two pages the caller owns, the lower one made inaccessible.
    /// let (base, page) = guarded_pages();
    /// // SAFETY: the upper page is ours, writable, and freed only at the end.
    /// let region = unsafe { StackRegion::new((base + page) as *mut u8, page) }.unwrap();
    /// // SAFETY: the guard really faults (guarded_pages made it inaccessible).
    /// let region = unsafe { region.with_guard(base..base + page) }.unwrap();
    /// assert!(region.guard_contains(base) && !region.guard_contains(base + page));
    /// // SAFETY: no context was built on the region; nothing uses the pages.
    /// unsafe { free_pages(base, page) };
    ///
    /// /// Two new pages of read/write memory, the lower one `PROT_NONE`:
    /// /// their start and the page size.
    /// #[cfg(unix)]
    /// fn guarded_pages() -> (usize, usize) {
    ///     // SAFETY: sysconf has no preconditions.
    ///     let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    ///     let (rw, anon) = (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS);
    ///     // SAFETY: a new anonymous mapping of two pages, used by nothing else.
    ///     let base = unsafe { libc::mmap(std::ptr::null_mut(), 2 * page, rw, anon, -1, 0) };
    ///     assert_ne!(base, libc::MAP_FAILED);
    ///     // SAFETY: the lower page is ours; from now on any access to it faults.
    ///     assert_eq!(unsafe { libc::mprotect(base, page, libc::PROT_NONE) }, 0);
    ///     (base as usize, page)
    /// }
    ///
    /// /// # Safety
    /// /// `base` is from `guarded_pages(page)`, and nothing uses its pages.
    /// #[cfg(unix)]
    /// unsafe fn free_pages(base: usize, page: usize) {
    ///     // SAFETY: the caller's promise.
    ///     assert_eq!(unsafe { libc::munmap(base as *mut _, 2 * page) }, 0);
    /// }
    /// # // On Windows, the same with VirtualAlloc, VirtualProtect, VirtualFree.
    /// # #[cfg(windows)]
    /// # fn guarded_pages() -> (usize, usize) {
    /// #     use windows_sys::Win32::System::Memory::*;
    /// #     let page = greenlet::stack::page_size();
    /// #     // SAFETY: a new reservation of two pages, used by nothing else.
    /// #     let base = unsafe {
    /// #         VirtualAlloc(std::ptr::null(), 2 * page, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    /// #     };
    /// #     assert!(!base.is_null());
    /// #     let mut old = 0;
    /// #     // SAFETY: the lower page is ours; from now on any access to it faults.
    /// #     assert_ne!(unsafe { VirtualProtect(base, page, PAGE_NOACCESS, &mut old) }, 0);
    /// #     (base as usize, page)
    /// # }
    /// # #[cfg(windows)]
    /// # unsafe fn free_pages(base: usize, _page: usize) {
    /// #     use windows_sys::Win32::System::Memory::{MEM_RELEASE, VirtualFree};
    /// #     // SAFETY: the caller's promise: the whole reservation, unused.
    /// #     assert_ne!(unsafe { VirtualFree(base as *mut _, 0, MEM_RELEASE) }, 0);
    /// # }
    /// ```
    pub unsafe fn with_guard(
        mut self,
        guard: Range<usize>,
    ) -> Result<StackRegion<'a>, RegionError> {
        if guard.start >= guard.end || guard.end != self.bottom {
            return Err(RegionError::GuardNotBelow {
                guard,
                bottom: self.bottom,
            });
        }
        self.guard = Some(guard);
        Ok(self)
    }

    /// The aligned upper end (exclusive): what [`raw::stack_init`] takes.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::{STACK_ALIGN, StackRegion};
    ///
    /// let mut buf = [0u8; 4096];
    /// let end = buf.as_ptr_range().end as usize;
    /// let region = StackRegion::from_slice(&mut buf).unwrap();
    /// let top = region.top() as usize;
    /// assert!(top <= end && end - top < STACK_ALIGN); // the aligned end
    /// ```
    #[inline]
    pub fn top(&self) -> *mut u8 {
        self.top as *mut u8
    }

    /// The lowest usable address.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::{STACK_ALIGN, StackRegion};
    ///
    /// let mut buf = [0u8; 4096];
    /// let start = buf.as_ptr() as usize;
    /// let region = StackRegion::from_slice(&mut buf).unwrap();
    /// let bottom = region.bottom() as usize;
    /// assert!(bottom >= start && bottom - start < STACK_ALIGN);
    /// assert_eq!(region.top() as usize - bottom, region.size());
    /// ```
    #[inline]
    pub fn bottom(&self) -> *mut u8 {
        self.bottom as *mut u8
    }

    /// Usable bytes, `top - bottom`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::StackRegion;
    ///
    /// let mut buf = [0u8; 2048];
    /// let region = StackRegion::from_slice(&mut buf).unwrap();
    /// assert_eq!(region.size(), region.top() as usize - region.bottom() as usize);
    /// assert!(region.size() <= 2048);
    /// ```
    #[inline]
    pub fn size(&self) -> usize {
        self.top - self.bottom
    }

    /// The declared guard, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::StackRegion;
    ///
    /// let mut buf = [0u8; 4096];
    /// let region = StackRegion::from_slice(&mut buf).unwrap();
    /// assert_eq!(region.guard(), None); // declared only by `with_guard`
    /// ```
    pub fn guard(&self) -> Option<Range<usize>> {
        self.guard.clone()
    }

    /// Whether `addr` lies in the usable range.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::StackRegion;
    ///
    /// let mut buf = [0u8; 4096];
    /// let region = StackRegion::from_slice(&mut buf).unwrap();
    /// let (bottom, top) = (region.bottom() as usize, region.top() as usize);
    /// assert!(region.contains(bottom) && region.contains(top - 1));
    /// assert!(!region.contains(top) && !region.contains(bottom - 1));
    /// ```
    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        (self.bottom..self.top).contains(&addr)
    }

    /// Whether `addr` lies in the declared guard (false without one): a
    /// fault there is this stack overflowing.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::StackRegion;
    ///
    /// let mut buf = [0u8; 4096];
    /// let region = StackRegion::from_slice(&mut buf).unwrap();
    /// // Without a declared guard, no address is in it (see `with_guard` for one).
    /// assert!(!region.guard_contains(region.bottom() as usize - 1));
    /// ```
    #[inline]
    pub fn guard_contains(&self, addr: usize) -> bool {
        self.guard.as_ref().is_some_and(|g| g.contains(&addr))
    }

    /// Build a new context at the top of this region with
    /// [`raw::stack_init_bounded`] (so that on Windows the context's thread
    /// information block describes this region) and return its stack
    /// pointer.
    ///
    /// # Safety
    ///
    /// As for [`raw::stack_init`]: the memory must stay valid and otherwise
    /// unused while the context may run or be resumed (this can outlast
    /// `'a`: the borrow does not follow the returned pointer), only one
    /// context may live on the region at a time, and `entry` must never
    /// return nor let a panic escape.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::raw::{self, StackPointer, StackRegion};
    ///
    /// unsafe extern "C" fn answer(from: StackPointer, _: usize) -> ! {
    ///     // SAFETY: `from` started us and waits in its switch.
    ///     unsafe { raw::switch(from, 42) };
    ///     unreachable!("nothing resumes this context again")
    /// }
    /// let mut memory = [0u8; 16 * 1024];
    /// let region = StackRegion::from_slice(&mut memory).unwrap();
    /// // SAFETY: `memory` outlives the context, the only one on it, which is
    /// // abandoned suspended; `answer` never returns nor unwinds.
    /// let sp = unsafe { region.init(answer) };
    /// assert!(region.contains(sp as usize));
    /// // SAFETY: `sp` is the new context's stack pointer.
    /// assert_eq!(unsafe { raw::switch(sp, 0) }.data, 42);
    /// ```
    #[inline]
    pub unsafe fn init(&self, entry: EntryFn) -> StackPointer {
        // SAFETY: the region is checked (aligned, at least MIN_REGION_BYTES
        // = MAX_FRAME_BYTES, the most stack_init writes), `bottom` is its
        // lowest usable address, and the caller vouches for its lifetime
        // and exclusive use.
        unsafe { raw::stack_init_bounded(self.bottom(), self.top(), entry) }
    }
}

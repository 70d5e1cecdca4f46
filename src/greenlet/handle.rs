//! The [`Greenlet`] handle: a plain reference count on an [`Inner`], its
//! identity (`==`, `Hash`), and what dropping the last one means (see
//! [`super::lifetime`]). The operations are in the parent module.

use super::inner::Inner;
use super::lifetime;
use std::ptr::NonNull;

/// A greenlet: a function running on its own stack that switches
/// explicitly, with Python greenlet's semantics.
///
/// Handles are cheap to clone (a plain reference count) and compare equal
/// when they name the same greenlet. `!Send` and `!Sync`: a greenlet
/// belongs to the thread that created it, so switching to a greenlet of
/// another thread is a compile error.
///
/// # Examples
///
/// ```
/// use greenlet::Greenlet;
///
/// // A greenlet that adds what it is sent to a running total.
/// let adder = Greenlet::new(|first: i32| {
///     let mut total = first;
///     loop {
///         // Hand the total to main and wait for the next number.
///         let next: i32 = Greenlet::main().switch(total);
///         if next == 0 {
///             return total * 100; // returned to the parent (main)
///         }
///         total += next;
///     }
/// });
/// assert_eq!(adder.switch::<i32, i32>(1), 1);
/// assert_eq!(adder.switch::<i32, i32>(2), 3);
/// assert_eq!(adder.switch::<i32, i32>(0), 300);
/// assert!(adder.is_dead());
/// ```
///
/// # Panic state is per thread
///
/// `std::thread::panicking()` is one count per *thread*, and a switch
/// cannot save or restore it. A greenlet resumed while another greenlet of
/// its thread is unwinding (for example by a destructor that switches
/// during [`kill`](Greenlet::kill)) sees `panicking() == true` although it
/// is not unwinding itself, and a `std::sync::MutexGuard` dropped there
/// poisons its mutex. Python keeps `sys.exc_info()` per greenlet; Rust
/// cannot. Avoid switching from destructors that may run during unwinding,
/// or do not rely on `panicking()` in code that runs after such a switch.
pub struct Greenlet {
    inner: NonNull<Inner>,
}

impl Greenlet {
    /// A handle that takes over a count the caller owns.
    ///
    /// # Safety
    /// `p` is a live `Inner` of this thread, and the caller gives up one of
    /// its counts to the handle.
    #[inline(always)]
    pub(crate) unsafe fn from_counted(p: NonNull<Inner>) -> Greenlet {
        Greenlet { inner: p }
    }

    /// A new handle (a new count) to the live greenlet `p`.
    ///
    /// # Safety
    /// `p` is a live `Inner` of this thread.
    #[inline(always)]
    pub(crate) unsafe fn retained(p: *const Inner) -> Greenlet {
        // SAFETY: live, by the caller's promise; never null.
        unsafe {
            (*p).retain();
            Greenlet::from_counted(NonNull::new_unchecked(p.cast_mut()))
        }
    }

    #[inline(always)]
    pub(crate) fn inner(&self) -> &Inner {
        // SAFETY: a handle owns a count, so its Inner is live.
        unsafe { self.inner.as_ref() }
    }

    /// A word the layer above keeps for this greenlet, opaque to the core
    /// (the hub keeps the key of the greenlet's current wait there).
    #[inline(always)]
    pub(crate) fn wait_word(&self) -> &std::cell::Cell<u64> {
        &self.inner().wait_word
    }

    #[inline(always)]
    pub(crate) fn as_ptr(&self) -> *const Inner {
        self.inner.as_ptr()
    }
}

impl Clone for Greenlet {
    #[inline]
    fn clone(&self) -> Greenlet {
        self.inner().retain();
        Greenlet { inner: self.inner }
    }
}

impl Drop for Greenlet {
    /// Dropping the last handle of a started, suspended greenlet kills it
    /// from the dropping greenlet, so every destructor on its stack runs
    /// before `drop` returns. If it catches `GreenletExit` and switches away
    /// instead of dying, one line goes to stderr and its stack is leaked
    /// (a stack in use is never freed). An unstarted greenlet is just freed.
    /// The running greenlet dropping its own last handle lives on until it
    /// switches away (then it is killed) or dies (then it is freed).
    #[inline]
    fn drop(&mut self) {
        let inner = self.inner();
        let n = inner.refs.get() - 1;
        inner.refs.set(n);
        if n == 0 {
            // SAFETY: the count just dropped to 0 and the Inner is live.
            unsafe { lifetime::last_handle_dropped(self.inner) };
        }
    }
}

impl PartialEq for Greenlet {
    fn eq(&self, other: &Greenlet) -> bool {
        self.inner == other.inner
    }
}

impl Eq for Greenlet {}

impl std::hash::Hash for Greenlet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

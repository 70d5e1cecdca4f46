//! Per-thread state that outlives every `thread_local!` destructor, for
//! windows-gnu: [`StateKey`], what [`state_local!`](crate::os::state_local)
//! declares there.
//!
//! # The problem
//!
//! x86_64-pc-windows-gnu has no native `#[thread_local]` (its target spec
//! lacks `has-thread-local`), so std's `thread_local!` stores every value,
//! also a `const`-initialised one without a destructor, in a box behind a
//! `TlsAlloc` key, and frees that box in its thread-exit destructor pass
//! (run from std's PE TLS callback, placed in section `.CRT$XLB`). A key
//! freed there reads as a fresh value if used again. The greenlet layer's
//! state (the running greenlet, main, the flag word, ...) would then be
//! gone, or re-initialised, while a later `thread_local!` destructor still
//! kills a suspended greenlet it holds: the kill found no running greenlet
//! (`current_known`'s assertion in debug builds; in release the greenlet's
//! destructors silently did not run). On Linux and on every target with
//! native thread-locals, such a value is never freed, so the kill works.
//!
//! # Decision: a raw `TlsAlloc` slot, freed by a TLS callback of our own
//! that runs after std's
//!
//! * Each [`StateKey`] allocates one `TlsAlloc` index for the process, the
//!   first time any thread uses it (a compare-and-swap on an atomic; other
//!   threads wait for the winner). Each thread's value is a heap box made
//!   on first access and stored in that slot; std never sees the index, so
//!   its destructor pass leaves the value alone.
//! * The boxes are freed by [`FREE_AT_THREAD_EXIT`], a PE TLS callback in
//!   section `.CRT$XLY`. The image's TLS callback array is the sections
//!   `.CRT$XL*` between mingw's `__xl_a` (`.CRT$XLA`) and `__xl_z`
//!   (`.CRT$XLZ`); mingw's default PE linker script collects them with
//!   `KEEP (*(SORT(.CRT$XL*)))` (`x86_64-w64-mingw32-ld --verbose`), i.e.
//!   sorted by name, so ours comes after std's `.CRT$XLB` and mingw's own
//!   `.CRT$XLC`/`.CRT$XLD`. The loader calls the array in order (Windows;
//!   Wine's loader walks it front to back too): by the time ours runs, every
//!   std thread-local destructor of the exiting thread has run. The tests
//!   `threads_exit_kills_suspended_greenlets_kept_in_thread_locals_used_before_them`
//!   (greenlet_semantics) and
//!   `an_overflow_in_a_greenlet_killed_by_a_thread_local_at_thread_exit_is_reported`
//!   (overflow) check exactly that ordering under Wine.
//!
//!   Evidence (Wine 8, Debian 12, mingw-w64 binutils): `nm -n` of a test
//!   executable lists, in address order, `__xl_a`, std's
//!   `thread_local::guard::windows::CALLBACK`, `__xl_c`, `__xl_d`,
//!   [`FREE_AT_THREAD_EXIT`], `__xl_z`. With the callback moved to
//!   `.CRT$XLAZ` (before std's) as a control, the first test fails again in
//!   debug (`current_known`'s assertion) and in release (the destructor
//!   does not run); with `.CRT$XLY` both tests pass in both. The unit test
//!   below checks that a std destructor still sees a value and that each
//!   value is freed once when its thread exits.
//! * On `DLL_THREAD_DETACH` the callback frees the values in two passes:
//!   first the ones whose type has drop glue (their drop may run user code,
//!   e.g. a trace callback holding a greenlet, which may still need the
//!   plain cells), each taken out of its slot before it is dropped, so a
//!   use from inside that drop sees a fresh value (freed in the next
//!   round, as std's pass does); then the plain cells, whose freeing runs
//!   no code. Nothing leaks on a thread that exits.
//! * On `DLL_PROCESS_DETACH` (the main thread, or `ExitProcess`) nothing is
//!   freed: std's callback may still be running destructors of the main
//!   thread that need the state, the other threads are gone without their
//!   detach, and the process's memory goes with it.
//! * The index is never freed (`TlsFree`): the statics live as long as the
//!   process: sixteen (thread.rs 7, inner.rs 2, trace.rs 1, overflow.rs 1,
//!   the stack pool's pool.rs 5) of the process's 1,088 slots.
//!
//! Cost: a use is an atomic load and a `TlsGetValue` call, as std's
//! key-based `thread_local!` is on this target. Every other target keeps
//! `thread_local!` itself (the macro expands to it unchanged).

use std::convert::Infallible;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use windows_sys::Win32::System::Threading::{
    TLS_OUT_OF_INDEXES, TlsAlloc, TlsGetValue, TlsSetValue,
};

/// `DLL_THREAD_DETACH` (winnt.h), the reason a TLS callback gets when a
/// thread exits.
const DLL_THREAD_DETACH: u32 = 3;

/// [`Node::state`]: no index yet.
const UNALLOCATED: u32 = 0;
/// [`Node::state`]: a thread is allocating the index.
const ALLOCATING: u32 = 1;
/// [`Node::state`] is the index plus this.
const INDEX_BIAS: u32 = 2;

/// The type-erased part of a [`StateKey`]: its slot and how to free a
/// value, linked into [`KEYS`] once its index exists.
pub(crate) struct Node {
    /// [`UNALLOCATED`], [`ALLOCATING`], or the `TlsAlloc` index plus
    /// [`INDEX_BIAS`].
    state: AtomicU32,
    /// The next key in [`KEYS`].
    next: AtomicPtr<Node>,
    /// Frees one value (a `Box<T>` turned into a pointer).
    free: unsafe fn(*mut c_void),
    /// Whether freeing a value runs code (`T` has drop glue).
    runs_code: bool,
}

/// Every key with an index, most recently allocated first. Only pushed to.
static KEYS: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());

/// A per-thread value of type `T` that lives until its thread's last TLS
/// callback: declared with [`state_local!`](crate::os::state_local), used
/// as a `LocalKey` is (`with`, `try_with`).
pub(crate) struct StateKey<T: 'static> {
    node: Node,
    /// The initial value (the `const` block of the declaration).
    init: fn() -> T,
}

/// Frees a value made by [`StateKey::slow_get`].
///
/// # Safety
///
/// `p` is a `Box<T>` turned into a pointer, no longer in any slot, and
/// nothing refers to it.
unsafe fn free_box<T>(p: *mut c_void) {
    // SAFETY: the caller's contract.
    drop(unsafe { Box::from_raw(p.cast::<T>()) });
}

impl<T: 'static> StateKey<T> {
    /// A key whose values start as `init()`.
    pub(crate) const fn new(init: fn() -> T) -> Self {
        StateKey {
            node: Node {
                state: AtomicU32::new(UNALLOCATED),
                next: AtomicPtr::new(ptr::null_mut()),
                free: free_box::<T>,
                runs_code: std::mem::needs_drop::<T>(),
            },
            init,
        }
    }

    /// Calls `f` with this thread's value, made on first use.
    #[inline]
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let p = self.get();
        // SAFETY: `get` returns this thread's live value; it is freed only
        // by this thread's TLS callback, after it has been taken out of
        // the slot, so never while this borrow (on this thread) lasts.
        f(unsafe { &*p })
    }

    /// [`with`](Self::with); never fails (a value used again while its
    /// thread exits is made afresh), kept for the callers written against
    /// `LocalKey::try_with`.
    #[inline]
    pub(crate) fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, Infallible> {
        Ok(self.with(f))
    }

    #[inline]
    fn get(&'static self) -> *const T {
        let s = self.node.state.load(Ordering::Acquire);
        if s >= INDEX_BIAS {
            // SAFETY: a valid index, allocated by `index` and never freed.
            let v = unsafe { TlsGetValue(s - INDEX_BIAS) };
            if !v.is_null() {
                return v.cast();
            }
        }
        self.slow_get()
    }

    /// Makes this thread's value (and the index, on the process's first
    /// use).
    #[cold]
    #[inline(never)]
    fn slow_get(&'static self) -> *const T {
        keep_callback_linked();
        let index = self.node.index();
        // SAFETY: a valid index.
        let v = unsafe { TlsGetValue(index) };
        if !v.is_null() {
            return v.cast();
        }
        let p = Box::into_raw(Box::new((self.init)()));
        // SAFETY: a valid index; the slot owns the box from now on.
        let ok = unsafe { TlsSetValue(index, p.cast::<c_void>()) };
        assert!(ok != 0, "greenlet: TlsSetValue failed");
        p
    }
}

impl Node {
    /// This key's index, allocated (and the key linked into [`KEYS`]) on
    /// the process's first use.
    fn index(&'static self) -> u32 {
        loop {
            match self.state.compare_exchange(
                UNALLOCATED,
                ALLOCATING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: no preconditions.
                    let index = unsafe { TlsAlloc() };
                    if index == TLS_OUT_OF_INDEXES {
                        self.state.store(UNALLOCATED, Ordering::Release);
                        panic!("greenlet: TlsAlloc failed: out of TLS indexes");
                    }
                    // Linked before the index is published, so every value
                    // ever stored in the slot is reachable from `KEYS`.
                    let me = ptr::from_ref(self).cast_mut();
                    let mut head = KEYS.load(Ordering::Relaxed);
                    loop {
                        self.next.store(head, Ordering::Relaxed);
                        match KEYS.compare_exchange_weak(
                            head,
                            me,
                            Ordering::Release,
                            Ordering::Relaxed,
                        ) {
                            Ok(_) => break,
                            Err(h) => head = h,
                        }
                    }
                    self.state.store(index + INDEX_BIAS, Ordering::Release);
                    return index;
                }
                Err(ALLOCATING) => std::thread::yield_now(),
                Err(s) => return s - INDEX_BIAS,
            }
        }
    }
}

/// The crate's PE TLS callback (see the module docs for why `.CRT$XLY`).
#[used]
#[unsafe(link_section = ".CRT$XLY")]
static FREE_AT_THREAD_EXIT: unsafe extern "system" fn(*mut c_void, u32, *mut c_void) =
    free_at_thread_exit;

/// A reference from code that runs, so that the linker keeps the object
/// holding [`FREE_AT_THREAD_EXIT`] (as std does for its own callback).
#[inline(always)]
fn keep_callback_linked() {
    // SAFETY: a read of a static that is always initialised.
    let _ = unsafe { ptr::from_ref(&FREE_AT_THREAD_EXIT).read_volatile() };
}

/// Frees the exiting thread's values (see the module docs for the order).
///
/// # Safety
///
/// Called by the loader only, as a TLS callback.
unsafe extern "system" fn free_at_thread_exit(_: *mut c_void, reason: u32, _: *mut c_void) {
    if reason != DLL_THREAD_DETACH {
        return;
    }
    // A drop that panics must not unwind into the loader.
    let guard = AbortOnUnwind;
    // Values whose drop runs code, until none is made again (bounded, as
    // std's pass is); then the plain ones.
    for _ in 0..5 {
        if !free_pass(true) {
            break;
        }
    }
    free_pass(false);
    std::mem::forget(guard);
}

/// Takes every value of this thread out of its slot and frees it, for the
/// keys whose values run code when freed (`runs_code`) or the others.
/// Returns whether it freed any.
fn free_pass(runs_code: bool) -> bool {
    let mut freed = false;
    let mut node = KEYS.load(Ordering::Acquire);
    while !node.is_null() {
        // SAFETY: `KEYS` holds only `&'static Node`s, and is only pushed to.
        let n = unsafe { &*node };
        let s = n.state.load(Ordering::Acquire);
        if n.runs_code == runs_code && s >= INDEX_BIAS {
            // SAFETY: a valid index.
            let v = unsafe { TlsGetValue(s - INDEX_BIAS) };
            if !v.is_null() {
                // SAFETY: a valid index; the value leaves the slot before
                // it is freed, so a use from inside its drop makes another.
                unsafe { TlsSetValue(s - INDEX_BIAS, ptr::null()) };
                // SAFETY: `v` is the box `slow_get` stored for this key's
                // type, now in no slot; no borrow of it is live (the
                // thread has returned from all its code).
                unsafe { (n.free)(v) };
                freed = true;
            }
        }
        node = n.next.load(Ordering::Relaxed);
    }
    freed
}

/// Aborts the process if dropped (by an unwind through the TLS callback).
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::StateKey;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    static SEEN_AT_DROP: AtomicUsize = AtomicUsize::new(0);

    struct CountsDrop(Cell<usize>);

    impl Drop for CountsDrop {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
            // A plain cell is still this thread's (not yet freed).
            SEEN_AT_DROP.store(PLAIN.with(Cell::get), Ordering::SeqCst);
        }
    }

    static WITH_DROP: StateKey<CountsDrop> = StateKey::new(|| CountsDrop(Cell::new(0)));
    static PLAIN: StateKey<Cell<usize>> = StateKey::new(|| Cell::new(0));

    thread_local! {
        static STD_LOCAL: Later = const { Later };
    }

    /// A std thread-local whose destructor uses the state: it runs first.
    struct Later;

    impl Drop for Later {
        fn drop(&mut self) {
            assert_eq!(PLAIN.with(Cell::get), 7, "std's destructor ran after ours");
            PLAIN.with(|c| c.set(8));
        }
    }

    #[test]
    fn values_outlive_std_destructors_and_are_freed_at_thread_exit() {
        let before = DROPPED.load(Ordering::SeqCst);
        std::thread::spawn(|| {
            WITH_DROP.with(|v| v.0.set(1));
            PLAIN.with(|c| c.set(7));
            STD_LOCAL.with(|_| ());
        })
        .join()
        .expect("the thread exits cleanly");
        assert_eq!(DROPPED.load(Ordering::SeqCst), before + 1, "freed once");
        assert_eq!(SEEN_AT_DROP.load(Ordering::SeqCst), 8);
        // This thread's values are its own.
        assert_eq!(PLAIN.with(Cell::get), 0);
    }
}

//! Per-thread state of the greenlet layer: the current and main greenlets,
//! the flag word for the rare paths, and the counts deferred until the
//! running greenlet has switched away.
//!
//! Every cell here is `const`-initialised and has no destructor, so an
//! access is one thread-local load or store, and it stays usable while other
//! thread-locals are destroyed (a greenlet handle dropped then still kills
//! its greenlet).

use super::inner::{Inner, RUNNING};
use std::cell::{Cell, RefCell};
use std::ptr::{self, NonNull};

/// [`flags`] bit: a trace callback is installed (or running).
pub(crate) const TRACING: u8 = 1;
/// [`flags`] bit: [`DEFERRED`] holds counts to drop.
pub(crate) const DEFERRED_DROPS: u8 = 2;

thread_local! {
    /// The running greenlet. Not counted (see [`super::inner`]). Null until
    /// the thread first uses the API.
    static CURRENT: Cell<*const Inner> = const { Cell::new(ptr::null()) };
    /// This thread's main greenlet; owns one count for the life of the
    /// thread.
    static MAIN: Cell<*const Inner> = const { Cell::new(ptr::null()) };
    /// The rare paths a switch must take, tested once per switch by the
    /// receiver: [`TRACING`], [`DEFERRED_DROPS`].
    static FLAGS: Cell<u8> = const { Cell::new(0) };
    /// Counts whose drop waits until their greenlet no longer runs.
    static DEFERRED: RefCell<Vec<NonNull<Inner>>> = const { RefCell::new(Vec::new()) };
}

/// The running greenlet, creating this thread's main greenlet on first use.
#[inline]
pub(crate) fn current() -> *const Inner {
    let p = CURRENT.with(Cell::get);
    if p.is_null() { init_main() } else { p }
}

/// The running greenlet, when the caller knows the thread has used the API
/// already (it holds a handle of this thread, which only exists once main
/// does).
#[inline(always)]
pub(crate) fn current_known() -> *const Inner {
    let p = CURRENT.with(Cell::get);
    debug_assert!(!p.is_null());
    p
}

#[inline(always)]
pub(crate) fn set_current(p: *const Inner) {
    CURRENT.with(|c| c.set(p));
}

/// This thread's main greenlet (created on first use).
pub(crate) fn main() -> *const Inner {
    current();
    MAIN.with(Cell::get)
}

#[cold]
fn init_main() -> *const Inner {
    let main = super::inner::allocate(RUNNING, true, ptr::null_mut(), ptr::null(), None, None);
    // The count of `Inner::new` is the thread's, never given back: main
    // lives as long as the thread.
    let p = main.as_ptr().cast_const();
    MAIN.with(|m| m.set(p));
    CURRENT.with(|c| c.set(p));
    p
}

#[inline(always)]
pub(crate) fn flags() -> u8 {
    FLAGS.with(Cell::get)
}

pub(crate) fn set_flag(bit: u8, on: bool) {
    FLAGS.with(|f| f.set(if on { f.get() | bit } else { f.get() & !bit }));
}

/// Keep the count of the running greenlet `p`, whose last handle was just
/// dropped, until it has switched away or died.
pub(crate) fn defer_drop(p: NonNull<Inner>) {
    let queued = DEFERRED.try_with(|d| d.borrow_mut().push(p)).is_ok();
    if queued {
        set_flag(DEFERRED_DROPS, true);
    }
    // Otherwise the thread is exiting and the count is leaked with the
    // greenlet, which is still running: freeing it under its feet is the
    // one thing that must not happen.
}

/// Drop the deferred counts of greenlets that no longer run. Called by the
/// receiver of a switch, when [`DEFERRED_DROPS`] is set.
pub(crate) fn drop_deferred() {
    loop {
        let next = DEFERRED.try_with(|d| {
            let mut d = d.borrow_mut();
            // SAFETY: each entry holds a count, so it is live.
            let i = d
                .iter()
                .position(|p| unsafe { p.as_ref() }.state.get() != RUNNING)?;
            let p = d.swap_remove(i);
            if d.is_empty() {
                set_flag(DEFERRED_DROPS, false);
            }
            Some(p)
        });
        let Ok(Some(p)) = next else { return };
        // SAFETY: the entry owned this count; dropping the handle gives it
        // back (and kills or frees the greenlet if it was the last).
        drop(unsafe { super::Greenlet::from_counted(p) });
    }
}

/// For the stack-overflow handler ([`crate::overflow`], which is handed
/// this function): if `addr` lies in the guard page of the running
/// greenlet's stack, call `report` with its name and usable stack size and
/// return true.
///
/// Async-signal-safe: it reads `CURRENT` (a plain thread-local word) and the
/// greenlet's fields through raw pointers, without allocating or locking. A
/// fault in a guard page happens in user code running on that stack, never
/// inside the switch's own updates of these fields.
pub(crate) fn overflowed_greenlet(
    addr: usize,
    report: &mut dyn FnMut(Option<&str>, usize),
) -> bool {
    let p = CURRENT.with(Cell::get);
    if p.is_null() {
        return false;
    }
    // SAFETY: the running greenlet is live (see `super::inner`); its stack
    // slot is only read, in place.
    let inner = unsafe { &*p };
    let Some(stack) = (unsafe { &*inner.stack.as_ptr() }) else {
        return false; // main: the thread's own stack
    };
    if !stack.guard().contains(&addr) {
        return false;
    }
    report(inner.name.as_deref(), stack.size());
    true
}

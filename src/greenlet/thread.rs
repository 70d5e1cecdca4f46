//! Per-thread state of the greenlet layer: the current and main greenlets,
//! the flag word for the rare paths, and the counts deferred until the
//! running greenlet has switched away.
//!
//! Every cell here is `const`-initialised and has no destructor, so an
//! access is one thread-local load or store, and it stays usable while other
//! thread-locals are destroyed (a greenlet handle dropped then still kills
//! its greenlet). They are declared with [`state_local!`](crate::os::state_local),
//! which is `thread_local!` except on windows-gnu, where std frees every
//! thread-local at thread exit and the cells live in slots of their own
//! instead, freed after std's destructors (`src/os/windows/tls.rs`).

use super::inner::{Inner, RUNNING};
use super::public_types::Event;
use std::cell::{Cell, RefCell};
use std::ptr::{self, NonNull};

/// [`flags`] bit: a trace callback is installed (or running).
pub(crate) const TRACING: u8 = 1;
/// [`flags`] bit: [`DEFERRED`] holds counts to drop.
pub(crate) const DEFERRED_DROPS: u8 = 2;

/// Which greenlets' stacks this thread is running on.
struct Running {
    /// The running greenlet. Not counted (see [`super::inner`]). Null until
    /// the thread first uses the API.
    current: Cell<*const Inner>,
    /// The sender of the latest switch: the greenlet whose stack the raw
    /// switch may still be pushing on while `current` already names the
    /// target (for the overflow report, [`stacks_in_use`]). Not counted:
    /// null, or a greenlet whose stack is still its own, because
    /// [`forget_dead_sender`] clears it before a dead sender's stack goes back.
    sender: Cell<*const Inner>,
}

crate::os::state_local! {
    /// The running greenlet and the sender of the latest switch (see
    /// [`Running`]). One thread-local, so that a switch's two stores share
    /// one address computation.
    static RUN: Running = const {
        Running { current: Cell::new(ptr::null()), sender: Cell::new(ptr::null()) }
    };
    /// This thread's main greenlet; owns one count for the life of the
    /// thread.
    static MAIN: Cell<*const Inner> = const { Cell::new(ptr::null()) };
    /// The rare paths a switch must take, tested once per switch by the
    /// receiver: [`TRACING`], [`DEFERRED_DROPS`].
    static FLAGS: Cell<u8> = const { Cell::new(0) };
    /// See [`parent_epoch`].
    static PARENT_EPOCH: Cell<u32> = const { Cell::new(1) };
    /// Counts whose drop waits until their greenlet no longer runs.
    static DEFERRED: RefCell<Vec<NonNull<Inner>>> = const { RefCell::new(Vec::new()) };
    /// Gives one of them back (see [`defer_drop`]).
    static DEFERRED_HANDLER: Cell<Option<DropCount>> = const { Cell::new(None) };
    /// See [`set_trace_hook`].
    static TRACE_HOOK: Cell<Option<TraceHook>> = const { Cell::new(None) };
}

/// The running greenlet, creating this thread's main greenlet on first use.
#[inline]
pub(crate) fn current() -> *const Inner {
    let p = RUN.with(|r| r.current.get());
    if p.is_null() { init_main() } else { p }
}

/// The running greenlet, when the caller knows the thread has used the API
/// already (it holds a handle of this thread, which only exists once main
/// does).
#[inline(always)]
pub(crate) fn current_known() -> *const Inner {
    let p = RUN.with(|r| r.current.get());
    debug_assert!(!p.is_null());
    p
}

/// The switch from `sender` to `target` begins: `target` is the running
/// greenlet from now on, and `sender`'s stack stays in use until the raw
/// switch has left it.
#[inline(always)]
pub(crate) fn begin_switch(sender: *const Inner, target: *const Inner) {
    RUN.with(|r| {
        r.sender.set(sender);
        r.current.set(target);
    });
}

/// The sender of the latest switch died, and its receiver is about to give
/// its stack back: the overflow report must not look at it any more. (Only
/// a dead sender's stack goes back while it is the sender: an unstarted
/// greenlet has never switched, and a dead one's stack is given back by the
/// receiver of its last switch, here.)
#[inline(always)]
pub(crate) fn forget_dead_sender() {
    RUN.with(|r| r.sender.set(ptr::null()));
}

/// The greenlet the running code belongs to: the current greenlet, or, for
/// a generator's body, the greenlet waiting in its resume (up the chain).
/// Its `Local` values are the ones the code sees, and the hub's waits are
/// its waits (API.md §1b, §3).
pub(crate) fn context() -> *const Inner {
    let mut p = current();
    // SAFETY: `p` is live; a non-null `resumer` of a greenlet that runs (or
    // waits in a resume up the chain) is the greenlet waiting in its resume,
    // which is live (see `Inner::resumer`).
    unsafe {
        loop {
            let r = (*p).resumer.get();
            if r.is_null() {
                return p;
            }
            p = r;
        }
    }
}

/// The thread's parent epoch: the skip pointers of dead greenlets
/// (`Inner::skip`) recorded in an older epoch are ignored.
#[inline]
pub(crate) fn parent_epoch() -> u32 {
    PARENT_EPOCH.with(Cell::get)
}

/// The parent of a dead greenlet changed: every skip pointer recorded so
/// far may jump past a greenlet that is no longer an ancestor.
pub(crate) fn new_parent_epoch() {
    PARENT_EPOCH.with(|e| e.set(e.get().wrapping_add(1).max(1)));
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
    RUN.with(|r| r.current.set(p));
    p
}

#[inline(always)]
pub(crate) fn flags() -> u8 {
    FLAGS.with(Cell::get)
}

pub(crate) fn set_flag(bit: u8, on: bool) {
    FLAGS.with(|f| f.set(if on { f.get() | bit } else { f.get() & !bit }));
}

/// Gives back one count of a greenlet (see [`defer_drop`]).
pub(crate) type DropCount = unsafe fn(NonNull<Inner>);

/// Keep the count of the running greenlet `p`, whose last handle was just
/// dropped, until it has switched away or died; then `drop_count` (handed
/// in by the layer that owns counts, [`super::lifetime`]) gives it back.
/// Returns false if the thread is exiting: the count is then leaked with
/// the greenlet, which is still running (freeing it under its feet is the
/// one thing that must not happen).
pub(crate) fn defer_drop(p: NonNull<Inner>, drop_count: DropCount) -> bool {
    let queued = DEFERRED.try_with(|d| d.borrow_mut().push(p)).is_ok();
    if queued {
        DEFERRED_HANDLER.with(|h| h.set(Some(drop_count)));
        set_flag(DEFERRED_DROPS, true);
    }
    queued
}

/// Give back the deferred counts of greenlets that no longer run. Called by
/// the receiver of a switch when [`DEFERRED_DROPS`] is set.
pub(crate) fn drop_deferred() {
    let Some(drop_count) = DEFERRED_HANDLER.with(Cell::get) else {
        return;
    };
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
        // SAFETY: the entry owned this count; the handler gives it back
        // (and kills or frees the greenlet if it was the last).
        unsafe { drop_count(p) };
    }
}

/// The trace callback's caller, set by [`super::trace`] when it turns
/// [`TRACING`] on: `(event, origin)` in the target, `origin` carrying a
/// count for the call.
pub(crate) type TraceHook = unsafe fn(Event, NonNull<Inner>);

pub(crate) fn set_trace_hook(hook: TraceHook) {
    TRACE_HOOK.with(|h| h.set(Some(hook)));
}

/// Call the trace hook for a switch from `origin` to the current greenlet.
///
/// # Safety
/// `origin` is live and the caller hands over one of its counts, which the
/// hook consumes. [`TRACING`] is set (so the hook is).
pub(crate) unsafe fn call_trace(event: Event, origin: NonNull<Inner>) {
    let hook = TRACE_HOOK
        .with(Cell::get)
        .expect("TRACING is set only with a hook");
    // SAFETY: forwarded.
    unsafe { hook(event, origin) };
}

/// For the stack-overflow handler ([`crate::overflow`], which is handed
/// this function): visit the stacks this thread may be running on, each as
/// `(name, guard range, usable size)`: the running greenlet's and, because
/// a guard fault may come from the raw switch's pushes after `current`
/// already names the target, the latest sender's (issue 16). Main, on the
/// thread's own stack, is not visited. A sender that has finished its
/// switch is visited too: it is suspended, so no fault of its stack can
/// come from it, and visiting it costs a comparison in a fault handler
/// instead of a store on every switch.
///
/// Async-signal-safe: it reads `current` and `sender` (plain thread-local
/// words) and the greenlets' fields through raw pointers, without
/// allocating or locking. Both are live with their stacks (see
/// [`Running`]); the fault interrupted code that does not change these
/// fields (a guard fault comes from a push or a frame's store, never from
/// the switch's own updates of them).
pub(crate) fn stacks_in_use(visit: &mut crate::overflow::Visit<'_>) {
    for p in [RUN.with(|r| r.current.get()), RUN.with(|r| r.sender.get())] {
        if p.is_null() {
            continue;
        }
        // SAFETY: live, its stack slot read in place (see above).
        let inner = unsafe { &*p };
        // SAFETY: as above: the slot is read in place, and nothing writes
        // it while the code the fault interrupted runs (see above).
        if let Some(stack) = unsafe { &*inner.stack.as_ptr() } {
            visit(inner.name.as_deref(), stack.guard(), stack.size());
        }
    }
}

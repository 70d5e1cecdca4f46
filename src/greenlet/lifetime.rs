//! What happens when a greenlet's last count goes away, and how a count is
//! given back.
//!
//! The running greenlet is not counted (`CURRENT` is a plain pointer), so a
//! switch moves no count. That is sound because of [`last_handle_dropped`]:
//!
//! * unstarted or dead: the greenlet is freed (iteratively along a chain of
//!   parents that die with it, so that dropping a long chain never
//!   recurses);
//! * suspended: it is killed first (its destructors run, before `drop`
//!   returns), then freed; if it refuses to die, one line goes to stderr and
//!   it is leaked (a stack in use is never freed);
//! * running (it dropped its own last handle): the count is kept and parked
//!   in the thread's deferred list; the receiver of its next switch gives it
//!   back, which kills it if it is suspended then, or frees it if it died.

use super::inner::{self, DEAD, Inner, RUNNING, is_suspended};
use super::public_types::payload_text;
use super::switch;
use super::thread;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

/// Give back one count of `p`.
///
/// # Safety
/// `p` is live and the caller owns one of its counts.
#[inline]
pub(crate) unsafe fn release_count(p: NonNull<Inner>) {
    // SAFETY: live, by the caller's promise.
    let inner = unsafe { p.as_ref() };
    let n = inner.refs.get() - 1;
    inner.refs.set(n);
    if n == 0 {
        // SAFETY: its count just dropped to 0.
        unsafe { last_handle_dropped(p) };
    }
}

/// The last count of `p` is gone (its `refs` is 0). See the module docs.
///
/// # Safety
/// `p` is a live `Inner` of this thread whose count just dropped to 0.
#[cold]
#[inline(never)]
pub(crate) unsafe fn last_handle_dropped(p: NonNull<Inner>) {
    // SAFETY: live, by the caller's promise.
    let inner = unsafe { p.as_ref() };
    let state = inner.state.get();
    if state == RUNNING {
        inner.refs.set(1);
        // Given back by the receiver of its next switch. If the thread is
        // exiting, the count stays: the greenlet is leaked, not freed under
        // its feet.
        thread::defer_drop(p, release_count);
    } else if is_suspended(state) {
        inner.refs.set(1);
        // SAFETY: the count just set is ours.
        unsafe { kill_dropped(p) };
    } else {
        // SAFETY: unstarted or dead with no count left.
        unsafe { free_chain(p) };
    }
}

/// The last handle of a suspended greenlet went away: kill it from the
/// current greenlet, then give back the count; if it caught `GreenletExit`
/// and switched away instead of dying, say so and leak it.
///
/// # Safety
/// `p` is suspended, not main, and the caller owns its only count.
unsafe fn kill_dropped(p: NonNull<Inner>) {
    // The drop may come from a thread-local destructor at thread exit, when
    // Rust has taken the thread's alternate signal stack away and before the
    // overflow module arms its own again (if this thread-local was first
    // used after the thread's first greenlet, its destructor runs first):
    // without one, an overflow in the killed greenlet's unwinding would die
    // by a bare SIGSEGV. One `sigaltstack` call, next to the switch and the
    // unwinding of the kill.
    super::arm_fault_reports();
    // SAFETY: suspended (so not current) and live: we hold a count.
    let killed = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        switch::kill_suspended(p.as_ptr(), release_count)
    }));
    if let Err(e) | Ok(Err(e)) = killed {
        eprintln!(
            "greenlet: a panic escaped a dropped greenlet while it was killed: {}",
            payload_text(&*e)
        );
    }
    // SAFETY: we still hold the count.
    let inner = unsafe { p.as_ref() };
    if inner.state.get() == DEAD {
        // SAFETY: our count.
        unsafe { release_count(p) };
    } else {
        eprintln!(
            "greenlet: dropped greenlet {:?} caught GreenletExit and did not die; \
             its stack is leaked",
            inner.name.as_deref().unwrap_or("unnamed")
        );
        // The count is never given back: the greenlet is leaked.
    }
}

/// Free an unstarted or dead greenlet with no count left, and then each
/// parent up the chain whose last count was the freed child's, as long as
/// it is unstarted or dead too: a loop, not a recursion.
///
/// # Safety
/// As [`last_handle_dropped`], and `p` is unstarted or dead.
unsafe fn free_chain(mut p: NonNull<Inner>) {
    loop {
        // SAFETY: live, unstarted or dead, with no count left.
        let inner = unsafe { p.as_ref() };
        inner.release();
        let parent = inner.parent.replace(ptr::null());
        // SAFETY: nothing refers to it any more.
        unsafe { inner::deallocate(p) };
        let Some(parent) = NonNull::new(parent.cast_mut()) else {
            return;
        };
        // SAFETY: the freed child held a count of its parent.
        let pi = unsafe { parent.as_ref() };
        let n = pi.refs.get() - 1;
        pi.refs.set(n);
        if n != 0 {
            return;
        }
        if pi.state.get() == RUNNING || is_suspended(pi.state.get()) {
            // SAFETY: its count just dropped to 0.
            unsafe { last_handle_dropped(parent) };
            return;
        }
        p = parent;
    }
}

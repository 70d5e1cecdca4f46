//! Where a new greenlet's body (its closure) lives until it runs: at the top
//! of its own stack, above the initial frame. Creating a greenlet therefore
//! allocates nothing for the body; the greenlet's entry moves it out onto
//! its first frame.

use crate::raw::STACK_ALIGN;
use crate::stack::Stack;
use std::mem::{align_of, size_of};

/// The largest body kept on the stack, as a fraction of the stack: a bigger
/// one would eat the room its own code needs, so it is boxed instead.
const MAX_BODY_FRACTION: usize = 8;

/// Whether an `F` is small enough to live at the top of `stack`.
#[inline(always)]
pub(crate) fn fits<F>(stack: &Stack) -> bool {
    size_of::<F>() <= stack.size() / MAX_BODY_FRACTION && align_of::<F>() <= 4096
}

/// Write `f` at the top of `stack` and return its address and the top to
/// give `stack_init` (below the body, aligned).
///
/// # Safety
/// The stack is unused (fresh or from the pool), and `fits::<F>(stack)`.
#[inline(always)]
pub(crate) unsafe fn place<F>(stack: &Stack, f: F) -> (*mut u8, *mut u8) {
    let at = stack
        .top()
        .wrapping_sub(size_of::<F>())
        .map_addr(|a| a & !(align_of::<F>() - 1));
    let below = at.map_addr(|a| a & !(STACK_ALIGN - 1));
    // SAFETY: `[at, at + size_of F)` lies within the usable stack (it fits,
    // by the caller's promise) and nothing else uses it; it is aligned for F.
    unsafe { at.cast::<F>().write(f) };
    (at, below)
}

/// Drops an unstarted body in place.
///
/// # Safety
/// `at` holds an `F` written by [`place`], not moved out since.
pub(crate) unsafe fn drop_body<F>(at: *mut u8) {
    // SAFETY: by the caller's promise.
    unsafe { at.cast::<F>().drop_in_place() }
}

//! The per-thread pool of default-size stacks (see the [module
//! documentation](super), "The per-thread pool").
//!
//! A fixed array of [`POOL_CAPACITY`] stacks, allocated on the first
//! release, most recently released last, reached through plain
//! `const`-initialised thread-locals (no `RefCell`, no lazy initialisation
//! check): taking or giving back a stack is a few loads and stores, which
//! matters because every pooled greenlet creation does both. A guard
//! registered with the array gives every pooled stack back when the thread
//! exits, and closes the pool: from then on stacks are simply dropped.

use super::{POOL_CAPACITY, Stack, WARM_STACKS};
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr;

type Slots = [MaybeUninit<Stack>; POOL_CAPACITY];

/// [`LEN`] of a pool whose thread is exiting.
const CLOSED: usize = usize::MAX;

thread_local! {
    /// The array; null until the first release.
    static SLOTS: Cell<*mut Slots> = const { Cell::new(ptr::null_mut()) };
    /// `SLOTS[..LEN]` hold stacks; [`CLOSED`] once the thread is exiting.
    static LEN: Cell<usize> = const { Cell::new(0) };
    /// `SLOTS[..COLD]` have had their pages returned (`MADV_DONTNEED`)
    /// since they were pooled; the rest may hold memory. Kept so that
    /// `LEN - COLD <= WARM_STACKS`.
    static COLD: Cell<usize> = const { Cell::new(0) };
    /// Gives the pooled stacks back when the thread exits. Registered when
    /// the array is allocated.
    static GUARD: Guard = const { Guard };
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        let len = LEN.with(|l| l.replace(CLOSED));
        let slots = SLOTS.with(|s| s.replace(ptr::null_mut()));
        if slots.is_null() || len == CLOSED {
            return;
        }
        // SAFETY: the array came from `Box::into_raw` in `make_room`, and its
        // first `len` slots hold stacks that nothing else owns; the pool is
        // closed, so nothing touches the array any more.
        unsafe {
            let mut slots = Box::from_raw(slots);
            for slot in &mut slots[..len] {
                slot.assume_init_drop();
            }
        }
    }
}

/// Put a default-size stack into this thread's pool if there is room; drop
/// it (unmap it, or give it back to its arena) if not, or if the pool is
/// closed (thread exit).
#[inline]
pub(super) fn pool_push(stack: Stack) {
    let len = LEN.with(Cell::get);
    if len >= POOL_CAPACITY {
        return; // full or closed: dropping `stack` gives it back
    }
    let slots = SLOTS.with(Cell::get);
    if slots.is_null() || len - COLD.with(Cell::get) >= WARM_STACKS {
        make_room(stack, len);
        return;
    }
    // SAFETY: `slots` is the live array and `len < POOL_CAPACITY`; slot `len`
    // is free.
    unsafe { (*slots)[len].write(stack) };
    LEN.with(|l| l.set(len + 1));
}

/// [`pool_push`] when the array does not exist yet, or when the warm
/// window is full: make the array (and register the guard), or return the
/// oldest warm stack's pages, then push.
#[cold]
#[inline(never)]
fn make_room(stack: Stack, len: usize) {
    let mut slots = SLOTS.with(Cell::get);
    if slots.is_null() {
        // Registers the guard; fails only while the thread exits, when the
        // stack is simply dropped.
        if GUARD.try_with(|_| ()).is_err() {
            return;
        }
        let array: Box<Slots> = Box::new([const { MaybeUninit::uninit() }; POOL_CAPACITY]);
        slots = Box::into_raw(array);
        SLOTS.with(|s| s.set(slots));
    }
    let cold = COLD.with(Cell::get);
    if len - cold >= WARM_STACKS {
        // The oldest warm stack leaves the warm window.
        // SAFETY: `cold < len`: slot `cold` holds a stack.
        unsafe { (*slots)[cold].assume_init_ref() }.forget_pages();
        COLD.with(|c| c.set(cold + 1));
    }
    // SAFETY: as in `pool_push`.
    unsafe { (*slots)[len].write(stack) };
    LEN.with(|l| l.set(len + 1));
}

/// The most recently pooled stack of this thread, if any (never during
/// thread exit).
#[inline(always)]
pub(super) fn pool_pop() -> Option<Stack> {
    let len = LEN.with(Cell::get).wrapping_sub(1);
    if len >= POOL_CAPACITY {
        return None; // empty (0 - 1 wraps) or closed
    }
    let slots = SLOTS.with(Cell::get);
    // SAFETY: LEN > 0 means the array exists and slot `len` holds a stack,
    // which we take out.
    let stack = unsafe { (*slots)[len].assume_init_read() };
    LEN.with(|l| l.set(len));
    COLD.with(|c| {
        if c.get() > len {
            c.set(len);
        }
    });
    Some(stack)
}

/// The number of stacks in the current thread's pool, for tests and
/// diagnostics. Returns 0 once the thread is exiting and the pool is gone.
#[must_use]
pub fn pooled() -> usize {
    let len = LEN.with(Cell::get);
    if len == CLOSED { 0 } else { len }
}

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
//!
//! The thread-locals are [`state_local!`](crate::os::state_local), as the
//! greenlet layer's state is: `thread_local!` itself on every target but
//! windows-gnu, where std frees its key-based thread-locals at thread exit
//! and the greenlet layer's state outlives them. There a greenlet killed
//! when that state goes (one held by the trace callback) gave its stack back
//! to a pool whose thread-locals std had already freed: they read as fresh,
//! the pool was made again, and its guard's destructor was registered with
//! std too late to run, so the stack (a 1 MiB commit) and the array leaked,
//! one per such thread (`threads_give_their_stacks_back_at_exit` in
//! `tests/stack.rs`, under Wine). As `state_local!`s they live, and the
//! guard runs, until the crate's own callback frees the state.
//!
//! Arena stacks released while the pool is full wait in a small per-thread
//! batch and are given back [`RELEASE_BATCH`] at a time
//! (`Stack::drop_all`), with one system call for their pages where the
//! kernel allows it.

use super::Stack;
use std::cell::{Cell, RefCell};
use std::mem::MaybeUninit;
use std::ptr;

/// How many default-size stacks each thread keeps in its pool at most.
///
/// Releasing a default-size stack while the pool is full gives it back:
/// unmaps it ([`GuardMode::Mprotect`](super::GuardMode::Mprotect)) or returns it to its arena
/// ([`GuardMode::KernelGuard`](super::GuardMode::KernelGuard); arena stacks are given back
/// [`RELEASE_BATCH`] at a time).
///
/// # Examples
///
/// ```
/// use greenlet::stack::{DEFAULT_STACK_SIZE, POOL_CAPACITY, Stack, pooled};
///
/// let stacks: Vec<_> = (0..POOL_CAPACITY + 8)
///     .map(|_| Stack::new(DEFAULT_STACK_SIZE).unwrap())
///     .collect();
/// for s in stacks {
///     s.release();
/// }
/// assert_eq!(pooled(), POOL_CAPACITY); // the rest were given back
/// ```
pub const POOL_CAPACITY: usize = 512;

/// How many of the most recently released stacks in a thread's pool keep
/// their memory. Older pooled stacks have had their pages returned to the
/// kernel with `madvise(MADV_DONTNEED)`. (See the [module
/// documentation](super) for the measurements behind the number.)
///
/// # Examples
///
/// ```
/// use greenlet::stack::{DEFAULT_STACK_SIZE, POOL_CAPACITY, WARM_STACKS};
///
/// assert!(WARM_STACKS <= POOL_CAPACITY);
/// // The most memory a thread's idle pool keeps: every warm stack fully used.
/// let worst = WARM_STACKS * DEFAULT_STACK_SIZE;
/// assert_eq!(worst, 256 << 20);
/// ```
pub const WARM_STACKS: usize = 256;

/// How many arena stacks released while the pool is full are given back
/// together, with one system call where the kernel allows it (see the
/// [module documentation](super), "The per-thread pool").
///
/// # Examples
///
/// ```
/// use greenlet::stack::{POOL_CAPACITY, RELEASE_BATCH};
///
/// // A burst of releases past a full pool is given back in batches.
/// assert!(RELEASE_BATCH > 1 && RELEASE_BATCH <= POOL_CAPACITY);
/// ```
pub const RELEASE_BATCH: usize = 32;

type Slots = [MaybeUninit<Stack>; POOL_CAPACITY];

/// [`LEN`] of a pool whose thread is exiting.
const CLOSED: usize = usize::MAX;

crate::os::state_local! {
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
    /// Arena stacks released while the pool was full, to be given back
    /// together once there are [`RELEASE_BATCH`] of them (or the thread
    /// exits).
    static OVERFLOW: Overflow = const { Overflow(RefCell::new(Vec::new())) };
}

struct Overflow(RefCell<Vec<Stack>>);

impl Drop for Overflow {
    fn drop(&mut self) {
        Stack::drop_all(self.0.get_mut());
    }
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
        if len != CLOSED {
            overflow(stack);
        }
        return; // closed: dropping `stack` gives it back
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
        // Registers the guard; fails only while the thread exits (with
        // std's thread-locals; never on windows-gnu, whose guard is freed
        // after every use), when the stack is simply dropped.
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

/// [`pool_push`] when the pool is full: an arena stack joins the batch
/// waiting to be given back, and the batch goes once it is full. Any other
/// stack is dropped at once (a mapping of its own is unmapped: mappings must
/// not pile up under `vm.max_map_count`).
#[cold]
#[inline(never)]
fn overflow(stack: Stack) {
    if !stack.in_arena() {
        return;
    }
    // During thread exit (OVERFLOW gone) the closure, and with it the
    // stack, is simply dropped.
    let _ = OVERFLOW.try_with(move |o| {
        let Ok(mut batch) = o.0.try_borrow_mut() else {
            return; // re-entered (cannot happen): drop this one alone
        };
        if batch.capacity() == 0 && batch.try_reserve_exact(RELEASE_BATCH).is_err() {
            return; // no memory for the batch: drop this one alone
        }
        batch.push(stack);
        if batch.len() >= RELEASE_BATCH {
            Stack::drop_all(&mut batch);
        }
    });
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
///
/// # Examples
///
/// ```
/// use greenlet::stack::{DEFAULT_STACK_SIZE, Stack, pooled};
///
/// let before = pooled();
/// Stack::new(DEFAULT_STACK_SIZE).unwrap().release();
/// assert_eq!(pooled(), before + 1);
/// let _again = Stack::acquire(DEFAULT_STACK_SIZE).unwrap(); // taken back out
/// assert_eq!(pooled(), before);
/// ```
#[must_use]
pub fn pooled() -> usize {
    let len = LEN.with(Cell::get);
    if len == CLOSED { 0 } else { len }
}

#[cfg(test)]
mod tests {
    use super::super::{DEFAULT_STACK_SIZE, GuardMode, guard_mode};
    use super::*;
    use std::thread;

    /// Whether the top page of the stack whose top is `top` is resident:
    /// false if it was given back, or if its arena chunk was unmapped with
    /// it (mincore fails with ENOMEM on an unmapped page).
    #[cfg(unix)]
    fn top_resident(top: usize) -> bool {
        let page = super::super::page_size();
        let mut vec = [0u8; 1];
        // SAFETY: mincore only inspects the page tables for the range (it
        // fails on an unmapped one) and writes one byte into `vec`.
        let rc = unsafe {
            libc::mincore(
                (top - page) as *mut libc::c_void,
                page,
                vec.as_mut_ptr().cast(),
            )
        };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            assert_eq!(err.raw_os_error(), Some(libc::ENOMEM), "mincore: {err}");
            return false;
        }
        vec[0] & 1 != 0
    }

    /// Windows has no arena (no kernel guards), so the test that asks
    /// returns before it would.
    #[cfg(windows)]
    fn top_resident(_top: usize) -> bool {
        unreachable!("only arena stacks are given back in batches")
    }

    fn touched_stacks(n: usize) -> Vec<Stack> {
        (0..n)
            .map(|_| {
                let s = Stack::acquire(DEFAULT_STACK_SIZE).expect("stack");
                // SAFETY: top() - 1 is the highest usable byte of a live
                // stack that nothing runs on.
                unsafe { s.top().sub(1).write_volatile(0x5A) };
                s
            })
            .collect()
    }

    #[test]
    fn stacks_released_into_a_full_pool_are_given_back_in_batches() {
        if guard_mode() != GuardMode::KernelGuard || !crate::os::dontneed_frees_pages() {
            return; // only arena stacks are batched; qemu-user ignores MADV_DONTNEED
        }
        let tops = thread::spawn(|| {
            let extra = RELEASE_BATCH + 3;
            let stacks = touched_stacks(POOL_CAPACITY + extra);
            let tops: Vec<usize> = stacks.iter().map(|s| s.top() as usize).collect();
            stacks.into_iter().for_each(Stack::release);
            assert_eq!(pooled(), POOL_CAPACITY);
            let overflowed = &tops[POOL_CAPACITY..];
            // One whole batch went back together; the last 3 still wait.
            for (i, &top) in overflowed.iter().enumerate() {
                let waiting = i >= RELEASE_BATCH;
                assert_eq!(top_resident(top), waiting, "overflowed stack {i}");
            }
            OVERFLOW.with(|o| assert_eq!(o.0.borrow().len(), 3));
            overflowed[RELEASE_BATCH..].to_vec()
        })
        .join()
        .expect("thread");
        // The thread's exit gave back the ones that were waiting.
        for top in tops {
            assert!(
                !top_resident(top),
                "{top:#x} still resident after thread exit"
            );
        }
    }
}

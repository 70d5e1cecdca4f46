//! What one greenlet is, behind all its handles: [`Inner`], its states, and
//! how it is allocated and freed.
//!
//! # Ownership
//!
//! `Inner` is reference counted by hand (a plain `Cell<usize>`, no weak
//! count): each [`Greenlet`](super::Greenlet) handle owns one count, a
//! greenlet owns one count of its parent, and the thread owns one of its
//! main greenlet for as long as it runs. The running greenlet is *not*
//! counted: `CURRENT` is a plain pointer, so a switch moves no count at all.
//! That is sound because of what happens when a last count goes away, which
//! is [`super::lifetime`]'s concern.
//!
//! # Allocation
//!
//! An `Inner` comes from a per-thread free list of at most
//! [`FREE_LIST_CAPACITY`] blocks and goes back to it, so creating and
//! dropping greenlets in a loop costs no `malloc`/`free`. The body (the
//! closure) is not allocated at all: it is written at the top of the
//! greenlet's own stack (see [`super::body`]).

use super::payload::{Tag, tag_of};
use crate::raw::StackPointer;
use crate::stack::Stack;
use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Created, never switched to. Its body sits at the top of its stack.
pub(crate) const UNSTARTED: u8 = 0;
/// Switched away from; resumed by the next switch to it.
pub(crate) const SUSPENDED: u8 = 1;
/// The current greenlet of its thread (exactly one is).
pub(crate) const RUNNING: u8 = 2;
/// Its body has ended (returned or panicked), or it was killed or thrown
/// into before it started. Its stack has been given back.
pub(crate) const DEAD: u8 = 3;
/// Suspended in a generator's `suspend`, by a *typed* switch
/// ([`super::switch::switch_typed`]): it waits for an `I` from a `resume`,
/// and its `Y` carries no tag, because its one possible receiver (the
/// resume waiting for it) knows the type. Above [`RUNNING`], so that the
/// generic switch takes its slow path into it.
pub(crate) const IN_SUSPEND: u8 = 4;
/// Suspended in a generator's `resume` by a typed switch: it waits for a `Y`
/// from that generator's `suspend`, and its `I` carries no tag.
pub(crate) const IN_RESUME: u8 = 5;
/// Suspended in a generator's `resume` by a *generic* (tagged) switch, made
/// when the body was not waiting in a typed `suspend` (the first resume, or
/// a body suspended by a generic switch: a direct `Greenlet::switch`, or a
/// `suspend` that had no resumer and went to its parent). Its `I` carries a
/// tag, since the receiver may be any generic switch; the state tells a
/// `suspend` that receives it that a `resume` is waiting for its next value.
/// (As [`SUSPENDED`], such a sender could not be told from a direct switch,
/// and `suspend` would forget its resumer: its next yield would go to the
/// parent instead of the greenlet that resumed it.)
pub(crate) const IN_RESUME_TAGGED: u8 = 6;

/// Whether a greenlet in `state` is suspended (resumable by a switch).
#[inline(always)]
pub(crate) fn is_suspended(state: u8) -> bool {
    matches!(state, SUSPENDED | IN_SUSPEND | IN_RESUME | IN_RESUME_TAGGED)
}

/// The shared state behind every handle of one greenlet.
pub(crate) struct Inner {
    /// Handles, plus children (through `parent`), plus the thread's count
    /// of main, plus a deferred count (see the module docs).
    pub(crate) refs: Cell<usize>,
    /// One of [`UNSTARTED`], [`SUSPENDED`], [`RUNNING`], [`DEAD`],
    /// [`IN_SUSPEND`], [`IN_RESUME`], [`IN_RESUME_TAGGED`]; the generic switch tests
    /// `state < RUNNING` to know the target can be resumed on its fast path.
    pub(crate) state: Cell<u8>,
    pub(crate) is_main: bool,
    /// The saved stack pointer while suspended (or the initial frame while
    /// unstarted); stale otherwise.
    pub(crate) sp: Cell<StackPointer>,
    /// Counted; null only for main.
    pub(crate) parent: Cell<*const Inner>,
    /// Only of a dead greenlet, and not counted: an ancestor to jump to
    /// when looking for the nearest live one (every greenlet between is
    /// dead), recorded by [`super::switch::live_ancestor`] (path
    /// compression). Valid while the thread's parent epoch is still
    /// `skip_epoch`: changing the parent of a dead greenlet starts a new
    /// epoch. Then the chain of counted parents from here to `skip` is
    /// unchanged, so `skip` is alive as long as this greenlet is.
    pub(crate) skip: Cell<*const Inner>,
    pub(crate) skip_epoch: Cell<u32>,
    /// Opaque to the greenlet core: a word the layer above keeps per
    /// greenlet (the hub: the key of the wait this greenlet makes now, so
    /// that a kill or a timeout finds it). 0 until set.
    pub(crate) wait_word: Cell<u64>,
    /// Not counted: for a generator's greenlet, the greenlet waiting in a
    /// [`crate::Generator::resume`] of it, which gets its next value (and
    /// its death before the parent does). Set when a resume reaches the body
    /// (by the body's `suspend`, or the first resume), cleared by a `kill`,
    /// by a `suspend` resumed by anything but a resume, by a death, and by
    /// the resume itself when anything else resumes the waiting greenlet.
    /// After a typed yield it still names the resumer, which runs again: it
    /// is stale then, but it is read only while the generator runs (or waits
    /// in a resume up a chain of generators), and every way back into the
    /// body refreshes or clears it first. So every read finds a live
    /// greenlet that waits in a resume (a suspended greenlet is never freed
    /// without being resumed first: it is killed).
    pub(crate) resumer: Cell<*const Inner>,
    /// `None` for main, and once the greenlet is dead.
    pub(crate) stack: Cell<Option<Stack>>,
    /// While unstarted: where its body lives (on its own stack), and how to
    /// drop the body if it never runs.
    pub(crate) body: Cell<*mut u8>,
    pub(crate) drop_body: Cell<Option<unsafe fn(*mut u8)>>,
    pub(crate) name: Option<String>,
    /// Greenlet-local values ([`crate::Local`]): owned by the `local`
    /// module, opaque here; null until the first one.
    pub(crate) locals: Cell<*mut ()>,
    /// The value this greenlet handed over with its last switch (in its own
    /// frame), for the receiver, which gets this `Inner` as the switch's
    /// data word; and its type, unless the switch was typed. A dead
    /// greenlet's `out_tag` is [`super::payload::DEATH`], which no receiver
    /// expects, so that the receiver's one type test also catches a death;
    /// the real type of its last value is then in `death_tag`.
    pub(crate) out_slot: Cell<*mut u8>,
    pub(crate) out_tag: Cell<&'static Tag>,
    pub(crate) death_tag: Cell<&'static Tag>,
}

impl Inner {
    /// Give back what a greenlet that will never run again holds besides
    /// its `Inner`: an unstarted body is dropped, the stack goes back to the
    /// pool. Idempotent.
    pub(crate) fn release(&self) {
        if let Some(drop_body) = self.drop_body.take() {
            // SAFETY: `drop_body` is set only while the body at `body` has
            // not been moved out by the greenlet's entry (it is cleared
            // there and here), and it matches the body's type.
            unsafe { drop_body(self.body.get()) };
        }
        if let Some(stack) = self.stack.take() {
            stack.release();
        }
    }

    /// Add a count.
    #[inline(always)]
    pub(crate) fn retain(&self) {
        let n = self.refs.get().wrapping_add(1);
        if n == 0 {
            std::process::abort(); // as Rc does on overflow
        }
        self.refs.set(n);
    }
}

/// At most this many freed `Inner` blocks are kept per thread for reuse.
const FREE_LIST_CAPACITY: usize = 256;

/// Marks the free list of a thread that is exiting: blocks are freed
/// directly from then on.
const CLOSED: *mut Inner = ptr::dangling_mut::<Inner>();

crate::os::state_local! {
    /// Freed blocks, linked through their first word. Null: empty;
    /// [`CLOSED`]: the thread is exiting. Const-initialised, no destructor,
    /// so that it costs a plain thread-local access.
    static FREE: Cell<*mut Inner> = const { Cell::new(ptr::null_mut()) };
    static FREE_LEN: Cell<usize> = const { Cell::new(0) };
}

thread_local! {
    /// Frees the list when the thread exits. Registered the first time a
    /// block goes into the list.
    static FREE_GUARD: FreeGuard = const { FreeGuard };
}

struct FreeGuard;

impl Drop for FreeGuard {
    fn drop(&mut self) {
        let mut p = FREE.with(|f| f.replace(CLOSED));
        while !p.is_null() && p != CLOSED {
            // SAFETY: every block in the list was allocated with the layout
            // of `Inner`, holds no live `Inner` (it was dropped in place),
            // and its first word links to the next one.
            unsafe {
                let next = p.cast::<*mut Inner>().read();
                alloc::dealloc(p.cast(), Layout::new::<Inner>());
                p = next;
            }
        }
    }
}

/// A new `Inner` with one count (the caller's), in a block from the free
/// list when it has one. Written field by field in place: building it on
/// the stack and moving it costs a `memcpy`.
#[inline(always)]
pub(crate) fn allocate(
    state: u8,
    is_main: bool,
    sp: StackPointer,
    parent: *const Inner,
    stack: Option<Stack>,
    name: Option<String>,
) -> NonNull<Inner> {
    let head = FREE.with(Cell::get);
    let block = if head.is_null() || head == CLOSED {
        allocate_new()
    } else {
        // SAFETY: `head` is a block of the list; its first word is the next.
        FREE.with(|f| f.set(unsafe { head.cast::<*mut Inner>().read() }));
        FREE_LEN.with(|n| n.set(n.get() - 1));
        // SAFETY: from the list: not null.
        unsafe { NonNull::new_unchecked(head) }
    };
    let p = block.as_ptr();
    // SAFETY: the block is allocated with `Inner`'s layout and unused; every
    // field is written once, so the whole value is initialised.
    unsafe {
        (&raw mut (*p).refs).write(Cell::new(1));
        (&raw mut (*p).state).write(Cell::new(state));
        (&raw mut (*p).is_main).write(is_main);
        (&raw mut (*p).sp).write(Cell::new(sp));
        (&raw mut (*p).parent).write(Cell::new(parent));
        (&raw mut (*p).resumer).write(Cell::new(ptr::null()));
        (&raw mut (*p).skip).write(Cell::new(ptr::null()));
        (&raw mut (*p).skip_epoch).write(Cell::new(0));
        (&raw mut (*p).wait_word).write(Cell::new(0));
        (&raw mut (*p).stack).write(Cell::new(stack));
        (&raw mut (*p).body).write(Cell::new(ptr::null_mut()));
        (&raw mut (*p).drop_body).write(Cell::new(None));
        (&raw mut (*p).name).write(name);
        (&raw mut (*p).locals).write(Cell::new(ptr::null_mut()));
        (&raw mut (*p).out_slot).write(Cell::new(ptr::null_mut()));
        (&raw mut (*p).out_tag).write(Cell::new(tag_of::<()>()));
        (&raw mut (*p).death_tag).write(Cell::new(tag_of::<()>()));
    }
    block
}

#[cold]
fn allocate_new() -> NonNull<Inner> {
    let layout = Layout::new::<Inner>();
    // SAFETY: `Inner` is not zero-sized.
    let p = unsafe { alloc::alloc(layout) }.cast::<Inner>();
    NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Drop the `Inner` at `p` in place and give its block back.
///
/// # Safety
/// `p` came from [`allocate`], has no count left, and nothing refers to it.
#[inline]
pub(crate) unsafe fn deallocate(p: NonNull<Inner>) {
    // SAFETY: by the caller's promise the value is live and unreferenced.
    unsafe { ptr::drop_in_place(p.as_ptr()) };
    let head = FREE.with(Cell::get);
    let len = FREE_LEN.with(Cell::get);
    if head == CLOSED || len >= FREE_LIST_CAPACITY {
        // SAFETY: allocated with this layout; dropped above.
        unsafe { alloc::dealloc(p.as_ptr().cast(), Layout::new::<Inner>()) };
        return;
    }
    if head.is_null() && len == 0 {
        register_free_guard();
    }
    // SAFETY: the block is ours and unused; its first word becomes the link.
    unsafe { p.as_ptr().cast::<*mut Inner>().write(head) };
    FREE.with(|f| f.set(p.as_ptr()));
    FREE_LEN.with(|n| n.set(len + 1));
}

#[cold]
fn register_free_guard() {
    // Touching it registers its destructor; fails only during thread exit,
    // when FREE is about to be (or has been) closed anyway.
    let _ = FREE_GUARD.try_with(|_| ());
}

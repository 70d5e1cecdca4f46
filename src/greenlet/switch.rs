//! The switch itself: suspend the running greenlet, resume another with a
//! typed value, and on the way back record who switched to us and take what
//! they sent. Also where every greenlet starts ([`entry`]) and ends
//! ([`die`]).
//!
//! # The fast path, and what it leaves out
//!
//! A round trip is two of [`switch_to`] + [`receive`]. The sender records
//! where its value is (and its type) in its own `Inner`, marks itself
//! suspended and the target running, makes the target current, and calls
//! the raw switch with its `Inner` as the data word. The receiver records
//! the sender's stack pointer in it, and then tests once for everything
//! rare: *the sender is not simply suspended* (it died: its stack goes back
//! to the pool; or it made a typed switch) *or the thread's flag word is not
//! zero* (tracing; a deferred count to drop) *or the value is not of the
//! expected type*. No reference count moves and nothing is allocated.
//!
//! A typed switch ([`switch_typed`], a generator's `resume` and `suspend`)
//! leaves out the type: the sender marks itself with the state its
//! receiver expects ([`IN_RESUME`] or [`IN_SUSPEND`]), and its one
//! possible receiver, the generator's other half, knows the type.
//!
//! Everything else is on cold paths: a value of an unexpected type or a
//! panic ([`super::payload::take_unexpected`]), a dead or current target
//! (the callers), and [`after_switch`].

use super::inner::{DEAD, IN_RESUME, IN_SUSPEND, Inner, RUNNING, SUSPENDED};
use super::local;
use super::payload::{DEATH, PANIC, Tag, Unexpected, tag_of, take_unexpected};
use super::public_types::{Event, GreenletExit, SwitchError};
use super::thread::{self, DEFERRED_DROPS, TRACING};
use crate::raw::{self, StackPointer, Transfer};
use crate::sanitizer::{self, FakeStack};
use std::any::{Any, type_name};
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

/// Suspend `me` and resume `target`, handing it the value at `slot` (of the
/// type `tag` names). Returns what resumed us, unprocessed: pass it to
/// [`receive`] or [`receive_any`].
///
/// # Safety
/// `me` is the running greenlet; `target` is a live greenlet of this thread,
/// unstarted or suspended, and not `me`; `slot` holds a value of `tag`'s
/// type that the receiver will take (the caller must not drop it).
#[inline(always)]
pub(crate) unsafe fn switch_to(
    me: *const Inner,
    target: *const Inner,
    slot: *mut u8,
    tag: &'static Tag,
) -> Transfer {
    // SAFETY: forwarded.
    unsafe { switch_tagged_waiting(me, target, slot, tag, SUSPENDED) }
}

/// [`switch_to`] without a type: the receiver is the other half of a
/// generator, which knows it. `waits_in` is where `me` will wait:
/// [`IN_RESUME`] (a `resume` switching into its generator's `suspend`) or
/// [`IN_SUSPEND`] (a `suspend` switching to the `resume` waiting for it).
///
/// # Safety
/// As [`switch_to`], and `target` waits in the typed receive that expects
/// the value at `slot` from a sender in state `waits_in`.
#[inline(always)]
pub(crate) unsafe fn switch_typed(
    me: *const Inner,
    target: *const Inner,
    slot: *mut u8,
    waits_in: u8,
) -> Transfer {
    // SAFETY: `me` runs, so it is live.
    let me_ref = unsafe { &*me };
    me_ref.out_slot.set(slot);
    me_ref.state.set(waits_in);
    // SAFETY: forwarded.
    unsafe { resume(me, target) }
}

/// [`switch_to`] (a tagged value, for any generic receiver) that leaves `me`
/// in state `waits_in` instead of [`SUSPENDED`]: a generator's `resume` into
/// a body that does not wait in a typed `suspend` marks itself
/// [`super::inner::IN_RESUME_TAGGED`], so that a `suspend` receiving the
/// value knows a `resume` waits for its next one.
///
/// # Safety
/// As [`switch_to`], and `waits_in` is a suspended state.
#[inline(always)]
pub(crate) unsafe fn switch_tagged_waiting(
    me: *const Inner,
    target: *const Inner,
    slot: *mut u8,
    tag: &'static Tag,
    waits_in: u8,
) -> Transfer {
    // SAFETY: `me` runs, so it is live.
    unsafe { (*me).out_tag.set(tag) };
    // SAFETY: forwarded; the tag is recorded too, for a generic receiver.
    unsafe { switch_typed(me, target, slot, waits_in) }
}

/// The common half of a switch: make `target` current and switch to it.
///
/// # Safety
/// As [`switch_to`], with `me`'s outgoing value and state recorded.
#[inline(always)]
unsafe fn resume(me: *const Inner, target: *const Inner) -> Transfer {
    // SAFETY: `target` is live (the caller's promise: kept alive by whoever
    // named it, at least until it runs).
    let target_ref = unsafe { &*target };
    target_ref.state.set(RUNNING);
    thread::begin_switch(me, target);
    let sp = target_ref.sp.get();
    // ASan (feature `asan`) is told about every change of stack; no-ops
    // otherwise.
    let mut fake = FakeStack::new();
    sanitizer::start_switch(Some(&mut fake), || sanitizer_bounds(target));
    // SAFETY: `sp` is the target's saved stack pointer (the initial frame,
    // or where it suspended in this module), on a stack its Inner keeps
    // mapped. Our own stack stays valid while we are suspended: it is main's
    // or one a live Inner owns (a suspended greenlet is killed, which
    // resumes it, before its Inner can go away). The value stays untouched
    // in our frame until we are resumed, which happens only after the
    // receiver has taken it.
    let t = unsafe { raw::switch(sp, me as usize) };
    sanitizer::finish_switch(fake);
    t
}

/// The usable stack of a greenlet, `(lowest address, size)`, for
/// AddressSanitizer; `None` for main, which runs on the thread's stack.
fn sanitizer_bounds(inner: *const Inner) -> Option<(*const u8, usize)> {
    // SAFETY: `inner` is the live target of a switch; its stack is only
    // read, in place.
    let stack = unsafe { &*(*inner).stack.as_ptr() };
    stack.as_ref().map(|s| (s.bottom().cast_const(), s.size()))
}

/// Process what a switch handed us: record the sender's stack pointer, take
/// its value as an `R`, and run the rare paths if any is due. A panic that
/// came (a `throw`, a death by panic) continues here; a value of another
/// type is dropped and reported as the error.
///
/// # Safety
/// `t` is what a generic switch of this module ([`switch_to`], or a
/// greenlet's death) returned, or what a greenlet's entry received,
/// unprocessed.
#[inline(always)]
pub(crate) unsafe fn receive<R: 'static>(t: Transfer) -> Result<R, SwitchError> {
    let origin = t.data as *const Inner;
    // SAFETY: every switch of this module passes the sender's Inner, which
    // is live (suspended or just dead, but not freed: its count is released,
    // at the earliest, by `after_switch`), and its value stays untouched
    // until the sender is resumed, which cannot happen before we return.
    let origin_ref = unsafe { &*origin };
    origin_ref.sp.set(t.sp);
    // A dead sender's tag is DEATH, which is never an `R`.
    if thread::flags() != 0 || !origin_ref.out_tag.get().is::<R>() {
        // SAFETY: forwarded.
        return unsafe { receive_slow::<R>(origin) };
    }
    // SAFETY: the tag says the slot holds an `R`; the sender will not touch
    // it again (it handed it over).
    Ok(unsafe { origin_ref.out_slot.get().cast::<R>().read() })
}

/// [`receive`] off its fast path: the sender died or switched typed, a rare
/// path is due, or the value is not an `R`.
///
/// # Safety
/// As [`receive`], with the sender's stack pointer recorded.
#[cold]
#[inline(never)]
pub(crate) unsafe fn receive_slow<R: 'static>(origin: *const Inner) -> Result<R, SwitchError> {
    // SAFETY: as in `receive`.
    let origin_ref = unsafe { &*origin };
    let state = origin_ref.state.get();
    if state == DEAD && thread::flags() == 0 && origin_ref.death_tag.get().is::<R>() {
        // The common death: its result, of the expected type.
        // SAFETY: the tag says the slot holds an `R`, for us alone.
        let value = unsafe { origin_ref.out_slot.get().cast::<R>().read() };
        // Its value is taken: nothing reads its stack any more.
        thread::forget_dead_sender();
        origin_ref.release();
        return Ok(value);
    }
    if state == IN_SUSPEND || state == IN_RESUME {
        // Only a generator's other half switches typed, and only to the
        // half that expects it: this is a bug in this crate if reached.
        // The value's type is unknown here: it is leaked, not dropped.
        // SAFETY: the value is left alone.
        unsafe { after_switch(origin, Event::Switch) };
        panic!("greenlet: internal error: a typed switch reached a generic receiver");
    }
    // SAFETY: forwarded.
    unsafe { receive_unexpected::<R>(origin, origin_ref.out_slot.get(), tag_of_sent(origin_ref)) }
}

/// Take the value at `slot` (of `tag`'s type) as an `R`, or its panic, run
/// the rare paths, and report a mismatch.
///
/// # Safety
/// As [`receive`], with the sender's fields read out.
unsafe fn receive_unexpected<R: 'static>(
    origin: *const Inner,
    slot: *mut u8,
    tag: &'static Tag,
) -> Result<R, SwitchError> {
    // SAFETY: forwarded from the caller.
    let taken = unsafe { take_unexpected::<R>(slot, tag) };
    let event = if matches!(taken, Unexpected::Panic(_)) {
        Event::Throw
    } else {
        Event::Switch
    };
    // SAFETY: the value has been taken.
    unsafe { after_switch(origin, event) };
    match taken {
        Unexpected::Value(v) => Ok(v),
        Unexpected::Panic(p) => panic::resume_unwind(p),
        Unexpected::Mismatch(found) => Err(SwitchError::TypeMismatch {
            expected: type_name::<R>(),
            found,
        }),
    }
}

/// The type of the value `origin` sent: its tag, or for a dead greenlet the
/// tag of its last value.
pub(crate) fn tag_of_sent(origin: &Inner) -> &'static Tag {
    let tag = origin.out_tag.get();
    if ptr::eq(tag, &DEATH) {
        origin.death_tag.get()
    } else {
        tag
    }
}

/// Process what a switch handed us and discard it; a panic is returned, not
/// raised.
///
/// # Safety
/// As [`receive`].
pub(crate) unsafe fn receive_any(t: Transfer) -> Result<(), Box<dyn Any + Send>> {
    let origin = t.data as *const Inner;
    // SAFETY: as in `receive`.
    let (slot, tag) = unsafe {
        (*origin).sp.set(t.sp);
        ((*origin).out_slot.get(), tag_of_sent(&*origin))
    };
    let (result, event) = if ptr::eq(tag, &PANIC) {
        // SAFETY: a PANIC slot holds a box, for us alone.
        (
            Err(unsafe { slot.cast::<Box<dyn Any + Send>>().read() }),
            Event::Throw,
        )
    } else {
        // SAFETY: the slot holds a value of `tag`'s type, for us alone.
        unsafe { (tag.drop)(slot) };
        (Ok(()), Event::Switch)
    };
    // SAFETY: the value has been taken.
    unsafe { after_switch(origin, event) };
    result
}

/// The rare work after a switch, in the receiver: give a dead sender's stack
/// back, drop the counts deferred until their greenlet stopped running,
/// and call the trace callback (here, in the target, as Python does).
///
/// # Safety
/// `origin` switched to the current greenlet, which has taken its value.
#[cold]
#[inline(never)]
pub(crate) unsafe fn after_switch(origin: *const Inner, event: Event) {
    let flags = thread::flags();
    // SAFETY: the sender is live (see `receive`).
    let origin_ref = unsafe { &*origin };
    if flags & TRACING != 0 {
        // Kept alive for the callback, whatever happens below.
        origin_ref.retain();
    }
    if origin_ref.state.get() == DEAD {
        // Its value has been taken: nothing reads its stack any more.
        thread::forget_dead_sender();
        origin_ref.release();
    }
    if flags & DEFERRED_DROPS != 0 {
        thread::drop_deferred();
    }
    if flags & TRACING != 0 {
        // SAFETY: live, with the count taken above, which the call consumes.
        unsafe { thread::call_trace(event, NonNull::new_unchecked(origin.cast_mut())) };
    }
}

/// Kill the suspended greenlet `p`: throw `GreenletExit` into it with the
/// current greenlet as its parent for the duration (the old parent is
/// restored afterwards, even on unwind), and return when control comes
/// back. Whatever value comes back is dropped; a panic comes back as `Err`.
///
/// The count taken of the killer for the time it is the temporary parent
/// is given back with `release` (the lifetime layer's, handed in): it may
/// be the killer's last, when the victim dropped the killer's last handle
/// while it unwound (a child killing its parent, which held the child).
///
/// # Safety
/// `p` is a live, suspended greenlet of this thread (so not current), kept
/// alive by the caller.
pub(crate) unsafe fn kill_suspended(
    p: *const Inner,
    release: thread::DropCount,
) -> Result<(), Box<dyn Any + Send>> {
    let me = thread::current_known();
    // SAFETY: live, by the caller's promise.
    let inner = unsafe { &*p };
    struct RestoreParent<'a> {
        inner: &'a Inner,
        old: *const Inner,
        temporary: *const Inner,
        release: thread::DropCount,
    }
    impl Drop for RestoreParent<'_> {
        fn drop(&mut self) {
            if !self.inner.is_main {
                self.inner.parent.set(self.old);
                if self.inner.state.get() == DEAD {
                    // Skip pointers recorded while the killer was its
                    // parent may jump past a greenlet that is no longer
                    // an ancestor (see `Inner::skip`).
                    thread::new_parent_epoch();
                }
                // SAFETY: the count taken for the temporary parent, given
                // back once. If it is the last (the victim dropped the
                // killer's last handle), the killer, which runs here, is
                // kept until it switches away (`release` defers it).
                unsafe {
                    (self.release)(NonNull::new_unchecked(self.temporary.cast_mut()));
                }
            }
        }
    }
    let _restore = if inner.is_main {
        RestoreParent {
            inner,
            old: ptr::null(),
            temporary: ptr::null(),
            release,
        }
    } else {
        // SAFETY: `me` runs, so it is live; the parent field owns a count.
        unsafe { (*me).retain() };
        RestoreParent {
            inner,
            old: inner.parent.replace(me),
            temporary: me,
            release,
        }
    };
    // A typed resume waiting on it does not get its death: the killer does.
    inner.resumer.set(ptr::null());
    let mut boxed: ManuallyDrop<Box<dyn Any + Send>> = ManuallyDrop::new(Box::new(GreenletExit));
    // SAFETY: `p` is suspended (not `me`) and live; the slot holds the box,
    // which the receiver takes.
    unsafe {
        let t = switch_to(me, p, (&raw mut boxed).cast(), &PANIC);
        receive_any(t)
    }
}

/// The nearest live greenlet at or above `p` (dead ones are skipped).
///
/// # Safety
/// `p` is a live greenlet of this thread.
pub(crate) unsafe fn live_ancestor(start: *const Inner) -> *const Inner {
    let epoch = thread::parent_epoch();
    // The next greenlet up from the dead `q`: its skip pointer if it was
    // recorded in this epoch, else its parent.
    // SAFETY: (the closure's reads) `q` is live (see below).
    let up = |q: *const Inner| unsafe {
        let s = (*q).skip.get();
        if !s.is_null() && (*q).skip_epoch.get() == epoch {
            s
        } else {
            (*q).parent.get()
        }
    };
    // SAFETY: each greenlet holds a count of its parent, so the chain is
    // live, and a skip pointer of this epoch jumps along that same
    // unchanged chain (see `Inner::skip`); main never dies, so it ends.
    unsafe {
        let mut p = start;
        while (*p).state.get() == DEAD {
            p = up(p);
            debug_assert!(!p.is_null(), "main never dies");
        }
        // Path compression: every dead greenlet passed on the way now
        // jumps straight to `p`, so a chain of successions (each greenlet
        // creating the next and dying) costs amortised constant time per
        // death instead of a walk over every dead ancestor.
        let mut q = start;
        while !ptr::eq(q, p) {
            let next = up(q);
            (*q).skip.set(p);
            (*q).skip_epoch.set(epoch);
            q = next;
        }
        p
    }
}

/// Where a greenlet whose body is an `F` starts, on its own stack, entered
/// by the first switch into it.
///
/// # Safety
/// Only as the entry function of a stack prepared by
/// [`super::Builder::try_create`] with a body of type `F`.
pub(crate) unsafe extern "C" fn entry<F, A, R>(from: StackPointer, data: usize) -> !
where
    F: FnOnce(A) -> R + 'static,
    A: 'static,
    R: 'static,
{
    sanitizer::finish_switch(FakeStack::new());
    // The payload slots below are read by the receiver of our last switch.
    sanitizer::real_stack_frame();
    let me = thread::current_known();
    // SAFETY: the switch that started us made us current; our Inner is live
    // while we run (see `super::inner`).
    let inner = unsafe { &*me };
    inner.drop_body.set(None);
    // SAFETY: `body` is where `try_create` wrote an `F`; `drop_body` was set
    // until just now, so it has not been moved out or dropped, and now it
    // never will be again.
    let f: F = unsafe { inner.body.get().cast::<F>().read() };
    let first = Transfer { sp: from, data };
    let outcome = panic::catch_unwind(AssertUnwindSafe(move || {
        // SAFETY: `first` is the transfer that started us, unprocessed.
        let arg = match unsafe { receive::<A>(first) } {
            Ok(arg) => arg,
            Err(e) => panic!("{e}"),
        };
        f(arg)
    }));
    if !inner.locals.get().is_null() {
        local::drop_locals(inner);
    }
    // Where the last payload waits for the receiver, in this frame, which is
    // never unwound nor returned from: whatever the receiver takes is not
    // dropped here.
    let mut result: ManuallyDrop<R>;
    let mut exit = GreenletExit;
    let mut panic_box: ManuallyDrop<Box<dyn Any + Send>>;
    let (slot, tag): (*mut u8, &'static Tag) = match outcome {
        Ok(r) => {
            result = ManuallyDrop::new(r);
            ((&raw mut result).cast(), tag_of::<R>())
        }
        Err(p) if p.is::<GreenletExit>() => ((&raw mut exit).cast(), tag_of::<GreenletExit>()),
        Err(p) => {
            panic_box = ManuallyDrop::new(p);
            ((&raw mut panic_box).cast(), &PANIC)
        }
    };
    // SAFETY: we are the current greenlet; the slot is in this frame.
    unsafe { die(me, slot, tag) }
}

/// Mark the current greenlet dead and hand its last payload to the greenlet
/// waiting in a typed resume of it, or else its nearest live ancestor. Its
/// stack is given back by the receiver.
///
/// # Safety
/// `me` is the current greenlet; `slot` holds a value of `tag`'s type in a
/// frame that is never unwound.
unsafe fn die(me: *const Inner, slot: *mut u8, tag: &'static Tag) -> ! {
    // The last value may be in this frame: the receiver reads it.
    sanitizer::real_stack_frame();
    // SAFETY: `me` runs, so it is live; its parent chain is live.
    let inner = unsafe { &*me };
    inner.state.set(DEAD);
    let resumer = inner.resumer.replace(ptr::null());
    let target = if resumer.is_null() {
        // SAFETY: only main has no parent, and main never dies.
        unsafe { live_ancestor(inner.parent.get()) }
    } else {
        resumer
    };
    // SAFETY: `target` is live (an ancestor, held by the chain of parent
    // counts, or a resumer suspended in its resume) and not us.
    let target_ref = unsafe { &*target };
    target_ref.state.set(RUNNING);
    thread::begin_switch(me, target);
    let sp = target_ref.sp.get();
    inner.out_slot.set(slot);
    inner.out_tag.set(&DEATH);
    inner.death_tag.set(tag);
    sanitizer::start_switch(None, || sanitizer_bounds(target));
    // SAFETY: as in `resume`; this stack is given back only by the
    // receiver, after it has taken the value from the slot.
    unsafe { raw::switch(sp, me as usize) };
    // Nobody switches to a dead greenlet: every switch redirects to a live
    // one.
    std::process::abort()
}

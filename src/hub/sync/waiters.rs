//! The FIFO list of greenlets waiting on one `sync` object, with hand-off.
//!
//! A waiter's record ([`Waiter`]) lives in its waiting call's frame; the
//! list holds pointers to the records, oldest first. A waker takes the
//! first record off the list, acts on it (puts a value or a permit in its
//! slot, or takes a putter's value out) and wakes its park. A record is on
//! the list exactly while its `done` flag is false, and the waiting call's
//! guard takes it off before the frame ends, however the wait ends: so
//! every pointer on the list is to a live record.
//!
//! What was handed to a waiter that is killed or timed out before it
//! resumes is not lost: the guard gives it to the object's `pass_on`
//! (the next waiter, or back into the object).

use crate::hub::scheduler::{Park, Wake, hub};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::time::Instant;

/// One waiting call's record.
pub(crate) struct Waiter<T> {
    key: crate::hub::slab::Key,
    /// A value handed to the waiter, or (for a putter) the value it offers.
    slot: Cell<Option<T>>,
    /// A waker took it off the list and acted on it.
    done: Cell<bool>,
}

pub(crate) struct WaitList<T> {
    q: RefCell<VecDeque<NonNull<Waiter<T>>>>,
}

/// How a wait ended, when it did not unwind.
pub(crate) struct Waited<T> {
    /// A waker acted on this waiter (woke it, handed it a value, took its
    /// value); false: the deadline passed or the hub is shutting down.
    pub(crate) done: bool,
    /// What is in its slot now.
    pub(crate) slot: Option<T>,
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> WaitList<T> {
        WaitList {
            q: RefCell::new(VecDeque::new()),
        }
    }

    /// Waiters on the list.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.q.borrow().len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.q.borrow().is_empty()
    }

    /// Take the first waiter off the list and let `act` change its slot;
    /// then wake it. `None` (and `act` not called) if nobody waits.
    fn act_first<R>(&self, act: impl FnOnce(&Cell<Option<T>>) -> R) -> Option<R> {
        let first = self.q.borrow_mut().pop_front()?;
        // SAFETY: a record on the list is live (module doc): its waiting
        // call's guard takes it off before the record's frame ends.
        let w = unsafe { first.as_ref() };
        w.done.set(true);
        let r = act(&w.slot);
        hub().wake(w.key, Wake::Signal);
        Some(r)
    }

    /// Hand `v` to the first waiter and wake it; `Err(v)` if nobody waits.
    pub(crate) fn hand_first(&self, v: T) -> Result<(), T> {
        if self.is_empty() {
            return Err(v);
        }
        self.act_first(|slot| slot.set(Some(v)))
            .ok_or_else(|| unreachable!("a waiter was on the list"))
    }

    /// Take the value the first waiter offers (a putter's) and wake it.
    pub(crate) fn take_first(&self) -> Option<T> {
        self.act_first(Cell::take).flatten()
    }

    /// Wake every waiter, putting `fill()` in each slot that is empty (a
    /// putter keeps the value it offered).
    pub(crate) fn wake_all(&self, mut fill: impl FnMut() -> Option<T>) {
        let all = std::mem::take(&mut *self.q.borrow_mut());
        if all.is_empty() {
            return;
        }
        let hub = hub();
        for p in all {
            // SAFETY: as in `act_first`: it was on the list, so it is live.
            let w = unsafe { p.as_ref() };
            w.done.set(true);
            let v = w.slot.take().or_else(&mut fill);
            w.slot.set(v);
            hub.wake(w.key, Wake::Signal);
        }
    }

    /// Wait at the end of the list until a waker acts on this waiter, or
    /// `deadline` passes, or the hub shuts down. `offer` starts in the
    /// waiter's slot. If the wait unwinds (kill, `with_timeout`, deadlock),
    /// whatever is in the slot by then goes to `pass_on`.
    pub(crate) fn wait(
        &self,
        what: &'static str,
        deadline: Option<Instant>,
        offer: Option<T>,
        pass_on: impl FnOnce(T),
    ) -> Waited<T> {
        let hub = hub();
        let park = Park::new(&hub, what);
        let w = Waiter {
            key: park.key(),
            slot: Cell::new(offer),
            done: Cell::new(false),
        };
        self.q.borrow_mut().push_back(NonNull::from(&w));
        // Dropped before `w` and `park` (declared after them).
        let mut guard = Unlink {
            list: self,
            w: &w,
            pass_on: Some(pass_on),
        };
        if let Some(d) = deadline {
            park.deadline(d);
        }
        match park.wait() {
            Wake::Signal | Wake::Timer | Wake::Shutdown => {}
            other => unreachable!("greenlet::hub: a sync wait was resumed with {other:?}"),
        }
        // Not unwinding: the caller takes what the slot holds. A waker may
        // have acted after the timer fired and before this resumed: then
        // the wait counts as done, and nothing handed is lost.
        let done = w.done.get();
        guard.pass_on = None;
        drop(guard);
        Waited {
            done,
            slot: w.slot.take(),
        }
    }
}

/// Takes a waiter off its list however its wait ends; on an unwind, passes
/// on what was handed to it.
struct Unlink<'a, T, F: FnOnce(T)> {
    list: &'a WaitList<T>,
    w: &'a Waiter<T>,
    pass_on: Option<F>,
}

impl<T, F: FnOnce(T)> Drop for Unlink<'_, T, F> {
    fn drop(&mut self) {
        if !self.w.done.get() {
            let me = NonNull::from(self.w);
            let mut q = self.list.q.borrow_mut();
            if let Some(i) = q.iter().position(|&p| p == me) {
                q.remove(i);
            }
            self.w.done.set(true);
        }
        if let Some(pass_on) = self.pass_on.take()
            && let Some(v) = self.w.slot.take()
        {
            pass_on(v);
        }
    }
}

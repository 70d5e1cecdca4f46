//! Tracing: a per-thread callback told of every switch, as Python
//! greenlet's `settrace`.
//!
//! The callback runs in the *target* of a switch, after the switch (so
//! `Greenlet::current()` in it is the target), from the receiver's rare path
//! ([`super::switch::after_switch`]): installing one costs the fast path
//! nothing but the flag test it makes anyway.
//!
//! A Rust callback is an `FnMut`, which cannot be entered twice at once.
//! Python's can, and a switch made from inside Python's callback is traced by
//! a nested call. Here such a switch is traced too, in the same order, but
//! by a call made after the outer one has returned (the events wait in a
//! queue meanwhile): the sequence of calls is Python's, and
//! `Greenlet::current()` in a delayed call is the greenlet the outer call
//! ran in.
//!
//! A callback that panics is removed, as Python removes a tracer that
//! raises; the panic continues from the switch, in the target. Events still
//! queued are dropped with it.

use super::handle::Greenlet;
use super::inner::Inner;
use super::public_types::Event;
use super::thread::{self, TRACING};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

/// The per-thread trace callback: `(event, origin, target)`.
///
/// # Examples
///
/// ```
/// use greenlet::{Greenlet, TraceFn};
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let switches = Rc::new(Cell::new(0));
/// let count = Rc::clone(&switches);
/// let tracer: TraceFn = Box::new(move |_event, _from, _to| count.set(count.get() + 1));
/// let previous = greenlet::settrace(Some(tracer));
/// let g = Greenlet::new(|x: i32| x);
/// let _: i32 = g.switch(1);
/// let ours: Option<TraceFn> = greenlet::settrace(previous); // handed back
/// assert!(ours.is_some());
/// assert_eq!(switches.get(), 2); // main -> g, and g (dying) -> main
/// ```
pub type TraceFn = Box<dyn FnMut(Event, &Greenlet, &Greenlet)>;

struct State {
    /// The installed callback; `None` while it is running (taken out).
    callback: Option<TraceFn>,
    /// Bumped by every `settrace`, so that a running callback knows
    /// whether it was replaced or removed meanwhile.
    generation: u64,
    /// `Some(generation)` while the callback installed at that generation
    /// is running (somewhere up a stack of this thread).
    running: Option<u64>,
    /// Switches made while the installed callback was running, to trace
    /// after it returns.
    pending: VecDeque<(Event, Greenlet, Greenlet)>,
}

impl State {
    /// Whether the installed callback is out, running.
    fn installed_is_running(&self) -> bool {
        self.running == Some(self.generation)
    }

    /// Whether a receiver must come to [`fire`].
    fn update_flag(&self) {
        let on = self.callback.is_some() || self.installed_is_running();
        if on {
            thread::set_trace_hook(hook);
        }
        thread::set_flag(TRACING, on);
    }
}

crate::os::state_local! {
    static TRACE: RefCell<State> = const {
        RefCell::new(State {
            callback: None,
            generation: 0,
            running: None,
            pending: VecDeque::new(),
        })
    };
}

/// Install (or with `None` remove) this thread's trace callback, called on
/// every switch between two different greenlets as `(event, origin,
/// target)`, in the target after the switch. Returns the previous callback
/// (`None` if there was none, or when called from inside the running
/// callback, which is not installed while it runs).
///
/// A callback that panics is removed: the panic continues from the switch
/// that was being traced, in its target, and `settrace(None)` afterwards
/// returns `None`.
///
/// # Examples
///
/// ```
/// use greenlet::{Event, Greenlet};
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let names = Rc::new(RefCell::new(Vec::new()));
/// let log = names.clone();
/// greenlet::settrace(Some(Box::new(move |event, _origin, target: &Greenlet| {
///     // Runs in the target: `Greenlet::current()` is `target` here.
///     assert_eq!(Greenlet::current(), *target);
///     log.borrow_mut().push((event, target.name().map(String::from)));
/// })));
/// let g = Greenlet::builder().name("child").create(|x: i32| x + 1);
/// let two: i32 = g.switch(1);
/// assert_eq!(two, 2);
/// greenlet::settrace(None);
/// assert_eq!(
///     *names.borrow(),
///     [(Event::Switch, Some("child".to_string())), (Event::Switch, None)]
/// );
/// ```
pub fn settrace(callback: Option<TraceFn>) -> Option<TraceFn> {
    // Make sure main exists, so that the receiver's flag test is meaningful.
    thread::current();
    let (previous, pending) = TRACE.with(|t| {
        let mut t = t.borrow_mut();
        t.generation = t.generation.wrapping_add(1);
        let previous = mem::replace(&mut t.callback, callback);
        let pending = mem::take(&mut t.pending);
        t.update_flag();
        (previous, pending)
    });
    // Dropped outside the borrow: dropping a handle may run a greenlet.
    drop(pending);
    previous
}

/// The hook handed to the switch ([`thread::set_trace_hook`]): trace one
/// switch from `origin` to the current greenlet.
///
/// # Safety
/// `origin` is live and carries a count for us.
unsafe fn hook(event: Event, origin: NonNull<Inner>) {
    // SAFETY: the count is ours.
    let origin = unsafe { Greenlet::from_counted(origin) };
    fire(event, origin, Greenlet::current());
}

/// Trace one switch (called in its target). See the module docs.
fn fire(event: Event, origin: Greenlet, target: Greenlet) {
    let taken = TRACE.try_with(|t| {
        let mut t = t.borrow_mut();
        match t.callback.take() {
            Some(f) => {
                let generation = t.generation;
                t.running = Some(generation);
                Ok((f, generation))
            }
            None if t.installed_is_running() => {
                t.pending.push_back((event, origin.clone(), target.clone()));
                Err(())
            }
            None => Err(()),
        }
    });
    let Ok(Ok((mut f, generation))) = taken else {
        return;
    };
    let mut next = Some((event, origin, target));
    while let Some((event, origin, target)) = next.take() {
        let called = panic::catch_unwind(AssertUnwindSafe(|| f(event, &origin, &target)));
        drop((origin, target));
        if let Err(p) = called {
            // Removed, as Python removes a tracer that raises.
            let pending = TRACE.with(|t| {
                let mut t = t.borrow_mut();
                if t.running == Some(generation) {
                    t.running = None;
                }
                let pending = if t.generation == generation {
                    mem::take(&mut t.pending)
                } else {
                    VecDeque::new()
                };
                t.update_flag();
                pending
            });
            drop(pending);
            drop(f);
            panic::resume_unwind(p);
        }
        next = TRACE.with(|t| {
            let mut t = t.borrow_mut();
            if t.generation == generation {
                t.pending.pop_front()
            } else {
                None
            }
        });
    }
    let replaced = TRACE.with(|t| {
        let mut t = t.borrow_mut();
        if t.running == Some(generation) {
            t.running = None;
        }
        let replaced = t.generation != generation;
        if !replaced {
            // Neither replaced nor removed while it ran: put it back.
            t.callback = Some(f);
            t.update_flag();
            None
        } else {
            t.update_flag();
            Some(f)
        }
    });
    drop(replaced);
}

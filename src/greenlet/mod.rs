//! The safe [`Greenlet`]: symmetric switching with Python greenlet's
//! semantics, over the raw switch of [`crate::raw`] and the stacks of
//! [`crate::stack`].
//!
//! One concern per file:
//!
//! * `inner` — what a greenlet is behind its handles, its states, how it is
//!   counted, allocated (a per-thread free list) and freed (iteratively);
//! * `thread` — the per-thread state: current, main, the flag word of the
//!   rare paths, counts deferred until their greenlet stops running;
//! * `payload` — typed values across a switch, without allocation;
//! * `switch` — the switch, the receive, a greenlet's entry and death;
//! * `body` — the closure of an unstarted greenlet, kept on its own stack;
//! * `trace` — `settrace`, called in the target after each switch;
//! * `local` — [`Local`], greenlet-local storage;
//! * this file — the public API.
//!
//! A panic never crosses the assembly: each greenlet's body runs inside
//! `catch_unwind` in its entry, and a panic that escapes it is carried to
//! the parent as a payload and resumed there with `resume_unwind`.

mod body;
mod handle;
mod inner;
mod lifetime;
mod local;
mod payload;
mod public_types;
pub(crate) mod switch;
mod thread;
mod trace;

pub use handle::Greenlet;
pub(crate) use inner::{
    DEAD, IN_RESUME, IN_RESUME_TAGGED, IN_SUSPEND, Inner, SUSPENDED, UNSTARTED,
};
pub use local::Local;
pub(crate) use payload::{Tag, Unexpected, tag_of, take_unexpected};
pub(crate) use public_types::payload_text;
pub use public_types::{Event, GreenletExit, ParentError, SwitchError};
pub(crate) use thread::{current_known, flags};
pub use trace::{TraceFn, settrace};

/// Make sure a guard fault on this thread can still be reported from here
/// on: called before greenlets run from a thread-local destructor (the
/// hub's teardown at thread exit), when Rust has already taken its own
/// alternate signal stack away (see `crate::overflow::arm`).
pub(crate) fn arm_fault_reports() {
    crate::overflow::arm();
}

/// The greenlet the running code belongs to, if it is not `current`: the
/// greenlet that resumed the generator whose body runs (up the chain of
/// generators), as a new handle; `None` outside generators. The hub counts
/// a wait made in a generator's body as a wait of that greenlet (API.md
/// §3).
pub(crate) fn context_if_not(current: &Greenlet) -> Option<Greenlet> {
    let p = thread::context();
    if ptr::eq(p, current.as_ptr()) {
        return None;
    }
    // SAFETY: `context()` returns a live greenlet of this thread.
    Some(unsafe { Greenlet::retained(p) })
}

use crate::raw;
use crate::sanitizer;
use crate::stack::{DEFAULT_STACK_SIZE, Stack};
use inner::{RUNNING, is_suspended};
use payload::PANIC;
use std::any::{Any, type_name};
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

/// Configures a new greenlet: `Greenlet::builder().name("x").stack_size(n)
/// .parent(&p).create(f)`.
///
/// # Examples
///
/// ```
/// use greenlet::Greenlet;
///
/// let g = Greenlet::builder()
///     .name("job")
///     .stack_size(256 * 1024)
///     .parent(&Greenlet::main())
///     .create(|x: i32| x * 2);
/// assert_eq!(g.name(), Some("job"));
/// assert_eq!(g.parent(), Some(Greenlet::main()));
/// assert_eq!(g.switch::<i32, i32>(21), 42);
/// ```
#[must_use]
pub struct Builder {
    name: Option<String>,
    stack_size: usize,
    parent: Option<Greenlet>,
}

impl Greenlet {
    /// A new, unstarted greenlet whose parent is `Greenlet::current()`. The
    /// first value switched into it becomes `f`'s argument. It gets a stack
    /// of the default size (1 MiB) from this thread's pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::new(|name: &'static str| format!("hello, {name}"));
    /// assert!(!g.is_started());
    /// let greeting: String = g.switch("world");
    /// assert_eq!(greeting, "hello, world");
    /// assert!(g.is_dead());
    /// ```
    ///
    /// # Panics
    /// If no stack can be mapped; the message is the `io::Error`'s text
    /// (see [`Builder::try_create`] for the non-panicking form).
    pub fn new<F, A, R>(f: F) -> Greenlet
    where
        F: FnOnce(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        Greenlet::builder().create(f)
    }

    /// A [`Builder`] for a greenlet with a name, stack size or parent.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::builder().name("adder").create(|(a, b): (i32, i32)| a + b);
    /// assert_eq!(g.name(), Some("adder"));
    /// assert_eq!(g.switch::<_, i32>((2, 3)), 5); // several values: a tuple
    /// ```
    pub fn builder() -> Builder {
        Builder {
            name: None,
            stack_size: DEFAULT_STACK_SIZE,
            parent: None,
        }
    }

    /// The running greenlet (Python's `getcurrent()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let main = Greenlet::current();
    /// assert!(main.is_main()); // outside any greenlet, the current one is main
    /// let g = Greenlet::new(|()| Greenlet::current());
    /// let inside: Greenlet = g.switch(());
    /// assert_eq!(inside, g);
    /// assert_ne!(inside, main);
    /// ```
    #[inline]
    pub fn current() -> Greenlet {
        // SAFETY: the running greenlet is live.
        unsafe { Greenlet::retained(thread::current()) }
    }

    /// This thread's main greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::new(|()| {
    ///     let main = Greenlet::main();
    ///     assert!(main.is_main() && main != Greenlet::current());
    ///     main
    /// });
    /// let main: Greenlet = g.switch(());
    /// assert_eq!(main, Greenlet::current());
    /// assert_eq!(main.parent(), None);
    /// ```
    pub fn main() -> Greenlet {
        // SAFETY: the thread holds a count of main for its whole life.
        unsafe { Greenlet::retained(thread::main()) }
    }

    /// Run `self` until someone switches back to the current greenlet, and
    /// return the value they sent.
    ///
    /// * Into an unstarted greenlet, `value` becomes its function's argument;
    ///   into a suspended one, its pending `switch` returns `value`.
    /// * Into a dead one, `value` goes to its nearest live ancestor; into the
    ///   current greenlet, it comes straight back.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let main = Greenlet::current();
    /// let echo = Greenlet::new(move |mut s: String| loop {
    ///     s.push('!');
    ///     s = main.switch(s);
    /// });
    /// let a: String = echo.switch(String::from("hi"));
    /// assert_eq!(a, "hi!");
    /// let b: String = echo.switch(a);
    /// assert_eq!(b, "hi!!");
    /// ```
    ///
    /// # Panics
    /// If the value that comes back is not an `R`, with a message naming
    /// both types (the value is dropped), located at the caller; and with
    /// the same payload when a panic comes back (a greenlet that died by a
    /// panic, or a `throw`).
    #[inline]
    #[track_caller]
    pub fn switch<T: 'static, R: 'static>(&self, value: T) -> R {
        match self.try_switch(value) {
            Ok(r) => r,
            Err(e) => mismatch(e),
        }
    }

    /// Like [`switch`](Greenlet::switch), but a value of the wrong type is
    /// an `Err(SwitchError::TypeMismatch)` (the value is dropped). Panics
    /// that come back still continue here.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Greenlet, SwitchError};
    ///
    /// let g = Greenlet::new(|x: u8| x); // returns a u8
    /// let r: Result<String, SwitchError> = g.try_switch(7u8);
    /// assert!(matches!(r, Err(SwitchError::TypeMismatch { .. })));
    /// ```
    #[inline]
    pub fn try_switch<T: 'static, R: 'static>(&self, value: T) -> Result<R, SwitchError> {
        let mut value = ManuallyDrop::new(value);
        // SAFETY: the slot holds a `T` that the receiver takes (moved or
        // dropped); `ManuallyDrop` keeps us from dropping it again.
        unsafe { self.send::<R>((&raw mut value).cast(), tag_of::<T>()) }
    }

    /// Deliver the value at `slot` to `self` or, if it is dead, its nearest
    /// live ancestor, and receive the answer as an `R`.
    ///
    /// # Safety
    /// `slot` holds a value of `tag`'s type that the callee takes.
    #[inline(always)]
    unsafe fn send<R: 'static>(&self, slot: *mut u8, tag: &'static Tag) -> Result<R, SwitchError> {
        let target = self.as_ptr();
        if self.inner().state.get() >= RUNNING {
            // SAFETY: forwarded.
            return unsafe { self.send_slow::<R>(slot, tag) };
        }
        // A handle exists, so this thread has its main greenlet.
        let me = thread::current_known();
        // SAFETY: `me` runs; `target` is unstarted or suspended (so not
        // `me`), and `self` keeps it alive; the slot is the caller's.
        unsafe {
            let t = switch::switch_to(me, target, slot, tag);
            switch::receive::<R>(t)
        }
    }

    /// [`send`](Greenlet::send) to a dead or running (current) greenlet.
    ///
    /// # Safety
    /// As [`send`](Greenlet::send).
    #[cold]
    #[inline(never)]
    unsafe fn send_slow<R: 'static>(
        &self,
        slot: *mut u8,
        tag: &'static Tag,
    ) -> Result<R, SwitchError> {
        let me = thread::current_known();
        // SAFETY: `self` is live.
        let target = unsafe { switch::live_ancestor(self.as_ptr()) };
        if ptr::eq(target, me) {
            // SAFETY: the slot is ours to take, as a receiver would.
            return match unsafe { take_unexpected::<R>(slot, tag) } {
                Unexpected::Value(v) => Ok(v),
                Unexpected::Panic(p) => panic::resume_unwind(p),
                Unexpected::Mismatch(found) => Err(SwitchError::TypeMismatch {
                    expected: type_name::<R>(),
                    found,
                }),
            };
        }
        // SAFETY: `target` is live (held by the dead greenlet's chain of
        // parent counts, which `self` holds; from the moment it runs it
        // needs no count, see `inner`), not `me`, and not running (only `me`
        // runs) nor dead (skipped). No count is held across the switch: it
        // would stay on our stack for as long as we are suspended.
        unsafe {
            let t = switch::switch_to(me, target, slot, tag);
            switch::receive::<R>(t)
        }
    }

    /// Raise `payload` as a panic at the point where `self` is suspended
    /// (with `resume_unwind`: no panic hook runs), then behave like
    /// [`switch`](Greenlet::switch).
    ///
    /// * Unstarted: its function never runs; it is dead, and the panic
    ///   continues in its parent.
    /// * Dead: the panic goes to its nearest live ancestor; from there (or if
    ///   that is the caller) it is raised. A [`GreenletExit`] thrown at a dead
    ///   or unstarted greenlet arrives as a *value* instead, as in Python.
    /// * The current greenlet: raised right here.
    ///
    /// **Not into a greenlet that is unwinding.** A greenlet suspended inside
    /// a destructor that runs because it is panicking (a `Drop` that
    /// switched away mid-unwind) must not be thrown into, nor
    /// [`kill`](Greenlet::kill)ed: the new panic would leave a destructor
    /// during cleanup, and Rust aborts the process for that. This layer
    /// cannot tell such a greenlet from others, because the panic state is
    /// one count per thread (see the type's documentation), and refusing
    /// every throw while any greenlet of the thread unwinds would refuse the
    /// common safe case (a handle dropped during a panic kills its
    /// greenlet). The hub, which can wait, defers instead: its `Task::kill`
    /// and `with_timeout` end a wait with a panic only while no greenlet of
    /// the thread is unwinding, and hold the interruption back until then.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    /// use std::panic::{catch_unwind, panic_any};
    ///
    /// #[derive(Debug)]
    /// struct Stop;
    /// let g = Greenlet::new(|()| {
    ///     let caught = catch_unwind(|| {
    ///         let () = Greenlet::main().switch(());
    ///     });
    ///     caught.unwrap_err().is::<Stop>() // true: delivered to main
    /// });
    /// let () = g.switch(());
    /// let caught: bool = g.throw(Stop);
    /// assert!(caught);
    /// # let _ = panic_any::<()>;
    /// ```
    #[track_caller]
    pub fn throw<E: Any + Send + 'static, R: 'static>(&self, payload: E) -> R {
        match self.inner().state.get() {
            UNSTARTED => {
                self.inner().state.set(DEAD);
                self.inner().release();
                self.throw_dead(payload)
            }
            DEAD => self.throw_dead(payload),
            RUNNING => panic::resume_unwind(Box::new(payload)),
            _ => {
                let mut boxed: ManuallyDrop<Box<dyn Any + Send>> =
                    ManuallyDrop::new(Box::new(payload));
                // SAFETY: the slot holds the box, which the receiver takes.
                match unsafe { self.send::<R>((&raw mut boxed).cast(), &PANIC) } {
                    Ok(r) => r,
                    Err(e) => mismatch(e),
                }
            }
        }
    }

    #[track_caller]
    fn throw_dead<E: Any + Send + 'static, R: 'static>(&self, payload: E) -> R {
        let boxed: Box<dyn Any + Send> = Box::new(payload);
        let result = if boxed.is::<GreenletExit>() {
            self.try_switch::<GreenletExit, R>(GreenletExit)
        } else {
            let mut boxed = ManuallyDrop::new(boxed);
            // SAFETY: the slot holds the box, which the receiver takes.
            unsafe { self.send::<R>((&raw mut boxed).cast(), &PANIC) }
        };
        match result {
            Ok(r) => r,
            Err(e) => mismatch(e),
        }
    }

    /// Throw [`GreenletExit`] into `self`, with the current greenlet as its
    /// parent for the duration (the old parent is restored afterwards), and
    /// return when control comes back: normally with `self` dead. Whatever
    /// value comes back is dropped; a panic other than `GreenletExit` (say,
    /// one raised while it unwinds) continues here.
    ///
    /// An unstarted greenlet never runs and is dead; a dead one is left
    /// alone; killing the current greenlet raises `GreenletExit` right here.
    /// As with [`throw`](Greenlet::throw), never kill a greenlet suspended
    /// in a destructor while it unwinds: Rust aborts for that.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// struct Cleanup(Rc<Cell<bool>>);
    /// impl Drop for Cleanup {
    ///     fn drop(&mut self) { self.0.set(true); }
    /// }
    /// let cleaned = Rc::new(Cell::new(false));
    /// let flag = cleaned.clone();
    /// let g = Greenlet::new(move |()| {
    ///     let _c = Cleanup(flag);
    ///     let () = Greenlet::main().switch(());
    ///     unreachable!("killed while suspended");
    /// });
    /// let () = g.switch(());
    /// g.kill();
    /// assert!(g.is_dead() && cleaned.get());
    /// ```
    pub fn kill(&self) {
        match self.inner().state.get() {
            DEAD => {}
            UNSTARTED => {
                self.inner().state.set(DEAD);
                self.inner().release();
            }
            RUNNING => panic::resume_unwind(Box::new(GreenletExit)),
            _ => {
                // SAFETY: suspended (so not current), and `self` keeps it
                // alive.
                let killed =
                    unsafe { switch::kill_suspended(self.as_ptr(), lifetime::release_count) };
                if let Err(p) = killed {
                    panic::resume_unwind(p);
                }
            }
        }
    }

    /// The parent: where this greenlet's result (or panic) goes when it
    /// ends. `None` only for main.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let a = Greenlet::new(|()| ());
    /// assert_eq!(a.parent(), Some(Greenlet::current())); // its creator
    /// let b = Greenlet::builder().parent(&a).create(|()| ());
    /// assert_eq!(b.parent(), Some(a));
    /// assert_eq!(Greenlet::main().parent(), None);
    /// ```
    pub fn parent(&self) -> Option<Greenlet> {
        let p = self.inner().parent.get();
        // SAFETY: a greenlet holds a count of its parent.
        (!p.is_null()).then(|| unsafe { Greenlet::retained(p) })
    }

    /// Set the parent (the count of `new` moves in), returning the old one.
    fn replace_parent(&self, new: Option<Greenlet>) -> Option<Greenlet> {
        if self.is_dead() {
            // A skip pointer may jump over this greenlet (see `Inner::skip`).
            thread::new_parent_epoch();
        }
        let new = new.map_or(ptr::null(), |g| ManuallyDrop::new(g).as_ptr());
        let old = self.inner().parent.replace(new);
        // SAFETY: the parent field owned that count.
        NonNull::new(old.cast_mut()).map(|p| unsafe { Greenlet::from_counted(p) })
    }

    /// Change the parent.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Greenlet, ParentError};
    ///
    /// let a = Greenlet::new(|()| ());
    /// let b = Greenlet::builder().parent(&a).create(|()| ());
    /// assert_eq!(a.set_parent(&b), Err(ParentError::Cycle));
    /// assert_eq!(Greenlet::main().set_parent(&a), Err(ParentError::MainGreenlet));
    /// assert_eq!(b.set_parent(&Greenlet::main()), Ok(()));
    /// ```
    ///
    /// # Errors
    /// [`ParentError::MainGreenlet`] for main (checked first), and
    /// [`ParentError::Cycle`] if `parent` is `self` or a descendant of it.
    pub fn set_parent(&self, parent: &Greenlet) -> Result<(), ParentError> {
        if self.is_main() {
            return Err(ParentError::MainGreenlet);
        }
        if descends_from(parent.as_ptr(), self.as_ptr()) {
            return Err(ParentError::Cycle);
        }
        drop(self.replace_parent(Some(parent.clone())));
        Ok(())
    }

    /// The name given by [`Builder::name`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::builder().name("fetcher").create(|()| ());
    /// assert_eq!(g.name(), Some("fetcher"));
    /// assert_eq!(Greenlet::new(|()| ()).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner().name.as_deref()
    }

    /// Whether it has left the unstarted state: it has been switched to
    /// (main always has), or it is dead. A greenlet killed or thrown into
    /// before it started never ran, yet counts as started: it is dead.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::new(|()| {
    ///     let () = Greenlet::main().switch(());
    /// });
    /// assert!(!g.is_started());
    /// let () = g.switch(());
    /// assert!(g.is_started() && !g.is_dead());
    /// assert!(Greenlet::main().is_started());
    /// let never = Greenlet::new(|()| ());
    /// never.kill(); // before it started: it never runs
    /// assert!(never.is_started() && never.is_dead());
    /// ```
    pub fn is_started(&self) -> bool {
        self.inner().state.get() != UNSTARTED
    }

    /// Whether its function has ended (returned, or panicked), or it was
    /// killed or thrown into before it started.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::new(|x: u32| x);
    /// assert!(!g.is_dead());
    /// let _: u32 = g.switch(1u32);
    /// assert!(g.is_dead());
    /// // Killed before it started: dead without ever running.
    /// let h = Greenlet::new(|()| println!("never printed"));
    /// h.kill();
    /// assert!(h.is_dead());
    /// ```
    pub fn is_dead(&self) -> bool {
        self.inner().state.get() == DEAD
    }

    /// Started and not dead (Python's `bool(g)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::new(|()| {
    ///     let () = Greenlet::main().switch(());
    /// });
    /// assert!(!g.is_active()); // unstarted
    /// let () = g.switch(());
    /// assert!(g.is_active()); // suspended
    /// let () = g.switch(());
    /// assert!(!g.is_active()); // dead
    /// ```
    pub fn is_active(&self) -> bool {
        let state = self.inner().state.get();
        state == RUNNING || is_suspended(state)
    }

    /// Whether this is its thread's main greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// assert!(Greenlet::current().is_main());
    /// let g = Greenlet::new(|()| Greenlet::current().is_main());
    /// assert!(!g.switch::<(), bool>(()));
    /// ```
    pub fn is_main(&self) -> bool {
        self.inner().is_main
    }

    fn state_name(&self) -> &'static str {
        if self.is_main() {
            return "main";
        }
        match self.inner().state.get() {
            UNSTARTED => "unstarted",
            RUNNING => "running",
            s if is_suspended(s) => "suspended",
            _ => "dead",
        }
    }

    /// [`kill`](Greenlet::kill) from a destructor: a panic that comes back
    /// (one other than `GreenletExit`, raised while the greenlet unwinds)
    /// is reported on stderr as escaping `what` instead of unwinding out of
    /// a `drop`, where a second panic would abort.
    pub(crate) fn kill_from_drop(&self, what: &str) {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| self.kill())) {
            eprintln!("greenlet: a panic escaped {what}: {}", payload_text(&*p));
        }
    }
}

/// Whether `p` is `ancestor` or descends from it. Also ends on a chain that
/// loops without reaching `ancestor` (which `kill`'s temporary parent can
/// make for a moment), by Brent's cycle detection: such a chain does not
/// lead to `ancestor`... unless it passed it, which the walk would have seen.
fn descends_from(mut p: *const Inner, ancestor: *const Inner) -> bool {
    let (mut mark, mut power, mut steps) = (p, 1usize, 0usize);
    while !p.is_null() {
        if ptr::eq(p, ancestor) {
            return true;
        }
        // SAFETY: each greenlet on the chain holds a count of its parent.
        p = unsafe { (*p).parent.get() };
        if ptr::eq(p, mark) {
            return false; // a loop that does not contain `ancestor`
        }
        steps += 1;
        if steps == power {
            (mark, power, steps) = (p, power * 2, 0);
        }
    }
    false
}

#[cold]
#[inline(never)]
#[track_caller]
fn mismatch(e: SwitchError) -> ! {
    panic!("{e}")
}

impl fmt::Debug for Greenlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Greenlet");
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.field("state", &format_args!("{}", self.state_name()))
            .finish()
    }
}

impl Builder {
    /// A name, shown by `Debug` and in diagnostics.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::builder().name(format!("worker-{}", 3)).create(|()| ());
    /// assert_eq!(g.name(), Some("worker-3"));
    /// assert_eq!(format!("{g:?}"), r#"Greenlet { name: "worker-3", state: unstarted }"#);
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// The usable stack size in bytes, rounded up to whole pages (and to at
    /// least [`crate::stack::MIN_STACK_SIZE`]). Default: 1 MiB, taken from
    /// the per-thread pool; other sizes come from the stack layer directly
    /// (an arena slot, or a mapping of their own; see [`crate::stack`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// fn depth(n: u64) -> u64 {
    ///     if n == 0 { 0 } else { 1 + depth(n - 1) }
    /// }
    /// // A small stack is plenty for a shallow body...
    /// let small = Greenlet::builder().stack_size(32 * 1024).create(|x: u64| x + 1);
    /// assert_eq!(small.switch::<u64, u64>(1), 2);
    /// // ...and a deep recursion gets a large one.
    /// let big = Greenlet::builder().stack_size(8 << 20).create(depth);
    /// assert_eq!(big.switch::<u64, u64>(20_000), 20_000);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// The parent (default: the greenlet that creates it).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// // Whatever the child returns goes to its parent: here an unstarted
    /// // greenlet, which it starts; the parent's result then goes to main.
    /// let parent = Greenlet::new(|s: String| format!("parent got {s:?}"));
    /// let child = Greenlet::builder().parent(&parent).create(|()| String::from("x"));
    /// let r: String = child.switch(());
    /// assert_eq!(r, r#"parent got "x""#);
    /// assert!(child.is_dead() && parent.is_dead());
    /// ```
    pub fn parent(mut self, parent: &Greenlet) -> Builder {
        self.parent = Some(parent.clone());
        self
    }

    /// An unstarted greenlet, like [`Greenlet::new`]: it does not run until
    /// switched to.
    ///
    /// # Panics
    /// If no stack can be mapped, with the `io::Error`'s text.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::builder().create(|s: &'static str| s.len());
    /// assert!(!g.is_started()); // nothing runs until the first switch
    /// assert_eq!(g.switch::<_, usize>("four"), 4);
    /// ```
    pub fn create<F, A, R>(self, f: F) -> Greenlet
    where
        F: FnOnce(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        self.try_create(f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An unstarted greenlet, or the error that prevented mapping its stack
    /// (`vm.max_map_count`, memory, `RLIMIT_AS`); nothing is lost on error
    /// (the closure is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Greenlet;
    ///
    /// let g = Greenlet::builder()
    ///     .name("worker")
    ///     .stack_size(64 * 1024)
    ///     .try_create(|x: u64| x * 2)
    ///     .expect("a 64 KiB stack");
    /// assert_eq!(format!("{g:?}"), r#"Greenlet { name: "worker", state: unstarted }"#);
    /// assert_eq!(g.switch::<u64, u64>(21), 42);
    /// ```
    #[inline]
    pub fn try_create<F, A, R>(self, f: F) -> io::Result<Greenlet>
    where
        F: FnOnce(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        crate::overflow::install(thread::stacks_in_use);
        let stack = Stack::acquire(self.stack_size)?;
        if body::fits::<F>(&stack) {
            Ok(self.create_on(stack, f))
        } else {
            // Too big to keep on its own stack: box it.
            let boxed: Box<F> = Box::new(f);
            Ok(self.create_on(stack, boxed))
        }
    }

    #[inline(always)]
    fn create_on<F, A, R>(self, stack: Stack, f: F) -> Greenlet
    where
        F: FnOnce(A) -> R + 'static,
        A: 'static,
        R: 'static,
    {
        sanitizer::fresh_stack(stack.bottom(), stack.size());
        // SAFETY: the stack is unused and the body fits (checked by the
        // caller, or it is a box).
        let (body_at, top) = unsafe { body::place(&stack, f) };
        // The context's bounds start at the guard's start, as a thread's
        // DeallocationStack does on Windows, where the TEB carries them and
        // the OS's stack-overflow check then works on the greenlet's stack
        // (os::windows::faults); elsewhere `stack_init_bounded` is
        // `stack_init`.
        // SAFETY: the stack is unused below `top` and large enough for the
        // initial frame; the Inner made below owns it and keeps it mapped
        // for as long as the greenlet can run. `guard().start..top` is the
        // stack's own memory, writable but for its guard pages at the
        // bottom (the case `stack_init_bounded` allows), which nothing but
        // an overflow touches. `entry::<F, A, R>` matches the body written
        // at `body_at`, never returns, and catches every panic of the body.
        let sp = unsafe {
            raw::stack_init_bounded(
                stack.guard().start as *mut u8,
                top,
                switch::entry::<F, A, R>,
            )
        };
        let parent = match self.parent {
            Some(p) => ManuallyDrop::new(p).as_ptr(),
            None => {
                let p = thread::current();
                // SAFETY: the running greenlet is live; the count is the
                // new greenlet's.
                unsafe { (*p).retain() };
                p
            }
        };
        let inner = inner::allocate(UNSTARTED, false, sp, parent, Some(stack), self.name);
        // SAFETY: just allocated.
        let inner_ref = unsafe { inner.as_ref() };
        inner_ref.body.set(body_at);
        inner_ref.drop_body.set(Some(body::drop_body::<F>));
        // SAFETY: `allocate` gave it one count, now this handle's.
        unsafe { Greenlet::from_counted(inner) }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("parent", &self.parent)
            .finish()
    }
}

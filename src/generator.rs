//! Python-style generators (`yield` / `send`) built on the greenlet core.
//!
//! A [`Generator`] owns one greenlet that runs its body. The body gets a
//! [`Yielder`]; [`Yielder::suspend`] is Python's `x = yield v`, and
//! [`Generator::resume`] is Python's `gen.send(x)`. Examples are on
//! [`Generator`].
//!
//! # How it works, and the layer it skips
//!
//! A generator's greenlet is an ordinary [`Greenlet`] (so
//! `Greenlet::current()` in a body, switching out of a body, `kill`, tracing
//! and the panic rules all behave as for any greenlet), but `resume` and
//! `suspend` do not go through [`Greenlet::switch`]: they call the greenlet
//! core's switch (`crate::greenlet::switch`) directly, with the types they
//! know statically. This reaches past the public `Greenlet` API on purpose,
//! for a measured reason: a round trip through `Greenlet::switch` cost 291
//! instructions (callgrind, x86_64), because the generator had to send the
//! resumer's handle along and check types at run time on both sides; the
//! typed path does neither (see `ci/budgets.txt` for today's count). What
//! replaces "generators use only the public API" is the core's contract
//! (`src/greenlet/switch.rs`): `switch_to` + `receive` are the whole switch,
//! and the `resumer` field of a greenlet is the one thing added for
//! generators:
//!
//! * `resume(x)` records the current greenlet as the generator greenlet's
//!   *resumer* and switches `x` in. The first time, `x` becomes the body's
//!   argument; later, it is what the pending `suspend` returns.
//! * `suspend(v)` takes the resumer out and switches `v` to it. So a
//!   generator answers whoever resumed it last, which is what lets
//!   generators drive other generators, from any greenlet.
//! * When the body ends, the core delivers its result (or its panic) to the
//!   resumer rather than the parent; `resume` tells a yield from the end by
//!   the generator's state, so `Y` and `R` may be the same type. The parent
//!   is the thread's main greenlet, which gets the end only when nobody
//!   resumed the body (it was thrown into or switched to directly).
//! * The resumer is not counted: it is set only while that greenlet is
//!   suspended in `resume`, and `resume` clears it if anything else resumes
//!   that greenlet (a `kill`, a direct switch), so it never dangles.
//! * Dropping a generator that is suspended kills its greenlet, so
//!   `GreenletExit` unwinds the body and every destructor on its stack runs
//!   (Python's `close()`).
//!
//! Neither `resume` nor `suspend` allocates or moves a reference count.

use crate::greenlet::switch;
use crate::greenlet::{
    DEAD, Event, IN_RESUME, IN_RESUME_TAGGED, IN_SUSPEND, Inner, SUSPENDED, UNSTARTED, Unexpected,
    current_known, flags, tag_of, take_unexpected,
};
use crate::raw::Transfer;
use crate::stack::DEFAULT_STACK_SIZE;
use crate::{Greenlet, GreenletExit};
use std::fmt;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic;
use std::ptr;

/// What [`Generator::resume`] returns: the body either yielded a value with
/// [`Yielder::suspend`] or returned.
///
/// # Examples
///
/// ```
/// use greenlet::{Generator, GeneratorState};
///
/// let mut g = Generator::new(|y, ()| {
///     y.suspend('a');
///     y.suspend('b');
///     7
/// });
/// let mut yielded = Vec::new();
/// let result = loop {
///     match g.resume(()) {
///         GeneratorState::Yielded(c) => yielded.push(c),
///         GeneratorState::Complete(r) => break r,
///     }
/// };
/// assert_eq!((yielded, result), (vec!['a', 'b'], 7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeneratorState<Y, R> {
    /// The body passed this value to [`Yielder::suspend`] and waits for the
    /// next [`Generator::resume`].
    Yielded(Y),
    /// The body returned this value; the generator is complete.
    Complete(R),
}

/// A generator: a body running on its own greenlet that hands values of
/// type `Y` out with [`Yielder::suspend`] (Python's `x = yield v`), receives
/// values of type `I` with [`Generator::resume`] (Python's `gen.send(x)`),
/// and finally returns an `R`.
///
/// # Examples
///
/// ```
/// use greenlet::{Generator, GeneratorState};
///
/// // A running total: every value sent in is added, the total comes back.
/// let mut total = Generator::new(|y, first: i64| {
///     let mut sum = first;
///     while sum < 100 {
///         let next = y.suspend(sum); // `next = yield sum`
///         sum += next;
///     }
///     "done"
/// });
/// assert_eq!(total.resume(10), GeneratorState::Yielded(10));
/// assert_eq!(total.resume(32), GeneratorState::Yielded(42));
/// assert_eq!(total.resume(58), GeneratorState::Complete("done"));
/// assert!(total.is_complete());
/// ```
///
/// Generators with no input (`I = ()`) are iterators:
///
/// ```
/// use greenlet::Generator;
///
/// let squares = Generator::new(|y, ()| {
///     for i in 1..=4u32 {
///         y.suspend(i * i);
///     }
/// });
/// assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9, 16]);
/// ```
///
/// `!Send` and `!Sync`, like the greenlet it owns: a generator stays on the
/// thread that created it.
///
/// ```compile_fail
/// use greenlet::Generator;
/// fn on_another_thread<T: Send>(_: T) {}
/// let g: Generator<(), i32> = Generator::new(|y, ()| y.suspend(1));
/// on_another_thread(g); // error: `Rc<..>` cannot be sent between threads
/// ```
///
/// Dropping a generator whose body is suspended unwinds the body with
/// [`GreenletExit`] (Python's `close()`), so every destructor on its stack
/// runs exactly once before `drop` returns. An unstarted generator is freed
/// without running; its closure (and what it captured) is simply dropped.
///
/// A generator holds no reference to the greenlet that resumes it, so a
/// [`Greenlet`] that owns a generator is dropped and killed like any other;
/// dropping a `Generator` kills its body explicitly.
///
/// # Panic state is per thread
///
/// `std::thread::panicking()` is per thread, not per generator: a body
/// resumed from a destructor that runs during unwinding sees `true`. See
/// [`Greenlet`]'s documentation.
pub struct Generator<I, Y, R = ()> {
    greenlet: Greenlet,
    _types: PhantomData<fn(I) -> GeneratorState<Y, R>>,
}

/// The handle a generator's body uses to yield: [`suspend`](Yielder::suspend)
/// is Python's `x = yield v`.
///
/// The body receives it by reference and cannot keep it beyond its own run,
/// nor send it or share it with another thread (`!Send`, `!Sync`).
///
/// # Examples
///
/// ```
/// use greenlet::{Generator, Yielder};
///
/// // The body can lend its yielder to helper functions.
/// fn emit_pair(y: &Yielder<(), u8>, a: u8) {
///     y.suspend(a);
///     y.suspend(a + 1);
/// }
/// let g = Generator::new(|y, ()| {
///     emit_pair(y, 1);
///     emit_pair(y, 10);
/// });
/// assert_eq!(g.collect::<Vec<_>>(), [1, 2, 10, 11]);
/// ```
pub struct Yielder<I, Y> {
    /// The generator's greenlet (not counted: the body runs on it, so it is
    /// live whenever the yielder can be used).
    greenlet: *const Inner,
    _types: PhantomData<fn(Y) -> I>,
}

impl<I: 'static, Y: 'static, R: 'static> Generator<I, Y, R> {
    /// A new generator that will run `f` on its own greenlet with a stack of
    /// the default size (1 MiB, taken from this thread's pool). Nothing runs
    /// until the first [`resume`](Generator::resume), whose input becomes
    /// `f`'s second argument.
    ///
    /// # Panics
    /// If no stack can be mapped (for example when `vm.max_map_count` is
    /// reached), with the text of the `io::Error`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorState};
    ///
    /// let mut countdown = Generator::new(|y, from: u32| {
    ///     for i in (1..=from).rev() {
    ///         y.suspend(i);
    ///     }
    ///     "liftoff"
    /// });
    /// assert_eq!(countdown.resume(2), GeneratorState::Yielded(2)); // starts the body
    /// assert_eq!(countdown.resume(0), GeneratorState::Yielded(1));
    /// assert_eq!(countdown.resume(0), GeneratorState::Complete("liftoff"));
    /// ```
    pub fn new<F>(f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        Self::with_stack_size(DEFAULT_STACK_SIZE, f)
    }

    /// Like [`new`](Generator::new), with a stack of at least `bytes` usable
    /// bytes (rounded up to whole pages, and to at least
    /// [`crate::stack::MIN_STACK_SIZE`]). Deeply recursive bodies need a
    /// bigger stack; many small generators can use a smaller one. Sizes
    /// other than the default map a new stack instead of using the pool.
    ///
    /// # Panics
    /// If no stack can be mapped, with the text of the `io::Error`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Generator;
    ///
    /// fn depth(n: u32) -> u32 {
    ///     if n == 0 { 0 } else { 1 + depth(n - 1) }
    /// }
    /// let mut deep = Generator::with_stack_size(8 << 20, |y, ()| {
    ///     y.suspend(depth(20_000));
    /// });
    /// assert_eq!(deep.next(), Some(20_000));
    /// assert_eq!(deep.next(), None);
    /// ```
    pub fn with_stack_size<F>(bytes: usize, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let body = move |first: I| -> R {
            let yielder = Yielder {
                greenlet: current_known(),
                _types: PhantomData,
            };
            f(&yielder, first)
        };
        let greenlet = Greenlet::builder()
            .stack_size(bytes)
            .parent(&Greenlet::main())
            .create(body);
        Generator {
            greenlet,
            _types: PhantomData,
        }
    }

    /// Run the body until it yields or returns (Python's `gen.send(input)`).
    ///
    /// The first call starts the body with `input` as its argument; each
    /// later call makes the body's pending [`Yielder::suspend`] return
    /// `input`. Returns [`GeneratorState::Yielded`] with the value the body
    /// yielded, or [`GeneratorState::Complete`] with its return value; the
    /// generator is then complete.
    ///
    /// Any greenlet may resume a generator, including another generator's
    /// body: the body answers whoever resumed it last.
    ///
    /// # Panics
    /// * If the generator is complete (its body returned or panicked).
    /// * If called from inside the generator's own body (it is running).
    /// * With the body's own payload, if the body panics; the generator is
    ///   then complete. (A body that ends by [`GreenletExit`] makes `resume`
    ///   panic with `GreenletExit`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorState};
    /// use std::panic::{AssertUnwindSafe, catch_unwind};
    ///
    /// let mut g = Generator::new(|y, first: &str| {
    ///     let second = y.suspend(first.len()); // `second = yield len(first)`
    ///     second.len() * 10
    /// });
    /// assert_eq!(g.resume("abc"), GeneratorState::Yielded(3));
    /// assert_eq!(g.resume("hello"), GeneratorState::Complete(50));
    /// // Complete: one more resume panics.
    /// assert!(catch_unwind(AssertUnwindSafe(|| g.resume("again"))).is_err());
    /// ```
    #[inline]
    #[track_caller]
    pub fn resume(&mut self, input: I) -> GeneratorState<Y, R> {
        let g = self.greenlet.as_ptr();
        let gi = self.greenlet.inner();
        let mut input = ManuallyDrop::new(input);
        let slot = (&raw mut input).cast::<u8>();
        let t = if gi.state.get() == IN_SUSPEND {
            // Suspended in its `suspend`: the typed switch.
            let me = current_known();
            // SAFETY: `g` waits in `suspend` for an `I` from a typed sender;
            // it is not `me` (which runs) and our handle keeps it alive.
            unsafe { switch::switch_typed(me, g, slot, IN_RESUME) }
        } else {
            // SAFETY: the slot holds an `I`.
            unsafe { resume_generic::<I>(g, slot) }
        };
        let origin = t.data as *const Inner;
        // SAFETY: the sender's Inner, live (suspended or just dead), whose
        // value stays untouched until it is resumed.
        let origin_ref = unsafe { &*origin };
        origin_ref.sp.set(t.sp);
        // A sender in IN_SUSPEND is our body (a `suspend` switches only to
        // the resume waiting for it, and `resumer` is cleared as soon as
        // that resume returns).
        if (origin_ref.state.get() ^ IN_SUSPEND) | flags() == 0 {
            // SAFETY: our body suspended typed, with a `Y` for us.
            return GeneratorState::Yielded(unsafe {
                origin_ref.out_slot.get().cast::<Y>().read()
            });
        }
        // SAFETY: the sender's stack pointer is recorded, its value untaken.
        unsafe { resume_slow::<Y, R>(g, origin) }
    }

    /// Whether the body has finished: it returned (the last
    /// [`resume`](Generator::resume) gave [`GeneratorState::Complete`]) or
    /// panicked. A complete generator must not be resumed again.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Generator;
    ///
    /// let mut g = Generator::new(|y, ()| {
    ///     y.suspend(1);
    /// });
    /// assert!(!g.is_complete());
    /// assert_eq!(g.next(), Some(1));
    /// assert!(!g.is_complete()); // suspended in its yield
    /// assert_eq!(g.next(), None);
    /// assert!(g.is_complete());
    /// ```
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.greenlet.is_dead()
    }
}

/// The first resume (the body starts with a generic receive), or a body
/// suspended somewhere other than `suspend`; and the misuse cases.
///
/// # Safety
/// `g` is a generator's live greenlet; `slot` holds an `I`, which is
/// taken (or dropped, on panic).
#[cold]
#[inline(never)]
#[track_caller]
unsafe fn resume_generic<I: 'static>(g: *const Inner, slot: *mut u8) -> Transfer {
    // SAFETY: the generator's handle keeps `g` alive.
    let state = unsafe { (*g).state.get() };
    if state != SUSPENDED && state != UNSTARTED {
        // SAFETY: the caller's `I`, never handed over.
        unsafe { slot.cast::<I>().drop_in_place() };
        cannot_resume(state == DEAD);
    }
    let me = current_known();
    // SAFETY: the generator's handle keeps `g` alive.
    unsafe { (*g).resumer.set(me) };
    // SAFETY: the body is unstarted or suspended (so not `me`), and the
    // generator's handle keeps it alive; the slot holds an `I`. The state
    // tells a `suspend` that receives it (a body whose last `suspend` went
    // generic) that this is a resume: see `IN_RESUME_TAGGED`.
    unsafe { switch::switch_tagged_waiting(me, g, slot, tag_of::<I>(), IN_RESUME_TAGGED) }
}

/// Anything but a plain yield came back: the end of the body, a yield
/// with a rare path due, or something else resumed us.
///
/// # Safety
/// `g` is the generator's live greenlet; `origin` resumed the current
/// greenlet, its stack pointer has been recorded and its value not
/// taken.
#[cold]
#[inline(never)]
#[track_caller]
unsafe fn resume_slow<Y: 'static, R: 'static>(
    g: *const Inner,
    origin: *const Inner,
) -> GeneratorState<Y, R> {
    // SAFETY: as in `resume`.
    let origin_ref = unsafe { &*origin };
    // SAFETY: the generator's handle keeps `g` alive.
    let gi = unsafe { &*g };
    if ptr::eq(gi.resumer.get(), current_known()) {
        // Resumed by something other than a plain yield: the body does not
        // answer to us any more.
        gi.resumer.set(ptr::null());
    }
    let slot = origin_ref.out_slot.get();
    let from_body = ptr::eq(origin, g);
    if origin_ref.state.get() == IN_SUSPEND {
        // A yield; a rare path is due (tracing, a deferred drop).
        // SAFETY: a typed yield of our body is a `Y`.
        let y = unsafe { slot.cast::<Y>().read() };
        // SAFETY: the value has been taken.
        unsafe { switch::after_switch(origin, Event::Switch) };
        return GeneratorState::Yielded(y);
    }
    let tag = switch::tag_of_sent(origin_ref);
    let ended = from_body && origin_ref.state.get() == DEAD;
    // SAFETY: a generic sender's slot holds a value of `tag`'s type, for
    // us alone; then the value has been taken.
    let state = unsafe {
        let state = if ended {
            match take_unexpected::<R>(slot, tag) {
                Unexpected::Value(r) => Ok(GeneratorState::Complete(r)),
                Unexpected::Panic(p) => Err(Ok(p)),
                Unexpected::Mismatch(found) => Err(Err(found)),
            }
        } else {
            match take_unexpected::<Y>(slot, tag) {
                Unexpected::Value(y) => Ok(GeneratorState::Yielded(y)),
                Unexpected::Panic(p) => Err(Ok(p)),
                Unexpected::Mismatch(found) => Err(Err(found)),
            }
        };
        let event = if matches!(state, Err(Ok(_))) {
            Event::Throw
        } else {
            Event::Switch
        };
        switch::after_switch(origin, event);
        state
    };
    match state {
        Ok(state) if from_body => state,
        Ok(_) | Err(Err(_)) if ended => {
            // The body ended by GreenletExit, which arrives as a value.
            panic::resume_unwind(Box::new(GreenletExit))
        }
        Err(Ok(p)) => panic::resume_unwind(p),
        Ok(_) | Err(Err(_)) => unexpected(),
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn cannot_resume(dead: bool) -> ! {
    if dead {
        panic!("greenlet: Generator::resume called after the generator completed");
    }
    panic!("greenlet: Generator::resume called on a running generator (from inside its own body)");
}

/// A value that is neither a yield nor the end of the body came back.
#[cold]
#[inline(never)]
#[track_caller]
fn unexpected() -> ! {
    panic!(
        "greenlet: Generator::resume: a value that is not the generator's came back; \
         a generator's greenlet was switched to directly, or a generator was resumed while it \
         was running"
    );
}

impl<I: 'static, Y: 'static> Yielder<I, Y> {
    /// Yield `value` to whoever resumed the generator and wait (Python's
    /// `x = yield value`): the pending [`Generator::resume`] returns
    /// [`GeneratorState::Yielded(value)`](GeneratorState::Yielded), and the
    /// input of the next `resume` is returned here.
    ///
    /// If the generator is dropped instead of resumed, this unwinds with
    /// [`GreenletExit`] as its panic payload; let it propagate. (A body that
    /// catches it and yields again is sent `GreenletExit` once more as the
    /// generator's greenlet handle goes away; if it refuses again, one line
    /// goes to stderr and its stack is leaked, as for any greenlet that
    /// refuses to die.)
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorState};
    ///
    /// let mut adder = Generator::new(|y, a: i32| {
    ///     let b = y.suspend("another one?"); // `b = yield "another one?"`
    ///     a + b
    /// });
    /// assert_eq!(adder.resume(2), GeneratorState::Yielded("another one?"));
    /// assert_eq!(adder.resume(3), GeneratorState::Complete(5));
    /// ```
    #[inline]
    #[track_caller]
    pub fn suspend(&self, value: Y) -> I {
        // The yielder only exists in its body, on the generator's greenlet:
        // it is `!Send`, `!Sync`, and handed out by reference to a body,
        // whose 'static bound keeps the reference from reaching another
        // greenlet's stack. So the running greenlet is `self.greenlet`.
        let me = self.greenlet;
        debug_assert!(ptr::eq(me, current_known()));
        // SAFETY: `me` runs, so it is live.
        let me_ref = unsafe { &*me };
        let resumer = me_ref.resumer.get();
        let mut value = ManuallyDrop::new(value);
        let slot = (&raw mut value).cast::<u8>();
        let t = if resumer.is_null() {
            // SAFETY: the slot holds a `Y`.
            unsafe { suspend_generic::<Y>(me, slot) }
        } else {
            // SAFETY: the resumer waits in `resume` (typed) for a `Y` from
            // us (it clears `resumer` when anything else resumes it, so it
            // is live and suspended), and it is not us.
            unsafe { switch::switch_typed(me, resumer, slot, IN_SUSPEND) }
        };
        let origin = t.data as *const Inner;
        // SAFETY: the sender's Inner, live, its value untaken.
        let origin_ref = unsafe { &*origin };
        origin_ref.sp.set(t.sp);
        if (origin_ref.state.get() ^ IN_RESUME) | flags() == 0 {
            // A sender waiting in a resume switched into the generator it
            // resumes, which is ours: an `I`; it waits for our next value.
            me_ref.resumer.set(origin);
            // SAFETY: see above.
            return unsafe { origin_ref.out_slot.get().cast::<I>().read() };
        }
        // SAFETY: recorded, untaken.
        unsafe { suspend_slow::<I>(origin) }
    }
}

/// `suspend` with nobody waiting in `resume`: the body was resumed by a
/// `throw` or `kill` it caught, or by a direct switch. The value goes to the
/// nearest live ancestor, as a greenlet's switch to its parent would
/// (`kill` makes the killer the parent for the duration).
///
/// # Safety
/// `me` runs; `slot` holds a `Y`, which is handed over.
#[cold]
#[inline(never)]
unsafe fn suspend_generic<Y: 'static>(me: *const Inner, slot: *mut u8) -> Transfer {
    // SAFETY: `me` runs; its parent chain is held by it.
    let target = unsafe { switch::live_ancestor((*me).parent.get()) };
    if ptr::eq(target, me) {
        // Its own parent chain leads back to it (a `kill` from a descendant
        // made the killer its parent for a moment): nowhere to go.
        // SAFETY: ours to drop.
        unsafe { slot.cast::<Y>().drop_in_place() };
        panic!("greenlet: Yielder::suspend with nobody to yield to");
    }
    // SAFETY: `target` is live and suspended (only `me` runs); the slot
    // holds a `Y`.
    unsafe { switch::switch_to(me, target, slot, tag_of::<Y>()) }
}

/// `suspend` resumed by anything but a plain `resume`: a rare path is due,
/// a `kill` or `throw` (a panic), or a direct switch with some value.
///
/// # Safety
/// `origin` resumed the current greenlet; its stack pointer has been
/// recorded and its value not taken.
#[cold]
#[inline(never)]
#[track_caller]
unsafe fn suspend_slow<I: 'static>(origin: *const Inner) -> I {
    // SAFETY: as in `suspend`.
    let origin_ref = unsafe { &*origin };
    // SAFETY: we run, so we are live.
    let me = unsafe { &*current_known() };
    let state = origin_ref.state.get();
    if state == IN_RESUME || state == IN_RESUME_TAGGED {
        // A `resume` of this generator (typed, or generic when our last
        // `suspend` went to the parent): it waits for our next value.
        me.resumer.set(origin);
        // SAFETY: a sender waiting in a resume of ours sent an `I` (typed,
        // or tagged with `I`'s tag by `resume_generic`).
        let input = unsafe { origin_ref.out_slot.get().cast::<I>().read() };
        // SAFETY: taken.
        unsafe { switch::after_switch(origin, Event::Switch) };
        return input;
    }
    // Not resumed by a `resume`: nobody waits for our next value.
    me.resumer.set(ptr::null());
    // SAFETY: a generic sender: the value is tagged.
    match unsafe { switch::receive_slow::<I>(origin) } {
        Ok(input) => input,
        Err(e) => panic!("{e}"),
    }
}

impl<I, Y, R> Drop for Generator<I, Y, R> {
    /// Close the generator: a suspended body is unwound by [`GreenletExit`]
    /// before `drop` returns, so its destructors run.
    ///
    /// A running generator (dropped from inside its own body, which takes
    /// switching behind its back) is not killed: its handle just goes away
    /// and the body runs on.
    fn drop(&mut self) {
        if self.greenlet.is_active() && self.greenlet != Greenlet::current() {
            self.close();
        }
    }
}

impl<I, Y, R> Generator<I, Y, R> {
    #[cold]
    #[inline(never)]
    fn close(&mut self) {
        if !std::thread::panicking() {
            // A panic other than GreenletExit raised while the body unwinds
            // continues here, as Python's close() raises it.
            self.greenlet.kill();
            return;
        }
        // Already unwinding: a second panic out of a destructor would abort.
        self.greenlet
            .kill_from_drop("a generator while it was closed");
    }
}

impl<Y: 'static, R: 'static> Iterator for Generator<(), Y, R> {
    type Item = Y;

    /// Resume with `()`: `Some` of each yielded value, then `None` once the
    /// body has returned (its return value is discarded) and forever after.
    #[inline]
    fn next(&mut self) -> Option<Y> {
        if self.is_complete() {
            return None;
        }
        match self.resume(()) {
            GeneratorState::Yielded(y) => Some(y),
            GeneratorState::Complete(_) => None,
        }
    }
}

impl<Y: 'static, R: 'static> FusedIterator for Generator<(), Y, R> {}

impl<I, Y, R> fmt::Debug for Generator<I, Y, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.greenlet.is_dead() {
            "complete"
        } else if !self.greenlet.is_started() {
            "unstarted"
        } else if self.greenlet == Greenlet::current() {
            "running"
        } else {
            "suspended"
        };
        f.debug_struct("Generator")
            .field("state", &format_args!("{state}"))
            .finish()
    }
}

impl<I, Y> fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}

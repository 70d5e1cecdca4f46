//! Python-style generators (`yield` / `send`) built on [`Greenlet`].
//!
//! A [`Generator`] owns one greenlet that runs its body. The body gets a
//! [`Yielder`]; [`Yielder::suspend`] is Python's `x = yield v`, and
//! [`Generator::resume`] is Python's `gen.send(x)`. Examples are on
//! [`Generator`].
//!
//! # How it works
//!
//! Only the public `Greenlet` API is used. The greenlet's function is
//! `|(first, resumer)| Complete(body(&yielder, first))`:
//!
//! * `resume(x)` switches `(x, Greenlet::current())` into the greenlet: the
//!   input and the greenlet to answer to. The first time, `x` becomes the
//!   body's argument; later, it is what the pending `suspend` returns.
//! * `suspend(v)` switches `Yielded(v)` to that resumer and keeps the next
//!   resumer that comes back with the next input. So a generator answers
//!   whoever resumed it last, which is what lets generators drive other
//!   generators, from any greenlet.
//! * When the body ends, the greenlet's parent is made the last resumer
//!   just before it dies, so that the `Greenlet` rules for death deliver
//!   `Complete(r)`, or the body's panic, to the pending `resume`. The rest of
//!   the time the parent is the thread's main greenlet, so that the parent
//!   link adds no reference to the resumer (nor costs a `set_parent` per
//!   `resume`).
//! * Dropping a generator that is suspended kills its greenlet, so
//!   `GreenletExit` unwinds the body and every destructor on its stack runs
//!   (Python's `close()`).
//!
//! A switch passes its value without allocating, so neither `resume` nor
//! `suspend` allocates.

use crate::stack::DEFAULT_STACK_SIZE;
use crate::{Greenlet, GreenletExit, SwitchError};
use std::any::type_name;
use std::cell::Cell;
use std::fmt;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

/// What [`Generator::resume`] returns: the body either yielded a value with
/// [`Yielder::suspend`] or returned.
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
/// A suspended generator holds a handle to the greenlet that resumed it
/// last, since its next yield goes there. So a plain [`Greenlet`] that owns
/// a generator it has resumed is kept alive by that generator: dropping the
/// greenlet's last handle does not kill it (the two form a reference cycle);
/// [`Greenlet::kill`] it instead, which unwinds it and closes the generator.
/// A generator owned by another generator needs nothing of the kind:
/// dropping a `Generator` always kills its body explicitly.
pub struct Generator<I, Y, R = ()> {
    greenlet: Greenlet,
    _types: PhantomData<fn(I) -> GeneratorState<Y, R>>,
}

/// The handle a generator's body uses to yield: [`suspend`](Yielder::suspend)
/// is Python's `x = yield v`.
///
/// The body receives it by reference and cannot keep it beyond its own run,
/// nor send it or share it with another thread (`!Send`, `!Sync`).
pub struct Yielder<I, Y> {
    /// The greenlet of the pending `resume`, which each `resume` sends along
    /// with its input. `None` while the body is suspended in `suspend` (the
    /// handle then lives in `suspend`'s frame).
    resumer: Cell<Option<Greenlet>>,
    /// Switches `Yielded(value)` to the resumer and receives the next input
    /// and resumer. The resumer expects a `GeneratorState<Y, R>`, and `R` is
    /// not a parameter of `Yielder`, so the generator stores the function
    /// instantiated with its `R` here.
    switch: fn(&Greenlet, Y) -> Resumed<I>,
    _not_send: PhantomData<*const ()>,
}

/// What `resume` switches into the generator's greenlet: the input, and the
/// greenlet that the body answers to.
type Resumed<I> = (I, Greenlet);

impl<I: 'static, Y: 'static, R: 'static> Generator<I, Y, R> {
    /// A new generator that will run `f` on its own greenlet with a stack of
    /// the default size (1 MiB, taken from this thread's pool). Nothing runs
    /// until the first [`resume`](Generator::resume), whose input becomes
    /// `f`'s second argument.
    ///
    /// # Panics
    /// If no stack can be mapped (for example when `vm.max_map_count` is
    /// reached), with the text of the `io::Error`.
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
    pub fn with_stack_size<F>(bytes: usize, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let body = move |(first, resumer): Resumed<I>| -> GeneratorState<Y, R> {
            let yielder = Yielder {
                resumer: Cell::new(Some(resumer)),
                switch: switch_to_resumer::<I, Y, R>,
                _not_send: PhantomData,
            };
            match panic::catch_unwind(AssertUnwindSafe(|| f(&yielder, first))) {
                Ok(r) => {
                    yielder.deliver_end_to_resumer();
                    GeneratorState::Complete(r)
                }
                Err(p) => {
                    yielder.deliver_end_to_resumer();
                    panic::resume_unwind(p)
                }
            }
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
    #[inline]
    pub fn resume(&mut self, input: I) -> GeneratorState<Y, R> {
        if self.greenlet.is_dead() {
            resume_after_completion();
        }
        let resumer = Greenlet::current();
        if resumer == self.greenlet {
            resume_while_running();
        }
        // Once the body has ended, point the dead greenlet's parent back at
        // main (the body pointed it at us to deliver its end), so that it
        // holds no reference to us: however `resume` returns.
        struct Detach<'a>(&'a Greenlet);
        impl Drop for Detach<'_> {
            #[inline]
            fn drop(&mut self) {
                if self.0.is_dead() {
                    detach(self.0);
                }
            }
        }
        let _detach = Detach(&self.greenlet);
        let resumed: Resumed<I> = (input, resumer);
        match self
            .greenlet
            .try_switch::<Resumed<I>, GeneratorState<Y, R>>(resumed)
        {
            Ok(state) => state,
            Err(e) => self.unexpected(e),
        }
    }

    /// A value that is not a `GeneratorState<Y, R>` came back: the body
    /// ended by `GreenletExit` (which arrives as a value), or greenlets were
    /// switched to directly with the `Greenlet` API behind the generators'
    /// backs.
    #[cold]
    #[inline(never)]
    fn unexpected(&self, e: SwitchError) -> ! {
        let SwitchError::TypeMismatch { found, .. } = &e;
        if self.greenlet.is_dead() && *found == type_name::<GreenletExit>() {
            panic::resume_unwind(Box::new(GreenletExit));
        }
        panic!(
            "greenlet: Generator::resume: {e}; a generator's greenlet was switched to directly, \
             or a generator was resumed while it was running"
        );
    }

    /// Whether the body has finished: it returned (the last
    /// [`resume`](Generator::resume) gave [`GeneratorState::Complete`]) or
    /// panicked. A complete generator must not be resumed again.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.greenlet.is_dead()
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn resume_after_completion() -> ! {
    panic!("greenlet: Generator::resume called after the generator completed");
}

#[cold]
#[inline(never)]
#[track_caller]
fn resume_while_running() -> ! {
    panic!("greenlet: Generator::resume called on a running generator (from inside its own body)");
}

/// Make main the parent of a dead generator's greenlet again.
#[cold]
#[inline(never)]
fn detach(greenlet: &Greenlet) {
    // Main is nobody's descendant, so this cannot fail.
    let _ = greenlet.set_parent(&Greenlet::main());
}

/// `Yielder`'s switch for a generator returning `R`: send `Yielded(value)`
/// to the resumer and receive the next input with its resumer.
///
/// A `GreenletExit` raised here by `kill` (or by dropping the generator)
/// unwinds out of `switch` and on through the body, as it should.
fn switch_to_resumer<I: 'static, Y: 'static, R: 'static>(
    resumer: &Greenlet,
    value: Y,
) -> Resumed<I> {
    resumer.switch::<GeneratorState<Y, R>, Resumed<I>>(GeneratorState::Yielded(value))
}

impl<I, Y> Yielder<I, Y> {
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
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        // Held in this frame while suspended, so that a GreenletExit that
        // unwinds the switch drops it, and the body's end can tell that it
        // was unwound from here.
        let resumer = match self.resumer.take() {
            Some(r) => r,
            None => refused_exit(),
        };
        let (input, next) = (self.switch)(&resumer, value);
        drop(resumer);
        // The cell is empty (taken above): nothing to drop.
        let empty = self.resumer.replace(Some(next));
        debug_assert!(empty.is_none());
        mem::forget(empty);
        input
    }

    /// The body has ended (returned, or is unwinding): make its last resumer
    /// the greenlet's parent, so that the end is delivered to the pending
    /// `resume`.
    ///
    /// Not when the body is unwinding from a `suspend` (the resumer is not
    /// here then): a `GreenletExit` or a panic was thrown into it, and
    /// whoever threw it chose the parent (`kill`, as when the generator is
    /// dropped, makes itself the parent for the duration). Nor when the
    /// parent is not main: someone (`kill` again) set it on purpose.
    fn deliver_end_to_resumer(&self) {
        let Some(resumer) = self.resumer.take() else {
            return;
        };
        let me = Greenlet::current();
        if me.parent().is_some_and(|p| p.is_main()) {
            // Refused only if `resumer` descends from this greenlet, which
            // takes switching behind the generators' backs; main then gets
            // the end.
            let _ = me.set_parent(&resumer);
        }
    }
}

/// `suspend` was called after a `GreenletExit` (or another panic thrown in
/// at a `suspend`) was caught in the body: the value goes to the parent,
/// which `kill` made the killer.
#[cold]
#[inline(never)]
fn refused_exit() -> Greenlet {
    Greenlet::current()
        .parent()
        .expect("a generator's greenlet always has a parent")
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

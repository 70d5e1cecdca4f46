//! Python-style generators (`yield` / `send`) built on [`Greenlet`].
//!
//! A [`Generator`] owns one greenlet that runs its body. The body gets a
//! [`Yielder`]; [`Yielder::suspend`] is Python's `x = yield v`, and
//! [`Generator::resume`] is Python's `gen.send(x)`:
//!
//! ```
//! use greenlet::{Generator, GeneratorState};
//!
//! // A running total: every value sent in is added, the total comes back.
//! let mut total = Generator::new(|y, first: i64| {
//!     let mut sum = first;
//!     while sum < 100 {
//!         let next = y.suspend(sum); // `next = yield sum`
//!         sum += next;
//!     }
//!     "done"
//! });
//! assert_eq!(total.resume(10), GeneratorState::Yielded(10));
//! assert_eq!(total.resume(32), GeneratorState::Yielded(42));
//! assert_eq!(total.resume(58), GeneratorState::Complete("done"));
//! assert!(total.is_complete());
//! ```
//!
//! Generators with no input (`I = ()`) are iterators:
//!
//! ```
//! use greenlet::Generator;
//!
//! let squares = Generator::new(|y, ()| {
//!     for i in 1..=4u32 {
//!         y.suspend(i * i);
//!     }
//! });
//! assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9, 16]);
//! ```
//!
//! # How it works
//!
//! Only the public `Greenlet` API is used. The greenlet's function is
//! `|first| Complete(body(&yielder, first))`, and every value that travels
//! back to the resumer is a `GeneratorState<Y, R>`:
//!
//! * `resume(x)` makes the greenlet's parent the resuming greenlet (so a
//!   generator returns to whoever resumed it last, which is what makes
//!   generators that drive other generators work) and switches `x` into it:
//!   the first time `x` becomes the body's argument, later it is what the
//!   pending `suspend` returns.
//! * `suspend(v)` switches `Yielded(v)` to the greenlet's parent.
//! * When the body returns `r`, the greenlet dies and `Complete(r)` goes to
//!   its parent; when it panics, the panic continues in the parent, out of
//!   `resume`. Both are the `Greenlet` rules for death.
//! * Dropping a generator that is suspended kills its greenlet, so
//!   `GreenletExit` unwinds the body and every destructor on its stack runs
//!   (Python's `close()`).
//!
//! A switch passes its value without allocating, so neither `resume` nor
//! `suspend` allocates.

use crate::stack::DEFAULT_STACK_SIZE;
use crate::{Greenlet, GreenletExit, SwitchError};
use std::any::type_name;
use std::fmt;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::panic;

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
/// type `Y` out with [`Yielder::suspend`], receives values of type `I` with
/// [`Generator::resume`], and finally returns an `R`.
///
/// `!Send` and `!Sync`, like the greenlet it owns: a generator stays on the
/// thread that created it.
///
/// Dropping a generator whose body is suspended unwinds the body with
/// [`GreenletExit`] (Python's `close()`), so every destructor on its stack
/// runs exactly once before `drop` returns. An unstarted generator is freed
/// without running; its closure (and what it captured) is simply dropped.
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
    /// Switches `Yielded(value)` to the generator's resumer. The resumer
    /// expects a `GeneratorState<Y, R>`, and `R` is not a parameter of
    /// `Yielder`, so `Generator::new` stores the function instantiated with
    /// its `R` here.
    suspend: fn(Y) -> I,
    _not_send: PhantomData<*const ()>,
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
        let greenlet =
            Greenlet::builder()
                .stack_size(bytes)
                .create(move |first: I| -> GeneratorState<Y, R> {
                    let yielder = Yielder {
                        suspend: suspend_to_resumer::<I, Y, R>,
                        _not_send: PhantomData,
                    };
                    GeneratorState::Complete(f(&yielder, first))
                });
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
    /// The body runs as a child of the calling greenlet: a generator may be
    /// created in one greenlet (or generator) and resumed from another.
    ///
    /// # Panics
    /// * If the generator is complete (its body returned or panicked).
    /// * If the generator is running: called from inside its own body, or
    ///   from a generator (or greenlet) that it is itself resuming.
    /// * With the body's own payload, if the body panics; the generator is
    ///   then complete. (A body that ends by [`GreenletExit`] makes `resume`
    ///   panic with `GreenletExit`.)
    #[inline]
    pub fn resume(&mut self, input: I) -> GeneratorState<Y, R> {
        if self.greenlet.is_dead() {
            resume_after_completion();
        }
        let resumer = Greenlet::current();
        if self.greenlet.parent().as_ref() != Some(&resumer) {
            self.adopt(&resumer);
        }
        drop(resumer);
        match self.greenlet.try_switch::<I, GeneratorState<Y, R>>(input) {
            Ok(state) => state,
            Err(e) => self.unexpected(e),
        }
    }

    /// Make `resumer` the greenlet's parent, or refuse because the
    /// generator is running.
    #[cold]
    #[inline(never)]
    fn adopt(&self, resumer: &Greenlet) {
        // `set_parent` refuses exactly when `resumer` is the generator's
        // greenlet or one of its descendants: the generator is running.
        if self.greenlet.set_parent(resumer).is_err() {
            panic!(
                "greenlet: Generator::resume called on a running generator \
                 (from inside its own body, or from something it is resuming)"
            );
        }
    }

    /// A value that is not a `GeneratorState<Y, R>` came back: the body
    /// died by `GreenletExit` (it arrives as a value), or someone switched
    /// into this greenlet directly with the `Greenlet` API.
    #[cold]
    #[inline(never)]
    fn unexpected(&self, e: SwitchError) -> ! {
        let SwitchError::TypeMismatch { found, .. } = &e;
        if self.greenlet.is_dead() && *found == type_name::<GreenletExit>() {
            panic::resume_unwind(Box::new(GreenletExit));
        }
        panic!("greenlet: Generator::resume: {e}");
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

/// `Yielder::suspend` for a generator returning `R`: send `Yielded(value)`
/// to the generator's parent (its last resumer, set by `resume`) and return
/// the input of the next `resume`.
fn suspend_to_resumer<I: 'static, Y: 'static, R: 'static>(value: Y) -> I {
    // A `&Yielder` only exists inside the body, which only runs on the
    // generator's own greenlet: the current one.
    let resumer = Greenlet::current()
        .parent()
        .expect("a generator's greenlet always has a parent");
    // A `GreenletExit` raised here by `kill` (or by dropping the generator)
    // unwinds out of `switch` and on through the body, as it should.
    resumer.switch::<GeneratorState<Y, R>, I>(GeneratorState::Yielded(value))
}

impl<I, Y> Yielder<I, Y> {
    /// Yield `value` to whoever resumed the generator and wait (Python's
    /// `x = yield value`): the pending [`Generator::resume`] returns
    /// [`GeneratorState::Yielded(value)`](GeneratorState::Yielded), and the
    /// input of the next `resume` is returned here.
    ///
    /// If the generator is dropped instead of resumed, this unwinds with
    /// [`GreenletExit`] as its panic payload; let it propagate (a body that
    /// catches it and yields again is reported on stderr and its stack is
    /// leaked, as for any greenlet that refuses to die).
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        (self.suspend)(value)
    }
}

impl<I, Y, R> Drop for Generator<I, Y, R> {
    /// Close the generator: a suspended body is unwound by [`GreenletExit`]
    /// before `drop` returns, so its destructors run.
    ///
    /// This kills explicitly rather than relying on the `Greenlet` handle's
    /// own drop, which only kills when it is the last handle: a generator
    /// that holds another generator it has resumed is also referenced by
    /// that one (as its parent), and that cycle would keep both alive.
    ///
    /// A running generator (one whose body is executing, possibly inside a
    /// `resume` of something that is dropping it) is not killed: its handle
    /// just goes away and the body runs on until it yields or returns.
    fn drop(&mut self) {
        if self.greenlet.is_active() && !self.is_running() {
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
        let g = &self.greenlet;
        if let Err(p) = panic::catch_unwind(panic::AssertUnwindSafe(|| g.kill())) {
            let what = p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a non-string payload");
            eprintln!("greenlet: a panic escaped a generator while it was closed: {what}");
        }
    }
}

impl<I, Y, R> Generator<I, Y, R> {
    /// Whether the body is executing: its greenlet is the current one, or
    /// an ancestor of it (the body is inside a `resume` of something else).
    fn is_running(&self) -> bool {
        let mut g = Some(Greenlet::current());
        while let Some(h) = g {
            if h == self.greenlet {
                return true;
            }
            g = h.parent();
        }
        false
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
        } else if self.is_running() {
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

//! Stackful coroutines on hand-written assembly, with Python greenlet's
//! semantics.
//!
//! Layers, each using only the one below it:
//!
//! * `asm/<arch>_<abi>.S` — the context switch per CPU (no Rust knowledge);
//! * [`raw`] — `extern "C"` declarations and the unsafe raw API;
//! * [`stack`] — mmap'd, guard-paged, pooled stacks;
//! * [`Greenlet`] — the safe API with Python greenlet's semantics;
//! * [`Generator`] — Python-style generators (`yield` / `send`) on greenlets.
//!
//! ```
//! use greenlet::Greenlet;
//!
//! let child = Greenlet::new(|x: i32| {
//!     // Send x + 1 to main and wait for the next value.
//!     let y: i32 = Greenlet::main().switch(x + 1);
//!     y * 10 // returned to the parent (main) when the greenlet ends
//! });
//! let a: i32 = child.switch(1);
//! assert_eq!(a, 2);
//! let b: i32 = child.switch(5);
//! assert_eq!(b, 50);
//! assert!(child.is_dead());
//! ```

pub mod raw;
pub mod stack;

mod generator;
mod greenlet;
mod overflow;
mod sanitizer;

pub use generator::{Generator, GeneratorState, Yielder};
pub use greenlet::{
    Builder, Event, Greenlet, GreenletExit, ParentError, SwitchError, TraceFn, settrace,
};

//! Stackful coroutines on hand-written assembly, with Python greenlet's
//! semantics.
//!
//! Layers, each using only the one below it:
//!
//! * `asm/<arch>_<abi>.S` — the context switch per CPU (no Rust knowledge);
//! * [`raw`] — `extern "C"` declarations and the unsafe raw API, including
//!   [`raw::StackRegion`] for stacks on memory the caller provides;
//! * `stack` — mmap'd, guard-paged, pooled stacks (feature `std`);
//! * `Greenlet` — the safe API with Python greenlet's semantics (`std`);
//! * `Generator` — Python-style generators (`yield` / `send`) on greenlets
//!   (`std`);
//! * `hub` — gevent-style scheduling: spawn, join, sleep, timeouts and
//!   cooperative IO, one hub per thread (`std`).
//!
//! With `default-features = false` the crate is `#![no_std]`, needs no
//! allocator, and consists of [`raw`] alone: the assembly switch and
//! [`raw::StackRegion`]. The `std` feature (on by default) adds the rest.
//!
//! ```
//! # #[cfg(feature = "std")] {
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
//! # }
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The unit tests use std (the test harness links it anyway).
#[cfg(all(test, not(feature = "std")))]
extern crate std;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod hub;
pub mod raw;
mod region;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod stack;

#[cfg(feature = "std")]
mod generator;
#[cfg(feature = "std")]
mod greenlet;
#[cfg(feature = "std")]
mod overflow;
#[cfg(feature = "std")]
mod sanitizer;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use generator::{Generator, GeneratorState, Yielder};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use greenlet::{
    Builder, Event, Greenlet, GreenletExit, Local, ParentError, SwitchError, TraceFn, settrace,
};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use overflow::disable_overflow_handler;

// The crate documentation. With `std` it is the README, whose examples
// (which need `std`) thereby run as doctests. The README links to docs/*.md
// and other files of the package by relative paths, which work where the
// repository or the package is browsed but not on a rustdoc page; so the
// same link labels are defined here first, pointing at the published
// package's files on docs.rs (CommonMark keeps the first definition of a
// label). The layers are described in the README's "Documentation" list
// and in docs/layers.md.
#![cfg_attr(
    feature = "std",
    doc = concat!("[layers]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/layers.md"),
    doc = concat!("[greenlet]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/greenlet.md"),
    doc = concat!("[generator]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/generator.md"),
    doc = concat!("[hub]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/hub.md"),
    doc = concat!("[raw]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/raw.md"),
    doc = concat!("[stacks]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/stacks.md"),
    doc = concat!("[c-and-no_std]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/c-and-no_std.md"),
    doc = concat!("[sanitizers]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/sanitizers.md"),
    doc = concat!("[targets]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/targets.md"),
    doc = concat!("[measurements]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/docs/measurements.md"),
    doc = concat!("[porting]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/PORTING.md"),
    doc = concat!("[apache]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/LICENSE-APACHE"),
    doc = concat!("[mit]: https://docs.rs/crate/greenlet/", env!("CARGO_PKG_VERSION"), "/source/LICENSE-MIT"),
    doc = "",
    doc = include_str!("../README.md")
)]
// Without `std` the README's examples could not run; a short text instead.
#![cfg_attr(
    not(feature = "std"),
    doc = "Stackful coroutines on hand-written assembly, with Python greenlet's semantics.

This build is without the `std` feature: the crate is `#![no_std]`, needs no
allocator and no libc, and consists of [`raw`] alone, that is the assembly
context switch of `asm/<arch>_<abi>.S` (`raw::stack_init`, `raw::switch`,
`raw::switch_ontop`) and [`raw::StackRegion`] for stacks on memory the caller
provides. The `std` feature (on by default) adds the layers above it: `stack`
(mmap'd, guard-paged, pooled stacks), `Greenlet` (the safe API with Python
greenlet's semantics), `Generator` (`yield` / `send` on greenlets) and `hub`
(gevent-style scheduling and cooperative IO, one hub per thread).

```
use greenlet::raw::{self, StackPointer, StackRegion};

unsafe extern \"C\" fn add_one(mut from: StackPointer, mut data: usize) -> ! {
    loop {
        let t = unsafe { raw::switch(from, data + 1) };
        (from, data) = (t.sp, t.data);
    }
}

let mut memory = [0u8; 16 * 1024];
let region = StackRegion::from_slice(&mut memory).expect(\"16 KiB is enough\");
let sp = unsafe { region.init(add_one) };
assert_eq!(unsafe { raw::switch(sp, 41) }.data, 42);
```"
)]
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
mod os;
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

/// The Rust examples of `docs/*.md`, compiled and run as doctests: one unit
/// struct per file, documented by the file itself. The files are not part
/// of the rendered documentation; this module exists only for
/// `cargo test --doc`. Files whose examples need `std` are left out without
/// it.
#[cfg(doctest)]
mod doc_files {
    #[doc = include_str!("../docs/layers.md")]
    pub struct Layers;

    #[cfg(feature = "std")]
    #[doc = include_str!("../docs/greenlet.md")]
    pub struct Greenlet;

    #[cfg(feature = "std")]
    #[doc = include_str!("../docs/generator.md")]
    pub struct Generator;

    #[cfg(all(feature = "std", unix))]
    #[doc = include_str!("../docs/hub.md")]
    pub struct Hub;

    #[cfg(feature = "std")]
    #[doc = include_str!("../docs/raw.md")]
    pub struct Raw;

    #[cfg(feature = "std")]
    #[doc = include_str!("../docs/stacks.md")]
    pub struct Stacks;

    #[doc = include_str!("../docs/c-and-no_std.md")]
    pub struct CAndNoStd;

    #[doc = include_str!("../docs/sanitizers.md")]
    pub struct Sanitizers;

    #[doc = include_str!("../docs/targets.md")]
    pub struct Targets;

    #[doc = include_str!("../docs/measurements.md")]
    pub struct Measurements;
}

//! Stackful coroutines on hand-written assembly, with Python greenlet's
//! semantics.
//!
//! Layers, each using only the one below it:
//!
//! * `asm/<arch>_<abi>.S` — the context switch per CPU (no Rust knowledge);
//! * [`raw`] — `extern "C"` declarations and the unsafe raw API;
//! * [`stack`] — mmap'd, guard-paged, pooled stacks.

pub mod raw;
pub mod stack;

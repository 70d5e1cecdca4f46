//! Guarded, pooled stacks for greenlets.
//!
//! A [`Stack`] is laid out as
//!
//! ```text
//! low addresses                                          high addresses
//! [ guard page: no access ][ usable bytes: read/write ..................]
//! ^ guard().start          ^ bottom()                                    ^ top()
//! ```
//!
//! Stacks grow down, so a greenlet starts with its stack pointer at
//! [`Stack::top`] and an overflow runs into the guard page, which faults
//! instead of silently corrupting a neighbouring stack.
//!
//! ```
//! use greenlet::stack::{Stack, page_size};
//!
//! let stack = Stack::new(64 * 1024).unwrap();
//! assert_eq!(stack.size(), 64 * 1024); // whole pages already
//! assert_eq!(stack.top() as usize - stack.bottom() as usize, stack.size());
//! let guard = stack.guard(); // no access: an overflow faults here
//! assert_eq!(guard.end, stack.bottom() as usize);
//! assert!(guard.len() >= page_size());
//! ```
//!
//! # Guard modes
//!
//! How the guard page is made depends on the [`GuardMode`], decided once per
//! process by [`guard_mode`]:
//!
//! * [`GuardMode::KernelGuard`] (Linux 6.13 and later): stacks are slots
//!   carved out of large shared *arenas*, `MAP_NORESERVE` mappings of many
//!   `[guard page][usable]` slots, and each guard is installed with
//!   `madvise(MADV_GUARD_INSTALL)`, which marks the page in the page tables
//!   without splitting the mapping. Any number of guarded stacks then costs
//!   a handful of kernel mappings (VMAs), so `vm.max_map_count` no longer
//!   limits how many greenlets a process can have. A dropped stack's pages
//!   are given back with `MADV_DONTNEED` (the guard marker survives that)
//!   and the slot goes to its chunk's free list, from which [`Stack::new`]
//!   reuses it; a chunk none of whose slots is in use is unmapped. An
//!   arena's chunks double as it grows, so it reserves at most twice the
//!   address space of the most stacks of its size in use at once (see
//!   "Arenas" below). Stacks larger than [`ARENA_MAX_STACK_SIZE`]
//!   get a mapping of their own, still guarded with `MADV_GUARD_INSTALL`
//!   (one VMA each).
//! * [`GuardMode::Mprotect`] (older kernels, and qemu-user, which accepts
//!   `MADV_GUARD_INSTALL` but installs nothing): each stack is its own
//!   mapping whose guard page is made `PROT_NONE` with `mprotect`. That
//!   splits the mapping in two, so each stack costs *two* kernel mappings
//!   and Linux's default `vm.max_map_count` (65530) allows roughly 32 000
//!   live stacks.
//!
//! Whole mappings (an arena chunk, a stack's own mapping, the guard-mode
//! probe) are made by the OS layer and owned by its `Mapping` (on Unix
//! `memmap2`'s `MmapOptions::map_anon` with `stack()` and
//! `no_reserve_swap()`; on Windows a `VirtualAlloc` reservation, whose
//! guard is a `PAGE_NOACCESS` page under a reserve of `PAGE_GUARD` pages,
//! see `os::windows`), and unmapped when their handle is dropped. Parts of mappings are `libc`'s: the guard pages (`mprotect`,
//! `madvise(MADV_GUARD_INSTALL)`), giving pages back (`MADV_DONTNEED`), and
//! the arena slots, which are not mappings of their own. A handle is never
//! dereferenced once a guard is in (a slice over the mapping would claim
//! the guard page is readable), so each owner keeps the base address it
//! took while the mapping was still all read/write. `Stack` stays four
//! words, as the pooled creation path needs: its own mapping's handle is
//! boxed, one allocation for a stack that costs two system calls anyway.
//!
//! Memory is mapped with `MAP_STACK` and `MAP_NORESERVE` and touched lazily:
//! a stack that was only used shallowly costs only the pages it touched.
//! Running out of mappings, address space (`RLIMIT_AS`) or memory is
//! reported as an [`std::io::Error`] of kind [`std::io::ErrorKind::OutOfMemory`] whose
//! text says what ran out and what to do about it; it is never a panic or a
//! crash.
//!
//! # The per-thread pool
//!
//! Stacks of the default size are recycled through a per-thread pool so
//! that creating a greenlet costs no system call: [`Stack::acquire`] takes
//! the most recently released one and [`Stack::release`] puts one back. The
//! [`WARM_STACKS`] most recently released stacks keep their pages (reusing
//! them is free); a stack that falls out of that warm window, and any stack
//! given back to an arena, first has its usable pages returned to the
//! kernel with `madvise(MADV_DONTNEED)`. So at most [`WARM_STACKS`] stacks'
//! touched pages stay resident per thread while unused.
//!
//! Arena stacks released while the pool is full (a burst of more than
//! [`POOL_CAPACITY`] greenlets ending) are given back [`RELEASE_BATCH`] at a
//! time, with one `process_madvise(MADV_DONTNEED)` for the whole batch where
//! the kernel allows it for the calling process (Linux 6.15 and later, with
//! `PIDFD_SELF_THREAD`), instead of one `madvise` each; elsewhere each gets
//! its own `madvise` as before. So up to `RELEASE_BATCH - 1` such stacks
//! keep their pages for a while (until the batch is full, or the thread
//! exits).
//!
//! Why these numbers (`examples/spawn_join.rs`, AMD EPYC VM, Linux 6.18, 1
//! MiB stacks each touching one page): a stack that has to be given back
//! and touched again costs about 2.5 us (the `madvise`, a page fault, a
//! zeroed page) where a warm one costs nothing, so a workload with more
//! greenlets alive at once than the warm window pays that on every
//! greenlet: with 100 alive (yielding 10 times each), 3.0 us per greenlet
//! with a window of 16 against 0.55 us with 256; tokio's task costs 0.63 us
//! there. The price is memory kept per thread after such a burst: 256 times
//! the pages each stack touched (1 MiB for stacks that touch one page; at
//! worst 256 MiB if every one of them had used its whole 1 MiB). Batching
//! the give-backs of a larger burst saves about 0.7 us of the 1.5 us that
//! `madvise` costs per stack (100,000 alive: 6.0 us per greenlet to 5.2).
//!
//! # Valgrind
//!
//! Every stack's usable range is registered with Valgrind
//! (`VALGRIND_STACK_REGISTER`, through [`crate::raw::valgrind_request`]; a
//! no-op on a real CPU) when the stack is made, and deregistered when it is
//! given back (unmapped, or returned to its arena). Pooled stacks stay
//! registered. So under Valgrind a switch is a change of stack, not a huge
//! push or pop on one stack.
//!
//! # Arenas
//!
//! An arena holds the stacks of one usable size, in chunks (mappings) of
//! slots. A new chunk is mapped only when every slot is in use, with as
//! many slots as the arena's chunks together (one for the first), so right
//! after growing an arena reserves twice what is in use. A chunk is
//! unmapped as soon as none of its slots is in use, and an arena with no
//! chunk left is forgotten: stacks of hundreds of sizes made and dropped one
//! after another reserve no more than the largest of them, and when every
//! arena stack has been dropped (pooled stacks are dropped when their
//! thread exits) the address space is back where it was.
//!
//! # Files
//!
//! `sizes.rs` (page size, rounding), `mode.rs` (the guard mode), `guarded.rs`
//! (the [`Stack`] type), `arena.rs`, `pool.rs` (the per-thread pool),
//! `valgrind.rs` and `error.rs` (the error of a stack that cannot be made).
//! The system calls (mapping, guards, giving pages back, the guard-marker
//! probe, the limits an error names) are the OS layer's (`src/os/`).

mod arena;
mod error;
mod guarded;
mod mode;
mod pool;
mod sizes;
mod valgrind;

pub use arena::ARENA_MAX_STACK_SIZE;
pub use guarded::Stack;
pub use mode::{GUARD_MODE_ENV, GuardMode, guard_mode};
pub use pool::{POOL_CAPACITY, RELEASE_BATCH, WARM_STACKS, pooled};
pub use sizes::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE, page_size};

//! The OS layer: everything this crate asks of the operating system, one
//! module per OS family, so that porting to an OS is one module here (plus
//! its assembly, in `asm/`, if its calling convention or object format
//! differs), as porting to a CPU is one assembly file.
//!
//! Every OS module provides the same items, which the layers above use
//! through this module only:
//!
//! | item | what |
//! |---|---|
//! | `page_size()` | the page size, if the OS reports a usable one |
//! | `guard_size(page)` | bytes of guard below each stack: one page (Windows: one more reserve for the exception dispatcher) |
//! | `Mapping`, `map_anonymous(len)` | private read/write memory for stacks, owned by a `Mapping` (which frees it when dropped; `as_mut_ptr()` gives its start): `memmap2::MmapMut` on Unix, a `VirtualAlloc` reservation on Windows |
//! | `protect_none(start, len)` | a guard: the range faults on any access |
//! | `install_kernel_guard(start, len)` / `kernel_guard_works()` | a guard without a mapping of its own (Linux 6.13+); `Unsupported` / `false` elsewhere |
//! | `forget_pages(start, len)` / `forget_many(ranges)` | give stack pages back, one range or many per system call |
//! | `NO_MEMORY`, `is_no_memory(err)` | the OS error for "out of memory", and whether an error is one |
//! | `STACK_CALLS` | the system call behind each step of making a stack (map, guard, kernel guard, arena chunk), as a [`StackCalls`] a stack error names: `mmap`, `mprotect`, ... on Unix; `VirtualAlloc`, `VirtualProtect` on Windows |
//! | `StackLimits::read()`, `StackLimits::fmt(f, layout, bytes)` | the limits a stack error names, read when it happens, and the sentences that explain them and what to do, for a stack of `bytes` (guard included) laid out as the [`StackLayout`] says (Unix: the process's mappings against `vm.max_map_count`, `RLIMIT_AS`; Windows: the reservation, the address space, the commit limit) |
//! | `install_fault_handler(is_overflow)` | the process's handler for faults in guard pages; `is_overflow` (the overflow report's) decides and writes the report |
//! | `arm_fault_stack()` | the calling thread can run the handler even on an overflowed stack |
//! | `write_stderr(bytes)` | async-signal-safe write of the report |
//! | `state_local!` | per-thread state that outlives every `thread_local!` destructor of its thread: `thread_local!` itself where thread-locals are native; a `StateKey` on windows-gnu (`windows/tls.rs`) |
//! | `net::{AsSock, BorrowedSock, OwnedSock, RawSock, borrow, raw}` | the hub's sockets: descriptors (`AsFd`, ...) on Unix, `SOCKET` handles (`AsSocket`, ...) on Windows |
//! | `net::Lent` | a socket the hub does not own, registered with the poller for the waits on it |
//! | `net::impl_as_sock!` | `AsFd`/`AsRawFd` (Unix) or `AsSocket`/`AsRawSocket` (Windows) for the hub's socket types |
//! | `net::set_backlog`, `net::always_ready`, `net::SHORT_IO_WAITS_FOR_EVENT` | a listener's backlog; descriptors the poller refuses because they are always ready; whether a short read may wait for the next event (see `net.rs`) |
//!
//! The hub's readiness itself (epoll, kqueue, Windows' AFD polls) is `mio`'s,
//! not this layer's.
//!
//! Which family a target belongs to is decided here, by `cfg`; within a
//! family, what only one member has (Linux's guard markers and
//! `process_madvise`, its `/proc` files) is behind `cfg(target_os)` in the
//! family's module, with the fallback every member has.

/// The system call behind each step of making a stack, named in the
/// message of a stack that could not be made (each family's
/// `STACK_CALLS`). A family without a step (Windows has no kernel guards,
/// so no arenas) still names what it would call, or says it has none.
pub(crate) struct StackCalls {
    /// Mapping a stack's own memory.
    pub(crate) map: &'static str,
    /// Protecting a stack's guard, and what that costs if anything.
    pub(crate) guard: &'static str,
    /// Installing a guard that needs no mapping of its own
    /// (`install_kernel_guard`), and what that costs.
    pub(crate) kernel_guard: &'static str,
    /// Reserving address space for a new arena chunk of stacks.
    pub(crate) arena: &'static str,
}

/// Where the memory of the stack that could not be made was to come from,
/// as the stack layer describes it to `StackLimits::fmt` (in the terms the
/// limits text needs: how many mappings a stack costs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StackLayout {
    /// A slot of a shared arena chunk, guarded without a mapping of its own.
    ArenaSlot,
    /// A mapping of its own, guarded without a mapping of its own: a stack
    /// of more than `arena_max` bytes, too large for an arena.
    OwnKernelGuarded {
        /// The largest usable size an arena takes.
        arena_max: usize,
    },
    /// A mapping of its own whose guard is protected (on Unix, split off
    /// as a mapping of its own).
    OwnProtected,
}

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

/// Declares per-thread state that stays usable while the thread's
/// `thread_local!` destructors run, also after them (the greenlet layer's
/// running greenlet, main, flags, ...; the stack pool, which a greenlet
/// killed at thread exit gives its stack back to):
/// `static NAME: T = const { init };`
/// items, used with `NAME.with(|v| ..)` and `NAME.try_with(|v| ..)`.
///
/// Where Rust has native thread-locals (every target but windows-gnu so
/// far), this is `thread_local!` itself, unchanged: a `const`-initialised
/// value without a destructor is never freed there. On windows-gnu std frees
/// every key-based thread-local at thread exit, so the items are
/// `StateKey`s instead, freed after all of std's destructors (see
/// `windows/tls.rs`).
macro_rules! state_local {
    ($($(#[$attr:meta])* static $name:ident: $t:ty = const { $init:expr };)+) => {
        #[cfg(not(all(windows, target_env = "gnu")))]
        std::thread_local! {
            $($(#[$attr])* static $name: $t = const { $init };)+
        }
        $(
            #[cfg(all(windows, target_env = "gnu"))]
            $(#[$attr])*
            static $name: $crate::os::StateKey<$t> = $crate::os::StateKey::new({
                fn init() -> $t {
                    $init
                }
                init
            });
        )+
    };
}
pub(crate) use state_local;

//! What a stack error says about Windows: the system call behind each step
//! ([`STACK_CALLS`]) and the limits ([`StackLimits`]). There is no mapping
//! count limit like Linux's `vm.max_map_count`, nor a `/proc` to count
//! mappings; the ceilings a stack meets are the user-mode virtual address
//! space (`GlobalMemoryStatusEx`'s `ullTotalVirtual`) and the commit limit
//! (memory plus paging file), since each stack is committed whole. Nothing
//! here allocates (the error path may run with memory exhausted).

use crate::os::{StackCalls, StackLayout};
use std::fmt;
use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};

/// The system calls of each step, as a stack error names them. Windows has
/// no guard markers, so no kernel-guard step and no arenas: the stack
/// layer never takes those steps here.
pub(crate) const STACK_CALLS: StackCalls = StackCalls {
    map: "VirtualAlloc",
    guard: "VirtualProtect",
    kernel_guard: "no guard markers on Windows",
    arena: "VirtualAlloc MEM_RESERVE",
};

/// The limits a stack error names, read when it happens.
#[derive(Debug)]
pub(crate) struct StackLimits {
    /// The size of the user-mode address space in bytes, if known.
    address_space: Option<u64>,
}

impl StackLimits {
    /// Reads the limits now, without allocating.
    pub(crate) fn read() -> StackLimits {
        StackLimits {
            address_space: address_space_limit(),
        }
    }

    /// The limits part of a stack error's message: the reservation a stack
    /// costs, the address space, the commit limit, and what to do, for a
    /// stack of `bytes` (its guard included) laid out as `layout`.
    pub(crate) fn fmt(
        &self,
        f: &mut fmt::Formatter<'_>,
        layout: StackLayout,
        bytes: usize,
    ) -> fmt::Result {
        match layout {
            StackLayout::OwnProtected => write!(
                f,
                "Each stack is one VirtualAlloc reservation of {bytes} bytes, committed whole \
                 (its guard included)"
            )?,
            // Never made here: without guard markers (`kernel_guard_works`
            // is false) every stack is a reservation of its own.
            StackLayout::ArenaSlot | StackLayout::OwnKernelGuarded { .. } => write!(
                f,
                "Stacks are VirtualAlloc memory, committed whole (guards included)"
            )?,
        }
        if let Some(limit) = self.address_space {
            write!(f, "; the user-mode address space is {limit} bytes")?;
        }
        write!(
            f,
            ". If memory is the limit (the commit limit: memory plus paging file), free \
             memory, let the paging file grow, or use smaller stacks or fewer live greenlets."
        )
    }
}

/// The size of the user-mode virtual address space in bytes, or `None` if
/// it cannot be read.
///
/// A zero is unknown too: Wine's `GlobalMemoryStatusEx` answers from a
/// cache for a second after each call, and marks the cache fresh before
/// filling it, so a thread asking while another one fills it gets zeros
/// (seen in `tests/stack.rs`, two tests' calls at once).
fn address_space_limit() -> Option<u64> {
    // SAFETY: all-zero is a valid MEMORYSTATUSEX (plain integers).
    let mut status: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
    status.dwLength = size_of::<MEMORYSTATUSEX>() as u32;
    // SAFETY: `status` is a writable MEMORYSTATUSEX whose dwLength is set,
    // as the function requires; it writes only into it.
    let ok = unsafe { GlobalMemoryStatusEx(&raw mut status) } != 0;
    (ok && status.ullTotalVirtual != 0).then_some(status.ullTotalVirtual)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`StackLimits::fmt`] through `Display`.
    struct Text<'a>(&'a StackLimits, StackLayout, usize);

    impl fmt::Display for Text<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fmt(f, self.1, self.2)
        }
    }

    #[test]
    fn limits_name_the_reservation_and_the_commit_limit() {
        assert!(address_space_limit().is_some_and(|n| n > 1 << 30));
        let limits = StackLimits::read();
        let bytes = (1 << 20) + 36864;
        let text = Text(&limits, StackLayout::OwnProtected, bytes).to_string();
        let reservation = bytes.to_string();
        let needles = [
            "VirtualAlloc reservation",
            &reservation,
            "user-mode address space",
            "commit limit",
            "paging file",
        ];
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        assert_eq!(STACK_CALLS.guard, "VirtualProtect");
    }
}

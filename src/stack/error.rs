//! The error of a stack that could not be made: which system call failed,
//! with the limits that explain it and what to do, wrapped in an
//! [`io::Error`].

#[cfg(not(windows))]
use super::ARENA_MAX_STACK_SIZE;
use super::GuardMode;
use crate::os::{ProcValue, address_space_limit, count_mappings, read_max_map_count};
use std::error::Error;
use std::fmt;
use std::io;

/// Which system call failed while making a stack.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    /// `mmap` of a stack's own mapping.
    Map,
    /// `mprotect` of the guard page, which splits the mapping in two.
    Guard,
    /// `madvise(MADV_GUARD_INSTALL)` of the guard page.
    KernelGuard,
    /// `mmap` of a new arena chunk of `chunk` bytes.
    Arena { chunk: usize },
}

/// Why a stack could not be made, with the facts needed to act on it.
///
/// Wrapped in an [`io::Error`]; its [`Error::source`] is the OS error.
/// Everything is collected when the error happens, but the message is only
/// formatted when displayed, so building this error allocates nothing
/// beyond the error box itself.
#[derive(Debug)]
pub(super) struct StackError {
    step: Step,
    /// The guard mode the failed stack was made in.
    mode: GuardMode,
    usable: usize,
    guard: usize,
    os: io::Error,
    /// Current number of mappings (lines of `/proc/self/maps`).
    #[cfg_attr(windows, allow(dead_code))] // unknown on Windows, not named
    maps: ProcValue,
    /// `vm.max_map_count`.
    #[cfg_attr(windows, allow(dead_code))] // Windows has no such limit
    max_maps: ProcValue,
    /// Soft `RLIMIT_AS` in bytes; `None` when unlimited or unknown.
    rlimit_as: Option<u64>,
}

impl StackError {
    pub(super) fn new(step: Step, usable: usize, guard: usize, os: io::Error) -> StackError {
        StackError {
            step,
            mode: match step {
                Step::Map | Step::Guard => GuardMode::Mprotect,
                Step::KernelGuard | Step::Arena { .. } => GuardMode::KernelGuard,
            },
            usable,
            guard,
            os,
            maps: count_mappings(),
            max_maps: read_max_map_count(),
            rlimit_as: address_space_limit(),
        }
    }

    pub(super) fn with_mode(mut self, mode: GuardMode) -> io::Error {
        self.mode = mode;
        self.into_io()
    }

    pub(super) fn into_io(self) -> io::Error {
        let kind = if crate::os::is_no_memory(&self.os) {
            io::ErrorKind::OutOfMemory
        } else {
            self.os.kind()
        };
        io::Error::new(kind, self)
    }

    /// Kernel mappings a new stack adds (the failed one included).
    #[cfg(not(windows))]
    fn mappings_per_stack(&self) -> usize {
        match (self.step, self.mode) {
            (Step::Arena { .. }, _) | (_, GuardMode::KernelGuard) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (usable, guard) = (self.usable, self.guard);
        match self.step {
            Step::Map => write!(
                f,
                "greenlet: cannot map a stack of {usable} bytes + {guard}-byte guard: "
            )?,
            #[cfg(not(windows))]
            Step::Guard => write!(
                f,
                "greenlet: cannot protect the {guard}-byte guard page of a new stack of \
                 {usable} bytes (mprotect, which splits the mapping in two): "
            )?,
            #[cfg(windows)]
            Step::Guard => write!(
                f,
                "greenlet: cannot protect the {guard}-byte guard of a new stack of \
                 {usable} bytes (VirtualProtect): "
            )?,
            Step::KernelGuard => write!(
                f,
                "greenlet: cannot install the {guard}-byte guard page of a new stack of \
                 {usable} bytes (madvise MADV_GUARD_INSTALL, which needs page-table \
                 memory): "
            )?,
            Step::Arena { chunk } => write!(
                f,
                "greenlet: cannot reserve {chunk} bytes of address space (MAP_NORESERVE) \
                 for a new arena chunk of stacks of {usable} bytes + {guard}-byte guard: "
            )?,
        }
        write!(f, "{}. ", self.os)?;
        self.fmt_limits(f)
    }
}

impl StackError {
    /// The limits part of the message, on Windows: no mapping limit to
    /// name, the address space and the commit limit.
    #[cfg(windows)]
    fn fmt_limits(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (usable, guard) = (self.usable, self.guard);
        write!(
            f,
            "Each stack is one VirtualAlloc reservation of {} bytes, committed whole \
             (its guard included)",
            usable + guard
        )?;
        if let Some(limit) = self.rlimit_as {
            write!(f, "; the user-mode address space is {limit} bytes")?;
        }
        write!(
            f,
            ". If memory is the limit (the commit limit: memory plus paging file), free \
             memory, let the paging file grow, or use smaller stacks or fewer live greenlets."
        )
    }

    /// The limits part of the message, on Unix: mappings, the map-count
    /// limit, `RLIMIT_AS`.
    #[cfg(not(windows))]
    fn fmt_limits(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.step, self.mode) {
            (Step::Arena { .. }, _) => write!(
                f,
                "Stacks share arena mappings (kernel guard pages), so address space, \
                 memory or the overcommit policy ran out rather than mappings; "
            )?,
            (_, GuardMode::KernelGuard) => write!(
                f,
                "Each stack larger than {ARENA_MAX_STACK_SIZE} bytes uses 1 kernel mapping; "
            )?,
            (_, GuardMode::Mprotect) => write!(
                f,
                "Each guarded stack uses {} kernel mappings; ",
                self.mappings_per_stack()
            )?,
        }
        match &self.maps {
            ProcValue::Known(n) => write!(f, "this process has {n} mappings")?,
            ProcValue::Unknown(e) => write!(
                f,
                "the number of mappings of this process is unknown (/proc/self/maps: {e})"
            )?,
        }
        match &self.max_maps {
            ProcValue::Known(max) => {
                write!(
                    f,
                    " and vm.max_map_count is {max} (/proc/sys/vm/max_map_count)"
                )?;
                // Within 1%: emulators such as qemu-user hide their own
                // mappings from /proc/self/maps, so the count can be a
                // little low even when the limit is what failed.
                if let ProcValue::Known(n) = self.maps
                    && n + self.mappings_per_stack() + max / 100 >= *max
                {
                    write!(f, ", which is at or near that limit")?;
                }
            }
            ProcValue::Unknown(e) => write!(
                f,
                " and vm.max_map_count is unknown (/proc/sys/vm/max_map_count: {e})"
            )?,
        }
        match self.rlimit_as {
            Some(limit) => write!(f, "; RLIMIT_AS is {limit} bytes")?,
            None => write!(f, "; RLIMIT_AS is unlimited")?,
        }
        write!(
            f,
            ". If mappings are the limit, raise it (sysctl -w vm.max_map_count=262144) or \
             drop unused greenlets; if memory is the limit, raise RLIMIT_AS (ulimit -v), \
             free memory, or use smaller stacks or fewer live greenlets."
        )
    }
}

impl Error for StackError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.os)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_names_limits_and_keeps_source() {
        let os = io::Error::from_raw_os_error(crate::os::NO_MEMORY);
        let err = StackError::new(Step::Guard, 1 << 20, 4096, os).into_io();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let text = err.to_string();
        #[cfg(not(windows))]
        let needles = [
            "greenlet",
            "1048576",
            "vm.max_map_count",
            "RLIMIT_AS",
            "mprotect",
        ];
        #[cfg(windows)]
        let needles = [
            "greenlet",
            "1048576",
            "VirtualProtect",
            "VirtualAlloc",
            "commit limit",
        ];
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        let source = err.source().expect("source");
        let source = source
            .downcast_ref::<io::Error>()
            .expect("io::Error source");
        assert_eq!(source.raw_os_error(), Some(crate::os::NO_MEMORY));

        // EPERM; on Windows ERROR_ACCESS_DENIED.
        #[cfg(unix)]
        let denied = libc::EPERM;
        #[cfg(windows)]
        let denied = 5;
        let other = StackError::new(Step::Map, 1, 2, io::Error::from_raw_os_error(denied));
        assert_eq!(other.into_io().kind(), io::ErrorKind::PermissionDenied);
    }
}

//! The error of a stack that could not be made: which system call failed,
//! with the limits that explain it and what to do, wrapped in an
//! [`io::Error`].

use super::ARENA_MAX_STACK_SIZE;
use super::GuardMode;
use crate::os::{STACK_CALLS, StackLayout, StackLimits};
use std::error::Error;
use std::fmt;
use std::io;

/// Which system call failed while making a stack (the OS layer names it:
/// `os::STACK_CALLS`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    /// Mapping a stack's own memory.
    Map,
    /// Protecting the guard of a stack's own mapping.
    Guard,
    /// Installing a guard without a mapping of its own (a kernel guard).
    KernelGuard,
    /// Reserving a new arena chunk of `chunk` bytes.
    Arena { chunk: usize },
}

/// Why a stack could not be made, with the facts needed to act on it.
///
/// Wrapped in an [`io::Error`]; its [`Error::source`] is the OS error.
/// Everything is collected when the error happens, but the message is only
/// formatted when displayed, so building this error allocates nothing
/// beyond the error box itself. The per-OS parts (the system call's name,
/// the limits and what to do) are the OS layer's.
#[derive(Debug)]
pub(super) struct StackError {
    step: Step,
    /// The guard mode the failed stack was made in.
    mode: GuardMode,
    usable: usize,
    guard: usize,
    os: io::Error,
    /// The limits the message names, read when the error happened.
    limits: StackLimits,
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
            limits: StackLimits::read(),
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

    /// Where the failed stack's memory was to come from, as the OS
    /// layer's limits text needs it.
    fn layout(&self) -> StackLayout {
        match (self.step, self.mode) {
            (Step::Arena { .. }, _) => StackLayout::ArenaSlot,
            (_, GuardMode::KernelGuard) => StackLayout::OwnKernelGuarded {
                arena_max: ARENA_MAX_STACK_SIZE,
            },
            (_, GuardMode::Mprotect) => StackLayout::OwnProtected,
        }
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (usable, guard) = (self.usable, self.guard);
        let calls = &STACK_CALLS;
        match self.step {
            Step::Map => write!(
                f,
                "greenlet: cannot map a stack of {usable} bytes + {guard}-byte guard ({}): ",
                calls.map
            )?,
            Step::Guard => write!(
                f,
                "greenlet: cannot protect the {guard}-byte guard of a new stack of \
                 {usable} bytes ({}): ",
                calls.guard
            )?,
            Step::KernelGuard => write!(
                f,
                "greenlet: cannot install the {guard}-byte guard of a new stack of \
                 {usable} bytes ({}): ",
                calls.kernel_guard
            )?,
            Step::Arena { chunk } => write!(
                f,
                "greenlet: cannot reserve {chunk} bytes of address space ({}) \
                 for a new arena chunk of stacks of {usable} bytes + {guard}-byte guard: ",
                calls.arena
            )?,
        }
        write!(f, "{}. ", self.os)?;
        self.limits.fmt(f, self.layout(), usable + guard)
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

    /// Portable: the OS-specific wording (system calls, limits) is
    /// checked by the OS layer's own tests (`os/*/limits.rs`); here, that
    /// the message puts the parts together and keeps the source.
    #[test]
    fn error_message_names_limits_and_keeps_source() {
        let os = io::Error::from_raw_os_error(crate::os::NO_MEMORY);
        let os_text = os.to_string();
        let err = StackError::new(Step::Guard, 1 << 20, 4096, os).into_io();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let text = err.to_string();
        let needles = [
            "greenlet",
            "1048576",
            "4096-byte guard",
            STACK_CALLS.guard,
            &os_text,
            // The end of the OS layer's limits text, on every OS.
            "fewer live greenlets.",
        ];
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        let source = err.source().expect("source");
        let source = source
            .downcast_ref::<io::Error>()
            .expect("io::Error source");
        assert_eq!(source.raw_os_error(), Some(crate::os::NO_MEMORY));

        // Another error keeps its kind.
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let other = StackError::new(Step::Map, 1, 2, denied).into_io();
        assert_eq!(other.kind(), io::ErrorKind::PermissionDenied);
        assert!(other.to_string().contains(STACK_CALLS.map), "{other}");
    }

    /// Each step names its own system call.
    #[test]
    fn each_step_names_its_call() {
        let steps = [
            (Step::Map, STACK_CALLS.map),
            (Step::Guard, STACK_CALLS.guard),
            (Step::KernelGuard, STACK_CALLS.kernel_guard),
            (Step::Arena { chunk: 1 << 30 }, STACK_CALLS.arena),
        ];
        for (step, call) in steps {
            let os = io::Error::from_raw_os_error(crate::os::NO_MEMORY);
            let text = StackError::new(step, 1 << 20, 4096, os)
                .into_io()
                .to_string();
            assert!(text.contains(&format!("({call})")), "{step:?}: {text}");
        }
    }
}

//! The guard mode: how guard pages are made in this process, decided once
//! by a probe of the kernel (see the [module documentation](super), "Guard
//! modes").

use crate::os::kernel_guard_works;
use std::sync::atomic::{AtomicU8, Ordering};

/// Environment variable that overrides the guard mode: `mprotect` forces
/// [`GuardMode::Mprotect`]; any other value (or none) lets [`guard_mode`]
/// probe the kernel.
///
/// # Examples
///
/// ```
/// use greenlet::stack::GUARD_MODE_ENV;
/// use std::process::Command;
///
/// assert_eq!(GUARD_MODE_ENV, "GREENLET_GUARD_MODE");
/// // The mode is decided once per process: set it for a child process
/// // (or in the environment the program starts with).
/// let mut child = Command::new("my-server");
/// child.env(GUARD_MODE_ENV, "mprotect");
/// assert_eq!(child.get_envs().count(), 1);
/// ```
pub const GUARD_MODE_ENV: &str = "GREENLET_GUARD_MODE";

/// How guard pages are made in this process; see the [`stack`](crate::stack)
/// module's documentation.
///
/// # Examples
///
/// ```
/// use greenlet::stack::{GuardMode, guard_mode};
///
/// let kernel_mappings_per_stack = match guard_mode() {
///     GuardMode::KernelGuard => 0, // a slot of a shared arena (a few in all)
///     GuardMode::Mprotect => 2,
///     _ => unreachable!("a mode added later"), // the enum is non-exhaustive
/// };
/// assert!(kernel_mappings_per_stack <= 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)` guards (Linux 6.13+), stacks carved
    /// from shared arenas: a few kernel mappings in all.
    KernelGuard,
    /// `mprotect(PROT_NONE)` guards, one mapping per stack: two kernel
    /// mappings per stack.
    Mprotect,
}

/// 0: not decided yet; otherwise `mode_code(mode)`.
static GUARD_MODE: AtomicU8 = AtomicU8::new(0);

const KERNEL_GUARD_CODE: u8 = 1;
const MPROTECT_CODE: u8 = 2;

/// The guard mode of this process, decided on first use and then fixed.
///
/// [`GuardMode::Mprotect`] if the environment variable [`GUARD_MODE_ENV`]
/// (`GREENLET_GUARD_MODE`) is `mprotect`. Otherwise a probe maps two pages,
/// installs a guard on the first with `madvise(MADV_GUARD_INSTALL)` and,
/// without trusting `madvise`'s return value, checks that the kernel really
/// refuses to read it: `write()`ing one byte from the guard page into a pipe
/// must fail with `EFAULT` (while writing from the second page succeeds).
/// Kernels before 6.13 reject the advice (`EINVAL`); qemu-user accepts it
/// but installs nothing, and the write succeeds. Either way the mode is
/// [`GuardMode::Mprotect`].
///
/// # Examples
///
/// ```
/// use greenlet::stack::{GUARD_MODE_ENV, GuardMode, guard_mode};
///
/// let mode = guard_mode();
/// assert_eq!(guard_mode(), mode); // fixed for the process
/// if std::env::var(GUARD_MODE_ENV).as_deref() == Ok("mprotect") {
///     assert_eq!(mode, GuardMode::Mprotect);
/// }
/// ```
#[must_use]
pub fn guard_mode() -> GuardMode {
    let code = match GUARD_MODE.load(Ordering::Relaxed) {
        0 => {
            let forced = std::env::var_os(GUARD_MODE_ENV).is_some_and(|v| v == "mprotect");
            let code = if !forced && kernel_guard_works() {
                KERNEL_GUARD_CODE
            } else {
                MPROTECT_CODE
            };
            // Racing threads may both probe; the first decision wins so that
            // the mode never changes once a stack has been made.
            match GUARD_MODE.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => code,
                Err(earlier) => earlier,
            }
        }
        code => code,
    };
    if code == KERNEL_GUARD_CODE {
        GuardMode::KernelGuard
    } else {
        GuardMode::Mprotect
    }
}

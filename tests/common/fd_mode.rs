//! A descriptor's blocking mode, for the tests of `into_std` / `from_std`.

use std::os::fd::AsRawFd;

/// Whether `fd` is in non-blocking mode (`O_NONBLOCK`).
pub fn nonblocking(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFL on a descriptor the caller holds open.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "fcntl(F_GETFL)");
    flags & libc::O_NONBLOCK != 0
}

//! A socket's blocking mode and number, for the tests of `into_std` /
//! `from_std` and of `try_clone`.

/// Whether `fd` is in non-blocking mode (`O_NONBLOCK`). Unix only: Windows
/// has no call that reads a socket's blocking mode back (`ioctlsocket`'s
/// `FIONBIO` only sets it).
#[cfg(unix)]
pub fn nonblocking(fd: &impl std::os::fd::AsRawFd) -> bool {
    // SAFETY: F_GETFL on a descriptor the caller holds open.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "fcntl(F_GETFL)");
    flags & libc::O_NONBLOCK != 0
}

/// The descriptor number of `s` (its `SOCKET` handle on Windows).
#[cfg(unix)]
#[allow(dead_code)] // not every test binary compares numbers
pub fn raw(s: &impl std::os::fd::AsRawFd) -> u64 {
    s.as_raw_fd() as u64
}

/// The descriptor number of `s` (its `SOCKET` handle on Windows).
#[cfg(windows)]
#[allow(dead_code)] // not every test binary compares numbers
pub fn raw(s: &impl std::os::windows::io::AsRawSocket) -> u64 {
    s.as_raw_socket()
}

//! What the hub asks of Unix for sockets: a socket is a file descriptor,
//! and a descriptor lent for one wait is registered with the poller by
//! number (mio's `SourceFd`). Readiness itself (epoll on Linux, kqueue on
//! macOS) is mio's.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token, event::Source};
use std::io;
pub(crate) use std::os::fd::{
    AsFd as AsSock, AsRawFd as AsRawSock, BorrowedFd as BorrowedSock, OwnedFd as OwnedSock,
    RawFd as RawSock,
};

/// The descriptor `s` lends.
pub(crate) fn borrow(s: &impl AsSock) -> BorrowedSock<'_> {
    s.as_fd()
}

/// The number of the descriptor `s` lends or owns.
pub(crate) fn raw(s: &impl AsRawSock) -> RawSock {
    s.as_raw_fd()
}

/// epoll and kqueue report every change of a descriptor's readiness to an
/// edge-triggered registration: after a short read (the receive buffer is
/// empty) the next arrival raises an event, so the hub may wait for that
/// event without first making the call that would say "would block".
pub(crate) const SHORT_IO_WAITS_FOR_EVENT: bool = true;

/// Whether registering a lent descriptor failed because it is always
/// ready: epoll refuses regular files and directories (`EPERM`), which
/// poll(2) reports as always ready.
pub(crate) fn always_ready(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EPERM)
}

/// Set the backlog of the listening socket `sock` (Linux and macOS let a
/// listening socket call listen(2) again to change it; the kernel caps it
/// at its own maximum, `net.core.somaxconn` on Linux).
pub(crate) fn set_backlog(sock: &impl AsRawSock, backlog: i32) -> io::Result<()> {
    // SAFETY: listen(2) on a descriptor the caller owns (or borrows) for
    // the call; it touches no memory of ours.
    if unsafe { libc::listen(sock.as_raw_fd(), backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A descriptor lent to the hub for the waits on it, registered by number.
/// Dropping it does not close the descriptor (it was never ours).
pub(crate) struct Lent(RawSock);

impl Lent {
    /// `sock`, borrowed by the caller for as long as this is registered.
    pub(crate) fn new(sock: RawSock) -> Lent {
        Lent(sock)
    }
}

impl Source for Lent {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.0).deregister(registry)
    }
}

/// `AsFd` and `AsRawFd` for hub socket types that hold a `Registered`
/// socket in a field `reg`.
macro_rules! impl_as_sock {
    ($($t:ty),* $(,)?) => {$(
        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.reg.sock())
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.reg.sock())
            }
        }
    )*};
}
pub(crate) use impl_as_sock;

//! What the hub asks of Windows for sockets: a socket is a `SOCKET`
//! handle, waited on through mio's AFD polls (`\Device\Afd`, completion
//! ports). Readiness itself is mio's; what differs from Unix and matters
//! to the hub is written here.
//!
//! mio emulates edge triggering on Windows: once an event of a direction
//! is delivered, that direction is disarmed until a call made through
//! mio's socket says "would block" (mio re-arms it then) or the socket is
//! reregistered. Hence [`SHORT_IO_WAITS_FOR_EVENT`] is false here, and a
//! lent socket ([`Lent`]) is registered through a mio socket of its own
//! (mio registers a raw socket only through one of its socket types).

use mio::{Interest, Registry, Token, event::Source};
use std::io;
pub(crate) use std::os::windows::io::{
    AsRawSocket as AsRawSock, AsSocket as AsSock, BorrowedSocket as BorrowedSock,
    OwnedSocket as OwnedSock, RawSocket as RawSock,
};
use std::os::windows::io::{FromRawSocket, IntoRawSocket};

/// The socket `s` lends.
pub(crate) fn borrow(s: &impl AsSock) -> BorrowedSock<'_> {
    s.as_socket()
}

/// The handle of the socket `s` lends or owns.
pub(crate) fn raw(s: &impl AsRawSock) -> RawSock {
    s.as_raw_socket()
}

/// After a short read the direction stays disarmed (see the module docs):
/// no event would come, so the next call must be made, and its "would
/// block" re-arms the direction.
pub(crate) const SHORT_IO_WAITS_FOR_EVENT: bool = false;

/// Only sockets can be lent (`AsSocket`), and every socket can be polled.
pub(crate) fn always_ready(_e: &io::Error) -> bool {
    false
}

/// The backlog of a listening socket cannot be changed on Windows: a second
/// `listen` on a listening socket succeeds without changing it (Winsock's
/// documentation of `listen`). The listener keeps mio's (128, std's too).
pub(crate) fn set_backlog(_sock: &impl AsRawSock, _backlog: i32) -> io::Result<()> {
    Ok(())
}

/// A socket lent to the hub for the waits on it. mio registers a socket
/// only through one of its socket types, so the handle is wrapped in one
/// (a `TcpStream`: the poll does not depend on the socket's type), which
/// hands the handle back unclosed when dropped: it was never ours.
pub(crate) struct Lent(Option<mio::net::TcpStream>);

impl Lent {
    /// `sock`, borrowed by the caller for as long as this is registered.
    pub(crate) fn new(sock: RawSock) -> Lent {
        // SAFETY: `sock` is a live socket (the caller holds a
        // `BorrowedSocket` for it); the wrapper never closes it: `Drop`
        // takes the handle back out with `into_raw_socket`, and nothing
        // else consumes the wrapper.
        Lent(Some(unsafe { mio::net::TcpStream::from_raw_socket(sock) }))
    }

    fn sock(&mut self) -> &mut mio::net::TcpStream {
        self.0.as_mut().expect("a lent socket until dropped")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            // Not closed: the handle is the lender's.
            let _ = s.into_raw_socket();
        }
    }
}

impl Source for Lent {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.sock().register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.sock().reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.sock().deregister(registry)
    }
}

/// `AsSocket` and `AsRawSocket` for hub socket types that hold a
/// `Registered` socket in a field `reg`.
macro_rules! impl_as_sock {
    ($($t:ty),* $(,)?) => {$(
        impl std::os::windows::io::AsSocket for $t {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                std::os::windows::io::AsSocket::as_socket(self.reg.sock())
            }
        }

        impl std::os::windows::io::AsRawSocket for $t {
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                std::os::windows::io::AsRawSocket::as_raw_socket(self.reg.sock())
            }
        }
    )*};
}
pub(crate) use impl_as_sock;

//! Socket addresses: resolving them (on this thread, for now), and trying
//! each address a name resolves to.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Try `f` on each address `addr` resolves to; the first success, else the
/// last error.
pub(super) fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}

/// The first address `addr` resolves to, as std's `UdpSocket::send_to`
/// takes it.
///
/// # Errors
/// The resolver's, or `InvalidInput` if `addr` resolves to nothing.
pub(super) fn first_addr(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address to send to",
        )
    })
}

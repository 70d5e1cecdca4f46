//! UDP: [`UdpSocket`].

use super::addr::{ToSocketAddrs, each_addr, first_addr};
use super::handles::impl_handles;
use super::registration::Registered;
use super::trait_impls::impl_fd;
use crate::hub::reactor::Dir;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// A UDP socket whose sends and receives wait on the hub.
///
/// The methods are std's `UdpSocket`'s, taking `&self`: several greenlets
/// may use one socket at once (each datagram goes to exactly one of the
/// receivers waiting). Options that are not here (broadcast, multicast,
/// TTL, buffer sizes) are set through the descriptor, e.g. with
/// `socket2::SockRef::from(&socket)`.
///
/// ```
/// use greenlet::hub::{self, net::UdpSocket};
///
/// let server = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let addr = server.local_addr().unwrap();
/// let echo = hub::spawn(move || {
///     let mut buf = [0; 1500];
///     let (n, from) = server.recv_from(&mut buf).unwrap();
///     server.send_to(&buf[..n], from).unwrap();
/// });
/// let client = UdpSocket::bind("127.0.0.1:0").unwrap();
/// client.connect(addr).unwrap();
/// client.send(b"ping").unwrap();
/// let mut buf = [0; 1500];
/// let n = client.recv(&mut buf).unwrap(); // waits in the hub; echo runs
/// assert_eq!(&buf[..n], b"ping");
/// echo.get().unwrap();
/// ```
///
/// # Truncation
///
/// A datagram longer than the buffer handed to
/// [`recv`](UdpSocket::recv) or [`recv_from`](UdpSocket::recv_from) fills
/// the buffer, and the rest of it is discarded: the call returns the
/// buffer's length, exactly as std's `UdpSocket` (and `recv(2)` without
/// `MSG_TRUNC`) does, and nothing says that bytes were lost. To notice,
/// receive into a buffer one byte longer than the longest datagram
/// expected: a full buffer then means a truncated datagram.
pub struct UdpSocket {
    reg: Registered<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Bind to the first address of `addr` that works, like
    /// `std::net::UdpSocket::bind` (port 0: the system picks one).
    ///
    /// # Errors
    /// The last address's error (e.g. `AddrInUse`), or `InvalidInput` if
    /// `addr` resolves to nothing. A host name is looked up on a worker thread (see
    /// [`ToSocketAddrs`]).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |a| UdpSocket::wrap(mio::net::UdpSocket::bind(a)?))
    }

    /// Set the peer: [`send`](UdpSocket::send) goes to it, and only its
    /// datagrams are received. Takes the first address of `addr` that the
    /// system accepts, like std's. Nothing is sent, so nothing waits.
    ///
    /// # Errors
    /// The last address's error, or `InvalidInput` if `addr` resolves to
    /// nothing. A host name is looked up on a worker thread (see
    /// [`ToSocketAddrs`]).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |a| self.reg.sock().connect(a))
    }

    /// Send `buf` as one datagram to the peer set by
    /// [`connect`](UdpSocket::connect), waiting in the hub while the send
    /// buffer is full. Returns the bytes sent (all of `buf`).
    ///
    /// # Errors
    /// `NotConnected` without a peer; `ConnectionRefused` when an earlier
    /// datagram to the peer was refused (ICMP port unreachable);
    /// `EMSGSIZE` (`Other`) for a datagram too long for UDP.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.reg.run(Dir::Write, None, || self.reg.sock().send(buf))
    }

    /// Receive one datagram from the peer into `buf`, waiting in the hub
    /// until one comes. Returns its length, or `buf.len()` if it was longer
    /// (the rest is discarded: see [truncation](UdpSocket#truncation)).
    ///
    /// # Errors
    /// `ConnectionRefused` when an earlier datagram to the peer was
    /// refused; the other errors of `recv(2)`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.reg.run(Dir::Read, None, || self.reg.sock().recv(buf))
    }

    /// Send `buf` as one datagram to `addr` (its first address, as std's
    /// `send_to` takes it), waiting in the hub while the send buffer is
    /// full.
    ///
    /// # Errors
    /// `InvalidInput` if `addr` resolves to nothing; the errors of
    /// `sendto(2)`. A host name is looked up on a worker thread (see
    /// [`ToSocketAddrs`]).
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let to = first_addr(addr)?;
        self.reg
            .run(Dir::Write, None, || self.reg.sock().send_to(buf, to))
    }

    /// Receive one datagram and its sender's address, waiting in the hub
    /// until one comes. Truncates as [`recv`](UdpSocket::recv) does.
    ///
    /// # Errors
    /// The errors of `recvfrom(2)`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.reg
            .run(Dir::Read, None, || self.reg.sock().recv_from(buf))
    }

    /// The address it is bound to.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }

    /// The peer set by [`connect`](UdpSocket::connect).
    ///
    /// # Errors
    /// `NotConnected` if there is none.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().peer_addr()
    }
}

impl_handles!(
    UdpSocket,
    mio::net::UdpSocket,
    std::net::UdpSocket,
    "UDP socket"
);
impl_fd!(UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

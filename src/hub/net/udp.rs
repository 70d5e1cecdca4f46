//! UDP: [`UdpSocket`].

use super::addr::{ToSocketAddrs, each_addr, first_addr};
use super::handles::impl_handles;
use super::registration::Registered;
use crate::hub::reactor::Dir;
use crate::os::net;
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// A UDP socket whose sends and receives wait on the hub.
///
/// The methods are std's `UdpSocket`'s, taking `&self`: several greenlets
/// may use one socket at once (each datagram goes to exactly one of the
/// receivers waiting). Options that are not here (broadcast, multicast,
/// TTL, buffer sizes) are set through the descriptor, e.g. with
/// `socket2::SockRef::from(&socket)`.
///
/// # Examples
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
///
/// On Windows the call fails instead, with `WSAEMSGSIZE` (OS error 10040),
/// having filled the buffer, as std's does there (and `recv_from` then
/// reports no sender address).
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap(); // port 0: any free port
    /// let port = a.local_addr().unwrap().port();
    /// assert_ne!(port, 0);
    /// let e = UdpSocket::bind(("127.0.0.1", port)).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// a.send(b"to b").unwrap(); // no address needed now
    /// let mut buf = [0; 8];
    /// let (n, from) = b.recv_from(&mut buf).unwrap();
    /// assert_eq!((&buf[..n], from), (&b"to b"[..], a.local_addr().unwrap()));
    /// ```
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |a| self.reg.sock().connect(a))
    }

    /// Send `buf` as one datagram to the peer set by
    /// [`connect`](UdpSocket::connect), waiting in the hub while the send
    /// buffer is full. Returns the bytes sent (all of `buf`).
    ///
    /// # Errors
    /// `EDESTADDRREQ` ("destination address required") without a peer,
    /// and `EMSGSIZE` for a datagram too long for UDP: std gives neither a
    /// stable `ErrorKind`, so tell them by `raw_os_error()`.
    /// `ConnectionRefused` when an earlier datagram to the peer was refused
    /// (ICMP port unreachable). These are the Unix errors; Windows has its
    /// own (under Wine, a send without a peer is `WSAEINVAL`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let e = a.send(b"nowhere").unwrap_err(); // no peer yet
    /// #[cfg(unix)]
    /// assert_eq!(e.raw_os_error(), Some(libc::EDESTADDRREQ));
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.send(b"hello").unwrap(), 5);
    /// let mut buf = [0; 5];
    /// assert_eq!(b.recv(&mut buf).unwrap(), 5);
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// b.send_to(b"datagram", a.local_addr().unwrap()).unwrap();
    /// let mut small = [0; 4];
    /// let r = a.recv(&mut small); // truncated: the rest is lost
    /// assert_eq!(&small, b"data");
    /// #[cfg(unix)]
    /// assert_eq!(r.unwrap(), 4);
    /// #[cfg(windows)]
    /// assert_eq!(r.unwrap_err().raw_os_error(), Some(10040)); // WSAEMSGSIZE
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let to = b.local_addr().unwrap();
    /// assert_eq!(a.send_to(b"one", to).unwrap(), 3);
    /// assert_eq!(a.send_to(b"two!", to.to_string()).unwrap(), 4); // a String works too
    /// let mut buf = [0; 8];
    /// assert_eq!((b.recv(&mut buf).unwrap(), b.recv(&mut buf).unwrap()), (3, 4));
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, net::UdpSocket};
    ///
    /// let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let to = server.local_addr().unwrap();
    /// let client = hub::spawn(move || {
    ///     let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     c.send_to(b"who?", to).unwrap();
    ///     c.local_addr().unwrap()
    /// });
    /// let mut buf = [0; 16];
    /// let (n, from) = server.recv_from(&mut buf).unwrap(); // waits; the client runs
    /// assert_eq!(&buf[..n], b"who?");
    /// assert_eq!(from, client.get().unwrap());
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.reg
            .run(Dir::Read, None, || self.reg.sock().recv_from(buf))
    }

    /// The address it is bound to.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UdpSocket;
    ///
    /// let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let addr = s.local_addr().unwrap();
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }

    /// The peer set by [`connect`](UdpSocket::connect).
    ///
    /// # Errors
    /// `NotConnected` if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UdpSocket;
    /// use std::net::SocketAddr;
    ///
    /// let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// s.connect("127.0.0.1:9").unwrap(); // sends nothing
    /// assert_eq!(s.peer_addr().unwrap(), "127.0.0.1:9".parse::<SocketAddr>().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().peer_addr()
    }
}

impl_handles! {
    UdpSocket,
    mio::net::UdpSocket,
    std::net::UdpSocket,
    "UDP socket",
    from_std: {
        /// ```
        /// use greenlet::hub::net::UdpSocket;
        ///
        /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// let socket = UdpSocket::from_std(std_socket).unwrap();
        /// let me = socket.local_addr().unwrap();
        /// socket.send_to(b"self", me).unwrap();
        /// let mut buf = [0; 4];
        /// assert_eq!(socket.recv_from(&mut buf).unwrap(), (4, me));
        /// ```
    },
    try_clone: {
        /// ```
        /// use greenlet::hub::{self, net::UdpSocket};
        ///
        /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        /// let me = socket.local_addr().unwrap();
        /// let clone = socket.try_clone().unwrap();
        /// let reader = hub::spawn(move || {
        ///     let mut buf = [0; 8];
        ///     clone.recv(&mut buf).unwrap() // waits on its own registration
        /// });
        /// socket.send_to(b"to me", me).unwrap();
        /// assert_eq!(reader.get().unwrap(), 5);
        /// ```
    },
    into_std: {
        /// ```
        /// use greenlet::hub::net::UdpSocket;
        /// use std::time::{Duration, Instant};
        ///
        /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        /// let std_socket: std::net::UdpSocket = socket.into_std().unwrap();
        /// std_socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        /// let start = Instant::now();
        /// assert!(std_socket.recv(&mut [0; 1]).is_err()); // blocked until the timeout
        /// assert!(start.elapsed() >= Duration::from_millis(20));
        /// ```
    },
}
net::impl_as_sock!(UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &net::raw(self))
            .finish()
    }
}

//! TCP: [`TcpListener`] and [`TcpStream`].

use super::addr::{ToSocketAddrs, each_addr};
use super::handles::impl_handles;
use super::registration::Registered;
use super::trait_impls::{impl_fd, impl_stream_io};
use crate::hub::reactor::Dir;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The listen backlog of [`TcpListener::bind`]: how many connections the
/// kernel completes and queues before the hub accepts them (tokio's too).
const BACKLOG: libc::c_int = 1024;

/// A TCP listening socket whose [`accept`](TcpListener::accept) waits on
/// the hub.
pub struct TcpListener {
    reg: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Bind to the first address of `addr` that works (with `SO_REUSEADDR`,
    /// a backlog of 1024), like `std::net::TcpListener::bind`.
    ///
    /// # Errors
    /// The last address's error (e.g. `AddrInUse`), or `InvalidInput` if
    /// `addr` resolves to nothing. A host name is looked up on a worker thread (see
    /// [`ToSocketAddrs`]).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let sock = mio::net::TcpListener::bind(a)?;
            // mio listens with a backlog of 128. Linux lets a listening
            // socket call listen(2) again to change it: 1024, as
            // documented (the kernel caps it at net.core.somaxconn).
            // SAFETY: listen on a descriptor this function owns.
            if unsafe { libc::listen(sock.as_raw_fd(), BACKLOG) } != 0 {
                return Err(io::Error::last_os_error());
            }
            TcpListener::wrap(sock)
        })
    }

    /// Wait (in the hub) for a connection and accept it.
    ///
    /// # Errors
    /// The `accept(2)` error, e.g. `EMFILE` when out of descriptors.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (sock, addr) = self.reg.run(Dir::Read, None, || self.reg.sock().accept())?;
        Ok((TcpStream::wrap(sock)?, addr))
    }

    /// The address it is bound to.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A TCP connection whose reads and writes wait on the hub.
///
/// `Read` and `Write` are implemented for `&TcpStream` too, so one greenlet
/// may read while another writes; or give each its own handle with
/// [`try_clone`](TcpStream::try_clone).
pub struct TcpStream {
    reg: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connect to the first address of `addr` that accepts, waiting in the
    /// hub while each connection is set up.
    ///
    /// # Errors
    /// The last address's error (`ConnectionRefused`, ...), or
    /// `InvalidInput` if `addr` resolves to nothing. A host name is looked
    /// up on a worker thread (see [`ToSocketAddrs`]).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_one(a, None))
    }

    /// Connect to `addr`, giving up after `timeout` with `TimedOut`.
    ///
    /// # Errors
    /// As [`connect`](TcpStream::connect), or `TimedOut`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_one(*addr, Some(Instant::now() + timeout))
    }

    fn connect_one(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let s = TcpStream::wrap(mio::net::TcpStream::connect(addr)?)?;
        // The connection is set up once the socket is writable; then either
        // SO_ERROR holds its error or it has a peer.
        let mut clear = true;
        loop {
            s.reg.wait(Dir::Write, clear, deadline)?;
            if let Some(e) = s.reg.sock().take_error()? {
                return Err(e);
            }
            match s.reg.sock().peer_addr() {
                Ok(_) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => clear = true,
                Err(e) => return Err(e),
            }
        }
    }

    /// Shut down the read half, the write half, or both (`shutdown(2)`).
    ///
    /// # Errors
    /// As `shutdown(2)` (`NotConnected` if the peer is gone).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.reg.sock().shutdown(how)
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }

    /// Set `TCP_NODELAY` (turn Nagle's algorithm off).
    ///
    /// # Errors
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.reg.sock().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.reg.sock().nodelay()
    }
}

impl_handles!(
    TcpListener,
    mio::net::TcpListener,
    std::net::TcpListener,
    "TCP listener"
);
impl_handles!(
    TcpStream,
    mio::net::TcpStream,
    std::net::TcpStream,
    "TCP stream"
);
impl_fd!(TcpListener, TcpStream);
impl_stream_io!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

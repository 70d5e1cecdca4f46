//! TCP: [`TcpListener`] and [`TcpStream`].

use super::addr::each_addr;
use super::registration::Registration;
use crate::hub::reactor::Dir;
use crate::hub::wait::wait_registered;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// The listen backlog of [`TcpListener::bind`]: how many connections the
/// kernel completes and queues before the hub accepts them (tokio's too).
const BACKLOG: libc::c_int = 1024;

/// A TCP listening socket whose [`accept`](TcpListener::accept) waits on
/// the hub.
pub struct TcpListener {
    reg: Registration,
    sock: mio::net::TcpListener,
}

impl TcpListener {
    /// Bind to the first address of `addr` that works (with `SO_REUSEADDR`,
    /// a backlog of 1024), like `std::net::TcpListener::bind`.
    ///
    /// # Errors
    /// The last address's error (e.g. `AddrInUse`), or `InvalidInput` if
    /// `addr` resolves to nothing. Name resolution itself blocks the thread.
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

    /// Take over a listener made elsewhere (say, with `SO_REUSEPORT` set
    /// through `socket2`); it is made non-blocking.
    ///
    /// # Errors
    /// If it cannot be made non-blocking or registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::wrap(mio::net::TcpListener::from_std(listener))
    }

    fn wrap(mut sock: mio::net::TcpListener) -> io::Result<TcpListener> {
        let fd = sock.as_raw_fd();
        let reg = Registration::new(&mut sock, fd)?;
        Ok(TcpListener { reg, sock })
    }

    /// Wait (in the hub) for a connection and accept it.
    ///
    /// # Errors
    /// The `accept(2)` error, e.g. `EMFILE` when out of descriptors.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (sock, addr) = self.reg.run(Dir::Read, None, || self.sock.accept())?;
        Ok((TcpStream::wrap(sock)?, addr))
    }

    /// The address it is bound to.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.reg.hub.io.deregister(self.reg.key, &mut self.sock);
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.sock.local_addr().ok())
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

/// A TCP connection whose reads and writes wait on the hub.
///
/// `Read` and `Write` are implemented for `&TcpStream` too, so one greenlet
/// may read while another writes.
pub struct TcpStream {
    reg: Registration,
    sock: mio::net::TcpStream,
}

impl TcpStream {
    /// Connect to the first address of `addr` that accepts, waiting in the
    /// hub while each connection is set up.
    ///
    /// # Errors
    /// The last address's error (`ConnectionRefused`, ...), or
    /// `InvalidInput` if `addr` resolves to nothing. Name resolution itself
    /// blocks the thread.
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
            wait_registered(&s.reg.hub, s.reg.key, Dir::Write, clear, deadline)?;
            if let Some(e) = s.sock.take_error()? {
                return Err(e);
            }
            match s.sock.peer_addr() {
                Ok(_) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => clear = true,
                Err(e) => return Err(e),
            }
        }
    }

    /// Take over a connection made elsewhere; it is made non-blocking.
    ///
    /// # Errors
    /// If it cannot be made non-blocking or registered.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::wrap(mio::net::TcpStream::from_std(stream))
    }

    fn wrap(mut sock: mio::net::TcpStream) -> io::Result<TcpStream> {
        let fd = sock.as_raw_fd();
        let reg = Registration::new(&mut sock, fd)?;
        Ok(TcpStream { reg, sock })
    }

    /// Shut down the read half, the write half, or both (`shutdown(2)`).
    ///
    /// # Errors
    /// As `shutdown(2)` (`NotConnected` if the peer is gone).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Set `TCP_NODELAY` (turn Nagle's algorithm off).
    ///
    /// # Errors
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock.set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.nodelay()
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut sock = &self.sock;
        let len = buf.len();
        let n = self.reg.run(Dir::Read, None, || sock.read(buf))?;
        if n > 0 && n < len {
            // Less than asked: the receive buffer is empty now, and epoll
            // reports every arrival after this; skip the read that would
            // only say "would block".
            self.reg.hub.io.clear_ready(self.reg.key, Dir::Read);
        }
        Ok(n)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let mut sock = &self.sock;
        self.reg.run(Dir::Read, None, || sock.read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut sock = &self.sock;
        let n = self.reg.run(Dir::Write, None, || sock.write(buf))?;
        if n > 0 && n < buf.len() {
            // A short write filled the send buffer: wait for room.
            self.reg.hub.io.clear_ready(self.reg.key, Dir::Write);
        }
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut sock = &self.sock;
        self.reg.run(Dir::Write, None, || sock.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.reg.hub.io.deregister(self.reg.key, &mut self.sock);
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.sock.local_addr().ok())
            .field("peer", &self.sock.peer_addr().ok())
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

//! TCP: [`TcpListener`] and [`TcpStream`].

use super::addr::{ToSocketAddrs, each_addr};
use super::handles::impl_handles;
use super::registration::Registered;
use super::trait_impls::impl_stream_io;
use crate::hub::reactor::Dir;
use crate::os::net;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

/// The listen backlog of [`TcpListener::bind`]: how many connections the
/// kernel completes and queues before the hub accepts them (tokio's too).
const BACKLOG: i32 = 1024;

/// A TCP listening socket whose [`accept`](TcpListener::accept) waits on
/// the hub.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, net::{TcpListener, TcpStream}};
/// use std::io::{Read, Write};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = hub::spawn(move || {
///     for _ in 0..2 {
///         let (mut s, _) = listener.accept().unwrap();
///         hub::spawn(move || s.write_all(b"hi")); // a greenlet per connection
///     }
/// });
/// for _ in 0..2 {
///     let mut reply = String::new();
///     TcpStream::connect(addr).unwrap().read_to_string(&mut reply).unwrap();
///     assert_eq!(reply, "hi");
/// }
/// server.get().unwrap();
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::TcpListener;
    /// use std::io::ErrorKind;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap(); // port 0: any free port
    /// let addr = listener.local_addr().unwrap();
    /// assert_ne!(addr.port(), 0);
    /// assert_eq!(TcpListener::bind(addr).unwrap_err().kind(), ErrorKind::AddrInUse);
    /// assert_eq!(TcpListener::bind("no port").unwrap_err().kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let sock = mio::net::TcpListener::bind(a)?;
            // mio listens with a backlog of 128; 1024 where the OS lets
            // a listening socket change it (not Windows: see os::net).
            net::set_backlog(&sock, BACKLOG)?;
            TcpListener::wrap(sock)
        })
    }

    /// Wait (in the hub) for a connection and accept it.
    ///
    /// # Errors
    /// The `accept(2)` error, e.g. `EMFILE` when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, net::{TcpListener, TcpStream}};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let client = hub::spawn(move || TcpStream::connect(addr).unwrap());
    /// let (stream, peer) = listener.accept().unwrap(); // waits; the client runs
    /// let client = client.get().unwrap();
    /// assert_eq!(peer, client.local_addr().unwrap());
    /// assert_eq!(stream.peer_addr().unwrap(), peer);
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (sock, addr) = self.reg.run(Dir::Read, None, || self.reg.sock().accept())?;
        Ok((TcpStream::wrap(sock)?, addr))
    }

    /// The address it is bound to.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::TcpListener;
    /// use std::net::Ipv4Addr;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
    /// assert_ne!(addr.port(), 0); // the port the system picked
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &net::raw(self))
            .finish()
    }
}

/// A TCP connection whose reads and writes wait on the hub.
///
/// `Read` and `Write` are implemented for `&TcpStream` too, so one greenlet
/// may read while another writes; or give each its own handle with
/// [`try_clone`](TcpStream::try_clone).
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, net::{TcpListener, TcpStream}};
/// use std::io::{Read, Write};
/// use std::rc::Rc;
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let server = Rc::new(listener.accept().unwrap().0);
/// let s = Rc::clone(&server);
/// let reader = hub::spawn(move || {
///     let mut buf = [0; 4];
///     (&*s).read_exact(&mut buf).map(|()| buf) // reads through `&TcpStream`
/// });
/// (&*server).write_all(b"pong").unwrap(); // while the reader waits on it
/// (&client).write_all(b"ping").unwrap();
/// let mut buf = [0; 4];
/// (&client).read_exact(&mut buf).unwrap();
/// assert_eq!((&buf, &reader.get().unwrap().unwrap()), (b"pong", b"ping"));
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{TcpListener, TcpStream};
    /// use std::io::ErrorKind;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = listener.local_addr().unwrap().port();
    /// let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap().port(), port);
    /// drop(listener); // nothing listens there any more
    /// let e = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    /// ```
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_one(a, None))
    }

    /// Connect to `addr`, giving up after `timeout` with `TimedOut`.
    ///
    /// # Errors
    /// As [`connect`](TcpStream::connect), or `TimedOut`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// // (A timeout needs a peer that never answers; loopback always does.)
    /// let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), addr);
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_one(*addr, Some(Instant::now() + timeout))
    }

    fn connect_one(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let mut s = TcpStream::wrap(mio::net::TcpStream::connect(addr)?)?;
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
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    s.reg.rearm()?;
                    clear = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Shut down the read half, the write half, or both (`shutdown(2)`).
    ///
    /// # Errors
    /// As `shutdown(2)` (`NotConnected` if the peer is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{TcpListener, TcpStream};
    /// use std::io::Read;
    /// use std::net::Shutdown;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (mut server, _) = listener.accept().unwrap();
    /// client.shutdown(Shutdown::Write).unwrap();
    /// let mut rest = Vec::new();
    /// assert_eq!(server.read_to_end(&mut rest).unwrap(), 0); // end of stream at once
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.reg.sock().shutdown(how)
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As `getpeername(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let client = TcpStream::connect(addr).unwrap();
    /// let (server, _) = listener.accept().unwrap();
    /// assert_eq!(client.peer_addr().unwrap(), addr);
    /// assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let client = TcpStream::connect(addr).unwrap();
    /// let (server, _) = listener.accept().unwrap();
    /// assert_eq!(server.local_addr().unwrap(), addr);
    /// assert_eq!(client.local_addr().unwrap().ip(), addr.ip());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }

    /// Set `TCP_NODELAY` (turn Nagle's algorithm off).
    ///
    /// # Errors
    /// As `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_nodelay(true).unwrap();
    /// assert!(stream.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.reg.sock().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// As `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(!stream.nodelay().unwrap()); // Nagle's algorithm is on by default
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.reg.sock().nodelay()
    }
}

impl_handles! {
    TcpListener,
    mio::net::TcpListener,
    std::net::TcpListener,
    "TCP listener",
    from_std: {
        /// ```
        /// use greenlet::hub::net::{TcpListener, TcpStream};
        ///
        /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let listener = TcpListener::from_std(std_listener).unwrap();
        /// let addr = listener.local_addr().unwrap();
        /// let client = TcpStream::connect(addr).unwrap();
        /// let (_server, peer) = listener.accept().unwrap(); // waits in the hub now
        /// assert_eq!(peer, client.local_addr().unwrap());
        /// ```
    },
    try_clone: {
        /// ```
        /// use greenlet::hub::net::{TcpListener, TcpStream};
        ///
        /// let a = TcpListener::bind("127.0.0.1:0").unwrap();
        /// let b = a.try_clone().unwrap();
        /// assert_eq!(a.local_addr().unwrap(), b.local_addr().unwrap()); // one socket,
        /// #[cfg(unix)]
        /// {
        ///     use std::os::fd::AsRawFd;
        ///     assert_ne!(a.as_raw_fd(), b.as_raw_fd()); // two descriptors
        /// }
        /// #[cfg(windows)]
        /// {
        ///     use std::os::windows::io::AsRawSocket;
        ///     assert_ne!(a.as_raw_socket(), b.as_raw_socket()); // two handles
        /// }
        /// let _client = TcpStream::connect(a.local_addr().unwrap()).unwrap();
        /// drop(a);
        /// assert!(b.accept().is_ok()); // either handle accepts
        /// ```
    },
    into_std: {
        /// ```
        /// use greenlet::hub::net::TcpListener;
        ///
        /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        /// let addr = listener.local_addr().unwrap();
        /// let std_listener: std::net::TcpListener = listener.into_std().unwrap();
        /// assert_eq!(std_listener.local_addr().unwrap(), addr);
        /// let _client = std::net::TcpStream::connect(addr).unwrap();
        /// let (_server, _) = std_listener.accept().unwrap(); // a blocking accept
        /// ```
    },
}
impl_handles! {
    TcpStream,
    mio::net::TcpStream,
    std::net::TcpStream,
    "TCP stream",
    from_std: {
        /// ```
        /// use greenlet::hub::net::{TcpListener, TcpStream};
        /// use std::io::{Read, Write};
        ///
        /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        /// let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        /// let mut stream = TcpStream::from_std(std_stream).unwrap();
        /// let (mut server, _) = listener.accept().unwrap();
        /// server.write_all(b"hi").unwrap();
        /// let mut buf = [0; 2];
        /// stream.read_exact(&mut buf).unwrap(); // waits in the hub, not the thread
        /// assert_eq!(&buf, b"hi");
        /// ```
    },
    try_clone: {
        /// ```
        /// use greenlet::hub::net::{TcpListener, TcpStream};
        /// use std::io::{Read, Write};
        ///
        /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        /// let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        /// let (server, _) = listener.accept().unwrap();
        /// let mut clone = server.try_clone().unwrap();
        /// assert_eq!(clone.peer_addr().unwrap(), server.peer_addr().unwrap());
        /// clone.write_all(b"via the clone").unwrap();
        /// let mut buf = [0; 13];
        /// client.read_exact(&mut buf).unwrap();
        /// assert_eq!(&buf, b"via the clone");
        /// ```
    },
    into_std: {
        /// ```
        /// use greenlet::hub::net::{TcpListener, TcpStream};
        /// use std::io::{Read, Write};
        ///
        /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        /// let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        /// let mut std_stream: std::net::TcpStream = stream.into_std().unwrap();
        /// std_stream.write_all(b"blocking").unwrap(); // std's blocking write
        /// let (mut server, _) = listener.accept().unwrap();
        /// let mut buf = [0; 8];
        /// server.read_exact(&mut buf).unwrap();
        /// assert_eq!(&buf, b"blocking");
        /// ```
    },
}
net::impl_as_sock!(TcpListener, TcpStream);
impl_stream_io!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &net::raw(self))
            .finish()
    }
}

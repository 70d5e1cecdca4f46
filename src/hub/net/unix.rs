//! Unix domain stream sockets: [`UnixListener`] and [`UnixStream`].

use super::handles::impl_handles;
use super::registration::Registered;
use super::trait_impls::impl_stream_io;
use crate::hub::reactor::Dir;
use crate::os::net;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// A Unix domain listening socket whose [`accept`](UnixListener::accept)
/// waits on the hub.
///
/// # Who removes the socket file
///
/// As with std's `UnixListener`: nobody but you. [`bind`](UnixListener::bind)
/// creates a file at the path, and dropping the listener (or its process
/// exiting) leaves it there; while it exists, binding the same path again
/// fails with `AddrInUse`, and connecting to it with `ConnectionRefused`.
/// Remove it with `std::fs::remove_file` when the listener is done (and,
/// if a crashed run may have left one behind, before binding). Abstract
/// names (Linux, [`bind_addr`](UnixListener::bind_addr)) make no file and
/// vanish with their last socket.
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, net::{UnixListener, UnixStream}};
/// use std::io::{Read, Write};
///
/// let path = std::env::temp_dir().join(format!("greenlet-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path); // left over from an earlier run?
/// let listener = UnixListener::bind(&path).unwrap();
/// let server = hub::spawn(move || {
///     let (mut s, _) = listener.accept().unwrap();
///     let mut buf = [0; 5];
///     s.read_exact(&mut buf).unwrap();
///     s.write_all(&buf).unwrap();
/// });
/// let mut c = UnixStream::connect(&path).unwrap();
/// c.write_all(b"hello").unwrap();
/// let mut back = [0; 5];
/// c.read_exact(&mut back).unwrap();
/// assert_eq!(&back, b"hello");
/// server.get().unwrap();
/// std::fs::remove_file(&path).unwrap(); // the listener is gone, its file is not
/// ```
pub struct UnixListener {
    reg: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Create a socket file at `path` and listen on it (backlog:
    /// `net.core.somaxconn`, as std's).
    ///
    /// # Errors
    /// `AddrInUse` if a file exists at `path` (see
    /// [who removes it](UnixListener#who-removes-the-socket-file)),
    /// `NotFound` if its directory does not exist, `InvalidInput` if the
    /// path is too long for a socket address (108 bytes on Linux) or holds
    /// a NUL byte.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UnixListener;
    /// use std::io::ErrorKind;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-bind-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// assert!(path.exists()); // a socket file
    /// assert_eq!(UnixListener::bind(&path).unwrap_err().kind(), ErrorKind::AddrInUse);
    /// drop(listener);
    /// std::fs::remove_file(&path).unwrap(); // the listener's drop left it there
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::wrap(mio::net::UnixListener::bind(path)?)
    }

    /// Listen on `addr`: a path, or on Linux an abstract name (no file;
    /// the name goes with the last socket that holds it).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use greenlet::hub::net::{UnixListener, UnixStream};
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("greenlet-doc-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let listener = UnixListener::bind_addr(&addr).unwrap();
    /// let _client = UnixStream::connect_addr(&addr).unwrap();
    /// let (_server, _) = listener.accept().unwrap();
    /// let bound = listener.local_addr().unwrap();
    /// assert_eq!(bound.as_abstract_name(), Some(name.as_bytes()));
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`bind`](UnixListener::bind); `AddrInUse` also for an abstract
    /// name that a live socket holds.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::wrap(mio::net::UnixListener::bind_addr(addr)?)
    }

    /// Wait (in the hub) for a connection and accept it. The address of a
    /// client is usually unnamed (clients seldom bind).
    ///
    /// # Errors
    /// The `accept(2)` error, e.g. `EMFILE` when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::{self, net::{UnixListener, UnixStream}};
    /// use std::io::Read;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-accept-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// let p = path.clone();
    /// let client = hub::spawn(move || UnixStream::connect(p).unwrap());
    /// let (mut server, addr) = listener.accept().unwrap(); // waits; the client runs
    /// assert!(addr.is_unnamed()); // the client did not bind
    /// drop(client.get().unwrap());
    /// assert_eq!(server.read(&mut [0; 1]).unwrap(), 0); // it hung up
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (sock, addr) = self.reg.run(Dir::Read, None, || self.reg.sock().accept())?;
        Ok((UnixStream::wrap(sock)?, addr))
    }

    /// The address it is bound to.
    ///
    /// # Errors
    /// As `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-laddr-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &net::raw(self))
            .finish()
    }
}

/// The first pause of [`UnixStream::connect`] when the listener's backlog
/// is full; it doubles up to [`CONNECT_RETRY_MAX`].
const CONNECT_RETRY_MIN: Duration = Duration::from_millis(1);
/// The longest pause between two connection attempts.
const CONNECT_RETRY_MAX: Duration = Duration::from_millis(50);

/// A Unix domain stream connection whose reads and writes wait on the hub.
///
/// `Read` and `Write` are implemented for `&UnixStream` too, so one
/// greenlet may read while another writes; or give each its own handle
/// with [`try_clone`](UnixStream::try_clone).
///
/// # Examples
///
/// ```
/// use greenlet::hub::{self, net::UnixStream};
/// use std::io::{Read, Write};
/// use std::rc::Rc;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let a = Rc::new(a);
/// let a2 = Rc::clone(&a);
/// let reader = hub::spawn(move || {
///     let mut buf = [0; 3];
///     (&*a2).read_exact(&mut buf).map(|()| buf) // reads through `&UnixStream`
/// });
/// (&*a).write_all(b"out").unwrap(); // while the reader waits on the same socket
/// let mut got = [0; 3];
/// (&b).read_exact(&mut got).unwrap();
/// (&b).write_all(b"in!").unwrap();
/// assert_eq!((&got, &reader.get().unwrap().unwrap()), (b"out", b"in!"));
/// ```
pub struct UnixStream {
    reg: Registered<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connect to the socket at `path`.
    ///
    /// A connection to a listener whose backlog is full cannot be waited
    /// for with epoll (the kernel answers `EAGAIN` and forgets the
    /// attempt): the greenlet then sleeps in the hub and tries again,
    /// 1 ms first, doubling up to 50 ms, for as long as it takes, as a
    /// blocking `connect(2)` would wait. Bound it with
    /// [`with_timeout`](crate::hub::with_timeout).
    ///
    /// # Errors
    /// `NotFound` if no file is at `path`, `ConnectionRefused` if nothing
    /// listens there (say, a file left behind by a dead listener).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{UnixListener, UnixStream};
    /// use std::io::ErrorKind;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-connect-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// let c = UnixStream::connect(&path).unwrap();
    /// assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// drop(listener); // its file stays, but nothing listens
    /// assert_eq!(UnixStream::connect(&path).unwrap_err().kind(), ErrorKind::ConnectionRefused);
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(UnixStream::connect(&path).unwrap_err().kind(), ErrorKind::NotFound);
    /// ```
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Connect to `addr`: a path, or on Linux an abstract name (see
    /// [`UnixListener::bind_addr`]). Waits as
    /// [`connect`](UnixStream::connect) does.
    ///
    /// # Errors
    /// As [`connect`](UnixStream::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::{UnixListener, UnixStream};
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-caddr-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let addr = SocketAddr::from_pathname(&path).unwrap();
    /// let listener = UnixListener::bind_addr(&addr).unwrap();
    /// let client = UnixStream::connect_addr(&addr).unwrap();
    /// assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// let (_server, _) = listener.accept().unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let mut pause = CONNECT_RETRY_MIN;
        loop {
            match mio::net::UnixStream::connect_addr(addr) {
                Ok(sock) => return UnixStream::wrap(sock),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::hub::sleep(pause);
                    pause = (pause * 2).min(CONNECT_RETRY_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A pair of connected sockets (`socketpair(2)`), both on this thread's
    /// hub.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UnixStream;
    /// use std::io::{Read, Write};
    ///
    /// let (mut a, mut b) = UnixStream::pair().unwrap();
    /// a.write_all(b"hi").unwrap();
    /// let mut buf = [0; 2];
    /// b.read_exact(&mut buf).unwrap();
    /// assert_eq!(&buf, b"hi");
    /// ```
    ///
    /// # Errors
    /// `socketpair(2)`'s (`EMFILE`, ...), or the registration's.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::wrap(a)?, UnixStream::wrap(b)?))
    }

    /// Shut down the read half, the write half, or both (`shutdown(2)`).
    ///
    /// # Errors
    /// As `shutdown(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UnixStream;
    /// use std::io::Read;
    /// use std::net::Shutdown;
    ///
    /// let (a, mut b) = UnixStream::pair().unwrap();
    /// a.shutdown(Shutdown::Write).unwrap();
    /// let mut rest = Vec::new();
    /// assert_eq!(b.read_to_end(&mut rest).unwrap(), 0); // end of stream at once
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.reg.sock().shutdown(how)
    }

    /// The peer's address (a listener's path or name; unnamed for a client
    /// seen from the server).
    ///
    /// # Errors
    /// As `getpeername(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed()); // socketpair(2) names neither end
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().peer_addr()
    }

    /// The local address (usually unnamed for a client).
    ///
    /// # Errors
    /// As `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::hub::net::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let addr = a.local_addr().unwrap();
    /// assert!(addr.is_unnamed() && addr.as_pathname().is_none());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.reg.sock().local_addr()
    }
}

impl_handles! {
    UnixListener,
    mio::net::UnixListener,
    std::os::unix::net::UnixListener,
    "Unix listener",
    from_std: {
        /// ```
        /// use greenlet::hub::net::{UnixListener, UnixStream};
        ///
        /// let path = std::env::temp_dir().join(format!("greenlet-lfrom-{}.sock", std::process::id()));
        /// let _ = std::fs::remove_file(&path);
        /// let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        /// let listener = UnixListener::from_std(std_listener).unwrap();
        /// let _client = UnixStream::connect(&path).unwrap();
        /// assert!(listener.accept().is_ok()); // waits in the hub now
        /// std::fs::remove_file(&path).unwrap();
        /// ```
    },
    try_clone: {
        /// ```
        /// use greenlet::hub::net::{UnixListener, UnixStream};
        ///
        /// let path = std::env::temp_dir().join(format!("greenlet-lclone-{}.sock", std::process::id()));
        /// let _ = std::fs::remove_file(&path);
        /// let listener = UnixListener::bind(&path).unwrap();
        /// let clone = listener.try_clone().unwrap();
        /// drop(listener); // the socket lives on in the clone
        /// let _client = UnixStream::connect(&path).unwrap();
        /// assert!(clone.accept().is_ok());
        /// std::fs::remove_file(&path).unwrap();
        /// ```
    },
    into_std: {
        /// ```
        /// use greenlet::hub::net::UnixListener;
        ///
        /// let path = std::env::temp_dir().join(format!("greenlet-linto-{}.sock", std::process::id()));
        /// let _ = std::fs::remove_file(&path);
        /// let listener = UnixListener::bind(&path).unwrap();
        /// let std_listener = listener.into_std().unwrap();
        /// let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        /// assert!(std_listener.accept().is_ok()); // a blocking accept
        /// std::fs::remove_file(&path).unwrap();
        /// ```
    },
}
impl_handles! {
    UnixStream,
    mio::net::UnixStream,
    std::os::unix::net::UnixStream,
    "Unix stream",
    from_std: {
        /// ```
        /// use greenlet::hub::net::UnixStream;
        /// use std::io::{Read, Write};
        ///
        /// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        /// let mut a = UnixStream::from_std(a).unwrap();
        /// let mut b = UnixStream::from_std(b).unwrap();
        /// a.write_all(b"hey").unwrap();
        /// let mut buf = [0; 3];
        /// b.read_exact(&mut buf).unwrap();
        /// assert_eq!(&buf, b"hey");
        /// ```
    },
    try_clone: {
        /// ```
        /// use greenlet::hub::net::UnixStream;
        /// use std::io::{Read, Write};
        ///
        /// let (a, mut b) = UnixStream::pair().unwrap();
        /// let mut clone = a.try_clone().unwrap();
        /// clone.write_all(b"x").unwrap();
        /// drop(clone); // the socket stays open through `a`
        /// (&a).write_all(b"y").unwrap();
        /// let mut buf = [0; 2];
        /// b.read_exact(&mut buf).unwrap();
        /// assert_eq!(&buf, b"xy");
        /// ```
    },
    into_std: {
        /// ```
        /// use greenlet::hub::net::UnixStream;
        /// use std::io::{Read, Write};
        ///
        /// let (a, mut b) = UnixStream::pair().unwrap();
        /// let mut std_a: std::os::unix::net::UnixStream = a.into_std().unwrap();
        /// std_a.write_all(b"std").unwrap();
        /// let mut buf = [0; 3];
        /// b.read_exact(&mut buf).unwrap();
        /// assert_eq!(&buf, b"std");
        /// ```
    },
}
net::impl_as_sock!(UnixListener, UnixStream);
impl_stream_io!(UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &net::raw(self))
            .finish()
    }
}

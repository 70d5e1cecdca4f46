//! Socket addresses: [`ToSocketAddrs`], which resolves names on a worker
//! thread so that the hub never blocks on DNS, and trying each address a
//! name resolves to.

use crate::hub::blocking::run_blocking;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What `hub::net`'s `bind`, `connect` and `send_to` take: the types std's
/// [`std::net::ToSocketAddrs`] is implemented for, and only those (the
/// trait is sealed).
///
/// Addresses given as numbers (`SocketAddr`, `(IpAddr, u16)`,
/// `"127.0.0.1:80"`, `("::1", 80)`) are parsed on the spot. A host *name*
/// (`"localhost:80"`, `("example.com", 443)`) is looked up with the
/// system's resolver on a worker thread, through
/// [`spawn_blocking`](crate::hub::spawn_blocking): the calling greenlet
/// waits in the hub meanwhile and every other greenlet runs, where std's
/// trait would block the whole thread for the lookup. A lookup can be
/// interrupted by [`with_timeout`](crate::hub::with_timeout) or a kill like
/// any other wait.
///
/// # Examples
///
/// ```
/// use greenlet::hub::net::UdpSocket;
///
/// // A literal: parsed here, no lookup.
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// // A name: looked up on a worker thread while the hub runs the others.
/// let b = UdpSocket::bind(("localhost", 0)).unwrap();
/// b.send_to(b"hi", a.local_addr().unwrap()).unwrap();
/// let mut buf = [0; 2];
/// assert_eq!(a.recv(&mut buf).unwrap(), 2);
/// ```
pub trait ToSocketAddrs: sealed::Sealed {
    /// The addresses, or the name to look up.
    #[doc(hidden)]
    fn to_lookup(&self) -> io::Result<Lookup>;
}

mod sealed {
    pub trait Sealed {}
}

/// What [`ToSocketAddrs`] gives: addresses at once, or a name to resolve.
#[doc(hidden)]
#[derive(Debug)]
#[non_exhaustive]
pub enum Lookup {
    /// Numeric addresses: nothing to look up.
    Ready(Vec<SocketAddr>),
    /// A host name and a port, for the resolver.
    Name(String, u16),
}

impl Lookup {
    /// The addresses, looking the name up on a worker thread.
    fn resolve(self) -> io::Result<Vec<SocketAddr>> {
        match self {
            Lookup::Ready(v) => Ok(v),
            Lookup::Name(host, port) => run_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .map(Iterator::collect)
            })?,
        }
    }
}

/// Implements the trait for types whose addresses are numbers.
macro_rules! numeric {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl ToSocketAddrs for $t {
            fn to_lookup(&self) -> io::Result<Lookup> {
                Ok(Lookup::Ready(std::net::ToSocketAddrs::to_socket_addrs(self)?.collect()))
            }
        }
    )*};
}

numeric!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl sealed::Sealed for [SocketAddr] {}
impl ToSocketAddrs for [SocketAddr] {
    fn to_lookup(&self) -> io::Result<Lookup> {
        Ok(Lookup::Ready(self.to_vec()))
    }
}

/// A host (a name or an IP address) and a port.
fn host_port(host: &str, port: u16) -> Lookup {
    match host.parse::<IpAddr>() {
        Ok(ip) => Lookup::Ready(vec![SocketAddr::new(ip, port)]),
        Err(_) => Lookup::Name(host.to_owned(), port),
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn to_lookup(&self) -> io::Result<Lookup> {
        Ok(host_port(self.0, self.1))
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn to_lookup(&self) -> io::Result<Lookup> {
        Ok(host_port(&self.0, self.1))
    }
}

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    /// `"ip:port"` or `"[v6]:port"` is parsed; `"host:port"` names a host
    /// to look up. Without a port: `InvalidInput`, as std says.
    fn to_lookup(&self) -> io::Result<Lookup> {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Ok(Lookup::Ready(vec![a]));
        }
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address");
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port: u16 = port.parse().map_err(|_| invalid())?;
        Ok(host_port(host, port))
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn to_lookup(&self) -> io::Result<Lookup> {
        self.as_str().to_lookup()
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_lookup(&self) -> io::Result<Lookup> {
        (**self).to_lookup()
    }
}

/// The addresses `addr` stands for, looking a name up off the hub.
fn addresses(addr: &(impl ToSocketAddrs + ?Sized)) -> io::Result<Vec<SocketAddr>> {
    addr.to_lookup()?.resolve()
}

/// Try `f` on each address `addr` resolves to; the first success, else the
/// last error.
pub(super) fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addresses(&addr)? {
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
    addresses(&addr)?.into_iter().next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address to send to",
        )
    })
}

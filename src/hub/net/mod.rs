//! Sockets that wait on the hub instead of blocking the thread: TCP
//! ([`TcpListener`], [`TcpStream`]), UDP ([`UdpSocket`]) and, on Unix, Unix
//! domain streams (`UnixListener`, `UnixStream`). Their methods are shaped
//! as std's types' are.
//!
//! Their descriptors are non-blocking and registered with this thread's hub
//! for their whole life (edge-triggered). An operation first makes the
//! system call; only if it would block does the greenlet wait in the hub
//! for the socket to become ready, while the other greenlets run. A socket
//! belongs to the thread that made it (`!Send`).
//!
//! ```compile_fail
//! // A socket is registered with its thread's hub: it cannot move away.
//! fn needs_send<T: Send>(_: T) {}
//! needs_send(greenlet::hub::net::UdpSocket::bind("127.0.0.1:0").unwrap());
//! ```
//!
//! Errors (refused, reset, broken pipe, a peer gone mid-stream) come back
//! as `io::Error`; nothing here panics on them. To bound an operation in
//! time, wrap it in [`with_timeout`](super::with_timeout).
//!
//! ```
//! use greenlet::hub::{self, net::{TcpListener, TcpStream}};
//! use std::io::{Read, Write};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = hub::spawn(move || {
//!     let (mut s, _) = listener.accept().unwrap();
//!     let mut buf = [0; 5];
//!     s.read_exact(&mut buf).unwrap();
//!     s.write_all(&buf).unwrap();
//! });
//! let mut c = TcpStream::connect(addr).unwrap();
//! c.write_all(b"hello").unwrap();
//! let mut back = [0; 5];
//! c.read_exact(&mut back).unwrap();
//! assert_eq!(&back, b"hello");
//! server.get().unwrap();
//! ```
//!
//! # Handing sockets over
//!
//! * `from_std` takes over a std socket (made with options this module
//!   does not offer, say through `socket2`) and makes it non-blocking.
//! * `into_std` leaves the hub: the socket is deregistered and comes back
//!   as the std type **in blocking mode**, since std's users expect a
//!   blocking socket. `O_NONBLOCK` belongs to the open file description,
//!   which every `try_clone` of the socket shares: a clone still in the hub
//!   would then block its whole thread. Convert the last handle only (or
//!   call `set_nonblocking(true)` on the std socket yourself).
//! * `try_clone` makes a second descriptor for the same socket (`dup(2)`)
//!   and registers it with the hub on its own: a reader greenlet and a
//!   writer greenlet can each own one and wait at the same time. Both
//!   handles belong to this thread.
//!
//! ```
//! use greenlet::hub::{self, net::{TcpListener, TcpStream}};
//! use std::io::{Read, Write};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
//! let (mut reader, _) = listener.accept().unwrap();
//! let mut writer = reader.try_clone().unwrap();
//! let w = hub::spawn(move || writer.write_all(b"from the writer").unwrap());
//! let r = hub::spawn(move || {
//!     let mut buf = [0; 3];
//!     reader.read_exact(&mut buf).unwrap();
//!     buf
//! });
//! client.write_all(b"abc").unwrap();
//! let mut got = [0; 15];
//! client.read_exact(&mut got).unwrap();
//! assert_eq!(&got, b"from the writer");
//! assert_eq!(&r.get().unwrap(), b"abc");
//! w.get().unwrap();
//! ```
//!
//! * Every socket type is `AsFd` and `AsRawFd` (`AsSocket` and
//!   `AsRawSocket` on Windows), so that it can be handed
//!   to [`wait_readable`](super::wait_readable) or to `socket2::SockRef`
//!   for options. Reading or writing through the descriptor behind the
//!   hub's back is allowed; the hub finds out at its next call.

mod addr;
mod handles;
mod registration;
mod tcp;
mod trait_impls;
mod udp;
#[cfg(unix)]
mod unix;

pub use addr::{Lookup, ToSocketAddrs};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use unix::{UnixListener, UnixStream};

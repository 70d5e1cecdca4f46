//! TCP sockets that wait on the hub instead of blocking the thread.
//!
//! Their descriptors are non-blocking and registered with this thread's hub
//! for their whole life (edge-triggered). An operation first makes the
//! system call; only if it would block does the greenlet wait in the hub
//! for the socket to become ready, while the other greenlets run. A socket
//! belongs to the thread that made it (`!Send`).
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

mod addr;
mod registration;
mod tcp;

pub use tcp::{TcpListener, TcpStream};

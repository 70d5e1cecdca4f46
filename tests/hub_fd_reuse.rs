//! A descriptor number closed and reused while a greenlet waits on it
//! (issue 15). `wait_readable` keys its temporary registration by the
//! number; C code (simulated here with `BorrowedFd::borrow_raw` and
//! `dup2`) may close that number under the wait, and a new `hub::net`
//! socket may get it. The waiter's cleanup must then leave the socket's
//! registration alone, and a wait on the new descriptor must work.
//!
//! The number is reused with `dup2(new, N)`, which closes N and puts the
//! new descriptor there in one step: between a `close(2)` and a
//! `socket(2)`, another test thread could take the number.

// Unix: `dup2` puts a new descriptor at a chosen number; Windows has no
// way to choose a socket handle's value, so the reuse cannot be staged.
#![cfg(unix)]

use greenlet::hub::{self, net::UdpSocket};
use std::io::{ErrorKind, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::time::Duration;

/// How long the stale waiter waits: its wait ends by timing out.
const STALE_WAIT: Duration = Duration::from_millis(50);
/// A bound that turns a hang into a failure.
const BOUND: Duration = Duration::from_secs(10);

/// Spawn a greenlet that waits until `fd` is readable, for `STALE_WAIT`;
/// let it register (it runs when this greenlet yields).
fn stale_waiter(fd: RawFd) -> hub::Task<Result<(), ErrorKind>> {
    let t = hub::spawn(move || {
        // SAFETY: this breaks borrow_raw's contract on purpose (the number
        // is closed and reused while the borrow lasts): that is what C
        // code holding the number can do, and the case under test. The
        // hub only hands the number to epoll_ctl.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        hub::wait_readable(fd, Some(STALE_WAIT)).map_err(|e| e.kind())
    });
    hub::sleep(Duration::ZERO);
    t
}

/// Put `new` at number `n` (closing what was there) and return `n`'s new
/// owner; `new`'s own number is closed.
fn reuse_number<T: IntoRawFd + FromRawFd>(new: T, n: RawFd) -> T {
    let m = new.into_raw_fd();
    // SAFETY: m is ours (just released from `new`); n is the number this
    // test deliberately takes over (its old owner gives it up below).
    assert_eq!(unsafe { libc::dup2(m, n) }, n, "dup2");
    // SAFETY: m is ours and no longer needed; n now holds the descriptor
    // and is owned by the value made here, nothing else.
    unsafe {
        libc::close(m);
        T::from_raw_fd(n)
    }
}

/// A connected pair of hub UDP sockets; the first is `sock`.
fn connect_pair(sock: &UdpSocket) -> UdpSocket {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.connect(sock.local_addr().unwrap()).unwrap();
    sock.connect(peer.local_addr().unwrap()).unwrap();
    peer
}

/// `sock` receives a datagram that is sent after it started waiting (so
/// that only an epoll event can wake it), and sends one back.
fn still_works(sock: UdpSocket) {
    let peer = connect_pair(&sock);
    let reader = hub::spawn(move || {
        let mut buf = [0u8; 16];
        let r = hub::with_timeout(BOUND, || sock.recv(&mut buf));
        let n = r.expect("the socket's registration survived").unwrap();
        sock.send(&buf[..n]).unwrap();
        buf[..n].to_vec()
    });
    hub::sleep(Duration::ZERO); // the reader finds nothing and waits
    peer.send(b"still here").unwrap();
    assert_eq!(reader.get().unwrap(), b"still here");
    let mut back = [0u8; 16];
    let n = hub::with_timeout(BOUND, || peer.recv(&mut back))
        .expect("the echo came back")
        .unwrap();
    assert_eq!(&back[..n], b"still here");
}

/// The waited number's file is closed with it (the epoll registration of
/// the wait goes away with the file), a hub socket gets the number, the
/// wait times out: the socket must keep its registration.
#[test]
fn a_socket_that_reuses_a_waited_number_keeps_working() {
    let (r, _w) = std::io::pipe().unwrap();
    let n = r.as_raw_fd();
    let waiter = stale_waiter(n);
    let std_sock = reuse_number(std::net::UdpSocket::bind("127.0.0.1:0").unwrap(), n);
    let _ = r.into_raw_fd(); // its number belongs to the socket now
    let sock = UdpSocket::from_std(std_sock).unwrap();
    assert_eq!(sock.as_raw_fd(), n, "the socket has the waited number");
    assert_eq!(waiter.get().unwrap(), Err(ErrorKind::TimedOut));
    still_works(sock);
}

/// The same while the waited file stays open through another descriptor:
/// the kernel keeps the wait's epoll entry for the old file at number N
/// (it goes only when the file closes), beside the socket's own.
#[test]
fn a_socket_reusing_a_number_whose_old_file_lives_on_keeps_working() {
    let (r, mut w) = std::io::pipe().unwrap();
    let n = r.as_raw_fd();
    let old = r.try_clone().unwrap(); // keeps the old file open
    let waiter = stale_waiter(n);
    let std_sock = reuse_number(std::net::UdpSocket::bind("127.0.0.1:0").unwrap(), n);
    let _ = r.into_raw_fd();
    let sock = UdpSocket::from_std(std_sock).unwrap();
    assert_eq!(sock.as_raw_fd(), n);
    // The old entry may still report the old file: the stale wait then
    // ends early (readiness is a hint); either way it ends.
    w.write_all(b"x").unwrap();
    let r = waiter.get().unwrap();
    assert!(matches!(r, Ok(()) | Err(ErrorKind::TimedOut)), "{r:?}");
    still_works(sock);
    drop(old);
}

/// A new wait on a reused number, while the stale wait on the old file
/// still holds its registration: the new wait must watch the new file.
#[test]
fn a_wait_on_a_reused_number_watches_the_new_descriptor() {
    let (r, _w) = std::io::pipe().unwrap();
    let n = r.as_raw_fd();
    let waiter = stale_waiter(n);
    let (r2, mut w2) = std::io::pipe().unwrap();
    let r2 = reuse_number(r2, n);
    let _ = r.into_raw_fd();
    let writer = hub::spawn(move || {
        hub::sleep(Duration::from_millis(5));
        w2.write_all(b"x").unwrap();
        w2
    });
    hub::wait_readable(&r2, Some(BOUND)).expect("readable: the new pipe has a byte");
    assert_eq!(waiter.get().unwrap(), Err(ErrorKind::TimedOut));
    let w2 = writer.get().unwrap(); // kept open: no hang-up to report
    // Drained, the new pipe is not readable: a wait on it times out.
    let mut b = [0u8; 1];
    std::io::Read::read_exact(&mut &r2, &mut b).unwrap();
    let e = hub::wait_readable(&r2, Some(Duration::from_millis(5))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert_eq!(hub::parked_count(), 0);
    drop(w2);
}

//! `hub::net::UdpSocket`. Each test runs on its own thread (its own hub)
//! over loopback.

#[path = "common/fd_mode.rs"]
mod fd_mode;

#[cfg(unix)]
use fd_mode::nonblocking;
use greenlet::hub::{self, Elapsed, net::UdpSocket, sync::Semaphore};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A bound that turns a hang into a failure.
const BOUND: Duration = Duration::from_secs(30);

fn bind() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let a = s.local_addr().expect("local_addr");
    (s, a)
}

/// Echo every datagram back to its sender until one says "stop"; the
/// number echoed.
fn echo_server(s: UdpSocket) -> hub::Task<usize> {
    hub::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        loop {
            let (k, from) = s.recv_from(&mut buf).expect("server recv_from");
            if &buf[..k] == b"stop" {
                return n;
            }
            assert_eq!(s.send_to(&buf[..k], from).expect("server send_to"), k);
            n += 1;
        }
    })
}

/// The bytes of datagram `i`: its number, then a pattern of a length that
/// varies with `i` (1 to 1,200 bytes in all).
fn datagram(i: u32) -> Vec<u8> {
    let len = 4 + (i as usize * 37) % 1197;
    let mut d = i.to_le_bytes().to_vec();
    d.extend((0..len - 4).map(|j| (i as usize + j) as u8));
    d
}

#[test]
fn udp_echo() {
    let (server, addr) = bind();
    let echo = echo_server(server);
    let (c, _) = bind();
    c.connect(addr).unwrap();
    assert_eq!(c.peer_addr().unwrap(), addr);
    for i in 0..20 {
        let d = datagram(i);
        assert_eq!(c.send(&d).unwrap(), d.len());
        let mut buf = [0u8; 2048];
        let n = hub::with_timeout(BOUND, || c.recv(&mut buf))
            .expect("echo came back")
            .unwrap();
        assert_eq!(&buf[..n], &d[..]);
    }
    c.send(b"stop").unwrap();
    assert_eq!(echo.get().unwrap(), 20);
}

/// Two tasks exchange 1,000 datagrams: one sends them (at most 16 in
/// flight, so that loopback's receive buffers never overflow), the echo
/// task returns each, and a third greenlet, sharing the sending socket,
/// receives the echoes. Every datagram comes back once, whole.
#[test]
fn a_thousand_datagrams_are_all_accounted_for() {
    const N: u32 = 1000;
    let (server, addr) = bind();
    let echo = echo_server(server);
    let (c, _) = bind();
    c.connect(addr).unwrap();
    let c = Rc::new(c);
    let window = Semaphore::new(16);
    let seen = Rc::new(RefCell::new(BTreeSet::new()));
    let receiver = {
        let (c, window, seen) = (c.clone(), window.clone(), seen.clone());
        hub::spawn(move || {
            let mut buf = [0u8; 2048];
            for _ in 0..N {
                let n = c.recv(&mut buf).expect("recv");
                let i = u32::from_le_bytes(buf[..4].try_into().unwrap());
                assert_eq!(&buf[..n], &datagram(i)[..], "datagram {i} intact");
                assert!(seen.borrow_mut().insert(i), "datagram {i} came back twice");
                window.add_permits(1);
            }
        })
    };
    let sender = {
        let c = c.clone();
        hub::spawn(move || {
            for i in 0..N {
                window.acquire().forget();
                let d = datagram(i);
                assert_eq!(c.send(&d).expect("send"), d.len());
            }
        })
    };
    assert_eq!(hub::join_all(&[sender, receiver], Some(BOUND)), 2);
    assert_eq!(seen.borrow().len(), N as usize);
    assert_eq!(
        seen.borrow().iter().copied().collect::<Vec<_>>(),
        (0..N).collect::<Vec<_>>()
    );
    c.send(b"stop").unwrap();
    assert_eq!(echo.get().unwrap(), N as usize);
}

/// A datagram longer than the buffer fills it and the rest is lost, as
/// with std's socket: the same calls on both give the same results. (On
/// Unix the receive returns the buffer's length; on Windows it fails with
/// `WSAEMSGSIZE`, having filled the buffer.)
#[test]
fn an_oversized_datagram_is_truncated_as_std_truncates_it() {
    // What a receive into a buffer shorter than the datagram returns.
    #[cfg(unix)]
    let truncated = |len: usize| Ok(len);
    #[cfg(windows)]
    let truncated = |_len: usize| Err(Some(10040)); // WSAEMSGSIZE
    let big: Vec<u8> = (0..100u8).collect();
    // A receive's length, or its error's OS code.
    type Recv<'a> = &'a dyn Fn(&mut [u8]) -> Result<usize, Option<i32>>;
    let results = |recv: Recv| {
        let mut small = [0u8; 10];
        let n1 = recv(&mut small);
        let mut next = [0u8; 100];
        let n2 = recv(&mut next).expect("the next datagram fits");
        (n1, small.to_vec(), next[..n2].to_vec())
    };
    // Two datagrams each: the big one, then a short one.
    let (hub_sock, hub_addr) = bind();
    let std_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let std_addr = std_sock.local_addr().unwrap();
    let (sender, _) = bind();
    for to in [hub_addr, std_addr] {
        sender.send_to(&big, to).unwrap();
        sender.send_to(b"next", to).unwrap();
    }
    let from_hub = results(&|b| hub_sock.recv(b).map_err(|e| e.raw_os_error()));
    let from_std = results(&|b| std_sock.recv(b).map_err(|e| e.raw_os_error()));
    assert_eq!(
        from_hub,
        (truncated(10), big[..10].to_vec(), b"next".to_vec())
    );
    assert_eq!(from_hub, from_std);
    // recv_from truncates the same way.
    sender.send_to(&big, hub_addr).unwrap();
    let mut small = [0u8; 7];
    let r = hub_sock.recv_from(&mut small);
    assert_eq!(small, big[..7]);
    match r {
        Ok((n, from)) => {
            assert_eq!(Ok(n), truncated(7));
            assert_eq!(from, sender.local_addr().unwrap());
        }
        Err(e) => assert_eq!(Err(e.raw_os_error()), truncated(7)),
    }
}

#[test]
fn a_recv_under_with_timeout_ends_and_the_socket_works_afterwards() {
    let (s, addr) = bind();
    let mut buf = [0u8; 16];
    let t = Instant::now();
    let r = hub::with_timeout(Duration::from_millis(30), || s.recv(&mut buf));
    assert!(matches!(r, Err(Elapsed)), "{r:?}");
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert_eq!(hub::parked_count(), 0, "nothing left waiting");
    receives_a_datagram_sent_later(&s, addr);
}

/// `s` (bound to `addr`) receives a datagram that a new peer sends after
/// `s` started waiting: only an epoll event can wake it.
fn receives_a_datagram_sent_later(s: &UdpSocket, addr: SocketAddr) {
    let (peer, _) = bind();
    let sender = hub::spawn(move || {
        hub::sleep(Duration::from_millis(5));
        peer.send_to(b"later", addr).unwrap();
    });
    let mut buf = [0u8; 16];
    let n = hub::with_timeout(BOUND, || s.recv(&mut buf))
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"later");
    sender.get().unwrap();
}

#[test]
fn errors_are_io_errors() {
    let (s, _) = bind();
    // No peer: send has nowhere to go.
    assert!(s.send(b"x").is_err());
    assert_eq!(s.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    // An address list with nothing in it.
    let none: &[SocketAddr] = &[];
    assert_eq!(
        s.send_to(b"x", none).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(s.connect(none).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(
        UdpSocket::bind(none).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // A peer with no socket: loopback answers with ICMP port unreachable,
    // which the next receive reports. Unix only: Windows reports it as
    // WSAECONNRESET, and Wine not at all (the receive waits on).
    #[cfg(unix)]
    refused_reported(&s);
}

#[cfg(unix)]
fn refused_reported(s: &UdpSocket) {
    let closed = {
        let (gone, a) = bind();
        drop(gone);
        a
    };
    s.connect(closed).unwrap();
    s.send(b"anyone?").unwrap();
    let mut buf = [0u8; 8];
    let e = hub::with_timeout(BOUND, || s.recv(&mut buf))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
}

/// A clone is a second descriptor of the same socket, registered on its
/// own: one task receives on the clone while another sends on the
/// original.
#[test]
fn a_clone_receives_while_the_original_sends() {
    let (server, addr) = bind();
    let echo = echo_server(server);
    let (c, _) = bind();
    c.connect(addr).unwrap();
    let reader = c.try_clone().unwrap();
    assert_ne!(fd_mode::raw(&reader), fd_mode::raw(&c));
    assert_eq!(reader.local_addr().unwrap(), c.local_addr().unwrap());
    let r = hub::spawn(move || {
        let mut buf = [0u8; 64];
        (0..50)
            .map(|_| {
                let n = reader.recv(&mut buf).unwrap();
                String::from_utf8(buf[..n].to_vec()).unwrap()
            })
            .collect::<Vec<_>>()
    });
    let w = hub::spawn(move || {
        for i in 0..50 {
            c.send(format!("message {i}").as_bytes()).unwrap();
            hub::sleep(Duration::ZERO);
        }
        c
    });
    let got = hub::with_timeout(BOUND, || r.get())
        .expect("in time")
        .unwrap();
    let want: Vec<String> = (0..50).map(|i| format!("message {i}")).collect();
    assert_eq!(got, want);
    let c = w.get().unwrap();
    c.send(b"stop").unwrap();
    assert_eq!(echo.get().unwrap(), 50);
}

/// `into_std` deregisters the socket and hands it back blocking; `from_std`
/// takes it back into the hub.
#[test]
fn into_std_and_back() {
    let (s, addr) = bind();
    // Unix only: see fd_mode::nonblocking.
    #[cfg(unix)]
    assert!(nonblocking(&s));
    let std_sock = s.into_std().unwrap();
    // Unix only: see fd_mode::nonblocking.
    #[cfg(unix)]
    assert!(
        !nonblocking(&std_sock),
        "into_std returns a blocking socket"
    );
    assert_eq!(std_sock.local_addr().unwrap(), addr);
    let (peer, peer_addr) = bind();
    peer.send_to(b"to std", addr).unwrap();
    let mut buf = [0u8; 16];
    // Blocking, on this thread: the datagram is already queued.
    let (n, from) = std_sock.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"to std"[..], peer_addr));
    let s = UdpSocket::from_std(std_sock).unwrap();
    // Unix only: see fd_mode::nonblocking.
    #[cfg(unix)]
    assert!(nonblocking(&s));
    receives_a_datagram_sent_later(&s, addr);
}

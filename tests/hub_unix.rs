//! `hub::net::{UnixListener, UnixStream}`. Each test runs on its own thread
//! (its own hub); socket files go in a directory of the test's own.

// Unix domain sockets: Unix only.
#![cfg(unix)]

#[path = "common/fd_mode.rs"]
mod fd_mode;

use fd_mode::nonblocking;
use greenlet::hub::{
    self,
    net::{UnixListener, UnixStream},
};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A bound that turns a hang into a failure.
const BOUND: Duration = Duration::from_secs(30);

/// A fresh, empty directory for one test's socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("greenlet-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        TempDir(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Echo everything on each of `n` connections until its peer shuts down;
/// the bytes echoed.
fn echo_server(l: UnixListener, n: usize) -> hub::Task<usize> {
    hub::spawn(move || {
        let conns: Vec<hub::Task<usize>> = (0..n)
            .map(|_| {
                let (mut s, _) = l.accept().expect("accept");
                hub::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut total = 0;
                    loop {
                        match s.read(&mut buf).expect("server read") {
                            0 => return total,
                            k => {
                                s.write_all(&buf[..k]).expect("echo write");
                                total += k;
                            }
                        }
                    }
                })
            })
            .collect();
        conns.into_iter().map(|t| t.get().expect("conn task")).sum()
    })
}

#[test]
fn unix_stream_echo() {
    let dir = TempDir::new("echo");
    let path = dir.path("echo.sock");
    let l = UnixListener::bind(&path).unwrap();
    assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    let server = echo_server(l, 10);
    let clients: Vec<hub::Task<usize>> = (0..10)
        .map(|i| {
            let path = path.clone();
            hub::spawn(move || {
                let mut s = UnixStream::connect(&path).expect("connect");
                assert_eq!(s.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
                let mut sent = 0;
                for round in 0..10 {
                    let msg = format!("client {i} round {round}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                    sent += msg.len();
                }
                s.shutdown(Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).unwrap();
                assert!(rest.is_empty());
                sent
            })
        })
        .collect();
    assert_eq!(hub::join_all(&clients, Some(BOUND)), 10);
    let sent: usize = clients.into_iter().map(|c| c.get().unwrap()).sum();
    assert_eq!(server.get().unwrap(), sent);
}

/// The socket file outlives the listener (std's convention): binding the
/// path again fails with `AddrInUse` and connecting is refused, until the
/// caller removes the file.
#[test]
fn the_socket_file_stays_until_the_caller_removes_it() {
    let dir = TempDir::new("left-behind");
    let path = dir.path("left.sock");
    let l = UnixListener::bind(&path).unwrap();
    drop(l);
    let meta = std::fs::symlink_metadata(&path).expect("the file is still there");
    assert!(meta.file_type().is_socket());
    assert_eq!(
        UnixListener::bind(&path).unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    assert_eq!(
        UnixStream::connect(&path).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    std::fs::remove_file(&path).unwrap();
    let l = UnixListener::bind(&path).expect("bind after the caller removed the file");
    let server = echo_server(l, 1);
    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"again").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"again");
    assert_eq!(server.get().unwrap(), 5);
}

/// Abstract names (Linux): no file; the name is free again once its last
/// socket is closed.
#[cfg(target_os = "linux")]
#[test]
fn abstract_names_work_and_leave_nothing_behind() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    let name = format!("greenlet-test-abstract-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    for _ in 0..2 {
        let l = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            l.local_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        assert_eq!(
            UnixListener::bind_addr(&addr).unwrap_err().kind(),
            ErrorKind::AddrInUse,
            "the name is held while the listener lives"
        );
        let server = echo_server(l, 1);
        let mut c = UnixStream::connect_addr(&addr).unwrap();
        c.write_all(b"abstract").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"abstract");
        assert_eq!(server.get().unwrap(), 8);
        // The listener is dropped with the server task: the next round
        // binds the same name again.
    }
}

#[test]
fn bad_paths_are_io_errors() {
    let dir = TempDir::new("bad-paths");
    assert_eq!(
        UnixStream::connect(dir.path("nobody-here.sock"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let long = dir.path(&"x".repeat(200));
    assert_eq!(
        UnixListener::bind(&long).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        UnixStream::connect(&long).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        UnixListener::bind(dir.path("no-such-dir/x.sock"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// A reader task and a writer task, each with its own handle (a clone) of
/// one stream, wait at once: the writer fills the socket buffers while the
/// reader drains the echoes.
#[test]
fn a_reader_and_a_writer_each_with_a_clone() {
    let (a, b) = UnixStream::pair().unwrap();
    let echo = hub::spawn(move || {
        let mut b = b;
        let mut buf = [0u8; 8192];
        let mut total = 0;
        loop {
            match b.read(&mut buf).unwrap() {
                0 => break,
                k => {
                    b.write_all(&buf[..k]).unwrap();
                    total += k;
                }
            }
        }
        b.shutdown(Shutdown::Write).unwrap();
        total
    });
    let n = 4 << 20;
    let mut writer_half = a.try_clone().unwrap();
    assert_ne!(writer_half.as_raw_fd(), a.as_raw_fd());
    let writer = hub::spawn(move || {
        let data: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        writer_half.write_all(&data).unwrap();
        writer_half.shutdown(Shutdown::Write).unwrap();
    });
    let mut reader_half = a;
    let reader = hub::spawn(move || {
        let mut got = Vec::with_capacity(n);
        reader_half.read_to_end(&mut got).unwrap();
        got
    });
    let got = hub::with_timeout(BOUND, || reader.get())
        .expect("in time")
        .unwrap();
    writer.get().unwrap();
    assert_eq!(got.len(), n);
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8));
    assert_eq!(echo.get().unwrap(), n);
}

/// `into_std` deregisters a stream (and a listener) and hands it back
/// blocking; `from_std` takes it back into the hub.
#[test]
fn into_std_and_back() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut a = a.into_std().unwrap();
    assert!(!nonblocking(&a), "into_std returns a blocking stream");
    a.write_all(b"std").unwrap();
    let mut b = b;
    let mut buf = [0u8; 3];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std");
    // A blocking read on the std stream would block the thread: the data
    // is written first.
    b.write_all(b"hub").unwrap();
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hub");
    let mut a = UnixStream::from_std(a).unwrap();
    assert!(nonblocking(&a));
    let writer = hub::spawn(move || {
        hub::sleep(Duration::from_millis(5));
        b.write_all(b"back").unwrap();
        b
    });
    let mut four = [0u8; 4];
    hub::with_timeout(BOUND, || a.read_exact(&mut four))
        .unwrap()
        .unwrap();
    assert_eq!(&four, b"back");
    drop(writer.get().unwrap());

    let dir = TempDir::new("into-std");
    let path = dir.path("l.sock");
    let l = UnixListener::bind(&path).unwrap().into_std().unwrap();
    assert!(!nonblocking(&l));
    let l = UnixListener::from_std(l).unwrap();
    let server = echo_server(l, 1);
    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"x").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.get().unwrap(), 1);
}

/// A listener whose backlog is full makes `connect` fail with `EAGAIN`,
/// which epoll cannot wait for: the connecting greenlet retries, sleeping
/// in the hub, and gets through once the backlog has room.
#[test]
fn a_connect_to_a_full_backlog_waits_until_there_is_room() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let dir = TempDir::new("backlog");
    let path = dir.path("full.sock");
    let s = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    s.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    s.listen(0).unwrap();
    let l = UnixListener::from_std(OwnedFd::from(s).into()).unwrap();
    // Fill the backlog with connections nobody accepts yet.
    let mut pending = Vec::new();
    let full = (0..64).any(|_| {
        let c = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        c.set_nonblocking(true).unwrap();
        match c.connect(&SockAddr::unix(&path).unwrap()) {
            Ok(()) => {
                pending.push(c);
                false
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => true,
            Err(e) => panic!("connect: {e}"),
        }
    });
    assert!(full, "the backlog never filled");
    let t = Instant::now();
    let connector = hub::spawn(move || UnixStream::connect(&path).map(|_| t.elapsed()));
    hub::sleep(Duration::from_millis(20));
    assert!(
        !connector.is_ready(),
        "connect waits while the backlog is full"
    );
    for _ in 0..pending.len() {
        drop(l.accept().unwrap());
    }
    let waited = hub::with_timeout(BOUND, || connector.get())
        .expect("in time")
        .unwrap()
        .expect("connected once there was room");
    assert!(waited >= Duration::from_millis(20), "{waited:?}");
}

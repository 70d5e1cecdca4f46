//! The echo protocol of the echo examples and the hub bench: the server
//! sends back every byte it reads; a client writes a message, reads it
//! back (one round trip), and repeats.
//!
//! Everything here runs on the calling thread's hub.

#![allow(dead_code)] // each user takes what it needs

use greenlet::hub::{self, net::TcpListener, net::TcpStream};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The size of a client's message.
pub const MESSAGE: usize = 64;

/// Spin for `us` microseconds over `buf` (a stand-in for the work a real
/// server does per request); 0 does nothing.
pub fn busy_work(buf: &[u8], us: u64) -> u64 {
    if us == 0 {
        return 0;
    }
    let until = Instant::now() + Duration::from_micros(us);
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    while Instant::now() < until {
        for &b in buf {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Echo one connection until the peer closes it (or it fails).
pub fn serve_connection(mut s: TcpStream, work_us: u64) {
    let _ = s.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        std::hint::black_box(busy_work(&buf[..n], work_us));
        if s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Accept forever, one greenlet per connection.
pub fn serve(listener: TcpListener, work_us: u64) -> ! {
    serve_until(listener, work_us, &AtomicBool::new(false));
    unreachable!("nothing sets the flag")
}

/// Accept until `stop` is set (looked at every 50 ms), one greenlet per
/// connection; then wait for the open connections to end (their clients
/// close them) and return.
pub fn serve_until(listener: TcpListener, work_us: u64, stop: &AtomicBool) {
    let mut conns = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match hub::with_timeout(Duration::from_millis(50), || listener.accept()) {
            Ok(Ok((s, _))) => conns.push(hub::spawn(move || serve_connection(s, work_us))),
            Ok(Err(e)) => {
                eprintln!("echo server: accept failed: {e}");
                hub::sleep(Duration::from_millis(10));
            }
            Err(hub::Elapsed) => {}
        }
        conns.retain(|t: &hub::Task<()>| !t.is_ready());
    }
    hub::join_all(&conns, None);
}

/// Open `conns` connections to `addr` (each in its own greenlet).
pub fn connect_all(addr: SocketAddr, conns: usize) -> Vec<TcpStream> {
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            hub::spawn(move || {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                Ok::<_, std::io::Error>(s)
            })
        })
        .collect();
    tasks
        .into_iter()
        .map(|t| {
            t.get()
                .expect("connect task")
                .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
        })
        .collect()
}

/// One round trip on `s`.
pub fn round_trip(
    s: &mut TcpStream,
    msg: &[u8; MESSAGE],
    back: &mut [u8; MESSAGE],
) -> std::io::Result<()> {
    s.write_all(msg)?;
    s.read_exact(back)?;
    if back != msg {
        return Err(std::io::Error::other("the echo differs from the message"));
    }
    Ok(())
}

/// Every stream does round trips at once, each in its own greenlet, as
/// long as `more(round trips it has done)` says so; returns the streams
/// (for reuse) and the total number of round trips.
fn run_each(
    streams: Vec<TcpStream>,
    more: impl Fn(u64) -> bool + Clone + 'static,
) -> (Vec<TcpStream>, u64) {
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            let more = more.clone();
            hub::spawn(move || {
                let msg = [b'x'; MESSAGE];
                let mut back = [0u8; MESSAGE];
                let mut done = 0;
                while more(done) {
                    round_trip(&mut s, &msg, &mut back).expect("round trip");
                    done += 1;
                }
                (s, done)
            })
        })
        .collect();
    let mut total = 0;
    let streams = tasks
        .into_iter()
        .map(|t| {
            let (s, done) = t.get().expect("client task");
            total += done;
            s
        })
        .collect();
    (streams, total)
}

/// Every stream does `rounds` round trips, all at once; returns the streams
/// for reuse.
pub fn run_rounds(streams: Vec<TcpStream>, rounds: u64) -> Vec<TcpStream> {
    run_each(streams, move |done| done < rounds).0
}

/// Every stream does round trips until `d` has passed; returns the total.
pub fn run_for(streams: Vec<TcpStream>, d: Duration) -> u64 {
    let until = Instant::now() + d;
    run_each(streams, move |_| Instant::now() < until).1
}

//! The seed says coroutines use one core only. One hub per thread answers
//! it: N threads, each with its own hub and its own listener on the same
//! port (`SO_REUSEPORT`, so the kernel spreads connections over them; on
//! Windows, handles of one listening socket).
//!
//! ```text
//! cargo run --release --example multicore_echo                 # 1..=cores threads
//! cargo run --release --example multicore_echo -- --threads 4 --connections 64 --millis 2000 --work-us 20
//! ```
//!
//! For each server thread count from 1 to `--threads` (default: the number
//! of cores), it starts the servers on a fresh port and runs a client (one
//! more thread with its own hub, `--connections` connections) for
//! `--millis`, and prints round trips per second.
//!
//! Each request costs the server `--work-us` microseconds of computation
//! (default 20), as a real server's parsing and handling would. A bare echo
//! is all system calls, and on a 2-core machine the client needs as much
//! CPU as the server: there, a second server thread has no core of its own.
//! With work per request, the server is the bottleneck and a second thread
//! (a second core) nearly doubles the throughput.

#[path = "common/echo.rs"]
mod echo;

use greenlet::hub::net::TcpListener;
#[cfg(unix)]
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Options {
    threads: usize,
    connections: usize,
    millis: u64,
    work_us: u64,
}

fn options() -> Options {
    let mut o = Options {
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        connections: 64,
        millis: 2000,
        work_us: 20,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || -> u64 {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    eprintln!("multicore_echo: {} needs a number", args[i]);
                    std::process::exit(2)
                })
        };
        match args[i].as_str() {
            "--threads" => o.threads = value() as usize,
            "--connections" => o.connections = value() as usize,
            "--millis" => o.millis = value(),
            "--work-us" => o.work_us = value(),
            _ => {
                eprintln!(
                    "usage: multicore_echo [--threads N] [--connections N] [--millis N] [--work-us N]"
                );
                std::process::exit(2)
            }
        }
        i += 2;
    }
    o.threads = o.threads.max(1);
    o.connections = o.connections.max(1);
    o
}

/// `n` listeners on one fresh port, one for each server thread.
///
/// Unix: `n` sockets bound with `SO_REUSEPORT`, and the kernel spreads the
/// connections over them.
#[cfg(unix)]
fn listeners(n: usize) -> Vec<std::net::TcpListener> {
    let first = reuseport_listener("127.0.0.1:0".parse().expect("addr"));
    let addr = first.local_addr().expect("local_addr");
    let mut all = vec![first];
    all.extend((1..n).map(|_| reuseport_listener(addr)));
    all
}

/// `n` listeners on one fresh port, one for each server thread.
///
/// Windows has no `SO_REUSEPORT` (its `SO_REUSEADDR` lets any socket take
/// a port over): `n` handles of one listening socket, from which every
/// thread's hub accepts.
#[cfg(windows)]
fn listeners(n: usize) -> Vec<std::net::TcpListener> {
    let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut all: Vec<_> = (1..n)
        .map(|_| first.try_clone().expect("a second handle"))
        .collect();
    all.insert(0, first);
    all
}

/// A listener on `addr` that shares its port with the others.
#[cfg(unix)]
fn reuseport_listener(addr: SocketAddr) -> std::net::TcpListener {
    let s =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).expect("socket");
    s.set_reuse_address(true).expect("SO_REUSEADDR");
    s.set_reuse_port(true).expect("SO_REUSEPORT");
    s.bind(&addr.into()).expect("bind");
    s.listen(1024).expect("listen");
    s.into()
}

/// `n` server threads on one port, until [`Servers::stop`].
struct Servers {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Start `n` server threads on one fresh port.
fn start_servers(n: usize, work_us: u64) -> Servers {
    let listeners = listeners(n);
    let addr = listeners[0].local_addr().expect("local_addr");
    let stop = Arc::new(AtomicBool::new(false));
    let threads = listeners
        .into_iter()
        .map(|l| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let l = TcpListener::from_std(l).expect("register listener");
                echo::serve_until(l, work_us, &stop)
            })
        })
        .collect();
    Servers {
        addr,
        stop,
        threads,
    }
}

impl Servers {
    /// Stop accepting and wait for the threads (their connections are
    /// closed by then).
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("server thread");
        }
    }
}

fn main() {
    let o = options();
    println!(
        "{} connections, {} ms per run, {} us of work per request",
        o.connections, o.millis, o.work_us
    );
    let mut base = None;
    for n in 1..=o.threads {
        let servers = start_servers(n, o.work_us);
        let addr = servers.addr;
        let rate = std::thread::spawn(move || {
            let streams = echo::connect_all(addr, o.connections);
            let t = Instant::now();
            let done = echo::run_for(streams, Duration::from_millis(o.millis));
            done as f64 / t.elapsed().as_secs_f64()
        })
        .join()
        .expect("client thread");
        servers.stop();
        let base = *base.get_or_insert(rate);
        println!(
            "{n} server thread{}: {rate:.0} round trips/s ({:.2}x)",
            if n == 1 { " " } else { "s" },
            rate / base
        );
    }
}

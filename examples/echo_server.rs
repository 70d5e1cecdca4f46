//! A cooperative echo server on the hub: one greenlet per connection, one
//! thread; plus a client mode that opens N connections and reports round
//! trips per second.
//!
//! ```text
//! cargo run --release --example echo_server                      # demo: both, 100 connections, 2 s
//! cargo run --release --example echo_server -- demo 1000 5000    # demo with 1000 connections, 5 s
//! cargo run --release --example echo_server -- serve 127.0.0.1:7007
//! cargo run --release --example echo_server -- client 127.0.0.1:7007 100 10
//! ```
//!
//! The demo runs the server on one thread and the client on another (each
//! with its own hub), over loopback. A round trip is one 64-byte message
//! written and read back.

#[path = "common/echo.rs"]
mod echo;

use greenlet::hub::net::TcpListener;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!(
        "usage: echo_server [demo [CONNECTIONS] [MILLIS]]\n       \
         echo_server serve [ADDR]\n       \
         echo_server client ADDR [CONNECTIONS] [SECONDS]"
    );
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    match args.get(i) {
        None => default,
        Some(s) => s.parse().unwrap_or_else(|_| usage()),
    }
}

/// Run the client: `conns` connections for `d`; print and return the rate.
/// The connections are closed when it returns.
fn client(addr: SocketAddr, conns: usize, d: Duration) -> f64 {
    let streams = echo::connect_all(addr, conns);
    let t = Instant::now();
    let n = echo::run_for(streams, d);
    let secs = t.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!("{conns} connections: {n} round trips in {secs:.2} s = {rate:.0} round trips/s");
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        None | Some("demo") => {
            let conns = arg(&args, 2, 100usize);
            let millis = arg(&args, 3, 2000u64);
            // A std listener can move to the server thread; there it is
            // handed to that thread's hub.
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = std_listener.local_addr().expect("local_addr");
            let stop = Arc::new(AtomicBool::new(false));
            let server = std::thread::spawn({
                let stop = stop.clone();
                move || {
                    let listener = TcpListener::from_std(std_listener).expect("register listener");
                    echo::serve_until(listener, 0, &stop)
                }
            });
            println!("echo server on {addr} (one thread); client on another thread");
            let rate = client(addr, conns, Duration::from_millis(millis));
            assert!(rate > 0.0, "no round trip completed");
            stop.store(true, Ordering::Relaxed);
            server.join().expect("server thread");
        }
        Some("serve") => {
            let addr = args.get(2).map_or("127.0.0.1:7007", String::as_str);
            let listener = TcpListener::bind(addr).unwrap_or_else(|e| {
                eprintln!("echo_server: cannot bind {addr}: {e}");
                std::process::exit(1)
            });
            println!(
                "echo server on {}",
                listener.local_addr().expect("local_addr")
            );
            echo::serve(listener, 0)
        }
        Some("client") => {
            let addr: SocketAddr = args
                .get(2)
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| usage());
            let conns = arg(&args, 3, 100usize);
            let secs = arg(&args, 4, 10u64);
            client(addr, conns, Duration::from_secs(secs));
        }
        Some(_) => usage(),
    }
}

//! A TCP echo server on the hub keeps serving its clients while a large
//! file is read and checksummed, because the read runs on a worker thread
//! (`hub::spawn_blocking`). For contrast, the same read is then done on the
//! hub's own thread, which stalls every client until it ends.
//!
//! Clients on another thread send a ping every millisecond and time the
//! echo; the output gives their worst and median round trip during each
//! read (the pings in flight at some point during it). On the machine this
//! was written on:
//!
//! ```text
//! read of 64 MiB with spawn_blocking: checksum ad2b5b618c38de25 in 68 ms; 60 pings, worst 3.2 ms, median 0.0 ms
//! read of 64 MiB on the hub's thread: checksum ad2b5b618c38de25 in 67 ms; 2 pings, worst 62.0 ms, median 62.0 ms
//! ```
//!
//! `cargo run --release --example blocking_offload [MiB]` (default 64).

use greenlet::hub::{
    self,
    net::{TcpListener, TcpStream},
};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Echo one byte at a time back to the client until it hangs up.
fn serve(conn: TcpStream) {
    let mut buf = [0u8; 1];
    let mut conn = conn;
    while conn.read_exact(&mut buf).is_ok() {
        if conn.write_all(&buf).is_err() {
            break;
        }
    }
}

/// FNV-1a over the file, read in 1 MiB chunks: work that blocks.
fn checksum(path: &Path) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h);
        }
        for &b in &buf[..n] {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A client thread pinging every millisecond until `stop`; when each ping
/// was sent, and its round trip.
type Pings = Vec<(Instant, Duration)>;

fn pinger(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> thread::JoinHandle<Pings> {
    thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut rtts = Vec::new();
        let mut b = [7u8; 1];
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            s.write_all(&b).expect("ping");
            s.read_exact(&mut b).expect("pong");
            rtts.push((t, t.elapsed()));
            thread::sleep(Duration::from_millis(1));
        }
        rtts
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Read the file one way while a client pings; print what the client saw.
fn measure(how: &str, addr: std::net::SocketAddr, path: &Path, mib: usize, offload: bool) {
    let stop = Arc::new(AtomicBool::new(false));
    let client = pinger(addr, Arc::clone(&stop));
    // Let the client connect and settle.
    hub::sleep(Duration::from_millis(20));
    let t = Instant::now();
    let sum = if offload {
        let p = path.to_path_buf();
        hub::spawn_blocking(move || checksum(&p))
    } else {
        checksum(path)
    }
    .expect("read the file");
    let took = t.elapsed();
    let end = t + took;
    stop.store(true, Ordering::Relaxed);
    // The client's last ping needs the hub to answer it.
    let pings = loop {
        if client.is_finished() {
            break client.join().expect("client");
        }
        hub::sleep(Duration::from_millis(1));
    };
    // The pings that were in flight at some point during the read.
    let mut rtts: Vec<Duration> = pings
        .into_iter()
        .filter(|&(sent, rtt)| sent <= end && sent + rtt >= t)
        .map(|(_, rtt)| rtt)
        .collect();
    rtts.sort();
    let worst = rtts.last().copied().unwrap_or_default();
    let median = rtts.get(rtts.len() / 2).copied().unwrap_or_default();
    println!(
        "read of {mib} MiB {how}: checksum {sum:016x} in {:.0} ms; {} pings, worst {:.1} ms, \
         median {:.1} ms",
        ms(took),
        rtts.len(),
        ms(worst),
        ms(median)
    );
}

/// A file of `mib` MiB of varied bytes, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(mib: usize) -> io::Result<TempFile> {
        let path = std::env::temp_dir().join(format!("greenlet-offload-{}", std::process::id()));
        let mut f = File::create(&path)?;
        let chunk: Vec<u8> = (0..1usize << 20)
            .map(|i| (i * 31 + i / 251) as u8)
            .collect();
        for _ in 0..mib {
            f.write_all(&chunk)?;
        }
        Ok(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a size in MiB"))
        .unwrap_or(64);
    let file = TempFile::new(mib).expect("write the test file");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _server = hub::spawn(move || {
        while let Ok((conn, _)) = listener.accept() {
            hub::spawn(move || serve(conn));
        }
    });
    measure("with spawn_blocking", addr, &file.0, mib, true);
    measure("on the hub's thread", addr, &file.0, mib, false);
}

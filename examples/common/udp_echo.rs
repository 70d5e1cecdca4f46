//! The UDP echo of the `udp_echo` bench (`benches/hub.rs`) and of the
//! `udp_echo` / `tokio_udp_echo` kinds of `examples/switch_counts.rs`: a
//! client and an echo server on one thread, two UDP sockets over loopback.
//! The client sends a 64-byte datagram on its connected socket and waits
//! for the echo; the server answers with `recv_from` / `send_to`; an empty
//! datagram stops it. One round trip: two datagrams, two waits, four
//! system calls plus the poller's.

#![allow(dead_code)] // each user takes what it needs

use greenlet::hub::{self, net::UdpSocket};
use std::time::{Duration, Instant};

/// The datagram.
pub const MESSAGE: [u8; 64] = [7; 64];

/// `n` round trips between the calling greenlet (the client) and an echo
/// task of its hub: how many came back whole, and the time of the loop
/// (the sockets are made outside it).
pub fn hub_round_trips(n: u64) -> (u64, Duration) {
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .connect(server.local_addr().expect("addr"))
        .expect("connect");
    let echo = hub::spawn(move || {
        let mut buf = [0u8; 128];
        loop {
            let (k, from) = server.recv_from(&mut buf).expect("recv_from");
            if k == 0 {
                return;
            }
            server.send_to(&buf[..k], from).expect("send_to");
        }
    });
    let mut buf = [0u8; 128];
    let mut whole = 0;
    let t = Instant::now();
    for _ in 0..n {
        client.send(&MESSAGE).expect("send");
        if client.recv(&mut buf).expect("recv") == MESSAGE.len() {
            whole += 1;
        }
    }
    let d = t.elapsed();
    client.send(&[]).expect("send");
    echo.get().expect("no panic");
    (whole, d)
}

/// The same with tokio's `UdpSocket`: two tasks on `rt`, a `current_thread`
/// runtime with IO enabled.
pub fn tokio_round_trips(rt: &tokio::runtime::Runtime, n: u64) -> (u64, Duration) {
    rt.block_on(async move {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        client
            .connect(server.local_addr().expect("addr"))
            .await
            .expect("connect");
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 128];
            loop {
                let (k, from) = server.recv_from(&mut buf).await.expect("recv_from");
                if k == 0 {
                    return;
                }
                server.send_to(&buf[..k], from).await.expect("send_to");
            }
        });
        let mut buf = [0u8; 128];
        let mut whole = 0;
        let t = Instant::now();
        for _ in 0..n {
            client.send(&MESSAGE).await.expect("send");
            if client.recv(&mut buf).await.expect("recv") == MESSAGE.len() {
                whole += 1;
            }
        }
        let d = t.elapsed();
        client.send(&[]).await.expect("send");
        echo.await.expect("no panic");
        (whole, d)
    })
}

/// A `current_thread` runtime with IO, for [`tokio_round_trips`].
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime")
}

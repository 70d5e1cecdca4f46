//! The hub's network examples, run as programs: the echo server's demo and
//! client modes, the multi-core echo, and the blocking offload.

#[path = "common/example.rs"]
mod example;
use example::example;

/// The rate of a line `... = R round trips/s`.
fn rate(line: &str) -> f64 {
    let r = line
        .split(" = ")
        .nth(1)
        .and_then(|r| r.strip_suffix(" round trips/s"))
        .unwrap_or_else(|| panic!("no rate in {line:?}"));
    r.parse().expect("rate")
}

#[test]
fn echo_server_demo_reports_round_trips_per_second() {
    for conns in ["1", "200"] {
        let out = example("echo_server")
            .args(["demo", conns, "300"])
            .output()
            .expect("run");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let last = text.lines().last().expect("output");
        assert!(
            last.starts_with(&format!("{conns} connections: ")),
            "{text}"
        );
        assert!(rate(last) > 0.0, "{text}");
    }
}

#[test]
fn echo_server_serves_a_separate_client_process() {
    // The server binds an ephemeral port and prints it; a second process
    // runs the client mode against it.
    use std::io::{BufRead, BufReader};
    let mut server = example("echo_server")
        .args(["serve", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut first = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    let addr = first
        .trim()
        .strip_prefix("echo server on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    let out = example("echo_server")
        .args(["client", &addr, "50", "1"])
        .output()
        .expect("run client");
    server.kill().expect("kill server");
    let _ = server.wait();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with("50 connections: "), "{text}");
    assert!(rate(text.trim()) > 0.0);
}

#[test]
fn multicore_echo_runs_one_hub_per_thread() {
    let out = example("multicore_echo")
        .args(["--threads", "2", "--connections", "16", "--millis", "300"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, n) in lines[1..]
        .iter()
        .zip(["1 server thread :", "2 server threads:"])
    {
        assert!(line.starts_with(n), "{text}");
        let r: f64 = line[n.len()..]
            .split_whitespace()
            .next()
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no rate in {line:?}"));
        assert!(r > 0.0, "{text}");
    }
}

/// The number right after `prefix` in `line`.
fn number_after(line: &str, prefix: &str) -> f64 {
    let rest = line
        .split(prefix)
        .nth(1)
        .unwrap_or_else(|| panic!("no {prefix:?} in {line:?}"));
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
}

#[test]
fn crawler_pool_keeps_ten_jobs_in_flight() {
    let out = example("crawler_pool").output().expect("run");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, how) in lines.iter().zip(["spawn: ", "map: "]) {
        assert!(line.starts_with(how), "{text}");
        assert!(
            line.contains("100 jobs of 20 ms through a pool of 10"),
            "{text}"
        );
        assert_eq!(number_after(line, "max concurrency "), 10.0, "{text}");
        // 10 rounds of 20 ms: never less than 200 ms, and far below the
        // 2000 ms of one job at a time.
        let ms = number_after(line, "pool of 10: ");
        assert!((200.0..1000.0).contains(&ms), "{ms} ms: {text}");
    }
    assert!(lines[1].ends_with("results in input order"), "{text}");
}

#[test]
fn chat_server_relays_in_order_and_a_client_that_never_reads_stalls_no_one() {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    const LINES: usize = 2000;
    let mut server = example("chat_server")
        .args(["--clients", "3", "--millis", "60000", "--sndbuf", "4096"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut out = BufReader::new(server.stdout.take().expect("stdout"));
    let mut next_line = || {
        let mut l = String::new();
        out.read_line(&mut l).expect("server output");
        l.trim_end().to_string()
    };
    let first = next_line();
    let addr: SocketAddr = first
        .strip_prefix("chat server on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .expect("address");

    // Client 1 never reads, and its kernel receive buffer is small.
    let silent =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    silent.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    silent.connect(&addr.into()).expect("connect");
    assert!(next_line().starts_with("client 1 joined"));
    let a = TcpStream::connect(addr).expect("connect");
    assert!(next_line().starts_with("client 2 joined"));
    let b = TcpStream::connect(addr).expect("connect");
    assert!(next_line().starts_with("client 3 joined"));

    // Clients 2 and 3 each send LINES lines and must receive the other's
    // LINES lines, in order, while client 1 reads nothing at all.
    let (done_tx, done_rx) = mpsc::channel();
    let mut writers = Vec::new();
    for (me, other, stream) in [(2, 3, a), (3, 2, b)] {
        let reader = stream.try_clone().expect("clone");
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(reader).lines();
            let mut check = || -> Result<(), String> {
                let mut next = |what: &str| match lines.next() {
                    Some(Ok(l)) => Ok(l),
                    other => Err(format!("client {me}: {what}: {other:?}")),
                };
                let welcome = next("welcome")?;
                if welcome != format!("welcome, you are client {me}") {
                    return Err(format!("client {me}: welcome {welcome:?}"));
                }
                for i in 0..LINES {
                    let want = format!("{other}: line {i} from client {other} {}", "x".repeat(80));
                    let got = next("a line")?;
                    if got != want {
                        return Err(format!("client {me}, line {i}: {got:?}, not {want:?}"));
                    }
                }
                Ok(())
            };
            let result = check();
            done_tx.send((me, result)).expect("report");
        });
        writers.push(std::thread::spawn(move || {
            let mut w = &stream;
            for i in 0..LINES {
                writeln!(w, "line {i} from client {me} {}", "x".repeat(80)).expect("write");
            }
            stream
        }));
    }
    drop(done_tx);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut finished = Vec::new();
    while finished.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok((me, Ok(()))) => finished.push(me),
            Ok((_, Err(e))) => {
                let _ = server.kill();
                panic!("{e}");
            }
            Err(e) => {
                let _ = server.kill();
                panic!("clients 2 and 3 did not get each other's lines ({e}): stalled?");
            }
        }
    }
    // Both done while client 1 still has read nothing: it stalled no one.
    let streams: Vec<TcpStream> = writers
        .into_iter()
        .map(|w| w.join().expect("writer"))
        .collect();
    drop(streams);
    let mut left = vec![next_line(), next_line()];
    left.sort();
    assert!(
        left[0].starts_with("client 2 left: it sent 2000 lines"),
        "{left:?}"
    );
    assert!(
        left[1].starts_with("client 3 left: it sent 2000 lines"),
        "{left:?}"
    );
    drop(silent);
    let gone = next_line();
    assert!(
        gone.starts_with("client 1 left: it sent 0 lines; "),
        "{gone}"
    );
    // Most of the 4000 lines for it were still queued in the server (the
    // kernel buffers between the two hold a few hundred at most).
    let queued = number_after(&gone, "it sent 0 lines; ");
    assert!(queued >= 2000.0, "{gone}");
    let summary = next_line();
    assert!(
        summary.starts_with("done: 3 clients left, 4000 lines relayed"),
        "{summary}"
    );
    assert!(summary.ends_with("(client 1)"), "{summary}");
    assert!(
        number_after(&summary, "the longest queue was ") >= 2000.0,
        "{summary}"
    );
    let status = server.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}

/// Both reads of `blocking_offload` give the same checksum, and the client
/// got answers during the offloaded read. (Latencies are printed, not
/// asserted: timing belongs to benchmarks.)
#[test]
fn blocking_offload_reads_the_file_both_ways() {
    let out = example("blocking_offload").arg("4").output().expect("run");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let sum = |l: &str| {
        l.split("checksum ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .map(str::to_owned)
    };
    assert!(
        lines[0].starts_with("read of 4 MiB with spawn_blocking: "),
        "{text}"
    );
    assert!(
        lines[1].starts_with("read of 4 MiB on the hub's thread: "),
        "{text}"
    );
    assert_eq!(sum(lines[0]), sum(lines[1]), "{text}");
    assert!(sum(lines[0]).is_some_and(|s| s.len() == 16), "{text}");
}

//! The hub's network examples, run as programs: the echo server's demo and
//! client modes, and the multi-core echo.

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

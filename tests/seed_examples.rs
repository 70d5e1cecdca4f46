//! The programs of the seed tutorial, run as the examples that reproduce
//! them; each test checks the whole story the example prints.

#[path = "common/example.rs"]
mod example;
use example::example;

/// Seconds since the start of the month of a `time.ctime()` string such as
/// `Fri Jul 21 16:27:11 2017`.
fn ctime_seconds(s: &str) -> i64 {
    let f: Vec<&str> = s.split_whitespace().collect();
    assert_eq!(f.len(), 5, "not a ctime: {s:?}");
    let day: i64 = f[2].parse().expect("day");
    let hms: Vec<i64> = f[3].split(':').map(|x| x.parse().expect("h:m:s")).collect();
    day * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]
}

#[test]
fn greenlet_switch_prints_the_seed_story_with_its_timing() {
    let out = example("greenlet_switch")
        .env("GREENLET_SEED_SECOND_MS", "100")
        .output()
        .expect("run example");
    assert!(out.status.success(), "example failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let labels = ["func1,ok1", "func2,ok1", "func1,ok2", "func2,ok2"];
    assert_eq!(lines.len(), labels.len(), "output:\n{text}");
    let mut times = Vec::new();
    for (line, label) in lines.iter().zip(labels) {
        let rest = line
            .strip_prefix(label)
            .and_then(|r| r.strip_prefix("----> "))
            .unwrap_or_else(|| panic!("expected `{label}----> <ctime>`, got {line:?}"));
        times.push(ctime_seconds(rest));
    }
    let rel: Vec<i64> = times.iter().map(|t| t - times[0]).collect();
    // +0, +0, +5, +8 "seconds"; a slow machine may add one.
    for (got, want) in rel.iter().zip([0, 0, 5, 8]) {
        assert!(
            *got == want || *got == want + 1,
            "relative times {rel:?}, want [0, 0, 5, 8]:\n{text}"
        );
    }
}

/// The "cost time: X" line's X.
fn cost_time(line: &str) -> f64 {
    line.strip_prefix("cost time: ")
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("expected `cost time: <seconds>`, got {line:?}"))
}

#[test]
fn gevent_sleep_blocks_for_four_units_and_cooperates_in_two() {
    let out = example("gevent_sleep")
        .env("GREENLET_SEED_SECOND_MS", "200")
        .output()
        .expect("run example");
    assert!(out.status.success(), "example failed: {out:?}");
    // The hub is torn down at exit without a word (it once reported the
    // GreenletExit that kills it as a stray panic).
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "stderr");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "output:\n{text}");
    let check = |block: &[&str], header: &str, order: [&str; 4], rel_want: [i64; 4]| -> f64 {
        assert_eq!(block[0], header, "output:\n{text}");
        let mut times = Vec::new();
        for (line, label) in block[1..5].iter().zip(order) {
            let rest = line
                .strip_prefix(label)
                .and_then(|r| r.strip_prefix("-- "))
                .unwrap_or_else(|| panic!("expected `{label}-- <ctime>`, got {line:?}\n{text}"));
            times.push(ctime_seconds(rest));
        }
        let rel: Vec<i64> = times.iter().map(|t| t - times[0]).collect();
        for (got, want) in rel.iter().zip(rel_want) {
            assert!(
                *got == want || *got == want + 1,
                "relative times {rel:?}, want {rel_want:?}:\n{text}"
            );
        }
        cost_time(block[5])
    };
    let blocking = check(
        &lines[0..6],
        "# blocking sleep (std::thread::sleep)",
        [
            "running in func1",
            "running in func1 again",
            "running in func2",
            "running in func2 again",
        ],
        [0, 2, 2, 4],
    );
    let cooperative = check(
        &lines[6..12],
        "# hub sleep (greenlet::hub::sleep)",
        [
            "running in func1",
            "running in func2",
            "running in func1 again",
            "running in func2 again",
        ],
        [0, 0, 2, 2],
    );
    // Sleeps never end early; the hub's two sleeps overlap.
    assert!(blocking >= 4.0, "blocking cost {blocking}");
    assert!(
        (2.0..3.5).contains(&cooperative),
        "cooperative cost {cooperative}"
    );
}

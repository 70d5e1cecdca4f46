//! The programs of the seed tutorial, run as the examples that reproduce
//! them; each test checks the whole story the example prints.

use std::path::PathBuf;
use std::process::Command;

/// The example binary built next to this test binary (cargo builds
/// examples before running integration tests).
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path: PathBuf = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "example {} not built at {}",
        name,
        path.display()
    );
    Command::new(path)
}

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

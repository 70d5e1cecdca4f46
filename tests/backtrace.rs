//! Backtraces taken inside a greenlet walk that greenlet's own frames and
//! end cleanly at its entry: the assembly's trampoline marks the return
//! address undefined, so unwinders stop there instead of walking into
//! garbage (or into whatever stack switched to the greenlet).

use greenlet::Greenlet;
use std::backtrace::Backtrace;

#[inline(never)]
fn capture_here(depth: u32) -> String {
    if depth == 0 {
        Backtrace::force_capture().to_string()
    } else {
        let s = capture_here(depth - 1);
        std::hint::black_box(s)
    }
}

/// Whether a frame's name is a greenlet's entry function (generic over the
/// body's type: some toolchains print the type arguments, `entry::<..>`).
fn is_entry(name: &str) -> bool {
    name == "greenlet::greenlet::switch::entry"
        || name.starts_with("greenlet::greenlet::switch::entry::<") && !name.ends_with('}')
}

/// The function names of a rendered backtrace, outermost last.
fn frames(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (num, name) = l.split_once(": ")?;
            num.parse::<u32>().ok()?;
            Some(name.trim().to_owned())
        })
        .collect()
}

#[test]
fn a_backtrace_inside_a_greenlet_ends_at_its_entry() {
    let g = Greenlet::new(|()| capture_here(5));
    let text: String = g.switch(());
    let names = frames(&text);
    assert!(!names.is_empty(), "no frames:\n{text}");
    assert!(
        names.iter().any(|n| n.contains("capture_here")),
        "the greenlet's own frames are listed:\n{text}"
    );
    let entry = names
        .iter()
        .position(|n| is_entry(n))
        .unwrap_or_else(|| panic!("the greenlet's entry is listed:\n{text}"));
    // After the entry at most the trampoline: nothing of the test harness,
    // of main's stack, or unresolvable garbage.
    let after: Vec<&String> = names[entry + 1..].iter().collect();
    assert!(
        after.iter().all(|n| n.contains("greenlet_trampoline")),
        "frames after the entry: {after:?}\n{text}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("a_backtrace_inside_a_greenlet_ends_at_its_entry")),
        "the walk must not continue into the test's own stack:\n{text}"
    );
}

#[test]
fn a_backtrace_in_a_nested_greenlet_ends_at_its_own_entry() {
    let outer = Greenlet::new(|()| {
        let inner = Greenlet::new(|()| capture_here(3));
        let text: String = inner.switch(());
        text
    });
    let text: String = outer.switch(());
    let names = frames(&text);
    let entries = names.iter().filter(|n| is_entry(n)).count();
    assert_eq!(entries, 1, "only the inner greenlet's frames:\n{text}");
}

#[inline(never)]
fn inner_panics() -> u32 {
    panic!("boom from the inner greenlet")
}

const CHILD_ENV: &str = "GREENLET_BACKTRACE_CHILD";

/// Run in a child with `RUST_BACKTRACE=1`: a panic in a nested greenlet
/// prints its backtrace (the panic hook runs on the inner greenlet's stack),
/// then continues in the parents and is caught in main.
#[test]
fn child_entry() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    eprintln!("backtrace-child-started");
    let outer = Greenlet::new(|()| {
        let inner = Greenlet::new(|()| inner_panics());
        let r: u32 = inner.switch(());
        r
    });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: u32 = outer.switch(());
    }));
    assert!(caught.is_err());
    eprintln!("backtrace-child-survived");
}

#[test]
fn a_panic_in_a_nested_greenlet_prints_a_sane_backtrace() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("spawn child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("backtrace-child-started"), "{stderr}");
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(stderr.contains("boom from the inner greenlet"), "{stderr}");
    assert!(stderr.contains("stack backtrace:"), "{stderr}");
    assert!(
        stderr.contains("inner_panics"),
        "the panicking frame:\n{stderr}"
    );
    assert!(stderr.contains("backtrace-child-survived"), "{stderr}");
}

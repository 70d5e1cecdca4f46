//! Register preservation, checked by the assembly harness of this CPU's port
//! (`GREENLET_HARNESS` in `asm/<arch>_<abi>.S`).
//!
//! The harness loads a distinct sentinel into every callee-saved register
//! and into the FP control state, records them, switches away, and records
//! them again when it is resumed. Both sides of the switch run the harness
//! with different sentinels, so a switch that fails to save or restore any
//! of them shows up as a difference. Nothing here is per-CPU: the number and
//! names of the checked registers come from the assembly.
//!
//! Two deliberately broken switches (`GREENLET_MUTANT` 1 and 2: one forgets a
//! general register, one never reloads the FP control state) must be caught.
//! They run in a child process, because a broken switch may just as well
//! crash; only a reported difference or a death by signal counts as caught,
//! and the child must prove it started.

use greenlet::raw::{StackPointer, Transfer};
use std::ffi::CStr;
use std::process::Command;

type SwitchFn = unsafe extern "C" fn(StackPointer, usize) -> Transfer;
type InitFn = unsafe extern "C" fn(*mut u8, greenlet::raw::EntryFn) -> StackPointer;

unsafe extern "C" {
    // The library's own switch, as linked into every user of the crate.
    fn greenlet_switch(to: StackPointer, data: usize) -> Transfer;
    fn greenlet_stack_init(top: *mut u8, entry: greenlet::raw::EntryFn) -> StackPointer;
}

#[link(name = "greenlet_harness", kind = "static")]
unsafe extern "C" {
    fn greenlet_harness_probe(
        to: StackPointer,
        data: usize,
        switch: SwitchFn,
        seed: u64,
        out: *mut u64,
    ) -> Transfer;
    static greenlet_harness_count: usize;
    static greenlet_harness_names: [u8; 1];
}

#[link(name = "greenlet_mutant1", kind = "static")]
unsafe extern "C" {
    fn greenlet_mutant1_switch(to: StackPointer, data: usize) -> Transfer;
    fn greenlet_mutant1_stack_init(top: *mut u8, entry: greenlet::raw::EntryFn) -> StackPointer;
}

#[link(name = "greenlet_mutant2", kind = "static")]
unsafe extern "C" {
    fn greenlet_mutant2_switch(to: StackPointer, data: usize) -> Transfer;
    fn greenlet_mutant2_stack_init(top: *mut u8, entry: greenlet::raw::EntryFn) -> StackPointer;
}

/// Sentinel seeds of the three probes; each selects a different FP control
/// state too (see the harness), none of them the default one.
const SEED_MAIN_1: u64 = 0x0bad_cafe_0000_0001;
const SEED_CO: u64 = 0x0000_5eed_0000_0006;
const SEED_MAIN_2: u64 = 0xf00d_0000_0000_0003;

fn count() -> usize {
    // SAFETY: a constant in the harness's .rodata.
    unsafe { greenlet_harness_count }
}

fn names() -> Vec<String> {
    // SAFETY: a NUL-terminated string in the harness's .rodata.
    let s = unsafe { CStr::from_ptr(greenlet_harness_names.as_ptr().cast()) };
    s.to_str().unwrap().split(' ').map(str::to_owned).collect()
}

/// What the probe on the greenlet's side needs, passed through the data word.
struct CoState {
    switch: SwitchFn,
    out: Vec<u64>,
}

unsafe extern "C" fn co_entry(from: StackPointer, data: usize) -> ! {
    // SAFETY: `data` is the address of the CoState that `run_check` keeps
    // alive until this context is abandoned.
    let st = unsafe { &mut *(data as *mut CoState) };
    let out = st.out.as_mut_ptr();
    // SAFETY: `from` is the suspended main context; `out` has room for
    // 2 * count() words.
    let t = unsafe { greenlet_harness_probe(from, 0, st.switch, SEED_CO, out) };
    loop {
        // SAFETY: t.sp is the context that resumed us and is now suspended.
        unsafe { (st.switch)(t.sp, 1) };
    }
}

/// Differences between what a probe loaded and what it found after the
/// switch came back, as readable lines.
fn diffs(side: &str, out: &[u64]) -> Vec<String> {
    let n = count();
    let names = names();
    assert_eq!(names.len(), n, "harness names and count disagree");
    (0..n)
        .filter(|&i| out[i] != out[n + i])
        .map(|i| {
            format!(
                "register mismatch on the {side} side: {} was {:#018x}, came back {:#018x}",
                names[i],
                out[i],
                out[n + i]
            )
        })
        .collect()
}

/// Run the whole exchange with the given switch; return the differences.
fn run_check(init: InitFn, switch: SwitchFn) -> Vec<String> {
    let n = count();
    assert!(
        n >= 2,
        "the harness checks at least one register and FP state"
    );
    let mut stack = vec![0u8; 256 * 1024];
    // Under Valgrind, a switch to this buffer must be seen as a change of
    // stack, not as a huge push (valgrind.h: VALGRIND_STACK_REGISTER, here
    // and _DEREGISTER below); on a real CPU both are no-ops.
    let r = stack.as_ptr_range();
    let vg = [0x1501, r.start as usize, r.end as usize - 1, 0, 0, 0];
    // SAFETY: registers memory used as a stack until it is deregistered.
    let vg_id = unsafe { greenlet::raw::valgrind_request(0, &vg) };
    let mut co = CoState {
        switch,
        out: vec![0; 2 * n],
    };
    let mut main1 = vec![0u64; 2 * n];
    let mut main2 = vec![0u64; 2 * n];
    // SAFETY: the context lives on `stack`, which outlives it; it is
    // abandoned suspended in co_entry's loop, holding nothing to drop.
    unsafe {
        let sp = init(stack.as_mut_ptr_range().end, co_entry);
        let data = &mut co as *mut CoState as usize;
        // main (sentinels 1) -> co starts, probes with its sentinels -> back.
        let t = greenlet_harness_probe(sp, data, switch, SEED_MAIN_1, main1.as_mut_ptr());
        assert_eq!(t.data, 0, "co's probe sends 0");
        // main (sentinels 2) -> co's probe returns, co switches back with 1.
        let t = greenlet_harness_probe(t.sp, 0, switch, SEED_MAIN_2, main2.as_mut_ptr());
        assert_eq!(t.data, 1, "co's loop sends 1");
    }
    let mut all = diffs("main (first switch)", &main1);
    all.extend(diffs("greenlet", &co.out));
    all.extend(diffs("main (second switch)", &main2));
    // The sentinels themselves must differ between the sides, or the check
    // proves nothing.
    for i in 0..n {
        assert_ne!(main1[i], co.out[i], "sentinels {i} must differ");
        assert_ne!(main2[i], co.out[i], "sentinels {i} must differ");
    }
    // SAFETY: nothing runs on the buffer any more.
    unsafe { greenlet::raw::valgrind_request(0, &[0x1502, vg_id, 0, 0, 0, 0]) };
    drop(stack);
    all
}

#[test]
fn every_callee_saved_register_and_fp_control_survive_a_switch() {
    let d = run_check(greenlet_stack_init, greenlet_switch);
    assert!(d.is_empty(), "{}", d.join("\n"));
}

#[test]
fn the_check_runs_many_times() {
    // Repeated runs reuse the FP state of earlier ones: catches a switch
    // that only works from the default FP control state.
    for _ in 0..100 {
        let d = run_check(greenlet_stack_init, greenlet_switch);
        assert!(d.is_empty(), "{}", d.join("\n"));
    }
}

const CHILD_ENV: &str = "GREENLET_REGISTERS_CHILD";
const STARTED: &str = "registers-child-started";

/// The child side: run the check with the switch named by the environment,
/// report differences on stderr, exit 0 if none.
#[test]
fn child_entry() {
    let Ok(which) = std::env::var(CHILD_ENV) else {
        return; // only meaningful as a child of mutants_are_caught
    };
    eprintln!("{STARTED}");
    let d = match which.as_str() {
        "good" => run_check(greenlet_stack_init, greenlet_switch),
        "mutant1" => run_check(greenlet_mutant1_stack_init, greenlet_mutant1_switch),
        "mutant2" => run_check(greenlet_mutant2_stack_init, greenlet_mutant2_switch),
        other => panic!("unknown switch {other}"),
    };
    for line in &d {
        eprintln!("{line}");
    }
    std::process::exit(if d.is_empty() { 0 } else { 3 });
}

enum Outcome {
    Clean,
    Diff(String),
    /// Died by a fault: what it was, whether it is a CPU fault a broken
    /// switch can cause, and the child's stderr.
    Fault(String, bool, String),
}

/// How a child died, if it died by a fault instead of exiting: a signal.
#[cfg(unix)]
fn died_by_fault(status: std::process::ExitStatus) -> Option<(String, bool)> {
    use std::os::unix::process::ExitStatusExt;
    let sig = status.signal()?;
    let cpu = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGTRAP].contains(&sig);
    Some((format!("signal {sig}"), cpu))
}

/// How a child died, if it died by a fault instead of exiting: an
/// unhandled exception ends a Windows process with the exception's NTSTATUS
/// as its exit code (errors 0xC..., warnings 0x8...).
#[cfg(windows)]
fn died_by_fault(status: std::process::ExitStatus) -> Option<(String, bool)> {
    const CPU_FAULTS: [(u32, &str); 5] = [
        (0xC000_0005, "STATUS_ACCESS_VIOLATION"),
        (0x8000_0002, "STATUS_DATATYPE_MISALIGNMENT"),
        (0xC000_001D, "STATUS_ILLEGAL_INSTRUCTION"),
        (0xC000_0096, "STATUS_PRIVILEGED_INSTRUCTION"),
        (0x8000_0003, "STATUS_BREAKPOINT"),
    ];
    let code = status.code()? as u32;
    if code & 0x8000_0000 == 0 {
        return None;
    }
    let name = CPU_FAULTS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n);
    Some((
        format!(
            "exception {code:#010x} ({})",
            name.unwrap_or("not a CPU fault")
        ),
        name.is_some(),
    ))
}

fn run_child(which: &str) -> Outcome {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, which)
        .output()
        .expect("spawn child");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains(STARTED),
        "child for {which} never started (status {:?}): {stderr}",
        out.status
    );
    if let Some((what, cpu)) = died_by_fault(out.status) {
        return Outcome::Fault(what, cpu, stderr);
    }
    match out.status.code() {
        Some(0) => Outcome::Clean,
        Some(3) if stderr.contains("register mismatch") => Outcome::Diff(stderr),
        other => panic!("child for {which}: unexpected exit {other:?}: {stderr}"),
    }
}

fn assert_caught(which: &str) {
    match run_child(which) {
        Outcome::Clean => panic!("{which}: a broken switch went unnoticed"),
        Outcome::Diff(text) => eprintln!("{which} caught by a register diff:\n{text}"),
        Outcome::Fault(what, cpu, _) => {
            assert!(cpu, "{which}: died by unexpected {what}");
            eprintln!("{which} caught by {what}");
        }
    }
}

#[test]
fn the_good_switch_is_clean_in_a_child_too() {
    assert!(matches!(run_child("good"), Outcome::Clean));
}

#[test]
fn a_switch_that_forgets_a_register_is_caught() {
    assert_caught("mutant1");
}

#[test]
fn a_switch_that_forgets_the_fp_control_state_is_caught() {
    if cfg!(feature = "shared-fp-control") {
        // That build's switch forgets the FP control state on purpose; the
        // harness then checks only the registers.
        return;
    }
    // Forgetting FP state cannot crash the harness: it must be a diff.
    match run_child("mutant2") {
        Outcome::Diff(text) => eprintln!("mutant2 caught:\n{text}"),
        Outcome::Clean => panic!("mutant2: lost FP control state went unnoticed"),
        Outcome::Fault(what, _, text) => panic!("mutant2: crashed by {what} instead: {text}"),
    }
}

/// Stands in for a switch in the harness: makes the Valgrind client request
/// RUNNING_ON_VALGRIND with `data` as the default and "switches" nowhere.
unsafe extern "C" fn valgrind_request_as_switch(to: StackPointer, data: usize) -> Transfer {
    // SAFETY: RUNNING_ON_VALGRIND only reports.
    let r = unsafe { greenlet::raw::valgrind_request(data, &[0x1001, 0, 0, 0, 0, 0]) };
    Transfer { sp: to, data: r }
}

/// The control for it: the same shape without the request.
unsafe extern "C" fn plain_call_as_switch(to: StackPointer, data: usize) -> Transfer {
    Transfer {
        sp: to,
        data: std::hint::black_box(data),
    }
}

#[test]
fn the_valgrind_request_preserves_registers_and_returns_its_default() {
    // On every CPU (natively or under qemu-user) the magic sequence must
    // not trap, must hand back the default, and must leave every register
    // the harness checks as an ordinary call would: the diffs with the
    // request must be those of the control without it (an indirect call
    // may legitimately change a register that a switch preserves, such as
    // the TOC pointer r2 on ppc64le, which callers restore). Under Valgrind
    // (GREENLET_UNDER_VALGRIND, set by ci/valgrind.sh) the request answers 1.
    let under = std::env::var_os("GREENLET_UNDER_VALGRIND").is_some();
    let n = count();
    let probe = |switch: SwitchFn, seed: u64, default: usize| {
        let mut out = vec![0u64; 2 * n];
        // SAFETY: the stand-in switches never leave this stack; `out` has
        // room for 2 * count() words.
        let t = unsafe {
            greenlet_harness_probe(
                std::ptr::null_mut(),
                default,
                switch,
                seed,
                out.as_mut_ptr(),
            )
        };
        (t.data, diffs("caller", &out))
    };
    for (seed, default) in [(SEED_MAIN_1, 0x1234_5678usize), (SEED_CO, usize::MAX)] {
        let (r, with_request) = probe(valgrind_request_as_switch, seed, default);
        let (same, control) = probe(plain_call_as_switch, seed, default);
        assert_eq!(same, default);
        assert_eq!(r, if under { 1 } else { default });
        let names = |d: &[String]| {
            d.iter()
                .map(|l| {
                    l.split(": ")
                        .nth(1)
                        .unwrap_or("")
                        .split(' ')
                        .next()
                        .unwrap_or("")
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&with_request),
            names(&control),
            "the request changed registers a plain call does not:\n{}",
            with_request.join("\n")
        );
    }
}

//! The C interface: builds libgreenlet.a for the target this test runs on
//! (`ci/c-lib.sh`), compiles the C examples of `examples/c/` and the
//! contract checks of `tests/c/` with the target's gcc, runs them (under
//! qemu-user through binfmt_misc on other CPUs) and compares their output;
//! compiles `include/greenlet.h` as C99 and as C++ with every warning an
//! error; and checks with `nm` that the archive's global symbols are exactly
//! the ones the header declares.
//!
//! The compiler is `CC_<target>` when set (ci/test.sh's `cross_env` sets it
//! for cross targets), else `cc`. The C++ program is built with the same
//! prefix's `g++` where that exists, else skipped with a note.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const TARGET: &str = env!("GREENLET_TARGET");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// gcc for the target, and its tool prefix ("" or "aarch64-linux-gnu-").
fn cc() -> (String, String) {
    let var = format!("CC_{}", TARGET.replace('-', "_"));
    let cc = env::var(&var).unwrap_or_else(|_| "cc".into());
    let prefix = cc.strip_suffix("gcc").unwrap_or("").to_string();
    (cc, prefix)
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c-{TARGET}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Build libgreenlet.a once per test process; its path.
fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let out = Command::new("bash")
            .arg(Path::new(ROOT).join("ci/c-lib.sh"))
            .arg(TARGET)
            .output()
            .expect("run bash ci/c-lib.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ci/c-lib.sh {TARGET} failed:\n{}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("c-lib.sh prints the archive")
                .trim(),
        )
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Compile `source` (relative to the crate root) with `compiler` and the
/// library, every warning an error, in language standard `std`; the
/// executable.
fn build(compiler: &str, std: &str, source: &str) -> PathBuf {
    let name = Path::new(source).file_stem().unwrap().to_str().unwrap();
    let exe = out_dir().join(name);
    run(Command::new(compiler)
        .current_dir(ROOT)
        .args([std, "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(["-Iinclude", source])
        .arg(library())
        .arg("-o")
        .arg(&exe));
    exe
}

/// Build `source` as a C99 program for the target and run it; its output.
fn build_and_run_c(source: &str) -> String {
    run(&mut Command::new(build(&cc().0, "-std=c99", source)))
}

#[test]
fn ping_pong_prints_every_exchange() {
    let mut want = String::new();
    for i in 1..=5 {
        want += &format!("ping: send {i}\npong: got {i}\nping: got {}\n", 2 * i);
    }
    want += "done\n";
    assert_eq!(build_and_run_c("examples/c/ping_pong.c"), want);
}

#[test]
fn generator_in_plain_c_yields_and_nests() {
    assert_eq!(
        build_and_run_c("examples/c/generator.c"),
        "fib: 0 1 1 2 3 5 8 13 21 34 55 89\neven fib: 0 2 8 34\n"
    );
}

#[test]
fn round_trip_benchmark_counts_its_round_trips() {
    let exe = build(&cc().0, "-std=c99", "examples/c/round_trip.c");
    let out = run(Command::new(&exe).arg("1000"));
    assert!(
        out.starts_with("c round trip: ") && out.ends_with(" ns (1000 round trips)\n"),
        "{out}"
    );
}

#[test]
fn stack_api_keeps_its_contracts() {
    let out = build_and_run_c("tests/c/stack_api.c");
    assert!(
        out.starts_with("ok ") && out.ends_with(" checks\n"),
        "{out}"
    );
}

#[test]
fn header_compiles_as_pedantic_c99_and_cxx() {
    let (cc, prefix) = cc();
    let warn = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"];
    for std in ["-std=c99", "-std=c11"] {
        run(Command::new(&cc)
            .current_dir(ROOT)
            .args(["-x", "c", std])
            .args(warn)
            .arg("include/greenlet.h"));
    }
    // The header as C++ on the host compiler (a syntax check needs no
    // target), then a C++ program through it on the target where its g++
    // exists.
    for std in ["-std=c++11", "-std=c++17"] {
        run(Command::new("g++")
            .current_dir(ROOT)
            .args(["-x", "c++", std])
            .args(warn)
            .arg("include/greenlet.h"));
    }
    let gxx = format!("{prefix}g++");
    // (Under qemu-user a missing program can show as exit 127 rather than
    // as a spawn error.)
    let found = Command::new(&gxx).arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        println!("note: no {gxx}: the C++ program runs on the targets that have one");
        return;
    }
    let exe = build(&gxx, "-std=c++11", "tests/c/cxx_smoke.cpp");
    assert_eq!(run(&mut Command::new(&exe)), "c++ ok 385\n");
}

/// The functions and objects `include/greenlet.h` declares.
fn declared_in_header() -> BTreeSet<String> {
    let header = std::fs::read_to_string(Path::new(ROOT).join("include/greenlet.h")).unwrap();
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let line = line.trim();
        if line.starts_with("typedef") || line.starts_with('*') || line.starts_with("/*") {
            continue;
        }
        let decl = if let Some(rest) = line.strip_prefix("extern const ") {
            rest.split(';').next().unwrap()
        } else if let Some((before, _)) = line.split_once('(') {
            before
        } else {
            continue;
        };
        if let Some(name) = decl.rsplit([' ', '*']).next()
            && name.starts_with("greenlet_")
        {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn only_the_documented_symbols_are_global() {
    let listed: BTreeSet<String> =
        std::fs::read_to_string(Path::new(ROOT).join("include/greenlet.syms"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    assert_eq!(listed, declared_in_header(), "greenlet.syms vs greenlet.h");
    assert_eq!(listed.len(), 8);

    let (_, prefix) = cc();
    let nm = |args: &[&str]| {
        run(Command::new(format!("{prefix}nm"))
            .args(args)
            .arg(library()))
    };
    let global: BTreeSet<String> = nm(&["-g", "--defined-only"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    assert_eq!(global, listed, "global symbols of libgreenlet.a");

    // What it needs from outside: a few libc functions, nothing of Rust's
    // runtime, no unwinder, no allocator. Besides: symbols the static linker
    // defines itself (i386's GOT, ppc64's TOC base), and on 32-bit ARM the
    // personality routines that the EHABI unwind tables of every object name
    // (as C objects with unwind tables do), which each ARM libgcc provides.
    let libc = [
        "mmap",
        "mprotect",
        "munmap",
        "sysconf",
        "__errno_location",
        "abort",
        "memcpy",
        "memmove",
        "memset",
        "memcmp",
        "bcmp",
    ];
    let linker = ["_GLOBAL_OFFSET_TABLE_", ".TOC."];
    let ehabi = ["__aeabi_unwind_cpp_pr0", "__aeabi_unwind_cpp_pr1"];
    for line in nm(&["-u"]).lines() {
        let Some(("U", name)) = line.trim().split_once(' ') else {
            continue;
        };
        let name = name.trim();
        assert!(
            libc.contains(&name)
                || linker.contains(&name)
                || (cfg!(target_arch = "arm") && ehabi.contains(&name)),
            "libgreenlet.a needs {name}"
        );
    }
    let all = nm(&["-a"]);
    assert!(!all.contains("harness") && !all.contains("mutant"), "{all}");
}

//! Assembles the port greenlet's build script picked (passed as `links`
//! metadata: `DEP_GREENLET_ASM_PORT`, `DEP_GREENLET_ASM_SHARED_FP`) into the
//! three test archives, and adds their directories to the link search path
//! of whatever links this crate (greenlet's tests).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    // The test archives are for the test suite, which needs an OS.
    if env::var("CARGO_CFG_TARGET_OS").unwrap_or_default() == "none" {
        return;
    }
    let src = PathBuf::from(env::var("DEP_GREENLET_ASM_PORT").expect(
        "greenlet's build script passes its port as links metadata (DEP_GREENLET_ASM_PORT)",
    ));
    println!("cargo::rerun-if-changed={}", src.display());
    let shared_fp = env::var("DEP_GREENLET_ASM_SHARED_FP").is_ok_and(|v| v == "1");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for (name, defines) in [
        ("greenlet_harness", &[("GREENLET_HARNESS", "1")][..]),
        (
            "greenlet_mutant1",
            &[
                ("GREENLET_MUTANT", "1"),
                ("GREENLET_PREFIX", "greenlet_mutant1_"),
            ][..],
        ),
        (
            "greenlet_mutant2",
            &[
                ("GREENLET_MUTANT", "2"),
                ("GREENLET_PREFIX", "greenlet_mutant2_"),
            ][..],
        ),
    ] {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir).expect("create test archive dir");
        let mut build = cc::Build::new();
        build
            .file(&src)
            .flag_if_supported("-Wa,--noexecstack")
            .out_dir(&dir)
            .cargo_metadata(false);
        if shared_fp {
            build.define("GREENLET_SHARED_FP_CONTROL", "1");
        }
        for (k, v) in defines {
            build.define(k, *v);
        }
        build.compile(name);
        println!("cargo::rustc-link-search=native={}", dir.display());
    }
}

//! Selects and assembles this target's context-switch port from `asm/`.
//!
//! A port is one row of [`PORTS`] plus one file `asm/<arch>_<abi>.S`; see
//! PORTING.md. The register-test harness and the two deliberately broken
//! switches that the test suite assembles from the same file are built by
//! the `greenlet-asm-harness` workspace crate (`asm-harness/`), a
//! dev-dependency, not here: this script hands it the port's path.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// `(target_arch, target_endian, OS, assembly file)`: one line per port.
/// The OS column is `*` for a port that serves every OS outside
/// [`UNSUPPORTED_OS`] (the System V / AAPCS ELF ports), or
/// `<target_os>-<target_env>` for a port of one OS's own ABI or object
/// format (`macos-`: macOS has an empty `target_env`; its rows name the two
/// ELF ports that also assemble as Mach-O, see their headers).
#[rustfmt::skip]
const PORTS: &[(&str, &str, &str, &str)] = &[
    ("x86_64",    "little", "*",           "x86_64_sysv.S"),
    ("aarch64",   "little", "*",           "aarch64_aapcs.S"),
    ("riscv64",   "little", "*",           "riscv64_lp64d.S"),
    ("arm",       "little", "*",           "arm_aapcs.S"),
    ("x86",       "little", "*",           "x86_sysv.S"),
    ("powerpc64", "little", "*",           "powerpc64_elfv2.S"),
    ("s390x",     "big",    "*",           "s390x_elf.S"),
    ("x86_64",    "little", "windows-gnu", "x86_64_win64.S"),
    ("x86_64",    "little", "macos-",      "x86_64_sysv.S"),
    ("aarch64",   "little", "macos-",      "aarch64_aapcs.S"),
];

/// Operating systems whose ABI or object format differ from the System V /
/// AAPCS ELF conventions the `*` ports are written for (an OS port of its
/// own may still serve one of them: Windows x64, and macOS, whose rows in
/// [`PORTS`] pick the x86_64 and aarch64 ports that know Mach-O; the other
/// `*` ports do not).
const UNSUPPORTED_OS: &[&str] = &[
    "windows", "macos", "ios", "tvos", "watchos", "visionos", "uefi",
];

/// OSes with a context-switch port but no OS layer (`src/os/`) yet: the
/// layers above `raw` (feature `std`) refuse to build there. Empty since
/// Windows got `src/os/windows/` (issue 18); macOS is in the OS layer's
/// Unix family.
const STD_OS_MISSING: &[&str] = &[];

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let vendor = env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    let endian = env::var("CARGO_CFG_TARGET_ENDIAN").unwrap_or_default();
    let os_env = format!(
        "{os}-{}",
        env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default()
    );
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=asm");
    // For tests/c_examples.rs: which target to build libgreenlet.a for.
    println!("cargo::rustc-env=GREENLET_TARGET={target}");
    // corosensei, the peer of the benches, exists only off these CPUs (keep
    // in step with its dev-dependency line in Cargo.toml).
    println!("cargo::rustc-check-cfg=cfg(peer_corosensei)");
    if !matches!(arch.as_str(), "s390x" | "powerpc64") {
        println!("cargo::rustc-cfg=peer_corosensei");
    }

    let port = PORTS.iter().find(|(a, e, o, _)| {
        *a == arch
            && *e == endian
            && (*o == os_env || (*o == "*" && !UNSUPPORTED_OS.contains(&os.as_str())))
    });
    let Some((_, _, _, file)) = port else {
        panic!(
            "\n\ngreenlet: no context-switch port for target `{target}` \
             (arch `{arch}`, {endian}-endian, os `{os}`).\n\
             A port is one assembly file asm/<arch>_<abi>.S, one line in \
             build.rs's PORTS table and one row in ci/test.sh; PORTING.md \
             walks through it.\n\n"
        );
    };
    let src = PathBuf::from("asm").join(file);

    // Only the raw layer is ported to these OSes so far: stop before the
    // std layers fail on their first Unix call.
    if env::var_os("CARGO_FEATURE_STD").is_some() && STD_OS_MISSING.contains(&os.as_str()) {
        println!(
            "cargo::error=greenlet: on {os} only the raw layer is ported so far \
             (the `std` feature's stacks, Greenlet, Generator and hub need the OS \
             layer, src/os/, which {os} does not have yet). Depend on greenlet with default-features = false \
             (cargo build --no-default-features) to use greenlet::raw."
        );
        return;
    }

    // `shared-fp-control`: the switch leaves the FP control state alone.
    let shared_fp = env::var_os("CARGO_FEATURE_SHARED_FP_CONTROL").is_some();
    let base = || {
        let mut b = cc::Build::new();
        b.file(&src).flag_if_supported("-Wa,--noexecstack");
        if shared_fp {
            b.define("GREENLET_SHARED_FP_CONTROL", "1");
        }
        if let Some(ar) = macho_archiver(&target, &vendor) {
            b.archiver(ar);
        }
        b
    };

    check_compiler(&base(), &target, &arch, &os);

    // The library's switch: linked into every user of the crate.
    if let Err(e) = base().try_compile("greenlet_asm") {
        panic!(
            "\n\ngreenlet: assembling {} failed: {e}\n\
             For a bare-metal or cross target, point cc at a compiler for \
             `{target}`, e.g. CC_{}={} (on Debian: apt-get install {}; any \
             GNU-style toolchain for the CPU and object format works; see \
             docs/c-and-no_std.md in the greenlet package).\n\n",
            src.display(),
            target.replace('-', "_"),
            gnu_compiler_for(&arch, &os).1,
            gnu_compiler_for(&arch, &os).0,
        );
    }

    // For greenlet-asm-harness (asm-harness/), which assembles the same
    // port into the test suite's register harness and mutants: the port and
    // its defines, as `links` metadata (DEP_GREENLET_ASM_*). A downstream
    // build assembles this one file and nothing else.
    let port_path = std::fs::canonicalize(&src).unwrap_or_else(|_| src.clone());
    println!("cargo::metadata=port={}", port_path.display());
    println!("cargo::metadata=shared_fp={}", u8::from(shared_fp));
}

/// The Debian package with a GNU C compiler for `arch` (on `os`), and its
/// command.
fn gnu_compiler_for(arch: &str, os: &str) -> (&'static str, &'static str) {
    if os == "macos" {
        // Mach-O objects: Debian's GNU toolchains write ELF only, and clang
        // assembles for Apple targets without Apple's SDK (the ports
        // include no header).
        return ("clang", "clang");
    }
    if os == "windows" {
        return match arch {
            "x86_64" => ("gcc-mingw-w64-x86-64", "x86_64-w64-mingw32-gcc"),
            _ => ("a mingw-w64 cross compiler", "<arch>-w64-mingw32-gcc"),
        };
    }
    match arch {
        "x86_64" => ("gcc-x86-64-linux-gnu", "x86_64-linux-gnu-gcc"),
        "aarch64" => ("gcc-aarch64-linux-gnu", "aarch64-linux-gnu-gcc"),
        "riscv64" => ("gcc-riscv64-linux-gnu", "riscv64-linux-gnu-gcc"),
        "arm" => ("gcc-arm-linux-gnueabihf", "arm-linux-gnueabihf-gcc"),
        "x86" => ("gcc-i686-linux-gnu", "i686-linux-gnu-gcc"),
        "powerpc64" => ("gcc-powerpc64le-linux-gnu", "powerpc64le-linux-gnu-gcc"),
        "s390x" => ("gcc-s390x-linux-gnu", "s390x-linux-gnu-gcc"),
        _ => ("a GNU C cross compiler for the CPU", "<arch>-linux-gnu-gcc"),
    }
}

/// Whether a compiler whose default target is `dumped` (`-dumpmachine`,
/// whose first field is `machine`) assembles for `arch` on `os`. An x86_64
/// compiler also builds x86 (cc passes `-m32`); a Windows port needs a
/// mingw-w64 compiler (COFF objects), not one for ELF.
fn machine_fits(arch: &str, os: &str, machine: &str, dumped: &str) -> bool {
    if os == "windows" && !dumped.contains("mingw") {
        return false;
    }
    if os == "macos" && !dumped.contains("apple") {
        return false;
    }
    match arch {
        "x86" => machine == "x86_64" || (machine.starts_with('i') && machine.ends_with("86")),
        "arm" => machine.starts_with("arm"),
        "powerpc64" => machine.starts_with("powerpc64"),
        _ => machine == arch,
    }
}

/// Stop with a clear message when the C compiler `cc` picked cannot
/// assemble for `arch`: a cross or bare-metal build without `CC_<target>`
/// falls back to the host's `cc`, whose assembler would otherwise fail on
/// the port's first instruction with a message about the instruction.
/// Clang is left alone (cc passes it `--target`, so it assembles for any
/// CPU it supports); so is a compiler whose default target cannot be asked.
fn check_compiler(build: &cc::Build, target: &str, arch: &str, os: &str) {
    let Ok(compiler) = build.try_get_compiler() else {
        return; // the compile below reports it
    };
    if compiler.is_like_clang() {
        return;
    }
    let Ok(out) = Command::new(compiler.path()).arg("-dumpmachine").output() else {
        return;
    };
    let dumped = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let machine = dumped.split('-').next().unwrap_or_default();
    if !out.status.success() || machine.is_empty() || machine_fits(arch, os, machine, &dumped) {
        return;
    }
    let (package, gcc) = gnu_compiler_for(arch, os);
    let port = match os {
        "windows" => "Windows (COFF)",
        "macos" => "macOS (Mach-O)",
        _ => arch,
    };
    // A clang also needs an archiver that reads Mach-O (see macho_archiver).
    let ar_hint = if os == "macos" {
        format!(
            " If llvm-ar is not on PATH, also set AR_{}=llvm-ar (apt-get install llvm).",
            target.replace('-', "_")
        )
    } else {
        String::new()
    };
    panic!(
        "\n\ngreenlet: the C compiler cc picked for `{target}` is `{}`, which targets \
         `{dumped}`, not {arch} {os}: it cannot assemble asm/'s {arch} {port} port.\n\
         Set CC_{}={gcc} (on Debian: apt-get install {package}), or point CC_{} at \
         a clang.{ar_hint}\n\n",
        compiler.path().display(),
        target.replace('-', "_"),
        target.replace('-', "_"),
    );
}

/// The archiver for cc when building for an Apple target on another OS
/// with no archiver named (`AR_<target>`, `TARGET_AR`, `AR`): cc would run
/// the host's GNU `ar`, which cannot read Mach-O objects and quietly writes
/// an archive without a symbol index, which Apple's linker refuses.
/// `llvm-ar` writes the Darwin format with its `__.SYMDEF` index. `None`
/// leaves cc's choice (on a Mac, Apple's own `ar`).
fn macho_archiver(target: &str, vendor: &str) -> Option<&'static str> {
    let host = env::var("HOST").unwrap_or_default();
    if vendor != "apple" || host.contains("apple") {
        return None;
    }
    let named = [
        format!("AR_{target}"),
        format!("AR_{}", target.replace('-', "_")),
        "TARGET_AR".to_string(),
        "AR".to_string(),
    ];
    if named.iter().any(|v| env::var_os(v).is_some()) {
        return None;
    }
    let found = Command::new("llvm-ar")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("llvm-ar");
    }
    println!(
        "cargo::warning=greenlet: building for {target} on {host} without llvm-ar: the \
         host's ar writes Mach-O archives without a symbol index. Set AR_{}=llvm-ar \
         (on Debian: apt-get install llvm).",
        target.replace('-', "_")
    );
    None
}

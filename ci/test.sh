#!/usr/bin/env bash
# The project's test command: lint, host tests, and the other CPUs under
# qemu-user. Installs whatever it needs itself (apt packages, rustup
# components and targets, the binfmt_misc entries), skipping what is already
# there, so it works on a bare Debian 12 machine that only has rustup.
#
#   ci/test.sh               everything (what CI runs via .ci/run)
#   ci/test.sh --quick       skip the --release test runs
#   ci/test.sh --host-only   skip the other CPUs
#   ci/test.sh --all         every CPU of the target table, not just the default
#   ci/test.sh --help
#
# Can be run from any directory. GREENLET_ROOT overrides the crate root
# (default: the parent of this script's directory).
set -euo pipefail

usage() {
    cat <<EOF
Usage: ci/test.sh [--quick] [--host-only] [--all] [--target TRIPLE]... [--help]

Installs what is missing, then runs:
  lint        cargo fmt --check; cargo clippy --all-targets -D warnings;
              cargo doc with warnings denied
              (host and each cross target; the no_std library; capi/)
  no_std      cargo build --no-default-features for the bare-metal targets
              (${NOSTD_TARGETS[*]}), and bare-metal/ (the raw
              layer in a program without std, allocator or libc) built and
              run as a Linux process
  host        cargo test (with the C examples); cargo test --release; the
              shared-fp-control build; cargo test --no-default-features;
              cargo test with the rust-version Cargo.toml declares (MSRV)
  package     ci/package.sh: cargo package, then the test suite run from
              the extracted .crate
  budgets     ci/callgrind.sh --check: instructions per round trip of each
              kind in ci/budgets.txt (release build, counted by callgrind)
              against its budget; x86_64 hosts only; runs with --quick too
  valgrind    ci/valgrind.sh: every test binary under Memcheck, 0 errors
  asan        ci/asan.sh: the Greenlet-layer tests under AddressSanitizer
              (nightly, -Zbuild-std, feature asan; installs the nightly)
  cross       cargo test [--release] --target TRIPLE under qemu-user, and
              the raw tests there with --no-default-features
  windows     $WINDOWS_TARGET under Wine: clippy, the raw tests and the
              register harness with --no-default-features, then every
              example and test binary with std, the hub's included (what
              cannot run there is gated in the tests, with the reason),
              and the build error for a host cc
  macos       ci/macos-build.sh: aarch64-apple-darwin and x86_64-apple-darwin
              built, not run: the library (Mach-O symbols checked), the
              register harness and mutants, every test and example checked

Options:
  --quick          skip the --release test runs (not the budgets step)
  --host-only      skip every cross target, Windows and macOS (no cross
                   packages installed)
  --all            every target of the table (the ports), the non-default
                   ones in debug only and without clippy, Windows and macOS
  --target TRIPLE  run this cross target instead of the default ones
                   (repeatable); known: $(known_triples) $WINDOWS_TARGET
                   default: ${DEFAULT_TARGETS[*]} $WINDOWS_TARGET
  -h, --help       print this help

Environment:
  GREENLET_ROOT    crate root to test (default: this script's ../)
  GREENLET_BUDGETS budget file of the budgets step (default: ci/budgets.txt)
EOF
}

# --------------------------------------------------------------------------
# Cross targets, one row each:
#   triple | GNU tool prefix | qemu-user arch ("-": runs natively) | apt packages
# The rows come from shared/cross-testing.md. To enable a CPU by default, add
# its triple to DEFAULT_TARGETS (its asm must exist first).
TARGET_TABLE=(
    "aarch64-unknown-linux-gnu|aarch64-linux-gnu|aarch64|gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user qemu-user-binfmt"
    "riscv64gc-unknown-linux-gnu|riscv64-linux-gnu|riscv64|gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user qemu-user-binfmt"
    "armv7-unknown-linux-gnueabihf|arm-linux-gnueabihf|arm|gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user qemu-user-binfmt"
    "powerpc64le-unknown-linux-gnu|powerpc64le-linux-gnu|ppc64le|gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross qemu-user qemu-user-binfmt"
    "s390x-unknown-linux-gnu|s390x-linux-gnu|s390x|gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user qemu-user-binfmt"
    # qemu-i386 from Debian 12 aborts on the first thread spawn: run natively.
    # Never add gcc-multilib: it conflicts with every cross gcc.
    "i686-unknown-linux-gnu|i686-linux-gnu|-|gcc-i686-linux-gnu libc6-dev-i386-cross libc6-i386 lib32gcc-s1"
)
DEFAULT_TARGETS=(aarch64-unknown-linux-gnu)

# Bare-metal targets the no_std library must build for, one row each:
#   triple | GNU tool prefix for cc ("-": the host's) | how to run the
#   freestanding test program (bare-metal/) as a Linux process ("-":
#   natively) | apt packages
# Any GNU-style ELF toolchain for the CPU assembles the port; Debian's
# Linux cross gcc does.
NOSTD_TABLE=(
    "x86_64-unknown-none|-|-|gcc"
    "aarch64-unknown-none|aarch64-linux-gnu|qemu-aarch64|gcc-aarch64-linux-gnu qemu-user"
)
NOSTD_TARGETS=()
for row in "${NOSTD_TABLE[@]}"; do NOSTD_TARGETS+=("${row%%|*}"); done

# Windows x64 (issue 18): the raw layer, cross-built with mingw-w64 and run
# under Wine (shared/cross-testing.md). Debian 12 puts Wine's loader and
# server in /usr/lib/wine, not on PATH.
WINDOWS_TARGET=x86_64-pc-windows-gnu
WINDOWS_GNU=x86_64-w64-mingw32
WINDOWS_PACKAGES="gcc-mingw-w64-x86-64 wine64"
WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver

# Packages the host steps need (a C compiler for build.rs's cc; g++ for the
# C++ check of include/greenlet.h; valgrind for the valgrind step).
HOST_PACKAGES="gcc g++ libc6-dev valgrind"

# Field INDEX of the row of TRIPLE in the table named TABLE; fails (quietly)
# when there is none.
table_field() {
    local -n table=$1
    local row
    for row in "${table[@]}"; do
        if [[ "${row%%|*}" == "$2" ]]; then
            cut -d'|' -f"$3" <<<"$row"
            return 0
        fi
    done
    return 1
}

# Fields of a TARGET_TABLE row: target_field TRIPLE INDEX (1 = triple,
# 2 = prefix, 3 = qemu arch, 4 = packages).
target_field() {
    table_field TARGET_TABLE "$1" "$2" && return 0
    echo "ci/test.sh: unknown target '$1' (known: $(known_triples))" >&2
    return 1
}

is_default() {
    local d
    for d in "${DEFAULT_TARGETS[@]}"; do [[ "$d" == "$1" ]] && return 0; done
    return 1
}

known_triples() {
    local row out=()
    for row in "${TARGET_TABLE[@]}"; do out+=("${row%%|*}"); done
    echo "${out[*]}"
}

# Export the environment cargo, cc and qemu need for TRIPLE. Call it in a
# subshell ( cross_env T; cargo ... ) so nothing leaks into the host steps.
cross_env() {
    local triple=$1 gnu qemu upper lower
    gnu=$(target_field "$triple" 2)
    qemu=$(target_field "$triple" 3)
    lower=${triple//-/_}
    upper=${lower^^}
    export "CARGO_TARGET_${upper}_LINKER=${gnu}-gcc"
    export "CC_${lower}=${gnu}-gcc"
    export "AR_${lower}=${gnu}-ar"
    if [[ "$qemu" != "-" ]]; then
        export "CARGO_TARGET_${upper}_RUNNER=qemu-${qemu} -L /usr/${gnu}"
        # For binaries exec'd directly through binfmt_misc (tests that
        # re-execute themselves as a child), which get no -L.
        export "QEMU_LD_PREFIX=/usr/${gnu}"
    fi
}

# Field INDEX of the NOSTD_TABLE row of TRIPLE.
nostd_field() {
    table_field NOSTD_TABLE "$1" "$2" || die "unknown bare-metal target $1"
}

# The no_std checks for a bare-metal TRIPLE: build and lint the library
# without std, then build bare-metal/ (the raw layer linked with no std, no
# allocator, no libc) and run it as a Linux process.
nostd_check() {
    local triple=$1 gnu runner lower bin out
    gnu=$(nostd_field "$triple" 2)
    runner=$(nostd_field "$triple" 3)
    lower=${triple//-/_}
    (
        if [[ "$gnu" != "-" ]]; then
            export "CC_${lower}=${gnu}-gcc" "AR_${lower}=${gnu}-ar"
        fi
        set -x
        cargo build --no-default-features --target "$triple"
        cargo clippy --no-default-features --target "$triple" -- -D warnings
        cargo build --release -p greenlet-bare-metal --target "$triple"
        cargo clippy --release -p greenlet-bare-metal --target "$triple" -- -D warnings
    )
    # Without CC_<target>, cc falls back to the host's compiler: build.rs
    # must stop with a message that names the variable to set (issue 17),
    # not an assembler error. (Only where the host compiler is the wrong
    # one: a cross target.)
    if [[ "$gnu" != "-" ]]; then
        local msg
        msg=$(env -u "CC_${lower}" -u "AR_${lower}" CC=cc \
            cargo build --no-default-features --target "$triple" \
            --target-dir "${CARGO_TARGET_DIR:-target}/wrong-cc" 2>&1) &&
            die "building $triple with the host's cc succeeded"
        grep -q "Set CC_${lower}=${gnu}-gcc" <<<"$msg" ||
            die "building $triple with the host's cc did not name CC_${lower}: $msg"
        echo "without CC_${lower}: build.rs names the compiler to set"
    fi
    bin=${CARGO_TARGET_DIR:-target}/$triple/release/bare_metal_switch
    if [[ "$runner" == "-" ]]; then
        out=$("$bin")
    else
        out=$("$runner" "$bin")
    fi
    echo "$out"
    [[ "$out" == "bare-metal greenlet: 100000 round trips ok" ]] ||
        die "$bin did not report success"
}

# Build and test with the `rust-version` Cargo.toml declares, installing
# that toolchain (minimal profile) if it is missing.
msrv_check() {
    local v
    v=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml")
    [[ -n "$v" ]] || die "Cargo.toml declares no rust-version"
    if ! rustup toolchain list | grep -q "^$v"; then
        rustup toolchain install "$v" --profile minimal
    fi
    cargo "+$v" --version
    cargo "+$v" test --target-dir "${CARGO_TARGET_DIR:-target}/msrv"
}

# Export what cargo, cc and Wine need for the Windows target: SHIM is the
# directory of the bcryptprimitives.dll stand-in (Wine 8.0 lacks the DLL,
# and every Rust .exe imports it), PREFIX a scratch Wine prefix. Call it in
# a subshell.
windows_env() {
    local shim=$1 prefix=$2 lower=${WINDOWS_TARGET//-/_} upper
    upper=${lower^^}
    export "CARGO_TARGET_${upper}_LINKER=${WINDOWS_GNU}-gcc"
    export "CARGO_TARGET_${upper}_RUNNER=$WINE"
    export "CC_${lower}=${WINDOWS_GNU}-gcc" "AR_${lower}=${WINDOWS_GNU}-ar"
    export WINEPREFIX=$prefix WINEDEBUG=-all
    # Wine's PATH (searched for DLLs, and inherited by the test binaries'
    # child processes): the shim's directory as a Windows path.
    export WINEPATH="Z:${shim//\//\\}"
}

# The Windows step: build the DLL shim, then lint and run the tests under
# Wine in a throwaway prefix: the raw layer's without std, then every test
# binary with std (the examples first: the example tests run them; what
# cannot run on Windows is gated in the test files, each with its reason);
# check that a host cc stops the build with a message that says what to do.
windows_check() {
    local lower=${WINDOWS_TARGET//-/_} dir shim prefix rc=0 msg
    dir=${CARGO_TARGET_DIR:-target}
    mkdir -p "$dir/wine-shim"
    shim=$(cd "$dir/wine-shim" && pwd)
    if [[ ! "$shim/bcryptprimitives.dll" -nt "$ROOT/ci/wine/bcryptprimitives.c" ]]; then
        echo "building the bcryptprimitives.dll shim in $shim"
        "${WINDOWS_GNU}-gcc" -shared -O2 -Wall -o "$shim/bcryptprimitives.dll" \
            "$ROOT/ci/wine/bcryptprimitives.c" -ladvapi32
    fi
    prefix=$(mktemp -d /tmp/greenlet-wine.XXXXXX)
    (
        windows_env "$shim" "$prefix"
        set -x
        cargo clippy --all-targets --no-default-features --target "$WINDOWS_TARGET" \
            -- -D warnings &&
            cargo clippy --lib --tests --examples --target "$WINDOWS_TARGET" -- -D warnings &&
            cargo test --no-default-features --target "$WINDOWS_TARGET" \
                --lib --test raw_switch --test entry_alignment --test registers &&
            cargo build --target "$WINDOWS_TARGET" --examples &&
            cargo test --target "$WINDOWS_TARGET" --tests &&
            cargo test --doc --target "$WINDOWS_TARGET"
    ) || rc=$?
    WINEPREFIX=$prefix "$WINESERVER" -k 2>/dev/null || true
    rm -rf "$prefix"
    [[ $rc -eq 0 ]] || return "$rc"
    msg=$(env -u "CC_${lower}" -u "AR_${lower}" CC=cc \
        cargo build --no-default-features --target "$WINDOWS_TARGET" \
        --target-dir "$dir/wrong-cc" 2>&1) &&
        die "building $WINDOWS_TARGET with the host's cc succeeded"
    grep -q "Set CC_${lower}=${WINDOWS_GNU}-gcc (on Debian: apt-get install gcc-mingw-w64-x86-64)" \
        <<<"$msg" || die "building $WINDOWS_TARGET with the host's cc did not name CC_${lower}: $msg"
    echo "without CC_${lower}: build.rs names the compiler to set"
}

with_cross() {
    local triple=$1
    shift
    (
        cross_env "$triple"
        "$@"
    )
}

# --------------------------------------------------------------------------
# Steps: a header, the command, the elapsed time; a summary at the end.

now_ms() { echo $(($(date +%s%N) / 1000000)); }
fmt_ms() { printf '%d.%01ds' $(($1 / 1000)) $((($1 % 1000) / 100)); }

START_MS=$(now_ms)
CURRENT_STEP=""
SUMMARY=()

step() {
    local name=$1 t0 dt
    shift
    CURRENT_STEP=$name
    echo
    echo "==> $name"
    echo "    \$ $*"
    t0=$(now_ms)
    "$@"
    dt=$(($(now_ms) - t0))
    echo "==> $name: done in $(fmt_ms "$dt")"
    SUMMARY+=("$(printf '%8s  %s' "$(fmt_ms "$dt")" "$name")")
    CURRENT_STEP=""
}

on_exit() {
    local rc=$?
    if [[ $rc -ne 0 && -n "$CURRENT_STEP" ]]; then
        echo >&2
        echo "==> FAILED: $CURRENT_STEP (exit $rc)" >&2
    fi
    if [[ ${#SUMMARY[@]} -gt 0 ]]; then
        echo
        echo "==> step times"
        printf '%s\n' "${SUMMARY[@]}"
        echo "    $(fmt_ms $(($(now_ms) - START_MS))) total"
    fi
}

die() {
    echo "ci/test.sh: error: $*" >&2
    exit 1
}

# --------------------------------------------------------------------------
# Installation (each part skips itself when already done).

# as_root, pkg_installed, install_apt, install_targets
# shellcheck source=ci/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"

install_rust() {
    local want=("$@") have c missing=()
    have=$(rustup component list --installed)
    for c in clippy rustfmt; do
        grep -q "^${c}\(-\|$\)" <<<"$have" || missing+=("$c")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        rustup component add "${missing[@]}"
    else
        echo "rustup: clippy and rustfmt installed"
    fi
    install_targets "${want[@]}"
}

BINFMT=/proc/sys/fs/binfmt_misc

# Make the kernel run ARCH's ELF binaries through qemu-ARCH, so that a test
# can exec its own binary as a child (the cargo runner only wraps the first
# process). Nothing runs systemd here, so do what systemd-binfmt would.
ensure_binfmt() {
    local arch=$1 conf entry line interp
    conf=/usr/lib/binfmt.d/qemu-${arch}.conf
    entry=$BINFMT/qemu-${arch}
    if [[ ! -e $BINFMT/register ]]; then
        echo "binfmt: mounting binfmt_misc on $BINFMT"
        as_root mount -t binfmt_misc binfmt_misc "$BINFMT" ||
            die "cannot mount binfmt_misc on $BINFMT"
    fi
    [[ -e $BINFMT/register ]] || die "$BINFMT/register missing after mount"
    if [[ "$(cat "$BINFMT/status")" != enabled ]]; then
        echo 1 | as_root tee "$BINFMT/status" >/dev/null
    fi
    # An entry left by someone else whose interpreter is gone is useless.
    if [[ -e $entry ]]; then
        interp=$(sed -n 's/^interpreter //p' "$entry")
        if [[ -n "$interp" && ! -e "$interp" ]]; then
            echo "binfmt: qemu-${arch} points at missing $interp; re-registering"
            echo -1 | as_root tee "$entry" >/dev/null
        fi
    fi
    if [[ ! -e $entry ]]; then
        [[ -r $conf ]] || die "$conf missing (is qemu-user-binfmt installed?)"
        line=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$conf")
        echo "binfmt: registering qemu-${arch} from $conf"
        # One line, one write(2): the kernel takes a registration per write.
        printf '%s\n' "$line" | as_root tee "$BINFMT/register" >/dev/null ||
            die "writing $conf into $BINFMT/register failed"
    fi
    [[ -e $entry ]] || die "binfmt_misc has no qemu-${arch} entry after registering"
    if ! grep -qx enabled "$entry"; then
        echo 1 | as_root tee "$entry" >/dev/null
    fi
    grep -qx enabled "$entry" || die "binfmt_misc entry qemu-${arch} is disabled"
    echo "binfmt: qemu-${arch} enabled ($(sed -n 's/^interpreter //p' "$entry"))"
}

# Build a hello-world with the cross gcc and exec it directly, the way a test
# re-executes itself: through binfmt_misc (qemu targets) or natively (i686).
smoke_exec() {
    local triple=$1 gnu tmp out
    gnu=$(target_field "$triple" 2)
    tmp=$(mktemp -d)
    cat >"$tmp/hello.c" <<'EOF'
#include <stdio.h>
int main(void) { puts("hello from the target"); return 0; }
EOF
    "${gnu}-gcc" -O1 -o "$tmp/hello" "$tmp/hello.c" ||
        { rm -rf "$tmp"; die "${gnu}-gcc cannot build a hello-world"; }
    if ! out=$(cross_env "$triple" && "$tmp/hello" 2>&1) ||
        [[ "$out" != "hello from the target" ]]; then
        rm -rf "$tmp"
        echo "$out" >&2
        die "cannot exec a $triple binary directly (binfmt_misc/qemu" \
            "not working): tests that re-execute themselves would fail"
    fi
    rm -rf "$tmp"
    echo "exec: $triple binary runs directly: $out"
}

install_all() {
    local t q row packages=$HOST_PACKAGES
    for t in "${TARGETS[@]}"; do
        packages+=" $(target_field "$t" 4)"
    done
    for row in "${NOSTD_TABLE[@]}"; do
        packages+=" $(cut -d'|' -f4 <<<"$row")"
    done
    local windows_target=()
    if [[ $WINDOWS -eq 1 ]]; then
        packages+=" $WINDOWS_PACKAGES"
        windows_target=("$WINDOWS_TARGET")
    fi
    # shellcheck disable=SC2086 # word splitting wanted
    install_apt $packages
    install_rust "${TARGETS[@]}" "${NOSTD_TARGETS[@]}" "${windows_target[@]}"
    for t in "${TARGETS[@]}"; do
        q=$(target_field "$t" 3)
        if [[ "$q" != "-" ]]; then ensure_binfmt "$q"; fi
        smoke_exec "$t"
    done
}

# --------------------------------------------------------------------------

main() {
    local quick=0 host_only=0 t picked=() all=() windows=0 macos=0
    while [[ $# -gt 0 ]]; do
        case $1 in
        --quick) quick=1 ;;
        --host-only) host_only=1 ;;
        --all)
            read -r -a all <<<"$(known_triples)"
            picked+=("${all[@]}")
            windows=1
            macos=1
            ;;
        --target | --target=*)
            if [[ $1 == --target ]]; then
                [[ $# -ge 2 ]] || die "--target needs a triple"
                t=$2
                shift
            else
                t=${1#--target=}
            fi
            if [[ $t == "$WINDOWS_TARGET" ]]; then
                windows=1
            else
                target_field "$t" 1 >/dev/null || exit 2
                picked+=("$t")
            fi
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "ci/test.sh: unknown option '$1'" >&2
            usage >&2
            exit 2
            ;;
        esac
        shift
    done
    # Windows runs by default, when picked, and with --all; never with
    # --host-only.
    # macOS (built, not run) likewise, except when only some --target runs.
    if [[ $host_only -eq 1 ]]; then
        TARGETS=()
        WINDOWS=0
        MACOS=0
    elif [[ ${#picked[@]} -gt 0 || $windows -eq 1 ]]; then
        TARGETS=("${picked[@]}")
        WINDOWS=$windows
        MACOS=$macos
    else
        TARGETS=("${DEFAULT_TARGETS[@]}")
        WINDOWS=1
        MACOS=1
    fi

    ROOT=${GREENLET_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
    cd "$ROOT"
    [[ -f Cargo.toml ]] || die "no Cargo.toml in $ROOT"
    if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v rustup >/dev/null || die "rustup not found on PATH"
    # A fresh clone gains nothing from incremental builds.
    if [[ -n "${CI:-}" ]]; then export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}; fi

    echo "ci/test.sh in $ROOT; cross targets: ${TARGETS[*]:-none};" \
        "windows: $([[ $WINDOWS -eq 1 ]] && echo "$WINDOWS_TARGET under Wine" || echo no);" \
        "release runs: $([[ $quick -eq 1 ]] && echo no || echo yes)"
    trap on_exit EXIT

    step "install" install_all
    step "rustfmt" cargo fmt --all -- --check
    step "clippy (host)" cargo clippy --all-targets -- -D warnings
    step "rustdoc (no warnings)" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
    # The internals' docs too (their links are how the layers explain each
    # other); a target dir of their own so that the public docs stay as
    # users see them.
    step "rustdoc, private items (no warnings)" env RUSTDOCFLAGS="-D warnings" \
        cargo doc --no-deps --document-private-items --target-dir target/doc-private
    step "clippy (host, no_std library)" \
        cargo clippy --all-targets --no-default-features -- -D warnings
    # capi/ is built only with panic=abort, in a target dir of its own
    # (see ci/c-lib.sh).
    step "clippy (capi)" env RUSTFLAGS="-C panic=abort" \
        cargo clippy -p greenlet-c --target-dir target/c-build -- -D warnings
    for t in "${NOSTD_TARGETS[@]}"; do
        step "no_std build, clippy, bare-metal run ($t)" nostd_check "$t"
    done
    for t in "${TARGETS[@]}"; do
        is_default "$t" || continue # same Rust code: linting one cross target is enough
        step "clippy ($t)" with_cross "$t" \
            cargo clippy --all-targets --target "$t" -- -D warnings
    done
    step "test (host, debug)" cargo test
    if [[ $quick -eq 0 ]]; then
        step "test (host, release)" cargo test --release
    fi
    # Exact instruction counts per round trip, not times, so a gate: fails
    # when a kind costs more than ci/budgets.txt allows. Cheap (one release
    # example plus ~10 s of callgrind), so --quick keeps it.
    step "instruction budgets (host, release, callgrind)" "$ROOT/ci/callgrind.sh" --check
    # The opt-out build whose switch leaves the FP control state alone: the
    # layers above the assembly must not depend on it.
    step "test (host, shared-fp-control)" cargo test --features shared-fp-control \
        --test registers --test raw_switch --test entry_alignment --test greenlet_semantics
    # The library without std: unit tests, the raw tests (caller-provided
    # stacks only), the register harness, the C examples, doc tests.
    step "test (host, no_std library)" cargo test --no-default-features
    # The declared minimum Rust: the library, tests, examples and benches
    # build, and the tests pass, with that toolchain (installed here).
    step "MSRV (host, rust-version of Cargo.toml)" msrv_check
    # The .crate file as a user gets it: its test suite, run from the
    # extracted package (catches a file the exclude list drops).
    step "package (cargo package, tests from the .crate)" "$ROOT/ci/package.sh"

    # Memory errors: Memcheck over the debug test binaries, then ASan (with
    # the `asan` feature's fiber hooks) over the Greenlet-layer tests.
    step "valgrind (host, debug)" "$ROOT/ci/valgrind.sh"
    step "asan (host, nightly)" "$ROOT/ci/asan.sh"
    for t in "${TARGETS[@]}"; do
        step "test ($t, debug)" with_cross "$t" cargo test --target "$t"
        if is_default "$t"; then
            step "test ($t, no_std library)" with_cross "$t" \
                cargo test --no-default-features --target "$t" --test raw_switch \
                --test entry_alignment
        fi
        # The other ports run their whole suite in debug only (qemu makes a
        # release build plus run cost minutes per CPU); the release builds
        # of x86_64 and aarch64 cover optimised code.
        if [[ $quick -eq 0 ]] && is_default "$t"; then
            step "test ($t, release)" with_cross "$t" \
                cargo test --release --target "$t"
        fi
    done
    # Windows x64 under Wine (issue 18): the std layers but the hub.
    if [[ $WINDOWS -eq 1 ]]; then
        step "test ($WINDOWS_TARGET, wine)" windows_check
    fi
    # macOS: nothing here can run or link a Mach-O binary; built and
    # type-checked only.
    if [[ $MACOS -eq 1 ]]; then
        step "build (aarch64-apple-darwin, x86_64-apple-darwin: built, not run)" \
            "$ROOT/ci/macos-build.sh"
    fi
    echo
    echo "==> all steps passed"
}

# Sourcing the file (for debugging) defines the functions without running.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi

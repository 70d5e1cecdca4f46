#!/usr/bin/env bash
# Build greenlet for macOS (Mach-O) on Linux, and check the symbols of what
# the assembly became. Nothing here can run a macOS binary, nor link one
# (that needs Apple's linker and SDK): this is a build check only.
#
#   ci/macos-build.sh            both targets
#   ci/macos-build.sh TRIPLE...  only these (aarch64-apple-darwin,
#                                x86_64-apple-darwin)
#
# For each target:
# 1. `cargo build --no-default-features --lib` with CC_<target>=clang and
#    AR_<target>=llvm-ar: clang assembles asm/'s port as Mach-O (the ports
#    include no header, so Apple's SDK is not needed), and llvm-ar writes
#    the Darwin archive format with its symbol index (GNU ar cannot read
#    Mach-O objects and leaves the index out).
# 2. `llvm-nm` on the libgreenlet_asm.a that build made (its OUT_DIR comes
#    from cargo's JSON messages): the object must be Mach-O and define, as
#    global symbols, every symbol of the assembly contract with Mach-O's
#    leading `_`.
# 3. clang assembles the same port three more times, as asm-harness/ does
#    for the test suite (GREENLET_HARNESS=1; GREENLET_MUTANT=1 and 2 with
#    their GREENLET_PREFIX), and their symbols are checked the same way.
# 4. The whole crate with its default features: `cargo build --lib` (the
#    std layers compiled to Mach-O objects in an rlib, nothing linked), and
#    `cargo check --tests --examples` (every test and example type-checked
#    for the target; linking them is what needs the SDK). Criterion's
#    `alloca` dependency compiles C that includes <stdint.h>:
#    CFLAGS_<target>=-ffreestanding makes clang use its own header instead
#    of the SDK's.
#
# Installs what it needs when missing: clang and llvm (apt-get), the two
# rustup targets.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    echo "ci/macos-build.sh: $*" >&2
    exit 1
}

# Each target, with the triple clang gets for the direct assembly of step 3
# (Rust's minimum macOS version for the CPU) and the port build.rs picks.
TARGETS=(
    "aarch64-apple-darwin|arm64-apple-macos11|aarch64_aapcs.S"
    "x86_64-apple-darwin|x86_64-apple-macos10.12|x86_64_sysv.S"
)

LIB_SYMS=(switch switch_ontop stack_init frame_bytes init_bytes valgrind_request)
HARNESS_SYMS=(_greenlet_harness_probe _greenlet_harness_aligned_entry
    _greenlet_harness_count _greenlet_harness_names)

# as_root, install_apt, install_targets
# shellcheck source=ci/install.sh
source "$root/ci/install.sh"

install_tools() {
    # clang assembles and compiles for Apple targets; llvm has llvm-ar,
    # llvm-nm and llvm-objdump.
    install_apt clang llvm
    command -v clang >/dev/null && command -v llvm-ar >/dev/null ||
        die "clang or llvm-ar still missing"
}

# check_syms FILE WHAT SYMBOL...: FILE (an object or archive) is Mach-O and
# defines each SYMBOL as a global symbol; print them.
check_syms() {
    local file=$1 what=$2 s defined bad=0
    shift 2
    llvm-objdump -h "$file" | grep -q 'file format mach-o' ||
        die "$what: $file is not a Mach-O object"
    defined=$(llvm-nm -g --defined-only "$file" | awk 'NF == 3 { print $2, $3 }')
    echo "  $what:"
    for s in "$@"; do
        if grep -q " $s\$" <<<"$defined"; then
            echo "    $(grep " $s\$" <<<"$defined")"
        else
            echo "    MISSING $s" >&2
            bad=1
        fi
    done
    [[ $bad -eq 0 ]] || die "$what: expected global symbols missing from $file"
}

# build_lib TRIPLE: the raw layer's library build; prints greenlet's OUT_DIR.
build_lib() {
    local triple=$1 u=${1//-/_} json out
    json=$(env "CC_$u=clang" "AR_$u=llvm-ar" cargo build --quiet \
        --manifest-path "$root/Cargo.toml" --target "$triple" \
        --no-default-features --lib --message-format=json)
    out=$(grep '"reason":"build-script-executed"' <<<"$json" |
        grep '#greenlet@' | grep -o '"out_dir":"[^"]*"' | cut -d'"' -f4 | tail -n 1)
    [[ -n "$out" && -f "$out/libgreenlet_asm.a" ]] ||
        die "$triple: no libgreenlet_asm.a from greenlet's build script"
    echo "$out"
}

main() {
    local want=() row triple clang_target port out work m s syms u
    if [[ $# -gt 0 ]]; then
        for triple in "$@"; do
            for row in "${TARGETS[@]}"; do
                [[ "${row%%|*}" == "$triple" ]] && want+=("$row")
            done
            [[ " ${want[*]} " == *" $triple|"* ]] || die "unknown target $triple"
        done
    else
        want=("${TARGETS[@]}")
    fi

    install_tools
    install_targets $(for row in "${want[@]}"; do echo "${row%%|*}"; done)

    work=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now: work is local to main
    trap "rm -rf '$work'" EXIT
    for row in "${want[@]}"; do
        IFS='|' read -r triple clang_target port <<<"$row"
        echo "== $triple (asm/$port)"
        out=$(build_lib "$triple")
        syms=()
        for s in "${LIB_SYMS[@]}"; do syms+=("_greenlet_$s"); done
        check_syms "$out/libgreenlet_asm.a" "library ($out/libgreenlet_asm.a)" "${syms[@]}"

        clang --target="$clang_target" -c -DGREENLET_HARNESS=1 \
            -o "$work/harness.o" "$root/asm/$port"
        check_syms "$work/harness.o" "register harness (GREENLET_HARNESS=1)" \
            "${HARNESS_SYMS[@]}"
        for m in 1 2; do
            clang --target="$clang_target" -c -DGREENLET_MUTANT=$m \
                -DGREENLET_PREFIX=greenlet_mutant${m}_ -o "$work/mutant$m.o" "$root/asm/$port"
            syms=()
            for s in "${LIB_SYMS[@]}"; do syms+=("_greenlet_mutant${m}_$s"); done
            check_syms "$work/mutant$m.o" "mutant $m (GREENLET_MUTANT=$m)" "${syms[@]}"
        done

        u=${triple//-/_}
        echo "  std layers: cargo build --lib; cargo check --tests --examples"
        env "CC_$u=clang" "AR_$u=llvm-ar" "CFLAGS_$u=-ffreestanding" \
            cargo build --quiet --manifest-path "$root/Cargo.toml" --target "$triple" --lib
        env "CC_$u=clang" "AR_$u=llvm-ar" "CFLAGS_$u=-ffreestanding" \
            cargo check --quiet --manifest-path "$root/Cargo.toml" --target "$triple" \
            --tests --examples
    done
    echo "macOS builds: ok (${#want[@]} target(s))"
}

main "$@"

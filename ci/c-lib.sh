#!/usr/bin/env bash
# Build libgreenlet.a, the C library of include/greenlet.h, for one target.
#
#   ci/c-lib.sh [TRIPLE]     (default: the host's triple)
#
# Prints the path of the archive it made: target/c/TRIPLE/libgreenlet.a.
#
# 1. `cargo build --release -p greenlet-c` (capi/: no_std, libc only), with
#    `-C panic=abort` (a no_std staticlib cannot unwind) in a target dir of
#    its own, target/c-build, so the flags do not disturb other builds.
# 2. `ld -r --gc-sections -u <each symbol>`: one relocatable object made of
#    only the archive members, and within them only the sections, that the
#    symbols of include/greenlet.syms need (no other part of Rust's core or
#    compiler_builtins, e.g. not its aarch64 CPU-feature constructors).
# 3. `objcopy --keep-global-symbols=include/greenlet.syms`: every other
#    symbol becomes local, so nothing can collide with another copy of Rust
#    or of this library; the LLVM bitcode sections of the precompiled core
#    are dropped (GNU tools with the LLVM plugin choke on them).
# 4. `ar`, then check with `nm` that the global symbols are exactly the list.
#
# Tools for a cross TRIPLE come from CC_<triple with _> (ci/test.sh's
# cross_env sets it): `aarch64-linux-gnu-gcc` gives aarch64-linux-gnu-ld,
# -objcopy, -ar and -nm.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
triple=${1:-$host}
cc_var="CC_${triple//-/_}"
cc=${!cc_var:-cc}
prefix=""
if [[ "$cc" == *-gcc ]]; then prefix=${cc%gcc}; fi

syms=$root/include/greenlet.syms
out=$root/target/c/$triple
mkdir -p "$out"
# Work in a directory of our own and rename at the end, so that two runs at
# once never see a half-written archive.
work=$(mktemp -d "$out/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
RUSTFLAGS="-C panic=abort" cargo build --quiet --release -p greenlet-c \
    --manifest-path "$root/Cargo.toml" --target "$triple" \
    --target-dir "$root/target/c-build" >&2
lib=$root/target/c-build/$triple/release/libgreenlet_c.a

roots=()
while read -r s; do roots+=(-u "$s"); done <"$syms"
"${prefix}ld" -r --gc-sections "${roots[@]}" -o "$work/greenlet.o" \
    "$lib"
"${prefix}objcopy" --keep-global-symbols="$syms" \
    --remove-section=.llvmbc --remove-section=.llvmcmd --strip-debug --strip-unneeded \
    "$work/greenlet.o" "$work/greenlet.o"
"${prefix}ar" rcs "$work/libgreenlet.a" "$work/greenlet.o"

exported=$("${prefix}nm" -g --defined-only "$work/libgreenlet.a" |
    awk 'NF == 3 { print $3 }' | sort)
if [[ "$exported" != "$(sort "$syms")" ]]; then
    echo "ci/c-lib.sh: libgreenlet.a would export other symbols than $syms:" >&2
    diff <(sort "$syms") <(echo "$exported") >&2 || true
    exit 1
fi
mv -f "$work/libgreenlet.a" "$out/libgreenlet.a"
echo "$out/libgreenlet.a"

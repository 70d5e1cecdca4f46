#!/usr/bin/env bash
# The published package, checked as a user would get it: `cargo package`
# builds the .crate file (and checks that it builds), then the test suite
# runs from the extracted package, outside this repository. ci/test.sh runs
# this as its "package" step; it also runs on its own.
#
# Prints the package's file count and size.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
# --allow-dirty: CI runs on a clean clone anyway; locally, uncommitted work
# is what one wants checked.
cargo package --allow-dirty --no-verify --quiet
crate=$(ls -t "$target"/package/greenlet-*.crate | head -1)
files=$(tar -tzf "$crate" | grep -vc '/$')
bytes=$(stat -c %s "$crate")
echo "package: $(basename "$crate"): $files files, $bytes bytes compressed"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$crate" -C "$work"
dir=$(ls -d "$work"/greenlet-*)
# Its own workspace root: the extracted package is not a member of ours.
# A target directory of its own: cargo gives the extracted greenlet the same
# unit hash as the repository's (a path package's hash does not include its
# directory), so in a shared one its build script output, which names the
# extracted asm/ files, would replace ours and break the next build here.
cd "$dir"
CARGO_TARGET_DIR="$target/package-test" cargo test
echo "package: the test suite passes from the extracted package"

#!/usr/bin/env bash
# The test suite under AddressSanitizer, with the crate's `asan` feature
# (every switch between greenlet stacks bracketed by ASan's fiber hooks).
# ci/test.sh runs this as its "asan" step; it also runs on its own:
#
#   ci/asan.sh                  the tests below
#   ci/asan.sh --test NAME ...  other cargo test arguments instead
#
# Nightly is required (-Zsanitizer, -Zbuild-std): it is installed here if
# missing (minimal profile, plus rust-src for -Zbuild-std); failing to
# install it fails the step. std is rebuilt with the sanitizer
# (-Zbuild-std) so that its code is checked too, in a target directory of
# its own (target/asan), debug build.
#
# What runs, and what does not (and why):
#   - the unit tests and tests/greenlet_semantics, greenlet_model,
#     generator, stack, stack_arena, backtrace, overflow, seed_examples:
#     everything that switches through the Greenlet layer, plus the stack
#     layer and the fault reports;
#   - not tests/raw_switch, entry_alignment and registers: they switch between raw
#     contexts on heap buffers without the Greenlet layer, so nothing tells
#     ASan about those stack changes (the hooks live in the Greenlet
#     layer); they check the assembly, which ASan does not instrument;
#   - the example programs, built with ASan, which tests/seed_examples and
#     tests/generator run as children;
#   - not the doctests: those of `raw` switch stacks without the hooks, as
#     above, and the Greenlet ones are covered by the tests.
# ASAN_OPTIONS: detect_stack_use_after_return=1 (fake stacks on: the
# hooks' save/restore of them is part of what is tested), and
# allow_user_segv_handler=1 so that the crate's overflow report (a SIGSEGV
# handler that chains to ASan's for other faults) is the one that runs.
# LeakSanitizer stays on, with ci/lsan.supp for the two deliberate leaks.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIPLE=x86_64-unknown-linux-gnu
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
    rustup component add rust-src --toolchain nightly
fi
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
    args=(--lib --test greenlet_semantics --test greenlet_model --test generator
        --test stack --test stack_arena --test backtrace --test overflow
        --test seed_examples --test hub --test hub_net --test hub_examples
        --test greenlet_tracing --test greenlet_local --test greenlet_ownership
        --test generator_paths --test hub_sync --test hub_toolkit --test hub_sync_model --test hub_interruptions --test hub_creation --test trace_panics
        --test hub_udp --test hub_unix --test hub_fd_reuse --test hub_blocking --test hub_channel)
fi
export CARGO_TARGET_DIR=target/asan
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_stack_use_after_return=1:allow_user_segv_handler=1"
export LSAN_OPTIONS="suppressions=$PWD/ci/lsan.supp:print_suppressions=0"
# The examples that tests/seed_examples.rs and tests/generator.rs run (they
# are not built by `cargo test --test ...`), with ASan too.
cargo +nightly build -Zbuild-std --target "$TRIPLE" --features asan --examples
cargo +nightly test -Zbuild-std --target "$TRIPLE" --features asan "${args[@]}"

#!/usr/bin/env bash
# Memcheck over the test suite: every test binary of `cargo test` (the unit
# tests and each tests/*.rs), debug build, under
#   valgrind --error-exitcode=1
# Any Memcheck error fails the run. ci/test.sh runs this as its "valgrind"
# step; it also runs on its own:
#
#   ci/valgrind.sh            all test binaries
#   ci/valgrind.sh NAME...    only these (stack, greenlet_semantics, lib, ...)
#
# What it sets and why:
#   GREENLET_UNDER_VALGRIND=1   tests that would take minutes under Valgrind
#                               scale down (greenlet_semantics'
#                               many_greenlets: 2,000 instead of 100,000),
#                               and raw's unit test expects
#                               RUNNING_ON_VALGRIND to answer 1.
#   --trace-children=yes, skipping the patterns of $SKIP below
#                               the example programs that tests start
#                               (target/debug/examples/*) run under Valgrind
#                               too; the children that are re-executions of
#                               a test binary (deliberate faults: overflow,
#                               guard pages, register mutants, map
#                               exhaustion) run natively, because their
#                               whole point is to crash or exhaust limits.
#   leaks                       not errors (no --errors-for-leak-kinds): each
#                               thread's main greenlet is deliberately kept
#                               for the life of the thread, and tests leak
#                               on purpose (a greenlet that refuses to die
#                               leaks its stack, as the API says).
# Doctests are not run here (rustdoc builds each one separately).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends valgrind >/dev/null
fi
command -v valgrind >/dev/null || { echo "ci/valgrind.sh: valgrind missing" >&2; exit 1; }

# Build first, loudly: a build error must fail the step, not shrink the
# list of binaries below.
cargo test --no-run --quiet
# Test binaries from cargo's JSON messages: "test":true artifacts with an
# executable (examples are built too, for the tests that run them).
mapfile -t lines < <(cargo test --no-run --message-format=json 2>/dev/null |
    grep '"reason":"compiler-artifact"' | grep '"test":true' |
    grep -o '"name":"[^"]*","src_path\|"executable":"[^"]*"')
names=()
bins=()
for l in "${lines[@]}"; do
    case $l in
    '"name":'*) n=${l#\"name\":\"}; n=${n%%\"*} ;;
    '"executable":'*) e=${l#\"executable\":\"}; e=${e%\"}; names+=("$n"); bins+=("$e") ;;
    esac
done
[[ ${#bins[@]} -gt 0 ]] || { echo "ci/valgrind.sh: no test binaries found" >&2; exit 1; }

wanted=("$@")
export GREENLET_UNDER_VALGRIND=1
# The model test: 200 random sequences instead of 1,000 (the native runs do
# all 1,000); under Valgrind each costs about 0.1 s.
export GREENLET_MODEL_ITERS=${GREENLET_MODEL_ITERS:-200}
# The hub toolkit's model test: 3 seeds instead of 20 (each about 0.4 s
# natively, some 20 s under Memcheck).
export GREENLET_MODEL_SEEDS=${GREENLET_MODEL_SEEDS:-1..4}
for w in "${wanted[@]}"; do
    found=0
    for n in "${names[@]}"; do
        [[ $n == greenlet ]] && n=lib
        [[ $n == "$w" ]] && found=1
    done
    [[ $found -eq 1 ]] || { echo "ci/valgrind.sh: no test binary named $w" >&2; exit 1; }
done
# Children not traced: re-executions of test binaries (*/deps/*), the C
# programs tests/c_examples.rs builds (*/tmp/c-*: their stacks come from the
# C API, which does not register them), and the toolchain and system
# programs tests run (cargo, rustc, gcc, nm, bash: /usr/*, ~/.cargo, ...).
SKIP='*/deps/*,*/tmp/c-*,/usr/*,/bin/*,*/.cargo/*,*/.rustup/*'
ran=0
failed=()
for i in "${!bins[@]}"; do
    name=${names[$i]}
    [[ $name == greenlet ]] && name=lib
    if [[ ${#wanted[@]} -gt 0 && " ${wanted[*]} " != *" $name "* ]]; then continue; fi
    t0=$(date +%s)
    ran=$((ran + 1))
    echo "--- valgrind: $name"
    if valgrind -q --error-exitcode=1 --trace-children=yes \
        --trace-children-skip="$SKIP" "${bins[$i]}" -q; then
        echo "--- valgrind: $name: 0 errors, $(($(date +%s) - t0)) s"
    else
        echo "--- valgrind: $name: FAILED (exit $?), $(($(date +%s) - t0)) s"
        failed+=("$name")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "ci/valgrind.sh: Memcheck errors or test failures in: ${failed[*]}" >&2
    exit 1
fi
echo "ci/valgrind.sh: $ran test binaries ran under Memcheck with 0 errors"

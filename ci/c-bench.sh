#!/usr/bin/env bash
# The C round trip beside the Rust raw round trip, in the same run: the same
# switch (greenlet_switch) called from C through libgreenlet.a and from Rust
# through greenlet::raw, each ping-ponging a word with a context that adds
# one.
#
#   time:        examples/c/round_trip.c and examples/switch_cost.rs, both
#                best of 5 runs of 10M round trips, alternated 3 times
#   callgrind:   instructions per round trip, exact: each program run with
#                two lengths, difference of instructions / difference of
#                round trips (as ci/callgrind.sh does)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}
lib=$(ci/c-lib.sh)
cargo build --release --quiet --example switch_cost --example switch_counts
c_bin=target/c/round_trip
cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -Iinclude examples/c/round_trip.c "$lib" -o "$c_bin"
rust_time=target/release/examples/switch_cost
rust_count=target/release/examples/switch_counts

echo "== time per round trip (best of 5 x 10M; 3 alternations)"
for _ in 1 2 3; do
    "$c_bin"
    "$rust_time" | sed -n 's/^ *round trip (2 switches) */rust round trip: /p'
done

count() { # command... -> instructions
    local out
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
    rm -f "$out"
}
n1=100000
n2=1100000
echo "== instructions per round trip (callgrind, ($n2 - $n1) round trips)"
a=$(count "$c_bin" $n1 1)
b=$(count "$c_bin" $n2 1)
awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) 'BEGIN { printf "c     %6.2f\n", (b - a) / n }'
a=$(count "$rust_count" raw $n1)
b=$(count "$rust_count" raw $n2)
awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) 'BEGIN { printf "rust  %6.2f\n", (b - a) / n }'

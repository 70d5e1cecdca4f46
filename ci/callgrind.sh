#!/usr/bin/env bash
# Instructions per round trip, counted exactly by callgrind: for each kind of
# switch, run examples/switch_counts with two lengths and divide the
# difference in instructions by the difference in round trips.
#
# Usage: ci/callgrind.sh [kind ...]
#   (default: raw greenlet generator corosensei create corosensei_create call
#    hub_yield tokio_yield)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}
cargo build --release --quiet --example switch_counts
bin=target/release/examples/switch_counts
n1=100000
n2=1100000
count() { # kind n -> instructions
    local out
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
    rm -f "$out"
}
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(raw greenlet generator corosensei create corosensei_create call hub_yield tokio_yield)
for kind in "${kinds[@]}"; do
    a=$(count "$kind" $n1)
    b=$(count "$kind" $n2)
    awk -v k="$kind" -v a="$a" -v b="$b" -v n=$((n2 - n1)) \
        'BEGIN { printf "%-12s %6.2f instructions per round trip\n", k, (b - a) / n }'
done

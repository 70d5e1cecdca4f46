#!/usr/bin/env bash
# The ratios of issue 13, timed in one criterion run: runs benches/ratios.rs
# (`cargo bench --bench ratios`), then reads criterion's estimates
# (<target>/criterion/<group>/<id>/new/estimates.json, the mean in ns) and
# prints each bench's time, its ratio to the crate's raw round trip
# (round_trip/greenlet_raw) and its ratio to corosensei in the same group
# (round_trip/corosensei, create_run_drop/corosensei_reused_stack).
#
# Usage: ci/bench-ratios.sh [criterion args...]
#   e.g. ci/bench-ratios.sh --warm-up-time 1 --measurement-time 3
#
# Times, not a CI gate (ci/test.sh does not run this); the gate is the exact
# instruction counts of `ci/callgrind.sh --check`. Needs python3 for the
# JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || {
    echo "ci/bench-ratios.sh: error: needs python3 to read criterion's JSON" >&2
    exit 1
}
# Wherever cargo puts it (CARGO_TARGET_DIR, a config's build.target-dir).
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
criterion_dir=${target_dir:-target}/criterion
# Estimates older than this stamp are from an earlier run (another bench
# with the same group, or ids a criterion filter left out): not reported.
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
cargo bench --bench ratios -- "$@"

python3 - "$criterion_dir" "$stamp" <<'EOF'
import json, os, sys

root, stamp = sys.argv[1], sys.argv[2]
since = os.path.getmtime(stamp)
# group -> (ids in the bench's order, its corosensei peer)
GROUPS = [
    ("round_trip", ["greenlet_raw", "greenlet", "generator", "corosensei"], "corosensei"),
    ("create_run_drop", ["greenlet_pooled", "corosensei_reused_stack"], "corosensei_reused_stack"),
]
RAW = ("round_trip", "greenlet_raw")

def mean_ns(group, bench):
    path = os.path.join(root, group, bench, "new", "estimates.json")
    if not os.path.exists(path) or os.path.getmtime(path) < since:
        return None
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"]

def ratio(t, ref):
    return "-" if t is None or not ref else f"{t / ref:.2f}x"

raw = mean_ns(*RAW)
rows = []
for group, ids, peer in GROUPS:
    known = set(ids)
    gdir = os.path.join(root, group)
    extra = sorted(d for d in os.listdir(gdir) if d not in known) if os.path.isdir(gdir) else []
    peer_ns = mean_ns(group, peer)
    for bench in ids + extra:
        t = mean_ns(group, bench)
        if t is None:
            if bench in known:
                rows.append((f"{group}/{bench}", "not run", "-", "-"))
            continue
        rows.append((f"{group}/{bench}", f"{t:.2f}", ratio(t, raw), ratio(t, peer_ns)))

head = ("bench", "mean ns", "vs raw", "vs corosensei")
w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
line = lambda r: f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}"
print()
print("mean time per iteration (criterion, this run); vs raw = / round_trip/greenlet_raw,")
print("vs corosensei = / the corosensei bench of the same group")
print(line(head))
for r in rows:
    print(line(r))
EOF

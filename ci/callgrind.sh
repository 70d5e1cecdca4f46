#!/usr/bin/env bash
# Instructions per round trip, counted exactly by callgrind: for each kind of
# switch, run examples/switch_counts with two lengths and divide the
# difference in instructions by the difference in round trips. (For the
# hub's toolkit kinds, queue_msg, mutex_lock, mutex_contended and their tokio
# peers, the unit is one message or one lock + unlock instead.)
#
# Usage: ci/callgrind.sh [kind ...]
#          print the count of each kind (default: raw greenlet generator
#          corosensei create corosensei_create call hub_yield tokio_yield
#          queue_msg tokio_queue_msg mutex_lock tokio_mutex_lock
#          mutex_contended tokio_mutex_contended)
#        ci/callgrind.sh --check
#          the gate: measure each kind of ci/budgets.txt, print
#          `kind measured budget ok/OVER`, and exit 1 if any count (rounded
#          to 2 decimals) is above its budget. The budgets are x86_64
#          counts: on another host it says so and exits 0.
#
# Environment:
#   GREENLET_BUDGETS  budget file for --check (default: ci/budgets.txt)
#   GREENLET_CALLGRIND_N1, GREENLET_CALLGRIND_N2
#                     the two lengths (default: 100000 and 1100000); the
#                     kinds that make system calls (udp_echo,
#                     tokio_udp_echo, not in the default list) want
#                     smaller ones, e.g. 10000 and 60000
#
# Installs valgrind (apt-get, as root or through sudo) when it is missing.
set -euo pipefail

die() {
    echo "ci/callgrind.sh: error: $*" >&2
    exit 1
}

check=0
if [[ "${1:-}" == "--check" ]]; then
    [[ $# -eq 1 ]] || die "--check takes no kinds (they come from the budget file)"
    check=1
    budgets=${GREENLET_BUDGETS:-ci/budgets.txt}
    # A relative GREENLET_BUDGETS is relative to where we were started.
    if [[ -n "${GREENLET_BUDGETS:-}" && "$budgets" != /* ]]; then
        budgets=$PWD/$budgets
    fi
elif [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
fi
cd "$(dirname "$0")/.."

kinds=()
limits=()
if [[ $check -eq 1 ]]; then
    [[ -r "$budgets" ]] || die "cannot read the budget file $budgets"
    lineno=0
    while IFS= read -r line || [[ -n "$line" ]]; do
        lineno=$((lineno + 1))
        line=${line%%#*}
        read -r kind max extra <<<"$line" || true
        [[ -z "${kind:-}" ]] && continue
        [[ -n "${max:-}" && -z "${extra:-}" && "$max" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
            die "$budgets:$lineno: expected '<kind> <max instructions per round trip>'"
        [[ " ${kinds[*]} " != *" $kind "* ]] || die "$budgets:$lineno: $kind listed twice"
        kinds+=("$kind")
        limits+=("$max")
    done <"$budgets"
    [[ ${#kinds[@]} -gt 0 ]] || die "$budgets lists no kinds"
    arch=$(uname -m)
    if [[ "$arch" != x86_64 ]]; then
        echo "ci/callgrind.sh --check: skipped: the budgets in $budgets are" \
            "x86_64 counts and this host is $arch"
        exit 0
    fi
else
    kinds=("$@")
    [ ${#kinds[@]} -eq 0 ] && kinds=(raw greenlet generator corosensei create corosensei_create call hub_yield tokio_yield
        queue_msg tokio_queue_msg mutex_lock tokio_mutex_lock mutex_contended tokio_mutex_contended)
fi

if ! command -v valgrind >/dev/null; then
    echo "ci/callgrind.sh: installing valgrind" >&2
    sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null || die "valgrind is missing, and installing it needs root or sudo"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine (e.g. a Debian 12 container) has no package lists yet.
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq \
        --no-install-recommends valgrind >/dev/null
    command -v valgrind >/dev/null || die "valgrind did not install"
fi

cargo build --release --quiet --example switch_counts
# Wherever cargo put it (CARGO_TARGET_DIR, a config's build.target-dir).
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin=${target_dir:-target}/release/examples/switch_counts
[[ -x "$bin" ]] || die "$bin was not built"
n1=${GREENLET_CALLGRIND_N1:-100000}
n2=${GREENLET_CALLGRIND_N2:-1100000}
[[ "$n1" =~ ^[0-9]+$ && "$n2" =~ ^[0-9]+$ && $n2 -gt $n1 ]] ||
    die "GREENLET_CALLGRIND_N1 and _N2 must be whole numbers, N2 > N1 (got $n1, $n2)"
count() { # kind n -> instructions
    local out log rc=0
    out=$(mktemp)
    log=$(valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" 2>&1) || rc=$?
    rm -f "$out"
    if [[ $rc -ne 0 ]]; then
        echo "$log" >&2
        die "switch_counts $1 $2 failed under callgrind (exit $rc)"
    fi
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' <<<"$log"
}
# kind a b [budget] -> the table row; exits 1 when over the budget
row() {
    awk -v k="$1" -v a="$2" -v b="$3" -v n=$((n2 - n1)) -v max="${4:-}" 'BEGIN {
        m = sprintf("%.2f", (b - a) / n)
        if (max == "") { printf "%-21s %7s instructions per round trip (message, lock)\n", k, m; exit 0 }
        over = m + 0 > max + 0
        printf "%-21s %9s %9s  %s\n", k, m, max, over ? "OVER" : "ok"
        exit over
    }'
}

over=()
if [[ $check -eq 1 ]]; then
    printf '%-21s %9s %9s  %s\n' kind measured budget ""
fi
for i in "${!kinds[@]}"; do
    kind=${kinds[$i]}
    a=$(count "$kind" $n1)
    b=$(count "$kind" $n2)
    [[ "$a" =~ ^[0-9]+$ && "$b" =~ ^[0-9]+$ ]] ||
        die "no instruction count from callgrind for $kind"
    if [[ $check -eq 1 ]]; then
        row "$kind" "$a" "$b" "${limits[$i]}" || over+=("$kind")
    else
        row "$kind" "$a" "$b"
    fi
done
if [[ $check -eq 1 ]]; then
    if [[ ${#over[@]} -gt 0 ]]; then
        echo "ci/callgrind.sh --check: over budget: ${over[*]} (budgets: $budgets)" >&2
        exit 1
    fi
    echo "ci/callgrind.sh --check: all ${#kinds[@]} kinds within budget ($budgets)"
fi

#!/usr/bin/env bash
# Restart time and AOF size: sessiond against redis-server, both with
# appendonly yes, holding N sessions (DESIGN.md §3, "Durability").
#
# For each server: start it with an empty AOF directory, load N session-shaped
# records with `redis-cli --pipe` (sessiond: SESSION.CREATE user<i> IDLE 1800
# DATA <4 fields>; Redis: HSET sess:<i> <4 fields> + EXPIRE 1800; the same
# 114 bytes of data, written by benches/session_load.py), note the AOF's size,
# run BGREWRITEAOF and wait for it, note the size again, kill -9 the server,
# then ROUNDS times: start it, time how long it takes to print "Ready to
# accept connections", check that every record is back, kill -9 it. Prints
# the median restart time and the sizes, side by side.
#
# Environment: N=1000000, ROUNDS=3, FSYNC=everysec (appendfsync of both),
# SESSIOND_BIN (default: cargo build --release, then target/release/sessiond).
# Needs python3, redis-server and redis-cli.
set -euo pipefail
export LC_ALL=C

N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
FSYNC=${FSYNC:-everysec}
for var in N ROUNDS; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || { echo "restart.sh: $var must be a positive integer" >&2; exit 1; }
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/restart.XXXXXX")
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$workdir"
}
trap cleanup EXIT

binary=${SESSIOND_BIN:-}
if [[ -z $binary ]]; then
    (cd "$root" && cargo build --release --quiet)
    binary=${CARGO_TARGET_DIR:-$root/target}/release/sessiond
fi
binary=$(realpath "$binary")

# Below Linux's ephemeral range (32768 and up), where a client's socket left in
# TIME_WAIT cannot hold the port.
port=$((20000 + RANDOM % 12000))

# start NAME: starts server NAME on $port with its AOF in $workdir/NAME and
# waits for its ready line; sets server_pid, and elapsed to the seconds that took.
start() {
    local name=$1 log=$workdir/$1.log began
    mkdir -p "$workdir/$name"
    : >"$log"
    began=$(date +%s%N)
    if [[ $name == redis ]]; then
        (cd "$workdir/$name" && exec redis-server --port "$port" --save "" --appendonly yes \
            --appendfsync "$FSYNC" --dir "$workdir/$name") >"$log" 2>&1 &
    else
        "$binary" --port "$port" --appendonly yes --appendfsync "$FSYNC" \
            --dir "$workdir/$name" >"$log" 2>&1 &
    fi
    server_pid=$!
    until grep -q "Ready to accept connections" "$log"; do
        kill -0 "$server_pid" 2>/dev/null || { echo "restart.sh: $name exited:" >&2; cat "$log" >&2; exit 1; }
        sleep 0.005
    done
    elapsed=$(awk -v ns=$(($(date +%s%N) - began)) 'BEGIN { printf "%.3f", ns / 1e9 }')
}

# crash: kill -9 the running server.
crash() {
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# aof_bytes NAME: bytes of the AOF files of server NAME (Redis keeps them in
# appendonlydir/ inside its dir).
aof_bytes() { find "$workdir/$1" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }'; }

info() { redis-cli -p "$port" info persistence | tr -d '\r' | awk -F: -v k="$1" '$1 == k { print $2 }'; }

# count NAME: how many records the server holds.
count() {
    if [[ $1 == redis ]]; then redis-cli -p "$port" dbsize; else redis-cli -p "$port" session.count; fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A restart before after
for name in sessiond redis; do
    kind=$([[ $name == redis ]] && echo redis || echo sessiond-users)
    python3 "$root/benches/session_load.py" "$kind" "$N" "$workdir/load.resp"
    start "$name"
    result=$(redis-cli -p "$port" --pipe <"$workdir/load.resp" | tail -n 1)
    [[ $result == "errors: 0,"* ]] || { echo "restart.sh: $name: $result" >&2; exit 1; }
    while [[ $(info aof_rewrite_in_progress) != 0 ]]; do sleep 0.1; done
    before[$name]=$(aof_bytes "$name")
    redis-cli -p "$port" bgrewriteaof >/dev/null
    while [[ $(info aof_rewrite_in_progress) != 0 || $(info aof_rewrite_scheduled) != 0 ]]; do sleep 0.1; done
    after[$name]=$(aof_bytes "$name")
    crash
    times=()
    for ((round = 1; round <= ROUNDS; round++)); do
        start "$name"
        seconds=$elapsed
        held=$(count "$name")
        [[ $held == "$N" ]] || { echo "restart.sh: $name holds $held records after a restart, not $N" >&2; exit 1; }
        printf 'round %d  %-8s restart %6s s\n' "$round" "$name" "$seconds"
        times+=("$seconds")
        crash
    done
    restart[$name]=$(median "${times[@]}")
    rm -f "$workdir/load.resp"
done

echo
printf 'restart with %d sessions, appendfsync %s, median of %d; commit %s, %s\n' "$N" "$FSYNC" "$ROUNDS" \
    "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)" "$(redis-server --version | cut -d' ' -f1-3)"
printf '| %-8s | %10s | %16s | %15s |\n' server restart 'AOF bytes loaded' 'after rewrite'
printf '|----------|-----------:|-----------------:|----------------:|\n'
for name in sessiond redis; do
    printf '| %-8s | %8s s | %16s | %15s |\n' "$name" "${restart[$name]}" "${before[$name]}" "${after[$name]}"
done

#!/usr/bin/env bash
# Memory per session: sessiond against redis-server on the same load (plain
# hashes: HSET + EXPIRE), and sessiond's SESSION.CREATE (DESIGN.md §3,
# "Memory"), same data, same machine.
#
# Loads N session-shaped records with `redis-cli --pipe` into a fresh server
# of each kind and prints bytes per record: the growth of the process's RSS,
# and the growth of INFO's used_memory (the allocator's count, both servers).
# Each record has the same 4 fields, 114 bytes of names and values
# (benches/session_load.py writes them). Loads:
#   redis            HSET sess:<i> <fields>; EXPIRE sess:<i> 1800
#   redis+index      as redis, plus SADD user:<i> sess:<i> (the per-user set
#                    that Spring Session and similar stores keep)
#   sessiond-hash    the very same file as redis, into sessiond
#   sessiond-1user   SESSION.CREATE user IDLE 1800 DATA <fields>
#   sessiond-users   SESSION.CREATE user<i> IDLE 1800 DATA <fields>
#
# Environment: N=1000000, LOADS (space-separated, default all five),
# SESSIOND_BIN (default: cargo build --release, then target/release/sessiond).
# Needs python3 (to write the load files), redis-server and redis-cli.
set -euo pipefail
export LC_ALL=C

N=${N:-1000000}
LOADS=${LOADS:-redis redis+index sessiond-hash sessiond-1user sessiond-users}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "memory.sh: N must be a positive integer" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/memory.XXXXXX")
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$workdir"
}
trap cleanup EXIT

binary=${SESSIOND_BIN:-}
if [[ -z $binary ]]; then
    (cd "$root" && cargo build --release --quiet)
    binary=${CARGO_TARGET_DIR:-$root/target}/release/sessiond
fi

# write_load KIND FILE: N commands of the load KIND, in RESP, into FILE
# (sessiond-hash is the redis load).
write_load() {
    local kind=$1
    [[ $kind == sessiond-hash ]] && kind=redis
    python3 "$root/benches/session_load.py" "$kind" "$N" "$2"
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/ { print $2 }'; }

# Below Linux's ephemeral range (32768 and up), where a client's socket left in
# TIME_WAIT cannot hold the port.
port=$((20000 + RANDOM % 12000))
printf '%-16s %14s %16s\n' load 'RSS B/record' 'used_memory B/rec'
for load in $LOADS; do
    write_load "$load" "$workdir/load.resp"
    if [[ $load == redis* ]]; then
        redis-server --port "$port" --save "" --appendonly no >"$workdir/server.log" 2>&1 &
    else
        "$binary" --port "$port" --appendonly no --metrics-port 0 >"$workdir/server.log" 2>&1 &
    fi
    server_pid=$!
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
    rss_before=$(rss_kb "$server_pid")
    used_before=$(used_memory "$port")
    result=$(redis-cli -p "$port" --pipe <"$workdir/load.resp" | tail -n 1)
    [[ $result == "errors: 0,"* ]] || { echo "memory.sh: $load: $result" >&2; exit 1; }
    # RSS settles once the allocator has returned the pages freed during the load
    # (jemalloc's decay): read it until it stops falling, for at most 15 s.
    rss_after=$(rss_kb "$server_pid")
    for _ in $(seq 30); do
        sleep 0.5
        rss_now=$(rss_kb "$server_pid")
        ((rss_now < rss_after)) || break
        rss_after=$rss_now
    done
    used=$((($(used_memory "$port") - used_before) / N))
    printf '%-16s %14d %16d\n' "$load" $(((rss_after - rss_before) * 1024 / N)) "$used"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
done

#!/usr/bin/env bash
# Instructions per request, counted by callgrind, for sessiond and
# redis-server. Unlike requests per second on this shared machine, the count
# hardly moves between runs, so it shows small gains and losses.
#
# For each server and each test (GET and SET by default):
#   1. loaded run: start the server under
#      `valgrind --tool=callgrind --callgrind-out-file=...`, wait for its
#      "Ready to accept connections" line, run
#      `redis-benchmark -n $N -t TEST` (timed), stop it with SIGTERM;
#   2. idle run: the same, but instead of the benchmark stay idle for as long
#      as the benchmark took, so that start-up, shutdown and periodic work
#      (cron, timers) match the loaded run;
#   3. instructions per request = (loaded total − idle total) / N.
# What remains besides the requests is redis-benchmark's set-up (50
# connections and a CONFIG GET): a few instructions per request at N=100000.
# Redis 7.0 here: about 3,900 per GET and 5,600 per SET.
#
# Environment:
#   N=100000          requests per loaded run
#   TESTS="get set"   redis-benchmark -t tests, one run each
#   SERVERS="sessiond redis"
#   SESSIOND_ARGS=    extra sessiond arguments (split on whitespace)
#   REDIS_ARGS=       extra redis-server arguments
#   SESSIOND_BIN=     run this instead of building target/release/sessiond
#   READY_TIMEOUT=120 seconds a server may stay silent before it is ready
set -euo pipefail
export LC_ALL=C # "." as the decimal point for printf and awk

N=${N:-100000}
TESTS=${TESTS:-get set}
SERVERS=${SERVERS:-sessiond redis}
READY_TIMEOUT=${READY_TIMEOUT:-120}
read -r -a tests <<<"$TESTS"
read -r -a servers <<<"$SERVERS"
read -r -a sessiond_extra <<<"${SESSIOND_ARGS:-}"
read -r -a redis_extra <<<"${REDIS_ARGS:-}"

die() {
    printf 'callgrind.sh: %s\n' "$*" >&2
    exit 1
}

for var in N READY_TIMEOUT; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, not '${!var}'"
done
for server in "${servers[@]}"; do
    [[ $server == sessiond || $server == redis ]] || die "unknown server '$server' in SERVERS"
done
command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Servers run here, so that whatever files they write go away with it.
workdir=$(mktemp -d "${TMPDIR:-/tmp}/callgrind.XXXXXX")
server_pid=
drain_pid=

# Stops a server left running by a failure, and removes the work files.
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints a command line, quoted so that it can be pasted into a shell.
show() {
    local quoted
    printf -v quoted ' %q' "$@"
    printf '+%s\n' "$quoted"
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
    local port
    while :; do
        # Below Linux's ephemeral range (32768 and up), where a benchmark
        # client's socket left in TIME_WAIT cannot hold the port.
        port=$((20000 + RANDOM % 12000))
        # A connection attempt fails when nothing listens there.
        if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return
        fi
    done
}

# start_server LOG COMMAND...: starts COMMAND in $workdir with its output
# going to LOG and returns once it has printed "Ready to accept connections".
# Sets server_pid and drain_pid.
start_server() {
    local log=$1 fd line
    shift
    show "$@"
    exec {fd}< <(cd "$workdir" && exec "$@" 2>&1)
    server_pid=$!
    while IFS= read -r -t "$READY_TIMEOUT" -u "$fd" line; do
        printf '%s\n' "$line" >>"$log"
        if [[ $line == *"Ready to accept connections"* ]]; then
            # Keep draining its output; this ends when the server exits.
            cat <&"$fd" >>"$log" &
            drain_pid=$!
            exec {fd}<&-
            return
        fi
    done
    printf 'callgrind.sh: server exited or was silent for %ss before it was ready; its log:\n' \
        "$READY_TIMEOUT" >&2
    cat "$log" >&2
    exit 1
}

# stop_server LOG: stops the server with SIGTERM and returns once it has
# exited (and callgrind has written its counts): that is when its output ends.
# Fails with the end of LOG if the server is already gone.
stop_server() {
    if ! kill "$server_pid" 2>/dev/null; then
        tail -n 20 "$1" >&2
        die "the server died during the run; the end of its log is above"
    fi
    wait "$drain_pid"
    server_pid=
}

# Prints the total instruction count (Ir) of a callgrind output file.
total() {
    awk '$1 == "totals:" { print $2; found = 1 } END { exit !found }' "$1" ||
        die "no totals in $1 (did the server exit cleanly?)"
}

# measure NAME TEST COMMAND...: measures the instructions per request of TEST
# for the server started by COMMAND (which gets --port PORT appended) and
# stores them in per_request[NAME|TEST].
measure() {
    local name=$1 test=$2 port start seconds loaded idle
    shift 2
    local out=$workdir/$name-$test

    port=$(free_port)
    start_server "$out.loaded.log" valgrind --tool=callgrind \
        --callgrind-out-file="$out.loaded.callgrind" "$@" --port "$port"
    local -a bench=(redis-benchmark -h 127.0.0.1 -p "$port" -n "$N" -t "$test" -q)
    show "${bench[@]}"
    start=$EPOCHREALTIME
    # -q still prints progress, separated by carriage returns: keep the result.
    "${bench[@]}" | tr '\r' '\n' | awk '/requests per second/'
    seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
    stop_server "$out.loaded.log"

    port=$(free_port)
    start_server "$out.idle.log" valgrind --tool=callgrind \
        --callgrind-out-file="$out.idle.callgrind" "$@" --port "$port"
    printf '+ idle for %ss\n' "$seconds"
    sleep "$seconds"
    stop_server "$out.idle.log"

    loaded=$(total "$out.loaded.callgrind")
    idle=$(total "$out.idle.callgrind")
    printf '%s %s: loaded %s, idle %s instructions\n' "$name" "$test" "$loaded" "$idle"
    per_request[$name|$test]=$(((loaded - idle) / N))
}

if [[ " ${servers[*]} " == *" sessiond "* ]]; then
    binary=${SESSIOND_BIN:-}
    if [[ -z $binary ]]; then
        show cargo build --release
        (cd "$root" && cargo build --release)
        binary=${CARGO_TARGET_DIR:-$root/target}/release/sessiond
    fi
    path=$(command -v "$binary") || die "no sessiond binary at $binary"
    # Absolute, as the servers run in $workdir; symlinks kept, as a
    # multi-call binary (Debian's redis-server) goes by the name it was
    # called with.
    sessiond=$(realpath -s "$path")
fi

declare -A per_request=() # "server|test" -> instructions per request
for server in "${servers[@]}"; do
    for test in "${tests[@]}"; do
        case $server in
            sessiond) measure sessiond "$test" "$sessiond" --appendonly no "${sessiond_extra[@]}" ;;
            redis) measure redis "$test" redis-server --save "" --appendonly no "${redis_extra[@]}" ;;
        esac
    done
done

echo
printf 'instructions per request (callgrind Ir), -n %d, commit %s, %s\n' "$N" \
    "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)" \
    "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf '%-10s' test
printf ' %12s' "${servers[@]}"
echo
for test in "${tests[@]}"; do
    printf '%-10s' "$test"
    for server in "${servers[@]}"; do
        printf ' %12s' "${per_request[$server|$test]}"
    done
    echo
done

#!/usr/bin/env bash
# Side-by-side load benchmark: sessiond against redis-server, driven by
# redis-benchmark with identical flags (DESIGN.md §3, "Throughput").
#
# Builds sessiond (`cargo build --release` in the repo root), starts it and
# redis-server on free ports, and runs every test against both for ROUNDS
# rounds, sessiond first in odd rounds and redis first in even ones. Prints
# each run, then a table of the per-test medians and their ratio
# (sessiond / redis), and each server's CPU time per request (user + system,
# all its threads, from /proc/PID/stat), which moves less than requests/s
# when the benchmark client and the server share the cores. The machine is
# shared and noisy: compare ratios from one run, never absolute numbers from
# different runs.
#
# Environment:
#   N=200000        requests per redis-benchmark run (-n)
#   ROUNDS=3        rounds
#   TESTS=...       the tests, ';'- or newline-separated; each is the
#                   redis-benchmark flags of one test, split on whitespace,
#                   e.g. TESTS='-t hset -c 50; -c 50 expire key:__rand_int__ 100'.
#                   Every run also gets -h, -p, -n $N, -r 100000 and --csv.
#                   An entry 'A | B' runs flags A against sessiond and B
#                   against redis-server, to compare a SESSION.* command with
#                   its plain-Redis equivalent, e.g.
#                   '-c 50 SESSION.CREATE u__rand_int__ DATA k v | -c 50 HSET sess:__rand_int__ k v'.
#   PREPARE=        'SESSIOND COMMAND | REDIS COMMAND', run once with redis-cli
#                   after the servers start; sessiond's reply replaces
#                   __PREPARED__ in the tests (e.g. a session id to GET).
#   SESSIOND_ARGS=  extra sessiond arguments (split on whitespace),
#                   e.g. '--appendonly yes --appendfsync everysec'
#   REDIS_ARGS=     extra redis-server arguments, e.g. '--appendonly yes'
#   SESSIOND_BIN=   run this instead of building target/release/sessiond
#   REFERENCE=redis the server to compare against: 'redis' (redis-server with
#                   REDIS_ARGS), or 'sessiond' (a second sessiond with
#                   REFERENCE_ARGS, to measure a setting of sessiond's own, e.g.
#                   REFERENCE=sessiond REFERENCE_ARGS='--metrics-port 0' gives
#                   the ratio of metrics on to metrics off)
#   BENCH_TIMEOUT=600   seconds before a redis-benchmark run counts as hung
#   READY_TIMEOUT=60    seconds a server may stay silent before it is ready
set -euo pipefail
export LC_ALL=C # "." as the decimal point for printf, sort and awk

readonly DEFAULT_TESTS='-t ping_mbulk -c 50
-t set -c 50
-t get -c 50
-t set -c 50 -P 16
-t get -c 50 -P 16
-t get -c 1'

N=${N:-200000}
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-$DEFAULT_TESTS}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
READY_TIMEOUT=${READY_TIMEOUT:-60}
read -r -a sessiond_extra <<<"${SESSIOND_ARGS:-}"
read -r -a redis_extra <<<"${REDIS_ARGS:-}"
read -r -a reference_extra <<<"${REFERENCE_ARGS:-}"
REFERENCE=${REFERENCE:-redis}

die() {
    printf 'compare.sh: %s\n' "$*" >&2
    exit 1
}

for var in N ROUNDS BENCH_TIMEOUT READY_TIMEOUT; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, not '${!var}'"
done
[[ $REFERENCE == redis || $REFERENCE == sessiond ]] ||
    die "REFERENCE must be 'redis' or 'sessiond', not '$REFERENCE'"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
bench_pid=
declare -A commands=() # server name -> its command line, for the report
declare -A pid_of=()   # server name -> its process id
readonly ticks_per_second=$(getconf CLK_TCK)

# Stops a running benchmark and the servers (their log drainers end with
# them), and removes the logs.
cleanup() {
    local pid
    for pid in $bench_pid "${pid_of[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
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

# Prints a TCP port on 127.0.0.1 that nothing listens on and that differs
# from the ports given as arguments.
free_port() {
    local port taken
    while :; do
        # Below Linux's ephemeral range (32768 and up), where a benchmark
        # client's socket left in TIME_WAIT cannot hold the port.
        port=$((20000 + RANDOM % 12000))
        for taken in "$@"; do
            [[ $port == "$taken" ]] && continue 2
        done
        # A connection attempt fails when nothing listens there.
        if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return
        fi
    done
}

# start_server NAME COMMAND...: starts COMMAND in $workdir (so that an AOF
# goes there), its output going to $workdir/NAME.log, and returns once it has
# printed "Ready to accept connections". Fails with the log if it exits or
# stays silent for READY_TIMEOUT seconds first.
start_server() {
    local name=$1 log=$workdir/$1.log fd line
    shift
    commands[$name]=$(show "$@")
    printf '%s\n' "${commands[$name]}"
    exec {fd}< <(cd "$workdir" && exec "$@" 2>&1)
    pid_of[$name]=$!
    while IFS= read -r -t "$READY_TIMEOUT" -u "$fd" line; do
        printf '%s\n' "$line" >>"$log"
        if [[ $line == *"Ready to accept connections"* ]]; then
            # Keep draining its output so that it never blocks on a full pipe.
            cat <&"$fd" >>"$log" &
            exec {fd}<&-
            return
        fi
    done
    printf 'compare.sh: %s exited or was silent for %ss before it was ready; its log:\n' \
        "$name" "$READY_TIMEOUT" >&2
    cat "$log" >&2
    exit 1
}

# flags_for NAME TEST: the part of TEST (see 'A | B' above) meant for NAME.
flags_for() {
    local flags=$2
    if [[ $flags == *' | '* ]]; then
        if [[ $1 == sessiond ]]; then flags=${flags%% | *}; else flags=${flags#* | }; fi
    fi
    printf '%s\n' "${flags//__PREPARED__/$prepared}"
}

# Prints the CPU time (user + system, clock ticks) process $1 has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# run_test NAME PORT FLAGS: runs one redis-benchmark test against the server
# NAME on PORT and sets rps to its requests per second and cpu_us to the
# server's CPU microseconds per request. Fails, showing the
# offending lines and the end of the server's log, when redis-benchmark
# reports an error, fails, hangs, or prints no result.
run_test() {
    local name=$1 port=$2 out=$workdir/benchmark.out status=0 errors
    local -a flags cmd
    read -r -a flags <<<"$3"
    cmd=(redis-benchmark -h 127.0.0.1 -p "$port" -n "$N" -r 100000 --csv "${flags[@]}")
    show "${cmd[@]}"
    local ticks_before
    ticks_before=$(cpu_ticks "${pid_of[$name]}")
    # In the background, so that a signal to this script is handled at once.
    timeout "$BENCH_TIMEOUT" "${cmd[@]}" >"$out" 2>&1 &
    bench_pid=$!
    wait "$bench_pid" || status=$?
    bench_pid=
    cpu_us=$(awk -v t=$(($(cpu_ticks "${pid_of[$name]}") - ticks_before)) \
        -v hz="$ticks_per_second" -v n="$N" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
    errors=$(grep -Ei 'ERR|error' "$out" || true)
    # CSV rows after the header: "TEST","RPS",...
    rps=$(awk -F'","' 'NR > 1 && /^"/ { print $2 }' "$out")
    (($(wc -l <<<"$rps") == 1)) || die "'$3' ran several tests; give each its own TESTS entry"
    if [[ -n $errors || $status != 0 || ! $rps =~ ^[0-9.]+$ ]]; then
        printf 'compare.sh: redis-benchmark against %s failed (exit status %s%s):\n' \
            "$name" "$status" "$([[ $status == 124 ]] && echo ", timed out after ${BENCH_TIMEOUT}s")" >&2
        if [[ -n $errors ]]; then printf '%s\n' "$errors" >&2; else cat "$out" >&2; fi
        printf -- '--- last lines of the %s log:\n' "$name" >&2
        tail -n 20 "$workdir/$name.log" >&2
        exit 1
    fi
}

# Prints the median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The tests, one per element, blank entries dropped.
tests=()
while IFS= read -r entry; do
    read -r -a words <<<"$entry"
    ((${#words[@]})) && tests+=("${words[*]}")
done < <(tr ';' '\n' <<<"$TESTS")
((${#tests[@]})) || die "TESTS names no test"

binary=${SESSIOND_BIN:-}
if [[ -z $binary ]]; then
    show cargo build --release
    (cd "$root" && cargo build --release)
    binary=${CARGO_TARGET_DIR:-$root/target}/release/sessiond
fi
path=$(command -v "$binary") || die "no sessiond binary at $binary"
# Absolute, as the servers run in $workdir; symlinks kept, as a multi-call
# binary (Debian's redis-server) goes by the name it was called with.
sessiond=$(realpath -s "$path")

sessiond_port=$(free_port)
redis_port=$(free_port "$sessiond_port")
start_server sessiond "$sessiond" --port "$sessiond_port" --appendonly no "${sessiond_extra[@]}"
if [[ $REFERENCE == redis ]]; then
    start_server redis redis-server --port "$redis_port" --save "" --appendonly no "${redis_extra[@]}"
else
    # Under the name 'redis', so that it takes the reference's part of every test.
    start_server redis "$sessiond" --port "$redis_port" --appendonly no "${reference_extra[@]}"
fi

declare -A port=([sessiond]=$sessiond_port [redis]=$redis_port)
prepared=
if [[ -n ${PREPARE:-} ]]; then
    read -r -a prepare_cmd <<<"${PREPARE%% | *}"
    show redis-cli -p "$sessiond_port" "${prepare_cmd[@]}"
    prepared=$(redis-cli -p "$sessiond_port" "${prepare_cmd[@]}")
    read -r -a prepare_cmd <<<"${PREPARE#* | }"
    show redis-cli -p "$redis_port" "${prepare_cmd[@]}"
    redis-cli -p "$redis_port" "${prepare_cmd[@]}" >/dev/null
fi
declare -A results=() # "server|test index" -> the rps of each round
declare -A cpu=()     # "server|test index" -> the CPU us per request of each round
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(sessiond redis); else order=(redis sessiond); fi
    for i in "${!tests[@]}"; do
        for server in "${order[@]}"; do
            run_test "$server" "${port[$server]}" "$(flags_for "$server" "${tests[$i]}")"
            printf 'round %d  %-8s  %-24s %12s rps %8s us/req CPU\n' "$round" "$server" \
                "${tests[$i]}" "$rps" "$cpu_us"
            results["$server|$i"]+=" $rps"
            cpu["$server|$i"]+=" $cpu_us"
        done
    done
done

commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
width=4
for test in "${tests[@]}"; do
    ((${#test} > width)) && width=${#test}
done
echo
printf 'sessiond vs %s: median requests/s and server CPU per request of %d rounds, -n %d -r 100000\n' \
    "$([[ $REFERENCE == redis ]] && echo redis-server || echo 'a second sessiond')" "$ROUNDS" "$N"
printf 'commit %s, %s, %s, %s cores\n' "$commit" "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    "$(redis-server --version | cut -d' ' -f1-3)" "$(nproc)"
printf 'sessiond:  %s\nreference: %s\n\n' "${commands[sessiond]#+ }" "${commands[redis]#+ }"
reference=$([[ $REFERENCE == redis ]] && echo redis || echo ref)
printf '| %-*s | %12s | %12s | %5s | %14s | %14s |\n' "$width" test 'sessiond rps' \
    "$reference rps" ratio 'sessiond CPU' "$reference CPU"
printf '|%s|-------------:|-------------:|------:|---------------:|---------------:|\n' \
    "$(printf '%*s' $((width + 2)) '' | tr ' ' -)"
for i in "${!tests[@]}"; do
    # Word splitting of the stored lists is intended: one rps per round.
    # shellcheck disable=SC2086
    s=$(median ${results["sessiond|$i"]})
    # shellcheck disable=SC2086
    r=$(median ${results["redis|$i"]})
    # shellcheck disable=SC2086
    s_cpu=$(median ${cpu["sessiond|$i"]})
    # shellcheck disable=SC2086
    r_cpu=$(median ${cpu["redis|$i"]})
    printf '| %-*s | %12.0f | %12.0f | %5.2f | %8.2f us/req | %8.2f us/req |\n' "$width" \
        "${tests[$i]}" "$s" "$r" "$(awk -v s="$s" -v r="$r" 'BEGIN { print s / r }')" \
        "$s_cpu" "$r_cpu"
done

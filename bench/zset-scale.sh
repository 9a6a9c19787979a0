#!/usr/bin/env bash
# zset-scale.sh - issue 17's scale bar for sorted sets: one sorted set of N members (10 M
# by default) loaded by a pipelined ZADD loader (redis-cli --pipe, 100 members a ZADD,
# scores 0..N-1 in a scrambled order, members m:<score as 12 digits>) into shale-server
# and into redis-server (no persistence) one after the other, then:
#   - RSS of each server after the load (and its peak: VmHWM)
#   - ZSCORE of a random member and ZRANGEBYSCORE <random> +inf LIMIT 0 10: p50/p99/max
#     latency from redis-benchmark (one client, so it is the command's own time)
#   - ZCARD on the big set and on a 1-member set: the same time (O(1))
#
#   bench/zset-scale.sh [-n MEMBERS] [-r REQUESTS] [--shale-args "..."] [--shale-only]
#
# Bars (issue 17): shale's RSS < 256 MiB; ZSCORE and ZRANGEBYSCORE LIMIT 0 10 p99 < 1 ms.
# The machine may be shared: the figures are one run's.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
server=$build/shale-server
members=10000000
requests=20000
shale_args=""
with_redis=1
while [ $# -gt 0 ]; do
    case "$1" in
    -n) members=$2; shift ;;
    -r) requests=$2; shift ;;
    --shale-args) shale_args=$2; shift ;;
    --shale-only) with_redis=0 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "zset-scale: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
for tool in redis-server redis-benchmark redis-cli python3; do
    command -v $tool >/dev/null || { echo "zset-scale: $tool not found" >&2; exit 2; }
done
[ -x "$server" ] || make -C "$top" all >/dev/null || exit 2

work=$(mktemp -d "${TMPDIR:-/tmp}/shale-zset-scale.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ping() { for _ in $(seq 1 200); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done; return 1; }
kib() { awk '/^'"$2"':/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Waits (at most 10 minutes) until the server uses under 10 % of a core: the background
# compaction a load leaves behind is done, and the reads are measured alone.
settle() {
    local pid=$1 a b hz
    hz=$(getconf CLK_TCK)
    for _ in $(seq 1 300); do
        a=$(cpu_ticks "$pid")
        sleep 2
        b=$(cpu_ticks "$pid")
        [ $((b - a)) -lt $((hz / 5)) ] && return 0
    done
}

# The ZADD stream: RESP on stdout, 100 members a command; member i of the load gets
# score (i * 7919) mod N, a permutation of 0..N-1 since 7919 is a prime not dividing N
# (the script checks), so the keys arrive in no order.
gen() {
    python3 - "$1" <<'EOF'
import sys
n = int(sys.argv[1])
step = 7919
assert n % step != 0
out = sys.stdout.buffer
batch = 100
for start in range(0, n, batch):
    k = min(batch, n - start)
    parts = [b"*%d\r\n$4\r\nZADD\r\n$4\r\nbigz\r\n" % (2 + 2 * k)]
    for i in range(start, start + k):
        s = b"%d" % (i * step % n)
        m = b"m:%012d" % (i * step % n)
        parts.append(b"$%d\r\n%s\r\n$14\r\n%s\r\n" % (len(s), s, m))
    out.write(b"".join(parts))
EOF
}

measure() { # name port pid
    local name=$1 p=$2 pid=$3 t0 t1
    redis-cli -p "$p" zadd one 1 a >/dev/null
    t0=$(date +%s.%N)
    gen "$members" | redis-cli -p "$p" --pipe >"$work/$name.pipe" 2>&1
    t1=$(date +%s.%N)
    local card rss hwm
    card=$(redis-cli -p "$p" zcard bigz)
    rss=$(kib "$pid" VmRSS)
    hwm=$(kib "$pid" VmHWM)
    printf '%-6s load: %s members in %.1f s (%.0f members/s); ZCARD %s; RSS %.1f MiB (peak %.1f MiB)\n' \
        "$name" "$members" "$(echo "$t1 - $t0" | bc)" "$(echo "$members / ($t1 - $t0)" | bc -l)" \
        "$card" "$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)"
    grep -E "errors|replies" "$work/$name.pipe" | tr '\n' ' '
    echo
    local s0 s1
    s0=$(date +%s)
    settle "$pid"
    s1=$(date +%s)
    echo "$name   idle $((s1 - s0)) s after the load; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    # one client: each request's own latency (ms), from redis-benchmark's CSV
    # and the server's own view (INFO latencystats: the command's execution, without the
    # network and the client, which a shared machine's scheduling inflates)
    local cmd csv srv
    for cmd in "zscore bigz m:__rand_int__" \
        "zrangebyscore bigz __rand_int__ +inf LIMIT 0 10" \
        "zcard bigz" "zcard one"; do
        redis-cli -p "$p" config resetstat >/dev/null
        csv=$(redis-benchmark -p "$p" -c 1 -n "$requests" -r "$members" --csv $cmd 2>/dev/null |
            tail -n 1)
        IFS=, read -r _ rps avg _ p50 _ p99 max <<<"$csv"
        srv=$(redis-cli -p "$p" info latencystats | tr -d '\r' |
            awk -F: '$1 == "latency_percentiles_usec_'"${cmd%% *}"'" { print $2 }')
        printf '%-6s %-48s %8.0f ops/s  p50 %s  p99 %s  max %s ms; in the server (us): %s\n' \
            "$name" "$cmd" "${rps//\"/}" "${p50//\"/}" "${p99//\"/}" "${max//\"/}" "$srv"
    done
    rss=$(kib "$pid" VmRSS)
    hwm=$(kib "$pid" VmHWM)
    printf '%-6s after the reads: RSS %.1f MiB (peak %.1f MiB)\n' "$name" \
        "$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)"
}

sp=$(free_port)
# shellcheck disable=SC2086
"$server" --port "$sp" --dir "$work/shale" --sync-writes no $shale_args >"$work/shale.log" 2>&1 &
spid=$!
pids+=($spid)
wait_ping "$sp" || { echo "zset-scale: shale-server did not start" >&2; cat "$work/shale.log" >&2; exit 1; }
measure shale "$sp" "$spid"
du -sh "$work/shale" | awk '{ print "shale  store on disk: " $1 }'
kill "$spid"
wait "$spid" 2>/dev/null

[ "$with_redis" = 1 ] || exit 0
rp=$(free_port)
redis-server --port "$rp" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
rpid=$!
pids+=($rpid)
wait_ping "$rp" || { echo "zset-scale: redis-server did not start" >&2; exit 1; }
measure redis "$rp" "$rpid"
echo "(one run, $(nproc) cores$( [ -n "$shale_args" ] && echo ", shale-server $shale_args"); bars: shale RSS < 256 MiB, p99 < 1 ms)"

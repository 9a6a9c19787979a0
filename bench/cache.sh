#!/usr/bin/env bash
# cache.sh - the cache tier against Redis at the same memory cap (issue 8's bar): a
# cache-aside load (shale-bench --cache: scrambled zipfian keys, theta 0.99; 90 % GET,
# 10 % SET with a TTL; every GET miss followed by the SET that fills it) whose working
# set is 4x maxmemory, run the same way against redis-server and shale-server, both with
# maxmemory and maxmemory-policy allkeys-lru, one after the other in the same run.
# Each server gets a warm-up run (the cache fills and Redis starts evicting), then the
# measured run; the table gives hit rate, ops/s, p50/p99 and shale's ratios to Redis.
#
#   bench/cache.sh [--maxmemory=64mb] [--keys=250000] [--data-size=1000]
#                  [--warmup=1500000] [--requests=1000000] [--clients=25] [--quick]
#
# Redis runs as a cache runs (no persistence); shale with sync-writes no (its log is
# still written; a kill -9 loses nothing handed to the kernel).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
maxmemory=64mb
keys=250000
data=1000
warmup=1500000
requests=1000000
clients=25
for a in "$@"; do
    case "$a" in
    --maxmemory=*) maxmemory=${a#*=} ;;
    --keys=*) keys=${a#*=} ;;
    --data-size=*) data=${a#*=} ;;
    --warmup=*) warmup=${a#*=} ;;
    --requests=*) requests=${a#*=} ;;
    --clients=*) clients=${a#*=} ;;
    --quick) warmup=300000 requests=200000 ;;
    -h | --help)
        sed -n '2,15p' "$0"
        exit 0
        ;;
    *)
        echo "cache.sh: unknown argument $a" >&2
        exit 2
        ;;
    esac
done
for tool in redis-server redis-cli "$build/shale-server" "$build/shale-bench"; do
    command -v "$tool" >/dev/null || [ -x "$tool" ] || { echo "cache.sh: $tool missing (make)" >&2; exit 1; }
done
out=$(mktemp -d)
port_redis=7391
port_shale=7392
load="--cache --threads=1 --clients=$clients --keyspace=$keys --data-size=$data"

stop() {
    redis-cli -p "$port_redis" shutdown nosave >/dev/null 2>&1
    redis-cli -p "$port_shale" shutdown >/dev/null 2>&1
    sleep 0.5
}
trap stop EXIT
wait_up() {
    for _ in $(seq 100); do
        redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "cache.sh: server on $1 did not start" >&2
    exit 1
}

run() { # name port
    "$build/shale-bench" --server=127.0.0.1:"$2" $load --requests="$warmup" >"$out/$1.warmup" || exit 1
    "$build/shale-bench" --server=127.0.0.1:"$2" $load --requests="$requests" | tee "$out/$1.run"
    redis-cli -p "$2" info memory | tr -d '\r' | grep -E '^(used_memory|used_disk|maxmemory):' >"$out/$1.mem"
    redis-cli -p "$2" info stats | tr -d '\r' | grep -E '^evicted_keys:' >>"$out/$1.mem"
}

echo "cache-aside, working set $keys keys x $data B, maxmemory $maxmemory allkeys-lru, $clients clients"
redis-server --port "$port_redis" --save "" --appendonly no --maxmemory "$maxmemory" \
    --maxmemory-policy allkeys-lru --dir "$out" --daemonize yes --logfile "$out/redis.log"
wait_up "$port_redis"
echo "== redis-server"
run redis "$port_redis"
redis-cli -p "$port_redis" shutdown nosave >/dev/null 2>&1

"$build/shale-server" --port "$port_shale" --dir "$out/shale" --maxmemory "$maxmemory" \
    --maxmemory-policy allkeys-lru --sync-writes no 2>"$out/shale.log" &
wait_up "$port_shale"
echo "== shale-server"
run shale "$port_shale"
redis-cli -p "$port_shale" shutdown >/dev/null 2>&1

field() { # file name -> the number after "name "
    sed -n "s/.*$2 \([0-9.]*\).*/\1/p" "$1"
}
hr=$(field "$out/redis.run" "hit rate") hs=$(field "$out/shale.run" "hit rate")
or=$(sed -n 's/.* s: \([0-9]*\) ops\/s.*/\1/p' "$out/redis.run")
os=$(sed -n 's/.* s: \([0-9]*\) ops\/s.*/\1/p' "$out/shale.run")
pr=$(field "$out/redis.run" "p99") ps=$(field "$out/shale.run" "p99")
p5r=$(field "$out/redis.run" "p50") p5s=$(field "$out/shale.run" "p50")
echo
echo "| server | hit rate | ops/s | p50 ms | p99 ms | memory and disk at the end |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
echo "| redis-server | $hr | $or | $p5r | $pr | $(tr '\n' ' ' <"$out/redis.mem") |"
echo "| shale-server | $hs | $os | $p5s | $ps | $(tr '\n' ' ' <"$out/shale.mem") |"
awk -v hr="$hr" -v hs="$hs" -v or="$or" -v os="$os" -v pr="$pr" -v ps="$ps" 'BEGIN {
    printf "shale / redis: hit rate %+.4f (bar >= 0), ops/s %.2fx (bar >= 0.8), p99 %.2fx (bar <= 2)\n",
        hs - hr, os / or, ps / pr }'
echo "raw output: $out"

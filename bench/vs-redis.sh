#!/usr/bin/env bash
# vs-redis.sh - the server set of ../shared/BENCH.md: redis-benchmark against
# redis-server (no persistence, and AOF everysec) and shale-server (sync-writes no and
# yes), each load run on the four servers one after the other in the same run, and one
# table of ops/s, p50/p99 (ms, from --csv) and ratios against Redis with AOF everysec.
#
#   bench/vs-redis.sh [--quick] [--only=REGEX] [-n N] [--io-threads=N] [--tsv=FILE]
#
# --quick runs 100000 requests per load instead of 400000 (a smoke run). --only keeps
# the loads whose name matches REGEX (e.g. 'P16', 'pub'). Raw CSV is kept in the results
# directory printed at the end (--only=script: the script loads alone); --tsv appends machine-readable rows for bench/scorecard.sh.
# The PUBLISH loads (pub-*) also report messages delivered to subscribers per second
# (bench/pubsub_count.py), with the p50 column giving messages received/expected.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
server=$build/shale-server
n=400000
only=""
io_threads=""
tsv=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) n=100000 ;;
    --only=*) only=${1#--only=} ;;
    --io-threads=*) io_threads=${1#--io-threads=} ;;
    --tsv=*) tsv=${1#--tsv=} ;;
    -n)
        n=$2
        shift
        ;;
    -h | --help)
        sed -n '2,14p' "$0"
        exit 0
        ;;
    *)
        echo "vs-redis: unknown argument $1" >&2
        exit 2
        ;;
    esac
    shift
done
for tool in redis-server redis-benchmark redis-cli; do
    command -v $tool >/dev/null || {
        echo "vs-redis: $tool not found (Debian packages redis-server, redis-tools)" >&2
        exit 2
    }
done
[ -x "$server" ] || make -C "$top" all >/dev/null || exit 2
ulimit -n 65536 2>/dev/null || ulimit -n 4096

work=$(mktemp -d "${TMPDIR:-/tmp}/shale-vs-redis.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ping() { for _ in $(seq 1 200); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done; return 1; }

# name port: four servers, started once, idle while another is measured
names=(redis redis-aof shale-no shale-yes)
declare -A port
for s in "${names[@]}"; do port[$s]=$(free_port); done
mkdir -p "$work/redis" "$work/redis-aof"
redis-server --port "${port[redis]}" --save "" --appendonly no --dir "$work/redis" \
    --maxclients 10000 >"$work/redis.log" 2>&1 &
pids+=($!)
redis-server --port "${port[redis-aof]}" --save "" --appendonly yes --appendfsync everysec \
    --dir "$work/redis-aof" --maxclients 10000 >"$work/redis-aof.log" 2>&1 &
pids+=($!)
extra=()
[ -n "$io_threads" ] && extra=(--io-threads "$io_threads")
"$server" --port "${port[shale-no]}" --dir "$work/shale-no" --sync-writes no "${extra[@]}" \
    >"$work/shale-no.log" 2>&1 &
pids+=($!)
"$server" --port "${port[shale-yes]}" --dir "$work/shale-yes" --sync-writes yes "${extra[@]}" \
    >"$work/shale-yes.log" 2>&1 &
pids+=($!)
for s in "${names[@]}"; do
    wait_ping "${port[$s]}" || {
        echo "vs-redis: $s did not start" >&2
        cat "$work/$s.log" >&2
        exit 1
    }
done

# load name | redis-benchmark arguments
loads=(
    "c50-P1-d100|-c 50 -P 1 -d 100 -t set,get,incr,hset"
    "c50-P16-d100|-c 50 -P 16 -d 100 -t set,get,incr,hset"
    "c50-P1-d1024|-c 50 -P 1 -d 1024 -t set,get"
    "c1000-P1-d100|-c 1000 -P 1 -d 100 -t set,get"
    # issue 17's collection loads (lists, sets, sorted sets)
    "c50-P1-types|-c 50 -P 1 -d 100 -t lpush,rpush,lpop,rpop,sadd,spop,zadd,zpopmin,lrange_100,lrange_600"
    "c50-P16-types|-c 50 -P 16 -d 100 -t lpush,rpush,lpop,rpop,sadd,spop,zadd,zpopmin,lrange_100,lrange_600"
)

# results[load/test/server] = "rps p50 p99"
declare -A res
tests_of=()
for l in "${loads[@]}"; do
    name=${l%%|*}
    args=${l#*|}
    [ -n "$only" ] && ! [[ $name =~ $only ]] && continue
    for s in "${names[@]}"; do
        out="$work/$name.$s.csv"
        # shellcheck disable=SC2086
        redis-benchmark -p "${port[$s]}" -n "$n" -r 1000000 $args --csv >"$out" 2>/dev/null
        while IFS=, read -r t rps avg min p50 p95 p99 max; do
            t=${t//\"/}
            [ "$t" = test ] && continue
            res[$name/$t/$s]="${rps//\"/} ${p50//\"/} ${p99//\"/}"
            [ -n "$tsv" ] && printf 'server\t%s\t%s\t%s\t%s\t%s\n' "$name/$t" "$s" \
                "${rps//\"/}" "${p50//\"/}" "${p99//\"/}" >>"$tsv"
            [[ " ${tests_of[*]} " == *" $name/$t "* ]] || tests_of+=("$name/$t")
        done <"$out"
    done
done

# Script loads (issue 19). script-evalsha5: EVALSHA of a script doing five commands on its
# two keys (INCR, GET, SET, EXPIRE, GET), loaded first on each server with SCRIPT LOAD;
# script-load: SCRIPT LOAD of a one-line script, -n 100000 as the issue states it.
script5="redis.call('incr',KEYS[1]) redis.call('get',KEYS[1]) redis.call('set',KEYS[2],ARGV[1]) redis.call('expire',KEYS[2],100) return redis.call('get',KEYS[2])"
script_load_body="redis.call('set','foo','bar')"
script_value=$(printf 'v%.0s' $(seq 1 100)) # 100 bytes
for name in script-evalsha5-c50 script-load-c50; do
    [ -n "$only" ] && ! [[ $name =~ $only ]] && continue
    for s in "${names[@]}"; do
        out="$work/$name.$s.csv"
        if [ "$name" = script-load-c50 ]; then
            redis-benchmark -p "${port[$s]}" -n 100000 -c 50 --csv script load \
                "$script_load_body" >"$out" 2>/dev/null
        else
            sha=$(redis-cli -p "${port[$s]}" script load "$script5")
            redis-benchmark -p "${port[$s]}" -n "$n" -r 1000000 -c 50 --csv evalsha "$sha" 2 \
                "k:__rand_int__" "s:__rand_int__" "$script_value" >"$out" 2>/dev/null
        fi
        # the test's name (the command line) may hold commas: the last seven fields
        while IFS=, read -r -a f; do
            k=${#f[@]}
            [ "${f[0]}" = '"test"' ] && continue
            rps=${f[k - 7]} p50=${f[k - 4]} p99=${f[k - 2]}
            res[$name/script/$s]="${rps//\"/} ${p50//\"/} ${p99//\"/}"
            [ -n "$tsv" ] && printf 'server\t%s\t%s\t%s\t%s\t%s\n' "$name/script" "$s" \
                "${rps//\"/}" "${p50//\"/}" "${p99//\"/}" >>"$tsv"
            [[ " ${tests_of[*]} " == *" $name/script "* ]] || tests_of+=("$name/script")
        done <"$out"
    done
done

# PUBLISH loads: name | subscriber connections | channels | redis-benchmark arguments.
# bench/pubsub_count.py subscribes first and counts the messages delivered (messages/s from
# the first to the last): the row "<load>/delivered" (with messages got/expected), next to
# the PUBLISH replies' rate. One channel: every message reaches every subscriber; 1000
# channels (__rand_int__ with -r 1000): each reaches one.
pub_loads=(
    "pub-1ch-50sub|50|1|-c 1 -P 16"
    "pub-1000ch-50sub|50|1000|-c 1 -P 16"
)
pub_msg=$(printf 'm%.0s' $(seq 1 32)) # 32 bytes
for l in "${pub_loads[@]}"; do
    IFS='|' read -r name nsubs nch args <<<"$l"
    [ -n "$only" ] && ! [[ $name =~ $only ]] && continue
    channel=ch
    [ "$nch" -gt 1 ] && channel=ch:__rand_int__
    fanout=$nsubs
    [ "$nch" -gt 1 ] && fanout=1
    for s in "${names[@]}"; do
        out="$work/$name.$s.csv"
        count="$work/$name.$s.count"
        python3 "$here/pubsub_count.py" "${port[$s]}" "$nsubs" "$nch" ${#pub_msg} >"$count" &
        counter=$!
        for _ in $(seq 1 600); do grep -q ready "$count" 2>/dev/null && break; sleep 0.05; done
        # shellcheck disable=SC2086
        redis-benchmark -p "${port[$s]}" -n "$n" -r "$nch" $args --csv publish "$channel" \
            "$pub_msg" >"$out" 2>/dev/null
        wait "$counter"
        while IFS=, read -r t rps avg min p50 p95 p99 max; do
            t=${t//\"/}
            [ "$t" = test ] && continue
            res[$name/PUBLISH/$s]="${rps//\"/} ${p50//\"/} ${p99//\"/}"
        done <"$out"
        read -r msgs secs rate < <(tail -1 "$count")
        res[$name/delivered/$s]="$rate $msgs/$((n * fanout)) -"
        for t in PUBLISH delivered; do
            [ -n "$tsv" ] && printf 'server\t%s\t%s\t%s\n' "$name/$t" "$s" "${res[$name/$t/$s]// /\t}" >>"$tsv"
            [[ " ${tests_of[*]} " == *" $name/$t "* ]] || tests_of+=("$name/$t")
        done
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '%-28s %22s %22s %30s %30s\n' "load/test" "redis (no persistence)" "redis AOF everysec" \
    "shale sync-writes no (x AOF)" "shale sync-writes yes (x AOF)"
printf '%-28s %22s %22s %30s %30s\n' "" "ops/s p50 p99" "ops/s p50 p99" "ops/s p50 p99 ratio" \
    "ops/s p50 p99 ratio"
for lt in "${tests_of[@]}"; do
    read -r r1 a1 b1 <<<"${res[$lt/redis]:-0 - -}"
    read -r r2 a2 b2 <<<"${res[$lt/redis-aof]:-0 - -}"
    read -r r3 a3 b3 <<<"${res[$lt/shale-no]:-0 - -}"
    read -r r4 a4 b4 <<<"${res[$lt/shale-yes]:-0 - -}"
    printf '%-28s %22s %22s %30s %30s\n' "$lt" "$(printf '%.0f %s %s' "$r1" "$a1" "$b1")" \
        "$(printf '%.0f %s %s' "$r2" "$a2" "$b2")" \
        "$(printf '%.0f %s %s %sx' "$r3" "$a3" "$b3" "$(ratio "$r3" "$r2")")" \
        "$(printf '%.0f %s %s %sx' "$r4" "$a4" "$b4" "$(ratio "$r4" "$r2")")"
done
echo "(ms for p50/p99; n=$n, -r 1000000; $(nproc) cores; raw CSV in $work)"

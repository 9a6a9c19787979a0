#!/usr/bin/env bash
# soak.sh - make soak SOAK_SECONDS=N: shale-server under mixed redis-benchmark load (set,
# get, incr, hset, 200-byte values through the value log, background GC every second,
# small memtables so flushes and compactions never stop), with the engine's kill -9
# driver running a round beside it every tenth pass; the server's RSS is sampled after
# every pass and must level off (its peak over the second half of the run at most 1.25x
# its peak over the first half: caches and memtables fill up to their budgets, then
# stop), INFO must show no background error, and every pass must finish without an
# error reply.
set -u
build=${SHALE_BUILD:-build}
seconds=${SOAK_SECONDS:-300}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/shale-server" --port "$port" --dir "$tmp/db" --sync-writes no --memtable-size 4mb --block-cache-size 32mb \
    --value-threshold 64 --vlog-file-size 8mb --vlog-gc-interval 1 >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
start=$(date +%s)
passes=0
first=0
max=0
max1=0 # peak RSS over the first half
max2=0 # and over the second
fail=0
while [ $(($(date +%s) - start)) -lt "$seconds" ]; do
    out=$(redis-benchmark -p "$port" -q -t set,get,incr,hset -r 200000 -d 200 -n 100000 -P 16 2>&1)
    if echo "$out" | grep -qi "error"; then
        echo "FAIL: an error during a pass: $out"
        fail=1
        break
    fi
    if [ $((passes % 10)) = 0 ]; then
        mkdir -p "$tmp/crash-$passes"
        "$build/tests/crash_engine" --rounds=1 --dir="$tmp/crash-$passes" >/dev/null ||
            { echo "FAIL: the crash driver beside the load"; fail=1; break; }
    fi
    passes=$((passes + 1))
    r=$(rss)
    [ "$passes" = 1 ] && first=$r
    [ "$r" -gt "$max" ] && max=$r
    if [ $(($(date +%s) - start)) -lt $((seconds / 2)) ]; then
        [ "$r" -gt "$max1" ] && max1=$r
    else
        [ "$r" -gt "$max2" ] && max2=$r
    fi
    errs=$(redis-cli -p "$port" info shale | awk -F: '/^background_errors:/ {print $2+0}')
    [ "${errs:-0}" = 0 ] || { echo "FAIL: background errors: $errs"; fail=1; break; }
done
segs=$(redis-cli -p "$port" info shale | awk -F: '/^vlog_segments:|^vlog_gc_runs:|^compaction_count:/ {printf "%s=%s ", $1, $2+0}')
echo "soak: ${seconds}s, $passes passes of 400000 requests; server RSS after the first pass ${first} kB, peak over the first half ${max1} kB, over the second ${max2} kB; $segs"
if [ "$fail" = 0 ] && [ "$max2" -gt $((max1 * 5 / 4)) ]; then
    echo "FAIL: RSS still growing: ${max1} kB in the first half, ${max2} kB in the second"
    fail=1
fi
[ "$fail" = 0 ] && echo "soak: no error"
exit $fail

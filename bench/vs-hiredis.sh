#!/usr/bin/env bash
# vs-hiredis.sh - the shale client library against hiredis on the same server in the same
# run: starts shale-server (sync-writes no, a fresh directory) on a free port, then runs
# the same load (set, get, hset, incr; random keys) through `shale-bench --server` and
# through `vs-hiredis` (hiredis), alternating, at pipeline 1 and 64; then the parse speed
# of both readers on one recorded reply stream. Prints ops/s, p50/p99/p99.9 and ratios.
#
#   bench/vs-hiredis.sh [--requests=N] [--clients=N] [--threads=N] [--server=HOST:PORT]
#
# --server uses a running server instead of starting shale-server (e.g. a redis-server).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
requests=400000
clients=50
threads=2
server=""
for a in "$@"; do
    case "$a" in
    --requests=*) requests=${a#*=} ;;
    --clients=*) clients=${a#*=} ;;
    --threads=*) threads=${a#*=} ;;
    --server=*) server=${a#*=} ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
    esac
done
[ -x "$build/vs-hiredis" ] && [ -x "$build/shale-bench" ] || { echo "vs-hiredis: run make first" >&2; exit 1; }
pid=
tmp=$(mktemp -d)
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
if [ -z "$server" ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$build/shale-server" --port "$port" --dir "$tmp/db" --sync-writes no >"$tmp/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    server=127.0.0.1:$port
fi
common="--server=$server --requests=$requests --clients=$clients --threads=$threads"
printf '%-9s %-6s %12s %12s %7s   %-26s %-26s\n' pipeline test shale-client hiredis ratio \
    "shale p50/p99/p99.9 ms" "hiredis p50/p99/p99.9 ms"
for p in 1 64; do
    "$build/shale-bench" $common --pipeline=$p >"$tmp/s$p" || exit 1
    "$build/vs-hiredis" $common --pipeline=$p >"$tmp/h$p" || exit 1
    for t in SET GET HSET INCR; do
        s=$(awk -v t=$t '$1 == t' "$tmp/s$p")
        h=$(awk -v t=$t '$1 == t' "$tmp/h$p")
        so=$(echo "$s" | awk '{print $2}')
        ho=$(echo "$h" | awk '{print $2}')
        printf '%-9s %-6s %12s %12s %7s   %-26s %-26s\n' "$p" "$t" "$so" "$ho" \
            "$(awk -v a="$so" -v b="$ho" 'BEGIN { printf "%.2f", a / b }')" \
            "$(echo "$s" | awk '{print $5 "/" $8 "/" $11}')" "$(echo "$h" | awk '{print $5 "/" $8 "/" $11}')"
    done
done
echo
"$build/vs-hiredis" --reader

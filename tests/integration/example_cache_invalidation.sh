#!/usr/bin/env bash
# example_cache_invalidation.sh - examples/cache_invalidation against a real shale-server
# (two io threads, so that the reader and the writer may sit on different event loops):
# a RESP3 reader caching keys locally while a writer changes them must never serve a
# value older than a write acknowledged before its last barrier (see the example), must
# have served hits from its cache and received invalidations. The same run against
# redis-server, when there is one, checks the example itself.
set -u
build=${SHALE_BUILD:-build}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null; rm -rf "$tmp"' EXIT
command -v redis-cli >/dev/null || { echo "skip: redis-cli missing"; exit 77; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 100); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return; sleep 0.05; done; }

check() { # $1: what, $2: port
    out=$("$build/examples/cache_invalidation" "127.0.0.1:$2" 1500 2>"$tmp/err") ||
        { echo "FAIL ($1): cache_invalidation exited $?: $out $(head -5 "$tmp/err")"; fail=1; return; }
    echo "$1: $out"
    echo "$out" | grep -q "stale 0$" || { echo "FAIL ($1): a stale read: $out"; fail=1; }
    echo "$out" | grep -Eq "hits [1-9]" || { echo "FAIL ($1): no read served from the cache"; fail=1; }
    echo "$out" | grep -Eq "invalidations [1-9]" || { echo "FAIL ($1): no invalidation"; fail=1; }
}

fail=0
port=$(free_port)
"$build/shale-server" --port "$port" --dir "$tmp/db" --io-threads 2 >"$tmp/server.log" 2>&1 &
pid=$!
wait_up "$port"
check shale "$port"
kill "$pid"; wait "$pid" 2>/dev/null; pid=
if command -v redis-server >/dev/null; then
    port=$(free_port)
    redis-server --port "$port" --save "" --appendonly no >/dev/null &
    pid=$!
    wait_up "$port"
    check redis-server "$port"
fi
[ $fail = 0 ] && echo "cache invalidation example: every check passed"
exit $fail

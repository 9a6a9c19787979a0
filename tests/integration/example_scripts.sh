#!/usr/bin/env bash
# example_scripts.sh - examples/redlock and examples/rate_limiter against a real
# shale-server (two io threads), each with 50 concurrent clients:
# - redlock: no two holders of the lock ever overlap and the counter incremented inside
#   the lock equals the number of critical sections; the release goes by EVALSHA with an
#   EVAL fallback (SCRIPT FLUSH first, so the fallback runs).
# - rate_limiter (server TIME, then the caller's clock): admitted requests never exceed
#   capacity + rate x elapsed, and the bucket did refuse some.
# Then that the checks can fail: redlock --unsafe-release (a plain DEL, which lets a
# non-holder delete the holder's lock) must report overlaps, rate_limiter --nonatomic
# (the same algorithm as separate commands) must report over-admission. The same runs
# against redis-server, when there is one, check the examples themselves.
set -u
build=${SHALE_BUILD:-build}
ms=${EXAMPLE_MS:-1500}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null; rm -rf "$tmp"' EXIT
command -v redis-cli >/dev/null || { echo "skip: redis-cli missing"; exit 77; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 100); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return; sleep 0.05; done; }

fail=0
# run WHAT EXPECTED_EXIT PATTERN PROGRAM ARGS...: the program's exit status and output
run() {
    local what=$1 want=$2 pattern=$3
    shift 3
    out=$("$@" 2>"$tmp/err")
    rc=$?
    echo "$what: exit $rc: $out"
    [ $rc = "$want" ] || { echo "FAIL ($what): exit $rc, expected $want $(head -5 "$tmp/err")"; fail=1; return; }
    echo "$out" | grep -Eq "$pattern" || { echo "FAIL ($what): output does not match /$pattern/"; fail=1; }
}

check() { # $1: server name, $2: port
    local a="127.0.0.1:$2"
    redis-cli -p "$2" script flush >/dev/null
    run "$1 redlock" 0 "sections [1-9][0-9]* counter .* overlaps 0 noscript [1-9]" \
        "$build/examples/redlock" "$a" "$ms"
    run "$1 redlock --unsafe-release" 1 "overlaps [1-9]" \
        "$build/examples/redlock" "$a" "$ms" --unsafe-release
    run "$1 rate_limiter" 0 "admitted [1-9]" "$build/examples/rate_limiter" "$a" "$ms"
    run "$1 rate_limiter --client-time" 0 "admitted [1-9]" \
        "$build/examples/rate_limiter" "$a" "$ms" --client-time
    run "$1 rate_limiter --nonatomic" 1 "admitted" \
        "$build/examples/rate_limiter" "$a" "$ms" --nonatomic
}

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
[ $fail = 0 ] && echo "script examples: every check passed"
exit $fail

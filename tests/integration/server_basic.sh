#!/usr/bin/env bash
# server_basic.sh - drives the real shale-server with redis-cli and redis-benchmark and
# compares every reply with a redis-server started alongside (the oracle), then checks
# that acknowledged writes survive kill -9 with sync-writes yes.
set -u
build=${SHALE_BUILD:-build}
server=$build/shale-server
command -v redis-cli >/dev/null || { echo "skip: redis-cli missing"; exit 77; }
command -v redis-server >/dev/null || { echo "skip: redis-server missing"; exit 77; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ping() { for _ in $(seq 1 100); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done; return 1; }

sp=$(free_port)
rp=$(free_port)
"$server" --port "$sp" --dir "$tmp/shale" >"$tmp/shale.log" 2>&1 &
pids+=($!)
redis-server --port "$rp" --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_ping "$sp" || { echo "shale-server did not start"; cat "$tmp/shale.log"; exit 1; }
wait_ping "$rp" || { echo "redis-server did not start"; exit 1; }

# Each line is one command; replies must match byte for byte (redis-cli --no-raw).
cmds=(
    "ping" "ping hello" "ping a b" "echo hi" "echo" "get nokey" "set k v" "get k"
    "set k v2 xx get" "set k v3 nx" "set k v3 nx get" "set n1 x nx" "get n1" "set k v ex 100"
    "set k v px 100000" "set k v exat 99999999999" "set k v pxat 99999999999999"
    "set k v ex 0" "set k v ex -5" "set k v ex abc" "set k v px 1.5" "set k v nx xx"
    "set k v ex 10 px 10" "set k v keepttl ex 10" "set k v keepttl" "set k v bogus" "set k"
    "get" "get a b" "del k n1 none" "del" "exists k n1" "set e ''" "get e" "exists e e e"
    "nosuchcommand a b" "GeT e" "set 'sp ace' 'v w'" "get 'sp ace'"
)
fail=0
for c in "${cmds[@]}"; do
    a=$(eval "redis-cli -p $sp $c" 2>&1)
    b=$(eval "redis-cli -p $rp $c" 2>&1)
    if [ "$a" != "$b" ]; then
        echo "DIFF for '$c': shale [$a] redis [$b]"
        fail=1
    fi
done

# pipelined input and an inline command through a raw socket
out=$(printf '*1\r\n$4\r\nPING\r\nPING\r\nECHO "a b"\r\n*2\r\n$3\r\nGET\r\n$2\r\nzz\r\n' |
    python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",'"$sp"')); s.sendall(sys.stdin.buffer.read()); import time; time.sleep(0.3); s.setblocking(0)
try:
    print(repr(s.recv(1000)))
except Exception: print("none")')
[ "$out" = "b'+PONG\\r\\n+PONG\\r\\n\$3\\r\\na b\\r\\n\$-1\\r\\n'" ] || { echo "pipeline: $out"; fail=1; }

# a protocol error gets Redis's reply and the connection closes; the server carries on
out=$(printf '*1\r\n+PING\r\n' | python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",'"$sp"')); s.sendall(sys.stdin.buffer.read()); print(repr(s.recv(1000))); print(repr(s.recv(1000)))')
[ "$out" = "$(printf "b\"-ERR Protocol error: expected '\$', got '+'\\\\r\\\\n\"\nb''")" ] || { echo "protocol error: $out"; fail=1; }
[ "$(redis-cli -p "$sp" ping)" = PONG ] || { echo "server died after a protocol error"; fail=1; }

# a short redis-benchmark run
redis-benchmark -p "$sp" -q -n 20000 -c 20 -P 4 -t set,get >"$tmp/bench.txt" 2>&1 || { echo "redis-benchmark failed"; fail=1; }
grep -q "SET" "$tmp/bench.txt" || { cat "$tmp/bench.txt"; fail=1; }

# kill -9 after acknowledged writes (sync-writes yes): all of them come back
for i in $(seq 1 200); do echo "SET dur$i v$i"; done | redis-cli -p "$sp" >/dev/null
kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
"$server" --port "$sp" --dir "$tmp/shale" >>"$tmp/shale.log" 2>&1 &
pids[0]=$!
wait_ping "$sp" || { echo "restart failed"; cat "$tmp/shale.log"; exit 1; }
for i in 1 57 133 200; do
    v=$(redis-cli -p "$sp" get "dur$i")
    [ "$v" = "v$i" ] || { echo "lost acknowledged write dur$i after kill -9 (got '$v')"; fail=1; }
done
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
[ $fail -eq 0 ] && echo "server_basic: all replies match redis-server"
exit $fail

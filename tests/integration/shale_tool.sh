#!/usr/bin/env bash
# shale_tool.sh - shale-tool on a real store written by shale-server: check finds no
# damage, then finds a flipped byte in a table and in the log (exit 1, file named);
# dump, stats, compact and repair (after losing CURRENT and the manifest) work; gc
# shrinks a value log after four rounds of overwrites to at most 1.5x its live values
# and check finds a flipped byte in a value the tables point to; every
# command refuses while the server holds the
# directory (exit 3); usage errors exit 2.
set -u
build=${SHALE_BUILD:-build}
tool=$build/shale-tool
server=$build/shale-server
command -v redis-cli >/dev/null || { echo "skip: redis-cli missing"; exit 77; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
expect() { # expect CODE DESCRIPTION COMMAND...
    local want=$1 what=$2
    shift 2
    "$@" >"$tmp/out" 2>&1
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL $what: exit $got, wanted $want"
        cat "$tmp/out"
        fail=1
    fi
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" --port "$port" --dir "$tmp/db" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
for i in $(seq 1 300); do echo "SET user:$i value-$i"; done | redis-cli -p "$port" >/dev/null
redis-cli -p "$port" save >/dev/null # a table, not only the log
for i in $(seq 301 400); do echo "SET user:$i value-$i"; done | redis-cli -p "$port" >/dev/null
expect 3 "check while the server runs" "$tool" check "$tmp/db"
grep -q "in use" "$tmp/out" || { echo "FAIL: no 'in use' message"; fail=1; }
expect 3 "dump while the server runs" "$tool" dump "$tmp/db"
redis-cli -p "$port" shutdown >/dev/null 2>&1
wait "$pid"
pid=
expect 0 "check of a sound store" "$tool" check "$tmp/db"
grep -q "no damage found" "$tmp/out" || { echo "FAIL: check says: $(cat "$tmp/out")"; fail=1; }
expect 0 "dump" "$tool" dump --keys-only "$tmp/db"
[ "$(grep -c 'user:' "$tmp/out")" = 400 ] || { echo "FAIL: dump listed $(grep -c 'user:' "$tmp/out") of 400 keys"; fail=1; }
expect 0 "dump --from --to" "$tool" dump --from "m" --to "n" "$tmp/db"
expect 0 "stats" "$tool" stats "$tmp/db"
grep -q "^L0" "$tmp/out" || { echo "FAIL: stats has no level table"; fail=1; }
expect 0 "compact" "$tool" compact "$tmp/db"
expect 0 "check after compact" "$tool" check "$tmp/db"
# damage: a byte in the middle of the (only) table
sst=$(ls "$tmp"/db/*.sst | head -1)
cp "$sst" "$tmp/sst.orig"
size=$(stat -c %s "$sst")
python3 - "$sst" $((size / 3)) <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xff]))
PY
expect 1 "check of a damaged table" "$tool" check "$tmp/db"
grep -q "DAMAGED $(basename "$sst")" "$tmp/out" || { echo "FAIL: the damaged table is not named: $(cat "$tmp/out")"; fail=1; }
cp "$tmp/sst.orig" "$sst"
expect 0 "check after repairing the copy" "$tool" check "$tmp/db"
# repair: the manifest and CURRENT lost, the tables and the log left
"$server" --port "$port" --dir "$tmp/db" >>"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
for i in $(seq 401 500); do echo "SET user:$i value-$i"; done | redis-cli -p "$port" >/dev/null
redis-cli -p "$port" save >/dev/null
redis-cli -p "$port" set user:1 changed >/dev/null # newer than the table holding value-1
{ kill -9 "$pid" && wait "$pid"; } 2>/dev/null
pid=
rm -f "$tmp"/db/CURRENT "$tmp"/db/MANIFEST-*
expect 4 "open without a manifest" "$tool" stats "$tmp/db"
expect 0 "repair" "$tool" repair "$tmp/db"
expect 0 "check after repair" "$tool" check "$tmp/db"
expect 0 "dump after repair" "$tool" dump --keys-only "$tmp/db"
[ "$(grep -c 'user:' "$tmp/out")" = 500 ] || { echo "FAIL: after repair dump lists $(grep -c 'user:' "$tmp/out") of 500 keys"; fail=1; }
"$server" --port "$port" --dir "$tmp/db" >>"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(redis-cli -p "$port" get user:1)" = changed ] || { echo "FAIL: after repair user:1 is '$(redis-cli -p "$port" get user:1)'"; fail=1; }
[ "$(redis-cli -p "$port" get user:450)" = value-450 ] || { echo "FAIL: after repair user:450 is wrong"; fail=1; }
[ "$(redis-cli -p "$port" dbsize)" = 500 ] || { echo "FAIL: after repair dbsize $(redis-cli -p "$port" dbsize)"; fail=1; }
redis-cli -p "$port" shutdown >/dev/null 2>&1
wait "$pid"
pid=
# damage in the log: writes left in the WAL by kill -9, a byte flipped in its middle
"$server" --port "$port" --dir "$tmp/db" >>"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
for i in $(seq 1 300); do echo "SET wal:$i value-$i"; done | redis-cli -p "$port" >/dev/null
{ kill -9 "$pid" && wait "$pid"; } 2>/dev/null
pid=
log=$(ls -S "$tmp"/db/*.log | head -1)
python3 - "$log" <<'PY'
import sys
p = sys.argv[1]
data = open(p, "rb").read()
end = len(data.rstrip(b"\0"))  # the written part; preallocated zeros follow
with open(p, "r+b") as f:
    f.seek(end // 2); b = f.read(1); f.seek(end // 2); f.write(bytes([b[0] ^ 0xff]))
PY
expect 1 "check of a damaged log" "$tool" check "$tmp/db"
grep -q "DAMAGED $(basename "$log"): record at offset" "$tmp/out" || { echo "FAIL: the damaged log is not named: $(cat "$tmp/out")"; fail=1; }
# the value log: large values stay in the log files, tables point to them
rm -rf "$tmp/v"
"$server" --port "$port" --dir "$tmp/v" --vlog-file-size 1mb >>"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
big=$(head -c 1500 /dev/urandom | base64 -w0) # 2000 bytes that lz4 does not shrink
for round in 1 2 3 4; do
    for i in $(seq 1 400); do echo "SET big:$i r$round-$i-$big"; done | redis-cli -p "$port" >/dev/null
done
redis-cli -p "$port" save >/dev/null
redis-cli -p "$port" info shale | grep -Eq "^vlog_segments:[1-9]" ||
    { echo "FAIL: INFO shale shows no value-log segment: $(redis-cli -p "$port" info shale | grep vlog)"; fail=1; }
expect 3 "gc while the server runs" "$tool" gc "$tmp/v"
redis-cli -p "$port" shutdown >/dev/null 2>&1
wait "$pid"
pid=
expect 0 "check of a store with a value log" "$tool" check "$tmp/v"
grep -Eq "[1-9][0-9]* value pointers" "$tmp/out" || { echo "FAIL: check verified no value pointer: $(cat "$tmp/out")"; fail=1; }
before=$(du -sb "$tmp/v" | cut -f1)
expect 0 "gc" "$tool" gc "$tmp/v"
grep -q "segments rewritten" "$tmp/out" || { echo "FAIL: gc says: $(cat "$tmp/out")"; fail=1; }
after=$(du -sb "$tmp/v" | cut -f1)
live=$((400 * 2020))
[ "$after" -le $((live * 3 / 2)) ] || { echo "FAIL: after gc $after bytes on disk for $live live ($before before)"; fail=1; }
expect 0 "stats shows the segments" "$tool" stats "$tmp/v"
grep -q "discard_ratio" "$tmp/out" || { echo "FAIL: stats lists no segment"; fail=1; }
expect 0 "dump after gc" "$tool" dump "$tmp/v"
[ "$(grep -c "r4-" "$tmp/out")" = 400 ] || { echo "FAIL: after gc dump shows $(grep -c "r4-" "$tmp/out") of 400 newest values"; fail=1; }
expect 0 "check after gc" "$tool" check "$tmp/v"
# a flipped byte inside a value the tables point to
seg=$(grep -l "r4-400-" "$tmp"/v/*.log | head -1)
python3 - "$seg" <<'PY'
import sys
p = sys.argv[1]
data = open(p, "rb").read()
off = data.index(b"r4-400-") + 500
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xff]))
PY
expect 1 "check of a damaged value" "$tool" check "$tmp/v"
grep -q "DAMAGED $(basename "$seg")" "$tmp/out" || { echo "FAIL: the damaged segment is not named: $(cat "$tmp/out")"; fail=1; }
expect 2 "no arguments" "$tool"
expect 2 "unknown command" "$tool" frobnicate "$tmp/db"
expect 0 "help" "$tool" check --help
expect 4 "not a store" "$tool" stats "$tmp/nothing-here"
[ $fail = 0 ] && echo "shale-tool: every check passed"
exit $fail

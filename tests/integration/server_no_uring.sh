#!/usr/bin/env bash
# server_no_uring.sh - where io_uring is forbidden (kernel.io_uring_disabled=2), the
# server says so in one line and exits non-zero at once: no hang, no crash. Needs root
# and a kernel with that sysctl (6.6+); skipped otherwise. The setting is restored.
set -u
build=${SHALE_BUILD:-build}
knob=/proc/sys/kernel/io_uring_disabled
[ -w "$knob" ] || { echo "skip: $knob is not writable here"; exit 77; }
old=$(cat "$knob")
tmp=$(mktemp -d)
trap 'echo "$old" > "$knob"; rm -rf "$tmp"' EXIT
echo 2 >"$knob" || { echo "skip: cannot set $knob"; exit 77; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout 20 "$build/shale-server" --port "$port" --dir "$tmp/db" >"$tmp/log" 2>&1
rc=$?
echo "$old" >"$knob"
if [ $rc -eq 124 ]; then
    echo "FAIL: the server hung without io_uring"
    exit 1
fi
if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then
    echo "FAIL: exit status $rc without io_uring (wanted a clean non-zero exit)"
    cat "$tmp/log"
    exit 1
fi
if ! grep -q "io_uring is not available here" "$tmp/log"; then
    echo "FAIL: no clear message:"
    cat "$tmp/log"
    exit 1
fi
echo "without io_uring: exit $rc, message: $(grep 'io_uring is not available' "$tmp/log")"

#!/bin/sh
# redis-suite.sh - runs units of Redis 7.0.15's own test suite against shale-server in
# external mode and prints, per unit, how many tests passed, failed and were skipped, and
# the names of the failing ones.
#
#   tests/redis-suite.sh [unit ...]        e.g. tests/redis-suite.sh unit/type/string unit/expire
#   make redis-suite UNITS="unit/expire"   the same through make (no UNITS: the core units)
#
# A developer's tool, not part of make test: it needs the network once. Redis's tests come
# from Debian's source package (redis_7.0.15.orig.tar.gz, its sha256 checked), kept in a
# cache outside the repository ($SHALE_REDIS_TESTS_CACHE, else $XDG_CACHE_HOME/shale-redis-tests,
# else ~/.cache/shale-redis-tests); REDIS_TARBALL=path uses a local copy of that file
# instead of downloading it. Nothing of Redis is ever written into the repository.
#
# Each run copies the suite's tests/ into a temporary directory (so runs can go side by
# side), and for each unit starts a fresh shale-server on a free port with its data in
# that directory (as Redis's suite starts a server per unit: units leave options and keys
# behind them), and runs the unit with
#   runtest --host 127.0.0.1 --port P --singledb --durable --tags <TAGS> --single <unit>
# TAGS (default below) leaves out what shale cannot do: DEBUG (needs:debug), replication
# (needs:repl), HyperLogLog's DEBUG (needs:pfdebug). REDIS_SUITE_TAGS="..." replaces it;
# REDIS_SUITE_ARGS="..." adds runtest options (e.g. "--only /LCS" or "--skiptest x").
# SHALE_BUILD picks the build (default build/). Logs stay in the temporary directory when
# KEEP=1. Exit status: 0 when no test failed, 1 otherwise, 2 when it could not run.
set -eu

TARBALL_URL=http://deb.debian.org/debian/pool/main/r/redis/redis_7.0.15.orig.tar.gz
TARBALL_SHA256=4b1dc4ee6d622a09fff9c6777191209750fb5e5a725ef78ea012d6eef4c22982
CORE_UNITS="unit/type/string unit/type/incr unit/expire unit/keyspace unit/type/hash
unit/protocol unit/scan unit/introspection unit/introspection-2 unit/other unit/slowlog
unit/latency-monitor"
TAGS=${REDIS_SUITE_TAGS:-"-needs:debug -needs:repl -needs:pfdebug"}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SHALE_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SERVER=$BUILD/shale-server
CACHE=${SHALE_REDIS_TESTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shale-redis-tests}

die() { echo "redis-suite: $*" >&2; exit 2; }

[ -x "$SERVER" ] || die "$SERVER not built (make all)"
for tool in tclsh sha256sum tar; do
    command -v $tool >/dev/null || die "$tool is needed"
done

# The pristine suite: CACHE/redis-7.0.15, unpacked once from the checked tarball.
fetch_suite() {
    mkdir -p "$CACHE"
    tarball=$CACHE/redis_7.0.15.orig.tar.gz
    if [ ! -f "$CACHE/redis-7.0.15/.unpacked" ]; then
        if [ -n "${REDIS_TARBALL:-}" ]; then
            cp "$REDIS_TARBALL" "$tarball.part"
        elif [ ! -f "$tarball" ]; then
            echo "redis-suite: downloading $TARBALL_URL" >&2
            if command -v curl >/dev/null; then
                curl -fsSL -o "$tarball.part" "$TARBALL_URL" || die "download failed"
            else
                wget -q -O "$tarball.part" "$TARBALL_URL" || die "download failed"
            fi
        else
            mv "$tarball" "$tarball.part"
        fi
        echo "$TARBALL_SHA256  $tarball.part" | sha256sum -c --status ||
            { rm -f "$tarball.part"; die "sha256 of the tarball does not match"; }
        mv "$tarball.part" "$tarball"
        rm -rf "$CACHE/redis-7.0.15"
        tar -xzf "$tarball" -C "$CACHE" redis-7.0.15/tests redis-7.0.15/runtest
        touch "$CACHE/redis-7.0.15/.unpacked"
    fi
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fetch_suite
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shale-redis-suite.XXXXXX")
cp -r "$CACHE/redis-7.0.15/tests" "$CACHE/redis-7.0.15/runtest" "$WORK/"
# the few tests that call Redis's tools find Debian's
mkdir -p "$WORK/src"
for t in redis-cli redis-benchmark; do
    p=$(command -v $t || true)
    [ -n "$p" ] && ln -s "$p" "$WORK/src/$t"
done

# Each unit gets a fresh shale-server, as Redis's suite gives each unit a fresh
# redis-server: units change options and leave keys behind them.
SERVER_PID=""
stop_server() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}
start_server() { # $1: the unit's name as a file name
    PORT=$(free_port)
    mkdir -p "$WORK/data-$1"
    "$SERVER" --port "$PORT" --dir "$WORK/data-$1" --sync-writes no \
        --enable-debug-command local >"$WORK/shale-server-$1.log" 2>&1 &
    SERVER_PID=$!
    i=0
    until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || die "shale-server did not start (see $WORK/shale-server-$1.log)"
        kill -0 "$SERVER_PID" 2>/dev/null ||
            die "shale-server exited: $(tail -3 "$WORK/shale-server-$1.log")"
        sleep 0.1
    done
}
cleanup() {
    stop_server || true
    if [ "${KEEP:-0}" = 1 ]; then echo "redis-suite: logs in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

UNITS=${*:-$CORE_UNITS}
[ -n "$UNITS" ] || UNITS=$CORE_UNITS
tag_args=""
for t in $TAGS; do tag_args="$tag_args --tags $t"; done

total_ok=0 total_err=0 total_skip=0 status=0
printf '%-24s %6s %6s %7s\n' unit passed failed skipped
for unit in $UNITS; do
    name=$(echo "$unit" | tr / _)
    log=$WORK/$name.log
    start_server "$name"
    # The test server listens on a port of its own: a random one below the ephemeral
    # range (runs side by side must not meet), again with another when it is taken.
    for attempt in 1 2 3; do
        base=$(( $(od -An -N2 -tu2 /dev/urandom) % 18000 + 10000 ))
        # shellcheck disable=SC2086 # the tag and extra arguments are words on purpose
        (cd "$WORK" && TERM=dumb ./runtest --host 127.0.0.1 --port "$PORT" --singledb \
            --durable --baseport "$base" --timeout 600 $tag_args ${REDIS_SUITE_ARGS:-} \
            --single "$unit") >"$log" 2>&1 || true
        grep -q "couldn't open socket" "$log" || break
    done
    # "[ok]: name (n ms)", "[err]: name in file", "[skip]: name", "[ignore]: name: why"
    ok=$(grep -c '^\[ok\]: ' "$log" || true)
    err=$(grep -c '^\[err\]: ' "$log" || true)
    skip=$(grep -cE '^\[(skip|ignore)\]: ' "$log" || true)
    crashed=""
    if ! grep -q '^\[1/1 done\]' "$log"; then
        crashed=" (the unit did not finish: $(grep -m1 -iE 'error|exception|timeout|couldn' "$log" || tail -1 "$log"))"
        err=$((err + 1))
    elif grep -qE '^\[(exception|TIMEOUT)\]|\[TIMEOUT\]' "$log"; then
        crashed=" (the unit stopped early: $(grep -m1 -E '^\[(exception|TIMEOUT)\]|TIMEOUT' "$log"))"
        err=$((err + 1))
    fi
    printf '%-24s %6d %6d %7d%s\n' "$unit" "$ok" "$err" "$skip" "$crashed"
    grep '^\[err\]: ' "$log" | sed 's/^\[err\]: /    failed: /' || true
    total_ok=$((total_ok + ok)) total_err=$((total_err + err)) total_skip=$((total_skip + skip))
    [ "$err" -eq 0 ] || status=1
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "    shale-server died during $unit"; status=1; }
    stop_server || true
done
printf '%-24s %6d %6d %7d\n' total "$total_ok" "$total_err" "$total_skip"
exit $status

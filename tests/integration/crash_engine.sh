#!/usr/bin/env bash
# crash_engine.sh - the short crash test in make test: the engine killed with SIGKILL at
# random moments, 5 rounds with sync writes (every acknowledged batch present, none half
# visible) and 5 without (what is present is a prefix covering every synced batch).
# `make crashtest` runs the long version (100 rounds each, plus the server's).
# SEED= replays a run.
set -u -o pipefail
build=${SHALE_BUILD:-build}
seed=${SEED:-$(date +%s)}
rounds=${ROUNDS:-5}
"$build/tests/crash_engine" --rounds="$rounds" --seed="$seed" --sync=yes | tail -n 2 || exit 1
"$build/tests/crash_engine" --rounds="$rounds" --seed="$((seed + 1))" --sync=no | tail -n 2 || exit 1

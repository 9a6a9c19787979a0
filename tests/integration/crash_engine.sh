#!/usr/bin/env bash
# crash_engine.sh - the short crash test in make test: the engine killed with SIGKILL at
# random moments, and then with simulated power cuts (every file cut back to what was
# synced), each with sync writes (every acknowledged batch present, none half visible)
# and without (what is present is a prefix covering every synced batch); 5 rounds each.
# `make crashtest` runs the long version (100 rounds each, plus the server's).
# SEED= replays a run, ROUNDS= changes the count.
set -u -o pipefail
build=${SHALE_BUILD:-build}
seed=${SEED:-$(date +%s)}
rounds=${ROUNDS:-5}
n=0
for mode in "" --powerloss; do
    for sync in yes no; do
        n=$((n + 1))
        "$build/tests/crash_engine" --rounds="$rounds" --seed="$((seed + n))" --sync=$sync $mode |
            tail -n 2 | sed "s/^/sync=$sync ${mode:-kill-9}: /" || exit 1
    done
done

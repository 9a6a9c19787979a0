#!/usr/bin/env bash
# crash_engine.sh - the short crash test in make test: the engine killed with SIGKILL at
# random moments (also with failing directory syncs and options changing from round to
# round), then with simulated power cuts, each with sync writes (every acknowledged batch
# present, none half visible) and without (what is present is a prefix covering every
# synced batch); 5 rounds each. Power cuts come in two kinds, both with options changing
# from round to round: the worst case (every unsynced byte lost, every create, rename and
# unlink whose directory was not synced undone) and writeback out of order (each file
# keeps a random part of its unsynced bytes, a random prefix of the directory operations
# survives), the latter also with failing directory syncs.
# `make crashtest` runs the long version (100 rounds each, plus the server's).
# SEED= replays a run, ROUNDS= changes the count.
set -u -o pipefail
build=${SHALE_BUILD:-build}
seed=${SEED:-$(date +%s)}
rounds=${ROUNDS:-5}
n=0
for mode in "" "--faults --vary" "--powerloss --vary" "--powerloss=reorder --vary --faults"; do
    for sync in yes no; do
        n=$((n + 1))
        label=${mode:-kill-9}
        # shellcheck disable=SC2086 # mode holds several options
        "$build/tests/crash_engine" --rounds="$rounds" --seed="$((seed + n))" --sync=$sync $mode |
            tail -n 2 | sed "s/^/sync=$sync ${label}: /" || exit 1
    done
done

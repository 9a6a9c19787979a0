#!/usr/bin/env bash
# Runs every test program of a build and ends with one line: "N passed, N failed".
# Unit tests are cmocka programs (build/tests/test_*); each cmocka test counts once.
# Integration tests (tests/integration/*.sh, *.py) count once each; tests/integration/lib/
# holds helpers they import, not tests.
# Exit status: non-zero when anything failed. SHALE_TEST_FILTER=substr runs a subset.
set -u
build=${1:-build}
filter=${SHALE_TEST_FILTER:-}
passed=0
failed=0
failed_names=()
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

export SHALE_BUILD="$build"
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    log="$logdir/$name.log"
    start=$(date +%s)
    timeout 300 "$t" >"$log" 2>&1
    rc=$?
    p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{print $4}' | tail -n1)
    f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{print $4}' | tail -n1)
    p=${p:-0}
    f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed or timed out
    passed=$((passed + p))
    failed=$((failed + f))
    secs=$(($(date +%s) - start))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        echo "FAIL $name (${secs}s, exit $rc)"
        tail -n 40 "$log"
    else
        echo "ok   $name: $p tests (${secs}s)"
    fi
done

# Debian's python3 (with python3-redis), not one a version manager put first in PATH
py=/usr/bin/python3
[ -x "$py" ] || py=python3
for t in tests/integration/*.sh tests/integration/*.py; do
    [ -f "$t" ] || continue
    name=$(basename "$t")
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    log="$logdir/$name.log"
    start=$(date +%s)
    case "$t" in
    *.py) timeout 600 "$py" "$t" >"$log" 2>&1 ;;
    *) timeout 600 bash "$t" >"$log" 2>&1 ;;
    esac
    rc=$?
    secs=$(($(date +%s) - start))
    if [ $rc -eq 77 ]; then
        echo "skip $name: $(tail -n1 "$log")"
    elif [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "FAIL $name (${secs}s, exit $rc)"
        tail -n 40 "$log"
    else
        passed=$((passed + 1))
        echo "ok   $name (${secs}s)"
    fi
done

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

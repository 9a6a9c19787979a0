#!/usr/bin/env bash
# fuzz_replay.sh - every fuzz target (tests/fuzz) over its corpus, without libFuzzer: the
# seeds and every input a fuzz run turned into a regression test must pass (make asan
# runs this under ASan and UBSan too). `make fuzz` does the fuzzing itself.
set -u
build=${SHALE_BUILD:-build}
fail=0
for src in tests/fuzz/fuzz_*.c; do
    grep -q LLVMFuzzerTestOneInput "$src" || continue # shared harness code, not a target
    t=${src#tests/fuzz/fuzz_}
    t=${t%.c}
    out=$("$build/tests/fuzz-replay/$t" "tests/fuzz/corpus/$t" 2>&1) || { echo "FAIL $t: $out"; fail=1; continue; }
    echo "$t: $out"
done
exit $fail

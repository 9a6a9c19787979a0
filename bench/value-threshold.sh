#!/usr/bin/env bash
# value-threshold.sh - how large a value must be before keeping it in the value log
# (tables hold a pointer) beats keeping it in the tables. For each value size, runs
# shale-bench fillrandom,readrandom,overwrite,waitforcompaction twice on a fresh store
# of about the same data size: once with --value_threshold=1 (every value in the value
# log) and once with --value_threshold=0 (every value in the tables), and prints ops/s,
# write amplification (process write_bytes / user bytes, compaction debt included) and
# bytes on disk at the end / live bytes.
#
#   bench/value-threshold.sh [--sizes="128 512 1024 4096"] [--mb=256] [--dir=DIR]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bench=${BUILD:-$here/../build}/shale-bench
sizes="128 512 1024 4096"
mb=256
dir=${TMPDIR:-/tmp}/shale-value-threshold
for a in "$@"; do
    case "$a" in
    --sizes=*) sizes=${a#--sizes=} ;;
    --mb=*) mb=${a#--mb=} ;;
    --dir=*) dir=${a#--dir=} ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
    esac
done
[ -x "$bench" ] || { echo "value-threshold: $bench not built (run make)" >&2; exit 1; }
mkdir -p "$dir"
ops() { awk -v b="$2" '$1 == b && $2 == ":" { for (i = 1; i <= NF; i++) if ($i == "ops/sec") print $(i-1) }' "$1"; }
printf '%-7s %-9s %10s %10s %10s %6s %6s\n' value where fill/s read/s overwrite/s WA SA
for v in $sizes; do
    num=$((mb * 1048576 / (v + 16)))
    for t in 1 0; do
        db=$dir/db
        rm -rf "$db"
        out=$dir/out-$v-$t
        "$bench" --db="$db" --benchmarks=fillrandom,readrandom,overwrite,waitforcompaction \
            --num=$num --key_size=16 --value_size=$v --value_threshold=$t \
            --compression_type=lz4 --cache_size=33554432 >"$out" 2>&1
        du=$(du -sb "$db" | cut -f1)
        wa=$(awk '/^shale-bench: write_amplification/ {print $3}' "$out")
        sa=$(awk -v d="$du" -v u=$((num * (v + 16))) 'BEGIN { printf "%.2f", d / u }')
        where=$([ $t = 1 ] && echo value-log || echo tables)
        printf '%-7s %-9s %10s %10s %10s %6s %6s\n' "$v" "$where" "$(ops "$out" fillrandom)" \
            "$(ops "$out" readrandom)" "$(ops "$out" overwrite)" "$wa" "$sa"
        rm -rf "$db"
    done
done

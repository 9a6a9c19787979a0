#!/usr/bin/env bash
# vlog-space.sh - disk use of the value log after every key is overwritten three times,
# before and after `shale-tool gc` (issue 5's space bar): fillseq writes NUM keys, then
# three more fillseq passes over the same store rewrite each of them; disk use is compared
# with the live data (NUM x (key + value) bytes, uncompressed).
#
#   bench/vlog-space.sh [--num=500000] [--value_size=1024] [--compression_ratio=0.5]
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
num=500000
vs=1024
cr=0.5
for a in "$@"; do
    case "$a" in
    --num=*) num=${a#--num=} ;;
    --value_size=*) vs=${a#--value_size=} ;;
    --compression_ratio=*) cr=${a#--compression_ratio=} ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
    esac
done
db=${TMPDIR:-/tmp}/shale-vlog-space
rm -rf "$db"
common="--db=$db --num=$num --key_size=16 --value_size=$vs --compression_ratio=$cr --compression_type=lz4"
"$build/shale-bench" $common --benchmarks=fillseq >/dev/null || exit 1
for pass in 1 2 3; do
    "$build/shale-bench" $common --use_existing_db=1 --seed=$pass --benchmarks=fillseq >/dev/null || exit 1
done
live=$((num * (16 + vs)))
before=$(du -sb "$db" | cut -f1)
t0=$(date +%s.%N)
"$build/shale-tool" gc "$db" | tail -1
t1=$(date +%s.%N)
after=$(du -sb "$db" | cut -f1)
awk -v b="$before" -v a="$after" -v l="$live" -v t="$(echo "$t1 - $t0" | bc)" 'BEGIN {
    printf "live %.1f MiB; after 3 overwrites %.1f MiB (%.2fx live); after shale-tool gc %.1f MiB (%.2fx live), gc took %.1f s\n",
        l / 1048576, b / 1048576, b / l, a / 1048576, a / l, t }'
rm -rf "$db"

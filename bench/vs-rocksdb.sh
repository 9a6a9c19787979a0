#!/usr/bin/env bash
# vs-rocksdb.sh - runs the standard engine set of ../shared/BENCH.md with shale-bench and
# RocksDB's db_bench (Debian rocksdb-tools), one after the other on fresh directories,
# same flags, and prints one table: both ops/sec, the ratio, both write amplifications
# and shale's peak RSS.
#
#   bench/vs-rocksdb.sh [--quick] [--only=REGEX] [--dir=DIR] [--cache-size=BYTES] [--tsv=FILE]
#
# Both programs run with --bloom_bits=10 --cache_size=33554432 --compression_type=lz4:
# db_bench's own defaults (no bloom filter, an 8 MiB cache) would measure RocksDB's
# defaults, not RocksDB (../shared/BENCH.md).
# --quick divides --num by 10 and --duration by 4 (a smoke run, not a measurement).
# --tsv appends machine-readable rows (bench/scorecard.sh reads them).
# The 1 KiB and 4 KiB sets also run RocksDB with BlobDB (key-value separation). The
# 100 B random set and the 1 KiB and 4 KiB sets end with waitforcompaction in both
# programs, so write amplification and directory size include the
# compaction work the writes left behind (RocksDB otherwise exits with most of it owed).
# Write amplification is measured the same way for both programs: bytes the process
# sent to the storage layer (/proc/<pid>/io write_bytes minus cancelled_write_bytes, of
# a wrapper shell, to which Linux adds the counters of its reaped child) divided by user
# bytes (writes x (key + value)). Raw outputs are kept in the results directory printed at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${BUILD:-$top/build}
shale_bench=$build/shale-bench
quick=0
only=""
dir=${TMPDIR:-/tmp}/shale-vs-rocksdb
cache=33554432
bloom=10
tsv=""
for a in "$@"; do
    case "$a" in
    --quick) quick=1 ;;
    --only=*) only=${a#--only=} ;;
    --dir=*) dir=${a#--dir=} ;;
    --cache-size=*) cache=${a#--cache-size=} ;;
    --tsv=*) tsv=${a#--tsv=} ;;
    -h | --help)
        sed -n '2,18p' "$0"
        exit 0
        ;;
    *)
        echo "vs-rocksdb: unknown argument $a" >&2
        exit 2
        ;;
    esac
done
command -v db_bench >/dev/null || {
    echo "vs-rocksdb: db_bench not found (Debian package rocksdb-tools)" >&2
    exit 1
}
[ -x "$shale_bench" ] || {
    echo "vs-rocksdb: $shale_bench not built (run make)" >&2
    exit 1
}
results=$dir/results-$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"

scale() { # $1 = flags; applies --quick
    local f=$1
    if [ $quick -eq 1 ]; then
        f=$(echo "$f" | awk '{for(i=1;i<=NF;i++){if($i~/^--num=/){split($i,a,"=");$i="--num=" int(a[2]/10)} if($i~/^--duration=/){split($i,a,"=");$i="--duration=" int(a[2]/4)}} print}')
    fi
    echo "$f"
}

# RocksDB's key-value separation, as ../shared/BENCH.md and issue 5 name it
blob_flags="--enable_blob_files=true --min_blob_size=512 --enable_blob_garbage_collection=true"

# name | flags | which benchmark lines to report; names ending in -blob also run BlobDB
sets=(
    "seq100|--benchmarks=fillseq,readseq --num=1000000 --key_size=16 --value_size=100"
    "rand100|--benchmarks=fillrandom,readrandom,waitforcompaction --num=1000000 --key_size=16 --value_size=100"
    "rand1k-blob|--benchmarks=fillrandom,readrandom,overwrite,waitforcompaction --num=500000 --key_size=16 --value_size=1024"
    "rand4k-blob|--benchmarks=fillrandom,readrandom,overwrite,waitforcompaction --num=200000 --key_size=16 --value_size=4096"
    "sync8|--benchmarks=fillrandom --sync=true --threads=8 --num=100000 --key_size=16 --value_size=100"
    "rww|--benchmarks=fillrandom,readwhilewriting --duration=20 --num=1000000 --key_size=16 --value_size=100"
)

# run_one LABEL PROGRAM FLAGS: runs under a wrapper shell and records its io counters.
run_one() {
    local label=$1 prog=$2 flags=$3 db=$dir/db-$1
    rm -rf "$db"
    # shellcheck disable=SC2086
    bash -c "\"$prog\" $flags --compression_type=lz4 --bloom_bits=$bloom --cache_size=$cache --db=\"$db\" \
        > \"$results/$label.out\" 2>&1; rc=\$?; cat /proc/\$\$/io > \"$results/$label.io\"; exit \$rc"
    local rc=$?
    du -sb "$db" 2>/dev/null | cut -f1 >"$results/$label.du"
    rm -rf "$db"
    return $rc
}

space_amp() { # label num key value: bytes on disk at the end / live user bytes
    local du
    du=$(cat "$results/$1.du" 2>/dev/null)
    awk -v d="${du:-0}" -v u=$(($2 * ($3 + $4))) 'BEGIN { if (d > 0 && u > 0) printf "%.2f", d / u; else print "n/a" }'
}

ops_of() { # file benchmark -> ops/sec
    awk -v b="$2" '$1 == b && $2 == ":" { for (i = 1; i <= NF; i++) if ($i == "ops/sec") print $(i-1) }' "$1" | tail -n1
}

user_bytes() { # file -> sum over write benchmarks of ops x (key+value)
    local f=$1 k=$2 v=$3
    awk -v kv=$((k + v)) '$2 == ":" && ($1 ~ /^fill|^overwrite/) { for (i = 1; i <= NF; i++) if ($i == "operations;") s += $(i-1) * kv } END { print s + 0 }' "$f"
}

wamp() { # label key value
    local wb ub
    # bytes that reached the storage layer: written minus those cancelled (pages of
    # files deleted or truncated before writeback never hit the disk)
    wb=$(awk '$1 == "write_bytes:" {w = $2} $1 == "cancelled_write_bytes:" {c = $2} END {print w - c}' "$results/$1.io")
    ub=$(user_bytes "$results/$1.out" "$2" "$3")
    if [ -n "$wb" ] && [ "$ub" -gt 0 ] 2>/dev/null; then
        awk -v w="$wb" -v u="$ub" 'BEGIN { printf "%.2f", w / u }'
    else
        echo "n/a"
    fi
}

# emit KIND WHAT PROGRAM VALUE: one tab-separated row for bench/scorecard.sh
emit() { [ -n "$tsv" ] && printf 'engine\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$tsv"; return 0; }

echo "both programs: --compression_type=lz4 --bloom_bits=$bloom --cache_size=$cache" >&2
rows=()
for s in "${sets[@]}"; do
    name=${s%%|*}
    flags=$(scale "${s#*|}")
    [ -n "$only" ] && ! [[ $name =~ $only ]] && continue
    ks=$(echo "$flags" | sed -E 's/.*--key_size=([0-9]+).*/\1/')
    vs=$(echo "$flags" | sed -E 's/.*--value_size=([0-9]+).*/\1/')
    benches=$(echo "$flags" | sed -E 's/.*--benchmarks=([^ ]+).*/\1/' | tr ',' ' ' | sed 's/ *waitforcompaction//')
    threads=$(echo "$flags" | grep -oE -- '--threads=[0-9]+' | cut -d= -f2)
    echo "== $name: $flags" >&2
    num=$(echo "$flags" | sed -E 's/.*--num=([0-9]+).*/\1/')
    run_one "$name-shale" "$shale_bench" "$flags" || echo "shale-bench failed, see $results/$name-shale.out" >&2
    run_one "$name-rocksdb" db_bench "$flags" || echo "db_bench failed, see $results/$name-rocksdb.out" >&2
    blob=0
    if [[ $name == *-blob ]]; then
        blob=1
        run_one "$name-blobdb" db_bench "$flags $blob_flags" ||
            echo "db_bench (BlobDB) failed, see $results/$name-blobdb.out" >&2
    fi
    wa_s=$(wamp "$name-shale" "$ks" "$vs")
    wa_r=$(wamp "$name-rocksdb" "$ks" "$vs")
    sa="$(space_amp "$name-shale" "$num" "$ks" "$vs")|$(space_amp "$name-rocksdb" "$num" "$ks" "$vs")"
    rss=$(awk '/^shale-bench: peak_rss_mb/ {print $3}' "$results/$name-shale.out")
    progs="shale rocksdb"
    [ $blob = 1 ] && progs="$progs blobdb"
    for p in $progs; do
        emit "du" "$name" "$p" "$(cat "$results/$name-$p.du" 2>/dev/null)"
        emit "wa" "$name" "$p" "$(wamp "$name-$p" "$ks" "$vs")"
        for b in $benches; do emit "ops" "$name/$b" "$p" "$(ops_of "$results/$name-$p.out" "$b")"; done
    done
    for b in $benches; do
        so=$(ops_of "$results/$name-shale.out" "$b")
        ro=$(ops_of "$results/$name-rocksdb.out" "$b")
        ratio=$(awk -v a="${so:-0}" -v b="${ro:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        label="$b ${vs}B${threads:+ x$threads}"
        [[ $flags == *--sync=true* ]] && label="$label sync"
        case $b in fill*) wa="$wa_s|$wa_r" ;; *) wa="-|-" ;; esac
        rows+=("$label|${so:-n/a}|${ro:-n/a}|$ratio|$wa|${rss:-n/a}|$sa")
        if [ $blob = 1 ]; then
            bo=$(ops_of "$results/$name-blobdb.out" "$b")
            bratio=$(awk -v a="${so:-0}" -v b="${bo:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
            case $b in fill*) bwa=$(wamp "$name-blobdb" "$ks" "$vs") ;; *) bwa="-" ;; esac
            rows+=("  vs BlobDB|${so:-n/a}|${bo:-n/a}|$bratio|-|$bwa|-|-|$(space_amp "$name-blobdb" "$num" "$ks" "$vs")")
        fi
    done
done

printf '\n%-28s %12s %12s %7s %9s %9s %9s %9s %9s\n' benchmark "shale ops/s" "rocksdb ops/s" ratio \
    "shale WA" "rocks WA" "RSS MiB" "shale SA" "rocks SA"
for r in "${rows[@]}"; do
    IFS='|' read -r l a b c d e f g h <<<"$r"
    printf '%-28s %12s %12s %7s %9s %9s %9s %9s %9s\n' "$l" "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h"
done
echo "WA: bytes written to storage / user bytes; SA: bytes on disk at the end / live user bytes."
echo "both programs ran with --compression_type=lz4 --bloom_bits=$bloom --cache_size=$cache"
echo
echo "raw outputs: $results"

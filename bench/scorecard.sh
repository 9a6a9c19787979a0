#!/usr/bin/env bash
# scorecard.sh - the rows issue 16 sets bars for, read from the rows that one run of
# bench/vs-redis.sh --tsv=FILE and bench/vs-rocksdb.sh --tsv=FILE appended to FILE:
# each row with shale's figure, the anchor's figure from the same run, the ratio and the
# bar it is held to (a higher-is-better ratio must reach the bar, a lower-is-better one
# must stay under it).
#
#   bench/scorecard.sh FILE
set -u
tsv=${1:?usage: bench/scorecard.sh FILE (rows from vs-redis.sh/vs-rocksdb.sh --tsv)}
[ -r "$tsv" ] || {
    echo "scorecard: cannot read $tsv" >&2
    exit 2
}

# label | source | what | shale program | anchor program | ratio sense | bar
#   source server: what = load/test, programs = vs-redis.sh's server names, figure ops/s
#   source engine-ops: what = set/benchmark; engine-wa, engine-du: what = set
rows=(
    "SET P16 c50, sync-writes no vs Redis AOF everysec|server|c50-P16-d100/SET|shale-no|redis-aof|>=|1.0"
    "GET P16 c50, sync-writes no vs Redis AOF everysec|server|c50-P16-d100/GET|shale-no|redis-aof|>=|1.0"
    "SET P1 c50, sync-writes yes vs Redis AOF everysec|server|c50-P1-d100/SET|shale-yes|redis-aof|>=|0.8"
    "SET P1 c50, sync-writes no vs Redis AOF everysec|server|c50-P1-d100/SET|shale-no|redis-aof|>=|1.0"
    "GET P1 c50, sync-writes no vs Redis AOF everysec|server|c50-P1-d100/GET|shale-no|redis-aof|>=|1.0"
    "SET 1000 clients, sync-writes no vs Redis AOF|server|c1000-P1-d100/SET|shale-no|redis-aof|>=|1.0"
    "GET 1000 clients, sync-writes no vs Redis AOF|server|c1000-P1-d100/GET|shale-no|redis-aof|>=|1.0"
    "fillrandom --sync --threads 8 vs RocksDB|engine-ops|sync8/fillrandom|shale|rocksdb|>=|2.0"
    "fillrandom 500k x 1 KiB vs RocksDB leveled|engine-ops|rand1k-blob/fillrandom|shale|rocksdb|>=|3.0"
    "fillrandom 500k x 1 KiB vs RocksDB BlobDB|engine-ops|rand1k-blob/fillrandom|shale|blobdb|>=|2.0"
    "write amplification, fillrandom 1M x 100 B|engine-wa|rand100|shale|rocksdb|<=|1.0"
    "directory size after fillrandom 1M x 100 B|engine-du|rand100|shale|rocksdb|<=|1.2"
)

# figure SOURCE WHAT PROGRAM -> the value, or nothing
figure() {
    case $1 in
    server) awk -F'\t' -v w="$2" -v p="$3" '$1 == "server" && $2 == w && $3 == p { v = $4 } END { print v }' "$tsv" ;;
    engine-ops) awk -F'\t' -v w="$2" -v p="$3" '$1 == "engine" && $2 == "ops" && $3 == w && $4 == p { v = $5 } END { print v }' "$tsv" ;;
    engine-wa) awk -F'\t' -v w="$2" -v p="$3" '$1 == "engine" && $2 == "wa" && $3 == w && $4 == p { v = $5 } END { print v }' "$tsv" ;;
    engine-du) awk -F'\t' -v w="$2" -v p="$3" '$1 == "engine" && $2 == "du" && $3 == w && $4 == p { v = $5 } END { print v }' "$tsv" ;;
    esac
}

met=0
missed=0
absent=0
printf '%-52s %14s %14s %7s %6s  %s\n' row shale anchor ratio bar verdict
for r in "${rows[@]}"; do
    IFS='|' read -r label src what sp ap sense bar <<<"$r"
    a=$(figure "$src" "$what" "$sp")
    b=$(figure "$src" "$what" "$ap")
    verdict=$(awk -v a="${a:-}" -v b="${b:-}" -v s="$sense" -v bar="$bar" 'BEGIN {
        if (a == "" || b == "" || a == "n/a" || b == "n/a" || b + 0 <= 0) { print "- - no-figure"; exit }
        r = a / b
        ok = (s == ">=") ? (r >= bar) : (r <= bar)
        printf "%.2f %s%s %s\n", r, s, bar, ok ? "met" : "missed" }')
    read -r ratio bartxt word <<<"$verdict"
    case $verdict in
    *" met") met=$((met + 1)) ;;
    *" missed") missed=$((missed + 1)) ;;
    *) absent=$((absent + 1)) ;;
    esac
    [ "$src" = engine-du ] && {
        a=$(awk -v x="${a:-0}" 'BEGIN { printf "%.1fMiB", x / 1048576 }')
        b=$(awk -v x="${b:-0}" 'BEGIN { printf "%.1fMiB", x / 1048576 }')
    }
    printf '%-52s %14s %14s %7s %6s  %s\n' "$label" "${a:--}" "${b:--}" "$ratio" "$bartxt" "$word"
done
echo "$met met, $missed missed, $absent without a figure (ratios from one run: $tsv)"

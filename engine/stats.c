/*
 * stats.c - shale_property: the "shale.stats" report (per-level table, write
 * amplification, stalls, cache, memtables) and the numeric properties listed in
 * docs/tuning.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "table_reader.h"
#include "vlog.h"

static const char *stall_names[STALL_CAUSES] = {"l0_slowdown", "l0_stop", "memtable"};

static uint64_t ld(atomic_uint_fast64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

typedef struct snapshot_figures {
    int nfiles[SHALE_MAX_LEVELS];
    uint64_t bytes[SHALE_MAX_LEVELS];
    uint64_t entries, deletes, range_dels;
    int num_levels;
    size_t mem_bytes, imm_bytes;
    int n_imm;
    uint64_t last_seq;
    int n_snapshots;
    int n_running;
    double score;
    int score_level;
    uint64_t pending_bytes;
} snapshot_figures;

static void gather(shale_db *db, snapshot_figures *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_lock(&db->mu);
    version *v = db->vs->current;
    s->num_levels = v->num_levels;
    for (int l = 0; l < v->num_levels; l++) {
        s->nfiles[l] = v->nfiles[l];
        s->bytes[l] = v->level_bytes[l];
        for (int i = 0; i < v->nfiles[l]; i++) {
            s->entries += v->files[l][i]->num_entries;
            s->deletes += v->files[l][i]->num_deletes;
            s->range_dels += v->files[l][i]->num_range_dels;
        }
    }
    s->mem_bytes = memtable_memory_usage(db->mem);
    for (int i = 0; i < db->n_imm; i++)
        s->imm_bytes += memtable_memory_usage(db->imm[i]);
    s->n_imm = db->n_imm;
    s->last_seq = atomic_load(&db->last_seq);
    for (struct shale_snapshot *p = db->snapshots.next; p != &db->snapshots; p = p->next)
        s->n_snapshots++;
    s->n_running = db->n_running;
    s->score = db_compaction_score(db, &s->score_level);
    /* Pending compaction bytes: how far each level is over its target (a rough RocksDB
       estimated_pending_compaction_bytes). */
    uint64_t target = db->opts.base_level_size;
    for (int l = 1; l < v->num_levels - 1; l++) {
        if (v->level_bytes[l] > target)
            s->pending_bytes += v->level_bytes[l] - target;
        target *= (uint64_t)db->opts.level_size_multiplier;
    }
    if (v->nfiles[0] >= db->opts.l0_compaction_trigger)
        s->pending_bytes += v->level_bytes[0];
    pthread_mutex_unlock(&db->mu);
}

/* Value-log figures of the current version: segments, their file bytes, live bytes. */
typedef struct vlog_figures {
    int segments;
    uint64_t bytes, live;
} vlog_figures;

static void gather_vlog(shale_db *db, vlog_figures *f)
{
    memset(f, 0, sizeof *f);
    uint64_t log_number;
    version *v = db_vlog_view(db, &log_number);
    uint64_t now = db_now_ms();
    for (int i = 0; i < v->nsegs; i++) {
        f->segments++;
        f->bytes += vlog_segment_file_size(v->segs[i]);
        f->live += vlog_segment_live(v->segs[i], now);
    }
    version_unref(v);
}

/* "shale.vlog-segments": one line per segment, "number file_bytes live_bytes discard%"
   (GC's view: the active log and logs not yet flushed are marked "unflushed"). */
static int vlog_report(shale_db *db, char **res)
{
    uint64_t log_number;
    version *v = db_vlog_view(db, &log_number);
    uint64_t now = db_now_ms();
    size_t cap = 64 + (size_t)v->nsegs * 96;
    char *p = malloc(cap);
    if (!p) {
        version_unref(v);
        return -ENOMEM;
    }
    size_t n = (size_t)snprintf(p, cap, "segment file_bytes live_bytes discard_ratio\n");
    for (int i = 0; i < v->nsegs; i++) {
        vlog_segment *sg = v->segs[i];
        uint64_t size, live;
        double ratio = vlog_segment_garbage(sg, now, &size, &live);
        n += (size_t)snprintf(p + n, cap - n, "%06" PRIu64 " %" PRIu64 " %" PRIu64 " %.3f%s\n",
                              sg->number, size, live, ratio,
                              sg->number >= log_number ? " unflushed" : "");
    }
    version_unref(v);
    *res = p;
    return 0;
}

static uint64_t total_compaction_writes(shale_db *db)
{
    uint64_t w = 0;
    for (int l = 0; l < SHALE_MAX_LEVELS; l++)
        w += ld(&db->stats.compact_write_bytes[l]);
    return w;
}

/* (WAL + flush + compaction bytes written) / user bytes, as RocksDB's Sum W-Amp counts
   flush+compaction over ingested bytes; we include the WAL, so it is the disk total. */
static double write_amp(shale_db *db)
{
    uint64_t user = ld(&db->stats.user_bytes_written);
    if (!user)
        return 0;
    uint64_t disk =
        ld(&db->stats.wal_bytes) + ld(&db->stats.flush_bytes) + total_compaction_writes(db);
    return (double)disk / (double)user;
}

int db_property_int(shale_db *db, const char *name, uint64_t *out)
{
    snapshot_figures s;
    block_cache_stats cs;
    if (strncmp(name, "shale.", 6) != 0)
        return -ENOENT;
    name += 6;
    static const char files_at[] = "num-files-at-level", bytes_at[] = "bytes-at-level";
    bool is_files = strncmp(name, files_at, sizeof files_at - 1) == 0;
    if (is_files || strncmp(name, bytes_at, sizeof bytes_at - 1) == 0) {
        const char *num = name + (is_files ? sizeof files_at : sizeof bytes_at) - 1;
        char *end;
        long l = strtol(num, &end, 10);
        gather(db, &s);
        if (end == num || *end || l < 0 || l >= s.num_levels)
            return -ENOENT;
        *out = is_files ? (uint64_t)s.nfiles[l] : s.bytes[l];
        return 0;
    }
    for (int c = 0; c < STALL_CAUSES; c++) {
        char n1[64], n2[64];
        snprintf(n1, sizeof n1, "stall-count-%s", stall_names[c]);
        snprintf(n2, sizeof n2, "stall-micros-%s", stall_names[c]);
        if (strcmp(name, n1) == 0) {
            *out = ld(&db->stats.stall_count[c]);
            return 0;
        }
        if (strcmp(name, n2) == 0) {
            *out = ld(&db->stats.stall_micros[c]);
            return 0;
        }
    }
#define U64(n, expr)                                                                               \
    if (strcmp(name, n) == 0) {                                                                    \
        *out = (expr);                                                                             \
        return 0;                                                                                  \
    }
    U64("stall-count", ld(&db->stats.stall_count[0]) + ld(&db->stats.stall_count[1]) +
                           ld(&db->stats.stall_count[2]))
    U64("stall-micros", ld(&db->stats.stall_micros[0]) + ld(&db->stats.stall_micros[1]) +
                            ld(&db->stats.stall_micros[2]))
    U64("stall-timeouts", ld(&db->stats.stall_timeouts))
    U64("stall-timeouts-memtable", ld(&db->stats.stall_timeouts_memtable))
    U64("stall-timeouts-l0", ld(&db->stats.stall_timeouts) - ld(&db->stats.stall_timeouts_memtable))
    U64("user-bytes-written", ld(&db->stats.user_bytes_written))
    U64("wal-bytes", ld(&db->stats.wal_bytes))
    U64("wal-syncs", ld(&db->stats.wal_syncs))
    U64("vlog-gc-runs", ld(&db->stats.vlog_gc_runs))
    U64("vlog-gc-rewritten-bytes", ld(&db->stats.vlog_gc_rewritten_bytes))
    U64("vlog-gc-deleted-segments", ld(&db->stats.vlog_gc_deleted_segments))
    U64("vlog-gc-deleted-bytes", ld(&db->stats.vlog_gc_deleted_bytes))
    if (strncmp(name, "vlog-", 5) == 0) {
        vlog_figures f;
        gather_vlog(db, &f);
        U64("vlog-segments", (uint64_t)f.segments)
        U64("vlog-bytes", f.bytes)
        U64("vlog-live-bytes", f.live)
    }
    U64("wal-sync-micros", ld(&db->stats.wal_sync_micros))
    U64("group-wait-micros", ld(&db->stats.group_wait_micros))
    U64("flush-bytes", ld(&db->stats.flush_bytes))
    U64("flush-count", ld(&db->stats.flush_count))
    U64("compaction-bytes-written", total_compaction_writes(db))
    U64("compaction-count", ld(&db->stats.compact_count))
    U64("trivial-moves", ld(&db->stats.trivial_moves))
    U64("tombstone-compactions", ld(&db->stats.tombstone_compactions))
    U64("iter-skipped-entries", ld(&db->stats.iter_skipped))
    U64("iter-skip-hints", ld(&db->stats.iter_skip_hints))
    U64("background-errors", ld(&db->stats.bg_errors))
    U64("dropped-expired", ld(&db->stats.dropped_expired))
    U64("dropped-tombstones", ld(&db->stats.dropped_tombstones))
    U64("dropped-range-deleted", ld(&db->stats.dropped_range_deleted))
    U64("dropped-shadowed", ld(&db->stats.dropped_shadowed))
    U64("dropped-by-filter", ld(&db->stats.dropped_by_filter))
    U64("fifo-deleted-bytes", ld(&db->stats.fifo_deleted_bytes))
    U64("num-writes", ld(&db->stats.num_writes))
    U64("num-write-groups", ld(&db->stats.num_write_groups))
    U64("num-gets", ld(&db->stats.num_gets))
    U64("write-amplification-x1000", (uint64_t)(write_amp(db) * 1000))
    U64("table-readers-mem", table_cache_memory(db->tc))
    U64("write-scratch-bytes", ld(&db->stats.write_scratch_bytes))
    U64("bloom-useful", table_stat_bloom_useful())
    U64("block-reads", table_stat_block_reads())
    if (strncmp(name, "block-cache-", 12) == 0) {
        block_cache_get_stats(db->bc, &cs);
        U64("block-cache-hits", cs.hits)
        U64("block-cache-misses", cs.misses)
        U64("block-cache-usage", cs.usage)
        U64("block-cache-capacity", cs.capacity)
        return -ENOENT;
    }
    gather(db, &s);
    uint64_t total = 0;
    for (int l = 0; l < s.num_levels; l++)
        total += s.bytes[l];
    U64("memtable-bytes", s.mem_bytes)
    U64("immutable-memtable-bytes", s.imm_bytes)
    U64("num-immutable-memtables", (uint64_t)s.n_imm)
    U64("total-table-bytes", total)
    U64("live-data-estimate", total)
    U64("estimate-num-keys", s.entries > 2 * s.deletes ? s.entries - 2 * s.deletes : 0)
    U64("table-entries", s.entries)
    U64("table-tombstones", s.deletes)
    U64("table-range-deletions", s.range_dels)
    U64("pending-compaction-bytes", s.pending_bytes)
    U64("running-compactions", (uint64_t)s.n_running)
    U64("last-sequence", s.last_seq)
    U64("num-snapshots", (uint64_t)s.n_snapshots)
    U64("background-error", (uint64_t)(atomic_load(&db->bg_error) != 0))
#undef U64
    return -ENOENT;
}

typedef struct out {
    char *p;
    size_t len, cap;
    int err;
} out;

static void outf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->err = -EINVAL;
            return;
        }
        if (o->p && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(o->p, cap);
        if (!np) {
            o->err = -ENOMEM;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
}

static int stats_report(shale_db *db, char **res)
{
    snapshot_figures s;
    gather(db, &s);
    block_cache_stats cs;
    block_cache_get_stats(db->bc, &cs);
    out o = {0};
    uint64_t user = ld(&db->stats.user_bytes_written);
    outf(&o, "** shale %s: %s **\n", SHALE_VERSION_STRING, db->dir);
    outf(&o, "Level  Files   Size(MiB)  Read(MiB)  Write(MiB)  W-Amp\n");
    uint64_t tot_r = 0, tot_w = 0;
    int tot_f = 0;
    uint64_t tot_b = 0;
    for (int l = 0; l < s.num_levels; l++) {
        uint64_t r = ld(&db->stats.compact_read_bytes[l]);
        uint64_t w = ld(&db->stats.compact_write_bytes[l]);
        if (l == 0)
            w += ld(&db->stats.flush_bytes);
        tot_r += r;
        tot_w += w;
        tot_f += s.nfiles[l];
        tot_b += s.bytes[l];
        if (s.nfiles[l] == 0 && r == 0 && w == 0)
            continue;
        outf(&o, "L%-5d %5d %11.1f %10.1f %11.1f  %5.2f\n", l, s.nfiles[l],
             (double)s.bytes[l] / 1048576.0, (double)r / 1048576.0, (double)w / 1048576.0,
             user ? (double)w / (double)user : 0.0);
    }
    outf(&o, "Sum    %5d %11.1f %10.1f %11.1f  %5.2f\n", tot_f, (double)tot_b / 1048576.0,
         (double)tot_r / 1048576.0, (double)tot_w / 1048576.0,
         user ? (double)tot_w / (double)user : 0.0);
    outf(&o,
         "User writes: %" PRIu64 " ops in %" PRIu64 " groups, %.1f MiB; WAL %.1f MiB, "
         "%" PRIu64 " syncs\n",
         ld(&db->stats.num_writes), ld(&db->stats.num_write_groups), (double)user / 1048576.0,
         (double)ld(&db->stats.wal_bytes) / 1048576.0, ld(&db->stats.wal_syncs));
    outf(&o, "WAL syncs: %.1f us each; leaders waited %.3f s for full groups\n",
         ld(&db->stats.wal_syncs)
             ? (double)ld(&db->stats.wal_sync_micros) / (double)ld(&db->stats.wal_syncs)
             : 0.0,
         (double)ld(&db->stats.group_wait_micros) / 1e6);
    outf(&o, "Write amplification (WAL + flush + compaction) / user: %.2f\n", write_amp(db));
    outf(&o,
         "Compaction: score %.2f (L%d), %d running, %" PRIu64 " jobs, %" PRIu64
         " trivial moves, %.1f s, pending %.1f MiB\n",
         s.score, s.score_level, s.n_running, ld(&db->stats.compact_count),
         ld(&db->stats.trivial_moves), (double)ld(&db->stats.compact_micros) / 1e6,
         (double)s.pending_bytes / 1048576.0);
    outf(&o,
         "Dropped: %" PRIu64 " shadowed, %" PRIu64 " tombstones, %" PRIu64 " expired, %" PRIu64
         " range-deleted; %" PRIu64 " tombstone compactions\n",
         ld(&db->stats.dropped_shadowed), ld(&db->stats.dropped_tombstones),
         ld(&db->stats.dropped_expired), ld(&db->stats.dropped_range_deleted),
         ld(&db->stats.tombstone_compactions));
    outf(&o, "Stalls:");
    for (int c = 0; c < STALL_CAUSES; c++)
        outf(&o, " %s %" PRIu64 " (%.3f s)", stall_names[c], ld(&db->stats.stall_count[c]),
             (double)ld(&db->stats.stall_micros[c]) / 1e6);
    outf(&o, "; timeouts %" PRIu64 "\n", ld(&db->stats.stall_timeouts));
    uint64_t lookups = cs.hits + cs.misses;
    outf(&o,
         "Block cache: %.1f / %.1f MiB, hits %" PRIu64 ", misses %" PRIu64 " (hit rate %.1f%%)\n",
         (double)cs.usage / 1048576.0, (double)cs.capacity / 1048576.0, cs.hits, cs.misses,
         lookups ? 100.0 * (double)cs.hits / (double)lookups : 0.0);
    outf(&o, "Bloom filter: %" PRIu64 " lookups avoided; %" PRIu64 " block reads\n",
         table_stat_bloom_useful(), table_stat_block_reads());
    outf(&o,
         "Memtables: active %.1f MiB, %d immutable %.1f MiB; last sequence %" PRIu64
         "; %d snapshots\n",
         (double)s.mem_bytes / 1048576.0, s.n_imm, (double)s.imm_bytes / 1048576.0, s.last_seq,
         s.n_snapshots);
    vlog_figures vf;
    gather_vlog(db, &vf);
    outf(&o,
         "Value log: %d segments, %.1f MiB, live %.1f MiB; GC %" PRIu64 " runs, %.1f MiB "
         "rewritten, %" PRIu64 " segments deleted\n",
         vf.segments, (double)vf.bytes / 1048576.0, (double)vf.live / 1048576.0,
         ld(&db->stats.vlog_gc_runs), (double)ld(&db->stats.vlog_gc_rewritten_bytes) / 1048576.0,
         ld(&db->stats.vlog_gc_deleted_segments));
    outf(&o, "Background errors: %" PRIu64 "%s\n", ld(&db->stats.bg_errors),
         atomic_load(&db->bg_error) ? " (writes refused: shale_resume or reopen)" : "");
    if (o.err) {
        free(o.p);
        return o.err;
    }
    *res = o.p;
    return 0;
}

int db_property(shale_db *db, const char *name, char **res)
{
    if (strcmp(name, "shale.stats") == 0)
        return stats_report(db, res);
    if (strcmp(name, "shale.vlog-segments") == 0)
        return vlog_report(db, res);
    if (strcmp(name, "shale.write-amplification") == 0) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.3f", write_amp(db));
        *res = strdup(tmp);
        return *res ? 0 : -ENOMEM;
    }
    uint64_t v;
    int rc = db_property_int(db, name, &v);
    if (rc)
        return rc;
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    *res = strdup(tmp);
    return *res ? 0 : -ENOMEM;
}

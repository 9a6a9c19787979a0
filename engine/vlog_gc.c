/*
 * vlog_gc.c - value-log garbage collection (shale_vlog_gc) and its background thread.
 *
 * Steps, each a point where a crash must lose nothing (tests stop the process at each):
 *  1. pick the flushed segment with the most garbage (vlog.h counters);
 *  2. stream its records; each value whose newest entry is still a pointer to exactly
 *     this copy is written again, in batches, through the write path with a filter that
 *     re-checks the pointer as the write leader (so a user's newer write always wins);
 *  3. sync the log the rewrites went to;
 *  4. once no snapshot older than the rewrites exists: a manifest edit removes the
 *     segment from the version (versions still held by readers and iterators keep it);
 *  5. the file is deleted when the last version holding it goes (db_delete_obsolete).
 * A crash before 4 leaves the segment and the rewrites (newer copies of the same
 * values); after 4, the open's directory sweep deletes a file no version lists.
 *
 * Reclaim only (vlog_gc_rewrite 0, a replica's GC: nothing may take sequence numbers
 * there but the primary's records): step 1 picks only segments with no live bytes, and
 * step 2 writes nothing; it only checks that no value is still live (the counters come
 * from compactions and could lag behind a table), else the segment stays.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_impl.h"
#include "file.h"
#include "sync_point.h"
#include "vlog.h"

#define GC_BATCH_ENTRIES 256
#define GC_BATCH_BYTES (1u << 20)

static _Atomic int crash_step;

void vlog_gc_crash_at(int step)
{
    atomic_store(&crash_step, step);
}

/* A test's stand-in for SIGKILL between two steps. */
static void crash_point(int step)
{
    if (atomic_load_explicit(&crash_step, memory_order_relaxed) == step)
        _exit(VLOG_GC_CRASH_EXIT);
}

/* Is the newest entry of key a pointer to (segment, offset) that has not expired? */
static int still_points_here(shale_db *db, super_version *sv, slice key, uint64_t segment,
                             uint64_t offset, buf *scratch)
{
    int kind;
    int rc = db_get_newest(db, sv, key, &kind, scratch);
    if (rc <= 0)
        return rc;
    vptr p;
    if (kind != KIND_VPTR || vptr_decode(buf_slice(scratch), &p))
        return 0;
    if (p.expire_at_ms && p.expire_at_ms <= db_now_ms())
        return 0;
    return p.segment == segment && p.offset == offset;
}

/* A batch of rewrites and, per entry, the offset of the copy it replaces. */
typedef struct gc_batch {
    uint64_t segment;
    shale_batch *batch;
    uint64_t offsets[GC_BATCH_ENTRIES];
    int n;
} gc_batch;

typedef struct filter_ctx {
    shale_db *db;
    super_version *sv;
    gc_batch *gb;
    int i;
    shale_batch *out;
    buf scratch;
} filter_ctx;

static int filter_one(void *arg, uint64_t seq, int kind, slice key, slice value)
{
    filter_ctx *c = arg;
    uint64_t off = c->gb->offsets[c->i++];
    int live = still_points_here(c->db, c->sv, key, c->gb->segment, off, &c->scratch);
    if (live <= 0)
        return live;
    uint64_t expiry = entry_expiry(kind, value);
    slice v = kind == KIND_EXPIRING ? expiring_value_payload(value) : value;
    return shale_batch_put(c->out, key.data, key.len, v.data, v.len, expiry);
}

/* The write leader's check (db_write_filtered): keeps only entries still live. */
static int gc_filter(shale_db *db, super_version *sv, shale_batch *batch, void *arg)
{
    filter_ctx c = {.db = db, .sv = sv, .gb = arg};
    int rc = shale_batch_new(&c.out);
    if (rc == 0)
        rc = batch_rep_iterate(batch_rep(batch), filter_one, &c);
    if (rc == 0) {
        shale_batch tmp = *batch;
        *batch = *c.out;
        *c.out = tmp;
    }
    shale_batch_free(c.out);
    buf_free(&c.scratch);
    return rc;
}

/* GC's writes have low priority: they wait while foreground writes are stalled or
   slowed down, so GC never adds to a stall. */
static int wait_for_calm(shale_db *db)
{
    for (;;) {
        pthread_mutex_lock(&db->mu);
        bool busy = db_l0_count(db) >= db->opts.l0_slowdown_trigger ||
                    db->n_imm + 1 >= db->opts.num_memtables;
        bool closing = db->closing || db->gc_stopping;
        pthread_mutex_unlock(&db->mu);
        if (closing)
            return SHALE_ECLOSING;
        if (!busy)
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int gc_submit(shale_db *db, gc_batch *gb)
{
    if (gb->n == 0)
        return 0;
    SYNC_POINT("vlog_gc:submit");
    int rc = wait_for_calm(db);
    if (rc == 0)
        rc = db_write_filtered(db, gb->batch, gc_filter, gb);
    if (rc == 0) /* the filter left only what it wrote */
        atomic_fetch_add_explicit(&db->stats.vlog_gc_rewritten_bytes,
                                  shale_batch_size(gb->batch), memory_order_relaxed);
    if (rc == 0)
        crash_point(2);
    shale_batch_clear(gb->batch);
    gb->n = 0;
    return rc;
}

typedef struct stream_ctx {
    shale_db *db;
    bool reclaim_only; /* count live values, write nothing */
    gc_batch *gb;
    super_version *sv;
    uint64_t payload_pos; /* file offset of the record's payload */
    const char *payload;
    buf scratch;
    uint64_t candidates;
} stream_ctx;

static int stream_one(void *arg, const batch_entry *e)
{
    stream_ctx *c = arg;
    if (e->kind != KIND_VALUE && e->kind != KIND_EXPIRING)
        return 0;
    slice key = e->key, value = e->value;
    int kind = e->kind;
    slice payload = kind == KIND_EXPIRING ? expiring_value_payload(value) : value;
    /* where a pointer to this copy points: its compressed bytes, or the value itself */
    uint64_t off = c->payload_pos + (uint64_t)(e->stored - c->payload) +
                   (e->stored_len ? 0 : (uint64_t)(value.len - payload.len));
    /* A first look outside the write path, so dead values are never copied. */
    int live = still_points_here(c->db, c->sv, key, c->gb->segment, off, &c->scratch);
    if (live <= 0)
        return live;
    c->candidates++;
    if (c->reclaim_only)
        return 0;
    int rc = shale_batch_put(c->gb->batch, key.data, key.len, payload.data, payload.len,
                             entry_expiry(kind, value));
    if (rc)
        return rc;
    c->gb->offsets[c->gb->n++] = off;
    size_t max_bytes = __atomic_load_n(&c->db->opts.memtable_size, __ATOMIC_RELAXED) / 4;
    if (max_bytes > GC_BATCH_BYTES)
        max_bytes = GC_BATCH_BYTES;
    if (c->gb->n == GC_BATCH_ENTRIES || shale_batch_size(c->gb->batch) >= max_bytes) {
        rc = gc_submit(c->db, c->gb);
        /* Later lookups must see what was just written. */
        db_sv_release(c->sv);
        c->sv = db_sv_acquire(c->db);
    }
    return rc;
}

/* Steps 2 and 3: rewrites the live values of segment s (reclaim_only: counts them). */
static int rewrite_segment(shale_db *db, vlog_segment *s, bool reclaim_only, uint64_t *live_found)
{
    wal_reader *r;
    int rc = wal_reader_open(s->path, s->number, &r);
    if (rc)
        return rc;
    gc_batch *gb = calloc(1, sizeof *gb);
    if (!gb || shale_batch_new(&gb->batch)) {
        free(gb);
        wal_reader_close(r);
        return -ENOMEM;
    }
    gb->segment = s->number;
    stream_ctx c = {.db = db, .reclaim_only = reclaim_only, .gb = gb, .sv = db_sv_acquire(db)};
    slice rec;
    int n;
    while ((n = wal_reader_next(r, &rec)) > 0) {
        if (__atomic_load_n(&db->gc_stopping, __ATOMIC_RELAXED)) {
            rc = SHALE_ECLOSING; /* the segment stays; a later GC starts it again */
            break;
        }
        c.payload_pos = wal_reader_offset(r) + WAL_HEADER_SIZE;
        c.payload = rec.data;
        db_rate_limit(db, rec.len + WAL_HEADER_SIZE);
        rc = batch_rep_iterate_entries(rec, stream_one, &c);
        if (rc)
            break;
    }
    if (rc == 0 && n < 0) {
        rc = n;
        db_log(db, "value-log GC: %s in segment %06" PRIu64 " at offset %" PRIu64
               "; segment kept", shale_strerror(rc), s->number, wal_reader_offset(r));
    }
    if (rc == 0 && !reclaim_only)
        rc = gc_submit(db, gb);
    if (rc == 0 && !reclaim_only)
        rc = db_wal_sync_all(db);
    db_sv_release(c.sv);
    wal_reader_close(r);
    buf_free(&c.scratch);
    shale_batch_free(gb->batch);
    free(gb);
    *live_found = c.candidates;
    return rc;
}

/* Step 4 for every emptied segment no snapshot needs any more (gc_mu held). */
static int reap_locked(shale_db *db)
{
    int rc = 0;
    pthread_mutex_lock(&db->mu);
    uint64_t oldest = db_smallest_snapshot(db);
    version_edit e;
    edit_init(&e);
    int keep = 0;
    for (int i = 0; i < db->n_gc_pending; i++) {
        /* A snapshot at seq S sees the rewrites when S >= their last sequence. */
        if (db->gc_pending[i].seq > oldest || edit_vlog_delete(&e, db->gc_pending[i].number))
            db->gc_pending[keep++] = db->gc_pending[i];
    }
    int n_deleted = e.n_vlog_deleted;
    if (n_deleted) {
        uint64_t bytes = 0;
        for (int i = 0; i < n_deleted; i++) {
            vlog_segment *s = version_segment(db->vs->current, e.vlog_deleted[i]);
            if (s)
                bytes += vlog_segment_file_size(s);
        }
        int arc = version_set_log_and_apply(db->vs, &e, &db->mu);
        if (arc == 0)
            arc = db_sv_install(db);
        if (arc) {
            rc = arc;
            keep = db->n_gc_pending; /* try again later */
        } else {
            atomic_fetch_add_explicit(&db->stats.vlog_gc_deleted_segments, (uint64_t)n_deleted,
                                      memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.vlog_gc_deleted_bytes, bytes,
                                      memory_order_relaxed);
        }
    }
    db->n_gc_pending = keep;
    pthread_mutex_unlock(&db->mu);
    edit_destroy(&e);
    if (n_deleted && rc == 0) {
        crash_point(4);
        db_delete_obsolete(db);
        crash_point(5);
    }
    return rc;
}

void db_vlog_gc_reap(shale_db *db)
{
    /* A running GC reaps when it ends; never wait for one here. */
    if (pthread_mutex_trylock(&db->gc_mu) != 0)
        return;
    if (db->n_gc_pending)
        reap_locked(db);
    pthread_mutex_unlock(&db->gc_mu);
}

static bool is_pending(const shale_db *db, uint64_t number)
{
    for (int i = 0; i < db->n_gc_pending; i++)
        if (db->gc_pending[i].number == number)
            return true;
    return false;
}

version *db_vlog_view(shale_db *db, uint64_t *log_number)
{
    pthread_mutex_lock(&db->mu);
    version *v = db->vs->current;
    version_ref(v);
    *log_number = db->vs->log_number;
    pthread_mutex_unlock(&db->mu);
    return v;
}

/* Step 1: the flushed segment with the most garbage, referenced; NULL when none reaches
   ratio (gc_mu held). reclaim_only: among segments with no live bytes only. */
static vlog_segment *pick_segment(shale_db *db, double ratio, bool reclaim_only,
                                  double *found_ratio)
{
    uint64_t log_number;
    version *v = db_vlog_view(db, &log_number);
    uint64_t now = db_now_ms();
    vlog_segment *best = NULL;
    double best_ratio = -1;
    for (int i = 0; i < v->nsegs; i++) {
        vlog_segment *s = v->segs[i];
        if (s->number >= log_number || is_pending(db, s->number))
            continue; /* still needed to recover unflushed writes, or already emptied */
        uint64_t size, live;
        double r = vlog_segment_garbage(s, now, &size, &live);
        if (size == 0 || (reclaim_only && live > 0))
            continue;
        if (r > best_ratio) {
            best_ratio = r;
            best = s;
        }
    }
    *found_ratio = best_ratio < 0 ? 0 : best_ratio;
    if (best && best_ratio >= ratio)
        vlog_segment_ref(best);
    else
        best = NULL;
    version_unref(v);
    return best;
}

int shale_vlog_gc(shale_db *db, double discard_ratio)
{
    if (!db || !(discard_ratio > 0 && discard_ratio < 1))
        return -EINVAL;
    if (atomic_load(&db->bg_error))
        return SHALE_EFAILED;
    pthread_mutex_lock(&db->gc_mu);
    int rc = db->n_gc_pending ? reap_locked(db) : 0;
    double r;
    bool reclaim_only = !__atomic_load_n(&db->opts.vlog_gc_rewrite, __ATOMIC_RELAXED);
    vlog_segment *s = rc ? NULL : pick_segment(db, discard_ratio, reclaim_only, &r);
    if (!s) {
        pthread_mutex_unlock(&db->gc_mu);
        return rc ? rc : SHALE_ENOREWRITE;
    }
    crash_point(1);
    uint64_t start = db_now_us(), live = 0, size = vlog_segment_file_size(s);
    rc = rewrite_segment(db, s, reclaim_only, &live);
    crash_point(3);
    if (rc == 0 && reclaim_only && live > 0) {
        db_log(db, "value-log GC (reclaim only): segment %06" PRIu64 " still holds %" PRIu64
               " live values; kept", s->number, live);
        rc = SHALE_ENOREWRITE;
    }
    if (rc == 0) {
        struct gc_pending *p = realloc(db->gc_pending, (size_t)(db->n_gc_pending + 1) * sizeof *p);
        if (!p) {
            rc = -ENOMEM;
        } else {
            db->gc_pending = p;
            p[db->n_gc_pending++] =
                (struct gc_pending){s->number, atomic_load(&db->last_seq)};
            atomic_fetch_add_explicit(&db->stats.vlog_gc_runs, 1, memory_order_relaxed);
            db_log(db,
                   "value-log GC: segment %06" PRIu64 " (%" PRIu64 " bytes, %.0f%% garbage): "
                   "%" PRIu64 " live values rewritten in %" PRIu64 " ms%s",
                   s->number, size, r * 100, live, (db_now_us() - start) / 1000,
                   reclaim_only ? " (reclaim only)" : "");
            rc = reap_locked(db);
        }
    }
    vlog_segment_unref(s, db->vs); /* may be the last reference: delete the file now */
    pthread_mutex_unlock(&db->gc_mu);
    db_delete_obsolete(db);
    return rc;
}

void *db_vlog_gc_thread(void *arg)
{
    shale_db *db = arg;
    pthread_mutex_lock(&db->mu);
    uint64_t last_run = db_now_us();
    while (!db->closing && !db->gc_stopping) {
        uint32_t secs = __atomic_load_n(&db->opts.vlog_gc_interval_s, __ATOMIC_RELAXED);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        /* work_cv also wakes for flushes: GC runs only once the interval has passed */
        pthread_cond_timedwait(&db->work_cv, &db->mu, &ts);
        if (db->closing || db->gc_stopping)
            break;
        pthread_mutex_unlock(&db->mu);
        db_vlog_gc_reap(db); /* segments whose snapshots are gone (checked under gc_mu) */
        pthread_mutex_lock(&db->mu);
        if (secs == 0 || db_now_us() - last_run < (uint64_t)secs * 1000000u)
            continue;
        last_run = db_now_us();
        double ratio = db->opts.vlog_gc_discard_ratio;
        pthread_mutex_unlock(&db->mu);
        int rc;
        do
            rc = shale_vlog_gc(db, ratio);
        while (rc == 0);
        if (rc != SHALE_ENOREWRITE && rc != SHALE_ECLOSING)
            db_log(db, "background value-log GC: %s", shale_strerror(rc));
        pthread_mutex_lock(&db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

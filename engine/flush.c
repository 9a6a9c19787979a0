/*
 * flush.c - turning immutable memtables into level-0 tables on the flush thread, the
 * table output used by flushes and compactions, the background rate limiter and the
 * deletion of obsolete files.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_impl.h"
#include "file.h"
#include "format.h"
#include "sync_point.h"
#include "table_builder.h"
#include "vlog.h"

/* ---- table output ---- */

int table_output_open(shale_db *db, uint64_t number, table_output *o)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->f = file_meta_new();
    if (!o->f)
        return -ENOMEM;
    o->f->number = number ? number : version_set_new_file_number(db->vs);
    char path[PATH_MAX];
    int rc = file_name_table(path, sizeof path, db->dir, o->f->number);
    if (rc >= 0)
        rc = file_open_write(path, true, &o->fd);
    if (rc == 0)
        rc = table_builder_new(&db->opts, o->fd, &o->tb);
    if (rc) {
        table_output_abandon(db, o);
        return rc;
    }
    return 0;
}

int table_output_add(shale_db *db, table_output *o, slice ikey, slice value)
{
    if (table_builder_num_entries(o->tb) == 0 && buf_set(&o->f->smallest, ikey.data, ikey.len))
        return -ENOMEM;
    int rc = table_builder_add(o->tb, ikey, value);
    if (rc)
        return rc;
    if (buf_set(&o->f->largest, ikey.data, ikey.len))
        return -ENOMEM;
    uint64_t size = table_builder_file_size(o->tb);
    if (size - o->rate_charged >= (256u << 10)) {
        db_rate_limit(db, size - o->rate_charged);
        o->rate_charged = size;
    }
    return 0;
}

int table_output_add_range_del(table_output *o, slice begin, slice end, uint64_t seq)
{
    int rc = table_builder_add_range_del(o->tb, begin, end, seq);
    if (rc)
        return rc;
    char trailer[TRAILER_SIZE];
    buf k = {0};
    rc = ikey_append(&k, begin, seq, KIND_RANGE_DELETE);
    if (rc == 0 &&
        (o->f->smallest.len == 0 || ikey_compare(buf_slice(&k), buf_slice(&o->f->smallest)) < 0))
        rc = buf_set(&o->f->smallest, k.data, k.len);
    k.len = 0;
    encode_fixed64(trailer, range_del_sentinel_trailer());
    if (rc == 0)
        rc = buf_append(&k, end.data, end.len) | buf_append(&k, trailer, sizeof trailer);
    if (rc == 0 &&
        (o->f->largest.len == 0 || ikey_compare(buf_slice(&k), buf_slice(&o->f->largest)) > 0))
        rc = buf_set(&o->f->largest, k.data, k.len);
    buf_free(&k);
    return rc ? -ENOMEM : 0;
}

int table_output_add_range_dels(table_output *o, const rdel_list *l)
{
    for (int i = 0; l && i < l->n; i++)
        for (uint32_t j = 0; j < l->frags[i].nseqs; j++) {
            const rdel_frag *f = &l->frags[i];
            int rc = table_output_add_range_del(o, f->begin, f->end, f->seqs[j]);
            if (rc)
                return rc;
        }
    return 0;
}

uint64_t table_output_size(const table_output *o)
{
    return table_builder_file_size(o->tb);
}

int table_output_finish(shale_db *db, table_output *o)
{
    int rc = table_builder_finish(o->tb);
    if (rc == 0)
        rc = file_fdatasync(o->fd);
    if (rc == 0) {
        const table_props *p = table_builder_props(o->tb);
        o->f->file_size = table_builder_file_size(o->tb);
        o->f->min_seq = p->min_seq;
        o->f->max_seq = p->max_seq;
        o->f->num_entries = p->num_entries;
        o->f->num_deletes = p->num_deletes;
        o->f->num_live_keys = p->num_live_keys;
        o->f->num_range_dels = p->num_range_dels;
        o->f->max_expire_at_ms = p->max_expire_at_ms;
        db_rate_limit(db, o->f->file_size - o->rate_charged);
        /* The pages were just written: reading them back comes through the block cache. */
        file_advise_dontneed(o->fd, 0, 0);
    }
    table_builder_free(o->tb);
    o->tb = NULL;
    int crc = file_close(o->fd);
    o->fd = -1;
    if (rc == 0)
        rc = crc;
    if (rc) {
        table_output_abandon(db, o);
        return rc;
    }
    return 0;
}

void table_output_abandon(shale_db *db, table_output *o)
{
    table_builder_free(o->tb);
    o->tb = NULL;
    if (o->fd >= 0)
        file_close(o->fd);
    o->fd = -1;
    if (o->f) {
        char path[PATH_MAX];
        if (file_name_table(path, sizeof path, db->dir, o->f->number) > 0)
            file_unlink(path);
        file_meta_unref(o->f, NULL);
        o->f = NULL;
    }
}

/* ---- drop rules (shared with compaction.c) ---- */

enum entry_fate entry_decide(drop_state *s, const parsed_ikey *k, slice value,
                             uint64_t smallest_snapshot, bool base_level, uint64_t now_ms)
{
    if (!s->has_cur || !slice_equal(k->user_key, buf_slice(&s->cur_key))) {
        buf_set(&s->cur_key, k->user_key.data, k->user_key.len);
        s->has_cur = true;
        s->last_seq_for_key = MAX_SEQUENCE + 1;
    }
    uint64_t newer = s->last_seq_for_key;
    s->last_seq_for_key = k->seq;
    /* A newer entry of this key is visible to every snapshot: this one is shadowed. */
    if (newer <= smallest_snapshot)
        return ENTRY_DROP;
    if (k->seq > smallest_snapshot)
        return ENTRY_KEEP;
    if (k->kind == KIND_DELETE)
        return base_level ? ENTRY_DROP : ENTRY_KEEP;
    uint64_t expiry = entry_expiry(k->kind, value);
    if (expiry && expiry <= now_ms)
        /* Expired for everyone. It still hides older versions below, unless none exist. */
        return base_level ? ENTRY_DROP : ENTRY_TOMBSTONE;
    return ENTRY_KEEP;
}

/* ---- flush ---- */

/*
 * The table entry for a memtable entry: a value of at least value_threshold bytes whose
 * bytes sit in the memtable's log becomes a pointer to them (vlog.h), counted in *d.
 * Returns the entry to write; scratch holds a rewritten key and value.
 */
static void to_pointer(shale_db *db, iter *it, const parsed_ikey *pk, slice *key, slice *value,
                       buf *kscratch, char *vscratch, vlog_delta *d)
{
    size_t threshold = __atomic_load_n(&db->opts.value_threshold, __ATOMIC_RELAXED);
    if (threshold == 0 || db->opts.compaction_style == SHALE_COMPACTION_FIFO ||
        (pk->kind != KIND_VALUE && pk->kind != KIND_EXPIRING))
        return;
    slice payload = pk->kind == KIND_EXPIRING ? expiring_value_payload(*value) : *value;
    uint32_t stored_len;
    uint64_t pos = memtable_iter_value_pos(it, &stored_len);
    if (payload.len < threshold || pos == 0)
        return;
    /* pos: the value field as written (expiry first), or its compressed bytes */
    vptr p = {.expire_at_ms = entry_expiry(pk->kind, *value),
              .segment = d->number,
              .offset = stored_len ? pos : pos + (uint64_t)(payload.data - value->data),
              .len = (uint32_t)payload.len,
              .checksum = checksum32(payload.data, payload.len),
              .stored_len = stored_len};
    kscratch->len = 0;
    if (ikey_append(kscratch, pk->user_key, pk->seq, KIND_VPTR))
        return; /* out of memory: the value stays in the table */
    size_t plen = vptr_encode(vscratch, &p);
    *key = buf_slice(kscratch);
    *value = slice_make(vscratch, plen);
    d->pointed += vptr_disk_len(&p);
    if (p.expire_at_ms) {
        d->exp_pointed += vptr_disk_len(&p);
        if (p.expire_at_ms > d->exp_max)
            d->exp_max = p.expire_at_ms;
    }
}

/* The memtable's range tombstones for its table: fragmented, with the sequences every
   snapshot tells apart (range_del.h); *out NULL when none. Errors: -ENOMEM. */
static int flush_range_dels(memtable *m, uint64_t smallest_snapshot, rdel_list **out)
{
    *out = NULL;
    range_tomb *t;
    size_t n;
    int rc = memtable_range_tombs(m, &t, &n);
    if (rc == 0 && n)
        rc = rdel_list_build(t, n, UINT64_MAX, smallest_snapshot, out);
    free(t);
    return rc;
}

int db_write_l0_table(shale_db *db, memtable *m, uint64_t smallest_snapshot, file_meta *f,
                      vlog_delta *d)
{
    memset(d, 0, sizeof *d);
    d->number = memtable_log_number(m);
    rdel_list *rdels;
    int rc = flush_range_dels(m, smallest_snapshot, &rdels);
    if (rc)
        return rc;
    iter *it = memtable_iter_new(m);
    if (!it) {
        rdel_list_unref(rdels);
        return -ENOMEM;
    }
    table_output o;
    rc = table_output_open(db, f->number, &o);
    if (rc) {
        iter_free(it);
        rdel_list_unref(rdels);
        return rc;
    }
    rdel_cursor rc_cur;
    rdel_cursor_init(&rc_cur, rdels);
    uint64_t covered = 0;

    drop_state ds = {0};
    buf kscratch = {0};
    char vscratch[VPTR_MAX_SIZE];
    uint64_t dropped = 0;
    for (iter_seek_to_first(it); iter_valid(it) && rc == 0; iter_next(it)) {
        slice key = iter_key(it), value = iter_value(it);
        parsed_ikey pk;
        rc = ikey_parse(key, &pk);
        if (rc)
            break;
        /* deleted by a tombstone of this memtable that every snapshot sees */
        if (rdels && rdel_cursor_cover(&rc_cur, pk.user_key, smallest_snapshot) > pk.seq) {
            covered++;
            continue;
        }
        if (entry_decide(&ds, &pk, value, smallest_snapshot, false, 0) == ENTRY_DROP) {
            dropped++;
            continue;
        }
        to_pointer(db, it, &pk, &key, &value, &kscratch, vscratch, d);
        rc = table_output_add(db, &o, key, value);
    }
    if (rc == 0)
        rc = iter_status(it);
    if (rc == 0)
        rc = table_output_add_range_dels(&o, rdels);
    iter_free(it);
    rdel_list_unref(rdels);
    buf_free(&ds.cur_key);
    buf_free(&kscratch);
    atomic_fetch_add_explicit(&db->stats.dropped_shadowed, dropped, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_range_deleted, covered, memory_order_relaxed);
    if (rc == 0 && table_builder_num_entries(o.tb) == 0 &&
        !table_builder_props(o.tb)->num_range_dels) {
        table_output_abandon(db, &o);
        f->file_size = 0;
        return 0;
    }
    if (rc == 0)
        rc = table_output_finish(db, &o);
    else
        table_output_abandon(db, &o);
    if (rc)
        return rc;
    /* Copy what the output learned into the caller's meta. */
    file_meta *src = o.f;
    f->file_size = src->file_size;
    f->min_seq = src->min_seq;
    f->max_seq = src->max_seq;
    f->num_entries = src->num_entries;
    f->num_deletes = src->num_deletes;
    f->num_live_keys = src->num_live_keys;
    f->num_range_dels = src->num_range_dels;
    f->max_expire_at_ms = src->max_expire_at_ms;
    rc = buf_set(&f->smallest, src->smallest.data, src->smallest.len) |
         buf_set(&f->largest, src->largest.data, src->largest.len);
    file_meta_unref(src, NULL);
    atomic_fetch_add_explicit(&db->stats.flush_bytes, f->file_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.flush_count, 1, memory_order_relaxed);
    return rc ? -ENOMEM : 0;
}

/*
 * Deletes log `number` when no memtable and no segment needs it any more (mu held). Called
 * after the flush's manifest edit is durable: recovery starts past this log then, and no
 * table points into it. A crash before the unlink leaves the file for the next open,
 * which deletes logs below the manifest's log number that are not segments.
 */
static void maybe_delete_log(shale_db *db, uint64_t number)
{
    if (number >= db->vs->log_number || version_segment(db->vs->current, number))
        return;
    if (db->deletions_pinned) {
        /* a checkpoint may be about to link it: db_unpin_file_deletions comes back */
        uint64_t *p = db->deferred_logs;
        if (db->n_deferred_logs == db->cap_deferred_logs) {
            int cap = db->cap_deferred_logs ? 2 * db->cap_deferred_logs : 8;
            p = realloc(p, (size_t)cap * sizeof *p);
            if (!p)
                return; /* left for the next open's sweep, as after a crash */
            db->deferred_logs = p;
            db->cap_deferred_logs = cap;
        }
        p[db->n_deferred_logs++] = number;
        return;
    }
    char path[PATH_MAX];
    if (file_name_log(path, sizeof path, db->dir, number) > 0) {
        pthread_mutex_unlock(&db->mu);
        SYNC_POINT("flush:delete_log");
        file_unlink(path);
        pthread_mutex_lock(&db->mu);
    }
}

/* Flushes the oldest immutable memtable (mu held; released during the write). */
static int flush_one(shale_db *db)
{
    memtable *m = db->imm[0];
    memtable_ref(m);
    uint64_t snap = db_smallest_snapshot(db);
    db->flush_running = true;
    pthread_mutex_unlock(&db->mu);
    SYNC_POINT("flush:start");

    uint64_t start = db_now_us();
    file_meta *f = file_meta_new();
    vlog_delta d = {0};
    bool logged = false; /* the edit reached version_set_log_and_apply */
    int rc = f ? 0 : -ENOMEM;
    if (rc == 0) {
        f->number = version_set_new_file_number(db->vs);
        rc = db_write_l0_table(db, m, snap, f, &d);
    }
    /* Tables must never point to log bytes a crash could still take away. */
    if (rc == 0 && d.pointed)
        rc = db_wal_sync_all(db);

    pthread_mutex_lock(&db->mu);
    if (rc == 0) {
        version_edit e;
        edit_init(&e);
        if (f->file_size > 0)
            rc = edit_add_file(&e, 0, f);
        if (rc == 0 && d.pointed)
            rc = edit_vlog_add(&e, &d);
        /* The log before the next memtable's first record is no longer needed. */
        memtable *next = db->n_imm > 1 ? db->imm[1] : db->mem;
        e.has_log_number = true;
        e.log_number = memtable_log_number(next);
        e.log_offset = memtable_log_offset(next);
        /* Exactly the last sequence before that position, so that recovery can tell a
           hole from a whole log (see replay_log). */
        e.has_last_seq = true;
        e.last_seq = memtable_log_last_seq(next);
        if (rc == 0) {
            logged = true;
            rc = version_set_log_and_apply(db->vs, &e, &db->mu);
        }
        edit_destroy(&e);
        if (rc == 0) {
            memmove(db->imm, db->imm + 1, (size_t)(db->n_imm - 1) * sizeof db->imm[0]);
            db->n_imm--;
            memtable_unref(m); /* the db's reference */
            rc = db_sv_install(db);
        }
    }
    /* A failed manifest write may still have put the edit in the file, where the next
       open would find it: the table stays, and the open's sweep removes it if unused. */
    if (rc && f && f->file_size > 0 && !logged) {
        char path[PATH_MAX];
        if (file_name_table(path, sizeof path, db->dir, f->number) > 0)
            file_unlink(path);
    }
    uint64_t log_number = memtable_log_number(m);
    memtable_unref(m);
    if (f)
        file_meta_unref(f, NULL);
    db->flush_running = false;
    if (rc == 0) {
        db_log(db, "flushed memtable (log %06" PRIu64 ") to L0 in %" PRIu64 " ms", log_number,
               (db_now_us() - start) / 1000);
        maybe_delete_log(db, log_number);
    }
    return rc;
}

void *db_flush_thread(void *arg)
{
    shale_db *db = arg;
    pthread_mutex_lock(&db->mu);
    while (!db->closing) {
        if (db->n_imm == 0 || db->bg_retry_after_us > db_now_us()) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&db->work_cv, &db->mu, &ts);
            continue;
        }
        int rc = flush_one(db);
        if (rc) {
            atomic_fetch_add_explicit(&db->stats.bg_errors, 1, memory_order_relaxed);
            db_log(db, "flush failed: %s; retrying in 1 s", shale_strerror(rc));
            db->flush_failures++;
            db->flush_error = rc;
            db->flush_failing = true;
            db->bg_retry_after_us = db_now_us() + 1000000u;
        } else {
            db->flush_failing = false;
        }
        db_maybe_schedule_compaction(db);
        pthread_cond_broadcast(&db->bg_cv);
        pthread_mutex_unlock(&db->mu);
        db_delete_obsolete(db);
        pthread_mutex_lock(&db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

/* ---- obsolete files ---- */

void db_delete_obsolete(shale_db *db)
{
    pthread_mutex_lock(&db->mu);
    bool pinned = db->deletions_pinned > 0;
    pthread_mutex_unlock(&db->mu);
    if (pinned)
        return; /* the lists wait in the version set for the unpin */
    uint64_t *numbers;
    int n;
    version_set_take_obsolete(db->vs, &numbers, &n);
    char path[PATH_MAX];
    for (int i = 0; i < n; i++) {
        table_cache_evict(db->tc, numbers[i]);
        if (file_name_table(path, sizeof path, db->dir, numbers[i]) > 0)
            file_unlink(path);
    }
    free(numbers);
    version_set_take_obsolete_logs(db->vs, &numbers, &n);
    for (int i = 0; i < n; i++) {
        table_cache_evict_log(db->tc, numbers[i]);
        if (file_name_log(path, sizeof path, db->dir, numbers[i]) > 0 && file_unlink(path) == 0)
            db_log(db, "deleted value-log segment %06" PRIu64, numbers[i]);
    }
    free(numbers);
}

void db_pin_file_deletions(shale_db *db)
{
    pthread_mutex_lock(&db->mu);
    db->deletions_pinned++;
    pthread_mutex_unlock(&db->mu);
}

void db_unpin_file_deletions(shale_db *db)
{
    pthread_mutex_lock(&db->mu);
    if (--db->deletions_pinned == 0) {
        /* maybe_delete_log checks again: a log is deleted only if still unneeded */
        while (db->n_deferred_logs > 0 && !db->deletions_pinned)
            maybe_delete_log(db, db->deferred_logs[--db->n_deferred_logs]);
    }
    pthread_mutex_unlock(&db->mu);
    db_delete_obsolete(db);
}

/* ---- rate limiter: a token bucket refilled at compaction_rate_limit bytes/s ---- */

void db_rate_limit(shale_db *db, uint64_t bytes)
{
    uint64_t rate = db_opt_u64(&db->opts.compaction_rate_limit);
    if (rate == 0 || bytes == 0)
        return;
    pthread_mutex_lock(&db->rl_mu);
    uint64_t now = db_now_us();
    if (db->rl_last_us == 0)
        db->rl_last_us = now;
    db->rl_tokens += (double)(now - db->rl_last_us) * (double)rate / 1e6;
    if (db->rl_tokens > (double)rate / 10) /* bursts of at most 100 ms */
        db->rl_tokens = (double)rate / 10;
    db->rl_last_us = now;
    db->rl_tokens -= (double)bytes;
    double owed = -db->rl_tokens;
    pthread_mutex_unlock(&db->rl_mu);
    if (owed > 0) {
        uint64_t us = (uint64_t)(owed * 1e6 / (double)rate);
        struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
        nanosleep(&ts, NULL);
    }
}

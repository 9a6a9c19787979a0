/*
 * ks_fifo.c - fifo databases: one engine each (compaction style fifo), the table of them,
 * and the checks after the engine dropped its oldest tables.
 *
 * A fifo engine drops whole tables without telling anyone which keys went with them, so
 * after a drop the keyspace's counts are recounted, a little per background step. Each
 * step reads on from a cursor with a fresh iterator (a snapshot kept across steps would
 * keep dropped tables on disk while writes go on): a key is counted as the step finds
 * it, and a change to a key the recount has passed is added to its figures at commit
 * (ks_fifo_behind), so that at the end they are exact unless more tables were dropped
 * meanwhile, which starts another recount. The same pass repairs what a drop can leave half-there,
 * because the engine keys of one key need not share a table: a hash whose older fields
 * went with an older table gets its field count rewritten (or is deleted when none is
 * left), and a key with a TTL whose expiry-index entry went (the key was rewritten with
 * its TTL kept) gets the entry again, so that active expiry still finds it.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_internal.h"

#define FIFO_DIR_PREFIX "fifo-"
#define RECOUNT_PER_KEY 100 /* keys counted per unit of ks_background's budget */
#define REPAIR_COST 10      /* a repair check reads: it counts as this many keys */

typedef struct ks_recount {
    ks_key cursor;          /* the last metadata key counted (engine key) */
    bool started;           /* cursor holds a key */
    int dbi;
    unsigned map_seq;       /* the mapping it started under */
    uint64_t dropped;       /* fifo-deleted-bytes when it started */
    int64_t count, expires; /* keys (and keys with a TTL) counted and changed since */
} ks_recount;

ks_fifo *ks_fifo_by_phys(keyspace *ks, uint32_t phys)
{
    for (int i = 0; i < ks->nfifo; i++)
        if (ks->fifo[i].phys == phys)
            return &ks->fifo[i];
    return NULL;
}

ks_fifo *ks_fifo_of(keyspace *ks, int dbi)
{
    return ks_fifo_by_phys(ks, ks->phys[dbi]);
}

static int fifo_dir(const keyspace *ks, uint32_t phys, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/" FIFO_DIR_PREFIX "%" PRIu32, ks->dir, phys);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Small pieces against the cap: a table per memtable, and log segments (deleted once
   their memtables are flushed, as a fifo engine keeps no value in them) that roll often
   enough for the cap to bound the disk: an eighth of the cap each at most. */
static uint64_t piece_size(const shale_options *o, uint64_t cap, bool log)
{
    uint64_t piece = cap / 8 < (1u << 20) ? 1u << 20 : cap / 8;
    uint64_t size = log ? o->vlog_file_size : o->memtable_size;
    return size < piece ? size : piece;
}

int ks_fifo_open_engine(keyspace *ks, uint32_t phys, uint64_t cap, ks_fifo **out)
{
    if (ks->nfifo == KS_MAX_FIFO)
        return SHALE_EBUSY;
    char dir[4200];
    int rc = fifo_dir(ks, phys, dir, sizeof dir);
    if (rc)
        return rc;
    shale_options o = ks->fifo_options;
    o.compaction_style = SHALE_COMPACTION_FIFO;
    if (cap)
        o.fifo_max_size = cap;
    o.vlog_file_size = piece_size(&ks->fifo_options, o.fifo_max_size, true);
    o.memtable_size = piece_size(&ks->fifo_options, o.fifo_max_size, false);
    o.compaction_filter = NULL; /* nothing is rewritten: a fifo engine only drops tables */
    o.compaction_filter_ctx = NULL;
    ks_fifo f = {.phys = phys, .cap = o.fifo_max_size};
    rc = shale_open(dir, &o, &f.db);
    if (rc == 0 && (rc = shale_batch_new(&f.batch)) != 0)
        shale_close(f.db);
    if (rc)
        return rc;
    shale_property_int(f.db, "shale.fifo-deleted-bytes", &f.dropped_seen);
    pthread_rwlock_wrlock(&ks->engines_lock);
    ks->fifo[ks->nfifo++] = f;
    pthread_rwlock_unlock(&ks->engines_lock);
    if (out)
        *out = &ks->fifo[ks->nfifo - 1];
    return 0;
}

static void recount_end(ks_fifo *f)
{
    if (f->recount) {
        ks_key_free(&f->recount->cursor);
        free(f->recount);
        f->recount = NULL;
    }
}

int ks_fifo_close_engine(keyspace *ks, int i, bool destroy)
{
    ks_fifo f = ks->fifo[i];
    recount_end(&f);
    pthread_rwlock_wrlock(&ks->engines_lock);
    ks->fifo[i] = ks->fifo[--ks->nfifo];
    pthread_rwlock_unlock(&ks->engines_lock);
    shale_batch_free(f.batch);
    int rc = shale_close(f.db);
    char dir[4200];
    if (destroy && fifo_dir(ks, f.phys, dir, sizeof dir) == 0) {
        int drc = shale_destroy(dir);
        if (drc)
            fprintf(stderr, "shale-server: cannot remove %s: %s\n", dir, shale_strerror(drc));
    }
    return rc;
}

int ks_fifo_empty_all(keyspace *ks)
{
    int n = ks->nfifo;
    uint32_t phys[KS_MAX_FIFO];
    uint64_t cap[KS_MAX_FIFO];
    for (int i = 0; i < n; i++) {
        phys[i] = ks->fifo[i].phys;
        cap[i] = ks->fifo[i].cap;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < ks->nfifo; j++)
            if (ks->fifo[j].phys == phys[i]) {
                int crc = ks_fifo_close_engine(ks, j, true);
                rc = rc ? rc : crc;
                break;
            }
        int orc = ks_fifo_open_engine(ks, phys[i], cap[i], NULL);
        if (orc)
            fprintf(stderr, "shale-server: cannot open the emptied fifo database %" PRIu32
                            " again: %s\n", phys[i], shale_strerror(orc));
        rc = rc ? rc : orc;
        for (int dbi = 0; dbi < KS_DBS; dbi++)
            if (ks->phys[dbi] == phys[i])
                ks->count[dbi] = ks->expires[dbi] = 0;
    }
    return rc;
}

static void remove_stray(keyspace *ks, const char *name)
{
    size_t n = strlen(FIFO_DIR_PREFIX);
    if (strncmp(name, FIFO_DIR_PREFIX, n) != 0 || !name[n])
        return;
    char *end;
    unsigned long long phys = strtoull(name + n, &end, 10);
    if (*end || phys > UINT32_MAX || ks_fifo_by_phys(ks, (uint32_t)phys))
        return;
    char dir[4200];
    if (fifo_dir(ks, (uint32_t)phys, dir, sizeof dir) == 0) {
        fprintf(stderr, "shale-server: removing %s, a fifo database no longer in use\n", dir);
        shale_destroy(dir);
    }
}

int ks_fifo_remove_strays(keyspace *ks)
{
    DIR *d = opendir(ks->dir);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        remove_stray(ks, e->d_name);
    closedir(d);
    return 0;
}

static int set_size(shale_db *db, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return shale_set_option(db, name, buf);
}

int ks_fifo_set_cap(keyspace *ks, ks_fifo *f, uint64_t cap)
{
    int rc = set_size(f->db, "fifo_max_size", cap);
    rc = rc ? rc : set_size(f->db, "memtable_size", piece_size(&ks->fifo_options, cap, false));
    rc = rc ? rc : set_size(f->db, "vlog_file_size", piece_size(&ks->fifo_options, cap, true));
    if (rc == 0)
        f->cap = cap;
    return rc;
}

/* ---- every engine ---- */

int ks_engine_count(const keyspace *ks)
{
    return 1 + ks->nfifo;
}

shale_db *ks_engine_at(keyspace *ks, int i)
{
    return i == 0 ? ks->db : ks->fifo[i - 1].db;
}

/* Runs fn on every engine under the table's read lock; the first error. */
static int each_engine(keyspace *ks, int (*fn)(shale_db *))
{
    pthread_rwlock_rdlock(&ks->engines_lock);
    int rc = ks->db ? fn(ks->db) : 0; /* none while a full sync swaps the store */
    for (int i = 0; i < ks->nfifo; i++) {
        int frc = fn(ks->fifo[i].db);
        rc = rc ? rc : frc;
    }
    pthread_rwlock_unlock(&ks->engines_lock);
    return rc;
}

int ks_engines_flush_wal(keyspace *ks)
{
    return each_engine(ks, shale_flush_wal);
}

int ks_engines_sync(keyspace *ks)
{
    return each_engine(ks, shale_sync);
}

int ks_engines_flush(keyspace *ks)
{
    return each_engine(ks, shale_flush);
}

int ks_engines_checkpoint(keyspace *ks, const char *dest, bool with_fifo, uint64_t *writes,
                          uint64_t *main_seq)
{
    uint64_t seq = 0, sum = 0;
    pthread_rwlock_rdlock(&ks->engines_lock);
    int rc = ks->db ? shale_checkpoint(ks->db, dest, &seq) : -ESHUTDOWN;
    if (main_seq)
        *main_seq = seq;
    sum += seq;
    for (int i = 0; with_fifo && i < ks->nfifo && rc == 0; i++) {
        char sub[4096 + 32];
        int n = snprintf(sub, sizeof sub, "%s/" FIFO_DIR_PREFIX "%" PRIu32, dest, ks->fifo[i].phys);
        rc = n < 0 || (size_t)n >= sizeof sub ? -ENAMETOOLONG
                                              : shale_checkpoint(ks->fifo[i].db, sub, &seq);
        sum += seq;
    }
    pthread_rwlock_unlock(&ks->engines_lock);
    if (writes)
        *writes = sum;
    return rc;
}

static uint64_t engine_writes(shale_db *db)
{
    uint64_t seq = 0;
    shale_property_int(db, "shale.last-sequence", &seq);
    return seq;
}

uint64_t ks_engines_writes(keyspace *ks)
{
    pthread_rwlock_rdlock(&ks->engines_lock);
    uint64_t sum = ks->db ? engine_writes(ks->db) : 0;
    for (int i = 0; i < ks->nfifo; i++)
        sum += engine_writes(ks->fifo[i].db);
    pthread_rwlock_unlock(&ks->engines_lock);
    return sum;
}

int ks_engines_resume(keyspace *ks)
{
    return each_engine(ks, shale_resume);
}

int ks_engines_background_error(keyspace *ks)
{
    return each_engine(ks, shale_background_error);
}

/* ---- after dropped tables: recount and repair ---- */

static int recount_start(keyspace *ks, ks_fifo *f, uint64_t dropped)
{
    int dbi = -1;
    for (int i = 0; i < KS_DBS; i++)
        if (ks->phys[i] == f->phys)
            dbi = i;
    if (dbi < 0)
        return 0;
    if (ks->db_touch_fn) /* the dropped tables took keys with them, unseen */
        ks->db_touch_fn(ks->touch_ctx, dbi, -2);
    ks_recount *rc = calloc(1, sizeof *rc);
    if (!rc)
        return -ENOMEM;
    ks_key_init(&rc->cursor);
    rc->dbi = dbi;
    rc->map_seq = ks->map_seq;
    rc->dropped = dropped;
    f->recount = rc;
    return 0;
}

bool ks_fifo_behind(keyspace *ks, int dbi, const void *key, size_t klen)
{
    if (ks->nfifo == 0)
        return false;
    ks_fifo *f = ks_fifo_of(ks, dbi);
    if (!f || !f->recount || !f->recount->started)
        return false;
    const ks_key *c = &f->recount->cursor; /* 'm' | id | user key */
    size_t clen = c->len - KS_META_PREFIX, n = klen < clen ? klen : clen;
    int cmp = memcmp(key, c->p + KS_META_PREFIX, n);
    return cmp < 0 || (cmp == 0 && klen <= clen);
}

void ks_fifo_count_behind(keyspace *ks, int dbi, int64_t keys, int64_t expires)
{
    ks_fifo *f = ks_fifo_of(ks, dbi);
    if (f && f->recount) {
        f->recount->count += keys;
        f->recount->expires += expires;
    }
}

/* Fixes a collection whose members a drop took: a hash's or a set's count rewritten (each
   member is one engine key), and the key deleted when no member is left or when it is a
   list or a sorted set that lost any (a list with a hole, or a sorted set with one of a
   member's two index entries gone, cannot be repaired into anything its writer put
   there). Reads the
   current state, not what the recount step iterates. */
static void repair_collection(keyspace *ks, int dbi, const char *key, size_t klen)
{
    ks_meta m;
    if (ks_read_raw(ks, ks->phys[dbi], key, klen, &m) || !ks_is_collection(m.type)) {
        ks_meta_free(&m);
        return;
    }
    ks_range r;
    uint64_t members = 0;
    int rc = ks_range_open_members(ks, dbi, key, klen, &m, &r);
    if (rc == 0) {
        for (; ks_iter_valid(r.it); ks_iter_next(r.it))
            members++;
        rc = ks_iter_status(r.it);
        ks_range_close(&r);
    }
    bool counted = m.type == KS_TYPE_HASH || m.type == KS_TYPE_SET;
    uint64_t keys = m.type == KS_TYPE_ZSET ? 2 * m.size : m.size; /* engine keys it had */
    if (rc == 0 && members != keys) {
        ks_begin(ks);
        rc = counted && members ? ks_put_collection(ks, dbi, key, klen, &m, m.type, m.version,
                                                    members, m.extra, m.extralen)
                                : ks_del_key(ks, dbi, key, klen, &m);
        if (rc == 0)
            ks_commit(ks);
        else
            ks_abort(ks);
    }
    ks_meta_free(&m);
}

/* Writes the expiry-index entry of a key with a TTL when a drop took it. */
static void repair_index(keyspace *ks, ks_fifo *f, const char *key, size_t klen, uint64_t exp)
{
    ks_meta m;
    if (ks_read_raw(ks, f->phys, key, klen, &m) == 0 && m.type && m.expire_at_ms == exp) {
        ks_key x;
        ks_key_init(&x);
        int rc = ks_key_append(&x, "x", 1);
        rc = rc ? rc : ks_key_be32(&x, f->phys);
        rc = rc ? rc : ks_key_be64(&x, exp);
        rc = rc ? rc : ks_key_append(&x, key, klen);
        void *v;
        size_t n;
        if (rc == 0 && (rc = shale_get(f->db, x.p, x.len, &v, &n)) == 0)
            shale_free(v);
        if (rc == SHALE_ENOTFOUND)
            shale_put(f->db, x.p, x.len, "", 0, 0);
        ks_key_free(&x);
    }
    ks_meta_free(&m);
}

/* Goes on with f's recount from its cursor; true when it ended (finished or given up). */
static bool recount_step(keyspace *ks, ks_fifo *f, int budget, int *done)
{
    ks_recount *rc = f->recount;
    if (ks->map_seq != rc->map_seq) /* flushed or swapped meanwhile: start again later */
        return true;
    ks_key prefix;
    ks_range r;
    ks_key_init(&prefix);
    int err = ks_key_append(&prefix, "m", 1);
    err = err ? err : ks_key_be32(&prefix, f->phys);
    err = err ? err : ks_range_open(ks, prefix.p, prefix.len, true, &r);
    ks_key_free(&prefix);
    if (err)
        return true;
    ks_iter *it = r.it;
    if (rc->started) {
        ks_iter_seek(it, rc->cursor.p, rc->cursor.len);
        size_t kl;
        const char *k = ks_iter_valid(it) ? ks_iter_key(it, &kl) : NULL;
        if (k && kl == rc->cursor.len && memcmp(k, rc->cursor.p, kl) == 0)
            ks_iter_next(it); /* counted by the last step */
    }
    for (int n = 0; n < budget && ks_iter_valid(it); n++, ks_iter_next(it)) {
        size_t kl, vl;
        const char *k = ks_iter_key(it, &kl);
        const char *v = ks_iter_value(it, &vl);
        uint64_t exp = ks_iter_expire_at(it);
        rc->cursor.len = 0;
        if (ks_key_append(&rc->cursor, k, kl)) {
            ks_range_close(&r);
            return true;
        }
        rc->started = true;
        rc->count++;
        if (exp)
            rc->expires++;
        /* repairs read (and may write; the iterator reads its own version on) */
        if (vl > 0 && ks_is_collection((unsigned char)v[0])) {
            repair_collection(ks, rc->dbi, k + KS_META_PREFIX, kl - KS_META_PREFIX);
            n += REPAIR_COST;
        }
        if (exp) {
            repair_index(ks, f, k + KS_META_PREFIX, kl - KS_META_PREFIX, exp);
            n += REPAIR_COST;
        }
        (*done)++;
    }
    bool more = ks_iter_valid(it);
    bool ok = ks_iter_status(it) == 0;
    ks_range_close(&r);
    if (more || !ok)
        return !ok;
    ks->count[rc->dbi] = rc->count;
    ks->expires[rc->dbi] = rc->expires;
    f->dropped_seen = rc->dropped;
    return true;
}

int ks_fifo_check(keyspace *ks, int budget)
{
    int done = 0;
    for (int i = 0; i < ks->nfifo; i++) {
        ks_fifo *f = &ks->fifo[i];
        if (!f->recount) {
            uint64_t dropped = 0;
            shale_property_int(f->db, "shale.fifo-deleted-bytes", &dropped);
            if (dropped == f->dropped_seen || recount_start(ks, f, dropped))
                continue;
        }
        if (recount_step(ks, f, budget * RECOUNT_PER_KEY, &done))
            recount_end(f);
    }
    return done;
}

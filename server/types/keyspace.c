/* keyspace.c - Redis keys on engine keys (see keyspace.h for the layout). */
#include "keyspace.h"
#include "ks_internal.h"
#include "ks_txn.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAPPING_KEY "D"
#define MAPPING_FORMAT 1      /* databases, next id, dead ids */
#define MAPPING_FORMAT_FIFO 2 /* and then the fifo ids with their caps */
#define SWEEP_TAGS 3          /* the record tags of a database: sweep_tags */
static const char sweep_tags[SWEEP_TAGS] = {'m', 'h', 'x'};

uint64_t ks_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- engine keys ---- */

void ks_key_init(ks_key *k)
{
    k->p = k->small;
    k->len = 0;
    k->cap = sizeof k->small;
}

int ks_key_append(ks_key *k, const void *p, size_t n)
{
    if (k->len + n > k->cap) {
        size_t cap = k->cap * 2;
        while (cap < k->len + n)
            cap *= 2;
        char *q = k->p == k->small ? malloc(cap) : realloc(k->p, cap);
        if (!q)
            return -ENOMEM;
        if (k->p == k->small)
            memcpy(q, k->small, k->len);
        k->p = q;
        k->cap = cap;
    }
    if (n)
        memcpy(k->p + k->len, p, n);
    k->len += n;
    return 0;
}

int ks_key_be32(ks_key *k, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return ks_key_append(k, b, 4);
}

int ks_key_be64(ks_key *k, uint64_t v)
{
    int rc = ks_key_be32(k, (uint32_t)(v >> 32));
    return rc ? rc : ks_key_be32(k, (uint32_t)v);
}

void ks_key_free(ks_key *k)
{
    if (k->p != k->small)
        free(k->p);
    ks_key_init(k);
}

uint32_t ks_be32(const void *p)
{
    const unsigned char *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t ks_be64(const void *p)
{
    return (uint64_t)ks_be32(p) << 32 | ks_be32((const char *)p + 4);
}

/* ---- which engine holds what ---- */

shale_db *ks_db_of_phys(keyspace *ks, uint32_t phys)
{
    ks_fifo *f = ks_fifo_by_phys(ks, phys);
    return f ? f->db : ks->db;
}

static shale_batch *batch_of_phys(keyspace *ks, uint32_t phys)
{
    ks_fifo *f = ks_fifo_by_phys(ks, phys);
    return f ? f->batch : ks->batch;
}

/* The physical id in an engine key ('m', 'h' or 'x', then the id); UINT32_MAX for the
   mapping record and anything else, which live in the main engine. */
static uint32_t phys_of_key(const void *key, size_t klen)
{
    const char *k = key;
    if (klen < 5 || (k[0] != 'm' && k[0] != 'h' && k[0] != 'x'))
        return UINT32_MAX;
    return ks_be32(k + 1);
}

static int logical_of(const keyspace *ks, uint32_t phys);

/* Tells the watchers (touch_fn) of the user key an engine key belongs to: a metadata
   record ('m' | id | key) or a member ('h' | id | klen | key | version | sub). */
static void touch_engine_key(keyspace *ks, const void *key, size_t klen, bool deleted)
{
    const char *k = key;
    if (klen < 5 || (k[0] != 'm' && k[0] != 'h'))
        return;
    int dbi = logical_of(ks, ks_be32(k + 1));
    if (dbi < 0)
        return;
    if (k[0] == 'm') {
        ks->touch_fn(ks->touch_ctx, dbi, k + 5, klen - 5, deleted);
        return;
    }
    if (klen < 9 || ks_be32(k + 5) > klen - 9)
        return;
    ks->touch_fn(ks->touch_ctx, dbi, k + 9, ks_be32(k + 5), false);
}

void ks_touch_engine_key(keyspace *ks, const void *key, size_t klen, bool deleted)
{
    if (ks->touch_fn)
        touch_engine_key(ks, key, klen, deleted);
}

/* Every write of a command: into its engine's batch, or in a transaction over several
   commands into the command's part of it (ks_txn.c). */
static int batch_put(keyspace *ks, const void *key, size_t klen, const void *val, size_t vlen,
                     uint64_t expire_at_ms)
{
    if (ks->touch_fn)
        touch_engine_key(ks, key, klen, false);
    if (ks->txn)
        return ks_txn_put(ks->txn, key, klen, val, vlen, expire_at_ms);
    return shale_batch_put(batch_of_phys(ks, phys_of_key(key, klen)), key, klen, val, vlen,
                           expire_at_ms);
}

static int batch_del(keyspace *ks, const void *key, size_t klen)
{
    if (ks->touch_fn)
        touch_engine_key(ks, key, klen, true);
    if (ks->txn)
        return ks_txn_del(ks->txn, key, klen);
    return shale_batch_delete(batch_of_phys(ks, phys_of_key(key, klen)), key, klen);
}

shale_db *ks_engine_of_key(keyspace *ks, const void *key, size_t klen)
{
    return ks_db_of_phys(ks, phys_of_key(key, klen));
}

/* A malloc'ed copy of v with a NUL after it, as shale_get gives; val NULL: an existence
   probe, as shale_get takes it (nothing copied). */
static int copy_out(const void *v, size_t n, void **val, size_t *vlen)
{
    if (!val)
        return 0;
    char *p = malloc(n + 1);
    if (!p)
        return -ENOMEM;
    if (n)
        memcpy(p, v, n);
    p[n] = '\0';
    *val = p;
    *vlen = n;
    return 0;
}

int ks_get_raw(keyspace *ks, const ks_key *k, void **val, size_t *vlen)
{
    if (ks->txn) {
        const void *v;
        size_t n;
        uint64_t exp;
        switch (ks_txn_lookup(ks->txn, k->p, k->len, &v, &n, &exp)) {
        case KS_TXN_DELETED: return SHALE_ENOTFOUND;
        case KS_TXN_PUT:
            if (exp && exp <= ks_now_ms())
                return SHALE_ENOTFOUND;
            return copy_out(v, n, val, vlen);
        default: break;
        }
    }
    return shale_get(ks_engine_of_key(ks, k->p, k->len), k->p, k->len, val, vlen);
}

static int prefixed(ks_key *k, char tag, uint32_t phys)
{
    ks_key_init(k);
    int rc = ks_key_append(k, &tag, 1);
    return rc ? rc : ks_key_be32(k, phys);
}

static int meta_key_phys(uint32_t phys, const void *key, size_t klen, ks_key *out)
{
    int rc = prefixed(out, 'm', phys);
    return rc ? rc : ks_key_append(out, key, klen);
}

int ks_meta_key(const keyspace *ks, int dbi, const void *key, size_t klen, ks_key *out)
{
    return meta_key_phys(ks->phys[dbi], key, klen, out);
}

int ks_field_key(const keyspace *ks, int dbi, const void *key, size_t klen, uint64_t version,
                 const void *field, size_t flen, ks_key *out)
{
    int rc = prefixed(out, 'h', ks->phys[dbi]);
    rc = rc ? rc : ks_key_be32(out, (uint32_t)klen);
    rc = rc ? rc : ks_key_append(out, key, klen);
    rc = rc ? rc : ks_key_be64(out, version);
    rc = rc ? rc : (field ? ks_key_append(out, field, flen) : 0);
    return rc;
}

static int expiry_key(uint32_t phys, uint64_t expire_at_ms, const void *key, size_t klen,
                      ks_key *out)
{
    int rc = prefixed(out, 'x', phys);
    rc = rc ? rc : ks_key_be64(out, expire_at_ms);
    return rc ? rc : ks_key_append(out, key, klen);
}

/* Versions handed out between two persisted ceilings. */
#define VERSION_BLOCK 65536

uint64_t ks_new_version(keyspace *ks)
{
    return ++ks->last_version;
}

/* The version ceiling record: 'V' -> ceiling:be64. */
static const char version_key[] = "V";

/* Adds a new ceiling to the main engine's batch when versions up to last_version may
   be written by this transaction and the persisted ceiling is below them. */
static int book_version_ceiling(keyspace *ks)
{
    if (ks->last_version <= ks->version_ceiling)
        return 0;
    unsigned char v[8];
    uint64_t ceiling = ks->last_version + VERSION_BLOCK;
    for (int i = 0; i < 8; i++)
        v[i] = (unsigned char)(ceiling >> (56 - 8 * i));
    return shale_batch_put(ks->batch, version_key, 1, v, sizeof v, 0);
}

/* The version ceiling booked by a commit that wrote versions up to booked. */
static void note_version_ceiling(keyspace *ks, uint64_t booked)
{
    if (booked > ks->version_ceiling)
        ks->version_ceiling = booked + VERSION_BLOCK;
}

/* Starts last_version at the persisted ceiling (count_db then raises it above every
   version the metadata names). */
static int load_version_ceiling(keyspace *ks)
{
    void *v;
    size_t n;
    int rc = shale_get(ks->db, version_key, 1, &v, &n);
    if (rc == SHALE_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (n == 8)
        ks->version_ceiling = ks_be64(v);
    shale_free(v);
    if (n != 8)
        return SHALE_ECORRUPT;
    ks->last_version = ks->version_ceiling;
    return 0;
}

const char *ks_type_name(int type)
{
    switch (type) {
    case KS_TYPE_STRING: return "string";
    case KS_TYPE_HASH: return "hash";
    case KS_TYPE_LIST: return "list";
    case KS_TYPE_SET: return "set";
    case KS_TYPE_ZSET: return "zset";
    default: return "none";
    }
}

static int open_range(keyspace *ks, char tag, uint32_t phys, ks_range *r);
static bool phys_mapped(const keyspace *ks, uint32_t phys);

/* ---- metadata records ---- */

void ks_meta_free(ks_meta *m)
{
    shale_free(m->raw);
    memset(m, 0, sizeof *m);
}

/* Fills m's decoded fields from its raw record. */
static int decode_meta(ks_meta *m)
{
    if (m->rawlen < 1)
        return SHALE_ECORRUPT;
    m->type = (unsigned char)m->raw[0];
    m->val = m->raw + 1;
    m->vlen = m->rawlen - 1;
    if (ks_is_collection(m->type)) {
        if (m->vlen < 16)
            return SHALE_ECORRUPT;
        m->version = ks_be64(m->val);
        m->size = ks_be64(m->val + 8);
        m->extra = m->val + 16;
        m->extralen = m->vlen - 16;
    } else if (m->type != KS_TYPE_STRING) {
        return SHALE_ECORRUPT;
    }
    return 0;
}

/* shale_get_ex of a metadata record, expired or not, from the transaction's writes
   first. */
static int read_meta_record(keyspace *ks, uint32_t phys, const ks_key *k, bool with_record,
                            void **v, size_t *n, uint64_t *expire_at_ms)
{
    if (ks->txn) {
        const void *tv;
        size_t tn;
        switch (ks_txn_lookup(ks->txn, k->p, k->len, &tv, &tn, expire_at_ms)) {
        case KS_TXN_DELETED: return SHALE_ENOTFOUND;
        case KS_TXN_PUT: return with_record ? copy_out(tv, tn, v, n) : 0;
        default: break;
        }
    }
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.include_expired = 1;
    return shale_get_ex(ks_db_of_phys(ks, phys), &ro, k->p, k->len, with_record ? v : NULL,
                        with_record ? n : NULL, expire_at_ms);
}

/* Reads (phys, key)'s record as stored; with_record false: only whether it exists and
   its expiry (the engine then neither copies the value out nor follows a pointer). */
static int read_meta(keyspace *ks, uint32_t phys, const void *key, size_t klen, bool with_record,
                     ks_meta *m)
{
    memset(m, 0, sizeof *m);
    ks_key k;
    if (meta_key_phys(phys, key, klen, &k))
        return -ENOMEM;
    void *v = NULL;
    size_t n = 0;
    int rc = read_meta_record(ks, phys, &k, with_record, &v, &n, &m->expire_at_ms);
    ks_key_free(&k);
    if (rc == SHALE_ENOTFOUND) {
        m->expire_at_ms = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (!with_record) {
        m->type = KS_TYPE_UNREAD;
        return 0;
    }
    m->raw = v;
    m->rawlen = n;
    rc = decode_meta(m);
    if (rc)
        ks_meta_free(m);
    return rc;
}

int ks_read_raw(keyspace *ks, uint32_t phys, const void *key, size_t klen, ks_meta *m)
{
    return read_meta(ks, phys, key, klen, true, m);
}

int ks_read_raw_head(keyspace *ks, uint32_t phys, const void *key, size_t klen, ks_meta *m)
{
    return read_meta(ks, phys, key, klen, false, m);
}

int ks_logical_of(const keyspace *ks, uint32_t phys)
{
    return logical_of(ks, phys);
}

static int logical_of(const keyspace *ks, uint32_t phys)
{
    if (phys == UINT32_MAX)
        return -1;
    for (int i = 0; i < KS_DBS; i++)
        if (ks->phys[i] == phys)
            return i;
    return -1;
}

/*
 * Deletes an expired key and its expiry-index entry now, in its own batch. record false:
 * only the entry, for a stale one (see expire_db) whose key's record is a newer key's.
 * Either way the entry stood for one expired key that the counts still hold.
 */
static int reap(keyspace *ks, uint32_t phys, const void *key, size_t klen, uint64_t expire_at_ms,
                bool record)
{
    ks_key mk, xk;
    int rc = meta_key_phys(phys, key, klen, &mk);
    rc = rc ? rc : expiry_key(phys, expire_at_ms, key, klen, &xk);
    if (rc) {
        ks_key_free(&mk);
        return rc;
    }
    if (record && ks->touch_fn)
        touch_engine_key(ks, mk.p, mk.len, true);
    if (ks->txn) {
        /* with the transaction's batch, seen by its reads from now on */
        rc = record ? ks_txn_del_now(ks->txn, mk.p, mk.len) : 0;
        rc = rc ? rc : ks_txn_del_now(ks->txn, xk.p, xk.len);
    } else {
        shale_batch *b = batch_of_phys(ks, phys);
        shale_batch_clear(b);
        rc = record ? shale_batch_delete(b, mk.p, mk.len) : 0;
        rc = rc ? rc : shale_batch_delete(b, xk.p, xk.len);
        rc = rc ? rc : shale_write(ks_db_of_phys(ks, phys), b);
        shale_batch_clear(b);
    }
    ks_key_free(&mk);
    ks_key_free(&xk);
    int dbi = logical_of(ks, phys);
    if (rc == 0 && dbi >= 0) {
        ks->count[dbi]--;
        ks->expires[dbi]--;
        ks->expired_keys++;
        if (record && ks->key_event_fn)
            ks->key_event_fn(ks->key_event_ctx, KS_KEY_EXPIRED, dbi, key, klen);
        bool behind = ks_fifo_behind(ks, dbi, key, klen);
        if (ks->txn) {
            ks->txn_delta[dbi]--;
            ks->txn_delta_expires[dbi]--;
            ks->txn_behind[dbi] -= behind;
            ks->txn_behind_expires[dbi] -= behind;
        } else if (behind) {
            ks_fifo_count_behind(ks, dbi, -1, -1);
        }
    }
    return rc;
}

/* True when the expiry-index entry (key, expire_at_ms) names no record: compaction
   dropped the expired record, and the key may have been created again since with
   another expiry or none. Such an entry still counts as one expired key. */
static int entry_stale(keyspace *ks, uint32_t phys, const void *key, size_t klen,
                       uint64_t expire_at_ms, bool *stale, bool *record)
{
    ks_meta m;
    int rc = ks_read_raw_head(ks, phys, key, klen, &m);
    if (rc)
        return rc;
    *record = m.type != 0;
    *stale = !m.type || m.expire_at_ms != expire_at_ms;
    ks_meta_free(&m);
    return 0;
}

/* ks_read and ks_read_head: the record (or only its head), reaping an expired key. */
static int read_live(keyspace *ks, int dbi, const void *key, size_t klen, bool with_record,
                     ks_meta *m)
{
    int rc = read_meta(ks, ks->phys[dbi], key, klen, with_record, m);
    if (rc || !m->type || !m->expire_at_ms || m->expire_at_ms > ks_now_ms())
        return rc;
    uint64_t exp = m->expire_at_ms;
    ks_meta_free(m);
    if (ks->reap_paused || ks->replica) /* the data set stays as it is while clients are
                                            paused, and on a replica */
        return 0;
    /* The key reads as absent either way: a failed reap (the engine refusing writes)
       leaves it to the expiry cycle, which also handles a key written over it meanwhile
       (a stale index entry). Only read errors are errors. */
    reap(ks, ks->phys[dbi], key, klen, exp, true);
    return 0;
}

int ks_peek(keyspace *ks, int dbi, const void *key, size_t klen, int *state)
{
    ks_meta m;
    int rc = read_meta(ks, ks->phys[dbi], key, klen, false, &m);
    *state = !m.type ? KS_ABSENT
             : m.expire_at_ms && m.expire_at_ms <= ks_now_ms() ? KS_EXPIRED
                                                               : KS_LIVE;
    ks_meta_free(&m);
    return rc;
}

int ks_read(keyspace *ks, int dbi, const void *key, size_t klen, ks_meta *m)
{
    return read_live(ks, dbi, key, klen, true, m);
}

int ks_read_head(keyspace *ks, int dbi, const void *key, size_t klen, ks_meta *m)
{
    return read_live(ks, dbi, key, klen, false, m);
}

/* ---- transactions ---- */

void ks_begin(keyspace *ks)
{
    if (ks->txn)
        ks_txn_drop_pending(ks->txn);
    shale_batch_clear(ks->batch);
    for (int i = 0; i < ks->nfifo; i++)
        shale_batch_clear(ks->fifo[i].batch);
    memset(ks->delta, 0, sizeof ks->delta);
    memset(ks->delta_expires, 0, sizeof ks->delta_expires);
    memset(ks->delta_behind, 0, sizeof ks->delta_behind);
    memset(ks->delta_behind_expires, 0, sizeof ks->delta_behind_expires);
}

void ks_abort(keyspace *ks)
{
    ks_begin(ks);
}

/* A fifo database's part after the main one (atomic only within one engine). */
static int write_fifo_batches(keyspace *ks)
{
    int rc = 0;
    for (int i = 0; i < ks->nfifo && rc == 0; i++)
        if (shale_batch_count(ks->fifo[i].batch))
            rc = shale_write(ks->fifo[i].db, ks->fifo[i].batch);
    return rc;
}

/* Applies the command's count changes (a transaction's command: remembered for an
   abort, and the fifo recount's part held for the transaction's commit). */
static void apply_deltas(keyspace *ks)
{
    for (int i = 0; i < KS_DBS; i++) {
        ks->count[i] += ks->delta[i];
        ks->expires[i] += ks->delta_expires[i];
        if (ks->txn) {
            ks->txn_delta[i] += ks->delta[i];
            ks->txn_delta_expires[i] += ks->delta_expires[i];
            ks->txn_behind[i] += ks->delta_behind[i];
            ks->txn_behind_expires[i] += ks->delta_behind_expires[i];
        } else if (ks->delta_behind[i] || ks->delta_behind_expires[i]) {
            ks_fifo_count_behind(ks, i, ks->delta_behind[i], ks->delta_behind_expires[i]);
        }
    }
}

int ks_commit(keyspace *ks)
{
    if (ks->txn) {
        int rc = ks_txn_fold(ks->txn);
        if (rc == 0)
            apply_deltas(ks);
        else if (!ks->txn_failed)
            ks->txn_failed = rc; /* the index holds part of the command's writes */
        ks_begin(ks);
        return rc;
    }
    uint64_t booked = ks->last_version;
    int rc = book_version_ceiling(ks);
    rc = rc ? rc : shale_batch_count(ks->batch) ? shale_write(ks->db, ks->batch) : 0;
    if (rc == 0)
        note_version_ceiling(ks, booked);
    rc = rc ? rc : write_fifo_batches(ks);
    if (rc == 0)
        apply_deltas(ks);
    ks_begin(ks);
    return rc;
}

/* ---- transactions over several commands ---- */

int ks_txn_begin(keyspace *ks)
{
    if (ks->txn)
        return -EBUSY;
    int rc = ks_txn_new(&ks->txn);
    if (rc)
        return rc;
    ks->txn_failed = 0;
    memset(ks->txn_delta, 0, sizeof ks->txn_delta);
    memset(ks->txn_delta_expires, 0, sizeof ks->txn_delta_expires);
    memset(ks->txn_behind, 0, sizeof ks->txn_behind);
    memset(ks->txn_behind_expires, 0, sizeof ks->txn_behind_expires);
    ks_begin(ks);
    return 0;
}

/* Takes the transaction's count changes back out of the counts. */
static void undo_txn_counts(keyspace *ks)
{
    for (int i = 0; i < KS_DBS; i++) {
        ks->count[i] -= ks->txn_delta[i];
        ks->expires[i] -= ks->txn_delta_expires[i];
    }
}

static void end_txn(keyspace *ks)
{
    ks_txn_free(ks->txn);
    ks->txn = NULL;
    ks_begin(ks);
}

void ks_txn_abort(keyspace *ks)
{
    if (!ks->txn)
        return;
    undo_txn_counts(ks);
    end_txn(ks);
}

/* ks_txn_walk's visitor: one key's newest write into its engine's batch; keys of an id
   no database maps any more (flushed in the transaction) are dropped. */
static int batch_txn_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                           uint64_t expire_at_ms)
{
    keyspace *ks = ctx;
    uint32_t phys = phys_of_key(key, klen);
    if (phys != UINT32_MAX && !phys_mapped(ks, phys))
        return 0;
    shale_batch *b = batch_of_phys(ks, phys);
    return val ? shale_batch_put(b, key, klen, val, vlen, expire_at_ms)
               : shale_batch_delete(b, key, klen);
}

int ks_txn_commit(keyspace *ks)
{
    if (!ks->txn)
        return -EINVAL;
    ks_begin(ks); /* the batches are empty: a command left open is dropped */
    uint64_t booked = ks->last_version;
    int rc = ks->txn_failed;
    rc = rc ? rc : ks_txn_walk(ks->txn, batch_txn_entry, ks);
    rc = rc ? rc : book_version_ceiling(ks);
    rc = rc ? rc : shale_batch_count(ks->batch) ? shale_write(ks->db, ks->batch) : 0;
    if (rc == 0)
        note_version_ceiling(ks, booked);
    rc = rc ? rc : write_fifo_batches(ks);
    if (rc)
        undo_txn_counts(ks);
    else
        for (int i = 0; i < KS_DBS; i++)
            if (ks->txn_behind[i] || ks->txn_behind_expires[i])
                ks_fifo_count_behind(ks, i, ks->txn_behind[i], ks->txn_behind_expires[i]);
    end_txn(ks);
    return rc;
}

int ks_put_raw(keyspace *ks, const ks_key *k, const void *val, size_t vlen)
{
    return batch_put(ks, k->p, k->len, val, vlen, 0);
}

int ks_del_raw(keyspace *ks, const ks_key *k)
{
    return batch_del(ks, k->p, k->len);
}

/* Moves the expiry-index entry from old_exp to new_exp (either may be 0: none). */
static int reindex(keyspace *ks, int dbi, const void *key, size_t klen, uint64_t old_exp,
                   uint64_t new_exp)
{
    if (old_exp == new_exp)
        return 0;
    ks_key k;
    int rc = 0;
    if (old_exp) {
        rc = expiry_key(ks->phys[dbi], old_exp, key, klen, &k);
        rc = rc ? rc : ks_del_raw(ks, &k);
        ks_key_free(&k);
        ks->delta_expires[dbi]--;
        ks->delta_behind_expires[dbi] -= ks_fifo_behind(ks, dbi, key, klen);
    }
    if (new_exp && rc == 0) {
        rc = expiry_key(ks->phys[dbi], new_exp, key, klen, &k);
        rc = rc ? rc : ks_put_raw(ks, &k, "", 0);
        ks_key_free(&k);
        ks->delta_expires[dbi]++;
        ks->delta_behind_expires[dbi] += ks_fifo_behind(ks, dbi, key, klen);
    }
    return rc;
}

int ks_put_meta(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old, int type,
                const void *payload, size_t plen, uint64_t expire_at_ms)
{
    ks_key k;
    if (ks_meta_key(ks, dbi, key, klen, &k))
        return -ENOMEM;
    char small[256];
    char *v = plen + 1 <= sizeof small ? small : malloc(plen + 1);
    int rc = -ENOMEM;
    if (v) {
        v[0] = (char)type;
        if (plen)
            memcpy(v + 1, payload, plen);
        rc = batch_put(ks, k.p, k.len, v, plen + 1, expire_at_ms);
        if (v != small)
            free(v);
    }
    ks_key_free(&k);
    if (rc == 0)
        rc = reindex(ks, dbi, key, klen, old->type ? old->expire_at_ms : 0, expire_at_ms);
    if (rc == 0 && !old->type) {
        ks->delta[dbi]++;
        ks->delta_behind[dbi] += ks_fifo_behind(ks, dbi, key, klen);
        if (ks->key_event_fn)
            ks->key_event_fn(ks->key_event_ctx, KS_KEY_CREATED, dbi, key, klen);
    }
    return rc;
}

/* A list or sorted set that waiters may pop from: tell the listener. */
static void tell_ready(keyspace *ks, int type, int dbi, const void *key, size_t klen)
{
    if (ks->ready_fn && (type == KS_TYPE_LIST || type == KS_TYPE_ZSET))
        ks->ready_fn(ks->ready_ctx, dbi, key, klen);
}

int ks_put_collection(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
                      int type, uint64_t version, uint64_t size, const void *extra,
                      size_t elen)
{
    return ks_put_collection_expiring(ks, dbi, key, klen, old, type, version, size, extra, elen,
                                      old->type == type ? old->expire_at_ms : 0);
}

int ks_put_collection_expiring(keyspace *ks, int dbi, const void *key, size_t klen,
                               const ks_meta *old, int type, uint64_t version, uint64_t size,
                               const void *extra, size_t elen, uint64_t expire_at_ms)
{
    if (size == 0)
        return ks_del_key(ks, dbi, key, klen, old);
    tell_ready(ks, type, dbi, key, klen);
    unsigned char small[64];
    unsigned char *meta = 16 + elen <= sizeof small ? small : malloc(16 + elen);
    if (!meta)
        return -ENOMEM;
    for (int i = 0; i < 8; i++) {
        meta[i] = (unsigned char)(version >> (56 - 8 * i));
        meta[8 + i] = (unsigned char)(size >> (56 - 8 * i));
    }
    if (elen)
        memcpy(meta + 16, extra, elen);
    int rc = ks_put_meta(ks, dbi, key, klen, old, type, meta, 16 + elen, expire_at_ms);
    if (meta != small)
        free(meta);
    return rc;
}

int ks_del_key(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old)
{
    if (!old->type)
        return 0;
    ks_key k;
    if (ks_meta_key(ks, dbi, key, klen, &k))
        return -ENOMEM;
    int rc = ks_del_raw(ks, &k);
    ks_key_free(&k);
    rc = rc ? rc : reindex(ks, dbi, key, klen, old->expire_at_ms, 0);
    if (rc == 0) {
        ks->delta[dbi]--;
        ks->delta_behind[dbi] -= ks_fifo_behind(ks, dbi, key, klen);
    }
    return rc;
}

int ks_copy_value(keyspace *ks, int sdb, const void *skey, size_t sklen, const ks_meta *src,
                  int ddb, const void *dkey, size_t dklen, const ks_meta *dold,
                  uint64_t expire_at_ms)
{
    if (!ks_is_collection(src->type))
        return ks_put_meta(ks, ddb, dkey, dklen, dold, src->type, src->val, src->vlen,
                           expire_at_ms);
    tell_ready(ks, src->type, ddb, dkey, dklen);
    uint64_t version = ks_new_version(ks);
    char *meta = malloc(src->vlen);
    if (!meta)
        return -ENOMEM;
    memcpy(meta, src->val, src->vlen); /* size and extra as the source's */
    for (int i = 0; i < 8; i++)
        meta[i] = (char)(unsigned char)(version >> (56 - 8 * i));
    int rc = ks_put_meta(ks, ddb, dkey, dklen, dold, src->type, meta, src->vlen, expire_at_ms);
    free(meta);
    ks_key from, to;
    ks_range r;
    rc = rc ? rc : ks_field_key(ks, sdb, skey, sklen, src->version, NULL, 0, &from);
    if (rc)
        return rc;
    rc = ks_range_open(ks, from.p, from.len, false, &r);
    for (; rc == 0 && ks_iter_valid(r.it); ks_iter_next(r.it)) {
        size_t kl, vl;
        const char *k = ks_iter_key(r.it, &kl);
        const void *v = ks_iter_value(r.it, &vl);
        rc = ks_field_key(ks, ddb, dkey, dklen, version, k + from.len, kl - from.len, &to);
        rc = rc ? rc : ks_put_raw(ks, &to, v, vl);
        ks_key_free(&to);
    }
    if (r.it) {
        rc = rc ? rc : ks_iter_status(r.it);
        ks_range_close(&r);
    }
    ks_key_free(&from);
    return rc;
}

/* A seqlock around mapping changes, so that the filter never sees a half-done swap. */
void ks_mapping_write_begin(keyspace *ks)
{
    __atomic_add_fetch(&ks->map_seq, 1, __ATOMIC_ACQ_REL);
}

void ks_mapping_write_end(keyspace *ks)
{
    __atomic_add_fetch(&ks->map_seq, 1, __ATOMIC_RELEASE);
}

/* ---- the mapping record ---- */

static bool phys_mapped(const keyspace *ks, uint32_t phys)
{
    for (int i = 0; i < KS_DBS; i++)
        if (ks->phys[i] == phys)
            return true;
    return false;
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* The record: format, the databases' ids, next id, the dead ids (counted); in format 2
   then the fifo ids (counted), each with its cap:be64. Fifo engines that no database
   maps (being replaced) are left out: an open after a crash removes them. */
int ks_save_mapping(keyspace *ks)
{
    unsigned char buf[1 + 4 * (KS_DBS + 3 + KS_MAX_DEAD) + 12 * KS_MAX_FIFO];
    size_t n = 1;
    for (int i = 0; i < KS_DBS; i++, n += 4)
        put_be32(buf + n, ks->phys[i]);
    put_be32(buf + n, ks->next_phys);
    put_be32(buf + n + 4, (uint32_t)ks->ndead);
    n += 8;
    for (int i = 0; i < ks->ndead; i++, n += 4)
        put_be32(buf + n, ks->dead[i]);
    size_t count_at = n;
    uint32_t nf = 0;
    n += 4;
    for (int i = 0; i < ks->nfifo; i++)
        if (phys_mapped(ks, ks->fifo[i].phys)) {
            put_be32(buf + n, ks->fifo[i].phys);
            put_be32(buf + n + 4, (uint32_t)(ks->fifo[i].cap >> 32));
            put_be32(buf + n + 8, (uint32_t)ks->fifo[i].cap);
            n += 12;
            nf++;
        }
    put_be32(buf + count_at, nf);
    if (nf == 0)
        n = count_at; /* format 1: what a store without fifo databases always had */
    buf[0] = nf ? MAPPING_FORMAT_FIFO : MAPPING_FORMAT;
    return shale_put(ks->db, MAPPING_KEY, 1, buf, n, 0);
}

/* Parses the record into ks and opens the fifo engines it lists (open_fifo; else they
   are left as they are). */
static int parse_mapping(keyspace *ks, const unsigned char *p, size_t n, bool open_fifo)
{
    if (n < 1 + 4 * (KS_DBS + 2) || (p[0] != MAPPING_FORMAT && p[0] != MAPPING_FORMAT_FIFO))
        return SHALE_ECORRUPT;
    for (int i = 0; i < KS_DBS; i++)
        ks->phys[i] = ks_be32(p + 1 + 4 * i);
    ks->next_phys = ks_be32(p + 1 + 4 * KS_DBS);
    uint32_t nd = ks_be32(p + 1 + 4 * (KS_DBS + 1));
    size_t at = 1 + 4 * (KS_DBS + 2 + (size_t)nd);
    if (nd > KS_MAX_DEAD || n < at)
        return SHALE_ECORRUPT;
    ks->ndead = (int)nd;
    for (uint32_t i = 0; i < nd; i++)
        ks->dead[i] = ks_be32(p + 1 + 4 * (KS_DBS + 2 + i));
    if (p[0] == MAPPING_FORMAT)
        return n == at ? 0 : SHALE_ECORRUPT;
    if (n < at + 4)
        return SHALE_ECORRUPT;
    uint32_t nf = ks_be32(p + at);
    at += 4;
    if (nf > KS_DBS || n != at + 12 * (size_t)nf)
        return SHALE_ECORRUPT;
    for (uint32_t i = 0; open_fifo && i < nf; i++, at += 12) {
        uint32_t phys = ks_be32(p + at);
        if (!phys_mapped(ks, phys) || ks_fifo_by_phys(ks, phys))
            return SHALE_ECORRUPT;
        int rc = ks_fifo_open_engine(ks, phys, ks_be64(p + at + 4), NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_mapping(keyspace *ks)
{
    void *v;
    size_t n;
    int rc = shale_get(ks->db, MAPPING_KEY, 1, &v, &n);
    if (rc == SHALE_ENOTFOUND) {
        for (int i = 0; i < KS_DBS; i++)
            ks->phys[i] = (uint32_t)i;
        ks->next_phys = KS_DBS;
        ks->ndead = 0;
        return ks_save_mapping(ks);
    }
    if (rc)
        return rc;
    rc = parse_mapping(ks, v, n, true);
    shale_free(v);
    return rc;
}

int ks_reload_mapping(keyspace *ks)
{
    void *v;
    size_t n;
    int rc = shale_get(ks->db, MAPPING_KEY, 1, &v, &n);
    if (rc)
        return rc == SHALE_ENOTFOUND ? SHALE_ECORRUPT : rc;
    ks_mapping_write_begin(ks);
    rc = parse_mapping(ks, v, n, false);
    ks_mapping_write_end(ks);
    shale_free(v);
    return rc;
}

int ks_reload_version_ceiling(keyspace *ks)
{
    uint64_t last = ks->last_version;
    int rc = load_version_ceiling(ks);
    if (ks->last_version < last)
        ks->last_version = last;
    return rc;
}

/*
 * Counts the expiry-index entries of a database that name no record (entry_stale): each
 * is an expired key whose record compaction dropped, counted (with its TTL) until active
 * expiry deletes the entry, as it was before a restart. Only entries already due can be
 * stale, and active expiry deletes those soon: a short walk.
 */
static int count_stale_entries(keyspace *ks, int dbi, uint64_t now)
{
    ks_range r;
    int rc = open_range(ks, 'x', ks->phys[dbi], &r);
    if (rc)
        return rc;
    for (; rc == 0 && ks_iter_valid(r.it); ks_iter_next(r.it)) {
        size_t kl;
        const char *k = ks_iter_key(r.it, &kl);
        if (kl < 13)
            continue;
        if (ks_be64(k + 5) > now)
            break;
        bool stale, record;
        rc = entry_stale(ks, ks->phys[dbi], k + 13, kl - 13, ks_be64(k + 5), &stale, &record);
        if (rc == 0 && stale) {
            ks->count[dbi]++;
            ks->expires[dbi]++;
        }
    }
    rc = rc ? rc : ks_iter_status(r.it);
    ks_range_close(&r);
    return rc;
}

/* Counts the keys (expired ones too: they count until reaped) of one database, and
   raises last_version above every collection version found. */
static int count_db(keyspace *ks, int dbi)
{
    ks_range r;
    int rc = open_range(ks, 'm', ks->phys[dbi], &r);
    if (rc)
        return rc;
    for (; ks_iter_valid(r.it); ks_iter_next(r.it)) {
        ks->count[dbi]++;
        if (ks_iter_expire_at(r.it))
            ks->expires[dbi]++;
        size_t vl;
        const char *v = ks_iter_value(r.it, &vl);
        if (vl >= 17 && ks_is_collection((unsigned char)v[0]) && ks_be64(v + 1) > ks->last_version)
            ks->last_version = ks_be64(v + 1);
    }
    rc = ks_iter_status(r.it);
    ks_range_close(&r);
    return rc ? rc : count_stale_entries(ks, dbi, ks_now_ms());
}

/* Reads what the keyspace keeps of the store in ks->db: the mapping, the version
   ceiling, the fifo engines, every database's counts. */
static int ks_load(keyspace *ks)
{
    int rc = shale_batch_new(&ks->batch);
    rc = rc ? rc : load_mapping(ks);
    rc = rc ? rc : load_version_ceiling(ks);
    rc = rc ? rc : ks_fifo_remove_strays(ks);
    for (int i = 0; i < KS_DBS && rc == 0; i++)
        rc = count_db(ks, i);
    return rc;
}

int ks_recount_db(keyspace *ks, int dbi)
{
    ks->count[dbi] = ks->expires[dbi] = 0;
    return count_db(ks, dbi);
}

int ks_open(keyspace *ks, shale_db *db, const char *dir, const shale_options *fifo_options)
{
    /* everything but ready: the engine's compaction threads, started by shale_open, may
       call the filter (ctx ks) already, and it reads ready with an atomic load */
    size_t at = offsetof(keyspace, ready), end = at + sizeof ks->ready;
    memset(ks, 0, at);
    memset((char *)ks + end, 0, sizeof *ks - end);
    __atomic_store_n(&ks->ready, 0, __ATOMIC_RELEASE);
    ks->db = db;
    pthread_rwlock_init(&ks->engines_lock, NULL);
    snprintf(ks->dir, sizeof ks->dir, "%s", dir);
    if (fifo_options)
        ks->fifo_options = *fifo_options;
    else
        shale_options_default(&ks->fifo_options);
    int rc = ks_load(ks);
    if (rc)
        ks_close(ks);
    else
        __atomic_store_n(&ks->ready, 1, __ATOMIC_RELEASE);
    return rc;
}

/* Frees what ks_load built (the fifo engines are closed already). */
static void ks_unload(keyspace *ks)
{
    shale_batch_free(ks->batch);
    ks->batch = NULL;
    if (ks->sweep_at) {
        for (int t = 0; t < SWEEP_TAGS; t++)
            ks_key_free(&ks->sweep_at[t]);
        free(ks->sweep_at);
        ks->sweep_at = NULL;
    }
}

int ks_detach(keyspace *ks)
{
    __atomic_store_n(&ks->ready, 0, __ATOMIC_RELEASE); /* the filter keeps everything */
    ks_txn_abort(ks);
    int rc = 0;
    while (ks->nfifo > 0) {
        int crc = ks_fifo_close_engine(ks, ks->nfifo - 1, false);
        rc = rc ? rc : crc;
    }
    pthread_rwlock_wrlock(&ks->engines_lock);
    ks->db = NULL; /* the loops' and the commit thread's syncs see no engine */
    pthread_rwlock_unlock(&ks->engines_lock);
    ks_unload(ks);
    return rc;
}

/* Zeroes what ks_load fills (field by field: other threads take engines_lock meanwhile,
   and the listeners, directory, options and expiry statistics outlive a store). */
static void ks_reset_loaded(keyspace *ks)
{
    memset(ks->phys, 0, sizeof ks->phys);
    ks->next_phys = 0;
    memset(ks->dead, 0, sizeof ks->dead);
    ks->ndead = 0;
    ks->sweep_phys = 0;
    memset(ks->count, 0, sizeof ks->count);
    memset(ks->expires, 0, sizeof ks->expires);
    ks->last_version = ks->version_ceiling = 0;
    memset(ks->delta, 0, sizeof ks->delta);
    memset(ks->delta_expires, 0, sizeof ks->delta_expires);
    memset(ks->delta_behind, 0, sizeof ks->delta_behind);
    memset(ks->delta_behind_expires, 0, sizeof ks->delta_behind_expires);
    memset(ks->fifo, 0, sizeof ks->fifo);
    ks->txn_failed = 0;
    memset(ks->txn_delta, 0, sizeof ks->txn_delta);
    memset(ks->txn_delta_expires, 0, sizeof ks->txn_delta_expires);
    memset(ks->txn_behind, 0, sizeof ks->txn_behind);
    memset(ks->txn_behind_expires, 0, sizeof ks->txn_behind_expires);
}

int ks_attach(keyspace *ks, shale_db *db)
{
    ks_reset_loaded(ks);
    pthread_rwlock_wrlock(&ks->engines_lock);
    ks->db = db;
    pthread_rwlock_unlock(&ks->engines_lock);
    int rc = ks_load(ks);
    if (rc)
        ks_detach(ks);
    else
        __atomic_store_n(&ks->ready, 1, __ATOMIC_RELEASE);
    return rc;
}

int ks_close(keyspace *ks)
{
    int rc = 0;
    ks_txn_abort(ks); /* a transaction left open is dropped */
    while (ks->nfifo > 0) {
        int crc = ks_fifo_close_engine(ks, ks->nfifo - 1, false);
        rc = rc ? rc : crc;
    }
    ks_unload(ks);
    pthread_rwlock_destroy(&ks->engines_lock);
    return rc;
}

/*
 * Gives databases first..last new physical ids (FLUSHDB, FLUSHALL, a change of style).
 * fifo: 1 or 0 sets the style, -1 keeps each database's own; cap: a new fifo engine's
 * cap (0: the replaced engine's). A new fifo engine is opened first; the mapping is saved;
 * then the replaced fifo engines are closed and their directories removed (an open after
 * a crash in between removes them), and the main engine's old ids go to the sweeper.
 */
static int renew(keyspace *ks, int first, int last, int fifo, uint64_t cap)
{
    int main_ids = 0;
    for (int i = first; i <= last; i++)
        main_ids += ks_fifo_by_phys(ks, ks->phys[i]) == NULL;
    if (ks->ndead + main_ids > KS_MAX_DEAD)
        return SHALE_EBUSY; /* the sweeper is far behind: refuse rather than forget ids */
    uint32_t saved[KS_DBS], saved_next = ks->next_phys;
    int saved_ndead = ks->ndead;
    memcpy(saved, ks->phys, sizeof saved);
    uint32_t next = ks->next_phys;
    int rc = 0;
    for (int i = first; i <= last && rc == 0; i++) {
        ks_fifo *old = ks_fifo_by_phys(ks, ks->phys[i]);
        bool want = fifo < 0 ? old != NULL : fifo == 1;
        if (want)
            rc = ks_fifo_open_engine(ks, next, cap ? cap : old ? old->cap : 0, NULL);
        next++;
    }
    if (rc == 0) {
        ks_mapping_write_begin(ks);
        for (int i = first; i <= last; i++) {
            if (!ks_fifo_by_phys(ks, ks->phys[i]))
                ks->dead[ks->ndead++] = ks->phys[i];
            __atomic_store_n(&ks->phys[i], ks->next_phys, __ATOMIC_RELAXED);
            __atomic_store_n(&ks->next_phys, ks->next_phys + 1, __ATOMIC_RELAXED);
        }
        rc = ks_save_mapping(ks);
        if (rc) { /* nothing changed on disk: keep serving the old mapping */
            memcpy(ks->phys, saved, sizeof saved);
            ks->next_phys = saved_next;
            ks->ndead = saved_ndead;
        }
        ks_mapping_write_end(ks);
    }
    /* the engines no database maps any more: the replaced ones, or on failure the new */
    for (int i = ks->nfifo - 1; i >= 0; i--)
        if (!phys_mapped(ks, ks->fifo[i].phys))
            ks_fifo_close_engine(ks, i, true);
    if (rc)
        return rc;
    for (int i = first; i <= last; i++) {
        ks->count[i] = ks->expires[i] = 0;
        /* a transaction's earlier writes there are gone with the old id */
        ks->txn_delta[i] = ks->txn_delta_expires[i] = 0;
        ks->txn_behind[i] = ks->txn_behind_expires[i] = 0;
    }
    return 0;
}

int ks_flush(keyspace *ks, int dbi)
{
    for (int i = dbi < 0 ? 0 : dbi; ks->db_touch_fn && i <= (dbi < 0 ? KS_DBS - 1 : dbi); i++)
        ks->db_touch_fn(ks->touch_ctx, i, -1);
    return dbi < 0 ? renew(ks, 0, KS_DBS - 1, -1, 0) : renew(ks, dbi, dbi, -1, 0);
}

int ks_set_fifo(keyspace *ks, int dbi, bool fifo, uint64_t cap)
{
    ks_fifo *f = ks_fifo_by_phys(ks, ks->phys[dbi]);
    if ((f != NULL) != fifo) {
        if (ks->count[dbi] != 0)
            return -ENOTEMPTY;
        return renew(ks, dbi, dbi, fifo, cap);
    }
    if (!f || cap == 0 || cap == f->cap)
        return 0;
    uint64_t old = f->cap;
    int rc = ks_fifo_set_cap(ks, f, cap);
    if (rc == 0) {
        rc = ks_save_mapping(ks);
        if (rc)
            ks_fifo_set_cap(ks, f, old);
    }
    return rc;
}

static void swap_i64(int64_t *a, int64_t *b)
{
    int64_t t = *a;
    *a = *b;
    *b = t;
}

int ks_swap(keyspace *ks, int a, int b)
{
    if (ks->db_touch_fn && a != b) {
        ks->db_touch_fn(ks->touch_ctx, a, b);
        ks->db_touch_fn(ks->touch_ctx, b, a);
    }
    ks_mapping_write_begin(ks);
    uint32_t p = ks->phys[a];
    ks->phys[a] = ks->phys[b];
    ks->phys[b] = p;
    int rc = ks_save_mapping(ks);
    if (rc) {
        ks->phys[b] = ks->phys[a];
        ks->phys[a] = p;
    }
    ks_mapping_write_end(ks);
    if (rc)
        return rc;
    int64_t c = ks->count[a], e = ks->expires[a];
    ks->count[a] = ks->count[b];
    ks->expires[a] = ks->expires[b];
    ks->count[b] = c;
    ks->expires[b] = e;
    swap_i64(&ks->txn_delta[a], &ks->txn_delta[b]);
    swap_i64(&ks->txn_delta_expires[a], &ks->txn_delta_expires[b]);
    swap_i64(&ks->txn_behind[a], &ks->txn_behind[b]);
    swap_i64(&ks->txn_behind_expires[a], &ks->txn_behind_expires[b]);
    if (ks->ready_fn) { /* each database now holds the other's keys */
        ks->ready_fn(ks->ready_ctx, a, NULL, 0);
        ks->ready_fn(ks->ready_ctx, b, NULL, 0);
    }
    return 0;
}

/* ---- the compaction filter ---- */

/* True only when phys is certainly not a database's id (a dropped one). */
static bool phys_dead(keyspace *ks, uint32_t phys)
{
    unsigned s1 = __atomic_load_n(&ks->map_seq, __ATOMIC_ACQUIRE);
    if (s1 & 1)
        return false;
    /* ids at or above next_phys may be in use by a flush racing with this check */
    bool dead = phys < __atomic_load_n(&ks->next_phys, __ATOMIC_RELAXED);
    for (int i = 0; i < KS_DBS && dead; i++)
        if (__atomic_load_n(&ks->phys[i], __ATOMIC_RELAXED) == phys)
            dead = false;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return dead && __atomic_load_n(&ks->map_seq, __ATOMIC_RELAXED) == s1;
}

/*
 * The last hash looked up by this compaction thread, for this compaction job only:
 * consecutive fields share it. Within a job the rule is exact: a field in the job's
 * inputs was committed with its hash's metadata before the job began, so if the
 * metadata read now names another version (or none), that field can never be read again.
 */
static __thread struct {
    uint64_t job;
    char key[256];
    size_t klen;
    uint64_t version; /* 0: no hash there */
} filter_cache;

int ks_compaction_filter(void *ctx, uint64_t job, const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    keyspace *ks = ctx;
    const char *k = key;
    if (!__atomic_load_n(&ks->ready, __ATOMIC_ACQUIRE) || klen < 5 ||
        (k[0] != 'm' && k[0] != 'h' && k[0] != 'x'))
        return 0;
    uint32_t phys = ks_be32(k + 1);
    if (phys_dead(ks, phys))
        return 1;
    if (k[0] != 'h' || klen < 9)
        return 0;
    uint32_t ulen = ks_be32(k + 5);
    if (klen < 9 + (size_t)ulen + 8)
        return 0;
    uint64_t version = ks_be64(k + 9 + ulen);
    size_t mlen = 5 + (size_t)ulen; /* the metadata key: 'm' | id | user key */
    if (!(filter_cache.job == job && filter_cache.klen == mlen &&
          memcmp(filter_cache.key + 1, k + 1, 4) == 0 &&
          memcmp(filter_cache.key + 5, k + 9, ulen) == 0)) {
        ks_key mk;
        if (meta_key_phys(phys, k + 9, ulen, &mk))
            return 0;
        shale_read_options ro;
        shale_read_options_default(&ro);
        ro.include_expired = 1; /* an expired hash keeps its fields until it is reaped */
        ro.fill_cache = 0;
        void *v;
        size_t n;
        int rc = shale_get_ex(ks->db, &ro, mk.p, mk.len, &v, &n, NULL);
        uint64_t current = 0;
        if (rc == 0 && n >= 17 && ks_is_collection(((unsigned char *)v)[0]))
            current = ks_be64((char *)v + 1);
        if (rc == 0)
            shale_free(v);
        filter_cache.job = 0;
        if (rc && rc != SHALE_ENOTFOUND) {
            ks_key_free(&mk);
            return 0; /* cannot tell: keep */
        }
        if (mk.len <= sizeof filter_cache.key) {
            memcpy(filter_cache.key, mk.p, mk.len);
            filter_cache.klen = mk.len;
            filter_cache.version = current;
            filter_cache.job = job;
        }
        ks_key_free(&mk);
        return current != version;
    }
    return filter_cache.version != version;
}

/* ---- background work: active expiry and the sweeper ---- */

int ks_range_open(keyspace *ks, const void *prefix, size_t plen, bool include_expired,
                  ks_range *r)
{
    return ks_range_open_ex(ks, prefix, plen, include_expired, 0, r);
}

int ks_range_open_ex(keyspace *ks, const void *prefix, size_t plen, bool include_expired,
                     unsigned flags, ks_range *r)
{
    r->it = NULL;
    ks_key_init(&r->lo);
    ks_key_init(&r->hi);
    int rc = ks_key_append(&r->lo, prefix, plen);
    rc = rc ? rc : ks_key_append(&r->hi, prefix, plen);
    if (rc)
        goto fail;
    /* the upper bound: the prefix plus one, carrying over trailing 0xff bytes */
    while (r->hi.len > 0 && (unsigned char)r->hi.p[r->hi.len - 1] == 0xff)
        r->hi.len--;
    if (r->hi.len > 0)
        r->hi.p[r->hi.len - 1]++;
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.include_expired = include_expired;
    ro.fill_cache = (flags & KS_RANGE_FILL_CACHE) != 0;
    ro.lower_bound = r->lo.p;
    ro.lower_bound_len = r->lo.len;
    if (r->hi.len > 0) {
        ro.upper_bound = r->hi.p;
        ro.upper_bound_len = r->hi.len;
    }
    rc = ks_iter_open(ks, &ro, &r->it);
    if (rc)
        goto fail;
    if (!(flags & KS_RANGE_UNPOSITIONED))
        ks_iter_seek_to_first(r->it);
    return 0;
fail:
    ks_range_close(r);
    return rc;
}

int ks_range_open_db(keyspace *ks, int dbi, ks_range *r)
{
    ks_key p;
    int rc = prefixed(&p, 'm', ks->phys[dbi]);
    rc = rc ? rc : ks_range_open(ks, p.p, p.len, false, r);
    ks_key_free(&p);
    return rc;
}

int ks_range_open_db_prefix(keyspace *ks, int dbi, const void *prefix, size_t plen,
                            ks_range *r)
{
    ks_key p;
    int rc = ks_meta_key(ks, dbi, prefix, plen, &p);
    rc = rc ? rc : ks_range_open(ks, p.p, p.len, false, r);
    ks_key_free(&p);
    return rc;
}

int ks_range_open_members(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                          ks_range *r)
{
    ks_key p;
    int rc = ks_field_key(ks, dbi, key, klen, m->version, NULL, 0, &p);
    rc = rc ? rc : ks_range_open(ks, p.p, p.len, false, r);
    ks_key_free(&p);
    return rc;
}

int ks_iter_open(keyspace *ks, const shale_read_options *ro, ks_iter **out)
{
    shale_db *db = ro->lower_bound ? ks_engine_of_key(ks, ro->lower_bound, ro->lower_bound_len)
                                   : ks->db;
    return ks_iter_new(db, ks->txn, ro, ks_now_ms(), out);
}

void ks_range_close(ks_range *r)
{
    ks_iter_free(r->it);
    r->it = NULL;
    ks_key_free(&r->lo);
    ks_key_free(&r->hi);
}

static int open_range(keyspace *ks, char tag, uint32_t phys, ks_range *r)
{
    ks_key p;
    int rc = prefixed(&p, tag, phys);
    rc = rc ? rc : ks_range_open(ks, p.p, p.len, true, r);
    ks_key_free(&p);
    return rc;
}

int ks_range_open_expiries(keyspace *ks, int dbi, ks_range *r)
{
    ks_key p;
    int rc = prefixed(&p, 'x', ks->phys[dbi]);
    rc = rc ? rc : ks_range_open(ks, p.p, p.len, false, r);
    ks_key_free(&p);
    return rc;
}

int ks_range_seek_random(ks_range *r, uint64_t rnd)
{
    enum { MAXK = 64 };
    unsigned char lo[MAXK], hi[MAXK], probe[MAXK];
    size_t lolen, hilen, n;
    ks_iter *it = r->it;
    /* (shale_sample_point draws by table size and is near uniform across key shapes,
       but after many evictions its points land among the evicted keys' tombstones, and
       each seek walks over them: eviction under load slowed to a crawl. Not used until
       sampling skips tombstones.) */
    ks_iter_seek_to_first(it);
    if (!ks_iter_valid(it))
        return ks_iter_status(it);
    const char *k = ks_iter_key(it, &n);
    lolen = n < MAXK ? n : MAXK;
    memcpy(lo, k, lolen);
    ks_iter_seek_to_last(it);
    if (!ks_iter_valid(it))
        return ks_iter_status(it);
    k = ks_iter_key(it, &n);
    hilen = n < MAXK ? n : MAXK;
    memcpy(hi, k, hilen);
    size_t p = 0;
    while (p < lolen && p < hilen && lo[p] == hi[p])
        p++;
    if (p == lolen && p == hilen)
        return 0; /* one key: the iterator is on it */
    unsigned minc = 255, maxc = 0; /* the bytes the keys use past the common prefix */
    for (size_t i = p; i < lolen; i++) {
        minc = lo[i] < minc ? lo[i] : minc;
        maxc = lo[i] > maxc ? lo[i] : maxc;
    }
    for (size_t i = p; i < hilen; i++) {
        minc = hi[i] < minc ? hi[i] : minc;
        maxc = hi[i] > maxc ? hi[i] : maxc;
    }
    size_t len = lolen > hilen ? lolen : hilen;
    memcpy(probe, lo, p);
    for (size_t i = p; i < len; i++) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        unsigned a = i == p ? (p < lolen ? lo[p] : 0) : minc;
        unsigned b = i == p ? (p < hilen ? hi[p] : 255) : maxc;
        probe[i] = (unsigned char)(a + (unsigned)((rnd >> 33) % (b - a + 1)));
    }
    ks_iter_seek(it, probe, len);
    if (!ks_iter_valid(it) && ks_iter_status(it) == 0)
        ks_iter_seek_to_first(it);
    return ks_iter_status(it);
}

/* Reaps up to budget expired keys of one physical database. */
static int expire_db(keyspace *ks, uint32_t phys, int budget, uint64_t now)
{
    ks_range r;
    if (open_range(ks, 'x', phys, &r))
        return 0;
    ks_iter *it = r.it;
    int done = 0;
    for (; done < budget && ks_iter_valid(it); ks_iter_next(it)) {
        size_t kl;
        const char *k = ks_iter_key(it, &kl);
        if (kl < 13)
            continue;
        uint64_t exp = ks_be64(k + 5);
        if (exp > now)
            break;
        bool stale, record;
        if (entry_stale(ks, phys, k + 13, kl - 13, exp, &stale, &record))
            break;
        /* a record under another expiry is a key created again after compaction dropped
           the expired one: only the entry goes, the live key stays */
        if (reap(ks, phys, k + 13, kl - 13, exp, record && !stale))
            break;
        done++;
    }
    ks_range_close(&r);
    return done;
}

/* Where the sweep of phys goes on in each tag's records: the last key an earlier tick
   deleted (empty: from the start). NULL without memory. */
static ks_key *sweep_resume(keyspace *ks, uint32_t phys)
{
    if (!ks->sweep_at) {
        ks->sweep_at = malloc(SWEEP_TAGS * sizeof *ks->sweep_at);
        if (!ks->sweep_at)
            return NULL;
        for (int t = 0; t < SWEEP_TAGS; t++)
            ks_key_init(&ks->sweep_at[t]);
    }
    if (ks->sweep_phys != phys)
        for (int t = 0; t < SWEEP_TAGS; t++)
            ks->sweep_at[t].len = 0;
    ks->sweep_phys = phys;
    return ks->sweep_at;
}

/*
 * Deletes up to budget records of one tag of a dropped physical id, from *at on (the last
 * key deleted before), which it moves. What earlier ticks deleted stays as tombstones
 * until compaction: seeking past them instead of walking them from the start keeps a
 * sweep of N keys O(N), not O(N^2 / budget). On a failed write *at is forgotten, so the
 * next tick starts over. Returns how many it deleted.
 */
static int sweep_tag(keyspace *ks, char tag, uint32_t phys, int budget, ks_key *at)
{
    ks_key p;
    ks_range r;
    int rc = prefixed(&p, tag, phys);
    rc = rc ? rc : ks_range_open_ex(ks, p.p, p.len, true, KS_RANGE_UNPOSITIONED, &r);
    ks_key_free(&p);
    if (rc)
        return 0;
    ks_iter *it = r.it;
    if (at->len)
        ks_iter_seek(it, at->p, at->len);
    else
        ks_iter_seek_to_first(it);
    shale_batch_clear(ks->batch);
    int done = 0;
    for (; done < budget && ks_iter_valid(it); ks_iter_next(it)) {
        size_t kl;
        const char *k = ks_iter_key(it, &kl);
        if (shale_batch_delete(ks->batch, k, kl))
            break;
        at->len = 0;
        if (ks_key_append(at, k, kl))
            break;
        done++;
    }
    if (shale_batch_count(ks->batch) && shale_write(ks->db, ks->batch))
        at->len = 0;
    shale_batch_clear(ks->batch);
    ks_range_close(&r);
    return done;
}

/* Deletes up to budget keys of a dropped physical id; returns -1 when it is empty. */
static int sweep_db(keyspace *ks, uint32_t phys, int budget)
{
    ks_key *at = sweep_resume(ks, phys);
    if (!at)
        return 0;
    int done = 0;
    for (int t = 0; t < SWEEP_TAGS && done < budget; t++)
        done += sweep_tag(ks, sweep_tags[t], phys, budget - done, &at[t]);
    return done == 0 ? -1 : done;
}

int ks_background(keyspace *ks, int budget, uint64_t now_ms)
{
    int done = 0;
    if (ks->replica) /* the primary expires and sweeps; its deletes come as records */
        return ks_fifo_check(ks, budget);
    for (int i = 0; i < KS_DBS && done < budget && !ks->reap_paused; i++)
        if (ks->expires[i] > 0)
            done += expire_db(ks, ks->phys[i], budget - done, now_ms);
    while (ks->ndead > 0 && done < budget) {
        int n = sweep_db(ks, ks->dead[0], budget - done);
        if (n >= 0) {
            done += n;
            break;
        }
        memmove(ks->dead, ks->dead + 1, sizeof ks->dead[0] * (size_t)--ks->ndead);
        ks_save_mapping(ks); /* on failure the id is swept again after a restart */
    }
    return done + ks_fifo_check(ks, budget);
}

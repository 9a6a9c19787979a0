/*
 * ks_apply.c - a primary's record applied on a replica, the key layer's state kept
 * (ks_apply.h). Before the write, each metadata record the record writes is read once
 * (did it exist, had it a TTL), and the entries are followed in order to the state they
 * leave; the differences are counted per physical id, then put on the logical databases
 * of the mapping as it is after the record.
 */
#include "ks_apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ks_internal.h"

/* One metadata record the record writes: its state before and after. */
typedef struct key_state {
    uint32_t phys;
    bool existed, had_ttl; /* before the record */
    bool exists, has_ttl;  /* after the entries so far */
    struct key_state *next; /* in its bucket */
    struct key_state *all;  /* every state of the record, newest first */
    size_t len;
    char key[];
} key_state;

/* Buckets: a power of two near the record's entries. Most records are a few writes: their
   table is the context's own (on the stack), and only a larger record allocates one (a
   fixed large table would be cleared and walked for each record). */
#define SMALL_BUCKETS 16
#define MAX_BUCKETS 65536

typedef struct apply_ctx {
    keyspace *ks;
    key_state **buckets; /* small, or allocated */
    size_t nbuckets;
    key_state *small[SMALL_BUCKETS];
    key_state *all;
    int changed;
    bool recount[KS_DBS]; /* a range delete of metadata: count again */
    bool version;         /* the version ceiling 'V' was written */
    int rc;
} apply_ctx;

static uint64_t hash_key(uint32_t phys, const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ phys;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* The state of (phys, key), read from the store at its first write. NULL: out of memory
   or a read error (ctx->rc). */
static key_state *state_of(apply_ctx *a, uint32_t phys, const char *key, size_t klen)
{
    key_state **b = &a->buckets[hash_key(phys, key, klen) & (a->nbuckets - 1)];
    for (key_state *s = *b; s; s = s->next)
        if (s->phys == phys && s->len == klen && memcmp(s->key, key, klen) == 0)
            return s;
    ks_meta m;
    int rc = ks_read_raw_head(a->ks, phys, key, klen, &m);
    bool existed = m.type != 0, ttl = m.type != 0 && m.expire_at_ms != 0;
    ks_meta_free(&m);
    key_state *s = rc ? NULL : malloc(sizeof *s + klen);
    if (!s) {
        a->rc = rc ? rc : -ENOMEM;
        return NULL;
    }
    s->phys = phys;
    s->existed = s->exists = existed;
    s->had_ttl = s->has_ttl = ttl;
    s->len = klen;
    memcpy(s->key, key, klen);
    s->next = *b;
    *b = s;
    s->all = a->all;
    a->all = s;
    return s;
}

static void free_states(apply_ctx *a)
{
    for (key_state *s = a->all, *next; s; s = next) {
        next = s->all;
        free(s);
    }
    if (a->buckets != a->small)
        free(a->buckets);
}

/* A range delete over metadata records: the databases whose ids it covers are counted
   again after it (FLUSHDB-like deletes are rare; a count is exact). */
static void note_range(apply_ctx *a, const char *begin, size_t blen, const char *end, size_t elen)
{
    if (blen < 1 || begin[0] > 'm' || (elen >= 1 && end[0] < 'm'))
        return;
    uint32_t lo = blen >= 5 && begin[0] == 'm' ? ks_be32(begin + 1) : 0;
    uint32_t hi = elen >= 5 && end[0] == 'm' ? ks_be32(end + 1) : UINT32_MAX;
    for (int i = 0; i < KS_DBS; i++)
        if (a->ks->phys[i] >= lo && a->ks->phys[i] <= hi)
            a->recount[i] = true;
}

static int one_entry(void *arg, uint64_t seq, shale_entry_kind kind, const void *key, size_t klen,
                     const void *val, size_t vlen, uint64_t expire_at_ms)
{
    (void)seq;
    apply_ctx *a = arg;
    const char *k = key;
    if (kind == SHALE_ENTRY_RANGE_DELETE) {
        note_range(a, k, klen, val, vlen);
        return 0;
    }
    if (klen >= 1 && k[0] == 'F')
        a->changed |= KS_APPLIED_FUNCTIONS;
    if (klen == 1 && k[0] == 'D')
        a->changed |= KS_APPLIED_MAPPING;
    if (klen == 1 && k[0] == 'V')
        a->version = true;
    ks_touch_engine_key(a->ks, key, klen, kind == SHALE_ENTRY_DELETE);
    if (klen < 5 || k[0] != 'm')
        return 0;
    key_state *s = state_of(a, ks_be32(k + 1), k + 5, klen - 5);
    if (!s)
        return a->rc;
    s->exists = kind == SHALE_ENTRY_PUT;
    s->has_ttl = s->exists && expire_at_ms != 0;
    return 0;
}

/* Counts per physical id before the record (the mapping as it was). */
typedef struct phys_counts {
    uint32_t phys[KS_DBS];
    int64_t count[KS_DBS], expires[KS_DBS];
} phys_counts;

static int index_of(const phys_counts *pc, uint32_t phys)
{
    for (int i = 0; i < KS_DBS; i++)
        if (pc->phys[i] == phys)
            return i;
    return -1;
}

/* The counts per id after the record: before + the keys' differences. */
static void add_differences(apply_ctx *a, phys_counts *pc)
{
    for (key_state *s = a->all; s; s = s->all) {
        int at = index_of(pc, s->phys);
        if (at < 0)
            continue; /* a dropped database's key (the sweeper's deletes) */
        pc->count[at] += (int64_t)s->exists - (int64_t)s->existed;
        pc->expires[at] += (int64_t)s->has_ttl - (int64_t)s->had_ttl;
    }
}

/* Puts the counts on the databases of the mapping now; a database whose id is new (or
   whose keys a range delete took) is counted again. */
static int place_counts(apply_ctx *a, const phys_counts *pc)
{
    keyspace *ks = a->ks;
    int rc = 0;
    for (int i = 0; i < KS_DBS; i++) {
        int at = index_of(pc, ks->phys[i]);
        if (at != i && ks->db_touch_fn)
            ks->db_touch_fn(ks->touch_ctx, i, -1); /* its keys all changed at once */
        if (at >= 0 && !a->recount[i]) {
            ks->count[i] = pc->count[at];
            ks->expires[i] = pc->expires[at];
        } else {
            int r = ks_recount_db(ks, i);
            rc = rc ? rc : r;
        }
    }
    return rc;
}

int ks_apply_record(keyspace *ks, const void *rep, size_t len, int *changed)
{
    *changed = 0;
    uint64_t first, last;
    uint64_t entries = shale_batch_rep_range(rep, len, &first, &last) ? last - first + 1 : 0;
    apply_ctx ctx = {.ks = ks, .nbuckets = SMALL_BUCKETS}, *a = &ctx;
    a->buckets = a->small;
    while (a->nbuckets < entries && a->nbuckets < MAX_BUCKETS)
        a->nbuckets *= 2;
    if (a->nbuckets > SMALL_BUCKETS && !(a->buckets = calloc(a->nbuckets, sizeof *a->buckets)))
        return -ENOMEM;
    phys_counts pc;
    for (int i = 0; i < KS_DBS; i++) {
        pc.phys[i] = ks->phys[i];
        pc.count[i] = ks->count[i];
        pc.expires[i] = ks->expires[i];
    }
    int rc = shale_batch_rep_iterate(rep, len, one_entry, a);
    rc = rc ? rc : shale_write_at(ks->db, rep, len);
    if (rc == 0) {
        *changed = a->changed;
        if (a->changed & KS_APPLIED_MAPPING)
            rc = ks_reload_mapping(ks);
        add_differences(a, &pc);
        int r = place_counts(a, &pc);
        rc = rc ? rc : r;
        if (a->version) {
            r = ks_reload_version_ceiling(ks);
            rc = rc ? rc : r;
        }
    }
    free_states(a);
    return rc;
}

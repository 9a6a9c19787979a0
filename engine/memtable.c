/*
 * memtable.c - the write buffer: entries encoded into an arena and indexed by a
 * skiplist (layout in memtable.h), plus a hash index for point lookups: a fixed array of
 * buckets, each the newest node of a chain linked through skip_node.hnext. The single
 * writer inserts in sequence order, so a chain lists a key's versions newest first and a
 * lookup costs a hash and a short chain walk instead of a skiplist descent (a cache miss
 * per level on a large memtable). One writer, lock-free readers, reference counted.
 */
#include "memtable.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "coding.h"
#include "format.h"
#include "skiplist.h"

#include <xxhash.h>

/* Huge-page blocks (arena.h): inserts and lookups land at random over the whole arena. */
#define MEMTABLE_ARENA_BLOCK ARENA_HUGE_BLOCK
/* Hash buckets: 4 MiB of pointers on huge pages, zero until touched; a full 64 MiB
   memtable of 100-byte values (about 450k entries) averages under one node per bucket. */
#define MEMTABLE_BUCKETS (1u << 19)
#define MEMTABLE_BUCKET_BYTES (MEMTABLE_BUCKETS * sizeof(_Atomic(skip_node *)))

/*
 * The range tombstones' fragments, as runs: run i fragments tombstones [from, from + n)
 * of the list (newest sequence per fragment: the memtable's readers see all of a run or,
 * one run at most, a prefix of it). Sizes halve from the oldest run on, as the digits of
 * a binary counter: a tombstone starts a run of one, and two runs of equal size merge, so
 * each tombstone is fragmented again O(log n) times and a read looks at O(log n) runs.
 * (Fragmenting all of them at every write was quadratic: a queue trimmed by a range
 * deletion per command fell to 62 writes/s at 20 000 tombstones.)
 */
typedef struct rdel_run {
    rdel_list *list;
    size_t from, n;
} rdel_run;

struct memtable {
    atomic_int refs;
    arena *arena;
    skiplist list;
    _Atomic(skip_node *) *buckets;
    atomic_uint_fast64_t entries, deletes;
    atomic_uint_fast64_t max_logged_value; /* longest value with a log position */
    uint64_t log_number, log_offset, log_last_seq;
    /* Range tombstones in sequence order (the writer adds in order), their keys in the
       arena, and their fragments as runs (below); all under rdel_mu. */
    pthread_mutex_t rdel_mu;
    range_tomb *rdels;
    size_t n_rdels, cap_rdels;
    atomic_uint_fast64_t rdel_count; /* n_rdels, readable without the lock */
    atomic_size_t rdel_bytes;        /* the array and the runs' lists, outside the arena */
    rdel_run runs[MEMTABLE_RDEL_RUNS];
    int n_runs;
    rdel_list *straddle; /* the first tombstones of a run, for a reader that sees only them */
    size_t straddle_from, straddle_to;
};

int memtable_new(memtable **out)
{
    *out = NULL;
    memtable *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->arena = arena_new(MEMTABLE_ARENA_BLOCK);
    m->buckets = arena_map_zeroed(MEMTABLE_BUCKET_BYTES);
    if (!m->arena || !m->buckets || skiplist_init(&m->list, m->arena)) {
        arena_free(m->arena);
        arena_unmap(m->buckets, MEMTABLE_BUCKET_BYTES);
        free(m);
        return -ENOMEM;
    }
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->rdel_mu, NULL);
    *out = m;
    return 0;
}

void memtable_ref(memtable *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void memtable_unref(memtable *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    arena_free(m->arena);
    arena_unmap(m->buckets, MEMTABLE_BUCKET_BYTES);
    pthread_mutex_destroy(&m->rdel_mu);
    free(m->rdels);
    for (int i = 0; i < m->n_runs; i++)
        rdel_list_unref(m->runs[i].list);
    rdel_list_unref(m->straddle);
    free(m);
}

int memtable_add(memtable *m, uint64_t seq, int kind, slice user_key, slice value)
{
    return memtable_add_at(m, seq, kind, user_key, value, 0, 0);
}

/* The newest entry of user_key in bucket b (tag: the hash's upper half), or NULL. The
   writer adds in sequence order, so a chain lists a key's entries newest first. */
static skip_node *newest_entry(_Atomic(skip_node *) *b, uint32_t tag, slice user_key)
{
    skip_node *n = atomic_load_explicit(b, memory_order_relaxed);
    for (; n; n = atomic_load_explicit(&n->hnext, memory_order_relaxed))
        if (n->hash == tag && n->ikey_len == user_key.len + TRAILER_SIZE &&
            memcmp(n->ikey, user_key.data, user_key.len) == 0)
            return n;
    return NULL;
}

/* Fragments tombstones [from, from + n) for the memtable's readers. */
static int build_run(memtable *m, size_t from, size_t n, rdel_list **out)
{
    return rdel_list_build(m->rdels + from, n, UINT64_MAX, UINT64_MAX, out);
}

/* Merges the newest runs while the newer of the last two is as large as the older (rdel_mu
   held). A failed merge leaves correct, smaller runs, unless no run is left to spare. */
static int merge_runs(memtable *m)
{
    while (m->n_runs >= 2 && m->runs[m->n_runs - 2].n <= m->runs[m->n_runs - 1].n) {
        rdel_run *a = &m->runs[m->n_runs - 2], *b = &m->runs[m->n_runs - 1];
        rdel_list *l;
        int rc = build_run(m, a->from, a->n + b->n, &l);
        if (rc)
            return m->n_runs == MEMTABLE_RDEL_RUNS ? rc : 0;
        rdel_list_unref(a->list);
        rdel_list_unref(b->list);
        *a = (rdel_run){l, a->from, a->n + b->n};
        m->n_runs--;
    }
    return 0;
}

/* A range tombstone [begin, end) at seq: its keys go to the arena, itself to the list
   and, as a run of one, to the runs. */
static int add_range_del(memtable *m, uint64_t seq, slice begin, slice end)
{
    char *p = arena_alloc(m->arena, begin.len + end.len + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, begin.data, begin.len);
    memcpy(p + begin.len, end.data, end.len);
    range_tomb t = {slice_make(p, begin.len), slice_make(p + begin.len, end.len), seq};
    pthread_mutex_lock(&m->rdel_mu);
    int rc = 0;
    if (m->n_rdels == m->cap_rdels) {
        size_t cap = m->cap_rdels ? m->cap_rdels * 2 : 16;
        range_tomb *a = realloc(m->rdels, cap * sizeof *a);
        rc = a ? 0 : -ENOMEM;
        if (a) {
            m->rdels = a;
            m->cap_rdels = cap;
        }
    }
    rdel_list *one = NULL;
    if (rc == 0) {
        m->rdels[m->n_rdels] = t;
        rc = build_run(m, m->n_rdels, 1, &one);
    }
    if (rc == 0 && m->n_runs == MEMTABLE_RDEL_RUNS) {
        rdel_list_unref(one); /* cannot happen: 2^40 tombstones */
        rc = -ENOMEM;
    }
    if (rc == 0) {
        m->runs[m->n_runs++] = (rdel_run){one, m->n_rdels, 1};
        m->n_rdels++;
        rc = merge_runs(m);
        atomic_store_explicit(&m->rdel_count, m->n_rdels, memory_order_release);
        /* counted with the memtable's size, so that range deletions fill it too */
        size_t bytes = m->cap_rdels * sizeof *m->rdels;
        for (int i = 0; i < m->n_runs; i++)
            bytes += rdel_list_memory(m->runs[i].list);
        atomic_store_explicit(&m->rdel_bytes, bytes, memory_order_relaxed);
    }
    pthread_mutex_unlock(&m->rdel_mu);
    if (rc == 0)
        atomic_fetch_add_explicit(&m->entries, 1, memory_order_relaxed);
    return rc;
}

int memtable_add_at(memtable *m, uint64_t seq, int kind, slice user_key, slice value,
                    uint64_t value_pos, uint32_t stored_len)
{
    if (kind == KIND_RANGE_DELETE)
        return add_range_del(m, seq, user_key, value);
    size_t ikey_len = user_key.len + TRAILER_SIZE;
    size_t size = (size_t)varint_length(ikey_len) + ikey_len + (size_t)varint_length(value.len) +
                  value.len + (size_t)varint_length(value_pos) + (size_t)varint_length(stored_len);
    skip_node *node;
    char *p = skiplist_alloc_entry(&m->list, size, &node);
    if (!p)
        return -ENOMEM;
    p = encode_varint32(p, (uint32_t)ikey_len);
    const char *ikey = p;
    memcpy(p, user_key.data, user_key.len);
    p += user_key.len;
    encode_fixed64(p, pack_trailer(seq, kind));
    p += TRAILER_SIZE;
    p = encode_varint32(p, (uint32_t)value.len);
    if (value.len)
        memcpy(p, value.data, value.len);
    encode_varint32(encode_varint64(p + value.len, value_pos), stored_len);
    uint64_t h = XXH3_64bits(user_key.data, user_key.len);
    _Atomic(skip_node *) *b = &m->buckets[h & (MEMTABLE_BUCKETS - 1)];
    node->hash = (uint32_t)(h >> 32);
    /* An overwrite's place is known: just before the key's newest entry. Most nodes
       have height 1 and need no descent then (a cache miss per step on a big memtable). */
    skip_node *newest = node->height == 1 ? newest_entry(b, node->hash, user_key) : NULL;
    if (newest)
        skiplist_insert_before(&m->list, node, ikey, (uint32_t)ikey_len, newest);
    else
        skiplist_insert_node(&m->list, node, ikey, (uint32_t)ikey_len);
    atomic_store_explicit(&node->hnext, atomic_load_explicit(b, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(b, node, memory_order_release); /* publishes hnext and the entry */
    atomic_fetch_add_explicit(&m->entries, 1, memory_order_relaxed);
    if (kind == KIND_DELETE)
        atomic_fetch_add_explicit(&m->deletes, 1, memory_order_relaxed);
    /* one writer: a plain read-compare-store is enough */
    if (value_pos && value.len > atomic_load_explicit(&m->max_logged_value, memory_order_relaxed))
        atomic_store_explicit(&m->max_logged_value, value.len, memory_order_relaxed);
    return 0;
}

static slice node_value(const skip_node *n)
{
    uint32_t vlen;
    const char *p = n->ikey + n->ikey_len;
    p = decode_varint32(p, p + 5, &vlen);
    return slice_make(p, vlen);
}

bool memtable_get(memtable *m, slice user_key, uint64_t max_seq, int *kind, slice *value)
{
    return memtable_get_hashed(m, user_key, XXH3_64bits(user_key.data, user_key.len), max_seq, kind,
                               value, NULL);
}

void memtable_prefetch(const memtable *m, uint64_t hash)
{
    __builtin_prefetch(&m->buckets[hash & (MEMTABLE_BUCKETS - 1)]);
}

bool memtable_get_hashed(memtable *m, slice user_key, uint64_t h, uint64_t max_seq, int *kind,
                         slice *value, uint64_t *seq)
{
    uint32_t tag = (uint32_t)(h >> 32);
    skip_node *n =
        atomic_load_explicit(&m->buckets[h & (MEMTABLE_BUCKETS - 1)], memory_order_acquire);
    for (; n; n = atomic_load_explicit(&n->hnext, memory_order_acquire)) {
        if (n->hash != tag || n->ikey_len != user_key.len + TRAILER_SIZE ||
            memcmp(n->ikey, user_key.data, user_key.len) != 0)
            continue;
        slice ikey = slice_make(n->ikey, n->ikey_len);
        if (ikey_seq(ikey) > max_seq)
            continue; /* newer than the reader's snapshot: an older version follows */
        *kind = ikey_kind(ikey);
        *value = node_value(n);
        if (seq)
            *seq = ikey_seq(ikey);
        return true;
    }
    return false;
}

uint64_t memtable_num_range_dels(const memtable *m)
{
    return atomic_load_explicit(&((memtable *)m)->rdel_count, memory_order_acquire);
}

/* How many of the tombstones (in sequence order) a reader at read_seq sees. */
static size_t visible_prefix(const memtable *m, uint64_t read_seq)
{
    size_t lo = 0, hi = m->n_rdels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->rdels[mid].seq <= read_seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The fragments of run r that a reader seeing the first p tombstones sees, borrowed
   (rdel_mu held): the run's own, or for the one run a reader sees only part of, a list of
   that part (cached for the next reader at the same point). NULL: none. */
static int run_view(memtable *m, const rdel_run *r, size_t p, rdel_list **out)
{
    *out = NULL;
    if (r->from >= p)
        return 0;
    if (r->from + r->n <= p) {
        *out = r->list;
        return 0;
    }
    if (!m->straddle || m->straddle_from != r->from || m->straddle_to != p) {
        rdel_list *l;
        int rc = build_run(m, r->from, p - r->from, &l);
        if (rc)
            return rc;
        rdel_list_unref(m->straddle);
        m->straddle = l;
        m->straddle_from = r->from;
        m->straddle_to = p;
    }
    *out = m->straddle;
    return 0;
}

int memtable_range_cover(memtable *m, slice key, uint64_t read_seq, uint64_t *cover)
{
    *cover = 0;
    if (memtable_num_range_dels(m) == 0)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&m->rdel_mu);
    size_t p = visible_prefix(m, read_seq);
    for (int i = 0; i < m->n_runs && rc == 0; i++) {
        rdel_list *l;
        rc = run_view(m, &m->runs[i], p, &l);
        uint64_t c = rc ? 0 : rdel_list_cover(l, key, UINT64_MAX);
        if (c > *cover)
            *cover = c;
    }
    pthread_mutex_unlock(&m->rdel_mu);
    return rc;
}

int memtable_range_dels(memtable *m, uint64_t read_seq, rdel_list **out, int *n)
{
    *n = 0;
    if (memtable_num_range_dels(m) == 0)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&m->rdel_mu);
    size_t p = visible_prefix(m, read_seq);
    for (int i = 0; i < m->n_runs && rc == 0; i++) {
        rdel_list *l;
        rc = run_view(m, &m->runs[i], p, &l);
        if (rc == 0 && l) {
            rdel_list_ref(l);
            out[(*n)++] = l;
        }
    }
    pthread_mutex_unlock(&m->rdel_mu);
    if (rc) {
        for (int i = 0; i < *n; i++)
            rdel_list_unref(out[i]);
        *n = 0;
    }
    return rc;
}

int memtable_range_tombs(memtable *m, range_tomb **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->rdel_mu);
    int rc = 0;
    if (m->n_rdels) {
        *out = malloc(m->n_rdels * sizeof **out);
        if (*out) {
            memcpy(*out, m->rdels, m->n_rdels * sizeof **out);
            *n = m->n_rdels;
        } else {
            rc = -ENOMEM;
        }
    }
    pthread_mutex_unlock(&m->rdel_mu);
    return rc;
}

size_t memtable_memory_usage(const memtable *m)
{
    return arena_memory_usage(m->arena) +
           atomic_load_explicit(&((memtable *)m)->rdel_bytes, memory_order_relaxed);
}

uint64_t memtable_num_entries(const memtable *m)
{
    return atomic_load_explicit(&((memtable *)m)->entries, memory_order_relaxed);
}

uint64_t memtable_num_deletes(const memtable *m)
{
    return atomic_load_explicit(&((memtable *)m)->deletes, memory_order_relaxed);
}

uint64_t memtable_max_logged_value(const memtable *m)
{
    return atomic_load_explicit(&((memtable *)m)->max_logged_value, memory_order_relaxed);
}

void memtable_set_log_position(memtable *m, uint64_t number, uint64_t offset, uint64_t last_seq)
{
    m->log_number = number;
    m->log_offset = offset;
    m->log_last_seq = last_seq;
}

uint64_t memtable_log_last_seq(const memtable *m)
{
    return m->log_last_seq;
}

uint64_t memtable_log_offset(const memtable *m)
{
    return m->log_offset;
}

uint64_t memtable_log_number(const memtable *m)
{
    return m->log_number;
}

/* ---- iterator ---- */

typedef struct mem_iter {
    iter base;
    memtable *m;
    skip_node *node;
} mem_iter;

static bool mi_valid(const iter *it)
{
    return ((const mem_iter *)it)->node != NULL;
}

static void mi_seek_to_first(iter *it)
{
    mem_iter *mi = (mem_iter *)it;
    mi->node = skiplist_first(&mi->m->list);
}

static void mi_seek_to_last(iter *it)
{
    mem_iter *mi = (mem_iter *)it;
    mi->node = skiplist_last(&mi->m->list);
}

static void mi_seek(iter *it, slice target)
{
    mem_iter *mi = (mem_iter *)it;
    mi->node = skiplist_seek(&mi->m->list, target);
}

static void mi_seek_for_prev(iter *it, slice target)
{
    mem_iter *mi = (mem_iter *)it;
    skip_node *n = skiplist_seek(&mi->m->list, target);
    if (n && ikey_compare(slice_make(n->ikey, n->ikey_len), target) == 0) {
        mi->node = n;
        return;
    }
    mi->node = skiplist_seek_lt(&mi->m->list, target);
}

static void mi_next(iter *it)
{
    mem_iter *mi = (mem_iter *)it;
    mi->node = skip_node_next(mi->node);
    /* A flush walks every node in order, a cache miss each: fetch the one after this
       (its header and, in the next line, usually its key) while the caller works on
       this one. */
    skip_node *ahead = mi->node ? skip_node_next(mi->node) : NULL;
    if (ahead) {
        __builtin_prefetch(ahead);
        __builtin_prefetch((const char *)ahead + 64);
    }
}

static void mi_prev(iter *it)
{
    mem_iter *mi = (mem_iter *)it;
    mi->node = skiplist_seek_lt(&mi->m->list, slice_make(mi->node->ikey, mi->node->ikey_len));
}

static slice mi_key(const iter *it)
{
    const skip_node *n = ((const mem_iter *)it)->node;
    return slice_make(n->ikey, n->ikey_len);
}

static slice mi_value(const iter *it)
{
    return node_value(((const mem_iter *)it)->node);
}

uint64_t memtable_iter_value_pos(const iter *it, uint32_t *stored_len)
{
    slice v = mi_value(it);
    uint64_t pos = 0;
    const char *p = decode_varint64(v.data + v.len, v.data + v.len + 10, &pos);
    *stored_len = 0;
    decode_varint32(p, p + 5, stored_len);
    return pos;
}

static int mi_status(const iter *it)
{
    return 0;
}

static void mi_destroy(iter *it)
{
    mem_iter *mi = (mem_iter *)it;
    memtable_unref(mi->m);
    free(mi);
}

static const iter_ops mem_iter_ops = {mi_valid,         mi_seek_to_first, mi_seek_to_last, mi_seek,
                                      mi_seek_for_prev, mi_next,          mi_prev,         mi_key,
                                      mi_value,         mi_status,        mi_destroy};

iter *memtable_iter_new(memtable *m)
{
    mem_iter *mi = malloc(sizeof *mi);
    if (!mi)
        return NULL;
    mi->base.ops = &mem_iter_ops;
    memtable_ref(m);
    mi->m = m;
    mi->node = NULL;
    return &mi->base;
}

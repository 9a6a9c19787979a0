/*
 * ks_txn.c - a transaction that spans several commands (EXEC): the ordered index of the
 * writes its commands committed so far, which the key layer's reads look at before the
 * engine, and the iterator that merges it with the engine's (keyspace.h, "Transactions
 * over several commands"). RocksDB's WriteBatchWithIndex, kept in the key layer.
 *
 * The index is a skiplist of engine keys, one node per key: the newest write wins, a
 * delete stays as a tombstone. Nodes are never freed before the transaction ends, and a
 * replaced value is kept until then too, so an iterator positioned on a node, or a caller
 * holding a value it returned, stays valid while later writes (a reap during a read) go
 * in. The current command's own writes wait in a log (pending) until its ks_commit folds
 * them in, so that they stay invisible to its own reads as outside a transaction.
 */
#include "ks_txn.h"

#include <stdint.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OV_MAX_HEIGHT 20

typedef struct ov_val {
    struct ov_val *older; /* the value it replaced, freed with the index */
    size_t len;
    char bytes[];
} ov_val;

struct ov_node {
    ov_val *val; /* NULL: deleted */
    uint64_t expire_at_ms;
    struct ov_node *prev; /* level 0 backwards; the head for the first node */
    size_t klen;
    char *key;
    int height;
    struct ov_node *next[];
};

/* One write in the pending log: the header, then key and value bytes. */
typedef struct pending_op {
    uint64_t expire_at_ms;
    uint32_t klen, vlen;
    uint8_t del;
} pending_op;

/* ---- the index ---- */

static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static ov_node *node_new(int height, const void *key, size_t klen)
{
    ov_node *n = calloc(1, sizeof *n + (size_t)height * sizeof n->next[0] + klen);
    if (!n)
        return NULL;
    n->height = height;
    n->key = (char *)&n->next[height];
    n->klen = klen;
    if (klen)
        memcpy(n->key, key, klen);
    return n;
}

static int index_init(ks_txn *t)
{
    t->head = node_new(OV_MAX_HEIGHT, NULL, 0);
    t->height = 1;
    t->rnd = 0x9e3779b97f4a7c15ull;
    return t->head ? 0 : -ENOMEM;
}

static void index_free(ks_txn *t)
{
    ov_node *n = t->head;
    while (n) {
        ov_node *next = n->next[0];
        for (ov_val *v = n->val; v;) {
            ov_val *older = v->older;
            free(v);
            v = older;
        }
        free(n);
        n = next;
    }
    t->head = NULL;
}

static int random_height(ks_txn *t)
{
    int h = 1;
    for (;;) {
        t->rnd ^= t->rnd << 13;
        t->rnd ^= t->rnd >> 7;
        t->rnd ^= t->rnd << 17;
        if (h >= OV_MAX_HEIGHT || (t->rnd & 3) != 0)
            return h;
        h++;
    }
}

/* The last node whose key is below key (the head when none), with the path in prev[]. */
static ov_node *find_below(const ks_txn *t, const void *key, size_t klen,
                           ov_node **path)
{
    ov_node *x = t->head;
    for (int lv = t->height - 1; lv >= 0; lv--) {
        while (x->next[lv] && key_cmp(x->next[lv]->key, x->next[lv]->klen, key, klen) < 0)
            x = x->next[lv];
        if (path)
            path[lv] = x;
    }
    return x;
}

/* The last node (the head when the index is empty). */
static ov_node *find_last(const ks_txn *t)
{
    ov_node *x = t->head;
    for (int lv = t->height - 1; lv >= 0; lv--)
        while (x->next[lv])
            x = x->next[lv];
    return x;
}

static ov_node *find(const ks_txn *t, const void *key, size_t klen)
{
    ov_node *n = find_below(t, key, klen, NULL)->next[0];
    return n && key_cmp(n->key, n->klen, key, klen) == 0 ? n : NULL;
}

/* Sets key's newest write: a value (val non-NULL) with its expiry, or a delete. */
static int index_set(ks_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                     uint64_t expire_at_ms)
{
    ov_node *path[OV_MAX_HEIGHT];
    ov_node *n = find_below(t, key, klen, path)->next[0];
    if (!n || key_cmp(n->key, n->klen, key, klen) != 0) {
        int h = random_height(t);
        n = node_new(h, key, klen);
        if (!n)
            return -ENOMEM;
        for (int lv = t->height; lv < h; lv++)
            path[lv] = t->head;
        if (h > t->height)
            t->height = h;
        for (int lv = 0; lv < h; lv++) {
            n->next[lv] = path[lv]->next[lv];
            path[lv]->next[lv] = n;
        }
        n->prev = path[0];
        if (n->next[0])
            n->next[0]->prev = n;
        t->entries++;
    }
    if (val) {
        ov_val *v = malloc(sizeof *v + vlen + 1);
        if (!v)
            return -ENOMEM;
        v->len = vlen;
        if (vlen)
            memcpy(v->bytes, val, vlen);
        v->bytes[vlen] = '\0';
        v->older = n->val;
        n->val = v;
    } else if (n->val) {
        /* a tombstone: keep the old value reachable for the chain's free, hidden */
        ov_val *v = malloc(sizeof *v);
        if (!v)
            return -ENOMEM;
        v->len = SIZE_MAX;
        v->older = n->val;
        n->val = v;
    }
    n->expire_at_ms = val ? expire_at_ms : 0;
    return 0;
}

static bool node_deleted(const ov_node *n)
{
    return !n->val || n->val->len == SIZE_MAX;
}

/* ---- the transaction ---- */

int ks_txn_new(ks_txn **out)
{
    ks_txn *t = calloc(1, sizeof *t);
    if (!t || index_init(t)) {
        free(t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

void ks_txn_free(ks_txn *t)
{
    if (!t)
        return;
    index_free(t);
    free(t->pending);
    free(t);
}

static int pending_append(ks_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                          uint64_t expire_at_ms, bool del)
{
    if (klen > UINT32_MAX || vlen > UINT32_MAX)
        return -EINVAL;
    size_t need = t->pending_len + sizeof(pending_op) + klen + vlen;
    if (need > t->pending_cap) {
        size_t cap = t->pending_cap ? t->pending_cap : 4096;
        while (cap < need)
            cap *= 2;
        char *p = realloc(t->pending, cap);
        if (!p)
            return -ENOMEM;
        t->pending = p;
        t->pending_cap = cap;
    }
    pending_op op = {expire_at_ms, (uint32_t)klen, (uint32_t)vlen, del};
    char *at = t->pending + t->pending_len;
    memcpy(at, &op, sizeof op);
    if (klen)
        memcpy(at + sizeof op, key, klen);
    if (vlen)
        memcpy(at + sizeof op + klen, val, vlen);
    t->pending_len = need;
    return 0;
}

int ks_txn_put(ks_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
               uint64_t expire_at_ms)
{
    return pending_append(t, key, klen, val, vlen, expire_at_ms, false);
}

int ks_txn_del(ks_txn *t, const void *key, size_t klen)
{
    return pending_append(t, key, klen, NULL, 0, 0, true);
}

int ks_txn_put_now(ks_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                   uint64_t expire_at_ms)
{
    return index_set(t, key, klen, val ? val : "", vlen, expire_at_ms);
}

int ks_txn_del_now(ks_txn *t, const void *key, size_t klen)
{
    return index_set(t, key, klen, NULL, 0, 0);
}

int ks_txn_fold(ks_txn *t)
{
    int rc = 0;
    size_t at = 0;
    while (rc == 0 && at < t->pending_len) {
        pending_op op;
        memcpy(&op, t->pending + at, sizeof op);
        const char *k = t->pending + at + sizeof op;
        rc = op.del ? index_set(t, k, op.klen, NULL, 0, 0)
                    : index_set(t, k, op.klen, k + op.klen, op.vlen, op.expire_at_ms);
        at += sizeof op + op.klen + op.vlen;
    }
    t->pending_len = 0;
    return rc;
}

void ks_txn_drop_pending(ks_txn *t)
{
    t->pending_len = 0;
}

int ks_txn_lookup(const ks_txn *t, const void *key, size_t klen, const void **val, size_t *vlen,
                  uint64_t *expire_at_ms)
{
    const ov_node *n = find(t, key, klen);
    if (!n)
        return KS_TXN_MISS;
    if (node_deleted(n))
        return KS_TXN_DELETED;
    if (val)
        *val = n->val->bytes;
    if (vlen)
        *vlen = n->val->len;
    if (expire_at_ms)
        *expire_at_ms = n->expire_at_ms;
    return KS_TXN_PUT;
}

int ks_txn_walk(const ks_txn *t, ks_txn_visit visit, void *ctx)
{
    int rc = 0;
    for (const ov_node *n = t->head->next[0]; n && rc == 0; n = n->next[0])
        rc = node_deleted(n) ? visit(ctx, n->key, n->klen, NULL, 0, 0)
                             : visit(ctx, n->key, n->klen, n->val->bytes, n->val->len,
                                     n->expire_at_ms);
    return rc;
}

size_t ks_txn_entries(const ks_txn *t)
{
    return t->entries;
}

/* ---- the merging iterator ---- */

enum { CUR_NONE, CUR_BASE, CUR_INDEX };

struct ks_iter {
    shale_iter *base;
    const ks_txn *txn; /* NULL: the engine's iterator alone */
    ks_key lo, hi;     /* hi.len 0: no upper bound */
    bool include_expired;
    uint64_t now;
    ov_node *on; /* the index's cursor; NULL past either end */
    int cur;
    int backward;
    ks_key at; /* a copy of the current key when the direction turns */
};

int ks_iter_new(shale_db *db, const ks_txn *txn, const shale_read_options *ro, uint64_t now_ms,
                ks_iter **out)
{
    ks_iter *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    ks_key_init(&it->lo);
    ks_key_init(&it->hi);
    ks_key_init(&it->at);
    int rc = ro->lower_bound ? ks_key_append(&it->lo, ro->lower_bound, ro->lower_bound_len) : 0;
    rc = rc ? rc : ro->upper_bound ? ks_key_append(&it->hi, ro->upper_bound, ro->upper_bound_len)
                                   : 0;
    rc = rc ? rc : shale_iter_new(db, ro, &it->base);
    if (rc) {
        ks_iter_free(it);
        return rc;
    }
    it->txn = txn;
    it->include_expired = ro->include_expired != 0;
    it->now = now_ms;
    *out = it;
    return 0;
}

void ks_iter_free(ks_iter *it)
{
    if (!it)
        return;
    shale_iter_free(it->base);
    ks_key_free(&it->lo);
    ks_key_free(&it->hi);
    ks_key_free(&it->at);
    free(it);
}

static bool node_in_range(const ks_iter *it, const ov_node *n)
{
    if (!n || n == it->txn->head)
        return false;
    if (key_cmp(n->key, n->klen, it->lo.p, it->lo.len) < 0)
        return false;
    return it->hi.len == 0 || key_cmp(n->key, n->klen, it->hi.p, it->hi.len) < 0;
}

/* A node the iterator does not show: a delete, or an expired value when it hides those. */
static bool node_hidden(const ks_iter *it, const ov_node *n)
{
    if (node_deleted(n))
        return true;
    return !it->include_expired && n->expire_at_ms && n->expire_at_ms <= it->now;
}

static int cmp_base(const ks_iter *it, const ov_node *n)
{
    size_t bl;
    const void *bk = shale_iter_key(it->base, &bl);
    return key_cmp(n->key, n->klen, bk, bl);
}

/* Picks the current entry at or after the cursors (at or before them going backward):
   an index node hides the engine's entry of the same key. */
static void settle(ks_iter *it, bool backward)
{
    it->backward = backward;
    int dir = backward ? -1 : 1;
    for (;;) {
        bool bv = shale_iter_valid(it->base);
        if (!bv && shale_iter_status(it->base)) {
            it->cur = CUR_NONE;
            return;
        }
        ov_node *n = node_in_range(it, it->on) ? it->on : NULL;
        if (!n) {
            it->cur = bv ? CUR_BASE : CUR_NONE;
            return;
        }
        if (bv) {
            int c = cmp_base(it, n) * dir; /* > 0: the engine's entry comes first */
            if (c == 0) {
                if (backward)
                    shale_iter_prev(it->base);
                else
                    shale_iter_next(it->base);
                continue;
            }
            if (c > 0) {
                it->cur = CUR_BASE;
                return;
            }
        }
        if (node_hidden(it, n)) {
            it->on = backward ? n->prev : n->next[0];
            continue;
        }
        it->cur = CUR_INDEX;
        return;
    }
}

static void settle_forward(ks_iter *it)
{
    settle(it, false);
}

static void settle_backward(ks_iter *it)
{
    settle(it, true);
}

void ks_iter_seek_to_first(ks_iter *it)
{
    shale_iter_seek_to_first(it->base);
    if (!it->txn)
        return;
    it->on = find_below(it->txn, it->lo.p, it->lo.len, NULL)->next[0];
    settle_forward(it);
}

void ks_iter_seek_to_last(ks_iter *it)
{
    shale_iter_seek_to_last(it->base);
    if (!it->txn)
        return;
    it->on = it->hi.len ? find_below(it->txn, it->hi.p, it->hi.len, NULL) : find_last(it->txn);
    settle_backward(it);
}

void ks_iter_seek(ks_iter *it, const void *key, size_t klen)
{
    shale_iter_seek(it->base, key, klen);
    if (!it->txn)
        return;
    if (key_cmp(key, klen, it->lo.p, it->lo.len) < 0) {
        key = it->lo.p;
        klen = it->lo.len;
    }
    it->on = find_below(it->txn, key, klen, NULL)->next[0];
    settle_forward(it);
}

void ks_iter_seek_for_prev(ks_iter *it, const void *key, size_t klen)
{
    shale_iter_seek_for_prev(it->base, key, klen);
    if (!it->txn)
        return;
    ov_node *n = find_below(it->txn, key, klen, NULL);
    if (n->next[0] && key_cmp(n->next[0]->key, n->next[0]->klen, key, klen) == 0)
        n = n->next[0];
    /* past the upper bound: the last node below it */
    while (n != it->txn->head && it->hi.len && key_cmp(n->key, n->klen, it->hi.p, it->hi.len) >= 0)
        n = n->prev;
    it->on = n;
    settle_backward(it);
}

int ks_iter_valid(const ks_iter *it)
{
    if (!it->txn)
        return shale_iter_valid(it->base);
    return it->cur == CUR_INDEX || (it->cur == CUR_BASE && shale_iter_valid(it->base));
}

const void *ks_iter_key(const ks_iter *it, size_t *klen)
{
    if (it->txn && it->cur == CUR_INDEX) {
        *klen = it->on->klen;
        return it->on->key;
    }
    return shale_iter_key(it->base, klen);
}

const void *ks_iter_value(const ks_iter *it, size_t *vlen)
{
    if (it->txn && it->cur == CUR_INDEX) {
        *vlen = it->on->val->len;
        return it->on->val->bytes;
    }
    return shale_iter_value(it->base, vlen);
}

uint64_t ks_iter_expire_at(const ks_iter *it)
{
    if (it->txn && it->cur == CUR_INDEX)
        return it->on->expire_at_ms;
    return shale_iter_expire_at(it->base);
}

int ks_iter_status(const ks_iter *it)
{
    return shale_iter_status(it->base);
}

/* Turns the direction: both cursors go back to the current key (it stays current). */
static bool turn_to(ks_iter *it, int backward)
{
    size_t kl;
    const void *k = ks_iter_key(it, &kl);
    it->at.len = 0;
    if (ks_key_append(&it->at, k, kl)) {
        it->cur = CUR_NONE;
        return false;
    }
    if (backward)
        ks_iter_seek_for_prev(it, it->at.p, it->at.len);
    else
        ks_iter_seek(it, it->at.p, it->at.len);
    return ks_iter_valid(it);
}

void ks_iter_next(ks_iter *it)
{
    if (!it->txn) {
        shale_iter_next(it->base);
        return;
    }
    if (!ks_iter_valid(it) || (it->backward && !turn_to(it, 0)))
        return;
    if (it->cur == CUR_INDEX)
        it->on = it->on->next[0];
    else
        shale_iter_next(it->base);
    settle_forward(it);
}

void ks_iter_prev(ks_iter *it)
{
    if (!it->txn) {
        shale_iter_prev(it->base);
        return;
    }
    if (!ks_iter_valid(it) || (!it->backward && !turn_to(it, 1)))
        return;
    if (it->cur == CUR_INDEX)
        it->on = it->on->prev;
    else
        shale_iter_prev(it->base);
    settle_backward(it);
}

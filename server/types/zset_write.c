/*
 * zset_write.c - the writer through which a command changes one sorted set (zset.h):
 * its own view of what the command wrote, member puts and removals, pops and range
 * removals through zset.c's reads, and the metadata with its size, flags and the
 * live-start hints moved past what was taken from an end.
 */
#include <errno.h>
#include <string.h>

#include "zset.h"
#include "zset_internal.h"

static void writer_init(zset_writer *w, keyspace *ks, int dbi, const void *key, size_t klen,
                        const ks_meta *m, bool replace)
{
    memset(w, 0, sizeof *w);
    w->z = (zset_ref){.ks = ks, .dbi = dbi, .key = key, .klen = klen, .m = m};
    w->old = m;
    w->replace = replace;
    w->limits = ZSET_LIMITS_DEFAULT;
    mm_init(&w->changed);
    if (replace || m->type != KS_TYPE_ZSET) {
        w->version = ks_new_version(ks);
        w->lo.state = w->hi.state = ZHINT_EMPTY;
        w->dirty = replace; /* the old key goes even when nothing replaces it */
    } else {
        w->version = m->version;
        w->size = m->size;
        w->flags = zset_flags(m);
        zset_hints_parse(m, &w->lo, &w->hi);
    }
}

void zset_writer_open(zset_writer *w, keyspace *ks, int dbi, const void *key, size_t klen,
                      const ks_meta *m)
{
    writer_init(w, ks, dbi, key, klen, m, false);
}

void zset_writer_open_replace(zset_writer *w, keyspace *ks, int dbi, const void *key, size_t klen,
                              const ks_meta *m)
{
    writer_init(w, ks, dbi, key, klen, m, true);
}

void zset_writer_free(zset_writer *w)
{
    mm_free(&w->changed);
}

/* Whether the old set can be read (it exists and this writer builds on it). */
static bool writer_reads_old(const zset_writer *w)
{
    return !w->replace && zset_present(&w->z);
}

int zset_writer_score(zset_writer *w, const void *member, size_t n, double *score)
{
    mm_entry *e = mm_find(&w->changed, member, n);
    if (e) {
        *score = e->score;
        return e->mark == 1 ? 0 : SHALE_ENOTFOUND;
    }
    return writer_reads_old(w) ? zset_score(&w->z, member, n, score) : SHALE_ENOTFOUND;
}

/* Notes what the command did to a member, for its later reads (a replacing writer is
   never read from: its members come once each, and keeping them would hold a whole
   STORE result in memory twice). */
static int remember(zset_writer *w, const void *member, size_t n, int mark, double score)
{
    if (w->replace)
        return 0;
    bool added;
    mm_entry *e = mm_upsert(&w->changed, member, n, &added);
    if (!e)
        return -ENOMEM;
    e->mark = mark;
    e->score = score;
    return 0;
}

/* Widens the hints to take in the entry enc | member. */
static void hints_take(zset_writer *w, uint64_t enc, const void *member, size_t n)
{
    zset_hint h;
    zset_hint_below(enc, member, n, &h);
    if (w->lo.state == ZHINT_EMPTY ||
        (w->lo.state == ZHINT_KEY && zset_bytes_cmp(h.b, h.n, w->lo.b, w->lo.n) < 0)) {
        w->lo = h;
        w->dirty = true;
    }
    zset_hint_above(enc, member, n, &h);
    if (w->hi.state == ZHINT_EMPTY ||
        (w->hi.state == ZHINT_KEY && zset_bytes_cmp(h.b, h.n, w->hi.b, w->hi.n) > 0)) {
        w->hi = h;
        w->dirty = true;
    }
}

int zset_writer_set(zset_writer *w, const void *member, size_t n, double score, bool existed,
                    double old)
{
    uint64_t enc = zset_score_encode(score), old_enc = existed ? zset_score_encode(old) : 0;
    if (existed && old_enc == enc) /* -0 over 0: nothing to write */
        return remember(w, member, n, 1, score);
    unsigned char v[8];
    zset_put_be64(v, enc);
    ks_key k;
    int rc = zset_member_key(&w->z, w->version, member, n, &k);
    rc = rc ? rc : ks_put_raw(w->z.ks, &k, v, sizeof v);
    ks_key_free(&k);
    if (rc == 0) {
        rc = zset_score_key(&w->z, w->version, enc, member, n, &k);
        rc = rc ? rc : ks_put_raw(w->z.ks, &k, "", 0);
        ks_key_free(&k);
    }
    if (rc == 0 && existed) {
        rc = zset_score_key(&w->z, w->version, old_enc, member, n, &k);
        rc = rc ? rc : ks_del_raw(w->z.ks, &k);
        ks_key_free(&k);
    }
    if (rc == 0 && !existed) {
        w->size++;
        w->dirty = true;
        /* Redis leaves its listpack for good past these */
        if (w->size > w->limits.entries || n > w->limits.value)
            w->flags |= ZSET_F_SKIPLIST;
    }
    if (rc == 0)
        hints_take(w, enc, member, n);
    return rc ? rc : remember(w, member, n, 1, score);
}

/* Deletes a member's two keys. */
static int delete_member(zset_writer *w, const void *member, size_t n, uint64_t enc)
{
    ks_key k;
    int rc = zset_member_key(&w->z, w->version, member, n, &k);
    rc = rc ? rc : ks_del_raw(w->z.ks, &k);
    ks_key_free(&k);
    if (rc == 0) {
        rc = zset_score_key(&w->z, w->version, enc, member, n, &k);
        rc = rc ? rc : ks_del_raw(w->z.ks, &k);
        ks_key_free(&k);
    }
    if (rc == 0) {
        w->size--;
        w->dirty = true;
    }
    return rc;
}

int zset_writer_remove(zset_writer *w, const void *member, size_t n, double score)
{
    int rc = delete_member(w, member, n, zset_score_encode(score));
    return rc ? rc : remember(w, member, n, 2, score);
}

/* What a range removal passes through: each member is deleted (after the caller's
   emit, for pops), and the first and last removed in the walk's order are kept as the
   hints they would make. */
typedef struct removal {
    zset_writer *w;
    zset_emit_fn emit; /* the pop's reply, or NULL */
    void *ctx;
    uint64_t n;
    zset_hint first_below, first_above, last_below, last_above;
    /* the first and last removed in full, to compare with the set's ends */
    ks_key first, last;
} removal;

static int removal_emit(void *ctx, const char *member, size_t len, double score)
{
    removal *x = ctx;
    int rc = x->emit ? x->emit(x->ctx, member, len, score) : 0;
    if (rc)
        return rc;
    uint64_t enc = zset_score_encode(score);
    rc = delete_member(x->w, member, len, enc);
    if (rc)
        return rc;
    unsigned char e[8];
    zset_put_be64(e, enc);
    if (x->n++ == 0) {
        zset_hint_below(enc, member, len, &x->first_below);
        zset_hint_above(enc, member, len, &x->first_above);
        rc = ks_key_append(&x->first, e, 8);
        rc = rc ? rc : ks_key_append(&x->first, member, len);
    }
    zset_hint_below(enc, member, len, &x->last_below);
    zset_hint_above(enc, member, len, &x->last_above);
    x->last.len = 0;
    rc = rc ? rc : ks_key_append(&x->last, e, 8);
    return rc ? rc : ks_key_append(&x->last, member, len);
}

static void removal_init(removal *x, zset_writer *w, zset_emit_fn emit, void *ctx)
{
    memset(x, 0, sizeof *x);
    x->w = w;
    x->emit = emit;
    x->ctx = ctx;
    ks_key_init(&x->first);
    ks_key_init(&x->last);
}

static void removal_free(removal *x)
{
    ks_key_free(&x->first);
    ks_key_free(&x->last);
}

int zset_writer_pop(zset_writer *w, bool max, uint64_t count, zset_emit_fn emit, void *ctx,
                    uint64_t *popped)
{
    *popped = 0;
    if (!writer_reads_old(w) || count == 0)
        return 0;
    removal x;
    removal_init(&x, w, emit, ctx);
    uint64_t size = w->z.m->size;
    int rc = zset_range_rank(&w->z, 0, (count < size ? count : size) - 1, max, removal_emit, &x);
    if (rc == 0 && x.n) {
        /* what is left is past the last member popped */
        if (max)
            w->hi = x.last_above;
        else
            w->lo = x.last_below;
    }
    *popped = x.n;
    removal_free(&x);
    return rc;
}

int zset_writer_remove_rank(zset_writer *w, uint64_t start, uint64_t stop, uint64_t *removed)
{
    *removed = 0;
    if (!writer_reads_old(w))
        return 0;
    removal x;
    removal_init(&x, w, NULL, NULL);
    uint64_t size = w->z.m->size;
    int rc = zset_range_rank(&w->z, start, stop, false, removal_emit, &x);
    if (rc == 0 && x.n) {
        if (start == 0)
            w->lo = x.last_below;
        if (stop + 1 >= size)
            w->hi = x.first_above;
    }
    *removed = x.n;
    removal_free(&x);
    return rc;
}

/* After removing a range (ascending): the hints move past it when it began at the set's
   first entry or ended at its last. */
static int hints_after_range(zset_writer *w, const removal *x)
{
    ks_key first, last;
    ks_key_init(&first);
    ks_key_init(&last);
    int rc = zset_end_entry(&w->z, false, &first);
    rc = rc ? rc : zset_end_entry(&w->z, true, &last);
    if (rc == 0) {
        if (first.len && zset_bytes_cmp(first.p, first.len, x->first.p, x->first.len) == 0)
            w->lo = x->last_below;
        if (last.len && zset_bytes_cmp(last.p, last.len, x->last.p, x->last.len) == 0)
            w->hi = x->first_above;
    }
    ks_key_free(&first);
    ks_key_free(&last);
    return rc;
}

int zset_writer_remove_score(zset_writer *w, const zset_score_range *r, uint64_t *removed)
{
    *removed = 0;
    if (!writer_reads_old(w))
        return 0;
    removal x;
    removal_init(&x, w, NULL, NULL);
    int rc = zset_range_score(&w->z, r, false, 0, -1, removal_emit, &x);
    if (rc == 0 && x.n)
        rc = hints_after_range(w, &x);
    *removed = x.n;
    removal_free(&x);
    return rc;
}

int zset_writer_remove_lex(zset_writer *w, const zset_lex_range *r, uint64_t *removed)
{
    *removed = 0;
    if (!writer_reads_old(w))
        return 0;
    removal x;
    removal_init(&x, w, NULL, NULL);
    int rc = zset_range_lex(&w->z, r, false, 0, -1, removal_emit, &x);
    if (rc == 0 && x.n)
        rc = hints_after_range(w, &x);
    *removed = x.n;
    removal_free(&x);
    return rc;
}

int zset_writer_finish(zset_writer *w)
{
    if (!w->dirty)
        return 0;
    const ks_meta *old = w->old;
    int rc = 0;
    if (w->replace) {
        rc = ks_del_key(w->z.ks, w->z.dbi, w->z.key, w->z.klen, old);
        old = &w->none;
    }
    unsigned char extra[3 + 2 * ZSET_HINT_MAX];
    size_t ln = w->lo.state == ZHINT_KEY ? w->lo.n : 0;
    size_t hn = w->hi.state == ZHINT_KEY ? w->hi.n : 0;
    extra[0] = (unsigned char)w->flags;
    extra[1] = (unsigned char)ln;
    memcpy(extra + 2, w->lo.b, ln);
    extra[2 + ln] = (unsigned char)hn;
    memcpy(extra + 3 + ln, w->hi.b, hn);
    if (rc == 0 && w->replace) /* a new key: no expiry unless one was given */
        rc = ks_put_collection_expiring(w->z.ks, w->z.dbi, w->z.key, w->z.klen, old,
                                        KS_TYPE_ZSET, w->version, w->size, extra, 3 + ln + hn,
                                        w->expire_at_ms);
    else if (rc == 0)
        rc = ks_put_collection(w->z.ks, w->z.dbi, w->z.key, w->z.klen, old, KS_TYPE_ZSET,
                               w->version, w->size, extra, 3 + ln + hn);
    return rc;
}

/* Whether Redis holds a restored sorted set as a skiplist (zset.h, zset_store), under
   the default listpack limits. */
static bool restored_skiplist(const rdb_value *v)
{
    const zset_limits lim = ZSET_LIMITS_DEFAULT;
    if (v->n > lim.entries)
        return true;
    if (v->enc == RDB_ENC_COMPACT)
        return false;
    for (size_t i = 0; i < v->n; i++) {
        size_t n;
        rdb_value_item(v, i, &n);
        if (n > lim.value)
            return true;
    }
    return false;
}

int zset_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
               const rdb_value *v, uint64_t expire_at_ms)
{
    zset_writer w;
    zset_writer_open_replace(&w, ks, dbi, key, klen, old);
    w.expire_at_ms = expire_at_ms;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < v->n; i++) {
        size_t n;
        const char *p = rdb_value_item(v, i, &n);
        rc = zset_writer_set(&w, p, n, v->score[i], false, 0);
    }
    /* the writer's flag follows the sizes as members came; RESTORE's rule is its own */
    if (restored_skiplist(v))
        w.flags |= ZSET_F_SKIPLIST;
    else
        w.flags &= ~(unsigned)ZSET_F_SKIPLIST;
    rc = rc ? rc : zset_writer_finish(&w);
    zset_writer_free(&w);
    return rc;
}

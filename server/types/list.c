/* list.c - Redis lists on engine keys (see list.h for the layout and the rules). */
#include "list.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Reads of more elements than this do not fill the block cache (LREM over a long list
   would push out what point reads need); LRANGE-sized reads do. */
#define FILL_CACHE_MAX 4096
/* LTRIM copies what stays under a new version when it is less than a quarter of what
   goes (reads + writes of the kept against deletes of the trimmed). */
#define TRIM_COPY_RATIO 4

static void put_be64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
}

int list_open(list *l, keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m)
{
    memset(l, 0, sizeof *l);
    ks_key_init(&l->ek);
    l->ks = ks;
    l->dbi = dbi;
    l->key = key;
    l->klen = klen;
    l->m = m;
    l->head = l->tail = LIST_MID;
    if (m->type) {
        if (m->type != KS_TYPE_LIST || m->extralen != LIST_EXTRA)
            return SHALE_ECORRUPT;
        l->head = ks_be64(m->extra);
        l->tail = ks_be64(m->extra + 8);
        /* an empty list does not exist: its key is deleted with its last element */
        if (l->tail <= l->head || l->tail - l->head != m->size)
            return SHALE_ECORRUPT;
        l->version = m->version;
    }
    l->old_head = l->head;
    l->old_tail = l->tail;
    /* the prefix with a placeholder version, then a placeholder index */
    int rc = ks_field_key(ks, dbi, key, klen, 0, NULL, 0, &l->ek);
    l->vpos = l->ek.len - 8;
    return rc ? rc : ks_key_be64(&l->ek, 0);
}

void list_close(list *l)
{
    ks_key_free(&l->ek);
}

/* The engine key of the element at `index` under `version` (l->ek, patched in place:
   valid until the next call). */
static const ks_key *elem_key(list *l, uint64_t version, uint64_t index)
{
    put_be64((unsigned char *)l->ek.p + l->vpos, version);
    put_be64((unsigned char *)l->ek.p + l->vpos + 8, index);
    return &l->ek;
}

/* ---- index arithmetic ---- */

void list_span(uint64_t len, long long start, long long stop, uint64_t *from, uint64_t *count)
{
    long long n = (long long)len;
    if (start < 0)
        start = n + start;
    if (stop < 0)
        stop = n + stop;
    if (start < 0)
        start = 0;
    *from = 0;
    *count = 0;
    if (start > stop || start >= n)
        return;
    if (stop >= n)
        stop = n - 1;
    *from = (uint64_t)start;
    *count = (uint64_t)(stop - start) + 1;
}

bool list_pos_of(uint64_t len, long long index, uint64_t *pos)
{
    long long n = (long long)len;
    if (index < 0)
        index += n;
    if (index < 0 || index >= n)
        return false;
    *pos = (uint64_t)index;
    return true;
}

/* ---- reading ---- */

/* Called with each element a scan reads (absolute index); > 0 stops the scan (not an
   error), < 0 fails it. */
typedef int (*visit_fn)(void *ctx, uint64_t index, const void *v, size_t vl);

/*
 * Visits the stored elements at indices [first, first + count) of `version`, in index
 * order or reverse. One iterator bounded to exactly those keys: it never steps on the
 * tombstones of popped elements outside them. Every index must be there (the list is
 * dense): a gap is SHALE_ECORRUPT.
 */
static int scan(list *l, uint64_t version, uint64_t first, uint64_t count, bool reverse,
                visit_fn visit, void *ctx)
{
    if (count == 0)
        return 0;
    size_t klen = l->ek.len;
    char *bounds = malloc(2 * klen);
    if (!bounds)
        return -ENOMEM;
    memcpy(bounds, elem_key(l, version, first)->p, klen);
    memcpy(bounds + klen, elem_key(l, version, first + count)->p, klen);
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.lower_bound = bounds;
    ro.lower_bound_len = klen;
    ro.upper_bound = bounds + klen;
    ro.upper_bound_len = klen;
    ro.fill_cache = count <= FILL_CACHE_MAX;
    ks_iter *it;
    int rc = ks_iter_open(l->ks, &ro, &it);
    free(bounds);
    if (rc)
        return rc;
    if (reverse)
        ks_iter_seek_to_last(it);
    else
        ks_iter_seek_to_first(it);
    uint64_t want = reverse ? first + count - 1 : first, seen = 0;
    while (rc == 0 && seen < count && ks_iter_valid(it)) {
        size_t kl, vl;
        const char *k = ks_iter_key(it, &kl);
        if (kl != klen || ks_be64(k + kl - 8) != want) {
            rc = SHALE_ECORRUPT;
            break;
        }
        const void *v = ks_iter_value(it, &vl);
        if (!v) /* a value-log read failed: the status says why */
            break;
        rc = visit(ctx, want, v, vl);
        seen++;
        want = reverse ? want - 1 : want + 1;
        if (reverse)
            ks_iter_prev(it);
        else
            ks_iter_next(it);
    }
    if (rc > 0) {
        rc = 0; /* stopped by the visitor */
    } else if (rc == 0) {
        rc = ks_iter_status(it);
        if (rc == 0 && seen < count)
            rc = SHALE_ECORRUPT; /* the metadata names elements that are not there */
    }
    ks_iter_free(it);
    return rc;
}

typedef struct emit_ctx {
    list_emit_fn emit;
    void *ctx;
} emit_ctx;

static int visit_emit(void *ctx, uint64_t index, const void *v, size_t vl)
{
    emit_ctx *e = ctx;
    int rc = e->emit(e->ctx, v, vl);
    return rc > 0 ? -EINVAL : rc; /* an emitter has no "stop": any non-zero is an error */
}

int list_read(list *l, uint64_t from, uint64_t count, bool reverse, list_emit_fn emit, void *ctx)
{
    emit_ctx e = {emit, ctx};
    return scan(l, l->version, l->head + from, count, reverse, visit_emit, &e);
}

int list_get(list *l, uint64_t pos, void **v, size_t *vl)
{
    int rc = ks_get_raw(l->ks, elem_key(l, l->version, l->head + pos), v, vl);
    return rc == SHALE_ENOTFOUND ? SHALE_ECORRUPT : rc;
}

/* ---- writing ---- */

int list_set(list *l, uint64_t pos, const void *v, size_t vl)
{
    return ks_put_raw(l->ks, elem_key(l, l->version, l->head + pos), v, vl);
}

int list_push(list *l, bool left, const void *v, size_t vl)
{
    if (left ? l->head == 0 : l->tail == UINT64_MAX)
        return -EOVERFLOW;
    if (!l->version)
        l->version = ks_new_version(l->ks);
    int rc = ks_put_raw(l->ks, elem_key(l, l->version, left ? l->head - 1 : l->tail), v, vl);
    if (rc)
        return rc;
    if (left)
        l->head--;
    else
        l->tail++;
    l->dirty = true;
    return 0;
}

int list_pop(list *l, bool left, uint64_t count, list_emit_fn emit, void *ctx)
{
    if (count > list_len(l))
        count = list_len(l);
    if (count == 0)
        return 0;
    int rc;
    if (count == 1) { /* one point read, no iterator */
        void *v;
        size_t vl;
        rc = list_get(l, left ? 0 : list_len(l) - 1, &v, &vl);
        if (rc)
            return rc;
        rc = emit(ctx, v, vl);
        shale_free(v);
    } else {
        rc = list_read(l, left ? 0 : list_len(l) - count, count, !left, emit, ctx);
    }
    if (rc)
        return rc;
    if (left)
        l->head += count;
    else
        l->tail -= count;
    l->dirty = true; /* list_save deletes what was taken */
    return 0;
}

/* Copies stored elements of `from_version` to index + delta under l->version. */
typedef struct move_ctx {
    list *l;
    int64_t delta;
} move_ctx;

static int visit_move(void *ctx, uint64_t index, const void *v, size_t vl)
{
    move_ctx *m = ctx;
    return ks_put_raw(m->l->ks, elem_key(m->l, m->l->version, index + (uint64_t)m->delta), v, vl);
}

static int move(list *l, uint64_t from_version, uint64_t first, uint64_t count, int64_t delta)
{
    move_ctx m = {l, delta};
    return scan(l, from_version, first, count, false, visit_move, &m);
}

/* The first element equal to a value: its index. */
typedef struct find_ctx {
    const void *want;
    size_t wl;
    bool found;
    uint64_t index;
} find_ctx;

static bool equal(const void *a, size_t al, const void *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static int visit_find_first(void *ctx, uint64_t index, const void *v, size_t vl)
{
    find_ctx *f = ctx;
    if (!equal(v, vl, f->want, f->wl))
        return 0;
    f->found = true;
    f->index = index;
    return 1;
}

int list_insert(list *l, bool after, const void *pivot, size_t plen, const void *v, size_t vl,
                bool *found)
{
    *found = false;
    uint64_t n = list_len(l);
    find_ctx f = {.want = pivot, .wl = plen};
    int rc = scan(l, l->version, l->head, n, false, visit_find_first, &f);
    if (rc || !f.found)
        return rc;
    uint64_t q = f.index - l->head + (after ? 1 : 0); /* the new element's position */
    if (q < n - q) { /* the left side is shorter: it moves one index down */
        if (l->head == 0)
            return -EOVERFLOW;
        rc = move(l, l->version, l->head, q, -1);
        rc = rc ? rc : ks_put_raw(l->ks, elem_key(l, l->version, l->head + q - 1), v, vl);
        if (rc == 0)
            l->head--;
    } else { /* the right side moves one index up */
        if (l->tail == UINT64_MAX)
            return -EOVERFLOW;
        rc = move(l, l->version, l->head + q, n - q, 1);
        rc = rc ? rc : ks_put_raw(l->ks, elem_key(l, l->version, l->head + q), v, vl);
        if (rc == 0)
            l->tail++;
    }
    if (rc == 0) {
        *found = true;
        l->dirty = true;
    }
    return rc;
}

/* Positions of the elements equal to a value, up to limit (0: all). */
typedef struct match_ctx {
    const void *want;
    size_t wl;
    uint64_t head;
    uint64_t *pos;
    size_t n, cap, limit;
} match_ctx;

static int visit_match(void *ctx, uint64_t index, const void *v, size_t vl)
{
    match_ctx *m = ctx;
    if (!equal(v, vl, m->want, m->wl))
        return 0;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        uint64_t *p = realloc(m->pos, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        m->pos = p;
        m->cap = cap;
    }
    m->pos[m->n++] = index - m->head;
    return m->limit && m->n == m->limit ? 1 : 0;
}

/*
 * LREM's compaction. The k removed positions r[0] < ... < r[k-1] of n leave gaps that the
 * survivors close: those left of a split j move right (the head advances by j), those
 * right of it move left (the tail retreats by k - j), and the ones between r[j-1] and
 * r[j] stay. Each split's cost is the survivors it moves; the cheapest is taken, which
 * for one removal is the shorter side.
 */
static size_t best_split(const uint64_t *r, size_t k, uint64_t n)
{
    size_t best = 0;
    uint64_t best_cost = UINT64_MAX;
    for (size_t j = 0; j <= k; j++) {
        uint64_t left = j ? r[j - 1] + 1 - j : 0;
        uint64_t right = j < k ? n - r[j] - (k - j) : 0;
        if (left + right < best_cost) {
            best_cost = left + right;
            best = j;
        }
    }
    return best;
}

/* Moves the survivors around the removed positions r (see best_split). */
typedef struct close_ctx {
    list *l;
    const uint64_t *r;
    size_t j, end, idx; /* the removals this side closes are r[idx..end) */
    bool left;
} close_ctx;

static int visit_close(void *ctx, uint64_t index, const void *v, size_t vl)
{
    close_ctx *x = ctx;
    uint64_t pos = index - x->l->head;
    while (x->idx < x->end && x->r[x->idx] < pos)
        x->idx++;
    if (x->idx < x->end && x->r[x->idx] == pos)
        return 0; /* a removed element */
    /* left of the split: shift right by the removals after it (up to r[j-1]); right of
       it: shift left by the removals before it (from r[j]) */
    uint64_t to = x->left ? index + (x->j - x->idx) : index - (x->idx - x->j);
    return ks_put_raw(x->l->ks, elem_key(x->l, x->l->version, to), v, vl);
}

int list_remove(list *l, long long count, const void *v, size_t vl, uint64_t *removed)
{
    *removed = 0;
    uint64_t n = list_len(l);
    bool from_right = count < 0;
    match_ctx m = {.want = v, .wl = vl, .head = l->head};
    if (count > 0)
        m.limit = (size_t)count;
    else if (count < 0 && count != LLONG_MIN) /* Redis's -LLONG_MIN wraps: all of them */
        m.limit = (size_t)-count;
    int rc = scan(l, l->version, l->head, n, from_right, visit_match, &m);
    size_t k = m.n;
    if (rc || k == 0) {
        free(m.pos);
        return rc;
    }
    for (size_t i = 0; from_right && i < k / 2; i++) { /* ascending positions */
        uint64_t t = m.pos[i];
        m.pos[i] = m.pos[k - 1 - i];
        m.pos[k - 1 - i] = t;
    }
    if (k < n) {
        size_t j = best_split(m.pos, k, n);
        close_ctx left = {l, m.pos, j, j, 0, true}, right = {l, m.pos, j, k, j, false};
        if (j > 0)
            rc = scan(l, l->version, l->head, m.pos[j - 1], false, visit_close, &left);
        if (rc == 0 && j < k)
            rc = scan(l, l->version, l->head + m.pos[j] + 1, n - m.pos[j] - 1, false,
                      visit_close, &right);
        if (rc == 0) {
            l->head += j;
            l->tail -= k - j;
        }
    } else {
        l->head = l->tail; /* all of them: the key goes, the elements with its version */
    }
    free(m.pos);
    if (rc == 0) {
        *removed = k;
        l->dirty = true;
    }
    return rc;
}

int list_trim(list *l, long long start, long long stop)
{
    uint64_t n = list_len(l), from, count;
    list_span(n, start, stop, &from, &count);
    uint64_t gone = n - count;
    if (gone == 0)
        return 0;
    int rc = 0;
    if (count == 0) {
        l->head = l->tail;
    } else if (count < gone / TRIM_COPY_RATIO) {
        uint64_t old = l->version;
        l->version = ks_new_version(l->ks);
        rc = move(l, old, l->head + from, count, (int64_t)(LIST_MID - (l->head + from)));
        if (rc) {
            l->version = old;
            return rc;
        }
        l->head = LIST_MID;
        l->tail = LIST_MID + count;
    } else {
        l->head += from;
        l->tail = l->head + count;
    }
    l->dirty = true;
    return rc;
}

/* LPOS's matches after the first `skip`, up to `count` (0: all). */
typedef struct pos_ctx {
    const void *want;
    size_t wl;
    uint64_t head, skip, count, matches, emitted;
    list_pos_fn emit;
    void *ctx;
} pos_ctx;

static int visit_pos(void *ctx, uint64_t index, const void *v, size_t vl)
{
    pos_ctx *p = ctx;
    if (!equal(v, vl, p->want, p->wl) || ++p->matches <= p->skip)
        return 0;
    int rc = p->emit(p->ctx, index - p->head);
    if (rc)
        return rc > 0 ? -EINVAL : rc;
    return p->count && ++p->emitted >= p->count ? 1 : 0;
}

int list_find(list *l, const void *v, size_t vl, long long rank, uint64_t count,
              uint64_t maxlen, list_pos_fn emit, void *ctx)
{
    uint64_t n = list_len(l);
    bool from_right = rank < 0;
    pos_ctx p = {.want = v, .wl = vl, .head = l->head, .count = count, .emit = emit, .ctx = ctx};
    if (rank != LLONG_MIN) /* (whose negation wraps in Redis: no match is skipped) */
        p.skip = (uint64_t)(from_right ? -rank : rank) - 1;
    uint64_t span = maxlen && maxlen < n ? maxlen : n;
    uint64_t first = from_right ? l->head + n - span : l->head;
    return scan(l, l->version, first, span, from_right, visit_pos, &p);
}

/* ---- saving ---- */

static int delete_range(list *l, uint64_t from, uint64_t to)
{
    int rc = 0;
    for (uint64_t i = from; i < to && rc == 0; i++)
        rc = ks_del_raw(l->ks, elem_key(l, l->version, i));
    return rc;
}

/* Deletes the stored elements that are no longer in [head, tail): the ones popped,
   trimmed, or left behind when the survivors of LREM closed up. */
static int delete_outside(list *l)
{
    uint64_t oh = l->old_head, ot = l->old_tail;
    if (l->head >= ot || l->tail <= oh)
        return delete_range(l, oh, ot);
    int rc = delete_range(l, oh, l->head);
    return rc ? rc : delete_range(l, l->tail, ot);
}

int list_save(list *l)
{
    if (!l->dirty)
        return 0;
    uint64_t n = list_len(l);
    int rc = 0;
    /* An emptied list's key is deleted, and a list copied to a new version left the old
       one: either way the old elements are unreachable and the compaction filter drops
       them, so they need no tombstones. */
    if (n && l->m->type && l->version == l->m->version)
        rc = delete_outside(l);
    unsigned char extra[LIST_EXTRA];
    put_be64(extra, l->head);
    put_be64(extra + 8, l->tail);
    rc = rc ? rc : ks_put_collection(l->ks, l->dbi, l->key, l->klen, l->m, KS_TYPE_LIST,
                                     l->version, n, extra, sizeof extra);
    if (rc == 0)
        l->dirty = false;
    return rc;
}

/* ---- whole values (DUMP, RESTORE) ---- */

static int emit_item(void *ctx, const void *p, size_t n)
{
    return rdb_value_add(ctx, p, n);
}

int list_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
              rdb_value *v)
{
    rdb_value_init(v, KS_TYPE_LIST);
    list l;
    int rc = list_open(&l, ks, dbi, key, klen, m);
    rc = rc ? rc : list_read(&l, 0, list_len(&l), false, emit_item, v);
    list_close(&l);
    return rc;
}

int list_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
               const rdb_value *v, uint64_t expire_at_ms)
{
    ks_meta none = {0}; /* a new list: list_push gives it a new version */
    list l;
    int rc = list_open(&l, ks, dbi, key, klen, &none);
    for (size_t i = 0; rc == 0 && i < v->n; i++) {
        size_t n;
        const char *p = rdb_value_item(v, i, &n);
        rc = list_push(&l, false, p, n);
    }
    unsigned char extra[LIST_EXTRA];
    put_be64(extra, l.head);
    put_be64(extra + 8, l.tail);
    rc = rc ? rc
            : ks_put_collection_expiring(ks, dbi, key, klen, old, KS_TYPE_LIST, l.version,
                                         list_len(&l), extra, sizeof extra, expire_at_ms);
    list_close(&l);
    return rc;
}

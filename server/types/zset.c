/*
 * zset.c - sorted sets on engine keys (zset.h): the score encoding, the two indexes and
 * their cursors, the live-start hints, reads by score, rank and lex, and random picks.
 * The writer is in zset_write.c. Never writes a reply.
 */
#include "zset.h"
#include "zset_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- encodings ---- */

uint64_t zset_score_encode(double d)
{
    if (d == 0)
        d = 0; /* -0.0 is stored, sorted and read as 0 */
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b >> 63 ? ~b : b | 1ull << 63;
}

double zset_score_decode(uint64_t e)
{
    uint64_t b = e >> 63 ? e & ~(1ull << 63) : ~e;
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

uint64_t zset_member_hash(const void *p, size_t n)
{
    return XXH64(p, n, 0);
}

void zset_put_be64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* Byte order of two strings (a shorter prefix first), as the engine orders keys. */
int zset_bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* out = P | tag | be:be64 | mem, where P is (key, version)'s member prefix. */
static int index_key(const zset_ref *z, uint64_t version, char tag, uint64_t be, const void *mem,
                     size_t n, ks_key *out)
{
    unsigned char b[9];
    b[0] = (unsigned char)tag;
    zset_put_be64(b + 1, be);
    int rc = ks_field_key(z->ks, z->dbi, z->key, z->klen, version, b, sizeof b, out);
    return rc ? rc : ks_key_append(out, mem, n);
}

int zset_member_key(const zset_ref *z, uint64_t version, const void *mem, size_t n, ks_key *out)
{
    return index_key(z, version, ZSET_MEMBER_TAG, zset_member_hash(mem, n), mem, n, out);
}

int zset_score_key(const zset_ref *z, uint64_t version, uint64_t enc, const void *mem, size_t n,
                   ks_key *out)
{
    return index_key(z, version, ZSET_SCORE_TAG, enc, mem, n, out);
}

bool zset_present(const zset_ref *z)
{
    return z->m->type == KS_TYPE_ZSET && z->m->size > 0;
}

/* ---- cursors over one index ---- */

typedef struct zidx {
    ks_iter *it;
    ks_key base; /* P | tag: every key of the index starts with it */
    ks_key end;  /* P | tag + 1, the exclusive upper bound */
    ks_key at;   /* seek targets */
    int bad;     /* SHALE_ECORRUPT once a malformed entry was met */
} zidx;

static void zidx_close(zidx *x)
{
    ks_iter_free(x->it);
    x->it = NULL;
    ks_key_free(&x->base);
    ks_key_free(&x->end);
    ks_key_free(&x->at);
}

static int zidx_open(const zset_ref *z, char tag, zidx *x)
{
    x->it = NULL;
    x->bad = 0;
    ks_key_init(&x->end);
    ks_key_init(&x->at);
    int rc = ks_field_key(z->ks, z->dbi, z->key, z->klen, z->m->version, &tag, 1, &x->base);
    rc = rc ? rc : ks_key_append(&x->end, x->base.p, x->base.len);
    if (rc == 0) {
        x->end.p[x->end.len - 1]++; /* the tag's successor: 'M' and 'S' do not carry */
        shale_read_options ro;
        shale_read_options_default(&ro);
        ro.lower_bound = x->base.p;
        ro.lower_bound_len = x->base.len;
        ro.upper_bound = x->end.p;
        ro.upper_bound_len = x->end.len;
        rc = ks_iter_open(z->ks, &ro, &x->it);
    }
    if (rc)
        zidx_close(x);
    return rc;
}

/* x->at = P | tag | a[0..an) | b[0..bn). */
static int zidx_target(zidx *x, const void *a, size_t an, const void *b, size_t bn)
{
    x->at.len = 0;
    int rc = ks_key_append(&x->at, x->base.p, x->base.len);
    rc = rc ? rc : ks_key_append(&x->at, a, an);
    return rc ? rc : ks_key_append(&x->at, b, bn);
}

/* Positions at the first entry at or after P | tag | a | b (nothing given: the first). */
static int zidx_seek(zidx *x, const void *a, size_t an, const void *b, size_t bn)
{
    int rc = zidx_target(x, a, an, b, bn);
    if (rc == 0)
        ks_iter_seek(x->it, x->at.p, x->at.len);
    return rc;
}

/* Positions at the last entry at or before P | tag | a | b (nothing given: the last). */
static int zidx_seek_prev(zidx *x, const void *a, size_t an, const void *b, size_t bn)
{
    if (an + bn == 0) {
        ks_iter_seek_to_last(x->it);
        return 0;
    }
    int rc = zidx_target(x, a, an, b, bn);
    if (rc == 0)
        ks_iter_seek_for_prev(x->it, x->at.p, x->at.len);
    return rc;
}

static int zidx_status(const zidx *x)
{
    return x->bad ? x->bad : ks_iter_status(x->it);
}

static void zidx_step(zidx *x, bool back)
{
    if (back)
        ks_iter_prev(x->it);
    else
        ks_iter_next(x->it);
}

/* A score-index entry: its key past P | tag is enc | member. */
typedef struct zent {
    uint64_t enc;
    double score;
    const char *mem;
    size_t len;
    const char *sub; /* enc | member */
    size_t sublen;
} zent;

/* The score-index entry under the cursor; false at the end or on a malformed entry. */
static bool score_entry(zidx *x, zent *e)
{
    if (x->bad || !ks_iter_valid(x->it))
        return false;
    size_t kl;
    const char *k = ks_iter_key(x->it, &kl);
    if (kl < x->base.len + 8) {
        x->bad = SHALE_ECORRUPT;
        return false;
    }
    e->sub = k + x->base.len;
    e->sublen = kl - x->base.len;
    e->enc = ks_be64(e->sub);
    e->score = zset_score_decode(e->enc);
    e->mem = e->sub + 8;
    e->len = e->sublen - 8;
    return true;
}

/* ---- hints ---- */

void zset_hints_parse(const ks_meta *m, zset_hint *lo, zset_hint *hi)
{
    lo->state = hi->state = ZHINT_NONE;
    lo->n = hi->n = 0;
    const unsigned char *p = (const unsigned char *)m->extra;
    size_t n = m->extralen;
    if (m->type != KS_TYPE_ZSET || n < 3)
        return;
    size_t ln = p[1];
    if (ln > ZSET_HINT_MAX || ln + 3 > n)
        return;
    size_t hn = p[2 + ln];
    if (hn > ZSET_HINT_MAX || ln + hn + 3 != n)
        return;
    if (ln) {
        lo->state = ZHINT_KEY;
        memcpy(lo->b, p + 2, ln);
        lo->n = ln;
    }
    if (hn) {
        hi->state = ZHINT_KEY;
        memcpy(hi->b, p + 3 + ln, hn);
        hi->n = hn;
    }
}

unsigned zset_flags(const ks_meta *m)
{
    return m->type == KS_TYPE_ZSET && m->extralen ? (unsigned char)m->extra[0] : 0;
}

const char *zset_encoding(const ks_meta *m)
{
    return zset_flags(m) & ZSET_F_SKIPLIST ? "skiplist" : "listpack";
}

/* Where an ascending walk of the whole index starts: the lo hint, or the first entry. */
static int seek_first(zidx *x, const zset_hint *lo)
{
    return lo->state == ZHINT_KEY ? zidx_seek(x, lo->b, lo->n, NULL, 0)
                                  : zidx_seek(x, NULL, 0, NULL, 0);
}

static int seek_last(zidx *x, const zset_hint *hi)
{
    return hi->state == ZHINT_KEY ? zidx_seek_prev(x, hi->b, hi->n, NULL, 0)
                                  : zidx_seek_prev(x, NULL, 0, NULL, 0);
}

/* A lower bound of the key enc | mem that fits a hint: its first ZSET_HINT_MAX bytes. */
void zset_hint_below(uint64_t enc, const void *mem, size_t n, zset_hint *h)
{
    zset_put_be64(h->b, enc);
    size_t take = n < ZSET_HINT_MAX - 8 ? n : ZSET_HINT_MAX - 8;
    if (take)
        memcpy(h->b + 8, mem, take);
    h->n = 8 + take;
    h->state = ZHINT_KEY;
}

/* An upper bound of enc | mem: the key itself when it fits, else the successor of its
   first ZSET_HINT_MAX bytes (above every key that starts with them). The encoded score is
   never all 0xff bytes (+inf encodes below that), so the carry stops inside it. */
void zset_hint_above(uint64_t enc, const void *mem, size_t n, zset_hint *h)
{
    zset_hint_below(enc, mem, n, h);
    if (n <= ZSET_HINT_MAX - 8)
        return;
    while (h->b[h->n - 1] == 0xff)
        h->n--;
    h->b[h->n - 1]++;
}

/* ---- reads ---- */

int zset_score(const zset_ref *z, const void *member, size_t n, double *score)
{
    if (!zset_present(z))
        return SHALE_ENOTFOUND;
    ks_key k;
    int rc = zset_member_key(z, z->m->version, member, n, &k);
    void *v = NULL;
    size_t vl = 0;
    rc = rc ? rc : ks_get_raw(z->ks, &k, &v, &vl);
    ks_key_free(&k);
    if (rc == 0 && !zset_entry_score(v, vl, score))
        rc = SHALE_ECORRUPT;
    shale_free(v);
    return rc;
}

bool zset_entry_score(const void *v, size_t n, double *score)
{
    if (n != 8)
        return false;
    *score = zset_score_decode(ks_be64(v));
    return true;
}

/* Members kept in memory to be emitted in the other order. */
typedef struct zlist {
    char *data; /* per member: score (8 bytes) then its bytes */
    size_t len, cap;
    size_t *off; /* where each starts; off[n] = len */
    size_t n, ncap;
} zlist;

static int zlist_add(zlist *l, const char *mem, size_t n, double score)
{
    if (l->n + 2 > l->ncap) {
        size_t cap = l->ncap ? l->ncap * 2 : 64;
        size_t *off = realloc(l->off, cap * sizeof *off);
        if (!off)
            return -ENOMEM;
        l->off = off;
        l->ncap = cap;
    }
    if (l->len + 8 + n > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        while (cap < l->len + 8 + n)
            cap *= 2;
        char *d = realloc(l->data, cap);
        if (!d)
            return -ENOMEM;
        l->data = d;
        l->cap = cap;
    }
    l->off[l->n++] = l->len;
    memcpy(l->data + l->len, &score, 8);
    if (n)
        memcpy(l->data + l->len + 8, mem, n);
    l->len += 8 + n;
    l->off[l->n] = l->len;
    return 0;
}

/* Emits the kept members from the last to the first. */
static int zlist_emit_reversed(const zlist *l, zset_emit_fn emit, void *ctx)
{
    for (size_t i = l->n; i-- > 0;) {
        double score;
        memcpy(&score, l->data + l->off[i], 8);
        int rc = emit(ctx, l->data + l->off[i] + 8, l->off[i + 1] - l->off[i] - 8, score);
        if (rc)
            return rc;
    }
    return 0;
}

static void zlist_free(zlist *l)
{
    free(l->data);
    free(l->off);
}

int zset_range_rank(const zset_ref *z, uint64_t start, uint64_t stop, bool rev, zset_emit_fn emit,
                    void *ctx)
{
    uint64_t size = z->m->size;
    if (!zset_present(z) || start > stop || stop >= size)
        return 0;
    /* forward ranks fs..fe, emitted descending when rev */
    uint64_t fs = rev ? size - 1 - stop : start, fe = rev ? size - 1 - start : stop;
    bool walk_back = size - fs < fe + 1; /* the nearer end */
    uint64_t skip = walk_back ? size - 1 - fe : fs, want = fe - fs + 1;
    zset_hint lo, hi;
    zset_hints_parse(z->m, &lo, &hi);
    zidx x;
    int rc = zidx_open(z, ZSET_SCORE_TAG, &x);
    if (rc)
        return rc;
    rc = walk_back ? seek_last(&x, &hi) : seek_first(&x, &lo);
    zlist kept = {0};
    bool direct = walk_back == rev;
    zent e;
    for (; rc == 0 && want && score_entry(&x, &e); zidx_step(&x, walk_back)) {
        if (skip) {
            skip--;
            continue;
        }
        rc = direct ? emit(ctx, e.mem, e.len, e.score) : zlist_add(&kept, e.mem, e.len, e.score);
        if (--want == 0)
            break; /* no step past the last one: a pop's would cross what it just took */
    }
    if (rc == 0)
        rc = zidx_status(&x);
    zidx_close(&x);
    if (rc == 0 && !direct)
        rc = zlist_emit_reversed(&kept, emit, ctx);
    zlist_free(&kept);
    return rc == ZSET_STOP ? 0 : rc;
}

/* Whether an encoded score is within r's lower / upper end. */
static bool score_gte_min(const zset_score_range *r, uint64_t enc)
{
    uint64_t m = zset_score_encode(r->min);
    return r->minex ? enc > m : enc >= m;
}

static bool score_lte_max(const zset_score_range *r, uint64_t enc)
{
    uint64_t m = zset_score_encode(r->max);
    return r->maxex ? enc < m : enc <= m;
}

/* Positions at r's first entry, ascending: a seek to its lower end, or to the lo hint
   when that is further (past a queue's tombstones). */
static int seek_score_min(zidx *x, const zset_hint *lo, const zset_score_range *r)
{
    unsigned char t[8];
    /* past every entry of score min when it is excluded */
    zset_put_be64(t, zset_score_encode(r->min) + (r->minex ? 1 : 0));
    if (lo->state == ZHINT_KEY && zset_bytes_cmp(lo->b, lo->n, t, 8) > 0)
        return zidx_seek(x, lo->b, lo->n, NULL, 0);
    return zidx_seek(x, t, 8, NULL, 0);
}

/* Positions at r's last entry, descending. The target is the start of the next score
   (or of max when it is excluded), and that key itself can be an entry (the empty
   member): one step back then. */
static int seek_score_max(zidx *x, const zset_hint *hi, const zset_score_range *r)
{
    unsigned char t[8];
    zset_put_be64(t, zset_score_encode(r->max) + (r->maxex ? 0 : 1));
    int rc = hi->state == ZHINT_KEY && zset_bytes_cmp(hi->b, hi->n, t, 8) < 0
                 ? zidx_seek_prev(x, hi->b, hi->n, NULL, 0)
                 : zidx_seek_prev(x, t, 8, NULL, 0);
    zent e;
    while (rc == 0 && score_entry(x, &e) && !score_lte_max(r, e.enc))
        ks_iter_prev(x->it);
    return rc;
}

int zset_range_score(const zset_ref *z, const zset_score_range *r, bool rev, uint64_t offset,
                     int64_t limit, zset_emit_fn emit, void *ctx)
{
    if (!zset_present(z) || limit == 0)
        return 0;
    zset_hint lo, hi;
    zset_hints_parse(z->m, &lo, &hi);
    zidx x;
    int rc = zidx_open(z, ZSET_SCORE_TAG, &x);
    if (rc)
        return rc;
    rc = rev ? seek_score_max(&x, &hi, r) : seek_score_min(&x, &lo, r);
    zent e;
    for (; rc == 0 && score_entry(&x, &e); zidx_step(&x, rev)) {
        if (rev ? !score_gte_min(r, e.enc) : !score_lte_max(r, e.enc))
            break;
        if (offset) {
            offset--;
            continue;
        }
        rc = emit(ctx, e.mem, e.len, e.score);
        if (limit > 0 && --limit == 0)
            break;
    }
    if (rc == 0)
        rc = zidx_status(&x);
    zidx_close(&x);
    return rc == ZSET_STOP ? 0 : rc;
}

int zset_rank(const zset_ref *z, const void *member, size_t n, bool rev, uint64_t *rank,
              double *score)
{
    int rc = zset_score(z, member, n, score);
    if (rc)
        return rc;
    unsigned char enc[8];
    zset_put_be64(enc, zset_score_encode(*score));
    zset_hint lo, hi;
    zset_hints_parse(z->m, &lo, &hi);
    zidx f, b;
    rc = zidx_open(z, ZSET_SCORE_TAG, &f);
    if (rc)
        return rc;
    rc = zidx_open(z, ZSET_SCORE_TAG, &b);
    if (rc) {
        zidx_close(&f);
        return rc;
    }
    rc = seek_first(&f, &lo);
    rc = rc ? rc : seek_last(&b, &hi);
    /* Count from both ends at once; the first to meet the member knows its rank. */
    uint64_t before = 0, after = 0, size = z->m->size;
    bool found = false, fwd_on = true, back_on = true;
    zent e;
    while (rc == 0 && !found && (fwd_on || back_on)) {
        if (fwd_on && score_entry(&f, &e)) {
            int c = zset_bytes_cmp(e.sub, 8, enc, 8);
            c = c ? c : zset_bytes_cmp(e.mem, e.len, member, n);
            if (c == 0) {
                *rank = before;
                found = true;
                break;
            }
            fwd_on = c < 0;
            before++;
            ks_iter_next(f.it);
        } else {
            fwd_on = false;
        }
        if (back_on && score_entry(&b, &e)) {
            int c = zset_bytes_cmp(e.sub, 8, enc, 8);
            c = c ? c : zset_bytes_cmp(e.mem, e.len, member, n);
            if (c == 0) {
                *rank = after < size ? size - 1 - after : 0;
                found = true;
                break;
            }
            back_on = c > 0;
            after++;
            ks_iter_prev(b.it);
        } else {
            back_on = false;
        }
    }
    if (rc == 0)
        rc = zidx_status(&f);
    if (rc == 0)
        rc = zidx_status(&b);
    zidx_close(&f);
    zidx_close(&b);
    if (rc == 0 && !found)
        rc = SHALE_ECORRUPT; /* the member index names a score the score index lacks */
    if (rc == 0 && rev)
        *rank = size - 1 - *rank;
    return rc;
}

/* Steps of the range walk taken alone before the outside walks start too: a short range
   is counted with one iterator. */
#define COUNT_ALONE_STEPS 32

int zset_count_score(const zset_ref *z, const zset_score_range *r, uint64_t *n)
{
    *n = 0;
    if (!zset_present(z) || r->min > r->max || (r->min == r->max && (r->minex || r->maxex)))
        return 0;
    zset_hint lo, hi;
    zset_hints_parse(z->m, &lo, &hi);
    zidx in, below, above;
    int rc = zidx_open(z, ZSET_SCORE_TAG, &in);
    if (rc)
        return rc;
    rc = seek_score_min(&in, &lo, r);
    uint64_t inside = 0, under = 0, over = 0;
    bool in_on = true, under_on = false, over_on = false, opened = false;
    zent e;
    while (rc == 0) {
        if (score_entry(&in, &e) && score_lte_max(r, e.enc)) {
            inside++;
            ks_iter_next(in.it);
        } else {
            in_on = false;
            break;
        }
        if (!opened && inside >= COUNT_ALONE_STEPS) {
            rc = zidx_open(z, ZSET_SCORE_TAG, &below);
            if (rc)
                break;
            rc = zidx_open(z, ZSET_SCORE_TAG, &above);
            if (rc) {
                zidx_close(&below);
                break;
            }
            opened = under_on = over_on = true;
            rc = seek_first(&below, &lo);
            rc = rc ? rc : seek_last(&above, &hi);
        }
        if (under_on) {
            if (score_entry(&below, &e) && !score_gte_min(r, e.enc)) {
                under++;
                ks_iter_next(below.it);
            } else {
                under_on = false;
            }
        }
        if (over_on) {
            if (score_entry(&above, &e) && !score_lte_max(r, e.enc)) {
                over++;
                ks_iter_prev(above.it);
            } else {
                over_on = false;
            }
        }
        if (opened && !under_on && !over_on)
            break; /* everything outside is counted: the rest is inside */
    }
    if (rc == 0)
        rc = zidx_status(&in);
    if (opened) {
        if (rc == 0)
            rc = zidx_status(&below);
        if (rc == 0)
            rc = zidx_status(&above);
        zidx_close(&below);
        zidx_close(&above);
    }
    zidx_close(&in);
    if (rc == 0)
        *n = in_on && z->m->size >= under + over ? z->m->size - under - over : inside;
    return rc;
}

/* ---- lex ranges ---- */

/* A member against a bound: < 0 when the member sorts before it. '-' is below and '+'
   above every member. */
static int lex_cmp(const void *p, size_t n, const zset_lex_bound *b)
{
    if (b->inf)
        return -b->inf;
    return zset_bytes_cmp(p, n, b->p, b->len);
}

bool zset_lex_gte_min(const zset_lex_range *r, const void *p, size_t n)
{
    int c = lex_cmp(p, n, &r->min);
    return r->min.ex ? c > 0 : c >= 0;
}

bool zset_lex_lte_max(const zset_lex_range *r, const void *p, size_t n)
{
    int c = lex_cmp(p, n, &r->max);
    return r->max.ex ? c < 0 : c <= 0;
}

bool zset_lex_range_empty(const zset_lex_range *r)
{
    const zset_lex_bound *a = &r->min, *b = &r->max;
    int c;
    if (a->inf && a->inf == b->inf)
        c = 0;
    else if (a->inf < 0 || b->inf > 0)
        c = -1;
    else if (a->inf > 0 || b->inf < 0)
        c = 1;
    else
        c = zset_bytes_cmp(a->p, a->len, b->p, b->len);
    return c > 0 || (c == 0 && (a->ex || b->ex));
}

/* The first and last entries' scores; false when the set reads empty. */
static int ends_of(zidx *x, const zset_hint *lo, const zset_hint *hi, zent *first,
                   uint64_t *last_enc, bool *found, const zset_lex_range *r, bool *hopeless)
{
    *found = false;
    *hopeless = false;
    zent e;
    int rc = seek_last(x, hi);
    if (rc || !score_entry(x, &e))
        return rc;
    *last_enc = e.enc;
    /* Redis first rules out a range past either end of the set */
    *hopeless = !zset_lex_gte_min(r, e.mem, e.len);
    rc = seek_first(x, lo);
    if (rc || !score_entry(x, first))
        return rc;
    *hopeless = *hopeless || !zset_lex_lte_max(r, first->mem, first->len);
    *found = true;
    return 0;
}

int zset_range_lex(const zset_ref *z, const zset_lex_range *r, bool rev, uint64_t offset,
                   int64_t limit, zset_emit_fn emit, void *ctx)
{
    if (!zset_present(z) || limit == 0 || zset_lex_range_empty(r))
        return 0;
    zset_hint lo, hi;
    zset_hints_parse(z->m, &lo, &hi);
    zidx x;
    int rc = zidx_open(z, ZSET_SCORE_TAG, &x);
    if (rc)
        return rc;
    zent e;
    uint64_t last_enc = 0;
    bool found, hopeless;
    rc = ends_of(&x, &lo, &hi, &e, &last_enc, &found, r, &hopeless);
    if (rc || !found || hopeless)
        goto done;
    /* With one score everywhere the index is in member order: seek to the start. */
    unsigned char enc[8];
    zset_put_be64(enc, e.enc);
    bool one_score = e.enc == last_enc;
    if (!rev) {
        if (one_score && !r->min.inf)
            rc = zidx_seek(&x, enc, 8, r->min.p, r->min.len);
        else
            rc = seek_first(&x, &lo);
        while (rc == 0 && score_entry(&x, &e) && !zset_lex_gte_min(r, e.mem, e.len))
            ks_iter_next(x.it);
    } else {
        if (one_score && !r->max.inf)
            rc = zidx_seek_prev(&x, enc, 8, r->max.p, r->max.len);
        else
            rc = seek_last(&x, &hi);
        while (rc == 0 && score_entry(&x, &e) && !zset_lex_lte_max(r, e.mem, e.len))
            ks_iter_prev(x.it);
    }
    /* Redis's walk: the first member past one end must be within the other, and the
       emission stops at the first that is not */
    for (; rc == 0 && score_entry(&x, &e); zidx_step(&x, rev)) {
        if (rev ? !zset_lex_gte_min(r, e.mem, e.len) : !zset_lex_lte_max(r, e.mem, e.len))
            break;
        if (offset) {
            offset--;
            continue;
        }
        rc = emit(ctx, e.mem, e.len, e.score);
        if (limit > 0 && --limit == 0)
            break;
    }
done:
    if (rc == 0)
        rc = zidx_status(&x);
    zidx_close(&x);
    return rc == ZSET_STOP ? 0 : rc;
}

static int count_emit(void *ctx, const char *member, size_t len, double score)
{
    (*(uint64_t *)ctx)++;
    return 0;
}

int zset_count_lex(const zset_ref *z, const zset_lex_range *r, uint64_t *n)
{
    *n = 0;
    return zset_range_lex(z, r, false, 0, -1, count_emit, n);
}

/* ---- random picks and the member index ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int zset_random(const zset_ref *z, uint64_t rnd, zset_emit_fn emit, void *ctx)
{
    if (!zset_present(z))
        return 0;
    zidx x;
    int rc = zidx_open(z, ZSET_MEMBER_TAG, &x);
    if (rc)
        return rc;
    uint64_t window = z->m->size < ZSET_RANDOM_WINDOW ? z->m->size : ZSET_RANDOM_WINDOW;
    unsigned char at[8];
    zset_put_be64(at, rnd);
    rc = zidx_seek(&x, at, 8, NULL, 0);
    /* step a uniform number of places, wrapping around at the end */
    for (uint64_t pick = mix64(rnd ^ 0x9e3779b97f4a7c15ull) % window;; pick--) {
        if (rc == 0 && !ks_iter_valid(x.it) && ks_iter_status(x.it) == 0)
            rc = zidx_seek(&x, NULL, 0, NULL, 0);
        if (rc || pick == 0 || !ks_iter_valid(x.it))
            break;
        ks_iter_next(x.it);
    }
    if (rc == 0 && ks_iter_valid(x.it)) {
        size_t kl, vl;
        const char *k = ks_iter_key(x.it, &kl);
        const void *v = ks_iter_value(x.it, &vl);
        double score;
        if (kl < x.base.len + 8 || !zset_entry_score(v, vl, &score))
            rc = SHALE_ECORRUPT;
        else
            rc = emit(ctx, k + x.base.len + 8, kl - x.base.len - 8, score);
    }
    if (rc == 0)
        rc = zidx_status(&x);
    zidx_close(&x);
    return rc == ZSET_STOP ? 0 : rc;
}

int zset_members_open(const zset_ref *z, ks_range *r, size_t *member_off)
{
    ks_key p;
    char tag = ZSET_MEMBER_TAG;
    int rc = ks_field_key(z->ks, z->dbi, z->key, z->klen, z->m->version, &tag, 1, &p);
    rc = rc ? rc : ks_range_open(z->ks, p.p, p.len, false, r);
    *member_off = p.len + 8;
    ks_key_free(&p);
    return rc;
}

/* The set's first or last score-index entry (enc | member) into out; empty when none. */
int zset_end_entry(const zset_ref *z, bool last, ks_key *out)
{
    zset_hint lo, hi;
    zset_hints_parse(z->m, &lo, &hi);
    zidx x;
    int rc = zidx_open(z, ZSET_SCORE_TAG, &x);
    if (rc)
        return rc;
    rc = last ? seek_last(&x, &hi) : seek_first(&x, &lo);
    zent e;
    out->len = 0;
    if (rc == 0 && score_entry(&x, &e))
        rc = ks_key_append(out, e.sub, e.sublen);
    if (rc == 0)
        rc = zidx_status(&x);
    zidx_close(&x);
    return rc;
}

/* ---- whole values ---- */

static int emit_scored(void *ctx, const char *member, size_t len, double score)
{
    return rdb_value_add_scored(ctx, member, len, score);
}

int zset_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
              rdb_value *v)
{
    rdb_value_init(v, KS_TYPE_ZSET);
    v->enc = zset_flags(m) & ZSET_F_SKIPLIST ? RDB_ENC_BIG : RDB_ENC_COMPACT;
    zset_ref z = {.ks = ks, .dbi = dbi, .key = key, .klen = klen, .m = m};
    return m->size ? zset_range_rank(&z, 0, m->size - 1, false, emit_scored, v) : 0;
}

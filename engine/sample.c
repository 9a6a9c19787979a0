/*
 * sample.c - a random point of the key space drawn from where the data is: a table
 * chosen with probability proportional to its size (among those overlapping the range),
 * then a point between that table's first and last keys. Interpolating between the
 * range's own first and last keys instead is only near uniform for keys of one shape: a
 * key after a wide lexical gap (another prefix, another length) is drawn far more often.
 * shale_sample_key takes the entry at the point in that table when a point lookup finds
 * its key live, and draws again otherwise (an iterator seek would walk over every
 * tombstone after a deleted key, and after many evictions there are many). Used by the
 * server's eviction and RANDOMKEY. Memtable contents are not sampled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "format.h"
#include "shale.h"
#include "table_cache.h"

static int cmp_bytes(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0; /* (an empty bound may be NULL) */
    return c ? c : (al > bl) - (al < bl);
}

/* Whether f's user keys meet [lo, hi) (hi NULL: no upper bound). */
static bool overlaps(const file_meta *f, slice lo, slice hi, bool has_hi)
{
    slice small = ikey_user_key(buf_slice(&f->smallest));
    slice large = ikey_user_key(buf_slice(&f->largest));
    if (cmp_bytes(large.data, large.len, lo.data, lo.len) < 0)
        return false;
    return !has_hi || cmp_bytes(small.data, small.len, hi.data, hi.len) < 0;
}

static uint64_t step(uint64_t *r)
{
    *r = *r * 6364136223846793005ull + 1442695040888963407ull;
    return *r >> 33;
}

/* A point between a and b (a <= b): their common prefix, then bytes drawn between the
   ones they hold there and after. Returns its length (at most cap). */
static size_t between(slice a, slice b, uint64_t *r, unsigned char *out, size_t cap)
{
    const unsigned char *x = (const unsigned char *)a.data, *y = (const unsigned char *)b.data;
    size_t p = 0;
    while (p < a.len && p < b.len && x[p] == y[p])
        p++;
    size_t len = a.len > b.len ? a.len : b.len;
    if (len > cap)
        len = cap;
    if (p >= len) {
        memcpy(out, x, len < a.len ? len : a.len);
        return len < a.len ? len : a.len;
    }
    unsigned minc = 255, maxc = 0;
    for (size_t i = p; i < a.len; i++) {
        minc = x[i] < minc ? x[i] : minc;
        maxc = x[i] > maxc ? x[i] : maxc;
    }
    for (size_t i = p; i < b.len; i++) {
        minc = y[i] < minc ? y[i] : minc;
        maxc = y[i] > maxc ? y[i] : maxc;
    }
    memcpy(out, x, p);
    for (size_t i = p; i < len; i++) {
        unsigned lo = i == p ? (p < a.len ? x[p] : 0) : minc;
        unsigned hi = i == p ? (p < b.len ? y[p] : 255) : maxc;
        out[i] = (unsigned char)(lo + step(r) % (hi - lo + 1));
    }
    return len;
}

/* A table overlapping [lo, hi) drawn with probability proportional to its size, and a
   point in it (within the range) into out; NULL when no table overlaps. */
static file_meta *draw_point(version *v, slice lo, slice hi, bool has_hi, uint64_t *r,
                             unsigned char *out, size_t cap, size_t *len)
{
    uint64_t total = 0;
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            if (overlaps(v->files[l][i], lo, hi, has_hi))
                total += v->files[l][i]->file_size + 1;
    if (!total)
        return NULL;
    uint64_t pick = ((step(r) << 31 ^ step(r)) * 0x9e3779b97f4a7c15ull >> 11) % total;
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++) {
            file_meta *f = v->files[l][i];
            if (!overlaps(f, lo, hi, has_hi))
                continue;
            uint64_t w = f->file_size + 1;
            if (pick >= w) {
                pick -= w;
                continue;
            }
            slice a = ikey_user_key(buf_slice(&f->smallest));
            slice b = ikey_user_key(buf_slice(&f->largest));
            if (cmp_bytes(a.data, a.len, lo.data, lo.len) < 0)
                a = lo;
            if (has_hi && cmp_bytes(b.data, b.len, hi.data, hi.len) >= 0)
                b = hi; /* a point at hi itself finds nothing: callers wrap around */
            *len = between(a, b, r, out, cap);
            return f;
        }
    return NULL;
}

int shale_sample_point(shale_db *db, const void *lo, size_t lol, const void *hi, size_t hil,
                       uint64_t rnd, void *out, size_t cap, size_t *len)
{
    if (!db || !out || !len || (!lo && lol) || (!hi && hil))
        return -EINVAL;
    super_version *sv = db_sv_acquire(db);
    uint64_t r = rnd | 1;
    file_meta *f = draw_point(sv->v, slice_make(lo, lol), slice_make(hi, hil), hi != NULL, &r,
                              out, cap, len);
    db_sv_release(sv);
    return f ? 0 : -ENOENT;
}

#define SAMPLE_DRAWS 16      /* points drawn (each checked once) before giving up */
#define SAMPLE_POINT_MAX 256 /* bytes of a drawn point */

/* Whether key's newest version is a live value (a point lookup: it never walks over
   other keys' tombstones, as an iterator seek would). */
static int live(shale_db *db, slice key)
{
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.fill_cache = 0;
    void *v;
    size_t n;
    int rc = shale_get_ex(db, &ro, key.data, key.len, &v, &n, NULL);
    if (rc == 0)
        shale_free(v);
    return rc;
}

int shale_sample_key(shale_db *db, const void *lo, size_t lol, const void *hi, size_t hil,
                     uint64_t rnd, void **key, size_t *klen)
{
    if (!db || !key || !klen || (!lo && lol) || (!hi && hil))
        return -EINVAL;
    slice slo = slice_make(lo, lol), shi = slice_make(hi, hil);
    bool has_hi = hi != NULL;
    super_version *sv = db_sv_acquire(db);
    uint64_t r = rnd | 1;
    int rc = -ENOENT;
    buf seek = {0};
    for (int d = 0; d < SAMPLE_DRAWS && rc == -ENOENT; d++) {
        unsigned char point[SAMPLE_POINT_MAX];
        size_t plen;
        file_meta *f = draw_point(sv->v, slo, shi, has_hi, &r, point, sizeof point, &plen);
        if (!f)
            break;
        iter *it = table_cache_iter(db->tc, f->number, f->file_size, false);
        seek.len = 0;
        if (!it || ikey_append(&seek, slice_make(point, plen), MAX_SEQUENCE, KIND_FOR_SEEK)) {
            iter_free(it);
            rc = -ENOMEM;
            break;
        }
        /* The entry at or after the point in this table: taken when it is a value whose
           key is live, else the draw is rejected (rejection keeps the draw uniform over
           the tables' entries, so over the live keys among them: stepping on to the next
           live key would favour keys after runs of deleted ones). */
        iter_seek(it, buf_slice(&seek));
        if (iter_valid(it)) {
            slice ik = iter_key(it), uk = ikey_user_key(ik);
            bool in = cmp_bytes(uk.data, uk.len, lo, lol) >= 0 &&
                      (!has_hi || cmp_bytes(uk.data, uk.len, hi, hil) < 0);
            int lrc = in && ikey_kind(ik) != KIND_DELETE ? live(db, uk) : SHALE_ENOTFOUND;
            if (lrc == 0) {
                *key = malloc(uk.len ? uk.len : 1);
                if (*key) {
                    memcpy(*key, uk.data, uk.len);
                    *klen = uk.len;
                }
                rc = *key ? 0 : -ENOMEM;
            } else if (lrc != SHALE_ENOTFOUND) {
                rc = lrc;
            }
        } else if (iter_status(it)) {
            rc = iter_status(it);
        }
        iter_free(it);
    }
    buf_free(&seek);
    db_sv_release(sv);
    return rc;
}

/*
 * sample.c - a random point of the key space drawn from where the data is: a table
 * chosen with probability proportional to its size (among those overlapping the range),
 * then a point between that table's first and last keys. Interpolating between the
 * range's own first and last keys instead is only near uniform for keys of one shape: a
 * key after a wide lexical gap (another prefix, another length) is drawn far more often.
 * Used by the server's eviction to sample keys. Memtable contents are not sampled.
 */
#include <errno.h>
#include <string.h>

#include "db_impl.h"
#include "format.h"
#include "shale.h"

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

int shale_sample_point(shale_db *db, const void *lo, size_t lol, const void *hi, size_t hil,
                       uint64_t rnd, void *out, size_t cap, size_t *len)
{
    if (!db || !out || !len || (!lo && lol) || (!hi && hil))
        return -EINVAL;
    slice slo = slice_make(lo, lol), shi = slice_make(hi, hil);
    bool has_hi = hi != NULL;
    super_version *sv = db_sv_acquire(db);
    version *v = sv->v;
    uint64_t total = 0;
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            if (overlaps(v->files[l][i], slo, shi, has_hi))
                total += v->files[l][i]->file_size + 1;
    int rc = -ENOENT;
    uint64_t r = rnd | 1, pick = total ? ((r * 0x9e3779b97f4a7c15ull) >> 11) % total : 0;
    for (int l = 0; l < v->num_levels && total && rc == -ENOENT; l++)
        for (int i = 0; i < v->nfiles[l]; i++) {
            file_meta *f = v->files[l][i];
            if (!overlaps(f, slo, shi, has_hi))
                continue;
            uint64_t w = f->file_size + 1;
            if (pick >= w) {
                pick -= w;
                continue;
            }
            slice a = ikey_user_key(buf_slice(&f->smallest));
            slice b = ikey_user_key(buf_slice(&f->largest));
            if (cmp_bytes(a.data, a.len, lo, lol) < 0)
                a = slo;
            if (has_hi && cmp_bytes(b.data, b.len, hi, hil) >= 0)
                b = shi; /* a point at hi itself finds nothing: callers wrap around */
            *len = between(a, b, &r, out, cap);
            rc = 0;
            break;
        }
    db_sv_release(sv);
    return rc;
}

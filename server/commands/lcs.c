/* lcs.c - the longest common subsequence as Redis 7.0's LCS finds it (see lcs.h). */
#include "lcs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

uint64_t lcs_table_bytes(size_t alen, size_t blen)
{
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1)
        return UINT64_MAX;
    return (uint64_t)(alen + 1) * (blen + 1) * sizeof(uint32_t);
}

/* T(i, j): the LCS length of a[0..i) and b[0..j). */
#define T(i, j) t[(size_t)(j) + (size_t)(i) * (blen + 1)]

static void fill_table(uint32_t *t, const char *a, size_t alen, const char *b, size_t blen)
{
    for (size_t i = 0; i <= alen; i++)
        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                T(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                T(i, j) = T(i - 1, j - 1) + 1;
            else
                T(i, j) = T(i - 1, j) > T(i, j - 1) ? T(i - 1, j) : T(i, j - 1);
        }
}

static int add_range(lcs_result *r, uint32_t *cap, lcs_range range)
{
    if (r->nranges == *cap) {
        uint32_t n = *cap ? 2 * *cap : 8;
        lcs_range *p = realloc(r->ranges, n * sizeof *p);
        if (!p)
            return -ENOMEM;
        r->ranges = p;
        *cap = n;
    }
    r->ranges[r->nranges++] = range;
    return 0;
}

/* The walk back: a match extends the current run backwards (a run ends at a mismatch or
   at the start of either string); a mismatch drops a byte of a only when that keeps a
   longer subsequence than dropping one of b. */
static int walk_back(const uint32_t *t, const char *a, size_t alen, const char *b, size_t blen,
                     lcs_result *r, int with_ranges)
{
    size_t i = alen, j = blen, k = r->len;
    uint32_t cap = 0;
    bool open = false;
    lcs_range cur = {0};
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            if (r->str)
                r->str[k - 1] = a[i - 1];
            if (!open) {
                cur = (lcs_range){(uint32_t)(i - 1), (uint32_t)(i - 1), (uint32_t)(j - 1),
                                  (uint32_t)(j - 1)};
                open = true;
            } else { /* contiguous: the previous match was at (i, j) */
                cur.a_start--;
                cur.b_start--;
            }
            emit = cur.a_start == 0 || cur.b_start == 0;
            k--, i--, j--;
        } else {
            if (T(i - 1, j) > T(i, j - 1))
                i--;
            else
                j--;
            emit = open;
        }
        if (emit && open) {
            if (with_ranges && add_range(r, &cap, cur))
                return -ENOMEM;
            open = false;
        }
    }
    return 0;
}

int lcs_compute(const char *a, size_t alen, const char *b, size_t blen, int with_str,
                int with_ranges, lcs_result *out)
{
    memset(out, 0, sizeof *out);
    uint64_t bytes = lcs_table_bytes(alen, blen);
    uint32_t *t = bytes == UINT64_MAX || bytes > SIZE_MAX ? NULL : malloc((size_t)bytes);
    if (!t)
        return -ENOMEM;
    fill_table(t, a, alen, b, blen);
    out->len = T(alen, blen);
    int rc = 0;
    if (with_str && !(out->str = malloc(out->len ? out->len : 1)))
        rc = -ENOMEM;
    if (rc == 0 && (with_str || with_ranges))
        rc = walk_back(t, a, alen, b, blen, out, with_ranges);
    free(t);
    if (rc)
        lcs_result_free(out);
    return rc;
}

void lcs_result_free(lcs_result *r)
{
    free(r->str);
    free(r->ranges);
    memset(r, 0, sizeof *r);
}

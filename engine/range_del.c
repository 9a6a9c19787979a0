/*
 * range_del.c - fragmenting range tombstones and finding the one over a key (see
 * range_del.h). Fragmenting is a sweep over the sorted boundaries (every begin and end):
 * between two neighbouring boundaries the same tombstones are over every key, so each
 * such interval is one fragment, merged with the one before it when they touch and carry
 * the same sequences. It costs O(B x A) for B boundaries and A tombstones over a point,
 * which stays small unless many tombstones nest (delete ranges from a key that does not
 * move; see docs/format.md).
 */
#include "range_del.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_begin(const void *a, const void *b)
{
    const range_tomb *x = *(const range_tomb *const *)a, *y = *(const range_tomb *const *)b;
    return slice_compare(x->begin, y->begin);
}

static int cmp_slice(const void *a, const void *b)
{
    return slice_compare(*(const slice *)a, *(const slice *)b);
}

static int cmp_seq_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

/* Sorts and de-duplicates keys in place; returns how many differ. */
static size_t unique_keys(slice *k, size_t n)
{
    qsort(k, n, sizeof *k, cmp_slice);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || !slice_equal(k[u - 1], k[i]))
            k[u++] = k[i];
    return u;
}

/* Sorts seqs newest first, drops repeats and, of those at or below collapse, all but the
   newest; returns how many stay. */
static uint32_t select_seqs(uint64_t *s, uint32_t n, uint64_t collapse)
{
    qsort(s, n, sizeof *s, cmp_seq_desc);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (k > 0 && s[k - 1] == s[i])
            continue;
        if (k > 0 && s[k - 1] <= collapse)
            break; /* the newest at or below collapse is kept; older ones go */
        s[k++] = s[i];
    }
    return k;
}

typedef struct frag_build {
    size_t lo, hi;  /* boundary indexes */
    size_t seq_off; /* into the sequence array */
    uint32_t nseqs;
} frag_build;

/* Copies the boundaries into one buffer owned by l (bounds are then re-pointed there). */
static int own_keys(rdel_list *l, slice *bounds, size_t nb)
{
    size_t total = 0;
    for (size_t i = 0; i < nb; i++)
        total += bounds[i].len;
    l->keys = malloc(total ? total : 1);
    if (!l->keys)
        return -ENOMEM;
    l->key_bytes = total;
    size_t off = 0;
    for (size_t i = 0; i < nb; i++) {
        if (bounds[i].len)
            memcpy(l->keys + off, bounds[i].data, bounds[i].len);
        bounds[i].data = l->keys + off;
        off += bounds[i].len;
    }
    return 0;
}

/* The sweep: fills fb[] (at most nb - 1) and seqs[] (at most m per fragment, grown as
   needed). Returns the fragment count or -ENOMEM. */
static long sweep(const range_tomb **live, size_t m, const slice *bounds, size_t nb,
                  uint64_t collapse, frag_build *fb, uint64_t **seqs, size_t *seq_cap)
{
    const range_tomb **act = malloc(m * sizeof *act);
    uint64_t *tmp = malloc(m * sizeof *tmp);
    if (!act || !tmp) {
        free(act);
        free(tmp);
        return -ENOMEM;
    }
    size_t next = 0, nact = 0, nfrag = 0, nseq = 0;
    for (size_t j = 0; j + 1 < nb; j++) {
        slice lo = bounds[j];
        while (next < m && slice_compare(live[next]->begin, lo) <= 0)
            act[nact++] = live[next++];
        size_t k = 0;
        for (size_t i = 0; i < nact; i++)
            if (slice_compare(act[i]->end, lo) > 0)
                act[k++] = act[i];
        nact = k;
        if (nact == 0)
            continue;
        for (size_t i = 0; i < nact; i++)
            tmp[i] = act[i]->seq;
        uint32_t ns = select_seqs(tmp, (uint32_t)nact, collapse);
        frag_build *prev = nfrag ? &fb[nfrag - 1] : NULL;
        if (prev && prev->hi == j && prev->nseqs == ns &&
            memcmp(*seqs + prev->seq_off, tmp, ns * sizeof *tmp) == 0) {
            prev->hi = j + 1; /* the same tombstones go on: one fragment */
            continue;
        }
        if (nseq + ns > *seq_cap) {
            size_t cap = (*seq_cap ? *seq_cap * 2 : 64) + ns;
            uint64_t *p = realloc(*seqs, cap * sizeof *p);
            if (!p) {
                free(act);
                free(tmp);
                return -ENOMEM;
            }
            *seqs = p;
            *seq_cap = cap;
        }
        memcpy(*seqs + nseq, tmp, ns * sizeof *tmp);
        fb[nfrag++] = (frag_build){j, j + 1, nseq, ns};
        nseq += ns;
    }
    free(act);
    free(tmp);
    return (long)nfrag;
}

int rdel_list_build(const range_tomb *t, size_t n, uint64_t read_seq, uint64_t collapse,
                    rdel_list **out)
{
    *out = NULL;
    const range_tomb **live = malloc((n ? n : 1) * sizeof *live);
    slice *bounds = malloc((n ? 2 * n : 1) * sizeof *bounds);
    frag_build *fb = NULL;
    uint64_t *seqs = NULL;
    size_t seq_cap = 0, m = 0, nb = 0;
    rdel_list *l = NULL;
    int rc = -ENOMEM;
    if (!live || !bounds)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (t[i].seq <= read_seq && slice_compare(t[i].begin, t[i].end) < 0)
            live[m++] = &t[i];
    rc = 0;
    if (m == 0)
        goto done;
    rc = -ENOMEM;
    qsort(live, m, sizeof *live, cmp_begin);
    for (size_t i = 0; i < m; i++) {
        bounds[nb++] = live[i]->begin;
        bounds[nb++] = live[i]->end;
    }
    nb = unique_keys(bounds, nb);
    fb = malloc(nb * sizeof *fb);
    l = calloc(1, sizeof *l);
    if (!fb || !l)
        goto done;
    long nf = sweep(live, m, bounds, nb, collapse, fb, &seqs, &seq_cap);
    if (nf < 0)
        goto done;
    l->frags = malloc((size_t)(nf ? nf : 1) * sizeof *l->frags);
    if (!l->frags || own_keys(l, bounds, nb))
        goto done;
    l->seqs = seqs;
    seqs = NULL;
    l->n = (int)nf;
    l->min_seq = UINT64_MAX;
    for (long i = 0; i < nf; i++) {
        rdel_frag *f = &l->frags[i];
        f->begin = bounds[fb[i].lo];
        f->end = bounds[fb[i].hi];
        f->seqs = l->seqs + fb[i].seq_off;
        f->nseqs = fb[i].nseqs;
        l->entries += f->nseqs;
        if (f->seqs[0] > l->max_seq)
            l->max_seq = f->seqs[0];
        if (f->seqs[f->nseqs - 1] < l->min_seq)
            l->min_seq = f->seqs[f->nseqs - 1];
    }
    atomic_init(&l->refs, 1);
    *out = l;
    l = NULL;
    rc = 0;
done:
    if (l) {
        free(l->frags);
        free(l->keys);
        free(l->seqs);
        free(l);
    }
    free(live);
    free(bounds);
    free(fb);
    free(seqs);
    return rc;
}

size_t rdel_list_memory(const rdel_list *l)
{
    return l ? sizeof *l + (size_t)l->n * sizeof *l->frags + l->key_bytes +
                   (size_t)l->entries * sizeof *l->seqs
             : 0;
}

void rdel_list_ref(rdel_list *l)
{
    atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
}

void rdel_list_unref(rdel_list *l)
{
    if (!l || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(l->frags);
    free(l->keys);
    free(l->seqs);
    free(l);
}

int rdel_list_find(const rdel_list *l, slice key)
{
    int lo = 0, hi = l->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (slice_compare(l->frags[mid].end, key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t rdel_list_cover(const rdel_list *l, slice key, uint64_t read_seq)
{
    if (!l)
        return 0;
    int i = rdel_list_find(l, key);
    if (i < l->n && slice_compare(l->frags[i].begin, key) <= 0)
        return rdel_frag_seq_at(&l->frags[i], read_seq);
    return 0;
}

uint64_t rdel_cursor_cover(rdel_cursor *c, slice key, uint64_t read_seq)
{
    const rdel_list *l = c->l;
    if (!l || l->n == 0)
        return 0;
    int i = c->i;
    /* still before fragment i's end and at or after the previous one's */
    bool here = (i >= l->n || slice_compare(key, l->frags[i].end) < 0) &&
                (i == 0 || slice_compare(key, l->frags[i - 1].end) >= 0);
    if (!here)
        i = c->i = rdel_list_find(l, key);
    if (i < l->n && slice_compare(l->frags[i].begin, key) <= 0)
        return rdel_frag_seq_at(&l->frags[i], read_seq);
    return 0;
}

bool rdel_list_overlaps(const rdel_list *l, slice lo, slice hi)
{
    if (!l)
        return false;
    int i = rdel_list_find(l, lo);
    return i < l->n && slice_compare(l->frags[i].begin, hi) <= 0;
}

/*
 * member_map.c - the map is open addressing with linear probing over a power-of-two
 * table, grown at 1/2 load; members' bytes are copied into chunks that never move, so
 * entries can be rehashed without copying members again. The list is two growing arrays.
 */
#include "member_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CHUNK_BYTES (64u << 10)
#define FIRST_CHUNK 512 /* most commands change a few short members */

struct mm_chunk {
    mm_chunk *next;
    size_t used, cap;
    char data[];
};

void mm_init(member_map *m)
{
    memset(m, 0, sizeof *m);
}

void mm_free(member_map *m)
{
    free(m->slots);
    for (mm_chunk *c = m->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    mm_init(m);
}

static uint64_t hash_of(const void *p, size_t n)
{
    return XXH64(p, n, 0);
}

/* The slot holding p, or the free slot where it would go. */
static mm_entry *probe(const member_map *m, const void *p, size_t n, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        mm_entry *e = &m->slots[i];
        if (!e->member || (e->hash == h && e->len == n && memcmp(e->member, p, n) == 0))
            return e;
    }
}

mm_entry *mm_find(const member_map *m, const void *p, size_t n)
{
    if (!m->cap)
        return NULL;
    mm_entry *e = probe(m, p, n, hash_of(p, n));
    return e->member ? e : NULL;
}

static int grow(member_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    mm_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    member_map bigger = {.slots = slots, .cap = cap};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].member)
            *probe(&bigger, m->slots[i].member, m->slots[i].len, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

/* A copy of p[0..n) in the map's chunks (a member of 0 bytes gets a valid pointer too). */
static const char *copy_member(member_map *m, const void *p, size_t n)
{
    mm_chunk *c = m->chunks;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = c ? (c->cap < CHUNK_BYTES ? c->cap * 2 : CHUNK_BYTES) : FIRST_CHUNK;
        cap = n + 1 > cap ? n + 1 : cap;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = m->chunks;
        m->chunks = c;
    }
    char *dst = c->data + c->used;
    if (n)
        memcpy(dst, p, n);
    c->used += n + 1;
    return dst;
}

mm_entry *mm_upsert(member_map *m, const void *p, size_t n, bool *added)
{
    *added = false;
    if ((m->count + 1) * 2 > m->cap && grow(m))
        return NULL;
    uint64_t h = hash_of(p, n);
    mm_entry *e = probe(m, p, n, h);
    if (e->member)
        return e;
    const char *copy = copy_member(m, p, n);
    if (!copy)
        return NULL;
    *e = (mm_entry){.member = copy, .len = n, .hash = h};
    m->count++;
    *added = true;
    return e;
}

/* ---- the list ---- */

int ml_push(member_list *l, const void *p, size_t n, double score)
{
    if (l->n == l->ncap) {
        size_t cap = l->ncap ? l->ncap * 2 : 64;
        ml_item *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -ENOMEM;
        l->items = items;
        l->ncap = cap;
    }
    if (l->cap - l->len < n || !l->buf) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        while (cap - l->len < n)
            cap *= 2;
        char *buf = realloc(l->buf, cap);
        if (!buf)
            return -ENOMEM;
        l->buf = buf;
        l->cap = cap;
    }
    if (n)
        memcpy(l->buf + l->len, p, n);
    l->items[l->n++] = (ml_item){.off = l->len, .len = n, .score = score};
    l->len += n;
    return 0;
}

int ml_emit(void *ctx, const char *p, size_t n, double score)
{
    return ml_push(ctx, p, n, score);
}

static const char *sort_buf; /* the list being sorted (qsort has no context argument) */

static int item_cmp(const void *a, const void *b)
{
    const ml_item *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    int c = memcmp(sort_buf + x->off, sort_buf + y->off, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

void ml_sort(member_list *l)
{
    sort_buf = l->buf;
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, item_cmp);
}

void ml_free(member_list *l)
{
    free(l->buf);
    free(l->items);
    memset(l, 0, sizeof *l);
}

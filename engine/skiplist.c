/*
 * skiplist.c - see skiplist.h. Publication: a node is fully written, then linked bottom
 * up with release stores; readers follow next pointers with acquire loads, so a reader
 * that sees a node sees its key.
 */
#include "skiplist.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "coding.h"
#include "format.h"

static skip_node *node_new(skiplist *sl, int height, size_t key_bytes, char **key_out)
{
    size_t sz = sizeof(skip_node) + (size_t)(height - 1) * sizeof(_Atomic(skip_node *));
    char *mem = arena_alloc(sl->arena, sz + key_bytes);
    if (!mem)
        return NULL;
    skip_node *n = (skip_node *)mem;
    for (int i = 0; i < height; i++)
        atomic_init(&n->next[i], NULL);
    n->height = (uint8_t)height;
    *key_out = mem + sz;
    n->key = *key_out;
    return n;
}

int skiplist_init(skiplist *sl, arena *a)
{
    sl->arena = a;
    sl->rnd = 0x2545F4914F6CDD1DULL;
    atomic_init(&sl->max_height, 1);
    char *k;
    sl->head = node_new(sl, SKIPLIST_MAX_HEIGHT, 0, &k);
    if (!sl->head)
        return -ENOMEM;
    sl->head->key = NULL;
    return 0;
}

static int random_height(skiplist *sl)
{
    /* xorshift; each level with probability 1/4 */
    uint64_t x = sl->rnd;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sl->rnd = x;
    int h = 1;
    while (h < SKIPLIST_MAX_HEIGHT && (x & 3) == 0) {
        h++;
        x >>= 2;
    }
    return h;
}

static inline int cmp_node(const skip_node *n, uint64_t prefix, slice target)
{
    if (n->prefix != prefix)
        return n->prefix < prefix ? -1 : 1;
    return ikey_compare(slice_make(n->ikey, n->ikey_len), target);
}

/* Fills prev[] with the last node < key at each level; returns the node >= key at L0. */
static skip_node *find_ge(const skiplist *sl, slice key, skip_node **prev)
{
    skip_node *x = sl->head;
    int level = atomic_load_explicit(&((skiplist *)sl)->max_height, memory_order_relaxed) - 1;
    skip_node *last_checked = NULL;
    uint64_t prefix = skiplist_key_prefix(ikey_user_key(key));
    for (;;) {
        skip_node *next = atomic_load_explicit(&x->next[level], memory_order_acquire);
        if (next && next != last_checked) {
            __builtin_prefetch(&next->next[0]);
            if (cmp_node(next, prefix, key) < 0) {
                x = next;
                continue;
            }
        }
        if (prev)
            prev[level] = x;
        if (level == 0)
            return next;
        last_checked = next;
        level--;
    }
}

char *skiplist_alloc_entry(skiplist *sl, size_t size, skip_node **node)
{
    int h = random_height(sl);
    char *key;
    skip_node *n = node_new(sl, h, size, &key);
    if (!n)
        return NULL;
    *node = n;
    return key;
}

void skiplist_insert_node(skiplist *sl, skip_node *n, const char *ikey, uint32_t ikey_len)
{
    int h = n->height;
    n->ikey = ikey;
    n->ikey_len = ikey_len;
    slice key = slice_make(ikey, ikey_len);
    n->prefix = skiplist_key_prefix(ikey_user_key(key));
    skip_node *prev[SKIPLIST_MAX_HEIGHT];
    find_ge(sl, key, prev);
    int maxh = atomic_load_explicit(&sl->max_height, memory_order_relaxed);
    if (h > maxh) {
        for (int i = maxh; i < h; i++)
            prev[i] = sl->head;
        /* Readers that see the new height before the links find NULL there and move
           down a level: harmless. */
        atomic_store_explicit(&sl->max_height, h, memory_order_relaxed);
    }
    for (int i = 0; i < h; i++) {
        atomic_store_explicit(&n->next[i],
                              atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed),
                              memory_order_relaxed);
        atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
    }
}

skip_node *skiplist_seek(const skiplist *sl, slice target)
{
    return find_ge(sl, target, NULL);
}

skip_node *skiplist_seek_lt(const skiplist *sl, slice target)
{
    skip_node *x = sl->head;
    int level = atomic_load_explicit(&((skiplist *)sl)->max_height, memory_order_relaxed) - 1;
    uint64_t prefix = skiplist_key_prefix(ikey_user_key(target));
    for (;;) {
        skip_node *next = atomic_load_explicit(&x->next[level], memory_order_acquire);
        if (next && cmp_node(next, prefix, target) < 0) {
            x = next;
            continue;
        }
        if (level == 0)
            return x == sl->head ? NULL : x;
        level--;
    }
}

skip_node *skiplist_last(const skiplist *sl)
{
    skip_node *x = sl->head;
    int level = atomic_load_explicit(&((skiplist *)sl)->max_height, memory_order_relaxed) - 1;
    for (;;) {
        skip_node *next = atomic_load_explicit(&x->next[level], memory_order_acquire);
        if (next) {
            x = next;
            continue;
        }
        if (level == 0)
            return x == sl->head ? NULL : x;
        level--;
    }
}

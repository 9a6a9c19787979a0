/*
 * skiplist.c - see skiplist.h. Publication: a node is fully written, then linked bottom
 * up with release stores; readers follow next pointers with acquire loads, so a reader
 * that sees a node sees its key, and the reference key it names (written before it).
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
    return n;
}

int skiplist_init(skiplist *sl, arena *a)
{
    sl->arena = a;
    sl->rnd = 0x2545F4914F6CDD1DULL;
    sl->nrefs = 0;
    atomic_init(&sl->max_height, 1);
    char *k;
    sl->head = node_new(sl, SKIPLIST_MAX_HEIGHT, 0, &k);
    return sl->head ? 0 : -ENOMEM;
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

/* ---- comparing a key with nodes ---- */

static inline uint64_t load_be64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* How many leading bytes a and b share, at most SKIPLIST_MAX_OFF. */
static unsigned common_prefix(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    if (n > SKIPLIST_MAX_OFF)
        n = SKIPLIST_MAX_OFF;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = load_be64(a + i) ^ load_be64(b + i);
        if (x)
            return (unsigned)(i + (size_t)__builtin_clzll(x) / 8);
    }
    while (i < n && a[i] == b[i])
        i++;
    return (unsigned)i;
}

/* Bytes [off, off + 8) of a key as a big-endian number, zero padded: windows order as
   the keys' bytes from off do (a key ending inside the window pads with zeros, below
   any byte a longer key that agrees so far can have there, or equal to it: a tie). */
static inline uint64_t key_window(const char *k, size_t len, size_t off)
{
    if (len >= off + 8)
        return load_be64(k + off);
    uint64_t w = 0;
    for (size_t i = off; i < len; i++)
        w |= (uint64_t)(unsigned char)k[i] << (56 - 8 * (i - off));
    return w;
}

/*
 * A key being searched for, measured lazily against each reference a visited node
 * names: off, window, and `deeper`: the comparison's result for a node that shares more
 * with the reference than the key does (that node has the reference's byte where the
 * key differs from it, or the key ends there).
 */
typedef struct probe {
    const char *ukey;
    size_t ulen;
    uint64_t trailer;
    unsigned known; /* bit r: the fields for reference r are set */
    uint8_t off[SKIPLIST_MAX_REFS];
    int8_t deeper[SKIPLIST_MAX_REFS];
    uint64_t window[SKIPLIST_MAX_REFS];
} probe;

static void probe_init(probe *p, slice ikey)
{
    p->ukey = ikey.data;
    p->ulen = ikey.len - TRAILER_SIZE;
    p->trailer = decode_fixed64(ikey.data + p->ulen);
    p->known = 0;
}

static void probe_measure(probe *p, const skip_ref *ref, int r)
{
    unsigned c = common_prefix(p->ukey, p->ulen, ref->data, ref->len);
    p->off[r] = (uint8_t)c;
    p->window[r] = key_window(p->ukey, p->ulen, c);
    if (c >= ref->len || c == SKIPLIST_MAX_OFF)
        p->deeper[r] = 0; /* no node can share more */
    else if (c == p->ulen)
        p->deeper[r] = 1; /* the key ends where the deeper node goes on */
    else
        p->deeper[r] = (unsigned char)ref->data[c] > (unsigned char)p->ukey[c] ? 1 : -1;
    p->known |= 1u << r;
}

/* Node and key with equal windows at off: the bytes after the window, then the
   trailers (the newer, larger one first). */
static int cmp_tail(const skip_node *n, const probe *p, size_t off)
{
    size_t nlen = n->ikey_len - TRAILER_SIZE, from = off + 8;
    if (nlen > from && p->ulen > from) {
        size_t m = (nlen < p->ulen ? nlen : p->ulen) - from;
        int r = memcmp(n->ikey + from, p->ukey + from, m);
        if (r)
            return r;
    }
    /* otherwise the shorter one (zero padded in the window) is a prefix of the other */
    if (nlen != p->ulen)
        return nlen < p->ulen ? -1 : 1;
    uint64_t t = decode_fixed64(n->ikey + nlen);
    return (t < p->trailer) - (t > p->trailer);
}

/* <0, 0, >0: the node's key before, equal to, after the probe's. */
static inline int cmp_node(const skiplist *sl, const skip_node *n, probe *p)
{
    int r = n->ref;
    if (!(p->known & (1u << r)))
        probe_measure(p, &sl->refs[r], r);
    if (n->off != p->off[r])
        return n->off > p->off[r] ? p->deeper[r] : n->dir;
    if (n->window != p->window[r])
        return n->window < p->window[r] ? -1 : 1;
    return cmp_tail(n, p, n->off);
}

/* ---- search ---- */

/* Fills prev[] with the last node < key at each level; returns the node >= key at L0. */
static skip_node *find_ge(const skiplist *sl, probe *p, skip_node **prev)
{
    skip_node *x = sl->head;
    int level = atomic_load_explicit(&((skiplist *)sl)->max_height, memory_order_relaxed) - 1;
    skip_node *last_checked = NULL;
    for (;;) {
        skip_node *next = atomic_load_explicit(&x->next[level], memory_order_acquire);
        if (next && next != last_checked) {
            __builtin_prefetch(&next->next[0]);
            /* Where the descent goes if next turns out not to be below the key: fetch it
               while next is being fetched, so the two cache misses overlap. */
            if (level > 0)
                __builtin_prefetch(atomic_load_explicit(&x->next[level - 1], memory_order_relaxed));
            if (cmp_node(sl, next, p) < 0) {
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

/* ---- insert ---- */

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

/* Measures the probe against every reference and returns the closest one, first making
   the key a reference of its own when it is far from all of them and there is room. */
static int choose_ref(skiplist *sl, probe *p)
{
    int best = -1;
    for (int r = 0; r < sl->nrefs; r++) {
        probe_measure(p, &sl->refs[r], r);
        if (best < 0 || p->off[r] > p->off[best])
            best = r;
    }
    if (sl->nrefs < SKIPLIST_MAX_REFS && (best < 0 || p->off[best] < SKIPLIST_NEW_REF_BELOW)) {
        best = sl->nrefs++;
        sl->refs[best] = (skip_ref){p->ukey, (uint32_t)p->ulen};
        probe_measure(p, &sl->refs[best], best);
    }
    return best;
}

/* Sets the node's key and its comparison fields; p is left measured for the key. */
static void node_set_key(skiplist *sl, skip_node *n, const char *ikey, uint32_t ikey_len, probe *p)
{
    n->ikey = ikey;
    n->ikey_len = ikey_len;
    probe_init(p, slice_make(ikey, ikey_len));
    int r = choose_ref(sl, p);
    n->ref = (uint8_t)r;
    n->off = p->off[r];
    n->window = p->window[r];
    n->dir = (int8_t)-p->deeper[r]; /* the key against the reference, seen from the node */
}

/* Links n at every level of its height after a descent for its key (p). */
static void link_node(skiplist *sl, skip_node *n, probe *p)
{
    int h = n->height;
    skip_node *prev[SKIPLIST_MAX_HEIGHT];
    find_ge(sl, p, prev);
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
    n->prev0 = prev[0];
    skip_node *succ = atomic_load_explicit(&n->next[0], memory_order_relaxed);
    if (succ)
        succ->prev0 = n;
}

void skiplist_insert_node(skiplist *sl, skip_node *n, const char *ikey, uint32_t ikey_len)
{
    probe p;
    node_set_key(sl, n, ikey, ikey_len, &p);
    link_node(sl, n, &p);
}

void skiplist_insert_before(skiplist *sl, skip_node *n, const char *ikey, uint32_t ikey_len,
                            skip_node *succ)
{
    probe p;
    node_set_key(sl, n, ikey, ikey_len, &p);
    skip_node *prev = succ->prev0;
    /* Upper levels need the descent's predecessors; and the hint is checked, not
       trusted: the key must fall between succ and the node before it. */
    if (n->height != 1 || cmp_node(sl, succ, &p) <= 0 ||
        (prev != sl->head && cmp_node(sl, prev, &p) >= 0)) {
        link_node(sl, n, &p);
        return;
    }
    n->prev0 = prev;
    atomic_store_explicit(&n->next[0], succ, memory_order_relaxed);
    succ->prev0 = n;
    atomic_store_explicit(&prev->next[0], n, memory_order_release);
}

skip_node *skiplist_seek(const skiplist *sl, slice target)
{
    probe p;
    probe_init(&p, target);
    return find_ge(sl, &p, NULL);
}

skip_node *skiplist_seek_lt(const skiplist *sl, slice target)
{
    probe p;
    probe_init(&p, target);
    skip_node *x = sl->head;
    int level = atomic_load_explicit(&((skiplist *)sl)->max_height, memory_order_relaxed) - 1;
    for (;;) {
        skip_node *next = atomic_load_explicit(&x->next[level], memory_order_acquire);
        if (next && cmp_node(sl, next, &p) < 0) {
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

/*
 * set.c - sets on engine keys (set.h; the layout is in docs/format.md, "Sets"). Members
 * are engine keys prefix | hash64(member):be64 | member, so every set's members lie in
 * the same (hash) order: a union is a merge of walks, a difference a walk beside walks,
 * and a random pick a seek. Not a command file: no replies, no clients.
 */
#include "set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#include "args.h"

#define HASH_BYTES 8
/* Several picks read the whole set instead when it has at most this many members per
   pick: a pick costs a seek (a few steps' worth) and a walk of SET_PICK_WALK / 2 members
   on average. A single pick never does: in a set that SPOP emptied in part, deleted
   members lie between the live ones, and reading them all costs more than one walk. */
#define PICK_COST SET_PICK_WALK
/* Membership of n members is read with one walk over a set of at most this many times
   n members, else with a point read each. */
#define WALK_PER_MEMBER 4
/* A distinct pick that draws a member already drawn tries again, at most this many
   times per wanted member (a set whose members a fifo drop took may hold fewer than its
   count says). */
#define PICK_TRIES 64

/* ---- members ---- */

static uint64_t member_hash(const char *p, size_t len)
{
    return XXH3_64bits(p, len); /* seed 0: persisted in every member's key */
}

bool set_member_is_int(const char *p, size_t len)
{
    long long v;
    return parse_ll(p, len, &v);
}

static bool meta_hashtable(const ks_meta *m)
{
    /* a set without its flag byte (never written so) reads as a hashtable */
    return m->extralen < 1 || (m->extra[0] & SET_F_HASHTABLE);
}

/* Members deleted from the set's version since it was written (extra[1..8]). */
static uint64_t meta_dead(const ks_meta *m)
{
    return m->extralen >= 1 + 8 ? ks_be64(m->extra + 1) : 0;
}

const char *set_encoding(const ks_meta *m)
{
    return meta_hashtable(m) ? "hashtable" : "intset";
}

/* Compares two members' parts of engine keys (hash then bytes): engine order. */
static int sub_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* ---- set_list ---- */

int set_list_push(set_list *l, const char *p, size_t len)
{
    if (l->n + 2 > l->ncap) {
        size_t cap = l->ncap ? l->ncap * 2 : 16;
        size_t *off = realloc(l->off, cap * sizeof *off);
        if (!off)
            return -ENOMEM;
        l->off = off;
        l->ncap = cap;
        if (l->n == 0)
            l->off[0] = 0;
    }
    if (l->len + len > l->cap || !l->buf) { /* a buffer even for empty members */
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + len)
            cap *= 2;
        char *buf = realloc(l->buf, cap);
        if (!buf)
            return -ENOMEM;
        l->buf = buf;
        l->cap = cap;
    }
    if (len)
        memcpy(l->buf + l->len, p, len);
    l->len += len;
    l->off[++l->n] = l->len;
    return 0;
}

int set_list_emit(void *ctx, const char *p, size_t len)
{
    return set_list_push(ctx, p, len);
}

void set_list_free(set_list *l)
{
    free(l->buf);
    free(l->off);
    memset(l, 0, sizeof *l);
}

typedef struct int_item {
    long long v;
    size_t i;
} int_item;

static int int_item_cmp(const void *a, const void *b)
{
    long long x = ((const int_item *)a)->v, y = ((const int_item *)b)->v;
    return (x > y) - (x < y);
}

int set_list_intset_order(set_list *l)
{
    if (l->n < 2 || l->n > SET_INTSET_MAX)
        return 0;
    int_item items[SET_INTSET_MAX];
    for (size_t i = 0; i < l->n; i++) {
        size_t len;
        const char *p = set_list_at(l, i, &len);
        if (!parse_ll(p, len, &items[i].v))
            return 0;
        items[i].i = i;
    }
    qsort(items, l->n, sizeof items[0], int_item_cmp);
    set_list sorted = {0};
    for (size_t i = 0; i < l->n; i++) {
        size_t len;
        const char *p = set_list_at(l, items[i].i, &len);
        if (set_list_push(&sorted, p, len)) {
            set_list_free(&sorted);
            return -ENOMEM;
        }
    }
    set_list_free(l);
    *l = sorted;
    return 0;
}

/* ---- engine keys of one set ---- */

/* A set's member prefix, and room for one member's engine key after it. */
typedef struct set_keys {
    ks_key k;
    size_t plen;
} set_keys;

static int keys_open(set_keys *sk, keyspace *ks, int dbi, const set_ref *s, uint64_t version)
{
    int rc = ks_field_key(ks, dbi, s->key, s->klen, version, NULL, 0, &sk->k);
    sk->plen = sk->k.len;
    return rc;
}

/* sk->k becomes member (p, len)'s engine key (h: its hash). */
static int keys_member(set_keys *sk, uint64_t h, const char *p, size_t len)
{
    sk->k.len = sk->plen;
    int rc = ks_key_be64(&sk->k, h);
    return rc ? rc : ks_key_append(&sk->k, p, len);
}

static void keys_free(set_keys *sk)
{
    ks_key_free(&sk->k);
}

/* 0 when the member is there, SHALE_ENOTFOUND, or an error. A member too long for an
   engine key cannot be there (adding it fails). */
static int probe(keyspace *ks, set_keys *sk, uint64_t h, const char *p, size_t len)
{
    if (sk->plen + HASH_BYTES + len > SHALE_MAX_KEY_SIZE)
        return SHALE_ENOTFOUND;
    int rc = keys_member(sk, h, p, len);
    return rc ? rc : ks_get_raw(ks, &sk->k, NULL, NULL);
}

/* ---- walks ---- */

/* A walk over a set's members in engine-key order. */
typedef struct set_walk {
    ks_range r;
    bool open;
} set_walk;

static int walk_open(set_walk *w, keyspace *ks, int dbi, const set_ref *s)
{
    int rc = ks_range_open_members(ks, dbi, s->key, s->klen, s->m, &w->r);
    w->open = rc == 0;
    return rc;
}

/* A walk for random picks: its reads fill the block cache, as point reads do (a few
   seeks to random places, not a scan that would evict what others use), and it is not
   positioned at the first member (a set that SPOP emptied in part starts with deleted
   members, which that seek would walk over every time). */
static int walk_open_for_picks(set_walk *w, keyspace *ks, int dbi, const set_ref *s)
{
    ks_key p;
    int rc = ks_field_key(ks, dbi, s->key, s->klen, s->m->version, NULL, 0, &p);
    rc = rc ? rc
            : ks_range_open_ex(ks, p.p, p.len, false, KS_RANGE_FILL_CACHE | KS_RANGE_UNPOSITIONED,
                               &w->r);
    ks_key_free(&p);
    w->open = rc == 0;
    return rc;
}

static bool walk_valid(const set_walk *w)
{
    return ks_iter_valid(w->r.it);
}

/* The current member's part of its engine key: hash | member. */
static const char *walk_sub(const set_walk *w, size_t *len)
{
    size_t kl;
    const char *k = ks_iter_key(w->r.it, &kl);
    *len = kl - w->r.lo.len;
    return k + w->r.lo.len;
}

static const char *walk_member(const set_walk *w, size_t *len)
{
    size_t sl;
    const char *sub = walk_sub(w, &sl);
    *len = sl >= HASH_BYTES ? sl - HASH_BYTES : 0;
    return sub + (sl >= HASH_BYTES ? HASH_BYTES : sl);
}

static int walk_close(set_walk *w, int rc)
{
    if (w->open) {
        rc = rc ? rc : ks_iter_status(w->r.it);
        ks_range_close(&w->r);
        w->open = false;
    }
    return rc;
}

int set_range_open(keyspace *ks, int dbi, const set_ref *s, ks_range *r)
{
    return ks_range_open_members(ks, dbi, s->key, s->klen, s->m, r);
}

void set_range_member(const ks_range *r, const char *k, size_t kl, const char **p, size_t *len)
{
    size_t skip = r->lo.len + HASH_BYTES;
    *p = k + (kl >= skip ? skip : kl);
    *len = kl >= skip ? kl - skip : 0;
}

/* ---- members named by a command, in engine order ---- */

typedef struct named {
    const char *const *p;
    const size_t *len;
    uint64_t *hash;
    size_t *order; /* indexes into p by (hash, bytes) */
} named;

static const named *cmp_ctx; /* qsort has no context argument in C11 */

static int named_cmp(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const named *nm = cmp_ctx;
    if (nm->hash[i] != nm->hash[j])
        return nm->hash[i] < nm->hash[j] ? -1 : 1;
    return sub_cmp(nm->p[i], nm->len[i], nm->p[j], nm->len[j]);
}

static int named_sort(named *nm, const char *const *p, const size_t *len, size_t n)
{
    nm->p = p;
    nm->len = len;
    nm->hash = malloc((n ? n : 1) * sizeof *nm->hash);
    nm->order = malloc((n ? n : 1) * sizeof *nm->order);
    if (!nm->hash || !nm->order)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        nm->hash[i] = member_hash(p[i], len[i]);
        nm->order[i] = i;
    }
    cmp_ctx = nm;
    qsort(nm->order, n, sizeof *nm->order, named_cmp);
    return 0;
}

/* Whether the k-th member in engine order repeats the one before it. */
static bool named_repeat(const named *nm, size_t k)
{
    if (k == 0)
        return false;
    size_t i = nm->order[k - 1], j = nm->order[k];
    return nm->hash[i] == nm->hash[j] && nm->len[i] == nm->len[j] &&
           memcmp(nm->p[i], nm->p[j], nm->len[i]) == 0;
}

static void named_free(named *nm)
{
    free(nm->hash);
    free(nm->order);
}

/* found[] for members already sorted: one walk beside them or a point read each. */
static int contains_sorted(keyspace *ks, int dbi, const set_ref *s, const named *nm, size_t n,
                           bool *found)
{
    memset(found, 0, n * sizeof *found);
    if (!s->m->type || n == 0)
        return 0;
    if (s->m->size <= WALK_PER_MEMBER * (uint64_t)n) {
        set_walk w;
        int rc = walk_open(&w, ks, dbi, s);
        for (size_t k = 0; rc == 0 && k < n; k++) {
            size_t i = nm->order[k];
            unsigned char target[HASH_BYTES];
            for (int b = 0; b < HASH_BYTES; b++)
                target[b] = (unsigned char)(nm->hash[i] >> (56 - 8 * b));
            int c = 1;
            while (walk_valid(&w)) {
                size_t sl;
                const char *sub = walk_sub(&w, &sl);
                c = memcmp(sub, target, sl < HASH_BYTES ? sl : HASH_BYTES);
                if (c == 0 && sl >= HASH_BYTES)
                    c = sub_cmp(sub + HASH_BYTES, sl - HASH_BYTES, nm->p[i], nm->len[i]);
                if (c >= 0)
                    break;
                ks_iter_next(w.r.it);
            }
            found[i] = walk_valid(&w) && c == 0;
        }
        return walk_close(&w, rc);
    }
    set_keys sk;
    int rc = keys_open(&sk, ks, dbi, s, s->m->version);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        size_t i = nm->order[k];
        if (named_repeat(nm, k)) {
            found[i] = found[nm->order[k - 1]];
            continue;
        }
        rc = probe(ks, &sk, nm->hash[i], nm->p[i], nm->len[i]);
        found[i] = rc == 0;
        rc = rc == SHALE_ENOTFOUND ? 0 : rc;
    }
    keys_free(&sk);
    return rc;
}

int set_contains(keyspace *ks, int dbi, const set_ref *s, const char *const *members,
                 const size_t *lens, size_t n, bool *found)
{
    named nm;
    int rc = named_sort(&nm, members, lens, n);
    rc = rc ? rc : contains_sorted(ks, dbi, s, &nm, n, found);
    named_free(&nm);
    return rc;
}

/* ---- whole-set reads ---- */

int set_members(keyspace *ks, int dbi, const set_ref *s, set_emit_fn emit, void *ctx)
{
    if (!s->m->type)
        return 0;
    set_walk w;
    int rc = walk_open(&w, ks, dbi, s);
    for (; rc == 0 && walk_valid(&w); ks_iter_next(w.r.it)) {
        size_t len;
        const char *p = walk_member(&w, &len);
        rc = emit(ctx, p, len);
    }
    return walk_close(&w, rc);
}

static bool same_key(const set_ref *a, const set_ref *b)
{
    return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0;
}

int set_inter(keyspace *ks, int dbi, const set_ref *sets, size_t n, uint64_t limit,
              set_emit_fn emit, void *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (!sets[i].m->type)
            return 0; /* with an empty set */
    size_t small = 0;
    for (size_t i = 1; i < n; i++)
        if (sets[i].m->size < sets[small].m->size)
            small = i;
    set_keys *probes = calloc(n, sizeof *probes);
    if (!probes)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = keys_open(&probes[i], ks, dbi, &sets[i], sets[i].m->version);
    set_walk w = {0};
    rc = rc ? rc : walk_open(&w, ks, dbi, &sets[small]);
    uint64_t found = 0;
    for (; rc == 0 && walk_valid(&w) && (!limit || found < limit); ks_iter_next(w.r.it)) {
        size_t len;
        const char *p = walk_member(&w, &len);
        uint64_t h = member_hash(p, len);
        bool all = true;
        for (size_t j = 0; j < n && all && rc == 0; j++) {
            if (j == small || same_key(&sets[j], &sets[small]))
                continue;
            rc = probe(ks, &probes[j], h, p, len);
            all = rc == 0;
            rc = rc == SHALE_ENOTFOUND ? 0 : rc;
        }
        if (rc == 0 && all) {
            found++;
            rc = emit(ctx, p, len);
        }
    }
    rc = walk_close(&w, rc);
    for (size_t i = 0; i < n; i++)
        keys_free(&probes[i]);
    free(probes);
    return rc;
}

/* Opens a walk over each present set; walks[i].open tells which. */
static int walks_open(keyspace *ks, int dbi, const set_ref *sets, size_t n, set_walk **out)
{
    set_walk *w = calloc(n ? n : 1, sizeof *w);
    *out = w;
    if (!w)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (sets[i].m->type)
            rc = walk_open(&w[i], ks, dbi, &sets[i]);
    return rc;
}

static int walks_close(set_walk *w, size_t n, int rc)
{
    for (size_t i = 0; w && i < n; i++)
        rc = walk_close(&w[i], rc);
    free(w);
    return rc;
}

int set_union(keyspace *ks, int dbi, const set_ref *sets, size_t n, set_emit_fn emit, void *ctx)
{
    set_walk *w;
    int rc = walks_open(ks, dbi, sets, n, &w);
    while (rc == 0) {
        /* the least member among the walks' current ones goes out once */
        const char *min = NULL;
        size_t minlen = 0, at = 0;
        for (size_t i = 0; i < n; i++) {
            if (!w[i].open || !walk_valid(&w[i]))
                continue;
            size_t sl;
            const char *sub = walk_sub(&w[i], &sl);
            if (!min || sub_cmp(sub, sl, min, minlen) < 0) {
                min = sub;
                minlen = sl;
                at = i;
            }
        }
        if (!min)
            break;
        size_t len;
        const char *p = walk_member(&w[at], &len);
        rc = emit(ctx, p, len);
        /* every walk on that member moves on; the one that gave it last (min points
           into its key) */
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i == at || !w[i].open || !walk_valid(&w[i]))
                continue;
            size_t sl;
            const char *sub = walk_sub(&w[i], &sl);
            if (sub_cmp(sub, sl, min, minlen) == 0)
                ks_iter_next(w[i].r.it);
        }
        ks_iter_next(w[at].r.it);
    }
    return walks_close(w, n, rc);
}

/* Whether walk w (positioned at or before sub) holds sub: moves it up to sub. */
static bool walk_holds(set_walk *w, const char *sub, size_t sl)
{
    while (walk_valid(w)) {
        size_t l;
        const char *cur = walk_sub(w, &l);
        int c = sub_cmp(cur, l, sub, sl);
        if (c == 0)
            return true;
        if (c > 0)
            return false;
        ks_iter_next(w->r.it);
    }
    return false;
}

int set_diff(keyspace *ks, int dbi, const set_ref *sets, size_t n, set_emit_fn emit, void *ctx)
{
    if (!sets[0].m->type)
        return 0;
    uint64_t others = 0, probes = 0;
    for (size_t i = 1; i < n; i++) {
        if (same_key(&sets[i], &sets[0]))
            return 0; /* minus itself */
        if (sets[i].m->type) {
            others += sets[i].m->size;
            probes += sets[0].m->size;
        }
    }
    /* a point read per member per other set, or walks over every set */
    bool walk = probes > 4 * (sets[0].m->size + others);
    set_walk *w;
    int rc = walks_open(ks, dbi, sets, walk ? n : 1, &w);
    set_keys *pk = walk ? NULL : calloc(n, sizeof *pk);
    if (!walk && !pk)
        rc = rc ? rc : -ENOMEM;
    for (size_t i = 1; !walk && pk && i < n && rc == 0; i++)
        if (sets[i].m->type)
            rc = keys_open(&pk[i], ks, dbi, &sets[i], sets[i].m->version);
    for (; rc == 0 && walk_valid(&w[0]); ks_iter_next(w[0].r.it)) {
        size_t sl, len;
        const char *sub = walk_sub(&w[0], &sl);
        const char *p = walk_member(&w[0], &len);
        uint64_t h = member_hash(p, len);
        bool elsewhere = false;
        for (size_t j = 1; j < n && !elsewhere && rc == 0; j++) {
            if (!sets[j].m->type)
                continue;
            if (walk) {
                elsewhere = walk_holds(&w[j], sub, sl);
            } else {
                rc = probe(ks, &pk[j], h, p, len);
                elsewhere = rc == 0;
                rc = rc == SHALE_ENOTFOUND ? 0 : rc;
            }
        }
        if (rc == 0 && !elsewhere)
            rc = emit(ctx, p, len);
    }
    for (size_t i = 0; pk && i < n; i++)
        keys_free(&pk[i]);
    free(pk);
    return walks_close(w, walk ? n : 1, rc);
}

/* ---- random picks ---- */

static uint64_t rng_state;
static bool rng_seeded;

void set_random_seed(uint64_t seed)
{
    rng_state = seed;
    rng_seeded = true;
}

/* splitmix64: 64 good bits per call. */
static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        uint64_t s = 0;
        if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
            s = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
        set_random_seed(s);
    }
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A uniform number below n (n > 0). */
static uint64_t rng_below(uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;
    do
        r = rng_next();
    while (r >= limit);
    return r % n;
}

/* Steps w on one member, back to the first after the last; false when the set is empty. */
static bool walk_step_wrap(set_walk *w)
{
    ks_iter_next(w->r.it);
    if (!walk_valid(w) && ks_iter_status(w->r.it) == 0)
        ks_iter_seek_to_first(w->r.it);
    return walk_valid(w);
}

/*
 * Positions w at a random member of a set of `size`: the first member at or after a
 * random hash (wrapping), then j members on, j uniform below min(size, SET_PICK_WALK).
 * The seek alone picks a member with the probability of the hash gap before it; walking
 * j on averages that over j consecutive gaps, so with size <= SET_PICK_WALK every member
 * is picked with probability exactly 1/size, and above it each member's probability is
 * the mean of SET_PICK_WALK gaps (relative spread about 1/4: Redis's fair random key is
 * of the same kind, a pick among about 15 neighbours of a random bucket). A longer walk
 * would spread less, but each step also passes the deleted members between two live
 * ones, which SPOP leaves behind in numbers. Returns 1, 0 when the set turns out empty,
 * or an error.
 */
static int pick_one(set_walk *w, uint64_t size, uint64_t walk)
{
    ks_key at;
    ks_key_init(&at);
    int rc = ks_key_append(&at, w->r.lo.p, w->r.lo.len);
    rc = rc ? rc : ks_key_be64(&at, rng_next());
    if (rc) {
        ks_key_free(&at);
        return rc;
    }
    ks_iter_seek(w->r.it, at.p, at.len);
    ks_key_free(&at);
    if (!walk_valid(w) && ks_iter_status(w->r.it) == 0)
        ks_iter_seek_to_first(w->r.it);
    uint64_t steps = rng_below(size < walk ? (size ? size : 1) : walk);
    bool ok = walk_valid(w);
    for (uint64_t i = 0; ok && i < steps; i++)
        ok = walk_step_wrap(w);
    rc = ks_iter_status(w->r.it);
    return rc ? rc : ok;
}

/* A small open-addressing set of members already drawn (by their list index). */
typedef struct drawn {
    size_t *slot; /* list index + 1, 0 empty */
    size_t cap;
} drawn;

static int drawn_init(drawn *d, size_t want)
{
    d->cap = 16;
    while (d->cap < want * 2)
        d->cap *= 2;
    d->slot = calloc(d->cap, sizeof *d->slot);
    return d->slot ? 0 : -ENOMEM;
}

/* Whether l's members in d include (p, len); *slot: where it is or would go. */
static bool drawn_has(const drawn *d, const set_list *l, const char *p, size_t len, size_t *slot)
{
    size_t i = (size_t)member_hash(p, len) & (d->cap - 1);
    for (; d->slot[i]; i = (i + 1) & (d->cap - 1)) {
        size_t ol;
        const char *o = set_list_at(l, d->slot[i] - 1, &ol);
        if (ol == len && memcmp(o, p, len) == 0)
            break;
    }
    *slot = i;
    return d->slot[i] != 0;
}

/* Adds l's member i unless l held it already: true when new. */
static bool drawn_add(drawn *d, const set_list *l, size_t i)
{
    size_t len, slot;
    const char *p = set_list_at(l, i, &len);
    if (drawn_has(d, l, p, len, &slot))
        return false;
    d->slot[slot] = i + 1;
    return true;
}

/* count picks, distinct or not, by seeks (the set is much larger than count). */
static int pick_many(keyspace *ks, int dbi, const set_ref *s, uint64_t count, bool distinct,
                     uint64_t walk, set_list *out)
{
    set_walk w;
    drawn d = {0};
    int rc = walk_open_for_picks(&w, ks, dbi, s);
    if (rc == 0 && distinct)
        rc = drawn_init(&d, count);
    uint64_t tries = count * PICK_TRIES;
    for (uint64_t got = 0; rc == 0 && got < count && tries > 0; tries--) {
        rc = pick_one(&w, s->m->size, walk);
        if (rc <= 0)
            break;
        size_t len;
        const char *p = walk_member(&w, &len);
        rc = set_list_push(out, p, len);
        if (rc == 0 && distinct && !drawn_add(&d, out, out->n - 1)) {
            out->n--; /* drawn before: taken back */
            out->len = out->off[out->n];
            continue;
        }
        got++;
    }
    free(d.slot);
    return walk_close(&w, rc < 0 ? rc : 0);
}

/* count picks from the whole set read into memory: exact. */
static int pick_from_all(keyspace *ks, int dbi, const set_ref *s, uint64_t count, bool distinct,
                         set_list *out)
{
    set_list all = {0};
    size_t *idx = NULL;
    int rc = set_members(ks, dbi, s, set_list_emit, &all);
    if (rc == 0 && all.n && distinct) {
        /* a partial Fisher-Yates shuffle of the indexes */
        idx = malloc(all.n * sizeof *idx);
        rc = idx ? 0 : -ENOMEM;
        for (size_t i = 0; idx && i < all.n; i++)
            idx[i] = i;
    }
    for (uint64_t j = 0; rc == 0 && all.n && j < count && (!distinct || j < all.n); j++) {
        size_t i = (size_t)rng_below(all.n);
        if (distinct) {
            size_t pick = (size_t)j + (size_t)rng_below(all.n - (size_t)j);
            size_t t = idx[j];
            idx[j] = idx[pick];
            idx[pick] = t;
            i = idx[j];
        }
        size_t len;
        const char *p = set_list_at(&all, i, &len);
        rc = set_list_push(out, p, len);
    }
    free(idx);
    set_list_free(&all);
    return rc;
}

/* set_random with picks that walk up to `walk` members past their seek. */
static int random_members(keyspace *ks, int dbi, const set_ref *s, long long count,
                          uint64_t walk, set_list *out)
{
    uint64_t size = s->m->type ? s->m->size : 0;
    if (size == 0 || count == 0)
        return 0;
    bool distinct = count > 0;
    uint64_t n = distinct ? (uint64_t)count : (uint64_t)(-(count + 1)) + 1;
    if (distinct && n >= size) {
        /* the whole set, as Redis replies it (an intset in integer order) */
        int rc = set_members(ks, dbi, s, set_list_emit, out);
        return rc ? rc : set_list_intset_order(out);
    }
    if (n > 1 && size / PICK_COST <= n)
        return pick_from_all(ks, dbi, s, n, distinct, out);
    return pick_many(ks, dbi, s, n, distinct, walk, out);
}

int set_random(keyspace *ks, int dbi, const set_ref *s, long long count, set_list *out)
{
    return random_members(ks, dbi, s, count, SET_PICK_WALK, out);
}

/* ---- writes ---- */

/* The metadata's extra bytes: flags, deleted members. */
#define META_EXTRA (1 + 8)
static void meta_extra(unsigned char *extra, bool hashtable, uint64_t dead)
{
    extra[0] = hashtable ? SET_F_HASHTABLE : 0;
    for (int i = 0; i < 8; i++)
        extra[1 + i] = (unsigned char)(dead >> (56 - 8 * i));
}

static int put_meta(keyspace *ks, int dbi, const set_ref *s, uint64_t version, uint64_t size,
                    bool hashtable, uint64_t dead)
{
    unsigned char extra[META_EXTRA];
    meta_extra(extra, hashtable, dead);
    return ks_put_collection(ks, dbi, s->key, s->klen, s->m, KS_TYPE_SET, version, size, extra,
                             sizeof extra);
}

/*
 * Writes set s's new version of its live members: those of its current version not in
 * gone (deleted by this very command: the reads do not see its batch). The old
 * version's members, live and deleted, are left to compaction; the set's range has no
 * deleted member between two live ones any more. Returns 0 or an error.
 */
static int rewrite(keyspace *ks, int dbi, const set_ref *s, const set_list *gone, size_t from)
{
    drawn d = {0};
    int rc = drawn_init(&d, gone->n - from);
    for (size_t i = from; rc == 0 && i < gone->n; i++)
        drawn_add(&d, gone, i);
    uint64_t version = ks_new_version(ks), n = 0;
    set_keys sk = {0};
    set_walk w = {0};
    rc = rc ? rc : keys_open(&sk, ks, dbi, s, version);
    rc = rc ? rc : walk_open(&w, ks, dbi, s);
    for (; rc == 0 && walk_valid(&w); ks_iter_next(w.r.it)) {
        size_t len, slot;
        const char *p = walk_member(&w, &len);
        if (drawn_has(&d, gone, p, len, &slot))
            continue;
        rc = keys_member(&sk, member_hash(p, len), p, len);
        rc = rc ? rc : ks_put_raw(ks, &sk.k, "", 0);
        n++;
    }
    rc = walk_close(&w, rc);
    rc = rc ? rc : put_meta(ks, dbi, s, version, n, meta_hashtable(s->m), 0);
    keys_free(&sk);
    free(d.slot);
    return rc;
}

/*
 * The metadata after gone[from..] were deleted from set s (their dels are in the batch):
 * the count, and the deleted members counted. When they outnumber the live ones
 * SET_REWRITE_RATIO times over in a set of at most SET_REWRITE_MAX members, the live ones
 * are written anew instead: every step of a random pick passes the deleted members
 * between two live ones (until compaction drops them, and those still in the memtable
 * stay until it is flushed), so a set that SPOP empties would cost more per pop as it
 * shrinks, without bound. A rewrite reads the old range once and writes at most
 * SET_REWRITE_MAX members, after at least SET_REWRITE_RATIO times as many deletions.
 */
static int after_removal(keyspace *ks, int dbi, const set_ref *s, const set_list *gone, size_t from)
{
    uint64_t removed = gone->n - from, size = s->m->size - removed;
    uint64_t dead = meta_dead(s->m) + removed;
    if (size > 0 && size <= SET_REWRITE_MAX && dead >= SET_REWRITE_RATIO * size)
        return rewrite(ks, dbi, s, gone, from);
    return put_meta(ks, dbi, s, s->m->version, size, meta_hashtable(s->m), dead);
}

int set_add(keyspace *ks, int dbi, const set_ref *s, const char *const *members, const size_t *lens,
            size_t n, uint64_t *added)
{
    *added = 0;
    bool exists = s->m->type != 0;
    uint64_t version = exists ? s->m->version : ks_new_version(ks);
    uint64_t size = exists ? s->m->size : 0;
    bool hashtable = exists && meta_hashtable(s->m);
    named nm;
    bool *found = calloc(n ? n : 1, sizeof *found);
    int rc = named_sort(&nm, members, lens, n);
    rc = rc ? rc : !found ? -ENOMEM : 0;
    rc = rc ? rc : contains_sorted(ks, dbi, s, &nm, n, found);
    set_keys sk = {0};
    rc = rc ? rc : keys_open(&sk, ks, dbi, s, version);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        size_t i = nm.order[k];
        if (found[i] || named_repeat(&nm, k))
            continue;
        rc = keys_member(&sk, nm.hash[i], members[i], lens[i]);
        rc = rc ? rc : ks_put_raw(ks, &sk.k, "", 0);
        hashtable = hashtable || !set_member_is_int(members[i], lens[i]);
        (*added)++;
    }
    if (rc == 0 && *added)
        rc = put_meta(ks, dbi, s, version, size + *added,
                      hashtable || size + *added > SET_INTSET_MAX, exists ? meta_dead(s->m) : 0);
    keys_free(&sk);
    named_free(&nm);
    free(found);
    return rc;
}

int set_remove(keyspace *ks, int dbi, const set_ref *s, const char *const *members,
               const size_t *lens, size_t n, uint64_t *removed)
{
    *removed = 0;
    if (!s->m->type)
        return 0;
    named nm;
    set_list gone = {0};
    bool *found = calloc(n ? n : 1, sizeof *found);
    int rc = named_sort(&nm, members, lens, n);
    rc = rc ? rc : !found ? -ENOMEM : 0;
    rc = rc ? rc : contains_sorted(ks, dbi, s, &nm, n, found);
    set_keys sk = {0};
    rc = rc ? rc : keys_open(&sk, ks, dbi, s, s->m->version);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        size_t i = nm.order[k];
        if (!found[i] || named_repeat(&nm, k))
            continue;
        rc = keys_member(&sk, nm.hash[i], members[i], lens[i]);
        rc = rc ? rc : ks_del_raw(ks, &sk.k);
        rc = rc ? rc : set_list_push(&gone, members[i], lens[i]);
    }
    *removed = gone.n;
    if (rc == 0 && gone.n)
        rc = after_removal(ks, dbi, s, &gone, 0);
    keys_free(&sk);
    named_free(&nm);
    set_list_free(&gone);
    free(found);
    return rc;
}

int set_pop(keyspace *ks, int dbi, const set_ref *s, uint64_t count, set_list *out)
{
    if (!s->m->type || count == 0)
        return 0;
    if (count >= s->m->size) {
        /* the whole set: its key goes, its members are left to compaction */
        int rc = set_members(ks, dbi, s, set_list_emit, out);
        rc = rc ? rc : set_list_intset_order(out);
        return rc ? rc : ks_del_key(ks, dbi, s->key, s->klen, s->m);
    }
    size_t from = out->n;
    int rc = random_members(ks, dbi, s, (long long)count, SET_POP_WALK, out);
    set_keys sk = {0};
    rc = rc ? rc : keys_open(&sk, ks, dbi, s, s->m->version);
    for (size_t i = from; rc == 0 && i < out->n; i++) {
        size_t len;
        const char *p = set_list_at(out, i, &len);
        rc = keys_member(&sk, member_hash(p, len), p, len);
        rc = rc ? rc : ks_del_raw(ks, &sk.k);
    }
    if (rc == 0 && out->n > from)
        rc = after_removal(ks, dbi, s, out, from);
    keys_free(&sk);
    return rc;
}

int set_move(keyspace *ks, int dbi, const set_ref *src, const set_ref *dst, const char *member,
             size_t len, int *moved)
{
    *moved = 0;
    bool in_src, in_dst = false;
    const char *const mp[1] = {member};
    int rc = set_contains(ks, dbi, src, mp, &len, 1, &in_src);
    rc = rc ? rc : in_src ? set_contains(ks, dbi, dst, mp, &len, 1, &in_dst) : 0;
    if (rc || !in_src)
        return rc;
    uint64_t h = member_hash(member, len);
    set_keys sk;
    set_list gone = {0};
    rc = keys_open(&sk, ks, dbi, src, src->m->version);
    rc = rc ? rc : keys_member(&sk, h, member, len);
    rc = rc ? rc : ks_del_raw(ks, &sk.k);
    keys_free(&sk);
    rc = rc ? rc : set_list_push(&gone, member, len);
    rc = rc ? rc : after_removal(ks, dbi, src, &gone, 0);
    set_list_free(&gone);
    if (rc == 0 && !in_dst) {
        bool exists = dst->m->type != 0;
        uint64_t version = exists ? dst->m->version : ks_new_version(ks);
        uint64_t size = (exists ? dst->m->size : 0) + 1;
        bool hashtable = (exists && meta_hashtable(dst->m)) || !set_member_is_int(member, len) ||
                         size > SET_INTSET_MAX;
        rc = keys_open(&sk, ks, dbi, dst, version);
        rc = rc ? rc : keys_member(&sk, h, member, len);
        rc = rc ? rc : ks_put_raw(ks, &sk.k, "", 0);
        keys_free(&sk);
        rc = rc ? rc
                : put_meta(ks, dbi, dst, version, size, hashtable, exists ? meta_dead(dst->m) : 0);
    }
    *moved = rc == 0;
    return rc;
}

/* ---- STORE ---- */

int set_writer_begin(set_writer *w, keyspace *ks, int dbi, const set_ref *dst)
{
    memset(w, 0, sizeof *w);
    w->ks = ks;
    w->dbi = dbi;
    w->dst = *dst;
    w->version = ks_new_version(ks);
    int rc = ks_field_key(ks, dbi, dst->key, dst->klen, w->version, NULL, 0, &w->k);
    w->plen = w->k.len;
    return rc;
}

int set_writer_emit(void *ctx, const char *p, size_t len)
{
    set_writer *w = ctx;
    w->k.len = w->plen;
    int rc = ks_key_be64(&w->k, member_hash(p, len));
    rc = rc ? rc : ks_key_append(&w->k, p, len);
    rc = rc ? rc : ks_put_raw(w->ks, &w->k, "", 0);
    w->hashtable = w->hashtable || !set_member_is_int(p, len);
    w->n++;
    return rc;
}

int set_writer_end(set_writer *w, int rc, uint64_t *n)
{
    *n = w->n;
    const set_ref *d = &w->dst;
    /* the old value goes whatever it was (and its TTL with it), then the new set is
       written as a new key */
    rc = rc ? rc : ks_del_key(w->ks, w->dbi, d->key, d->klen, d->m);
    if (rc == 0 && w->n) {
        ks_meta none = {0};
        unsigned char extra[META_EXTRA];
        meta_extra(extra, w->hashtable || w->n > SET_INTSET_MAX, 0);
        rc = ks_put_collection_expiring(w->ks, w->dbi, d->key, d->klen, &none, KS_TYPE_SET,
                                        w->version, w->n, extra, sizeof extra, w->expire_at_ms);
    }
    ks_key_free(&w->k);
    return rc;
}

/* ---- whole values (DUMP, RESTORE) ---- */

static int emit_item(void *ctx, const char *p, size_t len)
{
    return rdb_value_add(ctx, p, len);
}

int set_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
             rdb_value *v)
{
    rdb_value_init(v, KS_TYPE_SET);
    v->enc = meta_hashtable(m) ? RDB_ENC_BIG : RDB_ENC_COMPACT;
    set_ref s = {.key = key, .klen = klen, .m = m};
    return set_members(ks, dbi, &s, emit_item, v);
}

int set_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
              const rdb_value *v, uint64_t expire_at_ms)
{
    set_ref dst = {.key = key, .klen = klen, .m = old};
    set_writer w;
    int rc = set_writer_begin(&w, ks, dbi, &dst);
    w.expire_at_ms = expire_at_ms;
    for (size_t i = 0; rc == 0 && i < v->n; i++) {
        size_t n;
        const char *p = rdb_value_item(v, i, &n);
        rc = set_writer_emit(&w, p, n);
    }
    uint64_t n;
    return set_writer_end(&w, rc, &n);
}

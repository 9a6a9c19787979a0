/*
 * blocking.c - clients blocked on keys (see blocking.h for what it promises): a hash of
 * the waited-on (database, key)s, each with its FIFO of waiters; the queue of keys a
 * write made ready; per event loop, a heap of timeouts and the unblocks asked for its
 * clients; and the runs of a waiter's command for a ready key.
 */
#include "blocking.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "keyspace.h"
#include "multi.h"
#include "notify.h"
#include "repl_primary.h"
#include "tracking.h"

#define UNBLOCKED_ERR "UNBLOCKED client unblocked via CLIENT UNBLOCK"

typedef struct bkey bkey;
typedef struct blocked blocked;
typedef struct blocking blocking;

/* One client in one key's queue. */
typedef struct waiter {
    bkey *key;
    blocked *b;
    struct waiter *prev, *next;
} waiter;

/* A (database, key) some client waits on; freed when none does and it is not queued. */
struct bkey {
    int db;
    uint64_t hash;
    bkey *chain;          /* the next key of its hash bucket */
    waiter *first, *last; /* oldest first */
    bool ready;           /* in the ready queue */
    int handed_to;        /* the loop that serves it next (-1: whichever looks first) */
    bkey *ready_next;
    size_t len;
    char name[];
};

enum { UNBLOCK_NONE, UNBLOCK_TIMEOUT, UNBLOCK_ERROR };

/* A blocked client's state (c->blocked). */
struct blocked {
    client *c;
    int type;   /* KS_TYPE_LIST or KS_TYPE_ZSET */
    int loop;   /* its client's event loop */
    uint64_t deadline_ms;
    size_t heap_at; /* its place in its loop's timeout heap, SIZE_MAX when not there */
    command_fn fn;
    resp_arg *argv; /* the command, copied (the bytes follow the array) */
    int argc;
    waiter *waiters; /* one per distinct key */
    int nwaiters;
    const bkey *serving; /* set while its command runs again for this ready key */
    bool stay;           /* that run found nothing to pop */
    int unblock;         /* CLIENT UNBLOCK asked for this reply; out of every queue */
    blocked *pending_next;
    /* WAIT: no keys; served when wait_n replicas acknowledged wait_seq */
    bool is_wait;   /* a WAIT */
    bool wait_acks; /* in its loop's list of WAITs */
    uint64_t wait_seq;
    long long wait_n;
    blocked *wait_prev, *wait_next; /* its loop's WAITs */
};

/* One event loop's share. */
typedef struct bloop {
    blocked **heap; /* timeouts, earliest first */
    size_t n, cap;
    uint64_t next_deadline; /* heap[0]'s (atomic; 0: none) */
    int work;               /* atomic: keys were handed to it, or unblocks are pending */
    blocked *pending;       /* unblocks of its clients, asked from any loop */
    blocked *waits;         /* its clients in WAIT */
    int nwaits;             /* how many (atomic: blocking_acks_changed reads it) */
} bloop;

struct blocking {
    server *s;
    bkey **buckets;
    size_t nbuckets, nkeys;
    bkey *ready_head, *ready_tail;
    long long nblocked; /* not counting those whose unblock is pending */
    bool serving;       /* serve_ready is running (a run it makes never nests another) */
    int nloops;
    bloop loops[];
};

/* ---- waited-on keys ---- */

static uint64_t key_hash(int db, const void *p, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)db;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

static bkey *key_find(blocking *bk, int db, const void *p, size_t n)
{
    if (!bk->nbuckets)
        return NULL;
    uint64_t h = key_hash(db, p, n);
    for (bkey *k = bk->buckets[h % bk->nbuckets]; k; k = k->chain)
        if (k->hash == h && k->db == db && k->len == n && memcmp(k->name, p, n) == 0)
            return k;
    return NULL;
}

/* Doubles the buckets (when there are more keys than buckets). */
static int grow(blocking *bk)
{
    size_t n = bk->nbuckets ? bk->nbuckets * 2 : 64;
    bkey **b = calloc(n, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < bk->nbuckets; i++)
        while (bk->buckets[i]) {
            bkey *k = bk->buckets[i];
            bk->buckets[i] = k->chain;
            k->chain = b[k->hash % n];
            b[k->hash % n] = k;
        }
    free(bk->buckets);
    bk->buckets = b;
    bk->nbuckets = n;
    return 0;
}

static bkey *key_add(blocking *bk, int db, const void *p, size_t n)
{
    bkey *k = key_find(bk, db, p, n);
    if (k)
        return k;
    if (bk->nkeys >= bk->nbuckets && grow(bk))
        return NULL;
    k = calloc(1, sizeof *k + n);
    if (!k)
        return NULL;
    k->db = db;
    k->hash = key_hash(db, p, n);
    k->len = n;
    k->handed_to = -1;
    memcpy(k->name, p, n);
    k->chain = bk->buckets[k->hash % bk->nbuckets];
    bk->buckets[k->hash % bk->nbuckets] = k;
    bk->nkeys++;
    return k;
}

static void key_maybe_free(blocking *bk, bkey *k)
{
    if (k->first || k->ready)
        return;
    bkey **at = &bk->buckets[k->hash % bk->nbuckets];
    while (*at != k)
        at = &(*at)->chain;
    *at = k->chain;
    bk->nkeys--;
    free(k);
}

static void ready_push(blocking *bk, bkey *k)
{
    if (k->ready)
        return;
    k->ready = true;
    k->handed_to = -1;
    k->ready_next = NULL;
    if (bk->ready_tail)
        bk->ready_tail->ready_next = k;
    else
        bk->ready_head = k;
    bk->ready_tail = k;
}

/* The key layer's listener: (dbi, key) may now be a non-empty list or sorted set; key
   NULL: any key of dbi (SWAPDB). Only keys someone waits on are queued. */
static void on_ready(void *ctx, int dbi, const void *key, size_t klen)
{
    blocking *bk = ctx;
    if (!bk->nkeys)
        return;
    if (key) {
        bkey *k = key_find(bk, dbi, key, klen);
        if (k)
            ready_push(bk, k);
        return;
    }
    for (size_t i = 0; i < bk->nbuckets; i++)
        for (bkey *k = bk->buckets[i]; k; k = k->chain)
            if (k->db == dbi)
                ready_push(bk, k);
}

/* ---- the timeout heaps ---- */

static void heap_set(bloop *l, size_t i, blocked *b)
{
    l->heap[i] = b;
    b->heap_at = i;
}

static void heap_up(bloop *l, size_t i)
{
    blocked *b = l->heap[i];
    while (i > 0 && l->heap[(i - 1) / 2]->deadline_ms > b->deadline_ms) {
        heap_set(l, i, l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(l, i, b);
}

static void heap_down(bloop *l, size_t i)
{
    blocked *b = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n)
            break;
        if (c + 1 < l->n && l->heap[c + 1]->deadline_ms < l->heap[c]->deadline_ms)
            c++;
        if (l->heap[c]->deadline_ms >= b->deadline_ms)
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, b);
}

/* The loop reads it without the lock to size its wait. */
static void heap_publish(bloop *l)
{
    __atomic_store_n(&l->next_deadline, l->n ? l->heap[0]->deadline_ms : 0, __ATOMIC_RELEASE);
}

static int heap_push(bloop *l, blocked *b)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        blocked **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        l->heap = h;
        l->cap = cap;
    }
    heap_set(l, l->n++, b);
    heap_up(l, l->n - 1);
    heap_publish(l);
    return 0;
}

static void heap_remove(bloop *l, blocked *b)
{
    size_t i = b->heap_at;
    if (i == SIZE_MAX)
        return;
    b->heap_at = SIZE_MAX;
    blocked *last = l->heap[--l->n];
    if (i < l->n) {
        heap_set(l, i, last);
        heap_down(l, i);
        heap_up(l, last->heap_at);
    }
    heap_publish(l);
}

/* ---- WAIT's clients ---- */

static void waits_add(bloop *l, blocked *b)
{
    b->wait_prev = NULL;
    b->wait_next = l->waits;
    if (l->waits)
        l->waits->wait_prev = b;
    l->waits = b;
    __atomic_add_fetch(&l->nwaits, 1, __ATOMIC_RELEASE);
}

static void waits_remove(bloop *l, blocked *b)
{
    if (!b->wait_acks)
        return;
    b->wait_acks = false;
    if (b->wait_prev)
        b->wait_prev->wait_next = b->wait_next;
    else
        l->waits = b->wait_next;
    if (b->wait_next)
        b->wait_next->wait_prev = b->wait_prev;
    __atomic_sub_fetch(&l->nwaits, 1, __ATOMIC_RELEASE);
}

/* ---- blocked clients ---- */

/* Takes b out of its keys' queues and its loop's heap. */
static void detach(blocking *bk, blocked *b)
{
    for (int i = 0; i < b->nwaiters; i++) {
        waiter *w = &b->waiters[i];
        bkey *k = w->key;
        if (w->prev)
            w->prev->next = w->next;
        else
            k->first = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            k->last = w->prev;
        if (k->ready) /* it may be parked for this client's loop: look again */
            __atomic_store_n(&bk->loops[b->loop].work, 1, __ATOMIC_RELEASE);
        key_maybe_free(bk, k);
    }
    b->nwaiters = 0;
    heap_remove(&bk->loops[b->loop], b);
    if (b->wait_acks)
        waits_remove(&bk->loops[b->loop], b);
}

/* Ends b: c no longer waits. */
static void release(blocking *bk, blocked *b)
{
    detach(bk, b);
    if (!b->unblock)
        bk->nblocked--;
    b->c->blocked = NULL;
    /* the wait ends with a reply: an interaction, so the idle timeout (which spares a
       blocked client) counts from now, not from the blocking command's arrival */
    b->c->last_ms = ks_now_ms();
    free(b->argv);
    free(b->waiters);
    free(b);
}

/* b got its reply: it goes, and its client's commands received meanwhile run. */
static void finish(blocking *bk, blocked *b)
{
    client *c = b->c;
    release(bk, b);
    net_resume(c);
}

static int copy_args(blocked *b, const resp_cmd *cmd)
{
    size_t bytes = (size_t)cmd->argc * sizeof(resp_arg);
    for (int i = 0; i < cmd->argc; i++)
        bytes += cmd->argv[i].len;
    b->argv = malloc(bytes ? bytes : 1);
    if (!b->argv)
        return -ENOMEM;
    char *p = (char *)(b->argv + cmd->argc);
    for (int i = 0; i < cmd->argc; i++) {
        if (cmd->argv[i].len)
            memcpy(p, cmd->argv[i].p, cmd->argv[i].len);
        b->argv[i].p = p;
        b->argv[i].len = cmd->argv[i].len;
        p += cmd->argv[i].len;
    }
    b->argc = cmd->argc;
    return 0;
}

static int block_on_keys(blocking *bk, blocked *b, int db, int first, int nkeys)
{
    for (int i = first; i < first + nkeys; i++) {
        if (arg_repeats(b->argv, first, i, 1))
            continue;
        bkey *k = key_add(bk, db, b->argv[i].p, b->argv[i].len);
        if (!k)
            return -ENOMEM;
        waiter *w = &b->waiters[b->nwaiters++];
        w->key = k;
        w->b = b;
        w->next = NULL;
        w->prev = k->last;
        if (k->last)
            k->last->next = w;
        else
            k->first = w;
        k->last = w;
    }
    return 0;
}

void blocking_wait(server *s, client *c, int first, int nkeys, int type, uint64_t deadline_ms,
                   command_fn fn)
{
    blocking *bk = s->blocking;
    if (multi_deny_blocking(c)) {
        /* inside EXEC: answered as a timeout at once, BLMOVE and BRPOPLPUSH with a null
           bulk as Redis's (their timeout outside EXEC is a null array) */
        if (fn == cmd_blmove || fn == cmd_brpoplpush)
            resp_null(&c->out, c->proto);
        else
            resp_null_array(&c->out, c->proto);
        return;
    }
    if (c->blocked) { /* a run for a ready key found nothing: it waits on as it was */
        c->blocked->stay = true;
        return;
    }
    if (!bk) {
        resp_null_array(&c->out, c->proto);
        return;
    }
    blocked *b = calloc(1, sizeof *b);
    int rc = b ? 0 : -ENOMEM;
    if (rc == 0) {
        b->c = c;
        b->type = type;
        b->loop = net_loop_index(c);
        b->deadline_ms = deadline_ms;
        b->heap_at = SIZE_MAX;
        b->fn = fn;
        b->waiters = calloc((size_t)nkeys, sizeof *b->waiters);
        rc = b->waiters ? copy_args(b, &c->cmd) : -ENOMEM;
    }
    rc = rc ? rc : block_on_keys(bk, b, c->db, first, nkeys);
    rc = rc || !deadline_ms ? rc : heap_push(&bk->loops[b->loop], b);
    if (rc) {
        if (b) {
            b->unblock = UNBLOCK_TIMEOUT; /* (not counted) */
            release(bk, b);
        }
        reply_engine_error(c, rc);
        return;
    }
    c->blocked = b;
    bk->nblocked++;
}

void blocking_wait_acks(server *s, client *c, long long n, uint64_t seq, uint64_t deadline_ms)
{
    blocking *bk = s->blocking;
    blocked *b = bk ? calloc(1, sizeof *b) : NULL;
    if (!b) {
        resp_integer(&c->out, repl_count_acked(s, seq));
        return;
    }
    b->c = c;
    b->loop = net_loop_index(c);
    b->deadline_ms = deadline_ms;
    b->heap_at = SIZE_MAX;
    b->wait_seq = seq;
    b->wait_n = n;
    if (deadline_ms && heap_push(&bk->loops[b->loop], b)) {
        free(b);
        resp_integer(&c->out, repl_count_acked(s, seq));
        return;
    }
    b->is_wait = b->wait_acks = true;
    waits_add(&bk->loops[b->loop], b);
    c->blocked = b;
    bk->nblocked++;
    /* An ack read after WAIT counted but before waits_add saw no waiter and woke nobody:
       count once more after the command (blocking_after_command). The fence pairs with
       blocking_acks_changed's: either it sees this waiter, or this count sees its ack. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&bk->loops[b->loop].work, 1, __ATOMIC_RELEASE);
}

void blocking_acks_changed(server *s)
{
    blocking *bk = s->blocking;
    if (!bk)
        return;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* (the ack stored before; blocking_wait_acks) */
    for (int i = 0; i < bk->nloops; i++) {
        if (!__atomic_load_n(&bk->loops[i].nwaits, __ATOMIC_ACQUIRE))
            continue;
        __atomic_store_n(&bk->loops[i].work, 1, __ATOMIC_RELEASE);
        net_wake_loop(s, i);
    }
}

bool blocking_may_serve(const client *c, const resp_arg *key)
{
    const bkey *k = c->blocked ? c->blocked->serving : NULL;
    return !k || (k->len == key->len && memcmp(k->name, key->p, key->len) == 0);
}

bool blocking_parse_timeout(client *c, const resp_arg *a, uint64_t *deadline_ms)
{
    long double v;
    if (!parse_ld(a->p, a->len, &v)) {
        resp_error(&c->out, "ERR timeout is not a float or out of range");
        return false;
    }
    /* Redis: (long long)ceill(v * 1000): a value past the range of a long long (inf
       too) converts to LLONG_MIN on x86-64, so it is "negative" */
    long double ms = ceill(v * 1000.0L);
    long long t = ms >= -9223372036854775808.0L && ms < 9223372036854775808.0L ? (long long)ms
                                                                                : LLONG_MIN;
    if (t < 0) {
        resp_error(&c->out, "ERR timeout is negative");
        return false;
    }
    *deadline_ms = t ? ks_now_ms() + (uint64_t)t : 0;
    return true;
}

/* ---- serving ready keys ---- */

/* The type a waited-on key holds now (0: none, or unreadable: nobody is served). */
static int key_type(blocking *bk, const bkey *k)
{
    ks_meta m;
    int rc = ks_read(&bk->s->ks, k->db, k->name, k->len, &m);
    int type = rc ? 0 : m.type;
    ks_meta_free(&m);
    return type;
}

/* Runs b's command again for ready key k; true when it replied (popped, or an error),
   false when it found nothing and waits on. */
static bool rerun(blocking *bk, blocked *b, const bkey *k)
{
    client *c = b->c;
    net_join_round(c); /* before the reply: it is held until the pop is durable */
    resp_arg *argv = c->cmd.argv;
    int argc = c->cmd.argc;
    c->cmd.argv = b->argv;
    c->cmd.argc = b->argc;
    b->serving = k;
    b->stay = false;
    size_t from = c->out.len;
    notify_mark(bk->s);
    tracking_call_begin(bk->s, c); /* its invalidations after its reply, as Redis's */
    b->fn(bk->s, c);
    notify_flush(bk->s); /* what its reads told (an expiry reaped) */
    tracking_call_end(bk->s, c, NULL);
    b->serving = NULL;
    c->cmd.argv = argv;
    c->cmd.argc = argc;
    if (b->stay)
        return false;
    if (c->out.len > from && c->out.data[from] == '-')
        cmdstats_error_reply(&bk->s->cmds, c->out.data + from + 1, c->out.len - from - 1);
    return true;
}

static void hand_to(blocking *bk, bkey *k, int loop)
{
    k->handed_to = loop;
    __atomic_store_n(&bk->loops[loop].work, 1, __ATOMIC_RELEASE);
    net_wake_loop(bk->s, loop);
}

/*
 * Serves k's waiters in order, from loop `me`: true when k stays queued (handed to the
 * loop of the next waiter, or parked for a waiter of this loop whose earlier replies are
 * held), false when it is done (no waiter can pop: the key is empty or of another type).
 */
static bool serve_key(blocking *bk, bkey *k, int me)
{
    int type = -1; /* read when first needed */
    waiter *w = k->first;
    while (w) {
        blocked *b = w->b;
        waiter *next = w->next; /* (b's run and release take only b's waiters out) */
        if (b->loop != me) {
            hand_to(bk, k, b->loop);
            return true;
        }
        if (b->c->closed || b->c->killed || b->c->close_after_reply) { /* going */
            release(bk, b);
            w = next;
            continue;
        }
        if (type < 0)
            type = key_type(bk, k);
        if (b->type != type) { /* a list waiter on a sorted set, or the reverse */
            w = next;
            continue;
        }
        if (b->c->held) {
            k->handed_to = me; /* blocking_retry looks again once it is released */
            return true;
        }
        if (!rerun(bk, b, k))
            return false;
        finish(bk, b);
        w = next;
    }
    return false;
}

/* Serves the ready queue: the keys not handed to another loop; a waiter's push (BLMOVE)
   queues its destination, which is served in the same pass. */
static void serve_ready(blocking *bk, int me)
{
    if (bk->serving)
        return;
    bk->serving = true;
    bkey *keep = NULL, *keep_tail = NULL;
    while (bk->ready_head) {
        bkey *k = bk->ready_head;
        bk->ready_head = k->ready_next;
        if (!bk->ready_head)
            bk->ready_tail = NULL;
        k->ready_next = NULL;
        if ((k->handed_to < 0 || k->handed_to == me) && !serve_key(bk, k, me)) {
            k->ready = false;
            k->handed_to = -1;
            key_maybe_free(bk, k);
            continue;
        }
        if (keep_tail)
            keep_tail->ready_next = k;
        else
            keep = k;
        keep_tail = k;
    }
    bk->ready_head = keep;
    bk->ready_tail = keep_tail;
    bk->serving = false;
}

/* The reply to a wait that timed out: a null array, WAIT's count of replicas. */
static void reply_timeout(blocking *bk, blocked *b)
{
    if (b->is_wait)
        resp_integer(&b->c->out, repl_count_acked(bk->s, b->wait_seq));
    else
        resp_null_array(&b->c->out, b->c->proto);
}

/* Loop me's WAITs that enough replicas acknowledged: their counts. */
static void serve_waits(blocking *bk, int me)
{
    bloop *l = &bk->loops[me];
    for (blocked *b = l->waits, *next; b; b = next) {
        next = b->wait_next;
        long long n = repl_count_acked(bk->s, b->wait_seq);
        if (n < b->wait_n)
            continue;
        net_join_round(b->c);
        resp_integer(&b->c->out, n);
        finish(bk, b);
    }
}

/* The unblocks asked for loop me's clients: their replies. */
static void run_unblocks(blocking *bk, int me)
{
    bloop *l = &bk->loops[me];
    while (l->pending) {
        blocked *b = l->pending;
        l->pending = b->pending_next;
        client *c = b->c;
        net_join_round(c);
        if (b->unblock == UNBLOCK_ERROR) {
            resp_error(&c->out, UNBLOCKED_ERR);
            cmdstats_error_reply(&bk->s->cmds, UNBLOCKED_ERR, strlen(UNBLOCKED_ERR));
        } else {
            reply_timeout(bk, b);
        }
        finish(bk, b);
    }
}

static void run_work(blocking *bk, int me)
{
    __atomic_store_n(&bk->loops[me].work, 0, __ATOMIC_RELEASE);
    run_unblocks(bk, me);
    serve_ready(bk, me);
    if (bk->loops[me].waits)
        serve_waits(bk, me);
}

/* Replies the timeout to loop me's clients whose deadline is at or before now. */
static void expire(blocking *bk, int me, uint64_t now)
{
    bloop *l = &bk->loops[me];
    while (l->n && l->heap[0]->deadline_ms <= now) {
        blocked *b = l->heap[0];
        net_join_round(b->c);
        reply_timeout(bk, b);
        finish(bk, b);
    }
}

/* ---- the server's side ---- */

int blocking_init(server *s, int nloops)
{
    blocking *bk = calloc(1, sizeof *bk + (size_t)nloops * sizeof(bloop));
    if (!bk)
        return -ENOMEM;
    bk->s = s;
    bk->nloops = nloops;
    s->blocking = bk;
    s->ks.ready_fn = on_ready;
    s->ks.ready_ctx = bk;
    return 0;
}

void blocking_free(server *s)
{
    blocking *bk = s->blocking;
    if (!bk)
        return;
    for (client *c = s->clients; c; c = c->all_next)
        if (c->blocked)
            release(bk, c->blocked);
    while (bk->ready_head) {
        bkey *k = bk->ready_head;
        bk->ready_head = k->ready_next;
        k->ready = false;
        key_maybe_free(bk, k);
    }
    for (int i = 0; i < bk->nloops; i++)
        free(bk->loops[i].heap);
    free(bk->buckets);
    s->ks.ready_fn = NULL;
    free(bk);
    s->blocking = NULL;
}

long long blocking_count(server *s)
{
    return s->blocking ? s->blocking->nblocked : 0;
}

bool blocking_is_blocked(const client *c)
{
    return c->blocked && !c->blocked->unblock;
}

bool blocking_unblock(server *s, client *c, bool error)
{
    blocking *bk = s->blocking;
    blocked *b = c->blocked;
    if (!bk || !b || b->unblock)
        return false;
    detach(bk, b); /* served by nothing from now on; its loop replies */
    bk->nblocked--;
    b->unblock = error ? UNBLOCK_ERROR : UNBLOCK_TIMEOUT;
    bloop *l = &bk->loops[b->loop];
    b->pending_next = l->pending;
    l->pending = b;
    __atomic_store_n(&l->work, 1, __ATOMIC_RELEASE);
    net_wake_loop(s, b->loop);
    return true;
}

void blocking_forget(server *s, client *c)
{
    blocking *bk = s->blocking;
    blocked *b = c->blocked;
    if (!bk || !b)
        return;
    if (b->unblock) {
        blocked **at = &bk->loops[b->loop].pending;
        while (*at && *at != b)
            at = &(*at)->pending_next;
        if (*at)
            *at = b->pending_next;
    }
    release(bk, b);
}

void blocking_after_command(server *s, client *c)
{
    blocking *bk = s->blocking;
    if (!bk)
        return;
    int me = net_loop_index(c);
    if (bk->ready_head || __atomic_load_n(&bk->loops[me].work, __ATOMIC_ACQUIRE))
        run_work(bk, me);
}

bool blocking_has_work(server *s, int loop, uint64_t now_ms)
{
    blocking *bk = s->blocking;
    if (!bk)
        return false;
    uint64_t dl = __atomic_load_n(&bk->loops[loop].next_deadline, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&bk->loops[loop].work, __ATOMIC_ACQUIRE) || (dl && dl <= now_ms);
}

uint64_t blocking_next_deadline(server *s, int loop)
{
    blocking *bk = s->blocking;
    return bk ? __atomic_load_n(&bk->loops[loop].next_deadline, __ATOMIC_ACQUIRE) : 0;
}

void blocking_run(server *s, int loop, uint64_t now_ms)
{
    blocking *bk = s->blocking;
    if (!bk)
        return;
    if (__atomic_load_n(&bk->loops[loop].work, __ATOMIC_ACQUIRE))
        run_work(bk, loop);
    expire(bk, loop, now_ms);
}

void blocking_retry(server *s, client *c)
{
    blocking *bk = s->blocking;
    if (bk && c->blocked)
        __atomic_store_n(&bk->loops[c->blocked->loop].work, 1, __ATOMIC_RELEASE);
}

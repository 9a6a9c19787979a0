/* repl_backlog.c - the newest log records in a ring of references (repl_backlog.h). */
#include "repl_backlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shale.h"

struct repl_backlog {
    pthread_mutex_t mu;
    repl_record **ring;  /* oldest at head; n of cap slots used */
    size_t cap, head, n;
    uint64_t bytes, limit;
    /* the last sequence before the oldest record held: a reader at floor continues with
       that record; known once a record came or a reset said so */
    uint64_t floor;
    bool floor_known;
    int holds;           /* full syncs in progress (repl_backlog_hold) */
    uint64_t hold_limit; /* what the backlog may keep while one is */
    repl_waiter *armed; /* readers polling for the next record */
};

static void wake_armed(repl_backlog *b);

/* The record at position i from the oldest (i < n). */
static repl_record *at(const repl_backlog *b, size_t i)
{
    return b->ring[(b->head + i) % b->cap];
}

repl_backlog *repl_backlog_new(uint64_t limit)
{
    repl_backlog *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->mu, NULL);
    b->limit = limit;
    return b;
}

void repl_record_unref(repl_record *r)
{
    if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(r);
}

/* Drops the oldest record. mu held. */
static void drop_oldest(repl_backlog *b)
{
    repl_record *r = at(b, 0);
    b->head = (b->head + 1) % b->cap;
    b->n--;
    b->bytes -= r->len;
    b->floor = r->last;
    repl_record_unref(r);
}

/* Keeps the newest records within the limit (the hold's while a full sync runs), and
   always the newest one. mu held. */
static void trim(repl_backlog *b)
{
    uint64_t limit = b->holds && b->hold_limit > b->limit ? b->hold_limit : b->limit;
    while (b->n > 1 && b->bytes > limit)
        drop_oldest(b);
}

void repl_backlog_hold(repl_backlog *b, uint64_t limit)
{
    pthread_mutex_lock(&b->mu);
    b->holds++;
    if (limit > b->hold_limit)
        b->hold_limit = limit;
    pthread_mutex_unlock(&b->mu);
}

void repl_backlog_release(repl_backlog *b)
{
    pthread_mutex_lock(&b->mu);
    if (--b->holds == 0)
        b->hold_limit = 0;
    trim(b);
    pthread_mutex_unlock(&b->mu);
}

static void drop_all(repl_backlog *b)
{
    while (b->n)
        drop_oldest(b);
}

void repl_backlog_free(repl_backlog *b)
{
    if (!b)
        return;
    drop_all(b);
    free(b->ring);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void repl_backlog_set_limit(repl_backlog *b, uint64_t limit)
{
    pthread_mutex_lock(&b->mu);
    b->limit = limit;
    trim(b);
    pthread_mutex_unlock(&b->mu);
}

void repl_backlog_reset(repl_backlog *b, uint64_t seq)
{
    pthread_mutex_lock(&b->mu);
    drop_all(b);
    b->floor = seq;
    b->floor_known = true;
    wake_armed(b);
    pthread_mutex_unlock(&b->mu);
}

/* One write to each armed waiter's eventfd, and they are disarmed. mu held. */
static void wake_armed(repl_backlog *b)
{
    for (repl_waiter *w = b->armed; w; w = w->next) {
        uint64_t one = 1;
        ssize_t n = write(w->fd, &one, sizeof one);
        (void)n; /* a full counter wakes the reader all the same */
    }
    b->armed = NULL;
}

/* Room for one more reference in the ring. mu held. */
static int ring_reserve(repl_backlog *b)
{
    if (b->n < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 256;
    repl_record **ring = malloc(cap * sizeof *ring);
    if (!ring)
        return -ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        ring[i] = at(b, i);
    free(b->ring);
    b->ring = ring;
    b->cap = cap;
    b->head = 0;
    return 0;
}

void repl_backlog_tap(void *ctx, const void *rep, size_t len)
{
    repl_backlog *b = ctx;
    uint64_t first, last;
    if (!shale_batch_rep_range(rep, len, &first, &last))
        return; /* (the engine passes only records with entries) */
    repl_record *r = malloc(sizeof *r + len);
    pthread_mutex_lock(&b->mu);
    if (!b->floor_known) {
        b->floor = first - 1;
        b->floor_known = true;
    }
    if (!r || ring_reserve(b)) {
        drop_all(b); /* readers past this point fall out and sync again */
        b->floor = last;
        free(r);
    } else {
        r->first = first;
        r->last = last;
        r->len = len;
        r->refs = 1;
        memcpy(r->rep, rep, len);
        b->ring[(b->head + b->n) % b->cap] = r;
        b->n++;
        b->bytes += len;
        trim(b);
    }
    wake_armed(b);
    pthread_mutex_unlock(&b->mu);
}

void repl_backlog_stats(repl_backlog *b, uint64_t *nrecords, uint64_t *first_seq,
                        uint64_t *bytes)
{
    pthread_mutex_lock(&b->mu);
    *nrecords = b->n;
    *first_seq = b->n ? at(b, 0)->first : 0;
    *bytes = b->bytes;
    pthread_mutex_unlock(&b->mu);
}

/* The position of the first record whose first sequence is above seq (n: none). mu held. */
static size_t first_above(const repl_backlog *b, uint64_t seq)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(b, mid)->first > seq)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Whether seq is the end of a record held or the floor: a reader there continues with
   the record at first_above(seq). mu held. */
static bool at_boundary(const repl_backlog *b, uint64_t seq)
{
    if (!b->floor_known || seq < b->floor)
        return false;
    size_t i = first_above(b, seq);
    return i == 0 ? seq == b->floor : at(b, i - 1)->last == seq;
}

bool repl_backlog_can_continue(repl_backlog *b, uint64_t seq, uint64_t last_seq)
{
    pthread_mutex_lock(&b->mu);
    bool ok = b->floor_known ? at_boundary(b, seq) : seq == last_seq;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

/* A reader at after fell out: its next record is gone (or it is not at a boundary). mu held. */
static bool fell_out(const repl_backlog *b, uint64_t after)
{
    return b->floor_known && !at_boundary(b, after) && (b->n == 0 || after < at(b, b->n - 1)->last);
}

bool repl_backlog_holds_after(repl_backlog *b, uint64_t after)
{
    pthread_mutex_lock(&b->mu);
    bool out = fell_out(b, after);
    pthread_mutex_unlock(&b->mu);
    return !out;
}

int repl_backlog_next(repl_backlog *b, uint64_t after, repl_record **out, int max,
                      size_t max_bytes)
{
    pthread_mutex_lock(&b->mu);
    int n = 0;
    if (fell_out(b, after)) {
        n = -ERANGE;
    } else {
        size_t bytes = 0;
        for (size_t i = b->floor_known ? first_above(b, after) : 0;
             i < b->n && n < max && (n == 0 || bytes < max_bytes); i++) {
            repl_record *r = at(b, i);
            __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
            out[n++] = r;
            bytes += r->len;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return n;
}

void repl_backlog_wake(repl_backlog *b)
{
    pthread_mutex_lock(&b->mu);
    wake_armed(b);
    pthread_mutex_unlock(&b->mu);
}

bool repl_backlog_arm(repl_backlog *b, uint64_t after, repl_waiter *w)
{
    pthread_mutex_lock(&b->mu);
    bool ready = b->n && at(b, b->n - 1)->last > after;
    if (!ready) {
        w->next = b->armed;
        b->armed = w;
    }
    pthread_mutex_unlock(&b->mu);
    return !ready;
}

void repl_backlog_disarm(repl_backlog *b, repl_waiter *w)
{
    pthread_mutex_lock(&b->mu);
    for (repl_waiter **p = &b->armed; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&b->mu);
}

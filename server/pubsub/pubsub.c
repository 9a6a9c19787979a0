/*
 * pubsub.c - subscriptions, the fan-out of a message and its delivery across the event
 * loops (pubsub.h). Everything runs under the server's lock but pubsub_has_work.
 */
#include "pubsub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "ps_table.h"

#define NKINDS 3

/* What one client subscribes to, and the messages that wait for its loop. */
typedef struct ps_client {
    ps_entry **names[NKINDS]; /* per kind, in the order subscribed */
    size_t n[NKINDS], cap[NKINDS];
    resp_out inbox;       /* messages published by other loops, not yet in c->out */
    bool queued;          /* in its loop's list of clients with an inbox to deliver */
    struct client *next_queued;
} ps_client;

/* An event loop's clients with messages waiting. has_work is read without the lock. */
typedef struct ps_loop {
    client *head, *tail;
    int has_work;
} ps_loop;

typedef struct pubsub {
    ps_table tables[NKINDS];
    ps_loop *loops;
    int nloops;
    resp_out frame, pframe; /* the message being published, built once per publish */
    uint64_t published, delivered;
} pubsub;

/* An inbox grown past this is given back once delivered (as idle buffers are). */
#define INBOX_KEEP (64u << 10)

int pubsub_init(server *s, int nloops)
{
    pubsub *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->nloops = nloops > 0 ? nloops : 1;
    p->loops = calloc((size_t)p->nloops, sizeof *p->loops);
    if (!p->loops) {
        free(p);
        return -ENOMEM;
    }
    s->pubsub = p;
    return 0;
}

void pubsub_free(server *s)
{
    pubsub *p = s->pubsub;
    if (!p)
        return;
    for (int k = 0; k < NKINDS; k++)
        ps_table_free(&p->tables[k]);
    resp_out_free(&p->frame);
    resp_out_free(&p->pframe);
    free(p->loops);
    free(p);
    s->pubsub = NULL;
}

/* ---- one client's subscriptions ---- */

static ps_client *client_state(client *c, bool create)
{
    if (!c->pubsub && create)
        c->pubsub = calloc(1, sizeof(ps_client));
    return c->pubsub;
}

long long pubsub_client_count(const client *c, enum pubsub_kind kind)
{
    const ps_client *pc = c->pubsub;
    return pc ? (long long)pc->n[kind] : 0;
}

size_t pubsub_client_bytes(const client *c)
{
    const ps_client *pc = c->pubsub;
    if (!pc)
        return 0;
    size_t n = sizeof *pc + pc->inbox.cap;
    for (int k = 0; k < NKINDS; k++)
        n += pc->cap[k] * sizeof *pc->names[k];
    return n;
}

bool pubsub_client_subscribed(const client *c)
{
    const ps_client *pc = c->pubsub;
    return pc && pc->n[0] + pc->n[1] + pc->n[2] > 0;
}

/* The count a (un)subscribe confirmation carries: channels and patterns together, or
   shard channels alone, as Redis 7.0. */
static long long reply_count(const client *c, enum pubsub_kind kind)
{
    if (kind == PUBSUB_SHARD)
        return pubsub_client_count(c, PUBSUB_SHARD);
    return pubsub_client_count(c, PUBSUB_CHANNEL) + pubsub_client_count(c, PUBSUB_PATTERN);
}

static const char *const subscribe_word[NKINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsubscribe_word[NKINDS] = {"unsubscribe", "punsubscribe",
                                                     "sunsubscribe"};

/* A confirmation: a push in RESP3, an array in RESP2; a NULL name is a null. */
static void reply_confirmation(client *c, const char *word, const char *name, size_t len,
                               long long count)
{
    resp_raw(&c->out, c->proto == 3 ? ">3\r\n" : "*3\r\n", 4);
    resp_bulk_cstr(&c->out, word);
    if (name)
        resp_bulk(&c->out, name, len);
    else
        resp_null(&c->out, c->proto);
    resp_integer(&c->out, count);
}

/* Whether c subscribes to e: the shorter of its list and e's subscribers is searched. */
static bool client_has(const ps_client *pc, enum pubsub_kind kind, const ps_entry *e,
                       const client *c)
{
    if (e->nsubs < pc->n[kind])
        return ps_entry_has(e, c);
    for (size_t i = 0; i < pc->n[kind]; i++)
        if (pc->names[kind][i] == e)
            return true;
    return false;
}

static int client_add(ps_client *pc, enum pubsub_kind kind, ps_entry *e)
{
    if (pc->n[kind] == pc->cap[kind]) {
        size_t cap = pc->cap[kind] ? pc->cap[kind] * 2 : 4;
        ps_entry **p = realloc(pc->names[kind], cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        pc->names[kind] = p;
        pc->cap[kind] = cap;
    }
    pc->names[kind][pc->n[kind]++] = e;
    return 0;
}

static void client_remove(ps_client *pc, enum pubsub_kind kind, const ps_entry *e)
{
    for (size_t i = 0; i < pc->n[kind]; i++)
        if (pc->names[kind][i] == e) {
            memmove(&pc->names[kind][i], &pc->names[kind][i + 1],
                    (pc->n[kind] - i - 1) * sizeof *pc->names[kind]);
            pc->n[kind]--;
            return;
        }
}

int pubsub_subscribe(server *s, client *c, enum pubsub_kind kind, const char *name, size_t len)
{
    pubsub *p = s->pubsub;
    ps_client *pc = p ? client_state(c, true) : NULL;
    if (!pc)
        return -ENOMEM;
    ps_table *t = &p->tables[kind];
    ps_entry *e = ps_upsert(t, name, len);
    if (!e)
        return -ENOMEM;
    if (!client_has(pc, kind, e, c)) {
        if (client_add(pc, kind, e)) {
            if (!e->nsubs) /* just made: no subscriber would remove it */
                ps_entry_remove(t, e, c);
            return -ENOMEM;
        }
        if (ps_entry_add(e, c)) {
            client_remove(pc, kind, e);
            if (!e->nsubs)
                ps_entry_remove(t, e, c);
            return -ENOMEM;
        }
    }
    reply_confirmation(c, subscribe_word[kind], name, len, reply_count(c, kind));
    return 0;
}

void pubsub_unsubscribe(server *s, client *c, enum pubsub_kind kind, const char *name,
                        size_t len)
{
    pubsub *p = s->pubsub;
    ps_client *pc = c->pubsub;
    ps_entry *e = p && pc ? ps_find(&p->tables[kind], name, len) : NULL;
    if (e && client_has(pc, kind, e, c)) {
        client_remove(pc, kind, e);
        ps_entry_remove(&p->tables[kind], e, c);
    }
    reply_confirmation(c, unsubscribe_word[kind], name, len, reply_count(c, kind));
}

/* Takes c out of every name of kind, oldest first; with notify, a confirmation for each
   (the name is copied out before its entry may be freed). */
static void leave_all(server *s, client *c, enum pubsub_kind kind, bool notify)
{
    pubsub *p = s->pubsub;
    ps_client *pc = c->pubsub;
    if (!p || !pc)
        return;
    size_t n = pc->n[kind];
    ps_entry **names = pc->names[kind];
    long long others = reply_count(c, kind) - (long long)n;
    for (size_t i = 0; i < n; i++) {
        ps_entry *e = names[i];
        if (notify) {
            long long left = others + (long long)(n - i - 1);
            reply_confirmation(c, unsubscribe_word[kind], e->name, e->len, left);
        }
        ps_entry_remove(&p->tables[kind], e, c);
    }
    pc->n[kind] = 0;
}

void pubsub_unsubscribe_all(server *s, client *c, enum pubsub_kind kind)
{
    if (pubsub_client_count(c, kind) == 0) {
        reply_confirmation(c, unsubscribe_word[kind], NULL, 0, reply_count(c, kind));
        return;
    }
    leave_all(s, c, kind, true);
}

void pubsub_reset_client(server *s, client *c)
{
    for (int k = 0; k < NKINDS; k++)
        leave_all(s, c, (enum pubsub_kind)k, false);
}

/* Takes c out of its loop's list of clients with messages waiting. */
static void unqueue(pubsub *p, client *c)
{
    ps_client *pc = c->pubsub;
    ps_loop *l = &p->loops[net_loop_index(c) % p->nloops];
    client *prev = NULL;
    for (client *q = l->head; q; prev = q, q = ((ps_client *)q->pubsub)->next_queued) {
        if (q != c)
            continue;
        if (prev)
            ((ps_client *)prev->pubsub)->next_queued = pc->next_queued;
        else
            l->head = pc->next_queued;
        if (l->tail == c)
            l->tail = prev;
        break;
    }
    pc->queued = false;
}

void pubsub_forget(server *s, client *c)
{
    ps_client *pc = c->pubsub;
    if (!pc)
        return;
    pubsub_reset_client(s, c);
    if (pc->queued && s->pubsub)
        unqueue(s->pubsub, c);
    for (int k = 0; k < NKINDS; k++)
        free(pc->names[k]);
    resp_out_free(&pc->inbox);
    free(pc);
    c->pubsub = NULL;
}

/* ---- counts and names ---- */

long long pubsub_numsub(server *s, enum pubsub_kind kind, const char *name, size_t len)
{
    ps_entry *e = s->pubsub ? ps_find(&s->pubsub->tables[kind], name, len) : NULL;
    return e ? (long long)e->nsubs : 0;
}

long long pubsub_count(server *s, enum pubsub_kind kind)
{
    return s->pubsub ? (long long)s->pubsub->tables[kind].count : 0;
}

void pubsub_names(server *s, enum pubsub_kind kind, const char *pat, size_t plen,
                  void (*emit)(void *ctx, const char *name, size_t len), void *ctx)
{
    if (!s->pubsub)
        return;
    for (ps_entry *e = s->pubsub->tables[kind].first; e; e = e->next)
        if (!pat || glob_match(pat, plen, e->name, e->len, false))
            emit(ctx, e->name, e->len);
}

uint64_t pubsub_published(server *s)
{
    return s->pubsub ? s->pubsub->published : 0;
}

uint64_t pubsub_delivered(server *s)
{
    return s->pubsub ? s->pubsub->delivered : 0;
}

/* ---- delivery ---- */

/* Moves c's inbox to its reply buffer, to go out with its loop's round (c's loop). */
static void flush_inbox(client *c, ps_client *pc)
{
    if (!pc->inbox.len)
        return;
    net_join_round(c);
    resp_raw(&c->out, pc->inbox.data, pc->inbox.len);
    pc->inbox.len = 0;
    if (pc->inbox.cap > INBOX_KEEP)
        resp_out_free(&pc->inbox);
}

void pubsub_flush_inbox(server *s, client *c)
{
    (void)s;
    if (c->pubsub)
        flush_inbox(c, c->pubsub);
}

bool pubsub_has_work(server *s, int loop)
{
    pubsub *p = s->pubsub;
    return p && loop < p->nloops && __atomic_load_n(&p->loops[loop].has_work, __ATOMIC_ACQUIRE);
}

void pubsub_deliver(server *s, int loop)
{
    pubsub *p = s->pubsub;
    if (!p || loop >= p->nloops)
        return;
    ps_loop *l = &p->loops[loop];
    __atomic_store_n(&l->has_work, 0, __ATOMIC_RELEASE);
    while (l->head) {
        client *c = l->head;
        ps_client *pc = c->pubsub;
        l->head = pc->next_queued;
        pc->queued = false;
        pc->next_queued = NULL;
        if (c->closed)
            pc->inbox.len = 0;
        else
            flush_inbox(c, pc);
    }
    l->tail = NULL;
}

/* Puts c in its loop's list and wakes the loop the first time it has work. */
static void enqueue(server *s, client *c, ps_client *pc)
{
    pubsub *p = s->pubsub;
    int idx = net_loop_index(c) % p->nloops;
    ps_loop *l = &p->loops[idx];
    if (!pc->queued) {
        pc->queued = true;
        pc->next_queued = NULL;
        if (l->tail)
            ((ps_client *)l->tail->pubsub)->next_queued = c;
        else
            l->head = c;
        l->tail = c;
    }
    if (!__atomic_load_n(&l->has_work, __ATOMIC_RELAXED)) {
        __atomic_store_n(&l->has_work, 1, __ATOMIC_RELEASE);
        net_wake_loop(s, idx);
    }
}

/* Hands one message (f: its RESP2 frame, an array) to c: straight into its reply buffer
   when c belongs to this thread's loop and nothing waits before it, else into its inbox.
   A subscriber past the pubsub hard limit is skipped: its loop closes it. Returns whether
   the message was taken. */
static bool hand_over(server *s, client *c, const resp_out *f)
{
    ps_client *pc = c->pubsub;
    uint64_t hard = s->cfg.pubsub_hard_limit;
    char lead = c->proto == 3 ? '>' : '*'; /* a push in RESP3 */
    resp_out *to = &pc->inbox;
    bool direct = pc->inbox.len == 0 && net_on_own_loop(c);
    if (direct)
        to = &c->out;
    if (hard && to->len > hard)
        return false;
    if (direct)
        net_join_round(c); /* before the bytes: they belong to this round */
    resp_raw(to, &lead, 1);
    resp_raw(to, f->data + 1, f->len - 1);
    if (!direct)
        enqueue(s, c, pc);
    return true;
}

static void build_frame(resp_out *f, const char *type, const char *pat, size_t plen,
                        const char *ch, size_t chlen, const char *msg, size_t msglen)
{
    f->len = 0;
    resp_array(f, pat ? 4 : 3);
    resp_bulk_cstr(f, type);
    if (pat)
        resp_bulk(f, pat, plen);
    resp_bulk(f, ch, chlen);
    resp_bulk(f, msg, msglen);
}

/* Sends frame f to every subscriber of e; the number reached. */
static long long fan_out(server *s, const ps_entry *e, const resp_out *f)
{
    for (size_t i = 0; i < e->nsubs; i++)
        s->pubsub->delivered += hand_over(s, e->subs[i], f);
    return (long long)e->nsubs;
}

long long pubsub_publish(server *s, const char *channel, size_t chlen, const char *msg,
                         size_t msglen, bool shard)
{
    pubsub *p = s->pubsub;
    if (!p)
        return 0;
    p->published++;
    long long receivers = 0;
    enum pubsub_kind kind = shard ? PUBSUB_SHARD : PUBSUB_CHANNEL;
    ps_entry *e = ps_find(&p->tables[kind], channel, chlen);
    if (e) {
        build_frame(&p->frame, shard ? "smessage" : "message", NULL, 0, channel, chlen, msg,
                    msglen);
        receivers += fan_out(s, e, &p->frame);
    }
    if (shard) /* shard channels have no patterns */
        return receivers;
    for (ps_entry *pe = p->tables[PUBSUB_PATTERN].first; pe; pe = pe->next) {
        if (!glob_match(pe->name, pe->len, channel, chlen, false))
            continue;
        build_frame(&p->pframe, "pmessage", pe->name, pe->len, channel, chlen, msg, msglen);
        receivers += fan_out(s, pe, &p->pframe);
    }
    return receivers;
}

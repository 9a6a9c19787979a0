/*
 * ps_deliver.c - publishing (pubsub.h): a message's frame built once, handed to each
 * subscriber straight into its reply buffer (its loop is this thread's) or into its inbox
 * (another loop, woken to deliver it); the loops' side of the inboxes. Under the server's
 * lock but pubsub_has_work.
 */
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "ps_internal.h"

/* An inbox grown past this is given back once delivered (as idle buffers are). */
#define INBOX_KEEP (64u << 10)

/* Takes c out of its loop's list of clients with messages waiting. */
void ps_unqueue(pubsub *p, client *c)
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
    ps_client *pc = ps_client_of(c);
    if (pc)
        flush_inbox(c, pc);
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

static bool hand_bytes(server *s, client *c, char lead, const char *rest, size_t rlen,
                       uint64_t hard);

/* ---- the running command's own notifications ---- */

void pubsub_aside_begin(server *s, client *c)
{
    if (s->pubsub)
        s->pubsub->aside.c = c;
}

void pubsub_aside_at(server *s, size_t at)
{
    if (s->pubsub) {
        s->pubsub->aside.on = true;
        s->pubsub->aside.at = at;
    }
}

void pubsub_aside_stop(server *s)
{
    if (s->pubsub)
        s->pubsub->aside.on = false;
}

/* Keeps one message to the running command's client for pubsub_aside_place (the pubsub
   hard limit counts it as in c's buffer). Whether it was kept. */
static bool keep_aside(server *s, client *c, char lead, const char *rest, size_t rlen)
{
    ps_aside *a = &s->pubsub->aside;
    uint64_t hard = s->cfg.pubsub_hard_limit;
    if (hard && c->out.len + a->bytes.len > hard)
        return false;
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 8;
        struct ps_placed *np = realloc(a->pos, ncap * sizeof *np);
        if (!np)
            return false;
        a->pos = np;
        a->cap = ncap;
    }
    size_t before = a->bytes.len;
    resp_raw(&a->bytes, &lead, 1);
    resp_raw(&a->bytes, rest, rlen);
    if (a->bytes.len != before + 1 + rlen) { /* without memory */
        a->bytes.len = before;
        return false;
    }
    a->pos[a->n++] = (struct ps_placed){a->at, 1 + rlen};
    return true;
}

/* Moves o's bytes [at, end) to end at dst (dst >= end), leaving a gap that ends at the
   returned offset (the moved bytes' new start). */
static size_t open_gap(resp_out *o, size_t at, size_t end, size_t dst)
{
    size_t tail = end - at;
    memmove(o->data + dst - tail, o->data + at, tail);
    return dst - tail;
}

void pubsub_aside_place(server *s, client *c)
{
    pubsub *p = s->pubsub;
    if (!p || p->aside.c != c)
        return;
    ps_aside *a = &p->aside;
    a->c = NULL;
    a->on = false;
    size_t old = c->out.len, total = a->bytes.len;
    if (a->n) {
        net_join_round(c); /* before the bytes: they belong to this round */
        resp_raw(&c->out, a->bytes.data, total); /* room for them (moved below) */
    }
    if (a->n && c->out.len == old + total) {
        /* positions never go back (a cut reply: clamped to the end), placed from the
           last one so each byte moves once */
        size_t prev = 0;
        for (size_t i = 0; i < a->n; i++) {
            size_t at = a->pos[i].at < old ? a->pos[i].at : old;
            a->pos[i].at = prev = at > prev ? at : prev;
        }
        size_t end = old, dst = old + total, boff = total;
        for (size_t i = a->n; i-- > 0;) {
            dst = open_gap(&c->out, a->pos[i].at, end, dst);
            end = a->pos[i].at;
            boff -= a->pos[i].len;
            dst -= a->pos[i].len;
            memcpy(c->out.data + dst, a->bytes.data + boff, a->pos[i].len);
        }
    }
    a->n = 0;
    a->bytes.len = 0;
    if (a->bytes.cap > INBOX_KEEP)
        resp_out_free(&a->bytes);
}

/* Hands one message (f: its RESP2 frame, an array) to c: straight into its reply buffer
   when c belongs to this thread's loop and nothing waits before it, else into its inbox.
   A subscriber past the pubsub hard limit is skipped: its loop closes it. Returns whether
   the message was taken. */
static bool hand_over(server *s, client *c, const resp_out *f)
{
    char lead = c->proto == 3 ? '>' : '*'; /* a push in RESP3 */
    const ps_aside *a = &s->pubsub->aside;
    if (a->on && c == a->c && !((ps_client *)c->pubsub)->inbox.len && net_on_own_loop(c))
        return keep_aside(s, c, lead, f->data + 1, f->len - 1);
    return hand_bytes(s, c, lead, f->data + 1, f->len - 1, s->cfg.pubsub_hard_limit);
}

/* Hands lead then rest to c as one message (see hand_over); hard: the buffered bytes past
   which it is refused (0: none). */
static bool hand_bytes(server *s, client *c, char lead, const char *rest, size_t rlen,
                       uint64_t hard)
{
    ps_client *pc = c->pubsub;
    resp_out *to = &pc->inbox;
    bool direct = pc->inbox.len == 0 && net_on_own_loop(c);
    if (direct)
        to = &c->out;
    if (hard && to->len > hard)
        return false;
    if (direct)
        net_join_round(c); /* before the bytes: they belong to this round */
    resp_raw(to, &lead, 1);
    resp_raw(to, rest, rlen);
    if (!direct)
        enqueue(s, c, pc);
    return true;
}

bool pubsub_push(server *s, client *c, const char *frame, size_t len)
{
    if (!s->pubsub || len == 0)
        return false;
    if (!ps_client_make(c))
        return false;
    /* no pubsub limit of its own: an invalidation dropped would leave a stale cache; c's
       class limit (normal, or pubsub when subscribed) is applied when its loop sends */
    return hand_bytes(s, c, frame[0], frame + 1, len - 1, 0);
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

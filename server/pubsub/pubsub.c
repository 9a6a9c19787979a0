/*
 * pubsub.c - subscriptions (pubsub.h): who listens to which channel, pattern and shard
 * channel, the confirmations, the counts. Publishing and delivery are in ps_deliver.c.
 * Everything runs under the server's lock.
 */
#include "pubsub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "ps_internal.h"

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
    resp_out_free(&p->aside.bytes);
    free(p->aside.pos);
    free(p->loops);
    free(p);
    s->pubsub = NULL;
}

/* ---- one client's subscriptions ---- */

static ps_client *client_state(client *c, bool create)
{
    ps_client *pc = ps_client_of(c);
    return pc || !create ? pc : ps_client_make(c);
}

ps_client *ps_client_make(client *c)
{
    ps_client *pc = ps_client_of(c);
    if (!pc && (pc = calloc(1, sizeof *pc)) != NULL)
        __atomic_store_n(&c->pubsub, pc, __ATOMIC_RELEASE);
    return pc;
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
    const ps_client *pc = ps_client_of(c);
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

void pubsub_forget(server *s, client *c)
{
    if (s->pubsub && s->pubsub->aside.c == c)
        pubsub_aside_place(s, c); /* (nothing kept is sent: c is going) */
    ps_client *pc = c->pubsub;
    if (!pc)
        return;
    pubsub_reset_client(s, c);
    if (pc->queued && s->pubsub)
        ps_unqueue(s->pubsub, c);
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

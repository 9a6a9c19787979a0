/*
 * tracking.c - client tracking's invalidations (tracking.h): the key layer's listeners,
 * the keys a read remembers, the messages and when they go, BCAST's broadcast, the table's
 * limit, a client's tracking turned on and off. Redis 7.0's tracking.c, rule for rule.
 * Under the server's lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "multi.h"
#include "pubsub.h"
#include "tr_internal.h"

static tracking *state_of(server *s)
{
    return s->tracking;
}

int tr_str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r)
        return r;
    return alen < blen ? -1 : alen > blen;
}

static int str_dup(tr_str *d, const char *p, size_t len)
{
    d->p = malloc(len ? len : 1);
    if (!d->p)
        return -ENOMEM;
    memcpy(d->p, p, len);
    d->len = len;
    return 0;
}

/* Grows *arr (of *cap elements of size sz) to hold one more than n. 0 or -ENOMEM. */
static int room_for(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, ncap * sz);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- the tracking clients, by id ---- */

static size_t client_pos(const tracking *t, uint64_t id)
{
    size_t lo = 0, hi = t->nclients;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->clients[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

client *tr_client_by_id(tracking *t, uint64_t id)
{
    size_t i = client_pos(t, id);
    return i < t->nclients && t->clients[i]->id == id ? t->clients[i] : NULL;
}

static int clients_add(tracking *t, client *c)
{
    size_t i = client_pos(t, c->id);
    if (i < t->nclients && t->clients[i] == c)
        return 0;
    if (room_for((void **)&t->clients, &t->ccap, t->nclients, sizeof *t->clients))
        return -ENOMEM;
    memmove(&t->clients[i + 1], &t->clients[i], (t->nclients - i) * sizeof *t->clients);
    t->clients[i] = c;
    t->nclients++;
    return 0;
}

static void clients_remove(tracking *t, client *c)
{
    size_t i = client_pos(t, c->id);
    if (i >= t->nclients || t->clients[i] != c)
        return;
    memmove(&t->clients[i], &t->clients[i + 1], (t->nclients - i - 1) * sizeof *t->clients);
    t->nclients--;
}

/* ---- messages ---- */

static const char PUSH_HEAD[] = ">2\r\n$10\r\ninvalidate\r\n";
static const char MESSAGE_HEAD[] = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";

/*
 * Redis's sendTrackingMessage: the keys (payload: a RESP array of them, or a null) to c,
 * or to the client it redirects to: a push in RESP3; in RESP2 a message of
 * __redis__:invalidate when the redirect client is subscribed to something, else nothing.
 * A redirect client gone marks c broken, and tells c so when it speaks RESP3.
 */
static void send_message(server *s, client *c, const char *payload, size_t plen)
{
    tr_client *tc = c->tracking;
    client *to = c;
    if (tc->redirect_id) {
        if (!tc->redir || client_closed(tc->redir) || tc->redir->close_after_reply) { /* gone, going */
            tc->broken_redir = true;
            if (c->proto == 3) {
                char buf[96];
                int n = snprintf(buf, sizeof buf, ">2\r\n$21\r\ntracking-redir-broken\r\n:%llu\r\n",
                                 (unsigned long long)tc->redirect_id);
                pubsub_push(s, c, buf, (size_t)n);
            }
            return;
        }
        to = tc->redir;
    }
    const char *head;
    if (to->proto == 3)
        head = PUSH_HEAD;
    else if (to != c || tc->redirect_id) {
        if (!pubsub_client_subscribed(to))
            return;
        head = MESSAGE_HEAD;
    } else {
        return; /* RESP2 without a redirect: RESP2 has no pushes */
    }
    resp_out f = {0};
    resp_raw(&f, head, strlen(head));
    resp_raw(&f, payload, plen);
    pubsub_push(s, to, f.data, f.len);
    resp_out_free(&f);
}

/* One key's invalidation to c: an array of the one key. */
static void send_key(server *s, client *c, const char *key, size_t klen)
{
    resp_out p = {0};
    resp_array(&p, 1);
    resp_bulk(&p, key, klen);
    send_message(s, c, p.data, p.len);
    resp_out_free(&p);
}

/* The null that says every key is invalid, in c's protocol (Redis's shared.null[c->resp],
   whoever receives it). */
static void send_flush(server *s, client *c)
{
    if (c->proto == 3)
        send_message(s, c, "_\r\n", 3);
    else
        send_message(s, c, "$-1\r\n", 5);
}

/* Queues a message for the end of the running command (flush: the null). Without memory
   it goes at once (early is harmless, late would not be). */
static void pend(server *s, client *target, const char *key, size_t klen, bool flush)
{
    tracking *t = state_of(s);
    tr_pending *p = NULL;
    if (!room_for((void **)&t->pending, &t->pendcap, t->npending, sizeof *t->pending)) {
        p = &t->pending[t->npending];
        p->target = target;
        p->flush = flush;
        p->key.p = NULL;
        p->key.len = 0;
        if (flush || !str_dup(&p->key, key, klen)) {
            t->npending++;
            return;
        }
    }
    if (flush)
        send_flush(s, target);
    else
        send_key(s, target, key, klen);
}

static void send_pending(server *s)
{
    tracking *t = state_of(s);
    for (size_t i = 0; i < t->npending; i++) {
        tr_pending *p = &t->pending[i];
        if (p->target && p->target->tracking && p->target->tracking->on) {
            if (p->flush)
                send_flush(s, p->target);
            else
                send_key(s, p->target, p->key.p, p->key.len);
        }
        free(p->key.p);
    }
    t->npending = 0;
}

/* ---- invalidation ---- */

/* Redis's trackingInvalidateKey for an entry taken out of the table: every default-mode
   client that read the key (but the writer itself under NOLOOP) gets its invalidation. */
static void invalidate_entry(server *s, client *writer, tr_key *k)
{
    tracking *t = state_of(s);
    for (size_t i = 0; i < k->nids; i++) {
        client *target = tr_client_by_id(t, k->ids[i]);
        if (!target || target->tracking->bcast)
            continue; /* gone, off, or BCAST since (keys read before are not sent) */
        if (target->tracking->noloop && target == writer)
            continue;
        if (t->depth > 0)
            pend(s, target, k->key, k->klen, false);
        else
            send_key(s, target, k->key, k->klen);
    }
    tr_key_free(k);
}

static void invalidate_key(server *s, client *writer, const char *key, size_t klen)
{
    tr_key *k = tr_keys_take(&state_of(s)->keys, key, klen);
    if (k)
        invalidate_entry(s, writer, k);
}

/* BCAST: key changed under every prefix it starts with; remembered for the broadcast. */
static void remember_change(tracking *t, client *writer, const char *key, size_t klen)
{
    for (size_t i = 0; i < t->nprefixes; i++) {
        tr_prefix *p = &t->prefixes[i];
        if (p->name.len > klen || memcmp(p->name.p, key, p->name.len) != 0)
            continue;
        if (room_for((void **)&p->changes, &p->chcap, p->nchanges, sizeof *p->changes))
            continue;
        tr_change *ch = &p->changes[p->nchanges];
        if (str_dup(&ch->key, key, klen))
            continue;
        ch->writer = writer;
        ch->seq = p->nchanges++;
    }
}

static int change_cmp(const void *a, const void *b)
{
    const tr_change *x = a, *y = b;
    int r = tr_str_cmp(x->key.p, x->key.len, y->key.p, y->key.len);
    if (r)
        return r;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts p's changes by key and keeps one per key, with its last writer (as Redis's radix
   tree of keys, whose value each change overwrites). */
static void sort_changes(tr_prefix *p)
{
    qsort(p->changes, p->nchanges, sizeof *p->changes, change_cmp);
    size_t out = 0;
    for (size_t i = 0; i < p->nchanges; i++) {
        tr_change *ch = &p->changes[i];
        if (out > 0 && tr_str_cmp(p->changes[out - 1].key.p, p->changes[out - 1].key.len, ch->key.p,
                                  ch->key.len) == 0) {
            free(p->changes[out - 1].key.p);
            p->changes[out - 1] = *ch;
            continue;
        }
        p->changes[out++] = *ch;
    }
    p->nchanges = out;
}

/* The array of p's changed keys, leaving out those that skip last changed (NULL: none
   left out); false when nothing is left. */
static bool build_keys(const tr_prefix *p, const client *skip, resp_out *o)
{
    long long n = 0;
    for (size_t i = 0; i < p->nchanges; i++)
        n += !skip || p->changes[i].writer != skip;
    if (n == 0)
        return false;
    o->len = 0;
    resp_array(o, n);
    for (size_t i = 0; i < p->nchanges; i++)
        if (!skip || p->changes[i].writer != skip)
            resp_bulk(o, p->changes[i].key.p, p->changes[i].key.len);
    return true;
}

/* Redis's trackingBroadcastInvalidationMessages: each prefix's changed keys, one message
   to each of its clients (NOLOOP clients without their own changes). */
static void broadcast(server *s)
{
    tracking *t = state_of(s);
    resp_out all = {0}, own = {0};
    for (size_t i = 0; i < t->nprefixes; i++) {
        tr_prefix *p = &t->prefixes[i];
        if (p->nchanges == 0)
            continue;
        sort_changes(p);
        build_keys(p, NULL, &all);
        for (size_t j = 0; j < p->nclients; j++) {
            client *c = p->clients[j];
            if (!c->tracking->noloop)
                send_message(s, c, all.data, all.len);
            else if (build_keys(p, c, &own))
                send_message(s, c, own.data, own.len);
        }
        for (size_t j = 0; j < p->nchanges; j++)
            free(p->changes[j].key.p);
        p->nchanges = 0;
    }
    resp_out_free(&all);
    resp_out_free(&own);
}

/* Redis's trackingInvalidateKeysOnFlush: a null to every tracking client, the table
   emptied. */
static void invalidate_all(server *s)
{
    tracking *t = state_of(s);
    if (t->depth > 0) {
        if (t->flush_call == t->calls)
            return; /* FLUSHALL tells each database: one null for the command */
        t->flush_call = t->calls;
    }
    for (size_t i = 0; i < t->nclients; i++) {
        if (t->depth > 0)
            pend(s, t->clients[i], NULL, 0, true);
        else
            send_flush(s, t->clients[i]);
    }
    tr_keys_clear(&t->keys);
}

/* ---- the key layer's listeners ---- */

static void on_touch(void *ctx, int dbi, const void *key, size_t klen, bool deleted)
{
    server *s = ctx;
    tracking *t = state_of(s);
    if (t->prev_touch)
        t->prev_touch(t->prev_ctx, dbi, key, klen, deleted);
    client *writer = t->depth > 0 ? t->current : NULL;
    if (t->nprefixes) {
        remember_change(t, writer, key, klen);
        if (t->depth == 0)
            broadcast(s);
    }
    invalidate_key(s, writer, key, klen);
}

static void on_db_touch(void *ctx, int dbi, int other)
{
    server *s = ctx;
    tracking *t = state_of(s);
    if (t->prev_db_touch)
        t->prev_db_touch(t->prev_ctx, dbi, other);
    if (other == -1 || other == -2) /* a flush, or a fifo database's tables dropped */
        invalidate_all(s);
}

int tracking_init(server *s)
{
    tracking *t = calloc(1, sizeof *t);
    if (!t || tr_keys_init(&t->keys)) {
        free(t);
        return -ENOMEM;
    }
    t->prev_touch = s->ks.touch_fn;
    t->prev_db_touch = s->ks.db_touch_fn;
    t->prev_ctx = s->ks.touch_ctx;
    s->tracking = t;
    s->ks.touch_fn = on_touch;
    s->ks.db_touch_fn = on_db_touch;
    s->ks.touch_ctx = s;
    return 0;
}

void tracking_free(server *s)
{
    tracking *t = state_of(s);
    if (!t)
        return;
    s->ks.touch_fn = t->prev_touch;
    s->ks.db_touch_fn = t->prev_db_touch;
    s->ks.touch_ctx = t->prev_ctx;
    tr_keys_free(&t->keys);
    for (size_t i = 0; i < t->nprefixes; i++) {
        tr_prefix *p = &t->prefixes[i];
        for (size_t j = 0; j < p->nchanges; j++)
            free(p->changes[j].key.p);
        free(p->changes);
        free(p->clients);
        free(p->name.p);
    }
    free(t->prefixes);
    for (size_t i = 0; i < t->npending; i++)
        free(t->pending[i].key.p);
    free(t->pending);
    free(t->clients);
    free(t);
    s->tracking = NULL;
}

/* ---- the table's limit ---- */

/* Redis's trackingLimitUsedSlots: random keys invalidated until the table is within
   tracking-table-max-keys, 100 of them per call times the calls that found it still
   over. */
static void limit_table(server *s)
{
    tracking *t = state_of(s);
    long long max = s->cfg.tracking_table_max_keys;
    if (max <= 0 || t->keys.n <= (size_t)max) {
        t->limit_rounds = 0;
        return;
    }
    long long effort = 100LL * (t->limit_rounds + 1);
    while (effort-- > 0) {
        tr_key *k = tr_keys_take_random(&t->keys);
        if (!k)
            break;
        invalidate_entry(s, NULL, k);
        if (t->keys.n <= (size_t)max) {
            t->limit_rounds = 0;
            return;
        }
    }
    t->limit_rounds++;
}

void tracking_cron(server *s)
{
    tracking *t = state_of(s);
    if (t && t->nclients)
        limit_table(s);
}

/* ---- around commands ---- */

void tracking_call_begin(server *s, client *c)
{
    tracking *t = state_of(s);
    if (!t)
        return;
    if (t->depth++ == 0)
        t->current = c;
    t->calls++;
}

/* Redis's trackingRememberKeys: the keys of c's command (row, in c->cmd) into the table
   for c, unless OPTIN without CACHING yes or OPTOUT with CACHING no. */
static void remember_keys_of(server *s, client *c, const command *row)
{
    tr_client *tc = c->tracking;
    if ((tc->optin && !tc->caching) || (tc->optout && tc->caching))
        return;
    const resp_arg *argv = c->cmd.argv;
    int argc = c->cmd.argc;
    command_key *keys;
    int n = command_keys(row, argv, argc, &keys);
    for (int i = 0; i < n; i++) {
        const resp_arg *k = &argv[keys[i].pos];
        tr_keys_add(&state_of(s)->keys, k->p, k->len, c->id);
    }
    free(n > 0 ? keys : NULL);
}

/* Scripts are tracked by their reads (tracking_script_read), not as read-only commands
   themselves, as Redis 7.0 leaves out EVAL_RO, EVALSHA_RO and FCALL_RO. */
static bool is_script(const command *row)
{
    return row->fn == cmd_eval_ro || row->fn == cmd_evalsha_ro;
}

/* The keys of a read-only command (not a pub/sub one, not a script). */
static void remember_keys(server *s, client *c, const command *cmd)
{
    const resp_arg *argv = c->cmd.argv;
    int argc = c->cmd.argc;
    const command *row = cmd;
    if (command_nsubs(cmd) && argc >= 2)
        row = command_sub_lookup(cmd, argv[1].p, argv[1].len);
    if (!row)
        return;
    uint32_t f = command_redis_flags(row);
    if (!(f & CF_READONLY) || (f & CF_PUBSUB) || is_script(row))
        return;
    remember_keys_of(s, c, row);
}

void tracking_script_read(server *s, client *caller)
{
    if (!state_of(s) || !caller->tracking || !caller->tracking->on || caller->tracking->bcast)
        return;
    const command *row = command_lookup(caller->cmd.argv[0].p, caller->cmd.argv[0].len);
    if (row)
        remember_keys_of(s, caller, row);
}

void tracking_call_end(server *s, client *c, const command *cmd)
{
    tracking *t = state_of(s);
    if (!t)
        return;
    if (cmd && c->tracking && c->tracking->on && !c->tracking->bcast)
        remember_keys(s, c, cmd);
    if (--t->depth == 0 && !t->dispatching) {
        /* a command run outside the dispatcher (a blocked client served): its
           invalidations after its reply */
        send_pending(s);
        broadcast(s);
    }
}

void tracking_before_command(server *s, client *c)
{
    (void)c;
    if (s->tracking)
        s->tracking->dispatching = true;
}

void tracking_after_command(server *s, client *c, bool done)
{
    tracking *t = state_of(s);
    if (!t)
        return;
    t->dispatching = false;
    send_pending(s);
    broadcast(s);
    /* CLIENT CACHING lasts for the next command, or the next transaction (Redis's
       resetClient), a CLIENT command in between keeping it */
    if (done && c->tracking && c->tracking->caching && !multi_active(c) &&
        !arg_is(&c->cmd.argv[0], "client"))
        c->tracking->caching = false;
    if (t->nclients)
        limit_table(s);
}

/* ---- a client's tracking ---- */

static tr_prefix *prefix_find(tracking *t, const char *p, size_t len, size_t *pos)
{
    size_t lo = 0, hi = t->nprefixes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = tr_str_cmp(t->prefixes[mid].name.p, t->prefixes[mid].name.len, p, len);
        if (r == 0) {
            *pos = mid;
            return &t->prefixes[mid];
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return NULL;
}

/* c in BCAST mode for prefix (Redis's enableBcastTrackingForPrefix). 0 or -ENOMEM. */
static int bcast_add(tracking *t, client *c, const char *p, size_t len)
{
    tr_client *tc = c->tracking;
    size_t pos;
    tr_prefix *e = prefix_find(t, p, len, &pos);
    if (!e) {
        if (room_for((void **)&t->prefixes, &t->pcap, t->nprefixes, sizeof *t->prefixes))
            return -ENOMEM;
        tr_prefix fresh = {0};
        if (str_dup(&fresh.name, p, len))
            return -ENOMEM;
        memmove(&t->prefixes[pos + 1], &t->prefixes[pos],
                (t->nprefixes - pos) * sizeof *t->prefixes);
        t->prefixes[pos] = fresh;
        t->nprefixes++;
        e = &t->prefixes[pos];
    }
    for (size_t i = 0; i < e->nclients; i++)
        if (e->clients[i] == c)
            return 0;
    if (room_for((void **)&e->clients, &e->ccap, e->nclients, sizeof *e->clients) ||
        room_for((void **)&tc->prefixes, &tc->cap, tc->nprefixes, sizeof *tc->prefixes))
        return -ENOMEM;
    tr_str name;
    if (str_dup(&name, p, len))
        return -ENOMEM;
    e->clients[e->nclients++] = c;
    size_t at = 0;
    while (at < tc->nprefixes && tr_str_cmp(tc->prefixes[at].p, tc->prefixes[at].len, p, len) < 0)
        at++;
    memmove(&tc->prefixes[at + 1], &tc->prefixes[at], (tc->nprefixes - at) * sizeof name);
    tc->prefixes[at] = name;
    tc->nprefixes++;
    return 0;
}

/* c out of prefix's clients; the prefix goes with its last client. */
static void bcast_remove(tracking *t, client *c, const tr_str *name)
{
    size_t pos;
    tr_prefix *e = prefix_find(t, name->p, name->len, &pos);
    if (!e)
        return;
    for (size_t i = 0; i < e->nclients; i++)
        if (e->clients[i] == c) {
            memmove(&e->clients[i], &e->clients[i + 1], (e->nclients - i - 1) * sizeof c);
            e->nclients--;
            break;
        }
    if (e->nclients)
        return;
    for (size_t j = 0; j < e->nchanges; j++)
        free(e->changes[j].key.p);
    free(e->changes);
    free(e->clients);
    free(e->name.p);
    memmove(&t->prefixes[pos], &t->prefixes[pos + 1], (t->nprefixes - pos - 1) * sizeof *e);
    t->nprefixes--;
}

int tr_enable(server *s, client *c, uint64_t redirect_id, client *redir, bool bcast, bool optin,
              bool optout, bool noloop, const tr_str *prefixes, size_t n)
{
    tracking *t = state_of(s);
    if (!c->tracking && !(c->tracking = calloc(1, sizeof(tr_client))))
        return -ENOMEM;
    tr_client *tc = c->tracking;
    if (clients_add(t, c))
        return -ENOMEM;
    tc->on = true;
    tc->broken_redir = tc->bcast = tc->optin = tc->optout = tc->noloop = false;
    tc->redirect_id = redirect_id;
    tc->redir = redir;
    if (bcast) {
        tc->bcast = true;
        if (n == 0 && bcast_add(t, c, "", 0))
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (bcast_add(t, c, prefixes[i].p, prefixes[i].len))
                return -ENOMEM;
    }
    tc->optin = optin;
    tc->optout = optout;
    tc->noloop = noloop;
    return 0;
}

void tracking_disable(server *s, client *c)
{
    tracking *t = state_of(s);
    tr_client *tc = c->tracking;
    if (!t || !tc)
        return;
    for (size_t i = 0; i < tc->nprefixes; i++) {
        bcast_remove(t, c, &tc->prefixes[i]);
        free(tc->prefixes[i].p);
    }
    tc->nprefixes = 0;
    if (tc->on)
        clients_remove(t, c);
    tc->on = tc->broken_redir = tc->bcast = tc->optin = tc->optout = false;
    tc->caching = tc->noloop = false;
    tc->redir = NULL;
}

void tracking_client_gone(server *s, client *c)
{
    tracking *t = state_of(s);
    if (!t)
        return;
    tracking_disable(s, c);
    if (c->tracking) {
        free(c->tracking->prefixes);
        free(c->tracking);
        c->tracking = NULL;
    }
    for (size_t i = 0; i < t->nclients; i++)
        if (t->clients[i]->tracking->redir == c)
            t->clients[i]->tracking->redir = NULL; /* broken at its next message */
    for (size_t i = 0; i < t->npending; i++)
        if (t->pending[i].target == c)
            t->pending[i].target = NULL;
    for (size_t i = 0; i < t->nprefixes; i++)
        for (size_t j = 0; j < t->prefixes[i].nchanges; j++)
            if (t->prefixes[i].changes[j].writer == c)
                t->prefixes[i].changes[j].writer = NULL;
    if (t->current == c)
        t->current = NULL;
}

/* ---- about a client, INFO ---- */

char *tracking_flags(const client *c, char *p)
{
    const tr_client *tc = c->tracking;
    if (!tc || !tc->on)
        return p;
    *p++ = 't';
    if (tc->broken_redir)
        *p++ = 'R';
    if (tc->bcast)
        *p++ = 'B';
    return p;
}

long long tracking_redirect(const client *c)
{
    const tr_client *tc = c->tracking;
    return tc && tc->on ? (long long)tc->redirect_id : -1;
}

long long tracking_clients(server *s)
{
    tracking *t = state_of(s);
    long long n = 0;
    for (size_t i = 0; t && i < t->nclients; i++)
        n += !t->clients[i]->close_after_reply; /* (QUIT: gone in Redis by now) */
    return n;
}

long long tracking_total_keys(server *s)
{
    return s->tracking ? (long long)s->tracking->keys.n : 0;
}

long long tracking_total_items(server *s)
{
    return s->tracking ? (long long)s->tracking->keys.items : 0;
}

long long tracking_total_prefixes(server *s)
{
    return s->tracking ? (long long)s->tracking->nprefixes : 0;
}

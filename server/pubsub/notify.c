/*
 * notify.c - keyspace notifications (notify.h): the class letters, the events waiting for
 * their commit, and their publication through pubsub_publish.
 */
#include "notify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub.h"

/* ---- the class letters ---- */

static const struct {
    char letter;
    int flag;
} classes[] = {
    /* the order CONFIG GET shows them in (Redis's keyspaceEventsFlagsToString) */
    {'g', NOTIFY_GENERIC},  {'$', NOTIFY_STRING},   {'l', NOTIFY_LIST},    {'s', NOTIFY_SET},
    {'h', NOTIFY_HASH},     {'z', NOTIFY_ZSET},     {'x', NOTIFY_EXPIRED}, {'e', NOTIFY_EVICTED},
    {'t', NOTIFY_STREAM},   {'d', NOTIFY_MODULE},   {'n', NOTIFY_NEW},     {'K', NOTIFY_KEYSPACE},
    {'E', NOTIFY_KEYEVENT}, {'m', NOTIFY_KEY_MISS},
};
#define NCLASSES (sizeof classes / sizeof classes[0])

int notify_parse_classes(const char *letters)
{
    int flags = 0;
    for (const char *p = letters; *p; p++) {
        int f = *p == 'A' ? NOTIFY_ALL : 0;
        for (size_t i = 0; !f && i < NCLASSES; i++)
            if (classes[i].letter == *p)
                f = classes[i].flag;
        if (!f)
            return -1;
        flags |= f;
    }
    return flags;
}

void notify_format_classes(int flags, char *buf, size_t cap)
{
    size_t n = 0;
    bool all = (flags & NOTIFY_ALL) == NOTIFY_ALL;
    if (all && n + 1 < cap)
        buf[n++] = 'A';
    for (size_t i = 0; i < NCLASSES && n + 1 < cap; i++) {
        /* with A Redis shows no other class letter: not even n, which A leaves out */
        bool channel_or_miss =
            classes[i].flag & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT | NOTIFY_KEY_MISS);
        if ((flags & classes[i].flag) && (!all || channel_or_miss))
            buf[n++] = classes[i].letter;
    }
    if (cap)
        buf[n] = '\0';
}

/* ---- the events waiting for their commit ---- */

typedef struct pending_event {
    const char *event; /* a static string; NULL: dropped (notify_drop_new) */
    int dbi;
    size_t key_off, klen; /* in keys */
    size_t at; /* self's reply buffer length when told (SIZE_MAX: after the reply) */
} pending_event;

struct notify_pending {
    pending_event *ev;
    size_t n, cap;
    char *keys;
    size_t keys_len, keys_cap;
    size_t mark; /* the running command's first event */
    client *self; /* the client whose command runs (notify_command_begin), or NULL */
    size_t pin; /* 0, or 1 + where the running command's events go from now on (SIZE_MAX:
                   after its reply) */
};

/* Grows *p (elements of elem bytes, *cap of them) to hold need. False without memory. */
static bool reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np)
        return false;
    *p = np;
    *cap = ncap;
    return true;
}

/* Without memory the event is lost, as a message to a subscriber that was cut off would
   be: the write it describes stands. */
/* The waiting events, created the first time (NULL without memory). */
static struct notify_pending *pending(server *s)
{
    if (!s->notify)
        s->notify = calloc(1, sizeof *s->notify);
    return s->notify;
}

void notify_queue(server *s, int cls, const char *event, int dbi, const void *key, size_t klen)
{
    (void)cls;
    struct notify_pending *q = pending(s);
    if (!q || !reserve((void **)&q->ev, &q->cap, q->n + 1, sizeof *q->ev) ||
        !reserve((void **)&q->keys, &q->keys_cap, q->keys_len + klen + 1, 1))
        return;
    if (klen)
        memcpy(q->keys + q->keys_len, key, klen);
    size_t at = SIZE_MAX; /* where the running command's client gets it */
    if (q->self)
        at = q->pin == SIZE_MAX ? SIZE_MAX : q->pin ? q->pin - 1 : q->self->out.len;
    q->ev[q->n++] = (pending_event){event, dbi, q->keys_len, klen, at};
    q->keys_len += klen;
}

void notify_mark(server *s)
{
    struct notify_pending *q = s->notify;
    if (!q)
        return;
    /* in EXEC the previous command's reply ends here: its events that follow it go here */
    for (size_t i = q->mark; q->self && i < q->n; i++)
        if (q->ev[i].at == SIZE_MAX)
            q->ev[i].at = q->self->out.len;
    q->mark = q->n;
    q->pin = 0;
}

void notify_reply_first(server *s)
{
    if (s->notify)
        s->notify->pin = SIZE_MAX;
}

void notify_reply_at(server *s, const client *c, size_t at)
{
    struct notify_pending *q = s->notify;
    if (q) /* another client's reply (a blocked client served): after the running one's */
        q->pin = c == q->self && at < SIZE_MAX - 1 ? at + 1 : SIZE_MAX;
}

void notify_command_begin(server *s, client *c)
{
    pubsub_aside_begin(s, c);
    if (pending(s)) /* (even with notifications off: CONFIG SET in EXEC may turn them on) */
        s->notify->self = c;
}

void notify_command_end(server *s, client *c)
{
    pubsub_aside_place(s, c);
    if (s->notify) {
        s->notify->self = NULL;
        s->notify->pin = 0;
    }
}

void notify_drop_new(server *s, int dbi, const void *key, size_t klen)
{
    struct notify_pending *q = s->notify;
    for (size_t i = q ? q->mark : 0; q && i < q->n; i++) {
        pending_event *e = &q->ev[i];
        if (e->event != NULL && strcmp(e->event, "new") == 0 && e->dbi == dbi && e->klen == klen &&
            memcmp(q->keys + e->key_off, key, klen) == 0)
            e->event = NULL; /* skipped when published */
    }
}

void notify_drop_command(server *s)
{
    struct notify_pending *q = s->notify;
    if (!q || q->mark >= q->n)
        return;
    q->keys_len = q->ev[q->mark].key_off;
    q->n = q->mark;
}

void notify_drop_all(server *s)
{
    if (s->notify)
        s->notify->n = s->notify->keys_len = s->notify->mark = 0;
}

/* "<prefix><db>__:<name>" into buf (cap bytes) or, when longer, a malloc'ed copy in
 *heap (freed by the caller). Its length, or 0 without memory. */
static size_t channel_name(const char *prefix, int dbi, const char *name, size_t len, char *buf,
                           size_t cap, char **heap)
{
    char head[48];
    int hl = snprintf(head, sizeof head, "%s%d__:", prefix, dbi);
    size_t total = (size_t)hl + len;
    char *out = buf;
    *heap = NULL;
    if (total > cap) {
        out = *heap = malloc(total);
        if (!out)
            return 0;
    }
    memcpy(out, head, (size_t)hl);
    if (len)
        memcpy(out + hl, name, len);
    return total;
}

/* Publishes one event on the channel kinds notify-keyspace-events selects (Redis's
   notifyKeyspaceEvent: the keyspace channel first). */
static void publish_event(server *s, int flags, const pending_event *e, const char *key)
{
    const char *event = e->event;
    int dbi = e->dbi;
    size_t klen = e->klen;
    char buf[512], *heap;
    pubsub_aside_at(s, e->at);
    size_t elen = strlen(event);
    if (flags & NOTIFY_KEYSPACE) {
        size_t n = channel_name("__keyspace@", dbi, key, klen, buf, sizeof buf, &heap);
        if (n)
            pubsub_publish(s, heap ? heap : buf, n, event, elen, false);
        free(heap);
    }
    if (flags & NOTIFY_KEYEVENT) {
        size_t n = channel_name("__keyevent@", dbi, event, elen, buf, sizeof buf, &heap);
        if (n)
            pubsub_publish(s, heap ? heap : buf, n, key, klen, false);
        free(heap);
    }
    pubsub_aside_stop(s);
}

void notify_flush(server *s)
{
    struct notify_pending *q = s->notify;
    if (!q || !q->n || ks_in_txn(&s->ks))
        return;
    int flags = (int)s->cfg.notify_keyspace_events;
    /* publishing runs no command, so nothing is queued meanwhile */
    for (size_t i = 0; i < q->n; i++)
        if (q->ev[i].event)
            publish_event(s, flags, &q->ev[i], q->keys + q->ev[i].key_off);
    notify_drop_all(s);
}

void notify_free(server *s)
{
    struct notify_pending *q = s->notify;
    if (!q)
        return;
    free(q->ev);
    free(q->keys);
    free(q);
    s->notify = NULL;
}

/* ---- expiries and new keys, told by the key layer ---- */

static void on_key_event(void *ctx, int event, int dbi, const void *key, size_t klen)
{
    server *s = ctx;
    if (event == KS_KEY_CREATED) {
        notify(s, NOTIFY_NEW, "new", dbi, key, klen);
        return;
    }
    struct notify_pending *q = s->notify;
    bool nothing_after_mark = !q || q->mark == q->n;
    notify(s, NOTIFY_EXPIRED, "expired", dbi, key, klen);
    /* Outside a transaction the reap is written already: its event stays even if the
       command that read the key fails later (it is before the command's own events). */
    if (!ks_in_txn(&s->ks) && nothing_after_mark && s->notify)
        s->notify->mark = s->notify->n;
}

void notify_init(server *s)
{
    s->ks.key_event_fn = on_key_event;
    s->ks.key_event_ctx = s;
}

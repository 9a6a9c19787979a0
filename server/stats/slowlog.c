/* slowlog.c - the slow command log (see slowlog.h): a ring that grows up to the entries
   kept and drops its oldest past slowlog-max-len. */
#include "slowlog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void entry_clear(slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    memset(e, 0, sizeof *e);
}

/* The argument as kept: "(redacted)", the "(N more arguments)" marker in the last slot
   of a longer command, or its first SLOWLOG_ARG_BYTES bytes and how many more. */
static int keep_arg(slowlog_entry *e, const slowlog_call *call, int i)
{
    char buf[SLOWLOG_ARG_BYTES + 48];
    const char *p = buf;
    size_t len;
    const resp_arg *a = &call->argv[i];
    if (i == SLOWLOG_ARGS - 1 && call->argc > SLOWLOG_ARGS) {
        len = (size_t)snprintf(buf, sizeof buf, "... (%d more arguments)",
                               call->argc - SLOWLOG_ARGS + 1);
    } else if (i < 32 && (call->redacted >> i) & 1) {
        len = (size_t)snprintf(buf, sizeof buf, "(redacted)");
    } else if (a->len > SLOWLOG_ARG_BYTES) {
        memcpy(buf, a->p, SLOWLOG_ARG_BYTES);
        len = SLOWLOG_ARG_BYTES +
              (size_t)snprintf(buf + SLOWLOG_ARG_BYTES, sizeof buf - SLOWLOG_ARG_BYTES,
                               "... (%zu more bytes)", a->len - SLOWLOG_ARG_BYTES);
    } else {
        p = a->p;
        len = a->len;
    }
    e->argv[i] = malloc(len + 1);
    if (!e->argv[i])
        return -ENOMEM;
    memcpy(e->argv[i], p, len);
    e->argv[i][len] = '\0';
    e->arglen[i] = len;
    e->argc = i + 1;
    return 0;
}

static void drop_oldest(slowlog *l)
{
    entry_clear(&l->ring[l->start]);
    l->start = (l->start + 1) % l->cap;
    l->len--;
}

/* Room for one more entry: the ring doubles (up to max), else the oldest goes. */
static int make_room(slowlog *l, long long max)
{
    if (l->len < l->cap)
        return 0;
    if ((long long)l->cap >= max && l->len) {
        drop_oldest(l);
        return 0;
    }
    size_t cap = l->cap ? 2 * l->cap : 16;
    if ((long long)cap > max && max > 0)
        cap = (size_t)max;
    slowlog_entry *ring = calloc(cap, sizeof *ring);
    if (!ring)
        return -ENOMEM;
    for (size_t i = 0; i < l->len; i++) /* oldest first, from 0 */
        ring[i] = l->ring[(l->start + i) % l->cap];
    free(l->ring);
    l->ring = ring;
    l->cap = cap;
    l->start = 0;
    return 0;
}

int slowlog_push(slowlog *l, const slowlog_call *call, long long max)
{
    uint64_t id = l->next_id++; /* Redis counts an id even for an entry trimmed at once */
    if (max <= 0) {
        while (l->len)
            drop_oldest(l);
        return 0;
    }
    if (make_room(l, max))
        return -ENOMEM;
    slowlog_entry *e = &l->ring[(l->start + l->len) % l->cap];
    memset(e, 0, sizeof *e);
    e->id = id;
    e->time_s = call->time_s;
    e->micros = call->micros;
    int n = call->argc > SLOWLOG_ARGS ? SLOWLOG_ARGS : call->argc;
    for (int i = 0; i < n; i++)
        if (keep_arg(e, call, i)) {
            entry_clear(e);
            return -ENOMEM;
        }
    snprintf(e->addr, sizeof e->addr, "%s", call->addr ? call->addr : "");
    snprintf(e->name, sizeof e->name, "%s", call->name ? call->name : "");
    l->len++;
    while ((long long)l->len > max)
        drop_oldest(l);
    return 0;
}

const slowlog_entry *slowlog_at(const slowlog *l, size_t i)
{
    if (i >= l->len)
        return NULL;
    return &l->ring[(l->start + l->len - 1 - i) % l->cap];
}

void slowlog_reset(slowlog *l)
{
    while (l->len)
        drop_oldest(l);
}

void slowlog_free(slowlog *l)
{
    slowlog_reset(l);
    free(l->ring);
    l->ring = NULL;
    l->cap = l->start = 0;
}

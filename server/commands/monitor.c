/* monitor.c - MONITOR's clients and the lines they are fed (see monitor.h). */
#include "monitor.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

/* A monitor: its lines waiting for its loop, and its place in the list. */
typedef struct monitor {
    client *c;
    resp_out pending;
    struct monitor *prev, *next;
} monitor;

typedef struct monitors {
    monitor *head, *tail; /* in the order they became monitors */
    int nloops;
    bool *has_lines; /* per loop: a monitor of it has pending lines (atomic) */
} monitors;

int monitor_init(server *s, int nloops)
{
    monitors *m = calloc(1, sizeof *m);
    bool *flags = calloc((size_t)(nloops > 0 ? nloops : 1), sizeof *flags);
    if (!m || !flags) {
        free(m);
        free(flags);
        return -ENOMEM;
    }
    m->nloops = nloops;
    m->has_lines = flags;
    s->monitors = m;
    return 0;
}

void monitor_free(server *s)
{
    monitors *m = s->monitors;
    if (!m)
        return;
    while (m->head)
        monitor_stop(s, m->head->c);
    free(m->has_lines);
    free(m);
    s->monitors = NULL;
}

bool monitor_is(const client *c)
{
    return c->monitor != NULL;
}

int monitor_start(server *s, client *c)
{
    monitors *m = s->monitors;
    if (c->monitor)
        return 0;
    monitor *e = calloc(1, sizeof *e);
    if (!m || !e) {
        free(e);
        return -ENOMEM;
    }
    e->c = c;
    e->prev = m->tail;
    if (m->tail)
        m->tail->next = e;
    else
        m->head = e;
    m->tail = e;
    c->monitor = e;
    return 0;
}

void monitor_stop(server *s, client *c)
{
    monitors *m = s->monitors;
    monitor *e = c->monitor;
    if (!e || !m)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        m->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        m->tail = e->prev;
    resp_out_free(&e->pending);
    free(e);
    c->monitor = NULL;
}

/* The letter sdscatrepr escapes ch with (\n, \", ...), or 0. */
static char escape_letter(unsigned char ch)
{
    static const char pairs[] = "\\\\\"\"\nn\rr\tt\aa\bb";
    for (size_t i = 0; i + 1 < sizeof pairs; i += 2)
        if ((unsigned char)pairs[i] == ch)
            return pairs[i + 1];
    return 0;
}

void monitor_repr(resp_out *o, const char *p, size_t n)
{
    char buf[512];
    size_t len = 0;
    buf[len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (len > sizeof buf - 8) {
            resp_raw(o, buf, len);
            len = 0;
        }
        unsigned char ch = (unsigned char)p[i];
        char esc = escape_letter(ch);
        if (esc) {
            buf[len++] = '\\';
            buf[len++] = esc;
        } else if (ch >= 0x20 && ch < 0x7f) { /* isprint in the C locale */
            buf[len++] = (char)ch;
        } else {
            len += (size_t)snprintf(buf + len, sizeof buf - len, "\\x%02x", ch);
        }
    }
    buf[len++] = '"';
    resp_raw(o, buf, len);
}

/* Whether Redis feeds a call of cmd by c to monitors (see monitor.h). */
static bool fed(const client *c, const command *cmd)
{
    const command *row = cmd;
    if (command_nsubs(cmd) && c->cmd.argc >= 2) {
        row = command_sub_lookup(cmd, c->cmd.argv[1].p, c->cmd.argv[1].len);
        if (!row)
            return false; /* an unknown subcommand: Redis refuses it before running */
    }
    return !(command_redis_flags(row) & (CF_ADMIN | CF_SKIP_MONITOR)) && !(row->flags & ADMIN);
}

/* The line for c's command, into o. */
static void format_line(server *s, const client *c, resp_out *o)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char head[256];
    int n;
    if (c->unix_socket)
        n = snprintf(head, sizeof head, "+%ld.%06ld [%d unix:%s] ", (long)tv.tv_sec,
                     (long)tv.tv_usec, c->db, s->cfg.unixsocket);
    else
        n = snprintf(head, sizeof head, "+%ld.%06ld [%d %s] ", (long)tv.tv_sec, (long)tv.tv_usec,
                     c->db, c->addr);
    resp_raw(o, head, n < 0 ? 0 : (size_t)n < sizeof head ? (size_t)n : sizeof head - 1);
    for (int i = 0; i < c->cmd.argc; i++) {
        if (i > 0)
            resp_raw(o, " ", 1);
        if (i < 32 && (c->redacted & (1u << i)))
            resp_raw(o, "\"(redacted)\"", 12);
        else
            monitor_repr(o, c->cmd.argv[i].p, c->cmd.argv[i].len);
    }
    resp_raw(o, "\r\n", 2);
}

/* Hands the pending lines of e's client to its loop. */
static void flag_loop(server *s, monitor *e)
{
    monitors *m = s->monitors;
    int idx = net_loop_index(e->c);
    if (idx < 0 || idx >= m->nloops)
        return;
    if (!__atomic_exchange_n(&m->has_lines[idx], true, __ATOMIC_RELEASE))
        net_wake_loop(s, idx);
}

void monitor_feed(server *s, client *c, const command *cmd)
{
    if (fed(c, cmd))
        monitor_feed_line(s, c);
}

void monitor_feed_line(server *s, client *c)
{
    monitors *m = s->monitors;
    if (!m || !m->head)
        return;
    resp_out line = {0};
    format_line(s, c, &line);
    /* MULTI/EXEC (server/multi/, another change): EXEC feeds "multi" before the queued
       commands' lines and "exec" after them, as Redis's execCommand does; it calls
       monitor_feed for each queued command with c->cmd set to it. */
    for (monitor *e = m->head; e; e = e->next) {
        if (client_closed(e->c) || e->c->killed || e->c->close_after_reply)
            continue; /* (Redis adds nothing to a client closing after its reply) */
        resp_raw(&e->pending, line.data, line.len);
        flag_loop(s, e);
    }
    resp_out_free(&line);
}

/* Moves e's pending lines into its client's replies (on its loop). */
static void deliver(monitor *e)
{
    if (e->pending.len == 0)
        return;
    net_join_round(e->c);
    resp_raw(&e->c->out, e->pending.data, e->pending.len);
    e->pending.len = 0;
}

void monitor_before_command(server *s, client *c)
{
    if (c->monitor)
        deliver(c->monitor);
}

bool monitor_has_work(server *s, int loop)
{
    monitors *m = s->monitors;
    return m && loop >= 0 && loop < m->nloops &&
           __atomic_load_n(&m->has_lines[loop], __ATOMIC_ACQUIRE);
}

void monitor_run(server *s, int loop)
{
    monitors *m = s->monitors;
    if (!m || loop < 0 || loop >= m->nloops)
        return;
    __atomic_store_n(&m->has_lines[loop], false, __ATOMIC_RELEASE);
    for (monitor *e = m->head; e; e = e->next)
        if (net_loop_index(e->c) == loop && !e->c->closed)
            deliver(e);
}

/*
 * multi.c - a client's MULTI state: the queue of its commands, and EXEC, which runs them
 * as one transaction of the key layer (multi.h).
 */
#include "multi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "script.h"

int multi_init(server *s)
{
    return watch_table_new(s);
}

void multi_free(server *s)
{
    watch_table_free(s);
}

/* c's state, made on first use; NULL without memory. */
static multi_client *state_of(client *c)
{
    if (!c->mx)
        c->mx = calloc(1, sizeof *c->mx);
    return c->mx;
}

bool multi_active(const client *c)
{
    return c->mx && c->mx->active;
}

bool multi_queues(const client *c, const command *cmd)
{
    if (!multi_active(c))
        return false;
    return cmd->fn != cmd_exec && cmd->fn != cmd_discard && cmd->fn != cmd_multi &&
           cmd->fn != cmd_watch && cmd->fn != cmd_quit && cmd->fn != cmd_reset;
}

void multi_flag_error(client *c)
{
    if (multi_active(c))
        c->mx->dirty_exec = true;
}

int multi_queued_flags(const client *c)
{
    int flags = 0;
    for (size_t i = 0; multi_active(c) && i < c->mx->n; i++)
        flags |= c->mx->q[i].cmd->flags;
    return flags;
}

bool multi_queued_writes(const client *c)
{
    return multi_active(c) && c->mx->writes;
}

bool multi_queued_may_replicate(const client *c)
{
    return multi_active(c) && c->mx->may_replicate;
}

bool multi_deny_blocking(const client *c)
{
    return (c->mx && c->mx->in_exec) || c->in_script;
}

/* A copy of argv[0..argc): the resp_arg array followed by the bytes (malloc'ed). */
static resp_arg *copy_args(const resp_arg *argv, int argc)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    resp_arg *out = malloc((size_t)argc * sizeof *out + bytes + 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + argc);
    for (int i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(p, argv[i].p, argv[i].len);
        out[i].p = p;
        out[i].len = argv[i].len;
        p += argv[i].len;
    }
    return out;
}

void multi_queue(client *c, const command *cmd, bool writes, bool may_replicate)
{
    multi_client *mx = c->mx;
    if (mx->dirty_exec) { /* EXEC fails anyway: keep no memory for it (as Redis) */
        resp_simple(&c->out, "QUEUED");
        return;
    }
    if (mx->n == mx->cap) {
        size_t cap = mx->cap ? mx->cap * 2 : 4;
        multi_queued *q = realloc(mx->q, cap * sizeof *q);
        if (!q)
            goto oom;
        mx->q = q;
        mx->cap = cap;
    }
    resp_arg *argv = copy_args(c->cmd.argv, c->cmd.argc);
    if (!argv)
        goto oom;
    mx->q[mx->n++] = (multi_queued){cmd, c->cmd.argc, argv};
    mx->writes |= writes;
    mx->may_replicate |= may_replicate;
    mx->argv_bytes += (size_t)c->cmd.argc * sizeof *argv;
    for (int i = 0; i < c->cmd.argc; i++)
        mx->argv_bytes += c->cmd.argv[i].len;
    resp_simple(&c->out, "QUEUED");
    return;
oom:
    mx->dirty_exec = true;
    reply_engine_error(c, -ENOMEM);
}

int multi_start(client *c)
{
    multi_client *mx = state_of(c);
    if (!mx)
        return -ENOMEM;
    if (mx->active)
        return -1;
    mx->active = true;
    return 0;
}

static void free_queue(multi_client *mx)
{
    for (size_t i = 0; i < mx->n; i++)
        free(mx->q[i].argv);
    free(mx->q);
    mx->q = NULL;
    mx->n = mx->cap = 0;
    mx->argv_bytes = 0;
}

size_t multi_queued_bytes(const client *c)
{
    return c->mx && c->mx->active ? c->mx->argv_bytes : 0;
}

void multi_discard(server *s, client *c)
{
    multi_client *mx = c->mx;
    if (!mx)
        return;
    free_queue(mx);
    mx->active = mx->dirty_exec = mx->dirty_cas = mx->writes = mx->may_replicate = false;
    watch_forget_all(s, c);
}

void multi_client_gone(server *s, client *c)
{
    multi_discard(s, c);
    free(c->mx);
    c->mx = NULL;
}

/* EXEC refused before running anything: Redis's execCommandAbort wording around the
   error reply written at from (which it replaces); a plain "ERR" goes, as Redis words
   its own messages without it there, while a code (OOM, MISCONF, BUSY) stays. */
static void abort_with_reply_at(client *c, size_t from)
{
    char msg[512];
    const char *e = c->out.data + from + 1;                /* past '-' */
    size_t n = c->out.len - from >= 3 ? c->out.len - from - 3 : 0; /* without "\r\n" */
    if (n >= 4 && memcmp(e, "ERR ", 4) == 0) {
        e += 4;
        n -= 4;
    }
    snprintf(msg, sizeof msg, "EXECABORT Transaction discarded because of: %.*s", (int)n, e);
    c->out.len = from;
    resp_error(&c->out, msg);
}

/* The server's state refuses the queue before it runs (Redis rejects EXEC itself then):
   writes may not be durable, or the disk refuses writes. True with the reply written. */
static bool refused_by_disk(server *s, client *c)
{
    int unsynced = __atomic_load_n(&s->unsynced_error, __ATOMIC_RELAXED);
    int any = multi_queued_flags(c);
    size_t from = c->out.len;
    if (unsynced && (any & (R | W)))
        reply_unsynced_error(c, unsynced);
    else if (s->disk_error && (any & W))
        reply_disk_error(c, s->disk_error);
    else
        return false;
    abort_with_reply_at(c, from);
    return true;
}

/* Runs the queue inside one key-layer transaction; each reply is one element of the
   array written at from. On a failed commit the array is replaced by the error. */
static void run_queue(server *s, client *c)
{
    multi_client *mx = c->mx;
    size_t from = c->out.len;
    int rc = ks_txn_begin(&s->ks);
    if (rc) {
        ks_finish(s, c, rc);
        abort_with_reply_at(c, from);
        return;
    }
    resp_array(&c->out, (long long)mx->n);
    resp_cmd saved = c->cmd;
    mx->in_exec = true;
    for (size_t i = 0; i < mx->n; i++) {
        c->cmd.argv = mx->q[i].argv;
        c->cmd.argc = mx->q[i].argc;
        command_call(s, c, mx->q[i].cmd, c->out.len);
    }
    mx->in_exec = false;
    c->cmd = saved;
    if (script_abandoned(s)) { /* SHUTDOWN NOSAVE during its busy script: nothing commits */
        ks_txn_abort(&s->ks);
        notify_drop_all(s);
        c->out.len = from;
        c->close_after_reply = true;
        return;
    }
    rc = ks_txn_commit(&s->ks);
    if (rc) {
        /* nothing of the batch was written (or, across a fifo database and the main
           engine, see keyspace.h): the replies would describe writes that are not there */
        c->out.len = from;
        notify_drop_all(s); /* the events of writes that are not there */
        ks_finish(s, c, rc);
        abort_with_reply_at(c, from);
        return;
    }
    server_wrote(s); /* the batch: with sync-writes yes the replies wait for its sync */
    notify_flush(s); /* the queued commands' events, in order, now that they are written */
}

void multi_exec_refused(server *s, client *c, size_t from)
{
    abort_with_reply_at(c, from);
    multi_discard(s, c);
}

void multi_exec(server *s, client *c)
{
    multi_client *mx = c->mx;
    if (!mx->dirty_cas && watch_any_expired(s, c))
        mx->dirty_cas = true; /* a watched key expired since WATCH */
    if (mx->dirty_exec)
        resp_error(&c->out, "EXECABORT Transaction discarded because of previous errors.");
    else if (mx->dirty_cas)
        resp_null_array(&c->out, c->proto);
    else if (!refused_by_disk(s, c)) {
        watch_forget_all(s, c); /* its own writes must not mark it */
        run_queue(s, c);
    }
    multi_discard(s, c);
}

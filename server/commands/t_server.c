/*
 * t_server.c - server commands: SWAPDB FLUSHDB FLUSHALL TIME LASTSAVE SAVE BGSAVE
 * SHUTDOWN FUNCTION WAIT DEBUG SLOWLOG LATENCY; the client list, the slowlog, and the
 * periodic cron (active expiry, sweeping dropped databases).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "blocking.h"
#include "server.h"

void cmd_swapdb(server *s, client *c)
{
    long long a, b;
    if (!arg_ll(&c->cmd.argv[1], &a)) {
        resp_error(&c->out, "ERR invalid first DB index");
        return;
    }
    if (!arg_ll(&c->cmd.argv[2], &b)) {
        resp_error(&c->out, "ERR invalid second DB index");
        return;
    }
    if (a < 0 || a >= KS_DBS || b < 0 || b >= KS_DBS) {
        resp_error(&c->out, "ERR DB index is out of range");
        return;
    }
    int rc = a == b ? 0 : ks_swap(&s->ks, (int)a, (int)b);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    server_wrote(s);
    resp_simple(&c->out, "OK");
}

static void flush_generic(server *s, client *c, int dbi)
{
    if (c->cmd.argc > 2 ||
        (c->cmd.argc == 2 && !arg_is(&c->cmd.argv[1], "async") && !arg_is(&c->cmd.argv[1], "sync"))) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    /* O(1) either way: the database gets a new physical id and the sweeper deletes the
       old keys in the background, so ASYNC and SYNC both return at once */
    int rc = ks_flush(&s->ks, dbi);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    server_wrote(s);
    resp_simple(&c->out, "OK");
}

void cmd_flushdb(server *s, client *c)
{
    flush_generic(s, c, c->db);
}

void cmd_flushall(server *s, client *c)
{
    flush_generic(s, c, -1);
}

void cmd_time(server *s, client *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char a[24], b[24];
    int na = snprintf(a, sizeof a, "%ld", (long)tv.tv_sec);
    int nb = snprintf(b, sizeof b, "%ld", (long)tv.tv_usec);
    resp_array(&c->out, 2);
    resp_bulk(&c->out, a, (size_t)na);
    resp_bulk(&c->out, b, (size_t)nb);
}

void cmd_lastsave(server *s, client *c)
{
    resp_integer(&c->out, (long long)__atomic_load_n(&s->lastsave_s, __ATOMIC_RELAXED));
}

#define BGSAVE_BUSY "ERR Background save already in progress"

static bool bgsave_running(server *s)
{
    return __atomic_load_n(&s->bgsave.running, __ATOMIC_ACQUIRE) != 0;
}

void cmd_save(server *s, client *c)
{
    if (bgsave_running(s)) { /* as Redis: a SAVE does not run beside a BGSAVE */
        resp_error(&c->out, BGSAVE_BUSY);
        return;
    }
    int rc = ks_engines_flush(&s->ks);
    if (rc == 0)
        rc = ks_engines_sync(&s->ks);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    __atomic_store_n(&s->lastsave_s, (uint64_t)time(NULL), __ATOMIC_RELAXED);
    resp_simple(&c->out, "OK");
}

static void *bgsave_thread(void *arg)
{
    server *s = arg;
    if (ks_engines_flush(&s->ks) == 0)
        __atomic_store_n(&s->lastsave_s, (uint64_t)time(NULL), __ATOMIC_RELAXED);
    __atomic_store_n(&s->bgsave.running, 0, __ATOMIC_RELEASE);
    return NULL;
}

/* Joins the last BGSAVE's thread (it may still be flushing). Lock held, or the loops
   stopped. */
void server_bgsave_wait(server *s)
{
    if (s->bgsave.started)
        pthread_join(s->bgsave.thread, NULL);
    s->bgsave.started = false;
}

/* One background save at a time, as in Redis (it forks one child); its thread is joined
   by the next BGSAVE or at shutdown. SCHEDULE: Redis schedules a BGSAVE only behind an
   AOF rewrite, which shale does not have, so it is the same as without. */
void cmd_bgsave(server *s, client *c)
{
    if (c->cmd.argc > 2 || (c->cmd.argc == 2 && !arg_is(&c->cmd.argv[1], "schedule"))) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    if (bgsave_running(s)) {
        resp_error(&c->out, BGSAVE_BUSY);
        return;
    }
    server_bgsave_wait(s); /* the last one has finished: its thread returns at once */
    __atomic_store_n(&s->bgsave.running, 1, __ATOMIC_RELAXED);
    if (pthread_create(&s->bgsave.thread, NULL, bgsave_thread, s)) {
        __atomic_store_n(&s->bgsave.running, 0, __ATOMIC_RELAXED);
        resp_error(&c->out, "ERR cannot start the background save");
        return;
    }
    s->bgsave.started = true;
    resp_simple(&c->out, "Background saving started");
}

void cmd_shutdown(server *s, client *c)
{
    for (int i = 1; i < c->cmd.argc; i++) {
        resp_arg *a = &c->cmd.argv[i];
        if (arg_is(a, "abort")) {
            resp_error(&c->out, "ERR No shutdown in progress.");
            return;
        }
        if (!arg_is(a, "nosave") && !arg_is(a, "save") && !arg_is(a, "now") && !arg_is(a, "force")) {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
    }
    /* every acknowledged write is already in the WAL: NOSAVE and SAVE both close cleanly */
    fprintf(stderr, "shale-server: SHUTDOWN by client %llu\n", (unsigned long long)c->id);
    s->stop = 1;
    c->close_after_reply = true;
}

void cmd_function(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (arg_is(&a[1], "flush") && c->cmd.argc <= 3) {
        if (c->cmd.argc == 3 && !arg_is(&a[2], "async") && !arg_is(&a[2], "sync"))
            resp_error(&c->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        else
            resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "list")) {
        resp_array(&c->out, 0);
    } else {
        reply_subcommand_error(c);
    }
}

void cmd_wait(server *s, client *c)
{
    long long n, timeout;
    if (!arg_ll(&c->cmd.argv[1], &n)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    if (!arg_ll(&c->cmd.argv[2], &timeout)) {
        resp_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        resp_error(&c->out, "ERR timeout is negative");
        return;
    }
    resp_integer(&c->out, 0); /* no replicas */
}

/* DEBUG SLEEP's ceiling: a year, far below what a timespec holds. The command is for
   tests, and off unless enable-debug-command allows it. */
#define DEBUG_SLEEP_MAX_S (365.0L * 24 * 3600)

void cmd_debug(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    long double secs;
    if (arg_is(&a[1], "sleep") && c->cmd.argc == 3) {
        /* finite, and small enough for a timespec: "inf" or 1e300 converted to time_t
           is undefined (it slept not at all, or for ever) */
        if (!parse_ld(a[2].p, a[2].len, &secs) || !isfinite(secs) || secs < 0) {
            resp_error(&c->out, "ERR value is not a valid float");
            return;
        }
        if (secs > DEBUG_SLEEP_MAX_S) {
            resp_error(&c->out, "ERR value is out of range");
            return;
        }
        struct timespec ts = {(time_t)secs, (long)((secs - floorl(secs)) * 1e9)};
        nanosleep(&ts, NULL);
        resp_simple(&c->out, "OK");
    } else {
        reply_subcommand_error(c);
    }
}

/* ---- the client list ---- */

void server_client_add(server *s, client *c)
{
    c->all_prev = NULL;
    c->all_next = s->clients;
    if (s->clients)
        s->clients->all_prev = c;
    s->clients = c;
    s->nclients++;
}

void server_client_remove(server *s, client *c)
{
    blocking_forget(s, c);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        s->clients = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    s->nclients--;
}

/* ---- slowlog and latency ---- */

static void slowlog_entry_free(slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    memset(e, 0, sizeof *e);
}

void slowlog_maybe_add(server *s, client *c, long long micros)
{
    long long max = s->cfg.slowlog_max_len;
    if (s->cfg.slowlog_log_slower_than < 0 || micros < s->cfg.slowlog_log_slower_than || max <= 0)
        return;
    if (!s->slowlog) {
        s->slowlog = calloc((size_t)max, sizeof *s->slowlog);
        s->slowlog_cap = max;
        if (!s->slowlog)
            return;
    }
    long long cap = s->slowlog_cap;
    slowlog_entry *e = &s->slowlog[s->slowlog_head];
    slowlog_entry_free(e);
    s->slowlog_head = (s->slowlog_head + 1) % cap;
    if (s->slowlog_len < cap)
        s->slowlog_len++;
    e->id = s->slowlog_next_id++;
    e->time_s = (long long)time(NULL);
    e->micros = micros;
    /* Redis keeps 32 arguments (the last says how many more) of at most 128 bytes */
    int n = c->cmd.argc > SLOWLOG_ARGS ? SLOWLOG_ARGS : c->cmd.argc;
    for (int i = 0; i < n; i++) {
        char buf[160];
        size_t len;
        if (i == SLOWLOG_ARGS - 1 && c->cmd.argc > SLOWLOG_ARGS) {
            len = (size_t)snprintf(buf, sizeof buf, "... (%d more arguments)",
                                   c->cmd.argc - SLOWLOG_ARGS + 1);
        } else if (c->cmd.argv[i].len > 128) {
            len = (size_t)snprintf(buf, sizeof buf, "%.128s... (%zu more bytes)", c->cmd.argv[i].p,
                                   c->cmd.argv[i].len - 128);
        } else {
            len = c->cmd.argv[i].len;
            memcpy(buf, c->cmd.argv[i].p, len);
        }
        e->argv[i] = malloc(len + 1);
        if (!e->argv[i])
            break;
        memcpy(e->argv[i], buf, len);
        e->arglen[i] = len;
        e->argc = i + 1;
    }
    snprintf(e->addr, sizeof e->addr, "%s", c->addr);
    snprintf(e->name, sizeof e->name, "%s", c->name);
}

static void slowlog_reset(server *s)
{
    for (long long i = 0; s->slowlog && i < s->slowlog_cap; i++)
        slowlog_entry_free(&s->slowlog[i]);
    free(s->slowlog);
    s->slowlog = NULL;
    s->slowlog_len = s->slowlog_head = 0;
}

void cmd_slowlog(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (arg_is(&a[1], "len") && c->cmd.argc == 2) {
        resp_integer(&c->out, s->slowlog_len);
    } else if (arg_is(&a[1], "reset") && c->cmd.argc == 2) {
        slowlog_reset(s);
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "get") && c->cmd.argc <= 3) {
        long long n = 10;
        if (c->cmd.argc == 3 && (!arg_ll(&a[2], &n) || n < -1)) {
            resp_error(&c->out, "ERR count should be greater than or equal to -1");
            return;
        }
        if (n == -1 || n > s->slowlog_len)
            n = s->slowlog_len;
        resp_array(&c->out, n);
        for (long long i = 0; i < n; i++) { /* newest first */
            long long idx = (s->slowlog_head - 1 - i + 2 * s->slowlog_cap) % s->slowlog_cap;
            slowlog_entry *e = &s->slowlog[idx];
            resp_array(&c->out, 6);
            resp_integer(&c->out, (long long)e->id);
            resp_integer(&c->out, e->time_s);
            resp_integer(&c->out, e->micros);
            resp_array(&c->out, e->argc);
            for (int j = 0; j < e->argc; j++)
                resp_bulk(&c->out, e->argv[j], e->arglen[j]);
            resp_bulk_cstr(&c->out, e->addr);
            resp_bulk_cstr(&c->out, e->name);
        }
    } else if (arg_is(&a[1], "help") && c->cmd.argc == 2) {
        static const char *lines[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "LEN", "    Return the length of the slowlog.",
            "RESET", "    Reset the slowlog.",
            "HELP", "    Print this help."};
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else {
        reply_subcommand_error(c);
    }
}

void cmd_latency(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (arg_is(&a[1], "latest") && c->cmd.argc == 2) {
        if (!s->latency_max_us) {
            resp_array(&c->out, 0);
            return;
        }
        resp_array(&c->out, 1);
        resp_array(&c->out, 4);
        resp_bulk_cstr(&c->out, "command");
        resp_integer(&c->out, s->latency_max_time);
        resp_integer(&c->out, s->latency_max_us / 1000);
        resp_integer(&c->out, s->latency_max_us / 1000);
    } else if (arg_is(&a[1], "reset")) {
        resp_integer(&c->out, s->latency_max_us ? 1 : 0);
        s->latency_max_us = 0;
    } else if (arg_is(&a[1], "history") && c->cmd.argc == 3) {
        resp_array(&c->out, 0);
    } else {
        reply_subcommand_error(c);
    }
}

/* ---- cron ---- */

/*
 * While the engine refuses writes after a failed log write (a full disk), write commands
 * get -MISCONF; once a second shale_resume tries to make the log whole and lift that.
 */
void server_note_disk_error(server *s, int err)
{
    if (err && !s->disk_error)
        fprintf(stderr, "shale-server: writing to disk failed (%s); write commands are refused "
                        "until it works again\n", shale_strerror(err));
    s->disk_error = err;
}

/*
 * After a failed log write with sync-writes yes (s->unsynced_error, see finish_round in
 * net_uring.c), once the engine writes again: one sync makes every write so far durable,
 * and data commands are served again. The loops wait on the lock for this one sync.
 */
static void sync_again(server *s)
{
    if (!__atomic_load_n(&s->unsynced_error, __ATOMIC_RELAXED))
        return;
    uint64_t wgen = __atomic_load_n(&s->wgen, __ATOMIC_ACQUIRE);
    int rc = ks_engines_flush_wal(&s->ks);
    rc = rc ? rc : ks_engines_sync(&s->ks);
    if (rc)
        return; /* the engine refuses writes again: the next resume tries again */
    server_raise_gen(&s->flushed_gen, wgen);
    server_raise_gen(&s->synced_gen, wgen);
    __atomic_store_n(&s->unsynced_error, 0, __ATOMIC_RELEASE);
    fprintf(stderr, "shale-server: the writes are durable again; commands served again\n");
}

static void watch_disk(server *s, uint64_t now)
{
    int err = ks_engines_background_error(&s->ks);
    server_note_disk_error(s, err);
    if (!err)
        sync_again(s);
    if (!err || now - s->disk_resume_ms < 1000)
        return;
    s->disk_resume_ms = now;
    int rc = ks_engines_resume(&s->ks);
    if (rc == 0) {
        fprintf(stderr, "shale-server: the disk write error looks solved; writes accepted again\n");
        s->disk_error = 0;
        sync_again(s);
    } else if (rc == SHALE_EFAILED && s->disk_error != SHALE_EFAILED) {
        fprintf(stderr, "shale-server: a failed disk sync cannot be undone while running; "
                        "restart the server to accept writes again\n");
    }
}

void server_cron(server *s)
{
    watch_disk(s, ks_now_ms());
    caps_refresh(s); /* cheap: a few property reads, no I/O */
    /* about 25 ms of expiry and sweeping per second at hz 10, as Redis's budget */
    ks_background(&s->ks, 200, ks_now_ms());
    uint64_t now = ks_now_ms();
    int i = s->ops_window_i = (s->ops_window_i + 1) % 16;
    s->ops_window[i] = s->stats.commands_processed;
    s->ops_window_ms[i] = now;
}

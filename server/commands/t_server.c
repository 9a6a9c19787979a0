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
#include "backup.h"
#include "blocking.h"
#include "monitor.h"
#include "pause.h"
#include "command.h"
#include "multi.h"
#include "notify.h"
#include "pubsub.h"
#include "script.h"
#include "tracking.h"

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
    /* the store itself is durable (no backup is made: that is BGSAVE's, docs/server.md) */
    __atomic_store_n(&s->bgsave.seq_at_save, ks_engines_writes(&s->ks), __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->bgsave.saves, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->lastsave_s, (uint64_t)time(NULL), __ATOMIC_RELAXED);
    resp_simple(&c->out, "OK");
}

/* A checkpoint of the data directory into backup-dir (backup.c), outside the command
   lock: the engines take their own. */
static void *bgsave_thread(void *arg)
{
    server *s = arg;
    uint64_t writes = 0;
    int rc = backup_make(s, &writes);
    uint64_t now = (uint64_t)time(NULL);
    bgsave_state *b = &s->bgsave;
    __atomic_store_n(&b->last_time_sec, (int64_t)(now - b->started_s), __ATOMIC_RELAXED);
    __atomic_store_n(&b->last_ok, rc == 0, __ATOMIC_RELAXED);
    if (rc == 0) {
        __atomic_store_n(&b->seq_at_save, writes, __ATOMIC_RELAXED);
        __atomic_add_fetch(&b->saves, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&s->lastsave_s, now, __ATOMIC_RELAXED);
    } else {
        char dest[4096];
        backup_dir_of(s, dest, sizeof dest);
        fprintf(stderr, "shale-server: background save to %s failed: %s\n", dest,
                shale_strerror(rc));
    }
    __atomic_store_n(&b->running, 0, __ATOMIC_RELEASE);
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
    __atomic_store_n(&s->bgsave.started_s, (uint64_t)time(NULL), __ATOMIC_RELAXED);
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
    if (script_busy(s)) { /* only NOSAVE ends a busy script, dropping its batch (script.h) */
        bool nosave = false;
        for (int i = 1; i < c->cmd.argc; i++)
            nosave |= arg_is(&c->cmd.argv[i], "nosave");
        if (!nosave) {
            resp_error(&c->out, script_busy_error(s));
            return;
        }
        script_abandon(s);
    }
    /* every acknowledged write is already in the WAL: NOSAVE and SAVE both close cleanly */
    fprintf(stderr, "shale-server: SHUTDOWN by client %llu\n", (unsigned long long)c->id);
    s->stop = 1;
    c->close_after_reply = true;
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
    tracking_client_gone(s, c); /* before pubsub_forget: its messages use c's inbox */
    pubsub_forget(s, c);
    multi_client_gone(s, c);
    monitor_stop(s, c);
    pause_forget(s, c);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        s->clients = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    s->nclients--;
}

/* ---- slowlog ---- */

void slowlog_maybe_add(server *s, client *c, long long micros)
{
    if (s->cfg.slowlog_log_slower_than < 0 || micros < s->cfg.slowlog_log_slower_than)
        return;
    slowlog_call call = {.argv = c->cmd.argv,
                         .argc = c->cmd.argc,
                         .redacted = c->redacted,
                         .micros = micros,
                         .time_s = (long long)time(NULL),
                         .addr = c->addr,
                         .name = c->name};
    slowlog_push(&s->slowlog, &call, s->cfg.slowlog_max_len); /* -ENOMEM: not kept */
}

static void slowlog_get(server *s, client *c)
{
    long long n = 10;
    if (c->cmd.argc == 3 && (!arg_ll(&c->cmd.argv[2], &n) || n < -1)) {
        resp_error(&c->out, "ERR count should be greater than or equal to -1");
        return;
    }
    if (n == -1 || n > (long long)s->slowlog.len)
        n = (long long)s->slowlog.len;
    resp_array(&c->out, n);
    for (long long i = 0; i < n; i++) { /* newest first */
        const slowlog_entry *e = slowlog_at(&s->slowlog, (size_t)i);
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
}

void cmd_slowlog(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (arg_is(&a[1], "len") && c->cmd.argc == 2) {
        resp_integer(&c->out, (long long)s->slowlog.len);
    } else if (arg_is(&a[1], "reset") && c->cmd.argc == 2) {
        slowlog_reset(&s->slowlog);
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "get") && c->cmd.argc <= 3) {
        slowlog_get(s, c);
    } else if (arg_is(&a[1], "help") && c->cmd.argc == 2) {
        static const char *lines[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help."};
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else {
        reply_subcommand_error(c);
    }
}

/* ---- latency ---- */

void latency_maybe_add(server *s, const char *event, uint64_t micros)
{
    long long threshold = s->cfg.latency_monitor_threshold;
    uint64_t ms = micros / 1000;
    if (threshold > 0 && ms >= (uint64_t)threshold)
        latency_monitor_add(&s->latency, event, ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms,
                            (int64_t)time(NULL));
}

static void latency_latest(server *s, client *c)
{
    resp_array(&c->out, s->latency.n);
    for (int i = 0; i < s->latency.n; i++) {
        const latency_event *e = &s->latency.events[i];
        const latency_sample *last = latency_event_latest(e);
        resp_array(&c->out, 4);
        resp_bulk_cstr(&c->out, e->name);
        resp_integer(&c->out, last ? last->time_s : 0);
        resp_integer(&c->out, last ? last->latency_ms : 0);
        resp_integer(&c->out, e->max_ms);
    }
}

static void latency_history(server *s, client *c)
{
    const resp_arg *name = &c->cmd.argv[2];
    const latency_event *e = latency_monitor_find(&s->latency, name->p, name->len);
    latency_sample h[LATENCY_HISTORY_LEN];
    int n = e ? latency_event_history(e, h) : 0;
    resp_array(&c->out, n);
    for (int i = 0; i < n; i++) {
        resp_array(&c->out, 2);
        resp_integer(&c->out, h[i].time_s);
        resp_integer(&c->out, h[i].latency_ms);
    }
}

static void latency_reset(server *s, client *c)
{
    int n = 0;
    if (c->cmd.argc == 2)
        n = latency_monitor_reset(&s->latency);
    for (int i = 2; i < c->cmd.argc; i++)
        n += latency_monitor_reset_event(&s->latency, c->cmd.argv[i].p, c->cmd.argv[i].len);
    resp_integer(&c->out, n);
}

/* "3s", "12m", "2h", "4d": how long ago t was (a graph column's label) */
static void age_label(int64_t ago, char *buf, size_t cap)
{
    if (ago < 60)
        snprintf(buf, cap, "%llds", (long long)ago);
    else if (ago < 3600)
        snprintf(buf, cap, "%lldm", (long long)(ago / 60));
    else if (ago < 86400)
        snprintf(buf, cap, "%lldh", (long long)(ago / 3600));
    else
        snprintf(buf, cap, "%lldd", (long long)(ago / 86400));
}

/* LATENCY GRAPH event: Redis's header line, then a column per sample (oldest on the
   left) four rows high, and each column's age written downwards below it. */
static void latency_graph(server *s, client *c)
{
    const resp_arg *name = &c->cmd.argv[2];
    const latency_event *e = latency_monitor_find(&s->latency, name->p, name->len);
    latency_sample h[LATENCY_HISTORY_LEN];
    int n = e ? latency_event_history(e, h) : 0;
    if (n == 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "ERR No samples available for event '%.*s'",
                 (int)(name->len > 128 ? 128 : name->len), name->p);
        resp_error(&c->out, msg);
        return;
    }
    uint32_t hi = 0, lo = UINT32_MAX;
    for (int i = 0; i < n; i++) {
        hi = h[i].latency_ms > hi ? h[i].latency_ms : hi;
        lo = h[i].latency_ms < lo ? h[i].latency_ms : lo;
    }
    resp_out g = {0};
    server_out_printf(&g, "%s - high %u ms, low %u ms (all time high %u ms)\n", e->name, hi, lo,
                      e->max_ms);
    for (int i = 0; i < 80; i++)
        resp_raw(&g, "-", 1);
    resp_raw(&g, "\n", 1);
    for (int row = 4; row >= 1; row--) { /* a column reaches row r when above (r-1)/4 */
        for (int i = 0; i < n; i++) {
            double level = hi == lo ? 4 : 1 + 3.0 * (h[i].latency_ms - lo) / (hi - lo);
            resp_raw(&g, level >= row ? "#" : level > row - 1 ? "_" : " ", 1);
        }
        resp_raw(&g, "\n", 1);
    }
    char labels[LATENCY_HISTORY_LEN][16];
    size_t longest = 0;
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < n; i++) {
        age_label(now - h[i].time_s, labels[i], sizeof labels[i]);
        longest = strlen(labels[i]) > longest ? strlen(labels[i]) : longest;
    }
    for (size_t r = 0; r < longest; r++) {
        for (int i = 0; i < n; i++)
            resp_raw(&g, r < strlen(labels[i]) ? &labels[i][r] : " ", 1);
        resp_raw(&g, "\n", 1);
    }
    resp_verbatim(&c->out, g.data, g.len, c->proto);
    resp_out_free(&g);
}

/* LATENCY DOCTOR: a plain report of each event, and what shale's knobs do about it. */
static void latency_doctor(server *s, client *c)
{
    resp_out d = {0};
    if (s->cfg.latency_monitor_threshold <= 0) {
        server_out_printf(&d, "The latency monitor is off: CONFIG SET latency-monitor-threshold "
                              "<milliseconds> turns it on, then events that take at least that "
                              "long are recorded here.\n");
    } else if (s->latency.n == 0) {
        server_out_printf(&d,
                          "No latency event reached %lld ms since the monitor was last "
                          "reset: nothing to report.\n",
                          s->cfg.latency_monitor_threshold);
    } else {
        server_out_printf(&d, "Latency events of at least %lld ms, per event:\n\n",
                          s->cfg.latency_monitor_threshold);
        for (int i = 0; i < s->latency.n; i++) {
            const latency_event *e = &s->latency.events[i];
            latency_sample h[LATENCY_HISTORY_LEN];
            int n = latency_event_history(e, h);
            uint64_t sum = 0;
            for (int j = 0; j < n; j++)
                sum += h[j].latency_ms;
            server_out_printf(&d,
                              "%d. %s: %d second(s) with a spike, %llu ms on average, "
                              "%u ms at worst (all time); the latest %lld s ago.\n",
                              i + 1, e->name, n, n ? (unsigned long long)(sum / (uint64_t)n) : 0ull,
                              e->max_ms, n ? (long long)(time(NULL) - h[n - 1].time_s) : 0ll);
        }
        server_out_printf(&d, "\nWhat to look at: SLOWLOG GET for the slow commands themselves "
                              "(KEYS, large HGETALL or DEL of big collections are O(N)); INFO "
                              "shale for write stalls, compaction debt and flushes (a 'command' "
                              "spike while L0 tables pile up is a write stall: see "
                              "l0-slowdown-trigger, compaction-rate-limit and docs/tuning.md); "
                              "'expire-cycle' spikes mean many keys expiring at once.\n");
    }
    resp_verbatim(&c->out, d.data, d.len, c->proto);
    resp_out_free(&d);
}

/* One command's entry of LATENCY HISTOGRAM, when it has samples. */
static void histogram_entry(server *s, client *c, const command *cmd, resp_out *body, long long *n)
{
    size_t slot = command_slot(cmd);
    const command_stats *st = s->cmds.cmd && slot < s->cmds.ncmd ? &s->cmds.cmd[slot] : NULL;
    if (!st || !st->hist || !st->hist->count)
        return;
    latency_cdf_step steps[LATENCY_CDF_STEPS];
    int k = latency_hist_cdf(st->hist, steps);
    resp_bulk_cstr(body, cmd->name);
    resp_map(body, 2, c->proto);
    resp_bulk_cstr(body, "calls");
    resp_integer(body, (long long)st->hist->count);
    resp_bulk_cstr(body, "histogram_usec");
    resp_map(body, k, c->proto);
    for (int i = 0; i < k; i++) {
        resp_integer(body, (long long)steps[i].usec);
        resp_integer(body, (long long)steps[i].count);
    }
    (*n)++;
}

/* LATENCY HISTOGRAM [command ...]: every command with samples, or those named (a
   container names its subcommands; unknown names are skipped). */
static void latency_histogram(server *s, client *c)
{
    resp_out body = {0};
    long long n = 0;
    for (size_t i = 0; c->cmd.argc == 2 && i < command_count(); i++) {
        const command *cmd = command_at(i);
        histogram_entry(s, c, cmd, &body, &n);
        for (size_t j = 0; j < command_nsubs(cmd); j++)
            histogram_entry(s, c, command_sub_at(cmd, j), &body, &n);
    }
    for (int i = 2; i < c->cmd.argc; i++) {
        const command *cmd = command_lookup(c->cmd.argv[i].p, c->cmd.argv[i].len);
        if (!cmd)
            continue;
        if (!command_nsubs(cmd))
            histogram_entry(s, c, cmd, &body, &n);
        for (size_t j = 0; j < command_nsubs(cmd); j++)
            histogram_entry(s, c, command_sub_at(cmd, j), &body, &n);
    }
    resp_map(&c->out, n, c->proto);
    resp_raw(&c->out, body.data, body.len);
    resp_out_free(&body);
}

void cmd_latency(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (arg_is(&a[1], "latest") && c->cmd.argc == 2) {
        latency_latest(s, c);
    } else if (arg_is(&a[1], "history") && c->cmd.argc == 3) {
        latency_history(s, c);
    } else if (arg_is(&a[1], "reset")) {
        latency_reset(s, c);
    } else if (arg_is(&a[1], "graph") && c->cmd.argc == 3) {
        latency_graph(s, c);
    } else if (arg_is(&a[1], "doctor") && c->cmd.argc == 2) {
        latency_doctor(s, c);
    } else if (arg_is(&a[1], "histogram")) {
        latency_histogram(s, c);
    } else if (arg_is(&a[1], "help") && c->cmd.argc == 2) {
        static const char *lines[] = {
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            ("    Return a cumulative distribution of latencies in the format of a histogram for "
             "the specified command names."), /* one line: the parentheses tell clang so */
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help."};
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else {
        reply_subcommand_error(c);
    }
}

/* ---- cron ---- */

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

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
    caps_cron(s);
    /* about 25 ms of expiry and sweeping per second at hz 10, as Redis's budget */
    pause_expire(s, ks_now_ms()); /* (expiry waits while clients are paused) */
    uint64_t t0 = mono_us();
    ks_background(&s->ks, 200, ks_now_ms());
    notify_flush(s); /* the keys it reaped */
    latency_maybe_add(s, "expire-cycle", mono_us() - t0);
    uint64_t now = ks_now_ms();
    int i = s->ops_window_i = (s->ops_window_i + 1) % 16;
    s->ops_window[i] = s->stats.commands_processed;
    s->ops_window_ms[i] = now;
    migrate_cache_expire(&s->migrate, now);
    tracking_cron(s);
}

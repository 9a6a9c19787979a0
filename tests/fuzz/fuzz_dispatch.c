/*
 * fuzz_dispatch.c - the server's command dispatch on arbitrary request streams: the
 * input is parsed as a connection's bytes and every command runs against one server
 * (a real engine in a temporary directory, kept across inputs, as a long-lived server
 * keeps its keyspace). Each command must produce exactly one well-formed reply (checked
 * with the client's reply reader), or none when CLIENT REPLY silenced it; ASan/UBSan
 * catch the rest.
 *
 * Left out on purpose: DEBUG SLEEP (it would only make the fuzzer time out) and MIGRATE
 * (it would connect to whatever host and port the input names, and wait up to its
 * timeout; tests/integration/server_migrate.py covers it). A blocking command that
 * blocks ends its input (the client waits; it is forgotten at the end). Scripts and
 * functions run as in the server (their states made at set-up); one that runs past
 * 100 ms is stopped from the busy hook, even after writing (fuzz_script.c fuzzes them).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"
#include "functions.h"
#include "pubsub.h"
#include "script.h"
#include "script_int.h"
#include "server.h"
#include "shale_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COMMANDS 256
#define FLUSH_EVERY 512 /* inputs between FLUSHALLs, so the keyspace stays small */

static server srv;
static char dir[64];
static bool ready;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void teardown(void)
{
    if (!ready)
        return;
    server_bgsave_wait(&srv);
    caps_stop(&srv);
    blocking_free(&srv);
    pubsub_free(&srv);
    functions_free(&srv);
    script_free(&srv);
    ks_close(&srv.ks);
    cursor_table_free(&srv.cursors);
    cmdstats_free(&srv.cmds);
    access_free(&srv.access);
    shale_close(srv.db);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The busy hook of a script or function past busy-reply-threshold: stop it (the CPU
   limit of an input; a kill the script cannot catch, written or not). */
static void stop_busy(server *s)
{
    script_vm *f = functions_vm(s);
    if (s->script && s->script->running)
        s->script->kill_requested = true;
    if (f && f->running)
        f->kill_requested = true;
}

/* One server for the whole run, its data in /dev/shm when there is one (cheap fsync). */
static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/shale-fuzz-dispatch-XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    config_default(&srv.cfg);
    snprintf(srv.cfg.dir, sizeof srv.cfg.dir, "%s", dir);
    srv.cfg.memtable_size = 256 << 10; /* flushes and compactions happen during a run */
    /* DEBUG is off by default (issue 15 #20); its argument checks are fuzzed too */
    snprintf(srv.cfg.enable_debug_command, sizeof srv.cfg.enable_debug_command, "yes");
    srv.cfg.busy_reply_threshold = 100;
    shale_options o;
    shale_options_default(&o);
    config_engine_options(&srv.cfg, &o);
    o.compaction_filter = ks_compaction_filter;
    o.compaction_filter_ctx = &srv.ks;
    shale_options fifo;
    shale_options_default(&fifo);
    config_fifo_options(&srv.cfg, &fifo);
    if (shale_open(dir, &o, &srv.db) || ks_open(&srv.ks, srv.db, dir, &fifo) ||
        access_init(&srv.access, ks_now_ms()) || blocking_init(&srv, 1) ||
        pubsub_init(&srv, 1) || script_init(&srv) || functions_init(&srv))
        abort();
    script_set_busy_handler(&srv, stop_busy);
    srv.caps.cache_applied = srv.cfg.block_cache_size;
    srv.caps.memtable_applied = srv.cfg.memtable_size;
    srv.caps.vlog_file_applied = srv.cfg.vlog_file_size;
    pthread_mutex_init(&srv.lock, NULL);
    srv.start_ms = ks_now_ms();
    srv.lastsave_s = (uint64_t)time(NULL);
    ready = true;
    atexit(teardown);
}

static bool is_debug_sleep(const resp_cmd *cmd)
{
    return cmd->argc >= 2 && cmd->argv[0].len == 5 &&
           strncasecmp(cmd->argv[0].p, "debug", 5) == 0 && cmd->argv[1].len == 5 &&
           strncasecmp(cmd->argv[1].p, "sleep", 5) == 0;
}

static bool is_migrate(const resp_cmd *cmd)
{
    return cmd->argc >= 1 && cmd->argv[0].len == 7 &&
           strncasecmp(cmd->argv[0].p, "migrate", 7) == 0;
}

/* The pub/sub commands that confirm each name they are given (or each the client had):
   one reply per name, not one per command. */
static bool is_subscription(const resp_cmd *cmd)
{
    static const char *const names[] = {"subscribe",  "unsubscribe",  "psubscribe",
                                        "punsubscribe", "ssubscribe", "sunsubscribe"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (cmd->argv[0].len == strlen(names[i]) &&
            strncasecmp(cmd->argv[0].p, names[i], cmd->argv[0].len) == 0)
            return true;
    return false;
}

/* Several complete replies (a subscription's confirmations, or pushes of messages before
   a RESP3 subscriber's own reply), nothing left over. */
static void check_replies(const resp_out *out)
{
    shale_client_reader *r = shale_client_reader_new();
    if (!r)
        return;
    shale_client_reply *x = NULL;
    if (out->len == 0 || shale_client_reader_feed(r, out->data, out->len))
        __builtin_trap();
    int n = 0, rc;
    while ((rc = shale_client_reader_get_reply(r, &x)) == 1) {
        shale_client_reply_free(x);
        n++;
    }
    if (rc != 0 || n == 0)
        __builtin_trap(); /* bytes that are not RESP, or an incomplete reply */
    shale_client_reader_free(r);
}

/* The reply bytes of one command: exactly one complete reply, nothing left over, or
   nothing at all when the command closes the connection (SHUTDOWN, as Redis does). */
static void check_one_reply(const resp_out *out, bool closing)
{
    if (out->len == 0 && closing)
        return;
    shale_client_reader *r = shale_client_reader_new();
    if (!r)
        return;
    shale_client_reply *x = NULL;
    if (out->len == 0 || shale_client_reader_feed(r, out->data, out->len) ||
        shale_client_reader_get_reply(r, &x) != 1)
        __builtin_trap();
    shale_client_reply_free(x);
    if (shale_client_reader_get_reply(r, &x) != 0)
        __builtin_trap(); /* a second reply, or bytes that are not RESP */
    shale_client_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long inputs;
    static bool echo;
    if (!ready) {
        setup();
        echo = getenv("FUZZ_DISPATCH_ECHO") != NULL;
    }
    client c = {.fd = -1, .id = ++srv.next_client_id, .proto = 2, .authenticated = true};
    snprintf(c.addr, sizeof c.addr, "127.0.0.1:1");
    snprintf(c.laddr, sizeof c.laddr, "127.0.0.1:6379");
    server_client_add(&srv, &c);
    const char *buf = (const char *)data;
    size_t at = 0;
    for (int n = 0; n < MAX_COMMANDS && at < size && !c.close_after_reply; n++) {
        size_t used = 0;
        const char *err = NULL;
        int rc = resp_parse(buf + at, size - at, 512u << 20, &c.cmd, &used, &err);
        if (rc <= 0)
            break;
        at += used;
        if (c.cmd.argc == 0 || is_debug_sleep(&c.cmd) || is_migrate(&c.cmd))
            continue;
        /* CLIENT REPLY OFF and SKIP silence replies: none is then right too */
        bool silenced = c.reply_off || c.reply_skip;
        command_dispatch(&srv, &c);
        if (c.blocked) /* a blocking command that waits: no reply, and no more commands
                          (the client is forgotten when it goes, as at a disconnect) */
            break;
        silenced |= c.reply_off || c.reply_skip;
        bool several = is_subscription(&c.cmd) || (c.proto == 3 && pubsub_client_subscribed(&c));
        if (silenced && c.out.len == 0)
            silenced = true; /* nothing to check */
        else if (several)
            check_replies(&c.out);
        else
            check_one_reply(&c.out, c.close_after_reply);
        if (echo) /* FUZZ_DISPATCH_ECHO=1: show the replies (to look at an input) */
            fwrite(c.out.data, 1, c.out.len, stderr);
        c.out.len = 0;
    }
    if (++inputs % FLUSH_EVERY == 0)
        shale_flush(srv.db);
    server_cron(&srv);
    server_client_remove(&srv, &c);
    if (inputs % FLUSH_EVERY == 0) {
        client f = {.fd = -1, .proto = 2, .authenticated = true};
        static const char flushall[] = "*1\r\n$8\r\nFLUSHALL\r\n";
        size_t used;
        const char *err;
        if (resp_parse(flushall, sizeof flushall - 1, 1024, &f.cmd, &used, &err) == 1)
            command_dispatch(&srv, &f);
        resp_cmd_free(&f.cmd);
        resp_out_free(&f.out);
    }
    cursor_table_free(&srv.cursors); /* cursors of this input's SCANs */
    resp_cmd_free(&c.cmd);
    resp_out_free(&c.out);
    srv.stop = 0; /* SHUTDOWN only sets the flag */
    return 0;
}

/*
 * fuzz_script.c - the Lua-facing API on arbitrary scripts: the input is a script's body,
 * then (after NUL bytes) its arguments, the first half KEYS and the rest ARGV; it runs as
 * EVAL through the command table (t_script.c, server/script/: the sandbox, redis.call
 * on every command, the reply conversions, cjson, cmsgpack, bit, struct) against one
 * server with a real engine kept across inputs. An odd-sized input runs from a RESP3
 * client. Each run must produce exactly one well-formed reply; ASan/UBSan and LeakSanitizer
 * catch the rest.
 *
 * Limits, so that every input ends: the Lua heap is capped (lua-memory-limit 4 MB), and
 * a CPU limit rides the busy hook: with busy-reply-threshold at 1 ms the hook calls the
 * handler below every 100000 Lua instructions once the run is past 1 ms, and after
 * KILL_AFTER calls it makes the hook raise the kill error at every line, even when the
 * script has written (SCRIPT KILL would refuse then: this is the harness's own limit).
 *
 * No network: MIGRATE from a script would connect wherever the script says; connect()
 * and getaddrinfo() are replaced here by versions that refuse.
 */
#include <errno.h>
#include <ftw.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"
#include "pubsub.h"
#include "script_int.h"
#include "server.h"
#include "shale_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32
#define KILL_AFTER 3       /* busy handler calls (x 100000 instructions) before the kill */
#define FLUSH_EVERY 512    /* inputs between FLUSHALLs */
#define LUA_LIMIT (4u << 20)

static server srv;
static char dir[64];
static bool ready;
static int busy_calls;

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    (void)fd, (void)addr, (void)len;
    errno = ECONNREFUSED;
    return -1;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    (void)node, (void)service, (void)hints, (void)res;
    return EAI_FAIL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void teardown(void)
{
    if (!ready)
        return;
    script_free(&srv);
    server_bgsave_wait(&srv);
    caps_stop(&srv);
    blocking_free(&srv);
    pubsub_free(&srv);
    ks_close(&srv.ks);
    cursor_table_free(&srv.cursors);
    cmdstats_free(&srv.cmds);
    access_free(&srv.access);
    shale_close(srv.db);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The CPU limit (see the top). */
static void busy_handler(server *s)
{
    if (++busy_calls >= KILL_AFTER)
        s->script->kill_requested = true;
}

/* One server for the whole run, its data in /dev/shm when there is one (cheap fsync). */
static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/shale-fuzz-script-XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    config_default(&srv.cfg);
    snprintf(srv.cfg.dir, sizeof srv.cfg.dir, "%s", dir);
    srv.cfg.memtable_size = 256 << 10;
    srv.cfg.busy_reply_threshold = 1;
    srv.cfg.lua_memory_limit = LUA_LIMIT;
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
        pubsub_init(&srv, 1) || script_init(&srv))
        abort();
    script_set_busy_handler(&srv, busy_handler);
    srv.caps.cache_applied = srv.cfg.block_cache_size;
    srv.caps.memtable_applied = srv.cfg.memtable_size;
    srv.caps.vlog_file_applied = srv.cfg.vlog_file_size;
    pthread_mutex_init(&srv.lock, NULL);
    srv.start_ms = ks_now_ms();
    srv.lastsave_s = (uint64_t)time(NULL);
    ready = true;
    atexit(teardown);
}

/* Exactly one complete reply in out, nothing left over. */
static void check_one_reply(const resp_out *out)
{
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

/* Splits the input at NULs: parts[0] the body, then the arguments. */
static int split(const char *p, size_t n, resp_arg *parts)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && k < MAX_ARGS; i++) {
        if (i == n || p[i] == '\0') {
            parts[k].p = p + start;
            parts[k++].len = i - start;
            start = i + 1;
        }
    }
    return k;
}

/* EVAL body numkeys args... as a RESP request (malloc'ed; free it), its length in *len. */
static char *request(const resp_arg *parts, int nparts, size_t *len)
{
    size_t cap = 64 + (size_t)nparts * 32;
    for (int i = 0; i < nparts; i++)
        cap += parts[i].len;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    int nargs = nparts - 1, nkeys = nargs / 2;
    char numkeys[16];
    int nk = snprintf(numkeys, sizeof numkeys, "%d", nkeys);
    size_t at = (size_t)sprintf(buf, "*%d\r\n$4\r\nEVAL\r\n$%zu\r\n", nparts + 2, parts[0].len);
    memcpy(buf + at, parts[0].p, parts[0].len);
    at += parts[0].len;
    at += (size_t)sprintf(buf + at, "\r\n$%d\r\n%s\r\n", nk, numkeys);
    for (int i = 1; i < nparts; i++) {
        at += (size_t)sprintf(buf + at, "$%zu\r\n", parts[i].len);
        memcpy(buf + at, parts[i].p, parts[i].len);
        at += parts[i].len;
        memcpy(buf + at, "\r\n", 2);
        at += 2;
    }
    *len = at;
    return buf;
}

static void run_plain(const char *req, size_t n)
{
    client f = {.fd = -1, .proto = 2, .authenticated = true};
    size_t used;
    const char *err;
    if (resp_parse(req, n, 1024, &f.cmd, &used, &err) == 1)
        command_dispatch(&srv, &f);
    resp_cmd_free(&f.cmd);
    resp_out_free(&f.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long inputs;
    if (!ready)
        setup();
    resp_arg parts[MAX_ARGS];
    int nparts = split((const char *)data, size, parts);
    size_t len;
    char *req = request(parts, nparts, &len);
    client c = {.fd = -1, .id = ++srv.next_client_id, .proto = size % 2 ? 3 : 2,
                .authenticated = true};
    snprintf(c.addr, sizeof c.addr, "127.0.0.1:1");
    snprintf(c.laddr, sizeof c.laddr, "127.0.0.1:6379");
    server_client_add(&srv, &c);
    size_t used = 0;
    const char *err = NULL;
    if (resp_parse(req, len, 512u << 20, &c.cmd, &used, &err) != 1)
        __builtin_trap(); /* the request built above is well formed */
    busy_calls = 0;
    command_dispatch(&srv, &c);
    if (getenv("FUZZ_SCRIPT_ECHO")) /* FUZZ_SCRIPT_ECHO=1: show the reply */
        fwrite(c.out.data, 1, c.out.len, stderr);
    check_one_reply(&c.out);
    server_cron(&srv);
    server_client_remove(&srv, &c);
    resp_cmd_free(&c.cmd);
    resp_out_free(&c.out);
    free(req);
    /* A new Lua state for each input: what the input left in Lua (its cached script,
       garbage) goes, so an input that allocated more than it freed is worth a leak check
       (libFuzzer scans the heap then: on every input, if the state kept growing). */
    static const char flush_scripts[] = "*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n";
    run_plain(flush_scripts, sizeof flush_scripts - 1);
    if (++inputs % FLUSH_EVERY == 0) {
        static const char flushall[] = "*1\r\n$8\r\nFLUSHALL\r\n";
        run_plain(flushall, sizeof flushall - 1);
    }
    cursor_table_free(&srv.cursors);
    srv.stop = 0;
    return 0;
}

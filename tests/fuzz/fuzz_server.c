/* fuzz_server.c - an in-process server that a fuzz target drives (see fuzz_server.h). */
#include "fuzz_server.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "modules.h"
#include "repl.h"
#include "repl_backlog.h"
#include "store.h"
#include "script.h"
#include "shale_client.h"

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
    ks_close(&srv.ks);
    server_modules_free(&srv);
    shale_close(srv.db);
    repl_free(&srv);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void configure(const fuzz_server_options *o)
{
    config_default(&srv.cfg);
    snprintf(srv.cfg.dir, sizeof srv.cfg.dir, "%s", dir);
    srv.cfg.memtable_size = 256 << 10; /* flushes and compactions happen during a run */
    srv.cfg.busy_reply_threshold = o->busy_reply_threshold;
    if (o->lua_memory_limit)
        srv.cfg.lua_memory_limit = o->lua_memory_limit;
    /* DEBUG is off by default (issue 15 #20); a target may fuzz its argument checks */
    if (o->debug_command)
        snprintf(srv.cfg.enable_debug_command, sizeof srv.cfg.enable_debug_command, "yes");
}

/* The engine, the keyspace and the server's modules, as server/main.c opens them
   (scripting and functions included: commands reach them from any input). */
static void open_modules(void)
{
    if (repl_init(&srv)) /* the backlog the tap feeds, the replicas' registry */
        abort();
    shale_options o, fifo;
    server_store_options(&srv, &o, &fifo);
    if (shale_open(dir, &o, &srv.db) || ks_open(&srv.ks, srv.db, dir, &fifo) ||
        server_modules_init(&srv, 1) || server_modules_load(&srv))
        abort();
}

server *fuzz_server(const fuzz_server_options *o)
{
    if (ready)
        return &srv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"; /* cheap fsync */
    snprintf(dir, sizeof dir, "%s/shale-fuzz-%s-XXXXXX", base, o->name);
    if (!mkdtemp(dir))
        abort();
    configure(o);
    open_modules();
    script_set_busy_handler(&srv, o->busy_handler);
    srv.caps.cache_applied = srv.cfg.block_cache_size;
    srv.caps.memtable_applied = srv.cfg.memtable_size;
    srv.caps.vlog_file_applied = srv.cfg.vlog_file_size;
    srv.start_ms = ks_now_ms();
    srv.lastsave_s = (uint64_t)time(NULL);
    ready = true;
    atexit(teardown);
    return &srv;
}

void fuzz_client_connect(server *s, client *c, int proto)
{
    c->fd = -1;
    c->id = ++s->next_client_id;
    c->proto = proto;
    c->authenticated = true;
    snprintf(c->addr, sizeof c->addr, "127.0.0.1:1");
    snprintf(c->laddr, sizeof c->laddr, "127.0.0.1:6379");
    server_client_add(s, c);
}

void fuzz_server_run(server *s, const char *req, size_t len)
{
    client f = {.fd = -1, .proto = 2, .authenticated = true};
    size_t used;
    const char *err;
    if (resp_parse(req, len, 1024, &f.cmd, &used, &err) == 1)
        command_dispatch(s, &f);
    resp_cmd_free(&f.cmd);
    resp_out_free(&f.out);
}

void fuzz_server_end_input(server *s, client *c)
{
    static unsigned long inputs;
    bool empty_out = ++inputs % FUZZ_FLUSH_EVERY == 0;
    if (empty_out)
        shale_flush(s->db); /* with this run's keys still in the memtable */
    server_cron(s);
    server_client_remove(s, c);
    resp_cmd_free(&c->cmd);
    resp_out_free(&c->out);
    if (empty_out) {
        static const char flushall[] = "*1\r\n$8\r\nFLUSHALL\r\n";
        fuzz_server_run(s, flushall, sizeof flushall - 1);
    }
    cursor_table_free(&s->cursors); /* cursors of this input's SCANs */
    s->stop = 0;                    /* SHUTDOWN only sets the flag */
}

void fuzz_check_one_reply(const resp_out *out)
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

/*
 * test_repl_swap.c - a replica's swap of its data for a received full sync (repl_swap.h):
 * an in-process server serves the new data afterwards (keys, DBSIZE, INFO keyspace,
 * function libraries) and a WATCHed key's EXEC fails; a swap whose new data does not open
 * leaves the old data served; a crash at each step of the directories' swap leaves a
 * directory that opens with the old data or the new once start-up recovery has run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "modules.h"
#include "repl_swap.h"
#include "repl_sync.h"
#include "server.h"
#include "store.h"
#include "sync_point.h"
#include "testutil.h"

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- an in-process server, opened as main.c opens it ---- */

static server srv;

static void server_open(const char *dir)
{
    memset(&srv, 0, sizeof srv);
    config_default(&srv.cfg);
    snprintf(srv.cfg.dir, sizeof srv.cfg.dir, "%s", dir);
    srv.cfg.memtable_size = 256 << 10;
    shale_options o, fifo;
    server_store_options(&srv, &o, &fifo);
    assert_int_equal(repl_swap_recover(dir, NULL), 0);
    assert_int_equal(shale_open(dir, &o, &srv.db), 0);
    assert_int_equal(ks_open(&srv.ks, srv.db, dir, &fifo), 0);
    assert_int_equal(server_modules_init(&srv, 1), 0);
    assert_int_equal(server_modules_load(&srv), 0);
    srv.start_ms = ks_now_ms();
}

static void server_close(void)
{
    server_bgsave_wait(&srv);
    caps_stop(&srv);
    ks_close(&srv.ks);
    server_modules_free(&srv);
    assert_int_equal(shale_close(srv.db), 0);
}

static void client_connect(client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->id = ++srv.next_client_id;
    c->proto = 2;
    c->authenticated = true;
    snprintf(c->addr, sizeof c->addr, "127.0.0.1:1");
    snprintf(c->laddr, sizeof c->laddr, "127.0.0.1:6379");
    server_client_add(&srv, c);
}

static void client_disconnect(client *c)
{
    server_client_remove(&srv, c);
    resp_cmd_free(&c->cmd);
    resp_out_free(&c->out);
}

/* Runs one command (arguments, NULL-terminated) as c; returns its reply (static). */
static const char *run_as(client *c, ...)
{
    char req[4096];
    size_t n = 0, argc = 0;
    const char *args[16];
    va_list ap;
    va_start(ap, c);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        args[argc++] = a;
    va_end(ap);
    n += (size_t)snprintf(req + n, sizeof req - n, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++)
        n += (size_t)snprintf(req + n, sizeof req - n, "$%zu\r\n%s\r\n", strlen(args[i]), args[i]);
    size_t used;
    const char *err;
    assert_int_equal(resp_parse(req, n, 1 << 20, &c->cmd, &used, &err), 1);
    c->out.len = 0;
    command_dispatch(&srv, c);
    static char reply[8192];
    size_t len = c->out.len < sizeof reply - 1 ? c->out.len : sizeof reply - 1;
    memcpy(reply, c->out.data, len);
    reply[len] = '\0';
    c->out.len = 0;
    return reply;
}

#define RUN(c, ...) run_as(c, __VA_ARGS__, (const char *)NULL)

static const char *NEWLIB = "#!lua name=newlib\n"
                            "redis.register_function('newf', function() return 'new' end)";
static const char *OLDLIB = "#!lua name=oldlib\n"
                            "redis.register_function('oldf', function() return 'old' end)";

/* The new data: written, checkpointed into "<dir>.sync" as a full sync would receive it,
   then the server's own data replaced by the old. */
static void make_sync_then_old_data(client *c, const char *sync)
{
    assert_string_equal(RUN(c, "SET", "a", "1"), "+OK\r\n");
    assert_string_equal(RUN(c, "SET", "b", "2"), "+OK\r\n");
    assert_string_equal(RUN(c, "HSET", "h", "f", "v"), ":1\r\n");
    assert_string_equal(RUN(c, "SELECT", "3"), "+OK\r\n");
    assert_string_equal(RUN(c, "SET", "in3", "x"), "+OK\r\n");
    assert_string_equal(RUN(c, "SELECT", "0"), "+OK\r\n");
    assert_non_null(strstr(RUN(c, "FUNCTION", "LOAD", NEWLIB), "newlib"));
    assert_int_equal(ks_engines_checkpoint(&srv.ks, sync, false, NULL, NULL), 0);
    assert_string_equal(RUN(c, "FLUSHALL"), "+OK\r\n");
    assert_string_equal(RUN(c, "FUNCTION", "FLUSH"), "+OK\r\n");
    assert_string_equal(RUN(c, "SET", "old", "1"), "+OK\r\n");
    assert_non_null(strstr(RUN(c, "FUNCTION", "LOAD", OLDLIB), "oldlib"));
}

static void test_repl_swap_serves_new_data(void **state)
{
    (void)state;
    char *root = tu_tempdir("repl-swap");
    char dir[600], sync[700], old[700];
    snprintf(dir, sizeof dir, "%s/data", root);
    assert_int_equal(repl_sync_dir_of(dir, sync, sizeof sync), 0);
    snprintf(old, sizeof old, "%s.old", dir);
    server_open(dir);
    client c, w;
    client_connect(&c);
    client_connect(&w);
    make_sync_then_old_data(&c, sync);
    assert_string_equal(RUN(&w, "WATCH", "a"), "+OK\r\n");
    assert_string_equal(RUN(&c, "DBSIZE"), ":1\r\n");

    assert_int_equal(repl_swap(&srv), 0);

    assert_string_equal(RUN(&c, "DBSIZE"), ":3\r\n");
    assert_string_equal(RUN(&c, "GET", "a"), "$1\r\n1\r\n");
    assert_string_equal(RUN(&c, "HGET", "h", "f"), "$1\r\nv\r\n");
    assert_string_equal(RUN(&c, "GET", "old"), "$-1\r\n");
    const char *info = RUN(&c, "INFO", "keyspace");
    assert_non_null(strstr(info, "db0:keys=3,"));
    assert_non_null(strstr(info, "db3:keys=1,"));
    assert_string_equal(RUN(&c, "FCALL", "newf", "0"), "$3\r\nnew\r\n");
    assert_int_equal(RUN(&c, "FCALL", "oldf", "0")[0], '-');
    /* the WATCHed key changed under the transaction */
    assert_string_equal(RUN(&w, "MULTI"), "+OK\r\n");
    assert_string_equal(RUN(&w, "SET", "a", "5"), "+QUEUED\r\n");
    assert_string_equal(RUN(&w, "EXEC"), "*-1\r\n");
    assert_string_equal(RUN(&c, "GET", "a"), "$1\r\n1\r\n");
    /* writes go on in the new store, and the directories are tidy */
    assert_string_equal(RUN(&c, "SET", "after", "y"), "+OK\r\n");
    assert_false(exists(sync));
    assert_false(exists(old));
    client_disconnect(&c);
    client_disconnect(&w);
    server_close();
    /* and the new data is what a restart opens */
    server_open(dir);
    client_connect(&c);
    assert_string_equal(RUN(&c, "DBSIZE"), ":4\r\n");
    assert_string_equal(RUN(&c, "FCALL", "newf", "0"), "$3\r\nnew\r\n");
    client_disconnect(&c);
    server_close();
    tu_rmdir_free(root);
}

/* A received directory that does not open: the old data is back and served. */
static void test_repl_swap_bad_data_keeps_old(void **state)
{
    (void)state;
    char *root = tu_tempdir("repl-swap-bad");
    char dir[600], sync[700], current[800];
    snprintf(dir, sizeof dir, "%s/data", root);
    assert_int_equal(repl_sync_dir_of(dir, sync, sizeof sync), 0);
    server_open(dir);
    client c;
    client_connect(&c);
    assert_string_equal(RUN(&c, "SET", "old", "1"), "+OK\r\n");
    assert_non_null(strstr(RUN(&c, "FUNCTION", "LOAD", OLDLIB), "oldlib"));
    assert_int_equal(repl_swap(&srv), -ENOENT);
    /* a CURRENT naming a manifest that is not there */
    assert_int_equal(mkdir(sync, 0755), 0);
    snprintf(current, sizeof current, "%s/CURRENT", sync);
    FILE *f = fopen(current, "w");
    assert_non_null(f);
    fputs("MANIFEST-000099\n", f);
    fclose(f);
    int rc = repl_swap(&srv);
    assert_true(rc < 0);
    assert_string_equal(RUN(&c, "GET", "old"), "$1\r\n1\r\n");
    assert_string_equal(RUN(&c, "DBSIZE"), ":1\r\n");
    assert_string_equal(RUN(&c, "FCALL", "oldf", "0"), "$3\r\nold\r\n");
    assert_string_equal(RUN(&c, "SET", "more", "2"), "+OK\r\n");
    assert_false(exists(sync));
    client_disconnect(&c);
    server_close();
    tu_rmdir_free(root);
}

/* ---- crashes during the directories' swap ---- */

static void make_store(const char *dir, const char *value)
{
    shale_options o;
    tu_small_options(&o);
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    assert_int_equal(shale_put(db, "v", 1, value, strlen(value), 0), 0);
    assert_int_equal(shale_close(db), 0);
}

static char *read_store(const char *dir)
{
    shale_options o;
    tu_small_options(&o);
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    void *v;
    size_t n;
    assert_int_equal(shale_get(db, "v", 1, &v, &n), 0);
    char *s = strndup(v, n);
    shale_free(v);
    assert_int_equal(shale_close(db), 0);
    return s;
}

static void crash_now(const char *name, void *arg)
{
    (void)name;
    (void)arg;
    _exit(0);
}

/* A child swaps and dies at point (NULL: after the swap, before removing the old data);
   the parent recovers as start-up does and reads what is there. */
static char *crash_at(const char *root, const char *point, bool exchange)
{
    char dir[600], sync[700], old[700], tmp[800];
    snprintf(dir, sizeof dir, "%s/data", root);
    snprintf(sync, sizeof sync, "%s.sync", dir);
    snprintf(old, sizeof old, "%s.old", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", sync);
    make_store(dir, "old");
    make_store(sync, "new");
    assert_int_equal(mkdir(tmp, 0755), 0); /* a later receive under way */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (point)
            sync_point_set(point, crash_now, NULL);
        _exit(repl_swap_dirs(dir, exchange) == 0 ? 0 : 3);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    const char *what;
    assert_int_equal(repl_swap_recover(dir, &what), 0);
    assert_true(exists(dir));
    assert_false(exists(sync));
    assert_false(exists(old));
    assert_false(exists(tmp));
    char *v = read_store(dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s/data*", root);
    assert_int_equal(system(cmd), 0);
    return v;
}

static void test_repl_swap_crash_at_each_step(void **state)
{
    (void)state;
    char *root = tu_tempdir("repl-swap-crash");
    struct {
        const char *point;
        bool exchange;
        const char *want;
    } cases[] = {
        {"repl_swap:exchanged", true, "new"},
        {NULL, true, "new"},
        {"repl_swap:renamed_old", false, "new"}, /* no "<dir>": the sync is finished */
        {"repl_swap:renamed_new", false, "new"},
        {NULL, false, "new"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *v = crash_at(root, cases[i].point, cases[i].exchange);
        assert_string_equal(v, cases[i].want);
        free(v);
    }
    /* before any step: the received directory is dropped, the old data stays */
    char dir[600], sync[700];
    snprintf(dir, sizeof dir, "%s/data", root);
    snprintf(sync, sizeof sync, "%s.sync", dir);
    make_store(dir, "old");
    make_store(sync, "new");
    assert_int_equal(repl_swap_recover(dir, NULL), 0);
    assert_false(exists(sync));
    char *v = read_store(dir);
    assert_string_equal(v, "old");
    free(v);
    /* only the old data, aside: rolled back */
    char old[700];
    snprintf(old, sizeof old, "%s.old", dir);
    assert_int_equal(rename(dir, old), 0);
    assert_int_equal(repl_swap_recover(dir, NULL), 0);
    v = read_store(dir);
    assert_string_equal(v, "old");
    free(v);
    tu_rmdir_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_swap_serves_new_data),
        cmocka_unit_test(test_repl_swap_bad_data_keeps_old),
        cmocka_unit_test(test_repl_swap_crash_at_each_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_read_errors.c - commands against a store whose reads fail (the engine's file
 * fault injection makes every read of a table fail with EIO): a read error must reach
 * the client as an error reply, never as a nil that says "no such key" (issue 15,
 * item 24: MGET and HMGET answered nil). The commands run through the server's own
 * dispatcher, on a real engine in a temporary directory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "file.h"
#include "notify.h"
#include "server.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    server s;
    client c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = tu_tempdir("readerr");
    server *s = &f->s;
    config_default(&s->cfg);
    snprintf(s->cfg.dir, sizeof s->cfg.dir, "%s", f->dir);
    shale_options o;
    shale_options_default(&o);
    config_engine_options(&s->cfg, &o);
    o.block_cache_size = 0; /* every read of a table reaches the file */
    o.compaction_filter = ks_compaction_filter;
    o.compaction_filter_ctx = &s->ks;
    assert_int_equal(shale_open(f->dir, &o, &s->db), 0);
    assert_int_equal(ks_open(&s->ks, s->db, f->dir, NULL), 0);
    assert_int_equal(access_init(&s->access, ks_now_ms()), 0);
    pthread_mutex_init(&s->lock, NULL);
    s->start_ms = ks_now_ms();
    s->lastsave_s = (uint64_t)time(NULL);
    f->c = (client){.fd = -1, .proto = 2, .authenticated = true};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    file_fault_clear();
    server *s = &f->s;
    server_bgsave_wait(s);
    ks_close(&s->ks);
    cursor_table_free(&s->cursors);
    cmdstats_free(&s->cmds);
    access_free(&s->access);
    notify_free(s); /* the dispatcher's pending events (made at its first command) */
    assert_int_equal(shale_close(s->db), 0);
    pthread_mutex_destroy(&s->lock);
    resp_cmd_free(&f->c.cmd);
    resp_out_free(&f->c.out);
    tu_rmdir_free(f->dir);
    free(f);
    return 0;
}

/* Runs one command (its arguments, NULL-terminated) and returns its reply (static). */
static const char *run(fixture *f, ...)
{
    char req[4096];
    size_t n = 0, argc = 0;
    va_list ap;
    va_start(ap, f);
    while (va_arg(ap, const char *))
        argc++;
    va_end(ap);
    n += (size_t)snprintf(req + n, sizeof req - n, "*%zu\r\n", argc);
    va_start(ap, f);
    for (const char *a; (a = va_arg(ap, const char *));)
        n += (size_t)snprintf(req + n, sizeof req - n, "$%zu\r\n%s\r\n", strlen(a), a);
    va_end(ap);
    assert_true(n < sizeof req);
    size_t used;
    const char *err;
    assert_int_equal(resp_parse(req, n, 1 << 20, &f->c.cmd, &used, &err), 1);
    f->c.out.len = 0;
    command_dispatch(&f->s, &f->c);
    static char reply[4096];
    assert_true(f->c.out.len < sizeof reply);
    memcpy(reply, f->c.out.data, f->c.out.len);
    reply[f->c.out.len] = '\0';
    return reply;
}

/* From now on every read of a file fails with EIO. */
static void fail_reads(void)
{
    file_fault_arm(FILE_OP_READ, 1, EIO, false, true);
}

static void test_read_errors_mget(void **state)
{
    fixture *f = *state;
    assert_string_equal(run(f, "set", "a", "1", NULL), "+OK\r\n");
    assert_string_equal(run(f, "set", "b", "2", NULL), "+OK\r\n");
    assert_int_equal(shale_flush(f->s.db), 0); /* the keys are in a table, not in memory */
    fail_reads();
    const char *r = run(f, "get", "a", NULL);
    assert_true(r[0] == '-'); /* GET already replied the error */
    r = run(f, "mget", "a", "b", NULL);
    print_message("MGET with failing reads: %s", r);
    assert_true(r[0] == '-');
    assert_non_null(strstr(r, "-ERR reading from disk failed: Input/output error"));
    file_fault_clear();
    assert_string_equal(run(f, "mget", "a", "nokey", "b", NULL),
                        "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
}

static void test_read_errors_hmget(void **state)
{
    fixture *f = *state;
    assert_string_equal(run(f, "hset", "h", "f1", "v1", "f2", "v2", NULL), ":2\r\n");
    assert_int_equal(shale_flush(f->s.db), 0);
    /* a new field rewrites the hash's metadata, which stays in the memtable: only the
       reads of the older fields go to the table */
    assert_string_equal(run(f, "hset", "h", "f3", "v3", NULL), ":1\r\n");
    fail_reads();
    const char *r = run(f, "hget", "h", "f1", NULL);
    assert_true(r[0] == '-'); /* HGET already replied the error */
    r = run(f, "hmget", "h", "f3", "f1", NULL);
    print_message("HMGET with failing reads: %s", r);
    assert_true(r[0] == '-');
    assert_non_null(strstr(r, "-ERR reading from disk failed: Input/output error"));
    file_fault_clear();
    assert_string_equal(run(f, "hmget", "h", "f3", "nofield", "f1", NULL),
                        "*3\r\n$2\r\nv3\r\n$-1\r\n$2\r\nv1\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_errors_mget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_errors_hmget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_repl_backlog.c - the replication backlog (server/repl/repl_backlog.c): the newest
 * records within repl-backlog-size (the newest always kept), readers continuing record by
 * record from a boundary, a reader whose next record was dropped told so (-ERANGE), a
 * floor before the first record tapped, reset after a full sync, a reader woken through
 * its eventfd once, and a reader thread that sees every record of a tapping thread in
 * order, taking them in batches and waiting armed as a sender does.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "repl_backlog.h"

/* An encoded batch header (fixed64 first | fixed32 count) and pad bytes of payload. */
static size_t make_rep(char *out, uint64_t first, uint32_t count, size_t pad)
{
    for (int i = 0; i < 8; i++)
        out[i] = (char)(first >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (char)(count >> (8 * i));
    memset(out + 12, 'x', pad);
    return 12 + pad;
}

static void tap(repl_backlog *b, uint64_t first, uint32_t count, size_t pad)
{
    char rep[4096];
    repl_backlog_tap(b, rep, make_rep(rep, first, count, pad));
}

static void test_repl_backlog_keeps_newest_within_limit(void **state)
{
    (void)state;
    repl_backlog *b = repl_backlog_new(1000);
    for (uint64_t s = 1; s <= 100; s++)
        tap(b, s, 1, 88); /* 100 bytes each */
    uint64_t n, first, bytes;
    repl_backlog_stats(b, &n, &first, &bytes);
    assert_int_equal(n, 10);
    assert_int_equal(first, 91);
    assert_int_equal(bytes, 1000);
    tap(b, 101, 3, 3000); /* alone over the limit: kept, the rest goes */
    repl_backlog_stats(b, &n, &first, &bytes);
    assert_int_equal(n, 1);
    assert_int_equal(first, 101);
    assert_true(repl_backlog_can_continue(b, 100, 103));
    assert_true(repl_backlog_can_continue(b, 103, 103));
    assert_false(repl_backlog_can_continue(b, 99, 103));
    assert_false(repl_backlog_can_continue(b, 102, 103)); /* inside a record */
    repl_backlog_set_limit(b, 10);
    repl_backlog_stats(b, &n, &first, &bytes);
    assert_int_equal(n, 1);
    repl_backlog_free(b);
}

/* The record after `after`, alone: repl_backlog_next's count (1, 0 or -ERANGE), *r NULL
   unless 1. */
static int next_one(repl_backlog *b, uint64_t after, repl_record **r)
{
    *r = NULL;
    return repl_backlog_next(b, after, r, 1, 1);
}

static void test_repl_backlog_readers_continue_and_fall_out(void **state)
{
    (void)state;
    repl_backlog *b = repl_backlog_new(1 << 20);
    assert_true(repl_backlog_can_continue(b, 7, 7)); /* nothing tapped: at the engine's last */
    assert_false(repl_backlog_can_continue(b, 6, 7));
    tap(b, 8, 2, 10); /* the floor is 7: a store restarted at 7 */
    tap(b, 10, 1, 10);
    assert_true(repl_backlog_can_continue(b, 7, 10));
    assert_false(repl_backlog_can_continue(b, 6, 10));
    repl_record *r;
    assert_int_equal(next_one(b, 7, &r), 1);
    assert_int_equal(r->first, 8);
    assert_int_equal(r->last, 9);
    repl_record_unref(r);
    assert_int_equal(next_one(b, 9, &r), 1);
    assert_int_equal(r->first, 10);
    repl_backlog_set_limit(b, 1); /* drops record 8-9 while r is held */
    assert_int_equal(r->len, 22);
    repl_record_unref(r);
    assert_int_equal(next_one(b, 10, &r), 0); /* nothing yet */
    assert_null(r);
    assert_int_equal(next_one(b, 7, &r), -ERANGE);
    assert_false(repl_backlog_holds_after(b, 7));
    assert_true(repl_backlog_holds_after(b, 9));
    repl_backlog_reset(b, 500);
    assert_true(repl_backlog_can_continue(b, 500, 500));
    assert_int_equal(next_one(b, 10, &r), -ERANGE);
    tap(b, 501, 1, 0);
    assert_int_equal(next_one(b, 500, &r), 1);
    repl_record_unref(r);
    repl_backlog_free(b);
}

static void test_repl_backlog_wakes_an_armed_reader_once(void **state)
{
    (void)state;
    repl_backlog *b = repl_backlog_new(1 << 20);
    tap(b, 1, 1, 0);
    repl_waiter w = {.fd = eventfd(0, EFD_NONBLOCK)};
    assert_false(repl_backlog_arm(b, 0, &w)); /* a record is there: read it */
    assert_true(repl_backlog_arm(b, 1, &w));
    tap(b, 2, 1, 0);
    tap(b, 3, 1, 0);
    uint64_t v = 0;
    assert_int_equal(read(w.fd, &v, sizeof v), 8);
    assert_int_equal(v, 1); /* disarmed by the first */
    repl_backlog_disarm(b, &w);
    close(w.fd);
    repl_backlog_free(b);
}

typedef struct tapper {
    repl_backlog *b;
    uint64_t n;
} tapper;

static void *tap_many(void *arg)
{
    tapper *t = arg;
    for (uint64_t s = 1; s <= t->n; s++) {
        tap(t->b, s, 1, s % 50);
        if (s % 1000 == 0)
            usleep(1000);
    }
    return NULL;
}

static void test_repl_backlog_reader_sees_every_record(void **state)
{
    (void)state;
    repl_backlog *b = repl_backlog_new(64 << 20);
    tapper t = {b, 20000};
    pthread_t th;
    pthread_create(&th, NULL, tap_many, &t);
    repl_waiter w = {.fd = eventfd(0, EFD_NONBLOCK)};
    uint64_t pos = 0;
    while (pos < t.n) {
        repl_record *r[64];
        int n = repl_backlog_next(b, pos, r, 64, 1 << 20);
        assert_true(n >= 0);
        if (n == 0) { /* as a sender waits: armed, then on its eventfd */
            if (repl_backlog_arm(b, pos, &w)) {
                struct pollfd pf = {.fd = w.fd, .events = POLLIN};
                assert_int_equal(poll(&pf, 1, 5000), 1); /* a lost wake-up hangs here */
                uint64_t v;
                assert_int_equal(read(w.fd, &v, sizeof v), 8);
            }
            continue;
        }
        for (int i = 0; i < n; i++) {
            assert_int_equal(r[i]->first, pos + 1);
            assert_int_equal(r[i]->len, 12 + r[i]->first % 50);
            pos = r[i]->last;
            repl_record_unref(r[i]);
        }
    }
    pthread_join(th, NULL);
    close(w.fd);
    repl_backlog_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_backlog_keeps_newest_within_limit),
        cmocka_unit_test(test_repl_backlog_readers_continue_and_fall_out),
        cmocka_unit_test(test_repl_backlog_wakes_an_armed_reader_once),
        cmocka_unit_test(test_repl_backlog_reader_sees_every_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

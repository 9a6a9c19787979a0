/* test_slowlog.c - the slow log's entries as Redis keeps them (argument and byte limits,
   redaction, newest first) and its length as slowlog-max-len moves; the latency
   monitor's per-second samples, history and reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "latency_monitor.h"
#include "slowlog.h"

static int push_words(slowlog *l, long long max, int argc, const char **w, uint32_t redacted)
{
    resp_arg a[64];
    for (int i = 0; i < argc; i++)
        a[i] = (resp_arg){.p = w[i], .len = strlen(w[i])};
    slowlog_call call = {a, argc, redacted, 5, 100, "127.0.0.1:1", "n"};
    return slowlog_push(l, &call, max);
}

static void test_slowlog_keeps_the_newest_max(void **state)
{
    slowlog l = {0};
    char num[16];
    const char *w[2] = {"ping", num};
    for (int i = 0; i < 100; i++) {
        snprintf(num, sizeof num, "%d", i);
        assert_int_equal(push_words(&l, 128, 2, w, 0), 0);
    }
    assert_int_equal(l.len, 100);
    assert_string_equal(slowlog_at(&l, 0)->argv[1], "99");
    assert_string_equal(slowlog_at(&l, 99)->argv[1], "0");
    assert_null(slowlog_at(&l, 100));
    /* a lower max takes effect at the next push, as Redis trims there */
    snprintf(num, sizeof num, "x");
    assert_int_equal(push_words(&l, 10, 2, w, 0), 0);
    assert_int_equal(l.len, 10);
    assert_string_equal(slowlog_at(&l, 0)->argv[1], "x");
    assert_string_equal(slowlog_at(&l, 9)->argv[1], "91");
    assert_int_equal(slowlog_at(&l, 0)->id, 100);
    /* and a higher one lets it grow again */
    for (int i = 0; i < 30; i++)
        push_words(&l, 25, 2, w, 0);
    assert_int_equal(l.len, 25);
    assert_int_equal(slowlog_at(&l, 0)->id, 130);
    push_words(&l, 0, 2, w, 0); /* max 0 keeps nothing, the id still counts */
    assert_int_equal(l.len, 0);
    push_words(&l, 5, 2, w, 0);
    assert_int_equal(slowlog_at(&l, 0)->id, 132);
    slowlog_reset(&l);
    assert_int_equal(l.len, 0);
    slowlog_free(&l);
}

static void test_slowlog_trims_arguments_as_redis(void **state)
{
    slowlog l = {0};
    const char *w[40];
    char nums[40][8], big[300];
    for (int i = 0; i < 40; i++) {
        snprintf(nums[i], sizeof nums[i], "%d", i);
        w[i] = nums[i];
    }
    push_words(&l, 10, 33, w, 0); /* 33 arguments: 31 kept and a marker */
    const slowlog_entry *e = slowlog_at(&l, 0);
    assert_int_equal(e->argc, 32);
    assert_string_equal(e->argv[30], "30");
    assert_string_equal(e->argv[31], "... (2 more arguments)");
    push_words(&l, 10, 32, w, 0); /* exactly 32: all kept */
    assert_string_equal(slowlog_at(&l, 0)->argv[31], "31");
    memset(big, 'A', 129);
    big[129] = '\0';
    w[1] = big;
    push_words(&l, 10, 2, w, 0);
    e = slowlog_at(&l, 0);
    assert_int_equal(e->arglen[1], 128 + strlen("... (1 more bytes)"));
    assert_memory_equal(e->argv[1] + 128, "... (1 more bytes)", 18);
    big[128] = '\0';
    push_words(&l, 10, 2, w, 0);
    assert_int_equal(slowlog_at(&l, 0)->arglen[1], 128);
    /* secrets */
    const char *auth[] = {"auth", "user", "pass"};
    push_words(&l, 10, 3, auth, 6u);
    e = slowlog_at(&l, 0);
    assert_string_equal(e->argv[0], "auth");
    assert_string_equal(e->argv[1], "(redacted)");
    assert_string_equal(e->argv[2], "(redacted)");
    assert_string_equal(e->addr, "127.0.0.1:1");
    slowlog_free(&l);
}

static void test_latency_monitor_samples(void **state)
{
    latency_monitor m = {0};
    latency_monitor_add(&m, "command", 120, 1000);
    latency_monitor_add(&m, "command", 300, 1000); /* same second: the worst */
    latency_monitor_add(&m, "command", 200, 1000);
    latency_monitor_add(&m, "command", 150, 1001);
    latency_monitor_add(&m, "expire-cycle", 30, 1002);
    const latency_event *e = latency_monitor_find(&m, "command", 7);
    assert_non_null(e);
    assert_int_equal(e->max_ms, 300);
    latency_sample h[LATENCY_HISTORY_LEN];
    assert_int_equal(latency_event_history(e, h), 2);
    assert_int_equal(h[0].time_s, 1000);
    assert_int_equal(h[0].latency_ms, 300);
    assert_int_equal(h[1].latency_ms, 150);
    assert_int_equal(latency_event_latest(e)->time_s, 1001);
    for (int i = 0; i < 200; i++) /* the history keeps the newest 160 */
        latency_monitor_add(&m, "command", (uint32_t)i, 2000 + i);
    assert_int_equal(latency_event_history(e, h), LATENCY_HISTORY_LEN);
    assert_int_equal(h[0].time_s, 2040);
    assert_int_equal(h[LATENCY_HISTORY_LEN - 1].time_s, 2199);
    assert_int_equal(e->max_ms, 300);
    assert_int_equal(latency_monitor_reset_event(&m, "nosuch", 6), 0);
    assert_int_equal(latency_monitor_reset_event(&m, "command", 7), 1);
    assert_null(latency_monitor_find(&m, "command", 7));
    assert_non_null(latency_monitor_find(&m, "expire-cycle", 12));
    assert_int_equal(latency_monitor_reset(&m), 1);
    assert_int_equal(m.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slowlog_keeps_the_newest_max),
        cmocka_unit_test(test_slowlog_trims_arguments_as_redis),
        cmocka_unit_test(test_latency_monitor_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

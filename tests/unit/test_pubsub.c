/*
 * test_pubsub.c - the pub/sub registry and fan-out (server/pubsub/): confirmations and
 * their counts in RESP2 and RESP3, messages and pattern messages as each subscriber gets
 * them (clients of no event loop: straight into their reply buffers), shard channels
 * apart from channels and patterns, names leaving the registry with their last
 * subscriber, a client that goes leaving everything, and the name table's order through
 * growth and removals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_table.h"
#include "pubsub.h"
#include "server.h"
#include "testutil.h"

static void expect_out(client *c, const char *want)
{
    size_t n = strlen(want);
    if (c->out.len != n || memcmp(c->out.data, want, n) != 0)
        fail_msg("got '%.*s'\nwant '%s'", (int)c->out.len, c->out.data, want);
    c->out.len = 0;
}

static long long publish(server *s, const char *ch, const char *msg, bool shard)
{
    return pubsub_publish(s, ch, strlen(ch), msg, strlen(msg), shard);
}

static void sub(server *s, client *c, enum pubsub_kind k, const char *name)
{
    assert_int_equal(pubsub_subscribe(s, c, k, name, strlen(name)), 0);
}

static void test_pubsub_confirmations_and_messages(void **state)
{
    server s = {0};
    assert_int_equal(pubsub_init(&s, 1), 0);
    client a = {.proto = 2}, b = {.proto = 3};
    sub(&s, &a, PUBSUB_CHANNEL, "ch");
    sub(&s, &a, PUBSUB_CHANNEL, "ch"); /* twice: confirmed, counted once */
    expect_out(&a, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
                   "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    sub(&s, &b, PUBSUB_PATTERN, "c*");
    sub(&s, &b, PUBSUB_CHANNEL, "ch");
    expect_out(&b, ">3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:1\r\n"
                   ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:2\r\n");
    assert_int_equal(publish(&s, "ch", "hi", false), 3);
    expect_out(&a, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
    expect_out(&b, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
                   ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n");
    assert_int_equal(publish(&s, "cx", "", false), 1);
    expect_out(&a, "");
    expect_out(&b, ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\ncx\r\n$0\r\n\r\n");
    assert_int_equal(publish(&s, "ch", "x", true), 0); /* shard channels are apart */
    assert_int_equal(pubsub_numsub(&s, PUBSUB_CHANNEL, "ch", 2), 2);
    assert_int_equal(pubsub_count(&s, PUBSUB_PATTERN), 1);
    assert_true(pubsub_client_subscribed(&a));
    pubsub_forget(&s, &a);
    pubsub_forget(&s, &b);
    assert_int_equal(pubsub_count(&s, PUBSUB_CHANNEL), 0);
    assert_int_equal(pubsub_count(&s, PUBSUB_PATTERN), 0);
    assert_int_equal(publish(&s, "ch", "x", false), 0);
    assert_int_equal(pubsub_published(&s), 4);
    assert_int_equal(pubsub_delivered(&s), 4);
    resp_out_free(&a.out);
    resp_out_free(&b.out);
    pubsub_free(&s);
}

static void test_pubsub_unsubscribe_forms(void **state)
{
    server s = {0};
    assert_int_equal(pubsub_init(&s, 1), 0);
    client a = {.proto = 2};
    pubsub_unsubscribe_all(&s, &a, PUBSUB_CHANNEL); /* from nothing: one, null name */
    expect_out(&a, "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    sub(&s, &a, PUBSUB_CHANNEL, "x");
    sub(&s, &a, PUBSUB_CHANNEL, "y");
    sub(&s, &a, PUBSUB_PATTERN, "p");
    sub(&s, &a, PUBSUB_SHARD, "s");
    expect_out(&a, "*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\ny\r\n:2\r\n"
                   "*3\r\n$10\r\npsubscribe\r\n$1\r\np\r\n:3\r\n"
                   "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n");
    pubsub_unsubscribe(&s, &a, PUBSUB_CHANNEL, "nope", 4); /* not subscribed: confirmed */
    expect_out(&a, "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnope\r\n:3\r\n");
    pubsub_unsubscribe_all(&s, &a, PUBSUB_CHANNEL); /* counts include the pattern */
    expect_out(&a, "*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:2\r\n"
                   "*3\r\n$11\r\nunsubscribe\r\n$1\r\ny\r\n:1\r\n");
    assert_int_equal(pubsub_count(&s, PUBSUB_CHANNEL), 0);
    assert_int_equal(pubsub_client_count(&a, PUBSUB_SHARD), 1);
    pubsub_reset_client(&s, &a); /* RESET: no reply */
    expect_out(&a, "");
    assert_false(pubsub_client_subscribed(&a));
    assert_int_equal(pubsub_count(&s, PUBSUB_SHARD), 0);
    pubsub_forget(&s, &a);
    resp_out_free(&a.out);
    pubsub_free(&s);
}

static void test_ps_table_order_through_growth(void **state)
{
    ps_table t = {0};
    client *c = (client *)(uintptr_t)0x1000, *d = (client *)(uintptr_t)0x2000;
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        ps_entry *e = ps_upsert(&t, name, strlen(name));
        assert_non_null(e);
        assert_int_equal(ps_entry_add(e, c), 0);
        if (i % 3 == 0)
            assert_int_equal(ps_entry_add(e, d), 0);
    }
    assert_int_equal(t.count, 1000);
    for (int i = 0; i < 1000; i += 2) { /* every even name loses c; those with d stay */
        snprintf(name, sizeof name, "n%d", i);
        ps_entry *e = ps_find(&t, name, strlen(name));
        assert_non_null(e);
        ps_entry_remove(&t, e, c);
        assert_true(i % 3 == 0 ? ps_find(&t, name, strlen(name)) == e
                               : ps_find(&t, name, strlen(name)) == NULL);
    }
    int prev = -1;
    size_t n = 0;
    for (ps_entry *e = t.first; e; e = e->next, n++) {
        int i = atoi(e->name + 1);
        assert_true(i > prev); /* first-subscribed order kept */
        assert_true(i % 2 == 1 || i % 3 == 0);
        assert_true(ps_entry_has(e, i % 2 ? c : d));
        prev = i;
    }
    assert_int_equal(n, t.count);
    ps_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pubsub_confirmations_and_messages),
        cmocka_unit_test(test_pubsub_unsubscribe_forms),
        cmocka_unit_test(test_ps_table_order_through_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_notify.c - notify-keyspace-events' class letters (server/pubsub/notify.c): parsed
 * and shown back as redis-server 7.0 does (its CONFIG GET answers for these settings).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "notify.h"

/* What CONFIG GET answers after CONFIG SET of the first string, on redis-server 7.0.15. */
static const char *const shown[][2] = {
    {"", ""},
    {"KEA", "AKE"},
    {"gKE", "gKE"},
    {"$lshzxeKE", "$lshzxeKE"},
    {"EA", "AE"},
    {"mnAKE", "AKEm"}, /* with A, n is not shown */
    {"Km", "Km"},
    {"tdn", "tdn"},
    {"nmtexzhsl$gEK", "g$lshzxetnKEm"}, /* all of A but d */
    {"nmdtexzhsl$gEK", "AKEm"},
    {"g$lshzxetd", "A"}, /* every class of A spelled out is A */
    {"AAAA", "A"},
};

static void test_classes_show_as_redis_does(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        int flags = notify_parse_classes(shown[i][0]);
        assert_true(flags >= 0);
        char buf[32];
        notify_format_classes(flags, buf, sizeof buf);
        assert_string_equal(buf, shown[i][1]);
    }
}

static void test_a_leaves_out_keymiss_and_new(void **state)
{
    (void)state;
    int a = notify_parse_classes("A");
    assert_int_equal(a, NOTIFY_ALL);
    assert_false(a & NOTIFY_KEY_MISS);
    assert_false(a & NOTIFY_NEW);
    assert_false(a & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT));
}

static void test_other_letters_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"q", "KEAq", "a", "k", " ", "A ", "G", "*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(notify_parse_classes(bad[i]), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_show_as_redis_does),
        cmocka_unit_test(test_a_leaves_out_keymiss_and_new),
        cmocka_unit_test(test_other_letters_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_monitor.c - server/commands/monitor.c and pause.c without event loops: MONITOR's
 * quoting (Redis's sdscatrepr, every byte), which commands are fed and how a line reads,
 * delivery through the pending buffer; CLIENT PAUSE's rules (what WRITE and ALL cover, a
 * monitor never held, the longer end and the stricter mode kept, a timeout that passed
 * ends the pause, held clients counted and forgotten).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "monitor.h"
#include "pause.h"
#include "server.h"

/* Redis's sdscatrepr of one byte, written from its definition. */
static void repr_byte(unsigned char ch, char *out)
{
    switch (ch) {
    case '\\':
        strcpy(out, "\\\\");
        break;
    case '"':
        strcpy(out, "\\\"");
        break;
    case '\n':
        strcpy(out, "\\n");
        break;
    case '\r':
        strcpy(out, "\\r");
        break;
    case '\t':
        strcpy(out, "\\t");
        break;
    case '\a':
        strcpy(out, "\\a");
        break;
    case '\b':
        strcpy(out, "\\b");
        break;
    default:
        if (ch >= 0x20 && ch <= 0x7e)
            snprintf(out, 8, "%c", ch);
        else
            snprintf(out, 8, "\\x%02x", ch);
    }
}

static void test_monitor_repr_every_byte(void **state)
{
    (void)state;
    char all[256], want[256 * 4 + 3] = "\"";
    for (int i = 0; i < 256; i++) {
        all[i] = (char)i;
        repr_byte((unsigned char)i, want + strlen(want));
    }
    strcat(want, "\"");
    resp_out o = {0};
    monitor_repr(&o, all, sizeof all);
    assert_int_equal(o.len, strlen(want));
    assert_memory_equal(o.data, want, o.len);
    resp_out_free(&o);
}

static void test_monitor_repr_as_redis_server(void **state)
{
    (void)state;
    /* what redis-server 7.0 sent a monitor for this argument */
    static const char arg[] = "b\x00\n\"\\\xc3\xa9\t\r\x07\x08 ~\x7f";
    static const char want[] = "\"b\\x00\\n\\\"\\\\\\xc3\\xa9\\t\\r\\a\\b ~\\x7f\"";
    resp_out o = {0};
    monitor_repr(&o, arg, sizeof arg - 1);
    assert_int_equal(o.len, sizeof want - 1);
    assert_memory_equal(o.data, want, o.len);
    resp_out_free(&o);
}

static server srv;

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof srv);
    config_default(&srv.cfg);
    return monitor_init(&srv, 1) || pause_init(&srv, 1);
}

static int teardown(void **state)
{
    (void)state;
    monitor_free(&srv);
    pause_free(&srv);
    return 0;
}

/* A client with the command `req` (RESP) parsed into c->cmd. */
static void client_with(client *c, const char *req)
{
    size_t used;
    const char *err;
    assert_int_equal(resp_parse(req, strlen(req), 1 << 20, &c->cmd, &used, &err), 1);
}

static void clear_client(client *c)
{
    resp_cmd_free(&c->cmd);
    resp_out_free(&c->out);
}

static const char *line_after_time(const resp_out *o)
{
    const char *p = memchr(o->data, ' ', o->len);
    return p ? p + 1 : "";
}

static void test_monitor_feeds_what_redis_feeds(void **state)
{
    (void)state;
    client m = {.fd = -1, .proto = 2}, c = {.fd = -1, .proto = 2, .db = 3};
    snprintf(c.addr, sizeof c.addr, "127.0.0.1:1");
    assert_int_equal(monitor_start(&srv, &m), 0);
    assert_true(monitor_is(&m));

    client_with(&c, "*3\r\n$3\r\nset\r\n$1\r\na\r\n$2\r\nb\"\r\n");
    monitor_feed(&srv, &c, command_lookup("set", 3));
    assert_true(monitor_has_work(&srv, 0));
    monitor_run(&srv, 0);
    assert_false(monitor_has_work(&srv, 0));
    assert_true(m.out.len > 0 && m.out.data[0] == '+');
    resp_raw(&m.out, "", 1);
    assert_string_equal(line_after_time(&m.out), "[3 127.0.0.1:1] \"set\" \"a\" \"b\\\"\"\r\n");
    m.out.len = 0;
    clear_client(&c);

    /* admin (CONFIG GET), an unknown subcommand: not fed */
    client_with(&c, "*3\r\n$6\r\nconfig\r\n$3\r\nget\r\n$1\r\nx\r\n");
    monitor_feed(&srv, &c, command_lookup("config", 6));
    clear_client(&c);
    client_with(&c, "*2\r\n$6\r\nclient\r\n$5\r\nnosub\r\n");
    monitor_feed(&srv, &c, command_lookup("client", 6));
    clear_client(&c);
    monitor_run(&srv, 0);
    assert_int_equal(m.out.len, 0);

    /* a redacted password; CLIENT ID (not admin) is fed */
    client_with(&c, "*2\r\n$4\r\nauth\r\n$2\r\npw\r\n");
    c.redacted = 2;
    monitor_feed(&srv, &c, command_lookup("auth", 4));
    clear_client(&c);
    c.redacted = 0;
    monitor_run(&srv, 0);
    resp_raw(&m.out, "", 1);
    assert_string_equal(line_after_time(&m.out), "[3 127.0.0.1:1] \"auth\" \"(redacted)\"\r\n");
    m.out.len = 0;

    /* a monitor closing after its reply (QUIT) gets nothing more */
    m.close_after_reply = true;
    client_with(&c, "*1\r\n$4\r\nping\r\n");
    monitor_feed(&srv, &c, command_lookup("ping", 4));
    monitor_run(&srv, 0);
    assert_int_equal(m.out.len, 0);
    m.close_after_reply = false;

    /* RESET: no more lines */
    monitor_stop(&srv, &m);
    assert_false(monitor_is(&m));
    monitor_feed(&srv, &c, command_lookup("ping", 4));
    monitor_run(&srv, 0);
    assert_int_equal(m.out.len, 0);
    clear_client(&c);
    clear_client(&m);
}

static void test_monitor_own_command_takes_pending_lines_first(void **state)
{
    (void)state;
    client m = {.fd = -1, .proto = 2}, c = {.fd = -1, .proto = 2};
    snprintf(c.addr, sizeof c.addr, "127.0.0.1:1");
    assert_int_equal(monitor_start(&srv, &m), 0);
    client_with(&c, "*1\r\n$4\r\nping\r\n");
    monitor_feed(&srv, &c, command_lookup("ping", 4));
    assert_int_equal(m.out.len, 0);
    monitor_before_command(&srv, &m);
    assert_true(m.out.len > 0);
    monitor_stop(&srv, &m);
    clear_client(&c);
    clear_client(&m);
}

static void test_pause_covers_as_redis(void **state)
{
    (void)state;
    client c = {.fd = -1, .proto = 2}, m = {.fd = -1, .proto = 2};
    const command *set = command_lookup("set", 3), *get = command_lookup("get", 3);
    const command *cfg = command_lookup("config", 6);
    client_with(&c, "*2\r\n$3\r\nget\r\n$1\r\na\r\n");
    assert_false(pause_covers(&srv, &c, get));
    pause_start(&srv, PAUSE_WRITE, ks_now_ms() + 100000);
    assert_true(srv.ks.reap_paused);
    assert_true(pause_covers(&srv, &c, set));
    assert_false(pause_covers(&srv, &c, get));
    assert_false(pause_covers(&srv, &c, cfg));
    /* a shorter, less strict pause keeps the one in force; a stricter one wins */
    pause_start(&srv, PAUSE_WRITE, ks_now_ms() + 10);
    assert_true(pause_next_deadline(&srv) == 0); /* nobody held: no timer */
    pause_start(&srv, PAUSE_ALL, 0);
    assert_true(pause_covers(&srv, &c, get));
    assert_int_equal(monitor_start(&srv, &m), 0);
    assert_false(pause_covers(&srv, &m, get)); /* a monitor is never held */
    monitor_stop(&srv, &m);
    pause_hold(&srv, &c);
    assert_true(c.paused);
    assert_int_equal(pause_held_count(&srv), 1);
    assert_true(pause_next_deadline(&srv) > ks_now_ms() + 50000);
    pause_forget(&srv, &c);
    assert_false(c.paused);
    assert_int_equal(pause_held_count(&srv), 0);
    pause_end(&srv);
    assert_false(srv.ks.reap_paused);
    assert_false(pause_covers(&srv, &c, set));
    /* a timeout that passed ends the pause at the next look */
    pause_start(&srv, PAUSE_ALL, ks_now_ms() + 1);
    uint64_t t = ks_now_ms();
    while (ks_now_ms() < t + 3)
        ;
    assert_false(pause_covers(&srv, &c, get));
    assert_false(srv.ks.reap_paused);
    /* PAUSE 0: no pause */
    pause_start(&srv, PAUSE_ALL, 0);
    assert_false(pause_covers(&srv, &c, get));
    clear_client(&c);
    clear_client(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitor_repr_every_byte),
        cmocka_unit_test(test_monitor_repr_as_redis_server),
        cmocka_unit_test_setup_teardown(test_monitor_feeds_what_redis_feeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_own_command_takes_pending_lines_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pause_covers_as_redis, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

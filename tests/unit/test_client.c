/*
 * test_client.c - the client library against a real shale-server and (when Debian's
 * redis-server is installed) redis-server: commands in both forms, binary values,
 * RESP3 replies through HELLO 3, SELECT at connect, server errors as replies, a pipeline
 * of 10 000 commands; and against small fake servers in this process: a read timeout, a
 * server that closes in the middle of a reply, one that sends garbage; reconnect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shale_client.h"
#include "testutil.h"

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

typedef struct server {
    pid_t pid;
    int port;
    char *dir;
} server;

static const char *extra_args[8]; /* more shale-server arguments for the next start */

/* Starts a server and waits until it answers PING. false when it cannot run here. */
static bool start_server(server *s, bool redis)
{
    s->port = free_port();
    s->dir = tu_tempdir(redis ? "redis" : "shale");
    char port[16], bin[512];
    snprintf(port, sizeof port, "%d", s->port);
    const char *build = getenv("SHALE_BUILD") ? getenv("SHALE_BUILD") : "build";
    snprintf(bin, sizeof bin, "%s/shale-server", build);
    if (redis && access("/usr/bin/redis-server", X_OK) != 0)
        return false;
    s->pid = fork();
    if (s->pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        if (redis)
            execl("/usr/bin/redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--dir", s->dir, (char *)NULL);
        else {
            const char *args[16] = {"shale-server", "--port", port, "--dir", s->dir};
            int n = 5;
            for (int i = 0; extra_args[i]; i++)
                args[n++] = extra_args[i];
            execv(bin, (char *const *)args);
        }
        _exit(127);
    }
    shale_client_options o;
    shale_client_options_default(&o);
    o.port = s->port;
    o.timeout_ms = 2000;
    if (extra_args[0]) /* started with a password: a refused AUTH still means it is up */
        o.password = "secret";
    for (int i = 0; i < 200; i++) {
        shale_client *c;
        if (shale_client_connect(&o, &c) == 0) {
            shale_client_reply *r = shale_client_command(c, "PING");
            bool ok = r && r->type == SHALE_CLIENT_REPLY_STATUS;
            shale_client_reply_free(r);
            shale_client_close(c);
            if (ok)
                return true;
        } else {
            shale_client_close(c);
        }
        usleep(25 * 1000);
    }
    fail_msg("the %s server did not start", redis ? "redis" : "shale");
    return false;
}

static void stop_server(server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    tu_rmdir_free(s->dir);
}

static shale_client *client_for(int port, int resp3, int db)
{
    shale_client_options o;
    shale_client_options_default(&o);
    o.port = port;
    o.timeout_ms = 5000;
    o.connect_timeout_ms = 2000;
    o.resp3 = resp3;
    o.db = db;
    shale_client *c;
    int rc = shale_client_connect(&o, &c);
    if (rc)
        fail_msg("connect: %s", shale_client_errstr(c));
    return c;
}

static void exercise(int port)
{
    shale_client *c = client_for(port, 0, 0);
    shale_client_reply *r = shale_client_command(c, "SET %s %b", "k:bin", "a\0b\r\nc", (size_t)6);
    assert_non_null(r);
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_STATUS);
    assert_string_equal(r->str, "OK");
    shale_client_reply_free(r);
    r = shale_client_command(c, "GET k:bin");
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_STRING);
    assert_int_equal(r->len, 6);
    assert_memory_equal(r->str, "a\0b\r\nc", 6);
    shale_client_reply_free(r);
    r = shale_client_command(c, "GET k:missing");
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_NIL);
    shale_client_reply_free(r);
    r = shale_client_command(c, "INCRBY counter:%d %lld", 7, 1LL << 40);
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_INTEGER);
    assert_int_equal(r->integer, 1LL << 40);
    shale_client_reply_free(r);
    /* the server's error is a reply, and the connection goes on */
    r = shale_client_command(c, "INCR k:bin");
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_ERROR);
    assert_true(strncmp(r->str, "ERR", 3) == 0);
    assert_int_equal(shale_client_errcode(c), 0);
    shale_client_reply_free(r);
    const char *argv[] = {"HSET", "h:1", "name", "ada", "coins", "100"};
    r = shale_client_commandv(c, 6, argv, NULL);
    assert_int_equal(r->integer, 2);
    shale_client_reply_free(r);
    /* a pipeline of 10 000 commands, replies in order */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(shale_client_append(c, "SET p:%d v%d", i, i * 3), 0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(shale_client_append(c, "GET p:%d", i), 0);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(shale_client_get_reply(c, &r), 0);
        if (i >= 5000) {
            char want[32];
            snprintf(want, sizeof want, "v%d", (i - 5000) * 3);
            assert_string_equal(r->str, want);
        }
        shale_client_reply_free(r);
    }
    shale_client_close(c);

    /* RESP3: HELLO 3 at connect; HGETALL is a map */
    c = client_for(port, 1, 0);
    r = shale_client_command(c, "HGETALL h:1");
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_MAP);
    assert_int_equal(r->elements, 4);
    shale_client_reply_free(r);
    r = shale_client_command(c, "GET k:missing");
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_NIL);
    shale_client_reply_free(r);
    shale_client_close(c);

    /* SELECT at connect */
    c = client_for(port, 0, 3);
    shale_client_reply_free(shale_client_command(c, "SET only:in:3 yes"));
    shale_client_close(c);
    c = client_for(port, 0, 0);
    r = shale_client_command(c, "EXISTS only:in:3");
    assert_int_equal(r->integer, 0);
    shale_client_reply_free(r);
    shale_client_close(c);
}

static void test_against_shale_server(void **state)
{
    server s;
    start_server(&s, false);
    exercise(s.port);
    stop_server(&s);
}

static void test_against_redis_server(void **state)
{
    server s;
    if (!start_server(&s, true)) {
        tu_rmdir_free(s.dir);
        skip();
    }
    exercise(s.port);
    stop_server(&s);
}

/* ---- fake servers ---- */

typedef struct fake {
    int lfd, port;
    const char *reply; /* sent after the first command arrives; NULL: never answer */
    size_t reply_len;
    pthread_t th;
} fake;

static void *fake_main(void *arg)
{
    fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    char buf[256];
    if (fd >= 0 && recv(fd, buf, sizeof buf, 0) > 0) {
        if (f->reply) {
            send(fd, f->reply, f->reply_len, MSG_NOSIGNAL);
            close(fd);
            fd = -1;
        } else {
            usleep(800 * 1000); /* longer than the client waits */
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void fake_start(fake *f, const char *reply, size_t len)
{
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &l);
    f->port = ntohs(a.sin_port);
    listen(f->lfd, 4);
    f->reply = reply;
    f->reply_len = len;
    pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
}

static shale_client *fake_client(int port, int timeout_ms)
{
    shale_client_options o;
    shale_client_options_default(&o);
    o.port = port;
    o.timeout_ms = timeout_ms;
    shale_client *c;
    assert_int_equal(shale_client_connect(&o, &c), 0);
    return c;
}

static void test_read_timeout(void **state)
{
    fake f;
    fake_start(&f, NULL, 0);
    shale_client *c = fake_client(f.port, 200);
    assert_null(shale_client_command(c, "GET k"));
    assert_int_equal(shale_client_errcode(c), SHALE_CLIENT_ETIMEOUT);
    assert_non_null(strstr(shale_client_errstr(c), "timed out"));
    assert_null(shale_client_command(c, "PING")); /* not used again until reconnect */
    shale_client_close(c);
    fake_stop(&f);
}

static void test_server_closes_mid_reply(void **state)
{
    static const char partial[] = "*3\r\n$5\r\nhello\r\n$10\r\nwor";
    fake f;
    fake_start(&f, partial, sizeof partial - 1);
    shale_client *c = fake_client(f.port, 2000);
    assert_null(shale_client_command(c, "LRANGE l 0 -1"));
    assert_int_equal(shale_client_errcode(c), SHALE_CLIENT_ECLOSED);
    shale_client_close(c);
    fake_stop(&f);
}

static void test_garbage_is_a_protocol_error(void **state)
{
    static const char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    fake f;
    fake_start(&f, junk, sizeof junk - 1);
    shale_client *c = fake_client(f.port, 2000);
    assert_null(shale_client_command(c, "PING"));
    assert_int_equal(shale_client_errcode(c), SHALE_CLIENT_EPROTO);
    assert_non_null(strstr(shale_client_errstr(c), "unknown reply type"));
    shale_client_close(c);
    fake_stop(&f);
}

static void test_connect_errors_and_reconnect(void **state)
{
    shale_client_options o;
    shale_client_options_default(&o);
    o.port = free_port(); /* nobody listens */
    shale_client *c;
    assert_int_equal(shale_client_connect(&o, &c), SHALE_CLIENT_EIO);
    assert_non_null(strstr(shale_client_errstr(c), "refused"));
    shale_client_close(c);
    o.host = "no-such-host.invalid";
    assert_int_equal(shale_client_connect(&o, &c), SHALE_CLIENT_EINVAL);
    shale_client_close(c);
    /* a real server: a command after the server went away fails, reconnect recovers */
    server s;
    start_server(&s, false);
    c = client_for(s.port, 0, 0);
    assert_int_equal(shale_client_append(c, "PING"), 0);
    assert_int_equal(shale_client_append(c, "%x"), SHALE_CLIENT_EINVAL);
    assert_int_equal(shale_client_reconnect(c), 0);
    shale_client_reply *r = shale_client_command(c, "ECHO %s", "again");
    assert_string_equal(r->str, "again");
    shale_client_reply_free(r);
    shale_client_close(c);
    stop_server(&s);
}

/* A Unix socket and AUTH at connect; a wrong password is SHALE_CLIENT_ESERVER. */
static void test_unix_socket_and_auth(void **state)
{
    char sock[256];
    char *d = tu_tempdir("sock");
    snprintf(sock, sizeof sock, "%s/shale.sock", d);
    extra_args[0] = "--requirepass";
    extra_args[1] = "secret";
    extra_args[2] = "--unixsocket";
    extra_args[3] = sock;
    server s;
    start_server(&s, false);
    memset(extra_args, 0, sizeof extra_args);
    shale_client_options o;
    shale_client_options_default(&o);
    o.unix_path = sock;
    o.password = "secret";
    o.timeout_ms = 2000;
    shale_client *c;
    assert_int_equal(shale_client_connect(&o, &c), 0);
    shale_client_reply *r = shale_client_command(c, "PING");
    assert_string_equal(r->str, "PONG");
    shale_client_reply_free(r);
    shale_client_close(c);
    o.password = "wrong";
    assert_int_equal(shale_client_connect(&o, &c), SHALE_CLIENT_ESERVER);
    assert_non_null(strstr(shale_client_errstr(c), "AUTH"));
    shale_client_close(c);
    o.password = NULL; /* no AUTH: the server refuses commands, as a reply */
    assert_int_equal(shale_client_connect(&o, &c), 0);
    r = shale_client_command(c, "GET k");
    assert_int_equal(r->type, SHALE_CLIENT_REPLY_ERROR);
    assert_true(strncmp(r->str, "NOAUTH", 6) == 0);
    shale_client_reply_free(r);
    shale_client_close(c);
    stop_server(&s);
    tu_rmdir_free(d);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_shale_server),
        cmocka_unit_test(test_against_redis_server),
        cmocka_unit_test(test_read_timeout),
        cmocka_unit_test(test_server_closes_mid_reply),
        cmocka_unit_test(test_garbage_is_a_protocol_error),
        cmocka_unit_test(test_connect_errors_and_reconnect),
        cmocka_unit_test(test_unix_socket_and_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

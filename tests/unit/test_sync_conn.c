/*
 * test_sync_conn.c - server/net/sync_conn.c (MIGRATE's blocking connection) and
 * server/net/migrate_cache.c on loopback sockets: reply lines split across reads and
 * sharing a read, long lines, the peer closing, the timeouts of reads and writes, a
 * refused port, and the cache's reuse, closing, expiry and size limit. No name is
 * resolved (no DNS traffic from a test).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate_cache.h"
#include "sync_conn.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A listening loopback socket; its port in *port. */
static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 64), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A connected pair: *client through sync_connect, *server accepted. */
static void connected_pair(int *client, int *server)
{
    int port, l = listener(&port);
    assert_int_equal(sync_connect("127.0.0.1", port, 1000, client), 0);
    *server = accept(l, NULL, NULL);
    assert_true(*server >= 0);
    close(l);
}

static void test_sync_conn_lines_split_and_shared(void **state)
{
    int c, sv;
    connected_pair(&c, &sv);
    sync_reader r = {.fd = c};
    char line[64];
    /* two lines in one read, then one line in three writes */
    assert_int_equal(write(sv, "+OK\r\n-ERR no\r\n+O", 16), 16);
    assert_int_equal(sync_read_line(&r, line, sizeof line, 1000), 3);
    assert_string_equal(line, "+OK");
    assert_int_equal(sync_read_line(&r, line, sizeof line, 1000), 7);
    assert_string_equal(line, "-ERR no");
    assert_int_equal(write(sv, "K2\r", 3), 3);
    assert_int_equal(write(sv, "\n", 1), 1);
    assert_int_equal(sync_read_line(&r, line, sizeof line, 1000), 4);
    assert_string_equal(line, "+OK2");
    /* a line longer than the buffer is cut, and its rest does not become a line */
    char big[200];
    memset(big, 'x', sizeof big);
    big[0] = '-';
    assert_int_equal(write(sv, big, sizeof big), (ssize_t)sizeof big);
    assert_int_equal(write(sv, "\r\n+NEXT\r\n", 9), 9);
    assert_int_equal(sync_read_line(&r, line, sizeof line, 1000), 63);
    assert_int_equal(line[0], '-');
    assert_int_equal(sync_read_line(&r, line, sizeof line, 1000), 5);
    assert_string_equal(line, "+NEXT");
    /* the peer closes */
    close(sv);
    assert_int_equal(sync_read_line(&r, line, sizeof line, 1000), -ECONNRESET);
    close(c);
}

static void test_sync_conn_read_times_out(void **state)
{
    int c, sv;
    connected_pair(&c, &sv);
    sync_reader r = {.fd = c};
    char line[16];
    long long t0 = now_ms();
    assert_int_equal(sync_read_line(&r, line, sizeof line, 150), -ETIMEDOUT);
    long long took = now_ms() - t0;
    assert_true(took >= 150 && took < 1500);
    close(sv);
    close(c);
}

static void test_sync_conn_write_times_out_when_nobody_reads(void **state)
{
    int c, sv;
    connected_pair(&c, &sv);
    static char buf[1 << 20];
    int rc = 0;
    long long t0 = now_ms();
    for (int i = 0; i < 256 && rc == 0; i++) /* fills the socket buffers, then waits */
        rc = sync_write(c, buf, sizeof buf, 150);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(now_ms() - t0 < 10000);
    close(sv);
    close(c);
}

static void test_sync_conn_refused_port_fails_at_the_write(void **state)
{
    int port, l = listener(&port);
    close(l); /* nobody listens there now */
    int fd;
    assert_int_equal(sync_connect("127.0.0.1", port, 1000, &fd), 0); /* as Redis's */
    int rc = sync_write(fd, "x", 1, 1000);
    assert_true(rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EPIPE);
    close(fd);
}

static void test_migrate_cache_reuses_closes_and_expires(void **state)
{
    int port, l = listener(&port);
    char ps[16];
    int plen = snprintf(ps, sizeof ps, "%d", port);
    migrate_cache mc = {0};
    migrate_socket *a, *b;
    assert_int_equal(migrate_cache_get(&mc, "127.0.0.1", 9, ps, (size_t)plen, 1000, 100, &a), 0);
    assert_int_equal(a->last_db, -1);
    a->last_db = 9;
    assert_int_equal(migrate_cache_get(&mc, "127.0.0.1", 9, ps, (size_t)plen, 1000, 5000, &b), 0);
    assert_ptr_equal(a, b); /* the same connection, its SELECT remembered */
    assert_int_equal(b->last_db, 9);
    assert_int_equal(mc.n, 1);
    migrate_cache_expire(&mc, 5000 + MIGRATE_CACHE_TTL_MS); /* unused for exactly 10 s */
    assert_int_equal(mc.n, 1);
    migrate_cache_expire(&mc, 5001 + MIGRATE_CACHE_TTL_MS);
    assert_int_equal(mc.n, 0);
    assert_int_equal(migrate_cache_get(&mc, "127.0.0.1", 9, ps, (size_t)plen, 1000, 1, &a), 0);
    migrate_cache_close(&mc, "127.0.0.1", 9, ps, (size_t)plen);
    assert_int_equal(mc.n, 0);
    /* past 64 targets (names differ by a port suffix atoi ignores): one is closed */
    for (int i = 0; i < MIGRATE_CACHE_ITEMS + 3; i++) {
        char p2[32];
        int n = snprintf(p2, sizeof p2, "%dx%d", port, i);
        assert_int_equal(migrate_cache_get(&mc, "127.0.0.1", 9, p2, (size_t)n, 50, 1, &a), 0);
        assert_true(mc.n <= MIGRATE_CACHE_ITEMS);
    }
    assert_int_equal(mc.n, MIGRATE_CACHE_ITEMS);
    migrate_cache_free(&mc);
    assert_int_equal(mc.n, 0);
    /* a host that cannot be a name (it holds a NUL: never resolved) caches nothing */
    assert_int_equal(migrate_cache_get(&mc, "a\0b", 3, ps, (size_t)plen, 100, 1, &a),
                     -EHOSTUNREACH);
    assert_int_equal(mc.n, 0);
    assert_null(a);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_conn_lines_split_and_shared),
        cmocka_unit_test(test_sync_conn_read_times_out),
        cmocka_unit_test(test_sync_conn_write_times_out_when_nobody_reads),
        cmocka_unit_test(test_sync_conn_refused_port_fails_at_the_write),
        cmocka_unit_test(test_migrate_cache_reuses_closes_and_expires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

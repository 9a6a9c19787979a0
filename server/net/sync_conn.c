/*
 * sync_conn.c - a blocking outbound TCP connection with timeouts (sync_conn.h): a
 * non-blocking socket driven by poll(2), so every wait is bounded. Not an event-loop
 * socket: whoever calls this waits.
 */
#include "sync_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for events on fd (an interrupted wait counts as a short one). */
static void wait_for(int fd, short events, long long ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    (void)poll(&p, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

/* A non-blocking socket for ai whose connect started (or finished): its fd, or -errno. */
static int start_connect(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
        return fd;
    int err = -errno;
    close(fd);
    return err;
}

int sync_connect(const char *host, int port, long long timeout_ms, int *fd)
{
    *fd = -1;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -EHOSTUNREACH;
    int rc = -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai && rc < 0; ai = ai->ai_next)
        rc = start_connect(ai);
    freeaddrinfo(res);
    if (rc < 0)
        return rc;
    *fd = rc;
    int one = 1;
    setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* whether it connected shows at the first write, as in Redis */
    wait_for(*fd, POLLOUT, timeout_ms);
    return 0;
}

int sync_write(int fd, const void *p, size_t n, long long timeout_ms)
{
    const char *at = p;
    long long start = mono_ms();
    for (;;) {
        ssize_t w = send(fd, at, n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (w > 0) {
            at += w;
            n -= (size_t)w;
        }
        if (n == 0)
            return 0;
        long long elapsed = mono_ms() - start;
        if (elapsed >= timeout_ms)
            return -ETIMEDOUT;
        wait_for(fd, POLLOUT, timeout_ms - elapsed);
    }
}

/* Fills r's empty buffer, waiting up to timeout_ms (a read is tried after the last wait
   too). 0 or a negative error. */
static int fill(sync_reader *r, long long timeout_ms)
{
    long long start = mono_ms();
    for (;;) {
        ssize_t got = recv(r->fd, r->buf, sizeof r->buf, 0);
        if (got > 0) {
            r->off = 0;
            r->len = (size_t)got;
            return 0;
        }
        if (got == 0)
            return -ECONNRESET;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        long long elapsed = mono_ms() - start;
        if (elapsed >= timeout_ms)
            return -ETIMEDOUT;
        wait_for(r->fd, POLLIN, timeout_ms - elapsed);
    }
}

long sync_read_line(sync_reader *r, char *line, size_t cap, long long timeout_ms)
{
    size_t n = 0;
    for (;;) {
        if (r->off == r->len) {
            r->off = r->len = 0;
            int rc = fill(r, timeout_ms);
            if (rc)
                return rc;
        }
        char ch = r->buf[r->off++];
        if (ch == '\n')
            break;
        if (n + 1 < cap)
            line[n++] = ch;
    }
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return (long)n;
}

void sync_format_addr(int fd, bool peer, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                  : getsockname(fd, (struct sockaddr *)&ss, &len);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (rc == 0 && ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (rc == 0 && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    } else if (rc == 0 && ss.ss_family == AF_UNIX) {
        snprintf(buf, cap, "/unixsocket:0");
        return;
    }
    snprintf(buf, cap, "%s:%d", host, port);
}

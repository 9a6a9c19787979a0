/*
 * repl_wire.c - blocking socket I/O bounded by a timeout (repl_wire.h).
 */
#include "repl_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int wire_open(repl_wire *w, int fd, int timeout_ms, const void *pre, size_t pre_len)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->timeout_ms = timeout_ms;
    w->pre = pre;
    w->pre_len = pre ? pre_len : 0;
    w->saved_flags = fcntl(fd, F_GETFL);
    if (w->saved_flags < 0 || fcntl(fd, F_SETFL, w->saved_flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

void wire_close(repl_wire *w)
{
    fcntl(w->fd, F_SETFL, w->saved_flags);
}

/* Waits until fd is ready for events; -ETIMEDOUT after timeout_ms of nothing. Readiness
   includes an error or hang-up: the next call reports it. */
static int wait_ready(repl_wire *w, short events)
{
    struct pollfd p = {.fd = w->fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, w->timeout_ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* -1 from a call: wait and retry (0), or the error. */
static int retry_or_fail(repl_wire *w, short events)
{
    if (errno == EINTR)
        return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return wait_ready(w, events);
    return -errno;
}

int wire_write(repl_wire *w, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t k = send(w->fd, b, n, MSG_NOSIGNAL);
        if (k < 0) {
            int rc = retry_or_fail(w, POLLOUT);
            if (rc)
                return rc;
            continue;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Takes up to n bytes of what was read before the wire opened. */
static size_t take_pre(repl_wire *w, char *p, size_t n)
{
    size_t k = n < w->pre_len ? n : w->pre_len;
    if (k == 0)
        return 0; /* (pre may be NULL) */
    memcpy(p, w->pre, k);
    w->pre += k;
    w->pre_len -= k;
    return k;
}

/* One recv of at most n bytes (flags: 0 or MSG_PEEK), waiting while there is none. */
static ssize_t recv_some(repl_wire *w, char *p, size_t n, int flags)
{
    for (;;) {
        ssize_t k = recv(w->fd, p, n, flags);
        if (k > 0)
            return k;
        if (k == 0)
            return -ECONNRESET;
        int rc = retry_or_fail(w, POLLIN);
        if (rc)
            return rc;
    }
}

int wire_read(repl_wire *w, void *p, size_t n)
{
    char *b = p;
    size_t got = take_pre(w, b, n);
    while (got < n) {
        ssize_t k = recv_some(w, b + got, n - got, 0);
        if (k < 0)
            return (int)k;
        got += (size_t)k;
    }
    return 0;
}

/* Appends bytes up to and including the first '\n' of src[0..n) to the line; returns how
   many it took (all n when there is none), or -EPROTO when the line would not fit. */
static ssize_t line_take(const char *src, size_t n, char *line, size_t cap, size_t *len,
                         int *done)
{
    const char *nl = memchr(src, '\n', n);
    size_t k = nl ? (size_t)(nl - src) + 1 : n;
    if (*len + k >= cap)
        return -EPROTO;
    memcpy(line + *len, src, k);
    *len += k;
    *done = nl != NULL;
    return (ssize_t)k;
}

int wire_read_line(repl_wire *w, char *line, size_t cap, size_t *len)
{
    *len = 0;
    int done = 0;
    if (w->pre_len) {
        ssize_t k = line_take(w->pre, w->pre_len, line, cap, len, &done);
        if (k < 0)
            return (int)k;
        w->pre += k;
        w->pre_len -= (size_t)k;
    }
    char peek[256];
    while (!done) {
        /* peek, then take only this line's bytes: what follows is not ours */
        ssize_t k = recv_some(w, peek, sizeof peek, MSG_PEEK);
        if (k < 0)
            return (int)k;
        ssize_t t = line_take(peek, (size_t)k, line, cap, len, &done);
        if (t < 0)
            return (int)t;
        if (recv_some(w, peek, (size_t)t, 0) != t)
            return -EIO; /* the peeked bytes were not there to take */
    }
    if (*len < 2 || line[*len - 2] != '\r')
        return -EPROTO;
    *len -= 2;
    line[*len] = '\0';
    return 0;
}

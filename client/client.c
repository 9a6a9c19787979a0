/*
 * client.c - connections (TCP or Unix socket, connect/read/write timeouts, AUTH, HELLO 3,
 * SELECT), command encoding (printf-like and argv forms) and pipelining over the reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shale_client.h"
#include "client_internal.h"

struct shale_client {
    shale_client_options o; /* strings below are the client's own copies */
    char *host, *unix_path, *username, *password;
    int fd;
    shale_client_reader *reader;
    char *obuf;
    size_t olen, ocap;
    long pending; /* commands sent or appended whose replies are not taken yet */
    int err;
    char errstr[160];
};

void shale_client_options_default(shale_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 6379;
}

static int set_err(shale_client *c, int code, const char *fmt, ...)
{
    c->err = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof c->errstr, fmt, ap);
    va_end(ap);
    return code;
}

int shale_client_errcode(const shale_client *c)
{
    return c ? c->err : SHALE_CLIENT_ENOMEM;
}

const char *shale_client_errstr(const shale_client *c)
{
    return c ? c->errstr : "out of memory";
}

int shale_client_fd(const shale_client *c)
{
    return c->fd;
}

/* Waits until fd is ready for events; timeout_ms 0: no limit. */
static int wait_fd(shale_client *c, short events, int timeout_ms, const char *what)
{
    struct pollfd p = {c->fd, events, 0};
    for (;;) {
        int n = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
        if (n > 0)
            return 0;
        if (n == 0)
            return set_err(c, SHALE_CLIENT_ETIMEOUT, "%s timed out after %d ms", what, timeout_ms);
        if (errno != EINTR)
            return set_err(c, SHALE_CLIENT_EIO, "%s: poll: %s", what, strerror(errno));
    }
}

/* Non-blocking connect of fd to addr, then back to blocking use through poll. */
static int connect_fd(shale_client *c, const struct sockaddr *addr, socklen_t len)
{
    int flags = fcntl(c->fd, F_GETFL);
    fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(c->fd, addr, len) != 0) {
        if (errno != EINPROGRESS)
            return set_err(c, SHALE_CLIENT_EIO, "connect: %s", strerror(errno));
        int rc = wait_fd(c, POLLOUT, c->o.connect_timeout_ms, "connect");
        if (rc)
            return rc;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr)
            return set_err(c, SHALE_CLIENT_EIO, "connect: %s", strerror(soerr));
    }
    /* Blocking from here, with the kernel keeping the read/write timeouts: one system
       call per read or write, as hiredis does. */
    fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
    if (c->o.timeout_ms > 0) {
        struct timeval tv = {c->o.timeout_ms / 1000, (c->o.timeout_ms % 1000) * 1000};
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    return 0;
}

static int open_socket(shale_client *c)
{
    if (c->unix_path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(c->unix_path) >= sizeof sa.sun_path)
            return set_err(c, SHALE_CLIENT_EINVAL, "unix socket path too long");
        strcpy(sa.sun_path, c->unix_path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            return set_err(c, SHALE_CLIENT_EIO, "socket: %s", strerror(errno));
        return connect_fd(c, (struct sockaddr *)&sa, sizeof sa);
    }
    char port[16];
    snprintf(port, sizeof port, "%d", c->o.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int g = getaddrinfo(c->host, port, &hints, &res);
    if (g)
        return set_err(c, SHALE_CLIENT_EINVAL, "%s: %s", c->host, gai_strerror(g));
    int rc = SHALE_CLIENT_EIO;
    for (ai = res; ai; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (c->fd < 0) {
            rc = set_err(c, SHALE_CLIENT_EIO, "socket: %s", strerror(errno));
            continue;
        }
        rc = connect_fd(c, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0)
            break;
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    if (rc == 0) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return rc;
}

/* Runs a connect-time command; a server error becomes SHALE_CLIENT_ESERVER. */
static int setup_command(shale_client *c, int argc, const char *const *argv)
{
    shale_client_reply *r = shale_client_commandv(c, argc, argv, NULL);
    if (!r)
        return c->err;
    int rc = 0;
    if (r->type == SHALE_CLIENT_REPLY_ERROR)
        rc = set_err(c, SHALE_CLIENT_ESERVER, "%s: %s", argv[0], r->str);
    shale_client_reply_free(r);
    return rc;
}

static int do_connect(shale_client *c)
{
    c->err = 0;
    c->errstr[0] = '\0';
    c->pending = 0;
    c->olen = 0;
    shale_client_reader_free(c->reader);
    c->reader = shale_client_reader_new();
    if (!c->reader)
        return set_err(c, SHALE_CLIENT_ENOMEM, "out of memory");
    int rc = open_socket(c);
    if (rc)
        return rc;
    if (c->o.resp3) {
        const char *hello[] = {"HELLO", "3", "AUTH", c->username ? c->username : "default",
                               c->password};
        rc = setup_command(c, c->password ? 5 : 2, hello);
    } else if (c->password) {
        const char *auth[] = {"AUTH", c->username ? c->username : c->password, c->password};
        rc = setup_command(c, c->username ? 3 : 2, auth);
    }
    if (rc == 0 && c->o.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", c->o.db);
        const char *sel[] = {"SELECT", db};
        rc = setup_command(c, 2, sel);
    }
    return rc;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

int shale_client_connect(const shale_client_options *o, shale_client **out)
{
    *out = NULL;
    shale_client *c = calloc(1, sizeof *c);
    if (!c)
        return SHALE_CLIENT_ENOMEM;
    *out = c;
    c->fd = -1;
    shale_client_options def;
    if (!o) {
        shale_client_options_default(&def);
        o = &def;
    }
    c->o = *o;
    bool oom = false;
    c->host = dup_or_null(o->host ? o->host : "127.0.0.1", &oom);
    c->unix_path = dup_or_null(o->unix_path, &oom);
    c->username = dup_or_null(o->username, &oom);
    c->password = dup_or_null(o->password, &oom);
    if (oom)
        return set_err(c, SHALE_CLIENT_ENOMEM, "out of memory");
    return do_connect(c);
}

int shale_client_reconnect(shale_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    return do_connect(c);
}

void shale_client_close(shale_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    shale_client_reader_free(c->reader);
    free(c->obuf);
    free(c->host);
    free(c->unix_path);
    free(c->username);
    free(c->password);
    free(c);
}

/* ---- encoding commands ---- */

static int reserve(shale_client *c, size_t n)
{
    if (c->olen + n <= c->ocap)
        return 0;
    size_t cap = c->ocap ? c->ocap : 16384;
    while (cap < c->olen + n)
        cap *= 2;
    char *b = realloc(c->obuf, cap);
    if (!b)
        return set_err(c, SHALE_CLIENT_ENOMEM, "out of memory");
    c->obuf = b;
    c->ocap = cap;
    return 0;
}

/* Writes "$len\r\n" fast. */
static char *put_len(char *p, char type, size_t n)
{
    char tmp[24];
    int k = 0;
    do
        tmp[k++] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    *p++ = type;
    while (k)
        *p++ = tmp[--k];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

int shale_client_appendv(shale_client *c, int argc, const char *const *argv,
                         const size_t *argvlen)
{
    if (c->err)
        return c->err;
    if (argc < 1)
        return set_err(c, SHALE_CLIENT_EINVAL, "a command needs at least its name");
    size_t need = 24;
    for (int i = 0; i < argc; i++)
        need += 24 + (argvlen ? argvlen[i] : strlen(argv[i])) + 2;
    int rc = reserve(c, need);
    if (rc)
        return rc;
    char *p = put_len(c->obuf + c->olen, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        p = put_len(p, '$', n);
        memcpy(p, argv[i], n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
    }
    c->olen = (size_t)(p - c->obuf);
    c->pending++;
    return 0;
}

/* The printf-like form: arguments split at spaces, % pieces inserted into the argument
   they stand in. Arguments are gathered in a scratch buffer, then encoded. */
static int vappend(shale_client *c, const char *fmt, va_list ap)
{
    char *scratch = NULL;
    size_t slen = 0, scap = 0;
    size_t starts[64], ends[64], *st = starts, *en = ends;
    int argc = 0, cap = 64;
    bool in_arg = false;
    int rc = 0;
#define GROW(n)                                                                                    \
    do {                                                                                           \
        if (slen + (n) > scap) {                                                                   \
            size_t nc = scap ? scap * 2 : 256;                                                     \
            while (nc < slen + (n))                                                                \
                nc *= 2;                                                                           \
            char *ns = realloc(scratch, nc);                                                       \
            if (!ns) {                                                                             \
                rc = set_err(c, SHALE_CLIENT_ENOMEM, "out of memory");                             \
                goto out;                                                                          \
            }                                                                                      \
            scratch = ns;                                                                          \
            scap = nc;                                                                             \
        }                                                                                          \
    } while (0)
    for (const char *f = fmt; *f; f++) {
        if (*f == ' ') {
            if (in_arg)
                en[argc++] = slen;
            in_arg = false;
            continue;
        }
        if (!in_arg) {
            if (argc == cap) {
                size_t *ns = malloc((size_t)cap * 2 * sizeof *ns), *ne = malloc((size_t)cap * 2 * sizeof *ne);
                if (!ns || !ne) {
                    free(ns);
                    free(ne);
                    rc = set_err(c, SHALE_CLIENT_ENOMEM, "out of memory");
                    goto out;
                }
                memcpy(ns, st, (size_t)argc * sizeof *ns);
                memcpy(ne, en, (size_t)argc * sizeof *ne);
                if (st != starts) {
                    free(st);
                    free(en);
                }
                st = ns;
                en = ne;
                cap *= 2;
            }
            st[argc] = slen;
            in_arg = true;
        }
        if (*f != '%') {
            GROW(1);
            scratch[slen++] = *f;
            continue;
        }
        char num[32];
        const char *piece = num;
        size_t plen;
        switch (*++f) {
        case 's':
            piece = va_arg(ap, const char *);
            plen = strlen(piece);
            break;
        case 'b':
            piece = va_arg(ap, const char *);
            plen = va_arg(ap, size_t);
            break;
        case 'd':
            plen = (size_t)snprintf(num, sizeof num, "%d", va_arg(ap, int));
            break;
        case 'u':
            plen = (size_t)snprintf(num, sizeof num, "%u", va_arg(ap, unsigned));
            break;
        case 'l':
            if (f[1] == 'l' && f[2] == 'd') {
                plen = (size_t)snprintf(num, sizeof num, "%lld", va_arg(ap, long long));
                f += 2;
                break;
            }
            if (f[1] == 'l' && f[2] == 'u') {
                plen = (size_t)snprintf(num, sizeof num, "%llu", va_arg(ap, unsigned long long));
                f += 2;
                break;
            }
            rc = set_err(c, SHALE_CLIENT_EINVAL, "unknown format %%l%c", f[1]);
            goto out;
        case '%':
            piece = "%";
            plen = 1;
            break;
        default:
            rc = set_err(c, SHALE_CLIENT_EINVAL, "unknown format %%%c", *f ? *f : '?');
            goto out;
        }
        GROW(plen);
        memcpy(scratch + slen, piece, plen);
        slen += plen;
    }
    if (in_arg)
        en[argc++] = slen;
    {
        const char **argv = malloc((size_t)(argc ? argc : 1) * sizeof *argv);
        size_t *lens = malloc((size_t)(argc ? argc : 1) * sizeof *lens);
        if (!argv || !lens) {
            free(argv);
            free(lens);
            rc = set_err(c, SHALE_CLIENT_ENOMEM, "out of memory");
            goto out;
        }
        for (int i = 0; i < argc; i++) {
            argv[i] = scratch + st[i];
            lens[i] = en[i] - st[i];
        }
        rc = shale_client_appendv(c, argc, argv, lens);
        free(argv);
        free(lens);
    }
out:
#undef GROW
    if (st != starts) {
        free(st);
        free(en);
    }
    free(scratch);
    return rc;
}

int shale_client_append(shale_client *c, const char *fmt, ...)
{
    if (c->err)
        return c->err;
    va_list ap;
    va_start(ap, fmt);
    int rc = vappend(c, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- I/O ---- */

int shale_client_flush(shale_client *c)
{
    if (c->err)
        return c->err;
    size_t done = 0;
    while (done < c->olen) {
        ssize_t n = send(c->fd, c->obuf + done, c->olen - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return set_err(c, SHALE_CLIENT_ETIMEOUT, "write timed out after %d ms",
                           c->o.timeout_ms);
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return set_err(c, SHALE_CLIENT_ECLOSED, "connection closed by the server (write)");
        return set_err(c, SHALE_CLIENT_EIO, "write: %s", strerror(errno));
    }
    c->olen = 0;
    return 0;
}

int shale_client_get_reply(shale_client *c, shale_client_reply **out)
{
    *out = NULL;
    if (c->err)
        return c->err;
    int rc = shale_client_flush(c);
    if (rc)
        return rc;
    for (;;) {
        rc = shale_client_reader_get_reply(c->reader, out);
        if (rc == 1) {
            c->pending--;
            return 0;
        }
        if (rc < 0)
            return set_err(c, rc, "%s", rc == SHALE_CLIENT_EPROTO
                                            ? shale_client_reader_error(c->reader)
                                            : "out of memory");
        /* straight into the reader's buffer: no copy */
        size_t avail;
        char *space = client_reader_space(c->reader, 16384, &avail);
        if (!space)
            return set_err(c, SHALE_CLIENT_ENOMEM, "out of memory");
        ssize_t n = recv(c->fd, space, avail, 0);
        if (n > 0) {
            client_reader_commit(c->reader, (size_t)n);
            continue;
        }
        if (n == 0)
            return set_err(c, SHALE_CLIENT_ECLOSED, "connection closed by the server");
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return set_err(c, SHALE_CLIENT_ETIMEOUT, "read timed out after %d ms",
                           c->o.timeout_ms);
        if (errno == ECONNRESET)
            return set_err(c, SHALE_CLIENT_ECLOSED, "connection reset by the server");
        return set_err(c, SHALE_CLIENT_EIO, "read: %s", strerror(errno));
    }
}

/* Takes (and drops) the replies of commands appended earlier, then this one's. */
static shale_client_reply *finish_command(shale_client *c)
{
    shale_client_reply *r = NULL;
    while (c->pending > 0) {
        if (shale_client_get_reply(c, &r))
            return NULL;
        if (c->pending == 0)
            return r;
        shale_client_reply_free(r);
    }
    return NULL;
}

shale_client_reply *shale_client_command(shale_client *c, const char *fmt, ...)
{
    if (c->err)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vappend(c, fmt, ap);
    va_end(ap);
    return rc ? NULL : finish_command(c);
}

shale_client_reply *shale_client_commandv(shale_client *c, int argc, const char *const *argv,
                                          const size_t *argvlen)
{
    if (shale_client_appendv(c, argc, argv, argvlen))
        return NULL;
    return finish_command(c);
}

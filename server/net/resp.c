/*
 * resp.c - RESP request parsing (see resp.h). Multibulk: "*N\r\n" then N times
 * "$L\r\n<L bytes>\r\n". Inline: a line split on spaces, with "..." (C escapes) and '...'
 * quoting as redis-cli and telnet users type it. Errors use Redis 7.0's words.
 */
#include "resp.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void resp_cmd_free(resp_cmd *c)
{
    free(c->argv);
    free(c->argbuf);
    c->argv = NULL;
    c->argbuf = NULL;
    c->argc = c->cap = 0;
    c->argbuf_cap = 0;
    resp_cmd_reset(c);
}

void resp_cmd_reset(resp_cmd *c)
{
    c->at = (resp_progress){.blen = -1};
}

int resp_argv_next_cap(int cap)
{
    if (cap == INT_MAX)
        return 0;
    if (cap == 0)
        return 16;
    return cap > INT_MAX / 2 ? INT_MAX : cap * 2;
}

static int push_arg(resp_cmd *c, const char *p, size_t len)
{
    if (c->argc == c->cap) {
        int cap = resp_argv_next_cap(c->cap);
        if (cap == 0)
            return -ENOMEM; /* INT_MAX arguments: RESP_MAX_ARGS */
        resp_arg *a = realloc(c->argv, (size_t)cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        c->argv = a;
        c->cap = cap;
    }
    c->argv[c->argc++] = (resp_arg){.p = p, .len = len};
    return 0;
}

/* Parses a decimal after a type byte up to "\r\n" in [p, end): 1 ok, 0 need more, -1
   bad. Looks at no more than the longest line it accepts, whatever follows. */
static int parse_line_number(const char *p, const char *end, long long *out, const char **next,
                             size_t max_digits, uint64_t *examined)
{
    size_t avail = (size_t)(end - p), window = max_digits + 3;
    const char *nl = memchr(p, '\r', avail < window ? avail : window);
    *examined += nl ? (size_t)(nl - p) + 2 : (avail < window ? avail : window);
    if (!nl) {
        if (avail > max_digits + 2)
            return -1;
        return 0;
    }
    if (nl + 1 >= end)
        return 0;
    if (nl[1] != '\n')
        return -1;
    bool neg = false;
    const char *q = p;
    if (q < nl && *q == '-') {
        neg = true;
        q++;
    }
    if (q == nl || (size_t)(nl - q) > 18)
        return -1;
    long long v = 0;
    for (; q < nl; q++) {
        if (*q < '0' || *q > '9')
            return -1;
        v = v * 10 + (*q - '0');
    }
    *out = neg ? -v : v;
    *next = nl + 2;
    return 1;
}

/* Reads the "*N\r\n" header into cmd->at: 1 read (or an empty command consumed), 0 need
   more, -1 error. */
static int multibulk_header(const char *buf, size_t len, bool unauth, resp_cmd *cmd,
                            size_t *consumed, const char **err)
{
    const char *p;
    long long n;
    int r = parse_line_number(buf + 1, buf + len, &n, &p, 20, &cmd->examined);
    if (r == 0)
        return 0;
    if (r < 0 || n > RESP_MAX_ARGS) {
        /* the whole buffer once, on the way to closing the connection */
        *err = r < 0 && !memchr(buf, '\r', len) ? "Protocol error: too big mbulk count string"
                                                : "Protocol error: invalid multibulk length";
        return -1;
    }
    if (unauth && n > 10) {
        *err = "Protocol error: unauthenticated multibulk length";
        return -1;
    }
    cmd->argc = 0;
    if (n <= 0) { /* "*0" and "*-1": nothing to run */
        *consumed = (size_t)(p - buf);
        return 1;
    }
    cmd->at.nargs = n;
    cmd->at.pos = (size_t)(p - buf);
    cmd->at.blen = -1;
    return 1;
}

/*
 * Goes on with a multibulk request from cmd->at: each bulk's header is read once, its
 * bytes are skipped over when all have arrived, and an argument is kept as an offset
 * until the request is complete (the caller's buffer may move between calls).
 */
static int parse_multibulk(const char *buf, size_t len, uint64_t max_bulk, resp_cmd *cmd,
                           size_t *consumed, const char **err)
{
    bool unauth = max_bulk == RESP_UNAUTHENTICATED;
    if (unauth)
        max_bulk = 16384;
    if (cmd->at.nargs == 0) {
        int r = multibulk_header(buf, len, unauth, cmd, consumed, err);
        if (r <= 0 || cmd->at.nargs == 0)
            return r;
    }
    resp_progress *at = &cmd->at;
    const char *end = buf + len;
    while (cmd->argc < at->nargs) {
        const char *p = buf + at->pos;
        if (at->blen < 0) {
            if (p >= end)
                return 0;
            cmd->examined++;
            if (*p != '$') {
                static char msg[64];
                memcpy(msg, "Protocol error: expected '$', got ' '", 38);
                msg[35] = *p;
                *err = msg;
                return -1;
            }
            long long blen;
            int r = parse_line_number(p + 1, end, &blen, &p, 20, &cmd->examined);
            if (r == 0)
                return 0;
            if (r < 0 || blen < 0 || (uint64_t)blen > max_bulk) {
                *err = unauth && r > 0 && blen > 16384 ? "Protocol error: unauthenticated bulk length"
                                                       : "Protocol error: invalid bulk length";
                return -1;
            }
            at->blen = blen;
            at->pos = (size_t)(p - buf);
        }
        size_t blen = (size_t)at->blen;
        if (len - at->pos < blen + 2)
            return 0;
        cmd->examined += 2;
        if (p[blen] != '\r' || p[blen + 1] != '\n') {
            *err = "Protocol error: invalid bulk length";
            return -1;
        }
        if (push_arg(cmd, NULL, blen)) {
            *err = "OOM command not allowed when used memory > 'maxmemory'.";
            return -1;
        }
        cmd->argv[cmd->argc - 1].off = at->pos; /* a pointer once the request is whole */
        at->pos += blen + 2;
        at->blen = -1;
    }
    for (int i = 0; i < cmd->argc; i++)
        cmd->argv[i].p = buf + cmd->argv[i].off;
    *consumed = at->pos;
    return 1;
}

static inline bool is_arg_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A closing quote must end the argument: the next byte is a space or the line's end. */
static inline bool quote_ends_arg(const char *s, size_t i, size_t n)
{
    return i + 1 >= n || is_arg_space(s[i + 1]);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Splits an inline line like Redis's sdssplitargs; unescaped bytes go to cmd->argbuf. */
static int split_inline(const char *s, size_t n, resp_cmd *cmd, const char **err)
{
    if (cmd->argbuf_cap < n + 1) {
        char *b = realloc(cmd->argbuf, n + 1);
        if (!b) {
            *err = "OOM command not allowed when used memory > 'maxmemory'.";
            return -1;
        }
        cmd->argbuf = b;
        cmd->argbuf_cap = n + 1;
    }
    char *out = cmd->argbuf;
    size_t i = 0;
    cmd->argc = 0;
    for (;;) {
        while (i < n && is_arg_space(s[i]))
            i++;
        if (i >= n)
            return 0;
        char *start = out;
        bool dq = false, sq = false, done = false;
        while (!done) {
            if (dq) {
                if (i >= n)
                    goto unbalanced;
                if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
                    hexval(s[i + 3]) >= 0) {
                    *out++ = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
                    i += 4;
                } else if (s[i] == '\\' && i + 1 < n) {
                    char c = s[i + 1];
                    *out++ = c == 'n'   ? '\n'
                             : c == 'r' ? '\r'
                             : c == 't' ? '\t'
                             : c == 'b' ? '\b'
                             : c == 'a' ? '\a'
                                        : c;
                    i += 2;
                } else if (s[i] == '"') {
                    if (!quote_ends_arg(s, i, n))
                        goto unbalanced;
                    done = true;
                    i++;
                } else {
                    *out++ = s[i++];
                }
            } else if (sq) {
                if (i >= n)
                    goto unbalanced;
                if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
                    *out++ = '\'';
                    i += 2;
                } else if (s[i] == '\'') {
                    if (!quote_ends_arg(s, i, n))
                        goto unbalanced;
                    done = true;
                    i++;
                } else {
                    *out++ = s[i++];
                }
            } else {
                if (i >= n || is_arg_space(s[i])) {
                    done = true;
                } else if (s[i] == '"') {
                    dq = true;
                    i++;
                } else if (s[i] == '\'') {
                    sq = true;
                    i++;
                } else {
                    *out++ = s[i++];
                }
            }
        }
        if (push_arg(cmd, start, (size_t)(out - start))) {
            *err = "OOM command not allowed when used memory > 'maxmemory'.";
            return -1;
        }
    }
unbalanced:
    *err = "Protocol error: unbalanced quotes in request";
    return -1;
}

int resp_split_args(const char *s, size_t n, resp_cmd *cmd, const char **err)
{
    return split_inline(s, n, cmd, err);
}

/* An inline command: a line up to '\n'. The search goes on where the last call's ended. */
static int parse_inline(const char *buf, size_t len, resp_cmd *cmd, size_t *consumed,
                        const char **err)
{
    size_t from = cmd->at.pos;
    const char *nl = memchr(buf + from, '\n', len - from);
    cmd->examined += nl ? (size_t)(nl - (buf + from)) + 1 : len - from;
    if (!nl) {
        if (len > RESP_MAX_INLINE) {
            *err = "Protocol error: too big inline request";
            return -1;
        }
        cmd->at.pos = len;
        return 0;
    }
    size_t line = (size_t)(nl - buf);
    if (line > 0 && buf[line - 1] == '\r')
        line--;
    if (split_inline(buf, line, cmd, err))
        return -1;
    *consumed = (size_t)(nl - buf) + 1;
    return 1;
}

int resp_parse(const char *buf, size_t len, uint64_t max_bulk, resp_cmd *cmd, size_t *consumed,
               const char **err)
{
    *consumed = 0;
    if (len < cmd->at.pos) /* not the bytes of the last call: start over */
        resp_cmd_reset(cmd);
    if (len == 0)
        return 0;
    int r = buf[0] == '*' ? parse_multibulk(buf, len, max_bulk, cmd, consumed, err)
                          : parse_inline(buf, len, cmd, consumed, err);
    if (r != 0)
        resp_cmd_reset(cmd);
    return r;
}

/* ---- replies ---- */

void resp_out_free(resp_out *o)
{
    free(o->data);
    o->data = NULL;
    o->len = o->cap = 0;
    o->err = 0;
}

static char *out_reserve(resp_out *o, size_t n)
{
    if (o->err)
        return NULL;
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap - o->len < n)
            cap *= 2;
        char *p = realloc(o->data, cap);
        if (!p) {
            o->err = -ENOMEM;
            return NULL;
        }
        o->data = p;
        o->cap = cap;
    }
    return o->data + o->len;
}

void resp_raw(resp_out *o, const void *p, size_t n)
{
    if (n == 0)
        return;
    char *d = out_reserve(o, n);
    if (!d)
        return;
    memcpy(d, p, n);
    o->len += n;
}

/* Writes prefix, a decimal and CRLF without printf (the hot path of every reply). */
static void prefixed_number(resp_out *o, char prefix, long long v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    char *d = out_reserve(o, n + 3);
    if (!d)
        return;
    d[0] = prefix;
    memcpy(d + 1, p, n);
    d[n + 1] = '\r';
    d[n + 2] = '\n';
    o->len += n + 3;
}

static void line(resp_out *o, char prefix, const char *s)
{
    size_t n = strlen(s);
    char *d = out_reserve(o, n + 3);
    if (!d)
        return;
    d[0] = prefix;
    /* a status line never carries CR or LF: replace them, as Redis does */
    for (size_t i = 0; i < n; i++)
        d[1 + i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
    d[n + 1] = '\r';
    d[n + 2] = '\n';
    o->len += n + 3;
}

void resp_simple(resp_out *o, const char *s)
{
    line(o, '+', s);
}

void resp_error(resp_out *o, const char *msg)
{
    line(o, '-', msg);
}

void resp_integer(resp_out *o, long long v)
{
    prefixed_number(o, ':', v);
}

void resp_bulk(resp_out *o, const void *p, size_t n)
{
    prefixed_number(o, '$', (long long)n);
    char *d = out_reserve(o, n + 2);
    if (!d)
        return;
    memcpy(d, p, n);
    d[n] = '\r';
    d[n + 1] = '\n';
    o->len += n + 2;
}

void resp_bulk_cstr(resp_out *o, const char *s)
{
    resp_bulk(o, s, strlen(s));
}

void resp_null(resp_out *o, int proto)
{
    if (proto >= 3)
        resp_raw(o, "_\r\n", 3);
    else
        resp_raw(o, "$-1\r\n", 5);
}

void resp_null_array(resp_out *o, int proto)
{
    if (proto >= 3)
        resp_raw(o, "_\r\n", 3);
    else
        resp_raw(o, "*-1\r\n", 5);
}

void resp_array(resp_out *o, long long n)
{
    prefixed_number(o, '*', n);
}

void resp_map(resp_out *o, long long pairs, int proto)
{
    if (proto >= 3)
        prefixed_number(o, '%', pairs);
    else
        prefixed_number(o, '*', pairs * 2);
}

void resp_set(resp_out *o, long long n, int proto)
{
    prefixed_number(o, proto >= 3 ? '~' : '*', n);
}

void resp_double(resp_out *o, double d, int proto)
{
    char tmp[64];
    int n;
    if (isinf(d))
        n = snprintf(tmp, sizeof tmp, "%s", d > 0 ? "inf" : "-inf");
    else if (isnan(d))
        n = snprintf(tmp, sizeof tmp, "nan");
    else
        n = snprintf(tmp, sizeof tmp, "%.17g", d);
    if (proto >= 3) {
        char *dst = out_reserve(o, (size_t)n + 3);
        if (!dst)
            return;
        dst[0] = ',';
        memcpy(dst + 1, tmp, (size_t)n);
        dst[n + 1] = '\r';
        dst[n + 2] = '\n';
        o->len += (size_t)n + 3;
    } else {
        resp_bulk(o, tmp, (size_t)n);
    }
}

void resp_bool(resp_out *o, int b, int proto)
{
    if (proto >= 3)
        resp_raw(o, b ? "#t\r\n" : "#f\r\n", 4);
    else
        resp_raw(o, b ? ":1\r\n" : ":0\r\n", 4);
}

void resp_verbatim(resp_out *o, const void *p, size_t n, int proto)
{
    if (proto < 3) {
        resp_bulk(o, p, n);
        return;
    }
    prefixed_number(o, '=', (long long)n + 4);
    resp_raw(o, "txt:", 4);
    resp_raw(o, p, n);
    resp_raw(o, "\r\n", 2);
}

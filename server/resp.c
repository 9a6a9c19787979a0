/*
 * resp.c - RESP request parsing (see resp.h). Multibulk: "*N\r\n" then N times
 * "$L\r\n<L bytes>\r\n". Inline: a line split on spaces, with "..." (C escapes) and '...'
 * quoting as redis-cli and telnet users type it. Errors use Redis 7.0's words.
 */
#include "resp.h"

#include <errno.h>
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
}

static int push_arg(resp_cmd *c, const char *p, size_t len)
{
    if (c->argc == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        resp_arg *a = realloc(c->argv, (size_t)cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        c->argv = a;
        c->cap = cap;
    }
    c->argv[c->argc++] = (resp_arg){p, len};
    return 0;
}

/* Parses a decimal after a type byte up to "\r\n" in [p, end). 1 ok, 0 need more, -1 bad. */
static int parse_line_number(const char *p, const char *end, long long *out, const char **next,
                             size_t max_digits)
{
    const char *nl = memchr(p, '\r', (size_t)(end - p));
    if (!nl) {
        if ((size_t)(end - p) > max_digits + 2)
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

static int parse_multibulk(const char *buf, size_t len, uint64_t max_bulk, resp_cmd *cmd,
                           size_t *consumed, const char **err)
{
    const char *p = buf + 1, *end = buf + len;
    long long n;
    int r = parse_line_number(p, end, &n, &p, 20);
    if (r == 0)
        return 0;
    if (r < 0 || n > RESP_MAX_ARGS) {
        *err = r < 0 && !memchr(buf, '\r', len) ? "Protocol error: too big mbulk count string"
                                                : "Protocol error: invalid multibulk length";
        return -1;
    }
    cmd->argc = 0;
    if (n <= 0) {
        *consumed = (size_t)(p - buf);
        return 1;
    }
    for (long long i = 0; i < n; i++) {
        if (p >= end)
            return 0;
        if (*p != '$') {
            static char msg[64];
            memcpy(msg, "Protocol error: expected '$', got ' '", 38);
            msg[35] = *p;
            *err = msg;
            return -1;
        }
        long long blen;
        r = parse_line_number(p + 1, end, &blen, &p, 20);
        if (r == 0)
            return 0;
        if (r < 0 || blen < 0 || (uint64_t)blen > max_bulk) {
            *err = "Protocol error: invalid bulk length";
            return -1;
        }
        if ((size_t)(end - p) < (size_t)blen + 2)
            return 0;
        if (p[blen] != '\r' || p[blen + 1] != '\n') {
            *err = "Protocol error: invalid bulk length";
            return -1;
        }
        if (push_arg(cmd, p, (size_t)blen)) {
            *err = "OOM command not allowed when used memory > 'maxmemory'.";
            return -1;
        }
        p += blen + 2;
    }
    *consumed = (size_t)(p - buf);
    return 1;
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
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
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
                    *out++ = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t'
                                             : c == 'b' ? '\b' : c == 'a' ? '\a' : c;
                    i += 2;
                } else if (s[i] == '"') {
                    /* the closing quote must be followed by a space or the end */
                    if (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '\t' && s[i + 1] != '\r' &&
                        s[i + 1] != '\n')
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
                    if (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '\t' && s[i + 1] != '\r' &&
                        s[i + 1] != '\n')
                        goto unbalanced;
                    done = true;
                    i++;
                } else {
                    *out++ = s[i++];
                }
            } else {
                if (i >= n || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
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

int resp_parse(const char *buf, size_t len, uint64_t max_bulk, resp_cmd *cmd, size_t *consumed,
               const char **err)
{
    *consumed = 0;
    if (len == 0)
        return 0;
    if (buf[0] == '*')
        return parse_multibulk(buf, len, max_bulk, cmd, consumed, err);
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > RESP_MAX_INLINE) {
            *err = "Protocol error: too big inline request";
            return -1;
        }
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

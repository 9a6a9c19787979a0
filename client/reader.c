/*
 * reader.c - the RESP2/RESP3 reply reader (shale_client.h): bytes in, reply trees out.
 *
 * The unread bytes sit in one buffer; get_reply parses from its front as far as whole
 * items go and keeps the aggregates still being filled on a stack, so input split at any
 * byte is never parsed twice except for the header line of an item whose body has not
 * all arrived. A reply tree is built in an arena that the top-level reply owns: one
 * bump allocation per node (with its string bytes), none per byte, one free for a tree.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shale_client.h"
#include "client_internal.h"

#define MAX_BULK (512u << 20)    /* Redis's proto-max-bulk-len default */
#define MAX_ELEMENTS (1u << 30)
#define MAX_DEPTH 1024
#define FIRST_ELEMENTS 4096      /* element slots reserved up front; more as they come */

/* ---- the arena a reply tree lives in ---- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) char data[];
} arena_block;

#define ARENA_BLOCK 8192

static void *arena_alloc(arena_block **head, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_block *b = *head;
    if (b && b->cap - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    /* Blocks start small (most replies are one node: one small malloc) and double up
       to ARENA_BLOCK; a large piece gets a block of its own behind the current one, so
       the current block's free room is not lost. */
    size_t grow = b ? (b->cap * 2 < ARENA_BLOCK ? b->cap * 2 : ARENA_BLOCK) : 256;
    size_t cap = n > ARENA_BLOCK / 4 ? n : (n > grow ? n : grow);
    arena_block *nb = malloc(sizeof *nb + cap);
    if (!nb)
        return NULL;
    nb->cap = cap;
    nb->used = n;
    if (b && n > ARENA_BLOCK / 4) {
        nb->next = b->next;
        b->next = nb;
    } else {
        nb->next = b;
        *head = nb;
    }
    return nb->data;
}

void client_arena_free(void *owner)
{
    arena_block *b = owner;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
}

void shale_client_reply_free(shale_client_reply *r)
{
    if (r)
        client_arena_free(r->owner_);
}

/* ---- the reader ---- */

typedef struct frame {
    shale_client_reply *agg;
    size_t expected;              /* elements (a map's: twice its pairs) */
    size_t cap;                   /* element slots allocated */
    shale_client_reply *pending;  /* attribute for this aggregate's next element */
} frame;

struct shale_client_reader {
    char *buf;
    size_t pos, len, cap; /* unread bytes: buf[pos..len) */
    size_t scan;          /* where the search for the current line's end resumes */
    int err;
    char errmsg[128];
    frame *stack;
    int depth, stack_cap;
    arena_block *arena;           /* the tree being built */
    shale_client_reply *pending;  /* attribute for the next top-level reply */
};

shale_client_reader *shale_client_reader_new(void)
{
    shale_client_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cap = 16384;
    r->buf = malloc(r->cap);
    r->stack_cap = 8;
    r->stack = malloc((size_t)r->stack_cap * sizeof *r->stack);
    if (!r->buf || !r->stack) {
        shale_client_reader_free(r);
        return NULL;
    }
    return r;
}

void shale_client_reader_free(shale_client_reader *r)
{
    if (!r)
        return;
    client_arena_free(r->arena);
    free(r->stack);
    free(r->buf);
    free(r);
}

const char *shale_client_reader_error(const shale_client_reader *r)
{
    return r->errmsg;
}

/* printf-checked, so that a format and its arguments cannot disagree (they once passed
   a char * to %c). */
static int fail(shale_client_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(shale_client_reader *r, int code, const char *fmt, ...)
{
    r->err = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    client_arena_free(r->arena);
    r->arena = NULL;
    r->depth = 0;
    r->pending = NULL;
    return code;
}

char *client_reader_space(shale_client_reader *r, size_t min, size_t *avail)
{
    if (r->pos == r->len) {
        r->pos = r->len = r->scan = 0;
    } else if (r->pos > 0 && (r->pos >= r->cap / 2 || r->len + min > r->cap)) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->scan -= r->scan >= r->pos ? r->pos : r->scan;
        r->pos = 0;
    }
    if (r->len + min > r->cap) {
        size_t cap = r->cap;
        while (cap < r->len + min)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b)
            return NULL;
        r->buf = b;
        r->cap = cap;
    }
    *avail = r->cap - r->len;
    return r->buf + r->len;
}

void client_reader_commit(shale_client_reader *r, size_t n)
{
    r->len += n;
}

int shale_client_reader_feed(shale_client_reader *r, const char *data, size_t n)
{
    if (r->err)
        return r->err;
    size_t avail;
    char *p = client_reader_space(r, n, &avail);
    if (!p)
        return SHALE_CLIENT_ENOMEM;
    memcpy(p, data, n);
    r->len += n;
    return 0;
}

/* A signed 64-bit decimal filling [p, end) exactly. */
static bool parse_ll(const char *p, const char *end, long long *out)
{
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == end)
        return false;
    unsigned long long v = 0, limit = neg ? 9223372036854775808ull : 9223372036854775807ull;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

static shale_client_reply *new_node(shale_client_reader *r, int type, const char *s, size_t n)
{
    shale_client_reply *x = arena_alloc(&r->arena, sizeof *x + n + 1);
    if (!x)
        return NULL;
    *x = (shale_client_reply){.type = (shale_client_reply_type)type};
    x->str = (char *)(x + 1);
    memcpy(x->str, s, n);
    x->str[n] = '\0';
    x->len = n;
    return x;
}

static int push_frame(shale_client_reader *r, shale_client_reply *agg, size_t expected)
{
    if (r->depth == MAX_DEPTH)
        return fail(r, SHALE_CLIENT_EPROTO, "%s", "replies nested too deep");
    if (r->depth == r->stack_cap) {
        frame *s = realloc(r->stack, (size_t)r->stack_cap * 2 * sizeof *s);
        if (!s)
            return SHALE_CLIENT_ENOMEM;
        r->stack = s;
        r->stack_cap *= 2;
    }
    size_t cap = expected < FIRST_ELEMENTS ? expected : FIRST_ELEMENTS;
    agg->element = arena_alloc(&r->arena, cap * sizeof *agg->element);
    if (!agg->element)
        return SHALE_CLIENT_ENOMEM;
    r->stack[r->depth++] = (frame){agg, expected, cap, NULL};
    return 0;
}

/* A finished item: attach it to the aggregate being filled, closing every aggregate it
   completes. Returns 1 with the top-level reply in *out, 0 to go on, or an error. */
static int complete(shale_client_reader *r, shale_client_reply *x, shale_client_reply **out)
{
    for (;;) {
        shale_client_reply **pending = r->depth ? &r->stack[r->depth - 1].pending : &r->pending;
        if (x->type == SHALE_CLIENT_REPLY_ATTRIBUTE) {
            x->attribute = *pending; /* attributes in a row chain up */
            *pending = x;            /* for the next item at this level */
            return 0;
        }
        x->attribute = *pending;
        *pending = NULL;
        if (r->depth == 0) {
            x->owner_ = r->arena;
            r->arena = NULL;
            *out = x;
            return 1;
        }
        frame *f = &r->stack[r->depth - 1];
        if (f->agg->elements == f->cap) {
            size_t cap = f->cap * 2 < f->expected ? f->cap * 2 : f->expected;
            shale_client_reply **e = arena_alloc(&r->arena, cap * sizeof *e);
            if (!e)
                return SHALE_CLIENT_ENOMEM;
            memcpy(e, f->agg->element, f->cap * sizeof *e);
            f->agg->element = e;
            f->cap = cap;
        }
        f->agg->element[f->agg->elements++] = x;
        if (f->agg->elements < f->expected)
            return 0;
        x = f->agg;
        r->depth--;
    }
}

static int aggregate_type(char c)
{
    switch (c) {
    case '*': return SHALE_CLIENT_REPLY_ARRAY;
    case '%': return SHALE_CLIENT_REPLY_MAP;
    case '~': return SHALE_CLIENT_REPLY_SET;
    case '>': return SHALE_CLIENT_REPLY_PUSH;
    case '|': return SHALE_CLIENT_REPLY_ATTRIBUTE;
    default: return 0;
    }
}

int shale_client_reader_get_reply(shale_client_reader *r, shale_client_reply **out)
{
    *out = NULL;
    if (r->err)
        return r->err;
    while (r->pos < r->len) {
        const char *item = r->buf + r->pos, *end = r->buf + r->len;
        /* the header line: type byte ... \r\n */
        size_t from = r->scan > r->pos + 1 ? r->scan : r->pos + 1;
        const char *cr = from < r->len ? memchr(r->buf + from, '\r', r->len - from) : NULL;
        if (!cr || cr + 1 >= end) {
            r->scan = cr ? (size_t)(cr - r->buf) : r->len;
            return 0;
        }
        if (cr[1] != '\n')
            return fail(r, SHALE_CLIENT_EPROTO, "%s", "a line ends in \\r without \\n");
        const char *line = item + 1;
        size_t llen = (size_t)(cr - line);
        const char *next = cr + 2;
        char type = *item;
        shale_client_reply *x = NULL;
        long long n;
        int agg = aggregate_type(type);
        if (agg) {
            if (!parse_ll(line, cr, &n) || n < -1 || n > MAX_ELEMENTS ||
                (n == -1 && type != '*'))
                return fail(r, SHALE_CLIENT_EPROTO, "bad aggregate length after '%c'",
                            type);
            x = new_node(r, n == -1 ? SHALE_CLIENT_REPLY_NIL : agg, "", 0);
            if (!x)
                return SHALE_CLIENT_ENOMEM;
            r->pos = r->scan = (size_t)(next - r->buf);
            size_t expected = (size_t)n * (agg == SHALE_CLIENT_REPLY_MAP ||
                                           agg == SHALE_CLIENT_REPLY_ATTRIBUTE ? 2 : 1);
            if (n > 0) {
                int rc = push_frame(r, x, expected);
                if (rc)
                    return rc;
                continue;
            }
        } else {
            switch (type) {
            case '+':
            case '-':
            case '(':
                if (type == '(' && !parse_ll(line, cr, &n) && (llen == 0 || llen > 4096))
                    return fail(r, SHALE_CLIENT_EPROTO, "%s", "bad big number");
                x = new_node(r, type == '+'   ? SHALE_CLIENT_REPLY_STATUS
                                : type == '-' ? SHALE_CLIENT_REPLY_ERROR
                                              : SHALE_CLIENT_REPLY_BIGNUM,
                             line, llen);
                break;
            case ':':
                if (!parse_ll(line, cr, &n))
                    return fail(r, SHALE_CLIENT_EPROTO, "%s", "bad integer");
                x = new_node(r, SHALE_CLIENT_REPLY_INTEGER, line, llen);
                if (x)
                    x->integer = n;
                break;
            case '_':
                if (llen != 0)
                    return fail(r, SHALE_CLIENT_EPROTO, "%s", "bad null");
                x = new_node(r, SHALE_CLIENT_REPLY_NIL, "", 0);
                break;
            case '#':
                if (llen != 1 || (*line != 't' && *line != 'f'))
                    return fail(r, SHALE_CLIENT_EPROTO, "%s", "bad boolean");
                x = new_node(r, SHALE_CLIENT_REPLY_BOOL, line, llen);
                if (x)
                    x->integer = *line == 't';
                break;
            case ',': {
                char tmp[400];
                if (llen == 0 || llen >= sizeof tmp)
                    return fail(r, SHALE_CLIENT_EPROTO, "%s", "bad double");
                memcpy(tmp, line, llen);
                tmp[llen] = '\0';
                char *e;
                double d = strtod(tmp, &e);
                if (*e != '\0')
                    return fail(r, SHALE_CLIENT_EPROTO, "%s", "bad double");
                x = new_node(r, SHALE_CLIENT_REPLY_DOUBLE, line, llen);
                if (x)
                    x->dval = d;
                break;
            }
            case '$':
            case '!':
            case '=': {
                if (!parse_ll(line, cr, &n) || n < -1 || n > (long long)MAX_BULK ||
                    (n == -1 && type != '$'))
                    return fail(r, SHALE_CLIENT_EPROTO, "bad length after '%c'",
                                type);
                if (n == -1) {
                    x = new_node(r, SHALE_CLIENT_REPLY_NIL, "", 0);
                    break;
                }
                if ((size_t)(end - next) < (size_t)n + 2) {
                    r->scan = (size_t)(cr - r->buf); /* the line is whole: wait for the body */
                    return 0;
                }
                if (next[n] != '\r' || next[n + 1] != '\n')
                    return fail(r, SHALE_CLIENT_EPROTO, "%s", "a bulk string's body runs on");
                if (type == '=') {
                    if (n < 4 || next[3] != ':')
                        return fail(r, SHALE_CLIENT_EPROTO, "%s", "bad verbatim string");
                    x = new_node(r, SHALE_CLIENT_REPLY_VERBATIM, next + 4, (size_t)n - 4);
                    if (x)
                        memcpy(x->format, next, 3);
                } else {
                    x = new_node(r, type == '$' ? SHALE_CLIENT_REPLY_STRING
                                                : SHALE_CLIENT_REPLY_ERROR,
                                 next, (size_t)n);
                }
                next += n + 2;
                break;
            }
            default:
                return fail(r, SHALE_CLIENT_EPROTO, "unknown reply type byte 0x%s",
                            (char[]){"0123456789abcdef"[(unsigned char)type >> 4],
                                     "0123456789abcdef"[type & 15], 0});
            }
            if (!x)
                return SHALE_CLIENT_ENOMEM;
            r->pos = r->scan = (size_t)(next - r->buf);
        }
        int rc = complete(r, x, out);
        if (rc)
            return rc;
    }
    return 0;
}

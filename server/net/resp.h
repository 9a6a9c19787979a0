/*
 * resp.h - the Redis protocol request parser (RESP2 multibulk and inline commands, as
 * Redis 7.0 accepts them) and the reply writer. Pure functions over buffers: no sockets,
 * no allocation per byte; a request may arrive split at any byte.
 */
#ifndef SHALE_RESP_H
#define SHALE_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Redis 7.0's limits: INT_MAX arguments; bulk length capped by proto-max-bulk-len. */
#define RESP_MAX_ARGS 2147483647LL
/* max_bulk value for a connection that still has to AUTH: Redis then allows at most 10
   arguments of at most 16384 bytes. */
#define RESP_UNAUTHENTICATED 0
#define RESP_MAX_INLINE (64 * 1024)

typedef struct resp_arg {
    union {
        const char *p; /* points into the parsed buffer (or into argbuf for inline args) */
        size_t off;    /* while the request is incomplete: offset from its first byte */
    };
    size_t len;
} resp_arg;

/* Where a request that has not fully arrived stands, so that the next call goes on from
   there instead of parsing it again from its first byte. */
typedef struct resp_progress {
    size_t pos;      /* bytes of the request parsed (inline: searched for its newline) */
    long long nargs; /* multibulk: the arguments its header announced; 0 before it */
    long long blen;  /* the length of the bulk whose "$len" header was read, or -1 */
} resp_progress;

typedef struct resp_cmd {
    resp_arg *argv; /* grown by the parser; owned by the resp_cmd (resp_cmd_free) */
    int argc;
    int cap;
    char *argbuf; /* unescaped inline arguments */
    size_t argbuf_cap;
    resp_progress at;
    uint64_t examined; /* bytes the parser has looked at, over all calls (tests check that
                          the work is linear in the input) */
} resp_cmd;

void resp_cmd_free(resp_cmd *c);
/* The argv capacity after cap when it is full (the parser's growth rule, for tests):
   doubles, at most INT_MAX (argc is an int); 0 when cap is INT_MAX already. */
int resp_argv_next_cap(int cap);

/* Forgets a request in progress (to parse other bytes with the same resp_cmd). */
void resp_cmd_reset(resp_cmd *c);

/*
 * Parses one command from buf[0..len). Returns 1 with *consumed bytes used and cmd
 * filled (argv points into buf, valid while buf is), 0 when more bytes are needed, or -1
 * on a protocol error with *err set to Redis's message (static string, without "-ERR ").
 * An empty inline line (just "\r\n") is consumed with argc = 0 and returns 1.
 * max_bulk is proto-max-bulk-len, or RESP_UNAUTHENTICATED.
 *
 * After a 0, cmd remembers how far it got: call again with the same request at buf[0]
 * (the buffer may have moved) followed by more bytes, and parsing goes on from there, so
 * a request arriving in many pieces costs time linear in its size. To parse other bytes
 * instead, resp_cmd_reset first.
 */
int resp_parse(const char *buf, size_t len, uint64_t max_bulk, resp_cmd *cmd, size_t *consumed,
               const char **err);

/* Splits a line into arguments as Redis's sdssplitargs does (inline commands, config
   files): spaces separate, "..." takes \n \r \t \b \a \xHH and \c escapes, '...' takes
   \' only, and a closing quote must end its argument. cmd->argv points into cmd->argbuf
   (not NUL-terminated). 0, or -1 with *err on unbalanced quotes or no memory. */
int resp_split_args(const char *s, size_t n, resp_cmd *cmd, const char **err);

/* ---- replies ---------------------------------------------------------------------
 * Writers append one reply (or an aggregate's header) to an output buffer. proto is 2 or
 * 3 (HELLO); RESP3 types degrade to their RESP2 forms as Redis 7.0 sends them. An
 * allocation failure sets out->err (-ENOMEM) and later calls do nothing.
 */
typedef struct resp_out {
    char *data;
    size_t len, cap;
    int err;
} resp_out;

void resp_out_free(resp_out *o);
void resp_raw(resp_out *o, const void *p, size_t n);
void resp_simple(resp_out *o, const char *s);         /* +s */
void resp_error(resp_out *o, const char *msg);        /* -msg (msg starts with ERR, ...) */
void resp_integer(resp_out *o, long long v);          /* :v */
void resp_bulk(resp_out *o, const void *p, size_t n); /* $n p */
void resp_bulk_cstr(resp_out *o, const char *s);
void resp_null(resp_out *o, int proto);                 /* $-1 / _ */
void resp_null_array(resp_out *o, int proto);           /* *-1 / _ */
void resp_array(resp_out *o, long long n);              /* *n */
void resp_map(resp_out *o, long long pairs, int proto); /* %n / *2n */
void resp_set(resp_out *o, long long n, int proto);     /* ~n / *n */
void resp_double(resp_out *o, double d, int proto);     /* ,d / bulk "d" */
void resp_bool(resp_out *o, int b, int proto);          /* #t #f / :1 :0 */
/* Verbatim text (RESP3 "=len\r\ntxt:..."), a bulk string in RESP2. */
void resp_verbatim(resp_out *o, const void *p, size_t n, int proto);

#endif

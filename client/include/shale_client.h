/*
 * shale_client.h - the C client library for shale-server (and any server speaking RESP2
 * or RESP3, such as redis-server). Depends on libc only.
 *
 * Replies: a tree of shale_client_reply nodes covering every RESP2 and RESP3 type. A
 * top-level reply owns its whole tree (one allocation arena, plus one array per large
 * aggregate) and is released with one shale_client_reply_free.
 *
 * The reader: a pure function over bytes. Feed it any slice of a reply stream, split at
 * any byte; take complete replies out. It never allocates per byte and never reads a
 * socket (the connection code in client.c does that).
 *
 * Errors are negative codes (SHALE_CLIENT_E*), named by shale_client_strerror. A reply of
 * type SHALE_CLIENT_REPLY_ERROR is the server's answer, not a client error.
 */
#ifndef SHALE_CLIENT_H
#define SHALE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes ---- */
#define SHALE_CLIENT_EPROTO -4200   /* the server sent bytes that are not RESP */
#define SHALE_CLIENT_ECLOSED -4201  /* the connection was closed */
#define SHALE_CLIENT_ETIMEOUT -4202 /* a connect, read or write timed out */
#define SHALE_CLIENT_EIO -4203      /* a system call failed (errno in the message) */
#define SHALE_CLIENT_ENOMEM -4204   /* out of memory */
#define SHALE_CLIENT_EINVAL -4205   /* a bad argument (format, address, option) */
#define SHALE_CLIENT_ESERVER -4206  /* the server answered a connect-time command with an error */

/* A static description of a SHALE_CLIENT_E* code. */
const char *shale_client_strerror(int code);

/* ---- replies ---- */
typedef enum shale_client_reply_type {
    SHALE_CLIENT_REPLY_STATUS = 1, /* +OK: str */
    SHALE_CLIENT_REPLY_ERROR,      /* -ERR ... or !<len> blob error: str */
    SHALE_CLIENT_REPLY_INTEGER,    /* :n: integer */
    SHALE_CLIENT_REPLY_STRING,     /* $<len> bulk string: str, len (binary safe) */
    SHALE_CLIENT_REPLY_NIL,        /* $-1, *-1 or RESP3 _ */
    SHALE_CLIENT_REPLY_ARRAY,      /* *n: element[0..elements) */
    SHALE_CLIENT_REPLY_MAP,        /* %n: element[2i] key, element[2i+1] value; elements = 2n */
    SHALE_CLIENT_REPLY_SET,        /* ~n */
    SHALE_CLIENT_REPLY_DOUBLE,     /* ,d: dval, and the text as sent in str */
    SHALE_CLIENT_REPLY_BOOL,       /* #t / #f: integer 1 / 0 */
    SHALE_CLIENT_REPLY_BIGNUM,     /* (digits: str */
    SHALE_CLIENT_REPLY_VERBATIM,   /* =<len> fmt:text: format (3 chars), str = text */
    SHALE_CLIENT_REPLY_PUSH,       /* >n: out-of-band data (pub/sub, invalidation) */
    SHALE_CLIENT_REPLY_ATTRIBUTE,  /* |n: a map of attributes, found in another reply's
                                      attribute field, never returned on its own */
} shale_client_reply_type;

typedef struct shale_client_reply {
    shale_client_reply_type type;
    long long integer; /* INTEGER; BOOL (0/1) */
    double dval;       /* DOUBLE */
    size_t len;        /* bytes of str */
    char *str;         /* NUL-terminated (binary data may hold NULs: use len) */
    char format[4];    /* VERBATIM: "txt", "mkd", ... */
    size_t elements;
    struct shale_client_reply **element;
    struct shale_client_reply *attribute; /* RESP3 attributes sent before it, or NULL */
    void *owner_;                         /* internal: the tree's memory (top level) */
} shale_client_reply;

/* Frees a reply returned by the reader or a command, with its whole tree. NULL: no-op. */
void shale_client_reply_free(shale_client_reply *r);

/* ---- the reader ---- */
typedef struct shale_client_reader shale_client_reader;

/* A reader; NULL when out of memory. */
shale_client_reader *shale_client_reader_new(void);
void shale_client_reader_free(shale_client_reader *r);
/* Appends n bytes of the stream (copied). 0, SHALE_CLIENT_ENOMEM, or the reader's
   earlier protocol error. */
int shale_client_reader_feed(shale_client_reader *r, const char *buf, size_t n);
/*
 * Takes the next complete reply: 1 with *out set (the caller frees it), 0 when the bytes
 * fed so far hold no complete reply, or SHALE_CLIENT_EPROTO / SHALE_CLIENT_ENOMEM. After
 * a protocol error the reader stays failed (shale_client_reader_error says where).
 */
int shale_client_reader_get_reply(shale_client_reader *r, shale_client_reply **out);
/* What went wrong, after an error ("" otherwise). */
const char *shale_client_reader_error(const shale_client_reader *r);

/* ---- connections ---- */
typedef struct shale_client shale_client;

typedef struct shale_client_options {
    const char *host;       /* "127.0.0.1"; a name or an IPv4/IPv6 address */
    int port;               /* 6379 */
    const char *unix_path;  /* NULL; when set, a Unix socket instead of TCP */
    int connect_timeout_ms; /* 0: wait as long as the system does */
    int timeout_ms;         /* 0: none; else each read or write waits at most this */
    const char *username;   /* NULL: AUTH password alone */
    const char *password;   /* NULL: no AUTH at connect */
    int db;                 /* 0; else SELECT db at connect */
    int resp3;              /* 0; 1: HELLO 3 at connect */
} shale_client_options;

void shale_client_options_default(shale_client_options *o);

/*
 * Connects (and runs AUTH, HELLO 3, SELECT as asked). Returns 0 with *out set, or an error
 * code; *out is then still set (when memory allowed) so shale_client_errstr can say what
 * happened; close it either way.
 */
int shale_client_connect(const shale_client_options *o, shale_client **out);
/* Closes the connection and connects again with the same options. 0 or an error code. */
int shale_client_reconnect(shale_client *c);
void shale_client_close(shale_client *c); /* NULL: no-op */

/* The last error (0 when none) and its message. After an error the connection is not
   used again until shale_client_reconnect. */
int shale_client_errcode(const shale_client *c);
const char *shale_client_errstr(const shale_client *c);
int shale_client_fd(const shale_client *c);

/*
 * Sends one command and waits for its reply (after the replies of commands appended
 * before it, which are dropped). fmt is split into arguments at spaces; %s (C string),
 * %b (pointer and size_t length, binary safe), %d (int), %lld (long long), %u and %llu
 * insert values into the argument they stand in, %% a percent sign. Returns the reply
 * (the caller frees it; a server error is a reply of type ERROR) or NULL on a client
 * error (shale_client_errcode).
 */
shale_client_reply *shale_client_command(shale_client *c, const char *fmt, ...);
/* The same with arguments given as argc strings of argvlen[i] bytes (argvlen NULL:
   NUL-terminated strings). */
shale_client_reply *shale_client_commandv(shale_client *c, int argc, const char *const *argv,
                                          const size_t *argvlen);

/* Pipelining: append commands (nothing is sent yet), then take their replies in order;
   the first shale_client_get_reply sends everything appended. 0 or an error code. */
int shale_client_append(shale_client *c, const char *fmt, ...);
int shale_client_appendv(shale_client *c, int argc, const char *const *argv,
                         const size_t *argvlen);
/* Sends what is appended (without waiting for replies). */
int shale_client_flush(shale_client *c);
/* The next reply: 0 with *out set, or an error code. */
int shale_client_get_reply(shale_client *c, shale_client_reply **out);

#ifdef __cplusplus
}
#endif

#endif

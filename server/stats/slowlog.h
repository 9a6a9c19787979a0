/*
 * slowlog.h - the slow command log as Redis 7.0 keeps it: the newest slowlog-max-len
 * entries (id, Unix time, microseconds, the command's arguments, the client's address and
 * name), each keeping at most SLOWLOG_ARGS arguments (the last of a longer command says
 * "... (N more arguments)") of at most SLOWLOG_ARG_BYTES bytes ("... (N more bytes)"),
 * and "(redacted)" in place of arguments a command marks secret (AUTH's password).
 * Not thread-safe: the server adds and reads under its command lock.
 */
#ifndef SHALE_SLOWLOG_H
#define SHALE_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>

#include "resp.h"

#define SLOWLOG_ARGS 32
#define SLOWLOG_ARG_BYTES 128

typedef struct slowlog_entry {
    uint64_t id;
    long long time_s, micros;
    int argc;
    char *argv[SLOWLOG_ARGS]; /* malloc'ed, as kept (truncated, redacted) */
    size_t arglen[SLOWLOG_ARGS];
    char addr[64], name[128];
} slowlog_entry;

typedef struct slowlog {
    slowlog_entry *ring; /* cap entries; the oldest at start */
    size_t cap, start, len;
    uint64_t next_id;
} slowlog;

/* What a call is recorded with (argv as the client sent it). */
typedef struct slowlog_call {
    const resp_arg *argv;
    int argc;
    uint32_t redacted; /* bit i: argv[i] is shown as "(redacted)" (i < 32) */
    long long micros, time_s;
    const char *addr, *name;
} slowlog_call;

/* Adds the call as the newest entry, then drops the oldest while more than max are kept
   (as Redis trims at each push, so a lowered slowlog-max-len takes effect at the next
   slow command). 0 or -ENOMEM (the entry is then not kept). */
int slowlog_push(slowlog *l, const slowlog_call *call, long long max);
/* The i-th newest entry (0: the newest), NULL past the end. */
const slowlog_entry *slowlog_at(const slowlog *l, size_t i);
/* SLOWLOG RESET: forgets every entry (ids go on). */
void slowlog_reset(slowlog *l);
void slowlog_free(slowlog *l);

#endif

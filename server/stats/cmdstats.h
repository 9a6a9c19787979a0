/*
 * cmdstats.h - per-command call counts, time and latency histograms, and error replies
 * by kind: what INFO commandstats, latencystats and errorstats report (as Redis 7 does)
 * and the Prometheus endpoint exports. Commands are numbered by their place in the
 * command table (command.c). Updated and read under the server's command lock.
 */
#ifndef SHALE_CMDSTATS_H
#define SHALE_CMDSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latency_hist.h"

#define ERROR_KINDS_MAX 128 /* distinct error prefixes tracked, as Redis caps them */

typedef struct command_stats {
    uint64_t calls;     /* handler runs */
    uint64_t ns;        /* time in the handler */
    uint64_t rejected;  /* refused before running (arity, auth, -MISCONF, -OOM) */
    uint64_t failed;    /* ran and replied an error */
    latency_hist *hist; /* NULL until the first call with latency tracking on */
} command_stats;

typedef struct error_kind {
    char name[32]; /* the error's first word: ERR, WRONGTYPE, MISCONF... */
    uint64_t count;
} error_kind;

typedef struct cmdstats {
    command_stats *cmd; /* ncmd entries, allocated at the first record */
    size_t ncmd;
    error_kind errors[ERROR_KINDS_MAX];
    int nerrors;
    uint64_t error_replies; /* every error reply, tracked kind or not */
} cmdstats;

/* A handler run of command idx (of ncmd) that took ns; failed: it replied an error.
   -ENOMEM (the stats are then skipped) or 0. */
int cmdstats_record(cmdstats *t, size_t ncmd, size_t idx, uint64_t ns, bool failed, bool track);
/* A call of command idx refused before its handler ran. */
void cmdstats_reject(cmdstats *t, size_t ncmd, size_t idx);
/* An error reply (its text after '-', len bytes) for errorstats. */
void cmdstats_error_reply(cmdstats *t, const char *msg, size_t len);
/* CONFIG RESETSTAT. */
void cmdstats_reset(cmdstats *t);
void cmdstats_free(cmdstats *t);

#endif

/* cmdstats.c - per-command counters and error kinds (see cmdstats.h). */
#include "cmdstats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int ensure(cmdstats *t, size_t ncmd)
{
    if (t->cmd)
        return 0;
    t->cmd = calloc(ncmd, sizeof *t->cmd);
    if (!t->cmd)
        return -ENOMEM;
    t->ncmd = ncmd;
    return 0;
}

int cmdstats_record(cmdstats *t, size_t ncmd, size_t idx, uint64_t ns, bool failed, bool track)
{
    if (ensure(t, ncmd))
        return -ENOMEM;
    command_stats *c = &t->cmd[idx];
    c->calls++;
    c->ns += ns;
    c->failed += failed;
    if (track && !c->hist)
        c->hist = calloc(1, sizeof *c->hist); /* on failure: no percentiles, counts go on */
    if (track && c->hist)
        latency_hist_add(c->hist, ns);
    return 0;
}

void cmdstats_reject(cmdstats *t, size_t ncmd, size_t idx)
{
    if (ensure(t, ncmd) == 0)
        t->cmd[idx].rejected++;
}

void cmdstats_error_reply(cmdstats *t, const char *msg, size_t len)
{
    t->error_replies++;
    size_t n = 0;
    while (n < len && n < sizeof t->errors[0].name - 1 && msg[n] != ' ' && msg[n] != '\r')
        n++;
    for (int i = 0; i < t->nerrors; i++)
        if (strlen(t->errors[i].name) == n && memcmp(t->errors[i].name, msg, n) == 0) {
            t->errors[i].count++;
            return;
        }
    if (t->nerrors == ERROR_KINDS_MAX || n == 0)
        return;
    error_kind *e = &t->errors[t->nerrors++];
    memcpy(e->name, msg, n);
    e->name[n] = '\0';
    e->count = 1;
}

void cmdstats_reset(cmdstats *t)
{
    for (size_t i = 0; t->cmd && i < t->ncmd; i++) {
        latency_hist *h = t->cmd[i].hist;
        if (h)
            memset(h, 0, sizeof *h);
        memset(&t->cmd[i], 0, sizeof t->cmd[i]);
        t->cmd[i].hist = h;
    }
    memset(t->errors, 0, sizeof t->errors);
    t->nerrors = 0;
    t->error_replies = 0;
}

void cmdstats_free(cmdstats *t)
{
    for (size_t i = 0; t->cmd && i < t->ncmd; i++)
        free(t->cmd[i].hist);
    free(t->cmd);
    memset(t, 0, sizeof *t);
}

/* repl.c - the replication state a client sees (repl.h). */
#include "repl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "keyspace.h"
#include "resp.h"

struct repl_state {
    char run_id[41];
    char replid[41];  /* this history's id */
    char replid2[41]; /* the id of the history it continues (all zeros: none) */
    long long second_offset; /* where replid2's history ends here (-1: none) */
    int good_replicas; /* replicas acknowledged within min-replicas-max-lag */
};

/* 40 random hex digits (Redis's getRandomHexChars; /dev/urandom through getrandom). */
static void random_hex(char out[41])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[20];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    for (; got < sizeof raw; got++) /* no entropy source: still distinct per process */
        raw[got] = (unsigned char)(rand() ^ (int)got);
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[40] = '\0';
}

int repl_init(server *s)
{
    repl_state *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    random_hex(r->run_id);
    random_hex(r->replid);
    memset(r->replid2, '0', 40);
    r->replid2[40] = '\0';
    r->second_offset = -1;
    s->repl = r;
    return 0;
}

void repl_free(server *s)
{
    free(s->repl);
    s->repl = NULL;
}

const char *repl_run_id(const server *s)
{
    return s->repl->run_id;
}

uint64_t repl_offset(server *s)
{
    uint64_t seq = 0;
    if (s->ks.db)
        shale_property_int(s->ks.db, "shale.last-sequence", &seq);
    return seq;
}

static bool min_replicas_on(const server *s)
{
    return s->cfg.min_replicas_to_write > 0 && s->cfg.min_replicas_max_lag > 0;
}

bool repl_enough_good_replicas(const server *s)
{
    return !min_replicas_on(s) || s->repl->good_replicas >= s->cfg.min_replicas_to_write;
}

void repl_info(server *s, resp_out *o)
{
    repl_state *r = s->repl;
    server_out_printf(o, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
    if (min_replicas_on(s))
        server_out_printf(o, "min_slaves_good_slaves:%d\r\n", r->good_replicas);
    server_out_printf(o,
                      "master_failover_state:no-failover\r\nmaster_replid:%s\r\n"
                      "master_replid2:%s\r\nmaster_repl_offset:%llu\r\n"
                      "second_repl_offset:%lld\r\nrepl_backlog_active:0\r\n"
                      "repl_backlog_size:%llu\r\nrepl_backlog_first_byte_offset:0\r\n"
                      "repl_backlog_histlen:0\r\n\r\n",
                      r->replid, r->replid2, (unsigned long long)repl_offset(s),
                      r->second_offset, (unsigned long long)s->cfg.repl_backlog_size);
}

void repl_role(server *s, client *c)
{
    resp_array(&c->out, 3);
    resp_bulk_cstr(&c->out, "master");
    resp_integer(&c->out, (long long)repl_offset(s));
    resp_array(&c->out, 0); /* its replicas: none yet */
}

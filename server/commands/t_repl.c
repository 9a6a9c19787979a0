/* t_repl.c - the replication commands a client sends: ROLE, WAIT, and a replica's
   REPLCONF and PSYNC (repl/ does the work: repl.h, repl_primary.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "blocking.h"
#include "multi.h"
#include "repl.h"
#include "repl_failover.h"
#include "repl_primary.h"
#include "repl_replica.h"
#include "server.h"

#define REPLCONF_IP_MAX 256 /* Redis's NET_HOST_STR_LEN */

void cmd_role(server *s, client *c)
{
    repl_role(s, c);
}

/* ---- WAIT ---- */

void cmd_wait(server *s, client *c)
{
    long long n, timeout;
    if (repl_is_replica(s)) {
        resp_error(&c->out, "ERR WAIT cannot be used with replica instances. Please also note "
                            "that since Redis 4.0 if a replica is configured to be writable "
                            "(which is not the default) writes to replicas are just local and "
                            "are not propagated.");
        return;
    }
    if (!arg_ll(&c->cmd.argv[1], &n)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    if (!arg_ll(&c->cmd.argv[2], &timeout)) {
        resp_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        resp_error(&c->out, "ERR timeout is negative");
        return;
    }
    long long acked = repl_count_acked(s, c->woff);
    /* as Redis: enough already, or inside EXEC (which never blocks): the count now */
    if (acked >= n || multi_deny_blocking(c)) {
        resp_integer(&c->out, acked);
        return;
    }
    blocking_wait_acks(s, c, n, c->woff, timeout ? ks_now_ms() + (uint64_t)timeout : 0);
    repl_primary_hurry(s); /* (after: the ack it brings on finds the waiter) */
}

/* ---- REPLCONF ---- */

/* REPLCONF have <name> <size> <fingerprint> ...: the files a replica holds, for a full
   sync to keep (repl_fullsync.h). */
static void replconf_have(client *c, repl_link *l)
{
    int rc = repl_have_parse(&c->cmd.argv[2], (size_t)(c->cmd.argc - 2), &l->have);
    if (rc == -EINVAL)
        resp_error(&c->out, "ERR syntax error");
    else if (rc)
        reply_engine_error(c, rc);
    else
        resp_simple(&c->out, "OK");
}

/* One option of REPLCONF; false when it replied (an error, or nothing for ACK/GETACK). */
static bool replconf_option(client *c, repl_link *l, const resp_arg *opt, const resp_arg *val)
{
    long long v;
    if (arg_is(opt, "listening-port")) {
        if (!arg_ll(val, &v)) {
            resp_error(&c->out, "ERR value is not an integer or out of range");
            return false;
        }
        l->listening_port = v;
    } else if (arg_is(opt, "ip-address")) {
        if (val->len >= REPLCONF_IP_MAX) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "ERR REPLCONF ip-address provided by replica instance is too long: %zu "
                     "bytes", val->len);
            resp_error(&c->out, msg);
            return false;
        }
        memcpy(l->ip, val->p, val->len);
        l->ip[val->len] = '\0';
    } else if (arg_is(opt, "capa")) {
        if (arg_is(val, "shale"))
            l->capa_shale = true; /* eof, psync2: Redis's, nothing to do here */
    } else if (arg_is(opt, "ack") || arg_is(opt, "getack")) {
        /* a replica's acks are read by its sender thread; on a client connection, as
           Redis from a non-replica, they get no reply */
        return false;
    } else if (arg_is(opt, "rdb-only")) {
        if (!arg_ll(val, &v) || v < 0 || v > 1) {
            resp_error(&c->out, !arg_ll(val, &v) ? "ERR value is not an integer or out of range"
                                                 : "ERR value is out of range, value must "
                                                   "between 0 and 1");
            return false;
        }
    } else {
        char msg[256];
        snprintf(msg, sizeof msg, "ERR Unrecognized REPLCONF option: %.*s", (int)opt->len,
                 opt->p);
        resp_error(&c->out, msg);
        return false;
    }
    return true;
}

void cmd_replconf(server *s, client *c)
{
    (void)s;
    repl_link *l = repl_link_of(c);
    if (!l) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    if (c->cmd.argc >= 2 && arg_is(&c->cmd.argv[1], "have")) {
        replconf_have(c, l);
        return;
    }
    if (c->cmd.argc % 2 == 0) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    for (int i = 1; i < c->cmd.argc; i += 2)
        if (!replconf_option(c, l, &c->cmd.argv[i], &c->cmd.argv[i + 1]))
            return;
    resp_simple(&c->out, "OK");
}

/* ---- PSYNC ---- */

#define NOT_SHALE_ERR                                                                         \
    "ERR shale replicates only to shale nodes: a replica says REPLCONF capa shale before "    \
    "PSYNC (a Redis replica cannot follow a shale primary, docs/server.md)"

void cmd_psync(server *s, client *c)
{
    repl_link *l = c->repl_link;
    if (!l || !l->capa_shale) {
        resp_error(&c->out, NOT_SHALE_ERR);
        return;
    }
    if (repl_failover_active(s)) { /* (Redis's text, its "-" doubled as Redis sends it) */
        resp_error(&c->out, "-NOMASTERLINK Can't SYNC while failing over");
        return;
    }
    if (!repl_can_serve_replicas(s)) {
        resp_error(&c->out, "NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    long long seq;
    if (!arg_ll(&c->cmd.argv[2], &seq)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    char replid[41];
    snprintf(replid, sizeof replid, "%.*s", (int)c->cmd.argv[1].len, c->cmd.argv[1].p);
    l->full = !repl_psync_continues(s, replid, seq);
    l->start = seq > 0 ? (uint64_t)seq : 0;
    snprintf(l->replid, sizeof l->replid, "%s", repl_replid(s));
    l->timeout_s = s->cfg.repl_timeout;
    c->handoff = true; /* its loop hands the connection to a sender thread */
}

/* ---- REPLICAOF / SLAVEOF ---- */

void cmd_replicaof(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (repl_failover_active(s)) {
        resp_error(&c->out, "ERR REPLICAOF not allowed while failing over.");
        return;
    }
    if (arg_is(&a[1], "no") && arg_is(&a[2], "one")) {
        if (repl_is_replica(s))
            repl_replica_promote(s);
        resp_simple(&c->out, "OK");
        return;
    }
    long long port;
    if (!arg_ll(&a[2], &port) || port < 0 || port > 65535) {
        resp_error(&c->out, "ERR Invalid master port");
        return;
    }
    if (a[1].len >= 256) {
        resp_error(&c->out, "ERR Invalid master host");
        return;
    }
    char host[256];
    memcpy(host, a[1].p, a[1].len);
    host[a[1].len] = '\0';
    if (repl_is_replica(s) && repl_following(s, host, (int)port)) {
        resp_simple(&c->out, "OK Already connected to specified master");
        return;
    }
    int rc = repl_replica_follow(s, host, (int)port);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    resp_simple(&c->out, "OK");
}

/* ---- FAILOVER ---- */

/* FAILOVER's options, parsed as Redis's failoverCommand: TIMEOUT and TO at most once
   each (a second is a syntax error), FORCE once; an integer that does not parse is
   Redis's "not an integer" error. False when it replied. */
static bool failover_parse(client *c, repl_failover_req *req)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    memset(req, 0, sizeof *req);
    for (int j = 1; j < argc; j++) {
        if (arg_is(&a[j], "timeout") && j + 1 < argc && req->timeout_ms == 0) {
            if (!arg_ll(&a[j + 1], &req->timeout_ms)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return false;
            }
            if (req->timeout_ms <= 0) {
                resp_error(&c->out, "ERR FAILOVER timeout must be greater than 0");
                return false;
            }
            j++;
        } else if (arg_is(&a[j], "to") && j + 2 < argc && !req->to) {
            if (!arg_ll(&a[j + 2], &req->port)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return false;
            }
            req->to = true;
            /* a longer name names no replica (their addresses are shorter) */
            snprintf(req->host, sizeof req->host, "%.*s", (int)a[j + 1].len, a[j + 1].p);
            if (a[j + 1].len >= sizeof req->host)
                req->host[0] = '\0';
            j += 2;
        } else if (arg_is(&a[j], "force") && !req->force) {
            req->force = true;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

void cmd_failover(server *s, client *c)
{
    const char *err;
    if (c->cmd.argc == 2 && arg_is(&c->cmd.argv[1], "abort")) {
        err = repl_failover_abort(s);
    } else {
        repl_failover_req req;
        if (!failover_parse(c, &req))
            return;
        err = repl_failover_start(s, &req);
    }
    if (err)
        resp_error(&c->out, err);
    else
        resp_simple(&c->out, "OK");
}

/*
 * tr_command.c - CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO (tracking.h), with
 * Redis 7.0's options, checks in its order and its errors (networking.c clientCommand).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "tr_internal.h"

#define SYNTAX_ERR "ERR syntax error"

/* The options of CLIENT TRACKING as parsed. */
typedef struct tracking_opts {
    long long redirect;
    client *redir;
    bool bcast, optin, optout, noloop;
    tr_str *prefixes; /* into argv */
    size_t n;
} tracking_opts;

static client *any_client_by_id(server *s, long long id)
{
    for (client *o = s->clients; o; o = o->all_next)
        if ((long long)o->id == id && !client_closed(o))
            return o;
    return NULL;
}

/* REDIRECT's argument; false when an error was replied. */
static bool parse_redirect(server *s, client *c, const resp_arg *a, tracking_opts *o)
{
    if (o->redirect != 0) {
        resp_error(&c->out, "ERR A client can only redirect to a single other client");
        return false;
    }
    if (!arg_ll(a, &o->redirect)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return false;
    }
    o->redir = any_client_by_id(s, o->redirect);
    if (!o->redir) {
        resp_error(&c->out, "ERR The client ID you want redirect to does not exist");
        return false;
    }
    return true;
}

/* The options after ON|OFF; false when an error was replied. o->prefixes is malloc'ed. */
static bool parse_options(server *s, client *c, tracking_opts *o)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    for (int j = 3; j < argc; j++) {
        bool more = j < argc - 1;
        if (arg_is(&a[j], "redirect") && more) {
            if (!parse_redirect(s, c, &a[++j], o))
                return false;
        } else if (arg_is(&a[j], "bcast")) {
            o->bcast = true;
        } else if (arg_is(&a[j], "optin")) {
            o->optin = true;
        } else if (arg_is(&a[j], "optout")) {
            o->optout = true;
        } else if (arg_is(&a[j], "noloop")) {
            o->noloop = true;
        } else if (arg_is(&a[j], "prefix") && more) {
            tr_str *p = realloc(o->prefixes, (o->n + 1) * sizeof *p);
            if (!p) {
                reply_engine_error(c, -12);
                return false;
            }
            o->prefixes = p;
            j++;
            o->prefixes[o->n++] = (tr_str){(char *)a[j].p, a[j].len}; /* read only */
        } else {
            resp_error(&c->out, SYNTAX_ERR);
            return false;
        }
    }
    return true;
}

/* Redis's stringCheckPrefix: one is a prefix of the other. */
static bool overlap(const tr_str *x, const tr_str *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    return memcmp(x->p, y->p, n) == 0;
}

static void reply_overlap(client *c, const char *what, const tr_str *x, const tr_str *y)
{
    /* %s as Redis prints them: up to a NUL byte */
    size_t xl = strnlen(x->p, x->len), yl = strnlen(y->p, y->len);
    size_t cap = xl + yl + 160;
    char *msg = malloc(cap);
    if (!msg) {
        reply_engine_error(c, -12);
        return;
    }
    snprintf(msg, cap,
             "ERR Prefix '%.*s' overlaps with %s '%.*s'. Prefixes for a single client must "
             "not overlap.",
             (int)xl, x->p, what, (int)yl, y->p);
    resp_error(&c->out, msg);
    free(msg);
}

/*
 * Redis's checkPrefixCollisionsOrReply: a prefix over one c has already, or over another
 * given after it, is refused. Returns what Redis's returns: 1 fine, 0 refused, and, as
 * Redis 7.0 does, i > 0 when given prefix i overlaps a later one (the error replied, and
 * yet its caller goes on as if it were fine).
 */
static size_t check_collisions(client *c, const tracking_opts *o)
{
    const tr_client *tc = c->tracking;
    for (size_t i = 0; i < o->n; i++) {
        for (size_t k = 0; tc && k < tc->nprefixes; k++)
            if (overlap(&tc->prefixes[k], &o->prefixes[i])) {
                reply_overlap(c, "an existing prefix", &o->prefixes[i], &tc->prefixes[k]);
                return 0;
            }
        for (size_t j = i + 1; j < o->n; j++)
            if (overlap(&o->prefixes[i], &o->prefixes[j])) {
                reply_overlap(c, "another provided prefix", &o->prefixes[i], &o->prefixes[j]);
                return i;
            }
    }
    return 1;
}

/* CLIENT TRACKING ON's checks, in Redis's order; false when an error was replied. */
static bool check_on(client *c, const tracking_opts *o)
{
    const tr_client *tc = c->tracking && c->tracking->on ? c->tracking : NULL;
    const char *err = NULL;
    if (!o->bcast && o->n)
        err = "ERR PREFIX option requires BCAST mode to be enabled";
    else if (tc && tc->bcast != o->bcast)
        err = "ERR You can't switch BCAST mode on/off before disabling tracking for this "
              "client, and then re-enabling it with a different mode.";
    else if (o->bcast && (o->optin || o->optout))
        err = "ERR OPTIN and OPTOUT are not compatible with BCAST";
    else if (o->optin && o->optout)
        err = "ERR You can't specify both OPTIN mode and OPTOUT mode";
    else if (tc && ((o->optin && tc->optout) || (o->optout && tc->optin)))
        err = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
              "client, and then re-enabling it with a different mode.";
    if (err) {
        resp_error(&c->out, err);
        return false;
    }
    return !o->bcast || check_collisions(c, o) != 0;
}

static void client_tracking(server *s, client *c)
{
    tracking_opts o = {0};
    resp_arg *a = c->cmd.argv;
    if (!parse_options(s, c, &o)) {
        free(o.prefixes);
        return;
    }
    if (arg_is(&a[2], "on")) {
        if (!check_on(c, &o)) {
            free(o.prefixes);
            return;
        }
        if (tr_enable(s, c, (uint64_t)o.redirect, o.redir, o.bcast, o.optin, o.optout, o.noloop,
                      o.prefixes, o.n)) {
            free(o.prefixes);
            reply_engine_error(c, -12);
            return;
        }
    } else if (arg_is(&a[2], "off")) {
        tracking_disable(s, c);
    } else {
        free(o.prefixes);
        resp_error(&c->out, SYNTAX_ERR);
        return;
    }
    free(o.prefixes);
    resp_simple(&c->out, "OK");
}

static void client_caching(client *c)
{
    tr_client *tc = c->tracking && c->tracking->on ? c->tracking : NULL;
    resp_arg *a = c->cmd.argv;
    if (!tc) {
        resp_error(&c->out, "ERR CLIENT CACHING can be called only when the client is in "
                            "tracking mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (arg_is(&a[2], "yes")) {
        if (!tc->optin) {
            resp_error(&c->out, "ERR CLIENT CACHING YES is only valid when tracking is "
                                "enabled in OPTIN mode.");
            return;
        }
    } else if (arg_is(&a[2], "no")) {
        if (!tc->optout) {
            resp_error(&c->out, "ERR CLIENT CACHING NO is only valid when tracking is "
                                "enabled in OPTOUT mode.");
            return;
        }
    } else {
        resp_error(&c->out, SYNTAX_ERR);
        return;
    }
    tc->caching = true;
    resp_simple(&c->out, "OK");
}

/* TRACKINGINFO's flags, in Redis's order. */
static void reply_flags(client *c, const tr_client *tc)
{
    const char *f[8];
    int n = 0;
    bool on = tc && tc->on;
    f[n++] = on ? "on" : "off";
    if (on && tc->bcast)
        f[n++] = "bcast";
    if (on && tc->optin) {
        f[n++] = "optin";
        if (tc->caching)
            f[n++] = "caching-yes";
    }
    if (on && tc->optout) {
        f[n++] = "optout";
        if (tc->caching)
            f[n++] = "caching-no";
    }
    if (on && tc->noloop)
        f[n++] = "noloop";
    if (on && tc->broken_redir)
        f[n++] = "broken_redirect";
    resp_set(&c->out, n, c->proto);
    for (int i = 0; i < n; i++)
        resp_bulk_cstr(&c->out, f[i]);
}

static void client_trackinginfo(client *c)
{
    const tr_client *tc = c->tracking;
    resp_map(&c->out, 3, c->proto);
    resp_bulk_cstr(&c->out, "flags");
    reply_flags(c, tc);
    resp_bulk_cstr(&c->out, "redirect");
    resp_integer(&c->out, tracking_redirect(c));
    resp_bulk_cstr(&c->out, "prefixes");
    size_t n = tc ? tc->nprefixes : 0;
    resp_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_bulk(&c->out, tc->prefixes[i].p, tc->prefixes[i].len);
}

bool tracking_is_subcommand(const client *c)
{
    const resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    return ((arg_is(&a[1], "tracking") || arg_is(&a[1], "caching")) && argc >= 3) ||
           ((arg_is(&a[1], "getredir") || arg_is(&a[1], "trackinginfo")) && argc == 2);
}

void tracking_client_command(server *s, client *c)
{
    const resp_arg *a = c->cmd.argv;
    if (arg_is(&a[1], "tracking"))
        client_tracking(s, c);
    else if (arg_is(&a[1], "caching"))
        client_caching(c);
    else if (arg_is(&a[1], "getredir"))
        resp_integer(&c->out, tracking_redirect(c));
    else
        client_trackinginfo(c);
}

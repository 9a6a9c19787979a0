/* t_conn.c - connection commands: PING ECHO QUIT SELECT HELLO AUTH CLIENT RESET MONITOR. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "args.h"
#include "blocking.h"
#include "monitor.h"
#include "multi.h"
#include "pause.h"
#include "pubsub.h"
#include "repl.h"
#include "repl_replica.h"
#include "server.h"
#include "tracking.h"

void cmd_ping(server *s, client *c)
{
    if (c->cmd.argc > 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->proto == 2 && pubsub_client_subscribed(c)) {
        /* a subscriber in RESP2 reads messages: PING answers as one, ["pong", arg] */
        resp_array(&c->out, 2);
        resp_bulk(&c->out, "pong", 4);
        resp_bulk(&c->out, c->cmd.argc == 2 ? c->cmd.argv[1].p : "",
                  c->cmd.argc == 2 ? c->cmd.argv[1].len : 0);
        return;
    }
    if (c->cmd.argc == 2)
        resp_bulk(&c->out, c->cmd.argv[1].p, c->cmd.argv[1].len);
    else
        resp_simple(&c->out, "PONG");
}

void cmd_echo(server *s, client *c)
{
    resp_bulk(&c->out, c->cmd.argv[1].p, c->cmd.argv[1].len);
}

void cmd_quit(server *s, client *c)
{
    resp_simple(&c->out, "OK");
    c->close_after_reply = true;
}

void cmd_select(server *s, client *c)
{
    long long n;
    if (!arg_ll(&c->cmd.argv[1], &n))
        resp_error(&c->out, "ERR value is not an integer or out of range");
    else if (n < 0 || n >= KS_DBS)
        resp_error(&c->out, "ERR DB index is out of range");
    else {
        c->db = (int)n;
        resp_simple(&c->out, "OK");
    }
}

/* Checks user/password against requirepass ("default" is the only user). */
static bool password_ok(server *s, const resp_arg *user, const resp_arg *pass)
{
    if (user && !arg_is(user, "default"))
        return false;
    size_t n = strlen(s->cfg.requirepass);
    return n == pass->len && memcmp(s->cfg.requirepass, pass->p, n) == 0;
}

void cmd_auth(server *s, client *c)
{
    if (c->cmd.argc > 3) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    c->redacted |= c->cmd.argc == 3 ? 6u : 2u; /* the slowlog never shows them */
    if (!s->cfg.requirepass[0] && c->cmd.argc == 2) {
        resp_error(&c->out, "ERR AUTH <password> called without any password configured for "
                            "the default user. Are you sure your configuration is correct?");
        return;
    }
    const resp_arg *user = c->cmd.argc == 3 ? &c->cmd.argv[1] : NULL;
    if (s->cfg.requirepass[0] ? password_ok(s, user, &c->cmd.argv[c->cmd.argc - 1])
                              : arg_is(user, "default")) {
        c->authenticated = true;
        resp_simple(&c->out, "OK");
    } else {
        resp_error(&c->out, "WRONGPASS invalid username-password pair or user is disabled.");
    }
}

/* Client names: printable, no spaces (Redis's rule). */
static bool valid_name(const resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->p[i] < '!' || a->p[i] > '~')
            return false;
    return true;
}

static void set_name(client *c, const resp_arg *a)
{
    size_t n = a->len < sizeof c->name - 1 ? a->len : sizeof c->name - 1;
    memcpy(c->name, a->p, n);
    c->name[n] = '\0';
}

void cmd_hello(server *s, client *c)
{
    long long proto = c->proto;
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (argc >= 2) {
        if (!arg_ll(&a[1], &proto)) {
            resp_error(&c->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (proto < 2 || proto > 3) {
            resp_error(&c->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const resp_arg *name = NULL;
    for (int i = 2; i < argc; i++) {
        if (arg_is(&a[i], "auth") && i + 2 < argc) {
            if (i + 2 < 32)
                c->redacted |= 3u << (i + 1);
            if (!password_ok(s, &a[i + 1], &a[i + 2]) &&
                !(!s->cfg.requirepass[0] && arg_is(&a[i + 1], "default"))) {
                resp_error(&c->out, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            c->authenticated = true;
            i += 2;
        } else if (arg_is(&a[i], "setname") && i + 1 < argc) {
            name = &a[++i];
            if (!valid_name(name)) {
                resp_error(&c->out, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "ERR Syntax error in HELLO option '%.*s'",
                     (int)(a[i].len > 128 ? 128 : a[i].len), a[i].p);
            resp_error(&c->out, msg);
            return;
        }
    }
    if (!c->authenticated) {
        resp_error(&c->out, "NOAUTH HELLO must be called with the client already authenticated, "
                            "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                            "authenticate the client and select the RESP protocol version at the "
                            "same time");
        return;
    }
    if (name)
        set_name(c, name);
    c->proto = (int)proto;
    resp_map(&c->out, 7, c->proto);
    resp_bulk_cstr(&c->out, "server");
    resp_bulk_cstr(&c->out, "redis");
    resp_bulk_cstr(&c->out, "version");
    resp_bulk_cstr(&c->out, SHALE_REDIS_COMPAT_VERSION);
    resp_bulk_cstr(&c->out, "proto");
    resp_integer(&c->out, c->proto);
    resp_bulk_cstr(&c->out, "id");
    resp_integer(&c->out, (long long)c->id);
    resp_bulk_cstr(&c->out, "mode");
    resp_bulk_cstr(&c->out, "standalone");
    resp_bulk_cstr(&c->out, "role");
    resp_bulk_cstr(&c->out, repl_is_replica(s) ? "replica" : "master");
    resp_bulk_cstr(&c->out, "modules");
    resp_array(&c->out, 0);
}

/*
 * The state RESET clears that other families own (Redis's clearClientConnectionState
 * calls, in its order): MULTI/WATCH's transaction and watches (discardTransaction, after
 * the authentication reset), then every channel, shard channel and pattern unsubscribed
 * without the unsubscribe replies (Redis passes notify 0). Tracking goes first (RESET
 * calls it before the rest): Redis's disableTracking comes before the database and
 * protocol reset.
 */
static void reset_family_state(server *s, client *c)
{
    multi_client_gone(s, c); /* DISCARD and UNWATCH */
    pubsub_reset_client(s, c);
}

/* RESET, as Redis 7.0's resetCommand: no longer a monitor, database 0, RESP2, the
   default user (authenticated only when no password is required), no name, CLIENT REPLY
   ON (a SKIP already in force for this very command stays, as in Redis). */
void cmd_reset(server *s, client *c)
{
    tracking_disable(s, c);
    monitor_stop(s, c);
    c->db = 0;
    c->proto = 2;
    c->authenticated = !s->cfg.requirepass[0];
    reset_family_state(s, c);
    c->name[0] = '\0';
    c->reply_off = c->reply_skip_next = false;
    resp_simple(&c->out, "RESET");
}

/* MONITOR: from now on c receives a line for every command (monitor.h). A second MONITOR
   gets no reply, as in Redis. MULTI/EXEC (server/multi/): inside EXEC, Redis refuses it
   with "MONITOR isn't allowed for DENY BLOCKING client". */
void cmd_monitor(server *s, client *c)
{
    if (monitor_is(c))
        return;
    if (monitor_start(s, c)) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    resp_simple(&c->out, "OK");
}

/* Redis's reply buffer: replies up to this many bytes count as the buffer (obl), the rest
   as a list of blocks of this size (oll, omem). */
#define REPLY_CHUNK 16384

/* CLIENT LIST's flags: N, or the letters of what is set, in Redis's order (O monitor, P
   subscribed, x in MULTI, b blocked or held by CLIENT PAUSE, d a watched key changed, c
   closing after the reply, A closing as soon as possible, U unix socket, e no-evict). */
static void client_flags(const client *c, char *buf)
{
    char *p = buf; /* in Redis's order */
    if (monitor_is(c))
        *p++ = 'O';
    if (pubsub_client_subscribed(c))
        *p++ = 'P';
    if (multi_active(c))
        *p++ = 'x';
    if (blocking_is_blocked(c) || c->paused) /* (Redis blocks a paused client) */
        *p++ = 'b';
    p = tracking_flags(c, p); /* t R B */
    if (c->mx && c->mx->dirty_cas)
        *p++ = 'd';
    if (c->close_after_reply && !c->killed)
        *p++ = 'c';
    if (c->killed)
        *p++ = 'A';
    if (c->unix_socket)
        *p++ = 'U';
    if (c->no_evict)
        *p++ = 'e';
    if (p == buf)
        *p++ = 'N';
    *p = '\0';
}

size_t client_info_line(server *s, client *c, char *buf, size_t cap)
{
    uint64_t now = ks_now_ms();
    char flags[16];
    client_flags(c, flags);
    /* while its command runs (CLIENT LIST about itself): the command's bytes are still
       in the query buffer and its arguments in memory, as Redis counts them */
    size_t qbuf = c->cmd_qbuf ? c->cmd_qbuf : c->in_len - c->in_off;
    size_t argv_mem = 0;
    for (int i = 0; c->cmd_qbuf && i < c->cmd.argc; i++)
        argv_mem += c->cmd.argv[i].len;
    /* (c may belong to another loop, which sends outside the lock: sending_off and
       send_armed are read atomically; the rest changes under the lock only) */
    size_t sent = __atomic_load_n(&c->sending_off, __ATOMIC_RELAXED);
    bool sending = __atomic_load_n(&c->send_armed, __ATOMIC_RELAXED);
    size_t pending = c->out.len + (c->sending.len - sent);
    size_t obl = pending < REPLY_CHUNK ? pending : REPLY_CHUNK;
    size_t over = pending - obl;
    size_t oll = (over + REPLY_CHUNK - 1) / REPLY_CHUNK, omem = oll * REPLY_CHUNK;
    size_t rbs = c->out.cap > REPLY_CHUNK ? c->out.cap : REPLY_CHUNK;
    size_t tot = sizeof *c + c->in_cap + c->out.cap + c->sending.cap + argv_mem +
                 multi_queued_bytes(c);
    int n = snprintf(buf, cap,
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%d "
                     "sub=%lld psub=%lld ssub=%lld multi=%lld qbuf=%zu qbuf-free=%zu argv-mem=%zu "
                     "multi-mem=%zu rbs=%zu rbp=%zu obl=%zu oll=%zu omem=%zu tot-mem=%zu events=%s "
                     "cmd=%s user=default redir=%lld resp=%d",
                     (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name,
                     (unsigned long long)((now - c->created_ms) / 1000),
                     (unsigned long long)((now - c->last_ms) / 1000), flags, c->db,
                     pubsub_client_count(c, PUBSUB_CHANNEL), pubsub_client_count(c, PUBSUB_PATTERN),
                     pubsub_client_count(c, PUBSUB_SHARD), multi_active(c) ? (long long)c->mx->n : -1LL,
                     qbuf,
                     c->in_cap > c->in_len ? c->in_cap - c->in_len : 0, argv_mem,
                     multi_queued_bytes(c), rbs, rbs, obl,
                     oll, omem, tot, sending ? "rw" : "r", c->last_cmd ? c->last_cmd : "NULL",
                     tracking_redirect(c), c->proto);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Redis's client types (getClientType); a monitor is "normal", as Redis shows it. Replicas
   and the link to a primary are no clients of the event loops: they are repl_peers
   (repl.h), listed after the clients. */
enum client_type { TYPE_NORMAL, TYPE_REPLICA, TYPE_PUBSUB, TYPE_MASTER };

/* A client subscribed to a channel, a pattern or a shard channel is of type pubsub
   (Redis's CLIENT_PUBSUB). */
static enum client_type client_type_of(const client *c)
{
    return pubsub_client_subscribed(c) ? TYPE_PUBSUB : TYPE_NORMAL;
}

/* The type CLIENT LIST and KILL name (any case), or -1. */
static int client_type(const resp_arg *a)
{
    if (arg_is(a, "normal"))
        return TYPE_NORMAL;
    if (arg_is(a, "replica") || arg_is(a, "slave"))
        return TYPE_REPLICA;
    if (arg_is(a, "pubsub"))
        return TYPE_PUBSUB;
    if (arg_is(a, "master"))
        return TYPE_MASTER;
    return -1;
}

static void unknown_type(client *c, const resp_arg *a)
{
    char msg[200];
    snprintf(msg, sizeof msg, "ERR Unknown client type '%.*s'", (int)(a->len > 128 ? 128 : a->len),
             a->p);
    resp_error(&c->out, msg);
}

static void append_line(server *s, resp_out *body, client *o)
{
    char line[1024];
    resp_raw(body, line, client_info_line(s, o, line, sizeof line));
    resp_raw(body, "\n", 1);
}

static enum client_type peer_type(const repl_peer *p)
{
    return p->master ? TYPE_MASTER : TYPE_REPLICA;
}

/* A replication link's line: Redis's fields, flags S (replica) or M (master), and the
   buffers' figures 0 (its records never pass through a client's buffers). Redis's
   master client runs as no user: "(superuser)". */
static void append_peer_line(resp_out *body, const repl_peer *p)
{
    uint64_t now = ks_now_ms();
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "id=%llu addr=%s laddr=%s fd=%d name= age=%llu idle=%llu flags=%s db=0 "
                     "sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 "
                     "rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=%s "
                     "redir=-1 resp=2\n",
                     (unsigned long long)p->id, p->addr, p->laddr, p->fd,
                     (unsigned long long)(now > p->created_ms ? (now - p->created_ms) / 1000 : 0),
                     (unsigned long long)(now > p->last_ms ? (now - p->last_ms) / 1000 : 0),
                     p->master ? "M" : "S", p->cmd ? p->cmd : "NULL",
                     p->master ? "(superuser)" : "default");
    if (n > 0)
        resp_raw(body, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* What CLIENT LIST asks of the links: a type (-1: any), or an id (0: any). */
typedef struct peer_query {
    resp_out *body;
    int type;
    long long id;
} peer_query;

static bool list_peer(const repl_peer *p, void *arg)
{
    peer_query *q = arg;
    if ((q->type < 0 || peer_type(p) == (enum client_type)q->type) &&
        (!q->id || p->id == (uint64_t)q->id))
        append_peer_line(q->body, p);
    return false; /* listed, not dropped */
}

/* CLIENT LIST [TYPE normal|master|replica|pubsub] | CLIENT LIST ID id ... */
static void client_list(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    resp_out body = {0};
    if (argc == 4 && arg_is(&a[2], "type")) {
        int t = client_type(&a[3]);
        if (t < 0) {
            unknown_type(c, &a[3]);
            return;
        }
        for (client *o = s->clients; o; o = o->all_next)
            if (client_type_of(o) == (enum client_type)t)
                append_line(s, &body, o);
        repl_peers_visit(s, list_peer, &(peer_query){&body, t, 0});
    } else if (argc > 3 && arg_is(&a[2], "id")) {
        for (int j = 3; j < argc; j++) { /* in the order asked, as Redis */
            long long id;
            if (!arg_ll(&a[j], &id)) {
                resp_out_free(&body);
                resp_error(&c->out, "ERR Invalid client ID");
                return;
            }
            for (client *o = s->clients; o; o = o->all_next)
                if ((long long)o->id == id)
                    append_line(s, &body, o);
            if (id > 0)
                repl_peers_visit(s, list_peer, &(peer_query){&body, -1, id});
        }
    } else if (argc != 2) {
        resp_error(&c->out, "ERR syntax error");
        return;
    } else {
        for (client *o = s->clients; o; o = o->all_next)
            append_line(s, &body, o);
        repl_peers_visit(s, list_peer, &(peer_query){&body, -1, 0});
    }
    resp_verbatim(&c->out, body.data ? body.data : "", body.len, c->proto);
    resp_out_free(&body);
}

/* Closes o: its loop sees the shut-down socket and frees it. The killer itself is closed
   after its reply, as Redis does. */
static void kill_client(client *self, client *o)
{
    if (o == self) {
        o->close_after_reply = true;
        return;
    }
    o->killed = true;
    o->close_after_reply = true;
    shutdown(o->fd, SHUT_RDWR);
}

typedef struct kill_filter {
    long long id;
    const resp_arg *addr, *laddr;
    int type; /* -1: any, else enum client_type */
    bool skipme;
    bool user; /* USER default: Redis's master client, which has no user, is not it */
} kill_filter;

/* Parses CLIENT KILL's option pairs as Redis does, left to right. False with the error
   replied. */
static bool parse_kill(client *c, kill_filter *f)
{
    resp_arg *a = c->cmd.argv;
    for (int i = 2; i < c->cmd.argc; i += 2) {
        bool more = i + 1 < c->cmd.argc;
        if (arg_is(&a[i], "id") && more) {
            if (!arg_ll(&a[i + 1], &f->id) || f->id <= 0) {
                resp_error(&c->out, "ERR client-id should be greater than 0");
                return false;
            }
        } else if (arg_is(&a[i], "type") && more) {
            if ((f->type = client_type(&a[i + 1])) < 0) {
                unknown_type(c, &a[i + 1]);
                return false;
            }
        } else if (arg_is(&a[i], "addr") && more) {
            f->addr = &a[i + 1];
        } else if (arg_is(&a[i], "laddr") && more) {
            f->laddr = &a[i + 1];
        } else if (arg_is(&a[i], "user") && more) {
            if (!arg_is(&a[i + 1], "default")) {
                char msg[200];
                snprintf(msg, sizeof msg, "ERR No such user '%.*s'",
                         (int)(a[i + 1].len > 128 ? 128 : a[i + 1].len), a[i + 1].p);
                resp_error(&c->out, msg);
                return false;
            }
            f->user = true;
        } else if (arg_is(&a[i], "skipme") && more && arg_is(&a[i + 1], "yes")) {
            f->skipme = true;
        } else if (arg_is(&a[i], "skipme") && more && arg_is(&a[i + 1], "no")) {
            f->skipme = false;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

static bool arg_equals(const resp_arg *a, const char *s)
{
    return strlen(s) == a->len && memcmp(s, a->p, a->len) == 0;
}

/* Whether CLIENT KILL's filter takes the link p (SKIPME never does: a link is not the
   caller). Dropped, it connects again by partial sync, as Redis's replicas do. */
static bool kill_peer(const repl_peer *p, void *arg)
{
    const kill_filter *f = arg;
    if ((f->id && p->id != (uint64_t)f->id) || (f->user && p->master) ||
        (f->type >= 0 && peer_type(p) != (enum client_type)f->type))
        return false;
    return (!f->addr || arg_equals(f->addr, p->addr)) &&
           (!f->laddr || arg_equals(f->laddr, p->laddr));
}

/* CLIENT KILL addr (may kill the caller; -ERR No such client) | CLIENT KILL [ID id]
   [TYPE t] [ADDR a] [LADDR a] [USER u] [SKIPME yes|no]: the number killed. */
static void client_kill(server *s, client *c)
{
    bool old_form = c->cmd.argc == 3;
    kill_filter f = {.type = -1, .skipme = !old_form};
    if (old_form)
        f.addr = &c->cmd.argv[2];
    else if (!parse_kill(c, &f))
        return;
    long long killed = 0;
    for (client *o = s->clients; o; o = o->all_next) {
        if ((f.id && o->id != (uint64_t)f.id) || (f.skipme && o == c) || o->killed ||
            (f.type >= 0 && client_type_of(o) != (enum client_type)f.type))
            continue;
        if ((f.addr && !arg_equals(f.addr, o->addr)) || (f.laddr && !arg_equals(f.laddr, o->laddr)))
            continue;
        kill_client(c, o);
        killed++;
    }
    killed += repl_peers_visit(s, kill_peer, &f);
    if (!old_form)
        resp_integer(&c->out, killed);
    else if (killed)
        resp_simple(&c->out, "OK");
    else
        resp_error(&c->out, "ERR No such client");
}

/* CLIENT REPLY ON|OFF|SKIP (the dispatcher drops the replies, command.c) */
static void client_reply(client *c)
{
    const resp_arg *m = &c->cmd.argv[2];
    if (arg_is(m, "on")) {
        c->reply_off = c->reply_skip = c->reply_skip_next = false;
        resp_simple(&c->out, "OK");
    } else if (arg_is(m, "off")) {
        c->reply_off = true;
    } else if (arg_is(m, "skip")) {
        if (!c->reply_off)
            c->reply_skip_next = true;
    } else {
        resp_error(&c->out, "ERR syntax error");
    }
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when that client was blocked (blocking.h) */
static void client_unblock(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    bool error = false;
    long long id;
    if (c->cmd.argc == 4) {
        if (arg_is(&a[3], "error")) {
            error = true;
        } else if (!arg_is(&a[3], "timeout")) {
            resp_error(&c->out, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    if (!arg_ll(&a[2], &id)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    client *o = s->clients;
    while (o && o->id != (uint64_t)id)
        o = o->all_next;
    resp_integer(&c->out, o && blocking_unblock(s, o, error) ? 1 : 0);
}

/* CLIENT PAUSE timeout [WRITE|ALL] (pause.h): the mode is checked before the timeout, as
   Redis does; a timeout of 0 pauses nothing. */
static void client_pause(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int type = PAUSE_ALL;
    if (c->cmd.argc == 4) {
        if (arg_is(&a[3], "write")) {
            type = PAUSE_WRITE;
        } else if (!arg_is(&a[3], "all")) {
            resp_error(&c->out, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (!arg_ll(&a[2], &ms)) {
        resp_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        resp_error(&c->out, "ERR timeout is negative");
        return;
    }
    uint64_t now = ks_now_ms();
    uint64_t end = ms == 0 ? 0 : (uint64_t)ms > UINT64_MAX - now ? UINT64_MAX : now + (uint64_t)ms;
    pause_start(s, type, end);
    resp_simple(&c->out, "OK");
}

/* Redis 7.0's text, word for word (clients and people compare it with Redis's): it names
   CACHING, GETREDIR, TRACKING and TRACKINGINFO, which shale does not have yet
   (docs/commands.md). */
static void client_help(client *c)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof lines[0]);
}

void cmd_client(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (arg_is(&a[1], "help") && argc == 2) {
        client_help(c);
    } else if (arg_is(&a[1], "id") && argc == 2) {
        resp_integer(&c->out, (long long)c->id);
    } else if (arg_is(&a[1], "setname") && argc == 3) {
        if (!valid_name(&a[2])) {
            resp_error(&c->out, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_name(c, &a[2]);
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "getname") && argc == 2) {
        if (c->name[0])
            resp_bulk_cstr(&c->out, c->name);
        else
            resp_null(&c->out, c->proto);
    } else if (arg_is(&a[1], "list")) {
        client_list(s, c);
    } else if (arg_is(&a[1], "info") && argc == 2) {
        resp_out line = {0};
        append_line(s, &line, c);
        resp_verbatim(&c->out, line.data, line.len, c->proto);
        resp_out_free(&line);
    } else if (arg_is(&a[1], "kill") && argc >= 3) {
        client_kill(s, c);
    } else if (arg_is(&a[1], "reply") && argc == 3) {
        client_reply(c);
    } else if (arg_is(&a[1], "no-evict") && argc == 3) {
        if (arg_is(&a[2], "on") || arg_is(&a[2], "off")) {
            c->no_evict = arg_is(&a[2], "on");
            resp_simple(&c->out, "OK");
        } else {
            resp_error(&c->out, "ERR syntax error");
        }
    } else if (arg_is(&a[1], "setinfo") && argc == 4) {
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "unblock") && (argc == 3 || argc == 4)) {
        client_unblock(s, c);
    } else if (arg_is(&a[1], "pause") && (argc == 3 || argc == 4)) {
        client_pause(s, c);
    } else if (arg_is(&a[1], "pause")) { /* past its arity (-3): Redis's fallback error */
        resp_error(&c->out, "ERR unknown subcommand or wrong number of arguments for 'pause'. "
                            "Try CLIENT HELP.");
    } else if (tracking_is_subcommand(c)) {
        tracking_client_command(s, c);
    } else if (arg_is(&a[1], "unpause") && argc == 2) {
        pause_end(s);
        resp_simple(&c->out, "OK");
    } else {
        reply_subcommand_error(c);
    }
}

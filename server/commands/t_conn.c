/* t_conn.c - connection commands: PING ECHO QUIT SELECT HELLO AUTH CLIENT RESET. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "args.h"
#include "blocking.h"
#include "server.h"

void cmd_ping(server *s, client *c)
{
    if (c->cmd.argc > 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'ping' command");
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
    resp_bulk_cstr(&c->out, "master");
    resp_bulk_cstr(&c->out, "modules");
    resp_array(&c->out, 0);
}

void cmd_reset(server *s, client *c)
{
    c->db = 0;
    c->proto = 2;
    c->name[0] = '\0';
    c->authenticated = !s->cfg.requirepass[0];
    resp_simple(&c->out, "RESET");
}

size_t client_info_line(server *s, client *c, char *buf, size_t cap)
{
    uint64_t now = ks_now_ms();
    int n = snprintf(buf, cap,
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%d "
                     "sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 "
                     "rbs=%zu rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=default "
                     "redir=-1 resp=%d\n",
                     (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name,
                     (unsigned long long)((now - c->created_ms) / 1000),
                     (unsigned long long)((now - c->last_ms) / 1000),
                     blocking_is_blocked(c) ? "b" : "N", c->db, c->in_len - c->in_off,
                     c->in_cap - c->in_len, c->in_cap, c->out.cap + c->sending.cap, c->in_cap + c->out.cap + c->sending.cap,
                     c->last_cmd ? c->last_cmd : "NULL", c->proto);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* CLIENT LIST [TYPE normal] [ID id ...] */
static void client_list(server *s, client *c)
{
    resp_out body = {0};
    char line[1024];
    int i = 2;
    bool ids = false;
    if (c->cmd.argc > 2) {
        if (arg_is(&c->cmd.argv[2], "type") && c->cmd.argc == 4) {
            if (!arg_is(&c->cmd.argv[3], "normal") && !arg_is(&c->cmd.argv[3], "master") &&
                !arg_is(&c->cmd.argv[3], "replica") && !arg_is(&c->cmd.argv[3], "pubsub")) {
                char msg[160];
                snprintf(msg, sizeof msg, "ERR Unknown client type '%.*s'",
                         (int)c->cmd.argv[3].len, c->cmd.argv[3].p);
                resp_error(&c->out, msg);
                return;
            }
            if (!arg_is(&c->cmd.argv[3], "normal")) {
                resp_verbatim(&c->out, "", 0, c->proto);
                return;
            }
        } else if (arg_is(&c->cmd.argv[2], "id") && c->cmd.argc > 3) {
            ids = true;
            i = 3;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
    }
    for (client *o = s->clients; o; o = o->all_next) {
        bool show = !ids;
        for (int j = i; ids && j < c->cmd.argc && !show; j++) {
            long long id;
            if (!arg_ll(&c->cmd.argv[j], &id) || id <= 0) {
                resp_out_free(&body);
                resp_error(&c->out, "ERR Invalid client ID");
                return;
            }
            show = (uint64_t)id == o->id;
        }
        if (show)
            resp_raw(&body, line, client_info_line(s, o, line, sizeof line));
    }
    resp_verbatim(&c->out, body.data ? body.data : "", body.len, c->proto);
    resp_out_free(&body);
}

/* Marks o for closing: its loop sees the shut-down socket and frees it. */
static void kill_client(client *o)
{
    o->killed = true;
    o->close_after_reply = true;
    shutdown(o->fd, SHUT_RDWR);
}

/* CLIENT KILL addr | CLIENT KILL [ID id] [ADDR a] [LADDR a] [SKIPME yes|no] [USER u] */
static void client_kill(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (argc == 3) { /* the old form: by address, error when absent */
        for (client *o = s->clients; o; o = o->all_next)
            if (strlen(o->addr) == a[2].len && memcmp(o->addr, a[2].p, a[2].len) == 0) {
                kill_client(o);
                resp_simple(&c->out, "OK");
                return;
            }
        resp_error(&c->out, "ERR No such client");
        return;
    }
    long long id = 0;
    const resp_arg *addr = NULL, *laddr = NULL, *user = NULL;
    bool skipme = true;
    if ((argc - 2) % 2) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        if (arg_is(&a[i], "id")) {
            if (!arg_ll(&a[i + 1], &id) || id <= 0) {
                resp_error(&c->out, "ERR client-id should be greater than 0");
                return;
            }
        } else if (arg_is(&a[i], "addr")) {
            addr = &a[i + 1];
        } else if (arg_is(&a[i], "laddr")) {
            laddr = &a[i + 1];
        } else if (arg_is(&a[i], "user")) {
            user = &a[i + 1];
        } else if (arg_is(&a[i], "type")) {
            /* every client here is "normal" */
        } else if (arg_is(&a[i], "skipme")) {
            if (arg_is(&a[i + 1], "yes"))
                skipme = true;
            else if (arg_is(&a[i + 1], "no"))
                skipme = false;
            else {
                resp_error(&c->out, "ERR syntax error");
                return;
            }
        } else {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
    }
    long long killed = 0;
    for (client *o = s->clients; o; o = o->all_next) {
        if ((id && o->id != (uint64_t)id) || (skipme && o == c) || o->killed)
            continue;
        if (addr && !(strlen(o->addr) == addr->len && memcmp(o->addr, addr->p, addr->len) == 0))
            continue;
        if (laddr && !(strlen(o->laddr) == laddr->len && memcmp(o->laddr, laddr->p, laddr->len) == 0))
            continue;
        if (user && !arg_is(user, "default"))
            continue;
        kill_client(o);
        killed++;
    }
    resp_integer(&c->out, killed);
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

void cmd_client(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (arg_is(&a[1], "id") && argc == 2) {
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
        char line[1024];
        resp_verbatim(&c->out, line, client_info_line(s, c, line, sizeof line), c->proto);
    } else if (arg_is(&a[1], "kill") && argc >= 3) {
        client_kill(s, c);
    } else if (arg_is(&a[1], "no-evict") && argc == 3) {
        if (arg_is(&a[2], "on") || arg_is(&a[2], "off"))
            resp_simple(&c->out, "OK");
        else
            resp_error(&c->out, "ERR syntax error");
    } else if (arg_is(&a[1], "setinfo") && argc == 4) {
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "unblock") && (argc == 3 || argc == 4)) {
        client_unblock(s, c);
    } else {
        reply_subcommand_error(c);
    }
}

/*
 * t_dump.c - DUMP and RESTORE: a key's value in Redis's own serialization (RDB 10 with
 * its CRC-64 footer, types/rdb.h), so values move between shale and Redis both ways.
 * Arguments, checks in Redis's order, and replies; reading a key into a value and
 * writing one back is types/value.c (each type's load and store).
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "hash.h"
#include "notify.h"
#include "rdb.h"
#include "server.h"
#include "value.h"

/* DUMP key: the payload, or nil when the key is absent. Reads the whole value. */
void cmd_dump(server *s, client *c)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_key(s, c, c->db, key, 0, true, &m))
        return;
    if (!m.type) {
        resp_null(&c->out, c->proto);
        return;
    }
    rdb_value v;
    char *payload = NULL;
    size_t n = 0;
    int rc = value_load(&s->ks, c->db, key->p, key->len, &m, &v);
    rc = rc ? rc : rdb_encode(&v, &payload, &n);
    if (rc)
        reply_read_error(c, rc);
    else
        resp_bulk(&c->out, payload, n);
    free(payload);
    rdb_value_free(&v);
    ks_meta_free(&m);
}

/* RESTORE's options after the payload. */
typedef struct restore_args {
    bool replace, absttl;
    long long idle, freq; /* -1: not given */
} restore_args;

/* Parses argv[4..] as Redis does (IDLETIME and FREQ exclude each other: the second
   one given is a syntax error). False with the error replied. */
static bool parse_restore_args(client *c, restore_args *a)
{
    *a = (restore_args){.idle = -1, .freq = -1};
    resp_arg *argv = c->cmd.argv;
    for (int j = 4; j < c->cmd.argc; j++) {
        bool more = j + 1 < c->cmd.argc;
        if (arg_is(&argv[j], "replace")) {
            a->replace = true;
        } else if (arg_is(&argv[j], "absttl")) {
            a->absttl = true;
        } else if (arg_is(&argv[j], "idletime") && more && a->freq == -1) {
            if (!arg_ll(&argv[++j], &a->idle)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return false;
            }
            if (a->idle < 0) {
                resp_error(&c->out, "ERR Invalid IDLETIME value, must be >= 0");
                return false;
            }
        } else if (arg_is(&argv[j], "freq") && more && a->idle == -1) {
            if (!arg_ll(&argv[++j], &a->freq)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return false;
            }
            if (a->freq < 0 || a->freq > 255) {
                resp_error(&c->out, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return false;
            }
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

/* The key's access data as Redis's objectSetLRUOrLFU leaves a restored value: FREQ
   under an LFU policy, IDLETIME under another, else those of a new key. */
static void set_access(server *s, client *c, const resp_arg *key, const restore_args *a)
{
    bool lfu = strstr(s->cfg.maxmemory_policy, "lfu") != NULL;
    long long idle = !lfu && a->idle >= 0 ? a->idle : 0;
    int freq = lfu && a->freq >= 0 ? (int)a->freq : LFU_INIT_VAL;
    access_set(&s->access, s->ks.phys[c->db], key->p, key->len, ks_now_ms(), idle, freq);
}

/* RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] */
void cmd_restore(server *s, client *c)
{
    restore_args a;
    if (!parse_restore_args(c, &a))
        return;
    resp_arg *key = &c->cmd.argv[1], *payload = &c->cmd.argv[3];
    ks_meta m;
    if (!read_key(s, c, c->db, key, 0, false, &m))
        return;
    long long ttl;
    rdb_value v;
    int rc = 0;
    if (!a.replace && m.type) {
        resp_error(&c->out, "BUSYKEY Target key name already exists.");
    } else if (!arg_ll(&c->cmd.argv[2], &ttl)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
    } else if (ttl < 0) {
        resp_error(&c->out, "ERR Invalid TTL value, must be >= 0");
    } else if ((rc = rdb_decode(payload->p, payload->len, &v)) != 0) {
        if (rc == RDB_ECHECKSUM)
            resp_error(&c->out, "ERR DUMP payload version or checksum are wrong");
        else if (rc == RDB_EFORMAT)
            resp_error(&c->out, "ERR Bad data format");
        else
            reply_engine_error(c, rc);
        rdb_value_free(&v);
    } else {
        long long now = (long long)ks_now_ms();
        /* a relative TTL that overflows wraps, as Redis's ttl + mstime() does, and so
           reads as already expired */
        long long when =
            ttl && !a.absttl ? (long long)((unsigned long long)ttl + (unsigned long long)now) : ttl;
        bool expired = ttl && when <= now;
        if (expired && !m.type) { /* nothing to write */
            resp_simple(&c->out, "OK");
            rdb_value_free(&v);
            ks_meta_free(&m);
            return;
        }
        if (v.type == KS_TYPE_HASH) /* Redis decides it with the server's limits */
            v.enc = hash_restore_encoding(&v, (uint64_t)s->cfg.hash_max_listpack_entries,
                                          s->cfg.hash_max_listpack_value);
        ks_begin(&s->ks);
        if (expired) /* nothing is written but the deletion REPLACE asked for */
            rc = ks_del_key(&s->ks, c->db, key->p, key->len, &m);
        else
            rc = value_store(&s->ks, c->db, key->p, key->len, &m, &v, ttl ? (uint64_t)when : 0);
        if (expired) {
            notify_arg(s, NOTIFY_GENERIC, "del", c->db, key);
        } else {
            /* Redis deletes a replaced key and adds the restored one: always new */
            notify_drop_new(s, c->db, key->p, key->len);
            notify_arg(s, NOTIFY_NEW, "new", c->db, key);
            notify_arg(s, NOTIFY_GENERIC, "restore", c->db, key);
        }
        if (rc == SHALE_ENOTSUP) { /* a type this build cannot hold */
            ks_abort(&s->ks);
            notify_drop_command(s);
            resp_error(&c->out, "ERR Bad data format");
        } else if (ks_finish(s, c, rc)) {
            if (!expired)
                set_access(s, c, key, &a);
            resp_simple(&c->out, "OK");
        }
        rdb_value_free(&v);
    }
    ks_meta_free(&m);
}

/*
 * command.c - the command table (name, arity in Redis's convention: N exact, -N at least
 * N counting the name; flags; key positions; group and summary for COMMAND DOCS), the
 * dispatcher (authentication, arity, timing for SLOWLOG and LATENCY) and COMMAND itself.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "args.h"
#include "server.h"

/* M: may add data (Redis's denyoom): refused with -OOM over maxmemory or maxdisk. */
/* NOTOUCH: looking at a key is not a use of it (LRU/LFU), as Redis's LOOKUP_NOTOUCH. */
/* PROTECTED: refused unless enable-debug-command allows it (Redis 7's protected DEBUG). */
enum { W = 1, R = 2, FAST = 4, NOAUTH = 8, ADMIN = 16, M = 32, NOTOUCH = 64, PROTECTED = 128 };

typedef struct command {
    const char *name;
    int arity;
    int flags;
    int first_key, last_key, step;
    const char *group, *summary;
    command_fn fn;
} command;

/* clang-format off */
static const command commands[] = {
    {"get", 2, R|FAST, 1, 1, 1, "string", "Returns the string value of a key.", cmd_get},
    {"set", -3, W|M, 1, 1, 1, "string", "Sets the string value of a key, with options.", cmd_set},
    {"setnx", 3, W|FAST|M, 1, 1, 1, "string", "Sets a key only when it does not exist.", cmd_setnx},
    {"setex", 4, W|M, 1, 1, 1, "string", "Sets a key with an expiry in seconds.", cmd_setex},
    {"psetex", 4, W|M, 1, 1, 1, "string", "Sets a key with an expiry in milliseconds.", cmd_psetex},
    {"getset", 3, W|FAST|M, 1, 1, 1, "string", "Sets a key and returns its old value.", cmd_getset},
    {"getdel", 2, W|FAST, 1, 1, 1, "string", "Returns a key's value and deletes it.", cmd_getdel},
    {"getex", -2, W|FAST, 1, 1, 1, "string", "Returns a key's value and changes its expiry.", cmd_getex},
    {"mget", -2, R|FAST, 1, -1, 1, "string", "Returns the values of several keys.", cmd_mget},
    {"mset", -3, W|M, 1, -1, 2, "string", "Sets several keys.", cmd_mset},
    {"msetnx", -3, W|M, 1, -1, 2, "string", "Sets several keys only if none exists.", cmd_msetnx},
    {"incr", 2, W|FAST|M, 1, 1, 1, "string", "Increments an integer by one.", cmd_incr},
    {"decr", 2, W|FAST|M, 1, 1, 1, "string", "Decrements an integer by one.", cmd_decr},
    {"incrby", 3, W|FAST|M, 1, 1, 1, "string", "Increments an integer by a number.", cmd_incrby},
    {"decrby", 3, W|FAST|M, 1, 1, 1, "string", "Decrements an integer by a number.", cmd_decrby},
    {"incrbyfloat", 3, W|FAST|M, 1, 1, 1, "string", "Increments a float by a number.", cmd_incrbyfloat},
    {"append", 3, W|FAST|M, 1, 1, 1, "string", "Appends to a string.", cmd_append},
    {"strlen", 2, R|FAST, 1, 1, 1, "string", "Returns a string's length.", cmd_strlen},
    {"getrange", 4, R, 1, 1, 1, "string", "Returns a substring.", cmd_getrange},
    {"setrange", 4, W|M, 1, 1, 1, "string", "Overwrites part of a string at an offset.", cmd_setrange},
    {"del", -2, W, 1, -1, 1, "generic", "Deletes keys.", cmd_del},
    {"unlink", -2, W|FAST, 1, -1, 1, "generic", "Deletes keys (in O(1) per key).", cmd_del},
    {"exists", -2, R|FAST|NOTOUCH, 1, -1, 1, "generic", "Counts the keys that exist.", cmd_exists},
    {"touch", -2, R|FAST, 1, -1, 1, "generic", "Counts the keys that exist (access time).", cmd_exists},
    {"type", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's type.", cmd_type},
    {"rename", 3, W, 1, 2, 1, "generic", "Renames a key.", cmd_rename},
    {"renamenx", 3, W|FAST, 1, 2, 1, "generic", "Renames a key if the new name is free.", cmd_renamenx},
    {"copy", -3, W|M, 1, 2, 1, "generic", "Copies a key.", cmd_copy},
    {"move", 3, W|FAST, 1, 1, 1, "generic", "Moves a key to another database.", cmd_move},
    {"keys", 2, R, 0, 0, 0, "generic", "Returns the keys matching a pattern.", cmd_keys},
    {"scan", -2, R, 0, 0, 0, "generic", "Iterates over the keys.", cmd_scan},
    {"randomkey", 1, R, 0, 0, 0, "generic", "Returns a random key.", cmd_randomkey},
    {"dbsize", 1, R|FAST, 0, 0, 0, "server", "Returns the number of keys.", cmd_dbsize},
    {"object", -2, R|NOTOUCH, 2, 2, 1, "generic", "Inspects a key: encoding, frequency, idle time.", cmd_object},
    {"memory", -2, R, 0, 0, 0, "server", "Memory usage of a key, and memory statistics.", cmd_memory},
    {"expire", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry in seconds.", cmd_expire},
    {"pexpire", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry in milliseconds.", cmd_pexpire},
    {"expireat", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry as a Unix time.", cmd_expireat},
    {"pexpireat", -3, W|FAST, 1, 1, 1, "generic", "Sets a key's expiry as a Unix time in ms.", cmd_pexpireat},
    {"ttl", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's time to live in seconds.", cmd_ttl},
    {"pttl", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's time to live in ms.", cmd_pttl},
    {"expiretime", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's expiry as a Unix time.", cmd_expiretime},
    {"pexpiretime", 2, R|FAST|NOTOUCH, 1, 1, 1, "generic", "Returns a key's expiry as a Unix time in ms.", cmd_pexpiretime},
    {"persist", 2, W|FAST, 1, 1, 1, "generic", "Removes a key's expiry.", cmd_persist},
    {"hset", -4, W|FAST|M, 1, 1, 1, "hash", "Sets fields of a hash.", cmd_hset},
    {"hsetnx", 4, W|FAST|M, 1, 1, 1, "hash", "Sets a field only if it does not exist.", cmd_hsetnx},
    {"hget", 3, R|FAST, 1, 1, 1, "hash", "Returns a field's value.", cmd_hget},
    {"hmget", -3, R|FAST, 1, 1, 1, "hash", "Returns the values of several fields.", cmd_hmget},
    {"hmset", -4, W|FAST|M, 1, 1, 1, "hash", "Sets fields of a hash.", cmd_hmset},
    {"hdel", -3, W|FAST, 1, 1, 1, "hash", "Deletes fields.", cmd_hdel},
    {"hlen", 2, R|FAST, 1, 1, 1, "hash", "Returns the number of fields.", cmd_hlen},
    {"hexists", 3, R|FAST, 1, 1, 1, "hash", "Tells whether a field exists.", cmd_hexists},
    {"hgetall", 2, R, 1, 1, 1, "hash", "Returns every field and value.", cmd_hgetall},
    {"hkeys", 2, R, 1, 1, 1, "hash", "Returns every field.", cmd_hkeys},
    {"hvals", 2, R, 1, 1, 1, "hash", "Returns every value.", cmd_hvals},
    {"hincrby", 4, W|FAST|M, 1, 1, 1, "hash", "Increments an integer field.", cmd_hincrby},
    {"hincrbyfloat", 4, W|FAST|M, 1, 1, 1, "hash", "Increments a float field.", cmd_hincrbyfloat},
    {"hstrlen", 3, R|FAST, 1, 1, 1, "hash", "Returns a field's value length.", cmd_hstrlen},
    {"hscan", -3, R, 1, 1, 1, "hash", "Iterates over fields and values.", cmd_hscan},
    {"hrandfield", -2, R, 1, 1, 1, "hash", "Returns random fields.", cmd_hrandfield},
    /* lists: t_list.c */

    /* sets: t_set.c */

    /* sorted sets: t_zset.c; geo: t_geo.c */

    /* sort: t_sort.c */

    /* serialization: t_dump.c */
    {"dump", 2, R, 1, 1, 1, "generic", "Returns a key's value in Redis's serialization.", cmd_dump},
    {"restore", -4, W|M, 1, 1, 1, "generic", "Creates a key from a DUMP payload.", cmd_restore},

    {"ping", -1, FAST, 0, 0, 0, "connection", "Returns PONG or the argument.", cmd_ping},
    {"echo", 2, FAST, 0, 0, 0, "connection", "Returns the argument.", cmd_echo},
    {"quit", -1, FAST|NOAUTH, 0, 0, 0, "connection", "Closes the connection.", cmd_quit},
    {"select", 2, FAST, 0, 0, 0, "connection", "Changes the selected database.", cmd_select},
    {"hello", -1, FAST|NOAUTH, 0, 0, 0, "connection", "Handshakes: protocol, auth, name.", cmd_hello},
    {"auth", -2, FAST|NOAUTH, 0, 0, 0, "connection", "Authenticates the connection.", cmd_auth},
    {"client", -2, 0, 0, 0, 0, "connection", "Manages client connections.", cmd_client},
    {"reset", 1, FAST|NOAUTH, 0, 0, 0, "connection", "Resets the connection.", cmd_reset},
    {"swapdb", 3, W|FAST, 0, 0, 0, "server", "Swaps two databases.", cmd_swapdb},
    {"flushdb", -1, W, 0, 0, 0, "server", "Deletes every key of the database.", cmd_flushdb},
    {"flushall", -1, W, 0, 0, 0, "server", "Deletes every key of every database.", cmd_flushall},
    {"time", 1, FAST, 0, 0, 0, "server", "Returns the server time.", cmd_time},
    {"lastsave", 1, FAST, 0, 0, 0, "server", "Returns the time of the last save.", cmd_lastsave},
    {"save", 1, ADMIN, 0, 0, 0, "server", "Flushes memtables to tables synchronously.", cmd_save},
    {"bgsave", -1, ADMIN, 0, 0, 0, "server", "Flushes memtables to tables.", cmd_bgsave},
    {"shutdown", -1, ADMIN, 0, 0, 0, "server", "Closes the store cleanly and stops.", cmd_shutdown},
    {"function", -2, 0, 0, 0, 0, "scripting", "Functions (FLUSH is accepted; none exist).", cmd_function},
    {"wait", 3, 0, 0, 0, 0, "generic", "Waits for replicas (there are none).", cmd_wait},
    {"debug", -2, ADMIN|PROTECTED, 0, 0, 0, "server", "Debugging commands (SLEEP).", cmd_debug},
    {"slowlog", -2, ADMIN, 0, 0, 0, "server", "The slow command log.", cmd_slowlog},
    {"latency", -2, ADMIN, 0, 0, 0, "server", "Latency monitoring.", cmd_latency},
    {"info", -1, 0, 0, 0, 0, "server", "Returns information and statistics.", cmd_info},
    {"config", -2, ADMIN, 0, 0, 0, "server", "Gets and sets options.", cmd_config},
    {"command", -1, 0, 0, 0, 0, "server", "Returns information about commands.", cmd_command},
};
/* clang-format on */
#define NCOMMANDS (sizeof commands / sizeof commands[0])
_Static_assert(NCOMMANDS < 512, "the name index needs free slots");

/* Open-addressing index of the table by case-folded name, built once: a lookup costs
   one hash of the name and usually one comparison. */
#define INDEX_SLOTS 1024
static const command *index_slots[INDEX_SLOTS];
static size_t index_len[INDEX_SLOTS]; /* strlen of each slot's name */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static uint32_t name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)tolower((unsigned char)p[i])) * 16777619u;
    return h;
}

static void build_subcommands(void);

static void build_index(void)
{
    build_subcommands();
    for (size_t i = 0; i < NCOMMANDS; i++) {
        uint32_t h = name_hash(commands[i].name, strlen(commands[i].name));
        while (index_slots[h % INDEX_SLOTS])
            h++;
        index_slots[h % INDEX_SLOTS] = &commands[i];
        index_len[h % INDEX_SLOTS] = strlen(commands[i].name);
    }
}

static const command *lookup(const char *p, size_t n)
{
    pthread_once(&index_once, build_index);
    for (uint32_t h = name_hash(p, n);; h++) {
        const command *c = index_slots[h % INDEX_SLOTS];
        if (!c)
            return NULL;
        if (index_len[h % INDEX_SLOTS] == n && strncasecmp(c->name, p, n) == 0)
            return c;
    }
}

/* "ERR unknown command 'x', with args beginning with: 'a' 'b' ", as Redis words it. */
static void unknown(client *c)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: ",
                     (int)(c->cmd.argv[0].len > 128 ? 128 : c->cmd.argv[0].len), c->cmd.argv[0].p);
    for (int i = 1; i < c->cmd.argc && n < (int)sizeof msg - 140; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, "'%.*s' ",
                      (int)(c->cmd.argv[i].len > 128 ? 128 : c->cmd.argv[i].len), c->cmd.argv[i].p);
    resp_error(&c->out, msg);
}

/* Container commands' subcommands: statistics count them apart ("config|set"), as
   Redis 7 does. Their slots follow the commands' in the statistics table. */
static const struct container {
    const char *parent;
    const char *subs[10];
} containers[] = {
    {"client", {"getname", "id", "info", "kill", "list", "no-evict", "setinfo", "setname"}},
    {"command", {"count", "docs", "info", "list"}},
    {"config", {"get", "resetstat", "rewrite", "set"}},
    {"debug", {"sleep"}},
    {"function", {"flush", "list"}},
    {"latency", {"history", "latest", "reset"}},
    {"memory", {"doctor", "help", "malloc-stats", "purge", "stats", "usage"}},
    {"object", {"encoding", "freq", "help", "idletime", "refcount"}},
    {"slowlog", {"get", "help", "len", "reset"}},
};
#define NCONTAINERS (sizeof containers / sizeof containers[0])
#define MAX_SUBS 64

static char sub_names[MAX_SUBS][40]; /* "parent|sub" for each subcommand slot */
static size_t nsubs;
static size_t first_sub[NCOMMANDS]; /* a container's first slot (0: not a container) */
static size_t nsub_of[NCOMMANDS];

static void build_subcommands(void)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        for (size_t k = 0; k < NCONTAINERS; k++) {
            if (strcmp(commands[i].name, containers[k].parent) != 0)
                continue;
            first_sub[i] = NCOMMANDS + nsubs;
            for (size_t j = 0; j < 10 && containers[k].subs[j] && nsubs < MAX_SUBS; j++) {
                snprintf(sub_names[nsubs++], sizeof sub_names[0], "%s|%s", commands[i].name,
                         containers[k].subs[j]);
                nsub_of[i]++;
            }
        }
}

size_t command_table_size(void)
{
    pthread_once(&index_once, build_index);
    return NCOMMANDS + nsubs;
}

const char *command_table_name(size_t i)
{
    return i < NCOMMANDS ? commands[i].name : sub_names[i - NCOMMANDS];
}

/* The statistics slot of a call: the subcommand's for a container (SIZE_MAX for an
   unknown subcommand: Redis counts those only as errors), else the command's. */
static size_t stats_slot(const command *cmd, const client *c)
{
    size_t i = (size_t)(cmd - commands);
    if (!nsub_of[i] || c->cmd.argc < 2)
        return i;
    const resp_arg *a = &c->cmd.argv[1];
    size_t plen = strlen(cmd->name) + 1;
    for (size_t j = 0; j < nsub_of[i]; j++) {
        const char *sub = sub_names[first_sub[i] - NCOMMANDS + j] + plen;
        if (strlen(sub) == a->len && strncasecmp(sub, a->p, a->len) == 0)
            return first_sub[i] + j;
    }
    return SIZE_MAX;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts the error reply that starts at out offset `from`, if the reply is one. */
static bool count_error_reply(server *s, client *c, size_t from)
{
    if (c->out.len <= from || c->out.data[from] != '-')
        return false;
    cmdstats_error_reply(&s->cmds, c->out.data + from + 1, c->out.len - from - 1);
    return true;
}

/* enable-debug-command: "yes", or "local" and the client is on the unix socket or on
   127.0.0.1 / ::1, as Redis's islocalClient. */
static bool protected_allowed(const server *s, const client *c)
{
    const char *mode = s->cfg.enable_debug_command;
    if (strcasecmp(mode, "yes") == 0)
        return true;
    return strcasecmp(mode, "local") == 0 &&
           (c->unix_socket || strncmp(c->addr, "127.0.0.1:", 10) == 0 ||
            strncmp(c->addr, "::1:", 4) == 0);
}

/* Checks that come before the handler: authentication, arity, a disk that refuses
   writes. False when one refused the command (the reply is written). */
static bool admit(server *s, client *c, const command *cmd)
{
    if (!c->authenticated && !(cmd->flags & NOAUTH)) {
        resp_error(&c->out, "NOAUTH Authentication required.");
        return false;
    }
    int argc = c->cmd.argc;
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        char msg[160];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", cmd->name);
        resp_error(&c->out, msg);
        return false;
    }
    if ((cmd->flags & PROTECTED) && !protected_allowed(s, c)) {
        resp_error(&c->out, "ERR DEBUG command not allowed. If the enable-debug-command option "
                            "is set to \"local\", you can run it from a local connection, "
                            "otherwise you need to set this option in the configuration file, "
                            "and then restart the server.");
        return false;
    }
    int unsynced = __atomic_load_n(&s->unsynced_error, __ATOMIC_RELAXED);
    if (unsynced && ((cmd->flags & (R | W)) || cmd->fn == cmd_ping)) {
        /* A log write or sync failed with sync-writes yes: the writes since the last good
           sync may be lost by a crash, and any reply that reads data could show them. So
           data commands are refused until watch_disk makes them durable, and PING too, as
           Redis refuses it on a persistence error, for health checks to see. */
        reply_unsynced_error(c, unsynced);
        return false;
    }
    if ((cmd->flags & M) && (s->cfg.maxmemory || s->cfg.maxdisk) && !caps_admit(s, c))
        return false;
    if ((cmd->flags & W) && s->disk_error) {
        /* As Redis after a failed AOF write: writes are refused before they run, reads
           go on; server_cron lifts this once the engine can write again. */
        reply_disk_error(c, s->disk_error);
        return false;
    }
    return true;
}

void command_dispatch(server *s, client *c)
{
    if (c->cmd.argc == 0)
        return;
    size_t from = c->out.len;
    const command *cmd = lookup(c->cmd.argv[0].p, c->cmd.argv[0].len);
    if (!cmd) {
        unknown(c);
        count_error_reply(s, c, from);
        return;
    }
    size_t slot = stats_slot(cmd, c), nslots = NCOMMANDS + nsubs;
    if (!admit(s, c, cmd)) {
        cmdstats_reject(&s->cmds, nslots, (size_t)(cmd - commands));
        count_error_reply(s, c, from);
        return;
    }
    c->last_cmd = cmd->name;
    c->no_touch = cmd->flags & NOTOUCH;
    uint64_t t0 = mono_ns();
    cmd->fn(s, c);
    uint64_t ns = mono_ns() - t0;
    long long us = (long long)(ns / 1000);
    bool failed = count_error_reply(s, c, from);
    static const char arity_err[] = "-ERR wrong number of arguments";
    if (failed && c->out.len - from >= sizeof arity_err - 1 &&
        memcmp(c->out.data + from, arity_err, sizeof arity_err - 1) == 0) {
        /* a subcommand's arity: Redis refuses it before running, so it is a rejection */
        if (slot != SIZE_MAX)
            cmdstats_reject(&s->cmds, nslots, slot);
    } else if (slot != SIZE_MAX) {
        cmdstats_record(&s->cmds, nslots, slot, ns, failed, s->cfg.latency_tracking);
    }
    s->stats.commands_processed++;
    slowlog_maybe_add(s, c, us);
    if (s->cfg.latency_monitor_threshold > 0 && us / 1000 >= s->cfg.latency_monitor_threshold &&
        us > s->latency_max_us) {
        s->latency_max_us = us;
        s->latency_max_time = (long long)time(NULL);
    }
}

void reply_disk_error(client *c, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg,
             "MISCONF Errors writing to disk: %s. Write commands are refused until shale "
             "can write again; reads are served",
             shale_strerror(err));
    resp_error(&c->out, msg);
}

void reply_unsynced_error(client *c, int err)
{
    char msg[320];
    snprintf(msg, sizeof msg,
             "MISCONF Errors writing to disk: %s. The latest writes may not be durable: "
             "commands that read or write data are refused until they are (after a failed "
             "sync: until a restart)",
             shale_strerror(err));
    resp_error(&c->out, msg);
}

void reply_read_error(client *c, int rc)
{
    if (rc == -ENOMEM) {
        reply_engine_error(c, rc);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "ERR reading from disk failed: %s", shale_strerror(rc));
    resp_error(&c->out, msg);
}

void reply_engine_error(client *c, int rc)
{
    char msg[256];
    if (rc == SHALE_ESTALL)
        snprintf(msg, sizeof msg, "BUSY shale write stall (%s), retry later",
                 c->stall_cause ? c->stall_cause : "l0");
    else if (rc == SHALE_EFAILED || rc == -ENOSPC || rc == -EIO || rc == -EDQUOT) {
        reply_disk_error(c, rc);
        return;
    } else if (rc == -ENOMEM)
        snprintf(msg, sizeof msg, "OOM command not allowed: out of memory");
    else
        snprintf(msg, sizeof msg, "ERR %s", shale_strerror(rc));
    resp_error(&c->out, msg);
}

bool ks_finish(server *s, client *c, int rc)
{
    if (rc == 0)
        rc = ks_commit(&s->ks);
    else
        ks_abort(&s->ks);
    if (rc == SHALE_ESTALL) {
        uint64_t mem = 0;
        shale_property_int(s->db, "shale.stall-timeouts-memtable", &mem);
        bool by_memtable = mem > s->memtable_timeouts_seen;
        s->memtable_timeouts_seen = mem;
        if (by_memtable) {
            s->stats.stall_rejections_memtable++;
            c->stall_cause = "memtable";
        } else {
            s->stats.stall_rejections_l0++;
            c->stall_cause = "l0";
        }
    }
    if (rc == SHALE_EFAILED) {
        /* the log write failed just now: the pre-check refuses the next writes */
        int err = ks_engines_background_error(&s->ks);
        if (err)
            server_note_disk_error(s, err);
    }
    if (rc == SHALE_EFAILED || rc == -ENOSPC || rc == -EIO || rc == -EDQUOT)
        s->last_write_error = rc == SHALE_EFAILED && s->disk_error ? s->disk_error : rc;
    if (rc) {
        reply_engine_error(c, rc == SHALE_EFAILED && s->disk_error ? s->disk_error : rc);
        return false;
    }
    s->last_write_error = 0;
    server_wrote(s);
    return true;
}

/* ---- COMMAND ---- */

static void reply_flags(client *c, const command *cmd)
{
    const char *names[8];
    int n = 0;
    if (cmd->flags & W)
        names[n++] = "write";
    if (cmd->flags & R)
        names[n++] = "readonly";
    if (cmd->flags & M)
        names[n++] = "denyoom";
    if (cmd->flags & FAST)
        names[n++] = "fast";
    if (cmd->flags & NOAUTH)
        names[n++] = "no_auth";
    if (cmd->flags & ADMIN)
        names[n++] = "admin";
    resp_set(&c->out, n, c->proto);
    for (int i = 0; i < n; i++)
        resp_simple(&c->out, names[i]);
}

/* Redis 7's COMMAND INFO entry: name arity flags first last step acl tips keyspecs subs. */
static void reply_info(client *c, const command *cmd)
{
    resp_array(&c->out, 10);
    resp_bulk_cstr(&c->out, cmd->name);
    resp_integer(&c->out, cmd->arity);
    reply_flags(c, cmd);
    resp_integer(&c->out, cmd->first_key);
    resp_integer(&c->out, cmd->last_key);
    resp_integer(&c->out, cmd->step);
    resp_set(&c->out, 1, c->proto);
    char cat[32];
    snprintf(cat, sizeof cat, "@%s", cmd->group);
    resp_simple(&c->out, cat);
    resp_set(&c->out, 0, c->proto);
    resp_array(&c->out, 0);
    resp_array(&c->out, 0);
}

static void reply_docs(client *c, const command *cmd)
{
    resp_bulk_cstr(&c->out, cmd->name);
    resp_map(&c->out, 3, c->proto);
    resp_bulk_cstr(&c->out, "summary");
    resp_bulk_cstr(&c->out, cmd->summary);
    resp_bulk_cstr(&c->out, "since");
    resp_bulk_cstr(&c->out, "1.0.0");
    resp_bulk_cstr(&c->out, "group");
    resp_bulk_cstr(&c->out, cmd->group);
}

void cmd_command(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (c->cmd.argc == 1 || (c->cmd.argc == 2 && arg_is(&a[1], "info"))) {
        /* COMMAND INFO without names describes every command, as COMMAND (Redis 7.0) */
        resp_array(&c->out, (long long)NCOMMANDS);
        for (size_t i = 0; i < NCOMMANDS; i++)
            reply_info(c, &commands[i]);
    } else if (arg_is(&a[1], "count") && c->cmd.argc == 2) {
        resp_integer(&c->out, (long long)NCOMMANDS);
    } else if (arg_is(&a[1], "info")) {
        resp_array(&c->out, c->cmd.argc - 2);
        for (int i = 2; i < c->cmd.argc; i++) {
            const command *cmd = lookup(a[i].p, a[i].len);
            if (cmd)
                reply_info(c, cmd);
            else
                resp_null_array(&c->out, c->proto);
        }
    } else if (arg_is(&a[1], "docs")) {
        long long n = 0;
        for (int i = 2; i < c->cmd.argc; i++)
            n += lookup(a[i].p, a[i].len) != NULL;
        resp_map(&c->out, c->cmd.argc == 2 ? (long long)NCOMMANDS : n, c->proto);
        if (c->cmd.argc == 2)
            for (size_t i = 0; i < NCOMMANDS; i++)
                reply_docs(c, &commands[i]);
        for (int i = 2; i < c->cmd.argc; i++) {
            const command *cmd = lookup(a[i].p, a[i].len);
            if (cmd)
                reply_docs(c, cmd);
        }
    } else if (arg_is(&a[1], "list") && c->cmd.argc == 2) {
        resp_array(&c->out, (long long)NCOMMANDS);
        for (size_t i = 0; i < NCOMMANDS; i++)
            resp_bulk_cstr(&c->out, commands[i].name);
    } else {
        reply_subcommand_error(c);
    }
}

void reply_help(client *c, const char *const *lines, size_t n)
{
    resp_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_simple(&c->out, lines[i]);
}

/* True when sub is a subcommand the container command `parent` lists. */
static bool known_subcommand(const resp_arg *parent, const resp_arg *sub)
{
    for (size_t k = 0; k < NCONTAINERS; k++) {
        if (strlen(containers[k].parent) != parent->len ||
            strncasecmp(containers[k].parent, parent->p, parent->len) != 0)
            continue;
        for (size_t j = 0; j < 10 && containers[k].subs[j]; j++)
            if (arg_is(sub, containers[k].subs[j]))
                return true;
    }
    return false;
}

void reply_subcommand_error(client *c)
{
    char msg[300], upper[32];
    resp_arg *sub = &c->cmd.argv[1];
    if (known_subcommand(&c->cmd.argv[0], sub)) {
        /* a known subcommand reaches here only with the wrong number of arguments:
           Redis 7 names it "parent|sub" (OBJECT HELP x, SLOWLOG LEN x) */
        char lower[80];
        size_t n = 0;
        for (int i = 0; i < 2; i++) {
            const resp_arg *w = &c->cmd.argv[i];
            for (size_t j = 0; j < w->len && n < sizeof lower - 2; j++)
                lower[n++] = (char)tolower((unsigned char)w->p[j]);
            if (i == 0)
                lower[n++] = '|';
        }
        lower[n] = '\0';
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", lower);
        resp_error(&c->out, msg);
        return;
    }
    size_t n = c->cmd.argv[0].len < sizeof upper - 1 ? c->cmd.argv[0].len : sizeof upper - 1;
    for (size_t i = 0; i < n; i++)
        upper[i] = (char)toupper((unsigned char)c->cmd.argv[0].p[i]);
    upper[n] = '\0';
    snprintf(msg, sizeof msg, "ERR unknown subcommand '%.*s'. Try %s HELP.",
             (int)(sub->len > 128 ? 128 : sub->len), sub->p, upper);
    resp_error(&c->out, msg);
}

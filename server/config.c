/*
 * config.c - every server option in one table (name, type, where it lives, limits,
 * whether CONFIG SET may change it, the engine option behind it). Files use redis.conf
 * syntax ("name value" lines, # comments); "--name value" arguments win over the file.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "args.h"
#include "glob.h"
#include "notify.h"
#include "resp.h"

/* T_MEM: bytes, its limits read as unsigned (as Redis's size_t and unsigned long long
   options; max -1 is no limit). T_MEMPCT: bytes or "N%" (stored as -N), as Redis's
   PERCENT_CONFIG memory options. */
/* T_NOTIFY: notify-keyspace-events' class letters, kept as flags (notify.h). */
enum opt_type { T_BOOL, T_INT, T_MEM, T_MEMPCT, T_STR, T_OUTBUF, T_NOTIFY };
/* IMMUTABLE: CONFIG SET refuses it. SAME_OK: but accepts its current value (an option
   Redis can change and shale cannot, as port and bind, or one of shale's own), so a
   client that sets back what CONFIG GET gave succeeds. PROTECTED_CFG: refused as Redis
   refuses its protected configs (enable-protected-configs is no). ALIAS: another name of
   the option before it (Redis 7's old ziplist names); CONFIG GET shows both, CONFIG
   REWRITE writes the option once. (Redis also has hidden debugging configs, that CONFIG
   GET shows for their exact name only: shale has none, docs/commands.md.) */
#define IMMUTABLE 1
#define SAME_OK 2
#define PROTECTED_CFG 4
#define ALIAS 8

typedef struct option {
    const char *name;
    enum opt_type type;
    size_t off; /* in server_config */
    size_t size; /* T_STR: buffer size */
    long long min, max;
    int flags;
    const char *engine; /* shale_set_option name, when the engine applies it live */
} option;

/* Redis's CONFIG_REPL_BACKLOG_MIN_SIZE */
#define REPL_BACKLOG_MIN (16 * 1024)

#define F(field) offsetof(server_config, field), sizeof(((server_config *)0)->field)
#define BIG (1ll << 62)

static const option options[] = {
    {"bind", T_STR, F(bind), 0, 0, IMMUTABLE | SAME_OK, NULL},
    {"port", T_INT, F(port), 0, 65535, IMMUTABLE | SAME_OK, NULL},
    {"metrics-port", T_INT, F(metrics_port), 0, 65535, IMMUTABLE | SAME_OK, NULL},
    {"metrics-bind", T_STR, F(metrics_bind), 0, 0, IMMUTABLE | SAME_OK, NULL},
    {"unixsocket", T_STR, F(unixsocket), 0, 0, IMMUTABLE, NULL},
    {"unixsocketperm", T_INT, F(unixsocketperm), 0, 0777, IMMUTABLE, NULL},
    {"protected-mode", T_BOOL, F(protected_mode), 0, 0, 0, NULL},
    {"requirepass", T_STR, F(requirepass), 0, 0, 0, NULL},
    {"maxclients", T_INT, F(maxclients), 1, 1000000, 0, NULL},
    {"tracking-table-max-keys", T_INT, F(tracking_table_max_keys), 0, BIG, 0, NULL},
    {"max-open-files", T_INT, F(max_open_files), 16, 1000000, IMMUTABLE | SAME_OK, NULL},
    /* seconds, at most INT_MAX as in Redis (close_idle multiplies timeout by 1000) */
    {"timeout", T_INT, F(timeout), 0, 2147483647, 0, NULL},
    {"tcp-keepalive", T_INT, F(tcp_keepalive), 0, 2147483647, 0, NULL},
    {"io-threads", T_INT, F(io_threads), 1, 128, IMMUTABLE, NULL},
    {"enable-debug-command", T_STR, F(enable_debug_command), 0, 0, IMMUTABLE, NULL},
    {"proto-max-bulk-len", T_MEM, F(proto_max_bulk_len), 1024 * 1024, LONG_MAX, 0, NULL},
    {"client-query-buffer-limit", T_MEM, F(client_query_buffer_limit), 1024 * 1024, LONG_MAX, 0, NULL},
    /* Redis's client eviction: -100 is 100% (accepted and reported, docs/commands.md) */
    {"maxmemory-clients", T_MEMPCT, F(maxmemory_clients), -100, LLONG_MAX, 0, NULL},
    {"client-output-buffer-limit", T_OUTBUF, 0, 0, 0, 0, 0, NULL},
    {"dir", T_STR, F(dir), 0, 0, IMMUTABLE | PROTECTED_CFG, NULL},
    {"backup-dir", T_STR, F(backup_dir), 0, 0, IMMUTABLE | PROTECTED_CFG, NULL},
    {"sync-writes", T_BOOL, F(sync_writes), 0, 0, 0, NULL},
    {"commit-pipeline", T_BOOL, F(commit_pipeline), 0, 0, IMMUTABLE | SAME_OK, NULL},
    {"sync-interval-ms", T_INT, F(sync_interval_ms), 0, 3600000, 0, "sync_interval_ms"},
    /* the engine keeps it in 32 bits */
    {"write-stall-timeout-ms", T_INT, F(write_stall_timeout_ms), 0, 4294967295ll, 0, "write_stall_timeout_ms"},
    {"memtable-size", T_MEM, F(memtable_size), 64 * 1024, BIG, 0, "memtable_size"},
    {"block-cache-size", T_MEM, F(block_cache_size), 0, BIG, 0, "block_cache_size"},
    {"delayed-write-rate", T_MEM, F(delayed_write_rate), 1024, BIG, 0, "delayed_write_rate"},
    {"compaction-rate-limit", T_MEM, F(compaction_rate_limit), 0, BIG, 0, "compaction_rate_limit"},
    {"l0-compaction-trigger", T_INT, F(l0_compaction_trigger), 1, 100000, 0, "l0_compaction_trigger"},
    {"l0-slowdown-trigger", T_INT, F(l0_slowdown_trigger), 1, 100000, 0, "l0_slowdown_trigger"},
    {"l0-stop-trigger", T_INT, F(l0_stop_trigger), 1, 100000, 0, "l0_stop_trigger"},
    {"tombstone-compaction-ratio", T_INT, F(tombstone_compaction_ratio), 0, 100, 0, "tombstone_compaction_ratio"},
    {"tombstone-compaction-min-entries", T_INT, F(tombstone_compaction_min_entries), 0, BIG, 0, "tombstone_compaction_min_entries"},
    {"iter-skip-compaction-trigger", T_INT, F(iter_skip_compaction_trigger), 0, BIG, 0, "iter_skip_compaction_trigger"},
    {"compaction-style", T_STR, F(compaction_style), 0, 0, IMMUTABLE | SAME_OK, NULL},
    {"num-compactors", T_INT, F(num_compactors), 1, 64, IMMUTABLE | SAME_OK, NULL},
    {"value-threshold", T_MEM, F(value_threshold), 0, BIG, 0, "value_threshold"},
    {"vlog-file-size", T_MEM, F(vlog_file_size), 1024 * 1024, BIG, 0, "vlog_file_size"},
    {"vlog-gc-interval", T_INT, F(vlog_gc_interval), 0, 1000000, 0, "vlog_gc_interval_s"},
    {"slowlog-log-slower-than", T_INT, F(slowlog_log_slower_than), -1, BIG, 0, NULL},
    {"busy-reply-threshold", T_INT, F(busy_reply_threshold), 0, LLONG_MAX, 0, NULL},
    {"lua-time-limit", T_INT, F(busy_reply_threshold), 0, LLONG_MAX, ALIAS, NULL},
    {"lua-memory-limit", T_MEM, F(lua_memory_limit), 0, BIG, 0, NULL},
    {"slowlog-max-len", T_INT, F(slowlog_max_len), 0, BIG, 0, NULL},
    {"latency-monitor-threshold", T_INT, F(latency_monitor_threshold), 0, BIG, 0, NULL},
    {"latency-tracking", T_BOOL, F(latency_tracking), 0, 0, 0, NULL},
    {"latency-tracking-info-percentiles", T_STR, F(latency_tracking_info_percentiles), 0, 0, 0, NULL},
    {"maxmemory", T_MEM, F(maxmemory), 0, -1, 0, NULL},
    {"maxdisk", T_MEM, F(maxdisk), 0, BIG, 0, NULL},
    {"maxmemory-policy", T_STR, F(maxmemory_policy), 0, 0, 0, NULL},
    {"notify-keyspace-events", T_NOTIFY, F(notify_keyspace_events), 0, 0, 0, NULL},
    {"maxmemory-samples", T_INT, F(maxmemory_samples), 1, 64, 0, NULL},
    {"lfu-log-factor", T_INT, F(lfu_log_factor), 0, 1000000, 0, NULL},
    {"lfu-decay-time", T_INT, F(lfu_decay_time), 0, 1000000, 0, NULL},
    {"hz", T_INT, F(hz), 1, 500, 0, NULL},
    {"databases", T_INT, F(databases), 16, 16, IMMUTABLE, NULL},
    {"loglevel", T_STR, F(loglevel), 0, 0, 0, NULL},
    {"logfile", T_STR, F(logfile), 0, 0, IMMUTABLE, NULL},
    {"save", T_STR, F(save), 0, 0, 0, NULL},
    {"appendonly", T_BOOL, F(appendonly), 0, 0, 0, NULL},
    /* replication (repl/, docs/server.md "Replication") */
    {"repl-backlog-size", T_MEM, F(repl_backlog_size), 1, LLONG_MAX, 0, NULL},
    {"repl-timeout", T_INT, F(repl_timeout), 1, INT_MAX, 0, NULL},
    {"min-replicas-to-write", T_INT, F(min_replicas_to_write), 0, INT_MAX, 0, NULL},
    {"min-slaves-to-write", T_INT, F(min_replicas_to_write), 0, INT_MAX, ALIAS, NULL},
    {"min-replicas-max-lag", T_INT, F(min_replicas_max_lag), 0, INT_MAX, 0, NULL},
    {"min-slaves-max-lag", T_INT, F(min_replicas_max_lag), 0, INT_MAX, ALIAS, NULL},
    {"replicaof", T_STR, F(replicaof), 0, 0, IMMUTABLE, NULL},
    {"slaveof", T_STR, F(replicaof), 0, 0, IMMUTABLE | ALIAS, NULL},
    {"replica-priority", T_INT, F(replica_priority), 0, INT_MAX, 0, NULL},
    {"slave-priority", T_INT, F(replica_priority), 0, INT_MAX, ALIAS, NULL},
    {"replica-read-only", T_BOOL, F(replica_read_only), 0, 0, 0, NULL},
    {"slave-read-only", T_BOOL, F(replica_read_only), 0, 0, ALIAS, NULL},
    {"replica-announce-ip", T_STR, F(replica_announce_ip), 0, 0, 0, NULL},
    {"slave-announce-ip", T_STR, F(replica_announce_ip), 0, 0, ALIAS, NULL},
    {"replica-announce-port", T_INT, F(replica_announce_port), 0, 65535, 0, NULL},
    {"slave-announce-port", T_INT, F(replica_announce_port), 0, 65535, ALIAS, NULL},
    {"replica-announced", T_BOOL, F(replica_announced), 0, 0, 0, NULL},
    {"masterauth", T_STR, F(masterauth), 0, 0, 0, NULL},
    {"masteruser", T_STR, F(masteruser), 0, 0, 0, NULL},
    {"daemonize", T_BOOL, F(daemonize), 0, 0, IMMUTABLE, NULL},
    /* Redis's encoding thresholds: accepted and reported, they change nothing in shale's
       layout (every collection is one engine key per member whatever its size) */
    {"hash-max-listpack-entries", T_INT, F(hash_max_listpack_entries), 0, LONG_MAX, 0, NULL},
    {"hash-max-ziplist-entries", T_INT, F(hash_max_listpack_entries), 0, LONG_MAX, ALIAS, NULL},
    {"hash-max-listpack-value", T_MEM, F(hash_max_listpack_value), 0, LONG_MAX, 0, NULL},
    {"hash-max-ziplist-value", T_MEM, F(hash_max_listpack_value), 0, LONG_MAX, ALIAS, NULL},
    {"list-max-listpack-size", T_INT, F(list_max_listpack_size), INT_MIN, INT_MAX, 0, NULL},
    {"list-max-ziplist-size", T_INT, F(list_max_listpack_size), INT_MIN, INT_MAX, ALIAS, NULL},
    {"list-compress-depth", T_INT, F(list_compress_depth), 0, INT_MAX, 0, NULL},
    {"set-max-intset-entries", T_INT, F(set_max_intset_entries), 0, LONG_MAX, 0, NULL},
    {"zset-max-listpack-entries", T_INT, F(zset_max_listpack_entries), 0, LONG_MAX, 0, NULL},
    {"zset-max-ziplist-entries", T_INT, F(zset_max_listpack_entries), 0, LONG_MAX, ALIAS, NULL},
    {"zset-max-listpack-value", T_MEM, F(zset_max_listpack_value), 0, LONG_MAX, 0, NULL},
    {"zset-max-ziplist-value", T_MEM, F(zset_max_listpack_value), 0, LONG_MAX, ALIAS, NULL},
    {"hll-sparse-max-bytes", T_MEM, F(hll_sparse_max_bytes), 0, LONG_MAX, 0, NULL},
    {"stream-node-max-bytes", T_MEM, F(stream_node_max_bytes), 0, LONG_MAX, 0, NULL},
    {"stream-node-max-entries", T_INT, F(stream_node_max_entries), 0, LLONG_MAX, 0, NULL},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static bool valid_policy(const char *v)
{
    static const char *const names[] = {"noeviction",     "allkeys-lru",     "volatile-lru",
                                        "allkeys-lfu",    "volatile-lfu",    "allkeys-random",
                                        "volatile-random", "volatile-ttl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(v, names[i]) == 0)
            return true;
    return false;
}

/* "50 99 99.9": up to 16 numbers from 0 to 100 (or none) */
static bool valid_percentiles(const char *list)
{
    int n = 0;
    for (const char *p = list; *p;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0 || v > 100 || (*end && *end != ' ') || ++n > 16)
            return false;
        p = end;
        while (*p == ' ')
            p++;
    }
    return true;
}

void config_default(server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->bind, sizeof cfg->bind, "127.0.0.1");
    snprintf(cfg->metrics_bind, sizeof cfg->metrics_bind, "127.0.0.1");
    cfg->port = 6379;
    cfg->unixsocketperm = 0700;
    cfg->protected_mode = true;
    snprintf(cfg->enable_debug_command, sizeof cfg->enable_debug_command, "no"); /* Redis 7 */
    cfg->maxclients = 10000;
    cfg->tcp_keepalive = 300;
    cfg->pubsub_hard_limit = 32ull << 20; /* Redis's pubsub class: 32mb 8mb 60 */
    cfg->tracking_table_max_keys = 1000000; /* Redis's default */
    cfg->pubsub_soft_limit = 8ull << 20;
    cfg->pubsub_soft_seconds = 60;
    /* One loop per core but one: that core is left to the engine's flush and compaction
       threads (on 2 cores, 2 loops measured 10-25 % slower than 1 on SET at P1). */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->io_threads = cores > 2 ? cores - 1 : 1;
    cfg->proto_max_bulk_len = 512ull * 1024 * 1024;
    cfg->client_query_buffer_limit = 1024ull * 1024 * 1024;
    cfg->repl_backlog_size = 1024 * 1024; /* Redis's 1mb */
    cfg->min_replicas_max_lag = 10;         /* Redis's */
    cfg->repl_timeout = 60;                 /* Redis's */
    cfg->replica_priority = 100;
    cfg->replica_read_only = true;
    cfg->replica_announced = true;
    snprintf(cfg->dir, sizeof cfg->dir, "./data");
    cfg->sync_writes = true;
    cfg->sync_interval_ms = 1000;
    shale_options o;
    shale_options_default(&o);
    cfg->memtable_size = o.memtable_size;
    cfg->max_open_files = o.max_open_files;
    cfg->block_cache_size = 256ull << 20; /* a server's reads hit memory, as Redis's do */
    cfg->delayed_write_rate = o.delayed_write_rate;
    cfg->compaction_rate_limit = o.compaction_rate_limit;
    cfg->l0_compaction_trigger = o.l0_compaction_trigger;
    cfg->l0_slowdown_trigger = o.l0_slowdown_trigger;
    cfg->l0_stop_trigger = o.l0_stop_trigger;
    cfg->tombstone_compaction_ratio = o.tombstone_compaction_ratio;
    cfg->tombstone_compaction_min_entries = (long long)o.tombstone_compaction_min_entries;
    cfg->iter_skip_compaction_trigger = (long long)o.iter_skip_compaction_trigger;
    cfg->write_stall_timeout_ms = 1000; /* a stalled write gets -BUSY after a second */
    snprintf(cfg->compaction_style, sizeof cfg->compaction_style, "leveled");
    cfg->num_compactors = o.num_compactors;
    cfg->value_threshold = o.value_threshold;
    cfg->vlog_file_size = o.vlog_file_size;
    cfg->vlog_gc_interval = o.vlog_gc_interval_s;
    cfg->slowlog_log_slower_than = 10000;
    cfg->busy_reply_threshold = 5000;
    cfg->lua_memory_limit = 256ull * 1024 * 1024;
    cfg->slowlog_max_len = 128;
    cfg->hz = 10;
    snprintf(cfg->maxmemory_policy, sizeof cfg->maxmemory_policy, "noeviction");
    cfg->maxmemory_samples = 5;
    cfg->lfu_log_factor = 10;
    cfg->lfu_decay_time = 1;
    cfg->latency_tracking = true;
    snprintf(cfg->latency_tracking_info_percentiles,
             sizeof cfg->latency_tracking_info_percentiles, "50 99 99.9");
    cfg->databases = 16;
    snprintf(cfg->loglevel, sizeof cfg->loglevel, "notice");
    cfg->hash_max_listpack_entries = 512; /* Redis 7.0.15's defaults */
    cfg->hash_max_listpack_value = 64;
    cfg->list_max_listpack_size = -2;
    cfg->set_max_intset_entries = 512;
    cfg->zset_max_listpack_entries = 128;
    cfg->zset_max_listpack_value = 64;
    cfg->hll_sparse_max_bytes = 3000;
    cfg->stream_node_max_bytes = 4096;
    cfg->stream_node_max_entries = 100;
}

void config_engine_options(const server_config *cfg, shale_options *o)
{
    o->sync_writes = 0;      /* the server syncs once per loop round instead (group commit) */
    o->manual_wal_flush = 1; /* and writes the round's WAL records with one write */
    o->sync_interval_ms = cfg->sync_writes ? 0 : (uint32_t)cfg->sync_interval_ms;
    o->write_stall_timeout_ms = (uint32_t)cfg->write_stall_timeout_ms;
    o->memtable_size = cfg->memtable_size;
    o->max_open_files = (int)cfg->max_open_files;
    o->block_cache_size = cfg->block_cache_size;
    o->delayed_write_rate = cfg->delayed_write_rate;
    o->compaction_rate_limit = cfg->compaction_rate_limit;
    o->l0_compaction_trigger = (int)cfg->l0_compaction_trigger;
    o->l0_slowdown_trigger = (int)cfg->l0_slowdown_trigger;
    o->l0_stop_trigger = (int)cfg->l0_stop_trigger;
    o->tombstone_compaction_ratio = (int)cfg->tombstone_compaction_ratio;
    o->tombstone_compaction_min_entries = (uint64_t)cfg->tombstone_compaction_min_entries;
    o->iter_skip_compaction_trigger = (uint64_t)cfg->iter_skip_compaction_trigger;
    o->num_compactors = (int)cfg->num_compactors;
    o->value_threshold = (size_t)cfg->value_threshold;
    o->vlog_file_size = cfg->vlog_file_size;
    o->vlog_gc_interval_s = (uint32_t)cfg->vlog_gc_interval;
    o->compaction_style = strcmp(cfg->compaction_style, "tiered") == 0 ? SHALE_COMPACTION_TIERED
                          : strcmp(cfg->compaction_style, "fifo") == 0 ? SHALE_COMPACTION_FIFO
                                                                         : SHALE_COMPACTION_LEVELED;
}

void config_fifo_options(const server_config *cfg, shale_options *o)
{
    config_engine_options(cfg, o);
    /* a cache database's own memory: small next to the main engine's */
    if (o->memtable_size > FIFO_MEMTABLE)
        o->memtable_size = FIFO_MEMTABLE;
    o->block_cache_size = FIFO_BLOCK_CACHE;
    o->vlog_gc_interval_s = 0; /* its log holds no value past a flush */
}

/* Clients RLIMIT_NOFILE leaves room for, next to cfg's table handles and the reserve,
   after raising its soft limit towards what maxclients needs (never lowering it). *limit:
   the soft limit then (LLONG_MAX: none). */
static long long fd_room(const server_config *cfg, long long maxclients, long long *limit)
{
    struct rlimit rl;
    *limit = LLONG_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return maxclients; /* cannot tell: as if it fit, as Redis does */
    rlim_t want = (rlim_t)(maxclients + cfg->max_open_files + CONFIG_RESERVED_FDS);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit raised = {rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want
                                                                                  : rl.rlim_max,
                                rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl.rlim_cur = raised.rlim_cur;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return maxclients;
    *limit = (long long)rl.rlim_cur;
    return *limit - cfg->max_open_files - CONFIG_RESERVED_FDS;
}

int config_fit_fd_limit(server_config *cfg, char *msg, size_t msglen)
{
    long long limit;
    if (fd_room(cfg, cfg->maxclients, &limit) >= cfg->maxclients)
        return 0;
    long long avail = limit - CONFIG_RESERVED_FDS;
    long long tables = cfg->max_open_files;
    if (tables > avail / 2) /* clients keep at least the other half */
        tables = avail / 2 < 16 ? 16 : avail / 2;
    long long clients = avail - tables < cfg->maxclients ? avail - tables : cfg->maxclients;
    if (clients < 1) {
        snprintf(msg, msglen,
                 "the open file limit (ulimit -n) of %lld is not enough: shale-server needs at "
                 "least %d (%d for itself, 16 for tables, 1 client)",
                 limit, CONFIG_RESERVED_FDS + 17, CONFIG_RESERVED_FDS);
        return -1;
    }
    snprintf(msg, msglen,
             "maxclients %lld and max-open-files %lld need %lld file descriptors with the %d "
             "the server keeps, but the open file limit is %lld and its hard limit allows no "
             "more: maxclients is now %lld and max-open-files %lld (raise 'ulimit -n' for more)",
             cfg->maxclients, cfg->max_open_files,
             cfg->maxclients + cfg->max_open_files + CONFIG_RESERVED_FDS, CONFIG_RESERVED_FDS,
             limit, clients, tables);
    cfg->maxclients = clients;
    cfg->max_open_files = tables;
    return 1;
}

/* Redis's memtoll: "1gb", "100mb", "4k", plain bytes. */
int config_parse_memory(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*v == '-')
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v)
        return -1;
    static const struct {
        const char *suffix;
        uint64_t mul;
    } units[] = {{"", 1},          {"b", 1},          {"k", 1000},       {"kb", 1024},
                 {"m", 1000000},   {"mb", 1 << 20},   {"g", 1000000000}, {"gb", 1 << 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(end, units[i].suffix) == 0) {
            *out = n * units[i].mul;
            return 0;
        }
    return -1;
}

static const option *find(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcasecmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

/* Splits v in place at each space (Redis's sdssplitlen: "" has no words, "a  b" three).
   The number of words, *out malloc'ed; -1 without memory. */
static int split_spaces(char *v, char ***out)
{
    *out = NULL;
    if (!*v)
        return 0;
    int n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ' ';
    char **w = malloc((size_t)n * sizeof *w);
    if (!w)
        return -1;
    int i = 0;
    w[i++] = v;
    for (char *p = v; *p; p++)
        if (*p == ' ') {
            *p = '\0';
            w[i++] = p + 1;
        }
    *out = w;
    return n;
}

/* client-output-buffer-limit: "class hard soft seconds" groups; normal's and pubsub's are
   applied (net_uring.c), replica's accepted until shale replicates. */
static int assign_outbuf(server_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (argc % 4) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    for (int i = 0; i < argc; i += 4) {
        uint64_t hard, soft;
        long long secs;
        if (config_parse_memory(argv[i + 1], &hard) || config_parse_memory(argv[i + 2], &soft) ||
            !parse_ll(argv[i + 3], strlen(argv[i + 3]), &secs) || secs < 0) {
            snprintf(err, errlen, "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            return -1;
        }
        if (strcasecmp(argv[i], "normal") == 0) {
            cfg->output_hard_limit = hard;
            cfg->output_soft_limit = soft;
            cfg->output_soft_seconds = secs;
        } else if (strcasecmp(argv[i], "pubsub") == 0) {
            cfg->pubsub_hard_limit = hard;
            cfg->pubsub_soft_limit = soft;
            cfg->pubsub_soft_seconds = secs;
        } else if (strcasecmp(argv[i], "replica") && strcasecmp(argv[i], "slave")) {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
    }
    return 0;
}

/* Redis's save: "seconds changes" pairs, seconds at least 1 and changes at least 0 ("" is
   none), split at each space. */
static bool valid_save(const char *list)
{
    char copy[1024], **w;
    if (strlen(list) >= sizeof copy)
        return false;
    snprintf(copy, sizeof copy, "%s", list);
    int n = split_spaces(copy, &w);
    bool ok = n >= 0 && n % 2 == 0;
    for (int i = 0; ok && i < n; i++) {
        long long v;
        ok = parse_ll(w[i], strlen(w[i]), &v) && v >= (i % 2 ? 0 : 1);
    }
    free(w);
    return ok;
}

/* A memory or percent value as Redis parses one: bytes first (read as a signed number,
   so that past LLONG_MAX it turns negative and is checked as a percentage, as in Redis),
   else "N%" kept as -N. 0, or -1 with Redis's reason. */
static int assign_mem_percent(const option *o, const char *v, long long *field, char *err,
                              size_t errlen)
{
    uint64_t bytes;
    long long n, len = (long long)strlen(v);
    if (config_parse_memory(v, &bytes) == 0) {
        n = (long long)bytes;
    } else if (len > 1 && v[len - 1] == '%' && parse_ll(v, (size_t)len - 1, &n) && n >= 0) {
        n = -n;
    } else {
        snprintf(err, errlen, "argument must be a memory or percent value");
        return -1;
    }
    if (n < o->min) {
        snprintf(err, errlen, "percentage argument must be less or equal to %lld", -o->min);
        return -1;
    }
    *field = n;
    return 0;
}

/* Parses value into the option's field. 0, or -1 with a reason. */
static int assign_replicaof(server_config *cfg, int argc, char **argv, char *err, size_t errlen);

static int assign(server_config *cfg, const option *o, int argc, char **argv, char *err,
                  size_t errlen)
{
    char *field = (char *)cfg + o->off;
    if (o->type == T_OUTBUF) {
        if (argc != 1) /* a file's or the command line's words */
            return assign_outbuf(cfg, argc, argv, err, errlen);
        /* CONFIG SET's one string: split on each space as Redis does ("" sets nothing;
           "  " is three empty words) */
        char **words;
        int n = split_spaces(argv[0], &words);
        if (n < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        int rc = assign_outbuf(cfg, n, words, err, errlen);
        free(words);
        return rc;
    }
    /* "save 900 1 300 10" (or ""), "bind 127.0.0.1 -::1": several words, kept joined */
    bool percentiles = strcmp(o->name, "latency-tracking-info-percentiles") == 0;
    bool words = o->type == T_STR && (strcmp(o->name, "save") == 0 || percentiles ||
                                      strcmp(o->name, "bind") == 0 ||
                                      strcmp(o->name, "metrics-bind") == 0);
    if (words) {
        char joined[1024] = "";
        for (int i = 0; i < argc; i++) {
            size_t used = strlen(joined);
            if (used + 1 + strlen(argv[i]) >= (o->size < sizeof joined ? o->size : sizeof joined)) {
                snprintf(err, errlen, "argument is too long");
                return -1;
            }
            snprintf(joined + used, sizeof joined - used, "%s%s", i ? " " : "", argv[i]);
        }
        if (percentiles && !valid_percentiles(joined)) {
            snprintf(err, errlen, "latency-tracking-info-percentiles takes numbers from 0 to 100");
            return -1;
        }
        if (strcmp(o->name, "save") == 0 && !valid_save(joined)) {
            snprintf(err, errlen, "Invalid save parameters");
            return -1;
        }
        /* kept as words between single spaces: what CONFIG REWRITE writes reads back equal */
        char *save = NULL, *w = strtok_r(joined, " ", &save);
        field[0] = '\0';
        for (size_t used = 0; w; w = strtok_r(NULL, " ", &save))
            used += (size_t)snprintf(field + used, o->size - used, "%s%s", used ? " " : "", w);
        return 0;
    }
    if (argc != 1) {
        snprintf(err, errlen, "wrong number of arguments");
        return -1;
    }
    const char *v = argv[0];
    switch (o->type) {
    case T_BOOL:
        if (strcasecmp(v, "yes") && strcasecmp(v, "no")) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        if (field == (char *)&cfg->replica_read_only && strcasecmp(v, "no") == 0) {
            snprintf(err, errlen, "shale's replicas are always read-only: a write on a replica "
                                  "would take a sequence number its primary's records need "
                                  "(docs/server.md, Replication)");
            return -1;
        }
        *(bool *)field = strcasecmp(v, "yes") == 0;
        return 0;
    case T_INT: {
        long long n;
        char *end;
        errno = 0;
        n = strtoll(v, &end, strcmp(o->name, "unixsocketperm") == 0 ? 8 : 10);
        if (errno || end == v || *end) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (n < o->min || n > o->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", o->min, o->max);
            return -1;
        }
        *(long long *)field = n;
        return 0;
    }
    case T_MEM: {
        uint64_t n;
        if (config_parse_memory(v, &n)) {
            snprintf(err, errlen, "argument must be a memory value");
            return -1;
        }
        if (n < (uint64_t)o->min || n > (uint64_t)o->max) { /* Redis's words */
            snprintf(err, errlen, "argument must be between %llu and %llu inclusive",
                     (unsigned long long)o->min, (unsigned long long)o->max);
            return -1;
        }
        *(uint64_t *)field = n;
        return 0;
    }
    case T_MEMPCT:
        return assign_mem_percent(o, v, (long long *)field, err, errlen);
    case T_NOTIFY: {
        int flags = notify_parse_classes(v);
        if (flags < 0) {
            snprintf(err, errlen, "%s", NOTIFY_CLASS_ERROR);
            return -1;
        }
        *(int *)field = flags;
        return 0;
    }
    case T_STR:
        if (strlen(v) >= o->size) {
            snprintf(err, errlen, "argument is too long");
            return -1;
        }
        if (strcmp(o->name, "compaction-style") == 0 && strcmp(v, "leveled") &&
            strcmp(v, "tiered") && strcmp(v, "fifo")) {
            snprintf(err, errlen, "argument must be one of leveled, tiered, fifo");
            return -1;
        }
        if (strcmp(o->name, "enable-debug-command") == 0 && strcasecmp(v, "no") &&
            strcasecmp(v, "local") && strcasecmp(v, "yes")) {
            snprintf(err, errlen, "argument must be one of no, local, yes");
            return -1;
        }
        if (strcmp(o->name, "loglevel") == 0 && strcasecmp(v, "debug") &&
            strcasecmp(v, "verbose") && strcasecmp(v, "notice") && strcasecmp(v, "warning")) {
            snprintf(err, errlen, "argument(s) must be one of the following: debug, verbose, "
                                  "notice, warning");
            return -1;
        }
        if (strcmp(o->name, "maxmemory-policy") == 0 && !valid_policy(v)) {
            snprintf(err, errlen, "argument(s) must be one of the following: volatile-lru, "
                                  "volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, "
                                  "allkeys-lfu, allkeys-random, noeviction");
            return -1;
        }
        snprintf(field, o->size, "%s", v);
        return 0;
    default:
        return -1;
    }
}

bool config_db_option(const char *name, int *dbi, bool *cap_option)
{
    int n = 0, used = 0;
    if (strncasecmp(name, "db", 2) != 0 || sscanf(name + 2, "%d%n", &n, &used) != 1 ||
        !isdigit((unsigned char)name[2]) || n < 0 || n >= 16)
        return false;
    const char *rest = name + 2 + used;
    if (strcasecmp(rest, "-compaction-style") && strcasecmp(rest, "-fifo-max-size"))
        return false;
    *dbi = n;
    *cap_option = strcasecmp(rest, "-fifo-max-size") == 0;
    return true;
}

/* A per-database directive in a file (applied to the store once it is open, main.c). */
static int set_db_option(server_config *cfg, int dbi, bool cap_option, int argc, char **argv,
                         char *err, size_t errlen)
{
    if (argc != 1) {
        snprintf(err, errlen, "wrong number of arguments");
        return -1;
    }
    if (cap_option) {
        uint64_t cap;
        /* 0: no cap, what a database that is not fifo reports (CONFIG SET of it is a no-op
           there; a fifo database refuses it, t_config.c) */
        if (config_parse_memory(argv[0], &cap) || (cap != 0 && cap < (1u << 20))) {
            snprintf(err, errlen, "argument must be a memory value of at least 1mb");
            return -1;
        }
        cfg->db_fifo_max_size[dbi] = cap;
        return 0;
    }
    if (strcasecmp(argv[0], "fifo") && strcasecmp(argv[0], "default")) {
        snprintf(err, errlen, "argument must be one of fifo, default");
        return -1;
    }
    snprintf(cfg->db_compaction_style[dbi], sizeof cfg->db_compaction_style[dbi], "%s",
             strcasecmp(argv[0], "fifo") ? "default" : "fifo");
    return 0;
}

int config_set(server_config *cfg, const char *name, int argc, char **argv, char *err,
               size_t errlen)
{
    int dbi;
    bool cap_option;
    if (config_db_option(name, &dbi, &cap_option))
        return set_db_option(cfg, dbi, cap_option, argc, argv, err, errlen);
    const option *o = find(name);
    if (!o) {
        snprintf(err, errlen, "Bad directive or wrong number of arguments");
        return -1;
    }
    if (strcmp(o->name, "replicaof") == 0 || strcmp(o->name, "slaveof") == 0)
        return assign_replicaof(cfg, argc, argv, err, errlen);

    if (strcmp(o->name, "daemonize") == 0 && argc == 1 && strcasecmp(argv[0], "yes") == 0) {
        snprintf(err, errlen, "shale-server does not daemonize; use a service manager");
        return -1;
    }
    return assign(cfg, o, argc, argv, err, errlen);
}

/* replicaof host port (a primary's address: this node replicates it), "no one" (Redis's
   word for a primary) or "" (what CONFIG REWRITE writes for a primary). */
static int assign_replicaof(server_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if ((argc == 1 && argv[0][0] == '\0') ||
        (argc == 2 && strcasecmp(argv[0], "no") == 0 && strcasecmp(argv[1], "one") == 0)) {
        cfg->replicaof[0] = '\0';
        return 0;
    }
    char *end;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || !argv[0][0] || *end || port <= 0 || port > 65535 ||
        strlen(argv[0]) > 255) {
        snprintf(err, errlen, "Invalid master port");
        return -1;
    }
    snprintf(cfg->replicaof, sizeof cfg->replicaof, "%s %ld", argv[0], port);
    return 0;
}

/*
 * One line of a config file, split as Redis's sdssplitargs splits it ("..." with escapes,
 * '...'), so that what CONFIG REWRITE quoted reads back as it was. The words are copied
 * NUL-terminated into *store (malloc'ed, free it). The number of words, or -1 with err.
 */
static int split_line(const char *line, size_t n, char ***argv, char **store, char *err,
                      size_t errlen)
{
    resp_cmd words = {0};
    const char *why;
    *argv = NULL;
    *store = NULL;
    if (resp_split_args(line, n, &words, &why)) {
        snprintf(err, errlen, "%s", strstr(why, "unbalanced") ? "Unbalanced quotes in configuration line" : why);
        resp_cmd_free(&words);
        return -1;
    }
    size_t bytes = 0;
    for (int i = 0; i < words.argc; i++)
        bytes += words.argv[i].len + 1;
    char **v = malloc(((size_t)words.argc + 1) * sizeof *v);
    char *buf = malloc(bytes + 1);
    int rc = v && buf ? words.argc : -1;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    for (int i = 0, off = 0; rc >= 0 && i < words.argc; i++) {
        const resp_arg *a = &words.argv[i];
        if (memchr(a->p, '\0', a->len)) { /* options are C strings */
            snprintf(err, errlen, "argument %d holds a NUL byte", i);
            rc = -1;
            break;
        }
        v[i] = buf + off;
        memcpy(v[i], a->p, a->len);
        v[i][a->len] = '\0';
        off += (int)a->len + 1;
    }
    resp_cmd_free(&words);
    if (rc < 0) {
        free(v);
        free(buf);
        return -1;
    }
    *argv = v;
    *store = buf;
    return rc;
}

static int load_file(server_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t i = 0;
        while (i < (size_t)n && strchr(" \t\r\n", line[i]))
            i++;
        if (i == (size_t)n || line[i] == '#')
            continue;
        char **argv, *store, why[256];
        int argc = split_line(line + i, (size_t)n - i, &argv, &store, why, sizeof why);
        if (argc < 0 ||
            (argc > 0 && config_set(cfg, argv[0], argc - 1, argv + 1, why, sizeof why))) {
            snprintf(err, errlen, "%s:%d: '%s': %s", path, lineno, argc > 0 ? argv[0] : "", why);
            rc = -1;
        }
        free(argv);
        free(store);
    }
    free(line);
    fclose(f);
    return rc;
}

int config_load(server_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int i = 1;
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        if (load_file(cfg, argv[i], err, errlen))
            return -1;
        if (!realpath(argv[i], cfg->config_file))
            snprintf(cfg->config_file, sizeof cfg->config_file, "%s", argv[i]);
        i++;
    }
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            snprintf(err, errlen, "bad argument '%s' (expected --option value)", argv[i]);
            return -1;
        }
        /* an option takes every argument up to the next "--name" */
        int n = 1;
        while (i + 1 + n < argc && strncmp(argv[i + 1 + n], "--", 2) != 0)
            n++;
        char why[256];
        if (config_set(cfg, argv[i] + 2, n, argv + i + 1, why, sizeof why)) {
            snprintf(err, errlen, "'%s %s': %s", argv[i], argv[i + 1], why);
            return -1;
        }
        i += 1 + n;
    }
    return 0;
}

/* The option's value as CONFIG GET shows it. */
static void format_value(const server_config *cfg, const option *o, char *buf, size_t cap)
{
    const char *field = (const char *)cfg + o->off;
    switch (o->type) {
    case T_BOOL:
        snprintf(buf, cap, "%s", *(const bool *)field ? "yes" : "no");
        break;
    case T_INT:
        if (strcmp(o->name, "unixsocketperm") == 0)
            snprintf(buf, cap, "%llo", *(const long long *)field);
        else
            snprintf(buf, cap, "%lld", *(const long long *)field);
        break;
    case T_MEM:
        snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case T_MEMPCT: {
        long long n = *(const long long *)field;
        if (n < 0)
            snprintf(buf, cap, "%lld%%", -n);
        else
            snprintf(buf, cap, "%lld", n);
        break;
    }
    case T_STR:
        snprintf(buf, cap, "%s", field);
        break;
    case T_NOTIFY:
        notify_format_classes(*(const int *)field, buf, cap);
        break;
    case T_OUTBUF:
        snprintf(buf, cap, "normal %llu %llu %lld slave 268435456 67108864 60 pubsub %llu %llu %lld",
                 (unsigned long long)cfg->output_hard_limit,
                 (unsigned long long)cfg->output_soft_limit, cfg->output_soft_seconds,
                 (unsigned long long)cfg->pubsub_hard_limit,
                 (unsigned long long)cfg->pubsub_soft_limit, cfg->pubsub_soft_seconds);
        break;
    }
}

void config_get(const server_config *cfg, const char *pattern, size_t plen, config_emit_fn emit,
                void *ctx)
{
    char buf[4200];
    bool glob = false;
    for (size_t i = 0; i < plen && !glob; i++)
        glob = pattern[i] == '*' || pattern[i] == '?' || pattern[i] == '[';
    if (!glob) { /* one name: found as Redis's lookupConfig finds it, hidden or not */
        char name[128];
        const option *o = NULL;
        if (plen < sizeof name && !memchr(pattern, '\0', plen)) {
            memcpy(name, pattern, plen);
            name[plen] = '\0';
            o = find(name);
        }
        if (o) {
            format_value(cfg, o, buf, sizeof buf);
            emit(ctx, o->name, name, buf);
        }
        return;
    }
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option *o = &options[i];
        if (!glob_match(pattern, plen, o->name, strlen(o->name), true))
            continue;
        format_value(cfg, o, buf, sizeof buf);
        emit(ctx, o->name, o->name, buf);
    }
}

const char *config_option_name(const server_config *cfg, const char *name, const char *value,
                               const char **refusal)
{
    const option *o = find(name);
    *refusal = NULL;
    if (!o)
        return NULL;
    if (o->flags & PROTECTED_CFG) {
        *refusal = "can't set protected config";
    } else if (o->flags & IMMUTABLE) {
        char now[4200];
        format_value(cfg, o, now, sizeof now);
        if (!(o->flags & SAME_OK) || strcmp(now, value) != 0)
            *refusal = "can't set immutable config";
    }
    return o->name;
}

int config_set_value(server_config *cfg, const char *name, const char *value, char *err,
                     size_t errlen)
{
    const option *o = find(name);
    if (!o) {
        snprintf(err, errlen, "Unknown option");
        return -1;
    }
    char *argv[1] = {(char *)value};
    if (assign(cfg, o, 1, argv, err, errlen))
        return -1;
    /* Redis's apply step raises a live backlog to its 16k floor (a file's value stays) */
    if (strcmp(o->name, "repl-backlog-size") == 0 && cfg->repl_backlog_size < REPL_BACKLOG_MIN)
        cfg->repl_backlog_size = REPL_BACKLOG_MIN;
    return 0;
}

int config_check(const server_config *cfg, char *err, size_t errlen)
{
    if (cfg->l0_slowdown_trigger < cfg->l0_compaction_trigger) {
        snprintf(err, errlen, "l0-slowdown-trigger must be at least l0-compaction-trigger");
        return -1;
    }
    if (cfg->l0_stop_trigger < cfg->l0_slowdown_trigger) {
        snprintf(err, errlen, "l0-stop-trigger must be at least l0-slowdown-trigger");
        return -1;
    }
    long long limit;
    long long room = fd_room(cfg, cfg->maxclients, &limit);
    if (room < cfg->maxclients) { /* Redis's words */
        snprintf(err, errlen,
                 "The operating system is not able to handle the specified number of clients, "
                 "try with %lld",
                 room > 0 ? room : 0);
        return -1;
    }
    return 0;
}

int config_apply_engine(const server_config *cfg, shale_db *db, const char *name, char *err,
                        size_t errlen)
{
    const option *o = find(name);
    if (o && o->engine) {
        char buf[64];
        format_value(cfg, o, buf, sizeof buf);
        int rc = shale_set_option(db, o->engine, buf);
        if (rc) {
            snprintf(err, errlen, "the engine refused it: %s", shale_strerror(rc));
            return -1;
        }
    }
    if (o && strcmp(o->name, "sync-writes") == 0) { /* no: the engine syncs in the background */
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", cfg->sync_writes ? 0 : cfg->sync_interval_ms);
        shale_set_option(db, "sync_interval_ms", buf);
    }
    return 0;
}

/* Writes w bare when the loader reads it back as one word, else quoted as Redis's
   sdscatrepr quotes ("..." with \\ \" \n \r \t \a \b and \xHH for other bytes that are
   not printable ASCII): no value can end its line early and become a directive. */
static void write_word(FILE *f, const char *w)
{
    bool bare = *w != '\0';
    for (const unsigned char *p = (const unsigned char *)w; *p && bare; p++)
        bare = *p > ' ' && *p < 127 && *p != '"' && *p != '\'' && *p != '\\';
    if (bare) {
        fputs(w, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)w; *p; p++) {
        switch (*p) {
        case '\\': fputs("\\\\", f); break;
        case '"': fputs("\\\"", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\a': fputs("\\a", f); break;
        case '\b': fputs("\\b", f); break;
        default:
            if (*p >= ' ' && *p < 127)
                fputc(*p, f);
            else
                fprintf(f, "\\x%02x", *p);
        }
    }
    fputc('"', f);
}

/* "name value": a list (save, bind, ...) word by word, as its loader splits it. */
static void write_option(FILE *f, const server_config *cfg, const option *o)
{
    char buf[4200];
    format_value(cfg, o, buf, sizeof buf);
    bool list = o->type == T_OUTBUF || strcmp(o->name, "save") == 0 ||
                strcmp(o->name, "bind") == 0 || strcmp(o->name, "metrics-bind") == 0 ||
                strcmp(o->name, "replicaof") == 0 ||
                strcmp(o->name, "latency-tracking-info-percentiles") == 0;
    fputs(o->name, f);
    char *save = NULL, *w = list ? strtok_r(buf, " ", &save) : NULL;
    if (!list || !w) { /* one value; an empty list is "" */
        fputc(' ', f);
        write_word(f, list ? "" : buf);
    }
    for (; w; w = strtok_r(NULL, " ", &save)) {
        fputc(' ', f);
        write_word(f, w);
    }
    fputc('\n', f);
}

int config_rewrite(const server_config *cfg)
{
    if (!cfg->config_file[0])
        return -ENOENT;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->config_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "# Written by shale-server CONFIG REWRITE; see shale.conf.example for each option.\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        if (!(options[i].flags & ALIAS))
            write_option(f, cfg, &options[i]);
    for (int i = 0; i < 16; i++) { /* per database, as CONFIG SET left them */
        if (cfg->db_compaction_style[i][0])
            fprintf(f, "db%d-compaction-style %s\n", i, cfg->db_compaction_style[i]);
        if (cfg->db_fifo_max_size[i])
            fprintf(f, "db%d-fifo-max-size %llu\n", i,
                    (unsigned long long)cfg->db_fifo_max_size[i]);
    }
    int rc = fflush(f) || fsync(fileno(f)) ? -errno : 0;
    if (fclose(f) && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, cfg->config_file))
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

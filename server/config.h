/*
 * config.h - server options with Redis's names (and shale's engine knobs), read from a
 * redis.conf-style file and "--name value" arguments, shown and changed by CONFIG
 * GET/SET/REWRITE. One table in config.c describes every option; shale.conf.example
 * documents them.
 */
#ifndef SHALE_CONFIG_H
#define SHALE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shale.h"

typedef struct server_config {
    /* network */
    char bind[256];
    long long port;
    long long metrics_port; /* Prometheus endpoint (plain HTTP); 0: off */
    char metrics_bind[256]; /* its addresses: 127.0.0.1 unless told (no AUTH on it) */
    char unixsocket[256];
    long long unixsocketperm;
    bool protected_mode;
    char requirepass[256];
    long long maxclients;
    long long max_open_files; /* the engine's table handles (shale_options.max_open_files) */
    long long timeout; /* seconds idle before a client is closed; 0 = never */
    long long tcp_keepalive;
    long long io_threads;
    char enable_debug_command[8]; /* no, local (loopback and unix socket) or yes */
    uint64_t proto_max_bulk_len;
    uint64_t client_query_buffer_limit; /* net_uring.c closes a client past it */
    /* Redis's client eviction cap: bytes, or a percentage of maxmemory stored negated
       (-50: 50%), as Redis keeps it. Accepted and reported: shale evicts no client */
    long long maxmemory_clients;
    uint64_t output_hard_limit, output_soft_limit; /* client-output-buffer-limit normal */
    long long output_soft_seconds;
    uint64_t pubsub_hard_limit, pubsub_soft_limit; /* client-output-buffer-limit pubsub */
    long long tracking_table_max_keys; /* client tracking's table of keys (0: no limit) */
    long long pubsub_soft_seconds;
    /* replication (repl/) */
    uint64_t repl_backlog_size;
    long long repl_timeout; /* seconds of silence that drop a link (Redis's repl-timeout) */
    long long min_replicas_to_write; /* writes refused below this many good replicas */
    long long min_replicas_max_lag;  /* seconds since its last ack for a replica to be good */
    char replicaof[300]; /* "host port" of its primary; "": a primary */
    long long replica_priority;   /* Sentinel's preference (0: never promoted) */
    bool replica_read_only;       /* always yes (a replica's writes would take sequences) */
    char replica_announce_ip[256]; /* told to the primary instead of the address */
    long long replica_announce_port; /* told instead of port (0: port) */
    bool replica_announced;        /* shown to Sentinel */
    char masterauth[512], masteruser[256]; /* AUTH on the link to the primary */
    /* durability and the engine */
    char dir[4096];
    char backup_dir[4096]; /* BGSAVE's checkpoint; "": <dir>.backup (backup.c) */
    bool sync_writes;
    bool commit_pipeline; /* sync-writes yes: sync on the commit thread while the loops
                             run on (commit.c), instead of on the loop at each round */
    long long sync_interval_ms;
    long long write_stall_timeout_ms;
    uint64_t memtable_size, block_cache_size, delayed_write_rate, compaction_rate_limit;
    long long l0_compaction_trigger, l0_slowdown_trigger, l0_stop_trigger;
    /* the engine's tombstone-density triggers (shale_options) */
    long long tombstone_compaction_ratio, tombstone_compaction_min_entries;
    long long iter_skip_compaction_trigger;
    char compaction_style[16];
    long long num_compactors;
    uint64_t value_threshold, vlog_file_size; /* the value log */
    long long vlog_gc_interval;               /* seconds; 0: no background GC */
    /* caps (evict.c) */
    uint64_t maxmemory;          /* bytes counted as Redis's used_memory; 0: no cap */
    uint64_t maxdisk;            /* bytes of tables and value log; 0: no cap */
    char maxmemory_policy[24];   /* noeviction, allkeys-lru, volatile-ttl, ... */
    int notify_keyspace_events;  /* keyspace notifications' classes (notify.h NOTIFY_*) */
    long long maxmemory_samples; /* keys sampled per eviction, as Redis */
    long long lfu_log_factor, lfu_decay_time;
    /* diagnostics */
    long long slowlog_log_slower_than; /* microseconds; < 0 disables */
    long long busy_reply_threshold;    /* ms a script runs before it counts as busy (0: never) */
    uint64_t lua_memory_limit;         /* bytes a script may grow the Lua heap to (0: no cap) */
    long long slowlog_max_len;
    long long latency_monitor_threshold;
    bool latency_tracking;                     /* per-command latency histograms */
    char latency_tracking_info_percentiles[128]; /* "50 99 99.9": INFO latencystats */
    long long hz;
    long long databases;
    char loglevel[16], logfile[1024], save[128];
    bool appendonly, daemonize;
    char config_file[4096]; /* the file read at start-up ("" when none) */
    /* db<N>-compaction-style and db<N>-fifo-max-size as the file gives them ("" and 0: not
       given); the live values belong to the store (t_config.c) */
    char db_compaction_style[16][8];
    uint64_t db_fifo_max_size[16];
    /* Redis's encoding thresholds: reported, and OBJECT ENCODING answers by them; shale's
       layout does not depend on them */
    long long hash_max_listpack_entries, list_max_listpack_size, list_compress_depth;
    long long set_max_intset_entries, zset_max_listpack_entries, stream_node_max_entries;
    uint64_t hash_max_listpack_value, zset_max_listpack_value;
    uint64_t hll_sparse_max_bytes, stream_node_max_bytes;
} server_config;

void config_default(server_config *cfg);
/* Applies one directive (name and its arguments) before the server runs. 0, or -1 with a
   message in err. */
int config_set(server_config *cfg, const char *name, int argc, char **argv, char *err,
               size_t errlen);
/* Redis's memory values: "1gb", "100mb", "4k", plain bytes. 0 or -1. */
int config_parse_memory(const char *v, uint64_t *out);
/* Parses "db<N>-compaction-style" / "db<N>-fifo-max-size": *dbi and *cap_option.
   False for any other name. */
bool config_db_option(const char *name, int *dbi, bool *cap_option);
/* Reads a config file, then "--name value..." arguments (argv[0] is the program). */
int config_load(server_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* Descriptors the server needs besides clients and table handles: listeners, rings, logs,
   the manifest, value-log segments, a spare one per loop (Redis keeps 32). */
#define CONFIG_RESERVED_FDS 32
/* Makes room under RLIMIT_NOFILE for maxclients + max-open-files + CONFIG_RESERVED_FDS
   descriptors, as Redis's adjustOpenFilesLimit: raises the soft limit up to the hard one;
   when that is not enough, lowers maxclients (and max-open-files, to half of what is left
   at most). 0: it fits; 1: values lowered (msg says how); -1: the limit is too small to
   start (msg says why). At start-up, before the engine opens. */
int config_fit_fd_limit(server_config *cfg, char *msg, size_t msglen);
/* Fills the engine options from the configuration. */
void config_engine_options(const server_config *cfg, shale_options *o);
/* The options of a fifo database's engine (keyspace.h; style and cap are set per
   database): the main engine's, with a memtable of at most FIFO_MEMTABLE and a block cache
   of FIFO_BLOCK_CACHE. */
#define FIFO_MEMTABLE (8u << 20)
#define FIFO_BLOCK_CACHE (4u << 20)
void config_fifo_options(const server_config *cfg, shale_options *o);

/* CONFIG GET, as Redis 7: a pattern with a glob character ('*', '?', '[') calls emit for
   every option whose name matches it; a plain name calls it for the option of that name
   (any case), shown as the client spelled it. id is the
   option's own name (one pointer per option, to tell repeats apart), shown the name to
   reply with. */
typedef void (*config_emit_fn)(void *ctx, const char *id, const char *shown, const char *value);
void config_get(const server_config *cfg, const char *pattern, size_t plen, config_emit_fn emit,
                void *ctx);
/*
 * CONFIG SET on a running server, in steps so that several options are set all or
 * nothing (t_config.c): config_option_name tells whether the name exists (and its own
 * spelling, to find an option given twice: an alias is an option of its own, as in
 * Redis) and, in *refusal, why it may not be set to value (NULL: it may); config_set_value
 * checks a value and writes it into a copy of the configuration; config_check checks
 * what no single value shows; config_apply_engine gives the engine one option's value
 * from a configuration (nothing when the option is not the engine's).
 */
const char *config_option_name(const server_config *cfg, const char *name, const char *value,
                               const char **refusal);
int config_set_value(server_config *cfg, const char *name, const char *value, char *err,
                     size_t errlen);
int config_check(const server_config *cfg, char *err, size_t errlen);
int config_apply_engine(const server_config *cfg, shale_db *db, const char *name, char *err,
                        size_t errlen);
/* CONFIG REWRITE: writes every option to cfg->config_file (atomically). 0 or -errno. */
int config_rewrite(const server_config *cfg);

#endif

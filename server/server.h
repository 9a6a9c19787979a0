/*
 * server.h - what the server's files share: the server state, a client connection, and
 * the command handler signature. The event loop is in net_uring.c, the command table in
 * command.c, commands in t_*.c, the Redis-type encoding in keyspace.c.
 */
#ifndef SHALE_SERVER_H
#define SHALE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "cmdstats.h"
#include "config.h"
#include "cursor.h"
#include "keyspace.h"
#include "latency_monitor.h"
#include "migrate_cache.h"
#include "resp.h"
#include "shale.h"
#include "slowlog.h"

#define WRONGTYPE_ERR "WRONGTYPE Operation against a key holding the wrong kind of value"
/* The Redis version clients are told (HELLO, INFO): the command set of 7.0. */
#define SHALE_REDIS_COMPAT_VERSION "7.0.0"

struct io_loop;

typedef struct client {
    int fd;
    uint64_t id;
    struct io_loop *loop; /* the I/O thread that owns the connection */
    char *in;
    size_t in_len, in_cap, in_off; /* bytes received / allocated / parsed */
    size_t cmd_qbuf; /* while a command runs: its bytes and those received after it */
    resp_cmd cmd;
    resp_out out;       /* replies accumulate here */
    resp_out sending;   /* replies handed to a send (the kernel may still read them) */
    size_t sending_off; /* bytes of sending whose send completed (atomic: c's loop adds
                           to it outside the lock, CLIENT LIST on another loop reads it) */
    size_t round_out; /* where this round's replies start in out */
    uint64_t soft_limit_since_ms; /* over the soft output limit since (0: not over) */
    int proto;          /* 2 or 3 (HELLO) */
    int db;             /* SELECTed database, 0..15 */
    bool authenticated;
    bool unix_socket;
    char name[128];
    char addr[64], laddr[64];
    uint64_t created_ms, last_ms;
    const char *last_cmd; /* the command table's name of the last command, or NULL */
    const char *stall_cause; /* "l0" or "memtable", for the -BUSY reply */
    bool recv_armed;
    bool send_armed; /* (atomic: c's loop sets and clears it outside the lock, CLIENT LIST
                        on another loop reads it) */
    bool close_after_reply; /* QUIT, a protocol error, CLIENT KILL */
    bool closed; /* (atomic: c's loop sets it outside the lock, other loops' commands read
                    it through client_closed) */
    bool killed;
    bool in_round; /* queued for this round's sends */
    bool held;     /* its round ended; its replies wait for the sync of held_gen (sync-writes
                      yes, net_uring.c hold_round); its input is kept, not run, meanwhile */
    bool http;     /* a metrics-port connection (metrics.c), not a Redis client */
    bool no_touch; /* the running command does not count as a use of its keys */
    /* CLIENT REPLY: OFF drops every reply; SKIP drops the next command's (skip_next is
       set by SKIP, skip while that next command runs) */
    bool reply_off, reply_skip_next, reply_skip;
    bool in_script; /* the scripting client: redis.call's commands never block (as in EXEC) */
    bool error_counted; /* the running command's error reply was counted in errorstats
                           already (a script's error raised by a command it called) */
    bool no_evict; /* CLIENT NO-EVICT ON (shown in CLIENT LIST; shale evicts no client) */
    uint32_t redacted; /* the running command's arguments the slowlog must not show
                          (bit i: argv[i]; AUTH's password, CONFIG SET requirepass's value) */
    struct blocked *blocked;    /* waiting on keys (blocking.h), else NULL */
    struct multi_client *mx;    /* MULTI and WATCH state (multi/multi.h), or NULL */
    bool resume_queued;         /* in its loop's list of unblocked clients */
    struct client *resume_next; /* that list (net_resume) */
    struct ps_client *pubsub;   /* its subscriptions and inbox (pubsub.h), or NULL */
    struct tr_client *tracking; /* CLIENT TRACKING state (tracking.h), or NULL */
    struct client *round_next;
    uint64_t held_gen;          /* the writes its held replies depend on */
    struct client *held_next;   /* the loop's held clients, oldest first */
    struct monitor *monitor;    /* MONITOR: its pending lines (monitor.h), else NULL */
    bool paused;                /* its next command waits for CLIENT PAUSE's end (pause.h) */
    struct client *paused_next; /* the held clients, oldest first */
    struct client *all_prev, *all_next; /* the server's client list */
    uint64_t woff;               /* the main engine's last sequence after its last write (WAIT) */
    struct repl_link *repl_link; /* what it said with REPLCONF (repl/repl_primary.h), or NULL */
    bool handoff; /* its PSYNC decided: its loop hands the connection to the replication
                     module (repl_primary_adopt) and frees the client */
} client;

typedef struct server_stats {
    uint64_t connections_received, rejected_connections, commands_processed;
    uint64_t keyspace_hits, keyspace_misses;
    uint64_t stall_rejections_l0, stall_rejections_memtable;
    uint64_t sync_failures;
    uint64_t net_input_bytes, net_output_bytes;
    uint64_t metrics_scrapes; /* requests on metrics-port */
} server_stats;

/* maxmemory / maxdisk figures as of the last caps_refresh (evict.c) */
typedef struct caps_state {
    uint64_t used_memory, peak_memory, used_disk;
    bool over_memory, over_disk;
    uint64_t cache_applied, memtable_applied, vlog_file_applied; /* engine sizes as set */
    uint64_t pending_disk, pending_memory; /* booked by evictions, not yet freed */
    uint64_t last_disk, last_memory;       /* figures at the previous refresh */
    uint64_t releasable_memory;            /* memory evicting keys can give back */
    uint64_t rnd;
    pthread_t reclaim_thread; /* compaction + value-log GC after many evictions */
    bool reclaim_running, reclaim_done;
    uint64_t reclaim_disk_target; /* the running reclaim's GC stops at this disk use */
    uint64_t reclaim_end_ms;
    uint64_t oom_logged_ms; /* the last -OOM under an evicting policy was logged then */
    uint64_t round_evict_ns;  /* eviction time in the event loop's current round (atomic:
                                 the loop resets it after each round, see caps_admit) */
    bool evict_to_cap; /* CONFIG SET put maxmemory under the memory in use: server_cron
                          evicts until under it or nothing is left (caps_maxmemory_set) */
} caps_state;

/* BGSAVE: one background flush at a time, joined before the store closes */
typedef struct bgsave_state {
    pthread_t thread;
    bool started; /* thread is joinable */
    int running;  /* atomic: the thread has not finished */
    /* for INFO persistence (atomics): Redis 7.0's rdb_* fields */
    uint64_t started_s;     /* when the running one began */
    int64_t last_time_sec;  /* the last one's duration, -1: none yet */
    int last_ok;            /* the last one succeeded (1 before any) */
    uint64_t saves;         /* successful saves (rdb_saves) */
    uint64_t seq_at_save;   /* engine writes counted at the last save */
} bgsave_state;

/* The options the io loops read outside the lock (net_uring.c: the output limits,
   checked as a round's replies go out; sync-writes, at a round's end). s->cfg is read
   and written under the lock only, as CONFIG SET assigns it whole; net_config_publish
   then copies these with atomic stores, and the loops read them with atomic loads. */
typedef struct loop_config {
    uint64_t output_hard_limit, output_soft_limit, pubsub_hard_limit, pubsub_soft_limit;
    long long output_soft_seconds, pubsub_soft_seconds;
    bool sync_writes;
} loop_config;

typedef struct server {
    server_config cfg;
    loop_config loop_cfg; /* what of cfg the loops read outside the lock (atomic) */
    shale_db *db;
    keyspace ks;
    cursor_table cursors;
    pthread_mutex_t lock; /* commands run under it, one at a time, as in Redis */
    uint64_t wgen;        /* writes so far (atomic) */
    uint64_t flushed_gen; /* of which the WAL records were handed to the kernel */
    uint64_t synced_gen;  /* of which are durable (sync-writes yes) */
    atomic_int stop; /* set by signal handlers and SHUTDOWN, read by every loop */
    bool shutdown_nosave;
    uint64_t next_client_id;
    client *clients; /* every connected client */
    client *http_clients; /* metrics-port connections (not clients) */
    long long nhttp;      /* how many */
    long long nclients;
    uint64_t start_ms, lastsave_s;
    server_stats stats;
    cmdstats cmds; /* INFO commandstats, latencystats, errorstats */
    uint64_t memtable_timeouts_seen; /* the engine's count, to tell a stall's cause */
    slowlog slowlog;
    uint64_t evicted_keys;    /* keys evicted to stay under maxmemory / maxdisk */
    caps_state caps;
    bgsave_state bgsave;
    access_table access; /* LRU/LFU of keys (access.h) */
    struct blocking *blocking; /* clients blocked on keys (blocking.h) */
    struct pubsub *pubsub;     /* channels, patterns, subscribers (pubsub.h) */
    struct monitors *monitors; /* MONITOR clients (monitor.h) */
    struct pause_state *pause; /* CLIENT PAUSE (pause.h) */
    int disk_error;           /* the engine refuses writes after this error (0: none) */
    int unsynced_error; /* sync-writes yes: a log write or sync failed, writes past
                           synced_gen may be lost, and commands that read or write data
                           are refused until they are durable (atomic; set under lock) */
    int last_write_error;     /* the last write's disk error (-ENOSPC...), 0 after a success */
    uint64_t disk_resume_ms;  /* when server_cron last tried shale_resume */
    latency_monitor latency; /* LATENCY LATEST / HISTORY events */
    uint64_t ops_window[16], ops_window_ms[16]; /* instantaneous_ops_per_sec samples */
    int ops_window_i;
    migrate_cache migrate; /* MIGRATE's connections to targets (lock held) */
    void *watches;         /* WATCH's table of watched keys (multi/watch.c) */
    struct tracking *tracking;     /* client tracking (tracking/tracking.h) */
    struct notify_pending *notify; /* keyspace events waiting for their commit (notify.h) */
    struct script_vm *script;      /* Lua scripting (script/script.h) */
    struct fn_engine *functions;   /* function libraries (script/functions.h) */
    struct repl_state *repl;       /* replication (repl/repl.h) */
} server;

/* Applies the file's db<N>-compaction-style and db<N>-fifo-max-size to the store (a style
   only to an empty database; others keep theirs, with a warning). 0 or an engine error. */
int config_apply_db_options(server *s);

/* A command handler writes its reply to c->out. */
typedef void (*command_fn)(server *s, client *c);

/* Looks up and runs the command in c->cmd (arity and auth checked first). */
void command_dispatch(server *s, client *c);
/* The command table, for statistics: its size and the name of entry i. */
size_t command_table_size(void);
const char *command_table_name(size_t i);

/* Engine errors as Redis-style error replies. */
void reply_engine_error(client *c, int rc);
/* The -MISCONF reply to a write while the disk refuses writes (err: the engine's error). */
void reply_disk_error(client *c, int err);
/* A read's engine error (EIO, corruption) as an error reply: never a nil, which would
   say the key is absent. */
void reply_read_error(client *c, int rc);
/* The -MISCONF reply while writes may not be durable (s->unsynced_error). */
void reply_unsynced_error(client *c, int err);
/* A HELP reply: the lines as an array of status strings, as Redis sends them. */
void reply_help(client *c, const char *const *lines, size_t n);
/* "ERR unknown subcommand 'x'. Try CMD HELP." for argv[1]. */
void reply_subcommand_error(client *c);
/* Ends a keyspace transaction: commits when rc == 0, else drops it; on failure replies
   the error and returns false. Marks the round as having written. */
bool ks_finish(server *s, client *c, int rc);

/* Counts a read command's lookup of a key for INFO's keyspace_hits/misses (as Redis
   counts lookups by read commands, not by writes). */
static inline void server_count_lookup(server *s, bool found)
{
    if (found)
        s->stats.keyspace_hits++;
    else
        s->stats.keyspace_misses++;
}

/* Raises a write generation (wgen, flushed_gen, synced_gen) to at least v; several
   loops may race. */
static inline void server_raise_gen(uint64_t *gen, uint64_t v)
{
    uint64_t seen = __atomic_load_n(gen, __ATOMIC_RELAXED);
    while (seen < v &&
           !__atomic_compare_exchange_n(gen, &seen, v, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
}

/* Counts a write that a reply must not overtake (see net_uring.c). */
static inline void server_wrote(server *s)
{
    __atomic_add_fetch(&s->wgen, 1, __ATOMIC_RELEASE);
}

/*
 * Reads a key's metadata in database dbi (t_keys.c). type 0 takes any type; otherwise a
 * key of another type gets WRONGTYPE. A read command passes counted: its lookup goes
 * into keyspace_hits/misses (before the type check, as Redis counts it). False when an
 * error was replied; *m is then already freed.
 */
bool read_key(server *s, client *c, int dbi, const resp_arg *key, int type, bool counted,
              ks_meta *m);

/* Records a use of a key a write just stored (LRU/LFU), for the writes that did not read
   it through read_key first (a new key, SET's blind overwrite): in Redis a stored value
   is as fresh as a read one (t_keys.c). */
void key_stored(server *s, client *c, int dbi, const resp_arg *key);

/* OBJECT ENCODING of a hash: what Redis would have made of it as it was written
   (t_hash.c). */
const char *hash_encoding_name(const server *s, const ks_meta *m);

/* SCAN-style iteration shared by SCAN and HSCAN (t_keys.c). */
typedef struct scan_args {
    uint64_t cursor;
    long long count;
    const resp_arg *match, *type;
} scan_args;
bool parse_scan_args(client *c, int first, bool allow_type, scan_args *a);
/* A cursor argument as Redis reads it (strtoul); false: "ERR invalid cursor". */
bool parse_scan_cursor(const resp_arg *a, uint64_t *out);
int scan_range(server *s, client *c, ks_range *r, uint64_t cursor, long long count,
               void (*emit)(void *ctx, const char *k, size_t kl, const char *v, size_t vl),
               void *ctx, uint64_t *next);
void reply_scan(client *c, int rc, uint64_t next, const resp_out *body, long long n);

/* The client list (net code adds and removes; CLIENT LIST/KILL read it). */
void server_client_add(server *s, client *c);
void server_client_remove(server *s, client *c);
/* One line of CLIENT LIST / CLIENT INFO for c (into buf). */
size_t client_info_line(server *s, client *c, char *buf, size_t cap);
/* Records a command in the slowlog when it took at least the threshold. */
void slowlog_maybe_add(server *s, client *c, long long micros);
/* Records a latency event's sample when it reached latency-monitor-threshold (ms). */
void latency_maybe_add(server *s, const char *event, uint64_t micros);
/* Records that the engine refuses writes after err (0: it accepts them again); write
   commands then get -MISCONF until server_cron's shale_resume succeeds. */
void server_note_disk_error(server *s, int err);
/* Waits for a BGSAVE still running (before the engine closes). */
void server_bgsave_wait(server *s);
/* Periodic work (active expiry, sweeping, stats), called by the loop about hz times/s. */
void server_cron(server *s);

/* evict.c: refreshes the used memory and disk figures, sizes the block cache and the
   memtables under maxmemory, and sets the over-cap flags (cron, lock held). */
void caps_refresh(server *s);
/* Sizes the engine's memtables and log segments for the caps before it is opened (and
   records them as applied). */
void caps_engine_options(server *s, shale_options *o);
/* Before a command that may add data (caps set): counts its bytes, and over a cap
   evicts keys by maxmemory-policy; false (with -OOM replied) when that cannot bring the
   store under the caps. */
bool caps_admit(server *s, client *c);
/* CONFIG SET changed maxmemory from old (figures refreshed): under the memory in use
   it evicts by policy at once, and server_cron goes on until the memory is under the
   cap or no key is left to evict, as Redis does. */
void caps_maxmemory_set(server *s, uint64_t old);
/* server_cron's eviction work (lock held). */
void caps_cron(server *s);
/* Waits for a background reclaim (before the engine closes). */
void caps_stop(server *s);
/* An event-loop round ended: the next one may evict for its own budget (any thread). */
static inline void caps_round_end(server *s)
{
    __atomic_store_n(&s->caps.round_evict_ns, 0, __ATOMIC_RELAXED);
}
/* Bytes (dbi, key) takes in the store: key, value, per-entry overhead; a hash's fields
   estimated from `samples` of them (0: all). m: the key's metadata (t_object.c). */
long long key_store_bytes(server *s, int dbi, const void *key, size_t klen, const ks_meta *m,
                          long long samples);

/* metrics.c: figures shared by INFO and the Prometheus endpoint */
void server_out_printf(resp_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t server_engine_prop(server *s, const char *name); /* 0 when the engine has none */
long server_rss_bytes(void);
typedef struct server_memory {
    uint64_t memtables, block_cache, table_readers, clients, tracking, scripts, total;
} server_memory;
/* What counts against maxmemory, the way Redis's used_memory counts (lock held). */
void server_memory_usage(server *s, server_memory *m);
/* The Prometheus text exposition of every figure (lock held). */
void metrics_prometheus(server *s, resp_out *o);
/* A metrics-port connection's request bytes are in c->in: once the request is whole,
   the HTTP response goes to c->out and the connection closes after it (lock held). */
void metrics_http_input(server *s, client *c);

/* Runs the event loops until s->stop. Returns 0 or -errno (io_uring unavailable...). */
int net_run(server *s);
/* Copies the options the loops read outside the lock from s->cfg into s->loop_cfg
   (atomic stores): net_run at start, CONFIG SET after it changes s->cfg (lock held). */
void net_config_publish(server *s);
/* Whether c is closing: its loop sets c->closed outside the lock, so a command on
   another loop (MONITOR's feed, a tracking redirect) reads it with an atomic load. */
static inline bool client_closed(const client *c)
{
    return __atomic_load_n(&c->closed, __ATOMIC_RELAXED);
}
/*
 * The event loops' side of blocked clients (net_uring.c), for blocking.c; lock held.
 * net_loop_index: the loop c belongs to (0 for a client of no loop). net_join_round: c's
 * replies from now on go out with its loop's current round, after the writes before them
 * are durable (call it before writing a reply outside c's own command; on c's loop).
 * net_resume: c was unblocked: the commands it sent meanwhile run once this one is done
 * (on c's loop). net_wake_loop: loop idx runs blocking_run soon (any thread).
 */
int net_loop_index(const client *c);
void net_join_round(client *c);
void net_resume(client *c);
void net_wake_loop(server *s, int idx);
/* Whether the calling thread is the event loop that owns c (true for a client of no
   loop): pub/sub writes to such a client's buffer directly (pubsub.c). */
bool net_on_own_loop(const client *c);

#define COMMAND(name) void cmd_##name(server *s, client *c)
/* connection: t_conn.c */
COMMAND(ping); COMMAND(echo); COMMAND(quit); COMMAND(select); COMMAND(hello); COMMAND(auth);
COMMAND(client); COMMAND(reset); COMMAND(monitor);
/* server: t_server.c, t_info.c, t_config.c, command.c */
COMMAND(swapdb); COMMAND(flushdb); COMMAND(flushall); COMMAND(time); COMMAND(lastsave);
COMMAND(save); COMMAND(bgsave); COMMAND(shutdown); COMMAND(function); COMMAND(wait);
COMMAND(debug); COMMAND(slowlog); COMMAND(latency); COMMAND(info); COMMAND(config);
COMMAND(command); COMMAND(dbsize); COMMAND(object); COMMAND(memory); COMMAND(lolwut);
/* cluster (disabled, as a Redis without cluster-enabled): t_cluster.c */
COMMAND(cluster);
/* replication: t_repl.c */
COMMAND(role); COMMAND(replconf); COMMAND(psync); COMMAND(replicaof); COMMAND(failover);
/* strings: t_string.c */
COMMAND(get); COMMAND(set); COMMAND(setnx); COMMAND(setex); COMMAND(psetex); COMMAND(getset);
COMMAND(getdel); COMMAND(getex); COMMAND(mget); COMMAND(mset); COMMAND(msetnx); COMMAND(incr);
COMMAND(decr); COMMAND(incrby); COMMAND(decrby); COMMAND(incrbyfloat); COMMAND(append);
COMMAND(strlen); COMMAND(getrange); COMMAND(setrange); COMMAND(lcs);
/* keys: t_keys.c */
COMMAND(del); COMMAND(exists); COMMAND(type); COMMAND(rename); COMMAND(renamenx); COMMAND(keys);
COMMAND(scan); COMMAND(randomkey); COMMAND(expire); COMMAND(pexpire); COMMAND(expireat);
COMMAND(pexpireat); COMMAND(ttl); COMMAND(pttl); COMMAND(expiretime); COMMAND(pexpiretime);
COMMAND(persist); COMMAND(copy); COMMAND(move);
/* hashes: t_hash.c */
COMMAND(hset); COMMAND(hsetnx); COMMAND(hget); COMMAND(hmget); COMMAND(hmset); COMMAND(hdel);
COMMAND(hlen); COMMAND(hexists); COMMAND(hgetall); COMMAND(hkeys); COMMAND(hvals);
COMMAND(hincrby); COMMAND(hincrbyfloat); COMMAND(hstrlen); COMMAND(hscan); COMMAND(hrandfield);
/* lists: t_list.c */
COMMAND(lpush); COMMAND(rpush); COMMAND(lpushx); COMMAND(rpushx); COMMAND(lpop); COMMAND(rpop);
COMMAND(llen); COMMAND(lrange); COMMAND(lindex); COMMAND(lset); COMMAND(linsert); COMMAND(lrem);
COMMAND(ltrim); COMMAND(lpos); COMMAND(rpoplpush); COMMAND(lmove); COMMAND(lmpop);
COMMAND(blpop); COMMAND(brpop); COMMAND(brpoplpush); COMMAND(blmove); COMMAND(blmpop);
/* sets: t_set.c */
COMMAND(sadd); COMMAND(srem); COMMAND(scard); COMMAND(sismember); COMMAND(smismember);
COMMAND(smembers); COMMAND(sinter); COMMAND(sinterstore); COMMAND(sintercard); COMMAND(sunion);
COMMAND(sunionstore); COMMAND(sdiff); COMMAND(sdiffstore); COMMAND(smove); COMMAND(spop);
COMMAND(srandmember); COMMAND(sscan);

/* sorted sets: t_zset.c, t_zset_range.c, t_zset_ops.c, t_zset_block.c; geo: t_geo.c */
COMMAND(zadd); COMMAND(zincrby); COMMAND(zrem); COMMAND(zcard); COMMAND(zscore); COMMAND(zmscore);
COMMAND(zrank); COMMAND(zrevrank); COMMAND(zrange); COMMAND(zrevrange); COMMAND(zrangebyscore);
COMMAND(zrevrangebyscore); COMMAND(zrangebylex); COMMAND(zrevrangebylex); COMMAND(zrangestore);
COMMAND(zcount); COMMAND(zlexcount); COMMAND(zremrangebyrank); COMMAND(zremrangebyscore);
COMMAND(zremrangebylex); COMMAND(zpopmin); COMMAND(zpopmax); COMMAND(zmpop); COMMAND(zunion);
COMMAND(zinter); COMMAND(zdiff); COMMAND(zintercard); COMMAND(zunionstore); COMMAND(zinterstore);
COMMAND(zdiffstore); COMMAND(zrandmember); COMMAND(zscan);
COMMAND(bzpopmin); COMMAND(bzpopmax); COMMAND(bzmpop);
COMMAND(geoadd); COMMAND(geopos); COMMAND(geodist); COMMAND(geohash); COMMAND(geosearch);
COMMAND(geosearchstore); COMMAND(georadius); COMMAND(georadius_ro); COMMAND(georadiusbymember);
COMMAND(georadiusbymember_ro);

/* pub/sub: t_pubsub.c */
COMMAND(subscribe); COMMAND(unsubscribe); COMMAND(psubscribe); COMMAND(punsubscribe);
COMMAND(publish); COMMAND(pubsub); COMMAND(ssubscribe); COMMAND(sunsubscribe); COMMAND(spublish);

/* sort: t_sort.c */
COMMAND(sort); COMMAND(sort_ro);

/* serialization: t_dump.c */
COMMAND(dump); COMMAND(restore);
/* moving keys to another server: t_migrate.c */
COMMAND(migrate);
/* transactions: t_multi.c */
COMMAND(multi); COMMAND(exec); COMMAND(discard); COMMAND(watch); COMMAND(unwatch);
/* scripting: t_script.c */
COMMAND(eval); COMMAND(evalsha); COMMAND(eval_ro); COMMAND(evalsha_ro); COMMAND(script);
COMMAND(fcall); COMMAND(fcall_ro); /* and function: t_function.c */

#undef COMMAND

#endif

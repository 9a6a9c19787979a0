/*
 * t_info.c - INFO: Redis's sections (server clients memory persistence stats
 * replication cpu keyspace) with the fields clients and dashboards read, plus a `shale`
 * section with the engine's figures (stalls, compaction, write amplification, cache hit
 * rate, per-level sizes).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "functions.h"
#include "script.h"
#include "args.h"
#include "blocking.h"
#include "pause.h"
#include "pubsub.h"
#include "repl.h"
#include "repl_replica.h"
#include "tracking.h"
#include "server.h"

#define add server_out_printf
#define prop server_engine_prop

static void section_server(server *s, resp_out *o)
{
    struct utsname u;
    uname(&u);
    uint64_t up = (ks_now_ms() - s->start_ms) / 1000;
    add(o, "# Server\r\nredis_version:%s\r\nshale_version:%s\r\nredis_mode:standalone\r\n"
           "os:%s %s %s\r\narch_bits:%d\r\nmultiplexing_api:io_uring\r\nprocess_id:%ld\r\n"
           "run_id:%s\r\ntcp_port:%lld\r\nserver_time_usec:%lld\r\nuptime_in_seconds:%llu\r\n"
           "uptime_in_days:%llu\r\nhz:%lld\r\nio_threads_active:%d\r\nexecutable:shale-server\r\n"
           "config_file:%s\r\n\r\n",
        SHALE_REDIS_COMPAT_VERSION, SHALE_VERSION_STRING, u.sysname, u.release, u.machine,
        (int)(sizeof(void *) * 8), (long)getpid(), repl_run_id(s), s->cfg.port,
        (long long)ks_now_ms() * 1000, (unsigned long long)up, (unsigned long long)up / 86400,
        s->cfg.hz, s->cfg.io_threads > 1, s->cfg.config_file);
}

/* Redis 7.0's connected_clients counts a replica's master client, not a primary's
   replicas (listLength(clients) - listLength(slaves)): shale's replicas left the client
   list already, and its link to a primary was never in it. */
static long long master_link_counted(server *s)
{
    return repl_is_replica(s) && repl_replica_link_up(s);
}

static void section_clients(server *s, resp_out *o)
{
    add(o, "# Clients\r\nconnected_clients:%lld\r\nmaxclients:%lld\r\nblocked_clients:%lld\r\n"
           "tracking_clients:%lld\r\n\r\n",
        s->nclients + master_link_counted(s), s->cfg.maxclients,
        blocking_count(s) + pause_held_count(s),
        tracking_clients(s));
}

/* Redis's bytesToHuman: 950B, 1.50K, 2.25M ... */
static const char *human(uint64_t n, char *buf, size_t cap)
{
    static const char units[] = "KMGTP";
    double v = (double)n;
    if (n < 1024) {
        snprintf(buf, cap, "%lluB", (unsigned long long)n);
        return buf;
    }
    int u = -1;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, "%.2f%c", v, units[u]);
    return buf;
}

static void section_memory(server *s, resp_out *o)
{
    server_memory m;
    server_memory_usage(s, &m);
    caps_state *k = &s->caps;
    if (m.total > k->peak_memory)
        k->peak_memory = m.total;
    long rss = server_rss_bytes();
    uint64_t tables = prop(s, "shale.total-table-bytes"), vlog = prop(s, "shale.vlog-bytes");
    char h1[32], h2[32], h3[32], h4[32], h5[32], h6[32];
    add(o, "# Memory\r\nused_memory:%llu\r\nused_memory_human:%s\r\nused_memory_rss:%ld\r\n"
           "used_memory_rss_human:%s\r\nused_memory_peak:%llu\r\nused_memory_peak_human:%s\r\n",
        (unsigned long long)m.total, human(m.total, h1, sizeof h1), rss,
        human((uint64_t)rss, h2, sizeof h2), (unsigned long long)k->peak_memory,
        human(k->peak_memory, h3, sizeof h3));
    add(o, "used_memory_memtables:%llu\r\nused_memory_block_cache:%llu\r\n"
           "used_memory_table_readers:%llu\r\nused_memory_clients:%llu\r\n"
           "block_cache_capacity:%llu\r\n",
        (unsigned long long)m.memtables, (unsigned long long)m.block_cache,
        (unsigned long long)m.table_readers, (unsigned long long)m.clients,
        (unsigned long long)prop(s, "shale.block-cache-capacity"));
    char h7[32], h8[32], h9[32];
    size_t lua = script_memory(s), bodies = script_body_bytes(s);
    size_t fvm = functions_vm_memory(s), fmem = functions_memory(s);
    add(o, "used_memory_lua:%zu\r\nused_memory_vm_eval:%zu\r\nused_memory_lua_human:%s\r\n"
           "used_memory_scripts_eval:%zu\r\nnumber_of_cached_scripts:%zu\r\n"
           "number_of_functions:%zu\r\nnumber_of_libraries:%zu\r\n"
           "used_memory_vm_functions:%zu\r\nused_memory_vm_total:%zu\r\n"
           "used_memory_vm_total_human:%s\r\nused_memory_functions:%zu\r\n"
           "used_memory_scripts:%zu\r\nused_memory_scripts_human:%s\r\n",
        lua, lua, human(lua, h7, sizeof h7), bodies, script_count(s), functions_count(s),
        functions_library_count(s), fvm, lua + fvm, human(lua + fvm, h8, sizeof h8), fmem,
        bodies + fmem, human(bodies + fmem, h9, sizeof h9));
    add(o, "maxmemory:%llu\r\nmaxmemory_human:%s\r\nmaxmemory_policy:%s\r\n"
           "mem_allocator:libc\r\n",
        (unsigned long long)s->cfg.maxmemory, human(s->cfg.maxmemory, h4, sizeof h4),
        s->cfg.maxmemory_policy);
    add(o, "used_disk:%llu\r\nused_disk_human:%s\r\nused_disk_tables:%llu\r\n"
           "used_disk_value_log:%llu\r\nmaxdisk:%llu\r\nmaxdisk_human:%s\r\n"
           "evicted_keys:%llu\r\nexpired_keys:%llu\r\n\r\n",
        (unsigned long long)(tables + vlog), human(tables + vlog, h5, sizeof h5),
        (unsigned long long)tables, (unsigned long long)vlog, (unsigned long long)s->cfg.maxdisk,
        human(s->cfg.maxdisk, h6, sizeof h6), (unsigned long long)s->evicted_keys,
        (unsigned long long)s->ks.expired_keys);
}

static void section_persistence(server *s, resp_out *o)
{
    const bgsave_state *b = &s->bgsave;
    uint64_t writes = ks_engines_writes(&s->ks), at_save = __atomic_load_n(&b->seq_at_save, __ATOMIC_RELAXED);
    int running = __atomic_load_n(&b->running, __ATOMIC_RELAXED);
    long long current = running ? (long long)((uint64_t)time(NULL) - __atomic_load_n(&b->started_s, __ATOMIC_RELAXED)) : -1;
    add(o, "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:%llu\r\n"
           "rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%llu\r\nrdb_last_bgsave_status:%s\r\n"
           "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\nrdb_saves:%llu\r\n"
           "aof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:%s\r\n"
           "shale_sync_writes:%s\r\nshale_wal_syncs:%llu\r\nshale_sync_failures:%llu\r\n"
           "shale_disk_error:%s\r\n\r\n",
        (unsigned long long)(writes > at_save ? writes - at_save : 0), running,
        (unsigned long long)__atomic_load_n(&s->lastsave_s, __ATOMIC_RELAXED),
        __atomic_load_n(&b->last_ok, __ATOMIC_RELAXED) ? "ok" : "err",
        (long long)__atomic_load_n(&b->last_time_sec, __ATOMIC_RELAXED), current,
        (unsigned long long)__atomic_load_n(&b->saves, __ATOMIC_RELAXED),
        s->disk_error || s->last_write_error ? "err" : "ok",
        s->cfg.sync_writes ? "yes" : "no", (unsigned long long)prop(s, "shale.wal-syncs"),
        (unsigned long long)s->stats.sync_failures,
        s->disk_error         ? shale_strerror(s->disk_error)
        : s->last_write_error ? shale_strerror(s->last_write_error)
                              : "");
}

static long long ops_per_sec(server *s)
{
    int i = s->ops_window_i, j = (i + 1) % 16; /* newest and oldest samples */
    if (!s->ops_window_ms[j] || s->ops_window_ms[i] <= s->ops_window_ms[j])
        return 0;
    return (long long)((s->ops_window[i] - s->ops_window[j]) * 1000 /
                       (s->ops_window_ms[i] - s->ops_window_ms[j]));
}

static void section_stats(server *s, resp_out *o)
{
    server_stats *t = &s->stats;
    add(o, "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
           "instantaneous_ops_per_sec:%lld\r\ntotal_net_input_bytes:%llu\r\n"
           "total_net_output_bytes:%llu\r\nrejected_connections:%llu\r\nexpired_keys:%llu\r\n"
           "evicted_keys:%llu\r\nkeyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n"
           "pubsub_channels:%lld\r\npubsub_patterns:%lld\r\npubsubshard_channels:%lld\r\n"
           "migrate_cached_sockets:%zu\r\ntracking_total_keys:%lld\r\n"
           "tracking_total_items:%lld\r\ntracking_total_prefixes:%lld\r\nwrite_stall_rejections:%llu\r\ntotal_error_replies:%llu\r\n\r\n",
        (unsigned long long)t->connections_received, (unsigned long long)t->commands_processed,
        ops_per_sec(s), (unsigned long long)t->net_input_bytes,
        (unsigned long long)t->net_output_bytes, (unsigned long long)t->rejected_connections,
        (unsigned long long)s->ks.expired_keys, (unsigned long long)s->evicted_keys,
        (unsigned long long)t->keyspace_hits,
        (unsigned long long)t->keyspace_misses, pubsub_count(s, PUBSUB_CHANNEL),
        pubsub_count(s, PUBSUB_PATTERN), pubsub_count(s, PUBSUB_SHARD), s->migrate.n,
        tracking_total_keys(s), tracking_total_items(s), tracking_total_prefixes(s),
        (unsigned long long)(t->stall_rejections_l0 + t->stall_rejections_memtable),
        (unsigned long long)s->cmds.error_replies);
}

static void section_replication(server *s, resp_out *o)
{
    repl_info(s, o);
}

static void section_cpu(server *s, resp_out *o)
{
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    add(o, "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n\r\n",
        (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec, (long)self.ru_utime.tv_sec,
        (long)self.ru_utime.tv_usec);
}

static void section_keyspace(server *s, resp_out *o)
{
    add(o, "# Keyspace\r\n");
    for (int i = 0; i < KS_DBS; i++)
        if (s->ks.count[i] > 0)
            add(o, "db%d:keys=%lld,expires=%lld,avg_ttl=0\r\n", i, (long long)s->ks.count[i],
                (long long)s->ks.expires[i]);
    add(o, "\r\n");
}

static void section_shale(server *s, resp_out *o)
{
    server_stats *t = &s->stats;
    uint64_t hits = prop(s, "shale.block-cache-hits"), misses = prop(s, "shale.block-cache-misses");
    add(o, "# Shale\r\nstall_count:%llu\r\nstall_micros:%llu\r\nstall_count_l0_slowdown:%llu\r\n"
           "stall_count_l0_stop:%llu\r\nstall_count_memtable:%llu\r\nstall_rejections_l0:%llu\r\n"
           "stall_rejections_memtable:%llu\r\ncompaction_count:%llu\r\n"
           "compaction_bytes_written:%llu\r\npending_compaction_bytes:%llu\r\nflush_count:%llu\r\n"
           "flush_bytes:%llu\r\nuser_bytes_written:%llu\r\nwrite_amplification:%.2f\r\n"
           "block_cache_hits:%llu\r\nblock_cache_misses:%llu\r\nblock_cache_hit_rate:%.4f\r\n"
           "wal_syncs:%llu\r\nwal_sync_micros:%llu\r\nbackground_errors:%llu\r\n"
           "dropped_expired:%llu\r\ntotal_table_bytes:%llu\r\n",
        (unsigned long long)prop(s, "shale.stall-count"),
        (unsigned long long)prop(s, "shale.stall-micros"),
        (unsigned long long)prop(s, "shale.stall-count-l0_slowdown"),
        (unsigned long long)prop(s, "shale.stall-count-l0_stop"),
        (unsigned long long)prop(s, "shale.stall-count-memtable"),
        (unsigned long long)t->stall_rejections_l0, (unsigned long long)t->stall_rejections_memtable,
        (unsigned long long)prop(s, "shale.compaction-count"),
        (unsigned long long)prop(s, "shale.compaction-bytes-written"),
        (unsigned long long)prop(s, "shale.pending-compaction-bytes"),
        (unsigned long long)prop(s, "shale.flush-count"),
        (unsigned long long)prop(s, "shale.flush-bytes"),
        (unsigned long long)prop(s, "shale.user-bytes-written"),
        prop(s, "shale.write-amplification-x1000") / 1000.0, (unsigned long long)hits,
        (unsigned long long)misses, hits + misses ? (double)hits / (double)(hits + misses) : 0.0,
        (unsigned long long)prop(s, "shale.wal-syncs"),
        (unsigned long long)prop(s, "shale.wal-sync-micros"),
        (unsigned long long)prop(s, "shale.background-errors"),
        (unsigned long long)prop(s, "shale.dropped-expired"),
        (unsigned long long)prop(s, "shale.total-table-bytes"));
    add(o, "vlog_segments:%llu\r\nvlog_bytes:%llu\r\nvlog_live_bytes:%llu\r\n"
           "vlog_gc_runs:%llu\r\nvlog_gc_rewritten_bytes:%llu\r\nvlog_gc_deleted_bytes:%llu\r\n",
        (unsigned long long)prop(s, "shale.vlog-segments"),
        (unsigned long long)prop(s, "shale.vlog-bytes"),
        (unsigned long long)prop(s, "shale.vlog-live-bytes"),
        (unsigned long long)prop(s, "shale.vlog-gc-runs"),
        (unsigned long long)prop(s, "shale.vlog-gc-rewritten-bytes"),
        (unsigned long long)prop(s, "shale.vlog-gc-deleted-bytes"));
    /* SCAN cursors whose long position was forgotten (cursor.h): they resumed earlier */
    add(o, "scan_cursors_lost:%llu\r\n", (unsigned long long)s->cursors.lost);
    for (int l = 0; l < 7; l++) {
        char n1[64], n2[64];
        snprintf(n1, sizeof n1, "shale.num-files-at-level%d", l);
        snprintf(n2, sizeof n2, "shale.bytes-at-level%d", l);
        uint64_t files = 0, bytes = 0; /* of the main engine */
        shale_property_int(s->db, n1, &files);
        shale_property_int(s->db, n2, &bytes);
        add(o, "level%d:files=%llu,bytes=%llu\r\n", l, (unsigned long long)files,
            (unsigned long long)bytes);
    }
    for (int i = 0; i < KS_DBS; i++) { /* fifo databases, each in an engine of its own */
        ks_fifo *f = ks_fifo_of(&s->ks, i);
        if (!f)
            continue;
        uint64_t files = 0, bytes = 0, dropped = 0;
        shale_property_int(f->db, "shale.num-files-at-level0", &files);
        shale_property_int(f->db, "shale.total-table-bytes", &bytes);
        shale_property_int(f->db, "shale.fifo-deleted-bytes", &dropped);
        add(o, "fifo_db%d:cap=%llu,files=%llu,bytes=%llu,dropped_bytes=%llu\r\n", i,
            (unsigned long long)f->cap, (unsigned long long)files, (unsigned long long)bytes,
            (unsigned long long)dropped);
    }
    add(o, "\r\n");
}

static void section_commandstats(server *s, resp_out *o)
{
    add(o, "# Commandstats\r\n");
    for (size_t i = 0; s->cmds.cmd && i < s->cmds.ncmd; i++) {
        const command_stats *c = &s->cmds.cmd[i];
        if (!c->calls && !c->rejected)
            continue;
        double us = (double)c->ns / 1000.0;
        add(o, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
               "failed_calls=%llu\r\n",
            command_table_name(i), (unsigned long long)c->calls, (unsigned long long)(us + 0.5),
            c->calls ? us / (double)c->calls : 0.0, (unsigned long long)c->rejected,
            (unsigned long long)c->failed);
    }
    add(o, "\r\n");
}

/* Redis's percentile labels: p50, p99.9 (a number without trailing zeros). */
static void percentile_label(double p, char *buf, size_t cap)
{
    snprintf(buf, cap, "%f", p);
    char *end = buf + strlen(buf) - 1;
    while (end > buf && *end == '0')
        *end-- = '\0';
    if (*end == '.')
        *end = '\0';
}

static void section_latencystats(server *s, resp_out *o)
{
    add(o, "# Latencystats\r\n");
    for (size_t i = 0; s->cmds.cmd && i < s->cmds.ncmd; i++) {
        const latency_hist *h = s->cmds.cmd[i].hist;
        if (!h || h->count == 0)
            continue;
        add(o, "latency_percentiles_usec_%s:", command_table_name(i));
        const char *p = s->cfg.latency_tracking_info_percentiles;
        bool first = true;
        while (*p) {
            char *end;
            double pct = strtod(p, &end);
            if (end == p)
                break;
            char label[32];
            percentile_label(pct, label, sizeof label);
            add(o, "%sp%s=%.3f", first ? "" : ",", label, latency_hist_percentile(h, pct) / 1000.0);
            first = false;
            for (p = end; *p == ' '; p++) {
            }
        }
        add(o, "\r\n");
    }
    add(o, "\r\n");
}

static void section_errorstats(server *s, resp_out *o)
{
    add(o, "# Errorstats\r\n");
    for (int i = 0; i < s->cmds.nerrors; i++)
        add(o, "errorstat_%s:count=%llu\r\n", s->cmds.errors[i].name,
            (unsigned long long)s->cmds.errors[i].count);
    add(o, "\r\n");
}

typedef struct section {
    const char *name;
    void (*fn)(server *s, resp_out *o);
    bool in_default; /* INFO and INFO default show it; all and everything show every one */
} section;

static const section sections[] = {
    {"server", section_server, true},
    {"clients", section_clients, true},
    {"memory", section_memory, true},
    {"persistence", section_persistence, true},
    {"stats", section_stats, true},
    {"replication", section_replication, true},
    {"cpu", section_cpu, true},
    {"commandstats", section_commandstats, false},
    {"errorstats", section_errorstats, false},
    {"latencystats", section_latencystats, false},
    {"keyspace", section_keyspace, true},
    {"shale", section_shale, true},
};

void cmd_info(server *s, client *c)
{
    resp_out o = {0};
    int n = sizeof sections / sizeof sections[0];
    for (int i = 0; i < n; i++) {
        bool want = c->cmd.argc == 1 && sections[i].in_default;
        for (int j = 1; j < c->cmd.argc && !want; j++)
            want = arg_is(&c->cmd.argv[j], sections[i].name) ||
                   arg_is(&c->cmd.argv[j], "all") || arg_is(&c->cmd.argv[j], "everything") ||
                   (arg_is(&c->cmd.argv[j], "default") && sections[i].in_default);
        if (want)
            sections[i].fn(s, &o);
    }
    /* Redis ends without the last section's blank line */
    if (o.len >= 2)
        o.len -= 2;
    resp_verbatim(&c->out, o.data ? o.data : "", o.len, c->proto);
    resp_out_free(&o);
}

/*
 * metrics.c - the server's figures for monitoring: helpers INFO (t_info.c) shares, and the
 * Prometheus endpoint: plain HTTP/1.1 on metrics-port (same event loop; metrics-bind's
 * addresses, 127.0.0.1 by default, since it has no AUTH), GET /metrics answered with the text exposition format 0.0.4, one scrape
 * per connection. Names follow Prometheus conventions: a shale_ prefix, base units
 * (seconds, bytes), counters ending in _total.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "functions.h"
#include "script.h"
#include "pubsub.h"
#include "server.h"

void server_out_printf(resp_out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        resp_raw(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

uint64_t server_engine_prop(server *s, const char *name)
{
    /* ratios and process-wide figures come from the main engine; the rest is summed
       over every engine (the fifo databases' own) */
    static const char *const main_only[] = {"shale.write-amplification-x1000",
                                            "shale.bloom-useful", "shale.block-reads",
                                            "shale.last-sequence", "shale.background-error"};
    uint64_t total = 0;
    int n = ks_engine_count(&s->ks);
    for (size_t i = 0; i < sizeof main_only / sizeof main_only[0]; i++)
        if (strcmp(name, main_only[i]) == 0)
            n = 1;
    for (int i = 0; i < n; i++) {
        uint64_t v = 0;
        shale_property_int(ks_engine_at(&s->ks, i), name, &v);
        total += v;
    }
    return total;
}

long server_rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

void server_memory_usage(server *s, server_memory *m)
{
    m->memtables = server_engine_prop(s, "shale.memtable-bytes") +
                   server_engine_prop(s, "shale.immutable-memtable-bytes");
    m->block_cache = server_engine_prop(s, "shale.block-cache-usage");
    m->table_readers = server_engine_prop(s, "shale.table-readers-mem");
    m->clients = 0;
    for (client *c = s->clients; c; c = c->all_next)
        m->clients += c->in_cap + c->out.cap + c->sending.cap + pubsub_client_bytes(c);
    m->tracking = s->access.bytes;
    /* the Lua states, the bodies, the function libraries */
    m->scripts = script_memory(s) + script_body_bytes(s) + functions_vm_memory(s) +
                 functions_memory(s);
    m->total = m->memtables + m->block_cache + m->table_readers + m->clients + m->tracking +
               m->scripts;
}

/* ---- Prometheus text format ---- */

#define P server_out_printf

static void family(resp_out *o, const char *name, const char *type, const char *help)
{
    P(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(resp_out *o, const char *name, const char *type, const char *help, double v)
{
    family(o, name, type, help);
    P(o, "%s %.17g\n", name, v);
}

#define PROP(name) ((double)server_engine_prop(s, name))

/* Bucket bounds of the command latency histograms, in seconds. */
static const double bucket_le[] = {5e-6,   1e-5,  2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
                                   2.5e-3, 5e-3,  1e-2,   2.5e-2, 5e-2, 0.1,  0.25, 1};

static void command_metrics(server *s, resp_out *o)
{
    const cmdstats *t = &s->cmds;
    family(o, "shale_commands_total", "counter", "Commands run, by command.");
    for (size_t i = 0; t->cmd && i < t->ncmd; i++)
        if (t->cmd[i].calls)
            P(o, "shale_commands_total{cmd=\"%s\"} %llu\n", command_table_name(i),
              (unsigned long long)t->cmd[i].calls);
    family(o, "shale_commands_rejected_total", "counter",
           "Commands refused before running (arity, authentication, disk errors).");
    for (size_t i = 0; t->cmd && i < t->ncmd; i++)
        if (t->cmd[i].rejected)
            P(o, "shale_commands_rejected_total{cmd=\"%s\"} %llu\n", command_table_name(i),
              (unsigned long long)t->cmd[i].rejected);
    family(o, "shale_commands_failed_total", "counter", "Commands that replied an error.");
    for (size_t i = 0; t->cmd && i < t->ncmd; i++)
        if (t->cmd[i].failed)
            P(o, "shale_commands_failed_total{cmd=\"%s\"} %llu\n", command_table_name(i),
              (unsigned long long)t->cmd[i].failed);
    family(o, "shale_command_duration_seconds", "histogram",
           "Time commands spent running, by command (latency-tracking).");
    for (size_t i = 0; t->cmd && i < t->ncmd; i++) {
        const latency_hist *h = t->cmd[i].hist;
        if (!h || !h->count)
            continue;
        const char *name = command_table_name(i);
        for (size_t b = 0; b < sizeof bucket_le / sizeof bucket_le[0]; b++)
            P(o, "shale_command_duration_seconds_bucket{cmd=\"%s\",le=\"%g\"} %llu\n", name,
              bucket_le[b], (unsigned long long)latency_hist_count_le(h, (uint64_t)(bucket_le[b] * 1e9)));
        P(o, "shale_command_duration_seconds_bucket{cmd=\"%s\",le=\"+Inf\"} %llu\n", name,
          (unsigned long long)h->count);
        P(o, "shale_command_duration_seconds_sum{cmd=\"%s\"} %.9f\n", name, (double)h->sum_ns / 1e9);
        P(o, "shale_command_duration_seconds_count{cmd=\"%s\"} %llu\n", name,
          (unsigned long long)h->count);
    }
    family(o, "shale_error_replies_total", "counter", "Error replies, by the error's first word.");
    for (int i = 0; i < t->nerrors; i++)
        P(o, "shale_error_replies_total{kind=\"%s\"} %llu\n", t->errors[i].name,
          (unsigned long long)t->errors[i].count);
}

static void keyspace_metrics(server *s, resp_out *o)
{
    const server_stats *t = &s->stats;
    one(o, "shale_keyspace_hits_total", "counter", "Key lookups by read commands that found the key.",
        (double)t->keyspace_hits);
    one(o, "shale_keyspace_misses_total", "counter",
        "Key lookups by read commands that did not find the key.", (double)t->keyspace_misses);
    uint64_t lookups = t->keyspace_hits + t->keyspace_misses;
    one(o, "shale_keyspace_hit_ratio", "gauge", "keyspace hits / (hits + misses) since the start.",
        lookups ? (double)t->keyspace_hits / (double)lookups : 0);
    one(o, "shale_expired_keys_total", "counter", "Keys deleted because their TTL passed.",
        (double)s->ks.expired_keys);
    one(o, "shale_evicted_keys_total", "counter", "Keys evicted to stay under a cap.",
        (double)s->evicted_keys);
    family(o, "shale_keys", "gauge", "Keys per database.");
    for (int i = 0; i < KS_DBS; i++)
        if (s->ks.count[i] > 0)
            P(o, "shale_keys{db=\"%d\"} %lld\n", i, (long long)s->ks.count[i]);
}

static void engine_metrics(server *s, resp_out *o)
{
    static const char *const causes[] = {"l0_slowdown", "l0_stop", "memtable"};
    family(o, "shale_write_stalls_total", "counter", "Write stalls (delays and stops), by cause.");
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "shale.stall-count-%s", causes[i]);
        P(o, "shale_write_stalls_total{cause=\"%s\"} %llu\n", causes[i],
          (unsigned long long)server_engine_prop(s, name));
    }
    one(o, "shale_write_stall_seconds_total", "counter", "Time writes spent stalled.",
        PROP("shale.stall-micros") / 1e6);
    family(o, "shale_write_stall_rejections_total", "counter",
           "Writes answered -BUSY after write-stall-timeout-ms, by cause.");
    P(o, "shale_write_stall_rejections_total{cause=\"l0\"} %llu\n",
      (unsigned long long)s->stats.stall_rejections_l0);
    P(o, "shale_write_stall_rejections_total{cause=\"memtable\"} %llu\n",
      (unsigned long long)s->stats.stall_rejections_memtable);
    one(o, "shale_flushes_total", "counter", "Memtables flushed to tables.", PROP("shale.flush-count"));
    one(o, "shale_flush_written_bytes_total", "counter", "Bytes written by flushes.",
        PROP("shale.flush-bytes"));
    one(o, "shale_compactions_total", "counter", "Compactions run.", PROP("shale.compaction-count"));
    one(o, "shale_compaction_written_bytes_total", "counter", "Bytes written by compactions.",
        PROP("shale.compaction-bytes-written"));
    one(o, "shale_compaction_pending_bytes", "gauge", "Estimated bytes compaction still has to rewrite.",
        PROP("shale.pending-compaction-bytes"));
    one(o, "shale_user_written_bytes_total", "counter", "Bytes of keys and values users wrote.",
        PROP("shale.user-bytes-written"));
    one(o, "shale_write_amplification_ratio", "gauge",
        "Bytes written to disk (log, flushes, compactions) per user byte.",
        PROP("shale.write-amplification-x1000") / 1000.0);
    one(o, "shale_vlog_gc_runs_total", "counter", "Value-log garbage collections run.",
        PROP("shale.vlog-gc-runs"));
    one(o, "shale_vlog_gc_rewritten_bytes_total", "counter", "Live value bytes GC rewrote.",
        PROP("shale.vlog-gc-rewritten-bytes"));
    one(o, "shale_vlog_gc_deleted_bytes_total", "counter", "Value-log bytes GC deleted.",
        PROP("shale.vlog-gc-deleted-bytes"));
    one(o, "shale_fifo_dropped_bytes_total", "counter",
        "Table bytes fifo databases dropped past their caps.", PROP("shale.fifo-deleted-bytes"));
    one(o, "shale_block_cache_hits_total", "counter", "Table block reads found in the cache.",
        PROP("shale.block-cache-hits"));
    one(o, "shale_block_cache_misses_total", "counter", "Table block reads that went to disk.",
        PROP("shale.block-cache-misses"));
    one(o, "shale_wal_syncs_total", "counter", "fdatasync calls on the write-ahead log.",
        PROP("shale.wal-syncs"));
    one(o, "shale_background_errors_total", "counter", "Failed flushes, compactions and log writes.",
        PROP("shale.background-errors"));
    one(o, "shale_disk_write_error", "gauge", "1 while writes are refused after a disk error.",
        s->disk_error ? 1 : 0);
}

static void resource_metrics(server *s, resp_out *o)
{
    server_memory m;
    server_memory_usage(s, &m);
    one(o, "shale_memory_used_bytes", "gauge",
        "Memory counted against maxmemory (memtables, block cache, indexes and filters, "
        "client buffers).",
        (double)m.total);
    family(o, "shale_memory_bytes", "gauge", "Memory by use.");
    P(o, "shale_memory_bytes{use=\"memtables\"} %llu\n", (unsigned long long)m.memtables);
    P(o, "shale_memory_bytes{use=\"block_cache\"} %llu\n", (unsigned long long)m.block_cache);
    P(o, "shale_memory_bytes{use=\"clients\"} %llu\n", (unsigned long long)m.clients);
    P(o, "shale_memory_bytes{use=\"table_readers\"} %llu\n", (unsigned long long)m.table_readers);
    P(o, "shale_memory_bytes{use=\"access_tracking\"} %llu\n", (unsigned long long)m.tracking);
    P(o, "shale_memory_bytes{use=\"scripts\"} %llu\n", (unsigned long long)m.scripts);
    one(o, "shale_maxmemory_bytes", "gauge", "The maxmemory cap (0: none).", (double)s->cfg.maxmemory);
    one(o, "shale_maxdisk_bytes", "gauge", "The maxdisk cap (0: none).", (double)s->cfg.maxdisk);
    one(o, "shale_memory_rss_bytes", "gauge", "Resident set size of the process.",
        (double)server_rss_bytes());
    family(o, "shale_disk_bytes", "gauge", "Bytes on disk by kind.");
    P(o, "shale_disk_bytes{kind=\"tables\"} %llu\n",
      (unsigned long long)server_engine_prop(s, "shale.total-table-bytes"));
    P(o, "shale_disk_bytes{kind=\"value_log\"} %llu\n",
      (unsigned long long)server_engine_prop(s, "shale.vlog-bytes"));
    one(o, "shale_connected_clients", "gauge", "Client connections open.", (double)s->nclients);
    one(o, "shale_connections_received_total", "counter", "Client connections accepted.",
        (double)s->stats.connections_received);
    one(o, "shale_rejected_connections_total", "counter",
        "Connections refused (maxclients, protected mode).", (double)s->stats.rejected_connections);
    one(o, "shale_net_input_bytes_total", "counter", "Bytes received from clients.",
        (double)s->stats.net_input_bytes);
    one(o, "shale_net_output_bytes_total", "counter", "Bytes sent to clients.",
        (double)s->stats.net_output_bytes);
    one(o, "shale_uptime_seconds", "gauge", "Seconds since the server started.",
        (double)(ks_now_ms() - s->start_ms) / 1000.0);
}

/* Pub/sub: messages published, copies handed to subscribers, what is listened to. */
static void pubsub_metrics(server *s, resp_out *o)
{
    one(o, "shale_pubsub_published_total", "counter",
        "Messages published (PUBLISH, SPUBLISH, internal messages).", (double)pubsub_published(s));
    one(o, "shale_pubsub_delivered_total", "counter",
        "Messages handed to subscribers (one per subscriber and matching pattern).",
        (double)pubsub_delivered(s));
    family(o, "shale_pubsub_subscriptions", "gauge",
           "Channels, patterns and shard channels with subscribers.");
    P(o, "shale_pubsub_subscriptions{kind=\"channel\"} %lld\n", pubsub_count(s, PUBSUB_CHANNEL));
    P(o, "shale_pubsub_subscriptions{kind=\"pattern\"} %lld\n", pubsub_count(s, PUBSUB_PATTERN));
    P(o, "shale_pubsub_subscriptions{kind=\"shard_channel\"} %lld\n", pubsub_count(s, PUBSUB_SHARD));
}

void metrics_prometheus(server *s, resp_out *o)
{
    command_metrics(s, o);
    keyspace_metrics(s, o);
    engine_metrics(s, o);
    resource_metrics(s, o);
    pubsub_metrics(s, o);
}

/* ---- HTTP ---- */

#define HTTP_MAX_REQUEST 8192

/* The response (the body left out for HEAD), then the connection closes. */
static void http_reply(client *c, bool head, const char *status, const char *type,
                       const char *body, size_t len)
{
    server_out_printf(&c->out,
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, type, len);
    if (!head)
        resp_raw(&c->out, body, len);
    c->close_after_reply = true;
}

void metrics_http_input(server *s, client *c)
{
    const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in_len > HTTP_MAX_REQUEST)
            http_reply(c, false, "431 Request Header Fields Too Large", "text/plain", "too large\n", 10);
        return; /* the rest of the request is still coming */
    }
    s->stats.metrics_scrapes++;
    bool get = c->in_len >= 4 && memcmp(c->in, "GET ", 4) == 0;
    bool head = c->in_len >= 5 && memcmp(c->in, "HEAD ", 5) == 0;
    const char *path = c->in + (get ? 4 : 5);
    bool metrics = (get || head) && (size_t)(end - path) >= 8 && memcmp(path, "/metrics", 8) == 0 &&
                   (path[8] == ' ' || path[8] == '?');
    if (!get && !head) {
        http_reply(c, false, "405 Method Not Allowed", "text/plain", "use GET /metrics\n", 17);
    } else if (!metrics) {
        http_reply(c, head, "404 Not Found", "text/plain", "metrics are at /metrics\n", 24);
    } else {
        resp_out body = {0};
        metrics_prometheus(s, &body);
        http_reply(c, head, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
                   body.data ? body.data : "", body.len);
        resp_out_free(&body);
    }
    c->in_len = c->in_off = 0;
}

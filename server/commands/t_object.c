/*
 * t_object.c - OBJECT (ENCODING, FREQ, IDLETIME, REFCOUNT) and MEMORY (USAGE, STATS,
 * DOCTOR, PURGE, MALLOC-STATS): what a key looks like and what it costs.
 *
 * ENCODING gives the names Redis 7.0 would use for the value (int, embstr, raw for
 * strings; listpack or hashtable for hashes by field count), so tools that branch on
 * them behave. MEMORY USAGE is the bytes the key takes in the store (key, value and the
 * engine's per-entry overhead; a hash's fields estimated from SAMPLES of them, as
 * Redis does), since a shale key lives on disk rather than in memory.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "server.h"
#include "set.h"
#include "zset.h"

#define ENTRY_OVERHEAD 24 /* internal key trailer, lengths and index share per entry */

static const char lfu_err[] = "ERR An LFU maxmemory policy is not selected, access frequency not "
                              "tracked. Please note that when switching between policies at "
                              "runtime LRU and LFU data will take some time to adjust.";
static const char lru_err[] = "ERR An LFU maxmemory policy is selected, idle time not tracked. "
                              "Please note that when switching between policies at runtime LRU "
                              "and LFU data will take some time to adjust.";

static bool policy_is_lfu(const server *s)
{
    return strstr(s->cfg.maxmemory_policy, "lfu") != NULL;
}

/* Redis's string encodings: an integer that fits a long, short strings, the rest. */
static const char *string_encoding(const char *v, size_t n)
{
    long long ll;
    if (n <= 20 && parse_ll(v, n, &ll)) {
        char buf[24];
        int len = snprintf(buf, sizeof buf, "%lld", ll);
        if ((size_t)len == n && memcmp(buf, v, n) == 0)
            return "int";
    }
    return n <= 44 ? "embstr" : "raw";
}

/* What Redis 7.0 would answer to OBJECT ENCODING for a value of this type and size. */
static const char *object_encoding(const server *s, const ks_meta *m)
{
    switch (m->type) {
    case KS_TYPE_STRING: return string_encoding(m->val, m->vlen);
    case KS_TYPE_HASH: return hash_encoding_name(s, m);
    case KS_TYPE_LIST: return "quicklist"; /* 7.0's only list encoding */
    case KS_TYPE_SET: return set_encoding(m); /* kept in the set's metadata */
    case KS_TYPE_ZSET: return zset_encoding(m);
    default: return "unknown";
    }
}

/* Reads the key in argv[2]; false when it is absent (nil replied) or on an error. */
static bool read_present(server *s, client *c, ks_meta *m)
{
    if (!read_key(s, c, c->db, &c->cmd.argv[2], 0, false, m))
        return false;
    if (!m->type) {
        resp_null(&c->out, c->proto);
        return false;
    }
    return true;
}

void cmd_object(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    if (arg_is(&a[1], "help") && c->cmd.argc == 2) {
        static const char *lines[] = {
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP", "    Prints this help."};
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
        return;
    }
    bool enc = arg_is(&a[1], "encoding"), freq = arg_is(&a[1], "freq");
    bool idle = arg_is(&a[1], "idletime"), ref = arg_is(&a[1], "refcount");
    if (!(enc || freq || idle || ref)) {
        reply_subcommand_error(c);
        return;
    }
    if (c->cmd.argc != 3) {
        char msg[96];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for 'object|%s' command",
                 enc ? "encoding" : freq ? "freq" : idle ? "idletime" : "refcount");
        resp_error(&c->out, msg);
        return;
    }
    ks_meta m;
    if (!read_present(s, c, &m))
        return;
    uint64_t idle_s;
    unsigned lfu;
    access_get(&s->access, s->ks.phys[c->db], a[2].p, a[2].len, ks_now_ms(),
               s->cfg.lfu_decay_time, &idle_s, &lfu);
    if (enc)
        resp_bulk_cstr(&c->out, object_encoding(s, &m));
    else if (ref)
        resp_integer(&c->out, 1);
    else if (freq && !policy_is_lfu(s))
        resp_error(&c->out, lfu_err);
    else if (freq)
        resp_integer(&c->out, lfu);
    else if (policy_is_lfu(s))
        resp_error(&c->out, lru_err);
    else
        resp_integer(&c->out, (long long)idle_s);
    ks_meta_free(&m);
}

/* Bytes of a collection's members, from up to `samples` of them scaled to all (0: all). */
static long long members_bytes(server *s, int dbi, const void *key, size_t klen,
                               const ks_meta *m, long long samples)
{
    ks_range r;
    long long bytes = 0, seen = 0;
    if (ks_range_open_members(&s->ks, dbi, key, klen, m, &r) == 0) {
        for (; ks_iter_valid(r.it) && (samples == 0 || seen < samples);
             ks_iter_next(r.it)) {
            size_t kl, vl;
            ks_iter_key(r.it, &kl);
            ks_iter_value(r.it, &vl);
            bytes += (long long)(kl + vl + ENTRY_OVERHEAD);
            seen++;
        }
        ks_range_close(&r);
    }
    /* a sorted set keeps two engine keys per member */
    uint64_t keys = m->type == KS_TYPE_ZSET ? 2 * m->size : m->size;
    if (seen && (uint64_t)seen < keys)
        bytes = bytes / seen * (long long)keys;
    return bytes;
}

long long key_store_bytes(server *s, int dbi, const void *key, size_t klen, const ks_meta *m,
                          long long samples)
{
    long long bytes = (long long)(klen + m->rawlen + ENTRY_OVERHEAD);
    if (ks_is_collection(m->type))
        bytes += members_bytes(s, dbi, key, klen, m, samples);
    return bytes;
}

static void memory_usage(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    long long samples = 5;
    for (int i = 3; i < c->cmd.argc; i += 2) {
        if (!arg_is(&a[i], "samples") || i + 1 >= c->cmd.argc) {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
        if (!parse_ll(a[i + 1].p, a[i + 1].len, &samples) || samples < 0) {
            resp_error(&c->out, "ERR value is not an integer or out of range");
            return;
        }
    }
    ks_meta m;
    if (!read_present(s, c, &m))
        return;
    long long bytes = key_store_bytes(s, c->db, a[2].p, a[2].len, &m, samples);
    ks_meta_free(&m);
    resp_integer(&c->out, bytes);
}

static void memory_stats(server *s, client *c)
{
    server_memory m;
    server_memory_usage(s, &m);
    struct {
        const char *name;
        uint64_t v;
    } f[] = {{"peak.allocated", s->caps.peak_memory > m.total ? s->caps.peak_memory : m.total},
             {"total.allocated", m.total},
             {"clients.normal", m.clients},
             {"shale.memtables", m.memtables},
             {"shale.block-cache", m.block_cache},
             {"shale.table-readers", m.table_readers},
             {"shale.access-tracking", m.tracking},
             {"keys.count", 0}};
    int64_t keys = 0;
    for (int i = 0; i < KS_DBS; i++)
        keys += s->ks.count[i];
    f[7].v = (uint64_t)keys;
    int n = sizeof f / sizeof f[0];
    resp_map(&c->out, n, c->proto);
    for (int i = 0; i < n; i++) {
        resp_bulk_cstr(&c->out, f[i].name);
        resp_integer(&c->out, (long long)f[i].v);
    }
}

void cmd_memory(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (arg_is(&a[1], "usage") && argc >= 3) {
        memory_usage(s, c);
    } else if (arg_is(&a[1], "stats") && argc == 2) {
        memory_stats(s, c);
    } else if (arg_is(&a[1], "doctor") && argc == 2) {
        char text[256];
        snprintf(text, sizeof text,
                 "used_memory %llu of maxmemory %llu; keys live on disk, memory holds caches "
                 "(INFO memory shows each part).",
                 (unsigned long long)s->caps.used_memory, (unsigned long long)s->cfg.maxmemory);
        resp_verbatim(&c->out, text, strlen(text), c->proto);
    } else if (arg_is(&a[1], "purge") && argc == 2) {
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "malloc-stats") && argc == 2) {
        resp_verbatim(&c->out, "Stats not supported for the current allocator", 46, c->proto);
    } else if (arg_is(&a[1], "help") && argc == 2) {
        static const char *lines[] = {
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR", "    Return memory problems reports.",
            "MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
            "PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS", "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP", "    Prints this help."};
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else {
        reply_subcommand_error(c);
    }
}

/*
 * evict.c - the caps: maxmemory and maxdisk.
 *
 * Memory is counted as Redis counts used_memory, by what holds it: memtables, the block
 * cache, the open tables' indexes and filters, client buffers. Under maxmemory the
 * caches give way first: memtables are kept to an eighth of the cap and the block cache
 * gets what the rest leaves (it only holds copies of disk blocks, so shrinking it loses
 * nothing). Only what is left over (indexes and filters grow with the data, buffers with
 * the clients) can push used memory past the cap. Disk is the tables plus the value log.
 *
 * The figures are refreshed by server_cron (hz times a second) rather than at every
 * command: what can grow between two refreshes is bounded (memtables are counted at
 * their cap). Over a cap, commands that may add data (Redis's denyoom) are refused with
 * -OOM; everything else goes on (reads, deletes, expiries).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server.h"

#define NUM_MEMTABLES 2          /* the engine's default num_memtables */
#define MIN_CACHE (256u << 10)   /* the block cache never goes below this */
#define MIN_MEMTABLE (64u << 10) /* the engine's smallest memtable_size */

static void set_engine_size(server *s, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    shale_set_option(s->db, name, buf);
}

/* The memtable size the engine should use: the configured one, or an eighth of
   maxmemory for both memtables together when that is smaller. */
static uint64_t memtable_target(const server *s)
{
    uint64_t size = s->cfg.memtable_size;
    if (s->cfg.maxmemory) {
        uint64_t cap = s->cfg.maxmemory / 8 / NUM_MEMTABLES;
        if (cap < MIN_MEMTABLE)
            cap = MIN_MEMTABLE;
        if (size > cap)
            size = cap;
    }
    return size;
}

/* The LRU/LFU table's share: a sixteenth of maxmemory, or 64 MiB without a cap. */
static size_t tracking_budget(const server *s)
{
    return s->cfg.maxmemory ? (size_t)(s->cfg.maxmemory / 16) : (size_t)64 << 20;
}

void caps_refresh(server *s)
{
    caps_state *k = &s->caps;
    access_trim(&s->access, tracking_budget(s));
    server_memory m;
    server_memory_usage(s, &m);
    k->used_memory = m.total;
    if (m.total > k->peak_memory)
        k->peak_memory = m.total;
    k->used_disk = server_engine_prop(s, "shale.total-table-bytes") +
                   server_engine_prop(s, "shale.vlog-bytes");

    uint64_t memtable = memtable_target(s);
    if (memtable != k->memtable_applied) {
        set_engine_size(s, "memtable_size", memtable);
        k->memtable_applied = memtable;
    }
    uint64_t cache = s->cfg.block_cache_size;
    if (s->cfg.maxmemory) {
        uint64_t fixed = memtable * NUM_MEMTABLES + m.table_readers + m.clients + m.tracking;
        uint64_t room = s->cfg.maxmemory > fixed ? s->cfg.maxmemory - fixed : 0;
        if (cache > room)
            cache = room;
        if (cache < MIN_CACHE)
            cache = MIN_CACHE;
    }
    /* resize on a change of more than 1/16 (or to restore the configured size) */
    uint64_t diff = cache > k->cache_applied ? cache - k->cache_applied : k->cache_applied - cache;
    if (diff > k->cache_applied / 16 || (diff && cache == s->cfg.block_cache_size)) {
        set_engine_size(s, "block_cache_size", cache);
        k->cache_applied = cache;
    }
    k->over_memory = s->cfg.maxmemory && k->used_memory > s->cfg.maxmemory;
    k->over_disk = s->cfg.maxdisk && k->used_disk > s->cfg.maxdisk;
}

bool caps_admit(server *s, client *c)
{
    if (s->caps.over_memory) {
        resp_error(&c->out, "OOM command not allowed when used memory > 'maxmemory'.");
        return false;
    }
    if (s->caps.over_disk) {
        resp_error(&c->out, "OOM command not allowed when used disk > 'maxdisk'.");
        return false;
    }
    return true;
}

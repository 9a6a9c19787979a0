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
 * their cap). Over a cap, a command that may add data (Redis's denyoom) first evicts
 * keys by maxmemory-policy, or is refused with -OOM (noeviction, or nothing to evict);
 * everything else goes on (reads, deletes, expiries).
 *
 * Evicting a key in an LSM store frees nothing at once: its delete is one more entry,
 * and the space returns when compaction drops the old value (and value-log GC its
 * segment). So each eviction books what it will free (the key's bytes in the store, its
 * share of indexes and filters) as pending; the caps are judged on used minus pending;
 * pending shrinks as the figures really fall, and a background reclaim (a full
 * compaction, then value-log GC) runs when much is pending, as RocksDB compacts files
 * full of deletes.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "notify.h"
#include "repl_replica.h"
#include "server.h"

#define MAX_EVICT_PER_COMMAND 64 /* a write waits for at most this many evictions */

/*
 * The event loop's eviction work is bounded by time, as Redis bounds it (its eviction
 * tenacity): per command and per round of the loop. Each sample seeks a fresh iterator,
 * and after many evictions a seek can walk over thousands of tombstones of evicted keys:
 * unbounded, the loop spent over 90 % of its time sampling and, at up to 64 evictions
 * for each of a round's 32 pipelined writes, answered its other clients seconds late
 * (INFO timed out under TSan, issue 15 item 29). Past a budget the write goes on without
 * evicting more (as Redis lets a command run while eviction is still under way), unless
 * a cap is passed by half (over_hard): the next commands and rounds catch up.
 */
#define EVICT_COMMAND_NS (2u * 1000 * 1000) /* 2 ms */
#define EVICT_ROUND_NS (20u * 1000 * 1000)  /* 20 ms */

#define NUM_MEMTABLES 2          /* the engine's default num_memtables */
#define MIN_CACHE (256u << 10)   /* the block cache never goes below this */
#define MIN_MEMTABLE (64u << 10) /* the engine's smallest memtable_size */

static void set_engine_size(server *s, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    shale_set_option(s->db, name, buf);
}

/* The value-log segment size under maxdisk: a sixteenth of the cap (at least 1 MiB), so
   that segments roll and GC can give back evicted values (the active one never is). */
static uint64_t vlog_file_target(const server *s)
{
    uint64_t size = s->cfg.vlog_file_size;
    if (s->cfg.maxdisk) {
        uint64_t cap = s->cfg.maxdisk / 16 < (1u << 20) ? 1u << 20 : s->cfg.maxdisk / 16;
        if (size > cap)
            size = cap;
    }
    return size;
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

void caps_engine_options(server *s, shale_options *o)
{
    /* At open, so that the first log is not reserved for a memtable the caps then shrink
       (a log reserved for a 64 MiB memtable counts 72 MiB against maxdisk at once, and
       under noeviction nothing can be written to roll it) */
    o->memtable_size = memtable_target(s);
    o->vlog_file_size = vlog_file_target(s);
    s->caps.memtable_applied = o->memtable_size;
    s->caps.vlog_file_applied = o->vlog_file_size;
    s->caps.cache_applied = o->block_cache_size;
}

/* The LRU/LFU table's share: a sixteenth of maxmemory, or 64 MiB without a cap. */
static size_t tracking_budget(const server *s)
{
    return s->cfg.maxmemory ? (size_t)(s->cfg.maxmemory / 16) : (size_t)64 << 20;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- reclaim: make evicted keys' space come back ---- */

#define RECLAIM_MAX_SEGMENTS 32 /* value-log segments one reclaim rewrites at most */

/* Tables plus value log of the main engine (read from the reclaim thread). */
static uint64_t disk_bytes(shale_db *db)
{
    uint64_t tables = 0, vlog = 0;
    shale_property_int(db, "shale.total-table-bytes", &tables);
    shale_property_int(db, "shale.vlog-bytes", &vlog);
    return tables + vlog;
}

static void *reclaim_main(void *arg)
{
    server *s = arg;
    int rc = shale_compact_range(s->db, NULL, 0, NULL, 0);
    int segments = 0;
    /* GC while it finds segments half garbage, but not on and on under writes that keep
       making more: the booked space is judged again when this ends, and another reclaim
       starts if much is still booked. */
    while (rc == 0 && segments < RECLAIM_MAX_SEGMENTS &&
           disk_bytes(s->db) > s->caps.reclaim_disk_target &&
           (rc = shale_vlog_gc(s->db, 0.5)) == 0)
        segments++;
    fprintf(stderr, "shale-server: reclaimed evicted keys' space: full compaction, %d value-log "
                    "segment(s) rewritten (%s)\n",
            segments, rc == 0 || rc == SHALE_ENOREWRITE ? "done" : shale_strerror(rc));
    __atomic_store_n(&s->caps.reclaim_done, true, __ATOMIC_RELEASE);
    return NULL;
}

/* After the reclaim thread ended: what was pending is as freed as it will be. */
static void reclaim_reap(server *s)
{
    caps_state *k = &s->caps;
    if (k->reclaim_running && __atomic_load_n(&k->reclaim_done, __ATOMIC_ACQUIRE)) {
        pthread_join(k->reclaim_thread, NULL);
        /* Whatever of the booked space could come back has come back (settle counted
           it); the rest will not, so the caps are judged on the real figures again. */
        k->reclaim_running = false;
        k->pending_disk = k->pending_memory = 0;
        k->reclaim_end_ms = ks_now_ms();
    }
}

static void reclaim_maybe_start(server *s)
{
    caps_state *k = &s->caps;
    bool much = (s->cfg.maxdisk && k->pending_disk > s->cfg.maxdisk / 32) ||
                (s->cfg.maxmemory && k->pending_memory > s->cfg.maxmemory / 32);
    if (!much || k->reclaim_running)
        return;
    k->reclaim_done = false;
    /* GC stops once the disk is under the cap (with a sixteenth to spare) */
    k->reclaim_disk_target = s->cfg.maxdisk ? s->cfg.maxdisk - s->cfg.maxdisk / 16 : 0;
    if (pthread_create(&k->reclaim_thread, NULL, reclaim_main, s) == 0)
        k->reclaim_running = true;
}

void caps_stop(server *s)
{
    if (s->caps.reclaim_running)
        pthread_join(s->caps.reclaim_thread, NULL);
    s->caps.reclaim_running = false;
}

/* Lowers *pending by how much *last fell to now (the freeing really happening). */
static void settle(uint64_t *pending, uint64_t *last, uint64_t now)
{
    if (now < *last) {
        uint64_t fell = *last - now;
        *pending = *pending > fell ? *pending - fell : 0;
    }
    *last = now;
}

void caps_refresh(server *s)
{
    caps_state *k = &s->caps;
    access_trim(&s->access, tracking_budget(s));
    reclaim_reap(s);
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
    uint64_t vlog_file = vlog_file_target(s);
    if (vlog_file != k->vlog_file_applied) {
        set_engine_size(s, "vlog_file_size", vlog_file);
        k->vlog_file_applied = vlog_file;
    }
    uint64_t cache = s->cfg.block_cache_size;
    if (s->cfg.maxmemory) {
        uint64_t fixed = memtable * NUM_MEMTABLES + m.table_readers + m.clients + m.tracking +
                         m.scripts;
        for (int i = 1; i < ks_engine_count(&s->ks); i++) /* fifo databases' engines */
            fixed += (uint64_t)FIFO_MEMTABLE * NUM_MEMTABLES + FIFO_BLOCK_CACHE;
        /* a 32nd of the cap kept free for what grows between two refreshes (indexes
           and filters of new tables, client buffers) */
        fixed += s->cfg.maxmemory / 32;
        uint64_t room = s->cfg.maxmemory > fixed ? s->cfg.maxmemory - fixed : 0;
        if (cache > room)
            cache = room;
        if (cache < MIN_CACHE)
            cache = MIN_CACHE;
    }
    /* resize on a change of more than 1/64 (or to restore the configured size) */
    uint64_t diff = cache > k->cache_applied ? cache - k->cache_applied : k->cache_applied - cache;
    if (diff > k->cache_applied / 64 || (diff && cache == s->cfg.block_cache_size)) {
        set_engine_size(s, "block_cache_size", cache);
        k->cache_applied = cache;
    }
    settle(&k->pending_disk, &k->last_disk, k->used_disk);
    settle(&k->pending_memory, &k->last_memory, m.table_readers + m.tracking);
    k->releasable_memory = m.table_readers + m.tracking;
    k->over_memory = s->cfg.maxmemory && k->used_memory > s->cfg.maxmemory;
    k->over_disk = s->cfg.maxdisk && k->used_disk > s->cfg.maxdisk;
    reclaim_maybe_start(s);
}

/* ---- choosing and evicting keys ---- */

enum policy { NOEVICTION, ALL_LRU, VOL_LRU, ALL_LFU, VOL_LFU, ALL_RANDOM, VOL_RANDOM, VOL_TTL };

static enum policy policy_of(const server *s)
{
    static const char *const names[] = {"noeviction",    "allkeys-lru",    "volatile-lru",
                                        "allkeys-lfu",   "volatile-lfu",   "allkeys-random",
                                        "volatile-random", "volatile-ttl"};
    for (int i = 0; i < 8; i++)
        if (strcasecmp(s->cfg.maxmemory_policy, names[i]) == 0)
            return (enum policy)i;
    return NOEVICTION;
}

static uint64_t next_rand(server *s)
{
    uint64_t *r = &s->caps.rnd;
    if (!*r)
        *r = ks_now_ms() | 1;
    *r ^= *r >> 12;
    *r ^= *r << 25;
    *r ^= *r >> 27;
    return *r * 2685821657736338717ull;
}

/* Past a cap by half of it: booked space is not coming back fast enough (the reclaim
   lags the writes), so writes wait for it (-OOM) rather than the store growing on. */
static bool over_hard(const server *s)
{
    const caps_state *k = &s->caps;
    return (s->cfg.maxmemory && k->used_memory > s->cfg.maxmemory / 2 * 3) ||
           (s->cfg.maxdisk && k->used_disk > s->cfg.maxdisk / 2 * 3);
}

/* Still over a cap once what evictions booked is counted as freed? */
static bool still_over(const server *s)
{
    const caps_state *k = &s->caps;
    uint64_t mem = k->used_memory > k->pending_memory ? k->used_memory - k->pending_memory : 0;
    uint64_t disk = k->used_disk > k->pending_disk ? k->used_disk - k->pending_disk : 0;
    return (s->cfg.maxmemory && mem > s->cfg.maxmemory) || (s->cfg.maxdisk && disk > s->cfg.maxdisk);
}

typedef struct candidate {
    int dbi;
    ks_key key; /* the user key */
    double score; /* higher: a better victim */
} candidate;

static bool is_volatile(enum policy p)
{
    return p == VOL_LRU || p == VOL_LFU || p == VOL_RANDOM || p == VOL_TTL;
}

/* Whether eviction may take dbi's keys: not a fifo database's, which its own cap bounds
   (deleting there frees nothing: its engine never rewrites a table). */
static bool evictable(server *s, int dbi, bool vol)
{
    return (vol ? s->ks.expires[dbi] : s->ks.count[dbi]) > 0 && !ks_fifo_of(&s->ks, dbi);
}

/* A database with keys to evict (with a TTL for volatile policies), at random; -1: none. */
static int random_db(server *s, bool vol)
{
    int dbs[KS_DBS], n = 0;
    for (int i = 0; i < KS_DBS; i++)
        if (evictable(s, i, vol))
            dbs[n++] = i;
    return n ? dbs[next_rand(s) % (uint64_t)n] : -1;
}

/* A key near a random point of dbi's keys (or of its expiry index). */
static bool random_key(server *s, int dbi, bool vol, ks_key *out)
{
    ks_range r;
    if ((vol ? ks_range_open_expiries(&s->ks, dbi, &r) : ks_range_open_db(&s->ks, dbi, &r)))
        return false;
    bool ok = false;
    if (ks_range_seek_random(&r, next_rand(s)) == 0 && ks_iter_valid(r.it)) {
        size_t kl;
        const char *k = ks_iter_key(r.it, &kl);
        size_t skip = vol ? KS_EXPIRY_PREFIX : KS_META_PREFIX;
        ok = kl >= skip && ks_key_append(out, k + skip, kl - skip) == 0;
    }
    ks_range_close(&r);
    return ok;
}

/* The key of dbi that expires first (volatile-ttl): exact, from the expiry index. */
static bool first_expiry(server *s, int dbi, uint64_t *at, ks_key *out)
{
    ks_range r;
    if (ks_range_open_expiries(&s->ks, dbi, &r))
        return false;
    bool ok = false;
    if (ks_iter_valid(r.it)) {
        size_t kl;
        const char *k = ks_iter_key(r.it, &kl);
        if (kl >= KS_EXPIRY_PREFIX) {
            *at = ks_be64(k + 5);
            ok = ks_key_append(out, k + KS_EXPIRY_PREFIX, kl - KS_EXPIRY_PREFIX) == 0;
        }
    }
    ks_range_close(&r);
    return ok;
}

static double score_of(server *s, enum policy p, int dbi, const ks_key *key)
{
    uint64_t idle;
    unsigned lfu;
    access_get(&s->access, s->ks.phys[dbi], key->p, key->len, ks_now_ms(), s->cfg.lfu_decay_time,
               &idle, &lfu);
    if (p == ALL_LFU || p == VOL_LFU)
        return (double)(255 - lfu) * 1e9 + (double)idle; /* least used, then longest idle */
    return (double)idle;
}

static void keep_best(candidate *best, int dbi, ks_key *key, double score)
{
    if (best->dbi >= 0 && score <= best->score) {
        ks_key_free(key);
        return;
    }
    ks_key_free(&best->key);
    best->dbi = dbi;
    best->key = *key; /* moved: the bytes may live in key's own small buffer */
    if (key->p == key->small)
        best->key.p = best->key.small;
    best->score = score;
}

/* The victim by policy, into *best (best->dbi < 0: none). */
static void pick(server *s, enum policy p, candidate *best)
{
    best->dbi = -1;
    ks_key_init(&best->key);
    bool vol = is_volatile(p);
    if (p == VOL_TTL) {
        uint64_t soonest = UINT64_MAX;
        for (int i = 0; i < KS_DBS; i++) {
            uint64_t at;
            ks_key k;
            ks_key_init(&k);
            if (evictable(s, i, true) && first_expiry(s, i, &at, &k) && at < soonest) {
                soonest = at;
                keep_best(best, i, &k, (double)(UINT64_MAX - at));
            } else {
                ks_key_free(&k);
            }
        }
        return;
    }
    int samples = p == ALL_RANDOM || p == VOL_RANDOM ? 1 : (int)s->cfg.maxmemory_samples;
    for (int i = 0; i < samples; i++) {
        int dbi = random_db(s, vol);
        ks_key k;
        ks_key_init(&k);
        if (dbi < 0 || !random_key(s, dbi, vol, &k)) {
            ks_key_free(&k);
            continue;
        }
        keep_best(best, dbi, &k, samples == 1 ? 0 : score_of(s, p, dbi, &k));
    }
    if (vol || samples == 1)
        return;
    /* and keys known to the access table (recently used ones compete on their data) */
    const access_entry *e[64];
    size_t n = access_sample(&s->access, e, (size_t)samples < 64 ? (size_t)samples : 64);
    for (size_t i = 0; i < n; i++) {
        int dbi = -1;
        for (int d = 0; d < KS_DBS; d++)
            if (s->ks.phys[d] == e[i]->phys && !ks_fifo_of(&s->ks, d))
                dbi = d;
        ks_key k;
        ks_key_init(&k);
        if (dbi < 0 || ks_key_append(&k, e[i]->key, e[i]->klen)) {
            ks_key_free(&k);
            continue;
        }
        keep_best(best, dbi, &k, score_of(s, p, dbi, &k));
    }
}

/* Deletes the victim and books what that will free. False when it is gone already. */
static bool evict(server *s, const candidate *v)
{
    ks_meta m;
    if (ks_read(&s->ks, v->dbi, v->key.p, v->key.len, &m) || !m.type) {
        access_forget(&s->access, s->ks.phys[v->dbi], v->key.p, v->key.len);
        ks_meta_free(&m);
        return false;
    }
    uint64_t bytes = (uint64_t)key_store_bytes(s, v->dbi, v->key.p, v->key.len, &m, 5);
    ks_begin(&s->ks);
    int rc = ks_del_key(&s->ks, v->dbi, v->key.p, v->key.len, &m);
    rc = rc ? rc : ks_commit(&s->ks);
    if (rc)
        ks_abort(&s->ks);
    ks_meta_free(&m);
    if (rc)
        return false;
    server_wrote(s); /* replies after this round wait for the delete to be logged */
    caps_state *k = &s->caps;
    int64_t keys = 0;
    for (int i = 0; i < KS_DBS; i++)
        keys += s->ks.count[i];
    /* A key's bytes as stored are what it takes uncompressed: values that compress well
       (the log keeps them lz4-compressed) free far less. So what is booked never lets the
       disk pass the cap by more than an eighth of it: past that, evictions go on until the
       real figures fall. */
    k->pending_disk += bytes;
    if (s->cfg.maxdisk && k->pending_disk > s->cfg.maxdisk / 8)
        k->pending_disk = s->cfg.maxdisk / 8;
    k->pending_memory += k->releasable_memory / (uint64_t)(keys > 0 ? keys + 1 : 1);
    access_forget(&s->access, s->ks.phys[v->dbi], v->key.p, v->key.len);
    s->evicted_keys++;
    notify(s, NOTIFY_EVICTED, "evicted", v->dbi, v->key.p, v->key.len);
    notify_flush(s);
    return true;
}

/* Memory over the cap by more than evicting keys could ever give back (it is client
   buffers, say): evicting would empty the store for nothing. */
static bool memory_beyond_keys(const server *s)
{
    const caps_state *k = &s->caps;
    return s->cfg.maxmemory && k->used_memory > s->cfg.maxmemory &&
           k->used_memory - s->cfg.maxmemory > k->releasable_memory;
}

/*
 * As Redis with its eviction time limit: evicts up to limit keys by policy p while a cap
 * is still passed (beyond_keys: while any key is left, the cap being below what evicting
 * every key could reach), for at most budget_ns and what is left of the loop round's
 * budget.
 * Returns how many went; *out_of_time when the time ran out first.
 */
static int evict_for_budget(server *s, enum policy p, int limit, bool beyond_keys,
                            uint64_t budget_ns, bool *out_of_time)
{
    *out_of_time = false;
    uint64_t spent = __atomic_load_n(&s->caps.round_evict_ns, __ATOMIC_RELAXED);
    if (spent >= EVICT_ROUND_NS) {
        *out_of_time = true; /* the round's budget is spent: the next round evicts */
        return 0;
    }
    uint64_t t0 = mono_ns(), budget = EVICT_ROUND_NS - spent;
    if (budget > budget_ns)
        budget = budget_ns;
    int evicted = 0;
    /* picks that find a key gone already count against 2 * MAX_EVICT_PER_COMMAND */
    for (int tries = 0; evicted < limit && tries - evicted < 2 * MAX_EVICT_PER_COMMAND &&
                          (beyond_keys || still_over(s));
         tries++) {
        if (tries > 0 && mono_ns() - t0 >= budget) {
            *out_of_time = true;
            break;
        }
        candidate v;
        pick(s, p, &v);
        if (v.dbi < 0)
            break;
        evicted += evict(s, &v);
        ks_key_free(&v.key);
    }
    __atomic_store_n(&s->caps.round_evict_ns, spent + (mono_ns() - t0), __ATOMIC_RELAXED);
    reclaim_maybe_start(s);
    return evicted;
}

/* ---- maxmemory lowered by CONFIG SET ---- */

/*
 * Redis evicts when CONFIG SET puts maxmemory under the memory in use (its config apply
 * runs the eviction, then an eviction time event until the memory is under the cap or
 * nothing is left), not at the next write. The operator asked for it, so here eviction
 * does not stop at what evicting keys can give back (memory_beyond_keys, over_hard):
 * below the server's own footprint (maxmemory 1) every evictable key goes, as in Redis.
 */
static void evict_to_cap(server *s)
{
    caps_state *k = &s->caps;
    enum policy p = policy_of(s);
    if (!k->evict_to_cap)
        return;
    bool out_of_time = false;
    /* (what evictions book as freed says when the cap is reached; below what evicting
       every key can give back, that is never) */
    bool beyond = memory_beyond_keys(s);
    int evicted = p == NOEVICTION || ks_in_txn(&s->ks)
                      ? 0
                      : evict_for_budget(s, p, INT_MAX, beyond, EVICT_ROUND_NS, &out_of_time);
    /* done once under the cap, or when nothing (more) can be evicted */
    if (!out_of_time && (evicted == 0 || (!beyond && !still_over(s))))
        k->evict_to_cap = false;
}

void caps_maxmemory_set(server *s, uint64_t old)
{
    caps_state *k = &s->caps;
    k->evict_to_cap = false;
    if (!s->cfg.maxmemory || s->cfg.maxmemory == old || !k->over_memory)
        return;
    fprintf(stderr, "shale-server: WARNING: the new maxmemory value set via CONFIG SET (%llu) is "
                    "smaller than the current memory usage (%llu). This will result in key "
                    "eviction and/or the inability to accept new write commands depending on "
                    "the maxmemory-policy.\n",
            (unsigned long long)s->cfg.maxmemory, (unsigned long long)k->used_memory);
    k->evict_to_cap = true;
    evict_to_cap(s); /* the first round now; server_cron goes on with it */
}

void caps_cron(server *s)
{
    if (!repl_is_replica(s)) /* a replica applies its primary's evictions */
        evict_to_cap(s);
}

bool caps_admit(server *s, client *c)
{
    if (ks_fifo_of(&s->ks, c->db))
        return true; /* a fifo database keeps to its own cap, dropping its oldest tables */
    /* Between two refreshes the figures would lag the writes (a fast writer adds tens of
       megabytes in a tenth of a second): count each write's bytes as disk it will use. */
    if (s->cfg.maxdisk) {
        uint64_t bytes = 0;
        for (int i = 1; i < c->cmd.argc; i++)
            bytes += c->cmd.argv[i].len;
        s->caps.used_disk += bytes;
        s->caps.over_disk = s->caps.used_disk > s->cfg.maxdisk;
    }
    if (!s->caps.over_memory && !s->caps.over_disk)
        return true;
    if (s->caps.over_memory) {
        /* Memory over the cap is mostly caches that a fresh look sizes back (the block
           cache is resized at each refresh): look again before evicting keys, which
           give back little memory (their share of indexes and filters). */
        caps_refresh(s);
        if (!s->caps.over_memory && !s->caps.over_disk)
            return true;
    }
    enum policy p = policy_of(s);
    if (p != NOEVICTION && !memory_beyond_keys(s) && !over_hard(s)) {
        /* With the booking at its cap, the accounts no longer say how much more to
           evict: one key per command then, as many as are written, until the real
           figures fall (more would empty the store for space still on its way back). */
        int limit = s->cfg.maxdisk && s->caps.pending_disk >= s->cfg.maxdisk / 8
                        ? 1
                        : MAX_EVICT_PER_COMMAND;
        bool out_of_time = false;
        int evicted = evict_for_budget(s, p, limit, false, EVICT_COMMAND_NS, &out_of_time);
        if (evicted > 0 || out_of_time || !still_over(s))
            return true;
    }
    if (p != NOEVICTION && ks_now_ms() - s->caps.oom_logged_ms >= 1000) {
        /* why an evicting policy refused a write (at most once a second) */
        s->caps.oom_logged_ms = ks_now_ms();
        fprintf(stderr, "shale-server: -OOM under %s: %s (used memory %llu, disk %llu; "
                        "booked to be freed: memory %llu, disk %llu)\n",
                s->cfg.maxmemory_policy,
                memory_beyond_keys(s) ? "memory beyond what keys hold"
                : over_hard(s)        ? "past 1.5x a cap while reclaim catches up"
                                      : "no key to evict",
                (unsigned long long)s->caps.used_memory, (unsigned long long)s->caps.used_disk,
                (unsigned long long)s->caps.pending_memory,
                (unsigned long long)s->caps.pending_disk);
    }
    if (s->caps.over_memory)
        resp_error(&c->out, "OOM command not allowed when used memory > 'maxmemory'.");
    else
        resp_error(&c->out, "OOM command not allowed when used disk > 'maxdisk'.");
    return false;
}

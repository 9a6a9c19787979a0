/*
 * access.h - when and how often keys were used, kept in memory only (no disk write per
 * read): the LRU clock and the LFU counter that OBJECT IDLETIME / FREQ report and that
 * eviction samples, as Redis keeps them in each object's 24 bits.
 *
 * An open-addressing table keyed by (physical database id, key). Both figures are kept
 * for every entry, so changing maxmemory-policy takes effect at once. The table has a
 * memory budget: over it, the least recently used of a few sampled entries is dropped.
 * A key without an entry was not used since the server started (or long ago): it reads
 * as idle since the start, with the LFU counter a new key starts with. Entries of
 * deleted keys are not removed at once: eviction checks the key before using an entry.
 * Not thread-safe: the server's command lock covers it.
 */
#ifndef SHALE_ACCESS_H
#define SHALE_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LFU_INIT_VAL 5 /* the counter of a new key (Redis's), so it is not evicted at once */

typedef struct access_entry {
    char *key; /* NULL: an empty slot */
    uint32_t klen;
    uint32_t phys;       /* the physical database id (SWAPDB needs no change) */
    uint64_t hash;
    uint32_t last_s;     /* last access, in seconds since the table was made */
    uint16_t lfu_min;    /* minutes since the table was made, at the last decrement */
    uint8_t lfu;         /* logarithmic access counter, 0..255 */
} access_entry;

typedef struct access_table {
    access_entry *slots;
    size_t cap, used; /* cap: a power of two */
    size_t bytes;     /* memory held: slots and keys */
    uint64_t start_ms;
    uint64_t rnd;
} access_table;

/* now_ms: the clock the table measures from. Returns 0 or -ENOMEM. */
int access_init(access_table *t, uint64_t now_ms);
void access_free(access_table *t);

/* Records a use of (phys, key) at now_ms: LRU time, and the LFU counter decayed by
   decay_min (lfu-decay-time) then incremented with probability 1/((c-5)*factor+1). */
void access_touch(access_table *t, uint32_t phys, const void *key, size_t klen, uint64_t now_ms,
                  long long log_factor, long long decay_min);

/* What is known of (phys, key) at now_ms: seconds idle and the decayed LFU counter. */
void access_get(access_table *t, uint32_t phys, const void *key, size_t klen, uint64_t now_ms,
                long long decay_min, uint64_t *idle_s, unsigned *lfu);

/* Sets what is known of (phys, key) as of now_ms: idle for idle_s seconds (up to 2^30),
   LFU counter lfu (0..255), as a key RESTOREd with IDLETIME or FREQ has. */
void access_set(access_table *t, uint32_t phys, const void *key, size_t klen, uint64_t now_ms,
                long long idle_s, int lfu);

/* Forgets (phys, key) (an evicted or deleted key). */
void access_forget(access_table *t, uint32_t phys, const void *key, size_t klen);

/* Up to n random entries (may repeat); returns how many. Entries stay owned by t and
   valid until the next change. */
size_t access_sample(access_table *t, const access_entry **out, size_t n);

/* Drops least recently used entries (of samples of 8) until t->bytes <= max_bytes. */
void access_trim(access_table *t, size_t max_bytes);

#endif

/*
 * migrate_cache.h - MIGRATE's connections to target servers, kept for reuse as Redis
 * keeps them: one per "host:port" as the command names it, at most 64 (a new one past
 * that closes one at random), each closed after 10 seconds unused (server_cron) or at
 * the first error on it. A connection remembers the database it last SELECTed, so a
 * MIGRATE to the same database of the same target sends no SELECT. Used under the
 * server's lock only (commands and the cron).
 */
#ifndef SHALE_MIGRATE_CACHE_H
#define SHALE_MIGRATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "sync_conn.h"

#define MIGRATE_CACHE_ITEMS 64
#define MIGRATE_CACHE_TTL_MS 10000

typedef struct migrate_socket {
    char *name;        /* "host:port" (malloc'ed) */
    sync_reader rd;    /* rd.fd: the connection */
    long long last_db; /* SELECTed on it, -1: unknown (SELECT again) */
    uint64_t last_use_ms;
} migrate_socket;

typedef struct migrate_cache {
    migrate_socket *items[MIGRATE_CACHE_ITEMS];
    size_t n;
} migrate_cache;

/*
 * The connection to host:port (the arguments' bytes), the cached one or a new one (its
 * connect waits up to timeout_ms). 0 with *out set (owned by the cache), or a negative
 * error when no connection could be started (nothing cached then).
 */
int migrate_cache_get(migrate_cache *mc, const char *host, size_t hlen, const char *port,
                      size_t plen, long long timeout_ms, uint64_t now_ms, migrate_socket **out);
/* Closes and forgets the connection to host:port, if there is one. */
void migrate_cache_close(migrate_cache *mc, const char *host, size_t hlen, const char *port,
                         size_t plen);
/* Closes the connections unused for more than MIGRATE_CACHE_TTL_MS. */
void migrate_cache_expire(migrate_cache *mc, uint64_t now_ms);
/* Closes them all (shutdown). */
void migrate_cache_free(migrate_cache *mc);

#endif

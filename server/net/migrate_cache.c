/*
 * migrate_cache.c - MIGRATE's cached connections to target servers (migrate_cache.h). A
 * plain array: 64 entries at most, looked up by name in a few comparisons.
 */
#include "migrate_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "host:port" (malloc'ed), or NULL. */
static char *socket_name(const char *host, size_t hlen, const char *port, size_t plen)
{
    char *name = malloc(hlen + plen + 2);
    if (!name)
        return NULL;
    memcpy(name, host, hlen);
    name[hlen] = ':';
    memcpy(name + hlen + 1, port, plen);
    name[hlen + plen + 1] = '\0';
    return name;
}

static size_t find(const migrate_cache *mc, const char *name)
{
    for (size_t i = 0; i < mc->n; i++)
        if (strcmp(mc->items[i]->name, name) == 0)
            return i;
    return mc->n;
}

/* Closes entry i and moves the last one into its place. */
static void drop(migrate_cache *mc, size_t i)
{
    migrate_socket *ms = mc->items[i];
    close(ms->rd.fd);
    free(ms->name);
    free(ms);
    mc->items[i] = mc->items[--mc->n];
}

/* The port as Redis's atoi reads it: leading digits, 0 when there are none. */
static int port_number(const char *port, size_t plen)
{
    char buf[32];
    size_t n = plen < sizeof buf - 1 ? plen : sizeof buf - 1;
    memcpy(buf, port, n);
    buf[n] = '\0';
    return atoi(buf);
}

/* A host name as a C string (the argument may hold a NUL: it then fails to resolve). */
static int connect_to(const char *host, size_t hlen, const char *port, size_t plen,
                      long long timeout_ms, int *fd)
{
    char *h = malloc(hlen + 1);
    if (!h)
        return -ENOMEM;
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    int rc = strlen(h) == hlen ? sync_connect(h, port_number(port, plen), timeout_ms, fd)
                               : -EHOSTUNREACH;
    free(h);
    return rc;
}

int migrate_cache_get(migrate_cache *mc, const char *host, size_t hlen, const char *port,
                      size_t plen, long long timeout_ms, uint64_t now_ms, migrate_socket **out)
{
    *out = NULL;
    char *name = socket_name(host, hlen, port, plen);
    if (!name)
        return -ENOMEM;
    size_t i = find(mc, name);
    if (i < mc->n) {
        free(name);
        mc->items[i]->last_use_ms = now_ms;
        *out = mc->items[i];
        return 0;
    }
    if (mc->n == MIGRATE_CACHE_ITEMS)
        drop(mc, (size_t)rand() % mc->n);
    migrate_socket *ms = calloc(1, sizeof *ms);
    int fd = -1, rc = ms ? connect_to(host, hlen, port, plen, timeout_ms, &fd) : -ENOMEM;
    if (rc) {
        free(ms);
        free(name);
        return rc;
    }
    ms->name = name;
    ms->rd.fd = fd;
    ms->last_db = -1;
    ms->last_use_ms = now_ms;
    mc->items[mc->n++] = ms;
    *out = ms;
    return 0;
}

void migrate_cache_close(migrate_cache *mc, const char *host, size_t hlen, const char *port,
                         size_t plen)
{
    char *name = socket_name(host, hlen, port, plen);
    if (!name)
        return;
    size_t i = find(mc, name);
    if (i < mc->n)
        drop(mc, i);
    free(name);
}

void migrate_cache_expire(migrate_cache *mc, uint64_t now_ms)
{
    for (size_t i = mc->n; i-- > 0;)
        if (now_ms - mc->items[i]->last_use_ms > MIGRATE_CACHE_TTL_MS)
            drop(mc, i);
}

void migrate_cache_free(migrate_cache *mc)
{
    while (mc->n)
        drop(mc, mc->n - 1);
}

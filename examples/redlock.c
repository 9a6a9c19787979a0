/*
 * redlock.c - a Redlock-style lock on one server, as client libraries build it: acquire
 * with SET <lock> <token> NX PX <ttl> (a random token per attempt), release with the
 * standard compare-and-delete script, sent by EVALSHA and, on -NOSCRIPT (a server that
 * has not seen it yet, or after SCRIPT FLUSH), by EVAL, which also caches it.
 *
 * The check: THREADS clients (one connection each) contend for the lock for a while.
 * Inside the critical section a holder claims an "owner" key with SETNX (which must find
 * it empty: otherwise two holders overlap), increments a shared counter by GET then SET
 * (not INCR: an overlap also loses increments), and clears the owner key. Every client
 * calls release after each attempt, acquired or not, as code that unlocks in a "finally"
 * does: the script makes that harmless, since it deletes the lock only for its holder.
 * At the end the counter must equal the number of critical sections, with no overlap.
 *
 * --unsafe-release releases with a plain DEL instead of the script (the bug the script
 * exists to prevent): a client that did not get the lock then deletes the holder's, a
 * third client acquires it, and the check must report overlaps (exit 1).
 *
 *   build/examples/redlock [HOST:PORT [MILLISECONDS [--unsafe-release]]]
 *   (127.0.0.1:6379, 2000)
 * Prints "sections N counter N overlaps N noscript N released N" and exits 1 on an
 * overlap or a lost increment, 2 on a client or server error.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shale_client.h"

#define THREADS 50
#define LOCK_TTL_MS 10000 /* far longer than a critical section, even on a loaded machine */

static const char release_script[] =
    "if redis.call(\"get\",KEYS[1]) == ARGV[1] then return redis.call(\"del\",KEYS[1]) "
    "else return 0 end";
/* SHA1 of release_script (sha1sum of its bytes); a wrong one would only cost a NOSCRIPT
   fallback per call, which the count printed at the end shows. */
static const char release_sha[] = "b70c2384248f88e6b75b9f89241a180f856ad852";

static char host[256] = "127.0.0.1";
static int port = 6379;
static long run_ms = 2000;
static int unsafe_release;

static atomic_long sections, overlaps, noscript_fallbacks, releases;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(shale_client *c, shale_client_reply *r, const char *what)
{
    fprintf(stderr, "redlock: %s: %s\n", what, r ? r->str : shale_client_errstr(c));
    exit(2);
}

/* A reply that must not be a client or server error. The caller frees it. */
static shale_client_reply *checked(shale_client *c, shale_client_reply *r, const char *what)
{
    if (!r || r->type == SHALE_CLIENT_REPLY_ERROR)
        die(c, r, what);
    return r;
}

static shale_client *connect_or_die(void)
{
    shale_client_options o;
    shale_client_options_default(&o);
    o.host = host;
    o.port = port;
    o.timeout_ms = 30000;
    shale_client *c;
    if (shale_client_connect(&o, &c))
        die(c, NULL, "connect");
    return c;
}

/* SET lock token NX PX ttl: 1 when this client now holds the lock. */
static int acquire(shale_client *c, const char *token)
{
    shale_client_reply *r =
        checked(c, shale_client_command(c, "SET lock %s NX PX %d", token, LOCK_TTL_MS), "SET NX");
    int got = r->type == SHALE_CLIENT_REPLY_STATUS;
    shale_client_reply_free(r);
    return got;
}

/* The release script by EVALSHA, by EVAL when the server does not have it: the number
   of keys deleted (1 only for the holder). */
static long long release_by_script(shale_client *c, const char *token)
{
    shale_client_reply *r = shale_client_command(c, "EVALSHA %s 1 lock %s", release_sha, token);
    if (r && r->type == SHALE_CLIENT_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        shale_client_reply_free(r);
        atomic_fetch_add(&noscript_fallbacks, 1);
        const char *argv[] = {"EVAL", release_script, "1", "lock", token};
        r = shale_client_commandv(c, 5, argv, NULL);
    }
    checked(c, r, "release");
    long long deleted = r->integer;
    shale_client_reply_free(r);
    return deleted;
}

static long long release(shale_client *c, const char *token)
{
    if (!unsafe_release)
        return release_by_script(c, token);
    shale_client_reply *r = checked(c, shale_client_command(c, "DEL lock"), "DEL");
    long long deleted = r->integer;
    shale_client_reply_free(r);
    return deleted;
}

/* What only a holder may do: claim the owner key (finding it taken is an overlap), add
   one to the counter by read-then-write, give the owner key back. */
static void critical_section(shale_client *c, const char *token)
{
    shale_client_reply *r = checked(c, shale_client_command(c, "SETNX owner %s", token), "SETNX");
    int claimed = r->integer == 1;
    shale_client_reply_free(r);
    if (!claimed)
        atomic_fetch_add(&overlaps, 1);
    r = checked(c, shale_client_command(c, "GET counter"), "GET");
    long long n = r->type == SHALE_CLIENT_REPLY_STRING ? atoll(r->str) : 0;
    shale_client_reply_free(r);
    shale_client_reply_free(checked(c, shale_client_command(c, "SET counter %lld", n + 1), "SET"));
    atomic_fetch_add(&sections, 1);
    if (claimed) /* the owner key of another holder is theirs to clear */
        shale_client_reply_free(checked(c, shale_client_command(c, "DEL owner"), "DEL owner"));
}

static void *contender(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u ^ (unsigned)now_ms();
    shale_client *c = connect_or_die();
    long long end = now_ms() + run_ms;
    for (long attempt = 0; now_ms() < end; attempt++) {
        char token[64];
        snprintf(token, sizeof token, "%lu-%ld-%u", (unsigned long)(uintptr_t)arg, attempt,
                 rand_r(&seed));
        if (acquire(c, token))
            critical_section(c, token);
        /* "finally": released whether or not it was acquired */
        atomic_fetch_add(&releases, release(c, token));
    }
    shale_client_close(c);
    return NULL;
}

static long long read_counter(void)
{
    shale_client *c = connect_or_die();
    shale_client_reply *r = checked(c, shale_client_command(c, "GET counter"), "GET");
    long long n = r->type == SHALE_CLIENT_REPLY_STRING ? atoll(r->str) : 0;
    shale_client_reply_free(r);
    shale_client_close(c);
    return n;
}

static void reset_keys(void)
{
    shale_client *c = connect_or_die();
    shale_client_reply_free(checked(c, shale_client_command(c, "DEL lock owner counter"), "DEL"));
    shale_client_close(c);
}

int main(int argc, char **argv)
{
    if (argc > 1 && sscanf(argv[1], "%255[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "usage: redlock [HOST:PORT [MILLISECONDS [--unsafe-release]]]\n");
        return 2;
    }
    if (argc > 2)
        run_ms = atol(argv[2]);
    unsafe_release = argc > 3 && strcmp(argv[3], "--unsafe-release") == 0;
    reset_keys();
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, contender, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    long long counter = read_counter();
    long n = atomic_load(&sections);
    printf("sections %ld counter %lld overlaps %ld noscript %ld released %ld\n", n, counter,
           atomic_load(&overlaps), atomic_load(&noscript_fallbacks), atomic_load(&releases));
    return atomic_load(&overlaps) || counter != n ? 1 : 0;
}

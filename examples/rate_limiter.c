/*
 * rate_limiter.c - a token-bucket rate limiter as one Lua script: the bucket (tokens left
 * and the time they were counted) lives in a hash; each request refills it by the time
 * elapsed since (RATE tokens per second, at most CAPACITY), then takes one token if there
 * is one. The whole read-refill-take-write runs as one script, so concurrent requests
 * cannot take the same token. The time is the server's TIME, or the caller's clock
 * ("now" in milliseconds as ARGV[3]) with --client-time.
 *
 * The check: THREADS clients (one connection each) send requests as fast as they can
 * for a while. A bucket that starts full can never admit more than
 * CAPACITY + RATE x elapsed over the window, measured from before the first request to
 * after the last reply; it must also have refused some (it was overloaded) and admitted
 * at least CAPACITY (the first requests find it full).
 *
 * --nonatomic does the same steps as separate commands from the client (HMGET, then
 * HSET: the read-modify-write a script exists to avoid): concurrent clients read the
 * same tokens and all admit, and the check must report over-admission (exit 1).
 *
 *   build/examples/rate_limiter [HOST:PORT [MILLISECONDS [--client-time|--nonatomic]]]
 *   (127.0.0.1:6379, 2000)
 * Prints "admitted N refused N bound N elapsed_ms N" and exits 1 when admitted exceeds
 * the bound or the bucket did not limit, 2 on a client or server error.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "shale_client.h"

#define THREADS 50
#define CAPACITY 20
#define RATE 500 /* tokens per second */

/*
 * KEYS[1]: the bucket. ARGV[1] capacity, ARGV[2] tokens per second, ARGV[3] now in ms
 * or "" for the server's TIME. Returns 1 (admitted) or 0. Time going backwards (callers'
 * clocks disagree) refills nothing. The bucket expires once it would be full again.
 */
static const char bucket_script[] =
    "local capacity = tonumber(ARGV[1])\n"
    "local rate = tonumber(ARGV[2])\n"
    "local now = tonumber(ARGV[3])\n"
    "if not now then\n"
    "  local t = redis.call('TIME')\n"
    "  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens = tonumber(b[1]) or capacity\n"
    "local ts = tonumber(b[2]) or now\n"
    "if now > ts then\n"
    "  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)\n"
    "  ts = now\n"
    "end\n"
    "local admitted = 0\n"
    "if tokens >= 1 then tokens = tokens - 1; admitted = 1 end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)\n"
    "return admitted\n";

enum mode { SERVER_TIME, CLIENT_TIME, NONATOMIC };

static char host[256] = "127.0.0.1";
static int port = 6379;
static long run_ms = 2000;
static enum mode mode = SERVER_TIME;
static char script_sha[41];

static atomic_long admitted, refused;

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wall clock, as the server's TIME counts (same machine in the test). */
static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void die(shale_client *c, shale_client_reply *r, const char *what)
{
    fprintf(stderr, "rate_limiter: %s: %s\n", what, r ? r->str : shale_client_errstr(c));
    exit(2);
}

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

/* One request through the script: 1 admitted, 0 refused. */
static int request_atomic(shale_client *c)
{
    char now[32] = "";
    if (mode == CLIENT_TIME)
        snprintf(now, sizeof now, "%lld", wall_ms());
    char cap[16], rate[16];
    snprintf(cap, sizeof cap, "%d", CAPACITY);
    snprintf(rate, sizeof rate, "%d", RATE);
    const char *argv[] = {"EVALSHA", script_sha, "1", "bucket", cap, rate, now};
    shale_client_reply *r = checked(c, shale_client_commandv(c, 7, argv, NULL), "EVALSHA");
    int yes = r->integer == 1;
    shale_client_reply_free(r);
    return yes;
}

/* The same algorithm as separate commands: what goes wrong without the script. */
static int request_nonatomic(shale_client *c)
{
    long long now = wall_ms();
    shale_client_reply *r = checked(c, shale_client_command(c, "HMGET bucket tokens ts"), "HMGET");
    double tokens = r->element[0]->type == SHALE_CLIENT_REPLY_STRING ? atof(r->element[0]->str)
                                                                     : CAPACITY;
    long long ts = r->element[1]->type == SHALE_CLIENT_REPLY_STRING ? atoll(r->element[1]->str)
                                                                    : now;
    shale_client_reply_free(r);
    if (now > ts) {
        tokens += (double)(now - ts) * RATE / 1000;
        tokens = tokens > CAPACITY ? CAPACITY : tokens;
        ts = now;
    }
    int yes = tokens >= 1;
    if (yes)
        tokens -= 1;
    char t[64];
    snprintf(t, sizeof t, "%.17g", tokens);
    shale_client_reply_free(
        checked(c, shale_client_command(c, "HSET bucket tokens %s ts %lld", t, ts), "HSET"));
    return yes;
}

static void *client_loop(void *arg)
{
    long long end = *(const long long *)arg;
    shale_client *c = connect_or_die();
    while (monotonic_ms() < end) {
        int yes = mode == NONATOMIC ? request_nonatomic(c) : request_atomic(c);
        atomic_fetch_add(yes ? &admitted : &refused, 1);
    }
    shale_client_close(c);
    return NULL;
}

/* Loads the script (the requests then use EVALSHA) and empties the bucket's key. */
static void prepare(void)
{
    shale_client *c = connect_or_die();
    const char *argv[] = {"SCRIPT", "LOAD", bucket_script};
    shale_client_reply *r = checked(c, shale_client_commandv(c, 3, argv, NULL), "SCRIPT LOAD");
    snprintf(script_sha, sizeof script_sha, "%s", r->str);
    shale_client_reply_free(r);
    shale_client_reply_free(checked(c, shale_client_command(c, "DEL bucket"), "DEL"));
    shale_client_close(c);
}

int main(int argc, char **argv)
{
    if (argc > 1 && sscanf(argv[1], "%255[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "usage: rate_limiter [HOST:PORT [MILLISECONDS [--client-time|"
                        "--nonatomic]]]\n");
        return 2;
    }
    if (argc > 2)
        run_ms = atol(argv[2]);
    if (argc > 3)
        mode = strcmp(argv[3], "--client-time") == 0 ? CLIENT_TIME
               : strcmp(argv[3], "--nonatomic") == 0 ? NONATOMIC
                                                     : SERVER_TIME;
    prepare();
    pthread_t t[THREADS];
    long long start = monotonic_ms();
    long long end = start + run_ms;
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, client_loop, &end);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* whole milliseconds elapsed on either side of the window, rounded up */
    long long elapsed = monotonic_ms() - start + 1;
    long long bound = CAPACITY + (long long)RATE * elapsed / 1000 + 1;
    long yes = atomic_load(&admitted), no = atomic_load(&refused);
    printf("admitted %ld refused %ld bound %lld elapsed_ms %lld\n", yes, no, bound, elapsed);
    return yes > bound || no == 0 || yes < CAPACITY ? 1 : 0;
}

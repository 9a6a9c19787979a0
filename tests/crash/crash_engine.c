/*
 * crash_engine.c - kill -9 the engine at random moments and check what survives.
 *
 *   crash_engine [--rounds=N] [--seed=S] [--sync=yes|no] [--powerloss] [--dir=DIR]
 *                [--max-ms=MS]
 *
 * Each round forks a writer that opens the store in DIR and writes numbered batches: a
 * batch sets a handful of keys (some with an expiry an hour away, some deleted) to values
 * that name the batch, and one marker key of its own. After each write returns, the
 * writer reports the batch number to the parent through a pipe (with --sync=no it also
 * syncs every 1000 batches and reports that). The parent kills the writer with SIGKILL at a
 * random moment, opens the store itself and checks:
 *   --sync=yes: every reported batch is present; no batch is half visible (a marker
 *               present means all its keys hold that batch or a later one);
 *   --sync=no:  the batches present are a prefix (markers 1..m without a gap), m covers
 *               every batch reported before the last reported sync, none is half visible.
 * With --powerloss the kill is a power cut: the writer's file layer records how far each
 * file was synced (file_powerloss_track, in memory shared with the parent), and the
 * parent cuts every file back to that before it reopens the store; the same rules hold.
 * Then the next round continues in the same store. Prints one line per round and ends
 * with "N passed, N failed"; exits 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "shale.h"

#define POWERLOSS_TABLE (1u << 20)

#define KEYSPACE 3000
#define MAX_BATCH 8

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Batch b's keys are a function of (seed, b), so the checker knows them. */
static int batch_keys(uint64_t seed, uint64_t b, int *keys, bool *del, bool *ttl)
{
    uint64_t h = mix(seed * 1000003u + b);
    int n = 1 + (int)(h % MAX_BATCH);
    for (int i = 0; i < n; i++) {
        uint64_t k = mix(h + (uint64_t)i);
        keys[i] = (int)(k % KEYSPACE);
        for (int j = 0; j < i; j++) /* distinct keys, so each has one fate per batch */
            if (keys[j] == keys[i]) {
                keys[i] = (keys[i] + 1) % KEYSPACE;
                j = -1;
            }
        del[i] = k % 13 == 0;
        ttl[i] = k % 5 == 0;
    }
    return n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void options(shale_options *o, bool sync)
{
    shale_options_default(o);
    o->memtable_size = 512 * 1024; /* flushes and compactions happen during the rounds */
    o->table_size = 256 * 1024;
    o->base_level_size = 1 << 20;
    o->value_threshold = 64; /* values through the value log too */
    o->vlog_file_size = 1 << 20;
    o->sync_writes = sync;
    o->sync_interval_ms = 0;
}

/* The writer: never returns. Reports "A <b>" after batch b and "S <b>" after a sync. */
static void writer(const char *dir, uint64_t seed, uint64_t first, bool sync, int out,
                   void *powerloss)
{
    if (powerloss)
        file_powerloss_track(powerloss, POWERLOSS_TABLE);
    shale_options o;
    options(&o, sync);
    shale_db *db;
    if (shale_open(dir, &o, &db))
        _exit(3);
    shale_batch *b;
    shale_batch_new(&b);
    char key[32], val[256], line[64];
    int keys[MAX_BATCH];
    bool del[MAX_BATCH], ttl[MAX_BATCH];
    for (uint64_t id = first;; id++) {
        shale_batch_clear(b);
        int n = batch_keys(seed, id, keys, del, ttl);
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof key, "k%05d", keys[i]);
            if (del[i]) {
                shale_batch_delete(b, key, strlen(key));
                continue;
            }
            int len = snprintf(val, sizeof val, "%" PRIu64 ":", id);
            memset(val + len, 'v', (size_t)(40 + (id + (uint64_t)i) % 150));
            len += 40 + (int)((id + (uint64_t)i) % 150);
            shale_batch_put(b, key, strlen(key), val, (size_t)len, ttl[i] ? now_ms() + 3600000 : 0);
        }
        snprintf(key, sizeof key, "marker:%012" PRIu64, id);
        shale_batch_put(b, key, strlen(key), "x", 1, 0);
        if (shale_write(db, b))
            _exit(4);
        int l = snprintf(line, sizeof line, "A %" PRIu64 "\n", id);
        if (write(out, line, (size_t)l) != l)
            _exit(5);
        if (!sync && id % 1000 == 0) {
            if (shale_sync(db))
                _exit(6);
            l = snprintf(line, sizeof line, "S %" PRIu64 "\n", id);
            if (write(out, line, (size_t)l) != l)
                _exit(5);
        }
    }
}

static bool has_marker(shale_db *db, uint64_t id)
{
    char key[32];
    snprintf(key, sizeof key, "marker:%012" PRIu64, id);
    void *v = NULL;
    size_t n;
    int rc = shale_get(db, key, strlen(key), &v, &n);
    shale_free(v);
    return rc == 0;
}

/* Batch id's keys hold id or a later batch's value, or a later batch deleted them. */
static bool batch_whole(shale_db *db, uint64_t seed, uint64_t id, uint64_t last, char *why,
                        size_t whylen)
{
    int keys[MAX_BATCH];
    bool del[MAX_BATCH], ttl[MAX_BATCH];
    int n = batch_keys(seed, id, keys, del, ttl);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%05d", keys[i]);
        void *v = NULL;
        size_t len;
        int rc = shale_get(db, key, strlen(key), &v, &len);
        uint64_t holder = rc == 0 ? strtoull(v, NULL, 10) : 0;
        shale_free(v);
        if (rc == 0 && holder >= id && holder <= last)
            continue;
        if (rc == SHALE_ENOTFOUND) {
            /* deleted: by this batch, or by a later one that is itself present */
            bool ok = del[i];
            for (uint64_t later = id + 1; !ok && later <= last; later++) {
                int lk[MAX_BATCH];
                bool ld[MAX_BATCH], lt[MAX_BATCH];
                int ln = batch_keys(seed, later, lk, ld, lt);
                for (int j = 0; j < ln; j++)
                    if (lk[j] == keys[i] && ld[j] && has_marker(db, later))
                        ok = true;
            }
            if (ok)
                continue;
        }
        snprintf(why, whylen, "batch %" PRIu64 ": key %s %s", id, key,
                 rc == 0 ? "holds an older batch's value" : "is missing");
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    int rounds = 5, max_ms = 400;
    uint64_t seed = (uint64_t)time(NULL);
    bool sync = true, powerloss = false;
    char dir[512] = "";
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--rounds=", 9) == 0)
            rounds = atoi(argv[i] + 9);
        else if (strncmp(argv[i], "--seed=", 7) == 0)
            seed = strtoull(argv[i] + 7, NULL, 10);
        else if (strncmp(argv[i], "--sync=", 7) == 0)
            sync = strcmp(argv[i] + 7, "yes") == 0;
        else if (strncmp(argv[i], "--dir=", 6) == 0)
            snprintf(dir, sizeof dir, "%s", argv[i] + 6);
        else if (strcmp(argv[i], "--powerloss") == 0)
            powerloss = true;
        else if (strncmp(argv[i], "--max-ms=", 9) == 0)
            max_ms = atoi(argv[i] + 9);
        else {
            fprintf(stderr, "usage: crash_engine [--rounds=N] [--seed=S] [--sync=yes|no] "
                            "[--powerloss] [--dir=DIR] [--max-ms=MS]\n");
            return 2;
        }
    }
    bool own_dir = !dir[0];
    if (own_dir) {
        snprintf(dir, sizeof dir, "%s/shale-crash-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir))
            return 2;
    }
    printf("crash_engine: seed %" PRIu64 ", sync %s, %s, %d rounds, %s\n", seed,
           sync ? "yes" : "no", powerloss ? "power cuts" : "kill -9", rounds, dir);
    void *shm = NULL;
    if (powerloss) {
        shm = mmap(NULL, POWERLOSS_TABLE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED)
            return 2;
    }
    srand((unsigned)seed);
    int passed = 0, failed = 0;
    uint64_t next = 1, acked_total = 0;
    for (int round = 1; round <= rounds; round++) {
        int fds[2];
        if (pipe(fds))
            return 2;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            writer(dir, seed, next, sync, fds[1], shm);
        }
        close(fds[1]);
        usleep((useconds_t)(20 + rand() % max_ms) * 1000);
        kill(pid, SIGKILL);
        /* what the writer reported before it died */
        uint64_t last_acked = 0, last_synced_ack = 0, acked = 0;
        FILE *f = fdopen(fds[0], "r");
        char kind;
        uint64_t id;
        uint64_t last_ack_seen = 0;
        while (fscanf(f, " %c %" SCNu64, &kind, &id) == 2) {
            if (kind == 'A') {
                last_acked = last_ack_seen = id;
                acked++;
            } else {
                last_synced_ack = id;
            }
        }
        fclose(f);
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status)) {
            printf("round %d: the writer exited with %d before the kill\n", round, WEXITSTATUS(status));
            failed++;
            break;
        }
        acked_total += acked;
        int cut = shm ? file_powerloss_apply(shm, POWERLOSS_TABLE, dir) : 0;
        /* check */
        shale_options o;
        options(&o, sync);
        shale_db *db;
        int rc = shale_open(dir, &o, &db);
        char why[256] = "";
        bool ok = rc == 0;
        if (!ok)
            snprintf(why, sizeof why, "reopen failed: %s", shale_strerror(rc));
        /* the batches present from this round: markers next.. */
        uint64_t top = next - 1;
        while (ok && has_marker(db, top + 1))
            top++;
        uint64_t beyond = top + 1; /* a marker after a gap would break the prefix rule */
        for (uint64_t k = beyond + 1; ok && k <= beyond + 64; k++)
            if (has_marker(db, k)) {
                ok = false;
                snprintf(why, sizeof why, "batch %" PRIu64 " present but %" PRIu64 " missing", k, beyond);
            }
        if (ok && sync && last_acked > top) {
            ok = false;
            snprintf(why, sizeof why, "acknowledged batch %" PRIu64 " lost (present up to %" PRIu64 ")",
                     top + 1, top);
        }
        if (ok && !sync && last_synced_ack > top) {
            ok = false;
            snprintf(why, sizeof why, "synced batch %" PRIu64 " lost (present up to %" PRIu64 ")",
                     last_synced_ack, top);
        }
        for (uint64_t b = next; ok && b <= top; b++)
            ok = batch_whole(db, seed, b, top, why, sizeof why);
        if (rc == 0)
            shale_close(db);
        printf("round %d: %" PRIu64 " batches acknowledged (through %" PRIu64 "), %" PRIu64
               " present%s: %s%s\n", round, acked, last_acked, top - next + 1,
               shm ? (cut ? ", files cut to their synced ends" : ", nothing unsynced") : "",
               ok ? "ok" : "FAILED: ", why);
        if (ok)
            passed++;
        else
            failed++;
        (void)last_ack_seen;
        next = top + 1;
        if (!ok)
            break;
    }
    printf("%" PRIu64 " acknowledged batches checked\n", acked_total);
    printf("%d passed, %d failed\n", passed, failed);
    if (own_dir && failed == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "crash_engine: could not remove %s\n", dir);
    }
    return failed ? 1 : 0;
}

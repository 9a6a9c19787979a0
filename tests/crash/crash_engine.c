/*
 * crash_engine.c - kill -9 the engine at random moments and check what survives.
 *
 *   crash_engine [--rounds=N] [--seed=S] [--sync=yes|no] [--powerloss[=worst|reorder|holes]]
 *                [--faults] [--vary] [--dir=DIR] [--max-ms=MS]
 *
 * Each round forks a writer that opens the store in DIR and writes numbered batches: a
 * batch sets a handful of keys (some with an expiry an hour away, some deleted) to values
 * that name the batch, and one marker key of its own; one batch in six first deletes a
 * range of up to 16 keys (shale_batch_delete_range), which its own later puts override.
 * After each write returns, the writer reports the batch number to the parent through
 * a pipe (with --sync=no it also syncs every 1000 batches and reports that). The parent
 * kills the writer with SIGKILL at a random moment, opens the store itself and checks:
 *   --sync=yes: every reported batch is present; no batch is half visible (a marker
 *               present means all its keys hold that batch or a later one);
 *   --sync=no:  the batches present are a prefix (markers 1..m without a gap), m covers
 *               every batch reported before the last reported sync, none is half visible.
 * With --powerloss the kill is a power cut: the writer's file layer records how far each
 * file was synced and which creates, renames and unlinks no directory sync has covered
 * (file_powerloss_track, in memory shared with the parent), and the parent applies a
 * power cut before it reopens the store (file_powerloss_apply): `worst` loses every
 * unsynced byte and undoes every such directory operation; `reorder` persists unsynced
 * bytes out of order across files (each file keeps a random part of its unsynced tail,
 * so a newer log can survive an older log's lost tail) and keeps a random prefix of the
 * directory operations; `holes` also loses ranges in the middle of a file's unsynced
 * bytes. The same rules hold.
 * --faults: the writer's n-th directory sync fails (n random per round); a write or open
 * that then fails stops the writer (it reports it) and the rules still hold.
 * --vary: the options change from round to round (memtable sizes and count, table size,
 * the value-log threshold and segment size, compression, buffered log writes without
 * sync, the L0 trigger, a flush and compaction rate limit, how often the writer syncs
 * without sync writes), and the checking open uses yet others: a restart with other
 * options is a normal event.
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

#define POWERLOSS_TABLE (8u << 20)

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

/* Batch b's keys are a function of (seed, b), so the checker knows them; so is the
   range [*rd_lo, *rd_hi) it deletes first (empty: none). */
static int batch_keys(uint64_t seed, uint64_t b, int *keys, bool *del, bool *ttl, int *rd_lo,
                      int *rd_hi)
{
    uint64_t h = mix(seed * 1000003u + b);
    uint64_t r = mix(h ^ 0x5bd1e995u);
    *rd_lo = (int)(r % KEYSPACE);
    *rd_hi = r % 6 == 0 ? *rd_lo + 1 + (int)((r >> 20) % 16) : *rd_lo;
    if (*rd_hi > KEYSPACE)
        *rd_hi = KEYSPACE;
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

/* vary: 0 for the fixed options, else a per-open seed that picks other ones. */
static void options(shale_options *o, bool sync, uint64_t vary)
{
    shale_options_default(o);
    o->memtable_size = 512 * 1024; /* flushes and compactions happen during the rounds */
    o->table_size = 256 * 1024;
    o->base_level_size = 1 << 20;
    o->value_threshold = 64; /* values through the value log too */
    o->vlog_file_size = 1 << 20;
    o->sync_writes = sync;
    o->sync_interval_ms = 0;
    if (!vary)
        return;
    uint64_t h = mix(vary);
    static const size_t memtable[] = {128 * 1024, 256 * 1024, 512 * 1024, 1024 * 1024};
    static const size_t threshold[] = {64, 100, 200, 1 << 20}; /* the last: no pointers */
    o->memtable_size = memtable[h % 4];
    o->table_size = (h >> 4) % 2 ? 128 * 1024 : 512 * 1024;
    o->value_threshold = threshold[(h >> 8) % 4];
    o->vlog_file_size = (h >> 12) % 2 ? 1 << 20 : 3 << 20;
    o->compression = (h >> 16) % 2 ? SHALE_COMPRESSION_LZ4 : SHALE_COMPRESSION_NONE;
    o->manual_wal_flush = !sync && (h >> 20) % 3 == 0;
    o->l0_compaction_trigger = 2 + (int)((h >> 24) % 4);
    /* slow flushes: a rolled log's memtable stays unflushed (its tail unsynced) while
       the next log fills */
    o->compaction_rate_limit = (h >> 28) % 2 == 0 ? 4u << 20 : 0;
    o->num_memtables = 2 + (int)((h >> 32) % 3);
}

static void describe(const shale_options *o, char *out, size_t n)
{
    snprintf(out, n,
             "memtable %zuK x%d, table %lluK, threshold %zu, segment %lluM, %s%s, L0 %d, "
             "rate %lluM/s",
             o->memtable_size >> 10, o->num_memtables, (unsigned long long)(o->table_size >> 10),
             o->value_threshold, (unsigned long long)(o->vlog_file_size >> 20),
             o->compression == SHALE_COMPRESSION_LZ4 ? "lz4" : "raw",
             o->manual_wal_flush ? ", buffered log" : "", o->l0_compaction_trigger,
             (unsigned long long)(o->compaction_rate_limit >> 20));
}

/* Under --faults a failed open or write stops the writer until it is killed. */
static void stopped(int out, const char *what, int rc)
{
    char line[160];
    int l = snprintf(line, sizeof line, "F %s: %s\n", what, shale_strerror(rc));
    if (write(out, line, (size_t)l) != l)
        _exit(5);
    for (;;)
        pause();
}

/* The writer: never returns. Reports "A <b>" after batch b and "S <b>" after a sync.
   fault_at: with --faults, the directory sync that fails (0: none). */
static void writer(const char *dir, uint64_t seed, uint64_t first, bool sync, int out,
                   void *powerloss, uint64_t vary, uint64_t fault_at)
{
    if (powerloss)
        file_powerloss_track(powerloss, POWERLOSS_TABLE);
    if (fault_at)
        file_fault_arm(FILE_OP_SYNC_DIR, fault_at, EIO, false, false);
    shale_options o;
    options(&o, sync, vary);
    shale_db *db;
    int orc = shale_open(dir, &o, &db);
    if (orc && fault_at)
        stopped(out, "open", orc);
    if (orc)
        _exit(3);
    /* without sync writes, a shale_sync every 1000 batches (under --vary sometimes
       every 20000: longer stretches of unsynced logs) */
    uint64_t sync_every = vary && mix(vary + 5) % 2 ? 20000 : 1000;
    shale_batch *b;
    shale_batch_new(&b);
    char key[32], val[256], line[64];
    int keys[MAX_BATCH], rd_lo, rd_hi;
    bool del[MAX_BATCH], ttl[MAX_BATCH];
    for (uint64_t id = first;; id++) {
        shale_batch_clear(b);
        int n = batch_keys(seed, id, keys, del, ttl, &rd_lo, &rd_hi);
        if (rd_hi > rd_lo) {
            char hi[32];
            snprintf(key, sizeof key, "k%05d", rd_lo);
            snprintf(hi, sizeof hi, "k%05d", rd_hi);
            shale_batch_delete_range(b, key, strlen(key), hi, strlen(hi));
        }
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
        int wrc = shale_write(db, b);
        if (wrc && fault_at)
            stopped(out, "write", wrc);
        if (wrc)
            _exit(4);
        int l = snprintf(line, sizeof line, "A %" PRIu64 "\n", id);
        if (write(out, line, (size_t)l) != l)
            _exit(5);
        if (!sync && id % sync_every == 0) {
            int src = shale_sync(db);
            if (src && fault_at)
                stopped(out, "sync", src);
            if (src)
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

/* The first marker after batch `after` that is present (0: none): what is present
   must be a prefix of the batches, so any is a gap. */
static uint64_t marker_after(shale_db *db, uint64_t after)
{
    char key[32];
    snprintf(key, sizeof key, "marker:%012" PRIu64, after + 1);
    shale_iter *it;
    if (shale_iter_new(db, NULL, &it))
        return 0;
    uint64_t found = 0;
    shale_iter_seek(it, key, strlen(key));
    if (shale_iter_valid(it)) {
        size_t klen;
        const char *k = shale_iter_key(it, &klen);
        if (klen == 19 && memcmp(k, "marker:", 7) == 0)
            found = strtoull(k + 7, NULL, 10);
    }
    shale_iter_free(it);
    return found;
}

/* Did a batch after id (up to last, and present) delete key, by key or by range? */
static bool deleted_later(shale_db *db, uint64_t seed, uint64_t id, uint64_t last, int key)
{
    for (uint64_t later = id + 1; later <= last; later++) {
        int lk[MAX_BATCH], lo, hi;
        bool ld[MAX_BATCH], lt[MAX_BATCH];
        int ln = batch_keys(seed, later, lk, ld, lt, &lo, &hi);
        bool hit = key >= lo && key < hi;
        for (int j = 0; j < ln && !hit; j++)
            hit = lk[j] == key && ld[j];
        if (hit && has_marker(db, later))
            return true;
    }
    return false;
}

/* The batch (holder) whose value key holds: 0 when absent, UINT64_MAX on an error. */
static uint64_t holder_of(shale_db *db, int key)
{
    char k[32];
    snprintf(k, sizeof k, "k%05d", key);
    void *v = NULL;
    size_t len;
    int rc = shale_get(db, k, strlen(k), &v, &len);
    uint64_t holder = rc == 0 ? strtoull(v, NULL, 10) : rc == SHALE_ENOTFOUND ? 0 : UINT64_MAX;
    shale_free(v);
    return holder;
}

/* Batch id's keys hold id or a later batch's value, or a later batch deleted them; the
   keys of its deleted range that it did not write itself are absent or hold a later
   batch's value. */
static bool batch_whole(shale_db *db, uint64_t seed, uint64_t id, uint64_t last, char *why,
                        size_t whylen)
{
    int keys[MAX_BATCH], lo, hi;
    bool del[MAX_BATCH], ttl[MAX_BATCH];
    int n = batch_keys(seed, id, keys, del, ttl, &lo, &hi);
    for (int i = 0; i < n; i++) {
        uint64_t holder = holder_of(db, keys[i]);
        if (holder != 0 && holder >= id && holder <= last)
            continue;
        /* deleted: by this batch, or by a later one that is itself present */
        if (holder == 0 && (del[i] || deleted_later(db, seed, id, last, keys[i])))
            continue;
        snprintf(why, whylen, "batch %" PRIu64 ": key k%05d %s", id, keys[i],
                 holder ? "holds an older batch's value" : "is missing");
        return false;
    }
    for (int k = lo; k < hi; k++) {
        bool own = false;
        for (int i = 0; i < n && !own; i++)
            own = keys[i] == k;
        uint64_t holder = own ? 0 : holder_of(db, k);
        if (holder != 0 && (holder <= id || holder > last)) {
            snprintf(why, whylen,
                     "batch %" PRIu64 ": key k%05d of its deleted range holds batch %" PRIu64
                     "'s value",
                     id, k, holder);
            return false;
        }
    }
    return true;
}

static const char *mode_names[] = {"worst", "reorder", "holes"};

int main(int argc, char **argv)
{
    int rounds = 5, max_ms = 400;
    uint64_t seed = (uint64_t)time(NULL);
    bool sync = true, powerloss = false, faults = false, vary = false;
    enum file_powerloss_mode mode = FILE_POWERLOSS_WORST;
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
        else if (strcmp(argv[i], "--powerloss") == 0 || strcmp(argv[i], "--powerloss=worst") == 0)
            powerloss = true;
        else if (strcmp(argv[i], "--powerloss=reorder") == 0)
            powerloss = true, mode = FILE_POWERLOSS_REORDER;
        else if (strcmp(argv[i], "--powerloss=holes") == 0)
            powerloss = true, mode = FILE_POWERLOSS_HOLES;
        else if (strcmp(argv[i], "--faults") == 0)
            faults = true;
        else if (strcmp(argv[i], "--vary") == 0)
            vary = true;
        else if (strncmp(argv[i], "--max-ms=", 9) == 0)
            max_ms = atoi(argv[i] + 9);
        else {
            fprintf(stderr, "usage: crash_engine [--rounds=N] [--seed=S] [--sync=yes|no] "
                            "[--powerloss[=worst|reorder|holes]] [--faults] [--vary] "
                            "[--dir=DIR] [--max-ms=MS]\n");
            return 2;
        }
    }
    bool own_dir = !dir[0];
    if (own_dir) {
        snprintf(dir, sizeof dir, "%s/shale-crash-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir))
            return 2;
    }
    char how[64];
    snprintf(how, sizeof how, "power cuts (%s)", mode_names[mode]);
    printf("crash_engine: seed %" PRIu64 ", sync %s, %s%s%s, %d rounds, %s\n", seed,
           sync ? "yes" : "no", powerloss ? how : "kill -9",
           faults ? ", directory sync faults" : "", vary ? ", options vary" : "", rounds, dir);
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
        uint64_t wvary = vary ? seed * 1000 + (uint64_t)round * 2 : 0;
        uint64_t cvary = vary ? wvary + 1 : 0;
        /* half the rounds: one of the first 8 directory syncs fails */
        uint64_t fault_at = faults && rand() % 2 ? 1 + (uint64_t)(rand() % 8) : 0;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            writer(dir, seed, next, sync, fds[1], shm, wvary, fault_at);
        }
        close(fds[1]);
        usleep((useconds_t)(20 + rand() % max_ms) * 1000);
        kill(pid, SIGKILL);
        /* what the writer reported before it died */
        uint64_t last_acked = 0, last_synced_ack = 0, acked = 0;
        char stop[160] = "";
        FILE *f = fdopen(fds[0], "r");
        char line[200];
        while (fgets(line, sizeof line, f)) {
            uint64_t id = strtoull(line + 1, NULL, 10);
            if (line[0] == 'A') {
                last_acked = id;
                acked++;
            } else if (line[0] == 'S') {
                last_synced_ack = id;
            } else if (line[0] == 'F') {
                snprintf(stop, sizeof stop, ", writer stopped by a fault (%.*s)",
                         (int)strcspn(line + 2, "\n"), line + 2);
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
        file_powerloss_stats pl = {0};
        if (shm)
            file_powerloss_apply(shm, POWERLOSS_TABLE, dir, mode, seed * 7919 + (uint64_t)round, &pl);
        /* check, with options of its own under --vary */
        shale_options o;
        options(&o, sync, cvary);
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
        uint64_t after = ok ? marker_after(db, top + 1) : 0; /* a gap breaks the prefix rule */
        if (after) {
            ok = false;
            snprintf(why, sizeof why, "batch %" PRIu64 " present but %" PRIu64 " missing", after,
                     top + 1);
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
        char cut[200] = "";
        if (shm)
            snprintf(cut, sizeof cut,
                     "; power cut: %d files lost unsynced bytes (%d kept part, %d with a hole), "
                     "%d directory ops undone, %d kept%s",
                     pl.files_cut, pl.files_partial, pl.files_holed, pl.ops_undone, pl.ops_kept,
                     pl.ops_dropped ? " (ops table overflowed)" : "");
        printf("round %d: %" PRIu64 " batches acknowledged (through %" PRIu64 "), %" PRIu64
               " present%s%s: %s%s\n", round, acked, last_acked, top - next + 1, cut, stop,
               ok ? "ok" : "FAILED: ", why);
        if (vary) {
            char ws[160], cs[160];
            shale_options wo;
            options(&wo, sync, wvary);
            describe(&wo, ws, sizeof ws);
            describe(&o, cs, sizeof cs);
            printf("  options: writer %s; check %s\n", ws, cs);
        }
        if (ok)
            passed++;
        else
            failed++;
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

/*
 * shale-bench.c - a db_bench-compatible benchmark for the shale engine. It takes
 * db_bench's flags, generates db_bench's workload (keys as GenerateKeyFromInt, values
 * from a RandomGenerator-like buffer of the same compressibility) and prints db_bench's
 * result lines, so that one parser reads both (bench/vs-rocksdb.sh).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "shale.h"

/* ---- flags ---- */

static struct flags {
    const char *benchmarks;
    int64_t num, reads;
    int key_size, value_size, threads, batch_size;
    bool sync, use_existing_db, histogram, statistics, manual_wal_flush;
    int duration;
    double compression_ratio;
    const char *compression_type;
    const char *db;
    uint64_t seed;
    uint64_t write_buffer_size, cache_size, block_size, target_file_size_base,
        max_bytes_for_level_base, value_threshold, write_rate_limit, sync_interval_ms;
    int max_write_buffer_number, bloom_bits, l0_trigger, l0_slowdown, l0_stop,
        max_background_compactions, compaction_style;
    /* queue: live items; the engine's tombstone triggers (-1 / UINT64_MAX: its default) */
    int64_t queue_length;
    int tombstone_compaction_ratio;
    uint64_t iter_skip_compaction_trigger;
} F = {
    .benchmarks = "fillseq,fillrandom,readrandom",
    .num = 1000000,
    .reads = -1,
    .key_size = 16,
    .value_size = 100,
    .threads = 1,
    .batch_size = 1,
    .compression_ratio = 0.5,
    .compression_type = "lz4",
    .db = "/tmp/shale-bench",
    .seed = 0,
    .bloom_bits = 10,
    .l0_trigger = -1,
    .l0_slowdown = -1,
    .l0_stop = -1,
    .max_background_compactions = -1,
    .max_write_buffer_number = -1,
    .compaction_style = -1,
    .value_threshold = UINT64_MAX, /* unset: the engine's default; 0 keeps values in tables */
    .queue_length = 1000,
    .tombstone_compaction_ratio = -1,
    .iter_skip_compaction_trigger = UINT64_MAX,
};

typedef struct flag_def {
    const char *name;
    char type; /* i: int, l: int64, u: uint64, b: bool, d: double, s: string */
    void *p;
} flag_def;

static const flag_def flag_defs[] = {
    {"benchmarks", 's', &F.benchmarks},
    {"num", 'l', &F.num},
    {"reads", 'l', &F.reads},
    {"key_size", 'i', &F.key_size},
    {"value_size", 'i', &F.value_size},
    {"threads", 'i', &F.threads},
    {"batch_size", 'i', &F.batch_size},
    {"sync", 'b', &F.sync},
    {"duration", 'i', &F.duration},
    {"compression_type", 's', &F.compression_type},
    {"compression_ratio", 'd', &F.compression_ratio},
    {"db", 's', &F.db},
    {"use_existing_db", 'b', &F.use_existing_db},
    {"histogram", 'b', &F.histogram},
    {"statistics", 'b', &F.statistics},
    {"seed", 'u', &F.seed},
    {"write_buffer_size", 'u', &F.write_buffer_size},
    {"max_write_buffer_number", 'i', &F.max_write_buffer_number},
    {"cache_size", 'u', &F.cache_size},
    {"bloom_bits", 'i', &F.bloom_bits},
    {"block_size", 'u', &F.block_size},
    {"level0_file_num_compaction_trigger", 'i', &F.l0_trigger},
    {"level0_slowdown_writes_trigger", 'i', &F.l0_slowdown},
    {"level0_stop_writes_trigger", 'i', &F.l0_stop},
    {"max_background_compactions", 'i', &F.max_background_compactions},
    {"target_file_size_base", 'u', &F.target_file_size_base},
    {"max_bytes_for_level_base", 'u', &F.max_bytes_for_level_base},
    {"compaction_style", 'i', &F.compaction_style},
    {"benchmark_write_rate_limit", 'u', &F.write_rate_limit},
    {"value_threshold", 'u', &F.value_threshold},
    {"min_blob_size", 'u', &F.value_threshold},
    {"sync_interval_ms", 'u', &F.sync_interval_ms},
    {"manual_wal_flush", 'b', &F.manual_wal_flush},
    {"queue_length", 'l', &F.queue_length},
    {"tombstone_compaction_ratio", 'i', &F.tombstone_compaction_ratio},
    {"iter_skip_compaction_trigger", 'u', &F.iter_skip_compaction_trigger},
};

static int parse_flag(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return -1;
    arg += 2;
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *val = eq ? eq + 1 : "true";
    for (size_t i = 0; i < sizeof flag_defs / sizeof flag_defs[0]; i++) {
        const flag_def *d = &flag_defs[i];
        if (strlen(d->name) != nlen || strncmp(d->name, arg, nlen) != 0)
            continue;
        char *end = NULL;
        switch (d->type) {
        case 'i':
            *(int *)d->p = (int)strtol(val, &end, 10);
            break;
        case 'l':
            *(int64_t *)d->p = strtoll(val, &end, 10);
            break;
        case 'u':
            *(uint64_t *)d->p = strtoull(val, &end, 10);
            break;
        case 'd':
            *(double *)d->p = strtod(val, &end);
            break;
        case 'b':
            *(bool *)d->p = strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
            end = (char *)val + strlen(val);
            break;
        case 's':
            *(const char **)d->p = val;
            end = (char *)val + strlen(val);
            break;
        }
        if (!end || *end) {
            fprintf(stderr, "shale-bench: bad value for --%s: %s\n", d->name, val);
            exit(2);
        }
        return 0;
    }
    return -1;
}

/* ---- workload generation (db_bench's) ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: fast, well mixed, per-thread state */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static char *value_data;
static size_t value_data_len;

/* Like db_bench's RandomGenerator: pieces of 100 bytes, each repeating a random printable
   run of 100 * compression_ratio bytes, so lz4 halves them at ratio 0.5. */
static void init_values(void)
{
    size_t len = F.value_size > 1048576 ? (size_t)F.value_size : 1048576;
    value_data = malloc(len + 100);
    uint64_t s = 301;
    size_t pos = 0;
    while (pos < len) {
        int raw = (int)(100 * F.compression_ratio);
        if (raw < 1)
            raw = 1;
        char piece[100];
        for (int i = 0; i < raw; i++)
            piece[i] = (char)(' ' + rng_next(&s) % 95);
        for (int i = 0; i < 100; i++)
            value_data[pos + (size_t)i] = piece[i % raw];
        pos += 100;
    }
    value_data_len = pos;
}

typedef struct value_gen {
    size_t pos;
} value_gen;

static const char *gen_value(value_gen *g, size_t len)
{
    if (g->pos + len > value_data_len)
        g->pos = 0;
    g->pos += len;
    return value_data + g->pos - len;
}

/* db_bench's GenerateKeyFromInt without prefixes: big-endian bytes of v, '0' padding. */
static void make_key(char *out, uint64_t v)
{
    int fill = F.key_size < 8 ? F.key_size : 8;
    for (int i = 0; i < fill; i++)
        out[i] = (char)((v >> ((fill - i - 1) * 8)) & 0xff);
    if (F.key_size > fill)
        memset(out + fill, '0', (size_t)(F.key_size - fill));
}

/* ---- running ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum bench_kind {
    B_FILLSEQ,
    B_FILLRANDOM,
    B_OVERWRITE,
    B_FILLSYNC,
    B_READSEQ,
    B_READREVERSE,
    B_READRANDOM,
    B_SEEKRANDOM,
    B_DELETERANDOM,
    B_READWHILEWRITING,
    B_WAITFORCOMPACTION, /* as db_bench's: until flushes and compactions are done */
    B_QUEUE,             /* put at the tail, delete at the head, seek from the start to the head */
};

static const struct {
    const char *name;
    enum bench_kind kind;
    bool fresh;
} benches[] = {
    {"fillseq", B_FILLSEQ, true},
    {"fillrandom", B_FILLRANDOM, true},
    {"overwrite", B_OVERWRITE, false},
    {"fillsync", B_FILLSYNC, true},
    {"readseq", B_READSEQ, false},
    {"readreverse", B_READREVERSE, false},
    {"readrandom", B_READRANDOM, false},
    {"seekrandom", B_SEEKRANDOM, false},
    {"deleterandom", B_DELETERANDOM, false},
    {"readwhilewriting", B_READWHILEWRITING, false},
    {"waitforcompaction", B_WAITFORCOMPACTION, false},
    {"queue", B_QUEUE, false},
};

typedef struct thread_state {
    pthread_t th;
    int id;
    enum bench_kind kind;
    bool writer; /* readwhilewriting's extra writer */
    int64_t ops;
    int64_t done;
    int64_t found;
    uint64_t bytes;
    double start, finish;
    histogram hist;
    int error;
} thread_state;

static shale_db *db;
static atomic_bool readers_done;
static uint64_t user_bytes_written;

static void fail(const char *what, int rc)
{
    fprintf(stderr, "shale-bench: %s: %s\n", what, shale_strerror(rc));
    exit(1);
}

static void open_db(bool fresh)
{
    if (db) {
        shale_close(db);
        db = NULL;
    }
    if (fresh && !F.use_existing_db)
        shale_destroy(F.db);
    shale_options o;
    shale_options_default(&o);
    o.sync_writes = F.sync;
    o.compression =
        strcmp(F.compression_type, "none") == 0 ? SHALE_COMPRESSION_NONE : SHALE_COMPRESSION_LZ4;
    if (F.write_buffer_size)
        o.memtable_size = F.write_buffer_size;
    if (F.max_write_buffer_number > 0)
        o.num_memtables = F.max_write_buffer_number;
    if (F.cache_size)
        o.block_cache_size = F.cache_size;
    o.bloom_bits_per_key = F.bloom_bits;
    if (F.block_size)
        o.block_size = F.block_size;
    if (F.l0_trigger > 0)
        o.l0_compaction_trigger = F.l0_trigger;
    if (F.l0_slowdown > 0)
        o.l0_slowdown_trigger = F.l0_slowdown;
    if (F.l0_stop > 0)
        o.l0_stop_trigger = F.l0_stop;
    if (F.max_background_compactions > 0)
        o.num_compactors = F.max_background_compactions;
    if (F.target_file_size_base)
        o.table_size = F.target_file_size_base;
    if (F.max_bytes_for_level_base)
        o.base_level_size = F.max_bytes_for_level_base;
    if (F.compaction_style >= 0)
        o.compaction_style = (shale_compaction_style)F.compaction_style;
    if (F.value_threshold != UINT64_MAX)
        o.value_threshold = (size_t)F.value_threshold;
    if (F.tombstone_compaction_ratio >= 0)
        o.tombstone_compaction_ratio = F.tombstone_compaction_ratio;
    if (F.iter_skip_compaction_trigger != UINT64_MAX)
        o.iter_skip_compaction_trigger = F.iter_skip_compaction_trigger;
    /* db_bench's --sync=false writes the WAL to the OS and never syncs it: the same
       durability here is sync_interval_ms=0 unless asked otherwise. */
    o.sync_interval_ms = (uint32_t)F.sync_interval_ms;
    /* db_bench's --manual_wal_flush: log records wait in a buffer until it is full (a
       crash of the process loses them); off by default in both programs */
    o.manual_wal_flush = F.manual_wal_flush;
    int rc = shale_open(F.db, &o, &db);
    if (rc)
        fail("open", rc);
}

static bool time_up(thread_state *t, double start)
{
    if (F.duration > 0)
        return now_s() - start >= F.duration;
    return t->done >= t->ops;
}

static void do_write(thread_state *t, uint64_t *rs, value_gen *vg, bool seq, bool del)
{
    char key[1024];
    shale_batch *b = NULL;
    if (F.batch_size > 1 && shale_batch_new(&b))
        fail("batch", -ENOMEM);
    double start = t->start;
    int64_t i = 0;
    while (!(t->writer ? atomic_load(&readers_done) : time_up(t, start))) {
        double t0 = F.histogram ? now_s() : 0;
        int n = F.batch_size > 1 ? F.batch_size : 1;
        if (b)
            shale_batch_clear(b);
        int rc = 0;
        for (int j = 0; j < n; j++, i++) {
            uint64_t k = seq ? (uint64_t)(i + (int64_t)t->id * t->ops) % (uint64_t)F.num
                             : rng_next(rs) % (uint64_t)F.num;
            make_key(key, k);
            if (del) {
                rc = b ? shale_batch_delete(b, key, (size_t)F.key_size)
                       : shale_delete(db, key, (size_t)F.key_size);
            } else {
                const char *v = gen_value(vg, (size_t)F.value_size);
                rc = b ? shale_batch_put(b, key, (size_t)F.key_size, v, (size_t)F.value_size, 0)
                       : shale_put(db, key, (size_t)F.key_size, v, (size_t)F.value_size, 0);
                t->bytes += (uint64_t)(F.key_size + F.value_size);
            }
            if (rc)
                break;
        }
        if (rc == 0 && b)
            rc = shale_write(db, b);
        if (rc)
            fail("write", rc);
        t->done += n;
        if (F.histogram)
            hist_add(&t->hist, (now_s() - t0) * 1e6);
        if (t->writer && F.write_rate_limit) {
            double should = (double)t->bytes / (double)F.write_rate_limit;
            double el = now_s() - start;
            if (should > el)
                usleep((useconds_t)((should - el) * 1e6));
        }
    }
    shale_batch_free(b);
}

static void do_read_random(thread_state *t, uint64_t *rs)
{
    char key[1024];
    double start = t->start;
    while (!time_up(t, start)) {
        double t0 = F.histogram ? now_s() : 0;
        make_key(key, rng_next(rs) % (uint64_t)F.num);
        void *v;
        size_t n;
        int rc = shale_get(db, key, (size_t)F.key_size, &v, &n);
        if (rc == 0) {
            t->found++;
            t->bytes += (uint64_t)F.key_size + n;
            shale_free(v);
        } else if (rc != SHALE_ENOTFOUND) {
            fail("get", rc);
        }
        t->done++;
        if (F.histogram)
            hist_add(&t->hist, (now_s() - t0) * 1e6);
    }
}

static void do_seek_random(thread_state *t, uint64_t *rs)
{
    char key[1024];
    shale_iter *it;
    shale_read_options ro;
    shale_read_options_default(&ro);
    double start = t->start;
    while (!time_up(t, start)) {
        double t0 = F.histogram ? now_s() : 0;
        /* a fresh iterator per seek, as db_bench does without --use_tailing_iterator */
        if (shale_iter_new(db, &ro, &it))
            fail("iterator", -ENOMEM);
        make_key(key, rng_next(rs) % (uint64_t)F.num);
        shale_iter_seek(it, key, (size_t)F.key_size);
        if (shale_iter_valid(it)) {
            size_t kl;
            const void *k = shale_iter_key(it, &kl);
            if (kl == (size_t)F.key_size && memcmp(k, key, kl) == 0)
                t->found++;
        }
        shale_iter_free(it);
        t->done++;
        if (F.histogram)
            hist_add(&t->hist, (now_s() - t0) * 1e6);
    }
}

static void do_read_seq(thread_state *t, bool reverse)
{
    shale_iter *it;
    shale_read_options ro;
    shale_read_options_default(&ro);
    if (shale_iter_new(db, &ro, &it))
        fail("iterator", -ENOMEM);
    int64_t limit = t->ops;
    if (reverse)
        shale_iter_seek_to_last(it);
    else
        shale_iter_seek_to_first(it);
    while (shale_iter_valid(it) && t->done < limit) {
        size_t kl, vl;
        shale_iter_key(it, &kl);
        shale_iter_value(it, &vl);
        t->bytes += kl + vl;
        t->done++;
        if (reverse)
            shale_iter_prev(it);
        else
            shale_iter_next(it);
    }
    if (shale_iter_status(it))
        fail("iterate", shale_iter_status(it));
    shale_iter_free(it);
}

/*
 * A queue per thread (kvrocks#494's load, as a list's LPUSH/RPOP or a sorted set's
 * ZADD/ZPOPMIN leaves it): each operation puts an item at the tail, deletes the head
 * once queue_length items are live, and seeks from the queue's first possible key to
 * read its head, as a reader without a head hint does; the seek steps over every
 * tombstone (and deleted value) still in the memtables and tables before the head.
 */
static void do_queue(thread_state *t, value_gen *vg)
{
    char key[1024], head[1024], first[1024];
    uint64_t base = (uint64_t)t->id << 40, h = 0, tail = 0;
    make_key(first, base);
    double start = t->start;
    while (!time_up(t, start)) {
        double t0 = F.histogram ? now_s() : 0;
        make_key(key, base + tail++);
        const char *v = gen_value(vg, (size_t)F.value_size);
        int rc = shale_put(db, key, (size_t)F.key_size, v, (size_t)F.value_size, 0);
        t->bytes += (uint64_t)(F.key_size + F.value_size);
        if (rc == 0 && (int64_t)(tail - h) > F.queue_length) {
            make_key(key, base + h++);
            rc = shale_delete(db, key, (size_t)F.key_size);
        }
        if (rc)
            fail("write", rc);
        shale_iter *it;
        if (shale_iter_new(db, NULL, &it))
            fail("iterator", -ENOMEM);
        shale_iter_seek(it, first, (size_t)F.key_size);
        make_key(head, base + h);
        size_t kl = 0;
        const void *k = shale_iter_valid(it) ? shale_iter_key(it, &kl) : NULL;
        if (!k || kl != (size_t)F.key_size || memcmp(k, head, kl) != 0) {
            fprintf(stderr, "shale-bench: queue: the seek missed the head\n");
            exit(1);
        }
        t->found++;
        shale_iter_free(it);
        t->done++;
        if (F.histogram)
            hist_add(&t->hist, (now_s() - t0) * 1e6);
    }
}

/* Threads get fresh seeds in every benchmark (db_bench counts threads across the run),
   so readrandom does not replay fillrandom's keys. */
static atomic_int total_threads;

static void *thread_main(void *p)
{
    thread_state *t = p;
    uint64_t rs =
        (F.seed ? F.seed : 1000) * 1000003u + (uint64_t)atomic_fetch_add(&total_threads, 1);
    value_gen vg = {(size_t)t->id * 7919 % value_data_len};
    hist_clear(&t->hist);
    t->start = now_s();
    switch (t->kind) {
    case B_WAITFORCOMPACTION: /* handled by main, never a thread */
        break;
    case B_FILLSEQ:
        do_write(t, &rs, &vg, true, false);
        break;
    case B_FILLRANDOM:
    case B_OVERWRITE:
    case B_FILLSYNC:
        do_write(t, &rs, &vg, false, false);
        break;
    case B_DELETERANDOM:
        do_write(t, &rs, &vg, false, true);
        break;
    case B_READSEQ:
        do_read_seq(t, false);
        break;
    case B_READREVERSE:
        do_read_seq(t, true);
        break;
    case B_READRANDOM:
        do_read_random(t, &rs);
        break;
    case B_SEEKRANDOM:
        do_seek_random(t, &rs);
        break;
    case B_QUEUE:
        do_queue(t, &vg);
        break;
    case B_READWHILEWRITING:
        if (t->writer)
            do_write(t, &rs, &vg, false, false);
        else
            do_read_random(t, &rs);
        break;
    }
    t->finish = now_s();
    return NULL;
}

static void run(const char *name, enum bench_kind kind)
{
    int n = F.threads > 0 ? F.threads : 1;
    bool rww = kind == B_READWHILEWRITING;
    int total = n + (rww ? 1 : 0);
    thread_state *ts = calloc((size_t)total, sizeof *ts);
    bool is_read = kind == B_READSEQ || kind == B_READREVERSE || kind == B_READRANDOM ||
                   kind == B_SEEKRANDOM || rww;
    int64_t ops = is_read && F.reads >= 0 ? F.reads : F.num;
    atomic_store(&readers_done, false);
    for (int i = 0; i < total; i++) {
        ts[i].id = i;
        ts[i].kind = kind;
        ts[i].writer = rww && i == n;
        ts[i].ops = ops;
        pthread_create(&ts[i].th, NULL, thread_main, &ts[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(ts[i].th, NULL);
    atomic_store(&readers_done, true);
    if (rww)
        pthread_join(ts[n].th, NULL);

    /* Report the measured threads (readers only for readwhilewriting), as db_bench. */
    double start = ts[0].start, finish = ts[0].finish, thread_secs = 0;
    int64_t done = 0, found = 0;
    uint64_t bytes = 0;
    histogram h;
    hist_clear(&h);
    for (int i = 0; i < n; i++) {
        if (ts[i].start < start)
            start = ts[i].start;
        if (ts[i].finish > finish)
            finish = ts[i].finish;
        thread_secs += ts[i].finish - ts[i].start;
        done += ts[i].done;
        found += ts[i].found;
        bytes += ts[i].bytes;
        hist_merge(&h, &ts[i].hist);
    }
    for (int i = 0; i < total; i++)
        if (!is_read || ts[i].writer)
            user_bytes_written += ts[i].bytes;
    double elapsed = finish - start;
    if (done < 1)
        done = 1;
    char extra[128] = "";
    if (bytes > 0)
        snprintf(extra, sizeof extra, " %6.1f MB/s", (double)bytes / 1048576.0 / elapsed);
    if (kind == B_READRANDOM || kind == B_SEEKRANDOM || rww) {
        size_t l = strlen(extra);
        snprintf(extra + l, sizeof extra - l, " (%" PRId64 " of %" PRId64 " found)", found, done);
    }
    printf("%-12s : %11.3f micros/op %ld ops/sec %.3f seconds %" PRId64 " operations;%s\n", name,
           thread_secs * 1e6 / (double)done, /* db_bench: summed thread time per op */
           (long)((double)done / elapsed), elapsed, done, extra);
    if (F.histogram) {
        printf("Microseconds per %s:\n", is_read ? "read" : "write");
        hist_print(&h, stdout);
    }
    fflush(stdout);
    free(ts);
}

static uint64_t prop_of(const char *name)
{
    uint64_t v = 0;
    shale_property_int(db, name, &v);
    return v;
}

/* Waits until no memtable waits for its flush and no level is over its target, so the
   write amplification counts the compaction work the writes left behind. */
static void wait_for_compaction(void)
{
    double start = now_s();
    while (prop_of("shale.num-immutable-memtables") || prop_of("shale.pending-compaction-bytes") ||
           prop_of("shale.running-compactions"))
        usleep(100 * 1000);
    printf("%-12s : %.3f seconds\n", "waitforcompaction", now_s() - start);
    fflush(stdout);
}

static void print_proc_figures(void)
{
    uint64_t write_bytes = 0, hwm_kb = 0;
    FILE *f = fopen("/proc/self/io", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "write_bytes:", 12) == 0)
            write_bytes = strtoull(line + 12, NULL, 10);
    if (f)
        fclose(f);
    f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            hwm_kb = strtoull(line + 6, NULL, 10);
    if (f)
        fclose(f);
    if (user_bytes_written)
        printf("shale-bench: write_amplification %.3f\n",
               (double)write_bytes / (double)user_bytes_written);
    else
        printf("shale-bench: write_amplification n/a\n");
    printf("shale-bench: peak_rss_mb %.1f\n", (double)hwm_kb / 1024.0);
}

static void usage(void)
{
    fprintf(stderr, "usage: shale-bench [--flag=value ...]\nflags:");
    for (size_t i = 0; i < sizeof flag_defs / sizeof flag_defs[0]; i++)
        fprintf(stderr, " --%s", flag_defs[i].name);
    fprintf(stderr, "\nbenchmarks:");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(stderr, " %s", benches[i].name);
    fprintf(stderr, "\n");
}

int bench_server_mode(int argc, char **argv); /* server_mode.c */
int bench_cache_mode(int argc, char **argv);  /* cache.c */

int main(int argc, char **argv)
{
    /* --server=HOST:PORT: a redis-benchmark-style load through the client library;
       with --cache, the cache-aside load of cache.c */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--cache") == 0)
            return bench_cache_mode(argc, argv);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--server=", 9) == 0)
            return bench_server_mode(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        if (parse_flag(argv[i])) {
            fprintf(stderr, "shale-bench: unknown flag %s\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (F.key_size < 1 || F.key_size > 1000 || F.value_size < 0 || F.num < 1) {
        fprintf(stderr, "shale-bench: bad --key_size, --value_size or --num\n");
        return 2;
    }
    /* validate the list before running anything */
    char *list = strdup(F.benchmarks);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        bool ok = false;
        for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
            ok |= strcmp(tok, benches[i].name) == 0;
        if (!ok) {
            fprintf(stderr, "shale-bench: unknown benchmark '%s'\n", tok);
            return 2;
        }
    }
    free(list);
    init_values();
    printf("shale:      version %s\n", SHALE_VERSION_STRING);
    printf("Keys:       %d bytes each\n", F.key_size);
    printf("Values:     %d bytes each (%d bytes after compression)\n", F.value_size,
           (int)(F.value_size * F.compression_ratio + 0.5));
    printf("Entries:    %" PRId64 "\n", F.num);
    printf("Compression: %s\n", F.compression_type);
    printf("------------------------------------------------\n");
    fflush(stdout);
    list = strdup(F.benchmarks);
    bool opened = false;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
            if (strcmp(tok, benches[i].name) != 0)
                continue;
            if (benches[i].fresh || !opened) {
                open_db(benches[i].fresh);
                opened = true;
            }
            if (benches[i].kind == B_WAITFORCOMPACTION) {
                wait_for_compaction();
                continue;
            }
            bool saved_sync = F.sync;
            if (benches[i].kind == B_FILLSYNC)
                shale_set_option(db, "sync_writes", "yes");
            uint64_t skipped = prop_of("shale.iter-skipped-entries");
            run(tok, benches[i].kind);
            if (benches[i].kind == B_QUEUE)
                printf("queue        : %.1f hidden table entries stepped over per seek, %" PRIu64
                       " tombstone compactions, %" PRIu64 " read-triggered marks\n",
                       (double)(prop_of("shale.iter-skipped-entries") - skipped) /
                           (double)(F.num * (F.threads > 0 ? F.threads : 1)),
                       prop_of("shale.tombstone-compactions"), prop_of("shale.iter-skip-hints"));
            if (benches[i].kind == B_FILLSYNC)
                shale_set_option(db, "sync_writes", saved_sync ? "yes" : "no");
        }
    }
    free(list);
    if (F.statistics && db) {
        char *s;
        if (shale_property(db, "shale.stats", &s) == 0) {
            printf("%s", s);
            shale_free(s);
        }
    }
    if (db) {
        int rc = shale_close(db);
        if (rc)
            fail("close", rc);
    }
    print_proc_figures();
    return 0;
}

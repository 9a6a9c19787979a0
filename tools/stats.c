/*
 * stats.c - shale-tool stats DIR (tables per level, sizes, space amplification, the
 * engine's statistics) and shale-tool compact DIR (a full compaction, with progress).
 * Both open the store as the server does (recovering its log).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shale.h"
#include "shale_tool.h"

int tool_stats(int argc, char **argv)
{
    static const char usage[] =
        "usage: shale-tool stats DIR\n"
        "Prints tables and bytes per level, live data, space amplification and the\n"
        "engine's statistics (shale.stats).\n";
    shale_db *db;
    int rc = tool_start(argc, argv, usage, &db);
    if (rc >= 0)
        return rc;
    printf("%-6s %8s %14s\n", "level", "tables", "bytes");
    uint64_t total = 0;
    for (int l = 0; l < 7; l++) {
        char n1[64], n2[64];
        snprintf(n1, sizeof n1, "shale.num-files-at-level%d", l);
        snprintf(n2, sizeof n2, "shale.bytes-at-level%d", l);
        uint64_t bytes = tool_prop(db, n2);
        total += bytes;
        printf("L%-5d %8" PRIu64 " %14" PRIu64 "\n", l, tool_prop(db, n1), bytes);
    }
    /* space amplification as RocksDB estimates it for a leveled tree: all table bytes
       over the last non-empty level's, which holds about one copy of each live key */
    uint64_t keys = tool_prop(db, "shale.estimate-num-keys");
    uint64_t bottom = 0;
    for (int l = 6; l >= 0 && !bottom; l--) {
        char n[64];
        snprintf(n, sizeof n, "shale.bytes-at-level%d", l);
        bottom = tool_prop(db, n);
    }
    printf("total table bytes %" PRIu64 ", estimated keys %" PRIu64 "\n", total, keys);
    if (bottom)
        printf("space amplification (all tables / last level) %.2f\n", (double)total / (double)bottom);
    /* the value log: each segment with its garbage share, then the whole store's space
       amplification, (tables + value log) / (last level + live values) */
    uint64_t vbytes = tool_prop(db, "shale.vlog-bytes"), vlive = tool_prop(db, "shale.vlog-live-bytes");
    char *segs = NULL;
    if (shale_property(db, "shale.vlog-segments", &segs) == 0 && segs) {
        printf("\nvalue log: %" PRIu64 " segments, %" PRIu64 " bytes, %" PRIu64 " live\n%s",
               tool_prop(db, "shale.vlog-segments"), vbytes, vlive, segs);
        shale_free(segs);
    }
    if (bottom + vlive)
        printf("space amplification (tables + value log) / (last level + live values) %.2f\n",
               (double)(total + vbytes) / (double)(bottom + vlive));
    char *s = NULL;
    if (shale_property(db, "shale.stats", &s) == 0 && s) {
        printf("\n%s", s);
        shale_free(s);
    }
    rc = shale_close(db);
    if (rc) {
        fprintf(stderr, "shale-tool: closing the store: %s\n", shale_strerror(rc));
        return TOOL_FAILED;
    }
    return TOOL_OK;
}

typedef struct compact_job {
    shale_db *db;
    int rc;
    atomic_int done; /* set by the compacting thread, polled by the progress loop */
} compact_job;

static void *compact_main(void *arg)
{
    compact_job *j = arg;
    j->rc = shale_flush(j->db);
    if (j->rc == 0)
        j->rc = shale_compact_range(j->db, NULL, 0, NULL, 0);
    atomic_store(&j->done, 1);
    return NULL;
}

int tool_compact(int argc, char **argv)
{
    static const char usage[] =
        "usage: shale-tool compact DIR\n"
        "Flushes the log's writes and compacts every level into the last: afterwards the\n"
        "store holds one copy of each live key, with tombstones and expired entries gone.\n";
    shale_db *db;
    int rc = tool_start(argc, argv, usage, &db);
    if (rc >= 0)
        return rc;
    uint64_t before = tool_prop(db, "shale.total-table-bytes") + tool_prop(db, "shale.memtable-bytes");
    compact_job j = {.db = db};
    pthread_t t;
    if (pthread_create(&t, NULL, compact_main, &j)) {
        shale_close(db);
        return TOOL_FAILED;
    }
    /* progress: bytes compaction has written against what there was to rewrite */
    progress pg;
    uint64_t start = tool_prop(db, "shale.compaction-bytes-written");
    progress_start(&pg, "compact", before);
    while (!atomic_load(&j.done)) {
        usleep(200 * 1000);
        uint64_t w = tool_prop(db, "shale.compaction-bytes-written") - start;
        if (w > pg.done && w <= before)
            progress_add(&pg, w - pg.done);
    }
    pthread_join(t, NULL);
    progress_end(&pg);
    uint64_t after = tool_prop(db, "shale.total-table-bytes");
    int crc = shale_close(db);
    if (j.rc || crc) {
        fprintf(stderr, "shale-tool: compaction failed: %s\n", shale_strerror(j.rc ? j.rc : crc));
        return TOOL_FAILED;
    }
    printf("compacted %s: %" PRIu64 " bytes before, %" PRIu64 " bytes of tables after\n", argv[1],
           before, after);
    return TOOL_OK;
}

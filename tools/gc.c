/*
 * gc.c - shale-tool gc [--ratio R] DIR: value-log garbage collection until no segment is
 * worth rewriting. A full compaction runs first, so every pointer that overwrites,
 * deletes and expiries made dead is counted (GC picks segments by those figures).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shale.h"
#include "shale_tool.h"

#define DEFAULT_RATIO 0.5

int tool_gc(int argc, char **argv)
{
    static const char usage[] =
        "usage: shale-tool gc [--ratio R] DIR\n"
        "Flushes and compacts the store (so the value log's garbage is all counted), then\n"
        "rewrites the live values of every value-log segment whose garbage share is at least\n"
        "R (0 < R < 1, default 0.5) and deletes the segment, until none is left. Prints the\n"
        "value log's size before and after.\n";
    double ratio = DEFAULT_RATIO;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return TOOL_OK;
        } else if (strcmp(argv[i], "--ratio") == 0 && i + 1 < argc) {
            char *end;
            ratio = strtod(argv[++i], &end);
            if (*end || !(ratio > 0 && ratio < 1)) {
                fprintf(stderr, "shale-tool gc: --ratio wants a number between 0 and 1\n");
                return TOOL_USAGE;
            }
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fputs(usage, stderr);
            return TOOL_USAGE;
        }
    }
    if (!dir) {
        fputs(usage, stderr);
        return TOOL_USAGE;
    }
    shale_db *db;
    int rc = tool_open(dir, &db);
    if (rc)
        return rc;
    uint64_t before = tool_prop(db, "shale.vlog-bytes");
    rc = shale_flush(db);
    if (rc == 0)
        rc = shale_compact_range(db, NULL, 0, NULL, 0);
    progress pg;
    progress_start(&pg, "gc", tool_prop(db, "shale.vlog-segments"));
    int runs = 0;
    while (rc == 0) {
        rc = shale_vlog_gc(db, ratio);
        if (rc == 0) {
            runs++;
            progress_add(&pg, 1);
        }
    }
    progress_end(&pg);
    if (rc == SHALE_ENOREWRITE)
        rc = 0;
    /* The rewritten values sit in the log; flushing them makes their log a segment too. */
    if (rc == 0)
        rc = shale_flush(db);
    uint64_t after = tool_prop(db, "shale.vlog-bytes"), live = tool_prop(db, "shale.vlog-live-bytes");
    int crc = shale_close(db);
    if (rc || crc) {
        fprintf(stderr, "shale-tool: gc failed: %s\n", shale_strerror(rc ? rc : crc));
        return TOOL_FAILED;
    }
    printf("gc %s: %d segments rewritten; value log %" PRIu64 " bytes before, %" PRIu64
           " after, %" PRIu64 " of them live values\n",
           dir, runs, before, after, live);
    return TOOL_OK;
}

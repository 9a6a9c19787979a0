/*
 * compaction.h - the leveled picker's choice of the table to compact into the next
 * level, on its own so that tests can check it on large made-up levels. The rest of
 * compaction (picking by score, tiered, fifo, running jobs) is in db_impl.h's
 * db_compact_* functions.
 */
#ifndef SHALE_COMPACTION_H
#define SHALE_COMPACTION_H

#include <stdatomic.h>
#include <stdint.h>

#include "version.h"

struct shale_db;

typedef struct level_pick {
    int index;              /* the chosen table of the level; -1: none */
    int over_from, over_to; /* the tables of the next level it overlaps: [from, to) */
} level_pick;

/* Key comparisons compaction_pick_in_level made, summed over all calls (for tests that
   check the pick stays linear in the tables of the two levels). */
extern atomic_uint_fast64_t compaction_pick_compares;

/*
 * Among files (n tables of a sorted level) the table whose rewrite into next (the m
 * tables of the level below, next_level) costs least per byte moved down (RocksDB's
 * kMinOverlappingRatio), skipping a table that is being compacted, that overlaps a
 * table of next being compacted, or (db not NULL, its mutex held) whose range a running
 * job writes into next_level. The first of equal ratios wins.
 */
void compaction_pick_in_level(struct shale_db *db, int next_level, file_meta **files, int n,
                              file_meta **next, int m, level_pick *out);

#endif

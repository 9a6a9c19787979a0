/*
 * repl.c - the engine's replication primitives: the position a replica reports
 * (shale_last_seq). The commit tap itself is called by the write leader in db.c; the
 * server builds replication on these (docs/tuning.md "Replication hooks").
 */
#include <stdatomic.h>

#include "db_impl.h"

uint64_t shale_last_seq(shale_db *db)
{
    return db ? atomic_load_explicit(&db->last_seq, memory_order_acquire) : 0;
}

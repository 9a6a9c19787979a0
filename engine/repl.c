/*
 * repl.c - the engine's replication primitives: the position a replica reports
 * (shale_last_seq) and the application of a primary's records with their own sequence
 * numbers (shale_write_at). The commit tap is called by the write leader in db.c; the
 * write itself goes through db.c's write path (db_write_at). The server builds
 * replication on these (docs/tuning.md "Replication hooks").
 */
#include <errno.h>
#include <stdatomic.h>

#include "db_impl.h"

uint64_t shale_last_seq(shale_db *db)
{
    return db ? atomic_load_explicit(&db->last_seq, memory_order_acquire) : 0;
}

/* An entry as shale_batch_put/delete/delete_range would have made it: the tap gives
   records before compression, and the limits keep a replica's store like its primary's. */
static int check_entry(void *arg, const batch_entry *e)
{
    size_t expiry = e->kind == KIND_EXPIRING ? 8 : 0;
    if (e->stored_len || e->key.len == 0 || e->key.len > SHALE_MAX_KEY_SIZE ||
        e->value.len > SHALE_MAX_VALUE_SIZE + expiry ||
        (e->kind == KIND_RANGE_DELETE && e->value.len > SHALE_MAX_KEY_SIZE))
        return -EINVAL;
    return 0;
}

int shale_write_at(shale_db *db, const void *rep, size_t len)
{
    if (!db || !rep || len < BATCH_HEADER_SIZE)
        return -EINVAL;
    slice r = slice_make(rep, len);
    uint64_t first;
    uint32_t count;
    int rc = batch_rep_header(r, &first, &count);
    if (rc || count == 0 || first == 0 || first > MAX_SEQUENCE - (count - 1))
        return -EINVAL;
    rc = batch_rep_iterate_entries(r, check_entry, NULL);
    if (rc)
        return rc == -ENOMEM ? rc : -EINVAL;
    if (first <= shale_last_seq(db))
        return SHALE_ESEQ; /* early; the write leader checks again (db_write_at) */
    /* A view of the caller's bytes: the write path only reads a write_at batch. */
    shale_batch b = {.rep = {.data = (char *)rep, .len = len, .cap = len}, .count = count};
    return db_write_at(db, &b);
}

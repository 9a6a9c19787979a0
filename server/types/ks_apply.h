/*
 * ks_apply.h - a replica applies its primary's log records to the main engine
 * (shale_write_at) and keeps the key layer's in-memory state as the primary's commands
 * kept it: DBSIZE and INFO keyspace's counts (whether each metadata record existed
 * before, and its TTL, as ks_put_meta and ks_del_key count), the mapping of logical to
 * physical databases (FLUSHDB, SWAPDB: read again, counts carried with their ids or
 * counted again), the version ceiling, and WATCH (every key written is touched). What the
 * key layer does not own (the function libraries, 'F' records) is reported to the caller.
 *
 * Not here: the link (server/repl/repl_replica.c). Lock held (the server's command lock).
 * Fifo databases live in engines of their own, which the stream does not carry.
 */
#ifndef SHALE_KS_APPLY_H
#define SHALE_KS_APPLY_H

#include <stddef.h>

#include "keyspace.h"

/* What a record changed beyond keys (*changed of ks_apply_record). */
enum {
    KS_APPLIED_FUNCTIONS = 1, /* a function library record ('F'): load them again */
    KS_APPLIED_MAPPING = 2,   /* the mapping of databases (FLUSHDB, SWAPDB, ...) */
};

/*
 * Applies one record (rep, len: an encoded write batch with its first sequence, as the
 * primary's commit tap gave it) with its own sequence numbers and updates the key layer.
 * *changed: KS_APPLIED_* flags. Returns 0, or shale_write_at's error (SHALE_ESEQ: not
 * above the last sequence; -EINVAL: malformed; SHALE_ESTALL, -errno...) with nothing
 * applied, or an error reading the state before it (nothing applied either), or an
 * error reloading the state after it (applied; the counts may be off until a restart).
 */
int ks_apply_record(keyspace *ks, const void *rep, size_t len, int *changed);

#endif

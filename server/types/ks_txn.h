/*
 * ks_txn.h - the index of a transaction over several commands (ks_txn.c): what
 * keyspace.c uses to keep it; the iterator that merges it is in keyspace.h (ks_iter).
 */
#ifndef SHALE_KS_TXN_H
#define SHALE_KS_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"

typedef struct ov_node ov_node;

struct ks_txn {
    ov_node *head; /* the skiplist's sentinel */
    int height;
    uint64_t rnd;
    size_t entries;
    char *pending; /* the current command's writes, in order (ks_txn.c) */
    size_t pending_len, pending_cap;
};

/* A new empty transaction (free with ks_txn_free). Errors: -ENOMEM. */
int ks_txn_new(ks_txn **out);
void ks_txn_free(ks_txn *t);
/* The current command's writes: logged, invisible to reads until ks_txn_fold. */
int ks_txn_put(ks_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
               uint64_t expire_at_ms);
int ks_txn_del(ks_txn *t, const void *key, size_t klen);
/* Writes that join the index at once (an expired key reaped by a read). */
int ks_txn_put_now(ks_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                   uint64_t expire_at_ms);
int ks_txn_del_now(ks_txn *t, const void *key, size_t klen);
/* Folds the logged writes into the index, in order (the command committed). On -ENOMEM
   the index holds a prefix of them: the caller aborts the whole transaction. */
int ks_txn_fold(ks_txn *t);
/* Drops the logged writes (the command aborted). */
void ks_txn_drop_pending(ks_txn *t);

#define KS_TXN_MISS 0    /* the transaction did not write the key: ask the engine */
#define KS_TXN_PUT 1     /* its newest write: *val (owned by the index), *expire_at_ms */
#define KS_TXN_DELETED 2 /* it deleted the key */
int ks_txn_lookup(const ks_txn *t, const void *key, size_t klen, const void **val, size_t *vlen,
                  uint64_t *expire_at_ms);

/* Calls visit for every key written, in key order: val NULL for a delete. Stops at the
   first non-zero return, which it returns. */
typedef int (*ks_txn_visit)(void *ctx, const void *key, size_t klen, const void *val,
                            size_t vlen, uint64_t expire_at_ms);
int ks_txn_walk(const ks_txn *t, ks_txn_visit visit, void *ctx);
size_t ks_txn_entries(const ks_txn *t);

/* An iterator over db's entries within ro's bounds merged with t's index (t NULL: the
   engine's alone). now_ms judges the index's expiring values when ro hides expired
   entries. */
int ks_iter_new(shale_db *db, const ks_txn *t, const shale_read_options *ro, uint64_t now_ms,
                ks_iter **out);

#endif

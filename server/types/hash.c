/* hash.c - a Redis hash on engine keys (hash.h). */
#include "hash.h"

#include <string.h>

int hash_get_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl, void **val, size_t *vl)
{
    if (!m->type)
        return SHALE_ENOTFOUND;
    ks_key k;
    int rc = ks_field_key(ks, dbi, key, klen, m->version, f, fl, &k);
    rc = rc ? rc : ks_get_raw(ks, &k, val, vl);
    ks_key_free(&k);
    return rc;
}

int hash_has_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl)
{
    int rc = hash_get_field(ks, dbi, key, klen, m, f, fl, NULL, NULL);
    return rc == 0 ? 1 : rc == SHALE_ENOTFOUND ? 0 : rc;
}

int hash_put_field(keyspace *ks, int dbi, const void *key, size_t klen, uint64_t version,
                   const void *f, size_t fl, const void *v, size_t vl)
{
    ks_key k;
    int rc = ks_field_key(ks, dbi, key, klen, version, f, fl, &k);
    rc = rc ? rc : ks_put_raw(ks, &k, v, vl);
    ks_key_free(&k);
    return rc;
}

int hash_del_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl)
{
    ks_key k;
    int rc = ks_field_key(ks, dbi, key, klen, m->version, f, fl, &k);
    rc = rc ? rc : ks_del_raw(ks, &k);
    ks_key_free(&k);
    return rc;
}

int hash_put_meta(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                  uint64_t version, uint64_t nfields, char encoding)
{
    return ks_put_collection(ks, dbi, key, klen, m, KS_TYPE_HASH, version, nfields, &encoding,
                             1);
}

int hash_iter_open(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   hash_iter *it)
{
    memset(it, 0, sizeof *it);
    ks_key_init(&it->range.lo);
    ks_key_init(&it->range.hi);
    return ks_range_open_members(ks, dbi, key, klen, m, &it->range);
}

bool hash_iter_next(hash_iter *it, const char **f, size_t *fl, const char **v, size_t *vl)
{
    if (!it->range.it)
        return false;
    if (it->started)
        ks_iter_next(it->range.it);
    it->started = true;
    if (!ks_iter_valid(it->range.it))
        return false;
    size_t kl;
    const char *k = ks_iter_key(it->range.it, &kl);
    *f = k + it->range.lo.len;
    *fl = kl - it->range.lo.len;
    *v = ks_iter_value(it->range.it, vl);
    return true;
}

int hash_iter_close(hash_iter *it)
{
    int rc = it->range.it ? ks_iter_status(it->range.it) : 0;
    ks_range_close(&it->range);
    return rc;
}

int hash_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
              rdb_value *v)
{
    rdb_value_init(v, KS_TYPE_HASH);
    if (m->extralen >= 1) /* a hash written before the byte existed: by its size */
        v->enc = m->extra[0] == HASH_TABLE ? RDB_ENC_BIG : RDB_ENC_COMPACT;
    hash_iter it;
    int rc = hash_iter_open(ks, dbi, key, klen, m, &it);
    const char *f, *val;
    size_t fl, vl;
    while (rc == 0 && hash_iter_next(&it, &f, &fl, &val, &vl)) {
        rdb_value_add(v, f, fl);
        rc = rdb_value_add(v, val, vl);
    }
    int err = hash_iter_close(&it);
    return rc ? rc : err;
}

int hash_restore_encoding(const rdb_value *v, uint64_t max_entries, uint64_t max_value)
{
    if (rdb_value_members(v) > max_entries)
        return RDB_ENC_BIG;
    if (v->enc == RDB_ENC_COMPACT)
        return RDB_ENC_COMPACT;
    for (size_t i = 0; i < v->n; i++) {
        size_t n;
        rdb_value_item(v, i, &n);
        if (n > max_value)
            return RDB_ENC_BIG;
    }
    return RDB_ENC_COMPACT;
}

int hash_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
               const rdb_value *v, uint64_t expire_at_ms)
{
    int enc = v->enc != RDB_ENC_AUTO ? v->enc
                                     : hash_restore_encoding(v, RDB_HASH_LISTPACK_ENTRIES,
                                                             RDB_HASH_LISTPACK_VALUE);
    char byte = enc == RDB_ENC_BIG ? HASH_TABLE : HASH_LISTPACK;
    uint64_t version = ks_new_version(ks);
    int rc = 0;
    for (size_t i = 0; i + 1 < v->n && rc == 0; i += 2) {
        size_t fl, vl;
        const char *f = rdb_value_item(v, i, &fl), *val = rdb_value_item(v, i + 1, &vl);
        rc = hash_put_field(ks, dbi, key, klen, version, f, fl, val, vl);
    }
    return rc ? rc
              : ks_put_collection_expiring(ks, dbi, key, klen, old, KS_TYPE_HASH, version,
                                           v->n / 2, &byte, 1, expire_at_ms);
}

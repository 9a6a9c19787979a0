/* value.c - a key's whole value, by type (value.h). */
#include "value.h"

#include "hash.h"
#include "list.h"
#include "set.h"
#include "zset.h"

static int string_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                       rdb_value *v)
{
    rdb_value_init(v, KS_TYPE_STRING);
    return rdb_value_add(v, m->val, m->vlen);
}

static int string_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
                        const rdb_value *v, uint64_t expire_at_ms)
{
    size_t n;
    const char *p = rdb_value_item(v, 0, &n);
    return ks_put_meta(ks, dbi, key, klen, old, KS_TYPE_STRING, p, n, expire_at_ms);
}

/* Each type's pair, beside the type's other operations in its own file. */
static const struct {
    int type;
    int (*load)(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                rdb_value *v);
    int (*store)(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
                 const rdb_value *v, uint64_t expire_at_ms);
} types[] = {
    {KS_TYPE_STRING, string_load, string_store},
    {KS_TYPE_HASH, hash_load, hash_store},
    {KS_TYPE_LIST, list_load, list_store},
    {KS_TYPE_SET, set_load, set_store},
    {KS_TYPE_ZSET, zset_load, zset_store},
};

int value_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
               rdb_value *v)
{
    rdb_value_init(v, m->type);
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].type == m->type)
            return types[i].load(ks, dbi, key, klen, m, v);
    return SHALE_ENOTSUP;
}

int value_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
                const rdb_value *v, uint64_t expire_at_ms)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].type == v->type)
            return types[i].store(ks, dbi, key, klen, old, v, expire_at_ms);
    return SHALE_ENOTSUP;
}

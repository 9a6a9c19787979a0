/* hash.c - hashes on engine keys: one field's read (hash.h). */
#include "hash.h"

int hash_get_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl, void **val, size_t *vlen)
{
    if (m->type != KS_TYPE_HASH)
        return SHALE_ENOTFOUND;
    ks_key k;
    int rc = ks_field_key(ks, dbi, key, klen, m->version, f, fl, &k);
    rc = rc ? rc : ks_get_raw(ks, &k, val, vlen);
    ks_key_free(&k);
    return rc;
}

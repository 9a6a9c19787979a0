/* keyspace.c - Redis keys on engine keys (see keyspace.h). */
#include "keyspace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *ks_meta_key(int db, const void *key, size_t klen, char *buf, size_t cap, size_t *outlen)
{
    char *k = klen + 2 <= cap ? buf : malloc(klen + 2);
    if (!k)
        return NULL;
    k[0] = 'm';
    k[1] = (char)db;
    memcpy(k + 2, key, klen);
    *outlen = klen + 2;
    return k;
}

void ks_key_free(char *key, char *buf)
{
    if (key != buf)
        free(key);
}

int ks_lookup(shale_db *db, int dbi, const void *key, size_t klen, int *type, char **raw,
              const char **val, size_t *vlen, uint64_t *expire_at_ms)
{
    char kb[256];
    size_t kl;
    char *k = ks_meta_key(dbi, key, klen, kb, sizeof kb, &kl);
    *type = 0;
    *raw = NULL;
    if (!k)
        return -ENOMEM;
    void *v;
    size_t n;
    int rc = shale_get_ex(db, NULL, k, kl, &v, &n, expire_at_ms);
    ks_key_free(k, kb);
    if (rc == SHALE_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (n < 1) {
        shale_free(v);
        return SHALE_ECORRUPT;
    }
    *raw = v;
    *type = (unsigned char)((char *)v)[0];
    *val = (char *)v + 1;
    *vlen = n - 1;
    return 0;
}

int ks_set_string(shale_db *db, int dbi, const void *key, size_t klen, const void *val, size_t vlen,
                  uint64_t expire_at_ms)
{
    char kb[256];
    size_t kl;
    char *k = ks_meta_key(dbi, key, klen, kb, sizeof kb, &kl);
    char vb[512];
    char *v = vlen + 1 <= sizeof vb ? vb : malloc(vlen + 1);
    int rc = -ENOMEM;
    if (k && v) {
        v[0] = KS_TYPE_STRING;
        memcpy(v + 1, val, vlen);
        rc = shale_put(db, k, kl, v, vlen + 1, expire_at_ms);
    }
    if (v != vb)
        free(v);
    if (k)
        ks_key_free(k, kb);
    return rc;
}

int ks_delete(shale_db *db, int dbi, const void *key, size_t klen, int *existed)
{
    char kb[256];
    size_t kl;
    char *k = ks_meta_key(dbi, key, klen, kb, sizeof kb, &kl);
    if (!k)
        return -ENOMEM;
    int rc = shale_get(db, k, kl, NULL, NULL);
    *existed = rc == 0;
    if (rc == 0)
        rc = shale_delete(db, k, kl);
    else if (rc == SHALE_ENOTFOUND)
        rc = 0;
    ks_key_free(k, kb);
    return rc;
}

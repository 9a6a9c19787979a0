/*
 * test_keyspace_txn.c - transactions over several commands (ks_txn_begin ... commit):
 * later commands read the earlier ones' writes (strings, hashes, lists, sets, sorted
 * sets through their own files' APIs), iterators merge the transaction's writes with the
 * engine's in both directions and after seeks, deletes hide, expiring writes keep their
 * expiry, counts follow each command and go back on abort, nothing reaches the engine
 * before the commit, a fifo database's writes land in its engine, and outside a
 * transaction a command still does not see its own writes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "hash.h"
#include "keyspace.h"
#include "list.h"
#include "set.h"
#include "ks_fixture.h"
#include "testutil.h"
#include "zset.h"

typedef struct fixture {
    char *dir;
    shale_db *db;
    keyspace ks;
} fixture;

static void open_all(fixture *f)
{
    f->dir = tu_tempdir("kstxn");
    ks_fixture_open(f->dir, &f->ks, &f->db);
}

static void close_all(fixture *f)
{
    ks_txn_abort(&f->ks);
    ks_fixture_close(&f->ks, f->db);
    tu_rmdir_free(f->dir);
}

/* One command: SET k v (expiry exp, 0 none). */
static void set_string(fixture *f, int dbi, const char *k, const char *v, uint64_t exp)
{
    ks_meta old;
    assert_int_equal(ks_read(&f->ks, dbi, k, strlen(k), &old), 0);
    ks_begin(&f->ks);
    assert_int_equal(ks_put_meta(&f->ks, dbi, k, strlen(k), &old, KS_TYPE_STRING, v, strlen(v), exp), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&old);
}

/* One command: DEL k (present). */
static void del_key(fixture *f, int dbi, const char *k)
{
    ks_meta old;
    assert_int_equal(ks_read(&f->ks, dbi, k, strlen(k), &old), 0);
    assert_int_not_equal(old.type, 0);
    ks_begin(&f->ks);
    assert_int_equal(ks_del_key(&f->ks, dbi, k, strlen(k), &old), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&old);
}

/* GET k through the key layer: the value as a C string in buf, or "(nil)". */
static const char *get_string(fixture *f, int dbi, const char *k, char *buf, size_t cap)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, dbi, k, strlen(k), &m), 0);
    if (!m.type)
        snprintf(buf, cap, "(nil)");
    else
        snprintf(buf, cap, "%.*s", (int)m.vlen, m.val);
    ks_meta_free(&m);
    return buf;
}

/* Whether engine db itself holds k's metadata, expired or not (what a crash keeps). */
static bool engine_has(fixture *f, shale_db *db, int dbi, const char *k)
{
    ks_key mk;
    assert_int_equal(ks_meta_key(&f->ks, dbi, k, strlen(k), &mk), 0);
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.include_expired = 1;
    int rc = shale_get_ex(db, &ro, mk.p, mk.len, NULL, NULL, NULL);
    ks_key_free(&mk);
    assert_true(rc == 0 || rc == SHALE_ENOTFOUND);
    return rc == 0;
}

static void test_txn_strings_and_abort(void **state)
{
    fixture f;
    open_all(&f);
    char buf[64];
    set_string(&f, 0, "old", "o", 0);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    assert_int_equal(ks_txn_begin(&f.ks), -EBUSY);
    set_string(&f, 0, "a", "1", 0);
    assert_string_equal(get_string(&f, 0, "a", buf, sizeof buf), "1");
    set_string(&f, 0, "a", "2", 0); /* the newest write wins */
    assert_string_equal(get_string(&f, 0, "a", buf, sizeof buf), "2");
    assert_int_equal(f.ks.count[0], 2); /* DBSIZE counts it inside the transaction */
    del_key(&f, 0, "old");
    assert_string_equal(get_string(&f, 0, "old", buf, sizeof buf), "(nil)");
    assert_int_equal(f.ks.count[0], 1);
    assert_false(engine_has(&f, f.db, 0, "a"));
    assert_true(engine_has(&f, f.db, 0, "old"));
    ks_txn_abort(&f.ks);
    assert_string_equal(get_string(&f, 0, "a", buf, sizeof buf), "(nil)");
    assert_string_equal(get_string(&f, 0, "old", buf, sizeof buf), "o");
    assert_int_equal(f.ks.count[0], 1);

    assert_int_equal(ks_txn_begin(&f.ks), 0);
    set_string(&f, 0, "a", "1", 0);
    del_key(&f, 0, "old");
    assert_int_equal(ks_txn_commit(&f.ks), 0);
    assert_true(engine_has(&f, f.db, 0, "a"));
    assert_false(engine_has(&f, f.db, 0, "old"));
    assert_int_equal(f.ks.count[0], 1);
    close_all(&f);
}

/* A command's own writes stay invisible to its own reads (in and out of a transaction),
   and an aborted command's writes go while the earlier commands' stay. */
static void test_txn_command_sees_only_committed(void **state)
{
    fixture f;
    open_all(&f);
    char buf[64];
    for (int txn = 0; txn < 2; txn++) {
        if (txn)
            assert_int_equal(ks_txn_begin(&f.ks), 0);
        ks_meta old;
        assert_int_equal(ks_read(&f.ks, 0, "k", 1, &old), 0);
        ks_begin(&f.ks);
        assert_int_equal(ks_put_meta(&f.ks, 0, "k", 1, &old, KS_TYPE_STRING, "v", 1, 0), 0);
        assert_string_equal(get_string(&f, 0, "k", buf, sizeof buf), txn ? "(nil)" : "(nil)");
        ks_abort(&f.ks);
        ks_meta_free(&old);
        assert_string_equal(get_string(&f, 0, "k", buf, sizeof buf), "(nil)");
        assert_int_equal(f.ks.count[0], 0);
        set_string(&f, 0, "k", "kept", 0);
        assert_string_equal(get_string(&f, 0, "k", buf, sizeof buf), "kept");
        if (txn)
            assert_int_equal(ks_txn_commit(&f.ks), 0);
        assert_true(engine_has(&f, f.db, 0, "k"));
        del_key(&f, 0, "k");
    }
    close_all(&f);
}

static void test_txn_hash(void **state)
{
    fixture f;
    open_all(&f);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    /* command 1: HSET h f1 v1 f2 v2 */
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "h", 1, &m), 0);
    uint64_t ver = ks_new_version(&f.ks);
    ks_begin(&f.ks);
    assert_int_equal(hash_put_field(&f.ks, 0, "h", 1, ver, "f1", 2, "v1", 2), 0);
    assert_int_equal(hash_put_field(&f.ks, 0, "h", 1, ver, "f2", 2, "v2", 2), 0);
    assert_int_equal(hash_put_meta(&f.ks, 0, "h", 1, &m, ver, 2, HASH_LISTPACK), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    /* command 2: HGET, HGETALL */
    assert_int_equal(ks_read(&f.ks, 0, "h", 1, &m), 0);
    assert_int_equal(m.type, KS_TYPE_HASH);
    assert_int_equal(m.size, 2);
    void *v;
    size_t vl;
    assert_int_equal(hash_get_field(&f.ks, 0, "h", 1, &m, "f2", 2, &v, &vl), 0);
    assert_memory_equal(v, "v2", 2);
    shale_free(v);
    hash_iter it;
    assert_int_equal(hash_iter_open(&f.ks, 0, "h", 1, &m, &it), 0);
    const char *fk, *fv;
    size_t fkl, fvl;
    int n = 0;
    while (hash_iter_next(&it, &fk, &fkl, &fv, &fvl))
        n++;
    assert_int_equal(hash_iter_close(&it), 0);
    assert_int_equal(n, 2);
    /* command 3: HDEL h f1 */
    ks_begin(&f.ks);
    assert_int_equal(hash_del_field(&f.ks, 0, "h", 1, &m, "f1", 2), 0);
    assert_int_equal(hash_put_meta(&f.ks, 0, "h", 1, &m, m.version, 1, HASH_LISTPACK), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    /* command 4: the field is gone for point reads and walks */
    assert_int_equal(ks_read(&f.ks, 0, "h", 1, &m), 0);
    assert_int_equal(hash_get_field(&f.ks, 0, "h", 1, &m, "f1", 2, NULL, NULL), SHALE_ENOTFOUND);
    assert_int_equal(hash_iter_open(&f.ks, 0, "h", 1, &m, &it), 0);
    assert_true(hash_iter_next(&it, &fk, &fkl, &fv, &fvl));
    assert_memory_equal(fk, "f2", 2);
    assert_false(hash_iter_next(&it, &fk, &fkl, &fv, &fvl));
    assert_int_equal(hash_iter_close(&it), 0);
    ks_meta_free(&m);
    assert_int_equal(ks_txn_commit(&f.ks), 0);
    assert_int_equal(ks_read(&f.ks, 0, "h", 1, &m), 0);
    assert_int_equal(hash_get_field(&f.ks, 0, "h", 1, &m, "f2", 2, NULL, NULL), 0);
    assert_int_equal(hash_get_field(&f.ks, 0, "h", 1, &m, "f1", 2, NULL, NULL), SHALE_ENOTFOUND);
    ks_meta_free(&m);
    close_all(&f);
}

typedef struct joined {
    char s[256];
} joined;

static int join(void *ctx, const void *v, size_t vl)
{
    joined *j = ctx;
    size_t n = strlen(j->s);
    snprintf(j->s + n, sizeof j->s - n, "%s%.*s", n ? "," : "", (int)vl, (const char *)v);
    return 0;
}

/* One command: RPUSH (left false) or LPUSH of the words. */
static void push(fixture *f, const char *k, bool left, const char *const *w, int n)
{
    ks_meta m;
    list l;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    assert_int_equal(list_open(&l, &f->ks, 0, k, strlen(k), &m), 0);
    ks_begin(&f->ks);
    for (int i = 0; i < n; i++)
        assert_int_equal(list_push(&l, left, w[i], strlen(w[i])), 0);
    assert_int_equal(list_save(&l), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    list_close(&l);
    ks_meta_free(&m);
}

static void lrange(fixture *f, const char *k, bool reverse, joined *j)
{
    ks_meta m;
    list l;
    j->s[0] = '\0';
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    assert_int_equal(list_open(&l, &f->ks, 0, k, strlen(k), &m), 0);
    assert_int_equal(list_read(&l, 0, list_len(&l), reverse, join, j), 0);
    list_close(&l);
    ks_meta_free(&m);
}

static void test_txn_list(void **state)
{
    fixture f;
    open_all(&f);
    const char *a[] = {"a", "b"}, *c[] = {"c"};
    push(&f, "l", false, a, 2); /* before: in the engine */
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    push(&f, "l", false, c, 1);
    push(&f, "l", true, c, 1);
    joined j;
    lrange(&f, "l", false, &j);
    assert_string_equal(j.s, "c,a,b,c");
    lrange(&f, "l", true, &j);
    assert_string_equal(j.s, "c,b,a,c");
    /* LPOP */
    ks_meta m;
    list l;
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    assert_int_equal(list_open(&l, &f.ks, 0, "l", 1, &m), 0);
    ks_begin(&f.ks);
    joined popped = {{0}};
    assert_int_equal(list_pop(&l, true, 2, join, &popped), 0);
    assert_int_equal(list_save(&l), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    list_close(&l);
    ks_meta_free(&m);
    assert_string_equal(popped.s, "c,a");
    lrange(&f, "l", false, &j);
    assert_string_equal(j.s, "b,c");
    assert_int_equal(ks_txn_commit(&f.ks), 0);
    lrange(&f, "l", false, &j);
    assert_string_equal(j.s, "b,c");
    close_all(&f);
}

static void sadd(fixture *f, const char *k, const char *const *w, size_t n, uint64_t want)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    set_ref s = {k, strlen(k), &m};
    size_t lens[16];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(w[i]);
    uint64_t added;
    ks_begin(&f->ks);
    assert_int_equal(set_add(&f->ks, 0, &s, w, lens, n, &added), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    assert_int_equal(added, want);
    ks_meta_free(&m);
}

static int smembers(fixture *f, const char *k, set_list *out)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    set_ref s = {k, strlen(k), &m};
    memset(out, 0, sizeof *out);
    int rc = m.type ? set_members(&f->ks, 0, &s, set_list_emit, out) : 0;
    ks_meta_free(&m);
    return rc;
}

static void test_txn_set(void **state)
{
    fixture f;
    open_all(&f);
    const char *a[] = {"x", "y"}, *b[] = {"y", "z", "w"};
    sadd(&f, "s", a, 2, 2);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    sadd(&f, "s", b, 3, 2); /* y is there already: its earlier add is seen */
    set_list out;
    assert_int_equal(smembers(&f, "s", &out), 0);
    assert_int_equal(out.n, 4);
    set_list_free(&out);
    /* SREM x */
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "s", 1, &m), 0);
    set_ref s = {"s", 1, &m};
    const char *x[] = {"x"};
    size_t xl[] = {1};
    uint64_t removed;
    ks_begin(&f.ks);
    assert_int_equal(set_remove(&f.ks, 0, &s, x, xl, 1, &removed), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    assert_int_equal(removed, 1);
    ks_meta_free(&m);
    assert_int_equal(ks_read(&f.ks, 0, "s", 1, &m), 0);
    bool found[2];
    const char *q[] = {"x", "w"};
    size_t ql[] = {1, 1};
    assert_int_equal(set_contains(&f.ks, 0, &s, q, ql, 2, found), 0);
    assert_false(found[0]);
    assert_true(found[1]);
    ks_meta_free(&m);
    assert_int_equal(smembers(&f, "s", &out), 0);
    assert_int_equal(out.n, 3);
    set_list_free(&out);
    ks_txn_abort(&f.ks);
    assert_int_equal(smembers(&f, "s", &out), 0);
    assert_int_equal(out.n, 2);
    set_list_free(&out);
    close_all(&f);
}

static void zadd(fixture *f, const char *k, const char *mem, double score)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    zset_writer w;
    zset_writer_open(&w, &f->ks, 0, k, strlen(k), &m);
    double old = 0;
    ks_begin(&f->ks);
    int rc = zset_writer_score(&w, mem, strlen(mem), &old);
    assert_true(rc == 0 || rc == SHALE_ENOTFOUND);
    assert_int_equal(zset_writer_set(&w, mem, strlen(mem), score, rc == 0, old), 0);
    assert_int_equal(zset_writer_finish(&w), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    zset_writer_free(&w);
    ks_meta_free(&m);
}

typedef struct zjoin {
    char s[256];
} zjoin;

static int zcollect(void *ctx, const char *member, size_t len, double score)
{
    zjoin *j = ctx;
    size_t n = strlen(j->s);
    snprintf(j->s + n, sizeof j->s - n, "%s%.*s=%g", n ? "," : "", (int)len, member, score);
    return 0;
}

static void zrange(fixture *f, const char *k, bool rev, zjoin *j)
{
    ks_meta m;
    j->s[0] = '\0';
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    zset_ref z = {&f->ks, 0, k, strlen(k), &m};
    assert_int_equal(zset_range_rank(&z, 0, m.size - 1, rev, zcollect, j), 0);
    ks_meta_free(&m);
}

static void test_txn_zset(void **state)
{
    fixture f;
    open_all(&f);
    zadd(&f, "z", "a", 1);
    zadd(&f, "z", "b", 2);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    zadd(&f, "z", "c", 1.5);
    zadd(&f, "z", "a", 3); /* moves: its old score entry is deleted in the transaction */
    zjoin j;
    zrange(&f, "z", false, &j);
    assert_string_equal(j.s, "c=1.5,b=2,a=3");
    zrange(&f, "z", true, &j);
    assert_string_equal(j.s, "a=3,b=2,c=1.5");
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "z", 1, &m), 0);
    zset_ref z = {&f.ks, 0, "z", 1, &m};
    double sc;
    assert_int_equal(zset_score(&z, "a", 1, &sc), 0);
    assert_true(sc == 3);
    ks_meta_free(&m);
    assert_int_equal(ks_txn_commit(&f.ks), 0);
    zrange(&f, "z", false, &j);
    assert_string_equal(j.s, "c=1.5,b=2,a=3");
    close_all(&f);
}

/* The keys of database 0 through a range (forward or backward) as "a,b,...". */
static void walk_keys(fixture *f, bool backward, char *out, size_t cap)
{
    ks_range r;
    assert_int_equal(ks_range_open_db(&f->ks, 0, &r), 0);
    out[0] = '\0';
    if (backward)
        ks_iter_seek_to_last(r.it);
    for (; ks_iter_valid(r.it); backward ? ks_iter_prev(r.it) : ks_iter_next(r.it)) {
        size_t kl, n = strlen(out);
        const char *k = ks_iter_key(r.it, &kl);
        snprintf(out + n, cap - n, "%s%.*s", n ? "," : "", (int)(kl - KS_META_PREFIX),
                 k + KS_META_PREFIX);
    }
    assert_int_equal(ks_iter_status(r.it), 0);
    ks_range_close(&r);
}

static const char *key_at(const ks_iter *it, char *buf, size_t cap)
{
    if (!ks_iter_valid(it))
        return "(end)";
    size_t kl;
    const char *k = ks_iter_key(it, &kl);
    snprintf(buf, cap, "%.*s", (int)(kl - KS_META_PREFIX), k + KS_META_PREFIX);
    return buf;
}

static void test_txn_iterators_merge(void **state)
{
    fixture f;
    open_all(&f);
    const char *engine_keys[] = {"a", "c", "e", "g"};
    for (int i = 0; i < 4; i++)
        set_string(&f, 0, engine_keys[i], "engine", 0);
    set_string(&f, 0, "x", "soon", ks_now_ms() + 60000);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    set_string(&f, 0, "b", "txn", 0);
    set_string(&f, 0, "d", "txn", 0);
    set_string(&f, 0, "e", "txn", 0); /* hides the engine's e */
    del_key(&f, 0, "c");
    del_key(&f, 0, "g"); /* the engine's last key */
    set_string(&f, 0, "0", "txn", 0); /* before every engine key */
    set_string(&f, 0, "y", "gone", 1); /* expired at once: hidden from live walks */
    set_string(&f, 0, "z", "txn", 0);
    char keys[256], buf[16];
    walk_keys(&f, false, keys, sizeof keys);
    assert_string_equal(keys, "0,a,b,d,e,x,z");
    walk_keys(&f, true, keys, sizeof keys);
    assert_string_equal(keys, "z,x,e,d,b,a,0");

    ks_range r;
    assert_int_equal(ks_range_open_db(&f.ks, 0, &r), 0);
    ks_key t;
    assert_int_equal(ks_meta_key(&f.ks, 0, "c", 1, &t), 0);
    ks_iter_seek(r.it, t.p, t.len);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "d");
    size_t vl;
    const char *v = ks_iter_value(r.it, &vl);
    assert_memory_equal(v + 1, "txn", 3);
    ks_iter_prev(r.it); /* turns: b, then a */
    assert_string_equal(key_at(r.it, buf, sizeof buf), "b");
    ks_iter_prev(r.it);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "a");
    ks_iter_next(r.it); /* turns back */
    assert_string_equal(key_at(r.it, buf, sizeof buf), "b");
    ks_iter_seek_for_prev(r.it, t.p, t.len);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "b");
    ks_iter_next(r.it);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "d");
    ks_iter_next(r.it);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "e");
    v = ks_iter_value(r.it, &vl);
    assert_memory_equal(v + 1, "txn", 3);
    ks_iter_next(r.it);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "x");
    assert_true(ks_iter_expire_at(r.it) > ks_now_ms());
    ks_key_free(&t);
    assert_int_equal(ks_meta_key(&f.ks, 0, "g", 1, &t), 0);
    ks_iter_seek(r.it, t.p, t.len);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "x");
    ks_key_free(&t);
    ks_range_close(&r);
    /* a range of one key's prefix only sees the transaction's keys within it */
    assert_int_equal(ks_range_open_db_prefix(&f.ks, 0, "d", 1, &r), 0);
    assert_string_equal(key_at(r.it, buf, sizeof buf), "d");
    ks_iter_next(r.it);
    assert_false(ks_iter_valid(r.it));
    ks_range_close(&r);

    assert_int_equal(ks_txn_commit(&f.ks), 0);
    walk_keys(&f, false, keys, sizeof keys);
    assert_string_equal(keys, "0,a,b,d,e,x,z");
    close_all(&f);
}

static void test_txn_expiry_and_counts(void **state)
{
    fixture f;
    open_all(&f);
    char buf[64];
    set_string(&f, 0, "old", "o", ks_now_ms() + 150);
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.expires[0], 1);
    usleep(250 * 1000);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    uint64_t exp = ks_now_ms() + 60000;
    set_string(&f, 0, "t", "v", exp);
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "t", 1, &m), 0);
    assert_int_equal(m.expire_at_ms, exp);
    ks_meta_free(&m);
    assert_int_equal(ks_read_head(&f.ks, 0, "t", 1, &m), 0);
    assert_int_equal(m.type, KS_TYPE_UNREAD);
    assert_int_equal(m.expire_at_ms, exp);
    ks_meta_free(&m);
    assert_int_equal(f.ks.count[0], 2);
    assert_int_equal(f.ks.expires[0], 2);
    /* the expired key is reaped by the read, in the transaction */
    assert_string_equal(get_string(&f, 0, "old", buf, sizeof buf), "(nil)");
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.expires[0], 1);
    set_string(&f, 0, "t", "v2", 0); /* PERSIST-like overwrite drops the TTL */
    assert_int_equal(f.ks.expires[0], 0);
    ks_txn_abort(&f.ks);
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.expires[0], 1);
    assert_true(engine_has(&f, f.db, 0, "old"));

    assert_int_equal(ks_txn_begin(&f.ks), 0);
    assert_string_equal(get_string(&f, 0, "old", buf, sizeof buf), "(nil)");
    set_string(&f, 0, "t", "v", exp);
    assert_int_equal(ks_txn_commit(&f.ks), 0);
    assert_false(engine_has(&f, f.db, 0, "old"));
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.expires[0], 1);
    assert_int_equal(ks_read(&f.ks, 0, "t", 1, &m), 0);
    assert_int_equal(m.expire_at_ms, exp);
    ks_meta_free(&m);
    /* the expiry index got the entry: the active cycle finds it */
    ks_range r;
    assert_int_equal(ks_range_open_expiries(&f.ks, 0, &r), 0);
    assert_true(ks_iter_valid(r.it));
    ks_range_close(&r);
    close_all(&f);
}

static void test_txn_fifo_database(void **state)
{
    fixture f;
    open_all(&f);
    char buf[64];
    assert_int_equal(ks_set_fifo(&f.ks, 1, true, 1 << 20), 0);
    ks_fifo *fifo = ks_fifo_of(&f.ks, 1);
    assert_non_null(fifo);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    set_string(&f, 1, "q", "fifo", 0);
    set_string(&f, 0, "m", "main", 0);
    assert_string_equal(get_string(&f, 1, "q", buf, sizeof buf), "fifo");
    assert_int_equal(f.ks.count[1], 1);
    assert_false(engine_has(&f, fifo->db, 1, "q"));
    assert_int_equal(ks_txn_commit(&f.ks), 0);
    assert_true(engine_has(&f, fifo->db, 1, "q"));
    assert_false(engine_has(&f, f.db, 1, "q"));
    assert_true(engine_has(&f, f.db, 0, "m"));
    assert_int_equal(f.ks.count[1], 1);
    close_all(&f);
}

/* FLUSHDB inside a transaction: the earlier writes to the database are dropped (not
   written under the dropped id), counts restart from 0, later writes count. */
static void test_txn_flush_inside(void **state)
{
    fixture f;
    open_all(&f);
    char buf[64];
    set_string(&f, 0, "e", "1", 0);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    set_string(&f, 0, "a", "1", 0);
    assert_int_equal(ks_flush(&f.ks, 0), 0);
    assert_int_equal(f.ks.count[0], 0);
    assert_string_equal(get_string(&f, 0, "a", buf, sizeof buf), "(nil)");
    set_string(&f, 0, "b", "1", 0);
    assert_int_equal(f.ks.count[0], 1);
    ks_txn_abort(&f.ks);
    assert_int_equal(f.ks.count[0], 0);
    /* committed: the write before the flush is not left under the dropped id */
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    set_string(&f, 0, "a", "1", 0);
    ks_key before;
    assert_int_equal(ks_meta_key(&f.ks, 0, "a", 1, &before), 0);
    assert_int_equal(ks_flush(&f.ks, 0), 0);
    assert_int_equal(ks_txn_commit(&f.ks), 0);
    assert_int_equal(shale_get_ex(f.db, NULL, before.p, before.len, NULL, NULL, NULL),
                     SHALE_ENOTFOUND);
    ks_key_free(&before);
    assert_int_equal(f.ks.count[0], 0);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    set_string(&f, 0, "b", "1", 0);
    assert_int_equal(ks_swap(&f.ks, 0, 1), 0);
    assert_int_equal(f.ks.count[1], 1);
    assert_string_equal(get_string(&f, 1, "b", buf, sizeof buf), "1");
    ks_txn_abort(&f.ks);
    assert_int_equal(f.ks.count[1], 0);
    assert_string_equal(get_string(&f, 1, "b", buf, sizeof buf), "(nil)");
    close_all(&f);
}

/* A batch the engine refuses (a failed log write): the commit fails, nothing of the
   transaction is there and the counts are as before it. */
static void test_txn_commit_failure_writes_nothing(void **state)
{
    fixture f;
    open_all(&f);
    char buf[64];
    set_string(&f, 0, "pre", "o", 0);
    assert_int_equal(ks_txn_begin(&f.ks), 0);
    set_string(&f, 0, "a", "1", 0);
    set_string(&f, 0, "b", "1", 0);
    del_key(&f, 0, "pre");
    assert_int_equal(f.ks.count[0], 2);
    file_fault_arm(FILE_OP_WRITE, 1, -EIO, false, true);
    int rc = ks_txn_commit(&f.ks);
    file_fault_clear();
    assert_int_not_equal(rc, 0);
    assert_false(ks_in_txn(&f.ks));
    assert_int_equal(f.ks.count[0], 1);
    assert_string_equal(get_string(&f, 0, "pre", buf, sizeof buf), "o");
    assert_string_equal(get_string(&f, 0, "a", buf, sizeof buf), "(nil)");
    assert_false(engine_has(&f, f.db, 0, "a"));
    assert_true(engine_has(&f, f.db, 0, "pre"));
    ks_close(&f.ks);
    shale_close(f.db); /* may report the failed write */
    tu_rmdir_free(f.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txn_strings_and_abort),
        cmocka_unit_test(test_txn_command_sees_only_committed),
        cmocka_unit_test(test_txn_hash),
        cmocka_unit_test(test_txn_list),
        cmocka_unit_test(test_txn_set),
        cmocka_unit_test(test_txn_zset),
        cmocka_unit_test(test_txn_iterators_merge),
        cmocka_unit_test(test_txn_expiry_and_counts),
        cmocka_unit_test(test_txn_fifo_database),
        cmocka_unit_test(test_txn_flush_inside),
        cmocka_unit_test(test_txn_commit_failure_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

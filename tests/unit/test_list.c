/*
 * test_list.c - lists on engine keys (types/list.c): pushes and pops at both ends with
 * head and tail where the layout says, an emptied list deleting its key, Redis's index
 * arithmetic at the edges, LINSERT and LREM moving the shorter side (checked by where
 * head and tail end up), LTRIM by deletes and by a copy under a new version, LPOS, a
 * metadata that names missing elements, and a randomized run of every operation against
 * an in-memory model that also checks that the live version holds exactly the list's
 * elements (nothing popped or moved is left behind); DUMP's read (head to tail) and
 * RESTORE's write (a new version from LIST_MID, the expiry given, over any old value).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyspace.h"
#include "list.h"
#include "ks_fixture.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    shale_db *db;
    keyspace ks;
} fixture;

static void open_all(fixture *f)
{
    ks_fixture_open(f->dir, &f->ks, &f->db);
}

static void setup(fixture *f)
{
    f->dir = tu_tempdir("list");
    open_all(f);
}

static void teardown(fixture *f)
{
    ks_fixture_close(&f->ks, f->db);
    tu_rmdir_free(f->dir);
}

/* One transaction on list k: read, open, the caller's operations, save, commit. */
typedef struct txn {
    fixture *f;
    const char *k;
    ks_meta m;
    list l;
} txn;

static void begin(txn *t, fixture *f, const char *k)
{
    t->f = f;
    t->k = k;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &t->m), 0);
    assert_int_equal(list_open(&t->l, &f->ks, 0, k, strlen(k), &t->m), 0);
    ks_begin(&f->ks);
}

static void commit(txn *t)
{
    assert_int_equal(list_save(&t->l), 0);
    assert_int_equal(ks_commit(&t->f->ks), 0);
    list_close(&t->l);
    ks_meta_free(&t->m);
}

/* Pushes the words of a space-separated string, each in turn. */
static void push(fixture *f, const char *k, bool left, const char *words)
{
    txn t;
    begin(&t, f, k);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", words);
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " "))
        assert_int_equal(list_push(&t.l, left, w, strlen(w)), 0);
    commit(&t);
}

/* Values joined by spaces. */
typedef struct joined {
    char s[4096];
    size_t n;
} joined;

static int join(void *ctx, const void *v, size_t vl)
{
    joined *j = ctx;
    if (j->n)
        j->s[j->n++] = ' ';
    memcpy(j->s + j->n, v, vl);
    j->n += vl;
    j->s[j->n] = '\0';
    return 0;
}

/* The whole list as "a b c" ("" when absent), and its head and tail. */
static const char *contents(fixture *f, const char *k, uint64_t *head, uint64_t *tail)
{
    static joined j;
    j.n = 0;
    j.s[0] = '\0';
    ks_meta m;
    list l;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    assert_int_equal(list_open(&l, &f->ks, 0, k, strlen(k), &m), 0);
    assert_int_equal(list_read(&l, 0, list_len(&l), false, join, &j), 0);
    if (head)
        *head = l.head;
    if (tail)
        *tail = l.tail;
    list_close(&l);
    ks_meta_free(&m);
    return j.s;
}

static uint64_t version_of(fixture *f, const char *k)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    uint64_t v = m.type ? m.version : 0;
    ks_meta_free(&m);
    return v;
}

/* Engine keys under the key's live version: must be exactly its length. */
static uint64_t stored_elements(fixture *f, const char *k)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    uint64_t n = 0;
    if (m.type) {
        ks_range r;
        assert_int_equal(ks_range_open_members(&f->ks, 0, k, strlen(k), &m, &r), 0);
        for (; ks_iter_valid(r.it); ks_iter_next(r.it))
            n++;
        ks_range_close(&r);
    }
    ks_meta_free(&m);
    return n;
}

static void test_list_push_pop_ends(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "q", false, "a b c");
    push(&f, "q", true, "x y");
    uint64_t h, t;
    assert_string_equal(contents(&f, "q", &h, &t), "y x a b c");
    assert_true(h == LIST_MID - 2 && t == LIST_MID + 3);
    txn x;
    joined j = {0};
    begin(&x, &f, "q");
    assert_int_equal(list_pop(&x.l, true, 1, join, &j), 0);
    assert_int_equal(list_pop(&x.l, false, 2, join, &j), 0);
    commit(&x);
    assert_string_equal(j.s, "y c b"); /* in the order taken */
    assert_string_equal(contents(&f, "q", &h, &t), "x a");
    assert_true(h == LIST_MID - 1 && t == LIST_MID + 1);
    assert_int_equal(stored_elements(&f, "q"), 2); /* the popped ones are deleted */
    /* a count past the length takes what there is, and the key goes */
    j.n = 0;
    begin(&x, &f, "q");
    assert_int_equal(list_pop(&x.l, false, 10, join, &j), 0);
    assert_int_equal(list_len(&x.l), 0);
    commit(&x);
    assert_string_equal(j.s, "a x");
    assert_int_equal(version_of(&f, "q"), 0);
    assert_int_equal(f.ks.count[0], 0);
    /* recreated: a new version, from the middle again */
    uint64_t old = 0;
    push(&f, "q", true, "n");
    assert_true(version_of(&f, "q") > old);
    assert_string_equal(contents(&f, "q", &h, &t), "n");
    assert_true(h == LIST_MID - 1 && t == LIST_MID);
    teardown(&f);
}

static void test_list_index_arithmetic(void **state)
{
    uint64_t from, count, pos;
    struct {
        uint64_t len;
        long long start, stop;
        uint64_t from, count;
    } spans[] = {
        {5, 0, -1, 0, 5},          {5, -100, 100, 0, 5},      {5, 5, 10, 0, 0},
        {5, 2, 1, 0, 0},           {5, -1, -1, 4, 1},         {5, LLONG_MIN, LLONG_MAX, 0, 5},
        {5, 4, 4, 4, 1},           {5, -5, 0, 0, 1},          {5, -6, -6, 0, 0},
        {5, 0, -6, 0, 0},          {0, 0, -1, 0, 0},          {1, 0, 0, 0, 1},
        {5, LLONG_MAX, LLONG_MAX, 0, 0}, {5, LLONG_MIN, LLONG_MIN, 0, 0}, {5, -6, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        list_span(spans[i].len, spans[i].start, spans[i].stop, &from, &count);
        if (from != spans[i].from || count != spans[i].count)
            fail_msg("span %zu: %llu %llu", i, (unsigned long long)from, (unsigned long long)count);
    }
    assert_true(list_pos_of(5, -1, &pos) && pos == 4);
    assert_true(list_pos_of(5, -5, &pos) && pos == 0);
    assert_true(list_pos_of(5, 4, &pos) && pos == 4);
    assert_false(list_pos_of(5, -6, &pos));
    assert_false(list_pos_of(5, 5, &pos));
    assert_false(list_pos_of(5, LLONG_MIN, &pos));
    assert_false(list_pos_of(5, LLONG_MAX, &pos));
    assert_false(list_pos_of(0, 0, &pos));
}

static void test_list_get_set(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "l", false, "a b c");
    txn x;
    begin(&x, &f, "l");
    void *v;
    size_t vl;
    assert_int_equal(list_get(&x.l, 2, &v, &vl), 0);
    assert_memory_equal(v, "c", 1);
    shale_free(v);
    assert_int_equal(list_set(&x.l, 1, "B", 1), 0);
    commit(&x);
    assert_string_equal(contents(&f, "l", NULL, NULL), "a B c");
    teardown(&f);
}

static void test_list_insert_moves_shorter_side(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "l", false, "0 1 2 3 4 5 6 7 8 9");
    uint64_t h, t;
    bool found;
    txn x;
    begin(&x, &f, "l"); /* before position 2: two elements move left */
    assert_int_equal(list_insert(&x.l, false, "2", 1, "B", 1, &found), 0);
    assert_true(found);
    commit(&x);
    assert_string_equal(contents(&f, "l", &h, &t), "0 1 B 2 3 4 5 6 7 8 9");
    assert_true(h == LIST_MID - 1 && t == LIST_MID + 10);
    begin(&x, &f, "l"); /* after 7 (position 8 of 11): the right side moves */
    assert_int_equal(list_insert(&x.l, true, "7", 1, "A", 1, &found), 0);
    commit(&x);
    assert_string_equal(contents(&f, "l", &h, &t), "0 1 B 2 3 4 5 6 7 A 8 9");
    assert_true(h == LIST_MID - 1 && t == LIST_MID + 11);
    begin(&x, &f, "l"); /* before the first: nothing moves left */
    assert_int_equal(list_insert(&x.l, false, "0", 1, "F", 1, &found), 0);
    commit(&x);
    begin(&x, &f, "l"); /* after the last: nothing moves right */
    assert_int_equal(list_insert(&x.l, true, "9", 1, "L", 1, &found), 0);
    commit(&x);
    assert_string_equal(contents(&f, "l", &h, &t), "F 0 1 B 2 3 4 5 6 7 A 8 9 L");
    assert_true(h == LIST_MID - 2 && t == LIST_MID + 12);
    begin(&x, &f, "l");
    assert_int_equal(list_insert(&x.l, true, "zz", 2, "L", 1, &found), 0);
    assert_false(found);
    commit(&x);
    assert_int_equal(stored_elements(&f, "l"), 14);
    teardown(&f);
}

static void test_list_remove_closes_up_cheaply(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "l", false, "x a b x c d e f g x h");
    uint64_t h, t, removed;
    txn x;
    begin(&x, &f, "l"); /* two from the left: 0 and 3; the left part is cheaper */
    assert_int_equal(list_remove(&x.l, 2, "x", 1, &removed), 0);
    commit(&x);
    assert_int_equal(removed, 2);
    assert_string_equal(contents(&f, "l", &h, &t), "a b c d e f g x h");
    assert_true(h == LIST_MID + 2 && t == LIST_MID + 11);
    begin(&x, &f, "l"); /* from the right: position 7 of 9, the right side closes */
    assert_int_equal(list_remove(&x.l, -5, "x", 1, &removed), 0);
    commit(&x);
    assert_int_equal(removed, 1);
    assert_string_equal(contents(&f, "l", &h, &t), "a b c d e f g h");
    assert_true(h == LIST_MID + 2 && t == LIST_MID + 10);
    push(&f, "m", false, "r 1 2 3 4 5 6 r r 7 r");
    begin(&x, &f, "m"); /* the split between: 0 closes left, 7 8 10 right */
    assert_int_equal(list_remove(&x.l, 0, "r", 1, &removed), 0);
    commit(&x);
    assert_int_equal(removed, 4);
    assert_string_equal(contents(&f, "m", &h, &t), "1 2 3 4 5 6 7");
    assert_true(h == LIST_MID + 1 && t == LIST_MID + 8);
    assert_int_equal(stored_elements(&f, "m"), 7);
    begin(&x, &f, "m");
    assert_int_equal(list_remove(&x.l, 0, "q", 1, &removed), 0);
    commit(&x);
    assert_int_equal(removed, 0);
    push(&f, "s", false, "z z z");
    begin(&x, &f, "s"); /* every element: the key goes */
    assert_int_equal(list_remove(&x.l, LLONG_MIN, "z", 1, &removed), 0);
    commit(&x);
    assert_int_equal(removed, 3);
    assert_int_equal(version_of(&f, "s"), 0);
    teardown(&f);
}

static void test_list_trim_by_delete_and_by_copy(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "l", false, "0 1 2 3 4 5 6 7 8 9");
    uint64_t v0 = version_of(&f, "l"), h, t;
    txn x;
    begin(&x, &f, "l"); /* keeps 6 of 10: deletes */
    assert_int_equal(list_trim(&x.l, 2, -3), 0);
    commit(&x);
    assert_string_equal(contents(&f, "l", &h, &t), "2 3 4 5 6 7");
    assert_true(h == LIST_MID + 2 && t == LIST_MID + 8 && version_of(&f, "l") == v0);
    assert_int_equal(stored_elements(&f, "l"), 6);
    push(&f, "big", false, "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19");
    uint64_t v1 = version_of(&f, "big");
    begin(&x, &f, "big"); /* keeps 2 of 20: a copy under a new version */
    assert_int_equal(list_trim(&x.l, -3, -2), 0);
    commit(&x);
    assert_string_equal(contents(&f, "big", &h, &t), "17 18");
    assert_true(h == LIST_MID && t == LIST_MID + 2 && version_of(&f, "big") > v1);
    assert_int_equal(stored_elements(&f, "big"), 2);
    begin(&x, &f, "big"); /* nothing kept: the key goes */
    assert_int_equal(list_trim(&x.l, 5, 1), 0);
    commit(&x);
    assert_int_equal(version_of(&f, "big"), 0);
    teardown(&f);
}

typedef struct positions {
    uint64_t p[32];
    int n;
} positions;

static int collect(void *ctx, uint64_t pos)
{
    positions *p = ctx;
    p->p[p->n++] = pos;
    return 0;
}

static void test_list_find(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "l", false, "a b c a b c a");
    txn x;
    begin(&x, &f, "l");
    positions p = {0};
    assert_int_equal(list_find(&x.l, "a", 1, 1, 0, 0, collect, &p), 0);
    assert_true(p.n == 3 && p.p[0] == 0 && p.p[1] == 3 && p.p[2] == 6);
    p.n = 0;
    assert_int_equal(list_find(&x.l, "a", 1, -2, 1, 0, collect, &p), 0);
    assert_true(p.n == 1 && p.p[0] == 3);
    p.n = 0;
    assert_int_equal(list_find(&x.l, "c", 1, 1, 0, 3, collect, &p), 0); /* MAXLEN 3 */
    assert_true(p.n == 1 && p.p[0] == 2);
    p.n = 0;
    assert_int_equal(list_find(&x.l, "b", 1, -1, 0, 2, collect, &p), 0); /* last two */
    assert_int_equal(p.n, 0);
    p.n = 0;
    assert_int_equal(list_find(&x.l, "a", 1, LLONG_MIN, 2, 0, collect, &p), 0);
    assert_true(p.n == 2 && p.p[0] == 6 && p.p[1] == 3); /* as rank -1 */
    list_close(&x.l);
    ks_abort(&f.ks);
    ks_meta_free(&x.m);
    teardown(&f);
}

static void test_list_missing_elements_are_corruption(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "l", false, "a b c");
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    unsigned char extra[16];
    memcpy(extra, m.extra, 16);
    extra[15] += 2; /* the tail two past the last element */
    ks_begin(&f.ks);
    assert_int_equal(ks_put_collection(&f.ks, 0, "l", 1, &m, KS_TYPE_LIST, m.version, 5, extra,
                                       16), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    list l;
    assert_int_equal(list_open(&l, &f.ks, 0, "l", 1, &m), 0);
    joined j = {0};
    assert_int_equal(list_read(&l, 0, 5, false, join, &j), SHALE_ECORRUPT);
    void *v;
    size_t vl;
    assert_int_equal(list_get(&l, 4, &v, &vl), SHALE_ECORRUPT);
    list_close(&l);
    ks_meta_free(&m);
    /* a size that disagrees with head and tail */
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    ks_begin(&f.ks);
    assert_int_equal(ks_put_collection(&f.ks, 0, "l", 1, &m, KS_TYPE_LIST, m.version, 4, extra,
                                       16), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    assert_int_equal(list_open(&l, &f.ks, 0, "l", 1, &m), SHALE_ECORRUPT);
    list_close(&l);
    ks_meta_free(&m);
    teardown(&f);
}

static void test_list_ends_of_the_index_space(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "l", false, "a");
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    list l;
    assert_int_equal(list_open(&l, &f.ks, 0, "l", 1, &m), 0);
    ks_begin(&f.ks);
    l.head = 0; /* as if 2^63 elements had been pushed on the left */
    l.tail = 1;
    assert_int_equal(list_push(&l, true, "b", 1), -EOVERFLOW);
    assert_int_equal(list_push(&l, false, "b", 1), 0);
    l.head = UINT64_MAX - 1;
    l.tail = UINT64_MAX;
    assert_int_equal(list_push(&l, false, "b", 1), -EOVERFLOW);
    ks_abort(&f.ks);
    list_close(&l);
    ks_meta_free(&m);
    teardown(&f);
}

/* Engine keys of (key, version), live ones only. */
static uint64_t keys_of_version(fixture *f, const char *k, uint64_t version)
{
    ks_key p;
    assert_int_equal(ks_field_key(&f->ks, 0, k, strlen(k), version, NULL, 0, &p), 0);
    ks_range r;
    assert_int_equal(ks_range_open(&f->ks, p.p, p.len, false, &r), 0);
    uint64_t n = 0;
    for (; ks_iter_valid(r.it); ks_iter_next(r.it))
        n++;
    ks_range_close(&r);
    ks_key_free(&p);
    return n;
}

/* What an emptied list and an LTRIM copy leave behind (no tombstones written) is dropped
   by the compaction filter: nothing is left under their old versions after a compaction. */
static void test_list_left_versions_are_compacted_away(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "gone", false, "a b c d e");
    push(&f, "trim", false, "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19");
    uint64_t vg = version_of(&f, "gone"), vt = version_of(&f, "trim");
    txn x;
    joined j = {0};
    begin(&x, &f, "gone");
    assert_int_equal(list_pop(&x.l, true, 5, join, &j), 0);
    commit(&x);
    begin(&x, &f, "trim");
    assert_int_equal(list_trim(&x.l, 0, 1), 0);
    commit(&x);
    assert_true(version_of(&f, "trim") != vt);
    /* unreachable, not deleted: still stored until a compaction */
    assert_int_equal(keys_of_version(&f, "gone", vg), 5);
    assert_int_equal(keys_of_version(&f, "trim", vt), 20);
    assert_int_equal(shale_flush(f.db), 0);
    assert_int_equal(shale_compact_range(f.db, NULL, 0, NULL, 0), 0);
    assert_int_equal(keys_of_version(&f, "gone", vg), 0);
    assert_int_equal(keys_of_version(&f, "trim", vt), 0);
    assert_string_equal(contents(&f, "trim", NULL, NULL), "0 1");
    teardown(&f);
}

/* ---- the randomized model run ---- */

#define MODEL_MAX 400

typedef struct model {
    char v[MODEL_MAX][8];
    int n;
} model;

static void model_string(const model *m, char *out)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < m->n; i++)
        n += (size_t)sprintf(out + n, "%s%s", i ? " " : "", m->v[i]);
}

static void model_insert(model *m, int at, const char *v)
{
    memmove(m->v[at + 1], m->v[at], sizeof m->v[0] * (size_t)(m->n - at));
    snprintf(m->v[at], sizeof m->v[0], "%s", v);
    m->n++;
}

static void model_delete(model *m, int at)
{
    memmove(m->v[at], m->v[at + 1], sizeof m->v[0] * (size_t)(m->n - at - 1));
    m->n--;
}

static void test_list_random_against_model(void **state)
{
    fixture f;
    setup(&f);
    uint64_t rng = tu_seed();
    model md = {0};
    static char want[MODEL_MAX * 8];
    for (int step = 0; step < 3000; step++) {
        txn x;
        begin(&x, &f, "r");
        char v[8];
        snprintf(v, sizeof v, "%c", (char)('a' + tu_rand_below(&rng, 6))); /* repeats */
        int op = (int)tu_rand_below(&rng, 9);
        bool left = tu_rand_below(&rng, 2);
        if ((op <= 1 || md.n == 0) && md.n < MODEL_MAX - 2) {
            assert_int_equal(list_push(&x.l, left, v, 1), 0);
            model_insert(&md, left ? 0 : md.n, v);
        } else if (op == 2) {
            uint64_t count = tu_rand_below(&rng, 4);
            joined j = {0};
            assert_int_equal(list_pop(&x.l, left, count, join, &j), 0);
            for (uint64_t i = 0; i < count && md.n; i++)
                model_delete(&md, left ? 0 : md.n - 1);
        } else if (op == 3 && md.n < MODEL_MAX - 2) {
            bool found, after = tu_rand_below(&rng, 2);
            char pivot[8];
            snprintf(pivot, sizeof pivot, "%c", (char)('a' + tu_rand_below(&rng, 6)));
            assert_int_equal(list_insert(&x.l, after, pivot, 1, v, 1, &found), 0);
            int at = -1;
            for (int i = 0; i < md.n && at < 0; i++)
                if (strcmp(md.v[i], pivot) == 0)
                    at = i;
            assert_int_equal(found, at >= 0);
            if (at >= 0)
                model_insert(&md, at + after, v);
        } else if (op == 4) {
            long long count = (long long)tu_rand_below(&rng, 5) - 2;
            uint64_t removed;
            assert_int_equal(list_remove(&x.l, count, v, 1, &removed), 0);
            uint64_t done = 0;
            uint64_t limit = count == 0 ? UINT64_MAX : (uint64_t)(count < 0 ? -count : count);
            if (count >= 0) {
                for (int i = 0; i < md.n && done < limit;)
                    if (strcmp(md.v[i], v) == 0) {
                        model_delete(&md, i);
                        done++;
                    } else
                        i++;
            } else {
                for (int i = md.n - 1; i >= 0 && done < limit; i--)
                    if (strcmp(md.v[i], v) == 0) {
                        model_delete(&md, i);
                        done++;
                    }
            }
            assert_int_equal(removed, done);
        } else if (op == 5 && tu_rand_below(&rng, 4) == 0) {
            long long a = (long long)tu_rand_below(&rng, 20) - 10;
            long long b = (long long)tu_rand_below(&rng, 20) - 10;
            if (tu_rand_below(&rng, 3) == 0) /* mostly keep most of it */
                a = 0, b = -1 - (long long)tu_rand_below(&rng, 2);
            assert_int_equal(list_trim(&x.l, a, b), 0);
            uint64_t from, count;
            list_span((uint64_t)md.n, a, b, &from, &count);
            memmove(md.v[0], md.v[from], sizeof md.v[0] * count);
            md.n = (int)count;
        } else if (op == 6 && md.n) {
            uint64_t pos = tu_rand_below(&rng, (uint64_t)md.n);
            assert_int_equal(list_set(&x.l, pos, v, 1), 0);
            snprintf(md.v[pos], sizeof md.v[0], "%s", v);
        } else if (op == 7 && md.n >= 2) { /* LMOVE on one key: pop, then push */
            joined j = {0};
            assert_int_equal(list_pop(&x.l, left, 1, join, &j), 0);
            bool to_left = tu_rand_below(&rng, 2);
            assert_int_equal(list_push(&x.l, to_left, j.s, j.n), 0);
            char moved[8];
            snprintf(moved, sizeof moved, "%s", md.v[left ? 0 : md.n - 1]);
            model_delete(&md, left ? 0 : md.n - 1);
            model_insert(&md, to_left ? 0 : md.n, moved);
        }
        commit(&x);
        model_string(&md, want);
        const char *got = contents(&f, "r", NULL, NULL);
        if (strcmp(got, want) != 0)
            fail_msg("step %d op %d:\n got  %s\n want %s", step, op, got, want);
        assert_int_equal(stored_elements(&f, "r"), (uint64_t)md.n);
        assert_int_equal(f.ks.count[0], md.n ? 1 : 0);
    }
    teardown(&f);
}

/* RESTORE's write of v over k (whatever it holds), with expiry exp. */
static void store_value(fixture *f, const char *k, const rdb_value *v, uint64_t exp)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, 0, k, strlen(k), &m), 0);
    ks_begin(&f->ks);
    assert_int_equal(list_store(&f->ks, 0, k, strlen(k), &m, v, exp), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&m);
}

static void test_list_load_and_store(void **state)
{
    fixture f;
    setup(&f);
    push(&f, "src", false, "c d e");
    push(&f, "src", true, "b a"); /* head below LIST_MID: a b c d e */
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "src", 3, &m), 0);
    rdb_value v;
    assert_int_equal(list_load(&f.ks, 0, "src", 3, &m, &v), 0);
    ks_meta_free(&m);
    assert_int_equal(v.n, 5);
    assert_int_equal(v.enc, RDB_ENC_AUTO);
    const char *want[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++) {
        size_t n;
        const char *p = rdb_value_item(&v, i, &n);
        assert_int_equal(n, 1);
        assert_memory_equal(p, want[i], 1);
    }

    /* over a string with a TTL: a new list from LIST_MID, the expiry given */
    assert_int_equal(ks_read(&f.ks, 0, "dst", 3, &m), 0);
    ks_begin(&f.ks);
    assert_int_equal(ks_put_meta(&f.ks, 0, "dst", 3, &m, KS_TYPE_STRING, "s", 1, 99), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    store_value(&f, "dst", &v, 4102444800000);
    uint64_t head, tail;
    assert_string_equal(contents(&f, "dst", &head, &tail), "a b c d e");
    assert_true(head == LIST_MID && tail == LIST_MID + 5);
    assert_int_equal(stored_elements(&f, "dst"), 5);
    assert_int_equal(ks_read(&f.ks, 0, "dst", 3, &m), 0);
    assert_int_equal(m.type, KS_TYPE_LIST);
    assert_int_equal(m.expire_at_ms, 4102444800000);
    assert_true(m.version != version_of(&f, "src"));
    ks_meta_free(&m);

    /* over a longer list: nothing of it shows through, the TTL goes */
    push(&f, "dst", false, "x y z w v u");
    uint64_t old = version_of(&f, "dst");
    store_value(&f, "dst", &v, 0);
    assert_string_equal(contents(&f, "dst", NULL, NULL), "a b c d e");
    assert_int_equal(stored_elements(&f, "dst"), 5);
    assert_true(version_of(&f, "dst") != old);
    assert_int_equal(ks_read(&f.ks, 0, "dst", 3, &m), 0);
    assert_int_equal(m.expire_at_ms, 0);
    ks_meta_free(&m);
    rdb_value_free(&v);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_push_pop_ends),
        cmocka_unit_test(test_list_index_arithmetic),
        cmocka_unit_test(test_list_get_set),
        cmocka_unit_test(test_list_insert_moves_shorter_side),
        cmocka_unit_test(test_list_remove_closes_up_cheaply),
        cmocka_unit_test(test_list_trim_by_delete_and_by_copy),
        cmocka_unit_test(test_list_find),
        cmocka_unit_test(test_list_missing_elements_are_corruption),
        cmocka_unit_test(test_list_ends_of_the_index_space),
        cmocka_unit_test(test_list_left_versions_are_compacted_away),
        cmocka_unit_test(test_list_random_against_model),
        cmocka_unit_test(test_list_load_and_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

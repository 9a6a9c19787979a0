/* test_version.c - version edits (the manifest's records) and version building. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format.h"
#include "options.h"
#include "shale.h"
#include "version.h"

static file_meta *make_file(uint64_t number, const char *lo, const char *hi, uint64_t seq)
{
    file_meta *f = file_meta_new();
    f->number = number;
    f->file_size = 1000 + number;
    ikey_append(&f->smallest, slice_from_str(lo), seq, KIND_VALUE);
    ikey_append(&f->largest, slice_from_str(hi), seq, KIND_VALUE);
    f->min_seq = seq;
    f->max_seq = seq;
    f->num_entries = 10;
    f->max_expire_at_ms = UINT64_MAX;
    return f;
}

static void test_version_edit_round_trip(void **state)
{
    version_edit e, d;
    edit_init(&e);
    e.has_log_number = e.has_next_file = e.has_last_seq = true;
    e.log_number = 7;
    e.next_file_number = 99;
    e.last_seq = 123456789;
    file_meta *f = make_file(12, "apple", "melon", 5);
    assert_int_equal(edit_add_file(&e, 1, f), 0);
    file_meta_unref(f, NULL);
    assert_int_equal(edit_delete_file(&e, 0, 4), 0);
    buf out = {0};
    assert_int_equal(edit_encode(&e, &out), 0);
    assert_int_equal(edit_decode(buf_slice(&out), &d), 0);
    assert_int_equal(d.log_number, 7);
    assert_int_equal(d.next_file_number, 99);
    assert_int_equal(d.last_seq, 123456789);
    assert_int_equal(d.n_added, 1);
    assert_int_equal(d.added[0].level, 1);
    assert_int_equal(d.added[0].f->number, 12);
    assert_int_equal(d.added[0].f->file_size, 1012);
    assert_int_equal(d.added[0].f->max_expire_at_ms, UINT64_MAX);
    assert_true(
        slice_equal(buf_slice(&d.added[0].f->smallest), buf_slice(&e.added[0].f->smallest)));
    assert_int_equal(d.added[0].f->num_live_keys, UINT64_MAX); /* unknown stays unknown */
    assert_int_equal(d.n_deleted, 1);
    assert_int_equal(d.deleted[0].number, 4);
    edit_destroy(&d);
    /* every truncation is refused or decodes a prefix of whole fields, never crashes */
    for (size_t cut = 0; cut < out.len; cut++) {
        int rc = edit_decode(slice_make(out.data, cut), &d);
        if (rc == 0)
            edit_destroy(&d);
        else
            assert_int_equal(rc, SHALE_ECORRUPT);
    }
    buf_free(&out);
    edit_destroy(&e);
}

/* Tables written since issue 17 know their live keys: tag 9 carries them (tag 5 for the
   others, so an older table's manifest record stays as it was); tag 9's fields past the
   ones this build knows are skipped. */
static void test_version_edit_live_keys(void **state)
{
    version_edit e, d;
    edit_init(&e);
    file_meta *f = make_file(12, "apple", "melon", 5);
    f->num_deletes = 6;
    f->num_live_keys = 3;
    assert_int_equal(edit_add_file(&e, 2, f), 0);
    file_meta_unref(f, NULL);
    buf out = {0};
    assert_int_equal(edit_encode(&e, &out), 0);
    assert_int_equal((unsigned char)out.data[0], 9);
    assert_int_equal(edit_decode(buf_slice(&out), &d), 0);
    assert_int_equal(d.n_added, 1);
    assert_int_equal(d.added[0].f->num_live_keys, 3);
    assert_int_equal(file_meta_hidden(d.added[0].f), 7);
    edit_destroy(&d);
    /* a newer writer's extra field: n = 2, the second skipped */
    assert_true(out.data[out.len - 2] == 1 && out.data[out.len - 1] == 3);
    out.data[out.len - 2] = 2;
    assert_int_equal(put_varint64(&out, 77), 0);
    assert_int_equal(edit_decode(buf_slice(&out), &d), 0);
    assert_int_equal(d.added[0].f->num_live_keys, 3);
    edit_destroy(&d);
    /* a count past the record's end is corruption */
    out.data[out.len - 3] = 100;
    assert_int_equal(edit_decode(buf_slice(&out), &d), SHALE_ECORRUPT);
    buf_free(&out);
    edit_destroy(&e);
}

static void test_version_apply_orders_levels(void **state)
{
    shale_options o;
    shale_options_default(&o);
    version_set *vs;
    assert_int_equal(version_set_new("/nonexistent", &o, &vs), 0);
    version_edit e;
    edit_init(&e);
    file_meta *a = make_file(10, "a", "f", 1), *b = make_file(11, "c", "k", 5),
              *c = make_file(12, "m", "p", 2), *d = make_file(13, "b", "d", 3);
    edit_add_file(&e, 0, a);
    edit_add_file(&e, 0, b);
    edit_add_file(&e, 1, c);
    edit_add_file(&e, 1, d);
    version *v;
    assert_int_equal(version_apply(vs, vs->current, &e, &v), 0);
    assert_int_equal(v->nfiles[0], 2);
    assert_int_equal(v->files[0][0]->number, 11); /* newest first */
    assert_int_equal(v->files[1][0]->number, 13); /* by key */
    file_meta **over;
    int n;
    slice lo = slice_from_str("e"), hi = slice_from_str("n");
    assert_int_equal(version_overlapping(v, 1, &lo, &hi, &over, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(over[0]->number, 12);
    free(over);
    /* L0 widening: [g,h] touches 11 (c..k) which touches 10 (a..f) */
    lo = slice_from_str("g");
    hi = slice_from_str("h");
    assert_int_equal(version_overlapping(v, 0, &lo, &hi, &over, &n), 0);
    assert_int_equal(n, 2);
    free(over);
    assert_true(version_overlap_in_levels_below(v, 0, slice_from_str("n"), slice_from_str("z")));
    assert_false(version_overlap_in_levels_below(v, 0, slice_from_str("q"), slice_from_str("z")));
    version_edit e2;
    edit_init(&e2);
    edit_delete_file(&e2, 1, 12);
    version *v2;
    assert_int_equal(version_apply(vs, v, &e2, &v2), 0);
    assert_int_equal(v2->nfiles[1], 1);
    /* drop the test's own references first: the last version to let go of a table is
       what reports it obsolete */
    edit_destroy(&e);
    edit_destroy(&e2);
    file_meta_unref(a, NULL);
    file_meta_unref(b, NULL);
    file_meta_unref(c, NULL);
    file_meta_unref(d, NULL);
    version_unref(v);
    uint64_t *obs;
    int nobs;
    version_set_take_obsolete(vs, &obs, &nobs);
    assert_int_equal(nobs, 1);
    assert_int_equal(obs[0], 12);
    free(obs);
    version_unref(v2);
    version_set_free(vs);
}

static void test_version_options_parse(void **state)
{
    uint64_t v;
    assert_int_equal(options_parse_size("64m", &v), 0);
    assert_int_equal(v, 64u << 20);
    assert_int_equal(options_parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(options_parse_size("1gb", &v), 0);
    assert_int_equal(v, 1u << 30);
    assert_int_equal(options_parse_size("x", &v), -EINVAL);
    assert_int_equal(options_parse_size("12q", &v), -EINVAL);
    assert_int_equal(options_parse_size("-1", &v), -EINVAL);
    int b;
    assert_int_equal(options_parse_bool("yes", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(options_parse_bool("off", &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(options_parse_bool("2", &b), -EINVAL);
    shale_options o;
    shale_options_default(&o);
    const char *why;
    assert_int_equal(options_validate(&o, &why), 0);
    o.num_memtables = 1;
    assert_int_equal(options_validate(&o, &why), -EINVAL);
    assert_non_null(why);
    assert_string_equal(shale_strerror(SHALE_ECORRUPT),
                        "corruption: a checksum or structure check failed");
    assert_string_equal(shale_strerror(-ENOENT), "No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_edit_round_trip),
        cmocka_unit_test(test_version_edit_live_keys),
        cmocka_unit_test(test_version_apply_orders_levels),
        cmocka_unit_test(test_version_options_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

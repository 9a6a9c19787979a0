/* ks_fixture.c - see ks_fixture.h. */
#include "ks_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

void ks_fixture_open(const char *dir, keyspace *ks, shale_db **db)
{
    shale_options o;
    shale_options_default(&o);
    o.compaction_filter = ks_compaction_filter;
    o.compaction_filter_ctx = ks;
    assert_int_equal(shale_open(dir, &o, db), 0);
    assert_int_equal(ks_open(ks, *db, dir, NULL), 0);
}

void ks_fixture_close(keyspace *ks, shale_db *db)
{
    ks_close(ks);
    assert_int_equal(shale_close(db), 0);
}

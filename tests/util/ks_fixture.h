/*
 * ks_fixture.h - the store the key-layer unit tests open: an engine at a directory with
 * the key layer's compaction filter, and the key layer on it.
 */
#ifndef SHALE_KS_FIXTURE_H
#define SHALE_KS_FIXTURE_H

#include "keyspace.h"
#include "shale.h"

/* Opens the engine at dir (created by the caller) and the keyspace on it; fails the
   running cmocka test on an error. ks must stay where it is until ks_fixture_close (the
   engine's compaction filter keeps a pointer to it). */
void ks_fixture_open(const char *dir, keyspace *ks, shale_db **db);
/* Closes both (the directory stays). */
void ks_fixture_close(keyspace *ks, shale_db *db);

#endif

/*
 * zset_internal.h - what zset.c (layout and reads) and zset_write.c (the writer) share
 * and nothing else uses.
 */
#ifndef SHALE_ZSET_INTERNAL_H
#define SHALE_ZSET_INTERNAL_H

#include "zset.h"

void zset_put_be64(unsigned char *b, uint64_t v);
/* Byte order of two strings (a shorter prefix first), as the engine orders keys. */
int zset_bytes_cmp(const void *a, size_t an, const void *b, size_t bn);
/* A member's two engine keys under version: P | 'M' | hash | member and
   P | 'S' | enc | member. */
int zset_member_key(const zset_ref *z, uint64_t version, const void *mem, size_t n, ks_key *out);
int zset_score_key(const zset_ref *z, uint64_t version, uint64_t enc, const void *mem, size_t n,
                   ks_key *out);
/* Whether z names a sorted set with members. */
bool zset_present(const zset_ref *z);
/* The metadata's flags byte (ZSET_F_*). */
unsigned zset_flags(const ks_meta *m);
/* A lower bound of the score-index entry enc | mem that fits a hint, and an upper one. */
void zset_hint_below(uint64_t enc, const void *mem, size_t n, zset_hint *h);
void zset_hint_above(uint64_t enc, const void *mem, size_t n, zset_hint *h);
/* The set's first or last score-index entry (enc | member) into out; empty when none. */
int zset_end_entry(const zset_ref *z, bool last, ks_key *out);

#endif

/*
 * zset_args.h - what the sorted-set and geo command files share: Redis 7.0's parsing of
 * scores and of score and lex ranges (with its error texts), reading a key as a sorted
 * set, and the reply of members with or without their scores.
 */
#ifndef SHALE_ZSET_ARGS_H
#define SHALE_ZSET_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "notify.h"
#include "server.h"
#include "zset.h"

#define ZSET_ERR_FLOAT "ERR value is not a valid float"
#define ZSET_ERR_RANGE "ERR min or max is not a float"
#define ZSET_ERR_LEX "ERR min or max not valid string range item"
#define ZSET_ERR_NAN "ERR resulting score is not a number (NaN)"
#define ZSET_ERR_INT "ERR value is not an integer or out of range"

/* Redis's string2d: all of p[0..n) is a double as strtod reads it, without leading
   space, not NaN, and not a value that overflowed (or underflowed to 0). */
bool parse_score(const char *p, size_t n, double *out);
bool arg_score(const resp_arg *a, double *out);
/* ZRANGEBYSCORE's min and max: an optional '(' (exclusive), then strtod up to the
   argument's first NUL (so "" and "(" read 0), not NaN. */
bool parse_score_range(const resp_arg *min, const resp_arg *max, zset_score_range *r);
/* ZRANGEBYLEX's min and max: "-", "+", "[member" or "(member"; r points into the args. */
bool parse_lex_range(const resp_arg *min, const resp_arg *max, zset_lex_range *r);

/* Reads key as a sorted set (type 0 when absent); false with the error replied (and *m
   freed). counted: a read command's lookup (keyspace_hits/misses). */
bool read_zset(server *s, client *c, const resp_arg *key, bool counted, ks_meta *m);
/* The listpack limits OBJECT ENCODING follows, for a writer that adds members. */
zset_limits zset_limits_of(const server *s);
/* A sorted-set reference for a command's database. */
zset_ref zset_ref_of(server *s, client *c, const resp_arg *key, const ks_meta *m);

/*
 * A reply of members, built as a read emits them (a zset_emit_fn): the members alone, or
 * with scores as Redis 7.0 sends them: RESP2 one flat array (member, score, ...), RESP3
 * an array of [member, score] pairs.
 */
typedef struct zreply {
    resp_out body;
    long long n; /* members in body */
    bool withscores;
    int proto;
} zreply;
void zreply_init(zreply *r, client *c, bool withscores);
int zreply_emit(void *ctx, const char *member, size_t len, double score);
/* Writes the array (header and members) to c->out, or the error rc / body's. */
void zreply_send(client *c, zreply *r, int rc);
void zreply_free(zreply *r);

/* ZADD's flags (GEOADD takes NX XX CH). */
enum { ZADD_NX = 1, ZADD_XX = 2, ZADD_GT = 4, ZADD_LT = 8, ZADD_INCR = 16, ZADD_CH = 32 };
/* ZADD's work on argv[1] once its arguments are parsed and checked: n members
   (members[j * stride]) with scores[j], replied as ZADD replies (INCR: the new score or
   nil). GEOADD adds through it. */
void zadd_members(server *s, client *c, int flags, const double *scores, const resp_arg *members,
                  int stride, int n);

/*
 * Pops from the first of keys that exists (a key of another type stops the search with
 * WRONGTYPE), as ZPOPMIN, ZPOPMAX and ZMPOP do, and as their blocking forms will once a
 * key is ready: BZPOPMIN/BZPOPMAX are this with emitkey (flat), BZMPOP with emitkey and
 * nested. count -1: a plain pop of one. emitkey: the reply starts with the key; nested:
 * each member is a [member, score] pair. Returns 1 when the reply is written (members
 * popped in one batch, or an empty array for count 0), 0 when no key exists (nothing
 * written: the caller replies, or blocks), -1 when an error was replied.
 */
int zset_pop_reply(server *s, client *c, const resp_arg *keys, int nkeys, bool max, long long count,
                   bool emitkey, bool nested);
/* ZMPOP's arguments from numkeys on (BZMPOP: numkeys_at 2): false with the error
   replied. keys point into c's arguments. */
typedef struct zmpop_args {
    const resp_arg *keys;
    int nkeys;
    bool max;
    long long count;
} zmpop_args;
bool zmpop_parse(client *c, int numkeys_at, zmpop_args *a);

/* A score as ZSCAN shows it (Redis's listpack form: an integral value within +-2^62 as an
   integer, else %.17g, inf, -inf); returns the length written to buf (>= 32 bytes). */
size_t format_score_scan(double d, char *buf, size_t cap);

#endif

/*
 * t_geo.c - GEOADD GEOPOS GEODIST GEOHASH GEOSEARCH GEOSEARCHSTORE GEORADIUS
 * GEORADIUSBYMEMBER and their _RO forms. A GEO key is a sorted set whose scores are
 * 52-bit geohashes (types/geohash.c), so GEOADD is ZADD with computed scores and a search
 * reads the score ranges of up to nine geohash cells (types/zset.c), keeps the points
 * inside the circle or box, then sorts, replies or stores them as Redis 7.0 does:
 * coordinates as %.17Lf without trailing zeros, distances with 4 decimals.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "geohash.h"
#include "member_map.h"
#include "zset_args.h"

/* ---- arguments ---- */

/* argv[0] longitude, argv[1] latitude, within the Mercator limits; false with the error
   replied. */
static bool parse_lonlat(client *c, const resp_arg *argv, double *lon, double *lat)
{
    if (!arg_score(&argv[0], lon) || !arg_score(&argv[1], lat)) {
        resp_error(&c->out, ZSET_ERR_FLOAT);
        return false;
    }
    if (*lon < GEO_LONG_MIN || *lon > GEO_LONG_MAX || *lat < GEO_LAT_MIN || *lat > GEO_LAT_MAX) {
        char msg[160];
        snprintf(msg, sizeof msg, "ERR invalid longitude,latitude pair %f,%f", *lon, *lat);
        resp_error(&c->out, msg);
        return false;
    }
    return true;
}

/* Meters per unit; < 0 with the error replied. */
static double parse_unit(client *c, const resp_arg *u)
{
    if (arg_is(u, "m"))
        return 1;
    if (arg_is(u, "km"))
        return 1000;
    if (arg_is(u, "ft"))
        return 0.3048;
    if (arg_is(u, "mi"))
        return 1609.34;
    resp_error(&c->out, "ERR unsupported unit provided. please use M, KM, FT, MI");
    return -1;
}

/* "radius unit" at argv; false with the error replied. */
static bool parse_radius(client *c, const resp_arg *argv, geo_shape *shape)
{
    if (!arg_score(&argv[0], &shape->radius)) {
        resp_error(&c->out, "ERR need numeric radius");
        return false;
    }
    if (shape->radius < 0) {
        resp_error(&c->out, "ERR radius cannot be negative");
        return false;
    }
    shape->box = false;
    shape->conversion = parse_unit(c, &argv[1]);
    return shape->conversion >= 0;
}

/* "width height unit" at argv. */
static bool parse_box(client *c, const resp_arg *argv, geo_shape *shape)
{
    if (!arg_score(&argv[0], &shape->width)) {
        resp_error(&c->out, "ERR need numeric width");
        return false;
    }
    if (!arg_score(&argv[1], &shape->height)) {
        resp_error(&c->out, "ERR need numeric height");
        return false;
    }
    if (shape->width < 0 || shape->height < 0) {
        resp_error(&c->out, "ERR height or width cannot be negative");
        return false;
    }
    shape->box = true;
    shape->conversion = parse_unit(c, &argv[2]);
    return shape->conversion >= 0;
}

/* A member's position; false (with Redis's error) when the set does not hold it. */
static bool member_position(client *c, const zset_ref *z, const resp_arg *member, double *lon,
                            double *lat)
{
    double score;
    int rc = zset_score(z, member->p, member->len, &score);
    if (rc == 0) {
        geo_position_of(score, lon, lat);
        return true;
    }
    if (rc == SHALE_ENOTFOUND)
        resp_error(&c->out, "ERR could not decode requested zset member");
    else
        reply_read_error(c, rc);
    return false;
}

/* ---- replies of positions and distances ---- */

/* A coordinate as Redis's addReplyHumanLongDouble: %.17Lf without trailing zeros, a bulk
   string in RESP2 and a double in RESP3. */
static void reply_coord(client *c, double v)
{
    char buf[5200];
    size_t n = format_ld_human(v, buf, sizeof buf);
    if (c->proto == 2) {
        resp_bulk(&c->out, buf, n);
        return;
    }
    resp_raw(&c->out, ",", 1);
    resp_raw(&c->out, buf, n);
    resp_raw(&c->out, "\r\n", 2);
}

/* A distance with four decimals, rounded to nearest (Redis's fixedpoint_d2string). */
static void reply_distance(client *c, double d)
{
    char buf[64];
    long long v = llrint(d * 10000.0);
    int n = d == 0 ? snprintf(buf, sizeof buf, "0.0000")
                   : snprintf(buf, sizeof buf, "%s%lld.%04lld", v < 0 ? "-" : "", llabs(v / 10000),
                              llabs(v % 10000));
    resp_bulk(&c->out, buf, (size_t)n);
}

/* ---- GEOADD ---- */

void cmd_geoadd(server *s, client *c)
{
    int flags = 0, first = 2;
    for (; first < c->cmd.argc; first++) {
        const resp_arg *o = &c->cmd.argv[first];
        if (arg_is(o, "nx"))
            flags |= ZADD_NX;
        else if (arg_is(o, "xx"))
            flags |= ZADD_XX;
        else if (arg_is(o, "ch"))
            flags |= ZADD_CH;
        else
            break;
    }
    int n = (c->cmd.argc - first) / 3;
    if ((c->cmd.argc - first) % 3 || ((flags & ZADD_NX) && (flags & ZADD_XX)) || n == 0) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    double *scores = malloc((size_t)n * sizeof *scores);
    if (!scores) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    int j = 0;
    for (; j < n; j++) {
        double lon, lat;
        if (!parse_lonlat(c, &c->cmd.argv[first + 3 * j], &lon, &lat))
            break;
        geo_score_of(lon, lat, &scores[j]);
    }
    if (j == n)
        zadd_members(s, c, flags, scores, &c->cmd.argv[first + 2], 3, n);
    free(scores);
}

/* ---- GEOPOS, GEODIST, GEOHASH ---- */

/* Reads argv[1]'s sorted set for a read command; false when an error was replied. */
static bool read_geo(server *s, client *c, ks_meta *m, zset_ref *z)
{
    if (!read_zset(s, c, &c->cmd.argv[1], true, m))
        return false;
    *z = zset_ref_of(s, c, &c->cmd.argv[1], m);
    return true;
}

/* Each member's score into the reply through one callback: 0 for each found, a null
   reply (of null's kind) for each absent one; false after a read error (replied). */
typedef void (*score_reply_fn)(client *c, double score);

static void reply_scores(server *s, client *c, score_reply_fn found, bool null_array)
{
    ks_meta m;
    zset_ref z;
    if (!read_geo(s, c, &m, &z))
        return;
    size_t from = c->out.len;
    resp_array(&c->out, c->cmd.argc - 2);
    for (int i = 2; i < c->cmd.argc; i++) {
        double score;
        int rc = zset_score(&z, c->cmd.argv[i].p, c->cmd.argv[i].len, &score);
        if (rc == 0) {
            found(c, score);
        } else if (rc == SHALE_ENOTFOUND) {
            if (null_array)
                resp_null_array(&c->out, c->proto);
            else
                resp_null(&c->out, c->proto);
        } else {
            c->out.len = from;
            reply_read_error(c, rc);
            break;
        }
    }
    ks_meta_free(&m);
}

static void reply_position(client *c, double score)
{
    double lon, lat;
    geo_position_of(score, &lon, &lat);
    resp_array(&c->out, 2);
    reply_coord(c, lon);
    reply_coord(c, lat);
}

static void reply_hash(client *c, double score)
{
    char h[11];
    geo_hash_string(score, h);
    resp_bulk(&c->out, h, sizeof h);
}

void cmd_geopos(server *s, client *c)
{
    reply_scores(s, c, reply_position, true);
}

void cmd_geohash(server *s, client *c)
{
    reply_scores(s, c, reply_hash, false);
}

void cmd_geodist(server *s, client *c)
{
    double to_meters = 1;
    if (c->cmd.argc == 5 && (to_meters = parse_unit(c, &c->cmd.argv[4])) < 0)
        return;
    if (c->cmd.argc > 5) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    ks_meta m;
    zset_ref z;
    if (!read_geo(s, c, &m, &z))
        return;
    double s1, s2;
    int rc = zset_score(&z, c->cmd.argv[2].p, c->cmd.argv[2].len, &s1);
    if (rc == 0)
        rc = zset_score(&z, c->cmd.argv[3].p, c->cmd.argv[3].len, &s2);
    if (rc == 0) {
        double lon1, lat1, lon2, lat2;
        geo_position_of(s1, &lon1, &lat1);
        geo_position_of(s2, &lon2, &lat2);
        reply_distance(c, geo_distance(lon1, lat1, lon2, lat2) / to_meters);
    } else if (rc == SHALE_ENOTFOUND) {
        resp_null(&c->out, c->proto);
    } else {
        reply_read_error(c, rc);
    }
    ks_meta_free(&m);
}

/* ---- searches ---- */

enum {
    BY_COORDS = 1, /* GEORADIUS: around lon lat */
    BY_MEMBER = 2, /* GEORADIUSBYMEMBER: around a member */
    NO_STORE = 4,  /* the _RO forms */
    SEARCH = 8,    /* GEOSEARCH's arguments */
    SEARCH_STORE = 16,
};
enum { SORT_NONE, SORT_ASC, SORT_DESC };

/* A search's options as parsed. */
typedef struct geo_req {
    geo_shape shape;
    const resp_arg *store; /* the destination (NULL: reply) */
    const char *store_event; /* its keyspace event: geosearchstore or georadiusstore */
    bool storedist, withdist, withhash, withcoord, any;
    bool frommember, fromloc, byradius, bybox;
    int sort;
    long long count; /* 0: all */
} geo_req;

/* One point found. */
typedef struct geo_point {
    size_t at; /* its member in the found list; also the order found (stable sorts) */
    double score, dist, lon, lat;
} geo_point;

typedef struct geo_found {
    const geo_shape *shape;
    member_list members;
    geo_point *points;
    size_t n, cap;
    size_t limit; /* COUNT ... ANY: stop there (0: never) */
} geo_found;

static int found_emit(void *ctx, const char *member, size_t len, double score)
{
    geo_found *f = ctx;
    geo_point p = {.score = score};
    geo_position_of(score, &p.lon, &p.lat);
    if (geo_shape_contains(f->shape, p.lon, p.lat, &p.dist)) {
        if (f->n == f->cap) {
            size_t cap = f->cap ? f->cap * 2 : 16;
            geo_point *q = realloc(f->points, cap * sizeof *q);
            if (!q)
                return -ENOMEM;
            f->points = q;
            f->cap = cap;
        }
        p.at = f->n;
        int rc = ml_push(&f->members, member, len, score);
        if (rc)
            return rc;
        f->points[f->n++] = p;
    }
    return f->limit && f->n >= f->limit ? ZSET_STOP : 0;
}

/* Reads the plan's cells in order, each once unless it repeats the one read before it
   (very large areas make neighbours coincide; Redis compares with the last cell read
   after the centre only, and so do we). */
static int search_cells(const zset_ref *z, const geo_plan *plan, geo_found *f)
{
    int last = 0;
    for (int i = 0; i < 9; i++) {
        const geo_cell *cell = &plan->cells[i];
        if (!cell->step)
            continue;
        if (last && cell->bits == plan->cells[last].bits && cell->step == plan->cells[last].step)
            continue;
        if (f->limit && f->n >= f->limit)
            break;
        zset_score_range r = {.maxex = true};
        geo_cell_scores(*cell, &r.min, &r.max);
        int rc = zset_range_score(z, &r, false, 0, -1, found_emit, f);
        if (rc)
            return rc;
        last = i;
    }
    return 0;
}

static int by_dist_asc(const void *a, const void *b)
{
    const geo_point *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist > y->dist ? 1 : -1;
    return (x->at > y->at) - (x->at < y->at);
}

static int by_dist_desc(const void *a, const void *b)
{
    const geo_point *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist < y->dist ? 1 : -1;
    return (x->at > y->at) - (x->at < y->at);
}

static void reply_points(client *c, const geo_req *q, const geo_found *f, size_t n)
{
    int options = q->withdist + q->withhash + q->withcoord;
    resp_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const geo_point *p = &f->points[i];
        size_t len;
        const char *member = ml_member(&f->members, p->at, &len);
        if (options)
            resp_array(&c->out, options + 1);
        resp_bulk(&c->out, member, len);
        if (q->withdist)
            reply_distance(c, p->dist / q->shape.conversion);
        if (q->withhash)
            resp_integer(&c->out, (long long)p->score);
        if (q->withcoord) {
            resp_array(&c->out, 2);
            reply_coord(c, p->lon);
            reply_coord(c, p->lat);
        }
    }
}

/* STORE / STOREDIST / GEOSEARCHSTORE: the points become a new sorted set (or the
   destination is deleted when there are none); replies their number. */
static void store_points(server *s, client *c, const geo_req *q, const geo_found *f, size_t n)
{
    ks_meta dm;
    if (!read_key(s, c, c->db, q->store, 0, false, &dm))
        return;
    zset_writer w;
    ks_begin(&s->ks);
    zset_writer_open_replace(&w, &s->ks, c->db, q->store->p, q->store->len, &dm);
    w.limits = zset_limits_of(s);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const geo_point *p = &f->points[i];
        size_t len;
        const char *member = ml_member(&f->members, p->at, &len);
        double score = q->storedist ? p->dist / q->shape.conversion : p->score;
        rc = zset_writer_set(&w, member, len, score, false, 0);
    }
    rc = rc ? rc : zset_writer_finish(&w);
    zset_writer_free(&w);
    notify_stored(s, NOTIFY_ZSET, q->store_event, c->db, q->store, n, dm.type != 0);
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, (long long)n);
    ks_meta_free(&dm);
}

/* The search itself, once the source exists and the options are checked. */
static void run_search(server *s, client *c, const zset_ref *z, geo_req *q)
{
    /* COUNT without an order means the nearest ones (not with ANY) */
    if (q->count && q->sort == SORT_NONE && !q->any)
        q->sort = SORT_ASC;
    geo_plan plan;
    geo_plan_search(&q->shape, &plan);
    geo_found f = {.shape = &q->shape, .limit = q->any ? (size_t)q->count : 0};
    int rc = search_cells(z, &plan, &f);
    if (rc) {
        reply_read_error(c, rc);
    } else if (f.n == 0 && !q->store) {
        resp_array(&c->out, 0);
    } else {
        size_t n = q->count && (size_t)q->count < f.n ? (size_t)q->count : f.n;
        if (q->sort != SORT_NONE && f.n > 1)
            qsort(f.points, f.n, sizeof *f.points,
                  q->sort == SORT_ASC ? by_dist_asc : by_dist_desc);
        if (q->store)
            store_points(s, c, q, &f, n);
        else
            reply_points(c, q, &f, n);
    }
    ml_free(&f.members);
    free(f.points);
}

/* The options after argv[at]; false with the error replied. */
static bool parse_search_options(client *c, const zset_ref *z, int at, int flags, geo_req *q)
{
    const resp_arg *argv = c->cmd.argv;
    int remaining = c->cmd.argc - at;
    bool search = flags & SEARCH, can_store = !(flags & (NO_STORE | SEARCH));
    for (int i = 0; i < remaining; i++) {
        const resp_arg *a = &argv[at + i];
        bool more1 = i + 1 < remaining, more2 = i + 2 < remaining, more3 = i + 3 < remaining;
        if (arg_is(a, "withdist")) {
            q->withdist = true;
        } else if (arg_is(a, "withhash")) {
            q->withhash = true;
        } else if (arg_is(a, "withcoord")) {
            q->withcoord = true;
        } else if (arg_is(a, "any")) {
            q->any = true;
        } else if (arg_is(a, "asc")) {
            q->sort = SORT_ASC;
        } else if (arg_is(a, "desc")) {
            q->sort = SORT_DESC;
        } else if (arg_is(a, "count") && more1) {
            if (!arg_ll(&argv[at + i + 1], &q->count)) {
                resp_error(&c->out, ZSET_ERR_INT);
                return false;
            }
            if (q->count <= 0) {
                resp_error(&c->out, "ERR COUNT must be > 0");
                return false;
            }
            i++;
        } else if ((arg_is(a, "store") || arg_is(a, "storedist")) && more1 && can_store) {
            q->store = &argv[at + i + 1];
            q->storedist = arg_is(a, "storedist");
            i++;
        } else if (arg_is(a, "storedist") && search && (flags & SEARCH_STORE)) {
            q->storedist = true;
        } else if (arg_is(a, "frommember") && more1 && search && !q->fromloc) {
            /* with no source the search ends empty after the arguments are checked */
            if (z->m->type &&
                !member_position(c, z, &argv[at + i + 1], &q->shape.lon, &q->shape.lat))
                return false;
            q->frommember = true;
            i++;
        } else if (arg_is(a, "fromlonlat") && more2 && search && !q->frommember) {
            if (!parse_lonlat(c, &argv[at + i + 1], &q->shape.lon, &q->shape.lat))
                return false;
            q->fromloc = true;
            i += 2;
        } else if (arg_is(a, "byradius") && more2 && search && !q->bybox) {
            if (!parse_radius(c, &argv[at + i + 1], &q->shape))
                return false;
            q->byradius = true;
            i += 2;
        } else if (arg_is(a, "bybox") && more3 && search && !q->byradius) {
            if (!parse_box(c, &argv[at + i + 1], &q->shape))
                return false;
            q->bybox = true;
            i += 3;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

/* Checks between options, in Redis's order; false with the error replied. */
static bool check_search_options(client *c, int flags, const geo_req *q)
{
    char msg[200];
    const resp_arg *name = &c->cmd.argv[0];
    if (q->store && (q->withdist || q->withhash || q->withcoord)) {
        snprintf(msg, sizeof msg,
                 "ERR %s is not compatible with WITHDIST, WITHHASH and "
                 "WITHCOORD options",
                 (flags & SEARCH_STORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
    } else if ((flags & SEARCH) && !(q->frommember || q->fromloc)) {
        snprintf(msg, sizeof msg,
                 "ERR exactly one of FROMMEMBER or FROMLONLAT can be "
                 "specified for %.*s",
                 (int)(name->len > 64 ? 64 : name->len), name->p);
    } else if ((flags & SEARCH) && !(q->byradius || q->bybox)) {
        snprintf(msg, sizeof msg,
                 "ERR exactly one of BYRADIUS and BYBOX can be specified "
                 "for %.*s",
                 (int)(name->len > 64 ? 64 : name->len), name->p);
    } else if (q->any && !q->count) {
        snprintf(msg, sizeof msg, "ERR the ANY argument requires COUNT argument");
    } else {
        return true;
    }
    resp_error(&c->out, msg);
    return false;
}

/* GEORADIUS, GEORADIUSBYMEMBER (and _RO), GEOSEARCH, GEOSEARCHSTORE: the source key at
   argv[src]. */
static void georadius_generic(server *s, client *c, int src, int flags)
{
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[src], true, &m))
        return;
    zset_ref z = zset_ref_of(s, c, &c->cmd.argv[src], &m);
    const resp_arg *argv = c->cmd.argv;
    geo_req q = {.store_event = (flags & SEARCH) ? "geosearchstore" : "georadiusstore"};
    int at = 2;
    bool ok = true;
    if (flags & BY_COORDS) {
        at = 6;
        ok = parse_lonlat(c, &argv[2], &q.shape.lon, &q.shape.lat) &&
             parse_radius(c, &argv[4], &q.shape);
    } else if (flags & BY_MEMBER) {
        at = 5;
        ok = !m.type || (member_position(c, &z, &argv[2], &q.shape.lon, &q.shape.lat) &&
                         parse_radius(c, &argv[3], &q.shape));
    } else if (flags & SEARCH_STORE) {
        at = 3;
        q.store = &argv[1];
    }
    ok = ok && parse_search_options(c, &z, at, flags, &q) && check_search_options(c, flags, &q);
    if (ok && !m.type) {
        /* no source: the destination goes, or the reply is empty */
        if (q.store) {
            ks_meta dm;
            if (read_key(s, c, c->db, q.store, 0, false, &dm)) {
                ks_begin(&s->ks);
                int rc = ks_del_key(&s->ks, c->db, q.store->p, q.store->len, &dm);
                notify_stored(s, NOTIFY_ZSET, q.store_event, c->db, q.store, 0, dm.type != 0);
                if (ks_finish(s, c, rc))
                    resp_integer(&c->out, 0);
                ks_meta_free(&dm);
            }
        } else {
            resp_array(&c->out, 0);
        }
    } else if (ok) {
        run_search(s, c, &z, &q);
    }
    ks_meta_free(&m);
}

void cmd_georadius(server *s, client *c)
{
    georadius_generic(s, c, 1, BY_COORDS);
}

void cmd_georadius_ro(server *s, client *c)
{
    georadius_generic(s, c, 1, BY_COORDS | NO_STORE);
}

void cmd_georadiusbymember(server *s, client *c)
{
    georadius_generic(s, c, 1, BY_MEMBER);
}

void cmd_georadiusbymember_ro(server *s, client *c)
{
    georadius_generic(s, c, 1, BY_MEMBER | NO_STORE);
}

void cmd_geosearch(server *s, client *c)
{
    georadius_generic(s, c, 1, SEARCH);
}

void cmd_geosearchstore(server *s, client *c)
{
    georadius_generic(s, c, 2, SEARCH | SEARCH_STORE);
}

/*
 * geohash.h - the geohash arithmetic behind GEO commands, as Redis 7.0 defines its GEO
 * scores: a point's longitude and latitude, each scaled to 26 bits over
 * [-180, 180] and [-85.05112878, 85.05112878] (Web Mercator's limits), interleaved
 * longitude first into 52 bits that are the member's sorted-set score. So a GEO key is a
 * sorted set to every other command, and a geohash cell is one range of scores.
 *
 * Also here: the cell's centre as the point's position (what GEOPOS shows), the standard
 * 11-character geohash string (GEOHASH), the haversine distance on Redis's earth radius,
 * and the search plan: the cell at a step fitting the search area and its 8 neighbours,
 * chosen and pruned as Redis chooses them, so unsorted results come in Redis's order.
 * Pure arithmetic: no store, no reply.
 */
#ifndef SHALE_GEOHASH_H
#define SHALE_GEOHASH_H

#include <stdbool.h>
#include <stdint.h>

#define GEO_LONG_MIN -180.0
#define GEO_LONG_MAX 180.0
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_STEP_MAX 26                 /* bits per coordinate: 52-bit scores */
#define GEO_EARTH_RADIUS 6372797.560856 /* meters: Redis's quadratic mean radius */

/* A cell: `step` bits per coordinate, interleaved (longitude in the odd bits). */
typedef struct geo_cell {
    uint64_t bits;
    int step; /* 0: no cell (pruned from a search) */
} geo_cell;

typedef struct geo_box {
    double lon_min, lon_max, lat_min, lat_max;
} geo_box;

/* The cell holding (lon, lat) at step over the given ranges; false outside them (or
   outside the Mercator limits). */
bool geo_encode(double lon, double lat, int step, const geo_box *range, geo_cell *out);
/* The area a cell covers within range. */
void geo_cell_area(geo_cell c, const geo_box *range, geo_box *out);
/* The ranges GEO scores are over. */
extern const geo_box geo_mercator;

/* A position's score (the 52-bit cell, as a double); false when it cannot be encoded. */
bool geo_score_of(double lon, double lat, double *score);
/* The position a score stands for: its cell's centre, within the Mercator limits. */
void geo_position_of(double score, double *lon, double *lat);
/* The 11-character standard geohash (over latitudes -90..90) of a score's position. */
void geo_hash_string(double score, char out[11]);

/* Haversine distance in meters (Redis's, including its shortcut for one longitude). */
double geo_distance(double lon1, double lat1, double lon2, double lat2);

/* A search area centred on (lon, lat): a circle or a box (width x height), its sizes in
   the unit given, conversion meters to the unit (kept apart: Redis multiplies them
   where it uses them, and the roundings must be its). */
typedef struct geo_shape {
    double lon, lat;
    bool box;
    double radius, width, height;
    double conversion;
} geo_shape;

/* Whether a point is in the shape; *dist is then its distance from the centre. */
bool geo_shape_contains(const geo_shape *s, double lon, double lat, double *dist);

/* The cells a search reads, in Redis's order: the centre, N, S, E, W, NE, NW, SE, SW;
   a pruned one has step 0. */
typedef struct geo_plan {
    geo_cell cells[9];
} geo_plan;
void geo_plan_search(const geo_shape *s, geo_plan *p);
/* The scores of a cell's points: [*min, *max). */
void geo_cell_scores(geo_cell c, double *min, double *max);

#endif

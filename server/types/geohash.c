/*
 * geohash.c - geohash cells, positions, distances and search plans (geohash.h), written
 * from the published geohash algorithm (interleaved binary subdivisions of longitude and
 * latitude) with Redis 7.0's choices: its Mercator latitude limits, 26 steps, the cell
 * centre as the position, its earth radius, and its way of sizing and pruning the nine
 * cells a search reads. Floating-point steps are done in the order Redis does them, so
 * positions and distances agree to the last digit it prints.
 */
#include "geohash.h"

#include <math.h>

const geo_box geo_mercator = {GEO_LONG_MIN, GEO_LONG_MAX, GEO_LAT_MIN, GEO_LAT_MAX};
static const geo_box geo_standard = {-180, 180, -90, 90};

#define MERCATOR_MAX 20037726.37 /* meters: half the Mercator world's width */
#define DEG_TO_RAD (M_PI / 180.0)

/* ---- bits ---- */

/* Spreads the 32 bits of v over the even bit positions of a 64-bit word. */
static uint64_t spread(uint32_t v)
{
    uint64_t out = 0;
    for (int i = 0; i < 32; i++)
        out |= (uint64_t)((v >> i) & 1) << (2 * i);
    return out;
}

/* The even bit positions of w, gathered into 32 bits. */
static uint32_t gather(uint64_t w)
{
    uint32_t out = 0;
    for (int i = 0; i < 32; i++)
        out |= (uint32_t)((w >> (2 * i)) & 1) << i;
    return out;
}

/* Longitude goes to the odd bits, latitude to the even ones. */
static uint64_t interleave(uint32_t lat, uint32_t lon)
{
    return spread(lat) | spread(lon) << 1;
}

bool geo_encode(double lon, double lat, int step, const geo_box *range, geo_cell *out)
{
    out->bits = 0;
    out->step = step;
    if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
        return false;
    if (lat < range->lat_min || lat > range->lat_max || lon < range->lon_min ||
        lon > range->lon_max)
        return false;
    double lat_off = (lat - range->lat_min) / (range->lat_max - range->lat_min);
    double lon_off = (lon - range->lon_min) / (range->lon_max - range->lon_min);
    lat_off *= (double)(1ull << step);
    lon_off *= (double)(1ull << step);
    /* the scaled offsets are cut to integers (at the top end 2^step itself) */
    out->bits = interleave((uint32_t)lat_off, (uint32_t)lon_off);
    return true;
}

void geo_cell_area(geo_cell c, const geo_box *range, geo_box *out)
{
    uint32_t ilat = gather(c.bits), ilon = gather(c.bits >> 1);
    double cells = (double)(1ull << c.step);
    double lat_scale = range->lat_max - range->lat_min;
    double lon_scale = range->lon_max - range->lon_min;
    out->lat_min = range->lat_min + (ilat * 1.0 / cells) * lat_scale;
    out->lat_max = range->lat_min + ((uint32_t)(ilat + 1) * 1.0 / cells) * lat_scale;
    out->lon_min = range->lon_min + (ilon * 1.0 / cells) * lon_scale;
    out->lon_max = range->lon_min + ((uint32_t)(ilon + 1) * 1.0 / cells) * lon_scale;
}

/* ---- scores and positions ---- */

bool geo_score_of(double lon, double lat, double *score)
{
    geo_cell c;
    if (!geo_encode(lon, lat, GEO_STEP_MAX, &geo_mercator, &c))
        return false;
    *score = (double)c.bits;
    return true;
}

/* A score as the cell it names (any sorted set can be asked: scores are cut to
   integers, a negative one as two's complement, as a C conversion does on x86-64). */
static geo_cell cell_of_score(double score)
{
    uint64_t bits = score < 0 ? (uint64_t)(int64_t)score : (uint64_t)score;
    return (geo_cell){.bits = bits, .step = GEO_STEP_MAX};
}

void geo_position_of(double score, double *lon, double *lat)
{
    geo_box a;
    geo_cell_area(cell_of_score(score), &geo_mercator, &a);
    *lon = (a.lon_min + a.lon_max) / 2;
    *lon = *lon > GEO_LONG_MAX ? GEO_LONG_MAX : *lon < GEO_LONG_MIN ? GEO_LONG_MIN : *lon;
    *lat = (a.lat_min + a.lat_max) / 2;
    *lat = *lat > GEO_LAT_MAX ? GEO_LAT_MAX : *lat < GEO_LAT_MIN ? GEO_LAT_MIN : *lat;
}

void geo_hash_string(double score, char out[11])
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double lon, lat;
    geo_position_of(score, &lon, &lat);
    geo_cell c;
    geo_encode(lon, lat, GEO_STEP_MAX, &geo_standard, &c);
    /* 52 bits make 10 characters and 2 bits; the 11th is written as 0 */
    for (int i = 0; i < 10; i++)
        out[i] = alphabet[(c.bits >> (52 - (i + 1) * 5)) & 0x1f];
    out[10] = alphabet[0];
}

/* ---- distances ---- */

static double rad(double deg)
{
    return deg * DEG_TO_RAD;
}

/* Along one meridian the haversine reduces to the latitude difference. */
static double lat_distance(double lat1, double lat2)
{
    return GEO_EARTH_RADIUS * fabs(rad(lat2) - rad(lat1));
}

double geo_distance(double lon1, double lat1, double lon2, double lat2)
{
    double v = sin((rad(lon2) - rad(lon1)) / 2);
    if (v == 0.0)
        return lat_distance(lat1, lat2);
    double lat1r = rad(lat1), lat2r = rad(lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * GEO_EARTH_RADIUS * asin(sqrt(a));
}

bool geo_shape_contains(const geo_shape *s, double lon, double lat, double *dist)
{
    if (!s->box) {
        *dist = geo_distance(s->lon, s->lat, lon, lat);
        return *dist <= s->radius * s->conversion;
    }
    /* the latitude test is cheaper: first */
    if (lat_distance(lat, s->lat) > s->height * s->conversion / 2)
        return false;
    if (geo_distance(lon, lat, s->lon, lat) > s->width * s->conversion / 2)
        return false;
    *dist = geo_distance(s->lon, s->lat, lon, lat);
    return true;
}

/* ---- search plans ---- */

/* The step whose cells are about the size of the search (a little smaller, so that the
   cell and its neighbours cover it), coarser near the poles where cells narrow. */
static int step_for(double meters, double lat)
{
    if (meters == 0)
        return GEO_STEP_MAX;
    int step = 1;
    for (; meters < MERCATOR_MAX; step++)
        meters *= 2;
    step -= 2;
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80)
            step--;
    }
    return step < 1 ? 1 : step > GEO_STEP_MAX ? GEO_STEP_MAX : step;
}

/* The search's bounding box: its half height and half width around the centre, the
   width taken at the latitude where meridians are furthest apart. */
static void bounds_of(const geo_shape *s, double half_h, double half_w, geo_box *b)
{
    double lat_delta = half_h / GEO_EARTH_RADIUS / DEG_TO_RAD;
    double lon_top = half_w / GEO_EARTH_RADIUS / cos(rad(s->lat + lat_delta)) / DEG_TO_RAD;
    double lon_bottom = half_w / GEO_EARTH_RADIUS / cos(rad(s->lat - lat_delta)) / DEG_TO_RAD;
    double lon_delta = s->lat < 0 ? lon_bottom : lon_top;
    b->lon_min = s->lon - lon_delta;
    b->lon_max = s->lon + lon_delta;
    b->lat_min = s->lat - lat_delta;
    b->lat_max = s->lat + lat_delta;
}

/* The neighbour of a cell dx cells east and dy cells north (wrapping around). */
static geo_cell neighbour(geo_cell c, int dx, int dy)
{
    uint32_t mask = (uint32_t)((1ull << c.step) - 1);
    uint32_t lat = (gather(c.bits) + (uint32_t)dy) & mask;
    uint32_t lon = (gather(c.bits >> 1) + (uint32_t)dx) & mask;
    return (geo_cell){.bits = interleave(lat, lon), .step = c.step};
}

enum { C_SELF, C_N, C_S, C_E, C_W, C_NE, C_NW, C_SE, C_SW };
static const int dxy[9][2] = {{0, 0}, {0, 1},  {0, -1}, {1, 0},  {-1, 0},
                              {1, 1}, {-1, 1}, {1, -1}, {-1, -1}};

static void plan_at(const geo_shape *s, int step, geo_plan *p)
{
    geo_encode(s->lon, s->lat, step, &geo_mercator, &p->cells[C_SELF]);
    for (int i = 1; i < 9; i++)
        p->cells[i] = neighbour(p->cells[C_SELF], dxy[i][0], dxy[i][1]);
}

static void prune(geo_plan *p, int a, int b, int c)
{
    p->cells[a] = p->cells[b] = p->cells[c] = (geo_cell){0};
}

void geo_plan_search(const geo_shape *s, geo_plan *p)
{
    double half_h = s->conversion * (s->box ? s->height / 2 : s->radius);
    double half_w = s->conversion * (s->box ? s->width / 2 : s->radius);
    geo_box b;
    bounds_of(s, half_h, half_w, &b);
    /* a box is sized by its centre-to-corner distance */
    double meters = s->box
                        ? sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2))
                        : s->radius;
    int step = step_for(meters * s->conversion, s->lat);
    plan_at(s, step, p);
    /* near a cell's edge the neighbours may not reach the box's edge: one step coarser */
    geo_box n, so, e, w;
    geo_cell_area(p->cells[C_N], &geo_mercator, &n);
    geo_cell_area(p->cells[C_S], &geo_mercator, &so);
    geo_cell_area(p->cells[C_E], &geo_mercator, &e);
    geo_cell_area(p->cells[C_W], &geo_mercator, &w);
    if (step > 1 && (n.lat_max < b.lat_max || so.lat_min > b.lat_min || e.lon_max < b.lon_max ||
                     w.lon_min > b.lon_min))
        plan_at(s, --step, p);
    if (step < 2)
        return;
    /* neighbours on a side the box does not reach past the centre cell are not read */
    geo_box a;
    geo_cell_area(p->cells[C_SELF], &geo_mercator, &a);
    if (a.lat_min < b.lat_min)
        prune(p, C_S, C_SW, C_SE);
    if (a.lat_max > b.lat_max)
        prune(p, C_N, C_NE, C_NW);
    if (a.lon_min < b.lon_min)
        prune(p, C_W, C_SW, C_NW);
    if (a.lon_max > b.lon_max)
        prune(p, C_E, C_SE, C_NE);
}

void geo_cell_scores(geo_cell c, double *min, double *max)
{
    int shift = 52 - 2 * c.step;
    *min = (double)(c.bits << shift);
    *max = (double)((c.bits + 1) << shift);
}

/*
 * t_lolwut.c - LOLWUT [VERSION v] [columns [rows]]: Redis answers with computer art that
 * changes with each of its versions; shale draws its own, a cross-section of shale rock:
 * strata laid down one over the other and gently folded, the newest on top, as an LSM
 * tree lays its levels. VERSION and the numbers are parsed as Redis parses them (an
 * integer, or its error); the drawing is new at every call.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "args.h"
#include "server.h"

#define STRATA 7
#define MAX_COLS 1000
#define MAX_ROWS 200

/* One stratum: its mean depth (rows from the top) and how it folds. */
typedef struct stratum {
    double depth, amplitude, wavelength, phase;
} stratum;

static double rand01(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / (double)(1ull << 53);
}

/* The stratum a cell lies in: how many boundaries are above it. */
static int stratum_at(const stratum *st, int n, int col, int row)
{
    int k = 0;
    while (k < n &&
           row >= st[k].depth + st[k].amplitude * sin(col / st[k].wavelength + st[k].phase))
        k++;
    return k;
}

static void draw(resp_out *o, long cols, long rows, uint64_t seed)
{
    static const char grain[STRATA + 1] = " .:-=+*#"; /* finer at the top, denser below */
    stratum st[STRATA - 1];
    /* one fold for every bed (beds folded together stay in order), a little deeper for
       the older ones; the thickness of each bed varies */
    double amplitude = 0.5 + 2 * rand01(&seed), wavelength = 4 + 8 * rand01(&seed);
    double phase = 6.3 * rand01(&seed);
    for (int k = 0; k < STRATA - 1; k++)
        st[k] = (stratum){(k + 0.5 + 0.4 * rand01(&seed)) * rows / (STRATA - 1),
                          amplitude * (1 + 0.1 * k), wavelength, phase};
    for (long r = 0; r < rows; r++) {
        for (long c = 0; c < cols; c++) {
            char ch = grain[stratum_at(st, STRATA - 1, (int)c, (int)r)];
            resp_raw(o, &ch, 1);
        }
        resp_raw(o, "\n", 1);
    }
}

void cmd_lolwut(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int first = 1;
    long long v = 7, cols = 66, rows = 12;
    if (c->cmd.argc >= 3 && arg_is(&a[1], "version")) {
        if (!arg_ll(&a[2], &v)) {
            resp_error(&c->out, "ERR value is not an integer or out of range");
            return;
        }
        first = 3;
    }
    /* Redis's versions 5 and 6 take the numbers and refuse others; its later versions
       ignore what follows */
    for (int i = first; i < c->cmd.argc && i < first + 2; i++) {
        long long n;
        if (arg_ll(&a[i], &n))
            *(i == first ? &cols : &rows) = n;
        else if (v == 5 || v == 6) {
            resp_error(&c->out, "ERR value is not an integer or out of range");
            return;
        }
    }
    cols = cols < 1 ? 1 : cols > MAX_COLS ? MAX_COLS : cols;
    rows = rows < 1 ? 1 : rows > MAX_ROWS ? MAX_ROWS : rows;
    resp_out art = {0};
    draw(&art, (long)cols, (long)rows, (uint64_t)time(NULL) * 2654435761u + (uint64_t)c->id + 1);
    server_out_printf(&art,
                      "\nShale: beds laid one upon another, the newest on top, as an "
                      "LSM tree lays its levels. shale ver. %s, Redis ver. %s\n",
                      SHALE_VERSION_STRING, SHALE_REDIS_COMPAT_VERSION);
    resp_verbatim(&c->out, art.data, art.len, c->proto);
    resp_out_free(&art);
}

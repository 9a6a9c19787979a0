/* cursor.c - SCAN cursors that carry their position, or name a table entry (see cursor.h). */
#include "cursor.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define TABLE_BIT (1ull << 62)
#define ID_BITS 46
#define ID_MASK ((1ull << ID_BITS) - 1)
#define PREFIX_BYTES 2

size_t cursor_position(const char *last, size_t ll, const char *next, size_t nl)
{
    size_t i = 0;
    while (i < ll && i < nl && last[i] == next[i])
        i++;
    return i < nl ? i + 1 : nl;
}

static uint64_t random_start(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
            (uint64_t)getpid() << 32;
    }
    return r & ID_MASK;
}

static void drop(cursor_table *t, cursor_slot *s)
{
    t->bytes -= s->len;
    free(s->pos);
    *s = (cursor_slot){0};
}

/* A table entry for pos; its number, or -1 without memory. */
static int64_t remember(cursor_table *t, const char *pos, size_t len)
{
    if (!t->slot) {
        t->slot = calloc(CURSOR_SLOTS, sizeof *t->slot);
        if (!t->slot)
            return -1;
        t->next = t->oldest = random_start();
    }
    char *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, pos, len);
    uint64_t id = t->next++;
    if (t->next - t->oldest > CURSOR_SLOTS)
        t->oldest = t->next - CURSOR_SLOTS;
    cursor_slot *s = &t->slot[id % CURSOR_SLOTS];
    if (s->pos)
        drop(t, s);
    *s = (cursor_slot){.id = id + 1, .pos = copy, .len = len};
    t->bytes += len;
    /* the oldest go first when the positions are large; the newest always stays */
    while (t->bytes > CURSOR_TABLE_BYTES && t->oldest < id) {
        cursor_slot *o = &t->slot[t->oldest % CURSOR_SLOTS];
        if (o->id == t->oldest + 1)
            drop(t, o);
        t->oldest++;
    }
    return (int64_t)(id & ID_MASK);
}

uint64_t cursor_encode(cursor_table *t, const char *pos, size_t len)
{
    const unsigned char *p = (const unsigned char *)pos;
    uint64_t c;
    if (len <= CURSOR_INLINE) {
        c = len;
        for (size_t i = 0; i < CURSOR_INLINE; i++)
            c |= (uint64_t)(i < len ? p[i] : 0) << (54 - 8 * i);
        return c;
    }
    int64_t id = remember(t, pos, len);
    if (id < 0)
        return 0;
    return TABLE_BIT | (uint64_t)p[0] << 54 | (uint64_t)p[1] << 46 | (uint64_t)id;
}

/* The table's position for entry id (low ID_BITS bits), or NULL when it is gone. */
static const cursor_slot *find(const cursor_table *t, uint64_t id)
{
    if (!t->slot)
        return NULL;
    /* the entry number with these low bits among those still held */
    uint64_t full = (t->next & ~ID_MASK) | id;
    if (full >= t->next)
        full -= ID_MASK + 1;
    if (full < t->oldest || full >= t->next)
        return NULL;
    const cursor_slot *s = &t->slot[full % CURSOR_SLOTS];
    return s->id == full + 1 ? s : NULL;
}

size_t cursor_decode(cursor_table *t, uint64_t c, char *buf, const char **pos)
{
    *pos = buf;
    if (!(c & TABLE_BIT)) {
        size_t len = c & 7;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)(c >> (54 - 8 * i));
        return len;
    }
    buf[0] = (char)(c >> 54);
    buf[1] = (char)(c >> 46);
    const cursor_slot *s = find(t, c & ID_MASK);
    if (s && s->len > PREFIX_BYTES && memcmp(s->pos, buf, PREFIX_BYTES) == 0) {
        *pos = s->pos;
        return s->len;
    }
    t->lost++;
    return PREFIX_BYTES; /* before the position: keys may come twice, none is missed */
}

void cursor_table_free(cursor_table *t)
{
    for (size_t i = 0; t->slot && i < CURSOR_SLOTS; i++)
        free(t->slot[i].pos);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

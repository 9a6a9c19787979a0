/* iterator.c - the empty iterator (iterator.h), used to carry an error or stand for nothing. */
#include "iterator.h"

#include <stdlib.h>

typedef struct empty_iter {
    iter base;
    int status;
} empty_iter;

static bool e_valid(const iter *it)
{
    return false;
}
static void e_move(iter *it)
{
}
static void e_seek(iter *it, slice t)
{
}
static slice e_slice(const iter *it)
{
    return slice_make(NULL, 0);
}
static int e_status(const iter *it)
{
    return ((const empty_iter *)it)->status;
}
static void e_destroy(iter *it)
{
    free(it);
}

static const iter_ops empty_ops = {e_valid, e_move,  e_move,  e_seek,   e_seek,   e_move,
                                   e_move,  e_slice, e_slice, e_status, e_destroy};

iter *iter_new_empty(int status)
{
    empty_iter *e = malloc(sizeof *e);
    if (!e)
        return NULL;
    e->base.ops = &empty_ops;
    e->status = status;
    return &e->base;
}

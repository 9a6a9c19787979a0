/*
 * iterator.h - the internal iterator interface shared by blocks, tables, memtables, the
 * merging iterator and level iterators. Keys are internal keys (format.h) unless the
 * concrete iterator says otherwise. Not the public shale_iter (see db_iter.c).
 *
 * Rules every implementation follows:
 *  - key()/value() are valid only while valid() is true, until the next move.
 *  - seek(target) lands on the first entry >= target; seek_for_prev(target) on the last
 *    entry <= target.
 *  - An error makes the iterator invalid and status() returns it (SHALE_ECORRUPT, -errno).
 *  - destroy() frees the iterator (and what it owns); destroy(NULL) is not allowed,
 *    use iter_free().
 */
#ifndef SHALE_ITERATOR_H
#define SHALE_ITERATOR_H

#include <stdbool.h>

#include "slice.h"

typedef struct iter iter;

typedef struct iter_ops {
    bool (*valid)(const iter *it);
    void (*seek_to_first)(iter *it);
    void (*seek_to_last)(iter *it);
    void (*seek)(iter *it, slice target);
    void (*seek_for_prev)(iter *it, slice target);
    void (*next)(iter *it);
    void (*prev)(iter *it);
    slice (*key)(const iter *it);
    slice (*value)(const iter *it);
    int (*status)(const iter *it);
    void (*destroy)(iter *it);
} iter_ops;

/* Embed as the first member of a concrete iterator. */
struct iter {
    const iter_ops *ops;
};

static inline bool iter_valid(const iter *it)
{
    return it->ops->valid(it);
}
static inline void iter_seek_to_first(iter *it)
{
    it->ops->seek_to_first(it);
}
static inline void iter_seek_to_last(iter *it)
{
    it->ops->seek_to_last(it);
}
static inline void iter_seek(iter *it, slice t)
{
    it->ops->seek(it, t);
}
static inline void iter_seek_for_prev(iter *it, slice t)
{
    it->ops->seek_for_prev(it, t);
}
static inline void iter_next(iter *it)
{
    it->ops->next(it);
}
static inline void iter_prev(iter *it)
{
    it->ops->prev(it);
}
static inline slice iter_key(const iter *it)
{
    return it->ops->key(it);
}
static inline slice iter_value(const iter *it)
{
    return it->ops->value(it);
}
static inline int iter_status(const iter *it)
{
    return it->ops->status(it);
}
static inline void iter_free(iter *it)
{
    if (it)
        it->ops->destroy(it);
}

/* An iterator with no entries and the given status (0 or an error). NULL on -ENOMEM. */
iter *iter_new_empty(int status);

#endif

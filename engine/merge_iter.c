/*
 * merge_iter.c - merges sorted child iterators (LevelDB's MergingIterator). Forward,
 * every child sits at its first entry >= the current key and the smallest wins; reverse,
 * every child sits at its last entry <= it and the largest wins. Switching direction
 * re-seeks the other children.
 */
#include "merge_iter.h"

#include <stdlib.h>
#include <string.h>

enum { DIR_FORWARD, DIR_REVERSE };

typedef struct merge_iter {
    iter base;
    int (*cmp)(slice a, slice b);
    iter **children;
    int n;
    int current; /* index, -1 when invalid */
    int direction;
} merge_iter;

static void find_smallest(merge_iter *m)
{
    int best = -1;
    slice bk = {0};
    for (int i = 0; i < m->n; i++) {
        iter *c = m->children[i];
        if (!iter_valid(c))
            continue;
        slice k = iter_key(c);
        if (best < 0 || m->cmp(k, bk) < 0) {
            best = i;
            bk = k;
        }
    }
    m->current = best;
}

static void find_largest(merge_iter *m)
{
    int best = -1;
    slice bk = {0};
    for (int i = m->n - 1; i >= 0; i--) {
        iter *c = m->children[i];
        if (!iter_valid(c))
            continue;
        slice k = iter_key(c);
        if (best < 0 || m->cmp(k, bk) > 0) {
            best = i;
            bk = k;
        }
    }
    m->current = best;
}

static bool m_valid(const iter *it)
{
    return ((const merge_iter *)it)->current >= 0;
}

static void m_seek_to_first(iter *it)
{
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek_to_first(m->children[i]);
    m->direction = DIR_FORWARD;
    find_smallest(m);
}

static void m_seek_to_last(iter *it)
{
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek_to_last(m->children[i]);
    m->direction = DIR_REVERSE;
    find_largest(m);
}

static void m_seek(iter *it, slice target)
{
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek(m->children[i], target);
    m->direction = DIR_FORWARD;
    find_smallest(m);
}

static void m_seek_for_prev(iter *it, slice target)
{
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_seek_for_prev(m->children[i], target);
    m->direction = DIR_REVERSE;
    find_largest(m);
}

static void m_next(iter *it)
{
    merge_iter *m = (merge_iter *)it;
    iter *cur = m->children[m->current];
    if (m->direction != DIR_FORWARD) {
        /* Every other child moves to its first entry after the current key. */
        slice key = iter_key(cur);
        for (int i = 0; i < m->n; i++) {
            if (i == m->current)
                continue;
            iter *c = m->children[i];
            iter_seek(c, key);
            if (iter_valid(c) && m->cmp(key, iter_key(c)) == 0)
                iter_next(c);
        }
        m->direction = DIR_FORWARD;
    }
    iter_next(cur);
    if (m->n == 1) {
        m->current = iter_valid(cur) ? 0 : -1;
        return;
    }
    find_smallest(m);
}

static void m_prev(iter *it)
{
    merge_iter *m = (merge_iter *)it;
    iter *cur = m->children[m->current];
    if (m->direction != DIR_REVERSE) {
        /* Every other child moves to its last entry before the current key. */
        slice key = iter_key(cur);
        for (int i = 0; i < m->n; i++) {
            if (i == m->current)
                continue;
            iter *c = m->children[i];
            iter_seek(c, key);
            if (iter_valid(c))
                iter_prev(c);
            else if (iter_status(c) == 0)
                iter_seek_to_last(c);
        }
        m->direction = DIR_REVERSE;
    }
    iter_prev(cur);
    find_largest(m);
}

static slice m_key(const iter *it)
{
    const merge_iter *m = (const merge_iter *)it;
    return iter_key(m->children[m->current]);
}

static slice m_value(const iter *it)
{
    const merge_iter *m = (const merge_iter *)it;
    return iter_value(m->children[m->current]);
}

static int m_status(const iter *it)
{
    const merge_iter *m = (const merge_iter *)it;
    for (int i = 0; i < m->n; i++) {
        int st = iter_status(m->children[i]);
        if (st)
            return st;
    }
    return 0;
}

static void m_destroy(iter *it)
{
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++)
        iter_free(m->children[i]);
    free(m->children);
    free(m);
}

static const iter_ops merge_ops = {m_valid,         m_seek_to_first, m_seek_to_last, m_seek,
                                   m_seek_for_prev, m_next,          m_prev,         m_key,
                                   m_value,         m_status,        m_destroy};

iter *merge_iter_new(iter **children, int n, int (*cmp)(slice a, slice b))
{
    merge_iter *m = calloc(1, sizeof *m);
    iter **copy = m ? malloc((size_t)(n ? n : 1) * sizeof *copy) : NULL;
    if (!m || !copy) {
        for (int i = 0; i < n; i++)
            iter_free(children[i]);
        free(m);
        free(copy);
        return NULL;
    }
    memcpy(copy, children, (size_t)n * sizeof *copy);
    m->base.ops = &merge_ops;
    m->cmp = cmp;
    m->children = copy;
    m->n = n;
    m->current = -1;
    return &m->base;
}

int merge_iter_child(const iter *it)
{
    return ((const merge_iter *)it)->current;
}

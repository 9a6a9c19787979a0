/*
 * merge_iter.h - merges n sorted internal iterators into one, in both directions
 * (LevelDB's MergingIterator). Entries with equal keys from different children are all
 * returned, in child order (child 0 first).
 */
#ifndef SHALE_MERGE_ITER_H
#define SHALE_MERGE_ITER_H

#include "iterator.h"

/*
 * Takes ownership of children[0..n) (and copies the array). Compares with cmp
 * (ikey_compare for internal keys). On ENOMEM frees the children and returns NULL.
 * The first child error makes status() return it.
 */
iter *merge_iter_new(iter **children, int n, int (*cmp)(slice a, slice b));

/* The index of the child the current entry comes from; -1 when not valid. it must be a
   merging iterator. */
int merge_iter_child(const iter *it);

#endif

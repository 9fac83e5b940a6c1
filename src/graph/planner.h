/* Arena planning: place every activation tensor at an offset in one arena so
 * that tensors alive at the same time never overlap. Greedy by size with
 * best-fit into the gaps left by simultaneously live tensors, the strategy
 * of TensorFlow Lite's arena planner; offsets are 64-byte aligned. */
#ifndef LD_GRAPH_PLANNER_H
#define LD_GRAPH_PLANNER_H

#include <stddef.h>

#define LD_ARENA_ALIGN 64

typedef struct ld_plan_item {
    size_t size;     /* bytes */
    int first;       /* first op index at which the tensor must exist */
    int last;        /* last op index at which it is read */
    size_t offset;   /* output: offset in the arena */
} ld_plan_item;

/* Assign offsets. `order` is caller scratch of n ints (no allocation here).
 * Returns the arena size needed. */
size_t ld_plan_arena(ld_plan_item *items, int n, int *order);

#endif

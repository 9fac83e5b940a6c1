#include "graph/planner.h"

#include <stdint.h>

static size_t align_up(size_t x)
{
    return (x + LD_ARENA_ALIGN - 1) & ~(size_t)(LD_ARENA_ALIGN - 1);
}

static int overlaps(const ld_plan_item *a, const ld_plan_item *b)
{
    return a->first <= b->last && b->first <= a->last;
}

/* Insertion sort by size descending (ties: earlier first use first), stable
 * and allocation-free; graphs have a few hundred tensors. */
static void sort_by_size(const ld_plan_item *items, int n, int *order)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) {
        int k = order[i], j = i - 1;
        while (j >= 0) {
            const ld_plan_item *a = &items[order[j]], *b = &items[k];
            int before = a->size > b->size || (a->size == b->size && a->first <= b->first);
            if (before)
                break;
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = k;
    }
}

size_t ld_plan_arena(ld_plan_item *items, int n, int *order)
{
    sort_by_size(items, n, order);
    size_t arena = 0;
    for (int i = 0; i < n; i++) {
        ld_plan_item *it = &items[order[i]];
        size_t need = align_up(it->size);
        /* Best fit: among the gaps between already placed, overlapping
         * tensors (scanned in offset order), take the smallest that fits. */
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
        for (;;) {
            /* next placed, overlapping tensor at or after cursor, lowest offset */
            const ld_plan_item *next = NULL;
            for (int j = 0; j < i; j++) {
                const ld_plan_item *p = &items[order[j]];
                if (!overlaps(p, it) || p->offset + align_up(p->size) <= cursor)
                    continue;
                if (!next || p->offset < next->offset)
                    next = p;
            }
            if (!next)
                break;
            if (next->offset >= cursor) {
                size_t gap = next->offset - cursor;
                if (gap >= need && gap < best_gap) {
                    best_gap = gap;
                    best = cursor;
                }
            }
            size_t end = next->offset + align_up(next->size);
            if (end > cursor)
                cursor = end;
        }
        it->offset = best != SIZE_MAX ? best : cursor;
        if (it->offset + need > arena)
            arena = it->offset + need;
    }
    return arena;
}

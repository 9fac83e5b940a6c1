/* The arena planner must never let two simultaneously live tensors overlap,
 * and must do better than the naive sum on chain-like graphs. */
#include <stdlib.h>

#include "graph/planner.h"
#include "harness.h"

static int live_together(const ld_plan_item *a, const ld_plan_item *b)
{
    return a->first <= b->last && b->first <= a->last;
}

static int bytes_overlap(const ld_plan_item *a, const ld_plan_item *b)
{
    return a->offset < b->offset + b->size && b->offset < a->offset + a->size;
}

static void check_random(unsigned seed, int n)
{
    ld_plan_item items[200];
    int order[200];
    srand(seed);
    size_t naive = 0;
    for (int i = 0; i < n; i++) {
        items[i].first = rand() % 50;
        items[i].last = items[i].first + rand() % 6;
        items[i].size = 1 + (size_t)(rand() % 100000);
        naive += (items[i].size + 63) / 64 * 64;
    }
    size_t arena = ld_plan_arena(items, n, order);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (items[i].offset % LD_ARENA_ALIGN || items[i].offset + items[i].size > arena)
            bad++;
        for (int j = i + 1; j < n; j++)
            if (live_together(&items[i], &items[j]) && bytes_overlap(&items[i], &items[j]))
                bad++;
    }
    CHECK_MSG(bad == 0, "seed %u: %d overlaps/misplacements", seed, bad);
    CHECK_MSG(arena <= naive, "seed %u: arena %zu > naive %zu", seed, arena, naive);
    /* lower bound: the largest set of tensors alive at one step */
    size_t peak = 0;
    for (int step = 0; step < 60; step++) {
        size_t live = 0;
        for (int i = 0; i < n; i++)
            if (items[i].first <= step && step <= items[i].last)
                live += items[i].size;
        if (live > peak)
            peak = live;
    }
    CHECK_MSG(arena >= peak, "seed %u: arena %zu below live peak %zu", seed, arena, peak);
}

int main(void)
{
    for (unsigned s = 1; s <= 200; s++)
        check_random(s, 1 + (int)(s % 200));

    /* A chain a->b->c->d: only neighbours live together, so two slots suffice. */
    ld_plan_item chain[4] = {{1000, -1, 0, 0}, {1000, 0, 1, 0}, {1000, 1, 2, 0}, {1000, 2, 3, 0}};
    int order[4];
    size_t arena = ld_plan_arena(chain, 4, order);
    CHECK_MSG(arena == 2 * 1024, "chain arena %zu, expected 2048", arena);
    return ld_test_finish();
}

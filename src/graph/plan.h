/* The arena plan of one session: tensor lifetimes from the op order,
 * in-place aliasing for reshape-like ops, then offsets from the arena
 * planner (planner.h). Pure computation over the shaped tensors: nothing is
 * allocated here but the plan's own arrays, so the plan can be checked
 * against a budget before the arena exists, and kept to re-acquire the
 * arena at the same offsets after a release. */
#ifndef LD_GRAPH_PLAN_H
#define LD_GRAPH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "graph/planner.h"
#include "kernels/kernel.h"

typedef struct ld_arena_plan {
    int n_items;              /* arena buffers: one per tensor, or per group of tensors sharing bytes */
    ld_plan_item *items;      /* lifetimes, sizes and offsets of the buffers */
    int32_t *item_of;         /* per model tensor: its buffer, or -1 (constant or never used) */
    size_t arena_bytes;       /* bytes the arena needs (offsets are LD_ARENA_ALIGN aligned) */
    size_t naive_bytes;       /* sum of every activation tensor, as if none shared bytes */
    int n_aliased;            /* tensors that share their input's bytes (reshape-like ops) */
    int peak_step;            /* op index with the most live bytes (-1: before the first op) */
    size_t peak_live_bytes;   /* live buffer bytes at that step: a lower bound of the arena */
} ld_arena_plan;

typedef struct ld_plan_config {
    int whole_run;            /* every buffer lives for the whole invoke (nothing shared, no aliasing) */
    int no_alias;             /* reshape-like ops copy instead of sharing their input's bytes */
    const uint8_t *may_alias; /* per op: 1 if output 0 may share input 0's bytes (kernel skips the copy) */
    const int32_t *read_until; /* per op, or NULL: > i when op i's work is done by the fused kernel of
                                  that later op, which reads op i's inputs then: they live until it,
                                  and op i's outputs (never written) get no bytes */
} ld_plan_config;

/* Plan the arena of `tensors` (one per model tensor, shaped, t->bytes set,
 * constants marked) for the ops of `d`. Arrays come from `alloc`; release
 * them with ld_arena_plan_free. Errors name `path`. */
leandet_status ld_arena_plan_build(const ld_model_desc *d, const ld_tensor *tensors, const ld_plan_config *cfg,
                                   ld_alloc *alloc, const char *path, ld_arena_plan *out, leandet_error *err);
void ld_arena_plan_free(ld_arena_plan *p, ld_alloc *alloc);

/* Buffer bytes live at op `step` (-1..n_ops): what the arena must hold then. */
size_t ld_arena_plan_live_bytes(const ld_arena_plan *p, int step);

/* 1 if op `builtin` only reinterprets its input's bytes (RESHAPE, SQUEEZE). */
int ld_op_is_reshape_like(int builtin);

#endif

/* Lifetimes, in-place aliasing and the arena layout of one session. */
#include "graph/plan.h"

#include <string.h>

#define UNUSED (-2) /* lifetime mark: no op writes or reads the tensor */

int ld_op_is_reshape_like(int builtin)
{
    return builtin == LD_OP_RESHAPE || builtin == LD_OP_SQUEEZE;
}

void ld_arena_plan_free(ld_arena_plan *p, ld_alloc *alloc)
{
    if (!p)
        return;
    ld_free(alloc, p->items);
    ld_free(alloc, p->item_of);
    memset(p, 0, sizeof *p);
}

/* A tensor exists from the op that writes it (graph inputs: from the start)
 * to the last op that reads it (or whose fused kernel reads it for a fused
 * producer; a fused producer's own outputs are never written and get no
 * bytes). Graph inputs and outputs live for the whole invoke: the caller's
 * input stays intact, outputs are read after. */
static void lifetimes(const ld_model_desc *d, const ld_plan_config *cfg, int32_t *first, int32_t *last)
{
    for (int t = 0; t < d->n_tensors; t++)
        first[t] = last[t] = UNUSED;
    for (int k = 0; k < d->n_inputs; k++)
        first[d->inputs[k]] = -1;
    for (int i = 0; i < d->n_ops; i++) {
        const ld_op_desc *op = &d->ops[i];
        for (int k = 0; k < op->n_outputs; k++)
            if (first[op->outputs[k]] == UNUSED)
                first[op->outputs[k]] = i;
        for (int k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] >= 0)
                last[op->inputs[k]] = i;
    }
    for (int i = 0; cfg && cfg->read_until && i < d->n_ops; i++) {
        const ld_op_desc *op = &d->ops[i];
        if (cfg->read_until[i] <= i)
            continue;
        for (int k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] >= 0 && last[op->inputs[k]] < cfg->read_until[i])
                last[op->inputs[k]] = cfg->read_until[i];
    }
    /* After every extension: a fused producer may read another's output
     * (CONV_2D -> LOGISTIC of a fused SiLU), which is no more written. */
    for (int i = 0; cfg && cfg->read_until && i < d->n_ops; i++)
        for (int k = 0; cfg->read_until[i] > i && k < d->ops[i].n_outputs; k++) /* never written: no bytes */
            first[d->ops[i].outputs[k]] = last[d->ops[i].outputs[k]] = UNUSED;
    for (int k = 0; k < d->n_inputs; k++)
        last[d->inputs[k]] = d->n_ops;
    for (int k = 0; k < d->n_outputs; k++)
        last[d->outputs[k]] = d->n_ops;
}

static int planned(const ld_tensor *t, int32_t first)
{
    return !t->is_const && first != UNUSED;
}

/* Reshape-like op i may hand its input's bytes to its output when the input
 * dies at i (no later reader; graph inputs and outputs never die) and both
 * are arena tensors of the same size. Groups chain (reshape of a reshape):
 * root[] names the tensor owning the bytes, glast[] the group's last use. */
static int try_alias(const ld_model_desc *d, const ld_tensor *tensors, int i, const int32_t *first,
                     const int32_t *last, int32_t *root, int32_t *glast)
{
    const ld_op_desc *op = &d->ops[i];
    if (op->n_inputs < 1 || op->n_outputs < 1 || op->inputs[0] < 0)
        return 0;
    int in = op->inputs[0], out = op->outputs[0];
    if (in == out || !planned(&tensors[in], first[in]) || !planned(&tensors[out], first[out]))
        return 0;
    if (first[in] == -1 || first[out] != i || tensors[in].bytes != tensors[out].bytes)
        return 0;
    int r = root[in];
    if (glast[r] != i || last[in] != i)
        return 0;
    root[out] = r;
    if (last[out] > glast[r])
        glast[r] = last[out];
    return 1;
}

/* Items and offsets for the lifetimes first/last, with the reshape-like ops
 * sharing bytes when `alias` (root/glast are reset here). */
static void layout(const ld_model_desc *d, const ld_tensor *tensors, const ld_plan_config *cfg, int alias,
                   const int32_t *first, const int32_t *last, int32_t *root, int32_t *glast, int *order,
                   ld_arena_plan *out)
{
    const int n = d->n_tensors;
    for (int t = 0; t < n; t++) {
        root[t] = t;
        glast[t] = last[t];
    }
    out->n_aliased = 0;
    out->naive_bytes = 0;
    for (int i = 0; alias && i < d->n_ops; i++)
        if (cfg->may_alias[i])
            out->n_aliased += try_alias(d, tensors, i, first, last, root, glast);
    int m = 0;
    for (int t = 0; t < n; t++) {
        out->item_of[t] = -1;
        if (!planned(&tensors[t], first[t]))
            continue;
        out->naive_bytes += tensors[t].bytes;
        if (root[t] != t)
            continue;
        ld_plan_item *it = &out->items[m];
        memset(it, 0, sizeof *it);
        it->size = tensors[t].bytes;
        it->first = cfg && cfg->whole_run ? -1 : first[t];
        it->last = cfg && cfg->whole_run ? d->n_ops : glast[t];
        out->item_of[t] = m++;
    }
    for (int t = 0; t < n; t++)
        if (planned(&tensors[t], first[t]) && root[t] != t)
            out->item_of[t] = out->item_of[root[t]];
    out->n_items = m;
    out->arena_bytes = ld_plan_arena(out->items, m, order);
}

leandet_status ld_arena_plan_build(const ld_model_desc *d, const ld_tensor *tensors, const ld_plan_config *cfg,
                                   ld_alloc *alloc, const char *path, ld_arena_plan *out, leandet_error *err)
{
    int n = d->n_tensors;
    size_t cap = n > 0 ? (size_t)n : 1;
    memset(out, 0, sizeof *out);
    ld_arena_plan plain;
    memset(&plain, 0, sizeof plain);
    const int alias = cfg && !cfg->whole_run && !cfg->no_alias && cfg->may_alias;
    int32_t *tmp = ld_calloc(alloc, cap * 5, sizeof *tmp); /* first, last, root, glast, order */
    out->items = ld_calloc(alloc, cap, sizeof *out->items);
    out->item_of = ld_calloc(alloc, cap, sizeof *out->item_of);
    if (alias) {
        plain.items = ld_calloc(alloc, cap, sizeof *plain.items);
        plain.item_of = ld_calloc(alloc, cap, sizeof *plain.item_of);
    }
    if (!tmp || !out->items || !out->item_of || (alias && (!plain.items || !plain.item_of))) {
        ld_free(alloc, tmp);
        ld_arena_plan_free(out, alloc);
        ld_arena_plan_free(&plain, alloc);
        return ld_fail(err, alloc->limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                       "%s: out of memory planning %d tensors", path, n);
    }
    int32_t *first = tmp, *last = tmp + cap, *root = tmp + 2 * cap, *glast = tmp + 3 * cap;
    int *order = (int *)(tmp + 4 * cap);
    lifetimes(d, cfg, first, last);
    leandet_status st = LEANDET_OK;
    for (int t = 0; t < n; t++) {
        if (!tensors[t].is_const && first[t] == UNUSED && last[t] != UNUSED) {
            st = ld_fail(err, LEANDET_ERR_MODEL,
                         "%s: tensor %d '%s' is read by op %d but no op writes it and it is not an input", path, t,
                         tensors[t].desc ? tensors[t].desc->name : "", (int)last[t]);
            break;
        }
        if (last[t] < first[t])
            last[t] = first[t]; /* written, never read: still needs room */
    }
    if (st != LEANDET_OK) {
        ld_free(alloc, tmp);
        ld_arena_plan_free(out, alloc);
        ld_arena_plan_free(&plain, alloc);
        return st;
    }
    layout(d, tensors, cfg, alias, first, last, root, glast, order, out);
    if (alias && out->n_aliased > 0) {
        /* Best fit is greedy: sharing bytes can, rarely, lay out worse
         * (yolov5n by 1.4%). Keep whichever arena is smaller; without
         * sharing, the reshape kernels copy. */
        layout(d, tensors, cfg, 0, first, last, root, glast, order, &plain);
        if (plain.arena_bytes < out->arena_bytes) {
            ld_arena_plan t = *out;
            *out = plain;
            plain = t;
        }
    }
    ld_arena_plan_free(&plain, alloc);
    out->peak_step = -1;
    out->peak_live_bytes = 0;
    for (int step = -1; step < d->n_ops; step++) {
        size_t live = ld_arena_plan_live_bytes(out, step);
        if (live > out->peak_live_bytes) {
            out->peak_live_bytes = live;
            out->peak_step = step;
        }
    }
    ld_free(alloc, tmp);
    return LEANDET_OK;
}

size_t ld_arena_plan_live_bytes(const ld_arena_plan *p, int step)
{
    size_t live = 0;
    for (int k = 0; k < p->n_items; k++)
        if (p->items[k].first <= step && step <= p->items[k].last)
            live += p->items[k].size;
    return live;
}

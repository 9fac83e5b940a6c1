/* Folded weights that no eval reads are freed during prepare.
 *
 * A float16 model's DEQUANTIZE ops fold into float32 weights at prepare;
 * the optimized convolutions then pack those into their own layout and
 * never read the folded copy again. Keeping it would hold every weight
 * twice. So prepare tracks, per folded tensor, how many reader ops are
 * still to be prepared and whether any of them will read it at eval; the
 * moment the last reader is prepared and none needs it, the folding op's
 * state (which holds the tensor's data) is freed. Prepare's peak then holds
 * the packed weights plus only the folded ones still waiting for a reader.
 *
 * Where they live matters as much: malloc keeps a freed small block's
 * pages as a hole in its heap, which later blocks fill only if they fit
 * (the packed copy made while the weight lives never can). So a DEQUANTIZE
 * of a model constant waits until its first reader is prepared and then
 * folds into pages of its own (ld_alloc.map_small), returned whole when
 * freed: each weight is made, packed and freed in turn, and the heap never
 * sees it. The float16 models dequantize every weight at the top of the
 * graph; this way at most one reader's weights are folded at a time.
 *
 * Conservative: a reader that is itself folded counts as needing the data
 * (a folded RESHAPE points into its input), and so do model outputs and
 * keep_all_tensors sessions (every tensor must stay readable). */
#include <string.h>

#include "runtime/session_internal.h"

leandet_status ld_folded_begin(leandet_session *s, ld_folded *f, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    memset(f, 0, sizeof *f);
    if (s->keep_all || d->n_tensors < 1)
        return LEANDET_OK;
    const size_t n = (size_t)d->n_tensors;
    f->producer = ld_calloc(&s->alloc, 2 * n, sizeof *f->producer);
    f->needed = ld_calloc(&s->alloc, n, 1);
    f->waiting = ld_calloc(&s->alloc, d->n_ops ? (size_t)d->n_ops : 1, 1);
    if (!f->producer || !f->needed || !f->waiting) {
        ld_folded_end(s, f);
        return ld_fail(err, s->alloc.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                       "%s: out of memory tracking folded weights", s->model->path);
    }
    f->pending = f->producer + n;
    for (size_t t = 0; t < n; t++)
        f->producer[t] = -1;
    for (int i = 0; i < d->n_ops; i++) {
        for (int k = 0; k < d->ops[i].n_outputs; k++)
            f->producer[d->ops[i].outputs[k]] = i;
        for (int k = 0; k < d->ops[i].n_inputs; k++)
            if (d->ops[i].inputs[k] >= 0)
                f->pending[d->ops[i].inputs[k]]++;
    }
    for (int k = 0; k < d->n_outputs; k++)
        f->needed[d->outputs[k]] = 1;
    return LEANDET_OK;
}

int ld_folded_defer(const leandet_session *s, ld_folded *f, int i)
{
    const ld_op_desc *op = &s->model->desc.ops[i];
    if (!f->producer || s->donor || op->builtin != LD_OP_DEQUANTIZE || op->n_inputs < 1 || op->n_outputs != 1)
        return 0;
    for (int k = 0; k < op->n_inputs; k++) {
        const int t = op->inputs[k];
        if (t < 0 || !s->tensors[t].is_const || f->producer[t] >= 0)
            return 0; /* not a constant of the model itself */
    }
    if (f->needed[op->outputs[0]])
        return 0; /* a model output */
    f->waiting[i] = 1;
    return 1;
}

int ld_folded_waiting(ld_folded *f, int t)
{
    if (!f->producer || t < 0 || f->producer[t] < 0 || !f->waiting[f->producer[t]])
        return -1;
    f->waiting[f->producer[t]] = 0;
    return f->producer[t];
}

/* Free folded op p's state once none of its outputs is read at eval. */
static void try_drop(leandet_session *s, ld_folded *f, int p)
{
    const ld_op_desc *op = &s->model->desc.ops[p];
    ld_op_slot *slot = &s->ops[p];
    if (!slot->folded || slot->dropped || !slot->ctx.state)
        return;
    for (int k = 0; k < op->n_outputs; k++)
        if (f->pending[op->outputs[k]] || f->needed[op->outputs[k]])
            return;
    ld_free(&s->alloc, slot->ctx.state);
    slot->ctx.state = NULL;
    slot->dropped = 1;
    for (int k = 0; k < op->n_outputs; k++)
        s->tensors[op->outputs[k]].data = NULL; /* a stray read faults instead of reading freed bytes */
}

void ld_folded_prepared(leandet_session *s, ld_folded *f, int i)
{
    if (!f->producer)
        return;
    const ld_op_desc *op = &s->model->desc.ops[i];
    const ld_op_slot *slot = &s->ops[i];
    for (int k = 0; k < op->n_inputs; k++) {
        const int t = op->inputs[k];
        if (t < 0)
            continue;
        f->pending[t]--;
        if (slot->folded || k >= 32 || !(slot->ctx.packed_inputs & (1u << k)))
            f->needed[t] = 1;
    }
    for (int k = 0; k < op->n_inputs; k++) {
        const int t = op->inputs[k];
        if (t >= 0 && f->pending[t] == 0 && f->producer[t] >= 0)
            try_drop(s, f, f->producer[t]);
    }
}

void ld_folded_end(leandet_session *s, ld_folded *f)
{
    ld_free(&s->alloc, f->producer);
    ld_free(&s->alloc, f->needed);
    ld_free(&s->alloc, f->waiting);
    f->producer = f->pending = NULL;
    f->needed = f->waiting = NULL;
}

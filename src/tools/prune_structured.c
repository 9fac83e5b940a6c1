/* Structured pruning: whole output channels of CONV_2D (smallest L1 norm of
 * their real weights) leave the model, with everything that depends on
 * them: the conv's bias and per-channel parameters, the channels of the
 * depthwise convs that follow (weights, bias, parameters, output shape) and
 * the input channels of the convs that read them.
 *
 * Channels are chosen on the original weights for every conv first, then
 * each constant is rewritten once, cutting its output and input axes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ops.h"
#include "tools/prune.h"

#define MAX_DEPTH 16 /* depthwise convs chained behind one conv */

typedef ld_prune_mask chmask;

/* A reason that names an operator, kept in the edit for the report. */
static const char *reason(ld_edit *e, const char *what, int op)
{
    char nb[32], *s = ld_edit_alloc(e, 128, 1, "prune reason");
    if (!s)
        return what;
    snprintf(s, 128, "%s %s (operator %d)", what, ld_op_name(e->m.ops[op].builtin, nb, sizeof nb), op);
    return s;
}

/* Why constant t (weights or bias of a rewritten op) cannot be cut, or NULL. */
static const char *const_unusable(const ld_edit *e, int t, int is_bias)
{
    if (t < 0)
        return is_bias ? NULL : "no weights";
    const ld_tensor_desc *d = &e->m.tensors[t];
    if (!d->data || d->sparsity)
        return is_bias ? "bias is not a dense constant" : "weights are not a dense constant";
    if (ld_edit_uses(e, t) != 1 || ld_edit_is_output(e, t))
        return is_bias ? "bias is shared with another operator" : "weights are shared with another operator";
    if (is_bias && (d->shape.rank != 1 || (d->type != LEANDET_FLOAT32 && d->type != LEANDET_INT32)))
        return "bias is not a float32 or int32 vector";
    return NULL;
}

static int bias_of(const ld_op_desc *o)
{
    return o->n_inputs > 2 ? o->inputs[2] : -1;
}

/* Can every reader of tensor t (c channels) drop channels with it? */
static const char *readers_follow(ld_edit *e, int t, int c, int depth)
{
    if (ld_edit_is_output(e, t))
        return "its output is a graph output";
    if (ld_edit_uses(e, t) == 0)
        return "its output is not read";
    if (depth > MAX_DEPTH)
        return "too many depthwise convs in a row";
    for (int j = 0; j < e->m.n_ops; j++) {
        const ld_op_desc *o = &e->m.ops[j];
        int reads = 0, other = 0;
        for (int i = 0; i < o->n_inputs; i++) {
            reads |= o->inputs[i] == t;
            other |= i > 0 && o->inputs[i] == t;
        }
        if (!reads)
            continue;
        if (other || (o->builtin != LD_OP_CONV_2D && o->builtin != LD_OP_DEPTHWISE_CONV_2D))
            return reason(e, "its output feeds", j);
        const char *why = ld_prune_weights_unusable(e, j);
        if (!why)
            why = const_unusable(e, o->inputs[1], 0);
        if (!why)
            why = const_unusable(e, bias_of(o), 1);
        if (why)
            return reason(e, why, j);
        const ld_tensor_desc *w = &e->m.tensors[o->inputs[1]];
        if (w->shape.d[3] != c)
            return reason(e, "channel count differs (grouped or depth multiplier > 1) at", j);
        if (bias_of(o) >= 0 && ld_shape_count(&e->m.tensors[bias_of(o)].shape) != (size_t)w->shape.d[0] *
                                   (o->builtin == LD_OP_DEPTHWISE_CONV_2D ? (size_t)c : 1))
            return reason(e, "bias size differs from the output channels of", j);
        if (o->builtin == LD_OP_DEPTHWISE_CONV_2D) {
            if (o->params.conv.depth_multiplier != 1 || o->n_outputs != 1)
                return reason(e, "depth multiplier is not 1 at", j);
            if ((why = readers_follow(e, o->outputs[0], c, depth + 1)) != NULL)
                return why;
        }
    }
    return NULL;
}

/* Give tensor t and the outputs of the depthwise convs reading it mask m. */
static void spread(ld_edit *e, chmask **masks, int t, chmask *m)
{
    masks[t] = m;
    for (int j = 0; j < e->m.n_ops; j++) {
        const ld_op_desc *o = &e->m.ops[j];
        if (o->builtin == LD_OP_DEPTHWISE_CONV_2D && o->inputs[0] == t)
            spread(e, masks, o->outputs[0], m);
    }
}

typedef struct ranked {
    double norm;
    int ch;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->norm != y->norm)
        return x->norm < y->norm ? -1 : 1;
    return x->ch - y->ch;
}

/* Keep mask of conv j's output channels: the `drop` with the smallest cost
 * go. Cost: what the readers lose (calibration statistics), else the L1
 * norm of the channel's weights. */
static leandet_status choose(ld_edit *e, int j, int drop, double *const *st, const uint8_t *reads_j,
                             chmask **out)
{
    const int w = e->m.ops[j].inputs[1];
    const ld_shape *s = &e->m.tensors[w].shape;
    const int oc = s->d[0];
    const size_t per = ld_shape_count(s) / (size_t)oc;
    float *real = NULL;
    leandet_status r = st ? LEANDET_OK : ld_prune_real(e, w, &real);
    if (r != LEANDET_OK)
        return r;
    ranked *rk = ld_edit_alloc(e, (size_t)oc, sizeof *rk, "channel norms");
    chmask *m = ld_edit_alloc(e, 1, sizeof *m, "channel mask");
    uint8_t *keep = ld_edit_alloc(e, (size_t)oc, 1, "channel mask");
    if (!rk || !m || !keep)
        return LEANDET_ERR_NO_MEMORY;
    for (int c = 0; c < oc; c++) {
        double sum = 0.0;
        if (st) {
            for (int k = 0; k < e->m.n_ops; k++)
                if (reads_j[k])
                    sum += ld_prune_channel_cost(e, st, k, c);
        } else {
            for (size_t i = 0; i < per; i++)
                sum += fabs((double)real[(size_t)c * per + i]);
        }
        rk[c].norm = sum;
        rk[c].ch = c;
        keep[c] = 1;
    }
    qsort(rk, (size_t)oc, sizeof *rk, cmp_ranked);
    for (int k = 0; k < drop; k++)
        keep[rk[k].ch] = 0;
    m->keep = keep;
    m->kept = oc - drop;
    m->total = oc;
    *out = m;
    return LEANDET_OK;
}

/* Mark the CONV_2D ops that read tensor t, directly or through depthwise convs. */
static void mark_readers(const ld_edit *e, int t, uint8_t *mark, int depth)
{
    for (int j = 0; depth <= MAX_DEPTH && j < e->m.n_ops; j++) {
        const ld_op_desc *o = &e->m.ops[j];
        if (o->n_inputs < 1 || o->inputs[0] != t)
            continue;
        if (o->builtin == LD_OP_CONV_2D)
            mark[j] = 1;
        else if (o->builtin == LD_OP_DEPTHWISE_CONV_2D && o->n_outputs == 1)
            mark_readers(e, o->outputs[0], mark, depth + 1);
    }
}

/* Cut tensor t along `axis` to the channels m keeps: shape, constant data,
 * and per-channel parameters along that axis. */
static leandet_status cut(ld_edit *e, int t, int axis, const chmask *m)
{
    ld_tensor_desc *d = &e->m.tensors[t];
    if (axis < 0 || axis >= d->shape.rank || d->shape.d[axis] != m->total)
        return ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: tensor %d '%s': cannot cut dim %d to %d of %d channels",
                       e->file, t, d->name, axis, m->kept, m->total);
    size_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++)
        outer *= (size_t)d->shape.d[k];
    for (int k = axis + 1; k < d->shape.rank; k++)
        inner *= (size_t)d->shape.d[k];
    if (d->data) {
        const size_t es = leandet_dtype_size(d->type), row = inner * es;
        uint8_t *v = ld_edit_alloc(e, outer * (size_t)m->kept, row, "pruned constant");
        if (!v)
            return LEANDET_ERR_NO_MEMORY;
        uint8_t *p = v;
        for (size_t o = 0; o < outer; o++)
            for (int c = 0; c < m->total; c++)
                if (m->keep[c]) {
                    memcpy(p, (const uint8_t *)d->data + (o * (size_t)m->total + (size_t)c) * row, row);
                    p += row;
                }
        d->data = v;
        d->data_bytes = outer * (size_t)m->kept * row;
    }
    const ld_quant *q = &d->quant;
    if (q->count > 1 && q->axis == axis && q->count == m->total) {
        float *sc = ld_edit_alloc(e, (size_t)m->kept, sizeof *sc, "scales");
        int32_t *zp = ld_edit_alloc(e, (size_t)m->kept, sizeof *zp, "zero points");
        if (!sc || !zp)
            return LEANDET_ERR_NO_MEMORY;
        int n = 0;
        for (int c = 0; c < m->total; c++)
            if (m->keep[c]) {
                sc[n] = q->scale[c];
                zp[n++] = q->zero_point[c];
            }
        leandet_status st = ld_edit_set_quant(e, t, n, axis, sc, zp);
        if (st != LEANDET_OK)
            return st;
    }
    e->m.tensors[t].shape.d[axis] = m->kept;
    return LEANDET_OK;
}

/* Rewrite every operator touched by the masks. */
static leandet_status rewrite(ld_edit *e, chmask **masks, int n_tensors)
{
    leandet_status st = LEANDET_OK;
    for (int j = 0; j < e->m.n_ops && st == LEANDET_OK; j++) {
        const ld_op_desc *o = &e->m.ops[j];
        if (o->builtin != LD_OP_CONV_2D && o->builtin != LD_OP_DEPTHWISE_CONV_2D)
            continue;
        const chmask *in = masks[o->inputs[0]], *out = masks[o->outputs[0]];
        const int w = o->inputs[1], b = bias_of(o);
        if (o->builtin == LD_OP_DEPTHWISE_CONV_2D) {
            if (in && (st = cut(e, w, 3, in)) == LEANDET_OK && b >= 0)
                st = cut(e, b, 0, in);
            continue;
        }
        if (out && (st = cut(e, w, 0, out)) == LEANDET_OK && b >= 0)
            st = cut(e, b, 0, out);
        if (in && st == LEANDET_OK)
            st = cut(e, w, 3, in);
    }
    for (int t = 0; t < n_tensors && st == LEANDET_OK; t++)
        if (masks[t])
            st = cut(e, t, e->m.tensors[t].shape.rank - 1, masks[t]);
    return st;
}

/* Calibration needs float32 weights and biases wherever it refits. */
static leandet_status check_float(ld_edit *e, const uint8_t *readers)
{
    for (int j = 0; j < e->m.n_ops; j++) {
        if (!readers[j])
            continue;
        const ld_op_desc *o = &e->m.ops[j];
        const int b = bias_of(o);
        if (e->m.tensors[o->inputs[1]].type != LEANDET_FLOAT32 || (b >= 0 && e->m.tensors[b].type != LEANDET_FLOAT32))
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: --calibration refits float32 weights, and operator %d's are quantized: run "
                           "'leandet dequantize' first, prune, then 'leandet quantize --mode int8'",
                           e->file, j);
    }
    return LEANDET_OK;
}

leandet_status ld_prune_structured(ld_edit *e, const ld_prune_options *opt, ld_prune_report *r)
{
    const int nt = e->m.n_tensors, nops = e->m.n_ops;
    const int calib = opt->calibration != NULL;
    if (calib && (opt->compensate || !opt->source))
        return ld_fail(e->err, LEANDET_ERR_ARGUMENT, "%s: calibration %s", e->file,
                       opt->compensate ? "refits the readers: it replaces --compensate" : "needs the source model");
    chmask **masks = ld_edit_alloc(e, (size_t)nt, sizeof *masks, "channel masks");
    int *drops = ld_edit_alloc(e, (size_t)nops, sizeof *drops, "channel counts");
    /* readers[k * nops + j]: conv j reads pruned conv k's channels; row nops: any */
    uint8_t *readers = calib ? ld_edit_alloc(e, (size_t)nops + 1, (size_t)nops, "readers") : NULL;
    if (!masks || !drops || (calib && !readers))
        return LEANDET_ERR_NO_MEMORY;
    uint8_t *any = readers ? readers + (size_t)nops * (size_t)nops : NULL;
    for (int k = 0; k < r->n_layers; k++) {
        ld_prune_layer *l = &r->layers[k];
        const ld_op_desc *o = &e->m.ops[l->op];
        if (o->builtin == LD_OP_FULLY_CONNECTED && !l->skipped)
            l->skipped = "FULLY_CONNECTED is not pruned by channel";
        if (o->builtin != LD_OP_CONV_2D || l->skipped)
            continue;
        const char *why = const_unusable(e, o->inputs[1], 0);
        if (!why)
            why = const_unusable(e, bias_of(o), 1);
        const int oc = e->m.tensors[o->inputs[1]].shape.d[0];
        if (!why && bias_of(o) >= 0 && ld_shape_count(&e->m.tensors[bias_of(o)].shape) != (size_t)oc)
            why = "bias size differs from the output channels";
        if (!why && (o->n_outputs != 1 || e->m.tensors[o->outputs[0]].shape.rank < 1 ||
                     e->m.tensors[o->outputs[0]].shape.d[e->m.tensors[o->outputs[0]].shape.rank - 1] != oc))
            why = "output shape does not match the weights";
        if (!why)
            why = readers_follow(e, o->outputs[0], oc, 0);
        if (why) {
            l->skipped = why;
            continue;
        }
        r->eligible++;
        int drop = (int)floor(opt->sparsity * (double)oc);
        if (drop >= oc)
            drop = oc - 1; /* never all of them */
        drops[l->op] = drop > 0 ? drop : 0;
        if (readers && drop > 0)
            mark_readers(e, o->outputs[0], readers + (size_t)l->op * (size_t)nops, 0);
    }
    double **var = calib ? ld_edit_alloc(e, (size_t)nops, sizeof *var, "channel statistics") : NULL;
    leandet_status st = calib && !var ? LEANDET_ERR_NO_MEMORY : LEANDET_OK;
    if (calib && st == LEANDET_OK) {
        for (int k = 0; k < nops; k++)
            for (int j = 0; j < nops; j++)
                any[j] |= readers[(size_t)k * (size_t)nops + (size_t)j];
        st = check_float(e, any);
        if (st == LEANDET_OK)
            st = ld_prune_variances(e, opt, any, var);
    }
    for (int k = 0; k < r->n_layers && st == LEANDET_OK; k++) {
        const ld_prune_layer *l = &r->layers[k];
        if (drops[l->op] <= 0)
            continue;
        chmask *m;
        st = choose(e, l->op, drops[l->op], var,
                    readers ? readers + (size_t)l->op * (size_t)nops : NULL, &m);
        if (st == LEANDET_OK && opt->compensate)
            st = ld_prune_compensate(e, l->op, m);
        if (st != LEANDET_OK)
            break;
        spread(e, masks, e->m.ops[l->op].outputs[0], m);
        r->pruned++;
    }
    if (calib && st == LEANDET_OK)
        st = ld_prune_refit(e, opt, masks, any, &r->refitted, &r->calibration_images);
    return st == LEANDET_OK ? rewrite(e, masks, nt) : st;
}

/* Bias compensation for structured pruning. The channels with the smallest
 * weights are nearly constant: with weights near zero a channel outputs
 * act(bias), and in batch-norm-folded networks that bias is often large
 * (MobileNet: ReLU6 outputs of 2-3). Dropping such a channel silently
 * removes a constant the next layers were trained with, so the constant is
 * carried on instead: through depthwise convs (each channel of which maps a
 * constant input to act(bias + value * sum of its taps)) to the convs that
 * read it, whose biases absorb value * (sum of their taps on that channel).
 * Exact for truly constant channels away from the zero-padded borders.
 *
 * Quantized readers get integer bias updates that reproduce what the
 * removed input channel added to their accumulator: sum of
 * (q_w - zp_w) * (q_value - zp_in), with q_value the constant on the input
 * tensor's grid. */
#include <math.h>
#include <string.h>

#include "model/ops.h"
#include "tools/prune.h"

#define MAX_DEPTH 16

static int is_q8(const ld_tensor_desc *t)
{
    return (t->type == LEANDET_UINT8 || t->type == LEANDET_INT8) && t->quant.count > 0;
}

static double scale_at(const ld_quant *q, int ch)
{
    return q->count > 1 && ch < q->count ? q->scale[ch] : q->scale[0];
}

static double activate(ld_activation a, double v)
{
    switch (a) {
    case LD_ACT_RELU:
        return v < 0 ? 0 : v;
    case LD_ACT_RELU6:
        return v < 0 ? 0 : v > 6 ? 6 : v;
    case LD_ACT_RELU_N1_TO_1:
        return v < -1 ? -1 : v > 1 ? 1 : v;
    case LD_ACT_TANH:
        return tanh(v);
    default:
        return v;
    }
}

/* A value as tensor t holds it: activated, then (8-bit tensors) on t's
 * grid, whose range also clamps (the implied activation of uint8 models).
 * *q receives the stored integer. */
static double settle(const ld_tensor_desc *t, ld_activation a, double v, int32_t *q)
{
    v = activate(a, v);
    *q = 0;
    if (!is_q8(t))
        return v;
    const double s = t->quant.scale[0];
    const int32_t zp = t->quant.zero_point[0];
    const int32_t lo = t->type == LEANDET_UINT8 ? 0 : -128, hi = t->type == LEANDET_UINT8 ? 255 : 127;
    double r = nearbyint(v / s) + zp;
    *q = r < lo ? lo : r > hi ? hi : (int32_t)r;
    return (*q - zp) * s;
}

/* Weight element i of w as a real number and as (q - zero point). */
static double weight_real(const ld_tensor_desc *w, size_t i, int ch, int32_t *centered)
{
    if (w->type == LEANDET_FLOAT32) {
        *centered = 0;
        return ((const float *)w->data)[i];
    }
    int32_t q = w->type == LEANDET_UINT8 ? ((const uint8_t *)w->data)[i] : ((const int8_t *)w->data)[i];
    *centered = q - ld_prune_zero_point(w, i);
    return *centered * scale_at(&w->quant, ch);
}

/* Real bias of output channel ch of op o (0 without a bias). */
static double bias_real(const ld_edit *e, const ld_op_desc *o, int ch)
{
    if (o->n_inputs < 3 || o->inputs[2] < 0)
        return 0.0;
    const ld_tensor_desc *b = &e->m.tensors[o->inputs[2]];
    if (b->type == LEANDET_FLOAT32)
        return ((const float *)b->data)[ch];
    double s;
    if (b->quant.count > 0) {
        s = scale_at(&b->quant, ch);
    } else {
        const ld_tensor_desc *in = &e->m.tensors[o->inputs[0]], *w = &e->m.tensors[o->inputs[1]];
        s = (in->quant.count ? in->quant.scale[0] : 1.0) * (w->quant.count ? scale_at(&w->quant, ch) : 1.0);
    }
    return ((const int32_t *)b->data)[ch] * s;
}

/* Conv j reads the constant channels: its bias absorbs them. */
static leandet_status absorb(ld_edit *e, int j, const ld_prune_mask *m, const double *val, const int32_t *qval)
{
    const ld_op_desc *o = &e->m.ops[j];
    if (o->n_inputs < 3 || o->inputs[2] < 0)
        return LEANDET_OK; /* nothing to absorb into: the channels just go */
    const ld_tensor_desc *in = &e->m.tensors[o->inputs[0]], *w = &e->m.tensors[o->inputs[1]];
    ld_tensor_desc *b = &e->m.tensors[o->inputs[2]];
    const int oc = w->shape.d[0], ic = w->shape.d[3];
    const size_t taps = (size_t)w->shape.d[1] * (size_t)w->shape.d[2];
    const int integer = b->type == LEANDET_INT32 && is_q8(in) && is_q8(w);
    const size_t es = leandet_dtype_size(b->type);
    uint8_t *nb = ld_edit_alloc(e, (size_t)oc, es, "compensated bias");
    if (!nb)
        return LEANDET_ERR_NO_MEMORY;
    memcpy(nb, b->data, (size_t)oc * es);
    const int32_t zp_in = is_q8(in) ? in->quant.zero_point[0] : 0;
    for (int out = 0; out < oc; out++) {
        double sum = 0.0;
        int64_t isum = 0;
        for (int c = 0; c < ic; c++) {
            if (m->keep[c])
                continue;
            for (size_t k = 0; k < taps; k++) {
                int32_t centered;
                double wr = weight_real(w, ((size_t)out * taps + k) * (size_t)ic + (size_t)c, out, &centered);
                sum += wr * val[c];
                isum += (int64_t)centered * (qval[c] - zp_in);
            }
        }
        if (integer) {
            int64_t v = (int64_t)((int32_t *)nb)[out] + isum;
            ((int32_t *)nb)[out] = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
        } else if (b->type == LEANDET_FLOAT32) {
            ((float *)nb)[out] = (float)(((float *)nb)[out] + sum);
        } else {
            return LEANDET_OK; /* an int32 bias of a float conv: leave it */
        }
    }
    b->data = nb;
    return LEANDET_OK;
}

/* The constants (val, qval per channel of tensor t) reach t's readers. */
static leandet_status carry(ld_edit *e, int t, const ld_prune_mask *m, const double *val, const int32_t *qval,
                            int depth)
{
    if (depth > MAX_DEPTH)
        return LEANDET_OK;
    for (int j = 0; j < e->m.n_ops; j++) {
        const ld_op_desc *o = &e->m.ops[j];
        if (o->n_inputs < 2 || o->inputs[0] != t)
            continue;
        leandet_status st = LEANDET_OK;
        if (o->builtin == LD_OP_CONV_2D) {
            st = absorb(e, j, m, val, qval);
        } else if (o->builtin == LD_OP_DEPTHWISE_CONV_2D) {
            const ld_tensor_desc *w = &e->m.tensors[o->inputs[1]], *out = &e->m.tensors[o->outputs[0]];
            const int c_n = w->shape.d[3];
            const size_t taps = (size_t)w->shape.d[1] * (size_t)w->shape.d[2];
            double *v2 = ld_edit_alloc(e, (size_t)c_n, sizeof *v2, "carried constants");
            int32_t *q2 = ld_edit_alloc(e, (size_t)c_n, sizeof *q2, "carried constants");
            if (!v2 || !q2)
                return LEANDET_ERR_NO_MEMORY;
            for (int c = 0; c < c_n; c++) {
                if (m->keep[c])
                    continue;
                double taps_sum = 0.0;
                for (size_t k = 0; k < taps; k++) {
                    int32_t centered;
                    taps_sum += weight_real(w, k * (size_t)c_n + (size_t)c, c, &centered);
                }
                v2[c] = settle(out, o->params.conv.act, bias_real(e, o, c) + val[c] * taps_sum, &q2[c]);
            }
            st = carry(e, o->outputs[0], m, v2, q2, depth + 1);
        }
        if (st != LEANDET_OK)
            return st;
    }
    return LEANDET_OK;
}

leandet_status ld_prune_compensate(ld_edit *e, int op, const ld_prune_mask *m)
{
    const ld_op_desc *o = &e->m.ops[op];
    const ld_tensor_desc *out = &e->m.tensors[o->outputs[0]];
    double *val = ld_edit_alloc(e, (size_t)m->total, sizeof *val, "removed channel values");
    int32_t *qval = ld_edit_alloc(e, (size_t)m->total, sizeof *qval, "removed channel values");
    if (!val || !qval)
        return LEANDET_ERR_NO_MEMORY;
    for (int c = 0; c < m->total; c++)
        if (!m->keep[c])
            val[c] = settle(out, o->params.conv.act, bias_real(e, o, c), &qval[c]);
    return carry(e, o->outputs[0], m, val, qval, 0);
}

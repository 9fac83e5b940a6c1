/* ld_dequantize: a uint8/int8 model -> its float32 equivalent. See
 * quantize.h for the scheme. */
#include <math.h>
#include <string.h>

#include "model/ops.h"
#include "tools/quantize.h"
#include "tools/tflite_writer.h"

static int is_q8(const ld_tensor_desc *t)
{
    return (t->type == LEANDET_UINT8 || t->type == LEANDET_INT8) && t->quant.count > 0;
}

static leandet_status check_input_model(ld_edit *e)
{
    const ld_model_desc *m = &e->m;
    int quantized = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        if (t->quant.count > 0 && t->type == LEANDET_INT16)
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: tensor %d '%s' is int16-quantized, which dequantize does not handle", e->file, i,
                           t->name);
        if (is_q8(t) && t->data && t->sparsity)
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: tensor %d '%s' is a sparse quantized constant, which dequantize does not handle",
                           e->file, i, t->name);
        quantized |= is_q8(t);
    }
    if (!quantized)
        return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                       "%s: the model has no uint8/int8 quantized tensor: nothing to dequantize", e->file);
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        if (!ld_tflite_writer_knows(op->builtin)) {
            char nb[32];
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: operator %d is %s (builtin %d), which dequantize does not know", e->file, i,
                           ld_op_name(op->builtin, nb, sizeof nb), op->builtin);
        }
    }
    return LEANDET_OK;
}

static int is_weighted(int builtin)
{
    return builtin == LD_OP_CONV_2D || builtin == LD_OP_DEPTHWISE_CONV_2D || builtin == LD_OP_FULLY_CONNECTED;
}

/* int32 bias of a quantized weighted op: real value q * input scale *
 * weight scale (per output channel), the scale the integer kernels add it
 * at. Runs before the input and weights lose their quantization. */
static leandet_status dequantize_bias(ld_edit *e, const ld_op_desc *op, int t, uint8_t *done)
{
    ld_tensor_desc *b = &e->m.tensors[t];
    const ld_tensor_desc *in = &e->m.tensors[op->inputs[0]], *w = &e->m.tensors[op->inputs[1]];
    if (done[t] || b->type != LEANDET_INT32 || !b->data || b->sparsity || in->quant.count < 1 ||
        w->quant.count < 1)
        return LEANDET_OK;
    size_t n = ld_shape_count(&b->shape);
    if (w->quant.count > 1 && (size_t)w->quant.count != n)
        return ld_fail(e->err, LEANDET_ERR_MODEL, "%s: bias %d '%s' has %zu values for %d weight scales", e->file, t,
                       b->name, n, w->quant.count);
    float *v = ld_edit_alloc(e, n, sizeof *v, "float bias");
    if (!v)
        return LEANDET_ERR_NO_MEMORY;
    const int32_t *q = b->data;
    for (size_t i = 0; i < n; i++) {
        double ws = w->quant.scale[w->quant.count > 1 ? i : 0];
        v[i] = (float)((double)q[i] * ((double)in->quant.scale[0] * ws));
    }
    b->data = v;
    b->data_bytes = n * sizeof *v;
    b->type = LEANDET_FLOAT32;
    done[t] = 1;
    return ld_edit_set_quant(e, t, 0, 0, NULL, NULL);
}

/* Any other quantized int32 constant: q * scale. */
static leandet_status dequantize_int32(ld_edit *e, int t)
{
    ld_tensor_desc *c = &e->m.tensors[t];
    size_t n = ld_shape_count(&c->shape);
    float *v = ld_edit_alloc(e, n, sizeof *v, "float constant");
    if (!v)
        return LEANDET_ERR_NO_MEMORY;
    const int32_t *q = c->data;
    const ld_quant *qp = &c->quant;
    size_t inner = 1;
    for (int d = qp->axis + 1; d < c->shape.rank; d++)
        inner *= (size_t)c->shape.d[d];
    for (size_t i = 0; i < n; i++) {
        size_t ch = qp->count > 1 ? (i / inner) % (size_t)qp->count : 0;
        v[i] = (float)((double)qp->scale[ch] * ((double)q[i] - (double)qp->zero_point[ch]));
    }
    c->data = v;
    c->data_bytes = n * sizeof *v;
    c->type = LEANDET_FLOAT32;
    return ld_edit_set_quant(e, t, 0, 0, NULL, NULL);
}

/* The fused activation an 8-bit output's range implies. Quantized models
 * often leave ReLU/ReLU6 to the output range alone (the SSD model's
 * convolutions say NONE and saturate at [0, 6] by their scale); the float
 * model must clamp explicitly. A bound counts when it lies within half a
 * quantization step. */
static ld_activation implied_activation(const ld_tensor_desc *out)
{
    int32_t qmin = out->type == LEANDET_UINT8 ? 0 : -128, qmax = out->type == LEANDET_UINT8 ? 255 : 127;
    double s = out->quant.scale[0], lo = (qmin - out->quant.zero_point[0]) * s,
           hi = (qmax - out->quant.zero_point[0]) * s, tol = 0.5 * s;
    if (fabs(lo) <= tol)
        return fabs(hi - 6.0) <= tol ? LD_ACT_RELU6 : LD_ACT_RELU;
    if (fabs(lo + 1.0) <= tol && fabs(hi - 1.0) <= tol)
        return LD_ACT_RELU_N1_TO_1;
    return LD_ACT_NONE;
}

/* Make the implied clamp explicit on the operators that can fuse one. */
static void restore_clamp(ld_edit *e, ld_op_desc *op, ld_quant_report *r)
{
    ld_activation *act;
    switch (op->builtin) {
    case LD_OP_CONV_2D:
    case LD_OP_DEPTHWISE_CONV_2D: act = &op->params.conv.act; break;
    case LD_OP_FULLY_CONNECTED: act = &op->params.fc.act; break;
    case LD_OP_ADD:
    case LD_OP_SUB:
    case LD_OP_MUL: act = &op->params.arith.act; break;
    default: return;
    }
    if (op->n_outputs < 1 || !is_q8(&e->m.tensors[op->outputs[0]]))
        return;
    ld_activation want = implied_activation(&e->m.tensors[op->outputs[0]]);
    if ((*act == LD_ACT_NONE && want != LD_ACT_NONE) || (*act == LD_ACT_RELU && want == LD_ACT_RELU6)) {
        *act = want;
        r->clamps++;
    }
}

static leandet_status dequantize_tensors(ld_edit *e, ld_quant_report *r, uint8_t *done)
{
    ld_model_desc *m = &e->m;
    for (int i = 0; i < m->n_ops; i++) {
        restore_clamp(e, &m->ops[i], r);
        const ld_op_desc *op = &m->ops[i];
        if (is_weighted(op->builtin) && op->n_inputs > 2 && op->inputs[0] >= 0 && op->inputs[1] >= 0 &&
            op->inputs[2] >= 0) {
            leandet_status st = dequantize_bias(e, op, op->inputs[2], done);
            if (st != LEANDET_OK)
                return st;
        }
    }
    for (int i = 0; i < m->n_tensors; i++) {
        ld_tensor_desc *t = &m->tensors[i];
        leandet_status st = LEANDET_OK;
        if (done[i]) {
            r->tensors++;
            continue;
        }
        if (is_q8(t) && t->data) {
            float *v;
            st = ld_quant_const_to_float(e, i, &v);
            if (st == LEANDET_OK) {
                t->data = v;
                t->data_bytes = ld_shape_count(&t->shape) * sizeof(float);
                r->weights++;
            }
        } else if (t->type == LEANDET_INT32 && t->quant.count > 0 && t->data && !t->sparsity) {
            st = dequantize_int32(e, i);
        } else if (!is_q8(t)) {
            continue;
        }
        if (st == LEANDET_OK) {
            t->type = LEANDET_FLOAT32;
            st = ld_edit_set_quant(e, i, 0, 0, NULL, NULL);
        }
        if (st != LEANDET_OK)
            return st;
        r->tensors++;
    }
    return LEANDET_OK;
}

/* QUANTIZE and DEQUANTIZE between tensors that are now both float32 pass
 * values through: remove them. (DEQUANTIZE of float16 constants stays.) */
static leandet_status drop_conversions(ld_edit *e, ld_quant_report *r)
{
    for (int i = e->m.n_ops - 1; i >= 0; i--) {
        const ld_op_desc *op = &e->m.ops[i];
        if ((op->builtin != LD_OP_QUANTIZE && op->builtin != LD_OP_DEQUANTIZE) || op->n_inputs != 1 ||
            op->n_outputs != 1 || op->inputs[0] < 0)
            continue;
        if (e->m.tensors[op->inputs[0]].type != LEANDET_FLOAT32 || e->m.tensors[op->outputs[0]].type != LEANDET_FLOAT32)
            continue;
        leandet_status st = ld_edit_bypass_op(e, i);
        if (st != LEANDET_OK)
            return st;
        r->removed_ops++;
    }
    return LEANDET_OK;
}

leandet_status ld_dequantize(ld_edit *e, ld_quant_report *r)
{
    memset(r, 0, sizeof *r);
    r->const_bytes_before = ld_quant_const_bytes(&e->m);
    leandet_status st = check_input_model(e);
    if (st != LEANDET_OK)
        return st;
    uint8_t *done = ld_edit_alloc(e, (size_t)e->m.n_tensors, 1, "dequantization marks");
    if (!done)
        return LEANDET_ERR_NO_MEMORY;
    if ((st = dequantize_tensors(e, r, done)) != LEANDET_OK || (st = drop_conversions(e, r)) != LEANDET_OK ||
        (st = ld_edit_compact(e)) != LEANDET_OK)
        return st;
    r->const_bytes_after = ld_quant_const_bytes(&e->m);
    return LEANDET_OK;
}

/* ld_quantize_dynamic: TensorFlow Lite's dynamic-range ("weights only")
 * quantization. See quantize.h for the scheme. */
#include <math.h>
#include <string.h>

#include "model/ops.h"
#include "tools/quantize.h"
#include "tools/tflite_writer.h"

/* Operator versions TensorFlow Lite gives the hybrid forms
 * (tools/versioning/op_version.cc): per-channel hybrid CONV_2D is 5 (2 when
 * the scales are all equal, which its kernel runs per tensor), hybrid
 * DEPTHWISE_CONV_2D 6, per-channel hybrid FULLY_CONNECTED 12. */
enum { V_CONV_HYBRID_PER_CHANNEL = 5, V_CONV_HYBRID = 2, V_DW_HYBRID_PER_CHANNEL = 6, V_FC_HYBRID_PER_CHANNEL = 12 };

/* Weight layout of the weighted operators: rank and output-channel axis. */
static int weight_axis(int builtin, int *rank)
{
    switch (builtin) {
    case LD_OP_CONV_2D: *rank = 4; return 0;
    case LD_OP_DEPTHWISE_CONV_2D: *rank = 4; return 3;
    case LD_OP_FULLY_CONNECTED: *rank = 2; return 0;
    default: return -1;
    }
}

static leandet_status check_input_model(ld_edit *e)
{
    const ld_model_desc *m = &e->m;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        if (t->quant.count > 0 &&
            (t->type == LEANDET_UINT8 || t->type == LEANDET_INT8 || t->type == LEANDET_INT16))
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: the model is already quantized (tensor %d '%s' is %s with a scale); "
                           "dynamic-range quantization takes a float model",
                           e->file, i, t->name, leandet_dtype_name(t->type));
    }
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        if (!ld_tflite_writer_knows(op->builtin)) {
            char nb[32];
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: operator %d is %s (builtin %d), which the quantizer does not know", e->file, i,
                           ld_op_name(op->builtin, nb, sizeof nb), op->builtin);
        }
    }
    return LEANDET_OK;
}

/* Tensor t may be quantized along `axis` if every reader uses it as the
 * weights (input 1) of a weighted operator with that axis. */
static int only_weights(const ld_edit *e, int t, int axis)
{
    if (ld_edit_is_output(e, t) || ld_edit_is_input(e, t))
        return 0;
    for (int i = 0; i < e->m.n_ops; i++) {
        const ld_op_desc *op = &e->m.ops[i];
        for (int k = 0; k < op->n_inputs; k++) {
            if (op->inputs[k] != t)
                continue;
            int rank;
            if (k != 1 || weight_axis(op->builtin, &rank) != axis)
                return 0;
        }
    }
    return 1;
}

/* Symmetric int8 per channel along `axis`: scale = max|w| / 127, values
 * round(w / scale) (half away from zero) in [-127, 127], as TensorFlow
 * Lite's weight quantizer. An all-zero channel gets scale 1. Sets
 * *distinct when the scales are not all equal. */
static leandet_status quantize_weights(ld_edit *e, int t, int axis, int *distinct)
{
    ld_tensor_desc *td = &e->m.tensors[t];
    const float *w = td->data;
    const ld_shape *s = &td->shape;
    size_t channels = (size_t)s->d[axis], inner = 1, outer = 1;
    for (int d = axis + 1; d < s->rank; d++)
        inner *= (size_t)s->d[d];
    for (int d = 0; d < axis; d++)
        outer *= (size_t)s->d[d];
    float *scale = ld_edit_alloc(e, channels, sizeof *scale, "weight scales");
    int32_t *zp = ld_edit_alloc(e, channels, sizeof *zp, "weight zero points");
    int8_t *q = ld_edit_alloc(e, outer * channels * inner, 1, "int8 weights");
    if (!scale || !zp || !q)
        return LEANDET_ERR_NO_MEMORY;
    for (size_t ch = 0; ch < channels; ch++) {
        float max = 0.0f;
        for (size_t o = 0; o < outer; o++)
            for (size_t k = 0; k < inner; k++) {
                float a = fabsf(w[(o * channels + ch) * inner + k]);
                if (a > max)
                    max = a;
            }
        if (!isfinite(max))
            return ld_fail(e->err, LEANDET_ERR_MODEL, "%s: weights %d '%s' channel %zu holds a non-finite value",
                           e->file, t, td->name, ch);
        scale[ch] = max > 0.0f ? max / 127.0f : 1.0f;
    }
    *distinct = 0;
    for (size_t ch = 1; ch < channels; ch++)
        *distinct |= scale[ch] != scale[0];
    for (size_t o = 0; o < outer; o++)
        for (size_t ch = 0; ch < channels; ch++) {
            const float inv = 1.0f / scale[ch];
            for (size_t k = 0; k < inner; k++) {
                size_t i = (o * channels + ch) * inner + k;
                float v = roundf(w[i] * inv);
                q[i] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
            }
        }
    leandet_status st = ld_edit_set_quant(e, t, (int)channels, axis, scale, zp);
    if (st != LEANDET_OK)
        return st;
    td->type = LEANDET_INT8;
    td->data = q;
    td->data_bytes = outer * channels * inner;
    return LEANDET_OK;
}

/* Mark operator `op` as hybrid: the version TensorFlow Lite expects, and the
 * options its hybrid kernels read. */
static void make_hybrid(ld_edit *e, ld_op_desc *op, int distinct)
{
    if (op->builtin == LD_OP_CONV_2D) {
        op->version = distinct ? V_CONV_HYBRID_PER_CHANNEL : V_CONV_HYBRID;
    } else if (op->builtin == LD_OP_DEPTHWISE_CONV_2D) {
        op->version = V_DW_HYBRID_PER_CHANNEL;
        /* The hybrid kernel loops over the option, not the shapes. */
        const ld_tensor_desc *in = &e->m.tensors[op->inputs[0]], *w = &e->m.tensors[op->inputs[1]];
        if (in->shape.rank == 4 && in->shape.d[3] > 0)
            op->params.conv.depth_multiplier = w->shape.d[3] / in->shape.d[3];
    } else {
        op->version = V_FC_HYBRID_PER_CHANNEL;
        /* TensorFlow Lite's per-channel hybrid path needs asymmetric inputs. */
        op->params.fc.asymmetric_quantize_inputs = 1;
    }
}

leandet_status ld_quantize_dynamic(ld_edit *e, ld_quant_report *r)
{
    memset(r, 0, sizeof *r);
    r->const_bytes_before = ld_quant_const_bytes(&e->m);
    leandet_status st = check_input_model(e);
    if (st == LEANDET_OK)
        st = ld_quant_fold_float16(e, r);
    if (st != LEANDET_OK)
        return st;
    ld_model_desc *m = &e->m;
    uint8_t *done = ld_edit_alloc(e, (size_t)m->n_tensors, 1, "quantization marks");
    if (!done)
        return LEANDET_ERR_NO_MEMORY;
    for (int i = 0; i < m->n_ops; i++) {
        ld_op_desc *op = &m->ops[i];
        int rank, axis = weight_axis(op->builtin, &rank);
        if (axis < 0 || op->n_inputs < 2 || op->inputs[1] < 0)
            continue;
        int t = op->inputs[1];
        const ld_tensor_desc *w = &m->tensors[t];
        int distinct = 1;
        if (!done[t]) {
            if (w->type != LEANDET_FLOAT32 || !w->data || w->sparsity || w->shape.rank != rank ||
                ld_shape_count(&w->shape) < LD_QUANT_MIN_ELEMENTS || !only_weights(e, t, axis))
                continue;
            if ((st = quantize_weights(e, t, axis, &distinct)) != LEANDET_OK)
                return st;
            done[t] = (uint8_t)(1 + distinct);
            r->weights++;
        } else {
            distinct = done[t] == 2;
        }
        make_hybrid(e, op, distinct);
        r->hybrid_ops++;
    }
    if ((st = ld_edit_compact(e)) != LEANDET_OK)
        return st;
    r->const_bytes_after = ld_quant_const_bytes(&e->m);
    return LEANDET_OK;
}

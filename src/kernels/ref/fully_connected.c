/* FULLY_CONNECTED reference kernel, bit-exact with TensorFlow Lite's
 * reference FullyConnected for uint8 and int8 (per-tensor weights with their
 * zero point applied, or symmetric per-channel int8 weights) and summed in
 * the same order for float32. Hybrid (float32 activations, int8 weights)
 * follows TFLite's EvalHybridDense as its x86 build runs it (the SSE
 * tensor_utils): each input row quantized to int8 (asymmetrically when the
 * options ask for asymmetric_quantize_inputs, which per-channel weights
 * require), int32 dot products minus the input offset times the weight row
 * sums, times (channel scale * input scale), added to the bias.
 *
 * Weights are [units, depth]; the input is read as [count / depth, depth]
 * whatever its rank. The output is [batches, units], or with keep_num_dims
 * the input's shape with its last dimension replaced by units. */
#include <stdint.h>

#include "kernels/ref/conv_quant.h"
#include "kernels/ref/ref.h"

typedef struct fc_state {
    int batches, depth, units;
    int quantized;
    int hybrid, asym, per_channel;
    float f_lo, f_hi;
    ld_conv_quant q;
    double *scale;       /* units entries: input * weights / output scale */
    int32_t *row_sums;   /* hybrid: units entries, sum of each weight row */
} fc_state;

/* Hybrid checks and state: TFLite reads per-channel scales only on its
 * asymmetric path; row sums of the (constant) weights are summed once. */
static leandet_status hybrid_prepare(ld_op_ctx *c, fc_state *s)
{
    const ld_tensor *in = c->in[0], *w = c->in[1], *bias = c->n_in > 2 ? c->in[2] : NULL;
    leandet_status st = ld_conv_check_hybrid(c, in, w, bias, c->out[0], s->units, 0);
    if (st != LEANDET_OK)
        return st;
    s->hybrid = 1;
    s->asym = c->op->params.fc.asymmetric_quantize_inputs != 0;
    s->per_channel = w->quant->count > 1;
    if (s->per_channel && !s->asym)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                          "per-channel hybrid weights '%s' need asymmetric_quantize_inputs (TFLite ignores their "
                          "scales otherwise)",
                          ld_conv_tname(w));
    if (!w->is_const || !w->data)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "hybrid weights '%s' must be constant", ld_conv_tname(w));
    c->scratch_bytes = ld_hybrid_scratch_bytes(ld_shape_count(&in->shape), (size_t)s->batches);
    if (c->scratch_bytes == 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input '%s' is too large", ld_conv_tname(in));
    return LEANDET_OK;
}

static leandet_status fc_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 2, 3, 1);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0], *w = c->in[1], *bias = c->n_in > 2 ? c->in[2] : NULL;
    ld_tensor *out = c->out[0];
    const ld_fc_params *p = &c->op->params.fc;
    if (p->weights_format != 0)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "weights format %d is not supported (only DEFAULT)",
                          p->weights_format);
    if ((st = ld_check_rank(c, w, "weights", 2)) != LEANDET_OK)
        return st;
    fc_state s = { 0 };
    s.units = w->shape.d[0];
    s.depth = w->shape.d[1];
    if (s.units <= 0 || s.depth <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' are [%d, %d], expected positive sizes", ld_conv_tname(w),
                          s.units, s.depth);
    size_t count = ld_shape_count(&in->shape);
    if (in->shape.rank < 1 || count % (size_t)s.depth != 0 || count / (size_t)s.depth > INT32_MAX)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input '%s' (rank %d, %zu values) is not a whole number of rows of %d",
                          ld_conv_tname(in), in->shape.rank, count, s.depth);
    s.batches = (int)(count / (size_t)s.depth);
    if (ld_conv_is_hybrid(in, w)) {
        if ((st = hybrid_prepare(c, &s)) != LEANDET_OK)
            return st;
    } else if ((st = ld_conv_check_operands(c, in, w, bias, out, s.units, 0, 1, &s.quantized)) != LEANDET_OK) {
        return st;
    }
    if ((st = ld_conv_check_act(c, p->act, out)) != LEANDET_OK)
        return st;

    if (p->keep_num_dims) {
        if (in->shape.d[in->shape.rank - 1] != s.depth)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "keep_num_dims: input '%s' last dimension is %d, weights take %d",
                              ld_conv_tname(in), in->shape.d[in->shape.rank - 1], s.depth);
        out->shape = in->shape;
        out->shape.d[in->shape.rank - 1] = s.units;
    } else {
        out->shape.rank = 2;
        out->shape.d[0] = s.batches;
        out->shape.d[1] = s.units;
    }
    ld_act_range_float(p->act, &s.f_lo, &s.f_hi);
    if (s.quantized)
        ld_conv_quant_init(&s.q, in, w, out, p->act);

    size_t n = s.quantized ? (size_t)s.units : 0, sums = s.hybrid ? (size_t)s.units : 0;
    size_t head = (sizeof s + sizeof(double) - 1) / sizeof(double) * sizeof(double);
    size_t bytes = head + n * sizeof(double) + sums * sizeof(int32_t);
    fc_state *keep = ld_malloc(c->alloc, bytes);
    if (!keep)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of state", bytes);
    *keep = s;
    keep->scale = (double *)((char *)keep + head);
    keep->row_sums = (int32_t *)(void *)(keep->scale + n);
    for (size_t u = 0; u < n; u++)
        keep->scale[u] = ld_conv_real_scale(in, w, out, (int)u, 0);
    for (size_t u = 0; u < sums; u++) {
        const int8_t *row = (const int8_t *)w->data + u * (size_t)s.depth;
        int32_t sum = 0;
        for (size_t d = 0; d < (size_t)s.depth; d++)
            sum += row[d];
        keep->row_sums[u] = sum;
    }
    c->state = keep;
    return LEANDET_OK;
}

static void hybrid_eval(ld_op_ctx *c, const fc_state *s)
{
    const size_t depth = (size_t)s->depth, units = (size_t)s->units;
    const float *x = c->in[0]->data, *ws = c->in[1]->quant->scale;
    const float *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    const int8_t *w = c->in[1]->data;
    float *y = c->out[0]->data;
    int8_t *q;
    float *sf;
    int32_t *off;
    ld_hybrid_scratch(c->scratch, ld_shape_count(&c->in[0]->shape), (size_t)s->batches, &q, &sf, &off);
    for (size_t b = 0; b < (size_t)s->batches; b++) {
        int8_t *qb = q + b * depth;
        off[b] = 0;
        if (s->asym)
            ld_hybrid_quantize_asym(x + b * depth, depth, qb, &sf[b], &off[b]);
        else
            ld_hybrid_quantize_sym(x + b * depth, depth, qb, &sf[b]);
        if (!s->per_channel)
            sf[b] *= ws[0];
        for (size_t u = 0; u < units; u++) {
            const int8_t *wr = w + u * depth;
            uint32_t acc = 0;
            for (size_t d = 0; d < depth; d++)
                acc += (uint32_t)(wr[d] * qb[d]);
            acc -= (uint32_t)off[b] * (uint32_t)s->row_sums[u]; /* wraps as int32 */
            float scale = s->per_channel ? ws[u] * sf[b] : sf[b];
            float v = (bias ? bias[u] : 0.0f) + (float)ld_conv_wrap32(acc) * scale;
            y[b * units + u] = ld_clampf(v, s->f_lo, s->f_hi);
        }
    }
}

static leandet_status fc_eval(ld_op_ctx *c)
{
    const fc_state *s = c->state;
    const void *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    const size_t depth = (size_t)s->depth;
    if (s->hybrid) {
        hybrid_eval(c, s);
    } else if (s->quantized) {
        const uint8_t *x = c->in[0]->data, *w = c->in[1]->data;
        uint8_t *y = c->out[0]->data;
        const ld_conv_quant *q = &s->q;
        for (size_t b = 0; b < (size_t)s->batches; b++) {
            for (size_t u = 0; u < (size_t)s->units; u++) {
                const uint8_t *xr = x + b * depth, *wr = w + u * depth;
                uint32_t acc = 0;
                for (size_t d = 0; d < depth; d++)
                    acc += (uint32_t)(((xr[d] ^ q->in_flip) + q->in_off) * ((wr[d] ^ q->w_flip) + q->w_off));
                if (bias)
                    acc += (uint32_t)((const int32_t *)bias)[u];
                y[b * (size_t)s->units + u] = (uint8_t)ld_conv_fc_requant(q, acc, s->scale[u]);
            }
        }
    } else {
        const float *x = c->in[0]->data, *w = c->in[1]->data;
        float *y = c->out[0]->data;
        for (size_t b = 0; b < (size_t)s->batches; b++) {
            for (size_t u = 0; u < (size_t)s->units; u++) {
                const float *xr = x + b * depth, *wr = w + u * depth;
                float total = 0.0f;
                for (size_t d = 0; d < depth; d++)
                    total += xr[d] * wr[d];
                float bv = bias ? ((const float *)bias)[u] : 0.0f;
                y[b * (size_t)s->units + u] = ld_clampf(total + bv, s->f_lo, s->f_hi);
            }
        }
    }
    return LEANDET_OK;
}

const ld_kernel ld_ref_fully_connected[] = {
    { LD_OP_FULLY_CONNECTED, NULL, fc_prepare, fc_eval },
    LD_KERNEL_TABLE_END,
};

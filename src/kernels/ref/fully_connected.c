/* FULLY_CONNECTED reference kernel, bit-exact with TensorFlow Lite's
 * reference FullyConnected for uint8 and int8 (per-tensor weights with their
 * zero point applied, or symmetric per-channel int8 weights) and summed in
 * the same order for float32.
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
    float f_lo, f_hi;
    ld_conv_quant q;
    double *scale;       /* units entries: input * weights / output scale */
} fc_state;

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
    if ((st = ld_conv_check_operands(c, in, w, bias, out, s.units, 0, 1, &s.quantized)) != LEANDET_OK ||
        (st = ld_conv_check_act(c, p->act, out)) != LEANDET_OK)
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

    size_t n = s.quantized ? (size_t)s.units : 0;
    size_t head = (sizeof s + sizeof(double) - 1) / sizeof(double) * sizeof(double);
    fc_state *keep = ld_malloc(c->alloc, head + n * sizeof(double));
    if (!keep)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of state", head + n * sizeof(double));
    *keep = s;
    keep->scale = (double *)((char *)keep + head);
    for (size_t u = 0; u < n; u++)
        keep->scale[u] = ld_conv_real_scale(in, w, out, (int)u, 0);
    c->state = keep;
    return LEANDET_OK;
}

static leandet_status fc_eval(ld_op_ctx *c)
{
    const fc_state *s = c->state;
    const void *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    const size_t depth = (size_t)s->depth;
    if (s->quantized) {
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

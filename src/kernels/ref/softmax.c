/* SOFTMAX over the last dimension.
 *
 * float32 (reference/softmax.h): e_c = expf((x_c - max) * beta) in float,
 * summed in order, out_c = e_c / sum.
 * uint8->uint8, int8->int8: TFLite's kReference path (SoftmaxPrepare +
 * reference_ops::Softmax), gemmlowp fixed point, bit-exact:
 *   prepare: multiplier for beta * s_in * 2^26 (PreprocessSoftmaxScaling,
 *     Q5.26 differences), diff_min = -floor(31 * 2^26 / 2^left_shift).
 *   per row: d = x - max; skip d < diff_min; e = exp_on_negative_values(
 *     d rescaled to Q5.26) in Q0.31; sum of e in Q12.19; 1/sum by
 *     one_over_one_plus_x (GetReciprocal); out = (1/sum * e) >> (bits over
 *     unit + 23) + type minimum, i.e. in units of 1/256 with the type's
 *     lowest value as zero (the output quantization is not consulted for
 *     uint8; int8 must be scale 1/256, zero point -128). */
#include <float.h>
#include <math.h>

#include "kernels/fixedpoint.h"
#include "kernels/quant.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref.h"

typedef struct softmax_state {
    size_t outer, depth;
    float beta;
    int32_t mult, diff_min;
    int left_shift;
} softmax_state;

enum { SCALED_DIFF_INT_BITS = 5, ACCUM_INT_BITS = 12 };

static leandet_status prepare_quant(ld_op_ctx *c, softmax_state *s)
{
    float si, so;
    int32_t zi, zo;
    leandet_status st = ld_ew_qparams(c, c->in[0], "input 0", &si, &zi);
    if (st == LEANDET_OK)
        st = ld_ew_qparams(c, c->out[0], "output 0", &so, &zo);
    if (st != LEANDET_OK)
        return st;
    if (c->out[0]->type == LEANDET_INT8 && (zo != -128 || fabsf(so - 1.0f / 256) > 0.001f / 256))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "int8 output must have scale 1/256 and zero point -128 (has %g, %d)",
                          (double)so, (int)zo);
    double real = (double)s->beta * (double)si * (double)(1 << (31 - SCALED_DIFF_INT_BITS));
    if (real > 2147483647.0)
        real = 2147483647.0;
    if (!(real > 1.0))
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "beta %g times input scale %g is too small",
                          (double)s->beta, (double)si);
    ld_quantize_multiplier(real, &s->mult, &s->left_shift);
    /* Largest |difference| whose rescaled value still fits Q5.26. */
    s->diff_min = -(int32_t)floor(31.0 * (double)(1LL << (31 - SCALED_DIFF_INT_BITS)) / (double)(1LL << s->left_shift));
    return LEANDET_OK;
}

static leandet_status softmax_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_ew_unary_prepare(c, LD_EW_F32 | LD_EW_Q8);
    if (st != LEANDET_OK)
        return st;
    const ld_shape *sh = &c->in[0]->shape;
    if (sh->rank < 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input 0 must have rank >= 1");
    softmax_state *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    s->depth = (size_t)sh->d[sh->rank - 1];
    s->outer = s->depth ? ld_shape_count(sh) / s->depth : 0;
    s->beta = c->op->params.softmax.beta;
    if (c->in[0]->type == LEANDET_FLOAT32)
        return LEANDET_OK;
    return prepare_quant(c, s);
}

static void softmax_f32(const softmax_state *s, const float *x, float *y)
{
    for (size_t r = 0; r < s->outer; r++, x += s->depth, y += s->depth) {
        float max = -FLT_MAX; /* std::numeric_limits<float>::lowest() */
        for (size_t i = 0; i < s->depth; i++)
            max = max < x[i] ? x[i] : max;
        float sum = 0.0f;
        for (size_t i = 0; i < s->depth; i++) {
            y[i] = expf((x[i] - max) * s->beta);
            sum += y[i];
        }
        for (size_t i = 0; i < s->depth; i++)
            y[i] = y[i] / sum;
    }
}

/* exp(x - max) in Q0.31, or -1 when the difference is below diff_min. */
static int32_t exp_of_diff(const softmax_state *s, int32_t diff)
{
    if (diff < s->diff_min)
        return -1;
    const int32_t scaled = ld_mul_by_quantized_multiplier(diff, s->mult, s->left_shift);
    return ld_fp_exp_on_negative_values(scaled, SCALED_DIFF_INT_BITS);
}

static leandet_status softmax_row_q(const softmax_state *s, const uint8_t *x, uint8_t *out, int is_signed,
                                    int32_t tmin, int32_t tmax)
{
    int32_t max = tmin;
    for (size_t i = 0; i < s->depth; i++)
        max = ld_ew_load8(x, i, is_signed) > max ? ld_ew_load8(x, i, is_signed) : max;
    int32_t sum = 0; /* Q12.19 */
    for (size_t i = 0; i < s->depth; i++) {
        const int32_t e = exp_of_diff(s, ld_ew_load8(x, i, is_signed) - max);
        if (e >= 0)
            sum = ld_fp_add(sum, ld_fp_rescale(e, 0, ACCUM_INT_BITS));
    }
    int bits_over_unit;
    const int32_t inv_sum = ld_fp_reciprocal(sum, ACCUM_INT_BITS, &bits_over_unit);
    const int exponent = bits_over_unit + 31 - 8;
    if (exponent < 0 || exponent > 31)
        return LEANDET_ERR_UNSUPPORTED; /* TFLite aborts here too */
    for (size_t i = 0; i < s->depth; i++) {
        const int32_t e = exp_of_diff(s, ld_ew_load8(x, i, is_signed) - max);
        const int32_t q = e < 0 ? tmin
                                : ld_clampi(ld_rounding_divide_by_pot(ld_fp_mul(inv_sum, e), exponent) + tmin, tmin, tmax);
        out[i] = (uint8_t)(q & 0xff);
    }
    return LEANDET_OK;
}

static leandet_status softmax_eval(ld_op_ctx *c)
{
    const softmax_state *s = c->state;
    const ld_dtype t = c->in[0]->type;
    if (t == LEANDET_FLOAT32) {
        softmax_f32(s, c->in[0]->data, c->out[0]->data);
        return LEANDET_OK;
    }
    int32_t tmin, tmax;
    ld_type_range(t, &tmin, &tmax);
    const uint8_t *in = c->in[0]->data;
    uint8_t *out = c->out[0]->data;
    for (size_t r = 0; r < s->outer; r++)
        if (softmax_row_q(s, in + r * s->depth, out + r * s->depth, t == LEANDET_INT8, tmin, tmax) != LEANDET_OK)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                              "row %zu: the sum of exponentials (%zu values) overflows the fixed-point format", r,
                              s->depth);
    return LEANDET_OK;
}

const ld_kernel ld_ref_softmax[] = {
    { LD_OP_SOFTMAX, NULL, softmax_prepare, softmax_eval },
    LD_KERNEL_TABLE_END,
};

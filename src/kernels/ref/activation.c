/* RELU, RELU6, HARD_SWISH, LOGISTIC, TANH (one input) and PRELU (input, alpha).
 *
 * float32 follows TFLite's reference formulas (activations.cc, reference/
 * logistic.h, hard_swish.h; LOGISTIC with the saturation cutoffs of the TFLite
 * in ai-edge-litert 2.3.0). For uint8/int8 every unary op is a 256-entry
 * table built in prepare from exactly what TFLite's kReference path computes:
 *   RELU/RELU6:  clamp(zo + MultiplyByQuantizedMultiplier(q - zi, si/so)),
 *                range from the output quantization (QuantizedReluX).
 *   HARD_SWISH:  reference_ops::HardSwish's int16 fixed-point pipeline with
 *                the "reluish" and output multipliers of HardSwishPrepare.
 *   LOGISTIC/TANH: LUTPopulate<T>: dequantize in float, 1/(1+expf(-x)) or
 *                tanhf, roundf(y * (1/so)) + zo, clamp (LOGISTIC needs so == 1/256).
 * PRELU (uint8/int8, reference/prelu.h): x >= 0 ? x * (si/so)
 *   : x * alpha * (si*sa/so), both via MultiplyByQuantizedMultiplier with
 *   multipliers computed in float as PreluPrepare does. */
#include <math.h>
#include <string.h>

#include "kernels/fixedpoint.h"
#include "kernels/quant.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref.h"

/* ---- quantized unary maps (evaluated once per input byte) --------------- */

typedef struct relu_q {
    int32_t in_zp, out_zp, mult, lo, hi;
    int shift;
} relu_q;

static int32_t relu_map(const void *ctx, int32_t q)
{
    const relu_q *k = ctx;
    return ld_clampi(k->out_zp + ld_mul_by_quantized_multiplier(q - k->in_zp, k->mult, k->shift), k->lo, k->hi);
}

typedef struct hswish_q {
    int32_t in_zp, out_zp, lo, hi;
    int16_t out_mult, reluish_mult;  /* Q0.15 */
    int out_exp, reluish_exp;
} hswish_q;

static int16_t to_q15(int32_t m)
{
    /* DownScaleInt32ToInt16Multiplier: round the Q0.31 multiplier to Q0.15. */
    return m >= INT32_MAX - (1 << 15) ? INT16_MAX : (int16_t)((m + (1 << 15)) >> 16);
}

static int32_t hswish_map(const void *ctx, int32_t q)
{
    const hswish_q *k = ctx;
    const int16_t x = ld_wrap16(q - k->in_zp);
    const int16_t x_hires = ld_wrap16(x * (1 << 7));
    const int16_t x_preshift_out = ld_srdhm16(x_hires, k->out_mult);
    /* "reluish" = clamp((x + 3) / 6, 0, 1) in Q0.15, via x/3 saturated to [-1, 1]. */
    int16_t r = x_hires;
    if (k->reluish_exp > 0)
        r = ld_sat_lshift16(r, k->reluish_exp - 1);
    r = ld_srdhm16(r, k->reluish_mult);
    if (k->reluish_exp > 0)
        r = ld_sat_lshift16(r, 1);
    if (k->reluish_exp < 0)
        r = ld_rdivpot16(r, -k->reluish_exp);
    r = ld_wrap16((r + (1 << 15)) >> 1);
    const int16_t preshift = ld_sdhm16(r, x_preshift_out);
    const int16_t y = ld_wrap16(ld_rdivpot16(preshift, -k->out_exp) + k->out_zp);
    return ld_clampi(y, k->lo, k->hi);
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* ---- unary prepare / eval ------------------------------------------------ */

static leandet_status unary_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_ew_unary_prepare(c, LD_EW_F32 | LD_EW_Q8);
    if (st != LEANDET_OK || c->in[0]->type == LEANDET_FLOAT32)
        return st;
    const ld_tensor *in = c->in[0], *out = c->out[0];
    const ld_dtype t = in->type;
    float si, so;
    int32_t zi, zo, tmin, tmax;
    st = ld_ew_qparams(c, in, "input 0", &si, &zi);
    if (st == LEANDET_OK)
        st = ld_ew_qparams(c, out, "output 0", &so, &zo);
    if (st != LEANDET_OK)
        return st;
    ld_type_range(t, &tmin, &tmax);
    uint8_t *lut = ld_ew_state(c, 256);
    if (!lut)
        return LEANDET_ERR_NO_MEMORY;

    switch (c->op->builtin) {
    case LD_OP_RELU:
    case LD_OP_RELU6: {
        relu_q k = { zi, zo, 0, 0, 0, 0 };
        const float real = si / so; /* float division, as ReluPrepare */
        ld_quantize_multiplier((double)real, &k.mult, &k.shift);
        ld_act_range_quant(c->op->builtin == LD_OP_RELU ? LD_ACT_RELU : LD_ACT_RELU6, so, zo, tmin, tmax, &k.lo, &k.hi);
        ld_ew_lut_build(lut, t, relu_map, &k);
        break;
    }
    case LD_OP_HARD_SWISH: {
        hswish_q k = { zi, zo, tmin, tmax, 0, 0, 0, 0 };
        const float hires_scale = (1.0f / 128.0f) * si;
        const float out_real = hires_scale / so;
        const float reluish_real = hires_scale / (3.0f / 32768.0f);
        int32_t m;
        ld_quantize_multiplier((double)out_real, &m, &k.out_exp);
        k.out_mult = to_q15(m);
        if (k.out_exp > 0)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "output scale %g is too small for input scale %g",
                              (double)so, (double)si);
        ld_quantize_multiplier((double)reluish_real, &m, &k.reluish_exp);
        k.reluish_mult = to_q15(m);
        if (k.reluish_exp > 30)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input scale %g is too large", (double)si);
        ld_ew_lut_build(lut, t, hswish_map, &k);
        break;
    }
    case LD_OP_LOGISTIC:
        if ((double)so != 1.0 / 256)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "%s output scale is %g, expected 1/256",
                              leandet_dtype_name(t), (double)so);
        ld_ew_lut_from_float(lut, t, si, zi, so, zo, sigmoidf);
        break;
    default: /* TANH */
        ld_ew_lut_from_float(lut, t, si, zi, so, zo, tanhf);
        break;
    }
    return LEANDET_OK;
}

static float relu6f(float x) { return x > 0.0f ? (x > 6.0f ? 6.0f : x) : 0.0f; }

/* The float reference in the TFLite of ai-edge-litert 2.3.0: saturate above
 * 16.619..., exp(x) below -9 (newer TFLite clamps to +-100 instead). */
static float logisticf(float x)
{
    if (x > 16.619047164916992188f)
        return 1.0f;
    if (x < -9.0f)
        return expf(x);
    return 1.0f / (1.0f + expf(-x));
}

static float hard_swishf(float x)
{
    const float r = x + 3.0f;
    const float relu6 = r > 0.0f ? (r < 6.0f ? r : 6.0f) : 0.0f;
    return x * relu6 / 6.0f;
}

static leandet_status unary_eval(ld_op_ctx *c)
{
    const size_t n = ld_shape_count(&c->in[0]->shape);
    if (c->in[0]->type != LEANDET_FLOAT32) {
        ld_ew_lut_apply(c->state, c->in[0]->data, c->out[0]->data, n);
        return LEANDET_OK;
    }
    const float *x = c->in[0]->data;
    float *y = c->out[0]->data;
    switch (c->op->builtin) {
    case LD_OP_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case LD_OP_RELU6:
        for (size_t i = 0; i < n; i++)
            y[i] = relu6f(x[i]);
        break;
    case LD_OP_HARD_SWISH:
        for (size_t i = 0; i < n; i++)
            y[i] = hard_swishf(x[i]);
        break;
    case LD_OP_LOGISTIC:
        for (size_t i = 0; i < n; i++)
            y[i] = logisticf(x[i]);
        break;
    default: /* TANH */
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    }
    return LEANDET_OK;
}

/* ---- PRELU -------------------------------------------------------------- */

typedef struct prelu_state {
    ld_bcast plan;
    int32_t in_offset, alpha_offset, out_offset, lo, hi;
    int32_t mult_pos, mult_neg;
    int shift_pos, shift_neg;
    int is_signed;
} prelu_state;

static leandet_status prelu_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 2, 2, 1);
    if (st == LEANDET_OK)
        st = ld_ew_check_type(c, c->in[0], "input 0", LD_EW_F32 | LD_EW_Q8);
    if (st == LEANDET_OK)
        st = ld_check_same_type(c, c->in[0], c->in[1], "input 0 and alpha");
    if (st == LEANDET_OK)
        st = ld_check_same_type(c, c->in[0], c->out[0], "input 0 and output 0");
    if (st != LEANDET_OK)
        return st;
    prelu_state *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    ld_shape out;
    st = ld_bcast_prepare(c, c->in[0], c->in[1], &out, &s->plan);
    if (st != LEANDET_OK)
        return st;
    const ld_shape *in = &c->in[0]->shape;
    if (!ld_shape_equal(&out, in))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "alpha would broadcast the output beyond the input shape");
    c->out[0]->shape = out;
    if (c->in[0]->type == LEANDET_FLOAT32)
        return LEANDET_OK;

    float si, sa, so;
    int32_t zi, za, zo;
    st = ld_ew_qparams(c, c->in[0], "input 0", &si, &zi);
    if (st == LEANDET_OK)
        st = ld_ew_qparams(c, c->in[1], "alpha", &sa, &za);
    if (st == LEANDET_OK)
        st = ld_ew_qparams(c, c->out[0], "output 0", &so, &zo);
    if (st != LEANDET_OK)
        return st;
    s->is_signed = c->in[0]->type == LEANDET_INT8;
    s->in_offset = -zi;
    s->alpha_offset = -za;
    s->out_offset = zo;
    ld_type_range(c->out[0]->type, &s->lo, &s->hi);
    const float real_pos = si / so, real_neg = si * sa / so; /* float, as PreluPrepare */
    ld_quantize_multiplier((double)real_pos, &s->mult_pos, &s->shift_pos);
    ld_quantize_multiplier((double)real_neg, &s->mult_neg, &s->shift_neg);
    return LEANDET_OK;
}

static int32_t prelu_q(const prelu_state *s, int32_t x, int32_t alpha)
{
    const int32_t v = x + s->in_offset;
    const int32_t y = v >= 0 ? ld_mul_by_quantized_multiplier(v, s->mult_pos, s->shift_pos)
                             : ld_mul_by_quantized_multiplier(v * (alpha + s->alpha_offset), s->mult_neg, s->shift_neg);
    return ld_clampi(y + s->out_offset, s->lo, s->hi);
}

static void prelu_row_f32(const void *st, const void *a, size_t sa, const void *b, size_t sb, void *out, size_t n)
{
    (void)st;
    const float *x = a, *alpha = b;
    float *o = out;
    for (size_t i = 0; i < n; i++)
        o[i] = x[i * sa] >= 0.0f ? x[i * sa] : x[i * sa] * alpha[i * sb];
}

static void prelu_row_q8(const void *st, const void *a, size_t sa, const void *b, size_t sb, void *out, size_t n)
{
    const prelu_state *s = st;
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++)
        o[i] = (uint8_t)(prelu_q(s, ld_ew_load8(a, i * sa, s->is_signed), ld_ew_load8(b, i * sb, s->is_signed)) & 0xff);
}

static leandet_status prelu_eval(ld_op_ctx *c)
{
    const prelu_state *s = c->state;
    const ld_dtype t = c->in[0]->type;
    ld_bcast_run(&s->plan, leandet_dtype_size(t), c->in[0]->data, c->in[1]->data, c->out[0]->data,
                 t == LEANDET_FLOAT32 ? prelu_row_f32 : prelu_row_q8, s);
    return LEANDET_OK;
}

const ld_kernel ld_ref_activation[] = {
    { LD_OP_RELU, NULL, unary_prepare, unary_eval },
    { LD_OP_RELU6, NULL, unary_prepare, unary_eval },
    { LD_OP_HARD_SWISH, NULL, unary_prepare, unary_eval },
    { LD_OP_LOGISTIC, NULL, unary_prepare, unary_eval },
    { LD_OP_TANH, NULL, unary_prepare, unary_eval },
    { LD_OP_PRELU, NULL, prelu_prepare, prelu_eval },
    LD_KERNEL_TABLE_END,
};

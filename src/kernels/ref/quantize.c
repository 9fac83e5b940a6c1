/* QUANTIZE and DEQUANTIZE, bit-exact with TFLite's reference kernels
 * (quantize.cc, dequantize.h, reference/quantize.h, requantize.h):
 *   QUANTIZE float32 -> uint8/int8: q = roundf(x / s) + z (round half away
 *     from zero, division in float), clamped; per tensor or per channel.
 *   QUANTIZE uint8/int8 -> uint8/int8 (requantize): clamp(z_out +
 *     MultiplyByQuantizedMultiplier(q - z_in, s_in / s_out)), the ratio taken
 *     in double. Run as a 256-entry table.
 *   DEQUANTIZE uint8/int8 -> float32: s * (q - z), per tensor or per channel.
 *   DEQUANTIZE float16 -> float32: exact IEEE half to single conversion.
 * Deliberate difference: a float whose quotient x / s does not fit int32
 * saturates (NaN gives the zero point), where TFLite's float->int cast is
 * undefined. */
#include <math.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref.h"

/* Elements seen as [outer][channels][inner]; channel c uses scale[c], zp[c].
 * Per-tensor quantization is the case channels == 1. */
typedef struct qaxis {
    size_t outer, channels, inner;
    const float *scale;
    const int32_t *zp;
} qaxis;

typedef struct quant_state {
    qaxis ax;
    uint8_t lut[256];            /* requantize */
} quant_state;

static const char *tname(const ld_tensor *t) { return t->desc ? t->desc->name : ""; }

/* Per-tensor or per-channel quantization of the 8-bit tensor `t`. */
static leandet_status get_axis(ld_op_ctx *c, const ld_tensor *t, const char *what, qaxis *ax)
{
    const ld_quant *q = t->quant;
    const size_t count = ld_shape_count(&t->shape);
    if (!q || q->count <= 1) {
        float s;
        int32_t z;
        leandet_status st = ld_ew_qparams(c, t, what, &s, &z);
        if (st != LEANDET_OK)
            return st;
        *ax = (qaxis){ 1, 1, count, q->scale, q->zero_point };
        return LEANDET_OK;
    }
    const ld_shape *sh = &t->shape;
    if (q->axis < 0 || q->axis >= sh->rank || sh->d[q->axis] != q->count)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s' has %d quantization scales for axis %d of a rank-%d tensor",
                          what, tname(t), q->count, q->axis, sh->rank);
    int32_t lo, hi;
    ld_type_range(t->type, &lo, &hi);
    for (int i = 0; i < q->count; i++) {
        if (!(q->scale[i] > 0.0f) || !isfinite(q->scale[i]) || q->zero_point[i] < lo || q->zero_point[i] > hi)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s' channel %d has scale %g and zero point %d", what, tname(t),
                              i, (double)q->scale[i], (int)q->zero_point[i]);
    }
    size_t inner = 1;
    for (int i = q->axis + 1; i < sh->rank; i++)
        inner *= (size_t)sh->d[i];
    const size_t channels = (size_t)q->count;
    *ax = (qaxis){ inner ? count / (channels * inner) : 0, channels, inner, q->scale, q->zero_point };
    return LEANDET_OK;
}

/* ---- QUANTIZE ------------------------------------------------------------ */

typedef struct requant_ctx {
    int32_t in_zp, out_zp, mult, lo, hi;
    int shift;
} requant_ctx;

static int32_t requant_map(const void *ctx, int32_t q)
{
    const requant_ctx *k = ctx;
    return ld_clampi(ld_mul_by_quantized_multiplier(q - k->in_zp, k->mult, k->shift) + k->out_zp, k->lo, k->hi);
}

static leandet_status quantize_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 1, 1, 1);
    if (st == LEANDET_OK)
        st = ld_ew_check_type(c, c->in[0], "input 0", LD_EW_F32 | LD_EW_Q8);
    if (st == LEANDET_OK)
        st = ld_ew_check_type(c, c->out[0], "output 0", LD_EW_Q8);
    if (st != LEANDET_OK)
        return st;
    quant_state *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    const ld_tensor *in = c->in[0], *out = c->out[0];
    c->out[0]->shape = in->shape;
    if (in->type == LEANDET_FLOAT32)
        return get_axis(c, out, "output 0", &s->ax);

    float si, so;
    int32_t zi, zo;
    st = ld_ew_qparams(c, in, "input 0", &si, &zi);
    if (st == LEANDET_OK)
        st = ld_ew_qparams(c, out, "output 0", &so, &zo);
    if (st != LEANDET_OK)
        return st;
    requant_ctx k = { zi, zo, 0, 0, 0, 0 };
    ld_quantize_multiplier((double)si / (double)so, &k.mult, &k.shift);
    ld_type_range(out->type, &k.lo, &k.hi);
    ld_ew_lut_build(s->lut, in->type, requant_map, &k);
    return LEANDET_OK;
}

/* roundf(x / scale) + zp in the range [lo, hi]. */
static int32_t quantize_one(float x, float scale, int32_t zp, int32_t lo, int32_t hi)
{
    const float r = roundf(x / scale);
    int64_t v;
    if (isnan(r))
        v = 0;
    else if (r >= 2147483648.0f)
        v = INT32_MAX;
    else if (r < -2147483648.0f)
        v = INT32_MIN;
    else
        v = (int32_t)r;
    v += zp;
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

static leandet_status quantize_eval(ld_op_ctx *c)
{
    const quant_state *s = c->state;
    const ld_tensor *in = c->in[0], *out = c->out[0];
    if (in->type != LEANDET_FLOAT32) {
        ld_ew_lut_apply(s->lut, in->data, out->data, ld_shape_count(&in->shape));
        return LEANDET_OK;
    }
    int32_t lo, hi;
    ld_type_range(out->type, &lo, &hi);
    const float *x = in->data;
    uint8_t *y = out->data;
    const qaxis *ax = &s->ax;
    size_t i = 0;
    for (size_t o = 0; o < ax->outer; o++)
        for (size_t ch = 0; ch < ax->channels; ch++)
            for (size_t k = 0; k < ax->inner; k++, i++)
                y[i] = (uint8_t)(quantize_one(x[i], ax->scale[ch], ax->zp[ch], lo, hi) & 0xff);
    return LEANDET_OK;
}

/* ---- DEQUANTIZE ---------------------------------------------------------- */

/* IEEE 754 binary16 -> binary32, exact (subnormals, infinities, NaN payloads). */
static float half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: normalize */
        int e = 113;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        bits = sign | ((uint32_t)e << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Dequantize all of `in` into y. */
static void dequantize_run(const ld_tensor *in, const qaxis *ax, float *y)
{
    if (in->type == LEANDET_FLOAT16) {
        const uint16_t *h = in->data;
        const size_t n = ld_shape_count(&in->shape);
        for (size_t i = 0; i < n; i++)
            y[i] = half_to_float(h[i]);
        return;
    }
    const uint8_t *x = in->data;
    const int is_signed = in->type == LEANDET_INT8;
    size_t i = 0;
    for (size_t o = 0; o < ax->outer; o++)
        for (size_t ch = 0; ch < ax->channels; ch++)
            for (size_t k = 0; k < ax->inner; k++, i++) {
                const int32_t q = ld_ew_load8(x, i, is_signed);
                /* exact product in double, one rounding, as TFLite */
                y[i] = (float)((double)ax->scale[ch] * (double)(q - ax->zp[ch]));
            }
}

/* Constant input (float16 or 8-bit weights): the output is computed once
 * here into c->state and becomes a constant tensor, so the session neither
 * plans nor evaluates it and consumers see constant float weights they can
 * pack. The bytes belong to this session (a model-level cache shared by
 * sessions would save them per extra session). */
static leandet_status dequantize_fold(ld_op_ctx *c, const qaxis *ax)
{
    ld_tensor *out = c->out[0];
    const size_t n = ld_shape_count(&c->in[0]->shape);
    if (n > SIZE_MAX / sizeof(float))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input 0 '%s' has too many elements", tname(c->in[0]));
    float *y = ld_malloc(c->alloc, n ? n * sizeof(float) : 1);
    if (!y)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes to fold constant input 0 '%s'",
                          n * sizeof(float), tname(c->in[0]));
    dequantize_run(c->in[0], ax, y);
    c->state = y;
    out->data = y;
    out->bytes = n * sizeof(float);
    out->is_const = 1;
    return LEANDET_OK;
}

static leandet_status dequantize_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 1, 1, 1);
    if (st == LEANDET_OK)
        st = ld_ew_check_type(c, c->in[0], "input 0", LD_EW_BIT(LEANDET_FLOAT16) | LD_EW_Q8);
    if (st == LEANDET_OK)
        st = ld_ew_check_type(c, c->out[0], "output 0", LD_EW_F32);
    if (st != LEANDET_OK)
        return st;
    c->out[0]->shape = c->in[0]->shape;
    qaxis ax = { 0 };
    if (c->in[0]->type != LEANDET_FLOAT16 && (st = get_axis(c, c->in[0], "input 0", &ax)) != LEANDET_OK)
        return st;
    if (c->in[0]->is_const && c->in[0]->data)
        return dequantize_fold(c, &ax);
    if (c->in[0]->type == LEANDET_FLOAT16)
        return LEANDET_OK;
    quant_state *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    s->ax = ax;
    return LEANDET_OK;
}

static leandet_status dequantize_eval(ld_op_ctx *c)
{
    const quant_state *s = c->state;
    dequantize_run(c->in[0], s ? &s->ax : NULL, c->out[0]->data);
    return LEANDET_OK;
}

const ld_kernel ld_ref_quantize[] = {
    { LD_OP_QUANTIZE, NULL, quantize_prepare, quantize_eval },
    { LD_OP_DEQUANTIZE, NULL, dequantize_prepare, dequantize_eval },
    LD_KERNEL_TABLE_END,
};

#include "kernels/ref/conv_quant.h"

#include <math.h>
#include <string.h>

leandet_status ld_conv_check_act(ld_op_ctx *c, ld_activation act, const ld_tensor *out)
{
    if (act != LD_ACT_NONE && act != LD_ACT_RELU && act != LD_ACT_RELU6 && act != LD_ACT_RELU_N1_TO_1)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                          "fused activation %d is not supported (NONE, RELU, RELU6, RELU_N1_TO_1 are)", (int)act);
    /* The clamp bounds are zero_point + round(6 / scale): keep them in int32. */
    if (act != LD_ACT_NONE && (out->type == LEANDET_UINT8 || out->type == LEANDET_INT8) && out->quant &&
        out->quant->count > 0 && !(6.0f / out->quant->scale[0] < 1e9f))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "output '%s' scale %g is too small for a fused activation",
                          ld_conv_tname(out), (double)out->quant->scale[0]);
    return LEANDET_OK;
}

static int scale_ok(float s)
{
    return s > 0.0f && isfinite(s);
}

/* Input/output: per-tensor scale and a zero point inside the type's range. */
static leandet_status check_activation_quant(ld_op_ctx *c, const ld_tensor *t, const char *what)
{
    leandet_status st = ld_check_quantized(c, t, what);
    if (st != LEANDET_OK)
        return st;
    int32_t lo, hi;
    ld_type_range(t->type, &lo, &hi);
    if (!scale_ok(t->quant->scale[0]) || t->quant->zero_point[0] < lo || t->quant->zero_point[0] > hi)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s': scale %g / zero point %d invalid for %s", what,
                          ld_conv_tname(t), (double)t->quant->scale[0], (int)t->quant->zero_point[0],
                          leandet_dtype_name(t->type));
    return LEANDET_OK;
}

static leandet_status check_weights_quant(ld_op_ctx *c, const ld_tensor *w, int channels, int w_axis, int allow_w_zp)
{
    const ld_quant *q = w->quant;
    if (!q || q->count < 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' are %s without quantization parameters", ld_conv_tname(w),
                          leandet_dtype_name(w->type));
    if (q->count != 1 && q->count != channels)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' have %d scales, expected 1 or %d (output channels)",
                          ld_conv_tname(w), q->count, channels);
    if (q->count > 1 && w->type != LEANDET_INT8)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "weights '%s': per-channel quantization needs int8, not %s",
                          ld_conv_tname(w), leandet_dtype_name(w->type));
    if (q->count > 1 && q->axis != w_axis)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' are quantized along dimension %d, expected %d",
                          ld_conv_tname(w), q->axis, w_axis);
    int32_t lo, hi;
    ld_type_range(w->type, &lo, &hi);
    for (int i = 0; i < q->count; i++) {
        if (!scale_ok(q->scale[i]))
            return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' scale %d is %g, expected > 0", ld_conv_tname(w), i,
                              (double)q->scale[i]);
        int32_t zp = q->zero_point[i];
        if (zp < lo || zp > hi)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' zero point %d is outside %s", ld_conv_tname(w),
                              (int)zp, leandet_dtype_name(w->type));
        /* TFLite's int8 kernels assume symmetric weights (CONV_2D refuses
         * others, DEPTHWISE_CONV_2D silently ignores them); only its per-tensor
         * FULLY_CONNECTED applies the zero point. */
        if (w->type == LEANDET_INT8 && zp != 0 && !(allow_w_zp && q->count == 1))
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "int8 weights '%s' have zero point %d; only 0 is supported",
                              ld_conv_tname(w), (int)zp);
    }
    return LEANDET_OK;
}

static leandet_status check_bias_quant(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *bias,
                                       const ld_tensor *out)
{
    const ld_quant *q = bias->quant;
    if (!q || q->count < 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "bias '%s' has no quantization parameters", ld_conv_tname(bias));
    for (int i = 0; i < q->count; i++)
        if (q->zero_point[i] != 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "bias '%s' zero point %d, expected 0", ld_conv_tname(bias),
                              (int)q->zero_point[i]);
    if (w->quant->count == 1) {
        /* As TFLite's GetQuantizedConvolutionMultipler: the kernel adds the
         * bias as if its scale were input_scale * weights_scale. */
        double prod = (double)in->quant->scale[0] * (double)w->quant->scale[0];
        double diff = fabs(prod - (double)q->scale[0]);
        if (!(diff / (double)out->quant->scale[0] <= 0.02))
            return ld_op_fail(c, LEANDET_ERR_MODEL,
                              "bias '%s' scale %g does not match input scale * weights scale %g", ld_conv_tname(bias),
                              (double)q->scale[0], prod);
    }
    return LEANDET_OK;
}

static leandet_status check_types(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *out)
{
    if (in->type != LEANDET_FLOAT32 && in->type != LEANDET_UINT8 && in->type != LEANDET_INT8)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input '%s' is %s, expected float32/uint8/int8",
                          ld_conv_tname(in), leandet_dtype_name(in->type));
    if (out->type != in->type)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "output '%s' is %s but input '%s' is %s", ld_conv_tname(out),
                          leandet_dtype_name(out->type), ld_conv_tname(in), leandet_dtype_name(in->type));
    if (in->type == LEANDET_FLOAT32 && (w->type == LEANDET_UINT8 || w->type == LEANDET_INT8))
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                          "weights '%s' are %s with float32 activations: "
                          "dynamic-range (hybrid) quantization is not supported",
                          ld_conv_tname(w), leandet_dtype_name(w->type));
    if (w->type != in->type)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "weights '%s' are %s with %s activations, expected %s",
                          ld_conv_tname(w), leandet_dtype_name(w->type), leandet_dtype_name(in->type),
                          leandet_dtype_name(in->type));
    return LEANDET_OK;
}

leandet_status ld_conv_check_operands(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *bias,
                                      const ld_tensor *out, int channels, int w_axis, int allow_w_zp,
                                      int *quantized)
{
    leandet_status st = check_types(c, in, w, out);
    if (st != LEANDET_OK)
        return st;
    int q8 = in->type != LEANDET_FLOAT32;
    if (bias) {
        ld_dtype want = q8 ? LEANDET_INT32 : LEANDET_FLOAT32;
        if (bias->type != want)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "bias '%s' is %s, expected %s", ld_conv_tname(bias),
                              leandet_dtype_name(bias->type), leandet_dtype_name(want));
        size_t n = ld_shape_count(&bias->shape);
        if (n != (size_t)channels)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "bias '%s' has %zu values, expected %d (output channels)",
                              ld_conv_tname(bias), n, channels);
    }
    if (q8) {
        if ((st = check_activation_quant(c, in, "input")) != LEANDET_OK ||
            (st = check_activation_quant(c, out, "output")) != LEANDET_OK ||
            (st = check_weights_quant(c, w, channels, w_axis, allow_w_zp)) != LEANDET_OK)
            return st;
        if (bias && (st = check_bias_quant(c, in, w, bias, out)) != LEANDET_OK)
            return st;
    }
    *quantized = q8;
    return LEANDET_OK;
}

void ld_conv_quant_init(ld_conv_quant *q, const ld_tensor *in, const ld_tensor *w, const ld_tensor *out,
                        ld_activation act)
{
    ld_conv_q8_view(in->type, in->quant->zero_point[0], &q->in_flip, &q->in_off);
    /* Per-channel weights are symmetric (checked), so zero_point[0] stands for all. */
    ld_conv_q8_view(w->type, w->quant->zero_point[0], &q->w_flip, &q->w_off);
    q->out_zp = out->quant->zero_point[0];
    int32_t qmin, qmax;
    ld_type_range(out->type, &qmin, &qmax);
    ld_act_range_quant(act, out->quant->scale[0], q->out_zp, qmin, qmax, &q->act_min, &q->act_max);
}

double ld_conv_real_scale(const ld_tensor *in, const ld_tensor *w, const ld_tensor *out, int ch, int float_product)
{
    float ws = w->quant->count > 1 ? w->quant->scale[ch] : w->quant->scale[0];
    float is = in->quant->scale[0], os = out->quant->scale[0];
    if (float_product)
        return (double)(is * ws) / (double)os;
    return (double)is * (double)ws / (double)os;
}

leandet_status ld_conv_multipliers(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *out,
                                   int channels, int float_product, int32_t *mult, int32_t *shift)
{
    for (int ch = 0; ch < channels; ch++) {
        double real = ld_conv_real_scale(in, w, out, ch, float_product);
        int sh;
        ld_quantize_multiplier(real, &mult[ch], &sh);
        if (sh > 31)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "requantization scale %g of output channel %d is too large", real,
                              ch);
        shift[ch] = sh;
    }
    return LEANDET_OK;
}

/* ---- hybrid operands ------------------------------------------------------ */

leandet_status ld_conv_check_hybrid(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *bias,
                                    const ld_tensor *out, int channels, int w_axis)
{
    if (w->type != LEANDET_INT8)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                          "weights '%s' are %s with float32 activations: hybrid operators need int8 weights",
                          ld_conv_tname(w), leandet_dtype_name(w->type));
    if (out->type != LEANDET_FLOAT32)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "output '%s' is %s but input '%s' is float32", ld_conv_tname(out),
                          leandet_dtype_name(out->type), ld_conv_tname(in));
    if (bias) {
        if (bias->type != LEANDET_FLOAT32)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "bias '%s' is %s, expected float32 (hybrid operator)",
                              ld_conv_tname(bias), leandet_dtype_name(bias->type));
        size_t n = ld_shape_count(&bias->shape);
        if (n != (size_t)channels)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "bias '%s' has %zu values, expected %d (output channels)",
                              ld_conv_tname(bias), n, channels);
    }
    if (!w->quant || w->quant->count < 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "hybrid weights '%s' are int8 without quantization parameters",
                          ld_conv_tname(w));
    /* Symmetric weights only: TensorFlow Lite's hybrid kernels ignore zero points. */
    return check_weights_quant(c, w, channels, w_axis, 0);
}

/* TensorFlow Lite's builds for x86 and ARM run the NEON versions of these
 * quantizers (through NEON_2_SSE on x86), whose details differ from the
 * portable C++ ones and show in the results: the range is subtracted in
 * float, and whole groups of 8 values round by adding +-0.5 in float and
 * truncating (the last size % 8 values use round()), before the offset is
 * added. */
void ld_hybrid_min_max(const float *x, size_t n, float *lo, float *hi)
{
    float a = n ? x[0] : 0.0f, b = a;
    for (size_t i = 1; i < n; i++) {
        a = x[i] < a ? x[i] : a;
        b = x[i] > b ? x[i] : b;
    }
    *lo = a;
    *hi = b;
}

static int8_t clamp8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

int ld_hybrid_asym_params(float lo, float hi, float *scale, int32_t *offset, float *inv)
{
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    if (lo == hi) {
        *scale = 1.0f;
        *offset = 0;
        *inv = 0.0f;
        return 0;
    }
    /* The zero point is chosen in double from whichever end of the range
     * gives the smaller error, then nudged into [-128, 127]. */
    const double qmin = -128.0, qmax = 127.0;
    const double s = (double)(hi - lo) / (qmax - qmin);
    const double zp_min = qmin - lo / s, zp_max = qmax - hi / s;
    const double zp = fabs(qmin) + fabs(lo / s) < fabs(qmax) + fabs(hi / s) ? zp_min : zp_max;
    *offset = zp <= qmin ? -128 : zp >= qmax ? 127 : (int32_t)round(zp);
    *scale = (float)s;
    *inv = (float)(1.0 / (double)*scale);
    return 1;
}

int ld_hybrid_sym_params(float lo, float hi, float *scale, float *inv)
{
    const float range = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
    if (range == 0.0f) {
        *scale = 1.0f;
        *inv = 0.0f;
        return 0;
    }
    *scale = range / 127.0f;
    *inv = 127.0f / range;
    return 1;
}

void ld_hybrid_round(const float *x, size_t from, size_t n, float inv, int32_t off, int32_t qlo, int8_t *q)
{
    const size_t body = n & ~(size_t)(LD_HYBRID_GROUP - 1);
    for (size_t i = from; i < n; i++) {
        float t = x[i] * inv;
        q[i] = clamp8(off + (i < body ? ld_hybrid_neon_round(t) : (int32_t)roundf(t)), qlo, 127);
    }
}

void ld_hybrid_quantize_asym(const float *x, size_t n, int8_t *q, float *scale, int32_t *offset)
{
    float lo, hi, inv;
    ld_hybrid_min_max(x, n, &lo, &hi);
    if (!ld_hybrid_asym_params(lo, hi, scale, offset, &inv)) {
        memset(q, 0, n);
        return;
    }
    ld_hybrid_round(x, 0, n, inv, *offset, -128, q);
}

void ld_hybrid_quantize_sym(const float *x, size_t n, int8_t *q, float *scale)
{
    float lo, hi, inv;
    ld_hybrid_min_max(x, n, &lo, &hi);
    if (!ld_hybrid_sym_params(lo, hi, scale, &inv)) {
        memset(q, 0, n);
        return;
    }
    ld_hybrid_round(x, 0, n, inv, 0, -127, q);
}

#define HYBRID_ALIGN 8

size_t ld_hybrid_scratch_bytes(size_t values, size_t batches)
{
    if (values > SIZE_MAX / 2 || batches > SIZE_MAX / 16)
        return 0;
    return (values + HYBRID_ALIGN - 1) / HYBRID_ALIGN * HYBRID_ALIGN + batches * (sizeof(float) + sizeof(int32_t));
}

void ld_hybrid_scratch(void *scratch, size_t values, size_t batches, int8_t **q, float **scale, int32_t **offset)
{
    uint8_t *p = scratch;
    *q = (int8_t *)p;
    *scale = (float *)(void *)(p + (values + HYBRID_ALIGN - 1) / HYBRID_ALIGN * HYBRID_ALIGN);
    *offset = (int32_t *)(void *)(*scale + batches);
}

int ld_hybrid_conv_per_channel(const ld_tensor *w, int depthwise, int grouped)
{
    const ld_quant *q = w->quant;
    int distinct = 0;
    for (int i = 1; i < q->count; i++)
        distinct |= q->scale[i] != q->scale[0];
    return depthwise || distinct || grouped;
}

static const ld_hybrid_ops ref_ops = { ld_hybrid_min_max, ld_hybrid_round };

void ld_hybrid_conv_quantize(const float *x, size_t per, size_t batches, int per_channel, float w_scale,
                             void *scratch, const ld_hybrid_ops *ops)
{
    if (!ops)
        ops = &ref_ops;
    int8_t *q;
    float *scale;
    int32_t *offset;
    ld_hybrid_scratch(scratch, per * batches, batches, &q, &scale, &offset);
    for (size_t b = 0; b < batches; b++) {
        const float *xb = x + b * per;
        int8_t *qb = q + b * per;
        float lo, hi, inv;
        ops->min_max(xb, per, &lo, &hi);
        int any = per_channel ? ld_hybrid_asym_params(lo, hi, &scale[b], &offset[b], &inv)
                              : ld_hybrid_sym_params(lo, hi, &scale[b], &inv);
        if (!per_channel)
            offset[b] = 0;
        if (any)
            ops->round(xb, 0, per, inv, offset[b], per_channel ? -128 : -127, qb);
        else
            memset(qb, 0, per);
        if (!per_channel)
            scale[b] *= w_scale;
    }
}

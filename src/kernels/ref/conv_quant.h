/* Operand checks and quantization parameters shared by the weighted ops
 * (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) and the 8-bit pools.
 *
 * One integer code path serves uint8 and int8: a byte b of an int8 tensor
 * read as (b ^ 0x80) is value + 128, so "(byte ^ flip) + off" with
 * flip = 0x80 and off = -zero_point - 128 gives value - zero_point exactly as
 * for uint8 with flip = 0 and off = -zero_point. The integer products and
 * sums are then the very ones TFLite's reference kernels form. */
#ifndef LD_KERNELS_REF_CONV_QUANT_H
#define LD_KERNELS_REF_CONV_QUANT_H

#include <math.h>
#include <stdint.h>

#include "kernels/kernel.h"
#include "kernels/quant.h"

typedef struct ld_conv_quant {
    uint8_t in_flip, w_flip;     /* 0x80 for int8, 0 for uint8 */
    int32_t in_off, w_off;       /* (byte ^ flip) + off == value - zero point */
    int32_t out_zp;
    int32_t act_min, act_max;    /* fused activation range in output units */
} ld_conv_quant;

static inline const char *ld_conv_tname(const ld_tensor *t)
{
    return t && t->desc ? t->desc->name : "";
}

/* Flip and offset reading 8-bit tensor bytes of type t with zero point zp. */
static inline void ld_conv_q8_view(ld_dtype t, int32_t zp, uint8_t *flip, int32_t *off)
{
    *flip = t == LEANDET_INT8 ? 0x80 : 0;
    *off = -zp - (t == LEANDET_INT8 ? 128 : 0);
}

/* Only the clamping activations can be fused into these ops; for a
 * quantized output the clamp bounds must be representable. */
leandet_status ld_conv_check_act(ld_op_ctx *c, ld_activation act, const ld_tensor *out);

/* Check the operands of a weighted op: float32 throughout, or uint8/int8
 * activations with weights of the same type and an int32 bias; channel
 * counts (bias holds `channels` values; per-channel weight scales lie along
 * w_axis and number `channels`); quantization present and sane. int8 weights
 * must have zero points 0 unless allow_w_zp (FULLY_CONNECTED per tensor,
 * where TFLite applies the weights' zero point). Float activations with
 * 8-bit weights (dynamic-range "hybrid" models) are refused here: kernels
 * that run them test ld_conv_is_hybrid first and use ld_conv_check_hybrid.
 * Sets *quantized. */
leandet_status ld_conv_check_operands(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *bias,
                                      const ld_tensor *out, int channels, int w_axis, int allow_w_zp,
                                      int *quantized);

/* Offsets and activation range of checked 8-bit operands. */
void ld_conv_quant_init(ld_conv_quant *q, const ld_tensor *in, const ld_tensor *w, const ld_tensor *out,
                        ld_activation act);

/* in_scale * w_scale[ch] / out_scale in double. TFLite's uint8 convolutions
 * take the legacy route that multiplies the two scales in float first
 * (GetQuantizedConvolutionMultipler); every other route multiplies in double
 * (PopulateConvolutionQuantizationParams, FullyConnected). */
double ld_conv_real_scale(const ld_tensor *in, const ld_tensor *w, const ld_tensor *out, int ch, int float_product);

/* Per-output-channel fixed-point multipliers (QuantizeMultiplier of
 * ld_conv_real_scale) into mult[channels] and shift[channels]; refuses
 * scales too large for a 32-bit left shift. */
leandet_status ld_conv_multipliers(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *out,
                                   int channels, int float_product, int32_t *mult, int32_t *shift);

/* The int32 sum is kept in uint32 so that overflow wraps as TFLite's int32
 * accumulator does in practice, without undefined behaviour. */
static inline int32_t ld_conv_wrap32(uint32_t v)
{
    return (int32_t)v;
}

/* Convolution output: MultiplyByQuantizedMultiplier (double rounding), plus
 * the output zero point, clamped to the activation range. */
static inline int32_t ld_conv_requant(const ld_conv_quant *q, uint32_t acc, int32_t mult, int32_t shift)
{
    int32_t v = ld_mul_by_quantized_multiplier(ld_conv_wrap32(acc), mult, shift);
    return ld_clampi(ld_conv_wrap32((uint32_t)v + (uint32_t)q->out_zp), q->act_min, q->act_max);
}

/* FULLY_CONNECTED output: TFLite's reference FullyConnected rounds once,
 * round(acc * scale) in double (half away from zero), then adds the zero
 * point and clamps. Out-of-int32 products saturate (TFLite's cast is undefined there). */
static inline int32_t ld_conv_fc_requant(const ld_conv_quant *q, uint32_t acc, double scale)
{
    double r = round((double)ld_conv_wrap32(acc) * scale);
    int32_t v = r >= 2147483647.0 ? INT32_MAX : (r <= -2147483648.0 ? INT32_MIN : (int32_t)r);
    return ld_clampi(ld_conv_wrap32((uint32_t)v + (uint32_t)q->out_zp), q->act_min, q->act_max);
}

/* ---- hybrid (dynamic-range) operands ------------------------------------
 * float32 input, output and bias with int8 weights, symmetric per tensor or
 * per output channel (what `leandet quantize --mode dynamic` and TensorFlow
 * Lite's converter write). As TensorFlow Lite's hybrid kernels do, the
 * input is quantized to int8 on the fly, once per batch, the products are
 * summed in int32 and the sum is scaled back to float. */

/* float32 activations with 8-bit weights. */
static inline int ld_conv_is_hybrid(const ld_tensor *in, const ld_tensor *w)
{
    return in->type == LEANDET_FLOAT32 && (w->type == LEANDET_INT8 || w->type == LEANDET_UINT8);
}

/* Check hybrid operands: int8 weights with 1 or `channels` scales along
 * w_axis and zero points 0; float32 output and bias of `channels` values. */
leandet_status ld_conv_check_hybrid(ld_op_ctx *c, const ld_tensor *in, const ld_tensor *w, const ld_tensor *bias,
                                    const ld_tensor *out, int channels, int w_axis);

/* TensorFlow Lite's AsymmetricQuantizeFloats (its NEON form, which its x86
 * and ARM builds run): n values to int8 over the range [min(0, min x),
 * max(0, max x)], giving the scale and the zero point ("offset"); an
 * all-zero input gives zeros, scale 1, offset 0. */
void ld_hybrid_quantize_asym(const float *x, size_t n, int8_t *q, float *scale, int32_t *offset);

/* TensorFlow Lite's SymmetricQuantizeFloats (NEON form): q = round(x * 127 /
 * max|x|) in [-127, 127], scale max|x| / 127 (1 when all are zero). */
void ld_hybrid_quantize_sym(const float *x, size_t n, int8_t *q, float *scale);

/* The pieces of the two quantizers above, for optimized versions that
 * must give the same bytes: the extremes of x (x[0] first, NaN never
 * taken after it); the parameters from them (0: all values quantize to 0,
 * scale 1, offset 0); and q[i] for i in [from, n) with the NEON rounding
 * (groups of LD_HYBRID_GROUP by ld_hybrid_neon_round, the last n % 8 by
 * roundf), offset added, clamped to [qlo, 127]. */
#define LD_HYBRID_GROUP 8
static inline int32_t ld_hybrid_neon_round(float t)
{
    return (int32_t)(t + (t < 0.0f ? -0.5f : 0.5f));
}
void ld_hybrid_min_max(const float *x, size_t n, float *lo, float *hi);
int ld_hybrid_asym_params(float lo, float hi, float *scale, int32_t *offset, float *inv);
int ld_hybrid_sym_params(float lo, float hi, float *scale, float *inv);
void ld_hybrid_round(const float *x, size_t from, size_t n, float inv, int32_t off, int32_t qlo, int8_t *q);

/* The kind TensorFlow Lite runs a hybrid CONV_2D / DEPTHWISE_CONV_2D as: 1
 * per channel (asymmetric input quantization, each output channel scaled by
 * its own weight scale) for depthwise, grouped convolutions or distinct
 * weight scales; 0 per tensor (symmetric input quantization). */
int ld_hybrid_conv_per_channel(const ld_tensor *w, int depthwise, int grouped);

/* Quantize each of `batches` batches (`per` values each) of x into the
 * scratch laid out by ld_hybrid_scratch, as TensorFlow Lite does before
 * every hybrid convolution (asymmetric per channel, symmetric per tensor);
 * per tensor, each batch's scale also carries the weight scale w_scale.
 * `ops` may replace the extremes and the rounding with versions that give
 * the same results (kernels/x86/hybrid_quant.c). */
typedef struct ld_hybrid_ops {
    void (*min_max)(const float *x, size_t n, float *lo, float *hi);
    void (*round)(const float *x, size_t from, size_t n, float inv, int32_t off, int32_t qlo, int8_t *q);
} ld_hybrid_ops;
void ld_hybrid_conv_quantize(const float *x, size_t per, size_t batches, int per_channel, float w_scale,
                             void *scratch, const ld_hybrid_ops *ops); /* ops NULL: the functions above */

/* Scratch of a hybrid op: `values` int8 inputs, then one scale and one
 * offset per batch. Byte size (0 on overflow) and the three parts. */
size_t ld_hybrid_scratch_bytes(size_t values, size_t batches);
void ld_hybrid_scratch(void *scratch, size_t values, size_t batches, int8_t **q, float **scale, int32_t **offset);

#endif

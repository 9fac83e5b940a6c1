/* Fixed-point arithmetic of TensorFlow Lite's quantized reference kernels,
 * reproduced exactly (double rounding), so integer kernels are bit-exact. */
#ifndef LD_KERNELS_QUANT_H
#define LD_KERNELS_QUANT_H

#include <stdint.h>

#include "kernels/kernel.h"

/* Represent a real multiplier as q * 2^shift, q in [2^30, 2^31) (QuantizeMultiplier). */
void ld_quantize_multiplier(double m, int32_t *q, int *shift);

int32_t ld_sat_rounding_doubling_high_mul(int32_t a, int32_t b);
int32_t ld_rounding_divide_by_pot(int32_t x, int exponent);
/* x * q * 2^shift with TFLite's double rounding (MultiplyByQuantizedMultiplier). */
int32_t ld_mul_by_quantized_multiplier(int32_t x, int32_t q, int shift);

/* Clamp range of a fused activation on a quantized output (CalculateActivationRangeQuantized). */
void ld_act_range_quant(ld_activation act, float scale, int32_t zero_point,
                        int32_t qmin, int32_t qmax, int32_t *lo, int32_t *hi);
void ld_act_range_float(ld_activation act, float *lo, float *hi);

/* Integer range of a quantized type: uint8 0..255, int8 -128..127, int16, int32. */
void ld_type_range(ld_dtype t, int32_t *qmin, int32_t *qmax);

/* SAME/VALID output size and leading padding, with dilation (TFLite's
 * ComputeOutSize / ComputePaddingWithOffset). */
int ld_conv_out_size(ld_padding p, int in, int filter, int stride, int dilation);
int ld_conv_padding(int stride, int dilation, int in, int filter, int out, int *offset);

static inline float ld_clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
static inline int32_t ld_clampi(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

#endif

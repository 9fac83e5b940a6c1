/* gemmlowp-style fixed-point arithmetic (raw int32 in Qm.(31-m), and the few
 * int16 helpers HARD_SWISH needs), reproducing TensorFlow Lite's quantized
 * SOFTMAX and HARD_SWISH bit for bit. The integer-bit count of a format is a
 * runtime argument here where gemmlowp makes it a template parameter.
 *
 * Additions that gemmlowp leaves to wrap around are done in uint32 so the
 * results match without signed-overflow undefined behaviour. */
#ifndef LD_KERNELS_FIXEDPOINT_H
#define LD_KERNELS_FIXEDPOINT_H

#include <stdint.h>

#include "kernels/quant.h"

static inline int32_t ld_fp_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t ld_fp_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* Product of two fixed-point values: the integer bits add up. */
static inline int32_t ld_fp_mul(int32_t a, int32_t b) { return ld_sat_rounding_doubling_high_mul(a, b); }

/* x * 2^exponent: saturating for exponent > 0, rounding for exponent < 0. */
static inline int32_t ld_fp_mul_pot(int32_t x, int exponent)
{
    if (exponent < 0)
        return ld_rounding_divide_by_pot(x, -exponent);
    if (exponent == 0)
        return x;
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold)
        return INT32_MAX;
    if (x < -threshold)
        return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

/* Change a value from `src_bits` to `dst_bits` integer bits (gemmlowp Rescale). */
static inline int32_t ld_fp_rescale(int32_t x, int src_bits, int dst_bits)
{
    return ld_fp_mul_pot(x, src_bits - dst_bits);
}

/* (a + b) / 2 rounded half away from zero. */
static inline int32_t ld_fp_rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor series around -1/8. */
static inline int32_t ld_fp_exp_quarter(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    int32_t x = ld_fp_add(a, 1 << 28); /* a + 1/8 */
    int32_t x2 = ld_fp_mul(x, x);
    int32_t x3 = ld_fp_mul(x2, x);
    int32_t x4 = ld_fp_mul(x2, x2);
    int32_t x4_over_4 = ld_fp_mul_pot(x4, -2);
    int32_t poly = ld_fp_mul_pot(ld_fp_add(ld_fp_mul(ld_fp_add(x4_over_4, x3), one_third), x2), -1);
    return ld_fp_add(exp_minus_one_eighth, ld_fp_mul(exp_minus_one_eighth, ld_fp_add(x, poly)));
}

/* exp(a) for a <= 0 given with `int_bits` integer bits; result in Q0.31. */
static inline int32_t ld_fp_exp_on_negative_values(int32_t a, int int_bits)
{
    /* exp(-2^k) for k = -2 .. 4, Q0.31 */
    static const int32_t barrel[7] = { 1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242 };
    const int frac_bits = 31 - int_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    int32_t a_mod_quarter_minus_quarter = ld_fp_sub(a & (one_quarter - 1), one_quarter);
    int32_t result = ld_fp_exp_quarter(ld_fp_rescale(a_mod_quarter_minus_quarter, int_bits, 0));
    int32_t remainder = ld_fp_sub(a_mod_quarter_minus_quarter, a);
    for (int k = -2; k <= 4; k++) {
        if (int_bits > k && (remainder & (int32_t)(1u << (frac_bits + k))))
            result = ld_fp_mul(result, barrel[k + 2]);
    }
    if (int_bits > 5 && a < -((int32_t)1 << (36 - int_bits))) /* below -32: exp is 0 */
        result = 0;
    if (a == 0)
        result = INT32_MAX; /* one in Q0.31 */
    return result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: Newton-Raphson division. */
static inline int32_t ld_fp_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = ld_fp_rounding_half_sum(a, INT32_MAX);
    const int32_t c48_over_17 = 1515870810;     /* Q2.29 */
    const int32_t cm32_over_17 = -1010580540;   /* Q2.29 */
    const int32_t one_q2 = 1 << 29;
    int32_t x = ld_fp_add(c48_over_17, ld_fp_mul(half_denominator, cm32_over_17));
    for (int i = 0; i < 3; i++) {
        int32_t one_minus = ld_fp_sub(one_q2, ld_fp_mul(half_denominator, x));
        x = ld_fp_add(x, ld_fp_rescale(ld_fp_mul(x, one_minus), 4, 2));
    }
    return ld_fp_rescale(x, 1, 0); /* x/2 seen as Q1.30, back to Q0.31 */
}

/* Reciprocal of a positive x with `int_bits` integer bits (TFLite GetReciprocal):
 * returns 1/x scaled into Q0.31 and the power of two it was scaled by. */
static inline int32_t ld_fp_reciprocal(int32_t x, int int_bits, int *num_bits_over_unit)
{
    int headroom_plus_one = x > 0 ? __builtin_clz((uint32_t)x) : 32;
    *num_bits_over_unit = int_bits - headroom_plus_one;
    uint32_t shifted = headroom_plus_one >= 32 ? 0u : (uint32_t)x << headroom_plus_one;
    return ld_fp_one_over_one_plus_x((int32_t)(shifted - (1u << 31)));
}

/* ---- int16 helpers (HARD_SWISH) ------------------------------------------ */

static inline int16_t ld_wrap16(int32_t v)
{
    uint16_t u = (uint16_t)(uint32_t)v;
    return u < 0x8000u ? (int16_t)u : (int16_t)((int32_t)u - 0x10000);
}

static inline int16_t ld_sat16(int64_t v) { return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v); }

/* gemmlowp SaturatingRoundingDoublingHighMul on int16 (VQRDMULH). */
static inline int16_t ld_srdhm16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN)
        return INT16_MAX;
    int32_t ab = (int32_t)a * b;
    int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return ld_wrap16((ab + nudge) / (1 << 15));
}

/* Doubling high multiply truncating toward zero (SQDMULH). */
static inline int16_t ld_sdhm16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN)
        return INT16_MAX;
    return ld_wrap16(((int32_t)a * b) / (1 << 15));
}

/* gemmlowp RoundingDivideByPOT on int16 (masks computed in int16 as there). */
static inline int16_t ld_rdivpot16(int16_t x, int exponent)
{
    int16_t mask = ld_wrap16((int32_t)((1LL << exponent) - 1));
    int16_t remainder = (int16_t)(x & mask);
    int16_t threshold = ld_wrap16((mask >> 1) + (x < 0 ? 1 : 0));
    return ld_wrap16((x >> exponent) + (remainder > threshold ? 1 : 0));
}

static inline int16_t ld_sat_lshift16(int16_t v, int amount) { return ld_sat16((int64_t)v * ((int64_t)1 << amount)); }

#endif

#include "kernels/quant.h"

#include <float.h>
#include <limits.h>
#include <math.h>

void ld_quantize_multiplier(double m, int32_t *q, int *shift)
{
    if (m == 0.0) {
        *q = 0;
        *shift = 0;
        return;
    }
    int e = 0;
    double frac = frexp(m, &e);
    int64_t fixed = (int64_t)round(frac * (double)(1LL << 31));
    if (fixed == (1LL << 31)) {
        fixed /= 2;
        ++e;
    }
    if (e < -31) { /* everything would be shifted out */
        e = 0;
        fixed = 0;
    }
    *q = (int32_t)fixed;
    *shift = e;
}

int32_t ld_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    return (int32_t)((ab + nudge) / (1LL << 31));
}

int32_t ld_rounding_divide_by_pot(int32_t x, int exponent)
{
    if (exponent <= 0)
        return x;
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t ld_mul_by_quantized_multiplier(int32_t x, int32_t q, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    /* TFLite multiplies in int32; wrap the same way without signed overflow. */
    int32_t scaled = (int32_t)(uint32_t)((uint32_t)x << left);
    return ld_rounding_divide_by_pot(ld_sat_rounding_doubling_high_mul(scaled, q), right);
}

void ld_act_range_quant(ld_activation act, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                        int32_t *lo, int32_t *hi)
{
#define LD_Q(f) (zp + (int32_t)roundf((f) / scale))
    *lo = qmin;
    *hi = qmax;
    switch (act) {
    case LD_ACT_RELU:
        *lo = LD_Q(0.0f) > qmin ? LD_Q(0.0f) : qmin;
        break;
    case LD_ACT_RELU6:
        *lo = LD_Q(0.0f) > qmin ? LD_Q(0.0f) : qmin;
        *hi = LD_Q(6.0f) < qmax ? LD_Q(6.0f) : qmax;
        break;
    case LD_ACT_RELU_N1_TO_1:
        *lo = LD_Q(-1.0f) > qmin ? LD_Q(-1.0f) : qmin;
        *hi = LD_Q(1.0f) < qmax ? LD_Q(1.0f) : qmax;
        break;
    default:
        break;
    }
#undef LD_Q
}

void ld_act_range_float(ld_activation act, float *lo, float *hi)
{
    *lo = -FLT_MAX;
    *hi = FLT_MAX;
    if (act == LD_ACT_RELU) {
        *lo = 0.0f;
    } else if (act == LD_ACT_RELU6) {
        *lo = 0.0f;
        *hi = 6.0f;
    } else if (act == LD_ACT_RELU_N1_TO_1) {
        *lo = -1.0f;
        *hi = 1.0f;
    }
}

void ld_type_range(ld_dtype t, int32_t *qmin, int32_t *qmax)
{
    switch (t) {
    case LEANDET_UINT8: *qmin = 0; *qmax = 255; break;
    case LEANDET_INT8: *qmin = -128; *qmax = 127; break;
    case LEANDET_INT16: *qmin = -32768; *qmax = 32767; break;
    default: *qmin = INT32_MIN; *qmax = INT32_MAX; break;
    }
}

int ld_conv_out_size(ld_padding p, int in, int filter, int stride, int dilation)
{
    int eff = (filter - 1) * dilation + 1;
    if (stride <= 0)
        return 0;
    if (p == LD_PAD_SAME)
        return (in + stride - 1) / stride;
    return in + stride - eff < 0 ? 0 : (in + stride - eff) / stride;
}

int ld_conv_padding(int stride, int dilation, int in, int filter, int out, int *offset)
{
    int eff = (filter - 1) * dilation + 1;
    int total = (out - 1) * stride + eff - in;
    if (total < 0)
        total = 0;
    *offset = total % 2;
    return total / 2;
}

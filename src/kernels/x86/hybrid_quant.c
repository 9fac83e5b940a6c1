/* The hybrid input quantizers' inner loops on AVX2, with the reference's
 * results (ld_hybrid_ops, kernels/ref/conv_quant.h):
 *  - extremes: per lane a = x < a ? x : a (min_ps(x, a) is exactly that),
 *    every lane starting from x[0] as the scalar loop does, so a NaN in
 *    x[0] stays and NaNs after it are never taken; lanes then merge the
 *    same way (min and max do not depend on the order otherwise, and the
 *    sign of a zero extreme does not matter: it is replaced by 0);
 *  - rounding: the groups of 8 as the reference's NEON form, t * inv, plus
 *    +-0.5 (minus when t < 0), truncated (cvttps gives what the scalar cast
 *    gives on x86), offset added, clamped; the last n % 8 by the
 *    reference's own loop (roundf). */
#include <immintrin.h>

#include "kernels/ref/conv_quant.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/hybrid.h"

LD_AVX2 static void min_max(const float *x, size_t n, float *lo, float *hi)
{
    if (n < 16) {
        ld_hybrid_min_max(x, n, lo, hi);
        return;
    }
    __m256 a = _mm256_set1_ps(x[0]), b = a;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        a = _mm256_min_ps(v, a);
        b = _mm256_max_ps(v, b);
    }
    float la[8], lb[8];
    _mm256_storeu_ps(la, a);
    _mm256_storeu_ps(lb, b);
    float ra = la[0], rb = lb[0];
    for (int k = 1; k < 8; k++) {
        ra = la[k] < ra ? la[k] : ra;
        rb = lb[k] > rb ? lb[k] : rb;
    }
    for (; i < n; i++) {
        ra = x[i] < ra ? x[i] : ra;
        rb = x[i] > rb ? x[i] : rb;
    }
    *lo = ra;
    *hi = rb;
}

LD_AVX2 static void round_q(const float *x, size_t from, size_t n, float inv, int32_t off, int32_t qlo, int8_t *q)
{
    const size_t body = n & ~(size_t)(LD_HYBRID_GROUP - 1);
    const __m256 vinv = _mm256_set1_ps(inv), half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f);
    const __m256 zero = _mm256_setzero_ps();
    const __m256i voff = _mm256_set1_epi32(off), vlo = _mm256_set1_epi32(qlo), vhi = _mm256_set1_epi32(127);
    size_t i = from;
    for (; i + 8 <= body; i += 8) {
        const __m256 t = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        const __m256 h = _mm256_blendv_ps(half, mhalf, _mm256_cmp_ps(t, zero, _CMP_LT_OQ));
        __m256i r = _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_add_ps(t, h)), voff);
        r = _mm256_min_epi32(_mm256_max_epi32(r, vlo), vhi);
        /* 8 int32 in [-128, 127] to 8 bytes */
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storel_epi64((__m128i *)(void *)(q + i), _mm_packs_epi16(w, w));
    }
    ld_hybrid_round(x, i, n, inv, off, qlo, q);
}

const ld_hybrid_ops ld_hybrid_avx2_ops = { min_max, round_q };

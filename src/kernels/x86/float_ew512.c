/* AVX-512 LOGISTIC: the AVX2 logistic_ps of float_ew.c on 16 lanes (same
 * clamp, exp polynomial, exponent bits and refined reciprocal; see there
 * for the why of each step). */
#include <immintrin.h>

#include "kernels/x86/float_avx512.h"
#include "kernels/x86/float_ew.h"

LD_AVX512 static inline __m512 logistic_ps(__m512 x)
{
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 z = _mm512_sub_ps(_mm512_setzero_ps(), x);
    z = _mm512_min_ps(_mm512_set1_ps(88.3762626647949f), _mm512_max_ps(_mm512_set1_ps(-87.3365447505531f), z));
    const __m512 t = _mm512_fmadd_ps(z, _mm512_set1_ps(1.44269504088896341f), magic);
    const __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), z);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_add_epi32(_mm512_slli_epi32(_mm512_castps_si512(t), 23), _mm512_set1_epi32(127 << 23));
    const __m512 d = _mm512_fmadd_ps(p, _mm512_castsi512_ps(e), _mm512_set1_ps(1.0f));
    /* rcp14 is 2^-14 accurate (AVX2's rcp: 2^-12); one Newton step either way */
    const __m512 r0 = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r0, _mm512_fnmadd_ps(d, r0, _mm512_set1_ps(1.0f)), r0);
}

LD_AVX512 void ld_f32_logistic_avx512(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, logistic_ps(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = ld_f32_lanes16((int)(n - i));
        _mm512_mask_storeu_ps(y + i, m, logistic_ps(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

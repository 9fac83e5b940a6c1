/* AVX-512 micro-kernels of the packed float32 GEMM (float_gemm.h): 6 rows by
 * a panel of 32 channels (two zmm per row, 12 accumulators) or a 16-channel
 * tail panel (one zmm per row). Used for weights packed 32 wide, which the
 * table's AVX-512 entries do only where ld_f32_has_avx512(). Same arithmetic as the AVX2
 * kernels: accumulators start at the bias, one FMA per weight, clamp. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/x86/float_avx512.h"
#include "kernels/x86/float_gemm.h"

#define ROW2(r)                                                  \
    do {                                                         \
        const __m512 x = _mm512_set1_ps(a##r[k]);                \
        c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0);               \
        c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1);               \
    } while (0)

#define STORE2(r)                                                                          \
    do {                                                                                   \
        _mm512_mask_storeu_ps(c + (r) * cs, m0, ld_f32_clamp16(c##r##0, lo, hi));                   \
        _mm512_mask_storeu_ps(c + (r) * cs + 16, m1, ld_f32_clamp16(c##r##1, lo, hi));              \
    } while (0)

LD_AVX512 static void tile_6x32(const ld_f32_gemm *g, const float *w, int nc, size_t mr, size_t kc, size_t taps,
                                const float *const *a, float *c, size_t cs)
{
    __m512 c00 = _mm512_load_ps(w), c01 = _mm512_load_ps(w + 16);
    __m512 c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00,
           c51 = c01;
    w += 32;
    for (size_t t = 0; t < taps; t++, a += LD_F32_MR) {
        const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
        for (size_t k = 0; k < kc; k++, w += 32) {
            const __m512 b0 = _mm512_load_ps(w), b1 = _mm512_load_ps(w + 16);
            ROW2(0);
            ROW2(1);
            ROW2(2);
            ROW2(3);
            ROW2(4);
            ROW2(5);
        }
    }
    const __m512 lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);
    const __mmask16 m0 = ld_f32_lanes16(nc), m1 = ld_f32_lanes16(nc - 16);
    STORE2(0);
    if (mr > 1)
        STORE2(1);
    if (mr > 2)
        STORE2(2);
    if (mr > 3)
        STORE2(3);
    if (mr > 4)
        STORE2(4);
    if (mr > 5)
        STORE2(5);
}

#define ROW1(r) c##r = _mm512_fmadd_ps(_mm512_set1_ps(a##r[k]), b, c##r)
#define STORE1(r) _mm512_mask_storeu_ps(c + (r) * cs, m, ld_f32_clamp16(c##r, lo, hi))

LD_AVX512 static void tile_6x16(const ld_f32_gemm *g, const float *w, int nc, size_t mr, size_t kc, size_t taps,
                                const float *const *a, float *c, size_t cs)
{
    __m512 c0 = _mm512_load_ps(w), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    w += 16;
    for (size_t t = 0; t < taps; t++, a += LD_F32_MR) {
        const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
        for (size_t k = 0; k < kc; k++, w += 16) {
            const __m512 b = _mm512_load_ps(w);
            ROW1(0);
            ROW1(1);
            ROW1(2);
            ROW1(3);
            ROW1(4);
            ROW1(5);
        }
    }
    const __m512 lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);
    const __mmask16 m = ld_f32_lanes16(nc);
    STORE1(0);
    if (mr > 1)
        STORE1(1);
    if (mr > 2)
        STORE1(2);
    if (mr > 3)
        STORE1(3);
    if (mr > 4)
        STORE1(4);
    if (mr > 5)
        STORE1(5);
}

void ld_f32_tile512(const ld_f32_gemm *g, const float *w, int width, int nc, size_t mr, size_t kc, size_t taps,
                    const float *const *a, float *c, size_t cs)
{
    if (width == 32)
        tile_6x32(g, w, nc, mr, kc, taps, a, c, cs);
    else
        tile_6x16(g, w, nc, mr, kc, taps, a, c, cs);
}

#include "kernels/x86/float_gemm.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/x86/float_common.h"

size_t ld_f32_gemm_packed_floats(int n, size_t kc, size_t taps, int nr)
{
    if (n <= 0 || (taps && kc > SIZE_MAX / 64 / taps))
        return 0;
    const size_t k = kc * taps;
    const size_t panels = ((size_t)n + (size_t)nr - 1) / (size_t)nr;
    if (k + 1 > SIZE_MAX / (size_t)nr / panels)
        return 0;
    return panels * (size_t)nr * (k + 1);
}

/* Panel p starts at p * panel_floats; a tail of at most nr / 2 channels is
 * nr / 2 wide. */
static int panel_width(const ld_f32_gemm *g, int p)
{
    const int rest = g->n - p * g->nr;
    return rest > g->nr / 2 ? g->nr : g->nr / 2;
}

void ld_f32_gemm_pack(ld_f32_gemm *g, const float *w, const float *bias, int n, size_t kc, size_t taps, int nr,
                      float lo, float hi, float *dst)
{
    const size_t k = kc * taps;
    g->n = n;
    g->nr = nr;
    g->panels = (n + nr - 1) / nr;
    g->kc = kc;
    g->taps = taps;
    g->panel_floats = (size_t)nr * (k + 1);
    g->lo = lo;
    g->hi = hi;
    g->w = dst;
    for (int p = 0; p < g->panels; p++) {
        const int width = panel_width(g, p), n0 = p * nr;
        float *d = dst + (size_t)p * g->panel_floats;
        for (int j = 0; j < width; j++)
            d[j] = n0 + j < n && bias ? bias[n0 + j] : 0.0f;
        d += width;
        for (size_t i = 0; i < k; i++, d += width)
            for (int j = 0; j < width; j++)
                d[j] = n0 + j < n ? w[(size_t)(n0 + j) * k + i] : 0.0f;
    }
}

LD_AVX2 static inline void store16(float *c, __m256 v0, __m256 v1, int nc, __m256i m0, __m256i m1)
{
    if (nc >= 16) {
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
    } else if (nc >= 8) {
        _mm256_storeu_ps(c, v0);
        _mm256_maskstore_ps(c + 8, m1, v1);
    } else {
        _mm256_maskstore_ps(c, m0, v0);
    }
}

#define ROW_FMA16(r)                                  \
    do {                                              \
        const __m256 x = _mm256_broadcast_ss(a##r + k); \
        c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0);    \
        c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1);    \
    } while (0)

/* 6 rows x 16 channels. */
LD_AVX2 static void tile_6x16(const ld_f32_gemm *g, const float *w, int nc, size_t mr, size_t kc, size_t taps,
                              const float *const *a, float *c, size_t cs)
{
    __m256 c00 = _mm256_load_ps(w), c01 = _mm256_load_ps(w + 8);
    __m256 c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00,
           c51 = c01;
    w += 16;
    for (size_t t = 0; t < taps; t++, a += LD_F32_MR) {
        const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
        for (size_t k = 0; k < kc; k++, w += 16) {
            const __m256 b0 = _mm256_load_ps(w), b1 = _mm256_load_ps(w + 8);
            ROW_FMA16(0);
            ROW_FMA16(1);
            ROW_FMA16(2);
            ROW_FMA16(3);
            ROW_FMA16(4);
            ROW_FMA16(5);
        }
    }
    const __m256 lo = _mm256_set1_ps(g->lo), hi = _mm256_set1_ps(g->hi);
    const __m256i m0 = ld_f32_mask8(nc), m1 = ld_f32_mask8(nc - 8);
    store16(c, ld_f32_clamp8(c00, lo, hi), ld_f32_clamp8(c01, lo, hi), nc, m0, m1);
    if (mr > 1)
        store16(c + cs, ld_f32_clamp8(c10, lo, hi), ld_f32_clamp8(c11, lo, hi), nc, m0, m1);
    if (mr > 2)
        store16(c + 2 * cs, ld_f32_clamp8(c20, lo, hi), ld_f32_clamp8(c21, lo, hi), nc, m0, m1);
    if (mr > 3)
        store16(c + 3 * cs, ld_f32_clamp8(c30, lo, hi), ld_f32_clamp8(c31, lo, hi), nc, m0, m1);
    if (mr > 4)
        store16(c + 4 * cs, ld_f32_clamp8(c40, lo, hi), ld_f32_clamp8(c41, lo, hi), nc, m0, m1);
    if (mr > 5)
        store16(c + 5 * cs, ld_f32_clamp8(c50, lo, hi), ld_f32_clamp8(c51, lo, hi), nc, m0, m1);
}

#define ROW_FMA8(r) c##r = _mm256_fmadd_ps(_mm256_broadcast_ss(a##r + k), b, c##r)

LD_AVX2 static inline void store8(float *c, __m256 v, int nc, __m256i m)
{
    if (nc >= 8)
        _mm256_storeu_ps(c, v);
    else
        _mm256_maskstore_ps(c, m, v);
}

/* 6 rows x 8 channels: the tail panel of at most 8 channels. */
LD_AVX2 static void tile_6x8(const ld_f32_gemm *g, const float *w, int nc, size_t mr, size_t kc, size_t taps,
                             const float *const *a, float *c, size_t cs)
{
    __m256 c0 = _mm256_load_ps(w), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    w += 8;
    for (size_t t = 0; t < taps; t++, a += LD_F32_MR) {
        const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
        for (size_t k = 0; k < kc; k++, w += 8) {
            const __m256 b = _mm256_load_ps(w);
            ROW_FMA8(0);
            ROW_FMA8(1);
            ROW_FMA8(2);
            ROW_FMA8(3);
            ROW_FMA8(4);
            ROW_FMA8(5);
        }
    }
    const __m256 lo = _mm256_set1_ps(g->lo), hi = _mm256_set1_ps(g->hi);
    const __m256i m = ld_f32_mask8(nc);
    store8(c, ld_f32_clamp8(c0, lo, hi), nc, m);
    if (mr > 1)
        store8(c + cs, ld_f32_clamp8(c1, lo, hi), nc, m);
    if (mr > 2)
        store8(c + 2 * cs, ld_f32_clamp8(c2, lo, hi), nc, m);
    if (mr > 3)
        store8(c + 3 * cs, ld_f32_clamp8(c3, lo, hi), nc, m);
    if (mr > 4)
        store8(c + 4 * cs, ld_f32_clamp8(c4, lo, hi), nc, m);
    if (mr > 5)
        store8(c + 5 * cs, ld_f32_clamp8(c5, lo, hi), nc, m);
}

void ld_f32_gemm_rows(const ld_f32_gemm *g, int p0, int p1, size_t mr, size_t kc, size_t taps,
                      const float *const *a, float *c, size_t cs)
{
    for (int p = p0; p < p1; p++) {
        const float *w = g->w + (size_t)p * g->panel_floats;
        const int n0 = p * g->nr, nc = g->n - n0;
        if (g->nr == 32)
            ld_f32_tile512(g, w, panel_width(g, p), nc, mr, kc, taps, a, c + n0, cs);
        else if (panel_width(g, p) == 16)
            tile_6x16(g, w, nc, mr, kc, taps, a, c + n0, cs);
        else
            tile_6x8(g, w, nc, mr, kc, taps, a, c + n0, cs);
    }
}

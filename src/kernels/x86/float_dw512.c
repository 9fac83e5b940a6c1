/* AVX-512 loops of float32 DEPTHWISE_CONV_2D (float_dw.h): 16 channels a
 * vector, weights packed 16-padded by float_dw.c. Interior: four pixels by
 * two channel blocks, eight independent sums; border: one pixel, four
 * blocks (or one block with two alternating sums). A partial last block uses masked (fault-free) loads
 * and stores. Same arithmetic as the AVX2 loops. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/x86/float_avx512.h"
#include "kernels/x86/float_dw.h"

/* Clamp and store the lanes in m. */
LD_AVX512 static inline void put(const ld_dw_f32 *s, float *o, __m512 v, __mmask16 m)
{
    _mm512_mask_storeu_ps(o, m, ld_f32_clamp16(v, _mm512_set1_ps(s->lo), _mm512_set1_ps(s->hi)));
}

/* Channels [cb, cb + 16) under mask m0 and, if `two`, [cb + 16, cb + 32)
 * (full) of four consecutive interior pixels. */
LD_AVX512 __attribute__((always_inline)) static inline void interior_block(const ld_dw_f32 *s, const float *x,
                                                                            float *out, int cb, int two, __mmask16 m0)
{
    const size_t ch = (size_t)s->ch, chp = (size_t)s->chp, step = (size_t)s->win.stride_w * ch;
    const float *w = s->w + cb;
    x += cb;
    __m512 a0 = _mm512_load_ps(w + s->taps * chp), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = two ? _mm512_load_ps(w + s->taps * chp + 16) : a0, b1 = b0, b2 = b0, b3 = b0;
    for (size_t t = 0; t < s->taps; t++, w += chp) {
        const __m512 wv = _mm512_load_ps(w);
        const float *xp = x + s->off[t];
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, xp), wv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, xp + step), wv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, xp + 2 * step), wv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, xp + 3 * step), wv, a3);
        if (two) {
            const __m512 wv1 = _mm512_load_ps(w + 16);
            b0 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 16), wv1, b0);
            b1 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + step + 16), wv1, b1);
            b2 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 2 * step + 16), wv1, b2);
            b3 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 3 * step + 16), wv1, b3);
        }
    }
    out += cb;
    put(s, out, a0, m0);
    put(s, out + ch, a1, m0);
    put(s, out + 2 * ch, a2, m0);
    put(s, out + 3 * ch, a3, m0);
    if (two) {
        put(s, out + 16, b0, 0xffff);
        put(s, out + ch + 16, b1, 0xffff);
        put(s, out + 2 * ch + 16, b2, 0xffff);
        put(s, out + 3 * ch + 16, b3, 0xffff);
    }
}

LD_AVX512 void ld_dw_interior4_avx512(const ld_dw_f32 *s, const float *x, float *out)
{
    int cb = 0;
    for (; cb + 32 <= s->ch; cb += 32)
        interior_block(s, x, out, cb, 1, 0xffff);
    for (; cb < s->ch; cb += 16)
        interior_block(s, x, out, cb, 0, ld_f32_lanes16(s->ch - cb));
}

/* Channel blocks cb .. cb + 16 * (nb - 1) (nb 1 or 4; only the last block
 * of the tensor partial, mask m) of one border pixel: with four blocks,
 * four independent sums; with one, two alternating ones. */
LD_AVX512 __attribute__((always_inline)) static inline void border_blocks(const ld_dw_f32 *s, const ld_dw_at *at,
                                                                           int cb, int nb, __mmask16 m)
{
    const ld_window *wn = &s->win;
    const size_t ch = (size_t)s->ch, chp = (size_t)s->chp, row = (size_t)wn->in_w * ch;
    const float *w = s->w + cb;
    const float *bias = w + s->taps * chp;
    __m512 a0 = _mm512_load_ps(bias), a1 = nb == 4 ? _mm512_load_ps(bias + 16) : _mm512_setzero_ps();
    __m512 a2 = nb == 4 ? _mm512_load_ps(bias + 32) : a1, a3 = nb == 4 ? _mm512_load_ps(bias + 48) : a1;
    int odd = 0;
    for (int ky = at->ky0; ky < at->ky1; ky++) {
        const float *xr = at->img + (size_t)(at->iy0 + ky * wn->dil_h) * row + cb;
        const float *wr = w + (size_t)ky * (size_t)wn->f_w * chp;
        for (int kx = at->kx0; kx < at->kx1; kx++, odd ^= 1) {
            const float *xp = xr + (size_t)(at->ix0 + kx * wn->dil_w) * ch, *wp = wr + (size_t)kx * chp;
            if (nb == 4) {
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(xp), _mm512_load_ps(wp), a0);
                a1 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 16), _mm512_load_ps(wp + 16), a1);
                a2 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 32), _mm512_load_ps(wp + 32), a2);
                a3 = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 48), _mm512_load_ps(wp + 48), a3);
            } else {
                const __m512 x = _mm512_maskz_loadu_ps(m, xp), p = _mm512_load_ps(wp);
                if (odd)
                    a1 = _mm512_fmadd_ps(x, p, a1);
                else
                    a0 = _mm512_fmadd_ps(x, p, a0);
            }
        }
    }
    if (nb == 4) {
        put(s, at->out + cb, a0, 0xffff);
        put(s, at->out + cb + 16, a1, 0xffff);
        put(s, at->out + cb + 32, a2, 0xffff);
        put(s, at->out + cb + 48, a3, 0xffff);
    } else {
        put(s, at->out + cb, _mm512_add_ps(a0, a1), m);
    }
}

LD_AVX512 void ld_dw_border_avx512(const ld_dw_f32 *s, const ld_dw_at *at)
{
    int cb = 0;
    for (; cb + 64 <= s->ch; cb += 64)
        border_blocks(s, at, cb, 4, 0xffff);
    for (; cb < s->ch; cb += 16)
        border_blocks(s, at, cb, 1, ld_f32_lanes16(s->ch - cb));
}

/* CONV_2D (8-bit, one group) as an integer GEMM on AVX2.
 *
 * Rows are output pixels, columns output channels, the inner dimension the
 * k = f_h * f_w * in_c values of a pixel's patch (weight order). A panel of
 * up to `mc` pixels is packed per step: each patch is gathered (padding
 * taps read the input zero point) unless the op is a 1x1 convolution
 * without padding, where the input pixel is the patch; values are widened to
 * int16 and interleaved so that LD_C8_MR pixels' pairs (x[2p], x[2p+1])
 * sit side by side. Weights are packed once at prepare, centred, as
 * [channel block][pair p][16 (or 8) channels in lane order][2].
 * The micro-kernel broadcasts one pixel's pair and multiplies it with the
 * pairs of 8 channels (vpmaddwd, exact), accumulating LD_C8_MR x 16 sums. */
#include "kernels/x86/conv8.h"

#include <string.h>

void c8_gemm_plan(c8_conv *s)
{
    const ld_window *w = &s->win;
    s->mr = LD_C8_MR;
    s->nr = 16;
    s->k = w->f_h * w->f_w * s->in_c;
    s->kp = (s->k + 7) & ~7;
    s->direct = w->f_h == 1 && w->f_w == 1 && w->pad_h == 0 && w->pad_w == 0 && s->k == s->kp;
    /* A panel of about 32 KiB stays in L2 next to the weight block in L1. */
    int mc = (int)(32768 / ((size_t)s->kp * 2)) & ~(LD_C8_MR - 1);
    if (mc < LD_C8_MR)
        mc = LD_C8_MR;
    if (mc > 512)
        mc = 512;
    size_t m = (size_t)s->batches * (size_t)w->out_h * (size_t)w->out_w;
    size_t m_round = (m + LD_C8_MR - 1) & ~(size_t)(LD_C8_MR - 1);
    if ((size_t)mc > m_round)
        mc = (int)m_round;
    s->mc = mc;
    s->slot_bytes = c8_align64((size_t)mc * (size_t)s->kp * 2) +
                    (s->direct ? 0 : c8_align64((size_t)LD_C8_MR * s->kp)); /* + gathered rows */
}

size_t c8_gemm_weight_bytes(const c8_conv *s)
{
    return (size_t)s->n_pad * (size_t)s->kp * sizeof(int16_t);
}

void c8_gemm_pack(c8_conv *s, const uint8_t *w, int w_signed, int32_t w_zp, const int32_t *bias, uint32_t *fold)
{
    const int k = s->k, kp = s->kp;
    c8_fold(w, w_signed, w_zp, (size_t)k, 1, k, bias, s->in_zp, s->out_c, fold);
    for (int base = 0; base < s->n_pad; base += 16) {
        int nb = s->narrow_tail && base + 8 == s->n_pad ? 8 : 16;
        int16_t *dst = (int16_t *)s->w + (size_t)base * (size_t)kp;
        for (int p = 0; p < kp / 2; p++) {
            for (int j = 0; j < nb; j++) {
                int ch = c8_lane_channel(base + j, s->n_pad, C8_ORDER_AVX2, s->narrow_tail);
                for (int e = 0; e < 2; e++) {
                    int i = 2 * p + e;
                    int16_t v = 0;
                    if (ch < s->out_c && i < k) {
                        uint8_t b = w[(size_t)ch * (size_t)k + (size_t)i];
                        v = (int16_t)((w_signed ? (int32_t)(int8_t)b : (int32_t)b) - w_zp);
                    }
                    dst[((size_t)p * (size_t)nb + (size_t)j) * 2 + (size_t)e] = v;
                }
            }
        }
    }
}

/* Widen LD_C8_MR rows of kp bytes to int16 and interleave them by pairs:
 * panel[p * 4 + r] = (row_r[2p], row_r[2p+1]). A 4x4 transpose of 32-bit
 * pairs per 8 bytes of each row. */
LD_C8_INLINE void interleave4(const uint8_t *const rows[4], int kp, int32_t *panel, int is_signed)
{
    for (int k = 0; k < kp; k += 8) {
        __m128i x[4];
        for (int r = 0; r < 4; r++) {
            __m128i b = _mm_loadl_epi64((const __m128i *)(rows[r] + k));
            x[r] = is_signed ? _mm_cvtepi8_epi16(b) : _mm_cvtepu8_epi16(b);
        }
        __m128i t0 = _mm_unpacklo_epi32(x[0], x[1]), t1 = _mm_unpacklo_epi32(x[2], x[3]);
        __m128i t2 = _mm_unpackhi_epi32(x[0], x[1]), t3 = _mm_unpackhi_epi32(x[2], x[3]);
        __m128i *o = (__m128i *)(panel + (size_t)k * 2);
        _mm_storeu_si128(o + 0, _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128(o + 1, _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128(o + 2, _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128(o + 3, _mm_unpackhi_epi64(t2, t3));
    }
}

/* Pack pixels [m, m + n) into tiles of LD_C8_MR; rows past n read zrow. */
static LD_C8_AVX2 void pack_panel(const c8_conv *s, const uint8_t *in, int m, int n, int32_t *panel, uint8_t *tmp)
{
    c8_pos p;
    c8_pos_init(s, m, &p);
    const size_t tile_elems = (size_t)s->kp * 2; /* int32 pairs of LD_C8_MR rows */
    for (int t = 0; t * LD_C8_MR < n; t++) {
        const uint8_t *rows[LD_C8_MR];
        for (int r = 0; r < LD_C8_MR; r++)
            rows[r] = t * LD_C8_MR + r < n ? c8_patch_row(s, in, &p, tmp + (size_t)r * (size_t)s->kp) : s->zrow;
        int32_t *dst = panel + (size_t)t * tile_elems;
        if (s->in_signed)
            interleave4(rows, s->kp, dst, 1);
        else
            interleave4(rows, s->kp, dst, 0);
    }
}

/* LD_C8_MR pixels x (8 * nv) channels over `pairs` pairs, then requantize
 * and store the rows that exist (`rows`). */
LD_C8_INLINE void tile(const c8_conv *s, const int32_t *a, const int16_t *w, int base, int nv, uint8_t *out,
                       int rows)
{
    const int pairs = s->kp / 2;
    const __m256i f0 = _mm256_loadu_si256((const __m256i *)(s->q.fold + base));
    const __m256i f1 = nv > 1 ? _mm256_loadu_si256((const __m256i *)(s->q.fold + base + 8)) : f0;
    __m256i c00 = f0, c10 = f0, c20 = f0, c30 = f0;
    __m256i c01 = f1, c11 = f1, c21 = f1, c31 = f1;
    for (int p = 0; p < pairs; p++, a += 4, w += 16 * nv) {
        const __m256i w0 = _mm256_load_si256((const __m256i *)w);
        const __m256i a0 = _mm256_set1_epi32(a[0]), a1 = _mm256_set1_epi32(a[1]);
        const __m256i a2 = _mm256_set1_epi32(a[2]), a3 = _mm256_set1_epi32(a[3]);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(a0, w0));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(a1, w0));
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(a2, w0));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(a3, w0));
        if (nv > 1) {
            const __m256i w1 = _mm256_load_si256((const __m256i *)(w + 16));
            c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(a0, w1));
            c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(a1, w1));
            c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(a2, w1));
            c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(a3, w1));
        }
    }
    const __m256i acc[4][2] = { { c00, c01 }, { c10, c11 }, { c20, c21 }, { c30, c31 } };
    const int n = s->out_c - base;
    const size_t stride = (size_t)s->out_c;
    for (int r = 0; r < rows; r++) {
        __m256i v0 = c8_requant8(acc[r][0], &s->q, base);
        if (nv > 1)
            c8_store16(out + (size_t)r * stride, v0, c8_requant8(acc[r][1], &s->q, base + 8), n, s->q.out_signed);
        else
            c8_store8(out + (size_t)r * stride, v0, n, s->q.out_signed);
    }
}

static LD_C8_AVX2 void tile16(const c8_conv *s, const int32_t *a, const int16_t *w, int base, uint8_t *out, int rows)
{
    tile(s, a, w, base, 2, out, rows);
}

static LD_C8_AVX2 void tile8(const c8_conv *s, const int32_t *a, const int16_t *w, int base, uint8_t *out, int rows)
{
    tile(s, a, w, base, 1, out, rows);
}

void c8_gemm_run(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1, int n0, int n1, void *slot)
{
    int32_t *panel = slot;
    uint8_t *tmp = (uint8_t *)slot + c8_align64((size_t)s->mc * (size_t)s->kp * 2);
    if (!s->direct) /* the bytes past k in each gathered row meet zero weights */
        for (int r = 0; r < LD_C8_MR; r++)
            memset(tmp + (size_t)r * (size_t)s->kp + s->k, 0, (size_t)(s->kp - s->k));
    const size_t tile_elems = (size_t)s->kp * 2;
    for (int m = m0; m < m1; m += s->mc) {
        int n = m1 - m < s->mc ? m1 - m : s->mc;
        pack_panel(s, in, m, n, panel, tmp);
        for (int base = n0; base < n1; base += 16) {
            const int16_t *w = (const int16_t *)s->w + (size_t)base * (size_t)s->kp;
            int narrow = s->narrow_tail && base + 8 == s->n_pad;
            for (int t = 0; t * LD_C8_MR < n; t++) {
                int rows = n - t * LD_C8_MR < LD_C8_MR ? n - t * LD_C8_MR : LD_C8_MR;
                uint8_t *o = out + ((size_t)m + (size_t)t * LD_C8_MR) * (size_t)s->out_c + (size_t)base;
                if (narrow)
                    tile8(s, panel + (size_t)t * tile_elems, w, base, o, rows);
                else
                    tile16(s, panel + (size_t)t * tile_elems, w, base, o, rows);
            }
        }
    }
}

/* DEPTHWISE_CONV_2D (8-bit, depth multiplier 1) on AVX2.
 *
 * Channels are contiguous in NHWC, so 16 channels are one vector. Taps go
 * in pairs (a, b): the widened 16 channels of both taps are interleaved
 * with the in-lane unpacks, which leaves (x_a[c], x_b[c]) pairs of
 * channels {0-3, 8-11} in one vector and {4-7, 12-15} in the other (the
 * lane order of conv8_simd.h); vpmaddwd with the weights packed the same
 * way gives x_a w_a + x_b w_b per channel, exactly. An odd last tap pairs
 * with a zero weight. Each output pixel gets a table of tap pointers;
 * padding taps point at a row of zero-point bytes. */
#include "kernels/x86/conv8.h"

#include <string.h>

size_t c8_dw_weight_bytes(const c8_conv *s)
{
    return (size_t)s->n_pad * (size_t)s->pairs * 2 * sizeof(int16_t);
}

void c8_dw_pack(c8_conv *s, const uint8_t *w, int w_signed, int32_t w_zp, const int32_t *bias, uint32_t *fold)
{
    const size_t c = (size_t)s->in_c;
#define WEIGHT(t, ch) ((w_signed ? (int32_t)(int8_t)w[(size_t)(t) * c + (size_t)(ch)] \
                                 : (int32_t)w[(size_t)(t) * c + (size_t)(ch)]) - w_zp)
    c8_fold(w, w_signed, w_zp, 1, c, s->taps, bias, s->in_zp, s->in_c, fold);
    /* [block][pair][lanes of the block's vectors][2 taps]; blocks of 16
     * channels (AVX2) or 32 (AVX-512), lanes in the table order */
    const int block = s->order == C8_ORDER_DW512 ? 32 : 16;
    int16_t *dst = (int16_t *)s->w;
    for (int base = 0; base < s->n_pad; base += block) {
        for (int p = 0; p < s->pairs; p++) {
            for (int j = 0; j < block; j++, dst += 2) {
                int ch = c8_lane_channel(base + j, s->n_pad, s->order, 0);
                for (int e = 0; e < 2; e++) {
                    int t = 2 * p + e;
                    dst[e] = (int16_t)(ch < s->in_c && t < s->taps ? WEIGHT(t, ch) : 0);
                }
            }
        }
    }
#undef WEIGHT
}

/* pshufb indices moving the last n bytes of a vector to its front and
 * zeroing the rest: read 16 bytes from offset 16 - n. */
static const uint8_t tail_shift[32] = { 0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,
                                        11,   12,   13,   14,   15,   0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 };

/* 16 channels from p (n of them exist there). A short last block of a row
 * of more than 16 channels is one load ending at its last channel (the
 * bytes before it are the row's own), moved down: no copy per tap. */
LD_C8_INLINE __m256i load16(const uint8_t *p, int n, int overlap, int is_signed)
{
    __m128i b;
    if (n >= 16) {
        b = _mm_loadu_si128((const __m128i *)p);
    } else if (overlap) {
        b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + n - 16)),
                             _mm_loadu_si128((const __m128i *)(tail_shift + 16 - n)));
    } else if (n == 8) {
        b = _mm_loadl_epi64((const __m128i *)p);
    } else {
        uint8_t tmp[16] = { 0 };
        memcpy(tmp, p, (size_t)n);
        b = _mm_loadu_si128((const __m128i *)tmp);
    }
    return is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
}

/* One output pixel: every channel block over the tap pairs. */
LD_C8_INLINE void pixel(const c8_conv *s, const uint8_t *const *tp, uint8_t *out, int is_signed)
{
    const int16_t *w = (const int16_t *)s->w;
    const int overlap = s->in_c > 16;
    for (int base = 0; base < s->n_pad; base += 16) {
        const int n = s->in_c - base;
        __m256i acc0 = _mm256_loadu_si256((const __m256i *)(s->q.fold + base));
        __m256i acc1 = _mm256_loadu_si256((const __m256i *)(s->q.fold + base + 8));
        for (int p = 0; p < s->pairs; p++, w += 32) {
            __m256i xa = load16(tp[2 * p] + base, n, overlap, is_signed);
            __m256i xb = load16(tp[2 * p + 1] + base, n, overlap, is_signed);
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb),
                                                            _mm256_load_si256((const __m256i *)w)));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb),
                                                            _mm256_load_si256((const __m256i *)(w + 16))));
        }
        c8_store16(out + base, c8_requant8(acc0, &s->q, base), c8_requant8(acc1, &s->q, base + 8), n,
                   s->q.out_signed);
    }
}

C8_DW_DRIVER(c8_dw_run, LD_C8_AVX2, pixel)

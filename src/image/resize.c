/* Bilinear resize, whole-image and streamed (see resize.h). */
#include "image/resize.h"

#include <string.h>

#define LD_W_BITS 11
#define LD_W_ONE (1 << LD_W_BITS)
/* Columns whose sampling the whole-image resize computes at once, on the stack. */
#define LD_RESIZE_CHUNK 256

/* Sample position of output index d on an axis src -> dst:
 * s = (d + 0.5) * src / dst - 0.5 = num / den with integers
 * num = (2d + 1) * src - dst, den = 2 * dst, evaluated exactly. */
static ld_axis_sample axis_at(int d, int src, int dst)
{
    ld_axis_sample a = {0, 0, 0};
    int64_t num = (int64_t)(2 * (int64_t)d + 1) * src - dst, den = 2 * (int64_t)dst;
    if (num <= 0)
        return a; /* left of the first centre: clamp */
    int64_t i0 = num / den, rem = num % den;
    if (i0 >= src - 1) {
        a.i0 = a.i1 = src - 1;
        return a;
    }
    a.i0 = (int)i0;
    a.i1 = (int)i0 + 1;
    a.w1 = (int)((rem * 2 * LD_W_ONE + den) / (2 * den)); /* round half up */
    return a;
}

/* n output pixels from source rows r0 (weight 2048 - wy1) and r1 (wy1). */
static void blend_row(const uint8_t *r0, const uint8_t *r1, int wy, const ld_axis_sample *xs, int n, uint8_t *o)
{
    uint32_t wy1 = (uint32_t)wy, wy0 = LD_W_ONE - wy1;
    for (int i = 0; i < n; i++) {
        const ld_axis_sample *a = &xs[i];
        uint32_t wx1 = (uint32_t)a->w1, wx0 = LD_W_ONE - wx1;
        const uint8_t *p00 = r0 + (size_t)a->i0 * 3, *p01 = r0 + (size_t)a->i1 * 3;
        const uint8_t *p10 = r1 + (size_t)a->i0 * 3, *p11 = r1 + (size_t)a->i1 * 3;
        for (int c = 0; c < 3; c++) {
            uint32_t top = p00[c] * wx0 + p01[c] * wx1;
            uint32_t bot = p10[c] * wx0 + p11[c] * wx1;
            uint32_t v = top * wy0 + bot * wy1; /* <= 255 * 2^22 */
            *o++ = (uint8_t)((v + (1u << (2 * LD_W_BITS - 1))) >> (2 * LD_W_BITS));
        }
    }
}

void ld_resize_bilinear_rgb8(const uint8_t *src, int sw, int sh, size_t sstride, uint8_t *dst, int dw, int dh,
                             size_t dstride)
{
    ld_axis_sample xs[LD_RESIZE_CHUNK];
    for (int x0 = 0; x0 < dw; x0 += LD_RESIZE_CHUNK) {
        int nx = dw - x0 < LD_RESIZE_CHUNK ? dw - x0 : LD_RESIZE_CHUNK;
        for (int i = 0; i < nx; i++)
            xs[i] = axis_at(x0 + i, sw, dw);
        for (int y = 0; y < dh; y++) {
            ld_axis_sample ys = axis_at(y, sh, dh);
            blend_row(src + (size_t)ys.i0 * sstride, src + (size_t)ys.i1 * sstride, ys.w1, xs, nx,
                      dst + (size_t)y * dstride + (size_t)x0 * 3);
        }
    }
}

/* ---- Streamed: the decoder writes source row y into ring slot y & 1. */

static size_t xs_bytes(int dw)
{
    size_t n = (size_t)dw * sizeof(ld_axis_sample);
    return (n + 63) / 64 * 64; /* the rows start on a cache line */
}

size_t ld_resize_stream_bytes(int sw, int dw)
{
    return xs_bytes(dw) + 2 * (size_t)sw * 3;
}

static uint8_t *stream_row(void *ctx, int y)
{
    ld_resize_stream *s = ctx;
    return s->ring + (size_t)(y & 1) * s->row_bytes;
}

/* Source row y is in: write every output row whose lower sample row is y.
 * Its upper one is y - 1 or y itself, still in the ring. */
static void stream_done(void *ctx, int y)
{
    ld_resize_stream *s = ctx;
    while (s->next < s->dst_h) {
        ld_axis_sample ys = axis_at(s->next, s->src_h, s->dst_h);
        if (ys.i1 > y)
            return;
        blend_row(stream_row(s, ys.i0), stream_row(s, ys.i1), ys.w1, s->xs, s->dst_w,
                  s->dst + (size_t)s->next * s->dst_stride);
        s->next++;
    }
}

void ld_resize_stream_init(ld_resize_stream *s, int sw, int sh, uint8_t *dst, int dw, int dh, size_t dst_stride,
                           void *scratch)
{
    memset(s, 0, sizeof *s);
    s->src_h = sh;
    s->dst_w = dw;
    s->dst_h = dh;
    s->xs = scratch;
    s->ring = (uint8_t *)scratch + xs_bytes(dw);
    s->row_bytes = (size_t)sw * 3;
    s->dst = dst;
    s->dst_stride = dst_stride;
    for (int i = 0; i < dw; i++)
        s->xs[i] = axis_at(i, sw, dw);
    s->sink.width = sw;
    s->sink.height = sh;
    s->sink.row = stream_row;
    s->sink.done = stream_done;
    s->sink.ctx = s;
}

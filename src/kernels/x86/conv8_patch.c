/* Where the kernels read their inputs: output pixel positions walked in
 * order; the pointers to each tap of a pixel (padding taps point at
 * zero-point bytes), with the shortcut for pixels whose taps all lie
 * inside the input; and the patch (f_h * f_w * in_c bytes, weight order)
 * of a pixel, gathered, or read in place for a 1x1 convolution without
 * padding. */
#include "kernels/x86/conv8.h"

#include <string.h>

void c8_pos_init(const c8_conv *s, int m, c8_pos *p)
{
    int per_image = s->win.out_h * s->win.out_w;
    p->b = m / per_image;
    int r = m % per_image;
    p->oy = r / s->win.out_w;
    p->ox = r % s->win.out_w;
}

/* 1x1 without padding: the input pixel under the output pixel. */
static const uint8_t *direct_row(const c8_conv *s, const uint8_t *in, const c8_pos *p)
{
    const ld_window *w = &s->win;
    size_t pix = ((size_t)p->b * (size_t)w->in_h + (size_t)(p->oy * w->stride_h)) * (size_t)w->in_w +
                 (size_t)(p->ox * w->stride_w);
    return in + pix * (size_t)s->in_c;
}

/* memcpy for the short runs of small-channel patches: fixed-size copies
 * (single moves) instead of a library call. */
static inline void copy_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n >= 16) {
        memcpy(dst, src, n);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    }
}

void c8_gather(const c8_conv *s, const uint8_t *in, const c8_pos *p, uint8_t *dst)
{
    const ld_window *w = &s->win;
    const size_t c = (size_t)s->in_c, run = (size_t)w->f_w * c;
    const int iy0 = p->oy * w->stride_h - w->pad_h, ix0 = p->ox * w->stride_w - w->pad_w;
    for (int ky = 0; ky < w->f_h; ky++, dst += run) {
        int iy = iy0 + ky * w->dil_h;
        if (iy < 0 || iy >= w->in_h) {
            memset(dst, s->zp_byte, run);
            continue;
        }
        const uint8_t *row = in + ((size_t)p->b * (size_t)w->in_h + (size_t)iy) * (size_t)w->in_w * c;
        if (w->dil_w == 1 && ix0 >= 0 && ix0 + w->f_w <= w->in_w) {
            copy_bytes(dst, row + (size_t)ix0 * c, run);
            continue;
        }
        for (int kx = 0; kx < w->f_w; kx++) {
            int ix = ix0 + kx * w->dil_w;
            if (ix < 0 || ix >= w->in_w)
                memset(dst + (size_t)kx * c, s->zp_byte, c);
            else
                copy_bytes(dst + (size_t)kx * c, row + (size_t)ix * c, c);
        }
    }
}

void c8_tap_plan(c8_conv *s)
{
    const ld_window *w = &s->win;
    int t = 0;
    for (int ky = 0; ky < w->f_h; ky++)
        for (int kx = 0; kx < w->f_w; kx++)
            s->tap_off[t++] = ((ptrdiff_t)ky * w->dil_h * w->in_w + (ptrdiff_t)kx * w->dil_w) * s->in_c;
}

void c8_tap_pointers(const c8_conv *s, const uint8_t *in, const c8_pos *p, const uint8_t **tp)
{
    const ld_window *w = &s->win;
    const size_t c = (size_t)s->in_c;
    const int iy0 = p->oy * w->stride_h - w->pad_h, ix0 = p->ox * w->stride_w - w->pad_w;
    if (iy0 >= 0 && iy0 + (w->f_h - 1) * w->dil_h < w->in_h && ix0 >= 0 && ix0 + (w->f_w - 1) * w->dil_w < w->in_w) {
        /* inside: fixed offsets from tap (0, 0) */
        const uint8_t *origin =
            in + (((size_t)p->b * (size_t)w->in_h + (size_t)iy0) * (size_t)w->in_w + (size_t)ix0) * c;
        for (int t = 0, n = w->f_h * w->f_w; t < n; t++)
            tp[t] = origin + s->tap_off[t];
        return;
    }
    for (int ky = 0; ky < w->f_h; ky++) {
        const int iy = iy0 + ky * w->dil_h;
        const int row_in = iy >= 0 && iy < w->in_h;
        const uint8_t *row = in + ((size_t)p->b * (size_t)w->in_h + (size_t)(row_in ? iy : 0)) * (size_t)w->in_w * c;
        for (int kx = 0; kx < w->f_w; kx++) {
            const int ix = ix0 + kx * w->dil_w;
            *tp++ = row_in && ix >= 0 && ix < w->in_w ? row + (size_t)ix * c : s->zrow;
        }
    }
}

void c8_interior_cols(const c8_conv *s, int oy, int *lo, int *hi)
{
    const ld_window *w = &s->win;
    const int iy0 = oy * w->stride_h - w->pad_h;
    *lo = 0;
    *hi = 0;
    if (iy0 < 0 || iy0 + (w->f_h - 1) * w->dil_h >= w->in_h)
        return;
    /* ix0 = ox * stride - pad >= 0 and ix0 + (f_w - 1) * dil <= in_w - 1 */
    *lo = (w->pad_w + w->stride_w - 1) / w->stride_w;
    int last = w->in_w - 1 - (w->f_w - 1) * w->dil_w + w->pad_w; /* largest ox * stride */
    *hi = last < 0 ? 0 : last / w->stride_w + 1;
    if (*hi > w->out_w)
        *hi = w->out_w;
    if (*lo > *hi)
        *lo = *hi;
}

void c8_cursor_init(c8_cursor *c, const c8_conv *s, int m)
{
    c8_pos_init(s, m, &c->p);
    c8_interior_cols(s, c->p.oy, &c->lo, &c->hi);
    c->step = (ptrdiff_t)s->win.stride_w * s->in_c;
    c->loaded = 0;
    c->tp[s->taps] = s->zrow;
}

const uint8_t *c8_patch_row(const c8_conv *s, const uint8_t *in, c8_pos *p, uint8_t *tmp)
{
    const uint8_t *row;
    if (s->direct) {
        row = direct_row(s, in, p);
    } else {
        c8_gather(s, in, p, tmp);
        row = tmp;
    }
    c8_pos_next(s, p);
    return row;
}

/* RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR on NHWC with the output size
 * [h, w] from constant input 1, bit-exact with TFLite's kReference kernels:
 *  - bilinear float32 and uint8: reference_ops::ResizeBilinear, float
 *    coordinates and weights; 8-bit results add 0.5 and truncate;
 *  - bilinear int8: reference_ops::ResizeBilinearInteger, coordinates in
 *    1/1024 steps and a rounded (away from zero) 20-bit product;
 *  - nearest: reference_ops::ResizeNearestNeighbor on any element type. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

typedef struct resize_geom {
    int32_t batches, in_h, in_w, depth, out_h, out_w;
} resize_geom;

static leandet_status read_size(ld_op_ctx *c, int32_t *size)
{
    int n;
    if (c->in[1]->shape.rank != 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "size input must be 1-D, has rank %d", c->in[1]->shape.rank);
    leandet_status st = ld_const_ints(c, 1, size, 2, &n);
    if (st != LEANDET_OK)
        return st;
    if (n != 2 || size[0] <= 0 || size[1] <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "size must be two positive values [height, width]");
    return LEANDET_OK;
}

static leandet_status resize_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 2, 2, NULL);
    if (st == LEANDET_OK)
        st = ld_check_rank(c, c->in[0], "input 0", 4);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0];
    const ld_resize_params *p = &c->op->params.resize;
    if (c->op->builtin == LD_OP_RESIZE_BILINEAR) {
        if (in->type != LEANDET_FLOAT32 && in->type != LEANDET_UINT8 && in->type != LEANDET_INT8)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input is %s, expected float32/uint8/int8",
                              leandet_dtype_name(in->type));
        if (p->align_corners && p->half_pixel_centers)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "align_corners and half_pixel_centers are both set");
    }
    int32_t size[2];
    if ((st = read_size(c, size)) != LEANDET_OK)
        return st;
    ld_shape s = { 4, { in->shape.d[0], size[0], size[1], in->shape.d[3] } };
    return ld_set_output_shape(c, 0, &s);
}

static resize_geom geometry(const ld_op_ctx *c)
{
    const ld_shape *i = &c->in[0]->shape, *o = &c->out[0]->shape;
    resize_geom g = { i->d[0], i->d[1], i->d[2], i->d[3], o->d[1], o->d[2] };
    return g;
}

/* ---- nearest neighbour ---- */

static int32_t nearest(int32_t x, int32_t in, int32_t out, int align, int half)
{
    float scale = align && out > 1 ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    float v = ((float)x + (half ? 0.5f : 0.0f)) * scale;
    int32_t r = align ? (int32_t)roundf(v) : (int32_t)floorf(v);
    if (r > in - 1)
        r = in - 1;
    if (half && r < 0)
        r = 0;
    return r;
}

static leandet_status nearest_eval(ld_op_ctx *c)
{
    resize_geom g = geometry(c);
    const ld_resize_params *p = &c->op->params.resize;
    size_t es = leandet_dtype_size(c->out[0]->type);
    size_t row = (size_t)g.depth * es;
    const unsigned char *src = c->in[0]->data;
    unsigned char *dst = c->out[0]->data;
    for (int32_t b = 0; b < g.batches; b++) {
        const unsigned char *img = src + (size_t)b * g.in_h * g.in_w * row;
        for (int32_t y = 0; y < g.out_h; y++) {
            int32_t iy = nearest(y, g.in_h, g.out_h, p->align_corners, p->half_pixel_centers);
            for (int32_t x = 0; x < g.out_w; x++) {
                int32_t ix = nearest(x, g.in_w, g.out_w, p->align_corners, p->half_pixel_centers);
                memcpy(dst, img + ((size_t)iy * g.in_w + ix) * row, row);
                dst += row;
            }
        }
    }
    return LEANDET_OK;
}

/* ---- bilinear, float coordinates (float32 and uint8) ---- */

typedef struct lerp_f {
    float v;        /* source coordinate */
    int32_t lo, hi; /* the two source pixels */
} lerp_f;

static float bilinear_scale(int32_t in, int32_t out, int align)
{
    return align && out > 1 ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
}

static lerp_f lerp_float(int32_t x, float scale, int half, int32_t in)
{
    lerp_f l;
    l.v = half ? ((float)x + 0.5f) * scale - 0.5f : (float)x * scale;
    int32_t f = (int32_t)floorf(l.v), ce = (int32_t)ceilf(l.v);
    l.lo = f > 0 ? f : 0;
    l.hi = ce < in - 1 ? ce : in - 1;
    return l;
}

/* The four-term weighted sum exactly as TFLite writes it (same order of
 * float operations). */
static float blend(float v00, float v10, float v01, float v11, const lerp_f *ly, const lerp_f *lx)
{
    float dy = ly->v - (float)ly->lo, dx = lx->v - (float)lx->lo;
    return v00 * (1 - dy) * (1 - dx) + v10 * dy * (1 - dx) + v01 * (1 - dy) * dx + v11 * dy * dx;
}

static void bilinear_float_eval(ld_op_ctx *c, resize_geom g)
{
    const ld_resize_params *p = &c->op->params.resize;
    float hs = bilinear_scale(g.in_h, g.out_h, p->align_corners);
    float ws = bilinear_scale(g.in_w, g.out_w, p->align_corners);
    int u8 = c->in[0]->type == LEANDET_UINT8;
    size_t in_img = (size_t)g.in_h * g.in_w * g.depth, px = (size_t)g.depth;
    size_t o = 0;
    for (int32_t b = 0; b < g.batches; b++) {
        size_t base = (size_t)b * in_img;
        for (int32_t y = 0; y < g.out_h; y++) {
            lerp_f ly = lerp_float(y, hs, p->half_pixel_centers, g.in_h);
            for (int32_t x = 0; x < g.out_w; x++) {
                lerp_f lx = lerp_float(x, ws, p->half_pixel_centers, g.in_w);
                size_t i00 = base + ((size_t)ly.lo * g.in_w + lx.lo) * px;
                size_t i10 = base + ((size_t)ly.hi * g.in_w + lx.lo) * px;
                size_t i01 = base + ((size_t)ly.lo * g.in_w + lx.hi) * px;
                size_t i11 = base + ((size_t)ly.hi * g.in_w + lx.hi) * px;
                for (int32_t d = 0; d < g.depth; d++, o++) {
                    if (u8) {
                        const uint8_t *in = c->in[0]->data;
                        float v = blend(in[i00 + d], in[i10 + d], in[i01 + d], in[i11 + d], &ly, &lx) + 0.5f;
                        ((uint8_t *)c->out[0]->data)[o] = (uint8_t)(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
                    } else {
                        const float *in = c->in[0]->data;
                        /* TFLite adds a 0.0f rounding offset here, which turns -0.0 into +0.0. */
                        ((float *)c->out[0]->data)[o] =
                            blend(in[i00 + d], in[i10 + d], in[i01 + d], in[i11 + d], &ly, &lx) + 0.0f;
                    }
                }
            }
        }
    }
}

/* ---- bilinear int8: fixed point with 10 fractional bits ---- */

typedef struct lerp_q {
    int64_t v;      /* source coordinate * 1024 */
    int64_t lo, hi;
} lerp_q;

static int64_t scale10(int64_t in, int64_t out, int align)
{
    if (align && out > 1)
        return (1024 * (in - 1) + (out - 1) / 2) / (out - 1);
    return (1024 * in + out / 2) / out;
}

static lerp_q lerp_int(int64_t x, int64_t s10, int half, int64_t in)
{
    lerp_q l;
    l.v = half ? x * s10 + s10 / 2 - 512 : x * s10;
    int64_t f = l.v / 1024, ce = (l.v + 1023) / 1024; /* C division truncates, as TFLite's does */
    l.lo = f > 0 ? f : 0;
    l.hi = ce < in - 1 ? ce : in - 1;
    return l;
}

static void bilinear_int8_eval(ld_op_ctx *c, resize_geom g)
{
    const ld_resize_params *p = &c->op->params.resize;
    int64_t hs = scale10(g.in_h, g.out_h, p->align_corners), ws = scale10(g.in_w, g.out_w, p->align_corners);
    const int8_t *in = c->in[0]->data;
    int8_t *out = c->out[0]->data;
    size_t in_img = (size_t)g.in_h * g.in_w * g.depth, px = (size_t)g.depth, o = 0;
    for (int32_t b = 0; b < g.batches; b++) {
        size_t base = (size_t)b * in_img;
        for (int32_t y = 0; y < g.out_h; y++) {
            lerp_q ly = lerp_int(y, hs, p->half_pixel_centers, g.in_h);
            int64_t wy1 = ly.v - 1024 * ly.lo, wy0 = 1024 - wy1;
            for (int32_t x = 0; x < g.out_w; x++) {
                lerp_q lx = lerp_int(x, ws, p->half_pixel_centers, g.in_w);
                int64_t wx1 = lx.v - 1024 * lx.lo, wx0 = 1024 - wx1;
                size_t i00 = base + ((size_t)ly.lo * g.in_w + (size_t)lx.lo) * px;
                size_t i10 = base + ((size_t)ly.hi * g.in_w + (size_t)lx.lo) * px;
                size_t i01 = base + ((size_t)ly.lo * g.in_w + (size_t)lx.hi) * px;
                size_t i11 = base + ((size_t)ly.hi * g.in_w + (size_t)lx.hi) * px;
                for (int32_t d = 0; d < g.depth; d++, o++) {
                    int64_t acc = in[i00 + d] * wy0 * wx0 + in[i10 + d] * wy1 * wx0 + in[i01 + d] * wy0 * wx1 +
                                  in[i11 + d] * wy1 * wx1;
                    int64_t r = (acc + (acc > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20);
                    out[o] = (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
                }
            }
        }
    }
}

static leandet_status bilinear_eval(ld_op_ctx *c)
{
    resize_geom g = geometry(c);
    if (c->in[0]->type == LEANDET_INT8)
        bilinear_int8_eval(c, g);
    else
        bilinear_float_eval(c, g);
    return LEANDET_OK;
}

const ld_kernel ld_ref_resize[] = {
    { LD_OP_RESIZE_BILINEAR, NULL, resize_prepare, bilinear_eval },
    { LD_OP_RESIZE_NEAREST_NEIGHBOR, NULL, resize_prepare, nearest_eval },
    LD_KERNEL_TABLE_END,
};

#include "kernels/ref/conv_window.h"

#include <limits.h>

#include "kernels/quant.h"

/* One spatial axis: sizes are checked in 64 bits so that every later int
 * expression (origin + tap * dilation, (out - 1) * stride + extent) fits. */
static leandet_status axis_init(ld_op_ctx *c, const char *axis, ld_padding padding, int in, int f, int stride,
                                int dil, int *out, int *pad)
{
    if (in <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input %s is %d, expected > 0", axis, in);
    if (f <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "filter %s is %d, expected > 0", axis, f);
    if (stride <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "stride %s is %d, expected > 0", axis, stride);
    if (dil <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "dilation %s is %d, expected > 0", axis, dil);
    if (padding != LD_PAD_SAME && padding != LD_PAD_VALID)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "padding %d is neither SAME nor VALID", (int)padding);
    int64_t extent = (int64_t)(f - 1) * dil + 1;
    if (extent + in > INT_MAX / 2 || (int64_t)in + stride > INT_MAX / 2)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s sizes too large (input %d, filter %d, dilation %d, stride %d)",
                          axis, in, f, dil, stride);
    *out = ld_conv_out_size(padding, in, f, stride, dil);
    if (*out <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL,
                          "VALID window %s of %lld (filter %d, dilation %d) is larger than input %d", axis,
                          (long long)extent, f, dil, in);
    int offset;
    *pad = ld_conv_padding(stride, dil, in, f, *out, &offset);
    return LEANDET_OK;
}

leandet_status ld_window_init(ld_op_ctx *c, ld_padding padding, int in_h, int in_w, int f_h, int f_w,
                              int stride_h, int stride_w, int dil_h, int dil_w, ld_window *w)
{
    leandet_status st = axis_init(c, "height", padding, in_h, f_h, stride_h, dil_h, &w->out_h, &w->pad_h);
    if (st == LEANDET_OK)
        st = axis_init(c, "width", padding, in_w, f_w, stride_w, dil_w, &w->out_w, &w->pad_w);
    if (st != LEANDET_OK)
        return st;
    w->in_h = in_h;
    w->in_w = in_w;
    w->f_h = f_h;
    w->f_w = f_w;
    w->stride_h = stride_h;
    w->stride_w = stride_w;
    w->dil_h = dil_h;
    w->dil_w = dil_w;
    return LEANDET_OK;
}

void ld_window_for_each(const ld_op_ctx *c, const ld_window *w, int batches, ld_span_fn fn)
{
    ld_span p;
    size_t pixel = 0;
    for (p.b = 0; p.b < batches; p.b++) {
        for (int oy = 0; oy < w->out_h; oy++) {
            p.iy0 = oy * w->stride_h - w->pad_h;
            ld_window_taps(p.iy0, w->dil_h, w->f_h, w->in_h, &p.ky0, &p.ky1);
            for (int ox = 0; ox < w->out_w; ox++, pixel++) {
                p.ix0 = ox * w->stride_w - w->pad_w;
                ld_window_taps(p.ix0, w->dil_w, w->f_w, w->in_w, &p.kx0, &p.kx1);
                fn(c, &p, pixel);
            }
        }
    }
}

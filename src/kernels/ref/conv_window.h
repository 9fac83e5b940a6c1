/* Sliding-window geometry shared by CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D
 * and MAX_POOL_2D: output size and leading padding as TFLite's
 * ComputePaddingHeightWidth computes them (padding.h), and the range of
 * filter taps that fall inside the input (TFLite skips the others, which is
 * what makes SAME padding "zero padding" in every type). */
#ifndef LD_KERNELS_REF_CONV_WINDOW_H
#define LD_KERNELS_REF_CONV_WINDOW_H

#include "kernels/kernel.h"

typedef struct ld_window {
    int in_h, in_w;
    int f_h, f_w;             /* filter or pool window size */
    int stride_h, stride_w;
    int dil_h, dil_w;
    int out_h, out_w;
    int pad_h, pad_w;         /* leading padding; an odd extra pixel goes at the far end */
} ld_window;

/* Validate the window parameters (all positive, sizes that cannot overflow
 * int arithmetic, a non-empty output) and compute out_* and pad_*. Errors
 * name the op through ld_op_fail. */
leandet_status ld_window_init(ld_op_ctx *c, ld_padding padding, int in_h, int in_w, int f_h, int f_w,
                              int stride_h, int stride_w, int dil_h, int dil_w, ld_window *w);

/* Taps k in [*lo, *hi) of a filter with `taps` taps spaced `dil` apart,
 * starting at input coordinate `origin`, whose coordinate origin + k * dil
 * lies inside [0, size). */
static inline void ld_window_taps(int origin, int dil, int taps, int size, int *lo, int *hi)
{
    int a = origin < 0 ? (-origin + dil - 1) / dil : 0;
    int b = taps;
    if (size - origin <= 0) {
        b = 0;
    } else {
        int fit = (size - origin - 1) / dil + 1;
        if (fit < b)
            b = fit;
    }
    *lo = a;
    *hi = b > a ? b : a;
}

/* The taps of one output pixel that fall inside the input. */
typedef struct ld_span {
    int b, iy0, ix0;          /* batch; input coordinates of tap (0, 0) */
    int ky0, ky1, kx0, kx1;   /* taps inside the input: [ky0, ky1) x [kx0, kx1) */
} ld_span;

/* Called for every output pixel in NHWC order; `pixel` counts them from 0. */
typedef void (*ld_span_fn)(const ld_op_ctx *c, const ld_span *p, size_t pixel);

void ld_window_for_each(const ld_op_ctx *c, const ld_window *w, int batches, ld_span_fn fn);

#endif

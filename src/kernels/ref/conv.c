/* CONV_2D and DEPTHWISE_CONV_2D reference kernels (NHWC), bit-exact with
 * TensorFlow Lite's reference_ops::Conv / DepthwiseConv (uint8),
 * reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel (int8) and
 * the float reference kernels (same summation order).
 *
 * Weights: CONV_2D [out_c, f_h, f_w, in_c / groups], DEPTHWISE_CONV_2D
 * [1, f_h, f_w, in_c * depth_multiplier]. As in TFLite the depth multiplier
 * comes from the shapes, not from the option. Taps outside the input are
 * skipped, which is zero padding in real terms. */
#include <stdint.h>

#include "kernels/ref/conv_quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/ref/ref.h"

typedef struct conv_state {
    ld_window win;
    int batches, in_c, out_c;
    int f_in_c;          /* CONV_2D: input channels per group */
    int per_group;       /* CONV_2D: output channels per group; DEPTHWISE: depth multiplier */
    int quantized;
    float f_lo, f_hi;    /* float activation range */
    ld_conv_quant q;
    int32_t *mult;       /* out_c entries each, inside this block */
    int32_t *shift;
} conv_state;

static const void *bias_data(const ld_op_ctx *c)
{
    return c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
}

static leandet_status prepare(ld_op_ctx *c, int depthwise)
{
    leandet_status st = ld_check_io(c, 2, 3, 1);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0], *w = c->in[1], *bias = c->n_in > 2 ? c->in[2] : NULL;
    ld_tensor *out = c->out[0];
    const ld_conv_params *p = &c->op->params.conv;
    if ((st = ld_check_rank(c, in, "input", 4)) != LEANDET_OK || (st = ld_check_rank(c, w, "weights", 4)) != LEANDET_OK)
        return st;

    conv_state s = { 0 };
    s.batches = in->shape.d[0];
    s.in_c = in->shape.d[3];
    if (s.in_c <= 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input '%s' has %d channels", ld_conv_tname(in), s.in_c);
    if (depthwise) {
        s.out_c = w->shape.d[3];
        if (w->shape.d[0] != 1)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' dimension 0 is %d, expected 1", ld_conv_tname(w),
                              w->shape.d[0]);
        if (s.out_c <= 0 || s.out_c % s.in_c != 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' have %d channels, not a multiple of the input's %d",
                              ld_conv_tname(w), s.out_c, s.in_c);
        s.per_group = s.out_c / s.in_c;
    } else {
        s.out_c = w->shape.d[0];
        s.f_in_c = w->shape.d[3];
        if (s.f_in_c <= 0 || s.in_c % s.f_in_c != 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "weights '%s' take %d input channels, input '%s' has %d",
                              ld_conv_tname(w), s.f_in_c, ld_conv_tname(in), s.in_c);
        int groups = s.in_c / s.f_in_c;
        if (s.out_c <= 0 || s.out_c % groups != 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "%d output channels cannot be split into %d groups", s.out_c,
                              groups);
        s.per_group = s.out_c / groups;
    }
    if ((st = ld_conv_check_operands(c, in, w, bias, out, s.out_c, depthwise ? 3 : 0, 0, &s.quantized)) != LEANDET_OK ||
        (st = ld_conv_check_act(c, p->act, out)) != LEANDET_OK)
        return st;
    if ((st = ld_window_init(c, p->padding, in->shape.d[1], in->shape.d[2], w->shape.d[1], w->shape.d[2], p->stride_h,
                             p->stride_w, p->dilation_h, p->dilation_w, &s.win)) != LEANDET_OK)
        return st;
    ld_act_range_float(p->act, &s.f_lo, &s.f_hi);
    if (s.quantized)
        ld_conv_quant_init(&s.q, in, w, out, p->act);

    out->shape.rank = 4;
    out->shape.d[0] = s.batches;
    out->shape.d[1] = s.win.out_h;
    out->shape.d[2] = s.win.out_w;
    out->shape.d[3] = s.out_c;

    size_t n = s.quantized ? (size_t)s.out_c : 0;
    conv_state *keep = ld_malloc(c->alloc, sizeof *keep + 2 * n * sizeof(int32_t));
    if (!keep)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of state",
                          sizeof *keep + 2 * n * sizeof(int32_t));
    *keep = s;
    keep->mult = (int32_t *)(keep + 1);
    keep->shift = keep->mult + n;
    /* uint8 keeps TFLite's legacy float-product multiplier */
    if (s.quantized &&
        (st = ld_conv_multipliers(c, in, w, out, s.out_c, in->type == LEANDET_UINT8, keep->mult, keep->shift)) !=
            LEANDET_OK) {
        ld_free(c->alloc, keep);
        return st;
    }
    c->state = keep;
    return LEANDET_OK;
}

static leandet_status conv_prepare(ld_op_ctx *c)
{
    return prepare(c, 0);
}

static leandet_status dw_prepare(ld_op_ctx *c)
{
    return prepare(c, 1);
}

/* Index of the input element under tap (ky, kx), channel 0. */
static inline size_t tap(const conv_state *s, const ld_span *p, int ky, int kx)
{
    const ld_window *wn = &s->win;
    size_t y = (size_t)(p->iy0 + ky * wn->dil_h), x = (size_t)(p->ix0 + kx * wn->dil_w);
    return (((size_t)p->b * wn->in_h + y) * wn->in_w + x) * s->in_c;
}

/* Index of weight (ky, kx), channel 0, in a [.., f_h, f_w, depth] filter. */
static inline size_t wtap(const conv_state *s, int ky, int kx, int depth)
{
    return ((size_t)ky * s->win.f_w + (size_t)kx) * (size_t)depth;
}

static void conv_pixel_q8(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const conv_state *s = c->state;
    const size_t o = pixel * (size_t)s->out_c;
    const uint8_t *x = c->in[0]->data, *w = c->in[1]->data;
    const int32_t *bias = bias_data(c);
    const ld_conv_quant *q = &s->q;
    uint8_t *y = (uint8_t *)c->out[0]->data + o;
    const size_t w_per_oc = (size_t)s->win.f_h * (size_t)s->win.f_w * (size_t)s->f_in_c;
    for (int oc = 0; oc < s->out_c; oc++) {
        const size_t group = (size_t)(oc / s->per_group) * (size_t)s->f_in_c;
        const uint8_t *wo = w + (size_t)oc * w_per_oc;
        uint32_t acc = 0;
        for (int ky = p->ky0; ky < p->ky1; ky++) {
            for (int kx = p->kx0; kx < p->kx1; kx++) {
                const uint8_t *xp = x + tap(s, p, ky, kx) + group, *wp = wo + wtap(s, ky, kx, s->f_in_c);
                for (int i = 0; i < s->f_in_c; i++)
                    acc += (uint32_t)(((xp[i] ^ q->in_flip) + q->in_off) * ((wp[i] ^ q->w_flip) + q->w_off));
            }
        }
        if (bias)
            acc += (uint32_t)bias[oc];
        y[oc] = (uint8_t)ld_conv_requant(q, acc, s->mult[oc], s->shift[oc]);
    }
}

static void conv_pixel_f32(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const conv_state *s = c->state;
    const size_t o = pixel * (size_t)s->out_c;
    const float *x = c->in[0]->data, *w = c->in[1]->data;
    const float *bias = (const float *)bias_data(c);
    float *y = (float *)c->out[0]->data + o;
    const size_t w_per_oc = (size_t)s->win.f_h * (size_t)s->win.f_w * (size_t)s->f_in_c;
    for (int oc = 0; oc < s->out_c; oc++) {
        const size_t group = (size_t)(oc / s->per_group) * (size_t)s->f_in_c;
        const float *wo = w + (size_t)oc * w_per_oc;
        float total = 0.0f;
        for (int ky = p->ky0; ky < p->ky1; ky++) {
            for (int kx = p->kx0; kx < p->kx1; kx++) {
                const float *xp = x + tap(s, p, ky, kx) + group, *wp = wo + wtap(s, ky, kx, s->f_in_c);
                for (int i = 0; i < s->f_in_c; i++)
                    total += xp[i] * wp[i];
            }
        }
        y[oc] = ld_clampf(total + (bias ? bias[oc] : 0.0f), s->f_lo, s->f_hi);
    }
}

/* Depthwise output channel oc reads input channel oc / depth_multiplier. */
static void dw_pixel_q8(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const conv_state *s = c->state;
    const size_t o = pixel * (size_t)s->out_c;
    const uint8_t *x = c->in[0]->data, *w = c->in[1]->data;
    const int32_t *bias = bias_data(c);
    const ld_conv_quant *q = &s->q;
    uint8_t *y = (uint8_t *)c->out[0]->data + o;
    for (int oc = 0; oc < s->out_c; oc++) {
        const size_t ic = (size_t)(oc / s->per_group);
        uint32_t acc = 0;
        for (int ky = p->ky0; ky < p->ky1; ky++) {
            for (int kx = p->kx0; kx < p->kx1; kx++) {
                int xv = x[tap(s, p, ky, kx) + ic], wv = w[wtap(s, ky, kx, s->out_c) + (size_t)oc];
                acc += (uint32_t)(((xv ^ q->in_flip) + q->in_off) * ((wv ^ q->w_flip) + q->w_off));
            }
        }
        if (bias)
            acc += (uint32_t)bias[oc];
        y[oc] = (uint8_t)ld_conv_requant(q, acc, s->mult[oc], s->shift[oc]);
    }
}

static void dw_pixel_f32(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const conv_state *s = c->state;
    const size_t o = pixel * (size_t)s->out_c;
    const float *x = c->in[0]->data, *w = c->in[1]->data;
    const float *bias = (const float *)bias_data(c);
    float *y = (float *)c->out[0]->data + o;
    for (int oc = 0; oc < s->out_c; oc++) {
        const size_t ic = (size_t)(oc / s->per_group);
        float total = 0.0f;
        for (int ky = p->ky0; ky < p->ky1; ky++)
            for (int kx = p->kx0; kx < p->kx1; kx++)
                total += x[tap(s, p, ky, kx) + ic] * w[wtap(s, ky, kx, s->out_c) + (size_t)oc];
        y[oc] = ld_clampf(total + (bias ? bias[oc] : 0.0f), s->f_lo, s->f_hi);
    }
}

static leandet_status conv_eval(ld_op_ctx *c)
{
    const conv_state *s = c->state;
    ld_window_for_each(c, &s->win, s->batches, s->quantized ? conv_pixel_q8 : conv_pixel_f32);
    return LEANDET_OK;
}

static leandet_status dw_eval(ld_op_ctx *c)
{
    const conv_state *s = c->state;
    ld_window_for_each(c, &s->win, s->batches, s->quantized ? dw_pixel_q8 : dw_pixel_f32);
    return LEANDET_OK;
}

const ld_kernel ld_ref_conv[] = {
    { LD_OP_CONV_2D, NULL, conv_prepare, conv_eval },
    { LD_OP_DEPTHWISE_CONV_2D, NULL, dw_prepare, dw_eval },
    LD_KERNEL_TABLE_END,
};

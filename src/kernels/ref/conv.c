/* CONV_2D and DEPTHWISE_CONV_2D reference kernels (NHWC), bit-exact with
 * TensorFlow Lite's reference_ops::Conv / DepthwiseConv (uint8),
 * reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel (int8) and
 * the float reference kernels (same summation order), and hybrid
 * (float32 activations, int8 weights) as TFLite's reference hybrid kernels:
 * HybridConvPerChannel and DepthwiseConvHybridPerChannel when the weights
 * have distinct per-channel scales (depthwise always), the per-tensor
 * EvalHybrid path of CONV_2D otherwise (conv_quant.h).
 *
 * Weights: CONV_2D [out_c, f_h, f_w, in_c / groups], DEPTHWISE_CONV_2D
 * [1, f_h, f_w, in_c * depth_multiplier]. As in TFLite the depth multiplier
 * comes from the shapes, not from the option. Taps outside the input are
 * skipped, which is zero padding in real terms. */
#include <stdint.h>

#include "kernels/ref/conv_quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/ref/ref.h"

/* Hybrid kinds, as TensorFlow Lite picks them: per channel (asymmetric
 * input quantization, each channel scaled by its own weight scale) unless a
 * CONV_2D's weight scales are all equal, which it runs per tensor
 * (symmetric input quantization). */
enum { HYBRID_NONE = 0, HYBRID_PER_CHANNEL = 1, HYBRID_PER_TENSOR = 2 };

typedef struct conv_state {
    ld_window win;
    int batches, in_c, out_c;
    int f_in_c;          /* CONV_2D: input channels per group */
    int per_group;       /* CONV_2D: output channels per group; DEPTHWISE: depth multiplier */
    int quantized;
    int hybrid;          /* HYBRID_* */
    float f_lo, f_hi;    /* float activation range */
    ld_conv_quant q;
    int32_t *mult;       /* out_c entries each, inside this block */
    int32_t *shift;
} conv_state;

static const void *bias_data(const ld_op_ctx *c)
{
    return c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
}

/* Hybrid kind and scratch (the quantized input, per-batch scale and offset). */
static leandet_status hybrid_layout(ld_op_ctx *c, int depthwise, conv_state *s)
{
    const ld_tensor *in = c->in[0], *w = c->in[1];
    s->hybrid = ld_hybrid_conv_per_channel(w, depthwise, !depthwise && s->f_in_c != s->in_c) ? HYBRID_PER_CHANNEL
                                                                                             : HYBRID_PER_TENSOR;
    if (depthwise && c->op->params.conv.depth_multiplier != s->per_group)
        /* TFLite's hybrid depthwise kernel loops over the option, not the shapes. */
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                          "hybrid depthwise: depth_multiplier option %d differs from the shapes' %d",
                          c->op->params.conv.depth_multiplier, s->per_group);
    size_t n = ld_shape_count(&in->shape);
    c->scratch_bytes = ld_hybrid_scratch_bytes(n, (size_t)s->batches);
    if (c->scratch_bytes == 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input '%s' is too large", ld_conv_tname(in));
    return LEANDET_OK;
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
    if (ld_conv_is_hybrid(in, w)) {
        if ((st = ld_conv_check_hybrid(c, in, w, bias, out, s.out_c, depthwise ? 3 : 0)) != LEANDET_OK ||
            (st = hybrid_layout(c, depthwise, &s)) != LEANDET_OK)
            return st;
    } else if ((st = ld_conv_check_operands(c, in, w, bias, out, s.out_c, depthwise ? 3 : 0, 0, &s.quantized)) !=
               LEANDET_OK) {
        return st;
    }
    if ((st = ld_conv_check_act(c, p->act, out)) != LEANDET_OK)
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

/* Hybrid pixels read the int8 input the eval quantized into scratch. */
typedef struct hybrid_in {
    const int8_t *q;
    const float *scale;
    const int32_t *offset;
} hybrid_in;

static hybrid_in hybrid_input(const ld_op_ctx *c)
{
    const conv_state *s = c->state;
    int8_t *q;
    float *scale;
    int32_t *offset;
    ld_hybrid_scratch(c->scratch, ld_shape_count(&c->in[0]->shape), (size_t)s->batches, &q, &scale, &offset);
    return (hybrid_in){q, scale, offset};
}

static void conv_pixel_hybrid(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const conv_state *s = c->state;
    const hybrid_in h = hybrid_input(c);
    const int8_t *w = c->in[1]->data;
    const ld_quant *wq = c->in[1]->quant;
    const float *bias = (const float *)bias_data(c);
    const int32_t off = h.offset[p->b];
    const float sf = h.scale[p->b];
    float *y = (float *)c->out[0]->data + pixel * (size_t)s->out_c;
    const size_t w_per_oc = (size_t)s->win.f_h * (size_t)s->win.f_w * (size_t)s->f_in_c;
    for (int oc = 0; oc < s->out_c; oc++) {
        const size_t group = (size_t)(oc / s->per_group) * (size_t)s->f_in_c;
        const int8_t *wo = w + (size_t)oc * w_per_oc;
        uint32_t acc = 0;
        for (int ky = p->ky0; ky < p->ky1; ky++) {
            for (int kx = p->kx0; kx < p->kx1; kx++) {
                const int8_t *xp = h.q + tap(s, p, ky, kx) + group, *wp = wo + wtap(s, ky, kx, s->f_in_c);
                for (int i = 0; i < s->f_in_c; i++)
                    acc += (uint32_t)(wp[i] * (xp[i] - off));
            }
        }
        /* TFLite's float steps, in its order: per channel (acc * w_scale) *
         * input_scale; per tensor acc * (input_scale * w_scale), folded in
         * eval. Then the bias, then the clamp. */
        const float a = (float)ld_conv_wrap32(acc);
        float v = s->hybrid == HYBRID_PER_CHANNEL ? a * wq->scale[wq->count > 1 ? oc : 0] * sf : a * sf;
        y[oc] = ld_clampf(v + (bias ? bias[oc] : 0.0f), s->f_lo, s->f_hi);
    }
}

static void dw_pixel_hybrid(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const conv_state *s = c->state;
    const hybrid_in h = hybrid_input(c);
    const int8_t *w = c->in[1]->data;
    const ld_quant *wq = c->in[1]->quant;
    const float *bias = (const float *)bias_data(c);
    const int32_t off = h.offset[p->b];
    const float sf = h.scale[p->b];
    float *y = (float *)c->out[0]->data + pixel * (size_t)s->out_c;
    for (int oc = 0; oc < s->out_c; oc++) {
        const size_t ic = (size_t)(oc / s->per_group);
        uint32_t acc = 0;
        for (int ky = p->ky0; ky < p->ky1; ky++)
            for (int kx = p->kx0; kx < p->kx1; kx++)
                acc += (uint32_t)(w[wtap(s, ky, kx, s->out_c) + (size_t)oc] * (h.q[tap(s, p, ky, kx) + ic] - off));
        /* TFLite: acc * (w_scale * input_scale), the scales multiplied first. */
        float v = (float)ld_conv_wrap32(acc) * (wq->scale[wq->count > 1 ? oc : 0] * sf);
        y[oc] = ld_clampf(v + (bias ? bias[oc] : 0.0f), s->f_lo, s->f_hi);
    }
}

/* Quantize each batch of the float input into scratch, as TFLite does
 * before every hybrid convolution. */
static void hybrid_quantize_input(const ld_op_ctx *c)
{
    const conv_state *s = c->state;
    const size_t n = ld_shape_count(&c->in[0]->shape);
    ld_hybrid_conv_quantize(c->in[0]->data, n / (size_t)s->batches, (size_t)s->batches,
                            s->hybrid == HYBRID_PER_CHANNEL, c->in[1]->quant->scale[0], c->scratch, NULL);
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
    if (s->hybrid)
        hybrid_quantize_input(c);
    ld_window_for_each(c, &s->win, s->batches,
                       s->hybrid ? conv_pixel_hybrid : s->quantized ? conv_pixel_q8 : conv_pixel_f32);
    return LEANDET_OK;
}

static leandet_status dw_eval(ld_op_ctx *c)
{
    const conv_state *s = c->state;
    if (s->hybrid)
        hybrid_quantize_input(c);
    ld_window_for_each(c, &s->win, s->batches, s->hybrid ? dw_pixel_hybrid : s->quantized ? dw_pixel_q8 : dw_pixel_f32);
    return LEANDET_OK;
}

const ld_kernel ld_ref_conv[] = {
    { LD_OP_CONV_2D, NULL, conv_prepare, conv_eval },
    { LD_OP_DEPTHWISE_CONV_2D, NULL, dw_prepare, dw_eval },
    LD_KERNEL_TABLE_END,
};

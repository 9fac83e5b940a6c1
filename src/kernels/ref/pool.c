/* AVERAGE_POOL_2D and MAX_POOL_2D reference kernels (NHWC), bit-exact with
 * TensorFlow Lite's reference_ops / reference_integer_ops AveragePool and
 * MaxPool. Windows cover only the input pixels inside the image (padding is
 * never counted). The 8-bit average rounds half away from zero:
 * (sum + n/2) / n for sum > 0, else (sum - n/2) / n, in integer division;
 * for uint8 (sum >= 0) that is TFLite's (sum + n/2) / n. 8-bit pools do not
 * rescale, so input and output must share scale and zero point. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "kernels/ref/conv_quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/ref/ref.h"

typedef struct pool_state {
    ld_window win;
    int batches, channels;
    int quantized;
    uint8_t flip;              /* (byte ^ flip) + off is the stored value */
    int32_t off;
    int32_t act_min, act_max;  /* 8-bit clamp */
    float f_lo, f_hi;          /* float clamp */
} pool_state;

static leandet_status prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 1, 1, 1);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0];
    ld_tensor *out = c->out[0];
    const ld_pool_params *p = &c->op->params.pool;
    if ((st = ld_check_rank(c, in, "input", 4)) != LEANDET_OK)
        return st;
    if (in->type != LEANDET_FLOAT32 && in->type != LEANDET_UINT8 && in->type != LEANDET_INT8)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input '%s' is %s, expected float32/uint8/int8",
                          ld_conv_tname(in), leandet_dtype_name(in->type));
    if ((st = ld_check_same_type(c, in, out, "input and output")) != LEANDET_OK ||
        (st = ld_conv_check_act(c, p->act, out)) != LEANDET_OK)
        return st;
    pool_state s = { 0 };
    s.quantized = in->type != LEANDET_FLOAT32;
    if (s.quantized) {
        if ((st = ld_check_quantized(c, in, "input")) != LEANDET_OK ||
            (st = ld_check_quantized(c, out, "output")) != LEANDET_OK)
            return st;
        float si = in->quant->scale[0], so = out->quant->scale[0];
        if (in->quant->zero_point[0] != out->quant->zero_point[0] || fabsf(si - so) > 1e-6f)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                              "input '%s' (scale %g, zero point %d) and output '%s' (scale %g, zero point %d) "
                              "must share quantization",
                              ld_conv_tname(in), (double)si, (int)in->quant->zero_point[0], ld_conv_tname(out),
                              (double)so, (int)out->quant->zero_point[0]);
        ld_conv_q8_view(in->type, 0, &s.flip, &s.off);
        int32_t qmin, qmax;
        ld_type_range(out->type, &qmin, &qmax);
        ld_act_range_quant(p->act, so, out->quant->zero_point[0], qmin, qmax, &s.act_min, &s.act_max);
    }
    ld_act_range_float(p->act, &s.f_lo, &s.f_hi);
    if ((st = ld_window_init(c, p->padding, in->shape.d[1], in->shape.d[2], p->filter_h, p->filter_w, p->stride_h,
                             p->stride_w, 1, 1, &s.win)) != LEANDET_OK)
        return st;
    s.batches = in->shape.d[0];
    s.channels = in->shape.d[3];
    out->shape.rank = 4;
    out->shape.d[0] = s.batches;
    out->shape.d[1] = s.win.out_h;
    out->shape.d[2] = s.win.out_w;
    out->shape.d[3] = s.channels;
    pool_state *keep = ld_malloc(c->alloc, sizeof *keep);
    if (!keep)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of state", sizeof *keep);
    *keep = s;
    c->state = keep;
    return LEANDET_OK;
}

/* Index of input pixel (b, iy0 + ky, ix0 + kx), channel 0. */
static inline size_t tap(const pool_state *s, const ld_span *p, int ky, int kx)
{
    size_t y = (size_t)(p->iy0 + ky), x = (size_t)(p->ix0 + kx);
    return (((size_t)p->b * s->win.in_h + y) * s->win.in_w + x) * (size_t)s->channels;
}

static void avg_q8(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const pool_state *s = c->state;
    const uint8_t *x = c->in[0]->data;
    uint8_t *y = (uint8_t *)c->out[0]->data + pixel * (size_t)s->channels;
    /* Never 0: SAME padding is smaller than the window, VALID windows lie inside. */
    const int64_t n = (int64_t)(p->ky1 - p->ky0) * (p->kx1 - p->kx0);
    for (int ch = 0; ch < s->channels; ch++) {
        int64_t sum = 0;
        for (int ky = p->ky0; ky < p->ky1; ky++)
            for (int kx = p->kx0; kx < p->kx1; kx++)
                sum += (x[tap(s, p, ky, kx) + (size_t)ch] ^ s->flip) + s->off;
        int64_t avg = n == 0 ? 0 : (sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n);
        y[ch] = (uint8_t)ld_clampi((int32_t)avg, s->act_min, s->act_max);
    }
}

static void max_q8(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const pool_state *s = c->state;
    const uint8_t *x = c->in[0]->data;
    uint8_t *y = (uint8_t *)c->out[0]->data + pixel * (size_t)s->channels;
    for (int ch = 0; ch < s->channels; ch++) {
        int32_t best = s->off; /* the type's lowest value: 0 or -128 */
        for (int ky = p->ky0; ky < p->ky1; ky++) {
            for (int kx = p->kx0; kx < p->kx1; kx++) {
                int32_t v = (x[tap(s, p, ky, kx) + (size_t)ch] ^ s->flip) + s->off;
                best = v > best ? v : best;
            }
        }
        y[ch] = (uint8_t)ld_clampi(best, s->act_min, s->act_max);
    }
}

static void avg_f32(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const pool_state *s = c->state;
    const float *x = c->in[0]->data;
    float *y = (float *)c->out[0]->data + pixel * (size_t)s->channels;
    for (int ch = 0; ch < s->channels; ch++) {
        float total = 0.0f, count = 0.0f;
        for (int ky = p->ky0; ky < p->ky1; ky++) {
            for (int kx = p->kx0; kx < p->kx1; kx++) {
                total += x[tap(s, p, ky, kx) + (size_t)ch];
                count += 1.0f;
            }
        }
        y[ch] = ld_clampf(total / count, s->f_lo, s->f_hi);
    }
}

static void max_f32(const ld_op_ctx *c, const ld_span *p, size_t pixel)
{
    const pool_state *s = c->state;
    const float *x = c->in[0]->data;
    float *y = (float *)c->out[0]->data + pixel * (size_t)s->channels;
    for (int ch = 0; ch < s->channels; ch++) {
        float best = -FLT_MAX;
        for (int ky = p->ky0; ky < p->ky1; ky++) {
            for (int kx = p->kx0; kx < p->kx1; kx++) {
                float v = x[tap(s, p, ky, kx) + (size_t)ch];
                best = best < v ? v : best; /* std::max(best, v): NaN inputs are skipped */
            }
        }
        y[ch] = ld_clampf(best, s->f_lo, s->f_hi);
    }
}

static leandet_status avg_eval(ld_op_ctx *c)
{
    const pool_state *s = c->state;
    ld_window_for_each(c, &s->win, s->batches, s->quantized ? avg_q8 : avg_f32);
    return LEANDET_OK;
}

static leandet_status max_eval(ld_op_ctx *c)
{
    const pool_state *s = c->state;
    ld_window_for_each(c, &s->win, s->batches, s->quantized ? max_q8 : max_f32);
    return LEANDET_OK;
}

const ld_kernel ld_ref_pool[] = {
    { LD_OP_AVERAGE_POOL_2D, NULL, prepare, avg_eval },
    { LD_OP_MAX_POOL_2D, NULL, prepare, max_eval },
    LD_KERNEL_TABLE_END,
};

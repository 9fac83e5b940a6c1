/* ADD, SUB, MUL with NumPy broadcasting and fused activations.
 *
 * float32: out = clamp(a op b) (TFLite reference_ops::Add/SubWithActivation/Mul).
 * uint8/int8, bit-exact with TFLite's reference kernels (add.cc, sub.cc,
 * mul.cc; reference/add.h, sub.h, integer_ops/add.h, integer_ops/mul.h):
 *   ADD/SUB: each input is offset by its zero point, shifted left by 20 and
 *     rescaled by its own multiplier s_i / (2 * max(s1, s2)); the sum (or
 *     difference) is rescaled by 2 * max(s1, s2) / (2^20 * s_out), offset and
 *     clamped to the activation range.
 *   MUL: (a - za) * (b - zb) rescaled by s1 * s2 / s_out (computed in float,
 *     as TFLite does), offset, clamped. */

#include "kernels/quant.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref.h"

typedef struct arith_state {
    ld_bcast plan;
    int op;                      /* LD_OP_ADD / LD_OP_SUB / LD_OP_MUL */
    int is_signed;               /* int8 rather than uint8 */
    float fmin, fmax;            /* float activation clamp */
    ld_arith_q q;                /* 8-bit constants */
} arith_state;

static leandet_status prepare_quant(ld_op_ctx *c, arith_state *s)
{
    float s1, s2, so;
    int32_t z1, z2, zo;
    leandet_status st = ld_ew_qparams(c, c->in[0], "input 0", &s1, &z1);
    if (st == LEANDET_OK)
        st = ld_ew_qparams(c, c->in[1], "input 1", &s2, &z2);
    if (st == LEANDET_OK)
        st = ld_ew_qparams(c, c->out[0], "output 0", &so, &zo);
    if (st != LEANDET_OK)
        return st;
    ld_arith_q_init(s->op, c->op->params.arith.act, c->out[0]->type, s1, z1, s2, z2, so, zo, &s->q);
    /* ADD requires an output multiplier below one (TFLite checks it); SUB
     * also accepts larger ones (sub.cc), which then scale up. */
    if (s->op == LD_OP_ADD && s->q.real_out >= 1.0)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                          "output scale %g is too small for input scales %g and %g", (double)so, (double)s1, (double)s2);
    return LEANDET_OK;
}

static leandet_status arith_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 2, 2, 1);
    if (st == LEANDET_OK)
        st = ld_ew_check_type(c, c->in[0], "input 0", LD_EW_F32 | LD_EW_Q8);
    if (st == LEANDET_OK)
        st = ld_check_same_type(c, c->in[0], c->in[1], "input 0 and input 1");
    if (st == LEANDET_OK)
        st = ld_check_same_type(c, c->in[0], c->out[0], "input 0 and output 0");
    if (st != LEANDET_OK)
        return st;
    const ld_activation act = c->op->params.arith.act;
    if (act != LD_ACT_NONE && act != LD_ACT_RELU && act != LD_ACT_RELU6 && act != LD_ACT_RELU_N1_TO_1)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "fused activation %d is not supported", (int)act);

    arith_state *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    s->op = c->op->builtin;
    s->is_signed = c->in[0]->type == LEANDET_INT8;
    ld_shape out;
    st = ld_bcast_prepare(c, c->in[0], c->in[1], &out, &s->plan);
    if (st != LEANDET_OK)
        return st;
    c->out[0]->shape = out;
    if (c->in[0]->type == LEANDET_FLOAT32) {
        ld_act_range_float(act, &s->fmin, &s->fmax);
        return LEANDET_OK;
    }
    return prepare_quant(c, s);
}

static void row_f32(const void *state, const void *a, size_t sa, const void *b, size_t sb, void *out, size_t n)
{
    const arith_state *s = state;
    const float *x = a, *y = b;
    float *o = out;
    switch (s->op) {
    case LD_OP_ADD:
        for (size_t i = 0; i < n; i++)
            o[i] = ld_clampf(x[i * sa] + y[i * sb], s->fmin, s->fmax);
        break;
    case LD_OP_SUB:
        for (size_t i = 0; i < n; i++)
            o[i] = ld_clampf(x[i * sa] - y[i * sb], s->fmin, s->fmax);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            o[i] = ld_clampf(x[i * sa] * y[i * sb], s->fmin, s->fmax);
        break;
    }
}

/* One quantized element; x and y are the raw stored values. */
static int32_t arith_q(const arith_state *s, int32_t x, int32_t y)
{
    int32_t raw;
    if (s->op == LD_OP_MUL) {
        raw = ld_mul_by_quantized_multiplier((x + s->q.in1_offset) * (y + s->q.in2_offset), s->q.out_mult, s->q.out_shift);
    } else {
        const int32_t a = ld_mul_by_quantized_multiplier((x + s->q.in1_offset) * (1 << s->q.left_shift), s->q.in1_mult,
                                                         s->q.in1_shift);
        const int32_t b = ld_mul_by_quantized_multiplier((y + s->q.in2_offset) * (1 << s->q.left_shift), s->q.in2_mult,
                                                         s->q.in2_shift);
        raw = ld_mul_by_quantized_multiplier(s->op == LD_OP_ADD ? a + b : a - b, s->q.out_mult, s->q.out_shift);
    }
    const int64_t v = (int64_t)raw + s->q.out_offset; /* int64: no overflow for huge SUB multipliers */
    return v < s->q.qmin ? s->q.qmin : v > s->q.qmax ? s->q.qmax : (int32_t)v;
}

static void row_q8(const void *state, const void *a, size_t sa, const void *b, size_t sb, void *out, size_t n)
{
    const arith_state *s = state;
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++)
        o[i] = (uint8_t)(arith_q(s, ld_ew_load8(a, i * sa, s->is_signed), ld_ew_load8(b, i * sb, s->is_signed)) & 0xff);
}

static leandet_status arith_eval(ld_op_ctx *c)
{
    const arith_state *s = c->state;
    const ld_dtype t = c->in[0]->type;
    ld_bcast_run(&s->plan, leandet_dtype_size(t), c->in[0]->data, c->in[1]->data, c->out[0]->data,
                 t == LEANDET_FLOAT32 ? row_f32 : row_q8, s);
    return LEANDET_OK;
}

const ld_kernel ld_ref_arith[] = {
    { LD_OP_ADD, NULL, arith_prepare, arith_eval },
    { LD_OP_SUB, NULL, arith_prepare, arith_eval },
    { LD_OP_MUL, NULL, arith_prepare, arith_eval },
    LD_KERNEL_TABLE_END,
};

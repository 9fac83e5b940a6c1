#include "kernels/ref/elementwise_common.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/quant.h"

static const char *tname(const ld_tensor *t) { return t->desc ? t->desc->name : ""; }

static void shape_str(const ld_shape *s, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < s->rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ",%d" : "%d", (int)s->d[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

leandet_status ld_bcast_prepare(ld_op_ctx *c, const ld_tensor *a, const ld_tensor *b, ld_shape *out,
                                ld_bcast *plan)
{
    const ld_shape *A = &a->shape, *B = &b->shape;
    const int rank = A->rank > B->rank ? A->rank : B->rank;
    ld_shape o;
    memset(&o, 0, sizeof o);
    o.rank = rank;
    size_t da[LD_MAX_DIMS], db[LD_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        const int ia = i - (rank - A->rank), ib = i - (rank - B->rank);
        const int32_t x = ia >= 0 ? A->d[ia] : 1, y = ib >= 0 ? B->d[ib] : 1;
        if (x != y && x != 1 && y != 1) {
            char sa[80], sb[80];
            shape_str(A, sa, sizeof sa);
            shape_str(B, sb, sizeof sb);
            return ld_op_fail(c, LEANDET_ERR_MODEL, "cannot broadcast input shapes %s and %s (dimension %d: %d vs %d)",
                              sa, sb, i, (int)x, (int)y);
        }
        o.d[i] = x == 1 ? y : x;
        da[i] = (size_t)x;
        db[i] = (size_t)y;
    }
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        size_t d = (size_t)o.d[i];
        if (d && count > SIZE_MAX / 16 / d)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "broadcast output has too many elements");
        count *= d;
    }
    /* Contiguous strides of each input; 0 where it is repeated. */
    size_t sa[LD_MAX_DIMS], sb[LD_MAX_DIMS], stride_a = 1, stride_b = 1;
    for (int i = rank - 1; i >= 0; i--) {
        sa[i] = da[i] == 1 ? 0 : stride_a;
        sb[i] = db[i] == 1 ? 0 : stride_b;
        stride_a *= da[i];
        stride_b *= db[i];
    }
    /* Drop unit dims; merge a dim into the previous one when both inputs
     * continue contiguously (or both repeat) across the boundary. */
    memset(plan, 0, sizeof *plan);
    int r = 0;
    for (int i = 0; i < rank; i++) {
        const size_t n = (size_t)o.d[i];
        if (n == 1)
            continue;
        if (r > 0 && plan->sa[r - 1] == sa[i] * n && plan->sb[r - 1] == sb[i] * n) {
            plan->n[r - 1] *= n;
            plan->sa[r - 1] = sa[i];
            plan->sb[r - 1] = sb[i];
            continue;
        }
        plan->n[r] = n;
        plan->sa[r] = sa[i];
        plan->sb[r] = sb[i];
        r++;
    }
    if (r == 0) {
        plan->n[0] = 1;
        r = 1;
    }
    plan->rank = r;
    *out = o;
    return LEANDET_OK;
}

void ld_bcast_run(const ld_bcast *p, size_t esize, const void *a, const void *b, void *out,
                  ld_bcast_row row, const void *state)
{
    const int r = p->rank;
    const size_t inner = p->n[r - 1];
    size_t rows = 1;
    for (int d = 0; d < r; d++)
        if (p->n[d] == 0)
            return;
    for (int d = 0; d < r - 1; d++)
        rows *= p->n[d];
    const unsigned char *pa = a, *pb = b;
    unsigned char *po = out;
    size_t idx[LD_MAX_DIMS] = { 0 }, oa = 0, ob = 0;
    for (size_t k = 0; k < rows; k++) {
        row(state, pa + oa * esize, p->sa[r - 1], pb + ob * esize, p->sb[r - 1], po + k * inner * esize, inner);
        for (int d = r - 2; d >= 0; d--) {
            oa += p->sa[d];
            ob += p->sb[d];
            if (++idx[d] < p->n[d])
                break;
            oa -= p->sa[d] * p->n[d];
            ob -= p->sb[d] * p->n[d];
            idx[d] = 0;
        }
    }
}

leandet_status ld_ew_check_type(ld_op_ctx *c, const ld_tensor *t, const char *what, unsigned mask)
{
    if ((unsigned)t->type < 32 && (mask & LD_EW_BIT(t->type)))
        return LEANDET_OK;
    char want[96] = "";
    size_t used = 0;
    for (unsigned k = 0; k < 32 && used < sizeof want; k++)
        if (mask & (1u << k))
            used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", used ? "/" : "",
                                     leandet_dtype_name((ld_dtype)k));
    return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "%s '%s' is %s, expected %s", what, tname(t),
                      leandet_dtype_name(t->type), want);
}

leandet_status ld_ew_qparams(ld_op_ctx *c, const ld_tensor *t, const char *what, float *scale, int32_t *zp)
{
    const ld_quant *q = t->quant;
    if (!q || q->count < 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s' is %s without quantization parameters", what, tname(t),
                          leandet_dtype_name(t->type));
    if (q->count > 1)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "%s '%s' has per-channel quantization (%d scales); only per-tensor is supported",
                          what, tname(t), q->count);
    if (!(q->scale[0] > 0.0f) || !isfinite(q->scale[0]))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s' has quantization scale %g, expected a positive finite value",
                          what, tname(t), (double)q->scale[0]);
    int32_t lo, hi;
    ld_type_range(t->type, &lo, &hi);
    if (q->zero_point[0] < lo || q->zero_point[0] > hi)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s' has zero point %d outside the %s range", what, tname(t),
                          (int)q->zero_point[0], leandet_dtype_name(t->type));
    *scale = q->scale[0];
    *zp = q->zero_point[0];
    return LEANDET_OK;
}

leandet_status ld_ew_unary_prepare(ld_op_ctx *c, unsigned mask)
{
    leandet_status st = ld_check_io(c, 1, 1, 1);
    if (st == LEANDET_OK)
        st = ld_ew_check_type(c, c->in[0], "input 0", mask);
    if (st == LEANDET_OK)
        st = ld_check_same_type(c, c->in[0], c->out[0], "input 0 and output 0");
    if (st == LEANDET_OK)
        c->out[0]->shape = c->in[0]->shape;
    return st;
}

void *ld_ew_state(ld_op_ctx *c, size_t bytes)
{
    void *p = ld_calloc(c->alloc, 1, bytes);
    if (p)
        c->state = p;
    else
        ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of kernel state", bytes);
    return p;
}

void ld_ew_lut_build(uint8_t lut[256], ld_dtype t, ld_ew_qmap f, const void *ctx)
{
    const int32_t lo = t == LEANDET_INT8 ? -128 : 0;
    for (int32_t q = lo; q < lo + 256; q++)
        lut[(uint8_t)(q & 0xff)] = (uint8_t)(f(ctx, q) & 0xff);
}

/* float -> int32 as x86 converts it in TFLite (out of range and NaN give INT32_MIN). */
static int32_t f2i(float x)
{
    return x >= -2147483648.0f && x < 2147483648.0f ? (int32_t)x : INT32_MIN;
}

typedef struct lut_float_ctx {
    float in_scale, inv_out_scale, out_zp_f;
    int32_t in_zp, lo, hi;
    float (*fn)(float);
} lut_float_ctx;

static int32_t lut_float_map(const void *ctx, int32_t q)
{
    const lut_float_ctx *k = ctx;
    const float deq = k->in_scale * (float)(q - k->in_zp);
    const float rescaled = roundf(k->fn(deq) * k->inv_out_scale);
    return ld_clampi(f2i(rescaled + k->out_zp_f), k->lo, k->hi);
}

void ld_ew_lut_from_float(uint8_t lut[256], ld_dtype t, float in_scale, int32_t in_zp, float out_scale,
                          int32_t out_zp, float (*fn)(float))
{
    lut_float_ctx k = { in_scale, 1.0f / out_scale, (float)out_zp, in_zp, 0, 0, fn };
    ld_type_range(t, &k.lo, &k.hi);
    ld_ew_lut_build(lut, t, lut_float_map, &k);
}

void ld_ew_lut_apply(const uint8_t lut[256], const void *in, void *out, size_t n)
{
    const uint8_t *x = in;
    uint8_t *y = out;
    for (size_t i = 0; i < n; i++)
        y[i] = lut[x[i]];
}

void ld_arith_q_init(int op, ld_activation act, ld_dtype type, float s1, int32_t z1, float s2, int32_t z2, float so,
                     int32_t zo, ld_arith_q *q)
{
    memset(q, 0, sizeof *q);
    q->in1_offset = -z1;
    q->in2_offset = -z2;
    q->out_offset = zo;
    int32_t tmin, tmax;
    ld_type_range(type, &tmin, &tmax);
    ld_act_range_quant(act, so, zo, tmin, tmax, &q->qmin, &q->qmax);
    if (op == LD_OP_MUL) {
        const float real = s1 * s2 / so; /* float arithmetic, as in mul.cc */
        q->real_out = (double)real;
        ld_quantize_multiplier(q->real_out, &q->out_mult, &q->out_shift);
        return;
    }
    q->left_shift = 20;
    const double twice_max = 2.0 * (double)(s1 > s2 ? s1 : s2);
    q->real_out = twice_max / ((double)(1 << q->left_shift) * (double)so);
    ld_quantize_multiplier((double)s1 / twice_max, &q->in1_mult, &q->in1_shift);
    ld_quantize_multiplier((double)s2 / twice_max, &q->in2_mult, &q->in2_shift);
    ld_quantize_multiplier(q->real_out, &q->out_mult, &q->out_shift);
}

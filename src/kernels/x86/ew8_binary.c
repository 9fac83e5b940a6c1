/* uint8/int8 MUL, ADD, SUB (AVX2), byte-exact with ref/arith.c.
 *
 * The reference spends its time on per-element calls (a row callback, the
 * scalar MultiplyByQuantizedMultiplier). Here the reference's constants are
 * computed by the same function (ld_arith_q_init) and 8 elements are
 * requantized at once with conv8's exact vector requantization:
 *   MUL:     out = clamp(rq_out((x - zx) * (y - zy)) + zo)
 *   ADD/SUB: out = clamp(rq_out(rq_1((x - zx) << 20) +/- rq_2((y - zy) << 20)) + zo)
 * The vector form wraps int32 where the reference widens to int64, so only
 * multipliers below one are taken (all values then stay far inside int32);
 * others stay on the reference kernel.
 *
 * Where the CPU has AVX-512 (with VNNI, as conv8's 16-lane requantization
 * is compiled), rows that are contiguous or one repeated value go 16 at a
 * time through that requantization (requant16: the same rounding); strided
 * rows keep the AVX2 loop. */
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/x86/conv8.h"
#include "kernels/x86/conv8_simd512.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/ew8_simd.h"
#include "kernels/x86/float_common.h"

#define PARALLEL_MIN 32768

/* One MultiplyByQuantizedMultiplier with a right shift, in the per-lane
 * table form c8_requant8 (8 lanes) and rq16_load (16) read: the same value
 * in every lane. */
typedef struct rq8 {
    int32_t mult[16], lshift[16], rshift[16], rmask[16];
} rq8;

typedef struct binary_state {
    ld_bcast plan;
    int op, is_signed;
    int32_t in1_off, in2_off, out_zp, qmin, qmax;
    rq8 out, in1, in2;     /* in1, in2: ADD/SUB only */
} binary_state;

enum { LEFT_SHIFT = 20 };

/* Fill r for the quantized multiplier q * 2^shift; 0 if it is not below one. */
static int rq8_set(rq8 *r, int32_t q, int shift)
{
    if (shift > 0)
        return 0;
    for (int i = 0; i < 16; i++) {
        r->mult[i] = q;
        r->lshift[i] = 0;
        r->rshift[i] = -shift;
        r->rmask[i] = (int32_t)((1u << -shift) - 1u);
    }
    return 1;
}

/* The reference's constants (ld_arith_q_init); 0 when the op is not
 * 8-bit per-tensor quantized or needs a multiplier of one or more. */
static int arith_params(const ld_op_ctx *c, binary_state *s)
{
    if (c->n_in != 2 || c->n_out != 1 || !c->in[0] || !c->in[1] || !c->out[0])
        return 0;
    const ld_dtype t = c->in[0]->type;
    float s1, s2, so;
    int32_t z1, z2, zo;
    if (!ld_ew8_qparams(c->in[0], t, &s1, &z1) || !ld_ew8_qparams(c->in[1], t, &s2, &z2) ||
        !ld_ew8_qparams(c->out[0], t, &so, &zo))
        return 0;
    const ld_activation act = c->op->params.arith.act;
    if (act != LD_ACT_NONE && act != LD_ACT_RELU && act != LD_ACT_RELU6 && act != LD_ACT_RELU_N1_TO_1)
        return 0;
    int32_t tmin, tmax;
    ld_type_range(t, &tmin, &tmax);
    if (z1 < tmin || z1 > tmax || z2 < tmin || z2 > tmax || zo < tmin || zo > tmax)
        return 0;
    s->op = c->op->builtin;
    s->is_signed = t == LEANDET_INT8;
    ld_arith_q q;
    ld_arith_q_init(s->op, act, t, s1, z1, s2, z2, so, zo, &q);
    s->in1_off = q.in1_offset;
    s->in2_off = q.in2_offset;
    s->out_zp = q.out_offset;
    s->qmin = q.qmin;
    s->qmax = q.qmax;
    if (s->op == LD_OP_MUL)
        return rq8_set(&s->out, q.out_mult, q.out_shift);
    return q.real_out < 1.0 && rq8_set(&s->out, q.out_mult, q.out_shift) &&
           rq8_set(&s->in1, q.in1_mult, q.in1_shift) && rq8_set(&s->in2, q.in2_mult, q.in2_shift);
}

int ld_ew8_binary_accepts(const ld_op_ctx *c)
{
    const int op = c->op->builtin;
    binary_state s;
    return (op == LD_OP_MUL || op == LD_OP_ADD || op == LD_OP_SUB) && arith_params(c, &s);
}

int ld_ew8_binary512_accepts(const ld_op_ctx *c)
{
    return c8_vnni_usable() && ld_ew8_binary_accepts(c);
}

leandet_status ld_ew8_binary_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    binary_state *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    if (!arith_params(c, s))
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "quantization not handled by the avx2 kernel");
    ld_shape shape;
    return ld_bcast_prepare(c, c->in[0], c->in[1], &shape, &s->plan);
}

static c8_requant rq_view(const rq8 *r, int32_t zp, int32_t lo, int32_t hi, int is_signed)
{
    c8_requant q = { (int32_t *)r->mult, (int32_t *)r->lshift, (int32_t *)r->rshift, (int32_t *)r->rmask, NULL,
                     zp, lo, hi, is_signed };
    return q;
}

/* 16 bytes from p (stride 1) or one repeated (stride 0) as int16. */
LD_C8_INLINE __m256i widen16(const uint8_t *p, size_t stride, int is_signed)
{
    const __m128i b = stride ? _mm_loadu_si128((const __m128i *)p) : _mm_set1_epi8((char)p[0]);
    return is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
}

/* o[i] = op(a[i * sa], b[i * sb]) for n elements. */
LD_C8_INLINE void row(int op, const binary_state *s, const uint8_t *a, size_t sa, const uint8_t *b, size_t sb,
                      uint8_t *o, size_t n)
{
    const c8_requant out = rq_view(&s->out, s->out_zp, s->qmin, s->qmax, s->is_signed);
    const c8_requant r1 = rq_view(&s->in1, 0, INT32_MIN, INT32_MAX, 0);
    const c8_requant r2 = rq_view(&s->in2, 0, INT32_MIN, INT32_MAX, 0);
    const __m256i off1 = _mm256_set1_epi32(s->in1_off), off2 = _mm256_set1_epi32(s->in2_off);
    size_t i = 0;
    if (op == LD_OP_MUL && sa <= 1 && sb <= 1) {
        /* 16 at a time: centred values fit int16, their products come out of
         * mullo/mulhi as int32 halves that the unpacks leave in conv8's lane
         * order, which c8_store16 puts back in order */
        const __m256i o1 = _mm256_set1_epi16((int16_t)s->in1_off), o2 = _mm256_set1_epi16((int16_t)s->in2_off);
        for (; i + 16 <= n; i += 16) {
            const __m256i x = _mm256_add_epi16(widen16(a + i * sa, sa, s->is_signed), o1);
            const __m256i y = _mm256_add_epi16(widen16(b + i * sb, sb, s->is_signed), o2);
            const __m256i lo = _mm256_mullo_epi16(x, y), hi = _mm256_mulhi_epi16(x, y);
            c8_store16(o + i, c8_requant8(_mm256_unpacklo_epi16(lo, hi), &out, 0),
                       c8_requant8(_mm256_unpackhi_epi16(lo, hi), &out, 0), 16, s->is_signed);
        }
    }
    for (; i < n; i += 8) {
        const size_t m = n - i < 8 ? n - i : 8;
        const __m256i x = ew8_load8(a + i * sa, sa, m, s->is_signed, off1);
        const __m256i y = ew8_load8(b + i * sb, sb, m, s->is_signed, off2);
        __m256i acc;
        if (op == LD_OP_MUL) {
            acc = _mm256_mullo_epi32(x, y);
        } else {
            const __m256i p = c8_requant8(_mm256_slli_epi32(x, LEFT_SHIFT), &r1, 0);
            const __m256i q = c8_requant8(_mm256_slli_epi32(y, LEFT_SHIFT), &r2, 0);
            acc = op == LD_OP_ADD ? _mm256_add_epi32(p, q) : _mm256_sub_epi32(p, q);
        }
        c8_store8(o + i, c8_requant8(acc, &out, 0), (int)m, s->is_signed);
    }
}

LD_C8_AVX2 static void row_mul(const binary_state *s, const uint8_t *a, size_t sa, const uint8_t *b, size_t sb,
                               uint8_t *o, size_t n)
{
    row(LD_OP_MUL, s, a, sa, b, sb, o, n);
}

LD_C8_AVX2 static void row_add(const binary_state *s, const uint8_t *a, size_t sa, const uint8_t *b, size_t sb,
                               uint8_t *o, size_t n)
{
    row(LD_OP_ADD, s, a, sa, b, sb, o, n);
}

LD_C8_AVX2 static void row_sub(const binary_state *s, const uint8_t *a, size_t sa, const uint8_t *b, size_t sb,
                               uint8_t *o, size_t n)
{
    row(LD_OP_SUB, s, a, sa, b, sb, o, n);
}

typedef void (*row_fn)(const binary_state *s, const uint8_t *a, size_t sa, const uint8_t *b, size_t sb, uint8_t *o,
                       size_t n);

/* ---- 16 lanes (AVX-512) ---------------------------------------------------- */

/* n (1..16) bytes from p (stride 1) or one repeated (stride 0) as int32 + off. */
LD_C8_INLINE512 __m512i load16(const uint8_t *p, size_t stride, size_t n, int is_signed, __m512i off)
{
    const __m128i b = stride ? _mm_maskz_loadu_epi8((__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u), p)
                             : _mm_set1_epi8((char)p[0]);
    return _mm512_add_epi32(is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b), off);
}

LD_C8_INLINE512 void row16(int op, const binary_state *s, const uint8_t *a, size_t sa, const uint8_t *b, size_t sb,
                           uint8_t *o, size_t n)
{
    const c8_requant qo = rq_view(&s->out, s->out_zp, s->qmin, s->qmax, s->is_signed);
    const c8_requant q1 = rq_view(&s->in1, 0, INT32_MIN, INT32_MAX, 0);
    const c8_requant q2 = rq_view(&s->in2, 0, INT32_MIN, INT32_MAX, 0);
    const rq16 ko = rq16_load(&qo, 0);
    rq16 k1 = ko, k2 = ko;
    if (op != LD_OP_MUL) {
        k1 = rq16_load(&q1, 0);
        k2 = rq16_load(&q2, 0);
    }
    const __m512i off1 = _mm512_set1_epi32(s->in1_off), off2 = _mm512_set1_epi32(s->in2_off);
    for (size_t i = 0; i < n; i += 16) {
        const size_t m = n - i < 16 ? n - i : 16;
        const __m512i x = load16(a + i * sa, sa, m, s->is_signed, off1);
        const __m512i y = load16(b + i * sb, sb, m, s->is_signed, off2);
        __m512i acc;
        if (op == LD_OP_MUL) {
            acc = _mm512_mullo_epi32(x, y);
        } else {
            const __m512i p = requant16(_mm512_slli_epi32(x, LEFT_SHIFT), &k1, &q1);
            const __m512i q = requant16(_mm512_slli_epi32(y, LEFT_SHIFT), &k2, &q2);
            acc = op == LD_OP_ADD ? _mm512_add_epi32(p, q) : _mm512_sub_epi32(p, q);
        }
        store16(o + i, requant16(acc, &ko, &qo), (int)m);
    }
}

#define ROW512(name, OP, avx2)                                                                                  \
    LD_C8_512 static void name(const binary_state *s, const uint8_t *a, size_t sa, const uint8_t *b, size_t sb, \
                               uint8_t *o, size_t n)                                                           \
    {                                                                                                          \
        if (sa <= 1 && sb <= 1)                                                                                \
            row16(OP, s, a, sa, b, sb, o, n);                                                                  \
        else                                                                                                   \
            avx2(s, a, sa, b, sb, o, n);                                                                       \
    }
ROW512(row_mul512, LD_OP_MUL, row_mul)
ROW512(row_add512, LD_OP_ADD, row_add)
ROW512(row_sub512, LD_OP_SUB, row_sub)

typedef struct binary_job {
    const binary_state *s;
    row_fn fn;
    const uint8_t *a, *b;
    uint8_t *o;
    size_t total, inner;
    int parts;
} binary_job;

/* Output elements [lo, hi): the rows of the plan they cross, in pieces. */
static void binary_task(void *ctx, int task, int thread)
{
    (void)thread;
    const binary_job *j = ctx;
    const ld_bcast *p = &j->s->plan;
    const int r = p->rank;
    size_t lo, hi;
    ld_f32_part(j->total, j->parts, task, &lo, &hi);
    while (lo < hi) {
        size_t k = lo / j->inner, col = lo % j->inner, oa = 0, ob = 0;
        const size_t n = j->inner - col < hi - lo ? j->inner - col : hi - lo;
        for (int d = r - 2; d >= 0; d--) {
            const size_t i = k % p->n[d];
            k /= p->n[d];
            oa += i * p->sa[d];
            ob += i * p->sb[d];
        }
        j->fn(j->s, j->a + oa + col * p->sa[r - 1], p->sa[r - 1], j->b + ob + col * p->sb[r - 1], p->sb[r - 1],
              j->o + lo, n);
        lo += n;
    }
}

static leandet_status binary_eval(ld_op_ctx *c, int wide)
{
    const binary_state *s = c->state;
    const ld_bcast *p = &s->plan;
    binary_job j = { s, NULL, c->in[0]->data, c->in[1]->data, c->out[0]->data, 1, p->n[p->rank - 1], 1 };
    for (int d = 0; d < p->rank; d++)
        j.total *= p->n[d];
    if (j.total == 0)
        return LEANDET_OK;
    if (wide)
        j.fn = s->op == LD_OP_MUL ? row_mul512 : s->op == LD_OP_ADD ? row_add512 : row_sub512;
    else
        j.fn = s->op == LD_OP_MUL ? row_mul : s->op == LD_OP_ADD ? row_add : row_sub;
    j.parts = ld_ew8_parts(c, j.total, PARALLEL_MIN);
    ld_pool_run(c->pool, j.parts, binary_task, &j);
    return LEANDET_OK;
}

leandet_status ld_ew8_binary_eval(ld_op_ctx *c)
{
    return binary_eval(c, 0);
}

leandet_status ld_ew8_binary512_eval(ld_op_ctx *c)
{
    return binary_eval(c, 1);
}

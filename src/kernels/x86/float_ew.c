/* float32 LOGISTIC, ADD, SUB, MUL and PRELU (AVX2+FMA).
 *
 * LOGISTIC: 1 / (1 + e^-x) with a vector exp and a refined reciprocal,
 * within 1e-6 of the reference (see logistic_ps; an AVX-512 twin in
 * float_ew512.c runs where the CPU has it). ADD/SUB/MUL/PRELU are exact:
 * the same one IEEE operation per element as the reference, vectorized on
 * the rows of the reference broadcast plan (ld_bcast_prepare) where both
 * inputs are contiguous or one is a repeated scalar.
 *
 * Threads: elements (unary) or plan rows (binary) are split over c->pool. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/quant.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/float_ew.h"

/* Below this many elements an op runs on the calling thread only. */
#define PARALLEL_MIN 16384

/* ---- LOGISTIC ------------------------------------------------------------ */

int ld_f32_unary_accepts(const ld_op_ctx *c)
{
    return c->op->builtin == LD_OP_LOGISTIC && c->n_in == 1 && c->n_out == 1 && ld_f32_is(c->in[0]) &&
           ld_f32_is(c->out[0]);
}

int ld_f32_unary_accepts512(const ld_op_ctx *c)
{
    return ld_f32_has_avx512() && ld_f32_unary_accepts(c);
}

typedef void (*logistic_fn)(const float *x, float *y, size_t n);

static leandet_status unary_prepare(ld_op_ctx *c, logistic_fn f)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    logistic_fn *fn = ld_ew_state(c, sizeof *fn); /* the ISA's loop */
    if (!fn)
        return LEANDET_ERR_NO_MEMORY;
    *fn = f;
    return LEANDET_OK;
}

leandet_status ld_f32_unary_prepare(ld_op_ctx *c)
{
    return unary_prepare(c, ld_f32_logistic_avx2);
}

leandet_status ld_f32_unary_prepare512(ld_op_ctx *c)
{
    return unary_prepare(c, ld_f32_logistic_avx512);
}

/* 1 / (1 + e^-x). The reference branches (exactly 1 above 16.619..., e^x
 * below -9) differ from this formula by less than 1e-7, so one formula
 * serves all x: e^z for z = -x clamped to [-87.3, 88.3] (NaN passes) as
 * z = n ln2 + r, |r| <= ln2 / 2, Cephes' expf polynomial for e^r (2 ulp),
 * n read from the bits of z * log2(e) + 1.5 * 2^23 (round to nearest) and
 * 2^n built in the exponent bits; then the reciprocal estimate refined by
 * one Newton step (2^-22 relative). */
LD_AVX2 static inline __m256 logistic_ps(__m256 x)
{
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 z = _mm256_sub_ps(_mm256_setzero_ps(), x);
    z = _mm256_min_ps(_mm256_set1_ps(88.3762626647949f), _mm256_max_ps(_mm256_set1_ps(-87.3365447505531f), z));
    const __m256 t = _mm256_fmadd_ps(z, _mm256_set1_ps(1.44269504088896341f), magic);
    const __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), z);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* n in [-126, 127]: its low bits sit in t's mantissa */
    const __m256i e = _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(t), 23), _mm256_set1_epi32(127 << 23));
    const __m256 d = _mm256_fmadd_ps(p, _mm256_castsi256_ps(e), _mm256_set1_ps(1.0f));
    const __m256 r0 = _mm256_rcp_ps(d);
    return _mm256_fmadd_ps(r0, _mm256_fnmadd_ps(d, r0, _mm256_set1_ps(1.0f)), r0);
}

LD_AVX2 void ld_f32_logistic_avx2(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, logistic_ps(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i m = ld_f32_mask8((int)(n - i));
        _mm256_maskstore_ps(y + i, m, logistic_ps(_mm256_maskload_ps(x + i, m)));
    }
}

typedef struct unary_job {
    logistic_fn fn;
    const float *x;
    float *y;
    size_t n;
    int parts;
} unary_job;

static void unary_task(void *ctx, int task, int thread)
{
    (void)thread;
    const unary_job *j = ctx;
    size_t lo, hi;
    ld_f32_part(j->n / 8, j->parts, task, &lo, &hi); /* whole vectors; the last part takes the tail */
    lo *= 8;
    hi = task == j->parts - 1 ? j->n : hi * 8;
    j->fn(j->x + lo, j->y + lo, hi - lo);
}

leandet_status ld_f32_unary_eval(ld_op_ctx *c)
{
    unary_job j = { *(const logistic_fn *)c->state, c->in[0]->data, c->out[0]->data, ld_shape_count(&c->in[0]->shape),
                    1 };
    j.parts = ld_f32_parts(c->pool, j.n, PARALLEL_MIN, 2);
    ld_pool_run(c->pool, j.parts, unary_task, &j);
    return LEANDET_OK;
}

/* ---- ADD, SUB, MUL, PRELU -------------------------------------------------- */

typedef struct binary_f32 {
    ld_bcast plan;
    int op;
    float lo, hi;          /* fused activation (not for PRELU) */
} binary_f32;

int ld_f32_binary_accepts(const ld_op_ctx *c)
{
    return c->n_in == 2 && c->n_out == 1 && ld_f32_is(c->in[0]) && ld_f32_is(c->in[1]) && ld_f32_is(c->out[0]);
}

leandet_status ld_f32_binary_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    binary_f32 *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    ld_shape shape;
    if ((st = ld_bcast_prepare(c, c->in[0], c->in[1], &shape, &s->plan)) != LEANDET_OK)
        return st;
    s->op = c->op->builtin;
    if (s->op != LD_OP_PRELU)
        ld_act_range_float(c->op->params.arith.act, &s->lo, &s->hi);
    return LEANDET_OK;
}

/* One element, the reference's way. */
static inline float op1(int op, float a, float b, float lo, float hi)
{
    switch (op) {
    case LD_OP_ADD: return ld_clampf(a + b, lo, hi);
    case LD_OP_SUB: return ld_clampf(a - b, lo, hi);
    case LD_OP_MUL: return ld_clampf(a * b, lo, hi);
    default: return a >= 0.0f ? a : a * b; /* PRELU */
    }
}

LD_AVX2 static inline __m256 op8(int op, __m256 a, __m256 b, __m256 lo, __m256 hi)
{
    switch (op) {
    case LD_OP_ADD: return ld_f32_clamp8(_mm256_add_ps(a, b), lo, hi);
    case LD_OP_SUB: return ld_f32_clamp8(_mm256_sub_ps(a, b), lo, hi);
    case LD_OP_MUL: return ld_f32_clamp8(_mm256_mul_ps(a, b), lo, hi);
    default: return _mm256_blendv_ps(_mm256_mul_ps(a, b), a, _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GE_OQ));
    }
}

/* o[i] = op(a[i * sa], b[i * sb]): vectors when each input is contiguous
 * (stride 1) or one repeated value (stride 0). */
LD_AVX2 __attribute__((always_inline)) static inline void row(int op, const binary_f32 *s, const float *a, size_t sa,
                                                               const float *b, size_t sb, float *o, size_t n)
{
    size_t i = 0;
    const __m256 lo = _mm256_set1_ps(s->lo), hi = _mm256_set1_ps(s->hi);
    if (sa <= 1 && sb <= 1 && (sa | sb)) {
        if (sa && sb)
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(o + i, op8(op, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), lo, hi));
        else if (sa)
            for (const __m256 bv = _mm256_set1_ps(b[0]); i + 8 <= n; i += 8)
                _mm256_storeu_ps(o + i, op8(op, _mm256_loadu_ps(a + i), bv, lo, hi));
        else
            for (const __m256 av = _mm256_set1_ps(a[0]); i + 8 <= n; i += 8)
                _mm256_storeu_ps(o + i, op8(op, av, _mm256_loadu_ps(b + i), lo, hi));
    }
    for (; i < n; i++)
        o[i] = op1(op, a[i * sa], b[i * sb], s->lo, s->hi);
}

LD_AVX2 static void row_add(const binary_f32 *s, const float *a, size_t sa, const float *b, size_t sb, float *o,
                            size_t n)
{
    row(LD_OP_ADD, s, a, sa, b, sb, o, n);
}

LD_AVX2 static void row_sub(const binary_f32 *s, const float *a, size_t sa, const float *b, size_t sb, float *o,
                            size_t n)
{
    row(LD_OP_SUB, s, a, sa, b, sb, o, n);
}

LD_AVX2 static void row_mul(const binary_f32 *s, const float *a, size_t sa, const float *b, size_t sb, float *o,
                            size_t n)
{
    row(LD_OP_MUL, s, a, sa, b, sb, o, n);
}

LD_AVX2 static void row_prelu(const binary_f32 *s, const float *a, size_t sa, const float *b, size_t sb, float *o,
                              size_t n)
{
    row(LD_OP_PRELU, s, a, sa, b, sb, o, n);
}

typedef void (*row_fn)(const binary_f32 *s, const float *a, size_t sa, const float *b, size_t sb, float *o,
                       size_t n);

typedef struct binary_job {
    const binary_f32 *s;
    row_fn fn;
    const float *a, *b;
    float *o;
    size_t rows, inner;    /* plan: rows of `inner` elements */
    size_t chunks;         /* pieces per row (a single long row is split too) */
    int parts;
} binary_job;

/* Offsets of plan row k in a and b. */
static void row_offsets(const ld_bcast *p, size_t k, size_t *oa, size_t *ob)
{
    *oa = *ob = 0;
    for (int d = p->rank - 2; d >= 0; d--) {
        const size_t i = k % p->n[d];
        k /= p->n[d];
        *oa += i * p->sa[d];
        *ob += i * p->sb[d];
    }
}

static void binary_task(void *ctx, int task, int thread)
{
    (void)thread;
    const binary_job *j = ctx;
    const ld_bcast *p = &j->s->plan;
    const int r = p->rank;
    size_t lo, hi;
    ld_f32_part(j->rows * j->chunks, j->parts, task, &lo, &hi);
    for (size_t u = lo; u < hi; u++) {
        const size_t k = u / j->chunks, piece = u % j->chunks;
        size_t c0, c1, oa, ob;
        ld_f32_part(j->inner, (int)j->chunks, (int)piece, &c0, &c1);
        row_offsets(p, k, &oa, &ob);
        oa += c0 * p->sa[r - 1];
        ob += c0 * p->sb[r - 1];
        j->fn(j->s, j->a + oa, p->sa[r - 1], j->b + ob, p->sb[r - 1], j->o + k * j->inner + c0, c1 - c0);
    }
}

leandet_status ld_f32_binary_eval(ld_op_ctx *c)
{
    const binary_f32 *s = c->state;
    const ld_bcast *p = &s->plan;
    binary_job j = { s, NULL, c->in[0]->data, c->in[1]->data, c->out[0]->data, 1, p->n[p->rank - 1], 1, 1 };
    for (int d = 0; d < p->rank - 1; d++)
        j.rows *= p->n[d];
    if (j.rows == 0 || j.inner == 0)
        return LEANDET_OK;
    j.fn = s->op == LD_OP_ADD ? row_add : s->op == LD_OP_SUB ? row_sub : s->op == LD_OP_MUL ? row_mul : row_prelu;
    const int parts = ld_f32_parts(c->pool, j.rows * j.inner, PARALLEL_MIN, 2);
    if (parts > 1 && j.rows < (size_t)parts)
        j.chunks = (size_t)parts;
    j.parts = parts; /* each task takes a run of (row, piece) units */
    ld_pool_run(c->pool, j.parts, binary_task, &j);
    return LEANDET_OK;
}

/* ---- ADD/SUB followed by RELU/RELU6, as one op ---------------------------- */

/* BlazeFace and palm blocks end in ADD then RELU: the pair is the ADD with
 * the activation fused (one pass, the sum never stored). The fused kernel
 * runs at the RELU's place and reads the ADD's inputs there; the session
 * keeps them live until then (ld_plan_config.read_until). Same values as
 * the pair: the clamp of the sum to the activation's range. */
typedef struct binary_act_f32 {
    binary_f32 bin;        /* the ADD's plan, its activation replaced */
    ld_tensor *in[2];      /* the ADD's inputs (session tensors) */
} binary_act_f32;

static leandet_status binary_act_eval(ld_op_ctx *c)
{
    binary_act_f32 *s = c->state;
    ld_op_ctx f = *c;
    f.in = s->in;
    f.n_in = 2;
    f.state = &s->bin;
    return ld_f32_binary_eval(&f);
}

static const ld_kernel binary_act_kernel = { LD_OP_ADD, NULL, NULL, binary_act_eval };

int ld_fuse_binary_act_f32(ld_op_ctx *prod, ld_op_ctx *cons, ld_alloc *alloc, const ld_kernel **kernel)
{
    const int b = prod->op->builtin, a = cons->op->builtin;
    if ((b != LD_OP_ADD && b != LD_OP_SUB) || (a != LD_OP_RELU && a != LD_OP_RELU6) || prod->n_in != 2 ||
        prod->n_out != 1 || cons->n_in != 1 || cons->n_out != 1 || cons->in[0] != prod->out[0] ||
        prod->op->params.arith.act != LD_ACT_NONE || !ld_f32_binary_accepts(prod) || !ld_f32_is(cons->out[0]))
        return 0;
    if (!ld_shape_equal(&prod->out[0]->shape, &cons->out[0]->shape))
        return 0;
    binary_act_f32 *s = ld_malloc(alloc, sizeof *s);
    if (!s)
        return -1;
    ld_op_desc op = *prod->op; /* prepare reads only the activation of it later */
    op.params.arith.act = a == LD_OP_RELU ? LD_ACT_RELU : LD_ACT_RELU6;
    leandet_error err; /* a refused prepare only means: no fusion */
    ld_op_ctx p = *prod;
    p.op = &op;
    p.alloc = alloc;
    p.err = &err;
    p.state = NULL;
    const leandet_status st = ld_f32_binary_prepare(&p);
    if (st != LEANDET_OK) {
        ld_free(alloc, p.state);
        ld_free(alloc, s);
        return st == LEANDET_ERR_NO_MEMORY ? -1 : 0;
    }
    s->bin = *(const binary_f32 *)p.state;
    ld_free(alloc, p.state);
    s->in[0] = prod->in[0];
    s->in[1] = prod->in[1];
    ld_free(alloc, cons->state);
    cons->state = s;
    *kernel = &binary_act_kernel;
    return 1;
}

/* ---- ADD followed by PRELU with per-channel alpha, as one op --------------- */

/* Palm-detection blocks end in ADD then PRELU. Fused for the common form:
 * the ADD's operands have the output's shape and alpha is a constant over
 * the last dimension (C values, leading dims 1). One pass: s = a + b, then
 * s >= 0 ? s : s * alpha[c], the same float operations as the pair. */
typedef struct add_prelu_f32 {
    const ld_tensor *a, *b;
    const float *alpha;
    size_t rows, channels;
} add_prelu_f32;

LD_AVX2 static void add_prelu_rows(const add_prelu_f32 *s, size_t r0, size_t r1, float *o)
{
    const size_t c = s->channels;
    const float *a = s->a->data, *b = s->b->data;
    const __m256 zero = _mm256_setzero_ps();
    for (size_t r = r0; r < r1; r++) {
        const size_t base = r * c;
        size_t i = 0;
        for (; i + 8 <= c; i += 8) {
            const __m256 v = _mm256_add_ps(_mm256_loadu_ps(a + base + i), _mm256_loadu_ps(b + base + i));
            const __m256 neg = _mm256_mul_ps(v, _mm256_loadu_ps(s->alpha + i));
            _mm256_storeu_ps(o + base + i, _mm256_blendv_ps(neg, v, _mm256_cmp_ps(v, zero, _CMP_GE_OQ)));
        }
        for (; i < c; i++) {
            const float v = a[base + i] + b[base + i];
            o[base + i] = v >= 0.0f ? v : v * s->alpha[i];
        }
    }
}

typedef struct add_prelu_job {
    const add_prelu_f32 *s;
    float *o;
    int parts;
} add_prelu_job;

static void add_prelu_task(void *ctx, int task, int thread)
{
    (void)thread;
    const add_prelu_job *j = ctx;
    size_t r0, r1;
    ld_f32_part(j->s->rows, j->parts, task, &r0, &r1);
    add_prelu_rows(j->s, r0, r1, j->o);
}

static leandet_status add_prelu_eval(ld_op_ctx *c)
{
    const add_prelu_f32 *s = c->state;
    add_prelu_job j = { s, c->out[0]->data, 1 };
    j.parts = ld_f32_parts(c->pool, s->rows * s->channels, PARALLEL_MIN, 2);
    if ((size_t)j.parts > s->rows)
        j.parts = s->rows ? (int)s->rows : 1;
    ld_pool_run(c->pool, j.parts, add_prelu_task, &j);
    return LEANDET_OK;
}

static const ld_kernel add_prelu_kernel = { LD_OP_PRELU, NULL, NULL, add_prelu_eval };

int ld_fuse_add_prelu_f32(ld_op_ctx *prod, ld_op_ctx *cons, ld_alloc *alloc, const ld_kernel **kernel)
{
    if (prod->op->builtin != LD_OP_ADD || cons->op->builtin != LD_OP_PRELU || prod->n_in != 2 || prod->n_out != 1 ||
        cons->n_in != 2 || cons->n_out != 1 || cons->in[0] != prod->out[0] || !cons->in[1] ||
        prod->op->params.arith.act != LD_ACT_NONE || !ld_f32_binary_accepts(prod) || !ld_f32_is(cons->out[0]))
        return 0;
    const ld_shape *y = &cons->out[0]->shape;
    const ld_tensor *alpha = cons->in[1];
    if (y->rank < 1 || !ld_shape_equal(&prod->in[0]->shape, y) || !ld_shape_equal(&prod->in[1]->shape, y) ||
        !ld_shape_equal(&prod->out[0]->shape, y) || !ld_f32_is_const(alpha))
        return 0;
    const size_t channels = (size_t)y->d[y->rank - 1];
    if (channels == 0 || ld_shape_count(&alpha->shape) != channels || alpha->shape.rank < 1 ||
        (size_t)alpha->shape.d[alpha->shape.rank - 1] != channels)
        return 0;
    add_prelu_f32 *s = ld_malloc(alloc, sizeof *s);
    if (!s)
        return -1;
    s->a = prod->in[0];
    s->b = prod->in[1];
    s->alpha = alpha->data;
    s->channels = channels;
    s->rows = ld_shape_count(y) / channels;
    ld_free(alloc, cons->state);
    cons->state = s;
    *kernel = &add_prelu_kernel;
    return 1;
}

/* Elementwise reference kernels: ADD SUB MUL, RELU RELU6 PRELU HARD_SWISH
 * LOGISTIC TANH, SOFTMAX, QUANTIZE DEQUANTIZE.
 *
 * Expected values come from (a) formulas written here independently of the
 * library (index arithmetic for broadcasting, TFLite's integer pipeline
 * re-derived with int64 floor/round arithmetic, an ldexp-based float16
 * decoder), (b) real-valued results within one quantization step, and (c)
 * small golden vectors produced by TensorFlow Lite itself (ai-edge-litert
 * 2.3.0, BUILTIN_REF resolver, single-op models) for the ops no bundled model
 * exercises in 8 bits. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "core/alloc.h"
#include "kernels/kernel.h"
#include "model/ops.h"

/* ---- building tensors and running one op -------------------------------- */

typedef struct tt {
    ld_tensor t;
    ld_quant q;
    float scale[8];
    int32_t zp[8];
    ld_tensor_desc d;
} tt;

static void tinit(tt *x, ld_dtype type, void *data, int rank, const int32_t *dims)
{
    memset(x, 0, sizeof *x);
    x->t.type = type;
    x->t.shape.rank = rank;
    for (int i = 0; i < rank; i++)
        x->t.shape.d[i] = dims[i];
    x->t.data = data;
    x->t.bytes = ld_shape_count(&x->t.shape) * leandet_dtype_size(type);
    x->d.name = "t";
    x->t.desc = &x->d;
    x->q.scale = x->scale;
    x->q.zero_point = x->zp;
    x->t.quant = &x->q;
}

static void tquant(tt *x, float scale, int32_t zp)
{
    x->q.count = 1;
    x->scale[0] = scale;
    x->zp[0] = zp;
}

typedef struct run_result {
    leandet_status st;
    char msg[512];
    size_t leaked;
} run_result;

/* Prepare + eval one op; `fail_alloc` makes the first allocation fail. */
static run_result run_op(int builtin, const ld_op_params *params, tt **ins, int nin, tt *out, int fail_alloc)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.n_inputs = nin;
    op.n_outputs = 1;
    if (params)
        op.params = *params;
    ld_tensor *in[4], *outs[1] = { &out->t };
    for (int i = 0; i < nin; i++)
        in[i] = &ins[i]->t;
    ld_alloc al;
    ld_alloc_init(&al, NULL);
    if (fail_alloc)
        al.fail_at = 0;
    leandet_error err;
    memset(&err, 0, sizeof err);
    ld_op_ctx c = { .op = &op, .index = 3, .n_in = nin, .n_out = 1, .in = in, .out = outs, .alloc = &al, .err = &err };
    run_result r = { LEANDET_ERR_INTERNAL, "", 0 };
    const ld_kernel *k = ld_kernel_find(&op);
    if (!k) {
        snprintf(r.msg, sizeof r.msg, "no kernel");
        return r;
    }
    const size_t capacity = out->t.bytes; /* set by tinit from the test's buffer */
    r.st = k->prepare(&c);
    if (r.st == LEANDET_OK) {
        if (ld_shape_count(&out->t.shape) * leandet_dtype_size(out->t.type) > capacity) {
            r.st = LEANDET_ERR_INTERNAL;
            snprintf(r.msg, sizeof r.msg, "output larger than declared");
        } else {
            r.st = k->eval(&c);
        }
    }
    if (r.st != LEANDET_OK && !r.msg[0])
        snprintf(r.msg, sizeof r.msg, "%s", err.message);
    ld_free(&al, c.state);
    r.leaked = al.current;
    return r;
}

static ld_op_params act_params(ld_activation act)
{
    ld_op_params p;
    memset(&p, 0, sizeof p);
    p.arith.act = act;
    return p;
}

static uint32_t rng_state = 12345u;
static uint32_t rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}
static float rndf(float span) { return ((float)(rnd() % 20001) / 10000.0f - 1.0f) * span; }

/* ---- independent re-derivation of TFLite's integer arithmetic ----------- */

static void ref_mult(double m, int32_t *q, int *shift)
{
    if (m == 0.0) {
        *q = 0;
        *shift = 0;
        return;
    }
    int e = 0;
    while (m >= 1.0) {
        m /= 2;
        e++;
    }
    while (m < 0.5) {
        m *= 2;
        e--;
    }
    long long f = llround(m * 2147483648.0);
    if (f == 2147483648LL) {
        f /= 2;
        e++;
    }
    if (e < -31) {
        f = 0;
        e = 0;
    }
    *q = (int32_t)f;
    *shift = e;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* a * b / 2^31 rounded half up (what the nudged truncating division gives). */
static int32_t ref_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    return (int32_t)floor_div((int64_t)a * b + (1LL << 30), 1LL << 31);
}

/* x / 2^e rounded half away from zero. */
static int32_t ref_round_shift(int32_t x, int e)
{
    if (e <= 0)
        return x;
    const int64_t h = 1LL << (e - 1), v = x;
    return (int32_t)(v >= 0 ? (v + h) >> e : -((-v + h) >> e));
}

static int32_t ref_mbqm(int32_t x, int32_t q, int shift)
{
    const int64_t v = (int64_t)x * ((int64_t)1 << (shift > 0 ? shift : 0));
    return ref_round_shift(ref_high_mul((int32_t)v, q), shift > 0 ? 0 : -shift);
}

static int32_t clampi(int64_t v, int32_t lo, int32_t hi) { return (int32_t)(v < lo ? lo : v > hi ? hi : v); }

static void type_range(ld_dtype t, int32_t *lo, int32_t *hi)
{
    *lo = t == LEANDET_INT8 ? -128 : 0;
    *hi = t == LEANDET_INT8 ? 127 : 255;
}

static void ref_act_range(ld_activation act, ld_dtype t, float so, int32_t zo, int32_t *lo, int32_t *hi)
{
    type_range(t, lo, hi);
    if (act == LD_ACT_RELU || act == LD_ACT_RELU6)
        *lo = clampi(zo + (int32_t)roundf(0.0f / so), *lo, *hi);
    if (act == LD_ACT_RELU6)
        *hi = clampi(zo + (int32_t)roundf(6.0f / so), *lo, *hi);
    if (act == LD_ACT_RELU_N1_TO_1) {
        *lo = clampi(zo + (int32_t)roundf(-1.0f / so), *lo, *hi);
        *hi = clampi(zo + (int32_t)roundf(1.0f / so), *lo, *hi);
    }
}

static int32_t load_q(const void *p, size_t i, ld_dtype t)
{
    return t == LEANDET_INT8 ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* ---- broadcasting (float) ------------------------------------------------ */

typedef struct bshape {
    int ra, rb;
    int32_t a[6], b[6];
} bshape;

/* Offset into an input of rank r for output multi-index idx (output rank ro). */
static size_t bindex(const int32_t *dims, int r, const int32_t *idx, int ro)
{
    size_t off = 0;
    for (int i = 0; i < r; i++) {
        const int32_t j = idx[ro - r + i];
        off = off * (size_t)dims[i] + (size_t)(dims[i] == 1 ? 0 : j);
    }
    return off;
}

static void test_broadcast_float(void)
{
    static const bshape cases[] = {
        { 3, 3, { 2, 1, 3 }, { 1, 4, 1 } },
        { 1, 0, { 3 }, { 0 } },
        { 0, 2, { 0 }, { 2, 2 } },
        { 6, 6, { 2, 1, 3, 1, 2, 1 }, { 1, 2, 1, 3, 1, 2 } },
        { 4, 1, { 1, 5, 1, 4 }, { 4 } },
        { 2, 4, { 3, 1 }, { 2, 1, 1, 5 } },
        { 4, 4, { 1, 2, 3, 4 }, { 1, 2, 3, 4 } },
    };
    static const int ops[] = { LD_OP_ADD, LD_OP_SUB, LD_OP_MUL };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const bshape *bc = &cases[ci];
        const int ro = bc->ra > bc->rb ? bc->ra : bc->rb;
        int32_t od[6];
        for (int i = 0; i < ro; i++) {
            const int ia = i - (ro - bc->ra), ib = i - (ro - bc->rb);
            const int32_t x = ia >= 0 ? bc->a[ia] : 1, y = ib >= 0 ? bc->b[ib] : 1;
            od[i] = x > y ? x : y;
        }
        size_t na = 1, nb = 1, no = 1;
        for (int i = 0; i < bc->ra; i++)
            na *= (size_t)bc->a[i];
        for (int i = 0; i < bc->rb; i++)
            nb *= (size_t)bc->b[i];
        for (int i = 0; i < ro; i++)
            no *= (size_t)od[i];
        float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *o = malloc(no * sizeof *o);
        for (size_t i = 0; i < na; i++)
            a[i] = rndf(8.0f);
        for (size_t i = 0; i < nb; i++)
            b[i] = rndf(8.0f);
        for (int oi = 0; oi < 3; oi++) {
            for (int act = 0; act < 2; act++) {
                tt A, B, O;
                tinit(&A, LEANDET_FLOAT32, a, bc->ra, bc->a);
                tinit(&B, LEANDET_FLOAT32, b, bc->rb, bc->b);
                tinit(&O, LEANDET_FLOAT32, o, ro, od);
                memset(&O.t.shape, 0, sizeof O.t.shape); /* prepare must write it */
                ld_op_params p = act_params(act ? LD_ACT_RELU6 : LD_ACT_NONE);
                tt *ins[2] = { &A, &B };
                run_result r = run_op(ops[oi], &p, ins, 2, &O, 0);
                CHECK_MSG(r.st == LEANDET_OK, "case %zu op %d: %s", ci, ops[oi], r.msg);
                CHECK(r.leaked == 0);
                CHECK(O.t.shape.rank == ro);
                for (int i = 0; i < ro; i++)
                    CHECK(O.t.shape.d[i] == od[i]);
                size_t bad = 0;
                int32_t idx[6] = { 0 };
                for (size_t k = 0; k < no; k++) {
                    const float x = a[bindex(bc->a, bc->ra, idx, ro)], y = b[bindex(bc->b, bc->rb, idx, ro)];
                    float e = ops[oi] == LD_OP_ADD ? x + y : ops[oi] == LD_OP_SUB ? x - y : x * y;
                    if (act)
                        e = e < 0.0f ? 0.0f : e > 6.0f ? 6.0f : e;
                    bad += o[k] != e;
                    for (int d = ro - 1; d >= 0 && ++idx[d] == od[d]; d--)
                        idx[d] = 0;
                }
                CHECK_MSG(bad == 0, "case %zu op %d act %d: %zu wrong", ci, ops[oi], act, bad);
            }
        }
        free(a);
        free(b);
        free(o);
    }
}

/* ---- quantized ADD / SUB / MUL ------------------------------------------- */

typedef struct qset {
    float s1, s2, so;
    int32_t z1, z2, zo; /* for uint8; int8 uses z - 128 */
} qset;

static int32_t ref_arith_q(int op, int32_t x, int32_t y, const qset *q, int32_t z1, int32_t z2, int32_t zo,
                           int32_t lo, int32_t hi)
{
    int32_t raw, m, mo;
    int sh, sho;
    if (op == LD_OP_MUL) {
        const float real = q->s1 * q->s2 / q->so;
        ref_mult(real, &m, &sh);
        raw = ref_mbqm((x - z1) * (y - z2), m, sh);
    } else {
        const double twice = 2.0 * (q->s1 > q->s2 ? q->s1 : q->s2);
        int32_t m1, m2;
        int sh1, sh2;
        ref_mult(q->s1 / twice, &m1, &sh1);
        ref_mult(q->s2 / twice, &m2, &sh2);
        ref_mult(twice / (1048576.0 * q->so), &mo, &sho);
        const int32_t a = ref_mbqm((x - z1) * 1048576, m1, sh1), b = ref_mbqm((y - z2) * 1048576, m2, sh2);
        raw = ref_mbqm(op == LD_OP_ADD ? a + b : a - b, mo, sho);
    }
    return clampi((int64_t)raw + zo, lo, hi);
}

static void test_arith_quant(void)
{
    static const qset qs[] = {
        { 0.05f, 0.03f, 0.07f, 138, 148, 133 },
        { 0.1f, 0.1f, 0.2f, 123, 123, 128 },
        { 0.02f, 0.5f, 0.6f, 228, 128, 178 },
        { 1.0f, 0.001f, 0.9f, 128, 131, 248 },
        { 0.0117f, 0.0235f, 0.0039f, 0, 255, 17 },
    };
    static const int ops[] = { LD_OP_ADD, LD_OP_SUB, LD_OP_MUL };
    static const ld_activation acts[] = { LD_ACT_NONE, LD_ACT_RELU, LD_ACT_RELU6, LD_ACT_RELU_N1_TO_1 };
    uint8_t a[256], b[16], o[16 * 256];
    for (int ti = 0; ti < 2; ti++) {
        const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
        const int32_t shift = ti ? 128 : 0;
        for (int i = 0; i < 256; i++)
            a[i] = (uint8_t)i; /* every byte value */
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)(i * 17 + 3);
        for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++) {
            const qset *q = &qs[qi];
            const int32_t z1 = q->z1 - shift, z2 = q->z2 - shift, zo = q->zo - shift;
            for (int oi = 0; oi < 3; oi++) {
                for (int ai = 0; ai < 4; ai++) {
                    tt A, B, O;
                    tinit(&A, t, a, 2, (int32_t[]){ 1, 256 });
                    tinit(&B, t, b, 2, (int32_t[]){ 16, 1 });
                    tinit(&O, t, o, 2, (int32_t[]){ 16, 256 });
                    tquant(&A, q->s1, z1);
                    tquant(&B, q->s2, z2);
                    tquant(&O, q->so, zo);
                    ld_op_params p = act_params(acts[ai]);
                    tt *ins[2] = { &A, &B };
                    run_result r = run_op(ops[oi], &p, ins, 2, &O, 0);
                    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
                    CHECK(O.t.shape.rank == 2 && O.t.shape.d[0] == 16 && O.t.shape.d[1] == 256);
                    int32_t lo, hi;
                    ref_act_range(acts[ai], t, q->so, zo, &lo, &hi);
                    size_t bad = 0, far = 0;
                    for (int i = 0; i < 16; i++) {
                        for (int j = 0; j < 256; j++) {
                            const int32_t x = load_q(a, (size_t)j, t), y = load_q(b, (size_t)i, t);
                            const int32_t got = load_q(o, (size_t)(i * 256 + j), t);
                            bad += got != ref_arith_q(ops[oi], x, y, q, z1, z2, zo, lo, hi);
                            /* and close to the real-valued result */
                            const double rx = q->s1 * (double)(x - z1), ry = q->s2 * (double)(y - z2);
                            const double real = ops[oi] == LD_OP_ADD ? rx + ry : ops[oi] == LD_OP_SUB ? rx - ry : rx * ry;
                            const int32_t ideal = clampi((int64_t)llround(real / q->so) + zo, lo, hi);
                            far += abs(got - ideal) > 1;
                        }
                    }
                    CHECK_MSG(bad == 0, "type %d q %zu op %d act %d: %zu differ from the integer pipeline", (int)t, qi,
                              ops[oi], (int)acts[ai], bad);
                    CHECK_MSG(far == 0, "type %d q %zu op %d act %d: %zu off by more than 1", (int)t, qi, ops[oi],
                              (int)acts[ai], far);
                }
            }
        }
    }
}

/* TFLite golden: int8 [2,1,4] op [3,1] -> [2,3,4]; s1 0.07 z1 3, s2 0.02 z2 -9,
 * out 0.09 (MUL 0.05) z -4. */
static const int16_t add_i8[24] = { -126, -73, -27, -27, -102, -49, -4, -3, -76, -23, 23, 24,
                                    -26, -1, 43, 72, -2, 23, 67, 96, 25, 50, 94, 123 };
static const int16_t sub_i8[24] = { -86, -33, 13, 14, -109, -57, -11, -10, -128, -83, -37, -37,
                                    15, 40, 84, 113, -9, 16, 60, 89, -36, -11, 33, 62 };
static const int16_t mul_i8[24] = { 127, 127, 6, 4, -63, -32, -6, -5, -128, -128, -19, -15,
                                    1, -80, -128, -128, -5, 9, 35, 52, -12, 110, 127, 127 };

static void test_arith_golden(void)
{
    int8_t a[8] = { -128, -60, -1, 0, 1, 33, 90, 127 }, b[3] = { -100, 7, 127 }, o[24];
    static const int ops[] = { LD_OP_ADD, LD_OP_SUB, LD_OP_MUL };
    const int16_t *want[] = { add_i8, sub_i8, mul_i8 };
    for (int oi = 0; oi < 3; oi++) {
        tt A, B, O;
        tinit(&A, LEANDET_INT8, a, 3, (int32_t[]){ 2, 1, 4 });
        tinit(&B, LEANDET_INT8, b, 2, (int32_t[]){ 3, 1 });
        tinit(&O, LEANDET_INT8, o, 3, (int32_t[]){ 2, 3, 4 });
        tquant(&A, 0.07f, 3);
        tquant(&B, 0.02f, -9);
        tquant(&O, ops[oi] == LD_OP_MUL ? 0.05f : 0.09f, -4);
        tt *ins[2] = { &A, &B };
        run_result r = run_op(ops[oi], NULL, ins, 2, &O, 0);
        CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
        int bad = 0;
        for (int i = 0; i < 24; i++)
            bad += o[i] != want[oi][i];
        CHECK_MSG(bad == 0, "op %d: %d values differ from TFLite", ops[oi], bad);
    }
    /* MUL's multiplier s1*s2/so is computed in float: with these scales the
     * double-precision multiplier would give 128 here; TFLite gives 127. */
    uint8_t x = 18, y = 100, z = 0;
    tt A, B, O;
    tinit(&A, LEANDET_UINT8, &x, 1, (int32_t[]){ 1 });
    tinit(&B, LEANDET_UINT8, &y, 1, (int32_t[]){ 1 });
    tinit(&O, LEANDET_UINT8, &z, 1, (int32_t[]){ 1 });
    tquant(&A, 0.002985707f, 128);
    tquant(&B, 0.56361085f, 128);
    tquant(&O, 0.040660575f, 0);
    tt *ins[2] = { &A, &B };
    run_result r = run_op(LD_OP_MUL, NULL, ins, 2, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK && z == 127, "MUL float multiplier: got %d (%s)", z, r.msg);
}

/* ---- unary activations ---------------------------------------------------- */

/* Run a unary op over every byte value (shape [256]); returns results by input value order. */
static run_result run_unary_q(int builtin, ld_dtype t, float si, int32_t zi, float so, int32_t zo, int32_t *res)
{
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    tt I, O;
    tinit(&I, t, in, 1, (int32_t[]){ 256 });
    tinit(&O, t, out, 1, (int32_t[]){ 256 });
    tquant(&I, si, zi);
    tquant(&O, so, zo);
    tt *ins[1] = { &I };
    run_result r = run_op(builtin, NULL, ins, 1, &O, 0);
    for (int i = 0; i < 256; i++)
        res[i] = load_q(out, (size_t)i, t);
    return r;
}

typedef struct uq {
    float si, so;
    int32_t zi, zo; /* uint8 values; int8 uses -128 */
} uq;

static const uq unary_sets[] = {
    { 0.05f, 0.03f, 10, 20 }, { 0.1f, 0.05f, 123, 28 }, { 2.0f, 1.5f, 3, 7 },
    { 0.001f, 0.002f, 0, 1 }, { 0.0117f, 0.0235f, 77, 33 }, { 0.5f, 0.25f, 0, 128 },
    { 2.0f, 0.001f, 130, 9 },
};

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

static void test_unary_quant(void)
{
    int32_t got[256];
    for (int ti = 0; ti < 2; ti++) {
        const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
        int32_t tmin, tmax;
        type_range(t, &tmin, &tmax);
        for (size_t k = 0; k < sizeof unary_sets / sizeof unary_sets[0]; k++) {
            const uq *u = &unary_sets[k];
            const int32_t zi = u->zi + tmin, zo = u->zo + tmin;
            /* RELU / RELU6: zo + MultiplyByQuantizedMultiplier(q - zi, si/so), clamped */
            for (int relu6 = 0; relu6 < 2; relu6++) {
                run_result r = run_unary_q(relu6 ? LD_OP_RELU6 : LD_OP_RELU, t, u->si, zi, u->so, zo, got);
                CHECK_MSG(r.st == LEANDET_OK && r.leaked == 0, "%s", r.msg);
                int32_t m, sh, lo, hi;
                ref_mult((double)(u->si / u->so), &m, &sh);
                ref_act_range(relu6 ? LD_ACT_RELU6 : LD_ACT_RELU, t, u->so, zo, &lo, &hi);
                int bad = 0;
                for (int i = 0; i < 256; i++) {
                    const int32_t q = load_q((uint8_t[]){ (uint8_t)i }, 0, t);
                    bad += got[i] != clampi((int64_t)zo + ref_mbqm(q - zi, m, sh), lo, hi);
                }
                CHECK_MSG(bad == 0, "RELU%s type %d set %zu: %d wrong", relu6 ? "6" : "", (int)t, k, bad);
            }
            /* LOGISTIC (output 1/256) and TANH: float transform, roundf, clamp */
            for (int tanh_op = 0; tanh_op < 2; tanh_op++) {
                const float so = tanh_op ? u->so : 1.0f / 256;
                run_result r = run_unary_q(tanh_op ? LD_OP_TANH : LD_OP_LOGISTIC, t, u->si, zi, so, zo, got);
                CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
                int bad = 0, far = 0;
                for (int i = 0; i < 256; i++) {
                    const int32_t q = load_q((uint8_t[]){ (uint8_t)i }, 0, t);
                    const float x = u->si * (float)(q - zi);
                    const float y = tanh_op ? tanhf(x) : sigm(x);
                    bad += got[i] != clampi((int64_t)(roundf(y * (1.0f / so)) + (float)zo), tmin, tmax);
                    const double ideal = (tanh_op ? tanh((double)x) : 1.0 / (1.0 + exp(-(double)x))) / so + zo;
                    far += fabs((double)got[i] - (ideal < tmin ? tmin : ideal > tmax ? tmax : ideal)) > 0.5 + 1e-3;
                }
                CHECK_MSG(bad == 0 && far == 0, "%s type %d set %zu: %d wrong, %d far", tanh_op ? "TANH" : "LOGISTIC",
                          (int)t, k, bad, far);
            }
            /* HARD_SWISH: within one output step of x * relu6(x + 3) / 6 */
            run_result r = run_unary_q(LD_OP_HARD_SWISH, t, u->si, zi, u->so, zo, got);
            if (u->si / 128.0f / u->so >= 1.0f) {
                CHECK(r.st == LEANDET_ERR_UNSUPPORTED); /* TFLite refuses these scales too */
                continue;
            }
            CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
            int far = 0;
            for (int i = 0; i < 256; i++) {
                const int32_t q = load_q((uint8_t[]){ (uint8_t)i }, 0, t);
                const double x = u->si * (double)(q - zi);
                const double y = x * fmin(6.0, fmax(0.0, x + 3.0)) / 6.0 / u->so + zo;
                far += fabs((double)got[i] - fmin(tmax, fmax(tmin, y))) > 1.5;
            }
            CHECK_MSG(far == 0, "HARD_SWISH type %d set %zu: %d far from the real value", (int)t, k, far);
        }
    }
}

/* TFLite golden, inputs tmin, tmin+4, ..., tmin+252; uint8: in 0.05/10 out
 * 0.03/20; int8: in 0.1/-5 out 0.05/-100. */
static const int16_t hswish_u8[64] = { 13, 15, 18, 22, 25, 30, 34, 39, 45, 51, 58, 64, 72, 80, 88, 96, 105, 115, 123, 130, 137, 143, 150, 157, 163, 170, 177, 183, 190, 197, 203, 210, 217, 223, 230, 237, 243, 250, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255 };
static const int16_t tanh_u8[64] = { 5, 10, 17, 23, 30, 35, 40, 44, 47, 49, 50, 51, 52, 52, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53 };
static const int16_t hswish_i8[64] = { -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -103, -105, -107, -108, -107, -105, -103, -99, -94, -88, -81, -73, -64, -54, -43, -34, -26, -18, -10, -2, 6, 14, 22, 30, 38, 46, 54, 62, 70, 78, 86, 94, 102, 110, 118, 126, 127, 127, 127, 127 };
static const int16_t tanh_i8[64] = { -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -120, -119, -118, -116, -112, -106, -98, -91, -86, -83, -81, -81, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80, -80 };
/* PRELU int8 [1,4,4,4] (same inputs), alpha int8 [4] {-100,-3,50,127} scale
 * 0.01 zp 7, input 0.1/-5, output 0.05/3. */
static const int16_t prelu_i8[64] = { 127, 27, -96, -128, 127, 24, -82, -128, 127, 20, -68, -128, 127, 17, -55, -128, 127, 14, -41, -110, 95, 11, -27, -71, 61, 8, -13, -33, 27, 4, 0, 5, 13, 21, 29, 37, 45, 53, 61, 69, 77, 85, 93, 101, 109, 117, 125, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127 };

static void check_golden_unary(int builtin, ld_dtype t, float si, int32_t zi, float so, int32_t zo, const int16_t *want,
                               const char *what)
{
    int32_t got[256];
    run_result r = run_unary_q(builtin, t, si, zi, so, zo, got);
    CHECK_MSG(r.st == LEANDET_OK, "%s: %s", what, r.msg);
    int bad = 0;
    for (int k = 0; k < 64; k++) {
        const int byte = t == LEANDET_INT8 ? ((k * 4 - 128) & 0xff) : k * 4;
        bad += got[byte] != want[k];
    }
    CHECK_MSG(bad == 0, "%s: %d values differ from TFLite", what, bad);
}

static void test_unary_golden(void)
{
    check_golden_unary(LD_OP_HARD_SWISH, LEANDET_UINT8, 0.05f, 10, 0.03f, 20, hswish_u8, "HARD_SWISH uint8");
    check_golden_unary(LD_OP_HARD_SWISH, LEANDET_INT8, 0.1f, -5, 0.05f, -100, hswish_i8, "HARD_SWISH int8");
    check_golden_unary(LD_OP_TANH, LEANDET_UINT8, 0.05f, 10, 0.03f, 20, tanh_u8, "TANH uint8");
    check_golden_unary(LD_OP_TANH, LEANDET_INT8, 0.1f, -5, 0.05f, -100, tanh_i8, "TANH int8");

    int8_t x[64], o[64], alpha[4] = { -100, -3, 50, 127 };
    for (int i = 0; i < 64; i++)
        x[i] = (int8_t)(i * 4 - 128);
    tt I, A, O;
    tinit(&I, LEANDET_INT8, x, 4, (int32_t[]){ 1, 4, 4, 4 });
    tinit(&A, LEANDET_INT8, alpha, 1, (int32_t[]){ 4 });
    tinit(&O, LEANDET_INT8, o, 4, (int32_t[]){ 1, 4, 4, 4 });
    tquant(&I, 0.1f, -5);
    tquant(&A, 0.01f, 7);
    tquant(&O, 0.05f, 3);
    A.t.is_const = 1;
    tt *ins[2] = { &I, &A };
    run_result r = run_op(LD_OP_PRELU, NULL, ins, 2, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
    int bad = 0;
    for (int i = 0; i < 64; i++)
        bad += o[i] != prelu_i8[i];
    CHECK_MSG(bad == 0, "PRELU int8: %d values differ from TFLite", bad);

    /* TANH rounds half away from zero: tanh = +-1 at output scale 0.4 is +-2.5 */
    int8_t tx[8] = { 127, -128, 100, 0, 20, -20, 5, -5 }, ty[8];
    static const int8_t tanh_ties[8] = { 3, -3, 3, 0, 2, -2, 1, -1 };
    tinit(&I, LEANDET_INT8, tx, 1, (int32_t[]){ 8 });
    tinit(&O, LEANDET_INT8, ty, 1, (int32_t[]){ 8 });
    tquant(&I, 0.1f, 0);
    tquant(&O, 0.4f, 0);
    tt *one[1] = { &I };
    r = run_op(LD_OP_TANH, NULL, one, 1, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK && memcmp(ty, tanh_ties, sizeof ty) == 0, "TANH ties differ from TFLite (%s)", r.msg);
}

static void test_unary_float(void)
{
    enum { N = 64 };
    float x[N], y[N], alpha[4] = { 0.25f, -1.5f, 0.0f, 2.0f };
    const float special[] = { 0.0f, -0.0f, 3.0f, -3.0f, 6.0f, -6.0f, 20.0f, -20.0f, 16.7f, -9.5f, 1e-8f, -1e-8f,
                              13.0f, -15.0f, -8.9f };
    const int ns = (int)(sizeof special / sizeof special[0]);
    for (int i = 0; i < N; i++)
        x[i] = i < ns ? special[i] : rndf(12.0f);
    static const int ops[] = { LD_OP_RELU, LD_OP_RELU6, LD_OP_HARD_SWISH, LD_OP_LOGISTIC, LD_OP_TANH };
    for (int oi = 0; oi < 5; oi++) {
        tt I, O;
        tinit(&I, LEANDET_FLOAT32, x, 2, (int32_t[]){ 4, 16 });
        tinit(&O, LEANDET_FLOAT32, y, 2, (int32_t[]){ 4, 16 });
        tt *ins[1] = { &I };
        run_result r = run_op(ops[oi], NULL, ins, 1, &O, 0);
        CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            const double v = x[i];
            double e;
            switch (ops[oi]) {
            case LD_OP_RELU: e = v > 0 ? v : 0; break;
            case LD_OP_RELU6: e = v > 0 ? (v < 6 ? v : 6) : 0; break;
            case LD_OP_HARD_SWISH: e = v * fmin(6.0, fmax(0.0, v + 3.0)) / 6.0; break;
            /* TFLite 2.3.0's float logistic: exp(x) below -9, 1 above 16.619... */
            case LD_OP_LOGISTIC: e = v < -9.0 ? exp(v) : v > 16.619047164916992 ? 1.0 : 1.0 / (1.0 + exp(-v)); break;
            default: e = tanh(v); break;
            }
            bad += fabs(y[i] - e) > 1e-6 * fabs(e) + 1e-37;
        }
        CHECK_MSG(bad == 0, "float op %d: %d wrong", ops[oi], bad);
    }
    /* PRELU float with alpha [4] broadcast along the last axis */
    tt I, A, O;
    tinit(&I, LEANDET_FLOAT32, x, 2, (int32_t[]){ 16, 4 });
    tinit(&A, LEANDET_FLOAT32, alpha, 1, (int32_t[]){ 4 });
    tinit(&O, LEANDET_FLOAT32, y, 2, (int32_t[]){ 16, 4 });
    tt *ins[2] = { &I, &A };
    run_result r = run_op(LD_OP_PRELU, NULL, ins, 2, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += y[i] != (x[i] >= 0 ? x[i] : x[i] * alpha[i % 4]);
    CHECK_MSG(bad == 0, "PRELU float: %d wrong", bad);
}

/* ---- SOFTMAX -------------------------------------------------------------- */

/* TFLite golden: rows {-128,-20,0,5,17,17,60,100,127,-3}, {1..10}; int8 in
 * 0.1/-2 beta 1; uint8 = int8 + 128, in 0.05/100, beta 0.7. */
static const int16_t softmax_i8[20] = { -128, -128, -128, -128, -128, -128, -128, -112, 112, -128,
                                        -112, -111, -109, -107, -105, -102, -99, -96, -93, -89 };
static const int16_t softmax_u8[20] = { 0, 1, 2, 2, 3, 3, 16, 63, 163, 2, 22, 23, 23, 24, 25, 26, 27, 28, 29, 30 };

static void test_softmax(void)
{
    static const int8_t rows[20] = { -128, -20, 0, 5, 17, 17, 60, 100, 127, -3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    for (int ti = 0; ti < 2; ti++) {
        const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
        uint8_t x[20], o[20];
        for (int i = 0; i < 20; i++)
            x[i] = (uint8_t)(ti ? rows[i] : rows[i] + 128);
        const float si = ti ? 0.1f : 0.05f, beta = ti ? 1.0f : 0.7f;
        const int32_t zi = ti ? -2 : 100, tmin = ti ? -128 : 0;
        tt I, O;
        tinit(&I, t, x, 2, (int32_t[]){ 2, 10 });
        tinit(&O, t, o, 2, (int32_t[]){ 2, 10 });
        tquant(&I, si, zi);
        tquant(&O, 1.0f / 256, tmin);
        ld_op_params p;
        memset(&p, 0, sizeof p);
        p.softmax.beta = beta;
        tt *ins[1] = { &I };
        run_result r = run_op(LD_OP_SOFTMAX, &p, ins, 1, &O, 0);
        CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
        const int16_t *want = ti ? softmax_i8 : softmax_u8;
        int bad = 0, far = 0;
        for (int row = 0; row < 2; row++) {
            double sum = 0, mx = -1e9;
            for (int c = 0; c < 10; c++)
                mx = fmax(mx, load_q(x, (size_t)(row * 10 + c), t));
            for (int c = 0; c < 10; c++)
                sum += exp(beta * si * (load_q(x, (size_t)(row * 10 + c), t) - mx));
            for (int c = 0; c < 10; c++) {
                const int k = row * 10 + c;
                const double p_real = exp(beta * si * (load_q(x, (size_t)k, t) - mx)) / sum;
                bad += load_q(o, (size_t)k, t) != want[k];
                far += fabs(load_q(o, (size_t)k, t) - (fmin(p_real * 256, 255) + tmin)) > 1.0;
            }
        }
        CHECK_MSG(bad == 0 && far == 0, "SOFTMAX type %d: %d differ from TFLite, %d far from real", (int)t, bad, far);
    }
    /* float */
    float x[3 * 7], y[3 * 7];
    for (int i = 0; i < 21; i++)
        x[i] = rndf(10.0f);
    tt I, O;
    tinit(&I, LEANDET_FLOAT32, x, 3, (int32_t[]){ 1, 3, 7 });
    tinit(&O, LEANDET_FLOAT32, y, 3, (int32_t[]){ 1, 3, 7 });
    ld_op_params p;
    memset(&p, 0, sizeof p);
    p.softmax.beta = 1.3f;
    tt *ins[1] = { &I };
    run_result r = run_op(LD_OP_SOFTMAX, &p, ins, 1, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
    int bad = 0;
    for (int row = 0; row < 3; row++) {
        double mx = -1e30, sum = 0;
        for (int c = 0; c < 7; c++)
            mx = fmax(mx, x[row * 7 + c]);
        for (int c = 0; c < 7; c++)
            sum += exp(1.3 * (x[row * 7 + c] - mx));
        for (int c = 0; c < 7; c++)
            bad += fabs(y[row * 7 + c] - exp(1.3 * (x[row * 7 + c] - mx)) / sum) > 1e-6;
    }
    CHECK_MSG(bad == 0, "SOFTMAX float: %d wrong", bad);
}

/* ---- QUANTIZE / DEQUANTIZE ------------------------------------------------ */

static void test_quantize(void)
{
    /* scale 0.25: x / s is exact, so these are true ties (round half away from zero) */
    float x[] = { 0.125f, -0.125f, 0.375f, -0.375f, 0.625f, -0.625f, 0.0f, -0.0f, 1e6f, -1e6f, 1e20f, -1e20f,
                  INFINITY, -INFINITY, NAN, 31.9f };
    enum { N = sizeof x / sizeof x[0] };
    for (int ti = 0; ti < 2; ti++) {
        const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
        int32_t lo, hi;
        type_range(t, &lo, &hi);
        const int32_t zp = lo + 100;
        uint8_t o[N];
        tt I, O;
        tinit(&I, LEANDET_FLOAT32, x, 1, (int32_t[]){ N });
        tinit(&O, t, o, 1, (int32_t[]){ N });
        tquant(&O, 0.25f, zp);
        tt *ins[1] = { &I };
        run_result r = run_op(LD_OP_QUANTIZE, NULL, ins, 1, &O, 0);
        CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
        const int32_t want[N] = { zp + 1, zp - 1, zp + 2, zp - 2, zp + 3, zp - 3, zp, zp, hi, lo, hi, lo, hi, lo, zp,
                                  zp + 128 };
        for (int i = 0; i < N; i++)
            CHECK_MSG(load_q(o, (size_t)i, t) == clampi(want[i], lo, hi), "quantize type %d x=%g: got %d want %d",
                      (int)t, (double)x[i], load_q(o, (size_t)i, t), clampi(want[i], lo, hi));
    }
    /* per-channel along axis 1 of [2,3,2] */
    float xc[12];
    int8_t oc[12];
    for (int i = 0; i < 12; i++)
        xc[i] = rndf(20.0f);
    tt I, O;
    tinit(&I, LEANDET_FLOAT32, xc, 3, (int32_t[]){ 2, 3, 2 });
    tinit(&O, LEANDET_INT8, oc, 3, (int32_t[]){ 2, 3, 2 });
    const float sc[3] = { 0.25f, 0.5f, 0.1f };
    const int32_t zc[3] = { -127, 7, 2 };
    O.q.count = 3;
    O.q.axis = 1;
    memcpy(O.scale, sc, sizeof sc);
    memcpy(O.zp, zc, sizeof zc);
    tt *ins[1] = { &I };
    run_result r = run_op(LD_OP_QUANTIZE, NULL, ins, 1, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
    int bad = 0;
    for (int i = 0; i < 12; i++) {
        const int ch = (i / 2) % 3;
        bad += oc[i] != clampi((int64_t)lround(xc[i] / sc[ch]) + zc[ch], -128, 127);
    }
    CHECK_MSG(bad == 0, "per-channel quantize: %d wrong", bad);

    /* requantize: uint8 -> int8 with equal scale shifts by 128; int8 -> int8 rescales */
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    tinit(&I, LEANDET_UINT8, in, 1, (int32_t[]){ 256 });
    tinit(&O, LEANDET_INT8, out, 1, (int32_t[]){ 256 });
    tquant(&I, 0.02f, 128);
    tquant(&O, 0.02f, 0);
    ins[0] = &I;
    r = run_op(LD_OP_QUANTIZE, NULL, ins, 1, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
    bad = 0;
    for (int i = 0; i < 256; i++)
        bad += (int8_t)out[i] != i - 128;
    CHECK_MSG(bad == 0, "requantize uint8->int8: %d wrong", bad);
    tinit(&I, LEANDET_INT8, in, 1, (int32_t[]){ 256 });
    tinit(&O, LEANDET_INT8, out, 1, (int32_t[]){ 256 });
    tquant(&I, 0.0290477797f, -118);
    tquant(&O, 0.0391709805f, -121);
    r = run_op(LD_OP_QUANTIZE, NULL, ins, 1, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
    int32_t m;
    int sh;
    ref_mult((double)0.0290477797f / (double)0.0391709805f, &m, &sh);
    bad = 0;
    for (int i = 0; i < 256; i++)
        bad += (int8_t)out[i] != clampi((int64_t)ref_mbqm((int8_t)in[i] + 118, m, sh) - 121, -128, 127);
    CHECK_MSG(bad == 0, "requantize int8->int8: %d wrong", bad);
}

/* binary16 decoded arithmetically: (-1)^s * m * 2^(e-25) with the implicit bit. */
static float ref_half(uint16_t h)
{
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexpf((float)m, -24);
    else
        v = ldexpf((float)(m | 1024), e - 25);
    return s ? -v : v;
}

static void test_dequantize(void)
{
    uint16_t *h = malloc(65536 * sizeof *h);
    float *y = malloc(65536 * sizeof *y);
    for (int i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    tt I, O;
    tinit(&I, LEANDET_FLOAT16, h, 2, (int32_t[]){ 256, 256 });
    tinit(&O, LEANDET_FLOAT32, y, 2, (int32_t[]){ 256, 256 });
    I.t.is_const = 0; /* eval converts; a constant input is folded in prepare (test_opt_float) */
    tt *ins[1] = { &I };
    run_result r = run_op(LD_OP_DEQUANTIZE, NULL, ins, 1, &O, 0);
    CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        const float e = ref_half((uint16_t)i);
        uint32_t got, want;
        memcpy(&got, &y[i], 4);
        memcpy(&want, &e, 4);
        if (isnan(e)) /* NaN: sign and payload carried over, quiet bit included */
            want = ((uint32_t)(i & 0x8000) << 16) | 0x7f800000u | ((uint32_t)(i & 1023) << 13);
        bad += got != want;
    }
    CHECK_MSG(bad == 0, "float16: %d of 65536 not bit-exact", bad);
    CHECK(y[0x0001] == 5.9604645e-08f && y[0x03ff] == 6.0975552e-05f && y[0x0400] == 6.1035156e-05f);
    CHECK(y[0x7bff] == 65504.0f && isinf(y[0x7c00]) && y[0xfc00] < 0 && isinf(y[0xfc00]) && isnan(y[0x7e00]));
    CHECK(y[0x8000] == 0.0f && signbit(y[0x8000]) && y[0x3c00] == 1.0f && y[0xc000] == -2.0f);
    free(h);
    free(y);

    /* uint8/int8 per tensor and per channel (axis 0 of [3,4]) */
    for (int ti = 0; ti < 2; ti++) {
        const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
        uint8_t q[12];
        float o[12];
        for (int i = 0; i < 12; i++)
            q[i] = (uint8_t)(i * 23 + 1);
        for (int pc = 0; pc < 2; pc++) {
            tinit(&I, t, q, 2, (int32_t[]){ 3, 4 });
            tinit(&O, LEANDET_FLOAT32, o, 2, (int32_t[]){ 3, 4 });
            const float sc[3] = { 0.5f, 0.0117f, 3.0f };
            const int32_t zc[3] = { ti ? -3 : 3, ti ? 100 : 200, 0 };
            I.q.count = pc ? 3 : 1;
            memcpy(I.scale, sc, sizeof sc);
            memcpy(I.zp, zc, sizeof zc);
            r = run_op(LD_OP_DEQUANTIZE, NULL, ins, 1, &O, 0);
            CHECK_MSG(r.st == LEANDET_OK, "%s", r.msg);
            bad = 0;
            for (int i = 0; i < 12; i++) {
                const int ch = pc ? i / 4 : 0;
                bad += o[i] != (float)((double)sc[ch] * (load_q(q, (size_t)i, t) - zc[ch]));
            }
            CHECK_MSG(bad == 0, "dequantize type %d per-channel %d: %d wrong", (int)t, pc, bad);
        }
    }
}

/* ---- errors --------------------------------------------------------------- */

static void expect_error(run_result r, leandet_status st, const char *needle, const char *what)
{
    CHECK_MSG(r.st == st, "%s: status %d, want %d (%s)", what, (int)r.st, (int)st, r.msg);
    CHECK_MSG(strstr(r.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, r.msg, needle);
    CHECK_MSG(strstr(r.msg, "op 3 ") == r.msg, "%s: message '%s' does not name the op", what, r.msg);
    CHECK_MSG(r.leaked == 0, "%s: leaked %zu bytes", what, r.leaked);
}

static void test_errors(void)
{
    float f[12] = { 0 }, fo[24];
    uint8_t u[12] = { 0 }, uo[24];
    tt A, B, O;
    tt *ins[2] = { &A, &B };

    tinit(&A, LEANDET_FLOAT32, f, 2, (int32_t[]){ 3, 4 });
    tinit(&B, LEANDET_UINT8, u, 2, (int32_t[]){ 3, 4 });
    tquant(&B, 0.1f, 0);
    tinit(&O, LEANDET_FLOAT32, fo, 2, (int32_t[]){ 3, 4 });
    expect_error(run_op(LD_OP_ADD, NULL, ins, 2, &O, 0), LEANDET_ERR_MODEL, "types differ", "ADD float+uint8");

    tinit(&B, LEANDET_FLOAT32, f, 2, (int32_t[]){ 2, 4 });
    expect_error(run_op(LD_OP_MUL, NULL, ins, 2, &O, 0), LEANDET_ERR_MODEL, "cannot broadcast", "MUL [3,4]*[2,4]");

    tinit(&B, LEANDET_FLOAT32, f, 2, (int32_t[]){ 3, 4 });
    ld_op_params p = act_params(LD_ACT_TANH);
    expect_error(run_op(LD_OP_SUB, &p, ins, 2, &O, 0), LEANDET_ERR_UNSUPPORTED, "fused activation", "SUB fused TANH");

    expect_error(run_op(LD_OP_ADD, NULL, ins, 1, &O, 0), LEANDET_ERR_MODEL, "inputs", "ADD one input");

    tinit(&A, LEANDET_INT32, f, 2, (int32_t[]){ 3, 4 });
    tinit(&B, LEANDET_INT32, f, 2, (int32_t[]){ 3, 4 });
    expect_error(run_op(LD_OP_ADD, NULL, ins, 2, &O, 0), LEANDET_ERR_UNSUPPORTED, "int32", "ADD int32");

    /* per-channel activation quantization */
    tinit(&A, LEANDET_UINT8, u, 2, (int32_t[]){ 3, 4 });
    tinit(&B, LEANDET_UINT8, u, 2, (int32_t[]){ 3, 4 });
    tinit(&O, LEANDET_UINT8, uo, 2, (int32_t[]){ 3, 4 });
    tquant(&A, 0.1f, 0);
    A.q.count = 3;
    tquant(&B, 0.1f, 0);
    tquant(&O, 0.1f, 0);
    expect_error(run_op(LD_OP_ADD, NULL, ins, 2, &O, 0), LEANDET_ERR_UNSUPPORTED, "per-channel", "ADD per-channel");
    A.q.count = 0;
    expect_error(run_op(LD_OP_ADD, NULL, ins, 2, &O, 0), LEANDET_ERR_MODEL, "without quantization", "ADD no quant");
    tquant(&A, 0.1f, 300);
    expect_error(run_op(LD_OP_ADD, NULL, ins, 2, &O, 0), LEANDET_ERR_MODEL, "zero point 300", "ADD bad zero point");

    /* LOGISTIC 8-bit needs output scale 1/256 */
    tquant(&A, 0.1f, 0);
    tt *one[1] = { &A };
    expect_error(run_op(LD_OP_LOGISTIC, NULL, one, 1, &O, 0), LEANDET_ERR_UNSUPPORTED, "1/256", "LOGISTIC scale");

    /* output type must follow the input */
    tinit(&O, LEANDET_INT8, uo, 2, (int32_t[]){ 3, 4 });
    tquant(&O, 0.1f, 0);
    expect_error(run_op(LD_OP_RELU, NULL, one, 1, &O, 0), LEANDET_ERR_MODEL, "types differ", "RELU uint8->int8");

    /* PRELU alpha must not grow the output */
    tinit(&A, LEANDET_FLOAT32, f, 2, (int32_t[]){ 1, 4 });
    tinit(&B, LEANDET_FLOAT32, f, 2, (int32_t[]){ 3, 4 });
    tinit(&O, LEANDET_FLOAT32, fo, 2, (int32_t[]){ 3, 4 });
    expect_error(run_op(LD_OP_PRELU, NULL, ins, 2, &O, 0), LEANDET_ERR_MODEL, "alpha", "PRELU alpha larger");

    /* QUANTIZE to float, DEQUANTIZE from int32 */
    tinit(&A, LEANDET_FLOAT32, f, 2, (int32_t[]){ 3, 4 });
    expect_error(run_op(LD_OP_QUANTIZE, NULL, one, 1, &O, 0), LEANDET_ERR_UNSUPPORTED, "output 0", "QUANTIZE to float");
    tinit(&A, LEANDET_INT32, f, 2, (int32_t[]){ 3, 4 });
    expect_error(run_op(LD_OP_DEQUANTIZE, NULL, one, 1, &O, 0), LEANDET_ERR_UNSUPPORTED, "int32", "DEQUANTIZE int32");

    /* per-channel scales that do not match the axis */
    tinit(&A, LEANDET_INT8, u, 2, (int32_t[]){ 3, 4 });
    A.q.count = 4;
    A.q.axis = 0;
    for (int i = 0; i < 4; i++) {
        A.scale[i] = 0.5f;
        A.zp[i] = 0;
    }
    expect_error(run_op(LD_OP_DEQUANTIZE, NULL, one, 1, &O, 0), LEANDET_ERR_MODEL, "axis 0", "DEQUANTIZE bad axis");

    /* SOFTMAX int8 output must be 1/256, -128 */
    tinit(&A, LEANDET_INT8, u, 2, (int32_t[]){ 3, 4 });
    tquant(&A, 0.1f, 0);
    tinit(&O, LEANDET_INT8, uo, 2, (int32_t[]){ 3, 4 });
    tquant(&O, 1.0f / 256, 0);
    p.softmax.beta = 1.0f;
    expect_error(run_op(LD_OP_SOFTMAX, &p, one, 1, &O, 0), LEANDET_ERR_MODEL, "zero point -128", "SOFTMAX int8 zp");

    /* allocation failure of the state block */
    tinit(&A, LEANDET_FLOAT32, f, 2, (int32_t[]){ 3, 4 });
    tinit(&B, LEANDET_FLOAT32, f, 2, (int32_t[]){ 3, 4 });
    tinit(&O, LEANDET_FLOAT32, fo, 2, (int32_t[]){ 3, 4 });
    expect_error(run_op(LD_OP_ADD, NULL, ins, 2, &O, 1), LEANDET_ERR_NO_MEMORY, "state", "ADD out of memory");
}

int main(void)
{
    test_broadcast_float();
    test_arith_quant();
    test_arith_golden();
    test_unary_quant();
    test_unary_golden();
    test_unary_float();
    test_softmax();
    test_quantize();
    test_dequantize();
    test_errors();
    return ld_test_finish();
}

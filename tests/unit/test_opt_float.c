/* The AVX2+FMA float32 kernels (ld_avx2_float) against the reference
 * kernels on identical random inputs: a sweep of shapes, strides, paddings,
 * dilations, filter sizes, channel counts, activations, with and without
 * bias. FMA and another summation order change the last bits, so the
 * maximum absolute difference must stay within 1e-5 of the reference
 * output's range; elementwise ADD/SUB/MUL/PRELU must be exact. With a
 * thread pool, results must not depend on how the work is split. Every
 * table entry that takes an op is checked: the AVX2 one and, on CPUs with
 * AVX-512, the AVX-512 one. The GEMM under CONV_2D and FULLY_CONNECTED is
 * also checked directly in both panel widths.
 * Plus: which ops the table accepts, out-of-memory in prepare, and constant
 * folding of float16 weights in a real model (DEQUANTIZE ops folded, the
 * optimized kernels then taking the convolutions, outputs equal to the
 * reference backend's within the oracle tolerance). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/budget.h"
#include "harness.h"
#include "kernels/opt.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/float_ew.h"
#include "kernels/x86/float_gemm.h"
#include "kernels/x86/hybrid.h"
#include "kernels/x86/move.h"
#include "kernels/x86/x86.h"
#include "runtime/session_internal.h"

#define REL_TOL 1e-5
#define LOGISTIC_TOL 1e-6 /* a 2-ulp exp: keep it honest */

/* ---- deterministic random numbers ------------------------------------- */

static uint32_t rng = 0x9E3779B9u;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int pick(const int *v, int n)
{
    return v[rnd() % (uint32_t)n];
}

static float rnd_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() >> 8) / (float)(1u << 24);
}

#define PICK(arr) pick(arr, (int)(sizeof arr / sizeof arr[0]))

/* ---- float tensors ------------------------------------------------------ */

typedef struct tt {
    ld_tensor t;
    ld_tensor_desc d;
    ld_quant q;
} tt;

static void tt_make(tt *x, const char *name, int rank, const int *dims, int is_const, float sd)
{
    memset(x, 0, sizeof *x);
    x->d.name = name;
    x->t.desc = &x->d;
    x->t.quant = &x->q;
    x->t.type = LEANDET_FLOAT32;
    x->t.shape.rank = rank;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        x->t.shape.d[i] = dims[i];
        n *= (size_t)dims[i];
    }
    x->t.bytes = n * sizeof(float);
    float *p = malloc(n ? x->t.bytes : sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = rnd_float(-sd, sd);
    x->t.data = p;
    x->t.is_const = is_const;
}

static void tt_free(tt *x)
{
    free(x->t.data);
    x->t.data = NULL;
}

/* ---- running one kernel ------------------------------------------------ */

typedef struct run {
    ld_op_ctx c;
    ld_alloc al;
    leandet_error err;
    ld_tensor *in[3];
    ld_tensor *out[1];
    ld_tensor o;
    ld_tensor_desc od;
} run;

static void run_init(run *r, const ld_op_desc *op, tt **ins, int n_in)
{
    memset(r, 0, sizeof *r);
    ld_alloc_init(&r->al, NULL);
    for (int i = 0; i < n_in; i++)
        r->in[i] = ins[i] ? &ins[i]->t : NULL;
    r->od.name = "out";
    r->o.desc = &r->od;
    r->o.type = LEANDET_FLOAT32;
    r->o.quant = &ins[0]->q;
    r->o.shape.rank = 1;
    r->o.shape.d[0] = 12345; /* prepare must write it */
    r->out[0] = &r->o;
    r->c.op = op;
    r->c.index = 3;
    r->c.n_in = n_in;
    r->c.n_out = 1;
    r->c.in = r->in;
    r->c.out = r->out;
    r->c.alloc = &r->al;
    r->c.err = &r->err;
}

/* Prepare with k; on success allocate the output. */
static leandet_status run_prepare(run *r, const ld_kernel *k)
{
    leandet_status st = k->prepare(&r->c);
    if (st != LEANDET_OK)
        return st;
    size_t n = ld_shape_count(&r->o.shape);
    r->o.bytes = n * sizeof(float);
    r->o.data = calloc(n ? n : 1, sizeof(float));
    if (r->c.scratch_bytes) /* hybrid ops: the quantized input */
        r->c.scratch = malloc(r->c.scratch_bytes);
    return LEANDET_OK;
}

static leandet_status run_eval(run *r, const ld_kernel *k, ld_pool *pool)
{
    long before = r->al.count;
    r->c.alloc = NULL;
    r->c.pool = pool;
    leandet_status st = k->eval(&r->c);
    CHECK(r->al.count == before); /* eval allocates nothing */
    r->c.alloc = &r->al;
    return st;
}

static void run_free(run *r)
{
    ld_free(&r->al, r->c.state);
    r->c.state = NULL;
    CHECK(r->al.current == 0);
    free(r->o.data);
    r->o.data = NULL;
    free(r->c.scratch);
    r->c.scratch = NULL;
}

/* Max |a - b| over n values divided by the range of b (its max magnitude
 * if b is constant); NaN must meet NaN. */
static double rel_err(const float *a, const float *b, size_t n)
{
    double lo = INFINITY, hi = -INFINITY, worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(b[i]))
            continue;
        lo = fmin(lo, b[i]);
        hi = fmax(hi, b[i]);
    }
    double scale = hi - lo;
    if (!(scale > 0))
        scale = fmax(fabs(lo), fabs(hi));
    if (!(scale > 0))
        scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            if (isnan(a[i]) != isnan(b[i]))
                return INFINITY;
            continue;
        }
        worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    }
    return worst / scale;
}

static ld_pool *pool3; /* a 3-thread pool, when the runtime provides one */

/* Run op on ins with the reference kernel and the table entry `opt`
 * (serially and on pool3); returns the error relative to the output range
 * (INFINITY if `exact` and the bytes differ), or -1 if the entry did not
 * accept the op. Shapes must agree. */
static double compare_one(const ld_op_desc *op, const ld_opt_kernel *opt, tt **ins, int n_in, int exact,
                          int *accepted, const char *what)
{
    const ld_kernel *ref = ld_kernel_find(op);
    run a, b;
    run_init(&a, op, ins, n_in);
    run_init(&b, op, ins, n_in);
    double e = -1;
    if (opt->accepts(&b.c)) {
        ++*accepted;
        leandet_status sa = run_prepare(&a, ref), sb = run_prepare(&b, &opt->k);
        CHECK_MSG(sa == sb, "%s [%s]: reference prepare %d, optimized %d (%s)", what, opt->isa, sa, sb,
                  b.err.message);
        if (sa == LEANDET_OK && sb == LEANDET_OK) {
            CHECK_MSG(a.o.shape.rank == b.o.shape.rank &&
                          !memcmp(a.o.shape.d, b.o.shape.d, sizeof(int32_t) * (size_t)a.o.shape.rank),
                      "%s [%s]: output shapes differ", what, opt->isa);
            CHECK(run_eval(&a, ref, NULL) == LEANDET_OK);
            CHECK(run_eval(&b, &opt->k, NULL) == LEANDET_OK);
            size_t n = ld_shape_count(&a.o.shape);
            e = rel_err(b.o.data, a.o.data, n);
            if (exact && memcmp(b.o.data, a.o.data, n * sizeof(float)) != 0)
                e = INFINITY;
            if (pool3) {
                float *serial = malloc(b.o.bytes ? b.o.bytes : 1);
                memcpy(serial, b.o.data, b.o.bytes);
                memset(b.o.data, 0, b.o.bytes);
                CHECK(run_eval(&b, &opt->k, pool3) == LEANDET_OK);
                CHECK_MSG(memcmp(serial, b.o.data, b.o.bytes) == 0, "%s [%s]: threaded result differs", what,
                          opt->isa);
                free(serial);
            }
        }
    }
    run_free(&a);
    run_free(&b);
    return e;
}

/* compare_one for every entry of the table for op (the AVX2 one and, on
 * CPUs with AVX-512, the AVX-512 one): the worst error; *accepted counts
 * the entries that took the op. */
static double compare(const ld_op_desc *op, tt **ins, int n_in, int exact, int *accepted, const char *what)
{
    double worst = -1;
    *accepted = 0;
    for (const ld_opt_kernel *k = ld_avx2_float; k->k.builtin >= 0; k++)
        if (k->k.builtin == op->builtin)
            worst = fmax(worst, compare_one(op, k, ins, n_in, exact, accepted, what));
    return worst;
}

static void expect_close(const ld_op_desc *op, tt **ins, int n_in, double tol, const char *what)
{
    int accepted;
    double e = compare(op, ins, n_in, tol == 0.0, &accepted, what);
    CHECK_MSG(accepted, "%s: not accepted", what);
    CHECK_MSG(e >= 0 && e <= tol, "%s: error %.3g of the output range (tolerance %.1g)", what, e, tol);
}

/* ---- the packed GEMM, both panel widths ---------------------------------- */

/* C = clamp(bias + A W^T) for A [rows][taps * kc] read as `taps` pointer
 * groups of kc floats, against a double-precision sum; then the same with
 * the taps merged into one vector of taps * kc (what CONV_2D does for a
 * filter row inside the input) must give the very same bits. */
static void gemm_case(int nr, int rows, int n, int kc, int taps, float lo, float hi)
{
    const size_t k = (size_t)kc * (size_t)taps;
    float *x = malloc(rows * k * sizeof(float)), *w = malloc((size_t)n * k * sizeof(float));
    float *bias = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)rows * (size_t)n * sizeof(float));
    float *y1 = malloc((size_t)rows * (size_t)n * sizeof(float));
    double *want = malloc((size_t)rows * (size_t)n * sizeof(double));
    for (size_t i = 0; i < rows * k; i++)
        x[i] = rnd_float(-1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)n * k; i++)
        w[i] = rnd_float(-1.0f, 1.0f);
    for (int i = 0; i < n; i++)
        bias[i] = rnd_float(-2.0f, 2.0f);
    size_t floats = ld_f32_gemm_packed_floats(n, (size_t)kc, (size_t)taps, nr);
    float *packed = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    ld_f32_gemm g;
    ld_f32_gemm_pack(&g, w, bias, n, (size_t)kc, (size_t)taps, nr, lo, hi, packed);
    const float *a[LD_F32_MR * 16];
    for (int merged = 0; merged < 2; merged++) {
        const size_t groups = merged ? 1 : (size_t)taps, len = merged ? k : (size_t)kc;
        for (int r0 = 0; r0 < rows; r0 += LD_F32_MR) {
            const size_t mr = (size_t)(rows - r0 < LD_F32_MR ? rows - r0 : LD_F32_MR);
            for (size_t t = 0; t < groups; t++)
                for (size_t r = 0; r < LD_F32_MR; r++)
                    a[t * LD_F32_MR + r] = x + (size_t)(r0 + (int)(r < mr ? r : mr - 1)) * k + t * len;
            ld_f32_gemm_rows(&g, 0, g.panels, mr, len, groups, a, (merged ? y1 : y) + (size_t)r0 * (size_t)n,
                             (size_t)n);
        }
    }
    float lo_v = 1e30f, hi_v = -1e30f;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) {
            double sum = bias[j];
            for (size_t i = 0; i < k; i++)
                sum += (double)x[(size_t)r * k + i] * (double)w[(size_t)j * k + i];
            sum = sum < lo ? lo : sum > hi ? hi : sum;
            want[(size_t)r * (size_t)n + (size_t)j] = sum;
            lo_v = fminf(lo_v, (float)sum);
            hi_v = fmaxf(hi_v, (float)sum);
        }
    double worst = 0, scale = hi_v > lo_v ? hi_v - lo_v : 1.0;
    for (size_t i = 0; i < (size_t)rows * (size_t)n; i++)
        worst = fmax(worst, fabs(y[i] - want[i]) / scale);
    CHECK_MSG(worst <= REL_TOL, "GEMM nr %d rows %d n %d kc %d taps %d: error %.3g of the range", nr, rows, n, kc, taps,
              worst);
    CHECK_MSG(memcmp(y, y1, (size_t)rows * (size_t)n * sizeof(float)) == 0,
              "GEMM nr %d rows %d n %d kc %d taps %d: merged taps differ", nr, rows, n, kc, taps);
    free(x);
    free(w);
    free(bias);
    free(y);
    free(y1);
    free(want);
    free(packed);
}

static void sweep_gemm(void)
{
    static const int ns[] = { 1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 48, 63, 64, 65 };
    static const int kcs[] = { 1, 2, 3, 5, 16, 37 };
    for (int i = 0; i < 60; i++) {
        int rows = 1 + (int)(rnd() % 20), n = PICK(ns), kc = PICK(kcs), taps = 1 + (int)(rnd() % 16);
        float lo = rnd() % 2 ? -1e30f : 0.0f, hi = rnd() % 3 ? 1e30f : 1.5f;
        gemm_case(16, rows, n, kc, taps, lo, hi);
        if (ld_f32_has_avx512())
            gemm_case(32, rows, n, kc, taps, lo, hi);
    }
}

/* ---- CONV_2D / DEPTHWISE_CONV_2D ----------------------------------------- */

static ld_op_desc conv_op(int builtin, ld_padding pad, int sh, int sw, int dh, int dw, ld_activation act)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.params.conv.padding = pad;
    op.params.conv.stride_h = sh;
    op.params.conv.stride_w = sw;
    op.params.conv.dilation_h = dh;
    op.params.conv.dilation_w = dw;
    op.params.conv.depth_multiplier = 1;
    op.params.conv.act = act;
    return op;
}

static const ld_activation acts[] = { LD_ACT_NONE, LD_ACT_RELU, LD_ACT_RELU6, LD_ACT_RELU_N1_TO_1 };

/* One convolution; returns whether it ran (VALID windows must fit). */
static void conv_case(int depthwise, int batches, int h, int w, int in_c, int out_c, int fh, int fw, int sh, int sw,
                      int dh, int dw, ld_padding pad, ld_activation act, int with_bias)
{
    char what[200];
    snprintf(what, sizeof what, "%s b%d %dx%dx%d -> %d, filter %dx%d stride %d,%d dil %d,%d %s act %d%s",
             depthwise ? "DEPTHWISE_CONV_2D" : "CONV_2D", batches, h, w, in_c, out_c, fh, fw, sh, sw, dh, dw,
             pad == LD_PAD_SAME ? "SAME" : "VALID", (int)act, with_bias ? " bias" : "");
    ld_op_desc op = conv_op(depthwise ? LD_OP_DEPTHWISE_CONV_2D : LD_OP_CONV_2D, pad, sh, sw, dh, dw, act);
    tt in, wt, bias;
    int in_dims[4] = { batches, h, w, in_c };
    int w_dims[4] = { depthwise ? 1 : out_c, fh, fw, depthwise ? out_c : in_c };
    tt_make(&in, "input", 4, in_dims, 0, 1.0f);
    tt_make(&wt, "weights", 4, w_dims, 1, 1.0f);
    tt_make(&bias, "bias", 1, &out_c, 1, 2.0f);
    tt *ins[3] = { &in, &wt, with_bias ? &bias : NULL };
    expect_close(&op, ins, 3, REL_TOL, what);
    tt_free(&in);
    tt_free(&wt);
    tt_free(&bias);
}

static int fits(int in, int f, int dil)
{
    return in >= (f - 1) * dil + 1;
}

static void sweep_conv(int depthwise, int cases)
{
    static const int chans[] = { 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 24, 28, 32, 33, 48, 64, 80 };
    static const int outs[] = { 1, 2, 3, 5, 6, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40 };
    static const int filters[] = { 1, 1, 2, 3, 3, 3, 4, 5, 6 };
    for (int i = 0; i < cases; i++) {
        int batches = 1 + (int)(rnd() % 4 == 0);
        int fh = PICK(filters), fw = rnd() % 4 ? fh : PICK(filters);
        int sh = 1 + (int)(rnd() % 3), sw = rnd() % 4 ? sh : 1 + (int)(rnd() % 3);
        int dh = 1 + (int)(rnd() % 5 == 0), dw = rnd() % 5 == 0 ? 2 : dh;
        int h = 1 + (int)(rnd() % 12), w = 1 + (int)(rnd() % 12);
        int in_c = PICK(chans), out_c = depthwise ? in_c : PICK(outs);
        ld_padding pad = rnd() % 2 || !fits(h, fh, dh) || !fits(w, fw, dw) ? LD_PAD_SAME : LD_PAD_VALID;
        conv_case(depthwise, batches, h, w, in_c, out_c, fh, fw, sh, sw, dh, dw, pad,
                  acts[rnd() % 4], (int)(rnd() % 3 != 0));
    }
}

/* CONV_2D + SiLU (ld_f32_conv_eval_silu) against the convolution and then
 * ld_f32_silu over its output, for every entry: the same bits, serially
 * and on the 3-thread pool, whose split takes channel panels apart when
 * the pixels are few (one tile here: 2x3 pixels, 3 panels or more). */
static void conv_silu_case(int h, int w, int in_c, int out_c, int fh, ld_activation act)
{
    char what[120];
    snprintf(what, sizeof what, "CONV_2D + SiLU %dx%dx%d -> %d, filter %d, act %d", h, w, in_c, out_c, fh, (int)act);
    ld_op_desc op = conv_op(LD_OP_CONV_2D, LD_PAD_SAME, 1, 1, 1, 1, act);
    tt in, wt, bias;
    int in_dims[4] = { 1, h, w, in_c }, w_dims[4] = { out_c, fh, fh, in_c };
    tt_make(&in, "input", 4, in_dims, 0, 3.0f);
    tt_make(&wt, "weights", 4, w_dims, 1, 1.0f);
    tt_make(&bias, "bias", 1, &out_c, 1, 2.0f);
    tt *ins[3] = { &in, &wt, &bias };
    void (*logistic)(const float *, float *, size_t) = ld_f32_has_avx512() ? ld_f32_logistic_avx512
                                                                           : ld_f32_logistic_avx2;
    for (const ld_opt_kernel *k = ld_avx2_float; k->k.builtin >= 0; k++) {
        run r;
        run_init(&r, &op, ins, 3);
        if (k->k.builtin != LD_OP_CONV_2D || k->k.eval != ld_f32_conv_eval || !k->accepts(&r.c)) {
            run_free(&r);
            continue;
        }
        CHECK(run_prepare(&r, &k->k) == LEANDET_OK);
        CHECK(run_eval(&r, &k->k, NULL) == LEANDET_OK);
        const size_t n = ld_shape_count(&r.o.shape);
        float *want = malloc(n * sizeof(float));
        ld_f32_silu(logistic, r.o.data, want, n);
        for (int pass = 0; pass < (pool3 ? 2 : 1); pass++) {
            memset(r.o.data, 0, n * sizeof(float));
            r.c.alloc = NULL;
            r.c.pool = pass ? pool3 : NULL;
            CHECK(ld_f32_conv_eval_silu(&r.c, logistic) == LEANDET_OK);
            r.c.alloc = &r.al;
            CHECK_MSG(memcmp(want, r.o.data, n * sizeof(float)) == 0, "%s [%s]%s: differs from conv then SiLU",
                      what, k->isa, pass ? " on 3 threads" : "");
        }
        free(want);
        run_free(&r);
    }
    tt_free(&in);
    tt_free(&wt);
    tt_free(&bias);
}

static void conv_fixed(void)
{
    conv_silu_case(2, 3, 8, 96, 3, LD_ACT_NONE);  /* one tile: the channels split across tasks */
    conv_silu_case(2, 3, 5, 40, 1, LD_ACT_RELU);  /* a narrow tail panel */
    conv_silu_case(9, 7, 16, 24, 3, LD_ACT_NONE); /* tiles split: whole rows per tile */
    /* the shapes of the real models, scaled down */
    conv_case(0, 1, 13, 11, 3, 24, 5, 5, 2, 2, 1, 1, LD_PAD_SAME, LD_ACT_RELU, 1);
    conv_case(0, 1, 15, 15, 3, 16, 6, 6, 2, 2, 1, 1, LD_PAD_VALID, LD_ACT_NONE, 1);
    conv_case(0, 1, 9, 7, 37, 45, 1, 1, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 1);
    conv_case(0, 1, 7, 7, 130, 20, 3, 3, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_RELU6, 1);  /* K = 1170 */
    conv_case(0, 1, 9, 9, 32, 64, 3, 3, 2, 2, 1, 1, LD_PAD_VALID, LD_ACT_NONE, 0);
    conv_case(0, 2, 5, 6, 8, 2, 1, 1, 1, 1, 1, 1, LD_PAD_VALID, LD_ACT_NONE, 1);
    conv_case(0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 0);
    conv_case(0, 1, 8, 8, 4, 16, 3, 3, 3, 3, 2, 2, LD_PAD_SAME, LD_ACT_RELU, 1);
    conv_case(0, 1, 4, 4, 2, 3, 9, 9, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 1);      /* window wider than the input */
    conv_case(1, 1, 16, 16, 24, 24, 3, 3, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 1);
    conv_case(1, 1, 16, 16, 28, 28, 3, 3, 2, 2, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 1);
    conv_case(1, 1, 12, 12, 36, 36, 5, 5, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_RELU6, 1);
    conv_case(1, 1, 13, 13, 32, 32, 5, 5, 2, 2, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 0);
    conv_case(1, 1, 9, 21, 11, 11, 3, 3, 1, 1, 1, 1, LD_PAD_VALID, LD_ACT_RELU, 1);
    conv_case(1, 2, 3, 3, 5, 5, 7, 7, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 1);
    conv_case(1, 1, 12, 12, 96, 96, 5, 5, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 1);  /* 4-block borders */
    conv_case(1, 1, 11, 9, 112, 112, 3, 3, 2, 2, 1, 1, LD_PAD_SAME, LD_ACT_RELU, 0);
}

/* ---- hybrid CONV_2D (int8 weights) ---------------------------------------- */

/* Weights as int8 with `kind` 0: one scale, 1: equal per-channel scales
 * (run per tensor), 2: distinct per-channel scales (run per channel). */
static void hybrid_weights(tt *wt, int out_c, int kind, float *scales, int32_t *zps)
{
    size_t n = ld_shape_count(&wt->t.shape);
    int8_t *q = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        q[i] = (int8_t)((int)(rnd() % 255) - 127);
    free(wt->t.data);
    wt->t.data = q;
    wt->t.type = LEANDET_INT8;
    wt->t.bytes = n;
    for (int c = 0; c < out_c; c++) {
        scales[c] = kind == 2 ? rnd_float(0.001f, 0.05f) : 0.0125f;
        zps[c] = 0;
    }
    wt->q.count = kind == 0 ? 1 : out_c;
    wt->q.axis = 0;
    wt->q.scale = scales;
    wt->q.zero_point = zps;
}

static void hybrid_case(int depthwise, int batches, int h, int w, int in_c, int out_c, int fh, int fw, int sh,
                        int sw, int dh, int dw, ld_padding pad, ld_activation act, int with_bias, int kind,
                        int zero_batch)
{
    char what[220];
    snprintf(what, sizeof what, "hybrid %s b%d %dx%dx%d -> %d, filter %dx%d stride %d,%d dil %d,%d %s act %d%s "
             "scales %d%s", depthwise ? "DEPTHWISE_CONV_2D" : "CONV_2D", batches, h, w, in_c, out_c, fh, fw, sh, sw, dh, dw, pad == LD_PAD_SAME ? "SAME" : "VALID",
             (int)act, with_bias ? " bias" : "", kind, zero_batch ? " zero batch" : "");
    ld_op_desc op = conv_op(depthwise ? LD_OP_DEPTHWISE_CONV_2D : LD_OP_CONV_2D, pad, sh, sw, dh, dw, act);
    if (depthwise)
        out_c = in_c;
    tt in, wt, bias;
    int in_dims[4] = { batches, h, w, in_c };
    int w_dims[4] = { depthwise ? 1 : out_c, fh, fw, depthwise ? out_c : in_c };
    tt_make(&in, "input", 4, in_dims, 0, 3.0f);
    if (zero_batch) /* an all-zero batch: scale 1, offset 0 */
        memset(in.t.data, 0, in.t.bytes / (size_t)batches);
    tt_make(&wt, "weights", 4, w_dims, 1, 1.0f);
    float *scales = malloc((size_t)out_c * sizeof *scales);
    int32_t *zps = malloc((size_t)out_c * sizeof *zps);
    hybrid_weights(&wt, out_c, kind, scales, zps);
    wt.q.axis = depthwise ? 3 : 0;
    tt_make(&bias, "bias", 1, &out_c, 1, 2.0f);
    tt *ins[3] = { &in, &wt, with_bias ? &bias : NULL };
    expect_close(&op, ins, 3, 0.0, what); /* the same bytes as the reference */
    tt_free(&in);
    tt_free(&wt);
    tt_free(&bias);
    free(scales);
    free(zps);
}

static void sweep_hybrid(void)
{
    static const int chans[] = { 1, 2, 3, 5, 8, 13, 16, 24, 33, 64 };
    static const int outs[] = { 1, 3, 7, 8, 9, 15, 16, 17, 24, 33 };
    static const int filters[] = { 1, 1, 1, 2, 3, 3, 5 };
    for (int i = 0; i < 120; i++) {
        int batches = 1 + (int)(rnd() % 4 == 0);
        int fh = PICK(filters), fw = rnd() % 4 ? fh : PICK(filters);
        int sh = 1 + (int)(rnd() % 3), sw = rnd() % 4 ? sh : 1 + (int)(rnd() % 3);
        int dh = 1 + (int)(rnd() % 5 == 0), dw = rnd() % 5 == 0 ? 2 : dh;
        int h = 1 + (int)(rnd() % 11), w = 1 + (int)(rnd() % 11);
        ld_padding pad = rnd() % 2 || !fits(h, fh, dh) || !fits(w, fw, dw) ? LD_PAD_SAME : LD_PAD_VALID;
        hybrid_case(i % 3 == 2, batches, h, w, PICK(chans), PICK(outs), fh, fw, sh, sw, dh, dw, pad,
                    acts[rnd() % 4], (int)(rnd() % 3 != 0), (int)(rnd() % 3), batches > 1 && rnd() % 2);
    }
    /* SSD-like: 1x1 over many channels, 3x3 stride 2, large K, depthwise 3x3 */
    hybrid_case(0, 1, 10, 10, 384, 40, 1, 1, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_RELU6, 1, 2, 0);
    hybrid_case(0, 1, 9, 9, 96, 24, 3, 3, 2, 2, 1, 1, LD_PAD_SAME, LD_ACT_RELU6, 1, 1, 0);
    hybrid_case(0, 1, 7, 7, 130, 20, 3, 3, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_NONE, 0, 0, 0);
    hybrid_case(1, 1, 12, 12, 131, 131, 3, 3, 1, 1, 1, 1, LD_PAD_SAME, LD_ACT_RELU6, 1, 2, 0);
    hybrid_case(1, 1, 11, 11, 128, 128, 3, 3, 2, 2, 1, 1, LD_PAD_SAME, LD_ACT_RELU6, 1, 2, 0);
}

/* The AVX2 quantizer loops against the reference's, lengths around the
 * vector and group sizes, with NaN first or later, signed zeros and
 * values at the rounding boundaries. */
static void hybrid_quantizer(void)
{
    static const size_t lens[] = { 0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 1027 };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        for (int variant = 0; variant < 5; variant++) {
            const size_t n = lens[li];
            float *x = malloc((n ? n : 1) * sizeof *x);
            int8_t *q0 = malloc(n ? n : 1), *q1 = malloc(n ? n : 1);
            for (size_t i = 0; i < n; i++)
                x[i] = variant == 3 ? (float)((int)(rnd() % 9) - 4) * 0.5f : rnd_float(-4.0f, 5.0f);
            if (n && variant == 1)
                x[0] = NAN;
            if (n > 3 && variant == 2) {
                x[n / 2] = NAN;
                x[1] = -0.0f;
            }
            if (variant == 4)
                for (size_t i = 0; i < n; i++)
                    x[i] = rnd_float(0.0f, 1.0f); /* one-signed: the range starts at 0 */
            float lo0, hi0, lo1, hi1;
            ld_hybrid_min_max(x, n, &lo0, &hi0);
            ld_hybrid_avx2_ops.min_max(x, n, &lo1, &hi1);
            CHECK_MSG(memcmp(&lo0, &lo1, sizeof lo0) == 0 && memcmp(&hi0, &hi1, sizeof hi0) == 0,
                      "hybrid min/max n %zu variant %d", n, variant);
            for (int asym = 0; asym < 2; asym++) {
                float scale, inv;
                int32_t off = 0;
                int any = asym ? ld_hybrid_asym_params(lo0, hi0, &scale, &off, &inv)
                               : ld_hybrid_sym_params(lo0, hi0, &scale, &inv);
                if (!any || variant == 1 || variant == 2)
                    continue; /* NaN inputs: the reference casts NaN, which C leaves undefined */
                ld_hybrid_round(x, 0, n, inv, off, asym ? -128 : -127, q0);
                ld_hybrid_avx2_ops.round(x, 0, n, inv, off, asym ? -128 : -127, q1);
                CHECK_MSG(memcmp(q0, q1, n) == 0, "hybrid rounding n %zu variant %d %s", n, variant,
                          asym ? "asymmetric" : "symmetric");
            }
            free(x);
            free(q0);
            free(q1);
        }
    }
}

/* Ops the table must leave to the reference kernel. */
static void conv_refusals(void)
{
    ld_op_desc op = conv_op(LD_OP_CONV_2D, LD_PAD_SAME, 1, 1, 1, 1, LD_ACT_NONE);
    tt in, wt, bias;
    int in_dims[4] = { 1, 5, 5, 8 }, w_dims[4] = { 4, 3, 3, 8 }, g_dims[4] = { 4, 3, 3, 4 }, big[4] = { 4, 12, 12, 8 };
    int n = 4;
    tt_make(&in, "input", 4, in_dims, 0, 1.0f);
    tt_make(&bias, "bias", 1, &n, 1, 1.0f);
    int accepted;
    tt *ins[3] = { &in, &wt, &bias };

    tt_make(&wt, "weights", 4, w_dims, 0, 1.0f); /* weights computed at run time: nothing to pack */
    compare(&op, ins, 3, 0, &accepted, "dynamic weights");
    CHECK(!accepted);
    wt.t.is_const = 1;
    bias.t.is_const = 0;
    compare(&op, ins, 3, 0, &accepted, "dynamic bias");
    CHECK(!accepted);
    bias.t.is_const = 1;
    in.t.type = LEANDET_UINT8;
    compare(&op, ins, 3, 0, &accepted, "uint8 input");
    CHECK(!accepted);
    in.t.type = LEANDET_FLOAT32;
    tt_free(&wt);

    tt_make(&wt, "weights", 4, g_dims, 1, 1.0f); /* two groups */
    compare(&op, ins, 3, 0, &accepted, "grouped");
    CHECK(!accepted);
    tt_free(&wt);

    tt_make(&wt, "weights", 4, big, 1, 1.0f); /* 144 taps */
    compare(&op, ins, 3, 0, &accepted, "144 taps");
    CHECK(!accepted);
    tt_free(&wt);

    /* depth multiplier 2 */
    int dw_dims[4] = { 1, 3, 3, 16 }, n16 = 16;
    ld_op_desc dop = conv_op(LD_OP_DEPTHWISE_CONV_2D, LD_PAD_SAME, 1, 1, 1, 1, LD_ACT_NONE);
    tt_free(&bias);
    tt_make(&wt, "weights", 4, dw_dims, 1, 1.0f);
    tt_make(&bias, "bias", 1, &n16, 1, 1.0f);
    compare(&dop, ins, 3, 0, &accepted, "depth multiplier 2");
    CHECK(!accepted);
    tt_free(&wt);
    tt_free(&bias);
    tt_free(&in);
}

/* Every allocation of the optimized prepare fails in turn: a clean error,
 * nothing leaked. */
static void conv_oom(void)
{
    ld_op_desc op = conv_op(LD_OP_CONV_2D, LD_PAD_SAME, 1, 1, 1, 1, LD_ACT_NONE);
    tt in, wt;
    int in_dims[4] = { 1, 4, 4, 3 }, w_dims[4] = { 5, 3, 3, 3 };
    tt_make(&in, "input", 4, in_dims, 0, 1.0f);
    tt_make(&wt, "weights", 4, w_dims, 1, 1.0f);
    tt *ins[2] = { &in, &wt };
    for (const ld_opt_kernel *opt = ld_avx2_float; opt->k.builtin >= 0; opt++) {
        for (long k = 0; opt->k.builtin == LD_OP_CONV_2D && k < 4; k++) {
            run r;
            run_init(&r, &op, ins, 2);
            r.al.fail_at = k;
            leandet_status st = opt->k.prepare(&r.c);
            CHECK_MSG(st == LEANDET_OK || (st == LEANDET_ERR_NO_MEMORY && r.err.message[0]),
                      "[%s] allocation %ld failing: status %d", opt->isa, k, st);
            run_free(&r);
        }
    }
    tt_free(&in);
    tt_free(&wt);
}

/* ---- FULLY_CONNECTED -------------------------------------------------------- */

static void fc_case(int rank, const int *in_dims, int units, int keep, ld_activation act, int with_bias)
{
    char what[160];
    int depth = in_dims[rank - 1];
    snprintf(what, sizeof what, "FULLY_CONNECTED rank %d depth %d units %d keep %d act %d%s", rank, depth, units, keep,
             (int)act, with_bias ? " bias" : "");
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = LD_OP_FULLY_CONNECTED;
    op.params.fc.act = act;
    op.params.fc.keep_num_dims = keep;
    tt in, wt, bias;
    int w_dims[2] = { units, depth };
    tt_make(&in, "input", rank, in_dims, 0, 1.0f);
    tt_make(&wt, "weights", 2, w_dims, 1, 1.0f);
    tt_make(&bias, "bias", 1, &units, 1, 1.0f);
    tt *ins[3] = { &in, &wt, with_bias ? &bias : NULL };
    expect_close(&op, ins, 3, REL_TOL, what);
    tt_free(&in);
    tt_free(&wt);
    tt_free(&bias);
}

static void sweep_fc(void)
{
    static const int batches[] = { 1, 2, 5, 7, 13 }, depths[] = { 1, 3, 8, 17, 64, 100 },
                     units[] = { 1, 5, 8, 9, 16, 17, 40 };
    for (int i = 0; i < 40; i++) {
        int dims[2] = { PICK(batches), PICK(depths) };
        fc_case(2, dims, PICK(units), 0, acts[rnd() % 4], (int)(rnd() % 2));
    }
    int d3[3] = { 2, 3, 10 };
    fc_case(3, d3, 7, 1, LD_ACT_NONE, 1);
    fc_case(3, d3, 7, 0, LD_ACT_RELU, 0);
}

/* ---- MAX_POOL_2D, AVERAGE_POOL_2D (bit-exact) ------------------------------ */

static void pool_case(int builtin, int batches, int h, int w, int ch, int fh, int fw, int sh, int sw, ld_padding pad,
                      ld_activation act)
{
    char what[160];
    snprintf(what, sizeof what, "%s b%d %dx%dx%d window %dx%d stride %d,%d %s act %d",
             builtin == LD_OP_MAX_POOL_2D ? "MAX_POOL_2D" : "AVERAGE_POOL_2D", batches, h, w, ch, fh, fw, sh, sw,
             pad == LD_PAD_SAME ? "SAME" : "VALID", (int)act);
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.params.pool.padding = pad;
    op.params.pool.filter_h = fh;
    op.params.pool.filter_w = fw;
    op.params.pool.stride_h = sh;
    op.params.pool.stride_w = sw;
    op.params.pool.act = act;
    int dims[4] = { batches, h, w, ch };
    tt in;
    tt_make(&in, "input", 4, dims, 0, 4.0f);
    float *x = in.t.data; /* NaN is skipped by max; signed zeros keep the first seen */
    x[0] = NAN;
    if (in.t.bytes >= 3 * sizeof(float)) {
        x[1] = -0.0f;
        x[2] = 0.0f;
    }
    expect_close(&op, (tt *[]){ &in }, 1, 0.0, what);
    tt_free(&in);
}

static void sweep_pool(void)
{
    static const int chans[] = { 1, 3, 8, 13, 16, 24, 33, 128 };
    for (int i = 0; i < 60; i++) {
        int f = 1 + (int)(rnd() % 5), h = 1 + (int)(rnd() % 12), w = 1 + (int)(rnd() % 12);
        int fw = rnd() % 3 ? f : 1 + (int)(rnd() % 5), s = 1 + (int)(rnd() % 3);
        ld_padding pad = rnd() % 2 || h < f || w < fw ? LD_PAD_SAME : LD_PAD_VALID;
        pool_case(i % 2 ? LD_OP_MAX_POOL_2D : LD_OP_AVERAGE_POOL_2D, 1 + (int)(rnd() % 4 == 0), h, w, PICK(chans), f,
                  fw, s, s, pad, acts[rnd() % 4]);
    }
    pool_case(LD_OP_MAX_POOL_2D, 1, 20, 20, 128, 5, 5, 1, 1, LD_PAD_SAME, LD_ACT_NONE); /* YOLO's SPPF */
    pool_case(LD_OP_MAX_POOL_2D, 1, 16, 16, 28, 2, 2, 2, 2, LD_PAD_VALID, LD_ACT_NONE);
}

/* ---- LOGISTIC, ADD, SUB, MUL, PRELU ---------------------------------------- */

static void logistic_case(size_t n, int specials)
{
    char what[80];
    snprintf(what, sizeof what, "LOGISTIC %zu values", n);
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = LD_OP_LOGISTIC;
    int dims[1] = { (int)n };
    tt in;
    tt_make(&in, "input", 1, dims, 0, 30.0f);
    float *x = in.t.data;
    static const float special[] = { -9.0f, -9.0001f, -8.9999f, 16.619047164916992188f, 16.62f, 16.61f,
                                     -87.0f, -88.0f, -100.0f, -1e30f, 1e30f, 0.0f, -0.0f, 88.0f, 89.0f,
                                     INFINITY, -INFINITY, NAN };
    for (size_t i = 0; specials && i < sizeof special / sizeof special[0] && i < n; i++)
        x[i] = special[i];
    expect_close(&op, (tt *[]){ &in }, 1, LOGISTIC_TOL, what);
    tt_free(&in);
}

static void binary_case(int builtin, int ra, const int *da, int rb, const int *db, ld_activation act)
{
    char what[120];
    snprintf(what, sizeof what, "op %d rank %d vs rank %d (%d.. vs %d..) act %d", builtin, ra, rb, ra ? da[0] : 0,
             rb ? db[0] : 0, (int)act);
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.params.arith.act = act;
    tt a, b;
    tt_make(&a, "a", ra, da, 0, 8.0f);
    tt_make(&b, "b", rb, db, 0, 8.0f);
    float *pa = a.t.data; /* signed zeros: PRELU's x >= 0 test, MUL's sign */
    pa[0] = 0.0f;
    if (a.t.bytes >= 3 * sizeof(float))
        pa[2] = -0.0f;
    expect_close(&op, (tt *[]){ &a, &b }, 2, 0.0, what); /* one IEEE operation per element: bit-exact */
    tt_free(&a);
    tt_free(&b);
}

static void sweep_elementwise(void)
{
    static const size_t sizes[] = { 1, 7, 8, 9, 31, 100, 1000, 40000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        logistic_case(sizes[i], 1);
    logistic_case(70001, 0);

    int full[4] = { 2, 5, 7, 9 }, c9[1] = { 9 }, one[1] = { 1 }, hw[4] = { 1, 4, 6, 13 }, c13[3] = { 1, 1, 13 };
    int m1[4] = { 2, 1, 5, 3 }, m2[4] = { 1, 4, 1, 3 }, big[4] = { 1, 40, 40, 16 }, c16[1] = { 16 };
    static const int ops[] = { LD_OP_ADD, LD_OP_SUB, LD_OP_MUL };
    for (int k = 0; k < 3; k++) {
        for (int a = 0; a < 4; a++) {
            binary_case(ops[k], 4, full, 4, full, acts[a]);
            binary_case(ops[k], 4, full, 1, c9, acts[a]);
            binary_case(ops[k], 1, c9, 4, full, acts[a]);
            binary_case(ops[k], 4, full, 1, one, acts[a]);
            binary_case(ops[k], 0, one, 4, full, acts[a]);
            binary_case(ops[k], 4, m1, 4, m2, acts[a]);
        }
        binary_case(ops[k], 4, big, 4, big, LD_ACT_NONE);
        binary_case(ops[k], 4, big, 1, c16, LD_ACT_RELU);
    }
    binary_case(LD_OP_PRELU, 4, hw, 3, c13, LD_ACT_NONE);
    binary_case(LD_OP_PRELU, 4, hw, 4, hw, LD_ACT_NONE);
    binary_case(LD_OP_PRELU, 4, big, 1, c16, LD_ACT_NONE);
    binary_case(LD_OP_PRELU, 4, full, 1, one, LD_ACT_NONE);
}

/* ---- folding float16 weights in a real model ------------------------------ */

/* DEQUANTIZE of a constant: prepare computes the output (out->data into the
 * op's state, out->is_const set) with the very bytes eval computes for the
 * same input as an activation; a failed allocation is a clean error. */
static void fold_one(ld_dtype type, const void *data, int n, const ld_quant *q, const char *what)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = LD_OP_DEQUANTIZE;
    const ld_kernel *k = ld_kernel_find(&op);
    tt in;
    memset(&in, 0, sizeof in);
    in.d.name = "weights";
    in.t.desc = &in.d;
    in.t.quant = q ? q : &in.q;
    in.t.type = type;
    in.t.shape.rank = 1;
    in.t.shape.d[0] = n;
    in.t.bytes = (size_t)n * leandet_dtype_size(type);
    in.t.data = (void *)data;
    tt *ins[1] = { &in };
    run live, fold;
    run_init(&live, &op, ins, 1);
    CHECK(run_prepare(&live, k) == LEANDET_OK && run_eval(&live, k, NULL) == LEANDET_OK);
    in.t.is_const = 1;
    for (long fail = 0; fail < 2; fail++) { /* the first allocation fails, then none */
        run_init(&fold, &op, ins, 1);
        fold.al.fail_at = fail ? -1 : 0;
        leandet_status st = k->prepare(&fold.c);
        if (!fail) {
            CHECK_MSG(st == LEANDET_ERR_NO_MEMORY && !fold.o.is_const, "%s: status %d", what, st);
        } else {
            CHECK_MSG(st == LEANDET_OK && fold.o.is_const && fold.o.data && fold.o.data == fold.c.state &&
                          fold.o.bytes == (size_t)n * sizeof(float),
                      "%s: not folded", what);
            CHECK_MSG(st == LEANDET_OK && live.o.data && fold.o.data &&
                          memcmp(fold.o.data, live.o.data, (size_t)n * sizeof(float)) == 0,
                      "%s: folded values differ from eval's", what);
        }
        fold.o.data = NULL; /* the state owns it */
        run_free(&fold);
    }
    run_free(&live);
}

static void folding_kernel(void)
{
    uint16_t *h = malloc(65536 * sizeof *h);
    for (int i = 0; i < 65536; i++)
        h[i] = (uint16_t)i; /* every float16 */
    fold_one(LEANDET_FLOAT16, h, 65536, NULL, "float16");
    free(h);
    int8_t q8[12];
    for (int i = 0; i < 12; i++)
        q8[i] = (int8_t)(i * 23 - 128);
    float scale[1] = { 0.03f };
    int32_t zp[1] = { 3 };
    ld_quant q = { 1, 0, scale, zp };
    fold_one(LEANDET_INT8, q8, 12, &q, "int8");
}

static leandet_session *session(leandet_model *m, leandet_backend backend, leandet_error *err)
{
    leandet_session_options o;
    memset(&o, 0, sizeof o);
    o.backend = backend;
    leandet_session *s = NULL;
    CHECK_MSG(leandet_session_create(m, &o, &s, err) == LEANDET_OK, "%s", err->message);
    return s;
}

/* Whether every op reading tensor t packed it (optimized CONV_2D or
 * DEPTHWISE_CONV_2D weights or bias) and t is not a model output. */
static int only_packed(const ld_model_desc *d, const leandet_session *s, int t)
{
    for (int k = 0; k < d->n_outputs; k++)
        if (d->outputs[k] == t)
            return 0;
    int readers = 0;
    for (int i = 0; i < d->n_ops; i++)
        for (int k = 0; k < d->ops[i].n_inputs; k++)
            if (d->ops[i].inputs[k] == t) {
                const int b = d->ops[i].builtin;
                if ((b != LD_OP_CONV_2D && b != LD_OP_DEPTHWISE_CONV_2D) || k == 0 || strcmp(s->ops[i].isa, "ref") == 0)
                    return 0;
                readers++;
            }
    return readers > 0;
}

/* Folded weights that only packing convolutions read are freed during
 * prepare, and the plan no longer counts them; the reference kernels read
 * them every invoke, so there they stay. */
static void dropped_folds(const char *name, leandet_model *m, const leandet_session *opt, const leandet_session *ref,
                          int have_avx2, size_t min_mapped)
{
    const ld_model_desc *d = ld_model_desc_of(m);
    int expect = 0, dropped = 0, folds = 0;
    for (int i = 0; i < d->n_ops; i++) {
        if (d->ops[i].builtin != LD_OP_DEQUANTIZE)
            continue;
        folds++;
        const int t = d->ops[i].outputs[0], gone = only_packed(d, opt, t);
        expect += gone;
        dropped += opt->ops[i].dropped;
        CHECK_MSG(opt->ops[i].dropped == gone, "DEQUANTIZE op %d: dropped %d, expected %d", i, opt->ops[i].dropped,
                  gone);
        CHECK(!gone || (opt->tensors[t].data == NULL && opt->ops[i].ctx.state == NULL));
        CHECK_MSG(!ref->ops[i].dropped && ref->tensors[t].data, "op %d: the reference kernels read it", i);
    }
    CHECK_MSG(!have_avx2 || expect > folds * 3 / 4, "%s: only %d of %d folded weights are read by packing kernels alone",
              name, expect, folds);
    /* Freed mapped blocks leave the plan; small ones stay (malloc's heap keeps the pages). */
    size_t mapped = 0;
    for (int i = 0; i < d->n_ops; i++)
        if (opt->ops[i].dropped && ld_block_bytes(ref->ops[i].state_bytes) >= LD_MMAP_MIN)
            mapped += ld_block_bytes(ref->ops[i].state_bytes);
    leandet_plan_report ro, rr;
    leandet_session_plan(opt, &ro);
    leandet_session_plan(ref, &rr);
    CHECK_MSG(ro.bytes[LEANDET_MEM_FOLDED] + mapped <= rr.bytes[LEANDET_MEM_FOLDED],
              "%s: folded weights: %zu bytes planned, %zu with the reference kernels (%d freed, %zu mapped)", name,
              ro.bytes[LEANDET_MEM_FOLDED], rr.bytes[LEANDET_MEM_FOLDED], dropped, mapped);
    CHECK_MSG(!have_avx2 || !min_mapped || mapped >= min_mapped, "%s: %zu bytes of mapped folded weights freed", name,
              mapped);
    /* keep_all_tensors keeps every tensor readable */
    leandet_session_options o;
    memset(&o, 0, sizeof o);
    o.keep_all_tensors = 1;
    leandet_session *keep = NULL;
    leandet_error err = { 0 };
    CHECK_MSG(leandet_session_create(m, &o, &keep, &err) == LEANDET_OK, "%s", err.message);
    for (int i = 0; keep && i < d->n_ops; i++)
        CHECK_MSG(!keep->ops[i].dropped, "op %d dropped with keep_all_tensors", i);
    leandet_session_destroy(keep);
}

/* A shared model with an optimized and a reference session (NULL model if it cannot be opened). */
static leandet_model *open_pair(const char *file, leandet_session **opt, leandet_session **ref, leandet_error *err)
{
    char path[1024];
    leandet_model *m = NULL;
    *opt = *ref = NULL;
    ld_test_model(file, path, sizeof path);
    CHECK_MSG(leandet_model_open(path, NULL, &m, err) == LEANDET_OK, "%s", err->message);
    if (m) {
        *opt = session(m, LEANDET_BACKEND_AUTO, err);
        *ref = session(m, LEANDET_BACKEND_REFERENCE, err);
    }
    return m;
}

static void close_pair(leandet_model *m, leandet_session *opt, leandet_session *ref)
{
    leandet_session_destroy(opt);
    leandet_session_destroy(ref);
    leandet_model_close(m);
}

/* yolov5n's bigger float16 weights: blocks of their own, which leave the plan when freed. */
static void folding_mapped(int have_avx2)
{
    leandet_error err = { 0 };
    leandet_session *opt, *ref;
    leandet_model *m = open_pair("yolov5n-fp16.tflite", &opt, &ref, &err);
    if (opt && ref)
        dropped_folds("yolov5n-fp16", m, opt, ref, have_avx2, (size_t)5 << 20);
    close_pair(m, opt, ref);
}

static void folding(int have_avx2)
{
    leandet_error err = { 0 };
    leandet_session *opt, *ref;
    leandet_model *m = open_pair("face_detection_short_range.tflite", &opt, &ref, &err);
    if (!m)
        return;
    if (opt && ref) {
        const ld_model_desc *d = ld_model_desc_of(m);
        int dequant = 0, folded = 0, convs = 0, conv_opt = 0;
        for (int i = 0; i < d->n_ops; i++) {
            const int b = d->ops[i].builtin;
            dequant += b == LD_OP_DEQUANTIZE;
            folded += b == LD_OP_DEQUANTIZE && opt->ops[i].folded && ref->ops[i].folded;
            CHECK(!opt->ops[i].folded || b == LD_OP_DEQUANTIZE);
            if (b == LD_OP_CONV_2D || b == LD_OP_DEPTHWISE_CONV_2D) {
                convs++;
                conv_opt += strcmp(opt->ops[i].isa, "ref") != 0;
            }
        }
        CHECK_MSG(dequant == 74 && folded == 74, "%d DEQUANTIZE ops, %d folded", dequant, folded);
        /* folded weights are constants: the optimized kernels can pack them */
        CHECK_MSG(!have_avx2 || conv_opt == convs, "%d of %d convolutions optimized", conv_opt, convs);
        dropped_folds("face_detection_short_range", m, opt, ref, have_avx2, 0);

        size_t n_in = 0;
        float *xa = leandet_session_input(opt, 0, &n_in), *xb = leandet_session_input(ref, 0, NULL);
        for (size_t i = 0; i < n_in / sizeof(float); i++)
            xa[i] = xb[i] = rnd_float(-1.0f, 1.0f);
        CHECK_MSG(leandet_session_invoke(opt, &err) == LEANDET_OK, "%s", err.message);
        CHECK_MSG(leandet_session_invoke(ref, &err) == LEANDET_OK, "%s", err.message);
        for (int k = 0; k < leandet_model_num_outputs(m); k++) {
            size_t na = 0, nb = 0;
            const float *ya = leandet_session_output(opt, k, &na), *yb = leandet_session_output(ref, k, &nb);
            CHECK(ya && yb && na == nb);
            if (ya && yb && na == nb) {
                double e = rel_err(ya, yb, na / sizeof(float));
                CHECK_MSG(e <= 1e-4, "output %d: error %.3g of the range (oracle tolerance 1e-4)", k, e);
            }
        }
    }
    close_pair(m, opt, ref);
}

int main(void)
{
    int have_avx2 = 0;
    for (const ld_opt_kernel *const *f = ld_opt_families(); *f; f++)
        have_avx2 |= *f == ld_avx2_float;
    if (have_avx2) {
        ld_alloc pool_alloc;
        leandet_error err = { 0 };
        ld_alloc_init(&pool_alloc, NULL);
        if (ld_pool_create(3, NULL, 0, &pool_alloc, &pool3, &err) != LEANDET_OK) {
            printf("no thread pool (%s): serial runs only\n", err.message);
            pool3 = NULL;
        }
        sweep_gemm();
        conv_fixed();
        sweep_conv(0, 160);
        sweep_conv(1, 160);
        sweep_hybrid();
        hybrid_quantizer();
        conv_refusals();
        conv_oom();
        sweep_fc();
        sweep_pool();
        sweep_elementwise();
        ld_pool_destroy(pool3);
    } else {
        printf("this CPU lacks AVX2+FMA: only folding is tested\n");
    }
    folding_kernel();
    folding(have_avx2);
    folding_mapped(have_avx2);
    return ld_test_finish();
}

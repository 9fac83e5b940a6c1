/* CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D and
 * MAX_POOL_2D reference kernels against a naive model written here:
 * geometry from the definitions, float sums in double, and for 8-bit types
 * the exact integer arithmetic of TensorFlow Lite (accumulate
 * (x - zx) * (w - zw) + bias, then the double-rounding fixed-point multiply
 * for convolutions or one round() in double for FULLY_CONNECTED), written out
 * plainly. Plus the errors prepare must report. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/kernel.h"

/* ---- deterministic random numbers ---------------------------------- */

static uint32_t rng = 0x2545F491u;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int rnd_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

static float rnd_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() >> 8) / (float)(1u << 24);
}

/* ---- tensors -------------------------------------------------------- */

#define MAXQ 64

typedef struct tt {
    ld_tensor t;
    ld_tensor_desc d;
    ld_quant q;
    float scale[MAXQ];
    int32_t zp[MAXQ];
} tt;

static size_t count_of(int rank, const int *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

/* A tensor with zeroed data (constant when is_const). */
static void tt_make(tt *x, const char *name, ld_dtype type, int rank, const int *dims, int is_const)
{
    memset(x, 0, sizeof *x);
    x->d.name = name;
    x->t.desc = &x->d;
    x->t.type = type;
    x->t.shape.rank = rank;
    for (int i = 0; i < rank; i++)
        x->t.shape.d[i] = dims[i];
    x->t.bytes = count_of(rank, dims) * leandet_dtype_size(type);
    x->t.data = calloc(x->t.bytes ? x->t.bytes : 1, 1);
    x->t.is_const = is_const;
    x->q.scale = x->scale;
    x->q.zero_point = x->zp;
    x->t.quant = &x->q;
}

static void tt_quant(tt *x, int count, int axis, const float *scales, const int32_t *zps)
{
    x->q.count = count;
    x->q.axis = axis;
    for (int i = 0; i < count; i++) {
        x->scale[i] = scales[i];
        x->zp[i] = zps[i];
    }
}

static void tt_free(tt *x)
{
    free(x->t.data);
    x->t.data = NULL;
}

static int is_q8(ld_dtype t)
{
    return t == LEANDET_UINT8 || t == LEANDET_INT8;
}

/* Real value (float) or value minus zero point (8-bit) of element i; for
 * per-channel tensors `ch` selects the zero point. */
static double centered(const tt *x, size_t i, int ch)
{
    int32_t zp = x->q.count > 1 ? x->zp[ch] : (x->q.count ? x->zp[0] : 0);
    switch (x->t.type) {
    case LEANDET_FLOAT32: return ((const float *)x->t.data)[i];
    case LEANDET_UINT8: return (double)((const uint8_t *)x->t.data)[i] - zp;
    case LEANDET_INT8: return (double)((const int8_t *)x->t.data)[i] - zp;
    case LEANDET_INT32: return ((const int32_t *)x->t.data)[i];
    default: return 0;
    }
}

static void fill_random(tt *x, double sd)
{
    size_t n = x->t.bytes / leandet_dtype_size(x->t.type);
    for (size_t i = 0; i < n; i++) {
        if (x->t.type == LEANDET_FLOAT32)
            ((float *)x->t.data)[i] = rnd_float(-1.0f, 1.0f) * (float)sd;
        else if (x->t.type == LEANDET_UINT8)
            ((uint8_t *)x->t.data)[i] = (uint8_t)rnd_int(0, 255);
        else if (x->t.type == LEANDET_INT8)
            ((int8_t *)x->t.data)[i] = (int8_t)rnd_int(-127, 127);
        else if (x->t.type == LEANDET_INT32)
            ((int32_t *)x->t.data)[i] = rnd_int(-(int)sd, (int)sd);
    }
}

static void type_range(ld_dtype t, int *lo, int *hi)
{
    *lo = t == LEANDET_UINT8 ? 0 : -128;
    *hi = t == LEANDET_UINT8 ? 255 : 127;
}

/* ---- running one op --------------------------------------------------- */

typedef struct run {
    ld_op_desc op;
    ld_op_ctx c;
    ld_alloc al;
    leandet_error err;
    ld_tensor *in[3];
    ld_tensor *out[1];
    const ld_kernel *k;
} run;

/* Ordinal of the allocation that fails (-1: none), for the out-of-memory test. */
static long fail_at = -1;

/* Prepare `builtin` on inputs (NULL entries are omitted optional inputs).
 * The output's shape is first set to nonsense: prepare must write it. */
static leandet_status prepare_op(run *r, int builtin, const ld_op_params *p, tt **ins, int n_in, tt *out)
{
    memset(r, 0, sizeof *r);
    r->op.builtin = builtin;
    r->op.params = *p;
    ld_alloc_init(&r->al, NULL);
    r->al.fail_at = fail_at;
    for (int i = 0; i < n_in; i++)
        r->in[i] = ins[i] ? &ins[i]->t : NULL;
    r->out[0] = &out->t;
    out->t.shape.rank = 1;
    out->t.shape.d[0] = 12345;
    r->c.op = &r->op;
    r->c.index = 7;
    r->c.n_in = n_in;
    r->c.n_out = 1;
    r->c.in = r->in;
    r->c.out = r->out;
    r->c.alloc = &r->al;
    r->c.err = &r->err;
    r->k = ld_kernel_find(&r->op);
    if (!r->k)
        return LEANDET_ERR_INTERNAL;
    return r->k->prepare(&r->c);
}

static leandet_status eval_op(run *r)
{
    long before = r->al.count;
    r->c.alloc = NULL; /* prepare only */
    leandet_status st = r->k->eval(&r->c);
    CHECK(r->al.count == before);
    return st;
}

static void finish_op(run *r)
{
    ld_free(&r->al, r->c.state);
    r->c.state = NULL;
    CHECK(r->al.current == 0);
}

static int shape_is(const tt *x, int rank, const int *dims)
{
    if (x->t.shape.rank != rank)
        return 0;
    for (int i = 0; i < rank; i++)
        if (x->t.shape.d[i] != dims[i])
            return 0;
    return 1;
}

/* ---- expected values ------------------------------------------------- */

/* Output size and leading padding of one axis, from the definitions. */
static int window_out(int same, int in, int f, int stride, int dil, int *pad)
{
    int extent = (f - 1) * dil + 1;
    int out = same ? (in + stride - 1) / stride : (in >= extent ? (in - extent) / stride + 1 : 0);
    int total = (out - 1) * stride + extent - in;
    *pad = total > 0 ? total / 2 : 0;
    return out;
}

static void act_range_float(ld_activation act, double *lo, double *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act == LD_ACT_RELU || act == LD_ACT_RELU6)
        *lo = 0;
    if (act == LD_ACT_RELU6)
        *hi = 6;
    if (act == LD_ACT_RELU_N1_TO_1) {
        *lo = -1;
        *hi = 1;
    }
}

/* Clamp bounds of a fused activation on an 8-bit output: zero point plus
 * the real bound divided by the scale, rounded in float as TFLite does. */
static void act_range_q(ld_activation act, ld_dtype t, float scale, int32_t zp, int *lo, int *hi)
{
    type_range(t, lo, hi);
    double flo, fhi;
    act_range_float(act, &flo, &fhi);
    if (flo > -INFINITY) {
        int v = zp + (int)roundf((float)flo / scale);
        *lo = v > *lo ? v : *lo;
    }
    if (fhi < INFINITY) {
        int v = zp + (int)roundf((float)fhi / scale);
        *hi = v < *hi ? v : *hi;
    }
}

/* TFLite's MultiplyByQuantizedMultiplier(acc, QuantizeMultiplier(real)):
 * multiplier m in [0.5, 1) as a 31-bit fraction q and exponent e; the
 * product acc * 2^max(e,0) * q is rounded to 31 fraction bits (half away
 * from zero), then divided by 2^max(-e,0) rounding half away from zero. */
static int64_t ref_requant_conv(int64_t acc, double real)
{
    int e;
    double m = frexp(real, &e);
    int64_t q = llround(m * 2147483648.0);
    if (q == (1LL << 31)) {
        q /= 2;
        e++;
    }
    int64_t x = acc * (e > 0 ? (1LL << e) : 1);
    int64_t prod = x * q;
    int64_t high = (prod + (prod >= 0 ? (1LL << 30) : 1 - (1LL << 30))) / (1LL << 31);
    int right = e > 0 ? 0 : -e;
    if (right == 0)
        return high;
    int64_t half = 1LL << (right - 1);
    return high >= 0 ? (high + half) >> right : -((-high + half) >> right);
}

/* ---- convolutions ---------------------------------------------------- */

typedef struct geo {
    int b, h, w, c;          /* input */
    int fh, fw, sh, sw, dh, dw, same;
    int groups;              /* CONV_2D */
    int dm;                  /* DEPTHWISE_CONV_2D depth multiplier; 0 for CONV_2D */
    int oc;                  /* output channels */
    int oh, ow, ph, pw;      /* derived */
} geo;

/* Sum over the taps inside the input of x * w, plus bias; abs_sum bounds
 * float rounding. */
static void ref_conv(const geo *g, const tt *x, const tt *w, const tt *bias, double *acc, double *abs_sum)
{
    size_t o = 0;
    for (int b = 0; b < g->b; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int oc = 0; oc < g->oc; oc++, o++) {
                    double s = 0, a = 0;
                    for (int ky = 0; ky < g->fh; ky++)
                        for (int kx = 0; kx < g->fw; kx++) {
                            int iy = oy * g->sh - g->ph + ky * g->dh, ix = ox * g->sw - g->pw + kx * g->dw;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                continue;
                            size_t px = (((size_t)b * g->h + iy) * g->w + ix) * g->c;
                            if (g->dm) {
                                double t = centered(x, px + oc / g->dm, 0) *
                                           centered(w, ((size_t)ky * g->fw + kx) * g->oc + oc, oc);
                                s += t;
                                a += fabs(t);
                            } else {
                                int cpg = g->c / g->groups, group = oc / (g->oc / g->groups);
                                for (int i = 0; i < cpg; i++) {
                                    double t = centered(x, px + group * cpg + i, 0) *
                                               centered(w, (((size_t)oc * g->fh + ky) * g->fw + kx) * cpg + i, oc);
                                    s += t;
                                    a += fabs(t);
                                }
                            }
                        }
                    if (bias) {
                        s += centered(bias, oc, 0);
                        a += fabs(centered(bias, oc, 0));
                    }
                    acc[o] = s;
                    if (abs_sum)
                        abs_sum[o] = a;
                }
}

/* Compare an op's output with float or 8-bit expectations. For 8-bit, acc
 * holds exact integer sums and `scale[ch]` the real requantization scale;
 * fc selects FULLY_CONNECTED's single rounding. */
static int compare_output(const tt *y, const double *acc, const double *abs_sum, size_t n, int channels,
                          const double *scale, int fc, ld_activation act, const char *what)
{
    int bad = 0;
    if (y->t.type == LEANDET_FLOAT32) {
        double lo, hi;
        act_range_float(act, &lo, &hi);
        for (size_t i = 0; i < n && bad < 3; i++) {
            double want = fmin(fmax(acc[i], lo), hi), got = ((const float *)y->t.data)[i];
            if (!(fabs(got - want) <= 1e-5 * abs_sum[i] + 1e-6)) {
                fprintf(stderr, "%s: [%zu] got %.9g want %.9g\n", what, i, got, want);
                bad++;
            }
        }
    } else {
        int lo, hi;
        act_range_q(act, y->t.type, y->scale[0], y->zp[0], &lo, &hi);
        for (size_t i = 0; i < n && bad < 3; i++) {
            int ch = (int)(i % (size_t)channels);
            int64_t v = fc ? (int64_t)round(acc[i] * scale[ch]) : ref_requant_conv((int64_t)acc[i], scale[ch]);
            v += y->zp[0];
            int want = (int)(v < lo ? lo : (v > hi ? hi : v));
            int got = y->t.type == LEANDET_UINT8 ? ((const uint8_t *)y->t.data)[i] : ((const int8_t *)y->t.data)[i];
            if (got != want) {
                fprintf(stderr, "%s: [%zu] got %d want %d (acc %.0f)\n", what, i, got, want, acc[i]);
                bad++;
            }
        }
    }
    return bad == 0;
}

/* Random 8-bit quantization for input and weights; per_channel gives each
 * of `channels` output channels its own weight scale along `axis`. */
static void quantize_operands(tt *x, tt *w, tt *bias, int per_channel, int channels, int axis)
{
    float s = rnd_float(0.01f, 0.1f);
    int32_t z = x->t.type == LEANDET_UINT8 ? rnd_int(0, 255) : rnd_int(-128, 127);
    tt_quant(x, 1, 0, &s, &z);
    float ws[MAXQ], bs[MAXQ];
    int32_t wz[MAXQ], bz[MAXQ];
    int n = per_channel ? channels : 1;
    for (int i = 0; i < n; i++) {
        ws[i] = rnd_float(0.002f, 0.05f);
        wz[i] = w->t.type == LEANDET_UINT8 ? rnd_int(0, 255) : 0;
        bs[i] = s * ws[i];
        bz[i] = 0;
    }
    tt_quant(w, n, axis, ws, wz);
    if (bias)
        tt_quant(bias, n, 0, bs, bz);
}

/* Output quantization that spreads the sums over about +-100 steps (some
 * clip), with a random zero point near the middle of the type. */
static void quantize_output(tt *y, const tt *x, const tt *w, const double *acc, size_t n)
{
    double m = 1;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(acc[i]));
    float s = (float)(m * x->scale[0] * w->scale[0] / 100.0);
    int32_t z = y->t.type == LEANDET_UINT8 ? rnd_int(100, 155) : rnd_int(-27, 27);
    tt_quant(y, 1, 0, &s, &z);
}

/* Real requantization scale per channel, as TFLite derives it. */
static void real_scales(const tt *x, const tt *w, const tt *y, int channels, int float_product, double *out)
{
    for (int ch = 0; ch < channels; ch++) {
        float ws = w->q.count > 1 ? w->scale[ch] : w->scale[0];
        out[ch] = float_product ? (double)(x->scale[0] * ws) / y->scale[0]
                                : (double)x->scale[0] * (double)ws / (double)y->scale[0];
    }
}

static void check_conv(ld_dtype type, int per_channel, geo g, ld_activation act, int with_bias)
{
    g.oh = window_out(g.same, g.h, g.fh, g.sh, g.dh, &g.ph);
    g.ow = window_out(g.same, g.w, g.fw, g.sw, g.dw, &g.pw);
    if (g.oh <= 0 || g.ow <= 0)
        return;
    int depthwise = g.dm > 0;
    tt x, w, bias, y;
    int xd[4] = { g.b, g.h, g.w, g.c };
    int wd[4] = { g.oc, g.fh, g.fw, g.c / g.groups };
    if (depthwise) {
        wd[0] = 1;
        wd[3] = g.oc;
    }
    int yd[4] = { g.b, g.oh, g.ow, g.oc };
    tt_make(&x, "x", type, 4, xd, 0);
    tt_make(&w, "w", type, 4, wd, 1);
    tt_make(&bias, "bias", is_q8(type) ? LEANDET_INT32 : LEANDET_FLOAT32, 1, &g.oc, 1);
    tt_make(&y, "y", type, 4, yd, 0);
    fill_random(&x, 1.0);
    fill_random(&w, 1.0);
    fill_random(&bias, is_q8(type) ? 3000.0 : 1.0);
    if (is_q8(type))
        quantize_operands(&x, &w, &bias, per_channel, g.oc, depthwise ? 3 : 0);

    size_t n = count_of(4, yd);
    double *acc = malloc(n * sizeof *acc), *abs_sum = malloc(n * sizeof *abs_sum), scale[MAXQ];
    ref_conv(&g, &x, &w, with_bias == 1 ? &bias : NULL, acc, abs_sum);
    if (is_q8(type)) {
        quantize_output(&y, &x, &w, acc, n);
        real_scales(&x, &w, &y, g.oc, type == LEANDET_UINT8, scale);
    }

    ld_op_params p;
    memset(&p, 0, sizeof p);
    p.conv = (ld_conv_params){ g.same ? LD_PAD_SAME : LD_PAD_VALID, g.sw, g.sh, g.dw, g.dh, g.dm, act };
    tt *ins[3] = { &x, &w, with_bias == 1 ? &bias : NULL };
    run r;
    char what[200];
    snprintf(what, sizeof what, "%s %s%s in %dx%dx%dx%d f %dx%d s %d,%d d %d,%d %s g %d dm %d oc %d act %d bias %d",
             depthwise ? "DEPTHWISE" : "CONV", leandet_dtype_name(type), per_channel ? "/pc" : "", g.b, g.h, g.w, g.c,
             g.fh, g.fw, g.sh, g.sw, g.dh, g.dw, g.same ? "SAME" : "VALID", g.groups, g.dm, g.oc, (int)act, with_bias);
    leandet_status st = prepare_op(&r, depthwise ? LD_OP_DEPTHWISE_CONV_2D : LD_OP_CONV_2D, &p, ins,
                                   with_bias == 2 ? 2 : 3, &y);
    CHECK_MSG(st == LEANDET_OK, "%s: %s", what, r.err.message);
    if (st == LEANDET_OK) {
        CHECK_MSG(shape_is(&y, 4, yd), "%s: output shape", what);
        CHECK(eval_op(&r) == LEANDET_OK);
        CHECK_MSG(compare_output(&y, acc, abs_sum, n, g.oc, scale, 0, act, what), "%s", what);
    }
    finish_op(&r);
    free(acc);
    free(abs_sum);
    tt_free(&x);
    tt_free(&w);
    tt_free(&bias);
    tt_free(&y);
}

static geo random_geo(int depthwise)
{
    geo g;
    memset(&g, 0, sizeof g);
    g.b = rnd_int(1, 2);
    g.h = rnd_int(1, 9);
    g.w = rnd_int(1, 9);
    g.fh = rnd_int(1, 4);
    g.fw = rnd_int(1, 4);
    g.sh = rnd_int(1, 3);
    g.sw = rnd_int(1, 3);
    g.dh = rnd_int(0, 2) ? 1 : rnd_int(2, 3);
    g.dw = rnd_int(0, 2) ? 1 : rnd_int(2, 3);
    g.same = rnd_int(0, 1);
    if (depthwise) {
        g.c = rnd_int(1, 6);
        g.dm = rnd_int(1, 3);
        g.oc = g.c * g.dm;
        g.groups = 1;
    } else {
        g.groups = rnd_int(0, 3) ? 1 : rnd_int(2, 3);
        g.c = g.groups * rnd_int(1, 5);
        g.oc = g.groups * rnd_int(1, 5);
    }
    return g;
}

static void test_convolutions(void)
{
    const ld_dtype types[4] = { LEANDET_FLOAT32, LEANDET_UINT8, LEANDET_INT8, LEANDET_INT8 };
    for (int depthwise = 0; depthwise < 2; depthwise++) {
        for (int i = 0; i < 160; i++) {
            int t = i % 4;
            geo g = random_geo(depthwise);
            /* bias: 1 present, 0 passed as an omitted input, 2 absent (two inputs) */
            int with_bias = i % 7 == 3 ? (depthwise ? 2 : 0) : 1;
            check_conv(types[t], t == 3, g, (ld_activation)(i / 4 % 4), with_bias);
        }
    }
    /* Corners: a filter larger than the input (SAME), a single pixel, wide strides. */
    geo big = { 1, 2, 3, 4, 5, 5, 1, 1, 1, 1, 1, 1, 0, 3, 0, 0, 0, 0 };
    geo one = { 2, 1, 1, 3, 3, 3, 2, 2, 2, 2, 1, 1, 0, 2, 0, 0, 0, 0 };
    geo wide = { 1, 9, 7, 2, 2, 3, 4, 5, 1, 2, 1, 1, 0, 3, 0, 0, 0, 0 };
    for (int t = 0; t < 4; t++) {
        check_conv(types[t], t == 3, big, LD_ACT_RELU6, 1);
        check_conv(types[t], t == 3, one, LD_ACT_NONE, 1);
        check_conv(types[t], t == 3, wide, LD_ACT_RELU_N1_TO_1, 1);
        geo dbig = big, done = one;
        dbig.dm = 2;
        dbig.oc = 8;
        done.dm = 1;
        done.oc = 3;
        check_conv(types[t], t == 3, dbig, LD_ACT_RELU, 1);
        check_conv(types[t], t == 3, done, LD_ACT_NONE, 1);
    }
}

/* ---- fully connected --------------------------------------------------- */

static void check_fc(ld_dtype type, int per_channel, int w_zp, int rank, const int *dims, int units, int keep,
                     int with_bias, ld_activation act)
{
    int depth = dims[rank - 1];
    size_t batches = count_of(rank, dims) / (size_t)depth;
    tt x, w, bias, y;
    int wd[2] = { units, depth };
    int yd[LD_MAX_DIMS], yrank = keep ? rank : 2;
    if (keep) {
        memcpy(yd, dims, sizeof(int) * (size_t)rank);
        yd[rank - 1] = units;
    } else {
        yd[0] = (int)batches;
        yd[1] = units;
    }
    tt_make(&x, "x", type, rank, dims, 0);
    tt_make(&w, "w", type, 2, wd, 1);
    tt_make(&bias, "bias", is_q8(type) ? LEANDET_INT32 : LEANDET_FLOAT32, 1, &units, 1);
    tt_make(&y, "y", type, yrank, yd, 0);
    fill_random(&x, 1.0);
    fill_random(&w, 1.0);
    fill_random(&bias, is_q8(type) ? 3000.0 : 1.0);
    if (is_q8(type)) {
        quantize_operands(&x, &w, &bias, per_channel, units, 0);
        if (w_zp && !per_channel)
            w.zp[0] = w_zp;
    }
    size_t n = batches * (size_t)units;
    double *acc = malloc(n * sizeof *acc), *abs_sum = malloc(n * sizeof *abs_sum), scale[MAXQ];
    for (size_t b = 0; b < batches; b++)
        for (int u = 0; u < units; u++) {
            double s = with_bias ? centered(&bias, (size_t)u, 0) : 0, a = fabs(s);
            for (int d = 0; d < depth; d++) {
                double t = centered(&x, b * (size_t)depth + (size_t)d, 0) *
                           centered(&w, (size_t)u * (size_t)depth + (size_t)d, u);
                s += t;
                a += fabs(t);
            }
            acc[b * (size_t)units + (size_t)u] = s;
            abs_sum[b * (size_t)units + (size_t)u] = a;
        }
    if (is_q8(type)) {
        quantize_output(&y, &x, &w, acc, n);
        real_scales(&x, &w, &y, units, 0, scale);
    }
    ld_op_params p;
    memset(&p, 0, sizeof p);
    p.fc.act = act;
    p.fc.keep_num_dims = keep;
    tt *ins[3] = { &x, &w, with_bias ? &bias : NULL };
    char what[160];
    snprintf(what, sizeof what, "FC %s%s rank %d depth %d units %d keep %d bias %d wzp %d act %d",
             leandet_dtype_name(type), per_channel ? "/pc" : "", rank, depth, units, keep, with_bias, w_zp, (int)act);
    run r;
    leandet_status st = prepare_op(&r, LD_OP_FULLY_CONNECTED, &p, ins, with_bias ? 3 : 2, &y);
    CHECK_MSG(st == LEANDET_OK, "%s: %s", what, r.err.message);
    if (st == LEANDET_OK) {
        CHECK_MSG(shape_is(&y, yrank, yd), "%s: output shape", what);
        CHECK(eval_op(&r) == LEANDET_OK);
        CHECK_MSG(compare_output(&y, acc, abs_sum, n, units, scale, 1, act, what), "%s", what);
    }
    finish_op(&r);
    free(acc);
    free(abs_sum);
    tt_free(&x);
    tt_free(&w);
    tt_free(&bias);
    tt_free(&y);
}

static void test_fully_connected(void)
{
    const ld_dtype types[4] = { LEANDET_FLOAT32, LEANDET_UINT8, LEANDET_INT8, LEANDET_INT8 };
    for (int i = 0; i < 80; i++) {
        int t = i % 4, rank = rnd_int(1, 4), dims[4];
        for (int k = 0; k < rank; k++)
            dims[k] = rnd_int(1, 4);
        dims[rank - 1] = rnd_int(1, 40);
        int keep = rnd_int(0, 1), wzp = (t == 2 && i % 3 == 0) ? rnd_int(-9, 9) : 0;
        check_fc(types[t], t == 3, wzp, rank, dims, rnd_int(1, 20), keep, i % 5 != 2, (ld_activation)(i / 4 % 4));
    }
    /* Input [4, 6] read as rows of 3 (no keep_num_dims): 8 rows. */
    int two[2] = { 4, 6 }, wd[2] = { 5, 3 }, want[2] = { 8, 5 };
    tt x, w, y;
    tt_make(&x, "x", LEANDET_FLOAT32, 2, two, 0);
    tt_make(&w, "w", LEANDET_FLOAT32, 2, wd, 1);
    tt_make(&y, "y", LEANDET_FLOAT32, 2, want, 0);
    ld_op_params p;
    memset(&p, 0, sizeof p);
    tt *ins[2] = { &x, &w };
    run r;
    CHECK(prepare_op(&r, LD_OP_FULLY_CONNECTED, &p, ins, 2, &y) == LEANDET_OK);
    CHECK(shape_is(&y, 2, want));
    finish_op(&r);
    tt_free(&x);
    tt_free(&w);
    tt_free(&y);
}

/* ---- pools ---------------------------------------------------------------- */

static void check_pool(int is_max, ld_dtype type, int b, int h, int w, int c, int fh, int fw, int sh, int sw, int same,
                       ld_activation act)
{
    int ph, pw, oh = window_out(same, h, fh, sh, 1, &ph), ow = window_out(same, w, fw, sw, 1, &pw);
    if (oh <= 0 || ow <= 0)
        return;
    int xd[4] = { b, h, w, c }, yd[4] = { b, oh, ow, c };
    tt x, y;
    tt_make(&x, "x", type, 4, xd, 0);
    tt_make(&y, "y", type, 4, yd, 0);
    fill_random(&x, 4.0);
    if (is_q8(type)) {
        float s = rnd_float(0.01f, 0.1f);
        int32_t z = type == LEANDET_UINT8 ? rnd_int(0, 255) : rnd_int(-128, 127);
        tt_quant(&x, 1, 0, &s, &z);
        tt_quant(&y, 1, 0, &s, &z);
    }
    ld_op_params p;
    memset(&p, 0, sizeof p);
    p.pool = (ld_pool_params){ same ? LD_PAD_SAME : LD_PAD_VALID, sw, sh, fw, fh, act };
    tt *ins[1] = { &x };
    char what[160];
    snprintf(what, sizeof what, "%s %s in %dx%dx%dx%d f %dx%d s %d,%d %s act %d", is_max ? "MAX" : "AVG",
             leandet_dtype_name(type), b, h, w, c, fh, fw, sh, sw, same ? "SAME" : "VALID", (int)act);
    run r;
    leandet_status st = prepare_op(&r, is_max ? LD_OP_MAX_POOL_2D : LD_OP_AVERAGE_POOL_2D, &p, ins, 1, &y);
    CHECK_MSG(st == LEANDET_OK, "%s: %s", what, r.err.message);
    if (st == LEANDET_OK) {
        CHECK_MSG(shape_is(&y, 4, yd), "%s: shape", what);
        CHECK(eval_op(&r) == LEANDET_OK);
        int bad = 0;
        size_t o = 0;
        double flo, fhi;
        int qlo = 0, qhi = 0;
        act_range_float(act, &flo, &fhi);
        if (is_q8(type))
            act_range_q(act, type, y.scale[0], y.zp[0], &qlo, &qhi);
        for (int bb = 0; bb < b; bb++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int ch = 0; ch < c; ch++, o++) {
                        double sum = 0, best = -INFINITY;
                        int n = 0;
                        for (int iy = oy * sh - ph; iy < oy * sh - ph + fh; iy++)
                            for (int ix = ox * sw - pw; ix < ox * sw - pw + fw; ix++) {
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    continue;
                                size_t i = (((size_t)bb * h + iy) * w + ix) * c + ch;
                                /* stored values: float, or the raw 8-bit integer */
                                double v = centered(&x, i, 0) + (is_q8(type) ? x.zp[0] : 0);
                                sum += v;
                                best = fmax(best, v);
                                n++;
                            }
                        if (type == LEANDET_FLOAT32) {
                            double want = fmin(fmax(is_max ? best : sum / n, flo), fhi);
                            double got = ((const float *)y.t.data)[o];
                            if (!(fabs(got - want) <= 1e-5 * (fabs(want) + 1)) && bad++ < 3)
                                fprintf(stderr, "%s: [%zu] got %g want %g\n", what, o, got, want);
                        } else {
                            /* average: nearest integer, halves away from zero */
                            double v = is_max ? best : round(sum / n);
                            int want = (int)fmin(fmax(v, qlo), qhi);
                            int got = type == LEANDET_UINT8 ? ((const uint8_t *)y.t.data)[o]
                                                            : ((const int8_t *)y.t.data)[o];
                            if (got != want && bad++ < 3)
                                fprintf(stderr, "%s: [%zu] got %d want %d\n", what, o, got, want);
                        }
                    }
        CHECK_MSG(bad == 0, "%s", what);
    }
    finish_op(&r);
    tt_free(&x);
    tt_free(&y);
}

static void test_pools(void)
{
    const ld_dtype types[3] = { LEANDET_FLOAT32, LEANDET_UINT8, LEANDET_INT8 };
    for (int i = 0; i < 240; i++)
        check_pool(i % 2, types[i / 2 % 3], rnd_int(1, 2), rnd_int(1, 10), rnd_int(1, 10), rnd_int(1, 5),
                   rnd_int(1, 4), rnd_int(1, 4), rnd_int(1, 3), rnd_int(1, 3), rnd_int(0, 1),
                   (ld_activation)(i / 6 % 4));
    /* A window larger than the input. */
    for (int t = 0; t < 3; t++)
        for (int m = 0; m < 2; m++)
            check_pool(m, types[t], 1, 3, 2, 2, 5, 5, 2, 2, 1, LD_ACT_NONE);
}

/* ---- requantization ties -------------------------------------------------- */

/* Rounding choices differ only near ties, which random data rarely hits. So
 * search sums whose output depends on the way TFLite requantizes: uint8
 * CONV_2D rounds twice with the two scales multiplied in float, int8 CONV_2D
 * rounds twice with them multiplied in double, FULLY_CONNECTED rounds once in
 * double. Each is checked against every other way on sums that tell them
 * apart, with 1x1 ops whose input sits at its zero point so that the sum is
 * the bias. */
enum way { TWICE_FLOAT_PRODUCT, TWICE_DOUBLE_PRODUCT, ONCE_DOUBLE_PRODUCT, ONCE_FLOAT_PRODUCT, N_WAYS };

static int64_t requant_way(int way, int64_t acc, float in_s, float w_s, float out_s)
{
    double real_f = (double)(in_s * w_s) / out_s, real_d = (double)in_s * (double)w_s / (double)out_s;
    switch (way) {
    case TWICE_FLOAT_PRODUCT: return ref_requant_conv(acc, real_f);
    case TWICE_DOUBLE_PRODUCT: return ref_requant_conv(acc, real_d);
    case ONCE_DOUBLE_PRODUCT: return (int64_t)round((double)acc * real_d);
    default: return (int64_t)round((double)acc * real_f);
    }
}

/* Scales and up to `max` sums for which ways `truth` and `alt` disagree. */
static int find_ties(int truth, int alt, float *in_s, float *w_s, float *out_s, int32_t *accs, int max)
{
    for (int trial = 0; trial < 2000; trial++) {
        *in_s = rnd_float(0.005f, 0.05f);
        *w_s = rnd_float(0.001f, 0.05f);
        *out_s = rnd_float(0.02f, 0.3f);
        int n = 0;
        int64_t lim = (int64_t)(100.0 / ((double)*in_s * *w_s / *out_s));
        for (int64_t acc = -lim; acc <= lim && n < max; acc++)
            if (requant_way(alt, acc, *in_s, *w_s, *out_s) != requant_way(truth, acc, *in_s, *w_s, *out_s))
                accs[n++] = (int32_t)acc;
        if (n > 0)
            return n;
    }
    return 0;
}

static void check_ties(int builtin, ld_dtype type, int truth, int alt)
{
    float in_s, w_s, out_s;
    int32_t accs[32];
    int n = find_ties(truth, alt, &in_s, &w_s, &out_s, accs, 32);
    CHECK_MSG(n > 0, "no sum tells way %d from way %d", truth, alt);
    if (!n)
        return;
    int fc = builtin == LD_OP_FULLY_CONNECTED, rank = fc ? 2 : 4;
    int xd[4] = { 1, 1, 1, 1 }, wd[4] = { n, 1, 1, 1 }, yd[4] = { 1, 1, 1, n };
    if (fc) { /* x [1, 1], w [n, 1], y [1, n] */
        yd[0] = 1;
        yd[1] = n;
    }
    int32_t xz = type == LEANDET_UINT8 ? 77 : -5, wz = type == LEANDET_UINT8 ? 200 : 0, zero = 0;
    int32_t yz = type == LEANDET_UINT8 ? 128 : 0;
    float b_s = in_s * w_s;
    tt x, w, bias, y;
    tt_make(&x, "x", type, rank, xd, 0);
    tt_make(&w, "w", type, rank, wd, 1);
    tt_make(&bias, "bias", LEANDET_INT32, 1, &n, 1);
    tt_make(&y, "y", type, rank, yd, 0);
    tt_quant(&x, 1, 0, &in_s, &xz);
    tt_quant(&w, 1, 0, &w_s, &wz);
    tt_quant(&bias, 1, 0, &b_s, &zero);
    tt_quant(&y, 1, 0, &out_s, &yz);
    ((uint8_t *)x.t.data)[0] = (uint8_t)xz;
    for (int i = 0; i < n; i++) {
        ((uint8_t *)w.t.data)[i] = (uint8_t)(wz + 1);
        ((int32_t *)bias.t.data)[i] = accs[i];
    }
    ld_op_params p;
    memset(&p, 0, sizeof p);
    if (!fc)
        p.conv = (ld_conv_params){ LD_PAD_VALID, 1, 1, 1, 1, 0, LD_ACT_NONE };
    tt *ins[3] = { &x, &w, &bias };
    run r;
    CHECK(prepare_op(&r, builtin, &p, ins, 3, &y) == LEANDET_OK);
    CHECK(eval_op(&r) == LEANDET_OK);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int got = type == LEANDET_UINT8 ? ((const uint8_t *)y.t.data)[i] : ((const int8_t *)y.t.data)[i];
        bad += got != (int)(requant_way(truth, accs[i], in_s, w_s, out_s) + yz);
    }
    CHECK_MSG(bad == 0, "way %d (against way %d): %d of %d sums differ", truth, alt, bad, n);
    finish_op(&r);
    tt_free(&x);
    tt_free(&w);
    tt_free(&bias);
    tt_free(&y);
}

static void test_requant_ties(void)
{
    for (int alt = 0; alt < N_WAYS; alt++) {
        if (alt != TWICE_FLOAT_PRODUCT)
            check_ties(LD_OP_CONV_2D, LEANDET_UINT8, TWICE_FLOAT_PRODUCT, alt);
        if (alt != TWICE_DOUBLE_PRODUCT)
            check_ties(LD_OP_CONV_2D, LEANDET_INT8, TWICE_DOUBLE_PRODUCT, alt);
        if (alt != ONCE_DOUBLE_PRODUCT) {
            check_ties(LD_OP_FULLY_CONNECTED, LEANDET_UINT8, ONCE_DOUBLE_PRODUCT, alt);
            check_ties(LD_OP_FULLY_CONNECTED, LEANDET_INT8, ONCE_DOUBLE_PRODUCT, alt);
        }
    }
}

/* ---- errors ----------------------------------------------------------------- */

typedef struct conv_fixture {
    tt x, w, bias, y;
    ld_op_params p;
} conv_fixture;

/* A valid uint8 3x3 CONV_2D on [1,5,5,4] -> 6 channels, to be broken. */
static void fixture(conv_fixture *f, ld_dtype type)
{
    int xd[4] = { 1, 5, 5, 4 }, wd[4] = { 6, 3, 3, 4 }, bd = 6, yd[4] = { 1, 5, 5, 6 };
    tt_make(&f->x, "input_image", type, 4, xd, 0);
    tt_make(&f->w, "conv1/weights", type, 4, wd, 1);
    tt_make(&f->bias, "conv1/bias", is_q8(type) ? LEANDET_INT32 : LEANDET_FLOAT32, 1, &bd, 1);
    tt_make(&f->y, "conv1/out", type, 4, yd, 0);
    if (is_q8(type)) {
        float s = 0.05f, ws = 0.01f, bs = s * ws, ys = 0.1f;
        int32_t z = 3, wz = type == LEANDET_UINT8 ? 120 : 0, zero = 0;
        tt_quant(&f->x, 1, 0, &s, &z);
        tt_quant(&f->w, 1, 0, &ws, &wz);
        tt_quant(&f->bias, 1, 0, &bs, &zero);
        tt_quant(&f->y, 1, 0, &ys, &z);
    }
    memset(&f->p, 0, sizeof f->p);
    f->p.conv = (ld_conv_params){ LD_PAD_SAME, 1, 1, 1, 1, 0, LD_ACT_NONE };
}

static void fixture_free(conv_fixture *f)
{
    tt_free(&f->x);
    tt_free(&f->w);
    tt_free(&f->bias);
    tt_free(&f->y);
}

/* Prepare must fail with `want` and a message naming the op and `needle`. */
static void expect_error(conv_fixture *f, int builtin, int n_in, leandet_status want, const char *needle)
{
    tt *ins[3] = { &f->x, &f->w, &f->bias };
    run r;
    leandet_status st = prepare_op(&r, builtin, &f->p, ins, n_in, &f->y);
    CHECK_MSG(st == want, "expected status %d, got %d (%s)", (int)want, (int)st, r.err.message);
    CHECK_MSG(strstr(r.err.message, "op 7 ") == r.err.message, "message lacks op prefix: %s", r.err.message);
    CHECK_MSG(strstr(r.err.message, needle) != NULL, "message '%s' lacks '%s'", r.err.message, needle);
    CHECK(r.c.state == NULL);
    finish_op(&r);
}

static void test_errors(void)
{
    conv_fixture f;

    fixture(&f, LEANDET_UINT8); /* the untouched fixture prepares */
    {
        tt *ins[3] = { &f.x, &f.w, &f.bias };
        run r;
        CHECK(prepare_op(&r, LD_OP_CONV_2D, &f.p, ins, 3, &f.y) == LEANDET_OK);
        finish_op(&r);
    }
    fixture_free(&f);

    fixture(&f, LEANDET_UINT8);
    f.x.t.shape.rank = 3;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "rank 3");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    f.w.t.shape.d[3] = 3; /* 4 input channels cannot be split in groups of 3 */
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "input channels");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    f.bias.t.shape.d[0] = 5;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "conv1/bias");
    fixture_free(&f);

    fixture(&f, LEANDET_UINT8);
    f.bias.q.count = 0;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "no quantization");
    fixture_free(&f);

    fixture(&f, LEANDET_UINT8);
    f.bias.t.type = LEANDET_INT8;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "expected int32");
    fixture_free(&f);

    fixture(&f, LEANDET_INT8);
    {
        float s[3] = { 0.01f, 0.02f, 0.03f };
        int32_t z[3] = { 0, 0, 0 };
        tt_quant(&f.w, 3, 0, s, z); /* 3 scales for 6 channels */
    }
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "3 scales");
    fixture_free(&f);

    fixture(&f, LEANDET_INT8);
    f.w.zp[0] = 4;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_UNSUPPORTED, "zero point 4");
    fixture_free(&f);

    fixture(&f, LEANDET_UINT8);
    f.x.q.count = 0;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "input_image");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    f.w.t.type = LEANDET_INT8; /* dynamic-range hybrid, but the weights have no scale */
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "hybrid");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    f.y.t.type = LEANDET_UINT8;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "conv1/out");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    f.p.conv.stride_h = 0;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "stride");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    f.p.conv.padding = LD_PAD_VALID;
    f.p.conv.dilation_w = 3; /* 3x3 filter dilated to 7 on a 5-wide input */
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_MODEL, "larger than input");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    f.p.conv.act = LD_ACT_TANH;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_UNSUPPORTED, "activation");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    expect_error(&f, LD_OP_CONV_2D, 1, LEANDET_ERR_MODEL, "inputs");
    fixture_free(&f);

    /* DEPTHWISE: weights [1,3,3,6] on 4 input channels: 6 is not a multiple of 4. */
    fixture(&f, LEANDET_FLOAT32);
    f.w.t.shape.d[0] = 1;
    f.w.t.shape.d[3] = 6;
    expect_error(&f, LD_OP_DEPTHWISE_CONV_2D, 3, LEANDET_ERR_MODEL, "multiple");
    fixture_free(&f);

    /* FULLY_CONNECTED: 100 input values are not a whole number of rows of 7. */
    fixture(&f, LEANDET_FLOAT32);
    memset(&f.p, 0, sizeof f.p);
    f.w.t.shape.rank = 2;
    f.w.t.shape.d[0] = 6;
    f.w.t.shape.d[1] = 7;
    expect_error(&f, LD_OP_FULLY_CONNECTED, 3, LEANDET_ERR_MODEL, "rows of 7");
    fixture_free(&f);

    /* Pools: 8-bit input and output must share quantization. */
    fixture(&f, LEANDET_UINT8);
    memset(&f.p, 0, sizeof f.p);
    f.p.pool = (ld_pool_params){ LD_PAD_SAME, 2, 2, 2, 2, LD_ACT_NONE };
    f.y.t.type = LEANDET_UINT8;
    f.y.scale[0] = 0.2f;
    expect_error(&f, LD_OP_MAX_POOL_2D, 1, LEANDET_ERR_UNSUPPORTED, "share quantization");
    fixture_free(&f);

    fixture(&f, LEANDET_FLOAT32);
    memset(&f.p, 0, sizeof f.p);
    f.p.pool = (ld_pool_params){ LD_PAD_SAME, 2, 2, 0, 2, LD_ACT_NONE };
    expect_error(&f, LD_OP_AVERAGE_POOL_2D, 1, LEANDET_ERR_MODEL, "filter width");
    fixture_free(&f);

    /* A requantization scale beyond what a 32-bit shift can apply. */
    fixture(&f, LEANDET_UINT8);
    f.y.scale[0] = 1e-15f; /* 0.05 * 0.01 / 1e-15 = 5e11 > 2^31 */
    expect_error(&f, LD_OP_CONV_2D, 2, LEANDET_ERR_MODEL, "too large");
    fixture_free(&f);

    /* The state allocation fails: a clean error, nothing kept. */
    fixture(&f, LEANDET_INT8);
    fail_at = 0;
    expect_error(&f, LD_OP_CONV_2D, 3, LEANDET_ERR_NO_MEMORY, "state");
    fail_at = -1;
    fixture_free(&f);
}

int main(void)
{
    test_convolutions();
    test_fully_connected();
    test_pools();
    test_requant_ties();
    test_errors();
    return ld_test_finish();
}

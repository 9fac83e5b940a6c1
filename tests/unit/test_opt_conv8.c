/* The x86 8-bit CONV_2D / DEPTHWISE_CONV_2D kernels (ld_avx2_conv8: every
 * entry the CPU can run, AVX2 and AVX-512 VNNI) against the reference
 * kernels: over a sweep of shapes, strides, paddings, dilations, channel
 * counts, activations, uint8/int8 with per-tensor and per-channel weights,
 * random zero points and scales (including requant multipliers above 1 and
 * tiny ones, and sums that wrap around int32), every accepted op must give
 * the same bytes as the reference, run serially and on pools of 1 and 2
 * threads (and 2 in reverse task order). Ops the kernels must leave to the
 * reference (grouped convolutions, depth multipliers above 1, non-constant
 * weights) are checked to be refused, and invalid quantization to fail as
 * the reference fails. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/kernel.h"
#include "kernels/x86/conv8.h"
#include "kernels/x86/x86.h"
#include "runtime/threadpool.h"

static uint32_t rng = 0x9E3779B9u;

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

static double rnd_unit(void)
{
    return (double)(rnd() >> 8) / (double)(1u << 24);
}

/* ---- tensors -------------------------------------------------------- */

#define MAXC 512

typedef struct tt {
    ld_tensor t;
    ld_tensor_desc d;
    ld_quant q;
    float scale[MAXC];
    int32_t zp[MAXC];
} tt;

static void tt_make(tt *x, const char *name, ld_dtype type, int rank, const int *dims, int is_const)
{
    memset(x, 0, sizeof *x);
    x->d.name = name;
    x->t.desc = &x->d;
    x->t.type = type;
    x->t.shape.rank = rank;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        x->t.shape.d[i] = dims[i];
        n *= (size_t)dims[i];
    }
    x->t.bytes = n * leandet_dtype_size(type);
    x->t.data = calloc(x->t.bytes ? x->t.bytes : 1, 1);
    x->t.is_const = is_const;
    x->q.scale = x->scale;
    x->q.zero_point = x->zp;
    x->t.quant = &x->q;
}

static void tt_quant1(tt *x, float scale, int32_t zp)
{
    x->q.count = 1;
    x->scale[0] = scale;
    x->zp[0] = zp;
}

/* ---- the operation -------------------------------------------------- */

typedef struct geo {
    int b, h, w, c;
    int fh, fw, sh, sw, dh, dw, same;
    int oc;
    int groups;  /* CONV_2D */
    int dm;      /* DEPTHWISE_CONV_2D depth multiplier; 0: CONV_2D */
} geo;

typedef struct opcase {
    ld_op_desc op;
    tt x, w, bias, y;
    int has_bias;
} opcase;

typedef enum { BYTES_RANDOM, BYTES_EXTREME } fill_kind;

static void fill_bytes(tt *x, fill_kind kind)
{
    uint8_t *p = x->t.data;
    for (size_t i = 0; i < x->t.bytes; i++)
        p[i] = kind == BYTES_EXTREME ? (uint8_t)(rnd() & 1 ? 0xff : 0x00) : (uint8_t)rnd();
}

/* Builds the op; `real` is the requantization scale in_scale*w_scale/out_scale
 * wanted (per-channel weights vary it per channel). */
static void make_case(opcase *k, ld_dtype type, int per_channel, const geo *g, ld_activation act, int has_bias,
                      double real, fill_kind kind)
{
    memset(&k->op, 0, sizeof k->op);
    int depthwise = g->dm > 0;
    k->op.builtin = depthwise ? LD_OP_DEPTHWISE_CONV_2D : LD_OP_CONV_2D;
    ld_conv_params *p = &k->op.params.conv;
    p->padding = g->same ? LD_PAD_SAME : LD_PAD_VALID;
    p->stride_h = g->sh;
    p->stride_w = g->sw;
    p->dilation_h = g->dh;
    p->dilation_w = g->dw;
    p->depth_multiplier = g->dm;
    p->act = act;
    int xd[4] = { g->b, g->h, g->w, g->c };
    int wd[4] = { g->oc, g->fh, g->fw, g->c / (g->groups ? g->groups : 1) };
    if (depthwise) {
        wd[0] = 1;
        wd[3] = g->oc;
    }
    int yd[4] = { 1, 1, 1, 1 };
    tt_make(&k->x, "x", type, 4, xd, 0);
    tt_make(&k->w, "w", type, 4, wd, 1);
    tt_make(&k->bias, "bias", LEANDET_INT32, 1, &g->oc, 1);
    tt_make(&k->y, "y", type, 4, yd, 0);
    k->has_bias = has_bias;
    fill_bytes(&k->x, kind);
    fill_bytes(&k->w, kind);
    int32_t *bv = k->bias.t.data;
    for (int i = 0; i < g->oc; i++)
        bv[i] = kind == BYTES_EXTREME ? (int32_t)(rnd() | 0x70000000u) : rnd_int(-40000, 40000);

    int is_u8 = type == LEANDET_UINT8;
    float sx = (float)(0.005 + 0.1 * rnd_unit());
    tt_quant1(&k->x, sx, is_u8 ? rnd_int(0, 255) : rnd_int(-128, 127));
    int n = per_channel ? g->oc : 1;
    k->w.q.count = n;
    k->w.q.axis = depthwise ? 3 : 0;
    k->bias.q.count = n;
    for (int i = 0; i < n; i++) {
        k->w.scale[i] = (float)(0.001 + 0.05 * rnd_unit());
        k->w.zp[i] = is_u8 ? rnd_int(0, 255) : 0;
        k->bias.scale[i] = sx * k->w.scale[i];
        k->bias.zp[i] = 0;
    }
    float sy = (float)((double)sx * (double)k->w.scale[0] / real);
    tt_quant1(&k->y, sy, is_u8 ? rnd_int(0, 255) : rnd_int(-128, 127));
}

static void free_case(opcase *k)
{
    free(k->x.t.data);
    free(k->w.t.data);
    free(k->bias.t.data);
    free(k->y.t.data);
}

/* One kernel run on a fresh context; *out receives the output bytes
 * (malloc'd) on success. */
static leandet_status run(const ld_kernel *kern, opcase *k, ld_pool *pool, uint8_t **out, size_t *out_bytes)
{
    ld_tensor *ins[3] = { &k->x.t, &k->w.t, k->has_bias ? &k->bias.t : NULL };
    ld_tensor y = k->y.t;
    ld_tensor *outs[1] = { &y };
    ld_alloc al;
    ld_alloc_init(&al, NULL);
    leandet_error err = { 0 };
    ld_op_ctx c = { 0 };
    c.op = &k->op;
    c.n_in = 3;
    c.n_out = 1;
    c.in = ins;
    c.out = outs;
    c.alloc = &al;
    c.err = &err;
    y.shape.rank = 1;
    y.shape.d[0] = 999;
    leandet_status st = kern->prepare(&c);
    *out = NULL;
    if (st != LEANDET_OK)
        return st;
    size_t n = 1;
    for (int i = 0; i < y.shape.rank; i++)
        n *= (size_t)y.shape.d[i];
    y.data = malloc(n);
    y.bytes = n;
    /* scratch deliberately off 64-byte alignment */
    uint8_t *scratch = malloc(c.scratch_bytes + 8);
    c.scratch = c.scratch_bytes ? scratch + 8 : NULL;
    c.alloc = NULL;
    c.pool = pool;
    long before = al.count;
    st = kern->eval(&c);
    CHECK(al.count == before);
    free(scratch);
    ld_free(&al, c.state);
    CHECK(al.current == 0);
    *out = y.data;
    *out_bytes = n;
    return st;
}

static int opt_accepts(const ld_opt_kernel *o, opcase *k)
{
    ld_tensor *ins[3] = { &k->x.t, &k->w.t, k->has_bias ? &k->bias.t : NULL };
    ld_tensor y = k->y.t;
    ld_tensor *outs[1] = { &y };
    ld_op_ctx c = { 0 };
    c.op = &k->op;
    c.n_in = 3;
    c.n_out = 1;
    c.in = ins;
    c.out = outs;
    return o->accepts(&c);
}

static ld_pool *pools[4];
static int n_pools;
static int n_compared;
static int runs_by_isa[2][8]; /* [depthwise][table entry] */

/* Reference vs every table entry for the op that accepts it; `expect` says
 * whether some entry must take it. */
static void compare(opcase *k, int expect, const char *what)
{
    int any = 0, index = 0;
    for (const ld_opt_kernel *o = ld_avx2_conv8; o->k.builtin >= 0; o++, index++) {
        if (o->k.builtin != k->op.builtin || !opt_accepts(o, k))
            continue;
        any = 1;
        uint8_t *want, *got;
        size_t nw, ng;
        leandet_status sw = run(ld_kernel_find(&k->op), k, NULL, &want, &nw);
        for (int p = 0; p < n_pools; p++) {
            leandet_status sg = run(&o->k, k, pools[p], &got, &ng);
            CHECK_MSG(sg == sw, "%s [%s]: status %d, reference %d", what, o->isa, (int)sg, (int)sw);
            if (sw == LEANDET_OK && sg == LEANDET_OK) {
                size_t first = nw;
                for (size_t i = 0; i < nw && ng == nw; i++)
                    if (want[i] != got[i]) {
                        first = i;
                        break;
                    }
                CHECK_MSG(ng == nw && first == nw,
                          "%s [%s] pool %d: %zu bytes vs %zu, first difference at %zu (%d vs %d)", what, o->isa, p,
                          ng, nw, first, first < nw ? got[first] : -1, first < nw ? want[first] : -1);
                n_compared++;
                if (index < 8)
                    runs_by_isa[k->op.builtin == LD_OP_DEPTHWISE_CONV_2D][index]++;
            }
            free(got);
        }
        free(want);
    }
    CHECK_MSG(any == expect, "%s: taken %d, expected %d", what, any, expect);
}

static const char *tname(ld_dtype t)
{
    return t == LEANDET_UINT8 ? "u8" : "i8";
}

/* Requant scale for outputs spread over about +-100 steps, sometimes a
 * multiplier above 1 (left shift) or a tiny one (long right shift). */
static double pick_real(int k_len)
{
    int r = rnd_int(0, 9);
    if (r == 0)
        return 1.0 + 200.0 * rnd_unit();
    if (r == 1)
        return 1e-8 * (1.0 + rnd_unit());
    return (0.3 + 3.0 * rnd_unit()) * 100.0 / (sqrt((double)k_len) * 10000.0);
}

static void sweep_case(int depthwise)
{
    static const ld_activation acts[4] = { LD_ACT_NONE, LD_ACT_RELU, LD_ACT_RELU6, LD_ACT_RELU_N1_TO_1 };
    geo g = { 0 };
    g.b = rnd_int(1, 2);
    g.h = rnd_int(1, 12);
    g.w = rnd_int(1, 12);
    g.fh = rnd_int(1, 4);
    g.fw = rnd_int(1, 4);
    if (rnd_int(0, 3) == 0)
        g.fh = g.fw = 1;
    g.sh = rnd_int(1, 3);
    g.sw = rnd_int(1, 3);
    g.dh = rnd_int(0, 3) == 0 ? 2 : 1;
    g.dw = rnd_int(0, 3) == 0 ? 2 : 1;
    g.same = rnd_int(0, 1);
    static const int chans[] = { 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 48, 63 };
    g.c = chans[rnd_int(0, (int)(sizeof chans / sizeof chans[0]) - 1)];
    g.oc = depthwise ? g.c : chans[rnd_int(0, (int)(sizeof chans / sizeof chans[0]) - 1)];
    g.groups = 1;
    g.dm = depthwise ? 1 : 0;
    if (!g.same && ((g.fh - 1) * g.dh + 1 > g.h || (g.fw - 1) * g.dw + 1 > g.w))
        g.same = 1;
    ld_dtype type = rnd_int(0, 1) ? LEANDET_UINT8 : LEANDET_INT8;
    int per_channel = type == LEANDET_INT8 && rnd_int(0, 1);
    ld_activation act = acts[rnd_int(0, 3)];
    opcase k;
    make_case(&k, type, per_channel, &g, act, rnd_int(0, 4) != 0, pick_real(g.fh * g.fw * (depthwise ? 1 : g.c)),
              rnd_int(0, 15) == 0 ? BYTES_EXTREME : BYTES_RANDOM);
    char what[200];
    snprintf(what, sizeof what, "%s %s%s b%d %dx%dx%d f%dx%d s%d,%d d%d,%d %s oc%d act%d", depthwise ? "dw" : "conv",
             tname(type), per_channel ? "/pc" : "", g.b, g.h, g.w, g.c, g.fh, g.fw, g.sh, g.sw, g.dh, g.dw,
             g.same ? "SAME" : "VALID", g.oc, (int)act);
    compare(&k, 1, what);
    free_case(&k);
}

/* Shapes of the real models (smaller spatially), where the fast paths run. */
static void model_like(void)
{
    static const geo shapes[] = {
        /* b  h   w   c  fh fw sh sw dh dw same oc grp dm */
        { 1, 17, 13, 3, 3, 3, 2, 2, 1, 1, 1, 24, 1, 0 },    /* first layer, SAME stride 2 */
        { 1, 9, 11, 24, 1, 1, 1, 1, 1, 1, 1, 48, 1, 0 },    /* pointwise */
        { 1, 7, 7, 192, 1, 1, 1, 1, 1, 1, 1, 273, 1, 0 },   /* wide pointwise, odd out */
        { 1, 5, 6, 96, 3, 3, 2, 2, 1, 1, 1, 192, 1, 0 },    /* 3x3 stride 2 */
        { 1, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 16, 1, 0 },   /* yolo 3x3 */
        { 1, 11, 11, 3, 3, 3, 2, 2, 1, 1, 0, 16, 1, 0 },    /* yolo first, VALID on padded */
        { 1, 4, 12, 16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 },     /* yolo DFL-like 1 output channel */
        { 1, 12, 12, 24, 3, 3, 1, 1, 1, 1, 1, 24, 1, 1 },   /* depthwise */
        { 1, 12, 13, 48, 3, 3, 2, 2, 1, 1, 1, 48, 1, 1 },   /* depthwise stride 2 */
        { 2, 6, 5, 384, 3, 3, 1, 1, 1, 1, 1, 384, 1, 1 },   /* wide depthwise */
        { 1, 23, 21, 8, 3, 3, 1, 1, 1, 1, 1, 16, 1, 0 },    /* several chunks, rows split between tasks */
        { 1, 37, 29, 4, 3, 3, 2, 1, 2, 1, 1, 40, 1, 0 },    /* the same with strides and dilation */
        { 2, 31, 19, 12, 1, 1, 1, 1, 1, 1, 1, 20, 1, 0 },   /* pointwise over several chunks */
        { 1, 21, 23, 20, 3, 3, 1, 2, 1, 1, 0, 20, 1, 1 },   /* depthwise rows split between tasks */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int t = 0; t < 3; t++) {
            ld_dtype type = t == 0 ? LEANDET_UINT8 : LEANDET_INT8;
            opcase k;
            const geo *g = &shapes[i];
            int klen = g->fh * g->fw * (g->dm ? 1 : g->c);
            make_case(&k, type, t == 2, g, t == 0 ? LD_ACT_RELU6 : LD_ACT_NONE, 1, pick_real(klen), BYTES_RANDOM);
            char what[64];
            snprintf(what, sizeof what, "model-like shape %zu type %d", i, t);
            compare(&k, 1, what);
            free_case(&k);
        }
    }
}

/* CONV_2D with a fused 8-bit table on its output (CONV_2D + SiLU,
 * ld_conv8_eval_lut): each entry's own output looked up byte by byte, on
 * every pool; under the reverse pool, one tile's channel blocks go to
 * different tasks, each applying the table to its own columns. */
static uint8_t test_lut[256];

static leandet_status eval_with_lut(ld_op_ctx *c)
{
    return ld_conv8_eval_lut(c, test_lut);
}

static void lut_cases(void)
{
    for (int i = 0; i < 256; i++)
        test_lut[i] = (uint8_t)(rnd() & 0xff);
    static const geo shapes[] = {
        /* b  h   w   c  fh fw sh sw dh dw same oc grp dm */
        { 1, 2, 3, 64, 1, 1, 1, 1, 1, 1, 1, 273, 1, 0 },  /* one tile, five channel blocks */
        { 1, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 16, 1, 0 }, /* yolo 3x3 */
        { 1, 23, 21, 8, 3, 3, 1, 1, 1, 1, 1, 40, 1, 0 },  /* rows split between tasks */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int t = 0; t < 2; t++) {
            opcase k;
            const geo *g = &shapes[i];
            make_case(&k, t ? LEANDET_INT8 : LEANDET_UINT8, t, g, LD_ACT_NONE, 1, pick_real(g->fh * g->fw * g->c),
                      BYTES_RANDOM);
            int index = 0;
            for (const ld_opt_kernel *o = ld_avx2_conv8; o->k.builtin >= 0; o++, index++) {
                if (o->k.builtin != LD_OP_CONV_2D || !opt_accepts(o, &k))
                    continue;
                CHECK(ld_conv8_is_conv(&o->k));
                uint8_t *want, *got;
                size_t nw, ng;
                CHECK(run(&o->k, &k, NULL, &want, &nw) == LEANDET_OK);
                for (size_t b = 0; b < nw; b++)
                    want[b] = test_lut[want[b]];
                const ld_kernel with_lut = { LD_OP_CONV_2D, NULL, o->k.prepare, eval_with_lut };
                for (int p = 0; p < n_pools; p++) {
                    CHECK(run(&with_lut, &k, pools[p], &got, &ng) == LEANDET_OK);
                    CHECK_MSG(ng == nw && memcmp(want, got, nw) == 0, "CONV_2D + table, shape %zu type %d [%s] pool %d",
                              i, t, o->isa, p);
                    free(got);
                }
                free(want);
            }
            free_case(&k);
        }
}

/* Sums far outside int32: a long 1x1 patch of extreme bytes; the kernel
 * must wrap exactly as the reference's accumulator. Plus biases near the
 * int32 limits. */
static void wrapping(void)
{
    geo g = { 1, 2, 1, 70000, 1, 1, 1, 1, 1, 1, 0, 3, 1, 0 };
    for (int t = 0; t < 2; t++) {
        ld_dtype type = t ? LEANDET_INT8 : LEANDET_UINT8;
        opcase k;
        make_case(&k, type, 0, &g, LD_ACT_NONE, 1, 1.0 + rnd_unit(), BYTES_EXTREME);
        memset(k.x.t.data, type == LEANDET_UINT8 ? 0xff : 0x80, k.x.t.bytes);
        memset(k.w.t.data, type == LEANDET_UINT8 ? 0xff : 0x80, k.w.t.bytes);
        k.x.zp[0] = type == LEANDET_UINT8 ? 0 : 127;
        k.w.zp[0] = 0;
        compare(&k, 1, "wrapping sum");
        free_case(&k);
    }
}

/* What the kernels must leave to the reference, and errors they must share. */
static void refusals(void)
{
    opcase k;
    geo grouped = { 1, 5, 5, 8, 3, 3, 1, 1, 1, 1, 1, 8, 2, 0 };
    make_case(&k, LEANDET_UINT8, 0, &grouped, LD_ACT_NONE, 1, 0.01, BYTES_RANDOM);
    compare(&k, 0, "grouped conv");
    free_case(&k);

    geo mult = { 1, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 8, 1, 2 };
    make_case(&k, LEANDET_INT8, 0, &mult, LD_ACT_NONE, 1, 0.01, BYTES_RANDOM);
    compare(&k, 0, "depth multiplier 2");
    free_case(&k);

    geo big = { 1, 9, 9, 4, 8, 8, 1, 1, 1, 1, 1, 4, 1, 1 };
    make_case(&k, LEANDET_INT8, 0, &big, LD_ACT_NONE, 1, 0.01, BYTES_RANDOM);
    compare(&k, 0, "depthwise 8x8 (more taps than supported)");
    free_case(&k);

    geo plain = { 1, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 6, 1, 0 };
    make_case(&k, LEANDET_INT8, 0, &plain, LD_ACT_NONE, 1, 0.01, BYTES_RANDOM);
    k.w.t.is_const = 0;
    compare(&k, 0, "non-constant weights");
    k.w.t.is_const = 1;
    k.w.zp[0] = 3; /* int8 weights must be symmetric: both refuse in prepare */
    compare(&k, 1, "int8 weights with a zero point");
    k.w.zp[0] = 0;
    k.op.params.conv.act = LD_ACT_TANH;
    compare(&k, 1, "unsupported activation");
    free_case(&k);
}

int main(void)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("no AVX2+FMA on this CPU: nothing to test\n");
        return ld_test_finish();
    }
    leandet_error err = { 0 };
    ld_alloc al;
    ld_alloc_init(&al, NULL);
    pools[n_pools++] = NULL;
    /* 1 and 2 threads; then 2 threads with the pool's reverse-order hook,
     * under which tasks that overlap would differ every time */
    for (int i = 0; i < 3; i++) {
        ld_pool *p = NULL;
        int threads = i == 0 ? 1 : 2;
        if (ld_pool_create(threads, NULL, 0, &al, &p, &err) != LEANDET_OK) {
            printf("no pool of %d threads (%s): not tested\n", threads, err.message);
            continue;
        }
        if (i == 2)
            ld_pool_set_reverse(p, 1);
        pools[n_pools++] = p;
    }
    model_like();
    lut_cases();
    wrapping();
    refusals();
    for (int i = 0; i < 150; i++)
        sweep_case(0);
    for (int i = 0; i < 120; i++)
        sweep_case(1);
    printf("%d kernel runs compared\n", n_compared);
    int index = 0;
    for (const ld_opt_kernel *o = ld_avx2_conv8; o->k.builtin >= 0 && index < 8; o++, index++)
        printf("  entry %d (%s %s): %d runs\n", index, o->k.builtin == LD_OP_CONV_2D ? "CONV_2D" : "DEPTHWISE_CONV_2D",
               o->isa, runs_by_isa[o->k.builtin == LD_OP_DEPTHWISE_CONV_2D][index]);
    for (int p = 0; p < n_pools; p++)
        ld_pool_destroy(pools[p]);
    return ld_test_finish();
}

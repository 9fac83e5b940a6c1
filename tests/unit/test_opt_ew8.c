/* The 8-bit elementwise kernels (ld_avx2_ew8, with its AVX-512 rows) against the reference
 * kernels, byte for byte, on random uint8/int8 data and random quantization:
 * MUL/ADD/SUB on equal shapes and on the broadcasts detection models use
 * (scalar, leading ones, repeated rows and columns), the table-driven unary
 * ops over every input byte, and SOFTMAX on short and long rows including a
 * row whose sum overflows (both must fail alike), and QUANTIZE from float
 * (ties, NaN, infinities, beyond the range). Each case also runs on a
 * 3-thread pool in reverse task order, which must not change a byte. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "op_case.h"
#include "kernels/opt.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/x86.h"
#include "runtime/threadpool.h"

static uint32_t rng = 0x1234567u;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static float rnd_log(float lo, float hi) /* log-uniform in [lo, hi] */
{
    const float u = (float)(rnd() & 0xffffff) / 16777216.0f;
    return expf(logf(lo) + u * (logf(hi) - logf(lo)));
}

static int32_t rnd_zp(ld_dtype t)
{
    return (int32_t)(rnd() % 256) - (t == LEANDET_INT8 ? 128 : 0);
}

static ld_pool *pool3;
static int accepted_total;

/* The first entry for builtin at or after `from` (NULL: none). */
static const ld_opt_kernel *entry_from(const ld_opt_kernel *from, int builtin)
{
    for (const ld_opt_kernel *k = from; k->k.builtin >= 0; k++)
        if (k->k.builtin == builtin)
            return k;
    return NULL;
}

static const ld_opt_kernel *entry(int builtin)
{
    return entry_from(ld_avx2_ew8, builtin);
}

/* The AVX2 entry, which every CPU these tests run on has. */
static const ld_opt_kernel *avx2_entry(int builtin)
{
    const ld_opt_kernel *k = entry(builtin);
    while (k && strcmp(k->isa, "avx2") != 0)
        k = entry_from(k + 1, builtin);
    return k;
}

static int compare_one(const ld_op_desc *op, const ld_opt_kernel *opt, tt **ins, int n_in, const tt *out,
                       const char *what);

/* Reference vs every entry for the op (AVX-512 and AVX2 rows of MUL/ADD/SUB)
 * on the same operands; returns whether any took it. */
static int compare(const ld_op_desc *op, tt **ins, int n_in, const tt *out, const char *what)
{
    const ld_opt_kernel *opt = entry(op->builtin);
    CHECK(opt != NULL);
    int took = 0;
    for (; opt; opt = entry_from(opt + 1, op->builtin))
        took |= compare_one(op, opt, ins, n_in, out, what);
    return took;
}

static int compare_one(const ld_op_desc *op, const ld_opt_kernel *opt, tt **ins, int n_in, const tt *out,
                       const char *what)
{
    const ld_kernel *ref = ld_kernel_find(op);
    CHECK(ref != NULL);
    if (!ref)
        return 0;
    run a, b;
    ld_tensor *ts[2];
    for (int i = 0; i < n_in && i < 2; i++)
        ts[i] = &ins[i]->t;
    run_init(&a, op, ts, n_in, out);
    run_init(&b, op, ts, n_in, out);
    const int took = opt->accepts(&b.c);
    if (took) {
        accepted_total++;
        const leandet_status sa = run_prepare(&a, ref), sb = run_prepare(&b, &opt->k);
        CHECK_MSG(sa == sb, "%s: reference prepare %d, optimized %d (%s)", what, sa, sb, b.err.message);
        if (sa == LEANDET_OK && sb == LEANDET_OK) {
            CHECK_MSG(a.o.shape.rank == b.o.shape.rank &&
                          !memcmp(a.o.shape.d, b.o.shape.d, sizeof(int32_t) * (size_t)a.o.shape.rank),
                      "%s: output shapes differ", what);
            const leandet_status ea = run_eval(&a, ref, NULL), eb = run_eval(&b, &opt->k, NULL);
            CHECK_MSG(ea == eb, "%s: reference eval %d, optimized %d (%s)", what, ea, eb, b.err.message);
            if (ea == LEANDET_OK && eb == LEANDET_OK) {
                size_t bad = a.o.bytes;
                for (size_t i = 0; i < a.o.bytes && bad == a.o.bytes; i++)
                    if (((uint8_t *)a.o.data)[i] != ((uint8_t *)b.o.data)[i])
                        bad = i;
                CHECK_MSG(bad == a.o.bytes, "%s: byte %zu of %zu differs: reference %d, optimized %d", what, bad,
                          a.o.bytes, bad < a.o.bytes ? ((uint8_t *)a.o.data)[bad] : 0,
                          bad < a.o.bytes ? ((uint8_t *)b.o.data)[bad] : 0);
            }
            if (pool3 && eb == LEANDET_OK) {
                memset(b.o.data, 0x5a, b.o.bytes);
                CHECK(run_eval(&b, &opt->k, pool3) == LEANDET_OK);
                CHECK_MSG(b.o.bytes == 0 || !memcmp(a.o.data, b.o.data, b.o.bytes), "%s: threaded result differs",
                          what);
            }
        }
    }
    run_free(&a);
    run_free(&b);
    return took;
}

/* ---- MUL, ADD, SUB ---------------------------------------------------- */

static const ld_activation acts[] = { LD_ACT_NONE, LD_ACT_RELU, LD_ACT_RELU6, LD_ACT_RELU_N1_TO_1 };

static void binary_case(int builtin, ld_dtype t, int ra, const int *da, int rb, const int *db, int *took)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.params.arith.act = (rnd() % 3) ? LD_ACT_NONE : acts[rnd() % 4];
    tt a, b, o;
    const float sa = rnd_log(1e-4f, 0.5f), sb = rnd_log(1e-4f, 0.5f);
    /* output scales around the product (MUL) or the larger input (ADD/SUB) */
    const float so = builtin == LD_OP_MUL ? sa * sb * 256.0f * rnd_log(0.02f, 2.0f)
                                          : (sa > sb ? sa : sb) * rnd_log(0.5f, 4.0f);
    tt_make(&a, t, ra, da, sa, rnd_zp(t));
    tt_make(&b, t, rb, db, sb, rnd_zp(t));
    tt_make(&o, t, 1, (int[]){ 1 }, so, rnd_zp(t));
    tt *ins[2] = { &a, &b };
    char what[160];
    snprintf(what, sizeof what, "%s %s ranks %d/%d dims %d.. %d.. scales %g %g %g act %d",
             builtin == LD_OP_MUL ? "MUL" : builtin == LD_OP_ADD ? "ADD" : "SUB", leandet_dtype_name(t), ra, rb,
             da[0], db[0], (double)sa, (double)sb, (double)so, (int)op.params.arith.act);
    *took += compare(&op, ins, 2, &o, what);
    free(a.t.data);
    free(b.t.data);
    free(o.t.data);
}

static void sweep_binary(void)
{
    static const int ops[] = { LD_OP_MUL, LD_OP_ADD, LD_OP_SUB };
    static const int lens[] = { 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 40000 };
    int took = 0, cases = 0;
    for (int o = 0; o < 3; o++)
        for (int ti = 0; ti < 2; ti++) {
            const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++, cases++) /* equal shapes */
                binary_case(ops[o], t, 2, (int[]){ 1, lens[l] }, 2, (int[]){ 1, lens[l] }, &took);
            /* yolov8n's broadcasts, scaled down: a scalar, leading ones */
            binary_case(ops[o], t, 3, (int[]){ 1, 2, 840 }, 3, (int[]){ 1, 1, 1 }, &took);
            binary_case(ops[o], t, 1, (int[]){ 1 }, 3, (int[]){ 1, 2, 37 }, &took);
            binary_case(ops[o], t, 4, (int[]){ 1, 1, 4, 840 }, 3, (int[]){ 1, 4, 840 }, &took);
            /* repeated rows, columns and both */
            binary_case(ops[o], t, 3, (int[]){ 3, 5, 7 }, 2, (int[]){ 5, 1 }, &took);
            binary_case(ops[o], t, 3, (int[]){ 4, 1, 19 }, 3, (int[]){ 1, 6, 1 }, &took);
            binary_case(ops[o], t, 2, (int[]){ 1, 23 }, 2, (int[]){ 9, 23 }, &took);
            binary_case(ops[o], t, 4, (int[]){ 2, 40, 40, 16 }, 4, (int[]){ 1, 1, 1, 16 }, &took);
            binary_case(ops[o], t, 2, (int[]){ 0, 5 }, 2, (int[]){ 1, 5 }, &took);
            cases += 8;
        }
    CHECK_MSG(took > cases / 2, "the optimized MUL/ADD/SUB took only %d of %d cases", took, cases);
}

/* An output scale far below the product of the input scales needs a
 * multiplier above one: the vector form refuses it (the reference runs). */
static void binary_refusal(void)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = LD_OP_MUL;
    tt a, b, o;
    tt_make(&a, LEANDET_INT8, 1, (int[]){ 8 }, 0.5f, 0);
    tt_make(&b, LEANDET_INT8, 1, (int[]){ 8 }, 0.5f, 0);
    tt_make(&o, LEANDET_INT8, 1, (int[]){ 1 }, 0.01f, 0);
    ld_tensor *ins[2] = { &a.t, &b.t };
    run r;
    run_init(&r, &op, ins, 2, &o);
    CHECK(!avx2_entry(LD_OP_MUL)->accepts(&r.c));
    o.scale = 0.5f;
    run_init(&r, &op, ins, 2, &o);
    CHECK(avx2_entry(LD_OP_MUL)->accepts(&r.c));
    free(a.t.data);
    free(b.t.data);
    free(o.t.data);
}

/* ---- table-driven unary ops ------------------------------------------- */

static void unary_case(int builtin, ld_dtype t, int n)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    tt a, o;
    tt_make(&a, t, 2, (int[]){ 1, n }, rnd_log(0.005f, 0.5f), rnd_zp(t));
    for (int i = 0; i < n && i < 256; i++) /* every byte at least once */
        ((uint8_t *)a.t.data)[i] = (uint8_t)i;
    float so = rnd_log(0.005f, 0.5f);
    int32_t zo = rnd_zp(t);
    if (builtin == LD_OP_LOGISTIC) {
        so = 1.0f / 256;
        zo = t == LEANDET_INT8 ? -128 : 0;
    }
    tt_make(&o, t, 1, (int[]){ 1 }, so, zo);
    tt *ins[1] = { &a };
    char what[96];
    snprintf(what, sizeof what, "unary op %d %s n %d", builtin, leandet_dtype_name(t), n);
    CHECK_MSG(compare(&op, ins, 1, &o, what), "%s: not accepted", what);
    free(a.t.data);
    free(o.t.data);
}

static void sweep_unary(void)
{
    static const int ops[] = { LD_OP_LOGISTIC, LD_OP_TANH, LD_OP_RELU, LD_OP_RELU6, LD_OP_HARD_SWISH, LD_OP_QUANTIZE };
    static const int lens[] = { 0, 1, 31, 32, 33, 256, 300, 70001 };
    for (int o = 0; o < 6; o++)
        for (int ti = 0; ti < 2; ti++)
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
                unary_case(ops[o], ti ? LEANDET_INT8 : LEANDET_UINT8, lens[l]);
}

/* ---- SOFTMAX ------------------------------------------------------------ */

static void softmax_case(ld_dtype t, int rows, int depth, float beta, float in_scale, int flat)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = LD_OP_SOFTMAX;
    op.params.softmax.beta = beta;
    tt a, o;
    tt_make(&a, t, 3, (int[]){ 1, rows, depth }, in_scale, rnd_zp(t));
    if (flat) /* equal values: the largest possible sum */
        memset(a.t.data, 7, a.t.bytes);
    tt_make(&o, t, 1, (int[]){ 1 }, 1.0f / 256, t == LEANDET_INT8 ? -128 : 0);
    tt *ins[1] = { &a };
    char what[128];
    snprintf(what, sizeof what, "SOFTMAX %s [%d,%d] beta %g scale %g%s", leandet_dtype_name(t), rows, depth,
             (double)beta, (double)in_scale, flat ? " flat" : "");
    CHECK_MSG(compare(&op, ins, 1, &o, what), "%s: not accepted", what);
    free(a.t.data);
    free(o.t.data);
}

static void sweep_softmax(void)
{
    for (int ti = 0; ti < 2; ti++) {
        const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
        softmax_case(t, 2100, 16, 1.0f, 0.2211903f, 0); /* yolov8n's DFL, fewer rows */
        softmax_case(t, 33, 16, 1.0f, 0.1f, 1); /* equal values: the largest sum of 16, 16 rows at a time */
        softmax_case(t, 5, 1, 1.0f, 0.1f, 0);
        softmax_case(t, 37, 3, 1.0f, 0.05f, 0);
        softmax_case(t, 9, 91, 0.7f, 0.3f, 0);
        softmax_case(t, 4, 300, 1.0f, 0.02f, 0);
        softmax_case(t, 2, 2000, 1.0f, 0.02f, 1); /* sum overflows: both fail */
        for (int k = 0; k < 6; k++)
            softmax_case(t, 1 + (int)(rnd() % 50), 1 + (int)(rnd() % 40), rnd_log(0.25f, 4.0f),
                         rnd_log(0.01f, 2.0f), 0);
    }
}

/* ---- QUANTIZE float32 -> 8-bit ------------------------------------------- */

/* Random floats across and beyond the output range, exact halves of the
 * scale (round half away from zero), NaN, infinities, huge values, signed
 * zeros and subnormals. */
static void quantize_case(ld_dtype t, int n, float scale, int32_t zp)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = LD_OP_QUANTIZE;
    tt a, o;
    tt_make(&a, t, 2, (int[]){ 1, n }, 1.0f, 0); /* then made float below */
    free(a.t.data);
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
    static const float special[] = { NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 0.0f, -0.0f, 1e-40f, -1e-40f };
    for (int i = 0; i < n; i++) {
        const uint32_t kind = rnd() % 8;
        const float k = (float)((int)(rnd() % 600) - 300);
        if (kind == 0)
            x[i] = special[rnd() % 9];
        else if (kind < 3)
            x[i] = (k + 0.5f) * scale; /* a tie, or next to one after the division */
        else
            x[i] = ((float)(rnd() & 0xffff) / 65536.0f - 0.5f) * 600.0f * scale;
    }
    a.t.type = LEANDET_FLOAT32;
    a.t.data = x;
    a.t.bytes = sizeof(float) * (size_t)n;
    a.q.count = 0;
    tt_make(&o, t, 1, (int[]){ 1 }, scale, zp);
    tt *ins[1] = { &a };
    char what[96];
    snprintf(what, sizeof what, "QUANTIZE -> %s n %d scale %g zp %d", leandet_dtype_name(t), n, (double)scale,
             (int)zp);
    CHECK_MSG(compare(&op, ins, 1, &o, what), "%s: not accepted", what);
    free(x);
    free(o.t.data);
}

static void sweep_quantize(void)
{
    static const int lens[] = { 0, 1, 7, 8, 9, 100, 270000 };
    for (int ti = 0; ti < 2; ti++) {
        const ld_dtype t = ti ? LEANDET_INT8 : LEANDET_UINT8;
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
            quantize_case(t, lens[l], rnd_log(0.001f, 2.0f), rnd_zp(t));
        quantize_case(t, 1000, 1.0f / 255, ti ? -128 : 0); /* an image input in [0, 1] */
        quantize_case(t, 1000, 3.0e-39f, rnd_zp(t));         /* a subnormal scale */
    }
}

/* The table lookup both ways (AVX2 pshufb rows; AVX-512 VBMI permutes
 * where the CPU has them) against the plain loop: every length to 300,
 * at unaligned offsets, every byte value, tails of every size. */
static void sweep_lut_paths(void)
{
    uint8_t lut[256], x[320], y[320];
    for (int i = 0; i < 256; i++)
        lut[i] = (uint8_t)(rand() & 0xff);
    int paths = ld_ew8_has_vbmi() ? 2 : 1;
    for (int vbmi = 0; vbmi < paths; vbmi++)
        for (size_t n = 0; n <= 300; n++) {
            size_t off = n % 7;
            for (size_t i = 0; i < n; i++)
                x[off + i] = (uint8_t)(i < 256 ? (unsigned)i : (unsigned)rand());
            memset(y, 0xA5, sizeof y);
            ld_ew8_lut_apply(lut, x + off, y + off, n, vbmi);
            int ok = 1;
            for (size_t i = 0; i < n; i++)
                ok &= y[off + i] == lut[x[off + i]];
            for (size_t i = 0; i < off; i++)
                ok &= y[i] == 0xA5;                       /* nothing written before */
            for (size_t i = off + n; i < sizeof y; i++)
                ok &= y[i] == 0xA5;                       /* nor after */
            CHECK_MSG(ok, "table lookup (%s) of %zu bytes at offset %zu", vbmi ? "VBMI" : "AVX2", n, off);
        }
    printf("table lookup: %s checked\n", paths == 2 ? "AVX2 and AVX-512 VBMI" : "AVX2 (no VBMI here)");
}

int main(void)
{
    int have = 0;
    for (const ld_opt_kernel *const *f = ld_opt_families(); *f; f++)
        have |= *f == ld_avx2_ew8;
    if (!have) {
        printf("this CPU lacks AVX2+FMA: nothing to test\n");
        return ld_test_finish();
    }
    ld_alloc pool_alloc;
    leandet_error err = { 0 };
    ld_alloc_init(&pool_alloc, NULL);
    if (ld_pool_create(3, NULL, 0, &pool_alloc, &pool3, &err) != LEANDET_OK) {
        printf("no thread pool (%s): serial runs only\n", err.message);
        pool3 = NULL;
    } else {
        ld_pool_set_reverse(pool3, 1);
    }
    sweep_binary();
    binary_refusal();
    sweep_unary();
    sweep_lut_paths();
    sweep_softmax();
    sweep_quantize();
    ld_pool_destroy(pool3);
    printf("%d cases taken by the optimized kernels\n", accepted_total);
    return ld_test_finish();
}

/* The move family (ld_avx2_move: PAD/PADV2, 8-bit MAX_POOL_2D, float
 * RELU/RELU6 and RESIZE_BILINEAR) and the SiLU fusion (ld_fuse_silu) against the reference
 * kernels: byte for byte for every type except the float SiLU (within 1e-6
 * relative + 1e-7 absolute).
 * Sweeps: PAD over ranks 1..5, float32/int8/uint8/int16/int32, paddings 0..3
 * per dim (mostly zero, as in models), PADV2 with a constant value, empty
 * dims; MAX_POOL_2D over sizes, channels 1..70 (tails of the 32-byte
 * vector), filters, strides, SAME/VALID, activations and quantization;
 * float RELU/RELU6 with NaN, signed zeros, infinities and the 6 boundary;
 * float RESIZE_BILINEAR over sizes, depths and the three coordinate modes;
 * CONCATENATION (8-bit requantized, 8-bit and float copies) over ranks, axes, input counts, quantizations and
 * activations;
 * SiLU on every 8-bit input byte for random quantizations and on random
 * floats, plus pairs that must not fuse. Each case also runs on a 3-thread
 * pool in reverse task order, which must not change a byte. Finally real
 * models give the same output bytes with and without their pairs fused:
 * yolov8n (int8 SiLU), BlazeFace (ADD+RELU), palm (ADD+PRELU). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "op_case.h"
#include "kernels/opt.h"
#include "kernels/x86/move.h"
#include "leandet.h"
#include "runtime/session_internal.h"
#include "runtime/threadpool.h"

static uint32_t rng = 0x2545F491u;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int rnd_in(int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

static float rnd_unit(void)
{
    return (float)(rnd() & 0xffffff) / 16777216.0f;
}

static ld_pool *pool3;
static int accepted_total;

static const ld_opt_kernel *find_opt(const ld_op_ctx *c)
{
    for (const ld_opt_kernel *k = ld_avx2_move; k->k.builtin >= 0; k++)
        if (k->k.builtin == c->op->builtin && k->accepts(c))
            return k;
    return NULL;
}

/* Reference vs the optimized kernel (serial and on the pool): identical
 * status, shape and bytes. Returns whether the optimized kernel took it. */
static int compare(const ld_op_desc *op, ld_tensor **ins, int n_in, const tt *out, const char *what)
{
    run ref, opt;
    run_init(&ref, op, ins, n_in, out);
    run_init(&opt, op, ins, n_in, out);
    const ld_opt_kernel *k = find_opt(&opt.c);
    if (!k) {
        run_free(&ref);
        run_free(&opt);
        return 0;
    }
    accepted_total++;
    const ld_kernel *rk = ld_kernel_find(op);
    leandet_status s1 = run_prepare(&ref, rk), s2 = run_prepare(&opt, &k->k);
    CHECK_MSG(s1 == s2, "%s: prepare status %d vs %d (%s)", what, (int)s1, (int)s2, opt.err.message);
    if (s1 == LEANDET_OK && s2 == LEANDET_OK) {
        CHECK_MSG(memcmp(&ref.o.shape, &opt.o.shape, sizeof ref.o.shape) == 0, "%s: output shape", what);
        CHECK(run_eval(&ref, rk, NULL) == LEANDET_OK);
        for (int pass = 0; pass < 2; pass++) {
            CHECK(run_eval(&opt, &k->k, pass ? pool3 : NULL) == LEANDET_OK);
            CHECK_MSG(memcmp(ref.o.data, opt.o.data, ref.o.bytes) == 0, "%s: bytes differ (%s)", what,
                      pass ? "3-thread pool" : "serial");
            memset(opt.o.data, 0x5A, opt.o.bytes);
        }
    }
    run_free(&ref);
    run_free(&opt);
    return 1;
}

/* ---- PAD / PADV2 ----------------------------------------------------------- */

static const ld_dtype pad_types[] = { LEANDET_FLOAT32, LEANDET_INT8, LEANDET_UINT8, LEANDET_INT16, LEANDET_INT32 };

static void pad_case(ld_dtype type, int rank, const int *dims, const int32_t *pads, int v2)
{
    tt x, p, cv, out;
    int pd[2] = { rank, 2 }, one = 1;
    tt_make(&x, type, rank, dims, 0.05f, rnd_in(-20, 20));
    tt_const_ints(&p, pads, 2, pd);
    tt_make(&cv, type, 1, &one, x.scale, x.zp);
    cv.t.is_const = 1;
    tt_make(&out, type, rank, dims, x.scale, type == LEANDET_INT8 ? rnd_in(-128, 127) : rnd_in(0, 255));
    ld_op_desc op = { 0 };
    op.builtin = v2 ? LD_OP_PADV2 : LD_OP_PAD;
    ld_tensor *ins[3] = { &x.t, &p.t, &cv.t };
    char what[160];
    int at = snprintf(what, sizeof what, "%s %s rank %d dims", v2 ? "PADV2" : "PAD", leandet_dtype_name(type), rank);
    for (int k = 0; k < rank && at > 0 && (size_t)at < sizeof what; k++)
        at += snprintf(what + at, sizeof what - (size_t)at, " %d(+%d,%d)", dims[k], (int)pads[2 * k],
                       (int)pads[2 * k + 1]);
    CHECK_MSG(compare(&op, ins, v2 ? 3 : 2, &out, what), "%s: not accepted", what);
    tt_free(&x);
    tt_free(&p);
    tt_free(&cv);
    tt_free(&out);
}

static void sweep_pad(void)
{
    for (int i = 0; i < 300; i++) {
        int rank = rnd_in(1, 5), dims[5];
        int32_t pads[10];
        for (int k = 0; k < rank; k++) {
            dims[k] = rnd_in(i % 37 == 0 ? 0 : 1, k + 1 == rank ? 9 : 6);
            int padded = rnd() % 3 == 0;
            pads[2 * k] = padded ? rnd_in(0, 3) : 0;
            pads[2 * k + 1] = padded ? rnd_in(0, 3) : 0;
        }
        pad_case(pad_types[i % 5], rank, dims, pads, i % 4 == 3);
    }
    /* Model shapes: NHWC padded in H and W (before stride-2 convs), in
     * channels only (BlazeFace residuals), and nowhere. */
    const int img[4] = { 1, 17, 23, 3 }, feat[4] = { 1, 8, 8, 24 };
    const int32_t hw[8] = { 0, 0, 1, 1, 1, 1, 0, 0 }, tl[8] = { 0, 0, 0, 1, 0, 1, 0, 0 },
                  ch[8] = { 0, 0, 0, 0, 0, 0, 0, 24 }, none[8] = { 0 };
    for (int t = 0; t < 3; t++) {
        pad_case(pad_types[t], 4, img, hw, 0);
        pad_case(pad_types[t], 4, img, tl, 0);
        pad_case(pad_types[t], 4, feat, ch, 0);
        pad_case(pad_types[t], 4, feat, none, 0);
    }
}

static const ld_activation acts[] = { LD_ACT_NONE, LD_ACT_RELU, LD_ACT_RELU6, LD_ACT_RELU_N1_TO_1 };

/* ---- TRANSPOSE --------------------------------------------------------------- */

/* Returns whether the block transpose took it (batched 2-D ones only). */
static int transpose_case(ld_dtype type, int rank, const int *dims, const int32_t *perm)
{
    tt x, p, out;
    int pd[1] = { rank }, od[5];
    for (int k = 0; k < rank; k++)
        od[k] = dims[perm[k]];
    tt_make(&x, type, rank, dims, 0.05f, 3);
    tt_const_ints(&p, perm, 1, pd);
    tt_make(&out, type, rank, od, 0.05f, 3);
    ld_op_desc op = { 0 };
    op.builtin = LD_OP_TRANSPOSE;
    ld_tensor *ins[2] = { &x.t, &p.t };
    char what[160];
    int at = snprintf(what, sizeof what, "TRANSPOSE %s", leandet_dtype_name(type));
    for (int k = 0; k < rank && at > 0 && (size_t)at < sizeof what; k++)
        at += snprintf(what + at, sizeof what - (size_t)at, " %d<-%d", dims[k], (int)perm[k]);
    const int took = compare(&op, ins, 2, &out, what);
    tt_free(&x);
    tt_free(&p);
    tt_free(&out);
    return took;
}

static void sweep_transpose(void)
{
    static const int sizes[] = { 1, 1, 2, 3, 5, 8, 16, 17, 31, 33, 48 };
    int took = 0;
    for (int i = 0; i < 400; i++) {
        int rank = rnd_in(1, 5), dims[5];
        int32_t perm[5];
        for (int k = 0; k < rank; k++) {
            dims[k] = sizes[rnd() % (sizeof sizes / sizeof sizes[0])];
            perm[k] = k;
        }
        for (int k = rank - 1; k > 0; k--) { /* a random permutation */
            int j = rnd_in(0, k);
            int32_t tmp = perm[k];
            perm[k] = perm[j];
            perm[j] = tmp;
        }
        if (rank == 5 && dims[0] * dims[1] * dims[2] * dims[3] * dims[4] > 200000)
            dims[0] = 1; /* keep the case small */
        took += transpose_case(pad_types[i % 5], rank, dims, perm);
    }
    CHECK_MSG(took > 100, "the block transpose took only %d of 400 cases", took);
    /* The models' shapes, scaled down: YOLOv8's NHWC -> NCHW head and its
     * DFL [1,4,16,N] -> [1,4,N,16], in int8 and float. */
    const int nhwc[4] = { 1, 20, 20, 48 }, dfl[4] = { 1, 4, 16, 336 };
    const int32_t to_nchw[4] = { 0, 3, 1, 2 }, swap_last[4] = { 0, 1, 3, 2 };
    for (int t = 0; t < 2; t++) {
        CHECK(transpose_case(t ? LEANDET_FLOAT32 : LEANDET_INT8, 4, nhwc, to_nchw));
        CHECK(transpose_case(t ? LEANDET_FLOAT32 : LEANDET_INT8, 4, dfl, swap_last));
    }
}

/* ---- STRIDED_SLICE -------------------------------------------------------- */

/* A random slice of a rank-`rank` input: begin/end anywhere (negative too),
 * strides mostly 1, sometimes 2-3 or reversed, random masks. */
static void slice_case(ld_dtype type, int rank)
{
    int dims[5];
    int32_t b[5], e[5], st[5];
    for (int k = 0; k < rank; k++) {
        dims[k] = rnd_in(1, k + 1 == rank ? 90 : 7);
        b[k] = rnd_in(-dims[k], dims[k]);
        e[k] = rnd_in(-dims[k], dims[k] + 1);
        const int r = rnd_in(0, 9);
        st[k] = r < 6 ? 1 : r < 8 ? rnd_in(2, 3) : -rnd_in(1, 2);
    }
    tt x, tb, te, ts, out;
    int nd = rank;
    tt_make(&x, type, rank, dims, 0.05f, 3);
    tt_const_ints(&tb, b, 1, &nd);
    tt_const_ints(&te, e, 1, &nd);
    tt_const_ints(&ts, st, 1, &nd);
    tt_make(&out, type, rank, dims, 0.05f, 3);
    ld_op_desc op = { 0 };
    op.builtin = LD_OP_STRIDED_SLICE;
    op.params.strided_slice.begin_mask = rnd_in(0, 31) & rnd_in(0, 31);
    op.params.strided_slice.end_mask = rnd_in(0, 31) & rnd_in(0, 31);
    op.params.strided_slice.shrink_axis_mask = rnd_in(0, 9) == 0 ? 1 << rnd_in(0, rank - 1) : 0;
    ld_tensor *ins[4] = { &x.t, &tb.t, &te.t, &ts.t };
    char what[160];
    snprintf(what, sizeof what, "STRIDED_SLICE %s rank %d", leandet_dtype_name(type), rank);
    CHECK_MSG(compare(&op, ins, 4, &out, what), "%s: not accepted", what);
    tt_free(&x);
    tt_free(&tb);
    tt_free(&te);
    tt_free(&ts);
    tt_free(&out);
}

static void sweep_slice(void)
{
    static const ld_dtype types[] = { LEANDET_FLOAT32, LEANDET_INT8, LEANDET_UINT8, LEANDET_INT32 };
    for (int i = 0; i < 400; i++)
        slice_case(types[i % 4], rnd_in(1, 4));
}

/* ---- CONCATENATION ------------------------------------------------------- */

/* n inputs along `axis` of rank-`rank` shapes; each input's scale and zero
 * point differ from the output's unless `same`. */
static int concat_case(ld_dtype type, int rank, int axis, int n, int same, ld_activation act, int expect)
{
    tt x[LD_CONCAT8_MAX_INPUTS + 1], out;
    ld_tensor *ins[LD_CONCAT8_MAX_INPUTS + 1];
    int dims[5], total = 0;
    for (int k = 0; k < rank; k++)
        dims[k] = rnd_in(1, k + 1 == rank ? 40 : 4);
    const int lo = type == LEANDET_INT8 ? -128 : 0, hi = type == LEANDET_INT8 ? 127 : 255;
    const float out_scale = 0.02f + rnd_unit() * 0.1f;
    const int32_t out_zp = rnd_in(lo, hi);
    for (int i = 0; i < n; i++) {
        int d[5];
        memcpy(d, dims, sizeof d);
        d[axis] = rnd_in(i % 5 == 4 ? 0 : 1, 7);
        total += d[axis];
        const int keep = same || i % 3 == 1; /* a mix: some inputs copied as they are */
        tt_make(&x[i], type, rank, d, keep ? out_scale : 0.01f + rnd_unit() * 0.2f, keep ? out_zp : rnd_in(lo, hi));
        ins[i] = &x[i].t;
    }
    dims[axis] = total;
    tt_make(&out, type, rank, dims, out_scale, out_zp);
    ld_op_desc op = { 0 };
    op.builtin = LD_OP_CONCATENATION;
    op.params.concat.axis = rnd() % 2 ? axis : axis - rank; /* negative axes too */
    op.params.concat.act = act;
    char what[160];
    snprintf(what, sizeof what, "CONCATENATION %s rank %d axis %d, %d inputs%s, act %d", leandet_dtype_name(type),
             rank, axis, n, same ? " (same quantization)" : "", (int)act);
    const int took = compare(&op, ins, n, &out, what);
    CHECK_MSG(took == expect, "%s: %s", what, took ? "taken, should not be" : "not accepted");
    for (int i = 0; i < n; i++)
        tt_free(&x[i]);
    tt_free(&out);
    return took;
}

static void sweep_concat(void)
{
    for (int i = 0; i < 200; i++) {
        const int rank = rnd_in(1, 4);
        const ld_activation act = i % 5 == 0 ? acts[rnd_in(1, 3)] : LD_ACT_NONE;
        concat_case(i % 2 ? LEANDET_INT8 : LEANDET_UINT8, rank, rnd_in(0, rank - 1), rnd_in(1, 8), 0, act, 1);
    }
    /* All inputs already on the output's grid: copies, pieces of every length. */
    for (int i = 0; i < 40; i++) {
        const int rank = rnd_in(1, 4);
        concat_case(i % 2 ? LEANDET_INT8 : LEANDET_UINT8, rank, rnd_in(0, rank - 1), rnd_in(1, 8), 1, LD_ACT_NONE, 1);
        concat_case(LEANDET_FLOAT32, rank, rnd_in(0, rank - 1), rnd_in(1, 8), 1, LD_ACT_NONE, 1);
    }
    concat_case(LEANDET_UINT8, 3, 1, 4, 1, LD_ACT_RELU6, 1);
    concat_case(LEANDET_FLOAT32, 3, 1, 4, 1, LD_ACT_RELU, 0); /* a float activation stays with the reference */
    concat_case(LEANDET_INT8, 4, 3, LD_CONCAT8_MAX_INPUTS, 0, LD_ACT_NONE, 1);
    concat_case(LEANDET_INT8, 4, 3, LD_CONCAT8_MAX_INPUTS + 1, 0, LD_ACT_NONE, 0);
}

/* ---- 8-bit MAX_POOL_2D ----------------------------------------------------- */

static void pool_case(ld_dtype type, int b, int h, int w, int ch, int fh, int fw, int sh, int sw, ld_padding pad,
                      ld_activation act)
{
    int dims[4] = { b, h, w, ch };
    tt x;
    tt_make(&x, type, 4, dims, 0.02f + rnd_unit() * 0.1f, type == LEANDET_INT8 ? rnd_in(-128, 127) : rnd_in(0, 255));
    ld_op_desc op = { 0 };
    op.builtin = LD_OP_MAX_POOL_2D;
    op.params.pool = (ld_pool_params){ pad, sw, sh, fw, fh, act };
    ld_tensor *ins[1] = { &x.t };
    char what[160];
    snprintf(what, sizeof what, "MAX_POOL_2D %s %dx%dx%dx%d f %dx%d s %dx%d %s act %d", leandet_dtype_name(type), b,
             h, w, ch, fh, fw, sh, sw, pad == LD_PAD_SAME ? "SAME" : "VALID", (int)act);
    CHECK_MSG(compare(&op, ins, 1, &x, what), "%s: not accepted", what);
    tt_free(&x);
}

static void sweep_pool(void)
{
    for (int i = 0; i < 200; i++) {
        int h = rnd_in(1, 12), w = rnd_in(1, 12), fh = rnd_in(1, 5), fw = rnd_in(1, 5);
        ld_padding pad = rnd() % 2 ? LD_PAD_SAME : LD_PAD_VALID;
        if (pad == LD_PAD_VALID && (fh > h || fw > w))
            fh = fw = 1;
        pool_case(i % 2 ? LEANDET_INT8 : LEANDET_UINT8, rnd_in(1, 2), h, w, rnd_in(1, 70), fh, fw, rnd_in(1, 3),
                  rnd_in(1, 3), pad, acts[i % 4]);
    }
    pool_case(LEANDET_INT8, 1, 20, 20, 128, 5, 5, 1, 1, LD_PAD_SAME, LD_ACT_NONE); /* YOLOv8 SPPF */
    pool_case(LEANDET_UINT8, 1, 16, 16, 64, 2, 2, 2, 2, LD_PAD_VALID, LD_ACT_NONE);
    /* Float stays with the float family. */
    int dims[4] = { 1, 4, 4, 8 };
    tt x;
    tt_make(&x, LEANDET_FLOAT32, 4, dims, 0, 0);
    ld_op_desc op = { 0 };
    op.builtin = LD_OP_MAX_POOL_2D;
    op.params.pool = (ld_pool_params){ LD_PAD_SAME, 1, 1, 2, 2, LD_ACT_NONE };
    ld_tensor *ins[1] = { &x.t };
    CHECK(!compare(&op, ins, 1, &x, "float MAX_POOL_2D"));
    tt_free(&x);
}

/* ---- float RELU / RELU6 --------------------------------------------------- */

static void sweep_relu(void)
{
    const float special[] = { 0.0f, -0.0f, 6.0f, -6.0f, 5.9999995f, 6.0000005f, NAN, -NAN, INFINITY, -INFINITY,
                              1e-40f, -1e-40f };
    const int ns = (int)(sizeof special / sizeof special[0]);
    for (int i = 0; i < 24; i++) {
        int dims[2] = { rnd_in(1, 3), rnd_in(1, 40) * (i % 6 == 0 ? 1000 : 1) };
        tt x;
        tt_make(&x, LEANDET_FLOAT32, 2, dims, 0, 0);
        float *v = x.t.data;
        for (size_t k = 0; k < x.t.bytes / 4; k += 3)
            v[k] = special[(k / 3) % (size_t)ns];
        ld_op_desc op = { 0 };
        op.builtin = i % 2 ? LD_OP_RELU6 : LD_OP_RELU;
        ld_tensor *ins[1] = { &x.t };
        char what[64];
        snprintf(what, sizeof what, "%s %dx%d", i % 2 ? "RELU6" : "RELU", dims[0], dims[1]);
        CHECK_MSG(compare(&op, ins, 1, &x, what), "%s: not accepted", what);
        tt_free(&x);
    }
}

/* ---- float RESIZE_BILINEAR ------------------------------------------------- */

static void sweep_resize(void)
{
    for (int i = 0; i < 120; i++) {
        int dims[4] = { rnd_in(1, 2), rnd_in(1, 9), rnd_in(1, 9), rnd_in(1, 21) }, two = 2;
        int32_t size[2] = { rnd_in(1, 20), rnd_in(1, 20) };
        if (i % 5 == 0) { /* the models' 2x upsampling */
            size[0] = 2 * dims[1];
            size[1] = 2 * dims[2];
        }
        tt x, sz;
        tt_make(&x, LEANDET_FLOAT32, 4, dims, 0, 0);
        tt_const_ints(&sz, size, 1, &two);
        ld_op_desc op = { 0 };
        op.builtin = LD_OP_RESIZE_BILINEAR;
        op.params.resize.align_corners = i % 3 == 1;
        op.params.resize.half_pixel_centers = i % 3 == 2;
        ld_tensor *ins[2] = { &x.t, &sz.t };
        char what[128];
        snprintf(what, sizeof what, "RESIZE_BILINEAR %dx%dx%dx%d -> %dx%d align %d half %d", dims[0], dims[1],
                 dims[2], dims[3], (int)size[0], (int)size[1], i % 3 == 1, i % 3 == 2);
        CHECK_MSG(compare(&op, ins, 2, &x, what), "%s: not accepted", what);
        tt_free(&x);
        tt_free(&sz);
    }
}

/* ---- SiLU fusion ----------------------------------------------------------- */

/* LOGISTIC(x) -> s, MUL(x, s) or MUL(s, x) -> y, by the reference kernels
 * and by the fused kernel; `sig_q` and `y_q`: quantization of s and y. */
static void silu_case(ld_dtype type, int n, int swap, const tt *sig_q, const tt *y_q, int fusable, const char *what)
{
    int dims[1] = { n };
    tt x;
    tt_make(&x, type, 1, dims, 0.02f + rnd_unit() * 0.2f, type == LEANDET_INT8 ? rnd_in(-128, 127) : rnd_in(0, 255));
    if (type != LEANDET_FLOAT32 && n >= 256)
        for (int i = 0; i < 256; i++)
            ((uint8_t *)x.t.data)[i] = (uint8_t)i; /* every byte at least once */
    ld_op_desc lop = { 0 }, mop = { 0 };
    lop.builtin = LD_OP_LOGISTIC;
    mop.builtin = LD_OP_MUL;
    run lg, mul, fused;
    ld_tensor *lin[1] = { &x.t };
    run_init(&lg, &lop, lin, 1, sig_q);
    CHECK(run_prepare(&lg, ld_kernel_find(&lop)) == LEANDET_OK);
    ld_tensor *min[2] = { swap ? &lg.o : &x.t, swap ? &x.t : &lg.o };
    run_init(&mul, &mop, min, 2, y_q);
    run_init(&fused, &mop, min, 2, y_q);
    const ld_kernel *rm = ld_kernel_find(&mop), *fk = NULL;
    CHECK(run_prepare(&mul, rm) == LEANDET_OK && run_prepare(&fused, rm) == LEANDET_OK);
    CHECK(run_eval(&lg, ld_kernel_find(&lop), NULL) == LEANDET_OK);
    CHECK(run_eval(&mul, rm, NULL) == LEANDET_OK);
    int took = ld_fuse_silu(&lg.c, &fused.c, &fused.al, &fk);
    CHECK_MSG(took == fusable, "%s: fused %d, expected %d", what, took, fusable);
    for (int pass = 0; took && pass < 2; pass++) {
        memset(fused.o.data, 0xA5, fused.o.bytes);
        memset(lg.o.data, 0xEE, lg.o.bytes); /* the fused kernel must not read s */
        CHECK(run_eval(&fused, fk, pass ? pool3 : NULL) == LEANDET_OK);
        if (type != LEANDET_FLOAT32) {
            CHECK_MSG(memcmp(mul.o.data, fused.o.data, mul.o.bytes) == 0, "%s: bytes differ", what);
            continue;
        }
        const float *a = mul.o.data, *b = fused.o.data;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double e = fabs((double)a[i] - b[i]) - 1e-6 * fabs((double)a[i]);
            worst = e > worst ? e : worst;
        }
        CHECK_MSG(worst <= 1e-7, "%s: float error %g over the bound", what, worst);
    }
    run_free(&lg);
    run_free(&mul);
    run_free(&fused);
    tt_free(&x);
}

static void sweep_silu(void)
{
    const int one = 1;
    for (int i = 0; i < 40; i++) {
        ld_dtype type = i % 2 ? LEANDET_INT8 : LEANDET_UINT8;
        tt sig_q, y_q;
        /* TFLite's 8-bit LOGISTIC output: scale 1/256, zero point -128 / 0. */
        tt_make(&sig_q, type, 1, &one, 1.0f / 256.0f, type == LEANDET_INT8 ? -128 : 0);
        tt_make(&y_q, type, 1, &one, 0.01f + rnd_unit() * 0.1f, type == LEANDET_INT8 ? rnd_in(-128, -90) : rnd_in(0, 40));
        char what[64];
        snprintf(what, sizeof what, "SiLU %s case %d", leandet_dtype_name(type), i);
        silu_case(type, 256 + rnd_in(0, 300), i % 3 == 0, &sig_q, &y_q, 1, what);
        tt_free(&sig_q);
        tt_free(&y_q);
    }
    tt fq;
    tt_make(&fq, LEANDET_FLOAT32, 1, &one, 0, 0);
    silu_case(LEANDET_FLOAT32, 5000, 0, &fq, &fq, 1, "SiLU float32");
    silu_case(LEANDET_FLOAT32, 7, 1, &fq, &fq, 1, "SiLU float32 short, swapped");
    tt_free(&fq);
}

/* Pairs that are not SiLU stay apart. */
static void silu_refusals(void)
{
    int dims[1] = { 64 }, one = 1;
    tt x, z, q;
    tt_make(&x, LEANDET_FLOAT32, 1, dims, 0, 0);
    tt_make(&z, LEANDET_FLOAT32, 1, dims, 0, 0);
    tt_make(&q, LEANDET_FLOAT32, 1, &one, 0, 0);
    ld_op_desc lop = { 0 }, mop = { 0 }, aop = { 0 };
    lop.builtin = LD_OP_LOGISTIC;
    mop.builtin = LD_OP_MUL;
    aop.builtin = LD_OP_ADD;
    run lg, m1, m2, m3;
    ld_tensor *lin[1] = { &x.t };
    run_init(&lg, &lop, lin, 1, &q);
    CHECK(run_prepare(&lg, ld_kernel_find(&lop)) == LEANDET_OK);
    ld_tensor *other[2] = { &z.t, &lg.o }, *add[2] = { &x.t, &lg.o };
    run_init(&m1, &mop, other, 2, &q); /* MUL(z, LOGISTIC(x)) */
    run_init(&m2, &aop, add, 2, &q);   /* ADD(x, LOGISTIC(x)) */
    mop.params.arith.act = LD_ACT_RELU;
    ld_tensor *same[2] = { &x.t, &lg.o };
    run_init(&m3, &mop, same, 2, &q); /* a fused activation */
    const ld_kernel *k = NULL;
    CHECK(run_prepare(&m1, ld_kernel_find(&mop)) == LEANDET_OK && !ld_fuse_silu(&lg.c, &m1.c, &m1.al, &k));
    CHECK(run_prepare(&m2, ld_kernel_find(&aop)) == LEANDET_OK && !ld_fuse_silu(&lg.c, &m2.c, &m2.al, &k));
    CHECK(run_prepare(&m3, ld_kernel_find(&mop)) == LEANDET_OK && !ld_fuse_silu(&lg.c, &m3.c, &m3.al, &k));
    CHECK(k == NULL);
    run_free(&lg);
    run_free(&m1);
    run_free(&m2);
    run_free(&m3);
    tt_free(&x);
    tt_free(&z);
    tt_free(&q);
}

/* ---- a real model: fused vs unfused ------------------------------------------
 * keep_all_tensors turns fusion off and keeps every other kernel choice, so
 * the two sessions differ only by the fused pairs: SiLU (yolov8n, int8),
 * ADD+RELU (BlazeFace), ADD+PRELU (palm), SiLU and CONV_2D + SiLU (yolov5n,
 * float), none of which may change a byte
 * (the fused passes do the pairs' float operations in the same order; the reference backend is left to the oracle tests,
 * being slow under the sanitizers). */

static void model_outputs(const char *file)
{
    char path[1024];
    leandet_model *m = NULL;
    leandet_error err = { 0 };
    if (leandet_model_open(ld_test_model(file, path, sizeof path), NULL, &m, &err) != LEANDET_OK) {
        printf("skipping %s: %s\n", file, err.message);
        return;
    }
    leandet_session *s[2] = { NULL, NULL };
    for (int b = 0; b < 2; b++) {
        leandet_session_options o = { 0 };
        o.keep_all_tensors = b; /* which turns fusion off */
        CHECK_MSG(leandet_session_create(m, &o, &s[b], &err) == LEANDET_OK, "%s: %s", file, err.message);
    }
    if (s[0] && s[1]) {
        int fused = 0;
        for (int i = 0; i < s[0]->model->desc.n_ops; i++)
            fused += s[0]->ops[i].fused;
        CHECK_MSG(fused > 0, "%s: no op fused", file);
        for (int i = 0; i < s[1]->model->desc.n_ops; i++)
            CHECK(!s[1]->ops[i].fused);
        const int is_float = s[0]->tensors[s[0]->model->desc.inputs[0]].type == LEANDET_FLOAT32;
        for (int b = 0; b < 2; b++) {
            size_t bytes = 0;
            uint8_t *in = leandet_session_input(s[b], 0, &bytes);
            for (size_t i = 0; i < bytes; i++)
                in[i] = (uint8_t)(i * 2654435761u >> 13);
            for (size_t i = 0; is_float && i < bytes / sizeof(float); i++) /* an image in [-1, 1) */
                ((float *)in)[i] = (float)((i * 2654435761u >> 13) & 0xff) / 128.0f - 1.0f;
            CHECK(leandet_session_invoke(s[b], &err) == LEANDET_OK);
        }
        for (int k = 0; k < leandet_model_num_outputs(m); k++) {
            size_t b0 = 0, b1 = 0;
            const void *o0 = leandet_session_output(s[0], k, &b0), *o1 = leandet_session_output(s[1], k, &b1);
            CHECK_MSG(b0 == b1 && memcmp(o0, o1, b0) == 0, "%s: output %d differs from the unfused run", file, k);
        }
    }
    leandet_session_destroy(s[0]);
    leandet_session_destroy(s[1]);
    leandet_model_close(m);
}

int main(void)
{
    const ld_opt_kernel *const *fam = ld_opt_families();
    int have = 0;
    for (int i = 0; fam[i]; i++)
        have |= fam[i] == ld_avx2_move;
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
    sweep_pad();
    sweep_transpose();
    sweep_concat();
    sweep_slice();
    sweep_pool();
    sweep_relu();
    sweep_resize();
    sweep_silu();
    silu_refusals();
    model_outputs("yolov8n_full_integer_quant.tflite");
    model_outputs("face_detection_short_range.tflite");
    model_outputs("palm_detection_lite.tflite");
    model_outputs("yolov5n-fp16.tflite"); /* float SiLU, and CONV_2D + SiLU */
    ld_pool_destroy(pool3);
    printf("%d cases taken by the optimized kernels\n", accepted_total);
    return ld_test_finish();
}

/* Reference kernels for data movement and shapes: RESHAPE, SQUEEZE,
 * CONCATENATION, TRANSPOSE, STRIDED_SLICE, PAD, PADV2, MEAN, RESIZE_*,
 * DEPTH_TO_SPACE, DENSIFY. Expected values are written from each op's
 * definition (index formulas, hand-worked arithmetic), never taken from the
 * kernels; error cases check the status and that the message names the
 * problem. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/kernel.h"

/* ---- fixtures ---------------------------------------------------------- */

typedef struct fx {
    ld_tensor_desc desc;
    ld_tensor t;
    float scale;
    int32_t zp;
} fx;

static ld_tensor *tens(fx *f, ld_dtype type, int rank, const int32_t *dims, const void *data, int is_const)
{
    memset(f, 0, sizeof *f);
    f->desc.name = "t";
    f->desc.type = type;
    f->desc.shape.rank = rank;
    for (int i = 0; i < rank; i++)
        f->desc.shape.d[i] = dims[i];
    f->desc.quant.scale = &f->scale;
    f->desc.quant.zero_point = &f->zp;
    f->t.type = type;
    f->t.shape = f->desc.shape;
    f->t.quant = &f->desc.quant;
    f->t.desc = &f->desc;
    f->t.data = (void *)data;
    f->t.is_const = is_const;
    f->t.bytes = ld_shape_count(&f->desc.shape) * leandet_dtype_size(type);
    if (is_const) {
        f->desc.data = data;
        f->desc.data_bytes = f->t.bytes;
    }
    return &f->t;
}

static void quant(fx *f, float scale, int32_t zp)
{
    f->scale = scale;
    f->zp = zp;
    f->desc.quant.count = 1;
}

static ld_op_params P; /* params of the next run_op (a union: reset between ops) */

static void reset_params(void)
{
    memset(&P, 0, sizeof P);
}

/* prepare + eval one op; out->data is pointed at `buf` (cap bytes). */
static leandet_status run_op(int builtin, ld_tensor **in, int nin, ld_tensor *out, void *buf, size_t cap,
                             leandet_error *err)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.n_inputs = nin;
    op.n_outputs = 1;
    op.params = P;
    memset(err, 0, sizeof *err);
    const ld_kernel *k = ld_kernel_find(&op);
    if (!k) {
        snprintf(err->message, sizeof err->message, "no kernel for builtin %d", builtin);
        return LEANDET_ERR_INTERNAL;
    }
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_op_ctx c = { .op = &op, .n_in = nin, .n_out = 1, .in = in, .out = &out, .alloc = &a, .err = err };
    out->shape.rank = 0; /* the kernel must compute it */
    leandet_status st = k->prepare(&c);
    if (st != LEANDET_OK)
        return st;
    size_t bytes = ld_shape_count(&out->shape) * leandet_dtype_size(out->type);
    if (bytes > cap) {
        snprintf(err->message, sizeof err->message, "output needs %zu bytes, test buffer has %zu", bytes, cap);
        return LEANDET_ERR_INTERNAL;
    }
    memset(buf, 0xA5, cap); /* poison: every output byte must be written */
    out->data = buf;
    void *scratch = c.scratch_bytes ? malloc(c.scratch_bytes) : NULL;
    c.scratch = scratch;
    c.alloc = NULL;
    c.err = NULL;
    st = k->eval(&c);
    free(scratch);
    CHECK(a.current == 0); /* these kernels keep no per-op state */
    return st;
}

static int shape_is(const ld_tensor *t, int rank, const int32_t *d)
{
    if (t->shape.rank != rank)
        return 0;
    for (int i = 0; i < rank; i++)
        if (t->shape.d[i] != d[i])
            return 0;
    return 1;
}

#define OK(st, err) CHECK_MSG((st) == LEANDET_OK, "%s", (err).message)
#define FAILS(st, err, want, text)                                                                      \
    CHECK_MSG((st) == (want) && strstr((err).message, text), "status %d message '%s' (want '%s')", (int)(st), \
              (err).message, text)

/* ---- RESHAPE / SQUEEZE ----------------------------------------------- */

static void test_reshape(void)
{
    float x[24], y[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i * 0.5f;
    int32_t d234[] = { 2, 3, 4 }, two[] = { 2 };
    int32_t shp[] = { 4, -1 }, bad[] = { 5, 5 }, twom1[] = { -1, -1 };
    fx a, s, o;
    leandet_error err;
    leandet_status st;

    reset_params();
    P.reshape.n = -1; /* no new_shape option */
    ld_tensor *in[] = { tens(&a, LEANDET_FLOAT32, 3, d234, x, 0), tens(&s, LEANDET_INT32, 1, two, shp, 1) };
    ld_tensor *out = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    st = run_op(LD_OP_RESHAPE, in, 2, out, y, sizeof y, &err);
    OK(st, err);
    CHECK(shape_is(out, 2, (int32_t[]){ 4, 6 }));
    CHECK(memcmp(x, y, sizeof x) == 0);

    /* new_shape option when there is no shape input */
    reset_params();
    P.reshape.n = 3;
    P.reshape.shape[0] = -1;
    P.reshape.shape[1] = 2;
    P.reshape.shape[2] = 3;
    st = run_op(LD_OP_RESHAPE, in, 1, out, y, sizeof y, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 4, 2, 3 }));

    /* legacy [0] option means a scalar */
    reset_params();
    P.reshape.n = 1;
    P.reshape.shape[0] = 0;
    in[0] = tens(&a, LEANDET_FLOAT32, 2, (int32_t[]){ 1, 1 }, x, 0);
    st = run_op(LD_OP_RESHAPE, in, 1, out, y, sizeof y, &err);
    OK(st, err);
    CHECK(out->shape.rank == 0 && y[0] == x[0]);

    /* errors */
    reset_params();
    P.reshape.n = -1;
    in[0] = tens(&a, LEANDET_FLOAT32, 3, d234, x, 0);
    in[1] = tens(&s, LEANDET_INT32, 1, two, bad, 1);
    st = run_op(LD_OP_RESHAPE, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "cannot reshape 24 elements");
    in[1] = tens(&s, LEANDET_INT32, 1, two, twom1, 1);
    st = run_op(LD_OP_RESHAPE, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "more than one -1");
    in[1] = tens(&s, LEANDET_INT32, 1, two, shp, 0); /* an activation, not a constant */
    st = run_op(LD_OP_RESHAPE, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_UNSUPPORTED, "must be constant");

    /* SQUEEZE */
    uint8_t u[6] = { 1, 2, 3, 4, 5, 6 }, v[6];
    fx b, ob;
    ld_tensor *sin[] = { tens(&b, LEANDET_UINT8, 4, (int32_t[]){ 1, 3, 1, 2 }, u, 0) };
    ld_tensor *sout = tens(&ob, LEANDET_UINT8, 0, NULL, NULL, 0);
    reset_params();
    st = run_op(LD_OP_SQUEEZE, sin, 1, sout, v, sizeof v, &err);
    OK(st, err);
    CHECK(shape_is(sout, 2, (int32_t[]){ 3, 2 }) && memcmp(u, v, 6) == 0);
    P.squeeze.n = 1;
    P.squeeze.dims[0] = -2;
    st = run_op(LD_OP_SQUEEZE, sin, 1, sout, v, sizeof v, &err);
    OK(st, err);
    CHECK(shape_is(sout, 3, (int32_t[]){ 1, 3, 2 }));
    P.squeeze.dims[0] = 1;
    st = run_op(LD_OP_SQUEEZE, sin, 1, sout, v, sizeof v, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "cannot squeeze dim 1 of size 3");
    P.squeeze.dims[0] = 4;
    st = run_op(LD_OP_SQUEEZE, sin, 1, sout, v, sizeof v, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "out of range");
}

/* ---- CONCATENATION --------------------------------------------------- */

static void test_concat(void)
{
    fx a, b, o;
    leandet_error err;
    leandet_status st;
    /* float along the last axis: [2,2] ++ [2,1] */
    float fa[] = { 1, 2, 3, 4 }, fb[] = { 5, 6 }, fy[8];
    ld_tensor *in[] = { tens(&a, LEANDET_FLOAT32, 2, (int32_t[]){ 2, 2 }, fa, 0),
                        tens(&b, LEANDET_FLOAT32, 2, (int32_t[]){ 2, 1 }, fb, 0) };
    ld_tensor *out = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    reset_params();
    P.concat.axis = -1;
    st = run_op(LD_OP_CONCATENATION, in, 2, out, fy, sizeof fy, &err);
    OK(st, err);
    CHECK(shape_is(out, 2, (int32_t[]){ 2, 3 }));
    CHECK(fy[0] == 1 && fy[1] == 2 && fy[2] == 5 && fy[3] == 3 && fy[4] == 4 && fy[5] == 6);

    /* fused RELU6 clamps the float output */
    float fc[] = { -1, 7, 3, 6.5f }, fd[] = { 0.5f, -2 };
    in[0] = tens(&a, LEANDET_FLOAT32, 2, (int32_t[]){ 2, 2 }, fc, 0);
    in[1] = tens(&b, LEANDET_FLOAT32, 2, (int32_t[]){ 1, 2 }, fd, 0);
    P.concat.axis = 0;
    P.concat.act = LD_ACT_RELU6;
    st = run_op(LD_OP_CONCATENATION, in, 2, out, fy, sizeof fy, &err);
    OK(st, err);
    CHECK(shape_is(out, 2, (int32_t[]){ 3, 2 }));
    CHECK(fy[0] == 0 && fy[1] == 6 && fy[2] == 3 && fy[3] == 6 && fy[4] == 0.5f && fy[5] == 0);

    /* uint8 with a different input scale: q' = round((q - zp_in) * 0.75 / 0.5) + zp_out,
     * rounding halves away from zero, clamped to 0..255. Input 1 has the
     * output's parameters and is copied as is. */
    uint8_t ua[] = { 10, 11, 12, 13, 200, 9 }, ub[] = { 250, 251 }, uy[8];
    in[0] = tens(&a, LEANDET_UINT8, 2, (int32_t[]){ 2, 3 }, ua, 0);
    quant(&a, 0.75f, 10);
    in[1] = tens(&b, LEANDET_UINT8, 2, (int32_t[]){ 2, 1 }, ub, 0);
    quant(&b, 0.5f, 4);
    out = tens(&o, LEANDET_UINT8, 0, NULL, NULL, 0);
    quant(&o, 0.5f, 4);
    reset_params();
    P.concat.axis = 1;
    st = run_op(LD_OP_CONCATENATION, in, 2, out, uy, sizeof uy, &err);
    OK(st, err);
    /* row 0: (0, 1, 2)*1.5 -> 0, 1.5->2, 3; +4 ; then 250. row 1: 3*1.5=4.5->5, 190*1.5=285 -> 255, -1.5->-2 */
    static const uint8_t want_u[] = { 4, 6, 7, 250, 9, 255, 2, 251 };
    CHECK(shape_is(out, 2, (int32_t[]){ 2, 4 }) && memcmp(uy, want_u, 8) == 0);

    /* int8, scale ratio 2, clamped at -128 */
    int8_t ia[] = { -100, 0, 60, 100 }, iy[4];
    in[0] = tens(&a, LEANDET_INT8, 1, (int32_t[]){ 4 }, ia, 0);
    quant(&a, 1.0f, 0);
    out = tens(&o, LEANDET_INT8, 0, NULL, NULL, 0);
    quant(&o, 0.5f, -10);
    P.concat.axis = 0;
    st = run_op(LD_OP_CONCATENATION, in, 1, out, iy, sizeof iy, &err);
    OK(st, err);
    CHECK(iy[0] == -128 && iy[1] == -10 && iy[2] == 110 && iy[3] == 127);

    /* errors */
    in[0] = tens(&a, LEANDET_FLOAT32, 2, (int32_t[]){ 2, 2 }, fa, 0);
    in[1] = tens(&b, LEANDET_FLOAT32, 2, (int32_t[]){ 2, 1 }, fb, 0);
    out = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    P.concat.axis = 2;
    st = run_op(LD_OP_CONCATENATION, in, 2, out, fy, sizeof fy, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "axis 2 is out of range");
    P.concat.axis = 0; /* dim 1 differs: 2 vs 1 */
    st = run_op(LD_OP_CONCATENATION, in, 2, out, fy, sizeof fy, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "input 1 dim 1 is 1");
    P.concat.act = LD_ACT_TANH;
    P.concat.axis = 1;
    st = run_op(LD_OP_CONCATENATION, in, 2, out, fy, sizeof fy, &err);
    FAILS(st, err, LEANDET_ERR_UNSUPPORTED, "activation");
}

/* ---- TRANSPOSE ------------------------------------------------------- */

static void test_transpose(void)
{
    fx a, p, o;
    leandet_error err;
    leandet_status st;
    /* 3-D: out[k][i][j] = in[i][j][k] for perm (2, 0, 1) */
    int32_t x[24], y[24], perm3[] = { 2, 0, 1 };
    for (int i = 0; i < 24; i++)
        x[i] = i * 7 - 50;
    ld_tensor *in[] = { tens(&a, LEANDET_INT32, 3, (int32_t[]){ 2, 3, 4 }, x, 0),
                        tens(&p, LEANDET_INT32, 1, (int32_t[]){ 3 }, perm3, 1) };
    ld_tensor *out = tens(&o, LEANDET_INT32, 0, NULL, NULL, 0);
    reset_params();
    st = run_op(LD_OP_TRANSPOSE, in, 2, out, y, sizeof y, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 4, 2, 3 }));
    int bad = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                bad += y[(k * 2 + i) * 3 + j] != x[(i * 3 + j) * 4 + k];
    CHECK(bad == 0);

    /* 6-D, 1-byte elements: output index o[i] walks input dim perm[i] */
    enum { N6 = 2 * 3 * 2 * 1 * 2 * 3 };
    uint8_t x6[N6], y6[N6];
    int32_t d6[] = { 2, 3, 2, 1, 2, 3 }, perm6[] = { 5, 0, 4, 1, 3, 2 };
    for (int i = 0; i < N6; i++)
        x6[i] = (uint8_t)(i * 3 + 1);
    in[0] = tens(&a, LEANDET_UINT8, 6, d6, x6, 0);
    in[1] = tens(&p, LEANDET_INT32, 1, (int32_t[]){ 6 }, perm6, 1);
    out = tens(&o, LEANDET_UINT8, 0, NULL, NULL, 0);
    st = run_op(LD_OP_TRANSPOSE, in, 2, out, y6, sizeof y6, &err);
    OK(st, err);
    int32_t od[6];
    for (int i = 0; i < 6; i++)
        od[i] = d6[perm6[i]];
    CHECK(shape_is(out, 6, od));
    bad = 0;
    for (int lin = 0; lin < N6; lin++) {
        int idx[6], rem = lin, src = 0;
        for (int k = 5; k >= 0; k--) {
            idx[k] = rem % od[k];
            rem /= od[k];
        }
        int ii[6];
        for (int k = 0; k < 6; k++)
            ii[perm6[k]] = idx[k];
        for (int k = 0; k < 6; k++)
            src = src * d6[k] + ii[k];
        bad += y6[lin] != x6[src];
    }
    CHECK(bad == 0);

    /* errors */
    int32_t dup[] = { 0, 0, 1 };
    in[0] = tens(&a, LEANDET_INT32, 3, (int32_t[]){ 2, 3, 4 }, x, 0);
    in[1] = tens(&p, LEANDET_INT32, 1, (int32_t[]){ 3 }, dup, 1);
    out = tens(&o, LEANDET_INT32, 0, NULL, NULL, 0);
    st = run_op(LD_OP_TRANSPOSE, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "not a permutation");
    in[1] = tens(&p, LEANDET_INT32, 1, (int32_t[]){ 3 }, perm3, 0);
    st = run_op(LD_OP_TRANSPOSE, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_UNSUPPORTED, "must be constant");
}

/* ---- STRIDED_SLICE --------------------------------------------------- */

static float X456[4 * 5 * 6];
#define AT(i, j, k) X456[((i) * 5 + (j)) * 6 + (k)]

static leandet_status slice(const int32_t *b, const int32_t *e, const int32_t *s, int n, float *y, size_t cap,
                            ld_tensor **outp, leandet_error *err)
{
    static fx a, fb, fe, fs, o;
    ld_tensor *in[] = { tens(&a, LEANDET_FLOAT32, 3, (int32_t[]){ 4, 5, 6 }, X456, 0),
                        tens(&fb, LEANDET_INT32, 1, &n, b, 1), tens(&fe, LEANDET_INT32, 1, &n, e, 1),
                        tens(&fs, LEANDET_INT32, 1, &n, s, 1) };
    *outp = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    return run_op(LD_OP_STRIDED_SLICE, in, 4, *outp, y, cap, err);
}

static void test_strided_slice(void)
{
    for (int i = 0; i < 120; i++)
        X456[i] = (float)i;
    float y[120];
    ld_tensor *out;
    leandet_error err;
    leandet_status st;
    int bad;

    /* x[1:3, -1:-6:-2, 0:6:3] -> i in {1,2}, j in {4,2,0}, k in {0,3} */
    reset_params();
    st = slice((int32_t[]){ 1, -1, 0 }, (int32_t[]){ 3, -6, 6 }, (int32_t[]){ 1, -2, 3 }, 3, y, sizeof y, &out, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 2, 3, 2 }));
    bad = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                bad += y[(i * 3 + j) * 2 + k] != AT(1 + i, 4 - 2 * j, 3 * k);
    CHECK(bad == 0);

    /* x[::-1] on dim 0 via begin/end masks, rest implicit */
    reset_params();
    P.strided_slice.begin_mask = 1;
    P.strided_slice.end_mask = 1;
    st = slice((int32_t[]){ 0 }, (int32_t[]){ 0 }, (int32_t[]){ -1 }, 1, y, sizeof y, &out, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 4, 5, 6 }));
    bad = 0;
    for (int i = 0; i < 4; i++)
        for (int r = 0; r < 30; r++)
            bad += y[i * 30 + r] != X456[(3 - i) * 30 + r];
    CHECK(bad == 0);

    /* x[..., 2]: ellipsis then a shrunk index -> [4, 5] */
    reset_params();
    P.strided_slice.ellipsis_mask = 1;
    P.strided_slice.shrink_axis_mask = 2;
    st = slice((int32_t[]){ 0, 2 }, (int32_t[]){ 0, 3 }, (int32_t[]){ 1, 1 }, 2, y, sizeof y, &out, &err);
    OK(st, err);
    CHECK(shape_is(out, 2, (int32_t[]){ 4, 5 }));
    bad = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++)
            bad += y[i * 5 + j] != AT(i, j, 2);
    CHECK(bad == 0);

    /* x[newaxis, 1:3] -> [1, 2, 5, 6] */
    reset_params();
    P.strided_slice.new_axis_mask = 1;
    st = slice((int32_t[]){ 0, 1 }, (int32_t[]){ 0, 3 }, (int32_t[]){ 1, 1 }, 2, y, sizeof y, &out, &err);
    OK(st, err);
    CHECK(shape_is(out, 4, (int32_t[]){ 1, 2, 5, 6 }));
    CHECK(memcmp(y, &X456[30], 60 * sizeof(float)) == 0);

    /* offset: end holds sizes -> x[1:3, 2:4, 3:5] */
    reset_params();
    P.strided_slice.offset = 1;
    st = slice((int32_t[]){ 1, 2, 3 }, (int32_t[]){ 2, 2, 2 }, (int32_t[]){ 1, 1, 1 }, 3, y, sizeof y, &out, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 2, 2, 2 }));
    CHECK(y[0] == AT(1, 2, 3) && y[3] == AT(1, 3, 4) && y[7] == AT(2, 3, 4));

    /* begin past the end gives an empty dim (TFLite clamps to the size) */
    reset_params();
    st = slice((int32_t[]){ 7 }, (int32_t[]){ 9 }, (int32_t[]){ 1 }, 1, y, sizeof y, &out, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 0, 5, 6 }));

    /* errors */
    reset_params();
    st = slice((int32_t[]){ 0 }, (int32_t[]){ 2 }, (int32_t[]){ 0 }, 1, y, sizeof y, &out, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "stride of dim 0 is 0");
    P.strided_slice.shrink_axis_mask = 1;
    st = slice((int32_t[]){ 4 }, (int32_t[]){ 5 }, (int32_t[]){ 1 }, 1, y, sizeof y, &out, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "out of range");
    {
        static fx a, fb, fe, fs, o;
        int32_t n = 1, b[] = { 0 }, e[] = { 1 }, s[] = { 1 };
        ld_tensor *in[] = { tens(&a, LEANDET_FLOAT32, 3, (int32_t[]){ 4, 5, 6 }, X456, 0),
                            tens(&fb, LEANDET_INT32, 1, &n, b, 0), tens(&fe, LEANDET_INT32, 1, &n, e, 1),
                            tens(&fs, LEANDET_INT32, 1, &n, s, 1) };
        st = run_op(LD_OP_STRIDED_SLICE, in, 4, tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0), y, sizeof y, &err);
        FAILS(st, err, LEANDET_ERR_UNSUPPORTED, "input 1");
    }
}

/* ---- PAD / PADV2 ----------------------------------------------------- */

static void test_pad(void)
{
    fx a, p, v, o;
    leandet_error err;
    leandet_status st;
    uint8_t x[] = { 1, 2, 3, 4, 5, 6 }, y[32];
    int32_t pads[] = { 1, 0, 0, 2 };
    ld_tensor *in[] = { tens(&a, LEANDET_UINT8, 2, (int32_t[]){ 2, 3 }, x, 0),
                        tens(&p, LEANDET_INT32, 2, (int32_t[]){ 2, 2 }, pads, 1), NULL };
    quant(&a, 0.1f, 7);
    ld_tensor *out = tens(&o, LEANDET_UINT8, 0, NULL, NULL, 0);
    quant(&o, 0.1f, 7);
    reset_params();
    st = run_op(LD_OP_PAD, in, 2, out, y, sizeof y, &err);
    OK(st, err);
    static const uint8_t want[] = { 7, 7, 7, 7, 7, 1, 2, 3, 7, 7, 4, 5, 6, 7, 7 }; /* pad value = zero point */
    CHECK(shape_is(out, 2, (int32_t[]){ 3, 5 }) && memcmp(y, want, sizeof want) == 0);

    /* PADV2 with an explicit float value, 3-D */
    float fx3[] = { 1, 2, 3, 4 }, fy[64], cv = 9.5f;
    int32_t pads3[] = { 0, 1, 1, 0, 0, 1 };
    in[0] = tens(&a, LEANDET_FLOAT32, 3, (int32_t[]){ 1, 2, 2 }, fx3, 0);
    in[1] = tens(&p, LEANDET_INT32, 2, (int32_t[]){ 3, 2 }, pads3, 1);
    in[2] = tens(&v, LEANDET_FLOAT32, 0, NULL, &cv, 1);
    out = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    st = run_op(LD_OP_PADV2, in, 3, out, fy, sizeof fy, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 2, 3, 3 }));
    int bad = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) {
                float w = i == 0 && j >= 1 && k < 2 ? fx3[(j - 1) * 2 + k] : 9.5f;
                bad += fy[(i * 3 + j) * 3 + k] != w;
            }
    CHECK(bad == 0);

    /* errors */
    int32_t neg[] = { 0, -1, 0, 0 };
    in[0] = tens(&a, LEANDET_UINT8, 2, (int32_t[]){ 2, 3 }, x, 0);
    in[1] = tens(&p, LEANDET_INT32, 2, (int32_t[]){ 2, 2 }, neg, 1);
    out = tens(&o, LEANDET_UINT8, 0, NULL, NULL, 0);
    st = run_op(LD_OP_PAD, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "negative");
    in[1] = tens(&p, LEANDET_INT32, 2, (int32_t[]){ 2, 2 }, pads, 0);
    st = run_op(LD_OP_PAD, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_UNSUPPORTED, "must be constant");
    in[1] = tens(&p, LEANDET_INT32, 2, (int32_t[]){ 1, 2 }, pads, 1);
    st = run_op(LD_OP_PAD, in, 2, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "shape [2, 2]");
}

/* ---- MEAN ------------------------------------------------------------ */

static void test_mean(void)
{
    fx a, x_, o;
    leandet_error err;
    leandet_status st;
    /* float [2,3,2] over axis 1 (given twice, once negative): integer-valued, exact */
    float xf[] = { 1, 2, 3, 4, 5, 9, -1, -2, -3, -4, -5, -9 }, yf[8];
    int32_t ax[] = { 1, -2 };
    ld_tensor *in[] = { tens(&a, LEANDET_FLOAT32, 3, (int32_t[]){ 2, 3, 2 }, xf, 0),
                        tens(&x_, LEANDET_INT32, 1, (int32_t[]){ 2 }, ax, 1) };
    ld_tensor *out = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    reset_params();
    P.reducer.keep_dims = 1;
    st = run_op(LD_OP_MEAN, in, 2, out, yf, sizeof yf, &err);
    OK(st, err);
    CHECK(shape_is(out, 3, (int32_t[]){ 2, 1, 2 }));
    CHECK(yf[0] == 3 && yf[1] == 5 && yf[2] == -3 && yf[3] == -5);
    P.reducer.keep_dims = 0;
    st = run_op(LD_OP_MEAN, in, 2, out, yf, sizeof yf, &err);
    OK(st, err);
    CHECK(shape_is(out, 2, (int32_t[]){ 2, 2 }));

    /* int32 truncates toward zero: (-7 + 2) / 2 = -2, (7 + 2) / 2 = 4 */
    int32_t xi[] = { -7, 7, 2, 2 }, yi[2], ax0[] = { 0 };
    in[0] = tens(&a, LEANDET_INT32, 2, (int32_t[]){ 2, 2 }, xi, 0);
    in[1] = tens(&x_, LEANDET_INT32, 1, (int32_t[]){ 1 }, ax0, 1);
    out = tens(&o, LEANDET_INT32, 0, NULL, NULL, 0);
    st = run_op(LD_OP_MEAN, in, 2, out, yi, sizeof yi, &err);
    OK(st, err);
    CHECK(yi[0] == -2 && yi[1] == 4);

    /* int8, same scale: the multiplier 1.0 = 2^30 * 2^1 absorbs 1/4 as
     * 2^30 * 2^-1, so the result is sum/2 (high multiply: ties round up)
     * then /2 (rounding shift: ties away from zero) -- TFLite's double
     * rounding: sum 9 -> 4.5 -> 5 -> 2.5 -> 3 (a plain mean gives 2);
     * 10 -> 5 -> 2.5 -> 3; -9 -> -4.5 -> -4 -> -2; 8 -> 4 -> 2. */
    int8_t q[] = { 0, 1, -1, 2, 4, 2, -2, 2, 2, 3, -3, 2, 3, 4, -3, 2 }, qy[4];
    int32_t ax1[] = { 0 };
    in[0] = tens(&a, LEANDET_INT8, 2, (int32_t[]){ 4, 4 }, q, 0);
    quant(&a, 0.5f, 0);
    in[1] = tens(&x_, LEANDET_INT32, 1, (int32_t[]){ 1 }, ax1, 1);
    out = tens(&o, LEANDET_INT8, 0, NULL, NULL, 0);
    quant(&o, 0.5f, 0);
    st = run_op(LD_OP_MEAN, in, 2, out, qy, sizeof qy, &err);
    OK(st, err);
    CHECK(qy[0] == 3 && qy[1] == 3 && qy[2] == -2 && qy[3] == 2);

    /* uint8 into another scale and zero point: real = 0.5*(q-0), out scale 1,
     * zp 10. Multiplier 0.5 = 2^30 * 2^0; with count 2 it becomes 2^30 * 2^-1:
     * the same two roundings. sums 6 -> 3 -> 1.5 -> 2 (+10 = 12);
     * 5 -> 2.5 -> 3 -> 1.5 -> 2 (12); 501 -> 250.5 -> 251 -> 125.5 -> 126 (136). */
    uint8_t u[] = { 2, 4, 250, 4, 1, 251 }, uy[3];
    in[0] = tens(&a, LEANDET_UINT8, 2, (int32_t[]){ 2, 3 }, u, 0);
    quant(&a, 0.5f, 0);
    out = tens(&o, LEANDET_UINT8, 0, NULL, NULL, 0);
    quant(&o, 1.0f, 10);
    st = run_op(LD_OP_MEAN, in, 2, out, uy, sizeof uy, &err);
    OK(st, err);
    CHECK(uy[0] == 12 && uy[1] == 12 && uy[2] == 136);

    /* errors */
    int32_t axbad[] = { 2 };
    in[1] = tens(&x_, LEANDET_INT32, 1, (int32_t[]){ 1 }, axbad, 1);
    st = run_op(LD_OP_MEAN, in, 2, out, uy, sizeof uy, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "axis 2 is out of range");
    in[1] = tens(&x_, LEANDET_INT32, 1, (int32_t[]){ 1 }, ax1, 0);
    st = run_op(LD_OP_MEAN, in, 2, out, uy, sizeof uy, &err);
    FAILS(st, err, LEANDET_ERR_UNSUPPORTED, "must be constant");
}

/* ---- RESIZE ---------------------------------------------------------- */

static leandet_status resize(int op, ld_dtype t, const int32_t *dims, const void *x, int oh, int ow, void *y,
                             size_t cap, ld_tensor **outp, leandet_error *err)
{
    static fx a, s, o;
    static int32_t size[2];
    size[0] = oh;
    size[1] = ow;
    ld_tensor *in[] = { tens(&a, t, 4, dims, x, 0), tens(&s, LEANDET_INT32, 1, (int32_t[]){ 2 }, size, 1) };
    *outp = tens(&o, t, 0, NULL, NULL, 0);
    return run_op(op, in, 2, *outp, y, cap, err);
}

static void test_resize(void)
{
    ld_tensor *out;
    leandet_error err;
    leandet_status st;
    int bad;

    /* nearest, plain: scale 1/2 -> source index floor(x / 2) */
    uint8_t n4[] = { 1, 2, 3, 4 }, ny[32];
    reset_params();
    st = resize(LD_OP_RESIZE_NEAREST_NEIGHBOR, LEANDET_UINT8, (int32_t[]){ 1, 2, 2, 1 }, n4, 4, 4, ny, sizeof ny, &out,
                &err);
    OK(st, err);
    CHECK(shape_is(out, 4, (int32_t[]){ 1, 4, 4, 1 }));
    bad = 0;
    for (int yy = 0; yy < 4; yy++)
        for (int xx = 0; xx < 4; xx++)
            bad += ny[yy * 4 + xx] != n4[(yy / 2) * 2 + xx / 2];
    CHECK(bad == 0);

    /* nearest, align_corners 3 -> 5: scale 0.5, index round(x * 0.5) with halves
     * away from zero: 0, 1, 1, 2, 2 */
    uint8_t n9[] = { 10, 11, 12, 13, 14, 15, 16, 17, 18 };
    static const int ac[] = { 0, 1, 1, 2, 2 };
    P.resize.align_corners = 1;
    st = resize(LD_OP_RESIZE_NEAREST_NEIGHBOR, LEANDET_UINT8, (int32_t[]){ 1, 3, 3, 1 }, n9, 5, 5, ny, sizeof ny, &out,
                &err);
    OK(st, err);
    bad = 0;
    for (int yy = 0; yy < 5; yy++)
        for (int xx = 0; xx < 5; xx++)
            bad += ny[yy * 5 + xx] != n9[ac[yy] * 3 + ac[xx]];
    CHECK(bad == 0);

    /* nearest, half_pixel 2 -> 3: floor((x + 0.5) * 2/3) = 0, 1, 1 */
    reset_params();
    P.resize.half_pixel_centers = 1;
    st = resize(LD_OP_RESIZE_NEAREST_NEIGHBOR, LEANDET_UINT8, (int32_t[]){ 1, 2, 2, 1 }, n4, 3, 3, ny, sizeof ny, &out,
                &err);
    OK(st, err);
    CHECK(ny[0] == 1 && ny[1] == 2 && ny[2] == 2 && ny[3] == 3 && ny[4] == 4 && ny[8] == 4);

    /* bilinear float 2x2 -> 4x4: source coordinate x/2, the last column
     * clamps to the edge: row weights give a, (a+b)/2, b, b */
    float f4[] = { 0, 1, 2, 3 }, fy[16];
    reset_params();
    st = resize(LD_OP_RESIZE_BILINEAR, LEANDET_FLOAT32, (int32_t[]){ 1, 2, 2, 1 }, f4, 4, 4, fy, sizeof fy, &out, &err);
    OK(st, err);
    static const float lin[] = { 0, 0.5f, 1, 1 }; /* 1-D profile of coordinate x/2 on 2 samples */
    bad = 0;
    for (int yy = 0; yy < 4; yy++)
        for (int xx = 0; xx < 4; xx++)
            bad += fy[yy * 4 + xx] != 2 * lin[yy] + lin[xx];
    CHECK(bad == 0);

    /* bilinear uint8: the same profile on (0, 3; 6, 9) is 6*ly + 3*lx, then
     * +0.5 and truncation: 1.5 -> 2, 4.5 -> 5, 7.5 -> 8 */
    uint8_t u4[] = { 0, 3, 6, 9 }, uy[16];
    st = resize(LD_OP_RESIZE_BILINEAR, LEANDET_UINT8, (int32_t[]){ 1, 2, 2, 1 }, u4, 4, 4, uy, sizeof uy, &out, &err);
    OK(st, err);
    bad = 0;
    for (int yy = 0; yy < 4; yy++)
        for (int xx = 0; xx < 4; xx++)
            bad += uy[yy * 4 + xx] != (uint8_t)(6 * lin[yy] + 3 * lin[xx] + 0.5f);
    CHECK(bad == 0);

    /* bilinear int8 (10-bit fixed point): scale_10 = (2048 + 2) / 4 = 512, so
     * the same profile; products are rounded half away from zero:
     * mean(-11, -10) = -10.5 -> -11, mean(-11, 31) = 10, centre
     * mean(-11, -10, 31, 50) = 15 */
    int8_t i4[] = { -11, -10, 31, 50 }, iy[16];
    st = resize(LD_OP_RESIZE_BILINEAR, LEANDET_INT8, (int32_t[]){ 1, 2, 2, 1 }, i4, 4, 4, iy, sizeof iy, &out, &err);
    OK(st, err);
    CHECK(iy[0] == -11 && iy[1] == -11 && iy[2] == -10 && iy[3] == -10);
    CHECK(iy[4] == 10 && iy[5] == 15 && iy[15] == 50);

    /* errors */
    st = resize(LD_OP_RESIZE_BILINEAR, LEANDET_UINT8, (int32_t[]){ 1, 2, 2, 1 }, u4, 0, 4, uy, sizeof uy, &out, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "positive");
    P.resize.align_corners = P.resize.half_pixel_centers = 1;
    st = resize(LD_OP_RESIZE_BILINEAR, LEANDET_UINT8, (int32_t[]){ 1, 2, 2, 1 }, u4, 4, 4, uy, sizeof uy, &out, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "both set");
    reset_params();
    {
        fx a, s, o;
        int32_t size[] = { 4, 4 };
        ld_tensor *in[] = { tens(&a, LEANDET_UINT8, 3, (int32_t[]){ 2, 2, 1 }, u4, 0),
                            tens(&s, LEANDET_INT32, 1, (int32_t[]){ 2 }, size, 1) };
        st = run_op(LD_OP_RESIZE_BILINEAR, in, 2, tens(&o, LEANDET_UINT8, 0, NULL, NULL, 0), uy, sizeof uy, &err);
        FAILS(st, err, LEANDET_ERR_MODEL, "rank 3, expected 4");
        in[0] = tens(&a, LEANDET_UINT8, 4, (int32_t[]){ 1, 2, 2, 1 }, u4, 0);
        in[1] = tens(&s, LEANDET_INT32, 1, (int32_t[]){ 2 }, size, 0);
        st = run_op(LD_OP_RESIZE_NEAREST_NEIGHBOR, in, 2, tens(&o, LEANDET_UINT8, 0, NULL, NULL, 0), uy, sizeof uy,
                    &err);
        FAILS(st, err, LEANDET_ERR_UNSUPPORTED, "must be constant");
    }
}

/* ---- DEPTH_TO_SPACE -------------------------------------------------- */

static void test_depth_to_space(void)
{
    fx a, o;
    leandet_error err;
    leandet_status st;
    /* [1,2,3,8], block 2 -> [1,4,6,2]; out(h, w, c) = in(h/2, w/2, ((h%2)*2 + w%2)*2 + c) */
    int16_t x[48], y[48];
    for (int i = 0; i < 48; i++)
        x[i] = (int16_t)(i * 11 - 200);
    ld_tensor *in[] = { tens(&a, LEANDET_INT16, 4, (int32_t[]){ 1, 2, 3, 8 }, x, 0) };
    ld_tensor *out = tens(&o, LEANDET_INT16, 0, NULL, NULL, 0);
    reset_params();
    P.depth_to_space.block_size = 2;
    st = run_op(LD_OP_DEPTH_TO_SPACE, in, 1, out, y, sizeof y, &err);
    OK(st, err);
    CHECK(shape_is(out, 4, (int32_t[]){ 1, 4, 6, 2 }));
    int bad = 0;
    for (int h = 0; h < 4; h++)
        for (int w = 0; w < 6; w++)
            for (int c = 0; c < 2; c++)
                bad += y[(h * 6 + w) * 2 + c] != x[((h / 2) * 3 + w / 2) * 8 + ((h % 2) * 2 + w % 2) * 2 + c];
    CHECK(bad == 0);

    /* errors */
    in[0] = tens(&a, LEANDET_INT16, 4, (int32_t[]){ 1, 2, 3, 6 }, x, 0);
    st = run_op(LD_OP_DEPTH_TO_SPACE, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "not a multiple");
    P.depth_to_space.block_size = 0;
    st = run_op(LD_OP_DEPTH_TO_SPACE, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "block_size 0");
}

/* ---- DENSIFY --------------------------------------------------------- */

static ld_dim_meta dense_dim(int32_t n)
{
    ld_dim_meta m = { LD_DIM_DENSE, n, 0, 0, NULL, NULL };
    return m;
}

static ld_dim_meta csr_dim(int nseg, int32_t *seg, int nidx, int32_t *idx)
{
    ld_dim_meta m = { LD_DIM_SPARSE_CSR, 0, nseg, nidx, seg, idx };
    return m;
}

static void test_densify(void)
{
    fx a, o;
    leandet_error err;
    leandet_status st;
    /* CSR 3x4:  [5 0 0 7; 0 0 0 0; 0 8 9 0] */
    float vals[] = { 5, 7, 8, 9 }, y[16];
    int32_t seg[] = { 0, 2, 2, 4 }, idx[] = { 0, 3, 1, 2 }, trav[] = { 0, 1 };
    ld_dim_meta dims[] = { dense_dim(3), csr_dim(4, seg, 4, idx) };
    ld_sparsity sp = { 2, 0, 2, trav, NULL, dims };
    ld_tensor *in[] = { tens(&a, LEANDET_FLOAT32, 2, (int32_t[]){ 3, 4 }, vals, 1) };
    a.desc.sparsity = &sp;
    a.t.bytes = a.desc.data_bytes = sizeof vals;
    ld_tensor *out = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    reset_params();
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    OK(st, err);
    static const float want[] = { 5, 0, 0, 7, 0, 0, 0, 0, 0, 8, 9, 0 };
    CHECK(shape_is(out, 2, (int32_t[]){ 3, 4 }) && memcmp(y, want, sizeof want) == 0);

    /* 2x2 blocks on a 4x4 int8 matrix: block rows CSR over block columns;
     * blocks (0,1) and (1,0) stored, each 2x2 dense in row order */
    int8_t bv[] = { 1, 2, 3, 4, 5, 6, 7, 8 }, by[16];
    int32_t bseg[] = { 0, 1, 2 }, bidx[] = { 1, 0 }, btrav[] = { 0, 1, 2, 3 }, bmap[] = { 0, 1 };
    ld_dim_meta bdims[] = { dense_dim(2), csr_dim(3, bseg, 2, bidx), dense_dim(2), dense_dim(2) };
    ld_sparsity bsp = { 4, 2, 4, btrav, bmap, bdims };
    in[0] = tens(&a, LEANDET_INT8, 2, (int32_t[]){ 4, 4 }, bv, 1);
    a.desc.sparsity = &bsp;
    a.t.bytes = a.desc.data_bytes = sizeof bv;
    out = tens(&o, LEANDET_INT8, 0, NULL, NULL, 0);
    st = run_op(LD_OP_DENSIFY, in, 1, out, by, sizeof by, &err);
    OK(st, err);
    static const int8_t bwant[] = { 0, 0, 1, 2, 0, 0, 3, 4, 5, 6, 0, 0, 7, 8, 0, 0 };
    CHECK(memcmp(by, bwant, sizeof bwant) == 0);

    /* hostile metadata: every inconsistency is refused in prepare */
    in[0] = tens(&a, LEANDET_FLOAT32, 2, (int32_t[]){ 3, 4 }, vals, 1);
    a.desc.sparsity = &sp;
    a.t.bytes = a.desc.data_bytes = sizeof vals;
    out = tens(&o, LEANDET_FLOAT32, 0, NULL, NULL, 0);
    idx[1] = 4; /* column 4 of 4 */
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "index 1 = 4 is outside 0..3");
    idx[1] = 3;
    seg[2] = 1; /* segments 0 2 1 4 */
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "segments decrease");
    seg[2] = 2;
    dims[1].n_segments = 3; /* three rows need four segment entries */
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "segments");
    dims[1].n_segments = 4;
    a.t.bytes = 3 * sizeof(float); /* fewer stored values than the tree has leaves */
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "describes 4 values, the buffer holds 3");
    a.t.bytes = sizeof vals;
    dims[0].dense_size = 4; /* dense level larger than the dim */
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "dense level 0 has size 4");
    dims[0].dense_size = 3;
    trav[1] = 0;
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "traversal_order");
    trav[1] = 1;
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err); /* repaired: works again */
    OK(st, err);
    a.desc.sparsity = NULL;
    st = run_op(LD_OP_DENSIFY, in, 1, out, y, sizeof y, &err);
    FAILS(st, err, LEANDET_ERR_MODEL, "no sparsity");
}

int main(void)
{
    test_reshape();
    test_concat();
    test_transpose();
    test_strided_slice();
    test_pad();
    test_mean();
    test_resize();
    test_depth_to_space();
    test_densify();
    return ld_test_finish();
}

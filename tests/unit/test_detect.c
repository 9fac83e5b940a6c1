/* Detection: the TFLite_Detection_PostProcess kernel on synthetic inputs
 * (expected values worked out by hand from the formulas), YOLO and
 * MediaPipe decoders, NMS, anchors (expected numbers from an independent
 * re-implementation of MediaPipe's SsdAnchorsCalculator in Python with
 * float32 arithmetic), label files, letterbox mapping and the automatic
 * decoder choice on the real models. The optimized post-process (8-bit
 * scores, fast NMS) is swept against the reference kernel byte for byte. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/anchors.h"
#include "detect/detect.h"
#include "detect/labels.h"
#include "detect/sort.h"
#include "harness.h"
#include "image/preprocess.h"
#include "kernels/kernel.h"
#include "model/model.h"
#include "runtime/threadpool.h"

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol))

/* ---- a FlexBuffer map builder (all widths 4) ---------------------------- */

typedef struct fopt {
    const char *key; /* callers list keys in strcmp order, as flexbuffers stores them */
    char kind;       /* 'i' int, 'f' float, 'b' bool */
    double v;
} fopt;

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static size_t flex_build(uint8_t *b, const fopt *o, int n)
{
    size_t p = 0, kpos[32];
    for (int i = 0; i < n; i++) {
        kpos[i] = p;
        size_t l = strlen(o[i].key) + 1;
        memcpy(b + p, o[i].key, l);
        p += l;
    }
    p = (p + 3) & ~(size_t)3;
    put32(b + p, (uint32_t)n);
    p += 4;
    const size_t keys = p;
    for (int i = 0; i < n; i++, p += 4)
        put32(b + p, (uint32_t)(p - kpos[i]));
    put32(b + p, (uint32_t)(p - keys));
    p += 4;
    put32(b + p, 4);
    p += 4;
    put32(b + p, (uint32_t)n);
    p += 4;
    const size_t data = p;
    for (int i = 0; i < n; i++, p += 4) {
        if (o[i].kind == 'f') {
            float f = (float)o[i].v;
            uint32_t u;
            memcpy(&u, &f, 4);
            put32(b + p, u);
        } else {
            put32(b + p, (uint32_t)(int32_t)o[i].v);
        }
    }
    for (int i = 0; i < n; i++)
        b[p++] = o[i].kind == 'f' ? (3 << 2 | 2) : o[i].kind == 'b' ? (26 << 2) : (1 << 2 | 2);
    put32(b + p, (uint32_t)(p - data));
    p += 4;
    b[p++] = 9 << 2 | 2; /* map, width 4 */
    b[p++] = 4;
    return p;
}

/* ---- running the post-process kernel by hand ---------------------------- */

#define PP_SLOTS 64

typedef struct pp {
    ld_tensor in[3], out[4];
    ld_tensor *pin[3], *pout[4];
    ld_quant q[3], none;
    float qs[3];
    int32_t qz[3];
    float ob[4 * PP_SLOTS], oc[PP_SLOTS], os[PP_SLOTS], on[1];
    uint8_t opts[1024];
    ld_op_desc op;
    ld_op_ctx c;
    ld_alloc al;
    leandet_error err;
} pp;

static void tensor_set(ld_tensor *t, ld_dtype type, const void *data, int rank, int d0, int d1, int d2,
                       const ld_quant *q)
{
    memset(t, 0, sizeof *t);
    t->type = type;
    t->shape.rank = rank;
    t->shape.d[0] = d0;
    t->shape.d[1] = d1;
    t->shape.d[2] = d2;
    t->quant = q;
    t->data = (void *)data;
    t->bytes = (size_t)d0 * (size_t)d1 * (size_t)(rank == 3 ? d2 : 1) * leandet_dtype_size(type);
}

/* Float inputs: boxes [1,n,4], scores [1,n,cols], anchors [n,4]. */
static void pp_init(pp *r, const fopt *o, int no, const float *boxes, const float *scores, const float *anchors,
                    int n, int cols)
{
    memset(r, 0, sizeof *r);
    tensor_set(&r->in[0], LEANDET_FLOAT32, boxes, 3, 1, n, 4, &r->none);
    tensor_set(&r->in[1], LEANDET_FLOAT32, scores, 3, 1, n, cols, &r->none);
    tensor_set(&r->in[2], LEANDET_FLOAT32, anchors, 2, n, 4, 0, &r->none);
    float *bufs[4] = { r->ob, r->oc, r->os, r->on };
    size_t sizes[4] = { sizeof r->ob, sizeof r->oc, sizeof r->os, sizeof r->on };
    for (int i = 0; i < 4; i++) {
        memset(&r->out[i], 0, sizeof r->out[i]);
        r->out[i].type = LEANDET_FLOAT32;
        r->out[i].quant = &r->none;
        r->out[i].data = bufs[i];
        r->out[i].bytes = sizes[i];
        r->pout[i] = &r->out[i];
    }
    for (int i = 0; i < 3; i++)
        r->pin[i] = &r->in[i];
    r->op.builtin = LD_OP_CUSTOM;
    r->op.custom_name = "TFLite_Detection_PostProcess";
    r->op.custom_options = o ? r->opts : NULL;
    r->op.custom_options_bytes = o ? flex_build(r->opts, o, no) : 0;
    ld_alloc_init(&r->al, NULL);
    r->c = (ld_op_ctx){ .op = &r->op, .index = 7, .n_in = 3, .n_out = 4, .in = r->pin, .out = r->pout,
                       .alloc = &r->al, .err = &r->err };
}

static void pp_quantize(pp *r, int i, ld_dtype type, const void *data, float scale, int32_t zp)
{
    r->qs[i] = scale;
    r->qz[i] = zp;
    r->q[i] = (ld_quant){ 1, 0, &r->qs[i], &r->qz[i] };
    ld_tensor *t = &r->in[i];
    tensor_set(t, type, data, t->shape.rank, t->shape.d[0], t->shape.d[1], t->shape.d[2], &r->q[i]);
}

/* Prepare then eval; returns the first failing status. */
static leandet_status pp_run(pp *r)
{
    const ld_kernel *k = ld_kernel_find(&r->op);
    if (!k)
        return LEANDET_ERR_INTERNAL;
    leandet_status st = k->prepare(&r->c);
    if (st)
        return st;
    r->c.scratch = malloc(r->c.scratch_bytes ? r->c.scratch_bytes : 1);
    /* outputs hold stale data before eval, as an arena would */
    memset(r->ob, 0x55, sizeof r->ob);
    memset(r->oc, 0x55, sizeof r->oc);
    memset(r->os, 0x55, sizeof r->os);
    st = k->eval(&r->c);
    free(r->c.scratch);
    return st;
}

static void pp_done(pp *r)
{
    ld_free(&r->al, r->c.state);
    r->c.state = NULL;
}

#define BASE_OPTS(max_det, max_cls, ncls, thr, iou, regular)                                             \
    { "h_scale", 'f', 5 }, { "max_classes_per_detection", 'i', max_cls }, { "max_detections", 'i', max_det }, \
        { "nms_iou_threshold", 'f', iou }, { "nms_score_threshold", 'f', thr }, { "num_classes", 'i', ncls }, \
        { "use_regular_nms", 'b', regular }, { "w_scale", 'f', 5 }, { "x_scale", 'f', 10 }, { "y_scale", 'f', 10 }

static int box_is(const float *b, double y0, double x0, double y1, double x1, double tol)
{
    return NEAR(b[0], y0, tol) && NEAR(b[1], x0, tol) && NEAR(b[2], y1, tol) && NEAR(b[3], x1, tol);
}

static void test_pp_decode(void)
{
    /* anchors y, x, h, w; encodings y, x, h, w with scales 10, 10, 5, 5 */
    const float anchors[8] = { 0.5f, 0.5f, 0.2f, 0.4f, 0.1f, 0.1f, 0.1f, 0.1f };
    const float boxes[8] = { 1.0f, -2.0f, 0.5f, -1.0f, 0, 0, 0, 0 };
    const float scores[6] = { 0.0f, 0.9f, 0.0f, 0.8f, 0, 0 }; /* background column first */
    fopt o[] = { BASE_OPTS(2, 1, 1, 0.0, 0.5, 0) };
    pp r;
    pp_init(&r, o, 10, boxes, scores, anchors, 2, 2);
    CHECK(pp_run(&r) == LEANDET_OK);
    CHECK(r.out[0].shape.rank == 3 && r.out[0].shape.d[1] == 2 && r.out[0].shape.d[2] == 4);
    CHECK(r.out[1].shape.rank == 2 && r.out[3].shape.rank == 1 && r.out[3].shape.d[0] == 1);
    CHECK(r.c.scratch_bytes > 0);
    /* yc = 1/10*0.2 + 0.5, xc = -2/10*0.4 + 0.5, half h = exp(0.5/5)*0.2/2, half w = exp(-1/5)*0.4/2 */
    const double yc = 0.52, xc = 0.42, hh = 0.1 * exp(0.1), hw = 0.2 * exp(-0.2);
    CHECK(r.on[0] == 2.0f);
    CHECK(box_is(r.ob, yc - hh, xc - hw, yc + hh, xc + hw, 1e-6));
    CHECK(r.oc[0] == 0.0f && r.os[0] == 0.9f);
    CHECK(box_is(r.ob + 4, 0.05, 0.05, 0.15, 0.15, 1e-6) && r.os[1] == 0.8f);
    pp_done(&r);
}

/* Four boxes (zero encodings: box = anchor), two classes plus background:
 *   A [.2,.2,.4,.4]  class scores .9 / .1
 *   B [.21,.2,.41,.4] (IoU with A .905)  .2 / .8
 *   C [.6,.6,.8,.8]   .05 / .6
 *   D [.22,.2,.42,.4] (IoU with A .818)  .85 / 0 */
static const float ov_anchors[16] = { .3f, .3f, .2f, .2f, .31f, .3f, .2f, .2f,
                                      .7f, .7f, .2f, .2f, .32f, .3f, .2f, .2f };
static const float ov_boxes[16] = { 0 };
static const float ov_scores[12] = { 0, .9f, .1f, 0, .2f, .8f, 0, .05f, .6f, 0, .85f, 0 };

static void test_pp_fast_vs_regular(void)
{
    pp r;
    /* fast: one NMS over each box's best score: A (.9) suppresses D and B; C stays */
    fopt fast[] = { BASE_OPTS(5, 1, 2, 0.1, 0.5, 0) };
    pp_init(&r, fast, 10, ov_boxes, ov_scores, ov_anchors, 4, 3);
    CHECK(pp_run(&r) == LEANDET_OK);
    CHECK(r.on[0] == 2.0f);
    CHECK(r.oc[0] == 0.0f && r.os[0] == .9f && box_is(r.ob, .2, .2, .4, .4, 1e-6));
    CHECK(r.oc[1] == 1.0f && r.os[1] == .6f && box_is(r.ob + 4, .6, .6, .8, .8, 1e-6));
    for (int i = 2; i < 5; i++) /* unused slots are zero, not stale */
        CHECK(r.oc[i] == 0.0f && r.os[i] == 0.0f && box_is(r.ob + 4 * i, 0, 0, 0, 0, 0));
    pp_done(&r);

    /* regular: per class. class 0: A (suppresses B, D; C below .1). class 1:
     * B (suppresses A), C. merged by score: A .9, B .8, C .6 */
    fopt reg[] = { BASE_OPTS(5, 1, 2, 0.1, 0.5, 1) };
    pp_init(&r, reg, 10, ov_boxes, ov_scores, ov_anchors, 4, 3);
    CHECK(pp_run(&r) == LEANDET_OK);
    CHECK(r.on[0] == 3.0f);
    CHECK(r.oc[0] == 0.0f && r.os[0] == .9f && box_is(r.ob, .2, .2, .4, .4, 1e-6));
    CHECK(r.oc[1] == 1.0f && r.os[1] == .8f && box_is(r.ob + 4, .21, .2, .41, .4, 1e-6));
    CHECK(r.oc[2] == 1.0f && r.os[2] == .6f && box_is(r.ob + 8, .6, .6, .8, .8, 1e-6));
    CHECK(r.oc[3] == 0.0f && r.os[3] == 0.0f);
    pp_done(&r);

    /* regular, max_detections 2 caps the merged list */
    fopt reg2[] = { BASE_OPTS(2, 1, 2, 0.1, 0.5, 1) };
    pp_init(&r, reg2, 10, ov_boxes, ov_scores, ov_anchors, 4, 3);
    CHECK(pp_run(&r) == LEANDET_OK && r.on[0] == 2.0f && r.os[0] == .9f && r.os[1] == .8f);
    pp_done(&r);

    /* regular with detections_per_class 1 and IoU 0.95 (nothing overlaps that
     * much): class 0 keeps only A, class 1 only B */
    fopt reg3[] = { { "detections_per_class", 'i', 1 }, BASE_OPTS(5, 1, 2, 0.1, 0.95, 1) };
    pp_init(&r, reg3, 11, ov_boxes, ov_scores, ov_anchors, 4, 3);
    CHECK(pp_run(&r) == LEANDET_OK && r.on[0] == 2.0f && r.os[0] == .9f && r.oc[1] == 1.0f && r.os[1] == .8f);
    pp_done(&r);

    /* regular, equal scores in two classes: the earlier class comes first */
    const float tie_scores[12] = { 0, 0, .7f, 0, 0, 0, 0, .7f, 0, 0, 0, 0 };
    pp_init(&r, reg, 10, ov_boxes, tie_scores, ov_anchors, 4, 3);
    CHECK(pp_run(&r) == LEANDET_OK && r.on[0] == 2.0f);
    CHECK(r.oc[0] == 0.0f && box_is(r.ob, .6, .6, .8, .8, 1e-6));
    CHECK(r.oc[1] == 1.0f && box_is(r.ob + 4, .2, .2, .4, .4, 1e-6));
    pp_done(&r);

    /* fast, two classes per detection: slots (A c0 .9)(A c1 .1)(C c1 .6)(C c0 .05) */
    fopt fast2[] = { BASE_OPTS(3, 2, 2, 0.1, 0.5, 0) };
    pp_init(&r, fast2, 10, ov_boxes, ov_scores, ov_anchors, 4, 3);
    CHECK(pp_run(&r) == LEANDET_OK);
    CHECK(r.out[0].shape.d[1] == 6 && r.on[0] == 2.0f);
    CHECK(r.oc[0] == 0.0f && r.os[0] == .9f && r.oc[1] == 1.0f && r.os[1] == .1f);
    CHECK(r.oc[2] == 1.0f && r.os[2] == .6f && r.oc[3] == 0.0f && r.os[3] == .05f);
    CHECK(box_is(r.ob + 4, .2, .2, .4, .4, 1e-6) && box_is(r.ob + 12, .6, .6, .8, .8, 1e-6));
    CHECK(r.os[4] == 0.0f && r.os[5] == 0.0f);
    pp_done(&r);
}

static void test_pp_ties_and_background(void)
{
    /* three far-apart boxes with equal scores: output in index order */
    const float anchors[12] = { .1f, .1f, .1f, .1f, .5f, .5f, .1f, .1f, .9f, .9f, .1f, .1f };
    const float boxes[12] = { 0 };
    const float scores[6] = { .5f, .5f, .5f, .5f, .5f, .5f }; /* no background column: 2 classes */
    fopt o[] = { BASE_OPTS(3, 1, 2, 0.1, 0.5, 0) };
    pp r;
    pp_init(&r, o, 10, boxes, scores, anchors, 3, 2);
    CHECK(pp_run(&r) == LEANDET_OK && r.on[0] == 3.0f);
    CHECK(NEAR(r.ob[0], .05, 1e-6) && NEAR(r.ob[4], .45, 1e-6) && NEAR(r.ob[8], .85, 1e-6));
    CHECK(r.oc[0] == 0.0f && r.oc[1] == 0.0f && r.oc[2] == 0.0f); /* first of two equal classes */
    pp_done(&r);
}

static void test_pp_quantized(void)
{
    /* uint8 boxes (scale .1, zp 128), scores (1/256, 0), anchors (.01, 0) */
    const uint8_t boxes[4] = { 138, 128, 128, 128 }; /* y = 1.0 */
    const uint8_t scores[2] = { 3, 230 };           /* .01171875, .8984375 */
    const uint8_t anchors[4] = { 50, 50, 20, 40 };  /* y .5, x .5, h .2, w .4 */
    const int8_t sboxes[4] = { 10, 0, 0, 0 };       /* int8 with zp 0: y = 1.0 */
    fopt o[] = { BASE_OPTS(1, 1, 1, 0.0, 0.5, 0) };
    for (int signed_boxes = 0; signed_boxes < 2; signed_boxes++) {
        pp r;
        pp_init(&r, o, 10, NULL, NULL, NULL, 1, 2);
        if (signed_boxes)
            pp_quantize(&r, 0, LEANDET_INT8, sboxes, 0.1f, 0);
        else
            pp_quantize(&r, 0, LEANDET_UINT8, boxes, 0.1f, 128);
        pp_quantize(&r, 1, LEANDET_UINT8, scores, 1.0f / 256, 0);
        pp_quantize(&r, 2, LEANDET_UINT8, anchors, 0.01f, 0);
        CHECK(pp_run(&r) == LEANDET_OK && r.on[0] == 1.0f);
        CHECK(r.os[0] == 230.0f / 256 && r.oc[0] == 0.0f);
        /* yc = 1/10 * .2 + .5 = .52, half sizes .1 and .2 */
        CHECK(box_is(r.ob, .42, .3, .62, .7, 1e-5));
        pp_done(&r);
    }
}

/* Prepare with the reference kernel, eval with `k` (same state and
 * scratch layout: the optimized kernel shares the reference's prepare). */
static leandet_status pp_run_with(pp *r, const ld_kernel *k, ld_pool *pool)
{
    leandet_status st = k->prepare(&r->c);
    if (st)
        return st;
    r->c.scratch = malloc(r->c.scratch_bytes ? r->c.scratch_bytes : 1);
    memset(r->c.scratch, 0xa5, r->c.scratch_bytes);
    memset(r->ob, 0x55, sizeof r->ob);
    memset(r->oc, 0x55, sizeof r->oc);
    memset(r->os, 0x55, sizeof r->os);
    memset(r->on, 0x55, sizeof r->on);
    r->c.pool = pool;
    st = k->eval(&r->c);
    free(r->c.scratch);
    r->c.scratch = NULL;
    return st;
}

static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Random SSD-like cases: 8-bit or float scores with many ties (narrow ranges),
 * thresholds that keep all or few anchors, 1..3 classes per detection,
 * with and without a background column, serial and on 2 threads, one in
 * eight with a negative anchor size (an inverted box: the same error). */
static void test_pp_optimized_matches_reference(void)
{
    ld_alloc al;
    ld_alloc_init(&al, NULL);
    leandet_error err;
    ld_pool *pool = NULL;
    CHECK(ld_pool_create(2, NULL, 0, &al, &pool, &err) == LEANDET_OK);
    static uint8_t boxes[1917 * 4], anchors[1917 * 4], scores[1917 * 91];
    static float fscores[1917 * 91];
    uint32_t seed = 12345;
    int compared = 0, optimized = 0, failed_same = 0;
    static const int counts[] = { 1, 5, 64, 300, 1917 };
    static const float thresholds[] = { 0.0f, 1e-8f, 0.02f, 0.3f, 2.0f };
    static const float ious[] = { 0.3f, 0.6f, 1.0f };
    for (int iter = 0; iter < 200; iter++) {
        const int n = counts[rnd(&seed) % 5];
        const int ncls = 1 + (int)(rnd(&seed) % 90);
        const int cols = ncls + (int)(rnd(&seed) % 2);
        const int max_cls = 1 + (int)(rnd(&seed) % (ncls < 3 ? (uint32_t)ncls : 3u));
        const int max_det = 1 + (int)(rnd(&seed) % (uint32_t)(PP_SLOTS / max_cls < 20 ? PP_SLOTS / max_cls : 20));
        const int signed_scores = (int)(rnd(&seed) % 2);
        const int float_scores = rnd(&seed) % 3 == 0; /* with ties, NaN, -0 */
        const uint32_t spread = (rnd(&seed) % 2) ? 8u : 256u;
        const int inverted = rnd(&seed) % 8 == 0;
        for (int i = 0; i < n * 4; i++) {
            boxes[i] = (uint8_t)(112 + rnd(&seed) % 32);
            anchors[i] = (uint8_t)(i % 4 < 2 ? rnd(&seed) % 100 : 5 + rnd(&seed) % 40);
        }
        if (inverted)
            anchors[4 * (int)(rnd(&seed) % (uint32_t)n) + 2] = 200; /* int8 -56: height -0.56 */
        for (int i = 0; i < n * cols; i++) {
            scores[i] = (uint8_t)(rnd(&seed) % spread);
            const uint32_t u = rnd(&seed) % 64;
            fscores[i] = u == 0 ? NAN : u == 1 ? -0.0f : (float)scores[i] / 256.0f;
        }
        fopt o[] = { BASE_OPTS(max_det, max_cls, ncls, thresholds[rnd(&seed) % 5], ious[rnd(&seed) % 3], 0) };
        const int32_t score_zp = signed_scores ? -128 + (int32_t)(rnd(&seed) % 8) : (int32_t)(rnd(&seed) % 8);
        pp ref, opt;
        for (int which = 0; which < 2; which++) {
            pp *r = which ? &opt : &ref;
            pp_init(r, o, 10, NULL, NULL, NULL, n, cols);
            pp_quantize(r, 0, LEANDET_UINT8, boxes, 0.05f, 128);
            if (float_scores)
                tensor_set(&r->in[1], LEANDET_FLOAT32, fscores, 3, 1, n, cols, &r->none);
            else
                pp_quantize(r, 1, signed_scores ? LEANDET_INT8 : LEANDET_UINT8, scores, 1.0f / 256, score_zp);
            pp_quantize(r, 2, LEANDET_INT8, anchors, 0.01f, 0);
        }
        const ld_kernel *k_ref = ld_kernel_find(&ref.op);
        const char *isa = "ref";
        const ld_kernel *k_opt = ld_kernel_select(&opt.c, LD_BACKEND_AUTO, &isa);
        optimized += strcmp(isa, "ref") != 0;
        ld_pool *p = iter % 2 ? pool : NULL;
        const leandet_status a = pp_run_with(&ref, k_ref, NULL), b = pp_run_with(&opt, k_opt, p);
        CHECK_MSG(a == b, "case %d: status %d vs %d", iter, (int)a, (int)b);
        if (a == LEANDET_OK && b == LEANDET_OK) {
            CHECK_MSG(memcmp(ref.ob, opt.ob, sizeof ref.ob) == 0 && memcmp(ref.oc, opt.oc, sizeof ref.oc) == 0 &&
                          memcmp(ref.os, opt.os, sizeof ref.os) == 0 && memcmp(ref.on, opt.on, sizeof ref.on) == 0,
                      "case %d: n %d cols %d classes %d/det %d det %d: outputs differ", iter, n, cols, ncls, max_cls,
                      max_det);
            compared++;
        } else if (a == b) {
            CHECK_MSG(strcmp(ref.err.message, opt.err.message) == 0, "case %d: '%s' vs '%s'", iter, ref.err.message,
                      opt.err.message);
            failed_same++;
        }
        pp_done(&ref);
        pp_done(&opt);
    }
    CHECK_MSG(compared > 100 && failed_same > 0, "compared %d, failed alike %d", compared, failed_same);
#if defined(__x86_64__)
    CHECK_MSG(optimized == 200 || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"), "optimized kernel chosen in %d of 200", optimized);
#endif
    ld_pool_destroy(pool);
}

static void expect_prepare_error(pp *r, leandet_status want, const char *text)
{
    leandet_status st = pp_run(r);
    CHECK_MSG(st == want && strstr(r->err.message, text), "status %d message '%s' (want '%s')", (int)st,
              r->err.message, text);
    if (st == LEANDET_OK)
        pp_done(r);
}

static void test_pp_errors(void)
{
    const float f[64] = { 0 };
    pp r;
    fopt ok[] = { BASE_OPTS(5, 1, 2, 0.1, 0.5, 0) };

    pp_init(&r, NULL, 0, f, f, f, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "no custom options");
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.in[2].shape.d[0] = 5;
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "box count differs");
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.in[1].shape.d[2] = 4; /* num_classes 2: 2 or 3 columns */
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "columns");
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.in[2].shape.d[1] = 5;
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "anchors have 5 values");
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.in[0].shape.d[0] = 2;
    expect_prepare_error(&r, LEANDET_ERR_UNSUPPORTED, "batch");
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.in[0].type = LEANDET_INT16;
    expect_prepare_error(&r, LEANDET_ERR_UNSUPPORTED, "int16");
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.in[1].type = LEANDET_UINT8; /* quantized without a scale */
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "scale");
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.out[2].type = LEANDET_UINT8;
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "expected float32");

    fopt no_det[] = { BASE_OPTS(0, 1, 2, 0.1, 0.5, 0) };
    pp_init(&r, no_det, 10, f, f, f, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "max_detections 0");
    fopt no_iou[] = { BASE_OPTS(5, 1, 2, 0.1, 0.0, 0) };
    pp_init(&r, no_iou, 10, f, f, f, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "nms_iou_threshold");
    fopt zero_cls[] = { BASE_OPTS(5, 1, 0, 0.1, 0.5, 0) };
    pp_init(&r, zero_cls, 10, f, f, f, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "num_classes 0");
    fopt huge[] = { BASE_OPTS(1 << 20, 1 << 20, 2, 0.1, 0.5, 0) };
    pp_init(&r, huge, 10, f, f, f, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "max_classes_per_detection");
    fopt bad_dpc[] = { { "detections_per_class", 'i', 0 }, BASE_OPTS(5, 1, 2, 0.1, 0.5, 1) };
    pp_init(&r, bad_dpc, 11, f, f, f, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "detections_per_class");
    /* absent scales read as 0 (TFLite's default) and are refused */
    fopt no_scale[] = { { "max_classes_per_detection", 'i', 1 }, { "max_detections", 'i', 5 },
                        { "nms_iou_threshold", 'f', .5 }, { "num_classes", 'i', 2 } };
    pp_init(&r, no_scale, 4, f, f, f, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "y_scale 0");
    /* malformed options bytes */
    pp_init(&r, ok, 10, f, f, f, 4, 3);
    r.op.custom_options_bytes -= 7;
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "custom options");

    /* a negative anchor height decodes to an inverted box: TFLite fails the invoke */
    float anchors[16];
    memcpy(anchors, ov_anchors, sizeof anchors);
    anchors[2] = -.2f;
    pp_init(&r, ok, 10, ov_boxes, ov_scores, anchors, 4, 3);
    expect_prepare_error(&r, LEANDET_ERR_MODEL, "inverted");
    pp_done(&r);
}

/* ---- YOLO decoders and NMS ---------------------------------------------- */

static ld_det_tensor det_tensor(const void *data, ld_dtype type, int d0, int d1, int d2, float scale, int32_t zp)
{
    ld_det_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.type = type;
    t.shape.rank = 3;
    t.shape.d[0] = d0;
    t.shape.d[1] = d1;
    t.shape.d[2] = d2;
    t.scale = scale;
    t.zero_point = zp;
    return t;
}

static ld_decoder_cfg yolo_cfg(leandet_decoder kind, int n, int c)
{
    ld_decoder_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = kind;
    cfg.input_w = cfg.input_h = 640;
    cfg.num_boxes = n;
    cfg.num_classes = c;
    cfg.n_roles = 1;
    cfg.score_threshold = 0.25f;
    cfg.iou_threshold = 0.45f;
    cfg.max_detections = 100;
    return cfg;
}

/* Rows cx, cy, w, h, obj, class 0, class 1:
 *   r0 conf .9*.8 = .72 class 1, box [.4,.4,.6,.6]
 *   r1 .8*.85 = .68 class 1, IoU with r0 .82: suppressed
 *   r2 .9*.7 = .63 class 0: same place, other class, kept
 *   r3 .2*.5 = .1 below .25 */
static const float v5_rows[4][7] = {
    { .5f, .5f, .2f, .2f, .9f, .1f, .8f },
    { .52f, .5f, .2f, .2f, .8f, .1f, .85f },
    { .52f, .5f, .2f, .2f, .9f, .7f, .1f },
    { .1f, .1f, .1f, .1f, .2f, .5f, .5f },
};

static void check_v5_result(const leandet_detection *d, int n)
{
    CHECK(n == 2);
    if (n != 2)
        return;
    CHECK(d[0].class_id == 1 && NEAR(d[0].score, .72, 1e-6) && box_is(d[0].box, .4, .4, .6, .6, 1e-6));
    CHECK(d[1].class_id == 0 && NEAR(d[1].score, .63, 1e-6) && box_is(d[1].box, .4, .42, .6, .62, 1e-6));
}

static void test_yolo(void)
{
    leandet_detection out[8];
    int n = -1;
    leandet_error err;
    ld_decoder_cfg cfg = yolo_cfg(LEANDET_DECODER_YOLOV5, 4, 2);
    size_t sb = ld_decoder_scratch_bytes(&cfg);
    void *scratch = malloc(sb);
    ld_det_tensor t = det_tensor(v5_rows, LEANDET_FLOAT32, 1, 4, 7, 1, 0);
    CHECK(ld_decode(&cfg, &t, scratch, sb, out, 8, &n, &err) == LEANDET_OK);
    check_v5_result(out, n);

    /* the same boxes in input pixels (640) decode to the same detections */
    float px[4][7];
    memcpy(px, v5_rows, sizeof px);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            px[i][k] *= 640.0f;
    t = det_tensor(px, LEANDET_FLOAT32, 1, 4, 7, 1, 0);
    CHECK(ld_decode(&cfg, &t, scratch, sb, out, 8, &n, &err) == LEANDET_OK);
    check_v5_result(out, n);

    /* capacity and max_detections cap the output, best first */
    CHECK(ld_decode(&cfg, &t, scratch, sb, out, 1, &n, &err) == LEANDET_OK && n == 1 && out[0].class_id == 1);
    cfg.max_detections = 1;
    CHECK(ld_decode(&cfg, &t, scratch, sb, out, 8, &n, &err) == LEANDET_OK && n == 1);
    cfg.max_detections = 100;

    /* wrong shape and too little scratch are errors */
    t = det_tensor(v5_rows, LEANDET_FLOAT32, 1, 4, 8, 1, 0);
    CHECK(ld_decode(&cfg, &t, scratch, sb, out, 8, &n, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "shape"));
    t = det_tensor(v5_rows, LEANDET_FLOAT32, 1, 4, 7, 1, 0);
    CHECK(ld_decode(&cfg, &t, scratch, sb - 1, out, 8, &n, &err) == LEANDET_ERR_ARGUMENT &&
          strstr(err.message, "scratch"));
    free(scratch);

    /* YOLOv8 [1,4+C,N], int8 with scale 1/128, zero point -128 (0..255/128).
     * Same scene as above without objectness: columns are boxes. */
    enum { N8 = 4, C8 = 2 };
    const float v8f[4 + C8][N8] = {
        { .5f, .5234375f, .5234375f, .1015625f },   /* cx */
        { .5f, .5f, .5f, .1015625f },               /* cy */
        { .203125f, .203125f, .203125f, .1015625f }, /* w */
        { .203125f, .203125f, .203125f, .1015625f }, /* h */
        { .1015625f, .1015625f, .703125f, .203125f }, /* class 0 */
        { .8046875f, .8515625f, .1015625f, .203125f }, /* class 1 */
    };
    int8_t v8q[4 + C8][N8];
    for (int r = 0; r < 4 + C8; r++)
        for (int i = 0; i < N8; i++)
            v8q[r][i] = (int8_t)(lrintf(v8f[r][i] * 128.0f) - 128);
    cfg = yolo_cfg(LEANDET_DECODER_YOLOV8, N8, C8);
    sb = ld_decoder_scratch_bytes(&cfg);
    scratch = malloc(sb);
    t = det_tensor(v8q, LEANDET_INT8, 1, 4 + C8, N8, 1.0f / 128, -128);
    CHECK(ld_decode(&cfg, &t, scratch, sb, out, 8, &n, &err) == LEANDET_OK);
    /* box 1 (.8515625, class 1) beats box 0 (.8046875) and suppresses it;
     * box 2 is class 0 (.703125); box 3 is below .25 */
    CHECK(n == 2);
    if (n == 2) {
        CHECK(out[0].class_id == 1 && out[0].score == .8515625f);
        CHECK(box_is(out[0].box, .5 - .1015625, .5234375 - .1015625, .5 + .1015625, .5234375 + .1015625, 1e-6));
        CHECK(out[1].class_id == 0 && out[1].score == .703125f);
    }
    /* float copy of the same head gives the same */
    t = det_tensor(v8f, LEANDET_FLOAT32, 1, 4 + C8, N8, 1, 0);
    int n2 = -1;
    leandet_detection out2[8];
    CHECK(ld_decode(&cfg, &t, scratch, sb, out2, 8, &n2, &err) == LEANDET_OK && n2 == n &&
          memcmp(out, out2, sizeof out[0] * (size_t)(n > 0 ? n : 0)) == 0);
    free(scratch);
}

static leandet_detection det(int cls, float score, float y0, float x0, float y1, float x1)
{
    leandet_detection d = { cls, score, { y0, x0, y1, x1 } };
    return d;
}

static void test_nms(void)
{
    /* two overlapping class-0 boxes (IoU .6), one class-1 box on top of them */
    const leandet_detection cand[4] = {
        det(0, .6f, 0, 0, 1, 1),
        det(0, .9f, 0, .25f, 1, 1.25f), /* IoU with the first: .75 / 1.25 = .6 */
        det(1, .8f, 0, 0, 1, 1),
        det(0, .9f, 5, 5, 6, 6), /* ties the best: later index goes second */
    };
    leandet_detection out[4];
    uint8_t scratch[256];
    CHECK(ld_nms_scratch_bytes(4) <= sizeof scratch);
    int n = ld_nms(cand, 4, .5f, 0, 10, scratch, out);
    CHECK(n == 3 && out[0].score == .9f && out[0].box[1] == .25f && out[1].box[0] == 5 && out[2].class_id == 1);
    n = ld_nms(cand, 4, .7f, 0, 10, scratch, out); /* .6 < .7: both kept */
    CHECK(n == 4 && out[3].score == .6f);
    n = ld_nms(cand, 4, .5f, 0, 2, scratch, out);
    CHECK(n == 2);

    /* weighted: the top box absorbs the overlapping one, corners averaged by
     * score: x0 = (.25*.9 + 0*.6) / 1.5 = .15, x1 = (1.25*.9 + 1*.6) / 1.5 = 1.15 */
    n = ld_nms(cand, 4, .5f, 1, 10, scratch, out);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(out[0].score == .9f && out[0].class_id == 0 && box_is(out[0].box, 0, .15, 1, 1.15, 1e-6));
        CHECK(box_is(out[1].box, 5, 5, 6, 6, 1e-6) && out[2].class_id == 1 && box_is(out[2].box, 0, 0, 1, 1, 1e-6));
    }
    CHECK(ld_nms(cand, 0, .5f, 0, 10, scratch, out) == 0);
}

/* ---- orderings ----------------------------------------------------------- */

static void test_sort(void)
{
    /* expected orders recorded from libstdc++'s std::partial_sort(idx, idx+k,
     * idx+n, values[a] > values[b]) (g++ 12), the call TFLite makes */
    const float v1[7] = { .1f, .5f, .5f, .9f, .5f, .5f, .2f };
    const int want1[7] = { 3, 1, 4, 2, 0, 5, 6 };
    const float v2[9] = { .3f, .3f, .3f, .3f, .3f, .3f, .3f, .3f, .3f };
    const int want2[9] = { 3, 4, 1, 0, 2, 5, 6, 7, 8 };
    int idx[9], tmp[9];
    ld_partial_argsort_desc(v1, 7, 4, idx);
    CHECK(memcmp(idx, want1, sizeof want1) == 0);
    ld_partial_argsort_desc(v2, 9, 5, idx);
    CHECK(memcmp(idx, want2, sizeof want2) == 0);
    /* the stable sort keeps equal values in index order */
    const int stable1[7] = { 3, 1, 2, 4, 5, 6, 0 };
    ld_argsort_desc(v1, 7, idx, tmp);
    CHECK(memcmp(idx, stable1, sizeof stable1) == 0);
    CHECK(ld_argmax(v1 + 1, 2) == 0 && ld_argmax(v1, 7) == 3);
}

/* ---- anchors and the MediaPipe decoder ---------------------------------- */

static void check_anchor(const ld_anchor *a, double x, double y, double w, double h)
{
    CHECK_MSG(a->x == (float)x && a->y == (float)y && a->w == (float)w && a->h == (float)h,
              "anchor %.9g %.9g %.9g %.9g, want %.9g %.9g %.9g %.9g", (double)a->x, (double)a->y, (double)a->w,
              (double)a->h, x, y, w, h);
}

static void test_anchors(void)
{
    static ld_anchor a[4096];
    int n = 0;
    const ld_mediapipe_params *p = ld_mediapipe_preset(128, 128, 896);
    CHECK(p && strcmp(p->name, "blazeface-128") == 0);
    if (p) {
        CHECK(ld_anchors_generate(&p->anchors, a, 4096, &n, NULL) == LEANDET_OK && n == 896);
        check_anchor(&a[0], 0.03125, 0.03125, 1, 1);
        check_anchor(&a[1], 0.03125, 0.03125, 1, 1);
        check_anchor(&a[511], 0.96875, 0.96875, 1, 1);
        check_anchor(&a[512], 0.0625, 0.0625, 1, 1);
        check_anchor(&a[895], 0.9375, 0.9375, 1, 1);
    }
    p = ld_mediapipe_preset(192, 192, 2016);
    CHECK(p && strcmp(p->name, "palm-192") == 0);
    if (p) {
        CHECK(ld_anchors_generate(&p->anchors, a, 4096, &n, NULL) == LEANDET_OK && n == 2016);
        check_anchor(&a[0], 0x1.555556p-6, 0x1.555556p-6, 1, 1);
        check_anchor(&a[1152], 0x1.555556p-5, 0x1.555556p-5, 1, 1);
        check_anchor(&a[2015], 0x1.eaaaaap-1, 0x1.eaaaaap-1, 1, 1);
    }
    p = ld_mediapipe_preset(192, 192, 2304);
    CHECK(p && strcmp(p->name, "blazeface-full-192") == 0);
    if (p) {
        CHECK(ld_anchors_generate(&p->anchors, a, 4096, &n, NULL) == LEANDET_OK && n == 2304);
        check_anchor(&a[0], 0x1.555556p-7, 0x1.555556p-7, 1, 1);
        check_anchor(&a[2303], 0x1.faaaaap-1, 0x1.faaaaap-1, 1, 1);
    }
    p = ld_mediapipe_preset(224, 224, 2254);
    CHECK(p && strcmp(p->name, "pose-224") == 0);
    if (p) {
        CHECK(ld_anchors_generate(&p->anchors, a, 4096, &n, NULL) == LEANDET_OK && n == 2254);
        check_anchor(&a[0], 0x1.24924ap-6, 0x1.24924ap-6, 1, 1);
        check_anchor(&a[2253], 0x1.db6db6p-1, 0x1.db6db6p-1, 1, 1);
    }
    CHECK(ld_mediapipe_preset(128, 128, 895) == NULL && ld_mediapipe_preset_named("palm-192") != NULL);

    /* sized anchors: the SSD example of MediaPipe's documentation (reduced
     * lowest layer, five ratios, interpolated scale) gives SSD MobileNet's 1917 */
    ld_anchor_params s = { .num_layers = 6, .strides = { 16, 32, 64, 128, 256, 512 }, .min_scale = 0.2f,
                           .max_scale = 0.95f, .input_w = 300, .input_h = 300, .anchor_offset_x = 0.5f,
                           .anchor_offset_y = 0.5f, .num_aspect_ratios = 5,
                           .aspect_ratios = { 1.0f, 2.0f, 0.5f, 3.0f, 0.3333f },
                           .interpolated_scale_aspect_ratio = 1.0f, .reduce_boxes_in_lowest_layer = 1 };
    CHECK(ld_anchors_count(&s, &n, NULL) == LEANDET_OK && n == 1917);
    CHECK(ld_anchors_generate(&s, a, 4096, &n, NULL) == LEANDET_OK && n == 1917);
    check_anchor(&a[0], 0x1.af286cp-6, 0x1.af286cp-6, 0x1.99999ap-4, 0x1.99999ap-4);
    check_anchor(&a[1], 0x1.af286cp-6, 0x1.af286cp-6, 0x1.21a186p-2, 0x1.21a186p-3);
    check_anchor(&a[2], 0x1.af286cp-6, 0x1.af286cp-6, 0x1.21a186p-3, 0x1.21a186p-2);
    check_anchor(&a[3], 0x1.435e5p-4, 0x1.af286cp-6, 0x1.99999ap-4, 0x1.99999ap-4);
    check_anchor(&a[1083], 0x1.99999ap-5, 0x1.99999ap-5, 0x1.666666p-2, 0x1.666666p-2);
    check_anchor(&a[1084], 0x1.99999ap-5, 0x1.99999ap-5, 0x1.fadaa8p-2, 0x1.fadaa8p-3);
    check_anchor(&a[1088], 0x1.99999ap-5, 0x1.99999ap-5, 0x1.ac5eb4p-2, 0x1.ac5eb4p-2); /* interpolated */
    check_anchor(&a[1916], 0.5, 0.5, 0x1.f3092ep-1, 0x1.f3092ep-1);

    /* non-square input, merged equal strides, no interpolation, y offset .25 */
    ld_anchor_params o = { .num_layers = 3, .strides = { 8, 8, 32 }, .min_scale = 0.1f, .max_scale = 0.9f,
                           .input_w = 60, .input_h = 100, .anchor_offset_x = 0.5f, .anchor_offset_y = 0.25f,
                           .num_aspect_ratios = 2, .aspect_ratios = { 1.0f, 2.0f } };
    CHECK(ld_anchors_generate(&o, a, 4096, &n, NULL) == LEANDET_OK && n == 432);
    check_anchor(&a[0], 0.0625, 0x1.3b13b2p-6, 0x1.99999ap-4, 0x1.99999ap-4);
    check_anchor(&a[3], 0.0625, 0x1.3b13b2p-6, 0x1.6a09e4p-1, 0x1.6a09e6p-2);
    check_anchor(&a[4], 0.1875, 0x1.3b13b2p-6, 0x1.99999ap-4, 0x1.99999ap-4);
    check_anchor(&a[431], 0.75, 0.8125, 0x1.45d5b4p+0, 0x1.45d5b6p-1);

    leandet_error err;
    CHECK(ld_anchors_generate(&o, a, 431, &n, &err) == LEANDET_ERR_ARGUMENT);
    o.strides[1] = 0;
    CHECK(ld_anchors_count(&o, &n, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "stride"));
    o.strides[1] = 8;
    o.num_layers = 0;
    CHECK(ld_anchors_count(&o, &n, &err) == LEANDET_ERR_ARGUMENT);
    o.num_layers = 3;
    o.input_w = 1 << 20;
    o.strides[0] = o.strides[1] = o.strides[2] = 1;
    CHECK(ld_anchors_count(&o, &n, &err) == LEANDET_ERR_ARGUMENT);
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static void test_mediapipe(void)
{
    enum { N = 896, K = 16 };
    static float reg[N][K], logit[N][1];
    for (int i = 0; i < N; i++)
        logit[i][0] = -10.0f;
    /* anchors 0 and 1 share the centre (1/32, 1/32). Box 0: x +0, y +0, 16x16
     * pixels of 128; box 1 shifted 2 px right. Box 895 (centre 15/16) alone,
     * score exactly .5; box 5 has a negative width and is dropped. */
    logit[0][0] = 3.0f;
    logit[1][0] = 2.0f;
    reg[0][2] = reg[0][3] = 16.0f;
    reg[1][0] = 2.0f;
    reg[1][2] = reg[1][3] = 16.0f;
    logit[895][0] = 0.0f;
    reg[895][2] = 32.0f;
    reg[895][3] = 16.0f;
    logit[5][0] = 200.0f; /* clipped to 100 */
    reg[5][2] = -8.0f;
    reg[5][3] = 8.0f;

    ld_decoder_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = LEANDET_DECODER_BLAZEFACE;
    cfg.input_w = cfg.input_h = 128;
    cfg.num_boxes = N;
    cfg.num_classes = 1;
    cfg.n_roles = 2;
    cfg.mp = *ld_mediapipe_preset_named("blazeface-128");
    cfg.score_threshold = 0.5f;
    cfg.iou_threshold = 0.3f;
    cfg.weighted_nms = 1;
    size_t sb = ld_decoder_scratch_bytes(&cfg);
    void *scratch = malloc(sb);
    ld_det_tensor t[2] = { det_tensor(reg, LEANDET_FLOAT32, 1, N, K, 1, 0),
                           det_tensor(logit, LEANDET_FLOAT32, 1, N, 1, 1, 0) };
    leandet_detection out[8];
    int n = -1;
    leandet_error err;
    CHECK(ld_decode(&cfg, t, scratch, sb, out, 8, &n, &err) == LEANDET_OK);
    const double c = 1.0 / 32, h = 16.0 / 128 / 2, dx = 2.0 / 128;
    const double s0 = sigmoid(3), s1 = sigmoid(2);
    CHECK(n == 2);
    if (n == 2) {
        /* weighted: x corners move by dx * s1 / (s0 + s1) */
        const double shift = dx * s1 / (s0 + s1);
        CHECK(NEAR(out[0].score, s0, 1e-6) && out[0].class_id == 0);
        CHECK(box_is(out[0].box, c - h, c - h + shift, c + h, c + h + shift, 1e-6));
        CHECK(NEAR(out[1].score, 0.5, 1e-7));
        CHECK(box_is(out[1].box, .9375 - h, .9375 - 2 * h, .9375 + h, .9375 + 2 * h, 1e-6));
    }
    /* plain NMS keeps box 0 as it is */
    cfg.weighted_nms = 0;
    CHECK(ld_decode(&cfg, t, scratch, sb, out, 8, &n, &err) == LEANDET_OK && n == 2 &&
          box_is(out[0].box, c - h, c - h, c + h, c + h, 1e-6));
    /* an anchor set that does not match the model is refused */
    cfg.mp = *ld_mediapipe_preset_named("palm-192");
    CHECK(ld_decode(&cfg, t, scratch, sb, out, 8, &n, &err) == LEANDET_ERR_ARGUMENT);
    free(scratch);
}

/* ---- post-process outputs as detections --------------------------------- */

static void test_decode_postprocess(void)
{
    const float boxes[3][4] = { { .1f, .2f, .3f, .4f }, { .5f, .5f, .6f, .6f }, { 0, 0, 0, 0 } };
    const float classes[3] = { 16, 0, 0 }, scores[3] = { .8f, .3f, 0 }, count[1] = { 2 };
    ld_decoder_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = LEANDET_DECODER_POSTPROCESS;
    cfg.n_roles = 4;
    cfg.num_boxes = 3;
    cfg.classes_per_detection = 1;
    cfg.score_threshold = .5f;
    ld_det_tensor t[4] = { det_tensor(boxes, LEANDET_FLOAT32, 1, 3, 4, 1, 0),
                           det_tensor(classes, LEANDET_FLOAT32, 1, 3, 0, 1, 0),
                           det_tensor(scores, LEANDET_FLOAT32, 1, 3, 0, 1, 0),
                           det_tensor(count, LEANDET_FLOAT32, 1, 0, 0, 1, 0) };
    t[1].shape.rank = t[2].shape.rank = 2;
    t[3].shape.rank = 1;
    leandet_detection out[4];
    int n = -1;
    CHECK(ld_decoder_scratch_bytes(&cfg) == 0);
    CHECK(ld_decode(&cfg, t, NULL, 0, out, 4, &n, NULL) == LEANDET_OK && n == 1);
    CHECK(out[0].class_id == 16 && out[0].score == .8f && box_is(out[0].box, .1, .2, .3, .4, 1e-7));
    cfg.score_threshold = 0;
    CHECK(ld_decode(&cfg, t, NULL, 0, out, 4, &n, NULL) == LEANDET_OK && n == 2); /* count bounds the slots */
}

/* ---- back to the original image ------------------------------------------ */

/* The letterbox geometry belongs to the resize (image/preprocess.h); here
 * the mapping of decoded boxes is checked against hand-worked numbers. */
static void unmap(const ld_letterbox *lb, leandet_detection *d)
{
    float b[4];
    ld_letterbox_unmap_box(lb, d->box, b);
    memcpy(d->box, b, sizeof b);
}

static void test_letterbox(void)
{
    /* 1280x720 into 640x640: scale .5, content 640x360 at pad_y 140 */
    ld_letterbox lb;
    ld_letterbox_compute(1280, 720, 640, 640, LEANDET_RESIZE_LETTERBOX, &lb);
    CHECK(lb.pad_x == 0 && lb.pad_y == 140 && lb.content_w == 640 && lb.content_h == 360);
    leandet_detection d[2] = { det(0, 1, (140 + 36) / 640.0f, .25f, (140 + 324) / 640.0f, .75f),
                               det(0, 1, 10 / 640.0f, -.1f, 100 / 640.0f, 1.2f) };
    unmap(&lb, &d[0]);
    unmap(&lb, &d[1]);
    CHECK(box_is(d[0].box, .1, .25, .9, .75, 1e-6));
    CHECK(box_is(d[1].box, 0, 0, 0, 1, 0)); /* inside the padding: clipped */
    /* horizontal padding: 480x640 into 320x320: scale .5, pad_x 40 */
    ld_letterbox_compute(480, 640, 320, 320, LEANDET_RESIZE_LETTERBOX, &lb);
    CHECK(lb.pad_x == 40 && lb.pad_y == 0);
    leandet_detection e = det(0, 1, .5f, (40 + 60) / 320.0f, 1.0f, (40 + 120) / 320.0f);
    unmap(&lb, &e);
    CHECK(box_is(e.box, .5, .25, 1, .5, 1e-6));
    /* stretch: only clipping */
    leandet_detection f = det(0, 1, -.5f, .5f, 1.5f, NAN);
    ld_detections_clip(&f, 1);
    CHECK(box_is(f.box, 0, .5, 1, 0, 0));
}

/* ---- label files ------------------------------------------------------------ */

static ld_alloc labels_alloc; /* test-only: counts what label loading holds */

static int labels_from(const char *text, ld_labels *l, leandet_error *err)
{
    return ld_labels_parse(text, strlen(text), "test.txt", &labels_alloc, l, err) == LEANDET_OK;
}

static int name_is(const ld_labels *l, int id, const char *want)
{
    const char *got = ld_labels_name(l, id);
    return want ? got && strcmp(got, want) == 0 : got == NULL;
}

static void test_labels(void)
{
    ld_alloc_init(&labels_alloc, NULL);
    ld_labels l;
    leandet_error err;

    CHECK(labels_from("0 person\n1 bicycle\n3: truck \n", &l, &err));
    CHECK(l.count == 4 && name_is(&l, 0, "person") && name_is(&l, 1, "bicycle") && name_is(&l, 2, NULL) &&
          name_is(&l, 3, "truck") && name_is(&l, 4, NULL) && name_is(&l, -1, NULL));
    ld_labels_free(&l, &labels_alloc);
    CHECK(labels_from("\xEF\xBB\xBF???\r\nperson\r\n???\r\ntraffic light\r\n\r\n\r\n", &l, &err));
    CHECK(l.count == 3 && name_is(&l, 0, "person") && name_is(&l, 1, NULL) && name_is(&l, 2, "traffic light"));
    ld_labels_free(&l, &labels_alloc);
    CHECK(labels_from("person\nN/A\n\nhair drier", &l, &err));
    CHECK(l.count == 4 && name_is(&l, 1, NULL) && name_is(&l, 2, NULL) && name_is(&l, 3, "hair drier"));
    ld_labels_free(&l, &labels_alloc);
    CHECK(labels_from("10 apples\n", &l, &err) && l.count == 11 && name_is(&l, 10, "apples"));
    ld_labels_free(&l, &labels_alloc);
    /* a name starting with digits is not an index unless every line is */
    CHECK(labels_from("7 up\nperson\n", &l, &err) && l.count == 2 && name_is(&l, 0, "7 up"));
    ld_labels_free(&l, &labels_alloc);

    CHECK(!labels_from("", &l, &err) && strstr(err.message, "no labels"));
    CHECK(!labels_from("\n \n", &l, &err));
    CHECK(!labels_from("???\n", &l, &err) && strstr(err.message, "background"));
    CHECK(!labels_from("0 a\n0 b\n", &l, &err) && strstr(err.message, "line 2") && strstr(err.message, "class 0"));
    CHECK(!labels_from("0 a\n0 n/a\n", &l, &err)); /* a placeholder repeated is still a repeat */
    CHECK(!labels_from("70000 a\n", &l, &err) && strstr(err.message, "70000"));
    char bin[] = "person\ncar\x01\n";
    CHECK(!labels_from(bin, &l, &err) && strstr(err.message, "line 2") && strstr(err.message, "binary"));
    CHECK(ld_labels_parse("a\0b", 3, "x", &labels_alloc, &l, &err) == LEANDET_ERR_ARGUMENT);
    char *lng = malloc(400);
    memset(lng, 'a', 399);
    lng[399] = 0;
    CHECK(!labels_from(lng, &l, &err) && strstr(err.message, "longer"));
    free(lng);
    char *big = malloc(LD_LABELS_MAX_BYTES + 2);
    memset(big, '\n', LD_LABELS_MAX_BYTES + 1);
    big[LD_LABELS_MAX_BYTES + 1] = 0;
    CHECK(!labels_from(big, &l, &err) && strstr(err.message, "at most"));
    free(big);
    CHECK(ld_labels_load("/nonexistent/labels.txt", &labels_alloc, &l, &err) == LEANDET_ERR_IO &&
          strstr(err.message, "nonexistent"));

    /* the real files */
    const char *dir = getenv("LEANDET_LABELS");
    char path[1024];
    snprintf(path, sizeof path, "%s/coco_labelmap_ssd_91.txt", dir ? dir : "../shared/labels");
    if (ld_labels_load(path, &labels_alloc, &l, &err) == LEANDET_OK) {
        CHECK(l.count == 90 && name_is(&l, 0, "person") && name_is(&l, 10, "fire hydrant") && name_is(&l, 11, NULL) &&
              name_is(&l, 12, "stop sign") && name_is(&l, 89, "toothbrush"));
        ld_labels_free(&l, &labels_alloc);
        snprintf(path, sizeof path, "%s/coco_labels_coral_90.txt", dir ? dir : "../shared/labels");
        CHECK(ld_labels_load(path, &labels_alloc, &l, &err) == LEANDET_OK);
        CHECK(l.count == 90 && name_is(&l, 0, "person") && name_is(&l, 11, NULL) && name_is(&l, 12, "stop sign") &&
              name_is(&l, 89, "toothbrush"));
        ld_labels_free(&l, &labels_alloc);
        snprintf(path, sizeof path, "%s/coco80_yolo.txt", dir ? dir : "../shared/labels");
        CHECK(ld_labels_load(path, &labels_alloc, &l, &err) == LEANDET_OK);
        CHECK(l.count == 80 && name_is(&l, 0, "person") && name_is(&l, 79, "toothbrush"));
        ld_labels_free(&l, &labels_alloc);
        /* a model file is binary */
        char mpath[1024];
        ld_test_model("face_detection_front.tflite", mpath, sizeof mpath);
        CHECK(ld_labels_load(mpath, &labels_alloc, &l, &err) != LEANDET_OK);
    } else {
        printf("note: label files not found (%s), skipped\n", err.message);
    }
    CHECK(labels_alloc.current == 0);
}

/* ---- decoder choice on the real models ------------------------------------ */

static void check_choice(const char *file, leandet_decoder kind, int n_boxes, int n_classes, const char *preset)
{
    char path[1024];
    size_t size = 0;
    unsigned char *bytes = ld_test_read(ld_test_model(file, path, sizeof path), &size);
    if (!bytes) {
        printf("note: %s not found, skipped\n", path);
        return;
    }
    ld_alloc al;
    ld_alloc_init(&al, NULL);
    ld_model_desc m;
    leandet_error err;
    if (ld_tflite_parse(bytes, size, file, &al, &m, &err) != LEANDET_OK) {
        CHECK_MSG(0, "%s: %s", file, err.message);
        free(bytes);
        return;
    }
    ld_decoder_cfg cfg;
    leandet_detect_options opt = { .decoder = LEANDET_DECODER_AUTO, .resize = LEANDET_RESIZE_AUTO, .score_threshold = 0.5f, .iou_threshold = 0.45f, .max_detections = 100 };
    leandet_status st = ld_decoder_choose(&m, &opt, NULL, &cfg, &err);
    CHECK_MSG(st == LEANDET_OK && cfg.kind == kind && cfg.num_boxes == n_boxes && cfg.num_classes == n_classes,
              "%s: status %d (%s) kind %d boxes %d classes %d", file, (int)st, st ? err.message : "", (int)cfg.kind,
              cfg.num_boxes, cfg.num_classes);
    for (int r = 0; r < cfg.n_roles; r++) /* every role is a model output here */
        CHECK(cfg.tensor[r] >= 0 && cfg.output[r] >= 0 && m.outputs[cfg.output[r]] == cfg.tensor[r]);
    if (preset)
        CHECK_MSG(cfg.mp.name && strcmp(cfg.mp.name, preset) == 0 && cfg.weighted_nms, "%s", file);
    if (kind == LEANDET_DECODER_POSTPROCESS) {
        /* bound by the op's own output slots, not by output order */
        const ld_op_desc *pp = NULL;
        for (int i = 0; i < m.n_ops; i++)
            if (m.ops[i].custom_name && strcmp(m.ops[i].custom_name, "TFLite_Detection_PostProcess") == 0)
                pp = &m.ops[i];
        CHECK(pp && cfg.n_roles == 4 && cfg.classes_per_detection == 1);
        for (int r = 0; pp && r < 4; r++)
            CHECK(cfg.tensor[r] == pp->outputs[r]);
    }
    /* forcing a decoder the outputs cannot feed is refused */
    opt.decoder = kind == LEANDET_DECODER_BLAZEFACE ? LEANDET_DECODER_POSTPROCESS : LEANDET_DECODER_BLAZEFACE;
    CHECK(ld_decoder_choose(&m, &opt, NULL, &cfg, &err) == LEANDET_ERR_UNSUPPORTED);
    ld_model_desc_free(&m, &al);
    free(bytes);
}

static void test_choose(void)
{
    check_choice("ssd_mobilenet_v1_coco_quant.tflite", LEANDET_DECODER_POSTPROCESS, 10, 0, NULL);
    check_choice("face_detection_front.tflite", LEANDET_DECODER_BLAZEFACE, 896, 1, "blazeface-128");
    check_choice("face_detection_short_range.tflite", LEANDET_DECODER_BLAZEFACE, 896, 1, "blazeface-128");
    check_choice("palm_detection_lite.tflite", LEANDET_DECODER_BLAZEFACE, 2016, 1, "palm-192");
    check_choice("yolov8n_full_integer_quant.tflite", LEANDET_DECODER_YOLOV8, 8400, 80, NULL);
    check_choice("yolov5n-fp16.tflite", LEANDET_DECODER_YOLOV5, 25200, 80, NULL);
}

int main(void)
{
    test_pp_decode();
    test_pp_fast_vs_regular();
    test_pp_ties_and_background();
    test_pp_quantized();
    test_pp_optimized_matches_reference();
    test_pp_errors();
    test_yolo();
    test_nms();
    test_sort();
    test_anchors();
    test_mediapipe();
    test_decode_postprocess();
    test_letterbox();
    test_labels();
    test_choose();
    return ld_test_finish();
}

/* Builtin options tables -> ld_op_params, with the schema's defaults when a
 * field or the whole table is absent. Values that would make a kernel divide
 * by zero or index out of range (strides, dilations, filter and block sizes,
 * enum values) are rejected here, once, for every kernel. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/ops.h"
#include "model/tflite_internal.h"

/* BuiltinOptions union member numbers (schema.fbs declaration order, NONE = 0). */
enum {
    OPT_CONV_2D = 1, OPT_DEPTHWISE_CONV_2D = 2, OPT_POOL_2D = 5, OPT_FULLY_CONNECTED = 8, OPT_SOFTMAX = 9,
    OPT_CONCATENATION = 10, OPT_ADD = 11, OPT_RESIZE_BILINEAR = 15, OPT_RESHAPE = 17, OPT_MUL = 21,
    OPT_REDUCER = 27, OPT_SUB = 28, OPT_SQUEEZE = 30, OPT_STRIDED_SLICE = 32, OPT_RESIZE_NEAREST = 74,
    OPT_DEPTH_TO_SPACE = 94
};

/* Reads fields of an options table that may be absent (t == NULL); the
 * first failure sticks in `st` (and f->why) so decoders read straight through. */
typedef struct rd {
    ld_fb *f;
    const ld_fb_table *t;
    leandet_status st;
} rd;

static void rd_fail(rd *r, leandet_status st, const char *fmt, ...) LD_PRINTF(3, 4);
static void rd_fail(rd *r, leandet_status st, const char *fmt, ...)
{
    if (r->st != LEANDET_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->f->why, sizeof r->f->why, fmt, ap);
    va_end(ap);
    r->st = st;
}

static int rd_u8(rd *r, int id, uint8_t def)
{
    uint8_t v = def;
    if (r->t && r->st == LEANDET_OK && !ld_fb_u8(r->f, r->t, id, def, &v)) {
        r->st = LEANDET_ERR_MODEL; /* f->why already says what */
        v = def;
    }
    return v;
}

static int32_t rd_i32(rd *r, int id, int32_t def)
{
    int32_t v = def;
    if (r->t && r->st == LEANDET_OK && !ld_fb_i32(r->f, r->t, id, def, &v)) {
        r->st = LEANDET_ERR_MODEL;
        v = def;
    }
    return v;
}

static float rd_f32(rd *r, int id, float def)
{
    float v = def;
    if (r->t && r->st == LEANDET_OK && !ld_fb_f32(r->f, r->t, id, def, &v)) {
        r->st = LEANDET_ERR_MODEL;
        v = def;
    }
    return v;
}

static int rd_bool(rd *r, int id) { return rd_u8(r, id, 0) != 0; }

static ld_activation rd_act(rd *r, int id)
{
    int a = rd_u8(r, id, 0);
    if (a > LD_ACT_SIGN_BIT)
        rd_fail(r, LEANDET_ERR_MODEL, "fused activation %d is unknown", a);
    return a > LD_ACT_SIGN_BIT ? LD_ACT_NONE : (ld_activation)a;
}

static ld_padding rd_pad(rd *r, int id)
{
    int p = rd_u8(r, id, 0);
    if (p > LD_PAD_VALID)
        rd_fail(r, LEANDET_ERR_MODEL, "padding %d is unknown", p);
    return p > LD_PAD_VALID ? LD_PAD_SAME : (ld_padding)p;
}

/* A size or step that kernels divide by or loop over. */
static int rd_pos(rd *r, int id, int32_t def, const char *what)
{
    int32_t v = rd_i32(r, id, def);
    if (v < 1)
        rd_fail(r, LEANDET_ERR_MODEL, "%s is %d, must be >= 1", what, v);
    return v;
}

/* An int list of at most LD_MAX_DIMS entries; -1 when absent. */
static int rd_dims(rd *r, int id, int32_t *dst, const char *what)
{
    ld_fb_vec v;
    if (!r->t || r->st != LEANDET_OK)
        return -1;
    if (!ld_fb_vec_field(r->f, r->t, id, 4, &v)) {
        r->st = LEANDET_ERR_MODEL;
        return -1;
    }
    if (!v.present)
        return -1;
    if (v.len > LD_MAX_DIMS) {
        rd_fail(r, LEANDET_ERR_UNSUPPORTED, "%s has %u entries (leandet supports %d)", what, v.len, LD_MAX_DIMS);
        return -1;
    }
    for (uint32_t i = 0; i < v.len; i++)
        dst[i] = ld_fb_vec_i32(r->f, &v, i);
    return (int)v.len;
}

static void dec_conv(rd *r, ld_op_params *p)
{
    ld_conv_params *c = &p->conv;
    c->padding = rd_pad(r, 0);
    c->stride_w = rd_pos(r, 1, 0, "stride_w");
    c->stride_h = rd_pos(r, 2, 0, "stride_h");
    c->act = rd_act(r, 3);
    c->dilation_w = rd_pos(r, 4, 1, "dilation_w_factor");
    c->dilation_h = rd_pos(r, 5, 1, "dilation_h_factor");
    c->depth_multiplier = 1;
}

static void dec_depthwise(rd *r, ld_op_params *p)
{
    ld_conv_params *c = &p->conv;
    c->padding = rd_pad(r, 0);
    c->stride_w = rd_pos(r, 1, 0, "stride_w");
    c->stride_h = rd_pos(r, 2, 0, "stride_h");
    /* Redundant with the shapes and ignored by recent TFLite: not checked. */
    c->depth_multiplier = rd_i32(r, 3, 0);
    c->act = rd_act(r, 4);
    c->dilation_w = rd_pos(r, 5, 1, "dilation_w_factor");
    c->dilation_h = rd_pos(r, 6, 1, "dilation_h_factor");
}

static void dec_pool(rd *r, ld_op_params *p)
{
    ld_pool_params *q = &p->pool;
    q->padding = rd_pad(r, 0);
    q->stride_w = rd_pos(r, 1, 0, "stride_w");
    q->stride_h = rd_pos(r, 2, 0, "stride_h");
    q->filter_w = rd_pos(r, 3, 0, "filter_width");
    q->filter_h = rd_pos(r, 4, 0, "filter_height");
    q->act = rd_act(r, 5);
}

static void dec_fc(rd *r, ld_op_params *p)
{
    p->fc.act = rd_act(r, 0);
    p->fc.weights_format = rd_u8(r, 1, 0); /* kernels refuse non-DEFAULT */
    p->fc.keep_num_dims = rd_bool(r, 2);
    p->fc.asymmetric_quantize_inputs = rd_bool(r, 3);
}

static void dec_softmax(rd *r, ld_op_params *p) { p->softmax.beta = rd_f32(r, 0, 0.0f); }

static void dec_concat(rd *r, ld_op_params *p)
{
    p->concat.axis = rd_i32(r, 0, 0);
    p->concat.act = rd_act(r, 1);
}

static void dec_arith(rd *r, ld_op_params *p) { p->arith.act = rd_act(r, 0); }

static void dec_reshape(rd *r, ld_op_params *p)
{
    p->reshape.n = rd_dims(r, 0, p->reshape.shape, "new_shape");
}

static void dec_resize_bilinear(rd *r, ld_op_params *p)
{
    /* ids 0 and 1 are the deprecated new_height/new_width */
    p->resize.align_corners = rd_bool(r, 2);
    p->resize.half_pixel_centers = rd_bool(r, 3);
}

static void dec_resize_nearest(rd *r, ld_op_params *p)
{
    p->resize.align_corners = rd_bool(r, 0);
    p->resize.half_pixel_centers = rd_bool(r, 1);
}

static void dec_reducer(rd *r, ld_op_params *p) { p->reducer.keep_dims = rd_bool(r, 0); }

static void dec_squeeze(rd *r, ld_op_params *p)
{
    int n = rd_dims(r, 0, p->squeeze.dims, "squeeze_dims");
    p->squeeze.n = n < 0 ? 0 : n;
}

static void dec_strided_slice(rd *r, ld_op_params *p)
{
    ld_strided_slice_params *s = &p->strided_slice;
    s->begin_mask = rd_i32(r, 0, 0);
    s->end_mask = rd_i32(r, 1, 0);
    s->ellipsis_mask = rd_i32(r, 2, 0);
    s->new_axis_mask = rd_i32(r, 3, 0);
    s->shrink_axis_mask = rd_i32(r, 4, 0);
    s->offset = rd_bool(r, 5);
}

static void dec_depth_to_space(rd *r, ld_op_params *p) { p->depth_to_space.block_size = rd_pos(r, 0, 0, "block_size"); }

static const struct {
    int builtin;
    unsigned type;
    const char *name;
    void (*decode)(rd *r, ld_op_params *p);
} decoders[] = {
    {LD_OP_CONV_2D, OPT_CONV_2D, "Conv2DOptions", dec_conv},
    {LD_OP_DEPTHWISE_CONV_2D, OPT_DEPTHWISE_CONV_2D, "DepthwiseConv2DOptions", dec_depthwise},
    {LD_OP_AVERAGE_POOL_2D, OPT_POOL_2D, "Pool2DOptions", dec_pool},
    {LD_OP_MAX_POOL_2D, OPT_POOL_2D, "Pool2DOptions", dec_pool},
    {12 /* L2_POOL_2D */, OPT_POOL_2D, "Pool2DOptions", dec_pool},
    {LD_OP_FULLY_CONNECTED, OPT_FULLY_CONNECTED, "FullyConnectedOptions", dec_fc},
    {LD_OP_SOFTMAX, OPT_SOFTMAX, "SoftmaxOptions", dec_softmax},
    {LD_OP_CONCATENATION, OPT_CONCATENATION, "ConcatenationOptions", dec_concat},
    {LD_OP_ADD, OPT_ADD, "AddOptions", dec_arith},
    {LD_OP_SUB, OPT_SUB, "SubOptions", dec_arith},
    {LD_OP_MUL, OPT_MUL, "MulOptions", dec_arith},
    {LD_OP_RESHAPE, OPT_RESHAPE, "ReshapeOptions", dec_reshape},
    {LD_OP_RESIZE_BILINEAR, OPT_RESIZE_BILINEAR, "ResizeBilinearOptions", dec_resize_bilinear},
    {LD_OP_RESIZE_NEAREST_NEIGHBOR, OPT_RESIZE_NEAREST, "ResizeNearestNeighborOptions", dec_resize_nearest},
    {LD_OP_MEAN, OPT_REDUCER, "ReducerOptions", dec_reducer},
    {74 /* SUM */, OPT_REDUCER, "ReducerOptions", dec_reducer},
    {81 /* REDUCE_PROD */, OPT_REDUCER, "ReducerOptions", dec_reducer},
    {82 /* REDUCE_MAX */, OPT_REDUCER, "ReducerOptions", dec_reducer},
    {89 /* REDUCE_MIN */, OPT_REDUCER, "ReducerOptions", dec_reducer},
    {LD_OP_SQUEEZE, OPT_SQUEEZE, "SqueezeOptions", dec_squeeze},
    {LD_OP_STRIDED_SLICE, OPT_STRIDED_SLICE, "StridedSliceOptions", dec_strided_slice},
    {LD_OP_DEPTH_TO_SPACE, OPT_DEPTH_TO_SPACE, "DepthToSpaceOptions", dec_depth_to_space},
};

leandet_status ld_tfl_options(ld_fb *f, int builtin, unsigned type, const ld_fb_table *opt, ld_op_params *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof decoders / sizeof decoders[0]; i++) {
        if (decoders[i].builtin != builtin)
            continue;
        if (type != 0 && type != decoders[i].type) {
            snprintf(f->why, sizeof f->why, "builtin options are union type %u, expected %s (%u)", type,
                     decoders[i].name, decoders[i].type);
            return LEANDET_ERR_MODEL;
        }
        rd r = {f, type ? opt : NULL, LEANDET_OK};
        decoders[i].decode(&r, out);
        if (r.st != LEANDET_OK) {
            /* prefix the table name to the reason */
            char why[sizeof f->why];
            memcpy(why, f->why, sizeof why);
            snprintf(f->why, sizeof f->why, "%s: %.160s", decoders[i].name, why);
        }
        return r.st;
    }
    return LEANDET_OK; /* not decoded: the kernel registry decides */
}

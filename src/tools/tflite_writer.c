/* ld_tflite_write: ld_model_desc -> .tflite bytes (schema.fbs, version 3).
 * Objects are built children first (see fb_builder.h): buffers, metadata,
 * operator codes, tensors, operators, subgraph, then the Model table. */
#include "tools/tflite_writer.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "model/ops.h"
#include "tools/fb_builder.h"

/* Field ids of schema.fbs tables. */
enum { M_VERSION = 0, M_OPCODES = 1, M_SUBGRAPHS = 2, M_DESCRIPTION = 3, M_BUFFERS = 4, M_METADATA = 6 };
enum { OC_DEPRECATED = 0, OC_CUSTOM = 1, OC_VERSION = 2, OC_BUILTIN = 3 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum { OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS_TYPE = 3, OP_OPTIONS = 4, OP_CUSTOM = 5 };
enum { T_SHAPE = 0, T_TYPE = 1, T_BUFFER = 2, T_NAME = 3, T_QUANT = 4, T_IS_VARIABLE = 5, T_SPARSITY = 6,
       T_HAS_RANK = 8 };
enum { Q_SCALE = 2, Q_ZERO_POINT = 3, Q_AXIS = 6 };
enum { S_TRAVERSAL = 0, S_BLOCK_MAP = 1, S_DIM_META = 2 };
enum { DM_FORMAT = 0, DM_DENSE_SIZE = 1, DM_SEGMENTS_TYPE = 2, DM_SEGMENTS = 3, DM_INDICES_TYPE = 4, DM_INDICES = 5 };
enum { B_DATA = 0 };
enum { MD_NAME = 0, MD_BUFFER = 1 };
enum { SPARSE_INT32_VECTOR = 1 };

#define SCHEMA_VERSION 3u
#define BUFFER_ALIGN 16 /* as TensorFlow Lite's converter: lets kernels read weights in place */

/* ---- builtin options: ld_op_params -> option tables ---------------------- */

typedef void (*encode_fn)(ld_fbb *b, const ld_op_params *p);

static void enc_conv(ld_fbb *b, const ld_op_params *p)
{
    const ld_conv_params *c = &p->conv;
    ld_fbb_u8(b, 0, (uint8_t)c->padding, 0);
    ld_fbb_i32(b, 1, c->stride_w, 0);
    ld_fbb_i32(b, 2, c->stride_h, 0);
    ld_fbb_u8(b, 3, (uint8_t)c->act, 0);
    ld_fbb_i32(b, 4, c->dilation_w, 1);
    ld_fbb_i32(b, 5, c->dilation_h, 1);
}

static void enc_depthwise(ld_fbb *b, const ld_op_params *p)
{
    const ld_conv_params *c = &p->conv;
    ld_fbb_u8(b, 0, (uint8_t)c->padding, 0);
    ld_fbb_i32(b, 1, c->stride_w, 0);
    ld_fbb_i32(b, 2, c->stride_h, 0);
    ld_fbb_i32(b, 3, c->depth_multiplier, 0);
    ld_fbb_u8(b, 4, (uint8_t)c->act, 0);
    ld_fbb_i32(b, 5, c->dilation_w, 1);
    ld_fbb_i32(b, 6, c->dilation_h, 1);
}

static void enc_pool(ld_fbb *b, const ld_op_params *p)
{
    const ld_pool_params *q = &p->pool;
    ld_fbb_u8(b, 0, (uint8_t)q->padding, 0);
    ld_fbb_i32(b, 1, q->stride_w, 0);
    ld_fbb_i32(b, 2, q->stride_h, 0);
    ld_fbb_i32(b, 3, q->filter_w, 0);
    ld_fbb_i32(b, 4, q->filter_h, 0);
    ld_fbb_u8(b, 5, (uint8_t)q->act, 0);
}

static void enc_fc(ld_fbb *b, const ld_op_params *p)
{
    ld_fbb_u8(b, 0, (uint8_t)p->fc.act, 0);
    ld_fbb_u8(b, 1, (uint8_t)p->fc.weights_format, 0);
    ld_fbb_u8(b, 2, p->fc.keep_num_dims != 0, 0);
    ld_fbb_u8(b, 3, p->fc.asymmetric_quantize_inputs != 0, 0);
}

static void enc_softmax(ld_fbb *b, const ld_op_params *p) { ld_fbb_f32(b, 0, p->softmax.beta, 0.0f); }

static void enc_concat(ld_fbb *b, const ld_op_params *p)
{
    ld_fbb_i32(b, 0, p->concat.axis, 0);
    ld_fbb_u8(b, 1, (uint8_t)p->concat.act, 0);
}

static void enc_arith(ld_fbb *b, const ld_op_params *p) { ld_fbb_u8(b, 0, (uint8_t)p->arith.act, 0); }

static void enc_resize_bilinear(ld_fbb *b, const ld_op_params *p)
{
    ld_fbb_u8(b, 2, p->resize.align_corners != 0, 0); /* 0 and 1: deprecated new_height/new_width */
    ld_fbb_u8(b, 3, p->resize.half_pixel_centers != 0, 0);
}

static void enc_resize_nearest(ld_fbb *b, const ld_op_params *p)
{
    ld_fbb_u8(b, 0, p->resize.align_corners != 0, 0);
    ld_fbb_u8(b, 1, p->resize.half_pixel_centers != 0, 0);
}

static void enc_reducer(ld_fbb *b, const ld_op_params *p) { ld_fbb_u8(b, 0, p->reducer.keep_dims != 0, 0); }

static void enc_strided_slice(ld_fbb *b, const ld_op_params *p)
{
    const ld_strided_slice_params *s = &p->strided_slice;
    ld_fbb_i32(b, 0, s->begin_mask, 0);
    ld_fbb_i32(b, 1, s->end_mask, 0);
    ld_fbb_i32(b, 2, s->ellipsis_mask, 0);
    ld_fbb_i32(b, 3, s->new_axis_mask, 0);
    ld_fbb_i32(b, 4, s->shrink_axis_mask, 0);
    ld_fbb_u8(b, 5, s->offset != 0, 0);
}

static void enc_depth_to_space(ld_fbb *b, const ld_op_params *p) { ld_fbb_i32(b, 0, p->depth_to_space.block_size, 0); }

/* RESHAPE and SQUEEZE carry a vector, which must exist before their table:
 * they are handled in write_options. */
#define ENC_VECTOR NULL

/* BuiltinOptions union members (schema.fbs order, NONE = 0). */
enum {
    OPT_NONE = 0, OPT_CONV_2D = 1, OPT_DEPTHWISE_CONV_2D = 2, OPT_POOL_2D = 5, OPT_FULLY_CONNECTED = 8,
    OPT_SOFTMAX = 9, OPT_CONCATENATION = 10, OPT_ADD = 11, OPT_RESIZE_BILINEAR = 15, OPT_RESHAPE = 17, OPT_MUL = 21,
    OPT_REDUCER = 27, OPT_SUB = 28, OPT_SQUEEZE = 30, OPT_STRIDED_SLICE = 32, OPT_RESIZE_NEAREST = 74,
    OPT_DEPTH_TO_SPACE = 94
};

/* Every builtin the writer can reproduce. Operators without options (or
 * with an empty options table, which TensorFlow Lite does not need) are
 * written without one. This mirrors model/options.c, the reader's list. */
static const struct {
    int builtin;
    uint8_t type;
    encode_fn encode;
} known[] = {
    {LD_OP_CONV_2D, OPT_CONV_2D, enc_conv},
    {LD_OP_DEPTHWISE_CONV_2D, OPT_DEPTHWISE_CONV_2D, enc_depthwise},
    {LD_OP_AVERAGE_POOL_2D, OPT_POOL_2D, enc_pool},
    {LD_OP_MAX_POOL_2D, OPT_POOL_2D, enc_pool},
    {12 /* L2_POOL_2D */, OPT_POOL_2D, enc_pool},
    {LD_OP_FULLY_CONNECTED, OPT_FULLY_CONNECTED, enc_fc},
    {LD_OP_SOFTMAX, OPT_SOFTMAX, enc_softmax},
    {LD_OP_CONCATENATION, OPT_CONCATENATION, enc_concat},
    {LD_OP_ADD, OPT_ADD, enc_arith},
    {LD_OP_SUB, OPT_SUB, enc_arith},
    {LD_OP_MUL, OPT_MUL, enc_arith},
    {LD_OP_RESHAPE, OPT_RESHAPE, ENC_VECTOR},
    {LD_OP_RESIZE_BILINEAR, OPT_RESIZE_BILINEAR, enc_resize_bilinear},
    {LD_OP_RESIZE_NEAREST_NEIGHBOR, OPT_RESIZE_NEAREST, enc_resize_nearest},
    {LD_OP_MEAN, OPT_REDUCER, enc_reducer},
    {74 /* SUM */, OPT_REDUCER, enc_reducer},
    {81 /* REDUCE_PROD */, OPT_REDUCER, enc_reducer},
    {82 /* REDUCE_MAX */, OPT_REDUCER, enc_reducer},
    {89 /* REDUCE_MIN */, OPT_REDUCER, enc_reducer},
    {LD_OP_SQUEEZE, OPT_SQUEEZE, ENC_VECTOR},
    {LD_OP_STRIDED_SLICE, OPT_STRIDED_SLICE, enc_strided_slice},
    {LD_OP_DEPTH_TO_SPACE, OPT_DEPTH_TO_SPACE, enc_depth_to_space},
    {LD_OP_DEQUANTIZE, OPT_NONE, NULL},
    {LD_OP_QUANTIZE, OPT_NONE, NULL},
    {LD_OP_LOGISTIC, OPT_NONE, NULL},
    {LD_OP_RELU, OPT_NONE, NULL},
    {LD_OP_RELU6, OPT_NONE, NULL},
    {20 /* RELU_N1_TO_1 */, OPT_NONE, NULL},
    {LD_OP_TANH, OPT_NONE, NULL},
    {LD_OP_PRELU, OPT_NONE, NULL},
    {LD_OP_HARD_SWISH, OPT_NONE, NULL},
    {LD_OP_PAD, OPT_NONE, NULL},
    {LD_OP_PADV2, OPT_NONE, NULL},
    {LD_OP_TRANSPOSE, OPT_NONE, NULL},
    {LD_OP_DENSIFY, OPT_NONE, NULL},
    {LD_OP_CUSTOM, OPT_NONE, NULL},
};

static int find_known(int builtin)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].builtin == builtin)
            return (int)i;
    return -1;
}

int ld_tflite_writer_knows(int builtin)
{
    return find_known(builtin) >= 0;
}

/* ---- writer state --------------------------------------------------------- */

typedef struct opcode {
    int builtin, version;
    const char *custom;
} opcode;

typedef struct writer {
    ld_fbb b;
    const ld_model_desc *m;
    const char *name;
    ld_alloc *alloc;
    leandet_error *err;
    int32_t *tensor_buffer;  /* buffer index of each tensor (0: none) */
    int32_t *owner;          /* per buffer >= 1: the tensor holding its bytes, or -1 - metadata index */
    int n_buffers;
    opcode *codes;
    int32_t *op_code;        /* operator code index of each operator */
    int n_codes;
    ld_fbref *refs;          /* scratch for vectors of tables */
    int64_t *zero_points;    /* scratch for widening zero points */
} writer;

static void *walloc(writer *w, size_t n, size_t size)
{
    return ld_calloc(w->alloc, n ? n : 1, size);
}

static void writer_free(writer *w)
{
    ld_free(w->alloc, w->tensor_buffer);
    ld_free(w->alloc, w->owner);
    ld_free(w->alloc, w->codes);
    ld_free(w->alloc, w->op_code);
    ld_free(w->alloc, w->refs);
    ld_free(w->alloc, w->zero_points);
    ld_fbb_free(&w->b);
}

static leandet_status oom(writer *w, const char *what)
{
    return ld_fail(w->err, LEANDET_ERR_NO_MEMORY, "%s: out of memory writing %s", w->name, what);
}

/* ---- checks and tables of indices ----------------------------------------- */

static int index_ok(const ld_model_desc *m, int32_t t, int optional)
{
    return (t >= 0 && t < m->n_tensors) || (optional && t == -1);
}

static leandet_status check_model(writer *w)
{
    const ld_model_desc *m = w->m;
    if (m->n_subgraphs > 1)
        return ld_fail(w->err, LEANDET_ERR_UNSUPPORTED,
                       "%s: the model has %d subgraphs; leandet writes single-subgraph models only", w->name,
                       m->n_subgraphs);
    for (int i = 0; i < m->n_inputs; i++)
        if (!index_ok(m, m->inputs[i], 0))
            return ld_fail(w->err, LEANDET_ERR_MODEL, "%s: graph input %d is tensor %d, out of range", w->name, i,
                           (int)m->inputs[i]);
    for (int i = 0; i < m->n_outputs; i++)
        if (!index_ok(m, m->outputs[i], 0))
            return ld_fail(w->err, LEANDET_ERR_MODEL, "%s: graph output %d is tensor %d, out of range", w->name, i,
                           (int)m->outputs[i]);
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        char nb[32];
        const char *opname = op->builtin == LD_OP_CUSTOM && op->custom_name ? op->custom_name
                                                                            : ld_op_name(op->builtin, nb, sizeof nb);
        if (find_known(op->builtin) < 0)
            return ld_fail(w->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: operator %d (%s): leandet cannot write this operator (its options are not modelled)",
                           w->name, i, opname);
        if (op->builtin == LD_OP_CUSTOM && !op->custom_name)
            return ld_fail(w->err, LEANDET_ERR_MODEL, "%s: operator %d is CUSTOM without a name", w->name, i);
        for (int k = 0; k < op->n_inputs; k++)
            if (!index_ok(m, op->inputs[k], 1))
                return ld_fail(w->err, LEANDET_ERR_MODEL, "%s: operator %d (%s): input %d is tensor %d, out of range",
                               w->name, i, opname, k, (int)op->inputs[k]);
        for (int k = 0; k < op->n_outputs; k++)
            if (!index_ok(m, op->outputs[k], 0))
                return ld_fail(w->err, LEANDET_ERR_MODEL, "%s: operator %d (%s): output %d is tensor %d, out of range",
                               w->name, i, opname, k, (int)op->outputs[k]);
    }
    return LEANDET_OK;
}

/* Buffer 0 is the empty buffer every activation points at; each distinct
 * constant (tensors sharing bytes share a buffer) and each metadata entry
 * gets its own. */
static leandet_status assign_buffers(writer *w)
{
    const ld_model_desc *m = w->m;
    size_t most = 1 + (size_t)m->n_tensors + (size_t)m->n_metadata;
    w->tensor_buffer = walloc(w, (size_t)m->n_tensors, sizeof *w->tensor_buffer);
    w->owner = walloc(w, most, sizeof *w->owner);
    if (!w->tensor_buffer || !w->owner)
        return oom(w, "the buffer table");
    int n = 1;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        if (!t->data || t->data_bytes == 0)
            continue;
        int found = 0;
        for (int k = 1; k < n && !found; k++) {
            const ld_tensor_desc *o = &m->tensors[w->owner[k]];
            if (o->data == t->data && o->data_bytes == t->data_bytes) {
                w->tensor_buffer[i] = k;
                found = 1;
            }
        }
        if (!found) {
            w->owner[n] = i;
            w->tensor_buffer[i] = n++;
        }
    }
    for (int i = 0; i < m->n_metadata; i++)
        w->owner[n++] = -1 - i;
    w->n_buffers = n;
    return LEANDET_OK;
}

static int same_code(const opcode *a, const ld_op_desc *op)
{
    if (a->builtin != op->builtin || a->version != op->version)
        return 0;
    return op->builtin != LD_OP_CUSTOM || strcmp(a->custom, op->custom_name) == 0;
}

static leandet_status assign_codes(writer *w)
{
    const ld_model_desc *m = w->m;
    w->codes = walloc(w, (size_t)m->n_ops, sizeof *w->codes);
    w->op_code = walloc(w, (size_t)m->n_ops, sizeof *w->op_code);
    if (!w->codes || !w->op_code)
        return oom(w, "operator codes");
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        int k = 0;
        while (k < w->n_codes && !same_code(&w->codes[k], op))
            k++;
        if (k == w->n_codes)
            w->codes[w->n_codes++] = (opcode){op->builtin, op->version, op->custom_name};
        w->op_code[i] = k;
    }
    return LEANDET_OK;
}

/* ---- objects ---------------------------------------------------------------- */

static ld_fbref bytes_vector(writer *w, const void *p, size_t n)
{
    return ld_fbb_vector(&w->b, p, n, 1, BUFFER_ALIGN);
}

static ld_fbref int_vector(writer *w, const int32_t *v, int n)
{
    return ld_fbb_vector(&w->b, v, (size_t)n, 4, 4);
}

static ld_fbref table_vector(writer *w, int n, ld_fbref (*one)(writer *, int))
{
    for (int i = n - 1; i >= 0; i--) /* built last to first: they land in order */
        w->refs[i] = one(w, i);
    return ld_fbb_ref_vector(&w->b, w->refs, (size_t)n);
}

static ld_fbref buffer_table(writer *w, int k)
{
    ld_fbref data = 0;
    if (k > 0) {
        int o = w->owner[k];
        if (o >= 0)
            data = bytes_vector(w, w->m->tensors[o].data, w->m->tensors[o].data_bytes);
        else if (w->m->metadata[-1 - o].data)
            data = bytes_vector(w, w->m->metadata[-1 - o].data, w->m->metadata[-1 - o].bytes);
    }
    ld_fbb_start(&w->b);
    ld_fbb_ref(&w->b, B_DATA, data);
    return ld_fbb_end(&w->b);
}

static ld_fbref metadata_table(writer *w, int i)
{
    const ld_metadata *md = &w->m->metadata[i];
    ld_fbref name = ld_fbb_string(&w->b, md->name ? md->name : "");
    int buffer = w->n_buffers - w->m->n_metadata + i;
    ld_fbb_start(&w->b);
    ld_fbb_ref(&w->b, MD_NAME, name);
    ld_fbb_u32(&w->b, MD_BUFFER, (uint32_t)buffer, 0);
    return ld_fbb_end(&w->b);
}

static ld_fbref opcode_table(writer *w, int i)
{
    const opcode *c = &w->codes[i];
    ld_fbref custom = c->custom ? ld_fbb_string(&w->b, c->custom) : 0;
    ld_fbb_start(&w->b);
    /* Readers older than builtin_code read the int8 field, saturated at 127
     * (PLACEHOLDER_FOR_GREATER_OP_CODES) for the codes that do not fit. */
    ld_fbb_u8(&w->b, OC_DEPRECATED, (uint8_t)(c->builtin < 127 ? c->builtin : 127), 0);
    ld_fbb_ref(&w->b, OC_CUSTOM, custom);
    ld_fbb_i32(&w->b, OC_VERSION, c->version, 1);
    ld_fbb_i32(&w->b, OC_BUILTIN, c->builtin, 0);
    return ld_fbb_end(&w->b);
}

static ld_fbref quant_table(writer *w, const ld_quant *q)
{
    if (q->count <= 0)
        return 0;
    for (int i = 0; i < q->count; i++)
        w->zero_points[i] = q->zero_point[i];
    ld_fbref scale = ld_fbb_vector(&w->b, q->scale, (size_t)q->count, 4, 4);
    ld_fbref zp = ld_fbb_vector(&w->b, w->zero_points, (size_t)q->count, 8, 8);
    ld_fbb_start(&w->b);
    ld_fbb_ref(&w->b, Q_SCALE, scale);
    ld_fbb_ref(&w->b, Q_ZERO_POINT, zp);
    ld_fbb_i32(&w->b, Q_AXIS, q->axis, 0);
    return ld_fbb_end(&w->b);
}

/* A SparseIndexVector written as its Int32Vector member (the reader widens
 * every member to int32, so this loses nothing). */
static ld_fbref int32_vector_table(writer *w, const int32_t *v, int n)
{
    ld_fbref values = int_vector(w, v, n);
    ld_fbb_start(&w->b);
    ld_fbb_ref(&w->b, 0, values);
    return ld_fbb_end(&w->b);
}

static ld_fbref dim_meta_table(writer *w, const ld_dim_meta *d)
{
    ld_fbref seg = 0, idx = 0;
    if (d->format == LD_DIM_SPARSE_CSR) {
        seg = int32_vector_table(w, d->segments, d->n_segments);
        idx = int32_vector_table(w, d->indices, d->n_indices);
    }
    ld_fbb_start(&w->b);
    ld_fbb_u8(&w->b, DM_FORMAT, (uint8_t)d->format, 0);
    ld_fbb_i32(&w->b, DM_DENSE_SIZE, d->dense_size, 0);
    if (seg) {
        ld_fbb_u8(&w->b, DM_SEGMENTS_TYPE, SPARSE_INT32_VECTOR, 0);
        ld_fbb_ref(&w->b, DM_SEGMENTS, seg);
        ld_fbb_u8(&w->b, DM_INDICES_TYPE, SPARSE_INT32_VECTOR, 0);
        ld_fbb_ref(&w->b, DM_INDICES, idx);
    }
    return ld_fbb_end(&w->b);
}

static ld_fbref sparsity_table(writer *w, const ld_sparsity *s)
{
    if (!s)
        return 0;
    ld_fbref dims[2 * LD_MAX_DIMS];
    int n = s->n_dims < 2 * LD_MAX_DIMS ? s->n_dims : 2 * LD_MAX_DIMS; /* the reader allows rank + rank */
    for (int i = n - 1; i >= 0; i--)
        dims[i] = dim_meta_table(w, &s->dims[i]);
    ld_fbref dm = ld_fbb_ref_vector(&w->b, dims, (size_t)n);
    ld_fbref trav = int_vector(w, s->traversal_order, s->n_traversal);
    ld_fbref block = s->n_block_map ? int_vector(w, s->block_map, s->n_block_map) : 0;
    ld_fbb_start(&w->b);
    ld_fbb_ref(&w->b, S_TRAVERSAL, trav);
    ld_fbb_ref(&w->b, S_BLOCK_MAP, block);
    ld_fbb_ref(&w->b, S_DIM_META, dm);
    return ld_fbb_end(&w->b);
}

static ld_fbref tensor_table(writer *w, int i)
{
    const ld_tensor_desc *t = &w->m->tensors[i];
    ld_fbref quant = quant_table(w, &t->quant);
    ld_fbref sparsity = sparsity_table(w, t->sparsity);
    ld_fbref name = ld_fbb_string(&w->b, t->name ? t->name : "");
    ld_fbref shape = int_vector(w, t->shape.d, t->shape.rank);
    ld_fbb_start(&w->b);
    ld_fbb_ref(&w->b, T_SHAPE, shape);
    ld_fbb_u8(&w->b, T_TYPE, (uint8_t)t->type, 0);
    ld_fbb_u32(&w->b, T_BUFFER, (uint32_t)w->tensor_buffer[i], 0);
    ld_fbb_ref(&w->b, T_NAME, name);
    ld_fbb_ref(&w->b, T_QUANT, quant);
    ld_fbb_u8(&w->b, T_IS_VARIABLE, t->is_variable != 0, 0);
    ld_fbb_ref(&w->b, T_SPARSITY, sparsity);
    ld_fbb_u8(&w->b, T_HAS_RANK, 1, 0); /* every shape leandet knows is ranked, scalars included */
    return ld_fbb_end(&w->b);
}

/* The options table of `op` (0 when it has none) and its union type. */
static ld_fbref options_table(writer *w, const ld_op_desc *op, uint8_t *type)
{
    int k = find_known(op->builtin);
    *type = OPT_NONE;
    if (k < 0 || known[k].type == OPT_NONE)
        return 0;
    const ld_op_params *p = &op->params;
    ld_fbref vec = 0;
    if (op->builtin == LD_OP_RESHAPE) {
        if (p->reshape.n < 0)
            return 0; /* new_shape absent: the shape comes from input 1 */
        vec = int_vector(w, p->reshape.shape, p->reshape.n);
    } else if (op->builtin == LD_OP_SQUEEZE && p->squeeze.n > 0) {
        vec = int_vector(w, p->squeeze.dims, p->squeeze.n);
    }
    ld_fbb_start(&w->b);
    if (known[k].encode)
        known[k].encode(&w->b, p);
    else
        ld_fbb_ref(&w->b, 0, vec); /* new_shape / squeeze_dims */
    *type = known[k].type;
    return ld_fbb_end(&w->b);
}

static ld_fbref operator_table(writer *w, int i)
{
    const ld_op_desc *op = &w->m->ops[i];
    uint8_t type;
    ld_fbref options = options_table(w, op, &type);
    ld_fbref custom = op->custom_options ? bytes_vector(w, op->custom_options, op->custom_options_bytes) : 0;
    ld_fbref outputs = int_vector(w, op->outputs, op->n_outputs);
    ld_fbref inputs = int_vector(w, op->inputs, op->n_inputs);
    ld_fbb_start(&w->b);
    ld_fbb_u32(&w->b, OP_OPCODE, (uint32_t)w->op_code[i], 0);
    ld_fbb_ref(&w->b, OP_INPUTS, inputs);
    ld_fbb_ref(&w->b, OP_OUTPUTS, outputs);
    ld_fbb_u8(&w->b, OP_OPTIONS_TYPE, type, 0);
    ld_fbb_ref(&w->b, OP_OPTIONS, options);
    ld_fbb_ref(&w->b, OP_CUSTOM, custom);
    return ld_fbb_end(&w->b);
}

static ld_fbref subgraph_table(writer *w)
{
    const ld_model_desc *m = w->m;
    ld_fbref ops = table_vector(w, m->n_ops, operator_table);
    ld_fbref tensors = table_vector(w, m->n_tensors, tensor_table);
    ld_fbref outputs = int_vector(w, m->outputs, m->n_outputs);
    ld_fbref inputs = int_vector(w, m->inputs, m->n_inputs);
    ld_fbb_start(&w->b);
    ld_fbb_ref(&w->b, SG_TENSORS, tensors);
    ld_fbb_ref(&w->b, SG_INPUTS, inputs);
    ld_fbb_ref(&w->b, SG_OUTPUTS, outputs);
    ld_fbb_ref(&w->b, SG_OPERATORS, ops);
    return ld_fbb_end(&w->b);
}

static ld_fbref model_table(writer *w)
{
    const ld_model_desc *m = w->m;
    /* Buffers first: built first, they end up at the end of the file, after
     * the small tables, where a reader's page faults want them. */
    ld_fbref buffers = table_vector(w, w->n_buffers, buffer_table);
    ld_fbref metadata = m->n_metadata ? table_vector(w, m->n_metadata, metadata_table) : 0;
    ld_fbref codes = table_vector(w, w->n_codes, opcode_table);
    ld_fbref sg = subgraph_table(w);
    ld_fbref subgraphs = ld_fbb_ref_vector(&w->b, &sg, 1);
    ld_fbref desc = ld_fbb_string(&w->b, m->description ? m->description : "");
    ld_fbb_start(&w->b);
    ld_fbb_u32(&w->b, M_VERSION, SCHEMA_VERSION, 0);
    ld_fbb_ref(&w->b, M_OPCODES, codes);
    ld_fbb_ref(&w->b, M_SUBGRAPHS, subgraphs);
    ld_fbb_ref(&w->b, M_DESCRIPTION, desc);
    ld_fbb_ref(&w->b, M_BUFFERS, buffers);
    ld_fbb_ref(&w->b, M_METADATA, metadata);
    return ld_fbb_end(&w->b);
}

/* ---- entry point ------------------------------------------------------------ */

static size_t size_hint(const ld_model_desc *m)
{
    size_t n = 65536 + (size_t)m->n_tensors * 256 + (size_t)m->n_ops * 128;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].data)
            n += m->tensors[i].data_bytes + BUFFER_ALIGN;
    for (int i = 0; i < m->n_metadata; i++)
        n += m->metadata[i].bytes + BUFFER_ALIGN;
    return n;
}

leandet_status ld_tflite_write(const ld_model_desc *m, const char *name, ld_alloc *alloc, uint8_t **out,
                               size_t *size, leandet_error *err)
{
    if (!m || !alloc || !out || !size)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "ld_tflite_write: NULL argument");
    *out = NULL;
    *size = 0;
    writer w;
    memset(&w, 0, sizeof w);
    w.m = m;
    w.name = name ? name : "model";
    w.alloc = alloc;
    w.err = err;
    leandet_status st;
    if ((st = check_model(&w)) || (st = assign_buffers(&w)) || (st = assign_codes(&w))) {
        writer_free(&w);
        return st;
    }
    int most = w.n_buffers, zp = 1;
    if (m->n_tensors > most)
        most = m->n_tensors;
    if (m->n_ops > most)
        most = m->n_ops;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].quant.count > zp)
            zp = m->tensors[i].quant.count;
    w.refs = walloc(&w, (size_t)most, sizeof *w.refs);
    w.zero_points = walloc(&w, (size_t)zp, sizeof *w.zero_points);
    if (!w.refs || !w.zero_points) {
        st = oom(&w, "tables");
        writer_free(&w);
        return st;
    }
    ld_fbb_init(&w.b, alloc, size_hint(m));
    ld_fbref root = model_table(&w);
    ld_fbb_status fs = ld_fbb_finish(&w.b, root, "TFL3", out, size);
    writer_free(&w);
    if (fs == LD_FBB_OK)
        return LEANDET_OK;
    return ld_fail(err, fs == LD_FBB_NO_MEMORY ? LEANDET_ERR_NO_MEMORY
                        : fs == LD_FBB_TOO_LARGE ? LEANDET_ERR_UNSUPPORTED
                                                 : LEANDET_ERR_INTERNAL,
                   "%s: cannot write the flatbuffer: %s", w.name, ld_fbb_status_text(fs));
}

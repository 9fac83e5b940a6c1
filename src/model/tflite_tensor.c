/* Tensor tables: shape, type, constant data, quantization, sparsity. */
#include "model/tflite_internal.h"

#include <stdio.h>

/* Tensor table field ids (schema.fbs, table Tensor). */
enum { T_SHAPE = 0, T_TYPE = 1, T_BUFFER = 2, T_NAME = 3, T_QUANT = 4, T_IS_VARIABLE = 5, T_SPARSITY = 6 };
/* QuantizationParameters: ids 4/5 are the `details` union (type, value). */
enum { Q_SCALE = 2, Q_ZERO_POINT = 3, Q_DETAILS_TYPE = 4, Q_AXIS = 6 };
/* SparsityParameters and DimensionMetadata; unions take two ids each. */
enum { S_TRAVERSAL = 0, S_BLOCK_MAP = 1, S_DIM_META = 2 };
enum { DM_FORMAT = 0, DM_DENSE_SIZE = 1, DM_SEGMENTS_TYPE = 2, DM_SEGMENTS = 3, DM_INDICES_TYPE = 4, DM_INDICES = 5 };

/* Constant and activation sizes stay far below SIZE_MAX so that planners can
 * add alignment and sum tensors without overflow checks of their own. */
#define LD_TENSOR_MAX_BYTES (SIZE_MAX / 16)

static const char *const type_names[] = {"FLOAT32", "FLOAT16", "INT32",      "UINT8",  "INT64",
                                         "STRING",  "BOOL",    "INT16",      "COMPLEX64", "INT8",
                                         "FLOAT64", "COMPLEX128", "UINT64",  "RESOURCE", "VARIANT",
                                         "UINT32",  "UINT16",  "INT4",       "BFLOAT16"};

static int type_supported(int t)
{
    return t >= LEANDET_FLOAT32 && t <= LEANDET_INT8 && t != 8;
}

static void shape_str(const ld_shape *s, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < s->rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%d" : "%d", s->d[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

static leandet_status parse_shape(ld_tfl *c, const char *ctx, const ld_fb_table *t, ld_shape *s)
{
    ld_fb_vec v;
    if (!ld_fb_vec_field(&c->fb, t, T_SHAPE, 4, &v))
        return ld_tfl_bad_fb(c, "%s: shape", ctx);
    if (v.len > LD_MAX_DIMS)
        return ld_tfl_fail(c, LEANDET_ERR_UNSUPPORTED, "%s: rank %u exceeds leandet's limit of %d dimensions", ctx,
                           v.len, LD_MAX_DIMS);
    s->rank = (int)v.len;
    for (uint32_t i = 0; i < v.len; i++) {
        s->d[i] = ld_fb_vec_i32(&c->fb, &v, i);
        if (s->d[i] < 0)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: dimension %u is %d (must be >= 0)", ctx, i, s->d[i]);
    }
    return LEANDET_OK;
}

/* Element count * element size without overflow (strings count 1 byte each). */
static leandet_status check_bytes(ld_tfl *c, const char *ctx, const ld_shape *s, size_t elem, size_t *bytes)
{
    size_t n = elem ? elem : 1;
    for (int i = 0; i < s->rank; i++) {
        size_t d = (size_t)s->d[i];
        if (d && n > LD_TENSOR_MAX_BYTES / d) {
            char sh[96];
            shape_str(s, sh, sizeof sh);
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: shape %s is too large (byte size overflows)", ctx, sh);
        }
        n *= d;
    }
    *bytes = n;
    return LEANDET_OK;
}

static leandet_status parse_quant(ld_tfl *c, const char *ctx, const ld_fb_table *t, const ld_shape *s, ld_quant *q)
{
    ld_fb *f = &c->fb;
    ld_fb_table qt;
    bool present;
    if (!ld_fb_table_field(f, t, T_QUANT, &qt, &present))
        return ld_tfl_bad_fb(c, "%s: quantization", ctx);
    if (!present)
        return LEANDET_OK;
    uint8_t details;
    ld_fb_vec sv, zv;
    int32_t axis;
    if (!ld_fb_u8(f, &qt, Q_DETAILS_TYPE, 0, &details) || !ld_fb_vec_field(f, &qt, Q_SCALE, 4, &sv) ||
        !ld_fb_vec_field(f, &qt, Q_ZERO_POINT, 8, &zv) || !ld_fb_i32(f, &qt, Q_AXIS, 0, &axis))
        return ld_tfl_bad_fb(c, "%s: quantization", ctx);
    if (details > 1)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: quantization details type %u is unknown", ctx, details);
    if (details == 1)
        return ld_tfl_fail(c, LEANDET_ERR_UNSUPPORTED, "%s: custom quantization is not supported", ctx);
    if (sv.len == 0)
        return LEANDET_OK; /* min/max only, or nothing: not quantized (as TFLite) */
    if (zv.len != sv.len)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: quantization has %u scales and %u zero points", ctx, sv.len,
                           zv.len);
    if (axis < 0 || (s->rank > 0 && axis >= s->rank))
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: quantized_dimension %d out of range for rank %d", ctx, axis,
                           s->rank);
    if (sv.len > 1 && (s->rank == 0 || (uint32_t)s->d[axis] != sv.len))
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: %u per-channel scales but dimension %d has %d entries", ctx,
                           sv.len, axis, s->rank ? s->d[axis] : 0);
    for (uint32_t i = 0; i < zv.len; i++) {
        int64_t z = ld_fb_i64_at(f->p + zv.pos + (size_t)i * 8);
        if (z < INT32_MIN || z > INT32_MAX)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: zero point %lld does not fit in int32", ctx, (long long)z);
    }
    leandet_status st;
    q->scale = ld_tfl_array(c, sv.len, sizeof(float), "quantization scales", &st);
    if (!q->scale)
        return st;
    q->zero_point = ld_tfl_array(c, zv.len, sizeof(int32_t), "quantization zero points", &st);
    if (!q->zero_point)
        return st;
    for (uint32_t i = 0; i < sv.len; i++) {
        q->scale[i] = ld_fb_f32_at(f->p + sv.pos + (size_t)i * 4);
        q->zero_point[i] = (int32_t)ld_fb_i64_at(f->p + zv.pos + (size_t)i * 8);
    }
    q->count = (int)sv.len;
    q->axis = axis;
    return LEANDET_OK;
}

/* Copy an int32 vector field, charged to the copy budget. */
static leandet_status copy_i32_vec(ld_tfl *c, const char *ctx, const char *what, const ld_fb_table *t, int id,
                                   int32_t **out, int *n)
{
    ld_fb_vec v;
    leandet_status st;
    if (!ld_fb_vec_field(&c->fb, t, id, 4, &v))
        return ld_tfl_bad_fb(c, "%s: %s", ctx, what);
    *out = ld_tfl_array(c, v.len, sizeof(int32_t), what, &st);
    if (v.len && !*out)
        return st;
    for (uint32_t i = 0; i < v.len; i++)
        (*out)[i] = ld_fb_vec_i32(&c->fb, &v, i);
    *n = (int)v.len;
    return LEANDET_OK;
}

/* A SparseIndexVector union (Int32Vector 1, Uint16Vector 2, Uint8Vector 3),
 * widened to int32; values must be non-negative. */
static leandet_status index_vector(ld_tfl *c, const char *ctx, const ld_fb_table *dm, int type_id, int value_id,
                                   int32_t **out, int *n)
{
    static const size_t widths[] = {0, 4, 2, 1};
    ld_fb *f = &c->fb;
    uint8_t type;
    ld_fb_table vt;
    bool present;
    if (!ld_fb_u8(f, dm, type_id, 0, &type) || !ld_fb_table_field(f, dm, value_id, &vt, &present))
        return ld_tfl_bad_fb(c, "%s: sparse index vector", ctx);
    if (type < 1 || type > 3 || !present)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: sparse dimension has no valid index vector (type %u)", ctx,
                           type);
    size_t w = widths[type];
    ld_fb_vec v;
    leandet_status st;
    if (!ld_fb_vec_field(f, &vt, 0, w, &v))
        return ld_tfl_bad_fb(c, "%s: sparse index vector", ctx);
    *out = ld_tfl_array(c, v.len, sizeof(int32_t), "sparse indices", &st);
    if (v.len && !*out)
        return st;
    for (uint32_t i = 0; i < v.len; i++) {
        const uint8_t *p = f->p + v.pos + (size_t)i * w;
        int32_t x = w == 4 ? ld_fb_i32_at(p) : w == 2 ? (int32_t)ld_fb_u16_at(p) : (int32_t)*p;
        if (x < 0)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: sparse index %d is negative", ctx, x);
        (*out)[i] = x;
    }
    *n = (int)v.len;
    return LEANDET_OK;
}

static leandet_status parse_dim_meta(ld_tfl *c, const char *ctx, const ld_fb_table *dm, ld_dim_meta *d)
{
    uint8_t format;
    int32_t dense;
    if (!ld_fb_u8(&c->fb, dm, DM_FORMAT, 0, &format) || !ld_fb_i32(&c->fb, dm, DM_DENSE_SIZE, 0, &dense))
        return ld_tfl_bad_fb(c, "%s: dimension metadata", ctx);
    if (format > LD_DIM_SPARSE_CSR || dense < 0)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: dimension metadata has format %u, dense_size %d", ctx, format,
                           dense);
    d->format = (ld_dim_format)format;
    d->dense_size = dense;
    if (d->format == LD_DIM_DENSE)
        return LEANDET_OK;
    leandet_status st = index_vector(c, ctx, dm, DM_SEGMENTS_TYPE, DM_SEGMENTS, &d->segments, &d->n_segments);
    if (st == LEANDET_OK)
        st = index_vector(c, ctx, dm, DM_INDICES_TYPE, DM_INDICES, &d->indices, &d->n_indices);
    if (st != LEANDET_OK)
        return st;
    /* CSR row pointers: start at 0, never decrease, end at the index count. */
    int ok = d->n_segments >= 1 && d->segments[0] == 0 && d->segments[d->n_segments - 1] == d->n_indices;
    for (int i = 1; ok && i < d->n_segments; i++)
        ok = d->segments[i] >= d->segments[i - 1];
    if (!ok)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: sparse segments are not a valid CSR row-pointer array", ctx);
    return LEANDET_OK;
}

/* Each of 0..n-1 appears once in v[0..n). */
static int is_permutation(const int32_t *v, int n, int base)
{
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        int x = v[i] - base;
        if (x < 0 || x >= n || (seen >> x & 1u))
            return 0;
        seen |= 1u << x;
    }
    return 1;
}

static leandet_status parse_sparsity(ld_tfl *c, const char *ctx, const ld_fb_table *t, int rank, ld_sparsity **out)
{
    ld_fb *f = &c->fb;
    ld_fb_table sp;
    bool present;
    if (!ld_fb_table_field(f, t, T_SPARSITY, &sp, &present))
        return ld_tfl_bad_fb(c, "%s: sparsity", ctx);
    if (!present)
        return LEANDET_OK;
    leandet_status st;
    ld_sparsity *s = ld_tfl_array(c, 1, sizeof *s, "sparsity", &st);
    if (!s)
        return st;
    *out = s;
    ld_fb_vec dims;
    if ((st = copy_i32_vec(c, ctx, "traversal order", &sp, S_TRAVERSAL, &s->traversal_order, &s->n_traversal)) ||
        (st = copy_i32_vec(c, ctx, "block map", &sp, S_BLOCK_MAP, &s->block_map, &s->n_block_map)))
        return st;
    if (!ld_fb_vec_field(f, &sp, S_DIM_META, 4, &dims))
        return ld_tfl_bad_fb(c, "%s: dimension metadata", ctx);
    int n = s->n_traversal, k = s->n_block_map;
    /* traversal = a permutation of the rank dims, then one of the block dims;
     * each block dim maps to an original dim. */
    int ok = n == rank + k && k <= rank && dims.len == (uint32_t)n && is_permutation(s->traversal_order, rank, 0) &&
             (k == 0 || is_permutation(s->traversal_order + rank, k, rank));
    for (int i = 0; ok && i < k; i++)
        ok = s->block_map[i] >= 0 && s->block_map[i] < rank;
    if (!ok)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL,
                           "%s: sparsity has traversal order of %d, block map of %d, %u dimension metadata for rank %d",
                           ctx, n, k, dims.len, rank);
    s->dims = ld_tfl_array(c, (size_t)n, sizeof *s->dims, "dimension metadata", &st);
    if (n && !s->dims)
        return st;
    s->n_dims = n;
    for (int i = 0; i < n; i++) {
        ld_fb_table dm;
        if (!ld_fb_vec_table(f, &dims, (uint32_t)i, &dm))
            return ld_tfl_bad_fb(c, "%s: dimension metadata %d", ctx, i);
        if ((st = parse_dim_meta(c, ctx, &dm, &s->dims[i])))
            return st;
    }
    return LEANDET_OK;
}

/* Constant contents: a dense buffer holds exactly the tensor's bytes; a
 * sparse one holds a whole number of elements. */
static leandet_status parse_data(ld_tfl *c, const char *ctx, const ld_tensor_desc *t, size_t elem, size_t need,
                                 const uint8_t **data, size_t *bytes)
{
    char owner[200];
    snprintf(owner, sizeof owner, "%s: buffer %d", ctx, t->buffer);
    leandet_status st = ld_tfl_buffer(c, (uint32_t)t->buffer, owner, data, bytes);
    if (st != LEANDET_OK || *bytes == 0)
        return st;
    if (t->sparsity) {
        if (elem && *bytes % elem)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s holds %zu bytes, not a whole number of %zu-byte values",
                               owner, *bytes, elem);
    } else if (elem && *bytes != need) {
        char sh[96];
        shape_str(&t->shape, sh, sizeof sh);
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s holds %zu bytes, shape %s of %s needs %zu", owner, *bytes, sh,
                           leandet_dtype_name(t->type), need);
    }
    return LEANDET_OK;
}

leandet_status ld_tfl_tensor(ld_tfl *c, int index, const ld_fb_table *t, ld_tensor_desc *out)
{
    ld_fb *f = &c->fb;
    const char *name;
    if (!ld_fb_str_field(f, t, T_NAME, &name))
        return ld_tfl_bad_fb(c, "tensor %d: name", index);
    out->name = name ? name : "";
    char ctx[128];
    snprintf(ctx, sizeof ctx, "tensor %d '%.80s'", index, out->name);

    uint8_t type, is_var;
    uint32_t buffer;
    if (!ld_fb_u8(f, t, T_TYPE, 0, &type) || !ld_fb_u32(f, t, T_BUFFER, 0, &buffer) ||
        !ld_fb_u8(f, t, T_IS_VARIABLE, 0, &is_var))
        return ld_tfl_bad_fb(c, "%s", ctx);
    int ty = (int8_t)type;
    if (!type_supported(ty)) {
        if (ty >= 0 && ty < (int)(sizeof type_names / sizeof type_names[0]))
            return ld_tfl_fail(c, LEANDET_ERR_UNSUPPORTED, "%s: type %s is not supported", ctx, type_names[ty]);
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: unknown tensor type %d", ctx, ty);
    }
    out->type = (ld_dtype)ty;
    out->is_variable = is_var != 0;
    if (buffer >= c->buffers.len)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: buffer index %u out of range (%u buffers)", ctx, buffer,
                           c->buffers.len);
    out->buffer = (int)buffer;

    leandet_status st;
    size_t elem = leandet_dtype_size(out->type), need = 0;
    if ((st = parse_shape(c, ctx, t, &out->shape)) || (st = check_bytes(c, ctx, &out->shape, elem, &need)) ||
        (st = parse_quant(c, ctx, t, &out->shape, &out->quant)) ||
        (st = parse_sparsity(c, ctx, t, out->shape.rank, &out->sparsity)))
        return st;
    const uint8_t *data;
    size_t bytes;
    if ((st = parse_data(c, ctx, out, elem, need, &data, &bytes)))
        return st;
    out->data = bytes ? data : NULL;
    out->data_bytes = bytes ? bytes : 0;
    return LEANDET_OK;
}

void ld_tfl_tensor_free(ld_tensor_desc *t, ld_alloc *alloc)
{
    ld_free(alloc, t->quant.scale);
    ld_free(alloc, t->quant.zero_point);
    ld_sparsity *s = t->sparsity;
    if (s) {
        for (int i = 0; s->dims && i < s->n_dims; i++) {
            ld_free(alloc, s->dims[i].segments);
            ld_free(alloc, s->dims[i].indices);
        }
        ld_free(alloc, s->dims);
        ld_free(alloc, s->traversal_order);
        ld_free(alloc, s->block_map);
        ld_free(alloc, s);
    }
}

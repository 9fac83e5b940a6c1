/* Sparse storage of pruned weights, as TensorFlow Lite's own sparse models
 * hold them: the constant carries SparsityParameters (every dim dense but
 * the innermost, which is CSR: one segment per row, one index per stored
 * value) and a DENSIFY operator in front of the consumer expands it into
 * the tensor the consumer reads. Chosen per tensor only when the encoding
 * (values, int32 indices and segments as the writer stores them, plus the
 * extra tensor, operator and tables) is smaller than the dense bytes. */
#include <stdio.h>
#include <string.h>

#include "model/ops.h"
#include "tools/prune.h"

/* Bytes a sparse tensor and its DENSIFY add besides values and indices:
 * tensor and sparsity tables, dim metadata, operator, buffer alignment. */
#define SPARSE_OVERHEAD 320

static int is_zero(const ld_tensor_desc *w, size_t i)
{
    if (w->type == LEANDET_FLOAT32)
        return ((const float *)w->data)[i] == 0.0f;
    return ((const int8_t *)w->data)[i] == 0;
}

/* TensorFlow Lite's DENSIFY expands float32 and int8, filling with 0: an
 * int8 tensor qualifies only when 0 is its zero point everywhere. */
static int encodable(const ld_tensor_desc *w)
{
    if (w->type == LEANDET_FLOAT32)
        return 1;
    if (w->type != LEANDET_INT8)
        return 0;
    for (int c = 0; c < w->quant.count; c++)
        if (w->quant.zero_point[c] != 0)
            return 0;
    return 1;
}

/* The sparse twin of dense constant t, appended to the tensors; -1 on error. */
static int make_sparse(ld_edit *e, int t, size_t nnz)
{
    const ld_tensor_desc *w = &e->m.tensors[t];
    const int rank = w->shape.rank;
    const size_t es = leandet_dtype_size(w->type), n = ld_shape_count(&w->shape);
    const int32_t inner = w->shape.d[rank - 1];
    const size_t rows = n / (size_t)inner;
    ld_sparsity *sp = ld_edit_alloc(e, 1, sizeof *sp, "sparsity");
    int32_t *order = ld_edit_alloc(e, (size_t)rank, sizeof *order, "traversal order");
    ld_dim_meta *dims = ld_edit_alloc(e, (size_t)rank, sizeof *dims, "dim metadata");
    int32_t *seg = ld_edit_alloc(e, rows + 1, sizeof *seg, "segments");
    int32_t *idx = ld_edit_alloc(e, nnz, sizeof *idx, "indices");
    uint8_t *vals = ld_edit_alloc(e, nnz, es, "sparse values");
    size_t name_len = strlen(w->name) + sizeof "/sparse";
    char *name = ld_edit_alloc(e, name_len, 1, "tensor name");
    if (!sp || !order || !dims || !seg || !idx || !vals || !name)
        return -1;
    size_t k = 0;
    for (size_t row = 0; row < rows; row++) {
        seg[row] = (int32_t)k;
        for (int32_t j = 0; j < inner; j++) {
            size_t i = row * (size_t)inner + (size_t)j;
            if (is_zero(w, i))
                continue;
            idx[k] = j;
            memcpy(vals + k * es, (const uint8_t *)w->data + i * es, es);
            k++;
        }
    }
    seg[rows] = (int32_t)k;
    for (int d = 0; d < rank; d++) {
        order[d] = d;
        dims[d].format = d == rank - 1 ? LD_DIM_SPARSE_CSR : LD_DIM_DENSE;
        dims[d].dense_size = d == rank - 1 ? 0 : w->shape.d[d];
    }
    dims[rank - 1].n_segments = (int)(rows + 1);
    dims[rank - 1].segments = seg;
    dims[rank - 1].n_indices = (int)nnz;
    dims[rank - 1].indices = idx;
    sp->n_traversal = sp->n_dims = rank;
    sp->traversal_order = order;
    sp->dims = dims;
    snprintf(name, name_len, "%s/sparse", w->name);
    ld_tensor_desc s = *w;
    s.name = name;
    s.data = vals;
    s.data_bytes = nnz * es;
    s.sparsity = sp;
    return ld_prune_add_tensor(e, &s);
}

leandet_status ld_prune_encode_sparse(ld_edit *e, ld_prune_report *r)
{
    /* Layers are in operator order: inserting from the last one keeps the
     * indices of the earlier ones valid (the report keeps original indices). */
    for (int k = r->n_layers - 1; k >= 0; k--) {
        ld_prune_layer *l = &r->layers[k];
        if (l->skipped)
            continue;
        const int t = e->m.ops[l->op].inputs[1];
        const ld_tensor_desc *w = &e->m.tensors[t];
        /* Shared weights stay dense: one DENSIFY per reader would not pay. */
        if (!encodable(w) || ld_edit_uses(e, t) != 1)
            continue;
        const size_t es = leandet_dtype_size(w->type), n = ld_shape_count(&w->shape);
        const size_t rows = n / (size_t)w->shape.d[w->shape.rank - 1];
        size_t nnz = 0;
        for (size_t i = 0; i < n; i++)
            nnz += !is_zero(w, i);
        if (nnz > (size_t)INT32_MAX || rows >= (size_t)INT32_MAX)
            continue;
        const size_t sparse = nnz * (es + 4) + (rows + 1) * 4 + SPARSE_OVERHEAD;
        if (sparse >= n * es)
            continue;
        int s = make_sparse(e, t, nnz);
        if (s < 0)
            return LEANDET_ERR_NO_MEMORY;
        int32_t *in = ld_edit_alloc(e, 1, sizeof *in, "DENSIFY inputs");
        int32_t *out = ld_edit_alloc(e, 1, sizeof *out, "DENSIFY outputs");
        if (!in || !out)
            return LEANDET_ERR_NO_MEMORY;
        in[0] = s;
        out[0] = t;
        ld_op_desc op;
        memset(&op, 0, sizeof op);
        op.builtin = LD_OP_DENSIFY;
        op.version = 1;
        op.n_inputs = op.n_outputs = 1;
        op.inputs = in;
        op.outputs = out;
        if (ld_prune_insert_op(e, l->op, &op) < 0)
            return LEANDET_ERR_NO_MEMORY;
        /* The dense tensor is now computed by the DENSIFY. */
        ld_tensor_desc *d = &e->m.tensors[t];
        d->data = NULL;
        d->data_bytes = 0;
        l->sparse = 1;
        r->sparse++;
    }
    return LEANDET_OK;
}

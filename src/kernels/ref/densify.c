/* DENSIFY: expand a constant sparse tensor (TFLite SparsityParameters) into
 * its dense shape, with the semantics of TFLite's FormatConverter
 * (sparsity_format_converter.cc, SparseToDense / Populate):
 *  - level l of the stored tree describes expanded dim traversal_order[l];
 *    expanded dims are the original dims (rank of them) followed by one
 *    block dim per block_map entry;
 *  - a DENSE level has dense_size children per node; a SPARSE_CSR level
 *    lists the children of node p as indices[segments[p] .. segments[p+1]);
 *  - leaves take the stored values in order; a blocked dim's index is
 *    outer * block_size + inner; every other element is 0.
 * The file is untrusted, so prepare checks the whole structure (shapes,
 * permutations, segment monotonicity, index ranges, value count); then
 * every node eval visits lands inside the input and the output. */
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

#define LEVELS_MAX (2 * LD_MAX_DIMS)

typedef struct tree {
    const ld_sparsity *sp;
    int rank, levels;
    int32_t block_size[LD_MAX_DIMS]; /* per block_map entry */
    int32_t extent[LEVELS_MAX];      /* index range of each level */
    size_t leaves;
} tree;

static int is_perm(const int32_t *v, int n, int lo)
{
    int seen[LEVELS_MAX] = { 0 };
    for (int i = 0; i < n; i++) {
        if (v[i] < lo || v[i] >= lo + n || seen[v[i] - lo])
            return 0;
        seen[v[i] - lo] = 1;
    }
    return 1;
}

/* The checks of one CSR level whose parent level has `parents` nodes. */
static leandet_status check_csr(ld_op_ctx *c, int l, const ld_dim_meta *m, size_t parents, int32_t extent)
{
    if ((size_t)m->n_segments != parents + 1 || !m->segments || m->segments[0] != 0 ||
        m->segments[parents] != m->n_indices)
        return ld_op_fail(c, LEANDET_ERR_MODEL,
                          "sparse level %d: %d segments for %zu parent nodes, expected %zu running from 0 to %d", l,
                          m->n_segments, parents, parents + 1, m->n_indices);
    for (size_t p = 0; p < parents; p++)
        if (m->segments[p + 1] < m->segments[p])
            return ld_op_fail(c, LEANDET_ERR_MODEL, "sparse level %d: segments decrease at %zu (%d > %d)", l, p,
                              (int)m->segments[p], (int)m->segments[p + 1]);
    for (int i = 0; i < m->n_indices; i++)
        if (!m->indices || m->indices[i] < 0 || m->indices[i] >= extent)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "sparse level %d: index %d = %d is outside 0..%d", l, i,
                              m->indices ? (int)m->indices[i] : -1, (int)extent - 1);
    return LEANDET_OK;
}

/* Validate the sparsity of input 0 against its dense shape. */
static leandet_status build_tree(ld_op_ctx *c, tree *t)
{
    const ld_tensor *in = c->in[0];
    const ld_sparsity *sp = in->desc ? in->desc->sparsity : NULL;
    if (!sp)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input 0 '%s' has no sparsity parameters", in->desc ? in->desc->name : "");
    const ld_shape *s = &in->shape;
    int rank = s->rank, nb = sp->n_block_map, levels = rank + nb;
    memset(t, 0, sizeof *t);
    t->sp = sp;
    t->rank = rank;
    t->levels = levels;
    if (rank > LD_MAX_DIMS || nb < 0 || nb > rank)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: rank %d with %d block dims is not supported", rank, nb);
    if (sp->n_traversal != levels || sp->n_dims != levels || !sp->traversal_order || !sp->dims ||
        (nb && !sp->block_map))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: %d traversal entries and %d dim metadata, expected %d",
                          sp->n_traversal, sp->n_dims, levels);
    /* Original dims come first in the traversal, block dims after them:
     * the layout FormatConverter assumes when it rebuilds indices. */
    if (!is_perm(sp->traversal_order, rank, 0) || !is_perm(sp->traversal_order + rank, nb, rank))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: traversal_order is not a permutation of the dims");
    for (int b = 0; b < nb; b++)
        if (sp->block_map[b] < 0 || sp->block_map[b] >= rank || (b && sp->block_map[b] <= sp->block_map[b - 1]))
            return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: block_map[%d] = %d is invalid", b, (int)sp->block_map[b]);

    int32_t blocked[LD_MAX_DIMS];
    for (int d = 0; d < rank; d++)
        blocked[d] = s->d[d];
    for (int b = 0; b < nb; b++) {
        /* TFLite takes block b's size from dim metadata traversal_order[rank + b]. */
        int32_t bs = sp->dims[sp->traversal_order[rank + b]].dense_size;
        int d = sp->block_map[b];
        if (bs <= 0 || s->d[d] % bs != 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: block size %d does not divide dim %d of size %d",
                              (int)bs, d, (int)s->d[d]);
        t->block_size[b] = bs;
        blocked[d] = s->d[d] / bs;
    }

    size_t parents = 1; /* nodes at the current level; TFLite keeps node numbers in int */
    for (int l = 0; l < levels; l++) {
        int dim = sp->traversal_order[l];
        const ld_dim_meta *m = &sp->dims[l];
        int32_t extent = dim < rank ? blocked[dim] : t->block_size[dim - rank];
        t->extent[l] = extent;
        leandet_status st;
        if (m->format == LD_DIM_DENSE) {
            if (m->dense_size != extent)
                return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: dense level %d has size %d, dim needs %d", l,
                                  (int)m->dense_size, (int)extent);
            if (extent && parents > (size_t)INT32_MAX / (size_t)extent)
                return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: level %d has too many nodes", l);
            parents *= (size_t)extent;
        } else if (m->format == LD_DIM_SPARSE_CSR) {
            if ((st = check_csr(c, l, m, parents, extent)) != LEANDET_OK)
                return st;
            parents = (size_t)m->n_indices;
        } else {
            return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity: level %d has unknown format %d", l, (int)m->format);
        }
    }
    t->leaves = parents;
    return LEANDET_OK;
}

static leandet_status densify_prepare(ld_op_ctx *c)
{
    size_t es;
    leandet_status st = ld_prepare_move(c, 1, 1, &es);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0];
    if (!in->is_const || !in->data)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input 0 must be a constant sparse tensor");
    tree t;
    if ((st = build_tree(c, &t)) != LEANDET_OK)
        return st;
    if (in->bytes / es != t.leaves)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "sparsity describes %zu values, the buffer holds %zu", t.leaves,
                          in->bytes / es);
    return ld_set_output_shape(c, 0, &in->shape);
}

typedef struct walk {
    const tree *t;
    ptrdiff_t stride[LD_MAX_DIMS]; /* of the dense output */
    int32_t idx[LEVELS_MAX];       /* index at each level on the current path */
    const unsigned char *src;
    unsigned char *dst;
    size_t es, next;               /* next stored value */
} walk;

static void put_leaf(walk *w)
{
    const tree *t = w->t;
    const ld_sparsity *sp = t->sp;
    int64_t orig[LD_MAX_DIMS];
    for (int l = 0; l < t->rank; l++)
        orig[sp->traversal_order[l]] = w->idx[l];
    for (int l = t->rank; l < t->levels; l++) {
        int b = sp->traversal_order[l] - t->rank, d = sp->block_map[b];
        orig[d] = orig[d] * t->block_size[b] + w->idx[l];
    }
    ptrdiff_t flat = 0;
    for (int d = 0; d < t->rank; d++)
        flat += (ptrdiff_t)orig[d] * w->stride[d];
    memcpy(w->dst + flat * (ptrdiff_t)w->es, w->src + w->next * w->es, w->es);
    w->next++;
}

/* Depth-first over the levels (at most LEVELS_MAX deep). */
static void populate(walk *w, int level, int64_t node)
{
    const tree *t = w->t;
    if (level == t->levels) {
        put_leaf(w);
        return;
    }
    const ld_dim_meta *m = &t->sp->dims[level];
    if (m->format == LD_DIM_DENSE) {
        for (int32_t i = 0; i < m->dense_size; i++) {
            w->idx[level] = i;
            populate(w, level + 1, node * m->dense_size + i);
        }
    } else {
        for (int32_t i = m->segments[node]; i < m->segments[node + 1]; i++) {
            w->idx[level] = m->indices[i];
            populate(w, level + 1, i);
        }
    }
}

static leandet_status densify_eval(ld_op_ctx *c)
{
    const ld_tensor *in = c->in[0];
    ld_tensor *out = c->out[0];
    tree t;
    leandet_status st = build_tree(c, &t);
    if (st != LEANDET_OK)
        return st;
    walk w = { .t = &t, .src = in->data, .dst = out->data, .es = leandet_dtype_size(out->type) };
    ld_shape_strides(&out->shape, w.stride);
    size_t n = ld_shape_count(&out->shape);
    if (n)
        memset(out->data, 0, n * w.es); /* all-zero bytes are 0 in every type */
    if (n && t.leaves)
        populate(&w, 0, 0);
    return LEANDET_OK;
}

const ld_kernel ld_ref_densify[] = {
    { LD_OP_DENSIFY, NULL, densify_prepare, densify_eval },
    LD_KERNEL_TABLE_END,
};

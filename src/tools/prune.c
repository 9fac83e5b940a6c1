/* ld_prune: the driver (statistics before and after, refusals) and the
 * helpers the unstructured, structured and sparse-encoding passes share. */
#include "tools/prune.h"

#include <string.h>

#include "graph/cost.h"
#include "model/ops.h"
#include "tools/quantize.h"

int ld_prune_is_weighted(int builtin)
{
    return builtin == LD_OP_CONV_2D || builtin == LD_OP_DEPTHWISE_CONV_2D || builtin == LD_OP_FULLY_CONNECTED;
}

int ld_prune_out_axis(int builtin)
{
    return builtin == LD_OP_DEPTHWISE_CONV_2D ? 3 : 0;
}

const char *ld_prune_weights_unusable(const ld_edit *e, int op)
{
    const ld_op_desc *o = &e->m.ops[op];
    if (o->n_inputs < 2 || o->inputs[1] < 0)
        return "no weights";
    const ld_tensor_desc *w = &e->m.tensors[o->inputs[1]];
    if (!w->data)
        return "weights are computed (not a constant of the file)";
    if (w->sparsity)
        return "weights are already sparse";
    if (w->type != LEANDET_FLOAT32 && w->type != LEANDET_UINT8 && w->type != LEANDET_INT8)
        return "weights are not float32, uint8 or int8";
    if (w->type != LEANDET_FLOAT32 && w->quant.count < 1)
        return "8-bit weights without quantization";
    if (w->shape.rank != (o->builtin == LD_OP_FULLY_CONNECTED ? 2 : 4))
        return "weights have an unexpected rank";
    if (ld_shape_count(&w->shape) == 0)
        return "weights are empty";
    return NULL;
}

leandet_status ld_prune_real(ld_edit *e, int t, float **out)
{
    const ld_tensor_desc *td = &e->m.tensors[t];
    if (td->type != LEANDET_FLOAT32)
        return ld_quant_const_to_float(e, t, out);
    size_t n = ld_shape_count(&td->shape);
    *out = ld_edit_alloc(e, n, sizeof(float), "weight magnitudes");
    if (!*out)
        return LEANDET_ERR_NO_MEMORY;
    memcpy(*out, td->data, n * sizeof(float));
    return LEANDET_OK;
}

int32_t ld_prune_zero_point(const ld_tensor_desc *t, size_t i)
{
    const ld_quant *q = &t->quant;
    if (t->type == LEANDET_FLOAT32 || q->count < 1)
        return 0;
    if (q->count == 1 || q->axis < 0 || q->axis >= t->shape.rank)
        return q->zero_point[0];
    size_t inner = 1;
    for (int d = q->axis + 1; d < t->shape.rank; d++)
        inner *= (size_t)t->shape.d[d];
    size_t ch = (i / inner) % (size_t)t->shape.d[q->axis];
    return ch < (size_t)q->count ? q->zero_point[ch] : q->zero_point[0];
}

int ld_prune_add_tensor(ld_edit *e, const ld_tensor_desc *t)
{
    ld_model_desc *m = &e->m;
    ld_tensor_desc *v = ld_edit_alloc(e, (size_t)m->n_tensors + 1, sizeof *v, "tensors");
    if (!v)
        return -1;
    memcpy(v, m->tensors, (size_t)m->n_tensors * sizeof *v);
    v[m->n_tensors] = *t;
    m->tensors = v;
    return m->n_tensors++;
}

int ld_prune_insert_op(ld_edit *e, int at, const ld_op_desc *op)
{
    ld_model_desc *m = &e->m;
    ld_op_desc *v = ld_edit_alloc(e, (size_t)m->n_ops + 1, sizeof *v, "operators");
    if (!v)
        return -1;
    memcpy(v, m->ops, (size_t)at * sizeof *v);
    v[at] = *op;
    memcpy(v + at + 1, m->ops + at, (size_t)(m->n_ops - at) * sizeof *v);
    m->ops = v;
    m->n_ops++;
    return at;
}

/* MACs of op i from the shapes in the description, through the same
 * function the plan report uses. */
static uint64_t op_macs(const ld_edit *e, int i)
{
    const ld_op_desc *o = &e->m.ops[i];
    if (!ld_prune_is_weighted(o->builtin) || o->n_inputs < 2 || o->n_outputs < 1 || o->inputs[0] < 0 ||
        o->inputs[1] < 0)
        return 0;
    ld_tensor t[3];
    ld_tensor *in[2] = {&t[0], &t[1]}, *out[1] = {&t[2]};
    const int32_t idx[3] = {o->inputs[0], o->inputs[1], o->outputs[0]};
    for (int k = 0; k < 3; k++) {
        memset(&t[k], 0, sizeof t[k]);
        t[k].type = e->m.tensors[idx[k]].type;
        t[k].shape = e->m.tensors[idx[k]].shape;
        t[k].desc = &e->m.tensors[idx[k]];
    }
    ld_op_ctx c;
    memset(&c, 0, sizeof c);
    c.op = o;
    c.n_in = 2;
    c.n_out = 1;
    c.in = in;
    c.out = out;
    return ld_op_macs(&c);
}

static uint64_t count_nonzero(const ld_tensor_desc *w)
{
    size_t n = ld_shape_count(&w->shape);
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (w->type == LEANDET_FLOAT32)
            k += ((const float *)w->data)[i] != 0.0f;
        else if (w->type == LEANDET_UINT8)
            k += ((const uint8_t *)w->data)[i] != ld_prune_zero_point(w, i);
        else
            k += ((const int8_t *)w->data)[i] != ld_prune_zero_point(w, i);
    }
    return k;
}

/* Statistics of layer l (op index l->op) as the model stands; `after`
 * selects which half of the record is filled. */
static void layer_stats(const ld_edit *e, ld_prune_layer *l, int after)
{
    const ld_op_desc *o = &e->m.ops[l->op];
    const ld_tensor_desc *w = &e->m.tensors[o->inputs[1]];
    uint64_t params = ld_shape_count(&w->shape);
    if (o->n_inputs > 2 && o->inputs[2] >= 0)
        params += ld_shape_count(&e->m.tensors[o->inputs[2]].shape);
    const int known = w->type == LEANDET_FLOAT32 || w->type == LEANDET_UINT8 || w->type == LEANDET_INT8;
    uint64_t nonzero = w->data && !w->sparsity && known ? count_nonzero(w) : 0;
    const int axis = ld_prune_out_axis(o->builtin), rank = w->shape.rank;
    int oc = axis < rank ? w->shape.d[axis] : 0;
    int ic = o->builtin == LD_OP_DEPTHWISE_CONV_2D ? oc : rank > 0 ? w->shape.d[rank - 1] : 0;
    uint64_t macs = op_macs(e, l->op);
    if (after) {
        l->params_after = params, l->nonzero_after = nonzero, l->macs_after = macs;
        l->out_after = oc, l->in_after = ic;
    } else {
        l->params_before = params, l->nonzero_before = nonzero, l->macs_before = macs;
        l->out_before = oc, l->in_before = ic;
    }
}

/* Elements of every constant (each buffer once), as `leandet inspect` counts. */
static uint64_t const_params(const ld_model_desc *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        int shared = 0;
        for (int k = 0; k < i && !shared && t->data; k++)
            shared = m->tensors[k].data == t->data;
        if (t->data && !shared)
            n += ld_shape_count(&t->shape);
    }
    return n;
}

static void totals(const ld_edit *e, ld_prune_report *r, int after)
{
    uint64_t macs = 0, nonzero = 0, weights = 0;
    for (int i = 0; i < e->m.n_ops; i++)
        macs += op_macs(e, i);
    for (int k = 0; k < r->n_layers; k++) {
        const ld_prune_layer *l = &r->layers[k];
        if (!l->has_weights)
            continue;
        nonzero += after ? l->nonzero_after : l->nonzero_before;
        weights += ld_shape_count(&e->m.tensors[e->m.ops[l->op].inputs[1]].shape);
    }
    if (after) {
        r->macs_after = macs, r->nonzero_after = nonzero, r->weights_after = weights;
        r->params_after = const_params(&e->m);
        r->const_bytes_after = ld_quant_const_bytes(&e->m);
    } else {
        r->macs_before = macs, r->nonzero_before = nonzero, r->weights_before = weights;
        r->params_before = const_params(&e->m);
        r->const_bytes_before = ld_quant_const_bytes(&e->m);
    }
}

leandet_status ld_prune(ld_edit *e, const ld_prune_options *o, ld_prune_report *r)
{
    memset(r, 0, sizeof *r);
    if (!(o->sparsity >= 0.0 && o->sparsity < 1.0))
        return ld_fail(e->err, LEANDET_ERR_ARGUMENT, "%s: sparsity %g is outside [0, 1)", e->file, o->sparsity);
    int n = 0;
    for (int i = 0; i < e->m.n_ops; i++)
        n += ld_prune_is_weighted(e->m.ops[i].builtin);
    if (n == 0)
        return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                       "%s: the model has no CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED operator: nothing to prune",
                       e->file);
    r->layers = ld_edit_alloc(e, (size_t)n, sizeof *r->layers, "prune report");
    if (!r->layers)
        return LEANDET_ERR_NO_MEMORY;
    for (int i = 0; i < e->m.n_ops; i++) {
        const ld_op_desc *op = &e->m.ops[i];
        if (!ld_prune_is_weighted(op->builtin))
            continue;
        ld_prune_layer *l = &r->layers[r->n_layers++];
        l->op = i;
        l->builtin = op->builtin;
        l->skipped = ld_prune_weights_unusable(e, i);
        l->has_weights = op->n_inputs > 1 && op->inputs[1] >= 0;
        l->weights = l->has_weights ? e->m.tensors[op->inputs[1]].name : "";
        if (l->has_weights)
            layer_stats(e, l, 0);
    }
    totals(e, r, 0);
    leandet_status st = o->structured ? ld_prune_structured(e, o, r)
                                      : ld_prune_unstructured(e, o->sparsity, r);
    if (st != LEANDET_OK)
        return st;
    const char *why = "";
    for (int k = 0; k < r->n_layers; k++) {
        ld_prune_layer *l = &r->layers[k];
        if (l->skipped && !*why)
            why = l->skipped;
        if (l->has_weights)
            layer_stats(e, l, 1);
    }
    if (!r->eligible)
        return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED, "%s: no %s can be pruned (operator %d: %s)", e->file,
                       o->structured ? "CONV_2D" : "weight tensor", r->layers[0].op, why);
    totals(e, r, 1);
    if (!o->structured && (st = ld_prune_encode_sparse(e, r)) != LEANDET_OK)
        return st;
    r->const_bytes_after = ld_quant_const_bytes(&e->m);
    return LEANDET_OK;
}

/* Helpers shared by quantize_dynamic.c, quantize_int8.c and dequantize.c. */
#include <string.h>

#include "kernels/kernel.h"
#include "tools/quantize.h"

leandet_status ld_quant_const_to_float(ld_edit *e, int t, float **out)
{
    const ld_tensor_desc *td = &e->m.tensors[t];
    *out = NULL;
    if (!td->data || td->sparsity)
        return ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: tensor %d '%s' is not a dense constant", e->file, t,
                       td->name);
    /* One DEQUANTIZE run by leandet's kernel: the exact arithmetic of
     * TensorFlow Lite's Dequantize, per-channel scales included. Its
     * prepare may fold the constant itself; otherwise eval runs here. */
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = LD_OP_DEQUANTIZE;
    op.version = 1;
    ld_tensor in = {td->type, td->shape, &td->quant, (void *)td->data, td->data_bytes, 1, td};
    ld_tensor res = {LEANDET_FLOAT32, td->shape, NULL, NULL, 0, 0, td};
    ld_quant none = {0, 0, NULL, NULL};
    res.quant = &none;
    ld_tensor *ins[1] = {&in}, *outs[1] = {&res};
    ld_op_ctx c;
    memset(&c, 0, sizeof c);
    c.op = &op;
    c.index = -1;
    c.n_in = c.n_out = 1;
    c.in = ins;
    c.out = outs;
    c.alloc = e->alloc;
    c.err = e->err;
    const ld_kernel *k = ld_kernel_find(&op);
    if (!k)
        return ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: no DEQUANTIZE kernel", e->file);
    leandet_status st = k->prepare(&c);
    if (st != LEANDET_OK) {
        ld_fail_prefix(e->err, st, "%s: tensor %d '%s': ", e->file, t, td->name);
        ld_free(e->alloc, c.state);
        return st;
    }
    const size_t n = ld_shape_count(&td->shape);
    float *v = ld_edit_alloc(e, n, sizeof(float), "float weights");
    if (v && res.is_const && res.data) {
        memcpy(v, res.data, n * sizeof(float));
    } else if (v) {
        void *scratch = c.scratch_bytes ? ld_malloc(e->alloc, c.scratch_bytes) : NULL;
        if (c.scratch_bytes && !scratch) {
            st = ld_fail(e->err, LEANDET_ERR_NO_MEMORY, "%s: out of memory dequantizing tensor %d", e->file, t);
        } else {
            res.data = v;
            res.bytes = n * sizeof(float);
            c.scratch = scratch;
            c.alloc = NULL; /* eval must not allocate */
            st = k->eval(&c);
        }
        ld_free(e->alloc, scratch);
    }
    ld_free(e->alloc, c.state);
    if (!v)
        return LEANDET_ERR_NO_MEMORY;
    if (st != LEANDET_OK)
        return st;
    *out = v;
    return LEANDET_OK;
}

size_t ld_quant_const_bytes(const ld_model_desc *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        if (!t->data)
            continue;
        int shared = 0;
        for (int k = 0; k < i && !shared; k++)
            shared = m->tensors[k].data == t->data;
        if (!shared)
            n += t->data_bytes;
    }
    return n;
}

/* Each operator removed leaves the others in order; tensors keep their numbers. */
leandet_status ld_quant_fold_float16(ld_edit *e, ld_quant_report *r)
{
    for (int i = e->m.n_ops - 1; i >= 0; i--) {
        const ld_op_desc *op = &e->m.ops[i];
        if (op->builtin != LD_OP_DEQUANTIZE || op->n_inputs != 1 || op->n_outputs != 1 || op->inputs[0] < 0)
            continue;
        int in = op->inputs[0], out = op->outputs[0];
        const ld_tensor_desc *src = &e->m.tensors[in];
        if (src->type != LEANDET_FLOAT16 || !src->data || src->sparsity || ld_edit_is_output(e, out))
            continue;
        float *v;
        leandet_status st = ld_quant_const_to_float(e, in, &v);
        if (st != LEANDET_OK)
            return st;
        ld_tensor_desc *dst = &e->m.tensors[out];
        dst->data = v;
        dst->data_bytes = ld_shape_count(&src->shape) * sizeof(float);
        dst->type = LEANDET_FLOAT32;
        ld_edit_remove_op(e, i);
        r->folded++;
        r->removed_ops++;
    }
    return LEANDET_OK;
}

#include "tools/model_edit.h"

#include <string.h>

/* Each allocation carries a header linking it into the edit's list; 64
 * bytes keep the payload as aligned as ld_malloc's. */
struct ld_edit_block {
    ld_edit_block *next;
};
#define BLOCK_HDR 64

void *ld_edit_alloc(ld_edit *e, size_t n, size_t size, const char *what)
{
    if (n == 0)
        n = 1;
    if (size && n > (SIZE_MAX - BLOCK_HDR) / size) {
        ld_fail(e->err, LEANDET_ERR_NO_MEMORY, "%s: %s: %zu x %zu bytes is too large", e->file, what, n, size);
        return NULL;
    }
    ld_edit_block *b = ld_calloc(e->alloc, 1, BLOCK_HDR + n * size);
    if (!b) {
        ld_fail(e->err, LEANDET_ERR_NO_MEMORY, "%s: out of memory for %s (%zu bytes)", e->file, what, n * size);
        return NULL;
    }
    b->next = e->blocks;
    e->blocks = b;
    return (char *)b + BLOCK_HDR;
}

void ld_edit_free(ld_edit *e)
{
    if (!e)
        return;
    for (ld_edit_block *b = e->blocks; b;) {
        ld_edit_block *next = b->next;
        ld_free(e->alloc, b);
        b = next;
    }
    e->blocks = NULL;
    memset(&e->m, 0, sizeof e->m);
}

static void *dup(ld_edit *e, const void *src, size_t n, size_t size, const char *what)
{
    void *p = ld_edit_alloc(e, n, size, what);
    if (p && n)
        memcpy(p, src, n * size);
    return p;
}

static leandet_status copy_model(ld_edit *e, const ld_model_desc *src)
{
    ld_model_desc *m = &e->m;
    *m = *src; /* scalars and the shared pointers inside tensors and ops */
    if (!(m->tensors = dup(e, src->tensors, (size_t)src->n_tensors, sizeof *m->tensors, "tensors")) ||
        !(m->ops = dup(e, src->ops, (size_t)src->n_ops, sizeof *m->ops, "operators")) ||
        !(m->inputs = dup(e, src->inputs, (size_t)src->n_inputs, sizeof *m->inputs, "graph inputs")) ||
        !(m->outputs = dup(e, src->outputs, (size_t)src->n_outputs, sizeof *m->outputs, "graph outputs")) ||
        !(m->metadata = dup(e, src->metadata, (size_t)src->n_metadata, sizeof *m->metadata, "metadata")))
        return LEANDET_ERR_NO_MEMORY;
    /* Operator tensor lists are rewritten by edits: each gets its own copy. */
    for (int i = 0; i < m->n_ops; i++) {
        ld_op_desc *op = &m->ops[i];
        if (!(op->inputs = dup(e, src->ops[i].inputs, (size_t)op->n_inputs, sizeof(int32_t), "operator inputs")) ||
            !(op->outputs = dup(e, src->ops[i].outputs, (size_t)op->n_outputs, sizeof(int32_t), "operator outputs")))
            return LEANDET_ERR_NO_MEMORY;
    }
    return LEANDET_OK;
}

leandet_status ld_edit_init(ld_edit *e, const ld_model_desc *src, const char *file, ld_alloc *alloc,
                            leandet_error *err)
{
    memset(e, 0, sizeof *e);
    e->file = file ? file : "model";
    e->alloc = alloc;
    e->err = err;
    if (!src || !alloc)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "ld_edit_init: NULL argument");
    leandet_status st = copy_model(e, src);
    if (st != LEANDET_OK) {
        ld_edit_free(e);
        e->file = file ? file : "model";
    }
    return st;
}

leandet_status ld_edit_set_quant(ld_edit *e, int t, int count, int axis, const float *scale,
                                 const int32_t *zero_point)
{
    ld_quant q = {0, 0, NULL, NULL};
    if (count > 0) {
        q.scale = dup(e, scale, (size_t)count, sizeof *scale, "quantization scales");
        q.zero_point = q.scale ? dup(e, zero_point, (size_t)count, sizeof *zero_point, "quantization zero points")
                               : NULL;
        if (!q.zero_point)
            return LEANDET_ERR_NO_MEMORY;
        q.count = count;
        q.axis = axis;
    }
    e->m.tensors[t].quant = q;
    return LEANDET_OK;
}

static int count_in(const int32_t *v, int n, int t)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += v[i] == t;
    return k;
}

int ld_edit_uses(const ld_edit *e, int t)
{
    int k = 0;
    for (int i = 0; i < e->m.n_ops; i++)
        k += count_in(e->m.ops[i].inputs, e->m.ops[i].n_inputs, t) > 0;
    return k;
}

int ld_edit_is_output(const ld_edit *e, int t)
{
    return count_in(e->m.outputs, e->m.n_outputs, t) > 0;
}

int ld_edit_is_input(const ld_edit *e, int t)
{
    return count_in(e->m.inputs, e->m.n_inputs, t) > 0;
}

int ld_edit_producer(const ld_edit *e, int t)
{
    for (int i = 0; i < e->m.n_ops; i++)
        if (count_in(e->m.ops[i].outputs, e->m.ops[i].n_outputs, t))
            return i;
    return -1;
}

static void replace_in(int32_t *v, int n, int from, int to)
{
    for (int i = 0; i < n; i++)
        if (v[i] == from)
            v[i] = to;
}

void ld_edit_replace_uses(ld_edit *e, int from, int to)
{
    for (int i = 0; i < e->m.n_ops; i++)
        replace_in(e->m.ops[i].inputs, e->m.ops[i].n_inputs, from, to);
    replace_in(e->m.outputs, e->m.n_outputs, from, to);
}

void ld_edit_remove_op(ld_edit *e, int op)
{
    ld_model_desc *m = &e->m;
    memmove(&m->ops[op], &m->ops[op + 1], (size_t)(m->n_ops - op - 1) * sizeof *m->ops);
    m->n_ops--;
}

leandet_status ld_edit_bypass_op(ld_edit *e, int op)
{
    ld_op_desc *o = &e->m.ops[op];
    if (o->n_inputs < 1 || o->n_outputs != 1 || o->inputs[0] < 0)
        return ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: operator %d cannot be bypassed", e->file, op);
    int in = o->inputs[0], out = o->outputs[0];
    int producer = ld_edit_producer(e, in);
    if (ld_edit_is_output(e, out) && producer >= 0 && !ld_edit_is_input(e, in) && !ld_edit_is_output(e, in)) {
        /* The producer writes the graph output directly. */
        ld_op_desc *p = &e->m.ops[producer];
        replace_in(p->outputs, p->n_outputs, in, out);
        ld_edit_replace_uses(e, in, out);
    } else if (ld_edit_is_output(e, out) && producer < 0 && !ld_edit_is_input(e, in)) {
        return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                       "%s: operator %d turns constant tensor %d into graph output %d: nothing would compute it",
                       e->file, op, in, out);
    } else {
        ld_edit_replace_uses(e, out, in);
    }
    ld_edit_remove_op(e, op);
    return LEANDET_OK;
}

static void renumber(int32_t *v, int n, const int32_t *map)
{
    for (int i = 0; i < n; i++)
        if (v[i] >= 0)
            v[i] = map[v[i]];
}

leandet_status ld_edit_compact(ld_edit *e)
{
    ld_model_desc *m = &e->m;
    int32_t *map = ld_edit_alloc(e, (size_t)m->n_tensors, sizeof *map, "tensor renumbering");
    if (!map)
        return LEANDET_ERR_NO_MEMORY;
    for (int i = 0; i < m->n_ops; i++) {
        for (int k = 0; k < m->ops[i].n_inputs; k++)
            if (m->ops[i].inputs[k] >= 0)
                map[m->ops[i].inputs[k]] = 1;
        for (int k = 0; k < m->ops[i].n_outputs; k++)
            map[m->ops[i].outputs[k]] = 1;
    }
    for (int i = 0; i < m->n_inputs; i++)
        map[m->inputs[i]] = 1;
    for (int i = 0; i < m->n_outputs; i++)
        map[m->outputs[i]] = 1;
    int n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        if (!map[i])
            continue;
        m->tensors[n] = m->tensors[i]; /* n <= i: moving down is safe */
        map[i] = n++;
    }
    m->n_tensors = n;
    for (int i = 0; i < m->n_ops; i++) {
        renumber(m->ops[i].inputs, m->ops[i].n_inputs, map);
        renumber(m->ops[i].outputs, m->ops[i].n_outputs, map);
    }
    renumber(m->inputs, m->n_inputs, map);
    renumber(m->outputs, m->n_outputs, map);
    return LEANDET_OK;
}

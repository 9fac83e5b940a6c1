/* A session: tensors shaped by the kernels' prepare, one arena planned and
 * allocated once, then invoke runs the op table without allocating. */
#include <stdlib.h>
#include <string.h>

#include "graph/planner.h"
#include "runtime/session_internal.h"

static void session_free(leandet_session *s)
{
    if (s->ops) {
        for (int i = 0; i < s->model->desc.n_ops; i++)
            ld_free(&s->alloc, s->ops[i].ctx.state);
    }
    ld_free(&s->alloc, s->ops);
    ld_free(&s->alloc, s->io);
    ld_free(&s->alloc, s->tensors);
    ld_free(&s->alloc, s->arena);
    ld_free(&s->alloc, s->scratch);
    ld_pool_destroy(s->pool);
}

void leandet_session_destroy(leandet_session *s)
{
    if (!s)
        return;
    session_free(s);
    free(s);
}

static leandet_status find_kernels(leandet_session *s, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    for (int i = 0; i < d->n_ops; i++) {
        const ld_op_desc *op = &d->ops[i];
        s->ops[i].kernel = ld_kernel_find(op);
        if (!s->ops[i].kernel) {
            char buf[32];
            if (op->builtin == LD_OP_CUSTOM)
                return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: op %d is custom operator '%s', which leandet does not implement",
                               s->model->path, i, op->custom_name ? op->custom_name : "");
            return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: op %d is %s (builtin %d), which leandet does not implement",
                           s->model->path, i, ld_op_name(op->builtin, buf, sizeof buf), op->builtin);
        }
    }
    return LEANDET_OK;
}

static void init_tensors(leandet_session *s)
{
    const ld_model_desc *d = &s->model->desc;
    for (int i = 0; i < d->n_tensors; i++) {
        const ld_tensor_desc *td = &d->tensors[i];
        ld_tensor *t = &s->tensors[i];
        t->type = td->type;
        t->shape = td->shape;
        t->quant = &td->quant;
        t->desc = td;
        t->is_const = td->data != NULL;
        t->data = (void *)td->data; /* constant: kernels never write inputs */
        t->bytes = td->data ? td->data_bytes : ld_shape_count(&td->shape) * leandet_dtype_size(td->type);
    }
}

static leandet_status wire_ops(leandet_session *s, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    size_t total = 0;
    for (int i = 0; i < d->n_ops; i++)
        total += (size_t)d->ops[i].n_inputs + (size_t)d->ops[i].n_outputs;
    s->io = ld_calloc(&s->alloc, total ? total : 1, sizeof *s->io);
    if (!s->io)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory wiring %d ops", s->model->path, d->n_ops);
    ld_tensor **p = s->io;
    for (int i = 0; i < d->n_ops; i++) {
        const ld_op_desc *op = &d->ops[i];
        ld_op_ctx *c = &s->ops[i].ctx;
        c->op = op;
        c->index = i;
        c->n_in = op->n_inputs;
        c->n_out = op->n_outputs;
        c->in = p;
        for (int k = 0; k < op->n_inputs; k++)
            *p++ = op->inputs[k] >= 0 ? &s->tensors[op->inputs[k]] : NULL;
        c->out = p;
        for (int k = 0; k < op->n_outputs; k++)
            *p++ = &s->tensors[op->outputs[k]];
    }
    return LEANDET_OK;
}

static leandet_status prepare_ops(leandet_session *s, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    for (int i = 0; i < d->n_ops; i++) {
        ld_op_ctx *c = &s->ops[i].ctx;
        c->alloc = &s->alloc;
        c->err = err;
        c->scratch_bytes = 0;
        for (int k = 0; k < c->n_out; k++)
            if (c->out[k]->is_const)
                return ld_op_fail(c, LEANDET_ERR_MODEL, "output %d '%s' is a constant tensor", k, c->out[k]->desc->name);
        /* Inputs are shaped now: an optimized kernel may take the op. */
        s->ops[i].kernel = ld_kernel_select(c, s->backend, &s->ops[i].isa);
        leandet_status st = s->ops[i].kernel->prepare(c);
        if (st != LEANDET_OK) {
            ld_fail_prefix(err, st, "%s: ", s->model->path);
            return st;
        }
        s->ops[i].folded = c->n_out > 0;
        for (int k = 0; k < c->n_out; k++)
            s->ops[i].folded &= c->out[k]->is_const;
        for (int k = 0; k < c->n_out; k++) {
            ld_tensor *t = c->out[k];
            if (t->is_const)
                continue; /* folded: data and bytes set by prepare */
            size_t es = leandet_dtype_size(t->type);
            size_t n = ld_shape_count(&t->shape);
            if (es == 0 || (n && es > SIZE_MAX / n))
                return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: op %d output '%s' has unsupported type %s or size",
                               s->model->path, i, t->desc->name, leandet_dtype_name(t->type));
            t->bytes = n * es;
        }
        if (c->scratch_bytes > s->scratch_bytes)
            s->scratch_bytes = c->scratch_bytes;
        c->alloc = NULL;
        c->err = NULL;
    }
    return LEANDET_OK;
}

/* Lifetimes: a tensor exists from the op that writes it (graph inputs: from
 * the start) to the last op that reads it (graph outputs: to the end). */
static leandet_status plan(leandet_session *s, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    int n = d->n_tensors;
    ld_plan_item *items = ld_calloc(&s->alloc, (size_t)n, sizeof *items);
    int *order = ld_calloc(&s->alloc, (size_t)n, sizeof *order);
    int *which = ld_calloc(&s->alloc, (size_t)n, sizeof *which);
    if (!items || !order || !which) {
        ld_free(&s->alloc, items);
        ld_free(&s->alloc, order);
        ld_free(&s->alloc, which);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory planning %d tensors", s->model->path, n);
    }
    for (int i = 0; i < n; i++) {
        items[i].first = -2; /* unused */
        items[i].last = -2;
    }
    for (int k = 0; k < d->n_inputs; k++)
        items[d->inputs[k]].first = -1;
    for (int i = 0; i < d->n_ops; i++) {
        const ld_op_desc *op = &d->ops[i];
        for (int k = 0; k < op->n_outputs; k++)
            if (items[op->outputs[k]].first == -2)
                items[op->outputs[k]].first = i;
        for (int k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] >= 0)
                items[op->inputs[k]].last = i;
    }
    /* Graph inputs and outputs live for the whole invoke: the caller's input
     * stays intact (it can be dumped or reused), outputs are read after. */
    for (int k = 0; k < d->n_inputs; k++)
        items[d->inputs[k]].last = d->n_ops;
    for (int k = 0; k < d->n_outputs; k++)
        items[d->outputs[k]].last = d->n_ops;
    int m = 0;
    leandet_status st = LEANDET_OK;
    s->naive_bytes = 0;
    for (int i = 0; i < n && st == LEANDET_OK; i++) {
        ld_tensor *t = &s->tensors[i];
        if (t->is_const)
            continue;
        if (items[i].first == -2) {
            if (items[i].last != -2)
                st = ld_fail(err, LEANDET_ERR_MODEL, "%s: tensor %d '%s' is read by op %d but no op writes it and it is not an input",
                             s->model->path, i, t->desc->name, items[i].last);
            continue;
        }
        if (items[i].last < items[i].first)
            items[i].last = items[i].first; /* written, never read: still needs room */
        items[m] = items[i];
        items[m].size = t->bytes;
        which[m++] = i;
        s->naive_bytes += t->bytes;
    }
    if (st != LEANDET_OK) {
        ld_free(&s->alloc, items);
        ld_free(&s->alloc, order);
        ld_free(&s->alloc, which);
        return st;
    }
    if (s->keep_all) {
        for (int k = 0; k < m; k++) { /* whole-run lifetimes: nothing shares bytes */
            items[k].first = -1;
            items[k].last = d->n_ops;
        }
    }
    s->arena_bytes = ld_plan_arena(items, m, order);
    s->arena = ld_malloc(&s->alloc, s->arena_bytes ? s->arena_bytes : 1);
    if (s->scratch_bytes)
        s->scratch = ld_malloc(&s->alloc, s->scratch_bytes);
    if (!s->arena || (s->scratch_bytes && !s->scratch)) {
        st = s->alloc.limit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY;
        ld_fail(err, st, "%s: cannot allocate the arena (%zu bytes) and scratch (%zu bytes)%s", s->model->path,
                s->arena_bytes, s->scratch_bytes, s->alloc.limit ? " within the memory budget" : "");
    } else {
        for (int k = 0; k < m; k++)
            s->tensors[which[k]].data = s->arena + items[k].offset;
    }
    ld_free(&s->alloc, items);
    ld_free(&s->alloc, order);
    ld_free(&s->alloc, which);
    return st;
}

leandet_status leandet_session_create(const leandet_model *model, const leandet_session_options *options,
                                      leandet_session **out, leandet_error *err)
{
    if (!model || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_session_create: model and out must not be NULL");
    *out = NULL;
    leandet_session *s = calloc(1, sizeof *s);
    if (!s)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory creating a session", model->path);
    s->model = model;
    ld_alloc_init(&s->alloc, options ? options->alloc : NULL);
    if (options) {
        s->alloc.limit = options->max_memory;
        s->keep_all = options->keep_all_tensors;
        s->backend = options->backend == LEANDET_BACKEND_REFERENCE ? LD_BACKEND_REFERENCE : LD_BACKEND_AUTO;
    }
    int threads = options && options->threads > 1 ? options->threads : 1;
    const ld_model_desc *d = &model->desc;
    leandet_status st = LEANDET_OK;
    s->tensors = ld_calloc(&s->alloc, d->n_tensors ? (size_t)d->n_tensors : 1, sizeof *s->tensors);
    s->ops = ld_calloc(&s->alloc, d->n_ops ? (size_t)d->n_ops : 1, sizeof *s->ops);
    if (!s->tensors || !s->ops)
        st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory creating a session", model->path);
    if (st == LEANDET_OK)
        st = find_kernels(s, err);
    if (st == LEANDET_OK && threads > 1)
        st = ld_pool_create(threads, NULL, 0, &s->alloc, &s->pool, err);
    if (st == LEANDET_OK) {
        init_tensors(s);
        st = wire_ops(s, err);
    }
    if (st == LEANDET_OK)
        st = prepare_ops(s, err);
    if (st == LEANDET_OK)
        st = plan(s, err);
    if (st != LEANDET_OK && s->alloc.limit_hit) {
        /* Whatever failed first, the cause is the budget: say so with the numbers known. */
        st = ld_fail(err, LEANDET_ERR_BUDGET,
                     "%s: does not fit the memory budget of %zu bytes: already allocated %zu, arena %zu, scratch %zu "
                     "(naive sum of activations %zu); raise --max-memory or use a smaller model",
                     model->path, s->alloc.limit, s->alloc.current, s->arena_bytes, s->scratch_bytes, s->naive_bytes);
    }
    if (st != LEANDET_OK) {
        leandet_session_destroy(s);
        return st;
    }
    *out = s;
    return LEANDET_OK;
}

leandet_status leandet_session_invoke(leandet_session *s, leandet_error *err)
{
    if (!s)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_session_invoke: session is NULL");
    const ld_model_desc *d = &s->model->desc;
    for (int i = 0; i < d->n_ops; i++) {
        if (s->ops[i].folded)
            continue;
        ld_op_ctx *c = &s->ops[i].ctx;
        c->scratch = s->scratch;
        c->scratch_bytes = s->scratch_bytes;
        c->err = err;
        c->pool = s->pool;
        leandet_status st = s->ops[i].kernel->eval(c);
        c->err = NULL;
        if (st != LEANDET_OK)
            return ld_fail_prefix(err, st, "%s: ", s->model->path);
    }
    return LEANDET_OK;
}

static ld_tensor *io_tensor(const leandet_session *s, int index, int output)
{
    if (!s)
        return NULL;
    const ld_model_desc *d = &s->model->desc;
    int n = output ? d->n_outputs : d->n_inputs;
    if (index < 0 || index >= n)
        return NULL;
    return &s->tensors[output ? d->outputs[index] : d->inputs[index]];
}

void *leandet_session_input(leandet_session *s, int index, size_t *bytes)
{
    ld_tensor *t = io_tensor(s, index, 0);
    if (bytes)
        *bytes = t ? t->bytes : 0;
    return t ? t->data : NULL;
}

const void *leandet_session_output(const leandet_session *s, int index, size_t *bytes)
{
    ld_tensor *t = io_tensor(s, index, 1);
    if (bytes)
        *bytes = t ? t->bytes : 0;
    return t ? t->data : NULL;
}

size_t leandet_session_arena_bytes(const leandet_session *s)
{
    return s ? s->arena_bytes + s->scratch_bytes : 0;
}

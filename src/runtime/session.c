/* A session in three steps:
 *   prepare  tensors, kernel selection, kernel prepare (small allocations,
 *            per-op state, folded weights);
 *   plan     lifetimes, in-place aliasing, arena offsets, the byte
 *            breakdown, checked against the budget (nothing big exists yet);
 *   allocate the arena and scratch once, then the worker threads.
 * Invoke then runs the op table without allocating. */
#include <string.h>
#include <time.h>

#include "graph/budget.h"
#include "kernels/opt.h"
#include "runtime/session_internal.h"

#define LD_SESSION_SPIN_US 100

static void free_arena(leandet_session *s)
{
    ld_free(&s->alloc, s->arena);
    ld_free(&s->alloc, s->scratch);
    s->arena = NULL;
    s->scratch = NULL;
}

void leandet_session_destroy(leandet_session *s)
{
    if (!s)
        return;
    ld_pool_destroy(s->pool);
    free_arena(s);
    if (s->ops) {
        for (int i = 0; i < s->model->desc.n_ops; i++)
            if (!s->ops[i].borrowed)
                ld_free(&s->alloc, s->ops[i].ctx.state);
    }
    ld_arena_plan_free(&s->plan, &s->alloc);
    ld_free(&s->alloc, s->ops);
    ld_free(&s->alloc, s->io);
    ld_free(&s->alloc, s->tensors);
    ld_alloc a = s->alloc; /* the session's own block is accounted in it */
    ld_free(&a, s);
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

static leandet_status init_tensors(leandet_session *s, leandet_error *err)
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
    /* Batch N: every input's dimension 0 becomes N; prepare carries it
     * through the graph (or refuses where a constant shape cannot follow). */
    for (int k = 0; s->batch > 1 && k < d->n_inputs; k++) {
        ld_tensor *t = &s->tensors[d->inputs[k]];
        if (t->shape.rank < 1 || t->shape.d[0] != 1)
            return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: input %d '%s' has no batch dimension of 1 to set to %d",
                           s->model->path, k, t->desc->name, s->batch);
        t->shape.d[0] = s->batch;
        size_t n = ld_shape_count(&t->shape), es = leandet_dtype_size(t->type);
        if (es && n > SIZE_MAX / es)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: batch %d makes input %d too large", s->model->path,
                           s->batch, k);
        t->bytes = n * es;
    }
    return LEANDET_OK;
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

static leandet_status size_outputs(leandet_session *s, ld_op_ctx *c, leandet_error *err)
{
    for (int k = 0; k < c->n_out; k++) {
        ld_tensor *t = c->out[k];
        if (t->is_const)
            continue; /* folded: data and bytes set by prepare */
        size_t es = leandet_dtype_size(t->type);
        size_t n = ld_shape_count(&t->shape);
        if (es == 0 || (n && es > SIZE_MAX / n))
            return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: op %d output '%s' has unsupported type %s or size",
                           s->model->path, c->index, t->desc->name, leandet_dtype_name(t->type));
        t->bytes = n * es;
    }
    return LEANDET_OK;
}

/* Plan only: the op's state is measured (state_bytes) and no longer needed.
 * Folded outputs stay: later ops' prepare reads them. */
static void release_planned_state(leandet_session *s, ld_op_slot *slot)
{
    if (!s->plan_only || slot->folded || slot->borrowed || !slot->ctx.state)
        return;
    ld_free(&s->alloc, slot->ctx.state);
    slot->ctx.state = NULL;
    slot->state_released = 1;
    s->released_bytes += slot->state_bytes;
}

/* What a full build would hold now: planning frees packed weights early. */
static void note_peak(leandet_session *s)
{
    const size_t held = s->alloc.current + s->released_bytes;
    if (held > s->prepare_peak)
        s->prepare_peak = held;
}

/* Op i as the donor prepared it: its kernel and state, its output shapes
 * and, when folded, its outputs' data (NULL if the donor freed them: then
 * every reader is shareable and takes its packed copy from the donor too). */
static void borrow_op(leandet_session *s, int i)
{
    const ld_op_slot *from = &s->donor->ops[i];
    ld_op_slot *slot = &s->ops[i];
    slot->kernel = from->kernel;
    slot->isa = from->isa;
    slot->folded = from->folded;
    slot->borrowed = 1;
    slot->state_bytes = 0;
    slot->scratch_need = from->scratch_need;
    slot->ctx.state = from->folded ? NULL : from->ctx.state;
    slot->ctx.packed_inputs = from->ctx.packed_inputs;
    slot->ctx.shareable = from->ctx.shareable;
    slot->ctx.scratch_bytes = from->scratch_need;
    for (int k = 0; k < slot->ctx.n_out; k++) {
        const ld_tensor *t = from->ctx.out[k];
        ld_tensor *u = slot->ctx.out[k];
        u->shape = t->shape;
        if (from->folded) {
            u->is_const = 1;
            u->data = t->data;
            u->bytes = t->bytes;
        }
    }
}

static leandet_status prepare_one(leandet_session *s, ld_op_slot *slot, leandet_error *err)
{
    ld_op_ctx *c = &slot->ctx;
    for (int k = 0; k < c->n_out; k++)
        if (c->out[k]->is_const)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "output %d '%s' is a constant tensor", k, c->out[k]->desc->name);
    for (int k = 0; k < c->n_in; k++)
        if (c->in[k] && c->in[k]->is_const && !c->in[k]->data && c->in[k]->bytes)
            return ld_fail_prefix(err, ld_op_fail(c, LEANDET_ERR_INTERNAL,
                                                  "input %d '%s' was freed once packed by the shared session", k,
                                                  c->in[k]->desc->name),
                                  "%s: ", s->model->path);
    /* Inputs are shaped now: an optimized kernel may take the op. */
    slot->kernel = ld_kernel_select(c, s->backend, &slot->isa);
    size_t before = s->alloc.current;
    leandet_status st = slot->kernel->prepare(c);
    slot->state_bytes = s->alloc.current - before;
    slot->scratch_need = c->scratch_bytes;
    if (st != LEANDET_OK)
        return ld_fail_prefix(err, st, "%s: ", s->model->path);
    slot->folded = c->n_out > 0;
    for (int k = 0; k < c->n_out; k++)
        slot->folded &= c->out[k]->is_const;
    return LEANDET_OK;
}

/* Prepare op i, or take it from the session the weights are shared with. */
static leandet_status prepare_at(leandet_session *s, ld_folded *folded, int i, leandet_error *err)
{
    ld_op_slot *slot = &s->ops[i];
    ld_op_ctx *c = &slot->ctx;
    c->alloc = &s->alloc;
    c->err = err;
    c->scratch_bytes = 0;
    const ld_op_slot *from = s->donor ? &s->donor->ops[i] : NULL;
    if (from && (from->folded || from->ctx.shareable)) {
        borrow_op(s, i);
    } else {
        leandet_status st = prepare_one(s, slot, err);
        if (st != LEANDET_OK)
            return st;
    }
    note_peak(s);
    release_planned_state(s, slot);
    ld_folded_prepared(s, folded, i);
    leandet_status st = size_outputs(s, c, err);
    if (st != LEANDET_OK)
        return st;
    if (c->scratch_bytes > s->scratch_bytes)
        s->scratch_bytes = c->scratch_bytes;
    c->alloc = NULL;
    c->err = NULL;
    return LEANDET_OK;
}

/* In order, except that folds whose only readers may pack them wait for
 * their first reader (runtime/folded.c). */
static leandet_status prepare_each(leandet_session *s, ld_folded *folded, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    leandet_status st = LEANDET_OK;
    for (int i = 0; st == LEANDET_OK && i < d->n_ops; i++) {
        if (ld_folded_defer(s, folded, i))
            continue;
        for (int k = 0; st == LEANDET_OK && k < d->ops[i].n_inputs; k++) {
            const int p = ld_folded_waiting(folded, d->ops[i].inputs[k]);
            if (p >= 0) { /* its own pages: freed once packed, it leaves no hole in the heap */
                s->alloc.map_small = 1;
                st = prepare_at(s, folded, p, err);
                s->alloc.map_small = 0;
                s->ops[p].mapped = 1;
            }
        }
        if (st == LEANDET_OK)
            st = prepare_at(s, folded, i, err);
    }
    for (int i = 0; st == LEANDET_OK && i < d->n_ops; i++)
        for (int k = 0; st == LEANDET_OK && k < d->ops[i].n_outputs; k++) {
            const int p = ld_folded_waiting(folded, d->ops[i].outputs[k]); /* nobody read it */
            if (p >= 0)
                st = prepare_at(s, folded, p, err);
        }
    return st;
}

static leandet_status prepare_ops(leandet_session *s, leandet_error *err)
{
    ld_folded folded;
    leandet_status st = ld_folded_begin(s, &folded, err);
    if (st == LEANDET_OK)
        st = prepare_each(s, &folded, err);
    ld_folded_end(s, &folded);
    return st;
}

/* Let optimized kernels run producer + consumer pairs as one op (SiLU:
 * LOGISTIC + MUL), where the producer's output is read by that consumer
 * alone and is not a model output, so skipping the producer loses nothing.
 * Never with the reference backend, nor with keep_all_tensors (every
 * intermediate must stay readable). The skipped output keeps its planned
 * bytes. */
static leandet_status fuse_ops(leandet_session *s, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    if (s->backend != LD_BACKEND_AUTO || s->keep_all || d->n_tensors < 1)
        return LEANDET_OK;
    int *producer = ld_calloc(&s->alloc, 2 * (size_t)d->n_tensors, sizeof *producer);
    if (!producer)
        return ld_fail(err, s->alloc.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                       "%s: out of memory fusing ops", s->model->path);
    int *readers = producer + d->n_tensors;
    for (int t = 0; t < d->n_tensors; t++)
        producer[t] = -1;
    for (int i = 0; i < d->n_ops; i++) {
        for (int k = 0; k < d->ops[i].n_outputs; k++)
            producer[d->ops[i].outputs[k]] = i;
        for (int k = 0; k < d->ops[i].n_inputs; k++)
            if (d->ops[i].inputs[k] >= 0)
                readers[d->ops[i].inputs[k]]++;
    }
    for (int k = 0; k < d->n_outputs; k++)
        readers[d->outputs[k]] += 2; /* read after invoke */
    for (int j = 0; j < d->n_ops; j++) {
        for (int k = 0; !s->ops[j].folded && k < d->ops[j].n_inputs; k++) {
            int t = d->ops[j].inputs[k], i = t >= 0 ? producer[t] : -1;
            if (i < 0 || readers[t] != 1 || d->ops[i].n_outputs != 1 || s->ops[i].folded || s->ops[i].fused ||
                s->ops[j].borrowed)
                continue; /* a fusion replaces the consumer's state: never a borrowed one */
            ld_op_slot *cons = &s->ops[j];
            size_t before = s->alloc.current;
            const int fused =
                ld_opt_fuse(&s->ops[i].ctx, s->ops[i].kernel, &cons->ctx, &s->alloc, &cons->kernel, &cons->isa);
            if (fused < 0) {
                ld_free(&s->alloc, producer);
                return ld_fail(err, s->alloc.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                               "%s: out of memory fusing ops %d and %d", s->model->path, i, j);
            }
            if (fused) {
                s->ops[i].fused = 1;
                s->ops[i].fused_into = j;
                if (d->ops[i].builtin == LD_OP_CONV_2D)
                    cons->isa = s->ops[i].isa; /* the profile names the kernel doing the work */
                /* The fused state replaces the consumer's (already freed when planning). */
                if (cons->state_released)
                    cons->state_bytes = s->alloc.current - before;
                else
                    cons->state_bytes += s->alloc.current - before; /* may shrink: modular sum */
                release_planned_state(s, cons);
                /* The producer no longer reads its inputs; those the
                 * consumer reads itself now have one reader fewer (SiLU:
                 * x), so the op before may fuse in too (CONV_2D + SiLU). */
                for (int a = 0; a < d->ops[i].n_inputs; a++)
                    for (int b = 0; b < d->ops[j].n_inputs; b++)
                        if (d->ops[i].inputs[a] >= 0 && d->ops[i].inputs[a] == d->ops[j].inputs[b]) {
                            readers[d->ops[i].inputs[a]]--;
                            break;
                        }
                k = -1; /* look at the consumer's inputs again */
            }
        }
    }
    ld_free(&s->alloc, producer);
    return LEANDET_OK;
}

/* Reshape-like ops run by the reference kernel skip their copy when the
 * output shares the input's bytes; other kernels are not asked to. */
static leandet_status plan(leandet_session *s, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    const size_t n = d->n_ops ? (size_t)d->n_ops : 1;
    int32_t *read_until = ld_calloc(&s->alloc, n, sizeof *read_until + 1);
    if (!read_until)
        return ld_fail(err, s->alloc.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                       "%s: out of memory planning %d ops", s->model->path, d->n_ops);
    uint8_t *may_alias = (uint8_t *)(read_until + n);
    for (int i = 0; i < d->n_ops; i++) {
        may_alias[i] = ld_op_is_reshape_like(d->ops[i].builtin) && !s->ops[i].folded &&
                       strcmp(s->ops[i].isa, "ref") == 0;
        read_until[i] = s->ops[i].fused ? s->ops[i].fused_into : -1;
    }
    ld_plan_config cfg = {s->keep_all, s->opt.no_inplace, may_alias, read_until};
    leandet_status st = ld_arena_plan_build(d, s->tensors, &cfg, &s->alloc, s->model->path, &s->plan, err);
    ld_free(&s->alloc, read_until);
    if (st == LEANDET_OK) {
        s->arena_bytes = s->plan.arena_bytes;
        s->naive_bytes = s->plan.naive_bytes;
    }
    return st;
}

leandet_status leandet_session_acquire(leandet_session *s, leandet_error *err)
{
    if (!s)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_session_acquire: session is NULL");
    if (s->arena)
        return LEANDET_OK;
    if (s->plan_only)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: a session built only to plan cannot run", s->model->path);
    s->arena = ld_malloc(&s->alloc, s->arena_bytes ? s->arena_bytes : 1);
    if (s->arena && s->scratch_bytes)
        s->scratch = ld_malloc(&s->alloc, s->scratch_bytes);
    if (!s->arena || (s->scratch_bytes && !s->scratch)) {
        free_arena(s);
        leandet_status st = s->alloc.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY;
        return ld_fail(err, st, "%s: cannot allocate the arena (%zu bytes) and scratch (%zu bytes)%s", s->model->path,
                       s->arena_bytes, s->scratch_bytes, s->alloc.limit_hit ? " within the memory budget" : "");
    }
    const ld_model_desc *d = &s->model->desc;
    for (int t = 0; t < d->n_tensors; t++)
        if (s->plan.item_of[t] >= 0)
            s->tensors[t].data = s->arena + s->plan.items[s->plan.item_of[t]].offset;
    return LEANDET_OK;
}

void leandet_session_release(leandet_session *s)
{
    if (!s || !s->arena)
        return;
    free_arena(s);
    const ld_model_desc *d = &s->model->desc;
    for (int t = 0; t < d->n_tensors; t++)
        if (s->plan.item_of[t] >= 0)
            s->tensors[t].data = NULL;
}

/* Everything up to and including the plan. */
static leandet_status prepare_and_plan(leandet_session *s, leandet_error *err)
{
    const ld_model_desc *d = &s->model->desc;
    leandet_status st = LEANDET_OK;
    s->tensors = ld_calloc(&s->alloc, d->n_tensors ? (size_t)d->n_tensors : 1, sizeof *s->tensors);
    s->ops = ld_calloc(&s->alloc, d->n_ops ? (size_t)d->n_ops : 1, sizeof *s->ops);
    if (!s->tensors || !s->ops)
        st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory creating a session", s->model->path);
    if (st == LEANDET_OK)
        st = find_kernels(s, err);
    if (st == LEANDET_OK)
        st = init_tensors(s, err);
    if (st == LEANDET_OK)
        st = wire_ops(s, err);
    if (st == LEANDET_OK)
        st = prepare_ops(s, err);
    if (st == LEANDET_OK)
        st = fuse_ops(s, err);
    note_peak(s);
    if (st == LEANDET_OK)
        st = plan(s, err);
    return st;
}

static leandet_status check_options(const leandet_model *model, const leandet_session_options *o, leandet_error *err)
{
    if (o->threads < 0 || o->threads > LD_POOL_MAX_THREADS)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: %d threads: must be 1..%d", model->path, o->threads,
                       LD_POOL_MAX_THREADS);
    if (o->batch < 0 || o->n_cpus < 0 || (o->n_cpus > 0 && !o->cpus))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: invalid batch %d or CPU list (%d CPUs)", model->path, o->batch,
                       o->n_cpus);
    if (o->alloc && (!o->alloc->alloc || !o->alloc->free))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: the allocator needs both alloc and free", model->path);
    return LEANDET_OK;
}

/* A refused plan: the report (with cheaper alternatives) and the message. */
static leandet_status refuse(const leandet_model *model, const leandet_session_options *o, leandet_plan_report *r,
                             leandet_error *err)
{
    ld_plan_suggest(model, o, r);
    if (o->report)
        *o->report = *r;
    return ld_budget_refusal(model, r, err);
}

/* The budget ran out before the plan was complete (the process, model and
 * images leave too little, or prepare itself hit the limit): plan again
 * without the limit, only to report the full breakdown, then refuse. */
static leandet_status refuse_unplanned(const leandet_model *model, const leandet_session_options *o,
                                       leandet_error *err)
{
    leandet_plan_report r = {0};
    leandet_session_options po = *o;
    po.max_memory = 0;
    po.report = &r;
    leandet_session *p = NULL;
    leandet_status st = ld_session_build(model, &po, LD_BUILD_PLAN, &p, err);
    leandet_session_destroy(p);
    if (st != LEANDET_OK)
        return st;
    r.max_memory = o->max_memory;
    ld_report_total(&r);
    r.fits = 0; /* prepare alone did not fit, whatever the rounding of the total says */
    return refuse(model, o, &r, err);
}

int ld_session_can_share(const leandet_session *donor, const leandet_model *model, ld_backend backend, int batch,
                         int keep_all)
{
    return donor->model == model && donor->backend == backend && donor->batch == batch &&
           donor->keep_all == keep_all && !donor->plan_only;
}

leandet_status ld_session_build(const leandet_model *model, const leandet_session_options *options,
                                ld_build_mode mode, leandet_session **out, leandet_error *err)
{
    if (!model || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_session_create: model and out must not be NULL");
    *out = NULL;
    leandet_session_options o = {0};
    if (options)
        o = *options;
    leandet_status st = check_options(model, &o, err);
    if (st != LEANDET_OK)
        return st;
    int threads = o.threads > 1 ? o.threads : 1;
    ld_alloc a;
    ld_alloc_init(&a, o.alloc);
    size_t outside = ld_session_outside_bytes(model, &o, threads);
    if (o.max_memory && mode != LD_BUILD_PLAN) {
        /* Prepare's own allocations stay within what the budget leaves. */
        if (outside >= o.max_memory)
            return refuse_unplanned(model, &o, err); /* hopeless before the first byte */
        a.limit = o.max_memory - outside;
    }
    leandet_session *s = ld_calloc(&a, 1, sizeof *s);
    if (!s)
        return ld_fail(err, a.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                       "%s: out of memory creating a session", model->path);
    s->alloc = a; /* from here on the session's block is accounted in s->alloc */
    s->model = model;
    s->opt = o;
    s->opt.report = NULL;
    s->keep_all = o.keep_all_tensors;
    s->backend = o.backend == LEANDET_BACKEND_REFERENCE ? LD_BACKEND_REFERENCE : LD_BACKEND_AUTO;
    s->threads = threads;
    s->batch = o.batch > 1 ? o.batch : 1;
    s->plan_only = mode == LD_BUILD_PLAN;
    /* A borrower's weights belong to its donor: share from that one. */
    s->donor = o.share_weights && o.share_weights->donor ? o.share_weights->donor : o.share_weights;
    if (s->donor && !ld_session_can_share(s->donor, model, s->backend, s->batch, s->keep_all)) {
        leandet_session_destroy(s);
        return ld_fail(err, LEANDET_ERR_ARGUMENT,
                       "%s: share_weights: the other session is of another model, backend, batch or "
                       "keep_all_tensors, or only planned",
                       model->path);
    }
    st = prepare_and_plan(s, err);
    if (st != LEANDET_OK && s->alloc.limit_hit) {
        leandet_session_destroy(s); /* whatever failed first, the cause is the budget */
        return refuse_unplanned(model, &o, err);
    }
    if (st != LEANDET_OK) {
        leandet_session_destroy(s);
        return st;
    }
    if (mode == LD_BUILD_FULL) {
        st = ld_session_commit(s, o.report, err); /* destroys s on failure */
        if (st != LEANDET_OK)
            return st;
    } else if (o.report) {
        ld_session_report(s, o.report);
    }
    *out = s;
    return LEANDET_OK;
}

leandet_status ld_session_commit(leandet_session *s, leandet_plan_report *report, leandet_error *err)
{
    leandet_plan_report r;
    ld_session_report(s, &r);
    if (report)
        *report = r;
    if (!r.fits) {
        const leandet_model *model = s->model;
        leandet_session_options o = s->opt;
        o.report = report;
        leandet_session_destroy(s); /* free prepare's memory before re-planning alternatives */
        return refuse(model, &o, &r, err);
    }
    if (s->opt.max_memory) {
        size_t outside = ld_session_outside_bytes(s->model, &s->opt, s->threads);
        s->alloc.limit = outside < s->opt.max_memory ? s->opt.max_memory - outside : 1;
    }
    leandet_status st = leandet_session_acquire(s, err);
    if (st == LEANDET_OK && s->threads > 1) {
        st = ld_pool_create(s->threads, s->opt.cpus, s->opt.n_cpus, &s->alloc, &s->pool, err);
        /* Between the ops of one invoke, workers wait briefly before sleeping:
         * a wake-up costs 20-50 us, more than most ops' share of work. They
         * still sleep as soon as an invoke ends (no CPU when idle). */
        if (st == LEANDET_OK)
            ld_pool_set_spin_us(s->pool, LD_SESSION_SPIN_US);
    }
    if (st != LEANDET_OK)
        leandet_session_destroy(s);
    return st;
}

leandet_status leandet_session_create(const leandet_model *model, const leandet_session_options *options,
                                      leandet_session **out, leandet_error *err)
{
    return ld_session_build(model, options, LD_BUILD_FULL, out, err);
}

void ld_session_set_profile(leandet_session *s, double *op_ms)
{
    if (s)
        s->profile_ms = op_ms;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

leandet_status leandet_session_invoke(leandet_session *s, leandet_error *err)
{
    if (!s)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_session_invoke: session is NULL");
    if (!s->arena) {
        /* Released between bursts: take the arena back (inputs were lost
         * with it, so the caller filled them after leandet_session_input). */
        leandet_status st = leandet_session_acquire(s, err);
        if (st != LEANDET_OK)
            return st;
    }
    const ld_model_desc *d = &s->model->desc;
    double *prof = s->profile_ms;
    ld_pool_hold(s->pool, 1); /* workers stay awake through serial ops */
    for (int i = 0; i < d->n_ops; i++) {
        if (s->ops[i].folded | s->ops[i].fused)
            continue;
        ld_op_ctx *c = &s->ops[i].ctx;
        c->scratch = s->scratch;
        c->scratch_bytes = s->scratch_bytes;
        c->err = err;
        c->pool = s->pool;
        double t0 = prof ? now_ms() : 0.0;
        leandet_status st = s->ops[i].kernel->eval(c);
        if (prof)
            prof[i] += now_ms() - t0;
        c->err = NULL;
        if (st != LEANDET_OK) {
            ld_pool_hold(s->pool, 0);
            return ld_fail_prefix(err, st, "%s: ", s->model->path);
        }
    }
    ld_pool_hold(s->pool, 0);
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
    if (t && !s->arena && leandet_session_acquire(s, NULL) != LEANDET_OK)
        t = NULL;
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

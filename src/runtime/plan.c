/* The plan report: the predicted resident bytes of a run by category, from
 * a session prepared and planned (arena not needed), and the cheaper
 * configurations offered when a budget refuses it. */
#include <string.h>

#include "graph/budget.h"
#include "graph/cost.h"
#include "runtime/session_internal.h"

/* Session allocations besides op state and the arena: the session block,
 * tensors, op table, wiring and the plan's two arrays, plus the pool. */
#define SESSION_BLOCKS 8

size_t ld_session_outside_bytes(const leandet_model *model, const leandet_session_options *o, int threads)
{
    size_t t = ld_add_sat(o->process_bytes, o->image_bytes);
    t = ld_add_sat(t, o->pipeline_bytes);
    t = ld_add_sat(t, ld_pool_stack_bytes(threads));
    if (o->count_model) {
        t = ld_add_sat(t, ld_page_round(model->size));
        t = ld_add_sat(t, model->alloc.current + (size_t)model->alloc.count * LD_ALLOC_SLACK);
    }
    return t;
}

void ld_session_report(const leandet_session *s, leandet_plan_report *r)
{
    const leandet_session_options *o = &s->opt;
    const ld_model_desc *d = &s->model->desc;
    memset(r, 0, sizeof *r);
    r->bytes[LEANDET_MEM_PROCESS] = o->process_bytes;
    if (o->count_model) {
        r->bytes[LEANDET_MEM_MODEL_FILE] = ld_page_round(s->model->size);
        r->bytes[LEANDET_MEM_MODEL_META] = s->model->alloc.current + (size_t)s->model->alloc.count * LD_ALLOC_SLACK;
    }
    size_t states = 0;
    for (int i = 0; i < d->n_ops; i++) {
        const ld_op_slot *op = &s->ops[i];
        leandet_mem_category c = op->folded ? LEANDET_MEM_FOLDED
                                 : strcmp(op->isa, "ref") != 0 ? LEANDET_MEM_PACKED
                                                                : LEANDET_MEM_OP_STATE;
        if (!op->dropped) /* else freed during prepare: see the prepare peak below */
            r->bytes[c] += op->mapped ? ld_alloc_mapped_bytes(op->state_bytes) : ld_block_bytes(op->state_bytes);
        if (!op->state_released && !op->dropped)
            states += op->state_bytes; /* still in s->alloc.current */
        if (!op->folded)
            r->macs += ld_op_macs(&op->ctx);
    }
    size_t held = s->alloc.current - states;
    if (s->arena)
        held -= s->arena_bytes ? s->arena_bytes : 1;
    if (s->scratch)
        held -= s->scratch_bytes;
    r->bytes[LEANDET_MEM_SESSION] = held + SESSION_BLOCKS * LD_ALLOC_SLACK;
    r->bytes[LEANDET_MEM_ARENA] = ld_block_bytes(s->arena_bytes);
    r->bytes[LEANDET_MEM_SCRATCH] = ld_block_bytes(s->scratch_bytes);
    r->bytes[LEANDET_MEM_IO] = o->io_bytes;
    r->bytes[LEANDET_MEM_IMAGE] = o->image_bytes;
    r->bytes[LEANDET_MEM_PIPELINE] = o->pipeline_bytes;
    r->bytes[LEANDET_MEM_THREADS] = ld_pool_stack_bytes(s->threads);
    /* Prepare held the folded weights it freed later while other ops were
     * packed; if that moment held more than the run will (with its arena),
     * the difference is folded weights the budget must also cover. */
    size_t steady = 0;
    for (int c = LEANDET_MEM_SESSION; c <= LEANDET_MEM_SCRATCH; c++)
        steady += r->bytes[c];
    const size_t at_prepare = s->prepare_peak + (size_t)(d->n_ops + SESSION_BLOCKS) * LD_ALLOC_SLACK;
    if (at_prepare > steady)
        r->bytes[LEANDET_MEM_FOLDED] += at_prepare - steady;

    r->max_memory = o->max_memory;
    ld_report_total(r);
    r->arena_bytes = s->plan.arena_bytes;
    r->naive_bytes = s->plan.naive_bytes;
    r->peak_step = s->plan.peak_step;
    r->peak_live_bytes = s->plan.peak_live_bytes;
    r->n_ops = d->n_ops;
    r->n_aliased = s->plan.n_aliased;
    r->threads = s->threads;
    r->batch = s->batch;
}

void ld_session_shared_bytes(const leandet_session *s, const leandet_plan_report *r, size_t *packed,
                             size_t *folded)
{
    *packed = 0;
    for (int i = 0; i < s->model->desc.n_ops; i++) {
        const ld_op_slot *op = &s->ops[i];
        if (!op->folded && !op->dropped && op->ctx.shareable && strcmp(op->isa, "ref") != 0)
            *packed += ld_block_bytes(op->state_bytes);
    }
    *folded = r->bytes[LEANDET_MEM_FOLDED]; /* every folded op is shared, and so is prepare's peak */
}

/* Total of the plan with options `o` (no budget), 0 if it cannot be made. */
static size_t plan_total(const leandet_model *model, const leandet_session_options *o)
{
    leandet_plan_report r;
    leandet_session_options po = *o;
    po.max_memory = 0;
    if (po.share_weights && !ld_session_can_share(po.share_weights, model,
                                                  po.backend == LEANDET_BACKEND_REFERENCE ? LD_BACKEND_REFERENCE
                                                                                         : LD_BACKEND_AUTO,
                                                  po.batch > 1 ? po.batch : 1, po.keep_all_tensors))
        po.share_weights = NULL; /* another backend or batch: its own weights */
    po.report = &r;
    leandet_session *s = NULL;
    leandet_status st = ld_session_build(model, &po, LD_BUILD_PLAN, &s, NULL);
    leandet_session_destroy(s);
    return st == LEANDET_OK ? r.total_bytes : 0;
}

void ld_plan_suggest(const leandet_model *model, const leandet_session_options *o, leandet_plan_report *r)
{
    if (r->threads > 1 && r->bytes[LEANDET_MEM_THREADS])
        r->total_one_thread = r->total_bytes - r->bytes[LEANDET_MEM_THREADS];
    if (r->bytes[LEANDET_MEM_PACKED] && o->backend != LEANDET_BACKEND_REFERENCE) {
        leandet_session_options ro = *o;
        ro.backend = LEANDET_BACKEND_REFERENCE;
        size_t t = plan_total(model, &ro);
        r->total_reference = t && t < r->total_bytes ? t : 0;
    }
    if (r->batch > 1 && r->max_memory) {
        /* Memory grows with the batch: bisect for the largest that fits. */
        int lo = 0, hi = r->batch - 1;
        leandet_session_options bo = *o;
        while (lo < hi) {
            bo.batch = lo + (hi - lo + 1) / 2;
            size_t t = plan_total(model, &bo);
            if (t && t <= r->max_memory)
                lo = bo.batch;
            else
                hi = bo.batch - 1;
        }
        r->max_batch = lo;
    }
}

leandet_status ld_budget_refusal(const leandet_model *model, const leandet_plan_report *r, leandet_error *err)
{
    char total[32], budget[32], over[32], parts[320], fit[320];
    ld_fmt_breakdown(r, parts, sizeof parts);
    ld_fmt_would_fit(r, 0, fit, sizeof fit);
    size_t excess = r->total_bytes > r->max_memory ? r->total_bytes - r->max_memory : 0;
    return ld_fail(err, LEANDET_ERR_BUDGET, "%s: needs %s, over the memory budget of %s by %s (%s); %s", model->path,
                   ld_fmt_bytes(r->total_bytes, total, sizeof total),
                   ld_fmt_bytes(r->max_memory, budget, sizeof budget),
                   ld_fmt_bytes(excess, over, sizeof over), parts, fit);
}

leandet_status leandet_plan_model(const leandet_model *model, const leandet_session_options *options,
                                  leandet_plan_report *report, leandet_error *err)
{
    if (!model || !report)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_plan_model: model and report must not be NULL");
    leandet_session_options o = {0};
    if (options)
        o = *options;
    o.report = report;
    leandet_session *s = NULL;
    leandet_status st = ld_session_build(model, &o, LD_BUILD_PLAN, &s, err);
    leandet_session_destroy(s);
    if (st != LEANDET_OK)
        return st;
    if (report->fits)
        return LEANDET_OK;
    ld_plan_suggest(model, &o, report);
    return ld_budget_refusal(model, report, err);
}

leandet_status leandet_session_plan(const leandet_session *s, leandet_plan_report *out)
{
    if (!s || !out)
        return LEANDET_ERR_ARGUMENT;
    ld_session_report(s, out);
    return LEANDET_OK;
}

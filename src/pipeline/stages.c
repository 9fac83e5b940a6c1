/* The running pipeline: the stage threads, the ordered delivery through
 * the reorder window, and the calls that feed it and take results (see
 * pipeline.h for why the window cannot collide or deadlock). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "pipeline/pipeline_internal.h"
#include "runtime/detector_internal.h"

/* ------------------------------------------------------------------ */
/* Completion and delivery                                              */

static void complete(leandet_pipeline *p, ld_slot *s)
{
    pthread_mutex_lock(&p->mu);
    p->window[s->seq % (uint64_t)p->lay.slots] = s;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
}

/* The next slot in order, or NULL (not ready and !wait; all delivered after
 * finish; cancelled). */
static ld_slot *take_next(leandet_pipeline *p, int wait)
{
    ld_slot *s = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        ld_slot **w = &p->window[p->next_deliver % (uint64_t)p->lay.slots];
        if (atomic_load(&p->cancel))
            break;
        if (*w) {
            s = *w;
            *w = NULL;
            p->next_deliver++;
            break;
        }
        if (!wait || (p->finished && p->next_deliver == p->next_seq))
            break;
        pthread_cond_wait(&p->done_cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

void ld_pipeline_release(leandet_pipeline *p, ld_slot *s)
{
    /* free_q has room for every slot: this never blocks. */
    ld_queue_push(&p->q[Q_FREE], s, 1);
}

static void fill_result(const leandet_pipeline *p, const ld_slot *s, leandet_pipeline_result *r)
{
    memset(r, 0, sizeof *r);
    r->index = s->seq;
    r->name = s->name;
    r->user = s->user;
    r->status = s->status;
    r->error = s->status == LEANDET_OK ? "" : s->error;
    r->width = s->width;
    r->height = s->height;
    r->decode_scale = s->scale;
    r->detections = s->dets;
    r->count = s->status == LEANDET_OK ? s->count : 0;
    r->input = s->status == LEANDET_OK ? s->tensor : NULL;
    r->input_bytes = s->status == LEANDET_OK ? p->lay.tensor_bytes : 0;
}

/* Record why an input failed; the message always names the input. */
static void fail_slot(ld_slot *s, const leandet_error *e)
{
    s->status = e->status != LEANDET_OK ? e->status : LEANDET_ERR_INTERNAL;
    const char *m = e->message[0] ? e->message : "unknown error";
    size_t n = strlen(s->name);
    if (n && strncmp(m, s->name, n) != 0) {
        if (snprintf(s->error, sizeof s->error, "%s: %s", s->name, m) >= (int)sizeof s->error)
            memcpy(s->error + sizeof s->error - 4, "...", 4); /* say it was cut */
    } else
        snprintf(s->error, sizeof s->error, "%s", m);
    s->count = 0;
}

/* ------------------------------------------------------------------ */
/* Threads                                                              */

void *ld_pipeline_sink_main(void *arg)
{
    leandet_pipeline *p = arg;
    ld_slot *s;
    while ((s = take_next(p, 1)) != NULL) {
        leandet_pipeline_result r;
        fill_result(p, s, &r);
        p->cb(p->cb_user, &r);
        ld_pipeline_release(p, s);
    }
    return NULL;
}

void *ld_pipeline_decode_main(void *arg)
{
    ld_decode_worker *w = arg;
    leandet_pipeline *p = w->p;
    void *item;
    while (ld_queue_pop(&p->q[Q_DECODE], &item, 1) == LD_QUEUE_OK) {
        ld_slot *s = item;
        leandet_error e = {0};
        leandet_status st = LEANDET_ERR_INTERNAL;
        if (atomic_load(&p->cancel))
            ld_fail(&e, st, "%s: pipeline cancelled", s->name);
        else {
            ld_gate_enter(&p->gate, 1);
            st = ld_pipeline_prepare(s, &p->pre, p->lay.tensor_bytes, p->opt.scaled_decode, w->pixels,
                                     p->lay.decode_bytes, &e);
            ld_gate_leave(&p->gate, 1);
        }
        if (st == LEANDET_OK && ld_queue_push(&p->q[Q_INFER], s, 1) == LD_QUEUE_OK)
            continue;
        if (st == LEANDET_OK)
            ld_fail(&e, LEANDET_ERR_INTERNAL, "%s: pipeline stopped before inference", s->name);
        fail_slot(s, &e);
        complete(p, s);
    }
    return NULL;
}

void *ld_pipeline_infer_main(void *arg)
{
    ld_infer_worker *w = arg;
    leandet_pipeline *p = w->p;
    void *item;
    while (ld_queue_pop(&p->q[Q_INFER], &item, 1) == LD_QUEUE_OK) {
        ld_slot *s = item;
        leandet_error e = {0};
        leandet_status st = LEANDET_ERR_INTERNAL;
        if (atomic_load(&p->cancel))
            ld_fail(&e, st, "%s: pipeline cancelled", s->name);
        else {
            ld_gate_enter(&p->gate, p->opt.threads_per_session);
            st = ld_detector_run_tensor(w->detector, s->tensor, p->lay.tensor_bytes, &s->geometry, s->dets,
                                        p->lay.max_detections, &s->count, &e);
            ld_gate_leave(&p->gate, p->opt.threads_per_session);
        }
        if (st != LEANDET_OK)
            fail_slot(s, &e);
        complete(p, s);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Submitting and taking results                                        */

static leandet_status check_input(const leandet_pipeline_input *in, leandet_error *err)
{
    if (!in)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: input is NULL");
    const char *name = in->path ? in->path : "";
    if (strlen(name) >= LD_PIPELINE_NAME_MAX)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: path of %zu bytes is longer than %d",
                       strlen(name), LD_PIPELINE_NAME_MAX - 1);
    switch (in->kind) {
    case LEANDET_INPUT_FILE:
        if (!in->path || !in->path[0])
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: a file input needs a path");
        return LEANDET_OK;
    case LEANDET_INPUT_ENCODED:
        if (!in->data && in->size)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: %s: encoded input without data", name);
        return LEANDET_OK;
    case LEANDET_INPUT_IMAGE:
        if (!in->image)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: %s: image input without an image", name);
        return LEANDET_OK;
    }
    return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: unknown input kind %d", (int)in->kind);
}

static leandet_status submit(leandet_pipeline *p, const leandet_pipeline_input *in, int wait, int *accepted,
                             leandet_error *err)
{
    *accepted = 0;
    if (!p)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: pipeline is NULL");
    leandet_status st = check_input(in, err);
    if (st != LEANDET_OK)
        return st;
    void *item = NULL;
    int rc = ld_queue_pop(&p->q[Q_FREE], &item, wait);
    if (rc == LD_QUEUE_WOULD_BLOCK)
        return LEANDET_OK;
    if (rc != LD_QUEUE_OK)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: the pipeline is shutting down");
    ld_slot *s = item;
    s->kind = in->kind;
    snprintf(s->name, sizeof s->name, "%s", in->path ? in->path : "");
    s->data = in->data;
    s->size = in->size;
    memset(&s->image, 0, sizeof s->image);
    if (in->kind == LEANDET_INPUT_IMAGE)
        s->image = *in->image;
    s->user = in->user;
    s->width = s->height = s->count = 0;
    s->scale = 1;
    s->status = LEANDET_OK;
    s->error[0] = '\0';
    pthread_mutex_lock(&p->mu);
    int finished = p->finished;
    if (!finished)
        s->seq = p->next_seq++;
    pthread_mutex_unlock(&p->mu);
    if (finished) {
        ld_pipeline_release(p, s);
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: %s: the pipeline was already finished", s->name);
    }
    /* decode_q holds every slot at once if need be: this fails only when
     * the pipeline is being destroyed. */
    if (ld_queue_push(&p->q[Q_DECODE], s, 1) != LD_QUEUE_OK)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline submit: %s: the pipeline is shutting down", s->name);
    *accepted = 1;
    return LEANDET_OK;
}

leandet_status leandet_pipeline_submit(leandet_pipeline *p, const leandet_pipeline_input *input, leandet_error *err)
{
    int accepted = 0;
    return submit(p, input, 1, &accepted, err);
}

leandet_status leandet_pipeline_try_submit(leandet_pipeline *p, const leandet_pipeline_input *input, int *accepted,
                                           leandet_error *err)
{
    int dummy;
    return submit(p, input, 0, accepted ? accepted : &dummy, err);
}

leandet_status leandet_pipeline_next(leandet_pipeline *p, int wait, leandet_pipeline_result *out, int *got,
                                     leandet_error *err)
{
    if (!p || !out || !got)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_pipeline_next: NULL argument");
    *got = 0;
    if (p->cb)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_pipeline_next: the pipeline delivers by callback");
    ld_slot *s = take_next(p, wait);
    if (!s)
        return LEANDET_OK;
    ld_slot *c = p->polled;
    leandet_detection *dets = c->dets;
    void *tensor = c->tensor;
    if (s->count > 0)
        memcpy(dets, s->dets, (size_t)s->count * sizeof *dets);
    memcpy(tensor, s->tensor, p->lay.tensor_bytes);
    *c = *s; /* name, error, sizes: fixed arrays, copied whole */
    c->dets = dets;
    c->tensor = tensor;
    ld_pipeline_release(p, s);
    fill_result(p, c, out);
    *got = 1;
    return LEANDET_OK;
}

int ld_pipeline_gate_peak(leandet_pipeline *p)
{
    if (!p->gate.capacity)
        return 0;
    pthread_mutex_lock(&p->gate.mu);
    int peak = p->gate.peak;
    pthread_mutex_unlock(&p->gate.mu);
    return peak;
}

leandet_status leandet_pipeline_finish(leandet_pipeline *p, leandet_error *err)
{
    if (!p)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_pipeline_finish: pipeline is NULL");
    pthread_mutex_lock(&p->mu);
    p->finished = 1;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    if (p->sink_started && !p->sink_joined) {
        pthread_join(p->sink, NULL); /* it returns after the last delivery */
        p->sink_joined = 1;
    }
    return LEANDET_OK;
}


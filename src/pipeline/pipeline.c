/* The throughput pipeline: options, the memory layout (planned and then
 * allocated exactly), creation of sessions and threads, destruction. The
 * running stages are in stages.c; the data flow is described in pipeline.h. */
#include "pipeline/pipeline.h"

#include <signal.h>
#include <string.h>

#include "core/error.h"
#include "image/image.h"
#include "pipeline/pipeline_internal.h"
#include "runtime/detector_internal.h"
#include "runtime/session_internal.h"

void leandet_pipeline_options_default(leandet_pipeline_options *o)
{
    memset(o, 0, sizeof *o);
    o->sessions = 1;
    o->threads_per_session = 1;
    o->decode_workers = 1;
    o->prefetch = 2;
    o->max_image_pixels = (size_t)4096 * 4096;
    o->scaled_decode = 1;
    o->backend = LEANDET_BACKEND_AUTO;
    leandet_detect_options_default(&o->detect);
}

static size_t elem_bytes(leandet_dtype t)
{
    return t == LEANDET_FLOAT32 ? 4 : (t == LEANDET_UINT8 || t == LEANDET_INT8) ? 1 : 0;
}

/* a += b * c, refusing overflow. */
static int add_mul(size_t *a, size_t b, size_t c)
{
    if (c && b > SIZE_MAX / c)
        return 0;
    if (b * c > SIZE_MAX - *a)
        return 0;
    *a += b * c;
    return 1;
}

leandet_status ld_pipeline_layout_compute(const leandet_model *model, const leandet_pipeline_options *opt,
                                          ld_pipeline_layout *l, leandet_error *err)
{
    leandet_pipeline_options def;
    if (!opt) {
        leandet_pipeline_options_default(&def);
        opt = &def;
    }
    if (!model || !l)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline: model and layout must not be NULL");
    if (opt->sessions < 1 || opt->sessions > LD_PIPELINE_MAX_WORKERS || opt->decode_workers < 1 ||
        opt->decode_workers > LD_PIPELINE_MAX_WORKERS)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline: %d sessions and %d decode workers: each must be 1..%d",
                       opt->sessions, opt->decode_workers, LD_PIPELINE_MAX_WORKERS);
    if (opt->threads_per_session < 1 || opt->threads_per_session > LD_POOL_MAX_THREADS)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline: %d threads per session: must be 1..%d",
                       opt->threads_per_session, LD_POOL_MAX_THREADS);
    if (opt->threads < 0 || (opt->threads > 0 && opt->threads < opt->threads_per_session))
        return ld_fail(err, LEANDET_ERR_ARGUMENT,
                       "pipeline: a thread budget of %d cannot run a session of %d threads (0: no budget)",
                       opt->threads, opt->threads_per_session);
    if (opt->prefetch < 0 || opt->prefetch > LD_PIPELINE_MAX_PREFETCH)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline: prefetch %d: must be 0..%d", opt->prefetch,
                       LD_PIPELINE_MAX_PREFETCH);
    if (opt->detect.max_detections < 1 || opt->detect.max_detections > 1000000)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline: max_detections %d: must be 1..1000000",
                       opt->detect.max_detections);
    if (opt->max_image_pixels < 1 || opt->max_image_pixels > LD_IMAGE_MAX_PIXELS)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline: max_image_pixels %zu: must be 1..%llu",
                       opt->max_image_pixels, (unsigned long long)LD_IMAGE_MAX_PIXELS);
    leandet_tensor_info in;
    if (leandet_model_input_info(model, 0, &in) != LEANDET_OK)
        return ld_fail(err, LEANDET_ERR_MODEL, "%s: the model has no input", leandet_model_path(model));
    size_t es = elem_bytes(in.type);
    if (in.rank != 4 || in.dims[0] != 1 || in.dims[3] != 3 || in.dims[1] < 1 || in.dims[2] < 1 ||
        in.dims[1] > 65535 || in.dims[2] > 65535 || es == 0)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: input 0 '%s' must be a [1,H,W,3] float32/uint8/int8 image",
                       leandet_model_path(model), in.name ? in.name : "");
    memset(l, 0, sizeof *l);
    l->sessions = opt->sessions;
    l->decode_workers = opt->decode_workers;
    l->slots = opt->sessions + opt->prefetch;
    l->max_detections = opt->detect.max_detections;
    l->tensor_bytes = (size_t)in.dims[1] * (size_t)in.dims[2] * 3 * es;
    l->decode_bytes = opt->max_image_pixels * 3;
    size_t n = (size_t)l->slots, t = sizeof(struct leandet_pipeline);
    /* n slots plus one more: the poll copy (pipeline_internal.h) */
    int ok = add_mul(&t, n + 1, sizeof(ld_slot)) && add_mul(&t, n + 1, l->tensor_bytes) &&
             add_mul(&t, n + 1, (size_t)l->max_detections * sizeof(leandet_detection)) &&
             add_mul(&t, n, (Q_COUNT + 1) * sizeof(void *)) && /* rings + window */
             add_mul(&t, (size_t)l->sessions, sizeof(ld_infer_worker)) &&
             add_mul(&t, (size_t)l->decode_workers, sizeof(ld_decode_worker)) &&
             add_mul(&t, (size_t)l->decode_workers, l->decode_bytes);
    if (!ok)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "pipeline: buffer sizes overflow");
    l->total = t;
    return LEANDET_OK;
}

size_t ld_pipeline_plan_bytes(const leandet_model *model, const leandet_pipeline_options *o)
{
    ld_pipeline_layout l;
    return ld_pipeline_layout_compute(model, o, &l, NULL) == LEANDET_OK ? l.total : 0;
}

/* Workers block every signal: the application's handlers run on its own
 * threads (as the thread pool does). */
static int start_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(tid, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Create / destroy                                                     */

static void stop_threads(leandet_pipeline *p)
{
    if (p->sync_ready) {
        pthread_mutex_lock(&p->mu);
        p->finished = 1;
        atomic_store(&p->cancel, 1);
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
    for (int i = 0; i < p->queues_ready; i++)
        ld_queue_close(&p->q[i]);
    for (int i = 0; p->decode && i < p->lay.decode_workers; i++)
        if (p->decode[i].started) {
            pthread_join(p->decode[i].tid, NULL);
            p->decode[i].started = 0;
        }
    for (int i = 0; p->infer && i < p->lay.sessions; i++)
        if (p->infer[i].started) {
            pthread_join(p->infer[i].tid, NULL);
            p->infer[i].started = 0;
        }
    if (p->sink_started && !p->sink_joined) {
        pthread_join(p->sink, NULL);
        p->sink_joined = 1;
    }
}

void leandet_pipeline_destroy(leandet_pipeline *p)
{
    if (!p)
        return;
    stop_threads(p);
    for (int i = 0; i < p->queues_ready; i++)
        ld_queue_destroy(&p->q[i]);
    if (p->sync_ready) {
        pthread_cond_destroy(&p->done_cv);
        pthread_mutex_destroy(&p->mu);
    }
    if (p->gate_ready)
        ld_gate_destroy(&p->gate);
    for (int i = p->infer ? p->lay.sessions - 1 : -1; i >= 0; i--) { /* the first holds the shared weights */
        leandet_detector_destroy(p->infer[i].detector);
        leandet_session_destroy(p->infer[i].session);
    }
    for (int i = 0; p->decode && i < p->lay.decode_workers; i++)
        ld_free(&p->alloc, p->decode[i].pixels);
    for (int i = 0; p->slots && i <= p->lay.slots; i++) {
        ld_free(&p->alloc, p->slots[i].tensor);
        ld_free(&p->alloc, p->slots[i].dets);
    }
    ld_free(&p->alloc, p->decode);
    ld_free(&p->alloc, p->infer);
    ld_free(&p->alloc, p->window);
    for (int i = 0; i < Q_COUNT; i++)
        ld_free(&p->alloc, p->rings[i]);
    ld_free(&p->alloc, p->slots);
    ld_alloc a = p->alloc;
    ld_free(&a, p);
}

/* Every buffer of the layout, through the accounted allocator. */
static leandet_status alloc_buffers(leandet_pipeline *p, leandet_error *err)
{
    const ld_pipeline_layout *l = &p->lay;
    size_t n = (size_t)l->slots;
    p->slots = ld_calloc(&p->alloc, n + 1, sizeof *p->slots);
    p->window = ld_calloc(&p->alloc, n, sizeof *p->window);
    for (int i = 0; i < Q_COUNT; i++)
        p->rings[i] = ld_calloc(&p->alloc, n, sizeof(void *));
    p->infer = ld_calloc(&p->alloc, (size_t)l->sessions, sizeof *p->infer);
    p->decode = ld_calloc(&p->alloc, (size_t)l->decode_workers, sizeof *p->decode);
    int ok = p->slots && p->window && p->rings[0] && p->rings[1] && p->rings[2] && p->infer && p->decode;
    if (ok)
        p->polled = &p->slots[n];
    for (size_t i = 0; ok && i <= n; i++) {
        p->slots[i].tensor = ld_malloc(&p->alloc, l->tensor_bytes);
        p->slots[i].dets = ld_calloc(&p->alloc, (size_t)l->max_detections, sizeof(leandet_detection));
        ok = p->slots[i].tensor && p->slots[i].dets;
    }
    for (int i = 0; ok && i < l->decode_workers; i++) {
        p->decode[i].p = p;
        p->decode[i].pixels = ld_malloc(&p->alloc, l->decode_bytes);
        ok = p->decode[i].pixels != NULL;
    }
    if (ok)
        return LEANDET_OK;
    if (p->alloc.limit_hit)
        return ld_fail(err, LEANDET_ERR_BUDGET,
                       "pipeline: buffers need %zu bytes (%d slots of a %zu-byte input, %d decode buffers of %zu), "
                       "over the memory budget of %zu: lower prefetch, decode workers or max image pixels",
                       l->total, l->slots, l->tensor_bytes, l->decode_workers, l->decode_bytes, p->alloc.limit);
    return ld_fail(err, LEANDET_ERR_NO_MEMORY, "pipeline: cannot allocate %zu bytes of buffers", l->total);
}

static leandet_status init_sync(leandet_pipeline *p, leandet_error *err)
{
    for (int i = 0; i < Q_COUNT; i++) {
        leandet_status st = ld_queue_init(&p->q[i], p->rings[i], (size_t)p->lay.slots, err);
        if (st != LEANDET_OK)
            return st;
        p->queues_ready++;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "pipeline: cannot create a mutex");
    if (pthread_cond_init(&p->done_cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "pipeline: cannot create a condition variable");
    }
    p->sync_ready = 1;
    leandet_status st = ld_gate_init(&p->gate, p->opt.threads, err);
    if (st != LEANDET_OK)
        return st;
    p->gate_ready = 1;
    for (int i = 0; i < p->lay.slots; i++)
        ld_pipeline_release(p, &p->slots[i]);
    return LEANDET_OK;
}

/* The budget of session `made`: the first may take all that is left (it
 * alone holds the weights, and its plan is checked first), each later one
 * an even share of what the sessions before it left. */
static size_t session_budget(const leandet_pipeline *p, int made)
{
    if (!p->opt.max_memory)
        return 0;
    const size_t used = p->alloc.current + p->session_bytes;
    size_t left = used < p->opt.max_memory ? p->opt.max_memory - used : 0;
    if (made > 0)
        left /= (size_t)(p->lay.sessions - made);
    return left ? left : 1; /* 0 would mean "no limit" */
}

/* One session + detector per inference worker. The first packs (and
 * folds) the weights; the others share them. */
static leandet_status create_sessions(leandet_pipeline *p, const leandet_model *model, leandet_error *err)
{
    leandet_session_options so = {0};
    so.alloc = p->opt.alloc;
    so.threads = p->opt.threads_per_session;
    so.backend = p->opt.backend;
    for (int i = 0; i < p->lay.sessions; i++) {
        ld_infer_worker *w = &p->infer[i];
        w->p = p;
        so.share_weights = i ? p->infer[0].session : NULL;
        so.max_memory = session_budget(p, i);
        leandet_status st = leandet_session_create(model, &so, &w->session, err);
        if (st == LEANDET_OK)
            st = leandet_detector_create(w->session, &p->opt.detect, &w->detector, err);
        if (st != LEANDET_OK) {
            if (st == LEANDET_ERR_BUDGET)
                ld_fail_prefix(err, st, "pipeline: %d sessions share %zu bytes after %zu of pipeline buffers: ",
                               p->lay.sessions, p->opt.max_memory - p->alloc.current, p->alloc.current);
            return st;
        }
        p->session_bytes += w->session->alloc.current;
    }
    p->pre = *ld_detector_preprocess(p->infer[0].detector);
    if (ld_preprocess_bytes(&p->pre) != p->lay.tensor_bytes)
        return ld_fail(err, LEANDET_ERR_INTERNAL, "pipeline: detector input of %zu bytes, planned %zu",
                       ld_preprocess_bytes(&p->pre), p->lay.tensor_bytes);
    return LEANDET_OK;
}

static leandet_status start_threads(leandet_pipeline *p, leandet_error *err)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < p->lay.sessions; i++)
        if ((rc = start_thread(&p->infer[i].tid, ld_pipeline_infer_main, &p->infer[i])) == 0)
            p->infer[i].started = 1;
    for (int i = 0; rc == 0 && i < p->lay.decode_workers; i++)
        if ((rc = start_thread(&p->decode[i].tid, ld_pipeline_decode_main, &p->decode[i])) == 0)
            p->decode[i].started = 1;
    if (rc == 0 && p->cb && (rc = start_thread(&p->sink, ld_pipeline_sink_main, p)) == 0)
        p->sink_started = 1;
    if (rc != 0)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "pipeline: cannot start a thread: %s", strerror(rc));
    return LEANDET_OK;
}

leandet_status leandet_pipeline_create(const leandet_model *model, const leandet_pipeline_options *options,
                                       leandet_pipeline_callback callback, void *user, leandet_pipeline **out,
                                       leandet_error *err)
{
    if (!model || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_pipeline_create: model and out must not be NULL");
    *out = NULL;
    leandet_pipeline_options opt;
    if (options)
        opt = *options;
    else
        leandet_pipeline_options_default(&opt);
    /* Slots hold model inputs, resized at decode time: tiles need the whole
     * image when the model runs (leandet_detector_run does that). */
    if (opt.detect.tile.rows || opt.detect.tile.cols)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED,
                       "%s: tiled detection runs one image at a time (leandet_detector_run), not in a pipeline",
                       leandet_model_path(model));
    ld_pipeline_layout lay;
    leandet_status st = ld_pipeline_layout_compute(model, &opt, &lay, err);
    if (st != LEANDET_OK)
        return st;
    ld_alloc a;
    ld_alloc_init(&a, opt.alloc);
    a.limit = opt.max_memory;
    leandet_pipeline *p = ld_calloc(&a, 1, sizeof *p);
    if (!p)
        return ld_fail(err, a.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                       "pipeline: cannot allocate its state%s", a.limit_hit ? " within the memory budget" : "");
    p->alloc = a;
    p->lay = lay;
    p->opt = opt;
    p->cb = callback;
    p->cb_user = user;
    atomic_init(&p->cancel, 0);
    st = alloc_buffers(p, err);
    if (st == LEANDET_OK && p->alloc.current != lay.total) /* the plan must be what was taken */
        st = ld_fail(err, LEANDET_ERR_INTERNAL, "pipeline: allocated %zu bytes, planned %zu", p->alloc.current,
                     lay.total);
    if (st == LEANDET_OK)
        st = create_sessions(p, model, err);
    if (st == LEANDET_OK)
        st = init_sync(p, err);
    if (st == LEANDET_OK)
        st = start_threads(p, err);
    if (st != LEANDET_OK) {
        leandet_pipeline_destroy(p);
        return st;
    }
    *out = p;
    return LEANDET_OK;
}

leandet_status leandet_pipeline_fit_size(const leandet_pipeline *p, int w, int h, int *fit_w, int *fit_h)
{
    if (!p || !fit_w || !fit_h || w <= 0 || h <= 0)
        return ld_fail(NULL, LEANDET_ERR_ARGUMENT, "leandet_pipeline_fit_size: invalid arguments");
    ld_letterbox g;
    ld_letterbox_compute(w, h, p->pre.width, p->pre.height, p->pre.mode, &g);
    *fit_w = g.content_w;
    *fit_h = g.content_h;
    return LEANDET_OK;
}

int leandet_pipeline_slots(const leandet_pipeline *p)
{
    return p ? p->lay.slots : 0;
}

size_t leandet_pipeline_memory_bytes(const leandet_pipeline *p)
{
    return p ? p->alloc.current + p->session_bytes : 0;
}

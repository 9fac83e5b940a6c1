/* The bounded queue (FIFO per producer, every item once, closing, try
 * variants) and the pipeline on the real photos: results in submission
 * order and identical to one image at a time through leandet_detector_run
 * (full decode, and the JPEG scaled decode), with 1 and 2 inference
 * sessions; bad inputs in the middle reported while the rest go on; poll
 * mode; every buffer allocated at creation; budget refusal; cancelling. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "image/image.h"
#include "leandet.h"
#include "pipeline/gate.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_internal.h"
#include "pipeline/queue.h"
#include "runtime/session_internal.h"

/* ------------------------------------------------------------------ */
/* Thread budget                                                        */

enum { GATE_CAPACITY = 3, GATE_THREADS = 6, GATE_ROUNDS = 3000 };

typedef struct gctx {
    ld_gate *g;
    atomic_int *inside;       /* units held now, counted by the holders */
    atomic_int *over;         /* times more than the capacity was held */
    int units;                /* 1, 2, or GATE_CAPACITY + 1 (clamped) */
} gctx;

static void *gate_worker(void *arg)
{
    gctx *c = arg;
    int held = c->units > GATE_CAPACITY ? GATE_CAPACITY : c->units;
    for (int i = 0; i < GATE_ROUNDS; i++) {
        ld_gate_enter(c->g, c->units);
        if (atomic_fetch_add(c->inside, held) + held > GATE_CAPACITY)
            atomic_fetch_add(c->over, 1);
        atomic_fetch_sub(c->inside, held);
        ld_gate_leave(c->g, c->units);
    }
    return NULL;
}

/* Workers wanting 1, 2 and more than all units never hold more than the
 * capacity together, and every one finishes (no starvation, no deadlock). */
static void test_gate(void)
{
    ld_gate g;
    leandet_error err = {0};
    CHECK(ld_gate_init(&g, GATE_CAPACITY, &err) == LEANDET_OK);
    atomic_int inside, over;
    atomic_init(&inside, 0);
    atomic_init(&over, 0);
    pthread_t t[GATE_THREADS];
    gctx c[GATE_THREADS];
    for (int i = 0; i < GATE_THREADS; i++) {
        c[i] = (gctx){&g, &inside, &over, i % 3 == 2 ? GATE_CAPACITY + 1 : 1 + i % 3};
        CHECK(pthread_create(&t[i], NULL, gate_worker, &c[i]) == 0);
    }
    for (int i = 0; i < GATE_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_MSG(atomic_load(&over) == 0, "the gate let more than %d units in, %d times", GATE_CAPACITY,
              atomic_load(&over));
    CHECK(g.busy == 0 && g.peak >= 1 && g.peak <= GATE_CAPACITY);
    ld_gate_destroy(&g);
    /* No budget: enter and leave do nothing. */
    CHECK(ld_gate_init(&g, 0, &err) == LEANDET_OK);
    ld_gate_enter(&g, 5);
    ld_gate_leave(&g, 5);
    CHECK(g.busy == 0 && g.peak == 0);
    ld_gate_destroy(&g);
}

/* ------------------------------------------------------------------ */
/* Queue                                                                */

enum { PRODUCERS = 3, CONSUMERS = 3, PER_PRODUCER = 2000 };

typedef struct qctx {
    ld_queue *q;
    int id;
    int order_ok;             /* consumer: each producer's items arrived increasing */
    int seen[PRODUCERS];      /* consumer: count per producer */
    unsigned char *hits;      /* shared: each item exactly once (own index per item) */
} qctx;

static void *producer(void *arg)
{
    qctx *c = arg;
    for (int i = 0; i < PER_PRODUCER; i++)
        if (ld_queue_push(c->q, (void *)(uintptr_t)(c->id * PER_PRODUCER + i + 1), 1) != LD_QUEUE_OK)
            break;
    return NULL;
}

static void *consumer(void *arg)
{
    qctx *c = arg;
    int last[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        last[i] = -1;
    c->order_ok = 1;
    void *item;
    while (ld_queue_pop(c->q, &item, 1) == LD_QUEUE_OK) {
        int v = (int)(uintptr_t)item - 1, prod = v / PER_PRODUCER, i = v % PER_PRODUCER;
        if (prod < 0 || prod >= PRODUCERS) {
            c->order_ok = 0;
            continue;
        }
        if (i <= last[prod])
            c->order_ok = 0;
        last[prod] = i;
        c->seen[prod]++;
        c->hits[v]++; /* distinct items per thread: no two consumers get one item */
    }
    return NULL;
}

static void test_queue_mpmc(void)
{
    void *storage[7]; /* small, so producers block often */
    ld_queue q;
    CHECK(ld_queue_init(&q, storage, 7, NULL) == LEANDET_OK);
    unsigned char *hits = calloc(PRODUCERS * PER_PRODUCER, 1);
    qctx prod[PRODUCERS], cons[CONSUMERS];
    pthread_t tp[PRODUCERS], tc[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        memset(&cons[i], 0, sizeof cons[i]);
        cons[i].q = &q;
        cons[i].hits = hits;
        pthread_create(&tc[i], NULL, consumer, &cons[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        memset(&prod[i], 0, sizeof prod[i]);
        prod[i].q = &q;
        prod[i].id = i;
        pthread_create(&tp[i], NULL, producer, &prod[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(tp[i], NULL);
    ld_queue_close(&q); /* consumers drain what is left, then stop */
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(tc[i], NULL);
    int once = 1, total = 0;
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        once &= hits[i] == 1;
    for (int i = 0; i < CONSUMERS; i++) {
        CHECK(cons[i].order_ok);
        for (int k = 0; k < PRODUCERS; k++)
            total += cons[i].seen[k];
    }
    CHECK(once);
    CHECK(total == PRODUCERS * PER_PRODUCER);
    CHECK(ld_queue_count(&q) == 0);
    free(hits);
    ld_queue_destroy(&q);
}

static void *blocked_pop(void *arg)
{
    void *item = NULL;
    return (void *)(intptr_t)ld_queue_pop(arg, &item, 1);
}

static void test_queue_close(void)
{
    void *storage[2];
    ld_queue q;
    CHECK(ld_queue_init(&q, storage, 0, NULL) == LEANDET_ERR_ARGUMENT);
    CHECK(ld_queue_init(&q, storage, 2, NULL) == LEANDET_OK);
    void *item = NULL;
    CHECK(ld_queue_pop(&q, &item, 0) == LD_QUEUE_WOULD_BLOCK);
    CHECK(ld_queue_push(&q, (void *)1, 0) == LD_QUEUE_OK);
    CHECK(ld_queue_push(&q, (void *)2, 0) == LD_QUEUE_OK);
    CHECK(ld_queue_push(&q, (void *)3, 0) == LD_QUEUE_WOULD_BLOCK);
    CHECK(ld_queue_pop(&q, &item, 0) == LD_QUEUE_OK && item == (void *)1);
    ld_queue_close(&q);
    CHECK(ld_queue_push(&q, (void *)4, 1) == LD_QUEUE_CLOSED);
    CHECK(ld_queue_pop(&q, &item, 1) == LD_QUEUE_OK && item == (void *)2); /* drains after close */
    CHECK(ld_queue_pop(&q, &item, 1) == LD_QUEUE_CLOSED);
    ld_queue_destroy(&q);

    /* A consumer blocked on an empty queue wakes up when it is closed. */
    CHECK(ld_queue_init(&q, storage, 2, NULL) == LEANDET_OK);
    pthread_t t;
    pthread_create(&t, NULL, blocked_pop, &q);
    ld_queue_close(&q);
    void *rc = NULL;
    pthread_join(t, &rc);
    CHECK((intptr_t)rc == LD_QUEUE_CLOSED);
    ld_queue_destroy(&q);
}

/* ------------------------------------------------------------------ */
/* Pipeline                                                             */

static const char *images[] = {"bus.jpg",  "cat.bmp",  "cat_720p.jpg", "face.jpg",
                               "grace_hopper.bmp", "pets.jpg", "zidane.jpg"};
enum { N_IMAGES = sizeof images / sizeof images[0], MAX_DET = 100, MAX_INPUTS = 16 };

typedef struct expect {
    int ok;
    int count;
    leandet_detection dets[MAX_DET];
    uint64_t input_hash; /* of the exact input tensor fed */
} expect;

static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Counting allocator: proves the pipeline allocates only in create. */
typedef struct counter {
    atomic_long calls;
    atomic_long live;
} counter;

static void *count_alloc(void *ctx, size_t size, size_t align)
{
    counter *c = ctx;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0)
        return NULL;
    atomic_fetch_add(&c->calls, 1);
    atomic_fetch_add(&c->live, 1);
    return p;
}

static void count_free(void *ctx, void *p)
{
    counter *c = ctx;
    if (p)
        atomic_fetch_sub(&c->live, 1);
    free(p);
}

/* One image at a time through the public detector, decoded at the scale
 * the pipeline picks (scaled) or at full size; records the detections and
 * the exact input tensor. */
static void reference_run(leandet_session *session, leandet_detector *det, const char *path, int scaled, int model_w,
                          int model_h, expect *e)
{
    memset(e, 0, sizeof *e);
    leandet_image img = {0};
    int denom = 1;
    if (scaled) {
        size_t n = 0;
        unsigned char *d = ld_test_read(path, &n);
        ld_image_info info;
        if (d && ld_image_probe(path, d, n, &info, NULL) == LEANDET_OK)
            denom = ld_image_pick_scale(&info, model_w, model_h);
        free(d);
    }
    if (ld_image_load_scaled(path, denom, NULL, &img, NULL) != LEANDET_OK)
        return;
    e->ok = leandet_detector_run(det, &img, e->dets, MAX_DET, &e->count, NULL) == LEANDET_OK;
    leandet_image_free(&img);
    size_t n = 0;
    const void *in = leandet_session_input(session, 0, &n);
    e->input_hash = fnv1a(in, n);
}

static int same_dets(const leandet_detection *a, int na, const leandet_detection *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i].class_id != b[i].class_id || a[i].score != b[i].score ||
            memcmp(a[i].box, b[i].box, sizeof a[i].box) != 0)
            return 0;
    return 1;
}

typedef struct run_log {
    int n;
    uint64_t index[MAX_INPUTS];
    void *user[MAX_INPUTS];
    leandet_status status[MAX_INPUTS];
    int error_names_input[MAX_INPUTS];
    int width[MAX_INPUTS], scale[MAX_INPUTS], count[MAX_INPUTS];
    uint64_t input_hash[MAX_INPUTS];
    leandet_detection dets[MAX_INPUTS][MAX_DET];
} run_log;

static void record(run_log *log, const leandet_pipeline_result *r)
{
    if (log->n >= MAX_INPUTS)
        return;
    int i = log->n++;
    log->index[i] = r->index;
    log->user[i] = r->user;
    log->status[i] = r->status;
    log->error_names_input[i] = r->status != LEANDET_OK && r->name[0] && strstr(r->error, r->name) != NULL;
    log->width[i] = r->width;
    log->scale[i] = r->decode_scale;
    log->count[i] = r->count;
    log->input_hash[i] = r->input ? fnv1a(r->input, r->input_bytes) : 0;
    if (r->count > 0 && r->count <= MAX_DET)
        memcpy(log->dets[i], r->detections, (size_t)r->count * sizeof *r->detections);
}

static void on_result(void *user, const leandet_pipeline_result *r) { record(user, r); }

/* The inputs: the 7 photos with two bad ones in the middle (a missing file
 * and a truncated JPEG in memory). Returns how many; bad[i] marks them. */
static int make_inputs(char paths[][512], leandet_pipeline_input *in, int *bad, const unsigned char *trunc,
                       size_t trunc_n)
{
    int n = 0;
    for (int i = 0; i < N_IMAGES; i++) {
        if (i == 3) {
            memset(&in[n], 0, sizeof in[n]);
            in[n].kind = LEANDET_INPUT_FILE;
            snprintf(paths[n], 512, "/nonexistent/leandet-missing.jpg");
            in[n].path = paths[n];
            bad[n++] = 1;
            memset(&in[n], 0, sizeof in[n]);
            in[n].kind = LEANDET_INPUT_ENCODED;
            in[n].path = "truncated.jpg";
            in[n].data = trunc;
            in[n].size = trunc_n;
            bad[n++] = 1;
        }
        memset(&in[n], 0, sizeof in[n]);
        in[n].kind = LEANDET_INPUT_FILE;
        ld_test_image(images[i], paths[n], 512);
        in[n].path = paths[n];
        bad[n++] = 0;
    }
    for (int i = 0; i < n; i++)
        in[i].user = (void *)(uintptr_t)(1000 + i);
    return n;
}

static void check_run(const char *what, const run_log *log, int n, const int *bad, const expect *want,
                      const int *image_of)
{
    CHECK_MSG(log->n == n, "%s: %d results for %d inputs", what, log->n, n);
    for (int i = 0; i < log->n && i < n; i++) {
        CHECK_MSG(log->index[i] == (uint64_t)i, "%s: result %d has index %llu", what, i,
                  (unsigned long long)log->index[i]);
        CHECK_MSG(log->user[i] == (void *)(uintptr_t)(1000 + i), "%s: result %d user pointer", what, i);
        if (bad[i]) {
            CHECK_MSG(log->status[i] != LEANDET_OK && log->error_names_input[i],
                      "%s: bad input %d: status %d, message names it: %d", what, i, log->status[i],
                      log->error_names_input[i]);
            continue;
        }
        const expect *e = &want[image_of[i]];
        CHECK_MSG(e->ok && log->status[i] == LEANDET_OK, "%s: %s failed", what, images[image_of[i]]);
        CHECK_MSG(log->input_hash[i] == e->input_hash, "%s: %s: the input tensor differs", what,
                  images[image_of[i]]);
        CHECK_MSG(same_dets(log->dets[i], log->count[i], e->dets, e->count),
                  "%s: %s: %d detections differ from detector_run's %d", what, images[image_of[i]], log->count[i],
                  e->count);
    }
}

typedef struct fixture {
    leandet_model *model;
    int w, h;
    expect full[N_IMAGES], scaled[N_IMAGES];
    unsigned char *trunc;
    size_t trunc_n;
} fixture;

static int fixture_init(fixture *f)
{
    char buf[512];
    memset(f, 0, sizeof *f);
    if (leandet_model_open(ld_test_model("ssd_mobilenet_v1_coco_quant.tflite", buf, sizeof buf), NULL, &f->model,
                           NULL) != LEANDET_OK)
        return 0;
    leandet_tensor_info in;
    leandet_model_input_info(f->model, 0, &in);
    f->h = in.dims[1];
    f->w = in.dims[2];
    leandet_session *s = NULL;
    leandet_detector *d = NULL;
    if (leandet_session_create(f->model, NULL, &s, NULL) != LEANDET_OK ||
        leandet_detector_create(s, NULL, &d, NULL) != LEANDET_OK)
        return 0;
    for (int i = 0; i < N_IMAGES; i++) {
        char path[512];
        ld_test_image(images[i], path, sizeof path);
        reference_run(s, d, path, 0, f->w, f->h, &f->full[i]);
        reference_run(s, d, path, 1, f->w, f->h, &f->scaled[i]);
        CHECK_MSG(f->full[i].ok && f->scaled[i].ok, "reference run on %s", images[i]);
    }
    leandet_detector_destroy(d);
    leandet_session_destroy(s);
    size_t n = 0;
    unsigned char *jpg = ld_test_read(ld_test_image("pets.jpg", buf, sizeof buf), &n);
    if (!jpg || n < 4000)
        return 0;
    f->trunc_n = n / 2;
    f->trunc = jpg;
    return 1;
}

static void test_pipeline_callback(fixture *f, int sessions, int scaled, int threads, int per_session)
{
    char what[96];
    snprintf(what, sizeof what, "callback, %d sessions of %d threads, budget %d, scaled %d", sessions, per_session,
             threads, scaled);
    counter cnt = {0};
    leandet_allocator alloc = {count_alloc, count_free, &cnt};
    leandet_pipeline_options o;
    leandet_pipeline_options_default(&o);
    o.sessions = sessions;
    o.threads_per_session = per_session;
    o.threads = threads;
    o.decode_workers = 2;
    o.prefetch = 1;
    o.scaled_decode = scaled;
    o.max_image_pixels = 1280 * 1080;
    o.alloc = &alloc;
    run_log *log = calloc(1, sizeof *log);
    leandet_pipeline *p = NULL;
    leandet_error err = {0};
    CHECK_MSG(leandet_pipeline_create(f->model, &o, on_result, log, &p, &err) == LEANDET_OK, "%s: %s", what,
              err.message);
    if (!p) {
        free(log);
        return;
    }
    CHECK(leandet_pipeline_slots(p) == sessions + 1);
    CHECK(leandet_pipeline_memory_bytes(p) > ld_pipeline_plan_bytes(f->model, &o));
    /* the first session packs the weights, the others run on them at once */
    for (int i = 1; i < sessions; i++)
        CHECK_MSG(p->infer[i].session->donor == p->infer[0].session &&
                      p->infer[i].session->alloc.current < p->infer[0].session->alloc.current,
                  "%s: session %d holds %zu bytes, the first %zu", what, i, p->infer[i].session->alloc.current,
                  p->infer[0].session->alloc.current);
    long calls_after_create = atomic_load(&cnt.calls);
    char paths[MAX_INPUTS][512];
    leandet_pipeline_input in[MAX_INPUTS];
    int bad[MAX_INPUTS], image_of[MAX_INPUTS];
    int n = make_inputs(paths, in, bad, f->trunc, f->trunc_n);
    for (int i = 0, k = 0; i < n; i++)
        image_of[i] = bad[i] ? -1 : k++;
    for (int i = 0; i < n; i++)
        CHECK(leandet_pipeline_submit(p, &in[i], &err) == LEANDET_OK);
    CHECK(leandet_pipeline_finish(p, &err) == LEANDET_OK);
    CHECK_MSG(atomic_load(&cnt.calls) == calls_after_create, "%s: %ld allocations while running", what,
              atomic_load(&cnt.calls) - calls_after_create);
    check_run(what, log, n, bad, scaled ? f->scaled : f->full, image_of);
    int any_scaled = 0;
    for (int i = 0; i < log->n; i++)
        any_scaled |= log->scale[i] > 1;
    CHECK_MSG(any_scaled == scaled, "%s: scaled JPEG decode used: %d", what, any_scaled);
    int peak = ld_pipeline_gate_peak(p);
    CHECK_MSG(threads ? peak >= 1 && peak <= threads : peak == 0, "%s: %d threads computing at once", what, peak);
    /* After finish, submitting is an error (not a hang). */
    CHECK(leandet_pipeline_submit(p, &in[0], &err) == LEANDET_ERR_ARGUMENT);
    leandet_pipeline_destroy(p);
    CHECK_MSG(atomic_load(&cnt.live) == 0, "%s: %ld blocks not freed", what, atomic_load(&cnt.live));
    free(log);
}

/* Poll mode, driven from one thread with try_submit; decoded and encoded
 * images in memory. */
static void test_pipeline_poll(fixture *f)
{
    leandet_pipeline_options o;
    leandet_pipeline_options_default(&o);
    o.prefetch = 0; /* one slot: every try_submit beyond it must wait for next() */
    o.scaled_decode = 0;
    leandet_pipeline *p = NULL;
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    leandet_image imgs[N_IMAGES];
    unsigned char *bytes[N_IMAGES];
    size_t sizes[N_IMAGES];
    leandet_pipeline_input in[2 * N_IMAGES];
    for (int i = 0; i < N_IMAGES; i++) {
        char path[512];
        ld_test_image(images[i], path, sizeof path);
        memset(&imgs[i], 0, sizeof imgs[i]);
        leandet_image_load(path, &imgs[i], NULL);
        bytes[i] = ld_test_read(path, &sizes[i]);
        memset(&in[2 * i], 0, 2 * sizeof in[0]);
        in[2 * i].kind = LEANDET_INPUT_IMAGE;
        in[2 * i].image = &imgs[i];
        in[2 * i].path = images[i];
        in[2 * i + 1].kind = LEANDET_INPUT_ENCODED;
        in[2 * i + 1].data = bytes[i];
        in[2 * i + 1].size = sizes[i];
    }
    int next_in = 0, got_n = 0, order_ok = 1, same = 1, refused = 0;
    while (got_n < 2 * N_IMAGES) {
        int accepted = 0;
        if (next_in < 2 * N_IMAGES) {
            CHECK(leandet_pipeline_try_submit(p, &in[next_in], &accepted, NULL) == LEANDET_OK);
            next_in += accepted;
            refused += !accepted;
            if (next_in == 2 * N_IMAGES)
                leandet_pipeline_finish(p, NULL);
        }
        leandet_pipeline_result r;
        int got = 0;
        CHECK(leandet_pipeline_next(p, !accepted, &r, &got, NULL) == LEANDET_OK);
        if (!got)
            continue;
        order_ok &= r.index == (uint64_t)got_n;
        const expect *e = &f->full[got_n / 2];
        same &= r.status == LEANDET_OK && same_dets(r.detections, r.count, e->dets, e->count) &&
                r.input && fnv1a(r.input, r.input_bytes) == e->input_hash;
        got_n++;
    }
    CHECK(order_ok);
    CHECK(same);
    CHECK(refused > 0); /* the single slot really pushed back */
    leandet_pipeline_result r;
    int got = 1;
    CHECK(leandet_pipeline_next(p, 1, &r, &got, NULL) == LEANDET_OK && got == 0); /* all taken */
    leandet_pipeline_destroy(p);
    for (int i = 0; i < N_IMAGES; i++) {
        leandet_image_free(&imgs[i]);
        free(bytes[i]);
    }
}

static void ignore_result(void *user, const leandet_pipeline_result *r)
{
    (void)r;
    atomic_fetch_add((atomic_int *)user, 1);
}

static void test_pipeline_limits(fixture *f)
{
    leandet_pipeline_options o;
    leandet_pipeline_options_default(&o);
    size_t plan = ld_pipeline_plan_bytes(f->model, &o);
    CHECK(plan > 0);
    leandet_pipeline *p = NULL;
    leandet_error err = {0};
    /* The pipeline's own buffers do not fit: refused before any thread. */
    o.max_memory = plan / 2;
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, &err) == LEANDET_ERR_BUDGET && !p);
    CHECK_MSG(strstr(err.message, "prefetch") != NULL, "message: %s", err.message);
    /* They fit, but leave nothing for the session. */
    o.max_memory = plan + 1000;
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, &err) == LEANDET_ERR_BUDGET && !p);
    CHECK_MSG(strstr(err.message, "sessions share") != NULL, "message: %s", err.message);
    /* Invalid options. */
    leandet_pipeline_options_default(&o);
    o.sessions = 0;
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, &err) == LEANDET_ERR_ARGUMENT);
    CHECK(ld_pipeline_plan_bytes(f->model, &o) == 0);
    leandet_pipeline_options_default(&o);
    o.prefetch = -1;
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, &err) == LEANDET_ERR_ARGUMENT);
    leandet_pipeline_options_default(&o);
    o.threads_per_session = 2;
    o.threads = 1; /* a budget smaller than one session */
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, &err) == LEANDET_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "thread budget") != NULL, "message: %s", err.message);
    /* A BMP's rows are resized as they decode: a buffer of 100x100 pixels
     * takes the 512x600 image, with the detections of the whole-image run. */
    leandet_pipeline_options_default(&o);
    o.max_image_pixels = 100 * 100;
    run_log *log = calloc(1, sizeof *log);
    CHECK(leandet_pipeline_create(f->model, &o, on_result, log, &p, &err) == LEANDET_OK);
    char path[512];
    leandet_pipeline_input in = {0};
    in.kind = LEANDET_INPUT_FILE;
    in.path = ld_test_image("grace_hopper.bmp", path, sizeof path); /* images[4] */
    CHECK(leandet_pipeline_submit(p, &in, &err) == LEANDET_OK);
    leandet_pipeline_finish(p, NULL);
    CHECK(log->n == 1 && log->status[0] == LEANDET_OK &&
          same_dets(log->dets[0], log->count[0], f->full[4].dets, f->full[4].count));
    leandet_pipeline_destroy(p);
    /* One smaller than two of its rows: the image fails alone, with a reason. */
    memset(log, 0, sizeof *log);
    o.max_image_pixels = 600;
    CHECK(leandet_pipeline_create(f->model, &o, on_result, log, &p, &err) == LEANDET_OK);
    CHECK(leandet_pipeline_submit(p, &in, &err) == LEANDET_OK);
    in.path = NULL;
    CHECK(leandet_pipeline_submit(p, &in, &err) == LEANDET_ERR_ARGUMENT); /* a file needs a path */
    leandet_pipeline_finish(p, NULL);
    CHECK(log->n == 1 && log->status[0] == LEANDET_ERR_BUDGET && log->error_names_input[0]);
    leandet_pipeline_destroy(p);
    free(log);
}

/* fit_size: the whole input when stretching; letterbox keeps the aspect
 * ratio (Ultralytics' rounding), and an image already of the fitted size
 * is placed unresampled (fitting it again changes nothing). */
static void test_pipeline_fit_size(fixture *f)
{
    leandet_pipeline_options o;
    leandet_pipeline_options_default(&o);
    leandet_pipeline *p = NULL;
    int w = 0, h = 0;
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, NULL) == LEANDET_OK);
    CHECK(leandet_pipeline_fit_size(p, 768, 432, &w, &h) == LEANDET_OK && w == f->w && h == f->h);
    CHECK(leandet_pipeline_fit_size(p, 0, 432, &w, &h) == LEANDET_ERR_ARGUMENT);
    leandet_pipeline_destroy(p);
    o.detect.resize = LEANDET_RESIZE_LETTERBOX;
    CHECK(leandet_pipeline_create(f->model, &o, NULL, NULL, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    /* 300 * 432 / 768 = 168.75 -> 169; 300 * 720 / 1280 = 168.75 -> 169 */
    CHECK(leandet_pipeline_fit_size(p, 768, 432, &w, &h) == LEANDET_OK && w == 300 && h == 169);
    CHECK(leandet_pipeline_fit_size(p, 100, 400, &w, &h) == LEANDET_OK && w == 75 && h == 300);
    int stable = 1;
    for (int sw = 1; sw < 2000; sw += 37)
        for (int sh = 1; sh < 2000; sh += 41) {
            int w2 = 0, h2 = 0;
            leandet_pipeline_fit_size(p, sw, sh, &w, &h);
            leandet_pipeline_fit_size(p, w, h, &w2, &h2);
            stable &= w2 == w && h2 == h && w <= f->w && h <= f->h && (w == f->w || h == f->h);
        }
    CHECK(stable);
    leandet_pipeline_destroy(p);
}

/* Destroy while inputs are in flight: no callback after destroy returns,
 * no leak, no hang (ASan and the CTest timeout check the rest). */
static void test_pipeline_cancel(fixture *f)
{
    leandet_pipeline_options o;
    leandet_pipeline_options_default(&o);
    o.sessions = 2;
    atomic_int delivered = 0;
    leandet_pipeline *p = NULL;
    CHECK(leandet_pipeline_create(f->model, &o, ignore_result, &delivered, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    char path[512];
    leandet_pipeline_input in = {0};
    in.kind = LEANDET_INPUT_FILE;
    in.path = ld_test_image("pets.jpg", path, sizeof path);
    for (int i = 0; i < leandet_pipeline_slots(p); i++)
        CHECK(leandet_pipeline_submit(p, &in, NULL) == LEANDET_OK);
    leandet_pipeline_destroy(p);
    CHECK(atomic_load(&delivered) <= 4);
}

int main(void)
{
    test_gate();
    test_queue_mpmc();
    test_queue_close();
    fixture f;
    if (!fixture_init(&f)) {
        CHECK_MSG(0, "cannot load the SSD model or the test images (LEANDET_MODELS, LEANDET_IMAGES)");
        return ld_test_finish();
    }
    test_pipeline_callback(&f, 1, 0, 0, 1);
    test_pipeline_callback(&f, 2, 1, 2, 1);
    test_pipeline_callback(&f, 1, 0, 2, 2); /* the session's 2 units vs 2 decoders' 1 */
    test_pipeline_poll(&f);
    test_pipeline_limits(&f);
    test_pipeline_fit_size(&f);
    test_pipeline_cancel(&f);
    free(f.trunc);
    leandet_model_close(f.model);
    return ld_test_finish();
}

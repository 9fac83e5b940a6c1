/* Sessions on every real model: create, invoke twice with no heap call
 * during invoke, deterministic outputs, several sessions sharing one model,
 * unsupported ops refused at creation, OOM injection and budget refusal. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leandet.h"
#include "runtime/session_internal.h"

/* --wrap'd allocation entry points: count calls made while `counting`. */
static int counting;
static long heap_calls;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_malloc(size_t n) { heap_calls += counting; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { heap_calls += counting; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { heap_calls += counting; return __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { heap_calls += counting; return __real_posix_memalign(p, a, n); }

static const char *models[] = {
    "ssd_mobilenet_v1_coco_quant.tflite", "face_detection_front.tflite", "face_detection_short_range.tflite",
    "palm_detection_lite.tflite", "yolov8n_full_integer_quant.tflite", "yolov5n-fp16.tflite",
};

static void fill(leandet_session *s, unsigned seed)
{
    size_t n = 0;
    unsigned char *p = leandet_session_input(s, 0, &n);
    leandet_tensor_info info;
    leandet_model_input_info(s->model, 0, &info);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
    if (info.type == LEANDET_FLOAT32) /* keep floats finite and in a normal range */
        for (size_t i = 0; i + 4 <= n; i += 4) {
            float v = (float)p[i] / 127.5f - 1.0f;
            memcpy(p + i, &v, 4);
        }
}

static void check_model(const char *file)
{
    char path[1024];
    leandet_error err = {0};
    leandet_model *m = NULL;
    ld_test_model(file, path, sizeof path);
    CHECK_MSG(leandet_model_open(path, NULL, &m, &err) == LEANDET_OK, "%s", err.message);
    if (!m)
        return;
    leandet_session *a = NULL, *b = NULL;
    CHECK_MSG(leandet_session_create(m, NULL, &a, &err) == LEANDET_OK, "%s: %s", file, err.message);
    /* b shares a's packed and folded weights: same outputs, no weights of its own */
    leandet_session_options so;
    memset(&so, 0, sizeof so);
    so.share_weights = a;
    CHECK_MSG(leandet_session_create(m, &so, &b, &err) == LEANDET_OK, "%s: %s", file, err.message);
    if (a && b) {
        leandet_plan_report ra, rb;
        leandet_session_plan(a, &ra);
        leandet_session_plan(b, &rb);
        /* what stays is per-session state of optimized kernels: tables, fused ops */
        CHECK_MSG(rb.bytes[LEANDET_MEM_PACKED] <= ra.bytes[LEANDET_MEM_PACKED] / 16 && rb.bytes[LEANDET_MEM_FOLDED] == 0,
                  "%s: the sharing session plans %zu packed, %zu folded bytes", file, rb.bytes[LEANDET_MEM_PACKED],
                  rb.bytes[LEANDET_MEM_FOLDED]);
        const size_t weights = ra.bytes[LEANDET_MEM_PACKED] - rb.bytes[LEANDET_MEM_PACKED] + ra.bytes[LEANDET_MEM_FOLDED];
        /* the report rounds blocks up (pages for mapped ones); b holds those weights less, within 5% */
        CHECK_MSG(b->alloc.current + weights - weights / 20 <= a->alloc.current,
                  "%s: sharing holds %zu bytes, its donor %zu with %zu of weights", file, b->alloc.current,
                  a->alloc.current, weights);
        int shared = 0;
        for (int i = 0; i < a->model->desc.n_ops; i++)
            shared += b->ops[i].borrowed && b->ops[i].ctx.state && b->ops[i].ctx.state == a->ops[i].ctx.state;
        CHECK_MSG(!ra.bytes[LEANDET_MEM_PACKED] || shared > 0, "%s: no op state shared", file);
    }
    if (a && b) {
        fill(a, 7);
        fill(b, 7);
        heap_calls = 0;
        counting = 1;
        leandet_status sa = leandet_session_invoke(a, &err);
        leandet_status sb = leandet_session_invoke(b, &err);
        counting = 0;
        CHECK_MSG(sa == LEANDET_OK && sb == LEANDET_OK, "%s: %s", file, err.message);
        CHECK_MSG(heap_calls == 0, "%s: invoke made %ld heap calls", file, heap_calls);
        for (int i = 0; i < leandet_model_num_outputs(m); i++) {
            size_t na, nb;
            const void *oa = leandet_session_output(a, i, &na);
            const void *ob = leandet_session_output(b, i, &nb);
            CHECK_MSG(oa && ob && na == nb && memcmp(oa, ob, na) == 0, "%s: sessions disagree on output %d", file, i);
        }
    }
    leandet_session_destroy(a);
    leandet_session_destroy(b);
    leandet_model_close(m);
}

/* Sessions sharing weights refuse what they cannot share, and a session
 * sharing from a sharer takes the first one's weights. */
static void check_share_refusals(void)
{
    char path[1024];
    leandet_error err = {0};
    leandet_model *m = NULL, *m2 = NULL;
    ld_test_model("yolov5n-fp16.tflite", path, sizeof path);
    CHECK_MSG(leandet_model_open(path, NULL, &m, &err) == LEANDET_OK, "%s", err.message);
    CHECK_MSG(leandet_model_open(path, NULL, &m2, &err) == LEANDET_OK, "%s", err.message);
    leandet_session *a = NULL, *b = NULL, *c = NULL;
    CHECK_MSG(leandet_session_create(m, NULL, &a, &err) == LEANDET_OK, "%s", err.message);
    leandet_session_options o;
    memset(&o, 0, sizeof o);
    o.share_weights = a;
    o.backend = LEANDET_BACKEND_REFERENCE;
    CHECK(leandet_session_create(m, &o, &b, &err) == LEANDET_ERR_ARGUMENT && !b);
    CHECK_MSG(strstr(err.message, "share_weights") != NULL, "%s", err.message);
    o.backend = LEANDET_BACKEND_AUTO;
    o.batch = 2;
    CHECK(leandet_session_create(m, &o, &b, &err) == LEANDET_ERR_ARGUMENT && !b);
    o.batch = 0;
    CHECK(m2 && leandet_session_create(m2, &o, &b, &err) == LEANDET_ERR_ARGUMENT && !b);
    CHECK_MSG(leandet_session_create(m, &o, &b, &err) == LEANDET_OK, "%s", err.message);
    o.share_weights = b;
    CHECK_MSG(leandet_session_create(m, &o, &c, &err) == LEANDET_OK, "%s", err.message);
    CHECK(c && b && c->donor == a && b->donor == a);
    leandet_session_destroy(c);
    leandet_session_destroy(b);
    leandet_session_destroy(a);
    leandet_model_close(m2);
    leandet_model_close(m);
}

static void check_unsupported(void)
{
    char path[1024];
    leandet_error err = {0};
    leandet_model *m = NULL;
    ld_test_model("face_detection_front.tflite", path, sizeof path);
    if (leandet_model_open(path, NULL, &m, &err) != LEANDET_OK)
        return;
    ld_model_desc *d = &m->desc; /* test-only mutation of a private copy */
    int saved = d->ops[3].builtin;
    d->ops[3].builtin = 133; /* a builtin leandet does not implement */
    leandet_session *s = NULL;
    leandet_status st = leandet_session_create(m, NULL, &s, &err);
    CHECK(st == LEANDET_ERR_UNSUPPORTED && s == NULL);
    CHECK_MSG(strstr(err.message, "op 3") && strstr(err.message, "face_detection_front.tflite"), "%s", err.message);
    d->ops[3].builtin = saved;
    leandet_model_close(m);
}

/* Every allocation a session makes fails once in turn: each failure is a
 * clean error and the allocator balance returns to zero. */
typedef struct { long n, fail_at; size_t live; } oom_ctx;
static void *oom_alloc(void *ctx, size_t size, size_t align)
{
    oom_ctx *c = ctx;
    if (c->n++ == c->fail_at)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
    c->live++;
    return p;
}
static void oom_free(void *ctx, void *p)
{
    oom_ctx *c = ctx;
    if (p)
        c->live--;
    free(p);
}

static void check_oom(void)
{
    char path[1024];
    leandet_error err = {0};
    leandet_model *m = NULL;
    ld_test_model("ssd_mobilenet_v1_coco_quant.tflite", path, sizeof path);
    if (leandet_model_open(path, NULL, &m, &err) != LEANDET_OK)
        return;
    int failures = 0, leaks = 0;
    for (long k = 0; k < 10000; k++) {
        oom_ctx c = {0, k, 0};
        leandet_allocator al = {oom_alloc, oom_free, &c};
        leandet_session_options o = {0};
        o.alloc = &al;
        leandet_session *s = NULL;
        leandet_status st = leandet_session_create(m, &o, &s, &err);
        if (st == LEANDET_OK) {
            leandet_session_destroy(s);
            leaks += c.live != 0;
            break;
        }
        failures++;
        if (st != LEANDET_ERR_NO_MEMORY || c.live != 0)
            leaks++;
    }
    CHECK_MSG(failures > 3, "only %d allocation sites exercised", failures);
    CHECK_MSG(leaks == 0, "%d OOM runs leaked or mis-reported", leaks);
    leandet_model_close(m);
}

static void check_budget(void)
{
    char path[1024];
    leandet_error err = {0};
    leandet_model *m = NULL;
    ld_test_model("ssd_mobilenet_v1_coco_quant.tflite", path, sizeof path);
    if (leandet_model_open(path, NULL, &m, &err) != LEANDET_OK)
        return;
    leandet_session_options o = {0};
    o.max_memory = 100 * 1024;
    leandet_session *s = NULL;
    leandet_status st = leandet_session_create(m, &o, &s, &err);
    CHECK_MSG(st == LEANDET_ERR_BUDGET, "status %d: %s", st, err.message);
    CHECK_MSG(strstr(err.message, "budget") != NULL, "%s", err.message);
    CHECK(s == NULL);
    leandet_model_close(m);
}

int main(void)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        check_model(models[i]);
    check_share_refusals();
    check_unsupported();
    check_oom();
    check_budget();
    return ld_test_finish();
}

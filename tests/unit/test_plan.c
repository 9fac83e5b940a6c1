/* The memory plan on every real model: in-place aliasing changes no output,
 * release/re-acquire gives the same outputs, every allocation site of
 * session creation and of the first invoke fails cleanly once in turn,
 * the budget refuses before the arena exists and bounds what is allocated,
 * the report adds up, and 1,000 invokes keep the resident set flat. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/plan.h"
#include "harness.h"
#include "leandet.h"
#include "runtime/session_internal.h"

static const char *models[] = {
    "ssd_mobilenet_v1_coco_quant.tflite", "face_detection_front.tflite", "face_detection_short_range.tflite",
    "palm_detection_lite.tflite", "yolov8n_full_integer_quant.tflite", "yolov5n-fp16.tflite",
};
#define N_MODELS (int)(sizeof models / sizeof models[0])

static leandet_model *open_model(const char *file)
{
    char path[1024];
    leandet_error err = {0};
    leandet_model *m = NULL;
    ld_test_model(file, path, sizeof path);
    CHECK_MSG(leandet_model_open(path, NULL, &m, &err) == LEANDET_OK, "%s", err.message);
    return m;
}

/* Deterministic input; floats kept finite and in [-1, 1]. */
static void fill(leandet_session *s, unsigned seed)
{
    size_t n = 0;
    unsigned char *p = leandet_session_input(s, 0, &n);
    leandet_tensor_info info;
    leandet_model_input_info(s->model, 0, &info);
    for (size_t i = 0; p && i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
    if (p && info.type == LEANDET_FLOAT32)
        for (size_t i = 0; i + 4 <= n; i += 4) {
            float v = (float)p[i] / 127.5f - 1.0f;
            memcpy(p + i, &v, 4);
        }
}

/* All outputs of `s` concatenated (malloc'd), for comparisons. */
static unsigned char *outputs(const leandet_session *s, size_t *total)
{
    size_t sum = 0, n;
    for (int i = 0; i < leandet_model_num_outputs(s->model); i++)
        sum += (leandet_session_output(s, i, &n), n);
    unsigned char *buf = malloc(sum ? sum : 1), *p = buf;
    for (int i = 0; buf && i < leandet_model_num_outputs(s->model); i++) {
        const void *o = leandet_session_output(s, i, &n);
        if (o)
            memcpy(p, o, n);
        p += n;
    }
    *total = sum;
    return buf;
}

static unsigned char *run_once(leandet_session *s, unsigned seed, size_t *n)
{
    leandet_error err = {0};
    fill(s, seed);
    leandet_status st = leandet_session_invoke(s, &err);
    CHECK_MSG(st == LEANDET_OK, "%s", err.message);
    return st == LEANDET_OK ? outputs(s, n) : NULL;
}

/* ---- aliasing --------------------------------------------------------- */

static void check_alias(const char *file)
{
    leandet_model *m = open_model(file);
    if (!m)
        return;
    leandet_error err = {0};
    leandet_session *a = NULL, *b = NULL;
    leandet_plan_report ra, rb;
    leandet_session_options oa = {0}, ob = {0};
    oa.report = &ra;
    ob.report = &rb;
    ob.no_inplace = 1;
    CHECK_MSG(leandet_session_create(m, &oa, &a, &err) == LEANDET_OK, "%s: %s", file, err.message);
    CHECK_MSG(leandet_session_create(m, &ob, &b, &err) == LEANDET_OK, "%s: %s", file, err.message);
    if (a && b) {
        /* Every model here has RESHAPE ops whose input dies there; the plan
         * shares their bytes unless that lays the arena out larger (best
         * fit is greedy), when it is the plain plan. */
        CHECK_MSG(rb.n_aliased == 0 && (ra.n_aliased > 0 || ra.arena_bytes == rb.arena_bytes),
                  "%s: aliased %d / %d, arena %zu / %zu", file, ra.n_aliased, rb.n_aliased, ra.arena_bytes,
                  rb.arena_bytes);
        int shared = 0;
        for (int i = 0; i < m->desc.n_ops; i++) {
            const ld_op_ctx *c = &a->ops[i].ctx;
            if (ld_op_is_reshape_like(c->op->builtin) && c->in[0]->data == c->out[0]->data)
                shared++;
        }
        CHECK_MSG(shared == ra.n_aliased, "%s: %d reshapes share bytes, plan says %d", file, shared, ra.n_aliased);
        CHECK_MSG(ra.arena_bytes <= rb.arena_bytes, "%s: aliasing grew the arena %zu > %zu", file, ra.arena_bytes,
                  rb.arena_bytes);
        size_t na = 0, nb = 0;
        unsigned char *oa_ = run_once(a, 11, &na), *ob_ = run_once(b, 11, &nb);
        CHECK_MSG(oa_ && ob_ && na == nb && memcmp(oa_, ob_, na) == 0, "%s: outputs differ with aliasing", file);
        free(oa_);
        free(ob_);
    }
    leandet_session_destroy(a);
    leandet_session_destroy(b);
    leandet_model_close(m);
}

/* Four ops over five 1000-byte tensors, tensor 0 in, tensor 4 out. */
static ld_model_desc chain_graph(ld_op_desc *ops, int32_t *gin, int32_t *gout)
{
    ld_model_desc d;
    memset(&d, 0, sizeof d);
    d.n_tensors = 5;
    d.n_ops = 4;
    d.ops = ops;
    d.n_inputs = d.n_outputs = 1;
    d.inputs = gin;
    d.outputs = gout;
    return d;
}

/* A synthetic graph: input -> CONV -> t1 -> RESHAPE -> t2 -> RESHAPE -> t3
 * -> ADD(t3, t1?) -> t4 (output). When t1 is read again by the ADD it does
 * not die at the first reshape, so only the second one may alias. */
static void check_alias_rules(void)
{
    for (int reuse = 0; reuse < 2; reuse++) {
        ld_tensor t[5];
        memset(t, 0, sizeof t);
        for (int i = 0; i < 5; i++)
            t[i].bytes = 1000;
        int32_t i0[] = {0}, o0[] = {1}, i1[] = {1}, o1[] = {2}, i2[] = {2}, o2[] = {3}, i3[] = {3, 1}, o3[] = {4};
        ld_op_desc ops[4];
        memset(ops, 0, sizeof ops);
        ops[0] = (ld_op_desc){.builtin = LD_OP_CONV_2D, .n_inputs = 1, .n_outputs = 1, .inputs = i0, .outputs = o0};
        ops[1] = (ld_op_desc){.builtin = LD_OP_RESHAPE, .n_inputs = 1, .n_outputs = 1, .inputs = i1, .outputs = o1};
        ops[2] = (ld_op_desc){.builtin = LD_OP_RESHAPE, .n_inputs = 1, .n_outputs = 1, .inputs = i2, .outputs = o2};
        ops[3] = (ld_op_desc){.builtin = LD_OP_ADD, .n_inputs = reuse ? 2 : 1, .n_outputs = 1, .inputs = i3,
                              .outputs = o3};
        int32_t gin[] = {0}, gout[] = {4};
        ld_model_desc d = chain_graph(ops, gin, gout);
        uint8_t may[4] = {0, 1, 1, 0};
        ld_plan_config cfg = {0, 0, may, NULL};
        ld_alloc al;
        ld_alloc_init(&al, NULL);
        ld_arena_plan p;
        leandet_error err = {0};
        CHECK_MSG(ld_arena_plan_build(&d, t, &cfg, &al, "synthetic", &p, &err) == LEANDET_OK, "%s", err.message);
        if (reuse) {
            CHECK(p.n_aliased == 1 && p.item_of[1] != p.item_of[2] && p.item_of[2] == p.item_of[3]);
            CHECK(p.items[p.item_of[1]].last == 3); /* t1 lives to the ADD */
        } else {
            CHECK(p.n_aliased == 2 && p.item_of[1] == p.item_of[2] && p.item_of[2] == p.item_of[3]);
            CHECK(p.items[p.item_of[1]].first == 0 && p.items[p.item_of[1]].last == 3);
        }
        /* Shared buffers never overlap a live neighbour: input, chain, output. */
        CHECK(p.item_of[0] != p.item_of[1] && p.item_of[4] != p.item_of[3]);
        CHECK(p.naive_bytes == 5000);
        ld_arena_plan_free(&p, &al);
        CHECK(al.current == 0);
    }
}

/* A fused producer: input -> CONV -> t1 -> ADD(t1, t0) -> t2 -> CONV -> t3
 * -> RELU -> t4, the ADD done by the RELU's fused kernel (read_until[1] =
 * 3). The ADD's inputs must stay live until op 3, so t3 and t4 (born
 * later) may not take their bytes, and t2 gets none; without read_until t1
 * dies at op 1. */
static void check_read_until(void)
{
    for (int fused = 0; fused < 2; fused++) {
        ld_tensor t[5];
        memset(t, 0, sizeof t);
        for (int i = 0; i < 5; i++)
            t[i].bytes = 1000;
        int32_t i0[] = {0}, o0[] = {1}, i1[] = {1, 0}, o1[] = {2}, i2[] = {2}, o2[] = {3}, i3[] = {3}, o3[] = {4};
        ld_op_desc ops[4];
        memset(ops, 0, sizeof ops);
        ops[0] = (ld_op_desc){.builtin = LD_OP_CONV_2D, .n_inputs = 1, .n_outputs = 1, .inputs = i0, .outputs = o0};
        ops[1] = (ld_op_desc){.builtin = LD_OP_ADD, .n_inputs = 2, .n_outputs = 1, .inputs = i1, .outputs = o1};
        ops[2] = (ld_op_desc){.builtin = LD_OP_CONV_2D, .n_inputs = 1, .n_outputs = 1, .inputs = i2, .outputs = o2};
        ops[3] = (ld_op_desc){.builtin = LD_OP_RELU, .n_inputs = 1, .n_outputs = 1, .inputs = i3, .outputs = o3};
        int32_t gin[] = {0}, gout[] = {4};
        ld_model_desc d = chain_graph(ops, gin, gout);
        int32_t until[4] = {-1, 3, -1, -1};
        ld_plan_config cfg = {0, 0, NULL, fused ? until : NULL};
        ld_alloc al;
        ld_alloc_init(&al, NULL);
        ld_arena_plan p;
        leandet_error err = {0};
        CHECK_MSG(ld_arena_plan_build(&d, t, &cfg, &al, "synthetic", &p, &err) == LEANDET_OK, "%s", err.message);
        const ld_plan_item *t1 = &p.items[p.item_of[1]];
        CHECK(t1->last == (fused ? 3 : 1));
        CHECK((p.item_of[2] < 0) == fused); /* the ADD's own output: never written */
        for (int k = 3; fused && k <= 4; k++) {
            const ld_plan_item *later = &p.items[p.item_of[k]];
            CHECK_MSG(later->offset + later->size <= t1->offset || t1->offset + t1->size <= later->offset,
                      "t%d overlaps the fused ADD's input t1", k);
        }
        ld_arena_plan_free(&p, &al);
        CHECK(al.current == 0);
    }
}

/* ---- release / re-acquire ------------------------------------------- */

static void check_release(const char *file)
{
    leandet_model *m = open_model(file);
    if (!m)
        return;
    leandet_error err = {0};
    leandet_session *s = NULL;
    CHECK_MSG(leandet_session_create(m, NULL, &s, &err) == LEANDET_OK, "%s: %s", file, err.message);
    if (s) {
        size_t n1 = 0, n2 = 0, n3 = 0;
        unsigned char *first = run_once(s, 5, &n1);
        size_t held = s->alloc.current, arena = s->arena_bytes + s->scratch_bytes;
        leandet_session_release(s);
        CHECK_MSG(s->alloc.current + arena == held, "%s: release freed %zu of %zu", file, held - s->alloc.current,
                  arena);
        CHECK(leandet_session_output(s, 0, NULL) == NULL);
        unsigned char *second = run_once(s, 5, &n2); /* input() re-acquires */
        CHECK(s->alloc.current == held);
        leandet_session_release(s);
        leandet_session_release(s); /* twice is harmless */
        CHECK(leandet_session_invoke(s, &err) == LEANDET_OK); /* invoke re-acquires by itself */
        unsigned char *third = run_once(s, 5, &n3);
        CHECK_MSG(first && second && third && n1 == n2 && n1 == n3 && memcmp(first, second, n1) == 0 &&
                      memcmp(first, third, n1) == 0,
                  "%s: outputs changed after release", file);
        free(first);
        free(second);
        free(third);
    }
    leandet_session_destroy(s);
    leandet_model_close(m);
}

/* ---- OOM injection -------------------------------------------------- */

typedef struct {
    long n, fail_at;
    size_t live, largest;
} oom_ctx;

static void *oom_alloc(void *ctx, size_t size, size_t align)
{
    oom_ctx *c = ctx;
    if (c->n++ == c->fail_at)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
    c->live++;
    if (size > c->largest)
        c->largest = size;
    return p;
}

static void oom_free(void *ctx, void *p)
{
    oom_ctx *c = ctx;
    if (p)
        c->live--;
    free(p);
}

/* Create, release, then the first invoke re-acquires: allocation k fails. */
static leandet_status oom_run(const leandet_model *m, oom_ctx *c, size_t max_memory, unsigned char **out, size_t *n)
{
    leandet_allocator al = {oom_alloc, oom_free, c};
    leandet_session_options o = {0};
    o.alloc = &al;
    o.max_memory = max_memory;
    leandet_session *s = NULL;
    leandet_error err = {0};
    leandet_status st = leandet_session_create(m, &o, &s, &err);
    if (st == LEANDET_OK) {
        leandet_session_release(s);
        st = leandet_session_invoke(s, &err);
        if (st == LEANDET_OK) {
            fill(s, 3);
            st = leandet_session_invoke(s, &err);
        }
        if (st == LEANDET_OK && out)
            *out = outputs(s, n);
    }
    CHECK_MSG(st == LEANDET_OK || err.message[0], "status %d without a message", st);
    leandet_session_destroy(s);
    return st;
}

static void check_oom(const char *file, size_t max_memory)
{
    leandet_model *m = open_model(file);
    if (!m)
        return;
    oom_ctx ref = {0, -1, 0, 0};
    unsigned char *expect = NULL;
    size_t n_expect = 0;
    CHECK(oom_run(m, &ref, max_memory, &expect, &n_expect) == LEANDET_OK);
    long sites = ref.n;
    int bad = 0, failures = 0;
    for (long k = 0; k < sites; k++) {
        oom_ctx c = {0, k, 0, 0};
        leandet_status st = oom_run(m, &c, max_memory, NULL, NULL);
        failures += st != LEANDET_OK;
        if (st != LEANDET_ERR_NO_MEMORY || c.live != 0) {
            fprintf(stderr, "%s: allocation %ld of %ld: status %d, %zu blocks leaked\n", file, k, sites, st, c.live);
            bad++;
        }
        /* The next run on the same model works and gives the same outputs. */
        if (k % 8 == 0 || k == sites - 1) {
            oom_ctx again = {0, -1, 0, 0};
            unsigned char *got = NULL;
            size_t n = 0;
            CHECK(oom_run(m, &again, max_memory, &got, &n) == LEANDET_OK && again.live == 0);
            CHECK(got && n == n_expect && memcmp(got, expect, n) == 0);
            free(got);
        }
    }
    CHECK_MSG(sites > 5 && failures == sites, "%s: %ld allocation sites, %d failed", file, sites, failures);
    CHECK_MSG(bad == 0, "%s: %d injected failures were not clean", file, bad);
    free(expect);
    leandet_model_close(m);
}

/* ---- budget --------------------------------------------------------- */

static void check_budget(const char *file)
{
    leandet_model *m = open_model(file);
    if (!m)
        return;
    leandet_error err = {0};
    leandet_plan_report plan;
    leandet_session_options o = {0};
    o.count_model = 1;
    o.process_bytes = 3u << 20;
    o.image_bytes = 1u << 20;
    CHECK_MSG(leandet_plan_model(m, &o, &plan, &err) == LEANDET_OK, "%s", err.message);
    size_t sum = 0;
    for (int c = 0; c < LEANDET_MEM_COUNT; c++)
        sum += plan.bytes[c];
    CHECK(sum == plan.total_bytes && plan.fits);
    CHECK(plan.bytes[LEANDET_MEM_PROCESS] == o.process_bytes && plan.bytes[LEANDET_MEM_IMAGE] == o.image_bytes);
    CHECK(plan.bytes[LEANDET_MEM_MODEL_FILE] >= 200000 && plan.bytes[LEANDET_MEM_ARENA] >= plan.arena_bytes);
    CHECK(plan.peak_live_bytes <= plan.arena_bytes && plan.arena_bytes <= plan.naive_bytes);
    CHECK(plan.macs > 0 && plan.n_ops == m->desc.n_ops);

    /* One byte short: refused, and the arena was never asked for. */
    oom_ctx c = {0, -1, 0, 0};
    leandet_allocator al = {oom_alloc, oom_free, &c};
    leandet_plan_report r;
    leandet_session *s = NULL;
    o.alloc = &al;
    o.report = &r;
    o.max_memory = plan.total_bytes - 1;
    leandet_status st = leandet_session_create(m, &o, &s, &err);
    CHECK_MSG(st == LEANDET_ERR_BUDGET && !s, "%s: status %d", file, st);
    CHECK_MSG(strstr(err.message, "arena") && strstr(err.message, "would fit"), "%s", err.message);
    CHECK(!r.fits && r.total_bytes == plan.total_bytes && c.live == 0);
    CHECK_MSG(c.largest < plan.arena_bytes, "%s: refused after allocating %zu bytes (arena %zu)", file, c.largest,
              plan.arena_bytes);

    /* Exactly enough: created, and the allocator never went past its share. */
    o.max_memory = plan.total_bytes;
    st = leandet_session_create(m, &o, &s, &err);
    CHECK_MSG(st == LEANDET_OK, "%s: %s", file, err.message);
    if (s) {
        CHECK(r.fits && s->alloc.limit > 0 && s->alloc.peak <= s->alloc.limit);
        leandet_plan_report live;
        CHECK(leandet_session_plan(s, &live) == LEANDET_OK && live.total_bytes == plan.total_bytes);
        leandet_session_destroy(s);
    }
    CHECK(c.live == 0);

    /* Hopeless: the caller's share alone is over the budget. */
    o.max_memory = o.process_bytes / 2;
    st = leandet_session_create(m, &o, &s, &err);
    CHECK_MSG(st == LEANDET_ERR_BUDGET && !s && c.live == 0, "%s: status %d", file, st);
    leandet_model_close(m);
}

/* Batch N scales the activations; keep_all_tensors costs the naive sum. */
static void check_batch_and_keep_all(void)
{
    leandet_model *m = open_model("face_detection_front.tflite");
    if (!m)
        return;
    leandet_error err = {0};
    leandet_plan_report r1, r2, rk;
    leandet_session_options o = {0};
    CHECK(leandet_plan_model(m, &o, &r1, &err) == LEANDET_OK);
    o.batch = 2;
    CHECK_MSG(leandet_plan_model(m, &o, &r2, &err) == LEANDET_OK, "%s", err.message);
    CHECK_MSG(r2.batch == 2 && r2.arena_bytes >= r1.arena_bytes * 19 / 10, "arena %zu at batch 2, %zu at 1",
              r2.arena_bytes, r1.arena_bytes);
    o.batch = 0;
    o.keep_all_tensors = 1;
    CHECK(leandet_plan_model(m, &o, &rk, &err) == LEANDET_OK);
    CHECK(rk.arena_bytes >= rk.naive_bytes && rk.n_aliased == 0);
    leandet_model_close(m);
}

/* ---- resident set over 1,000 invokes ----------------------------------- */

static size_t resident(void)
{
    return leandet_process_resident_bytes();
}

/* Anonymous resident bytes (heap, stacks, arena): what a leak or growth
 * would raise. File-backed pages (code of a rarely taken libm path, say)
 * can still arrive late without anything growing. */
static size_t resident_anon(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %zu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* 1,000 invokes; a sanitizer build (10x slower per invoke, and there to
 * find leaks rather than to measure) runs 200 to keep the suite fast. */
#if defined(__SANITIZE_ADDRESS__)
#define LOOP_INVOKES 200
#else
#define LOOP_INVOKES 1000
#endif

static void check_flat_rss(void)
{
    leandet_model *m = open_model("face_detection_front.tflite");
    if (!m)
        return;
    leandet_error err = {0};
    leandet_session *s = NULL;
    CHECK_MSG(leandet_session_create(m, NULL, &s, &err) == LEANDET_OK, "%s", err.message);
    if (s) {
        for (int i = 0; i < 100; i++) /* warm-up: every arena page and code path touched */
            fill(s, (unsigned)i), leandet_session_invoke(s, &err);
        size_t before = resident(), anon_before = resident_anon(), heap = s->alloc.current;
        int failed = 0;
        for (int i = 0; i < LOOP_INVOKES; i++) {
            fill(s, (unsigned)i);
            failed += leandet_session_invoke(s, &err) != LEANDET_OK;
        }
        size_t after = resident(), anon_after = resident_anon();
        CHECK(failed == 0 && before > 0 && s->alloc.current == heap);
        CHECK_MSG(anon_after <= anon_before + anon_before / 100 && anon_after + anon_before / 100 >= anon_before,
                  "anonymous resident %zu before, %zu after %d invokes", anon_before, anon_after, LOOP_INVOKES);
        /* Total RSS (file pages included) is printed, not checked: under a
         * loaded machine code pages of rare paths (libm) arrive late, 64-128
         * KiB, while nothing grows. */
        printf("rss: total %zu -> %zu, anonymous %zu -> %zu over %d invokes\n", before, after, anon_before,
               anon_after, LOOP_INVOKES);
    }
    leandet_session_destroy(s);
    leandet_model_close(m);
}

int main(void)
{
    check_alias_rules();
    check_read_until();
    for (int i = 0; i < N_MODELS; i++)
        check_alias(models[i]);
    check_release("ssd_mobilenet_v1_coco_quant.tflite");
    check_release("yolov5n-fp16.tflite");
    check_oom("face_detection_short_range.tflite", 0);
    check_oom("ssd_mobilenet_v1_coco_quant.tflite", (size_t)1 << 30);
    for (int i = 0; i < N_MODELS; i++)
        check_budget(models[i]);
    check_batch_and_keep_all();
    check_flat_rss();
    return ld_test_finish();
}

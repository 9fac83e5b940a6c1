/* leandet plan: predict every byte of a run before it happens. One model:
 * the breakdown by category, the arena against the naive sum, the peak
 * step, a per-op table and the verdict against --max-memory. Several
 * models: rank those that fit and recommend one. The numbers come from
 * the same session plan and options `leandet detect` uses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "budget.h"
#include "detect_opts.h"
#include "commands.h"
#include "graph/budget.h"
#include "graph/cost.h"
#include "json.h"
#include "pipeline/pipeline.h"
#include "plan_svg.h"
#include "runtime/session_internal.h"

static const char usage[] =
    "usage: leandet plan MODEL.tflite [MODEL.tflite...] [options]\n"
    "\n"
    "Predict the peak resident memory of running MODEL the way 'leandet detect' would with\n"
    "the same options, by category, and check it against --max-memory before anything runs.\n"
    "One model: breakdown, arena versus the naive sum of all tensors, the peak step, one line\n"
    "per op (output shape, MACs, live arena bytes) and the verdict. Several models: rank the\n"
    "ones that fit (accuracy when given, then MACs, then bytes) and recommend one.\n"
    "\n"
    "options:\n"
    "  --image FILE         count decoding FILE (repeatable: the largest counts); default none\n"
    "  --draw               count drawing and saving the annotated image (detect --draw)\n"
    "  --max-detections N   as detect (default 100)\n"
    "  --tile RxC[:OV]      as detect: count the tiled detector's working memory\n"
    "  --accuracy M=A       accuracy of model M (e.g. its mAP, 0.21) for the ranking (repeatable)\n"
    "  --svg FILE           draw the arena: one rectangle per buffer, x = op index, y = offset\n"
    "several images at once, as 'leandet detect' runs many inputs:\n"
    "  --batch N|auto       N sessions in flight sharing the model, as 'detect --batch N' (auto:\n"
    "                       the most, up to --threads, that fit --max-memory); with --prefetch N\n"
    "                       (default 2) and --fast-decode as detect. Give the --image files: the\n"
    "                       decode buffers are sized for the largest (without: 4096x4096 each)\n"
    "  --graph-batch N|auto inputs per invoke of one session (dimension 0 of the model inputs,\n"
    "                       the C API's leandet_session_options.batch), where every op takes it\n"
    "  --json               one JSON object: {\"model\",\"total_bytes\",\"categories\":{...},\n"
    "                       \"fits\",\"arena_bytes\",\"naive_bytes\",\"peak_step\",\"macs\",\"sessions\",\"decode_workers\",\"graph_batch\",\n"
    "                       \"ops\":[...]};"
    " several models: {\"models\":[...],\"recommended\":M}\n"
    "budget:\n"
    "%s"
    "  --batch, --graph-batch: see above\n"
    "\n"
    "exit codes: 0 fits (or no budget), 1 error, 2 usage error, 3 does not fit (several\n"
    "            models: none fits)\n";

#define MAX_ACC 64

typedef struct plan_opts {
    ld_budget_opts budget;
    const char **models;
    int n_models;
    const char **images;
    int n_images;
    ld_image_cost *costs;     /* per image, scratch of ld_budget_plan_run */
    int draw, json, max_detections;
    int sessions;             /* --batch: N sessions, -1 auto, 0: one image at a time */
    int prefetch, fast_decode;
    leandet_tile_options tile;   /* --tile: the detector's tiling memory */
    const char *svg;
    const char *acc_name[MAX_ACC];
    double acc_value[MAX_ACC];
    int n_acc;
} plan_opts;

/* One model's plan. */
typedef struct model_plan {
    const char *path;
    leandet_model *model;
    leandet_session *s;      /* planned, no arena */
    leandet_plan_report r;
    leandet_status st;
    leandet_error err;
    double accuracy;         /* < 0: not given */
    const char *batch_note;  /* why --graph-batch / --batch auto stopped where it did */
    int sessions;            /* > 0: planned as a pipeline of this many sessions */
    int decoders;            /* and this many decode workers */
    size_t allowance;        /* SIZE_MAX, or the bytes an image may need when the largest does not fit */
} model_plan;

static int parse_accuracy(ld_args *a, plan_opts *o)
{
    const char *eq = strrchr(a->value, '=');
    char *end;
    double v = eq ? strtod(eq + 1, &end) : 0;
    if (!eq || eq == a->value || end == eq + 1 || *end || !(v >= 0 && v <= 1e9) || o->n_acc >= MAX_ACC) {
        ld_usage_error(a, "--accuracy expects MODEL=VALUE, got '%s'", a->value);
        return 0;
    }
    o->acc_name[o->n_acc] = a->value;
    o->acc_value[o->n_acc++] = v;
    return 1;
}

static int parse(int argc, char **argv, plan_opts *o)
{
    ld_args a;
    ld_args_init(&a, argc, argv);
    ld_budget_init(&o->budget);
    o->max_detections = 100;
    o->prefetch = 2;
    int graph_batch = 1;
    o->models = calloc((size_t)argc + 1, sizeof *o->models);
    o->images = calloc((size_t)argc + 1, sizeof *o->images);
    if (!o->models || !o->images)
        return LD_EXIT_ERROR;
    while (ld_args_more(&a)) {
        const char *pos;
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            printf(usage, ld_budget_usage);
            return -1;
        } else if (ld_args_flag(&a, "--json")) {
            o->json = 1;
        } else if (ld_args_flag(&a, "--draw")) {
            o->draw = 1;
        } else if (ld_args_opt(&a, "--image")) {
            o->images[o->n_images++] = a.value;
        } else if (ld_args_opt(&a, "--svg")) {
            o->svg = a.value;
        } else if (ld_args_opt(&a, "--max-detections")) {
            ld_parse_int(&a, "--max-detections", 1, 100000, &o->max_detections);
        } else if (ld_args_opt(&a, "--accuracy")) {
            parse_accuracy(&a, o);
        } else if (ld_args_opt(&a, "--graph-batch")) {
            if (strcmp(a.value, "auto") == 0)
                graph_batch = -1;
            else
                ld_parse_int(&a, "--graph-batch", 1, 4096, &graph_batch);
        } else if (ld_args_opt(&a, "--prefetch")) {
            ld_parse_int(&a, "--prefetch", 0, LD_PIPELINE_MAX_PREFETCH, &o->prefetch);
        } else if (ld_args_flag(&a, "--fast-decode")) {
            o->fast_decode = 1;
        } else if (ld_parse_tile_option(&a, &o->tile)) {
        } else if (ld_budget_parse(&a, &o->budget)) {
        } else if ((pos = ld_args_positional(&a)) != NULL) {
            o->models[o->n_models++] = pos;
        } else if (!a.error) {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && o->n_models == 0)
        ld_usage_error(&a, "no model given");
    if (!a.error && o->svg && o->n_models > 1)
        ld_usage_error(&a, "--svg draws one model's arena: give one model");
    /* --batch is detect's: sessions in flight; --graph-batch the batched graph */
    if (!a.error && o->budget.batch_given) {
        o->sessions = o->budget.batch;
        if (o->sessions > LD_PIPELINE_MAX_WORKERS)
            ld_usage_error(&a, "--batch %d: at most %d sessions", o->sessions, LD_PIPELINE_MAX_WORKERS);
        if (!a.error && graph_batch != 1)
            ld_usage_error(&a, "--batch (sessions) and --graph-batch (one batched graph) are two ways: give one");
        if (!a.error && o->draw)
            ld_usage_error(&a, "--draw runs one image at a time: it does not go with --batch");
    }
    o->budget.batch = graph_batch;
    if (a.error)
        return LD_EXIT_USAGE;
    return ld_budget_resolve(&o->budget, "plan");
}

static double accuracy_of(const plan_opts *o, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int i = 0; i < o->n_acc; i++) {
        size_t n = (size_t)(strrchr(o->acc_name[i], '=') - o->acc_name[i]);
        if ((strlen(path) == n && strncmp(path, o->acc_name[i], n) == 0) ||
            (strlen(base) == n && strncmp(base, o->acc_name[i], n) == 0))
            return o->acc_value[i];
    }
    return -1;
}

/* Plan `m` with batch `batch`: a planned session (no arena) and its report. */
static leandet_status plan_batch(model_plan *m, const plan_opts *o, const ld_run_shape *run, int batch)
{
    ld_budget_opts b = o->budget;
    b.batch = batch;
    leandet_session_destroy(m->s);
    m->s = NULL;
    m->err.message[0] = '\0';
    m->st = ld_budget_plan_run(&b, run, (const char *const *)o->images, o->n_images, o->draw, LD_BUILD_PLAN,
                               o->costs, &m->allowance, &m->s, &m->r, &m->err);
    if (m->st == LEANDET_OK && !m->r.fits) {
        leandet_session_options so = m->s->opt;
        ld_plan_suggest(m->model, &so, &m->r);
    }
    return m->st;
}

/* --batch auto: the largest batch that fits (doubling, then bisecting). */
static void plan_auto_batch(model_plan *m, const plan_opts *o, const ld_run_shape *run)
{
    if (plan_batch(m, o, run, 1) != LEANDET_OK || !m->r.fits || !o->budget.max_memory) {
        m->batch_note = o->budget.max_memory ? NULL : "no --max-memory: batch 1";
        return;
    }
    int good = 1, bad = 0;
    leandet_status first_bad = LEANDET_OK;
    while (!bad && good < 4096) {
        int next = good * 2;
        if (plan_batch(m, o, run, next) == LEANDET_OK && m->r.fits) {
            good = next;
        } else {
            bad = next;
            first_bad = m->st;
        }
    }
    while (bad && bad - good > 1) {
        int mid = good + (bad - good) / 2;
        if (plan_batch(m, o, run, mid) == LEANDET_OK && m->r.fits)
            good = mid;
        else
            bad = mid;
    }
    if (good == 1)
        m->batch_note = first_bad != LEANDET_OK ? "the model does not take a batch above 1" : "batch 2 does not fit";
    plan_batch(m, o, run, good);
}

/* --batch N|auto: the pipeline `leandet detect` runs many inputs with.
 * The session's own plan (one image per invoke) stays for the per-op table
 * and --svg; the report becomes the whole pipeline's. */
static void plan_sessions(model_plan *m, const plan_opts *o, const ld_run_shape *run)
{
    if (plan_batch(m, o, run, 1) != LEANDET_OK)
        return;
    const leandet_plan_report one = m->r;
    ld_pipeline_choice c = {0};
    c.sessions = o->sessions > 0 ? o->sessions : 0;
    c.most = o->budget.threads < LD_PIPELINE_MAX_WORKERS ? o->budget.threads : LD_PIPELINE_MAX_WORKERS;
    c.decoders = c.most;
    c.prefetch = o->prefetch;
    c.fast_decode = o->fast_decode;
    c.detect = run->detect;
    if (o->n_images)
        ld_budget_probe_images(run, c.fast_decode, o->images, o->n_images, &c.max_pixels, &c.image_extra);
    leandet_pipeline_options po;
    size_t each = 0;
    m->st = ld_budget_choose_sessions(&o->budget, run, &c, &po, &m->r, &each, &m->err);
    if (m->st != LEANDET_OK)
        return;
    m->sessions = po.sessions;
    m->decoders = po.decode_workers;
    m->r.naive_bytes = one.naive_bytes;
    m->r.peak_step = one.peak_step;
    m->r.peak_live_bytes = one.peak_live_bytes;
    m->r.n_aliased = one.n_aliased;
    m->r.macs = one.macs;
    m->allowance = SIZE_MAX;
    if (!m->r.fits && po.sessions > 1) { /* the most sessions that would fit */
        ld_pipeline_choice fewer = c;
        fewer.sessions = 0;
        fewer.most = po.sessions - 1;
        leandet_pipeline_options p2;
        leandet_plan_report r2;
        leandet_error e2 = {0};
        if (ld_budget_choose_sessions(&o->budget, run, &fewer, &p2, &r2, &each, &e2) == LEANDET_OK && r2.fits)
            m->r.max_batch = p2.sessions;
    }
    if (o->sessions < 0)
        m->batch_note = m->r.fits ? "the most sessions that fit, up to --threads" : "one session does not fit";
}

static void plan_one(model_plan *m, const plan_opts *o)
{
    m->accuracy = accuracy_of(o, m->path);
    m->st = leandet_model_open(m->path, NULL, &m->model, &m->err);
    if (m->st != LEANDET_OK)
        return;
    leandet_detect_options det;
    leandet_detect_options_default(&det);
    det.max_detections = o->max_detections;
    det.tile = o->tile;
    ld_run_shape run = {m->model, &det, 0};
    if (o->sessions)
        plan_sessions(m, o, &run);
    else if (o->budget.batch < 0)
        plan_auto_batch(m, o, &run);
    else
        plan_batch(m, o, &run, o->budget.batch);
}

static void print_shape(FILE *f, const ld_shape *s)
{
    char buf[96];
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < s->rank && len < sizeof buf; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, k ? "x%d" : "%d", (int)s->d[k]);
    fprintf(f, "%-20s", s->rank ? buf : "scalar");
}

static const char *op_name(const ld_op_desc *op, char *buf, int n)
{
    return op->builtin == LD_OP_CUSTOM && op->custom_name ? op->custom_name : ld_op_name(op->builtin, buf, n);
}

static void print_ops(const model_plan *m)
{
    const leandet_session *s = m->s;
    printf("per op:\n  %4s  %-28s %-20s %14s %12s\n", "#", "op", "output shape", "MACs", "live bytes");
    for (int i = 0; i < s->model->desc.n_ops; i++) {
        const ld_op_slot *op = &s->ops[i];
        char name[40];
        printf("  %4d  %-28s ", i, op_name(op->ctx.op, name, sizeof name));
        if (op->ctx.n_out > 0)
            print_shape(stdout, &op->ctx.out[0]->shape);
        else
            printf("%-20s", "-");
        printf(" %14llu %12zu%s\n", (unsigned long long)ld_op_macs(&op->ctx), ld_arena_plan_live_bytes(&s->plan, i),
               op->folded ? "  (folded at prepare)" : i == m->r.peak_step ? "  <- peak" : "");
    }
}

/* The library's "would fit" names --batch; a graph-batch plan means --graph-batch. */
static void name_graph_batch(char *fit, size_t cap)
{
    static const char from[] = "; --batch ", to[] = "; --graph-batch ";
    char *at = strstr(fit, from);
    size_t len = strlen(fit), grow = sizeof to - sizeof from;
    if (!at || len + grow + 1 > cap)
        return;
    memmove(at + sizeof to - 1, at + sizeof from - 1, len - (size_t)(at - fit) - (sizeof from - 1) + 1);
    memcpy(at, to, sizeof to - 1);
}

static void print_verdict(const leandet_plan_report *r, int graph_batch)
{
    char a[32], b[32], fit[400];
    if (!r->max_memory) {
        printf("budget: none given (--max-memory): predicted peak %s\n", ld_fmt_bytes(r->total_bytes, a, sizeof a));
    } else if (r->fits) {
        printf("budget: %s: fits, %s to spare\n", ld_fmt_bytes(r->max_memory, a, sizeof a),
               ld_fmt_bytes(r->max_memory - r->total_bytes, b, sizeof b));
    } else {
        ld_fmt_would_fit(r, 1, fit, sizeof fit);
        if (graph_batch)
            name_graph_batch(fit, sizeof fit);
        printf("budget: %s: does NOT fit, over by %s\n%s\n", ld_fmt_bytes(r->max_memory, a, sizeof a),
               ld_fmt_bytes(r->total_bytes - r->max_memory, b, sizeof b), fit);
    }
}

static void print_human(const model_plan *m, const plan_opts *o, const char *image)
{
    const leandet_plan_report *r = &m->r;
    char a[32], b[32], name[40];
    const char *backend = o->budget.backend == LEANDET_BACKEND_REFERENCE ? "ref" : "auto";
    if (m->sessions)
        printf("%s: %d ops, %.3g G MACs, %d session%s sharing the model (as 'detect --batch %d'), %d thread%s "
               "each, %d decode worker%s, prefetch %d, backend %s\n",
               m->path, r->n_ops, (double)r->macs / 1e9, m->sessions, m->sessions == 1 ? "" : "s", m->sessions,
               r->threads, r->threads == 1 ? "" : "s", m->decoders, m->decoders == 1 ? "" : "s", o->prefetch, backend);
    else
        printf("%s: %d ops, %.3g G MACs, %d thread%s, graph batch %d, backend %s\n", m->path, r->n_ops,
               (double)r->macs / 1e9, r->threads, r->threads == 1 ? "" : "s", r->batch, backend);
    if (m->batch_note)
        printf("%s auto: %d (%s)\n", m->sessions ? "batch" : "graph batch", m->sessions ? m->sessions : r->batch,
               m->batch_note);
    if (image)
        printf("image: %s%s\n", image, o->n_images > 1 ? " (the largest of the --image files)" : "");
    else
        printf("image: none counted (--image FILE)\n");
    if (m->allowance != SIZE_MAX)
        printf("images: the largest does not fit; images needing up to %s run, larger ones would fail alone\n",
               ld_fmt_bytes(m->allowance, a, sizeof a));
    printf("memory by category (predicted peak resident bytes):\n");
    ld_budget_print_breakdown(stdout, r);
    printf("arena: %s versus the naive sum of all tensors %s (%.0f%%); %d tensor%s share their input's bytes "
           "in place\n",
           ld_fmt_bytes(r->arena_bytes, a, sizeof a), ld_fmt_bytes(r->naive_bytes, b, sizeof b),
           r->naive_bytes ? 100.0 * (double)r->arena_bytes / (double)r->naive_bytes : 0.0, r->n_aliased,
           r->n_aliased == 1 ? "" : "s");
    if (r->peak_step >= 0)
        printf("peak: op %d %s, %s live\n", r->peak_step,
               op_name(&m->model->desc.ops[r->peak_step], name, sizeof name),
               ld_fmt_bytes(r->peak_live_bytes, a, sizeof a));
    print_ops(m);
    print_verdict(r, !m->sessions);
}

static void json_report(const model_plan *m, int with_ops)
{
    const leandet_plan_report *r = &m->r;
    fputs("{\"model\":", stdout);
    ld_json_string(stdout, m->path);
    if (m->st != LEANDET_OK || !m->s) {
        fputs(",\"error\":", stdout);
        ld_json_string(stdout, m->err.message);
        fputs("}", stdout);
        return;
    }
    printf(",\"total_bytes\":%zu,\"max_memory\":%zu,\"fits\":%s,\"categories\":{", r->total_bytes, r->max_memory,
           r->fits ? "true" : "false");
    for (int c = 0; c < LEANDET_MEM_COUNT; c++) {
        printf("%s", c ? "," : "");
        ld_json_string(stdout, leandet_mem_category_name((leandet_mem_category)c));
        printf(":%zu", r->bytes[c]);
    }
    printf("},\"arena_bytes\":%zu,\"naive_bytes\":%zu,\"peak_step\":%d,\"peak_live_bytes\":%zu,\"aliased\":%d,"
           "\"macs\":%llu,\"n_ops\":%d,\"threads\":%d,\"sessions\":%d,\"decode_workers\":%d,\"graph_batch\":%d",
           r->arena_bytes, r->naive_bytes, r->peak_step, r->peak_live_bytes, r->n_aliased, (unsigned long long)r->macs,
           r->n_ops, r->threads, m->sessions, m->decoders, m->sessions ? 1 : r->batch);
    if (m->accuracy >= 0)
        printf(",\"accuracy\":%g", m->accuracy);
    if (m->allowance != SIZE_MAX)
        printf(",\"image_allowance\":%zu", m->allowance);
    if (!r->fits)
        printf(",\"would_fit\":{\"max_memory\":%zu,\"reference_kernels\":%zu,\"one_thread\":%zu,\"batch\":%d}",
               r->total_bytes, r->total_reference, r->total_one_thread, r->max_batch);
    if (with_ops) {
        fputs(",\"ops\":[", stdout);
        for (int i = 0; i < r->n_ops; i++) {
            const ld_op_slot *op = &m->s->ops[i];
            char name[40];
            printf("%s{\"index\":%d,\"op\":", i ? "," : "", i);
            ld_json_string(stdout, op_name(op->ctx.op, name, sizeof name));
            fputs(",\"output_shape\":[", stdout);
            const ld_shape *sh = op->ctx.n_out ? &op->ctx.out[0]->shape : NULL;
            for (int k = 0; sh && k < sh->rank; k++)
                printf("%s%d", k ? "," : "", (int)sh->d[k]);
            printf("],\"macs\":%llu,\"live_bytes\":%zu,\"folded\":%s}", (unsigned long long)ld_op_macs(&op->ctx),
                   ld_arena_plan_live_bytes(&m->s->plan, i), op->folded ? "true" : "false");
        }
        fputs("]", stdout);
    }
    fputs("}", stdout);
}

/* Ranking order: fitting first; then accuracy (given beats unknown), MACs, bytes. */
static int better(const model_plan *a, const model_plan *b)
{
    int fa = a->st == LEANDET_OK && a->r.fits, fb = b->st == LEANDET_OK && b->r.fits;
    if (fa != fb)
        return fa > fb;
    if (a->accuracy != b->accuracy)
        return a->accuracy > b->accuracy;
    if (a->r.macs != b->r.macs)
        return a->r.macs < b->r.macs;
    return a->r.total_bytes < b->r.total_bytes;
}

static int print_ranking(model_plan *m, int n, const plan_opts *o)
{
    int *order = n > 0 ? calloc((size_t)n, sizeof *order) : NULL;
    if (!order)
        return LD_EXIT_ERROR;
    for (int i = 0; i < n; i++) {
        int j = i;
        for (; j > 0 && better(&m[i], &m[order[j - 1]]); j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    const model_plan *best = m[order[0]].st == LEANDET_OK && m[order[0]].r.fits ? &m[order[0]] : NULL;
    if (o->json) {
        fputs("{\"models\":[", stdout);
        for (int i = 0; i < n; i++) {
            fputs(i ? "," : "", stdout);
            json_report(&m[order[i]], 0);
        }
        fputs("],\"recommended\":", stdout);
        if (best)
            ld_json_string(stdout, best->path);
        else
            fputs("null", stdout);
        printf(",\"max_memory\":%zu}\n", o->budget.max_memory);
    } else {
        char a[32], b[32];
        printf("models ranked for --max-memory %s (fitting first; accuracy, then MACs, then bytes):\n",
               o->budget.max_memory ? ld_fmt_bytes(o->budget.max_memory, a, sizeof a) : "none");
        printf("  %-4s %-44s %-8s %12s %10s %9s\n", "rank", "model", "fits", "peak bytes", "GMACs", "accuracy");
        for (int i = 0; i < n; i++) {
            const model_plan *p = &m[order[i]];
            if (p->st != LEANDET_OK || !p->s) {
                printf("  %-4d %-44s error: %s\n", i + 1, p->path, p->err.message);
                continue;
            }
            printf("  %-4d %-44s %-8s %12s %10.3f ", i + 1, p->path, p->r.fits ? "yes" : "no",
                   ld_fmt_bytes(p->r.total_bytes, b, sizeof b), (double)p->r.macs / 1e9);
            if (p->accuracy >= 0)
                printf("%9.3f\n", p->accuracy);
            else
                printf("%9s\n", "-");
        }
        if (best)
            printf("recommended: %s\n", best->path);
        else
            printf("recommended: none fits; raise --max-memory (smallest need %s)\n",
                   ld_fmt_bytes(m[order[0]].r.total_bytes, a, sizeof a));
    }
    free(order);
    return best ? LD_EXIT_OK : LD_EXIT_BUDGET;
}

/* The --image file the plan counts (the largest need), for the report. */
static const char *largest_image(const plan_opts *o)
{
    int best = -1;
    for (int i = 0; i < o->n_images; i++)
        if (best < 0 || o->costs[i].need > o->costs[best].need)
            best = i;
    return best >= 0 ? o->images[best] : NULL;
}

static int finish_single(model_plan *m, const plan_opts *o, const char *image)
{
    if (m->st != LEANDET_OK || !m->s) {
        fprintf(stderr, "leandet plan: %s\n", m->err.message);
        return m->st == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
    }
    if (o->svg && ld_plan_write_svg(o->svg, m->s) != 0) {
        fprintf(stderr, "leandet plan: %s: cannot write: %s\n", o->svg, strerror(errno));
        return LD_EXIT_ERROR;
    }
    if (o->json) {
        json_report(m, 1);
        fputc('\n', stdout);
    } else {
        print_human(m, o, image);
    }
    return m->r.fits ? LD_EXIT_OK : LD_EXIT_BUDGET;
}

int ld_cmd_plan(int argc, char **argv)
{
    plan_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o);
    model_plan *m = NULL;
    if (rc == LD_EXIT_OK && (!(m = calloc((size_t)o.n_models, sizeof *m)) ||
                             !(o.costs = calloc((size_t)o.n_images + 1, sizeof *o.costs))))
        rc = LD_EXIT_ERROR;
    for (int i = 0; rc == LD_EXIT_OK && i < o.n_models; i++) {
        m[i].path = o.models[i];
        plan_one(&m[i], &o);
    }
    if (rc == LD_EXIT_OK)
        rc = o.n_models == 1 ? finish_single(&m[0], &o, largest_image(&o)) : print_ranking(m, o.n_models, &o);
    for (int i = 0; m && i < o.n_models; i++) {
        leandet_session_destroy(m[i].s);
        leandet_model_close(m[i].model);
    }
    free(m);
    free(o.costs);
    free(o.models);
    free(o.images);
    return rc < 0 ? LD_EXIT_OK : rc;
}

#include "budget.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "detect/detect.h"
#include "detect/tile.h"
#include "graph/budget.h"
#include "image/image.h"
#include "pipeline/pipeline.h"
#include "runtime/cpuset.h"
#include "runtime/session_internal.h"

/* Code pages and libc state a run touches after the command started
 * (the "process" category is /proc/self/statm's resident size at the start
 * of the command plus this): kernels, the image codecs' code and tables,
 * stdio buffers, the main thread's stack under the kernels; the image
 * codecs' code is counted with the images (graph/budget.c). Calibrated as
 * the median peak resident bytes of `leandet detect` (/usr/bin/time %M)
 * minus every other category, over the six models of ../shared/models on
 * BMP inputs (no codec library): 0-300 KiB; single runs vary by another
 * +-250 KiB (the kernel's resident counters are per thread and batched),
 * which the plan's margin covers (bench/memory.py measures the table). */
#define LD_RUN_CODE_BYTES ((size_t)256 * 1024)

/* The detector's own block and the detections array, beyond the decoder's
 * scratch (ld_decoder_scratch_bytes). */
#define LD_DETECTOR_FIXED_BYTES ((size_t)1024)

/* Enough of a file for any image header leandet probes (JPEG headers may
 * carry large EXIF/ICC segments before the frame header). */
#define LD_PROBE_BYTES ((size_t)512 * 1024)

const char ld_budget_usage[] =
    "  --max-memory BYTES   peak resident memory of the whole run (K/M/G suffixes): the\n"
    "                       plan must fit or the run is refused before allocating (exit 3)\n"
    "  --threads N          N threads in all: N-1 workers plus this one (default: the CPUs\n"
    "                       allowed by affinity and cgroup quota)\n"
    "  --affinity LIST      pin to these CPUs, e.g. 0-3,6 (default threads: their count)\n"
    "  --backend B          auto|ref: optimized kernels where the CPU has them (packed\n"
    "                       weights), or the reference kernels only (default auto)\n";

void ld_budget_init(ld_budget_opts *b)
{
    memset(b, 0, sizeof *b);
    b->baseline = leandet_process_resident_bytes();
    b->batch = 1;
}

int ld_budget_parse(ld_args *a, ld_budget_opts *b)
{
    if (ld_args_opt(a, "--max-memory")) {
        ld_parse_bytes(a, "--max-memory", &b->max_memory);
    } else if (ld_args_opt(a, "--threads")) {
        ld_parse_int(a, "--threads", 1, LD_CLI_MAX_CPUS, &b->threads);
    } else if (ld_args_opt(a, "--affinity")) {
        b->affinity = a->value;
    } else if (ld_args_opt(a, "--batch")) {
        b->batch_given = 1;
        if (strcmp(a->value, "auto") == 0)
            b->batch = -1;
        else
            ld_parse_int(a, "--batch", 1, 4096, &b->batch);
    } else if (ld_args_opt(a, "--backend")) {
        if (strcmp(a->value, "auto") == 0)
            b->backend = LEANDET_BACKEND_AUTO;
        else if (strcmp(a->value, "ref") == 0 || strcmp(a->value, "reference") == 0)
            b->backend = LEANDET_BACKEND_REFERENCE;
        else
            ld_usage_error(a, "--backend: unknown value '%s' (auto or ref)", a->value);
    } else {
        return 0;
    }
    return 1;
}

int ld_budget_resolve(ld_budget_opts *b, const char *cmd)
{
    leandet_error err = {0};
    if (b->affinity) {
        if (ld_parse_cpu_list(b->affinity, b->cpus, LD_CLI_MAX_CPUS, &b->n_cpus, &err) != LEANDET_OK) {
            fprintf(stderr, "leandet %s: --affinity: %s\n", cmd, err.message);
            return err.status == LEANDET_ERR_ARGUMENT ? 2 : 1;
        }
    }
    if (b->threads == 0)
        b->threads = b->n_cpus > 0 ? b->n_cpus : ld_default_threads();
    /* The pool pins worker k to cpus[k % n]: cpus[0] is this thread's. */
    if (b->n_cpus > 0 && ld_pin_current_thread(b->cpus[0], &err) != LEANDET_OK) {
        fprintf(stderr, "leandet %s: --affinity: %s\n", cmd, err.message);
        return 1;
    }
    return 0;
}

size_t ld_budget_process_bytes(const ld_budget_opts *b)
{
    return ld_add_sat(b->baseline, LD_RUN_CODE_BYTES);
}

/* Read at most `cap` bytes of the file; *size gets the file's size. */
static leandet_status read_head(const char *path, uint8_t *buf, size_t cap, size_t *got, size_t *size,
                                leandet_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ld_fail(err, LEANDET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    leandet_status s = LEANDET_OK;
    *got = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = ld_fail(err, LEANDET_ERR_IO, "%s: not a regular file", path);
    } else {
        *size = (size_t)st.st_size;
        while (*got < cap) {
            ssize_t r = read(fd, buf + *got, cap - *got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            *got += (size_t)r;
        }
    }
    close(fd);
    return s;
}

/* Probe from the first LD_PROBE_BYTES; formats whose probe checks the
 * whole layout (BMP) get the whole file on a second read. */
leandet_status ld_budget_image_cost(const char *path, ld_image_cost *out, leandet_error *err)
{
    memset(out, 0, sizeof *out);
    size_t cap = LD_PROBE_BYTES, got = 0, size = 0;
    uint8_t *buf = NULL;
    ld_image_info info;
    leandet_status st;
    for (int pass = 0;; pass++) {
        uint8_t *nb = realloc(buf, cap);
        if (!nb) {
            st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory probing the image", path);
            break;
        }
        buf = nb;
        st = read_head(path, buf, cap, &got, &size, err);
        if (st == LEANDET_OK)
            st = ld_image_probe(path, buf, got, &info, err);
        if (st == LEANDET_OK || pass > 0 || got >= size || size > LD_IMAGE_MAX_FILE_BYTES)
            break;
        cap = size;
    }
    if (st == LEANDET_OK) {
        size_t coef = info.format == LD_IMAGE_JPEG ? ld_jpeg_coef_bytes(buf, got) : 0;
        out->width = info.width;
        out->height = info.height;
        out->format = (int)info.format;
        out->streamable = info.streamable;
        out->bytes = ld_budget_image_bytes(info.format, info.width, info.height, size, coef);
        out->held = ld_block_bytes((size_t)info.width * (size_t)info.height * 3);
        out->code = ld_budget_codec_code_bytes(info.format);
        out->draw_bytes = ld_budget_draw_bytes(info.width);
    }
    free(buf);
    return st;
}

void ld_budget_session_options(const ld_budget_opts *b, const ld_run_shape *run, leandet_session_options *so)
{
    memset(so, 0, sizeof *so);
    so->max_memory = b->max_memory;
    so->threads = b->threads;
    so->cpus = b->n_cpus ? b->cpus : NULL;
    so->n_cpus = b->n_cpus;
    so->batch = b->batch > 1 ? b->batch : 1;
    so->backend = b->backend;
    so->count_model = 1;
    so->process_bytes = ld_budget_process_bytes(b);
    leandet_detect_options dopt;
    if (run->detect)
        dopt = *run->detect;
    else
        leandet_detect_options_default(&dopt);
    size_t io = LD_DETECTOR_FIXED_BYTES + (size_t)dopt.max_detections * sizeof(leandet_detection) + run->label_bytes;
    ld_decoder_cfg cfg;
    if (ld_decoder_choose(&run->model->desc, &dopt, NULL, &cfg, NULL) == LEANDET_OK) {
        io += ld_block_bytes(ld_decoder_scratch_bytes(&cfg));
        /* --tile: every view's candidates and the merge (detect/tile.h). The
         * tiles are cropped from the decoded image, held for the whole run
         * as any image is, straight into the session's input: no more. */
        io = ld_add_sat(io, ld_block_bytes(ld_tile_work_bytes(&cfg, &dopt.tile)));
    }
    so->io_bytes = io;
}

static size_t sub_sat(size_t a, size_t b) { return a > b ? a - b : 0; }

/* What the plan counts for each image (see ld_budget_plan_run), given the
 * arena and scratch `as` and the drawing bytes `draw` counted apart. */
static void image_needs(ld_image_cost *c, int n, size_t as, size_t draw)
{
    for (int i = 0; i < n; i++) {
        /* While the model runs: the pixels, and the codec's code pages,
         * which stay resident once touched. */
        size_t decode = sub_sat(c[i].bytes, draw + (n == 1 ? as : 0)), after = c[i].held + c[i].code;
        c[i].need = decode > after ? decode : after;
    }
}

/* The largest need not above `limit` (0 if none). */
static size_t largest_need(const ld_image_cost *c, int n, size_t limit)
{
    size_t best = 0;
    for (int i = 0; i < n; i++)
        if (c[i].need <= limit && c[i].need > best)
            best = c[i].need;
    return best;
}

leandet_status ld_budget_plan_run(const ld_budget_opts *b, const ld_run_shape *run, const char *const *images,
                                  int n_images, int draw, int mode, ld_image_cost *costs, size_t *allowance,
                                  leandet_session **s, leandet_plan_report *report, leandet_error *err)
{
    *allowance = SIZE_MAX;
    *s = NULL;
    size_t smallest = SIZE_MAX, draw_bytes = 0;
    for (int i = 0; (b->max_memory || mode == LD_BUILD_PLAN) && i < n_images; i++) {
        leandet_error perr = {0};
        if (ld_budget_image_cost(images[i], &costs[i], &perr) != LEANDET_OK) {
            if (mode == LD_BUILD_PLAN)
                return ld_fail(err, perr.status, "%s", perr.message);
            continue; /* a run reports it when loading the image */
        }
        smallest = costs[i].held < smallest ? costs[i].held : smallest;
        draw_bytes = draw && costs[i].draw_bytes > draw_bytes ? costs[i].draw_bytes : draw_bytes;
    }
    leandet_session_options so;
    ld_budget_session_options(b, run, &so);
    /* Prepare within what the smallest image would leave; images are settled after. */
    so.image_bytes = smallest == SIZE_MAX ? 0 : smallest;
    so.pipeline_bytes = draw_bytes;
    so.report = report;
    leandet_status st = ld_session_build(run->model, &so, (ld_build_mode)mode, s, err);
    if (st != LEANDET_OK)
        return st;
    leandet_session *p = *s;
    image_needs(costs, n_images, report->bytes[LEANDET_MEM_ARENA] + report->bytes[LEANDET_MEM_SCRATCH], draw_bytes);
    /* A batch of N holds N decoded images while one more decodes. */
    size_t held = 0;
    for (int i = 0; i < n_images; i++)
        held = costs[i].held > held ? costs[i].held : held;
    size_t batch_extra = (size_t)(p->batch - 1) * held;
    p->opt.image_bytes = ld_add_sat(largest_need(costs, n_images, SIZE_MAX), batch_extra);
    ld_session_report(p, report);
    if (!report->fits && n_images > 1) {
        /* Not every image fits: count the largest that does; the others fail alone. */
        size_t others = report->total_bytes - report->bytes[LEANDET_MEM_IMAGE];
        size_t room = others < b->max_memory ? b->max_memory - others : 0;
        room = room > batch_extra ? room - batch_extra : 0;
        size_t best = largest_need(costs, n_images, room);
        if (best > 0) {
            p->opt.image_bytes = best + batch_extra;
            *allowance = room;
            ld_session_report(p, report);
        }
    }
    return LEANDET_OK;
}

int ld_budget_create_session(const ld_budget_opts *b, const ld_run_shape *run, const char *const *images, int n_images,
                             int draw, ld_image_cost *costs, size_t *allowance, leandet_plan_report *report,
                             leandet_session **out)
{
    leandet_error err = {0};
    memset(report, 0, sizeof *report);
    if (b->max_memory) {
        /* Plan first: planning frees each op's packed weights as soon as it
         * has measured them, where a staged prepare would hold them all up to
         * the budget before finding that the arena cannot follow. */
        leandet_session *plan = NULL;
        leandet_error perr = {0};
        /* the images that can be read (the others fail alone when their turn comes) */
        const char **readable = malloc((size_t)(n_images > 0 ? n_images : 1) * sizeof *readable);
        int n_read = 0;
        for (int i = 0; readable && i < n_images; i++)
            if (ld_budget_image_cost(images[i], &costs[i], &perr) == LEANDET_OK)
                readable[n_read++] = images[i];
        leandet_status ps = readable ? ld_budget_plan_run(b, run, readable, n_read, draw, LD_BUILD_PLAN, costs,
                                                          allowance, &plan, report, &perr)
                                     : LEANDET_ERR_NO_MEMORY;
        free(readable);
        const int refuse = ps == LEANDET_OK && !report->fits;
        if (refuse) {
            const leandet_session_options o = plan->opt;
            leandet_session_destroy(plan);
            ld_plan_suggest(run->model, &o, report);
            ld_budget_print_refusal(stderr, leandet_model_path(run->model), report);
            return 3;
        }
        leandet_session_destroy(plan);
        memset(report, 0, sizeof *report); /* an image the plan could not read fails alone below */
    }
    leandet_status st = ld_budget_plan_run(b, run, images, n_images, draw, LD_BUILD_STAGED, costs, allowance, out,
                                           report, &err);
    if (st == LEANDET_OK) {
        st = ld_session_commit(*out, report, &err);
        if (st != LEANDET_OK)
            *out = NULL; /* commit destroyed it */
    }
    if (st == LEANDET_ERR_BUDGET && report->total_bytes > 0) {
        ld_budget_print_refusal(stderr, leandet_model_path(run->model), report);
        return 3;
    }
    if (st != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        return st == LEANDET_ERR_BUDGET ? 3 : 1;
    }
    return 0;
}

/* Categories every pipeline session holds for itself. */
static const leandet_mem_category per_session[] = {
    LEANDET_MEM_SESSION, LEANDET_MEM_FOLDED,  LEANDET_MEM_PACKED,  LEANDET_MEM_OP_STATE,
    LEANDET_MEM_ARENA,   LEANDET_MEM_SCRATCH, LEANDET_MEM_THREADS,
};

leandet_status ld_budget_plan_pipeline(const ld_budget_opts *b, const ld_run_shape *run,
                                       const leandet_pipeline_options *po, size_t image_extra,
                                       leandet_plan_report *report, size_t *sessions_total, leandet_error *err)
{
    memset(report, 0, sizeof *report);
    size_t buffers = ld_pipeline_plan_bytes(run->model, po);
    if (buffers == 0) {
        ld_pipeline_layout lay;
        return ld_pipeline_layout_compute(run->model, po, &lay, err);
    }
    leandet_session_options so;
    ld_budget_session_options(b, run, &so);
    so.threads = po->threads_per_session;
    so.cpus = NULL; /* planning only */
    so.n_cpus = 0;
    so.batch = 1;
    so.max_memory = 0;
    leandet_session *s = NULL;
    leandet_status st = ld_session_build(run->model, &so, LD_BUILD_PLAN, &s, err);
    if (st != LEANDET_OK)
        return st;
    leandet_plan_report one, own, other;
    ld_session_report(s, &one);
    size_t shared_packed, shared_folded;
    ld_session_shared_bytes(s, &one, &shared_packed, &shared_folded);
    leandet_session_destroy(s);
    size_t n = (size_t)po->sessions;
    memset(&own, 0, sizeof own);
    for (size_t i = 0; i < sizeof per_session / sizeof per_session[0]; i++) {
        leandet_mem_category c = per_session[i];
        own.bytes[c] = one.bytes[c];
        report->bytes[c] = one.bytes[c] * n;
    }
    /* The first session packs and folds the weights; the others share them. */
    other = own;
    other.bytes[LEANDET_MEM_PACKED] -= shared_packed;
    other.bytes[LEANDET_MEM_FOLDED] -= shared_folded;
    report->bytes[LEANDET_MEM_PACKED] -= shared_packed * (n - 1);
    report->bytes[LEANDET_MEM_FOLDED] -= shared_folded * (n - 1);
    ld_report_total(&own); /* adds the margin the session's own check adds */
    ld_report_total(&other);
    *sessions_total = ld_add_sat(own.total_bytes, other.total_bytes * (n - 1));
    report->bytes[LEANDET_MEM_PROCESS] = one.bytes[LEANDET_MEM_PROCESS];
    report->bytes[LEANDET_MEM_MODEL_FILE] = one.bytes[LEANDET_MEM_MODEL_FILE];
    report->bytes[LEANDET_MEM_MODEL_META] = one.bytes[LEANDET_MEM_MODEL_META];
    /* each session has its detector; the label file is loaded once */
    report->bytes[LEANDET_MEM_IO] = (one.bytes[LEANDET_MEM_IO] - run->label_bytes) * n + run->label_bytes;
    report->bytes[LEANDET_MEM_IMAGE] = image_extra * (size_t)po->decode_workers;
    /* slots, queues and decode buffers, each a block of its own */
    report->bytes[LEANDET_MEM_PIPELINE] =
        ld_add_sat(buffers, (size_t)(2 * (po->sessions + po->prefetch) + 2 * po->decode_workers + 8) * LD_ALLOC_SLACK);
    /* the pipeline's own threads: inference and decode workers, the sink */
    report->bytes[LEANDET_MEM_THREADS] += (n + (size_t)po->decode_workers + 1) * LD_POOL_STACK_BYTES;
    report->max_memory = b->max_memory;
    ld_report_total(report);
    report->threads = po->threads_per_session;
    report->batch = po->sessions;
    report->arena_bytes = one.arena_bytes;
    report->n_ops = one.n_ops;
    return LEANDET_OK;
}

void ld_budget_pipeline_shape(const ld_budget_opts *b, const ld_pipeline_choice *c, int sessions, int decoders,
                              leandet_pipeline_options *po)
{
    int t = b->threads;
    leandet_pipeline_options_default(po);
    po->sessions = sessions;
    po->threads_per_session = t / sessions > 1 ? t / sessions : 1;
    po->threads = t > po->threads_per_session ? t : po->threads_per_session;
    po->decode_workers = decoders < 1 ? 1 : (decoders > LD_PIPELINE_MAX_WORKERS ? LD_PIPELINE_MAX_WORKERS : decoders);
    po->prefetch = c->prefetch;
    po->scaled_decode = c->fast_decode;
    po->backend = b->backend;
    if (c->detect)
        po->detect = *c->detect;
    if (c->max_pixels)
        po->max_image_pixels = c->max_pixels;
}

void ld_budget_probe_images(const ld_run_shape *run, int fast_decode, const char *const *images, int n,
                            size_t *max_pixels, size_t *extra)
{
    *max_pixels = 1;
    *extra = 0;
    /* Only the input's size matters to the decode buffer, not its type or mode. */
    leandet_tensor_info in;
    ld_preprocess pre;
    memset(&in, 0, sizeof in);
    leandet_model_input_info(run->model, 0, &in);
    ld_preprocess_init(&pre, in.rank == 4 ? (int)in.dims[2] : 1, in.rank == 4 ? (int)in.dims[1] : 1, LEANDET_UINT8,
                       LEANDET_RESIZE_STRETCH);
    for (int i = 0; i < n; i++) {
        ld_image_cost c;
        leandet_error e = {0};
        if (ld_budget_image_cost(images[i], &c, &e) != LEANDET_OK)
            continue; /* it fails alone when the pipeline reaches it */
        ld_image_info info = {(ld_image_format)c.format, c.width, c.height, 0, c.streamable};
        size_t px = (ld_pipeline_decode_need(&pre, &info, fast_decode, NULL) + 2) / 3;
        *max_pixels = px > *max_pixels ? px : *max_pixels;
        size_t beyond = c.bytes > c.held ? c.bytes - c.held : 0;
        *extra = beyond > *extra ? beyond : *extra;
    }
}

leandet_status ld_budget_choose_sessions(const ld_budget_opts *b, const ld_run_shape *run, const ld_pipeline_choice *c,
                                         leandet_pipeline_options *po, leandet_plan_report *report,
                                         size_t *sessions_total, leandet_error *err)
{
    const int lo = c->sessions > 0 ? c->sessions : 1, hi = c->sessions > 0 ? c->sessions : c->most;
    /* More sessions first, then a decoder per thread, then one decoder. */
    for (int n = hi; n >= lo; n--)
        for (int d = c->decoders > 1 ? c->decoders : 1; d >= 1; d = d > 1 ? 1 : 0) {
            ld_budget_pipeline_shape(b, c, n, d, po);
            leandet_status st = ld_budget_plan_pipeline(b, run, po, c->image_extra, report, sessions_total, err);
            if (st != LEANDET_OK)
                return st;
            if (!b->max_memory || report->fits) {
                if (b->max_memory) /* the pipeline checks the same plan as it allocates */
                    po->max_memory = ld_pipeline_plan_bytes(run->model, po) + *sessions_total;
                return LEANDET_OK;
            }
        }
    return LEANDET_OK; /* report: the smallest count tried, not fitting */
}

leandet_status ld_budget_image_refusal(const char *path, const ld_image_cost *c, size_t allowance,
                                       size_t max_memory, leandet_error *err)
{
    char need[32], room[32], budget[32];
    return ld_fail(err, LEANDET_ERR_BUDGET,
                   "%s: decoding this %dx%d image needs %s, more than the %s left for images within --max-memory %s; "
                   "use a smaller image or raise --max-memory",
                   path, c->width, c->height, ld_fmt_bytes(c->need, need, sizeof need),
                   ld_fmt_bytes(allowance, room, sizeof room), ld_fmt_bytes(max_memory, budget, sizeof budget));
}

void ld_budget_print_breakdown(FILE *f, const leandet_plan_report *r)
{
    char b[32];
    for (int c = 0; c < LEANDET_MEM_COUNT; c++)
        fprintf(f, "  %-18s %10s\n", leandet_mem_category_name((leandet_mem_category)c),
                r->bytes[c] ? ld_fmt_bytes(r->bytes[c], b, sizeof b) : "-");
    fprintf(f, "  %-18s %10s  (%zu bytes)\n", "total", ld_fmt_bytes(r->total_bytes, b, sizeof b), r->total_bytes);
}

void ld_budget_print_refusal(FILE *f, const char *what, const leandet_plan_report *r)
{
    char need[32], budget[32], fit[400];
    fprintf(f, "leandet: %s needs %s, more than --max-memory %s: refused before allocating\n", what,
            ld_fmt_bytes(r->total_bytes, need, sizeof need), ld_fmt_bytes(r->max_memory, budget, sizeof budget));
    ld_budget_print_breakdown(f, r);
    ld_fmt_would_fit(r, 1, fit, sizeof fit);
    fprintf(f, "%s\n", fit);
}

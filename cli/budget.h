/* The budget options every command that runs a model shares (--max-memory,
 * --threads, --affinity, --batch, --backend) and the one place that turns a
 * command's run into leandet_session_options: `leandet plan` and the
 * commands that run use the same numbers, so the plan is the promise. */
#ifndef LD_CLI_BUDGET_H
#define LD_CLI_BUDGET_H

#include <stdio.h>

#include "args.h"
#include "leandet.h"

#define LD_CLI_MAX_CPUS 1024

typedef struct ld_budget_opts {
    size_t max_memory;        /* 0: no budget */
    int threads;              /* 0: default (CPUs allowed by affinity and cgroup quota) */
    const char *affinity;     /* CPU list or NULL */
    int cpus[LD_CLI_MAX_CPUS];
    int n_cpus;
    int batch;                /* 1 default; -1: auto (largest that fits) */
    int batch_given;          /* --batch was on the command line */
    leandet_backend backend;
    size_t baseline;          /* resident bytes of this process when the command started */
} ld_budget_opts;

/* Defaults, and the process's resident bytes now (call first thing). */
void ld_budget_init(ld_budget_opts *b);

/* Consume the current argument if it is a budget option; 1 if it was. */
int ld_budget_parse(ld_args *a, ld_budget_opts *b);

/* Resolve defaults and check the CPU list; prints "leandet <cmd>: ..." and
 * returns an exit code (0 ok, 2 usage, 1 error). */
int ld_budget_resolve(ld_budget_opts *b, const char *cmd);

/* Usage text of the budget options (for --help). */
extern const char ld_budget_usage[];

/* What one image costs (all 0 if it cannot be probed: it will fail with
 * its own error when loaded). */
typedef struct ld_image_cost {
    int width, height;
    int format, streamable;   /* ld_image_format; rows decode in order (image/image.h) */
    size_t bytes;             /* decoding: file + pixels + codec working memory */
    size_t held;              /* the pixels, held while the model runs */
    size_t code;              /* the codec's code and tables: resident once it ran */
    size_t draw_bytes;        /* drawing and encoding it */
    size_t need;              /* what the run's plan counts for it (ld_budget_plan_run) */
} ld_image_cost;

leandet_status ld_budget_image_cost(const char *path, ld_image_cost *out, leandet_error *err);

/* What a detect-like run holds besides the session, for the plan. */
typedef struct ld_run_shape {
    const leandet_model *model;
    const leandet_detect_options *detect; /* NULL: defaults */
    size_t label_bytes;       /* loaded label file */
} ld_run_shape;

/* Session options for the run: budget, threads, and every category the
 * plan must count outside the session (process, model, io); images and
 * drawing are set by ld_budget_plan_run. */
void ld_budget_session_options(const ld_budget_opts *b, const ld_run_shape *run, leandet_session_options *so);

/* The process category: resident at start plus the code and libc state a
 * run touches later (calibrated, see budget.c). */
size_t ld_budget_process_bytes(const ld_budget_opts *b);

/* Plan a run over `images` (detect's order: decode, run, draw, one image
 * at a time), building the session in `mode` (LD_BUILD_STAGED for a run,
 * LD_BUILD_PLAN for `leandet plan`). The images category counts the
 * largest image: a lone image decodes before the arena is first touched,
 * so only what it holds beyond the arena counts; with several, the next
 * decode happens beside the live arena. When the largest image does not fit
 * but a smaller one does, the plan counts the largest that fits and
 * *allowance receives the bytes an image may need (else SIZE_MAX): larger
 * ones fail alone (ld_budget_image_refusal). costs[i] get each image's cost
 * (probed when there is a budget or mode is LD_BUILD_PLAN). */
leandet_status ld_budget_plan_run(const ld_budget_opts *b, const ld_run_shape *run, const char *const *images,
                                  int n_images, int draw, int mode, ld_image_cost *costs, size_t *allowance,
                                  leandet_session **s, leandet_plan_report *report, leandet_error *err);

/* Create the session of a run inside the budget (ld_budget_plan_run, then
 * allocate). A refusal is printed with its breakdown. Returns an exit code:
 * 0 created, 3 refused, 1 error (printed). */
int ld_budget_create_session(const ld_budget_opts *b, const ld_run_shape *run, const char *const *images, int n_images,
                             int draw, ld_image_cost *costs, size_t *allowance, leandet_plan_report *report,
                             leandet_session **out);

/* Plan a pipeline run (leandet_pipeline over many inputs) with the
 * pipeline options *po (sessions, threads_per_session, decode_workers,
 * prefetch, max_image_pixels, detect): the model and process once; each
 * session's own categories (session, weights, op state, arena, scratch,
 * its pool's stacks) and detector io times po->sessions; the pipeline's
 * buffers (ld_pipeline_plan_bytes: slots, decode buffers) under pipeline;
 * its threads' stacks; and per decode worker `image_extra`, what decoding
 * one image holds beyond its pixels (mapped file, codec state: the largest
 * of ld_image_cost.bytes - .held). report->fits says whether it fits
 * b->max_memory. The first session packs and folds the weights and the
 * others share them (share_weights), so those are counted once.
 * *sessions_total gets what the sessions count against their own limits
 * (their categories plus their margins), so that
 * po->max_memory = ld_pipeline_plan_bytes + *sessions_total lets the
 * pipeline check the same plan when it allocates. */
leandet_status ld_budget_plan_pipeline(const ld_budget_opts *b, const ld_run_shape *run,
                                       const leandet_pipeline_options *po, size_t image_extra,
                                       leandet_plan_report *report, size_t *sessions_total, leandet_error *err);

/* How `leandet detect` runs many inputs through the pipeline. */
typedef struct ld_pipeline_choice {
    int sessions;             /* --batch N (> 0), or 0/-1: choose, up to `most` */
    int most;                 /* auto: the most sessions to try (detect: --threads, at most the inputs) */
    int decoders;             /* decode workers to try first (one per thread, at most the
                                 inputs); 1 when the budget needs it. 0: 1 */
    int prefetch, fast_decode;
    const leandet_detect_options *detect; /* NULL: defaults */
    size_t max_pixels;        /* decode buffer (ld_budget_probe_images); 0: the pipeline's default */
    size_t image_extra;       /* what decoding one image holds beyond its pixels */
} ld_pipeline_choice;

/* The pipeline options for `sessions` sessions and `decoders` decode
 * workers: --threads split as threads/sessions per session (at least 1),
 * and --threads is the pipeline's thread budget (gate.h), so decoders and
 * sessions never compute on more threads than that at once. */
void ld_budget_pipeline_shape(const ld_budget_opts *b, const ld_pipeline_choice *c, int sessions, int decoders,
                              leandet_pipeline_options *po);

/* The decode buffer the pipeline needs for these images, in pixels (see
 * leandet_pipeline_options.max_image_pixels: two rows for images that are
 * resized as they decode, the decoded image for the others, at the JPEG
 * scale fast_decode picks), and what decoding one holds beyond its pixels;
 * images that cannot be probed are skipped (they fail alone). */
void ld_budget_probe_images(const ld_run_shape *run, int fast_decode, const char *const *images, int n,
                            size_t *max_pixels, size_t *extra);

/* Plan the pipeline with c->sessions sessions, or (auto) the most from
 * c->most down to 1 that fit b->max_memory. *po and *report are those of
 * the chosen count, or, when none fits, of the smallest tried
 * (report->fits 0). With a budget, po->max_memory is set so that the
 * pipeline checks the same plan when it allocates. */
leandet_status ld_budget_choose_sessions(const ld_budget_opts *b, const ld_run_shape *run, const ld_pipeline_choice *c,
                                         leandet_pipeline_options *po, leandet_plan_report *report,
                                         size_t *sessions_total, leandet_error *err);

/* The per-image refusal message into err (LEANDET_ERR_BUDGET). */
leandet_status ld_budget_image_refusal(const char *path, const ld_image_cost *c, size_t allowance,
                                       size_t max_memory, leandet_error *err);

/* "category  bytes" lines of a report, then the total. */
void ld_budget_print_breakdown(FILE *f, const leandet_plan_report *r);

/* The refusal of `what` (a model path): needs, budget, breakdown, would fit. */
void ld_budget_print_refusal(FILE *f, const char *what, const leandet_plan_report *r);

#endif

/* leandet detect: run a detection model on images, print one JSON line per
 * image, optionally draw the boxes and dump the exact tensors.
 *
 * Several inputs go through the ordered pipeline (decode workers feeding
 * sessions that share the model; results in input order). One input,
 * --draw and --dump-output run one image at a time on one session: drawing
 * needs the decoded image, which the pipeline does not keep (reloading it
 * in the result callback would decode every image twice), and the output
 * tensors live in a session the pipeline does not expose. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "budget.h"
#include "commands.h"
#include "detect_opts.h"
#include "detect/labels.h"
#include "image/draw.h"
#include "graph/budget.h"
#include "image/image.h"
#include "inputs.h"
#include "json.h"
#include "core/alloc.h"
#include "pipeline/pipeline.h"
#include "progress.h"
#include "tensor_dump.h"

static const char usage[] =
    "usage: leandet detect --model M.tflite [options] INPUT...\n"
    "\n"
    "INPUT: an image file; a directory (its regular files, sorted by name, not recursive,\n"
    "dot files skipped); @LIST (a file with one path per line); - (paths on stdin).\n"
    "Detect objects in each image (JPEG, PNG, BMP, PPM/PGM) and print one JSON line per image,\n"
    "in input order:\n"
    "  {\"image\":\"path\",\"width\":W,\"height\":H,\"detections\":[{\"class\":K,\"label\":\"person\",\n"
    "   \"score\":0.71,\"box\":[ymin,xmin,ymax,xmax]}]}\n"
    "Boxes are normalized to [0,1] in TFLite order; class is 0-based as the model emits it.\n"
    "An image that fails prints {\"image\":\"path\",\"error\":\"...\"} and the run continues.\n"
    "\n"
    "options:\n"
    "  --model M            .tflite detection model (required)\n"
    "  --labels L           label file: 'N name' lines, or one name per line (gaps: n/a or ?\?\?)\n"
    "  --threshold T        minimum score, 0..1 (default 0.5)\n"
    "  --iou I              NMS IoU threshold for decoders that run NMS (default: the model\n"
    "                       family's: 0.45 YOLO, 0.3 MediaPipe; the SSD op has its own)\n"
    "  --max-detections N   at most N detections per image (default 100)\n"
    "  --decoder D          auto|postprocess|blazeface|yolov5|yolov8 (default auto: from the outputs)\n"
    "  --anchors SPEC       MediaPipe anchors for raw SSD heads: a preset (blazeface-128,\n"
    "                       blazeface-full-192, palm-192, pose-224) or key=value list, e.g.\n"
    "                       strides=8:16:16:16,min_scale=0.1484375,max_scale=0.75,fixed_size=1\n"
    "  --resize R           auto|stretch|letterbox (default auto: letterbox for YOLO, else stretch)\n"
    LD_TILE_OPTS_USAGE
    "                       (one image at a time; the JSON line then says \"tiles\":N, the views run)\n"
    "  --draw OUT           write an annotated image (.png or .jpg); with several images OUT is a\n"
    "                       directory and each image is written as OUT/<name>.png\n"
    "  --dump-input DIR     write the exact input tensor fed to the model as DIR/<image name>.raw\n"
    "  --dump-output DIR    write the output tensors as DIR/<image name>/output_<i>.raw + outputs.json\n"
    "budget ('leandet plan' predicts the same numbers):\n"
    "%s"
    "  An image that does not fit the memory the rest of the run leaves fails alone.\n"
    "several images (the pipeline):\n"
    "  --batch N|auto       N sessions in flight, sharing the model file (default auto: as many\n"
    "                       as --threads, fewer if --max-memory needs it; auto prints its choice)\n"
    "  --threads N          at most N threads compute at once: N/sessions intra-op threads per\n"
    "                       session (at least 1) and a decode worker per thread (one if the\n"
    "                       budget needs it), each taking a thread only while it works\n"
    "  --prefetch N         images decoded ahead of inference (default 2; 0: none overlapped)\n"
    "  --fast-decode        decode large JPEGs at 1/2, 1/4 or 1/8 scale (DCT scaling) before the\n"
    "                       resize: faster, but the input tensor and detections differ slightly\n"
    "                       from the exact path\n"
    "  A progress bar (count, images/s, ETA) is drawn on stderr when it is a terminal.\n"
    "  One image, --draw and --dump-output run one image at a time on one session.\n"
    "\n"
    "exit codes: 0 all images done, 1 error (model, or every image failed), 2 usage error,\n"
    "            3 budget refused, 4 some images failed while others succeeded\n";

typedef struct detect_opts {
    const char *model, *labels, *draw, *dump_input, *dump_output;
    leandet_detect_options det;
    ld_budget_opts budget;
    int sessions;             /* --batch: N, or -1 auto */
    int prefetch;
    int fast_decode;
} detect_opts;

static int parse_choice(ld_args *a, const char *opt, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(a->value, names[i]) == 0) {
            *out = i;
            return 1;
        }
    ld_usage_error(a, "%s: unknown value '%s'", opt, a->value);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Draw target for one image: OUT itself for a single image, else OUT/<stem>.png. */
static void draw_path(const char *out, const char *image, int many, char *buf, size_t n)
{
    if (!many && !is_dir(out)) {
        snprintf(buf, n, "%s", out);
        return;
    }
    const char *b = base_name(image);
    const char *dot = strrchr(b, '.');
    int stem = dot && dot != b ? (int)(dot - b) : (int)strlen(b);
    snprintf(buf, n, "%s/%.*s.png", out, stem, b);
}

static void print_error_line(const char *image, const char *msg)
{
    fputs("{\"image\":", stdout);
    ld_json_string(stdout, image);
    fputs(",\"error\":", stdout);
    ld_json_string(stdout, msg);
    fputs("}\n", stdout);
    fprintf(stderr, "leandet: %s\n", msg);
}

/* tiles: views of a tiled run (0: not tiled, not printed). */
static void print_result(const char *image, int width, int height, const leandet_detection *d, int n,
                         const ld_labels *labels, int tiles)
{
    fputs("{\"image\":", stdout);
    ld_json_string(stdout, image);
    printf(",\"width\":%d,\"height\":%d,", width, height);
    if (tiles)
        printf("\"tiles\":%d,", tiles);
    fputs("\"detections\":[", stdout);
    for (int i = 0; i < n; i++) {
        printf("%s{\"class\":%d", i ? "," : "", d[i].class_id);
        const char *name = labels ? ld_labels_name(labels, d[i].class_id) : NULL;
        if (name) {
            fputs(",\"label\":", stdout);
            ld_json_string(stdout, name);
        }
        printf(",\"score\":%.6g,\"box\":[%.6g,%.6g,%.6g,%.6g]}", (double)d[i].score, (double)d[i].box[0],
               (double)d[i].box[1], (double)d[i].box[2], (double)d[i].box[3]);
    }
    fputs("]}\n", stdout);
    fflush(stdout);
}

/* One image: 0 on success, -1 on failure (already reported). */
static int run_image(const detect_opts *o, leandet_session *s, leandet_detector *det, const ld_labels *labels,
                     const char *path, int many, leandet_detection *dets, int cap, const ld_image_cost *cost,
                     size_t allowance)
{
    leandet_error err = {0};
    leandet_image img = {0};
    int count = 0, rc = -1;
    /* The pixels come from an accounted pool capped at what the plan left
     * for images: a file that lies about its size cannot take more. */
    ld_alloc pool;
    ld_alloc_init(&pool, NULL);
    pool.limit = allowance == SIZE_MAX ? 0 : allowance;
    leandet_allocator pixels = ld_alloc_public(&pool);
    if ((cost->need > allowance &&
         ld_budget_image_refusal(path, cost, allowance, o->budget.max_memory, &err) != LEANDET_OK) ||
        leandet_image_load_with(path, &pixels, &img, &err) != LEANDET_OK ||
        leandet_detector_run(det, &img, dets, cap, &count, &err) != LEANDET_OK) {
        print_error_line(path, err.message);
        goto done;
    }
    char out[4096];
    if (o->dump_input) {
        size_t n = 0;
        const void *in = leandet_session_input(s, 0, &n);
        snprintf(out, sizeof out, "%s/%s.raw", o->dump_input, base_name(path));
        if (ld_make_dirs(o->dump_input) != 0 || ld_write_file(out, in, n) != 0)
            goto done;
    }
    if (o->dump_output) {
        snprintf(out, sizeof out, "%s/%s", o->dump_output, base_name(path));
        if (ld_dump_tensors(s, out, 0) != 0)
            goto done;
    }
    print_result(path, img.width, img.height, dets, count, labels,
                 o->det.tile.rows ? leandet_detector_views(det) : 0);
    if (o->draw) {
        for (int i = count - 1; i >= 0; i--) /* best last, so its label is on top */
            ld_draw_detection(&img, &dets[i], labels ? ld_labels_name(labels, dets[i].class_id) : NULL);
        draw_path(o->draw, path, many, out, sizeof out);
        if (ld_image_save(out, &img, &err) != LEANDET_OK) {
            fprintf(stderr, "leandet: %s\n", err.message);
            goto done;
        }
    }
    rc = 0;
done:
    leandet_image_free_with(&img, &pixels);
    return rc;
}

static int parse(int argc, char **argv, detect_opts *o, const char ***images, int *n_images)
{
    static const char *const decoders[] = {"auto", "postprocess", "blazeface", "yolov5", "yolov8"};
    static const char *const resizes[] = {"auto", "stretch", "letterbox"};
    ld_args a;
    ld_args_init(&a, argc, argv);
    memset(o, 0, sizeof *o);
    ld_budget_init(&o->budget);
    o->prefetch = 2;
    o->budget.batch = -1; /* auto unless --batch says otherwise */
    leandet_detect_options_default(&o->det);
    *images = calloc((size_t)argc + 1, sizeof **images);
    *n_images = 0;
    if (!*images)
        return LD_EXIT_ERROR;
    int choice;
    while (ld_args_more(&a)) {
        const char *pos;
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            printf(usage, ld_budget_usage);
            return -1;
        } else if (ld_args_opt(&a, "--model")) {
            o->model = a.value;
        } else if (ld_args_opt(&a, "--labels")) {
            o->labels = a.value;
        } else if (ld_args_opt(&a, "--threshold")) {
            ld_parse_float(&a, "--threshold", 0.0f, 1.0f, &o->det.score_threshold);
        } else if (ld_args_opt(&a, "--iou")) {
            ld_parse_float(&a, "--iou", 0.0f, 1.0f, &o->det.iou_threshold);
        } else if (ld_args_opt(&a, "--max-detections")) {
            ld_parse_int(&a, "--max-detections", 1, 100000, &o->det.max_detections);
        } else if (ld_args_opt(&a, "--decoder")) {
            if (parse_choice(&a, "--decoder", decoders, 5, &choice))
                o->det.decoder = (leandet_decoder)choice;
        } else if (ld_args_opt(&a, "--anchors")) {
            o->det.anchors = a.value;
        } else if (ld_args_opt(&a, "--resize")) {
            if (parse_choice(&a, "--resize", resizes, 3, &choice))
                o->det.resize = (leandet_resize_mode)choice;
        } else if (ld_budget_parse(&a, &o->budget)) {
        } else if (ld_parse_tile_option(&a, &o->det.tile)) {
        } else if (ld_args_opt(&a, "--draw")) {
            o->draw = a.value;
        } else if (ld_args_opt(&a, "--dump-input")) {
            o->dump_input = a.value;
        } else if (ld_args_opt(&a, "--dump-output")) {
            o->dump_output = a.value;
        } else if (ld_args_opt(&a, "--prefetch")) {
            ld_parse_int(&a, "--prefetch", 0, LD_PIPELINE_MAX_PREFETCH, &o->prefetch);
        } else if (ld_args_flag(&a, "--fast-decode")) {
            o->fast_decode = 1;
        } else if ((pos = ld_args_positional(&a)) != NULL) {
            (*images)[(*n_images)++] = pos;
        } else if (!a.error) {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && !o->model)
        ld_usage_error(&a, "--model is required");
    if (!a.error && *n_images == 0)
        ld_usage_error(&a, "no image given");
    if (!a.error && o->budget.batch > LD_PIPELINE_MAX_WORKERS)
        ld_usage_error(&a, "--batch %d: at most %d sessions", o->budget.batch, LD_PIPELINE_MAX_WORKERS);
    /* --batch counts pipeline sessions here; each session runs one image per invoke */
    o->sessions = o->budget.batch;
    o->budget.batch = 1;
    if (!a.error) {
        int brc = ld_budget_resolve(&o->budget, "detect");
        if (brc != 0)
            return brc;
    }
    return a.error ? LD_EXIT_USAGE : LD_EXIT_OK;
}

/* What a run over the inputs shares with its helpers. */
typedef struct detect_run {
    const detect_opts *o;
    const leandet_model *model;
    const ld_labels *labels;
    ld_run_shape shape;
    const char *const *images;
    int n_images;
    int failed;
    ld_progress progress;
} detect_run;

/* One image at a time on one session (one input, --draw, --dump-output,
 * or a pipeline that does not fit the budget). Returns an exit code. */
static int run_sequential(detect_run *r)
{
    const detect_opts *o = r->o;
    leandet_error err = {0};
    leandet_session *session = NULL;
    leandet_detector *det = NULL;
    leandet_detection *dets = NULL;
    size_t allowance = SIZE_MAX;
    leandet_plan_report report;
    int rc = LD_EXIT_ERROR;
    ld_image_cost *costs = calloc((size_t)r->n_images, sizeof *costs);
    if (!costs) {
        fprintf(stderr, "leandet: out of memory\n");
        return LD_EXIT_ERROR;
    }
    rc = ld_budget_create_session(&o->budget, &r->shape, r->images, r->n_images, o->draw != NULL, costs, &allowance,
                                  &report, &session);
    if (rc != LD_EXIT_OK)
        goto done;
    rc = LD_EXIT_ERROR;
    if (leandet_detector_create(session, &o->det, &det, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        rc = err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
        goto done;
    }
    if (o->draw && r->n_images > 1 && ld_make_dirs(o->draw) != 0)
        goto done;
    dets = calloc((size_t)o->det.max_detections, sizeof *dets);
    if (!dets) {
        fprintf(stderr, "leandet: out of memory\n");
        goto done;
    }
    ld_progress_init(&r->progress, r->n_images);
    for (int i = 0; i < r->n_images; i++) {
        ld_progress_clear(&r->progress);
        r->failed += run_image(o, session, det, r->labels, r->images[i], r->n_images > 1, dets,
                               o->det.max_detections, &costs[i], allowance) != 0;
        if (r->n_images > 1)
            ld_progress_step(&r->progress);
    }
    if (r->n_images > 1)
        ld_progress_end(&r->progress);
    rc = LD_EXIT_OK;
done:
    free(dets);
    free(costs);
    leandet_detector_destroy(det);
    leandet_session_destroy(session);
    return rc;
}

/* The pipeline's result callback (its sink thread, in input order). */
static void on_result(void *user, const leandet_pipeline_result *res)
{
    detect_run *r = user;
    const detect_opts *o = r->o;
    ld_progress_clear(&r->progress);
    int ok = res->status == LEANDET_OK;
    if (ok && o->dump_input) {
        char out[4096];
        snprintf(out, sizeof out, "%s/%s.raw", o->dump_input, base_name(res->name));
        ok = ld_write_file(out, res->input, res->input_bytes) == 0;
    }
    if (ok)
        print_result(res->name, res->width, res->height, res->detections, res->count, r->labels, 0);
    else if (res->status != LEANDET_OK)
        print_error_line(res->name, res->error);
    r->failed += !ok;
    ld_progress_step(&r->progress);
}

#define LD_FALL_BACK (-1)

/* Choose sessions within the budget and fill *po. Returns 0, an exit code
 * (refusal printed), or LD_FALL_BACK when only the one-image-at-a-time
 * path may fit. */
static int plan_pipeline(const detect_run *r, leandet_pipeline_options *po)
{
    const detect_opts *o = r->o;
    int budget = o->budget.max_memory > 0, chosen = o->sessions > 0;
    ld_pipeline_choice c = {0};
    c.sessions = chosen ? o->sessions : 0;
    c.most = o->budget.threads > r->n_images ? r->n_images : o->budget.threads;
    c.most = c.most > LD_PIPELINE_MAX_WORKERS ? LD_PIPELINE_MAX_WORKERS : (c.most < 1 ? 1 : c.most);
    c.decoders = c.most;
    c.prefetch = o->prefetch;
    c.fast_decode = o->fast_decode;
    c.detect = &o->det;
    if (budget)
        ld_budget_probe_images(&r->shape, c.fast_decode, (const char *const *)r->images, r->n_images, &c.max_pixels,
                               &c.image_extra);
    int say = o->budget.batch_given && !chosen; /* --batch auto: print the choice */
    if (!budget && !say) { /* nothing to check: no need to plan */
        ld_budget_pipeline_shape(&o->budget, &c, chosen ? o->sessions : c.most, c.decoders, po);
        return 0;
    }
    leandet_plan_report report;
    size_t each = 0;
    leandet_error err = {0};
    if (ld_budget_choose_sessions(&o->budget, &r->shape, &c, po, &report, &each, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        return err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
    }
    if (!budget || report.fits) {
        if (say) {
            char b[32];
            fprintf(stderr, "batch auto: %d session%s (%s in all%s)\n", po->sessions, po->sessions > 1 ? "s" : "",
                    ld_fmt_bytes(each, b, sizeof b), po->sessions > 1 ? ", sharing their weights" : "");
        }
        return 0;
    }
    if (chosen) {
        ld_budget_print_refusal(stderr, leandet_model_path(r->model), &report);
        return LD_EXIT_BUDGET;
    }
    if (say)
        fprintf(stderr, "batch auto: 1 session, one image at a time (the pipeline does not fit --max-memory)\n");
    return LD_FALL_BACK;
}

/* The pipeline threads inherit this thread's CPUs: give it the whole
 * --affinity list (ld_budget_resolve pinned it to the first CPU). */
static void widen_affinity(const ld_budget_opts *b)
{
    if (b->n_cpus <= 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < b->n_cpus; i++)
        if (b->cpus[i] >= 0 && b->cpus[i] < CPU_SETSIZE)
            CPU_SET(b->cpus[i], &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        fprintf(stderr, "leandet: --affinity: cannot widen to the CPU list: %s\n", strerror(errno));
}

/* Several images through the ordered pipeline. Returns an exit code or
 * LD_FALL_BACK. */
static int run_pipeline(detect_run *r)
{
    const detect_opts *o = r->o;
    leandet_pipeline_options po;
    int rc = plan_pipeline(r, &po);
    if (rc != 0)
        return rc;
    if (o->dump_input && ld_make_dirs(o->dump_input) != 0)
        return LD_EXIT_ERROR;
    widen_affinity(&o->budget);
    leandet_error err = {0};
    leandet_pipeline *p = NULL;
    ld_progress_init(&r->progress, r->n_images);
    if (leandet_pipeline_create(r->model, &po, on_result, r, &p, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        return err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
    }
    rc = LD_EXIT_OK;
    for (int i = 0; i < r->n_images; i++) {
        leandet_pipeline_input in = {0};
        in.kind = LEANDET_INPUT_FILE;
        in.path = r->images[i];
        if (leandet_pipeline_submit(p, &in, &err) != LEANDET_OK) {
            /* a call error (e.g. a path too long), not a bad image: stop */
            leandet_pipeline_finish(p, NULL);
            ld_progress_clear(&r->progress);
            fprintf(stderr, "leandet: %s\n", err.message);
            rc = LD_EXIT_ERROR;
            break;
        }
    }
    if (rc == LD_EXIT_OK)
        leandet_pipeline_finish(p, NULL); /* every result has been delivered */
    leandet_pipeline_destroy(p);
    ld_progress_end(&r->progress);
    return rc;
}

int ld_cmd_detect(int argc, char **argv)
{
    detect_opts o;
    const char **args = NULL;
    int n_args = 0;
    int rc = parse(argc, argv, &o, &args, &n_args);
    if (rc != LD_EXIT_OK) {
        free(args);
        return rc < 0 ? LD_EXIT_OK : rc;
    }
    ld_input_list inputs;
    rc = ld_inputs_expand("detect", args, n_args, &inputs);
    free(args);
    if (rc != 0)
        return LD_EXIT_ERROR;
    if (inputs.n == 0) {
        fprintf(stderr, "leandet detect: no image in the inputs\n");
        ld_inputs_free(&inputs);
        return LD_EXIT_ERROR;
    }
    leandet_error err = {0};
    leandet_model *model = NULL;
    ld_alloc label_alloc;
    ld_labels labels = {0};
    int have_labels = 0;
    ld_alloc_init(&label_alloc, NULL);
    rc = LD_EXIT_ERROR;
    if (o.labels) {
        if (ld_labels_load(o.labels, &label_alloc, &labels, &err) != LEANDET_OK) {
            fprintf(stderr, "leandet: %s\n", err.message);
            goto done;
        }
        have_labels = 1;
    }
    if (leandet_model_open(o.model, NULL, &model, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        goto done;
    }
    detect_run run = {&o, model, have_labels ? &labels : NULL, {model, &o.det, label_alloc.current},
                      (const char *const *)inputs.paths, inputs.n, 0, {0}};
    rc = LD_FALL_BACK;
    /* the pipeline resizes inputs before inference: tiling needs the whole image */
    if (inputs.n > 1 && !o.draw && !o.dump_output && !o.det.tile.rows)
        rc = run_pipeline(&run);
    if (rc == LD_FALL_BACK) {
        run.failed = 0;
        rc = run_sequential(&run);
    }
    if (rc == LD_EXIT_OK && run.failed)
        rc = run.failed == inputs.n ? LD_EXIT_ERROR : LD_EXIT_PARTIAL;
done:
    ld_inputs_free(&inputs);
    leandet_model_close(model);
    if (have_labels)
        ld_labels_free(&labels, &label_alloc);
    return rc;
}

/* leandet eval: run a detection model over a dataset and compute COCO
 * mAP exactly as pycocotools does (src/tools/coco_eval.c), plus latency
 * and peak memory. Optionally write the detections as a COCO results file
 * so the numbers can be checked with pycocotools itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "detect_opts.h"
#include "detect/labels.h"
#include "json.h"
#include "tools/class_map.h"
#include "tools/coco_eval.h"
#include "tools/dataset.h"

static const char usage[] =
    "usage: leandet eval --model M.tflite --data DIR [options]\n"
    "\n"
    "COCO box mAP of a detection model on a dataset, computed as pycocotools' COCOeval does\n"
    "(AP@[.50:.95], AP50, AP75, AP small/medium/large, AR@1/10/100, AR small/medium/large).\n"
    "\n"
    "DIR is either\n"
    "  COCO layout  DIR/annotations/instances_<split>.json + DIR/images/<split>/ (or DIR/<split>/)\n"
    "  YOLO layout  DIR/data.yaml (names:) + DIR/images/<split>/ + DIR/labels/<split>/<stem>.txt\n"
    "               ('class cx cy w h' normalized). YOLO labels have no segmentation, so object\n"
    "               areas (small/medium/large) are box areas w*h in pixels; category ids are class+1;\n"
    "               image ids are the file stems when all are numbers (000000000139.jpg -> 139).\n"
    "Model classes are matched to dataset categories by name (case and '_' vs ' ' ignored) through\n"
    "the model's label file; unmatched names are reported.\n"
    "\n"
    "options:\n"
    "  --model M            .tflite detection model (required)\n"
    "  --data DIR           dataset folder (required)\n"
    "  --split S            image/label split (default val2017)\n"
    "  --labels L           the model's label file (class c -> name); without it model class c is\n"
    "                       taken as the dataset's c-th category\n"
    "  --layout L           auto|coco|yolo (default auto: COCO json if present, else data.yaml)\n"
    "  --results OUT.json   write the detections as a COCO results file (image_id, category_id of\n"
    "                       the dataset, bbox [x,y,w,h] in pixels, score)\n"
    "  --json               print one JSON object instead of the table:\n"
    "                       {\"map\",\"map50\",\"map75\",\"map_small\",\"map_medium\",\"map_large\",\"ar1\",\n"
    "                        \"ar10\",\"ar100\",\"ar_small\",\"ar_medium\",\"ar_large\",\"images\",\"objects\",\n"
    "                        \"detections\",\"latency_ms_mean\",\"latency_ms_median\",\"peak_rss_bytes\"}\n"
    "                       (-1 where there is nothing to average, as pycocotools)\n"
    "  --per-class          also print AP and AP50 per category\n"
    "  --limit N            evaluate only the first N images (in image id order)\n"
    "  --threshold T        minimum detection score, 0..1 (default 0.001, as COCO evaluations use)\n"
    "  --iou I              NMS IoU threshold for decoders that run NMS (default: the model's)\n"
    "  --max-detections N   detections kept per image (default 100, as COCO's maxDets)\n"
    "  --decoder D          auto|postprocess|blazeface|yolov5|yolov8\n"
    "  --resize R           auto|stretch|letterbox\n"
    LD_TILE_OPTS_USAGE
    "  --threads N          session threads (default 1)\n"
    "  --max-memory BYTES   refuse to run if the session needs more (K/M/G suffixes)\n"
    "  --quiet              no warnings or progress bar on stderr\n"
    "\n"
    "Latency is the detector's time per image (preprocess + inference + decode), image decoding\n"
    "excluded. A progress bar is drawn when stderr is a terminal.\n"
    "\n"
    "exit codes: 0 done, 1 error, 2 usage error, 3 budget refused, 4 some images failed (left out)\n";

typedef struct eval_opts {
    const char *model, *data, *split, *labels, *results;
    ld_dataset_layout layout;
    int json, per_class, quiet, limit, threads;
    leandet_detect_options det;
    size_t max_memory;
} eval_opts;

/* What the run collected: the evaluation input plus timing. */
typedef struct eval_run {
    int64_t *image_ids;  /* evaluated images */
    int *image_index;    /* their dataset index */
    int n_images;
    ld_coco_dt *dt;
    size_t n_dt, cap_dt;
    ld_coco_gt *gt;
    size_t n_gt;
    double *latency_ms;
    int failed, dropped;  /* images that failed; detections of unmatched classes */
} eval_run;

static int parse(int argc, char **argv, eval_opts *o)
{
    static const char *const layouts[] = {"auto", "yolo", "coco"};
    ld_args a;
    ld_args_init(&a, argc, argv);
    memset(o, 0, sizeof *o);
    leandet_detect_options_default(&o->det);
    o->det.score_threshold = 0.001f;
    o->det.max_detections = 100;
    o->split = "val2017";
    o->threads = 1;
    int choice;
    while (ld_args_more(&a)) {
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            fputs(usage, stdout);
            return -1;
        } else if (ld_args_opt(&a, "--model")) {
            o->model = a.value;
        } else if (ld_args_opt(&a, "--data")) {
            o->data = a.value;
        } else if (ld_args_opt(&a, "--split")) {
            o->split = a.value;
        } else if (ld_args_opt(&a, "--labels")) {
            o->labels = a.value;
        } else if (ld_args_opt(&a, "--results")) {
            o->results = a.value;
        } else if (ld_args_opt(&a, "--layout")) {
            if (ld_parse_choice(&a, "--layout", layouts, 3, &choice))
                o->layout = (ld_dataset_layout)choice;
        } else if (ld_args_flag(&a, "--json")) {
            o->json = 1;
        } else if (ld_args_flag(&a, "--per-class")) {
            o->per_class = 1;
        } else if (ld_args_flag(&a, "--quiet")) {
            o->quiet = 1;
        } else if (ld_args_opt(&a, "--limit")) {
            ld_parse_int(&a, "--limit", 1, 100000000, &o->limit);
        } else if (ld_parse_detect_option(&a, &o->det)) {
        } else if (ld_parse_tile_option(&a, &o->det.tile)) {
            /* --threshold --iou --max-detections --decoder --resize, as detect */
        } else if (ld_args_opt(&a, "--threads")) {
            ld_parse_int(&a, "--threads", 1, 256, &o->threads);
        } else if (ld_args_opt(&a, "--max-memory")) {
            ld_parse_bytes(&a, "--max-memory", &o->max_memory);
        } else if (!a.error) {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && !o->model)
        ld_usage_error(&a, "--model is required");
    if (!a.error && !o->data)
        ld_usage_error(&a, "--data is required");
    return a.error ? LD_EXIT_USAGE : LD_EXIT_OK;
}

static void warn(void *ctx, const char *msg)
{
    const eval_opts *o = ctx;
    if (!o->quiet) /* on a terminal, first clear the progress bar's line */
        fprintf(stderr, "%sleandet eval: warning: %s\n", isatty(STDERR_FILENO) ? "\r\033[K" : "", msg);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void progress(int done, int total, double t0)
{
    enum { WIDTH = 30 };
    int fill = total ? (int)((long long)done * WIDTH / total) : WIDTH;
    double s = (now_ms() - t0) / 1e3;
    fprintf(stderr, "\r\033[K%6d/%d [", done, total);
    for (int i = 0; i < WIDTH; i++)
        fputc(i < fill ? '=' : i == fill ? '>' : ' ', stderr);
    fprintf(stderr, "] %.1f img/s", s > 0 ? done / s : 0.0);
    fflush(stderr);
}

/* Names of a list of model classes or dataset categories, for notes. */
static void note_names(const eval_opts *o, const char *what, const int *ids, int n, const ld_labels *labels,
                       const ld_dataset *ds)
{
    if (o->quiet || n == 0)
        return;
    fprintf(stderr, "leandet eval: note: %d %s:", n, what);
    for (int i = 0; i < n && i < 12; i++)
        fprintf(stderr, "%s '%s'", i ? "," : "", labels ? labels->names[ids[i]] : ds->categories[ids[i]].name);
    fprintf(stderr, "%s\n", n > 12 ? ", ..." : "");
}

static int add_dt(eval_run *r, const ld_coco_dt *d)
{
    if (r->n_dt == r->cap_dt) {
        size_t cap = r->cap_dt ? r->cap_dt * 2 : 1024;
        ld_coco_dt *p = cap < SIZE_MAX / sizeof *p ? realloc(r->dt, cap * sizeof *p) : NULL;
        if (!p)
            return -1;
        r->dt = p;
        r->cap_dt = cap;
    }
    r->dt[r->n_dt++] = *d;
    return 0;
}

/* Detect on every image; fills r. Returns an exit code. */
static int run_images(const eval_opts *o, ld_dataset *ds, const ld_class_map *map, leandet_detector *det, eval_run *r)
{
    int n = o->limit && o->limit < ds->n_images ? o->limit : ds->n_images;
    leandet_detection *dets = calloc((size_t)o->det.max_detections, sizeof *dets);
    r->image_ids = calloc((size_t)n + 1, sizeof *r->image_ids);
    r->image_index = calloc((size_t)n + 1, sizeof *r->image_index);
    r->latency_ms = calloc((size_t)n + 1, sizeof *r->latency_ms);
    if (!dets || !r->image_ids || !r->image_index || !r->latency_ms) {
        free(dets);
        fprintf(stderr, "leandet eval: out of memory\n");
        return LD_EXIT_ERROR;
    }
    int bar = !o->quiet && isatty(STDERR_FILENO);
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        if (bar)
            progress(i, n, t0);
        ld_dataset_image *im = &ds->images[i];
        leandet_error err = {0};
        leandet_image img = {0};
        int count = 0;
        if (leandet_image_load(im->path, &img, &err) != LEANDET_OK) {
            warn((void *)o, err.message);
            r->failed++;
            continue;
        }
        if (ds->layout == LD_DATASET_COCO && im->width && (im->width != img.width || im->height != img.height)) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s: the json says %dx%d, the file is %dx%d", im->path, im->width,
                     im->height, img.width, img.height);
            warn((void *)o, msg);
        }
        ld_dataset_set_image_size(ds, i, img.width, img.height);
        double t = now_ms();
        leandet_status st = leandet_detector_run(det, &img, dets, o->det.max_detections, &count, &err);
        double ms = now_ms() - t;
        leandet_image_free(&img);
        if (st != LEANDET_OK) {
            warn((void *)o, err.message);
            r->failed++;
            continue;
        }
        int e = r->n_images;
        r->image_ids[e] = im->id;
        r->image_index[e] = i;
        r->latency_ms[e] = ms;
        r->n_images++;
        const double W = ds->images[i].width, H = ds->images[i].height;
        for (int k = 0; k < count; k++) {
            int cat = ld_class_map_get(map, dets[k].class_id);
            if (cat < 0) {
                r->dropped++;
                continue;
            }
            const float *b = dets[k].box; /* ymin, xmin, ymax, xmax normalized */
            ld_coco_dt d = {e, cat, {b[1] * W, b[0] * H, ((double)b[3] - b[1]) * W, ((double)b[2] - b[0]) * H},
                            dets[k].score};
            if (add_dt(r, &d) != 0) {
                free(dets);
                fprintf(stderr, "leandet eval: out of memory\n");
                return LD_EXIT_ERROR;
            }
        }
    }
    if (bar) {
        progress(n, n, t0);
        fputc('\n', stderr);
    }
    free(dets);
    if (n > 0 && r->failed == n) {
        fprintf(stderr, "leandet eval: every image failed\n");
        return LD_EXIT_ERROR;
    }
    return LD_EXIT_OK;
}

/* Ground truth of the evaluated images, in COCOeval's terms. */
static int collect_gt(const ld_dataset *ds, eval_run *r)
{
    size_t n = 0;
    for (int e = 0; e < r->n_images; e++)
        n += ds->images[r->image_index[e]].n_anns;
    r->gt = calloc(n ? n : 1, sizeof *r->gt);
    if (!r->gt)
        return -1;
    for (int e = 0; e < r->n_images; e++) {
        const ld_dataset_image *im = &ds->images[r->image_index[e]];
        for (size_t k = 0; k < im->n_anns; k++) {
            const ld_dataset_ann *a = &ds->anns[im->first_ann + k];
            ld_coco_gt *g = &r->gt[r->n_gt++];
            g->image = e;
            g->category = a->category;
            g->iscrowd = a->iscrowd;
            g->id = a->id;
            memcpy(g->bbox, a->bbox, sizeof g->bbox);
            g->area = a->area;
        }
    }
    return 0;
}

/* COCO results file; %.17g so pycocotools reads back the very doubles we
 * evaluated (ties and IoU thresholds are decided on exact values). */
static int write_results(const char *path, const ld_dataset *ds, const eval_run *r)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "leandet eval: %s: path too long\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "leandet eval: %s: cannot write: %s\n", tmp, strerror(errno));
        return -1;
    }
    fputc('[', f);
    for (size_t i = 0; i < r->n_dt; i++) {
        const ld_coco_dt *d = &r->dt[i];
        fprintf(f, "%s\n{\"image_id\":%lld,\"category_id\":%lld,\"bbox\":[%.17g,%.17g,%.17g,%.17g],\"score\":%.17g}",
                i ? "," : "", (long long)r->image_ids[d->image], (long long)ds->categories[d->category].id,
                d->bbox[0], d->bbox[1], d->bbox[2], d->bbox[3], d->score);
    }
    fputs("\n]\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "leandet eval: %s: write failed: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void latency_stats(const eval_run *r, double *mean, double *median)
{
    *mean = *median = 0;
    if (r->n_images == 0)
        return;
    double sum = 0;
    for (int i = 0; i < r->n_images; i++)
        sum += r->latency_ms[i];
    *mean = sum / r->n_images;
    double *v = malloc((size_t)r->n_images * sizeof *v);
    if (!v)
        return;
    memcpy(v, r->latency_ms, (size_t)r->n_images * sizeof *v);
    qsort(v, (size_t)r->n_images, sizeof *v, cmp_double);
    int n = r->n_images;
    *median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    free(v);
}

static long long peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (long long)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

static void report(const eval_opts *o, const ld_dataset *ds, const eval_run *r, const double *stats,
                   const ld_coco_category_result *cats)
{
    double mean, median;
    latency_stats(r, &mean, &median);
    long long rss = peak_rss_bytes();
    if (o->json) {
        static const char *const keys[LD_COCO_NSTATS] = {"map", "map50", "map75", "map_small", "map_medium",
                                                         "map_large", "ar1", "ar10", "ar100", "ar_small",
                                                         "ar_medium", "ar_large"};
        putchar('{');
        for (int i = 0; i < LD_COCO_NSTATS; i++)
            printf("%s\"%s\":%.12g", i ? "," : "", keys[i], stats[i]);
        printf(",\"images\":%d,\"objects\":%zu,\"detections\":%zu,\"latency_ms_mean\":%.3f,"
               "\"latency_ms_median\":%.3f,\"peak_rss_bytes\":%lld}\n",
               r->n_images, r->n_gt, r->n_dt, mean, median, rss);
        return;
    }
    printf("model    %s\n", o->model);
    printf("dataset  %s (%s layout, split %s): %d images, %zu objects, %d categories\n", o->data,
           ld_dataset_layout_name(ds->layout), o->split, r->n_images, r->n_gt, ds->n_categories);
    printf("detections %zu (score >= %g, at most %d per image)\n\n", r->n_dt, (double)o->det.score_threshold,
           o->det.max_detections);
    for (int i = 0; i < LD_COCO_NSTATS; i++)
        printf(" %-18s %s = %.3f\n", i < LD_COCO_AR1 ? "Average Precision  (AP)" : "Average Recall     (AR)",
               ld_coco_stat_name(i) + 3, stats[i]);
    if (o->per_class) {
        printf("\n%-20s %7s %7s %7s %7s\n", "category", "objects", "dets", "AP", "AP50");
        for (int k = 0; k < ds->n_categories; k++) {
            if (cats[k].n_gt == 0 && cats[k].n_dt == 0)
                continue;
            printf("%-20.20s %7d %7d ", ds->categories[k].name, cats[k].n_gt, cats[k].n_dt);
            if (cats[k].ap < 0)
                printf("%7s %7s\n", "-", "-");
            else
                printf("%7.3f %7.3f\n", cats[k].ap, cats[k].ap50);
        }
    }
    printf("\nlatency  mean %.2f ms, median %.2f ms per image (preprocess + inference + decode)\n", mean, median);
    printf("peak RSS %.1f MiB\n", rss / (1024.0 * 1024.0));
}

int ld_cmd_eval(int argc, char **argv)
{
    eval_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != LD_EXIT_OK)
        return rc < 0 ? LD_EXIT_OK : rc;
    ld_alloc alloc;
    ld_alloc_init(&alloc, NULL);
    leandet_error err = {0};
    ld_dataset ds = {0};
    ld_labels labels = {0};
    ld_class_map map = {0};
    eval_run run = {0};
    ld_coco_category_result *cats = NULL;
    leandet_model *model = NULL;
    leandet_session *session = NULL;
    leandet_detector *det = NULL;
    int have_ds = 0, have_labels = 0;
    rc = LD_EXIT_ERROR;

    if (ld_dataset_open(o.data, o.split, o.layout, &alloc, warn, &o, &ds, &err) != LEANDET_OK)
        goto fail;
    have_ds = 1;
    if (o.labels) {
        if (ld_labels_load(o.labels, &alloc, &labels, &err) != LEANDET_OK)
            goto fail;
        have_labels = 1;
    } else if (!o.quiet) {
        fprintf(stderr, "leandet eval: note: no --labels: model class c is taken as dataset category c "
                        "(%d categories, first '%s')\n", ds.n_categories,
                ds.n_categories ? ds.categories[0].name : "");
    }
    if (ld_class_map_build(have_labels ? &labels : NULL, &ds, &alloc, &map, &err) != LEANDET_OK)
        goto fail;
    note_names(&o, "model classes match no dataset category (their detections are left out)",
               map.unmatched_model, map.n_unmatched_model, have_labels ? &labels : NULL, &ds);
    note_names(&o, "dataset categories match no model class (AP 0 where they have objects)",
               map.unmatched_dataset, map.n_unmatched_dataset, NULL, &ds);
    if (ds.n_images == 0) {
        fprintf(stderr, "leandet eval: %s: no images in split '%s'\n", o.data, o.split);
        goto done;
    }

    leandet_session_options so = {0};
    so.max_memory = o.max_memory;
    so.threads = o.threads;
    if (leandet_model_open(o.model, NULL, &model, &err) != LEANDET_OK ||
        leandet_session_create(model, &so, &session, &err) != LEANDET_OK ||
        leandet_detector_create(session, &o.det, &det, &err) != LEANDET_OK) {
        if (err.status == LEANDET_ERR_BUDGET)
            rc = LD_EXIT_BUDGET;
        goto fail;
    }
    if ((rc = run_images(&o, &ds, &map, det, &run)) != LD_EXIT_OK)
        goto done;
    rc = LD_EXIT_ERROR;
    if (collect_gt(&ds, &run) != 0 || !(cats = calloc((size_t)ds.n_categories + 1, sizeof *cats))) {
        fprintf(stderr, "leandet eval: out of memory\n");
        goto done;
    }
    if (o.results && write_results(o.results, &ds, &run) != 0)
        goto done;
    ld_coco_input in = {run.n_images, run.image_ids, ds.n_categories, run.gt, run.n_gt, run.dt, run.n_dt};
    double stats[LD_COCO_NSTATS];
    if (ld_coco_evaluate(&in, &alloc, stats, cats, &err) != LEANDET_OK)
        goto fail;
    report(&o, &ds, &run, stats, cats);
    if (!o.quiet && run.failed)
        fprintf(stderr, "leandet eval: %d images failed and were left out of the evaluation\n", run.failed);
    rc = run.failed ? LD_EXIT_PARTIAL : LD_EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "leandet eval: %s\n", err.message);
done:
    leandet_detector_destroy(det);
    leandet_session_destroy(session);
    leandet_model_close(model);
    ld_class_map_free(&map, &alloc);
    if (have_labels)
        ld_labels_free(&labels, &alloc);
    if (have_ds)
        ld_dataset_free(&ds);
    free(run.image_ids);
    free(run.image_index);
    free(run.latency_ms);
    free(run.dt);
    free(run.gt);
    free(cats);
    return rc;
}

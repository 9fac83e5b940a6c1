/* leandet detect: run a detection model on images, print one JSON line per
 * image, optionally draw the boxes and dump the exact tensors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "budget.h"
#include "commands.h"
#include "detect/labels.h"
#include "image/draw.h"
#include "image/image.h"
#include "json.h"
#include "tensor_dump.h"

static const char usage[] =
    "usage: leandet detect --model M.tflite [options] IMAGE...\n"
    "\n"
    "Detect objects in each IMAGE (JPEG, PNG, BMP, PPM/PGM) and print one JSON line per image:\n"
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
    "  --draw OUT           write an annotated image (.png or .jpg); with several images OUT is a\n"
    "                       directory and each image is written as OUT/<name>.png\n"
    "  --dump-input DIR     write the exact input tensor fed to the model as DIR/<image name>.raw\n"
    "  --dump-output DIR    write the output tensors as DIR/<image name>/output_<i>.raw + outputs.json\n"
    "budget ('leandet plan' predicts the same numbers):\n"
    "%s"
    "  An image that does not fit the memory the rest of the run leaves fails alone.\n"
    "\n"
    "exit codes: 0 all images done, 1 error (model, or every image failed), 2 usage error,\n"
    "            3 budget refused, 4 some images failed while others succeeded\n";

typedef struct detect_opts {
    const char *model, *labels, *draw, *dump_input, *dump_output;
    leandet_detect_options det;
    ld_budget_opts budget;
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

static void print_result(const char *image, const leandet_image *img, const leandet_detection *d, int n,
                         const ld_labels *labels)
{
    fputs("{\"image\":", stdout);
    ld_json_string(stdout, image);
    printf(",\"width\":%d,\"height\":%d,\"detections\":[", img->width, img->height);
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
    if ((cost->need > allowance &&
         ld_budget_image_refusal(path, cost, allowance, o->budget.max_memory, &err) != LEANDET_OK) ||
        leandet_image_load(path, &img, &err) != LEANDET_OK ||
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
    print_result(path, &img, dets, count, labels);
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
    leandet_image_free(&img);
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
        } else if (ld_args_opt(&a, "--draw")) {
            o->draw = a.value;
        } else if (ld_args_opt(&a, "--dump-input")) {
            o->dump_input = a.value;
        } else if (ld_args_opt(&a, "--dump-output")) {
            o->dump_output = a.value;
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
    if (!a.error && o->budget.batch > 1)
        ld_usage_error(&a, "--batch %d: detect decodes one image per invoke; plan larger batches with "
                           "'leandet plan --batch'", o->budget.batch);
    o->budget.batch = 1;
    if (!a.error) {
        int brc = ld_budget_resolve(&o->budget, "detect");
        if (brc != 0)
            return brc;
    }
    return a.error ? LD_EXIT_USAGE : LD_EXIT_OK;
}

int ld_cmd_detect(int argc, char **argv)
{
    detect_opts o;
    const char **images = NULL;
    int n_images = 0;
    int rc = parse(argc, argv, &o, &images, &n_images);
    if (rc != LD_EXIT_OK) {
        free(images);
        return rc < 0 ? LD_EXIT_OK : rc;
    }
    leandet_error err = {0};
    leandet_model *model = NULL;
    leandet_session *session = NULL;
    leandet_detector *det = NULL;
    leandet_detection *dets = NULL;
    ld_image_cost *costs = NULL;
    size_t allowance = SIZE_MAX;
    leandet_plan_report report;
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
    costs = calloc((size_t)n_images, sizeof *costs);
    if (!costs) {
        fprintf(stderr, "leandet: out of memory\n");
        goto done;
    }
    ld_run_shape run = {model, &o.det, label_alloc.current};
    rc = ld_budget_create_session(&o.budget, &run, (const char *const *)images, n_images, o.draw != NULL, costs,
                                  &allowance, &report, &session);
    if (rc != LD_EXIT_OK)
        goto done;
    rc = LD_EXIT_ERROR;
    if (leandet_detector_create(session, &o.det, &det, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        rc = err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
        goto done;
    }
    if (o.draw && n_images > 1 && ld_make_dirs(o.draw) != 0)
        goto done;
    dets = calloc((size_t)o.det.max_detections, sizeof *dets);
    if (!dets) {
        fprintf(stderr, "leandet: out of memory\n");
        goto done;
    }
    int failed = 0;
    for (int i = 0; i < n_images; i++)
        failed += run_image(&o, session, det, have_labels ? &labels : NULL, images[i], n_images > 1, dets,
                            o.det.max_detections, &costs[i], allowance) != 0;
    rc = failed == 0 ? LD_EXIT_OK : (failed == n_images ? LD_EXIT_ERROR : LD_EXIT_PARTIAL);
done:
    free(dets);
    free(costs);
    free(images);
    leandet_detector_destroy(det);
    leandet_session_destroy(session);
    leandet_model_close(model);
    if (have_labels)
        ld_labels_free(&labels, &label_alloc);
    return rc;
}

/* leandet quantize / leandet dequantize: rewrite a model and write it as a
 * new .tflite file. The output is written to a temporary file next to it
 * and renamed into place only once complete, and only after leandet's own
 * reader has accepted the bytes: a failure never leaves a partial file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "leandet.h"
#include "model/model.h"
#include "runtime/model_internal.h"
#include "tensor_dump.h"
#include "json.h"
#include "model/ops.h"
#include "tools/calibrate.h"
#include "tools/model_edit.h"
#include "tools/quant_report.h"
#include "tools/quantize.h"
#include "tools/tflite_writer.h"

static const char quantize_usage[] =
    "usage: leandet quantize [--mode dynamic|int8|none] IN.tflite OUT.tflite\n"
    "       leandet quantize --mode int8 --calibration DIR [--count N] [--io float|uint8|int8]\n"
    "                        [--calibration-method minmax|percentile[:P]]\n"
    "                        [--keep-float OP_OR_TENSOR[,...]] [--report] [--report-json FILE]\n"
    "                        [--report-images DIR] [--report-count K] IN.tflite OUT.tflite\n"
    "\n"
    "Write a quantized copy of a float model.\n"
    "  --mode dynamic  (default) dynamic-range quantization, as TensorFlow Lite's converter\n"
    "                  does it: the weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED\n"
    "                  with at least 1024 elements become int8, one scale per output channel;\n"
    "                  activations stay float32 and those operators run as hybrid kernels.\n"
    "                  Float16 weights are expanded to float32 first.\n"
    "  --mode int8     full-integer post-training quantization, TensorFlow Lite's scheme:\n"
    "                  the float model runs on the images of --calibration DIR (first --count\n"
    "                  N by name, default 100; same preprocessing as detect) to find the range\n"
    "                  of every activation; activations become int8 (asymmetric, per tensor),\n"
    "                  weights int8 (symmetric, per output channel), biases int32. The\n"
    "                  detection post-process stays float behind DEQUANTIZE. Float16 weights\n"
    "                  are expanded and quantized like float ones. CONCATENATION inputs share\n"
    "                  the output's parameters (a requantizing QUANTIZE where they cannot).\n"
    "    --calibration-method minmax (default): each range spans the extremes seen;\n"
    "                  percentile[:P] (P default 99.99): each tensor's values are histogrammed\n"
    "                  (2 x 1024 bins, 16 KiB per tensor) and the range clips the (100-P)%\n"
    "                  lowest and the (100-P)% highest values (low and high tails separately)\n"
    "    --io float    (default) the model's inputs and outputs stay float32 (QUANTIZE and\n"
    "                  DEQUANTIZE inside); uint8 or int8: they become quantized\n"
    "    --keep-float  operators kept float (DEQUANTIZE before, QUANTIZE after): operator\n"
    "                  name (LOGISTIC), index (#12: 0-based place in the model's operator\n"
    "                  list, as the report's op column shows it), or the name of an output\n"
    "                  tensor; comma-separated, repeatable; a name matching nothing is refused\n"
    "    --report      after writing OUT, run the float and the int8 model on K images\n"
    "                  (--report-images DIR, default the calibration images; --report-count K,\n"
    "                  default 8) and print the SNR of every operator output, worst first,\n"
    "                  SNR = 10 log10(sum x^2 / sum (x - q)^2), and how many detections agree\n"
    "    --report-json FILE  the same report as JSON (implies --report). A report that\n"
    "                  fails (exit 1) leaves OUT written.\n"
    "  --mode none     no change: the model read and written back by leandet (any model;\n"
    "                  checks that leandet can rewrite it)\n"
    "A model that is already quantized, or that uses an operator the quantizer does not\n"
    "know, is refused. OUT is replaced only when the whole file has been written.\n";

static const char dequantize_usage[] =
    "usage: leandet dequantize IN.tflite OUT.tflite\n"
    "\n"
    "Write the float32 equivalent of a uint8/int8 (or hybrid) model: every quantized\n"
    "tensor becomes float32 holding its real values, QUANTIZE/DEQUANTIZE operators between\n"
    "activations disappear. The input then takes real values (for the SSD model: [-1, 1]).\n"
    "OUT is replaced only when the whole file has been written.\n";

typedef leandet_status (*rewrite_fn)(ld_edit *e, ld_quant_report *r);

/* What --mode int8 needs besides the edit. */
typedef struct int8_job {
    const char *calibration;
    int count;
    ld_int8_io io;
    ld_calib_method method;
    double percentile;
    const char *keep[64];
    int n_keep;
    int report;                /* --report or --report-json */
    const char *report_json;
    const char *report_images; /* NULL: the calibration images */
    int report_count;
} int8_job;

static leandet_status rewrite_none(ld_edit *e, ld_quant_report *r)
{
    memset(r, 0, sizeof *r);
    r->const_bytes_before = r->const_bytes_after = ld_quant_const_bytes(&e->m);
    return LEANDET_OK;
}

static int exit_code(leandet_status st)
{
    return st == LEANDET_OK ? LD_EXIT_OK : LD_EXIT_ERROR;
}

/* Parse the written bytes with leandet's own reader before they go to disk. */
static leandet_status check_written(const uint8_t *bytes, size_t size, const char *out, ld_alloc *a,
                                    leandet_error *err)
{
    ld_model_desc chk;
    leandet_status st = ld_tflite_parse(bytes, size, out, a, &chk, err);
    if (st != LEANDET_OK) {
        ld_fail_prefix(err, LEANDET_ERR_INTERNAL, "the written model does not parse: ");
        return LEANDET_ERR_INTERNAL;
    }
    ld_model_desc_free(&chk, a);
    return LEANDET_OK;
}

static void report(const char *cmd, rewrite_fn rewrite, const char *in, const char *out, size_t in_size,
                   size_t out_size, const ld_quant_report *r)
{
    if (!rewrite)
        printf("%s -> %s: int8: %d constants quantized, %d operators int8, %d QUANTIZE/DEQUANTIZE added%s", in,
               out, r->weights, r->hybrid_ops, r->added_ops, r->folded ? ", float16 weights folded" : "");
    else if (rewrite == rewrite_none)
        printf("%s -> %s: rewritten unchanged", in, out);
    else if (strcmp(cmd, "quantize") == 0)
        printf("%s -> %s: dynamic-range: %d weight tensors int8 per channel, %d hybrid operators, "
               "%d float16 DEQUANTIZE folded",
               in, out, r->weights, r->hybrid_ops, r->folded);
    else
        printf("%s -> %s: float32: %d tensors dequantized (%d constants), %d QUANTIZE/DEQUANTIZE removed, "
               "%d implied activations made explicit",
               in, out, r->tensors, r->weights, r->removed_ops, r->clamps);
    printf("; constants %zu -> %zu bytes; file %zu -> %zu bytes\n", r->const_bytes_before, r->const_bytes_after,
           in_size, out_size);
}

/* Calibrate the float model, then quantize the edit. */
static leandet_status rewrite_int8(const int8_job *job, const leandet_model *model, ld_edit *e, ld_quant_report *r,
                                   leandet_error *err)
{
    const ld_model_desc *m = ld_model_desc_of(model);
    ld_calib_range *ranges = ld_calloc(e->alloc, (size_t)m->n_tensors + 1, sizeof *ranges);
    if (!ranges)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "out of memory for calibration ranges");
    ld_int8_options o = {ranges, job->io, job->keep, job->n_keep};
    leandet_status st = ld_quantize_int8_check(e, &o);
    if (st != LEANDET_OK) {
        ld_free(e->alloc, ranges);
        return st;
    }
    ld_calib_options co = {job->calibration, job->count, 1, job->method, job->percentile, e->alloc};
    ld_calib_stats cs;
    st = ld_calibrate(model, &co, ranges, &cs, err);
    if (st == LEANDET_OK) {
        fprintf(stderr, "calibration: %d images from %s", cs.used, job->calibration);
        if (job->method == LD_CALIB_PERCENTILE)
            fprintf(stderr, "; percentile %g: %d histograms, %zu KiB", job->percentile, cs.histograms,
                    (cs.hist_bytes + 1023) / 1024);
        fputc('\n', stderr);
        st = ld_quantize_int8(e, &o, r);
    }
    ld_free(e->alloc, ranges);
    return st;
}

static void print_layers(const ld_qr_result *q)
{
    printf("per-layer SNR of the int8 outputs vs float, %d images, worst first (dB; %g = exact; op: index\n"
           "in the float model, as --keep-float takes it):\n",
           q->images, LD_QR_SNR_CAP);
    printf("%5s %5s  %-24s %8s  %s\n", "rank", "op", "type", "SNR", "tensor");
    for (int i = 0; i < q->n_layers; i++) {
        const ld_qr_layer *l = &q->layers[i];
        char nb[32], idx[16];
        snprintf(idx, sizeof idx, "#%d", l->float_op);
        printf("%5d %5s  %-24s %8.2f  %s%s\n", i + 1, idx, ld_op_name(l->builtin, nb, sizeof nb), l->snr_db,
               l->tensor, l->kept_float ? " (float)" : "");
    }
    printf("detections (default threshold): float %d, int8 %d, matched %d (same class, IoU >= 0.5)\n",
           q->det_float, q->det_quant, q->det_matched);
    if (q->unmatched)
        printf("%d operator outputs have no float tensor of the same name and size (not compared)\n",
               q->unmatched);
}

static int write_report_json(const char *path, const ld_qr_result *q)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "{\"images\": %d, \"snr_cap_db\": %g, \"detections\": {\"float\": %d, \"int8\": %d, "
               "\"matched\": %d}, \"unmatched\": %d, \"layers\": [",
            q->images, LD_QR_SNR_CAP, q->det_float, q->det_quant, q->det_matched, q->unmatched);
    for (int i = 0; i < q->n_layers; i++) {
        const ld_qr_layer *l = &q->layers[i];
        char nb[32];
        fprintf(f, "%s\n  {\"op\": %d, \"float_op\": %d, \"type\": ", i ? "," : "", l->op, l->float_op);
        ld_json_string(f, ld_op_name(l->builtin, nb, sizeof nb));
        fputs(", \"tensor\": ", f);
        ld_json_string(f, l->tensor);
        fprintf(f, ", \"output\": %d, \"kept_float\": %s, \"snr_db\": %.4f, \"signal\": %.9g, \"noise\": %.9g}",
                l->output, l->kept_float ? "true" : "false", l->snr_db, l->signal, l->noise);
    }
    fputs("\n]}\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "%s: write error\n", path);
        return -1;
    }
    return 0;
}

/* --report: the float model and the written int8 model side by side. */
static leandet_status layer_report(const int8_job *job, const leandet_model *model, const char *out, ld_alloc *a,
                                   leandet_error *err)
{
    leandet_model *qm = NULL;
    ld_qr_result q;
    memset(&q, 0, sizeof q);
    const char *dir = job->report_images ? job->report_images : job->calibration;
    leandet_status st = leandet_model_open(out, NULL, &qm, err);
    if (st == LEANDET_OK)
        st = ld_qr_run(model, qm, dir, job->report_count, a, &q, err);
    if (st == LEANDET_OK) {
        print_layers(&q);
        if (job->report_json && write_report_json(job->report_json, &q) != 0)
            st = ld_fail(err, LEANDET_ERR_IO, "cannot write the report to %s", job->report_json);
    }
    ld_qr_free(a, &q);
    leandet_model_close(qm);
    return st;
}

/* Refuse a report image directory that lists no image before any work. */
static leandet_status check_report_dir(const int8_job *job, leandet_error *err)
{
    char **paths = NULL;
    int n = 0;
    if (!job || !job->report || !job->report_images)
        return LEANDET_OK;
    leandet_status st = ld_calib_list(job->report_images, 1, &paths, &n, err);
    ld_calib_paths_free(paths, n);
    return st;
}

static int run(const char *cmd, const char *in, const char *out, rewrite_fn rewrite, const int8_job *job)
{
    leandet_error err;
    memset(&err, 0, sizeof err);
    leandet_model *model = NULL;
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_edit e;
    memset(&e, 0, sizeof e);
    uint8_t *bytes = NULL;
    size_t size = 0;
    ld_quant_report r;
    memset(&r, 0, sizeof r);
    leandet_status st = check_report_dir(job, &err);
    if (st == LEANDET_OK)
        st = leandet_model_open(in, NULL, &model, &err);
    if (st == LEANDET_OK)
        st = ld_edit_init(&e, ld_model_desc_of(model), in, &a, &err);
    if (st == LEANDET_OK)
        st = rewrite ? rewrite(&e, &r) : rewrite_int8(job, model, &e, &r, &err);
    if (st == LEANDET_OK)
        st = ld_tflite_write(&e.m, out, &a, &bytes, &size, &err);
    if (st == LEANDET_OK)
        st = check_written(bytes, size, out, &a, &err);
    if (st != LEANDET_OK) {
        fprintf(stderr, "leandet %s: %s\n", cmd, err.message);
    } else if (ld_write_file(out, bytes, size) != 0) {
        st = LEANDET_ERR_IO; /* ld_write_file printed why */
    } else {
        report(cmd, rewrite, in, out, model->size, size, &r);
        fflush(stdout);
        if (!rewrite && job->report && (st = layer_report(job, model, out, &a, &err)) != LEANDET_OK)
            fprintf(stderr, "leandet %s: report (%s was written): %s\n", cmd, out, err.message);
    }
    ld_free(&a, bytes);
    ld_edit_free(&e);
    leandet_model_close(model);
    return exit_code(st);
}

/* minmax | percentile[:P], P in (0, 100], default 99.99. */
static void parse_method(ld_args *a, int8_job *job)
{
    const char *v = a->value;
    if (strcmp(v, "minmax") == 0) {
        job->method = LD_CALIB_MINMAX;
        return;
    }
    if (strncmp(v, "percentile", 10) != 0 || (v[10] != '\0' && v[10] != ':')) {
        ld_usage_error(a, "--calibration-method %s is not supported (minmax, percentile[:P])", v);
        return;
    }
    job->method = LD_CALIB_PERCENTILE;
    if (v[10] == ':') {
        char *end;
        double p = strtod(v + 11, &end);
        if (end == v + 11 || *end != '\0' || !(p > 0.0 && p <= 100.0))
            ld_usage_error(a, "--calibration-method percentile:%s: P must be a number in (0, 100]", v + 11);
        else
            job->percentile = p;
    }
}

/* Shared argument handling: two positionals, plus --mode for quantize. */
static int command(int argc, char **argv, const char *usage, int has_mode, rewrite_fn rewrite)
{
    ld_args a;
    ld_args_init(&a, argc, argv);
    const char *paths[2] = {NULL, NULL};
    int n = 0, int8 = 0;
    int8_job job;
    memset(&job, 0, sizeof job);
    job.count = 100;
    job.percentile = 99.99;
    job.report_count = 8;
    while (ld_args_more(&a)) {
        const char *p;
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            fputs(usage, stdout);
            return LD_EXIT_OK;
        } else if (has_mode && ld_args_opt(&a, "--mode")) {
            int8 = strcmp(a.value, "int8") == 0;
            if (int8)
                rewrite = NULL;
            else if (strcmp(a.value, "dynamic") == 0)
                rewrite = ld_quantize_dynamic;
            else if (strcmp(a.value, "none") == 0)
                rewrite = rewrite_none;
            else
                ld_usage_error(&a, "--mode %s is not supported (dynamic, int8, none)", a.value);
        } else if (has_mode && ld_args_opt(&a, "--calibration")) {
            job.calibration = a.value;
        } else if (has_mode && ld_args_opt(&a, "--calibration-method")) {
            parse_method(&a, &job);
        } else if (has_mode && ld_args_flag(&a, "--report")) {
            job.report = 1;
        } else if (has_mode && ld_args_opt(&a, "--report-json")) {
            job.report = 1;
            job.report_json = a.value;
        } else if (has_mode && ld_args_opt(&a, "--report-images")) {
            job.report_images = a.value;
        } else if (has_mode && ld_args_opt(&a, "--report-count")) {
            ld_parse_int(&a, "--report-count", 1, 1000000, &job.report_count);
        } else if (has_mode && ld_args_opt(&a, "--count")) {
            ld_parse_int(&a, "--count", 1, 1000000, &job.count);
        } else if (has_mode && ld_args_opt(&a, "--io")) {
            if (strcmp(a.value, "float") == 0)
                job.io = LD_IO_FLOAT;
            else if (strcmp(a.value, "uint8") == 0)
                job.io = LD_IO_UINT8;
            else if (strcmp(a.value, "int8") == 0)
                job.io = LD_IO_INT8;
            else
                ld_usage_error(&a, "--io %s is not supported (float, uint8, int8)", a.value);
        } else if (has_mode && ld_args_opt(&a, "--keep-float")) {
            /* Comma-separated names; pieces point into argv (split in place). */
            for (char *s = (char *)a.value, *tok; (tok = strtok_r(s, ",", &s)) != NULL;) {
                if (job.n_keep < (int)(sizeof job.keep / sizeof job.keep[0]))
                    job.keep[job.n_keep++] = tok;
                else
                    ld_usage_error(&a, "--keep-float: at most 64 names");
            }
        } else if ((p = ld_args_positional(&a)) != NULL) {
            if (n < 2)
                paths[n] = p;
            else
                ld_usage_error(&a, "unexpected argument '%s'", p);
            n++;
        } else if (!a.error) {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && n < 2)
        ld_usage_error(&a, "IN.tflite and OUT.tflite are required");
    if (!a.error && int8 && !job.calibration)
        ld_usage_error(&a, "--mode int8 needs --calibration DIR (images to measure activation ranges)");
    if (!a.error && !int8 && (job.calibration || job.n_keep || job.method != LD_CALIB_MINMAX || job.report))
        ld_usage_error(&a, "--calibration, --calibration-method, --keep-float and --report apply to --mode int8 only");
    if (a.error)
        return LD_EXIT_USAGE;
    return run(a.cmd, paths[0], paths[1], rewrite, &job);
}

int ld_cmd_quantize(int argc, char **argv)
{
    return command(argc, argv, quantize_usage, 1, ld_quantize_dynamic);
}

int ld_cmd_dequantize(int argc, char **argv)
{
    return command(argc, argv, dequantize_usage, 0, ld_dequantize);
}

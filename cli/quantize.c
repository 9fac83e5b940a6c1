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
#include "tools/calibrate.h"
#include "tools/model_edit.h"
#include "tools/quantize.h"
#include "tools/tflite_writer.h"

static const char quantize_usage[] =
    "usage: leandet quantize [--mode dynamic|int8|none] IN.tflite OUT.tflite\n"
    "       leandet quantize --mode int8 --calibration DIR [--count N] [--io float|uint8|int8]\n"
    "                        [--keep-float OP_OR_TENSOR[,...]] IN.tflite OUT.tflite\n"
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
    "                  detection post-process stays float behind DEQUANTIZE.\n"
    "    --io float    (default) the model's inputs and outputs stay float32 (QUANTIZE and\n"
    "                  DEQUANTIZE inside); uint8 or int8: they become quantized\n"
    "    --keep-float  operators kept float: operator name (CONV_2D), index, or the name of\n"
    "                  an output tensor; comma-separated, repeatable\n"
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
    const char *keep[64];
    int n_keep;
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
        printf("%s -> %s: int8: %d constants quantized, %d operators int8, %d QUANTIZE/DEQUANTIZE added", in,
               out, r->weights, r->hybrid_ops, r->added_ops);
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
    ld_calib_range *ranges = calloc((size_t)m->n_tensors + 1, sizeof *ranges);
    if (!ranges)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "out of memory for calibration ranges");
    int used = 0;
    leandet_status st = ld_calibrate(model, job->calibration, job->count, 1, ranges, &used, err);
    if (st == LEANDET_OK) {
        fprintf(stderr, "calibration: %d images from %s\n", used, job->calibration);
        ld_int8_options o = {ranges, job->io, job->keep, job->n_keep};
        st = ld_quantize_int8(e, &o, r);
    }
    free(ranges);
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
    leandet_status st = leandet_model_open(in, NULL, &model, &err);
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
    }
    ld_free(&a, bytes);
    ld_edit_free(&e);
    leandet_model_close(model);
    return exit_code(st);
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
    if (!a.error && !int8 && (job.calibration || job.n_keep))
        ld_usage_error(&a, "--calibration and --keep-float apply to --mode int8 only");
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

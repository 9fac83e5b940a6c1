/* leandet quantize / leandet dequantize: rewrite a model and write it as a
 * new .tflite file. The output is written to a temporary file next to it
 * and renamed into place only once complete, and only after leandet's own
 * reader has accepted the bytes: a failure never leaves a partial file. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "leandet.h"
#include "model/model.h"
#include "runtime/model_internal.h"
#include "tensor_dump.h"
#include "tools/model_edit.h"
#include "tools/quantize.h"
#include "tools/tflite_writer.h"

static const char quantize_usage[] =
    "usage: leandet quantize [--mode dynamic|none] IN.tflite OUT.tflite\n"
    "\n"
    "Write a quantized copy of a float model.\n"
    "  --mode dynamic  (default) dynamic-range quantization, as TensorFlow Lite's converter\n"
    "                  does it: the weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED\n"
    "                  with at least 1024 elements become int8, one scale per output channel;\n"
    "                  activations stay float32 and those operators run as hybrid kernels.\n"
    "                  Float16 weights are expanded to float32 first.\n"
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
    if (rewrite == rewrite_none)
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

static int run(const char *cmd, const char *in, const char *out, rewrite_fn rewrite)
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
        st = rewrite(&e, &r);
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
    int n = 0;
    while (ld_args_more(&a)) {
        const char *p;
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            fputs(usage, stdout);
            return LD_EXIT_OK;
        } else if (has_mode && ld_args_opt(&a, "--mode")) {
            if (strcmp(a.value, "dynamic") == 0)
                rewrite = ld_quantize_dynamic;
            else if (strcmp(a.value, "none") == 0)
                rewrite = rewrite_none;
            else
                ld_usage_error(&a, "--mode %s is not supported (dynamic, none)", a.value);
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
    if (a.error)
        return LD_EXIT_USAGE;
    return run(a.cmd, paths[0], paths[1], rewrite);
}

int ld_cmd_quantize(int argc, char **argv)
{
    return command(argc, argv, quantize_usage, 1, ld_quantize_dynamic);
}

int ld_cmd_dequantize(int argc, char **argv)
{
    return command(argc, argv, dequantize_usage, 0, ld_dequantize);
}

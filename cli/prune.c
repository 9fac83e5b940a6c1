/* leandet prune: magnitude pruning of conv/FC weights, written as a new
 * .tflite. Like quantize, the output goes to a temporary file renamed into
 * place once complete, after leandet's own reader accepted the bytes: a
 * failure never leaves a partial file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "leandet.h"
#include "model/model.h"
#include "model/ops.h"
#include "runtime/model_internal.h"
#include "tensor_dump.h"
#include "tools/model_edit.h"
#include "tools/prune.h"
#include "tools/tflite_writer.h"

static const char usage[] =
    "usage: leandet prune IN.tflite OUT.tflite --sparsity S [--structured [--compensate |\n"
    "                    --calibration DIR [--count N]]] [--verbose] [--json]\n"
    "\n"
    "Write a magnitude-pruned copy of a model (float32, uint8 or int8 weights).\n"
    "  --sparsity S   fraction in [0, 1) to remove\n"
    "  (default)      unstructured: in every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED\n"
    "                 weight tensor, the fraction S of weights with the smallest real\n"
    "                 magnitude become zero. A tensor is stored sparse (TensorFlow Lite\n"
    "                 SparsityParameters + DENSIFY) only where that makes the file smaller.\n"
    "  --structured   remove the fraction S of each CONV_2D's output channels (smallest L1\n"
    "                 norm, never all) and rewrite what reads them: following depthwise convs\n"
    "                 lose the same channels, the next convs the same input channels. Convs\n"
    "                 whose output feeds anything else (RESHAPE/CONCATENATION into a\n"
    "                 post-process, ADD, graph outputs) are left alone.\n"
    "  --compensate   structured: fold each removed channel's constant part, act(bias), into\n"
    "                 the biases of the convs that read it (carried through depthwise convs).\n"
    "                 Helps where the removed channels are nearly constant (SSD: early layers),\n"
    "                 can hurt elsewhere; measure with leandet eval.\n"
    "  --calibration DIR  structured, float32 models: run the model on DIR's images (same\n"
    "                 preprocessing as detect) and (1) remove the channels whose loss costs their\n"
    "                 readers the least output energy, (2) refit every conv that reads removed\n"
    "                 channels: least-squares weights and bias over its kept inputs that best\n"
    "                 reproduce its original output on sampled pixels. For a quantized model:\n"
    "                 leandet dequantize, prune, then leandet quantize --mode int8.\n"
    "  --count N      calibration: the first N images by name (default 32)\n"
    "  --verbose      one line per weighted operator\n"
    "  --json         one JSON object instead of text\n"
    "OUT is replaced only when the whole file has been written. Pruning without fine-tuning\n"
    "costs accuracy: measure it with leandet eval.\n";

typedef struct prune_job {
    const char *in, *out;
    ld_prune_options o;
    int verbose, json;
} prune_job;

static leandet_status check_written(const uint8_t *bytes, size_t size, const char *out, ld_alloc *a,
                                    leandet_error *err)
{
    ld_model_desc chk;
    if (ld_tflite_parse(bytes, size, out, a, &chk, err) != LEANDET_OK) {
        ld_fail_prefix(err, LEANDET_ERR_INTERNAL, "the written model does not parse: ");
        return LEANDET_ERR_INTERNAL;
    }
    ld_model_desc_free(&chk, a);
    return LEANDET_OK;
}

static double pct(uint64_t after, uint64_t before)
{
    return before ? 100.0 * (double)after / (double)before : 100.0;
}

static void print_layers(const ld_prune_report *r)
{
    printf("%5s %-18s %13s %13s %11s %11s %15s %15s  %s\n", "op", "operator", "channels", "in channels",
           "params", "nonzero", "MACs before", "MACs after", "note");
    for (int k = 0; k < r->n_layers; k++) {
        const ld_prune_layer *l = &r->layers[k];
        char nb[32], oc[32], ic[32];
        snprintf(oc, sizeof oc, "%d->%d", l->out_before, l->out_after);
        snprintf(ic, sizeof ic, "%d->%d", l->in_before, l->in_after);
        printf("%5d %-18s %13s %13s %11llu %11llu %15llu %15llu  %s\n", l->op,
               ld_op_name(l->builtin, nb, sizeof nb), oc, ic, (unsigned long long)l->params_after,
               (unsigned long long)l->nonzero_after, (unsigned long long)l->macs_before,
               (unsigned long long)l->macs_after, l->skipped ? l->skipped : l->sparse ? "stored sparse" : "");
    }
}

static void print_json(const prune_job *j, const ld_prune_report *r, size_t in_size, size_t out_size)
{
    printf("{\"model\":");
    ld_json_string(stdout, j->in);
    printf(",\"output\":");
    ld_json_string(stdout, j->out);
    printf(",\"mode\":\"%s\",\"sparsity\":%.6g,\"layers_eligible\":%d,\"layers_pruned\":%d,"
           "\"compensated\":%s,\"refitted\":%d,\"calibration_images\":%d,\"tensors_sparse\":%d,\"params_before\":%llu,\"params_after\":%llu,"
           "\"weights_before\":%llu,\"weights_after\":%llu,\"nonzero_before\":%llu,\"nonzero_after\":%llu,"
           "\"macs_before\":%llu,\"macs_after\":%llu,\"const_bytes_before\":%zu,\"const_bytes_after\":%zu,"
           "\"bytes_before\":%zu,\"bytes_after\":%zu",
           j->o.structured ? "structured" : "unstructured", j->o.sparsity, r->eligible, r->pruned,
           j->o.structured && j->o.compensate ? "true" : "false", r->refitted, r->calibration_images, r->sparse,
           (unsigned long long)r->params_before, (unsigned long long)r->params_after,
           (unsigned long long)r->weights_before, (unsigned long long)r->weights_after,
           (unsigned long long)r->nonzero_before, (unsigned long long)r->nonzero_after,
           (unsigned long long)r->macs_before, (unsigned long long)r->macs_after, r->const_bytes_before,
           r->const_bytes_after, in_size, out_size);
    if (j->verbose) {
        printf(",\"layers\":[");
        for (int k = 0; k < r->n_layers; k++) {
            const ld_prune_layer *l = &r->layers[k];
            char nb[32];
            printf("%s{\"op\":%d,\"operator\":\"%s\",\"weights\":", k ? "," : "", l->op,
                   ld_op_name(l->builtin, nb, sizeof nb));
            ld_json_string(stdout, l->weights);
            printf(",\"out_channels_before\":%d,\"out_channels_after\":%d,\"in_channels_before\":%d,"
                   "\"in_channels_after\":%d,\"params_before\":%llu,\"params_after\":%llu,"
                   "\"nonzero_before\":%llu,\"nonzero_after\":%llu,\"macs_before\":%llu,\"macs_after\":%llu,"
                   "\"sparse\":%s,\"skipped\":",
                   l->out_before, l->out_after, l->in_before, l->in_after, (unsigned long long)l->params_before,
                   (unsigned long long)l->params_after, (unsigned long long)l->nonzero_before,
                   (unsigned long long)l->nonzero_after, (unsigned long long)l->macs_before,
                   (unsigned long long)l->macs_after, l->sparse ? "true" : "false");
            if (l->skipped)
                ld_json_string(stdout, l->skipped);
            else
                printf("null");
            printf("}");
        }
        printf("]");
    }
    printf("}\n");
}

static void print_text(const prune_job *j, const ld_prune_report *r, size_t in_size, size_t out_size)
{
    if (j->verbose)
        print_layers(r);
    printf("%s -> %s: %s %.3g: %d of %d eligible layers pruned, %d stored sparse\n", j->in, j->out,
           j->o.structured ? "structured" : "unstructured", j->o.sparsity, r->pruned, r->eligible, r->sparse);
    if (r->calibration_images)
        printf("  refitted        %d convs on %d calibration images\n", r->refitted, r->calibration_images);
    printf("  parameters      %llu -> %llu (%.1f%%)\n", (unsigned long long)r->params_before,
           (unsigned long long)r->params_after, pct(r->params_after, r->params_before));
    printf("  nonzero weights %llu -> %llu (%.1f%%)\n", (unsigned long long)r->nonzero_before,
           (unsigned long long)r->nonzero_after, pct(r->nonzero_after, r->nonzero_before));
    printf("  MACs            %llu -> %llu (%.1f%%)\n", (unsigned long long)r->macs_before,
           (unsigned long long)r->macs_after, pct(r->macs_after, r->macs_before));
    printf("  file bytes      %zu -> %zu (%.1f%%)\n", in_size, out_size, pct(out_size, in_size));
}

static int run(const prune_job *j)
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
    ld_prune_report r;
    memset(&r, 0, sizeof r);
    leandet_status st = leandet_model_open(j->in, NULL, &model, &err);
    if (st == LEANDET_OK)
        st = ld_edit_init(&e, ld_model_desc_of(model), j->in, &a, &err);
    ld_prune_options o = j->o;
    o.source = model;
    if (st == LEANDET_OK)
        st = ld_prune(&e, &o, &r);
    if (st == LEANDET_OK)
        st = ld_tflite_write(&e.m, j->out, &a, &bytes, &size, &err);
    if (st == LEANDET_OK)
        st = check_written(bytes, size, j->out, &a, &err);
    if (st != LEANDET_OK) {
        fprintf(stderr, "leandet prune: %s\n", err.message);
    } else if (ld_write_file(j->out, bytes, size) != 0) {
        st = LEANDET_ERR_IO; /* ld_write_file printed why */
    } else if (j->json) {
        print_json(j, &r, model->size, size);
    } else {
        print_text(j, &r, model->size, size);
    }
    ld_free(&a, bytes);
    ld_edit_free(&e);
    leandet_model_close(model);
    return st == LEANDET_OK ? LD_EXIT_OK : LD_EXIT_ERROR;
}

int ld_cmd_prune(int argc, char **argv)
{
    ld_args a;
    ld_args_init(&a, argc, argv);
    prune_job j;
    memset(&j, 0, sizeof j);
    const char *paths[2] = {NULL, NULL};
    int n = 0, have_s = 0;
    while (ld_args_more(&a)) {
        const char *p;
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            fputs(usage, stdout);
            return LD_EXIT_OK;
        } else if (ld_args_flag(&a, "--structured")) {
            j.o.structured = 1;
        } else if (ld_args_flag(&a, "--compensate")) {
            j.o.compensate = 1;
        } else if (ld_args_opt(&a, "--calibration")) {
            j.o.calibration = a.value;
        } else if (ld_args_opt(&a, "--count")) {
            ld_parse_int(&a, "--count", 1, 1 << 20, &j.o.count);
        } else if (ld_args_flag(&a, "--verbose") || ld_args_flag(&a, "-v")) {
            j.verbose = 1;
            j.o.verbose = 1;
        } else if (ld_args_flag(&a, "--json")) {
            j.json = 1;
        } else if (ld_args_opt(&a, "--sparsity")) {
            char *end = NULL;
            double s = strtod(a.value, &end);
            if (!end || end == a.value || *end || !(s >= 0.0 && s < 1.0))
                ld_usage_error(&a, "--sparsity %s: expected a number in [0, 1)", a.value);
            j.o.sparsity = s;
            have_s = 1;
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
    if (!a.error && !have_s)
        ld_usage_error(&a, "--sparsity S is required (a fraction in [0, 1))");
    if (!a.error && j.o.calibration && !j.o.structured)
        ld_usage_error(&a, "--calibration works with --structured");
    if (!a.error && j.o.calibration && j.o.compensate)
        ld_usage_error(&a, "--calibration refits the readers: it replaces --compensate");
    if (!a.error && j.o.count && !j.o.calibration)
        ld_usage_error(&a, "--count needs --calibration");
    if (a.error)
        return LD_EXIT_USAGE;
    if (j.o.calibration && !j.o.count)
        j.o.count = 32;
    j.in = paths[0];
    j.out = paths[1];
    return run(&j);
}

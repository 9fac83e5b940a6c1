/* ld_quant_report: per-layer SNR of a quantized model against its float
 * source, on real images (quant_report.h). */
#include "tools/quant_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/ops.h"
#include "runtime/session_internal.h"
#include "tools/calibrate.h"

#define MAX_DETS 100

/* One side of the comparison: a session and its detector. */
typedef struct side {
    leandet_session *s;
    leandet_detector *d;
    leandet_detection dets[MAX_DETS];
    int n;
} side;

static leandet_status side_open(const leandet_model *m, side *x, leandet_error *err)
{
    leandet_session_options so;
    memset(&so, 0, sizeof so);
    so.keep_all_tensors = 1;
    so.backend = LEANDET_BACKEND_REFERENCE;
    leandet_detect_options dopt;
    leandet_detect_options_default(&dopt);
    leandet_status st = leandet_session_create(m, &so, &x->s, err);
    if (st == LEANDET_OK)
        st = leandet_detector_create(x->s, &dopt, &x->d, err);
    return st;
}

static void side_close(side *x)
{
    leandet_detector_destroy(x->d);
    leandet_session_destroy(x->s);
}

/* The float tensor named like quantized tensor `name` ("X_int8" -> "X"),
 * holding as many elements as `count`, or -1. */
static int float_twin(const ld_model_desc *f, const char *name, size_t count)
{
    size_t len = strlen(name);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (len < 5 || strcmp(name + len - 5, "_int8") != 0)
                break;
            len -= 5;
        }
        for (int t = 0; t < f->n_tensors; t++) {
            const ld_tensor_desc *d = &f->tensors[t];
            if (d->type == LEANDET_FLOAT32 && strlen(d->name) == len && strncmp(d->name, name, len) == 0 &&
                ld_shape_count(&d->shape) == count)
                return t;
        }
    }
    return -1;
}

static int producer(const ld_model_desc *m, int t)
{
    for (int i = 0; i < m->n_ops; i++)
        for (int k = 0; k < m->ops[i].n_outputs; k++)
            if (m->ops[i].outputs[k] == t)
                return i;
    return -1;
}

/* Operators whose outputs are compared: not the conversions we add, not
 * custom operators. */
static int compared(int builtin)
{
    return builtin != LD_OP_QUANTIZE && builtin != LD_OP_DEQUANTIZE && builtin != LD_OP_CUSTOM;
}

/* Layers to compare, with the float tensor of each in *twin (parallel). */
static leandet_status plan_layers(const ld_model_desc *f, const ld_model_desc *q, ld_alloc *a, ld_qr_result *r,
                                  int **twin, leandet_error *err)
{
    int n = 0;
    for (int i = 0; i < q->n_ops; i++)
        if (compared(q->ops[i].builtin))
            n += q->ops[i].n_outputs;
    r->layers = ld_calloc(a, (size_t)n + 1, sizeof *r->layers);
    *twin = ld_calloc(a, (size_t)n + 1, sizeof **twin);
    if (!r->layers || !*twin)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "quantization report: out of memory for %d layers", n);
    for (int i = 0; i < q->n_ops; i++) {
        const ld_op_desc *op = &q->ops[i];
        for (int k = 0; compared(op->builtin) && k < op->n_outputs; k++) {
            int t = op->outputs[k];
            if (t < 0)
                continue;
            const ld_tensor_desc *d = &q->tensors[t];
            int ft = float_twin(f, d->name, ld_shape_count(&d->shape));
            int quantized = (d->type == LEANDET_INT8 || d->type == LEANDET_UINT8) && d->quant.count == 1;
            if (ft < 0 || !(quantized || d->type == LEANDET_FLOAT32)) {
                r->unmatched++;
                continue;
            }
            ld_qr_layer *l = &r->layers[r->n_layers];
            l->op = i;
            l->float_op = producer(f, ft);
            l->builtin = op->builtin;
            l->output = k;
            l->kept_float = d->type == LEANDET_FLOAT32;
            l->tensor = d->name;
            (*twin)[r->n_layers++] = ft;
        }
    }
    return LEANDET_OK;
}

/* Add one image's squared signal and error of layer l. */
static void accumulate(ld_qr_layer *l, const ld_tensor *q, const ld_tensor *x)
{
    const float *fv = x->data;
    size_t n = x->bytes / sizeof(float);
    double sig = 0.0, noise = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (q->type == LEANDET_FLOAT32) {
            v = ((const float *)q->data)[i];
        } else {
            int32_t raw = q->type == LEANDET_INT8 ? ((const int8_t *)q->data)[i] : ((const uint8_t *)q->data)[i];
            v = (double)q->quant->scale[0] * (double)(raw - q->quant->zero_point[0]);
        }
        double e = (double)fv[i] - v;
        sig += (double)fv[i] * fv[i];
        noise += e * e;
    }
    l->signal += sig;
    l->noise += noise;
}

static double snr_db(double signal, double noise)
{
    double v = noise > 0.0 ? (signal > 0.0 ? 10.0 * log10(signal / noise) : -LD_QR_SNR_CAP) : LD_QR_SNR_CAP;
    return !(v < LD_QR_SNR_CAP) ? LD_QR_SNR_CAP : v < -LD_QR_SNR_CAP ? -LD_QR_SNR_CAP : v;
}

static float iou(const float *a, const float *b)
{
    float h = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), w = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (h <= 0.0f || w <= 0.0f)
        return 0.0f;
    float in = h * w, u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - in;
    return u > 0.0f ? in / u : 0.0f;
}

/* Greedy one-to-one matching of the float detections (best score first,
 * as the detector returns them) to the quantized ones. */
static void match_detections(const side *f, const side *q, ld_qr_result *r)
{
    uint8_t used[MAX_DETS] = {0};
    r->det_float += f->n;
    r->det_quant += q->n;
    for (int i = 0; i < f->n; i++) {
        int best = -1;
        float best_iou = 0.5f;
        for (int j = 0; j < q->n; j++) {
            float v;
            if (!used[j] && q->dets[j].class_id == f->dets[i].class_id &&
                (v = iou(f->dets[i].box, q->dets[j].box)) >= best_iou) {
                best = j;
                best_iou = v;
            }
        }
        if (best >= 0) {
            used[best] = 1;
            r->det_matched++;
        }
    }
}

static int worst_first(const void *a, const void *b)
{
    const ld_qr_layer *x = a, *y = b;
    if (x->snr_db != y->snr_db)
        return x->snr_db < y->snr_db ? -1 : 1;
    return x->op != y->op ? (x->op < y->op ? -1 : 1) : x->output - y->output;
}

/* Run both sides on one image; *skipped when the file does not decode. */
static leandet_status run_image(side *f, side *q, const char *path, int *skipped, leandet_error *err)
{
    leandet_image img;
    leandet_error ierr;
    memset(&ierr, 0, sizeof ierr);
    *skipped = leandet_image_load(path, &img, &ierr) != LEANDET_OK;
    if (*skipped)
        return LEANDET_OK;
    leandet_status st = leandet_detector_run(f->d, &img, f->dets, MAX_DETS, &f->n, err);
    if (st == LEANDET_OK)
        st = leandet_detector_run(q->d, &img, q->dets, MAX_DETS, &q->n, err);
    leandet_image_free(&img);
    if (st != LEANDET_OK)
        ld_fail_prefix(err, st, "quantization report, image %s: ", path);
    return st;
}

leandet_status ld_qr_run(const leandet_model *float_model, const leandet_model *quant_model,
                               const char *dir, int count, ld_alloc *a, ld_qr_result *out, leandet_error *err)
{
    memset(out, 0, sizeof *out);
    char **paths = NULL;
    int n = 0, *twin = NULL;
    side f, q;
    memset(&f, 0, sizeof f);
    memset(&q, 0, sizeof q);
    leandet_status st = ld_calib_list(dir, count, &paths, &n, err);
    if (st == LEANDET_OK)
        st = plan_layers(&float_model->desc, &quant_model->desc, a, out, &twin, err);
    if (st == LEANDET_OK)
        st = side_open(float_model, &f, err);
    if (st == LEANDET_OK)
        st = side_open(quant_model, &q, err);
    for (int i = 0; st == LEANDET_OK && i < n; i++) {
        int skipped = 0;
        st = run_image(&f, &q, paths[i], &skipped, err);
        if (st != LEANDET_OK || skipped)
            continue;
        for (int l = 0; l < out->n_layers; l++) {
            const ld_qr_layer *ly = &out->layers[l];
            int qt = quant_model->desc.ops[ly->op].outputs[ly->output];
            accumulate(&out->layers[l], &q.s->tensors[qt], &f.s->tensors[twin[l]]);
        }
        match_detections(&f, &q, out);
        out->images++;
    }
    if (st == LEANDET_OK && out->images == 0)
        st = ld_fail(err, LEANDET_ERR_IO, "quantization report: none of the %d image files of %s decodes", n, dir);
    side_close(&q);
    side_close(&f);
    ld_free(a, twin);
    ld_calib_paths_free(paths, n);
    if (st != LEANDET_OK) {
        ld_qr_free(a, out);
        return st;
    }
    for (int l = 0; l < out->n_layers; l++)
        out->layers[l].snr_db = snr_db(out->layers[l].signal, out->layers[l].noise);
    qsort(out->layers, (size_t)out->n_layers, sizeof *out->layers, worst_first);
    return LEANDET_OK;
}

void ld_qr_free(ld_alloc *a, ld_qr_result *r)
{
    ld_free(a, r->layers);
    memset(r, 0, sizeof *r);
}

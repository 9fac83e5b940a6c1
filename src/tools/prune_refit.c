/* Structured pruning driven by calibration images (prune --calibration).
 *
 * Pruning by weight norms alone ignores what the channels carry: one-shot
 * removal of 5% of MobileNet-SSD's channels that way already costs three
 * quarters of its mAP. With real activations two things get better:
 *
 *  - the choice: a channel's cost is the output energy its readers lose,
 *    sum over readers of W[o, tap, c]^2 * Var(x_c) (its mean is not lost:
 *    the refit moves it into the bias);
 *  - the readers are refitted, in graph order: every CONV_2D that reads
 *    removed channels gets the weights over its kept inputs, and bias, that
 *    best reproduce its original pre-activation output in the least-squares
 *    sense, over sampled output pixels of the calibration images. Its inputs
 *    are taken from the model pruned so far (earlier readers already
 *    refitted), its targets from the original model, so each refit also
 *    absorbs what the earlier cuts changed upstream. With x' the pruned
 *    patch plus a constant 1 and y the original output, the refit solves
 *    E[x' x'^T] w = E[x' y] per output channel (Cholesky, tiny ridge).
 *
 * The model pruned so far runs with its original shapes: removed channels
 * are zeroed (their conv rows and the depthwise channels after them), which
 * computes the same as cutting them; the cut comes after (prune_structured.c).
 * Float32 weights only; quantized models are dequantized first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/conv_window.h"
#include "model/ops.h"
#include "runtime/model_internal.h"
#include "runtime/session_internal.h"
#include "tools/calibrate.h"
#include "tools/prune.h"

#define SAMPLES_PER_IMAGE 1024/* output pixels per reader per image */
#define RIDGE 1e-6            /* times the mean diagonal, added to it */
#define SHRINK 0.5
#define MAX_DEPTH 16

/* The calibration images, run through one model at a time. */
typedef struct runner {
    char **paths;
    int n;
    leandet_session *s;
    leandet_detector *d;
} runner;

static leandet_status runner_open(runner *r, const leandet_model *m, leandet_error *err)
{
    leandet_session_options so;
    memset(&so, 0, sizeof so);
    so.keep_all_tensors = 1; /* every reader's input stays readable after invoke */
    leandet_detect_options dopt;
    leandet_detect_options_default(&dopt);
    leandet_status st = leandet_session_create(m, &so, &r->s, err);
    if (st == LEANDET_OK)
        st = leandet_detector_create(r->s, &dopt, &r->d, err);
    return st;
}

static void runner_close(runner *r)
{
    leandet_detector_destroy(r->d);
    leandet_session_destroy(r->s);
    r->d = NULL;
    r->s = NULL;
}

/* Image i through the runner; 0: it did not decode (skipped). */
static int runner_run(runner *r, int i, int verbose, leandet_status *st, leandet_error *err)
{
    leandet_image img;
    leandet_error ierr;
    memset(&ierr, 0, sizeof ierr);
    if (leandet_image_load(r->paths[i], &img, &ierr) != LEANDET_OK) {
        if (verbose)
            fprintf(stderr, "calibration: skipping %s: %s\n", r->paths[i], ierr.message);
        return 0;
    }
    leandet_detection dets[16];
    int got = 0;
    *st = leandet_detector_run(r->d, &img, dets, 16, &got, err);
    leandet_image_free(&img);
    if (*st != LEANDET_OK)
        ld_fail_prefix(err, *st, "calibration image %s: ", r->paths[i]);
    return 1;
}

/* The edit as a model a session can run (nothing mapped: never closed). */
static void model_view(const ld_edit *e, leandet_model *m)
{
    memset(m, 0, sizeof *m);
    m->path = (char *)e->file;
    ld_alloc_init(&m->alloc, NULL);
    m->desc = e->m;
}

static const float *float_input(const leandet_session *s, const ld_op_desc *o)
{
    const ld_tensor *t = &s->tensors[o->inputs[0]];
    return t->type == LEANDET_FLOAT32 && t->data && t->shape.rank == 4 && t->shape.d[0] == 1 ? t->data : NULL;
}

leandet_status ld_prune_variances(ld_edit *e, const ld_prune_options *o, const uint8_t *is_reader, double **var)
{
    runner r;
    memset(&r, 0, sizeof r);
    leandet_status st = ld_calib_list(o->calibration, o->count, &r.paths, &r.n, e->err);
    double **sum2 = NULL;
    long *count = NULL;
    const int nops = e->m.n_ops;
    if (st == LEANDET_OK) {
        sum2 = ld_edit_alloc(e, (size_t)nops, sizeof *sum2, "channel statistics");
        count = ld_edit_alloc(e, (size_t)nops, sizeof *count, "channel statistics");
        st = sum2 && count ? LEANDET_OK : LEANDET_ERR_NO_MEMORY;
    }
    for (int j = 0; st == LEANDET_OK && j < nops; j++) {
        var[j] = NULL;
        if (!is_reader[j])
            continue;
        const int c = e->m.tensors[e->m.ops[j].inputs[0]].shape.d[3];
        var[j] = ld_edit_alloc(e, (size_t)c, sizeof **var, "channel statistics"); /* sums, then variances */
        sum2[j] = ld_edit_alloc(e, (size_t)c, sizeof **sum2, "channel statistics");
        if (!var[j] || !sum2[j])
            st = LEANDET_ERR_NO_MEMORY;
    }
    if (st == LEANDET_OK)
        st = runner_open(&r, o->source, e->err);
    int used = 0;
    for (int i = 0; st == LEANDET_OK && i < r.n; i++) {
        if (!runner_run(&r, i, o->verbose, &st, e->err) || st != LEANDET_OK)
            continue;
        used++;
        for (int j = 0; j < nops; j++) {
            if (!is_reader[j])
                continue;
            const ld_op_desc *op = &e->m.ops[j];
            const float *x = float_input(r.s, op);
            if (!x) {
                st = ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: operator %d: input is not a float32 image tensor",
                             e->file, j);
                break;
            }
            const ld_shape *sh = &r.s->tensors[op->inputs[0]].shape;
            const size_t c = (size_t)sh->d[3], px = (size_t)sh->d[1] * (size_t)sh->d[2];
            for (size_t p = 0; p < px; p++)
                for (size_t k = 0; k < c; k++) {
                    const double v = x[p * c + k];
                    var[j][k] += v;
                    sum2[j][k] += v * v;
                }
            count[j] += (long)px;
        }
    }
    runner_close(&r);
    ld_calib_paths_free(r.paths, r.n);
    if (st == LEANDET_OK && used == 0)
        st = ld_fail(e->err, LEANDET_ERR_IO, "calibration directory %s: none of its image files decodes",
                     o->calibration);
    for (int j = 0; st == LEANDET_OK && j < nops; j++) {
        if (!var[j])
            continue;
        const int c = e->m.tensors[e->m.ops[j].inputs[0]].shape.d[3];
        for (int k = 0; k < c; k++) {
            const double mean = var[j][k] / (double)count[j], v = sum2[j][k] / (double)count[j] - mean * mean;
            var[j][k] = v > 0.0 ? v : 0.0;
        }
    }
    if (st == LEANDET_ERR_NO_MEMORY && !e->err->message[0])
        ld_fail(e->err, st, "%s: out of memory for calibration statistics", e->file);
    return st;
}

double ld_prune_channel_cost(const ld_edit *e, double *const *var, int reader, int ch)
{
    if (!var[reader])
        return 0.0;
    const ld_tensor_desc *w = &e->m.tensors[e->m.ops[reader].inputs[1]];
    const float *wv = w->data;
    const size_t c = (size_t)w->shape.d[3], row = ld_shape_count(&w->shape) / (size_t)w->shape.d[0];
    double wsq = 0.0;
    for (int o = 0; o < w->shape.d[0]; o++)
        for (size_t i = (size_t)ch; i < row; i += c) {
            const double v = wv[(size_t)o * row + i];
            wsq += v * v;
        }
    return wsq * var[reader][ch];
}

/* Float tensor t made writable: copied into the edit once (owned[t]). */
static float *own_floats(ld_edit *e, uint8_t *owned, int t)
{
    ld_tensor_desc *d = &e->m.tensors[t];
    if (owned[t])
        return (float *)d->data;
    const size_t n = ld_shape_count(&d->shape);
    float *v = ld_edit_alloc(e, n, sizeof *v, "pruned weights");
    if (v) {
        memcpy(v, d->data, n * sizeof *v);
        d->data = v;
        owned[t] = 1;
    }
    return v;
}

/* Zero channel ch of the depthwise convs reading tensor t (and after them). */
static leandet_status zero_depthwise(ld_edit *e, uint8_t *owned, int t, const ld_prune_mask *m, int depth)
{
    for (int j = 0; depth <= MAX_DEPTH && j < e->m.n_ops; j++) {
        const ld_op_desc *o = &e->m.ops[j];
        if (o->builtin != LD_OP_DEPTHWISE_CONV_2D || o->inputs[0] != t)
            continue;
        float *w = own_floats(e, owned, o->inputs[1]);
        float *b = o->n_inputs > 2 && o->inputs[2] >= 0 ? own_floats(e, owned, o->inputs[2]) : NULL;
        if (!w || (o->n_inputs > 2 && o->inputs[2] >= 0 && !b))
            return LEANDET_ERR_NO_MEMORY;
        const size_t n = ld_shape_count(&e->m.tensors[o->inputs[1]].shape), c = (size_t)m->total;
        for (size_t i = 0; i < n; i++)
            if (!m->keep[i % c])
                w[i] = 0.0f;
        for (size_t k = 0; b && k < c; k++)
            if (!m->keep[k])
                b[k] = 0.0f;
        leandet_status st = zero_depthwise(e, owned, o->outputs[0], m, depth + 1);
        if (st != LEANDET_OK)
            return st;
    }
    return LEANDET_OK;
}

/* Conv j's removed output channels compute zero: rows and bias. */
static leandet_status zero_rows(ld_edit *e, uint8_t *owned, int j, const ld_prune_mask *m)
{
    const ld_op_desc *o = &e->m.ops[j];
    float *w = own_floats(e, owned, o->inputs[1]);
    float *b = o->n_inputs > 2 && o->inputs[2] >= 0 ? own_floats(e, owned, o->inputs[2]) : NULL;
    if (!w || (o->n_inputs > 2 && o->inputs[2] >= 0 && !b))
        return LEANDET_ERR_NO_MEMORY;
    const size_t row = ld_shape_count(&e->m.tensors[o->inputs[1]].shape) / (size_t)m->total;
    for (int c = 0; c < m->total; c++)
        if (!m->keep[c]) {
            memset(w + (size_t)c * row, 0, row * sizeof *w);
            if (b)
                b[c] = 0.0f;
        }
    return LEANDET_OK;
}

/* What one reader's refit accumulates. */
typedef struct refit {
    int op;
    ld_window win;
    int channels, oc;
    int n;            /* kept patch entries + the constant */
    int *idx;         /* [n]: their positions in the full patch (last: the constant) */
    double *a;        /* n x n: E[x' x'^T], upper triangle while accumulating */
    double *b;        /* n x oc: E[x' y] */
    double *x, *xk, *y;
    const float *w0, *b0; /* the original weights and bias (the source model's) */
    long samples;
} refit;

/* Output pixel `pixel` as a patch (taps outside the input are zero, as
 * SAME padding reads them) plus the constant 1. */
static void patch_at(const ld_window *w, int channels, const float *in, size_t pixel, double *x)
{
    const int oy = (int)(pixel / (size_t)w->out_w), ox = (int)(pixel % (size_t)w->out_w);
    double *p = x;
    for (int ky = 0; ky < w->f_h; ky++) {
        const int iy = oy * w->stride_h - w->pad_h + ky * w->dil_h;
        for (int kx = 0; kx < w->f_w; kx++, p += channels) {
            const int ix = ox * w->stride_w - w->pad_w + kx * w->dil_w;
            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                memset(p, 0, (size_t)channels * sizeof *p);
                continue;
            }
            const float *src = in + ((size_t)iy * (size_t)w->in_w + (size_t)ix) * (size_t)channels;
            for (int c = 0; c < channels; c++)
                p[c] = src[c];
        }
    }
    *p = 1.0;
}

static void accumulate(refit *f, const float *orig, const float *pruned, int image)
{
    const size_t pixels = (size_t)f->win.out_h * (size_t)f->win.out_w;
    const size_t m = (size_t)f->win.f_h * (size_t)f->win.f_w * (size_t)f->channels; /* without the 1 */
    const size_t n = (size_t)f->n, oc = (size_t)f->oc;
    const size_t count = pixels < SAMPLES_PER_IMAGE ? pixels : SAMPLES_PER_IMAGE;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(f->op + 1) + (uint64_t)image;
    for (size_t s = 0; s < count; s++) {
        size_t px = s;
        if (count < pixels) { /* a fixed pseudo-random subset */
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            px = (size_t)((seed >> 33) % pixels);
        }
        patch_at(&f->win, f->channels, orig, px, f->x);
        for (size_t o = 0; o < oc; o++) { /* the original pre-activation output */
            const float *wo = f->w0 + o * m;
            double v = f->b0 ? f->b0[o] : 0.0;
            for (size_t k = 0; k < m; k++)
                v += wo[k] * f->x[k];
            f->y[o] = v;
        }
        patch_at(&f->win, f->channels, pruned, px, f->x);
        for (size_t i = 0; i < n; i++)
            f->xk[i] = f->x[f->idx[i]];
        for (size_t i = 0; i < n; i++) {
            const double xi = f->xk[i];
            if (xi == 0.0) /* ReLU outputs: mostly zero rows */
                continue;
            double *ra = f->a + i * n, *rb = f->b + i * oc;
            for (size_t k = i; k < n; k++)
                ra[k] += xi * f->xk[k];
            for (size_t o = 0; o < oc; o++)
                rb[o] += xi * f->y[o];
        }
        f->samples++;
    }
}

/* In-place Cholesky of the symmetric n x n matrix a (lower triangle); 0 if
 * it is not positive definite. */
static int cholesky(double *a, int n)
{
    for (int j = 0; j < n; j++) {
        double *rj = a + (size_t)j * (size_t)n;
        double d = rj[j];
        for (int k = 0; k < j; k++)
            d -= rj[k] * rj[k];
        if (!(d > 0.0))
            return 0;
        d = sqrt(d);
        rj[j] = d;
        for (int i = j + 1; i < n; i++) {
            double *ri = a + (size_t)i * (size_t)n, v = ri[j];
            for (int k = 0; k < j; k++)
                v -= ri[k] * rj[k];
            ri[j] = v / d;
        }
    }
    return 1;
}

/* Solve L L^T X = B in place for the n x cols matrix B, row by row (every
 * right-hand side at once: contiguous rows). */
static void cholesky_solve(const double *l, int n, double *b, size_t cols)
{
    for (int i = 0; i < n; i++) {
        double *bi = b + (size_t)i * cols;
        const double *li = l + (size_t)i * (size_t)n;
        for (int k = 0; k < i; k++) {
            const double f = li[k], *bk = b + (size_t)k * cols;
            for (size_t c = 0; c < cols; c++)
                bi[c] -= f * bk[c];
        }
        for (size_t c = 0; c < cols; c++)
            bi[c] /= li[i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double *bi = b + (size_t)i * cols;
        for (int k = i + 1; k < n; k++) {
            const double f = l[(size_t)k * (size_t)n + (size_t)i], *bk = b + (size_t)k * cols;
            for (size_t c = 0; c < cols; c++)
                bi[c] -= f * bk[c];
        }
        const double d = l[(size_t)i * (size_t)n + (size_t)i];
        for (size_t c = 0; c < cols; c++)
            bi[c] /= d;
    }
}

/* The solved weights into conv f->op of the edit (removed inputs zero). */
static leandet_status solve(ld_edit *e, uint8_t *owned, refit *f)
{
    const size_t n = (size_t)f->n, oc = (size_t)f->oc;
    double mean_diag = 0.0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; k < n; k++)
            f->a[k * n + i] = f->a[i * n + k];
        mean_diag += f->a[i * n + i];
    }
    mean_diag /= (double)n;
    /* Shrink toward the original weights as samples get few per unknown
     * (small late feature maps): min |y - W'x'|^2 + lambda |W' - W|^2. */
    const double lambda = mean_diag * (RIDGE + SHRINK * (double)n / (double)f->samples) + 1e-12;
    const size_t m = (size_t)f->win.f_h * (size_t)f->win.f_w * (size_t)f->channels;
    for (size_t i = 0; i < n; i++) {
        f->a[i * n + i] += lambda;
        for (size_t out = 0; out < oc; out++)
            f->b[i * oc + out] += lambda * (i + 1 < n ? f->w0[out * m + (size_t)f->idx[i]] : f->b0 ? f->b0[out] : 0.0);
    }
    if (!cholesky(f->a, (int)n))
        return ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: operator %d: the calibration statistics are singular",
                       e->file, f->op);
    const ld_op_desc *o = &e->m.ops[f->op];
    float *w = own_floats(e, owned, o->inputs[1]);
    float *b = o->n_inputs > 2 && o->inputs[2] >= 0 ? own_floats(e, owned, o->inputs[2]) : NULL;
    if (!w || (o->n_inputs > 2 && o->inputs[2] >= 0 && !b))
        return LEANDET_ERR_NO_MEMORY;
    cholesky_solve(f->a, (int)n, f->b, oc);
    for (size_t out = 0; out < oc; out++) {
        float *dst = w + out * m;
        memset(dst, 0, m * sizeof *dst);
        for (size_t i = 0; i + 1 < n; i++)
            dst[f->idx[i]] = (float)f->b[i * oc + out];
        if (b)
            b[out] = (float)f->b[(n - 1) * oc + out];
    }
    return LEANDET_OK;
}

static void refit_free(ld_alloc *a, refit *f)
{
    ld_free(a, f->idx);
    ld_free(a, f->a);
    ld_free(a, f->b);
    ld_free(a, f->x);
    ld_free(a, f->xk);
    ld_free(a, f->y);
}

static leandet_status refit_init(ld_edit *e, const leandet_model *source, int j, const ld_prune_mask *in, refit *f)
{
    memset(f, 0, sizeof *f);
    f->op = j;
    const ld_op_desc *o = &e->m.ops[j];
    const ld_shape *is = &e->m.tensors[o->inputs[0]].shape, *ws = &e->m.tensors[o->inputs[1]].shape;
    ld_op_ctx c;
    memset(&c, 0, sizeof c);
    c.op = o;
    c.index = j;
    c.err = e->err;
    const ld_conv_params *p = &o->params.conv;
    leandet_status st = ld_window_init(&c, p->padding, is->d[1], is->d[2], ws->d[1], ws->d[2], p->stride_h,
                                       p->stride_w, p->dilation_h, p->dilation_w, &f->win);
    if (st != LEANDET_OK)
        return st;
    f->channels = is->d[3];
    f->oc = ws->d[0];
    const ld_model_desc *src = &source->desc;
    f->w0 = src->tensors[o->inputs[1]].data;
    f->b0 = o->n_inputs > 2 && o->inputs[2] >= 0 ? src->tensors[o->inputs[2]].data : NULL;
    const size_t m = (size_t)ws->d[1] * (size_t)ws->d[2] * (size_t)f->channels;
    ld_alloc *a = e->alloc;
    f->idx = ld_malloc(a, (m + 1) * sizeof *f->idx);
    f->x = ld_malloc(a, (m + 1) * sizeof *f->x);
    f->xk = ld_malloc(a, (m + 1) * sizeof *f->xk);
    f->y = ld_malloc(a, (size_t)f->oc * sizeof *f->y);
    if (f->idx) {
        for (size_t i = 0; i < m; i++)
            if (in->keep[i % (size_t)f->channels])
                f->idx[f->n++] = (int)i;
        f->idx[f->n++] = (int)m;
    }
    const size_t n = (size_t)f->n;
    f->a = ld_calloc(a, n * n, sizeof *f->a);
    f->b = ld_calloc(a, n * (size_t)f->oc, sizeof *f->b);
    if (!f->idx || !f->x || !f->xk || !f->y || !f->a || !f->b)
        return ld_fail(e->err, LEANDET_ERR_NO_MEMORY, "%s: out of memory refitting operator %d (%zu inputs)",
                       e->file, j, n);
    return LEANDET_OK;
}

/* Readers refitted together: none reads what another one computes. */
#define MAX_PASS 16

/* One pass of the calibration images through the original and the pruned
 * model (as it stands), refitting the pass's readers. */
static leandet_status refit_pass(ld_edit *e, uint8_t *owned, const ld_prune_options *o, runner *orig,
                                 runner *cur, refit *f, int n, int *images)
{
    leandet_model view;
    model_view(e, &view);
    leandet_status st = runner_open(cur, &view, e->err);
    int used = 0;
    for (int i = 0; st == LEANDET_OK && i < orig->n; i++) {
        if (!runner_run(orig, i, 0, &st, e->err) || st != LEANDET_OK)
            continue;
        if (!runner_run(cur, i, 0, &st, e->err) || st != LEANDET_OK)
            continue;
        for (int k = 0; k < n && st == LEANDET_OK; k++) {
            const ld_op_desc *op = &e->m.ops[f[k].op];
            const float *x0 = float_input(orig->s, op), *x1 = float_input(cur->s, op);
            if (!x0 || !x1)
                st = ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: operator %d: input is not a float32 image tensor",
                             e->file, f[k].op);
            else
                accumulate(&f[k], x0, x1, i);
        }
        used++;
    }
    runner_close(cur);
    for (int k = 0; k < n && st == LEANDET_OK; k++) {
        if (f[k].samples == 0)
            continue;
        const double inv = 1.0 / (double)f[k].samples;
        for (size_t i = 0; i < (size_t)f[k].n * (size_t)f[k].n; i++)
            f[k].a[i] *= inv;
        for (size_t i = 0; i < (size_t)f[k].n * (size_t)f[k].oc; i++)
            f[k].b[i] *= inv;
        st = solve(e, owned, &f[k]);
    }
    *images = used;
    (void)o;
    return st;
}

/* Mark every tensor computed from op j's output (ops are in graph order). */
static void mark_downstream(const ld_edit *e, int j, uint8_t *dirty)
{
    for (int k = 0; k < e->m.ops[j].n_outputs; k++)
        dirty[e->m.ops[j].outputs[k]] = 1;
    for (int i = j + 1; i < e->m.n_ops; i++) {
        const ld_op_desc *op = &e->m.ops[i];
        int hit = 0;
        for (int k = 0; k < op->n_inputs && !hit; k++)
            hit = op->inputs[k] >= 0 && dirty[op->inputs[k]];
        for (int k = 0; hit && k < op->n_outputs; k++)
            dirty[op->outputs[k]] = 1;
    }
}

leandet_status ld_prune_refit(ld_edit *e, const ld_prune_options *o, ld_prune_mask *const *masks,
                              const uint8_t *is_reader, int *refitted, int *images)
{
    const int nops = e->m.n_ops;
    *refitted = 0;
    uint8_t *owned = ld_edit_alloc(e, (size_t)e->m.n_tensors, 1, "pruned weights");
    uint8_t *dirty = ld_edit_alloc(e, (size_t)e->m.n_tensors, 1, "refit order");
    uint8_t *done = ld_edit_alloc(e, (size_t)nops, 1, "refit order");
    leandet_status st = owned && dirty && done ? LEANDET_OK : LEANDET_ERR_NO_MEMORY;
    /* the pruned model with its original shapes: removed channels compute zero */
    for (int j = 0; j < nops && st == LEANDET_OK; j++) {
        const ld_op_desc *op = &e->m.ops[j];
        const ld_prune_mask *m = op->builtin == LD_OP_CONV_2D ? masks[op->outputs[0]] : NULL;
        if (m && (st = zero_rows(e, owned, j, m)) == LEANDET_OK)
            st = zero_depthwise(e, owned, op->outputs[0], m, 0);
    }
    runner orig, cur;
    memset(&orig, 0, sizeof orig);
    memset(&cur, 0, sizeof cur);
    if (st == LEANDET_OK)
        st = ld_calib_list(o->calibration, o->count, &orig.paths, &orig.n, e->err);
    cur.paths = orig.paths;
    cur.n = orig.n;
    if (st == LEANDET_OK)
        st = runner_open(&orig, o->source, e->err);
    refit f[MAX_PASS];
    while (st == LEANDET_OK) {
        /* the next readers in graph order, up to the first that reads what
         * one of them computes: that one needs their refit first */
        int n = 0;
        memset(dirty, 0, (size_t)e->m.n_tensors);
        for (int j = 0; j < nops && n < MAX_PASS && st == LEANDET_OK; j++) {
            const ld_prune_mask *in = is_reader[j] && !done[j] ? masks[e->m.ops[j].inputs[0]] : NULL;
            if (!in)
                continue;
            if (dirty[e->m.ops[j].inputs[0]])
                break;
            st = refit_init(e, o->source, j, in, &f[n++]);
            done[j] = 1;
            mark_downstream(e, j, dirty);
        }
        if (n == 0)
            break;
        if (st == LEANDET_OK)
            st = refit_pass(e, owned, o, &orig, &cur, f, n, images);
        for (int k = 0; k < n; k++) {
            const int j = f[k].op;
            const ld_prune_mask *out = masks[e->m.ops[j].outputs[0]], *in = masks[e->m.ops[j].inputs[0]];
            if (st == LEANDET_OK && out)
                st = zero_rows(e, owned, j, out); /* the refit solved every row: removed ones stay zero */
            if (st == LEANDET_OK)
                ++*refitted;
            if (o->verbose && st == LEANDET_OK)
                fprintf(stderr, "prune: refitted operator %d (%d of %d input channels) on %d images\n", j,
                        in->kept, in->total, *images);
            refit_free(e->alloc, &f[k]);
        }
    }
    runner_close(&orig);
    ld_calib_paths_free(orig.paths, orig.n);
    if (st == LEANDET_ERR_NO_MEMORY && !e->err->message[0])
        ld_fail(e->err, st, "%s: out of memory refitting", e->file);
    return st;
}

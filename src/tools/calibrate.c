/* ld_calibrate: ranges of every float32 activation over real images. The
 * session keeps every tensor (no arena sharing) so each intermediate is
 * still readable after invoke; the detector does the preprocessing. */
#include "tools/calibrate.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/session_internal.h"
#include "tools/dataset_internal.h"
#include "tools/histogram.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ld_calib_paths_free(char **paths, int n)
{
    for (int i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

leandet_status ld_calib_list(const char *dir, int count, char ***paths, int *n, leandet_error *err)
{
    *paths = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp)
        return ld_fail(err, LEANDET_ERR_IO, "calibration directory %s: cannot list: %s", dir, strerror(errno));
    char **v = NULL;
    size_t cap = 0, k = 0;
    leandet_status st = LEANDET_OK;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.' || !ld_ds_is_image_name(de->d_name))
            continue;
        if (k == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nv = (k < (size_t)1 << 24) ? realloc(v, nc * sizeof *v) : NULL;
            if (!nv) {
                st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "calibration directory %s: too many files", dir);
                break;
            }
            v = nv;
            cap = nc;
        }
        size_t len = strlen(dir) + 1 + strlen(de->d_name) + 1;
        if (!(v[k] = malloc(len))) {
            st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "calibration directory %s: out of memory", dir);
            break;
        }
        snprintf(v[k++], len, "%s/%s", dir, de->d_name);
    }
    closedir(dp);
    if (st == LEANDET_OK && k == 0)
        st = ld_fail(err, LEANDET_ERR_ARGUMENT,
                     "calibration directory %s holds no image (.jpg .jpeg .png .bmp .ppm .pgm)", dir);
    if (st != LEANDET_OK) {
        ld_calib_paths_free(v, (int)k);
        return st;
    }
    qsort(v, k, sizeof *v, cmp_str);
    if (count > 0 && (size_t)count < k) {
        for (size_t i = (size_t)count; i < k; i++)
            free(v[i]);
        k = (size_t)count;
    }
    *paths = v;
    *n = (int)k;
    return LEANDET_OK;
}

/* The float32 activations a session computes (the ones calibrated). */
static int calibrated(const ld_tensor *x)
{
    return x->type == LEANDET_FLOAT32 && !x->is_const && x->data;
}

/* Fold the values of every float32 activation into its range, or into its
 * histogram (hist_of[t] >= 0). */
static void observe(const leandet_session *s, ld_calib_range *ranges, ld_hist *hists, const int *hist_of)
{
    const int n = s->model->desc.n_tensors;
    for (int t = 0; t < n; t++) {
        const ld_tensor *x = &s->tensors[t];
        if (!calibrated(x))
            continue;
        const float *v = x->data;
        size_t count = x->bytes / sizeof(float);
        if (hists && hist_of[t] >= 0) {
            ld_hist_add(&hists[hist_of[t]], v, count);
            continue;
        }
        ld_calib_range *r = &ranges[t];
        for (size_t i = 0; i < count; i++) {
            float f = v[i];
            if (!isfinite(f))
                continue;
            if (!r->seen) {
                r->min = r->max = f;
                r->seen = 1;
            }
            if (f < r->min)
                r->min = f;
            if (f > r->max)
                r->max = f;
        }
    }
}

/* Histogram state for percentile calibration: one ld_hist per calibrated
 * tensor, all counters in one accounted block. */
typedef struct hist_set {
    ld_hist *h;
    int *of;          /* per model tensor: histogram index or -1 */
    uint64_t *counters;
    int n;
} hist_set;

static leandet_status hist_setup(const leandet_session *s, ld_alloc *a, hist_set *hs, ld_calib_stats *stats,
                                 leandet_error *err)
{
    const int nt = s->model->desc.n_tensors;
    hs->of = ld_calloc(a, (size_t)nt, sizeof *hs->of);
    if (!hs->of)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "calibration: out of memory for the histogram index");
    for (int t = 0; t < nt; t++)
        hs->of[t] = calibrated(&s->tensors[t]) ? hs->n++ : -1;
    size_t bytes = ld_hist_bytes((size_t)hs->n);
    hs->h = ld_calloc(a, (size_t)hs->n + 1, sizeof *hs->h);
    hs->counters = bytes ? ld_calloc(a, 1, bytes) : NULL;
    if (!hs->h || (hs->n && !hs->counters))
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "calibration: out of memory for %d histograms (%zu bytes)",
                       hs->n, bytes);
    for (int i = 0; i < hs->n; i++)
        ld_hist_init(&hs->h[i], hs->counters + (size_t)i * 2 * LD_HIST_BINS);
    stats->histograms = hs->n;
    stats->hist_bytes = bytes;
    return LEANDET_OK;
}

static void hist_ranges(const hist_set *hs, int nt, double p, ld_calib_range *ranges)
{
    for (int t = 0; t < nt; t++) {
        const ld_hist *h = hs->of[t] >= 0 ? &hs->h[hs->of[t]] : NULL;
        if (!h || h->total == 0)
            continue;
        ld_hist_range(h, p, &ranges[t].min, &ranges[t].max);
        ranges[t].seen = 1;
    }
}

static void hist_free(ld_alloc *a, hist_set *hs)
{
    ld_free(a, hs->counters);
    ld_free(a, hs->h);
    ld_free(a, hs->of);
}

leandet_status ld_calibrate(const leandet_model *model, const ld_calib_options *o, ld_calib_range *ranges,
                            ld_calib_stats *stats, leandet_error *err)
{
    memset(stats, 0, sizeof *stats);
    const char *dir = o->dir;
    if (o->method == LD_CALIB_PERCENTILE && (!o->alloc || !(o->percentile > 0.0 && o->percentile <= 100.0)))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "calibration: percentile %g is not in (0, 100]", o->percentile);
    char **paths = NULL;
    int n = 0;
    leandet_status st = ld_calib_list(dir, o->count, &paths, &n, err);
    if (st != LEANDET_OK)
        return st;
    memset(ranges, 0, (size_t)model->desc.n_tensors * sizeof *ranges);
    leandet_session_options so;
    memset(&so, 0, sizeof so);
    so.keep_all_tensors = 1;
    so.backend = LEANDET_BACKEND_REFERENCE;
    leandet_session *s = NULL;
    leandet_detector *d = NULL;
    leandet_detect_options dopt;
    leandet_detect_options_default(&dopt);
    hist_set hs;
    memset(&hs, 0, sizeof hs);
    st = leandet_session_create(model, &so, &s, err);
    if (st == LEANDET_OK)
        st = leandet_detector_create(s, &dopt, &d, err);
    if (st == LEANDET_OK && o->method == LD_CALIB_PERCENTILE)
        st = hist_setup(s, o->alloc, &hs, stats, err);
    leandet_detection dets[16];
    for (int i = 0; st == LEANDET_OK && i < n; i++) {
        leandet_image img;
        leandet_error ierr;
        memset(&ierr, 0, sizeof ierr);
        if (leandet_image_load(paths[i], &img, &ierr) != LEANDET_OK) {
            if (o->verbose)
                fprintf(stderr, "calibration: skipping %s: %s\n", paths[i], ierr.message);
            continue;
        }
        int got = 0;
        st = leandet_detector_run(d, &img, dets, 16, &got, err);
        leandet_image_free(&img);
        if (st != LEANDET_OK) {
            ld_fail_prefix(err, st, "calibration image %s: ", paths[i]);
            break;
        }
        observe(s, ranges, hs.h, hs.of);
        stats->used++;
    }
    if (st == LEANDET_OK && stats->used == 0)
        st = ld_fail(err, LEANDET_ERR_IO, "calibration directory %s: none of its %d image files decodes", dir, n);
    if (st == LEANDET_OK && hs.h)
        hist_ranges(&hs, model->desc.n_tensors, o->percentile, ranges);
    if (o->alloc)
        hist_free(o->alloc, &hs);
    leandet_detector_destroy(d);
    leandet_session_destroy(s);
    ld_calib_paths_free(paths, n);
    return st;
}

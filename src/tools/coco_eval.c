/* COCOeval (bbox) re-done in C: the same loops, in the same order, with the
 * same floating-point operations, so the results agree with pycocotools to
 * rounding of the final means. See coco_eval.h for the rules. */
#include "tools/coco_eval.h"

#include <float.h>
#include <math.h>
#include <string.h>

enum { T = 10, R = 101, A = 4, M = 3, MAX_DET = 100 };

static const double area_lo[A] = {0.0, 0.0, 32.0 * 32.0, 96.0 * 96.0};
static const double area_hi[A] = {1e10, 32.0 * 32.0, 96.0 * 96.0, 1e10};
static const int max_dets[M] = {1, 10, 100};

/* Codes of a detection at one IoU threshold and area range. */
enum { DT_IGNORED = 0, DT_TP = 1, DT_FP = 2 };

typedef int (*less_fn)(const void *ctx, size_t a, size_t b);

/* Stable bottom-up merge sort of v[0..n) (tmp: n entries): equal keys keep
 * their order, as numpy's kind='mergesort' does. */
static void merge_sort(size_t *v, size_t *tmp, size_t n, less_fn less, const void *ctx)
{
    size_t *src = v, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = less(ctx, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        size_t *s = src;
        src = dst;
        dst = s;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}

typedef struct evaluator {
    const ld_coco_input *in;
    double iou_thr[T], rec_thr[R];
    size_t *rank;                 /* image index -> position in id order */
    size_t *gt_order, *dt_order;  /* by (category, image rank), file order within */
    /* one (image, category) group */
    size_t *dsort, *dtmp;         /* max_d */
    double *ious;                 /* MAX_DET x max_g */
    size_t *gorder;               /* max_g */
    unsigned char *gig, *gtm;     /* max_g, T x max_g */
    /* one category, all images */
    size_t *ent_off, *ent_n;      /* per entry (image with gt or dt) */
    double *score;                /* max_total */
    unsigned char *code;          /* A x T x max_total */
    size_t *list, *ltmp;          /* max_total */
    double *rc, *pr;              /* max_total */
    size_t n_ent, total, max_total;
    size_t npig[A];
    /* results, [T][K][A][M] */
    double *psum, *recall;
    unsigned char *valid;
} evaluator;

static size_t idx4(const evaluator *e, int t, int k, int a, int m)
{
    return (((size_t)t * (size_t)e->in->n_categories + (size_t)k) * A + (size_t)a) * M + (size_t)m;
}

static int image_less(const void *ctx, size_t a, size_t b)
{
    const int64_t *id = ctx;
    return id[a] < id[b];
}

static int gt_less(const void *ctx, size_t a, size_t b)
{
    const evaluator *e = ctx;
    const ld_coco_gt *x = &e->in->gt[a], *y = &e->in->gt[b];
    if (x->category != y->category)
        return x->category < y->category;
    return e->rank[x->image] < e->rank[y->image];
}

static int dt_less(const void *ctx, size_t a, size_t b)
{
    const evaluator *e = ctx;
    const ld_coco_dt *x = &e->in->dt[a], *y = &e->in->dt[b];
    if (x->category != y->category)
        return x->category < y->category;
    return e->rank[x->image] < e->rank[y->image];
}

static int dt_score_less(const void *ctx, size_t a, size_t b)
{
    const ld_coco_dt *dt = ctx;
    return dt[a].score > dt[b].score;
}

static int score_less(const void *ctx, size_t a, size_t b)
{
    const double *s = ctx;
    return s[a] > s[b];
}

/* pycocotools' bbIou: boxes x, y, w, h; a crowd region divides by the
 * detection's area only. */
static double box_iou(const double *d, const double *g, int crowd)
{
    double w = fmin(d[2] + d[0], g[2] + g[0]) - fmax(d[0], g[0]);
    if (w <= 0)
        return 0;
    double h = fmin(d[3] + d[1], g[3] + g[1]) - fmax(d[1], g[1]);
    if (h <= 0)
        return 0;
    double i = w * h, da = d[2] * d[3], ga = g[2] * g[3];
    double u = crowd ? da : da + ga - i;
    return i / u;
}

static leandet_status validate(const ld_coco_input *in, leandet_error *err)
{
    if (in->n_images < 0 || in->n_categories < 0 || (in->n_images && !in->image_ids) || (in->n_gt && !in->gt) ||
        (in->n_dt && !in->dt))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "coco eval: invalid input arrays");
    for (size_t i = 0; i < in->n_gt; i++) {
        const ld_coco_gt *g = &in->gt[i];
        if (g->image < 0 || g->image >= in->n_images || g->category < 0 || g->category >= in->n_categories)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "coco eval: annotation %zu (id %lld) has image %d / category %d "
                           "outside 0..%d / 0..%d", i, (long long)g->id, g->image, g->category, in->n_images - 1,
                           in->n_categories - 1);
        if (!isfinite(g->bbox[0]) || !isfinite(g->bbox[1]) || !isfinite(g->bbox[2]) || !isfinite(g->bbox[3]) ||
            !isfinite(g->area))
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "coco eval: annotation id %lld has a non-finite box or area",
                           (long long)g->id);
    }
    for (size_t i = 0; i < in->n_dt; i++) {
        const ld_coco_dt *d = &in->dt[i];
        if (d->image < 0 || d->image >= in->n_images || d->category < 0 || d->category >= in->n_categories)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "coco eval: detection %zu has image %d / category %d outside "
                           "0..%d / 0..%d", i, d->image, d->category, in->n_images - 1, in->n_categories - 1);
        if (!isfinite(d->bbox[0]) || !isfinite(d->bbox[1]) || !isfinite(d->bbox[2]) || !isfinite(d->bbox[3]) ||
            !isfinite(d->score))
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "coco eval: detection %zu has a non-finite box or score", i);
    }
    return LEANDET_OK;
}

/* The next (category k, image) group: gt_order[*g0..*gi), dt_order[*d0..*di).
 * 0 when category k has no more groups. */
static int next_group(const evaluator *e, int k, size_t *gi, size_t *di, size_t *g0, size_t *d0)
{
    const ld_coco_input *in = e->in;
    int has_g = *gi < in->n_gt && in->gt[e->gt_order[*gi]].category == k;
    int has_d = *di < in->n_dt && in->dt[e->dt_order[*di]].category == k;
    if (!has_g && !has_d)
        return 0;
    size_t rg = has_g ? e->rank[in->gt[e->gt_order[*gi]].image] : SIZE_MAX;
    size_t rd = has_d ? e->rank[in->dt[e->dt_order[*di]].image] : SIZE_MAX;
    size_t r = rg < rd ? rg : rd;
    *g0 = *gi;
    *d0 = *di;
    while (*gi < in->n_gt && in->gt[e->gt_order[*gi]].category == k && e->rank[in->gt[e->gt_order[*gi]].image] == r)
        (*gi)++;
    while (*di < in->n_dt && in->dt[e->dt_order[*di]].category == k && e->rank[in->dt[e->dt_order[*di]].image] == r)
        (*di)++;
    return 1;
}

/* evaluateImg for one group and every area range: appends one entry. */
static void evaluate_group(evaluator *e, size_t g0, size_t G, size_t d0, size_t D)
{
    const ld_coco_gt *gt = e->in->gt;
    const ld_coco_dt *dt = e->in->dt;
    memcpy(e->dsort, e->dt_order + d0, D * sizeof *e->dsort);
    merge_sort(e->dsort, e->dtmp, D, dt_score_less, dt);
    size_t Dm = D < MAX_DET ? D : MAX_DET;
    for (size_t d = 0; d < Dm; d++)
        for (size_t g = 0; g < G; g++) {
            const ld_coco_gt *x = &gt[e->gt_order[g0 + g]];
            e->ious[d * G + g] = box_iou(dt[e->dsort[d]].bbox, x->bbox, x->iscrowd);
        }
    size_t off = e->total;
    e->ent_off[e->n_ent] = off;
    e->ent_n[e->n_ent++] = Dm;
    e->total += Dm;
    for (size_t d = 0; d < Dm; d++)
        e->score[off + d] = dt[e->dsort[d]].score;

    for (int a = 0; a < A; a++) {
        size_t ng = 0;
        for (int pass = 0; pass < 2; pass++) /* gt order: not ignored first (a stable sort on the flag) */
            for (size_t g = 0; g < G; g++) {
                const ld_coco_gt *x = &gt[e->gt_order[g0 + g]];
                int ig = x->iscrowd || x->area < area_lo[a] || x->area > area_hi[a];
                if (ig == pass) {
                    e->gorder[ng] = g;
                    e->gig[ng++] = (unsigned char)ig;
                }
            }
        for (size_t g = 0; g < G; g++)
            e->npig[a] += !e->gig[g];
        memset(e->gtm, 0, (size_t)T * G);
        for (int t = 0; t < T; t++) {
            unsigned char *code = e->code + ((size_t)a * T + (size_t)t) * e->max_total + off;
            for (size_t d = 0; d < Dm; d++) {
                double iou = fmin(e->iou_thr[t], 1 - 1e-10);
                long m = -1;
                for (size_t s = 0; s < G; s++) {
                    const ld_coco_gt *x = &gt[e->gt_order[g0 + e->gorder[s]]];
                    if (e->gtm[(size_t)t * G + s] && !x->iscrowd)
                        continue; /* taken, and not a crowd that absorbs more */
                    if (m > -1 && e->gig[m] == 0 && e->gig[s] == 1)
                        break;    /* matched a real object; the rest are ignored ones */
                    double v = e->ious[d * G + e->gorder[s]];
                    if (v < iou)
                        continue;
                    iou = v;
                    m = (long)s;
                }
                int64_t match = 0; /* the matched annotation's id, 0 for none (as COCOeval stores it) */
                int ignored = 0;
                if (m > -1) {
                    ignored = e->gig[m];
                    match = gt[e->gt_order[g0 + e->gorder[m]]].id;
                    e->gtm[(size_t)t * G + (size_t)m] = 1;
                }
                const double *b = dt[e->dsort[d]].bbox;
                double darea = b[2] * b[3];
                if (match == 0 && (darea < area_lo[a] || darea > area_hi[a]))
                    ignored = 1;
                code[d] = ignored ? DT_IGNORED : match != 0 ? DT_TP : DT_FP;
            }
        }
    }
}

/* accumulate() for category k once all its groups are in. */
static void accumulate_category(evaluator *e, int k)
{
    const double eps = DBL_EPSILON; /* np.spacing(1) */
    for (int a = 0; a < A; a++) {
        if (e->npig[a] == 0)
            continue; /* stays -1: no ground truth to recall */
        const double npig = (double)e->npig[a];
        for (int mi = 0; mi < M; mi++) {
            size_t nd = 0;
            for (size_t x = 0; x < e->n_ent; x++) {
                size_t n = e->ent_n[x] < (size_t)max_dets[mi] ? e->ent_n[x] : (size_t)max_dets[mi];
                for (size_t j = 0; j < n; j++)
                    e->list[nd++] = e->ent_off[x] + j;
            }
            merge_sort(e->list, e->ltmp, nd, score_less, e->score);
            for (int t = 0; t < T; t++) {
                const unsigned char *code = e->code + ((size_t)a * T + (size_t)t) * e->max_total;
                double tp = 0, fp = 0;
                for (size_t i = 0; i < nd; i++) {
                    unsigned char c = code[e->list[i]];
                    tp += c == DT_TP;
                    fp += c == DT_FP;
                    e->rc[i] = tp / npig;
                    e->pr[i] = tp / (fp + tp + eps);
                }
                for (size_t i = nd; i-- > 1;) /* precision envelope */
                    if (e->pr[i] > e->pr[i - 1])
                        e->pr[i - 1] = e->pr[i];
                double sum = 0;
                size_t i = 0;
                for (int r = 0; r < R; r++) {
                    while (i < nd && e->rc[i] < e->rec_thr[r])
                        i++;
                    if (i == nd)
                        break; /* recall never reached: precision 0 from here on */
                    sum += e->pr[i];
                }
                size_t at = idx4(e, t, k, a, mi);
                e->psum[at] = sum;
                e->recall[at] = nd ? e->rc[nd - 1] : 0;
                e->valid[at] = 1;
            }
        }
    }
}

/* Mean of precision (ap=1) or recall over the valid (t, k) at area a and
 * maxDets index m; t_only >= 0 restricts to one IoU threshold. */
static double summarize(const evaluator *e, int ap, int t_only, int a, int m)
{
    double sum = 0;
    size_t n = 0;
    for (int t = 0; t < T; t++) {
        if (t_only >= 0 && t != t_only)
            continue;
        for (int k = 0; k < e->in->n_categories; k++) {
            size_t at = idx4(e, t, k, a, m);
            if (!e->valid[at])
                continue;
            sum += ap ? e->psum[at] : e->recall[at];
            n += ap ? R : 1;
        }
    }
    return n ? sum / (double)n : -1.0;
}

static int threshold_index(const evaluator *e, double v)
{
    for (int t = 0; t < T; t++)
        if (e->iou_thr[t] == v)
            return t;
    return -2; /* COCOeval finds no threshold and averages nothing */
}

static void per_category(const evaluator *e, ld_coco_category_result *out)
{
    const ld_coco_input *in = e->in;
    for (int k = 0; k < in->n_categories; k++) {
        double sum = 0, sum50 = 0;
        int ok = 1;
        for (int t = 0; t < T; t++) {
            size_t at = idx4(e, t, k, 0, M - 1);
            ok &= e->valid[at];
            sum += e->psum[at];
            if (t == 0)
                sum50 = e->psum[at];
        }
        out[k].ap = ok ? sum / (T * R) : -1.0;
        out[k].ap50 = ok ? sum50 / R : -1.0;
        out[k].n_gt = 0;
        out[k].n_dt = 0;
    }
    for (size_t i = 0; i < in->n_gt; i++)
        out[in->gt[i].category].n_gt += !in->gt[i].iscrowd;
    for (size_t i = 0; i < in->n_dt; i++)
        out[in->dt[i].category].n_dt++;
}

#define ALLOC(field, n)                                                          \
    do {                                                                         \
        size_t n_ = (n);                                                         \
        if (!((field) = ld_calloc(alloc, n_ > 0 ? n_ : 1, sizeof *(field))))     \
            goto oom;                                                            \
    } while (0)

leandet_status ld_coco_evaluate(const ld_coco_input *in, ld_alloc *alloc, double stats[LD_COCO_NSTATS],
                                ld_coco_category_result *per_cat, leandet_error *err)
{
    leandet_status st = validate(in, err);
    if (st)
        return st;
    evaluator e;
    memset(&e, 0, sizeof e);
    e.in = in;
    /* As np.linspace builds them: i * step + start, the last one exact. */
    const double istep = (0.95 - 0.5) / (T - 1), rstep = (1.0 - 0.0) / (R - 1);
    for (int t = 0; t < T; t++)
        e.iou_thr[t] = t == T - 1 ? 0.95 : t * istep + 0.5;
    for (int r = 0; r < R; r++)
        e.rec_thr[r] = r == R - 1 ? 1.0 : r * rstep + 0.0;

    const size_t K = (size_t)in->n_categories, NI = (size_t)in->n_images;
    size_t *img_sorted = NULL, *tmp = NULL;
    size_t n_tmp = NI > in->n_gt ? NI : in->n_gt;
    n_tmp = n_tmp > in->n_dt ? n_tmp : in->n_dt;
    ALLOC(e.rank, NI);
    ALLOC(img_sorted, NI);
    ALLOC(tmp, n_tmp);
    ALLOC(e.gt_order, in->n_gt);
    ALLOC(e.dt_order, in->n_dt);
    if (K > SIZE_MAX / ((size_t)T * A * M * sizeof(double)))
        goto oom;
    ALLOC(e.psum, (size_t)T * K * A * M);
    ALLOC(e.recall, (size_t)T * K * A * M);
    ALLOC(e.valid, (size_t)T * K * A * M);

    for (size_t i = 0; i < NI; i++)
        img_sorted[i] = i;
    merge_sort(img_sorted, tmp, NI, image_less, in->image_ids);
    for (size_t i = 0; i < NI; i++) {
        if (i && in->image_ids[img_sorted[i]] == in->image_ids[img_sorted[i - 1]]) {
            st = ld_fail(err, LEANDET_ERR_ARGUMENT, "coco eval: image id %lld appears twice",
                         (long long)in->image_ids[img_sorted[i]]);
            goto done;
        }
        e.rank[img_sorted[i]] = i;
    }
    for (size_t i = 0; i < in->n_gt; i++)
        e.gt_order[i] = i;
    merge_sort(e.gt_order, tmp, in->n_gt, gt_less, &e);
    for (size_t i = 0; i < in->n_dt; i++)
        e.dt_order[i] = i;
    merge_sort(e.dt_order, tmp, in->n_dt, dt_less, &e);

    /* Sizes of the working buffers: the largest group and category. */
    size_t max_g = 0, max_d = 0, max_ent = 0, gi = 0, di = 0, g0, d0;
    for (int k = 0; k < in->n_categories; k++) {
        size_t ent = 0, total = 0;
        while (next_group(&e, k, &gi, &di, &g0, &d0)) {
            max_g = gi - g0 > max_g ? gi - g0 : max_g;
            max_d = di - d0 > max_d ? di - d0 : max_d;
            ent++;
            total += di - d0 < MAX_DET ? di - d0 : MAX_DET;
        }
        max_ent = ent > max_ent ? ent : max_ent;
        e.max_total = total > e.max_total ? total : e.max_total;
    }
    if (max_g > SIZE_MAX / (MAX_DET * sizeof(double)) || e.max_total > SIZE_MAX / ((size_t)A * T))
        goto oom;
    ALLOC(e.dsort, max_d);
    ALLOC(e.dtmp, max_d);
    ALLOC(e.ious, (size_t)MAX_DET * max_g);
    ALLOC(e.gorder, max_g);
    ALLOC(e.gig, max_g);
    ALLOC(e.gtm, (size_t)T * max_g);
    ALLOC(e.ent_off, max_ent);
    ALLOC(e.ent_n, max_ent);
    ALLOC(e.score, e.max_total);
    ALLOC(e.code, (size_t)A * T * e.max_total);
    ALLOC(e.list, e.max_total);
    ALLOC(e.ltmp, e.max_total);
    ALLOC(e.rc, e.max_total);
    ALLOC(e.pr, e.max_total);

    gi = di = 0;
    for (int k = 0; k < in->n_categories; k++) {
        e.n_ent = e.total = 0;
        memset(e.npig, 0, sizeof e.npig);
        while (next_group(&e, k, &gi, &di, &g0, &d0))
            evaluate_group(&e, g0, gi - g0, d0, di - d0);
        accumulate_category(&e, k);
    }

    int t50 = threshold_index(&e, 0.5), t75 = threshold_index(&e, 0.75);
    stats[LD_COCO_AP] = summarize(&e, 1, -1, 0, 2);
    stats[LD_COCO_AP50] = t50 < 0 ? -1.0 : summarize(&e, 1, t50, 0, 2);
    stats[LD_COCO_AP75] = t75 < 0 ? -1.0 : summarize(&e, 1, t75, 0, 2);
    stats[LD_COCO_AP_SMALL] = summarize(&e, 1, -1, 1, 2);
    stats[LD_COCO_AP_MEDIUM] = summarize(&e, 1, -1, 2, 2);
    stats[LD_COCO_AP_LARGE] = summarize(&e, 1, -1, 3, 2);
    stats[LD_COCO_AR1] = summarize(&e, 0, -1, 0, 0);
    stats[LD_COCO_AR10] = summarize(&e, 0, -1, 0, 1);
    stats[LD_COCO_AR100] = summarize(&e, 0, -1, 0, 2);
    stats[LD_COCO_AR_SMALL] = summarize(&e, 0, -1, 1, 2);
    stats[LD_COCO_AR_MEDIUM] = summarize(&e, 0, -1, 2, 2);
    stats[LD_COCO_AR_LARGE] = summarize(&e, 0, -1, 3, 2);
    if (per_cat)
        per_category(&e, per_cat);
    goto done;
oom:
    st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "coco eval: out of memory (%d images, %d categories, %zu annotations, "
                 "%zu detections)", in->n_images, in->n_categories, in->n_gt, in->n_dt);
done:
    ld_free(alloc, img_sorted);
    ld_free(alloc, tmp);
    ld_free(alloc, e.rank);
    ld_free(alloc, e.gt_order);
    ld_free(alloc, e.dt_order);
    ld_free(alloc, e.psum);
    ld_free(alloc, e.recall);
    ld_free(alloc, e.valid);
    ld_free(alloc, e.dsort);
    ld_free(alloc, e.dtmp);
    ld_free(alloc, e.ious);
    ld_free(alloc, e.gorder);
    ld_free(alloc, e.gig);
    ld_free(alloc, e.gtm);
    ld_free(alloc, e.ent_off);
    ld_free(alloc, e.ent_n);
    ld_free(alloc, e.score);
    ld_free(alloc, e.code);
    ld_free(alloc, e.list);
    ld_free(alloc, e.ltmp);
    ld_free(alloc, e.rc);
    ld_free(alloc, e.pr);
    return st;
}

const char *ld_coco_stat_name(int index)
{
    static const char *const names[LD_COCO_NSTATS] = {
        "AP @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]", "AP @[ IoU=0.50      | area=   all | maxDets=100 ]",
        "AP @[ IoU=0.75      | area=   all | maxDets=100 ]", "AP @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "AP @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]", "AP @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
        "AR @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]", "AR @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
        "AR @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]", "AR @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "AR @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]", "AR @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
    };
    return index >= 0 && index < LD_COCO_NSTATS ? names[index] : "?";
}

/* COCO box evaluation, computed as pycocotools' COCOeval (iouType "bbox",
 * default parameters) computes it, so the numbers can be compared to it
 * to the last digit:
 *
 *  - IoU thresholds .50:.05:.95, 101 recall thresholds, maxDets 1/10/100,
 *    area ranges all [0, 1e10], small [0, 32^2], medium [32^2, 96^2],
 *    large [96^2, 1e10] (both ends inclusive, as COCOeval tests them).
 *  - Per image and category: detections sorted by score (a stable sort,
 *    as numpy's mergesort), the best 100 kept; ground truth ordered
 *    non-ignored first (ignored = crowd or area outside the range);
 *    greedy matching where a crowd region may absorb any number of
 *    detections and its IoU is intersection / detection area; unmatched
 *    detections outside the area range are ignored.
 *  - Accumulation over images in increasing image id; precision made
 *    monotone, sampled at the recall thresholds (searchsorted 'left');
 *    categories without ground truth give -1 and are left out of the
 *    means; a mean with nothing to average is -1.
 *
 * Quirks kept on purpose: an annotation with id 0 cannot be matched
 * (COCOeval stores match ids and treats 0 as "none"); detection ids are
 * 1 + their position in the input, as loadRes numbers them, so the input
 * order of detections is the results-file order and decides ties. */
#ifndef LD_TOOLS_COCO_EVAL_H
#define LD_TOOLS_COCO_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "core/error.h"

typedef struct ld_coco_gt {
    int image;        /* index into the input's image_ids */
    int category;     /* 0 .. n_categories-1 */
    int iscrowd;
    int64_t id;       /* annotation id */
    double bbox[4];   /* x, y, w, h */
    double area;      /* the annotation's area (used for the area ranges) */
} ld_coco_gt;

typedef struct ld_coco_dt {
    int image, category;
    double bbox[4];   /* x, y, w, h; its area is w * h */
    double score;
} ld_coco_dt;

typedef struct ld_coco_input {
    int n_images;
    const int64_t *image_ids;   /* distinct; evaluation visits them in increasing order */
    int n_categories;
    const ld_coco_gt *gt;       /* annotations, in file order */
    size_t n_gt;
    const ld_coco_dt *dt;       /* detections, in results-file order */
    size_t n_dt;
} ld_coco_input;

/* The twelve numbers COCOeval.summarize() prints, in its order. */
enum {
    LD_COCO_AP = 0, LD_COCO_AP50, LD_COCO_AP75, LD_COCO_AP_SMALL, LD_COCO_AP_MEDIUM, LD_COCO_AP_LARGE,
    LD_COCO_AR1, LD_COCO_AR10, LD_COCO_AR100, LD_COCO_AR_SMALL, LD_COCO_AR_MEDIUM, LD_COCO_AR_LARGE,
    LD_COCO_NSTATS
};

typedef struct ld_coco_category_result {
    double ap;        /* AP@[.5:.95], area all, 100 detections; -1 without ground truth */
    double ap50;
    int n_gt;         /* non-crowd ground truth objects */
    int n_dt;         /* detections of the category (before the 100 per image cap) */
} ld_coco_category_result;

/* Evaluate. stats receives LD_COCO_NSTATS values; per_category (may be
 * NULL) receives n_categories entries. Working memory comes from `alloc`
 * and is released before returning. Errors: an index out of range, a
 * duplicate image id, a non-finite number. */
leandet_status ld_coco_evaluate(const ld_coco_input *in, ld_alloc *alloc, double stats[LD_COCO_NSTATS],
                                ld_coco_category_result *per_category, leandet_error *err);

/* The summary line labels, as COCOeval prints them ("AP @[ IoU=0.50:0.95 |
 * area=   all | maxDets=100 ]"), for reports. */
const char *ld_coco_stat_name(int index);

#endif

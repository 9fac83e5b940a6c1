/* Detection datasets on disk, read into COCO terms (images, categories,
 * box annotations) for `leandet eval`. Two layouts:
 *
 *  COCO  DIR/annotations/instances_<split>.json + DIR/images/<split>/ (or
 *        DIR/<split>/). Images, categories (ids as in the file, e.g. 1-90)
 *        and annotations with their own area and iscrowd; a missing "area"
 *        is taken as the box area, a missing "iscrowd" as 0. Images listed
 *        in the json whose file is absent are dropped with a warning.
 *  YOLO  DIR/data.yaml ("names:" as an `N: name` map, a `- name` list or a
 *        [flow, list]) + DIR/images/<split>/ + DIR/labels/<split>/<stem>.txt
 *        with one "class cx cy w h" line per object, normalized to [0, 1]
 *        (or "class x1 y1 x2 y2 ..." polygons, taken as their bounding box).
 *        YOLO labels carry no segmentation, so an object's area is its box
 *        area in pixels, w*h, which is what pycocotools would use for a
 *        box-only ground truth; iscrowd is 0. Category ids are class + 1.
 *        An image without a label file has no objects (and still counts);
 *        a label file without an image is skipped with a warning.
 *        Image ids are the file stems when every stem is a number (COCO
 *        names such as 000000000139.jpg give id 139), else 1, 2, ... in
 *        file-name order.
 *
 * Images are kept sorted by id (the order COCOeval visits them);
 * categories by id; the annotations of image i are anns[first_ann ..
 * first_ann + n_anns), in file order. Everything is validated: a malformed
 * file is an error naming the file and line (YAML, labels) or line and
 * column (json). */
#ifndef LD_TOOLS_DATASET_H
#define LD_TOOLS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "core/error.h"

#define LD_DATASET_MAX_JSON_BYTES ((size_t)1 << 30)
#define LD_DATASET_MAX_TEXT_BYTES ((size_t)1 << 20) /* data.yaml, one label file */
#define LD_DATASET_MAX_NAME 256                     /* a category name, in bytes */
#define LD_DATASET_MAX_PATH 4096

typedef enum ld_dataset_layout { LD_DATASET_AUTO = 0, LD_DATASET_YOLO, LD_DATASET_COCO } ld_dataset_layout;

typedef struct ld_dataset_image {
    int64_t id;
    const char *path;         /* the image file */
    int width, height;        /* COCO: as the json says (0 if absent); YOLO: 0 until set_image_size */
    size_t first_ann, n_anns;
} ld_dataset_image;

typedef struct ld_dataset_category {
    int64_t id;
    const char *name;
} ld_dataset_category;

typedef struct ld_dataset_ann {
    int64_t id;               /* COCO: the json's; YOLO: 1, 2, ... in image order */
    int category;             /* index into categories */
    int iscrowd;
    double bbox[4];           /* x, y, w, h in pixels (YOLO: valid after set_image_size) */
    double area;
    double norm[4];           /* YOLO only: cx, cy, w, h as the label file says */
} ld_dataset_ann;

/* Warnings (skipped files, ...) go to this callback, one message each. */
typedef void (*ld_warn_fn)(void *ctx, const char *message);

typedef struct ld_dataset {
    ld_dataset_layout layout;
    const char *source;       /* the annotation json or data.yaml */
    int n_images, n_categories;
    size_t n_anns;
    ld_dataset_image *images;
    ld_dataset_category *categories;
    ld_dataset_ann *anns;
    int unlabeled_images;     /* YOLO: images without a label file */
    int skipped;              /* label files without image / json images without file */
    /* private */
    ld_alloc *alloc;
    void *chunks;             /* string storage */
    ld_warn_fn warn;
    void *warn_ctx;
} ld_dataset;

leandet_status ld_dataset_open(const char *dir, const char *split, ld_dataset_layout layout, ld_alloc *alloc,
                               ld_warn_fn warn, void *warn_ctx, ld_dataset *out, leandet_error *err);
void ld_dataset_free(ld_dataset *d);

const char *ld_dataset_layout_name(ld_dataset_layout l);

/* YOLO: the pixel size of image i is known (it was decoded): turn its
 * normalized boxes into pixels, x = (cx - w/2) * W, y = (cy - h/2) * H,
 * w * W, h * H, area = w * h (in that order of operations). Also records
 * the size. COCO: only records the size. */
void ld_dataset_set_image_size(ld_dataset *d, int image, int width, int height);

/* Index of the category with this id, or -1. */
int ld_dataset_category_index(const ld_dataset *d, int64_t id);

#endif

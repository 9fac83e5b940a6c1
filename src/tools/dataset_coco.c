/* COCO layout: annotations/instances_<split>.json read with the strict
 * pull reader; only the fields evaluation needs are kept, everything else
 * (segmentation polygons, licenses, ...) is validated and skipped. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tools/dataset_internal.h"
#include "tools/json_parse.h"
#include "tools/textfile.h"

#define KEY_CAP 32

typedef struct coco_reader {
    ld_dataset *d;
    ld_jp j;
    const char *image_dir;
    size_t img_cap, cat_cap, ann_cap, ref_cap;
    struct ann_ref {
        int64_t image, category; /* per annotation: image_id, category_id as written */
    } *refs;
} coco_reader;

static leandet_status oom(coco_reader *r, leandet_error *err)
{
    return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", r->d->source);
}

static leandet_status read_int_range(coco_reader *r, const char *key, int64_t lo, int64_t hi, int64_t *out,
                                     leandet_error *err)
{
    leandet_status st = ld_jp_int(&r->j, out, err);
    if (st == LEANDET_OK && (*out < lo || *out > hi))
        st = ld_jp_error(&r->j, err, "\"%s\" is %lld, expected %lld..%lld", key, (long long)*out, (long long)lo,
                           (long long)hi);
    return st;
}

/* A file name from the json, checked to stay inside the image folder. */
static leandet_status image_file_name(coco_reader *r, char *buf, size_t cap, leandet_error *err)
{
    size_t n;
    leandet_status st = ld_jp_string(&r->j, buf, cap, &n, err);
    if (st)
        return st;
    if (n == 0 || buf[0] == '/' || strcmp(buf, "..") == 0 || strncmp(buf, "../", 3) == 0 || strstr(buf, "/../") ||
        (n >= 3 && strcmp(buf + n - 3, "/..") == 0))
        return ld_jp_error(&r->j, err, "\"file_name\" '%s' must be a relative path inside the image folder", buf);
    return LEANDET_OK;
}

static leandet_status read_image(coco_reader *r, leandet_error *err)
{
    ld_dataset *d = r->d;
    char key[KEY_CAP], name[LD_DATASET_MAX_PATH / 2];
    int64_t id = 0, w = 0, h = 0;
    int have_id = 0, have_name = 0, more;
    leandet_status st = ld_jp_object_begin(&r->j, err);
    while (st == LEANDET_OK && (more = ld_jp_object_next(&r->j, key, sizeof key, err)) == 1) {
        if (strcmp(key, "id") == 0) {
            st = ld_jp_int(&r->j, &id, err);
            have_id = 1;
        } else if (strcmp(key, "file_name") == 0) {
            st = image_file_name(r, name, sizeof name, err);
            have_name = 1;
        } else if (strcmp(key, "width") == 0) {
            st = read_int_range(r, "width", 0, INT_MAX, &w, err);
        } else if (strcmp(key, "height") == 0) {
            st = read_int_range(r, "height", 0, INT_MAX, &h, err);
        } else {
            st = ld_jp_skip(&r->j, err);
        }
    }
    if (st)
        return st;
    if (more < 0)
        return LEANDET_ERR_ARGUMENT;
    if (!have_id || !have_name)
        return ld_jp_error(&r->j, err, "an entry of \"images\" has no \"%s\"", have_id ? "file_name" : "id");
    char path[LD_DATASET_MAX_PATH];
    if ((st = ld_ds_path(path, sizeof path, err, r->image_dir, name, NULL)) != LEANDET_OK)
        return st;
    if (d->n_images == INT_MAX)
        return ld_jp_error(&r->j, err, "too many images");
    void *arr = d->images;
    if (ld_ds_reserve(d->alloc, &arr, &r->img_cap, (size_t)d->n_images + 1, sizeof *d->images) != 0)
        return oom(r, err);
    d->images = arr;
    ld_dataset_image *im = &d->images[d->n_images];
    memset(im, 0, sizeof *im);
    im->id = id;
    im->width = (int)w;
    im->height = (int)h;
    if (!(im->path = ld_ds_strdup(d, path, strlen(path))))
        return oom(r, err);
    d->n_images++;
    return LEANDET_OK;
}

static leandet_status read_category(coco_reader *r, leandet_error *err)
{
    ld_dataset *d = r->d;
    char key[KEY_CAP], name[LD_DATASET_MAX_NAME + 1];
    int64_t id = 0;
    size_t n = 0;
    int have_id = 0, have_name = 0, more;
    leandet_status st = ld_jp_object_begin(&r->j, err);
    while (st == LEANDET_OK && (more = ld_jp_object_next(&r->j, key, sizeof key, err)) == 1) {
        if (strcmp(key, "id") == 0) {
            st = ld_jp_int(&r->j, &id, err);
            have_id = 1;
        } else if (strcmp(key, "name") == 0) {
            st = ld_jp_string(&r->j, name, sizeof name, &n, err);
            have_name = 1;
        } else {
            st = ld_jp_skip(&r->j, err);
        }
    }
    if (st)
        return st;
    if (more < 0)
        return LEANDET_ERR_ARGUMENT;
    if (!have_id || !have_name)
        return ld_jp_error(&r->j, err, "an entry of \"categories\" has no \"%s\"", have_id ? "name" : "id");
    if (d->n_categories == INT_MAX)
        return ld_jp_error(&r->j, err, "too many categories");
    void *arr = d->categories;
    if (ld_ds_reserve(d->alloc, &arr, &r->cat_cap, (size_t)d->n_categories + 1, sizeof *d->categories) != 0)
        return oom(r, err);
    d->categories = arr;
    ld_dataset_category *c = &d->categories[d->n_categories];
    c->id = id;
    if (!(c->name = ld_ds_strdup(d, name, n)))
        return oom(r, err);
    d->n_categories++;
    return LEANDET_OK;
}

static leandet_status read_bbox(coco_reader *r, double *box, leandet_error *err)
{
    int k = 0, more;
    leandet_status st = ld_jp_array_begin(&r->j, err);
    while (st == LEANDET_OK && (more = ld_jp_array_next(&r->j, err)) == 1) {
        if (k == 4)
            return ld_jp_error(&r->j, err, "\"bbox\" has more than 4 numbers (expected [x, y, w, h])");
        st = ld_jp_number(&r->j, &box[k++], err);
    }
    if (st)
        return st;
    if (more < 0)
        return LEANDET_ERR_ARGUMENT;
    if (k != 4)
        return ld_jp_error(&r->j, err, "\"bbox\" has %d numbers, expected [x, y, w, h]", k);
    return LEANDET_OK;
}

static leandet_status read_annotation(coco_reader *r, leandet_error *err)
{
    ld_dataset *d = r->d;
    char key[KEY_CAP];
    ld_dataset_ann a;
    memset(&a, 0, sizeof a);
    int64_t image_id = 0, category_id = 0, crowd = 0;
    int have = 0, have_area = 0, more; /* have: bits id, image_id, category_id, bbox */
    leandet_status st = ld_jp_object_begin(&r->j, err);
    while (st == LEANDET_OK && (more = ld_jp_object_next(&r->j, key, sizeof key, err)) == 1) {
        if (strcmp(key, "id") == 0) {
            st = ld_jp_int(&r->j, &a.id, err);
            have |= 1;
        } else if (strcmp(key, "image_id") == 0) {
            st = ld_jp_int(&r->j, &image_id, err);
            have |= 2;
        } else if (strcmp(key, "category_id") == 0) {
            st = ld_jp_int(&r->j, &category_id, err);
            have |= 4;
        } else if (strcmp(key, "bbox") == 0) {
            st = read_bbox(r, a.bbox, err);
            have |= 8;
        } else if (strcmp(key, "area") == 0) {
            st = ld_jp_number(&r->j, &a.area, err);
            have_area = 1;
        } else if (strcmp(key, "iscrowd") == 0) {
            if (ld_jp_peek(&r->j, NULL) == LD_JP_BOOL) {
                int b;
                st = ld_jp_bool(&r->j, &b, err);
                crowd = b;
            } else {
                st = read_int_range(r, "iscrowd", 0, 1, &crowd, err);
            }
        } else {
            st = ld_jp_skip(&r->j, err);
        }
    }
    if (st)
        return st;
    if (more < 0)
        return LEANDET_ERR_ARGUMENT;
    static const char *const required[] = {"id", "image_id", "category_id", "bbox"};
    for (int b = 0; b < 4; b++)
        if (!(have & (1 << b)))
            return ld_jp_error(&r->j, err, "an entry of \"annotations\" has no \"%s\"", required[b]);
    if (!have_area)
        a.area = a.bbox[2] * a.bbox[3];
    a.iscrowd = (int)crowd;
    void *refs = r->refs;
    if (ld_ds_reserve(d->alloc, &refs, &r->ref_cap, d->n_anns + 1, sizeof *r->refs) != 0)
        return oom(r, err);
    r->refs = refs;
    r->refs[d->n_anns].image = image_id;
    r->refs[d->n_anns].category = category_id;
    if (ld_ds_add_ann(d, &r->ann_cap, &a) != 0)
        return oom(r, err);
    return LEANDET_OK;
}

static leandet_status read_array(coco_reader *r, leandet_status (*entry)(coco_reader *, leandet_error *),
                                 leandet_error *err)
{
    int more;
    leandet_status st = ld_jp_array_begin(&r->j, err);
    while (st == LEANDET_OK && (more = ld_jp_array_next(&r->j, err)) == 1)
        st = entry(r, err);
    if (st)
        return st;
    return more < 0 ? LEANDET_ERR_ARGUMENT : LEANDET_OK;
}

static leandet_status read_top(coco_reader *r, leandet_error *err)
{
    char key[KEY_CAP];
    int seen = 0, more;
    leandet_status st = ld_jp_object_begin(&r->j, err);
    while (st == LEANDET_OK && (more = ld_jp_object_next(&r->j, key, sizeof key, err)) == 1) {
        if (strcmp(key, "images") == 0) {
            st = read_array(r, read_image, err);
            seen |= 1;
        } else if (strcmp(key, "categories") == 0) {
            st = read_array(r, read_category, err);
            seen |= 2;
        } else if (strcmp(key, "annotations") == 0) {
            st = read_array(r, read_annotation, err);
            seen |= 4;
        } else {
            st = ld_jp_skip(&r->j, err);
        }
    }
    if (st)
        return st;
    if (more < 0)
        return LEANDET_ERR_ARGUMENT;
    if ((st = ld_jp_finish(&r->j, err)) != LEANDET_OK)
        return st;
    if (seen != 7)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: no \"%s\" array: not a COCO instances file", r->d->source,
                       !(seen & 1) ? "images" : !(seen & 2) ? "categories" : "annotations");
    return LEANDET_OK;
}

typedef struct id_index {
    int64_t id;
    int index;
} id_index;

static int cmp_id_index(const void *a, const void *b)
{
    int64_t x = ((const id_index *)a)->id, y = ((const id_index *)b)->id;
    return (x > y) - (x < y);
}

static int find_id(const id_index *v, int n, int64_t id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (v[mid].id == id)
            return v[mid].index;
        if (v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Resolve image_id/category_id to indices, group annotations by image
 * (stable: file order within an image), drop images absent on disk. */
static leandet_status link(coco_reader *r, leandet_error *err)
{
    ld_dataset *d = r->d;
    leandet_status st = ld_ds_sort_categories(d, err);
    if (st)
        return st;
    id_index *ids = NULL;
    size_t *owner = NULL, *count = NULL;
    ld_dataset_ann *grouped = NULL;
    int n = d->n_images;
    if (n > 0 && !(ids = ld_calloc(d->alloc, (size_t)n, sizeof *ids)))
        return oom(r, err);
    for (int i = 0; i < n; i++) {
        ids[i].id = d->images[i].id;
        ids[i].index = i;
    }
    if (n > 1)
        qsort(ids, (size_t)n, sizeof *ids, cmp_id_index);
    for (int i = 1; i < n; i++)
        if (ids[i].id == ids[i - 1].id) {
            st = ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image id %lld is used twice", d->source,
                         (long long)ids[i].id);
            goto done;
        }
    if (!(count = ld_calloc(d->alloc, (size_t)n + 1, sizeof *count)) ||
        (d->n_anns && (!(owner = ld_calloc(d->alloc, d->n_anns, sizeof *owner)) ||
                       !(grouped = ld_calloc(d->alloc, d->n_anns, sizeof *grouped))))) {
        st = oom(r, err);
        goto done;
    }
    for (size_t a = 0; a < d->n_anns; a++) {
        int img = find_id(ids, n, r->refs[a].image);
        int cat = ld_dataset_category_index(d, r->refs[a].category);
        if (img < 0 || cat < 0) {
            st = ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: annotation %lld refers to %s %lld, which is not in \"%s\"",
                         d->source, (long long)d->anns[a].id, img < 0 ? "image_id" : "category_id",
                         (long long)(img < 0 ? r->refs[a].image : r->refs[a].category),
                         img < 0 ? "images" : "categories");
            goto done;
        }
        d->anns[a].category = cat;
        owner[a] = (size_t)img;
        count[img + 1]++;
    }
    for (int i = 0; i < n; i++) { /* counting sort: count[i] becomes image i's first slot */
        count[i + 1] += count[i];
        d->images[i].first_ann = count[i];
        d->images[i].n_anns = count[i + 1] - count[i];
    }
    for (size_t a = 0; a < d->n_anns; a++)
        grouped[count[owner[a]]++] = d->anns[a];
    if (grouped) {
        ld_free(d->alloc, d->anns);
        d->anns = grouped;
        grouped = NULL;
    }
    int kept = 0; /* images absent on disk are dropped, like YOLO label files without image */
    for (int i = 0; i < n; i++) {
        if (!ld_ds_is_file(d->images[i].path)) {
            ld_ds_warn(d, "%s: image %lld (%s) does not exist: skipped with its %zu objects", d->source,
                       (long long)d->images[i].id, d->images[i].path, d->images[i].n_anns);
            d->skipped++;
            continue;
        }
        d->images[kept++] = d->images[i];
    }
    d->n_images = kept;
done:
    ld_free(d->alloc, ids);
    ld_free(d->alloc, owner);
    ld_free(d->alloc, count);
    ld_free(d->alloc, grouped);
    return st;
}

leandet_status ld_dataset_open_coco(ld_dataset *d, const char *dir, const char *split, leandet_error *err)
{
    char json_name[LD_DATASET_MAX_PATH], json[LD_DATASET_MAX_PATH], images[LD_DATASET_MAX_PATH];
    leandet_status st;
    if ((st = ld_ds_json_name(json_name, sizeof json_name, split, err)) ||
        (st = ld_ds_path(json, sizeof json, err, dir, "annotations", json_name)) ||
        (st = ld_ds_path(images, sizeof images, err, dir, "images", split)))
        return st;
    if (!ld_ds_is_dir(images) && (st = ld_ds_path(images, sizeof images, err, dir, split, NULL)) == LEANDET_OK &&
        !ld_ds_is_dir(images))
        return ld_fail(err, LEANDET_ERR_IO, "%s: no image folder %s/images/%s (nor %s/%s)", dir, dir, split, dir,
                       split);
    if (st)
        return st;
    if (!(d->source = ld_ds_strdup(d, json, strlen(json))))
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", json);
    char *text = NULL;
    size_t len = 0;
    if ((st = ld_read_text_file(json, LD_DATASET_MAX_JSON_BYTES, d->alloc, &text, &len, err)) != LEANDET_OK)
        return st;
    coco_reader r;
    memset(&r, 0, sizeof r);
    r.d = d;
    r.image_dir = images;
    ld_jp_init(&r.j, text, len, d->source);
    st = read_top(&r, err);
    if (st == LEANDET_OK)
        st = link(&r, err);
    ld_free(d->alloc, r.refs);
    ld_free(d->alloc, text);
    return st;
}

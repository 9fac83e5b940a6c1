/* Dataset opening: layout detection, shared helpers (strings, arrays,
 * directory listing), and the final ordering every layout shares: images
 * by id, their annotations grouped behind them. */
#include "tools/dataset_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

#define CHUNK_BYTES ((size_t)64 << 10)

const char *ld_ds_strdup(ld_dataset *d, const char *s, size_t n)
{
    chunk *c = d->chunks;
    if (n >= SIZE_MAX - sizeof(chunk) - CHUNK_BYTES)
        return NULL;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > CHUNK_BYTES ? n + 1 : CHUNK_BYTES;
        chunk *nc = ld_malloc(d->alloc, sizeof(chunk) + cap);
        if (!nc)
            return NULL;
        nc->next = c;
        nc->used = 0;
        nc->cap = cap;
        d->chunks = c = nc;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

int ld_ds_reserve(ld_alloc *a, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return -1;
    void *p = ld_malloc(a, n * elem);
    if (!p)
        return -1;
    if (*arr) {
        memcpy(p, *arr, *cap * elem);
        ld_free(a, *arr);
    }
    *arr = p;
    *cap = n;
    return 0;
}

int ld_ds_add_ann(ld_dataset *d, size_t *cap, const ld_dataset_ann *a)
{
    void *arr = d->anns;
    if (ld_ds_reserve(d->alloc, &arr, cap, d->n_anns + 1, sizeof *a) != 0)
        return -1;
    d->anns = arr;
    d->anns[d->n_anns++] = *a;
    return 0;
}

leandet_status ld_ds_path(char *buf, size_t cap, leandet_error *err, const char *a, const char *b, const char *c)
{
    int n = c ? snprintf(buf, cap, "%s/%s/%s", a, b, c) : snprintf(buf, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s/%s%s%s: path longer than %zu bytes", a, b, c ? "/" : "",
                       c ? c : "", cap - 1);
    return LEANDET_OK;
}

int ld_ds_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ld_ds_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ld_ds_is_image_name(const char *name)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (strcasecmp(dot, ext[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

leandet_status ld_ds_list_dir(ld_dataset *d, const char *dir, int (*keep)(const char *name), const char ***names,
                              int *n, leandet_error *err)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return ld_fail(err, LEANDET_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    void *arr = NULL;
    size_t cap = 0, count = 0;
    leandet_status st = LEANDET_OK;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.' || !keep(e->d_name))
            continue;
        if (count >= (size_t)INT32_MAX) {
            st = ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: too many files", dir);
            break;
        }
        const char *s = ld_ds_strdup(d, e->d_name, strlen(e->d_name));
        if (!s || ld_ds_reserve(d->alloc, &arr, &cap, count + 1, sizeof(char *)) != 0) {
            st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory listing the directory", dir);
            break;
        }
        ((const char **)arr)[count++] = s;
    }
    closedir(dp);
    if (st != LEANDET_OK) {
        ld_free(d->alloc, arr);
        return st;
    }
    if (count)
        qsort(arr, count, sizeof(char *), cmp_str);
    *names = arr;
    *n = (int)count;
    return LEANDET_OK;
}

void ld_ds_warn(ld_dataset *d, const char *fmt, ...)
{
    if (!d->warn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->warn(d->warn_ctx, msg);
}

static int cmp_image(const void *a, const void *b)
{
    int64_t x = ((const ld_dataset_image *)a)->id, y = ((const ld_dataset_image *)b)->id;
    return (x > y) - (x < y);
}

static int cmp_category(const void *a, const void *b)
{
    int64_t x = ((const ld_dataset_category *)a)->id, y = ((const ld_dataset_category *)b)->id;
    return (x > y) - (x < y);
}

/* Images by id with their annotations regrouped behind them. Duplicate ids
 * are errors (COCOeval would silently merge them). */
leandet_status ld_ds_sort_categories(ld_dataset *d, leandet_error *err)
{
    if (d->n_categories > 1)
        qsort(d->categories, (size_t)d->n_categories, sizeof *d->categories, cmp_category);
    for (int i = 1; i < d->n_categories; i++)
        if (d->categories[i].id == d->categories[i - 1].id)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: category id %lld is used twice", d->source,
                           (long long)d->categories[i].id);
    return LEANDET_OK;
}

static leandet_status finish(ld_dataset *d, leandet_error *err)
{
    if (d->n_images > 1)
        qsort(d->images, (size_t)d->n_images, sizeof *d->images, cmp_image);
    for (int i = 1; i < d->n_images; i++)
        if (d->images[i].id == d->images[i - 1].id)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image id %lld is used twice (%s, %s)", d->source,
                           (long long)d->images[i].id, d->images[i - 1].path, d->images[i].path);
    if (d->n_anns == 0)
        return LEANDET_OK;
    ld_dataset_ann *grouped = ld_calloc(d->alloc, d->n_anns, sizeof *grouped);
    if (!grouped)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory for %zu annotations", d->source, d->n_anns);
    size_t k = 0;
    for (int i = 0; i < d->n_images; i++) {
        ld_dataset_image *im = &d->images[i];
        memcpy(grouped + k, d->anns + im->first_ann, im->n_anns * sizeof *grouped);
        im->first_ann = k;
        k += im->n_anns;
    }
    ld_free(d->alloc, d->anns);
    d->anns = grouped;
    d->n_anns = k;
    if (d->layout == LD_DATASET_YOLO)
        for (size_t a = 0; a < k; a++)
            d->anns[a].id = (int64_t)a + 1;
    return LEANDET_OK;
}

leandet_status ld_ds_json_name(char *buf, size_t cap, const char *split, leandet_error *err)
{
    int n = snprintf(buf, cap, "instances_%s.json", split);
    if (n < 0 || (size_t)n >= cap)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "split name '%.64s...' is too long", split);
    return LEANDET_OK;
}

static leandet_status check_split(const char *split, leandet_error *err)
{
    if (!split || !split[0] || strchr(split, '/') || strcmp(split, ".") == 0 || strcmp(split, "..") == 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "split '%s' must be a plain folder name such as val2017",
                       split ? split : "");
    return LEANDET_OK;
}

leandet_status ld_dataset_open(const char *dir, const char *split, ld_dataset_layout layout, ld_alloc *alloc,
                               ld_warn_fn warn, void *warn_ctx, ld_dataset *out, leandet_error *err)
{
    memset(out, 0, sizeof *out);
    out->alloc = alloc;
    out->warn = warn;
    out->warn_ctx = warn_ctx;
    leandet_status st = check_split(split, err);
    if (st)
        return st;
    if (!ld_ds_is_dir(dir))
        return ld_fail(err, LEANDET_ERR_IO, "%s: not a directory", dir);
    char path[LD_DATASET_MAX_PATH];
    if (layout == LD_DATASET_AUTO) {
        /* A COCO json wins when both exist: it has real areas and crowds. */
        char json[LD_DATASET_MAX_PATH];
        if (ld_ds_json_name(json, sizeof json, split, err) != LEANDET_OK ||
            ld_ds_path(path, sizeof path, err, dir, "annotations", json) != LEANDET_OK)
            return LEANDET_ERR_ARGUMENT;
        if (ld_ds_is_file(path)) {
            layout = LD_DATASET_COCO;
        } else {
            char yaml[LD_DATASET_MAX_PATH], yml[LD_DATASET_MAX_PATH];
            if (ld_ds_path(yaml, sizeof yaml, err, dir, "data.yaml", NULL) ||
                ld_ds_path(yml, sizeof yml, err, dir, "data.yml", NULL))
                return LEANDET_ERR_ARGUMENT;
            if (!ld_ds_is_file(yaml) && !ld_ds_is_file(yml))
                return ld_fail(err, LEANDET_ERR_ARGUMENT,
                               "%s: no %s (COCO layout) and no data.yaml (YOLO layout): not a dataset", dir, path);
            layout = LD_DATASET_YOLO;
        }
    }
    out->layout = layout;
    st = layout == LD_DATASET_COCO ? ld_dataset_open_coco(out, dir, split, err)
                                   : ld_dataset_open_yolo(out, dir, split, err);
    if (st == LEANDET_OK)
        st = finish(out, err);
    if (st != LEANDET_OK)
        ld_dataset_free(out);
    return st;
}

void ld_dataset_free(ld_dataset *d)
{
    if (!d || !d->alloc)
        return;
    ld_free(d->alloc, d->images);
    ld_free(d->alloc, d->categories);
    ld_free(d->alloc, d->anns);
    for (chunk *c = d->chunks; c;) {
        chunk *next = c->next;
        ld_free(d->alloc, c);
        c = next;
    }
    ld_alloc *a = d->alloc;
    memset(d, 0, sizeof *d);
    d->alloc = a;
}

const char *ld_dataset_layout_name(ld_dataset_layout l)
{
    switch (l) {
    case LD_DATASET_YOLO: return "yolo";
    case LD_DATASET_COCO: return "coco";
    case LD_DATASET_AUTO: break;
    }
    return "auto";
}

void ld_dataset_set_image_size(ld_dataset *d, int image, int width, int height)
{
    if (image < 0 || image >= d->n_images)
        return;
    ld_dataset_image *im = &d->images[image];
    im->width = width;
    im->height = height;
    if (d->layout != LD_DATASET_YOLO)
        return;
    const double W = width, H = height;
    for (size_t i = 0; i < im->n_anns; i++) {
        ld_dataset_ann *a = &d->anns[im->first_ann + i];
        a->bbox[0] = (a->norm[0] - a->norm[2] / 2) * W;
        a->bbox[1] = (a->norm[1] - a->norm[3] / 2) * H;
        a->bbox[2] = a->norm[2] * W;
        a->bbox[3] = a->norm[3] * H;
        a->area = a->bbox[2] * a->bbox[3];
    }
}

int ld_dataset_category_index(const ld_dataset *d, int64_t id)
{
    int lo = 0, hi = d->n_categories - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int64_t v = d->categories[mid].id;
        if (v == id)
            return mid;
        if (v < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

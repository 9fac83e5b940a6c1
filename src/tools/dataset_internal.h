/* Helpers shared by the dataset loaders (dataset.c, dataset_coco.c,
 * dataset_yolo.c). Not part of any public interface. */
#ifndef LD_TOOLS_DATASET_INTERNAL_H
#define LD_TOOLS_DATASET_INTERNAL_H

#include "tools/dataset.h"

/* The dataset's own copy of s[0..n) (NUL-terminated); NULL when out of memory. */
const char *ld_ds_strdup(ld_dataset *d, const char *s, size_t n);

/* Make room for `need` elements of `elem` bytes in *arr (capacity *cap),
 * growing geometrically; 0 on success, -1 on overflow or out of memory. */
int ld_ds_reserve(ld_alloc *a, void **arr, size_t *cap, size_t need, size_t elem);

/* buf = a "/" b ["/" c]; an error naming the path when it does not fit. */
leandet_status ld_ds_path(char *buf, size_t cap, leandet_error *err, const char *a, const char *b, const char *c);
int ld_ds_is_dir(const char *path);
int ld_ds_is_file(const char *path);

/* The names in directory `dir` accepted by keep(), sorted by strcmp, as
 * dataset strings in an array allocated from d->alloc (ld_free it). */
leandet_status ld_ds_list_dir(ld_dataset *d, const char *dir, int (*keep)(const char *name), const char ***names,
                              int *n, leandet_error *err);
int ld_ds_is_image_name(const char *name);

/* Append an annotation (d->anns grows); -1 when out of memory. */
int ld_ds_add_ann(ld_dataset *d, size_t *cap, const ld_dataset_ann *a);

/* Sort d->categories by id; duplicate ids are an error. */
leandet_status ld_ds_sort_categories(ld_dataset *d, leandet_error *err);
/* "instances_<split>.json" */
leandet_status ld_ds_json_name(char *buf, size_t cap, const char *split, leandet_error *err);

void ld_ds_warn(ld_dataset *d, const char *fmt, ...) LD_PRINTF(2, 3);

leandet_status ld_dataset_open_coco(ld_dataset *d, const char *dir, const char *split, leandet_error *err);
leandet_status ld_dataset_open_yolo(ld_dataset *d, const char *dir, const char *split, leandet_error *err);

/* data.yaml's class names (exposed for tests): names[i] is class i. */
leandet_status ld_yolo_parse_names(ld_dataset *d, const char *text, size_t len, const char *what, const char ***names,
                                   int *n, leandet_error *err);

#endif

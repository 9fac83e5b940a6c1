/* Which dataset category a model class stands for, decided by name: the
 * model's label file (class c -> name) against the dataset's category
 * names. Names match ignoring ASCII case and treating '_' as ' ', so
 * "traffic_light" is "traffic light". Without a label file, model class c
 * is taken as the dataset's c-th category (in id order). */
#ifndef LD_TOOLS_CLASS_MAP_H
#define LD_TOOLS_CLASS_MAP_H

#include "core/alloc.h"
#include "core/error.h"
#include "detect/labels.h"
#include "tools/dataset.h"

typedef struct ld_class_map {
    int n_model;            /* model classes 0..n_model-1 that have an entry */
    int *category;          /* model class -> dataset category index, -1 for none */
    int n_matched;          /* dataset categories some model class maps to */
    int *unmatched_model;   /* named model classes no category matches */
    int n_unmatched_model;
    int *unmatched_dataset; /* dataset category indices no model class maps to */
    int n_unmatched_dataset;
} ld_class_map;

int ld_class_names_equal(const char *a, const char *b);

/* labels may be NULL (positional map). A dataset with two categories of the
 * same name is refused (the match would be ambiguous). */
leandet_status ld_class_map_build(const ld_labels *labels, const ld_dataset *d, ld_alloc *alloc, ld_class_map *out,
                                  leandet_error *err);
void ld_class_map_free(ld_class_map *m, ld_alloc *alloc);

/* Category index for a model class id, or -1. */
int ld_class_map_get(const ld_class_map *m, int class_id);

#endif

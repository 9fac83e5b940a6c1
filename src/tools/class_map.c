#include "tools/class_map.h"

#include <string.h>

static int fold(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 'a';
    return c == '_' ? ' ' : c;
}

int ld_class_names_equal(const char *a, const char *b)
{
    for (;; a++, b++) {
        if (fold((unsigned char)*a) != fold((unsigned char)*b))
            return 0;
        if (!*a)
            return 1;
    }
}

void ld_class_map_free(ld_class_map *m, ld_alloc *alloc)
{
    if (!m)
        return;
    ld_free(alloc, m->category);
    ld_free(alloc, m->unmatched_model);
    ld_free(alloc, m->unmatched_dataset);
    memset(m, 0, sizeof *m);
}

leandet_status ld_class_map_build(const ld_labels *labels, const ld_dataset *d, ld_alloc *alloc, ld_class_map *out,
                                  leandet_error *err)
{
    memset(out, 0, sizeof *out);
    const int K = d->n_categories;
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++)
            if (ld_class_names_equal(d->categories[i].name, d->categories[j].name))
                return ld_fail(err, LEANDET_ERR_ARGUMENT,
                               "%s: categories %lld and %lld are both named '%s': classes cannot be matched by name",
                               d->source, (long long)d->categories[i].id, (long long)d->categories[j].id,
                               d->categories[i].name);
    int n = labels ? labels->count : K;
    unsigned char *hit = NULL;
    if (!(out->category = ld_calloc(alloc, n > 0 ? (size_t)n : 1, sizeof *out->category)) ||
        !(out->unmatched_model = ld_calloc(alloc, n > 0 ? (size_t)n : 1, sizeof *out->unmatched_model)) ||
        !(out->unmatched_dataset = ld_calloc(alloc, K > 0 ? (size_t)K : 1, sizeof *out->unmatched_dataset)) ||
        !(hit = ld_calloc(alloc, K > 0 ? (size_t)K : 1, 1))) {
        ld_class_map_free(out, alloc);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "class map: out of memory");
    }
    out->n_model = n;
    for (int c = 0; c < n; c++) {
        out->category[c] = -1;
        if (!labels) {
            out->category[c] = c;
        } else if (labels->names[c]) {
            for (int k = 0; k < K; k++)
                if (ld_class_names_equal(labels->names[c], d->categories[k].name)) {
                    out->category[c] = k;
                    break;
                }
            if (out->category[c] < 0)
                out->unmatched_model[out->n_unmatched_model++] = c;
        }
        if (out->category[c] >= 0)
            hit[out->category[c]] = 1;
    }
    for (int k = 0; k < K; k++) {
        if (hit[k])
            out->n_matched++;
        else
            out->unmatched_dataset[out->n_unmatched_dataset++] = k;
    }
    ld_free(alloc, hit);
    return LEANDET_OK;
}

int ld_class_map_get(const ld_class_map *m, int class_id)
{
    if (!m || class_id < 0 || class_id >= m->n_model)
        return -1;
    return m->category[class_id];
}

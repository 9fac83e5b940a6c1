/* Unstructured magnitude pruning: per weight tensor, the fraction S of
 * elements with the smallest real magnitude become zero. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/prune.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Set element i of w's (private) data to the value meaning real zero. */
static void set_zero(const ld_tensor_desc *w, void *data, size_t i)
{
    if (w->type == LEANDET_FLOAT32)
        ((float *)data)[i] = 0.0f;
    else if (w->type == LEANDET_UINT8)
        ((uint8_t *)data)[i] = (uint8_t)ld_prune_zero_point(w, i);
    else
        ((int8_t *)data)[i] = (int8_t)ld_prune_zero_point(w, i);
}

static leandet_status prune_tensor(ld_edit *e, int t, double sparsity)
{
    const ld_tensor_desc *w = &e->m.tensors[t];
    const size_t n = ld_shape_count(&w->shape);
    const size_t k = (size_t)floor(sparsity * (double)n);
    if (k == 0)
        return LEANDET_OK;
    float *mag;
    leandet_status st = ld_prune_real(e, t, &mag);
    if (st != LEANDET_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        mag[i] = fabsf(mag[i]);
    /* The k-th smallest magnitude is the threshold; elements equal to it
     * are zeroed in index order until exactly k are zero. */
    float *sorted = ld_edit_alloc(e, n, sizeof *sorted, "sorted magnitudes");
    void *data = ld_edit_alloc(e, n, leandet_dtype_size(w->type), "pruned weights");
    if (!sorted || !data)
        return LEANDET_ERR_NO_MEMORY;
    memcpy(sorted, mag, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_float);
    const float thr = sorted[k - 1];
    memcpy(data, w->data, w->data_bytes);
    size_t zeroed = 0;
    for (size_t i = 0; i < n; i++)
        if (mag[i] < thr) {
            set_zero(w, data, i);
            zeroed++;
        }
    for (size_t i = 0; i < n && zeroed < k; i++)
        if (mag[i] == thr) {
            set_zero(w, data, i);
            zeroed++;
        }
    e->m.tensors[t].data = data;
    return LEANDET_OK;
}

leandet_status ld_prune_unstructured(ld_edit *e, double sparsity, ld_prune_report *r)
{
    uint8_t *done = ld_edit_alloc(e, (size_t)e->m.n_tensors, 1, "pruned tensor flags");
    if (!done)
        return LEANDET_ERR_NO_MEMORY;
    for (int k = 0; k < r->n_layers; k++) {
        ld_prune_layer *l = &r->layers[k];
        int t = e->m.ops[l->op].inputs[1];
        if (l->skipped)
            continue;
        r->eligible++;
        if (done[t])
            continue; /* a tensor read by two operators is pruned once */
        done[t] = 1;
        leandet_status st = prune_tensor(e, t, sparsity);
        if (st != LEANDET_OK)
            return st;
        r->pruned += sparsity > 0.0;
    }
    return LEANDET_OK;
}

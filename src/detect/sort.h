/* Orderings used by non-max suppression, with tie behaviour pinned down so
 * results are reproducible (and match TensorFlow Lite where it matters).
 * No allocation: callers pass every buffer. */
#ifndef LD_DETECT_SORT_H
#define LD_DETECT_SORT_H

/* idx = 0..n-1 ordered by decreasing values[i], equal values by increasing
 * index (a stable sort; NaN must not occur). tmp holds n ints. */
void ld_argsort_desc(const float *values, int n, int *idx, int *tmp);

/* First index of the largest value (TFLite's ArgMaxVector); 0 if n <= 0. */
int ld_argmax(const float *values, int n);

/* idx = 0..n-1 then the k largest first, exactly as libstdc++'s
 * std::partial_sort(idx, idx + k, idx + n, values[a] > values[b]) leaves
 * them (heap select + heap sort), which is what TFLite's
 * DecreasingPartialArgSort does for k > 1. Ties therefore land in the same
 * (not index) order as in TFLite. 1 <= k <= n. */
void ld_partial_argsort_desc(const float *values, int n, int k, int *idx);

/* A scored reference, for merging sorted candidate lists. */
typedef struct ld_scored {
    int index;
    float score;
} ld_scored;

/* Merge the two runs a[0..na) and a[na..na+nb), each sorted by decreasing
 * score, keeping equal scores in run order (std::inplace_merge semantics).
 * tmp holds na + nb entries. */
void ld_merge_desc(ld_scored *a, int na, int nb, ld_scored *tmp);

#endif

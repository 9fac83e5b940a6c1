#include "detect/sort.h"

#include <string.h>

void ld_argsort_desc(const float *values, int n, int *idx, int *tmp)
{
    for (int i = 0; i < n; i++)
        idx[i] = i;
    /* bottom-up merge sort; the right run wins only when strictly greater,
     * which keeps equal values in index order */
    int *src = idx, *dst = tmp;
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = values[src[b]] > values[src[a]] ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        int *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx)
        memcpy(idx, src, (size_t)n * sizeof *idx);
}

int ld_argmax(const float *values, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (values[i] > values[best])
            best = i;
    return best;
}

/* libstdc++'s heap primitives, specialised to int indices compared by
 * values[a] > values[b]. The heap's "largest" element under this comparator
 * is the smallest value, so heap select keeps the k largest values. */
static int before(const float *v, int a, int b)
{
    return v[a] > v[b];
}

static void push_heap(int *h, const float *v, long hole, long top, int value)
{
    long parent = (hole - 1) / 2;
    while (hole > top && before(v, h[parent], value)) {
        h[hole] = h[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    h[hole] = value;
}

static void adjust_heap(int *h, const float *v, long hole, long len, int value)
{
    const long top = hole;
    long child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (before(v, h[child], h[child - 1]))
            child--;
        h[hole] = h[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        h[hole] = h[child - 1];
        hole = child - 1;
    }
    push_heap(h, v, hole, top, value);
}

/* Move h[0] to h[result] and re-heap h[0..len) with the old h[result]. */
static void pop_heap(int *h, const float *v, long len, long result)
{
    int value = h[result];
    h[result] = h[0];
    adjust_heap(h, v, 0, len, value);
}

void ld_partial_argsort_desc(const float *values, int n, int k, int *idx)
{
    for (int i = 0; i < n; i++)
        idx[i] = i;
    if (k >= 2) { /* make_heap over the first k */
        for (long parent = (k - 2) / 2;; parent--) {
            adjust_heap(idx, values, parent, k, idx[parent]);
            if (parent == 0)
                break;
        }
    }
    for (long i = k; i < n; i++)
        if (before(values, idx[i], idx[0]))
            pop_heap(idx, values, k, i);
    for (long len = k; len > 1;) { /* sort_heap */
        len--;
        pop_heap(idx, values, len, len);
    }
}

void ld_merge_desc(ld_scored *a, int na, int nb, ld_scored *tmp)
{
    int i = 0, j = na, o = 0, end = na + nb;
    while (i < na && j < end)
        tmp[o++] = a[j].score > a[i].score ? a[j++] : a[i++];
    while (i < na)
        tmp[o++] = a[i++];
    while (j < end)
        tmp[o++] = a[j++];
    memcpy(a, tmp, (size_t)end * sizeof *a);
}

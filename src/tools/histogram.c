/* Two-sided magnitude histograms with a doubling range (histogram.h). */
#include "tools/histogram.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

size_t ld_hist_bytes(size_t n)
{
    const size_t per = 2 * LD_HIST_BINS * sizeof(uint64_t);
    return n > SIZE_MAX / per ? 0 : n * per;
}

void ld_hist_init(ld_hist *h, uint64_t *counters)
{
    memset(h, 0, sizeof *h);
    h->pos.bins = counters;
    h->neg.bins = counters + LD_HIST_BINS;
}

/* Widen a side until `m` fits: top doubles k times, bin i moves to i >> k. */
static void grow(ld_hist_side *s, float m)
{
    if (s->top == 0.0f) {
        s->top = m;
        return;
    }
    int k = 0;
    while (s->top < m) {
        s->top *= 2.0f;
        k++;
    }
    if (k == 0)
        return;
    if (k > 31)
        k = 31;
    for (int i = 1; i < LD_HIST_BINS; i++) {
        uint64_t c = s->bins[i];
        s->bins[i] = 0;
        s->bins[i >> k] += c;
    }
}

static void count(ld_hist_side *s, float m)
{
    float f = m / s->top * (float)LD_HIST_BINS;
    int i = f >= (float)(LD_HIST_BINS - 1) ? LD_HIST_BINS - 1 : (int)f;
    s->bins[i]++;
}

void ld_hist_add(ld_hist *h, const float *v, size_t n)
{
    /* Extremes first, so each side grows once per batch. */
    float pmax = 0.0f, nmax = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (!isfinite(x))
            continue;
        if (h->total == 0)
            h->min = h->max = x;
        h->min = x < h->min ? x : h->min;
        h->max = x > h->max ? x : h->max;
        h->total++;
        pmax = x > pmax ? x : pmax;
        nmax = -x > nmax ? -x : nmax;
    }
    if (pmax > 0.0f)
        grow(&h->pos, pmax);
    if (nmax > 0.0f)
        grow(&h->neg, nmax);
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (!isfinite(x) || x == 0.0f)
            continue;
        if (x > 0.0f)
            count(&h->pos, x);
        else
            count(&h->neg, -x);
    }
}

/* Magnitude on side s above which `tail` values lie, or -1 when the side
 * holds no more than `tail` values. */
static double cut(const ld_hist_side *s, double tail)
{
    double acc = 0.0, width = (double)s->top / LD_HIST_BINS;
    for (int i = LD_HIST_BINS - 1; i >= 0 && s->top > 0.0f; i--) {
        double c = (double)s->bins[i];
        if (acc + c > tail)
            return ((double)(i + 1) - (tail - acc) / c) * width;
        acc += c;
    }
    return -1.0;
}

void ld_hist_range(const ld_hist *h, double p, float *lo, float *hi)
{
    *lo = h->min;
    *hi = h->max;
    double tail = (100.0 - p) / 100.0 * (double)h->total;
    if (h->total == 0 || !(tail >= 1.0))
        return;
    double a = cut(&h->pos, tail), b = cut(&h->neg, tail);
    float up = a < 0.0 ? 0.0f : (float)a, down = b < 0.0 ? 0.0f : (float)-b;
    /* An empty side's cut is 0, still inside [min, max] unless all values
     * have the other sign. */
    *hi = up < h->max ? (up > h->min ? up : h->min) : h->max;
    *lo = down > h->min ? (down < h->max ? down : h->max) : h->min;
}

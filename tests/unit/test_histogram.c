/* Percentile ranges from tools/histogram.h against exact order statistics
 * of the same samples, with the range doubling as larger values arrive. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tools/histogram.h"

static uint64_t rng_state = 88172645463325252ull;

static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Exact: the value with at most `tail` samples above (sorted ascending). */
static float exact_hi(const float *sorted, size_t n, double tail)
{
    return sorted[n - 1 - (size_t)floor(tail)];
}

static float exact_lo(const float *sorted, size_t n, double tail)
{
    (void)n;
    return sorted[(size_t)floor(tail)];
}

/* Feed `n` samples in batches whose scale grows (so the histogram's range
 * doubles several times), then compare the ranges at a few percentiles. */
static void check_distribution(const char *what, float (*draw)(size_t i, size_t n), size_t n)
{
    float *v = malloc(n * sizeof *v), *sorted = malloc(n * sizeof *sorted);
    uint64_t *counters = calloc(2 * LD_HIST_BINS, sizeof *counters);
    ld_hist h;
    ld_hist_init(&h, counters);
    for (size_t i = 0; i < n; i++)
        v[i] = draw(i, n);
    for (size_t at = 0; at < n; at += 1000)
        ld_hist_add(&h, v + at, n - at < 1000 ? n - at : 1000);
    memcpy(sorted, v, n * sizeof *v);
    qsort(sorted, n, sizeof *sorted, cmp_float);
    CHECK_MSG(h.total == n && h.min == sorted[0] && h.max == sorted[n - 1], "%s: extremes", what);
    const double ps[] = {99.99, 99.9, 99.0, 90.0};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        float lo, hi;
        ld_hist_range(&h, ps[k], &lo, &hi);
        double tail = (100.0 - ps[k]) / 100.0 * (double)n;
        float want_hi = exact_hi(sorted, n, tail), want_lo = exact_lo(sorted, n, tail);
        /* within two bins of the side's final width (doubling keeps top < 2 x max) */
        float bin_hi = 2.0f * fmaxf(h.max, 0.0f) / LD_HIST_BINS * 2.0f;
        float bin_lo = 2.0f * fmaxf(-h.min, 0.0f) / LD_HIST_BINS * 2.0f;
        /* a cut past 0 stops at 0, or at the extreme when all values share a sign */
        want_hi = fmaxf(want_hi, fminf(0.0f, h.max));
        want_lo = fminf(want_lo, fmaxf(0.0f, h.min));
        CHECK_MSG(fabsf(hi - want_hi) <= bin_hi + 1e-6f, "%s p=%g: hi %g, exact %g (bin %g)", what,
                  ps[k], hi, want_hi, bin_hi);
        CHECK_MSG(fabsf(lo - want_lo) <= bin_lo + 1e-6f, "%s p=%g: lo %g, exact %g (bin %g)", what,
                  ps[k], lo, want_lo, bin_lo);
        CHECK_MSG(lo >= h.min && hi <= h.max && lo <= hi, "%s p=%g: [%g, %g] outside [%g, %g]", what, ps[k], lo, hi,
                  h.min, h.max);
    }
    float lo, hi;
    ld_hist_range(&h, 100.0, &lo, &hi);
    CHECK_MSG(lo == h.min && hi == h.max, "%s: p=100 is min/max", what);
    free(v);
    free(sorted);
    free(counters);
}

/* Gaussian-like (sum of uniforms), scale growing 64x over the run. */
static float draw_normal(size_t i, size_t n)
{
    double s = 0.0;
    for (int k = 0; k < 12; k++)
        s += uniform();
    return (float)((s - 6.0) * (1.0 + 63.0 * (double)i / (double)n));
}

/* ReLU-like: 60% zeros, exponential positives, a few huge outliers. */
static float draw_relu(size_t i, size_t n)
{
    (void)n;
    double u = uniform();
    if (u < 0.6)
        return 0.0f;
    if (i % 5000 == 17)
        return 1000.0f;
    return (float)(-log(1.0 - uniform()) * 0.5);
}

/* Only negative values. */
static float draw_negative(size_t i, size_t n)
{
    (void)i;
    (void)n;
    return (float)(-0.1 - 3.0 * uniform());
}

int main(void)
{
    check_distribution("normal", draw_normal, 200000);
    check_distribution("relu", draw_relu, 200000);
    check_distribution("negative", draw_negative, 50000);

    /* Non-finite values are not counted; an empty histogram gives 0..0. */
    uint64_t *counters = calloc(2 * LD_HIST_BINS, sizeof *counters);
    ld_hist h;
    ld_hist_init(&h, counters);
    float lo = 1.0f, hi = 1.0f;
    ld_hist_range(&h, 99.0, &lo, &hi);
    CHECK(lo == 0.0f && hi == 0.0f);
    const float odd[4] = {NAN, INFINITY, -INFINITY, 2.0f};
    ld_hist_add(&h, odd, 4);
    CHECK(h.total == 1 && h.min == 2.0f && h.max == 2.0f);
    free(counters);
    CHECK(ld_hist_bytes(3) == 3 * 2 * LD_HIST_BINS * sizeof(uint64_t));
    CHECK(ld_hist_bytes(SIZE_MAX / 4) == 0);
    return ld_test_finish();
}

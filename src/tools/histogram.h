/* Value histograms for percentile calibration.
 *
 * One histogram per float32 activation tensor, two-sided: the magnitudes of
 * positive values and of negative values, each in LD_HIST_BINS equal bins
 * over [0, top]. `top` starts at the first magnitude seen and doubles (bins
 * merged pairwise) whenever a larger one arrives, so the memory is fixed
 * (2 x LD_HIST_BINS counters per tensor) whatever the images, and a bin is
 * never wider than 2 x the side's maximum / LD_HIST_BINS. */
#ifndef LD_TOOLS_HISTOGRAM_H
#define LD_TOOLS_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define LD_HIST_BINS 1024

typedef struct ld_hist_side {
    float top;       /* upper end of the last bin; 0 while empty */
    uint64_t *bins;  /* LD_HIST_BINS counts */
} ld_hist_side;

typedef struct ld_hist {
    ld_hist_side pos, neg;  /* x > 0, and -x for x < 0 */
    uint64_t total;         /* every finite value counted, zeros included */
    float min, max;         /* exact extremes */
} ld_hist;

/* Bytes of counters for n histograms (0 on overflow). */
size_t ld_hist_bytes(size_t n);

/* Point the histogram at 2 x LD_HIST_BINS zeroed counters. */
void ld_hist_init(ld_hist *h, uint64_t *counters);

/* Count n values (non-finite ones skipped). */
void ld_hist_add(ld_hist *h, const float *v, size_t n);

/* The range keeping the central p percent: lo is the value with at most
 * (100 - p)% of all values below it, hi the one with at most (100 - p)%
 * above, interpolated within a bin and never beyond the exact min/max. A
 * cut that would pass 0 stops at 0 (at the extreme nearest 0 when every
 * value has the same sign): quantized ranges always hold 0. p >= 100 (or
 * a tail of less than one value) gives the exact min/max. */
void ld_hist_range(const ld_hist *h, double p, float *lo, float *hi);

#endif

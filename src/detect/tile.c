/* Tile grid, box mapping and merging (see tile.h). */
#include "detect/tile.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "detect/box.h"

/* A box side within this share of the tile from an inner tile edge counts
 * as cut: decoders clamp boxes to the tile, so a cut object ends on it. */
#define LD_TILE_EDGE 0.01f

int ld_tile_enabled(const leandet_tile_options *t)
{
    return t && (t->rows != 0 || t->cols != 0);
}

leandet_status ld_tile_check(const leandet_tile_options *t, leandet_error *err)
{
    if (!ld_tile_enabled(t))
        return LEANDET_OK;
    if (t->rows < 1 || t->cols < 1 || t->rows > LEANDET_TILE_MAX_GRID || t->cols > LEANDET_TILE_MAX_GRID)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "tile grid %dx%d: rows and columns must be 1..%d", t->rows, t->cols,
                       LEANDET_TILE_MAX_GRID);
    if (t->rows == 1 && t->cols == 1)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "tile grid 1x1 is the whole image: give at least 2 tiles");
    if (!(t->overlap >= 0.0f && t->overlap < 1.0f)) /* also NaN */
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "tile overlap %g must be in [0, 1) of a tile", (double)t->overlap);
    if (t->overlap_px < 0 || t->overlap_px > LD_TILE_MAX_OVERLAP_PX)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "tile overlap %d px must be in 0..%d", t->overlap_px,
                       LD_TILE_MAX_OVERLAP_PX);
    return LEANDET_OK;
}

int ld_tile_views(const leandet_tile_options *t)
{
    if (!ld_tile_enabled(t))
        return 1;
    return t->rows * t->cols + (t->no_whole_view ? 0 : 1);
}

/* Start and length of tile i of n along an axis of `size` pixels. */
static void axis_span(int n, int size, float frac, int px, int i, int *start, int *len)
{
    if (n <= 1 || size <= 1) {
        *start = 0;
        *len = size;
        return;
    }
    double l = px > 0 ? ((double)size + (double)(n - 1) * px) / n : (double)size / (n - (n - 1) * (double)frac);
    int64_t li = (int64_t)ceil(l);
    li = li < 1 ? 1 : (li > size ? size : li);
    int64_t slack = size - li;
    *start = (int)((2 * (int64_t)i * slack + (n - 1)) / (2 * (int64_t)(n - 1))); /* round half up */
    *len = (int)li;
}

void ld_tile_rect_at(const leandet_tile_options *t, int w, int h, int row, int col, ld_tile_rect *out)
{
    axis_span(t->cols, w, t->overlap, t->overlap_px, col, &out->x, &out->w);
    axis_span(t->rows, h, t->overlap, t->overlap_px, row, &out->y, &out->h);
}

int ld_tile_map_box(const ld_tile_rect *r, int w, int h, const float in[4], float out[4])
{
    out[0] = ((float)r->y + in[0] * (float)r->h) / (float)h;
    out[1] = ((float)r->x + in[1] * (float)r->w) / (float)w;
    out[2] = ((float)r->y + in[2] * (float)r->h) / (float)h;
    out[3] = ((float)r->x + in[3] * (float)r->w) / (float)w;
    for (int k = 0; k < 4; k++)
        out[k] = out[k] > 0.0f ? (out[k] < 1.0f ? out[k] : 1.0f) : 0.0f;
    int top = r->y > 0 && in[0] <= LD_TILE_EDGE, left = r->x > 0 && in[1] <= LD_TILE_EDGE;
    int bottom = r->y + r->h < h && in[2] >= 1.0f - LD_TILE_EDGE;
    int right = r->x + r->w < w && in[3] >= 1.0f - LD_TILE_EDGE;
    return top || left || bottom || right;
}

int ld_tile_per_view(const ld_decoder_cfg *cfg)
{
    return cfg->max_detections > 0 ? cfg->max_detections : LD_TILE_DEFAULT_PER_VIEW;
}

size_t ld_tile_work_bytes(const ld_decoder_cfg *cfg, const leandet_tile_options *t)
{
    if (!ld_tile_enabled(t) || ld_tile_check(t, NULL) != LEANDET_OK)
        return 0;
    /* views <= 16 * 16 + 1 and per view <= INT_MAX: n fits size_t, not always int */
    size_t n = (size_t)ld_tile_views(t) * (size_t)ld_tile_per_view(cfg);
    if (n > (size_t)1 << 24)
        return SIZE_MAX; /* refused at create */
    size_t cand = n * sizeof(leandet_detection), cut = (n + 15) / 16 * 16;
    return cand + cut + ld_nms_scratch_bytes((int)n);
}

static float area(const float *b)
{
    float h = b[2] - b[0], w = b[3] - b[1];
    return h > 0.0f && w > 0.0f ? h * w : 0.0f;
}

/* Share of a's area inside b. */
static float covered(const float *a, const float *b)
{
    float aa = area(a);
    if (aa <= 0.0f)
        return 0.0f;
    float ih = ld_minf(a[2], b[2]) - ld_maxf(a[0], b[0]), iw = ld_minf(a[3], b[3]) - ld_maxf(a[1], b[1]);
    return ih > 0.0f && iw > 0.0f ? ih * iw / aa : 0.0f;
}

int ld_tile_merge(leandet_detection *cand, const uint8_t *cut, int n, float iou_threshold, int weighted, int max_out,
                  void *scratch, leandet_detection *out)
{
    if (n <= 0)
        return 0;
    /* Decide every drop against the full list (a dropped piece still
     * witnesses for smaller ones), then compact. The flags borrow the NMS
     * scratch (>= n bytes), which NMS only uses after they are read. */
    uint8_t *drop = scratch;
    for (int i = 0; i < n; i++) {
        drop[i] = 0;
        if (!cut[i])
            continue;
        float ai = area(cand[i].box);
        for (int j = 0; j < n && !drop[i]; j++)
            drop[i] = j != i && cand[j].class_id == cand[i].class_id && area(cand[j].box) > ai &&
                      covered(cand[i].box, cand[j].box) >= LD_TILE_COVER;
    }
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (!drop[i])
            cand[kept++] = cand[i];
    return ld_nms(cand, kept, iou_threshold, weighted, max_out, scratch, out);
}

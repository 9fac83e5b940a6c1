/* Tiled detection (leandet_tile_options in leandet.h): the grid of crops,
 * mapping a crop's boxes back to the whole image, and merging every view's
 * boxes into one list. The detector (runtime/detector.c) runs the views;
 * this file holds the arithmetic, which needs no session.
 *
 * Grid: along an axis of `size` pixels split in n tiles with overlap o
 * pixels, each tile is len = ceil((size + (n - 1) * o) / n) long (at most
 * size) and tile i starts at round(i * (size - len) / (n - 1)): the first
 * starts at 0, the last ends at the image edge, the rest are spread evenly.
 * A fractional overlap f means o = f * len, i.e. len = ceil(size / (n - (n - 1) f)).
 */
#ifndef LD_DETECT_TILE_H
#define LD_DETECT_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"
#include "leandet.h"

/* Largest overlap in pixels the options accept (a 4K tile is ~2000 px). */
#define LD_TILE_MAX_OVERLAP_PX 16384

/* Candidates each view may contribute when the options set no cap. */
#define LD_TILE_DEFAULT_PER_VIEW 100

typedef struct ld_tile_rect {
    int x, y, w, h; /* pixels of the original image */
} ld_tile_rect;

/* 1 when t asks for tiling (rows or cols non-zero). */
int ld_tile_enabled(const leandet_tile_options *t);

/* Check the options (grid 1..LEANDET_TILE_MAX_GRID per axis, not 1x1;
 * overlap in [0, 1); overlap_px in 0..LD_TILE_MAX_OVERLAP_PX). Off is valid. */
leandet_status ld_tile_check(const leandet_tile_options *t, leandet_error *err);

/* Views a run makes: rows * cols plus the whole image unless no_whole_view;
 * 1 when tiling is off. Options must have passed ld_tile_check. */
int ld_tile_views(const leandet_tile_options *t);

/* Tile (row, col) of a w x h image. */
void ld_tile_rect_at(const leandet_tile_options *t, int w, int h, int row, int col, ld_tile_rect *out);

/* Map a box normalized to the tile `r` to one normalized to the w x h image.
 * Returns 1 when the box touches a side of the tile that is inside the image
 * (the object may continue in the neighbouring tile). */
int ld_tile_map_box(const ld_tile_rect *r, int w, int h, const float in[4], float out[4]);

/* Candidates a view may contribute: the decoder's cap, else the default. */
int ld_tile_per_view(const ld_decoder_cfg *cfg);

/* Working memory of a tiled run for this decoder and these options
 * (candidates of every view, their cut flags, the NMS scratch); 0 when
 * tiling is off. The detector allocates exactly this at create. */
size_t ld_tile_work_bytes(const ld_decoder_cfg *cfg, const leandet_tile_options *t);

/* Merge n candidates (image coordinates; cut[i] from ld_tile_map_box) into
 * out[0..max_out): a cut candidate is dropped when a larger candidate of its
 * class covers at least LD_TILE_COVER of its area (it is a piece of that
 * object); the rest go through class-wise NMS (ld_nms, `weighted` as the
 * decoder's). `cand` is compacted in place; `scratch` holds
 * ld_nms_scratch_bytes(n). Returns the count written. */
#define LD_TILE_COVER 0.6f
int ld_tile_merge(leandet_detection *cand, const uint8_t *cut, int n, float iou_threshold, int weighted, int max_out,
                  void *scratch, leandet_detection *out);

#endif

/* Annotating images: rectangles, text in a built-in 5x7 font, and a
 * detection (box + "person 0.71" label on a filled background). Everything
 * is clipped to the image; nothing allocates. */
#ifndef LD_IMAGE_DRAW_H
#define LD_IMAGE_DRAW_H

#include <stdint.h>

#include "leandet.h"

typedef struct ld_rgb {
    uint8_t r, g, b;
} ld_rgb;

#define LD_FONT_W 5   /* glyph ink */
#define LD_FONT_H 7
#define LD_FONT_CELL_W 6 /* advance, with one blank column */
#define LD_FONT_CELL_H 8

/* 7 rows of the glyph of `c` (bit 4 = leftmost column); '?' for
 * characters outside printable ASCII. */
const uint8_t *ld_font_glyph(int c);

/* A distinct, stable colour per class: hues spaced by the golden ratio. */
ld_rgb ld_class_color(int class_id);

/* Filled rectangle over the pixels [x0, x1] x [y0, y1] (inclusive). */
void ld_fill_rect(leandet_image *img, int x0, int y0, int x1, int y1, ld_rgb c);

/* Outline of [x0, x1] x [y0, y1], `thickness` pixels growing inwards. */
void ld_draw_rect(leandet_image *img, int x0, int y0, int x1, int y1, int thickness, ld_rgb c);

/* Text with its top-left corner at (x, y), each font pixel scale x scale. */
void ld_draw_text(leandet_image *img, int x, int y, const char *text, int scale, ld_rgb c);
int ld_text_width(const char *text, int scale);
int ld_text_height(int scale);

/* Text on a filled background whose bottom-left corner is (x, y): a label
 * sits on top of the box edge at y. If there is no room above the image
 * top it goes below y instead. The text is black or white, whichever
 * contrasts with `bg`. */
void ld_draw_label(leandet_image *img, int x, int y, const char *text, int scale, ld_rgb bg);

/* Box (normalized ymin, xmin, ymax, xmax) and label "<name> <score>" in the
 * class colour; thickness and text size follow the image size. `name` may
 * be NULL ("class <id>"). */
void ld_draw_detection(leandet_image *img, const leandet_detection *d, const char *name);

#endif

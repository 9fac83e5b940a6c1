/* Rectangles, text and detection labels on an RGB8 image (draw.h). */
#include "image/draw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Bounds that keep every coordinate sum far from int overflow. */
#define LD_MAX_SCALE 64
#define LD_MAX_TEXT 4096

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

ld_rgb ld_class_color(int class_id)
{
    /* HSV with h = frac(id * 0.618...), s = 0.85, v = 0.95: neighbouring
     * ids land far apart on the hue circle. */
    double h = fmod((double)(class_id < 0 ? -class_id : class_id) * 0.6180339887498949 + 0.1, 1.0);
    double s = 0.85, v = 0.95;
    double hh = h * 6.0, f = hh - floor(hh);
    double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch ((int)hh % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    ld_rgb c = {(uint8_t)lround(r * 255), (uint8_t)lround(g * 255), (uint8_t)lround(b * 255)};
    return c;
}

void ld_fill_rect(leandet_image *img, int x0, int y0, int x1, int y1, ld_rgb c)
{
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0)
        return;
    if (x1 < 0 || y1 < 0 || x0 >= img->width || y0 >= img->height || x0 > x1 || y0 > y1)
        return;
    x0 = clampi(x0, 0, img->width - 1), x1 = clampi(x1, 0, img->width - 1);
    y0 = clampi(y0, 0, img->height - 1), y1 = clampi(y1, 0, img->height - 1);
    for (int y = y0; y <= y1; y++) {
        uint8_t *p = img->pixels + ((size_t)y * (size_t)img->width + (size_t)x0) * 3;
        for (int x = x0; x <= x1; x++, p += 3)
            p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

void ld_draw_rect(leandet_image *img, int x0, int y0, int x1, int y1, int t, ld_rgb c)
{
    if (!img || x0 > x1 || y0 > y1)
        return;
    t = clampi(t, 1, LD_MAX_SCALE);
    /* Pull far-away coordinates in to just outside the image (a side that
     * was off-image stays off-image), so the sums below cannot overflow. */
    x0 = clampi(x0, -t - 1, img->width + t), x1 = clampi(x1, -t - 1, img->width + t);
    y0 = clampi(y0, -t - 1, img->height + t), y1 = clampi(y1, -t - 1, img->height + t);
    /* Sides overlap at the corners and when the box is thinner than 2t:
     * harmless, the same colour is written twice. */
    ld_fill_rect(img, x0, y0, x1, y0 + t - 1, c);
    ld_fill_rect(img, x0, y1 - t + 1, x1, y1, c);
    ld_fill_rect(img, x0, y0, x0 + t - 1, y1, c);
    ld_fill_rect(img, x1 - t + 1, y0, x1, y1, c);
}

int ld_text_width(const char *text, int scale)
{
    size_t n = text ? strnlen(text, LD_MAX_TEXT) : 0;
    if (n == 0)
        return 0;
    scale = clampi(scale, 1, LD_MAX_SCALE);
    /* No trailing blank column after the last glyph. */
    return (int)(n * LD_FONT_CELL_W - 1) * scale;
}

int ld_text_height(int scale) { return LD_FONT_H * clampi(scale, 1, LD_MAX_SCALE); }

void ld_draw_text(leandet_image *img, int x, int y, const char *text, int scale, ld_rgb c)
{
    if (!img || !text || scale < 1 || scale > LD_MAX_SCALE || x >= img->width || y >= img->height ||
        y < -LD_FONT_H * LD_MAX_SCALE)
        return;
    if (x < -LD_FONT_CELL_W * LD_MAX_SCALE * LD_MAX_TEXT)
        return;
    for (size_t i = 0; text[i] && i < LD_MAX_TEXT; i++, x += LD_FONT_CELL_W * scale) {
        if (x >= img->width)
            break;
        const uint8_t *g = ld_font_glyph((unsigned char)text[i]);
        for (int row = 0; row < LD_FONT_H; row++)
            for (int col = 0; col < LD_FONT_W; col++)
                if (g[row] & (0x10 >> col))
                    ld_fill_rect(img, x + col * scale, y + row * scale, x + col * scale + scale - 1,
                                 y + row * scale + scale - 1, c);
    }
}

void ld_draw_label(leandet_image *img, int x, int y, const char *text, int scale, ld_rgb bg)
{
    if (!img || !text || scale < 1 || scale > LD_MAX_SCALE)
        return;
    x = clampi(x, 0, img->width);
    y = clampi(y, 0, img->height);
    int pad = scale, w = ld_text_width(text, scale) + 2 * pad, h = ld_text_height(scale) + 2 * pad;
    int top = y - h;
    if (top < 0)
        top = y; /* no room above: hang below the edge, inside the box */
    if (x + w > img->width)
        x = img->width - w; /* keep the label on screen at the right edge */
    if (x < 0)
        x = 0;
    ld_fill_rect(img, x, top, x + w - 1, top + h - 1, bg);
    /* Perceived brightness (ITU-R BT.601 weights) picks the text colour. */
    int luma = (299 * bg.r + 587 * bg.g + 114 * bg.b) / 1000;
    ld_rgb fg = luma > 140 ? (ld_rgb){0, 0, 0} : (ld_rgb){255, 255, 255};
    ld_draw_text(img, x + pad, top + pad, text, scale, fg);
}

/* Normalized edge -> first (lo) or last (hi) pixel inside it, in [0, n-1]:
 * a box [0.25, 0.75) of 200 pixels covers pixels 50..149. NaN goes to 0. */
static int to_px(float v, int n, int hi)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return n - 1;
    float p = v * (float)n;
    return clampi(hi ? (int)ceilf(p) - 1 : (int)floorf(p), 0, n - 1);
}

void ld_draw_detection(leandet_image *img, const leandet_detection *d, const char *name)
{
    if (!img || !img->pixels || !d || img->width <= 0 || img->height <= 0)
        return;
    int y0 = to_px(d->box[0], img->height, 0), x0 = to_px(d->box[1], img->width, 0);
    int y1 = to_px(d->box[2], img->height, 1), x1 = to_px(d->box[3], img->width, 1);
    int small = img->width < img->height ? img->width : img->height;
    int thick = small >= 720 ? 3 : 2;
    int scale = small >= 1080 ? 3 : (small >= 400 ? 2 : 1);
    ld_rgb c = ld_class_color(d->class_id);
    ld_draw_rect(img, x0, y0, x1, y1, thick, c);
    char text[96];
    float score = d->score == d->score ? d->score : 0.0f;
    if (name)
        snprintf(text, sizeof text, "%.64s %.2f", name, (double)score);
    else
        snprintf(text, sizeof text, "class %d %.2f", d->class_id, (double)score);
    ld_draw_label(img, x0, y0, text, scale, c);
}

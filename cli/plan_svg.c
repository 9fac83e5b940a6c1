/* The arena of a plan as an SVG picture: one rectangle per arena buffer,
 * x = the ops during which it lives, y = its offset, height = its size. */
#include "plan_svg.h"

#include <stdio.h>


#define W 1200.0   /* drawing width in px (ops) */
#define H 600.0    /* drawing height in px (arena bytes) */
#define MARGIN 40.0

/* A name for every buffer: the first tensor placed in it. */
static const char *item_name(const leandet_session *s, int item)
{
    const ld_model_desc *d = &s->model->desc;
    for (int t = 0; t < d->n_tensors; t++)
        if (s->plan.item_of[t] == item)
            return d->tensors[t].name;
    return "";
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

int ld_plan_write_svg(const char *path, const leandet_session *s)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const ld_arena_plan *p = &s->plan;
    int steps = s->model->desc.n_ops + 2; /* -1 (inputs) .. n_ops (outputs read) */
    double xs = W / steps, ys = p->arena_bytes ? H / (double)p->arena_bytes : 0;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n", W + 2 * MARGIN, H + 2 * MARGIN);
    fputs("<title>", f);
    xml_text(f, s->model->path);
    fprintf(f, ": arena %zu bytes, %d buffers, %d ops</title>\n", p->arena_bytes, p->n_items, s->model->desc.n_ops);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n", MARGIN,
            MARGIN, W, H);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">op index &#8594;</text>\n", MARGIN, H + MARGIN + 20);
    fprintf(f, "<text x=\"4\" y=\"%.0f\">offset &#8595; (%zu bytes)</text>\n", MARGIN - 10, p->arena_bytes);
    for (int k = 0; k < p->n_items; k++) {
        const ld_plan_item *it = &p->items[k];
        double x = MARGIN + (it->first + 1) * xs, w = (it->last - it->first + 1) * xs;
        double y = MARGIN + (double)it->offset * ys, h = (double)it->size * ys;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"hsl(%d,60%%,60%%)\" "
                   "stroke=\"#333\" stroke-width=\"0.3\"><title>",
                x, y, w, h > 0.5 ? h : 0.5, (k * 47) % 360);
        xml_text(f, item_name(s, k));
        fprintf(f, ": %zu bytes at offset %zu, ops %d..%d</title></rect>\n", it->size, it->offset, it->first, it->last);
    }
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

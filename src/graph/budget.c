#include "graph/budget.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"

#define PAGE ((size_t)4096)

const char *leandet_mem_category_name(leandet_mem_category c)
{
    static const char *const names[LEANDET_MEM_COUNT] = {
        "process", "model file", "model description", "session", "folded weights", "packed weights",
        "op state", "arena", "scratch", "io buffers", "images", "pipeline", "thread stacks", "margin",
    };
    return (unsigned)c < LEANDET_MEM_COUNT ? names[c] : "unknown";
}

size_t leandet_process_resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (n != 2 || page <= 0)
        return 0;
    return (size_t)resident * (size_t)page;
}

size_t ld_add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t ld_page_round(size_t n)
{
    return n > SIZE_MAX - (PAGE - 1) ? SIZE_MAX : (n + PAGE - 1) & ~(PAGE - 1);
}

size_t ld_block_bytes(size_t n)
{
    if (n == 0)
        return 0;
    n = ld_add_sat(n, LD_ALLOC_SLACK);
    return n >= LD_MMAP_MIN ? ld_page_round(n) : n;
}

/* Measured peaks of the same run vary by a few percent (peaks of `leandet
 * detect` on a loaded machine under `ctest -j2` reached 4% above the sum
 * of the other categories): the margin covers that so a budget that fits
 * the plan holds every run. */
#define LD_MARGIN_PERCENT 5
#define LD_MARGIN_MIN ((size_t)512 * 1024)

void ld_report_total(leandet_plan_report *r)
{
    size_t t = 0;
    for (int c = 0; c < LEANDET_MEM_COUNT; c++)
        if (c != LEANDET_MEM_MARGIN)
            t = ld_add_sat(t, r->bytes[c]);
    size_t margin = t / 100 * LD_MARGIN_PERCENT;
    r->bytes[LEANDET_MEM_MARGIN] = margin > LD_MARGIN_MIN ? margin : LD_MARGIN_MIN;
    t = ld_add_sat(t, r->bytes[LEANDET_MEM_MARGIN]);
    r->total_bytes = t;
    r->fits = r->max_memory == 0 || t <= r->max_memory;
}

const char *ld_fmt_bytes(size_t n, char *buf, size_t cap)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(buf, cap, "%zu B", n);
        return buf;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

/* snprintf that appends at *len and never runs past cap. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, const char *a, const char *b)
{
    if (*len >= cap)
        return;
    int k = snprintf(buf + *len, cap - *len, fmt, a, b);
    if (k > 0)
        *len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
}

void ld_fmt_breakdown(const leandet_plan_report *r, char *buf, size_t cap)
{
    size_t len = 0;
    char b[32];
    if (cap)
        buf[0] = '\0';
    for (int c = 0; c < LEANDET_MEM_COUNT; c++)
        if (r->bytes[c])
            append(buf, cap, &len, len ? ", %s %s" : "%s %s", leandet_mem_category_name((leandet_mem_category)c),
                   ld_fmt_bytes(r->bytes[c], b, sizeof b));
}

/* n in MiB, rounded up to what is printed: a budget to pass on. */
static const char *fmt_mib_up(size_t n, char *buf, size_t cap)
{
    double mib = (double)n / (1024.0 * 1024.0), step = mib < 10 ? 0.01 : 0.1;
    snprintf(buf, cap, mib < 10 ? "%.2fM" : "%.1fM", ceil(mib / step - 1e-9) * step);
    return buf;
}

void ld_fmt_would_fit(const leandet_plan_report *r, int cli, char *buf, size_t cap)
{
    size_t len = 0;
    char b[32], n[16];
    if (cap)
        buf[0] = '\0';
    /* A command's own start varies by a few hundred KB from run to run
     * (how the libraries' pages fault in), so the budget suggested for the
     * next run has room for that, rounded up. */
    if (cli)
        append(buf, cap, &len, "%s%s", "would fit: --max-memory ",
               fmt_mib_up(ld_add_sat(r->total_bytes, LD_START_VARIANCE_BYTES), b, sizeof b));
    else
        append(buf, cap, &len, "%s%s", "would fit: a budget of ", ld_fmt_bytes(r->total_bytes, b, sizeof b));
    if (r->max_batch > 0) {
        snprintf(n, sizeof n, "%d", r->max_batch);
        append(buf, cap, &len, "%s%s", cli ? "; --batch " : "; batch ", n);
    }
    if (r->total_one_thread && r->max_memory && r->total_one_thread <= r->max_memory) {
        append(buf, cap, &len, "%s%s", cli ? "; --threads 1 (" : "; one thread (",
               ld_fmt_bytes(r->total_one_thread, b, sizeof b));
        append(buf, cap, &len, "%s%s", ")", "");
    }
    if (r->total_reference && r->max_memory && r->total_reference <= r->max_memory) {
        append(buf, cap, &len, "%s%s", cli ? "; --backend ref, no packed weights (" : "; reference kernels, no "
               "packed weights (", ld_fmt_bytes(r->total_reference, b, sizeof b));
        append(buf, cap, &len, "%s%s", ")", "");
    }
    size_t img = r->bytes[LEANDET_MEM_IMAGE];
    if (img && r->max_memory && r->total_bytes - img < r->max_memory) {
        append(buf, cap, &len, "%s%s", "; smaller images (",
               ld_fmt_bytes(r->max_memory - (r->total_bytes - img), b, sizeof b));
        append(buf, cap, &len, "%s%s", " left for decoding)", "");
    }
    append(buf, cap, &len, "%s%s", "; or a smaller model",
           cli ? " ('leandet plan --max-memory M a.tflite b.tflite' ranks them)" : "");
}

/* ---- images ---------------------------------------------------------- */

/* Code and tables of the codec libraries, resident once an image of that
 * format is decoded. Measured: the peak of `leandet detect` on face.jpg
 * exceeds the same pixels as BMP/PPM by ~450 KiB (medians of 8), and
 * earlier by 400-700 KiB over the six models on other images; PNG (libspng
 * + zlib) by less than the run-to-run noise, ~100 KiB. */
#define LD_JPEG_CODE_BYTES ((size_t)512 * 1024)
#define LD_PNG_CODE_BYTES ((size_t)128 * 1024)

size_t ld_budget_codec_code_bytes(int format)
{
    return format == LD_IMAGE_JPEG ? LD_JPEG_CODE_BYTES : format == LD_IMAGE_PNG ? LD_PNG_CODE_BYTES : 0;
}

size_t ld_budget_image_bytes(int format, int width, int height, size_t file_bytes, size_t jpeg_coef_bytes)
{
    if (width <= 0 || height <= 0)
        return ld_page_round(file_bytes);
    size_t w = (size_t)width, h = (size_t)height;
    size_t pixels = w * h * 3; /* the image layer caps w*h, so no overflow */
    size_t codec = 0;
    switch (format) {
    case LD_IMAGE_JPEG:
        /* libjpeg: tables and state, plus a few MCU rows per component for
         * upsampling and colour conversion; progressive (or multi-scan)
         * images add the whole coefficient buffer, passed in by the caller. */
        codec = 96 * 1024 + w * 3 * 32 + jpeg_coef_bytes;
        break;
    case LD_IMAGE_PNG:
        /* spng: two rows of up to 16-bit RGBA, the inflate window and state. */
        codec = 64 * 1024 + w * 8 * 2;
        break;
    default:
        break; /* BMP and PPM decode straight from the file bytes */
    }
    return ld_block_bytes(file_bytes) + ld_block_bytes(pixels) + codec + ld_budget_codec_code_bytes(format);
}

size_t ld_budget_draw_bytes(int width)
{
    /* The PNG encoder's deflate state (window, hash chains, pending buffer at
     * the default window and memLevel) and a few rows; JPEG needs less. */
    size_t w = width > 0 ? (size_t)width : 0;
    return 384 * 1024 + w * 3 * 4;
}

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* Coefficient bytes of a frame: per component, its blocks padded to whole
 * MCUs (libjpeg's virtual arrays), 64 coefficients of 2 bytes each. */
static size_t frame_coef_bytes(const uint8_t *sof, size_t len)
{
    if (len < 6)
        return 0;
    size_t h = be16(sof + 1), w = be16(sof + 3), nc = sof[5];
    if (len < 6 + 3 * nc || nc == 0 || w == 0 || h == 0)
        return 0;
    size_t hmax = 1, vmax = 1;
    for (size_t c = 0; c < nc; c++) {
        size_t hs = sof[6 + 3 * c + 1] >> 4, vs = sof[6 + 3 * c + 1] & 15;
        hmax = hs > hmax ? hs : hmax;
        vmax = vs > vmax ? vs : vmax;
    }
    size_t total = 0;
    for (size_t c = 0; c < nc; c++) {
        size_t hs = sof[6 + 3 * c + 1] >> 4, vs = sof[6 + 3 * c + 1] & 15;
        if (hs == 0 || vs == 0)
            return 0;
        size_t bw = (w * hs + hmax * 8 - 1) / (hmax * 8), bh = (h * vs + vmax * 8 - 1) / (vmax * 8);
        total += round_up(bw, hs) * round_up(bh, vs) * 64 * 2;
    }
    return total;
}

/* Walk the markers to the first scan: libjpeg buffers every coefficient
 * when the frame is progressive (SOF2/6/10/14) or the first scan does not
 * carry every component (a multi-scan sequential file). */
size_t ld_jpeg_coef_bytes(const uint8_t *d, size_t n)
{
    if (n < 4 || d[0] != 0xff || d[1] != 0xd8)
        return 0;
    size_t i = 2, coef = 0;
    int progressive = 0, components = 0;
    while (i + 4 <= n) {
        if (d[i] != 0xff)
            return 0;
        unsigned m = d[i + 1];
        if (m == 0xff) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
            i += 2;
            continue;
        }
        size_t len = be16(d + i + 2);
        if (len < 2 || i + 2 + len > n)
            return progressive ? coef : 0;
        const uint8_t *seg = d + i + 4;
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            coef = frame_coef_bytes(seg, len - 2);
            components = len - 2 >= 6 ? seg[5] : 0;
            progressive = (m & 3) == 2;
        } else if (m == 0xda) {
            int in_scan = len - 2 >= 1 ? seg[0] : 0;
            return progressive || in_scan < components ? coef : 0;
        }
        i += 2 + len;
    }
    return progressive ? coef : 0;
}

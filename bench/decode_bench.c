/* leandet-decode-bench: what JPEG DCT-scaled decoding and resizing rows
 * as they decode save (issue 4).
 *
 *   leandet-decode-bench [--size WxH] [--repeats N] FILE...
 *
 * For every file, three ways to the WxH model input, each --repeats times
 * (median kept, CPU time of this thread):
 *   full:     decode at full size into a buffer of its pixels, then resize;
 *   scaled:   the same at the scale the pipeline picks (ld_image_pick_scale:
 *             the largest 1/2, 1/4, 1/8 that stays at least WxH; JPEG only);
 *   streamed: what the pipeline does: at that scale, each row resized as it
 *             decodes (ld_preprocess_stream), holding two rows, not the image.
 * The bytes reported are each way's decode buffer. One JSON line per file,
 * then a totals line. Not a test: timings depend on the machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/image.h"
#include "image/preprocess.h"

/* This thread's CPU time: a decode is single-threaded, and CPU time is far
 * less disturbed than wall time when other processes share the cores. */
static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[n / 2];
}

/* Median ms of `repeats` decodes at 1/denom plus the resize to the input. */
static double time_decode(const char *path, const uint8_t *data, size_t size, int denom, uint8_t *px, size_t cap,
                          const ld_preprocess *pre, uint8_t *tensor, size_t tensor_bytes, int repeats)
{
    double t[64];
    for (int r = 0; r < repeats; r++) {
        leandet_error err = {0};
        int w = 0, h = 0;
        double t0 = now_ms();
        if (ld_image_decode_into(path, data, size, denom, px, cap, &w, &h, &err) != LEANDET_OK) {
            fprintf(stderr, "%s\n", err.message);
            return -1;
        }
        leandet_image img = {w, h, px};
        ld_letterbox geo;
        if (ld_preprocess_image(&img, pre, tensor, tensor_bytes, &geo, &err) != LEANDET_OK) {
            fprintf(stderr, "%s\n", err.message);
            return -1;
        }
        t[r] = now_ms() - t0;
    }
    return median(t, repeats);
}

/* The same, resizing rows as they decode through `scratch`. */
static double time_stream(const char *path, const uint8_t *data, size_t size, int denom, uint8_t *scratch,
                          size_t cap, const ld_preprocess *pre, uint8_t *tensor, size_t tensor_bytes, int repeats)
{
    double t[64];
    for (int r = 0; r < repeats; r++) {
        leandet_error err = {0};
        ld_letterbox geo;
        double t0 = now_ms();
        if (ld_preprocess_stream(path, data, size, denom, pre, tensor, tensor_bytes, scratch, cap, &geo, &err) !=
            LEANDET_OK) {
            fprintf(stderr, "%s\n", err.message);
            return -1;
        }
        t[r] = now_ms() - t0;
    }
    return median(t, repeats);
}

int main(int argc, char **argv)
{
    int mw = 300, mh = 300, repeats = 5, first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "--size") == 0 && first + 1 < argc &&
            sscanf(argv[first + 1], "%dx%d", &mw, &mh) == 2 && mw > 0 && mh > 0)
            first++;
        else if (strcmp(argv[first], "--repeats") == 0 && first + 1 < argc &&
                 (repeats = atoi(argv[first + 1])) >= 1 && repeats <= 64)
            first++;
        else {
            fprintf(stderr, "usage: leandet-decode-bench [--size WxH] [--repeats N<=64] FILE...\n");
            return 2;
        }
    }
    ld_preprocess pre;
    ld_preprocess_init(&pre, mw, mh, LEANDET_UINT8, LEANDET_RESIZE_STRETCH);
    size_t tensor_bytes = (size_t)mw * (size_t)mh * 3;
    uint8_t *tensor = malloc(tensor_bytes);
    double full_ms = 0, scaled_ms = 0, stream_ms = 0, full_bytes = 0, scaled_bytes = 0, stream_bytes = 0;
    double peak_full = 0, peak_scaled = 0, peak_stream = 0;
    int n = 0, n_scaled = 0, n_stream = 0;
    for (int i = first; i < argc && tensor; i++) {
        const uint8_t *data = NULL;
        size_t size = 0;
        leandet_error err = {0};
        ld_image_info info;
        if (ld_image_map_file(argv[i], &data, &size, &err) != LEANDET_OK ||
            ld_image_probe(argv[i], data, size, &info, &err) != LEANDET_OK) {
            fprintf(stderr, "%s\n", err.message);
            ld_image_unmap_file(data, size);
            continue;
        }
        int denom = ld_image_pick_scale(&info, mw, mh), sw, sh;
        ld_image_scaled_size(&info, denom, &sw, &sh);
        size_t fb = (size_t)info.width * (size_t)info.height * 3, sb = (size_t)sw * (size_t)sh * 3;
        /* Formats that cannot stream (interlaced PNG) decode whole, as in the pipeline. */
        size_t rb = info.streamable ? ld_preprocess_stream_bytes(&pre, sw) : sb;
        uint8_t *px = malloc(fb > rb ? fb : rb);
        double tf = px ? time_decode(argv[i], data, size, 1, px, fb, &pre, tensor, tensor_bytes, repeats) : -1;
        double ts = px ? time_decode(argv[i], data, size, denom, px, sb, &pre, tensor, tensor_bytes, repeats) : -1;
        double tr = !info.streamable ? ts
                    : px ? time_stream(argv[i], data, size, denom, px, rb, &pre, tensor, tensor_bytes, repeats)
                         : -1;
        free(px);
        ld_image_unmap_file(data, size);
        if (tf < 0 || ts < 0 || tr < 0)
            continue;
        printf("{\"file\":\"%s\",\"format\":\"%s\",\"width\":%d,\"height\":%d,\"denom\":%d,\"streamed\":%d,"
               "\"full_ms\":%.3f,\"scaled_ms\":%.3f,\"stream_ms\":%.3f,\"full_pixel_bytes\":%zu,"
               "\"scaled_pixel_bytes\":%zu,\"stream_bytes\":%zu}\n",
               argv[i], ld_image_format_name(info.format), info.width, info.height, denom, info.streamable, tf, ts,
               tr, fb, sb, rb);
        n++;
        n_scaled += denom > 1;
        n_stream += info.streamable;
        full_ms += tf;
        scaled_ms += ts;
        stream_ms += tr;
        full_bytes += (double)fb;
        scaled_bytes += (double)sb;
        stream_bytes += (double)rb;
        peak_full = (double)fb > peak_full ? (double)fb : peak_full;
        peak_scaled = (double)sb > peak_scaled ? (double)sb : peak_scaled;
        peak_stream = (double)rb > peak_stream ? (double)rb : peak_stream;
    }
    printf("{\"total\":{\"images\":%d,\"scaled\":%d,\"streamed\":%d,\"model_input\":\"%dx%d\",\"full_ms\":%.2f,"
           "\"scaled_ms\":%.2f,\"stream_ms\":%.2f,\"speedup\":%.2f,\"stream_speedup\":%.2f,"
           "\"full_pixel_bytes\":%.0f,\"scaled_pixel_bytes\":%.0f,\"stream_bytes\":%.0f,"
           "\"largest_full_bytes\":%.0f,\"largest_scaled_bytes\":%.0f,\"largest_stream_bytes\":%.0f}}\n",
           n, n_scaled, n_stream, mw, mh, full_ms, scaled_ms, stream_ms, scaled_ms > 0 ? full_ms / scaled_ms : 0.0,
           stream_ms > 0 ? full_ms / stream_ms : 0.0, full_bytes, scaled_bytes, stream_bytes, peak_full, peak_scaled,
           peak_stream);
    free(tensor);
    return n > 0 ? 0 : 1;
}

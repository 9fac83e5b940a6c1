/* leandet video: detect objects in the frames of a video file or live
 * stream through the pipeline: one JSON line per processed frame, an
 * optional annotated video, and a summary.
 *
 * Frames are scaled by swscale straight from the decoder's YUV to the size
 * they take inside the model input (no full-resolution RGB copy), then go
 * through the pipeline as images that need no further resampling. --exact
 * converts to full-resolution RGB instead and lets leandet resize it, which
 * gives the very pixels `leandet detect` sees on the frame saved as PNG by
 * `ffmpeg`. The annotated output is drawn on full-resolution RGB made only
 * when --out is given, in the pipeline's ordered sink.
 *
 * Frame buffers: the pipeline has `slots` inputs in flight and frees a slot
 * only after its result was delivered, so with slots + 1 buffers used in
 * turn, the buffer for frame k is free once frame k - 1 was accepted. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "budget.h"
#include "commands.h"
#include "detect/labels.h"
#include "detect_opts.h"
#include "detjson.h"
#include "image/draw.h"
#include "json.h"
#include "pipeline/pipeline.h"
#include "runtime/cpuset.h"
#include "video_budget.h"
#include "video_io.h"

static const char usage[] =
    "usage: leandet video --model M.tflite [options] INPUT\n"
    "\n"
    "Detect objects in the frames of INPUT: a video file, a URL (rtsp://, http://, udp://...), a\n"
    "capture device (/dev/video0 is a v4l2 camera; others with --format, e.g. --format lavfi\n"
    "testsrc) or - for stdin. Prints one JSON line per processed frame:\n"
    "  {\"frame\":K,\"pts_ms\":T,\"detections\":[{\"class\":K,\"label\":\"person\",\"score\":0.71,\n"
    "   \"box\":[ymin,xmin,ymax,xmax]}]}\n"
    "(frame: index among decoded frames; pts_ms: presentation time from the stream start), then\n"
    "{\"summary\":{...}}; the summary is also printed on stderr.\n"
    "\n"
    "options:\n"
    "  --model M            .tflite detection model (required)\n"
    "  --labels L           label file (as for detect)\n" LD_DETECT_OPTS_USAGE
    "  --out FILE           write an annotated video (.mp4, .mkv, .mov, .avi; H.264 when FFmpeg has\n"
    "                       libx264, else MPEG-4) with the processed frames at their own times\n"
    "  --every N            process every Nth decoded frame\n"
    "  --fps F              process at most F frames per second of stream time\n"
    "  --drop D             latest|none: when inference falls behind, drop the frames that arrive\n"
    "                       while every session is busy, so each inference starts on a fresh\n"
    "                       frame (latest), or decode no faster than inference (none).\n"
    "                       Default: latest for live streams, none for files and stdin\n"
    "  --max-frames N       stop after N decoded frames\n"
    "  --loop N             play a file N times (0: until --max-frames or Ctrl-C), timestamps\n"
    "                       running on; for soak tests of long runs\n"
    "  --threads N          inference sessions working on frames in parallel (default: the CPUs\n"
    "                       available, at most 4); results stay in frame order\n"
    "  --prefetch N         frames prepared ahead of inference (default 2; 0 with --drop latest)\n"
    "  --max-memory BYTES   refuse to start if frame buffers, pipeline and sessions need more\n"
    "  --exact              full-resolution RGB + leandet's resize (slower): detections equal those\n"
    "                       of `leandet detect` on the frame extracted as PNG by ffmpeg\n"
    "  --format NAME        force the input format (FFmpeg demuxer or device name, e.g. mjpeg,\n"
    "                       h264, v4l2, lavfi)\n"
    "  --verbose            show FFmpeg's own messages\n"
    "\n"
    "exit codes: 0 done, 1 error (cannot open, no frame), 2 usage error, 3 budget refused,\n"
    "            4 partial: the stream was truncated or corrupt, or some frames failed\n";

typedef struct video_opts {
    const char *model, *labels, *input, *out, *format;
    leandet_detect_options det;
    size_t max_memory;
    int every;
    float fps;
    int drop;          /* -1: by source, 0: none, 1: latest */
    int max_frames;    /* 0: all */
    int loop;          /* passes over a file: 1 (default), 0 forever */
    int threads;       /* 0: default */
    int prefetch;      /* -1: default */
    int exact, verbose;
} video_opts;

typedef struct frame_meta {
    int64_t index, pts_ms, pts;
} frame_meta;

typedef struct video_run {
    const video_opts *o;
    ld_budget_opts budget;   /* process baseline at start; --max-memory */
    size_t label_bytes;
    size_t planned;          /* the plan's total_bytes */
    const ld_labels *labels;
    ld_vin in;
    ld_vout out;
    int have_out;
    int fw, fh;              /* size of the first frame: output and --exact images */
    int model_w, model_h;    /* the model input: fast-path images fit inside it */
    AVFrame *first;          /* decoded before setup, to size everything on it */
    int n_bufs;
    uint8_t *buf_block;      /* n_bufs RGB images, buf_bytes apart */
    size_t buf_bytes;        /* one image plus swscale's slack */
    frame_meta *meta;
    AVFrame **refs;          /* fast mode with --out: the decoded frames, to draw on */
    uint8_t *draw_rgb;       /* fast mode with --out: full-resolution RGB (sink only) */
    ld_scaler sink_scaler;   /* sink thread only */
    /* written by the sink thread, read after leandet_pipeline_finish */
    int64_t processed, failed;
    int out_failed;
    char out_msg[LD_VIDEO_MSG];
} video_run;

/* ------------------------------------------------------------------ */
/* Signals and FFmpeg's log                                             */

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_last_log[256];
static int g_verbose;

/* Keep FFmpeg's last error line (it often says more than the error code:
 * "moov atom not found"); print everything only with --verbose. */
static void on_av_log(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING)
        return;
    char line[256];
    int prefix = 1;
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &prefix);
    va_end(copy);
    pthread_mutex_lock(&g_log_mu);
    if (g_verbose)
        fputs(line, stderr);
    if (level <= AV_LOG_ERROR) {
        const char *tag = strstr(line, "] "); /* drop the "[h264 @ 0x...] " prefix */
        const char *text = tag ? tag + 2 : line;
        snprintf(g_last_log, sizeof g_last_log, "%.*s", (int)strcspn(text, "\n"), text);
    }
    pthread_mutex_unlock(&g_log_mu);
}

static void last_log(char *buf, size_t n)
{
    pthread_mutex_lock(&g_log_mu);
    snprintf(buf, n, "%s", g_last_log);
    g_last_log[0] = '\0';
    pthread_mutex_unlock(&g_log_mu);
}

/* ------------------------------------------------------------------ */
/* Results (the pipeline's ordered sink)                                */

static void draw_and_write(video_run *v, const frame_meta *m, int slot, const leandet_pipeline_result *r)
{
    uint8_t *rgb = v->buf_block + (size_t)slot * v->buf_bytes; /* --exact: the full frame itself */
    if (!v->o->exact) {
        rgb = v->draw_rgb;
        if (ld_scaler_rgb(&v->sink_scaler, v->refs[slot], rgb, v->fw, v->fh, SWS_BICUBIC) != 0) {
            v->out_failed = 1;
            snprintf(v->out_msg, sizeof v->out_msg, "%s: cannot convert frame %lld to RGB", v->out.path,
                     (long long)m->index);
            return;
        }
    }
    leandet_image img = {v->fw, v->fh, rgb};
    for (int i = r->count - 1; i >= 0; i--) /* best last, so its label is on top */
        ld_draw_detection(&img, &r->detections[i],
                          v->labels ? ld_labels_name(v->labels, r->detections[i].class_id) : NULL);
    if (ld_vout_write_rgb(&v->out, rgb, m->pts, v->out_msg, sizeof v->out_msg) != 0)
        v->out_failed = 1;
}

static void on_frame(void *user, const leandet_pipeline_result *r)
{
    video_run *v = user;
    const frame_meta *m = r->user;
    int slot = (int)(m - v->meta);
    printf("{\"frame\":%lld,\"pts_ms\":%lld,", (long long)m->index, (long long)m->pts_ms);
    if (r->status == LEANDET_OK) {
        fputs("\"detections\":", stdout);
        ld_json_detections(stdout, r->detections, r->count, v->labels);
        v->processed++;
    } else {
        fputs("\"error\":", stdout);
        ld_json_string(stdout, r->error);
        fprintf(stderr, "leandet video: %s\n", r->error);
        v->failed++;
    }
    fputs("}\n", stdout);
    fflush(stdout); /* a live run is read line by line */
    if (v->have_out && !v->out_failed)
        draw_and_write(v, m, slot, r);
    if (v->refs)
        av_frame_unref(v->refs[slot]);
}

/* ------------------------------------------------------------------ */
/* Setup                                                                */

static int parse(int argc, char **argv, video_opts *o)
{
    static const char *const drops[] = {"none", "latest"};
    ld_args a;
    ld_args_init(&a, argc, argv);
    memset(o, 0, sizeof *o);
    leandet_detect_options_default(&o->det);
    o->drop = -1;
    o->prefetch = -1;
    o->loop = 1;
    while (ld_args_more(&a)) {
        const char *pos;
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            fputs(usage, stdout);
            return -1;
        } else if (ld_parse_detect_option(&a, &o->det)) {
        } else if (ld_args_opt(&a, "--model")) {
            o->model = a.value;
        } else if (ld_args_opt(&a, "--labels")) {
            o->labels = a.value;
        } else if (ld_args_opt(&a, "--out")) {
            o->out = a.value;
        } else if (ld_args_opt(&a, "--every")) {
            ld_parse_int(&a, "--every", 1, 1000000, &o->every);
        } else if (ld_args_opt(&a, "--fps")) {
            ld_parse_float(&a, "--fps", 0.001f, 1000.0f, &o->fps);
        } else if (ld_args_opt(&a, "--drop")) {
            ld_parse_choice(&a, "--drop", drops, 2, &o->drop);
        } else if (ld_args_opt(&a, "--max-frames")) {
            ld_parse_int(&a, "--max-frames", 1, 2000000000, &o->max_frames);
        } else if (ld_args_opt(&a, "--loop")) {
            ld_parse_int(&a, "--loop", 0, 1000000000, &o->loop);
        } else if (ld_args_opt(&a, "--threads")) {
            ld_parse_int(&a, "--threads", 1, 64, &o->threads);
        } else if (ld_args_opt(&a, "--prefetch")) {
            ld_parse_int(&a, "--prefetch", 0, 64, &o->prefetch);
        } else if (ld_args_opt(&a, "--max-memory")) {
            ld_parse_bytes(&a, "--max-memory", &o->max_memory);
        } else if (ld_args_opt(&a, "--format")) {
            o->format = a.value;
        } else if (ld_args_flag(&a, "--exact")) {
            o->exact = 1;
        } else if (ld_args_flag(&a, "--verbose")) {
            o->verbose = 1;
        } else if ((pos = ld_args_positional(&a)) != NULL) {
            if (o->input)
                ld_usage_error(&a, "one input at a time ('%s' and '%s')", o->input, pos);
            o->input = pos;
        } else if (!a.error) {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && !o->model)
        ld_usage_error(&a, "--model is required");
    if (!a.error && !o->input)
        ld_usage_error(&a, "no input given");
    if (!a.error && o->every && o->fps > 0.0f)
        ld_usage_error(&a, "--every and --fps are exclusive");
    return a.error ? LD_EXIT_USAGE : LD_EXIT_OK;
}

/* Bytes of a w x h RGB24 buffer that swscale reads or writes: its SIMD
 * paths may touch up to a vector past the last pixel, so one more row (at
 * least 64 bytes) of slack, rounded to 64. */
static size_t rgb_bytes(int w, int h)
{
    size_t row = (size_t)w * 3, slack = row > 64 ? row : 64;
    return ((size_t)h * row + slack + 63) / 64 * 64;
}

/* Frame buffers, sized once: slots + 1 images, plus what drawing needs. */
static int alloc_buffers(video_run *v, int slots)
{
    v->n_bufs = slots + 1;
    v->buf_bytes = rgb_bytes(v->o->exact ? v->fw : v->model_w, v->o->exact ? v->fh : v->model_h);
    v->buf_block = malloc(v->buf_bytes * (size_t)v->n_bufs);
    v->meta = calloc((size_t)v->n_bufs, sizeof *v->meta);
    if (!v->buf_block || !v->meta)
        return -1;
    if (v->have_out && !v->o->exact) {
        v->draw_rgb = malloc(rgb_bytes(v->fw, v->fh));
        v->refs = calloc((size_t)v->n_bufs, sizeof *v->refs);
        if (!v->draw_rgb || !v->refs)
            return -1;
        for (int i = 0; i < v->n_bufs; i++)
            if (!(v->refs[i] = av_frame_alloc()))
                return -1;
    }
    return 0;
}

/* Bytes of the frame buffers above plus the decoded frames they pin and the
 * encoder's frame (FFmpeg's codec state itself is not counted). */
static size_t video_bytes(const video_run *v, int slots, int model_w, int model_h)
{
    size_t n = (size_t)slots + 1, frame = (size_t)v->fw * (size_t)v->fh;
    size_t img = v->o->exact ? rgb_bytes(v->fw, v->fh) : rgb_bytes(model_w, model_h);
    size_t total = n * (img + sizeof(frame_meta));
    if (v->have_out) {
        total += frame * 3 / 2; /* encoder input */
        if (!v->o->exact)
            total += rgb_bytes(v->fw, v->fh) + n * frame * 3 / 2; /* drawing RGB + pinned YUV frames */
    }
    return total;
}

static void free_buffers(video_run *v)
{
    for (int i = 0; v->refs && i < v->n_bufs; i++)
        av_frame_free(&v->refs[i]);
    free(v->refs);
    free(v->draw_rgb);
    free(v->meta);
    free(v->buf_block);
    ld_scaler_free(&v->sink_scaler);
}

/* --every / --fps: is decoded frame `index` at `pts_ms` one to process? */
static int selected(const video_opts *o, int64_t index, int64_t pts_ms, int64_t *last_bucket)
{
    if (o->every > 1)
        return index % o->every == 0;
    if (o->fps > 0.0f) {
        /* The first frame of every 1/fps interval of stream time. */
        int64_t bucket = pts_ms >= 0 ? (int64_t)floor((double)pts_ms * (double)o->fps / 1000.0) : index;
        if (bucket <= *last_bucket)
            return 0;
        *last_bucket = bucket;
    }
    return 1;
}

static size_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %zu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* The run                                                              */

typedef struct counts {
    int64_t decoded, submitted, dropped, skipped, convert_failed;
    double seconds;
} counts;

/* The first frame (decoded during setup), then the stream's. */
static int next_frame(video_run *v, AVFrame *frame)
{
    if (v->first && v->first->width > 0) {
        av_frame_move_ref(frame, v->first);
        return 1;
    }
    return ld_vin_next(&v->in, frame);
}

/* Decode, select, scale and submit frames until the stream ends (or
 * --max-frames, or Ctrl-C). A stream whose frame size changes midway keeps
 * going: fast-path images are fitted to the model per frame, --exact and
 * the output rescale to the first frame's size. */
static void feed(video_run *v, leandet_pipeline *p, int drop_latest, counts *c)
{
    const video_opts *o = v->o;
    AVFrame *frame = av_frame_alloc();
    ld_scaler scaler = {0};
    int64_t last_bucket = -1;
    char name[4200];
    while (frame && !g_stop && !(o->max_frames && c->decoded >= o->max_frames) && next_frame(v, frame)) {
        int64_t index = c->decoded++;
        int64_t pts_ms = ld_vin_pts_ms(&v->in, frame, index);
        int iw = v->fw, ih = v->fh;
        if (!o->exact)
            leandet_pipeline_fit_size(p, frame->width, frame->height, &iw, &ih);
        if (!selected(o, index, pts_ms, &last_bucket)) {
            c->skipped++;
            av_frame_unref(frame);
            continue;
        }
        int slot = (int)(c->submitted % v->n_bufs);
        uint8_t *buf = v->buf_block + (size_t)slot * v->buf_bytes;
        if (ld_scaler_rgb(&scaler, frame, buf, iw, ih, o->exact ? SWS_BICUBIC : SWS_BILINEAR) != 0) {
            c->convert_failed++;
            av_frame_unref(frame);
            continue;
        }
        frame_meta *m = &v->meta[slot];
        m->index = index;
        m->pts_ms = pts_ms;
        m->pts = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : index;
        /* --loop: each pass's stream timestamps start over; the output's go on */
        m->pts += av_rescale_q(v->in.pts_offset_ms, (AVRational){1, 1000}, v->in.st->time_base);
        if (v->refs)
            av_frame_ref(v->refs[slot], frame);
        av_frame_unref(frame);
        snprintf(name, sizeof name, "%s frame %lld", o->input, (long long)index);
        leandet_image img = {iw, ih, buf};
        leandet_pipeline_input in = {0};
        in.kind = LEANDET_INPUT_IMAGE;
        in.path = name;
        in.image = &img;
        in.user = m;
        int accepted = 1;
        leandet_error err = {0};
        leandet_status st = drop_latest ? leandet_pipeline_try_submit(p, &in, &accepted, &err)
                                        : leandet_pipeline_submit(p, &in, &err);
        if (st != LEANDET_OK || !accepted) {
            /* Inference is behind: this frame goes, the next one is newer. */
            c->dropped++;
            if (v->refs)
                av_frame_unref(v->refs[slot]);
            continue;
        }
        c->submitted++;
    }
    ld_scaler_free(&scaler);
    av_frame_free(&frame);
}

static void print_summary(const video_run *v, const counts *c, int sessions, int drop_latest, const char *status,
                          const char *error)
{
    double fps = c->seconds > 0 ? (double)v->processed / c->seconds : 0.0;
    size_t peak = peak_rss();
    printf("{\"summary\":{\"input\":");
    ld_json_string(stdout, v->o->input);
    printf(",\"width\":%d,\"height\":%d,\"frames_decoded\":%lld,\"frames_processed\":%lld,\"frames_failed\":%lld,"
           "\"frames_dropped\":%lld,\"frames_skipped\":%lld,\"bad_packets\":%lld,\"bad_frames\":%lld,"
           "\"seconds\":%.3f,\"fps\":%.2f,\"peak_rss_bytes\":%zu,\"planned_bytes\":%zu,\"sessions\":%d,\"drop\":\"%s\",\"live\":%s,\"mode\":\"%s\",\"passes\":%d",
           v->fw, v->fh, (long long)c->decoded, (long long)v->processed, (long long)(v->failed + c->convert_failed),
           (long long)c->dropped, (long long)c->skipped, (long long)v->in.bad_packets, (long long)v->in.bad_frames,
           c->seconds, fps, peak, v->planned, sessions, drop_latest ? "latest" : "none", v->in.live ? "true" : "false", v->o->exact ? "exact" : "fast",
           v->in.passes + 1);
    if (v->have_out) {
        fputs(",\"out\":", stdout);
        ld_json_string(stdout, v->o->out);
        printf(",\"codec\":\"%s\",\"frames_written\":%lld", v->out.codec, (long long)v->out.frames);
    }
    printf(",\"status\":\"%s\"", status);
    if (error && error[0]) {
        fputs(",\"error\":", stdout);
        ld_json_string(stdout, error);
    }
    fputs("}}\n", stdout);
    fflush(stdout);
    fprintf(stderr,
            "leandet video: %s: %lld frames decoded, %lld processed, %lld dropped, %lld skipped; %.1f frames/s; "
            "peak memory %.1f MiB\n",
            v->o->input, (long long)c->decoded, (long long)v->processed, (long long)c->dropped, (long long)c->skipped,
            fps, (double)peak / (1024.0 * 1024.0));
}

/* How the run ended: exit code, status word and message. */
static int outcome(const video_run *v, const counts *c, const char **status, char *msg, size_t n)
{
    msg[0] = '\0';
    int partial = 0;
    *status = "ok";
    if (v->in.read_error[0] && !g_stop) {
        snprintf(msg, n, "%s", v->in.read_error);
        *status = v->in.truncated ? "truncated" : "read error", partial = 1;
    } else if (v->in.bad_packets || v->in.bad_frames) {
        snprintf(msg, n, "%s: corrupt data: %lld packets skipped, %lld frames decoded with errors", v->o->input,
                 (long long)v->in.bad_packets, (long long)v->in.bad_frames);
        *status = "corrupt", partial = 1;
    } else if (v->out_failed) {
        snprintf(msg, n, "%s", v->out_msg);
        *status = "output failed", partial = 1;
    } else if (v->failed || c->convert_failed) {
        snprintf(msg, n, "%lld frames failed", (long long)(v->failed + c->convert_failed));
        *status = "frames failed", partial = 1;
    } else if (g_stop) {
        *status = "interrupted";
    }
    if (c->decoded == 0 && !msg[0])
        snprintf(msg, n, "%s: no video frame could be decoded", v->o->input);
    if (msg[0])
        fprintf(stderr, "leandet video: %s%s\n", partial && v->processed ? "warning: " : "", msg);
    if (v->processed == 0 && (partial || c->decoded == 0)) {
        if (c->decoded == 0)
            *status = "no frames";
        return LD_EXIT_ERROR;
    }
    return partial ? LD_EXIT_PARTIAL : LD_EXIT_OK;
}

static int default_sessions(void)
{
    int n = ld_default_threads();
    return n < 1 ? 1 : (n > 4 ? 4 : n);
}

static int run(video_run *v, const leandet_model *model)
{
    const video_opts *o = v->o;
    char msg[LD_VIDEO_MSG];
    leandet_error err = {0};
    int drop_latest = o->drop >= 0 ? o->drop : v->in.live;
    leandet_pipeline_options po;
    leandet_pipeline_options_default(&po);
    po.sessions = o->threads ? o->threads : default_sessions();
    po.prefetch = o->prefetch >= 0 ? o->prefetch : (drop_latest ? 0 : 2);
    po.detect = o->det;
    po.decode_workers = 1; /* frames arrive decoded: preparing one is a copy */
    po.max_image_pixels = 1;  /* no encoded inputs */
    leandet_tensor_info in;
    if (leandet_model_input_info(model, 0, &in) != LEANDET_OK || in.rank != 4) {
        fprintf(stderr, "leandet video: %s: input 0 is not an image [1,H,W,3]\n", o->model);
        return LD_EXIT_ERROR;
    }
    v->model_w = in.dims[2];
    v->model_h = in.dims[1];
    int slots = po.sessions + po.prefetch;
    /* The plan: process, model, sessions and pipeline as `detect` counts
     * them, and in place of decoded images the frame buffers and what
     * FFmpeg's decoder and encoder hold. */
    size_t frames = video_bytes(v, slots, v->model_w, v->model_h) +
                    ld_video_decoder_bytes(v->in.dec, v->fw, v->fh) +
                    (v->have_out ? ld_video_encoder_bytes(v->fw, v->fh) : 0);
    ld_run_shape shape = {.model = model, .detect = &o->det, .label_bytes = v->label_bytes};
    leandet_plan_report report;
    size_t each = 0; /* all sessions together */
    v->budget.max_memory = o->max_memory;
    if (ld_budget_plan_pipeline(&v->budget, &shape, &po, frames, &report, &each, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet video: %s\n", err.message);
        return err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
    }
    v->planned = report.total_bytes;
    if (o->max_memory) {
        if (!report.fits) {
            ld_budget_print_refusal(stderr, o->model, &report);
            fprintf(stderr, "leandet video: \"images\" are the %d frames in flight (--threads %d, --prefetch %d) "
                            "and FFmpeg's decoder%s; fewer frames%s need less\n", slots, po.sessions, po.prefetch,
                    v->have_out ? " and encoder (--out)" : "", v->have_out ? ", or no --out," : "");
            return LD_EXIT_BUDGET;
        }
        /* the pipeline checks the same plan as it allocates */
        po.max_memory = ld_pipeline_plan_bytes(model, &po) + each;
    }
    leandet_pipeline *p = NULL;
    if (leandet_pipeline_create(model, &po, on_frame, v, &p, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet video: %s\n", err.message);
        return err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
    }
    int rc = LD_EXIT_ERROR;
    if (alloc_buffers(v, leandet_pipeline_slots(p)) != 0) {
        fprintf(stderr, "leandet video: out of memory for frame buffers\n");
        goto done;
    }
    if (v->have_out && ld_vout_open(&v->out, o->out, v->fw, v->fh, v->in.st->time_base, v->in.st->avg_frame_rate,
                                    msg, sizeof msg) != 0) {
        fprintf(stderr, "leandet video: %s\n", msg);
        goto done;
    }
    counts c = {0};
    double t0 = now_s();
    feed(v, p, drop_latest, &c);
    leandet_pipeline_finish(p, NULL); /* the sink has written every frame */
    c.seconds = now_s() - t0;
    const char *status;
    rc = outcome(v, &c, &status, msg, sizeof msg);
    if (v->have_out && ld_vout_close(&v->out, 1, v->out_msg, sizeof v->out_msg) != 0) {
        fprintf(stderr, "leandet video: %s\n", v->out_msg);
        if (rc == LD_EXIT_OK)
            rc = LD_EXIT_PARTIAL;
    }
    print_summary(v, &c, po.sessions, drop_latest, status, msg);
done:
    leandet_pipeline_destroy(p);
    if (v->have_out)
        ld_vout_close(&v->out, 0, msg, sizeof msg); /* no-op after a successful close */
    free_buffers(v);
    return rc;
}

int ld_cmd_video(int argc, char **argv)
{
    video_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != LD_EXIT_OK)
        return rc < 0 ? LD_EXIT_OK : rc;
    g_verbose = o.verbose;
    av_log_set_callback(on_av_log);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the process */
    sigaction(SIGINT, &sa, &old_sa);

    video_run v;
    memset(&v, 0, sizeof v);
    v.o = &o;
    ld_budget_init(&v.budget); /* the resident baseline, before anything is opened */
    ld_alloc label_alloc;
    ld_alloc_init(&label_alloc, NULL);
    ld_labels labels = {0};
    leandet_model *model = NULL;
    leandet_error err = {0};
    char msg[LD_VIDEO_MSG], detail[256];
    rc = LD_EXIT_ERROR;
    if (o.labels && ld_labels_load(o.labels, &label_alloc, &labels, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet video: %s\n", err.message);
        goto done;
    }
    v.labels = o.labels ? &labels : NULL;
    v.label_bytes = label_alloc.current;
    if (leandet_model_open(o.model, NULL, &model, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet video: %s\n", err.message);
        goto done;
    }
    last_log(detail, sizeof detail);
    if (ld_vin_open(&v.in, o.input, o.format, &g_stop, msg, sizeof msg) != 0) {
        last_log(detail, sizeof detail);
        fprintf(stderr, "leandet video: %s%s%s%s\n", msg, detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
        goto done;
    }
    v.in.loops = o.loop - 1; /* 0 (forever) -> -1 */
    if (o.loop != 1 && v.in.live)
        fprintf(stderr, "leandet video: %s: a live source cannot loop; --loop ignored\n", o.input);
    /* Everything is sized on the first frame, which also proves the stream decodes. */
    v.first = av_frame_alloc();
    if (!v.first || !ld_vin_next(&v.in, v.first)) {
        last_log(detail, sizeof detail);
        fprintf(stderr, "leandet video: %s%s%s%s\n", v.in.read_error[0] ? v.in.read_error : o.input,
                v.in.read_error[0] ? "" : ": no video frame could be decoded", detail[0] ? ": " : "", detail);
        goto done;
    }
    v.fw = v.first->width;
    v.fh = v.first->height;
    v.have_out = o.out != NULL;
    rc = run(&v, model);
done:
    av_frame_free(&v.first);
    ld_vin_close(&v.in);
    leandet_model_close(model);
    if (v.labels)
        ld_labels_free(&labels, &label_alloc);
    sigaction(SIGINT, &old_sa, NULL);
    av_log_set_callback(av_log_default_callback);
    return rc;
}

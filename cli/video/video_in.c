/* Video input: demux the best video stream, decode it, convert frames to
 * RGB. How a stream ends is recorded precisely (clean end, read error,
 * file shorter than its own index) so the command can say what happened
 * and keep what it got. */
#include <stdio.h>
#include <string.h>

#include <libavdevice/avdevice.h>
#include <libavutil/pixdesc.h>

#include "video_io.h"

/* Consecutive decoder errors after which the stream is given up: a real
 * stream recovers at the next key frame long before this. */
#define LD_VIN_MAX_ERROR_RUN 500

const char *ld_av_err(int e, char *buf, size_t n)
{
    if (av_strerror(e, buf, n) < 0)
        snprintf(buf, n, "error %d", e);
    return buf;
}

static int interrupted(void *opaque)
{
    return *(volatile sig_atomic_t *)opaque != 0;
}

static int open_decoder(ld_vin *v, const AVCodec *codec, char *msg, size_t n)
{
    char e[128];
    if (!codec) {
        snprintf(msg, n, "%s: no decoder for the video codec '%s'", v->url,
                 avcodec_get_name(v->st->codecpar->codec_id));
        return -1;
    }
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec || avcodec_parameters_to_context(v->dec, v->st->codecpar) < 0) {
        snprintf(msg, n, "%s: out of memory setting up the %s decoder", v->url, codec->name);
        return -1;
    }
    /* One thread: frame threading would hold a frame per thread and
     * compete with inference for the same cores. */
    v->dec->thread_count = 1;
    v->dec->pkt_timebase = v->st->time_base;
    int rc = avcodec_open2(v->dec, codec, NULL);
    if (rc < 0) {
        snprintf(msg, n, "%s: cannot open the %s decoder: %s", v->url, codec->name, ld_av_err(rc, e, sizeof e));
        return -1;
    }
    return 0;
}

int ld_vin_open(ld_vin *v, const char *url, const char *format, volatile sig_atomic_t *stop, char *msg, size_t n)
{
    char e[128];
    memset(v, 0, sizeof *v);
    v->url = url;
    v->stream_index = -1;
    /* Capture devices (v4l2 cameras, lavfi test sources...) are demuxers
     * of libavdevice; registering them is idempotent. A /dev/video path
     * is a camera unless --format says otherwise. */
    avdevice_register_all();
    if (!format && strncmp(url, "/dev/video", 10) == 0)
        format = "v4l2";
    const AVInputFormat *ifmt = NULL;
    if (format && !(ifmt = av_find_input_format(format))) {
        snprintf(msg, n, "%s: unknown input format '%s'", url, format);
        return -1;
    }
    v->fmt = avformat_alloc_context();
    v->pkt = av_packet_alloc();
    if (!v->fmt || !v->pkt) {
        snprintf(msg, n, "%s: out of memory", url);
        return -1;
    }
    if (stop) {
        v->fmt->interrupt_callback.callback = interrupted;
        v->fmt->interrupt_callback.opaque = (void *)stop;
    }
    /* A network source that sends nothing for this long is over (the
     * default is to wait forever). Microseconds. */
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "rw_timeout", "15000000", 0);
    int rc = avformat_open_input(&v->fmt, strcmp(url, "-") == 0 ? "pipe:0" : url, ifmt, &opts);
    av_dict_free(&opts);
    if (rc < 0) {
        snprintf(msg, n, "%s: cannot open: %s", url, ld_av_err(rc, e, sizeof e));
        return -1;
    }
    rc = avformat_find_stream_info(v->fmt, NULL);
    if (rc < 0) {
        snprintf(msg, n, "%s: cannot read stream information: %s", url, ld_av_err(rc, e, sizeof e));
        return -1;
    }
    const AVCodec *codec = NULL;
    rc = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (rc < 0) {
        snprintf(msg, n, "%s: no video stream%s", url, rc == AVERROR_DECODER_NOT_FOUND ? " with a decoder" : "");
        return -1;
    }
    v->stream_index = rc;
    v->st = v->fmt->streams[rc];
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
        if ((int)i != v->stream_index)
            v->fmt->streams[i]->discard = AVDISCARD_ALL; /* no audio demuxing */
    if (open_decoder(v, codec, msg, n) != 0)
        return -1;
    /* Seekable inputs are files (local or served); others are live. stdin
     * is a file read through a pipe. */
    v->live = strcmp(url, "-") != 0 && (!v->fmt->pb || !(v->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL));
    return 0;
}

/* End of input: decide whether it was complete, then drain the decoder. */
static void start_flush(ld_vin *v, int rc)
{
    char e[128];
    int eof = rc == AVERROR_EOF || (v->fmt->pb && avio_feof(v->fmt->pb) && !v->fmt->pb->error);
    if (v->fmt->interrupt_callback.callback && v->fmt->interrupt_callback.callback(v->fmt->interrupt_callback.opaque))
        snprintf(v->read_error, sizeof v->read_error, "%s: interrupted", v->url);
    else if (!eof)
        /* A live source that stops without having said its length (a camera
         * going away, a stream broken off) ends here too: FFmpeg reports EIO. */
        snprintf(v->read_error, sizeof v->read_error, "%s: %s after %lld packets: %s", v->url,
                 v->live ? "the live stream stopped or broke off" : "read error", (long long)v->packets,
                 ld_av_err(rc, e, sizeof e));
    else if (v->st->nb_frames > 0 && v->pass_packets < v->st->nb_frames) {
        /* The container's index (mp4 moov) promised more: the file was cut. */
        v->truncated = 1;
        snprintf(v->read_error, sizeof v->read_error, "%s: truncated: the file ends after %lld of the %lld frames "
                 "its index lists", v->url, (long long)v->pass_packets, (long long)v->st->nb_frames);
    }
    avcodec_send_packet(v->dec, NULL);
    v->flushing = 1;
}

/* --loop: after a clean end of a file, start it again from the top with
 * an empty decoder; timestamps go on from where the last pass ended. */
static int next_pass(ld_vin *v)
{
    if (v->loops == 0 || v->live || v->read_error[0] || v->truncated)
        return 0;
    int64_t start = v->st->start_time != AV_NOPTS_VALUE ? v->st->start_time : 0;
    if (av_seek_frame(v->fmt, v->stream_index, start, AVSEEK_FLAG_BACKWARD) < 0) {
        snprintf(v->read_error, sizeof v->read_error, "%s: cannot seek back to the start to loop", v->url);
        return 0;
    }
    avcodec_flush_buffers(v->dec);
    AVRational fr = v->st->avg_frame_rate.num > 0 ? v->st->avg_frame_rate : v->st->r_frame_rate;
    int64_t frame_ms = fr.num > 0 && fr.den > 0 ? av_rescale_q(1, av_inv_q(fr), (AVRational){1, 1000}) : 0;
    v->pts_offset_ms += v->last_ms + frame_ms;
    v->last_ms = 0;
    v->pass_packets = 0;
    v->flushing = 0;
    v->passes++;
    if (v->loops > 0)
        v->loops--;
    return 1;
}

int ld_vin_next(ld_vin *v, AVFrame *frame)
{
    int error_run = 0;
    while (!v->ended) {
        int rc = avcodec_receive_frame(v->dec, frame);
        if (rc == 0) {
            if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT))
                v->bad_frames++;
            int64_t ms = ld_vin_pts_ms(v, frame, 0) - v->pts_offset_ms;
            v->last_ms = ms > v->last_ms ? ms : v->last_ms;
            return 1;
        }
        if (rc == AVERROR_EOF) {
            if (next_pass(v))
                continue;
            v->ended = 1;
            break;
        }
        if (rc != AVERROR(EAGAIN)) {
            v->bad_packets++; /* this frame is lost; the decoder goes on */
            if (++error_run < LD_VIN_MAX_ERROR_RUN)
                continue;
            snprintf(v->read_error, sizeof v->read_error, "%s: %d decoding errors in a row: giving up", v->url,
                     error_run);
            v->ended = 1;
            break;
        }
        if (v->flushing) { /* a decoder that wants input after the flush packet */
            v->ended = 1;
            break;
        }
        rc = av_read_frame(v->fmt, v->pkt);
        if (rc < 0) {
            start_flush(v, rc);
            continue;
        }
        if (v->pkt->stream_index != v->stream_index) {
            av_packet_unref(v->pkt);
            continue;
        }
        v->packets++;
        v->pass_packets++;
        if (v->pkt->flags & AV_PKT_FLAG_CORRUPT)
            v->bad_packets++; /* still decoded: the decoder conceals what it can */
        rc = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (rc < 0 && rc != AVERROR(EAGAIN)) {
            v->bad_packets++;
            if (++error_run >= LD_VIN_MAX_ERROR_RUN) {
                snprintf(v->read_error, sizeof v->read_error, "%s: %d corrupt packets in a row: giving up", v->url,
                         error_run);
                v->ended = 1;
            }
        } else {
            error_run = 0;
        }
    }
    return 0;
}

void ld_vin_close(ld_vin *v)
{
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    av_packet_free(&v->pkt);
}

int64_t ld_vin_pts_ms(const ld_vin *v, const AVFrame *f, int64_t index)
{
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) {
        AVRational fr = v->st->avg_frame_rate.num > 0 ? v->st->avg_frame_rate : v->st->r_frame_rate;
        return fr.num > 0 && fr.den > 0 ? av_rescale_q(index, av_inv_q(fr), (AVRational){1, 1000}) : -1;
    }
    int64_t start = v->st->start_time != AV_NOPTS_VALUE ? v->st->start_time : 0;
    return v->pts_offset_ms + av_rescale_q(pts - start, v->st->time_base, (AVRational){1, 1000});
}

/* ------------------------------------------------------------------ */
/* RGB conversion                                                       */

/* swscale's SWS_CS_* numbers are the AVColorSpace values of the same
 * matrices; anything it does not know falls back to its default (BT.601). */
static int sws_matrix(enum AVColorSpace cs)
{
    switch (cs) {
    case AVCOL_SPC_BT709:
    case AVCOL_SPC_FCC:
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
    case AVCOL_SPC_SMPTE240M:
    case AVCOL_SPC_BT2020_NCL:
        return (int)cs;
    default:
        return SWS_CS_DEFAULT;
    }
}

static int full_range(const AVFrame *f)
{
    switch (f->format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P:
        return 1;
    default:
        return f->color_range == AVCOL_RANGE_JPEG;
    }
}

int ld_scaler_rgb(ld_scaler *s, const AVFrame *f, uint8_t *dst, int dw, int dh, int flags)
{
    int matrix = sws_matrix(f->colorspace), range = full_range(f);
    if (!s->ctx || s->sw != f->width || s->sh != f->height || s->fmt != f->format || s->dw != dw || s->dh != dh ||
        s->flags != flags || s->matrix != matrix || s->full_range != range) {
        sws_freeContext(s->ctx);
        s->ctx = sws_getContext(f->width, f->height, (enum AVPixelFormat)f->format, dw, dh, AV_PIX_FMT_RGB24, flags,
                                NULL, NULL, NULL);
        if (!s->ctx)
            return -1;
        s->sw = f->width, s->sh = f->height, s->fmt = f->format, s->dw = dw, s->dh = dh, s->flags = flags;
        s->matrix = matrix, s->full_range = range;
        /* Fails harmlessly (no YCbCr) for RGB sources. */
        sws_setColorspaceDetails(s->ctx, sws_getCoefficients(matrix), range, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                 0, 1 << 16, 1 << 16);
    }
    uint8_t *planes[4] = {dst, NULL, NULL, NULL};
    int strides[4] = {dw * 3, 0, 0, 0};
    return sws_scale(s->ctx, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides) == dh ? 0
                                                                                                                : -1;
}

void ld_scaler_free(ld_scaler *s)
{
    sws_freeContext(s->ctx);
    memset(s, 0, sizeof *s);
}

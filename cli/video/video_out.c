/* Annotated video output: RGB frames -> YUV 4:2:0 -> H.264 (libx264) or
 * MPEG-4 part 2 -> the container the file name asks for. Written to
 * <path>.part and renamed when complete, so a failed run never leaves a
 * file that looks finished. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/opt.h>

#include "video_io.h"

static int fail(char *msg, size_t n, const char *path, const char *what, int rc)
{
    char e[128];
    if (rc < 0)
        snprintf(msg, n, "%s: %s: %s", path, what, ld_av_err(rc, e, sizeof e));
    else
        snprintf(msg, n, "%s: %s", path, what);
    return -1;
}

/* libx264 when this FFmpeg has it and the container takes H.264. */
static const AVCodec *pick_encoder(const AVOutputFormat *of)
{
    const AVCodec *c = avcodec_find_encoder_by_name("libx264");
    if (c && avformat_query_codec(of, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1)
        return c;
    return avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

static int setup_encoder(ld_vout *o, const AVCodec *c, int w, int h, AVRational tb, AVRational fps, char *msg,
                         size_t n)
{
    AVCodecContext *e = o->enc = avcodec_alloc_context3(c);
    if (!e)
        return fail(msg, n, o->path, "out of memory", 0);
    e->width = w & ~1; /* 4:2:0 needs even sizes: drop a line rather than pad */
    e->height = h & ~1;
    e->pix_fmt = AV_PIX_FMT_YUV420P;
    /* MPEG-4 part 2 cannot code a time base finer than 1/65535. */
    e->time_base = (c->id == AV_CODEC_ID_MPEG4 && tb.den > 65535) ? (AVRational){1, 1000} : tb;
    if (fps.num > 0 && fps.den > 0)
        e->framerate = fps;
    /* What swscale's RGB -> YUV conversion produces: tell the players. */
    e->colorspace = AVCOL_SPC_SMPTE170M;
    e->color_range = AVCOL_RANGE_MPEG;
    e->thread_count = 1; /* leave the cores to inference */
    if (c->id == AV_CODEC_ID_H264) {
        av_opt_set(e->priv_data, "preset", "veryfast", 0);
        av_opt_set(e->priv_data, "crf", "23", 0);
        /* No lookahead nor B-frames: x264 then holds ~10 frames instead of
         * ~45 (at 1080p 37 MB instead of 153 MB), and frames leave at once. */
        av_opt_set(e->priv_data, "tune", "zerolatency", 0);
    } else {
        e->flags |= AV_CODEC_FLAG_QSCALE;
        e->global_quality = FF_QP2LAMBDA * 4;
    }
    if (o->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int rc = avcodec_open2(e, c, NULL);
    if (rc < 0)
        return fail(msg, n, o->path, c->name, rc);
    return 0;
}

int ld_vout_open(ld_vout *o, const char *path, int w, int h, AVRational tb, AVRational fps, char *msg, size_t n)
{
    memset(o, 0, sizeof *o);
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.part", path);
    if (w < 2 || h < 2)
        return fail(msg, n, path, "frames are too small to encode", 0);
    const AVOutputFormat *of = av_guess_format(NULL, path, NULL);
    if (!of)
        return fail(msg, n, path, "unknown video container (use .mp4, .mkv, .mov or .avi)", 0);
    int rc = avformat_alloc_output_context2(&o->fmt, of, NULL, o->tmp);
    if (rc < 0)
        return fail(msg, n, path, "cannot set up the container", rc);
    const AVCodec *c = pick_encoder(of);
    if (!c)
        return fail(msg, n, path, "this FFmpeg has neither an H.264 nor an MPEG-4 encoder", 0);
    o->codec = c->name;
    if (setup_encoder(o, c, w, h, tb, fps, msg, n) != 0)
        return -1;
    o->st = avformat_new_stream(o->fmt, NULL);
    if (!o->st || avcodec_parameters_from_context(o->st->codecpar, o->enc) < 0)
        return fail(msg, n, path, "out of memory", 0);
    o->st->time_base = o->enc->time_base;
    if (!(of->flags & AVFMT_NOFILE) && (rc = avio_open(&o->fmt->pb, o->tmp, AVIO_FLAG_WRITE)) < 0)
        return fail(msg, n, o->tmp, "cannot create", rc);
    /* MP4/MOV keep an index entry per frame in memory until the end, a
     * leak in all but name on a long run (10,000 frames: +0.8 MB). Written
     * fragmented, a fragment per keyframe interval, the index leaves with
     * each fragment: memory stays flat, and a run cut short still leaves a
     * playable file. Players and ffprobe read fragmented MP4 as any MP4. */
    AVDictionary *opts = NULL;
    if (strstr(of->name, "mp4") || strstr(of->name, "mov"))
        av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
    rc = avformat_write_header(o->fmt, &opts);
    av_dict_free(&opts);
    if (rc < 0)
        return fail(msg, n, path, "cannot write the header", rc);
    o->yuv = av_frame_alloc();
    o->pkt = av_packet_alloc();
    if (!o->yuv || !o->pkt)
        return fail(msg, n, path, "out of memory", 0);
    o->yuv->format = AV_PIX_FMT_YUV420P;
    o->yuv->width = o->enc->width;
    o->yuv->height = o->enc->height;
    if ((rc = av_frame_get_buffer(o->yuv, 0)) < 0)
        return fail(msg, n, path, "cannot allocate a frame", rc);
    o->src_w = w;
    o->src_h = h;
    o->in_tb = tb;
    o->last_pts = INT64_MIN;
    o->frame_dur = fps.num > 0 && fps.den > 0 ? av_rescale_q(1, av_inv_q(fps), o->enc->time_base) : 1;
    if (o->frame_dur < 1)
        o->frame_dur = 1;
    return 0;
}

/* Move every packet the encoder has ready into the file. */
static int drain(ld_vout *o, char *msg, size_t n)
{
    for (;;) {
        int rc = avcodec_receive_packet(o->enc, o->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0)
            return fail(msg, n, o->path, "encoding failed", rc);
        /* The muxer needs the last frame's duration or it cuts that frame
         * (mp4 edit list): the latest interval between frames stands in. */
        if (o->pkt->duration <= 0)
            o->pkt->duration = o->frame_dur;
        av_packet_rescale_ts(o->pkt, o->enc->time_base, o->st->time_base);
        o->pkt->stream_index = o->st->index;
        rc = av_interleaved_write_frame(o->fmt, o->pkt); /* takes the packet */
        if (rc < 0)
            return fail(msg, n, o->path, "cannot write", rc);
    }
}

int ld_vout_write_rgb(ld_vout *o, const uint8_t *rgb, int64_t pts, char *msg, size_t n)
{
    int rc = av_frame_make_writable(o->yuv);
    if (rc < 0)
        return fail(msg, n, o->path, "cannot get a frame buffer", rc);
    o->to_yuv = sws_getCachedContext(o->to_yuv, o->src_w, o->src_h, AV_PIX_FMT_RGB24, o->yuv->width, o->yuv->height,
                                     AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!o->to_yuv)
        return fail(msg, n, o->path, "cannot set up the RGB to YUV conversion", 0);
    const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
    int stride[4] = {o->src_w * 3, 0, 0, 0};
    sws_scale(o->to_yuv, src, stride, 0, o->src_h, o->yuv->data, o->yuv->linesize);
    pts = av_rescale_q(pts, o->in_tb, o->enc->time_base);
    if (o->last_pts != INT64_MIN && pts <= o->last_pts)
        pts = o->last_pts + 1; /* encoders need strictly increasing timestamps */
    if (o->last_pts != INT64_MIN)
        o->frame_dur = pts - o->last_pts;
    o->last_pts = pts;
    o->yuv->pts = pts;
    rc = avcodec_send_frame(o->enc, o->yuv);
    if (rc < 0)
        return fail(msg, n, o->path, "encoding failed", rc);
    o->frames++;
    return drain(o, msg, n);
}

int ld_vout_close(ld_vout *o, int keep, char *msg, size_t n)
{
    int rc = 0;
    if (o->enc && avcodec_is_open(o->enc) && o->fmt && o->fmt->pb) {
        avcodec_send_frame(o->enc, NULL);
        rc = drain(o, msg, n);
        int t = av_write_trailer(o->fmt);
        if (rc == 0 && t < 0)
            rc = fail(msg, n, o->path, "cannot finish the file", t);
    }
    int had_file = o->fmt && o->fmt->pb;
    if (o->fmt && !(o->fmt->oformat->flags & AVFMT_NOFILE))
        avio_closep(&o->fmt->pb);
    avformat_free_context(o->fmt);
    avcodec_free_context(&o->enc);
    av_frame_free(&o->yuv);
    av_packet_free(&o->pkt);
    sws_freeContext(o->to_yuv);
    o->fmt = NULL;
    o->to_yuv = NULL;
    if (had_file) {
        if (keep && rc == 0 && o->frames > 0) {
            if (rename(o->tmp, o->path) != 0)
                rc = fail(msg, n, o->path, "cannot move the finished file into place", 0);
        } else {
            unlink(o->tmp);
        }
    }
    return rc;
}

/* Video through FFmpeg's libraries for `leandet video`: a demuxer+decoder
 * that yields frames and says precisely how a stream ended, RGB conversion
 * with swscale, and an encoder+muxer for the annotated output. Messages go
 * into the caller's buffer and always name the input or output. */
#ifndef LD_CLI_VIDEO_IO_H
#define LD_CLI_VIDEO_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#define LD_VIDEO_MSG 512

/* ---- Input ----------------------------------------------------------- */

typedef struct ld_vin {
    const char *url;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVStream *st;
    AVPacket *pkt;
    int stream_index;
    int live;                    /* not seekable (network stream, device): drop frames by default */
    int flushing, ended;
    int64_t packets;             /* packets of the video stream read */
    int64_t pass_packets;        /* ... in this pass over the file (--loop) */
    int loops;                   /* passes left after this one (-1: forever); files only */
    int passes;                  /* passes started */
    int64_t pts_offset_ms;       /* added to timestamps: the passes before this one */
    int64_t last_ms;             /* latest timestamp returned (before the offset) */
    int64_t bad_packets;         /* refused by the decoder or flagged corrupt by the demuxer */
    int64_t bad_frames;          /* decoded with errors (concealed) */
    int truncated;               /* the file ended before the frames its index announces */
    char read_error[LD_VIDEO_MSG]; /* why reading stopped early ("" if it did not) */
} ld_vin;

/* Open `url` ("-" is stdin), find the best video stream and its decoder.
 * `format` forces a demuxer (NULL: probe). `stop` (may be NULL) aborts
 * blocking network I/O when it becomes non-zero. 0 or -1 with msg set. */
int ld_vin_open(ld_vin *v, const char *url, const char *format, volatile sig_atomic_t *stop, char *msg, size_t n);

/* The next decoded frame: 1 (frame filled), 0 (no more frames: end of
 * stream, or an error recorded in read_error/truncated). Corrupt packets
 * are counted and skipped. */
int ld_vin_next(ld_vin *v, AVFrame *frame);

void ld_vin_close(ld_vin *v);

/* Presentation time of a decoded frame in milliseconds from the stream's
 * start; frames without a timestamp get index / frame rate. With --loop,
 * later passes continue after the end of the previous one. */
int64_t ld_vin_pts_ms(const ld_vin *v, const AVFrame *f, int64_t index);

/* ---- Conversion ------------------------------------------------------ */

/* A cached frame -> packed RGB24 converter. The frame's own YCbCr matrix
 * and range are applied, as FFmpeg's scale filter does ("auto"), so a
 * same-size conversion with SWS_BICUBIC gives the pixels `ffmpeg -i V
 * frame.png` writes. */
typedef struct ld_scaler {
    struct SwsContext *ctx;
    int sw, sh, fmt, dw, dh, flags, matrix, full_range;
} ld_scaler;

/* Convert `f` to dw x dh RGB24 at `dst` (stride dw*3). 0 or -1. */
int ld_scaler_rgb(ld_scaler *s, const AVFrame *f, uint8_t *dst, int dw, int dh, int flags);
void ld_scaler_free(ld_scaler *s);

/* ---- Output ---------------------------------------------------------- */

typedef struct ld_vout {
    char path[4096], tmp[4200];
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *yuv;
    AVPacket *pkt;
    struct SwsContext *to_yuv;
    AVRational in_tb;            /* timestamps given to write */
    int src_w, src_h;            /* RGB frames given to write */
    int64_t last_pts;
    int64_t frame_dur;           /* latest interval between frames (encoder time base) */
    int64_t frames;
    const char *codec;           /* "libx264" or "mpeg4" */
} ld_vout;

/* Create `path` (written to path.part, renamed by close) for w x h RGB
 * frames with timestamps in `tb`; `fps` is a hint for rate control (0/0:
 * unknown). H.264 (libx264) when FFmpeg has it, else MPEG-4 part 2. */
int ld_vout_open(ld_vout *o, const char *path, int w, int h, AVRational tb, AVRational fps, char *msg, size_t n);

/* Encode one RGB24 frame (src_w x src_h, packed) at `pts` (in tb; forced
 * increasing). */
int ld_vout_write_rgb(ld_vout *o, const uint8_t *rgb, int64_t pts, char *msg, size_t n);

/* Flush, write the trailer and move the file into place; with keep == 0
 * (or after a failure) the partial file is removed. Safe on a zeroed or
 * failed ld_vout. 0 or -1 with msg. */
int ld_vout_close(ld_vout *o, int keep, char *msg, size_t n);

/* FFmpeg's error text for `e`. */
const char *ld_av_err(int e, char *buf, size_t n);

#endif

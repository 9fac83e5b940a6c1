/* Memory FFmpeg holds for a video run (video_budget.c). */
#ifndef LD_CLI_VIDEO_BUDGET_H
#define LD_CLI_VIDEO_BUDGET_H

#include <stddef.h>

#include <libavcodec/avcodec.h>

/* Calibrated on H.264 streams of 320x180 to 1920x1080 (the two shared
 * videos and scaled re-encodes of one, x264 medium: 3 references, B-frames):
 * measured peaks minus every other category of the plan, fitted as code +
 * frames x padded frame bytes, rounded up. Decoder: 5.9-7 MB + 5.3 frames;
 * encoder (libx264 veryfast, zerolatency, one thread): 3.1 MB + 10.1 frames
 * (x264 keeps half-pel and lowres planes beside each frame). */
#define LD_VIDEO_DECODER_CODE_BYTES ((size_t)7 << 20)
#define LD_VIDEO_DECODER_MIN_FRAMES 6
#define LD_VIDEO_ENCODER_CODE_BYTES ((size_t)7 << 19)
#define LD_VIDEO_ENCODER_FRAMES 11

/* The decoder of a w x h stream: its frame pool and code. */
size_t ld_video_decoder_bytes(const AVCodecContext *dec, int w, int h);

/* The annotated output's encoder (libx264 veryfast, one thread, or MPEG-4). */
size_t ld_video_encoder_bytes(int w, int h);

#endif

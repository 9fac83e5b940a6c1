/* What FFmpeg holds for `leandet video` beyond leandet's own buffers, for
 * the run's memory plan: the decoder's frame pool and the encoder's frames,
 * plus the code pages of the codec libraries a run touches after start.
 * FFmpeg allocates these itself (no allocator hook reaches libx264 or the
 * H.264 decoder's buffer pool), so they are estimated from the stream's
 * parameters and calibrated against measured peaks (bench/memory.py
 * --video; see the README's memory section). */
#include "video_budget.h"

/* One planar 4:2:0 frame as FFmpeg's pools allocate it: rows padded to 64
 * bytes and a border of 32 lines/pixels for motion vectors that point
 * outside the picture (FFmpeg's EDGE_WIDTH, x264's PADH/PADV). */
static size_t yuv_frame_bytes(int w, int h)
{
    size_t pw = ((size_t)w + 64 + 63) / 64 * 64, ph = (size_t)h + 64;
    return pw * ph * 3 / 2;
}

size_t ld_video_decoder_bytes(const AVCodecContext *dec, int w, int h)
{
    /* The reference frames the stream may keep, the reordering delay and
     * the frame being decoded: at least what the calibration measured with
     * 3 references and B-frames; streams that declare more get more.
     * H.264 allows up to 16 references. */
    int refs = dec && dec->refs > 0 ? dec->refs : 4;
    int delay = dec && dec->has_b_frames > 0 ? dec->has_b_frames : 0;
    if (refs > 16)
        refs = 16;
    int frames = refs + delay + 1;
    if (frames < LD_VIDEO_DECODER_MIN_FRAMES)
        frames = LD_VIDEO_DECODER_MIN_FRAMES;
    return LD_VIDEO_DECODER_CODE_BYTES + (size_t)frames * yuv_frame_bytes(w, h);
}

size_t ld_video_encoder_bytes(int w, int h)
{
    return LD_VIDEO_ENCODER_CODE_BYTES + (size_t)LD_VIDEO_ENCODER_FRAMES * yuv_frame_bytes(w, h);
}

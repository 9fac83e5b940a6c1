/* libFuzzer target: the image decoders from memory (sniff, probe, decode,
 * JPEG scaled decode), then preprocessing and drawing on what decoded.
 * Build: cmake -DLEANDET_FUZZ=ON -DCMAKE_C_COMPILER=clang; run e.g.
 *   ./fuzz_image -max_len=65536 -rss_limit_mb=2048 corpus/
 * with a few small JPEG/PNG/BMP/PPM files as the seed corpus. */
#include <stdint.h>
#include <stdlib.h>

#include "image/draw.h"
#include "image/image.h"
#include "image/preprocess.h"

/* Images bigger than this are probed but not decoded, to keep each run
 * fast; the size limits themselves are exercised by the probe. */
#define FUZZ_MAX_PIXELS (1u << 22)

static void use_image(leandet_image *im)
{
    static const leandet_resize_mode modes[2] = {LEANDET_RESIZE_STRETCH, LEANDET_RESIZE_LETTERBOX};
    uint8_t u8[17 * 13 * 3];
    float f32[17 * 13 * 3];
    ld_preprocess p;
    ld_letterbox t;
    leandet_error err;
    for (int m = 0; m < 2; m++) {
        ld_preprocess_init(&p, 17, 13, LEANDET_UINT8, modes[m]);
        ld_preprocess_image(im, &p, u8, sizeof u8, &t, &err);
        ld_preprocess_init(&p, 17, 13, LEANDET_FLOAT32, modes[m]);
        ld_preprocess_image(im, &p, f32, sizeof f32, &t, &err);
    }
    leandet_detection d = {3, 0.5f, {0.1f, 0.2f, 0.9f, 0.8f}};
    ld_draw_detection(im, &d, "fuzz");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ld_image_info info;
    leandet_error err;
    if (ld_image_probe("fuzz", data, size, &info, &err) != LEANDET_OK)
        return 0;
    if ((uint64_t)info.width * (uint64_t)info.height > FUZZ_MAX_PIXELS)
        return 0;
    int denoms[2] = {1, info.format == LD_IMAGE_JPEG ? 4 : 0};
    for (int i = 0; i < 2 && denoms[i]; i++) {
        leandet_image im;
        if (ld_image_decode_mem("fuzz", data, size, denoms[i], NULL, &im, &err) == LEANDET_OK) {
            use_image(&im);
            leandet_image_free(&im);
        }
    }
    return 0;
}

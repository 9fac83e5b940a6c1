/* User anchor parameters: presets by name, overrides, full specs, errors;
 * and a detector built from a spec equal to the one from the preset. */
#include <string.h>

#include "detect/anchor_spec.h"
#include "harness.h"
#include "leandet.h"

static int count_of(const ld_mediapipe_params *m)
{
    int n = -1;
    leandet_error err;
    ld_anchors_count(&m->anchors, &n, &err);
    return n;
}

int main(void)
{
    leandet_error err = {0};
    ld_mediapipe_params m;
    CHECK(ld_anchor_spec_parse("palm-192", 192, 192, &m, &err) == LEANDET_OK);
    CHECK(count_of(&m) == 2016);
    CHECK(ld_anchor_spec_parse("preset=blazeface-128,min_score=0.7", 128, 128, &m, &err) == LEANDET_OK);
    CHECK(count_of(&m) == 896 && m.min_score > 0.69f && m.min_score < 0.71f);
    /* BlazeFace written out in full: same 896 anchors as the preset */
    CHECK_MSG(ld_anchor_spec_parse("strides=8:16:16:16,min_scale=0.1484375,max_scale=0.75,interpolated=1,fixed_size=1",
                                   128, 128, &m, &err) == LEANDET_OK, "%s", err.message);
    CHECK(count_of(&m) == 896 && m.x_scale == 128.0f);
    CHECK(ld_anchor_spec_parse("strides=8:16,scale=256", 256, 256, &m, &err) == LEANDET_OK);
    CHECK(m.w_scale == 256.0f && m.anchors.num_layers == 2);

    const char *bad[] = {"nosuch", "strides=", "strides=8:x", "min_scale=1:2", "colour=3", "preset=", "strides=0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        leandet_status st = ld_anchor_spec_parse(bad[i], 128, 128, &m, &err);
        CHECK_MSG(st != LEANDET_OK && strstr(err.message, "anchors"), "'%s' -> %d %s", bad[i], st, err.message);
    }

    /* Through the public API: a spec equal to the preset gives the same faces. */
    char path[1024], img_path[1024];
    leandet_model *model = NULL;
    leandet_session *s = NULL;
    leandet_image img = {0};
    if (leandet_model_open(ld_test_model("face_detection_front.tflite", path, sizeof path), NULL, &model, &err) ==
            LEANDET_OK &&
        leandet_session_create(model, NULL, &s, &err) == LEANDET_OK &&
        leandet_image_load(ld_test_image("face.jpg", img_path, sizeof img_path), &img, &err) == LEANDET_OK) {
        leandet_detection a[16], b[16];
        int na = 0, nb = 0;
        leandet_detect_options o;
        leandet_detect_options_default(&o);
        leandet_detector *d = NULL;
        CHECK(leandet_detector_create(s, &o, &d, &err) == LEANDET_OK);
        CHECK(leandet_detector_run(d, &img, a, 16, &na, &err) == LEANDET_OK);
        leandet_detector_destroy(d);
        o.anchors = "strides=8:16:16:16,min_scale=0.1484375,max_scale=0.75,interpolated=1,fixed_size=1,clip=100,"
                    "nms_iou=0.3,weighted=1";
        CHECK_MSG(leandet_detector_create(s, &o, &d, &err) == LEANDET_OK, "%s", err.message);
        CHECK(leandet_detector_run(d, &img, b, 16, &nb, &err) == LEANDET_OK);
        leandet_detector_destroy(d);
        CHECK_MSG(na == 3 && na == nb && memcmp(a, b, sizeof a[0] * (size_t)na) == 0, "%d vs %d faces", na, nb);
        o.anchors = "strides=8:16,fixed_size=1"; /* 512+128*2... anchors: does not match 896 outputs */
        CHECK(leandet_detector_create(s, &o, &d, &err) != LEANDET_OK);
    } else {
        CHECK_MSG(0, "setup: %s", err.message);
    }
    leandet_image_free(&img);
    leandet_session_destroy(s);
    leandet_model_close(model);
    return ld_test_finish();
}

/* Tiled detection: option checks, grid geometry, box mapping, the merge,
 * the crop variant of preprocessing, and a tiled run of a real model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/tile.h"
#include "harness.h"
#include "image/preprocess.h"
#include "leandet.h"

static leandet_tile_options grid(int rows, int cols, float overlap, int px)
{
    return (leandet_tile_options){.rows = rows, .cols = cols, .overlap = overlap, .overlap_px = px,
                                  .no_whole_view = 0};
}

static void test_check(void)
{
    leandet_tile_options off = {.rows = 0, .cols = 0, .overlap = 0.0f, .overlap_px = 0, .no_whole_view = 0};
    leandet_error err = {0};
    CHECK(!ld_tile_enabled(&off));
    CHECK(ld_tile_check(&off, &err) == LEANDET_OK);
    CHECK(ld_tile_views(&off) == 1);
    leandet_tile_options t = grid(2, 3, 0.1f, 0);
    CHECK(ld_tile_check(&t, &err) == LEANDET_OK);
    CHECK(ld_tile_views(&t) == 7);
    t.no_whole_view = 1;
    CHECK(ld_tile_views(&t) == 6);
    const leandet_tile_options bad[] = {
        grid(1, 1, 0.1f, 0), grid(0, 2, 0.1f, 0), grid(17, 2, 0.1f, 0), grid(2, 100, 0.1f, 0),
        grid(2, 2, 1.0f, 0), grid(2, 2, -0.1f, 0), grid(2, 2, NAN, 0), grid(2, 2, 0.1f, -1),
        grid(2, 2, 0.1f, LD_TILE_MAX_OVERLAP_PX + 1),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.message[0] = '\0';
        CHECK_MSG(ld_tile_check(&bad[i], &err) == LEANDET_ERR_ARGUMENT, "case %zu", i);
        CHECK_MSG(strstr(err.message, "tile") != NULL, "case %zu: '%s'", i, err.message);
    }
}

/* Every tile lies inside the image, the grid covers it, neighbours overlap
 * by the requested amount (within rounding), the ends touch the edges. */
static void check_grid(const leandet_tile_options *t, int w, int h, int want_overlap_x)
{
    unsigned char *covered = calloc((size_t)w * (size_t)h, 1);
    if (!covered) {
        CHECK(0);
        return;
    }
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < t->cols; c++) {
            ld_tile_rect q;
            ld_tile_rect_at(t, w, h, r, c, &q);
            CHECK(q.x >= 0 && q.y >= 0 && q.w >= 1 && q.h >= 1 && q.x + q.w <= w && q.y + q.h <= h);
            if (c == 0)
                CHECK(q.x == 0);
            if (c == t->cols - 1)
                CHECK(q.x + q.w == w);
            if (c > 0) {
                ld_tile_rect prev;
                ld_tile_rect_at(t, w, h, r, c - 1, &prev);
                int ov = prev.x + prev.w - q.x;
                CHECK_MSG(abs(ov - want_overlap_x) <= 2, "overlap %d want %d", ov, want_overlap_x);
            }
            for (int y = q.y; y < q.y + q.h; y++)
                memset(covered + (size_t)y * (size_t)w + (size_t)q.x, 1, (size_t)q.w);
        }
    size_t holes = 0;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        holes += !covered[i];
    CHECK_MSG(holes == 0, "%zu pixels in no tile", holes);
    free(covered);
}

static void test_grid(void)
{
    leandet_tile_options t = grid(2, 2, 0.0f, 0);
    ld_tile_rect q;
    ld_tile_rect_at(&t, 3840, 2160, 1, 1, &q);
    CHECK(q.x == 1920 && q.y == 1080 && q.w == 1920 && q.h == 1080);
    check_grid(&t, 3840, 2160, 0);
    /* fraction 0.2: tile = 3840 / (2 - 0.2) = 2134 (ceil), overlap 0.2 of it */
    t = grid(2, 2, 0.2f, 0);
    ld_tile_rect_at(&t, 3840, 2160, 0, 0, &q);
    CHECK(q.w == 2134);
    check_grid(&t, 3840, 2160, 2 * 2134 - 3840);
    t = grid(3, 4, 0.1f, 0);
    check_grid(&t, 3840, 2160, (int)lround(0.1 * ceil(3840 / (4 - 3 * 0.1))));
    t = grid(2, 3, 0.0f, 64);
    check_grid(&t, 1281, 721, 64);
    /* tiles never exceed the image, even with more overlap than it has */
    t = grid(2, 2, 0.0f, 5000);
    ld_tile_rect_at(&t, 300, 200, 1, 1, &q);
    CHECK(q.x == 0 && q.y == 0 && q.w == 300 && q.h == 200);
    /* more tiles than pixels: each at least one pixel, still inside */
    t = grid(16, 16, 0.5f, 0);
    check_grid(&t, 5, 3, 1);
}

static void test_map(void)
{
    ld_tile_rect r = {.x = 100, .y = 50, .w = 200, .h = 100};
    float in[4] = {0.5f, 0.25f, 0.75f, 0.5f}, out[4];
    int cut = ld_tile_map_box(&r, 400, 200, in, out);
    CHECK(!cut);
    CHECK(fabsf(out[0] - 0.5f) < 1e-6f && fabsf(out[1] - 0.375f) < 1e-6f);
    CHECK(fabsf(out[2] - 0.625f) < 1e-6f && fabsf(out[3] - 0.5f) < 1e-6f);
    /* touching the tile's left side, inside the image: cut */
    float left[4] = {0.2f, 0.0f, 0.4f, 0.3f};
    CHECK(ld_tile_map_box(&r, 400, 200, left, out));
    /* the same side on the image's own edge: not cut */
    ld_tile_rect edge = {.x = 0, .y = 50, .w = 200, .h = 100};
    CHECK(!ld_tile_map_box(&edge, 400, 200, left, out));
    float bottom[4] = {0.6f, 0.4f, 1.0f, 0.6f};
    CHECK(!ld_tile_map_box(&edge, 400, 150, bottom, out)); /* tile ends at the image bottom */
    CHECK(ld_tile_map_box(&edge, 400, 200, bottom, out));
}

static leandet_detection det(int cls, float score, float y0, float x0, float y1, float x1)
{
    return (leandet_detection){.class_id = cls, .score = score, .box = {y0, x0, y1, x1}};
}

static void test_merge(void)
{
    leandet_detection cand[6], out[6];
    uint8_t cut[6];
    unsigned char scratch[256];
    CHECK(ld_nms_scratch_bytes(6) <= sizeof scratch);
    /* 0: whole-view box of an object; 1: a tile's piece of it, cut at an
     * inner border, scoring higher (IoU with 0 is 0.5: NMS alone keeps it);
     * 2: the same object again from another tile, scoring lower (IoU 0.95); 3: another
     * class at the same place; 4: a small object inside object 0 of the
     * same class, not cut (a real detection); 5: a cut piece no larger box
     * covers (kept). */
    cand[0] = det(1, 0.6f, 0.1f, 0.1f, 0.5f, 0.5f);
    cand[1] = det(1, 0.9f, 0.1f, 0.1f, 0.5f, 0.3f);
    cand[2] = det(1, 0.58f, 0.1f, 0.1f, 0.48f, 0.5f);
    cand[3] = det(2, 0.5f, 0.1f, 0.1f, 0.5f, 0.5f);
    cand[4] = det(1, 0.8f, 0.2f, 0.2f, 0.3f, 0.3f);
    cand[5] = det(1, 0.55f, 0.7f, 0.7f, 0.9f, 0.8f);
    uint8_t flags[6] = {0, 1, 0, 0, 0, 1};
    memcpy(cut, flags, sizeof cut);
    int n = ld_tile_merge(cand, cut, 6, 0.5f, 0, 6, scratch, out);
    CHECK_MSG(n == 4, "kept %d", n);
    /* by score: the small object, the whole object, class 2... */
    int found_whole = 0, found_small = 0, found_other = 0, found_lone = 0;
    for (int i = 0; i < n; i++) {
        found_whole += out[i].class_id == 1 && out[i].score == 0.6f;
        found_small += out[i].class_id == 1 && out[i].score == 0.8f;
        found_other += out[i].class_id == 2;
        found_lone += out[i].score == 0.55f;
        CHECK(out[i].score != 0.9f && out[i].score != 0.58f);
        if (i)
            CHECK(out[i - 1].score >= out[i].score);
    }
    CHECK(found_whole == 1 && found_small == 1 && found_other == 1 && found_lone == 1);
    /* the cap */
    cand[0] = det(0, 0.9f, 0.0f, 0.0f, 0.1f, 0.1f);
    cand[1] = det(0, 0.8f, 0.5f, 0.5f, 0.6f, 0.6f);
    memset(cut, 0, sizeof cut);
    CHECK(ld_tile_merge(cand, cut, 2, 0.5f, 0, 1, scratch, out) == 1 && out[0].score == 0.9f);
    CHECK(ld_tile_merge(cand, cut, 0, 0.5f, 0, 1, scratch, out) == 0);
}

/* A crop preprocessed in place equals the same pixels copied out first. */
static void test_crop(void)
{
    enum { W = 97, H = 61, X = 13, Y = 7, CW = 50, CH = 33 };
    static uint8_t px[W * H * 3], sub[CW * CH * 3];
    for (int i = 0; i < W * H * 3; i++)
        px[i] = (uint8_t)(i * 7 + i / 5);
    for (int y = 0; y < CH; y++)
        memcpy(sub + (size_t)y * CW * 3, px + ((size_t)(Y + y) * W + X) * 3, CW * 3);
    leandet_image img = {.width = W, .height = H, .pixels = px}, part = {.width = CW, .height = CH, .pixels = sub};
    for (int mode = LEANDET_RESIZE_STRETCH; mode <= LEANDET_RESIZE_LETTERBOX; mode++) {
        ld_preprocess p;
        ld_preprocess_init(&p, 32, 24, LEANDET_FLOAT32, (leandet_resize_mode)mode);
        static float a[32 * 24 * 3], b[32 * 24 * 3];
        ld_letterbox xa, xb;
        leandet_error err = {0};
        CHECK(ld_preprocess_crop(&img, X, Y, CW, CH, &p, a, sizeof a, &xa, &err) == LEANDET_OK);
        CHECK(ld_preprocess_image(&part, &p, b, sizeof b, &xb, &err) == LEANDET_OK);
        CHECK(memcmp(a, b, sizeof a) == 0);
        CHECK(memcmp(&xa, &xb, sizeof xa) == 0);
        CHECK(ld_preprocess_crop(&img, X, Y, W, CH, &p, a, sizeof a, &xa, &err) == LEANDET_ERR_ARGUMENT);
        CHECK(ld_preprocess_crop(&img, -1, 0, 5, 5, &p, a, sizeof a, &xa, &err) == LEANDET_ERR_ARGUMENT);
        CHECK(ld_preprocess_crop(&img, 0, 0, 0, 5, &p, a, sizeof a, &xa, &err) == LEANDET_ERR_ARGUMENT);
    }
}

/* A real model: a 2x2 tiled run reports 5 views, its boxes lie in the
 * image, and the prepared-tensor path refuses a tiling detector. */
static void test_run(void)
{
    char mp[1024], ip[1024];
    leandet_error err = {0};
    leandet_model *m = NULL;
    leandet_session *s = NULL;
    leandet_detector *d = NULL;
    leandet_image img = {0};
    if (leandet_model_open(ld_test_model("ssd_mobilenet_v1_coco_quant.tflite", mp, sizeof mp), NULL, &m, &err) ||
        leandet_session_create(m, NULL, &s, &err) ||
        leandet_image_load(ld_test_image("cat_720p.jpg", ip, sizeof ip), &img, &err)) {
        CHECK_MSG(0, "%s", err.message);
        goto done;
    }
    leandet_detect_options o;
    leandet_detect_options_default(&o);
    CHECK(o.tile.rows == 0 && o.tile.overlap == 0.1f);
    o.tile = grid(2, 17, 0.1f, 0);
    CHECK(leandet_detector_create(s, &o, &d, &err) == LEANDET_ERR_ARGUMENT && !d);
    o.tile = grid(2, 2, 0.1f, 0);
    o.score_threshold = 0.3f;
    if (leandet_detector_create(s, &o, &d, &err)) {
        CHECK_MSG(0, "%s", err.message);
        goto done;
    }
    CHECK(leandet_detector_views(d) == 0);
    leandet_detection out[100];
    int n = -1;
    CHECK(leandet_detector_run(d, &img, out, 100, &n, &err) == LEANDET_OK);
    CHECK(leandet_detector_views(d) == 5);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            CHECK(out[i].box[k] >= 0.0f && out[i].box[k] <= 1.0f);
done:
    leandet_image_free(&img);
    leandet_detector_destroy(d);
    leandet_session_destroy(s);
    leandet_model_close(m);
}

int main(void)
{
    test_check();
    test_grid();
    test_map();
    test_merge();
    test_crop();
    test_run();
    return ld_test_finish();
}

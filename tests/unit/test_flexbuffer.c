/* FlexBuffer reader: hand-built buffers for every width and scalar type,
 * malformed headers, and the real custom options of the SSD model with
 * every truncation and many corruptions (run under ASan in CI: the point
 * is that nothing reads outside the buffer). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/flexbuffer.h"

/* custom_options of the TFLite_Detection_PostProcess op (operator 63) in
 * ssd_mobilenet_v1_coco_quant.tflite, extracted with the flatbuffers
 * Python package (schema_py_generated, Operator.CustomOptionsAsNumpy).
 * Python's flexbuffers.Loads reads it as: _output_quantized True,
 * h_scale 5.0, max_classes_per_detection 1, max_detections 10,
 * nms_iou_threshold 0.6000000238418579, nms_score_threshold
 * 9.99999993922529e-09, num_classes 90, w_scale 5.0, x_scale 10.0,
 * y_scale 10.0. */
static const uint8_t ssd_options[217] = {
    0x79, 0x5f, 0x73, 0x63, 0x61, 0x6c, 0x65, 0x00, 0x5f, 0x6f, 0x75, 0x74, 0x70, 0x75, 0x74, 0x5f, 0x71, 0x75,
    0x61, 0x6e, 0x74, 0x69, 0x7a, 0x65, 0x64, 0x00, 0x6d, 0x61, 0x78, 0x5f, 0x64, 0x65, 0x74, 0x65, 0x63, 0x74,
    0x69, 0x6f, 0x6e, 0x73, 0x00, 0x6e, 0x6d, 0x73, 0x5f, 0x73, 0x63, 0x6f, 0x72, 0x65, 0x5f, 0x74, 0x68, 0x72,
    0x65, 0x73, 0x68, 0x6f, 0x6c, 0x64, 0x00, 0x77, 0x5f, 0x73, 0x63, 0x61, 0x6c, 0x65, 0x00, 0x78, 0x5f, 0x73,
    0x63, 0x61, 0x6c, 0x65, 0x00, 0x6e, 0x6d, 0x73, 0x5f, 0x69, 0x6f, 0x75, 0x5f, 0x74, 0x68, 0x72, 0x65, 0x73,
    0x68, 0x6f, 0x6c, 0x64, 0x00, 0x68, 0x5f, 0x73, 0x63, 0x61, 0x6c, 0x65, 0x00, 0x6d, 0x61, 0x78, 0x5f, 0x63,
    0x6c, 0x61, 0x73, 0x73, 0x65, 0x73, 0x5f, 0x70, 0x65, 0x72, 0x5f, 0x64, 0x65, 0x74, 0x65, 0x63, 0x74, 0x69,
    0x6f, 0x6e, 0x00, 0x6e, 0x75, 0x6d, 0x5f, 0x63, 0x6c, 0x61, 0x73, 0x73, 0x65, 0x73, 0x00, 0x0a, 0x86, 0x30,
    0x29, 0x77, 0x45, 0x6a, 0x13, 0x58, 0x51, 0x97, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x40, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
    0x9a, 0x99, 0x19, 0x3f, 0x77, 0xcc, 0x2b, 0x32, 0x5a, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x40, 0x00, 0x00,
    0x20, 0x41, 0x00, 0x00, 0x20, 0x41, 0x6a, 0x0e, 0x06, 0x06, 0x0e, 0x0e, 0x06, 0x0e, 0x0e, 0x0e, 0x32, 0x26,
    0x01,
};

/* ---- a minimal hand builder: {"k": value} ------------------------------ */

static void put(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static unsigned lg(unsigned w)
{
    return w == 1 ? 0 : w == 2 ? 1 : w == 4 ? 2 : 3;
}

static size_t align_to(size_t n, unsigned w)
{
    return (n + w - 1) / w * w;
}

/* Map of width mw holding one value: inline in the slot, or (indirect)
 * stored in vw bytes before the map with the slot holding the offset. */
static size_t build1(uint8_t *b, unsigned mw, int type, unsigned vw, uint64_t bits, int indirect)
{
    memset(b, 0, 128);
    size_t n = 0;
    b[n++] = 'k';
    b[n++] = 0;
    b[n++] = 1; /* keys vector: length 1, width 1 */
    size_t keys = n;
    b[n] = (uint8_t)keys; /* back to the key string at 0 */
    n++;
    size_t val = 0;
    if (indirect) {
        n = align_to(n, vw);
        val = n;
        put(b + n, bits, vw);
        n += vw;
    }
    n = align_to(n, mw);
    put(b + n, n - keys, mw); /* keys offset */
    n += mw;
    put(b + n, 1, mw); /* keys width */
    n += mw;
    put(b + n, 1, mw); /* count */
    n += mw;
    size_t data = n;
    put(b + n, indirect ? n - val : bits, mw);
    n += mw;
    b[n++] = (uint8_t)(type << 2 | lg(indirect ? vw : mw));
    b[n] = (uint8_t)(n - data); /* root: width-1 offset to the map */
    n++;
    b[n++] = (uint8_t)(LD_FLEX_MAP << 2 | lg(mw));
    b[n++] = 1;
    return n;
}

static uint64_t f32bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint64_t f64bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* Open {"k": ...}, check the key, return the value. */
static int open1(const uint8_t *b, size_t n, ld_flex_map *m, ld_flex_value *v)
{
    leandet_error err;
    if (ld_flex_root_map(b, n, m, &err) != LEANDET_OK) {
        fprintf(stderr, "open1: %s\n", err.message);
        return 0;
    }
    return m->count == 1 && strcmp(ld_flex_map_key(m, 0), "k") == 0 && ld_flex_map_find(m, "k", v);
}

static void test_inline_scalars(void)
{
    static const unsigned widths[4] = { 1, 2, 4, 8 };
    uint8_t b[128];
    for (int wi = 0; wi < 4; wi++) {
        const unsigned w = widths[wi];
        ld_flex_map m;
        ld_flex_value v;
        int64_t i64;
        double d;
        int flag;
        int32_t i32;
        float f;

        /* signed: the most negative value of the width */
        const int64_t lo = w == 8 ? INT64_MIN : -((int64_t)1 << (8 * w - 1));
        size_t n = build1(b, w, LD_FLEX_INT, w, (uint64_t)lo, 0);
        CHECK(open1(b, n, &m, &v) && v.type == LD_FLEX_INT);
        CHECK(ld_flex_as_int64(&v, &i64, NULL) == LEANDET_OK && i64 == lo);
        CHECK(ld_flex_as_double(&v, &d, NULL) == LEANDET_OK && d == (double)lo);
        CHECK(ld_flex_as_bool(&v, &flag, NULL) == LEANDET_OK && flag == 1);
        CHECK_MSG((ld_flex_get_int32(&m, "k", 7, &i32, NULL) == LEANDET_OK) == (w <= 4), "width %u", w);
        if (w <= 4)
            CHECK(i32 == lo);

        /* unsigned: the largest value of the width */
        const uint64_t hi = w == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * w)) - 1;
        n = build1(b, w, LD_FLEX_UINT, w, hi, 0);
        CHECK(open1(b, n, &m, &v) && v.type == LD_FLEX_UINT);
        CHECK(ld_flex_as_double(&v, &d, NULL) == LEANDET_OK && d == (double)hi);
        CHECK(ld_flex_as_int64(&v, &i64, NULL) == LEANDET_OK && (uint64_t)i64 == hi);
        CHECK((ld_flex_get_int32(&m, "k", 0, &i32, NULL) == LEANDET_OK) == (w <= 2));

        /* bool */
        n = build1(b, w, LD_FLEX_BOOL, 1, 1, 0);
        CHECK(open1(b, n, &m, &v) && ld_flex_as_bool(&v, &flag, NULL) == LEANDET_OK && flag == 1);
        CHECK(ld_flex_get_bool(&m, "k", 0, &flag, NULL) == LEANDET_OK && flag == 1);
        n = build1(b, w, LD_FLEX_BOOL, 1, 0, 0);
        CHECK(open1(b, n, &m, &v) && ld_flex_get_bool(&m, "k", 1, &flag, NULL) == LEANDET_OK && flag == 0);

        /* float: only 4 and 8 byte floats exist */
        n = build1(b, w, LD_FLEX_FLOAT, w, w == 8 ? f64bits(1e-8) : f32bits(0.6f), 0);
        CHECK(open1(b, n, &m, &v));
        leandet_error err;
        leandet_status st = ld_flex_get_float(&m, "k", 0.0f, &f, &err);
        if (w == 4)
            CHECK(st == LEANDET_OK && f == 0.6f);
        else if (w == 8)
            CHECK(st == LEANDET_OK && f == (float)1e-8);
        else
            CHECK(st == LEANDET_ERR_MODEL && strstr(err.message, "'k'") && strstr(err.message, "width"));

        /* null reads as the default */
        n = build1(b, w, LD_FLEX_NULL, 1, 0, 0);
        CHECK(open1(b, n, &m, &v) && v.type == LD_FLEX_NULL);
        CHECK(ld_flex_get_int32(&m, "k", 42, &i32, NULL) == LEANDET_OK && i32 == 42);
        CHECK(ld_flex_get_float(&m, "k", 2.5f, &f, NULL) == LEANDET_OK && f == 2.5f);
    }
}

static void test_indirect_scalars(void)
{
    static const unsigned widths[4] = { 1, 2, 4, 8 };
    uint8_t b[128];
    ld_flex_map m;
    ld_flex_value v;
    int64_t i64;
    double d;
    for (int mi = 0; mi < 4; mi++) {
        for (int vi = 0; vi < 4; vi++) {
            const unsigned mw = widths[mi], vw = widths[vi];
            size_t n = build1(b, mw, LD_FLEX_INDIRECT_INT, vw, (uint64_t)-3, 1);
            CHECK(open1(b, n, &m, &v) && v.type == LD_FLEX_INDIRECT_INT);
            CHECK_MSG(ld_flex_as_int64(&v, &i64, NULL) == LEANDET_OK && i64 == -3, "mw %u vw %u", mw, vw);
            n = build1(b, mw, LD_FLEX_INDIRECT_UINT, vw, 250, 1);
            CHECK(open1(b, n, &m, &v) && ld_flex_as_double(&v, &d, NULL) == LEANDET_OK && d == 250.0);
            if (vw >= 4) {
                n = build1(b, mw, LD_FLEX_INDIRECT_FLOAT, vw, vw == 4 ? f32bits(-1.5f) : f64bits(-1.5), 1);
                CHECK(open1(b, n, &m, &v) && ld_flex_as_int64(&v, &i64, NULL) == LEANDET_OK && i64 == -1);
                CHECK(ld_flex_as_double(&v, &d, NULL) == LEANDET_OK && d == -1.5);
            }
        }
    }
    /* an indirect value whose offset leaves the buffer is an error, not a read */
    size_t n = build1(b, 4, LD_FLEX_INDIRECT_INT, 4, 5, 1);
    CHECK(open1(b, n, &m, &v));
    put(b + v.at, 1000, 4);
    leandet_error err;
    CHECK(ld_flex_as_int64(&v, &i64, &err) == LEANDET_ERR_MODEL && strstr(err.message, "before the buffer"));
}

static void test_conversions(void)
{
    uint8_t b[128];
    ld_flex_map m;
    ld_flex_value v;
    int flag;
    int32_t i32;
    int64_t i64;
    leandet_error err;
    /* float -> bool goes through an integer, as flexbuffers: 0.5 is false */
    size_t n = build1(b, 4, LD_FLEX_FLOAT, 4, f32bits(0.5f), 0);
    CHECK(open1(b, n, &m, &v) && ld_flex_as_bool(&v, &flag, NULL) == LEANDET_OK && flag == 0);
    n = build1(b, 8, LD_FLEX_FLOAT, 8, f64bits(1e10), 0);
    CHECK(open1(b, n, &m, &v) && ld_flex_as_int64(&v, &i64, NULL) == LEANDET_OK && i64 == 10000000000LL);
    CHECK(ld_flex_get_int32(&m, "k", 0, &i32, &err) == LEANDET_ERR_MODEL && strstr(err.message, "'k'"));
    n = build1(b, 8, LD_FLEX_FLOAT, 8, f64bits(NAN), 0);
    CHECK(open1(b, n, &m, &v) && ld_flex_as_int64(&v, &i64, NULL) == LEANDET_ERR_MODEL);
    CHECK(ld_flex_as_bool(&v, &flag, NULL) == LEANDET_ERR_MODEL);
    n = build1(b, 8, LD_FLEX_FLOAT, 8, f64bits(1e300), 0);
    float f = 0;
    CHECK(open1(b, n, &m, &v) && ld_flex_get_float(&m, "k", 0, &f, NULL) == LEANDET_OK && isinf(f) && f > 0);
    /* strings, vectors and maps are not numbers */
    static const int others[5] = { LD_FLEX_STRING, LD_FLEX_KEY, LD_FLEX_MAP, LD_FLEX_VECTOR, 37 };
    for (int i = 0; i < 5; i++) {
        n = build1(b, 4, others[i], 4, 0, 0);
        CHECK(open1(b, n, &m, &v) && v.type == others[i]);
        CHECK(ld_flex_as_int64(&v, &i64, &err) == LEANDET_ERR_MODEL && strstr(err.message, "expected a number"));
    }
    char tn[16];
    CHECK(strcmp(ld_flex_type_name(LD_FLEX_INDIRECT_FLOAT, tn, sizeof tn), "indirect float") == 0);
    CHECK(strcmp(ld_flex_type_name(99, tn, sizeof tn), "type 99") == 0);
}

static void test_malformed_headers(void)
{
    uint8_t b[128];
    ld_flex_map m;
    ld_flex_value v;
    leandet_error err;
    CHECK(ld_flex_root_map(NULL, 0, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, "too short"));
    CHECK(ld_flex_root_map(b, 2, &m, &err) == LEANDET_ERR_MODEL);
    size_t n = build1(b, 4, LD_FLEX_INT, 4, 1, 0);
    CHECK(open1(b, n, &m, &v));
    uint8_t c[128];

    memcpy(c, b, n);
    c[n - 1] = 3; /* root width */
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, "root width 3"));
    memcpy(c, b, n);
    c[n - 2] = LD_FLEX_INT << 2; /* root is not a map */
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, "root is a int"));
    memcpy(c, b, n);
    c[n - 3] = 250; /* map offset beyond the start */
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL);
    /* map header fields: [keys offset][keys width][count] before the data */
    const size_t data = (n - 3) - b[n - 3];
    memcpy(c, b, n);
    put(c + data - 4, 1u << 30, 4); /* count */
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, "overruns"));
    memcpy(c, b, n);
    put(c + data - 8, 3, 4); /* keys width */
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, "keys width 3"));
    memcpy(c, b, n);
    put(c + data - 12, 200, 4); /* keys offset */
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL);
    memcpy(c, b, n);
    c[2] = 2; /* keys vector length differs from the map count */
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, "keys"));
    /* a key with no NUL before the end of the buffer (width 1: no zero bytes follow) */
    n = build1(c, 1, LD_FLEX_INT, 1, 5, 0);
    c[1] = 'x';
    CHECK(ld_flex_root_map(c, n, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, "NUL"));
}

/* Exercise every accessor on whatever opened (ASan/UBSan catch misreads). */
static void read_everything(const uint8_t *buf, size_t n)
{
    ld_flex_map m;
    if (ld_flex_root_map(buf, n, &m, NULL) != LEANDET_OK)
        return;
    for (size_t i = 0; i < m.count; i++) {
        const char *k = ld_flex_map_key(&m, i);
        CHECK(k >= (const char *)buf && k < (const char *)buf + n && memchr(k, 0, (size_t)((const char *)buf + n - k)));
        ld_flex_value v;
        ld_flex_map_value(&m, i, &v);
        int64_t i64;
        double d;
        int flag;
        ld_flex_as_int64(&v, &i64, NULL);
        ld_flex_as_double(&v, &d, NULL);
        ld_flex_as_bool(&v, &flag, NULL);
        ld_flex_map_find(&m, k, &v);
    }
    int32_t i32;
    float f;
    int flag;
    ld_flex_get_int32(&m, "max_detections", 0, &i32, NULL);
    ld_flex_get_float(&m, "y_scale", 0, &f, NULL);
    ld_flex_get_bool(&m, "use_regular_nms", 0, &flag, NULL);
}

static void test_ssd_options(void)
{
    ld_flex_map m;
    leandet_error err;
    CHECK(ld_flex_root_map(ssd_options, sizeof ssd_options, &m, &err) == LEANDET_OK);
    CHECK(m.count == 10);
    static const char *const keys[10] = { "_output_quantized", "h_scale", "max_classes_per_detection",
                                          "max_detections", "nms_iou_threshold", "nms_score_threshold",
                                          "num_classes", "w_scale", "x_scale", "y_scale" };
    for (int i = 0; i < 10 && i < (int)m.count; i++)
        CHECK_MSG(strcmp(ld_flex_map_key(&m, (size_t)i), keys[i]) == 0, "key %d", i);
    int32_t i32;
    float f;
    int flag;
    CHECK(ld_flex_get_int32(&m, "max_detections", 0, &i32, NULL) == LEANDET_OK && i32 == 10);
    CHECK(ld_flex_get_int32(&m, "max_classes_per_detection", 0, &i32, NULL) == LEANDET_OK && i32 == 1);
    CHECK(ld_flex_get_int32(&m, "num_classes", 0, &i32, NULL) == LEANDET_OK && i32 == 90);
    CHECK(ld_flex_get_int32(&m, "detections_per_class", 100, &i32, NULL) == LEANDET_OK && i32 == 100);
    CHECK(ld_flex_get_float(&m, "nms_iou_threshold", 0, &f, NULL) == LEANDET_OK && f == 0.6f);
    CHECK(ld_flex_get_float(&m, "nms_score_threshold", 0, &f, NULL) == LEANDET_OK && f == 1e-8f);
    CHECK(ld_flex_get_float(&m, "y_scale", 0, &f, NULL) == LEANDET_OK && f == 10.0f);
    CHECK(ld_flex_get_float(&m, "x_scale", 0, &f, NULL) == LEANDET_OK && f == 10.0f);
    CHECK(ld_flex_get_float(&m, "h_scale", 0, &f, NULL) == LEANDET_OK && f == 5.0f);
    CHECK(ld_flex_get_float(&m, "w_scale", 0, &f, NULL) == LEANDET_OK && f == 5.0f);
    CHECK(ld_flex_get_bool(&m, "_output_quantized", 0, &flag, NULL) == LEANDET_OK && flag == 1);
    CHECK(ld_flex_get_bool(&m, "use_regular_nms", 0, &flag, NULL) == LEANDET_OK && flag == 0);
    ld_flex_value v;
    CHECK(!ld_flex_map_find(&m, "z", &v) && !ld_flex_map_find(&m, "", &v) && !ld_flex_map_find(&m, "max_det", &v));

    /* every truncation, in an exactly sized heap copy so ASan sees overreads */
    int opened = 0;
    for (size_t n = 0; n < sizeof ssd_options; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, ssd_options, n);
        opened += ld_flex_root_map(cut, n, &m, NULL) == LEANDET_OK;
        read_everything(cut, n);
        /* the same bytes re-ended with the original trailer */
        if (n >= 3) {
            memcpy(cut + n - 3, ssd_options + sizeof ssd_options - 3, 3);
            read_everything(cut, n);
        }
        free(cut);
    }
    CHECK(opened == 0); /* the root lives in the last bytes */

    /* every byte, set to a spread of values */
    static const uint8_t vals[8] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff, 0x26 };
    uint8_t *mut = malloc(sizeof ssd_options);
    for (size_t i = 0; i < sizeof ssd_options; i++) {
        for (int k = 0; k < 8; k++) {
            memcpy(mut, ssd_options, sizeof ssd_options);
            mut[i] = vals[k];
            read_everything(mut, sizeof ssd_options);
        }
    }
    /* random multi-byte corruption (fixed seed: reproducible) */
    uint32_t s = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(mut, ssd_options, sizeof ssd_options);
        int flips = 1 + iter % 6;
        for (int j = 0; j < flips; j++) {
            s = s * 1664525u + 1013904223u;
            size_t at = (s >> 8) % sizeof ssd_options;
            s = s * 1664525u + 1013904223u;
            mut[at] = (uint8_t)(s >> 24);
        }
        read_everything(mut, sizeof ssd_options);
    }
    free(mut);
}

int main(void)
{
    test_inline_scalars();
    test_indirect_scalars();
    test_conversions();
    test_malformed_headers();
    test_ssd_options();
    return ld_test_finish();
}

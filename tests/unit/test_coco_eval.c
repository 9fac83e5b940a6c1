/* COCO evaluation (src/tools): the COCOeval re-implementation against
 * numbers pycocotools produced, the strict JSON reader, the dataset
 * loaders (YOLO and COCO layouts) on bad input, and class matching. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tools/class_map.h"
#include "tools/coco_eval.h"
#include "tools/dataset.h"
#include "tools/dataset_internal.h"
#include "tools/json_parse.h"

/* ---- COCOeval ---------------------------------------------------------- */

/* The case of tests/data/eval/coco_unit_case.py (see there for what each
 * box exercises: crowds, an area field unlike the box area, ties across
 * images, more than 100 detections, a category without ground truth).
 * Images are passed in the order ids 3, 1, 2, 5, 4. */
static const int64_t case_ids[5] = {3, 1, 2, 5, 4};
enum { I3 = 0, I1 = 1, I2 = 2, I5 = 3, I4 = 4 };

static const ld_coco_gt case_gt[] = {
    {I1, 0, 0, 1, {10, 10, 50, 40}, 2000},   {I1, 0, 0, 2, {100, 100, 20, 20}, 400},
    {I1, 0, 1, 3, {0, 0, 300, 300}, 90000},  {I1, 1, 0, 4, {200, 50, 120, 100}, 12000},
    {I2, 0, 0, 5, {50, 50, 30, 30}, 900},    {I2, 0, 0, 6, {60, 60, 100, 100}, 5000},
    {I3, 0, 0, 7, {0, 0, 8, 8}, 64},         {I5, 1, 0, 8, {10, 10, 40, 40}, 1600},
    {I5, 1, 1, 9, {0, 0, 5, 5}, 25},         {I5, 0, 0, 10, {0, 0, 10, 10}, 100},
    {I5, 0, 0, 11, {2, 0, 10, 10}, 100},
};

static const ld_coco_dt case_dt_fixed[] = {
    {I1, 0, {12, 12, 48, 38}, 0.9},    {I1, 0, {100, 100, 20, 20}, 0.8}, {I1, 0, {105, 102, 20, 20}, 0.8},
    {I1, 0, {250, 250, 40, 40}, 0.3},  {I1, 0, {400, 400, 10, 10}, 0.5}, {I1, 1, {190, 40, 130, 110}, 0.7},
    {I1, 1, {200, 50, 60, 100}, 0.6},  {I1, 2, {10, 10, 50, 40}, 0.95},  {I2, 0, {52, 52, 28, 30}, 0.8},
    {I2, 0, {60, 60, 100, 100}, 0.4},  {I2, 0, {61, 61, 99, 99}, 0.4},   {I2, 1, {0, 0, 10, 10}, 0.9},
    {I4, 0, {0, 0, 100, 100}, 0.99},   {I5, 1, {1, 1, 3, 3}, 0.85},      {I5, 1, {12, 12, 36, 40}, 0.45},
    {I5, 0, {1, 0, 10, 10}, 0.75},     {I5, 0, {0, 0, 10, 10}, 0.7},
};

static int close_to(double a, double b)
{
    return fabs(a - b) < 1e-12;
}

static void test_against_pycocotools(void)
{
    enum { NF = sizeof case_dt_fixed / sizeof case_dt_fixed[0], NDT = NF + 105 };
    ld_coco_dt dt[NDT];
    memcpy(dt, case_dt_fixed, sizeof case_dt_fixed);
    for (int i = 0; i < 105; i++) { /* as the python: box [i*0.5, i*0.25, 8, 8], score 0.5 - (i//3)*0.01 */
        ld_coco_dt d = {I3, 0, {i * 0.5, i * 0.25, 8, 8}, 0.5 - (i / 3) * 0.01};
        dt[NF + i] = d;
    }
    ld_coco_input in = {5, case_ids, 3, case_gt, sizeof case_gt / sizeof case_gt[0], dt, NDT};
    /* Computed once by pycocotools 2.0.11 (tests/data/eval/coco_unit_case.py). */
    static const double want[LD_COCO_NSTATS] = {
        0.47466069508800107, 0.6126889004689943, 0.6126889004689943, 0.7986798679867988,
        0.6502475247524753, 0.6999999999999998, 0.4107142857142857, 0.8,
        0.8, 0.8799999999999999, 0.825, 0.7};
    static const double want_ap[3] = {0.5993213901760021, 0.35, -1.0};
    static const double want_ap50[3] = {0.7253778009379888, 0.5, -1.0};
    ld_alloc alloc;
    ld_alloc_init(&alloc, NULL);
    double stats[LD_COCO_NSTATS];
    ld_coco_category_result cats[3];
    leandet_error err = {0};
    CHECK(ld_coco_evaluate(&in, &alloc, stats, cats, &err) == LEANDET_OK);
    for (int i = 0; i < LD_COCO_NSTATS; i++)
        CHECK_MSG(close_to(stats[i], want[i]), "%s: %.17g, pycocotools %.17g", ld_coco_stat_name(i), stats[i],
                  want[i]);
    for (int k = 0; k < 3; k++) {
        CHECK_MSG(close_to(cats[k].ap, want_ap[k]), "category %d AP %.17g, want %.17g", k, cats[k].ap, want_ap[k]);
        CHECK_MSG(close_to(cats[k].ap50, want_ap50[k]), "category %d AP50 %.17g", k, cats[k].ap50);
    }
    CHECK(cats[0].n_gt == 7 && cats[1].n_gt == 2 && cats[2].n_gt == 0); /* crowds are not counted */
    CHECK(cats[0].n_dt == 116 && cats[2].n_dt == 1);
    CHECK(alloc.current == 0); /* working memory released */

    /* The evaluation order is the image ids', not the input's: permuting
     * the image array (and the indices that refer to it) changes nothing. */
    int64_t ids2[5];
    int perm[5] = {4, 2, 0, 1, 3}; /* old index -> new index */
    for (int i = 0; i < 5; i++)
        ids2[perm[i]] = case_ids[i];
    ld_coco_gt gt2[sizeof case_gt / sizeof case_gt[0]];
    memcpy(gt2, case_gt, sizeof gt2);
    for (size_t i = 0; i < sizeof gt2 / sizeof gt2[0]; i++)
        gt2[i].image = perm[gt2[i].image];
    for (int i = 0; i < NDT; i++)
        dt[i].image = perm[dt[i].image];
    ld_coco_input in2 = {5, ids2, 3, gt2, sizeof gt2 / sizeof gt2[0], dt, NDT};
    double stats2[LD_COCO_NSTATS];
    CHECK(ld_coco_evaluate(&in2, &alloc, stats2, NULL, &err) == LEANDET_OK);
    for (int i = 0; i < LD_COCO_NSTATS; i++)
        CHECK_MSG(stats2[i] == stats[i], "stat %d changed with the image order", i);
}

static void test_simple_cases(void)
{
    ld_alloc alloc;
    ld_alloc_init(&alloc, NULL);
    leandet_error err = {0};
    double s[LD_COCO_NSTATS];
    const int64_t ids[2] = {7, 9};
    const ld_coco_gt gt[2] = {{0, 0, 0, 1, {0, 0, 100, 100}, 10000}, {1, 0, 0, 2, {10, 10, 20, 20}, 400}};
    /* Perfect detections: AP and AR are 1 where there are objects, -1 where none. */
    const ld_coco_dt dt[2] = {{0, 0, {0, 0, 100, 100}, 0.9}, {1, 0, {10, 10, 20, 20}, 0.8}};
    ld_coco_input in = {2, ids, 1, gt, 2, dt, 2};
    CHECK(ld_coco_evaluate(&in, &alloc, s, NULL, &err) == LEANDET_OK);
    CHECK(s[LD_COCO_AP] == 1.0 && s[LD_COCO_AP50] == 1.0 && s[LD_COCO_AR100] == 1.0);
    /* (one hit alone has precision 1/(1+eps), as in COCOeval) */
    CHECK_MSG(close_to(s[LD_COCO_AP_SMALL], 1.0) && close_to(s[LD_COCO_AP_LARGE], 1.0) && s[LD_COCO_AP_MEDIUM] == -1.0,
              "small %g medium %g large %g", s[LD_COCO_AP_SMALL], s[LD_COCO_AP_MEDIUM], s[LD_COCO_AP_LARGE]);
    CHECK(s[LD_COCO_AR1] == 1.0);
    /* No detections: 0 (there is ground truth), not -1. */
    in.n_dt = 0;
    CHECK(ld_coco_evaluate(&in, &alloc, s, NULL, &err) == LEANDET_OK);
    CHECK(s[LD_COCO_AP] == 0.0 && s[LD_COCO_AR100] == 0.0);
    /* No ground truth at all: every mean is -1. */
    in.n_gt = 0;
    in.n_dt = 2;
    CHECK(ld_coco_evaluate(&in, &alloc, s, NULL, &err) == LEANDET_OK);
    for (int i = 0; i < LD_COCO_NSTATS; i++)
        CHECK(s[i] == -1.0);
    /* Shifted by half its width, a box has IoU 1/3: a hit below 0.35, a miss above. */
    const ld_coco_dt half[1] = {{0, 0, {50, 0, 100, 100}, 0.9}};
    ld_coco_input h = {1, ids, 1, gt, 1, half, 1};
    CHECK(ld_coco_evaluate(&h, &alloc, s, NULL, &err) == LEANDET_OK);
    CHECK(s[LD_COCO_AP] == 0.0 && s[LD_COCO_AP50] == 0.0);
    /* Bad input is refused, naming the problem. */
    const ld_coco_dt bad[1] = {{2, 0, {0, 0, 1, 1}, 0.5}};
    ld_coco_input b = {2, ids, 1, gt, 2, bad, 1};
    CHECK(ld_coco_evaluate(&b, &alloc, s, NULL, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "image 2"));
    const ld_coco_dt nan_score[1] = {{0, 0, {0, 0, 1, 1}, NAN}};
    b.dt = nan_score;
    CHECK(ld_coco_evaluate(&b, &alloc, s, NULL, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "non-finite"));
    const int64_t dup[2] = {4, 4};
    ld_coco_input d = {2, dup, 1, gt, 2, dt, 2};
    CHECK(ld_coco_evaluate(&d, &alloc, s, NULL, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "twice"));
    CHECK(alloc.current == 0);
}

/* ---- JSON reader ------------------------------------------------------- */

/* Skip the whole text as one value; LEANDET_OK if it is valid JSON. */
static leandet_status json_check(const char *text, leandet_error *err)
{
    ld_jp j;
    ld_jp_init(&j, text, strlen(text), "t.json");
    leandet_status st = ld_jp_skip(&j, err);
    return st ? st : ld_jp_finish(&j, err);
}

static void test_json(void)
{
    leandet_error err = {0};
    const char *good = "{\"a\":[1,-2.5e3,0,true,false,null,\"x\\u00e9\\ud83d\\ude00\\n\"],\"b\":{},\"c\":[]}";
    CHECK(json_check(good, &err) == LEANDET_OK);

    /* Pull values one by one. */
    ld_jp j;
    ld_jp_init(&j, good, strlen(good), "t.json");
    char key[8], s[32];
    double v;
    int b, more;
    CHECK(ld_jp_object_begin(&j, &err) == LEANDET_OK);
    CHECK(ld_jp_object_next(&j, key, sizeof key, &err) == 1 && strcmp(key, "a") == 0);
    CHECK(ld_jp_array_begin(&j, &err) == LEANDET_OK);
    CHECK(ld_jp_array_next(&j, &err) == 1 && ld_jp_number(&j, &v, &err) == LEANDET_OK && v == 1);
    CHECK(ld_jp_array_next(&j, &err) == 1 && ld_jp_number(&j, &v, &err) == LEANDET_OK && v == -2500);
    int64_t iv;
    CHECK(ld_jp_array_next(&j, &err) == 1 && ld_jp_int(&j, &iv, &err) == LEANDET_OK && iv == 0);
    CHECK(ld_jp_array_next(&j, &err) == 1 && ld_jp_bool(&j, &b, &err) == LEANDET_OK && b == 1);
    CHECK(ld_jp_array_next(&j, &err) == 1 && ld_jp_skip(&j, &err) == LEANDET_OK);
    CHECK(ld_jp_array_next(&j, &err) == 1 && ld_jp_null(&j, &err) == LEANDET_OK);
    CHECK(ld_jp_array_next(&j, &err) == 1 && ld_jp_string(&j, s, sizeof s, NULL, &err) == LEANDET_OK);
    CHECK(strcmp(s, "x\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    CHECK(ld_jp_array_next(&j, &err) == 0);
    while ((more = ld_jp_object_next(&j, key, sizeof key, &err)) == 1)
        CHECK(ld_jp_skip(&j, &err) == LEANDET_OK);
    CHECK(more == 0 && ld_jp_finish(&j, &err) == LEANDET_OK);

    /* Type and range errors name the position. */
    ld_jp_init(&j, "[1.5]", 5, "ids.json");
    CHECK(ld_jp_array_begin(&j, &err) == LEANDET_OK && ld_jp_array_next(&j, &err) == 1);
    CHECK(ld_jp_int(&j, &iv, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "ids.json: line 1, column 2") &&
          strstr(err.message, "integer"));
    ld_jp_init(&j, "\"abcdef\"", 8, "t.json");
    CHECK(ld_jp_string(&j, s, 4, NULL, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "longer than 3"));

    /* Malformed texts: each refused with the line it is on. */
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[1,2,]", "trailing comma"},
        {"{\"a\":1,}", "trailing comma"},
        {"{\"a\" 1}", "expected ':'"},
        {"{a:1}", "key"},
        {"[1 2]", "expected ','"},
        {"\n\n[\"abc", "line 3"},
        {"[\"a\\x\"]", "invalid escape"},
        {"[\"\\ud800\"]", "surrogate"},
        {"[\"\\udc00\"]", "surrogate"},
        {"[\"\\u12G4\"]", "four hex"},
        {"[\"a\tb\"]", "control"},
        {"[\"\xc3\x28\"]", "UTF-8"},
        {"[\"\xed\xa0\x80\"]", "UTF-8"},
        {"[01]", "expected ','"},
        {"[-]", "malformed number"},
        {"[1.]", "malformed number"},
        {"[1e999]", "out of range"},
        {"[NaN]", "expected a value"},
        {"[tru]", "true or false"},
        {"// c\n[]", "expected a value"},
        {"[] x", "after the top-level value"},
        {"", "expected a value"},
        {"{\"a\":[1,{\"b\":", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        leandet_status st = json_check(bad[i].text, &err);
        CHECK_MSG(st == LEANDET_ERR_ARGUMENT && strstr(err.message, bad[i].want) && strstr(err.message, "t.json"),
                  "'%s': %s", bad[i].text, st ? err.message : "accepted");
    }
    /* Deep nesting is bounded (no recursion, no overflow). */
    char deep[400];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    char *z = malloc(401);
    memcpy(z, deep, 400);
    z[400] = '\0';
    CHECK(json_check(z, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "deeper than"));
    z[LD_JP_MAX_DEPTH] = '\0'; /* exactly the limit: still fine once closed */
    memset(z, '[', LD_JP_MAX_DEPTH);
    char ok[2 * LD_JP_MAX_DEPTH + 1];
    memset(ok, '[', LD_JP_MAX_DEPTH);
    memset(ok + LD_JP_MAX_DEPTH, ']', LD_JP_MAX_DEPTH);
    ok[2 * LD_JP_MAX_DEPTH] = '\0';
    CHECK(json_check(ok, &err) == LEANDET_OK);
    free(z);
    /* A number longer than the bound. */
    char longnum[300] = "[";
    memset(longnum + 1, '1', 200);
    strcpy(longnum + 201, "]");
    CHECK(json_check(longnum, &err) == LEANDET_ERR_ARGUMENT && strstr(err.message, "longer than"));
}

/* ---- datasets ---------------------------------------------------------- */

typedef struct tmpdir {
    char root[64];
    char made[64][256]; /* created paths, removed in reverse order */
    int n;
} tmpdir;

static const char *tpath(const tmpdir *t, const char *rel, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", t->root, rel);
    return buf;
}

static void remember(tmpdir *t, const char *p)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->made[i], p) == 0)
            return;
    if (t->n < 64)
        snprintf(t->made[t->n++], sizeof t->made[0], "%s", p);
}

/* mkdir -p of root/rel */
static void tmkdir(tmpdir *t, const char *rel)
{
    char p[256];
    tpath(t, rel, p, sizeof p);
    for (char *c = p + strlen(t->root) + 1;; c++) {
        if (*c == '/' || *c == '\0') {
            char save = *c;
            *c = '\0';
            if (mkdir(p, 0700) == 0)
                remember(t, p);
            *c = save;
            if (!save)
                break;
        }
    }
}

static void twrite(tmpdir *t, const char *rel, const char *text)
{
    char p[256];
    tpath(t, rel, p, sizeof p);
    FILE *f = fopen(p, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", p);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    remember(t, p);
}

static int tinit(tmpdir *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->root, sizeof t->root, "/tmp/leandet_eval_XXXXXX");
    return mkdtemp(t->root) != NULL;
}

static void tcleanup(tmpdir *t)
{
    while (t->n > 0)
        remove(t->made[--t->n]);
    rmdir(t->root);
}

typedef struct warn_log {
    int count;
    char last[512];
} warn_log;

static void on_warn(void *ctx, const char *msg)
{
    warn_log *w = ctx;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

static const char yaml_ok[] = "# a comment\npath: .\nnames:\n  0: person\n  1: traffic light   # comment\n"
                              "  2: 'it''s'\nnc: 3\n";

static void test_yolo_layout(void)
{
    tmpdir t;
    CHECK(tinit(&t));
    ld_alloc alloc;
    ld_alloc_init(&alloc, NULL);
    leandet_error err = {0};
    warn_log w = {0};
    ld_dataset d;
    tmkdir(&t, "images/val");
    tmkdir(&t, "labels/val");
    twrite(&t, "data.yaml", yaml_ok);
    twrite(&t, "images/val/000000000010.jpg", "");
    twrite(&t, "images/val/000000000002.png", "");
    twrite(&t, "images/val/000000000003.jpg", ""); /* no label file: no objects */
    twrite(&t, "images/val/notes.txt", "");          /* not an image */
    twrite(&t, "labels/val/000000000010.txt", "0 0.5 0.5 0.2 0.4\r\n\n2 0.1 0.1 0.3 0.1 0.2 0.3\n");
    twrite(&t, "labels/val/000000000002.txt", "1 0.5 0.5 1 1");
    twrite(&t, "labels/val/000000000099.txt", "0 0.5 0.5 0.1 0.1\n"); /* no image: skipped */
    CHECK(ld_dataset_open(t.root, "val", LD_DATASET_AUTO, &alloc, on_warn, &w, &d, &err) == LEANDET_OK);
    CHECK(d.layout == LD_DATASET_YOLO && d.n_images == 3 && d.n_categories == 3 && d.n_anns == 3);
    CHECK(w.count == 1 && strstr(w.last, "000000000099.txt") && d.skipped == 1 && d.unlabeled_images == 1);
    if (d.n_images == 3 && d.n_anns == 3) {
        CHECK(d.images[0].id == 2 && d.images[1].id == 3 && d.images[2].id == 10); /* numeric stems, sorted */
        CHECK(d.images[0].n_anns == 1 && d.images[1].n_anns == 0 && d.images[2].n_anns == 2);
        CHECK(d.categories[0].id == 1 && strcmp(d.categories[1].name, "traffic light") == 0 &&
              strcmp(d.categories[2].name, "it's") == 0);
        ld_dataset_set_image_size(&d, 2, 200, 100);
        const ld_dataset_ann *a = &d.anns[d.images[2].first_ann];
        CHECK(a[0].category == 0 && a[0].bbox[0] == 80 && a[0].bbox[1] == 30 && a[0].bbox[2] == 40 &&
              a[0].bbox[3] == 40 && a[0].area == 1600 && a[0].iscrowd == 0);
        /* the polygon's bounding box: x 0.1..0.3, y 0.1..0.3 */
        CHECK(a[1].category == 2 && fabs(a[1].bbox[0] - 20) < 1e-9 && fabs(a[1].bbox[1] - 10) < 1e-9 &&
              fabs(a[1].bbox[2] - 40) < 1e-9 && fabs(a[1].bbox[3] - 20) < 1e-9);
    }
    ld_dataset_free(&d);

    /* Bad label files: an error naming the file and the line. */
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"0 0.5 0.5 0.2\n", "line 1: 3 numbers"},
        {"0 0.5 0.5 0.2 0.2\n5 0.1 0.1 0.1 0.1\n", "line 2: class 5"},
        {"\n0 0.5 0.5 1.2 0.2\n", "line 2: coordinates are normalized"},
        {"0 0.5 abc 0.2 0.2\n", "line 1: not a number"},
        {"0 0.5 0.5 0.2 nan\n", "line 1: not a number"},
        {"x 0.5 0.5 0.2 0.2\n", "line 1: class must be a whole number"},
        {"-1 0.5 0.5 0.2 0.2\n", "line 1: class must be a whole number"},
        {"0 0.5 0.5 0.2 0.2 0.1\n", "5 numbers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        twrite(&t, "labels/val/000000000002.txt", bad[i].text);
        leandet_status st = ld_dataset_open(t.root, "val", LD_DATASET_YOLO, &alloc, on_warn, &w, &d, &err);
        CHECK_MSG(st == LEANDET_ERR_ARGUMENT && strstr(err.message, "labels/val/000000000002.txt: ") &&
                      strstr(err.message, bad[i].want),
                  "'%s': %s", bad[i].text, st ? err.message : "accepted");
    }
    twrite(&t, "labels/val/000000000002.txt", "");
    /* Non-numeric stems: ids are positions in file-name order. */
    twrite(&t, "images/val/cat.jpg", "");
    CHECK(ld_dataset_open(t.root, "val", LD_DATASET_YOLO, &alloc, NULL, NULL, &d, &err) == LEANDET_OK);
    CHECK(d.n_images == 4 && d.images[0].id == 1 && d.images[3].id == 4 && strstr(d.images[3].path, "cat.jpg"));
    ld_dataset_free(&d);
    /* Not a dataset; a bad split name. */
    CHECK(ld_dataset_open(t.root, "../x", LD_DATASET_AUTO, &alloc, NULL, NULL, &d, &err) == LEANDET_ERR_ARGUMENT);
    remove(tpath(&t, "data.yaml", (char[256]){0}, 256));
    CHECK(ld_dataset_open(t.root, "val", LD_DATASET_AUTO, &alloc, NULL, NULL, &d, &err) == LEANDET_ERR_ARGUMENT &&
          strstr(err.message, "not a dataset"));
    CHECK(alloc.current == 0);
    tcleanup(&t);
}

static void test_yaml_names(void)
{
    ld_alloc alloc;
    ld_alloc_init(&alloc, NULL);
    leandet_error err = {0};
    ld_dataset d;
    memset(&d, 0, sizeof d);
    d.alloc = &alloc;
    const char **names = NULL;
    int n = 0;
    static const struct {
        const char *text;
        int n;
        const char *last;
    } good[] = {
        {"names: ['a', \"b \\\"q\\\"\",\n   c d]  # flow list over two lines\n", 3, "c d"},
        {"names:\n- a\n- b\ntrain: x\n", 2, "b"},
        {"names:\n  1: b\n  0: a\n", 2, "b"},
        {"names: [a, b,]\n", 2, "b"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        leandet_status st = ld_yolo_parse_names(&d, good[i].text, strlen(good[i].text), "d.yaml", &names, &n, &err);
        CHECK_MSG(st == LEANDET_OK && n == good[i].n && strcmp(names[n - 1], good[i].last) == 0, "'%s': %s",
                  good[i].text, st ? err.message : "wrong names");
        if (st == LEANDET_OK)
            ld_free(&alloc, names);
    }
    CHECK(ld_yolo_parse_names(&d, good[0].text, strlen(good[0].text), "d.yaml", &names, &n, &err) == LEANDET_OK &&
          strcmp(names[1], "b \"q\"") == 0);
    ld_free(&alloc, names);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"nc: 2\n", "no 'names:'"},
        {"names:\n  0: a\n  2: b\n", "no class 1"},
        {"names:\n  - a\n  1: b\n", "line 3: 'N: name' mixed"},
        {"names: [a, 'b\n", "line 1: a quoted name"},
        {"names: 5\n", "line 1: names: must be followed"},
        {"names: [a, b\n", "line 1: expected ',' or ']' after 'b'"},
        {"names: [a, b,\n", "never closed"},
        {"names:\n  0: a\n  0: b\n", "line 3: class 0 is named twice"},
        {"names:\n  0: ''\n", "empty class name"},
        {"names:\n  0: a\nnames:\n  0: b\n", "line 3: a second"},
        {"names:\n  zero: a\n", "line 2: expected 'N: name'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        leandet_status st = ld_yolo_parse_names(&d, bad[i].text, strlen(bad[i].text), "d.yaml", &names, &n, &err);
        CHECK_MSG(st == LEANDET_ERR_ARGUMENT && strstr(err.message, "d.yaml") && strstr(err.message, bad[i].want),
                  "'%s': %s", bad[i].text, st ? err.message : "accepted");
        if (st == LEANDET_OK)
            ld_free(&alloc, names);
    }
    ld_dataset_free(&d);
    CHECK(alloc.current == 0);
}

static const char coco_ok[] =
    "{\"info\":{\"x\":[1,2,{\"y\":null}]},\n"
    "\"images\":[{\"id\":5,\"file_name\":\"b.jpg\",\"width\":10,\"height\":20},{\"id\":2,\"file_name\":\"a.jpg\"},\n"
    "  {\"id\":9,\"file_name\":\"missing.jpg\"}],\n"
    "\"annotations\":[{\"id\":1,\"image_id\":5,\"category_id\":7,\"bbox\":[1,2,3,4],\"segmentation\":[[1,2,3,4]],"
    "\"area\":5.5,\"iscrowd\":0},\n"
    "  {\"id\":2,\"image_id\":2,\"category_id\":3,\"bbox\":[0,0,2,2],\"iscrowd\":1},\n"
    "  {\"id\":3,\"image_id\":5,\"category_id\":3,\"bbox\":[1,1,1,1]},\n"
    "  {\"id\":4,\"image_id\":9,\"category_id\":3,\"bbox\":[1,1,1,1]}],\n"
    "\"categories\":[{\"id\":7,\"name\":\"dog\"},{\"id\":3,\"name\":\"cat\",\"supercategory\":\"animal\"}]}\n";

static void test_coco_layout(void)
{
    tmpdir t;
    CHECK(tinit(&t));
    ld_alloc alloc;
    ld_alloc_init(&alloc, NULL);
    leandet_error err = {0};
    warn_log w = {0};
    ld_dataset d;
    tmkdir(&t, "annotations");
    tmkdir(&t, "images/val");
    twrite(&t, "images/val/a.jpg", "");
    twrite(&t, "images/val/b.jpg", "");
    twrite(&t, "annotations/instances_val.json", coco_ok);
    CHECK(ld_dataset_open(t.root, "val", LD_DATASET_AUTO, &alloc, on_warn, &w, &d, &err) == LEANDET_OK);
    CHECK(d.layout == LD_DATASET_COCO && d.n_images == 2 && d.n_categories == 2 && d.n_anns == 3);
    CHECK(w.count == 1 && strstr(w.last, "missing.jpg") && d.skipped == 1);
    if (d.n_images == 2 && d.n_anns == 3) {
        CHECK(d.categories[0].id == 3 && strcmp(d.categories[0].name, "cat") == 0 && d.categories[1].id == 7);
        CHECK(d.images[0].id == 2 && d.images[0].n_anns == 1 && d.images[1].id == 5 && d.images[1].n_anns == 2);
        CHECK(d.images[1].width == 10 && d.images[1].height == 20 && d.images[0].width == 0);
        const ld_dataset_ann *a = d.anns;
        CHECK(a[d.images[0].first_ann].iscrowd == 1 && a[d.images[0].first_ann].area == 4); /* area = w*h */
        const ld_dataset_ann *b = &a[d.images[1].first_ann]; /* file order within the image */
        CHECK(b[0].id == 1 && b[0].category == 1 && b[0].area == 5.5 && b[0].bbox[3] == 4);
        CHECK(b[1].id == 3 && b[1].category == 0);
        CHECK(ld_dataset_category_index(&d, 7) == 1 && ld_dataset_category_index(&d, 8) == -1);
    }
    ld_dataset_free(&d);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"{\"images\":[],\"categories\":[],\"annotations\":[{\"id\":1,\"image_id\":3,\"category_id\":1,"
         "\"bbox\":[1,1,1,1]}]}", "refers to image_id 3"},
        {"{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\"}],\"categories\":[],\"annotations\":[{\"id\":1,"
         "\"image_id\":1,\"category_id\":4,\"bbox\":[1,1,1,1]}]}", "refers to category_id 4"},
        {"{\"images\":[],\"categories\":[],\"annotations\":[\n{\"id\":1,\"image_id\":1,\"category_id\":1}]}",
         "line 2, column 38: an entry of \"annotations\" has no \"bbox\""},
        {"{\"images\":[],\"categories\":[],\"annotations\":[{\"bbox\":[1,2,3]}]}", "3 numbers"},
        {"{\"images\":[],\n\"categories\":[],\n\"annotations\":[}", "line 3"},
        {"{\"images\":[{\"id\":1,\"file_name\":\"../a.jpg\"}],\"categories\":[],\"annotations\":[]}",
         "relative path"},
        {"{\"images\":[],\"categories\":[{\"id\":1,\"name\":\"a\"},{\"id\":1,\"name\":\"b\"}],\"annotations\":[]}",
         "category id 1 is used twice"},
        {"{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\"},{\"id\":1,\"file_name\":\"b.jpg\"}],\"categories\":[],"
         "\"annotations\":[]}", "image id 1 is used twice"},
        {"{\"images\":[],\"categories\":[]}", "no \"annotations\" array"},
        {"[]", "expected an object"},
        {"{\"images\":[{\"id\":1.5,\"file_name\":\"a.jpg\"}],\"categories\":[],\"annotations\":[]}",
         "expected an integer"},
        {"{\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"width\":-3}],\"categories\":[],\"annotations\":[]}",
         "\"width\" is -3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        twrite(&t, "annotations/instances_val.json", bad[i].text);
        leandet_status st = ld_dataset_open(t.root, "val", LD_DATASET_AUTO, &alloc, NULL, NULL, &d, &err);
        CHECK_MSG(st == LEANDET_ERR_ARGUMENT && strstr(err.message, "instances_val.json") &&
                      strstr(err.message, bad[i].want),
                  "case %zu: %s", i, st ? err.message : "accepted");
    }
    CHECK(alloc.current == 0);
    tcleanup(&t);
}

static void test_class_map(void)
{
    ld_alloc alloc;
    ld_alloc_init(&alloc, NULL);
    leandet_error err = {0};
    const char text[] = "???\nperson\ntraffic_light\n???\nzebra\n";
    ld_labels labels;
    CHECK(ld_labels_parse(text, strlen(text), "l.txt", &alloc, &labels, &err) == LEANDET_OK);
    ld_dataset_category cats[3] = {{1, "person"}, {2, "Traffic Light"}, {5, "cat"}};
    ld_dataset d;
    memset(&d, 0, sizeof d);
    d.source = "d.yaml";
    d.n_categories = 3;
    d.categories = cats;
    ld_class_map m;
    CHECK(ld_class_map_build(&labels, &d, &alloc, &m, &err) == LEANDET_OK);
    CHECK(ld_class_map_get(&m, 0) == 0 && ld_class_map_get(&m, 1) == 1 && ld_class_map_get(&m, 2) == -1 &&
          ld_class_map_get(&m, 3) == -1 && ld_class_map_get(&m, 4) == -1 && ld_class_map_get(&m, -1) == -1);
    CHECK(m.n_matched == 2 && m.n_unmatched_model == 1 && m.unmatched_model[0] == 3);
    CHECK(m.n_unmatched_dataset == 1 && m.unmatched_dataset[0] == 2);
    ld_class_map_free(&m, &alloc);
    CHECK(ld_class_map_build(NULL, &d, &alloc, &m, &err) == LEANDET_OK); /* positional */
    CHECK(ld_class_map_get(&m, 2) == 2 && ld_class_map_get(&m, 3) == -1 && m.n_unmatched_dataset == 0);
    ld_class_map_free(&m, &alloc);
    cats[2].name = "person";
    CHECK(ld_class_map_build(&labels, &d, &alloc, &m, &err) == LEANDET_ERR_ARGUMENT &&
          strstr(err.message, "both named 'person'"));
    ld_labels_free(&labels, &alloc);
    CHECK(alloc.current == 0);
}

int main(void)
{
    test_against_pycocotools();
    test_simple_cases();
    test_json();
    test_yolo_layout();
    test_yaml_names();
    test_coco_layout();
    test_class_map();
    return ld_test_finish();
}

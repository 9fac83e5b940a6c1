/* Threads change nothing in 8-bit models: a whole invoke of each real
 * 8-bit model gives the same bytes in every tensor (the sessions keep all
 * tensors, so intermediate ones are compared too) on 1 thread, on 2, 3 and 9
 * threads (9 is more than the convolutions' scratch slices, which then
 * go by task instead of by thread) and on 2 threads with the pool's
 * reverse-order hook (tasks run one after another in reverse order, and
 * kernels split even small ops as finely as they can: a task that writes
 * past its share or reads another's output shows up as a difference).
 * Each threaded session invokes twice, so the second invoke runs with
 * workers that are awake from the first. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leandet.h"
#include "runtime/session_internal.h"

/* Every tensor's bytes after the last invoke (NULL: constant or absent). */
typedef struct outputs {
    int n;
    size_t *bytes;
    uint8_t **data;
} outputs;

/* Deterministic bytes (valid for any 8-bit input; float inputs are not
 * expected in these models and get no special care beyond being finite). */
static void fill_inputs(leandet_session *s, int n_inputs)
{
    uint32_t x = 12345u;
    for (int i = 0; i < n_inputs; i++) {
        size_t bytes = 0;
        uint8_t *in = leandet_session_input(s, i, &bytes);
        for (size_t k = 0; in && k < bytes; k++) {
            x = x * 1664525u + 1013904223u;
            in[k] = (uint8_t)(x >> 24);
        }
    }
}

static void free_outputs(outputs *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->data[i]);
    free(o->data);
    free(o->bytes);
    o->n = 0;
}

/* One session of `threads` (reverse: the reverse hook on), `invokes`
 * invokes; the last outputs into *o. 0 on failure (reported). */
static int run(const leandet_model *m, const char *name, int threads, int reverse, int invokes, outputs *o)
{
    leandet_session_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = threads;
    opt.keep_all_tensors = 1;
    leandet_session *s = NULL;
    leandet_error err = { 0 };
    leandet_status st = leandet_session_create(m, &opt, &s, &err);
    CHECK_MSG(st == LEANDET_OK, "%s, %d threads: %s", name, threads, err.message);
    if (st != LEANDET_OK)
        return 0;
    ld_pool_set_reverse(s->pool, reverse);
    fill_inputs(s, leandet_model_num_inputs(m));
    for (int i = 0; i < invokes && st == LEANDET_OK; i++)
        st = leandet_session_invoke(s, &err);
    CHECK_MSG(st == LEANDET_OK, "%s, %d threads: invoke: %s", name, threads, err.message);
    const int n = s->model->desc.n_tensors;
    o->data = calloc((size_t)n, sizeof *o->data);
    o->bytes = calloc((size_t)n, sizeof *o->bytes);
    o->n = o->data && o->bytes ? n : 0;
    for (int i = 0; st == LEANDET_OK && i < o->n; i++) {
        const ld_tensor *t = &s->tensors[i];
        if (t->is_const || !t->data)
            continue;
        o->data[i] = malloc(t->bytes ? t->bytes : 1);
        if (o->data[i]) {
            memcpy(o->data[i], t->data, t->bytes);
            o->bytes[i] = t->bytes;
        }
    }
    leandet_session_destroy(s);
    return st == LEANDET_OK && o->n == n;
}

static void check_model(const char *file)
{
    char path[1024];
    ld_test_model(file, path, sizeof path);
    leandet_model *m = NULL;
    leandet_error err = { 0 };
    leandet_status st = leandet_model_open(path, NULL, &m, &err);
    CHECK_MSG(st == LEANDET_OK, "cannot open %s (set LEANDET_MODELS): %s", path, err.message);
    if (st != LEANDET_OK)
        return;
    outputs want = { 0 };
    if (run(m, file, 1, 0, 1, &want)) {
        static const struct {
            int threads, reverse;
        } cases[] = { { 2, 0 }, { 3, 0 }, { 9, 0 }, { 2, 1 } };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            outputs got = { 0 };
            if (!run(m, file, cases[c].threads, cases[c].reverse, 2, &got))
                continue;
            int same = 0;
            for (int i = 0; i < want.n; i++) {
                if (!want.data[i])
                    continue;
                size_t first = 0;
                if (got.data[i])
                    while (first < want.bytes[i] && got.data[i][first] == want.data[i][first])
                        first++;
                CHECK_MSG(got.data[i] && got.bytes[i] == want.bytes[i] && first == want.bytes[i],
                          "%s, %d threads%s: tensor %d differs from 1 thread at byte %zu of %zu", file,
                          cases[c].threads, cases[c].reverse ? " (reverse hook)" : "", i, first, want.bytes[i]);
                same++;
            }
            CHECK_MSG(same > 10, "%s: only %d tensors compared", file, same);
            free_outputs(&got);
        }
    }
    free_outputs(&want);
    leandet_model_close(m);
}

int main(void)
{
    check_model("ssd_mobilenet_v1_coco_quant.tflite");
    check_model("yolov8n_full_integer_quant.tflite");
    return ld_test_finish();
}

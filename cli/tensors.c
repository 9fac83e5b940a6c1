/* leandet tensors: run a model on a raw input tensor and dump the outputs
 * (and optionally every intermediate tensor) for comparison with the
 * TensorFlow Lite oracle (scripts/oracle.py compare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "tensor_dump.h"

static const char usage[] =
    "usage: leandet tensors --model M.tflite --input RAW --out DIR [--all]\n"
    "\n"
    "Feed RAW (exactly the bytes of the model's input 0) to the model, invoke once\n"
    "and write DIR/output_<i>.raw and DIR/outputs.json. With --all, every\n"
    "intermediate tensor is kept (no arena sharing) and written as\n"
    "DIR/tensor_<index>.raw with DIR/tensors.json.\n";

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

int ld_cmd_tensors(int argc, char **argv)
{
    ld_args a;
    ld_args_init(&a, argc, argv);
    const char *model_path = NULL, *input = NULL, *out = NULL;
    int all = 0;
    while (ld_args_more(&a)) {
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            fputs(usage, stdout);
            return LD_EXIT_OK;
        } else if (ld_args_opt(&a, "--model")) {
            model_path = a.value;
        } else if (ld_args_opt(&a, "--input")) {
            input = a.value;
        } else if (ld_args_opt(&a, "--out")) {
            out = a.value;
        } else if (ld_args_flag(&a, "--all")) {
            all = 1;
        } else if (!a.error) {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && (!model_path || !input || !out))
        ld_usage_error(&a, "--model, --input and --out are required");
    if (a.error)
        return LD_EXIT_USAGE;

    leandet_error err = {0};
    leandet_model *model = NULL;
    leandet_session *session = NULL;
    unsigned char *raw = NULL;
    int rc = LD_EXIT_ERROR;
    leandet_session_options so = {0};
    so.keep_all_tensors = all;
    if (leandet_model_open(model_path, NULL, &model, &err) != LEANDET_OK ||
        leandet_session_create(model, &so, &session, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        rc = err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
        goto done;
    }
    size_t n = 0, want = 0;
    void *dst = leandet_session_input(session, 0, &want);
    raw = read_all(input, &n);
    if (!raw) {
        fprintf(stderr, "leandet: %s: cannot read input file\n", input);
        goto done;
    }
    if (!dst || n != want) {
        fprintf(stderr, "leandet: %s: input has %zu bytes, the model's input 0 takes %zu\n", input, n, want);
        goto done;
    }
    memcpy(dst, raw, n);
    if (leandet_session_invoke(session, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        goto done;
    }
    if (ld_dump_tensors(session, out, all) == 0)
        rc = LD_EXIT_OK;
done:
    free(raw);
    leandet_session_destroy(session);
    leandet_model_close(model);
    return rc;
}

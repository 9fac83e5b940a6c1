/* leandet bench: measure a model the way TensorFlow Lite's benchmark_model
 * does — init (model open + session create), the first (cold) invoke, then
 * warmup and timed steady-state invokes — plus peak resident memory and the
 * session's planned bytes. Wall clock, CLOCK_MONOTONIC. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "bench_profile.h"
#include "commands.h"
#include "json.h"
#include "leandet.h"

#define MAX_RUNS 100000

static const char usage[] =
    "usage: leandet bench --model M.tflite [options]\n"
    "\n"
    "Measure one model like TensorFlow Lite's benchmark_model:\n"
    "  init     model open + session create (wall clock)\n"
    "  first    the first invoke: cold weights and arena pages\n"
    "  steady   after --warmup untimed invokes, --runs timed invokes: median, p90, min\n"
    "  memory   peak resident set of the process (Linux VmHWM, else getrusage\n"
    "           ru_maxrss) and the session's planned bytes (arena + scratch)\n"
    "Only invokes are timed; inputs are filled before the first one.\n"
    "\n"
    "options:\n"
    "  --model M            .tflite model (required)\n"
    "  --threads N          session threads, 1..256 (default 1)\n"
    "  --runs N             timed invokes, 1..100000 (default 50)\n"
    "  --warmup N           untimed invokes before them, 0..100000 (default 1)\n"
    "  --backend B          auto|ref: optimized kernels where the CPU has them, or the\n"
    "                       reference kernels only (default auto)\n"
    "  --image IMG          fill input 0 from IMG through the detector's preprocessing\n"
    "                       (resize and normalization of the model's family), done in a\n"
    "                       child process so it costs no time or memory here; default:\n"
    "                       deterministic pseudo-random values valid for each input's type\n"
    "  --max-memory BYTES   session budget (K/M/G suffixes); refused runs exit 3\n"
    "  --profile            also time every op during the timed invokes and print, per\n"
    "                       op type and per op (slowest first): index, type, output\n"
    "                       shape, kernel (ref, avx2, avx512 or folded), total ms over\n"
    "                       the runs, ms per run, % of the summed invoke time\n"
    "  --json               print one JSON object instead of the table:\n"
    "                       {\"model\",\"threads\",\"backend\",\"input\",\"init_ms\",\"first_ms\",\n"
    "                        \"median_ms\",\"p90_ms\",\"min_ms\",\"runs\",\"warmup\",\n"
    "                        \"peak_rss_bytes\",\"arena_bytes\"}; with --profile also\n"
    "                        \"profile\": [{\"index\",\"op\",\"shape\",\"kernel\",\"total_ms\",\n"
    "                        \"ms_per_run\",\"percent\"}, ...] slowest first\n"
    "\n"
    "exit codes: 0 ok, 1 error (model, image, threads unavailable), 2 usage error,\n"
    "            3 budget refused\n";

typedef struct bench_opts {
    const char *model, *image;
    int threads, runs, warmup, json, profile;
    leandet_backend backend;
    size_t max_memory;
} bench_opts;

typedef struct bench_result {
    double init_ms, first_ms, median_ms, p90_ms, min_ms;
    double total_ms;              /* sum of the timed invokes */
    size_t peak_rss, arena;
} bench_result;

static int parse(int argc, char **argv, bench_opts *o)
{
    ld_args a;
    ld_args_init(&a, argc, argv);
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->runs = 50;
    o->warmup = 1;
    while (ld_args_more(&a)) {
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            fputs(usage, stdout);
            return -1;
        } else if (ld_args_opt(&a, "--model")) {
            o->model = a.value;
        } else if (ld_args_opt(&a, "--threads")) {
            ld_parse_int(&a, "--threads", 1, 256, &o->threads);
        } else if (ld_args_opt(&a, "--runs")) {
            ld_parse_int(&a, "--runs", 1, MAX_RUNS, &o->runs);
        } else if (ld_args_opt(&a, "--warmup")) {
            ld_parse_int(&a, "--warmup", 0, MAX_RUNS, &o->warmup);
        } else if (ld_args_opt(&a, "--backend")) {
            if (strcmp(a.value, "auto") == 0)
                o->backend = LEANDET_BACKEND_AUTO;
            else if (strcmp(a.value, "ref") == 0)
                o->backend = LEANDET_BACKEND_REFERENCE;
            else
                ld_usage_error(&a, "--backend: unknown value '%s' (auto or ref)", a.value);
        } else if (ld_args_opt(&a, "--image")) {
            o->image = a.value;
        } else if (ld_args_opt(&a, "--max-memory")) {
            ld_parse_bytes(&a, "--max-memory", &o->max_memory);
        } else if (ld_args_flag(&a, "--profile")) {
            o->profile = 1;
        } else if (ld_args_flag(&a, "--json")) {
            o->json = 1;
        } else if (!a.error) {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && !o->model)
        ld_usage_error(&a, "--model is required");
    return a.error ? LD_EXIT_USAGE : LD_EXIT_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Peak resident set of this process. Linux's VmHWM belongs to the address
 * space made by exec; getrusage's ru_maxrss also keeps the peak of the image
 * exec replaced (a python harness that spawned us would show its own RSS),
 * so it is only the fallback. */
static size_t peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        unsigned long kib = 0;
        int found = 0;
        while (!found && fgets(line, sizeof line, f))
            found = sscanf(line, "VmHWM: %lu kB", &kib) == 1;
        fclose(f);
        if (found)
            return (size_t)kib * 1024;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0 || ru.ru_maxrss < 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

/* splitmix64: a fixed seed makes every run see the same input. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Values every model can take: floats in [0, 1) (inside both the [0, 1] and
 * [-1, 1] image conventions), any bit pattern for small integers (every one
 * is a valid quantized value), small non-negative wide integers (indices). */
static void fill_random(void *buf, size_t bytes, leandet_dtype type, uint64_t *state)
{
    size_t es = leandet_dtype_size(type);
    size_t n = es ? bytes / es : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next_random(state);
        switch (type) {
        case LEANDET_FLOAT32: {
            float v = (float)(r >> 40) / (float)(1u << 24);
            memcpy((char *)buf + i * 4, &v, 4);
            break;
        }
        case LEANDET_FLOAT16: {
            uint16_t h = (uint16_t)(0x3800u | (r & 0x3FFu)); /* [0.5, 1) */
            memcpy((char *)buf + i * 2, &h, 2);
            break;
        }
        case LEANDET_INT32: {
            int32_t v = (int32_t)(r & 0xFF);
            memcpy((char *)buf + i * 4, &v, 4);
            break;
        }
        case LEANDET_INT64: {
            int64_t v = (int64_t)(r & 0xFF);
            memcpy((char *)buf + i * 8, &v, 8);
            break;
        }
        case LEANDET_BOOL:
            ((uint8_t *)buf)[i] = (uint8_t)(r & 1);
            break;
        default: /* uint8, int8, int16: every bit pattern is a value */
            memcpy((char *)buf + i * es, &r, es < 8 ? es : 8);
            break;
        }
    }
}

static int fill_inputs_random(const leandet_model *m, leandet_session *s)
{
    uint64_t state = 0x6C65616E646574u; /* "leandet" */
    for (int i = 0; i < leandet_model_num_inputs(m); i++) {
        leandet_tensor_info info;
        size_t bytes = 0;
        void *buf = leandet_session_input(s, i, &bytes);
        if (leandet_model_input_info(m, i, &info) != LEANDET_OK || (!buf && bytes)) {
            fprintf(stderr, "leandet: %s: input %d has no buffer\n", leandet_model_path(m), i);
            return -1;
        }
        fill_random(buf, bytes, info.type, &state);
    }
    return 0;
}

/* Child side of fill_input_from_image: its own single-threaded session on
 * the shared (immutable) model, so no pool thread is needed after fork. */
static int child_preprocess(const leandet_model *m, leandet_backend backend, const char *image, int fd)
{
    leandet_error err = {0};
    leandet_session_options so = {0};
    so.backend = backend;
    leandet_session *s = NULL;
    leandet_detector *det = NULL;
    leandet_image img = {0};
    leandet_detection dets[1];
    int count = 0, rc = 1;
    if (leandet_session_create(m, &so, &s, &err) != LEANDET_OK ||
        leandet_detector_create(s, NULL, &det, &err) != LEANDET_OK ||
        leandet_image_load(image, &img, &err) != LEANDET_OK ||
        leandet_detector_run(det, &img, dets, 1, &count, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        goto done;
    }
    size_t bytes = 0;
    const char *p = leandet_session_input(s, 0, &bytes);
    while (bytes > 0) {
        ssize_t w = write(fd, p, bytes);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "leandet: writing the preprocessed input: %s\n", strerror(errno));
            goto done;
        }
        p += w;
        bytes -= (size_t)w;
    }
    rc = 0;
done:
    leandet_image_free(&img);
    leandet_detector_destroy(det);
    leandet_session_destroy(s);
    return rc;
}

/* Input 0 from an image, preprocessed by the detector in a forked child:
 * the detector always invokes, which would spend this process's cold first
 * invoke, and its session, image and decoder memory would count in our peak
 * RSS. The child writes the exact tensor bytes into a pipe. */
static int fill_input_from_image(const leandet_model *m, leandet_session *s, leandet_backend backend,
                                 const char *image)
{
    size_t bytes = 0;
    char *dst = leandet_session_input(s, 0, &bytes);
    int fds[2];
    if (!dst || pipe(fds) != 0) {
        fprintf(stderr, "leandet: %s: cannot prepare the input from %s\n", leandet_model_path(m), image);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "leandet: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        int rc = child_preprocess(m, backend, image, fds[1]);
        close(fds[1]);
        _exit(rc);
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        char extra;
        ssize_t r = got < bytes ? read(fds[0], dst + got, bytes - got) : read(fds[0], &extra, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1; /* the child said why */
    if (got != bytes) {
        fprintf(stderr, "leandet: %s: preprocessing %s gave %zu bytes, input 0 takes %zu\n",
                leandet_model_path(m), image, got, bytes);
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts t. Median: mean of the middle two for even n; p90: nearest rank. */
static void summarize(double *t, int n, bench_result *r)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    r->min_ms = t[0];
    r->median_ms = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    int rank = (9 * n + 9) / 10; /* ceil(0.9 n) */
    r->p90_ms = t[rank > 0 ? rank - 1 : 0];
}

static int invoke(leandet_session *s, double *ms)
{
    leandet_error err = {0};
    double t0 = now_ms();
    if (leandet_session_invoke(s, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        return -1;
    }
    if (ms)
        *ms = now_ms() - t0;
    return 0;
}

static void print_result(const bench_opts *o, const bench_result *r, const ld_bench_profile *prof)
{
    const char *backend = o->backend == LEANDET_BACKEND_REFERENCE ? "ref" : "auto";
    if (o->json) {
        fputs("{\"model\":", stdout);
        ld_json_string(stdout, o->model);
        printf(",\"threads\":%d,\"backend\":\"%s\",\"input\":", o->threads, backend);
        ld_json_string(stdout, o->image ? o->image : "random");
        printf(",\"init_ms\":%.4f,\"first_ms\":%.4f,\"median_ms\":%.4f,\"p90_ms\":%.4f,\"min_ms\":%.4f,"
               "\"runs\":%d,\"warmup\":%d,\"peak_rss_bytes\":%zu,\"arena_bytes\":%zu",
               r->init_ms, r->first_ms, r->median_ms, r->p90_ms, r->min_ms, o->runs, o->warmup, r->peak_rss,
               r->arena);
        if (prof)
            ld_bench_profile_json(prof, o->runs, r->total_ms, stdout);
        fputs("}\n", stdout);
        return;
    }
    printf("model     %s\n", o->model);
    printf("setup     threads %d, backend %s, input %s\n", o->threads, backend, o->image ? o->image : "random");
    printf("init      %10.3f ms   (model open + session create)\n", r->init_ms);
    printf("first     %10.3f ms   (first invoke)\n", r->first_ms);
    printf("median    %10.3f ms   (%d runs after %d warmup)\n", r->median_ms, o->runs, o->warmup);
    printf("p90       %10.3f ms\n", r->p90_ms);
    printf("min       %10.3f ms\n", r->min_ms);
    printf("peak RSS  %10.1f MiB  (%zu bytes)\n", (double)r->peak_rss / 1048576.0, r->peak_rss);
    printf("arena     %10.1f MiB  (%zu bytes: arena + scratch)\n", (double)r->arena / 1048576.0, r->arena);
    if (prof)
        ld_bench_profile_print(prof, o->runs, r->total_ms, stdout);
}

int ld_cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != LD_EXIT_OK)
        return rc < 0 ? LD_EXIT_OK : rc;
    /* Allocated before anything is measured. */
    double *times = calloc((size_t)o.runs, sizeof *times);
    if (!times) {
        fprintf(stderr, "leandet: out of memory\n");
        return LD_EXIT_ERROR;
    }
    leandet_error err = {0};
    leandet_model *model = NULL;
    leandet_session *session = NULL;
    leandet_session_options so = {0};
    so.threads = o.threads;
    so.backend = o.backend;
    so.max_memory = o.max_memory;
    bench_result r = {0};
    ld_bench_profile prof = {0};
    rc = LD_EXIT_ERROR;

    double t0 = now_ms();
    if (leandet_model_open(o.model, NULL, &model, &err) != LEANDET_OK ||
        leandet_session_create(model, &so, &session, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        rc = err.status == LEANDET_ERR_BUDGET ? LD_EXIT_BUDGET : LD_EXIT_ERROR;
        goto done;
    }
    r.init_ms = now_ms() - t0;
    r.arena = leandet_session_arena_bytes(session);
    if (o.profile && ld_bench_profile_init(&prof, session) != 0)
        goto done;

    if (fill_inputs_random(model, session) != 0 ||
        (o.image && fill_input_from_image(model, session, o.backend, o.image) != 0))
        goto done;
    if (invoke(session, &r.first_ms) != 0)
        goto done;
    for (int i = 0; i < o.warmup; i++)
        if (invoke(session, NULL) != 0)
            goto done;
    if (o.profile)
        ld_bench_profile_attach(&prof, 1);
    for (int i = 0; i < o.runs; i++) {
        if (invoke(session, &times[i]) != 0)
            goto done;
        r.total_ms += times[i];
    }
    if (o.profile) {
        ld_bench_profile_attach(&prof, 0);
        ld_bench_profile_finish(&prof);
    }
    summarize(times, o.runs, &r);
    r.peak_rss = peak_rss_bytes();
    print_result(&o, &r, o.profile ? &prof : NULL);
    rc = LD_EXIT_OK;
done:
    ld_bench_profile_free(&prof);
    free(times);
    leandet_session_destroy(session);
    leandet_model_close(model);
    return rc;
}

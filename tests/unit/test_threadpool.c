/* The worker pool: every task runs exactly once on a valid thread index,
 * the pool starts exactly threads-1 threads and joins them, idle workers
 * sleep, affinity pins hold, failures clean up. Plus CPU-list parsing and
 * the cgroup quota arithmetic behind the default thread count. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_* */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "runtime/cpuset.h"
#include "runtime/threadpool.h"

static double now_s(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Threads of the process with no pool alive; set once by main. */
static int base_tasks;

/* A joined thread can linger in /proc for a moment after pthread_join. */
static int wait_tasks(int want)
{
    int n = count_tasks();
    for (int i = 0; i < 200 && n != want; i++) {
        sleep_ms(10);
        n = count_tasks();
    }
    return n;
}

/* ---- every task exactly once ---------------------------------------- */

#define MAX_TASKS 1000

typedef struct {
    atomic_int runs[MAX_TASKS];
    atomic_int bad_thread;
    int threads;
} tally;

static void count_task(void *ctx, int task, int thread)
{
    tally *t = ctx;
    if (task < 0 || task >= MAX_TASKS || thread < 0 || thread >= t->threads) {
        atomic_fetch_add(&t->bad_thread, 1);
        return;
    }
    atomic_fetch_add(&t->runs[task], 1);
}

static void check_exactly_once(ld_pool *p, int threads, int n_tasks, int rounds)
{
    static tally t; /* test-only; too big for a worker-sized stack habit */
    int wrong = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < MAX_TASKS; i++)
            atomic_store(&t.runs[i], 0);
        atomic_store(&t.bad_thread, 0);
        t.threads = threads;
        ld_pool_run(p, n_tasks, count_task, &t);
        for (int i = 0; i < MAX_TASKS; i++)
            wrong += atomic_load(&t.runs[i]) != (i < n_tasks ? 1 : 0);
        wrong += atomic_load(&t.bad_thread);
    }
    CHECK_MSG(wrong == 0, "threads %d, %d tasks: %d tasks not run exactly once", threads, n_tasks, wrong);
}

static void exactly_once_on(int threads, int spin_us)
{
    static const int sizes[] = {0, 1, 2, 3, 7, 1000};
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = NULL;
    leandet_error err = {0};
    CHECK(ld_pool_create(threads, NULL, 0, &a, &p, &err) == LEANDET_OK);
    if (!p)
        return;
    CHECK(ld_pool_threads(p) == threads);
    ld_pool_set_spin_us(p, spin_us);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        check_exactly_once(p, threads, sizes[s], 20);
    /* Many back-to-back jobs of changing size: late wakers must never
     * run a task of the wrong job. */
    for (int r = 0; r < 300; r++)
        check_exactly_once(p, threads, 1 + (r * 37) % 19, 1);
    ld_pool_destroy(p);
    CHECK(a.current == 0);
}

static void test_exactly_once(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        exactly_once_on(threads, 0);
        exactly_once_on(threads, 200); /* the opt-in spin paths */
    }
    /* NULL pool: serial, in order, on thread 0. */
    static tally t;
    t.threads = 1;
    ld_pool_run(NULL, 7, count_task, &t);
    int ok = atomic_load(&t.bad_thread) == 0;
    for (int i = 0; i < 7; i++)
        ok &= atomic_load(&t.runs[i]) == 1;
    CHECK(ok);
    CHECK(ld_pool_threads(NULL) == 1);
}

/* More tasks than one job's claim counters hold (65535 units): they go
 * in blocks, still each exactly once. */
#define MANY_TASKS 200003
static atomic_int many_runs[MANY_TASKS];

static void count_many(void *ctx, int task, int thread)
{
    (void)ctx, (void)thread;
    if (task >= 0 && task < MANY_TASKS)
        atomic_fetch_add_explicit(&many_runs[task], 1, memory_order_relaxed);
}

static void test_many_tasks(void)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = NULL;
    CHECK(ld_pool_create(3, NULL, 0, &a, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    static const int sizes[] = {65534, 65535, 65536, 131071, MANY_TASKS};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int i = 0; i < MANY_TASKS; i++)
            atomic_store(&many_runs[i], 0);
        ld_pool_run(p, sizes[s], count_many, NULL);
        int wrong = 0;
        for (int i = 0; i < MANY_TASKS; i++)
            wrong += atomic_load(&many_runs[i]) != (i < sizes[s] ? 1 : 0);
        CHECK_MSG(wrong == 0, "%d tasks: %d not run exactly once", sizes[s], wrong);
    }
    ld_pool_destroy(p);
}

/* ---- stealing: a held-up thread's share goes to the others ------------- */

typedef struct {
    atomic_int on_thread[2];
    atomic_int sleeper; /* 1 + the thread whose task slept; 0: none yet */
} steal_log;

/* The first task to start sleeps; meanwhile the other thread must run its
 * own share and then the rest of the sleeper's (usually the caller's,
 * but a worker that is already spinning may start first). */
static void slow_first(void *ctx, int task, int thread)
{
    (void)task;
    steal_log *l = ctx;
    int none = 0;
    if (thread >= 0 && thread < 2 && atomic_compare_exchange_strong(&l->sleeper, &none, 1 + thread))
        sleep_ms(200);
    if (thread >= 0 && thread < 2)
        atomic_fetch_add(&l->on_thread[thread], 1);
}

static void test_stealing(void)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = NULL;
    CHECK(ld_pool_create(2, NULL, 0, &a, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    for (int held = 0; held < 2; held++) {
        ld_pool_hold(p, held);
        steal_log l = {0};
        ld_pool_run(p, 8, slow_first, &l);
        int sleeper = atomic_load(&l.sleeper) - 1;
        int slept = sleeper >= 0 ? atomic_load(&l.on_thread[sleeper]) : -1;
        int other = sleeper >= 0 ? atomic_load(&l.on_thread[1 - sleeper]) : -1;
        CHECK_MSG(slept == 1 && other == 7, "held-up thread %d (hold %d): it ran %d tasks, the other %d (want 1 and 7)",
                  sleeper, held, slept, other);
    }
    ld_pool_hold(p, 0);
    ld_pool_destroy(p);
}

/* ---- reverse-order test hook ----------------------------------------- */

typedef struct {
    int order[16];
    int thread[16];
    int n;
    int off_caller;
    pthread_t caller;
} trace;

static void record(void *ctx, int task, int thread)
{
    trace *t = ctx;
    if (!pthread_equal(pthread_self(), t->caller))
        t->off_caller++;
    else if (t->n < 16) {
        t->order[t->n] = task;
        t->thread[t->n++] = thread;
    }
}

static void test_reverse(void)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = NULL;
    CHECK(ld_pool_create(3, NULL, 0, &a, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    ld_pool_set_reverse(p, 1);
    CHECK(ld_pool_threads(p) == 3);
    trace t = {.caller = pthread_self()};
    ld_pool_run(p, 7, record, &t);
    int ok = t.n == 7 && t.off_caller == 0;
    for (int i = 0; ok && i < 7; i++)
        ok = t.order[i] == 6 - i && t.thread[i] == (6 - i) % 3;
    CHECK_MSG(ok, "reverse: %d tasks on the caller, %d elsewhere", t.n, t.off_caller);
    ld_pool_set_reverse(p, 0);
    check_exactly_once(p, 3, 1000, 3);
    ld_pool_destroy(p);
}

/* ---- rendezvous: every thread really takes part ----------------------- */

typedef struct {
    atomic_int arrived;
    atomic_int timed_out;
    int need;
    int thread_of[8];
    int pinned_cpu[8]; /* the single CPU a thread is pinned to, -1 if not one */
} meeting;

/* Each task waits until `need` tasks are in progress, so n_tasks == need
 * forces every thread to hold exactly one task. */
static void meet(void *ctx, int task, int thread)
{
    meeting *m = ctx;
    cpu_set_t set;
    m->thread_of[task] = thread;
    m->pinned_cpu[thread] = -1;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set))
                m->pinned_cpu[thread] = c;
    atomic_fetch_add(&m->arrived, 1);
    double t0 = now_s(CLOCK_MONOTONIC);
    while (atomic_load(&m->arrived) < m->need) {
        if (now_s(CLOCK_MONOTONIC) - t0 > 5.0) {
            atomic_store(&m->timed_out, 1);
            return;
        }
        sched_yield();
    }
}

static void run_meeting(ld_pool *p, int threads, meeting *m)
{
    memset(m, 0, sizeof *m);
    m->need = threads;
    ld_pool_run(p, threads, meet, m);
}

static void test_all_threads_work(void)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = NULL;
    CHECK(ld_pool_create(4, NULL, 0, &a, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    meeting m;
    run_meeting(p, 4, &m);
    CHECK(atomic_load(&m.timed_out) == 0);
    int seen = 0;
    for (int t = 0; t < 4; t++)
        seen |= 1 << m.thread_of[t];
    CHECK_MSG(seen == 0xF, "thread indices used: mask %#x", seen);
    ld_pool_destroy(p);
    CHECK(a.current == 0);
}

/* ---- thread count ------------------------------------------------------ */

static void *noop_thread(void *arg)
{
    return arg;
}

/* Sanitizer runtimes (TSan) start a helper thread with the first
 * pthread_create; start and join one first so the baseline includes it. */
static int settle_baseline(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, noop_thread, NULL) == 0)
        pthread_join(t, NULL);
    sleep_ms(20);
    int n = count_tasks(), prev = -1;
    for (int i = 0; i < 100 && n != prev; i++) {
        sleep_ms(10);
        prev = n;
        n = count_tasks();
    }
    return n;
}

static void test_thread_count(void)
{
    int base = base_tasks;
    CHECK(base >= 1);
    for (int threads = 1; threads <= 3; threads++) {
        ld_alloc a;
        ld_alloc_init(&a, NULL);
        ld_pool *p = NULL;
        CHECK(ld_pool_create(threads, NULL, 0, &a, &p, NULL) == LEANDET_OK);
        int during = count_tasks();
        CHECK_MSG(during == base + threads - 1, "threads %d: %d tasks in /proc, expected %d", threads, during,
                  base + threads - 1);
        ld_pool_destroy(p);
        int after = wait_tasks(base);
        CHECK_MSG(after == base, "threads %d: %d tasks after destroy, expected %d", threads, after, base);
    }
    CHECK(ld_pool_stack_bytes(1) == 0);
    CHECK(ld_pool_stack_bytes(3) == 2 * (size_t)LD_POOL_STACK_BYTES);
}

/* ---- idle workers sleep ---------------------------------------------- */

static void nothing(void *ctx, int task, int thread)
{
    (void)ctx, (void)task, (void)thread;
}

/* Also with the opt-in spin, and after a burst under ld_pool_hold: both
 * are bounded, so idle CPU still ends at ~0. */
static void test_idle(int spin_us, int held)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = NULL;
    CHECK(ld_pool_create(2, NULL, 0, &a, &p, NULL) == LEANDET_OK);
    if (!p)
        return;
    ld_pool_set_spin_us(p, spin_us);
    ld_pool_hold(p, held);
    for (int i = 0; i < 100; i++)
        ld_pool_run(p, 8, nothing, NULL);
    ld_pool_hold(p, 0);
    sleep_ms(20); /* workers have run jobs and gone back to sleep */
    double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    sleep_ms(300);
    double used = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    CHECK_MSG(used < 0.020, "idle 2-thread pool (spin %d us%s) used %.1f ms of CPU in 300 ms", spin_us,
              held ? ", after a hold" : "", used * 1e3);
    ld_pool_destroy(p);
}

/* ---- per-call overhead (printed, never asserted) ----------------------- */

static void busy_us(double us)
{
    double t0 = now_s(CLOCK_MONOTONIC);
    while ((now_s(CLOCK_MONOTONIC) - t0) * 1e6 < us) {
    }
}

/* Mean seconds per ld_pool_run of 2 empty tasks; gap_us of caller work
 * between calls lets the worker fall asleep, as between two ops. */
static double run_cost(ld_pool *p, int calls, double gap_us)
{
    double total = 0;
    for (int i = 0; i < calls; i++) {
        if (gap_us > 0)
            busy_us(gap_us);
        double t0 = now_s(CLOCK_MONOTONIC);
        ld_pool_run(p, 2, nothing, NULL);
        total += now_s(CLOCK_MONOTONIC) - t0;
    }
    return total / calls;
}

static void report_overhead(void)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = NULL;
    if (ld_pool_create(2, NULL, 0, &a, &p, NULL) != LEANDET_OK)
        return;
    double hot = run_cost(p, 20000, 0), cold = run_cost(p, 2000, 20), serial = run_cost(NULL, 20000, 0);
    printf("note: ld_pool_run(2 empty tasks), 2 threads: %.2f us/call back-to-back, %.2f us/call with the worker "
           "asleep (serial: %.3f us/call)\n",
           hot * 1e6, cold * 1e6, serial * 1e6);
    ld_pool_destroy(p);
}

/* ---- affinity ---------------------------------------------------------- */

static int allowed_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

static int first_forbidden_cpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    for (int c = 0; c < LD_CPU_ID_LIMIT; c++)
        if (!CPU_ISSET(c, &set))
            return c;
    return -1;
}

static void test_affinity(void)
{
    int cpus[2];
    if (allowed_cpus(cpus, 2) < 2) {
        printf("note: fewer than 2 CPUs available: affinity pinning not tested\n");
        return;
    }
    cpu_set_t before, after;
    sched_getaffinity(0, sizeof before, &before);
    for (int threads = 2; threads <= 3; threads++) {
        ld_alloc a;
        ld_alloc_init(&a, NULL);
        ld_pool *p = NULL;
        leandet_error err = {0};
        CHECK_MSG(ld_pool_create(threads, cpus, 2, &a, &p, &err) == LEANDET_OK, "%s", err.message);
        if (!p)
            continue;
        meeting m;
        run_meeting(p, threads, &m);
        CHECK(atomic_load(&m.timed_out) == 0);
        for (int k = 1; k < threads; k++)
            CHECK_MSG(m.pinned_cpu[k] == cpus[k % 2], "worker %d pinned to %d, expected %d", k, m.pinned_cpu[k],
                      cpus[k % 2]);
        ld_pool_destroy(p);
    }
    /* The caller's own affinity is left alone. */
    sched_getaffinity(0, sizeof after, &after);
    CHECK(CPU_EQUAL(&before, &after));
}

/* ---- failures clean up ------------------------------------------------- */

static void test_failures(void)
{
    int base = base_tasks;
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_pool *p = (ld_pool *)&a; /* must be reset to NULL on failure */
    leandet_error err = {0};

    /* Arguments. */
    CHECK(ld_pool_create(0, NULL, 0, &a, &p, &err) == LEANDET_ERR_ARGUMENT && p == NULL);
    CHECK(strstr(err.message, "threads") != NULL);
    CHECK(ld_pool_create(LD_POOL_MAX_THREADS + 1, NULL, 0, &a, &p, &err) == LEANDET_ERR_ARGUMENT);
    int big = LD_CPU_ID_LIMIT;
    CHECK(ld_pool_create(2, &big, 1, &a, &p, &err) == LEANDET_ERR_ARGUMENT);
    CHECK(strstr(err.message, "1024") != NULL);
    CHECK(ld_pool_create(2, NULL, 1, &a, &p, &err) == LEANDET_ERR_ARGUMENT);

    /* Allocation failure. */
    for (int threads = 1; threads <= 3; threads++) {
        ld_alloc_init(&a, NULL);
        a.fail_at = 0;
        p = (ld_pool *)&a;
        CHECK(ld_pool_create(threads, NULL, 0, &a, &p, &err) == LEANDET_ERR_NO_MEMORY && p == NULL);
        CHECK(strstr(err.message, "out of memory") != NULL);
        CHECK(a.current == 0);
        CHECK(wait_tasks(base) == base);
    }

    /* pthread_create failing mid-way: worker 1 starts, worker 2 is pinned
     * to a CPU that does not exist. (A CPU merely outside the affinity mask
     * would do: a thread may widen its mask within its cpuset.) */
    int ok_cpu[1], bad_cpu = LD_CPU_ID_LIMIT - 1;
    if (allowed_cpus(ok_cpu, 1) == 1 && sysconf(_SC_NPROCESSORS_CONF) < bad_cpu) {
        int cpus[3] = {ok_cpu[0], ok_cpu[0], bad_cpu};
        ld_alloc_init(&a, NULL);
        p = (ld_pool *)&a;
        memset(&err, 0, sizeof err);
        leandet_status st = ld_pool_create(3, cpus, 3, &a, &p, &err);
        CHECK(st == LEANDET_ERR_ARGUMENT && p == NULL);
        if (st == LEANDET_OK)
            ld_pool_destroy(p);
        char want[32];
        snprintf(want, sizeof want, "CPU %d", bad_cpu);
        CHECK_MSG(strstr(err.message, want) && strstr(err.message, "worker thread 2"), "message: %s", err.message);
        CHECK(a.current == 0);
        CHECK(wait_tasks(base) == base);
    }
}

static void test_cycles(void)
{
    int base = base_tasks;
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    int failed = 0;
    for (int i = 0; i < 200; i++) {
        ld_pool *p = NULL;
        if (ld_pool_create(1 + i % 3, NULL, 0, &a, &p, NULL) != LEANDET_OK) {
            failed++;
            continue;
        }
        if (i % 2)
            ld_pool_run(p, 5, nothing, NULL);
        ld_pool_destroy(p);
    }
    CHECK(failed == 0);
    CHECK(a.current == 0);
    CHECK(wait_tasks(base) == base);
}

/* ---- CPU lists --------------------------------------------------------- */

static void test_cpu_list_syntax(void)
{
    int cpus[64], n = -1;
    leandet_error err = {0};
    CHECK(ld_parse_cpu_list_syntax("0-3,6,8-9", cpus, 64, &n, &err) == LEANDET_OK);
    static const int want[] = {0, 1, 2, 3, 6, 8, 9};
    CHECK(n == 7 && memcmp(cpus, want, sizeof want) == 0);
    CHECK(ld_parse_cpu_list_syntax("5", cpus, 64, &n, &err) == LEANDET_OK && n == 1 && cpus[0] == 5);
    CHECK(ld_parse_cpu_list_syntax("3,1", cpus, 64, &n, &err) == LEANDET_OK && n == 2 && cpus[0] == 3 && cpus[1] == 1);
    CHECK(ld_parse_cpu_list_syntax("1023", cpus, 64, &n, &err) == LEANDET_OK && n == 1 && cpus[0] == 1023);
    CHECK(ld_parse_cpu_list_syntax("2-2", cpus, 64, &n, &err) == LEANDET_OK && n == 1 && cpus[0] == 2);

    static const char *bad[] = {"",    ",",    "0,",  ",0",    "1-",    "-1",   "3-1",   "a",
                                "0-3,x", "1024", "0-1024", "99999999999999999999", " 1",  "1 ",  "1--2", "0,0",
                                "0-2,1", "+1",  "1,,2", "0x1",  "1-2-3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = -1;
        memset(&err, 0, sizeof err);
        leandet_status st = ld_parse_cpu_list_syntax(bad[i], cpus, 64, &n, &err);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        CHECK_MSG(st == LEANDET_ERR_ARGUMENT && n == 0 && strstr(err.message, quoted),
                  "spec \"%s\": status %d n %d message '%s'", bad[i], (int)st, n, err.message);
    }
    CHECK(ld_parse_cpu_list_syntax("0-9", cpus, 4, &n, &err) == LEANDET_ERR_ARGUMENT && n == 0);
    CHECK(strstr(err.message, "more than 4") != NULL);
    CHECK(ld_parse_cpu_list_syntax("3-1", cpus, 64, &n, &err) == LEANDET_ERR_ARGUMENT);
    CHECK(strstr(err.message, "reversed") != NULL);
    CHECK(ld_parse_cpu_list_syntax(NULL, cpus, 64, &n, &err) == LEANDET_ERR_ARGUMENT);
}

static void test_cpu_list_allowed(void)
{
    int allowed[1], cpus[8], n = -1;
    leandet_error err = {0};
    if (allowed_cpus(allowed, 1) == 1) {
        char spec[16];
        snprintf(spec, sizeof spec, "%d", allowed[0]);
        CHECK_MSG(ld_parse_cpu_list(spec, cpus, 8, &n, &err) == LEANDET_OK, "%s", err.message);
        CHECK(n == 1 && cpus[0] == allowed[0]);
    }
    int forbidden = first_forbidden_cpu();
    if (forbidden >= 0) {
        char spec[16], want[32];
        snprintf(spec, sizeof spec, "%d", forbidden);
        snprintf(want, sizeof want, "CPU %d is not available", forbidden);
        CHECK(ld_parse_cpu_list(spec, cpus, 8, &n, &err) == LEANDET_ERR_ARGUMENT && n == 0);
        CHECK_MSG(strstr(err.message, want) && strstr(err.message, spec), "message: %s", err.message);
    }
}

/* ---- default thread count and cgroup quota ---------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_cgroup(void)
{
    CHECK(ld_cgroup_v2_limit("max 100000\n") == 0);
    CHECK(ld_cgroup_v2_limit("200000 100000\n") == 2);
    CHECK(ld_cgroup_v2_limit("150000 100000") == 2);
    CHECK(ld_cgroup_v2_limit("50000 100000\n") == 1);
    CHECK(ld_cgroup_v2_limit("garbage") == 0);
    CHECK(ld_cgroup_v2_limit("100000") == 0);
    CHECK(ld_cgroup_v2_limit("") == 0);
    CHECK(ld_cgroup_v1_limit("-1\n", "100000\n") == 0);
    CHECK(ld_cgroup_v1_limit("300000\n", "100000\n") == 3);
    CHECK(ld_cgroup_v1_limit("250000", "100000") == 3);
    CHECK(ld_cgroup_v1_limit("100000", "0") == 0);

    /* A fake cgroup tree: the tightest quota along the path wins. */
    char root[] = "/tmp/ld_cgroup_XXXXXX";
    if (!mkdtemp(root)) {
        CHECK_MSG(0, "mkdtemp %s failed", root);
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/a", root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/a/b", root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/a/b/cpu.max", root);
    write_file(path, "max 100000\n");
    snprintf(path, sizeof path, "%s/a/cpu.max", root);
    write_file(path, "300000 100000\n");
    CHECK(ld_cgroup_cpu_limit(root, "0::/a/b\n") == 3);
    CHECK(ld_cgroup_cpu_limit(root, "0::/\n") == 0);
    CHECK(ld_cgroup_cpu_limit(root, "0::/elsewhere\n") == 0);
    snprintf(path, sizeof path, "%s/cpu.max", root);
    write_file(path, "100000 100000\n");
    CHECK(ld_cgroup_cpu_limit(root, "0::/a/b\n") == 1);
    CHECK(ld_cgroup_cpu_limit(root, "0::/missing/path\n") == 1); /* reaches the mount root */
    remove(path);

    /* v1: the controller directory is named after the hierarchy's controllers. */
    snprintf(path, sizeof path, "%s/cpu,cpuacct", root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/cpu,cpuacct/cpu.cfs_quota_us", root);
    write_file(path, "200000\n");
    snprintf(path, sizeof path, "%s/cpu,cpuacct/cpu.cfs_period_us", root);
    write_file(path, "100000\n");
    CHECK(ld_cgroup_cpu_limit(root, "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/a/b\n") == 2);
    CHECK(ld_cgroup_cpu_limit(root, "3:cpuacct:/\n") == 0); /* "cpuacct" alone is not "cpu" */

    snprintf(path, sizeof path, "%s/cpu,cpuacct/cpu.cfs_quota_us", root);
    remove(path);
    snprintf(path, sizeof path, "%s/cpu,cpuacct/cpu.cfs_period_us", root);
    remove(path);
    snprintf(path, sizeof path, "%s/cpu,cpuacct", root);
    remove(path);
    snprintf(path, sizeof path, "%s/a/b/cpu.max", root);
    remove(path);
    snprintf(path, sizeof path, "%s/a/b", root);
    remove(path);
    snprintf(path, sizeof path, "%s/a/cpu.max", root);
    remove(path);
    snprintf(path, sizeof path, "%s/a", root);
    remove(path);
    remove(root);

    int cpus[LD_CPU_ID_LIMIT];
    int n_allowed = allowed_cpus(cpus, LD_CPU_ID_LIMIT);
    int def = ld_default_threads();
    CHECK_MSG(def >= 1 && (n_allowed == 0 || def <= n_allowed), "default threads %d, %d CPUs allowed", def,
              n_allowed);
}

int main(void)
{
    base_tasks = settle_baseline();
    test_thread_count();
    test_exactly_once();
    test_all_threads_work();
    test_reverse();
    test_many_tasks();
    test_stealing();
    test_idle(0, 0);
    test_idle(5000, 0);
    test_idle(0, 1);
    test_idle(100, 1);
    test_affinity();
    test_failures();
    test_cycles();
    test_cpu_list_syntax();
    test_cpu_list_allowed();
    test_cgroup();
    report_overhead();
    return ld_test_finish();
}

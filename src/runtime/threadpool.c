/* The worker pool. One job at a time: the caller publishes (fn, ctx,
 * n_tasks) under the mutex with a new generation number and wakes the
 * workers. The tasks are cut into one contiguous range per thread; each
 * thread (the caller is thread 0) takes tasks from the front of its own
 * range, then steals from the back of the others'. So when every thread
 * keeps up, thread k always runs the same share of every job (the same
 * part of consecutive ops' tensors: what it wrote, it reads back from its
 * own cache), and when one is held up the others take its work. Each
 * range is one atomic word that also carries the job's generation, so a
 * worker that wakes late (after the job it was woken for is over) can
 * never claim an index of a newer job with the old job's fn/ctx. The
 * caller returns as soon as every task is *done* - it does not wait for
 * idle workers to wake up and notice there is nothing left, which keeps a
 * call cheap when the caller finishes the tasks itself. Idle threads sleep
 * on condition variables; ld_pool_set_spin_us adds an opt-in bounded spin,
 * ld_pool_hold a longer one over a burst of jobs (the ops of an invoke). */
#define _GNU_SOURCE /* pthread_attr_setaffinity_np, CPU_SET */
#include "runtime/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "runtime/cpuset.h"

typedef struct ld_worker {
    struct ld_pool *pool;
    pthread_t tid;
    int index; /* thread number passed to tasks: 1..threads-1 */
} ld_worker;

/* A thread's range of task units: gen << 32 | front << 16 | back, units
 * [front, back) left. Owner and thieves change it by compare-exchange of
 * the whole word, so a claim is valid for exactly the generation it saw. */
typedef struct ld_range {
    alignas(64) _Atomic uint64_t word;
} ld_range;

#define LD_POOL_MAX_UNITS 0xffff /* units per job; more tasks go in blocks of several */

struct ld_pool {
    ld_alloc *alloc;
    int threads;   /* 1 + n_workers */
    int n_workers; /* workers running (joined by destroy) */
    int reverse;   /* ld_pool_set_reverse; read by the caller only */
    pthread_mutex_t mu;
    pthread_cond_t wake;     /* workers: a new job or stop */
    pthread_cond_t finished; /* caller: the last task of the job is done */
    /* The job; written by the caller under mu, read by workers under mu.
     * gen wraps; that could only confuse a worker stalled between reading
     * a range and its compare-exchange for 2^32 jobs. */
    uint32_t gen;
    int stop;
    ld_pool_fn fn;
    void *ctx;
    int n_tasks;
    int block;                          /* tasks per unit */
    ld_range *ranges;                   /* one per thread (threads of the pool at creation) */
    /* Hot counters on their own cache line, away from the mutex. */
    alignas(64) atomic_uint job_gen;    /* gen, for spinning workers to poll */
    atomic_int done;                    /* tasks finished in this job */
    atomic_int spin_us;                 /* ld_pool_set_spin_us; 0: sleep at once */
    atomic_int hold;                    /* ld_pool_hold: spin up to LD_POOL_HOLD_US between jobs */
    alignas(64) ld_worker workers[];
};

size_t ld_pool_stack_bytes(int threads)
{
    return threads > 1 ? (size_t)(threads - 1) * LD_POOL_STACK_BYTES : 0;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Busy-wait for done(p, arg); 1 if it came true. Up to the pool's spin
 * time; with `held` (a worker waiting for the next job while the pool is
 * held, ld_pool_hold) up to LD_POOL_HOLD_US. Waking a sleeping thread can
 * cost tens of microseconds (much more in VMs, where an idle vCPU is
 * halted), which adds up over hundreds of ops per invoke; the spin trades
 * that for bounded CPU after each job. Past the spin time a held spin
 * also yields now and then: on a busy machine the thread it waits for
 * (the caller, running a serial op) may need this CPU. The caller never
 * spins longer than the spin time for workers' tasks: a task that is not
 * done by then is probably held up by another process, and sleeping
 * gives it the CPU. */
static int spin_for(ld_pool *p, int (*done)(ld_pool *, uint32_t), uint32_t arg, int held)
{
    int us = atomic_load_explicit(&p->spin_us, memory_order_relaxed);
    held = held && atomic_load_explicit(&p->hold, memory_order_relaxed);
    if (us <= 0 && !held)
        return 0;
    const int64_t start = now_ns();
    for (unsigned i = 1;; i++) {
        if (done(p, arg))
            return 1;
        if (i % 64 == 0) {
            const int64_t spent = now_ns() - start;
            if (spent >= (int64_t)us * 1000) {
                if (!held || spent >= (int64_t)LD_POOL_HOLD_US * 1000 ||
                    !atomic_load_explicit(&p->hold, memory_order_relaxed))
                    return 0;
                sched_yield();
            }
        }
        cpu_relax();
    }
}

static int new_job(ld_pool *p, uint32_t seen)
{
    return atomic_load_explicit(&p->job_gen, memory_order_relaxed) != seen;
}

static int all_done(ld_pool *p, uint32_t n)
{
    return atomic_load_explicit(&p->done, memory_order_acquire) == (int)n;
}

/* Claim one unit of job `gen` from range r, from its front (the owner)
 * or its back (a thief); -1 when it has none left (or the job is over). */
static int claim(ld_range *r, uint32_t gen, int back)
{
    uint64_t v = atomic_load_explicit(&r->word, memory_order_acquire);
    for (;;) {
        const unsigned front = (unsigned)(v >> 16) & 0xffff, end = (unsigned)v & 0xffff;
        if ((uint32_t)(v >> 32) != gen || front >= end)
            return -1;
        const uint64_t next = back ? v - 1 : v + (1u << 16);
        if (atomic_compare_exchange_weak_explicit(&r->word, &v, next, memory_order_acq_rel, memory_order_acquire))
            return (int)(back ? end - 1 : front);
    }
}

static void work(ld_pool *p, uint32_t gen, int n, int block, ld_pool_fn fn, void *ctx, int thread)
{
    const int threads = p->threads;
    for (int k = 0; k < threads; k++) {
        ld_range *r = &p->ranges[(thread + k) % threads];
        int u;
        while ((u = claim(r, gen, k != 0)) >= 0) {
            const int t1 = (int)((int64_t)u * block + block < n ? (int64_t)u * block + block : n);
            int count = 0;
            for (int t = u * block; t < t1; t++, count++)
                fn(ctx, t, thread);
            int done = atomic_fetch_add_explicit(&p->done, count, memory_order_acq_rel) + count;
            if (done == n && thread != 0) {
                /* Under the mutex so the caller cannot miss it between its
                 * check of `done` and its wait. */
                pthread_mutex_lock(&p->mu);
                pthread_cond_signal(&p->finished);
                pthread_mutex_unlock(&p->mu);
            }
        }
    }
}

static void *worker_main(void *arg)
{
    ld_worker *w = arg;
    ld_pool *p = w->pool;
    uint32_t seen = 0; /* the pool starts at generation 0 with no job */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        ld_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        int n = p->n_tasks, block = p->block;
        pthread_mutex_unlock(&p->mu);
        work(p, seen, n, block, fn, ctx, w->index);
        spin_for(p, new_job, seen, 1);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static const char *create_error(int rc)
{
    switch (rc) {
    case EAGAIN: return "the system is out of threads or memory for thread stacks";
    case EINVAL: return "invalid attributes (is the CPU available to this process?)";
    case EPERM: return "not permitted";
    default: return strerror(rc);
    }
}

/* Start workers 1..threads-1 (affinity cpus[k % n_cpus]). Workers block
 * asynchronous signals so the application's handlers run on its threads. */
static leandet_status start_workers(ld_pool *p, int threads, const int *cpus, int n_cpus, leandet_error *err)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "thread pool: cannot set up thread attributes");
    leandet_status st = LEANDET_OK;
    int rc = pthread_attr_setstacksize(&attr, LD_POOL_STACK_BYTES);
    if (rc != 0)
        st = ld_fail(err, LEANDET_ERR_INTERNAL, "thread pool: stack size %d refused: %s", LD_POOL_STACK_BYTES,
                     create_error(rc));
    /* Faults stay deliverable so crash handlers (sanitizers) still report. */
    sigset_t all, old;
    sigfillset(&all);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int k = 1; k < threads && st == LEANDET_OK; k++) {
        int cpu = n_cpus > 0 ? cpus[k % n_cpus] : -1;
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            rc = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
            if (rc != 0) {
                st = ld_fail(err, LEANDET_ERR_ARGUMENT, "thread pool: cannot pin worker %d to CPU %d: %s", k, cpu,
                             create_error(rc));
                break;
            }
        }
        ld_worker *w = &p->workers[k - 1];
        w->pool = p;
        w->index = k;
        rc = pthread_create(&w->tid, &attr, worker_main, w);
        if (rc != 0) {
            char pin[32] = "";
            if (cpu >= 0)
                snprintf(pin, sizeof pin, " pinned to CPU %d", cpu);
            leandet_status why = rc == EAGAIN                ? LEANDET_ERR_NO_MEMORY
                                 : rc == EINVAL && cpu >= 0 ? LEANDET_ERR_ARGUMENT
                                                            : LEANDET_ERR_INTERNAL;
            st = ld_fail(err, why, "thread pool: cannot start worker thread %d of %d%s: %s", k, threads - 1, pin,
                         create_error(rc));
            break;
        }
        p->n_workers++;
        p->threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return st;
}

static int init_sync(ld_pool *p)
{
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return 0;
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return 0;
    }
    if (pthread_cond_init(&p->finished, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        return 0;
    }
    return 1;
}

leandet_status ld_pool_create(int threads, const int *cpus, int n_cpus, ld_alloc *alloc, ld_pool **out,
                              leandet_error *err)
{
    if (!alloc || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "ld_pool_create: alloc and out must not be NULL");
    *out = NULL;
    if (threads < 1 || threads > LD_POOL_MAX_THREADS)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "threads: %d is not in 1..%d", threads, LD_POOL_MAX_THREADS);
    if (n_cpus < 0 || (n_cpus > 0 && !cpus))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "thread pool: bad CPU list (n_cpus %d)", n_cpus);
    for (int i = 0; i < n_cpus; i++)
        if (cpus[i] < 0 || cpus[i] >= LD_CPU_ID_LIMIT)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "thread pool: CPU %d (entry %d of the CPU list) is not in 0..%d",
                           cpus[i], i, LD_CPU_ID_LIMIT - 1);
    /* the pool, its workers, then 64-byte aligned ranges */
    size_t head = (sizeof(ld_pool) + (size_t)(threads - 1) * sizeof(ld_worker) + 63) & ~(size_t)63;
    size_t bytes = head + (size_t)threads * sizeof(ld_range);
    ld_pool *p = ld_calloc(alloc, 1, bytes); /* 64-byte aligned */
    if (!p)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "thread pool: out of memory (%zu bytes for %d threads)", bytes,
                       threads);
    p->alloc = alloc;
    p->threads = 1;
    p->ranges = (ld_range *)((unsigned char *)p + head);
    for (int k = 0; k < threads; k++)
        atomic_init(&p->ranges[k].word, 0);
    atomic_init(&p->job_gen, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->spin_us, 0);
    atomic_init(&p->hold, 0);
    if (!init_sync(p)) {
        ld_free(alloc, p);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "thread pool: cannot create a mutex/condition variable");
    }
    leandet_status st = start_workers(p, threads, cpus, n_cpus, err);
    if (st != LEANDET_OK) {
        ld_pool_destroy(p); /* joins the workers started so far */
        return st;
    }
    *out = p;
    return LEANDET_OK;
}

void ld_pool_destroy(ld_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++)
        pthread_join(p->workers[i].tid, NULL);
    pthread_cond_destroy(&p->finished);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    ld_free(p->alloc, p);
}

void ld_pool_set_spin_us(ld_pool *p, int us)
{
    if (p)
        atomic_store_explicit(&p->spin_us, us < 0 ? 0 : us > LD_POOL_MAX_SPIN_US ? LD_POOL_MAX_SPIN_US : us,
                              memory_order_relaxed);
}

void ld_pool_hold(ld_pool *p, int on)
{
    if (p)
        atomic_store_explicit(&p->hold, on != 0, memory_order_relaxed);
}

void ld_pool_set_reverse(ld_pool *p, int on)
{
    if (p)
        p->reverse = on != 0;
}

int ld_pool_split_fine(const ld_pool *p)
{
    return p ? p->reverse : 0;
}

int ld_pool_threads(const ld_pool *p)
{
    return p ? p->threads : 1;
}

void ld_pool_run(ld_pool *p, int n_tasks, ld_pool_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (p && p->reverse) {
        for (int t = n_tasks - 1; t >= 0; t--)
            fn(ctx, t, t % p->threads);
        return;
    }
    if (!p || p->n_workers == 0 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    const int threads = p->threads;
    const int block = n_tasks / LD_POOL_MAX_UNITS + 1;
    const int units = (n_tasks + block - 1) / block;
    pthread_mutex_lock(&p->mu);
    uint32_t gen = ++p->gen;
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    p->block = block;
    /* No task of the previous job is still running (its caller waited for
     * all of them), so resetting `done` cannot race with its increments. */
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    for (int k = 0; k < threads; k++) {
        uint64_t front = (uint64_t)((int64_t)units * k / threads), end = (uint64_t)((int64_t)units * (k + 1) / threads);
        atomic_store_explicit(&p->ranges[k].word, (uint64_t)gen << 32 | front << 16 | end, memory_order_release);
    }
    atomic_store_explicit(&p->job_gen, gen, memory_order_release);
    pthread_mutex_unlock(&p->mu);
    /* After unlocking, so woken workers do not block on the mutex we hold.
     * No wakeup is lost: a worker reads gen under the mutex and is already
     * waiting by the time we could take it. */
    pthread_cond_broadcast(&p->wake);

    work(p, gen, n_tasks, block, fn, ctx, 0);

    if (!all_done(p, (uint32_t)n_tasks) && !spin_for(p, all_done, (uint32_t)n_tasks, 0)) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->done, memory_order_acquire) != n_tasks)
            pthread_cond_wait(&p->finished, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

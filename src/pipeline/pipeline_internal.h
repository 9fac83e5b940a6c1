/* The pipeline object, shared by its setup (pipeline.c) and its running
 * stages (stages.c). */
#ifndef LD_PIPELINE_PIPELINE_INTERNAL_H
#define LD_PIPELINE_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/alloc.h"
#include "pipeline/gate.h"
#include "pipeline/pipeline.h"
#include "pipeline/queue.h"

typedef struct ld_infer_worker {
    leandet_pipeline *p;
    leandet_session *session;
    leandet_detector *detector;
    pthread_t tid;
    int started;
} ld_infer_worker;

typedef struct ld_decode_worker {
    leandet_pipeline *p;
    uint8_t *pixels;
    pthread_t tid;
    int started;
} ld_decode_worker;

enum { Q_FREE, Q_DECODE, Q_INFER, Q_COUNT };

struct leandet_pipeline {
    ld_alloc alloc;
    ld_pipeline_layout lay;
    leandet_pipeline_options opt;
    ld_preprocess pre;
    void **rings[Q_COUNT];
    ld_queue q[Q_COUNT];
    int queues_ready;
    ld_slot **window;          /* finished slots by seq % slots, awaiting delivery */
    pthread_mutex_t mu;        /* guards window, next_seq, next_deliver, finished */
    pthread_cond_t done_cv;    /* a slot reached the window, or finish/cancel */
    int sync_ready;
    ld_gate gate;              /* opt.threads: who may compute now */
    int gate_ready;
    uint64_t next_seq, next_deliver;
    int finished;
    atomic_int cancel;
    ld_slot *slots;            /* lay.slots in circulation, then the poll copy */
    ld_slot *polled;           /* poll mode: copy of the last result handed out (with
                                  its tensor), so its slot is free again at once */
    leandet_pipeline_callback cb;
    void *cb_user;
    pthread_t sink;
    int sink_started, sink_joined;
    ld_infer_worker *infer;
    ld_decode_worker *decode;
    size_t session_bytes;
};

/* Thread bodies (arg: the worker, or the pipeline for the sink). */
void *ld_pipeline_sink_main(void *arg);
void *ld_pipeline_decode_main(void *arg);
void *ld_pipeline_infer_main(void *arg);

/* Put a slot back on the free queue (never blocks: it holds every slot). */
void ld_pipeline_release(leandet_pipeline *p, ld_slot *s);

#endif

/* A bounded multi-producer multi-consumer FIFO of pointers: a ring in
 * caller-provided storage, one mutex and two condition variables. Nothing
 * is allocated after ld_queue_init, so a pipeline built from these queues
 * holds its memory flat however long it runs.
 *
 * Closing: after ld_queue_close, pushes fail at once and pops drain what
 * is left, then fail; every blocked thread wakes. That is how stages tell
 * their consumers "no more items" and how a cancelled pipeline unblocks. */
#ifndef LD_PIPELINE_QUEUE_H
#define LD_PIPELINE_QUEUE_H

#include <pthread.h>
#include <stddef.h>

#include "leandet.h"

typedef struct ld_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **ring;      /* cap entries, owned by the caller */
    size_t cap, head, count;
    int closed;
} ld_queue;

/* Outcomes of push/pop. */
enum { LD_QUEUE_OK = 0, LD_QUEUE_WOULD_BLOCK = 1, LD_QUEUE_CLOSED = -1 };

/* storage: `cap` >= 1 pointers that outlive the queue. */
leandet_status ld_queue_init(ld_queue *q, void **storage, size_t cap, leandet_error *err);
void ld_queue_destroy(ld_queue *q);

/* Append `item`. wait != 0: block while full; wait == 0: LD_QUEUE_WOULD_BLOCK
 * when full. LD_QUEUE_CLOSED once the queue is closed (the item is not added). */
int ld_queue_push(ld_queue *q, void *item, int wait);

/* Take the oldest item into *item. wait != 0: block while empty and open;
 * wait == 0: LD_QUEUE_WOULD_BLOCK when empty and open. LD_QUEUE_CLOSED when
 * closed and drained. */
int ld_queue_pop(ld_queue *q, void **item, int wait);

/* No more pushes; wake every waiter. Idempotent. */
void ld_queue_close(ld_queue *q);

size_t ld_queue_count(ld_queue *q);

#endif

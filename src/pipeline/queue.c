/* Bounded MPMC queue (see queue.h). */
#include "pipeline/queue.h"

#include <string.h>

#include "core/error.h"

leandet_status ld_queue_init(ld_queue *q, void **storage, size_t cap, leandet_error *err)
{
    if (!q || !storage || cap == 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "queue: needs storage for at least one item");
    memset(q, 0, sizeof *q);
    q->ring = storage;
    q->cap = cap;
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "queue: cannot create a mutex");
    if (pthread_cond_init(&q->not_empty, NULL) != 0) {
        pthread_mutex_destroy(&q->mu);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "queue: cannot create a condition variable");
    }
    if (pthread_cond_init(&q->not_full, NULL) != 0) {
        pthread_cond_destroy(&q->not_empty);
        pthread_mutex_destroy(&q->mu);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "queue: cannot create a condition variable");
    }
    return LEANDET_OK;
}

void ld_queue_destroy(ld_queue *q)
{
    if (!q || !q->ring)
        return;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
    q->ring = NULL;
}

int ld_queue_push(ld_queue *q, void *item, int wait)
{
    pthread_mutex_lock(&q->mu);
    while (!q->closed && q->count == q->cap && wait)
        pthread_cond_wait(&q->not_full, &q->mu);
    int rc = LD_QUEUE_OK;
    if (q->closed) {
        rc = LD_QUEUE_CLOSED;
    } else if (q->count == q->cap) {
        rc = LD_QUEUE_WOULD_BLOCK;
    } else {
        q->ring[(q->head + q->count) % q->cap] = item;
        q->count++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int ld_queue_pop(ld_queue *q, void **item, int wait)
{
    pthread_mutex_lock(&q->mu);
    while (!q->closed && q->count == 0 && wait)
        pthread_cond_wait(&q->not_empty, &q->mu);
    int rc = LD_QUEUE_OK;
    if (q->count == 0) {
        rc = q->closed ? LD_QUEUE_CLOSED : LD_QUEUE_WOULD_BLOCK;
    } else {
        *item = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void ld_queue_close(ld_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t ld_queue_count(ld_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

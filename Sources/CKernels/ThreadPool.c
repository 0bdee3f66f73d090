// A minimal fork-join pool for the decode kernels: workers spin briefly after each job (decode issues ~200
// small jobs per token, so a sleeping handoff would dominate), then sleep on a condition variable so that idle
// workers never steal a core from OpenBLAS or the training threads.
#include "CKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define TK_MAX_THREADS 64
#define TK_SPIN_NS 200000  // 0.2 ms of spinning before sleeping

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static int pool_size = 1;               // threads in total, caller included
static int pool_started = 0;            // workers started
static _Atomic uint64_t pool_generation = 0;
static _Atomic int pool_next_task = 0;
static _Atomic int pool_pending = 0;    // workers still inside the current job
static int pool_tasks = 0;
static tk_task_fn pool_fn = NULL;
static void *pool_ctx = NULL;
static _Atomic int pool_active_workers = 0; // workers that take part (index < pool_size - 1)

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void run_tasks(void) {
    for (;;) {
        int t = atomic_fetch_add(&pool_next_task, 1);
        if (t >= pool_tasks) break;
        pool_fn(pool_ctx, t);
    }
}

static void *worker_main(void *arg) {
    int index = (int)(intptr_t)arg;
    uint64_t seen = atomic_load(&pool_generation);
    for (;;) {
        uint64_t start = now_ns();
        uint64_t g;
        while ((g = atomic_load_explicit(&pool_generation, memory_order_acquire)) == seen) {
            if (now_ns() - start > TK_SPIN_NS) {
                pthread_mutex_lock(&pool_mutex);
                while ((g = atomic_load(&pool_generation)) == seen) pthread_cond_wait(&pool_wake, &pool_mutex);
                pthread_mutex_unlock(&pool_mutex);
                break;
            }
        }
        seen = g;
        if (index < atomic_load(&pool_active_workers)) {
            run_tasks();
            if (atomic_fetch_sub(&pool_pending, 1) == 1) {
                pthread_mutex_lock(&pool_mutex);
                pthread_cond_signal(&pool_done);
                pthread_mutex_unlock(&pool_mutex);
            }
        }
    }
    return NULL;
}

void tk_pool_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > TK_MAX_THREADS) threads = TK_MAX_THREADS;
    pthread_mutex_lock(&pool_mutex);
    while (pool_started < threads - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, worker_main, (void *)(intptr_t)pool_started) != 0) { pthread_attr_destroy(&attr); break; }
        pthread_attr_destroy(&attr);
        pool_started++;
    }
    pool_size = threads <= pool_started + 1 ? threads : pool_started + 1;
    pthread_mutex_unlock(&pool_mutex);
}

int tk_pool_threads(void) { return pool_size; }

void tk_parallel_for(int tasks, tk_task_fn fn, void *ctx) {
    int workers = pool_size - 1;
    if (tasks <= 1 || workers <= 0) {
        for (int t = 0; t < tasks; t++) fn(ctx, t);
        return;
    }
    if (workers > tasks - 1) workers = tasks - 1;
    pool_fn = fn;
    pool_ctx = ctx;
    pool_tasks = tasks;
    atomic_store(&pool_next_task, 0);
    atomic_store(&pool_active_workers, workers);
    // Every started worker wakes for a generation; only the first `workers` take part, the rest go back to sleep.
    atomic_store(&pool_pending, workers);
    pthread_mutex_lock(&pool_mutex);
    atomic_fetch_add_explicit(&pool_generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_mutex);
    run_tasks();
    uint64_t start = now_ns();
    while (atomic_load_explicit(&pool_pending, memory_order_acquire) > 0) {
        if (now_ns() - start > TK_SPIN_NS) {
            pthread_mutex_lock(&pool_mutex);
            while (atomic_load(&pool_pending) > 0) pthread_cond_wait(&pool_done, &pool_mutex);
            pthread_mutex_unlock(&pool_mutex);
            break;
        }
    }
}

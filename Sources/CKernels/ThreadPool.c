// A minimal fork-join pool for the decode kernels. Workers spin briefly after each job (decode issues ~200 small
// jobs per token, so a sleeping handoff would dominate), then sleep on a condition variable so that idle workers
// never steal a core from OpenBLAS or the training threads. The caller counts finished tasks, not workers: a worker
// the OS has not scheduled yet is simply not waited for — the caller takes its tasks (the machine is shared).
#include "CKernels.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define TK_MAX_THREADS 64
#define TK_SPIN_NS 100000  // 0.1 ms of spinning before sleeping

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
// Held for a whole job: a second caller (another thread, or a task calling back in) runs its tasks itself.
static pthread_mutex_t job_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static _Atomic int pool_size = 1;            // threads in total, caller included (read without the mutex)
static int pool_started = 0;                 // workers started
static _Atomic uint32_t pool_generation = 0; // bumped per job; wakes the workers
// (generation << 32) | next task index: a worker claims a task only while the counter is still its job's.
static _Atomic uint64_t pool_counter = 0;
static _Atomic int pool_finished = 0;        // tasks of the current job completed
static _Atomic int pool_caller_sleeping = 0;
static _Atomic int pool_tasks = 0;
// The counter's task field while a new job's description is written: above any task count, in the new generation,
// so that nobody can claim against the old job's counter any more (see tk_parallel_for).
#define TK_CLOSED 0xFFFFFFFFu
static tk_task_fn pool_fn = NULL;
static void *pool_ctx = NULL;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    _mm_pause();
#endif
}

/// Claims and runs tasks of job `gen` until none are left.
static void run_tasks(uint32_t gen) {
    for (;;) {
        uint64_t c = atomic_load_explicit(&pool_counter, memory_order_acquire);
        if ((uint32_t)(c >> 32) != gen) return;
        uint32_t task = (uint32_t)c;
        // Acquire: a task count written for a later job comes with that job's closed counter, so the CAS below fails.
        if (task >= (uint32_t)atomic_load_explicit(&pool_tasks, memory_order_acquire)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool_counter, &c, c + 1, memory_order_acq_rel, memory_order_acquire)) continue;
        pool_fn(pool_ctx, (int)task);
        if (atomic_fetch_add(&pool_finished, 1) + 1 == atomic_load(&pool_tasks) &&
            atomic_load(&pool_caller_sleeping)) {
            pthread_mutex_lock(&pool_mutex);
            pthread_cond_signal(&pool_done);
            pthread_mutex_unlock(&pool_mutex);
        }
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    uint32_t seen = atomic_load(&pool_generation);
    for (;;) {
        uint64_t start = now_ns();
        uint32_t g;
        while ((g = atomic_load_explicit(&pool_generation, memory_order_acquire)) == seen) {
            cpu_relax();
            if (now_ns() - start > TK_SPIN_NS) {
                pthread_mutex_lock(&pool_mutex);
                while ((g = atomic_load(&pool_generation)) == seen) pthread_cond_wait(&pool_wake, &pool_mutex);
                pthread_mutex_unlock(&pool_mutex);
                break;
            }
        }
        seen = g;
        run_tasks(g);
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
        int failed = pthread_create(&t, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool_started++;
    }
    atomic_store_explicit(&pool_size, threads <= pool_started + 1 ? threads : pool_started + 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool_mutex);
}

int tk_pool_threads(void) { return atomic_load_explicit(&pool_size, memory_order_relaxed); }

void tk_parallel_for(int tasks, tk_task_fn fn, void *ctx) {
    if (tasks <= 1 || tk_pool_threads() <= 1 || pthread_mutex_trylock(&job_mutex) != 0) {
        for (int t = 0; t < tasks; t++) fn(ctx, t);
        return;
    }
    // Workers beyond pool_size (after a resize down) still wake, but the job is small enough that it rarely matters.
    uint32_t gen = atomic_load(&pool_generation) + 1;
    // Close the last job's counter before its description is rewritten. A worker still looping over that job (it
    // read its counter, then was descheduled) would otherwise check a task index against this job's task count and
    // CAS the old counter successfully: it would run this job's function with an index past its tasks, or count a
    // phantom task into this job's finished tasks so that the caller returns while a task still reads its context.
    atomic_store_explicit(&pool_counter, ((uint64_t)gen << 32) | TK_CLOSED, memory_order_seq_cst);
    pool_fn = fn;
    pool_ctx = ctx;
    atomic_store_explicit(&pool_finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool_tasks, tasks, memory_order_release);
    atomic_store_explicit(&pool_counter, (uint64_t)gen << 32, memory_order_release);
    pthread_mutex_lock(&pool_mutex);
    atomic_store_explicit(&pool_generation, gen, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_mutex);
    run_tasks(gen);
    uint64_t start = now_ns();
    while (atomic_load_explicit(&pool_finished, memory_order_acquire) < tasks) {
        cpu_relax();
        if (now_ns() - start > TK_SPIN_NS) {
            pthread_mutex_lock(&pool_mutex);
            atomic_store(&pool_caller_sleeping, 1);
            while (atomic_load(&pool_finished) < tasks) pthread_cond_wait(&pool_done, &pool_mutex);
            atomic_store(&pool_caller_sleeping, 0);
            pthread_mutex_unlock(&pool_mutex);
            break;
        }
    }
    pthread_mutex_unlock(&job_mutex);
}

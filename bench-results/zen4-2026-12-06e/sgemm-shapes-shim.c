#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <pthread.h>
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static sgemm_t real;
typedef struct { int ta, tb, m, n, k; long calls; double t; int tid2; } E;
static E e[4096]; static int ne; static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int tid = -1; static int ntid;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
void cblas_sgemm(int o, int ta, int tb, int m, int n, int k, float al, const float* a, int lda, const float* b, int ldb, float be, float* c, int ldc) {
    if (!real) real = (sgemm_t)dlsym(RTLD_NEXT, "cblas_sgemm");
    double t0 = now();
    real(o, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
    double dt = now() - t0;
    pthread_mutex_lock(&mu);
    if (tid < 0) tid = ntid++;
    int i; for (i = 0; i < ne; i++) if (e[i].ta == ta && e[i].tb == tb && e[i].m == m && e[i].n == n && e[i].k == k) break;
    if (i == ne && ne < 4096) { e[ne] = (E){ta, tb, m, n, k, 0, 0, 0}; ne++; }
    if (i < 4096) { e[i].calls++; e[i].t += dt; if (tid > 0) e[i].tid2 = 1; }
    pthread_mutex_unlock(&mu);
}
__attribute__((destructor)) static void dump(void) {
    FILE* f = fopen(getenv("SHIM_OUT") ? getenv("SHIM_OUT") : "/tmp/shim.txt", "w");
    for (int i = 0; i < ne; i++) fprintf(f, "%d %d %6d %6d %6d calls %7ld total %8.3f ms mean %8.4f ms %6.1f GF/s %s\n", e[i].ta, e[i].tb, e[i].m, e[i].n, e[i].k, e[i].calls, e[i].t * 1e3, e[i].t / e[i].calls * 1e3, 2.0 * e[i].m * e[i].n * e[i].k * e[i].calls / e[i].t / 1e9, e[i].tid2 ? "multi-thread-caller" : "");
    fclose(f);
}

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <pthread.h>
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static sgemm_t real;
static double T[4], F[4]; static long N[4]; static int headCalls; static double tStart, tEnd;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
void cblas_sgemm(int o, int ta, int tb, int m, int n, int k, float al, const float* a, int lda, const float* b, int ldb, float be, float* c, int ldc) {
    if (!real) real = (sgemm_t)dlsym(RTLD_NEXT, "cblas_sgemm");
    double t0 = now();
    real(o, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
    double dt = now() - t0;
    int cat = n >= 49152 ? 0 : k >= 49152 ? 1 : (m <= 64 && n <= 64) || (m<=64 && k <= 64 && n<=64) ? 2 : 3;
    if (m <= 64 && n <= 64 && k <= 64) cat = 2;
    pthread_mutex_lock(&mu);
    if (cat == 0) { headCalls++; }
    int skip = atoi(getenv("SHIM_SKIP") ? getenv("SHIM_SKIP") : "2");
    if (headCalls > skip) { if (!tStart) tStart = t0; tEnd = t0 + dt; T[cat] += dt; F[cat] += 2.0 * m * n * k; N[cat]++; }
    pthread_mutex_unlock(&mu);
}
__attribute__((destructor)) static void dump(void) {
    const char* names[] = {"head fwd", "head bwd", "attention(<=64)", "layers"};
    FILE* f = fopen(getenv("SHIM_OUT") ? getenv("SHIM_OUT") : "/tmp/shim.txt", "w");
    fprintf(f, "window %.3f s\n", tEnd - tStart);
    for (int i = 0; i < 4; i++) fprintf(f, "%-16s calls %8ld total %9.1f ms %7.1f GF/s\n", names[i], N[i], T[i] * 1e3, F[i] / T[i] / 1e9);
    fclose(f);
}

// Step-shaped sgemm through whichever cblas_sgemm is loaded (dlopen), 2 threads, mean of N calls after warm-up.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static float* buf(size_t n) { float* p = aligned_alloc(64, ((n * 4 + 63) / 64) * 64); for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f; return p; }
int main(int argc, char** argv) {
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    sgemm_t g = (sgemm_t)dlsym(h, "cblas_sgemm");
    int calls = argc > 2 ? atoi(argv[2]) : 30;
    // {M, N, K, kind}: kind 0 fwd C = X·Wᵀ (W N×K), 1 bwd dX = dY·W (W K... as N×K with N = out), 2 dW = dYᵀ·X
    struct { int m, n, k, kind; const char* name; } s[] = {
        {218, 1536, 576, 0, "gate fwd"}, {218, 1536, 576, 1, "gate dx"}, {218, 960, 576, 0, "qkv fwd"}, {218, 576, 576, 0, "o fwd"}, {218, 3072, 576, 0, "gate+up fwd"}, {218, 576, 1536, 0, "down fwd"},
        {218, 960, 576, 1, "qkv dx"}, {218, 576, 576, 1, "o dx"}, {218, 3072, 576, 1, "gate+up dx"}, {218, 576, 1536, 1, "down dx"},
        {157, 49152, 576, 0, "head fwd"}, {157, 49152, 576, 1, "head dx"},
        {218, 3072, 576, 2, "gate+up dW"}, {218, 576, 1536, 2, "down dW"},
    };
    double tf = 0, tt = 0, lf = 0, lt = 0;
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        int m = s[i].m, n = s[i].n, k = s[i].k;
        float *x = buf((size_t)m * k), *w = buf((size_t)n * k), *y = buf((size_t)m * n);
        double t = 0;
        for (int c = -3; c < calls; c++) {
            double t0 = now();
            if (s[i].kind == 0) g(RowMajor, NoTrans, Trans, m, n, k, 1, x, k, w, k, 0, y, n);
            else if (s[i].kind == 1) g(RowMajor, NoTrans, NoTrans, m, k, n, 1, y, n, w, k, 1, x, k);
            else g(RowMajor, Trans, NoTrans, n, k, m, 1, y, n, x, k, 1, w, k);
            if (c >= 0) t += now() - t0;
        }
        double fl = 2.0 * m * n * k * calls;
        printf("%-12s M %5d N %5d K %5d  %7.1f GF/s  %.3f ms\n", s[i].name, m, n, k, fl / t / 1e9, t / calls * 1e3);
        tf += fl; tt += t;
        if (i < 8) { lf += fl; lt += t; }
        free(x); free(w); free(y);
    }
    printf("layers %.1f GF/s, all %.1f GF/s\n", lf / lt / 1e9, tf / tt / 1e9);
}

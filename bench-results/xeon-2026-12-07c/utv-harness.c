// utv harness: tk_lora_utv(g, transposed, u[T x r], y[T x n]) on the real pool; COPIES rotates y copies.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CKernels.h"
int tk_use_fast_path(void) { return 1; }
int tk_uses_vnni(void) { return getenv("VNNI") != NULL; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    tk_pool_set_threads(getenv("THREADS") ? atoi(getenv("THREADS")) : 2);
    int T = argc > 1 ? atoi(argv[1]) : 437, n = argc > 2 ? atoi(argv[2]) : 1536, r = 8, iters = argc > 3 ? atoi(argv[3]) : 200;
    int NC = getenv("COPIES") ? atoi(getenv("COPIES")) : 1;
    size_t ys = (size_t)T * n; float *y = aligned_alloc(64, ys * 4 * NC); float *u = malloc(sizeof(float) * T * r);
    for (size_t i = 0; i < ys * NC; i++) y[i] = (float)(rand() % 1000) / 1000 - 0.5f;
    for (int i = 0; i < T * r; i++) u[i] = (float)(rand() % 1000) / 1000 - 0.5f;
    float *g = calloc((size_t)n * r, 4); double best = 1e9;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (int it = 0; it < iters; it++) tk_lora_utv(g, 1, u, r, y + (it % NC) * ys, n, T, r, n, 1e-3f);
        double t = (now() - t0) / iters; if (t < best) best = t;
    }
    double chk = 0; for (int i = 0; i < n * r; i++) chk += g[i];
    printf("T %d n %d copies %d: %.1f us, %.1f GFLOP/s (chk %.6g)\n", T, n, NC, best * 1e6, 2.0 * T * n * r / best / 1e9, chk);
}

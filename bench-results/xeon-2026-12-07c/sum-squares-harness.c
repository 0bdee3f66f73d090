// Σ g² in double over a 540 MB buffer (full fine-tuning's gradients), 64K-value chunks on the real pool, 2 threads.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"
int tk_use_fast_path(void) { return 1; }
int tk_uses_vnni(void) { return 1; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static const float *G; static double *P; static int64_t N; enum { CH = 1 << 16 };
static void task(void *c, int t) { (void)c; int64_t lo = (int64_t)t * CH, hi = lo + CH < N ? lo + CH : N; P[t] = tk_sum_squares_f64(G + lo, hi - lo); }
int main(int argc, char **argv) {
    tk_pool_set_threads(getenv("THREADS") ? atoi(getenv("THREADS")) : 2);
    N = argc > 1 ? atoll(argv[1]) : 135000000; float *g = malloc(N * 4); for (int64_t i = 0; i < N; i++) g[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    G = g; int tasks = (int)((N + CH - 1) / CH); P = malloc(tasks * sizeof(double)); double best = 1e9, s = 0;
    for (int r = 0; r < 7; r++) { double t0 = now(); tk_parallel_for(tasks, task, NULL); double t = now() - t0; if (t < best) best = t; s = 0; for (int i = 0; i < tasks; i++) s += P[i]; }
    printf("%lld values: %.1f ms, %.1f GB/s, sum %.17g\n", (long long)N, best * 1e3, N * 4 / best / 1e9, s);
}

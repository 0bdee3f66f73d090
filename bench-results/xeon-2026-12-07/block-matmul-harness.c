#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <stdint.h>
void tk_block_matmul(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b, int64_t ldb,
                     int transb, int64_t m, int64_t n, int64_t k, float alpha, float beta);
int vnni = 1;
int tk_use_fast_path(void) { return 1; }
int tk_uses_vnni(void) { return vnni; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    int M = 64, N = 64, K = 64, ta = atoi(argv[1]), tb = atoi(argv[2]);
    float *a = malloc(4 * 64 * 64), *b = malloc(4 * 64 * 64), *c = malloc(4 * 64 * 64);
    for (int i = 0; i < 4096; i++) { a[i] = rand() / (float)RAND_MAX; b[i] = rand() / (float)RAND_MAX; c[i] = 0; }
    for (int v = 0; v < 2; v++) {
        vnni = v;
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (int it = 0; it < 20000; it++) tk_block_matmul(c, 64, a, 64, ta, b, 64, tb, M, N, K, 1.0f, it & 1 ? 1.0f : 0.0f);
            double t = (now() - t0) / 20000;
            if (t < best) best = t;
        }
        printf("ta %d tb %d %s: %.2f us, %.1f GFLOP/s\n", ta, tb, v ? "512" : "avx2", best * 1e6, 2.0 * M * N * K / best * 1e-9);
    }
    return 0;
}

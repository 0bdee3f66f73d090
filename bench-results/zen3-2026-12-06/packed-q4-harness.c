// Single-thread timing of tk_matmul_q8_packed (AVX2 path) on a Q4_1 1536 x 576 matrix, batch B.
// Usage: harness [B=16] [iters=300] [type=3 (Q4_1); 8 = Q8_0, 2 = Q4_0] [rows=1536]; COPIES=n in the environment
// rotates n packed copies of the matrix (128 copies of Q4_1 1536 x 576: 35 MB, the weights not in cache).
// Build (as Package.swift builds CKernels): clang -O3 -I Sources/CKernels/include -I Sources/CKernels \
//     packed-q4-harness.c Sources/CKernels/PackedMatmul.c -o harness
// With -DTK_REAL_POOL and Sources/CKernels/ThreadPool.c (-lpthread) it runs on Tailor's pool, THREADS=n threads; VNNI=1
// takes the AVX-512 VNNI path (bench-results/xeon-2026-12-07b used both).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include "CKernels.h"
int tk_use_fast_path(void) { return 1; }
int tk_uses_vnni(void) { return getenv("VNNI") != NULL; }
#ifndef TK_REAL_POOL
int tk_pool_threads(void) { return 1; }
void tk_parallel_for(int n, void (*f)(void *, int), void *ctx) { for (int i = 0; i < n; i++) f(ctx, i); }
void tk_pool_set_threads(int threads) { (void)threads; }
#endif
void tk_matmul_q8_ref(int type, const void *w, size_t wrb, int64_t rows, int64_t cols, const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy) { abort(); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    tk_pool_set_threads(getenv("THREADS") ? atoi(getenv("THREADS")) : 1);
    int rows = 1536, cols = 576, B = argc > 1 ? atoi(argv[1]) : 16, iters = argc > 2 ? atoi(argv[2]) : 300;
    int T = argc > 3 ? atoi(argv[3]) : TK_Q4_1; if (argc > 4) rows = atoi(argv[4]); int nb = cols / 32; size_t bsz = T == TK_Q8_0 ? 34 : 20; size_t wrb = nb * bsz;
    uint8_t *w = malloc(rows * wrb); srand(1);
    for (size_t i = 0; i < rows * wrb; i++) w[i] = rand();
    for (int r = 0; r < rows; r++) for (int i = 0; i < nb; i++) { uint16_t h = 0x2000 | (rand() & 0x3ff); memcpy(w + r * wrb + i * bsz, &h, 2); if (T != TK_Q8_0) memcpy(w + r * wrb + i * bsz + 2, &h, 2); }
    size_t pb = tk_q8_packed_bytes(T, rows, cols); int NC = getenv("COPIES") ? atoi(getenv("COPIES")) : 1; size_t pba = (pb + 63) / 64 * 64; uint8_t *packed0 = aligned_alloc(64, pba * NC);
    for (int c = 0; c < NC; c++) tk_q8_pack(T, w, wrb, rows, cols, packed0 + c * pba);
    tk_block_q8 *xq = calloc(B * nb, sizeof *xq);
    for (int i = 0; i < B * nb; i++) { xq[i].d = 0.01f * (1 + i % 7); xq[i].s = 1.0f; for (int j = 0; j < 32; j++) xq[i].qs[j] = (int8_t)(rand() % 255 - 127); }
    float *y = malloc(sizeof(float) * B * rows); double best = 1e9; double chk = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int it = 0; it < iters; it++) tk_matmul_q8_packed(T, packed0 + (it % NC) * pba, w, wrb, rows, cols, xq, B, y, rows);
        double t = (now() - t0) / iters; if (t < best) best = t;
    }
    for (int i = 0; i < B * rows; i++) chk += y[i];
    printf("B %d: %.1f us, %.1f GMAC/s (checksum %.6g)\n", B, best * 1e6, (double)rows * cols * B / best / 1e9, chk);
}

# utv-bench.c: LoRA's sums over rows (dB += dyᵀ·u, dA += duᵀ·x) of a SmolLM2 layer's seven projections, 437 rows, rank 8, 2 pool threads, mean of 60 alternated repetitions, AVX2 kernel (tk_set_vnni(0)) vs the AVX-512 one; clang -O3 -mavx2 -mfma -I Sources/CKernels/include utv-bench.c Sources/CKernels/*.c; two runs
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
  int T = 437, r = 8, reps = 60;
  tk_pool_set_threads(2);
  int tin[7] = {576, 576, 576, 576, 576, 576, 1536}, tout[7] = {576, 192, 192, 576, 1536, 1536, 576};
  float *x = malloc(4 * T * 1536), *y = malloc(4 * T * 1536), *u = malloc(4 * T * r), *du = malloc(4 * T * r);
  float *dA = malloc(4 * r * 1536), *dB = malloc(4 * r * 1536);
  for (int i = 0; i < T * 1536; i++) { x[i] = (i % 7) * 0.1f; y[i] = (i % 5) * 0.1f; }
  for (int i = 0; i < T * r; i++) { u[i] = (i % 3) * 0.1f; du[i] = (i % 11) * 0.1f; }
  for (int i = 0; i < r * 1536; i++) dA[i] = dB[i] = 0;
  double tm[2][2] = {{0}};
  for (int rep = 0; rep < reps + 2; rep++) for (int mode = 0; mode < 2; mode++) {
    tk_set_vnni(mode);
    for (int t = 0; t < 7; t++) {
      int in = tin[t], out = tout[t]; double t0 = now();
      tk_lora_utv(dB, 1, u, r, y, out, T, r, out, 2); double t1 = now();
      tk_lora_utv(dA, 0, du, r, x, in, T, r, in, 1); double t2 = now();
      if (rep >= 2) { tm[mode][0] += t1 - t0; tm[mode][1] += t2 - t1; }
    }
  }
  printf("dB+=dy^Tu  avx2 %.3f  avx512 %.3f ms/layer\n", tm[0][0] / reps * 1e3, tm[1][0] / reps * 1e3);
  printf("dA+=du^Tx  avx2 %.3f  avx512 %.3f ms/layer\n", tm[0][1] / reps * 1e3, tm[1][1] / reps * 1e3);
}

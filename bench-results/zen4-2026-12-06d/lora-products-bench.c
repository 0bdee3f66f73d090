#include "CKernels.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
  int T = 437, r = 8, reps = 40;  // a SmolLM2 step: 437 rows, rank 8, its seven projections
  tk_pool_set_threads(argc > 1 ? atoi(argv[1]) : 2); openblas_set_num_threads(argc > 2 ? atoi(argv[2]) : 2);
  int tin[7] = {576, 576, 576, 576, 576, 576, 1536}, tout[7] = {576, 192, 192, 576, 1536, 1536, 576};
  float *x = malloc(4 * T * 1536), *y = malloc(4 * T * 1536), *dx = malloc(4 * T * 1536), *u = malloc(4 * T * r), *du = malloc(4 * T * r);
  float *A = malloc(4 * r * 1536), *B = malloc(4 * r * 1536), *dA = malloc(4 * r * 1536), *dB = malloc(4 * r * 1536), *tmp = malloc(4 * r * 1536);
  for (int i = 0; i < T * 1536; i++) { x[i] = (i % 7) * 0.1f; y[i] = (i % 5) * 0.1f; dx[i] = 0; }
  for (int i = 0; i < r * 1536; i++) { A[i] = (i % 3) * 0.1f; B[i] = (i % 11) * 0.1f; dA[i] = dB[i] = 0; }
  double tk[6] = {0}, tb[6] = {0};
  const char *names[6] = {"u=xA^T", "y+=uB^T", "dB+=dy^Tu", "du=dyB", "dA+=du^Tx", "dx+=duA"};
  for (int rep = 0; rep < reps + 2; rep++) for (int mode = 0; mode < 2; mode++) for (int t = 0; t < 7; t++) {
    int in = tin[t], out = tout[t]; double t0, d[6];
    if (mode == 0) {
      t0 = now(); tk_transpose(tmp, A, r, in); tk_lora_xm(u, r, x, in, tmp, T, in, r, 1, 0); d[0] = now() - t0;
      t0 = now(); tk_transpose(tmp, B, out, r); tk_lora_uw(y, out, u, r, tmp, T, r, out, 2, 1); d[1] = now() - t0;
      t0 = now(); tk_lora_utv(dB, 1, u, r, y, out, T, r, out, 2); d[2] = now() - t0;
      t0 = now(); tk_lora_xm(du, r, y, out, B, T, out, r, 2, 0); d[3] = now() - t0;
      t0 = now(); tk_lora_utv(dA, 0, du, r, x, in, T, r, in, 1); d[4] = now() - t0;
      t0 = now(); tk_lora_uw(dx, in, du, r, A, T, r, in, 1, 1); d[5] = now() - t0;
    } else {
      t0 = now(); cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, r, in, 1, x, in, A, in, 0, u, r); d[0] = now() - t0;
      t0 = now(); cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, out, r, 2, u, r, B, r, 1, y, out); d[1] = now() - t0;
      t0 = now(); cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, T, 2, y, out, u, r, 1, dB, r); d[2] = now() - t0;
      t0 = now(); cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, r, out, 2, y, out, B, r, 0, du, r); d[3] = now() - t0;
      t0 = now(); cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, T, 1, du, r, x, in, 1, dA, in); d[4] = now() - t0;
      t0 = now(); cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, in, r, 1, du, r, A, in, 1, dx, in); d[5] = now() - t0;
    }
    if (rep >= 2) for (int k = 0; k < 6; k++) (mode ? tb : tk)[k] += d[k];
  }
  double sk = 0, sb = 0;
  for (int k = 0; k < 6; k++) { printf("%-10s tailor %.3f ms/layer  openblas %.3f ms/layer\n", names[k], tk[k] / reps * 1e3, tb[k] / reps * 1e3); sk += tk[k]; sb += tb[k]; }
  printf("total tailor %.2f openblas %.2f ms/layer\n", sk / reps * 1e3, sb / reps * 1e3);
}

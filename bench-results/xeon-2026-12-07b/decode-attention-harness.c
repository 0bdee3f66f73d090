// Decode attention: 3 query heads over one kv head's f16 keys/values (SmolLM2 shape), per-head calls vs grouped.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CKernels.h"

static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
#ifdef GROUPED
void tk_attend_heads_f16(float *out, float *probs, int64_t probs_stride, const float *q, const uint16_t *k,
                         const uint16_t *v, int64_t tk, int64_t hd, int64_t kv_stride, float scale, int heads);
#endif
int main(int argc, char **argv) {
  int tk = argc > 1 ? atoi(argv[1]) : 100, NC = getenv("COPIES") ? atoi(getenv("COPIES")) : 1, iters = 2000;
  int hd = 64, kvs = 192, G = 3;
  size_t per = (size_t)tk * kvs;
  uint16_t *k = malloc(per * NC * 2), *v = malloc(per * NC * 2);
  for (size_t i = 0; i < per * NC; i++) { k[i] = tk_f32_to_f16((rand() % 200 - 100) * 0.01f); v[i] = tk_f32_to_f16((rand() % 200 - 100) * 0.01f); }
  float q[3 * 64], out[3 * 64], probs[3 * 4096];
  for (int i = 0; i < 3 * 64; i++) q[i] = (rand() % 200 - 100) * 0.01f;
  double best = 1e9, chk = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t = now();
    for (int it = 0; it < iters; it++) {
      const uint16_t *kk = k + (it % NC) * per, *vv = v + (it % NC) * per;
#ifdef GROUPED
      tk_attend_heads_f16(out, probs, tk, q, kk, vv, tk, hd, kvs, 0.125f, G);
#else
      for (int h = 0; h < G; h++) tk_attend_one_f16(out + h * hd, probs + h * tk, q + h * hd, kk, vv, tk, hd, kvs, 0.125f);
#endif
    }
    double dt = (now() - t) / iters; if (dt < best) best = dt;
  }
  for (int i = 0; i < 3 * 64; i++) chk += out[i];
  printf("tk %d copies %d: %.2f us per 3 heads (chk %.6g)\n", tk, NC, best * 1e6, chk);
}

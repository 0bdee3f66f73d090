// The LoRA delta of one row during decode: y[out] += Bᵀ-layout product of (scale·A·x). Each row is computed on its
// own and every output is summed over k = 0..rank-1 in that order, so a sequence's logits do not depend on which
// other sequences share its decode batch (grouping rows into one sgemm could change the summation order).
#include "CKernels.h"
#include <immintrin.h>
#include <math.h>

int tk_use_fast_path(void);

// Outputs o0..out-1, one at a time: y, then k = 0, 1, … with fused multiply-adds — the vector lanes' order too.
static void add_bt_scalar(float *y, const float *t, const float *bt, int64_t rank, int64_t out, int64_t o0) {
    for (int64_t o = o0; o < out; o++) {
        float s = y[o];
        for (int64_t k = 0; k < rank; k++) s = fmaf(t[k], bt[k * out + o], s);
        y[o] = s;
    }
}

static void lora_row_ref(float *y, const float *x, const float *a, const float *bt, int64_t rank, int64_t in,
                         int64_t out, float scale, float *t) {
    for (int64_t k = 0; k < rank; k++) t[k] = tk_dot_ref(a + k * in, x, in) * scale;
    add_bt_scalar(y, t, bt, rank, out, 0);
}

__attribute__((target("avx2,fma")))
static void lora_row_avx2(float *y, const float *x, const float *a, const float *bt, int64_t rank, int64_t in,
                          int64_t out, float scale, float *t) {
    for (int64_t k = 0; k < rank; k++) t[k] = tk_dot(a + k * in, x, in) * scale;
    int64_t o = 0;
    for (; o + 16 <= out; o += 16) {
        __m256 y0 = _mm256_loadu_ps(y + o), y1 = _mm256_loadu_ps(y + o + 8);
        for (int64_t k = 0; k < rank; k++) {
            const __m256 tk = _mm256_set1_ps(t[k]);
            y0 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(bt + k * out + o), y0);
            y1 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(bt + k * out + o + 8), y1);
        }
        _mm256_storeu_ps(y + o, y0); _mm256_storeu_ps(y + o + 8, y1);
    }
    add_bt_scalar(y, t, bt, rank, out, o);
}

void tk_lora_row(float *y, const float *x, const float *a, const float *bt, int64_t rank, int64_t in, int64_t out,
                 float scale, float *t) {
    if (tk_use_fast_path()) lora_row_avx2(y, x, a, bt, rank, in, out, scale, t);
    else lora_row_ref(y, x, a, bt, rank, in, out, scale, t);
}

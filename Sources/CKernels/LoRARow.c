// The LoRA delta of one row during decode: y[out] += Bᵀ-layout product of (scale·A·x). Each row is computed on its
// own and every output is summed over k = 0..rank-1 in that order, so a sequence's logits do not depend on which
// other sequences share its decode batch (grouping rows into one sgemm could change the summation order).
#include "CKernels.h"
#include "VectorInline.h"
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

// Four rows of A against x at once, each summed exactly as tk_dot sums one (two 8-lane accumulators over 16-float
// steps, one horizontal sum, then the tail): the same bits, with four independent chains in flight instead of two.
__attribute__((target("avx2,fma")))
static void dots4(const float *a, int64_t in, const float *x, float *t) {
    const float *a0 = a, *a1 = a + in, *a2 = a + 2 * in, *a3 = a + 3 * in;
    __m256 p0 = _mm256_setzero_ps(), q0 = p0, p1 = p0, q1 = p0, p2 = p0, q2 = p0, p3 = p0, q3 = p0;
    int64_t i = 0;
    for (; i + 16 <= in; i += 16) {
        const __m256 xa = _mm256_loadu_ps(x + i), xb = _mm256_loadu_ps(x + i + 8);
        p0 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + i), xa, p0); q0 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + i + 8), xb, q0);
        p1 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + i), xa, p1); q1 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + i + 8), xb, q1);
        p2 = _mm256_fmadd_ps(_mm256_loadu_ps(a2 + i), xa, p2); q2 = _mm256_fmadd_ps(_mm256_loadu_ps(a2 + i + 8), xb, q2);
        p3 = _mm256_fmadd_ps(_mm256_loadu_ps(a3 + i), xa, p3); q3 = _mm256_fmadd_ps(_mm256_loadu_ps(a3 + i + 8), xb, q3);
    }
    float s0 = hsum8(_mm256_add_ps(p0, q0)), s1 = hsum8(_mm256_add_ps(p1, q1));
    float s2 = hsum8(_mm256_add_ps(p2, q2)), s3 = hsum8(_mm256_add_ps(p3, q3));
    for (; i < in; i++) { s0 += a0[i] * x[i]; s1 += a1[i] * x[i]; s2 += a2[i] * x[i]; s3 += a3[i] * x[i]; }
    t[0] = s0; t[1] = s1; t[2] = s2; t[3] = s3;
}

// Bᵀ: each output is y, then k = 0, 1, … with fused multiply-adds, as add_bt_scalar — 64 outputs at a time so that
// eight independent chains hide the FMA latency (16 at a time left two chains waiting on each other).
__attribute__((target("avx2,fma")))
static void lora_row_avx2(float *y, const float *x, const float *a, const float *bt, int64_t rank, int64_t in,
                          int64_t out, float scale, float *t) {
    int64_t k = 0;
    for (; k + 4 <= rank; k += 4) {
        dots4(a + k * in, in, x, t + k);
        for (int j = 0; j < 4; j++) t[k + j] *= scale;
    }
    for (; k < rank; k++) t[k] = tk_dot(a + k * in, x, in) * scale;
    int64_t o = 0;
    for (; o + 64 <= out; o += 64) {
        __m256 y0 = _mm256_loadu_ps(y + o), y1 = _mm256_loadu_ps(y + o + 8), y2 = _mm256_loadu_ps(y + o + 16),
               y3 = _mm256_loadu_ps(y + o + 24), y4 = _mm256_loadu_ps(y + o + 32), y5 = _mm256_loadu_ps(y + o + 40),
               y6 = _mm256_loadu_ps(y + o + 48), y7 = _mm256_loadu_ps(y + o + 56);
        for (int64_t r = 0; r < rank; r++) {
            const __m256 tk = _mm256_set1_ps(t[r]);
            const float *b = bt + r * out + o;
            y0 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b), y0);      y1 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b + 8), y1);
            y2 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b + 16), y2); y3 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b + 24), y3);
            y4 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b + 32), y4); y5 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b + 40), y5);
            y6 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b + 48), y6); y7 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(b + 56), y7);
        }
        _mm256_storeu_ps(y + o, y0);      _mm256_storeu_ps(y + o + 8, y1);  _mm256_storeu_ps(y + o + 16, y2);
        _mm256_storeu_ps(y + o + 24, y3); _mm256_storeu_ps(y + o + 32, y4); _mm256_storeu_ps(y + o + 40, y5);
        _mm256_storeu_ps(y + o + 48, y6); _mm256_storeu_ps(y + o + 56, y7);
    }
    for (; o + 16 <= out; o += 16) {
        __m256 y0 = _mm256_loadu_ps(y + o), y1 = _mm256_loadu_ps(y + o + 8);
        for (int64_t r = 0; r < rank; r++) {
            const __m256 tk = _mm256_set1_ps(t[r]);
            y0 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(bt + r * out + o), y0);
            y1 = _mm256_fmadd_ps(tk, _mm256_loadu_ps(bt + r * out + o + 8), y1);
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

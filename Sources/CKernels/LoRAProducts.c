// The small products of a LoRA adapter during training, over a step's T rows: u = x·Aᵀ and du = dy·B (T × r
// outputs), y += u·Bᵀ and dx += du·A (rank-r updates of T × n), dA += duᵀ·x and dB += dyᵀ·u (r × n sums over T).
// One dimension is the rank (4–64), so OpenBLAS takes its single-threaded small-matrix path or packs a whole
// operand for a few columns: these ran at 12–50 GFLOP/s there, ~8 % of a SmolLM2 step. Here each is one pass over
// its large operand on the kernel pool, in AVX2 (Zen 4 runs 256-bit FMAs at the rate of 512-bit ones).
//
// Every output element is summed in one fixed order — over k, j or t ascending, fused multiply-adds from zero, then
// scaled by alpha and added to the old value — on every path and whatever the thread count, so the scalar
// references below give the same bits and a step's gradients do not depend on how the pool splits the work.
#include "CKernels.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

int tk_use_fast_path(void);

// ---- references ----

void tk_lora_product_ref(float *c, int64_t ldc, const float *a, int64_t lda, const float *b, int64_t rows, int64_t k,
                         int64_t n, float alpha, int accumulate) {
    for (int64_t t = 0; t < rows; t++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0;
            for (int64_t i = 0; i < k; i++) s = fmaf(a[t * lda + i], b[i * n + j], s);
            c[t * ldc + j] = accumulate ? fmaf(alpha, s, c[t * ldc + j]) : alpha * s;
        }
}

void tk_lora_utv_ref(float *g, int transposed, const float *u, int64_t ldu, const float *y, int64_t ldy, int64_t rows,
                     int64_t r, int64_t n, float alpha) {
    for (int64_t j = 0; j < r; j++)
        for (int64_t o = 0; o < n; o++) {
            float s = 0;
            for (int64_t t = 0; t < rows; t++) s = fmaf(u[t * ldu + j], y[t * ldy + o], s);
            float *dst = transposed ? g + o * r + j : g + j * n + o;
            *dst = fmaf(alpha, s, *dst);
        }
}

// ---- AVX2 ----

// Lanes of a partial vector: the first `left` (1…8) of eight.
__attribute__((target("avx2,fma")))
static inline __m256i lanes(int64_t left) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? left : 8)), idx);
}

// out[0..w) = alpha·acc (+ out), w ≤ 8 lanes: fmaf(alpha, s, old) as in the references.
__attribute__((target("avx2,fma")))
static inline void finish(float *out, __m256 acc, __m256 alpha, int accumulate, int64_t w) {
    if (w >= 8) {
        _mm256_storeu_ps(out, accumulate ? _mm256_fmadd_ps(alpha, acc, _mm256_loadu_ps(out)) : _mm256_mul_ps(alpha, acc));
    } else {
        const __m256i mask = lanes(w);
        __m256 v = accumulate ? _mm256_fmadd_ps(alpha, acc, _mm256_maskload_ps(out, mask)) : _mm256_mul_ps(alpha, acc);
        _mm256_maskstore_ps(out, mask, v);
    }
}

// C rows [t0, t1) of tk_lora_product with few columns, n ≤ 8 (a rank of 8 or less): 8 rows × one vector at a time.
__attribute__((target("avx2,fma")))
static void xm_rows8(float *c, int64_t ldc, const float *x, int64_t ldx, const float *m, int64_t t0, int64_t t1,
                     int64_t k, int64_t n, float alpha, int accumulate) {
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256i mask = lanes(n);
    int64_t t = t0;
    for (; t + 8 <= t1; t += 8) {
        __m256 a[8];
        for (int r = 0; r < 8; r++) a[r] = _mm256_setzero_ps();
        const float *x0 = x + t * ldx;
        for (int64_t i = 0; i < k; i++) {
            const __m256 p = _mm256_maskload_ps(m + i * n, mask);
            for (int r = 0; r < 8; r++) a[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x0 + r * ldx + i), p, a[r]);
        }
        for (int r = 0; r < 8; r++) finish(c + (t + r) * ldc, a[r], va, accumulate, n);
    }
    for (; t < t1; t++) {
        __m256 a = _mm256_setzero_ps();
        for (int64_t i = 0; i < k; i++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(x + t * ldx + i), _mm256_maskload_ps(m + i * n, mask), a);
        finish(c + t * ldc, a, va, accumulate, n);
    }
}

// C rows [t0, t1) of tk_lora_product with few columns: 4 rows × 16 columns at a time (8 accumulators), M's row loaded once for four rows.
__attribute__((target("avx2,fma")))
static void xm_rows(float *c, int64_t ldc, const float *x, int64_t ldx, const float *m, int64_t t0, int64_t t1,
                    int64_t k, int64_t n, float alpha, int accumulate) {
    const __m256 va = _mm256_set1_ps(alpha);
    for (int64_t j = 0; j < n; j += 16) {
        const int64_t w0 = n - j, w1 = n - j - 8;   // columns left in each half
        const __m256i m0 = lanes(w0), m1 = lanes(w1 > 0 ? w1 : 1);
        const int two = w1 > 0;
        int64_t t = t0;
        for (; t + 4 <= t1; t += 4) {
            __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            const float *x0 = x + t * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
            for (int64_t i = 0; i < k; i++) {
                const __m256 p = _mm256_maskload_ps(m + i * n + j, m0);
                const __m256 q = two ? _mm256_maskload_ps(m + i * n + j + 8, m1) : _mm256_setzero_ps();
                __m256 s = _mm256_broadcast_ss(x0 + i); a0 = _mm256_fmadd_ps(s, p, a0); b0 = _mm256_fmadd_ps(s, q, b0);
                s = _mm256_broadcast_ss(x1 + i); a1 = _mm256_fmadd_ps(s, p, a1); b1 = _mm256_fmadd_ps(s, q, b1);
                s = _mm256_broadcast_ss(x2 + i); a2 = _mm256_fmadd_ps(s, p, a2); b2 = _mm256_fmadd_ps(s, q, b2);
                s = _mm256_broadcast_ss(x3 + i); a3 = _mm256_fmadd_ps(s, p, a3); b3 = _mm256_fmadd_ps(s, q, b3);
            }
            __m256 acc[4][2] = {{a0, b0}, {a1, b1}, {a2, b2}, {a3, b3}};
            for (int r = 0; r < 4; r++) {
                finish(c + (t + r) * ldc + j, acc[r][0], va, accumulate, w0);
                if (two) finish(c + (t + r) * ldc + j + 8, acc[r][1], va, accumulate, w1);
            }
        }
        for (; t < t1; t++) {
            __m256 a = _mm256_setzero_ps(), b = a;
            const float *xr = x + t * ldx;
            for (int64_t i = 0; i < k; i++) {
                const __m256 s = _mm256_broadcast_ss(xr + i);
                a = _mm256_fmadd_ps(s, _mm256_maskload_ps(m + i * n + j, m0), a);
                if (two) b = _mm256_fmadd_ps(s, _mm256_maskload_ps(m + i * n + j + 8, m1), b);
            }
            finish(c + t * ldc + j, a, va, accumulate, w0);
            if (two) finish(c + t * ldc + j + 8, b, va, accumulate, w1);
        }
    }
}

// Y rows [t0, t1) of tk_lora_product with a short inner dimension (the rank r): 2 rows × 32 columns at a time (8
// accumulators), over j = 0..r-1; a pair of rows across all its columns before the next pair, so that Y streams
// through once in memory order (column strips down all rows, as before, ran at ~2/3 of this speed from L3).
__attribute__((target("avx2,fma")))
static void uw_rows(float *y, int64_t ldy, const float *u, int64_t ldu, const float *w, int64_t t0, int64_t t1,
                    int64_t r, int64_t n, float alpha, int accumulate) {
    const __m256 va = _mm256_set1_ps(alpha);
    const int64_t n32 = n / 32 * 32;
    int64_t t = t0;
    for (; t + 2 <= t1; t += 2) {
        const float *u0 = u + t * ldu, *u1 = u0 + ldu;
        for (int64_t o = 0; o < n32; o += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int64_t j = 0; j < r; j++) {
                const float *wr = w + j * n + o;
                const __m256 p0 = _mm256_loadu_ps(wr), p1 = _mm256_loadu_ps(wr + 8);
                const __m256 p2 = _mm256_loadu_ps(wr + 16), p3 = _mm256_loadu_ps(wr + 24);
                __m256 s = _mm256_broadcast_ss(u0 + j);
                a0 = _mm256_fmadd_ps(s, p0, a0); a1 = _mm256_fmadd_ps(s, p1, a1);
                a2 = _mm256_fmadd_ps(s, p2, a2); a3 = _mm256_fmadd_ps(s, p3, a3);
                s = _mm256_broadcast_ss(u1 + j);
                b0 = _mm256_fmadd_ps(s, p0, b0); b1 = _mm256_fmadd_ps(s, p1, b1);
                b2 = _mm256_fmadd_ps(s, p2, b2); b3 = _mm256_fmadd_ps(s, p3, b3);
            }
            float *y0 = y + t * ldy + o, *y1 = y0 + ldy;
            finish(y0, a0, va, accumulate, 8); finish(y0 + 8, a1, va, accumulate, 8);
            finish(y0 + 16, a2, va, accumulate, 8); finish(y0 + 24, a3, va, accumulate, 8);
            finish(y1, b0, va, accumulate, 8); finish(y1 + 8, b1, va, accumulate, 8);
            finish(y1 + 16, b2, va, accumulate, 8); finish(y1 + 24, b3, va, accumulate, 8);
        }
    }
    for (; t < t1; t++) {
        for (int64_t o = 0; o < n32; o += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t j = 0; j < r; j++) {
                const float *wr = w + j * n + o;
                const __m256 s = _mm256_broadcast_ss(u + t * ldu + j);
                a0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr), a0); a1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 8), a1);
                a2 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 16), a2); a3 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 24), a3);
            }
            float *y0 = y + t * ldy + o;
            finish(y0, a0, va, accumulate, 8); finish(y0 + 8, a1, va, accumulate, 8);
            finish(y0 + 16, a2, va, accumulate, 8); finish(y0 + 24, a3, va, accumulate, 8);
        }
    }
    // The last n % 32 columns, eight (or fewer) at a time.
    for (int64_t o = n32; o < n; o += 8) {
        const __m256i mask = lanes(n - o);
        for (int64_t tt = t0; tt < t1; tt++) {
            __m256 a = _mm256_setzero_ps();
            for (int64_t j = 0; j < r; j++)
                a = _mm256_fmadd_ps(_mm256_broadcast_ss(u + tt * ldu + j), _mm256_maskload_ps(w + j * n + o, mask), a);
            finish(y + tt * ldy + o, a, va, accumulate, n - o);
        }
    }
}

// Columns [o0, o1) of tk_lora_utv (o0 a multiple of 16): 16 columns × 4 of the rank at a time (8 accumulators),
// one pass over Y's rows for each group of four.
__attribute__((target("avx2,fma")))
static void utv_cols(float *g, int transposed, const float *u, int64_t ldu, const float *y, int64_t ldy, int64_t rows,
                     int64_t r, int64_t n, float alpha, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o += 16) {
        const int64_t w0 = o1 - o, w1 = o1 - o - 8;
        const __m256i m0 = lanes(w0), m1 = lanes(w1 > 0 ? w1 : 1);
        const int two = w1 > 0;
        for (int64_t j = 0; j < r; j += 4) {
            const int64_t nj = r - j < 4 ? r - j : 4;
            __m256 acc[4][2];
            for (int q = 0; q < 4; q++) acc[q][0] = acc[q][1] = _mm256_setzero_ps();
            if (nj == 4) {
                __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
                for (int64_t t = 0; t < rows; t++) {
                    const float *yr = y + t * ldy + o, *ur = u + t * ldu + j;
                    const __m256 p = _mm256_maskload_ps(yr, m0);
                    const __m256 q = two ? _mm256_maskload_ps(yr + 8, m1) : _mm256_setzero_ps();
                    __m256 s = _mm256_broadcast_ss(ur); a0 = _mm256_fmadd_ps(s, p, a0); b0 = _mm256_fmadd_ps(s, q, b0);
                    s = _mm256_broadcast_ss(ur + 1); a1 = _mm256_fmadd_ps(s, p, a1); b1 = _mm256_fmadd_ps(s, q, b1);
                    s = _mm256_broadcast_ss(ur + 2); a2 = _mm256_fmadd_ps(s, p, a2); b2 = _mm256_fmadd_ps(s, q, b2);
                    s = _mm256_broadcast_ss(ur + 3); a3 = _mm256_fmadd_ps(s, p, a3); b3 = _mm256_fmadd_ps(s, q, b3);
                }
                acc[0][0] = a0; acc[0][1] = b0; acc[1][0] = a1; acc[1][1] = b1;
                acc[2][0] = a2; acc[2][1] = b2; acc[3][0] = a3; acc[3][1] = b3;
            } else {
                for (int64_t t = 0; t < rows; t++) {
                    const float *yr = y + t * ldy + o;
                    const __m256 p = _mm256_maskload_ps(yr, m0);
                    const __m256 q = two ? _mm256_maskload_ps(yr + 8, m1) : _mm256_setzero_ps();
                    for (int64_t jj = 0; jj < nj; jj++) {
                        const __m256 s = _mm256_broadcast_ss(u + t * ldu + j + jj);
                        acc[jj][0] = _mm256_fmadd_ps(s, p, acc[jj][0]);
                        acc[jj][1] = _mm256_fmadd_ps(s, q, acc[jj][1]);
                    }
                }
            }
            for (int64_t jj = 0; jj < nj; jj++) {
                float s[16];
                _mm256_storeu_ps(s, acc[jj][0]); _mm256_storeu_ps(s + 8, acc[jj][1]);
                const int64_t width = o1 - o < 16 ? o1 - o : 16;
                for (int64_t c = 0; c < width; c++) {
                    float *dst = transposed ? g + (o + c) * r + j + jj : g + (j + jj) * n + o + c;
                    *dst = fmaf(alpha, s[c], *dst);
                }
            }
        }
    }
}

// utv_cols for a rank that is a multiple of 8: 8 columns × 8 of the rank at a time (8 accumulators), so one pass
// over Y's rows serves all eight, in blocks of UTV_ROWS rows; the partial sums wait in `acc` between row blocks,
// so that a block's rows are read across all the task's columns while they are in L1 (the strips of the kernel
// above walk all rows for every 16 columns, twice at rank 8). The same fused multiply-adds per output in the same
// order (t ascending from zero, then alpha), so the same bits. ~15 % faster on the Zen 3 at 427 rows.
#define UTV_ROWS 48
#define UTV_COLS 256
__attribute__((target("avx2,fma")))
static void utv_cols8(float *g, int transposed, const float *u, int64_t ldu, const float *y, int64_t ldy, int64_t rows,
                      int64_t r, int64_t n, float alpha, int64_t o0, int64_t o1) {
    float acc[8 * UTV_COLS] __attribute__((aligned(32)));
    for (int64_t oc = o0; oc < o1; oc += UTV_COLS) {
        const int64_t oe = oc + UTV_COLS < o1 ? oc + UTV_COLS : o1;
        for (int64_t j = 0; j < r; j += 8) {
            for (int64_t i = 0; i < 8 * UTV_COLS; i++) acc[i] = 0;
            for (int64_t t0 = 0; t0 < rows; t0 += UTV_ROWS) {
                const int64_t t1 = t0 + UTV_ROWS < rows ? t0 + UTV_ROWS : rows;
                for (int64_t o = oc; o < oe; o += 8) {
                    const int64_t w = oe - o < 8 ? oe - o : 8;
                    const __m256i m = lanes(w);
                    float *ab = acc + (o - oc) * 8;   // 8 vectors: rank j + 0..7, columns o..o+7
                    __m256 a0 = _mm256_load_ps(ab), a1 = _mm256_load_ps(ab + 8), a2 = _mm256_load_ps(ab + 16);
                    __m256 a3 = _mm256_load_ps(ab + 24), a4 = _mm256_load_ps(ab + 32), a5 = _mm256_load_ps(ab + 40);
                    __m256 a6 = _mm256_load_ps(ab + 48), a7 = _mm256_load_ps(ab + 56);
                    const float *yr = y + t0 * ldy + o, *ur = u + t0 * ldu + j;
                    for (int64_t t = t0; t < t1; t++, yr += ldy, ur += ldu) {
                        const __m256 p = w == 8 ? _mm256_loadu_ps(yr) : _mm256_maskload_ps(yr, m);
                        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur), p, a0);
                        a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur + 1), p, a1);
                        a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur + 2), p, a2);
                        a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur + 3), p, a3);
                        a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur + 4), p, a4);
                        a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur + 5), p, a5);
                        a6 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur + 6), p, a6);
                        a7 = _mm256_fmadd_ps(_mm256_broadcast_ss(ur + 7), p, a7);
                    }
                    _mm256_store_ps(ab, a0); _mm256_store_ps(ab + 8, a1); _mm256_store_ps(ab + 16, a2);
                    _mm256_store_ps(ab + 24, a3); _mm256_store_ps(ab + 32, a4); _mm256_store_ps(ab + 40, a5);
                    _mm256_store_ps(ab + 48, a6); _mm256_store_ps(ab + 56, a7);
                }
            }
            for (int64_t o = oc; o < oe; o++)
                for (int jj = 0; jj < 8; jj++) {
                    const float s = acc[(o - oc) / 8 * 64 + jj * 8 + (o - oc) % 8];
                    float *dst = transposed ? g + o * r + j + jj : g + (j + jj) * n + o;
                    *dst = fmaf(alpha, s, *dst);
                }
        }
    }
}

// The strip's two cache lines UTV_AHEAD rows below the current one. The strip walks down a column of a row-major
// operand, a row (and often a page) apart, which the hardware prefetchers do not follow: without it the kernel
// waits on every row once Y is out of L2 (~30 GFLOP/s against ~60 with it at 437 rows, the rows in DRAM, on the
// Xeon; 80 against 130 in L3; bench-results/xeon-2026-12-07c/utv-prefetch-harness.txt).
#define UTV_AHEAD 16
__attribute__((target("avx2"), always_inline))
static inline void utv_prefetch(const float *yr, int64_t t, int64_t rows, int64_t ldy) {
    if (t + UTV_AHEAD < rows) {
        _mm_prefetch((const char *)(yr + UTV_AHEAD * ldy), _MM_HINT_T0);
        _mm_prefetch((const char *)(yr + UTV_AHEAD * ldy + 16), _MM_HINT_T0);
    }
}

// utv_cols on AVX-512 (32 registers): 32 columns × 8 of the rank at a time (16 accumulators), one pass over Y's
// rows for all eight — half the passes of the AVX2 kernel over the operand and half its broadcasts per FMA. The same
// fused multiply-adds in the same order per output, so the same bits.
__attribute__((target("avx2,fma,avx512f,avx512vl")))
static void utv_cols512(float *g, int transposed, const float *u, int64_t ldu, const float *y, int64_t ldy, int64_t rows,
                        int64_t r, int64_t n, float alpha, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o += 32) {
        const int64_t w0 = o1 - o < 16 ? o1 - o : 16, w1 = o1 - o - 16 < 0 ? 0 : (o1 - o - 16 < 16 ? o1 - o - 16 : 16);
        const __mmask16 m0 = (__mmask16)((1u << w0) - 1), m1 = (__mmask16)((1u << w1) - 1);
        for (int64_t j = 0; j < r; j += 8) {
            const int64_t nj = r - j < 8 ? r - j : 8;
            __m512 a[8], b[8];
            for (int q = 0; q < 8; q++) a[q] = b[q] = _mm512_setzero_ps();
            if (nj == 8) {
                for (int64_t t = 0; t < rows; t++) {
                    const float *yr = y + t * ldy + o, *ur = u + t * ldu + j;
                    utv_prefetch(yr, t, rows, ldy);
                    const __m512 p = _mm512_maskz_loadu_ps(m0, yr), q = _mm512_maskz_loadu_ps(m1, yr + 16);
                    for (int jj = 0; jj < 8; jj++) {
                        const __m512 s = _mm512_set1_ps(ur[jj]);
                        a[jj] = _mm512_fmadd_ps(s, p, a[jj]);
                        b[jj] = _mm512_fmadd_ps(s, q, b[jj]);
                    }
                }
            } else {
                for (int64_t t = 0; t < rows; t++) {
                    const float *yr = y + t * ldy + o, *ur = u + t * ldu + j;
                    utv_prefetch(yr, t, rows, ldy);
                    const __m512 p = _mm512_maskz_loadu_ps(m0, yr), q = _mm512_maskz_loadu_ps(m1, yr + 16);
                    for (int64_t jj = 0; jj < nj; jj++) {
                        const __m512 s = _mm512_set1_ps(ur[jj]);
                        a[jj] = _mm512_fmadd_ps(s, p, a[jj]);
                        b[jj] = _mm512_fmadd_ps(s, q, b[jj]);
                    }
                }
            }
            for (int64_t jj = 0; jj < nj; jj++) {
                float sum[32];
                _mm512_storeu_ps(sum, a[jj]); _mm512_storeu_ps(sum + 16, b[jj]);
                for (int64_t c = 0; c < w0 + w1; c++) {
                    float *dst = transposed ? g + (o + c) * r + j + jj : g + (j + jj) * n + o + c;
                    *dst = fmaf(alpha, sum[c], *dst);
                }
            }
        }
    }
}

// ---- entry points: the work split into tasks on the pool ----

typedef struct {
    int kind;   // 0 few columns (xm_rows), 1 short inner dimension (uw_rows), 2 a sum over rows (utv_cols)
    float *out; int64_t ldo; const float *a; int64_t lda; const float *b; int64_t ldb;
    int64_t rows, k, n, per; float alpha; int accumulate, transposed;
} LoRATask;

static void lora_task(void *ctx, int task) {
    const LoRATask *p = ctx;
    const int64_t lo = task * p->per;
    if (p->kind == 2) {
        const int64_t hi = lo + p->per < p->n ? lo + p->per : p->n;
        (tk_uses_vnni() ? utv_cols512 : p->k % 8 == 0 ? utv_cols8 : utv_cols)(p->out, p->transposed, p->a, p->lda, p->b,
                                                                              p->ldb, p->rows, p->k, p->n, p->alpha, lo, hi);
        return;
    }
    const int64_t hi = lo + p->per < p->rows ? lo + p->per : p->rows;
    if (p->kind == 0 && p->n <= 8) xm_rows8(p->out, p->ldo, p->a, p->lda, p->b, lo, hi, p->k, p->n, p->alpha, p->accumulate);
    else if (p->kind == 0) xm_rows(p->out, p->ldo, p->a, p->lda, p->b, lo, hi, p->k, p->n, p->alpha, p->accumulate);
    else uw_rows(p->out, p->ldo, p->a, p->lda, p->b, lo, hi, p->k, p->n, p->alpha, p->accumulate);
}

// Rows per task: a few tasks per thread (uneven threads on a shared machine), whole blocks of eight.
static int64_t row_chunk(int64_t rows) {
    int64_t tasks = 4 * (int64_t)tk_pool_threads();
    int64_t per = (rows + tasks - 1) / tasks;
    per = (per + 7) / 8 * 8;
    return per < 16 ? 16 : per;
}

void tk_lora_product(float *c, int64_t ldc, const float *a, int64_t lda, const float *b, int64_t rows, int64_t k,
                     int64_t n, float alpha, int accumulate) {
    if (rows <= 0 || n <= 0) return;
    if (!tk_use_fast_path()) { tk_lora_product_ref(c, ldc, a, lda, b, rows, k, n, alpha, accumulate); return; }
    // Few columns from a long inner dimension (u, du), or a short inner dimension into many columns (y, dx).
    LoRATask p = { n <= k ? 0 : 1, c, ldc, a, lda, b, n, rows, k, n, row_chunk(rows), alpha, accumulate, 0 };
    tk_parallel_for((int)((rows + p.per - 1) / p.per), lora_task, &p);
}

void tk_lora_utv(float *g, int transposed, const float *u, int64_t ldu, const float *y, int64_t ldy, int64_t rows,
                 int64_t r, int64_t n, float alpha) {
    if (r <= 0 || n <= 0) return;
    if (!tk_use_fast_path()) { tk_lora_utv_ref(g, transposed, u, ldu, y, ldy, rows, r, n, alpha); return; }
    // Columns per task: multiples of 16, a few tasks per thread.
    int64_t tasks = 4 * (int64_t)tk_pool_threads(), per = (n + tasks - 1) / tasks;
    per = (per + 15) / 16 * 16;
    LoRATask p = { 2, g, 0, u, ldu, y, ldy, rows, r, n, per, alpha, 0, transposed };
    tk_parallel_for((int)((n + per - 1) / per), lora_task, &p);
}

void tk_transpose(float *dst, const float *src, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

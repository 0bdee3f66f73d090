// Quantised matrix products for decoding: weights stay in their ggml blocks (Q4_0, Q4_1, Q8_0) and activations are
// quantised to 8-bit blocks, as llama.cpp does, so a decode step reads ~0.6 bytes per weight instead of 4.
// The AVX2 path uses maddubs integer dot products; the reference path is plain C over the same formulas.
#include "CKernels.h"
#include <math.h>
#include <string.h>
#include <immintrin.h>

int tk_use_fast_path(void);

void tk_quantize_row_q8(const float *x, tk_block_q8 *y, int64_t n) {
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        float amax = 0;
        for (int j = 0; j < 32; j++) { float a = fabsf(v[j]); if (a > amax) amax = a; }
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) { int q = (int)roundf(v[j] * id); y[i].qs[j] = (int8_t)q; sum += q; }
        y[i].d = d;
        y[i].s = d * (float)sum;
    }
}

int tk_matmul_q8_supports(int type) { return type == TK_Q4_0 || type == TK_Q4_1 || type == TK_Q8_0; }

// ---- reference ----
static float dot_row_ref(int type, const uint8_t *w, const tk_block_q8 *x, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        if (type == TK_Q8_0) {
            const uint8_t *b = w + i * 34; uint16_t dh; memcpy(&dh, b, 2);
            const int8_t *q = (const int8_t *)(b + 2);
            for (int j = 0; j < 32; j++) isum += q[j] * x[i].qs[j];
            sum += tk_f16_to_f32(dh) * x[i].d * (float)isum;
        } else {
            size_t bb = type == TK_Q4_0 ? 18 : 20; int qoff = type == TK_Q4_0 ? 2 : 4;
            const uint8_t *b = w + i * bb; uint16_t dh; memcpy(&dh, b, 2);
            int bias = type == TK_Q4_0 ? 8 : 0;
            for (int j = 0; j < 16; j++) {
                isum += ((b[qoff + j] & 0xF) - bias) * x[i].qs[j];
                isum += ((b[qoff + j] >> 4) - bias) * x[i].qs[j + 16];
            }
            sum += tk_f16_to_f32(dh) * x[i].d * (float)isum;
            if (type == TK_Q4_1) { uint16_t mh; memcpy(&mh, b + 2, 2); sum += tk_f16_to_f32(mh) * x[i].s; }
        }
    }
    return sum;
}

void tk_matmul_q8_ref(int type, const void *w, size_t wrb, int64_t rows, int64_t cols,
                      const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy) {
    int64_t nb = cols / 32;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t r = 0; r < rows; r++)
            y[b * ldy + r] = dot_row_ref(type, (const uint8_t *)w + r * wrb, xq + b * nb, nb);
}

// ---- AVX2 ----
#define TK_BATCH_TILE 4

__attribute__((target("avx2,fma,f16c")))
static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// One activation row (a decode step): two independent accumulators hide the FMA latency, and the weight stream is
// prefetched a few blocks ahead; this is the hot loop of decoding.
__attribute__((target("avx2,fma,f16c")))
static float dot_q4_1_avx2(const uint8_t *w, const tk_block_q8 *x, int64_t nb) {
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float extra = 0;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        _mm_prefetch((const char *)(w + (i + 8) * 20), _MM_HINT_T0);
        const uint8_t *b0 = w + i * 20, *b1 = b0 + 20;
        uint16_t d0, m0, d1, m1; memcpy(&d0, b0, 2); memcpy(&m0, b0 + 2, 2); memcpy(&d1, b1, 2); memcpy(&m1, b1 + 2, 2);
        __m128i r0 = _mm_loadu_si128((const __m128i *)(b0 + 4)), r1 = _mm_loadu_si128((const __m128i *)(b1 + 4));
        __m256i q0 = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(r0, 4), r0), low);
        __m256i q1 = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(r1, 4), r1), low);
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)x[i].qs)), ones);
        __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)x[i + 1].qs)), ones);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(d0) * x[i].d), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(d1) * x[i + 1].d), _mm256_cvtepi32_ps(p1), acc1);
        extra += _cvtsh_ss(m0) * x[i].s + _cvtsh_ss(m1) * x[i + 1].s;
    }
    for (; i < nb; i++) {
        const uint8_t *b0 = w + i * 20;
        uint16_t d0, m0; memcpy(&d0, b0, 2); memcpy(&m0, b0 + 2, 2);
        __m128i r0 = _mm_loadu_si128((const __m128i *)(b0 + 4));
        __m256i q0 = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(r0, 4), r0), low);
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)x[i].qs)), ones);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(d0) * x[i].d), _mm256_cvtepi32_ps(p0), acc0);
        extra += _cvtsh_ss(m0) * x[i].s;
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1)) + extra;
}

__attribute__((target("avx2,fma,f16c")))
static float dot_q8_0_avx2(const uint8_t *w, const tk_block_q8 *x, int64_t nb) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        _mm_prefetch((const char *)(w + (i + 8) * 34), _MM_HINT_T0);
        const uint8_t *b0 = w + i * 34, *b1 = b0 + 34;
        uint16_t d0, d1; memcpy(&d0, b0, 2); memcpy(&d1, b1, 2);
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(b0 + 2)), w1 = _mm256_loadu_si256((const __m256i *)(b1 + 2));
        __m256i x0 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)x[i].qs), w0);
        __m256i x1 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)x[i + 1].qs), w1);
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w0, w0), x0), ones);
        __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w1, w1), x1), ones);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(d0) * x[i].d), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(d1) * x[i + 1].d), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) {
        const uint8_t *b0 = w + i * 34;
        uint16_t d0; memcpy(&d0, b0, 2);
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(b0 + 2));
        __m256i x0 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)x[i].qs), w0);
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w0, w0), x0), ones);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(d0) * x[i].d), _mm256_cvtepi32_ps(p0), acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

typedef struct {
    int type; const uint8_t *w; size_t wrb; int64_t rows, cols; const tk_block_q8 *xq; int64_t batch;
    float *y; int64_t ldy; int64_t rows_per_task;
} mm_ctx;

__attribute__((target("avx2,fma,f16c")))
static void mm_task_avx2(void *vctx, int task) {
    const mm_ctx *c = vctx;
    const int64_t nb = c->cols / 32;
    const int64_t r0 = (int64_t)task * c->rows_per_task;
    const int64_t r1 = r0 + c->rows_per_task < c->rows ? r0 + c->rows_per_task : c->rows;
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
    const size_t bb = c->type == TK_Q8_0 ? 34 : c->type == TK_Q4_0 ? 18 : 20;
    const int qoff = c->type == TK_Q4_1 ? 4 : 2;
    if (c->batch == 1 && (c->type == TK_Q4_1 || c->type == TK_Q8_0)) {
        for (int64_t r = r0; r < r1; r++)
            c->y[r] = c->type == TK_Q4_1 ? dot_q4_1_avx2(c->w + r * c->wrb, c->xq, nb) : dot_q8_0_avx2(c->w + r * c->wrb, c->xq, nb);
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = c->w + r * c->wrb;
        for (int64_t b0 = 0; b0 < c->batch; b0 += TK_BATCH_TILE) {
            const int nbt = c->batch - b0 < TK_BATCH_TILE ? (int)(c->batch - b0) : TK_BATCH_TILE;
            __m256 acc[TK_BATCH_TILE]; float extra[TK_BATCH_TILE];
            for (int k = 0; k < TK_BATCH_TILE; k++) { acc[k] = _mm256_setzero_ps(); extra[k] = 0; }
            for (int64_t i = 0; i < nb; i++) {
                const uint8_t *blk = wr + i * bb;
                uint16_t dh; memcpy(&dh, blk, 2);
                const float dw = _cvtsh_ss(dh);
                __m256i wq;
                if (c->type == TK_Q8_0) wq = _mm256_loadu_si256((const __m256i *)(blk + 2));
                else {
                    __m128i raw = _mm_loadu_si128((const __m128i *)(blk + qoff));
                    wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low);
                    if (c->type == TK_Q4_0) wq = _mm256_sub_epi8(wq, eight);
                }
                if (c->type == TK_Q4_1) {
                    uint16_t mh; memcpy(&mh, blk + 2, 2);
                    const float mw = _cvtsh_ss(mh);
                    for (int k = 0; k < nbt; k++) {
                        const tk_block_q8 *xb = c->xq + (b0 + k) * nb + i;
                        __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
                        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wq, xv), ones);
                        acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), _mm256_cvtepi32_ps(p), acc[k]);
                        extra[k] += mw * xb->s;
                    }
                } else {
                    const __m256i aw = _mm256_sign_epi8(wq, wq);
                    for (int k = 0; k < nbt; k++) {
                        const tk_block_q8 *xb = c->xq + (b0 + k) * nb + i;
                        __m256i xv = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)xb->qs), wq);
                        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xv), ones);
                        acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), _mm256_cvtepi32_ps(p), acc[k]);
                    }
                }
            }
            for (int k = 0; k < nbt; k++) c->y[(b0 + k) * c->ldy + r] = hsum_ps(acc[k]) + extra[k];
        }
    }
}

void tk_matmul_q8(int type, const void *w, size_t wrb, int64_t rows, int64_t cols,
                  const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy) {
    if (!tk_use_fast_path()) { tk_matmul_q8_ref(type, w, wrb, rows, cols, xq, batch, y, ldy); return; }
    int threads = tk_pool_threads();
    // About four tasks per thread balances uneven cores without making tasks too small to amortise the handoff.
    int64_t tasks = threads * 4;
    int64_t rpt = (rows + tasks - 1) / tasks;
    if (rpt < 16) rpt = 16;
    mm_ctx c = { type, w, wrb, rows, cols, xq, batch, y, ldy, rpt };
    tk_parallel_for((int)((rows + rpt - 1) / rpt), mm_task_avx2, &c);
}

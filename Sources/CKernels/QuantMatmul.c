// Quantised matrix products for decoding: weights stay in their ggml blocks (Q4_0, Q4_1, Q8_0) and activations are
// quantised to 8-bit blocks, as llama.cpp does, so a decode step reads ~0.6 bytes per weight instead of 4.
// The AVX2 path uses maddubs integer dot products; the reference path is plain C over the same formulas.
#include "CKernels.h"
#include <math.h>
#include <string.h>
#include <immintrin.h>

int tk_use_fast_path(void);

void tk_quantize_row_q8_ref(const float *x, tk_block_q8 *y, int64_t n) {
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

// The same bytes as the reference: roundf's half-away-from-zero is trunc(x) plus sign(x) where |x - trunc(x)| ≥ 0.5
// (exact in float), and the max is order-independent.
__attribute__((target("avx2,fma")))
static void quantize_row_q8_avx2(const float *x, tk_block_q8 *y, int64_t n) {
    const __m256 signbit = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        __m256 a[4], m = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) { a[j] = _mm256_loadu_ps(v + 8 * j); m = _mm256_max_ps(m, _mm256_andnot_ps(signbit, a[j])); }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        const __m256 idv = _mm256_set1_ps(id);
        __m256i qi[4], sum = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256 s = _mm256_mul_ps(a[j], idv);
            const __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 frac = _mm256_andnot_ps(signbit, _mm256_sub_ps(s, t));
            const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), _mm256_or_ps(one, _mm256_and_ps(signbit, s)));
            qi[j] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
            sum = _mm256_add_epi32(sum, qi[j]);
        }
        // int32 → int8 in order: packs interleave 128-bit lanes, so permute back afterwards.
        const __m256i p01 = _mm256_packs_epi32(qi[0], qi[1]), p23 = _mm256_packs_epi32(qi[2], qi[3]);
        const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[i].qs, p);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        y[i].d = d;
        y[i].s = d * (float)_mm_cvtsi128_si32(s4);
    }
}

void tk_quantize_row_q8(const float *x, tk_block_q8 *y, int64_t n) {
    if (tk_use_fast_path()) quantize_row_q8_avx2(x, y, n); else tk_quantize_row_q8_ref(x, y, n);
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

__attribute__((target("avx2,fma,f16c")))
static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

typedef struct {
    int type; const uint8_t *w; size_t wrb; int64_t rows, cols; const tk_block_q8 *xq; int64_t batch;
    float *y; int64_t ldy; int64_t rows_per_task;
} mm_ctx;

// One weight block (index i of row wr) against NBT activation rows, into acc[k] and extra[k]. TYPE and NBT are
// compile-time constants at every call, so the type tests and the k loop vanish.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void block_tile(const int TYPE, const int NBT, const uint8_t *blk, const tk_block_q8 *xq, int64_t nb,
                              int64_t i, __m256 acc[4], float extra[4]) {
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
    uint16_t dh; memcpy(&dh, blk, 2);
    const float dw = _cvtsh_ss(dh);
    __m256i wq;
    if (TYPE == TK_Q8_0) wq = _mm256_loadu_si256((const __m256i *)(blk + 2));
    else {
        __m128i raw = _mm_loadu_si128((const __m128i *)(blk + (TYPE == TK_Q4_1 ? 4 : 2)));
        wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low);
        if (TYPE == TK_Q4_0) wq = _mm256_sub_epi8(wq, eight);
    }
    float mw = 0;
    if (TYPE == TK_Q4_1) { uint16_t mh; memcpy(&mh, blk + 2, 2); mw = _cvtsh_ss(mh); }
    const __m256i aw = TYPE == TK_Q4_1 ? wq : _mm256_sign_epi8(wq, wq);
    for (int k = 0; k < NBT; k++) {
        const tk_block_q8 *xb = xq + k * nb + i;
        __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
        if (TYPE != TK_Q4_1) xv = _mm256_sign_epi8(xv, wq);
        const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(aw, xv), ones));
        acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), p, acc[k]);
        if (TYPE == TK_Q4_1) extra[k] += mw * xb->s;
    }
}

// One weight row against NBT activation rows (xq points at the first). Every activation row is summed in exactly the
// same order whatever NBT is (even blocks in acc0, odd blocks in acc1, the Q4_1 offsets one block after another), so
// a sequence's logits do not depend on which other sequences share its decode batch. Two blocks per iteration give
// two independent FMA chains; the weight stream is prefetched a few cache lines ahead.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void row_tile(const int TYPE, const int NBT, const uint8_t *wr, const tk_block_q8 *xq, int64_t nb, float *out[4]) {
    const size_t bb = TYPE == TK_Q8_0 ? 34 : TYPE == TK_Q4_0 ? 18 : 20;
    __m256 acc0[4], acc1[4];
    float extra[4];
    for (int k = 0; k < NBT; k++) { acc0[k] = _mm256_setzero_ps(); acc1[k] = _mm256_setzero_ps(); extra[k] = 0; }
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        _mm_prefetch((const char *)(wr + (i + 12) * bb), _MM_HINT_T0);
        block_tile(TYPE, NBT, wr + i * bb, xq, nb, i, acc0, extra);
        block_tile(TYPE, NBT, wr + (i + 1) * bb, xq, nb, i + 1, acc1, extra);
    }
    if (i < nb) block_tile(TYPE, NBT, wr + i * bb, xq, nb, i, acc0, extra);
    for (int k = 0; k < NBT; k++) *out[k] = hsum_ps(_mm256_add_ps(acc0[k], acc1[k])) + extra[k];
}

#define TK_ROW_TILES(TYPE) \
    switch (nbt) { /* constant tile sizes keep the accumulators in registers */ \
    case 1: row_tile(TYPE, 1, wr, xq, nb, out); break; \
    case 2: row_tile(TYPE, 2, wr, xq, nb, out); break; \
    case 3: row_tile(TYPE, 3, wr, xq, nb, out); break; \
    default: row_tile(TYPE, 4, wr, xq, nb, out); break; \
    }

__attribute__((target("avx2,fma,f16c")))
static void mm_task_avx2(void *vctx, int task) {
    const mm_ctx *c = vctx;
    const int64_t nb = c->cols / 32;
    const int64_t r0 = (int64_t)task * c->rows_per_task;
    const int64_t r1 = r0 + c->rows_per_task < c->rows ? r0 + c->rows_per_task : c->rows;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = c->w + r * c->wrb;
        for (int64_t b0 = 0; b0 < c->batch; b0 += 4) {
            const int nbt = c->batch - b0 < 4 ? (int)(c->batch - b0) : 4;
            const tk_block_q8 *xq = c->xq + b0 * nb;
            float *out[4];
            for (int k = 0; k < nbt; k++) out[k] = c->y + (b0 + k) * c->ldy + r;
            if (c->type == TK_Q4_1) { TK_ROW_TILES(TK_Q4_1) }
            else if (c->type == TK_Q8_0) { TK_ROW_TILES(TK_Q8_0) }
            else { TK_ROW_TILES(TK_Q4_0) }
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

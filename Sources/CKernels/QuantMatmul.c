// Quantised matrix products for decoding: weights stay in their ggml blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) and
// activations are
// quantised to 8-bit blocks, as llama.cpp does, so a decode step reads ~0.6 bytes per weight instead of 4.
// The AVX2 path uses maddubs integer dot products; the reference path is plain C over the same formulas.
#include "CKernels.h"
#include "BlockLayouts.h"
#include "VectorInline.h"
#include <math.h>
#include <stdatomic.h>
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

int tk_matmul_q8_supports(int type) {
    return type == TK_Q4_0 || type == TK_Q4_1 || type == TK_Q5_0 || type == TK_Q5_1 || type == TK_Q8_0 || type == TK_Q4_K || type == TK_Q5_K || type == TK_Q6_K;
}

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
        } else if (type == TK_Q5_0 || type == TK_Q5_1) {
            const size_t bb = type == TK_Q5_0 ? 22 : 24; const int hoff = type == TK_Q5_0 ? 2 : 4;
            const uint8_t *b = w + i * bb; uint16_t dh; memcpy(&dh, b, 2);
            uint32_t qh; memcpy(&qh, b + hoff, 4);
            const int bias = type == TK_Q5_0 ? 16 : 0;
            for (int j = 0; j < 16; j++) {
                isum += (((b[hoff + 4 + j] & 0xF) | (((qh >> j) & 1) << 4)) - bias) * x[i].qs[j];
                isum += (((b[hoff + 4 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - bias) * x[i].qs[j + 16];
            }
            sum += tk_f16_to_f32(dh) * x[i].d * (float)isum;
            if (type == TK_Q5_1) { uint16_t mh; memcpy(&mh, b + 2, 2); sum += tk_f16_to_f32(mh) * x[i].s; }
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

// A k-quant row: per 32-weight sub-block b of each super-block, scale·Σ q·x over each half (the two halves' scales
// differ only in Q6_K) minus min·Σ x, with x = d·xq, so Σ x = the activation block's s.
static float dot_row_k_ref(int type, const uint8_t *w, const tk_block_q8 *x, int64_t nb) {
    const size_t bytes = type == TK_Q4_K ? 144 : type == TK_Q5_K ? 176 : 210;
    float sum = 0;
    for (int64_t i = 0; i < nb / 8; i++) {
        const uint8_t *blk = w + i * bytes;
        for (int b = 0; b < 8; b++) {
            const tk_block_q8 *xb = x + 8 * i + b;
            int q[32];
            float scale[2], min = 0;
            if (type == TK_Q6_K) {
                const int h = b / 4, g = b % 4;
                const uint8_t *ql = blk + 64 * h + 32 * (g & 1), *qh = blk + 128 + 32 * h;
                for (int l = 0; l < 32; l++) {
                    const int lo = g < 2 ? ql[l] & 0xF : ql[l] >> 4;
                    q[l] = (lo | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                }
                uint16_t dh; memcpy(&dh, blk + 208, 2);
                const int8_t *sc = (const int8_t *)(blk + 192) + 8 * h + 2 * g;
                scale[0] = tk_f16_to_f32(dh) * sc[0]; scale[1] = tk_f16_to_f32(dh) * sc[1];
            } else {
                const uint8_t *qs = blk + (type == TK_Q4_K ? 16 : 48) + 32 * (b / 2);
                for (int l = 0; l < 32; l++) {
                    q[l] = b & 1 ? qs[l] >> 4 : qs[l] & 0xF;
                    if (type == TK_Q5_K) q[l] |= ((blk[16 + l] >> b) & 1) << 4;
                }
                uint16_t dh, mh; memcpy(&dh, blk, 2); memcpy(&mh, blk + 2, 2);
                uint8_t sc, m; get_scale_min_k4(b, blk + 4, &sc, &m);
                scale[0] = scale[1] = tk_f16_to_f32(dh) * sc;
                min = tk_f16_to_f32(mh) * m;
            }
            int half[2] = { 0, 0 };
            for (int l = 0; l < 32; l++) half[l / 16] += q[l] * xb->qs[l];
            sum += xb->d * (scale[0] * (float)half[0] + scale[1] * (float)half[1]) - min * xb->s;
        }
    }
    return sum;
}

void tk_matmul_q8_ref(int type, const void *w, size_t wrb, int64_t rows, int64_t cols,
                      const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy) {
    int64_t nb = cols / 32;
    const int k = type == TK_Q4_K || type == TK_Q5_K || type == TK_Q6_K;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t r = 0; r < rows; r++) {
            const uint8_t *wr = (const uint8_t *)w + r * wrb;
            y[b * ldy + r] = k ? dot_row_k_ref(type, wr, xq + b * nb, nb) : dot_row_ref(type, wr, xq + b * nb, nb);
        }
}

// ---- AVX2 ----

typedef struct {
    int type; const uint8_t *w; size_t wrb; int64_t rows, cols; const tk_block_q8 *xq; int64_t batch;
    float *y; int64_t ldy; int64_t rows_per_task;
} mm_ctx;

#define TILE_NAME(x) x##_avx2
#define TILE_TARGET "avx2,fma,f16c"
#define TILE_DOT(aw, xv) _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xv), _mm256_set1_epi16(1))
#include "QuantMatmulTiles.h"
#undef TILE_NAME
#undef TILE_TARGET
#undef TILE_DOT

#define TILE_NAME(x) x##_vnni
#define TILE_TARGET "avx2,fma,f16c,avx512f,avx512vl,avx512vnni"
#define TILE_DOT(aw, xv) _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, xv)
#include "QuantMatmulTiles.h"
#undef TILE_NAME
#undef TILE_TARGET
#undef TILE_DOT

static _Atomic int allow_vnni = 1;  // a switch other threads read while it is set
void tk_set_vnni(int on) { atomic_store_explicit(&allow_vnni, on, memory_order_relaxed); }
int tk_uses_vnni(void) { return atomic_load_explicit(&allow_vnni, memory_order_relaxed) && tk_cpu_has_avx512vnni(); }

void tk_matmul_q8(int type, const void *w, size_t wrb, int64_t rows, int64_t cols,
                  const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy) {
    if (!tk_use_fast_path()) { tk_matmul_q8_ref(type, w, wrb, rows, cols, xq, batch, y, ldy); return; }
    int threads = tk_pool_threads();
    // About four tasks per thread balances uneven cores without making tasks too small to amortise the handoff.
    int64_t tasks = threads * 4;
    int64_t rpt = (rows + tasks - 1) / tasks;
    if (rpt < 16) rpt = 16;
    mm_ctx c = { type, w, wrb, rows, cols, xq, batch, y, ldy, rpt };
    tk_parallel_for((int)((rows + rpt - 1) / rpt), tk_uses_vnni() ? mm_task_vnni : mm_task_avx2, &c);
}

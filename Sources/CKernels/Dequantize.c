// ggml block formats to f32, following llama.cpp's reference `dequantize_row_*` (ggml-quants.c) element for
// element. The fast path handles the types of real downloads (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, the k-quants, F16) with AVX2 where present.
#include "CKernels.h"
#include "BlockLayouts.h"
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <immintrin.h>

typedef struct { uint16_t d; uint8_t qs[16]; } block_q4_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } block_q5_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[16]; } block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } block_q8_0;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0"); _Static_assert(sizeof(block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0"); _Static_assert(sizeof(block_q5_1) == 24, "q5_1");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0"); _Static_assert(sizeof(block_q4_K) == 144, "q4_K");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K"); _Static_assert(sizeof(block_q6_K) == 210, "q6_K");

static _Atomic int force_reference = 0;  // a switch other threads read while it is set
void tk_set_force_reference(int on) { atomic_store_explicit(&force_reference, on, memory_order_relaxed); }
int tk_use_fast_path(void) { return !atomic_load_explicit(&force_reference, memory_order_relaxed) && tk_cpu_has_avx2_fma(); }

float tk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else { // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) { mant <<= 1; exp--; }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000 | (mant << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    float f; memcpy(&f, &bits, 4); return f;
}

uint16_t tk_f32_to_f16(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000; int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15; uint32_t mant = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp), half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

// Rows of a half-precision KV cache. F16C rounds to nearest even as tk_f32_to_f16 does, so both paths store the
// same bits (NaN payloads aside).
__attribute__((target("avx2,f16c")))
static void f32_to_f16_row_f16c(const float *x, uint16_t *h, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) h[i] = tk_f32_to_f16(x[i]);
}

__attribute__((target("avx2,f16c")))
static void f16_to_f32_row_f16c(const uint16_t *h, float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) x[i] = tk_f16_to_f32(h[i]);
}

void tk_f32_to_f16_row(const float *x, uint16_t *h, int64_t n) {
    if (tk_use_fast_path()) f32_to_f16_row_f16c(x, h, n); else for (int64_t i = 0; i < n; i++) h[i] = tk_f32_to_f16(x[i]);
}

void tk_f16_to_f32_row(const uint16_t *h, float *x, int64_t n) {
    if (tk_use_fast_path()) f16_to_f32_row_f16c(h, x, n); else for (int64_t i = 0; i < n; i++) x[i] = tk_f16_to_f32(h[i]);
}

float tk_bf16_to_f32(uint16_t h) { uint32_t bits = (uint32_t)h << 16; float f; memcpy(&f, &bits, 4); return f; }
uint16_t tk_f32_to_bf16(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64); // quiet NaN
    return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);              // round to nearest even
}

static int block_size(int type) {
    switch (type) {
    case TK_F32: case TK_F16: case TK_BF16: return 1;
    case TK_Q4_0: case TK_Q4_1: case TK_Q5_0: case TK_Q5_1: case TK_Q8_0: return 32;
    case TK_Q4_K: case TK_Q5_K: case TK_Q6_K: return 256;
    default: return 0;
    }
}
static size_t block_bytes(int type) {
    switch (type) {
    case TK_F32: return 4; case TK_F16: case TK_BF16: return 2;
    case TK_Q4_0: return 18; case TK_Q4_1: return 20; case TK_Q5_0: return 22; case TK_Q5_1: return 24; case TK_Q8_0: return 34;
    case TK_Q4_K: return 144; case TK_Q5_K: return 176; case TK_Q6_K: return 210;
    default: return 0;
    }
}
size_t tk_row_bytes(int type, int64_t cols) {
    int bs = block_size(type);
    if (bs == 0 || cols % bs != 0) return 0;
    return (size_t)(cols / bs) * block_bytes(type);
}

void tk_dequantize_ref(int type, const void *src, float *y, int64_t n) {
    switch (type) {
    case TK_F32: memcpy(y, src, (size_t)n * 4); return;
    case TK_F16: { const uint16_t *h = src; for (int64_t i = 0; i < n; i++) y[i] = tk_f16_to_f32(h[i]); return; }
    case TK_BF16: { const uint16_t *h = src; for (int64_t i = 0; i < n; i++) y[i] = tk_bf16_to_f32(h[i]); return; }
    case TK_Q4_0: {
        const block_q4_0 *x = src;
        for (int64_t i = 0; i < n / 32; i++, y += 32) {
            float d = tk_f16_to_f32(x[i].d);
            for (int j = 0; j < 16; j++) { y[j] = ((x[i].qs[j] & 0xF) - 8) * d; y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d; }
        }
        return;
    }
    case TK_Q4_1: {
        const block_q4_1 *x = src;
        for (int64_t i = 0; i < n / 32; i++, y += 32) {
            float d = tk_f16_to_f32(x[i].d), m = tk_f16_to_f32(x[i].m);
            for (int j = 0; j < 16; j++) { y[j] = (x[i].qs[j] & 0xF) * d + m; y[j + 16] = (x[i].qs[j] >> 4) * d + m; }
        }
        return;
    }
    case TK_Q5_0: case TK_Q5_1: {
        // Element j's fifth bit is bit j of qh (ggml's dequantize_row_q5_0/q5_1).
        for (int64_t i = 0; i < n / 32; i++, y += 32) {
            const uint8_t *b = (const uint8_t *)src + i * (type == TK_Q5_0 ? 22 : 24);
            uint16_t dh, mh = 0; memcpy(&dh, b, 2);
            uint32_t qh; const uint8_t *qs;
            if (type == TK_Q5_0) { memcpy(&qh, b + 2, 4); qs = b + 6; } else { memcpy(&mh, b + 2, 2); memcpy(&qh, b + 4, 4); qs = b + 8; }
            float d = tk_f16_to_f32(dh), m = tk_f16_to_f32(mh);
            for (int j = 0; j < 16; j++) {
                int x0 = (qs[j] & 0xF) | (((qh >> j) & 1) << 4), x1 = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
                if (type == TK_Q5_0) { y[j] = (x0 - 16) * d; y[j + 16] = (x1 - 16) * d; }
                else { y[j] = x0 * d + m; y[j + 16] = x1 * d + m; }
            }
        }
        return;
    }
    case TK_Q8_0: {
        const block_q8_0 *x = src;
        for (int64_t i = 0; i < n / 32; i++, y += 32) {
            float d = tk_f16_to_f32(x[i].d);
            for (int j = 0; j < 32; j++) y[j] = x[i].qs[j] * d;
        }
        return;
    }
    case TK_Q4_K: {
        const block_q4_K *x = src;
        for (int64_t i = 0; i < n / 256; i++) {
            const uint8_t *q = x[i].qs;
            float d = tk_f16_to_f32(x[i].d), min = tk_f16_to_f32(x[i].dmin);
            int is = 0; uint8_t sc, m;
            for (int j = 0; j < 256; j += 64) {
                get_scale_min_k4(is + 0, x[i].scales, &sc, &m); float d1 = d * sc, m1 = min * m;
                get_scale_min_k4(is + 1, x[i].scales, &sc, &m); float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
                for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
                q += 32; is += 2;
            }
        }
        return;
    }
    case TK_Q5_K: {
        const block_q5_K *x = src;
        for (int64_t i = 0; i < n / 256; i++) {
            const uint8_t *ql = x[i].qs, *qh = x[i].qh;
            float d = tk_f16_to_f32(x[i].d), min = tk_f16_to_f32(x[i].dmin);
            int is = 0; uint8_t sc, m, u1 = 1, u2 = 2;
            for (int j = 0; j < 256; j += 64) {
                get_scale_min_k4(is + 0, x[i].scales, &sc, &m); float d1 = d * sc, m1 = min * m;
                get_scale_min_k4(is + 1, x[i].scales, &sc, &m); float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
                ql += 32; is += 2; u1 <<= 2; u2 <<= 2;
            }
        }
        return;
    }
    case TK_Q6_K: {
        const block_q6_K *x = src;
        for (int64_t i = 0; i < n / 256; i++) {
            float d = tk_f16_to_f32(x[i].d);
            const uint8_t *ql = x[i].ql, *qh = x[i].qh; const int8_t *sc = x[i].scales;
            for (int k = 0; k < 256; k += 128) {
                for (int l = 0; l < 32; ++l) {
                    int is = l / 16;
                    int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l + 0] = d * sc[is + 0] * q1; y[l + 32] = d * sc[is + 2] * q2;
                    y[l + 64] = d * sc[is + 4] * q3; y[l + 96] = d * sc[is + 6] * q4;
                }
                y += 128; ql += 64; qh += 32; sc += 8;
            }
        }
        return;
    }
    }
}

// The k-quants with the reference's arithmetic, operation for operation (scale·q − min, (d·scale)·q), so the bytes
// out are the same.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void dequantize_k_avx2(const int TYPE, const void *src, float *y, int64_t n) {
    const size_t bytes = TYPE == TK_Q4_K ? 144 : TYPE == TK_Q5_K ? 176 : 210;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *blk = (const uint8_t *)src + i * bytes;
        for (int b = 0; b < 8; b++, y += 32) {
            const __m256i q = kq_sub_avx2(TYPE, blk, b);
            __m256 scale[2], min = _mm256_setzero_ps();
            if (TYPE == TK_Q6_K) {
                uint16_t dh; memcpy(&dh, blk + 208, 2);
                const int8_t *sc = (const int8_t *)(blk + 192) + 8 * (b / 4) + 2 * (b % 4);
                const float d = tk_f16_to_f32(dh);
                scale[0] = _mm256_set1_ps(d * sc[0]); scale[1] = _mm256_set1_ps(d * sc[1]);
            } else {
                uint16_t dh, mh; memcpy(&dh, blk, 2); memcpy(&mh, blk + 2, 2);
                uint8_t sc, m; get_scale_min_k4(b, blk + 4, &sc, &m);
                scale[0] = scale[1] = _mm256_set1_ps(tk_f16_to_f32(dh) * sc);
                min = _mm256_set1_ps(tk_f16_to_f32(mh) * m);
            }
            const __m128i halves[2] = { _mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1) };
            for (int k = 0; k < 4; k++) {
                const __m128i part = k % 2 ? _mm_srli_si128(halves[k / 2], 8) : halves[k / 2];
                const __m256i wide = TYPE == TK_Q6_K ? _mm256_cvtepi8_epi32(part) : _mm256_cvtepu8_epi32(part);
                const __m256 v = _mm256_mul_ps(scale[k / 2], _mm256_cvtepi32_ps(wide));
                _mm256_storeu_ps(y + 8 * k, TYPE == TK_Q6_K ? v : _mm256_sub_ps(v, min));
            }
        }
    }
}

__attribute__((target("avx2,fma,f16c")))
static void dequantize_avx2(int type, const void *src, float *y, int64_t n) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    switch (type) {
    case TK_F16: {
        const uint16_t *h = src; int64_t i = 0;
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
        for (; i < n; i++) y[i] = tk_f16_to_f32(h[i]);
        return;
    }
    case TK_Q4_0: case TK_Q4_1: {
        const uint8_t *p = src; size_t bb = type == TK_Q4_0 ? 18 : 20; int qoff = type == TK_Q4_0 ? 2 : 4;
        for (int64_t i = 0; i < n / 32; i++, y += 32, p += bb) {
            uint16_t dh, mh = 0; memcpy(&dh, p, 2); if (type == TK_Q4_1) memcpy(&mh, p + 2, 2);
            __m256 d = _mm256_set1_ps(_cvtsh_ss(dh));
            __m256 m = type == TK_Q4_1 ? _mm256_set1_ps(_cvtsh_ss(mh)) : _mm256_set1_ps(-8.0f * _cvtsh_ss(dh));
            __m128i raw = _mm_loadu_si128((const __m128i *)(p + qoff));
            __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low); // bytes 0..15 low, 16..31 high
            __m128i q0 = _mm256_castsi256_si128(q), q1 = _mm256_extracti128_si256(q, 1);
            _mm256_storeu_ps(y + 0, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q0)), d, m));
            _mm256_storeu_ps(y + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q0, 8))), d, m));
            _mm256_storeu_ps(y + 16, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q1)), d, m));
            _mm256_storeu_ps(y + 24, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q1, 8))), d, m));
        }
        return;
    }
    case TK_Q5_0: case TK_Q5_1: {
        const uint8_t *p = src; const size_t bb = type == TK_Q5_0 ? 22 : 24;
        for (int64_t i = 0; i < n / 32; i++, y += 32, p += bb) {
            uint16_t dh, mh = 0; memcpy(&dh, p, 2); if (type == TK_Q5_1) memcpy(&mh, p + 2, 2);
            const __m256 d = _mm256_set1_ps(_cvtsh_ss(dh)), m = _mm256_set1_ps(_cvtsh_ss(mh));
            const __m256i q = type == TK_Q5_0 ? q5_block_avx2(TK_Q5_0, p) : q5_block_avx2(TK_Q5_1, p);
            const __m128i halves[2] = { _mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1) };
            for (int k = 0; k < 4; k++) {
                const __m128i part = k % 2 ? _mm_srli_si128(halves[k / 2], 8) : halves[k / 2];
                // Products of a 5-bit integer and an f16 scale are exact, so fmadd rounds as the reference does.
                const __m256 v = _mm256_cvtepi32_ps(type == TK_Q5_0 ? _mm256_cvtepi8_epi32(part) : _mm256_cvtepu8_epi32(part));
                _mm256_storeu_ps(y + 8 * k, type == TK_Q5_0 ? _mm256_mul_ps(v, d) : _mm256_fmadd_ps(v, d, m));
            }
        }
        return;
    }
    case TK_Q8_0: {
        const uint8_t *p = src;
        for (int64_t i = 0; i < n / 32; i++, y += 32, p += 34) {
            uint16_t dh; memcpy(&dh, p, 2);
            __m256 d = _mm256_set1_ps(_cvtsh_ss(dh));
            for (int k = 0; k < 4; k++) {
                __m128i q = _mm_loadl_epi64((const __m128i *)(p + 2 + 8 * k));
                _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
            }
        }
        return;
    }
    case TK_Q4_K: dequantize_k_avx2(TK_Q4_K, src, y, n); return;
    case TK_Q5_K: dequantize_k_avx2(TK_Q5_K, src, y, n); return;
    case TK_Q6_K: dequantize_k_avx2(TK_Q6_K, src, y, n); return;
    default: tk_dequantize_ref(type, src, y, n);
    }
}

void tk_dequantize(int type, const void *src, float *dst, int64_t n) {
    if (tk_use_fast_path()) dequantize_avx2(type, src, dst, n);
    else tk_dequantize_ref(type, src, dst, n);
}

// ---- quantisation (reference only: for tests and exports, never on a hot path) ----
void tk_quantize_ref(int type, const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / 32; i++) {
        const float *v = x + i * 32;
        if (type == TK_Q8_0) {
            float amax = 0; for (int j = 0; j < 32; j++) { float a = fabsf(v[j]); if (a > amax) amax = a; }
            float d = amax / 127, id = d ? 1 / d : 0;
            uint16_t h = tk_f32_to_f16(d); memcpy(out, &h, 2);
            for (int j = 0; j < 32; j++) out[2 + j] = (uint8_t)(int8_t)roundf(v[j] * id);
            out += 34;
        } else if (type == TK_Q4_1) {
            float mn = v[0], mx = v[0];
            for (int j = 1; j < 32; j++) { if (v[j] < mn) mn = v[j]; if (v[j] > mx) mx = v[j]; }
            float d = (mx - mn) / 15, id = d ? 1 / d : 0;
            uint16_t hd = tk_f32_to_f16(d), hm = tk_f32_to_f16(mn); memcpy(out, &hd, 2); memcpy(out + 2, &hm, 2);
            for (int j = 0; j < 16; j++) {
                int a = (int)fminf(15, roundf((v[j] - mn) * id)), b = (int)fminf(15, roundf((v[j + 16] - mn) * id));
                out[4 + j] = (uint8_t)(a | (b << 4));
            }
            out += 20;
        } else if (type == TK_Q4_0) {
            float amax = 0, m = 0; for (int j = 0; j < 32; j++) { if (fabsf(v[j]) > amax) { amax = fabsf(v[j]); m = v[j]; } }
            float d = m / -8, id = d ? 1 / d : 0;
            uint16_t h = tk_f32_to_f16(d); memcpy(out, &h, 2);
            for (int j = 0; j < 16; j++) {
                int a = (int)fminf(15, v[j] * id + 8.5f), b = (int)fminf(15, v[j + 16] * id + 8.5f);
                out[2 + j] = (uint8_t)(a | (b << 4));
            }
            out += 18;
        }
    }
}

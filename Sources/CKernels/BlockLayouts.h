// How ggml blocks keep their bits, where dequantisation and the 8-bit products both need it: the k-quant
// super-blocks (Q4_K, Q5_K, Q6_K: 256 weights each) read one 32-weight sub-block at a time, and the fifth bits of
// Q5_0/Q5_1 spread to bytes. Internal to CKernels.
#pragma once
#include "CKernels.h"
#include <stdint.h>

typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[128]; } block_q4_K;
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } block_q6_K;

/// Q4_K/Q5_K: the 6-bit scale and min of sub-block j (0..7), packed in 12 bytes.
static inline void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
    else { *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4); }
}

// Where sub-block b (weights 32b..32b+31 of the super-block) keeps its bits:
//  Q4_K: nibbles qs[32(b/2) + l], low for even b, high for odd; scale and min index b.
//  Q5_K: the same nibbles, plus bit b of qh[l] as the fifth bit.
//  Q6_K: half h = b/4, g = b%4: low 4 bits in ql[64h + 32(g&1) + l] (low nibble for g < 2, else high), high 2 bits
//        at bit 2g of qh[32h + l]; value − 32; int8 scales[8h + 2g] for l < 16 and [8h + 2g + 1] for l ≥ 16.

#if defined(__x86_64__)
#include <immintrin.h>

/// Q5_0/Q5_1: the 32 bits at `qh` (bit j belongs to element j) as 32 bytes, 0xFF where the bit is set.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline __m256i bits_to_bytes_avx2(const uint8_t *qh) {
    uint32_t x32; __builtin_memcpy(&x32, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x32),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
    // Byte k of each group of 8 keeps all bits but bit k set; it is all ones exactly when bit k was set.
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)), _mm256_set1_epi64x(-1));
}

/// Q5_0 (signed, −16..15) or Q5_1 (unsigned, 0..31) block at blk as 32 bytes in element order.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline __m256i q5_block_avx2(const int TYPE, const uint8_t *blk) {
    const int qh = TYPE == TK_Q5_0 ? 2 : 4;
    const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + qh + 4));
    const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
    const __m256i bits = bits_to_bytes_avx2(blk + qh);
    // Q5_0: nibble − 16 is the nibble with its high four bits set (as int8) where the fifth bit is clear.
    return TYPE == TK_Q5_0 ? _mm256_or_si256(nib, _mm256_andnot_si256(bits, _mm256_set1_epi8((char)0xF0)))
                           : _mm256_or_si256(nib, _mm256_and_si256(bits, _mm256_set1_epi8(0x10)));
}

/// Sub-block b of the super-block at blk as 32 bytes of quantised weights in element order: unsigned (0..15 or
/// 0..31) for Q4_K and Q5_K, signed (−32..31) for Q6_K. TYPE is a constant at every call.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline __m256i kq_sub_avx2(const int TYPE, const uint8_t *blk, int b) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    if (TYPE == TK_Q6_K) {
        const int h = b / 4, g = b % 4;
        const __m256i raw = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32 * (g & 1)));
        const __m256i nib = _mm256_and_si256(g < 2 ? raw : _mm256_srli_epi16(raw, 4), low);
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
        const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), _mm256_set1_epi8(3));
        return _mm256_sub_epi8(_mm256_or_si256(nib, _mm256_slli_epi16(hi, 4)), _mm256_set1_epi8(32));
    }
    const int qs = TYPE == TK_Q4_K ? 16 : 48;
    const __m256i raw = _mm256_loadu_si256((const __m256i *)(blk + qs + 32 * (b / 2)));
    const __m256i nib = _mm256_and_si256((b & 1) ? _mm256_srli_epi16(raw, 4) : raw, low);
    if (TYPE == TK_Q4_K) return nib;
    const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 16));
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(b)), _mm256_set1_epi8(1));
    return _mm256_or_si256(nib, _mm256_slli_epi16(hi, 4));
}
#endif

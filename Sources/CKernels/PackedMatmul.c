// The 8-bit product over a repacked copy of Q4_0, Q4_1 or Q8_0 weights, for several activation rows at once (batched
// decode, short prompts). tk_matmul_q8 multiplies one weight row at a time and sums each output horizontally; here
// 16 consecutive output rows are interleaved in 4-byte groups along k, so one vpdpbusd multiplies 4 k-steps of all 16
// rows by a broadcast 4-byte slice of one activation row: no horizontal sums, and a block's nibbles are unpacked once
// per tile of activation rows instead of once per row. Not a replacement for the original bytes: dequantisation
// (long prefill, training) and the scalar reference still read those.
#include "CKernels.h"
#include <string.h>
#include <immintrin.h>

int tk_use_fast_path(void);

// Packed layout: groups of PK_ROWS rows (the last one zero-padded), each group's blocks one after another. A block
// of a group holds the quants, then the 16 rows' scales d as f16, then (Q4_1) their offsets m as f16.
//  Q4_0, Q4_1: 4 vectors of 64 bytes; byte 4r + t of vector p holds row r's element 4p + t in its low nibble and
//              element 4p + 16 + t in its high nibble (so vector p gives dot-product vectors p and p + 4).
//  Q8_0:       8 vectors of 64 bytes; byte 4r + t of vector j is row r's element 4j + t plus 128, as unsigned, since
//              vpdpbusd wants one unsigned operand and the activations, broadcast, must be the signed one.
// Scales stay f16 (one convert per block and tile), so a packed block is exactly as large as the 16 original ones.
#define PK_ROWS 16
// Activation rows per tile. The AVX2 tiles: 4 (16 registers). The VNNI tile keeps 8 weight vectors and 2·NBT
// accumulators in 32 registers: 8 rows, no spills (clang -O3). Per block and row a tile issues 8 vpdpbusd beside ~4
// float operations and its share of the block's unpacking (12 operations over the tile's rows), all on the same two
// vector ports — vpdpbusd is not the limit (this Xeon issues two a cycle, as many as FMAs) — so more rows a tile
// means fewer operations per multiply: on the Xeon, Q4_1 1536 × 576, one thread in cache 157–160 → 182–193 GMAC/s
// at 16 rows, 139–142 → 183–187 at 256; two threads, weights not in cache, 16 rows 172–213 → 243–303 (harness in
// bench-results/xeon-2026-12-07b). An earlier measurement of 8 rows (~155 against 165) was on the Zen 4, where a
// 512-bit operation occupies a 256-bit unit twice, with an earlier tile: re-measure there before trusting 8.
#define PK_TILE 4
#define PK_TILE_VNNI 8

static int pk_supports(int type) { return type == TK_Q4_0 || type == TK_Q4_1 || type == TK_Q8_0; }
static size_t pk_quant_bytes(int type) { return type == TK_Q8_0 ? 512 : 256; }
static size_t pk_block_bytes(int type) { return pk_quant_bytes(type) + (type == TK_Q4_1 ? 64 : 32); }

size_t tk_q8_packed_bytes(int type, int64_t rows, int64_t cols) {
    if (!pk_supports(type) || cols % 32 != 0 || rows <= 0) return 0;
    return (size_t)((rows + PK_ROWS - 1) / PK_ROWS) * (size_t)(cols / 32) * pk_block_bytes(type);
}

typedef struct { int type; const uint8_t *w; size_t wrb; int64_t rows, cols; uint8_t *packed; } pack_ctx;

// Packs group `g` (tasks are groups: a model's matrices are packed once at load, on the pool).
static void pack_group(void *vctx, int task) {
    const pack_ctx *c = vctx;
    const int type = c->type;
    const int64_t nb = c->cols / 32, g = task;
    const size_t gb = pk_block_bytes(type), qb = pk_quant_bytes(type);
    const size_t bb = type == TK_Q8_0 ? 34 : type == TK_Q4_0 ? 18 : 20;
    memset(c->packed + g * nb * gb, 0, nb * gb);
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *dst = c->packed + (g * nb + i) * gb;
        uint16_t *d = (uint16_t *)(dst + qb), *m = d + PK_ROWS;
        for (int r = 0; r < PK_ROWS && g * PK_ROWS + r < c->rows; r++) {
            const uint8_t *blk = c->w + (g * PK_ROWS + r) * c->wrb + i * bb;
            memcpy(&d[r], blk, 2);
            if (type == TK_Q4_1) memcpy(&m[r], blk + 2, 2);
            if (type == TK_Q8_0) {
                for (int k = 0; k < 32; k++) dst[64 * (k / 4) + 4 * r + k % 4] = (uint8_t)(blk[2 + k] ^ 0x80);
            } else {
                // ggml's byte j holds element j (low nibble) and element j + 16 (high): the same split as ours.
                const uint8_t *qs = blk + (type == TK_Q4_1 ? 4 : 2);
                for (int k = 0; k < 16; k++) dst[64 * (k / 4) + 4 * r + k % 4] = qs[k];
            }
        }
    }
}

void tk_q8_pack(int type, const void *w, size_t wrb, int64_t rows, int64_t cols, void *packed) {
    pack_ctx c = { type, w, wrb, rows, cols, packed };
    tk_parallel_for((int)((rows + PK_ROWS - 1) / PK_ROWS), pack_group, &c);
}

typedef struct {
    int type; const uint8_t *packed; int64_t rows, cols; const tk_block_q8 *xq; int64_t batch;
    float *y; int64_t ldy; int64_t tasks;
} pk_ctx;

// Σ x of each activation block, times the bias the weights' unsigned form adds (Q4_0: nibble − 8; Q8_0: byte − 128),
// negated: the integer dot of a block starts from it, so the result is Σ w·x exactly. For the activation rows
// [0, n) of xq into xs[k * nb + i].
__attribute__((target("avx2,fma,f16c")))
static void pk_bias_sums(int bias, const tk_block_q8 *xq, int64_t n, int64_t nb, int32_t *xs) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t k = 0; k < n * nb; k++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)xq[k].qs);
        const __m256i s16 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(x)), ones);
        const __m256i s16h = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(x, 1)), ones);
        __m256i s = _mm256_add_epi32(s16, s16h);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        xs[k] = -bias * _mm_cvtsi128_si32(s4);
    }
}

static inline int32_t pk_load32(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

// ---- AVX-512 VNNI ----

// One group of 16 rows against NBT activation rows (xq and xs at the first), out[k] the group's first output of
// activation row k; `valid` outputs are stored. Per output, the blocks are summed one after another in acc and the
// Q4_1 offsets m·Σx in ext, added at the end: an order fixed per output element whatever NBT is, which makes a row's
// result independent of the rest of its batch. NBT is a constant at every call.
__attribute__((target("avx2,fma,f16c,avx512f,avx512vnni"), always_inline))
static inline void pk_tile_vnni(const int TYPE, const int NBT, const uint8_t *pg, const tk_block_q8 *xq,
                                const int32_t *xs, int64_t nb, float *out[PK_TILE_VNNI], int valid) {
    const size_t gb = TYPE == TK_Q8_0 ? 544 : TYPE == TK_Q4_1 ? 320 : 288, qb = TYPE == TK_Q8_0 ? 512 : 256;
    const __m512i low = _mm512_set1_epi8(0x0F);
    __m512 acc[PK_TILE_VNNI], ext[PK_TILE_VNNI];
    for (int k = 0; k < NBT; k++) { acc[k] = _mm512_setzero_ps(); ext[k] = _mm512_setzero_ps(); }
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = pg + i * gb;
        // Twelve blocks ahead (~4 KB): a tile's first pass over a group is the one that waits on memory, and four
        // blocks of it are too short a lead for weights that are not in cache (Xeon harness, 16 rows, weights
        // out of cache: +5–10 %; in cache level).
        for (size_t o = 0; o < gb; o += 64) _mm_prefetch((const char *)(b + 12 * gb + o), _MM_HINT_T0);
        __m512i wv[8];
        if (TYPE == TK_Q8_0) {
            for (int j = 0; j < 8; j++) wv[j] = _mm512_loadu_si512(b + 64 * j);
        } else {
            for (int p = 0; p < 4; p++) {
                const __m512i raw = _mm512_loadu_si512(b + 64 * p);
                wv[p] = _mm512_and_si512(raw, low);
                wv[p + 4] = _mm512_and_si512(_mm512_srli_epi32(raw, 4), low);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + qb)));
        const __m512 mw = TYPE == TK_Q4_1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + qb + 32))) : dw;
        for (int k = 0; k < NBT; k++) {
            const tk_block_q8 *xb = xq + k * nb + i;
            // Two chains while few rows share the tile: vpdpbusd's latency would otherwise bound a lone row.
            // Integer sums are exact, so the split leaves the bits alone.
            __m512i a0 = TYPE == TK_Q4_1 ? _mm512_setzero_si512() : _mm512_set1_epi32(xs[k * nb + i]);
            __m512i a1 = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                const __m512i xv = _mm512_set1_epi32(pk_load32(xb->qs + 4 * j));
                if (NBT < 4 && (j & 1)) a1 = _mm512_dpbusd_epi32(a1, wv[j], xv);
                else a0 = _mm512_dpbusd_epi32(a0, wv[j], xv);
            }
            if (NBT < 4) a0 = _mm512_add_epi32(a0, a1);
            acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a0), _mm512_mul_ps(dw, _mm512_set1_ps(xb->d)), acc[k]);
            if (TYPE == TK_Q4_1) ext[k] = _mm512_fmadd_ps(mw, _mm512_set1_ps(xb->s), ext[k]);
        }
    }
    const __mmask16 mask = (__mmask16)((1u << valid) - 1);
    for (int k = 0; k < NBT; k++) _mm512_mask_storeu_ps(out[k], mask, TYPE == TK_Q4_1 ? _mm512_add_ps(acc[k], ext[k]) : acc[k]);
}

// ---- AVX2 (no VNNI) ----

// Stores the first n (≤ 8) lanes of v at y: one vector store when all 8 are wanted, a short copy only for the last
// half of a matrix whose row count is not a multiple of 16 (a memmove per tile and half was ~1 % of a batched decode).
__attribute__((target("avx2"), always_inline))
static inline void pk_store8(float *y, __m256 v, int n) {
    if (n == 8) { _mm256_storeu_ps(y, v); return; }
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(y, t, (size_t)n * sizeof(float));
}

// The same per-output arithmetic as pk_tile_vnni with maddubs + madd in place of vpdpbusd (no pair sum saturates:
// nibbles ≤ 15, and Q8_0 goes through the sign trick, |w| ≤ 128 against x · sign(w)), so the integer sums, and with
// them every float operation, are the same, and so are the bits.

// Q8_0, 8 rows at a time: its products (up to 128 · 127 a pair) are widened to 32 bits one maddubs at a time. One
// packed vector at a time against every activation row of the tile, the loop kept rolled: holding a block's eight
// vectors (and their signs) at once spilled them from the 16 registers (~12 % slower at 4 and 16 rows).
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void pk_tile_avx2_q8(const int TYPE, const int NBT, const uint8_t *pg, const tk_block_q8 *xq,
                                   const int32_t *xs, int64_t nb, float *out[PK_TILE], int valid) {
    (void)TYPE; (void)xs;
    const size_t gb = 544, qb = 512;
    const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    for (int h = 0; h < 2 && 8 * h < valid; h++) {
        __m256 acc[PK_TILE];
        for (int k = 0; k < NBT; k++) acc[k] = _mm256_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            const uint8_t *b = pg + i * gb + 32 * h;
            // Four blocks ahead, as the other tiles; the second half's pass finds the group's blocks in cache.
            if (h == 0) for (size_t o = 0; o < gb; o += 64) _mm_prefetch((const char *)(pg + (i + 4) * gb + o), _MM_HINT_T0);
            __m256i a[PK_TILE];
            for (int k = 0; k < NBT; k++) a[k] = _mm256_setzero_si256();
            _Pragma("clang loop unroll(disable)")
            for (int j = 0; j < 8; j++) {
                const __m256i sg = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + 64 * j)), flip);
                const __m256i wv = _mm256_sign_epi8(sg, sg);
                for (int k = 0; k < NBT; k++) {
                    const __m256i xv = _mm256_sign_epi8(_mm256_set1_epi32(pk_load32(xq[k * nb + i].qs + 4 * j)), sg);
                    a[k] = _mm256_add_epi32(a[k], _mm256_madd_epi16(_mm256_maddubs_epi16(wv, xv), ones));
                }
            }
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pg + i * gb + qb + 16 * h)));
            for (int k = 0; k < NBT; k++)
                acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a[k]), _mm256_mul_ps(dw, _mm256_set1_ps(xq[k * nb + i].d)), acc[k]);
        }
        const int n = valid - 8 * h < 8 ? valid - 8 * h : 8;
        for (int k = 0; k < NBT; k++) pk_store8(out[k] + 8 * h, acc[k], n);
    }
}

// Q4_0 and Q4_1: all 16 rows of the group at once, one packed vector (both halves' low and high nibbles) at a time
// against every activation row of the tile, so that a broadcast slice of an activation row serves 16 weight rows
// and the sums stay in registers. A lane adds its block's 16 products of a nibble (≤ 15) and an 8-bit activation
// (|x| ≤ 127) in 16 bits — at most 30,480, exact, in any order — and is widened once with vpmaddwd: one where
// widening each maddubs took eight. Per output the float steps are pk_tile_vnni's, in its order.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void pk_tile_avx2_q4(const int TYPE, const int NBT, const uint8_t *pg, const tk_block_q8 *xq,
                                   const int32_t *xs, int64_t nb, float *out[PK_TILE], int valid) {
    const size_t gb = TYPE == TK_Q4_1 ? 320 : 288, qb = 256;
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[2][PK_TILE], ext[2][PK_TILE];
    for (int k = 0; k < NBT; k++) acc[0][k] = acc[1][k] = ext[0][k] = ext[1][k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = pg + i * gb;
        // Four blocks ahead, as the VNNI tile: a decode row is bound by reading the weights (~+20 % at one row on
        // weights not in cache, one thread).
        for (size_t o = 0; o < gb; o += 64) _mm_prefetch((const char *)(b + 4 * gb + o), _MM_HINT_T0);
        __m256i s0[PK_TILE], s1[PK_TILE];
        // Rolled: unrolled (clang -O3) the four vectors' unpacked nibbles and partial sums outgrow the 16 registers
        // and spill, ~20 % slower (82 against 68 GMAC/s, one thread, 16 and 224 rows).
        _Pragma("clang loop unroll(disable)")
        for (int p = 0; p < 4; p++) {
            const __m256i raw0 = _mm256_loadu_si256((const __m256i *)(b + 64 * p));
            const __m256i raw1 = _mm256_loadu_si256((const __m256i *)(b + 64 * p + 32));
            const __m256i lo0 = _mm256_and_si256(raw0, low), hi0 = _mm256_and_si256(_mm256_srli_epi16(raw0, 4), low);
            const __m256i lo1 = _mm256_and_si256(raw1, low), hi1 = _mm256_and_si256(_mm256_srli_epi16(raw1, 4), low);
            for (int k = 0; k < NBT; k++) {
                const int8_t *xk = xq[k * nb + i].qs;
                const __m256i xl = _mm256_set1_epi32(pk_load32(xk + 4 * p)), xh = _mm256_set1_epi32(pk_load32(xk + 4 * p + 16));
                const __m256i t0 = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, xl), _mm256_maddubs_epi16(hi0, xh));
                const __m256i t1 = _mm256_add_epi16(_mm256_maddubs_epi16(lo1, xl), _mm256_maddubs_epi16(hi1, xh));
                s0[k] = p == 0 ? t0 : _mm256_add_epi16(s0[k], t0);
                s1[k] = p == 0 ? t1 : _mm256_add_epi16(s1[k], t1);
            }
        }
        const __m256 dw0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb)));
        const __m256 dw1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb + 16)));
        for (int k = 0; k < NBT; k++) {
            const tk_block_q8 *xb = xq + k * nb + i;
            const __m256 d = _mm256_set1_ps(xb->d);
            __m256i a0 = _mm256_madd_epi16(s0[k], ones), a1 = _mm256_madd_epi16(s1[k], ones);
            if (TYPE == TK_Q4_0) {
                const __m256i bias = _mm256_set1_epi32(xs[k * nb + i]);
                a0 = _mm256_add_epi32(a0, bias); a1 = _mm256_add_epi32(a1, bias);
            }
            acc[0][k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a0), _mm256_mul_ps(dw0, d), acc[0][k]);
            acc[1][k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a1), _mm256_mul_ps(dw1, d), acc[1][k]);
        }
        if (TYPE == TK_Q4_1) {
            const __m256 mw0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb + 32)));
            const __m256 mw1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb + 48)));
            for (int k = 0; k < NBT; k++) {
                const __m256 sx = _mm256_set1_ps(xq[k * nb + i].s);
                ext[0][k] = _mm256_fmadd_ps(mw0, sx, ext[0][k]);
                ext[1][k] = _mm256_fmadd_ps(mw1, sx, ext[1][k]);
            }
        }
    }
    for (int h = 0; h < 2 && 8 * h < valid; h++) {
        const int n = valid - 8 * h < 8 ? valid - 8 * h : 8;
        for (int k = 0; k < NBT; k++) pk_store8(out[k] + 8 * h, TYPE == TK_Q4_1 ? _mm256_add_ps(acc[h][k], ext[h][k]) : acc[h][k], n);
    }
}

// Q4_0 and Q4_1 for up to PK_ROWS_AVX2 activation rows at once, block by block, one group or two side by side (GN):
// a block's unpacked vectors (both halves' low and high nibbles of each group's 16 rows, 512 bytes a group) are made
// once and read from L1 by every activation row, whose 16-bit sums stay in registers for the block; the float
// accumulators live in a small buffer. With two groups each broadcast slice of an activation row serves four
// vectors. In pk_tile_avx2_q4's tiles the 4 rows' sums, their 16 float accumulators and the unpacked weights
// outgrow the 16 registers and spill on every step; this order, at 16 activation rows on a 1536 × 576 Q4_1 matrix
// (harness, one thread, Zen 3): 92 against 83 GMAC/s in cache, level on weights not in cache (80–85), +6–10 % from
// 32 rows. Per output the integer sums and the float steps are pk_tile_vnni's, in its order: the same bits.
#define PK_ROWS_AVX2 16
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void pk_rows_avx2_q4(const int TYPE, const int GN, const uint8_t *pg, size_t group_bytes,
                                   const tk_block_q8 *xq, const int32_t *xs, int64_t nb, int nrows, float *const *out,
                                   int valid) {
    const size_t gb = TYPE == TK_Q4_1 ? 320 : 288, qb = 256;
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[PK_ROWS_AVX2][4], ext[PK_ROWS_AVX2][4];
    for (int k = 0; k < nrows; k++) for (int h = 0; h < 2 * GN; h++) acc[k][h] = ext[k][h] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        // w[8p + 4g + 0..3]: group g's first half's low and high nibbles of vector p, then its second half's.
        __m256i w[32];
        __m256 dw[4], mw[4];
        for (int g = 0; g < GN; g++) {
            const uint8_t *b = pg + g * group_bytes + i * gb;
            for (size_t o = 0; o < gb; o += 64) _mm_prefetch((const char *)(b + 4 * gb + o), _MM_HINT_T0);
            for (int p = 0; p < 4; p++) {
                const __m256i raw0 = _mm256_loadu_si256((const __m256i *)(b + 64 * p));
                const __m256i raw1 = _mm256_loadu_si256((const __m256i *)(b + 64 * p + 32));
                w[8 * p + 4 * g] = _mm256_and_si256(raw0, low);
                w[8 * p + 4 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(raw0, 4), low);
                w[8 * p + 4 * g + 2] = _mm256_and_si256(raw1, low);
                w[8 * p + 4 * g + 3] = _mm256_and_si256(_mm256_srli_epi16(raw1, 4), low);
            }
            dw[2 * g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb)));
            dw[2 * g + 1] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb + 16)));
            if (TYPE == TK_Q4_1) {
                mw[2 * g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb + 32)));
                mw[2 * g + 1] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + qb + 48)));
            }
        }
        for (int k = 0; k < nrows; k++) {
            const tk_block_q8 *xb = xq + k * nb + i;
            __m256i s[4];
            for (int h = 0; h < 2 * GN; h++) s[h] = _mm256_setzero_si256();
            for (int p = 0; p < 4; p++) {
                const __m256i xl = _mm256_set1_epi32(pk_load32(xb->qs + 4 * p)), xh = _mm256_set1_epi32(pk_load32(xb->qs + 4 * p + 16));
                for (int h = 0; h < 2 * GN; h++)
                    s[h] = _mm256_add_epi16(s[h], _mm256_add_epi16(_mm256_maddubs_epi16(w[8 * p + 2 * h], xl), _mm256_maddubs_epi16(w[8 * p + 2 * h + 1], xh)));
            }
            const __m256 d = _mm256_set1_ps(xb->d);
            const __m256 sx = _mm256_set1_ps(xb->s);
            for (int h = 0; h < 2 * GN; h++) {
                __m256i a = _mm256_madd_epi16(s[h], ones);
                if (TYPE == TK_Q4_0) a = _mm256_add_epi32(a, _mm256_set1_epi32(xs[k * nb + i]));
                acc[k][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), _mm256_mul_ps(dw[h], d), acc[k][h]);
                if (TYPE == TK_Q4_1) ext[k][h] = _mm256_fmadd_ps(mw[h], sx, ext[k][h]);
            }
        }
    }
    for (int h = 0; h < 2 * GN && 8 * h < valid; h++) {
        const int n = valid - 8 * h < 8 ? valid - 8 * h : 8;
        for (int k = 0; k < nrows; k++) pk_store8(out[k] + 8 * h, TYPE == TK_Q4_1 ? _mm256_add_ps(acc[k][h], ext[k][h]) : acc[k][h], n);
    }
}

#define pk_tile_avx2(TYPE, ...) \
    do { if ((TYPE) == TK_Q8_0) pk_tile_avx2_q8(TYPE, __VA_ARGS__); else pk_tile_avx2_q4(TYPE, __VA_ARGS__); } while (0)

#define PK_TILES(TILE, TYPE) \
    switch (nbt) { /* constant tile sizes keep the accumulators in registers */ \
    case 1: TILE(TYPE, 1, pg, xq, xs_tile, nb, out, valid); break; \
    case 2: TILE(TYPE, 2, pg, xq, xs_tile, nb, out, valid); break; \
    case 3: TILE(TYPE, 3, pg, xq, xs_tile, nb, out, valid); break; \
    default: TILE(TYPE, 4, pg, xq, xs_tile, nb, out, valid); break; \
    }
#define PK_TILES_VNNI(TILE, TYPE) \
    switch (nbt) { \
    case 1: TILE(TYPE, 1, pg, xq, xs_tile, nb, out, valid); break; \
    case 2: TILE(TYPE, 2, pg, xq, xs_tile, nb, out, valid); break; \
    case 3: TILE(TYPE, 3, pg, xq, xs_tile, nb, out, valid); break; \
    case 4: TILE(TYPE, 4, pg, xq, xs_tile, nb, out, valid); break; \
    case 5: TILE(TYPE, 5, pg, xq, xs_tile, nb, out, valid); break; \
    case 6: TILE(TYPE, 6, pg, xq, xs_tile, nb, out, valid); break; \
    case 7: TILE(TYPE, 7, pg, xq, xs_tile, nb, out, valid); break; \
    default: TILE(TYPE, 8, pg, xq, xs_tile, nb, out, valid); break; \
    }

// A task's groups are its outer loop, so a group's weights (a few KB) stay in L1 while every tile of activation
// rows passes over them; the bias sums of those rows are made once per task, for up to PK_SUMS of them at a time.
#define PK_SUMS 4096
#define PK_TASKS 4   // tasks per pool thread (tk_matmul_q8_packed)
// Task `task`'s groups [*g0, *g1) of `groups`: c->tasks ranges whose sizes differ by at most one group.
static inline void pk_task_groups(const pk_ctx *c, int task, int64_t groups, int64_t *g0, int64_t *g1) {
    *g0 = (int64_t)task * groups / c->tasks;
    *g1 = (int64_t)(task + 1) * groups / c->tasks;
}

#define PK_TASK(NAME, TILE, TILES, NT, TARGET, Q8BIAS) \
__attribute__((target(TARGET))) \
static void NAME(void *vctx, int task) { \
    const pk_ctx *c = vctx; \
    const int64_t nb = c->cols / 32, groups = (c->rows + PK_ROWS - 1) / PK_ROWS; \
    int64_t g0, g1; \
    pk_task_groups(c, task, groups, &g0, &g1); \
    const size_t gb = pk_block_bytes(c->type); \
    const int64_t chunk = PK_SUMS / nb > NT ? PK_SUMS / nb / NT * NT : NT; \
    int32_t xs[chunk * nb]; \
    for (int64_t c0 = 0; c0 < c->batch; c0 += chunk) { \
        const int64_t c1 = c0 + chunk < c->batch ? c0 + chunk : c->batch; \
        if (c->type == TK_Q4_0) pk_bias_sums(8, c->xq + c0 * nb, c1 - c0, nb, xs); \
        if (c->type == TK_Q8_0 && Q8BIAS) pk_bias_sums(128, c->xq + c0 * nb, c1 - c0, nb, xs); \
        for (int64_t g = g0; g < g1; g++) { \
            const uint8_t *pg = c->packed + g * nb * gb; \
            const int valid = c->rows - g * PK_ROWS < PK_ROWS ? (int)(c->rows - g * PK_ROWS) : PK_ROWS; \
            for (int64_t b0 = c0; b0 < c1; b0 += NT) { \
                const int nbt = c1 - b0 < NT ? (int)(c1 - b0) : NT; \
                const tk_block_q8 *xq = c->xq + b0 * nb; \
                const int32_t *xs_tile = xs + (b0 - c0) * nb; \
                float *out[NT]; \
                for (int k = 0; k < nbt; k++) out[k] = c->y + (b0 + k) * c->ldy + g * PK_ROWS; \
                switch (c->type) { \
                case TK_Q4_1: TILES(TILE, TK_Q4_1) break; \
                case TK_Q8_0: TILES(TILE, TK_Q8_0) break; \
                default: TILES(TILE, TK_Q4_0) break; \
                } \
            } \
        } \
    } \
}

// VNNI's Q8_0 subtracts 128·Σx (its weights are stored plus 128); the AVX2 copy multiplies signed weights directly.
PK_TASK(pk_task_vnni, pk_tile_vnni, PK_TILES_VNNI, PK_TILE_VNNI, "avx2,fma,f16c,avx512f,avx512vnni", 1)
PK_TASK(pk_task_avx2_tiles, pk_tile_avx2, PK_TILES, PK_TILE, "avx2,fma,f16c", 0)

// AVX2: Q4_0 and Q4_1 from 12 activation rows on as PK_TASK does, with tiles of up to PK_ROWS_AVX2 rows through
// pk_rows_avx2_q4 (fewer rows, on weights not in cache, ran faster in pk_tile_avx2_q4's register tiles); Q8_0 and
// fewer rows through those tiles.
#define PK_ROWS_AVX2_FROM 12
__attribute__((target("avx2,fma,f16c")))
static void pk_task_avx2(void *vctx, int task) {
    const pk_ctx *c = vctx;
    if (c->type == TK_Q8_0 || c->batch < PK_ROWS_AVX2_FROM) { pk_task_avx2_tiles(vctx, task); return; }
    const int64_t nb = c->cols / 32, groups = (c->rows + PK_ROWS - 1) / PK_ROWS;
    int64_t g0, g1;
    pk_task_groups(c, task, groups, &g0, &g1);
    const size_t gb = pk_block_bytes(c->type);
    const int64_t chunk = PK_SUMS / nb > PK_ROWS_AVX2 ? PK_SUMS / nb / PK_ROWS_AVX2 * PK_ROWS_AVX2 : PK_ROWS_AVX2;
    int32_t xs[chunk * nb];
    for (int64_t c0 = 0; c0 < c->batch; c0 += chunk) {
        const int64_t c1 = c0 + chunk < c->batch ? c0 + chunk : c->batch;
        if (c->type == TK_Q4_0) pk_bias_sums(8, c->xq + c0 * nb, c1 - c0, nb, xs);
        // Two groups at once where two are left: each broadcast activation slice then serves four vectors.
        for (int64_t g = g0; g < g1; g += 2) {
            const int gn = g + 1 < g1 ? 2 : 1;
            const uint8_t *pg = c->packed + g * nb * gb;
            const int64_t left = c->rows - g * PK_ROWS;
            const int valid = left < gn * PK_ROWS ? (int)left : gn * PK_ROWS;
            for (int64_t b0 = c0; b0 < c1; b0 += PK_ROWS_AVX2) {
                const int n = c1 - b0 < PK_ROWS_AVX2 ? (int)(c1 - b0) : PK_ROWS_AVX2;
                float *out[PK_ROWS_AVX2];
                for (int k = 0; k < n; k++) out[k] = c->y + (b0 + k) * c->ldy + g * PK_ROWS;
                const tk_block_q8 *xq = c->xq + b0 * nb;
                const int32_t *xs_tile = xs + (b0 - c0) * nb;
                // Type and group count as constants, so that each combination compiles to its own loops.
#define PK_ROWS_CALL(TYPE, GN) pk_rows_avx2_q4(TYPE, GN, pg, nb * gb, xq, xs_tile, nb, n, out, valid)
                if (c->type == TK_Q4_1) { if (gn == 2) PK_ROWS_CALL(TK_Q4_1, 2); else PK_ROWS_CALL(TK_Q4_1, 1); }
                else { if (gn == 2) PK_ROWS_CALL(TK_Q4_0, 2); else PK_ROWS_CALL(TK_Q4_0, 1); }
#undef PK_ROWS_CALL
            }
        }
    }
}

void tk_matmul_q8_packed(int type, const void *packed, const void *w, size_t wrb, int64_t rows, int64_t cols,
                         const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy) {
    if (!tk_use_fast_path() || !pk_supports(type)) { tk_matmul_q8_ref(type, w, wrb, rows, cols, xq, batch, y, ldy); return; }
    const int64_t groups = (rows + PK_ROWS - 1) / PK_ROWS;
    // PK_TASKS tasks per thread of whole groups, their sizes differing by at most one group: the threads, claiming
    // tasks as they finish, then wait for each other at the end for less than a task.
    const int64_t want = (int64_t)tk_pool_threads() * PK_TASKS;
    const int64_t tasks = groups < want ? groups : want;
    pk_ctx c = { type, packed, rows, cols, xq, batch, y, ldy, tasks };
    tk_parallel_for((int)tasks, tk_uses_vnni() ? pk_task_vnni : pk_task_avx2, &c);
}

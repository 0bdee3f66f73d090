// The blocked attention's small products (a 64 × 64 block of queries, keys and a head's 64 dimensions), on the
// calling thread: C = alpha·op(A)·op(B) + beta·C. Through OpenBLAS each of these ~20,000 products a SmolLM2 training
// step took a buffer from OpenBLAS's allocator, whose mutex the two pool threads met in at once several thousand
// times a step (futex sleeps and wake-ups, measured with `perf stat -e syscalls:sys_enter_futex`). Here nothing is
// allocated: B is read in place (transposed ones are first copied into a stack buffer, 8 × 8 tiles at a time), A is
// broadcast element by element from wherever it lies, and a tile of 6 rows × 16 columns is kept in 12 registers
// (AVX2), or of 8 rows × 32 columns in 16 (AVX-512).
//
// Every element is one sum in a fixed order — over p ascending, fused multiply-adds from zero — then alpha·s
// (+ beta·c, C not read when beta is 0), on every path, so the scalar reference gives the same bits.
#include "CKernels.h"
#include <immintrin.h>
#include <math.h>

int tk_use_fast_path(void);

static inline float a_at(const float *a, int64_t lda, int transa, int64_t i, int64_t p) {
    return transa ? a[p * lda + i] : a[i * lda + p];
}

void tk_block_matmul_ref(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b, int64_t ldb,
                         int transb, int64_t m, int64_t n, int64_t k, float alpha, float beta) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0;
            for (int64_t p = 0; p < k; p++) s = fmaf(a_at(a, lda, transa, i, p), transb ? b[j * ldb + p] : b[p * ldb + j], s);
            c[i * ldc + j] = beta == 0 ? alpha * s : fmaf(alpha, s, beta * c[i * ldc + j]);
        }
}

__attribute__((target("avx2,fma")))
static inline __m256i bm_lanes(int64_t left) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? (left < 0 ? 0 : left) : 8)), idx);
}

// out[0..w) = alpha·acc (+ beta·out), w ≤ 8 lanes (mask m for a partial vector).
__attribute__((target("avx2,fma")))
static inline void bm_store(float *out, __m256 acc, __m256 va, __m256 vb, int use_beta, int full, __m256i m) {
    if (full) {
        _mm256_storeu_ps(out, use_beta ? _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, _mm256_loadu_ps(out))) : _mm256_mul_ps(va, acc));
    } else {
        _mm256_maskstore_ps(out, m, use_beta ? _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, _mm256_maskload_ps(out, m)))
                                             : _mm256_mul_ps(va, acc));
    }
}

// R rows from row i of columns j..j+16 of C (w0 of the first 8 valid, w1 of the second; `full` both halves whole):
// 2·R accumulators, R broadcasts of A and two loads of B per step over p.
__attribute__((target("avx2,fma"), always_inline))
static inline void bm_tile(float *c, int64_t ldc, const float *a, int64_t sa, int64_t sp, const float *b, int64_t ldb,
                           int64_t k, int64_t i, int64_t j, __m256i m0, __m256i m1, __m256 va, __m256 vb, int use_beta,
                           const int full, const int R) {
    __m256 lo[6], hi[6];
    for (int r = 0; r < R; r++) lo[r] = hi[r] = _mm256_setzero_ps();
    const float *ar = a + i * sa, *br = b + j;
    for (int64_t p = 0; p < k; p++, ar += sp, br += ldb) {
        const __m256 q0 = full ? _mm256_loadu_ps(br) : _mm256_maskload_ps(br, m0);
        const __m256 q1 = full ? _mm256_loadu_ps(br + 8) : _mm256_maskload_ps(br + 8, m1);
        for (int r = 0; r < R; r++) {
            const __m256 s = _mm256_broadcast_ss(ar + r * sa);
            lo[r] = _mm256_fmadd_ps(s, q0, lo[r]);
            hi[r] = _mm256_fmadd_ps(s, q1, hi[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *cr = c + (i + r) * ldc + j;
        bm_store(cr, lo[r], va, vb, use_beta, full, m0);
        bm_store(cr + 8, hi[r], va, vb, use_beta, full, m1);
    }
}

// Columns j..j+16 of C over all rows: tiles of 6 rows (12 accumulators, 15 of the 16 registers), then 4, then 1.
__attribute__((target("avx2,fma"), always_inline))
static inline void bm_columns(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b,
                              int64_t ldb, int64_t m, int64_t k, int64_t j, int64_t w0, int64_t w1, __m256 va,
                              __m256 vb, int use_beta, const int full) {
    const __m256i m0 = bm_lanes(w0), m1 = bm_lanes(w1);
    const int64_t sa = transa ? 1 : lda, sp = transa ? lda : 1;   // a(i, p) = a[i·sa + p·sp]
    int64_t i = 0;
    for (; i + 6 <= m; i += 6) bm_tile(c, ldc, a, sa, sp, b, ldb, k, i, j, m0, m1, va, vb, use_beta, full, 6);
    for (; i + 4 <= m; i += 4) bm_tile(c, ldc, a, sa, sp, b, ldb, k, i, j, m0, m1, va, vb, use_beta, full, 4);
    for (; i < m; i++) bm_tile(c, ldc, a, sa, sp, b, ldb, k, i, j, m0, m1, va, vb, use_beta, full, 1);
}

__attribute__((target("avx2,fma")))
static void block_matmul_avx2(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b, int64_t ldb,
                              int64_t m, int64_t n, int64_t k, float alpha, float beta) {
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const int use_beta = beta != 0;
    for (int64_t j = 0; j < n; j += 16) {
        const int64_t w0 = n - j, w1 = n - j - 8;
        if (w0 >= 16) bm_columns(c, ldc, a, lda, transa, b, ldb, m, k, j, 8, 8, va, vb, use_beta, 1);
        else bm_columns(c, ldc, a, lda, transa, b, ldb, m, k, j, w0, w1, va, vb, use_beta, 0);
    }
}

// The same product on AVX-512 (32 registers, 16 lanes): tiles of R rows × 32 columns (2·R accumulators; 8 rows use 16
// of the 32 registers), masked loads and stores at the right edge. Each element is the same chain of fused
// multiply-adds over p ascending, then the same alpha·s (+ beta·c), so the bits are the AVX2 path's and the
// reference's. On a core with two 512-bit FMA units (Intel Xeon) it does twice the AVX2 tile's work a cycle.
// The first `left` lanes of sixteen (none when left ≤ 0, all from 16).
static inline __mmask16 bm_lanes16(int64_t left) {
    return (__mmask16)(left <= 0 ? 0 : left >= 16 ? 0xFFFF : (1u << left) - 1);
}

__attribute__((target("avx2,fma,avx512f,avx512vl"), always_inline))
static inline void bm_store512(float *out, __m512 acc, __m512 va, __m512 vb, int use_beta, __mmask16 m) {
    _mm512_mask_storeu_ps(out, m, use_beta ? _mm512_fmadd_ps(va, acc, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, out)))
                                           : _mm512_mul_ps(va, acc));
}

__attribute__((target("avx2,fma,avx512f,avx512vl"), always_inline))
static inline void bm_tile512(float *c, int64_t ldc, const float *a, int64_t sa, int64_t sp, const float *b, int64_t ldb,
                              int64_t k, int64_t i, int64_t j, __mmask16 m0, __mmask16 m1, __m512 va, __m512 vb,
                              int use_beta, const int R) {
    __m512 lo[8], hi[8];
    for (int r = 0; r < R; r++) lo[r] = hi[r] = _mm512_setzero_ps();
    const float *ar = a + i * sa, *br = b + j;
    for (int64_t p = 0; p < k; p++, ar += sp, br += ldb) {
        const __m512 q0 = _mm512_maskz_loadu_ps(m0, br), q1 = _mm512_maskz_loadu_ps(m1, br + 16);
        for (int r = 0; r < R; r++) {
            const __m512 s = _mm512_set1_ps(ar[r * sa]);
            lo[r] = _mm512_fmadd_ps(s, q0, lo[r]);
            hi[r] = _mm512_fmadd_ps(s, q1, hi[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *cr = c + (i + r) * ldc + j;
        bm_store512(cr, lo[r], va, vb, use_beta, m0);
        bm_store512(cr + 16, hi[r], va, vb, use_beta, m1);
    }
}

__attribute__((target("avx2,fma,avx512f,avx512vl")))
static void block_matmul_512(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b, int64_t ldb,
                             int64_t m, int64_t n, int64_t k, float alpha, float beta) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const int use_beta = beta != 0;
    const int64_t sa = transa ? 1 : lda, sp = transa ? lda : 1;   // a(i, p) = a[i·sa + p·sp]
    for (int64_t j = 0; j < n; j += 32) {
        const __mmask16 m0 = bm_lanes16(n - j), m1 = bm_lanes16(n - j - 16);
        int64_t i = 0;
        for (; i + 8 <= m; i += 8) bm_tile512(c, ldc, a, sa, sp, b, ldb, k, i, j, m0, m1, va, vb, use_beta, 8);
        for (; i + 4 <= m; i += 4) bm_tile512(c, ldc, a, sa, sp, b, ldb, k, i, j, m0, m1, va, vb, use_beta, 4);
        for (; i < m; i++) bm_tile512(c, ldc, a, sa, sp, b, ldb, k, i, j, m0, m1, va, vb, use_beta, 1);
    }
}

// dst[p·ldd + j] = src[j·lds + p] for j < n, p < k: 8 × 8 tiles through registers (unpack, shuffle, lane swap), the
// edges one element at a time. A copy changes no value, so the product's bits are the same; the scalar loop it
// replaces took about a quarter of a 64 × 64 × 64 product's time.
__attribute__((target("avx2,fma")))
static void transpose_avx2(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t n, int64_t k) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        int64_t p = 0;
        for (; p + 8 <= k; p += 8) {
            const float *s0 = src + j * lds + p;
            __m256 r0 = _mm256_loadu_ps(s0), r1 = _mm256_loadu_ps(s0 + lds), r2 = _mm256_loadu_ps(s0 + 2 * lds),
                   r3 = _mm256_loadu_ps(s0 + 3 * lds), r4 = _mm256_loadu_ps(s0 + 4 * lds), r5 = _mm256_loadu_ps(s0 + 5 * lds),
                   r6 = _mm256_loadu_ps(s0 + 6 * lds), r7 = _mm256_loadu_ps(s0 + 7 * lds);
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
                         t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                         t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                         u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                         u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                         u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *d0 = dst + p * ldd + j;
            _mm256_storeu_ps(d0, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d0 + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d0 + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d0 + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d0 + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d0 + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d0 + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d0 + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; p < k; p++)
            for (int64_t jj = j; jj < j + 8; jj++) dst[p * ldd + jj] = src[jj * lds + p];
    }
    for (; j < n; j++)
        for (int64_t p = 0; p < k; p++) dst[p * ldd + j] = src[j * lds + p];
}

#define TK_BLOCK_MATMUL_MAX 16384   // floats of a transposed B copied to the stack (at most 64 KB; 16 KB for SmolLM2)

void tk_block_matmul(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b, int64_t ldb,
                     int transb, int64_t m, int64_t n, int64_t k, float alpha, float beta) {
    if (m <= 0 || n <= 0) return;
    if (!tk_use_fast_path() || (transb && k * n > TK_BLOCK_MATMUL_MAX)) {
        tk_block_matmul_ref(c, ldc, a, lda, transa, b, ldb, transb, m, n, k, alpha, beta);
        return;
    }
    // AVX-512 where the 8-bit products use it (VNNI, unless TAILOR_KERNELS=avx2 keeps every kernel on AVX2 for
    // same-run comparisons), as LoRAProducts.c does.
    const int use512 = tk_uses_vnni();
    if (transb) {
        float bt[k * n];   // op(B) = Bᵀ, k × n
        transpose_avx2(bt, n, b, ldb, n, k);
        (use512 ? block_matmul_512 : block_matmul_avx2)(c, ldc, a, lda, transa, bt, n, m, n, k, alpha, beta);
        return;
    }
    (use512 ? block_matmul_512 : block_matmul_avx2)(c, ldc, a, lda, transa, b, ldb, m, n, k, alpha, beta);
}

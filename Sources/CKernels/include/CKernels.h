// Hand-written CPU kernels for what BLAS does not cover: dequantising ggml blocks, quantised matrix-vector
// products for decoding, and the small thread pool they share. Every fast kernel has a scalar reference beside it
// (suffix _ref) that tests compare against. Not a tensor library: callers own all memory and shapes.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ggml type ids (as stored in GGUF files).
enum { TK_F32 = 0, TK_F16 = 1, TK_Q4_0 = 2, TK_Q4_1 = 3, TK_Q5_0 = 6, TK_Q5_1 = 7, TK_Q8_0 = 8, TK_Q4_K = 12, TK_Q5_K = 13, TK_Q6_K = 14, TK_BF16 = 30 };

// ---- CPU features ----
int tk_cpu_has_avx2_fma(void);
int tk_cpu_has_avx512f(void);
/// AVX-512 VNNI with 256-bit forms (Ice Lake, Sapphire Rapids, Zen 4): the 8-bit products use vpdpbusd.
int tk_cpu_has_avx512vnni(void);
/// Whether the 8-bit products use their VNNI copy, and LoRA's sums over rows and the blocked attention's products
/// their AVX-512 ones; tk_set_vnni(0) keeps all of them on AVX2 (same bits; for comparisons).
int tk_uses_vnni(void);
void tk_set_vnni(int on);
/// Forces the scalar reference kernels (tests and benchmarks compare both paths).
void tk_set_force_reference(int on);

// ---- thread pool ----
typedef void (*tk_task_fn)(void *ctx, int task);
/// Starts (or resizes to) `threads` workers in total, the calling thread included.
void tk_pool_set_threads(int threads);
int tk_pool_threads(void);
/// Runs fn(ctx, 0..<tasks) across the pool; the caller takes part and returns when all tasks are done.
/// One job at a time: a call made while another thread's job runs (or from inside a task) runs its tasks serially
/// on the calling thread instead of waiting, so concurrent callers are safe but do not share the workers.
void tk_parallel_for(int tasks, tk_task_fn fn, void *ctx);

// ---- conversions ----
float tk_f16_to_f32(uint16_t h);
uint16_t tk_f32_to_f16(float f);
/// n floats to f16 (round to nearest even) and back: the rows of a half-precision KV cache.
void tk_f32_to_f16_row(const float *x, uint16_t *h, int64_t n);
void tk_f16_to_f32_row(const uint16_t *h, float *x, int64_t n);
float tk_bf16_to_f32(uint16_t h);
uint16_t tk_f32_to_bf16(float f);

// ---- dequantisation: `n` elements (a whole number of blocks) from `src` to f32 `dst` ----
void tk_dequantize(int type, const void *src, float *dst, int64_t n);
void tk_dequantize_ref(int type, const void *src, float *dst, int64_t n);
/// f32 to Q8_0, Q4_0 or Q4_1 blocks (llama.cpp's reference rounding); tests and exports only.
void tk_quantize_ref(int type, const float *x, void *dst, int64_t n);
/// Bytes per row of `cols` elements of `type`, or 0 for an unknown type or a partial block.
size_t tk_row_bytes(int type, int64_t cols);

// ---- quantised activations: blocks of 32 int8 with scale d and d*sum(q) ----
typedef struct { float d; float s; int8_t qs[32]; } tk_block_q8;
void tk_quantize_row_q8(const float *x, tk_block_q8 *y, int64_t n);
void tk_quantize_row_q8_ref(const float *x, tk_block_q8 *y, int64_t n);

/// y[b*ldy + r] = dot(W row r, x row b) for r in [0, rows), b in [0, batch).
/// W: `rows` rows of `cols` elements of `type` (Q4_0, Q4_1 or Q8_0), rows `w_row_bytes` apart.
/// xq: `batch` rows of cols/32 blocks each. Runs on the thread pool.
void tk_matmul_q8(int type, const void *w, size_t w_row_bytes, int64_t rows, int64_t cols,
                  const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy);
void tk_matmul_q8_ref(int type, const void *w, size_t w_row_bytes, int64_t rows, int64_t cols,
                      const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy);
/// Whether tk_matmul_q8 handles `type`.
int tk_matmul_q8_supports(int type);
/// Bytes of the packed copy of a `rows` × `cols` matrix of `type` for tk_matmul_q8_packed (as many as the original,
/// plus padding to whole groups of 16 rows), or 0 when the type has no packed form (only Q4_0, Q4_1, Q8_0 do).
size_t tk_q8_packed_bytes(int type, int64_t rows, int64_t cols);
/// Writes the packed copy of W (as in tk_matmul_q8) to `packed` (tk_q8_packed_bytes bytes, 64-byte aligned is best).
void tk_q8_pack(int type, const void *w, size_t w_row_bytes, int64_t rows, int64_t cols, void *packed);
/// tk_matmul_q8 over the packed copy, 16 output rows per vector: faster for several activation rows. Each output
/// is summed in one fixed order whatever `batch` is (VNNI and AVX2 give the same bits), but not tk_matmul_q8's
/// order: a caller uses one of the two for a matrix, never both. Without the fast path it runs tk_matmul_q8_ref on w.
void tk_matmul_q8_packed(int type, const void *packed, const void *w, size_t w_row_bytes, int64_t rows, int64_t cols,
                         const tk_block_q8 *xq, int64_t batch, float *y, int64_t ldy);

// ---- AdamW (AdamW.c) ----
/// One AdamW update of n values, PyTorch's arithmetic: g·clip into the moments m and v, then
/// x = x·(1 − lr·decay) − (m·lr/bc1) / (√v·(1/√bc2) + eps); the same bits on every path. `clear`: g is zeroed.
void tk_adamw_update(float *x, float *g, float *m, float *v, int64_t n, float clip, float beta1, float beta2,
                     float bc1, float bc2, float lr, float eps, float decay, int clear);
/// Σ g[i]² in double (four lanes, then the tail).
double tk_sum_squares_f64(const float *g, int64_t n);

// ---- f32 vector helpers ----
float tk_dot(const float *a, const float *b, int64_t n);
float tk_dot_ref(const float *a, const float *b, int64_t n);
/// In-place softmax of n values.
void tk_softmax(float *x, int64_t n);
/// h[i] = gelu_tanh(g[i]) · u[i] (Gemma's GeGLU); in place (h = g) allowed. Relative error ~1e-7 against tanhf.
void tk_geglu(float *h, const float *g, const float *u, int64_t n);
void tk_geglu_ref(float *h, const float *g, const float *u, int64_t n);
/// Its backward: du = dh·gelu(g), dg = dh·u·gelu′(g) (dg, du overwritten; no aliasing with the inputs).
void tk_geglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n);
void tk_geglu_backward_ref(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n);
/// h[i] = silu(g[i]) · u[i] (Llama's SwiGLU); in place (h = g) allowed. Relative error ~2e-7 against expf.
void tk_swiglu(float *h, const float *g, const float *u, int64_t n);
void tk_swiglu_ref(float *h, const float *g, const float *u, int64_t n);
/// Its backward: du = dh·silu(g), dg = dh·u·σ(g)(1 + g(1 − σ(g))) (dg, du overwritten; no aliasing with the inputs).
void tk_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n);
void tk_swiglu_backward_ref(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n);
void tk_softmax_ref(float *x, int64_t n);
/// out[i] = max(x[i], 0) as Swift's max (a NaN stays NaN): T5's ReLU; in place (out = x) allowed.
void tk_relu(float *out, const float *x, int64_t n);
/// Its backward, adding: dx[i] += x[i] > 0 ? dy[i] : 0 (dx must not alias dy or x).
void tk_relu_backward_add(float *restrict dx, const float *restrict dy, const float *restrict x, int64_t n);
/// A loss head's row: returns −log softmax(x)[target], writes the first index of the largest logit to *argmax and,
/// when weight ≠ 0, overwrites x with weight·(softmax(x) − onehot(target)) (otherwise x's contents are unspecified).
double tk_cross_entropy_row(float *x, int64_t n, int32_t target, float weight, int32_t *argmax);
double tk_cross_entropy_row_ref(float *x, int64_t n, int32_t target, float weight, int32_t *argmax);
/// One row's slice (vocabulary columns v0..v0+n) of the sliced loss head's online softmax: updates the running max *m
/// (the largest logit so far, first at *best), Σ exp(x − m) (*s), the target's logit (*xt) and its exp(x_t − m) (*te,
/// rescaled on later slices); x becomes exp(x − m_new) with the target's entry zeroed. Returns exp(m_old − m_new), 0
/// on a first slice (*m = −∞).
float tk_head_slice_row(float *x, int64_t n, int64_t v0, int32_t target, float *m, double *s, int32_t *best, float *xt,
                        double *te);
float tk_head_slice_row_ref(float *x, int64_t n, int64_t v0, int32_t target, float *m, double *s, int32_t *best, float *xt,
                            double *te);
/// x[i] = exp(x[i] − shift): probabilities rebuilt from a saved log-sum-exp.
void tk_exp_shifted(float *x, int64_t n, float shift);
void tk_exp_shifted_ref(float *x, int64_t n, float shift);
/// x[i] = exp(x[i]·scale − shift), returning Σ x[i] in double (a sampler's unnormalised distribution).
double tk_exp_scaled_sum(float *x, int64_t n, float scale, float shift);
double tk_exp_scaled_sum_ref(float *x, int64_t n, float scale, float shift);
/// The rows of one (n × nk) block of scores s (row stride ld) in the blocked attention's forward. Row r sees the
/// block's keys lo[r]..<hi[r] (0 ≤ lo ≤ hi ≤ nk); the others become 0. With m[r] the row's running maximum and
/// l[r] its running Σ exp(x − m), the visible x become exp(x − m'), m[r] becomes m' = max(m, max x), l[r] becomes
/// l·exp(m − m') + Σ x, and the row's output o + r·ldo (hd floats) is scaled by exp(m − m') (0 for the row's first
/// block, m = −inf).
void tk_attention_block_forward(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                                float *m, float *l, float *o, int64_t ldo, int64_t hd);
void tk_attention_block_forward_ref(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                                    float *m, float *l, float *o, int64_t ldo, int64_t hd);
/// The backward's probabilities of one block: row r's visible scores (as above) become exp(x − lse[r]), the others 0.
void tk_attention_block_probs(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                              const float *lse);
void tk_attention_block_probs_ref(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                                  const float *lse);
/// C (m × n, row stride ldc) = alpha·op(A)·op(B) + beta·C for the blocked attention's small products, on the calling
/// thread (no OpenBLAS, no allocation): op(A) is m × k (A stored k × m when transa), op(B) is k × n (B stored n × k
/// when transb, then k·n ≤ 16,384). Each element sums over p ascending with fused multiply-adds, then alpha·s
/// (+ beta·c; C is not read when beta is 0): the reference's bits.
void tk_block_matmul(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b, int64_t ldb,
                     int transb, int64_t m, int64_t n, int64_t k, float alpha, float beta);
void tk_block_matmul_ref(float *c, int64_t ldc, const float *a, int64_t lda, int transa, const float *b, int64_t ldb,
                         int transb, int64_t m, int64_t n, int64_t k, float alpha, float beta);
/// dS = P ⊙ (dP − d[r]) over one (n × nk) block, in place of dP (both of row stride ld).
void tk_attention_block_dscores(float *dp, const float *p, int64_t ld, int64_t n, int64_t nk, const float *d);
/// One attention head for one query: probs[tk] = softmax(q·k[t]·scale), out[hd] = Σ probs[t]·v[t].
/// k and v rows are kv_stride floats apart (already offset to the kv head).
void tk_attend_one(float *out, float *probs, const float *q, const float *k, const float *v,
                   int64_t tk, int64_t hd, int64_t kv_stride, float scale);
/// The same over an f16 cache (keys and values widened as they are read; the same arithmetic after that).
void tk_attend_one_f16(float *out, float *probs, const float *q, const uint16_t *k, const uint16_t *v,
                       int64_t tk, int64_t hd, int64_t kv_stride, float scale);
/// tk_attend_one_f16 for `heads` consecutive query heads that share these keys and values (grouped-query attention):
/// head h's query and output at q + h·hd and out + h·hd, its probabilities at probs + h·probs_stride. Each key and
/// value row is widened once for the group; every head gets the bits tk_attend_one_f16 gives it.
void tk_attend_heads_f16(float *out, float *probs, int64_t probs_stride, const float *q, const uint16_t *k,
                         const uint16_t *v, int64_t tk, int64_t hd, int64_t kv_stride, float scale, int heads);

// ---- LoRA ----
/// y[out] += B·(scale·A·x) for one row: a is A (rank × in), bt is Bᵀ (rank × out), t scratch for rank floats.
/// Each output sums y, then k = 0 … rank-1 with fused multiply-adds, on every path (batch-invariant decode).
void tk_lora_row(float *y, const float *x, const float *a, const float *bt, int64_t rank, int64_t in, int64_t out,
                 float scale, float *t);

// ---- LoRA's training products (LoRAProducts.c) ----
// Row-major throughout; r (the rank) is the small dimension. Each output is summed over its small or long index in
// ascending order from zero, then scaled by alpha (and added to the old value): the same bits on every path and
// for any number of pool threads. Run on the thread pool.
/// C[rows, n] (+)= alpha·A[rows, k]·B[k, n], B's rows n apart, where n or k is the rank: u = x·Aᵀ (B = Aᵀ) and
/// du = s·dy·B (few columns), y = s·u·Bᵀ (B = Bᵀ) and dx (+)= du·A (a short inner dimension).
void tk_lora_product(float *c, int64_t ldc, const float *a, int64_t lda, const float *b, int64_t rows, int64_t k,
                     int64_t n, float alpha, int accumulate);
void tk_lora_product_ref(float *c, int64_t ldc, const float *a, int64_t lda, const float *b, int64_t rows, int64_t k,
                         int64_t n, float alpha, int accumulate);
/// G += alpha·U[rows, r]ᵀ·Y[rows, n]: G is (r, n), or (n, r) when `transposed` (dA += duᵀ·x; dB += s·dyᵀ·u).
void tk_lora_utv(float *g, int transposed, const float *u, int64_t ldu, const float *y, int64_t ldy, int64_t rows,
                 int64_t r, int64_t n, float alpha);
void tk_lora_utv_ref(float *g, int transposed, const float *u, int64_t ldu, const float *y, int64_t ldy, int64_t rows,
                     int64_t r, int64_t n, float alpha);
/// dst (cols × rows) = srcᵀ, src (rows × cols).
void tk_transpose(float *dst, const float *src, int64_t rows, int64_t cols);

#ifdef __cplusplus
}
#endif

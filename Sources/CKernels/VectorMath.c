// f32 vector helpers for the attention and normalisation loops that Swift will not vectorise (float reductions
// need reassociation): dot products, softmax with a vectorised exp, and one decode-step attention head.
#include "CKernels.h"
#include "VectorInline.h"
#include <math.h>
#include <immintrin.h>

int tk_use_fast_path(void);

// exp(x) for 8 floats: range reduction x = n·ln2 + r, a degree-6 polynomial for e^r, 2^n by exponent bits
// (after Cephes' expf). Relative error about 2e-7 over the range softmax uses (x ≤ 0).
__attribute__((target("avx2,fma")))
static inline __m256 exp_ps(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)), _mm256_set1_ps(-87.3365447505531f));
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

float tk_dot_ref(const float *a, const float *b, int64_t n) {
    double s = 0; for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i]; return (float)s;
}

__attribute__((target("avx2,fma")))
static float dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float tk_dot(const float *a, const float *b, int64_t n) { return tk_use_fast_path() ? dot_avx2(a, b, n) : tk_dot_ref(a, b, n); }

void tk_softmax_ref(float *x, int64_t n) {
    float m = -INFINITY; for (int64_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
    double s = 0; for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    float inv = (float)(1.0 / s); for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

__attribute__((target("avx2,fma")))
static void softmax_avx2(float *x, int64_t n) {
    float m = -INFINITY; for (int64_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
    __m256 vm = _mm256_set1_ps(m), vs = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm)); _mm256_storeu_ps(x + i, e); vs = _mm256_add_ps(vs, e); }
    float s = hsum8(vs);
    for (; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    __m256 inv = _mm256_set1_ps(1.0f / s);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= 1.0f / s;
}

void tk_softmax(float *x, int64_t n) { if (tk_use_fast_path()) softmax_avx2(x, n); else tk_softmax_ref(x, n); }

void tk_exp_shifted_ref(float *x, int64_t n, float shift) { for (int64_t i = 0; i < n; i++) x[i] = expf(x[i] - shift); }

__attribute__((target("avx2,fma")))
static float exp_shifted_avx2(float *x, int64_t n, float shift) {
    __m256 vm = _mm256_set1_ps(shift), vs = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm)); _mm256_storeu_ps(x + i, e); vs = _mm256_add_ps(vs, e); }
    float s = hsum8(vs);
    for (; i < n; i++) { x[i] = expf(x[i] - shift); s += x[i]; }
    return s;
}

void tk_exp_shifted(float *x, int64_t n, float shift) {
    if (tk_use_fast_path()) exp_shifted_avx2(x, n, shift); else tk_exp_shifted_ref(x, n, shift);
}

// x[i] = exp(x[i]·scale − shift) and Σ of them in double: the sampler's unnormalised distribution over a vocabulary.
// Arguments below −87 (masked tokens' −∞ among them) give exactly 0, never exp_ps's clamped 1e-38: a token a grammar
// or bias removed must not be drawable, even by a draw of exactly 0.
__attribute__((target("avx2,fma")))
static double exp_scaled_sum_avx2(float *x, int64_t n, float scale, float shift) {
    const __m256 vk = _mm256_set1_ps(scale), vm = _mm256_set1_ps(shift), floor = _mm256_set1_ps(-87.0f);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_fmsub_ps(_mm256_loadu_ps(x + i), vk, vm);
        const __m256 e = _mm256_and_ps(exp_ps(a), _mm256_cmp_ps(a, floor, _CMP_GE_OQ));
        _mm256_storeu_ps(x + i, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) { const float a = fmaf(x[i], scale, -shift); x[i] = a >= -87.0f ? expf(a) : 0; s += x[i]; }
    return s;
}

double tk_exp_scaled_sum_ref(float *x, int64_t n, float scale, float shift) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) { const float a = fmaf(x[i], scale, -shift); x[i] = a >= -87.0f ? expf(a) : 0; s += x[i]; }
    return s;
}

double tk_exp_scaled_sum(float *x, int64_t n, float scale, float shift) {
    return tk_use_fast_path() ? exp_scaled_sum_avx2(x, n, scale, shift) : tk_exp_scaled_sum_ref(x, n, scale, shift);
}

// The rows of one block of the blocked attention (Ops/Attention.swift), a call per block rather than per row: at 64
// keys a row, the calls and a serial max (4 cycles per key) cost more than the block's two sgemm calls.

__attribute__((target("avx2,fma")))
static float max_avx2(const float *x, int64_t n, float mx) {
    int64_t i = 0;
    if (n >= 8) {
        __m256 a = _mm256_set1_ps(mx), b = a;
        for (; i + 16 <= n; i += 16) { a = _mm256_max_ps(a, _mm256_loadu_ps(x + i)); b = _mm256_max_ps(b, _mm256_loadu_ps(x + i + 8)); }
        for (; i + 8 <= n; i += 8) a = _mm256_max_ps(a, _mm256_loadu_ps(x + i));
        a = _mm256_max_ps(a, b);
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        mx = _mm_cvtss_f32(h);
    }
    for (; i < n; i++) if (x[i] > mx) mx = x[i];
    return mx;
}

// ---- softmax cross-entropy, one row ----
// A loss head's row: −log softmax(x)[target] = log Σ exp(x − max) + max − x[target] (the max's own term is 1, so an
// unlikely target never underflows), the first index of the largest logit into *argmax, and — when weight ≠ 0 — x
// overwritten by weight·(softmax(x) − onehot(target)). Three passes over the row (max, exp and Σ in double, scale)
// where softmax, argmax and the weighting took five, two of them scalar (~4 cycles a logit).

// The first index i with x[i] == v (−1 if none): the argmax once the maximum is known, 8 logits a compare.
__attribute__((target("avx2,fma")))
static int64_t first_equal_avx2(const float *x, int64_t n, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), vv, _CMP_EQ_OQ));
        if (mask) return i + __builtin_ctz(mask);
    }
    for (; i < n; i++) if (x[i] == v) return i;
    return -1;
}

static void cross_entropy_scale(float *x, int64_t n, int32_t target, float weight, double s) {
    const float k = (float)(weight / s);
    for (int64_t i = 0; i < n; i++) x[i] *= k;
    x[target] -= weight;
}

double tk_cross_entropy_row_ref(float *x, int64_t n, int32_t target, float weight, int32_t *argmax) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    const float m = x[best], xt = x[target];
    *argmax = (int32_t)best;
    double s = 0;
    for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    if (weight != 0) cross_entropy_scale(x, n, target, weight, s);
    return log(s) + (double)m - (double)xt;
}

__attribute__((target("avx2,fma")))
static double cross_entropy_row_avx2(float *x, int64_t n, int32_t target, float weight, int32_t *argmax) {
    const float m = max_avx2(x, n, -INFINITY), xt = x[target];
    *argmax = (int32_t)first_equal_avx2(x, n, m);
    const double s = exp_scaled_sum_avx2(x, n, 1.0f, m);
    if (weight != 0) {
        const __m256 k = _mm256_set1_ps((float)(weight / s));
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), k));
        for (; i < n; i++) x[i] *= (float)(weight / s);
        x[target] -= weight;
    }
    return log(s) + (double)m - (double)xt;
}

double tk_cross_entropy_row(float *x, int64_t n, int32_t target, float weight, int32_t *argmax) {
    return tk_use_fast_path() ? cross_entropy_row_avx2(x, n, target, weight, argmax)
                              : tk_cross_entropy_row_ref(x, n, target, weight, argmax);
}

// ---- the sliced loss head, one row's slice ----
// The loss head over vocabulary slices (TrainingModel): a row's logits arrive a slice at a time (columns v0..v0+n)
// and an online softmax keeps, per row, the running maximum *m (also the largest logit so far, first at *best),
// Σ exp(x − m) in double (*s) and the target's logit (*xt, once its slice has passed). x becomes exp(x − m_new), the
// slice's unnormalised probabilities — except the target's, which is moved to *te (and kept scaled to the running
// max on later slices) and zeroed in x: the input gradient Σ p·E − E[target] is then summed as Σ_{v≠t} p·E plus
// (p_t − 1)·E[target] with p_t − 1 = −(Σ − e_t)/Σ in double, where a confident row (p_t → 1, a loss of 0.001) would
// otherwise lose its gradient in the difference of two nearly equal sums. The return value exp(m_old − m_new) is the
// factor by which everything summed against the old maximum shrinks. A first slice (*m = −∞) returns 0.

static float head_slice_rescale(float *x, int64_t n, int64_t v0, int32_t target, float *m, double *s, double *te,
                                float mx, double sum) {
    const float f = *m == -INFINITY ? 0.0f : expf(*m - mx);
    *s = *s * f + sum;
    *m = mx;
    if (target >= v0 && target < v0 + n) { *te = x[target - v0]; x[target - v0] = 0; } else *te *= f;
    return f;
}

float tk_head_slice_row_ref(float *x, int64_t n, int64_t v0, int32_t target, float *m, double *s, int32_t *best,
                            float *xt, double *te) {
    if (target >= v0 && target < v0 + n) *xt = x[target - v0];
    int64_t at = 0;
    for (int64_t i = 1; i < n; i++) if (x[i] > x[at]) at = i;
    if (x[at] > *m) *best = (int32_t)(v0 + at);
    const float mx = x[at] > *m ? x[at] : *m;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - mx); sum += x[i]; }
    return head_slice_rescale(x, n, v0, target, m, s, te, mx, sum);
}

__attribute__((target("avx2,fma")))
static float head_slice_row_avx2(float *x, int64_t n, int64_t v0, int32_t target, float *m, double *s, int32_t *best,
                                 float *xt, double *te) {
    if (target >= v0 && target < v0 + n) *xt = x[target - v0];
    const float top = max_avx2(x, n, -INFINITY);
    if (top > *m) *best = (int32_t)(v0 + first_equal_avx2(x, n, top));
    const float mx = top > *m ? top : *m;
    return head_slice_rescale(x, n, v0, target, m, s, te, mx, exp_scaled_sum_avx2(x, n, 1.0f, mx));
}

float tk_head_slice_row(float *x, int64_t n, int64_t v0, int32_t target, float *m, double *s, int32_t *best, float *xt,
                        double *te) {
    return tk_use_fast_path() ? head_slice_row_avx2(x, n, v0, target, m, s, best, xt, te)
                              : tk_head_slice_row_ref(x, n, v0, target, m, s, best, xt, te);
}

// One row's step of the online softmax (see tk_attention_block_forward); returns the factor its output shrinks by.
static inline float online_row(float *x, int64_t n, float *m, float *l, int fast) {
    float mx = *m;
    if (fast) mx = max_avx2(x, n, mx); else for (int64_t i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    // The first visible block of a row: nothing to rescale (and exp(−inf − mx) must not be asked for).
    const float alpha = *m == -INFINITY ? 0.0f : expf(*m - mx);
    float s;
    if (fast) s = exp_shifted_avx2(x, n, mx);
    else { double d = 0; for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - mx); d += x[i]; } s = (float)d; }
    *l = *l * alpha + s;
    *m = mx;
    return alpha;
}

static void block_forward(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                          float *m, float *l, float *o, int64_t ldo, int64_t hd, int fast) {
    for (int64_t r = 0; r < n; r++) {
        float *x = s + r * ld;
        const int64_t a = lo[r], b = hi[r];
        for (int64_t c = 0; c < a; c++) x[c] = 0;
        for (int64_t c = b; c < nk; c++) x[c] = 0;
        if (a == b) continue;
        const float alpha = online_row(x + a, b - a, m + r, l + r, fast);
        if (alpha != 1) { float *orow = o + r * ldo; for (int64_t d = 0; d < hd; d++) orow[d] *= alpha; }
    }
}

void tk_attention_block_forward(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                                float *m, float *l, float *o, int64_t ldo, int64_t hd) {
    block_forward(s, ld, n, nk, lo, hi, m, l, o, ldo, hd, tk_use_fast_path());
}

void tk_attention_block_forward_ref(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                                    float *m, float *l, float *o, int64_t ldo, int64_t hd) {
    block_forward(s, ld, n, nk, lo, hi, m, l, o, ldo, hd, 0);
}

static void block_probs(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                        const float *lse, int fast) {
    for (int64_t r = 0; r < n; r++) {
        float *x = s + r * ld;
        const int64_t a = lo[r], b = hi[r];
        for (int64_t c = 0; c < a; c++) x[c] = 0;
        for (int64_t c = b; c < nk; c++) x[c] = 0;
        if (a == b) continue;
        if (fast) exp_shifted_avx2(x + a, b - a, lse[r]); else tk_exp_shifted_ref(x + a, b - a, lse[r]);
    }
}

void tk_attention_block_probs(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                              const float *lse) {
    block_probs(s, ld, n, nk, lo, hi, lse, tk_use_fast_path());
}

void tk_attention_block_probs_ref(float *s, int64_t ld, int64_t n, int64_t nk, const int32_t *lo, const int32_t *hi,
                                  const float *lse) {
    block_probs(s, ld, n, nk, lo, hi, lse, 0);
}

void tk_attention_block_dscores(float *dp, const float *p, int64_t ld, int64_t n, int64_t nk, const float *d) {
    for (int64_t r = 0; r < n; r++) {
        float *x = dp + r * ld;
        const float *pr = p + r * ld, dr = d[r];
        for (int64_t c = 0; c < nk; c++) x[c] = pr[c] * (x[c] - dr);
    }
}

static void attend_one_ref(float *out, float *probs, const float *q, const float *k, const float *v,
                           int64_t tk, int64_t hd, int64_t kv_stride, float scale) {
    for (int64_t t = 0; t < tk; t++) probs[t] = tk_dot_ref(q, k + t * kv_stride, hd) * scale;
    tk_softmax_ref(probs, tk);
    for (int64_t i = 0; i < hd; i++) out[i] = 0;
    for (int64_t t = 0; t < tk; t++) {
        const float p = probs[t], *vt = v + t * kv_stride;
        for (int64_t i = 0; i < hd; i++) out[i] += p * vt[i];
    }
}

// One query against tk cached keys and values (hd a multiple of 8): the decode step's attention, where a call per key
// and a store per output element would dominate. Scores: two accumulators over the head, then one horizontal sum per
// key. Output: the head in chunks of up to 64 floats, each chunk's accumulators in registers across all keys (a
// chunk of 8 independent FMA chains; an array of accumulators indexed at run time was spilled to the stack, a
// store-to-load round trip per key and chunk). One body for both cache types: `half` (a constant at every call site)
// says whether the cached rows are f16, widened by F16C as they are loaded, or f32.
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline __m256 load_row8(const void *row, int64_t i, const int half) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
    return _mm256_loadu_ps((const float *)row + i);
}

__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void pv_chunk(float *out, const float *probs, const void *v, int64_t c, int64_t tk, int64_t kv_stride,
                            const int n, const int half) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int64_t t = 0; t < tk; t++) {
        const __m256 p = _mm256_set1_ps(probs[t]);
        const int64_t i = t * kv_stride + c;
        a0 = _mm256_fmadd_ps(p, load_row8(v, i, half), a0);
        if (n > 1) a1 = _mm256_fmadd_ps(p, load_row8(v, i + 8, half), a1);
        if (n > 2) a2 = _mm256_fmadd_ps(p, load_row8(v, i + 16, half), a2);
        if (n > 3) a3 = _mm256_fmadd_ps(p, load_row8(v, i + 24, half), a3);
        if (n > 4) a4 = _mm256_fmadd_ps(p, load_row8(v, i + 32, half), a4);
        if (n > 5) a5 = _mm256_fmadd_ps(p, load_row8(v, i + 40, half), a5);
        if (n > 6) a6 = _mm256_fmadd_ps(p, load_row8(v, i + 48, half), a6);
        if (n > 7) a7 = _mm256_fmadd_ps(p, load_row8(v, i + 56, half), a7);
    }
    out += c;
    _mm256_storeu_ps(out, a0);
    if (n > 1) _mm256_storeu_ps(out + 8, a1);
    if (n > 2) _mm256_storeu_ps(out + 16, a2);
    if (n > 3) _mm256_storeu_ps(out + 24, a3);
    if (n > 4) _mm256_storeu_ps(out + 32, a4);
    if (n > 5) _mm256_storeu_ps(out + 40, a5);
    if (n > 6) _mm256_storeu_ps(out + 48, a6);
    if (n > 7) _mm256_storeu_ps(out + 56, a7);
}

__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void attend_one_body(float *out, float *probs, const float *q, const void *k, const void *v,
                                   int64_t tk, int64_t hd, int64_t kv_stride, float scale, const int half) {
    for (int64_t t = 0; t < tk; t++) {
        const int64_t r = t * kv_stride;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 16 <= hd; j += 16) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), load_row8(k, r + j, half), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), load_row8(k, r + j + 8, half), s1);
        }
        if (j < hd) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), load_row8(k, r + j, half), s0);
        probs[t] = hsum8(_mm256_add_ps(s0, s1)) * scale;
    }
    softmax_avx2(probs, tk);
    int64_t c = 0;
    for (; c + 64 <= hd; c += 64) pv_chunk(out, probs, v, c, tk, kv_stride, 8, half);
    switch ((hd - c) / 8) {
    case 1: pv_chunk(out, probs, v, c, tk, kv_stride, 1, half); break;
    case 2: pv_chunk(out, probs, v, c, tk, kv_stride, 2, half); break;
    case 3: pv_chunk(out, probs, v, c, tk, kv_stride, 3, half); break;
    case 4: pv_chunk(out, probs, v, c, tk, kv_stride, 4, half); break;
    case 5: pv_chunk(out, probs, v, c, tk, kv_stride, 5, half); break;
    case 6: pv_chunk(out, probs, v, c, tk, kv_stride, 6, half); break;
    case 7: pv_chunk(out, probs, v, c, tk, kv_stride, 7, half); break;
    default: break;
    }
}

__attribute__((target("avx2,fma,f16c")))
static void attend_one_avx2(float *out, float *probs, const float *q, const float *k, const float *v,
                            int64_t tk, int64_t hd, int64_t kv_stride, float scale) {
    attend_one_body(out, probs, q, k, v, tk, hd, kv_stride, scale, 0);
}

void tk_attend_one(float *out, float *probs, const float *q, const float *k, const float *v,
                   int64_t tk, int64_t hd, int64_t kv_stride, float scale) {
    if (tk_use_fast_path() && hd % 8 == 0) attend_one_avx2(out, probs, q, k, v, tk, hd, kv_stride, scale);
    else attend_one_ref(out, probs, q, k, v, tk, hd, kv_stride, scale);
}

// tk_attend_one over an f16 cache: the same loops with the keys and values widened by F16C as they are loaded.
__attribute__((target("avx2,fma,f16c")))
static void attend_one_f16_avx2(float *out, float *probs, const float *q, const uint16_t *k, const uint16_t *v,
                                int64_t tk, int64_t hd, int64_t kv_stride, float scale) {
    attend_one_body(out, probs, q, k, v, tk, hd, kv_stride, scale, 1);
}

static void attend_one_f16_ref(float *out, float *probs, const float *q, const uint16_t *k, const uint16_t *v,
                               int64_t tk, int64_t hd, int64_t kv_stride, float scale) {
    for (int64_t t = 0; t < tk; t++) {
        double s = 0;
        for (int64_t i = 0; i < hd; i++) s += (double)q[i] * tk_f16_to_f32(k[t * kv_stride + i]);
        probs[t] = (float)s * scale;
    }
    tk_softmax_ref(probs, tk);
    for (int64_t i = 0; i < hd; i++) out[i] = 0;
    for (int64_t t = 0; t < tk; t++)
        for (int64_t i = 0; i < hd; i++) out[i] += probs[t] * tk_f16_to_f32(v[t * kv_stride + i]);
}

void tk_attend_one_f16(float *out, float *probs, const float *q, const uint16_t *k, const uint16_t *v,
                       int64_t tk, int64_t hd, int64_t kv_stride, float scale) {
    if (tk_use_fast_path() && hd % 8 == 0) attend_one_f16_avx2(out, probs, q, k, v, tk, hd, kv_stride, scale);
    else attend_one_f16_ref(out, probs, q, k, v, tk, hd, kv_stride, scale);
}

// tk_attend_one_f16 for G query heads that share one key-value head (grouped-query attention), each key and value
// row widened once for all G instead of once per head. Every head's arithmetic is attend_one_body's, in its order —
// per key, the two 8-lane chains over the head, one hsum8, times scale; softmax_avx2; per output element, fused
// multiply-adds over the keys ascending from zero (here NV vectors of each head's outputs a pass, so that the G heads'
// accumulators and the widened values fit in the 16 registers) — so the same bits as G calls of tk_attend_one_f16.
// Three heads over 100 cached keys (decode-attention-harness.txt, one thread): 2.7–3.1 µs → 2.1–2.6 in cache,
// 4.7–5.1 → 4.0–4.4 with the cache out of it. (Widening keys and values into f32 blocks once, then the f32 loops,
// gained nothing: the vector work per key, not the widening alone, is what the per-head loops repeat.)
__attribute__((target("avx2,fma,f16c"), always_inline))
static inline void attend_group_f16_body(float *out, float *probs, int64_t probs_stride, const float *q,
                                         const uint16_t *k, const uint16_t *v, int64_t tk, int64_t hd,
                                         int64_t kv_stride, float scale, const int G) {
    for (int64_t t = 0; t < tk; t++) {
        const uint16_t *kr = k + t * kv_stride;
        __m256 s0[4], s1[4];
        for (int h = 0; h < G; h++) s0[h] = s1[h] = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 16 <= hd; j += 16) {
            const __m256 k0 = load_row8(kr, j, 1), k1 = load_row8(kr, j + 8, 1);
            for (int h = 0; h < G; h++) {
                s0[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + h * hd + j), k0, s0[h]);
                s1[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + h * hd + j + 8), k1, s1[h]);
            }
        }
        if (j < hd) {
            const __m256 k0 = load_row8(kr, j, 1);
            for (int h = 0; h < G; h++) s0[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + h * hd + j), k0, s0[h]);
        }
        for (int h = 0; h < G; h++) probs[h * probs_stride + t] = hsum8(_mm256_add_ps(s0[h], s1[h])) * scale;
    }
    for (int h = 0; h < G; h++) softmax_avx2(probs + h * probs_stride, tk);
    const int NV = G == 1 ? 8 : G == 2 ? 4 : G == 3 ? 3 : 2;
    const int64_t vectors = hd / 8;
    for (int64_t c0 = 0; c0 < vectors; c0 += NV) {
        const int64_t n = vectors - c0 < NV ? vectors - c0 : NV;
        __m256 a[4][8];
        for (int h = 0; h < G; h++) for (int x = 0; x < NV; x++) a[h][x] = _mm256_setzero_ps();
        for (int64_t t = 0; t < tk; t++) {
            const int64_t i = t * kv_stride + 8 * c0;
            __m256 vv[8];
            for (int x = 0; x < NV; x++) vv[x] = x < n ? load_row8(v, i + 8 * x, 1) : _mm256_setzero_ps();
            for (int h = 0; h < G; h++) {
                const __m256 p = _mm256_set1_ps(probs[h * probs_stride + t]);
                for (int x = 0; x < NV; x++) if (x < n) a[h][x] = _mm256_fmadd_ps(p, vv[x], a[h][x]);
            }
        }
        for (int h = 0; h < G; h++)
            for (int x = 0; x < NV; x++) if (x < n) _mm256_storeu_ps(out + h * hd + 8 * (c0 + x), a[h][x]);
    }
}

__attribute__((target("avx2,fma,f16c")))
static void attend_group_f16_avx2(float *out, float *probs, int64_t probs_stride, const float *q, const uint16_t *k,
                                  const uint16_t *v, int64_t tk, int64_t hd, int64_t kv_stride, float scale, int heads) {
    for (int h0 = 0; h0 < heads; h0 += 4) {
        const int g = heads - h0 < 4 ? heads - h0 : 4;
        float *o = out + h0 * hd, *pr = probs + h0 * probs_stride;
        const float *qh = q + h0 * hd;
        switch (g) {
        case 1: attend_group_f16_body(o, pr, probs_stride, qh, k, v, tk, hd, kv_stride, scale, 1); break;
        case 2: attend_group_f16_body(o, pr, probs_stride, qh, k, v, tk, hd, kv_stride, scale, 2); break;
        case 3: attend_group_f16_body(o, pr, probs_stride, qh, k, v, tk, hd, kv_stride, scale, 3); break;
        default: attend_group_f16_body(o, pr, probs_stride, qh, k, v, tk, hd, kv_stride, scale, 4); break;
        }
    }
}

void tk_attend_heads_f16(float *out, float *probs, int64_t probs_stride, const float *q, const uint16_t *k,
                         const uint16_t *v, int64_t tk, int64_t hd, int64_t kv_stride, float scale, int heads) {
    if (tk_use_fast_path() && hd % 8 == 0) {
        attend_group_f16_avx2(out, probs, probs_stride, q, k, v, tk, hd, kv_stride, scale, heads);
        return;
    }
    for (int h = 0; h < heads; h++)
        tk_attend_one_f16(out + h * hd, probs + h * probs_stride, q + h * hd, k, v, tk, hd, kv_stride, scale);
}

// ---- GeGLU: h = gelu_tanh(g) · u, gelu_tanh(g) = ½·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))) ----
// tanh(y) = sign(y)·(1 − e)/(1 + e) with e = exp(−2|y|) ≤ 1, the range exp_ps is accurate on; its absolute error
// (~2e-7 near y = 0, where the quotient cancels) is what 1 + tanh sees, so gelu's relative error stays ~1e-7.
void tk_geglu_ref(float *h, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        h[i] = 0.5f * x * (1 + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))) * u[i];
    }
}

__attribute__((target("avx2,fma")))
static void geglu_avx2(float *h, const float *g, const float *u, int64_t n) {
    const __m256 k0 = _mm256_set1_ps(0.7978845608028654f), k1 = _mm256_set1_ps(0.044715f), half = _mm256_set1_ps(0.5f);
    const __m256 one = _mm256_set1_ps(1), signbit = _mm256_set1_ps(-0.0f), minus2 = _mm256_set1_ps(-2);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 y = _mm256_mul_ps(k0, _mm256_fmadd_ps(_mm256_mul_ps(k1, x), _mm256_mul_ps(x, x), x));
        const __m256 e = exp_ps(_mm256_mul_ps(minus2, _mm256_andnot_ps(signbit, y)));
        const __m256 t = _mm256_or_ps(_mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)), _mm256_and_ps(signbit, y));
        const __m256 gelu = _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, t));
        _mm256_storeu_ps(h + i, _mm256_mul_ps(gelu, _mm256_loadu_ps(u + i)));
    }
    tk_geglu_ref(h + i, g + i, u + i, n - i);
}

void tk_geglu(float *h, const float *g, const float *u, int64_t n) {
    if (tk_use_fast_path()) geglu_avx2(h, g, u, n); else tk_geglu_ref(h, g, u, n);
}

void tk_geglu_backward_ref(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i], t = tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x));
        const float d = dh[i];
        du[i] = d * 0.5f * x * (1 + t);
        dg[i] = d * u[i] * (0.5f * (1 + t) + 0.5f * x * (1 - t * t) * 0.7978845608028654f * (1 + 3 * 0.044715f * x * x));
    }
}

__attribute__((target("avx2,fma")))
static void geglu_backward_avx2(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    const __m256 k0 = _mm256_set1_ps(0.7978845608028654f), k1 = _mm256_set1_ps(0.044715f), k3 = _mm256_set1_ps(3 * 0.044715f);
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1), signbit = _mm256_set1_ps(-0.0f), minus2 = _mm256_set1_ps(-2);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i), d = _mm256_loadu_ps(dh + i), x2 = _mm256_mul_ps(x, x);
        const __m256 y = _mm256_mul_ps(k0, _mm256_fmadd_ps(_mm256_mul_ps(k1, x), x2, x));
        // tanh(y) = sign(y)·(1 − e)/(1 + e) with e = exp(−2|y|), as in the forward.
        const __m256 e = exp_ps(_mm256_mul_ps(minus2, _mm256_andnot_ps(signbit, y)));
        const __m256 t = _mm256_or_ps(_mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)), _mm256_and_ps(signbit, y));
        const __m256 onePlusT = _mm256_add_ps(one, t);
        const __m256 halfX = _mm256_mul_ps(half, x);
        _mm256_storeu_ps(du + i, _mm256_mul_ps(d, _mm256_mul_ps(halfX, onePlusT)));
        // gelu′ = ½(1 + t) + ½x(1 − t²)·k0·(1 + 3·k1·x²)
        const __m256 sech2 = _mm256_fnmadd_ps(t, t, one);
        const __m256 inner = _mm256_mul_ps(k0, _mm256_fmadd_ps(k3, x2, one));
        const __m256 prime = _mm256_fmadd_ps(_mm256_mul_ps(halfX, sech2), inner, _mm256_mul_ps(half, onePlusT));
        _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(u + i)), prime));
    }
    tk_geglu_backward_ref(dg + i, du + i, dh + i, g + i, u + i, n - i);
}

void tk_geglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    if (tk_use_fast_path()) geglu_backward_avx2(dg, du, dh, g, u, n); else tk_geglu_backward_ref(dg, du, dh, g, u, n);
}

// ---- SwiGLU: h = silu(g) · u, silu(g) = g·σ(g) ----
// σ(g) from e = exp(−|g|) ≤ 1, the range exp_ps is accurate on: 1/(1 + e) for g ≥ 0, e/(1 + e) below, so neither
// tail overflows nor cancels; relative error ~2e-7 against expf.
void tk_swiglu_ref(float *h, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) { const float x = g[i]; h[i] = x / (1 + expf(-x)) * u[i]; }
}

__attribute__((target("avx2,fma")))
static inline __m256 sigmoid_ps(__m256 x) {
    const __m256 one = _mm256_set1_ps(1), signbit = _mm256_set1_ps(-0.0f);
    const __m256 e = exp_ps(_mm256_or_ps(x, signbit));                      // exp(−|x|)
    const __m256 num = _mm256_blendv_ps(one, e, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    return _mm256_div_ps(num, _mm256_add_ps(one, e));
}

__attribute__((target("avx2,fma")))
static void swiglu_avx2(float *h, const float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        _mm256_storeu_ps(h + i, _mm256_mul_ps(_mm256_mul_ps(x, sigmoid_ps(x)), _mm256_loadu_ps(u + i)));
    }
    tk_swiglu_ref(h + i, g + i, u + i, n - i);
}

void tk_swiglu(float *h, const float *g, const float *u, int64_t n) {
    if (tk_use_fast_path()) swiglu_avx2(h, g, u, n); else tk_swiglu_ref(h, g, u, n);
}

void tk_swiglu_backward_ref(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i], s = 1 / (1 + expf(-x)), d = dh[i];
        du[i] = d * x * s;
        dg[i] = d * u[i] * s * (1 + x * (1 - s));
    }
}

__attribute__((target("avx2,fma")))
static void swiglu_backward_avx2(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i), d = _mm256_loadu_ps(dh + i), s = sigmoid_ps(x);
        _mm256_storeu_ps(du + i, _mm256_mul_ps(d, _mm256_mul_ps(x, s)));
        // silu′ = σ·(1 + x·(1 − σ))
        const __m256 prime = _mm256_mul_ps(s, _mm256_fmadd_ps(x, _mm256_sub_ps(one, s), one));
        _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(u + i)), prime));
    }
    tk_swiglu_backward_ref(dg + i, du + i, dh + i, g + i, u + i, n - i);
}

void tk_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    if (tk_use_fast_path()) swiglu_backward_avx2(dg, du, dh, g, u, n); else tk_swiglu_backward_ref(dg, du, dh, g, u, n);
}

// T5's ReLU and its backward: plain loops the compiler vectorises (memory-bound; the Swift loops over unsafe pointers
// stayed scalar, ~2.6 % of a T5 LoRA step).
void tk_relu(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) { const float v = x[i]; out[i] = 0.0f >= v ? 0.0f : v; }
}

void tk_relu_backward_add(float *restrict dx, const float *restrict dy, const float *restrict x, int64_t n) {
    // dy[i] read whatever x[i] is: a load under the condition would keep the loop scalar.
    for (int64_t i = 0; i < n; i++) { const float d = dy[i]; dx[i] += x[i] > 0.0f ? d : 0.0f; }
}

// The 8-bit product's tiles, included twice by QuantMatmul.c: once for AVX2 (maddubs + madd) and once for AVX-512
// VNNI (one vpdpbusd in their place). The includer defines TILE_NAME(x) (the copy's function names), TILE_TARGET (its
// target attribute) and TILE_DOT(aw, xv): 32 unsigned bytes aw times 32 signed bytes xv, summed in fours into 8 int32
// lanes (lane j: bytes 4j..4j+3). No pair sum here can saturate maddubs' int16 (|w| ≤ 128 against |x| ≤ 127 at most),
// so the two copies give the same bits.

// One weight block (index i of row wr) against NBT activation rows, into acc[k] and extra[k]. TYPE and NBT are
// compile-time constants at every call, so the type tests and the k loop vanish.
__attribute__((target(TILE_TARGET), always_inline))
static inline void TILE_NAME(block_tile)(const int TYPE, const int NBT, const uint8_t *blk, const tk_block_q8 *xq, int64_t nb,
                              int64_t i, __m256 acc[4], float extra[4]) {
    const __m256i low = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
    uint16_t dh; memcpy(&dh, blk, 2);
    const float dw = _cvtsh_ss(dh);
    __m256i wq;
    if (TYPE == TK_Q8_0) wq = _mm256_loadu_si256((const __m256i *)(blk + 2));
    else if (TYPE == TK_Q5_0 || TYPE == TK_Q5_1) wq = q5_block_avx2(TYPE, blk);
    else {
        __m128i raw = _mm_loadu_si128((const __m128i *)(blk + (TYPE == TK_Q4_1 ? 4 : 2)));
        wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low);
        if (TYPE == TK_Q4_0) wq = _mm256_sub_epi8(wq, eight);
    }
    float mw = 0;
    const int unsigned_weights = TYPE == TK_Q4_1 || TYPE == TK_Q5_1;   // with an offset m: Σ w·x = d·Σ q·x + m·Σ x
    if (unsigned_weights) { uint16_t mh; memcpy(&mh, blk + 2, 2); mw = _cvtsh_ss(mh); }
    const __m256i aw = unsigned_weights ? wq : _mm256_sign_epi8(wq, wq);
    for (int k = 0; k < NBT; k++) {
        const tk_block_q8 *xb = xq + k * nb + i;
        __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
        if (!unsigned_weights) xv = _mm256_sign_epi8(xv, wq);
        const __m256 p = _mm256_cvtepi32_ps(TILE_DOT(aw, xv));
        acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), p, acc[k]);
        if (unsigned_weights) extra[k] += mw * xb->s;
    }
}

// One weight row against NBT activation rows (xq points at the first). Every activation row is summed in exactly the
// same order whatever NBT is (even blocks in acc0, odd blocks in acc1, the Q4_1 offsets one block after another), so
// a sequence's logits do not depend on which other sequences share its decode batch. Two blocks per iteration give
// two independent FMA chains; the weight stream is prefetched a few cache lines ahead.
__attribute__((target(TILE_TARGET), always_inline))
static inline void TILE_NAME(row_tile)(const int TYPE, const int NBT, const uint8_t *wr, const tk_block_q8 *xq, int64_t nb, float *out[4]) {
    const size_t bb = TYPE == TK_Q8_0 ? 34 : TYPE == TK_Q4_0 ? 18 : TYPE == TK_Q4_1 ? 20 : TYPE == TK_Q5_0 ? 22 : 24;
    __m256 acc0[4], acc1[4];
    float extra[4];
    for (int k = 0; k < NBT; k++) { acc0[k] = _mm256_setzero_ps(); acc1[k] = _mm256_setzero_ps(); extra[k] = 0; }
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        _mm_prefetch((const char *)(wr + (i + 12) * bb), _MM_HINT_T0);
        TILE_NAME(block_tile)(TYPE, NBT, wr + i * bb, xq, nb, i, acc0, extra);
        TILE_NAME(block_tile)(TYPE, NBT, wr + (i + 1) * bb, xq, nb, i + 1, acc1, extra);
    }
    if (i < nb) TILE_NAME(block_tile)(TYPE, NBT, wr + i * bb, xq, nb, i, acc0, extra);
    for (int k = 0; k < NBT; k++) *out[k] = hsum8(_mm256_add_ps(acc0[k], acc1[k])) + extra[k];
}

// One k-quant weight row against NBT activation rows: each 32-weight sub-block is unpacked once (kq_sub_avx2) and
// multiplied into every activation row, with the same per-row summation order whatever NBT is (even sub-blocks in
// acc0, odd in acc1, the min terms one after another), as in row_tile. Q6_K's signed weights use the sign trick of
// Q4_0/Q8_0; its two half-block scales are one vector, 4 lanes each (madd's lane j sums weights 4j..4j+3).
__attribute__((target(TILE_TARGET), always_inline))
static inline void TILE_NAME(krow_tile)(const int TYPE, const int NBT, const uint8_t *wr, const tk_block_q8 *xq, int64_t nb, float *out[4]) {
    const size_t bytes = TYPE == TK_Q4_K ? 144 : TYPE == TK_Q5_K ? 176 : 210;
    __m256 acc[2][4];
    float extra[4];
    for (int k = 0; k < NBT; k++) { acc[0][k] = _mm256_setzero_ps(); acc[1][k] = _mm256_setzero_ps(); extra[k] = 0; }
    for (int64_t i = 0; i < nb / 8; i++) {
        const uint8_t *blk = wr + i * bytes;
        _mm_prefetch((const char *)(blk + bytes), _MM_HINT_T0);
        _mm_prefetch((const char *)(blk + bytes + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(blk + bytes + 128), _MM_HINT_T0);
        float d = 0, dmin = 0;
        uint8_t sc[8], mn[8];
        const int8_t *sc6 = (const int8_t *)(blk + 192);
        if (TYPE == TK_Q6_K) { uint16_t dh; memcpy(&dh, blk + 208, 2); d = _cvtsh_ss(dh); }
        else {
            uint16_t dh, mh; memcpy(&dh, blk, 2); memcpy(&mh, blk + 2, 2); d = _cvtsh_ss(dh); dmin = _cvtsh_ss(mh);
            for (int b = 0; b < 8; b++) get_scale_min_k4(b, blk + 4, &sc[b], &mn[b]);
        }
        for (int b = 0; b < 8; b++) {
            const __m256i wq = kq_sub_avx2(TYPE, blk, b);
            __m256 scale;
            float minimum = 0;
            if (TYPE == TK_Q6_K) {
                const int8_t *s = sc6 + 8 * (b / 4) + 2 * (b % 4);
                const float lo = d * s[0], hi = d * s[1];
                scale = _mm256_setr_ps(lo, lo, lo, lo, hi, hi, hi, hi);
            } else {
                scale = _mm256_set1_ps(d * sc[b]);
                minimum = dmin * mn[b];
            }
            const __m256i aw = TYPE == TK_Q6_K ? _mm256_sign_epi8(wq, wq) : wq;
            for (int k = 0; k < NBT; k++) {
                const tk_block_q8 *xb = xq + k * nb + 8 * i + b;
                __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
                if (TYPE == TK_Q6_K) xv = _mm256_sign_epi8(xv, wq);
                const __m256 p = _mm256_cvtepi32_ps(TILE_DOT(aw, xv));
                acc[b & 1][k] = _mm256_fmadd_ps(_mm256_mul_ps(scale, _mm256_set1_ps(xb->d)), p, acc[b & 1][k]);
                if (TYPE != TK_Q6_K) extra[k] += minimum * xb->s;
            }
        }
    }
    for (int k = 0; k < NBT; k++) *out[k] = hsum8(_mm256_add_ps(acc[0][k], acc[1][k])) - extra[k];
}

#define TK_KROW_TILES(TYPE) \
    switch (nbt) { \
    case 1: TILE_NAME(krow_tile)(TYPE, 1, wr, xq, nb, out); break; \
    case 2: TILE_NAME(krow_tile)(TYPE, 2, wr, xq, nb, out); break; \
    case 3: TILE_NAME(krow_tile)(TYPE, 3, wr, xq, nb, out); break; \
    default: TILE_NAME(krow_tile)(TYPE, 4, wr, xq, nb, out); break; \
    }

#define TK_ROW_TILES(TYPE) \
    switch (nbt) { /* constant tile sizes keep the accumulators in registers */ \
    case 1: TILE_NAME(row_tile)(TYPE, 1, wr, xq, nb, out); break; \
    case 2: TILE_NAME(row_tile)(TYPE, 2, wr, xq, nb, out); break; \
    case 3: TILE_NAME(row_tile)(TYPE, 3, wr, xq, nb, out); break; \
    default: TILE_NAME(row_tile)(TYPE, 4, wr, xq, nb, out); break; \
    }

__attribute__((target(TILE_TARGET)))
static void TILE_NAME(mm_task)(void *vctx, int task) {
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
            switch (c->type) {
            case TK_Q4_1: TK_ROW_TILES(TK_Q4_1) break;
            case TK_Q8_0: TK_ROW_TILES(TK_Q8_0) break;
            case TK_Q5_0: TK_ROW_TILES(TK_Q5_0) break;
            case TK_Q5_1: TK_ROW_TILES(TK_Q5_1) break;
            case TK_Q4_K: TK_KROW_TILES(TK_Q4_K) break;
            case TK_Q5_K: TK_KROW_TILES(TK_Q5_K) break;
            case TK_Q6_K: TK_KROW_TILES(TK_Q6_K) break;
            default: TK_ROW_TILES(TK_Q4_0) break;
            }
        }
    }
}

#undef TK_KROW_TILES
#undef TK_ROW_TILES

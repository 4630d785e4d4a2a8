// The SIMD bodies of lk_q_matmul, written once and compiled per path (private to CKernels). The including file
// defines:
//   QK_TARGET            the function attribute of the path (LK_AVX2, LK_AVX512_VNNI)
//   QK_NAME(x)           x with the path's suffix
//   QK_DOT_U8S8(acc,u,s) acc + per 32-bit lane the sum of 4 products u8 x s8  (vpdpbusd, or vpmaddubsw + vpmaddwd)
//   QK_DOT_S16(acc,p,s)  acc + per 32-bit lane the sum of 2 products s16 x s16 (vpdpwssd, or vpmaddwd + vpaddd)
//   QK_GEMM_NR, QK_GEMM_MR  the register tile of the small-M GEMM (weight rows x activation rows)
//
// Every path works on 256-bit vectors (Zen 4 splits 512-bit ones in two; the lanes below line up with ggml's block
// layouts without shuffles). Per output (m, n) the arithmetic is fixed, whatever the tile computing it:
//   32-blocks:  per block the exact int32 lanes of the dot product, then acc = fma(dw * dx, float(lanes), acc)
//               (Q4_1/Q5_1 add mw * (dx * sum(qx)) to a scalar accumulator, in block order)
//   K-quants:   per super-block exact int32 lanes of sum_j sc_j dot_j (and of the min / offset terms), then
//               acc = fma(d * dx, float(lanes), acc) [acc = fnma(dmin * dx, float(min lanes), acc)]
//   y = hsum(acc) (fixed tree) [+ scalar accumulator].
// The integers are the same on every path, and so is the float part, so the AVX2 and AVX-512 paths give the same bits;
// both differ from lk_q_matmul_ref only in the order of the float sums.

#define QK_INLINE QK_TARGET static inline __attribute__((always_inline))


QK_INLINE float QK_NAME(hsum)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

QK_INLINE float QK_NAME(half)(uint16_t h) { return _cvtsh_ss(h); }

// 32 x 4-bit levels of a 32-block (16 bytes): elements 0..15 in the low nibbles, 16..31 in the high ones.
QK_INLINE __m256i QK_NAME(nibbles32)(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

// 0xFF in byte j where bit j of the 32-bit word at x is set (ggml's bytes_from_bits_32).
QK_INLINE __m256i QK_NAME(bits32)(const uint8_t *x) {
    uint32_t x32;
    memcpy(&x32, x, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x32), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

/* ---------------------------------------------------------------- 32-blocks */

// Signed levels (q - offset) of block b of a Q4_0 / Q5_0 / Q8_0 row, and the unsigned levels of Q4_1 / Q5_1, as
// 32 bytes in element order; *dw and *mw the scale and min.
QK_INLINE __m256i QK_NAME(levels32)(int type, const uint8_t *blk, float *dw, float *mw) {
    uint16_t h;
    memcpy(&h, blk, 2);
    *dw = QK_NAME(half)(h);
    switch (type) {
    case LK_T_Q4_0:
        return _mm256_sub_epi8(QK_NAME(nibbles32)(blk + 2), _mm256_set1_epi8(8));
    case LK_T_Q5_0: {
        // (q4 | hbit << 4) - 16 == q4 when the bit is set, q4 | 0xF0 when not (two's complement).
        const __m256i hb = _mm256_andnot_si256(QK_NAME(bits32)(blk + 2), _mm256_set1_epi8((char)0xF0));
        return _mm256_or_si256(QK_NAME(nibbles32)(blk + 6), hb);
    }
    case LK_T_Q8_0:
        return _mm256_loadu_si256((const __m256i *)(blk + 2));
    case LK_T_Q4_1:
        memcpy(&h, blk + 2, 2);
        *mw = QK_NAME(half)(h);
        return QK_NAME(nibbles32)(blk + 4);
    default: { // Q5_1
        memcpy(&h, blk + 2, 2);
        *mw = QK_NAME(half)(h);
        const __m256i hb = _mm256_and_si256(QK_NAME(bits32)(blk + 4), _mm256_set1_epi8(0x10));
        return _mm256_or_si256(QK_NAME(nibbles32)(blk + 8), hb);
    }
    }
}

// Block b of NR weight rows against MR activation rows, into acc (vector) and accm (the min terms).
QK_INLINE void QK_NAME(step32)(int type, const uint8_t *w, size_t rb, size_t bb, const lk_act_row *a, size_t b,
                               __m256 acc[4][4], float accm[4][4], const int NR, const int MR) {
    const int has_min = type == LK_T_Q4_1 || type == LK_T_Q5_1;
    __m256i q[4], qa[4];
    float dw[4], mw[4] = {0, 0, 0, 0};
    for (int r = 0; r < NR; r++) {
        q[r] = QK_NAME(levels32)(type, w + r * rb + b * bb, &dw[r], &mw[r]);
        qa[r] = has_min ? q[r] : _mm256_abs_epi8(q[r]);
    }
    for (int m = 0; m < MR; m++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(a[m].qs + 32 * b));
        const float dx = a[m].d[b];
        for (int r = 0; r < NR; r++) {
            // Signed weights: |w| (u8) times x with w's sign (ggml's trick; vpdpbusd multiplies u8 by s8).
            const __m256i xs = has_min ? x : _mm256_sign_epi8(x, q[r]);
            const __m256i d = QK_DOT_U8S8(_mm256_setzero_si256(), qa[r], xs);
            acc[r][m] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * dx), _mm256_cvtepi32_ps(d), acc[r][m]);
            if (has_min) accm[r][m] += mw[r] * a[m].ds[b];
        }
    }
}

// Outputs y[m ldy + r] for weight rows w + r rb (r < NR) and activation rows a[m] (m < MR), over nb 32-blocks.
// Even and odd blocks go to two accumulators (one FMA chain through every block would bound the loop by the FMA
// latency); y = hsum(acc_even + acc_odd) + the min terms.
QK_INLINE void QK_NAME(tile32)(int type, const uint8_t *w, size_t rb, const lk_act_row *a, size_t nb, float *y,
                               size_t ldy, const int NR, const int MR) {
    const size_t bb = lk_q_block_bytes(type);
    __m256 acc0[4][4], acc1[4][4];
    float accm[4][4];
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) {
            acc0[r][m] = acc1[r][m] = _mm256_setzero_ps();
            accm[r][m] = 0;
        }
    size_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        QK_NAME(step32)(type, w, rb, bb, a, b, acc0, accm, NR, MR);
        QK_NAME(step32)(type, w, rb, bb, a, b + 1, acc1, accm, NR, MR);
    }
    if (b < nb) QK_NAME(step32)(type, w, rb, bb, a, b, acc0, accm, NR, MR);
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) y[m * ldy + r] = QK_NAME(hsum)(_mm256_add_ps(acc0[r][m], acc1[r][m])) + accm[r][m];
}

/* ---------------------------------------------------------------- Q4_K, Q5_K */

// The 12 packed bytes of 6-bit scales and mins -> bytes sc_0..7, mn_0..7 (ggml's kmask shuffle).
QK_INLINE __m128i QK_NAME(scales_mins_k4)(const uint8_t *scales) {
    uint32_t u[4];
    memcpy(u, scales, 12);
    u[3] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
    const uint32_t mins03 = u[1] & 0x3f3f3f3f;
    u[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    u[2] = mins03;
    u[0] &= 0x3f3f3f3f;
    return _mm_loadu_si128((const __m128i *)u);
}

QK_INLINE void QK_NAME(tile_q45k)(int type, const uint8_t *w, size_t rb, const lk_act_row *a, size_t nb, float *y,
                                  size_t ldy, const int NR, const int MR) {
    const size_t bb = lk_q_block_bytes(type);
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256 acc[4][4];
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) acc[r][m] = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        __m256i sc[4], mn[4], hbits[4];
        float d[4], dmin[4];
        const uint8_t *qs[4];
        for (int r = 0; r < NR; r++) {
            const lk_block_q4_K *blk = (const lk_block_q4_K *)(w + r * rb + b * bb); // d, dmin, scales alike
            d[r] = QK_NAME(half)(blk->d);
            dmin[r] = QK_NAME(half)(blk->dmin);
            const __m128i sm = QK_NAME(scales_mins_k4)(blk->scales);
            sc[r] = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));     // sc_0..7 as words, both lanes
            mn[r] = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));        // mn_0, mn_0, mn_1, mn_1, ... as words
            if (type == LK_T_Q5_K) {
                const lk_block_q5_K *b5 = (const lk_block_q5_K *)blk;
                qs[r] = b5->qs;
                hbits[r] = _mm256_loadu_si256((const __m256i *)b5->qh);
            } else {
                qs[r] = blk->qs;
            }
        }
        __m256i isum[4][4];
        for (int r = 0; r < NR; r++)
            for (int m = 0; m < MR; m++) isum[r][m] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i lo[4], hi[4], s0[4], s1[4];
            for (int r = 0; r < NR; r++) {
                // Words sc_2c and sc_2c+1 in every position.
                s0[r] = _mm256_shuffle_epi8(sc[r], _mm256_set1_epi16((short)((4 * c + 1) << 8 | 4 * c)));
                s1[r] = _mm256_shuffle_epi8(sc[r], _mm256_set1_epi16((short)((4 * c + 3) << 8 | (4 * c + 2))));
                const __m256i q = _mm256_loadu_si256((const __m256i *)(qs[r] + 32 * c));
                lo[r] = _mm256_and_si256(q, m4);
                hi[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                if (type == LK_T_Q5_K) {
                    const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hbits[r], 2 * c), one);
                    const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hbits[r], 2 * c + 1), one);
                    lo[r] = _mm256_or_si256(lo[r], _mm256_slli_epi16(h0, 4));
                    hi[r] = _mm256_or_si256(hi[r], _mm256_slli_epi16(h1, 4));
                }
            }
            for (int m = 0; m < MR; m++) {
                const int8_t *xq = a[m].qs + QK_K * b + 64 * c;
                const __m256i x0 = _mm256_loadu_si256((const __m256i *)xq);
                const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xq + 32));
                for (int r = 0; r < NR; r++) {
                    const __m256i p0 = _mm256_maddubs_epi16(lo[r], x0), p1 = _mm256_maddubs_epi16(hi[r], x1);
                    isum[r][m] = QK_DOT_S16(isum[r][m], p0, s0[r]);
                    isum[r][m] = QK_DOT_S16(isum[r][m], p1, s1[r]);
                }
            }
        }
        for (int m = 0; m < MR; m++) {
            const float dx = a[m].d[b];
            const __m256i bs = _mm256_loadu_si256((const __m256i *)(a[m].bsums + 16 * b));
            for (int r = 0; r < NR; r++) {
                const __m256i mins = _mm256_madd_epi16(mn[r], bs);
                acc[r][m] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * dx), _mm256_cvtepi32_ps(isum[r][m]), acc[r][m]);
                acc[r][m] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin[r] * dx), _mm256_cvtepi32_ps(mins), acc[r][m]);
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) y[m * ldy + r] = QK_NAME(hsum)(acc[r][m]);
}

/* ---------------------------------------------------------------- Q6_K */

QK_INLINE void QK_NAME(tile_q6k)(const uint8_t *w, size_t rb, const lk_act_row *a, size_t nb, float *y, size_t ldy,
                                 const int NR, const int MR) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    // pshufb masks: low 128-bit lane = word 2p of the lane 8 times, high lane = word 2p + 1 (p = 0..3).
    const __m256i shuf[4] = {
        _mm256_set_epi64x(0x0302030203020302, 0x0302030203020302, 0x0100010001000100, 0x0100010001000100),
        _mm256_set_epi64x(0x0706070607060706, 0x0706070607060706, 0x0504050405040504, 0x0504050405040504),
        _mm256_set_epi64x(0x0b0a0b0a0b0a0b0a, 0x0b0a0b0a0b0a0b0a, 0x0908090809080908, 0x0908090809080908),
        _mm256_set_epi64x(0x0f0e0f0e0f0e0f0e, 0x0f0e0f0e0f0e0f0e, 0x0d0c0d0c0d0c0d0c, 0x0d0c0d0c0d0c0d0c),
    };
    __m256 acc[4][4];
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) acc[r][m] = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const lk_block_q6_K *blk[4];
        __m256i s16[4];
        float d[4];
        __m256i isum[4][4];
        for (int r = 0; r < NR; r++) {
            blk[r] = (const lk_block_q6_K *)(w + r * rb) + b;
            d[r] = QK_NAME(half)(blk[r]->d);
            s16[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)blk[r]->scales));
            for (int m = 0; m < MR; m++) isum[r][m] = _mm256_setzero_si256();
        }
        for (int h = 0; h < 2; h++) {
            __m256i v[4][4], sv[4][4];
            for (int r = 0; r < NR; r++) {
                const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(blk[r]->ql + 64 * h));
                const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(blk[r]->ql + 64 * h + 32));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk[r]->qh + 32 * h));
                v[r][0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
                v[r][1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
                v[r][2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
                v[r][3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
                // Scales of sub-blocks 8h + 2p (low lane) and 8h + 2p + 1 (high lane), as 16-bit words.
                const __m256i s2 = h == 0 ? _mm256_permute4x64_epi64(s16[r], 0x44) : _mm256_permute4x64_epi64(s16[r], 0xEE);
                for (int p = 0; p < 4; p++) sv[r][p] = _mm256_shuffle_epi8(s2, shuf[p]);
            }
            for (int m = 0; m < MR; m++) {
                const int8_t *xq = a[m].qs + QK_K * b + 128 * h;
                for (int p = 0; p < 4; p++) {
                    const __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 32 * p));
                    for (int r = 0; r < NR; r++)
                        isum[r][m] = QK_DOT_S16(isum[r][m], _mm256_maddubs_epi16(v[r][p], x), sv[r][p]);
                }
            }
        }
        for (int m = 0; m < MR; m++) {
            const float dx = a[m].d[b];
            const __m256i bs = _mm256_loadu_si256((const __m256i *)(a[m].bsums + 16 * b));
            for (int r = 0; r < NR; r++) {
                // The levels are q - 32: subtract 32 sum_j sc_j bsum_j.
                const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(s16[r], bs), 5);
                const __m256i t = _mm256_sub_epi32(isum[r][m], off);
                acc[r][m] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * dx), _mm256_cvtepi32_ps(t), acc[r][m]);
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) y[m * ldy + r] = QK_NAME(hsum)(acc[r][m]);
}

/* ---------------------------------------------------------------- F32 / F16 / BF16 rows */

QK_INLINE __m256 QK_NAME(wide8)(int type, const uint8_t *w, size_t k) {
    switch (type) {
    case LK_T_F32: return _mm256_loadu_ps((const float *)w + k);
    case LK_T_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + k)));
    default:
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + k))), 16));
    }
}

// Per output: acc lanes k mod 8 (fma, k ascending), then the fixed tree; K a multiple of 8 here.
QK_INLINE void QK_NAME(tile_float)(int type, const uint8_t *w, size_t rb, const lk_act_row *a, size_t K, float *y,
                                   size_t ldy, const int NR, const int MR) {
    __m256 acc[4][4];
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) acc[r][m] = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k += 8) {
        __m256 wv[4];
        for (int r = 0; r < NR; r++) wv[r] = QK_NAME(wide8)(type, w + r * rb, k);
        for (int m = 0; m < MR; m++) {
            const __m256 x = _mm256_loadu_ps((const float *)a[m].qs + k);
            for (int r = 0; r < NR; r++) acc[r][m] = _mm256_fmadd_ps(wv[r], x, acc[r][m]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int m = 0; m < MR; m++) y[m * ldy + r] = QK_NAME(hsum)(acc[r][m]);
}

/* ---------------------------------------------------------------- driver */

QK_INLINE void QK_NAME(tile)(int type, const uint8_t *w, size_t rb, const lk_act_row *a, size_t K, float *y,
                             size_t ldy, const int NR, const int MR) {
    switch (type) {
    case LK_T_Q4_K: case LK_T_Q5_K: QK_NAME(tile_q45k)(type, w, rb, a, K / QK_K, y, ldy, NR, MR); break;
    case LK_T_Q6_K: QK_NAME(tile_q6k)(w, rb, a, K / QK_K, y, ldy, NR, MR); break;
    case LK_T_F32: case LK_T_F16: case LK_T_BF16: QK_NAME(tile_float)(type, w, rb, a, K, y, ldy, NR, MR); break;
    default: QK_NAME(tile32)(type, w, rb, a, K / 32, y, ldy, NR, MR); break;
    }
}

// One tile shape per (type, NR, MR): the type is a constant inside, so each is compiled straight.
#define QK_TILE_FN(NR, MR)                                                                                           \
    QK_TARGET static void QK_NAME(tile_##NR##x##MR)(int type, const uint8_t *w, size_t rb, const lk_act_row *a,     \
                                                    size_t K, float *y, size_t ldy) {                                \
        switch (type) {                                                                                              \
        case LK_T_Q4_0: QK_NAME(tile)(LK_T_Q4_0, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_Q4_1: QK_NAME(tile)(LK_T_Q4_1, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_Q5_0: QK_NAME(tile)(LK_T_Q5_0, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_Q5_1: QK_NAME(tile)(LK_T_Q5_1, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_Q8_0: QK_NAME(tile)(LK_T_Q8_0, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_Q4_K: QK_NAME(tile)(LK_T_Q4_K, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_Q5_K: QK_NAME(tile)(LK_T_Q5_K, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_Q6_K: QK_NAME(tile)(LK_T_Q6_K, w, rb, a, K, y, ldy, NR, MR); break;                                \
        case LK_T_F32: QK_NAME(tile)(LK_T_F32, w, rb, a, K, y, ldy, NR, MR); break;                                  \
        case LK_T_F16: QK_NAME(tile)(LK_T_F16, w, rb, a, K, y, ldy, NR, MR); break;                                  \
        case LK_T_BF16: QK_NAME(tile)(LK_T_BF16, w, rb, a, K, y, ldy, NR, MR); break;                                \
        }                                                                                                            \
    }

QK_TILE_FN(1, 1)
QK_TILE_FN(1, 2)
QK_TILE_FN(1, 3)
QK_TILE_FN(1, 4)
#if QK_GEMM_NR == 2
QK_TILE_FN(2, 1)
QK_TILE_FN(2, 2)
QK_TILE_FN(2, 3)
QK_TILE_FN(2, 4)
#endif

typedef void (*QK_NAME(tile_fn))(int, const uint8_t *, size_t, const lk_act_row *, size_t, float *, size_t);

// Row blocks: weights of QK_NB rows stay in L2 while QK_MB activation rows pass over them.
#define QK_NB 64
#define QK_MB 64

QK_TARGET static int QK_NAME(lk_q_matmul_impl)(int type, const void *w, size_t K, size_t n0, size_t n1, const void *qx, size_t M,
                                   float *y, size_t ldy) {
    if (lk_q_act_kind(type) < 0 && K % 8 != 0) return 0;
    const size_t rb = lk_q_row_bytes(type, K);
    const uint8_t *w8 = (const uint8_t *)w;
    lk_act_row a[QK_MB];
    if (M == 1) {
        // GEMV: one weight row at a time, streamed front to back (several rows in flight measured 2-5x slower once
        // the weights come from L3 or memory; from L2, four rows per pass was ~20% faster).
        a[0] = lk_act_at(type, qx, K, 0);
        size_t n = n0;
        for (; n < n1; n++) QK_NAME(tile_1x1)(type, w8 + n * rb, rb, a, K, y + n, ldy);
        return 1;
    }
    static const QK_NAME(tile_fn) by_mr[2][5] = {
        {NULL, QK_NAME(tile_1x1), QK_NAME(tile_1x2), QK_NAME(tile_1x3), QK_NAME(tile_1x4)},
#if QK_GEMM_NR == 2
        {NULL, QK_NAME(tile_2x1), QK_NAME(tile_2x2), QK_NAME(tile_2x3), QK_NAME(tile_2x4)},
#else
        {NULL, QK_NAME(tile_1x1), QK_NAME(tile_1x2), QK_NAME(tile_1x3), QK_NAME(tile_1x4)},
#endif
    };
    for (size_t nb0 = n0; nb0 < n1; nb0 += QK_NB) {
        const size_t nb1 = nb0 + QK_NB < n1 ? nb0 + QK_NB : n1;
        for (size_t mb0 = 0; mb0 < M; mb0 += QK_MB) {
            const size_t mb1 = mb0 + QK_MB < M ? mb0 + QK_MB : M;
            for (size_t m = mb0; m < mb1; m++) a[m - mb0] = lk_act_at(type, qx, K, m);
            for (size_t n = nb0; n < nb1;) {
                const int nr = n + QK_GEMM_NR <= nb1 ? QK_GEMM_NR : 1;
                for (size_t m = mb0; m < mb1;) {
                    const int mr = (int)(mb1 - m < QK_GEMM_MR ? mb1 - m : QK_GEMM_MR);
                    by_mr[nr - 1][mr](type, w8 + n * rb, rb, a + (m - mb0), K, y + m * ldy + n, ldy);
                    m += (size_t)mr;
                }
                n += (size_t)nr;
            }
        }
    }
    return 1;
}

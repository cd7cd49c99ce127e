/* Template over GD_T (gd_each_type.h): the interleaved records of the lazy kind of the sparse
 * path of CSR epochs (GD_SP_LAZY, gd_csr_lazy.h): each coefficient with its optimizer state,
 * [w, s0, s1, s2] (GD_ILV values) in one cache line, copied in and out once a call, and the mark
 * that flags a feature not yet seen in the current batch. */

/* The lazy step's mark (gin, see gd_csr_lazy.h): a signalling NaN, which arithmetic never
 * returns (a NaN result is quiet), compared by its bits.  Copies keep its bits where floating
 * point values move through SSE or AVX registers (x86-64) or FP registers (AArch64); 32-bit x87
 * loads would quiet it, so there (GD_LZ_MARK_OK 0) gin is off and the lazy step keeps its sums
 * in the compact array, found through the slots.  (The memcpy sizes are the smaller of the
 * two: each function has a branch per width, one of them dead.) */
#if defined(__i386__) && !defined(__SSE2_MATH__)
#define GD_LZ_MARK_OK 0
#else
#define GD_LZ_MARK_OK 1
#endif
#define GD_MIN_SIZE(a, b) (sizeof(a) < sizeof(b) ? sizeof(a) : sizeof(b))
GD_INLINE GD_T GD_SFX(lz_mark)(void) {
    GD_T v = 0;
    if (sizeof(GD_T) == 8) {
        const uint64_t b = UINT64_C(0x7ff4000000000001);
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    } else {
        const uint32_t b = UINT32_C(0x7fa00001);
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    }
    return v;
}
GD_INLINE int GD_SFX(is_lz_mark)(GD_T v) {
    if (sizeof(GD_T) == 8) {
        uint64_t b = 0;
        memcpy(&b, &v, GD_MIN_SIZE(v, b));
        return b == UINT64_C(0x7ff4000000000001);
    }
    uint32_t b = 0;
    memcpy(&b, &v, GD_MIN_SIZE(v, b));
    return b == UINT32_C(0x7fa00001);
}
/* v, or +0 where zero is 1, by masking v's bits rather than by a branch */
GD_INLINE GD_T GD_SFX(zero_if)(GD_T v, int zero) {
    if (sizeof(GD_T) == 8) {
        uint64_t b = 0;
        memcpy(&b, &v, GD_MIN_SIZE(v, b));
        b &= (uint64_t)zero - 1;
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    } else {
        uint32_t b = 0;
        memcpy(&b, &v, GD_MIN_SIZE(v, b));
        b &= (uint32_t)zero - 1;
        memcpy(&v, &b, GD_MIN_SIZE(v, b));
    }
    return v;
}

/* Four coefficients' [w, s0, s1, s2] (GD_ILV values each in ilv) to and from the lazy step's
 * contiguous arrays w[], s[0..], s[ch..], s[2 ch..]: four vector loads, a 4 x 4 transpose in
 * registers and four vector stores, where the compiler has the shuffle builtin, instead of 16
 * scalar loads and 16 scalar stores (the step's copies were store-bound: lazy Adam 256 on the
 * issue's problem took 13 % less time with these).  The same values move, so the result is
 * the scalar copy's, bit for bit. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define GD_ILV_SHUFFLE 1
#endif
#endif
#ifdef GD_ILV_SHUFFLE
typedef GD_T GD_SFX(v4) __attribute__((vector_size(4 * sizeof(GD_T))));
/* (skip_s2: s2 is not stored) */
GD_INLINE void GD_SFX(ilv_gather4)(GD_T *const *vp, GD_T *w, GD_T *s, int64_t ch,
                                    int skip_s2) {
    GD_SFX(v4) a, b, c, d;
    memcpy(&a, vp[0], sizeof a);
    memcpy(&b, vp[1], sizeof b);
    memcpy(&c, vp[2], sizeof c);
    memcpy(&d, vp[3], sizeof d);
    const GD_SFX(v4) t0 = __builtin_shufflevector(a, b, 0, 4, 2, 6);   /* a0 b0 a2 b2 */
    const GD_SFX(v4) t1 = __builtin_shufflevector(a, b, 1, 5, 3, 7);   /* a1 b1 a3 b3 */
    const GD_SFX(v4) t2 = __builtin_shufflevector(c, d, 0, 4, 2, 6);
    const GD_SFX(v4) t3 = __builtin_shufflevector(c, d, 1, 5, 3, 7);
    const GD_SFX(v4) v0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);  /* a0 b0 c0 d0 */
    const GD_SFX(v4) v1 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    const GD_SFX(v4) v2 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    const GD_SFX(v4) v3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
    memcpy(w, &v0, sizeof v0);
    memcpy(s, &v1, sizeof v1);
    memcpy(s + ch, &v2, sizeof v2);
    if (!skip_s2) memcpy(s + 2 * ch, &v3, sizeof v3);
}
/* (mark_s2: s2's place is written as the mark GD_SFX(lz_mark)) */
GD_INLINE void GD_SFX(ilv_scatter4)(GD_T *const *vp, const GD_T *w, const GD_T *s, int64_t ch,
                                     int mark_s2) {
    const GD_T mk = GD_SFX(lz_mark)();
    GD_SFX(v4) v0, v1, v2, v3 = {mk, mk, mk, mk};
    memcpy(&v0, w, sizeof v0);
    memcpy(&v1, s, sizeof v1);
    memcpy(&v2, s + ch, sizeof v2);
    if (!mark_s2) memcpy(&v3, s + 2 * ch, sizeof v3);
    const GD_SFX(v4) t0 = __builtin_shufflevector(v0, v2, 0, 1, 4, 5);  /* a0 b0 a2 b2 */
    const GD_SFX(v4) t2 = __builtin_shufflevector(v0, v2, 2, 3, 6, 7);  /* c0 d0 c2 d2 */
    const GD_SFX(v4) t1 = __builtin_shufflevector(v1, v3, 0, 1, 4, 5);  /* a1 b1 a3 b3 */
    const GD_SFX(v4) t3 = __builtin_shufflevector(v1, v3, 2, 3, 6, 7);
    const GD_SFX(v4) a = __builtin_shufflevector(t0, t1, 0, 4, 2, 6);
    const GD_SFX(v4) b = __builtin_shufflevector(t0, t1, 1, 5, 3, 7);
    const GD_SFX(v4) c = __builtin_shufflevector(t2, t3, 0, 4, 2, 6);
    const GD_SFX(v4) d = __builtin_shufflevector(t2, t3, 1, 5, 3, 7);
    memcpy(vp[0], &a, sizeof a);
    memcpy(vp[1], &b, sizeof b);
    memcpy(vp[2], &c, sizeof c);
    memcpy(vp[3], &d, sizeof d);
}
#endif

/* A lazy call's copies of theta[q] and the state rows st[r P + q] (n_st of them) into the
 * interleaved records ilv[q GD_ILV ..] and back, for q < n; gin: s2's place holds the mark
 * (in) and is not copied back (out).  With three state rows, four records a step through
 * the transposes above (the scalar loops took half the time a lazy Adam call on d = 2^20
 * spent outside its batches). */
GD_HOT static void GD_SFX(ilv_in)(GD_T *ilv, const GD_T *th, const GD_T *st, int64_t P,
                                   int64_t n, int n_st, int gin) {
    int64_t q = 0;
#ifdef GD_ILV_SHUFFLE
    if (n_st == 3)
        for (; q + 4 <= n; q += 4) {
            GD_T *const vp[4] = {ilv + q * GD_ILV, ilv + (q + 1) * GD_ILV,
                                 ilv + (q + 2) * GD_ILV, ilv + (q + 3) * GD_ILV};
            GD_SFX(ilv_scatter4)(vp, th + q, st + q, P, gin);
        }
#endif
    for (; q < n; q++) {
        GD_T *v = ilv + q * GD_ILV;
        v[0] = th[q];
        for (int r = 0; r < GD_ILV - 1; r++)
            v[1 + r] = gin && r == 2 ? GD_SFX(lz_mark)() : r < n_st ? st[r * P + q] : 0;
    }
}

GD_HOT static void GD_SFX(ilv_out)(const GD_T *ilv, GD_T *th, GD_T *st, int64_t P,
                                    int64_t n, int n_st, int gin) {
    int64_t q = 0;
#ifdef GD_ILV_SHUFFLE
    if (n_st == 3)
        for (; q + 4 <= n; q += 4) {
            GD_T *const vp[4] = {(GD_T *)ilv + q * GD_ILV, (GD_T *)ilv + (q + 1) * GD_ILV,
                                 (GD_T *)ilv + (q + 2) * GD_ILV, (GD_T *)ilv + (q + 3) * GD_ILV};
            GD_SFX(ilv_gather4)(vp, th + q, st + q, P, gin);
        }
#endif
    for (; q < n; q++) {
        const GD_T *v = ilv + q * GD_ILV;
        th[q] = v[0];
        for (int r = 0; r < n_st; r++)
            if (!(gin && r == 2)) st[r * P + q] = v[1 + r];
    }
}

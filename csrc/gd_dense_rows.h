/* Template over GD_T (gd_each_type.h): reading dense rows, the dot products with the
 * coefficients and the prefetches of the rows ahead. */

/* x . w over d entries: GD_LANES independent partial sums, then a fixed tree (lane l gathers
 * the entries j = l mod GD_LANES; the tree adds lane l + h into lane l for h = 16, 8, ..., 1). */
GD_INLINE GD_T GD_SFX(dot)(const GD_T *x, const GD_T *w, int64_t d) {
    GD_T acc[GD_LANES] = {0};
    int64_t j = 0;
    for (; j + GD_LANES <= d; j += GD_LANES) {
#pragma omp simd
        for (int l = 0; l < GD_LANES; l++) acc[l] += x[j + l] * w[j + l];
    }
    GD_T tail = 0;
    for (; j < d; j++) tail += x[j] * w[j];
    for (int h = GD_LANES / 2; h >= 1; h /= 2)
        for (int l = 0; l < h; l++) acc[l] += acc[l + h];
    return acc[0] + tail;
}

#if defined(__GNUC__) && GD_LANES == 32
/* dot with the 32 lanes as four vectors of eight (GCC's vector extension, lowered to whatever
 * width the target has): the same lanes, the same tree, the same bits.  They stay in registers
 * on the v3 and v4 clones, where GCC kept dot's array on the stack, with a load and a store
 * around each multiply-add and its tree summed through memory (perf annotate put a quarter of
 * block_grad's samples on that scalar tree).  Per-sample step, whose next row waits for this
 * value: 70 -> 53 ns a row in row order.  The four-row loop of block_grad_k1: a gradient over
 * 400 000 rows in order, one thread, 38.8-44.4 -> 34.1 ns a row (two alternating runs each).
 * dot stays for the multi-output rows and the decision values. */
typedef GD_T GD_SFX(v8) __attribute__((vector_size(8 * sizeof(GD_T))));
/* (*v = p[0..8), through memory: a vector argument or return value would take an ABI that
 * depends on the target) */
GD_INLINE void GD_SFX(load8)(GD_SFX(v8) *v, const GD_T *p) {
    memcpy(v, p, sizeof *v);
}
GD_INLINE GD_T GD_SFX(dot_chain)(const GD_T *x, const GD_T *w, int64_t d) {
    GD_SFX(v8) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, xv, wv;
    int64_t j = 0;
    for (; j + 32 <= d; j += 32) {
        GD_SFX(load8)(&xv, x + j);
        GD_SFX(load8)(&wv, w + j);
        a0 += xv * wv;
        GD_SFX(load8)(&xv, x + j + 8);
        GD_SFX(load8)(&wv, w + j + 8);
        a1 += xv * wv;
        GD_SFX(load8)(&xv, x + j + 16);
        GD_SFX(load8)(&wv, w + j + 16);
        a2 += xv * wv;
        GD_SFX(load8)(&xv, x + j + 24);
        GD_SFX(load8)(&wv, w + j + 24);
        a3 += xv * wv;
    }
    GD_T tail = 0;
    for (; j < d; j++) tail += x[j] * w[j];
    a0 += a2;                                     /* h = 16 */
    a1 += a3;
    a0 += a1;                                     /* h = 8 */
    const GD_T t0 = a0[0] + a0[4], t1 = a0[1] + a0[5], t2 = a0[2] + a0[6], t3 = a0[3] + a0[7];
    return ((t0 + t2) + (t1 + t3)) + tail;        /* h = 4, 2, 1 */
}
#else
GD_INLINE GD_T GD_SFX(dot_chain)(const GD_T *x, const GD_T *w, int64_t d) {
    return GD_SFX(dot)(x, w, d);
}
#endif

GD_INLINE void GD_SFX(prefetch_row)(const GD_T *row, int64_t d) {
    int64_t bytes = d * (int64_t)sizeof(GD_T);
    if (bytes > GD_PREFETCH_BYTES) bytes = GD_PREFETCH_BYTES;
    gd_prefetch_range(row, (const char *)row + bytes);
}

/* prefetch_row for row i, with its target and weight (random accesses too, along a shuffled
 * order). */
GD_INLINE void GD_SFX(prefetch_obs)(const GD_T *X, int64_t d, const GD_T *y, const GD_T *sw,
                                    int64_t i) {
    GD_SFX(prefetch_row)(X + i * d, d);
    GD_PREFETCH(y + i);
    if (sw) GD_PREFETCH(sw + i);
}

/* Prefetch the row at position q of the order (order NULL: rows in order) along the thread's
 * stream pf (gd_pf_pos), if any.  Rows in order are prefetched too: the hardware prefetcher
 * alone left a full-batch gradient over 400 000 rows of 128 float64 at 14.7 ms on two threads
 * and 25.7 on one, against 10.2 and 16.1 ms with these prefetches, and numpy's X @ w at 11.4
 * (11 interleaved rounds, medians). */
GD_INLINE void GD_SFX(prefetch_ahead)(const GD_T *X, int64_t d, const GD_T *y, const GD_T *sw,
                                      const int64_t *order, const gd_pf_span *pf, int64_t q) {
    const int64_t p = gd_pf_pos(pf, q);
    if (p >= 0) GD_SFX(prefetch_obs)(X, d, y, sw, order ? order[p] : p);
}

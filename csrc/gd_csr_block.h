/* Template over GD_T and GD_I (gd_each_index.h): the partial gradient of a block of CSR rows
 * (the dense rows' is gd_dense_block.h). */

/* Row i's K margins into z (the intercepts alone when zero_w), then its loss derivatives
 * times its weight wi in place; returns its loss (unweighted). */
GD_INLINE GD_T GD_ISFX(csr_row_dz)(const gd_config *cfg, const GD_T *data, const GD_I *ind,
                                   int64_t lo, int64_t hi, int64_t d, const GD_T *th,
                                   int zero_w, GD_T yi, GD_T wi, GD_T *z) {
    const int64_t K = cfg->n_outputs, n_coef = K * d;
    for (int64_t k = 0; k < K; k++) {
        const GD_T *wk = th + k * d;
        GD_T s = 0;
        if (!zero_w)
            for (int64_t e = lo; e < hi; e++) s += data[e] * wk[ind[e]];
        z[k] = s + th[n_coef + k];
    }
    const GD_T li = GD_SFX(row_loss_dz)(cfg, z, K, yi, (GD_T)cfg->epsilon);
    for (int64_t k = 0; k < K; k++) z[k] = wi * z[k];
    return li;
}

/* Row lo..hi's terms a[k] * x into g (the coefficients of output k, then its intercept). */
GD_INLINE void GD_ISFX(csr_row_scatter)(const GD_T *data, const GD_I *ind, int64_t lo,
                                        int64_t hi, int64_t d, int64_t K, const GD_T *a,
                                        GD_T *g) {
    for (int64_t k = 0; k < K; k++) {
        const GD_T ak = a[k];
        if (ak == 0) continue;
        GD_T *gk = g + k * d;
        for (int64_t e = lo; e < hi; e++) gk[ind[e]] += ak * data[e];
        g[K * d + k] += ak;
    }
}

/* The two passes of block_grad_csr over rows r0..r1 (see there): the rows' weighted loss
 * derivatives into a[(r - r0) * K + k], then their scatter into g, each row's terms in the
 * fused loop's order (same bits). */
GD_HOT static void GD_ISFX(block_grad_csr_2p)(const gd_config *cfg, const GD_T *data,
                                              const GD_I *ind, const GD_I *ptr, int64_t d,
                                              const GD_T *y, const GD_T *sw,
                                              const int64_t *order, int64_t r0, int64_t r1,
                                              int64_t r_first, const GD_T *th, int zero_w,
                                              GD_T *g, GD_T *a, double *lsum, int *stopped) {
    const int64_t K = cfg->n_outputs;
    for (int64_t r = r0; r < r1; r++) {
        if (cfg->interruptible && (r == r_first || (r & 1023) == 0) && gd_interrupt_pending()) {
            *stopped = 1;
            return;
        }
        const int64_t i = order ? order[r] : r;
        const int64_t lo = (int64_t)ptr[i], hi = (int64_t)ptr[i + 1];
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        const GD_T li = GD_ISFX(csr_row_dz)(cfg, data, ind, lo, hi, d, th, zero_w, y[i], wi,
                                            a + (r - r0) * K);
        *lsum += (double)(wi * li);
    }
    for (int64_t r = r0; r < r1; r++) {
        const int64_t i = order ? order[r] : r;
        GD_ISFX(csr_row_scatter)(data, ind, (int64_t)ptr[i], (int64_t)ptr[i + 1], d, K,
                                 a + (r - r0) * K, g);
    }
}

/* block_grad_csr on CSR rows: the partial gradient of positions r0..r1 of the order into g[P]
 * (zeroed here, g[P..P+K) is scratch); returns sum_i sw_i * loss_i.  O(P + nnz of the rows).
 * a: room for arows rows' K loss derivatives (the two-pass form), or NULL.  zero_w: every
 * coefficient of th is zero (a fit's usual start), so the margins are the intercepts and the
 * rows are read once, for the scatter: a sum of finite x_ij * 0 is +0 exactly (same bits). */
GD_HOT static double GD_ISFX(block_grad_csr)(const gd_config *cfg, const GD_T *data,
                                             const GD_I *ind, const GD_I *ptr, int64_t d,
                                             const GD_T *y, const GD_T *sw,
                                             const int64_t *order, int64_t r0, int64_t r1,
                                             const GD_T *th, int zero_w, GD_T *g, GD_T *a,
                                             int64_t arows, int *stopped) {
    const int64_t K = cfg->n_outputs, P = K * (d + 1);
    GD_T *z = g + P;
    double lsum = 0;
    for (int64_t j = 0; j < P; j++) g[j] = 0;
    *stopped = 0;
    const int big = d * (int64_t)sizeof(GD_T) >= GD_CSR_GATHER_MIN_BYTES;
    /* Where the coefficients outgrow the cache, every stored entry costs a random read of
     * theta and a random write of g.  Fused row by row, both vectors must stay in the cache
     * at once, and a row's scatter waits on its own gathers; in two passes over long runs of
     * rows (first every row's gathers into its loss derivative, then the scatters) each pass
     * keeps one vector hot and the rows' loads overlap (benchmarks/sparse_kernels.py), the
     * additions being the same in the same order (same bits). */
    if (big && a && arows >= GD_CSR_TWO_PASS_MIN_ROWS && r1 - r0 >= GD_CSR_TWO_PASS_MIN_ROWS) {
        for (int64_t c0 = r0; c0 < r1 && !*stopped; c0 += arows) {
            const int64_t c1 = c0 + arows < r1 ? c0 + arows : r1;
            GD_ISFX(block_grad_csr_2p)(cfg, data, ind, ptr, d, y, sw, order, c0, c1, r0, th,
                                       zero_w, g, a, &lsum, stopped);
        }
        return lsum;
    }
    /* Otherwise their lines are prefetched GD_CSR_GATHER_AHEAD rows ahead, misses the hardware
     * cannot foresee (the arithmetic is untouched: same bits). */
    const int gather_pf = big;
    for (int64_t r = r0; r < r1; r++) {
        if (cfg->interruptible && (r == r0 || (r & 1023) == 0) && gd_interrupt_pending()) {
            *stopped = 1;
            break;
        }
        const int64_t i = order ? order[r] : r;
        const int64_t lo = (int64_t)ptr[i], hi = (int64_t)ptr[i + 1];
        if (gather_pf && r + GD_CSR_GATHER_AHEAD < r1) {
            const int64_t ia = order ? order[r + GD_CSR_GATHER_AHEAD] : r + GD_CSR_GATHER_AHEAD;
            const int64_t alo = (int64_t)ptr[ia], ahi = (int64_t)ptr[ia + 1];
            for (int64_t e = alo; e < ahi; e++) {
                if (!zero_w) GD_PREFETCH(th + ind[e]);
                GD_PREFETCH_W(g + ind[e]);
            }
        }
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        const GD_T li = GD_ISFX(csr_row_dz)(cfg, data, ind, lo, hi, d, th, zero_w, y[i], wi, z);
        lsum += (double)(wi * li);
        GD_ISFX(csr_row_scatter)(data, ind, lo, hi, d, K, z, g);
    }
    return lsum;
}

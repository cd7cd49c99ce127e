/* Template over GD_T and GD_I (gd_each_index.h): the partial gradient of a block of CSR rows
 * (the dense rows' is gd_dense_block.h). */

#ifndef GD_CSR_GATHER_AHEAD
#define GD_CSR_GATHER_AHEAD 4              /* rows */
#endif
#ifndef GD_CSR_GATHER_MIN_BYTES
#define GD_CSR_GATHER_MIN_BYTES (1 << 18)  /* coefficients of one output beyond L2's size */
#endif

/* block_grad on CSR rows: the partial gradient of positions r0..r1 of the order into g[P]
 * (zeroed here, g[P..P+K) is scratch); returns sum_i sw_i * loss_i.  O(P + nnz of the rows). */
GD_HOT static double GD_ISFX(block_grad_csr)(const gd_config *cfg, const GD_T *data,
                                             const GD_I *ind, const GD_I *ptr, int64_t d,
                                             const GD_T *y, const GD_T *sw,
                                             const int64_t *order, int64_t r0, int64_t r1,
                                             const GD_T *th, GD_T *g, int *stopped) {
    const int64_t K = cfg->n_outputs, n_coef = K * d, P = n_coef + K;
    const GD_T eps = (GD_T)cfg->epsilon;
    GD_T *z = g + P;
    double lsum = 0;
    for (int64_t j = 0; j < P; j++) g[j] = 0;
    *stopped = 0;
    /* Where the coefficients outgrow the cache, every stored entry costs a random read of
     * theta and a random write of g, each a miss the hardware cannot foresee: their lines are
     * prefetched GD_CSR_GATHER_AHEAD rows ahead (the arithmetic is untouched: same bits). */
    const int gather_pf = d * (int64_t)sizeof(GD_T) >= GD_CSR_GATHER_MIN_BYTES;
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
                GD_PREFETCH(th + ind[e]);
                GD_PREFETCH_W(g + ind[e]);
            }
        }
        for (int64_t k = 0; k < K; k++) {
            const GD_T *wk = th + k * d;
            GD_T s = 0;
            for (int64_t e = lo; e < hi; e++) s += data[e] * wk[ind[e]];
            z[k] = s + th[n_coef + k];
        }
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        const GD_T li = GD_SFX(row_loss_dz)(cfg, z, K, y[i], eps);
        lsum += (double)(wi * li);
        for (int64_t k = 0; k < K; k++) {
            const GD_T a = wi * z[k];
            if (a == 0) continue;
            GD_T *gk = g + k * d;
            for (int64_t e = lo; e < hi; e++) gk[ind[e]] += a * data[e];
            g[n_coef + k] += a;
        }
    }
    return lsum;
}

/* Template over GD_T (gd_each_type.h): the partial gradient of a block of dense rows (the CSR
 * rows' is gd_csr_block.h). */

/* The K = 1 case of block_grad, four rows at a time: four dot products and loss derivatives,
 * then one pass g_j += a0 x0_j + a1 x1_j + a2 x2_j + a3 x3_j over the four rows, still in L1
 * (the gradient is loaded and stored once per four rows instead of once per row). */
GD_INLINE double GD_SFX(block_grad_k1)(const gd_config *cfg, const GD_T *X, int64_t d,
                                       const GD_T *y, const GD_T *sw, const int64_t *order,
                                       int64_t r0, int64_t r1, const gd_pf_span *pf,
                                       const GD_T *th, GD_T *g, int *stopped) {
    const GD_T eps = (GD_T)cfg->epsilon, b = th[d];
    double lsum = 0;
    int64_t r = r0;
    if (cfg->interruptible && gd_interrupt_pending()) {     /* every block, however short */
        *stopped = 1;
        return lsum;
    }
    for (; r + 4 <= r1; r += 4) {
        if (cfg->interruptible && r > r0 && ((r - r0) & 1023) == 0 && gd_interrupt_pending()) {
            *stopped = 1;
            return lsum;
        }
        const GD_T *x[4];
        GD_T a[4], zq[4], yq[4], wq[4], lq[4];
        if (pf->shuf && pf->shuf->next < pf->shuf_to) {
            const int64_t to = pf->shuf->next + pf->shuf_per;
            gd_shuffle_to(pf->shuf, pf->shuf_order, to < pf->shuf_to ? to : pf->shuf_to);
        }
        for (int q = 0; q < 4; q++) {
            const int64_t i = order ? order[r + q] : r + q;
            x[q] = X + i * d;
            GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, r + q + pf->ahead);
            zq[q] = GD_SFX(dot_chain)(x[q], th, d) + b;
            yq[q] = y[i];
            wq[q] = sw ? sw[i] : (GD_T)1;
        }
        GD_SFX(loss_dz4)(cfg->loss, zq, yq, eps, lq, a);
        for (int q = 0; q < 4; q++) {
            lsum += (double)(wq[q] * lq[q]);
            a[q] *= wq[q];
        }
        const GD_T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
        const GD_T a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
#pragma omp simd
        for (int64_t j = 0; j < d; j++) g[j] += a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
        g[d] += a0 + a1 + a2 + a3;
    }
    for (; r < r1; r++) {
        const int64_t i = order ? order[r] : r;
        const GD_T *x = X + i * d;
        const GD_T z = GD_SFX(dot)(x, th, d) + b;
        GD_T dz;
        const GD_T li = GD_SFX(loss_dz)(cfg->loss, z, y[i], eps, &dz);
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        lsum += (double)(wi * li);
        const GD_T a0 = wi * dz;
#pragma omp simd
        for (int64_t j = 0; j < d; j++) g[j] += a0 * x[j];
        g[d] += a0;
    }
    return lsum;
}

/* K > 1 (up to GD_K4_MAX outputs): block_grad's loop four rows at a time, as block_grad_k1
 * does for one output.  The four rows' K decision values and softmax derivatives come first
 * (they read theta, never g), then each output's gradient takes the four rows' terms one
 * after another, in row order, in a register: the same additions in the same order as one
 * row at a time (a zero term adds nothing either way), so the same bits, with each gradient
 * entry loaded and stored once per four rows instead of once per row. */
#define GD_K4_MAX 16
GD_INLINE double GD_SFX(block_grad_k4)(const gd_config *cfg, const GD_T *X, int64_t d,
                                       const GD_T *y, const GD_T *sw, const int64_t *order,
                                       int64_t r0, int64_t r1, const gd_pf_span *pf,
                                       const GD_T *th, GD_T *g, int *stopped) {
    const int64_t K = cfg->n_outputs, n_coef = K * d;
    const GD_T eps = (GD_T)cfg->epsilon;
    GD_T zq[4][GD_K4_MAX];
    double lsum = 0;
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        /* a pending interrupt is seen at the first row of every block, then every 1024 rows */
        if (cfg->interruptible && ((r - r0) & 1023) == 0 && gd_interrupt_pending()) {
            *stopped = 1;
            return lsum;
        }
        const GD_T *x[4];
        GD_T wq[4];
        for (int q = 0; q < 4; q++) {
            const int64_t i = order ? order[r + q] : r + q;
            x[q] = X + i * d;
            GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, r + q + pf->ahead);
            for (int64_t k = 0; k < K; k++)
                zq[q][k] = GD_SFX(dot)(x[q], th + k * d, d) + th[n_coef + k];
            wq[q] = sw ? sw[i] : (GD_T)1;
            const GD_T li = GD_SFX(row_loss_dz)(cfg, zq[q], K, y[i], eps);
            lsum += (double)(wq[q] * li);
        }
        const GD_T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
        for (int64_t k = 0; k < K; k++) {
            const GD_T a0 = wq[0] * zq[0][k], a1 = wq[1] * zq[1][k], a2 = wq[2] * zq[2][k],
                       a3 = wq[3] * zq[3][k];
            GD_T *gk = g + k * d;
#pragma omp simd
            for (int64_t j = 0; j < d; j++) {
                GD_T t = gk[j];
                t += a0 * x0[j];
                t += a1 * x1[j];
                t += a2 * x2[j];
                t += a3 * x3[j];
                gk[j] = t;
            }
            GD_T b = g[n_coef + k];
            b += a0;
            b += a1;
            b += a2;
            b += a3;
            g[n_coef + k] = b;
        }
    }
    for (; r < r1; r++) {
        if (cfg->interruptible && ((r - r0) & 1023) == 0 && gd_interrupt_pending()) {
            *stopped = 1;
            return lsum;
        }
        const int64_t i = order ? order[r] : r;
        const GD_T *x = X + i * d;
        GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, r + pf->ahead);
        for (int64_t k = 0; k < K; k++)
            zq[0][k] = GD_SFX(dot)(x, th + k * d, d) + th[n_coef + k];
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        const GD_T li = GD_SFX(row_loss_dz)(cfg, zq[0], K, y[i], eps);
        lsum += (double)(wi * li);
        for (int64_t k = 0; k < K; k++) {
            const GD_T a = wi * zq[0][k];
            GD_T *gk = g + k * d;
#pragma omp simd
            for (int64_t j = 0; j < d; j++) gk[j] += a * x[j];
            g[n_coef + k] += a;
        }
    }
    return lsum;
}

/* Partial gradient of positions r0..r1 of the row order into g[P] (zeroed here), using
 * g[P..P+K) as scratch; returns sum_i sw_i * loss_i.  One pass over each row: the dot
 * products, the loss derivative and the gradient contribution while the row is in cache.
 * Along the order (shuffled or not), the rows pf->ahead positions ahead along pf are prefetched
 * (prefetch_ahead), and at every block's start every row up to there again: without that, Adam
 * 256 and SGD 32 epochs took about 2 ms more (31 interleaved rounds, 19.6 against 17.4 and
 * 21.1 against 18.8 ms), and with it only at a thread's first block of each batch, Adam 256
 * took 21.9 against 20.7 ms (25 rounds).  Prefetches already in flight or in cache cost little;
 * some issued earlier were evidently no longer either.
 * *stopped is set when an interrupt was pending (cfg->interruptible); the partial is then
 * incomplete and must be discarded. */
GD_HOT static double GD_SFX(block_grad)(const gd_config *cfg, const GD_T *X, int64_t d,
                                        const GD_T *y, const GD_T *sw, const int64_t *order,
                                        int64_t r0, int64_t r1, const gd_pf_span *pf,
                                        const GD_T *th, GD_T *g, int *stopped) {
    const int64_t K = cfg->n_outputs, n_coef = K * d, P = n_coef + K;
    const GD_T eps = (GD_T)cfg->epsilon;
    GD_T *z = g + P;
    double lsum = 0;
    for (int64_t j = 0; j < P; j++) g[j] = 0;
    for (int64_t q = r0; q < r0 + pf->ahead; q++)
        GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, q);
    *stopped = 0;
    if (K == 1) return GD_SFX(block_grad_k1)(cfg, X, d, y, sw, order, r0, r1, pf, th, g, stopped);
    if (K <= GD_K4_MAX)
        return GD_SFX(block_grad_k4)(cfg, X, d, y, sw, order, r0, r1, pf, th, g, stopped);
    for (int64_t r = r0; r < r1; r++) {
        /* a pending interrupt is seen at the first row of every block, then every 1024 rows */
        if (cfg->interruptible && (r == r0 || (r & 1023) == 0) && gd_interrupt_pending()) {
            *stopped = 1;
            break;
        }
        const int64_t i = order ? order[r] : r;
        const GD_T *x = X + i * d;
        GD_SFX(prefetch_ahead)(X, d, y, sw, order, pf, r + pf->ahead);
        for (int64_t k = 0; k < K; k++) z[k] = GD_SFX(dot)(x, th + k * d, d) + th[n_coef + k];
        const GD_T wi = sw ? sw[i] : (GD_T)1;
        const GD_T li = GD_SFX(row_loss_dz)(cfg, z, K, y[i], eps);
        lsum += (double)(wi * li);
        for (int64_t k = 0; k < K; k++) {
            const GD_T a = wi * z[k];
            if (a == 0) continue;
            GD_T *gk = g + k * d;
#pragma omp simd
            for (int64_t j = 0; j < d; j++) gk[j] += a * x[j];
            g[n_coef + k] += a;
        }
    }
    return lsum;
}

/* Template over GD_T (gd_each_type.h): the kernels beside the fit, gd_all_finite_* (the input
 * check) and gd_decision_dense_* (decision values), each one read of its input on up to
 * n_threads threads. */

#ifndef GD_FINITE_BLOCK     /* (once, not per type) */
/* Entries per block of the finite check (gd_all_finite), 512 KiB of doubles. */
#define GD_FINITE_BLOCK ((int64_t)1 << 16)
/* Rows per block of gd_decision_dense (threads take contiguous ranges of blocks). */
#define GD_DECISION_ROWS 256
#endif

/* 1 when the n entries of x are all finite.  x - x is +0 for a finite x and NaN for NaN or an
 * infinity, so the sum of those is 0 exactly when all are finite; unlike a sum of the values
 * it cannot overflow.  One sequential read: threads take contiguous ranges of fixed blocks. */
GD_HOT static int GD_SFX(finite_range)(const GD_T *x, int64_t n) {
    GD_T acc[GD_LANES] = {0};
    int64_t j = 0;
    for (; j + GD_LANES <= n; j += GD_LANES) {
#pragma omp simd
        for (int l = 0; l < GD_LANES; l++) acc[l] += x[j + l] - x[j + l];
    }
    GD_T s = 0;
    for (; j < n; j++) s += x[j] - x[j];
    for (int l = 0; l < GD_LANES; l++) s += acc[l];
    return s == 0;
}

int GD_SFX(gd_all_finite)(const GD_T *x, int64_t n, int n_threads) {
    if (n < 0 || (n > 0 && !x) || n_threads < 1) return GD_ERR_ARGUMENT;
    const int64_t nblk = (n + GD_FINITE_BLOCK - 1) / GD_FINITE_BLOCK;
    int bad = 0;
    if (nblk > 1 && threads_pay(n_threads, n, GD_AUX_MIN_WORK)) {
        gd_mark_parallel_used();
#pragma omp parallel for num_threads(n_threads) schedule(static) reduction(| : bad)
        for (int64_t b = 0; b < nblk; b++) {
            const int64_t j0 = b * GD_FINITE_BLOCK;
            const int64_t len = n - j0 < GD_FINITE_BLOCK ? n - j0 : GD_FINITE_BLOCK;
            bad |= !GD_SFX(finite_range)(x + j0, len);
        }
    } else {
        bad = n > 0 && !GD_SFX(finite_range)(x, n);
    }
    return bad ? 0 : 1;
}

/* Decision values z[i K + k] = x_i . w_k + b_k of rows r0..r1 (theta laid out as the kernels'
 * parameters: K rows of d coefficients, then the K intercepts). */
GD_HOT static void GD_SFX(decision_rows)(const GD_T *X, int64_t d, int64_t K, const GD_T *th,
                                         int64_t r0, int64_t r1, GD_T *z) {
    for (int64_t i = r0; i < r1; i++)
        for (int64_t k = 0; k < K; k++)
            z[i * K + k] = GD_SFX(dot)(X + i * d, th + k * d, d) + th[K * d + k];
}

int GD_SFX(gd_decision_dense)(const GD_T *X, int64_t n, int64_t d, int64_t K,
                              const GD_T *theta, GD_T *z, int n_threads) {
    if (n < 0 || d < 1 || K < 1 || n_threads < 1 || (n > 0 && (!X || !theta || !z)))
        return GD_ERR_ARGUMENT;
    const int64_t nblk = (n + GD_DECISION_ROWS - 1) / GD_DECISION_ROWS;
    if (nblk > 1 && threads_pay(n_threads, n * d * K, GD_AUX_MIN_WORK)) {
        gd_mark_parallel_used();
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int64_t b = 0; b < nblk; b++) {
            const int64_t r0 = b * GD_DECISION_ROWS;
            const int64_t r1 = n - r0 < GD_DECISION_ROWS ? n : r0 + GD_DECISION_ROWS;
            GD_SFX(decision_rows)(X, d, K, theta, r0, r1, z);
        }
    } else {
        GD_SFX(decision_rows)(X, d, K, theta, 0, n, z);
    }
    return GD_OK;
}

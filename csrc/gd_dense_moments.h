/* Template over GD_T (gd_each_type.h): the weighted column moments of dense rows, and with
 * them the gradient at coefficients zero, gd_dense_moments_* (see gdfast.h), for the L-BFGS
 * preconditioner and its first evaluation (src/gdfast/_lbfgs.py): one read of X where numpy's
 * column sums, einsum of squares and product with the derivatives made three. */

#ifndef GD_DENSE_MOMENTS_MAX_BLOCKS     /* (once, not per type) */
/* Fixed blocks of rows, as gd_csr_moments': a power of two (so 2, 4 or 8 threads share them
 * evenly), one per 2^16 entries, at most 8, and at most 64 MiB of two planes' partial sums
 * beside the first block's (which sums into the output); not a function of K, so that the
 * moments have the same bits with the residual planes and without. */
#define GD_DENSE_MOMENTS_MAX_BLOCKS 8
#define GD_DENSE_MOMENTS_BLOCK_ENTRIES ((int64_t)1 << 16)
#define GD_DENSE_MOMENTS_WORK_BYTES ((int64_t)64 << 20)
static inline int64_t dense_moments_nb(int64_t n, int64_t d) {
    int64_t nb = 1;
    while (2 * nb <= GD_DENSE_MOMENTS_MAX_BLOCKS && 2 * nb <= n &&
           2 * nb * GD_DENSE_MOMENTS_BLOCK_ENTRIES <= n * d &&
           (2 * nb - 1) * 2 * d * (int64_t)sizeof(double) <= GD_DENSE_MOMENTS_WORK_BYTES)
        nb *= 2;
    return nb;
}
#endif

/* Rows r0..r1 into m[(2 + K) d] (zeroed here): m[j] += sw_i x_ij, m[d + j] += sw_i x_ij^2,
 * m[(2 + k) d + j] += R_ik x_ij, in float64, row by row (each row's update runs along j: it
 * vectorizes). */
GD_HOT static void GD_SFX(dense_moments_rows)(const GD_T *X, int64_t d, const GD_T *sw,
                                              const double *R, int64_t K, int64_t r0,
                                              int64_t r1, double *m) {
    memset(m, 0, (size_t)((2 + K) * d) * sizeof(double));
    double *restrict s1 = m, *restrict s2 = m + d;
    for (int64_t i = r0; i < r1; i++) {
        const GD_T *restrict x = X + i * d;
        const double w = sw ? (double)sw[i] : 1.0;
#pragma omp simd
        for (int64_t j = 0; j < d; j++) {
            const double v = (double)x[j], wv = w * v;
            s1[j] += wv;
            s2[j] += wv * v;
        }
        for (int64_t k = 0; k < K; k++) {
            double *restrict g = m + (2 + k) * d;
            const double r = R[i * K + k];
#pragma omp simd
            for (int64_t j = 0; j < d; j++) g[j] += r * (double)x[j];
        }
    }
}

/* Thread tid of T: its blocks (b = tid, tid + T, ...), then, after all the blocks, the sums in
 * block order over its share of the entries. */
static void GD_SFX(dense_moments_team)(const GD_T *X, int64_t n, int64_t d, const GD_T *sw,
                                       const double *R, int64_t K, int64_t nb, double *out,
                                       double *work, int tid, int T) {
    const int64_t len = (2 + K) * d;
    for (int64_t b = tid; b < nb; b += T)
        GD_SFX(dense_moments_rows)(X, d, sw, R, K, (n * b) / nb, (n * (b + 1)) / nb,
                                   b == 0 ? out : work + (b - 1) * len);
    if (T > 1) { GD_BARRIER }
    gd_add_block_sums(out, work, nb, len, tid, T);
}

int GD_SFX(gd_dense_moments)(const GD_T *X, int64_t n, int64_t d, const GD_T *sw,
                             const double *R, int64_t K, double *out, double *work,
                             int64_t work_len, int n_threads) {
    if (n < 1 || d < 1 || K < 0 || (K > 0 && !R) || n_threads < 1 || !X || !out)
        return GD_ERR_ARGUMENT;
    const int64_t nb = dense_moments_nb(n, d);
    if (work_len < (nb - 1) * (2 + K) * d || (nb > 1 && !work)) return GD_ERR_ARGUMENT;
    const int nth = n_threads < nb ? n_threads : (int)nb;
    if (threads_pay(nth, n * d, GD_AUX_MIN_WORK)) {
        gd_mark_parallel_used();
#pragma omp parallel num_threads(nth)
        GD_SFX(dense_moments_team)(X, n, d, sw, R, K, nb, out, work, gd_thread_num(),
                                   gd_num_threads());
    } else {
        GD_SFX(dense_moments_team)(X, n, d, sw, R, K, nb, out, work, 0, 1);
    }
    return GD_OK;
}

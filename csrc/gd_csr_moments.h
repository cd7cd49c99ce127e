/* Template over GD_T and GD_I (gd_each_index.h): the weighted column moments of CSR rows,
 * gd_csr_moments_* (see gdfast.h), for the L-BFGS preconditioner (src/gdfast/_lbfgs.py). */

/* A block's sums beyond this many bytes outgrow a core's share of the cache: moments_rows
 * then prefetches.  Below it the sums stay in the cache and the prefetches are only more
 * instructions (the measurements: benchmarks/RESULTS.md, the column moments' prefetch). */
#ifndef GD_MOMENTS_PREFETCH_BYTES
#define GD_MOMENTS_PREFETCH_BYTES ((int64_t)4 << 20)
#endif

/* Rows r0..r1 into m[2 d] (zeroed here): m[2 j] += sw_i x_ij, m[2 j + 1] += sw_i x_ij^2, in
 * float64, row by row.  The pair of a column shares a cache line: one random access an entry.
 * Where the sums outgrow the cache, the lines of the row GD_CSR_GATHER_AHEAD rows ahead are
 * prefetched, as the gradient's scatter does (gd_csr_block.h): misses the hardware cannot
 * foresee; the arithmetic is untouched (same bits). */
static void GD_ISFX(moments_rows)(const GD_T *data, const GD_I *ind, const GD_I *ptr,
                                  int64_t d, const GD_T *sw, int64_t r0, int64_t r1, double *m) {
    memset(m, 0, (size_t)(2 * d) * sizeof(double));
    const int pf = 2 * d * (int64_t)sizeof(double) > GD_MOMENTS_PREFETCH_BYTES;
    for (int64_t i = r0; i < r1; i++) {
        if (pf && i + GD_CSR_GATHER_AHEAD < r1) {
            const int64_t a1 = (int64_t)ptr[i + GD_CSR_GATHER_AHEAD + 1];
            for (int64_t e = (int64_t)ptr[i + GD_CSR_GATHER_AHEAD]; e < a1; e++)
                GD_PREFETCH_W(m + 2 * (int64_t)ind[e]);
        }
        const double w = sw ? (double)sw[i] : 1.0;
        for (int64_t e = (int64_t)ptr[i]; e < (int64_t)ptr[i + 1]; e++) {
            const double x = (double)data[e], wx = w * x;
            double *mj = m + 2 * (int64_t)ind[e];
            mj[0] += wx;
            mj[1] += wx * x;
        }
    }
}

/* Thread tid of T: its blocks (b = tid, tid + T, ...), then, after all the blocks, the sums in
 * block order over its share of the entries. */
static void GD_ISFX(moments_team)(const GD_T *data, const GD_I *ind, const GD_I *ptr, int64_t n,
                                  int64_t d, const GD_T *sw, int64_t nb, double *out,
                                  double *work, int tid, int T) {
    for (int64_t b = tid; b < nb; b += T)
        GD_ISFX(moments_rows)(data, ind, ptr, d, sw, (n * b) / nb, (n * (b + 1)) / nb,
                              b == 0 ? out : work + (b - 1) * 2 * d);
    if (T > 1) { GD_BARRIER }
    gd_add_block_sums(out, work, nb, 2 * d, tid, T);
}

int GD_PUB(gd_csr_moments)(const GD_T *data, const GD_I *indices, const GD_I *indptr, int64_t n,
                           int64_t d, const GD_T *sw, double *out, double *work,
                           int64_t work_len, int n_threads) {
    if (n < 1 || d < 1 || n_threads < 1 || !out) return GD_ERR_ARGUMENT;
    const int64_t nnz = (int64_t)indptr[n];
    const int64_t nb = gd_moments_blocks(n, nnz, d);
    if (work_len < (nb - 1) * 2 * d || (nb > 1 && !work)) return GD_ERR_ARGUMENT;
    const int nth = n_threads < nb ? n_threads : (int)nb;
    if (threads_pay(nth, nnz, GD_MOMENTS_MIN_PARALLEL)) {
        gd_mark_parallel_used();
#pragma omp parallel num_threads(nth)
        GD_ISFX(moments_team)(data, indices, indptr, n, d, sw, nb, out, work, gd_thread_num(),
                              gd_num_threads());
    } else {
        GD_ISFX(moments_team)(data, indices, indptr, n, d, sw, nb, out, work, 0, 1);
    }
    return GD_OK;
}

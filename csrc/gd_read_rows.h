/* Template over GD_T (gd_each_type.h): gd_read_rows_dense_*, the read probe of gd_testing.h. */

#ifndef GD_READ_ROWS        /* (once, not per type) */
/* Positions per chunk of gd_read_rows_dense's partial sums (threads take contiguous ranges of
 * chunks, and the chunks are summed in order, so the sums do not depend on n_threads). */
#define GD_READ_ROWS 4096

/* Values between two chunks' partials in gd_read_rows_dense's work: d rounded up to 16, whole
 * cache lines for either dtype, so threads summing neighbouring chunks do not share a line. */
static inline int64_t gd_read_rows_stride(int64_t d) { return (d + 15) / 16 * 16; }
#endif

/* Column sums of the rows at positions q0..q1 of order (NULL: rows in order; q0 a multiple of
 * GD_READ_ROWS) into the chunk partials part[(q / GD_READ_ROWS) * stride ..] (zeroed here),
 * prefetching pf_ahead positions ahead up to position q1, the end of the thread's range, as
 * block_grad's row stream does.  An index outside [0, n) is skipped and reported (returns 1). */
GD_HOT static int GD_SFX(read_range)(const GD_T *X, int64_t n, int64_t d, const int64_t *order,
                                     int64_t q0, int64_t q1, int64_t pf_ahead, int64_t stride,
                                     GD_T *part) {
    int bad = 0;
    for (int64_t q = q0; q < q0 + pf_ahead && q < q1; q++) {
        const int64_t i = order ? order[q] : q;
        if ((uint64_t)i < (uint64_t)n) GD_SFX(prefetch_row)(X + i * d, d);
    }
    for (int64_t c = q0 / GD_READ_ROWS; c * GD_READ_ROWS < q1; c++) {   /* q0: a chunk's start */
        const int64_t c0 = c * GD_READ_ROWS;
        const int64_t c1 = c0 + GD_READ_ROWS < q1 ? c0 + GD_READ_ROWS : q1;
        GD_T *acc = part + c * stride;
        for (int64_t j = 0; j < d; j++) acc[j] = 0;
        for (int64_t q = c0; q < c1; q++) {
            if (q + pf_ahead < q1) {
                const int64_t k = order ? order[q + pf_ahead] : q + pf_ahead;
                if ((uint64_t)k < (uint64_t)n) GD_SFX(prefetch_row)(X + k * d, d);
            }
            const int64_t i = order ? order[q] : q;
            if ((uint64_t)i >= (uint64_t)n) {
                bad = 1;
                continue;
            }
            const GD_T *x = X + i * d;
#pragma omp simd
            for (int64_t j = 0; j < d; j++) acc[j] += x[j];
        }
    }
    return bad;
}

int GD_SFX(gd_read_rows_dense)(const GD_T *X, int64_t n, int64_t d, const int64_t *order,
                               int64_t m, GD_T *sums, GD_T *work, int n_threads) {
    if (n < 0 || d < 1 || m < 0 || n_threads < 1 || (n > 0 && !X) || (m > 0 && !work) ||
        !sums || (!order && m > n))
        return GD_ERR_ARGUMENT;
    const int64_t nch = (m + GD_READ_ROWS - 1) / GD_READ_ROWS;
    const int64_t stride = gd_read_rows_stride(d);
    const int64_t pf_ahead = gd_pf_ahead(d * (int64_t)sizeof(GD_T));
    int bad = 0;
    if (nch > 1 && threads_pay(n_threads, m * d, GD_AUX_MIN_WORK)) {
        gd_mark_parallel_used();
#pragma omp parallel num_threads(n_threads < nch ? n_threads : (int)nch) reduction(| : bad)
        {
            /* contiguous ranges of whole chunks: one prefetch stream per thread */
            const int t = gd_thread_num(), T = gd_num_threads();
            const int64_t q0 = nch * t / T * GD_READ_ROWS;
            const int64_t q1 = nch * (t + 1) / T * GD_READ_ROWS < m
                                   ? nch * (t + 1) / T * GD_READ_ROWS : m;
            if (q0 < q1)
                bad |= GD_SFX(read_range)(X, n, d, order, q0, q1, pf_ahead, stride, work);
        }
    } else if (m > 0) {
        bad = GD_SFX(read_range)(X, n, d, order, 0, m, pf_ahead, stride, work);
    }
    for (int64_t j = 0; j < d; j++) sums[j] = 0;
    for (int64_t c = 0; c < nch; c++)                   /* the chunks in order */
        for (int64_t j = 0; j < d; j++) sums[j] += work[c * stride + j];
    return bad ? GD_ERR_ARGUMENT : GD_OK;
}

/* The last step of the column-moment kernels (gd_csr_moments, gd_dense_moments): the partial
 * sums of nb fixed blocks of rows added in block order, each thread over its own share of the
 * entries, so that the sums do not depend on the thread count. */
#ifndef GD_BLOCK_SUMS_H
#define GD_BLOCK_SUMS_H
#include <stdint.h>

/* out[j] += work[(b - 1) len + j] for b = 1 .. nb - 1 (block 0 summed into out itself), for
 * the entries j of thread tid's share of len among T threads. */
static inline void gd_add_block_sums(double *out, const double *work, int64_t nb, int64_t len,
                                     int tid, int T) {
    const int64_t j0 = (len * tid) / T, j1 = (len * (tid + 1)) / T;
    for (int64_t b = 1; b < nb; b++) {
        const double *p = work + (b - 1) * len;
        for (int64_t j = j0; j < j1; j++) out[j] += p[j];
    }
}
#endif

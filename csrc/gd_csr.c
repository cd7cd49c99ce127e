/* CSR epochs and gradients, for float and double and int32 or int64 indices: gd_epoch_csr_*,
 * gd_grad_csr_* and gd_csr_work_bytes.  Which path an epoch takes, and the sparse (O(nnz) per
 * step) path; the block path is gd_block.c's (gd_block_path.h). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "gdfast.h"
#include "gd_block_sums.h"
#include "gd_compiler.h"
#include "gd_config.h"
#include "gd_csr_mpow.h"
#include "gd_csr_sparse.h"
#include "gd_layout.h"
#include "gd_math.h"
#include "gd_omp.h"
#include "gd_prefetch.h"
#include "gd_runtime.h"

int64_t gd_csr_work_bytes(const gd_config *cfg, int64_t d, int64_t batch_size, int n_threads) {
    if (d < 1 || batch_size < 1 || cfg->n_outputs < 1) return 0;
    const gd_sp_layout L = sp_layout(cfg->n_outputs, d, batch_size);
    /* alignment slack, the shared per-feature array aux[d], the interleaved coefficients,
     * the lazy average's sums, then the thread regions */
    return GD_LINE_BYTES + gd_line_up(d * 8) + sp_ilv_bytes(cfg, d) + sp_avg_bytes(cfg, d) +
           sp_n_threads(cfg, n_threads) * L.stride;
}

/* gd_csr_moments: fixed blocks of rows (never a function of the thread count, so neither are
 * the sums), a power of two so that 2, 4 or 8 threads share them evenly: one per 2^16 stored
 * entries, at most GD_MOMENTS_MAX_BLOCKS, and at most GD_MOMENTS_WORK_BYTES of partial sums
 * beside the first block's (which sums into the output): so 4 blocks at 2^20 features, where
 * more threads would not run. */
#define GD_MOMENTS_MAX_BLOCKS 8
#define GD_MOMENTS_BLOCK_NNZ (1 << 16)
#define GD_MOMENTS_WORK_BYTES ((int64_t)64 << 20)
#define GD_MOMENTS_MIN_PARALLEL (1 << 16)   /* stored entries */
static int64_t gd_moments_blocks(int64_t n, int64_t nnz, int64_t d) {
    int64_t nb = 1;
    while (2 * nb <= GD_MOMENTS_MAX_BLOCKS && 2 * nb <= n && 2 * nb * GD_MOMENTS_BLOCK_NNZ <= nnz &&
           (2 * nb - 1) * 2 * d * (int64_t)sizeof(double) <= GD_MOMENTS_WORK_BYTES)
        nb *= 2;
    return nb;
}

int64_t gd_csr_moments_work_len(int64_t n, int64_t nnz, int64_t d) {
    if (n < 1 || d < 1 || nnz < 0) return 0;
    return (gd_moments_blocks(n, nnz, d) - 1) * 2 * d;
}

int64_t gd_grad_csr_rowbuf_len(const gd_config *cfg, int64_t d, int64_t itemsize,
                               int n_threads) {
    const int64_t K = cfg->n_outputs;
    if (K < 1 || d < 1 || itemsize < 1 || n_threads < 1 || d * itemsize < GD_CSR_GATHER_MIN_BYTES)
        return 0;
    int64_t rows = GD_CSR_TWO_PASS_BYTES / (K * itemsize);
    if (rows < GD_CSR_TWO_PASS_MIN_ROWS) rows = GD_CSR_TWO_PASS_MIN_ROWS;
    return (int64_t)n_threads * rows * K;
}

#define GD_TEMPLATE "gd_loss.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_rules.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_block_path.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_csr_ilv.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_csr_catch_up.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_each_index.h"
#define GD_ITEMPLATE "gd_csr_batch.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_each_index.h"
#define GD_ITEMPLATE "gd_csr_sgd.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_each_index.h"
#define GD_ITEMPLATE "gd_csr_momentum.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_each_index.h"
#define GD_ITEMPLATE "gd_csr_lazy.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_each_index.h"
#define GD_ITEMPLATE "gd_csr_epoch.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_each_index.h"
#define GD_ITEMPLATE "gd_csr_moments.h"
#include "gd_each_type.h"

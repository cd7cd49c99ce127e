/* CSR epochs and gradients, for float and double and int32 or int64 indices: gd_epoch_csr_*,
 * gd_grad_csr_* and gd_csr_work_bytes.  Which path an epoch takes, and the sparse (O(nnz) per
 * step) path; the block path is gd_block.c's (gd_block_path.h). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "gdfast.h"
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
     * then the thread regions */
    return GD_LINE_BYTES + gd_line_up(d * 8) + sp_ilv_bytes(cfg, d) +
           sp_n_threads(cfg, n_threads) * L.stride;
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

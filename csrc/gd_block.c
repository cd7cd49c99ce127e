/* The block path, for float and double: partial gradients of fixed blocks of rows (dense rows,
 * and the CSR rows of gd_epoch_csr_* and gd_grad_csr_* when they take this path), summed in
 * block order, and the optimizer step on the dense parameters.  gd_grad_dense_*, gd_update_*,
 * gd_epoch_dense_*, gd_epoch_dense_shuffled_*, and the kernels beside the fit,
 * gd_all_finite_*, gd_decision_dense_* and gd_dense_moments_*. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "gdfast.h"
#include "gd_block_sums.h"
#include "gd_compiler.h"
#include "gd_config.h"
#include "gd_layout.h"
#include "gd_math.h"
#include "gd_omp.h"
#include "gd_prefetch.h"
#include "gd_runtime.h"
#include "gd_share.h"
#include "gd_shuffle.h"

#define GD_TEMPLATE "gd_loss.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_rules.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_dense_rows.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_dense_block.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_each_index.h"
#define GD_ITEMPLATE "gd_csr_block.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_reduce.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_block_path.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_grad.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_update.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_dense_sgd.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_epoch.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_aux.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_dense_moments.h"
#include "gd_each_type.h"

int64_t gd_dense_moments_blocks(int64_t n, int64_t d) {
    return n < 1 || d < 1 ? 0 : dense_moments_nb(n, d);
}

int64_t gd_dense_moments_work_len(int64_t n, int64_t d, int64_t K) {
    if (n < 1 || d < 1 || K < 0) return 0;
    return (dense_moments_nb(n, d) - 1) * (2 + K) * d;
}

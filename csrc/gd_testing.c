/* Test and benchmark hooks (gd_testing.h), linked into gdfast._testing only. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "gdfast.h"
#include "gd_testing.h"
#include "gd_compiler.h"
#include "gd_config.h"
#include "gd_layout.h"
#include "gd_math.h"
#include "gd_omp.h"
#include "gd_prefetch.h"
#include "gd_runtime.h"
#include "gd_share.h"
#include "gd_shuffle.h"

#define GD_TEMPLATE "gd_dense_rows.h"
#include "gd_each_type.h"
#define GD_TEMPLATE "gd_read_rows.h"
#include "gd_each_type.h"

int64_t gd_read_rows_work(int64_t m, int64_t d) {
    return m > 0 && d > 0 ? (m + GD_READ_ROWS - 1) / GD_READ_ROWS * gd_read_rows_stride(d) : 0;
}

void gd_mul_check(int portable, const uint64_t *a, const uint64_t *b, uint64_t *hi,
                  uint64_t *lo, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        hi[i] = portable ? gd_mul_hi_lo_portable(a[i], b[i], &lo[i])
                         : gd_mul_hi_lo(a[i], b[i], &lo[i]);
}

void gd_share_learn(const double *busy, const int64_t *rows, int nth, double *est, double *cum) {
    share_learn(busy, rows, nth, est, cum);
}

void gd_share_bounds(const double *cum, int nth, int64_t nb, int64_t *bound) {
    share_bounds(cum, nth, nb, bound);
}

/* (cloned as the kernels are, so that the tests check the code this CPU runs) */
GD_HOT void gd_math_check(int which, const double *x, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double ns;
        out[i] = which == 0 ? gd_exp_nonpos(x[i])
               : which == 1 ? gd_log1p_unit(x[i])
               : which == 2 ? gd_logistic(x[i], &ns)
               : which == 3 ? (gd_logistic(x[i], &ns), ns)
               : NAN;
    }
}

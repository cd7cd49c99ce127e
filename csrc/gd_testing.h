/* Test and benchmark hooks of the kernels (gd_testing.c), for gdfast._testing only: not part of
 * the API of gdfast.h. */
#ifndef GD_TESTING_H
#define GD_TESTING_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sums[j] = the sum over positions q < m of X[order[q]][j] (order NULL: rows 0..m-1), m <= n
 * without an order.  A read probe: each thread takes one contiguous range of the positions and
 * prefetches its rows along it as block_grad does (gd_pf_ahead), and nothing is computed but
 * the sums, so its time is what reading X's rows along that order costs on this machine, a
 * lower bound for an epoch over that order (which also reads y, and meets once a batch).
 * benchmarks/peers.py times it as the read floor of a shuffled epoch.  The positions are
 * summed in chunks of GD_READ_ROWS into work[gd_read_rows_work(m, d)], then the chunks in
 * order: the sums do not depend on n_threads.  GD_ERR_ARGUMENT for bad arguments, or for an
 * index outside [0, n) (skipped; the sums then omit it). */
int gd_read_rows_dense_f64(const double *X, int64_t n, int64_t d, const int64_t *order,
                           int64_t m, double *sums, double *work, int n_threads);
int gd_read_rows_dense_f32(const float *X, int64_t n, int64_t d, const int64_t *order,
                           int64_t m, float *sums, float *work, int n_threads);
int64_t gd_read_rows_work(int64_t m, int64_t d);      /* work's length, in values */

/* hi[i] and lo[i], the halves of the 128-bit product a[i] * b[i], by the portable
 * 32-bit-halves code (portable = 1) or by the one gd_permutation uses (0). */
void gd_mul_check(int portable, const uint64_t *a, const uint64_t *b, uint64_t *hi,
                  uint64_t *lo, int64_t n);

/* How the replicated-step epoch shares a batch's blocks between threads that run at different
 * speeds (gd_share.h).  gd_share_learn folds one batch's busy times busy[t] (any unit; over
 * rows[t] rows) into per-row estimates est[nth] (0: none yet) and sets cum[nth + 1], the
 * fraction of the rows before each thread's share, in proportion to the threads' speeds (the
 * even split until all are measured).  gd_share_bounds turns cum into the blocks
 * bound[t]..bound[t + 1] of a batch of nb blocks: at least one each when nb >= nth, the even
 * split otherwise. */
void gd_share_learn(const double *busy, const int64_t *rows, int nth, double *est, double *cum);
void gd_share_bounds(const double *cum, int nth, int64_t nb, int64_t *bound);

/* out[i] = f(x[i]) for the kernels' own math (gd_math.h), which = 0: exp(x) for x <= 0;
 * 1: log1p(x) for 0 <= x <= 1; 2: the logistic loss log(1 + exp(-x)) of a margin x; 3: its
 * derivative -1 / (1 + exp(x)). */
void gd_math_check(int which, const double *x, double *out, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* GD_TESTING_H */

/*
 * gdfast native kernels: a small, stable C11 API (no Python.h).
 *
 * Conventions (after liblinear's linear.h):
 *   - every buffer is owned by the caller; kernels never allocate;
 *   - inputs first, then in/out state, then outputs, n_threads last;
 *   - kernels return GD_OK (0) or a named negative status;
 *   - each kernel exists as _f32 and _f64, written once (a template instantiated for both).
 *
 * Parameter layout.  A model with K outputs on d features keeps its parameters in one
 * flat vector theta of length P = K*(d+1): theta[k*d + j] is coef[k, j] and theta[K*d + k]
 * is intercept[k].  Optimizer state is n_state(optimizer) vectors of length P, stored
 * back to back, then with averaging (cfg->average_start > 0) the averaged parameters and
 * their compensation: gd_state_rows(cfg) vectors in all.  Penalties act on the first K*d
 * entries only (the intercept is never penalized).
 *
 * Determinism.  A batch of b rows is cut into nb = min(ceil(b / block_rows), max_blocks)
 * fixed blocks of consecutive positions; each block accumulates its own partial gradient
 * and loss, and the partials are summed in block order.  The block structure depends on
 * b, block_rows and max_blocks only, never on the thread count or the schedule, so every
 * result is bitwise identical for any n_threads.  An epoch on several threads whose parameters
 * fit one update chunk takes each optimizer step on a copy per thread (the same sums in the
 * same order on every thread, one meeting a batch); otherwise the threads share the step's
 * chunks between two barriers.  Both are the one-thread arithmetic.
 */
#ifndef GDFAST_H
#define GDFAST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Losses: p is the decision value, y the target (+1/-1 for binary classification,
 * the class index for multinomial). */
enum gd_loss {
    GD_LOSS_SQUARED = 0,             /* 1/2 (p - y)^2 */
    GD_LOSS_LOGISTIC = 1,            /* log(1 + exp(-y p)) */
    GD_LOSS_HINGE = 2,               /* max(0, 1 - y p) */
    GD_LOSS_SQUARED_HINGE = 3,       /* max(0, 1 - y p)^2 */
    GD_LOSS_MODIFIED_HUBER = 4,      /* (1 - yp)^2 on [-1, 1), -4 yp below, 0 above */
    GD_LOSS_HUBER = 5,               /* 1/2 r^2 if |r| <= eps else eps |r| - eps^2/2 */
    GD_LOSS_EPSILON_INSENSITIVE = 6, /* max(0, |p - y| - eps) */
    GD_LOSS_POISSON = 7,             /* exp(p) - y p (log link; the y-only terms are added by the caller) */
    GD_LOSS_MULTINOMIAL = 8          /* logsumexp(p) - p_y */
};

enum gd_optimizer {
    GD_OPT_SGD = 0,
    GD_OPT_MOMENTUM = 1,
    GD_OPT_NESTEROV = 2,
    GD_OPT_ADAGRAD = 3,
    GD_OPT_RMSPROP = 4,
    GD_OPT_ADAM = 5,
    GD_OPT_ADAMW = 6
};

/* Per-step learning-rate rules.  Per-epoch schedules (exponential, step, cosine, plateau)
 * are resolved by the caller into lr_epoch and use GD_SCHED_CONSTANT here. */
enum gd_schedule {
    GD_SCHED_CONSTANT = 0,   /* lr = lr_epoch */
    GD_SCHED_INVSCALING = 1, /* lr = lr_epoch / t^power_t */
    GD_SCHED_OPTIMAL = 2     /* lr = 1 / (alpha (t0 + t - 1)), Bottou's rule as in scikit-learn */
};

enum gd_status {
    GD_OK = 0,
    GD_ERR_NONFINITE = -1,   /* a batch loss or a parameter became NaN or inf */
    GD_ERR_ARGUMENT = -2,    /* an argument is out of range (a bug in the caller) */
    GD_INTERRUPTED = -3      /* an interrupt was requested (cfg->interruptible) */
};

typedef struct {
    /* problem */
    int loss;             /* GD_LOSS_* */
    int n_outputs;        /* K: 1, or the number of classes for multinomial */
    int fit_intercept;    /* 0: the K intercept entries are left as they are */
    double epsilon;       /* huber / epsilon_insensitive */
    /* optimizer */
    int optimizer;        /* GD_OPT_* */
    double momentum;      /* momentum, nesterov, rmsprop */
    double dampening;     /* momentum */
    double beta1, beta2;  /* adam, adamw */
    double eps;           /* adagrad, rmsprop, adam, adamw */
    double rho;           /* rmsprop smoothing (torch's alpha) */
    int centered;         /* rmsprop */
    int amsgrad;          /* adam, adamw */
    double l2;            /* alpha * (1 - l1_ratio): gradient term, or decoupled decay for adamw */
    double l1;            /* alpha * l1_ratio: proximal soft-threshold after each step */
    double clip_norm;     /* > 0: scale each batch gradient to at most this L2 norm (epoch) */
    int64_t average_start; /* > 0: Polyak-Ruppert averaging from step average_start on: two
                            * more state vectors after the optimizer's, the mean of the
                            * parameters after steps average_start..t and its compensation
                            * (the block path's dense step; on the sparse path plain SGD
                            * without L1 keeps it lazily during a call, other kinds take
                            * the block path) */
    /* per-step learning rate */
    int schedule;         /* GD_SCHED_* */
    double power_t;       /* invscaling */
    double opt_alpha;     /* optimal: the penalty strength alpha */
    double opt_t0;        /* optimal: t0 */
    /* parallel layout (see "Determinism" above) */
    int64_t block_rows;   /* rows per block, >= 1 */
    int64_t max_blocks;   /* blocks per batch at most, >= 1 */
    int64_t min_parallel_work; /* open threads only when batch_size * K * d reaches this; for
                                * an epoch over dense rows in order (no order given) whose
                                * parameters fit one update chunk, only as many as give each
                                * at least twice this of a batch: threads' shares of
                                * consecutive batches interleave, and on short shares each
                                * core's hardware prefetcher runs on into the other's rows,
                                * which made small in-order batches slower on two threads
                                * than on one (docs/design/dense-epochs.md, "Rows in order") */
    int share;            /* how an epoch whose threads each take the optimizer step shares a
                           * batch's blocks: GD_SHARE_MEASURED, by the threads' measured
                           * speeds; GD_SHARE_EVEN; GD_SHARE_SKEWED (for the tests), one
                           * block to thread 0 and to the last thread in turn.  The results
                           * are the same bits */
    int interruptible;    /* poll gd_interrupt_pending() between rows */
    /* sparse (CSR) epochs, see gd_epoch_csr_* */
    int sparse_updates;   /* GD_SPARSE_DENSE or GD_SPARSE_LAZY */
    int hogwild;          /* 1: lock-free threads over batches dealt round-robin (not reproducible) */
} gd_config;

/* Semantics of a sparse step for the adaptive optimizers (adagrad, rmsprop, adam, adamw).
 * DENSE: every coordinate takes every step, as on X.toarray() (O(d) per step).  LAZY: only the
 * coordinates of the features present in the batch's rows (and the intercepts) take the step:
 * their penalty term, moments and value; the others are left as they are (TensorFlow's
 * LazyAdam).  sgd, momentum and nesterov have the DENSE semantics in both modes, computed in
 * O(nnz) per step where a closed form exists (see gd_epoch_csr_*). */
enum gd_sparse_updates { GD_SPARSE_DENSE = 0, GD_SPARSE_LAZY = 1 };

/* gd_config.share (see there). */
enum gd_share { GD_SHARE_EVEN = 0, GD_SHARE_MEASURED = 1, GD_SHARE_SKEWED = 2 };

/* Number of optimizer state vectors of length P for an optimizer (0 to 3). */
int gd_n_state(int optimizer);
int gd_state_rows(const gd_config *cfg);   /* n_state, plus 2 with averaging */
/* The learning rate of step t (1-based) for the per-step rule in cfg. */
double gd_step_lr(const gd_config *cfg, double lr_epoch, int64_t t);
/* Size, in elements, of the work buffer the kernels need (any alignment of the element type):
 * max_blocks partial gradients of P + K entries, each rounded up to whole 64-byte cache lines so
 * that threads never write the same line, one entry per chunk of parameters (gradient
 * clipping), and room to start on a line boundary. */
int64_t gd_work_size(const gd_config *cfg, int64_t d);

/* 1 when built with OpenMP, else 0; and omp_get_max_threads() or 1. */
int gd_openmp_enabled(void);
int gd_max_threads(void);
/* 1 in a process forked after gdfast used OpenMP threads: kernels then run serially there,
 * because GNU libgomp's thread pool does not survive fork. */
int gd_in_forked_child(void);

/* SIGINT while a kernel runs (see gd_runtime.c): install a handler that records the request
 * and chains to the previous one; kernels with cfg->interruptible stop at the next row check
 * and return GD_INTERRUPTED.  Install/restore nest and must be serialized by the caller. */
int gd_interrupt_install(void);
void gd_interrupt_restore(void);
int gd_interrupt_pending(void);
void gd_interrupt_clear(void);

/* 1 when the n values x[0..n) are all finite, 0 when one is NaN or infinite (GD_ERR_ARGUMENT
 * for bad arguments).  One read of x on up to n_threads threads, no temporary: the input check
 * of gdfast.fit, so that it does not wake another library's thread pool (a BLAS call would). */
int gd_all_finite_f64(const double *x, int64_t n, int n_threads);
int gd_all_finite_f32(const float *x, int64_t n, int n_threads);

/* The weighted column moments of the n rows of a C-contiguous X (n x d) and, beside them, the
 * sums of the columns weighted by K given values a row, in float64, as P = 2 + K planes of d:
 * out[j] = sum_i sw_i x_ij, out[d + j] = sum_i sw_i x_ij^2 (sw NULL: all ones) and
 * out[(2 + k) d + j] = sum_i R[i K + k] x_ij (R: n x K, row-major; NULL when K is 0; with
 * the loss derivatives at coefficients zero, n times the gradient there).  Each sum runs over
 * fixed blocks of rows (row order within a block, then block order), so the same bits for
 * every n_threads and every K.  One read of X; work: gd_dense_moments_work_len(n, d, K)
 * doubles (partial sums of the blocks after the first), NULL when that is 0. */
int64_t gd_dense_moments_blocks(int64_t n, int64_t d);
int64_t gd_dense_moments_work_len(int64_t n, int64_t d, int64_t K);
int gd_dense_moments_f64(const double *X, int64_t n, int64_t d, const double *sw,
                         const double *R, int64_t K, double *out, double *work,
                         int64_t work_len, int n_threads);
int gd_dense_moments_f32(const float *X, int64_t n, int64_t d, const float *sw,
                         const double *R, int64_t K, double *out, double *work,
                         int64_t work_len, int n_threads);

/* Decision values z[i * K + k] = X[i] . theta[k*d .. k*d + d) + theta[K*d + k] of the n rows of
 * a C-contiguous X, rows split over up to n_threads threads (each value is one dot product in
 * a fixed order: the result does not depend on n_threads).  The validation loss of the
 * estimators' early stopping, without a BLAS call (see gd_all_finite). */
int gd_decision_dense_f64(const double *X, int64_t n, int64_t d, int64_t K, const double *theta,
                          double *z, int n_threads);
int gd_decision_dense_f32(const float *X, int64_t n, int64_t d, int64_t K, const float *theta,
                          float *z, int n_threads);

/* order[0..n) = a uniformly random permutation of 0..n-1: Durstenfeld's Fisher-Yates shuffle
 * in its forward form (the identity, then for i = 0..n-2 swap positions i and j, j uniform on
 * [i, n-1]), with j drawn by Lemire's multiply-and-reject (unbiased) from a SplitMix64 stream
 * started at seed.  The same seed gives the same permutation on every platform, and it is
 * drawn faster than numpy's Generator.permutation.  Returns GD_OK, or
 * GD_ERR_ARGUMENT for n < 0 or a NULL order with n > 0. */
int gd_permutation(int64_t *order, int64_t n, uint64_t seed);

/* The same permutation drawn a part at a time: gd_shuffle_init writes the identity into
 * order[n] and readies g; gd_shuffle_advance(g, order, k) fixes positions 0..k-1 (all n when
 * k >= n - 1), each one as gd_permutation(order, n, seed) puts it.  g is plain data
 * (GD_SHUFFLE_WORDS int64 words), so a caller can keep it across calls. */
#define GD_SHUFFLE_WORDS 20
typedef struct {
    int64_t n, next;        /* positions < next are fixed (all of them once next = n - 1) */
    uint64_t state;         /* SplitMix64 */
    int64_t unused;
    int64_t ring[16];       /* the swap partners of the next 16 steps, drawn early */
} gd_shuffle;
void gd_shuffle_init(gd_shuffle *g, int64_t *order, int64_t n, uint64_t seed);
void gd_shuffle_advance(gd_shuffle *g, int64_t *order, int64_t upto);
int gd_shuffle_valid(const gd_shuffle *g, int64_t n);   /* 1: g fits order[n] */

/* Batch gradient of the data term at theta over the rows rows[0..n_rows) of X (rows may be
 * NULL: rows 0..n_rows).  grad_out[P] = (1/n_rows) sum_i sw_i * dloss_i/dtheta (no penalty),
 * *loss_out = sum_i sw_i * loss_i (double).  sw may be NULL (all ones).  work: gd_work_size. */
int gd_grad_dense_f64(const gd_config *cfg, const double *X, int64_t n, int64_t d,
                      const double *y, const double *sw, const int64_t *rows, int64_t n_rows,
                      const double *theta, double *grad_out, double *loss_out, double *work,
                      int n_threads);
int gd_grad_dense_f32(const gd_config *cfg, const float *X, int64_t n, int64_t d,
                      const float *y, const float *sw, const int64_t *rows, int64_t n_rows,
                      const float *theta, float *grad_out, double *loss_out, float *work,
                      int n_threads);

/* One optimizer step t (1-based) with learning rate lr on theta[P] given the data gradient
 * grad[P]: L2 term (or AdamW's decoupled decay), the update rule, then the L1 prox.  The
 * first n_coef = K*d entries are penalized.  state: gd_state_rows(cfg) * P entries. */
int gd_update_f64(const gd_config *cfg, double *theta, const double *grad, double *state,
                  int64_t P, int64_t n_coef, int64_t t, double lr, int n_threads);
int gd_update_f32(const gd_config *cfg, float *theta, const float *grad, float *state,
                  int64_t P, int64_t n_coef, int64_t t, double lr, int n_threads);

/* The positions start..stop of one epoch's row order (order may be NULL: the identity), in
 * batches of batch_size counted from start: for each batch the gradient, then the update
 * (step *t + 1, learning rate gd_step_lr(cfg, lr_epoch, step)).  *t counts steps across calls.
 * *loss_out = sum over the rows of sw_i * loss_i, each row's loss taken at the parameters its
 * batch saw.  On GD_ERR_NONFINITE, *t is the step whose loss or update was not finite and
 * theta holds the parameters that step saw (its update is not applied).  On GD_INTERRUPTED,
 * *t counts the steps completed, which cover positions start .. start + (steps in this call)
 * * batch_size, and the epoch can be resumed from there.  With cfg->clip_norm > 0 each batch
 * gradient g is scaled by min(1, clip_norm / (||g|| + 1e-6)) as torch's clip_grad_norm_.
 * One parallel region for the whole call. */
int gd_epoch_dense_f64(const gd_config *cfg, const double *X, int64_t n, int64_t d,
                       const double *y, const double *sw, const int64_t *order,
                       int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                       double *theta, double *state, int64_t *t, double *work,
                       double *loss_out, int n_threads);
int gd_epoch_dense_f32(const gd_config *cfg, const float *X, int64_t n, int64_t d,
                       const float *y, const float *sw, const int64_t *order,
                       int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                       float *theta, float *state, int64_t *t, float *work,
                       double *loss_out, int n_threads);

/* gd_epoch_dense_* over a shuffled order that the epoch draws as it goes: order[n] and shuf
 * come from gd_shuffle_init (shuf->n == n), and the positions the epoch reads are fixed from
 * shuf as needed, so the epoch reads gd_permutation(n, seed)'s order.  Thread 0 fixes the
 * next batch's positions between its own rows (four at a time, one-output dense rows), where
 * their loads leave it idle (drawn up front, the shuffle took about 2 ms of a 16 ms epoch), and
 * what is left before the batch's meeting; the shared-step path (parameters over one chunk, or
 * no room for the replicated step) fixes the whole order first.  No thread reads a position
 * before it is fixed.  shuf and order are plain data: an interrupted call leaves them ready
 * for the call that resumes the epoch.  GD_ERR_ARGUMENT when shuf does not fit order[n]
 * (gd_shuffle_valid). */
int gd_epoch_dense_shuffled_f64(const gd_config *cfg, const double *X, int64_t n, int64_t d,
                                const double *y, const double *sw, int64_t *order,
                                gd_shuffle *shuf, int64_t start, int64_t stop,
                                int64_t batch_size, double lr_epoch, double *theta,
                                double *state, int64_t *t, double *work, double *loss_out,
                                int n_threads);
int gd_epoch_dense_shuffled_f32(const gd_config *cfg, const float *X, int64_t n, int64_t d,
                                const float *y, const float *sw, int64_t *order,
                                gd_shuffle *shuf, int64_t start, int64_t stop,
                                int64_t batch_size, double lr_epoch, float *theta,
                                float *state, int64_t *t, float *work, double *loss_out,
                                int n_threads);

/* ---- CSR data ------------------------------------------------------------------------------
 * X is given as SciPy's CSR arrays: data[nnz] (GD_T), indices[nnz] and indptr[n + 1] (int32_t
 * or int64_t, the _i32 / _i64 kernels), 0 <= indices < d, indptr non-decreasing from 0.
 * Indices within a row may be unsorted or repeated (repeats add up, as in X.toarray()).  The
 * caller validates all of this: the kernels trust it. */

/* gd_grad_dense on CSR data (same work buffer, same block structure).  rowbuf: room for the
 * rows' loss derivatives, gd_grad_csr_rowbuf_len(cfg, d, sizeof(T), n_threads) entries (0:
 * none needed; NULL is allowed and changes nothing but the speed): where the coefficients
 * outgrow the cache, the rows of each block are then read in two passes (the derivatives,
 * then the scatter), each with one vector of P hot, the same additions in the same order.
 * At all-zero coefficients the margins are taken to be the intercepts, which they are for
 * finite data (the caller's check). */
int64_t gd_grad_csr_rowbuf_len(const gd_config *cfg, int64_t d, int64_t itemsize,
                               int n_threads);
#define GD_DECLARE_CSR(T, TS, I, IS)                                                          \
    int gd_grad_csr_##TS##_##IS(const gd_config *cfg, const T *data, const I *indices,        \
                                const I *indptr, int64_t n, int64_t d, const T *y,             \
                                const T *sw, const int64_t *rows, int64_t n_rows,              \
                                const T *theta, T *grad_out, double *loss_out, T *work,        \
                                T *rowbuf, int64_t rowbuf_len, int n_threads);                 \
    int gd_epoch_csr_##TS##_##IS(const gd_config *cfg, const T *data, const I *indices,       \
                                 const I *indptr, int64_t n, int64_t d, const T *y,            \
                                 const T *sw, const int64_t *order, int64_t start,             \
                                 int64_t stop, int64_t batch_size, double lr_epoch, T *theta,  \
                                 T *state, int64_t *t, T *work, void *sparse_work,             \
                                 int64_t sparse_work_bytes, double *loss_out, int n_threads);
GD_DECLARE_CSR(double, f64, int32_t, i32)
GD_DECLARE_CSR(double, f64, int64_t, i64)
GD_DECLARE_CSR(float, f32, int32_t, i32)
GD_DECLARE_CSR(float, f32, int64_t, i64)
#undef GD_DECLARE_CSR
/* gd_epoch_csr_*: the contract of gd_epoch_dense_* on CSR data, plus:
 *   - Two paths.  The block path is gd_epoch_dense's (fixed blocks of dense partial gradients,
 *     parallel, O(nnz of the batch + P) per step).  The sparse path costs O(nnz of the batch)
 *     per step: plain SGD keeps the coefficients as w = s * u with a running scale s and a
 *     running L1 threshold (scikit-learn's WeightVector, with the L1 part exact); momentum and
 *     nesterov catch a feature up on the steps it skipped with the closed form (w, buf) <-
 *     M^k (w, buf) when it is next touched; the adaptive optimizers update the touched features
 *     only (GD_SPARSE_LAZY).  The sparse path is serial unless cfg->hogwild.  Which path runs
 *     depends on the configuration, the batch size and the data, never on n_threads; both give
 *     the DENSE results to rounding for sgd, momentum and nesterov.
 *   - cfg->hogwild: the batches of start..stop are dealt to the n_threads threads round-robin,
 *     and each thread runs the sparse path over its own batches on the shared parameters without
 *     locks (Niu et al., 2011).  Skipped steps are caught up at the learning rate of the step
 *     that catches them up.  Results depend on the thread timing.
 *   - sparse_work: gd_csr_work_bytes(cfg, d, batch_size, n_threads) bytes, any alignment. */
int64_t gd_csr_work_bytes(const gd_config *cfg, int64_t d, int64_t batch_size, int n_threads);

/* The weighted column moments of CSR rows, in float64: out[2 j] = sum_i sw_i x_ij and
 * out[2 j + 1] = sum_i sw_i x_ij^2 (sw NULL: all ones), each summed over fixed blocks of rows
 * (row order within a block, then block order), so the same bits for every n_threads.  One
 * pass over the entries (a column repeated in a row adds the square of each stored entry, not
 * of their sum); work: gd_csr_moments_work_len(n, nnz, d) doubles (partial sums of the blocks
 * after the first), NULL when that is 0. */
int64_t gd_csr_moments_work_len(int64_t n, int64_t nnz, int64_t d);
#define GD_DECLARE_MOMENTS(T, TS, I, IS)                                                      \
    int gd_csr_moments_##TS##_##IS(const T *data, const I *indices, const I *indptr,          \
                                   int64_t n, int64_t d, const T *sw, double *out,             \
                                   double *work, int64_t work_len, int n_threads);
GD_DECLARE_MOMENTS(double, f64, int32_t, i32)
GD_DECLARE_MOMENTS(double, f64, int64_t, i64)
GD_DECLARE_MOMENTS(float, f32, int32_t, i32)
GD_DECLARE_MOMENTS(float, f32, int64_t, i64)
#undef GD_DECLARE_MOMENTS

#ifdef __cplusplus
}
#endif
#endif /* GDFAST_H */

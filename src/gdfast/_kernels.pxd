# The C API of csrc/gdfast.h, for gdfast._kernels (_kernels.pyx, which sees these declarations
# without a cimport).  The codes are cpdef enums: _kernels exports each as a Python enum class
# (gd_loss, ...), from which it derives its names and tables of codes.
from libc.stdint cimport int32_t, int64_t, uint64_t

cdef extern from "gdfast.h" nogil:
    cpdef enum gd_loss:
        GD_LOSS_SQUARED
        GD_LOSS_LOGISTIC
        GD_LOSS_HINGE
        GD_LOSS_SQUARED_HINGE
        GD_LOSS_MODIFIED_HUBER
        GD_LOSS_HUBER
        GD_LOSS_EPSILON_INSENSITIVE
        GD_LOSS_POISSON
        GD_LOSS_MULTINOMIAL

    cpdef enum gd_optimizer:
        GD_OPT_SGD
        GD_OPT_MOMENTUM
        GD_OPT_NESTEROV
        GD_OPT_ADAGRAD
        GD_OPT_RMSPROP
        GD_OPT_ADAM
        GD_OPT_ADAMW

    cpdef enum gd_schedule:
        GD_SCHED_CONSTANT
        GD_SCHED_INVSCALING
        GD_SCHED_OPTIMAL

    cpdef enum gd_status:
        GD_OK
        GD_ERR_NONFINITE
        GD_ERR_ARGUMENT
        GD_INTERRUPTED

    cpdef enum gd_sparse_updates:
        GD_SPARSE_DENSE
        GD_SPARSE_LAZY

    cpdef enum gd_share:
        GD_SHARE_EVEN
        GD_SHARE_MEASURED
        GD_SHARE_SKEWED

    ctypedef struct gd_config:
        int loss
        int n_outputs
        int fit_intercept
        double epsilon
        int optimizer
        double momentum
        double dampening
        double beta1
        double beta2
        double eps
        double rho
        int centered
        int amsgrad
        double l2
        double l1
        double clip_norm
        int64_t average_start
        int schedule
        double power_t
        double opt_alpha
        double opt_t0
        int64_t block_rows
        int64_t max_blocks
        int64_t min_parallel_work
        int share
        int interruptible
        int sparse_updates
        int hogwild

    int gd_n_state(int optimizer)
    int gd_state_rows(const gd_config *cfg)
    double gd_step_lr(const gd_config *cfg, double lr_epoch, int64_t t)
    int64_t gd_work_size(const gd_config *cfg, int64_t d)
    int gd_openmp_enabled()
    int gd_max_threads()
    int gd_in_forked_child()
    int gd_interrupt_install()
    void gd_interrupt_restore()
    int gd_interrupt_pending()
    void gd_interrupt_clear()

    int gd_all_finite_f64(const double *x, int64_t n, int n_threads)
    int gd_all_finite_f32(const float *x, int64_t n, int n_threads)
    int64_t gd_dense_moments_blocks(int64_t n, int64_t d)
    int64_t gd_dense_moments_work_len(int64_t n, int64_t d, int64_t K)
    int gd_dense_moments_f64(const double *X, int64_t n, int64_t d, const double *sw,
                             const double *R, int64_t K, double *out, double *work,
                             int64_t work_len, int n_threads)
    int gd_dense_moments_f32(const float *X, int64_t n, int64_t d, const float *sw,
                             const double *R, int64_t K, double *out, double *work,
                             int64_t work_len, int n_threads)
    int gd_decision_dense_f64(const double *X, int64_t n, int64_t d, int64_t K,
                              const double *theta, double *z, int n_threads)
    int gd_decision_dense_f32(const float *X, int64_t n, int64_t d, int64_t K,
                              const float *theta, float *z, int n_threads)
    int gd_permutation(int64_t *order, int64_t n, uint64_t seed)
    ctypedef struct gd_shuffle:
        int64_t n
        int64_t next
    void gd_shuffle_init(gd_shuffle *g, int64_t *order, int64_t n, uint64_t seed)
    void gd_shuffle_advance(gd_shuffle *g, int64_t *order, int64_t upto)
    int gd_shuffle_valid(const gd_shuffle *g, int64_t n)
    int GD_SHUFFLE_WORDS
    int gd_grad_dense_f64(const gd_config *cfg, const double *X, int64_t n, int64_t d,
                          const double *y, const double *sw, const int64_t *rows, int64_t n_rows,
                          const double *theta, double *grad_out, double *loss_out, double *work,
                          int n_threads)
    int gd_grad_dense_f32(const gd_config *cfg, const float *X, int64_t n, int64_t d,
                          const float *y, const float *sw, const int64_t *rows, int64_t n_rows,
                          const float *theta, float *grad_out, double *loss_out, float *work,
                          int n_threads)
    int gd_update_f64(const gd_config *cfg, double *theta, const double *grad, double *state,
                      int64_t P, int64_t n_coef, int64_t t, double lr, int n_threads)
    int gd_update_f32(const gd_config *cfg, float *theta, const float *grad, float *state,
                      int64_t P, int64_t n_coef, int64_t t, double lr, int n_threads)
    int gd_epoch_dense_f64(const gd_config *cfg, const double *X, int64_t n, int64_t d,
                           const double *y, const double *sw, const int64_t *order,
                           int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                           double *theta, double *state, int64_t *t, double *work,
                           double *loss_out, int n_threads)
    int gd_epoch_dense_f32(const gd_config *cfg, const float *X, int64_t n, int64_t d,
                           const float *y, const float *sw, const int64_t *order,
                           int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                           float *theta, float *state, int64_t *t, float *work,
                           double *loss_out, int n_threads)
    int gd_epoch_dense_shuffled_f64(const gd_config *cfg, const double *X, int64_t n,
                                    int64_t d, const double *y, const double *sw,
                                    int64_t *order, gd_shuffle *shuf, int64_t start,
                                    int64_t stop, int64_t batch_size, double lr_epoch,
                                    double *theta, double *state, int64_t *t, double *work,
                                    double *loss_out, int n_threads)
    int gd_epoch_dense_shuffled_f32(const gd_config *cfg, const float *X, int64_t n,
                                    int64_t d, const float *y, const float *sw,
                                    int64_t *order, gd_shuffle *shuf, int64_t start,
                                    int64_t stop, int64_t batch_size, double lr_epoch,
                                    float *theta, float *state, int64_t *t, float *work,
                                    double *loss_out, int n_threads)
    int64_t gd_csr_work_bytes(const gd_config *cfg, int64_t d, int64_t batch_size, int n_threads)
    int64_t gd_grad_csr_rowbuf_len(const gd_config *cfg, int64_t d, int64_t itemsize,
                                   int n_threads)
    int64_t gd_csr_moments_work_len(int64_t n, int64_t nnz, int64_t d)
    int gd_csr_moments_f64_i32(const double *data, const int32_t *indices, const int32_t *indptr,
                               int64_t n, int64_t d, const double *sw, double *out,
                               double *work, int64_t work_len, int n_threads)
    int gd_csr_moments_f64_i64(const double *data, const int64_t *indices, const int64_t *indptr,
                               int64_t n, int64_t d, const double *sw, double *out,
                               double *work, int64_t work_len, int n_threads)
    int gd_csr_moments_f32_i32(const float *data, const int32_t *indices, const int32_t *indptr,
                               int64_t n, int64_t d, const float *sw, double *out,
                               double *work, int64_t work_len, int n_threads)
    int gd_csr_moments_f32_i64(const float *data, const int64_t *indices, const int64_t *indptr,
                               int64_t n, int64_t d, const float *sw, double *out,
                               double *work, int64_t work_len, int n_threads)
    int gd_grad_csr_f64_i32(const gd_config *cfg, const double *data, const int32_t *indices,
                            const int32_t *indptr, int64_t n, int64_t d, const double *y,
                            const double *sw, const int64_t *rows, int64_t n_rows,
                            const double *theta, double *grad_out, double *loss_out, double *work,
                            double *rowbuf, int64_t rowbuf_len, int n_threads)
    int gd_epoch_csr_f64_i32(const gd_config *cfg, const double *data, const int32_t *indices,
                             const int32_t *indptr, int64_t n, int64_t d, const double *y,
                             const double *sw, const int64_t *order, int64_t start,
                             int64_t stop, int64_t batch_size, double lr_epoch, double *theta,
                             double *state, int64_t *t, double *work, void *sparse_work,
                             int64_t sparse_work_bytes, double *loss_out, int n_threads)
    int gd_grad_csr_f64_i64(const gd_config *cfg, const double *data, const int64_t *indices,
                            const int64_t *indptr, int64_t n, int64_t d, const double *y,
                            const double *sw, const int64_t *rows, int64_t n_rows,
                            const double *theta, double *grad_out, double *loss_out, double *work,
                            double *rowbuf, int64_t rowbuf_len, int n_threads)
    int gd_epoch_csr_f64_i64(const gd_config *cfg, const double *data, const int64_t *indices,
                             const int64_t *indptr, int64_t n, int64_t d, const double *y,
                             const double *sw, const int64_t *order, int64_t start,
                             int64_t stop, int64_t batch_size, double lr_epoch, double *theta,
                             double *state, int64_t *t, double *work, void *sparse_work,
                             int64_t sparse_work_bytes, double *loss_out, int n_threads)
    int gd_grad_csr_f32_i32(const gd_config *cfg, const float *data, const int32_t *indices,
                            const int32_t *indptr, int64_t n, int64_t d, const float *y,
                            const float *sw, const int64_t *rows, int64_t n_rows,
                            const float *theta, float *grad_out, double *loss_out, float *work,
                            float *rowbuf, int64_t rowbuf_len, int n_threads)
    int gd_epoch_csr_f32_i32(const gd_config *cfg, const float *data, const int32_t *indices,
                             const int32_t *indptr, int64_t n, int64_t d, const float *y,
                             const float *sw, const int64_t *order, int64_t start,
                             int64_t stop, int64_t batch_size, double lr_epoch, float *theta,
                             float *state, int64_t *t, float *work, void *sparse_work,
                             int64_t sparse_work_bytes, double *loss_out, int n_threads)
    int gd_grad_csr_f32_i64(const gd_config *cfg, const float *data, const int64_t *indices,
                            const int64_t *indptr, int64_t n, int64_t d, const float *y,
                            const float *sw, const int64_t *rows, int64_t n_rows,
                            const float *theta, float *grad_out, double *loss_out, float *work,
                            float *rowbuf, int64_t rowbuf_len, int n_threads)
    int gd_epoch_csr_f32_i64(const gd_config *cfg, const float *data, const int64_t *indices,
                             const int64_t *indptr, int64_t n, int64_t d, const float *y,
                             const float *sw, const int64_t *order, int64_t start,
                             int64_t stop, int64_t batch_size, double lr_epoch, float *theta,
                             float *state, int64_t *t, float *work, void *sparse_work,
                             int64_t sparse_work_bytes, double *loss_out, int n_threads)

cdef extern from "gd_layout.h" nogil:
    # entries between two blocks' partial gradients in the work buffer (whole cache lines)
    int64_t gd_block_stride(int64_t P, int64_t K)

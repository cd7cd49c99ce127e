# The test and benchmark hooks of csrc/gd_testing.h, for gdfast._testing (_testing.pyx).
from libc.stdint cimport int64_t, uint64_t

cdef extern from "gd_testing.h" nogil:
    int gd_read_rows_dense_f64(const double *X, int64_t n, int64_t d, const int64_t *order,
                               int64_t m, double *sums, double *work, int n_threads)
    int gd_read_rows_dense_f32(const float *X, int64_t n, int64_t d, const int64_t *order,
                               int64_t m, float *sums, float *work, int n_threads)
    int64_t gd_read_rows_work(int64_t m, int64_t d)
    void gd_mul_check(int portable, const uint64_t *a, const uint64_t *b, uint64_t *hi,
                      uint64_t *lo, int64_t n)
    void gd_share_learn(const double *busy, const int64_t *rows, int nth, double *est,
                        double *cum)
    void gd_share_bounds(const double *cum, int nth, int64_t nb, int64_t *bound)
    void gd_math_check(int which, const double *x, double *out, int64_t n)

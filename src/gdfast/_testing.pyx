# cython: language_level=3
"""Test and benchmark hooks of the C kernels (csrc/gd_testing.h), kept out of gdfast._kernels:
the kernels' own math and 128-bit products, the epoch's thread balance, and the read probe
that benchmarks/peers.py times."""
from cython cimport floating
from libc.stdint cimport int64_t, uint64_t

import numpy as np

# (the C declarations are in _testing.pxd)


def read_rows(const floating[:, ::1] X, const int64_t[::1] order, int n_threads):
    """The column sums of X's rows at order (empty: all rows, in order), read with the
    epochs' row stream and prefetch and nothing else computed (gd_read_rows_dense): the read
    floor that benchmarks/peers.py times.  The same bits for any n_threads.  IndexError for
    an index outside [0, len(X)), ValueError for n_threads < 1."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef int64_t m = order.shape[0] if order.shape[0] > 0 else n
    cdef int status
    if n_threads < 1:
        raise ValueError(f"read_rows: n_threads must be >= 1, got {n_threads}")
    dtype = np.float64 if floating is double else np.float32
    sums = np.zeros(d, dtype=dtype)
    if d == 0 or m == 0:
        if order.shape[0] > 0 and (np.min(order) < 0 or np.max(order) >= n):
            raise IndexError(f"read_rows: order holds an index outside [0, {n})")
        return sums
    work = np.empty(max(gd_read_rows_work(m, d), 1), dtype=dtype)
    cdef floating[::1] s = sums, w = work
    cdef const int64_t *o = &order[0] if order.shape[0] > 0 else NULL
    with nogil:
        if floating is double:
            status = gd_read_rows_dense_f64(&X[0, 0], n, d, o, m, &s[0], &w[0], n_threads)
        else:
            status = gd_read_rows_dense_f32(&X[0, 0], n, d, o, m, &s[0], &w[0], n_threads)
    if status < 0:
        raise IndexError(f"read_rows: order holds an index outside [0, {n})")
    return sums


def math_check(int which, const double[::1] x):
    """The kernels' own exp (which=0, x <= 0), log1p (1, 0 <= x <= 1), logistic loss (2) and
    its derivative (3) of margins x, for the tests."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] o = out
    if x.shape[0]:
        gd_math_check(which, &x[0], &o[0], x.shape[0])
    return out


def share_learn(const double[::1] busy, const int64_t[::1] rows, double[::1] est):
    """One batch of the epoch's thread balance (gd_share_learn), for the tests: folds busy[t]
    over rows[t] rows into est (updated in place; 0 = not measured yet) and returns cum, the
    fraction of a batch's rows before each thread's share (nth + 1 entries)."""
    cdef int nth = busy.shape[0]
    if nth < 1 or rows.shape[0] != nth or est.shape[0] != nth:
        raise ValueError("share_learn: busy, rows and est must have the same length >= 1")
    cum = np.empty(nth + 1)
    cdef double[::1] c = cum
    gd_share_learn(&busy[0], &rows[0], nth, &est[0], &c[0])
    return cum


def share_bounds(const double[::1] cum, int64_t nb):
    """The first block of each thread's share of a batch of nb blocks, and nb (gd_share_bounds),
    for the tests."""
    cdef int nth = cum.shape[0] - 1
    if nth < 1 or nb < 1:
        raise ValueError("share_bounds: cum needs nth + 1 >= 2 entries and nb >= 1")
    bound = np.empty(nth + 1, dtype=np.int64)
    cdef int64_t[::1] b = bound
    gd_share_bounds(&cum[0], nth, nb, &b[0])
    return bound


def mul_check(bint portable, const uint64_t[::1] a, const uint64_t[::1] b):
    """(hi, lo): the halves of the 128-bit products a * b as gd_permutation computes them
    (portable=False) or by the 32-bit-halves fallback (portable=True), for the tests."""
    if a.shape[0] != b.shape[0]:
        raise ValueError("mul_check: a and b differ in length")
    hi = np.empty(a.shape[0], dtype=np.uint64)
    lo = np.empty(a.shape[0], dtype=np.uint64)
    cdef uint64_t[::1] h = hi, l = lo
    if a.shape[0]:
        gd_mul_check(portable, &a[0], &b[0], &h[0], &l[0], a.shape[0])
    return hi, lo

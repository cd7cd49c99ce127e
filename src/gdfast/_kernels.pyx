# cython: language_level=3
"""Cython glue over the C kernels of csrc/: memoryviews to pointers, the GIL released
around every kernel, a compile-time branch on the dtype.  Validation lives in Python
(gdfast._problem, gdfast._validation).  Here buffer sizes are checked, and the rows given to
grad_dense; the row order and the class labels of epoch_dense are trusted as gdfast._problem
builds them (a permutation of range(n); labels in 0..K-1), since checking them would cost a pass per epoch.

A zero-length array stands for a NULL pointer (no sample weights, identity row order,
no optimizer state)."""
from cython cimport floating
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memset

from cpython.exc cimport PyErr_CheckSignals

import numpy as np

# (the C declarations are in _kernels.pxd)

ctypedef fused index_t:
    int32_t
    int64_t

# --- the codes of csrc/gdfast.h ----------------------------------------------------------------
# Taken from the header through the cpdef enums of _kernels.pxd, never written here: each family
# as a table from the option's name (the C name's last part, in lower case) to its code,
# LOSS_CODES = {"squared": GD_LOSS_SQUARED, ...}; the enum classes (gd_loss, ...) hold the rest.

def _codes(family, str prefix):
    return {member.name[len(prefix):].lower(): int(member) for member in family}


LOSS_CODES = _codes(gd_loss, "GD_LOSS_")
OPTIMIZER_CODES = _codes(gd_optimizer, "GD_OPT_")
SCHEDULE_CODES = _codes(gd_schedule, "GD_SCHED_")     # the per-step rules of gd_step_lr
SHARE_CODES = _codes(gd_share, "GD_SHARE_")
SPARSE_UPDATES_CODES = _codes(gd_sparse_updates, "GD_SPARSE_")

# what the kernels return (GD_OK, GD_ERR_NONFINITE, GD_ERR_ARGUMENT, GD_INTERRUPTED)
STATUS_OK = int(GD_OK)
STATUS_NONFINITE = int(GD_ERR_NONFINITE)
STATUS_ARGUMENT = int(GD_ERR_ARGUMENT)
STATUS_INTERRUPTED = int(GD_INTERRUPTED)


# --- the configuration -------------------------------------------------------------------------

cdef gd_config _no_config
memset(&_no_config, 0, sizeof(gd_config))
# The fields of gd_config a caller gives Config, in the order of the struct (as _kernels.pxd
# declares it); interruptible is set here, per call.
CONFIG_FIELDS = tuple(field for field in <dict>_no_config if field != "interruptible")


cdef class Config:
    """The kernel configuration (gd_config), built once per fit from integer codes and floats:
    Config(**fields), one keyword per name of CONFIG_FIELDS."""
    cdef gd_config c

    def __init__(self, **kw):
        missing = set(CONFIG_FIELDS) - set(kw)
        extra = set(kw) - set(CONFIG_FIELDS)
        if missing or extra:
            raise TypeError(f"Config: missing {sorted(missing)}, unknown {sorted(extra)}")
        self.c = {**kw, "interruptible": 0}

    def work_size(self, int64_t d):
        return gd_work_size(&self.c, d)

    def csr_rowbuf_len(self, int64_t d, int64_t itemsize, int n_threads):
        """Entries of grad_csr's row buffer (0: none helps)."""
        return gd_grad_csr_rowbuf_len(&self.c, d, itemsize, n_threads)

    def csr_work_bytes(self, int64_t d, int64_t batch_size, int n_threads):
        """Bytes of the sparse path's work buffer (epoch_csr's sparse_work)."""
        return gd_csr_work_bytes(&self.c, d, batch_size, n_threads)

    def state_rows(self):
        """The state vectors of P entries the kernels keep: the optimizer's, then with
        averaging the mean and its compensation (gd_state_rows)."""
        return gd_state_rows(&self.c)

    def step_lr(self, double lr_epoch, int64_t t):
        return gd_step_lr(&self.c, lr_epoch, t)


def n_state(int optimizer):
    return gd_n_state(optimizer)


def block_stride(int64_t P, int64_t K):
    """Entries between two blocks' partial gradients in the work buffer (gd_block_stride)."""
    return gd_block_stride(P, K)


def openmp_enabled():
    return bool(gd_openmp_enabled())


def max_threads():
    return gd_max_threads()


def in_forked_child():
    """True in a process forked after gdfast used OpenMP threads (kernels run serially)."""
    return bool(gd_in_forked_child())


cdef int _begin_interruptible(Config cfg, bint interruptible) except -1:
    # called with the GIL held, which serializes install/restore across Python threads
    cfg.c.interruptible = 0
    if interruptible and gd_interrupt_install() == 0:
        cfg.c.interruptible = 1
    return 0


cdef int _end_interruptible(Config cfg, int status) except -1:
    if cfg.c.interruptible:
        gd_interrupt_restore()
        cfg.c.interruptible = 0
        if status == GD_INTERRUPTED:
            gd_interrupt_clear()
            PyErr_CheckSignals()        # raises KeyboardInterrupt via Python's own handler
    return 0


cdef inline const floating* _cptr(const floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


cdef inline floating* _ptr(floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


cdef inline const int64_t* _iptr(const int64_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


def grad_dense(Config cfg, const floating[:, ::1] X, const floating[::1] y,
               const floating[::1] sw, const int64_t[::1] rows, const floating[::1] theta,
               floating[::1] grad_out, floating[::1] work, int n_threads,
               bint interruptible=False):
    """Batch gradient over `rows` (empty: all rows).  Returns (status, loss_sum).

    interruptible: as for epoch_dense; an interrupted gradient (STATUS_INTERRUPTED) is
    incomplete."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef int64_t n_rows = rows.shape[0] if rows.shape[0] > 0 else n
    cdef int64_t P = cfg.c.n_outputs * (d + 1)
    cdef double loss = 0
    cdef int status
    cdef int64_t i
    if (y.shape[0] != n or (sw.shape[0] != 0 and sw.shape[0] != n) or theta.shape[0] != P
            or grad_out.shape[0] != P or work.shape[0] < gd_work_size(&cfg.c, d)):
        raise ValueError("grad_dense: inconsistent buffer sizes")
    for i in range(rows.shape[0]):
        if rows[i] < 0 or rows[i] >= n:
            raise IndexError(f"grad_dense: rows[{i}] = {rows[i]} is outside [0, {n})")
    _begin_interruptible(cfg, interruptible)
    with nogil:
        if floating is double:
            status = gd_grad_dense_f64(&cfg.c, &X[0, 0], n, d, &y[0], _cptr(sw), _iptr(rows),
                                       n_rows, &theta[0], &grad_out[0], &loss, &work[0],
                                       n_threads)
        else:
            status = gd_grad_dense_f32(&cfg.c, &X[0, 0], n, d, &y[0], _cptr(sw), _iptr(rows),
                                       n_rows, &theta[0], &grad_out[0], &loss, &work[0],
                                       n_threads)
    _end_interruptible(cfg, status)
    return status, loss


def all_finite(const floating[::1] x, int n_threads):
    """True when no entry of x is NaN or infinite (one read of x on up to n_threads threads)."""
    cdef int64_t n = x.shape[0]
    cdef int status
    with nogil:
        if floating is double:
            status = gd_all_finite_f64(_cptr(x), n, n_threads)
        else:
            status = gd_all_finite_f32(_cptr(x), n, n_threads)
    if status < 0:
        raise ValueError("all_finite: invalid arguments")
    return status == 1


def decision_dense(const floating[:, ::1] X, const floating[::1] theta, int64_t K,
                   floating[:, ::1] z, int n_threads):
    """z[:] = X @ W.T + b for theta = [W (K x d) row by row, b (K)], on up to n_threads."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef int status
    if K < 1 or d < 1 or theta.shape[0] != K * (d + 1) or z.shape[0] != n or z.shape[1] != K:
        raise ValueError("decision_dense: inconsistent shapes")
    if n == 0:
        return
    with nogil:
        if floating is double:
            status = gd_decision_dense_f64(&X[0, 0], n, d, K, &theta[0], &z[0, 0], n_threads)
        else:
            status = gd_decision_dense_f32(&X[0, 0], n, d, K, &theta[0], &z[0, 0], n_threads)
    if status < 0:
        raise ValueError("decision_dense: invalid arguments")


def permutation(int64_t n, uint64_t seed):
    """A uniformly random permutation of range(n) as int64, determined by seed (Fisher-Yates on
    a SplitMix64 stream; the same on every platform)."""
    if n < 0:
        raise ValueError(f"permutation: n must be >= 0, got {n}")
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef int64_t *p = &o[0] if n > 0 else NULL
    with nogil:
        gd_permutation(p, n, seed)
    return out


SHUFFLE_WORDS = GD_SHUFFLE_WORDS


def shuffle_init(int64_t[::1] order, uint64_t seed):
    """The state (an int64 array of SHUFFLE_WORDS) of permutation(len(order), seed) drawn a part
    at a time into order, which this fills with the identity (gd_shuffle_init)."""
    cdef int64_t n = order.shape[0]
    state = np.zeros(GD_SHUFFLE_WORDS, dtype=np.int64)
    cdef int64_t[::1] g = state
    with nogil:
        gd_shuffle_init(<gd_shuffle *>&g[0], &order[0] if n > 0 else NULL, n, seed)
    return state


cdef gd_shuffle *_shuffle_ptr(int64_t[::1] state, int64_t n) except NULL:
    if state.shape[0] != GD_SHUFFLE_WORDS or not gd_shuffle_valid(<gd_shuffle *>&state[0], n):
        raise ValueError("shuffle state does not match the order")
    return <gd_shuffle *>&state[0]


def shuffle_advance(int64_t[::1] state, int64_t[::1] order, int64_t upto):
    """Fix positions 0..upto-1 of the order that shuffle_init started (gd_shuffle_advance)."""
    cdef gd_shuffle *g = _shuffle_ptr(state, order.shape[0])
    with nogil:
        gd_shuffle_advance(g, &order[0] if order.shape[0] > 0 else NULL, upto)


def update(Config cfg, floating[::1] theta, const floating[::1] grad, floating[::1] state,
           int64_t n_coef, int64_t t, double lr, int n_threads):
    """One optimizer step t (1-based) in place.  Returns the status."""
    cdef int64_t P = theta.shape[0]
    cdef int status
    if grad.shape[0] != P or state.shape[0] != gd_state_rows(&cfg.c) * P:
        raise ValueError("update: inconsistent buffer sizes")
    with nogil:
        if floating is double:
            status = gd_update_f64(&cfg.c, &theta[0], &grad[0], _ptr(state), P, n_coef, t, lr,
                                   n_threads)
        else:
            status = gd_update_f32(&cfg.c, &theta[0], &grad[0], _ptr(state), P, n_coef, t, lr,
                                   n_threads)
    return status


cdef int _check_epoch_buffers(Config cfg, int64_t n, int64_t d, int64_t y_len, int64_t sw_len,
                              int64_t theta_len, int64_t state_len, int64_t work_len,
                              bint bad_order, str name) except -1:
    cdef int64_t P = cfg.c.n_outputs * (d + 1)
    if (y_len != n or (sw_len != 0 and sw_len != n) or bad_order or theta_len != P
            or state_len != gd_state_rows(&cfg.c) * P
            or work_len < gd_work_size(&cfg.c, d)):
        raise ValueError(f"{name}: inconsistent buffer sizes")
    return 0


def epoch_dense(Config cfg, const floating[:, ::1] X, const floating[::1] y,
                const floating[::1] sw, const int64_t[::1] order, int64_t start, int64_t stop,
                int64_t batch_size, double lr_epoch, floating[::1] theta, floating[::1] state,
                floating[::1] work, int64_t t, int n_threads, bint interruptible=False):
    """Positions start..stop of an epoch's order.  Returns (status, t, loss_sum).

    With interruptible=True (main thread only), SIGINT stops the kernel at its next row check;
    KeyboardInterrupt is then raised here by Python's handler, or, when that handler does not
    raise, STATUS_INTERRUPTED is returned with t counting the steps completed."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef double loss = 0
    cdef int status
    _check_epoch_buffers(cfg, n, d, y.shape[0], sw.shape[0], theta.shape[0], state.shape[0],
                         work.shape[0], order.shape[0] != 0 and order.shape[0] != n,
                         "epoch_dense")
    _begin_interruptible(cfg, interruptible)
    with nogil:
        if floating is double:
            status = gd_epoch_dense_f64(&cfg.c, &X[0, 0], n, d, &y[0], _cptr(sw), _iptr(order),
                                        start, stop, batch_size, lr_epoch, &theta[0],
                                        _ptr(state), &t, &work[0], &loss, n_threads)
        else:
            status = gd_epoch_dense_f32(&cfg.c, &X[0, 0], n, d, &y[0], _cptr(sw), _iptr(order),
                                        start, stop, batch_size, lr_epoch, &theta[0],
                                        _ptr(state), &t, &work[0], &loss, n_threads)
    _end_interruptible(cfg, status)
    return status, t, loss


def epoch_dense_shuffled(Config cfg, const floating[:, ::1] X, const floating[::1] y,
                         const floating[::1] sw, int64_t[::1] order, int64_t[::1] shuffle,
                         int64_t start, int64_t stop, int64_t batch_size, double lr_epoch,
                         floating[::1] theta, floating[::1] state, floating[::1] work, int64_t t,
                         int n_threads, bint interruptible=False):
    """epoch_dense over the order that shuffle_init(order, seed) started, drawn as the epoch
    goes (gd_epoch_dense_shuffled_*); order and shuffle carry over to a resumed call."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef double loss = 0
    cdef int status
    _check_epoch_buffers(cfg, n, d, y.shape[0], sw.shape[0], theta.shape[0], state.shape[0],
                         work.shape[0], order.shape[0] != n, "epoch_dense_shuffled")
    cdef gd_shuffle *g = _shuffle_ptr(shuffle, n)
    _begin_interruptible(cfg, interruptible)
    with nogil:
        if floating is double:
            status = gd_epoch_dense_shuffled_f64(&cfg.c, &X[0, 0], n, d, &y[0], _cptr(sw),
                                                 &order[0], g, start, stop, batch_size,
                                                 lr_epoch, &theta[0], _ptr(state), &t,
                                                 &work[0], &loss, n_threads)
        else:
            status = gd_epoch_dense_shuffled_f32(&cfg.c, &X[0, 0], n, d, &y[0], _cptr(sw),
                                                 &order[0], g, start, stop, batch_size,
                                                 lr_epoch, &theta[0], _ptr(state), &t,
                                                 &work[0], &loss, n_threads)
    _end_interruptible(cfg, status)
    return status, t, loss


cdef inline const index_t* _cxptr(const index_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


cdef int _check_csr(const index_t[::1] indptr, int64_t n_ind, int64_t n_data, int64_t n,
                    int64_t y_len, int64_t sw_len, str name) except -1:
    if indptr.shape[0] != n + 1 or y_len != n or (sw_len != 0 and sw_len != n):
        raise ValueError(f"{name}: inconsistent buffer sizes")
    if indptr[0] != 0 or indptr[n] > n_ind or indptr[n] > n_data:
        raise ValueError(f"{name}: indptr does not describe the data")
    return 0


def grad_csr(Config cfg, const floating[::1] data, const index_t[::1] indices,
             const index_t[::1] indptr, int64_t d, const floating[::1] y,
             const floating[::1] sw, const int64_t[::1] rows, const floating[::1] theta,
             floating[::1] grad_out, floating[::1] work, int n_threads,
             bint interruptible=False, floating[::1] rowbuf=None):
    """grad_dense on CSR arrays (validated by the caller: gdfast._validation.as_csr).  rowbuf:
    cfg.csr_rowbuf_len(d, itemsize, n_threads) entries or more, or None (the same results,
    more slowly where the coefficients outgrow the cache)."""
    cdef int64_t n = indptr.shape[0] - 1
    cdef floating *rb = NULL
    cdef int64_t rb_len = 0
    if rowbuf is not None and rowbuf.shape[0] > 0:
        rb, rb_len = &rowbuf[0], rowbuf.shape[0]
    cdef int64_t n_rows = rows.shape[0] if rows.shape[0] > 0 else n
    cdef int64_t P = cfg.c.n_outputs * (d + 1)
    cdef double loss = 0
    cdef int status
    cdef int64_t i
    _check_csr(indptr, indices.shape[0], data.shape[0], n, y.shape[0], sw.shape[0], "grad_csr")
    if theta.shape[0] != P or grad_out.shape[0] != P or work.shape[0] < gd_work_size(&cfg.c, d):
        raise ValueError("grad_csr: inconsistent buffer sizes")
    for i in range(rows.shape[0]):
        if rows[i] < 0 or rows[i] >= n:
            raise IndexError(f"grad_csr: rows[{i}] = {rows[i]} is outside [0, {n})")
    _begin_interruptible(cfg, interruptible)
    with nogil:
        if floating is double:
            if index_t is int32_t:
                status = gd_grad_csr_f64_i32(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0], n,
                                             d, &y[0], _cptr(sw), _iptr(rows), n_rows,
                                             &theta[0], &grad_out[0], &loss, &work[0], rb, rb_len,
                                             n_threads)
            else:
                status = gd_grad_csr_f64_i64(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0], n,
                                             d, &y[0], _cptr(sw), _iptr(rows), n_rows,
                                             &theta[0], &grad_out[0], &loss, &work[0], rb, rb_len,
                                             n_threads)
        else:
            if index_t is int32_t:
                status = gd_grad_csr_f32_i32(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0], n,
                                             d, &y[0], _cptr(sw), _iptr(rows), n_rows,
                                             &theta[0], &grad_out[0], &loss, &work[0], rb, rb_len,
                                             n_threads)
            else:
                status = gd_grad_csr_f32_i64(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0], n,
                                             d, &y[0], _cptr(sw), _iptr(rows), n_rows,
                                             &theta[0], &grad_out[0], &loss, &work[0], rb, rb_len,
                                             n_threads)
    _end_interruptible(cfg, status)
    return status, loss


def dense_moments_blocks(int64_t n, int64_t d):
    """The row blocks dense_moments sums separately (for the tests)."""
    if n < 1 or d < 1:
        raise ValueError("dense_moments_blocks: n and d must be >= 1")
    return gd_dense_moments_blocks(n, d)


def dense_moments(const floating[:, ::1] X, const floating[::1] sw, int n_threads,
                  const double[:, ::1] R=None):
    """The float64 array (2 + K, d) of sum_i sw_i x_ij, sum_i sw_i x_ij^2 and, for each
    column k of R (float64, n x K, C-contiguous; None: K = 0), sum_i R_ik x_ij, of a
    C-contiguous X in one read on up to n_threads threads, the same bits for every n_threads
    and K (gd_dense_moments).  sw: empty for all ones."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    if n < 1 or d < 1 or (sw.shape[0] != 0 and sw.shape[0] != n):
        raise ValueError("dense_moments: inconsistent shapes")
    if R is not None and (R.shape[0] != n or R.shape[1] < 1):
        raise ValueError(f"dense_moments: R must have X's {n} rows and at least one column, "
                         f"got shape ({R.shape[0]}, {R.shape[1]})")
    cdef int64_t K = 0 if R is None else R.shape[1]
    cdef const double *r = NULL if R is None else &R[0, 0]
    out = np.zeros((2 + K, d))
    cdef double[:, ::1] o = out
    cdef int64_t wlen = gd_dense_moments_work_len(n, d, K)
    cdef double[::1] work = np.empty(max(wlen, 1))
    cdef int status
    with nogil:
        if floating is double:
            status = gd_dense_moments_f64(&X[0, 0], n, d, _cptr(sw), r, K, &o[0, 0], &work[0],
                                          wlen, n_threads)
        else:
            status = gd_dense_moments_f32(&X[0, 0], n, d, _cptr(sw), r, K, &o[0, 0], &work[0],
                                          wlen, n_threads)
    if status != 0:
        raise ValueError("dense_moments: the kernel rejected its arguments")
    return out


def csr_moments_blocks(int64_t n, int64_t nnz, int64_t d):
    """The row blocks csr_moments sums separately (for the tests)."""
    return gd_csr_moments_work_len(n, nnz, d) // (2 * d) + 1


def csr_moments(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
                int64_t d, const floating[::1] sw, int n_threads):
    """(sum_i sw_i x_ij, sum_i sw_i x_ij^2) of CSR arrays (validated by the caller) as two
    float64 arrays of d, in one pass on up to n_threads threads, the same bits for every
    n_threads (gd_csr_moments).  sw: empty for all ones."""
    cdef int64_t n = indptr.shape[0] - 1
    _check_csr(indptr, indices.shape[0], data.shape[0], n, n, sw.shape[0], "csr_moments")
    cdef double[::1] out = np.zeros(2 * d)
    cdef int64_t wlen = gd_csr_moments_work_len(n, indptr[n], d)
    cdef double[::1] work = np.empty(max(wlen, 1))
    cdef int status
    with nogil:
        if floating is double:
            if index_t is int32_t:
                status = gd_csr_moments_f64_i32(_cptr(data), _cxptr(indices), &indptr[0], n, d,
                                                _cptr(sw), &out[0], &work[0], wlen, n_threads)
            else:
                status = gd_csr_moments_f64_i64(_cptr(data), _cxptr(indices), &indptr[0], n, d,
                                                _cptr(sw), &out[0], &work[0], wlen, n_threads)
        else:
            if index_t is int32_t:
                status = gd_csr_moments_f32_i32(_cptr(data), _cxptr(indices), &indptr[0], n, d,
                                                _cptr(sw), &out[0], &work[0], wlen, n_threads)
            else:
                status = gd_csr_moments_f32_i64(_cptr(data), _cxptr(indices), &indptr[0], n, d,
                                                _cptr(sw), &out[0], &work[0], wlen, n_threads)
    if status != 0:
        raise ValueError("csr_moments: the kernel rejected its arguments")
    a = np.asarray(out)
    return a[0::2].copy(), a[1::2].copy()


def epoch_csr(Config cfg, const floating[::1] data, const index_t[::1] indices,
              const index_t[::1] indptr, int64_t d, const floating[::1] y,
              const floating[::1] sw, const int64_t[::1] order, int64_t start, int64_t stop,
              int64_t batch_size, double lr_epoch, floating[::1] theta, floating[::1] state,
              floating[::1] work, unsigned char[::1] sparse_work, int64_t t, int n_threads,
              bint interruptible=False):
    """epoch_dense on CSR arrays; sparse_work: cfg.csr_work_bytes(d, batch_size, n_threads)
    bytes.  Returns (status, t, loss_sum)."""
    cdef int64_t n = indptr.shape[0] - 1
    cdef int64_t P = cfg.c.n_outputs * (d + 1)
    cdef double loss = 0
    cdef int status
    cdef void *sp = <void *>&sparse_work[0] if sparse_work.shape[0] > 0 else NULL
    cdef int64_t sp_bytes = sparse_work.shape[0]
    _check_csr(indptr, indices.shape[0], data.shape[0], n, y.shape[0], sw.shape[0], "epoch_csr")
    if ((order.shape[0] != 0 and order.shape[0] != n) or theta.shape[0] != P
            or state.shape[0] != gd_state_rows(&cfg.c) * P
            or work.shape[0] < gd_work_size(&cfg.c, d)):
        raise ValueError("epoch_csr: inconsistent buffer sizes")
    _begin_interruptible(cfg, interruptible)
    with nogil:
        if floating is double:
            if index_t is int32_t:
                status = gd_epoch_csr_f64_i32(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0],
                                              n, d, &y[0], _cptr(sw), _iptr(order), start, stop,
                                              batch_size, lr_epoch, &theta[0], _ptr(state), &t,
                                              &work[0], sp, sp_bytes, &loss, n_threads)
            else:
                status = gd_epoch_csr_f64_i64(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0],
                                              n, d, &y[0], _cptr(sw), _iptr(order), start, stop,
                                              batch_size, lr_epoch, &theta[0], _ptr(state), &t,
                                              &work[0], sp, sp_bytes, &loss, n_threads)
        else:
            if index_t is int32_t:
                status = gd_epoch_csr_f32_i32(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0],
                                              n, d, &y[0], _cptr(sw), _iptr(order), start, stop,
                                              batch_size, lr_epoch, &theta[0], _ptr(state), &t,
                                              &work[0], sp, sp_bytes, &loss, n_threads)
            else:
                status = gd_epoch_csr_f32_i64(&cfg.c, _cptr(data), _cxptr(indices), &indptr[0],
                                              n, d, &y[0], _cptr(sw), _iptr(order), start, stop,
                                              batch_size, lr_epoch, &theta[0], _ptr(state), &t,
                                              &work[0], sp, sp_bytes, &loss, n_threads)
    _end_interruptible(cfg, status)
    return status, t, loss

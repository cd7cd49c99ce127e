"""Validation, the epoch driver and the result object, shared by the native engine
(gdfast.fit) and the numpy reference engine (gdfast.reference.fit).

The driver owns everything that happens between epochs: the row order of each epoch,
learning-rate schedules, the loss history, stopping, verbose output and callbacks.  An
engine owns the parameters and the optimizer state and runs one epoch at a time.
"""
from __future__ import annotations

import inspect
import math
import numbers
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from gdfast import _kernels

# --- option tables (the integer codes are those of csrc/gdfast.h) -------------------------

LOSSES = {
    "squared": 0, "logistic": 1, "hinge": 2, "squared_hinge": 3, "modified_huber": 4,
    "huber": 5, "epsilon_insensitive": 6, "poisson": 7, "multinomial": 8,
}
BINARY_LOSSES = ("logistic", "hinge", "squared_hinge", "modified_huber")
CLASSIFICATION_LOSSES = BINARY_LOSSES + ("multinomial",)
PROBA_LOSSES = ("logistic", "modified_huber", "multinomial")
OPTIMIZERS = {
    "sgd": 0, "momentum": 1, "nesterov": 2, "adagrad": 3, "rmsprop": 4, "adam": 5, "adamw": 6,
}
N_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 3, "adam": 3,
           "adamw": 3}
ADAPTIVE_OPTIMIZERS = ("adagrad", "rmsprop", "adam", "adamw")
SPARSE_UPDATES = ("dense", "lazy")
PARALLEL = ("deterministic", "hogwild")
SCHEDULES = ("constant", "invscaling", "optimal", "exponential", "step", "cosine", "plateau")
STEP_RULES = {"invscaling": 1, "optimal": 2}     # per-step rules; the rest are per epoch
DEFAULT_EPS = {"adagrad": 1e-10, "rmsprop": 1e-8, "adam": 1e-8, "adamw": 1e-8}  # torch's
DEFAULT_GAMMA = {"exponential": 0.95, "step": 0.1}
PLATEAU_FACTOR = 5.0
PLATEAU_MIN_LR = 1e-6

# Parallel layout of the native kernels (see csrc/gdfast.h, "Determinism").  The results
# depend on these, never on the thread count; tests shrink them to exercise many blocks.
# 16-row blocks let two threads share a 32-row batch (a 128-feature float64 batch of 32 rows,
# 4096 multiply-adds, is the smallest that opens threads).
# share: how threads that each take the optimizer step share a batch's blocks (SHARES); the
# results are the same bits for every choice.
LAYOUT = {"block_rows": 16, "max_blocks": 256, "work_bytes": 16 << 20,
          "min_parallel_work": 4096, "share": "measured"}
SHARES = {"even": 0, "measured": 1, "skewed": 2}    # gd_config.share (GD_SHARE_*)


class DivergenceError(FloatingPointError):
    """The loss or the parameters became NaN or infinite during a fit.

    Attributes: ``epoch`` (1-based), ``step`` (the optimizer step, 1-based, counted over the
    whole fit) and ``result``, the :class:`FitResult` holding the parameters at that point
    and the loss history of the completed epochs.
    """

    def __init__(self, message, *, epoch, step, result):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.result = result


# --- the result ---------------------------------------------------------------------------

class FitResult:
    """The outcome of :func:`gdfast.fit`.

    Attributes
    ----------
    coef : ndarray, shape (n_features,), or (n_classes, n_features) for ``"multinomial"``
    intercept : scalar of the data's dtype, or ndarray (n_classes,) for ``"multinomial"``
    classes : ndarray or None
        The sorted class labels for classification losses; for binary losses the second is
        the positive class.
    loss_history : ndarray of float64, shape (n_epochs,)
        The objective of each epoch: the mean over rows of sample_weight * loss, each taken at the
        parameters its batch saw during the pass, plus the penalty at the end of the epoch.
    n_epochs, n_steps : int
        Epochs completed and optimizer steps taken.
    converged : bool
        True when the fit stopped because the loss stopped improving by ``tol``.
    loss, dtype, n_features : the loss name, the dtype of the fit and of its coefficients,
        and the number of features.
    """

    def __init__(self, *, coef, intercept, classes, loss, loss_history, n_epochs, n_steps,
                 converged):
        self.coef = coef
        self.intercept = intercept
        self.classes = classes
        self.loss = loss
        self.loss_history = loss_history
        self.n_epochs = n_epochs
        self.n_steps = n_steps
        self.converged = converged

    @property
    def dtype(self):
        return self.coef.dtype

    @property
    def n_features(self):
        return self.coef.shape[-1]

    def __repr__(self):
        last = f"{self.loss_history[-1]:.6g}" if len(self.loss_history) else "n/a"
        return (f"FitResult(loss={self.loss!r}, coef.shape={self.coef.shape}, "
                f"dtype={self.dtype}, n_epochs={self.n_epochs}, n_steps={self.n_steps}, "
                f"converged={self.converged}, final_loss={last})")

    def decision_function(self, X):
        """Decision values X @ coef.T + intercept: shape (n,), or (n, n_classes) for
        multinomial."""
        X = _as_predict_X(X, self.n_features)
        return np.asarray(X @ self.coef.T) + self.intercept

    def predict(self, X):
        """Class labels for classification losses, exp(decision) for poisson (the mean under
        the log link), the decision values for the other regression losses."""
        z = self.decision_function(X)
        if self.loss == "multinomial":
            return self.classes[np.argmax(z, axis=1)]
        if self.loss in BINARY_LOSSES:
            return self.classes[(z > 0).astype(np.intp)]
        if self.loss == "poisson":
            return np.exp(z)
        return z

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes), columns in the order of ``classes``:
        the logistic sigmoid, scikit-learn's (clip(z, -1, 1) + 1) / 2 for modified_huber,
        the softmax for multinomial."""
        if self.loss not in PROBA_LOSSES:
            raise ValueError(f"predict_proba needs loss in {PROBA_LOSSES}; this model was fit "
                             f"with loss={self.loss!r}")
        z = self.decision_function(X)
        if self.loss == "multinomial":
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        if self.loss == "logistic":
            with np.errstate(over="ignore"):
                p = 1.0 / (1.0 + np.exp(-z))
        else:
            p = (np.clip(z, -1, 1) + 1) / 2
        return np.column_stack([1 - p, p])


def _as_predict_X(X, n_features):
    X = _as_float_2d(X, "X", finite=False)
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but the model was fit with "
                         f"{n_features}")
    return X.matrix if isinstance(X, CSR) else X


# --- validation ---------------------------------------------------------------------------

def _is_sparse(X):
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


class CSR:
    """Validated CSR arrays in the kernels' layout (data float32/float64; indices and indptr
    both int32 or both int64), and a SciPy matrix over the same arrays (for the reference
    engine and for predictions)."""

    def __init__(self, data, indices, indptr, shape, matrix):
        self.data, self.indices, self.indptr = data, indices, indptr
        self.shape = shape
        self.matrix = matrix

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def nnz(self):
        return int(self.indptr[-1])


def _as_csr(X, name, finite=True, n_threads=1):
    """A scipy.sparse matrix or array as CSR: CSR input whose data is float32/float64 and whose
    indices and indptr are both int32 or both int64 is used as it is (never copied, never
    modified); other formats are converted with .tocsr() once, other value dtypes to float64,
    other index dtypes to int64.  Unsorted and repeated column indices are accepted (repeats
    add up, as in X.toarray()).  The structure is checked: indptr of length n + 1, starting at
    0, non-decreasing, ending at most at len(indices); 0 <= indices < n_features."""
    if getattr(X, "ndim", 2) != 2:
        raise ValueError(f"{name}: expected a 2-D sparse matrix of shape (n_samples, "
                         f"n_features), got {X.ndim}-D with shape {X.shape}")
    fmt = getattr(X, "format", None)
    if fmt != "csr":
        try:
            X = X.tocsr()
        except Exception as exc:   # pragma: no cover - scipy's own conversion failing
            raise ValueError(f"{name}: could not convert the {fmt} matrix to CSR ({exc})") from None
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name}: expected at least 1 sample and 1 feature, got shape "
                         f"{(n, d)}")
    data, indices, indptr = np.asarray(X.data), np.asarray(X.indices), np.asarray(X.indptr)
    if data.dtype.kind == "c":
        raise ValueError(f"{name}: complex data is not supported (dtype {data.dtype})")
    if data.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric values, got dtype {data.dtype}")
    for arr, what in ((indices, "indices"), (indptr, "indptr")):
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ValueError(f"{name}: the CSR {what} must be a 1-D integer array, got "
                             f"{arr.ndim}-D of dtype {arr.dtype}")
    dtype = data.dtype if data.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    itype = indices.dtype if (indices.dtype == indptr.dtype and
                              indices.dtype in (np.int32, np.int64)) else np.dtype(np.int64)
    if data.ndim != 1:
        raise ValueError(f"{name}: the CSR data must be 1-D, got shape {data.shape}")
    if indptr.shape[0] != n + 1:
        raise ValueError(f"{name}: malformed CSR matrix: indptr has {indptr.shape[0]} entries, "
                         f"expected n_samples + 1 = {n + 1}")
    if indptr[0] != 0:
        raise ValueError(f"{name}: malformed CSR matrix: indptr[0] is {indptr[0]}, expected 0")
    steps = np.diff(indptr)
    if (steps < 0).any():
        r = int(np.flatnonzero(steps < 0)[0])
        raise ValueError(f"{name}: malformed CSR matrix: indptr decreases at row {r} "
                         f"({indptr[r]} -> {indptr[r + 1]}); it must be non-decreasing")
    nnz = int(indptr[-1])
    if nnz > indices.shape[0] or nnz > data.shape[0]:
        raise ValueError(f"{name}: malformed CSR matrix: indptr[-1] = {nnz} but indices has "
                         f"{indices.shape[0]} and data {data.shape[0]} entries")
    if nnz:
        idx = indices[:nnz]
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= d:
            e = int(np.flatnonzero((idx < 0) | (idx >= d))[0])
            r = int(np.searchsorted(indptr, e, side="right") - 1)
            raise ValueError(f"{name}: malformed CSR matrix: column index {idx[e]} in row {r} "
                             f"is outside [0, {d}) (n_features = {d})")
    converted = fmt != "csr" or dtype != data.dtype or itype != indices.dtype
    data = np.ascontiguousarray(data, dtype=dtype)
    indices = np.ascontiguousarray(indices, dtype=itype)
    indptr = np.ascontiguousarray(indptr, dtype=itype)
    if finite and nnz:
        if not _kernels.all_finite(data[:nnz], n_threads):
            bad = ~np.isfinite(data[:nnz])
            if bad.any():
                e = int(np.flatnonzero(bad)[0])
                r = int(np.searchsorted(indptr, e, side="right") - 1)
                what = "NaN" if np.isnan(data[e]) else "infinity"
                raise ValueError(f"{name} contains {what} (first at row {r}, column "
                                 f"{indices[e]}); remove or impute non-finite values before "
                                 "fitting")
    if converted:
        import scipy.sparse as sp
        X = sp.csr_matrix((data, indices, indptr), shape=(n, d), copy=False)
    return CSR(data, indices, indptr, (n, d), X)


def _as_float_2d(X, name, finite=True, n_threads=1):
    """X as a C-contiguous float32/float64 2-D array: no copy when it already is one (other
    float and integer dtypes become float64, once)."""
    if _is_sparse(X):
        return _as_csr(X, name, finite, n_threads)
    arr = np.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(f"{name}: complex data is not supported (dtype {arr.dtype})")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = (" Reshape a single feature with X.reshape(-1, 1) or a single sample with "
                "X.reshape(1, -1).") if arr.ndim == 1 else ""
        raise ValueError(f"{name}: expected a 2-D array of shape (n_samples, n_features), got "
                         f"{arr.ndim}-D with shape {arr.shape}.{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected at least 1 sample and 1 feature, got shape "
                         f"{arr.shape}")
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite:
        _check_finite(arr, name, n_threads)
    return arr


def _check_finite(arr, name, n_threads=1):
    """Raise on NaN or inf, naming the first one, without a temporary the size of arr.  A
    contiguous float32/float64 array is checked by one native read on n_threads threads;
    other arrays through a sum (NaN and inf propagate into it).  Only when that finds
    something are the rows scanned one chunk at a time for the first bad entry (a finite sum
    can also overflow).  No BLAS call: OpenBLAS's threads keep spinning for a while after
    one, and would compete with the fit's own threads for the cores."""
    if arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous:
        if _kernels.all_finite(arr.reshape(-1), n_threads):
            return
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(arr, dtype=np.float64)):
                return
    flat_rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    step = max(1, (1 << 20) // max(1, flat_rows.shape[1]))
    for s in range(0, flat_rows.shape[0], step):
        bad = ~np.isfinite(flat_rows[s:s + step])
        if bad.any():
            i, j = np.argwhere(bad)[0]
            what = "NaN" if np.isnan(flat_rows[s + i, j]) else "infinity"
            where = f"row {s + i}, column {j}" if arr.ndim > 1 else f"index {s + i}"
            raise ValueError(f"{name} contains {what} (first at {where}); remove or impute "
                             "non-finite values before fitting")


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; expected one of "
                         f"{', '.join(repr(c) for c in choices)}")
    return value


def _check_real(value, name, *, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        interval = f"{left}{lo}, {hi}{right}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def _check_int(value, name, *, low=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return value


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


MAX_THREADS_FACTOR = 4     # n_threads may oversubscribe the CPUs, up to this factor


def resolve_n_threads(n_threads, max_threads, openmp):
    """scikit-learn's rule: None -> omp_get_max_threads() (honours OMP_NUM_THREADS and
    threadpoolctl), negative -> counted from the end (-1 = all), 0 is an error; 1 without
    OpenMP.  More than 4x the CPUs is refused (OpenMP aborts the process when it cannot
    create its threads)."""
    if n_threads is None:
        n = max_threads
    else:
        n = _check_int(n_threads, "n_threads")
        if n == 0:
            raise ValueError("n_threads=0 is not valid; use None (all threads), a positive "
                             "count, or a negative count (-1 = all threads)")
        limit = MAX_THREADS_FACTOR * max(max_threads, os.cpu_count() or 1)
        if n > limit:
            raise ValueError(f"n_threads={n} is more than {MAX_THREADS_FACTOR} times the "
                             f"{limit // MAX_THREADS_FACTOR} CPUs available; use at most "
                             f"{limit}, or None for all CPUs")
        if n < 0:
            n = max(1, max_threads + 1 + n)
    return max(1, n) if openmp else 1


def effective_n_threads(n_threads):
    """The thread count a fit would use for n_threads (see gdfast.fit); 1 in a process forked
    after gdfast used OpenMP threads (GNU libgomp cannot start threads there)."""
    n = resolve_n_threads(n_threads, _kernels.max_threads(), _kernels.openmp_enabled())
    return 1 if _kernels.in_forked_child() else n


@dataclass(frozen=True)
class Problem:
    """The immutable data of a fit, validated and in the kernels' layout."""
    X: "np.ndarray | CSR"    # (n, d) C-contiguous float32/float64, or validated CSR arrays
    y: np.ndarray            # (n,) of X's dtype: +1/-1, class index, or the target
    sw: np.ndarray | None    # (n,) of X's dtype, or None for unit weights
    n_outputs: int           # K
    classes: np.ndarray | None
    y_const: float           # row-loss terms that depend on y only (poisson), mean per row

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n(self):
        return self.X.shape[0]

    @property
    def d(self):
        return self.X.shape[1]

    @property
    def n_params(self):
        return self.n_outputs * (self.d + 1)

    @property
    def sparse(self):
        return isinstance(self.X, CSR)


@dataclass(frozen=True)
class Spec:
    """The validated hyperparameters of a fit (names, not codes: the reference reads these)."""
    loss: str
    epsilon: float
    optimizer: str
    momentum: float
    dampening: float
    beta1: float
    beta2: float
    eps: float
    rho: float
    centered: bool
    amsgrad: bool
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    clip_norm: float         # 0: no clipping
    schedule: str
    learning_rate: float
    power_t: float
    gamma: float
    step_size: int
    optimal_t0: float
    batch_size: int          # resolved: n for full batch
    sparse_updates: str = "dense"   # "dense" or "lazy" (sparse X, adaptive optimizers)
    hogwild: bool = False           # parallel="hogwild" (sparse X)

    @property
    def l2(self):
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def l1(self):
        return self.alpha * self.l1_ratio

    def kernel_config(self, n_outputs, d, itemsize):
        """The gd_config fields for the native kernels."""
        P = n_outputs * (d + 1)
        stride = -(-(P + n_outputs) // 16) * 16        # gd_block_stride: whole cache lines
        max_blocks = int(min(LAYOUT["max_blocks"],
                             max(2, LAYOUT["work_bytes"] // (stride * itemsize))))
        return dict(
            loss=LOSSES[self.loss], n_outputs=n_outputs, fit_intercept=int(self.fit_intercept),
            epsilon=self.epsilon, optimizer=OPTIMIZERS[self.optimizer],
            momentum=self.momentum, dampening=self.dampening, beta1=self.beta1,
            beta2=self.beta2, eps=self.eps, rho=self.rho, centered=int(self.centered),
            amsgrad=int(self.amsgrad), l2=self.l2, l1=self.l1, clip_norm=self.clip_norm,
            schedule=STEP_RULES.get(self.schedule, 0), power_t=self.power_t,
            opt_alpha=self.alpha, opt_t0=self.optimal_t0,
            block_rows=int(LAYOUT["block_rows"]), max_blocks=max_blocks,
            min_parallel_work=int(LAYOUT["min_parallel_work"]), share=SHARES[LAYOUT["share"]],
            sparse_updates=int(self.sparse_updates == "lazy"), hogwild=int(self.hogwild),
        )


@dataclass
class TrainingState:
    """Where a fit stopped, enough to continue it exactly: the parameters, the optimizer
    state, the step count, the schedule's and the stopping rule's position, and the random
    generator.  FitResult.state holds one; gdfast's estimators pass it back to continue
    (partial_fit, warm_start)."""
    theta: np.ndarray          # flat parameters [coef (K*d), intercept (K)]
    opt_state: np.ndarray      # flat optimizer state (n_state * P)
    optimizer: str
    t: int                     # optimizer steps taken
    epochs: int                # epochs completed
    plateau_lr: float
    best_loss: float
    no_improvement: int
    rng: np.random.Generator


def row_loss_dz(loss, p, y, epsilon):
    """Row losses and dloss/dp for a single-output loss (numpy, vectorized over rows).
    Shared by the reference engine and the 'optimal' schedule's t0."""
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "squared":
            r = p - y
            return 0.5 * r * r, r
        if loss == "logistic":
            m = y * p
            e = np.exp(-np.abs(m))
            sig = np.where(m > 0, e / (1 + e), 1 / (1 + e))       # sigmoid(-m)
            return np.log1p(e) + np.maximum(-m, 0), -y * sig
        if loss == "hinge":
            m = y * p
            active = m <= 1
            return np.where(active, 1 - m, 0), np.where(active, -y, 0)
        if loss == "squared_hinge":
            a = 1 - y * p
            active = a > 0
            return np.where(active, a * a, 0), np.where(active, -2 * y * a, 0)
        if loss == "modified_huber":
            m = y * p
            quad = (m >= -1) & (m < 1)
            lin = m < -1
            a = 1 - m
            val = np.where(quad, a * a, np.where(lin, -4 * m, 0))
            dz = np.where(quad, -2 * y * a, np.where(lin, -4 * y, 0))
            return val, dz
        if loss == "huber":
            r = p - y
            a = np.abs(r)
            small = a <= epsilon
            val = np.where(small, 0.5 * r * r, epsilon * a - 0.5 * epsilon * epsilon)
            return val, np.where(small, r, np.sign(r) * epsilon)
        if loss == "epsilon_insensitive":
            r = p - y
            a = np.abs(r) - epsilon
            active = a > 0
            return np.where(active, a, 0), np.where(active, np.sign(r), 0)
        if loss == "poisson":
            e = np.exp(p)
            return e - y * p, e - y
    raise ValueError(f"unknown loss {loss!r}")


def _optimal_t0(loss, alpha, epsilon):
    """scikit-learn's t0 for learning_rate='optimal' (Bottou): the initial rate is
    typw / max(1, dloss(p=-typw, y=1)) with typw = sqrt(1 / sqrt(alpha))."""
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    base = "logistic" if loss == "multinomial" else loss
    _, dz = row_loss_dz(base, np.array([-typw]), np.array([1.0]), epsilon)
    eta0 = typw / max(1.0, float(dz[0]))
    return 1.0 / (eta0 * alpha)


def _prepare_targets(y, loss, n, dtype, classes=None):
    """Encode y for the kernels: returns (y_encoded, classes, n_outputs, y_const).

    classes: the label set to encode against (classification losses), when y may lack some
    of them (a chunk of the data); None derives it from y."""
    if _is_sparse(y):
        raise TypeError("y: expected a 1-D array, got a sparse matrix")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y: expected a 1-D array of shape (n_samples,), got shape {y.shape}"
                         + (" (use y.ravel())" if y.ndim == 2 and y.shape[1] == 1 else ""))
    if y.shape[0] != n:
        raise ValueError(f"X and y have inconsistent lengths: X has {n} samples, y has "
                         f"{y.shape[0]}")
    if y.dtype.kind == "c":
        raise ValueError(f"y: complex data is not supported (dtype {y.dtype})")
    if loss in CLASSIFICATION_LOSSES:
        if y.dtype.kind == "f":
            _check_finite(y, "y")
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            unknown = np.setdiff1d(np.unique(y), classes)
            if len(unknown):
                raise ValueError(f"y: labels {_preview(unknown)} are not in classes "
                                 f"{_preview(classes)}")
        elif y.dtype.kind == "O":
            try:
                classes = np.unique(y)
            except TypeError as exc:
                raise ValueError(f"y: labels of mixed types cannot be sorted ({exc})") from None
        else:
            if loss != "multinomial" and y.dtype.kind in "biuf":
                encoded = _encode_two_numeric(y, dtype)
                if encoded is not None:
                    return encoded + (1, 0.0)
            classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"y: a classification loss needs at least 2 classes, got a single "
                             f"class {classes[0]!r}")
        if loss != "multinomial":
            if len(classes) > 2:
                raise ValueError(f"loss={loss!r} is binary: y must have exactly 2 distinct "
                                 f"labels, got {len(classes)} ({_preview(classes)}); use "
                                 "loss='multinomial' for more classes")
            return (np.where(y == classes[1], 1, -1).astype(dtype), classes, 1, 0.0)
        return np.searchsorted(classes, y).astype(dtype), classes, len(classes), 0.0
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y: loss={loss!r} is a regression loss and needs numeric targets, "
                         f"got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=dtype)
    _check_finite(y, "y")
    y_const = 0.0
    if loss == "poisson":
        if (y < 0).any():
            raise ValueError("y: loss='poisson' needs non-negative targets, got a minimum of "
                             f"{y.min()!r}")
    return y, None, 1, y_const


def _encode_two_numeric(y, dtype):
    """(y as +1 / -1 in dtype, classes) for numeric labels with exactly two distinct values,
    from their minimum and maximum; None for any other y (np.unique then finds the classes and
    names the problem).  The result of np.unique and np.where, except that where y holds both
    -0.0 and 0.0 the zero class may carry the other sign (the labels compare equal), in five
    vectorized passes over y: np.unique's hash took 6 ms for 400 000 labels, and np.where with
    astype 5 ms more."""
    if len(y) == 0:
        return None
    lo, hi = y.min(), y.max()
    if lo == hi:
        return None
    positive = y == hi
    if np.count_nonzero(positive) + np.count_nonzero(y == lo) != len(y):
        return None
    encoded = positive.astype(dtype)
    encoded *= 2
    encoded -= 1
    return encoded, np.array([lo, hi], dtype=y.dtype)


def _preview(values, k=5):
    v = list(values[:k])
    return ", ".join(repr(x.item() if hasattr(x, "item") else x) for x in v) + (
        ", ..." if len(values) > k else "")


def _prepare_weights(sample_weight, n, dtype):
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.ndim == 0:
        sw = np.full(n, sw)
    if sw.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight: expected numeric weights, got dtype {sw.dtype}")
    if sw.ndim != 1 or sw.shape[0] != n:
        raise ValueError(f"sample_weight: expected shape ({n},), got {sw.shape}")
    sw = np.ascontiguousarray(sw, dtype=dtype)
    _check_finite(sw, "sample_weight")
    if (sw < 0).any():
        raise ValueError("sample_weight: weights must be non-negative, got a minimum of "
                         f"{sw.min()!r}")
    if not (sw > 0).any():
        raise ValueError("sample_weight: all weights are zero; at least one must be positive")
    return sw


def _initial_theta(coef_init, intercept_init, K, d, dtype):
    theta = np.zeros(K * (d + 1), dtype=dtype)
    if coef_init is not None:
        c = np.asarray(coef_init)
        expected = (K, d) if K > 1 else (d,)
        if c.dtype.kind not in "biuf":
            raise ValueError(f"coef_init: expected a numeric array, got dtype {c.dtype}")
        if K == 1 and c.shape == (1, d):
            c = c.reshape(d)
        if c.shape != expected:
            raise ValueError(f"coef_init: expected shape {expected}, got {c.shape}")
        _check_finite(c, "coef_init")
        with np.errstate(over="ignore"):
            theta[:K * d] = c.reshape(-1)
        _check_finite(theta[:K * d], f"coef_init (as {np.dtype(dtype).name})")
    if intercept_init is not None:
        b = np.asarray(intercept_init)
        if b.dtype.kind not in "biuf":
            raise ValueError(f"intercept_init: expected a number or numeric array, got dtype "
                             f"{b.dtype}")
        if b.size != K or b.ndim > 1:
            raise ValueError(f"intercept_init: expected {'a scalar' if K == 1 else f'shape ({K},)'}"
                             f", got shape {b.shape}")
        _check_finite(b.reshape(-1), "intercept_init")
        with np.errstate(over="ignore"):
            theta[K * d:] = b.reshape(-1)
        _check_finite(theta[K * d:], f"intercept_init (as {np.dtype(dtype).name})")
    return theta


def _unpack(theta, K, d):
    coef = theta[:K * d].reshape(K, d) if K > 1 else theta[:d]
    intercept = theta[K * d:] if K > 1 else theta[d]
    return coef, intercept


def penalty(theta, spec, K, d):
    """alpha * ((1 - l1_ratio) / 2 * ||w||^2 + l1_ratio * ||w||_1) on the coefficients."""
    if spec.alpha == 0:
        return 0.0
    w = theta[:K * d].astype(np.float64, copy=False)
    # not w @ w: a long BLAS dot wakes OpenBLAS's threads, which then spin into the next epoch
    value = 0.0
    with np.errstate(over="ignore"):       # a huge finite w: an infinite loss, as w @ w gave
        if spec.l2:
            value += spec.l2 / 2 * float(np.square(w).sum())
        if spec.l1:
            value += spec.l1 * float(np.abs(w).sum())
    return value


# --- the driver ---------------------------------------------------------------------------

def _fit_signature(X, y, *, loss="squared", optimizer="sgd", learning_rate=0.01,
                   schedule="constant", batch_size=32, max_epochs=1000, tol=1e-3,
                   n_iter_no_change=5, alpha=1e-4, l1_ratio=0.0, fit_intercept=True,
                   shuffle=True, random_state=None, coef_init=None, intercept_init=None,
                   sample_weight=None, epsilon=0.1, momentum=None, dampening=0.0,
                   betas=(0.9, 0.999), eps=None, rho=0.99, centered=False, amsgrad=False,
                   power_t=0.5, gamma=None, step_size=10, clip_norm=None, n_threads=None,
                   parallel="deterministic", sparse_updates="dense", verbose=0, callback=None):
    """Fit a linear model by gradient descent.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        float32 data is fitted in float32 (coefficients too), float64 in float64; any other
        numeric dtype is converted to float64 once.  A C-contiguous array of the right
        dtype is never copied.  Sparse input is used as CSR: a CSR matrix or array with
        float32/float64 values and int32/int64 indices is used in place (unsorted and
        repeated column indices are fine); CSC, COO and the other formats are converted
        with .tocsr() once.
    y : array-like of shape (n_samples,)
        Targets; any two labels for a binary loss (the larger, in sorted order, is the
        positive class), K >= 2 labels for "multinomial".
    loss : {"squared", "logistic", "hinge", "squared_hinge", "modified_huber", "huber",
            "epsilon_insensitive", "poisson", "multinomial"}
    optimizer : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}
        torch.optim's update rules; the options of other optimizers are ignored.
    learning_rate : float > 0
        The base rate (unused by schedule="optimal").
    schedule : {"constant", "invscaling", "optimal", "exponential", "step", "cosine",
                "plateau"}
        invscaling: lr / t**power_t and optimal: 1 / (alpha (t0 + t - 1)) per step t;
        exponential: lr * gamma**epoch; step: lr * gamma**(epoch // step_size); cosine:
        lr * (1 + cos(pi epoch / max_epochs)) / 2; plateau: lr / 5 each time the loss fails
        to improve by tol for n_iter_no_change epochs while lr > 1e-6; the next such plateau
        stops the fit (scikit-learn's "adaptive").
    batch_size : int >= 1 or None
        1: stochastic; b: mini-batch (the last, partial batch of an epoch is used); None:
        full batch.  A batch_size larger than n_samples is a full batch.
    max_epochs, tol, n_iter_no_change :
        Stop when the epoch loss has not improved by tol for n_iter_no_change epochs in a
        row (tol=None runs all max_epochs).
    alpha, l1_ratio :
        Penalty alpha * ((1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1) on the
        coefficients (never the intercept).  The L2 part enters the gradient (torch's
        weight_decay), except for adamw, where it is the decoupled decay lr * l2 * w; the L1
        part is a soft-threshold by lr * alpha * l1_ratio after each step.
    fit_intercept, shuffle, random_state :
        With shuffle=True, each epoch visits the rows in a new uniformly random order (a
        Fisher-Yates shuffle seeded by one 64-bit draw from
        rng = np.random.default_rng(random_state)).  A full batch is not shuffled (the order
        of its rows would change only the rounding), and draws no permutation.
    coef_init, intercept_init : initial parameters (zeros by default).  With
        fit_intercept=False the intercept stays at intercept_init (0 by default).
    sample_weight : array-like of shape (n_samples,), non-negative
        The batch gradient is the mean over the batch of sample_weight[i] * grad loss_i.
    epsilon : float >= 0, for "huber" and "epsilon_insensitive".
    momentum : float in [0, 1) or None
        None: 0.9 for "momentum" and "nesterov", 0 for "rmsprop" (torch's default).
    dampening, betas, eps, rho, centered, amsgrad : torch.optim's options; eps=None is the
        optimizer's torch default (1e-10 for adagrad, 1e-8 otherwise).
    power_t : float, for "invscaling".
    gamma : float in (0, 1] or None (0.1 for "step", 0.95 for "exponential").
    step_size : int >= 1, epochs per decay for "step".
    clip_norm : float > 0 or None
        Scale each batch gradient g (the data term, before the penalty) by
        min(1, clip_norm / (||g|| + 1e-6)), as torch.nn.utils.clip_grad_norm_.
    n_threads : int or None
        None: all the threads OpenMP would use (honours OMP_NUM_THREADS and threadpoolctl);
        negative: counted from the end (-1 = all).  Results do not depend on it, except
        with parallel="hogwild".
    parallel : {"deterministic", "hogwild"}
        "hogwild" (sparse X only): the threads run over disjoint shards of each epoch's
        row order and update the shared parameters without locks (Niu et al., 2011).
        Faster for per-sample and small-batch steps on sparse data; the results vary from
        run to run.  Adaptive optimizers need sparse_updates="lazy" with it, and momentum
        and nesterov do not support l1_ratio > 0 with it.
    sparse_updates : {"dense", "lazy"}
        For sparse X and the adaptive optimizers (adagrad, rmsprop, adam, adamw).
        "dense": every coefficient takes every step, exactly as on X.toarray() (O(n_features)
        per step).  "lazy": only the coefficients of the features present in the batch's
        rows (an explicitly stored zero counts as present) take the step, with their
        penalty term and moments; the others are left as they are (TensorFlow's LazyAdam);
        O(nnz of the batch) per step.  sgd, momentum and nesterov always give the "dense"
        result, in O(nnz) per step where a closed form exists (see the README).
    verbose : int
        > 0 prints a line per epoch: epoch, loss, learning rate, time.
    callback : callable or None
        Called after each epoch with a dict (epoch, loss, learning_rate, n_steps, time,
        coef, intercept: read-only views of the current parameters); returning True stops
        the fit.

    Returns
    -------
    FitResult
    """


FIT_SIGNATURE = inspect.signature(_fit_signature)


def run_fit(engine_cls, X, y, kwargs, *, resume=None, horizon=None, classes=None):
    """Bind kwargs against the public signature, validate everything, then drive epochs on
    an engine of class engine_cls.

    resume: a TrainingState to continue from (coef_init and intercept_init are then ignored;
    the data must have the same number of features and outputs).  horizon: the epoch count
    that per-epoch schedules plan for (cosine), when it is not max_epochs (partial_fit).
    classes: the labels of a classification loss when y may lack some of them (partial_fit
    on a chunk, a one-vs-rest model whose rows hold a single label); None takes them from y."""
    try:
        bound = FIT_SIGNATURE.bind(X, y, **kwargs)
    except TypeError as exc:
        raise TypeError(f"fit(): {exc}") from None
    bound.apply_defaults()
    a = bound.arguments

    loss = _check_choice(a["loss"], "loss", tuple(LOSSES))
    optimizer = _check_choice(a["optimizer"], "optimizer", tuple(OPTIMIZERS))
    schedule = _check_choice(a["schedule"], "schedule", SCHEDULES)
    learning_rate = _check_real(a["learning_rate"], "learning_rate", low=0, low_open=True)
    max_epochs = _check_int(a["max_epochs"], "max_epochs", low=1)
    tol = None if a["tol"] is None else _check_real(a["tol"], "tol", low=0)
    n_iter_no_change = _check_int(a["n_iter_no_change"], "n_iter_no_change", low=1)
    alpha = _check_real(a["alpha"], "alpha", low=0)
    l1_ratio = _check_real(a["l1_ratio"], "l1_ratio", low=0, high=1)
    fit_intercept = _check_bool(a["fit_intercept"], "fit_intercept")
    shuffle = _check_bool(a["shuffle"], "shuffle")
    epsilon = _check_real(a["epsilon"], "epsilon", low=0)
    momentum = a["momentum"]
    if momentum is None:
        momentum = 0.9 if optimizer in ("momentum", "nesterov") else 0.0
    momentum = _check_real(momentum, "momentum", low=0, high=1, high_open=True)
    dampening = _check_real(a["dampening"], "dampening", low=0, high=1)
    if optimizer == "nesterov" and (momentum <= 0 or dampening != 0):
        raise ValueError("optimizer='nesterov' requires momentum > 0 and dampening=0")
    betas = a["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1 = _check_real(betas[0], "betas[0]", low=0, high=1, high_open=True)
    beta2 = _check_real(betas[1], "betas[1]", low=0, high=1, high_open=True)
    eps = DEFAULT_EPS.get(optimizer, 1e-8) if a["eps"] is None else a["eps"]
    eps = _check_real(eps, "eps", low=0, low_open=True)
    rho = _check_real(a["rho"], "rho", low=0, high=1, high_open=True)
    centered = _check_bool(a["centered"], "centered")
    amsgrad = _check_bool(a["amsgrad"], "amsgrad")
    power_t = _check_real(a["power_t"], "power_t")
    gamma = DEFAULT_GAMMA.get(schedule, 0.1) if a["gamma"] is None else a["gamma"]
    gamma = _check_real(gamma, "gamma", low=0, high=1, low_open=True)
    step_size = _check_int(a["step_size"], "step_size", low=1)
    clip_norm = (0.0 if a["clip_norm"] is None
                 else _check_real(a["clip_norm"], "clip_norm", low=0, low_open=True))
    if schedule == "optimal" and alpha == 0:
        raise ValueError("schedule='optimal' needs alpha > 0 (its rate is 1 / (alpha (t0 + t)))")
    batch_size = a["batch_size"]
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", low=1)
    verbose = a["verbose"]
    if not isinstance(verbose, numbers.Integral):          # bool is an Integral too
        raise TypeError(f"verbose must be an integer, got {verbose!r}")
    callback = a["callback"]
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    parallel = _check_choice(a["parallel"], "parallel", PARALLEL)
    sparse_updates = _check_choice(a["sparse_updates"], "sparse_updates", SPARSE_UPDATES)
    random_state = a["random_state"]
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"random_state: expected None, an int or a numpy Generator, got "
                         f"{random_state!r} ({exc})") from None

    # the native engine checks X on its threads; the reference on one (no OpenMP pool, so a
    # process forked after a reference fit keeps its threads)
    check_threads = (effective_n_threads(a["n_threads"]) if getattr(engine_cls, "native", False)
                     else 1)
    Xa = _as_float_2d(X, "X", n_threads=check_threads)
    n, d = Xa.shape
    if (isinstance(Xa, CSR) and d >= 2 ** 31 - 1
            and (parallel == "hogwild" or sparse_updates == "lazy")):
        raise ValueError(f"parallel='hogwild' and sparse_updates='lazy' support fewer than "
                         f"2**31 - 1 features, got {d}")
    if parallel == "hogwild":
        if not isinstance(Xa, CSR):
            raise ValueError("parallel='hogwild' needs a sparse X (scipy.sparse); dense X is "
                             "always fitted deterministically")
        if optimizer in ADAPTIVE_OPTIMIZERS and sparse_updates != "lazy":
            raise ValueError(f"parallel='hogwild' with optimizer={optimizer!r} needs "
                             "sparse_updates='lazy' (the 'dense' updates are O(n_features) per "
                             "step)")
        if optimizer in ("momentum", "nesterov") and alpha * l1_ratio > 0:
            raise ValueError(f"parallel='hogwild' with optimizer={optimizer!r} does not "
                             "support an L1 penalty (l1_ratio > 0)")
    dtype = Xa.dtype
    ya, classes, K, _ = _prepare_targets(y, loss, n, dtype, classes)
    sw = _prepare_weights(a["sample_weight"], n, dtype)
    y_const = 0.0
    if loss == "poisson":
        yd = ya.astype(np.float64)
        ylogy = np.where(yd > 0, yd * np.log(np.where(yd > 0, yd, 1.0)), 0.0) - yd
        y_const = float(np.mean(ylogy * (1.0 if sw is None else sw)))
    if resume is None:
        theta = _initial_theta(a["coef_init"], a["intercept_init"], K, d, dtype)
        opt_state, t0 = None, 0
    else:
        if resume.theta.shape != (K * (d + 1),):
            raise ValueError(f"cannot continue a fit of {resume.theta.shape[0]} parameters on "
                             f"data with {d} features and {K} output(s)")
        if resume.optimizer != optimizer:
            raise ValueError(f"cannot continue a fit made with optimizer={resume.optimizer!r} "
                             f"using optimizer={optimizer!r}")
        theta = resume.theta.astype(dtype, copy=True)
        opt_state, t0 = resume.opt_state.astype(dtype, copy=True), resume.t
        rng = resume.rng
    problem = Problem(X=Xa, y=ya, sw=sw, n_outputs=K, classes=classes, y_const=y_const)
    spec = Spec(
        loss=loss, epsilon=epsilon, optimizer=optimizer, momentum=momentum,
        dampening=dampening, beta1=beta1, beta2=beta2, eps=eps, rho=rho, centered=centered,
        amsgrad=amsgrad, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
        clip_norm=clip_norm, schedule=schedule, learning_rate=learning_rate, power_t=power_t,
        gamma=gamma, step_size=step_size,
        optimal_t0=_optimal_t0(loss, alpha, epsilon) if schedule == "optimal" else 0.0,
        batch_size=n if batch_size is None else min(batch_size, n),
        sparse_updates=sparse_updates, hogwild=parallel == "hogwild",
    )
    engine = engine_cls(problem, spec, theta, a["n_threads"], opt_state=opt_state, t=t0)
    return _drive(engine, problem, spec, rng=rng, shuffle=shuffle, max_epochs=max_epochs,
                  tol=tol, n_iter_no_change=n_iter_no_change, verbose=int(verbose),
                  callback=callback, resume=resume, horizon=horizon or max_epochs)


def _epoch_lr(spec, epoch, horizon, plateau_lr):
    """The base learning rate of epoch (0-based, counted over the whole training) for the
    per-epoch schedules; cosine anneals to 0 over `horizon` epochs."""
    s, lr = spec.schedule, spec.learning_rate
    if s == "exponential":
        return lr * spec.gamma ** epoch
    if s == "step":
        return lr * spec.gamma ** (epoch // spec.step_size)
    if s == "cosine":
        return lr * (1 + math.cos(math.pi * min(epoch, horizon) / horizon)) / 2
    if s == "plateau":
        return plateau_lr
    return lr


class Shuffle:
    """The row order of a shuffled epoch: the uniformly random permutation of range(n) that
    the native Fisher-Yates shuffle (gd_permutation) draws from seed.  The reference engine
    takes it whole (array()); the native engine's dense epochs draw it as they go
    (gd_epoch_dense_shuffled), which reads the same order."""

    __slots__ = ("n", "seed")

    def __init__(self, n, seed):
        self.n, self.seed = int(n), int(seed)

    def array(self):
        return _kernels.permutation(self.n, self.seed)


def shuffled_order(rng, n):
    """An epoch's Shuffle, seeded by one 64-bit draw from rng: 0.8 to 1.9 ms for 400 000 rows
    drawn whole (numpy's rng.permutation took 4 to 5 ms), next to nothing when a native epoch
    on several threads draws it between its rows.  Both engines get their orders from here, so
    they see the same batches."""
    return Shuffle(n, int(rng.integers(0, 2**64, dtype=np.uint64)))


def _drive(engine, problem, spec, *, rng, shuffle, max_epochs, tol, n_iter_no_change,
           verbose, callback, resume, horizon):
    n, d, K = problem.n, problem.d, problem.n_outputs
    history = []
    converged = False
    if resume is None:
        best_loss, no_improvement, plateau_lr, done = np.inf, 0, spec.learning_rate, 0
    else:
        best_loss, no_improvement = resume.best_loss, resume.no_improvement
        plateau_lr, done = resume.plateau_lr, resume.epochs
    lr = spec.learning_rate
    t_start = time.perf_counter()

    def result():
        theta = engine.theta.copy()
        coef, intercept = _unpack(theta, K, d)
        res = FitResult(coef=coef, intercept=intercept, classes=problem.classes,
                        loss=spec.loss, loss_history=np.asarray(history, dtype=np.float64),
                        n_epochs=len(history), n_steps=engine.t, converged=converged)
        res.state = TrainingState(theta=theta, opt_state=engine.flat_state().copy(),
                                  optimizer=spec.optimizer, t=engine.t,
                                  epochs=done + len(history), plateau_lr=plateau_lr,
                                  best_loss=best_loss, no_improvement=no_improvement, rng=rng)
        return res

    for epoch in range(max_epochs):
        # a full batch sums over every row whatever the order: no permutation is drawn
        order = shuffled_order(rng, n) if shuffle and spec.batch_size < n else None
        lr = _epoch_lr(spec, done + epoch, horizon, plateau_lr)
        ok, loss_sum = engine.run_epoch(order, lr)
        if not ok or not np.isfinite(engine.theta).all():
            raise DivergenceError(
                f"the loss or the parameters became NaN or infinite at epoch {epoch + 1}, "
                f"step {engine.t}; try a smaller learning_rate (now {lr:g}), scaling the "
                "features (e.g. StandardScaler), or a larger alpha",
                epoch=epoch + 1, step=engine.t, result=result())
        loss = loss_sum / n + problem.y_const + penalty(engine.theta, spec, K, d)
        history.append(loss)
        elapsed = time.perf_counter() - t_start
        step_lr = engine.step_lr(lr) if spec.schedule in STEP_RULES else lr
        if verbose:
            print(f"-- Epoch {epoch + 1}: loss {loss:.6g}, learning rate {step_lr:.4g}, "
                  f"steps {engine.t}, time {elapsed:.3f}s", file=sys.stdout, flush=True)
        if callback is not None:
            coef, intercept = _unpack(engine.theta, K, d)
            coef = coef.view()
            coef.flags.writeable = False
            if K > 1:
                intercept = intercept.view()
                intercept.flags.writeable = False
            record = {"epoch": epoch + 1, "loss": loss, "learning_rate": step_lr,
                      "n_steps": engine.t, "time": elapsed, "coef": coef,
                      "intercept": intercept}
            if callback(record) is True:
                break
        if tol is not None or spec.schedule == "plateau":
            threshold = tol if tol is not None else 0.0
            no_improvement = no_improvement + 1 if loss > best_loss - threshold else 0
            best_loss = min(best_loss, loss)
            if no_improvement >= n_iter_no_change:
                # scikit-learn's "adaptive": divide while the rate is above 1e-6, else stop
                if spec.schedule == "plateau" and plateau_lr > PLATEAU_MIN_LR:
                    plateau_lr /= PLATEAU_FACTOR
                    no_improvement = 0
                elif tol is not None:
                    converged = True
                if converged:
                    if verbose:
                        print(f"Converged after {epoch + 1} epochs (tol={tol:g})", flush=True)
                    break
    return result()


def make_fit(engine_factory, name, doc_extra=""):
    """A fit function with the public signature that runs on the engine engine_factory()."""
    def fit(X, y, **kwargs):
        return run_fit(engine_factory(), X, y, kwargs)

    fit.__signature__ = FIT_SIGNATURE
    fit.__doc__ = _fit_signature.__doc__ + doc_extra
    fit.__name__ = fit.__qualname__ = "fit"
    fit.__module__ = name
    return fit

"""Checks of fit's arguments and of the arrays it is given: option values (choices, reals,
integers, booleans), dense arrays and scipy.sparse matrices (dtype, shape, finiteness, CSR
structure), converted once into the layout the kernels read.

The messages name the argument at fault; fit (_problem.py), predict (_result.py), the thread
rule (_threads.py) and the estimators all check through here.
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Union

import numpy as np
from numpy.typing import ArrayLike

from gdfast import _kernels

if TYPE_CHECKING:
    from scipy.sparse import sparray, spmatrix

# X as fit and predict accept it: an array-like, or a scipy.sparse matrix or array
MatrixLike = Union[ArrayLike, "spmatrix", "sparray"]


def is_sparse(X):
    """Whether X is a scipy.sparse matrix or array (told without importing scipy)."""
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def is_dask(X):
    """Whether X is a dask collection (the dask protocol, told without importing dask)."""
    return callable(getattr(X, "__dask_graph__", None)) and X.__dask_graph__() is not None


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


def as_csr(X, name, finite=True, n_threads=1):
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


def as_float_2d(X, name, finite=True, n_threads=1):
    """X as a C-contiguous float32/float64 2-D array: no copy when it already is one (other
    float and integer dtypes become float64, once)."""
    if is_sparse(X):
        return as_csr(X, name, finite, n_threads)
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
        check_finite(arr, name, n_threads)
    return arr


def check_finite(arr, name, n_threads=1):
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


def check_sample_weight(sample_weight, n, dtype=np.float64):
    """sample_weight as a C-contiguous array of shape (n,) and dtype (a scalar is broadcast),
    or None for unit weights: numeric, finite and non-negative."""
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.ndim == 0:
        sw = np.full(n, sw)
    if sw.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight: expected numeric weights, got dtype {sw.dtype}")
    if sw.shape != (n,):
        raise ValueError(f"sample_weight: expected shape ({n},), got {sw.shape}")
    sw = np.ascontiguousarray(sw, dtype=dtype)
    check_finite(sw, "sample_weight")
    if (sw < 0).any():
        raise ValueError("sample_weight: weights must be non-negative, got a minimum of "
                         f"{sw.min()!r}")
    return sw


def check_some_positive(weights, name):
    """Raise unless one of the weights is positive (None stands for unit weights)."""
    if weights is not None and not (weights > 0).any():
        raise ValueError(f"{name}: all weights are zero; at least one must be positive")


def check_choice(value, name, choices):
    """value, when it is one of the strings choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; expected one of "
                         f"{', '.join(repr(c) for c in choices)}")
    return value


def check_real(value, name, *, low=None, high=None, low_open=False, high_open=False,
               also=()):
    """value as a float, when it is a finite real number in the interval from low to high
    (closed unless low_open / high_open; None: unbounded).  also: the other values the
    option takes (checked by the caller), named in the messages."""
    others = "".join(f" or {a!r}" for a in also)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number{others}, got {type(value).__name__} "
                        f"{value!r}")
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
        raise ValueError(f"{name} must be a finite number in {interval}{others}, got "
                         f"{value!r}")
    return value


def check_int(value, name, *, low=None, also=()):
    """value as an int, when it is an integer (not a bool) of at least low.  also: as for
    check_real."""
    others = "".join(f" or {a!r}" for a in also)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer{others}, got {type(value).__name__} "
                        f"{value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be an integer >= {low}{others}, got {value}")
    return value


def check_bool(value, name):
    """value as a bool, when it is a Python or numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_predict_X(X, n_features):
    """X to predict on: a float array, or the scipy matrix of validated CSR input, with the
    model's number of features (NaN and infinity are let through)."""
    X = as_float_2d(X, "X", finite=False)
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but the model was fit with "
                         f"{n_features}")
    return X.matrix if isinstance(X, CSR) else X

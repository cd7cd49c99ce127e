"""What runs on the workers: plain functions of one block (picklable by reference, importing
nothing of dask), and the combiners of their results, which the reductions of engine.py and
data.py arrange in a fixed tree over the block index.

A block is what prepare() returns: the rows of one row-chunk validated and in the kernels'
layout (Block), built once on the worker that holds the chunk.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from gdfast import _kernels
from gdfast._driver import Shuffle
from gdfast._native import NativeEngine
from gdfast._options import CLASSIFICATION_LOSSES
from gdfast._problem import Problem, prepare_targets
from gdfast._validation import CSR, as_float_2d, check_sample_weight, is_sparse


@dataclass(frozen=True)
class Block:
    """One row-chunk of the data, validated: X (C-contiguous array or CSR) of the fit's dtype,
    y encoded as the kernels read it, sw or None; n its rows (X is None when n is 0)."""
    X: object
    y: np.ndarray | None
    sw: np.ndarray | None
    n: int


class BlockError(ValueError):
    """Bad data in one block, named by its index and rows."""


def _in_block(exc, index, start, n):
    return BlockError(f"block {index} (rows {start} to {start + n - 1}) of the data: {exc}")


def scan(y, sw, *, loss, index, start):
    """The label set and weight sums of one block's y and sample_weight, before any encoding:
    a dict with n, labels (classification: the sorted distinct labels), sw_sum, and for
    poisson the sums that fix its constant and its curvature."""
    y = np.asarray(y)
    n = y.shape[0] if y.ndim else 0
    try:
        if y.ndim != 1:
            raise ValueError(f"y: expected a 1-D array, got shape {y.shape}")
        w = check_sample_weight(sw, n, np.float64)
        out = {"n": n, "sw_sum": float(n if w is None else w.sum())}
        if loss in CLASSIFICATION_LOSSES:
            if y.dtype.kind == "f" and not np.isfinite(y).all():
                raise ValueError("y: contains NaN or infinity")
            out["labels"] = np.unique(y)
        elif n:
            yd, _, _ = prepare_targets(y, loss, n, np.float64)
            ww = 1.0 if w is None else w
            if loss == "poisson":
                from gdfast._losses import poisson_ylogy
                out["ylogy"] = float(np.sum((poisson_ylogy(yd) - yd) * ww))
                out["sw_y"] = float(np.sum(yd * ww))
    except (TypeError, ValueError) as exc:
        raise _in_block(exc, index, start, n) from None
    return out


def combine_scans(a, b):
    out = {"n": a["n"] + b["n"], "sw_sum": a["sw_sum"] + b["sw_sum"]}
    if "labels" in a:
        out["labels"] = np.unique(np.concatenate([a["labels"], b["labels"]]))
    for key in ("ylogy", "sw_y"):
        if key in a or key in b:
            out[key] = a.get(key, 0.0) + b.get(key, 0.0)
    return out


def prepare(X, y, sw, *, loss, dtype, classes, index, start, finite=True):
    """The Block of one row-chunk: X checked (numeric, finite unless finite=False: values
    checked already) and in dtype, y encoded against the fit's classes, the weights
    checked."""
    n = X.shape[0]
    if n == 0:
        return Block(None, None, None, 0)
    try:
        Xa = as_float_2d(X, "X", finite=finite)
        if Xa.dtype != dtype:
            Xa = (as_float_2d(X.astype(dtype), "X") if is_sparse(X)
                  else np.ascontiguousarray(Xa, dtype=dtype))
        ya, _, _ = prepare_targets(y, loss, n, dtype, classes)
        swa = check_sample_weight(sw, n, dtype)
    except (TypeError, ValueError) as exc:
        raise _in_block(exc, index, start, n) from None
    return Block(Xa, ya, swa, n)


@functools.lru_cache(maxsize=16)
def _config(items):
    return _kernels.Config(**dict(items))


def config_items(kernel_config):
    """The kernel configuration as a hashable tuple (the key of each worker's cached
    Config)."""
    return tuple(sorted(kernel_config.items()))


def gradient(block, theta, config, n_params, zero_y=False, n_threads=None):
    """(ok, sum_i sw_i grad loss_i over the block in float64, sum_i sw_i loss_i) at theta:
    one pass of the native fused gradient (the squared loss at y = 0 with zero_y: the Gram
    product of NativeEngine.gram)."""
    if block.n == 0:
        return True, np.zeros(n_params), 0.0
    cfg = _config(config)
    X = block.X
    dtype = X.dtype
    d = X.shape[1]
    y = np.zeros(block.n, dtype=dtype) if zero_y else block.y
    sw = block.sw if block.sw is not None else np.empty(0, dtype=dtype)
    theta = np.ascontiguousarray(theta, dtype=dtype)
    grad = np.empty(n_params, dtype=dtype)
    work = np.empty(cfg.work_size(d), dtype=dtype)
    threads = _threads(n_threads)
    rows = np.empty(0, dtype=np.int64)
    if isinstance(X, CSR):
        status, loss = _kernels.grad_csr(cfg, X.data, X.indices, X.indptr, d, y, sw, rows,
                                         theta, grad, work, threads, False)
    else:
        status, loss = _kernels.grad_dense(cfg, X, y, sw, rows, theta, grad, work, threads,
                                           False)
    if status == _kernels.STATUS_ARGUMENT:
        raise RuntimeError("gdfast: the native kernel rejected its arguments (a bug; please "
                           "report it)")
    # the kernel returns the block's mean; the reduction sums in float64
    return status == _kernels.STATUS_OK, grad.astype(np.float64) * block.n, loss


def combine_gradients(a, b):
    return a[0] and b[0], a[1] + b[1], a[2] + b[2]


def column_moments(block):
    """(sum sw x_j, sum sw x_j^2, sum sw) of one block, float64 (Problem.column_moments)."""
    if block.n == 0:
        return None
    return Problem(X=block.X, y=block.y, sw=block.sw, n_outputs=1, classes=None,
                   y_const=0.0).column_moments(n_threads=1)[:3]


def combine_moments(a, b):
    if a is None or b is None:
        return b if a is None else a
    with np.errstate(invalid="ignore", over="ignore"):
        return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def max_row_norm(block, fit_intercept):
    if block.n == 0:
        return 0.0
    return Problem(X=block.X, y=block.y, sw=block.sw, n_outputs=1, classes=None,
                   y_const=0.0).max_row_norm(fit_intercept)


def take_rows(block, rows):
    """(X[rows] as float64, sw[rows] as float64 or None) of one block, local row indices."""
    X = block.X.matrix[rows].toarray() if isinstance(block.X, CSR) else block.X[rows]
    sw = None if block.sw is None else block.sw[rows].astype(np.float64)
    return X.astype(np.float64), sw


def nnz(block):
    return 0 if block.n == 0 else int(block.X.nnz if isinstance(block.X, CSR)
                                      else block.n * block.X.shape[1])


def train(block, theta, state, t, spec, n_outputs, lr_epoch, seed, start, stop, weight,
          n_threads=None):
    """Positions start..stop of this block's epoch (its rows in the order Shuffle(n, seed)
    draws, or in order when seed is None) from theta, state and step t, by the native epoch
    kernels.  Returns (ok, weight * theta, weight * state (float64), loss sum, t after)."""
    problem = Problem(X=block.X, y=block.y, sw=block.sw, n_outputs=n_outputs, classes=None,
                      y_const=0.0)
    spec = replace(spec, batch_size=min(spec.batch_size, block.n))
    dtype = block.X.dtype
    engine = NativeEngine(problem, spec, np.array(theta, dtype=dtype), _threads(n_threads),
                          opt_state=np.array(state, dtype=dtype), t=t)
    order = None if seed is None else Shuffle(block.n, seed)
    ok, loss = engine.run_epoch(order, lr_epoch, start=start, stop=stop)
    ok = ok and bool(np.isfinite(engine.theta).all())
    return (ok, engine.theta.astype(np.float64) * weight,
            engine.state.astype(np.float64) * weight, loss, engine.t)


class Packed:
    """Arguments that dask does not look into (the graph's builders walk every list, tuple,
    dict and dataclass of an argument, which costs more than the step itself); a Slot in
    them stands for the i-th array sent to the workers on its own (shipped)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Slot:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _fill(value, shipped):
    return shipped[value.index] if isinstance(value, Slot) else value


def run_many(blocks, packed, *shipped):
    """fn(block, *args, **kwargs) for each block and its (fn, args, kwargs) in packed, in
    order: the calls of one worker in one task."""
    out = []
    for b, (fn, a, kw) in zip(blocks, packed.value, strict=True):
        out.append(fn(b, *[_fill(v, shipped) for v in a],
                      **{k: _fill(v, shipped) for k, v in kw.items()}))
    return out


def combine_trained(a, b):
    return a[0] and b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], max(a[4], b[4])


def _threads(n_threads):
    from gdfast._threads import effective_n_threads
    return effective_n_threads(n_threads)


__all__ = ["Block", "BlockError", "scan", "prepare", "gradient", "train", "column_moments",
           "max_row_norm", "take_rows", "nnz", "combine_scans", "combine_gradients",
           "combine_moments", "combine_trained", "config_items"]

"""The Problem interface (_problem.Problem) over row-blocks, whatever holds them: the dask
blocks on the workers (_dask/data.py's DaskProblem) or a file's chunks on disk
(_stream.py's StreamProblem).  A subclass supplies run(calls, combine, result_bytes), which
calls fn(block, *args, **kwargs) on each named block; everything here is built on it.

Imports nothing of dask: streaming a file needs no dask.
"""
from __future__ import annotations

import numpy as np

from gdfast._dask import tasks
from gdfast._options import CLASSIFICATION_LOSSES
from gdfast._problem import Problem, prepare_targets


def tree(values, combine):
    """The reduction of values by combine, pairwise in a fixed order over their index:
    ((v0 + v1) + (v2 + v3)) + ..., the same pairs (and so the same bits) whatever runs it;
    combine may build a graph (dask's Delayed) rather than compute."""
    values = list(values)
    if not values:
        raise ValueError("tree: nothing to reduce")
    while len(values) > 1:
        paired = [combine(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]
        if len(values) % 2:
            paired.append(values[-1])
        values = paired
    return values[0]


class BlockProblem:
    """The reductions and row sampling the "auto" options read, over the blocks in a fixed
    order (so the same blocks give the same bits).  Subclasses set n, d, dtype, sparse,
    n_outputs, classes, y_const, starts (the first row of each block, then n), block_rows,
    _nnz and _mean_target."""

    n_params = Problem.n_params
    unpack = Problem.unpack

    @property
    def nnz(self):
        return self._nnz

    @property
    def n_blocks(self):
        return len(self.block_rows)

    def _set_labels(self, summary, loss, classes):
        """classes and n_outputs from the scan's summary (tasks.combine_scans), with the
        in-memory checks and encoding on the label set: the same messages."""
        if loss in CLASSIFICATION_LOSSES:
            labels = summary["labels"]
            _, classes, K = prepare_targets(labels if classes is None else np.asarray(classes),
                                            loss, len(labels) if classes is None
                                            else len(np.asarray(classes)), self.dtype)
            unknown = np.setdiff1d(labels, classes)
            if len(unknown):
                raise ValueError(f"y: labels {list(unknown[:5])} are not in classes "
                                 f"{list(classes[:5])}")
            self.classes, self.n_outputs = classes, K
        else:
            self.classes, self.n_outputs = None, 1

    def run(self, calls, combine=None, result_bytes=0):   # pragma: no cover - abstract
        raise NotImplementedError

    def reduce(self, fn, combine, *args, result_bytes=0, **kwargs):
        """fn(block, *args, **kwargs) on every block, reduced by combine in the fixed tree."""
        calls = [(fn, i, args, kwargs) for i in range(self.n_blocks)]
        return self.run(calls, combine, result_bytes)

    def column_moments(self, n_threads=None, residuals=None):
        # each block's on its worker (tasks.column_moments), summed in the fixed tree; the
        # gradient at coefficients zero (Problem's residuals, n rows here on the client) is
        # left to the first pass
        if residuals is not None:
            raise ValueError("column_moments: residuals need the rows in memory")
        out = self.reduce(tasks.column_moments, tasks.combine_moments,
                          result_bytes=16 * self.d)
        s1, s2, total = out
        return s1, s2, float(total), None

    def max_row_norm(self, fit_intercept):
        return float(self.reduce(tasks.max_row_norm, max, fit_intercept))

    def mean_target(self):
        return self._mean_target

    def sample_rows(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        calls = [(tasks.take_rows, int(i), (rows[which == i] - self.starts[i],), {})
                 for i in np.unique(which)]
        got = self.run(calls)
        X = np.concatenate([g[0] for g in got])
        sw = None if got[0][1] is None else np.concatenate([g[1] for g in got])
        return X, sw

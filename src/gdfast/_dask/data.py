"""Dask collections as the blocks of a fit: the inputs aligned by row-chunk, scanned and
validated on the workers (DaskProblem), and the reductions over the blocks in a fixed tree.

Nothing here gathers a block on the client: every reduction returns O(n_features) numbers.
"""
from __future__ import annotations

import math
import operator
import os

import dask
import dask.array as da
import numpy as np
from dask import delayed

from gdfast import _blocks as blocks
from gdfast._blocks import BlockProblem
from gdfast._dask import tasks
from gdfast._dask.servers import Servers
from gdfast._validation import check_some_positive, is_dask

# persist="auto" holds the validated blocks in the workers' memory when they take at most this
# share of it (of the host's, without a distributed client); beyond it they are streamed: read
# (or computed) again by every pass
PERSIST_SHARE = 0.5
# the blocks' results are summed on the client (in the same fixed tree) when they take at most
# this much together, which saves the tree's tasks and their round trips; beyond it the tree
# runs on the workers and only its root reaches the client
CLIENT_SUM_BYTES = 2 ** 25
# an argument array larger than this (the parameters of a wide model) is sent to each worker
# once a call, not once a block
SCATTER_BYTES = 2 ** 20


def tree(values, combine, lazy=True):
    """_blocks.tree's fixed pairwise reduction, as a graph of Delayed (lazy) or here, on
    computed values (the same pairs, the same bits)."""
    return blocks.tree(values, delayed(combine, pure=True) if lazy else combine)


class BlockLostError(RuntimeError):
    """Blocks of the data lost with a worker, that dask cannot recompute."""


def _as_array(x, name, *, matrix):
    """A dask DataFrame, Series or Array (or an in-memory array) as a dask array with known
    row-chunk sizes."""
    if x is None:
        return None
    if hasattr(x, "to_dask_array"):                   # DataFrame / Series
        if matrix and hasattr(x, "dtypes"):
            bad = [c for c, t in x.dtypes.items() if t.kind not in "biuf"]
            if bad:
                raise ValueError(f"{name}: expected numeric columns, got {bad[:5]} of dtypes "
                                 f"{[str(x.dtypes[c]) for c in bad[:5]]} (encode them first)")
        x = x.to_dask_array(lengths=True)
    elif not isinstance(x, da.Array):
        if is_dask(x):
            raise TypeError(f"{name}: expected a dask Array, DataFrame or Series, got "
                            f"{type(x).__name__}")
        x = da.from_array(x, chunks=-1, asarray=False) if hasattr(x, "tocsr") else \
            da.from_array(np.asarray(x), chunks=-1)
    if any(math.isnan(c) for c in x.chunks[0]):
        x = x.compute_chunk_sizes()
    return x


def as_blocks(X, y, sample_weight):
    """(X, y, sample_weight) as dask arrays with the same row chunks and X in one column
    chunk."""
    X = _as_array(X, "X", matrix=True)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array of shape (n_samples, n_features), got "
                         f"{X.ndim}-D with shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X: expected at least 1 sample and 1 feature, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X: expected a numeric array, got dtype {X.dtype}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    rows = X.chunks[0]
    out = [X]
    for name, v in (("y", y), ("sample_weight", sample_weight)):
        v = _as_array(v, name, matrix=False)
        if v is not None:
            if v.ndim != 1:
                raise ValueError(f"{name}: expected a 1-D array of shape (n_samples,), got "
                                 f"shape {v.shape}")
            if v.shape[0] != X.shape[0]:
                raise ValueError(f"X and {name} have inconsistent lengths: X has {X.shape[0]} "
                                 f"samples, {name} has {v.shape[0]}")
            if v.chunks[0] != rows:
                v = v.rechunk((rows,))
        out.append(v)
    return tuple(out)


def _fit_dtype(dtype):
    return np.dtype(dtype) if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _client():
    """The distributed Client that dask.compute would use now, or None (no client, or a
    scheduler chosen by dask.config)."""
    try:
        from distributed import default_client
        client = default_client()
    except (ImportError, ValueError):
        return None
    get = dask.base.get_scheduler()
    return client if getattr(get, "__self__", None) is client else None


def memory_budget():
    """The memory the blocks may be held in: the workers' limits with a distributed client,
    else the host's."""
    client = _client()
    if client is not None:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        limits = [w.get("memory_limit") or 0 for w in workers]
        if limits and all(limits):
            return float(sum(limits))
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return math.inf


class DaskProblem(BlockProblem):
    """The Problem interface (_problem.Problem) over the row-chunks of dask collections: the
    shape, dtype, labels and constants found by one scan, the blocks validated on the workers
    (held there, or recomputed by each pass), and the statistics the "auto" options read,
    each a reduction in a fixed tree over the blocks."""

    def __init__(self, X, y, sample_weight, loss, classes, persist="auto"):
        if y is None:
            raise TypeError("y: expected the targets, got None")
        X, y, sw = as_blocks(X, y, sample_weight)
        self.loss = loss
        self.dtype = _fit_dtype(X.dtype)
        meta = getattr(X, "_meta", None)
        self.sparse = meta is not None and hasattr(meta, "tocsr")
        self.n, self.d = int(X.shape[0]), int(X.shape[1])
        self.block_rows = [int(c) for c in X.chunks[0]]
        self.starts = np.concatenate([[0], np.cumsum(self.block_rows)]).astype(np.int64)
        xs = X.to_delayed().ravel()
        ys = y.to_delayed().ravel()
        ss = [None] * len(xs) if sw is None else list(sw.to_delayed().ravel())
        # one pass over y and the weights: the label set, the weights' sum, poisson's sums
        scans = [delayed(tasks.scan, pure=True)(yi, si, loss=loss, index=i,
                                                 start=int(self.starts[i]))
                 for i, (yi, si) in enumerate(zip(ys, ss, strict=True))]
        (summary,) = dask.compute(tree(scans, tasks.combine_scans))
        self._set_labels(summary, loss, classes)
        self.sw_sum = summary["sw_sum"]
        self.has_weights = sw is not None
        if self.has_weights:
            check_some_positive(np.array([self.sw_sum]), "sample_weight")
        self.y_const = summary.get("ylogy", 0.0) / self.n
        self._mean_target = summary.get("sw_y", 0.0) / self.sw_sum if self.sw_sum else 0.0
        blocks = [delayed(tasks.prepare, pure=True)(
            xi, yi, si, loss=loss, dtype=self.dtype, classes=self.classes, index=i,
            start=int(self.starts[i]))
            for i, (xi, yi, si) in enumerate(zip(xs, ys, ss, strict=True))]
        if self.sparse:
            counts = dask.compute(*[delayed(tasks.nnz, pure=True)(b) for b in blocks])
            self._nnz = int(sum(counts))
            nbytes = self._nnz * (self.dtype.itemsize + 8)
        else:
            self._nnz = self.n * self.d
            nbytes = self._nnz * self.dtype.itemsize
        if persist == "auto":
            persist = nbytes <= PERSIST_SHARE * memory_budget()
        self.persisted = bool(persist)
        # the validated blocks held by the workers that computed them (futures, released with
        # this object), or their recipes, run again by each pass (Delayed)
        self.client = _client()
        self.blocks, self.futures, self._servers = blocks, None, None
        if persist and self.client is not None:
            self.futures = self.client.compute(blocks)
        elif persist:
            self.blocks = list(dask.persist(*blocks))

    # -- the Problem interface (with BlockProblem's reductions) ---------------------------

    def run(self, calls, combine=None, result_bytes=0):
        """calls: (fn, block index, args, kwargs) each, fn(block, *args, **kwargs) run on the
        worker that holds the block.  Returns their results in order, or with combine their
        reduction in the fixed tree over the calls' order (on the client when the results
        take at most CLIENT_SUM_BYTES together, result_bytes each)."""
        refs = self.blocks if self.futures is None else self.futures
        shipped = []
        ids = {}

        def ship(value):
            # an array larger than SCATTER_BYTES travels once, not in every block's task
            if isinstance(value, np.ndarray) and value.nbytes > SCATTER_BYTES:
                if id(value) not in ids:
                    ids[id(value)] = len(shipped)
                    shipped.append(self.client.scatter(value, broadcast=True, hash=False)
                                   if self.client is not None else delayed(value))
                return tasks.Slot(ids[id(value)])
            return value

        calls = [(fn, i, tuple(ship(v) for v in a), {k: ship(v) for k, v in kw.items()})
                 for fn, i, a, kw in calls]
        worker_tree = combine is not None and len(calls) * result_bytes > CLIENT_SUM_BYTES
        if self.futures is not None and not worker_tree and not shipped:
            if self._servers is None:
                self._servers = Servers(self.client, self.futures)
            values = self._servers.run(calls)
            if values is not None:
                return values if combine is None else tree(values, combine, lazy=False)
        # one task a block, placed by dask where the block is
        groups = [[j] for j in range(len(calls))]
        parts = [delayed(tasks.run_many, pure=False)(
            [refs[calls[j][1]] for j in js],
            tasks.Packed([(calls[j][0], calls[j][2], calls[j][3]) for j in js]), *shipped)
            for js in groups]
        if worker_tree:
            # the tree on the workers: one call a task, and only its root comes back
            leaves = [delayed(operator.getitem, pure=False)(part, 0) for part in parts]
            (out,) = self._compute(tree(leaves, combine))
            return out
        values = [None] * len(calls)
        for js, out in zip(groups, self._compute(*parts), strict=True):
            for j, v in zip(js, out, strict=True):
                values[j] = v
        return values if combine is None else tree(values, combine, lazy=False)

    def close(self):
        """Release the held blocks and the actors (the fit is over)."""
        if self._servers is not None:
            self._servers.close()
            self._servers = None
        if self.futures is not None:
            futures, self.futures = self.futures, None
            try:
                self.client.cancel(futures)
            except Exception:           # noqa: BLE001 - a closed client has released them
                pass

    def _compute(self, *collections):
        """dask.compute, with an error that names the blocks when held blocks were lost and
        cannot be recomputed (their data was scattered, or their graph is gone)."""
        try:
            return dask.compute(*collections)
        except (ValueError, TypeError, ArithmeticError, MemoryError, KeyboardInterrupt):
            raise                      # the data's own errors (a bad block names itself)
        except Exception as exc:
            # lost, or cancelled because what they were computed from is lost; a block
            # that failed ("error") raises its own error
            gone = "lost" in str(exc).lower()
            lost = [] if self.futures is None else [
                i for i, f in enumerate(self.futures)
                if f.status == "lost" or (gone and f.status == "cancelled")]
            if not lost:
                raise
            rows = ", ".join(f"{i} (rows {self.starts[i]} to {self.starts[i + 1] - 1})"
                             for i in lost[:5])
            raise BlockLostError(
                f"block(s) {rows}{' ...' if len(lost) > 5 else ''} of the data were lost with "
                f"a worker and cannot be recomputed (scattered data has no graph to recompute "
                f"it from: build X with dask from its source instead): {exc}") from exc

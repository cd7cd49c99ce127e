"""gdfast on Dask: :func:`fit` trains on dask arrays, DataFrames and Series whose blocks stay
on the workers that hold them; only parameters, gradients and optimizer state travel.

Needs ``pip install "gdfast[dask]"``.  It runs on the scheduler dask would use: the active
``distributed.Client`` (a ``LocalCluster`` on one machine, any cluster beyond it), or dask's
local scheduler when there is none.  See the guide, :doc:`guide/dask`.
"""
from __future__ import annotations

import functools
from typing import Any

try:
    import dask  # noqa: F401
except ImportError as exc:          # the optional dependency: say how to get it
    raise ImportError('gdfast.dask needs dask: pip install "gdfast[dask]"') from exc

from gdfast import _api
from gdfast._dask.data import DaskProblem, is_dask
from gdfast._dask.engine import DaskEngine
from gdfast._dask.predict import map_blocks
from gdfast._result import FitResult
from gdfast._validation import check_int

__all__ = ["fit", "is_dask", "map_blocks"]


def fit(X, y, *, sync_every: int | None = None, persist: bool | str = "auto",
        **options: Any) -> FitResult:
    """Fit a linear model on Dask collections: :func:`gdfast.fit` with the blocks on the
    workers.

    Parameters
    ----------
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Dense chunks (numeric columns for a DataFrame) or scipy.sparse CSR chunks; chunked
        by rows (a chunking of the columns is merged into one).  float32 stays float32.
    y : dask.array.Array or dask.dataframe.Series of shape (n_samples,)
        The targets, rechunked to X's row chunks when they differ.
    sync_every : int >= 1 or None, default=None
        Batches smaller than the data: each block trains on its own rows from the common
        parameters, which are averaged (with the optimizer state) every ``sync_every``
        steps of each block; None: once per epoch, after each block's pass over its rows.
        Unused by full-batch fits (``"lbfgs"``, ``batch_size=None``), whose gradient is
        summed over every block at each step.
    persist : bool or "auto", default="auto"
        Hold the validated blocks in the workers' memory for the fit (True), or read or
        compute them again at every pass (False: data larger than the cluster's memory is
        streamed).  ``"auto"``: hold them when they take at most half the workers' memory
        limits.
    **options
        The keyword arguments of :func:`gdfast.fit`, with the same meaning and defaults;
        ``sample_weight`` may be a dask array or Series.  ``n_threads`` is the client's (its
        update step); each worker's kernels use the threads its environment gives them.

    Returns
    -------
    FitResult
        As :func:`gdfast.fit`'s; its predictions take dask collections too, lazily.

    Raises
    ------
    ValueError, TypeError
        As :func:`gdfast.fit`; the options are checked before any pass over X, and a bad value
        in a block names the block and its rows.
    gdfast._dask.data.BlockLostError
        When blocks held on a worker that died cannot be recomputed (scattered data).
    DivergenceError
        As :func:`gdfast.fit`.
    """
    if sync_every is not None:
        sync_every = check_int(sync_every, "sync_every", low=1)
    if not (isinstance(persist, bool) or persist == "auto"):
        raise ValueError(f"persist: expected True, False or 'auto', got {persist!r}")
    return run(X, y, options, sync_every=sync_every, persist=persist)


def run(X, y, options, *, sync_every=None, persist="auto", **run_fit_args):
    """fit's work, for the estimators: run_fit_args (resume, classes, ...) go to
    _api.run_fit."""
    problems = []

    def load(loss, classes):
        problems.append(DaskProblem(X, y, options.get("sample_weight"), loss, classes,
                                    persist))
        return problems[-1]

    engine = functools.partial(DaskEngine, sync_every=sync_every)
    try:
        return _api.run_fit(engine, X, y, options, load=load, **run_fit_args)
    finally:
        # the blocks held for the fit are released, even when it fails (a traceback kept by
        # the caller would otherwise hold them on the workers)
        for problem in problems:
            problem.close()

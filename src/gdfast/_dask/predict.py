"""Predictions on dask collections: a model's method mapped over the row-chunks, lazily."""
from __future__ import annotations

import numpy as np


def _rows(block, fn):
    if block.shape[0] == 0:
        return fn.empty
    return fn(block)


class _Call:
    """fn(block), with the output for an empty block (picklable, unlike a lambda)."""

    def __init__(self, model, name, empty):
        self.model, self.name, self.empty = model, name, empty

    def __call__(self, block):
        return getattr(self.model, self.name)(block)


def output_dtype(X, coef):
    """The dtype of X @ coef.T for a dask X: float32 only when X and coef both are."""
    if hasattr(X, "dtypes"):                        # a DataFrame
        x = np.result_type(*X.dtypes)
    else:
        x = np.dtype(X.dtype)
    x = x if x in (np.float32, np.float64) else np.dtype(np.float64)
    return np.result_type(x, coef.dtype)


def map_blocks(model, name, X, n_outputs=None, dtype=np.float64):
    """model.<name>(block) for each row-chunk of X (a dask Array or DataFrame), as a lazy dask
    array of shape (n_samples,) or (n_samples, n_outputs) and dtype dtype."""
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array()
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array of shape (n_samples, n_features), got "
                         f"{X.ndim}-D with shape {X.shape}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    dtype = np.dtype(dtype)
    if n_outputs is None:
        empty = np.empty(0, dtype=dtype)
        return X.map_blocks(_rows, _Call(model, name, empty), drop_axis=1, dtype=dtype,
                            meta=empty)
    empty = np.empty((0, n_outputs), dtype=dtype)
    return X.map_blocks(_rows, _Call(model, name, empty), dtype=dtype, meta=empty,
                        chunks=(X.chunks[0], (n_outputs,)))


__all__ = ["map_blocks", "output_dtype"]

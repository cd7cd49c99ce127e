"""The gradient and the update kernels alone, against their numpy reference counterparts
(gdfast.reference.batch_gradient and gdfast.reference.update)."""
import numpy as np

from .common import ENGINES, BlasThreads, KernelCall, make_data


class GradientKernel(BlasThreads):
    """_kernels.grad_dense over a random mini-batch of 256 rows or all n=100_000 rows, d=64."""

    params = (["float32", "float64"], [256, None], [1, 2], list(ENGINES))
    param_names = ["dtype", "rows", "n_threads", "engine"]

    def setup(self, dtype, rows, n_threads, engine):
        self.limit_blas(n_threads)
        X, y = make_data(dtype)
        self.call = KernelCall(X, y, n_threads=n_threads)
        self.rows = (None if rows is None else
                     np.sort(np.random.default_rng(0).choice(len(y), rows, replace=False)))
        self.grad = getattr(self.call, f"{engine}_grad")
        self.grad(self.rows)                         # warm-up: starts the thread pools

    def time_gradient(self, *params):
        self.grad(self.rows)


class UpdateKernel(BlasThreads):
    """_kernels.update: one optimizer step on n_features + 1 parameters."""

    params = (["float32", "float64"], ["sgd", "adam"], [64, 1_000_000], [1, 2],
              list(ENGINES))
    param_names = ["dtype", "optimizer", "n_features", "n_threads", "engine"]

    def setup(self, dtype, optimizer, n_features, n_threads, engine):
        self.limit_blas(n_threads)
        X = np.zeros((2, n_features), dtype=dtype)   # only the parameter count matters
        X[0, 0] = 1.0
        self.call = KernelCall(X, np.array([0, 1]), optimizer=optimizer, n_threads=n_threads)
        self.call.grad[:] = 1e-3
        self.update = getattr(self.call, f"{engine}_update")
        self.update()                                # warm-up: starts the thread pools

    def time_update(self, *params):
        self.update()


class ReadFloor(BlasThreads):
    """What reading X costs, n=100_000, d=64: numpy's X @ w (the floor of benchmarks/peers.py,
    rows in order) and gdfast's read probe (_testing.read_rows: rows read as the epochs read
    them, in order or along a shuffled order, nothing computed but column sums).  numpy has
    no shuffled read without a copy of X, so that case is skipped."""

    params = (["float32", "float64"], ["in order", "shuffled"], [1, 2], ["probe", "numpy"])
    param_names = ["dtype", "order", "n_threads", "reader"]

    def setup(self, dtype, order, n_threads, reader):
        if reader == "numpy" and order == "shuffled":
            raise NotImplementedError("numpy reads a shuffled X only through a copy")
        self.limit_blas(n_threads)
        from gdfast import _kernels, _testing
        X, _ = make_data(dtype)
        perm = (_kernels.permutation(len(X), 0) if order == "shuffled"
                else np.empty(0, np.int64))
        w = np.ones(X.shape[1], dtype=dtype)
        self.read = ((lambda: _testing.read_rows(X, perm, n_threads)) if reader == "probe"
                     else (lambda: X @ w))
        self.read()                                  # warm-up: starts the thread pools

    def time_read(self, *params):
        self.read()

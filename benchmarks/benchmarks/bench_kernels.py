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

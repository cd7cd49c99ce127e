"""One epoch of a logistic fit: the native engine and the numpy reference side by side."""
from .common import ENGINES, BlasThreads, fit_kwargs, make_data


class FitEpoch(BlasThreads):
    """gdfast.fit / gdfast.reference.fit with max_epochs=1 on n=100_000 rows, d=64 features.

    The time includes what a one-epoch fit() call does besides the epoch (validation, the
    shuffle), as a user sees it."""

    params = (["float32", "float64"], [1, 32, 256, None], ["sgd", "adam"], [1, 2],
              list(ENGINES))
    param_names = ["dtype", "batch_size", "optimizer", "n_threads", "engine"]
    timeout = 120

    def setup(self, dtype, batch_size, optimizer, n_threads, engine):
        if engine == "reference" and batch_size == 1:
            # The reference takes one numpy step per row: about 2 s per epoch here
            # (~20 us a step, 100_000 steps; native: 15-80 ms), and asv's repeats over
            # these 8 cases would take minutes.  benchmarks/peers times it instead.
            raise NotImplementedError("reference with batch_size=1 is too slow for asv")
        self.limit_blas(n_threads)
        self.X, self.y = make_data(dtype)
        self.fit = ENGINES[engine]
        self.kwargs = fit_kwargs(optimizer, batch_size, n_threads)
        self.fit(self.X, self.y, **self.kwargs)      # warm-up: starts the thread pools

    def time_epoch(self, *params):
        self.fit(self.X, self.y, **self.kwargs)

    def peakmem_epoch(self, *params):
        self.fit(self.X, self.y, **self.kwargs)

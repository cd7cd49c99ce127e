"""One epoch of a logistic fit on sparse (CSR) data: gdfast's sparse modes, scikit-learn's
SGDClassifier and the numpy reference, and the held-out quality of each fit.

The data is the issue's synthetic problem (benchmarks/common.py, make_sparse_data): 40
non-zeros per row at uniform columns, y from a planted w.  The issue's targets are set at
n = 1 000 000, d = 2^20 and checked by `python benchmarks/peers.py --sparse`; asv runs a
smaller problem so that a run stays short.  GDFAST_ASV_SPARSE_N / GDFAST_ASV_SPARSE_D
override its size (e.g. to try the suite quickly on a tiny one); GDFAST_BENCH_SMALL=1
(common.SMALL) makes it tiny by default."""
import os

import gdfast

from .common import (
    SMALL,
    SPARSE_ALPHA,
    SPARSE_MODES,
    fit_sklearn_quietly,
    heldout_scores,
    make_sparse_data,
    sklearn_sgd_sparse,
    sparse_fit_kwargs,
)

N_ROWS = int(os.environ.get("GDFAST_ASV_SPARSE_N", 5_000 if SMALL else 200_000))
N_FEATURES = int(os.environ.get("GDFAST_ASV_SPARSE_D", 2**12 if SMALL else 2**18))
# "dense-adam-256" updates all d + 1 parameters at every step (O(d) per step, 781 steps per
# epoch here): it runs on this many features instead.
DENSE_ADAM_FEATURES = min(N_FEATURES, 2**14)
N_TEST = 1_000 if SMALL else 50_000
# The reference takes one Python/numpy step per batch and every step is O(d) (a dense
# gradient and update of d + 1 parameters: ~0.8 ms per step at d = 2^18): rows per mode.
REFERENCE_ROWS = {"sgd-1thread": 1_000, "lazy-adam-256": 10_000}


def n_features(mode):
    return DENSE_ADAM_FEATURES if mode == "dense-adam-256" else N_FEATURES


def check_threads(kwargs):
    """Skip (NotImplementedError: asv shows n/a) a mode whose thread count is not available:
    Hogwild on 2 threads on a 1-core machine or in a process forked after OpenMP started."""
    want = kwargs.get("n_threads", 1)
    if gdfast.effective_n_threads(want) != want:
        raise NotImplementedError(f"gdfast cannot use {want} threads here")


class SparseEpoch:
    """gdfast.fit, one epoch, on the CSR problem (n=200_000, d=2^18, 40 non-zeros per row;
    dense-adam-256 on d=2^14).  Modes (benchmarks/common.py, SPARSE_MODES): per-sample SGD
    with the "optimal" schedule on 1 thread and Hogwild on 2, lazy Adam with batches of 256 on
    1 thread and Hogwild on 2, and dense Adam 256 (sparse_updates="dense": O(d) per step).

    The time is the whole fit() call (validation of the CSR arrays and the shuffle included).
    peakmem is the peak RSS of the benchmark process, the data included (X is ~96 MiB in
    float64 here)."""

    params = (["float32", "float64"], list(SPARSE_MODES))
    param_names = ["dtype", "mode"]
    timeout = 120

    def setup(self, dtype, mode):
        self.kwargs = sparse_fit_kwargs(mode)
        check_threads(self.kwargs)
        self.X, self.y, *_ = make_sparse_data(N_ROWS, n_features(mode), dtype=dtype)
        gdfast.fit(self.X, self.y, **self.kwargs)        # warm-up: starts the thread pool

    def time_epoch(self, *params):
        gdfast.fit(self.X, self.y, **self.kwargs)

    def peakmem_epoch(self, *params):
        gdfast.fit(self.X, self.y, **self.kwargs)


class SparseSklearn:
    """The baseline of the issue's targets: scikit-learn's SGDClassifier(loss="log_loss",
    alpha=1e-6, learning_rate="optimal", max_iter=1, tol=None), one epoch of per-sample SGD
    on the same data as SparseEpoch (compare with its sgd-1thread and sgd-hogwild-2)."""

    params = (["float32", "float64"],)
    param_names = ["dtype"]
    timeout = 120

    def setup(self, dtype):
        self.X, self.y, *_ = make_sparse_data(N_ROWS, N_FEATURES, dtype=dtype)
        fit_sklearn_quietly(sklearn_sgd_sparse(), self.X, self.y)    # warm-up

    def time_epoch(self, dtype):
        fit_sklearn_quietly(sklearn_sgd_sparse(), self.X, self.y)

    def peakmem_epoch(self, dtype):
        fit_sklearn_quietly(sklearn_sgd_sparse(), self.X, self.y)


class SparseReference:
    """gdfast.fit against the numpy reference (gdfast.reference.fit) on the first rows of the
    problem only (1_000 rows per-sample, 10_000 rows with batches of 256; d=2^18): the
    reference runs a Python loop over the batches, O(d) each."""

    params = (["float32", "float64"], list(REFERENCE_ROWS), ["native", "reference"])
    param_names = ["dtype", "mode", "engine"]
    timeout = 120

    def setup(self, dtype, mode, engine):
        self.kwargs = sparse_fit_kwargs(mode)
        self.X, self.y, *_ = make_sparse_data(REFERENCE_ROWS[mode], N_FEATURES, dtype=dtype)
        self.fit = gdfast.fit if engine == "native" else gdfast.reference.fit
        self.fit(self.X, self.y, **self.kwargs)          # warm-up

    def time_epoch(self, *params):
        self.fit(self.X, self.y, **self.kwargs)


class SparseQuality:
    """The quality of one epoch, so that a mode that gets faster by getting wrong shows up:
    accuracy and mean logistic loss on 50_000 held-out rows of the same problem, and the
    training objective (mean logistic loss + alpha/2 ||w||^2), all recomputed here in numpy
    from the returned coefficients.  Hogwild's values vary from run to run (the threads race
    by design) but should stay close to the deterministic mode's; "sklearn" is
    SGDClassifier's one epoch for comparison."""

    params = (["float32", "float64"],
              ["sgd-1thread", "sgd-hogwild-2", "lazy-adam-256", "lazy-adam-256-hogwild-2",
               "sklearn"])
    param_names = ["dtype", "mode"]
    timeout = 120

    def setup(self, dtype, mode):
        if mode != "sklearn":
            check_threads(SPARSE_MODES[mode])
        self.X, self.y, self.X_test, self.y_test, _ = make_sparse_data(
            N_ROWS, N_FEATURES, dtype=dtype, n_test=N_TEST)
        if mode == "sklearn":
            clf = fit_sklearn_quietly(sklearn_sgd_sparse(), self.X, self.y)
            self.coef, self.intercept = clf.coef_.ravel(), clf.intercept_
        else:
            res = gdfast.fit(self.X, self.y, **sparse_fit_kwargs(mode))
            self.coef, self.intercept = res.coef, res.intercept

    def track_heldout_accuracy(self, *params):
        return heldout_scores(self.X_test, self.y_test, self.coef, self.intercept)[0]

    track_heldout_accuracy.unit = "accuracy"

    def track_heldout_logloss(self, *params):
        return heldout_scores(self.X_test, self.y_test, self.coef, self.intercept)[1]

    track_heldout_logloss.unit = "log loss"

    def track_train_objective(self, *params):
        logloss = heldout_scores(self.X, self.y, self.coef, self.intercept)[1]
        w = self.coef.astype("float64").ravel()
        return logloss + SPARSE_ALPHA / 2 * float(w @ w)

    track_train_objective.unit = "objective"

"""Helpers shared by the asv suites and by benchmarks/peers (no benchmarks here).

GDFAST_BENCH_SMALL=1 in the environment shrinks the asv suites' problems (not peers', which
sets its own sizes) so that a CI run of every benchmark once stays short; the figures of
such a run say nothing about speed."""
import os

import numpy as np

import gdfast

# gdfast's private modules: every benchmark reaches them through these lines only, so that a
# change of gdfast's internal layout is an edit here.
from gdfast import _kernels  # grad_dense, update, permutation, Config, STATUS_OK
from gdfast._api import setup
from gdfast._native import NativeEngine
from gdfast._options import N_STATE  # noqa: F401 (for peers.memory)

# gdfast's read probe (gd_read_rows_dense): reads X's rows along an order as the epochs read
# them and computes nothing but column sums; read_probe(X, order, n_threads).
from gdfast._testing import read_rows as read_probe  # noqa: F401 (peers.dense, bench_kernels)

SMALL = os.environ.get("GDFAST_BENCH_SMALL", "") not in ("", "0")
N_SAMPLES = 2_000 if SMALL else 100_000
N_FEATURES = 64
ALPHA = 1e-4
ENGINES = {"native": gdfast.fit, "reference": gdfast.reference.fit}
# Rates that train make_data's problem without diverging at any batch size.
LEARNING_RATES = {"sgd": 0.05, "adam": 1e-3}


def make_data(dtype, n=N_SAMPLES, d=N_FEATURES, random_state=0, chunk_rows=4096):
    """A planted logistic problem like gdfast.datasets.make_classification's (X ~ N(0, 1),
    the first d/10 columns scaled by 3, y ~ Bernoulli(sigmoid(X @ w + b)) in {0, 1}), but
    written into X of the requested dtype a chunk of rows at a time: building it takes
    little more memory than X itself, so peak-memory figures show the fit's own extra."""
    # one stream for X and one for the rest: the data does not depend on chunk_rows
    rng_x, rng = (np.random.default_rng(s) for s in np.random.SeedSequence(random_state).spawn(2))
    w = rng.standard_normal(d) / np.sqrt(d)
    b = 0.5 * rng.standard_normal()
    scale = np.ones(d)
    scale[:max(1, d // 10)] = 3.0
    X = np.empty((n, d), dtype=dtype)
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk_rows):
        block = rng_x.standard_normal((min(chunk_rows, n - start), d)) * scale
        X[start:start + len(block)] = block
        y[start:start + len(block)] = block @ w + b + rng.logistic(size=len(block)) > 0
    return X, y


def fit_kwargs(optimizer, batch_size, n_threads=None, **extra):
    """The keyword arguments of a one-epoch logistic fit, deterministic (random_state=0);
    extra ones override them."""
    kw = dict(loss="logistic", optimizer=optimizer, batch_size=batch_size, max_epochs=1,
              tol=None, shuffle=True, random_state=0, n_threads=n_threads, alpha=ALPHA)
    kw.update(extra)
    kw.setdefault("learning_rate", LEARNING_RATES.get(optimizer))
    return kw


def logistic_objective(X, y01, coef, intercept, alpha=ALPHA):
    """(1/n) sum_i log(1 + exp(-y_i p_i)) + alpha/2 ||coef||^2 with y in {-1, +1} from y01,
    p = X @ coef + intercept, in float64, computed here independently of the fit's kernels."""
    p = X @ np.asarray(coef, dtype=X.dtype) + X.dtype.type(intercept)
    m = np.where(y01 > 0, 1.0, -1.0) * p.astype(np.float64)
    w = np.asarray(coef, dtype=np.float64)
    return float(np.mean(np.logaddexp(0.0, -m)) + alpha / 2 * (w @ w))


def resolve(X, y, **kwargs):
    """(problem, spec, theta) exactly as gdfast.fit would build them for these arguments:
    the validated data in the kernels' layout, the resolved hyperparameters, the initial
    parameters.  Nothing is fitted."""
    s = setup(X, y, kwargs)
    return s.problem, s.spec, s.theta


def csr_gradient_calls(X, y, n_threads, seed=0):
    """(two_pass, fused): the full logistic gradient of NativeEngine (an lbfgs evaluation) at
    small random coefficients, with its row buffer (two passes where the coefficients outgrow
    the cache) and without one (the fused loop).  Each call returns (gradient, loss sum)."""
    problem, spec, theta = resolve(X, y, loss="logistic", alpha=1e-4, n_threads=n_threads)
    engine = NativeEngine(problem, spec, theta.copy(), n_threads)
    at = (0.01 * np.random.default_rng(seed).standard_normal(theta.shape)).astype(theta.dtype)

    def two_pass():
        ok, grad, loss = engine.gradient(at)
        return grad, loss

    def fused():
        ok, grad, loss = engine._full_gradient(engine.cfg, problem.y, at, engine.work,
                                               rowbuf=False)
        return grad, loss

    return two_pass, fused


class KernelCall:
    """The native and the reference gradient and update of one problem, on the buffers that
    gdfast's own NativeEngine allocates (its kernel Config, optimizer state and work buffer),
    so that a change to how the engine sets up the kernels is benchmarked too."""

    def __init__(self, X, y, optimizer="adam", n_threads=1, learning_rate=1e-6):
        problem, spec, theta = resolve(X, y, **fit_kwargs(optimizer, None, n_threads))
        self.problem, self.spec = problem, spec
        self.engine = NativeEngine(problem, spec, theta.copy(), n_threads)
        self.n_threads = self.engine.n_threads
        self.lr = learning_rate
        self.n_coef = problem.n_outputs * problem.d
        self.grad = np.zeros_like(theta)
        self.no_weights = np.empty(0, dtype=problem.dtype)
        self.ref_theta = theta.copy()
        self.ref_state = np.zeros((self.engine.state.size // theta.size, theta.size),
                                  dtype=problem.dtype)

    def native_grad(self, rows):
        """rows: an int64 array of row indices, or None for all rows."""
        p = self.problem
        rows = np.empty(0, dtype=np.int64) if rows is None else rows
        status, loss = _kernels.grad_dense(self.engine.cfg, p.X, p.y, self.no_weights, rows,
                                           self.engine.theta, self.grad, self.engine.work,
                                           self.n_threads)
        assert status == _kernels.STATUS_OK, status
        return loss

    def reference_grad(self, rows):
        p, s = self.problem, self.spec
        return gdfast.reference.batch_gradient(s.loss, p.n_outputs, s.epsilon, p.X, p.y, p.sw,
                                               rows, self.ref_theta)

    def native_update(self, t=10):
        status = _kernels.update(self.engine.cfg, self.engine.theta, self.grad,
                                 self.engine.state, self.n_coef, t, self.lr, self.n_threads)
        assert status == _kernels.STATUS_OK, status

    def reference_update(self, t=10):
        gdfast.reference.update(self.spec, self.ref_theta, self.grad, self.ref_state,
                                self.n_coef, t, self.lr, self.spec.fit_intercept)


class BlasThreads:
    """asv mixin for suites with an n_threads parameter: numpy's BLAS limited to n_threads
    from setup to teardown, so that the reference engine's thread count matches the native
    engine's; skips the case when the native kernels could not use n_threads (gdfast runs
    serially in a process forked after it used OpenMP threads)."""

    def limit_blas(self, n_threads):
        from threadpoolctl import threadpool_limits
        if gdfast.effective_n_threads(n_threads) != n_threads:
            raise NotImplementedError(f"gdfast cannot use {n_threads} threads here")
        self._blas_limit = threadpool_limits(limits=n_threads, user_api="blas")

    def teardown(self, *params):
        limit = getattr(self, "_blas_limit", None)     # None when setup skipped early
        if limit is not None:
            limit.restore_original_limits()


# --- sparse (CSR) problems ------------------------------------------------------------------

SPARSE_NNZ_PER_ROW = 40
SPARSE_ALPHA = 1e-6           # the issue's: scikit-learn SGDClassifier(alpha=1e-6) and gdfast alike
# name -> gdfast.fit arguments of a one-epoch logistic fit on CSR data (loss, alpha, epochs,
# tol and random_state come from sparse_fit_kwargs).  "dense-adam-256" takes every step on all
# d + 1 parameters (O(d) per step): time it on a small d only.
SPARSE_MODES = {
    "sgd-1thread": dict(optimizer="sgd", schedule="optimal", batch_size=1, n_threads=1),
    "sgd-hogwild-2": dict(optimizer="sgd", schedule="optimal", batch_size=1, n_threads=2,
                          parallel="hogwild"),
    "lazy-adam-256": dict(optimizer="adam", sparse_updates="lazy", batch_size=256,
                          learning_rate=1e-3, n_threads=1),
    "lazy-adam-256-hogwild-2": dict(optimizer="adam", sparse_updates="lazy", batch_size=256,
                                    learning_rate=1e-3, n_threads=2, parallel="hogwild"),
    "dense-adam-256": dict(optimizer="adam", sparse_updates="dense", batch_size=256,
                           learning_rate=1e-3, n_threads=1),
}


def make_sparse_data(n, d, nnz_per_row=SPARSE_NNZ_PER_ROW, dtype="float64", random_state=0,
                     n_test=0):
    """The issue's synthetic CSR logistic problem: every row has nnz_per_row non-zeros at
    uniformly drawn columns (repeats possible; they add up), values N(0, 1), a planted
    w ~ N(0, 1 / nnz_per_row) (so X @ w ~ N(0, 1)) and y = X @ w + 0.1 N(0, 1) > 0 (bool).

    Returns (X, y, X_test, y_test, w): X a scipy.sparse.csr_matrix with int32 indices and
    indptr (int64 past 2^31 - 1 non-zeros) and values of `dtype`; X_test, y_test n_test more
    rows of the same problem (drawn after the training rows, so the training data does not
    depend on n_test; None when n_test is 0).  The labels are computed in float64, so they
    are the same for float32 and float64 X.  Apart from X itself it allocates O(n + d)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(random_state)
    itype = np.int32 if (n + 1) * nnz_per_row <= np.iinfo(np.int32).max else np.int64
    w = None

    def rows(m):
        nonlocal w
        indptr = np.arange(0, (m + 1) * nnz_per_row, nnz_per_row, dtype=itype)
        indices = rng.integers(0, d, m * nnz_per_row, dtype=itype)
        data = rng.standard_normal(m * nnz_per_row)
        if w is None:
            w = rng.standard_normal(d) / np.sqrt(nnz_per_row)
        X = sp.csr_matrix((data, indices, indptr), shape=(m, d), copy=False)
        y = X @ w + 0.1 * rng.standard_normal(m) > 0
        if np.dtype(dtype) != data.dtype:
            X = sp.csr_matrix((data.astype(dtype), indices, indptr), shape=(m, d), copy=False)
        return X, y

    X, y = rows(n)
    X_test, y_test = rows(n_test) if n_test else (None, None)
    return X, y, X_test, y_test, w


def sparse_fit_kwargs(mode, **extra):
    """gdfast.fit's arguments for one epoch of SPARSE_MODES[mode]: logistic, alpha=1e-6,
    tol=None, shuffled, random_state=0; extra ones override them."""
    kw = dict(loss="logistic", alpha=SPARSE_ALPHA, max_epochs=1, tol=None, shuffle=True,
              random_state=0)
    kw.update(SPARSE_MODES[mode])
    kw.update(extra)
    return kw


def sklearn_sgd_sparse(random_state=0):
    """The issue's scikit-learn baseline: SGDClassifier for one epoch of per-sample SGD with
    the "optimal" schedule, the same loss and alpha as sparse_fit_kwargs."""
    from sklearn.linear_model import SGDClassifier
    return SGDClassifier(loss="log_loss", alpha=SPARSE_ALPHA, max_iter=1, tol=None,
                         learning_rate="optimal", random_state=random_state)


def fit_sklearn_quietly(clf, X, y):
    """clf.fit(X, y) without the ConvergenceWarning that max_iter=1 always raises."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def heldout_scores(X, y, coef, intercept):
    """(accuracy, mean logistic loss) of the linear model (coef, intercept) on X, y (bool or
    {0, 1} labels), computed here in float64 from the returned coefficients."""
    p = np.asarray(X @ np.asarray(coef, dtype=np.float64).ravel(), dtype=np.float64)
    p += float(np.asarray(intercept).ravel()[0])
    y = np.asarray(y) > 0
    m = np.where(y, p, -p)
    return float(np.mean((p > 0) == y)), float(np.mean(np.logaddexp(0.0, -m)))

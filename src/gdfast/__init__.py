"""gdfast: fast, OpenMP-parallel gradient descent for linear models.

    >>> import gdfast
    >>> res = gdfast.fit(X, y, loss="logistic", optimizer="adam", learning_rate=1e-3)
    >>> res.coef, res.intercept, res.loss_history, res.predict(X)

``gdfast.reference.fit`` is the same function written in plain numpy.
"""
from gdfast import _kernels
from gdfast._core import DivergenceError, FitResult, make_fit
from gdfast._native import NativeEngine, effective_n_threads

__version__ = "0.1.0"
__all__ = ["fit", "FitResult", "DivergenceError", "openmp_enabled", "effective_n_threads",
           "reference", "GDClassifier", "GDRegressor", "__version__"]

fit = make_fit(lambda: NativeEngine, __name__)


def openmp_enabled():
    """True when the native kernels were built with OpenMP (else they run serially)."""
    return _kernels.openmp_enabled()


from gdfast import reference  # noqa: E402  (after fit: reference imports the core only)


def __getattr__(name):
    # the scikit-learn estimators import scikit-learn, an optional dependency: load on demand
    if name in ("GDClassifier", "GDRegressor"):
        from gdfast import _estimators
        return getattr(_estimators, name)
    raise AttributeError(f"module 'gdfast' has no attribute {name!r}")

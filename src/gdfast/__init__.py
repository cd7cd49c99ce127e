"""gdfast: fast, OpenMP-parallel gradient descent for linear models.

    >>> import gdfast
    >>> from gdfast.datasets import make_classification
    >>> X, y = make_classification(n_samples=500, n_features=4)
    >>> res = gdfast.fit(X, y, loss="logistic", optimizer="adam", learning_rate=1e-2)
    >>> res.coef.shape, res.intercept.shape, res.loss_history.ndim, res.predict(X).shape
    ((4,), (), 1, (500,))

``gdfast.reference.fit`` is the same function written in plain numpy;
``gdfast.GDClassifier`` and ``gdfast.GDRegressor`` are scikit-learn estimators on the same
kernels (they need scikit-learn, which is imported only when they are first used).
"""
from typing import TYPE_CHECKING

from gdfast import datasets, reference
from gdfast._api import fit
from gdfast._result import DivergenceError, FitResult
from gdfast._saved import load, save
from gdfast._threads import effective_n_threads, openmp_enabled

__version__ = "0.1.0"     # the only place: pyproject.toml reads it from here
__all__ = ["fit", "FitResult", "DivergenceError", "openmp_enabled", "effective_n_threads",
           "save", "load", "reference", "datasets", "GDClassifier", "GDRegressor",
           "__version__"]


if TYPE_CHECKING:                   # what the lazy __getattr__ below gives, for type checkers
    from gdfast._sklearn import GDClassifier, GDRegressor


def __getattr__(name: str):
    # the scikit-learn estimators import scikit-learn, an optional dependency: load on demand
    if name in ("GDClassifier", "GDRegressor"):
        from gdfast import _sklearn
        return getattr(_sklearn, name)
    raise AttributeError(f"module 'gdfast' has no attribute {name!r}")

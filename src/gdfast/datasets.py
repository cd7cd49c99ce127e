"""Built-in synthetic problems, so that examples, the demo, the tests and the benchmarks need no
data file.

Both generators draw from ``numpy.random.default_rng(random_state)``: the same arguments give
the same arrays on every platform.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike


def make_classification(n_samples: int = 20000, n_features: int = 50, *, n_classes: int = 2,
                        noise: float = 1.0, dtype: DTypeLike = np.float64,
                        random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """A planted linear classification problem.

    X is standard normal, with its first ``max(1, n_features // 10)`` columns scaled by 3.
    The labels are drawn from a softmax of ``X @ W.T + b`` (a logistic model for two
    classes) for random W and b, by adding Gumbel noise to the decision values and taking the
    largest.

    Parameters
    ----------
    n_samples : int, default=20000
        Number of rows.
    n_features : int, default=50
        Number of columns.
    n_classes : int, default=2
        Number of classes, at least 2.
    noise : float, default=1.0
        Scale of the Gumbel noise: 1 samples the labels from the model's probabilities, 0
        makes them the model's most likely class (separable data).
    dtype : numpy dtype, default=numpy.float64
        dtype of X.
    random_state : int, default=0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The features, C-contiguous.
    y : ndarray of int64, shape (n_samples,)
        The labels, in ``0 .. n_classes - 1``.

    Examples
    --------
    >>> from gdfast.datasets import make_classification
    >>> X, y = make_classification(1000, 5, n_classes=3)
    >>> X.shape, sorted(set(y.tolist()))
    ((1000, 5), [0, 1, 2])
    """
    rng = np.random.default_rng(random_state)
    X = rng.standard_normal((n_samples, n_features))
    X[:, : max(1, n_features // 10)] *= 3.0
    K = 1 if n_classes == 2 else n_classes
    W = rng.standard_normal((K, n_features)) / np.sqrt(n_features)
    b = rng.standard_normal(K) * 0.5
    Z = X @ W.T + b
    if K == 1:
        Z = np.column_stack([np.zeros(n_samples), Z[:, 0]])
    y = np.argmax(Z + noise * rng.gumbel(size=Z.shape), axis=1)
    return X.astype(dtype, copy=False), y


def make_regression(n_samples: int = 20000, n_features: int = 50, *, noise: float = 0.5,
                    dtype: DTypeLike = np.float64, random_state: int | None = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A planted linear regression problem: ``y = X @ w + b + noise * N(0, 1)``.

    X and w are standard normal and b is 0.5.

    Parameters
    ----------
    n_samples : int, default=20000
        Number of rows.
    n_features : int, default=50
        Number of columns.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise added to the targets.
    dtype : numpy dtype, default=numpy.float64
        dtype of X and y.
    random_state : int, default=0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The features, C-contiguous.
    y : ndarray of shape (n_samples,)
        The targets.
    w : ndarray of float64, shape (n_features,)
        The planted coefficients.
    b : float
        The planted intercept.

    Examples
    --------
    >>> from gdfast.datasets import make_regression
    >>> X, y, w, b = make_regression(1000, 5, noise=0.0)
    >>> bool(abs(X @ w + b - y).max() < 1e-12)
    True
    """
    rng = np.random.default_rng(random_state)
    X = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal(n_features)
    b = 0.5
    y = X @ w + b + noise * rng.standard_normal(n_samples)
    return X.astype(dtype, copy=False), y.astype(dtype, copy=False), w, b

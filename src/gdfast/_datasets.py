"""Built-in synthetic problems: no data file needed (used by the demo, tests and benchmarks)."""
import numpy as np


def make_classification(n_samples=20000, n_features=50, *, n_classes=2, noise=1.0,
                        dtype=np.float64, random_state=0):
    """A planted linear classification problem: X ~ N(0, 1) with a few scaled columns,
    labels drawn from a softmax (logistic for 2 classes) of X @ W.T + b with Gumbel noise.
    Returns (X, y) with y in 0..n_classes-1."""
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


def make_regression(n_samples=20000, n_features=50, *, noise=0.5, dtype=np.float64,
                    random_state=0):
    """y = X @ w + b + noise * N(0, 1).  Returns (X, y, w, b)."""
    rng = np.random.default_rng(random_state)
    X = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal(n_features)
    b = 0.5
    y = X @ w + b + noise * rng.standard_normal(n_samples)
    return X.astype(dtype, copy=False), y.astype(dtype, copy=False), w, b

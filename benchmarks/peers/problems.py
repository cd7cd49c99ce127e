"""The time-to-optimum problems (benchmarks/optimum.py): seeded synthetic data, one problem
per loss and kind of conditioning, and the one objective every system is judged by.

The objective is gdfast's (src/gdfast/_losses.py, gdfast.fit's docstring):

    F(w, b) = mean_i loss(z_i, y_i) + alpha ((1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1)

with z = X w + b and the intercept unpenalized; squared 0.5 (z - y)^2, logistic
log(1 + exp(-y z)) with y in {-1, +1}, poisson exp(z) - y z + y log y - y (the half
deviance), multinomial logsumexp(z) - z_y with w of shape (K, d) and b of shape (K,).
Every problem has alpha > 0 and labels drawn from a noisy model (no separable data), so
its optimum is unique and finite.
"""
from dataclasses import dataclass

import numpy as np

from benchmarks.common import make_sparse_data

# Part of the optimum cache's key (peers.optimum): bump it when the data of a problem changes.
GENERATOR_VERSION = 1
CHUNK_ROWS = 65_536          # X is written a block of rows at a time: little beyond X itself


@dataclass
class Problem:
    key: str                 # "a" .. "f", or "peers" for the peers command's problem
    title: str
    loss: str                # gdfast's loss name
    X: object                # float64 ndarray (C order) or scipy.sparse CSR matrix
    y: np.ndarray            # {0, 1} (logistic), 0 .. K-1 (multinomial), floats otherwise

    @property
    def n(self):
        return self.X.shape[0]

    @property
    def d(self):
        return self.X.shape[1]

    @property
    def dense(self):
        return isinstance(self.X, np.ndarray)


# key -> (title, full-size (n, d), --quick (n, d))
PROBLEMS = {
    "a": ("dense logistic, correlated columns scaled 1e-2 .. 1e2", (400_000, 128), (20_000, 128)),
    "b": ("dense logistic, isotropic", (400_000, 128), (20_000, 128)),
    "c": ("CSR logistic, 40 non-zeros a row", (1_000_000, 2**20), (20_000, 2**14)),
    "d": ("squared (Ridge), correlated unscaled columns with offsets", (400_000, 128),
          (20_000, 128)),
    "e": ("multinomial, K = 10, dense", (200_000, 64), (20_000, 64)),
    "f": ("poisson, log-linear mean, dense", (200_000, 64), (20_000, 64)),
}
N_CLASSES = 10               # problem e
RHO = 0.9                    # AR(1) correlation of neighbouring columns (a, d)


def gaussian_rows(rng, n, d, rho=0.0, scale=None, offset=None):
    """X (n, d) float64: rows N(offset, diag(scale) C diag(scale)) with C_ij = rho^|i-j|,
    drawn a block at a time."""
    idx = np.arange(d)
    L = np.linalg.cholesky(rho ** np.abs(idx[:, None] - idx[None, :])) if rho else None
    X = np.empty((n, d))
    for start in range(0, n, CHUNK_ROWS):
        block = rng.standard_normal((min(CHUNK_ROWS, n - start), d))
        if L is not None:
            block = block @ L.T
        if scale is not None:
            block *= scale
        if offset is not None:
            block += offset
        X[start:start + len(block)] = block
    return X


def planted(rng, d, rho, scale, strength):
    """Coefficients g / scale with g ~ N(0, 1) rescaled so that std(x @ w) = strength: every
    column carries signal, whatever its scale."""
    g = rng.standard_normal(d)
    idx = np.arange(d)
    C = rho ** np.abs(idx[:, None] - idx[None, :])
    return g * strength / np.sqrt(g @ C @ g) / scale


def make_problem(key, n, d, seed=0):
    """Problem `key` of PROBLEMS with n rows and d features (seeded: the same data for the
    same arguments)."""
    title = PROBLEMS[key][0]
    rng = np.random.default_rng([seed, ord(key)])
    if key == "c":
        X, y, _, _, _ = make_sparse_data(n, d, random_state=seed)
        return Problem(key, title, "logistic", X, y.astype(np.int64))
    if key in ("a", "b"):
        rho, scale = (RHO, np.logspace(-2, 2, d)) if key == "a" else (0.0, np.ones(d))
        X = gaussian_rows(rng, n, d, rho, scale)
        w = planted(rng, d, rho, scale, 2.0)
        y = (X @ w + 0.5 + rng.logistic(size=n) > 0).astype(np.int64)
        return Problem(key, title, "logistic", X, y)
    if key == "d":
        scale = np.logspace(-2, 2, d)
        offset = scale * rng.uniform(-3, 3, d)
        X = gaussian_rows(rng, n, d, RHO, scale, offset)
        w = planted(rng, d, RHO, scale, 2.0)
        y = X @ w - offset @ w + 1.0 + rng.standard_normal(n)
        return Problem(key, title, "squared", X, y)
    if key == "e":
        X = gaussian_rows(rng, n, d)
        W = 1.5 * rng.standard_normal((N_CLASSES, d)) / np.sqrt(d)
        b = 0.5 * rng.standard_normal(N_CLASSES)
        y = np.argmax(X @ W.T + b + rng.gumbel(size=(n, N_CLASSES)), axis=1)  # softmax draws
        return Problem(key, title, "multinomial", X, y.astype(np.int64))
    if key == "f":
        X = gaussian_rows(rng, n, d)
        w = 0.5 * rng.standard_normal(d) / np.sqrt(d)
        y = rng.poisson(np.exp(X @ w + 0.5)).astype(np.float64)
        return Problem(key, title, "poisson", X, y)
    raise ValueError(f"unknown problem {key!r}: choose from {', '.join(PROBLEMS)}")


def objective(problem, alpha, coef, intercept, l1_ratio=0.0):
    """F(coef, intercept) of the module docstring, in float64, computed here from the
    coefficients alone (no solver's own loss value is trusted)."""
    with np.errstate(over="ignore", invalid="ignore"):     # a diverging fit: F is inf or nan
        return data_term(problem, coef, intercept) + alpha * penalty(coef, l1_ratio)


def penalty(coef, l1_ratio):
    w = np.asarray(coef, dtype=np.float64)
    return (1 - l1_ratio) / 2 * float(np.sum(w * w)) + l1_ratio * float(np.abs(w).sum())


def data_term(problem, coef, intercept):
    """mean_i loss(z_i, y_i)."""
    X, y = problem.X, problem.y
    w = np.asarray(coef, dtype=np.float64)
    if problem.loss == "multinomial":
        Z = np.asarray(X @ w.T) + np.asarray(intercept, dtype=np.float64)
        zmax = Z.max(axis=1)
        lse = zmax + np.log(np.exp(Z - zmax[:, None]).sum(axis=1))
        return float(np.mean(lse - Z[np.arange(len(y)), y]))
    z = np.asarray(X @ w.ravel()) + float(np.asarray(intercept).ravel()[0])
    if problem.loss == "logistic":
        return float(np.mean(np.logaddexp(0.0, -np.where(y > 0, z, -z))))
    if problem.loss == "squared":
        return float(0.5 * np.mean((z - y) ** 2))
    if problem.loss == "poisson":
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        return float(np.mean(np.exp(z) - y * z + ylogy - y))
    raise ValueError(f"no objective for loss {problem.loss!r}")

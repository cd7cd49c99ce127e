"""The objective in numpy: each loss's row values and derivatives dloss/dz, the softmax
cross-entropy, the y-only term of the Poisson deviance, the rows at coefficients zero, and
the penalty.

The reference engine computes its gradients from these, the driver adds the penalty to the
epoch loss, the 'optimal' schedule takes its t0 from row_loss_dz, and the estimators their
validation loss.  The native kernels compute the same functions in C (csrc/).
"""
import numpy as np

from gdfast._options import BINARY_LOSSES


def row_loss_dz(loss, p, y, epsilon):
    """Row losses and dloss/dp for a single-output loss (numpy, vectorized over rows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "squared":
            r = p - y
            return 0.5 * r * r, r
        if loss == "logistic":
            m = y * p
            e = np.exp(-np.abs(m))
            sig = np.where(m > 0, e / (1 + e), 1 / (1 + e))       # sigmoid(-m)
            return np.log1p(e) + np.maximum(-m, 0), -y * sig
        if loss == "hinge":
            m = y * p
            active = m <= 1
            return np.where(active, 1 - m, 0), np.where(active, -y, 0)
        if loss == "squared_hinge":
            a = 1 - y * p
            active = a > 0
            return np.where(active, a * a, 0), np.where(active, -2 * y * a, 0)
        if loss == "modified_huber":
            m = y * p
            quad = (m >= -1) & (m < 1)
            lin = m < -1
            a = 1 - m
            val = np.where(quad, a * a, np.where(lin, -4 * m, 0))
            dz = np.where(quad, -2 * y * a, np.where(lin, -4 * y, 0))
            return val, dz
        if loss == "huber":
            r = p - y
            a = np.abs(r)
            small = a <= epsilon
            val = np.where(small, 0.5 * r * r, epsilon * a - 0.5 * epsilon * epsilon)
            return val, np.where(small, r, np.sign(r) * epsilon)
        if loss == "epsilon_insensitive":
            r = p - y
            a = np.abs(r) - epsilon
            active = a > 0
            return np.where(active, a, 0), np.where(active, np.sign(r), 0)
        if loss == "poisson":
            e = np.exp(p)
            return e - y * p, e - y
    raise ValueError(f"unknown loss {loss!r}")


def softmax_loss_dz(Z, labels):
    """Softmax cross-entropy: row losses logsumexp(z) - z_y and dloss/dz, Z of shape (m, K)."""
    zmax = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - zmax)
    S = E.sum(axis=1, keepdims=True)
    rows = np.arange(Z.shape[0])
    loss = (zmax + np.log(S))[:, 0] - Z[rows, labels]
    dz = E / S
    dz[rows, labels] -= 1
    return loss, dz


def poisson_ylogy(y):
    """y log y, 0 where y is 0, elementwise (y >= 0, float64): with - y, the terms of the
    Poisson half deviance that depend on y only, which make a perfect fit's loss 0."""
    return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)


def row_losses(loss, Z, target, epsilon):
    """The training loss of each row at decision values Z (float64), for targets in the
    kernels' encoding (+1 / -1, the class index, or the target): the half deviance for
    poisson, as the loss history reports it."""
    if loss == "multinomial":
        return softmax_loss_dz(Z, np.asarray(target).astype(np.intp))[0]
    out = row_loss_dz(loss, Z, target, epsilon)[0]
    if loss == "poisson":
        out = out + poisson_ylogy(target) - target
    return out


def intercept_rows(loss, K, epsilon, y, sw, b):
    """(sum_i sw_i loss_i, R) where every row's decision values are the intercepts b (float64,
    K entries; coefficients zero): R (n x K, float64, C order) = sw_i dloss_i/dz_k, both as the
    kernels sum them (poisson without its terms in y alone).  L-BFGS's first gradient is
    X^T R / n and R's column sums / n (Problem.column_moments reads X^T R with the moments).
    Classification targets take two values (+1 / -1) or K (the class index): each one's loss
    and derivatives are computed once, and gathered."""
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "multinomial":
            labels = np.asarray(y).astype(np.intp)
            val, dZ = softmax_loss_dz(np.tile(b, (K, 1)), np.arange(K))    # row c: label c
            rows, R = val[labels], dZ[labels]
        elif loss in BINARY_LOSSES:
            positive = (np.asarray(y) > 0).astype(np.intp)
            val, dz = row_loss_dz(loss, np.full(2, b[0]), np.array([-1.0, 1.0]), epsilon)
            rows, R = val[positive], dz[positive][:, None]
        else:
            rows, dz = row_loss_dz(loss, b[0], np.asarray(y, dtype=np.float64), epsilon)
            R = dz[:, None]
        if sw is not None:
            w = sw.astype(np.float64)
            rows, R = rows * w, R * w[:, None]
        return float(np.sum(rows)), np.ascontiguousarray(R)


def penalty(theta, spec, K, d):
    """alpha * ((1 - l1_ratio) / 2 * ||w||^2 + l1_ratio * ||w||_1) on the coefficients."""
    if spec.alpha == 0:
        return 0.0
    w = theta[:K * d].astype(np.float64, copy=False)
    # not w @ w: a long BLAS dot wakes OpenBLAS's threads, which then spin into the next epoch
    value = 0.0
    with np.errstate(over="ignore"):       # a huge finite w: an infinite loss, as w @ w gave
        if spec.l2:
            value += spec.l2 / 2 * float(np.square(w).sum())
        if spec.l1:
            value += spec.l1 * float(np.abs(w).sum())
    return value


# --- probabilities from decision values (predict_proba of FitResult and GDClassifier) ------

def sigmoid(z):
    """The logistic function, elementwise (exp(-z) may overflow to inf: the result is 0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def softmax(Z):
    """Row-wise softmax of Z, shape (n, K)."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def modified_huber_proba(z):
    """scikit-learn's probability of the positive class for modified_huber: (clip(z) + 1) / 2."""
    return (np.clip(z, -1, 1) + 1) / 2

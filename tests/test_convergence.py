"""Convergence to the optimum found by a second-order method (issue #2)."""
import numpy as np
import pytest

import gdfast
from gdfast.datasets import make_classification


def newton_logistic(X, y_pm, alpha, iters=50):
    """Minimise (1/n) sum log(1 + exp(-y (Xw + b))) + alpha/2 ||w||^2 by Newton's method."""
    n, d = X.shape
    A = np.column_stack([X, np.ones(n)])
    theta = np.zeros(d + 1)
    reg = np.r_[np.full(d, alpha), 0.0]
    for _ in range(iters):
        m = y_pm * (A @ theta)
        s = 1 / (1 + np.exp(m))                          # sigmoid(-m)
        grad = -(A.T @ (y_pm * s)) / n + reg * theta
        H = (A.T * (s * (1 - s))) @ A / n + np.diag(reg)
        step = np.linalg.solve(H, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-15:
            break
    return theta


def objective(X, y_pm, alpha, w, b):
    m = y_pm * (X @ w + b)
    return np.mean(np.logaddexp(0, -m)) + alpha / 2 * w @ w


@pytest.mark.parametrize("fit", [gdfast.fit, gdfast.reference.fit], ids=["native", "reference"])
@pytest.mark.parametrize("optimizer,lr", [("nesterov", 0.5), ("momentum", 0.5)])
def test_logistic_l2_reaches_the_newton_optimum(fit, optimizer, lr):
    X, y = make_classification(2000, 8, random_state=3)
    y_pm = np.where(y == 1, 1.0, -1.0)
    alpha = 1e-2
    theta = newton_logistic(X, y_pm, alpha)
    f_opt = objective(X, y_pm, alpha, theta[:-1], theta[-1])
    res = fit(X, y, loss="logistic", optimizer=optimizer, learning_rate=lr, batch_size=None,
              max_epochs=3000, tol=None, alpha=alpha)
    f = objective(X, y_pm, alpha, res.coef, res.intercept)
    assert abs(f - f_opt) / f_opt < 1e-6
    rel = np.max(np.abs(np.r_[res.coef, res.intercept] - theta)) / np.max(np.abs(theta))
    assert rel < 1e-6, rel
    # the reported history is the same objective, evaluated during the pass
    assert abs(res.loss_history[-1] - f) / f < 1e-6


def test_minibatch_adam_gets_close_to_the_optimum():
    X, y = make_classification(4000, 10, random_state=4)
    y_pm = np.where(y == 1, 1.0, -1.0)
    alpha = 1e-3
    theta = newton_logistic(X, y_pm, alpha)
    f_opt = objective(X, y_pm, alpha, theta[:-1], theta[-1])
    res = gdfast.fit(X, y, loss="logistic", optimizer="adam", learning_rate=0.01, batch_size=64,
                     max_epochs=60, tol=None, alpha=alpha, schedule="cosine", random_state=0)
    assert objective(X, y_pm, alpha, res.coef, res.intercept) < f_opt * (1 + 1e-3)

"""The numpy reference implementation of gdfast.

``gdfast.reference.fit`` has the signature and semantics of :func:`gdfast.fit` and runs the
same driver (validation, row orders, schedules, stopping), but every batch gradient and
every optimizer update is plain numpy, written to be read.  It is the oracle of the
equivalence tests and the baseline of the benchmarks.

The building blocks are public so that tests and benchmarks can call them directly:
:func:`batch_gradient`, :func:`update`, :func:`step_lr`, :func:`row_loss_dz` and
:func:`softmax_loss_dz`.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gdfast import _api
from gdfast._driver import Shuffle
from gdfast._losses import row_loss_dz, softmax_loss_dz
from gdfast._options import ADAPTIVE_OPTIMIZERS, N_STATE
from gdfast._result import FitResult
from gdfast._threads import resolve_n_threads
from gdfast._validation import MatrixLike

__all__ = ["fit", "batch_gradient", "update", "step_lr", "clip_gradient", "row_loss_dz",
           "softmax_loss_dz"]


def batch_gradient(loss, n_outputs, epsilon, X, y, sw, rows, theta):
    """The data gradient (1/m) sum_i sw_i grad loss_i over the m rows `rows` (None: all), as
    a flat vector laid out like theta, and sum_i sw_i loss_i (float64)."""
    K, d = n_outputs, X.shape[1]
    X = getattr(X, "matrix", X)          # gdfast._validation.CSR: its scipy matrix
    Xb = X if rows is None else X[rows]
    yb = y if rows is None else y[rows]
    m = Xb.shape[0]
    W = theta[:K * d].reshape(K, d)
    Z = np.asarray(Xb @ W.T) + theta[K * d:]
    if loss == "multinomial":
        row_loss, dZ = softmax_loss_dz(Z, yb.astype(np.intp))
    else:
        row_loss, dz = row_loss_dz(loss, Z[:, 0], yb, epsilon)
        dZ = dz[:, None]
    if sw is not None:
        swb = sw if rows is None else sw[rows]
        row_loss = swb * row_loss
        dZ = dZ * swb[:, None]
    XtdZ = np.asarray((Xb.T @ dZ).T) if not isinstance(Xb, np.ndarray) else dZ.T @ Xb
    grad = np.concatenate([XtdZ.ravel(), dZ.sum(axis=0)]) / m
    return grad.astype(X.dtype, copy=False), float(np.sum(row_loss, dtype=np.float64))


def clip_gradient(grad, max_norm):
    """``torch.nn.utils.clip_grad_norm_``: scale grad in place by max_norm / (||grad|| + 1e-6)
    when that is below 1."""
    coef = max_norm / (math.sqrt(float(np.sum(grad * grad))) + 1e-6)
    if coef < 1:
        grad *= coef


def step_lr(spec, lr_epoch, t):
    """The learning rate of step t (1-based): invscaling lr / t**power_t, optimal
    1 / (alpha (t0 + t - 1)), otherwise the epoch's rate."""
    if spec.schedule == "invscaling":
        return lr_epoch / math.pow(t, spec.power_t)
    if spec.schedule == "optimal":
        return 1.0 / (spec.alpha * (spec.optimal_t0 + t - 1.0))
    return lr_epoch


def update(spec, theta, grad, state, n_coef, t, lr, fit_intercept=True):
    """One optimizer step t (1-based) in place, as torch.optim documents it, with
    weight_decay = alpha (1 - l1_ratio) on the first n_coef entries (adamw: the decoupled
    decay ``theta *= 1 - lr * weight_decay`` first), then the L1 soft-threshold.

    state has shape (n_state, P): the momentum buffer / sum of squares / exp_avg first, then
    square_avg or exp_avg_sq's companions, as in csrc/gd_rules.h."""
    P = theta.shape[0]
    n_upd = P if fit_intercept else n_coef
    th = theta[:n_upd]
    g = grad[:n_upd].copy()
    opt = spec.optimizer
    if spec.l2 != 0 and opt != "adamw":
        g[:n_coef] += spec.l2 * th[:n_coef]
    s = state[:, :n_upd] if state.shape[0] else state
    if opt == "sgd":
        th -= lr * g
    elif opt in ("momentum", "nesterov"):
        buf = s[0]
        if t == 1:
            buf[...] = g
        else:
            buf[...] = spec.momentum * buf + (1 - spec.dampening) * g
        th -= lr * (g + spec.momentum * buf if opt == "nesterov" else buf)
    elif opt == "adagrad":
        s[0] += g * g
        th -= lr * g / (np.sqrt(s[0]) + spec.eps)
    elif opt == "rmsprop":
        square_avg, grad_avg, buf = s
        square_avg[...] = spec.rho * square_avg + (1 - spec.rho) * g * g
        if spec.centered:
            grad_avg[...] = spec.rho * grad_avg + (1 - spec.rho) * g
            avg = np.sqrt(np.maximum(square_avg - grad_avg * grad_avg, 0)) + spec.eps
        else:
            avg = np.sqrt(square_avg) + spec.eps
        if spec.momentum > 0:
            buf[...] = spec.momentum * buf + g / avg
            th -= lr * buf
        else:
            th -= lr * g / avg
    elif opt in ("adam", "adamw"):
        exp_avg, exp_avg_sq, max_sq = s
        if opt == "adamw" and spec.l2 != 0:
            th[:n_coef] *= 1 - lr * spec.l2
        exp_avg[...] = spec.beta1 * exp_avg + (1 - spec.beta1) * g
        exp_avg_sq[...] = spec.beta2 * exp_avg_sq + (1 - spec.beta2) * g * g
        step_size = lr / (1 - spec.beta1 ** t)
        bc2_sqrt = math.sqrt(1 - spec.beta2 ** t)
        v = exp_avg_sq
        if spec.amsgrad:
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            v = max_sq
        th -= step_size * exp_avg / (np.sqrt(v) / bc2_sqrt + spec.eps)
    else:
        raise ValueError(f"unknown optimizer {opt!r}")
    if spec.l1 > 0:
        w = th[:n_coef]
        w[...] = np.sign(w) * np.maximum(np.abs(w) - lr * spec.l1, 0)


def average(avg, comp, theta, k, n_upd):
    """Polyak-Ruppert averaging after the k-th averaged step (k = 1 copies theta): the mean
    of the k parameter vectors, updated in place as avg += (theta - avg) / k (as torch's ASGD;
    the weight rounded to the dtype, as the kernels do), the addition compensated (Kahan):
    comp holds what the last one lost, so that the mean keeps moving in float32 where the
    increments fall below its rounding."""
    w = avg.dtype.type(1.0 / k)
    a, c = avg[:n_upd], comp[:n_upd]
    inc = (theta[:n_upd] - a) * w - c
    nxt = a + inc
    c[...] = (nxt - a) - inc
    a[...] = nxt


class ReferenceEngine:
    """Same interface as gdfast._native.NativeEngine, one numpy batch at a time."""

    can_warm_start = True     # optimizer="auto" may start lbfgs from SGD steps (_api)

    def __init__(self, problem, spec, theta, n_threads, opt_state=None, t=0):
        resolve_n_threads(n_threads, 1, True)     # validated, then unused: numpy decides
        self.problem, self.spec = problem, spec
        self.theta = theta
        # the optimizer's state vectors, then with averaging the mean and its compensation
        shape = (N_STATE[spec.optimizer] + 2 * (spec.average > 0), problem.n_params)
        self.state = (np.zeros(shape, dtype=problem.dtype) if opt_state is None
                      else opt_state.reshape(shape))
        self.t = t
        # sparse_updates="lazy" changes the adaptive optimizers only: sgd, momentum and
        # nesterov always take the dense step (the native O(nnz) forms are exact)
        self.lazy = (problem.sparse and spec.sparse_updates == "lazy"
                     and spec.optimizer in ADAPTIVE_OPTIMIZERS)

    def gradient(self, theta):
        """(ok, the data gradient over all rows at theta, the sum of sw_i * loss_i)."""
        p, spec = self.problem, self.spec
        grad, loss = batch_gradient(spec.loss, p.n_outputs, spec.epsilon, p.X, p.y, p.sw,
                                    None, theta)
        return math.isfinite(loss), grad, loss

    def gram(self, v):
        """(1/n) sum_i sw_i x_i x_i^T v over the rows extended by a 1 (v: d + 1 entries)."""
        p = self.problem
        return batch_gradient("squared", 1, 0.0, p.X, np.zeros(p.n, dtype=p.dtype), p.sw,
                              None, v)[0]

    def flat_state(self):
        return self.state.reshape(-1)

    def run_epoch(self, order, lr_epoch):
        if isinstance(order, Shuffle):
            order = order.array()
        p, spec = self.problem, self.spec
        n, bs, K = p.n, spec.batch_size, p.n_outputs
        total = 0.0
        for start in range(0, n, bs):
            rows = (np.arange(start, min(start + bs, n)) if order is None
                    else order[start:start + bs])
            grad, loss = batch_gradient(spec.loss, K, spec.epsilon, p.X, p.y, p.sw, rows,
                                        self.theta)
            total += loss
            self.t += 1
            if not math.isfinite(loss):
                return False, total
            if spec.clip_norm > 0:
                clip_gradient(grad[:p.n_params if spec.fit_intercept else K * p.d],
                              spec.clip_norm)
            lr = step_lr(spec, lr_epoch, self.t)
            if self.lazy:
                # only the features present in the batch's rows, and the intercepts
                touched = np.unique(p.X.matrix[rows].indices)   # explicit zeros included
                sel = np.concatenate([(np.arange(K)[:, None] * p.d + touched).ravel(),
                                      np.arange(K * p.d, p.n_params)])
                th, st = self.theta[sel], self.state[:, sel]
                update(spec, th, grad[sel], st, K * len(touched), self.t, lr,
                       spec.fit_intercept)
                self.theta[sel], self.state[:, sel] = th, st
            else:
                update(spec, self.theta, grad, self.state[:N_STATE[spec.optimizer]], K * p.d,
                       self.t, lr, spec.fit_intercept)
            if spec.average and self.t >= spec.average:
                average(self.state[-2], self.state[-1], self.theta, self.t - spec.average + 1,
                        self.theta.shape[0] if spec.fit_intercept else K * p.d)
        return True, total

    def step_lr(self, lr_epoch):
        return step_lr(self.spec, lr_epoch, max(self.t, 1))


# the signature, type hints and docstring of gdfast.fit (inspect.signature and Sphinx follow
# __wrapped__), so that the options are declared once; the docstring's first paragraph is the
# reference's own
@functools.wraps(_api.fit)
def fit(X: MatrixLike, y: ArrayLike, **options: Any) -> FitResult:
    return _api.run_fit(ReferenceEngine, X, y, options)


fit.__module__ = __name__
if fit.__doc__ is not None:                     # None under python -OO
    fit.__doc__ = """Fit a linear model by gradient descent, every step in plain numpy.

    The numpy reference implementation of :func:`gdfast.fit`: the same signature and
    semantics, the same results up to rounding (``parallel="hogwild"`` is validated, then run
    serially).

    """ + fit.__doc__[fit.__doc__.index("Parameters\n"):]

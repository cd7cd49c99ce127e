"""The time to reach the optimum's objective within OPTIMUM_RTOL: gdfast's candidate
configurations against scikit-learn's L-BFGS, the optimum itself solved by scipy's L-BFGS-B."""
import time
import warnings

import numpy as np

import gdfast
from benchmarks.common import ALPHA, fit_kwargs, logistic_objective

from . import optional
from .measure import measure, wall

OPTIMUM_RTOL = 1e-3
OPTIMUM_MAX_S = 20.0         # give up on a time-to-optimum configuration after this long


# Time-to-optimum candidates for gdfast: name -> fit keyword arguments, tuned by hand on
# this script's data at n = 50_000 and 400_000.
OPTIMUM_CONFIGS = {
    "full-batch nesterov lr=0.6": dict(optimizer="nesterov", batch_size=None,
                                       learning_rate=0.6),
    "full-batch gradient descent lr=1": dict(optimizer="sgd", batch_size=None,
                                             learning_rate=1.0),
    "adam 256 lr=1e-2, exponential gamma=0.3": dict(optimizer="adam", batch_size=256,
                                                    learning_rate=1e-2,
                                                    schedule="exponential", gamma=0.3),
    "sgd 32 lr=0.02, exponential gamma=0.3": dict(optimizer="sgd", batch_size=32,
                                                  learning_rate=0.02,
                                                  schedule="exponential", gamma=0.3),
}


def objective_and_grad(theta, X, ypm, alpha):
    """The L2-regularized logistic objective (intercept unpenalized, y in +-1) and its
    gradient, theta = (w, b)."""
    w, b = theta[:-1], theta[-1]
    m = ypm * (X @ w + b)
    f = np.mean(np.logaddexp(0.0, -m)) + alpha / 2 * (w @ w)
    r = -ypm * np.exp(-np.logaddexp(0.0, m)) / len(m)     # d mean / d p = -y sigmoid(-m) / n
    return f, np.concatenate([X.T @ r + alpha * w, [r.sum()]])


def solve_optimum(report, X, y):
    """The optimum objective, by scipy's L-BFGS-B at tight tolerance (scikit-learn's lbfgs at
    tol=1e-10 as a cross-check); the lowest of the two is the reference value."""
    found = {}
    optimize = optional("scipy.optimize")
    if optimize is not None:
        ypm = np.where(y > 0, 1.0, -1.0)
        res = optimize.minimize(objective_and_grad, np.zeros(X.shape[1] + 1), jac=True,
                                args=(X, ypm, ALPHA), method="L-BFGS-B",
                                options=dict(maxiter=10_000, gtol=1e-10, ftol=1e-15))
        found["scipy L-BFGS-B"] = float(res.fun)
    clf = sklearn_lbfgs(X, y, max_iter=10_000, tol=1e-10)
    if clf is not None:
        found["sklearn lbfgs tol=1e-10"] = logistic_objective(X, y, clf.coef_[0],
                                                              clf.intercept_[0])
    if not found:
        report.notes.append("time to optimum skipped: neither scipy nor scikit-learn")
        return None
    return found


def sklearn_lbfgs(X, y, max_iter, tol=1e-12):
    """LogisticRegression(solver='lbfgs', C=1/(alpha n)): scikit-learn minimizes
    C sum_i log(1 + exp(-y_i p_i)) + 1/2 ||w||^2; divided by C n this is
    (1/n) sum_i log(1 + exp(-y_i p_i)) + 1/(2 C n) ||w||^2, our objective when
    1/(C n) = alpha.  The intercept is unpenalized in both."""
    linear_model = optional("sklearn.linear_model")
    if linear_model is None:
        return None
    from sklearn.exceptions import ConvergenceWarning
    clf = linear_model.LogisticRegression(solver="lbfgs", C=1.0 / (ALPHA * len(y)),
                                          max_iter=max_iter, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def lbfgs_time_to(X, y, target, repeats):
    """The fewest L-BFGS iterations (doubling, then bisection) whose fit reaches target,
    and the median time of that fit."""
    def reaches(k):
        clf = sklearn_lbfgs(X, y, k)
        return logistic_objective(X, y, clf.coef_[0], clf.intercept_[0]) <= target

    hi = 1
    while not reaches(hi):
        hi *= 2
        if hi > 4096:
            return None
    lo = hi // 2                     # fails (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
    timing = measure(lambda: wall(sklearn_lbfgs, X, y, hi), repeats)
    return {"iterations": hi, "seconds": timing.seconds, "runs": timing.runs,
            "others": timing.others}


def gdfast_time_to(X, y, target, kwargs):
    """One gdfast fit, stopped by a callback on the epoch loss: once it is within the target,
    the objective at the current parameters is recomputed (timed too) and the fit stops
    when that confirms it.  The epoch loss alone can stop too early: it is taken along the
    epoch (full batch: at the previous iterate) and momentum methods overshoot."""
    def stop(rec):
        if rec["time"] > OPTIMUM_MAX_S:
            return True
        return (rec["loss"] <= target
                and logistic_objective(X, y, rec["coef"], rec["intercept"]) <= target)

    t0 = time.perf_counter()
    res = gdfast.fit(X, y, callback=stop, **fit_kwargs(max_epochs=10_000, **kwargs))
    seconds = time.perf_counter() - t0
    final = logistic_objective(X, y, res.coef, res.intercept)
    return {"seconds": seconds, "epochs": res.n_epochs, "objective": final,
            "reached": bool(final <= target)}


def run_optimum(report, X, y, repeats):
    found = solve_optimum(report, X, y)
    if found is None:
        return
    target = min(found.values()) * (1 + OPTIMUM_RTOL)
    section = {"optimum": found, "target": target, "gdfast": {}}
    section["sklearn lbfgs"] = lbfgs_time_to(X, y, target, repeats) if optional("sklearn") else None
    for name, kwargs in OPTIMUM_CONFIGS.items():
        first = gdfast_time_to(X, y, target, kwargs)     # deterministic (random_state=0)
        result = first | {"runs": 1, "others": None}
        if first["reached"]:                             # the first run was the warm-up
            timing = measure(lambda kw=kwargs: gdfast_time_to(X, y, target, kw)["seconds"],
                             repeats, warmup=False)
            result |= {"seconds": timing.seconds, "runs": timing.runs, "others": timing.others}
        section["gdfast"][name] = result
    reached = {k: v for k, v in section["gdfast"].items() if v["reached"]}
    if reached:
        section["best"] = min(reached, key=lambda k: reached[k]["seconds"])
        if section["sklearn lbfgs"]:
            report.measured["optimum_over_lbfgs"] = (reached[section["best"]]["seconds"]
                                                     / section["sklearn lbfgs"]["seconds"])
    report.sections["optimum"] = section

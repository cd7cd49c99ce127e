"""The other libraries' solvers of the time-to-optimum benchmark, each with gdfast's alpha
mapped to its own regularization parameter (the only place these mappings are written):

* scikit-learn LogisticRegression(C) minimizes C sum_i loss_i + 1/2 ||w||^2, which is
  C n F for alpha = 1 / (C n) (binary and multinomial); Ridge(alpha_r) minimizes
  ||y - X w - b||^2 + alpha_r ||w||^2 = 2 n F for alpha = alpha_r / n; PoissonRegressor
  (alpha_p) minimizes mean half deviance + alpha_p / 2 ||w||^2 = F for alpha = alpha_p.
* snapml minimizes sum_i loss_i + regularizer / 2 ||w||^2: regularizer = alpha n.  Its
  intercept is the weight of an appended constant column of value intercept_scaling, a
  weight that is penalized: a scaling of 10 makes that penalty 100 times smaller (the
  reported intercept_ is the weight, times the scaling gives the intercept).
* sklearnex (scikit-learn-intelex) patches scikit-learn's estimators: the same mappings.

`python benchmarks/optimum.py --check` verifies them numerically.
"""
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import optional

SNAPML_INTERCEPT_SCALING = 10.0
TIGHT_TOL = 1e-10
NEWTON_MAX_D = 4096          # features; newton-cholesky factors a (K d) x (K d) Hessian


@dataclass
class Peer:
    name: str
    library: str
    make: Callable           # (tol, max_iter) -> an unfitted estimator
    iterative: bool = True   # False: a direct solve, tol and max_iter unused
    intercept_scaling: float = 1.0

    def fit(self, problem, tol, max_iter):
        est = self.make(tol, max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # ConvergenceWarning at small max_iter
            est.fit(problem.X, problem.y)
        return est

    def params(self, est, problem):
        """(coef, intercept) in gdfast's shapes."""
        coef, b = np.asarray(est.coef_, dtype=np.float64), np.ravel(est.intercept_)
        if problem.loss == "multinomial":
            return coef, b
        return coef.ravel(), float(b[0]) * self.intercept_scaling


def n_iter(est):
    """The estimator's iteration count (the most over its models), None when it has none."""
    it = getattr(est, "n_iter_", None)
    return None if it is None else int(np.max(it))


def sklearn_newton_multinomial():
    """Whether the installed scikit-learn's newton-cholesky solves multinomial problems
    (1.6 and later)."""
    import sklearn
    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    return (major, minor) >= (1, 6)


def exact_solver(problem, alpha):
    """(Peer, description) of the optimum's tightly converged second-order solve."""
    from sklearn import linear_model as lm
    n, C = problem.n, 1.0 / (alpha * problem.n)
    if problem.loss == "squared":
        return (Peer("Ridge cholesky", "scikit-learn",
                     lambda tol, it: lm.Ridge(alpha=alpha * n, solver="cholesky"), False),
                "scikit-learn Ridge(solver='cholesky'): the closed form")
    if problem.loss == "poisson":
        return (Peer("PoissonRegressor newton-cholesky", "scikit-learn",
                     lambda tol, it: lm.PoissonRegressor(alpha=alpha, solver="newton-cholesky",
                                                         tol=TIGHT_TOL, max_iter=1000)),
                f"scikit-learn PoissonRegressor(solver='newton-cholesky', tol={TIGHT_TOL:g})")
    if problem.d > NEWTON_MAX_D:
        solver, tol, why = "lbfgs", TIGHT_TOL, f" (d = {problem.d}: too large for a Newton solve)"
    elif problem.loss == "multinomial" and not sklearn_newton_multinomial():
        solver, tol, why = "lbfgs", 1e-12, " (this scikit-learn has no multinomial Newton)"
    else:
        solver, tol, why = "newton-cholesky", TIGHT_TOL, ""
    max_iter = 100_000 if solver == "lbfgs" else 1000
    return (Peer(f"LogisticRegression {solver}", "scikit-learn",
                 lambda _tol, _it: lm.LogisticRegression(C=C, solver=solver, tol=tol,
                                                         max_iter=max_iter)),
            f"scikit-learn LogisticRegression(solver='{solver}', tol={tol:g}){why}")


def limit_sklearnex_threads(n_threads):
    """sklearnex runs oneDAL on its own (TBB) threads, which threadpoolctl does not limit."""
    daal4py = optional("daal4py")
    if daal4py is not None:
        daal4py.daalinit(n_threads)


def snapml_peer(cls, regularizer, n_threads):
    s = SNAPML_INTERCEPT_SCALING
    return Peer(cls.__name__, "snapml", lambda tol, it: cls(
        regularizer=regularizer, fit_intercept=True, intercept_scaling=s, tol=tol,
        max_iter=it, n_jobs=n_threads), intercept_scaling=s)


def peers_for(problem, alpha, n_threads):
    """([Peer], [note]): the libraries' solvers for this problem, those of the optional
    libraries that are installed and support its loss; a note for each skipped one."""
    from sklearn import linear_model as lm
    n, C = problem.n, 1.0 / (alpha * problem.n)
    peers, notes = [], []
    sklearnex = optional("sklearnex.linear_model")
    snapml = optional("snapml")
    if problem.loss in ("logistic", "multinomial"):
        peers.append(Peer("LogisticRegression lbfgs", "scikit-learn",
                          lambda tol, it: lm.LogisticRegression(C=C, tol=tol, max_iter=it)))
        if sklearnex is not None:
            peers.append(Peer("LogisticRegression lbfgs", "sklearnex",
                              lambda tol, it: sklearnex.LogisticRegression(C=C, tol=tol,
                                                                           max_iter=it)))
        if snapml is not None and problem.loss == "logistic":
            peers.append(snapml_peer(snapml.LogisticRegression, alpha * n, n_threads))
        elif snapml is not None:
            notes.append("snapml skipped: its multi-class logistic regression is one-vs-rest, "
                         "another objective")
    elif problem.loss == "squared":
        peers.append(Peer("Ridge default solver", "scikit-learn",
                          lambda tol, it: lm.Ridge(alpha=alpha * n), False))
        peers.append(Peer("Ridge sag", "scikit-learn", lambda tol, it: lm.Ridge(
            alpha=alpha * n, solver="sag", tol=tol, max_iter=it, random_state=0)))
        if sklearnex is not None:
            peers.append(Peer("Ridge", "sklearnex",
                              lambda tol, it: sklearnex.Ridge(alpha=alpha * n), False))
        if snapml is not None:
            peers.append(snapml_peer(snapml.LinearRegression, alpha * n, n_threads))
    elif problem.loss == "poisson":
        peers.append(Peer("PoissonRegressor lbfgs", "scikit-learn",
                          lambda tol, it: lm.PoissonRegressor(alpha=alpha, tol=tol, max_iter=it)))
        notes += [f"{lib} skipped: it has no Poisson regression"
                  for lib, mod in (("sklearnex", sklearnex), ("snapml", snapml)) if mod]
    notes += [f"{lib} skipped: not installed (pip install {pkg})"
              for lib, pkg, mod in (("sklearnex", "scikit-learn-intelex", sklearnex),
                                    ("snapml", "snapml", snapml)) if mod is None]
    return peers, notes

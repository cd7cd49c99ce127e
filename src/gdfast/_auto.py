"""The "auto" options: which optimizer, batch size and schedule a fit uses when the user does
not say, and the learning rate derived from the problem (docs/guide/auto.md says why).

- optimizer="auto": "lbfgs" (full batch, _lbfgs.py) for the smooth losses, unless a batch
  size, a learning rate, a schedule, Hogwild or an incremental fit (partial_fit) asks for
  first-order steps; "sgd" otherwise.  Quasi-Newton steps on the fused native gradient
  reach the optimum in tens of passes where constant-step first-order methods stall in
  their noise ball.  When the rows far outnumber the parameters and the loss's curvature
  depends on the fit, it starts from one epoch of averaged SGD (warm_start_plan()).
- batch_size="auto": the full batch for lbfgs, 32 rows otherwise.
- schedule="auto": with a derived rate and batches smaller than the data, the plateau rule
  (the rate divided by 5 whenever the loss stops improving), which reaches the optimum rather
  than a noise ball, and which ends the fit once the rate has fallen by AUTO_PLATEAU_RANGE;
  "constant" otherwise (a full batch, or a learning rate the user chose).
- learning_rate="auto": 1 / L for a full batch, 1 / (2 L_b) for batches of b rows, where L is
  the loss's smoothness constant times the largest eigenvalue of the weighted (X, 1)^T (X, 1)
  / n (a few power iterations on the engine's own gradient) plus the L2 penalty, and L_b the
  expected smoothness of b-row batches (Gower et al. 2019, "SGD: general analysis and improved
  rates"), which mixes L with the largest row norm (scikit-learn's SAG step does the same for
  b = 1).  Heavy ball and Nesterov momentum take (1 - momentum) of that step; the adaptive
  optimizers, whose steps have the parameters' units whatever the data's scale, take torch's
  defaults.  The driver halves no step on its own: a step that makes an epoch diverge is
  undone and retried at a quarter of the rate (_driver.py).
"""
import math

import numpy as np

from gdfast._threads import one_blas_thread

SMOOTH_LOSSES = ("squared", "logistic", "squared_hinge", "modified_huber", "huber", "poisson",
                 "multinomial")
# the loss's second derivative in z, bounded (the curvature of the softmax is at most 1/2;
# hinge and epsilon_insensitive are not smooth: 1 sets their scale)
SMOOTHNESS = {"squared": 1.0, "logistic": 0.25, "multinomial": 0.5, "squared_hinge": 2.0,
              "modified_huber": 2.0, "huber": 1.0, "hinge": 1.0, "epsilon_insensitive": 1.0}
ADAPTIVE_RATES = {"adam": 1e-3, "adamw": 1e-3, "adagrad": 1e-2, "rmsprop": 1e-2}  # torch's
AUTO_BATCH = 32
AUTO_PLATEAU_RANGE = 1e-4        # schedule="auto" stops once the rate is this share of its start
AUTO_FIRST_ORDER_TOL = 1e-3      # tol="auto" for the first-order optimizers (the old default)
# optimizer="auto"'s warm start (warm_start_plan): the losses it is for, the rows per
# parameter it needs, its batch, and the least contraction one epoch must reach along the
# flattest direction of the sampled curvature
WARM_LOSSES = ("logistic", "multinomial", "squared_hinge", "modified_huber", "huber")
WARM_ROWS_PER_PARAM = 200
WARM_BATCH = 256
WARM_MIN_CONTRACTION = 10.0
WARM_RETRIES = 3           # the safeguard's reductions before the warm epoch is given up
WARM_SEED = 0              # its row order: the defaults stay deterministic, as L-BFGS is
POWER_ITERATIONS = 12
POWER_RTOL = 1e-2


def choose_optimizer(loss, batch_size, schedule, auto_lr, hogwild, incremental,
                     averaged=False):
    """optimizer="auto" (see the module docstring).  A learning rate, a schedule other than
    constant, a batch size that the user gives, or averaging asks for first-order steps:
    "sgd", the optimizer such a call always got."""
    if (loss in SMOOTH_LOSSES and batch_size in ("auto", None) and auto_lr
            and schedule in ("auto", "constant") and not hogwild and not incremental
            and not averaged):
        return "lbfgs"
    return "sgd"


def choose_batch_size(optimizer):
    """batch_size="auto": None (full batch) for lbfgs, AUTO_BATCH rows otherwise."""
    return None if optimizer == "lbfgs" else AUTO_BATCH


def choose_schedule(optimizer, batch_size, n, auto_lr, averaged=False):
    """schedule="auto": the plateau rule for steps on batches at a derived rate; constant for
    a full batch, for a rate the user chose (which then means what it always meant), and
    with averaging, whose mean of constant-step iterates is the rule (Bach and Moulines,
    2013, for least squares: the average converges where the iterates keep their noise)."""
    if optimizer == "lbfgs" or batch_size >= n or not auto_lr or averaged:
        return "constant"
    return "plateau"


def largest_eigenvalue(gram, theta_like, fit_intercept, d):
    """The largest eigenvalue of the weighted Gram matrix that gram(v) multiplies by (the
    intercept's column of ones included when it is fitted), by power iterations from the
    all-ones vector (deterministic; the weighted column means usually point near the top
    eigenvector).  A lower bound that is within POWER_RTOL of the eigenvalue when the
    iterations converge; the driver's safeguard covers the rest."""
    v = np.ones(d + 1, dtype=theta_like.dtype)
    if not fit_intercept:
        v[d] = 0
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(POWER_ITERATIONS):
        w = gram(v)
        if not fit_intercept:
            w[d] = 0
        lam_new = float(v.astype(np.float64) @ w.astype(np.float64))
        norm = float(np.linalg.norm(w))
        if norm == 0 or not math.isfinite(norm):
            return max(lam_new, 0.0)
        v = (w / norm).astype(theta_like.dtype)
        if abs(lam_new - lam) <= POWER_RTOL * lam_new:
            return lam_new
        lam = lam_new
    return lam


def smoothness(loss, problem):
    """The loss's curvature bound; for poisson (unbounded) the curvature exp(z) at the
    weighted mean target, where a fitted intercept puts z."""
    if loss == "poisson":
        return max(1.0, problem.mean_target())
    return SMOOTHNESS[loss]


def learning_rate(engine, problem, spec):
    """learning_rate="auto" for a first-order optimizer (see the module docstring)."""
    if spec.optimizer in ADAPTIVE_RATES:
        return ADAPTIVE_RATES[spec.optimizer]
    n, b = problem.n, spec.batch_size
    c = smoothness(spec.loss, problem)
    lam = largest_eigenvalue(engine.gram, engine.theta, spec.fit_intercept, problem.d)
    L = c * lam
    if b >= n:
        Lb, share = L, 1.0
    else:
        Lmax = c * problem.max_row_norm(spec.fit_intercept)
        Lb = (n * (b - 1) * L + (n - b) * Lmax) / (b * (n - 1))
        share = 0.5
    rate = share / (Lb + spec.l2) if Lb + spec.l2 > 0 else 1.0
    if spec.optimizer in ("momentum", "nesterov"):
        rate *= 1.0 - spec.momentum
    return rate


def may_warm_start(problem, spec):
    """Whether warm_start_plan may start L-BFGS from an SGD epoch, before the moments and the
    sample it reads are known (L-BFGS then leaves its first gradient to a pass of its own):
    its conditions on the loss, the penalty, the rows, and X dense with the whitening's
    number of features."""
    # (a late import: _lbfgs imports this module)
    from gdfast._lbfgs import SKETCH_MAX_FEATURES

    return (spec.loss in WARM_LOSSES and spec.l1 == 0 and not problem.sparse
            and 2 <= problem.d <= SKETCH_MAX_FEATURES
            and problem.n >= max(WARM_ROWS_PER_PARAM * problem.n_params, 4 * WARM_BATCH))


def warm_start_plan(lbfgs, spec):
    """The learning rate of optimizer="auto"'s warm start, or None where it does not pay.

    L-BFGS pays a pass over X for each iteration, and its first iterations, before the pairs
    describe the curvature, gain little; one epoch of averaged SGD on batches of WARM_BATCH
    rows makes n / WARM_BATCH steps for about the price of a pass, and its mean of
    constant-step iterates is within O(P / n) of the optimum (Bach and Moulines, 2013; Vowpal
    Wabbit starts its L-BFGS from an online pass the same way: Agarwal et al., 2014, "A
    reliable effective terascale linear learning system").  L-BFGS then goes on from that
    mean to the optimum.  The plan needs all of:

    - a loss in WARM_LOSSES: a curvature that changes with the fit, so that the whitened
      start of L-BFGS is not already Newton's step (for "squared" it nearly is) and a global
      smoothness bound that makes a constant step safe ("poisson" has none);
    - dense X whose sampled covariance was computed (lbfgs.cov: the whitening's sample, no
      L1 penalty), and at least WARM_ROWS_PER_PARAM rows per parameter;
    - a step that contracts the flattest sampled direction by WARM_MIN_CONTRACTION over the
      epoch: n / b steps of rate times that direction's curvature, at the derived rate.  Columns on
      different scales, or strongly correlated ones, fail this: SGD in the user's units would
      not move them, which L-BFGS's preconditioner does.

    The rate is learning_rate="auto"'s for b-row batches.  The curvature comes from the
    weighted Gram matrix of (x, 1) built from the sampled covariance, the exact column means
    and the weights' mean W, [[cov + W m m^T, W m], [W m^T, W]] (no power iterations): its
    largest eigenvalue sets the rate, and the smallest of c times it plus the penalty (the
    intercept's direction included: offset columns make it flat) the contraction."""
    problem = lbfgs.problem
    cov = getattr(lbfgs, "cov", None)
    if not may_warm_start(problem, spec) or cov is None:
        return None
    n, b, d = problem.n, WARM_BATCH, problem.d
    c = smoothness(spec.loss, problem)
    W = 1.0 if problem.sw is None else float(np.sum(problem.sw, dtype=np.float64)) / n
    if spec.fit_intercept:
        m = lbfgs.mu
        G = np.empty((d + 1, d + 1))
        G[:d, :d] = cov + W * np.outer(m, m)
        G[:d, d] = G[d, :d] = W * m
        G[d, d] = W
        penalty = np.append(np.full(d, spec.l2), 0.0)     # the intercept is not penalized
    else:                  # cov is then the uncentred one (the preconditioner's mu is 0)
        G, penalty = cov, np.full(d, spec.l2)
    if not np.isfinite(G).all():
        return None
    with one_blas_thread():
        lam = float(np.linalg.eigvalsh(G)[-1])
        flat = float(np.linalg.eigvalsh(c * G + np.diag(penalty))[0])
    L = c * lam
    # the largest rate the rows' norms allow, first: a pass over X only where it may pass
    if (n / b) * 0.5 * flat / (n * (b - 1) * L / (b * (n - 1)) + spec.l2) < WARM_MIN_CONTRACTION:
        return None
    Lmax = c * problem.max_row_norm(spec.fit_intercept)
    Lb = (n * (b - 1) * L + (n - b) * Lmax) / (b * (n - 1))
    if not (math.isfinite(Lb) and Lb + spec.l2 > 0):
        return None
    rate = 0.5 / (Lb + spec.l2)
    if (n / b) * rate * flat < WARM_MIN_CONTRACTION:
        return None
    return rate

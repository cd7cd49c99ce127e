"""optimizer="lbfgs": full-batch limited-memory BFGS on the engines' full gradient, with
orthant-wise steps (OWL-QN) for an L1 penalty, and a preconditioner.

Each "epoch" of this optimizer is one quasi-Newton iteration: a direction from the last
10 to 100 steps (the two-loop recursion), then a backtracking line search whose every trial
is one pass over X by the engine's fused gradient (the native kernel on all threads, or
numpy in the reference).  Both engines run this same code, so they differ only by the
rounding of their gradients.

Why a preconditioner: a column measured in miles beside 0/1 indicators makes the objective's
curvature differ by many orders of magnitude between coordinates, and L-BFGS from a scaled
identity needs many iterations to learn that; a column with a large offset is nearly
collinear with the intercept.  The iteration runs in coordinates v where the columns are
centred and scaled (theta = T v, see preconditioner(): glmnet and glum standardize the same
way and map back), never by copying X: T is applied to the parameters and its transpose to
the gradient, O(P) a pass.  The objective, the penalty and the parameters the user sees stay
in the user's units.  Scaling cannot undo correlated columns, so on dense X without L1 the
coefficients of each output are also whitened by a small dense matrix from a sample of rows
(whitening()), O(K d^2) a pass.

Why these safeguards: a trial whose loss is NaN or infinite (an exp overflow of the poisson
loss, say) is a failed trial like any other, and the step shrinks; a pair (s, y) with
s.y <= 0 (impossible for a convex objective, possible by rounding) is not stored; a line
search that cannot lower the objective ends the fit as converged at the precision of the
arithmetic.  So the fit never diverges.
"""
import numpy as np

from gdfast._auto import smoothness
from gdfast._losses import intercept_rows
from gdfast._problem import Problem
from gdfast._threads import one_blas_thread

# stored (s, y) pairs: from scipy's and torch's 10 up to 100, as many as keep the pairs'
# m P entries within a twentieth of X's stored entries (or 2**20): more pairs cut the
# iterations on ill-conditioned problems, and cost little beside a pass over X when P is
# small against the data
MEMORY_RANGE = (10, 100)
MEMORY_BUDGET = 2 ** 20
ARMIJO = 1e-4             # sufficient decrease constant
MAX_TRIALS = 40           # line-search trials before the step is declared impossible
AUTO_TOL = 1e-10          # tol="auto": the largest gradient entry, relative to max(1, F)
ROUNDING = 1e-10          # how far f may rise within its rounding (approximate Wolfe)
CURVATURE = 0.9           # Wolfe's curvature constant (approximate Wolfe)
STAGNATION = 3
# the sketched preconditioner (whitening()): rows sampled per feature, the blend of the
# sampled correlations with the identity, and the most features it is used for
SKETCH_ROWS_PER_FEATURE = 50
SKETCH_BLEND = 0.01
SKETCH_MAX_FEATURES = 1024
SKETCH_PASSES = 8         # the sketch's multiply-adds at most 8 passes' worth (BLAS runs
SKETCH_BUDGET = 2 ** 27   # them several times faster than a pass), or 2**27 on small data
# the first gradient read with the moments (LbfgsEngine): while its K planes of sums stay in
# a core's cache beside the moments' (the kernel adds each row to every plane), and its
# residuals, n x K in float64, take no more memory than X
FIRST_GRADIENT_BYTES = 2 ** 20


def preconditioner(problem, curvature, l2, center, n_threads=None, residuals=None):
    """The change of coordinates theta = T v (float64): per column j the mean mu_j (with
    center, when the intercept is fitted: the sw-weighted mean; else 0) and the scale
    s_j = 1 / sqrt(c var_j + l2), var_j = mean_i sw_i (x_ij - mu_j)^2, c the loss's curvature
    bound: the inverse square root of the Hessian's diagonal at its largest (Jacobi) for
    centred columns; 1 / sqrt(c mean_i sw_i) for the intercepts, 1 for a constant column
    without penalty.  Returns (scale in theta's layout, mu, var, G), G = X^T residuals
    (K x d) from the same read of X where residuals are given (Problem.column_moments), else
    None.  Scaling by the columns alone would make a strong L2 penalty on small columns the
    ill-conditioned part; centring removes the coupling of a column's offset with the
    intercept (glmnet standardizes the same way)."""
    n = problem.n
    # Huge or non-finite columns get the identity here: the kernel's own check then names
    # the row, or the line search backs off.
    s1, s2, total, G = problem.column_moments(n_threads, residuals)
    with np.errstate(invalid="ignore", over="ignore"):
        # the objective is a mean over the n rows of sw_i loss_i: its curvature in w_j is
        # sum_i sw_i (x_ij - mu_j)^2 / n about the weighted mean mu_j, and in b sum_i sw_i / n
        mu = s1 / total if center else np.zeros(problem.d)
        mu = np.where(np.isfinite(mu), mu, 0.0)
        var = np.maximum((s2 - 2 * mu * s1 + total * mu * mu) / n, 0.0)
        diag = curvature * var + l2
    with np.errstate(divide="ignore"):
        scale = np.where((diag > 0) & np.isfinite(diag), 1.0 / np.sqrt(diag), 1.0)
    K = problem.n_outputs
    b_scale = 1.0 / np.sqrt(curvature * total / n)
    return np.concatenate([np.tile(scale, K), np.full(K, b_scale)]), mu, var, G


def whitening(problem, curvature, l2, var, mu):
    """A dense preconditioner for dense X without an L1 penalty: (L, L^-1, cov), L (d x d) with
    L^T C L = I, C = c D^1/2 R D^1/2 + l2 I, where D holds the exact column variances (var),
    R the columns' correlations in an evenly spaced sample of SKETCH_ROWS_PER_FEATURE d rows
    (blended with the identity by SKETCH_BLEND), c the loss's curvature bound.  C bounds the
    smooth part's Hessian in the coefficients of each output (for the squared loss it is
    that Hessian, up to the sample), so in coordinates v with w = L v the Hessian is near the
    identity even where columns are strongly correlated, which a diagonal scaling cannot
    reach: the sketch of randomized preconditioners (Rokhlin and Tygert, 2008; Avron et al.,
    Blendenpik, 2010), on a sample's covariance.  None where it would not pay: sparse X, an
    L1 penalty (OWL-QN needs separable coordinates), too many features, or a sketch that
    would cost more than a few passes over X.  cov = D^1/2 R D^1/2, the sampled estimate of
    the weighted covariance of the columns, is what optimizer="auto"'s warm start reads
    (_auto.warm_start_plan)."""
    n, d = problem.n, problem.d
    if problem.sparse or d < 2 or d > SKETCH_MAX_FEATURES:
        return None
    m = min(n, SKETCH_ROWS_PER_FEATURE * d)
    if m * d * d > max(SKETCH_PASSES * n * d, SKETCH_BUDGET):
        return None
    rows = (np.arange(m, dtype=np.int64) * n) // m
    Z, sw = problem.sample_rows(rows)
    with one_blas_thread():
        return _whitening_from_sample(Z, sw, d, curvature, l2, var, mu)


def _whitening_from_sample(Z, sw, d, curvature, l2, var, mu):
    """whitening() on its sample Z of rows (float64, changed in place) and their weights."""
    with np.errstate(over="ignore", invalid="ignore"):
        Z -= mu
        if sw is not None:
            Z *= np.sqrt(sw)[:, None]
        G = Z.T @ Z
    if not np.isfinite(G).all():        # huge or non-finite values: the diagonal scaling
        return None
    sd = np.sqrt(np.diag(G))
    live = sd > 0
    if not live.any():
        return None
    R = np.eye(d)
    idx = np.flatnonzero(live)
    R[np.ix_(idx, idx)] = G[np.ix_(idx, idx)] / np.outer(sd[idx], sd[idx])
    R = (1.0 - SKETCH_BLEND) * R + SKETCH_BLEND * np.eye(d)
    dv = np.sqrt(curvature * var)
    C = R * np.outer(dv, dv)
    C[np.diag_indices(d)] += l2
    zero = np.diag(C) <= 0          # a constant column without penalty: left as it is
    C[zero, zero] = 1.0
    try:
        chol = np.linalg.cholesky(C)            # C = chol chol^T
    except np.linalg.LinAlgError:
        return None
    # L = chol^-T: L^T C L = chol^-1 chol chol^T chol^-T = I; its inverse is chol^T
    return np.linalg.inv(chol).T, chol.T, R * np.outer(np.sqrt(var), np.sqrt(var))


class LbfgsEngine:
    """The driver's engine interface (run_epoch, theta, t, flat_state, step_lr) around a base
    engine that supplies gradient(theta) -> (ok, data gradient, loss sum)."""

    native = False

    def __init__(self, base, tol, first_gradient=True):
        self.base = base
        p, spec = base.problem, base.spec
        self.problem, self.spec = p, spec
        self.theta = base.theta                   # in the user's units, the dtype of the fit
        self.t = base.t
        K, d = p.n_outputs, p.d
        self.n_coef = K * d
        self.free = np.ones(p.n_params, dtype=bool)
        if not spec.fit_intercept:
            self.free[self.n_coef:] = False
        c = smoothness(spec.loss, p)
        # A fit from coefficients zero (the usual start) begins with the gradient there: X^T R
        # for the loss derivatives R of every row at the intercepts alone, which depend on y
        # only.  Read with the preconditioner's moments of dense X, it saves the first pass
        # over X.  Not for sparse X: there each plane of sums is a random write an entry, and
        # three planes in one pass cost what two passes do (docs/design/sparse.md); nor for a
        # distributed problem (its rows are on the workers), nor for planes or residuals
        # beyond FIRST_GRADIENT_BYTES' rule, nor where the caller starts elsewhere (a warm
        # start).
        residuals, self._first = None, None
        if (first_gradient and isinstance(p, Problem) and not p.sparse
                and K * d * 8 <= FIRST_GRADIENT_BYTES and K * 8 <= d * p.dtype.itemsize
                and not self.theta[:self.n_coef].any()):
            loss0, residuals = intercept_rows(spec.loss, K, spec.epsilon, p.y, p.sw,
                                              self.theta[self.n_coef:].astype(np.float64))
        # the native engine reads the moments by its kernel, the reference by numpy and scipy
        self.scale, self.mu, var, G = preconditioner(p, c, spec.l2, spec.fit_intercept,
                                                     getattr(base, "n_threads", None),
                                                     residuals)
        if G is not None:
            # the data gradient as the engines give it: sum_i sw_i dloss_i/dz x_i / n.  The
            # native kernels add the rows' terms in X's dtype: sums beyond its range are the
            # overflow that pass would have met (X near float32's largest values, say), and
            # the start is then not finite, as it was with the pass
            sums = np.concatenate([G.reshape(-1), residuals.sum(axis=0)])
            with np.errstate(over="ignore", invalid="ignore"):
                ok = bool(np.isfinite(sums.astype(p.dtype)).all()) and np.isfinite(loss0)
                grad = (sums / p.n).astype(p.dtype)
            # with the start it belongs to: used only while theta is still there
            self._first = (self.theta.copy(), ok, loss0, grad)
        self.l2, self.l1 = spec.l2, spec.l1
        # w_k = L v_k for each output k when the dense preconditioner applies (the diagonal
        # scale is then 1 on the coefficients), else w = scale * v
        pair = None if self.l1 else whitening(p, c, spec.l2, var, self.mu)
        self.L, self.L_inv, self.cov = (None, None, None) if pair is None else pair
        if self.L is not None:
            self.scale[:self.n_coef] = 1.0
        self.l1_v = np.zeros(p.n_params)          # the L1 weight of each v coordinate
        self.l1_v[:self.n_coef] = self.l1 * self.scale[:self.n_coef]
        self.tol = AUTO_TOL if tol == "auto" else tol
        self.S, self.Y, self.rho = [], [], []
        nnz = p.nnz
        lo, hi = MEMORY_RANGE
        self.memory = int(min(hi, max(lo, max(nnz // 20, MEMORY_BUDGET) // p.n_params)))
        self.v = None                             # float64 iterate, T^-1 theta
        self.f = self.g = None                    # objective and its v-gradient at v
        self.step = 1.0                           # the last accepted step length
        self.flat = 0                             # iterations in a row at f's rounding
        self.converged = False
        self.fallback = None                      # (v, f) where a warm start began
        self.warm_discarded = False               # whether L-BFGS went on from there

    # -- the objective in the v coordinates ------------------------------------------------

    def _to_theta(self, v):
        """theta = T v, float64: w = s v_w, b = s_b v_b - mu . w per output."""
        theta = v * self.scale
        K, d = self.problem.n_outputs, self.problem.d
        if self.L is not None:
            theta[:self.n_coef] = (theta[:self.n_coef].reshape(K, d) @ self.L.T).reshape(-1)
        theta[self.n_coef:] -= theta[:self.n_coef].reshape(K, d) @ self.mu
        return theta

    def _from_theta(self, theta):
        """v = T^-1 theta."""
        K, d = self.problem.n_outputs, self.problem.d
        theta = theta.astype(np.float64)
        theta[self.n_coef:] += theta[:self.n_coef].reshape(K, d) @ self.mu
        if self.L is not None:
            theta[:self.n_coef] = (theta[:self.n_coef].reshape(K, d)
                                   @ self.L_inv.T).reshape(-1)
        return theta / self.scale

    def _evaluate(self, v, start=False):
        """(f, smooth gradient in v, theta, the loss sum) at v; f is inf where the loss is not
        finite.  start: v = T^-1 self.theta, where the moments' read of X may have given the
        gradient already (__init__: when self.theta is still the start it was computed at);
        that gradient serves once, and any evaluation drops it."""
        theta64 = self._to_theta(v)
        theta = theta64.astype(self.theta.dtype)
        first, self._first = self._first, None
        if start and first is not None and np.array_equal(first[0], self.theta):
            _, ok, loss_sum, grad = first
        else:
            ok, grad, loss_sum = self.base.gradient(theta)
        if not ok or not np.isfinite(loss_sum):
            return np.inf, None, theta, loss_sum
        p = self.problem
        w = theta64[:self.n_coef]
        g = grad.astype(np.float64)
        g[:self.n_coef] += self.l2 * w
        # the chain rule through T: d/dv_w = s (d/dw - mu d/db), d/dv_b = s_b d/db
        g[:self.n_coef] -= np.outer(g[self.n_coef:], self.mu).reshape(-1)
        if self.L is not None:                    # d/dv_k = L^T d/dw_k
            K, d = p.n_outputs, p.d
            g[:self.n_coef] = (g[:self.n_coef].reshape(K, d) @ self.L).reshape(-1)
        g *= self.scale
        g[~self.free] = 0.0
        f = loss_sum / p.n + p.y_const + self.l2 / 2 * float(w @ w)
        if self.l1:
            f += self.l1 * float(np.abs(w).sum())
        if not np.isfinite(f) or not np.isfinite(g).all():
            return np.inf, None, theta, loss_sum
        return f, g, theta, loss_sum

    def start_value(self):
        """The objective at theta, without a pass over X where the coefficients are all zero
        (a cold start: every row's decision values are then the intercepts)."""
        p = self.problem
        if self.theta[:self.n_coef].any():
            return self._evaluate(self._from_theta(self.theta))[0]
        loss_sum, _ = intercept_rows(self.spec.loss, p.n_outputs, self.spec.epsilon, p.y, p.sw,
                                     self.theta[self.n_coef:].astype(np.float64))
        # as _evaluate's f: the penalty is 0 at zero coefficients
        f = loss_sum / p.n + p.y_const
        return f if np.isfinite(f) else np.inf

    def _pseudo_gradient(self, v, g):
        """The steepest-descent direction's negative: g itself without L1; with L1, OWL-QN's
        pseudo-gradient (the one-sided derivatives of |v| where v is 0)."""
        if not self.l1:
            return g
        lam = self.l1_v
        pg = g + lam * np.sign(v)
        zero = v == 0
        right, left = g + lam, g - lam
        pg[zero] = np.where(right[zero] < 0, right[zero],
                            np.where(left[zero] > 0, left[zero], 0.0))
        return pg

    def _direction(self, pg):
        """-H pg by the two-loop recursion (H0 = gamma I, gamma = s.y / y.y of the last pair)."""
        q = -pg
        alphas = []
        for s, y, rho in zip(reversed(self.S), reversed(self.Y), reversed(self.rho),
                             strict=True):
            a = rho * float(s @ q)
            q -= a * y
            alphas.append(a)
        if self.S:
            q *= float(self.S[-1] @ self.Y[-1]) / float(self.Y[-1] @ self.Y[-1])
        for (s, y, rho), a in zip(zip(self.S, self.Y, self.rho, strict=True),
                                  reversed(alphas), strict=True):
            b = rho * float(y @ q)
            q += (a - b) * s
        return q

    # -- the engine interface ----------------------------------------------------------------

    def run_epoch(self, order, lr_epoch):
        """One iteration; returns (ok, the data loss sum at the new parameters)."""
        if self.v is None:
            self.v = self._from_theta(self.theta)
            self.f, self.g, _, self._loss_sum = self._evaluate(self.v, start=True)
            if self.fallback is not None and not self.f <= self.fallback[1]:
                # a warm start that ended above where it began (or not finite): L-BFGS goes
                # on from the start instead (a pass: the warm start's L-BFGS has no first
                # gradient from the moments)
                self.warm_discarded = True
                self.v = self.fallback[0]
                self.f, self.g, theta, self._loss_sum = self._evaluate(self.v)
                self.theta[...] = theta
            self.fallback = None
            if self.g is None:
                return False, self._loss_sum
        v, f = self.v, self.f
        pg = self._pseudo_gradient(v, self.g)
        pg[~self.free] = 0.0
        if not pg.any():
            self.converged = True
            return True, self._loss_sum
        p = self._direction(pg)
        if self.l1:
            p[p * pg >= 0] = 0.0                  # keep to the pseudo-gradient's orthant
        slope = float(pg @ p)
        if slope >= 0:                            # not a descent direction: restart
            self.S, self.Y, self.rho = [], [], []
            p, slope = -pg, -float(pg @ pg)
        # the first step, before any pair: whitened coordinates make the loss's curvature
        # bound about the identity, so 1 is the 1 / L step (Newton's, for the squared loss);
        # with the diagonal scaling alone the columns' correlations can make the curvature
        # up to d times larger, and the step is the length-one step of scipy and torch
        step = 1.0 if self.S or self.L is not None else min(1.0, 1.0 / np.sqrt(-slope))
        orthant = np.where(v != 0, np.sign(v), -np.sign(pg)) if self.l1 else None
        for _ in range(MAX_TRIALS):
            v_new = v + step * p
            if orthant is not None:
                v_new[v_new * orthant < 0] = 0.0
            f_new, g_new, theta_new, loss_sum = self._evaluate(v_new)
            decrease = float(pg @ (v_new - v)) if orthant is not None else step * slope
            if f_new <= f + ARMIJO * decrease:
                break
            # near the optimum f changes by less than its rounding, and the Armijo test
            # compares noise: Hager and Zhang's approximate Wolfe conditions accept a step
            # that keeps f within that rounding and lowers the slope along p by enough
            if (np.isfinite(f_new) and f_new <= f + ROUNDING * abs(f)
                    and (2 * ARMIJO - 1) * slope >= float(
                        self._pseudo_gradient(v_new, g_new) @ p) >= CURVATURE * slope):
                break
            if np.isfinite(f_new) and f_new > f and orthant is None:
                # the minimum of the quadratic through f, slope and f_new, kept in [0.1, 0.5]
                step *= min(0.5, max(0.1, -slope * step / (2 * (f_new - f - slope * step))))
            else:
                step *= 0.5 if np.isfinite(f_new) else 0.1
        else:
            self.converged = True                 # no decrease is possible at this precision
            return True, self._loss_sum
        self.t += 1
        self.step = step
        s, y = v_new - v, g_new - self.g
        sy = float(s @ y)
        if sy > 1e-12 * float(y @ y):
            self.S.append(s)
            self.Y.append(y)
            self.rho.append(1.0 / sy)
            if len(self.S) > self.memory:
                del self.S[0], self.Y[0], self.rho[0]
        self.v, self.f, self.g, self._loss_sum = v_new, f_new, g_new, loss_sum
        pg_new = self._pseudo_gradient(v_new, g_new)
        pg_new[~self.free] = 0.0
        g_max, g_max_before = float(np.max(np.abs(pg_new))), float(np.max(np.abs(pg)))
        # at the precision of the arithmetic neither f nor the gradient shrinks any more:
        # STAGNATION such iterations in a row end the fit too
        flat = (f - f_new <= 16 * np.finfo(self.theta.dtype).eps * abs(f)
                and g_max > 0.5 * g_max_before)
        self.flat = self.flat + 1 if flat else 0
        if self.flat >= STAGNATION:
            self.converged = True
        elif self.tol is not None and g_max <= self.tol * max(1.0, abs(f_new)):
            self.converged = True
        self.theta[...] = theta_new
        return True, loss_sum

    def flat_state(self):
        # the curvature pairs are not kept: a continued fit rebuilds them in a few iterations
        return np.empty(0, dtype=self.theta.dtype)

    def step_lr(self, lr_epoch):
        return self.step

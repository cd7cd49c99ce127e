"""The "auto" defaults (issue 21): optimizer="lbfgs" against the reference and an independent
solver, the curvature estimate against numpy.linalg, learning_rate="auto" and its safeguard,
what the fit reports, and that explicit options keep their meaning.

Tolerances: lbfgs runs the same Python iteration on both engines, whose gradients differ by
the order of their sums (a few eps); over a few iterations the line search and the two-loop
recursion carry that difference, so the engines agree to 1e4 eps (2e-12 in float64, 1e-3 in
float32) after ITERATIONS iterations.  The optimum is the minimum of the same objective by
scipy's L-BFGS-B driven to its tightest tolerances, a solver that shares no code with gdfast.
"""
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdfast
from conftest import DTYPES, LOSSES, make_problem, rel_err
from gdfast import _api, _auto, reference
from gdfast._native import NativeEngine

SMOOTH = _auto.SMOOTH_LOSSES
ITERATIONS = 6


def objective(loss, X, y, coef, intercept, alpha, l1_ratio, sw=None, epsilon=0.1):
    """gdfast's objective in plain numpy (float64), written from its documentation: the
    weighted mean row loss plus the elastic-net penalty on the coefficients."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    coef = np.asarray(coef, np.float64)
    Z = X @ coef.T + intercept
    if loss == "multinomial":
        classes = np.unique(y)
        k = np.searchsorted(classes, y)
        top = Z.max(1)
        row = np.log(np.exp(Z - top[:, None]).sum(1)) + top - Z[np.arange(len(y)), k]
    else:
        z = Z
        if loss in ("logistic", "squared_hinge", "modified_huber", "hinge"):
            s = np.where(y == np.max(y), 1.0, -1.0)
            m = s * z
            row = {"logistic": lambda: np.logaddexp(0, -m),
                   "squared_hinge": lambda: np.maximum(0, 1 - m) ** 2,
                   "hinge": lambda: np.maximum(0, 1 - m),
                   "modified_huber": lambda: np.where(m >= -1, np.maximum(0, 1 - m) ** 2, -4 * m),
                   }[loss]()
        elif loss == "squared":
            row = 0.5 * (z - y) ** 2
        elif loss == "huber":
            r = np.abs(z - y)
            row = np.where(r <= epsilon, 0.5 * r * r, epsilon * r - 0.5 * epsilon ** 2)
        elif loss == "epsilon_insensitive":
            row = np.maximum(0, np.abs(z - y) - epsilon)
        else:                                                   # poisson, the half deviance
            ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0)
            row = np.exp(z) - y * z + ylogy - y
    w = np.ones(len(y)) if sw is None else sw
    pen = alpha * ((1 - l1_ratio) / 2 * np.sum(coef ** 2) + l1_ratio * np.sum(np.abs(coef)))
    return float(np.mean(w * row) + pen)


def optimum(loss, X, y, alpha, sw=None, n_classes=1):
    """F* by scipy's L-BFGS-B at its tightest tolerances, on the reference's batch_gradient
    (checked against finite differences in test_reference_oracles.py), the objective judged
    by objective() above."""
    d = X.shape[1]
    s = _api.setup(X, y, dict(loss=loss, alpha=alpha, sample_weight=sw), native=False)
    p = s.problem
    K = p.n_outputs

    def fun(theta):
        g, loss_sum = reference.batch_gradient(loss, K, 0.1, p.X, p.y, p.sw, None, theta)
        w = theta[:K * d]
        g = g.astype(np.float64)
        g[:K * d] += alpha * w
        return loss_sum / p.n + p.y_const + alpha / 2 * w @ w, g

    res = scipy.optimize.minimize(fun, np.zeros(K * (d + 1)), jac=True, method="L-BFGS-B",
                                  options=dict(maxiter=100_000, maxcor=50, ftol=0, gtol=1e-13))
    theta = res.x
    coef = theta[:K * d].reshape(K, d) if K > 1 else theta[:d]
    return objective(loss, X, y, coef, theta[K * d:] if K > 1 else theta[d], alpha, 0.0, sw)


# --- optimizer="lbfgs": native against the reference -------------------------------------

@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("loss", SMOOTH)
def test_lbfgs_native_matches_reference(loss, l1_ratio, layout, dtype, n_threads):
    X, y = make_problem(loss, n=120, d=6, dtype=dtype)
    if layout == "csr":
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0))
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    kw = dict(loss=loss, optimizer="lbfgs", alpha=1e-2, l1_ratio=l1_ratio, sample_weight=sw,
              max_epochs=ITERATIONS, tol=None)
    a = gdfast.fit(X, y, n_threads=n_threads, **kw)
    b = reference.fit(X, y, **kw)
    eps = 1e4 * np.finfo(dtype).eps
    assert a.coef.dtype == b.coef.dtype == dtype
    assert a.n_epochs == b.n_epochs and a.n_steps == b.n_steps
    assert rel_err(a.coef, b.coef) <= eps
    assert rel_err(a.intercept, b.intercept) <= eps
    assert rel_err(a.loss_history, b.loss_history) <= eps
    assert a.optimizer == "lbfgs" and a.batch_size is None


@pytest.mark.parametrize("n_threads", [1, 2])
def test_lbfgs_same_bits_for_any_thread_count(n_threads):
    X, y = make_problem("multinomial", n=300, d=8)
    one = gdfast.fit(X, y, loss="multinomial", n_threads=1)
    other = gdfast.fit(X, y, loss="multinomial", n_threads=n_threads)
    np.testing.assert_array_equal(one.coef, other.coef)
    np.testing.assert_array_equal(one.loss_history, other.loss_history)


# --- the defaults reach the optimum ---------------------------------------------------------

@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("loss", SMOOTH)
def test_defaults_reach_the_optimum_of_every_smooth_loss(loss, layout):
    X, y = make_problem(loss, n=300, d=6)
    X = X * np.logspace(-2, 2, X.shape[1])          # four orders of magnitude of column scale
    if layout == "csr":
        X = sp.csr_matrix(np.where(np.abs(X) > 0.3 * np.abs(X).mean(0), X, 0))
    sw = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    alpha = 1e-3
    res = gdfast.fit(X, y, loss=loss, alpha=alpha, sample_weight=sw)
    assert res.optimizer == "lbfgs" and res.converged
    best = optimum(loss, X, y, alpha, sw)
    got = objective(loss, X, y, res.coef, res.intercept, alpha, 0.0, sw)
    assert got - best <= 1e-6 * abs(best), (got, best)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss", LOSSES)
def test_intercept_rows_give_the_gradient_at_zero_coefficients(loss, weighted):
    # _losses.intercept_rows, from y alone: the loss sum and, through X^T R / n and R's
    # column sums / n, the reference's batch gradient at coefficients zero and intercepts b
    from gdfast._losses import intercept_rows
    X, y = make_problem(loss, n=90, d=4)
    rng = np.random.default_rng(3)
    sw = rng.uniform(0.2, 3.0, len(y)) if weighted else None
    s = _api.setup(X, y, dict(loss=loss, sample_weight=sw))
    p, eps = s.problem, s.spec.epsilon
    K, d = p.n_outputs, p.d
    b = rng.uniform(-1.0, 1.0, K)
    theta = np.concatenate([np.zeros(K * d), b])
    grad, loss_sum = reference.batch_gradient(loss, K, eps, p.X, p.y, p.sw, None, theta)
    total, R = intercept_rows(loss, K, eps, p.y, p.sw, b)
    assert R.shape == (p.n, K) and R.dtype == np.float64 and R.flags.c_contiguous
    assert total == pytest.approx(loss_sum, rel=1e-13)
    mine = np.concatenate([(R.T @ p.X).reshape(-1), R.sum(axis=0)]) / p.n
    np.testing.assert_allclose(mine, grad, rtol=1e-12, atol=1e-15)


def _first_iteration(s, cls, n_threads, first_gradient, before=None):
    """(the first gradient LbfgsEngine read with the moments, the passes of its first
    iteration, theta after it, the base engine): before(lbfgs) runs ahead of the iteration."""
    from gdfast._lbfgs import LbfgsEngine
    base = cls(s.problem, s.spec, s.theta.copy(), n_threads)
    passes = []
    gradient = base.gradient
    base.gradient = lambda theta: passes.append(1) or gradient(theta)
    lbfgs = LbfgsEngine(base, "auto", first_gradient=first_gradient)
    fused = lbfgs._first
    if before is not None:
        before(lbfgs)
    assert lbfgs.run_epoch(None, 1.0)[0]
    assert lbfgs._first is None                             # used once, or dropped
    return fused, len(passes), lbfgs.theta.astype(np.float64), lbfgs


FIRST_CASES = {"plain": {}, "weighted": {}, "intercept": dict(intercept_init=0.4),
               "no-intercept": dict(fit_intercept=False), "blocks": {}}


@pytest.mark.parametrize("case", FIRST_CASES)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("engine", ["native", "reference"])
@pytest.mark.parametrize("loss", ["logistic", "multinomial", "squared", "poisson"])
def test_lbfgs_first_gradient_comes_with_the_moments(loss, engine, dtype, n_threads, case):
    # from coefficients zero on dense X, L-BFGS reads its first gradient with the
    # preconditioner's moments (one read of X): it equals the engine's own pass there within
    # the dtype's rounding (with weights, intercepts not zero, no intercept, and X in several
    # of the kernel's row blocks), and the first iteration then makes one pass fewer and the
    # same step
    n, d = (4000, 40) if case == "blocks" else (400, 6)     # 160 000 entries: 2 blocks
    X, y = make_problem(loss, n=n, d=d, dtype=dtype)
    kw = dict(FIRST_CASES[case], loss=loss, alpha=1e-3)
    if case == "weighted":
        kw["sample_weight"] = np.random.default_rng(4).uniform(0.2, 3.0, n)
    if case == "intercept" and loss == "multinomial":
        kw["intercept_init"] = np.array([-0.4, 0.1, 0.4])  # make_problem's 3 classes
    s = _api.setup(X, y, kw)
    cls = NativeEngine if engine == "native" else reference.ReferenceEngine
    fused, n_fused, theta_fused, _ = _first_iteration(s, cls, n_threads, True)
    plain, n_plain, theta_plain, _ = _first_iteration(s, cls, n_threads, False)
    assert plain is None and fused is not None and n_fused == n_plain - 1
    start, ok0, loss0, g0 = fused
    np.testing.assert_array_equal(start, s.theta)
    assert ok0 and g0.dtype == dtype
    tol = 64 * float(np.finfo(dtype).eps)
    ok, grad, loss_sum = cls(s.problem, s.spec, s.theta.copy(), n_threads).gradient(s.theta)
    assert ok and loss0 == pytest.approx(loss_sum, rel=tol)
    np.testing.assert_allclose(g0, grad, rtol=tol, atol=tol * float(np.abs(grad).max()))
    np.testing.assert_allclose(theta_fused, theta_plain, rtol=1e3 * tol,
                               atol=1e3 * tol * np.abs(theta_plain).max())


def test_lbfgs_first_gradient_is_not_used_once_theta_moved():
    # the gradient read with the moments belongs to the start: an engine whose theta moved
    # before its first iteration (as a warm start moves it) evaluates with a pass, and its
    # objective is the one at the new theta
    X, y = make_problem("logistic", n=400, d=6)
    s = _api.setup(X, y, dict(loss="logistic", alpha=1e-3))

    def move(lbfgs):
        lbfgs.theta[lbfgs.n_coef:] = 0.7

    fused, n_moved, _, lbfgs = _first_iteration(s, NativeEngine, 2, True, before=move)
    _, n_plain, _, _ = _first_iteration(s, NativeEngine, 2, False)
    assert fused is not None and n_moved == n_plain


def test_lbfgs_first_gradient_is_a_pass_on_sparse_x():
    # CSR: the moments kernel scatters each plane of sums at random, and a third plane
    # costs what the gradient's own pass does: the first iteration makes the same passes
    X, y = make_problem("logistic", n=300, d=8)
    s = _api.setup(sp.csr_matrix(X), y, dict(loss="logistic"))
    fused, n_first, _, _ = _first_iteration(s, NativeEngine, 2, True)
    _, n_plain, _, _ = _first_iteration(s, NativeEngine, 2, False)
    assert fused is None and n_first == n_plain


def test_whitening_inverts_the_curvature_bound():
    # with fewer rows than the sketch takes, it is the whole weighted covariance:
    # L^T C L = I for C = c D^1/2 R D^1/2 + l2 I, R the blended correlations
    from gdfast import _lbfgs
    rng = np.random.default_rng(0)
    n, d = 200, 7
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.uniform(-3, 3, d)
    sw = rng.uniform(0.5, 2.0, n)
    s = _api.setup(X, rng.integers(0, 2, n), dict(loss="logistic", sample_weight=sw))
    p, c, l2 = s.problem, 0.25, 1e-3
    scale, mu, var, _ = _lbfgs.preconditioner(p, c, l2, True)
    L, L_inv, _ = _lbfgs.whitening(p, c, l2, var, mu)
    np.testing.assert_allclose(L @ L_inv, np.eye(d), atol=1e-10)
    w = p.sw.astype(np.float64)
    np.testing.assert_allclose(mu, w @ X / w.sum(), rtol=1e-12)
    Z = (X - mu) * np.sqrt(w)[:, None]
    cov = Z.T @ Z / n
    np.testing.assert_allclose(var, np.diag(cov), rtol=1e-10)
    sd = np.sqrt(np.diag(cov))
    R = (1 - _lbfgs.SKETCH_BLEND) * cov / np.outer(sd, sd) + _lbfgs.SKETCH_BLEND * np.eye(d)
    C = c * R * np.outer(sd, sd) + l2 * np.eye(d)
    np.testing.assert_allclose(L.T @ C @ L, np.eye(d), atol=1e-10)
    # not for sparse X, nor with an L1 penalty (OWL-QN needs separable coordinates)
    assert _lbfgs.whitening(_api.setup(sp.csr_matrix(X), y := s.problem.y, {}).problem,
                            1.0, l2, var, mu) is None
    engine = _lbfgs.LbfgsEngine(NativeEngine(*_setup_parts(X, y, l1_ratio=0.5)), "auto")
    assert engine.L is None


def _setup_parts(X, y, **kw):
    s = _api.setup(X, y, dict(kw, alpha=1e-3))
    return s.problem, s.spec, s.theta, 1


def test_correlated_columns_take_few_iterations(monkeypatch):
    # AR(1) columns with correlation 0.99: the diagonal scaling leaves a condition number in
    # the hundreds, the sketched whitening brings it near 1; both reach the exact solution
    from gdfast import _lbfgs
    rng = np.random.default_rng(1)
    n, d = 3000, 30
    X = np.empty((n, d))
    X[:, 0] = rng.standard_normal(n)
    for j in range(1, d):
        X[:, j] = 0.99 * X[:, j - 1] + np.sqrt(1 - 0.99 ** 2) * rng.standard_normal(n)
    X = X * np.logspace(-1, 1, d) + 5.0
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    alpha = 1e-4
    Xc = np.hstack([X, np.ones((n, 1))])
    reg = np.diag(np.r_[np.full(d, alpha), 0.0])
    exact = np.linalg.solve(Xc.T @ Xc / n + reg, Xc.T @ y / n)
    whitened = gdfast.fit(X, y, alpha=alpha)
    monkeypatch.setattr(_lbfgs, "whitening", lambda *a: None)
    diagonal = gdfast.fit(X, y, alpha=alpha)

    def F(theta):
        r = Xc @ theta - y
        return 0.5 * np.mean(r * r) + alpha / 2 * theta[:d] @ theta[:d]

    for res in (whitened, diagonal):
        assert res.converged
        gap = F(np.r_[res.coef, res.intercept]) - F(exact)
        assert gap <= 1e-10 * F(exact), gap
    assert whitened.n_epochs <= 30, whitened.n_epochs
    assert diagonal.n_epochs >= 3 * whitened.n_epochs, (diagonal.n_epochs, whitened.n_epochs)


def test_lbfgs_l1_matches_lasso_zeros_included():
    from sklearn.linear_model import Lasso
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 20)) * np.logspace(-1, 1, 20)
    w = np.where(rng.random(20) < 0.5, rng.standard_normal(20), 0)
    y = X @ w + 0.1 * rng.standard_normal(400)
    alpha = 0.05
    res = gdfast.fit(X, y, alpha=alpha, l1_ratio=1.0)        # OWL-QN
    lasso = Lasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(res.coef, lasso.coef_, atol=1e-6)
    assert np.count_nonzero(lasso.coef_ == 0) > 0
    np.testing.assert_array_equal(res.coef == 0, lasso.coef_ == 0)


def test_float32_lbfgs_converges_near_the_optimum():
    X, y = make_problem("logistic", n=500, d=8)
    res = gdfast.fit(X.astype(np.float32), y, loss="logistic", alpha=1e-3)
    assert res.coef.dtype == np.float32 and res.converged
    best = optimum("logistic", X, y, 1e-3)
    got = objective("logistic", X, y, res.coef, res.intercept, 1e-3, 0.0)
    assert got - best <= 1e-5 * best


def test_poisson_with_overflowing_steps_does_not_diverge():
    # counts up to e^20: exp overflows on the first trial steps, which then shrink
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    y = rng.poisson(np.exp(np.clip(5 * X[:, 0], -20, 20))).astype(float)
    res = gdfast.fit(X, y, loss="poisson", alpha=1e-3)
    assert res.converged and np.isfinite(res.coef).all()
    assert res.loss_history[-1] < res.loss_history[0]


# --- the curvature estimate -----------------------------------------------------------------

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_power_iteration_against_eigvalsh(dtype, layout, weighted, fit_intercept):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 7)) * np.linspace(0.5, 3.0, 7) + 0.5
    sw = rng.uniform(0.1, 2.0, 200) if weighted else None
    Xa = np.hstack([X, np.ones((200, 1))]) if fit_intercept else X
    w = np.ones(200) if sw is None else sw
    expected = np.linalg.eigvalsh(Xa.T @ (w[:, None] * Xa) / 200)[-1]
    Xin = sp.csr_matrix(X.astype(dtype)) if layout == "csr" else X.astype(dtype)
    for engine_cls in (NativeEngine, reference.ReferenceEngine):
        s = _api.setup(Xin, rng.standard_normal(200), dict(
            optimizer="sgd", fit_intercept=fit_intercept, sample_weight=sw))
        engine = engine_cls(s.problem, s.spec, s.theta, 2)
        lam = _auto.largest_eigenvalue(engine.gram, engine.theta, fit_intercept, 7)
        assert lam <= expected * (1 + 1e3 * np.finfo(dtype).eps)     # a lower bound
        assert lam >= expected * (1 - 2 * _auto.POWER_RTOL)


def test_native_gram_equals_reference_gram():
    X, y = make_problem("squared", n=150, d=5)
    s = _api.setup(X, y, dict(optimizer="sgd"))
    v = np.random.default_rng(0).standard_normal(6)
    a = NativeEngine(s.problem, s.spec, s.theta, 2).gram(v)
    b = reference.ReferenceEngine(s.problem, s.spec, s.theta, 1).gram(v)
    Xa = np.hstack([X, np.ones((150, 1))])
    np.testing.assert_allclose(a, Xa.T @ (Xa @ v) / 150, rtol=1e-12)
    np.testing.assert_allclose(b, a, rtol=1e-12)


# --- learning_rate="auto" never diverges ----------------------------------------------------

FIRST_ORDER = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log_scales=st.lists(st.floats(-6, 6), min_size=1, max_size=5),
       loss=st.sampled_from(("squared", "logistic", "hinge", "huber", "squared_hinge",
                             "epsilon_insensitive", "modified_huber", "multinomial")),
       optimizer=st.sampled_from(("auto",) + FIRST_ORDER),
       batch_size=st.sampled_from(("auto", 1, 16, None)), seed=st.integers(0, 2 ** 16))
def test_auto_never_diverges_on_badly_scaled_columns(log_scales, loss, optimizer, batch_size,
                                                     seed):
    d = len(log_scales)
    X, y = make_problem(loss, n=80, d=d, seed=seed)
    X = X * 10.0 ** np.array(log_scales)
    kw = dict(loss=loss, optimizer=optimizer, batch_size=batch_size, max_epochs=15,
              random_state=seed)
    if optimizer == "auto" and batch_size in ("auto", None):
        kw["max_epochs"] = 200
    res = gdfast.fit(X, y, **kw)                      # no DivergenceError
    assert np.isfinite(res.coef).all() and np.isfinite(res.loss_history).all()
    start = gdfast.fit(X, y, **dict(kw, optimizer="sgd", learning_rate=1e-300, max_epochs=1,
                                    batch_size=None))
    # the safeguard's promise: no epoch ends above twice the starting objective
    assert res.loss_history.max() <= 2 * start.loss_history[0] * (1 + 1e-9)


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1.0, 1e3, 1e6])
def test_auto_fits_where_the_old_default_diverges(scale):
    X, y = make_problem("squared", n=200, d=4)
    Xs = X * scale
    old = dict(optimizer="sgd", learning_rate=0.01, schedule="constant", batch_size=32)
    if scale >= 1e3:
        with pytest.raises(gdfast.DivergenceError):
            gdfast.fit(Xs, y, **old)
    for kw in (dict(optimizer="sgd"), dict(optimizer="adam"), dict(optimizer="momentum")):
        res = gdfast.fit(Xs, y, **kw, random_state=0)         # first-order: safe, maybe slow
        assert np.isfinite(res.coef).all()
    # the defaults scale the columns: the unpenalized fit predicts the same at every scale
    res = gdfast.fit(Xs, y, alpha=0.0)
    np.testing.assert_allclose(res.predict(Xs), gdfast.fit(X, y, alpha=0.0).predict(X),
                               rtol=1e-6)


def test_the_safeguard_takes_back_a_diverging_epoch(monkeypatch):
    # a curvature estimate a million times too small: the first epochs diverge, are undone
    # and retried at a quarter of the rate until one holds
    X, y = make_problem("squared", n=200, d=4)
    true, derived = _auto.learning_rate, []

    def too_large(*args):
        derived.append(1e6 * true(*args))
        return derived[-1]

    monkeypatch.setattr(_auto, "learning_rate", too_large)
    for fit in (gdfast.fit, reference.fit):
        res = fit(X, y, optimizer="sgd", batch_size=8, random_state=0, max_epochs=30)
        assert np.isfinite(res.coef).all()
        assert res.learning_rate <= derived[-1] / 4 ** 5        # taken back several times
        assert np.mean((res.predict(X) - y) ** 2) < 0.5 * np.var(y)
        # a continued fit starts from the rate that held
        assert res.state.learning_rate == res.learning_rate


def test_auto_learning_rate_native_equals_reference():
    X, y = make_problem("logistic", n=300, d=5)
    for optimizer in ("sgd", "nesterov"):
        kw = dict(loss="logistic", optimizer=optimizer, batch_size=16, random_state=0,
                  max_epochs=5)
        a, b = gdfast.fit(X, y, **kw), reference.fit(X, y, **kw)
        assert a.learning_rate == pytest.approx(b.learning_rate, rel=1e-12)
        assert rel_err(a.coef, b.coef) <= 1e-10


# --- what is chosen, and what is reported ---------------------------------------------------

def test_the_choices_are_reported(capsys):
    X, y = make_problem("logistic", n=200, d=4)
    res = gdfast.fit(X, y, loss="logistic", verbose=1)
    assert (res.optimizer, res.batch_size, res.schedule) == ("lbfgs", None, "constant")
    assert "optimizer lbfgs, batch size full, schedule constant" in capsys.readouterr().out
    res = gdfast.fit(X, y, loss="hinge", random_state=0)
    assert (res.optimizer, res.batch_size, res.schedule) == ("sgd", 32, "plateau")
    assert 0 < res.learning_rate < np.inf
    res = gdfast.fit(X, y, loss="logistic", optimizer="adam", batch_size=16, max_epochs=2)
    assert (res.optimizer, res.learning_rate, res.schedule) == ("adam", 1e-3, "plateau")
    res = gdfast.fit(X, y, loss="logistic", learning_rate=0.05, max_epochs=2)
    assert (res.optimizer, res.learning_rate, res.schedule, res.batch_size) == (
        "sgd", 0.05, "constant", 32)


def test_estimators_report_the_choices():
    X, y = make_problem("multinomial", n=200, d=4)
    clf = gdfast.GDClassifier(multi_class="ovr").fit(X, y)
    assert clf.optimizer_ == "lbfgs" and clf.batch_size_ is None
    assert clf.learning_rate_.shape == (3,)
    reg = gdfast.GDRegressor().partial_fit(X, np.arange(200.0))
    assert (reg.optimizer_, reg.batch_size_) == ("sgd", 32)
    assert 0 < reg.learning_rate_ < np.inf
    # partial_fit after a full-batch fit goes on by per-batch steps
    reg = gdfast.GDRegressor().fit(X, np.arange(200.0))
    assert reg.optimizer_ == "lbfgs"
    reg.partial_fit(X, np.arange(200.0))
    assert reg.optimizer_ == "sgd"


def test_explicit_options_keep_their_meaning():
    # a learning rate given: the old defaults, the same bits
    X, y = make_problem("logistic", n=300, d=5)
    old = dict(optimizer="sgd", schedule="constant", batch_size=32, tol=1e-3)
    for kw in (dict(learning_rate=0.01), dict(optimizer="adam", learning_rate=0.01)):
        a = gdfast.fit(X, y, loss="logistic", random_state=0, **kw)
        b = gdfast.fit(X, y, loss="logistic", random_state=0, **dict(old, **kw))
        np.testing.assert_array_equal(a.coef, b.coef)
        np.testing.assert_array_equal(a.loss_history, b.loss_history)


@pytest.mark.parametrize("kw, match", [
    (dict(optimizer="lbfgs", batch_size=32), "batch_size must be None or 'auto'"),
    (dict(optimizer="lbfgs", schedule="cosine"), "schedule must be 'auto' or 'constant'"),
    (dict(learning_rate="fast"), "learning_rate must be a real number or 'auto'"),
    (dict(tol="tight"), "tol must be a real number or 'auto' or None"),
    (dict(batch_size="all"), "batch_size must be an integer or 'auto' or None"),
])
def test_bad_auto_options_are_named(kw, match):
    X, y = make_problem("squared", n=50, d=3)
    with pytest.raises((ValueError, TypeError), match=match):
        gdfast.fit(X, y, **kw)


def test_native_gradient_under_an_lbfgs_configuration():
    # lbfgs builds a kernel configuration without an optimizer code of its own
    X, y = make_problem("squared", n=50, d=3)
    s = _api.setup(X, y, dict(optimizer="lbfgs"))
    ok, grad, loss = NativeEngine(s.problem, s.spec, s.theta, 1).gradient(s.theta)
    expected, expected_loss = reference.batch_gradient("squared", 1, 0.1, X, s.problem.y, None,
                                                       None, s.theta)
    assert ok and loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)

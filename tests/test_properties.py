"""Property-based tests (hypothesis): native against reference on random small problems with
edge shapes: n = 1, d = 1, batch_size > n, constant and all-zero columns, huge and tiny
feature scales (issue #6).

Whole fits are compared for the optimizers whose step is Lipschitz in the gradient (sgd,
momentum, nesterov).  Adagrad, RMSprop and Adam divide by sqrt(v) + eps: on these edge shapes
a gradient coordinate can cancel exactly, and the rounding noise left in its place (1e-17) is
amplified by lr / eps into a step of up to lr, differently in any two summation orders.  For
them the properties are checked per kernel instead: the batch gradient within a rounding
bound, and the update rule on identical inputs."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdfast
from conftest import LOSSES, OPTIMIZERS, TEST_LR, make_spec, rel_err
from gdfast import _kernels, _options, _problem, reference

SCALES = (1e-3, 1.0, 1e3)
LIPSCHITZ = ("sgd", "momentum", "nesterov")
ADAPTIVE = tuple(o for o in OPTIMIZERS if o not in LIPSCHITZ)


@st.composite
def problems(draw):
    loss = draw(st.sampled_from(LOSSES))
    classification = loss in _options.CLASSIFICATION_LOSSES
    n = draw(st.integers(2 if classification else 1, 25))
    d = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    scales = np.array(draw(st.lists(st.sampled_from(SCALES), min_size=d, max_size=d)))
    X = rng.standard_normal((n, d)) * scales
    kind = draw(st.sampled_from(["plain", "constant", "zero"]))
    if kind != "plain":
        X[:, draw(st.integers(0, d - 1))] = 0.0 if kind == "zero" else 2.5
    if loss == "multinomial":
        y = rng.integers(0, 3, n)
        y[:2] = [0, 1]
    elif classification:
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
    elif loss == "poisson":
        y = rng.poisson(1.0, n).astype(float)
    else:
        y = rng.standard_normal(n) * draw(st.sampled_from(SCALES))
    optimizer = draw(st.sampled_from(LIPSCHITZ))
    # keep plain gradient steps stable on badly scaled rows; adaptive steps are scale-free
    row_sq = float(np.max(np.sum(X * X, axis=1))) + 1.0
    lr = TEST_LR[optimizer] / (row_sq if optimizer in ("sgd", "momentum", "nesterov") else 1.0)
    if loss == "poisson":
        lr = min(lr, 1e-3)
    kw = dict(loss=loss, optimizer=optimizer, learning_rate=lr,
              batch_size=draw(st.one_of(st.none(), st.integers(1, n + 5))),
              max_epochs=draw(st.integers(1, 4)), tol=None,
              alpha=draw(st.sampled_from([0.0, 1e-3])),
              l1_ratio=draw(st.sampled_from([0.0, 0.5])),
              fit_intercept=draw(st.booleans()), shuffle=draw(st.booleans()), random_state=seed)
    return X, y, kw


def outcome(fit, X, y, kw, **extra):
    try:
        return fit(X, y, **kw, **extra)
    except gdfast.DivergenceError as err:
        return ("diverged", err.epoch, err.step)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fit_matches_reference_on_random_problems(problem):
    X, y, kw = problem
    before = X.copy()
    a = outcome(gdfast.fit, X, y, kw, n_threads=2)
    b = outcome(reference.fit, X, y, kw)
    np.testing.assert_array_equal(X, before)
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b, (a, b)
        return
    tol = 2048 * np.finfo(np.float64).eps
    assert rel_err(a.coef, b.coef) <= tol, (rel_err(a.coef, b.coef), kw)
    assert rel_err(a.intercept, b.intercept) <= tol
    assert rel_err(a.loss_history, b.loss_history) <= tol
    assert a.n_steps == b.n_steps == a.n_epochs * -(-X.shape[0] // min(
        kw["batch_size"] or X.shape[0], X.shape[0]))


@pytest.fixture(autouse=True)
def _small_blocks(small_blocks):
    """Every example runs with 4-row blocks and threads opened for any work."""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(0, 2 ** 32 - 1), st.booleans())
def test_gradient_kernel_within_a_rounding_bound(problem, seed, weighted):
    X, y, kw = problem
    loss = kw["loss"]
    rng = np.random.default_rng(seed)
    n, d = X.shape
    y_enc, _, K = _problem.prepare_targets(y, loss, n, np.dtype(np.float64))
    theta = rng.standard_normal(K * (d + 1)) / np.r_[np.tile(np.abs(X).max(0) + 1.0, K),
                                                      np.ones(K)]
    rows = rng.permutation(n)[:rng.integers(1, n + 1)]
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    spec = make_spec(loss=loss, epsilon=0.3)
    cfg = _kernels.Config(**spec.kernel_config(K, d, 8))
    grad = np.empty_like(theta)
    status, loss_sum = _kernels.grad_dense(cfg, X, y_enc, np.empty(0) if sw is None else sw,
                                           rows.astype(np.int64), theta, grad,
                                           np.empty(cfg.work_size(d)), 2)
    assert status == 0
    g_ref, l_ref = reference.batch_gradient(loss, K, 0.3, X, y_enc, sw, rows, theta)
    # both sum the same terms sw_i dz_ik x_ij in different orders: the difference is bounded
    # by a few eps times the sum of their magnitudes (and dz by the rounding of z, absorbed
    # in the same factor for these smooth-almost-everywhere losses)
    Z = X[rows] @ theta[:K * d].reshape(K, d).T + theta[K * d:]
    dZ = (reference.softmax_loss_dz(Z, y_enc[rows].astype(np.intp))[1] if loss == "multinomial"
          else reference.row_loss_dz(loss, Z[:, 0], y_enc[rows], 0.3)[1][:, None])
    w = np.ones(len(rows)) if sw is None else sw[rows]
    A = np.abs(dZ) * w[:, None] + 1.0
    bound = np.r_[(A.T @ (np.abs(X[rows]) * (1 + np.abs(Z).max()))).ravel(), A.sum(0)]
    bound *= 256 * np.finfo(np.float64).eps * (d + len(rows)) / len(rows)
    assert np.all(np.abs(grad - g_ref) <= bound), np.max(np.abs(grad - g_ref) / bound)
    assert abs(loss_sum - l_ref) <= 256 * np.finfo(np.float64).eps * (d + len(rows)) * (
        abs(l_ref) + np.sum(A))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ADAPTIVE), st.integers(1, 40), st.integers(0, 2 ** 32 - 1),
       st.sampled_from([1e-17, 1e-8, 1.0, 1e8]), st.booleans(), st.booleans())
def test_adaptive_update_matches_reference_on_identical_inputs(optimizer, P, seed, scale,
                                                               centered, amsgrad):
    rng = np.random.default_rng(seed)
    spec = make_spec(optimizer=optimizer, centered=centered, amsgrad=amsgrad, alpha=1e-3,
                     l1_ratio=0.5, momentum=0.5 if optimizer == "rmsprop" else 0.0,
                     eps=_options.DEFAULT_EPS[optimizer])
    n_coef = max(P - 1, 0)
    theta_n = rng.standard_normal(P)
    theta_r = theta_n.copy()
    state_n = np.zeros(_options.N_STATE[optimizer] * P)
    state_r = np.zeros((_options.N_STATE[optimizer], P))
    cfg = _kernels.Config(**spec.kernel_config(1, max(n_coef, 1), 8))
    for t in range(1, 4):
        g = rng.standard_normal(P) * scale * (rng.random(P) > 0.3)     # some exact zeros
        _kernels.update(cfg, theta_n, g, state_n, n_coef, t, 0.05, 2)
        reference.update(spec, theta_r, g, state_r, n_coef, t, 0.05)
    tol = 2048 * np.finfo(np.float64).eps
    assert rel_err(theta_n, theta_r) <= tol
    assert rel_err(state_n, state_r.ravel()) <= tol

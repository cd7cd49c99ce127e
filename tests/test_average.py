"""Polyak-Ruppert averaging (average=): the native kernels against the reference, the
reference against a plain mean of the iterates, continuation, the options' checks, and what
averaging buys at a constant step.

Tolerances as in test_equivalence.py: 2048 eps of the dtype (the two differ in the order of
floating-point sums only).
"""
import numpy as np
import pytest
import scipy.sparse as sp

import gdfast
from conftest import DTYPES, OPTIMIZERS, TEST_LR, make_problem, rel_err
from gdfast import _api, _native, reference


def tol(dtype):
    return 2048 * np.finfo(dtype).eps


def assert_close(a, b, dtype, what):
    assert a.n_steps == b.n_steps, what
    assert rel_err(a.coef, b.coef) <= tol(dtype), f"{what}: coef {rel_err(a.coef, b.coef):.3g}"
    assert rel_err(a.intercept, b.intercept) <= tol(dtype), f"{what}: intercept"
    assert rel_err(a.loss_history, b.loss_history) <= tol(dtype), f"{what}: loss_history"


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("average", [True, 7])
@pytest.mark.parametrize("batch_size", [1, 16, None])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_averaged_fit_matches_reference(optimizer, batch_size, average, dtype, sparse,
                                        n_threads, small_blocks):
    loss = "logistic" if optimizer in ("sgd", "adam") else "squared"
    X, y = make_problem(loss, dtype=dtype)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.6, X, 0))
    kw = dict(loss=loss, optimizer=optimizer, learning_rate=TEST_LR[optimizer],
              batch_size=batch_size, max_epochs=4 if batch_size else 12, tol=None, alpha=1e-3,
              l1_ratio=0.3, random_state=0, average=average)
    a = gdfast.fit(X, y, n_threads=n_threads, **kw)
    b = reference.fit(X, y, **kw)
    what = f"{optimizer}/batch={batch_size}/average={average}/{dtype.__name__}/{n_threads}"
    assert_close(a, b, dtype, what)
    plain = gdfast.fit(X, y, n_threads=n_threads, **dict(kw, average=False))
    # the steps are the same ones: only what is reported differs.  The same bits on dense X,
    # except that per-sample sgd without averaging runs its fused row step (an ulp per step
    # apart); on CSR without averaging sgd and momentum take their O(nnz) closed forms,
    # which round differently from the dense step that averaging takes
    if sparse or (optimizer == "sgd" and batch_size == 1):
        assert rel_err(a.state.theta, plain.state.theta) <= tol(dtype), what
        assert rel_err(a.loss_history, plain.loss_history) <= tol(dtype), what
    else:
        np.testing.assert_array_equal(a.state.theta, plain.state.theta)
        np.testing.assert_array_equal(a.loss_history, plain.loss_history)
    assert rel_err(a.coef, plain.coef) > 100 * tol(dtype), what


@pytest.mark.parametrize("multinomial", [False, True])
@pytest.mark.parametrize("engine", ["native", "reference"])
def test_average_is_the_mean_of_the_iterates(engine, multinomial):
    # an independent oracle: a full batch takes one step per epoch, and the callback sees
    # each step's parameters; the averaged result is their plain mean from step `start` on
    fit = gdfast.fit if engine == "native" else reference.fit
    loss = "multinomial" if multinomial else "logistic"
    X, y = make_problem(loss, n=120)
    kw = dict(loss=loss, optimizer="momentum", learning_rate=0.05, batch_size=None,
              max_epochs=15, tol=None, alpha=1e-2)
    seen = []
    fit(X, y, callback=lambda r: seen.append(np.append(np.ravel(r["coef"]),
                                                       np.ravel(r["intercept"]))), **kw)
    seen = np.array(seen)
    for start in (1, 6, 15):
        res = fit(X, y, average=start, **kw)
        got = np.append(np.ravel(res.coef), np.ravel(res.intercept))
        np.testing.assert_allclose(got, seen[start - 1:].mean(axis=0), rtol=1e-12, atol=1e-14)
    # averaging from a step the fit never reaches reports the last iterate, same bits
    late = fit(X, y, average=16, **kw)
    np.testing.assert_array_equal(np.append(np.ravel(late.coef), np.ravel(late.intercept)),
                                  seen[-1])


def test_callback_sees_the_averaged_parameters():
    X, y = make_problem("squared", n=100)
    kw = dict(loss="squared", optimizer="sgd", learning_rate=0.05, batch_size=10,
              max_epochs=3, tol=None, random_state=1, average=True)
    seen = []
    res = gdfast.fit(X, y, callback=lambda r: seen.append(r["coef"].copy()), **kw)
    np.testing.assert_array_equal(seen[-1], res.coef)


@pytest.mark.parametrize("engine", ["native", "reference"])
def test_averaged_fit_continues_exactly(engine):
    engine_cls = _native.NativeEngine if engine == "native" else reference.ReferenceEngine
    X, y = make_problem("logistic", n=150)
    kw = dict(loss="logistic", optimizer="adam", batch_size=16, tol=None, random_state=3,
              learning_rate=0.01, average=20)
    full = _api.run_fit(engine_cls, X, y, dict(kw, max_epochs=4))
    state = None
    for _ in range(4):
        part = _api.run_fit(engine_cls, X, y, dict(kw, max_epochs=1), resume=state, horizon=4)
        state = part.state
    np.testing.assert_array_equal(part.coef, full.coef)
    np.testing.assert_array_equal(part.intercept, full.intercept)
    with pytest.raises(ValueError, match="cannot continue a fit made with average=20 using "
                                         "average=False"):
        _api.run_fit(engine_cls, X, y, dict(kw, average=False, max_epochs=1), resume=state)
    # a continued fit keeps averaging from the step its mean started at
    again = _api.run_fit(engine_cls, X, y, dict(kw, average=True, max_epochs=1), resume=state)
    assert again.state.average == 20


@pytest.mark.parametrize("engine", ["native", "reference"])
def test_averaging_after_lbfgs_starts_with_the_continued_steps(engine):
    # lbfgs keeps no optimizer state: a continued sgd fit starts its state, and its mean,
    # afresh at the next step, not from an empty mean as if steps 1..t had been averaged
    engine_cls = _native.NativeEngine if engine == "native" else reference.ReferenceEngine
    X, y = make_problem("logistic", n=120)
    first = _api.run_fit(engine_cls, X, y, dict(loss="logistic", alpha=1e-2, max_epochs=4,
                                                 tol=None))
    assert first.optimizer == "lbfgs" and first.n_steps == 4
    kw = dict(loss="logistic", alpha=1e-2, optimizer="sgd", learning_rate=0.5,
              batch_size=None, max_epochs=3, tol=None)
    seen = []
    _api.run_fit(engine_cls, X, y, dict(kw, callback=lambda r: seen.append(
        np.append(r["coef"], r["intercept"]))), resume=first.state)
    res = _api.run_fit(engine_cls, X, y, dict(kw, average=True), resume=first.state)
    assert res.state.average == 5
    np.testing.assert_allclose(np.append(res.coef, res.intercept), np.mean(seen, axis=0),
                               rtol=1e-12)


def test_float32_mean_keeps_moving():
    # after about 1e4 steps an increment (theta - mean) / k of 1e-3 falls below half an ulp
    # of a float32 mean near 1: a plain running mean stalls, the compensated one does not
    rng = np.random.default_rng(0)
    k_max, width = 60_000, 64
    iterates = (1.0 + 1e-3 * rng.standard_normal((k_max, width))).astype(np.float32)
    theta = np.empty(width, np.float32)
    avg, comp = np.zeros(width, np.float32), np.zeros(width, np.float32)
    plain = np.zeros(width, np.float32)
    for k in range(1, k_max + 1):
        theta[...] = iterates[k - 1]
        reference.average(avg, comp, theta, k, width)
        plain += (theta - plain) * np.float32(1.0 / k)
    exact = iterates.astype(np.float64).mean(axis=0)
    eps = np.finfo(np.float32).eps
    assert np.max(np.abs(avg - exact)) <= 4 * eps, np.max(np.abs(avg - exact))
    assert np.max(np.abs(plain - exact)) > 20 * eps        # what the compensation buys


def test_no_intercept_keeps_the_given_one():
    X, y = make_problem("squared", n=80)
    res = gdfast.fit(X, y, optimizer="sgd", learning_rate=0.05, batch_size=8, max_epochs=2,
                     fit_intercept=False, intercept_init=0.25, average=True)
    assert res.intercept == 0.25


def test_averaging_converges_where_the_iterates_keep_their_noise():
    # least squares at a constant step (Bach and Moulines, 2013): the last iterate stays in
    # the noise ball, the average of the iterates goes on towards the optimum
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 10))
    y = X @ rng.standard_normal(10) + 1.0 + rng.standard_normal(4000)
    alpha = 1e-4
    Xc = np.hstack([X, np.ones((4000, 1))])
    reg = np.diag(np.r_[np.full(10, alpha), 0.0])
    # the optimum of mean(0.5 (y - Xw - b)^2) + alpha / 2 |w|^2
    opt = np.linalg.solve(Xc.T @ Xc / 4000 + reg, Xc.T @ y / 4000)
    kw = dict(loss="squared", optimizer="sgd", learning_rate=0.02, batch_size=1,
              max_epochs=5, tol=None, alpha=alpha, random_state=0)
    last = gdfast.fit(X, y, **kw)
    avg = gdfast.fit(X, y, average=True, **kw)

    def dist(r):
        return np.linalg.norm(np.r_[r.coef, r.intercept] - opt)

    assert dist(avg) < dist(last) / 5, (dist(avg), dist(last))


def test_auto_with_averaging_takes_constant_sgd_steps():
    X, y = make_problem("hinge", n=300)
    res = gdfast.fit(X, y, loss="logistic", average=True, max_epochs=5, tol=None,
                     random_state=0)
    assert (res.optimizer, res.schedule, res.batch_size) == ("sgd", "constant", 32)
    assert np.isfinite(res.learning_rate) and res.learning_rate > 0
    est = gdfast.GDClassifier(loss="logistic", average=True, max_epochs=5, tol=None,
                              random_state=0).fit(X, y)
    assert est.optimizer_ == "sgd" and est.schedule_ == "constant"
    np.testing.assert_array_equal(est.coef_.ravel(), res.coef.ravel())


@pytest.mark.parametrize("options,message", [
    (dict(average=-1), "average"),
    (dict(average=True, optimizer="lbfgs"), "average=True averages per-batch steps"),
    (dict(average=3, optimizer="adam", sparse_updates="lazy"), "not with parallel='hogwild'"),
])
def test_bad_average_is_refused(options, message):
    X, y = make_problem("logistic", n=50)
    with pytest.raises(ValueError, match=message):
        gdfast.fit(sp.csr_matrix(X), y, loss="logistic", **options)


def test_average_refuses_hogwild_and_non_integers():
    X, y = make_problem("logistic", n=50)
    with pytest.raises(ValueError, match="not with parallel='hogwild'"):
        gdfast.fit(sp.csr_matrix(X), y, loss="logistic", optimizer="sgd", learning_rate=0.1,
                   average=True, parallel="hogwild")
    with pytest.raises(TypeError, match="average"):
        gdfast.fit(X, y, loss="logistic", average=1.5)


def test_early_stopping_reports_the_best_mean_and_keeps_the_iterate():
    # the best epoch's averaged parameters are reported; the state a continued fit starts
    # from is the last iterate with its running mean, not the mean put in the iterate's place
    X, y = make_problem("squared", n=400)
    est = gdfast.GDRegressor(optimizer="sgd", learning_rate=0.02, batch_size=8, average=True,
                             early_stopping=True, n_iter_no_change=2, max_epochs=30,
                             random_state=0).fit(X, y)
    state = est._states[0]
    assert state.average == 1
    reported = np.append(est.coef_, est.intercept_)
    assert not np.array_equal(state.theta, reported)
    est.set_params(warm_start=True, max_epochs=2, early_stopping=False, tol=None).fit(X, y)
    assert est._states[0].t > state.t and est._states[0].average == 1


# --- the lazy mean of sparse SGD ------------------------------------------------------------
# Plain sgd without L1 on CSR keeps its mean in O(nnz) a step (gd_csr_sgd.h, sp_avg_*): the
# same steps as without averaging, and the mean of their parameters to rounding.

def sparse_problem(loss, dtype, n=70, d=60, row_nnz=3, seed=0):
    """CSR X whose batches of 1 and 16 rows take the sparse path (16 * 3 < d + 1)."""
    rng = np.random.default_rng(seed)
    cols = np.concatenate([rng.choice(d, row_nnz, replace=False) for _ in range(n)])
    vals = rng.standard_normal(n * row_nnz) * rng.choice([0.1, 1.0, 5.0], n * row_nnz)
    X = sp.csr_matrix((vals.astype(dtype), cols, np.arange(0, n * row_nnz + 1, row_nnz)),
                      shape=(n, d))
    z = X @ rng.standard_normal(d)
    if loss == "multinomial":
        y = np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))
    elif loss == "squared":
        y = z + 0.1 * rng.standard_normal(n)
    else:
        y = (z + 0.3 * rng.standard_normal(n) > 0).astype(float)
    return X, y


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("average", [True, 10])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("case", ["logistic", "multinomial", "weighted", "clipped",
                                  "strong-l2", "invscaling"])
def test_lazy_sparse_mean_matches_reference(case, batch_size, average, dtype):
    loss = "multinomial" if case == "multinomial" else "logistic"
    X, y = sparse_problem(loss, dtype)
    kw = dict(loss=loss, optimizer="sgd", learning_rate=0.05, batch_size=batch_size,
              max_epochs=5, tol=None, alpha=1e-3, random_state=2, average=average)
    if case == "weighted":
        kw["sample_weight"] = np.random.default_rng(1).uniform(0.2, 3.0, X.shape[0])
    elif case == "clipped":
        kw["clip_norm"] = 0.5
    elif case == "strong-l2":
        # lr * l2 = 0.08 a step: the scale falls below 1/16 every 34 steps, where the lazy
        # sums are written back (several times an epoch)
        kw.update(alpha=0.4, learning_rate=0.2)
    elif case == "invscaling":
        kw.update(schedule="invscaling", power_t=0.5, learning_rate=0.5, alpha=0.05)
    a = gdfast.fit(X, y, **kw)
    b = reference.fit(X, y, **kw)
    assert_close(a, b, dtype, f"{case}/{batch_size}/{average}")
    plain = gdfast.fit(X, y, **dict(kw, average=False))
    if case != "strong-l2":
        # the same steps, on the same (sparse) path: averaging adds sums beside them; the
        # block path's dense step would round the steps differently
        np.testing.assert_array_equal(a.state.theta, plain.state.theta)
    assert rel_err(a.coef, plain.coef) > 100 * tol(dtype)


def test_lazy_sparse_mean_continues():
    # a mean carried across calls (epochs, warm starts) through the state's mean row: each
    # call starts its sums from it, and the fit in one call and in four agree to rounding
    X, y = sparse_problem("logistic", np.float64, n=200)
    kw = dict(loss="logistic", optimizer="sgd", batch_size=1, tol=None, random_state=3,
              learning_rate=0.1, alpha=1e-3, average=50)
    engine = _native.NativeEngine
    full = _api.run_fit(engine, X, y, dict(kw, max_epochs=4))
    state = None
    for _ in range(4):
        part = _api.run_fit(engine, X, y, dict(kw, max_epochs=1), resume=state, horizon=4)
        state = part.state
    np.testing.assert_array_equal(part.state.theta, full.state.theta)
    assert rel_err(part.coef, full.coef) <= tol(np.float64)
    ref = reference.fit(X, y, **dict(kw, max_epochs=4))
    assert rel_err(full.coef, ref.coef) <= tol(np.float64)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_diverged_averaged_fit_reports_the_mean_of_the_applied_steps(sparse):
    # the step whose loss is not finite counts in t but applies nothing: the mean that
    # DivergenceError carries is over the steps before it, on the lazy sparse path as on the
    # dense step and in the reference
    X, y = sparse_problem("squared", np.float64, n=40)
    y = 1e3 * y
    X = X if sparse else X.toarray()
    kw = dict(loss="squared", optimizer="sgd", learning_rate=40.0, batch_size=1,
              max_epochs=3, tol=None, alpha=1e-3, random_state=0, average=2)
    with pytest.raises(gdfast.DivergenceError) as native:
        gdfast.fit(X, y, **kw)
    with pytest.raises(gdfast.DivergenceError) as ref:
        reference.fit(X, y, **kw)
    a, b = native.value.result, ref.value.result
    assert a.n_steps == b.n_steps > 2
    assert rel_err(a.coef, b.coef) <= tol(np.float64)
    assert rel_err(a.intercept, b.intercept) <= tol(np.float64)

"""optimizer="auto"'s warm start (issue 21): one epoch of averaged SGD before L-BFGS where the
rows far outnumber the parameters (_auto.warm_start_plan).  When it runs and when it does
not, that native and reference agree on it (each dtype, 1 and 2 threads), that the fit still
reaches the optimum of an independent solver (scipy's L-BFGS-B, test_auto.optimum), that the
epoch is reported and counted, and that L-BFGS goes on from the start where the epoch's mean
is no better.

Tolerances: the warm epoch is the native and reference SGD kernels' (their per-step
agreement is test_equivalence's); L-BFGS then carries their difference, so the engines agree
to 1e4 eps, as in test_auto.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from test_auto import objective, optimum

import gdfast
from conftest import DTYPES, rel_err
from gdfast import _api, _auto, reference

N = 20_000                    # 1000 rows per parameter; 78 batches of 256 rows


def isotropic(loss, n=N, d=4, n_classes=3, seed=0, dtype=np.float64):
    """Well-scaled, weakly correlated columns: the case the warm start is for."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 0.3
    if loss == "multinomial":
        W = rng.standard_normal((n_classes, d))
        y = np.argmax(X @ W.T + rng.gumbel(size=(n, n_classes)), axis=1)
    elif loss == "huber":
        y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    else:
        y = (X @ rng.standard_normal(d) + rng.logistic(size=n) > 0).astype(int)
    return X.astype(dtype), y


@pytest.mark.parametrize("loss", _auto.WARM_LOSSES)
def test_warm_start_then_the_optimum(loss):
    X, y = isotropic(loss)
    sw = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    alpha = 1e-3
    res = gdfast.fit(X, y, loss=loss, alpha=alpha, sample_weight=sw, random_state=0)
    assert res.optimizer == "lbfgs" and res.converged
    assert res.warm_start == dict(optimizer="sgd", batch_size=_auto.WARM_BATCH,
                                  learning_rate=res.warm_start["learning_rate"], average=True,
                                  epochs=1, from_mean=True)
    assert 0 < res.warm_start["learning_rate"] < np.inf
    # the epoch is the fit's first: its steps, its loss
    assert res.n_steps > -(-N // _auto.WARM_BATCH)
    assert len(res.loss_history) == res.n_epochs >= 2
    best = optimum(loss, X, y, alpha, sw)
    got = objective(loss, X, y, res.coef, res.intercept, alpha, 0.0, sw)
    assert got - best <= 1e-6 * abs(best), (got, best)


@pytest.mark.parametrize("case", ["squared", "poisson", "few rows", "scaled columns", "l1",
                                  "csr", "explicit lbfgs", "correlated"])
def test_no_warm_start(case):
    loss = {"squared": "squared", "poisson": "poisson"}.get(case, "logistic")
    X, y = isotropic(loss if loss != "squared" else "huber")
    kw = dict(loss=loss)
    if case == "poisson":
        y = np.random.default_rng(0).poisson(np.exp(0.2 * X[:, 0])).astype(float)
    elif case == "few rows":
        X, y = X[:900], y[:900]             # 180 rows per parameter
    elif case == "scaled columns":
        X = X * np.logspace(-2, 2, X.shape[1])
    elif case == "correlated":
        X = X[:, :1] + 1e-3 * X             # four nearly collinear columns
    elif case == "l1":
        kw.update(alpha=1e-3, l1_ratio=0.5)
    elif case == "csr":
        X = sp.csr_matrix(X)
    elif case == "explicit lbfgs":
        kw.update(optimizer="lbfgs")
    res = gdfast.fit(X, y, **kw)
    assert res.optimizer == "lbfgs" and res.warm_start is None


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["logistic", "multinomial"])
def test_native_matches_reference(loss, fit_intercept, dtype, n_threads):
    X, y = isotropic(loss, dtype=dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    kw = dict(loss=loss, alpha=1e-3, sample_weight=sw, fit_intercept=fit_intercept,
              random_state=3, max_epochs=4, tol=None)
    a = gdfast.fit(X, y, n_threads=n_threads, **kw)
    b = reference.fit(X, y, **kw)
    assert a.warm_start is not None and b.warm_start is not None
    assert a.warm_start["learning_rate"] == pytest.approx(b.warm_start["learning_rate"],
                                                          rel=float(1e3 * np.finfo(dtype).eps))
    assert a.n_epochs == b.n_epochs == 4 and a.n_steps == b.n_steps
    eps = 1e4 * np.finfo(dtype).eps
    assert a.coef.dtype == dtype
    assert rel_err(a.coef, b.coef) <= eps
    assert rel_err(a.intercept, b.intercept) <= eps
    assert rel_err(a.loss_history, b.loss_history) <= eps


def test_same_bits_for_any_thread_count():
    X, y = isotropic("multinomial")
    one = gdfast.fit(X, y, loss="multinomial", n_threads=1, random_state=0)
    two = gdfast.fit(X, y, loss="multinomial", n_threads=2, random_state=0)
    assert one.warm_start is not None
    np.testing.assert_array_equal(one.coef, two.coef)
    np.testing.assert_array_equal(one.loss_history, two.loss_history)


def test_the_epoch_is_the_first_one_the_callback_sees(capsys):
    X, y = isotropic("logistic")
    seen = []
    res = gdfast.fit(X, y, loss="logistic", random_state=0, verbose=1,
                     callback=lambda r: seen.append((r["epoch"], r["loss"], r["coef"].copy())))
    assert [e for e, _, _ in seen] == list(range(1, res.n_epochs + 1))
    np.testing.assert_array_equal([v for _, v, _ in seen], res.loss_history)
    out = capsys.readouterr().out
    assert "optimizer sgd, batch size 256" in out and "lbfgs from the mean of 1 epoch" in out
    # the first record holds the epoch's mean: what a fit of that one epoch returns
    one = gdfast.fit(X, y, loss="logistic", random_state=0, max_epochs=1)
    assert one.n_epochs == 1 and one.warm_start is not None
    np.testing.assert_array_equal(seen[0][2], one.coef)


def test_a_callback_stops_the_fit_in_the_warm_epoch():
    X, y = isotropic("logistic")
    res = gdfast.fit(X, y, loss="logistic", random_state=0, callback=lambda r: True)
    assert res.n_epochs == 1 and res.optimizer == "lbfgs" and res.warm_start is not None
    one = gdfast.fit(X, y, loss="logistic", random_state=0, max_epochs=1)
    np.testing.assert_array_equal(res.coef, one.coef)


def test_lbfgs_goes_on_from_the_start_when_the_mean_is_worse(monkeypatch):
    X, y = isotropic("logistic")
    start = np.log(2.0)                     # the objective at zero coefficients
    monkeypatch.setattr(_api, "averaged_theta",
                        lambda engine, spec, problem: engine.theta + 50.0)
    res = gdfast.fit(X, y, loss="logistic", random_state=0)
    assert res.warm_start is not None and res.converged
    assert res.warm_start["from_mean"] is False
    # the second epoch is L-BFGS's first iteration: from the start, not from theta + 50
    assert res.loss_history[1] < start


def test_a_diverging_warm_epoch_falls_back_to_lbfgs(monkeypatch):
    X, y = isotropic("logistic")
    # a rate that no WARM_RETRIES quarterings make finite
    monkeypatch.setattr(_auto, "warm_start_plan", lambda lbfgs, spec: 1e300)
    res = gdfast.fit(X, y, loss="logistic", random_state=0)
    assert res.optimizer == "lbfgs" and res.warm_start is None and res.converged
    plain = gdfast.fit(X, y, loss="logistic", optimizer="lbfgs")
    np.testing.assert_array_equal(res.coef, plain.coef)


def test_the_warm_start_is_saved_with_the_model(tmp_path):
    X, y = isotropic("logistic")
    res = gdfast.fit(X, y, loss="logistic", random_state=0)
    gdfast.save(res, tmp_path / "m.gdm")
    assert gdfast.load(tmp_path / "m.gdm").warm_start == res.warm_start


@pytest.mark.parametrize("loss", _auto.WARM_LOSSES + ("poisson", "squared"))
def test_start_value_without_a_pass_equals_the_objective(loss):
    from gdfast._lbfgs import LbfgsEngine
    from gdfast._native import NativeEngine
    X, y = isotropic(loss if loss not in ("poisson", "squared") else "huber", n=500)
    if loss == "poisson":
        y = np.random.default_rng(0).poisson(2.0, len(y)).astype(float)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    s = _api.setup(X, y, dict(loss=loss, alpha=0.1, sample_weight=sw))
    lbfgs = LbfgsEngine(NativeEngine(s.problem, s.spec, s.theta, 1), "auto")
    lbfgs.theta[lbfgs.n_coef:] = 0.7                   # intercepts, coefficients zero
    direct = lbfgs._evaluate(lbfgs._from_theta(lbfgs.theta))[0]
    assert lbfgs.start_value() == pytest.approx(direct, rel=1e-13)


def test_the_defaults_stay_deterministic():
    # the warm epoch's rows come from a fixed seed: random_state and shuffle, which L-BFGS
    # alone never read, do not change the defaults' result
    X, y = isotropic("logistic")
    runs = [gdfast.fit(X, y, loss="logistic", **kw) for kw in
            ({}, {}, dict(random_state=1), dict(random_state=2), dict(shuffle=False),
             dict(clip_norm=1e-3))]
    assert runs[0].warm_start is not None
    for r in runs[1:]:
        np.testing.assert_array_equal(r.coef, runs[0].coef)
        np.testing.assert_array_equal(r.loss_history, runs[0].loss_history)


def test_no_warm_start_from_given_coefficients():
    X, y = isotropic("logistic")
    res = gdfast.fit(X, y, loss="logistic", coef_init=np.full(X.shape[1], 0.1))
    assert res.optimizer == "lbfgs" and res.warm_start is None and res.converged
    res = gdfast.fit(X, y, loss="logistic", intercept_init=0.5)      # coefficients still 0
    assert res.warm_start is not None


def test_the_rate_follows_the_weights_scale():
    # the weighted Gram matrix (and the rows' norms) scale with the weights: with no penalty,
    # weights 50 times larger give a rate 50 times smaller, the intercept's part included
    X, y = isotropic("logistic")
    sw = np.random.default_rng(4).uniform(0.5, 2.0, len(y))
    a = gdfast.fit(X, y, loss="logistic", alpha=0.0, sample_weight=sw, max_epochs=1)
    b = gdfast.fit(X, y, loss="logistic", alpha=0.0, sample_weight=50 * sw, max_epochs=1)
    assert a.warm_start is not None and b.warm_start is not None
    assert b.warm_start["learning_rate"] == pytest.approx(a.warm_start["learning_rate"] / 50,
                                                          rel=1e-9)


def test_concurrent_fits_leave_blas_threads_as_they_were():
    # the sketch runs on one BLAS thread under a process-wide limit; fits in several Python
    # threads (the estimators' one-vs-rest models) must each restore what they found
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info()
              if i["user_api"] == "blas"]
    X, y = isotropic("logistic", n=3000, d=20)
    errors = []

    def work():
        try:
            for _ in range(5):
                gdfast.fit(X, y, loss="logistic", max_epochs=2)
        except Exception as exc:             # reported below: a thread's exception is lost
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info()
             if i["user_api"] == "blas"]
    assert after == before

"""The public API: results, predictions, dtypes, copies, stopping, callbacks (issue #2)."""
import hashlib
import inspect
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import gdfast
from conftest import make_problem


def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_reference_has_the_same_signature():
    assert inspect.signature(gdfast.fit) == inspect.signature(gdfast.reference.fit)
    params = inspect.signature(gdfast.fit).parameters
    assert all(p.kind is p.KEYWORD_ONLY for name, p in params.items() if name not in ("X", "y"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
def test_binary_result(dtype):
    X, y = make_problem("logistic", n=300, dtype=dtype)
    res = gdfast.fit(X, y, loss="logistic", optimizer="adam", learning_rate=0.05, max_epochs=30)
    assert res.coef.shape == (X.shape[1],) and res.coef.dtype == dtype
    assert np.ndim(res.intercept) == 0 and res.intercept.dtype == dtype
    np.testing.assert_array_equal(res.classes, [-3, 7])      # sorted; 7 is the positive class
    z = res.decision_function(X)
    np.testing.assert_allclose(z, X @ res.coef + res.intercept, rtol=1e-6)
    np.testing.assert_array_equal(res.predict(X), np.where(z > 0, 7, -3))
    assert np.mean(res.predict(X) == y) > 0.8
    proba = res.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z.astype(np.float64))), rtol=1e-5)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    assert res.loss_history.dtype == np.float64 and len(res.loss_history) == res.n_epochs
    assert res.n_steps == res.n_epochs * int(np.ceil(300 / 32))
    assert "FitResult(" in repr(res)


def test_multinomial_result():
    X, y = make_problem("multinomial", n=400, n_classes=4)
    res = gdfast.fit(X, y, loss="multinomial", optimizer="adam", learning_rate=0.05,
                     max_epochs=40)
    assert res.coef.shape == (4, X.shape[1]) and res.intercept.shape == (4,)
    np.testing.assert_array_equal(res.classes, np.unique(y))
    proba = res.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-12)
    np.testing.assert_array_equal(res.predict(X), res.classes[np.argmax(proba, 1)])
    assert np.mean(res.predict(X) == y) > 0.6


def test_modified_huber_proba_and_losses_without_proba():
    X, y = make_problem("modified_huber", n=200)
    res = gdfast.fit(X, y, loss="modified_huber", max_epochs=5)
    z = res.decision_function(X)
    np.testing.assert_allclose(res.predict_proba(X)[:, 1], (np.clip(z, -1, 1) + 1) / 2)
    hinge = gdfast.fit(X, y, loss="hinge", max_epochs=2)
    with pytest.raises(ValueError, match="predict_proba needs loss"):
        hinge.predict_proba(X)


def test_poisson_predicts_the_mean():
    X, y = make_problem("poisson", n=500)
    res = gdfast.fit(X, y, loss="poisson", optimizer="adam", learning_rate=0.05, max_epochs=50)
    np.testing.assert_allclose(res.predict(X), np.exp(res.decision_function(X)))
    assert np.all(res.loss_history >= -1e-12)      # the half deviance is non-negative


def test_predict_checks_the_number_of_features():
    X, y = make_problem("squared")
    res = gdfast.fit(X, y, max_epochs=2)
    with pytest.raises(ValueError, match="has 4 features, but the model was fit with 5"):
        res.predict(X[:, :4])


def test_intercept_is_not_penalized():
    X, y = make_problem("squared", n=300)
    y = y + 10
    alpha = 100.0
    res = gdfast.fit(X, y, loss="squared", optimizer="sgd", learning_rate=0.009, alpha=alpha,
                     batch_size=None, max_epochs=3000, tol=None)
    # ridge with a free intercept: centre, solve, then b = mean(y) - mean(X) @ w (a penalized
    # intercept would be shrunk towards 0 instead, to about 10 / 101)
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / len(y) + alpha * np.eye(X.shape[1]), Xc.T @ yc / len(y))
    np.testing.assert_allclose(res.coef, w, rtol=1e-8)
    assert res.intercept == pytest.approx(y.mean() - X.mean(0) @ w, rel=1e-8)
    assert res.intercept > 9


def test_loss_history_is_the_objective_during_the_pass():
    X, y = make_problem("logistic", n=200)
    kw = dict(loss="logistic", optimizer="sgd", learning_rate=0.5, batch_size=None, tol=None,
              alpha=0.01)
    one = gdfast.fit(X, y, max_epochs=1, **kw)
    two = gdfast.fit(X, y, max_epochs=2, **kw)
    y_pm = np.where(y == 7, 1.0, -1.0)
    # full batch: epoch 2's data loss is taken at the parameters after epoch 1; the penalty at
    # the end of epoch 2
    data = np.mean(np.logaddexp(0, -y_pm * (X @ one.coef + one.intercept)))
    assert two.loss_history[1] == pytest.approx(data + 0.005 * two.coef @ two.coef, rel=1e-12)
    assert one.loss_history[0] == pytest.approx(np.log(2) + 0.005 * one.coef @ one.coef,
                                                rel=1e-12)


def test_tol_stops_and_sets_converged():
    X, y = make_problem("squared", n=300)
    for seed in range(20):
        res = gdfast.fit(X, y, optimizer="adam", learning_rate=0.05, max_epochs=500, tol=1e-4,
                         n_iter_no_change=3, random_state=seed)
        assert res.converged and res.n_epochs < 500
        h = res.loss_history
        # scikit-learn's rule: each of the last 3 epochs failed to beat the best loss before
        # it by tol (together they may have improved by more), and the one before them did
        for i in range(len(h) - 3, len(h)):
            assert h[i] > min(h[:i]) - 1e-4, (seed, i, h)
        assert len(h) == 4 or h[-4] <= min(h[:-4]) - 1e-4, (seed, h)
    full = gdfast.fit(X, y, optimizer="adam", learning_rate=0.05, max_epochs=7, tol=None)
    assert full.n_epochs == 7 and not full.converged


def test_callback_receives_records_and_can_stop():
    X, y = make_problem("squared")
    records = []

    def cb(rec):
        records.append(rec)
        with pytest.raises(ValueError):
            rec["coef"][0] = 1.0                               # read-only views
        return rec["epoch"] == 3

    res = gdfast.fit(X, y, max_epochs=10, tol=None, callback=cb)
    assert res.n_epochs == 3 and [r["epoch"] for r in records] == [1, 2, 3]
    assert records[-1]["loss"] == res.loss_history[-1]
    assert set(records[0]) >= {"epoch", "loss", "learning_rate", "n_steps", "time", "coef",
                               "intercept"}


def test_verbose_prints_a_line_per_epoch(capsys):
    X, y = make_problem("squared")
    gdfast.fit(X, y, max_epochs=4, tol=None, verbose=1)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("-- Epoch")]
    assert len(lines) == 4 and "loss" in lines[0] and "learning rate" in lines[0]


def test_shuffle_is_seeded_by_random_state():
    X, y = make_problem("squared")
    kw = dict(max_epochs=3, tol=None, batch_size=1)
    a = gdfast.fit(X, y, random_state=42, **kw)
    b = gdfast.fit(X, y, random_state=np.random.default_rng(42), **kw)
    c = gdfast.fit(X, y, random_state=43, **kw)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert not np.array_equal(a.coef, c.coef)


def test_shuffled_epochs_take_their_orders_from_the_seeded_rng(monkeypatch):
    """Each shuffled epoch draws one order, gdfast._driver.shuffled_order(rng, n) with
    rng = np.random.default_rng(random_state) (README, "Batches"), the same for both engines;
    a full batch draws none."""
    from gdfast import _driver
    drawn = []
    original = _driver.shuffled_order

    def spy(rng, n):
        drawn.append(original(rng, n))
        return drawn[-1]

    monkeypatch.setattr(_driver, "shuffled_order", spy)
    X, y = make_problem("squared", n=50, d=3)
    rng = np.random.default_rng(5)
    expected = [original(rng, 50) for _ in range(3)]
    for fit in (gdfast.fit, gdfast.reference.fit):
        drawn.clear()
        fit(X, y, random_state=5, max_epochs=3, tol=None, batch_size=8)
        assert len(drawn) == 3
        for got, want in zip(drawn, expected, strict=True):
            np.testing.assert_array_equal(got.array(), want.array())
        drawn.clear()
        fit(X, y, random_state=5, max_epochs=3, tol=None, batch_size=None)
        assert drawn == []


@pytest.mark.parametrize("y", [
    np.array([0.0, -0.0, 1.0, 0.0]), np.array([-0.0, 1.0, -0.0]), np.array([3, -3], np.int8),
    np.array([1.5, 0.5, 0.5], np.float16), np.array([0, 1, 2, 1]), np.array([4, 4, 4]),
    np.array([True, True, False]), np.array([0, 2**64 - 1, 0], np.uint64)],
    ids=["zeros", "neg-zero", "int8", "float16", "3 labels", "1 label", "bool", "uint64"])
def test_label_encoding_is_np_uniques(y):
    """prepare_targets against np.unique and np.where (the oracle), the min/max path and
    its fallbacks alike; a flipped encoding, a wrong class or a missed third class fails."""
    from gdfast import _problem
    u = np.unique(y)
    if len(u) != 2:
        with pytest.raises(ValueError, match="exactly 2 distinct|single class"):
            _problem.prepare_targets(y, "logistic", len(y), np.dtype(np.float64))
        return
    enc, classes, K = _problem.prepare_targets(y, "logistic", len(y), np.dtype(np.float64))
    np.testing.assert_array_equal(enc, np.where(y == u[1], 1.0, -1.0))
    assert enc.dtype == np.float64 and K == 1
    np.testing.assert_array_equal(classes, u)            # -0.0 == 0.0: the sign may differ
    assert classes.dtype == u.dtype


@pytest.mark.parametrize("labels", [
    np.array([3, 7]), np.array([-2**63, 2**63 - 1]), np.array([0, 2**64 - 1], np.uint64),
    np.array([False, True]), np.array([0.5, 2.5], np.float32), np.array([-1.0, 1.0]),
    np.array(["ham", "spam"])], ids=lambda a: a.dtype.name)
def test_binary_labels_are_encoded_as_np_unique_would(labels):
    """Two numeric labels are found from their minimum and maximum (not np.unique's hash): the
    classes, their dtype and the fit are those of the np.unique encoding."""
    X, y01 = make_problem("logistic", n=120, d=4)
    y = labels[(y01 == 7).astype(int)]
    res = gdfast.fit(X, y, loss="logistic", max_epochs=3, tol=None, random_state=0)
    np.testing.assert_array_equal(res.classes, np.unique(y))
    assert res.classes.dtype == np.unique(y).dtype
    base = gdfast.fit(X, np.where(y == np.unique(y)[1], 1.0, -1.0), loss="logistic",
                      max_epochs=3, tol=None, random_state=0)
    np.testing.assert_array_equal(res.coef, base.coef)
    np.testing.assert_array_equal(res.predict(X), np.unique(y)[(X @ base.coef + base.intercept
                                                                > 0).astype(int)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
def test_inputs_are_not_modified(dtype):
    X, y = make_problem("squared", dtype=dtype)
    sw = np.linspace(0.5, 1.5, len(y))
    coef0 = np.ones(X.shape[1])
    before = digest(X, y, sw, coef0)
    gdfast.fit(X, y, sample_weight=sw, coef_init=coef0, intercept_init=0.5, max_epochs=3)
    assert digest(X, y, sw, coef0) == before


def test_read_only_and_non_contiguous_inputs_are_accepted():
    X, y = make_problem("squared", n=100, d=8)
    kw = dict(max_epochs=3, tol=None, random_state=0)
    expected = gdfast.fit(np.ascontiguousarray(X[:, ::2]), y, **kw)
    view = X[:, ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(gdfast.fit(view, y, **kw).coef, expected.coef)
    ro = np.ascontiguousarray(X[:, ::2])
    ro.flags.writeable = False
    y_ro = y.copy()
    y_ro.flags.writeable = False
    np.testing.assert_array_equal(gdfast.fit(ro, y_ro, **kw).coef, expected.coef)


def test_other_dtypes_are_converted_to_float64():
    X, y = make_problem("squared")
    for Xc in (X.astype(np.float16), np.round(X * 10).astype(np.int32), X.astype(np.float32)):
        res = gdfast.fit(Xc, y, max_epochs=2)
        assert res.coef.dtype == (np.float32 if Xc.dtype == np.float32 else np.float64)


def _peak_during_fit(X, y, **kw):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    gdfast.fit(X, y, **kw)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
def test_a_usable_X_is_never_copied(dtype):
    # numpy reports its allocations to tracemalloc: a copy of X would show as X.nbytes
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 100)).astype(dtype)
    y = rng.standard_normal(20000)
    kw = dict(max_epochs=2, tol=None, batch_size=256)
    assert _peak_during_fit(X, y, **kw) < 0.1 * X.nbytes
    # the check can fail: a Fortran-ordered X must be converted, once
    assert _peak_during_fit(np.asfortranarray(X), y, **kw) >= X.nbytes


def test_demo_runs():
    out = subprocess.run([sys.executable, "-m", "gdfast", "demo", "--n-samples", "3000",
                          "--epochs", "3"], capture_output=True, text=True, check=True).stdout
    for opt in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"):
        assert f"\n{opt} " in out
    assert "test acc" in out and "speed-up" in out


@pytest.mark.parametrize("fit", [gdfast.fit, gdfast.reference.fit], ids=["native", "reference"])
@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_loss_history_is_the_half_deviance(fit, weighted):
    # epoch 1 of a full-batch fit reports the loss at the initial parameters: the half
    # deviance y log(y / mu) - y + mu, weighted like the data loss (sum_i sw_i dev_i / n)
    X, y = make_problem("poisson", n=200)
    rng = np.random.default_rng(11)
    sw = rng.uniform(0.2, 3.0, len(y)) if weighted else None
    coef0, b0 = 0.3 * rng.standard_normal(X.shape[1]), 0.1
    res = fit(X, y, loss="poisson", optimizer="sgd", learning_rate=0.01, batch_size=None,
              max_epochs=1, tol=None, alpha=0.0, coef_init=coef0, intercept_init=b0,
              sample_weight=sw)
    mu = np.exp(X @ coef0 + b0)
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
    dev = ylogy - y * np.log(mu) - y + mu
    w = np.ones(len(y)) if sw is None else sw
    assert res.loss_history[0] == pytest.approx(np.mean(w * dev), rel=1e-12)
    # and it is zero for a perfect fit, whatever the weights
    yc = np.full(len(y), 3.0)
    perfect = fit(X, yc, loss="poisson", batch_size=None, max_epochs=1, tol=None, alpha=0.0,
                  coef_init=np.zeros(X.shape[1]), intercept_init=np.log(3.0), sample_weight=sw)
    assert abs(perfect.loss_history[0]) < 1e-12


def test_tol_zero_counts_an_equal_loss_as_no_worse():
    # scikit-learn's rule: an epoch fails to improve when loss > best_loss - tol; with tol=0
    # an exactly repeated loss is not a failure, so a stalled fit at a fixed point runs on
    X = np.ones((10, 2))
    res = gdfast.fit(X, np.zeros(10), loss="squared", learning_rate=0.01, alpha=0.0, tol=0.0,
                     n_iter_no_change=2, max_epochs=6)
    assert np.all(res.loss_history == 0.0)
    assert res.n_epochs == 6 and not res.converged


@pytest.mark.parametrize("engine", ["native", "reference"])
@pytest.mark.parametrize("optimizer,schedule", [("sgd", "invscaling"), ("adam", "cosine"),
                                                ("rmsprop", "step"), ("nesterov", "plateau")])
def test_resuming_from_the_training_state_continues_exactly(engine, optimizer, schedule):
    # what the estimators' partial_fit and warm_start build on: 5 one-epoch runs, each resumed
    # from the previous state, are bitwise the same as one 5-epoch fit (rng, optimizer state,
    # step count and schedule position all carry over)
    from gdfast import _api, _native
    engine_cls = _native.NativeEngine if engine == "native" else gdfast.reference.ReferenceEngine
    X, y = make_problem("logistic", n=150)
    kw = dict(loss="logistic", optimizer=optimizer, schedule=schedule, batch_size=16, tol=None,
              random_state=3, learning_rate=0.01, n_iter_no_change=1)
    full = _api.run_fit(engine_cls, X, y, dict(kw, max_epochs=5))
    state = None
    history = []
    for _ in range(5):
        part = _api.run_fit(engine_cls, X, y, dict(kw, max_epochs=1), resume=state, horizon=5)
        state = part.state
        history.extend(part.loss_history)
    np.testing.assert_array_equal(part.coef, full.coef)
    np.testing.assert_array_equal(history, full.loss_history)
    assert state.t == full.n_steps and state.epochs == 5
    with pytest.raises(ValueError, match="cannot continue a fit made with optimizer"):
        _api.run_fit(engine_cls, X, y, dict(kw, optimizer="adagrad", max_epochs=1),
                      resume=state)

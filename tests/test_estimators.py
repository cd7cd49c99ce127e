"""The scikit-learn estimators GDClassifier and GDRegressor (src/gdfast/_sklearn/)."""
import inspect
import pickle
import re
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

import gdfast
from conftest import make_problem
from gdfast import _api, reference
from gdfast._sklearn import _runner
from gdfast.reference import softmax_loss_dz

GDClassifier = gdfast.GDClassifier
GDRegressor = gdfast.GDRegressor
DATA_ARGS = ("X", "y", "coef_init", "intercept_init", "sample_weight")


def normalized(sw):
    """The estimators' weights: rescaled to mean 1 (frequency semantics)."""
    sw = np.asarray(sw, dtype=np.float64)
    return sw * (len(sw) / sw.sum())


class Recorder:
    """A user callback that keeps a copy of the parameters of every epoch."""

    def __init__(self):
        self.coef, self.intercept, self.models = [], [], []

    def __call__(self, record):
        self.coef.append(np.array(record["coef"], copy=True))
        self.intercept.append(np.array(record["intercept"], copy=True))
        self.models.append(record["model"])


# --- scikit-learn's own checks ---------------------------------------------------------------

# check_regressor_multioutput fits 11 rows of 10 features with targets in the hundreds: at
# learning_rate=0.01 the loss still falls by about tol per epoch at max_epochs=1000, so the
# ConvergenceWarning it raises is expected
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([GDClassifier(), GDRegressor()], xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API is set; set it so that the
    # check runs (with NumPy inputs, the only namespace the tags claim) instead of skipping
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.parametrize("cls", [GDClassifier, GDRegressor])
def test_every_option_of_gdfast_fit_is_a_parameter_with_the_same_default(cls):
    fit_params = _api.FIT_SIGNATURE.parameters
    params = cls().get_params()
    for name, p in fit_params.items():
        if name in DATA_ARGS:
            continue
        assert name in params, name
        if not (cls is GDClassifier and name == "loss"):
            assert params[name] == p.default, name
    assert GDClassifier().loss == "logistic"
    assert set(inspect.signature(cls.fit).parameters) >= {"coef_init", "intercept_init",
                                                          "sample_weight"}


# --- agreement with gdfast.fit ---------------------------------------------------------------

COMMON = dict(optimizer="adam", learning_rate=0.02, batch_size=16, max_epochs=25, tol=None,
              random_state=4, alpha=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
def test_binary_classifier_is_bitwise_gdfast_fit(dtype):
    X, y = make_problem("logistic", n=120, dtype=dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2, len(y))
    kw = dict(COMMON, tol=1e-3, max_epochs=500)               # stopping by tol, too
    est = GDClassifier(**kw).fit(X, y, sample_weight=sw)
    res = gdfast.fit(X, y, loss="logistic", sample_weight=normalized(sw), **kw)
    assert res.converged and res.n_epochs < 500
    assert est.coef_.shape == (1, X.shape[1]) and est.coef_.dtype == dtype
    assert_array_equal(est.coef_[0], res.coef)
    assert_array_equal(est.intercept_, [res.intercept])
    assert_array_equal(est.classes_, res.classes)
    assert_array_equal(est.loss_curve_, res.loss_history)
    assert est.n_iter_ == res.n_epochs and est.t_ == res.n_steps
    assert_array_equal(est.predict(X), res.predict(X))
    assert_array_equal(est.decision_function(X), res.decision_function(X))
    assert_array_equal(est.predict_proba(X), res.predict_proba(X))


def test_multinomial_classifier_is_bitwise_gdfast_fit():
    X, y = make_problem("multinomial", n=150, n_classes=4)      # string labels
    est = GDClassifier(**COMMON).fit(X, y)
    res = gdfast.fit(X, y, loss="multinomial", **COMMON)
    assert est.coef_.shape == (4, X.shape[1]) and est.intercept_.shape == (4,)
    assert_array_equal(est.coef_, res.coef)
    assert_array_equal(est.intercept_, res.intercept)
    assert_array_equal(est.predict_proba(X), res.predict_proba(X))
    assert_array_equal(est.predict(X), res.predict(X))


def test_one_vs_rest_trains_each_class_as_gdfast_fit_in_parallel_threads():
    X, y = make_problem("multinomial", n=150, n_classes=3)
    kw = dict(COMMON, loss="hinge")
    parallel = gdfast.effective_n_threads(2) == 2        # two workers, one thread each
    barrier, arrivals, models = threading.Barrier(2, timeout=20), [], []

    def meet(record):
        # the first two models to finish an epoch wait for each other: this returns only
        # if two models train at the same time (else BrokenBarrierError fails the fit)
        models.append(record["model"])
        arrivals.append(record["epoch"])
        if parallel and record["epoch"] == 1 and arrivals.count(1) <= 2:
            barrier.wait()

    est = GDClassifier(**kw, n_threads=2, callback=meet).fit(X, y)
    assert est.coef_.shape == (3, X.shape[1])
    for k, label in enumerate(est.classes_):
        res = gdfast.fit(X, np.where(y == label, 1, -1), **kw)
        assert_array_equal(est.coef_[k], res.coef)
        assert_array_equal(est.intercept_[k], res.intercept)
        assert_array_equal(est.loss_curve_[k], res.loss_history)
    assert sorted(set(models)) == [0, 1, 2] and len(models) == 3 * 25
    one = GDClassifier(**kw, n_threads=1).fit(X, y)
    assert_array_equal(one.coef_, est.coef_)  # results do not depend on the threads
    z = est.decision_function(X)
    assert z.shape == (len(y), 3)
    assert_array_equal(est.predict(X), est.classes_[np.argmax(z, 1)])
    # the logistic loss trains one-vs-rest on request: normalized sigmoids
    ovr = GDClassifier(**COMMON, multi_class="ovr").fit(X, y)
    p = 1 / (1 + np.exp(-ovr.decision_function(X)))
    assert_allclose(ovr.predict_proba(X), p / p.sum(1, keepdims=True), rtol=1e-12)


def test_regressor_single_and_multi_output_are_bitwise_gdfast_fit():
    X, y = make_problem("squared", n=130)
    kw = dict(COMMON, loss="huber", epsilon=0.5)
    est = GDRegressor(**kw).fit(X, y)
    res = gdfast.fit(X, y, **kw)
    assert est.coef_.shape == (X.shape[1],) and np.ndim(est.intercept_) == 0
    assert_array_equal(est.coef_, res.coef)
    assert_array_equal(est.intercept_, res.intercept)
    assert_array_equal(est.predict(X), res.predict(X))

    Y = np.column_stack([y, -2 * y + 1, X[:, 0]])
    multi = GDRegressor(**kw, n_threads=2).fit(X, Y)
    assert multi.coef_.shape == (3, X.shape[1]) and multi.intercept_.shape == (3,)
    for j in range(3):
        r = gdfast.fit(X, Y[:, j], **kw)
        assert_array_equal(multi.coef_[j], r.coef)
        assert_array_equal(multi.intercept_[j], r.intercept)
    assert multi.predict(X).shape == (len(y), 3)
    assert_allclose(multi.predict(X), X @ multi.coef_.T + multi.intercept_)
    assert multi.score(X, Y) > 0.8
    # a single column kept 2-D is a multi-output fit of one output
    col = GDRegressor(**kw).fit(X, Y[:, :1])
    assert col.coef_.shape == (1, X.shape[1]) and col.predict(X).shape == (len(y), 1)


def test_poisson_regressor_predicts_the_mean():
    X, y = make_problem("poisson", n=200)
    kw = dict(COMMON, loss="poisson")
    est = GDRegressor(**kw).fit(X, y)
    res = gdfast.fit(X, y, **kw)
    assert_array_equal(est.predict(X), res.predict(X))
    assert_allclose(est.predict(X), np.exp(X @ est.coef_ + est.intercept_))


# --- sample weights --------------------------------------------------------------------------

def test_sample_weights_act_as_repeated_rows_for_full_batch_gradient_descent():
    # the weights are rescaled to mean 1, so the objective is sum(s * loss) / sum(s): with a
    # full batch, integer weights and repeated rows give the same gradients, hence (up to
    # rounding) the same model; zero weights remove rows
    X, y = make_problem("multinomial", n=200, n_classes=3)
    sw = np.random.default_rng(0).integers(0, 4, len(y))
    kw = dict(optimizer="sgd", learning_rate=0.5, batch_size=None, max_epochs=50, tol=None)
    weighted = GDClassifier(**kw).fit(X, y, sample_weight=sw)
    repeated = GDClassifier(**kw).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-10)
    # the scale of the weights does not matter (2 is exact in binary)
    doubled = GDClassifier(**kw).fit(X, y, sample_weight=2 * sw)
    assert_array_equal(doubled.coef_, weighted.coef_)
    # scikit-learn's check passes with the defaults because its data (15 rows, 27 repeated)
    # fits in one batch of 32; with smaller batches the two fits see different batches
    from sklearn.utils.estimator_checks import (
        check_sample_weight_equivalence_on_dense_data as check,
    )
    check("GDClassifier", GDClassifier())
    with pytest.raises(AssertionError, match="not equivalent"):
        check("GDClassifier", GDClassifier(batch_size=4))


def test_class_weight_multiplies_into_the_sample_weights():
    X, y = make_problem("logistic", n=150)                   # labels -3 and 7
    sw = np.random.default_rng(2).uniform(0.5, 1.5, len(y))
    a = GDClassifier(**COMMON, class_weight={7: 3.0}).fit(X, y, sample_weight=sw)
    b = GDClassifier(**COMMON).fit(X, y, sample_weight=sw * np.where(y == 7, 3.0, 1.0))
    assert_array_equal(a.coef_, b.coef_)
    # "balanced" is the dict of scikit-learn's balanced weights
    counts = {c: np.sum(y == c) for c in (-3, 7)}
    manual = {c: len(y) / (2 * k) for c, k in counts.items()}
    bal = GDClassifier(**COMMON, class_weight="balanced").fit(X, y)
    man = GDClassifier(**COMMON, class_weight=manual).fit(X, y)
    assert_allclose(bal.coef_, man.coef_, rtol=1e-12)


def test_balanced_class_weight_raises_minority_recall():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 4))
    y = (X[:, 0] + 0.8 * rng.standard_normal(600) > 1.6).astype(int)   # about 8 % ones
    kw = dict(optimizer="adam", learning_rate=0.02, max_epochs=40, random_state=0, tol=None)
    plain = GDClassifier(**kw).fit(X, y)
    balanced = GDClassifier(**kw, class_weight="balanced").fit(X, y)
    recall = lambda m: np.mean(m.predict(X)[y == 1] == 1)       # noqa: E731
    assert recall(balanced) > recall(plain) + 0.2
    assert recall(balanced) > 0.8


# --- partial_fit and warm_start --------------------------------------------------------------

OPTIMIZER_CASES = [("sgd", "invscaling", {}), ("momentum", "step", {"step_size": 2}),
                   ("nesterov", "exponential", {}), ("adagrad", "constant", {}),
                   ("rmsprop", "plateau", {"centered": True, "n_iter_no_change": 1}),
                   ("adam", "cosine", {"amsgrad": True}), ("adamw", "optimal", {})]


@pytest.mark.parametrize("optimizer,schedule,extra", OPTIMIZER_CASES,
                         ids=[c[0] for c in OPTIMIZER_CASES])
def test_partial_fit_equals_fit_without_shuffle(optimizer, schedule, extra):
    # optimizer state, step count and schedule position carry over from call to call
    X, y = make_problem("multinomial", n=90, n_classes=3)
    est = GDClassifier(optimizer=optimizer, schedule=schedule, learning_rate=0.01,
                       batch_size=16, max_epochs=5, tol=None, shuffle=False, alpha=1e-3,
                       **extra)
    full = clone(est).fit(X, y)
    part = clone(est)
    for _ in range(5):
        part.partial_fit(X, y, classes=np.unique(y))
    assert_array_equal(part.coef_, full.coef_)
    assert_array_equal(part.intercept_, full.intercept_)
    assert_array_equal(part.loss_curve_, full.loss_curve_)
    assert part.t_ == full.t_ and part.n_iter_ == full.n_iter_ == 5


def test_partial_fit_with_shuffle_carries_the_random_generator():
    X, y = make_problem("squared", n=100)
    est = GDRegressor(optimizer="momentum", batch_size=8, max_epochs=4, tol=None,
                      random_state=7)
    full = clone(est).fit(X, y)
    part = clone(est)
    for _ in range(4):
        part.partial_fit(X, y)
    assert_array_equal(part.coef_, full.coef_)
    assert_array_equal(part.loss_curve_, full.loss_curve_)


def test_partial_fit_on_consecutive_batches_equals_one_epoch():
    # chunks that end on batch boundaries: the same batches, in the same order
    X, y = make_problem("logistic", n=96)
    est = GDClassifier(optimizer="adam", batch_size=16, max_epochs=1, tol=None,
                       shuffle=False, learning_rate=0.05)
    full = clone(est).fit(X, y)
    part = clone(est)
    for start in (0, 32, 80):
        stop = {0: 32, 32: 80, 80: 96}[start]
        part.partial_fit(X[start:stop], y[start:stop], classes=np.unique(y))
    assert_array_equal(part.coef_, full.coef_)
    assert part.t_ == full.t_ == 6


def test_partial_fit_trains_on_the_true_labels_when_a_call_misses_a_class():
    # gdfast's core derives the labels from y; the estimators hand the true encoding to the
    # engine.  Oracle: one full-batch SGD step from the reference gradient.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 4))
    y = np.array(["a", "b", "c"])[np.arange(30) % 3]
    lr = 0.1
    for loss, multi_class in (("logistic", "auto"), ("hinge", "ovr")):
        est = GDClassifier(loss=loss, multi_class=multi_class, optimizer="sgd",
                           learning_rate=lr, batch_size=None, alpha=0.0)
        est.partial_fit(X[:12], y[:12], classes=["a", "b", "c"])
        coef0, b0 = est.coef_.copy(), est.intercept_.copy()
        chunk = slice(12, 30)
        keep = y[chunk] != "c"                              # no "c" in this call
        Xc, yc = X[chunk][keep], y[chunk][keep]
        est.partial_fit(Xc, yc)
        idx = np.searchsorted(["a", "b", "c"], yc)
        if loss == "logistic":
            theta = np.concatenate([coef0.ravel(), b0])
            g, _ = reference.batch_gradient("multinomial", 3, 0.1, Xc, idx.astype(float),
                                            None, None, theta)
            expected = theta - lr * g
            assert_allclose(np.concatenate([est.coef_.ravel(), est.intercept_]), expected,
                            rtol=1e-12, atol=1e-14)
        else:
            for k in range(3):                               # class "c": all negatives
                theta = np.concatenate([coef0[k], [b0[k]]])
                yk = np.where(idx == k, 1.0, -1.0)
                g, _ = reference.batch_gradient("hinge", 1, 0.1, Xc, yk, None, None, theta)
                assert_allclose(np.concatenate([est.coef_[k], [est.intercept_[k]]]),
                                theta - lr * g, rtol=1e-12, atol=1e-14)
    # a binary model on a call with a single class
    est = GDClassifier(optimizer="sgd", learning_rate=lr, batch_size=None, alpha=0.0)
    est.partial_fit(X[:5], np.arange(5) % 2, classes=[0, 1])
    theta = np.concatenate([est.coef_[0], est.intercept_])
    est.partial_fit(X[5:9], np.ones(4, dtype=int))
    g, _ = reference.batch_gradient("logistic", 1, 0.1, X[5:9], np.ones(4), None, None, theta)
    assert_allclose(np.concatenate([est.coef_[0], est.intercept_]), theta - lr * g,
                    rtol=1e-12, atol=1e-14)


def test_partial_fit_errors():
    X, y = make_problem("logistic", n=40)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        GDClassifier().partial_fit(X, y)
    est = GDClassifier().partial_fit(X, y, classes=[-3, 7])
    with pytest.raises(ValueError, match="not the same as on the first call"):
        est.partial_fit(X, y, classes=[-3, 7, 8])
    with pytest.raises(ValueError, match="labels not in classes"):
        est.partial_fit(X, np.where(y == 7, 5, -3))
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        GDClassifier(class_weight="balanced").partial_fit(X, y, classes=[-3, 7])
    with pytest.raises(ValueError, match="cannot continue a fit made with optimizer"):
        est.set_params(optimizer="adam").partial_fit(X, y)
    # a chunk may lack labels, down to a single row of a single class
    Xm, ym = make_problem("multinomial", n=30, n_classes=3)
    est = GDClassifier().partial_fit(Xm, ym, classes=np.unique(ym))
    before = est.coef_.copy()
    est.partial_fit(Xm[:1], np.array(["ant"]))
    assert est.coef_.shape == before.shape and not np.array_equal(est.coef_, before)


@pytest.mark.parametrize("cls,loss", [(GDClassifier, "logistic"), (GDRegressor, "squared")])
def test_warm_start_continues_exactly(cls, loss):
    X, y = make_problem(loss, n=100)
    kw = dict(optimizer="adam", schedule="step", step_size=2, gamma=0.5, batch_size=16,
              tol=None, random_state=2, learning_rate=0.05)
    full = cls(**kw, max_epochs=6).fit(X, y)
    warm = cls(**kw, max_epochs=2, warm_start=True)
    for _ in range(3):
        warm.fit(X, y)
    assert_array_equal(warm.coef_, full.coef_)
    assert_array_equal(warm.intercept_, full.intercept_)
    assert_array_equal(warm.loss_curve_, full.loss_curve_)
    assert warm.n_iter_ == 6 and warm.t_ == full.t_
    # without warm_start, or with an explicit coef_init, fit starts over
    cold = cls(**kw, max_epochs=2)
    first = clone(cold).fit(X, y).coef_
    cold.fit(X, y)
    cold.fit(X, y)
    assert_array_equal(cold.coef_, first)
    warm.fit(X, y, coef_init=np.zeros_like(warm.coef_))
    assert_array_equal(warm.coef_, first) and warm.n_iter_ == 2


# --- early stopping and convergence ----------------------------------------------------------

def overfitting_problem():
    """More features than the training rows support, noisy targets: the validation loss
    falls, reaches a minimum around epoch 96, then rises while the training loss falls."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 50))
    w = np.zeros(50)
    w[:3] = [2, -1, 1]
    return X, X @ w + 1.5 * rng.standard_normal(80)


def test_early_stopping_restores_the_best_epoch():
    X, y = overfitting_problem()
    rec = Recorder()
    est = GDRegressor(optimizer="sgd", learning_rate=0.02, batch_size=None, alpha=0.0,
                      tol=None, max_epochs=200, early_stopping=True, validation_fraction=0.3,
                      random_state=0, callback=rec).fit(X, y)
    val = est.validation_loss_curve_
    assert len(val) == len(est.loss_curve_) == est.n_iter_ == 200
    best = int(np.argmin(val))
    assert 20 < best < 150 and val[-1] > val[best] * 1.02        # it rose later
    assert np.all(np.diff(est.loss_curve_[best:]) < 0)           # while training improved
    assert_array_equal(est.coef_, rec.coef[best])
    assert_array_equal(est.intercept_, rec.intercept[best])
    # the curve is the mean squared loss on the held-out rows (30 %, seeded split)
    _, va = train_test_split(np.arange(80), test_size=0.3, random_state=0)
    for e in (0, best, 199):
        r = X[va] @ rec.coef[e] + rec.intercept[e] - y[va]
        assert_allclose(val[e], np.mean(0.5 * r * r), rtol=1e-12)
    # with tol, training stops once the validation loss has not improved by tol over its
    # best for n_iter_no_change epochs (scikit-learn's rule), and the best epoch is restored
    stopped = clone(est).set_params(tol=1e-3, n_iter_no_change=10, callback=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped.fit(X, y)
    best_so_far, no_improvement = np.inf, 0
    for e, v in enumerate(val):  # noqa: B007 (e, the stopping epoch, is read below)
        no_improvement = no_improvement + 1 if v > best_so_far - 1e-3 else 0
        best_so_far = min(best_so_far, v)
        if no_improvement >= 10:
            break
    assert stopped.n_iter_ == e + 1 < 120
    assert_array_equal(stopped.validation_loss_curve_, val[:e + 1])
    assert_array_equal(stopped.coef_, rec.coef[int(np.argmin(val[:e + 1]))])


def test_training_continues_from_the_restored_best_epoch():
    X, y = overfitting_problem()
    kw = dict(optimizer="sgd", learning_rate=0.02, batch_size=16, alpha=0.0, shuffle=False)
    est = GDRegressor(**kw, tol=None, max_epochs=150, early_stopping=True,
                      validation_fraction=0.3, random_state=0).fit(X, y)
    assert np.argmin(est.validation_loss_curve_) < 149
    # plain SGD has no optimizer state: one more epoch from the best weights is a fresh
    # one-epoch fit that starts there
    step = GDRegressor(**kw, max_epochs=1, tol=None).fit(X, y, coef_init=est.coef_,
                                                         intercept_init=est.intercept_)
    est.partial_fit(X, y)
    assert_array_equal(est.coef_, step.coef_)


def test_warm_start_replans_a_cosine_schedule_over_the_new_epochs():
    X, y = make_problem("squared", n=40)
    rates = []
    est = GDRegressor(schedule="cosine", learning_rate=0.1, max_epochs=4, tol=None,
                      warm_start=True, callback=lambda r: rates.append(r["learning_rate"]))
    est.fit(X, y).fit(X, y)                      # 4 epochs planned, then 4 more: 8 in all
    expected = [0.1 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)]
    expected += [0.1 * (1 + np.cos(np.pi * e / 8)) / 2 for e in range(4, 8)]
    assert_allclose(rates, expected, rtol=1e-14)


def test_early_stopping_trains_on_the_other_rows_in_their_order():
    X, y = make_problem("logistic", n=100)
    rec = Recorder()
    kw = dict(optimizer="rmsprop", batch_size=8, max_epochs=4, tol=None, shuffle=False)
    GDClassifier(**kw, early_stopping=True, validation_fraction=0.2, random_state=3,
                 callback=rec).fit(X, y)
    _, idx = np.unique(y, return_inverse=True)
    train, _ = train_test_split(np.arange(100), test_size=0.2, random_state=3, stratify=idx)
    res = gdfast.fit(X[np.sort(train)], y[np.sort(train)], loss="logistic", **kw)
    assert_array_equal(rec.coef[-1], res.coef)


def test_early_stopping_with_one_vs_rest_restores_each_models_best_epoch():
    X, y = make_problem("multinomial", n=150, n_classes=3, seed=2)
    rec = Recorder()
    est = GDClassifier(loss="squared_hinge", optimizer="adam", learning_rate=0.05,
                       max_epochs=30, tol=None, early_stopping=True, validation_fraction=0.3,
                       random_state=0, callback=rec, n_threads=2).fit(X, y)
    curves = est.validation_loss_curve_
    assert isinstance(curves, list) and [len(c) for c in curves] == [30, 30, 30]
    models = np.array(rec.models)
    for k in range(3):
        coefs = [c for c, m in zip(rec.coef, models, strict=True) if m == k]
        best = int(np.argmin(curves[k]))
        assert_array_equal(est.coef_[k], coefs[best])
    assert any(np.argmin(c) < 29 for c in curves)     # some model's best epoch is not the last


def test_divergence_in_one_model_stops_the_others_and_leaves_no_model():
    X, y = make_problem("squared", n=60)
    Y = np.column_stack([y * 1e200, y])                 # the first output overflows
    epochs = []
    est = GDRegressor(max_epochs=50, tol=None, n_threads=2,
                      callback=lambda r: epochs.append(r["model"]))
    est.fit(X, y)                                       # a previous, fitted model
    epochs.clear()
    with pytest.raises(gdfast.DivergenceError):
        est.set_params(max_epochs=20_000).fit(X, Y)
    assert epochs.count(1) < 1000                      # the other model stopped early
    assert not hasattr(est, "coef_")
    # seeded: about 3 % of the shuffles let X * 1e100 fit 5 epochs without overflowing (the
    # test failed once in a full run with random_state=None)
    # (at a rate of the user's: optimizer="auto" scales the columns, and does not diverge)
    clf = GDClassifier(loss="squared_hinge", learning_rate=0.01, max_epochs=5, tol=None,
                       random_state=0).fit(X, y > 0)
    with pytest.raises(gdfast.DivergenceError):
        clf.fit(X * 1e100, y > 0)
    assert not hasattr(clf, "coef_")


def test_early_stopping_validation_split_is_stratified_for_classifiers():
    X, y = make_problem("multinomial", n=120, n_classes=3)
    rec = Recorder()
    est = GDClassifier(max_epochs=3, tol=None, early_stopping=True, validation_fraction=0.25,
                       random_state=5, callback=rec).fit(X, y)
    classes, idx = np.unique(y, return_inverse=True)
    _, va = train_test_split(np.arange(120), test_size=0.25, random_state=5, stratify=idx)
    for e in range(3):
        Z = X[va] @ rec.coef[e].T + rec.intercept[e]
        assert_allclose(est.validation_loss_curve_[e],
                        np.mean(softmax_loss_dz(Z, idx[va])[0]), rtol=1e-12)


def test_convergence_warning_when_max_epochs_ends_the_fit():
    X, y = make_problem("logistic", n=100)
    with pytest.warns(ConvergenceWarning, match="max_epochs=2"):
        GDClassifier(max_epochs=2, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GDClassifier(max_epochs=2, tol=None, random_state=0).fit(X, y)   # asked for 2
        converged = GDClassifier(random_state=0).fit(X, y)
        assert converged.n_iter_ < 1000
        GDClassifier(max_epochs=1, random_state=0).partial_fit(X, y, classes=[-3, 7])
    with pytest.warns(ConvergenceWarning, match="for class 'ant'"):
        Xm, ym = make_problem("multinomial", n=90, n_classes=3)
        GDClassifier(loss="hinge", max_epochs=2, random_state=0).fit(Xm, ym)


# --- accuracy on digits ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):     # lbfgs on 64 features: BLAS threads only contend
        reference_accuracy = LogisticRegression(max_iter=2000).fit(Xtr, ytr).score(Xte, yte)
    return Xtr, Xte, ytr, yte, reference_accuracy


@pytest.mark.parametrize("multi_class", ["multinomial", "ovr"])
def test_digits_accuracy_matches_logistic_regression(digits, multi_class):
    Xtr, Xte, ytr, yte, reference_accuracy = digits
    # alpha = 1 / n_train is LogisticRegression's C=1 in gdfast's objective
    est = GDClassifier(multi_class=multi_class, optimizer="adam", learning_rate=0.003,
                       batch_size=32, max_epochs=200, tol=None, alpha=1 / len(ytr),
                       random_state=0).fit(Xtr, ytr)
    assert est.coef_.shape == (10, 64)
    assert est.score(Xte, yte) >= reference_accuracy - 0.01


# --- predictions, probabilities, pickling, dtypes --------------------------------------------

def test_probabilities_exist_only_for_losses_that_define_them():
    X, y = make_problem("multinomial", n=90, n_classes=3)
    hinge = GDClassifier(loss="hinge", max_epochs=5, tol=None).fit(X, y)
    assert not hasattr(hinge, "predict_proba") and not hasattr(hinge, "predict_log_proba")
    with pytest.raises(AttributeError, match="has no attribute 'predict_proba'") as exc:
        hinge.predict_proba(X)
    assert "not available for loss='hinge'" in str(exc.value.__cause__)
    mh = GDClassifier(loss="modified_huber", max_epochs=5, tol=None).fit(X, y)
    z = mh.decision_function(X)
    p = (np.clip(z, -1, 1) + 1) / 2
    expected = np.where(p.sum(1, keepdims=True) == 0, 1 / 3,
                        p / np.where(p.sum(1, keepdims=True) == 0, 1, p.sum(1, keepdims=True)))
    assert_allclose(mh.predict_proba(X), expected, rtol=1e-12)
    log = GDClassifier(max_epochs=5, tol=None).fit(X, y)
    assert_allclose(log.predict_log_proba(X), np.log(log.predict_proba(X)), rtol=1e-12)
    assert_allclose(log.predict_proba(X).sum(1), 1, rtol=1e-12)


def test_pickled_model_predicts_and_continues_the_same():
    X, y = make_problem("multinomial", n=90, n_classes=3)
    est = GDClassifier(loss="squared_hinge", optimizer="rmsprop", max_epochs=4, tol=None,
                       random_state=1).fit(X, y)
    copy = pickle.loads(pickle.dumps(est))
    assert_array_equal(copy.decision_function(X), est.decision_function(X))
    assert_array_equal(copy.predict(X), est.predict(X))
    est.partial_fit(X, y)                     # the optimizer state and rng survive pickling
    copy.partial_fit(X, y)
    assert_array_equal(copy.coef_, est.coef_)


def test_float32_is_preserved_and_pandas_feature_names_are_kept():
    pd = pytest.importorskip("pandas")
    X, y = make_problem("squared", n=60, dtype=np.float32)
    est = GDRegressor(max_epochs=5, tol=None).fit(X, y)
    assert est.coef_.dtype == np.float32 and est.predict(X).dtype == np.float32
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = GDRegressor(max_epochs=5, tol=None).fit(df, y)
    assert_array_equal(est.feature_names_in_, df.columns)
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_fits_like_dense(fmt):
    """Sparse X (any format) gives the dense fit to rounding, and predicts from sparse X."""
    sp = pytest.importorskip("scipy.sparse")
    X, y = make_problem("multinomial", n=60, n_classes=3)
    X[np.abs(X) < 0.8] = 0                          # about half the entries zero
    Xs = sp.csr_matrix(X).asformat(fmt)
    yr = X @ np.arange(X.shape[1]) + 0.5
    for est, target in ((GDClassifier(optimizer="momentum"), y),
                        (GDClassifier(loss="hinge", batch_size=1), y),
                        (GDRegressor(optimizer="sgd", batch_size=4), yr)):
        kw = dict(max_epochs=5, tol=None, random_state=0)
        a = clone(est).set_params(**kw).fit(Xs, target)
        b = clone(est).set_params(**kw).fit(X, target)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-10, atol=1e-12)
        if isinstance(est, GDRegressor):
            assert_allclose(a.predict(Xs), b.predict(X), rtol=1e-10)
        else:
            assert_array_equal(a.predict(Xs), b.predict(X))


def test_invalid_parameters_are_named():
    X, y = make_problem("multinomial", n=60, n_classes=3)
    cases = [(GDClassifier(multi_class="softmax"), ValueError, "multi_class"),
             (GDClassifier(loss="hinge", multi_class="multinomial"), ValueError,
              "needs loss='logistic'"),
             (GDClassifier(loss="multinomial"), ValueError, "loss='logistic'"),
             (GDClassifier(loss="squared"), ValueError, "loss='squared' is not valid"),
             (GDClassifier(class_weight="auto"), ValueError, "class_weight"),
             (GDClassifier(validation_fraction=1.5), ValueError, "validation_fraction"),
             (GDClassifier(learning_rate=-1.0), ValueError, "learning_rate"),
             (GDClassifier(n_threads=0), ValueError, "n_threads=0")]
    for est, exc, match in cases:
        with pytest.raises(exc, match=match):
            est.fit(X, y)
    with pytest.raises(ValueError, match="loss='hinge' is not valid"):
        GDRegressor(loss="hinge").fit(X, np.arange(60.0))


# --- threads ---------------------------------------------------------------------------------

def test_threads_follow_n_threads_and_threadpoolctl(monkeypatch):
    if not gdfast.openmp_enabled():
        pytest.skip("a serial build uses one thread whatever n_threads says")
    from threadpoolctl import threadpool_limits
    seen = []

    class Engine(_runner.NativeEngine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(self.n_threads)

    monkeypatch.setattr(_runner, "NativeEngine", Engine)
    X, y = make_problem("multinomial", n=60, n_classes=3)
    Y = np.column_stack([y == "ant", y == "bee"])
    GDClassifier(max_epochs=1, tol=None, n_threads=3).fit(X, y)
    assert seen == [3]
    seen.clear()
    GDClassifier(loss="hinge", max_epochs=1, tol=None, n_threads=4).fit(X, y)  # 3 models
    assert seen == [1, 1, 1]                                      # 3 workers, 1 thread each
    seen.clear()
    GDRegressor(max_epochs=1, tol=None, n_threads=4).fit(X, Y)
    assert seen == [2, 2]                                         # 2 models: 2 threads each
    seen.clear()
    with threadpool_limits(limits=1, user_api="openmp"):
        GDClassifier(max_epochs=1, tol=None).fit(X, y)
        GDRegressor(max_epochs=1, tol=None).fit(X, Y)
    assert seen == [1, 1, 1]


# --- progress: verbose, callbacks ------------------------------------------------------------

def test_verbose_prints_scikit_learns_sgd_format(capsys):
    X, y = make_problem("logistic", n=64)
    rec = Recorder()
    est = GDClassifier(max_epochs=3, tol=None, verbose=1, batch_size=16, callback=rec)
    est.fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 9
    for e in range(3):
        assert out[3 * e] == f"-- Epoch {e + 1}"
        m = re.fullmatch(r"Norm: (\d+\.\d\d), NNZs: (\d+), Bias: (-?\d+\.\d{6}), T: (\d+), "
                         r"Avg\. loss: (\d+\.\d{6})", out[3 * e + 1])
        assert m, out[3 * e + 1]
        assert m[1] == f"{np.linalg.norm(rec.coef[e]):.2f}"
        assert int(m[2]) == np.count_nonzero(rec.coef[e])
        assert m[3] == f"{float(rec.intercept[e]):.6f}"
        assert int(m[4]) == 4 * (e + 1)                          # optimizer steps
        assert m[5] == f"{est.loss_curve_[e]:f}"
        assert re.fullmatch(r"Total training time: \d+\.\d\d seconds\.", out[3 * e + 2])
    GDClassifier(verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"^Convergence after \d+ epochs took \d+\.\d\d seconds$", out, re.M)


def _require_callback_api():
    try:
        import sklearn.callback  # noqa: F401
    except ImportError:
        pytest.skip("this scikit-learn has no sklearn.callback API")


class HookRecorder:
    """A scikit-learn FitCallback that records the hooks (and can stop the fit)."""

    def __init__(self, stop_after=None):
        self.events, self.stop_after = [], stop_after

    def setup(self, estimator, context):
        self.events.append(("setup", context.task_name))

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None,
                          fitted_estimator=None):
        self.events.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        self.events.append(("end", context.task_name, fitted_estimator))
        ends = sum(1 for e in self.events if e[:2] == ("end", "epoch"))
        return self.stop_after is not None and ends >= self.stop_after


def test_sklearn_callbacks_see_every_epoch_and_can_stop():
    _require_callback_api()
    X, y = make_problem("logistic", n=64)
    rec = HookRecorder()
    est = GDClassifier(max_epochs=4, tol=None).set_callbacks(rec).fit(X, y)
    names = [e[:2] for e in rec.events]
    assert names == ([("setup", "fit"), ("begin", "fit")]
                     + [("begin", "epoch"), ("end", "epoch")] * 4
                     + [("end", "fit"), ("teardown", "fit")])
    # each epoch's fitted_estimator predicts with that epoch's parameters
    fitted = [e[2] for e in rec.events if e[:2] == ("end", "epoch")]
    assert_array_equal(fitted[-1].coef_, est.coef_)
    assert not np.array_equal(fitted[0].coef_, est.coef_)
    assert_array_equal(fitted[0].predict(X), fitted[0].classes_[
        (X @ fitted[0].coef_[0] + fitted[0].intercept_[0] > 0).astype(int)])
    stopper = HookRecorder(stop_after=2)
    est = GDClassifier(max_epochs=10, tol=None).set_callbacks(stopper).fit(X, y)
    assert est.n_iter_ == 2


def test_scoring_monitor_logs_a_score_per_epoch():
    _require_callback_api()
    from sklearn.callback import ScoringMonitor
    X, y = make_problem("multinomial", n=90, n_classes=3)
    monitor = ScoringMonitor(scoring="accuracy")
    est = GDClassifier(max_epochs=5, tol=None, random_state=0).set_callbacks(monitor)
    est.fit(X, y)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert len(rows) == 5
    assert rows[-1]["accuracy"] == est.score(X, y)


def test_progress_bar_runs():
    _require_callback_api()
    pytest.importorskip("rich", reason="sklearn.callback.ProgressBar needs rich")
    from sklearn.callback import ProgressBar
    X, y = make_problem("multinomial", n=90, n_classes=3)
    est = GDClassifier(loss="hinge", max_epochs=3, tol=None).set_callbacks(ProgressBar())
    est.fit(X, y)                                         # one bar per class (one-vs-rest)
    assert est.n_iter_ == 3


def test_user_callback_can_stop_and_names_the_model():
    X, y = make_problem("squared", n=60)
    seen = []

    def cb(record):
        seen.append((record["model"], record["epoch"]))
        return record["epoch"] == 3

    est = GDRegressor(max_epochs=10, tol=None, callback=cb).fit(X, np.column_stack([y, y]))
    assert sorted(seen) == [(m, e) for m in (0, 1) for e in (1, 2, 3)]
    assert est.n_iter_ == 3


# --- scikit-learn tooling --------------------------------------------------------------------

def test_pipeline_and_grid_search():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = make_problem("multinomial", n=150, n_classes=3)
    pipe = make_pipeline(StandardScaler(), GDClassifier(optimizer="adam", max_epochs=30,
                                                        tol=None, random_state=0))
    search = GridSearchCV(pipe, {"gdclassifier__alpha": [1e-4, 1e-1],
                                 "gdclassifier__learning_rate": [1e-3, 1e-2]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.6
    assert set(search.best_params_) == {"gdclassifier__alpha", "gdclassifier__learning_rate"}

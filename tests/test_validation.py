"""Bad input gets a clear error naming the argument, before any native code runs."""
import numpy as np
import pytest

import gdfast
from conftest import make_problem

X, Y = make_problem("squared", n=20, d=3)
XC, YC = make_problem("logistic", n=20, d=3)


def _nan_X():
    X = XC.copy()
    X[3, 1] = np.nan
    return X


def _inf_X():
    X = XC.copy()
    X[5, 2] = -np.inf
    return X


BAD = [
    # (description, X, y, kwargs, exception, message fragment)
    ("NaN in X", _nan_X(), YC, {}, ValueError, "X contains NaN (first at row 3, column 1)"),
    ("inf in X", _inf_X(), YC, {}, ValueError, "X contains infinity (first at row 5, column 2)"),
    ("NaN in y", X, np.r_[Y[:-1], np.nan], {}, ValueError, "y contains NaN"),
    ("NaN in weights", X, Y, dict(sample_weight=np.r_[np.ones(19), np.nan]), ValueError,
     "sample_weight contains NaN"),
    ("length mismatch", X, Y[:-1], {}, ValueError, "X has 20 samples, y has 19"),
    ("no rows", X[:0], Y[:0], {}, ValueError, "at least 1 sample and 1 feature"),
    ("no features", X[:, :0], Y, {}, ValueError, "at least 1 sample and 1 feature"),
    ("1-D X", X[:, 0], Y, {}, ValueError, "expected a 2-D array"),
    ("3-D X", X[:, :, None], Y, {}, ValueError, "got 3-D"),
    ("complex X", X.astype(complex), Y, {}, ValueError, "complex data"),
    ("object X", X.astype(object), Y, {}, ValueError, "expected a numeric array"),
    ("string X", np.full((20, 3), "a"), Y, {}, ValueError, "expected a numeric array"),
    ("2-D y", X, Y[:, None], {}, ValueError, "y.ravel()"),
    ("string y for regression", X, np.array(["a"] * 20), {}, ValueError,
     "regression loss and needs numeric targets"),
    ("3 labels for binary", X, np.arange(20) % 3, dict(loss="logistic"), ValueError,
     "exactly 2 distinct labels, got 3"),
    ("single class", X, np.zeros(20), dict(loss="hinge"), ValueError, "single class"),
    ("single class multinomial", X, np.zeros(20), dict(loss="multinomial"), ValueError,
     "single class"),
    ("negative poisson target", X, np.r_[-1.0, np.ones(19)], dict(loss="poisson"), ValueError,
     "non-negative targets"),
    ("negative weight", X, Y, dict(sample_weight=np.r_[-1.0, np.ones(19)]), ValueError,
     "sample_weight: weights must be non-negative"),
    ("all-zero weights", X, Y, dict(sample_weight=np.zeros(20)), ValueError,
     "all weights are zero"),
    ("weights length", X, Y, dict(sample_weight=np.ones(19)), ValueError,
     "sample_weight: expected shape (20,)"),
    ("unknown loss", X, Y, dict(loss="l2"), ValueError, "loss='l2' is not valid; expected one of"),
    ("unknown optimizer", X, Y, dict(optimizer="lbfgs"), ValueError, "'adamw'"),
    ("unknown schedule", X, Y, dict(schedule="linear"), ValueError, "'plateau'"),
    ("zero learning rate", X, Y, dict(learning_rate=0), ValueError, "learning_rate must be"),
    ("NaN learning rate", X, Y, dict(learning_rate=np.nan), ValueError, "learning_rate must be"),
    ("string learning rate", X, Y, dict(learning_rate="0.1"), TypeError, "learning_rate must be"),
    ("batch_size 0", X, Y, dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    ("float batch_size", X, Y, dict(batch_size=2.5), TypeError, "batch_size must be an integer"),
    ("max_epochs 0", X, Y, dict(max_epochs=0), ValueError, "max_epochs must be"),
    ("negative alpha", X, Y, dict(alpha=-1.0), ValueError, "alpha must be"),
    ("l1_ratio > 1", X, Y, dict(l1_ratio=1.5), ValueError, "l1_ratio must be"),
    ("beta1 = 1", X, Y, dict(optimizer="adam", betas=(1.0, 0.999)), ValueError, "betas[0]"),
    ("beta2 < 0", X, Y, dict(optimizer="adam", betas=(0.9, -0.1)), ValueError, "betas[1]"),
    ("betas not a pair", X, Y, dict(betas=0.9), TypeError, "betas must be a pair"),
    ("n_threads 0", X, Y, dict(n_threads=0), ValueError, "n_threads=0"),
    ("momentum 1", X, Y, dict(optimizer="momentum", momentum=1.0), ValueError, "momentum must"),
    ("nesterov dampening", X, Y, dict(optimizer="nesterov", dampening=0.5), ValueError,
     "nesterov' requires momentum > 0 and dampening=0"),
    ("eps 0", X, Y, dict(optimizer="adam", eps=0.0), ValueError, "eps must be"),
    ("optimal without alpha", X, Y, dict(schedule="optimal", alpha=0.0), ValueError,
     "needs alpha > 0"),
    ("coef_init shape", X, Y, dict(coef_init=np.zeros(4)), ValueError,
     "coef_init: expected shape (3,), got (4,)"),
    ("coef_init dtype", X, Y, dict(coef_init=np.array(["a", "b", "c"])), ValueError,
     "coef_init: expected a numeric array"),
    ("intercept_init shape", X, Y, dict(intercept_init=np.zeros(2)), ValueError,
     "intercept_init: expected a scalar"),
    ("multinomial coef_init", X, np.arange(20) % 3, dict(loss="multinomial", coef_init=np.zeros(3)),
     ValueError, "coef_init: expected shape (3, 3)"),
    ("unknown keyword", X, Y, dict(learning_rat=0.1), TypeError, "learning_rat"),
    ("callback not callable", X, Y, dict(callback=3), TypeError, "callback must be callable"),
    ("verbose not an integer", X, Y, dict(verbose="yes"), TypeError, "verbose must be an integer"),
    ("fit_intercept not bool", X, Y, dict(fit_intercept="yes"), TypeError, "fit_intercept must be"),
    ("random_state", X, Y, dict(random_state="seed"), ValueError, "random_state"),
    ("gamma > 1", X, Y, dict(schedule="step", gamma=2.0), ValueError, "gamma must be"),
    ("huge n_threads", X, Y, dict(n_threads=10 ** 6), ValueError, "more than 4 times"),
    ("coef_init overflows float32", X.astype(np.float32), Y, dict(coef_init=[1e39, 0, 0]),
     ValueError, "coef_init (as float32) contains infinity"),
    ("intercept_init overflows float32", X.astype(np.float32), Y, dict(intercept_init=1e39),
     ValueError, "intercept_init (as float32) contains infinity"),
]


@pytest.mark.parametrize("fit", [gdfast.fit, gdfast.reference.fit], ids=["native", "reference"])
@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_rejected_with_a_clear_message(case, fit):
    _, X_, y_, kw, exc, fragment = case
    with pytest.raises(exc) as info:
        fit(X_, y_, max_epochs=kw.pop("max_epochs", 2), **kw) if "max_epochs" not in kw else \
            fit(X_, y_, **kw)
    assert fragment in str(info.value), str(info.value)




def test_labels_of_any_type_for_classification():
    y = np.where(YC == 7, "spam", "ham")
    res = gdfast.fit(XC, y, loss="logistic", max_epochs=3)
    np.testing.assert_array_equal(res.classes, ["ham", "spam"])
    assert set(res.predict(XC)) <= {"ham", "spam"}

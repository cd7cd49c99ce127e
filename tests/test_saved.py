"""gdfast.save / gdfast.load on real files: round trips of FitResults and estimators (every
kind of label, both dtypes, multinomial, one-vs-rest, multi-output), continued training after
a load equal to continuing in memory, and the failures: no pickle, a newer format, truncated
and damaged files, a write that fails leaving the old file intact."""
import json
import subprocess
import sys
from decimal import Decimal

import numpy as np
import pytest

import gdfast
from conftest import make_problem

sklearn = pytest.importorskip("sklearn")
from gdfast import GDClassifier, GDRegressor  # noqa: E402


def params(res):
    return np.concatenate([np.ravel(res.coef), np.ravel(res.intercept)])


@pytest.mark.parametrize("loss", ["logistic", "multinomial", "squared", "poisson"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_result_round_trip(tmp_path, loss, dtype):
    X, y = make_problem(loss, n=200, d=5, dtype=dtype)
    res = gdfast.fit(X, y, loss=loss, optimizer="adam", learning_rate=0.01, max_epochs=3,
                     random_state=0)
    path = tmp_path / "model.gdm"
    gdfast.save(res, path)
    back = gdfast.load(path)
    assert back.coef.dtype == dtype
    assert np.array_equal(params(back), params(res))
    assert np.array_equal(back.loss_history, res.loss_history)
    assert back.loss == res.loss and back.optimizer == res.optimizer
    assert (back.n_epochs, back.n_steps, back.converged) == (res.n_epochs, res.n_steps,
                                                             res.converged)
    if res.classes is not None:
        assert list(back.classes) == list(res.classes)        # strings for multinomial
    assert np.array_equal(back.predict(X), res.predict(X))
    assert np.array_equal(back.state.opt_state, res.state.opt_state)


def test_continuing_after_a_load_is_continuing_in_memory(tmp_path):
    """The training state (optimizer moments, step count, the random generator) goes with the
    model: a warm-started fit of the loaded estimator equals one of the original."""
    X, y = make_problem("multinomial", n=300, d=5)
    est = GDClassifier(optimizer="adam", learning_rate=0.01, batch_size=16, max_epochs=2,
                       tol=None, warm_start=True, random_state=3).fit(X, y)
    gdfast.save(est, tmp_path / "m.gdm")
    back = gdfast.load(tmp_path / "m.gdm")
    assert isinstance(back, GDClassifier)
    assert np.array_equal(back.predict_proba(X), est.predict_proba(X))
    est.fit(X, y)
    back.fit(X, y)
    assert np.array_equal(back.coef_, est.coef_)
    assert np.array_equal(back.loss_curve_, est.loss_curve_)


@pytest.mark.parametrize("case", ["ovr", "class_weight", "regressor_multi", "bool_labels"])
def test_estimator_round_trip(tmp_path, case):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 4))
    if case == "regressor_multi":
        Y = X @ rng.standard_normal((4, 2)) + 0.1 * rng.standard_normal((150, 2))
        est = GDRegressor(alpha=1e-3, early_stopping=True, random_state=0).fit(X, Y)
    else:
        y = np.array([10, 20, 30])[rng.integers(0, 3, 150)]
        kw = {}
        if case == "ovr":
            kw = dict(loss="hinge")
        elif case == "class_weight":
            kw = dict(class_weight={10: 2.0, 20: 1.0, 30: 0.5})
        else:
            y = y > 15
        est = GDClassifier(**kw, random_state=np.random.RandomState(0),
                           callback=lambda rec: None).fit(X, y)
    gdfast.save(est, tmp_path / "e.gdm")
    back = gdfast.load(tmp_path / "e.gdm")
    assert type(back) is type(est)
    assert np.array_equal(back.predict(X), est.predict(X))
    assert np.array_equal(back.coef_, est.coef_)
    if case == "class_weight":
        assert back.class_weight == {10: 2.0, 20: 1.0, 30: 0.5}
    if case != "regressor_multi":
        assert back.callback is None and back.random_state is None   # not written
    else:
        assert len(back.validation_loss_curve_) == 2


def test_object_labels_that_are_not_strings_are_refused(tmp_path):
    X, y = make_problem("logistic", n=100, d=3)
    labels = np.array([Decimal("0.5"), Decimal("1.5")], dtype=object)[(y > 0).astype(int)]
    res = gdfast.fit(X, labels, loss="logistic", max_epochs=2)
    with pytest.raises(TypeError, match="without pickle"):
        gdfast.save(res, tmp_path / "x.gdm")
    assert not (tmp_path / "x.gdm").exists()
    assert not list(tmp_path.iterdir())                  # no temporary file left behind


def _saved(tmp_path):
    X, y = make_problem("logistic", n=100, d=3)
    res = gdfast.fit(X, y, loss="logistic")
    path = tmp_path / "m.gdm"
    gdfast.save(res, path)
    return res, path


def test_truncated_and_damaged_files(tmp_path):
    _, path = _saved(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.gdm"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or damaged"):
        gdfast.load(cut)
    flipped = bytearray(data)
    i = data.index(b"loss_history") + 200                 # inside an array's bytes
    flipped[i] ^= 0xFF
    bad = tmp_path / "bad.gdm"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="truncated or damaged|damaged"):
        gdfast.load(bad)
    text = tmp_path / "text.gdm"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a gdfast model"):
        gdfast.load(text)
    with pytest.raises(FileNotFoundError):
        gdfast.load(tmp_path / "missing.gdm")


def test_a_newer_format_and_a_pickle_are_refused(tmp_path):
    _, path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files}
    meta = json.loads(bytes(members["__meta__"]).decode())
    meta["version"] = 99
    members["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    newer = tmp_path / "newer.gdm"
    with open(newer, "wb") as f:
        np.savez(f, **members)
    with pytest.raises(ValueError, match="version 99.*upgrade gdfast"):
        gdfast.load(newer)
    # an object array (which only pickle can read) in place of the coefficients
    members["coef"] = np.array([object()], dtype=object)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **members)
    with pytest.raises(ValueError, match="not a gdfast model file|damaged"):
        gdfast.load(pickled)


FILL_UP = """
import resource, signal, sys
import gdfast
model = gdfast.load(sys.argv[1])
# the file system refuses to grow any file past 1000 bytes (a real failed write: EFBIG)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    gdfast.save(model, sys.argv[1])
except OSError as exc:
    print("OSError", exc.errno)
"""


def test_a_failed_write_leaves_the_old_file(tmp_path):
    res, path = _saved(tmp_path)
    before = path.read_bytes()
    assert len(before) > 1000
    out = subprocess.run([sys.executable, "-c", FILL_UP, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OSError"), out.stdout
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.gdm"]     # no temporary file left
    assert np.array_equal(gdfast.load(path).coef, res.coef)       # and it still reads

"""gdfast.plot and demo --plot: real PNGs rendered by matplotlib and read back, the curves
and labels drawn, the command line's errors; and the atomic write's file modes."""
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

mpl_image = pytest.importorskip("matplotlib.image")

import gdfast  # noqa: E402
import gdfast.plot as gplot  # noqa: E402
from conftest import make_problem  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _runs():
    X, y = make_problem("logistic", n=400, d=5)
    return {f"sgd {lr:g}": gdfast.fit(X, y, loss="logistic", optimizer="sgd", learning_rate=lr,
                                      max_epochs=8, tol=None, random_state=0)
            for lr in (1e-3, 1e-1)} | {"defaults": gdfast.fit(X, y, loss="logistic")}


def _check_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000
    image = mpl_image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert float(image[..., :3].std()) > 0.05          # not a blank picture


def test_plot_loss_draws_every_fit_and_writes_a_png(tmp_path):
    runs = _runs()
    ax = gplot.plot_loss(runs, title="three fits")
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel().startswith("loss")
    assert ax.get_title() == "three fits"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(runs)
    for line, res in zip(ax.get_lines(), runs.values(), strict=True):
        assert np.array_equal(line.get_ydata(), res.loss_history)
        assert np.array_equal(line.get_xdata(), np.arange(1, res.n_epochs + 1))
    gplot.save_figure(ax.figure, tmp_path / "loss.png")
    _check_png(tmp_path / "loss.png")


def test_gap_and_log_scales():
    runs = _runs()
    ax = gplot.plot_loss(runs, gap=True)
    assert ax.get_yscale() == "log"
    best = min(float(r.loss_history.min()) for r in runs.values())
    d = ax.get_lines()[2].get_ydata()                   # the defaults reach the best
    assert np.isnan(d).any() or np.nanmin(d) < 1e-6
    assert np.allclose(ax.get_lines()[0].get_ydata(),
                       (runs["sgd 0.001"].loss_history - best) / abs(best))
    assert gplot.plot_loss(runs["sgd 0.1"]).get_yscale() == "linear"   # a narrow range
    assert gplot.plot_loss(runs["sgd 0.1"], log=True).get_yscale() == "log"


def test_estimator_curves_with_validation():
    from gdfast import GDClassifier
    X, y = make_problem("multinomial", n=400, d=5)
    est = GDClassifier(loss="hinge", early_stopping=True, optimizer="sgd", learning_rate=0.05,
                       max_epochs=10, tol=None, random_state=0).fit(X, y)   # OvR: 3 models
    ax = gplot.plot_loss(est)
    lines = ax.get_lines()
    assert len(lines) == 6                               # training and validation per model
    assert [ln.get_linestyle() for ln in lines[:2]] == ["-", "--"]
    assert lines[0].get_color() == lines[1].get_color()


def test_bad_input():
    with pytest.raises(TypeError, match="FitResults or fitted gdfast estimators"):
        gplot.plot_loss([np.zeros(3)])
    with pytest.raises(ValueError, match="log"):
        gplot.plot_loss(_runs(), log="sometimes")
    with pytest.raises(ValueError, match="no loss to draw"):
        gplot.plot_loss({})


def test_demo_plot(tmp_path):
    out = tmp_path / "demo.png"
    run = subprocess.run([sys.executable, "-m", "gdfast", "demo", "--n-samples", "3000",
                          "--epochs", "4", "--no-reference", "--plot", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    _check_png(out)
    missing = tmp_path / "no" / "such" / "folder.png"
    run = subprocess.run([sys.executable, "-m", "gdfast", "demo", "--plot", str(missing)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--plot: no such folder" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_atomic_write_modes(tmp_path):
    from gdfast._atomic import atomic_write
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new", lambda f: f.write(b"x"))
        assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o644
        os.chmod(tmp_path / "new", 0o600)
        atomic_write(tmp_path / "new", lambda f: f.write(b"y"))   # an existing file's mode
        assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o600
        assert (tmp_path / "new").read_bytes() == b"y"
    finally:
        os.umask(umask)

"""The gdfast command line and gdfast.io on real files with the real readers (pyarrow, numpy):
train, predict and evaluate round trips equal to the Python API, every format, and the user's
mistakes: one line, exit status 2, nothing written."""
import subprocess
import sys

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import gdfast  # noqa: E402
from conftest import run_cli  # noqa: E402
from gdfast import io  # noqa: E402
from gdfast.datasets import make_classification, make_regression  # noqa: E402

CITIES = np.array(["lima", "oslo", "rome"])


@pytest.fixture
def files(tmp_path):
    """The same table as CSV, TSV and Parquet: 4 numeric columns, a text column and a text
    label."""
    X, y = make_classification(600, 4, random_state=1)
    city = CITIES[np.arange(600) % 3]
    label = np.where(y == 1, "yes", "no")
    header = ["a", "b", "c", "d", "city", "label"]
    rows = [[f"{v:.6f}" for v in x] + [c, t] for x, c, t in zip(X, city, label, strict=True)]
    out = {}
    for name, sep in (("t.csv", ","), ("t.tsv", "\t")):
        path = tmp_path / name
        path.write_text("\n".join(sep.join(r) for r in [header] + rows) + "\n")
        out[name] = path
    table = pa.table({h: [r[j] if j >= 4 else float(r[j]) for r in rows]
                      for j, h in enumerate(header)})
    pq.write_table(table, tmp_path / "t.parquet")
    out["t.parquet"] = tmp_path / "t.parquet"
    return out


def test_read_table_formats_agree(files):
    ref = io.read_table(files["t.csv"], "label")
    assert ref.columns == ["a", "b", "c", "d", "city=lima", "city=oslo", "city=rome"]
    assert ref.X.shape == (600, 7) and ref.X.dtype == np.float64
    assert np.array_equal(ref.X[:, 4:].sum(axis=1), np.ones(600))     # one-hot
    for name in ("t.tsv", "t.parquet"):
        t = io.read_table(files[name], "label")
        assert t.columns == ref.columns
        assert np.array_equal(t.X, ref.X) and np.array_equal(t.y, ref.y)


def test_train_predict_evaluate_round_trip(files, tmp_path, capsys):
    model, plot = tmp_path / "m.gdm", tmp_path / "loss.png"
    status, out, err = run_cli(capsys, "train", files["t.csv"], "--label", "label", "--loss",
                               "logistic", "--alpha", "1e-3", "--validation", "0.25",
                               "--model", model, "--plot", plot)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["epoch", "loss", "validation"]
    assert lines[-1].startswith("lbfgs,")
    assert plot.read_bytes().startswith(b"\x89PNG")
    saved = gdfast.load(model)
    assert saved.metadata["label"] == "label" and len(saved.validation_history) == \
        saved.n_epochs
    # the Python API on the same rows gives the same model
    t = io.read_table(files["t.csv"], "label")
    held = np.random.default_rng(0).random(600) < 0.25
    ref = gdfast.fit(t.X[~held], t.y[~held], loss="logistic", alpha=1e-3)
    assert np.array_equal(saved.coef, ref.coef)
    out_csv = tmp_path / "pred.csv"
    status, _, err = run_cli(capsys, "predict", model, files["t.parquet"], "--out", out_csv)
    assert status == 0, err
    pred = out_csv.read_text().splitlines()
    assert pred[0] == "prediction" and pred[1:] == list(ref.predict(t.X))
    status, out, _ = run_cli(capsys, "predict", model, files["t.tsv"], "--proba")
    assert status == 0 and out.splitlines()[0] == "p(no),p(yes)"
    assert np.allclose(np.loadtxt(out.splitlines()[1:], delimiter=","), ref.predict_proba(t.X))
    status, out, _ = run_cli(capsys, "evaluate", model, files["t.csv"])
    assert status == 0
    assert f"accuracy {np.mean(ref.predict(t.X) == t.y):.4f}" in out
    assert "confusion" in out


def test_regression_from_npz_and_npy(tmp_path, capsys):
    X, y, _, _ = make_regression(300, 3, random_state=2)
    np.savez(tmp_path / "r.npz", X=X, y=y)
    np.save(tmp_path / "r.npy", np.column_stack([X, y]))
    for data, label in ((tmp_path / "r.npz", "y"), (tmp_path / "r.npy", "-1")):
        model = tmp_path / f"{data.suffix[1:]}.gdm"
        status, _, err = run_cli(capsys, "train", data, "--label", label, "--quiet",
                                 "--model", model)
        assert status == 0, err
        assert np.allclose(gdfast.load(model).coef, gdfast.fit(X, y).coef)
    status, out, _ = run_cli(capsys, "evaluate", tmp_path / "npz.gdm", tmp_path / "r.npz")
    assert status == 0 and "R^2 0.9" in out


@pytest.mark.parametrize("case", ["missing file", "unknown format", "malformed line",
                                  "no label column", "option out of range", "bad option value",
                                  "missing folder", "not a model"])
def test_user_mistakes(files, tmp_path, capsys, case):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,4\n5,6,1\n")
    model = tmp_path / "out.gdm"
    args = {
        "missing file": ("train", tmp_path / "nope.csv", "--label", "label"),
        "unknown format": ("train", tmp_path / "data.xlsx", "--label", "label"),
        "malformed line": ("train", bad, "--label", "label", "--model", model),
        "no label column": ("train", files["t.csv"], "--label", "target", "--model", model),
        "option out of range": ("train", files["t.csv"], "--label", "label", "--alpha", "-1",
                                "--model", model),
        "bad option value": ("train", files["t.csv"], "--label", "label", "--optimizer",
                             "fastest", "--model", model),
        "missing folder": ("train", files["t.csv"], "--label", "label", "--model",
                           tmp_path / "no" / "m.gdm"),
        "not a model": ("predict", files["t.csv"], files["t.csv"]),
    }[case]
    expected = {"missing file": "no such file", "unknown format": "unknown format '.xlsx'",
                "malformed line": "line 3: expected 3 fields", "no label column":
                "no label column 'target'", "option out of range": "alpha",
                "bad option value": "optimizer", "missing folder": "no such folder",
                "not a model": "not a gdfast model"}[case]
    status, out, err = run_cli(capsys, *args)
    assert status == 2
    assert err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err and out == ""
    assert not model.exists()


def test_console_script_entry_point(files, tmp_path):
    """python -m gdfast is the same command line; a mistake is one line and status 2."""
    out = subprocess.run([sys.executable, "-m", "gdfast", "train", str(files["t.csv"]),
                          "--label", "nope"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert out.stderr.startswith("gdfast train: ")


def test_compare_draws_every_run(files, tmp_path, capsys):
    png = tmp_path / "cmp.png"
    status, out, err = run_cli(capsys, "compare", files["t.csv"], "--label", "label", "--loss",
                               "logistic", "--optimizers", "lbfgs,sgd,adam", "--learning-rates",
                               "0.01,0.1", "--max-epochs", "5", "--tol", "none", "--random-state",
                               "0", "--plot", png)
    assert status == 0, err
    rows = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert rows == ["lbfgs", "sgd", "sgd", "adam", "adam"]          # lbfgs takes no rate
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
    status, _, err = run_cli(capsys, "compare", files["t.csv"], "--label", "label",
                             "--optimizers", "warp", "--plot", tmp_path / "x.png")
    assert status == 2 and "optimizer" in err and not (tmp_path / "x.png").exists()
    status, _, err = run_cli(capsys, "compare", files["t.csv"], "--optimizers", "sgd",
                             "--plot", tmp_path / "x.png")
    assert status == 2 and "--label: the label column is required" in err


def test_validation_loss_uses_the_fits_epsilon(tmp_path, capsys):
    X, y, _, _ = make_regression(400, 3, random_state=4)
    np.savez(tmp_path / "r.npz", X=X, y=y)
    model = tmp_path / "h.gdm"
    status, _, err = run_cli(capsys, "train", tmp_path / "r.npz", "--label", "y", "--loss", "huber",
                             "--epsilon", "0.5", "--validation", "0.3", "--quiet", "--model", model)
    assert status == 0, err
    saved = gdfast.load(model)
    from gdfast._losses import row_loss_dz
    held = np.random.default_rng(0).random(400) < 0.3
    z = X[held] @ saved.coef + saved.intercept
    last = float(row_loss_dz("huber", z, y[held], 0.5)[0].mean())
    assert np.isclose(saved.validation_history[-1], last, rtol=1e-12)

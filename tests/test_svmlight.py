"""gdfast.io.read_svmlight, the native multithreaded parser, against scikit-learn's
load_svmlight_file on files that scikit-learn itself writes (zero- and one-based), and on
hand-written files with comments, qid, blank lines and Windows line ends: the same matrix and
labels exactly, for 1, 2 and 3 threads; malformed lines named by their number."""
import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")
datasets = pytest.importorskip("sklearn.datasets")

from gdfast import cli  # noqa: E402
from gdfast.io import DataError, read_svmlight, read_table  # noqa: E402


def _same(A, B):
    assert A.shape == B.shape
    assert (A != B).nnz == 0
    A, B = A.tocsr(), B.tocsr()
    assert np.array_equal(A.indptr, B.indptr) and np.array_equal(A.indices, B.indices)
    assert np.array_equal(A.data, B.data)


@pytest.mark.parametrize("zero_based", [True, False])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_matches_scikit_learn(tmp_path, zero_based, n_threads):
    rng = np.random.default_rng(0)
    X = sp.random(3000, 700, density=0.02, format="csr", random_state=1)
    X.data = rng.standard_normal(X.nnz) * 10.0 ** rng.integers(-8, 8, X.nnz)
    y = rng.integers(-1, 3, 3000).astype(float)
    path = tmp_path / "d.svm"
    datasets.dump_svmlight_file(X, y, str(path), zero_based=zero_based)
    ref, ref_y = datasets.load_svmlight_file(str(path))
    got, got_y = read_svmlight(path, n_threads=n_threads)
    _same(got, ref)
    assert np.array_equal(got_y, ref_y)
    assert got.indices.dtype == np.int32


def test_hand_written_file(tmp_path):
    text = ("# a comment line\r\n"
            "1 qid:3 1:0.5 3:2 # a comment after a row\r\n"
            "\r\n"
            "   \n"
            "-1 2:1e-3 7:-4.25\n"
            "0 qid:1\n"
            "2.5 4:1")                                   # no final line end
    path = tmp_path / "h.svm"
    path.write_bytes(text.encode())
    ref, ref_y = datasets.load_svmlight_file(str(path))
    for threads in (1, 2, 4):
        got, got_y = read_svmlight(path, n_threads=threads)
        _same(got, ref)
        assert np.array_equal(got_y, ref_y)
    got32, _ = read_svmlight(path, dtype=np.float32, n_features=10)
    assert got32.dtype == np.float32 and got32.shape == (4, 10)
    assert np.array_equal(got32.toarray(), ref.toarray().astype(np.float32)[:, :10]
                          if ref.shape[1] >= 10 else
                          np.pad(ref.toarray(), ((0, 0), (0, 10 - ref.shape[1])))
                          .astype(np.float32))


@pytest.mark.parametrize("text, line, what", [
    ("1 1:0.5\n2 x:1\n", 2, "index:value"),
    ("1 1:0.5\n\n# c\nabc 1:2\n", 4, "label"),
    ("1 1:0.5\n1 2:\n", 2, "number after index"),
    ("1 1:0.5\n1 -2:1\n", 2, "non-negative"),
])
def test_malformed_lines_are_named(tmp_path, text, line, what):
    path = tmp_path / "bad.svm"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"line {line}: .*{what}"):
        read_svmlight(path)


def test_widths_and_options(tmp_path):
    path = tmp_path / "w.svm"
    path.write_text("1 0:1 5:2\n0 3:1\n")
    X, _ = read_svmlight(path)                           # an index 0: zero-based
    assert X.shape == (2, 6)
    with pytest.raises(DataError, match="past n_features=4"):
        read_svmlight(path, n_features=4)
    with pytest.raises(DataError, match="index 0 in a one-based file"):
        read_svmlight(path, zero_based=False)
    with pytest.raises(ValueError, match="dtype"):
        read_svmlight(path, dtype=np.int32)
    with pytest.raises(FileNotFoundError):
        read_svmlight(tmp_path / "none.svm")
    t = read_table(path)
    assert t.X.shape == (2, 6) and list(t.y) == [1.0, 0.0]


def test_command_line_trains_on_svmlight(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = sp.random(500, 50, density=0.1, format="csr", random_state=3)
    y = (X @ rng.standard_normal(50) > 0).astype(int)
    path = tmp_path / "train.svm"
    datasets.dump_svmlight_file(X, y, str(path), zero_based=False)
    model = tmp_path / "m.gdm"
    assert cli.main(["train", str(path), "--label", "0", "--loss", "logistic", "--quiet",
                     "--model", str(model)]) == 0
    assert cli.main(["evaluate", str(model), str(path)]) == 0
    assert "accuracy" in capsys.readouterr().out

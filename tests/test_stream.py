"""Streamed fits (gdfast.io.open_stream / fit_stream, gdfast train --stream) on real files read
by the real readers: the chunks are the file's rows, shuffle=False gives gdfast.fit's
parameters bit for bit, full batch reaches its optimum, bad files fail before any fit with
the line or row named, the cache is removed however a fit ends, and memory stays bounded by
the chunk size."""
import os
import tracemalloc

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
sp = pytest.importorskip("scipy.sparse")

import gdfast  # noqa: E402
from conftest import run_cli  # noqa: E402
from gdfast import _api, _chunks, io  # noqa: E402
from gdfast._native import NativeEngine  # noqa: E402
from gdfast.datasets import make_classification  # noqa: E402

N = 2000


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(N, 5, random_state=3)
    city = np.array(["lima", "oslo", "rome", "kyiv"])[np.arange(N) * 7 % 4]
    return X, y, city


def _write_table(tmp_path, data, fmt, label_text=False):
    X, y, city = data
    labels = np.where(y == 1, "yes", "no") if label_text else y.astype(int)
    header = ["a", "b", "city", "c", "d", "e", "label"]
    cols = [X[:, 0], X[:, 1], city, X[:, 2], X[:, 3], X[:, 4], labels]
    if fmt == "parquet":
        path = tmp_path / "t.parquet"
        pq.write_table(pa.table(dict(zip(header, cols, strict=True))), path,
                       row_group_size=300)
        return path
    sep = "\t" if fmt == "tsv" else ","
    path = tmp_path / f"t.{fmt}"
    lines = [sep.join(header)] + [sep.join(str(c[i]) for c in cols) for i in range(N)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_svmlight(tmp_path, data, zero_based):
    from sklearn.datasets import dump_svmlight_file
    X, y, _ = data
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    path = tmp_path / f"t{int(zero_based)}.svm"
    dump_svmlight_file(Xs, y, str(path), zero_based=zero_based)
    return path


def _files(tmp_path, data):
    out = {fmt: _write_table(tmp_path, data, fmt) for fmt in ("csv", "tsv", "parquet")}
    out["svm1"] = _write_svmlight(tmp_path, data, False)
    out["svm0"] = _write_svmlight(tmp_path, data, True)
    X, y, _ = data
    out["npy"] = tmp_path / "t.npy"
    np.save(out["npy"], np.column_stack([X, y]))
    return out


def _label(name):
    return {"npy": -1, "svm0": None, "svm1": None}.get(name, "label")


@pytest.fixture
def files(tmp_path, data):
    return _files(tmp_path, data)


@pytest.mark.parametrize("name", ["csv", "tsv", "parquet", "svm1", "svm0", "npy"])
@pytest.mark.parametrize("chunk_rows", [1, 333, 5000])
def test_chunks_are_the_files_rows(files, name, chunk_rows):
    table = io.read_table(files[name], _label(name))
    with io.open_stream(files[name], _label(name), chunk_rows=chunk_rows) as s:
        assert s.n == N and s.d == table.X.shape[1]
        assert s.block_rows == [min(chunk_rows, N - a) for a in range(0, N, chunk_rows)]
        parts = [s.read(i) for i in range(len(s.block_rows))] if chunk_rows > 1 else \
            [s.read(i) for i in (0, 1, N - 1)]
        X = (sp.vstack([p[0] for p in parts]).tocsr() if s.sparse else
             np.concatenate([p[0] for p in parts]))
        y = np.concatenate([p[1] for p in parts])
        rows = slice(None) if chunk_rows > 1 else [0, 1, N - 1]
        ref_X = table.X[rows]
        if s.sparse:
            assert X.indices.dtype == ref_X.indices.dtype
            X, ref_X = X.toarray(), ref_X.toarray()
        assert np.array_equal(X, ref_X)
        assert np.array_equal(y, table.y[rows]) and y.dtype == table.y.dtype
        assert s.columns == table.columns and s.categories == table.categories
        cache = s.cache
    assert cache is None or not os.path.exists(cache)


@pytest.mark.parametrize("name", ["csv", "parquet", "svm1", "npy"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_unshuffled_stream_is_gdfast_fit_bit_for_bit(files, name, optimizer, n_threads):
    table = io.read_table(files[name], _label(name))
    opts = dict(loss="logistic", optimizer=optimizer, learning_rate=0.05, batch_size=32,
                shuffle=False, max_epochs=3, tol=None, n_threads=n_threads, average=10)
    ref = gdfast.fit(table.X, table.y, **opts)
    # 250 rows a chunk: rounded down to 224, whole batches
    res = io.fit_stream(files[name], _label(name), chunk_rows=250, **opts)
    assert np.array_equal(res.coef, ref.coef) and np.array_equal(res.intercept, ref.intercept)
    assert res.n_steps == ref.n_steps
    np.testing.assert_allclose(res.loss_history, ref.loss_history, rtol=1e-13)
    assert np.array_equal(res.classes, ref.classes)


def test_chunks_hold_whole_batches(files):
    """chunk_rows rounds down to a multiple of the batch size, 1024 included."""
    for bs, rows, want in ((1024, 1500, 1024), (1000, 1500, 1000), (32, 250, 224), (64, 10, 64)):
        with io.open_stream(files["npy"], -1, chunk_rows=rows, batch_size=bs) as s:
            assert s.chunk_rows == want
    table = io.read_table(files["npy"], -1)
    opts = dict(loss="logistic", optimizer="sgd", learning_rate=0.05, batch_size=1024,
                shuffle=False, max_epochs=2, tol=None)
    ref = gdfast.fit(table.X, table.y, **opts)
    res = io.fit_stream(files["npy"], -1, chunk_rows=1500, **opts)
    assert res.n_steps == ref.n_steps and np.array_equal(res.coef, ref.coef)


def test_unshuffled_multinomial_text_labels(tmp_path, data):
    path = _write_table(tmp_path, data, "csv", label_text=True)
    table = io.read_table(path, "label")
    opts = dict(loss="multinomial", optimizer="momentum", learning_rate=0.05, batch_size=16,
                shuffle=False, max_epochs=2)
    ref = gdfast.fit(table.X, table.y, **opts)
    res = io.fit_stream(path, "label", chunk_rows=100, **opts)
    assert list(res.classes) == ["no", "yes"]
    assert np.array_equal(res.coef, ref.coef) and np.array_equal(res.intercept, ref.intercept)


@pytest.mark.parametrize("name", ["csv", "svm1"])
@pytest.mark.parametrize("loss", ["logistic", "squared", "poisson"])
def test_default_full_batch_reaches_the_optimum(files, name, loss):
    table = io.read_table(files[name], _label(name))
    ref = gdfast.fit(table.X, table.y, loss=loss, tol=1e-10)    # 0/1 labels: poisson counts
    res = io.fit_stream(files[name], _label(name), chunk_rows=300, loss=loss, tol=1e-10)
    assert res.optimizer == ref.optimizer == "lbfgs"
    assert abs(res.loss_history[-1] - ref.loss_history[-1]) <= 1e-10 * abs(ref.loss_history[-1])


def test_shuffled_stream_is_reproducible_and_converges(files):
    table = io.read_table(files["csv"], "label")
    opts = dict(loss="logistic", optimizer="sgd", batch_size=16, max_epochs=30,
                random_state=5, alpha=1e-3)
    with io.open_stream(files["csv"], "label", chunk_rows=256, batch_size=16) as s:
        a = io.fit_stream(s, **opts)
        b = io.fit_stream(s, **opts)
        c = io.fit_stream(s, **dict(opts, random_state=6))
    assert np.array_equal(a.coef, b.coef) and np.array_equal(a.loss_history, b.loss_history)
    assert not np.array_equal(a.coef, c.coef)
    # unshuffled differs too: the chunks were visited in another order
    d = io.fit_stream(files["csv"], "label", chunk_rows=256, **dict(opts, shuffle=False))
    assert not np.array_equal(a.coef, d.coef)
    best = gdfast.fit(table.X, table.y, loss="logistic", alpha=1e-3, tol=1e-10)
    assert a.loss_history[-1] - best.loss_history[-1] <= 1e-3 * best.loss_history[-1]


def test_chunk_order_is_a_permutation_each_epoch(files):
    """Each shuffled epoch visits every chunk once, in an order that changes."""
    from gdfast import _stream
    seen = []

    class Recording(_stream.StreamProblem):
        def block(self, i):
            seen.append(i)
            return super().block(i)

    with io.open_stream(files["npy"], -1, chunk_rows=200) as s:
        _api.run_fit(_stream.StreamEngine, None, None,
                     dict(loss="logistic", optimizer="sgd", batch_size=8, max_epochs=3,
                          learning_rate=0.01, tol=None, random_state=0),
                     load=lambda loss, classes: Recording(s, loss, classes))
    epochs = [seen[-30:-20], seen[-20:-10], seen[-10:]]
    for e in epochs:
        assert sorted(e) == list(range(10))
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]


def test_progress_reports_do_not_change_the_parameters(data):
    X, y, _ = data
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    for A in (X, Xs):
        opts = dict(loss="logistic", optimizer="adam", learning_rate=0.01, batch_size=8,
                    max_epochs=2, random_state=1, tol=None)
        ref = gdfast.fit(A, y, **opts)
        calls = []
        res = _api.run_fit(NativeEngine, A, y, dict(opts), progress=lambda done, total, c=calls:
                           c.append((done, total)))
        assert np.array_equal(res.coef, ref.coef) and res.intercept == ref.intercept
        np.testing.assert_allclose(res.loss_history, ref.loss_history, rtol=1e-12)
        # about 50 reports an epoch, rising to the epoch's rows
        done = [c[0] for c in calls]
        assert {c[1] for c in calls} == {N} and done.count(N) == 2 and len(calls) >= 80
        assert all(0 < a < b or b == N or a == N for a, b in zip(done, done[1:], strict=False))


@pytest.mark.parametrize("block", [64, 200, 4096])
def test_blocks_cut_at_line_ends_outside_quotes(tmp_path, monkeypatch, block):
    """Text fields holding the delimiter, quotes and line ends, lines longer than a block:
    the chunks are read_table's rows whatever the block size."""
    monkeypatch.setattr(_chunks, "TEXT_BLOCK", block)
    monkeypatch.setattr(_chunks, "SCHEMA_BYTES", block)
    notes = ['"a,b"', '"two\nlines"', '"say ""hi"""', 'plain', '"x\n\n""y"""']
    lines = ["v,note,w,label"] + [f"{i}.5,{notes[i % 5]},{'7' * (i % 90)}0,{i % 2}"
                                  for i in range(400)]
    path = tmp_path / "q.csv"
    path.write_text("\n".join(lines) + "\n")
    table = io.read_table(path, "label")
    assert len(table.categories["note"]) == 5
    with io.open_stream(path, "label", chunk_rows=37) as s:
        X = np.concatenate([s.read(i)[0] for i in range(len(s.block_rows))])
        y = np.concatenate([s.labels(i) for i in range(len(s.block_rows))])
        assert s.columns == table.columns
    assert np.array_equal(X, table.X) and np.array_equal(y, table.y)

    svm = tmp_path / "long.svm"
    svm.write_text("".join(f"{i % 2} " + " ".join(f"{j}:{i}.{j}" for j in range(1, 3 + i % 30))
                           + "\n" for i in range(300)))
    Xm, ym = io.read_svmlight(svm)
    with io.open_stream(svm, None, chunk_rows=37) as s:
        Xs = sp.vstack([s.read(i)[0] for i in range(len(s.block_rows))])
    assert (Xs != Xm).nnz == 0 and Xs.shape == Xm.shape


def test_a_quote_inside_a_field_is_a_character(tmp_path, monkeypatch):
    """12" pipe: a quote that opens no field, as pyarrow reads it; the pass does not wait for
    it to close (the block stops growing at four times its size)."""
    monkeypatch.setattr(_chunks, "TEXT_BLOCK", 64)
    monkeypatch.setattr(_chunks, "SCHEMA_BYTES", 64)
    lines = ["v,part,label"] + [f"{i}.5,{i % 7}\" pipe,{i % 2}" for i in range(500)]
    path = tmp_path / "inch.csv"
    path.write_text("\n".join(lines) + "\n")
    table = io.read_table(path, "label")
    with io.open_stream(path, "label", chunk_rows=100) as s:
        X = np.concatenate([s.read(i)[0] for i in range(len(s.block_rows))])
        assert s.columns == table.columns
    assert np.array_equal(X, table.X)


# -- bad files: one message naming the line or row, before any fit; the cache removed ------

def _cache_dirs(folder):
    return [p for p in os.listdir(folder) if p.startswith("gdfast-stream-")]


def test_malformed_svmlight_line_past_the_first_block(tmp_path, monkeypatch):
    monkeypatch.setattr(_chunks, "TEXT_BLOCK", 4096)
    lines = [f"{i % 2} 1:{i}.5 3:2" for i in range(3000)]
    lines[2500] = "1 1:2 x:oops"
    path = tmp_path / "bad.svm"
    path.write_text("# a comment\n" + "\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(io.DataError, match=r"line 2502: "):
        io.open_stream(path, None, chunk_rows=100, cache_dir=cache)
    assert _cache_dirs(cache) == []


@pytest.mark.parametrize("bad, message", [
    ("1.0,2.0,abc,1", r"line 1502: column 'c' holds 'abc' where the file's first 4 MiB hold "
                      r"numbers"),
    ("1.0,2.0", r"line 1502: expected 4 fields"),
    ("1.0,,3.0,1", r"column 'b' has no value at data row 1501"),
    ("1.0,nan,3.0,1", r"column 'b' has no value at data row 1501"),   # pyarrow: NaN is missing
    ("1.0,inf,3.0,1", r"column 'b' is not finite at data row 1501"),
])
def test_bad_csv_row_late_in_the_file(tmp_path, monkeypatch, bad, message):
    monkeypatch.setattr(_chunks, "TEXT_BLOCK", 4096)
    monkeypatch.setattr(_chunks, "SCHEMA_BYTES", 4096)
    lines = ["a,b,c,label"] + [f"{i}.5,{i}.25,1.0,{i % 2}" for i in range(3000)]
    lines[1501] = bad
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(io.DataError, match=message):
        io.open_stream(path, "label", chunk_rows=100, cache_dir=cache)
    assert _cache_dirs(cache) == []


def test_non_finite_svmlight_values_named_by_line(tmp_path):
    path = tmp_path / "nan.svm"
    path.write_text("# head\n1 1:2\n\n0 2:1\n# note\nnan 1:1\n")
    with pytest.raises(io.DataError, match=r"line 6: a label is not finite"):
        io.open_stream(path, None)
    path.write_text("1 1:2\n# note\n\n0 2:inf\n")
    with pytest.raises(io.DataError, match=r"line 4: a value is not finite"):
        io.open_stream(path, None)


def test_refusals(tmp_path, files):
    np.savez(tmp_path / "t.npz", X=np.ones((3, 2)), y=np.ones(3))
    with pytest.raises(io.DataError, match="cannot be streamed"):
        io.open_stream(tmp_path / "t.npz", "y")
    with pytest.raises(FileNotFoundError):
        io.open_stream(tmp_path / "none.csv", "label")
    with pytest.raises(io.DataError, match="no label column 'nope'"):
        io.open_stream(files["csv"], "nope")
    with pytest.raises(ValueError, match="label: expected the label column"):
        io.open_stream(files["csv"], None)
    with pytest.raises(ValueError, match="chunk_rows"):
        io.open_stream(files["csv"], "label", chunk_rows=0)
    with pytest.raises(ValueError, match="sample_weight"):
        io.fit_stream(files["csv"], "label", sample_weight=np.ones(N))
    with pytest.raises(ValueError, match="open StreamedFile has its own"):
        with io.open_stream(files["npy"], -1) as s:
            io.fit_stream(s, "label")
    s = io.open_stream(files["csv"], "label")
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.read(0)


def test_cache_removed_when_the_fit_fails(files, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(ValueError, match="learning_rate"):
        io.fit_stream(files["csv"], "label", cache_dir=cache, learning_rate=-1.0)
    assert _cache_dirs(cache) == []


# -- memory ------------------------------------------------------------------------------

def test_memory_is_bounded_by_the_chunk_not_the_file(tmp_path):
    """A 16 MB .npy file streamed in chunks of 4096 rows (1.6 MB): the allocations numpy
    makes during the fit (tracemalloc sees them) stay within a few chunks."""
    rng = np.random.default_rng(0)
    n, d = 40_000, 49
    A = rng.normal(size=(n, d + 1))
    A[:, -1] = A[:, 0] > 0
    path = tmp_path / "big.npy"
    np.save(path, A)
    del A
    chunk_bytes = 4096 * (d + 1) * 8
    tracemalloc.start()
    try:
        res = io.fit_stream(path, -1, chunk_rows=4096, loss="logistic", optimizer="sgd",
                            batch_size=64, max_epochs=2, learning_rate=0.01, tol=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.n_epochs == 2
    assert peak < 4 * chunk_bytes < os.path.getsize(path) / 2, (peak, chunk_bytes)


# -- the command line --------------------------------------------------------------------

def test_train_stream_equals_train_in_memory(files, tmp_path, capsys):
    opts = ["--loss", "logistic", "--optimizer", "adam", "--learning-rate", "0.01",
            "--batch-size", "32", "--shuffle", "false", "--max-epochs", "3"]
    val = tmp_path / "val.csv"
    val.write_text("\n".join(files["csv"].read_text().splitlines()[:301]) + "\n")
    a, b = tmp_path / "a.gdm", tmp_path / "b.gdm"
    s1, out1, _ = run_cli(capsys, "train", files["csv"], "--label", "label", *opts,
                          "--validation", val, "--model", a)
    s2, out2, _ = run_cli(capsys, "train", files["csv"], "--label", "label", *opts,
                          "--validation", val, "--model", b, "--stream", "--chunk-rows", "500")
    assert s1 == s2 == 0
    ma, mb = gdfast.load(a), gdfast.load(b)
    assert np.array_equal(ma.coef, mb.coef) and ma.metadata == mb.metadata
    np.testing.assert_allclose(ma.validation_history, mb.validation_history, rtol=1e-12)
    assert np.isfinite(mb.validation_history).all()
    assert out1.splitlines()[0] == out2.splitlines()[0]
    # the streamed model predicts on the file as gdfast predict reads it
    s3, out3, _ = run_cli(capsys, "predict", b, val)
    assert s3 == 0 and len(out3.splitlines()) == 301


def test_train_stream_a_folder_and_a_cache_dir(files, tmp_path, capsys):
    folder = tmp_path / "d.svm"
    folder.mkdir()
    status, _, err = run_cli(capsys, "train", folder, "--stream")
    assert status == 2 and len(err.splitlines()) == 1 and "d.svm" in err, err
    status, _, err = run_cli(capsys, "train", folder)
    assert status == 2 and len(err.splitlines()) == 1, err
    cache = tmp_path / "cache"
    cache.mkdir()
    status, _, err = run_cli(capsys, "train", files["svm1"], "--stream", "--cache-dir", cache,
                             "--max-epochs", "2", "--quiet")
    assert status == 0, err
    assert os.listdir(cache) == []


def test_train_stream_svmlight_without_label(files, tmp_path, capsys):
    status, out, err = run_cli(capsys, "train", files["svm1"], "--stream", "--loss", "logistic",
                               "--max-epochs", "5", "--model", tmp_path / "m.gdm")
    assert status == 0, err
    assert gdfast.load(tmp_path / "m.gdm").coef.shape == (5,)


@pytest.mark.parametrize("argv, message", [
    (["--stream", "--label", "label", "--validation", "0.2"], "--validation: with --stream"),
    (["--label", "label", "--chunk-rows", "10"], "--chunk-rows: only with --stream"),
    (["--stream", "--label", "nope"], "no label column 'nope'"),
    (["--stream"], "--label: the label column is required"),
    (["--stream", "--label", "label", "--validation", "nofile.csv"], "nofile.csv: no such file"),
    (["--stream", "--label", "label", "--chunk-rows", "0"], "chunk_rows"),
    (["--label", "label", "--cache-dir", "."], "--cache-dir: only with --stream"),
    (["--stream", "--label", "label", "--cache-dir", "nodir"], "cache_dir: no such folder"),
    (["--label", "label", "--validation", "nofile.csv"], "nofile.csv: no such file"),
])
def test_train_stream_mistakes(files, tmp_path, capsys, argv, message):
    model = tmp_path / "m.gdm"
    status, out, err = run_cli(capsys, "train", files["csv"], *argv, "--model", model)
    assert status == 2 and message in err and len(err.splitlines()) == 1, err
    assert not model.exists()

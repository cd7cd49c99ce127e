"""gdfast.dask on a real distributed.LocalCluster (2 worker processes x 1 thread): the
full-batch fit against gdfast.fit on the concatenated rows, the same bits on any cluster,
parameter mixing, DataFrame, sparse and edge-case chunkings, predictions, bad blocks, a worker
killed mid-fit, and data larger than the workers' memory streamed.

Tolerances.  A full-batch step here differs from gdfast.fit's only in the order in which the
gradient's row sums are added (per block, then in the tree); after 20 epochs the parameters
agree to 1e-12 relative in float64 (measured: at most a few 1e-15) and 1e-5 in float32 (a few
hundred eps).  Where both sides do the same arithmetic (one block in mixing, the same chunking
on another scheduler) the check is bitwise.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
sp = pytest.importorskip("scipy.sparse")

import gdfast  # noqa: E402
import gdfast.dask as gdd  # noqa: E402
from conftest import LOSSES, make_problem, rel_err  # noqa: E402

TOL = {np.float64: 1e-12, np.float32: 1e-5}
# a first-order full-batch step per loss that is stable on make_problem's data
FULL = dict(optimizer="nesterov", learning_rate=0.05, batch_size=None, max_epochs=20,
            tol=None, alpha=1e-3)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def chunked(X, y, rows):
    """X and y as dask arrays with the given row chunks (a CSR X keeps CSR chunks)."""
    rows = tuple(rows)
    if sp.issparse(X):
        Xd = da.from_array(X, chunks=(rows, X.shape[1]), asarray=False)
    else:
        Xd = da.from_array(X, chunks=(rows, X.shape[1]))
    return Xd, da.from_array(np.asarray(y), chunks=(rows,))


def params(res):
    return np.concatenate([np.ravel(res.coef), np.ravel(res.intercept)])


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
def test_full_batch_matches_fit(client, loss, dtype, sparse):
    X, y = make_problem(loss, n=300, d=6, dtype=dtype)
    if sparse:
        X[np.abs(X) < 0.6] = 0
        X = sp.csr_matrix(X)
    Xd, yd = chunked(X, y, (70, 80, 50, 100))
    ref = gdfast.fit(X, y, loss=loss, **FULL)
    res = gdd.fit(Xd, yd, loss=loss, **FULL)
    assert res.coef.dtype == dtype
    assert res.n_epochs == 20 and res.optimizer == "nesterov"
    assert rel_err(params(res), params(ref)) <= TOL[dtype]
    assert rel_err(res.loss_history, ref.loss_history) <= TOL[dtype]
    if ref.classes is not None:
        assert list(res.classes) == list(ref.classes)


@pytest.mark.parametrize("loss", ["logistic", "multinomial", "poisson", "squared"])
def test_defaults_reach_the_optimum_of_fit(client, loss):
    """The defaults (lbfgs for these losses) on 3 blocks: the optimum gdfast.fit reaches."""
    X, y = make_problem(loss, n=400, d=6)
    Xd, yd = chunked(X, y, (150, 150, 100))
    ref = gdfast.fit(X, y, loss=loss)
    res = gdd.fit(Xd, yd, loss=loss)
    assert res.optimizer == ref.optimizer == "lbfgs" and res.converged
    assert abs(res.loss_history[-1] - ref.loss_history[-1]) <= 1e-10 * ref.loss_history[-1]
    assert rel_err(params(res), params(ref)) <= 1e-5


@pytest.mark.parametrize("opts", [dict(l1_ratio=0.5), dict(optimizer="adam", l1_ratio=1.0),
                                  dict(clip_norm=0.05), dict(average=3, optimizer="sgd"),
                                  dict(fit_intercept=False, optimizer="adamw")])
def test_full_batch_penalties_and_options(client, opts):
    X, y = make_problem("logistic", n=300, d=6)
    Xd, yd = chunked(X, y, (100, 120, 80))
    kw = dict(FULL, **opts)
    if kw["optimizer"] != "nesterov":
        kw["learning_rate"] = 0.02
    ref = gdfast.fit(X, y, loss="logistic", **kw)
    res = gdd.fit(Xd, yd, loss="logistic", **kw)
    assert rel_err(params(res), params(ref)) <= 1e-12
    if opts.get("l1_ratio"):
        assert np.array_equal(res.coef == 0, ref.coef == 0)


def test_same_bits_on_any_scheduler(client):
    """The same chunking gives the same bits on the cluster and on dask's local scheduler,
    full batch and mixed."""
    X, y = make_problem("logistic", n=500, d=5)
    Xd, yd = chunked(X, y, (120, 130, 250))
    for opts in (FULL, dict(optimizer="adam", learning_rate=0.01, batch_size=16,
                            max_epochs=3, tol=None, random_state=3)):
        on_cluster = gdd.fit(Xd, yd, loss="logistic", **opts)
        with dask.config.set(scheduler="synchronous"):
            local = gdd.fit(Xd, yd, loss="logistic", **opts)
        assert np.array_equal(params(on_cluster), params(local))
        assert np.array_equal(on_cluster.loss_history, local.loss_history)


@pytest.mark.parametrize("sparse", [False, True])
def test_one_block_mixing_is_fit(client, sparse):
    """Parameter mixing on a single block is gdfast.fit's epoch: the same bits."""
    X, y = make_problem("logistic", n=200, d=6)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) < 0.6, 0, X))
    Xd, yd = chunked(X, y, (200,))
    opts = dict(optimizer="adam", learning_rate=0.01, batch_size=8, max_epochs=4, tol=None,
                random_state=5, alpha=1e-3)
    ref = gdfast.fit(X, y, loss="logistic", **opts)
    res = gdd.fit(Xd, yd, loss="logistic", **opts)
    assert np.array_equal(params(res), params(ref))
    assert np.array_equal(res.loss_history, ref.loss_history)
    assert res.n_steps == ref.n_steps


@pytest.mark.parametrize("sync_every", [None, 3])
def test_mixing_converges_and_is_reproducible(client, sync_every):
    X, y = make_problem("squared", n=800, d=5)
    Xd, yd = chunked(X, y, (200, 200, 250, 150))
    opts = dict(optimizer="sgd", learning_rate=0.05, batch_size=10, max_epochs=10, tol=None,
                random_state=1, sync_every=sync_every)
    a = gdd.fit(Xd, yd, loss="squared", **opts)
    b = gdd.fit(Xd, yd, loss="squared", **opts)
    assert np.array_equal(params(a), params(b))
    best = gdfast.fit(X, y, loss="squared")
    assert rel_err(params(a), params(best)) < 0.05
    # rounds of a whole pass, or of 3 steps of each block: t counts the longest block's 25
    # steps an epoch
    assert a.n_steps == 10 * 25


def test_dataframe_input(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_problem("logistic", n=300, d=4)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)]).assign(label=y)
    ddf = dd.from_pandas(frame, npartitions=3)
    res = gdd.fit(ddf[[f"f{i}" for i in range(4)]], ddf["label"], loss="logistic", **FULL)
    ref = gdfast.fit(X, y, loss="logistic", **FULL)
    assert rel_err(params(res), params(ref)) <= 1e-12
    pred = res.predict(ddf[[f"f{i}" for i in range(4)]])
    assert np.array_equal(pred.compute(), ref.predict(X))


def test_dataframe_with_text_column_is_refused(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "city": ["x", "y", "z"]})
    with pytest.raises(ValueError, match="X: expected numeric columns.*city"):
        gdd.fit(dd.from_pandas(frame, npartitions=1), da.from_array(np.array([0, 1, 0])),
                loss="logistic")


@pytest.mark.parametrize("rows", [(300,), (1,) * 40 + (260,), (100, 0, 200), (7, 293),
                                  (150, 0, 0, 150)], ids=["one", "one-row", "empty",
                                                          "uneven", "two-empty"])
def test_edge_chunkings(client, rows):
    X, y = make_problem("multinomial", n=300, d=5)
    Xd, yd = chunked(X, y, rows)
    ref = gdfast.fit(X, y, loss="multinomial", **FULL)
    res = gdd.fit(Xd, yd, loss="multinomial", **FULL)
    assert rel_err(params(res), params(ref)) <= 1e-12
    mixed = gdd.fit(Xd, yd, loss="multinomial", optimizer="sgd", learning_rate=0.05,
                    batch_size=4, max_epochs=2, tol=None, random_state=0)
    assert np.isfinite(params(mixed)).all()
    assert mixed.n_epochs == 2


def test_sample_weight_and_float32(client):
    X, y = make_problem("logistic", n=300, d=5, dtype=np.float32)
    sw = np.random.default_rng(0).uniform(0, 2, 300)
    Xd, yd = chunked(X, y, (100, 200))
    swd = da.from_array(sw, chunks=50)                 # rechunked to X's rows
    ref = gdfast.fit(X, y, loss="logistic", sample_weight=sw, **FULL)
    res = gdd.fit(Xd, yd, loss="logistic", sample_weight=swd, **FULL)
    assert res.coef.dtype == np.float32
    assert rel_err(params(res), params(ref)) <= TOL[np.float32]


def test_predictions_are_lazy_and_equal(client):
    X, y = make_problem("multinomial", n=300, d=5)
    Xd, yd = chunked(X, y, (100, 100, 100))
    res = gdd.fit(Xd, yd, loss="multinomial")
    for name in ("predict", "predict_proba", "decision_function"):
        lazy = getattr(res, name)(Xd)
        assert isinstance(lazy, da.Array)
        assert np.array_equal(lazy.compute(), getattr(res, name)(X))
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.6, 0, X))
    Xsd, _ = chunked(Xs, y, (150, 150))
    assert np.array_equal(res.predict(Xsd).compute(), res.predict(Xs))


def test_bad_block_is_named(client):
    X, y = make_problem("squared", n=300, d=4)
    X[250, 2] = np.nan
    Xd, yd = chunked(X, y, (100, 100, 100))
    with pytest.raises(ValueError, match=r"block 2 \(rows 200 to 299\).*X.*(NaN|finite)"):
        gdd.fit(Xd, yd)
    with pytest.raises(ValueError, match="binary"):
        Xd, yd = chunked(*make_problem("multinomial", n=300, d=4), (150, 150))
        gdd.fit(Xd, yd, loss="logistic")
    with pytest.raises(ValueError, match="sync_every"):
        gdd.fit(Xd, yd, loss="multinomial", sync_every=0)
    with pytest.raises(ValueError, match="persist"):
        gdd.fit(Xd, yd, loss="multinomial", persist="sometimes")
    with pytest.raises(ValueError, match="inconsistent lengths"):
        gdd.fit(Xd, yd[:-1], loss="multinomial")


def test_worker_killed_mid_fit(client):
    """SIGKILL to a worker process mid-fit: the lost blocks are recomputed from their
    graph, and the fit completes with the same parameters as an undisturbed one."""
    X, y = make_problem("logistic", n=4000, d=8)
    Xd, yd = chunked(X, y, (500,) * 8)
    opts = dict(FULL, max_epochs=60)
    calm = gdd.fit(Xd, yd, loss="logistic", **opts)
    epochs = []

    def on_epoch(record):
        epochs.append(record["epoch"])
        time.sleep(0.02)                               # leave room for the kill

    out = {}
    runner = threading.Thread(target=lambda: out.setdefault(
        "res", gdd.fit(Xd, yd, loss="logistic", callback=on_epoch, **opts)))
    runner.start()
    deadline = time.monotonic() + 60
    while len(epochs) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=300)                           # a bound to catch a hang only
    assert not runner.is_alive()
    assert len(epochs) > 5 and epochs[-1] == 60
    assert np.array_equal(params(out["res"]), params(calm))
    client.wait_for_workers(2, timeout=60)


def _held_bytes(dask_worker):
    return int(dask_worker.state.nbytes)


def test_larger_than_memory_streams():
    """An array built by a graph, larger than the workers' memory limits together, trains
    with persist="auto" choosing to stream its blocks: between passes the workers hold
    less than two of its chunks.  The workers' pause and restart thresholds are off: they
    act on the whole process's memory, whose baseline (the interpreter and its libraries)
    varies by host, and a paused worker would stall the test rather than fail it."""
    rows, d, chunk = 2_500_000, 40, 100_000     # 800 MB of float64 against 2 x 300 MiB
    off = {f"distributed.worker.memory.{k}": False
           for k in ("target", "spill", "pause", "terminate")}
    with dask.config.set(off), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     memory_limit="300MiB", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        rs = da.random.RandomState(0)
        X = rs.standard_normal((rows, d), chunks=(chunk, d))
        w = np.linspace(-1, 1, d)
        y = (X @ w + rs.standard_normal(rows, chunks=chunk) > 0).astype(int)
        held = []
        res = gdd.fit(X, y, loss="logistic", optimizer="sgd", learning_rate=1.0,
                      batch_size=None, max_epochs=3, tol=None,
                      callback=lambda rec: held.append(max(c.run(_held_bytes).values())))
        assert res.n_epochs == 3 and len(held) == 3
        assert max(held) < 2 * chunk * d * 8
        assert np.corrcoef(res.coef, w)[0, 1] > 0.9


@pytest.mark.parametrize("multi_class", ["binary", "multinomial", "ovr"])
def test_classifier_on_dask(client, multi_class):
    from gdfast import GDClassifier
    loss = "logistic" if multi_class == "binary" else "multinomial"
    X, y = make_problem(loss, n=300, d=5)
    Xd, yd = chunked(X, y, (100, 120, 80))
    opts = dict(alpha=1e-3, class_weight="balanced", random_state=0,
                multi_class="ovr" if multi_class == "ovr" else "auto")
    mem = GDClassifier(**opts).fit(X, y)
    est = GDClassifier(**opts).fit(Xd, yd)
    assert list(est.classes_) == list(mem.classes_)
    assert est.coef_.shape == mem.coef_.shape
    assert rel_err(est.coef_, mem.coef_) <= 1e-6
    for name in ("predict", "predict_proba", "decision_function"):
        lazy = getattr(est, name)(Xd)
        assert isinstance(lazy, da.Array)
        assert np.array_equal(lazy.compute(), getattr(est, name)(X))
    assert est.optimizer_ == mem.optimizer_ and est.n_iter_ >= 1


def test_regressor_on_dask_with_weights(client):
    from gdfast import GDRegressor
    X, y = make_problem("poisson", n=300, d=5)
    sw = np.random.default_rng(1).uniform(0, 3, 300)
    Xd, yd = chunked(X, y, (150, 150))
    mem = GDRegressor(loss="poisson", alpha=1e-3).fit(X, y, sample_weight=sw)
    est = GDRegressor(loss="poisson", alpha=1e-3).fit(
        Xd, yd, sample_weight=da.from_array(sw, chunks=150))
    assert rel_err(est.coef_, mem.coef_) <= 1e-6
    assert np.allclose(est.predict(Xd).compute(), mem.predict(X), rtol=1e-6)


@pytest.mark.parametrize("loss", ["multinomial", "squared"])
def test_early_stopping_on_dask(client, loss):
    """A held-out part of every block: the fit stops when its loss stops improving and keeps
    the best epoch's parameters; the same split and result on a second run."""
    from gdfast import GDClassifier, GDRegressor
    X, y = make_problem(loss, n=600, d=5)
    Xd, yd = chunked(X, y, (200, 150, 250))
    cls = GDClassifier if loss == "multinomial" else GDRegressor
    opts = dict(early_stopping=True, validation_fraction=0.2, optimizer="sgd",
                learning_rate=0.3, batch_size=8, max_epochs=60, n_iter_no_change=3,
                tol=1e-4, random_state=0)
    est = cls(**opts).fit(Xd, yd)
    again = cls(**opts).fit(Xd, yd)
    curve = est.validation_loss_curve_
    assert len(curve) == est.n_iter_ < 60
    assert np.array_equal(est.coef_, again.coef_)
    # the kept parameters are the best epoch's, not the last one's
    best = int(np.argmin(curve))
    assert best < len(curve) - 1 or len(curve) == 60
    assert est.score(X, y) > 0.5


def test_estimator_refusals_on_dask(client):
    from gdfast import GDClassifier
    X, y = make_problem("logistic", n=100, d=3)
    Xd, yd = chunked(X, y, (50, 50))
    with pytest.raises(TypeError, match="partial_fit"):
        GDClassifier().partial_fit(Xd, yd, classes=np.unique(y))


def test_unrecoverable_block_is_named():
    """Blocks scattered from the client have no graph to recompute them from: when their
    worker dies the fit fails with an error that names them, within a bound (no hang)."""
    from gdfast._dask.data import BlockLostError
    X, y = make_problem("logistic", n=4000, d=8)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        rows = 500
        futures = c.scatter([X[i:i + rows] for i in range(0, 4000, rows)])
        Xd = da.concatenate([da.from_delayed(f, shape=(rows, 8), dtype=X.dtype)
                             for f in futures])
        yd = da.from_array(y, chunks=rows)
        victim = sorted(c.run(os.getpid).values())[0]
        errors = []

        def on_epoch(record):
            if record["epoch"] == 3:
                os.kill(victim, signal.SIGKILL)
            time.sleep(0.02)

        def run():
            try:
                gdd.fit(Xd, yd, loss="logistic", callback=on_epoch, **dict(FULL, max_epochs=40))
            except Exception as exc:                   # noqa: BLE001 - inspected below
                errors.append(exc)

        runner = threading.Thread(target=run)
        runner.start()
        runner.join(timeout=120)                       # a bound to catch a hang only
        assert not runner.is_alive()
        assert len(errors) == 1
        assert isinstance(errors[0], BlockLostError), repr(errors[0])
        assert re.search(r"block\(s\) \d+ \(rows \d+ to \d+\)", str(errors[0]))


def test_demo_on_dask():
    out = subprocess.run([sys.executable, "-m", "gdfast", "demo", "--dask", "--n-samples",
                          "4000", "--n-features", "10", "--epochs", "3"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "LocalCluster of 2 worker processes" in lines[0]
    rows = [line.split() for line in lines if line.split()[:1] in (["auto"], ["adam"], ["sgd"])]
    assert len(rows) == 3
    assert rows[0][-1] == "yes"                    # the defaults: the in-process fit's loss


def test_early_stopping_with_other_chunks_and_zero_weights(client):
    """y in memory and weights chunked otherwise are aligned to X's blocks before the split;
    a block whose held-out rows weigh nothing adds nothing to the held-out loss."""
    from gdfast import GDClassifier
    X, y = make_problem("logistic", n=600, d=4)
    sw = np.ones(600)
    sw[:200] = 0.0                                     # the first block weighs nothing
    Xd = da.from_array(X, chunks=(200, 4))
    est = GDClassifier(early_stopping=True, validation_fraction=0.2, optimizer="sgd",
                       learning_rate=0.1, batch_size=16, max_epochs=20, random_state=0)
    est.fit(Xd, y, sample_weight=da.from_array(sw, chunks=150))
    assert np.isfinite(est.validation_loss_curve_).all()
    assert est.n_iter_ == len(est.validation_loss_curve_)


def _broken(block):
    raise OSError("the source file is gone")


def test_errors_of_the_users_graph_are_not_lost_blocks(client):
    from gdfast._dask.data import BlockLostError
    X, y = make_problem("squared", n=300, d=4)
    Xd, yd = chunked(X, y, (150, 150))
    with pytest.raises(OSError, match="source file is gone") as info:
        gdd.fit(Xd.map_blocks(_broken, dtype=X.dtype), yd, **FULL)
    assert not isinstance(info.value, BlockLostError)


def test_predictions_dtype_and_released_blocks(client):
    X, y = make_problem("logistic", n=300, d=4)
    Xd, yd = chunked(X.astype(np.float32), y, (150, 150))
    res = gdd.fit(Xd, yd, loss="logistic", **FULL)
    assert res.coef.dtype == np.float32
    lazy = res.decision_function(da.from_array(X, chunks=(150, 4)))     # float64 X
    assert lazy.dtype == lazy.compute().dtype == np.float64
    # the validated blocks held for the fit are released once it ends
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        held = client.run(lambda dask_worker: [k for k in dask_worker.data
                                               if "prepare" in str(k)])
        if not any(held.values()):
            break
        time.sleep(0.1)
    assert not any(held.values())


def test_continuous_y_is_refused_by_the_classifier(client):
    from gdfast import GDClassifier
    X, y = make_problem("squared", n=100, d=3)
    Xd, yd = chunked(X, y, (50, 50))
    with pytest.raises(ValueError, match="[Uu]nknown label type|continuous"):
        GDClassifier().fit(Xd, yd)

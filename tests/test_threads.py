"""Thread-count independence and thread-count resolution (issue #2)."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import gdfast
from conftest import LOSSES, OPTIMIZERS, TEST_LR, make_problem
from gdfast import _options, _testing


def fits(X, y, threads, **kw):
    return [gdfast.fit(X, y, n_threads=t, **kw) for t in threads]


def assert_identical(results):
    first = results[0]
    for r in results[1:]:
        np.testing.assert_array_equal(r.coef, first.coef)
        np.testing.assert_array_equal(r.intercept, first.intercept)
        np.testing.assert_array_equal(r.loss_history, first.loss_history)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
@pytest.mark.parametrize("batch_size", [1, 16, None])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", LOSSES)
def test_bitwise_identical_for_1_2_3_threads(loss, optimizer, batch_size, dtype, small_blocks):
    X, y = make_problem(loss, n=90, dtype=dtype)
    assert_identical(fits(X, y, (1, 2, 3), loss=loss, optimizer=optimizer,
                          learning_rate=TEST_LR[optimizer], batch_size=batch_size,
                          max_epochs=3, tol=None, alpha=1e-3, l1_ratio=0.2, random_state=0))


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "in_order"])
@pytest.mark.parametrize("batch_size", [32, 256, None])
@pytest.mark.parametrize("loss", ["logistic", "multinomial"])
def test_bitwise_identical_with_the_shipped_layout(loss, batch_size, shuffle):
    """Large enough that the shipped thresholds open threads and cut batches into 16-row
    blocks: batch 32 has two (one thread's share each, the arrival flags), so 3 threads are
    capped at 2; logistic rows in order with batch 32 stay on one thread (short shares) while
    multinomial ones (four times the work a row) and batch 256 open two."""
    X, y = make_problem(loss, n=6000, d=160, n_classes=4)
    assert_identical(fits(X, y, (1, 2, 3), loss=loss, optimizer="adam", learning_rate=1e-3,
                          batch_size=batch_size, max_epochs=2, tol=None, random_state=0,
                          shuffle=shuffle))


def test_n_threads_resolution():
    m = gdfast._kernels.max_threads()
    assert gdfast.effective_n_threads(None) == (m if gdfast.openmp_enabled() else 1)
    if gdfast.openmp_enabled():
        assert gdfast.effective_n_threads(-1) == m
        assert gdfast.effective_n_threads(-m - 5) == 1
        assert gdfast.effective_n_threads(7) == 7
    with pytest.raises(ValueError, match="n_threads=0"):
        gdfast.effective_n_threads(0)
    with pytest.raises(TypeError, match="n_threads"):
        gdfast.effective_n_threads(1.5)


@pytest.mark.skipif(not gdfast.openmp_enabled(), reason="serial build: always 1 thread")
def test_threadpoolctl_limits_are_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert gdfast.effective_n_threads(None) == 1
    assert gdfast.effective_n_threads(None) == gdfast._kernels.max_threads()


def test_omp_num_threads_is_honoured():
    code = "import gdfast; print(gdfast.effective_n_threads(None))"
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert int(out) == (3 if gdfast.openmp_enabled() else 1)


def test_concurrent_fits_in_python_threads_match_sequential_fits():
    problems = [make_problem("logistic", n=3000, d=30, seed=s) for s in range(4)]
    kw = dict(loss="logistic", optimizer="adam", learning_rate=0.01, batch_size=32,
              max_epochs=3, tol=None, random_state=1, n_threads=1)
    sequential = [gdfast.fit(X, y, **kw).coef for X, y in problems]
    concurrent = [None] * len(problems)

    def work(i):
        concurrent[i] = gdfast.fit(*problems[i], **kw).coef

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, concurrent, strict=True):
        np.testing.assert_array_equal(a, b)


def test_openmp_enabled_reports_the_build():
    assert isinstance(gdfast.openmp_enabled(), bool)
    if os.environ.get("GDFAST_EXPECT_OPENMP") == "1":
        assert gdfast.openmp_enabled()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
@pytest.mark.parametrize("case", [
    dict(loss="logistic", optimizer="adam"),
    dict(loss="logistic", optimizer="rmsprop", clip_norm=0.05),
    dict(loss="multinomial", optimizer="nesterov", momentum=0.9, fit_intercept=False),
    dict(loss="squared", optimizer="sgd", clip_norm=0.05, alpha=1e-2, l1_ratio=0.5),
], ids=lambda c: "-".join(str(v) for v in c.values()))
def test_replicated_step_and_shared_step_give_the_same_bits(case, dtype, monkeypatch):
    """With several threads, a mini-batch epoch whose parameters fit one chunk takes its
    optimizer step on a copy per thread (one meeting a batch, partials in two alternating
    sets); without room for those copies in the work buffer (max_blocks = 8 here), one thread
    takes the step between two barriers.  Both give the bits of one thread, with clipping,
    several outputs, no intercept and a short last batch (batch 20 of 90 rows)."""
    monkeypatch.setitem(_options.LAYOUT, "block_rows", 4)
    monkeypatch.setitem(_options.LAYOUT, "min_parallel_work", 0)
    X, y = make_problem(case["loss"], n=90, dtype=dtype, n_classes=3)
    kw = dict(learning_rate=TEST_LR[case["optimizer"]], batch_size=20, max_epochs=3, tol=None,
              random_state=0, **case)
    results = fits(X, y, (1, 2, 3), **kw)
    monkeypatch.setitem(_options.LAYOUT, "max_blocks", 8)     # 5 blocks a batch: both fit
    results += fits(X, y, (2, 3), **kw)
    assert_identical(results)
    assert results[0].n_steps == 3 * 5


# --- how the replicated-step epoch shares a batch's blocks between threads of unequal speed ---

@pytest.mark.skipif(not gdfast.openmp_enabled(), reason="serial build: one thread")
@pytest.mark.parametrize("share", ["skewed", "even", "measured"])
@pytest.mark.parametrize("loss,shuffle", [("logistic", True), ("logistic", False),
                                          ("multinomial", True)])
def test_any_share_of_the_blocks_gives_the_same_bits(share, loss, shuffle, monkeypatch):
    """The blocks of a batch cut unevenly between threads (skewed: one block to thread 0, then
    to the last thread, batch by batch) give the bits of one thread, shuffled (thread 0 draws
    the order between fewer rows) or not, with a short last batch."""
    monkeypatch.setitem(_options.LAYOUT, "block_rows", 4)
    monkeypatch.setitem(_options.LAYOUT, "min_parallel_work", 0)
    monkeypatch.setitem(_options.LAYOUT, "share", share)
    X, y = make_problem(loss, n=610, d=12, n_classes=3)
    results = fits(X, y, (1, 2, 3), loss=loss, optimizer="adam", learning_rate=1e-2,
                   batch_size=48, max_epochs=2, tol=None, random_state=0, shuffle=shuffle)
    assert_identical(results)
    assert results[0].n_steps == 2 * 13


def cum_of(speeds):
    """The fractions of a batch's rows before each thread's share, shares in proportion."""
    c = np.concatenate([[0.0], np.cumsum(speeds)]) / np.sum(speeds)
    c[-1] = 1.0
    return c


@pytest.mark.parametrize("nth", [1, 2, 3, 5])
def test_share_bounds_cut_every_batch_into_contiguous_shares(nth):
    """Every block goes to exactly one thread, in order; each thread gets one at least while
    there are as many blocks as threads, and otherwise the block nearest its fraction; with
    fewer blocks than threads, the even split."""
    rng = np.random.default_rng(nth)
    for _ in range(500):
        cum = cum_of(rng.uniform(0.01, 1.0, nth) ** 3)       # some threads very slow
        nb = int(rng.integers(1, 40))
        b = _testing.share_bounds(cum, nb)
        assert b[0] == 0 and b[-1] == nb
        if nb < nth:
            assert list(b) == [nb * t // nth for t in range(nth + 1)]
            continue
        assert np.all(np.diff(b) >= 1)
        for t in range(1, nth):
            lo, hi = b[t - 1] + 1, nb - (nth - t)
            nearest = int(np.floor(cum[t] * nb + 0.5))
            assert b[t] == min(max(nearest, lo), hi)
    for nb in range(nth, 40):                                 # equal speeds: the even split
        assert np.ptp(np.diff(_testing.share_bounds(cum_of(np.ones(nth)), nb))) <= 1


@pytest.mark.parametrize("nth", [2, 3, 4])
def test_share_learn_balances_threads_of_unequal_speed(nth):
    """Threads with different times per row, thread 0 with extra work a batch (the shuffle it
    draws) and the same step on all: fed each batch's busy times, the shares settle where the
    slowest thread is busy at most one block longer than the continuous balance, which the even
    split misses."""
    nb, rows_per_block, step = 16, 16, 30.0
    per_row = 1.0 + 1.5 * np.arange(nth) / (nth - 1)
    extra = np.zeros(nth)
    extra[0] = 40 * per_row[0]

    def busy_of(cum):
        rows = np.diff(_testing.share_bounds(cum, nb)) * rows_per_block
        return rows, rows * per_row + extra + step

    # the balance with shares in rows: busy_t = T for every t
    fixed = extra + step
    T = (nb * rows_per_block + np.sum(fixed / per_row)) / np.sum(1 / per_row)
    block = rows_per_block * per_row.max()
    assert busy_of(cum_of(np.ones(nth)))[1].max() > T + block      # the even split fails
    est = np.zeros(nth)
    cur = nxt = cum_of(np.ones(nth))
    for _ in range(100):          # as the epoch: what batch k measures cuts batch k + 2
        rows, busy = busy_of(cur)
        cur, nxt = nxt, _testing.share_learn(busy, rows, est)
    assert busy_of(cur)[1].max() <= T + block
    assert np.all(est > 0)


def test_share_learn_caps_what_one_slow_batch_moves():
    """A batch on a preempted core (100 times its usual time) moves that thread's estimate by
    3/8 at most (a sample counts as 4 times the estimate at most, with weight 1/8)."""
    rows = np.array([128, 128], dtype=np.int64)
    est = np.zeros(2)
    _testing.share_learn(np.array([1280.0, 1280.0]), rows, est)
    np.testing.assert_array_equal(est, [10.0, 10.0])
    _testing.share_learn(np.array([128000.0, 1280.0]), rows, est)
    np.testing.assert_allclose(est, [10.0 * (1 + 3 / 8), 10.0], rtol=1e-15)
    _testing.share_learn(np.array([1280.0, 1.0]), rows, est)
    np.testing.assert_allclose(est[1], 10.0 * (1 - 3 / 32), rtol=1e-15)


def test_share_learn_keeps_the_even_split_until_every_thread_is_measured():
    est = np.zeros(3)
    rows = np.array([16, 0, 16], dtype=np.int64)                 # thread 1 had no rows
    cum = _testing.share_learn(np.array([5.0, 9.0, 10.0]), rows, est)
    np.testing.assert_array_equal(cum, np.arange(4) / 3)
    assert est[1] == 0 and est[0] == 5.0 / 16 and est[2] == 10.0 / 16
    rows[1] = 16                                                 # a negative time is skipped
    cum = _testing.share_learn(np.array([5.0, -1.0, 10.0]), rows, est)
    np.testing.assert_array_equal(cum, np.arange(4) / 3)
    cum = _testing.share_learn(np.array([5.0, 2.5, 10.0]), rows, est)
    speeds = 1 / est
    np.testing.assert_allclose(cum, cum_of(speeds), rtol=1e-12)
    assert cum[1] < cum[2] - cum[1]                              # thread 1, fastest, most

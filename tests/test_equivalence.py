"""Native kernels against the numpy reference (issue #2).

The two differ only in the order of floating-point sums (BLAS vs. the fused row loop and its
fixed blocks), so they agree to a small multiple of the dtype's machine epsilon: over the
whole matrix below the worst case seen was about 100 eps after 4 epochs (median ~1 eps).  The
tolerance is 2048 eps: 4.5e-13 for float64, 2.4e-4 for float32.
"""

import math

import numpy as np
import pytest

import gdfast
from conftest import DTYPES, LOSSES, OPTIMIZERS, TEST_LR, make_problem, make_spec, rel_err
from gdfast import _kernels, _options, _problem, _testing, reference

BATCHES = (1, 16, None)         # stochastic, mini-batch with a partial last batch, full batch


def tol(dtype):
    return 2048 * np.finfo(dtype).eps


def fit_both(X, y, n_threads, **kw):
    return gdfast.fit(X, y, n_threads=n_threads, **kw), reference.fit(X, y, **kw)


def assert_same_fit(a, b, dtype, what):
    assert a.coef.dtype == b.coef.dtype == dtype, what
    assert a.n_steps == b.n_steps and a.n_epochs == b.n_epochs, what
    err = rel_err(a.coef, b.coef)
    assert err <= tol(dtype), f"{what}: coef off by {err:.3g}"
    assert rel_err(a.intercept, b.intercept) <= tol(dtype), f"{what}: intercept"
    assert rel_err(a.loss_history, b.loss_history) <= tol(dtype), f"{what}: loss_history"


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("loss", LOSSES)
def test_fit_matches_reference(loss, optimizer, batch_size, dtype, n_threads, small_blocks):
    X, y = make_problem(loss, dtype=dtype)
    kw = dict(loss=loss, optimizer=optimizer, learning_rate=TEST_LR[optimizer],
              batch_size=batch_size, max_epochs=4, tol=None, alpha=1e-3, l1_ratio=0.3,
              random_state=0)
    a, b = fit_both(X, y, n_threads, **kw)
    assert_same_fit(a, b, dtype, f"{loss}/{optimizer}/batch={batch_size}/{dtype.__name__}/"
                                 f"threads={n_threads}")
    if loss in _options.CLASSIFICATION_LOSSES:
        np.testing.assert_array_equal(a.classes, b.classes)


OPTIONS = [
    ("momentum", dict(dampening=0.3)),
    ("momentum", dict(momentum=0.5)),
    ("rmsprop", dict(centered=True)),
    ("rmsprop", dict(momentum=0.5)),
    ("rmsprop", dict(centered=True, momentum=0.9, rho=0.9)),
    ("adam", dict(amsgrad=True)),
    ("adamw", dict(amsgrad=True, betas=(0.8, 0.99))),
    ("adagrad", dict(eps=1e-6)),
]
SCHEDULE_OPTIONS = [
    dict(schedule="invscaling", power_t=0.4),
    dict(schedule="optimal"),
    dict(schedule="exponential", gamma=0.7),
    dict(schedule="step", step_size=2, gamma=0.5),
    dict(schedule="cosine"),
    dict(schedule="plateau", tol=10.0, n_iter_no_change=1),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("optimizer,options", OPTIONS)
def test_optimizer_options_match_reference(optimizer, options, dtype, small_blocks):
    X, y = make_problem("logistic", dtype=dtype)
    kw = dict(loss="logistic", optimizer=optimizer, learning_rate=TEST_LR[optimizer],
              batch_size=16, max_epochs=4, tol=None, alpha=1e-3, random_state=0, **options)
    assert_same_fit(*fit_both(X, y, 2, **kw), dtype, f"{optimizer} {options}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("options", SCHEDULE_OPTIONS, ids=lambda o: o["schedule"])
def test_schedules_match_reference(options, dtype, small_blocks):
    X, y = make_problem("hinge", dtype=dtype)
    kw = dict(loss="hinge", optimizer="sgd", learning_rate=0.05, batch_size=8, max_epochs=6,
              alpha=1e-2, random_state=0)
    kw.setdefault("tol", None)
    kw.update(options)
    assert_same_fit(*fit_both(X, y, 2, **kw), dtype, f"schedule {options}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("case", ["weights", "no_intercept", "init", "no_shuffle", "elasticnet",
                                  "batch_gt_n", "clip"])
def test_fit_options_match_reference(case, dtype, small_blocks):
    X, y = make_problem("squared", dtype=dtype)
    rng = np.random.default_rng(3)
    kw = dict(loss="squared", optimizer="adam", learning_rate=0.01, batch_size=16,
              max_epochs=3, tol=None, random_state=0)
    if case == "weights":
        kw["sample_weight"] = rng.uniform(0, 2, len(y)) * (rng.random(len(y)) > 0.2)
    elif case == "no_intercept":
        kw.update(fit_intercept=False, intercept_init=0.25)
    elif case == "init":
        kw.update(coef_init=rng.standard_normal(X.shape[1]), intercept_init=-1.0)
    elif case == "no_shuffle":
        kw.update(shuffle=False)
    elif case == "elasticnet":
        kw.update(alpha=0.05, l1_ratio=0.5, optimizer="sgd")
    elif case == "batch_gt_n":
        kw.update(batch_size=10 * len(y))
    elif case == "clip":
        kw.update(clip_norm=0.05)
    a, b = fit_both(X, y, 2, **kw)
    assert_same_fit(a, b, dtype, case)
    if case == "no_intercept":
        assert a.intercept == b.intercept == np.asarray(0.25, dtype)


# --- the kernels one by one ---------------------------------------------------------------

def native_config(spec, K, d, dtype):
    return _kernels.Config(**spec.kernel_config(K, d, np.dtype(dtype).itemsize))


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("rows_kind", ["all", "subset"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", LOSSES)
def test_grad_kernel_matches_reference(loss, weighted, rows_kind, dtype, n_threads, layout):
    X, y = make_problem(loss, n=97, dtype=dtype)
    y_enc, classes, K = _problem.prepare_targets(y, loss, len(y), np.dtype(dtype))
    rng = np.random.default_rng(1)
    d = X.shape[1]
    theta = (0.3 * rng.standard_normal(K * (d + 1))).astype(dtype)
    sw = rng.uniform(0.1, 2.0, len(y)).astype(dtype) if weighted else None
    rows = rng.permutation(len(y))[:41] if rows_kind == "subset" else None
    spec = make_spec(loss=loss, epsilon=0.3)
    cfg = native_config(spec, K, d, dtype)
    grad = np.empty_like(theta)
    work = np.empty(cfg.work_size(d), dtype)
    status, loss_sum = _kernels.grad_dense(
        cfg, X, y_enc, np.empty(0, dtype) if sw is None else sw,
        np.empty(0, np.int64) if rows is None else rows.astype(np.int64), theta, grad, work,
        n_threads)
    assert status == 0
    g_ref, l_ref = reference.batch_gradient(loss, K, 0.3, X, y_enc, sw, rows, theta)
    assert g_ref.dtype == grad.dtype == dtype
    assert rel_err(grad, g_ref) <= tol(dtype), (loss, rel_err(grad, g_ref))
    assert abs(loss_sum - l_ref) <= tol(dtype) * max(abs(l_ref), 1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_work_buffer_at_any_offset(dtype):
    """gd_work_size entries of any alignment suffice: the kernels start the block partials on
    the buffer's first cache-line boundary.  Every offset within a line gives bitwise the same
    gradient with 1 and 2 threads (8 blocks of 13 rows, max_blocks = 8: the last block ends
    near the end of the buffer), and the entries outside the buffer, the guards, are never
    written."""
    X, y = make_problem("logistic", n=104, d=9, dtype=dtype)
    y_enc, _, K = _problem.prepare_targets(y, "logistic", len(y), np.dtype(dtype))
    theta = (0.3 * np.random.default_rng(1).standard_normal(K * 10)).astype(dtype)
    spec = make_spec(loss="logistic")
    cfg_small = _kernels.Config(**{**spec.kernel_config(K, 9, np.dtype(dtype).itemsize),
                                   "block_rows": 13, "max_blocks": 8,
                                   "min_parallel_work": 1})
    size, per_line = cfg_small.work_size(9), 64 // np.dtype(dtype).itemsize
    results = []
    for offset in range(per_line):
        for n_threads in (1, 2):
            buf = np.full(offset + size + per_line, 7, dtype)
            work = buf[offset:offset + size]
            grad = np.empty_like(theta)
            status, loss_sum = _kernels.grad_dense(cfg_small, X, y_enc, np.empty(0, dtype),
                                                   np.empty(0, np.int64), theta, grad, work,
                                                   n_threads)
            assert status == 0
            assert (buf[offset + size:] == 7).all() and (buf[:offset] == 7).all()
            results.append((grad, loss_sum))
    for grad, loss_sum in results[1:]:
        np.testing.assert_array_equal(grad, results[0][0])
        assert loss_sum == results[0][1]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("K", [1, 3])
def test_decision_kernel_matches_numpy(K, dtype):
    """gd_decision_dense (the estimators' validation loss) against numpy's X @ W.T + b, as
    the reference computes it: 3001 rows (twelve blocks of 256, the last partial), enough
    work for two threads, which give the same bits as one."""
    rng = np.random.default_rng(2)
    n, d = 3001, 47                 # K * n * d >= 2**17: the kernel opens threads
    X = rng.standard_normal((n, d)).astype(dtype)
    theta = rng.standard_normal(K * (d + 1)).astype(dtype)
    expected = X @ theta[:K * d].reshape(K, d).T + theta[K * d:]
    out = {}
    for n_threads in (1, 2):
        Z = np.full((n, K), np.nan, dtype)
        _kernels.decision_dense(X, theta, K, Z, n_threads)
        assert rel_err(Z, expected) <= tol(dtype), (n_threads, rel_err(Z, expected))
        out[n_threads] = Z
    np.testing.assert_array_equal(out[1], out[2])
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _kernels.decision_dense(X, theta[1:], K, np.empty((n, K), dtype), 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("order_kind", ["all rows", "permutation", "subset", "repeats"])
def test_read_probe_sums_match_numpy(order_kind, dtype):
    """gd_read_rows_dense (the read floor benchmarks/peers.py times) against numpy's column
    sums of X[order]: 9001 rows of 37 (three chunks of 4096 positions, the last partial;
    enough work for threads), within the bound of a sum of m terms, m * eps * sum |x|, and
    the same bits on 1, 2 and 3 threads."""
    rng = np.random.default_rng(3)
    n, d = 9001, 37
    X = rng.standard_normal((n, d)).astype(dtype)
    order = {"all rows": np.empty(0, np.int64),
             "permutation": _kernels.permutation(n, 7),
             "subset": rng.permutation(n)[:5000].astype(np.int64),
             "repeats": rng.integers(0, n, 2 * n).astype(np.int64)}[order_kind]
    rows = X if order_kind == "all rows" else X[order]
    exact = rows.astype(np.float64).sum(axis=0)
    bound = len(rows) * np.finfo(dtype).eps * np.abs(rows).astype(np.float64).sum(axis=0)
    out = {}
    for n_threads in (1, 2, 3):
        sums = _testing.read_rows(X, order, n_threads)
        assert sums.dtype == dtype and sums.shape == (d,)
        assert (np.abs(sums - exact) <= bound).all(), n_threads
        out[n_threads] = sums
    np.testing.assert_array_equal(out[1], out[2])
    np.testing.assert_array_equal(out[1], out[3])


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_read_probe_refuses_an_index_outside_x(n_threads):
    """An index outside X, in the serial path (10 rows) and in the last thread's chunk of the
    threaded one (9001 rows), and in X without columns, is an IndexError; n_threads < 1 a
    ValueError."""
    for n, d in ((10, 3), (9001, 37), (10, 0)):
        X = np.ones((n, d))
        for bad in (-1, n):
            order = np.arange(n, dtype=np.int64)
            order[-2] = bad
            with pytest.raises(IndexError, match=rf"outside \[0, {n}\)"):
                _testing.read_rows(X, order, n_threads)
    assert (_testing.read_rows(np.ones((0, 3)), np.empty(0, np.int64), n_threads) == 0).all()
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        _testing.read_rows(np.ones((10, 3)), np.empty(0, np.int64), 0)


UPDATE_CASES = [(opt, {}) for opt in OPTIMIZERS] + OPTIONS


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("penalty", [(0.0, 0.0), (0.1, 0.0), (0.1, 0.5)], ids=str)
@pytest.mark.parametrize("optimizer,options", UPDATE_CASES)
def test_update_kernel_matches_reference(optimizer, options, penalty, dtype, n_threads,
                                         monkeypatch):
    monkeypatch.setitem(_options.LAYOUT, "min_parallel_work", 0)
    options = dict(options)
    if "betas" in options:
        options["beta1"], options["beta2"] = options.pop("betas")
    if optimizer in ("momentum", "nesterov"):
        options.setdefault("momentum", 0.9)
    spec = make_spec(optimizer=optimizer, alpha=penalty[0], l1_ratio=penalty[1], **options)
    rng = np.random.default_rng(2)
    P, n_coef = 9001, 9000          # more than one chunk of the update loop
    theta_n = rng.standard_normal(P).astype(dtype)
    theta_r = theta_n.copy()
    n_state = _options.N_STATE[optimizer]
    state_n = np.zeros(n_state * P, dtype)
    state_r = np.zeros((n_state, P), dtype)
    cfg = native_config(spec, 1, n_coef, dtype)
    for t in range(1, 6):
        g = rng.standard_normal(P).astype(dtype)
        lr = 0.01 * t
        assert _kernels.update(cfg, theta_n, g, state_n, n_coef, t, lr, n_threads) == 0
        reference.update(spec, theta_r, g, state_r, n_coef, t, lr)
    assert rel_err(theta_n, theta_r) <= tol(dtype)
    assert rel_err(state_n, state_r.ravel()) <= tol(dtype)


@pytest.mark.parametrize("batch_size,n_threads,scale", [(4, 1, 100), (16, 2, 1000),
                                                       (16, 3, 1000)])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_divergence_is_reported_at_the_same_step(dtype, batch_size, n_threads, scale,
                                                 small_blocks):
    # batch 16: four 4-row blocks, shared by the threads, which must all stop at the same step
    X, y = make_problem("squared", dtype=dtype)
    X = X * scale
    kw = dict(loss="squared", optimizer="sgd", learning_rate=1.0, batch_size=batch_size,
              max_epochs=5, tol=None, random_state=0, n_threads=n_threads)
    errors = []
    for f in (gdfast.fit, reference.fit):
        with pytest.raises(gdfast.DivergenceError) as info:
            f(X, y, **kw)
        errors.append(info.value)
    a, b = errors
    assert (a.epoch, a.step) == (b.epoch, b.step)
    assert isinstance(a, FloatingPointError)
    assert "learning_rate" in str(a) and f"step {a.step}" in str(a)
    assert a.result.n_epochs == a.epoch - 1


def test_grad_kernel_rejects_rows_out_of_range():
    X, y = make_problem("squared")
    spec = make_spec()
    cfg = native_config(spec, 1, X.shape[1], np.float64)
    theta = np.zeros(X.shape[1] + 1)
    for bad in (len(y), -1):
        with pytest.raises(IndexError, match="outside"):
            _kernels.grad_dense(cfg, X, y, np.empty(0), np.array([0, bad], np.int64), theta,
                                np.empty_like(theta), np.empty(cfg.work_size(X.shape[1])), 1)


def test_hinge_subgradient_at_the_kink_matches_reference():
    # intercept 1, coefficients 0: every row with y = +1 sits exactly on the kink y*p = 1,
    # where both engines must take the same subgradient (-y, scikit-learn's `z <= 1`)
    X, y = make_problem("hinge", n=40)
    kw = dict(loss="hinge", optimizer="sgd", learning_rate=0.1, batch_size=None, max_epochs=1,
              tol=None, alpha=0.0, coef_init=np.zeros(X.shape[1]), intercept_init=1.0)
    a, b = fit_both(X, y, 1, **kw)
    assert_same_fit(a, b, np.float64, "hinge at the kink")
    # the step is -lr * mean(dz * [x, 1]) with dz = -y on every row (all have y*p <= 1)
    y_pm = np.where(y == 7, 1.0, -1.0)
    np.testing.assert_allclose(a.coef, 0.1 * (y_pm @ X) / len(y), rtol=1e-12)
    assert a.intercept == pytest.approx(1.0 + 0.1 * y_pm.mean(), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_centered_rmsprop_stays_finite_when_the_gradient_is_constant(dtype):
    # a constant gradient drives square_avg - grad_avg**2 = g**2 rho**t (1 - rho**t) below
    # the rounding error, so it often comes out negative: the variance must be clamped at 0
    # (torch would take the square root of a negative number and produce NaN)
    spec = make_spec(optimizer="rmsprop", centered=True, rho=0.5)
    rng = np.random.default_rng(9)
    P = 1000
    g = rng.standard_normal(P).astype(dtype)
    theta_n, theta_r = np.zeros(P, dtype), np.zeros(P, dtype)
    state_n, state_r = np.zeros(3 * P, dtype), np.zeros((3, P), dtype)
    cfg = native_config(spec, 1, P - 1, dtype)
    for t in range(1, 101):
        assert _kernels.update(cfg, theta_n, g, state_n, P - 1, t, 1e-3, 1) == 0
        reference.update(spec, theta_r, g, state_r, P - 1, t, 1e-3)
    assert np.isfinite(theta_n).all() and np.isfinite(state_n).all()
    assert np.isfinite(theta_r).all() and np.isfinite(state_r).all()


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("batch_size", [1, 5, 32])
@pytest.mark.parametrize("max_blocks", [256, 8], ids=["replicated", "shared"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])     # sgd at batch 1: the fused step
def test_epoch_drawing_its_shuffle_reads_the_permutation(batch_size, dtype, n_threads,
                                                         max_blocks, optimizer):
    """epoch_dense_shuffled, which fixes the order's positions as the epoch goes (thread 0
    between its rows with the replicated step; up front with the shared step; batch by batch
    on one thread), gives the bits of epoch_dense over permutation(n, seed), whole or resumed
    in three calls, and leaves the order fixed where it was read."""
    X, y = make_problem("logistic", n=203, d=7, dtype=dtype)
    y_enc, _, K = _problem.prepare_targets(y, "logistic", len(y), np.dtype(dtype))
    spec = make_spec(loss="logistic", optimizer=optimizer, learning_rate=0.05)
    kw = {**spec.kernel_config(K, 7, np.dtype(dtype).itemsize), "block_rows": 4,
          "max_blocks": max_blocks, "min_parallel_work": 0}
    cfg = _kernels.Config(**kw)
    n, P, seed = len(y), K * 8, 2**63 + 12345
    sw = np.empty(0, dtype)

    def fresh():
        return (np.zeros(P, dtype), np.zeros(_options.N_STATE[optimizer] * P, dtype),
                np.empty(cfg.work_size(7), dtype))

    th_a, st_a, work = fresh()
    order = _kernels.permutation(n, seed)
    status, t_a, loss_a = _kernels.epoch_dense(cfg, X, y_enc, sw, order, 0, n, batch_size, 0.05,
                                               th_a, st_a, work, 0, n_threads)
    assert status == 0
    # calls that resume the epoch start and stop at batch boundaries, as after an interrupt
    for cuts in ([0, n], [0, 3 * batch_size, (100 // batch_size) * batch_size, n]):
        th_b, st_b, work = fresh()
        buf = np.full(n, -1, np.int64)
        gen = _kernels.shuffle_init(buf, seed)
        t_b, loss_b = 0, 0.0
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            status, t_b, part = _kernels.epoch_dense_shuffled(
                cfg, X, y_enc, sw, buf, gen, lo, hi, batch_size, 0.05, th_b, st_b, work, t_b,
                n_threads)
            assert status == 0
            loss_b += part
        assert t_b == t_a
        np.testing.assert_array_equal(th_b, th_a)
        np.testing.assert_array_equal(st_b, st_a)
        assert loss_b == pytest.approx(loss_a, rel=1e-12)
        np.testing.assert_array_equal(buf, order)        # the last batches fix it all


def test_shuffle_state_drawn_in_pieces_is_the_permutation_and_is_checked():
    """shuffle_advance in pieces of any size fixes the positions permutation(n, seed) has;
    a state that does not fit the order (another n, a swap partner out of range) is refused
    before any native code runs."""
    for n in (0, 1, 2, 3, 16, 17, 18, 1000):
        for seed in (0, 7, 2**64 - 1):
            want = _kernels.permutation(n, seed)
            got = np.full(n, -1, np.int64)
            gen = _kernels.shuffle_init(got, seed)
            for upto in (1, 2, 17, n // 2, n - 1, n):
                _kernels.shuffle_advance(gen, got, upto)
                k = n if upto >= n - 1 else upto
                np.testing.assert_array_equal(got[:k], want[:k])
            np.testing.assert_array_equal(got, want)
    order = np.empty(100, np.int64)
    gen = _kernels.shuffle_init(order, 3)
    with pytest.raises(ValueError, match="does not match"):
        _kernels.shuffle_advance(gen, np.empty(99, np.int64), 10)
    bad = gen.copy()
    bad[4] = 100                                         # a swap partner past the end
    with pytest.raises(ValueError, match="does not match"):
        _kernels.shuffle_advance(bad, order, 10)


@pytest.mark.parametrize("K", [0, 1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("shape", [(70, 5), (9000, 40), (3, 1)])
def test_dense_moments_kernel(shape, dtype, weighted, K):
    # the preconditioner's column moments of dense X and, beside them, X^T R for K columns
    # of residuals (gd_dense_moments, fixed row blocks): the same bits for 1, 2 and 3 threads
    # and with or without R, and equal to float64 sums written out here (an oracle
    # independent of the kernel) and to the numpy form the reference reads
    n, d = shape
    rng = np.random.default_rng(11)
    X = (rng.standard_normal((n, d)) * np.logspace(-1, 1, d) + 2.0).astype(dtype)
    sw = rng.uniform(0.1, 3.0, n).astype(dtype) if weighted else None
    R = rng.standard_normal((n, K)) if K else None
    p = _problem.Problem(X=X, y=np.zeros(n, dtype), sw=sw, n_outputs=1, classes=None,
                         y_const=0.0)
    assert _kernels.dense_moments_blocks(n, d) == {70: 1, 9000: 4, 3: 1}[n]
    got = [p.column_moments(n_threads, R) for n_threads in (1, 2, 3)]
    plain = p.column_moments(2)
    for s1, s2, total, _ in got[1:] + [plain]:
        assert np.array_equal(s1, got[0][0]) and np.array_equal(s2, got[0][1])
        assert total == got[0][2]
    for G in (g[3] for g in got[1:]):
        assert (G is None) if R is None else np.array_equal(G, got[0][3])
    A = X.astype(np.float64)
    w = np.ones(n) if sw is None else sw.astype(np.float64)
    s1, s2, total, G = got[0]
    assert s1.dtype == s2.dtype == np.float64 and s1.shape == s2.shape == (d,)
    # each column's products summed exactly (math.fsum), then rounded once
    oracle1 = np.array([math.fsum(w * A[:, j]) for j in range(d)])
    oracle2 = np.array([math.fsum(w * A[:, j] * A[:, j]) for j in range(d)])
    bound = 4 * n * np.finfo(np.float64).eps           # any order of n float64 additions
    assert rel_err(s1, oracle1) <= bound and rel_err(s2, oracle2) <= bound
    r1, r2, r_total, rG = p.column_moments(None, R)
    assert rel_err(s1, r1) <= bound and rel_err(s2, r2) <= bound and total == r_total
    if K:
        oracleG = np.array([[math.fsum(R[:, k] * A[:, j]) for j in range(d)]
                            for k in range(K)])
        assert G.shape == (K, d) and G.dtype == np.float64
        scale = np.abs(R).T @ np.abs(A)                 # sums of magnitudes: the bound's base
        assert np.all(np.abs(G - oracleG) <= bound * scale)
        assert np.all(np.abs(rG - oracleG) <= bound * scale)


def test_dense_moments_kernel_rejects_bad_arguments():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _kernels.dense_moments(X, np.ones(3), 1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _kernels.dense_moments(np.ones((0, 3)), np.empty(0), 1)
    with pytest.raises(ValueError, match="R must have X's 4 rows"):
        _kernels.dense_moments(X, np.empty(0), 1, np.ones((3, 1)))
    with pytest.raises(ValueError, match="at least one column"):
        _kernels.dense_moments(X, np.empty(0), 1, np.ones((4, 0)))
    with pytest.raises(ValueError):                 # R must be float64 and C-contiguous
        _kernels.dense_moments(X, np.empty(0), 1, np.ones((4, 2), dtype=np.float32))

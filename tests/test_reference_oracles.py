"""The numpy reference against independent oracles (issue #2): closed-form least squares,
finite differences, and the published update formulas written out here, step by step, one
coordinate at a time (torch.optim's documented algorithms; scikit-learn's schedules).  Also
the kernels' own exp and log1p against Python's math module."""
import math

import numpy as np
import pytest

import gdfast
from conftest import LOSSES, make_problem, make_spec, rel_err
from gdfast import _options, _problem, _schedules, _testing, reference

BINARY = _options.BINARY_LOSSES


# --- the kernels' own math ----------------------------------------------------------------

def _ulps(got, exact):
    exact = np.asarray(exact, np.float64)
    return np.abs(got - exact) / np.spacing(np.abs(exact))


def test_kernel_exp_and_log1p_match_the_math_module():
    """The native logistic loss computes exp (of x <= 0) and log1p (of e in [0, 1]) itself,
    branch-free so that it vectorizes.  Against Python's math.exp / math.log1p (libm, within
    1 ulp of the exact value): a few ulp over the whole domain, at the edges included (0, the
    sqrt(2) switch of log1p's reduction, tiny e where 1 + e rounds to 1), exp = 0 below -708
    (where the true value is at most 3.3e-308) and NaN kept."""
    rng = np.random.default_rng(0)
    x = np.concatenate([-rng.uniform(0, 708, 100_000), -rng.uniform(0, 1, 100_000),
                        -np.minimum(np.logspace(-300, np.log10(708), 2000), 708.0),
                        [0.0, -0.0, -708.0]])
    got = _testing.math_check(0, x)
    assert _ulps(got, [math.exp(v) for v in x]).max() <= 2
    far = np.array([-708.01, -745.0, -1e4, -np.inf])
    np.testing.assert_array_equal(_testing.math_check(0, far), 0.0)
    assert np.isnan(_testing.math_check(0, np.array([np.nan]))).all()
    e = np.concatenate([rng.uniform(0, 1, 100_000), np.logspace(-320, 0, 2000),
                        [0.0, 1.0, math.sqrt(2) - 1, np.nextafter(math.sqrt(2) - 1, 1),
                         1e-16, 2.2e-16, 1.1e-16]])
    got = _testing.math_check(1, e)
    exact = np.array([math.log1p(v) for v in e])
    ok = exact != 0
    assert _ulps(got[ok], exact[ok]).max() <= 3
    np.testing.assert_array_equal(got[~ok], 0.0)


def test_kernel_logistic_loss_matches_its_definition():
    """softplus(-m) and -sigmoid(-m) of margins m, as the kernels compute them, against the
    definitions in math: a few ulp (within the libm oracle's own rounding) for |m| <= 708;
    beyond, the loss is 0 or -m and the derivative 0 or -1 to within 3.3e-308."""
    rng = np.random.default_rng(1)
    m = np.concatenate([10 * rng.standard_normal(100_000), rng.uniform(-708, 708, 20_000),
                        [0.0, 1e-300, -1e-300, 36.0, -36.0, 40.0, -40.0]])
    loss = _testing.math_check(2, m)
    dz = _testing.math_check(3, m)
    assert _ulps(loss, [math.log1p(math.exp(-abs(v))) + max(-v, 0.0) for v in m]).max() <= 4
    assert _ulps(dz, [-1.0 / (1.0 + math.exp(v)) for v in m]).max() <= 4
    far = np.array([709.0, 1e5, np.inf, -709.0, -1e5, -np.inf])
    np.testing.assert_allclose(_testing.math_check(2, far),
                               [0, 0, 0, 709.0, 1e5, np.inf], rtol=0, atol=4e-308)
    np.testing.assert_allclose(_testing.math_check(3, far), [0, 0, 0, -1, -1, -1],
                               rtol=0, atol=4e-308)


# --- the shuffled row order (gd_permutation) ----------------------------------------------

@pytest.mark.parametrize("portable", [False, True], ids=["int128", "portable"])
def test_kernel_128_bit_product_matches_python_ints(portable):
    """Lemire's bounded draw takes the high half of a 64 x 64-bit product: both the compiler's
    128-bit product and the 32-bit-halves fallback (compilers without one) against Python's
    exact integers, at the edges and on random pairs."""
    rng = np.random.default_rng(0)
    top = 2**64 - 1
    edges = np.array([0, 1, 2**32 - 1, 2**32, 2**63, top], dtype=np.uint64)
    a = np.concatenate([np.repeat(edges, len(edges)), rng.integers(0, top, 5000, np.uint64,
                                                                   endpoint=True)])
    b = np.concatenate([np.tile(edges, len(edges)), rng.integers(0, top, 5000, np.uint64,
                                                                 endpoint=True)])
    hi, lo = _testing.mul_check(portable, a, b)
    exact = [int(u) * int(v) for u, v in zip(a, b, strict=True)]
    assert [int(h) for h in hi] == [e >> 64 for e in exact]
    assert [int(v) for v in lo] == [e & top for e in exact]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1000, 65537])
def test_permutation_is_a_permutation(n):
    perm = gdfast._kernels.permutation
    for seed in (0, 1, 2**64 - 1):
        p = perm(n, seed)
        assert p.dtype == np.int64 and p.shape == (n,)
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
        np.testing.assert_array_equal(perm(n, seed), p)          # a function of the seed
    if n >= 17:
        assert not np.array_equal(perm(n, 0), perm(n, 1))
    with pytest.raises(ValueError, match="n must be >= 0"):
        perm(-1, 0)


def test_permutation_is_uniform():
    """Fisher-Yates gives every order the same probability (Knuth, TAOCP 3.4.2).  With seeds
    0..23 999: the 24 orders of 4 items, and for 12 items each item's position and each pair's
    relative order, by chi-square and binomial tests (fixed seeds: the p-values are fixed
    numbers, checked against 1e-4, which an off-by-one range, e.g. Sattolo's j < i, fails by
    orders of magnitude)."""
    from collections import Counter

    from scipy import stats
    perm = gdfast._kernels.permutation
    seeds = range(24_000)
    counts = Counter(tuple(perm(4, s)) for s in seeds)
    assert len(counts) == 24
    c = np.array(list(counts.values()))
    assert stats.chisquare(c).pvalue > 1e-4
    P = np.array([perm(12, s) for s in seeds])
    where = np.zeros((12, 12), int)                  # where[item, position]
    for pos in range(12):
        where[:, pos] = np.bincount(P[:, pos], minlength=12)
    assert stats.chisquare(where.ravel(), ddof=22).pvalue > 1e-4   # rows and columns fixed
    before = (P[:, :, None] < P[:, None, :]).sum(0)[np.triu_indices(12, 1)]
    # each pair of positions: Binomial(24 000, 1/2) over the independent seeds (66 tests)
    assert min(stats.binomtest(int(k), len(seeds)).pvalue for k in before) > 1e-4 / 66


# --- closed form ------------------------------------------------------------------------

@pytest.mark.parametrize("fit", [reference.fit, gdfast.fit], ids=["reference", "native"])
@pytest.mark.parametrize("weighted", [False, True])
def test_least_squares_matches_lstsq(fit, weighted):
    X, y = make_problem("squared", n=200, d=6)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    res = fit(X, y, loss="squared", optimizer="nesterov", learning_rate=0.1, batch_size=None,
              max_epochs=3000, tol=None, alpha=0.0, sample_weight=sw)
    A = np.column_stack([X, np.ones(len(y))])
    s = np.ones(len(y)) if sw is None else np.sqrt(sw)
    sol = np.linalg.lstsq(A * s[:, None], y * s, rcond=None)[0]
    assert rel_err(res.coef, sol[:-1]) < 1e-10
    assert abs(res.intercept - sol[-1]) < 1e-10


def test_ridge_matches_closed_form():
    X, y = make_problem("squared", n=150, d=4)
    alpha = 0.3
    res = reference.fit(X, y, loss="squared", optimizer="momentum", learning_rate=0.1,
                        batch_size=None, max_epochs=3000, tol=None, alpha=alpha)
    # minimise (1/2n)||Xw + b - y||^2 + alpha/2 ||w||^2: centre, then solve
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / len(y) + alpha * np.eye(X.shape[1]), Xc.T @ yc / len(y))
    b = y.mean() - X.mean(0) @ w
    assert rel_err(res.coef, w) < 1e-10 and abs(res.intercept - b) < 1e-10


# --- finite differences -----------------------------------------------------------------

KINKS = {"hinge": [1.0], "squared_hinge": [1.0], "modified_huber": [1.0, -1.0],
         "huber": None, "epsilon_insensitive": None}


@pytest.mark.parametrize("loss", [l for l in LOSSES if l != "multinomial"])
def test_row_loss_derivative_matches_central_differences(loss):
    rng = np.random.default_rng(4)
    p = rng.uniform(-3, 3, 400)
    y = rng.choice([-1.0, 1.0], 400) if loss in BINARY else rng.uniform(-2, 2, 400)
    if loss == "poisson":
        y = np.abs(y) * 2
    eps = 0.5
    h = 1e-6
    # stay away from the kinks, where the derivative is a subgradient
    if loss in ("hinge", "squared_hinge", "modified_huber"):
        m = y * p
        keep = np.min(np.abs(m[:, None] - np.array(KINKS[loss])[None, :]), axis=1) > 1e-3
    elif loss in ("huber", "epsilon_insensitive"):
        keep = np.abs(np.abs(p - y) - eps) > 1e-3
        if loss == "epsilon_insensitive":
            keep &= np.abs(p - y) > 1e-3
    else:
        keep = np.ones_like(p, bool)
    p, y = p[keep], y[keep]
    _, dz = reference.row_loss_dz(loss, p, y, eps)
    lp, _ = reference.row_loss_dz(loss, p + h, y, eps)
    lm, _ = reference.row_loss_dz(loss, p - h, y, eps)
    np.testing.assert_allclose(dz, (lp - lm) / (2 * h), rtol=5e-5, atol=1e-6)


def test_loss_values_against_definitions():
    p = np.array([-2.5, -0.3, 0.0, 0.4, 1.0, 3.0])
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0])

    def val(loss, yy=y, e=0.5):
        return reference.row_loss_dz(loss, p, yy, e)[0]

    np.testing.assert_allclose(val("logistic"), np.log(1 + np.exp(-y * p)), rtol=1e-14)
    np.testing.assert_allclose(val("hinge"), np.maximum(0, 1 - y * p), rtol=1e-14)
    np.testing.assert_allclose(val("squared_hinge"), np.maximum(0, 1 - y * p) ** 2, rtol=1e-14)
    m = y * p
    mh = np.where(m >= 1, 0, np.where(m >= -1, (1 - m) ** 2, -4 * m))
    np.testing.assert_allclose(val("modified_huber"), mh, rtol=1e-14)
    r = p - y
    np.testing.assert_allclose(val("squared"), r ** 2 / 2, rtol=1e-14)
    hub = np.where(np.abs(r) <= 0.5, r ** 2 / 2, 0.5 * np.abs(r) - 0.125)
    np.testing.assert_allclose(val("huber"), hub, rtol=1e-14)
    np.testing.assert_allclose(val("epsilon_insensitive"), np.maximum(0, np.abs(r) - 0.5),
                               rtol=1e-14)
    counts = np.array([0.0, 2.0, 1.0, 0.0, 5.0, 3.0])
    np.testing.assert_allclose(val("poisson", counts), np.exp(p) - counts * p, rtol=1e-14)


def test_softmax_matches_definition_and_differences():
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((50, 4)) * 3
    labels = rng.integers(0, 4, 50)
    loss, dz = reference.softmax_loss_dz(Z, labels)
    np.testing.assert_allclose(loss, -np.log(np.exp(Z[np.arange(50), labels])
                                             / np.exp(Z).sum(1)), rtol=1e-12)
    h = 1e-6
    for k in range(4):
        E = np.zeros_like(Z)
        E[:, k] = h
        fd = (reference.softmax_loss_dz(Z + E, labels)[0]
              - reference.softmax_loss_dz(Z - E, labels)[0]) / (2 * h)
        np.testing.assert_allclose(dz[:, k], fd, rtol=5e-5, atol=1e-7)


@pytest.mark.parametrize("loss", LOSSES)
def test_batch_gradient_matches_finite_differences_of_objective(loss):
    X, y = make_problem(loss, n=40, d=3)
    y_enc, _, K = _problem.prepare_targets(y, loss, len(y), np.dtype(np.float64))
    rng = np.random.default_rng(6)
    theta = 0.2 * rng.standard_normal(K * (X.shape[1] + 1))
    sw = rng.uniform(0.2, 2.0, len(y))
    rows = rng.permutation(len(y))[:25]
    g, _ = reference.batch_gradient(loss, K, 0.7, X, y_enc, sw, rows, theta)

    def objective(th):
        return reference.batch_gradient(loss, K, 0.7, X, y_enc, sw, rows, th)[1] / len(rows)

    h = 1e-6
    fd = np.array([(objective(theta + h * e) - objective(theta - h * e)) / (2 * h)
                   for e in np.eye(theta.size)])
    np.testing.assert_allclose(g, fd, rtol=5e-5, atol=1e-8)


# --- the published update rules, written out one scalar at a time ------------------------

def torch_formula(opt, theta, grads, lrs, *, wd=0.0, momentum=0.0, dampening=0.0,
                  betas=(0.9, 0.999), eps=1e-8, rho=0.99, centered=False, amsgrad=False):
    """torch.optim's algorithms (SGD, Adagrad, RMSprop, Adam, AdamW) for one scalar parameter,
    as documented, with weight_decay=wd."""
    th = float(theta)
    b = m = v = vmax = s = ga = 0.0
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        g = float(g)
        if opt == "adamw":
            th = th - lr * wd * th
        elif wd:
            g = g + wd * th
        if opt in ("sgd", "momentum", "nesterov"):
            if momentum:
                b = g if t == 1 else momentum * b + (1 - dampening) * g
                g = g + momentum * b if opt == "nesterov" else b
            th = th - lr * g
        elif opt == "adagrad":
            s = s + g * g
            th = th - lr * g / (math.sqrt(s) + eps)
        elif opt == "rmsprop":
            v = rho * v + (1 - rho) * g * g
            vt = v
            if centered:
                ga = rho * ga + (1 - rho) * g
                vt = v - ga * ga
            if momentum > 0:
                b = momentum * b + g / (math.sqrt(vt) + eps)
                th = th - lr * b
            else:
                th = th - lr * g / (math.sqrt(vt) + eps)
        else:  # adam, adamw
            b1, b2 = betas
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            mhat = m / (1 - b1 ** t)
            if amsgrad:
                vmax = max(vmax, v)          # torch keeps the max of the raw second moment
                vhat = vmax / (1 - b2 ** t)
            else:
                vhat = v / (1 - b2 ** t)
            th = th - lr * mhat / (math.sqrt(vhat) + eps)
    return th


FORMULA_CASES = [
    ("sgd", dict()), ("momentum", dict(momentum=0.9)),
    ("momentum", dict(momentum=0.7, dampening=0.4)), ("nesterov", dict(momentum=0.9)),
    ("adagrad", dict(eps=1e-10)), ("rmsprop", dict()), ("rmsprop", dict(centered=True)),
    ("rmsprop", dict(momentum=0.5)), ("rmsprop", dict(centered=True, momentum=0.5, rho=0.9)),
    ("adam", dict()), ("adam", dict(amsgrad=True)), ("adamw", dict()),
    ("adamw", dict(amsgrad=True, betas=(0.8, 0.95))),
]


@pytest.mark.parametrize("wd", [0.0, 0.05])
@pytest.mark.parametrize("optimizer,options", FORMULA_CASES)
def test_update_matches_published_formula(optimizer, options, wd):
    rng = np.random.default_rng(7)
    P = 6
    theta0 = rng.standard_normal(P)
    grads = rng.standard_normal((4, P))
    lrs = [0.1, 0.05, 0.2, 0.1]
    opts = dict(options)
    betas = opts.pop("betas", (0.9, 0.999))
    opts.setdefault("eps", 1e-8)
    spec = make_spec(optimizer=optimizer, alpha=wd, beta1=betas[0], beta2=betas[1], **opts)
    theta = theta0.copy()
    state = np.zeros((_options.N_STATE[optimizer], P))
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        reference.update(spec, theta, g, state, P, t, lr)
    expected = [torch_formula(optimizer, theta0[j], grads[:, j], lrs, wd=wd, betas=betas,
                              **opts) for j in range(P)]
    np.testing.assert_allclose(theta, expected, rtol=1e-13, atol=1e-15)


def test_l1_is_a_soft_threshold_after_the_step_and_spares_the_intercept():
    spec = make_spec(optimizer="sgd", alpha=0.5, l1_ratio=1.0)
    theta = np.array([1.0, -0.02, 0.01, 2.0])     # last entry: the intercept
    g = np.array([0.5, 0.0, 0.0, 0.0])
    reference.update(spec, theta, g, np.zeros((0, 4)), 3, 1, 0.1)
    # w - lr*g, then sign(w) max(|w| - lr*alpha*l1_ratio, 0); the intercept is untouched
    np.testing.assert_allclose(theta, [0.95 - 0.05, 0.0, 0.0, 2.0])


def test_adamw_decay_is_decoupled_and_spares_the_intercept():
    spec = make_spec(optimizer="adamw", alpha=0.1)
    theta = np.array([1.0, 1.0])
    state = np.zeros((3, 2))
    reference.update(spec, theta, np.zeros(2), state, 1, 1, 0.5)
    # zero gradient: Adam's step is 0, only the coefficient decays by lr * weight_decay
    np.testing.assert_allclose(theta, [1.0 - 0.5 * 0.1, 1.0])


def test_update_matches_torch_optim_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    theta0 = rng.standard_normal(5)
    grads = rng.standard_normal((5, 5))
    cases = [("sgd", torch.optim.SGD, dict(lr=0.1, weight_decay=0.05), {}),
             ("momentum", torch.optim.SGD,
              dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.05),
              dict(momentum=0.9, dampening=0.2)),
             ("nesterov", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True,
                                               weight_decay=0.05), dict(momentum=0.9)),
             ("adagrad", torch.optim.Adagrad, dict(lr=0.1, weight_decay=0.05), dict(eps=1e-10)),
             ("rmsprop", torch.optim.RMSprop,
              dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.05),
              dict(centered=True, momentum=0.5)),
             ("adam", torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.05),
              dict(amsgrad=True)),
             ("adamw", torch.optim.AdamW, dict(lr=0.01, weight_decay=0.05), {})]
    for name, cls, torch_kw, ours in cases:
        p = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
        opt = cls([p], **torch_kw)
        for g in grads:
            p.grad = torch.tensor(g, dtype=torch.float64)
            opt.step()
        spec = make_spec(optimizer=name, alpha=0.05, **ours)
        theta = theta0.copy()
        state = np.zeros((_options.N_STATE[name], 5))
        for t, g in enumerate(grads, start=1):
            reference.update(spec, theta, g, state, 5, t, torch_kw["lr"])
        np.testing.assert_allclose(theta, p.detach().numpy(), rtol=1e-12, err_msg=name)


# --- schedules ----------------------------------------------------------------------------

def test_optimal_schedule_is_scikit_learns():
    alpha = 1e-3
    spec = make_spec(schedule="optimal", alpha=alpha,
                     optimal_t0=_schedules.optimal_t0("hinge", alpha, 0.1))
    # sklearn/linear_model/_sgd_fast: typw = sqrt(1/sqrt(alpha));
    # eta0 = typw / max(1, dloss(1, -typw))
    # optimal_init = 1 / (eta0 * alpha); eta = 1 / (alpha * (optimal_init + t - 1))
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    optimal_init = 1.0 / (typw * alpha)          # hinge: dloss(1, -typw) = -1 -> max(1, -1) = 1
    for t in (1, 2, 10, 1000):
        expected = 1 / (alpha * (optimal_init + t - 1))
        assert reference.step_lr(spec, 0.0, t) == pytest.approx(expected, rel=1e-14)


def test_invscaling_schedule():
    spec = make_spec(schedule="invscaling", power_t=0.25)
    assert reference.step_lr(spec, 0.5, 16) == pytest.approx(0.5 / 2.0, rel=1e-15)


@pytest.mark.parametrize("schedule,kw,expected", [
    ("constant", {}, lambda e: 0.1),
    ("exponential", dict(gamma=0.5), lambda e: 0.1 * 0.5 ** e),
    ("step", dict(gamma=0.1, step_size=2), lambda e: 0.1 * 0.1 ** (e // 2)),
    ("cosine", {}, lambda e: 0.1 * (1 + math.cos(math.pi * e / 5)) / 2),
])
def test_per_epoch_schedules_report_their_rate(schedule, kw, expected):
    X, y = make_problem("squared")
    seen = []
    gdfast.fit(X, y, learning_rate=0.1, schedule=schedule, max_epochs=5, tol=None,
               callback=lambda rec: seen.append(rec["learning_rate"]), **kw)
    np.testing.assert_allclose(seen, [expected(e) for e in range(5)], rtol=1e-14)


def test_plateau_divides_the_rate_by_five_and_stops_below_1e_6():
    X, y = make_problem("squared")
    seen = []
    res = gdfast.fit(X, y, learning_rate=0.01, schedule="plateau", tol=1e9,
                     n_iter_no_change=2, max_epochs=100,
                     callback=lambda rec: seen.append(rec["learning_rate"]))
    # epoch 1 improves on +inf (as in scikit-learn); from then on no epoch improves by tol,
    # so the rate drops by 5 after every 2 epochs while it is above 1e-6, and the plateau
    # after that stops the fit (sklearn/linear_model/_sgd_fast.pyx, learning_rate="adaptive")
    expected = [0.01 / 5 ** max(0, (e - 1) // 2) for e in range(len(seen))]
    np.testing.assert_allclose(seen, expected, rtol=1e-14)
    assert res.converged and seen[-1] <= 1e-6 < seen[-1] * 5
    assert seen[-1] == seen[-2]          # a whole plateau at the last rate before stopping

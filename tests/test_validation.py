"""Bad input gets a clear error naming the argument, before any kernel runs."""
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
    ("unknown optimizer", X, Y, dict(optimizer="bfgs"), ValueError, "'lbfgs'"),
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


sp = pytest.importorskip("scipy.sparse")


def _csr(mutate=None, X_=XC):
    """A CSR copy of X_ (a few entries zeroed), with its arrays changed by mutate."""
    A = X_.copy()
    A[np.abs(A) < 0.5] = 0
    M = sp.csr_matrix(A)
    if mutate is not None:
        mutate(M)
    return M


def _set(attr, i, value):
    def mutate(M):
        getattr(M, attr)[i] = value
    return mutate


def _entry_row(M, e):
    return int(np.searchsorted(M.indptr, e, side="right") - 1)


_CSR = _csr()
_E = int(_CSR.indptr[4]) + 1            # an entry of row 4 (rows 0-3 are not empty)
assert _entry_row(_CSR, _E) == 4

BAD += [
    ("sparse NaN", _csr(_set("data", _E, np.nan)), YC, {}, ValueError,
     f"X contains NaN (first at row 4, column {_CSR.indices[_E]})"),
    ("sparse inf", _csr(_set("data", _E, np.inf)), YC, {}, ValueError,
     f"X contains infinity (first at row 4, column {_CSR.indices[_E]})"),
    ("sparse index too large", _csr(_set("indices", _E, 3)), YC, {}, ValueError,
     "column index 3 in row 4 is outside [0, 3)"),
    ("sparse negative index", _csr(_set("indices", _E, -1)), YC, {}, ValueError,
     "column index -1 in row 4 is outside [0, 3)"),
    ("sparse indptr decreasing", _csr(_set("indptr", 5, 0)), YC, {}, ValueError,
     "indptr decreases at row 4 (8 -> 0)"),
    ("sparse indptr start", _csr(_set("indptr", 0, 1)), YC, {}, ValueError,
     "indptr[0] is 1, expected 0"),
    ("sparse indptr past the end", _csr(_set("indptr", -1, 10 ** 6)), YC, {}, ValueError,
     "indptr[-1] = 1000000 but indices has"),
    ("sparse no rows", sp.csr_matrix((0, 3)), YC[:0], {}, ValueError,
     "at least 1 sample and 1 feature"),
    ("sparse no features", sp.csr_matrix((20, 0)), YC, {}, ValueError,
     "at least 1 sample and 1 feature"),
    ("sparse complex", _csr().astype(complex), YC, {}, ValueError, "complex data"),
    ("sparse y", XC, sp.csr_matrix(YC[:, None]), {}, TypeError, "got a sparse matrix"),
    ("sparse length mismatch", _csr(), YC[:-1], {}, ValueError, "X has 20 samples, y has 19"),
    ("unknown parallel", _csr(), YC, dict(parallel="threads"), ValueError,
     "parallel='threads' is not valid; expected one of 'deterministic', 'hogwild'"),
    ("unknown sparse_updates", _csr(), YC, dict(sparse_updates="sparse"), ValueError,
     "sparse_updates='sparse' is not valid; expected one of 'dense', 'lazy'"),
    ("hogwild on dense X", XC, YC, dict(parallel="hogwild"), ValueError,
     "parallel='hogwild' needs a sparse X"),
    ("hogwild adam without lazy", _csr(), YC, dict(parallel="hogwild", optimizer="adam"),
     ValueError, "needs sparse_updates='lazy'"),
    ("hogwild momentum with L1", _csr(), YC,
     dict(parallel="hogwild", optimizer="momentum", l1_ratio=0.5), ValueError,
     "does not support an L1 penalty"),
]


@pytest.mark.parametrize("fit", [gdfast.fit, gdfast.reference.fit], ids=["native", "reference"])
@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_rejected_with_a_clear_message(case, fit):
    _, X_, y_, kw, exc, fragment = case
    with pytest.raises(exc) as info:
        fit(X_, y_, max_epochs=kw.pop("max_epochs", 2), **kw) if "max_epochs" not in kw else \
            fit(X_, y_, **kw)
    assert fragment in str(info.value), str(info.value)


def test_malformed_csr_is_caught_before_the_kernel_would_read_out_of_bounds():
    """The kernels trust the CSR structure (checking it per epoch would cost a pass); the
    validation must therefore reject every structure that could make them read out of
    bounds.  Each mutation of a valid matrix is rejected, and the matrix is not modified."""
    for mutate in (_set("indices", 0, 3), _set("indices", 0, -5), _set("indptr", 1, 99),
                   _set("indptr", -1, -1), _set("indptr", 3, 1)):
        M = _csr(mutate)
        before = (M.data.copy(), M.indices.copy(), M.indptr.copy())
        with pytest.raises(ValueError, match="malformed CSR matrix"):
            gdfast.fit(M, YC, loss="logistic", max_epochs=1)
        for a, b in zip(before, (M.data, M.indices, M.indptr), strict=True):
            np.testing.assert_array_equal(a, b)


def test_labels_of_any_type_for_classification():
    y = np.where(YC == 7, "spam", "ham")
    res = gdfast.fit(XC, y, loss="logistic", max_epochs=3)
    np.testing.assert_array_equal(res.classes, ["ham", "spam"])
    assert set(res.predict(XC)) <= {"ham", "spam"}


# the native finite check (gd_all_finite): fixed blocks of 2**16 entries, threads over blocks
_FINITE_BLOCK = 1 << 16


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
def test_native_finite_check_matches_isfinite(dtype, n_threads):
    """gdfast._kernels.all_finite against np.isfinite(x).all() (the oracle): sizes around the
    block size, each non-finite value at the first entry, on both sides of a block boundary
    (one block per thread) and in the unrolled loop's tail; the largest finite values (a sum of
    them would overflow) are finite."""
    rng = np.random.default_rng(0)
    n = 3 * _FINITE_BLOCK + 37
    x = rng.standard_normal(n).astype(dtype)
    for m in (0, 1, 31, 33, _FINITE_BLOCK, _FINITE_BLOCK + 1, n):
        assert gdfast._kernels.all_finite(x[:m], n_threads) is True
    for bad in (np.nan, np.inf, -np.inf):
        for pos in (0, _FINITE_BLOCK - 1, _FINITE_BLOCK, 2 * _FINITE_BLOCK + 5, n - 1):
            z = x.copy()
            z[pos] = bad
            assert not np.isfinite(z).all()
            assert gdfast._kernels.all_finite(z, n_threads) is False, (bad, pos)
    big = np.full(n, np.finfo(dtype).max, dtype=dtype)
    big[::2] *= -1
    assert gdfast._kernels.all_finite(big, n_threads) is True


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
def test_nonfinite_x_across_blocks_is_located(dtype, n_threads):
    """A NaN in the last block of an X read by two threads is found and named; X with the
    largest finite values passes the check (and then the fit diverges, with its own error)."""
    X = np.random.default_rng(1).standard_normal((5000, 40)).astype(dtype)  # 200 000 entries
    y = (X[:, 0] > 0).astype(int)
    Xn = X.copy()
    Xn[4990, 17] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN \(first at row 4990, column 17\)"):
        gdfast.fit(Xn, y, loss="logistic", max_epochs=1, n_threads=n_threads)
    Xn = X.copy()
    Xn[1700, 3] = np.inf                                    # in the second block
    with pytest.raises(ValueError, match=r"X contains infinity \(first at row 1700, column 3\)"):
        gdfast.fit(Xn, y, loss="logistic", max_epochs=1, n_threads=n_threads)
    Xb = np.full_like(X, np.finfo(dtype).max)
    with pytest.raises(gdfast.DivergenceError):
        gdfast.fit(Xb, y, loss="squared", max_epochs=1, n_threads=n_threads)


def test_finite_check_of_other_layouts():
    """Arrays the native check does not take (non-contiguous, other dtypes) go through the
    sum, and are still located."""
    from gdfast._validation import check_finite
    a = np.arange(12.0).reshape(3, 4)[:, ::2]              # a strided view
    check_finite(a, "a")
    b = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    b[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"b contains NaN \(first at row 1, column 2\)"):
        check_finite(b, "b")
    h = np.array([1, np.inf], dtype=np.float16)
    with pytest.raises(ValueError, match="h contains infinity"):
        check_finite(h, "h")

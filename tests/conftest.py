"""Shared fixtures: problems for every loss, spec factories, and the kernel layout switch."""
import numpy as np
import pytest

from gdfast import _options, _problem

LOSSES = tuple(_options.LOSSES)
OPTIMIZERS = tuple(_options.OPTIMIZERS)
DTYPES = (np.float32, np.float64)

# Learning rates that keep every optimizer stable on the test problems below.
TEST_LR = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.1, "rmsprop": 0.01,
           "adam": 0.01, "adamw": 0.01}


def make_problem(loss, n=70, d=5, n_classes=3, dtype=np.float64, seed=0):
    """X, y for a loss: a planted linear model with noise, features of mixed scale."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(0.5, 1.5, d)
    w = rng.standard_normal(d)
    z = X @ w + 0.3
    if loss == "multinomial":
        W = rng.standard_normal((n_classes, d))
        y = np.argmax(X @ W.T + rng.gumbel(size=(n, n_classes)), axis=1)
        if n_classes <= 5:
            y = np.array(["ant", "bee", "cat", "dog", "eel"])[y]  # string labels on purpose
    elif loss in _options.BINARY_LOSSES:
        y = np.where(z + 0.5 * rng.standard_normal(n) > 0, 7, -3)  # any two labels
    elif loss == "poisson":
        X *= 0.3
        y = rng.poisson(np.exp(0.3 * (X @ w) + 0.2)).astype(float)
    else:
        y = z + 0.2 * rng.standard_normal(n)
    return X.astype(dtype), y


def make_spec(**overrides):
    """A Spec with defaults, for calling the kernels and the reference blocks directly."""
    base = dict(loss="squared", epsilon=0.1, optimizer="sgd", momentum=0.0, dampening=0.0,
                beta1=0.9, beta2=0.999, eps=1e-8, rho=0.99, centered=False, amsgrad=False,
                alpha=0.0, l1_ratio=0.0, fit_intercept=True, clip_norm=0.0, schedule="constant",
                learning_rate=0.01, power_t=0.5, gamma=0.1, step_size=10, optimal_t0=0.0,
                batch_size=8)
    base.update(overrides)
    return _problem.Spec(**base)


def run_cli(capsys, *argv):
    """(exit status, stdout, stderr) of the gdfast command line, run in this process."""
    from gdfast import cli
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def rel_err(a, b):
    """max |a - b| relative to the scale of b (at least 1e-3 so zero vectors compare)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-3))


@pytest.fixture(params=["default", "small_blocks"])
def layout(request, monkeypatch):
    """'small_blocks' cuts batches into 4-row blocks and opens threads for any work, so tiny
    test problems exercise the parallel reduction; 'default' is the shipped layout."""
    if request.param == "small_blocks":
        monkeypatch.setitem(_options.LAYOUT, "block_rows", 4)
        monkeypatch.setitem(_options.LAYOUT, "min_parallel_work", 0)
    return request.param


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setitem(_options.LAYOUT, "block_rows", 4)
    monkeypatch.setitem(_options.LAYOUT, "min_parallel_work", 0)

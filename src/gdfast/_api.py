"""gdfast.fit, the public entry point: its signature, types and documentation, and run_fit,
the same fit on any engine (the numpy reference's fit, the estimators, continued fits).

The arguments are validated in _problem.py and the epochs run by _driver.py; this file says
what the function takes and returns, and hands the arguments from one to the other.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gdfast import _auto
from gdfast._driver import averaged_theta, drive
from gdfast._lbfgs import LbfgsEngine
from gdfast._native import NativeEngine
from gdfast._options import QUASI_NEWTON
from gdfast._problem import prepare
from gdfast._result import DivergenceError, FitResult, TrainingState
from gdfast._validation import MatrixLike

# what fit calls after each epoch: it gets the epoch's record, and True stops the fit
EpochCallback = Callable[[dict[str, Any]], bool | None]


def fit(X: MatrixLike, y: ArrayLike, *, loss: str = "squared", optimizer: str = "auto",
        learning_rate: float | str = "auto", schedule: str = "auto",
        batch_size: int | str | None = "auto", max_epochs: int = 1000,
        tol: float | str | None = "auto", n_iter_no_change: int = 5,
        alpha: float = 1e-4, l1_ratio: float = 0.0, fit_intercept: bool = True,
        shuffle: bool = True, random_state: int | np.random.Generator | None = None,
        coef_init: ArrayLike | None = None, intercept_init: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None, epsilon: float = 0.1,
        momentum: float | None = None, dampening: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999), eps: float | None = None,
        rho: float = 0.99, centered: bool = False, amsgrad: bool = False,
        power_t: float = 0.5, gamma: float | None = None, step_size: int = 10,
        clip_norm: float | None = None, average: bool | int = False,
        n_threads: int | None = None, parallel: str = "deterministic",
        sparse_updates: str = "dense", verbose: int = 0,
        callback: EpochCallback | None = None) -> FitResult:
    """Fit a linear model by gradient descent.

    The native kernels run each epoch in C, on ``n_threads`` OpenMP threads, with results
    that do not depend on the thread count.  :func:`gdfast.reference.fit` is the same
    function written in plain numpy.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        The training data.  float32 data is fitted in float32 (coefficients too), float64
        in float64; any other numeric dtype is converted to float64 once.  A C-contiguous
        array of the right dtype is never copied.  Sparse input is used as CSR: a CSR
        matrix or array with float32/float64 values and int32/int64 indices is used in
        place (unsorted and repeated column indices are fine); CSC, COO and the other
        formats are converted with ``.tocsr()`` once.
    y : array-like of shape (n_samples,)
        Targets; any two labels for a binary loss (the larger, in sorted order, is the
        positive class), K >= 2 labels for ``"multinomial"``.
    loss : {"squared", "logistic", "hinge", "squared_hinge", "modified_huber", "huber", \
"epsilon_insensitive", "poisson", "multinomial"}, default="squared"
        The loss per row.  ``"poisson"`` has a log link; ``"multinomial"`` is the softmax
        cross-entropy over K classes.
    optimizer : {"auto", "lbfgs", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", \
"adam", "adamw"}, default="auto"
        ``"auto"``: ``"lbfgs"`` for the smooth losses (every loss but ``"hinge"`` and
        ``"epsilon_insensitive"``) when no batch_size, learning_rate or schedule is given,
        ``"sgd"`` otherwise.
        ``"lbfgs"``: full-batch limited-memory BFGS (orthant-wise with an L1 penalty) on
        column-scaled coordinates, each trial step one pass of the fused gradient; one
        iteration counts as an epoch and a step.  The others: torch.optim's update rules;
        the options of other optimizers are ignored.  See :doc:`guide/auto`.
    learning_rate : float > 0 or "auto", default="auto"
        The base rate (unused by ``schedule="optimal"`` and by ``"lbfgs"``).  ``"auto"``:
        derived from the data, 1 / L for a full batch and 1 / (2 L_b) for batches of b rows,
        with L the loss's smoothness constant times the largest eigenvalue of the weighted
        Gram matrix (power iterations) and L_b its mini-batch counterpart (row norms); torch's
        default rates for the adaptive optimizers.  Safeguarded: an epoch that diverges or
        ends above the starting objective is undone and retried at a quarter of the rate.
        The rate used is ``FitResult.learning_rate``.
    schedule : {"auto", "constant", "invscaling", "optimal", "exponential", "step", "cosine", \
"plateau"}, default="auto"
        ``"auto"``: with ``learning_rate="auto"`` and batches smaller than the data,
        ``"plateau"`` that stops once the rate has fallen to 1e-4 of its start; otherwise
        constant.  invscaling: lr / t**power_t and optimal:
        1 / (alpha (t0 + t - 1)) per step t; exponential: lr * gamma**epoch; step:
        lr * gamma**(epoch // step_size); cosine: lr * (1 + cos(pi epoch / max_epochs)) / 2;
        plateau: lr / 5 each time the loss fails to improve by tol for n_iter_no_change epochs
        while lr > 1e-6; the next such plateau stops the fit (scikit-learn's "adaptive").
    batch_size : int >= 1, None or "auto", default="auto"
        1: stochastic; b: mini-batch (the last, partial batch of an epoch is used); None:
        full batch.  A batch_size larger than n_samples is a full batch.  ``"auto"``: full
        batch for ``"lbfgs"``, 32 otherwise.
    max_epochs : int >= 1, default=1000
        The most epochs to run.
    tol : float >= 0, None or "auto", default="auto"
        First-order optimizers: stop when the epoch loss has not improved by tol for
        n_iter_no_change epochs in a row (``"auto"``: 1e-3).  ``"lbfgs"``: stop when an
        iteration lowers the objective by less than tol times its value (``"auto"``: 1e-9;
        near the optimum L-BFGS converges linearly or faster, so the objective is then within
        a small multiple of that of its minimum), or when no step can lower it at the
        precision of the dtype.  None runs all max_epochs.
    n_iter_no_change : int >= 1, default=5
        See tol (first-order optimizers).
    alpha : float >= 0, default=1e-4
        Penalty alpha * ((1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1) on the
        coefficients (never the intercept).  The L2 part enters the gradient (torch's
        weight_decay), except for adamw, where it is the decoupled decay lr * l2 * w; the L1
        part is a soft-threshold by lr * alpha * l1_ratio after each step.
    l1_ratio : float in [0, 1], default=0.0
        The L1 share of the penalty, see alpha.
    fit_intercept : bool, default=True
        With False the intercept stays at intercept_init (0 by default).
    shuffle : bool, default=True
        Each epoch visits the rows in a new uniformly random order (a Fisher-Yates shuffle
        seeded by one 64-bit draw from ``np.random.default_rng(random_state)``).  A full
        batch is not shuffled (the order of its rows would change only the rounding), and
        draws no permutation.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the row orders; an int makes the fit reproducible.
    coef_init : array-like or None, default=None
        Initial coefficients, shape (n_features,), or (n_classes, n_features) for
        ``"multinomial"``; zeros by default.
    intercept_init : float, array-like or None, default=None
        Initial intercept, a scalar, or shape (n_classes,) for ``"multinomial"``; 0 by
        default.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Non-negative; the batch gradient is the mean over the batch of
        sample_weight[i] * grad loss_i.
    epsilon : float >= 0, default=0.1
        The width of ``"huber"`` and ``"epsilon_insensitive"``.
    momentum : float in [0, 1) or None, default=None
        None: 0.9 for ``"momentum"`` and ``"nesterov"``, 0 for ``"rmsprop"`` (torch's
        default).
    dampening : float in [0, 1], default=0.0
        The dampening of torch.optim.SGD (``"momentum"``; ``"nesterov"`` needs 0).
    betas : tuple of two floats in [0, 1), default=(0.9, 0.999)
        Adam's and AdamW's coefficients of the running averages.
    eps : float > 0 or None, default=None
        Added to the denominator of the adaptive optimizers; None is the optimizer's
        torch default (1e-10 for adagrad, 1e-8 otherwise).
    rho : float in [0, 1), default=0.99
        RMSprop's smoothing constant (torch's alpha).
    centered : bool, default=False
        RMSprop's centered variant.
    amsgrad : bool, default=False
        Adam's and AdamW's AMSGrad variant.
    power_t : float, default=0.5
        The exponent of ``"invscaling"``.
    gamma : float in (0, 1] or None, default=None
        The decay of ``"step"`` and ``"exponential"``; None: 0.1 for ``"step"``, 0.95 for
        ``"exponential"``.
    step_size : int >= 1, default=10
        Epochs per decay for ``"step"``.
    clip_norm : float > 0 or None, default=None
        Scale each batch gradient g (the data term, before the penalty) by
        min(1, clip_norm / (||g|| + 1e-6)), as ``torch.nn.utils.clip_grad_norm_``.
    average : bool or int >= 0, default=False
        Polyak-Ruppert averaging (scikit-learn's ``average``, torch's ASGD): the result's
        coefficients and intercept are the mean of the parameters after every step from
        step ``average`` on (True: from the first step; an int counts optimizer steps, the
        same as scikit-learn's count of samples for ``batch_size=1``).  The steps
        themselves, the loss history and the stopping rule follow the un-averaged
        parameters, which a continued fit resumes from.  With ``optimizer="auto"`` it
        asks for per-batch steps (``"sgd"``) and a constant rate.  Not with ``"lbfgs"``,
        ``parallel="hogwild"`` or ``sparse_updates="lazy"``.  On sparse X plain ``"sgd"``
        without L1 keeps the mean lazily, in O(nnz of the batch) per step; with the other
        optimizers or with L1 every coefficient takes every step (O(n_features) per step).
    n_threads : int or None, default=None
        None: all the threads OpenMP would use (honours OMP_NUM_THREADS and threadpoolctl);
        negative: counted from the end (-1 = all).  Results do not depend on it, except
        with ``parallel="hogwild"``.
    parallel : {"deterministic", "hogwild"}, default="deterministic"
        ``"hogwild"`` (sparse X only): the threads run over disjoint shards of each epoch's
        row order and update the shared parameters without locks (Niu et al., 2011).
        Faster for per-sample and small-batch steps on sparse data; the results vary from
        run to run.  Adaptive optimizers need ``sparse_updates="lazy"`` with it, and
        momentum and nesterov do not support l1_ratio > 0 with it.
    sparse_updates : {"dense", "lazy"}, default="dense"
        For sparse X and the adaptive optimizers (adagrad, rmsprop, adam, adamw).
        ``"dense"``: every coefficient takes every step, exactly as on ``X.toarray()``
        (O(n_features) per step).  ``"lazy"``: only the coefficients of the features
        present in the batch's rows (an explicitly stored zero counts as present) take the
        step, with their penalty term and moments; the others are left as they are
        (TensorFlow's LazyAdam); O(nnz of the batch) per step.  sgd, momentum and nesterov
        always give the ``"dense"`` result, in O(nnz) per step where a closed form exists.
    verbose : int, default=0
        > 0 prints a line per epoch: epoch, loss, learning rate, time.
    callback : callable or None, default=None
        Called after each epoch with a dict (epoch, loss, learning_rate, n_steps, time,
        coef, intercept: read-only views of the current parameters); returning True stops
        the fit.  An epoch that the safeguard of ``learning_rate="auto"`` takes back is run
        and reported again.

    Returns
    -------
    FitResult
        The parameters, the loss per epoch, and the model's predictions.

    Raises
    ------
    TypeError
        If an option has the wrong type (a float for max_epochs, a string for alpha, ...).
    ValueError
        If an option is out of its range or not one of its choices, or X, y,
        sample_weight, coef_init or intercept_init have the wrong shape or dtype, contain
        NaN or infinity, or do not suit the loss.
    DivergenceError
        If the loss or the parameters become NaN or infinite; it holds the result so far.

    Examples
    --------
    >>> import numpy as np
    >>> import gdfast
    >>> from gdfast.datasets import make_classification
    >>> X, y = make_classification(n_samples=1000, n_features=5)
    >>> res = gdfast.fit(X, y, loss="logistic")          # nothing to tune
    >>> res.optimizer, res.converged
    ('lbfgs', True)
    >>> options = dict(loss="logistic", optimizer="adam", learning_rate=0.01, random_state=0)
    >>> res = gdfast.fit(X, y, **options)
    >>> res.coef.shape, res.classes
    ((5,), array([0, 1]))
    >>> float(np.mean(res.predict(X) == y)) > 0.6       # the accuracy
    True
    >>> ref = gdfast.reference.fit(X, y, **options)      # the same fit in plain numpy
    >>> np.allclose(ref.coef, res.coef)
    True
    """
    options = dict(locals())        # the arguments by name: nothing else is local yet
    del options["X"], options["y"]
    return run_fit(NativeEngine, X, y, options)


fit.__module__ = "gdfast"           # its public name, for help(), pickle and the docs

FIT_SIGNATURE = inspect.signature(fit)


def setup(X, y, options: dict[str, Any], *, native: bool = True,
          resume: TrainingState | None = None, classes=None, incremental: bool = False,
          load=None):
    """The validated Setup (problem, spec, initial parameters and state) of
    gdfast.fit(X, y, **options): what an engine starts from.

    Options left out take fit's defaults; an unknown one is a TypeError, as for fit.
    native: whether the native engine runs the fit (X is checked on its threads).
    resume, classes, incremental, load: as for run_fit."""
    try:
        bound = FIT_SIGNATURE.bind(X, y, **options)
    except TypeError as exc:
        raise TypeError(f"fit() {exc}") from None
    bound.apply_defaults()
    arguments = bound.arguments
    del arguments["X"], arguments["y"]
    return prepare(X, y, arguments, native=native, resume=resume, classes=classes,
                   incremental=incremental, load=load)


def run_fit(engine_cls, X, y, options: dict[str, Any], *,
            resume: TrainingState | None = None, horizon: int | None = None,
            classes=None, incremental: bool = False, load=None, progress=None) -> FitResult:
    """gdfast.fit(X, y, **options) on an engine of class engine_cls.

    resume: a TrainingState to continue from (coef_init and intercept_init are then ignored;
    the data must have the same number of features and outputs).  horizon: the epoch count
    that per-epoch schedules plan for (cosine), when it is not max_epochs (partial_fit).
    classes, incremental, load: see _problem.prepare.  progress: progress(done, total) called
    within each epoch of a native or streamed mini-batch fit (gdfast train's bar)."""
    s = setup(X, y, options, native=getattr(engine_cls, "native", False), resume=resume,
              classes=classes, incremental=incremental, load=load)
    engine = engine_cls(s.problem, s.spec, s.theta, s.n_threads, opt_state=s.opt_state, t=s.t)
    if progress is not None:
        engine.progress = progress
    if s.spec.auto_lr and math.isnan(s.spec.learning_rate):
        lr = _auto.learning_rate(engine, s.problem, s.spec)
        spec = dataclasses.replace(s.spec, learning_rate=lr, plateau_floor=(
            lr * _auto.AUTO_PLATEAU_RANGE if s.spec.auto_schedule else s.spec.plateau_floor))
        engine.spec = spec
        s = dataclasses.replace(s, spec=spec)
    if s.spec.optimizer in QUASI_NEWTON:
        K, d = s.problem.n_outputs, s.problem.d
        # not from coefficients the user gave (coef_init): a fit seeded near its optimum
        # would pay the epoch, and then most likely go on from the seed
        warm = (s.spec.auto_optimizer and getattr(engine_cls, "can_warm_start", False)
                and not s.theta[:K * d].any() and _auto.may_warm_start(s.problem, s.spec))
        lbfgs = LbfgsEngine(engine, s.tol, first_gradient=not warm)
        if warm:
            rate = _auto.warm_start_plan(lbfgs, s.spec)
            if rate is not None:
                return warm_started(engine_cls, lbfgs, s, rate, progress)
        engine = lbfgs
    return drive(engine, s, resume=resume, horizon=horizon)


def warm_started(engine_cls, lbfgs, s, rate, progress):
    """optimizer="auto"'s L-BFGS fit from one epoch of averaged SGD at `rate`, on batches of
    _auto.WARM_BATCH rows (_auto.warm_start_plan says when and why): the epoch runs through
    the driver like any SGD epoch (safeguard, verbose output, callback), and L-BFGS goes on
    from its mean, or from the start where the mean is no lower (res.warm_start's
    from_mean).  An epoch that the safeguard cannot keep finite within _auto.WARM_RETRIES
    reductions leaves L-BFGS to run alone."""
    t_start = time.perf_counter()
    f0 = lbfgs.start_value()
    if not np.isfinite(f0):         # not finite at the start: L-BFGS's own safeguards
        return drive(lbfgs, s)
    lbfgs.fallback = (lbfgs._from_theta(lbfgs.theta), f0)
    # plain averaged SGD whatever first-order options came with the call (L-BFGS reads none
    # of them): no clipping; rows shuffled from a fixed seed, so that the defaults stay as
    # deterministic as L-BFGS alone, whatever random_state and shuffle say
    spec = dataclasses.replace(s.spec, optimizer="sgd", batch_size=_auto.WARM_BATCH,
                               schedule="constant", learning_rate=rate, auto_lr=True,
                               auto_schedule=False, average=1, momentum=0.0, dampening=0.0,
                               clip_norm=0.0)
    stop = []

    def callback(record):
        asked = s.callback(record) is True
        if asked:
            stop.append(True)
        return asked

    warm_setup = dataclasses.replace(s, spec=spec, max_epochs=1, tol=None, shuffle=True,
                                     rng=np.random.default_rng(_auto.WARM_SEED),
                                     callback=None if s.callback is None else callback)
    engine = engine_cls(s.problem, spec, s.theta.copy(), s.n_threads, t=s.t)
    if progress is not None:
        engine.progress = progress
    try:
        warm = drive(engine, warm_setup, start_loss=f0, max_retries=_auto.WARM_RETRIES)
    except DivergenceError:         # the safeguard ran out of rates: L-BFGS from the start
        lbfgs.fallback = None
        return drive(lbfgs, s)
    lbfgs.theta[...] = averaged_theta(engine, spec, s.problem)
    lbfgs.t = engine.t
    if s.verbose:
        print(f"gdfast: lbfgs from the mean of {warm.n_epochs} epoch of sgd (batch "
              f"{spec.batch_size}, learning rate {warm.learning_rate:.4g})", flush=True)
    res = drive(lbfgs, dataclasses.replace(s, max_epochs=warm.n_epochs) if stop else s,
                warm=(warm, t_start))
    res.warm_start = dict(optimizer="sgd", batch_size=spec.batch_size,
                          learning_rate=warm.learning_rate, average=True,
                          epochs=warm.n_epochs, from_mean=not lbfgs.warm_discarded)
    return res

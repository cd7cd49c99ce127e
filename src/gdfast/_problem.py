"""What a fit is about, validated: the data (Problem), the hyperparameters the engines read
(Spec), and prepare(), which turns the arguments of gdfast.fit into them (with the start
point and the driver's settings, a Setup).

Targets are encoded here for the kernels (+1/-1 for binary losses, class indices for
multinomial), sample weights and initial parameters checked against the data.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gdfast import _auto, _kernels
from gdfast._losses import poisson_ylogy
from gdfast._options import (
    ADAPTIVE_OPTIMIZERS,
    CLASSIFICATION_LOSSES,
    DEFAULT_EPS,
    DEFAULT_GAMMA,
    EPOCH_RATE,
    LAYOUT,
    LOSSES,
    OPTIMIZER_NAMES,
    OPTIMIZERS,
    PARALLEL,
    PLATEAU_MIN_LR,
    QUASI_NEWTON,
    SCHEDULES,
    SHARES,
    SPARSE_UPDATES,
    STEP_RULES,
)
from gdfast._result import TrainingState
from gdfast._schedules import optimal_t0
from gdfast._threads import effective_n_threads
from gdfast._validation import (
    CSR,
    as_float_2d,
    check_bool,
    check_choice,
    check_finite,
    check_int,
    check_real,
    check_sample_weight,
    check_some_positive,
    is_sparse,
)


@dataclass(frozen=True)
class Problem:
    """The immutable data of a fit, validated and in the kernels' layout."""
    X: np.ndarray | CSR      # (n, d) C-contiguous float32/float64, or validated CSR arrays
    y: np.ndarray            # (n,) of X's dtype: +1/-1, class index, or the target
    sw: np.ndarray | None    # (n,) of X's dtype, or None for unit weights
    n_outputs: int           # K
    classes: np.ndarray | None
    y_const: float           # row-loss terms that depend on y only (poisson), mean per row

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n(self):
        return self.X.shape[0]

    @property
    def d(self):
        return self.X.shape[1]

    @property
    def n_params(self):
        return self.n_outputs * (self.d + 1)

    @property
    def sparse(self):
        return isinstance(self.X, CSR)

    @property
    def nnz(self):
        """The stored entries of X (n d when dense)."""
        return self.X.nnz if self.sparse else self.n * self.d

    # -- the statistics of the data that the "auto" options read (a distributed problem,
    # gdfast.dask, computes the same ones block by block) ---------------------------------

    def column_moments(self, n_threads=None, residuals=None):
        """(sum_i sw_i x_ij, sum_i sw_i x_ij^2, sum_i sw_i, G) in float64 (NaN or inf where a
        column's values overflow), G (K x d) = sum_i R_ik x_ij for residuals R (n x K, float64:
        with the loss derivatives at coefficients zero, sw included, n times the gradient
        there), None without them.  n_threads: X is then read by the native kernel
        (gd_dense_moments: the moments and G in one read; gd_csr_moments: the moments, G by
        scipy; the same bits for every thread count); None: by numpy and scipy, as the numpy
        reference reads it."""
        X, n = self.X, self.n
        weights = None if self.sw is None else self.sw.astype(np.float64)
        R = None if residuals is None else np.ascontiguousarray(residuals, dtype=np.float64)
        G = None
        with np.errstate(invalid="ignore", over="ignore"):
            if n_threads is not None and self.sparse:
                s1, s2 = _kernels.csr_moments(
                    X.data, X.indices, X.indptr, self.d,
                    self.sw if self.sw is not None else np.empty(0, dtype=X.data.dtype),
                    n_threads)
                if R is not None:
                    G = np.asarray(X.matrix.T @ R, dtype=np.float64).T
            elif n_threads is not None:
                out = _kernels.dense_moments(
                    X, self.sw if self.sw is not None else np.empty(0, dtype=X.dtype),
                    n_threads, R)
                s1, s2, G = out[0], out[1], None if R is None else out[2:]
            elif self.sparse:
                # two transposed products over the CSR arrays, in float64: no copy of the
                # indices (np.bincount would widen int32 ones), one of the data (its squares)
                w = np.ones(n) if weights is None else weights
                M, nnz = X.matrix, X.nnz
                s1 = np.asarray(M.T @ w, dtype=np.float64)
                squares = type(M)((np.square(X.data[:nnz]), X.indices[:nnz], X.indptr),
                                  shape=M.shape)
                s2 = np.asarray(squares.T @ w, dtype=np.float64)
                if R is not None:
                    G = np.asarray(M.T @ R, dtype=np.float64).T
            else:
                if weights is None:
                    s1 = X.sum(axis=0, dtype=np.float64)
                    s2 = np.einsum("ij,ij->j", X, X, dtype=np.float64)
                else:
                    s1 = weights @ X if X.dtype == np.float64 else weights @ X.astype(np.float64)
                    s2 = np.einsum("ij,ij,i->j", X, X, weights, dtype=np.float64)
                if R is not None:
                    G = R.T @ (X if X.dtype == np.float64 else X.astype(np.float64))
        return s1, s2, float(n if weights is None else weights.sum()), G

    def sample_rows(self, rows):
        """(X[rows] as a dense float64 array, sw[rows] in float64 or None) for sorted row
        indices (dense X)."""
        sw = None if self.sw is None else self.sw[rows].astype(np.float64)
        return self.X[rows].astype(np.float64), sw

    def max_row_norm(self, fit_intercept):
        """max_i sw_i (||x_i||^2 + 1 for the intercept), float64."""
        X = self.X
        if self.sparse:
            sq = np.add.reduceat(X.data.astype(np.float64) ** 2, X.indptr[:-1]) if X.nnz else None
            rows = np.zeros(self.n)
            if sq is not None:
                nonempty = np.diff(X.indptr) > 0
                rows[nonempty] = sq[nonempty]
        else:
            rows = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        rows = rows + (1.0 if fit_intercept else 0.0)
        if self.sw is not None:
            rows = rows * self.sw
        return float(rows.max())

    def mean_target(self):
        """The sw-weighted mean of y, float64."""
        return float(np.average(self.y, weights=self.sw))

    def unpack(self, theta):
        """(coef, intercept) of flat parameters theta = [coef (K*d), intercept (K)]: views,
        coef of shape (d,) and a scalar intercept for one output, (K, d) and (K,) else."""
        K, d = self.n_outputs, self.d
        coef = theta[:K * d].reshape(K, d) if K > 1 else theta[:d]
        intercept = theta[K * d:] if K > 1 else theta[d]
        return coef, intercept


@dataclass(frozen=True)
class Spec:
    """The validated hyperparameters of a fit (names, not codes: the reference reads these)."""
    loss: str
    epsilon: float
    optimizer: str
    momentum: float
    dampening: float
    beta1: float
    beta2: float
    eps: float
    rho: float
    centered: bool
    amsgrad: bool
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    clip_norm: float         # 0: no clipping
    schedule: str
    learning_rate: float
    power_t: float
    gamma: float
    step_size: int
    optimal_t0: float
    batch_size: int          # resolved: n for full batch
    sparse_updates: str = "dense"   # "dense" or "lazy" (sparse X, adaptive optimizers)
    hogwild: bool = False           # parallel="hogwild" (sparse X)
    auto_lr: bool = False           # learning_rate="auto": derived (NaN until run_fit does)
                                    # and safeguarded by the driver
    plateau_floor: float = PLATEAU_MIN_LR  # the plateau rule stops below this rate
    auto_schedule: bool = False     # schedule="auto" chose the schedule
    average: int = 0                # averaging from this step on (1-based); 0: none
    auto_optimizer: bool = False    # a fresh fit's optimizer="auto" chose the optimizer

    @property
    def l2(self):
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def l1(self):
        return self.alpha * self.l1_ratio

    def kernel_config(self, n_outputs, d, itemsize):
        """The gd_config fields for the native kernels."""
        P = n_outputs * (d + 1)
        stride = _kernels.block_stride(P, n_outputs)
        max_blocks = int(min(LAYOUT["max_blocks"],
                             max(2, LAYOUT["work_bytes"] // (stride * itemsize))))
        return dict(
            loss=LOSSES[self.loss], n_outputs=n_outputs, fit_intercept=int(self.fit_intercept),
            # lbfgs calls only the gradient kernels, which read no optimizer
            epsilon=self.epsilon, optimizer=OPTIMIZERS.get(self.optimizer, 0),
            momentum=self.momentum, dampening=self.dampening, beta1=self.beta1,
            beta2=self.beta2, eps=self.eps, rho=self.rho, centered=int(self.centered),
            amsgrad=int(self.amsgrad), l2=self.l2, l1=self.l1, clip_norm=self.clip_norm,
            schedule=STEP_RULES.get(self.schedule, EPOCH_RATE), power_t=self.power_t,
            opt_alpha=self.alpha, opt_t0=self.optimal_t0,
            block_rows=int(LAYOUT["block_rows"]), max_blocks=max_blocks,
            min_parallel_work=int(LAYOUT["min_parallel_work"]), share=SHARES[LAYOUT["share"]],
            sparse_updates=SPARSE_UPDATES[self.sparse_updates], hogwild=int(self.hogwild),
            average_start=int(self.average),
        )


@dataclass(frozen=True)
class Setup:
    """A validated fit, ready to run: what it fits, where it starts, how its epochs run."""
    problem: Problem
    spec: Spec
    theta: np.ndarray              # the starting parameters: the initial ones, or resumed
    opt_state: np.ndarray | None   # the resumed optimizer state; None: zeros
    t: int                         # optimizer steps taken before this fit
    rng: np.random.Generator       # draws each epoch's row order
    n_threads: int | None          # as given (each engine resolves it)
    shuffle: bool
    max_epochs: int
    tol: float | None
    n_iter_no_change: int
    verbose: int
    callback: Callable | None


def prepare(X, y, a: dict, *, native: bool, resume: TrainingState | None = None,
            classes=None, incremental: bool = False, load: Callable | None = None) -> Setup:
    """Validate the arguments of a fit and build its Setup.

    a: every argument of gdfast.fit but X and y, by name (defaults filled in).  native:
    whether the native engine runs the fit (it checks X on its threads).  resume: a
    TrainingState to continue from (coef_init and intercept_init are then ignored; the data
    must have the same number of features and outputs).  classes: the labels of a
    classification loss when y may lack some of them (partial_fit on a chunk, a one-vs-rest
    model whose rows hold a single label); None takes them from y.  incremental: the fit is
    one step of a longer training on parts of the data (partial_fit), so optimizer="auto"
    takes per-batch steps.  load: builds the Problem instead of X and y, called as
    load(loss=..., classes=...) (gdfast.dask's distributed data)."""
    loss = check_choice(a["loss"], "loss", tuple(LOSSES))
    optimizer = check_choice(a["optimizer"], "optimizer", ("auto",) + OPTIMIZER_NAMES)
    schedule = check_choice(a["schedule"], "schedule", ("auto",) + SCHEDULES)
    learning_rate = a["learning_rate"]
    auto_lr = isinstance(learning_rate, str) and learning_rate == "auto"
    if auto_lr:
        # derived from the data by run_fit (NaN until then), or the continued fit's rate
        learning_rate = (resume.learning_rate if resume is not None
                         and resume.learning_rate is not None else math.nan)
    else:
        learning_rate = check_real(learning_rate, "learning_rate", low=0, low_open=True,
                                   also=("auto",))
    max_epochs = check_int(a["max_epochs"], "max_epochs", low=1)
    tol = a["tol"]
    if not (tol is None or isinstance(tol, str) and tol == "auto"):
        tol = check_real(tol, "tol", low=0, also=("auto", None))
    n_iter_no_change = check_int(a["n_iter_no_change"], "n_iter_no_change", low=1)
    alpha = check_real(a["alpha"], "alpha", low=0)
    l1_ratio = check_real(a["l1_ratio"], "l1_ratio", low=0, high=1)
    fit_intercept = check_bool(a["fit_intercept"], "fit_intercept")
    shuffle = check_bool(a["shuffle"], "shuffle")
    epsilon = check_real(a["epsilon"], "epsilon", low=0)
    batch_size = a["batch_size"]
    if batch_size is not None and not (isinstance(batch_size, str) and batch_size == "auto"):
        batch_size = check_int(batch_size, "batch_size", low=1, also=("auto", None))
    parallel = check_choice(a["parallel"], "parallel", PARALLEL)
    average = a["average"]
    average = (int(average) if isinstance(average, (bool, np.bool_))
               else check_int(average, "average", low=0))
    auto_optimizer = False
    if optimizer == "auto":
        # a continued fit keeps its optimizer, except that steps on a part of the data
        # (partial_fit) after a full-batch quasi-Newton fit go on by per-batch steps
        if resume is not None and not (incremental and resume.optimizer in QUASI_NEWTON):
            optimizer = resume.optimizer
        else:
            auto_optimizer = resume is None
            optimizer = _auto.choose_optimizer(loss, batch_size, schedule, auto_lr,
                                               parallel == "hogwild", incremental,
                                               averaged=average > 0)
    if optimizer == "lbfgs":
        if batch_size not in ("auto", None):
            raise ValueError(f"optimizer='lbfgs' takes full-batch steps: batch_size must be "
                             f"None or 'auto', got {batch_size!r}")
        if schedule not in ("auto", "constant"):
            raise ValueError(f"optimizer='lbfgs' chooses its steps by a line search: schedule "
                             f"must be 'auto' or 'constant', got {schedule!r}")
        if parallel == "hogwild":
            raise ValueError("optimizer='lbfgs' takes full-batch steps: parallel='hogwild' "
                             "does not apply")
        if average:
            raise ValueError(f"average={a['average']!r} averages per-batch steps: "
                             "optimizer='lbfgs' converges without it (use average=False)")
    if batch_size == "auto":
        batch_size = _auto.choose_batch_size(optimizer)
    momentum = a["momentum"]
    if momentum is None:
        momentum = 0.9 if optimizer in ("momentum", "nesterov") else 0.0
    momentum = check_real(momentum, "momentum", low=0, high=1, high_open=True)
    dampening = check_real(a["dampening"], "dampening", low=0, high=1)
    if optimizer == "nesterov" and (momentum <= 0 or dampening != 0):
        raise ValueError("optimizer='nesterov' requires momentum > 0 and dampening=0")
    betas = a["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1 = check_real(betas[0], "betas[0]", low=0, high=1, high_open=True)
    beta2 = check_real(betas[1], "betas[1]", low=0, high=1, high_open=True)
    eps = DEFAULT_EPS.get(optimizer, 1e-8) if a["eps"] is None else a["eps"]
    eps = check_real(eps, "eps", low=0, low_open=True)
    rho = check_real(a["rho"], "rho", low=0, high=1, high_open=True)
    centered = check_bool(a["centered"], "centered")
    amsgrad = check_bool(a["amsgrad"], "amsgrad")
    power_t = check_real(a["power_t"], "power_t")
    gamma = DEFAULT_GAMMA.get(schedule, 0.1) if a["gamma"] is None else a["gamma"]
    gamma = check_real(gamma, "gamma", low=0, high=1, low_open=True)
    step_size = check_int(a["step_size"], "step_size", low=1)
    clip_norm = (0.0 if a["clip_norm"] is None
                 else check_real(a["clip_norm"], "clip_norm", low=0, low_open=True))
    if schedule == "optimal" and alpha == 0:
        raise ValueError("schedule='optimal' needs alpha > 0 (its rate is 1 / (alpha (t0 + t)))")
    verbose = a["verbose"]
    if not isinstance(verbose, numbers.Integral):          # bool is an Integral too
        raise TypeError(f"verbose must be an integer, got {verbose!r}")
    callback = a["callback"]
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    sparse_updates = check_choice(a["sparse_updates"], "sparse_updates", SPARSE_UPDATES)
    if average and (parallel == "hogwild" or sparse_updates == "lazy"):
        raise ValueError(f"average={a['average']!r} needs every coefficient's every step: "
                         "not with parallel='hogwild' or sparse_updates='lazy'")
    random_state = a["random_state"]
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"random_state: expected None, an int or a numpy Generator, got "
                         f"{random_state!r} ({exc})") from None

    if load is None:
        problem = load_problem(X, y, loss, a["sample_weight"], classes,
                               n_threads=effective_n_threads(a["n_threads"]) if native else 1)
    else:
        problem = load(loss=loss, classes=classes)
    n, d, dtype, K = problem.n, problem.d, problem.dtype, problem.n_outputs
    if problem.sparse and d >= 2 ** 31 - 1 and (parallel == "hogwild" or sparse_updates == "lazy"):
        raise ValueError(f"parallel='hogwild' and sparse_updates='lazy' support fewer than "
                         f"2**31 - 1 features, got {d}")
    if parallel == "hogwild":
        if not problem.sparse:
            raise ValueError("parallel='hogwild' needs a sparse X (scipy.sparse); dense X is "
                             "always fitted deterministically")
        if optimizer in ADAPTIVE_OPTIMIZERS and sparse_updates != "lazy":
            raise ValueError(f"parallel='hogwild' with optimizer={optimizer!r} needs "
                             "sparse_updates='lazy' (the 'dense' updates are O(n_features) per "
                             "step)")
        if optimizer in ("momentum", "nesterov") and alpha * l1_ratio > 0:
            raise ValueError(f"parallel='hogwild' with optimizer={optimizer!r} does not "
                             "support an L1 penalty (l1_ratio > 0)")
    if resume is None:
        theta = _initial_theta(a["coef_init"], a["intercept_init"], K, d, dtype)
        opt_state, t0 = None, 0
    else:
        if resume.theta.shape != (K * (d + 1),):
            raise ValueError(f"cannot continue a fit of {resume.theta.shape[0]} parameters on "
                             f"data with {d} features and {K} output(s)")
        # lbfgs keeps no optimizer state: any optimizer continues from its parameters
        if resume.optimizer != optimizer and resume.optimizer not in QUASI_NEWTON:
            raise ValueError(f"cannot continue a fit made with optimizer={resume.optimizer!r} "
                             f"using optimizer={optimizer!r}")
        if resume.optimizer == optimizer:
            # the optimizer state goes on, the running mean with it, from the step its
            # averaging started at
            if (resume.average > 0) != (average > 0):
                raise ValueError(f"cannot continue a fit made with average={resume.average} "
                                 f"using average={a['average']!r}")
            average = resume.average
        elif average:
            # the state starts afresh (after lbfgs): so does the mean, at the next step
            average = max(average, resume.t + 1)
        theta = resume.theta.astype(dtype, copy=True)
        opt_state = (resume.opt_state.astype(dtype, copy=True)
                     if resume.optimizer == optimizer else None)
        t0 = resume.t
        rng = resume.rng
    batch_size = n if batch_size is None else min(batch_size, n)
    auto_schedule = schedule == "auto"
    if auto_schedule:
        schedule = _auto.choose_schedule(optimizer, batch_size, n, auto_lr,
                                         averaged=average > 0)
    if tol == "auto" and optimizer != "lbfgs":
        tol = _auto.AUTO_FIRST_ORDER_TOL
    if optimizer == "lbfgs" or schedule == "optimal":
        learning_rate = 1.0         # unused: a line search or 1 / (alpha t) sets each step
    spec = Spec(
        loss=loss, epsilon=epsilon, optimizer=optimizer, momentum=momentum,
        dampening=dampening, beta1=beta1, beta2=beta2, eps=eps, rho=rho, centered=centered,
        amsgrad=amsgrad, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
        clip_norm=clip_norm, schedule=schedule, learning_rate=learning_rate, power_t=power_t,
        gamma=gamma, step_size=step_size,
        optimal_t0=optimal_t0(loss, alpha, epsilon) if schedule == "optimal" else 0.0,
        batch_size=batch_size, sparse_updates=sparse_updates, hogwild=parallel == "hogwild",
        auto_lr=auto_lr,
        auto_schedule=auto_schedule, average=average, auto_optimizer=auto_optimizer,
        plateau_floor=(learning_rate * _auto.AUTO_PLATEAU_RANGE if auto_schedule
                       else PLATEAU_MIN_LR),
    )
    return Setup(problem=problem, spec=spec, theta=theta, opt_state=opt_state, t=t0, rng=rng,
                 n_threads=a["n_threads"], shuffle=shuffle, max_epochs=max_epochs, tol=tol,
                 n_iter_no_change=n_iter_no_change, verbose=int(verbose), callback=callback)


def load_problem(X, y, loss, sample_weight, classes, *, n_threads):
    """The Problem of in-memory data: X checked on n_threads threads, y encoded for loss
    (against classes when given), the sample weights checked."""
    Xa = as_float_2d(X, "X", n_threads=n_threads)
    n = Xa.shape[0]
    dtype = Xa.dtype
    ya, classes, K = prepare_targets(y, loss, n, dtype, classes)
    sw = check_sample_weight(sample_weight, n, dtype)
    check_some_positive(sw, "sample_weight")
    y_const = 0.0
    if loss == "poisson":
        yd = ya.astype(np.float64)
        ylogy = poisson_ylogy(yd) - yd
        y_const = float(np.mean(ylogy * (1.0 if sw is None else sw)))
    return Problem(X=Xa, y=ya, sw=sw, n_outputs=K, classes=classes, y_const=y_const)


def prepare_targets(y, loss, n, dtype, classes=None):
    """Encode y for the kernels: returns (y_encoded, classes, n_outputs).

    classes: the label set to encode against (classification losses), when y may lack some
    of them (a chunk of the data); None derives it from y."""
    if is_sparse(y):
        raise TypeError("y: expected a 1-D array, got a sparse matrix")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y: expected a 1-D array of shape (n_samples,), got shape {y.shape}"
                         + (" (use y.ravel())" if y.ndim == 2 and y.shape[1] == 1 else ""))
    if y.shape[0] != n:
        raise ValueError(f"X and y have inconsistent lengths: X has {n} samples, y has "
                         f"{y.shape[0]}")
    if y.dtype.kind == "c":
        raise ValueError(f"y: complex data is not supported (dtype {y.dtype})")
    if loss in CLASSIFICATION_LOSSES:
        if y.dtype.kind == "f":
            check_finite(y, "y")
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            unknown = np.setdiff1d(np.unique(y), classes)
            if len(unknown):
                raise ValueError(f"y: labels {_preview(unknown)} are not in classes "
                                 f"{_preview(classes)}")
        elif y.dtype.kind == "O":
            try:
                classes = np.unique(y)
            except TypeError as exc:
                raise ValueError(f"y: labels of mixed types cannot be sorted ({exc})") from None
        else:
            if loss != "multinomial" and y.dtype.kind in "biuf":
                encoded = _encode_two_numeric(y, dtype)
                if encoded is not None:
                    return encoded + (1,)
            classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"y: a classification loss needs at least 2 classes, got a single "
                             f"class {classes[0]!r}")
        if loss != "multinomial":
            if len(classes) > 2:
                raise ValueError(f"loss={loss!r} is binary: y must have exactly 2 distinct "
                                 f"labels, got {len(classes)} ({_preview(classes)}); use "
                                 "loss='multinomial' for more classes")
            return (np.where(y == classes[1], 1, -1).astype(dtype), classes, 1)
        return np.searchsorted(classes, y).astype(dtype), classes, len(classes)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y: loss={loss!r} is a regression loss and needs numeric targets, "
                         f"got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=dtype)
    check_finite(y, "y")
    if loss == "poisson" and (y < 0).any():
        raise ValueError("y: loss='poisson' needs non-negative targets, got a minimum of "
                         f"{y.min()!r}")
    return y, None, 1


def _encode_two_numeric(y, dtype):
    """(y as +1 / -1 in dtype, classes) for numeric labels with exactly two distinct values,
    from their minimum and maximum; None for any other y (np.unique then finds the classes and
    names the problem).  The result of np.unique and np.where, except that where y holds both
    -0.0 and 0.0 the zero class may carry the other sign (the labels compare equal), in five
    vectorized passes over y, which cost less than np.unique's hash and np.where's copy."""
    if len(y) == 0:
        return None
    lo, hi = y.min(), y.max()
    if lo == hi:
        return None
    positive = y == hi
    if np.count_nonzero(positive) + np.count_nonzero(y == lo) != len(y):
        return None
    encoded = positive.astype(dtype)
    encoded *= 2
    encoded -= 1
    return encoded, np.array([lo, hi], dtype=y.dtype)


def _preview(values, k=5):
    v = list(values[:k])
    return ", ".join(repr(x.item() if hasattr(x, "item") else x) for x in v) + (
        ", ..." if len(values) > k else "")


def _initial_theta(coef_init, intercept_init, K, d, dtype):
    theta = np.zeros(K * (d + 1), dtype=dtype)
    if coef_init is not None:
        c = np.asarray(coef_init)
        expected = (K, d) if K > 1 else (d,)
        if c.dtype.kind not in "biuf":
            raise ValueError(f"coef_init: expected a numeric array, got dtype {c.dtype}")
        if K == 1 and c.shape == (1, d):
            c = c.reshape(d)
        if c.shape != expected:
            raise ValueError(f"coef_init: expected shape {expected}, got {c.shape}")
        check_finite(c, "coef_init")
        with np.errstate(over="ignore"):
            theta[:K * d] = c.reshape(-1)
        check_finite(theta[:K * d], f"coef_init (as {np.dtype(dtype).name})")
    if intercept_init is not None:
        b = np.asarray(intercept_init)
        if b.dtype.kind not in "biuf":
            raise ValueError(f"intercept_init: expected a number or numeric array, got dtype "
                             f"{b.dtype}")
        if b.size != K or b.ndim > 1:
            raise ValueError(f"intercept_init: expected {'a scalar' if K == 1 else f'shape ({K},)'}"
                             f", got shape {b.shape}")
        check_finite(b.reshape(-1), "intercept_init")
        with np.errstate(over="ignore"):
            theta[K * d:] = b.reshape(-1)
        check_finite(theta[K * d:], f"intercept_init (as {np.dtype(dtype).name})")
    return theta


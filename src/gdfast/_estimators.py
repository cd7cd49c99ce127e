"""scikit-learn estimators on gdfast's driver: :class:`GDClassifier` and :class:`GDRegressor`.

Both expose every option of :func:`gdfast.fit` under the same name, and add what an
estimator needs: ``multi_class`` and ``class_weight`` (classifier), ``warm_start``,
``early_stopping`` and ``validation_fraction``.  Training goes through
:func:`gdfast._core.run_fit` with the native engine, so a model fitted here is bitwise the
model ``gdfast.fit`` returns for the same settings (sample weights are rescaled to mean 1
first, see ``_normalized``).  ``partial_fit`` and ``warm_start`` continue from the
:class:`~gdfast._core.TrainingState` of the previous call.

Several binary models (one-vs-rest) or one model per output column are trained in Python
threads: the kernels release the GIL, and each thread gets its share of the thread count.
"""
from __future__ import annotations

import dataclasses
import numbers
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from gdfast import _core, _kernels
from gdfast._native import NativeEngine, effective_n_threads
from gdfast.reference import row_loss_dz, softmax_loss_dz

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

try:  # the callback API (sklearn.callback: ProgressBar, ScoringMonitor), where it exists
    from sklearn.callback import CallbackSupportMixin as _CallbackSupportMixin
    from sklearn.callback import with_callbacks as _with_callbacks
    _CALLBACK_BASES = (_CallbackSupportMixin,)
except ImportError:  # pragma: no cover - scikit-learn without sklearn.callback
    _CALLBACK_BASES = ()

    def _with_callbacks(method):
        return method

__all__ = ["GDClassifier", "GDRegressor"]

REGRESSION_LOSSES = ("squared", "huber", "epsilon_insensitive", "poisson")
CLASSIFIER_LOSSES = _core.BINARY_LOSSES          # logistic, hinge, squared_hinge, modified_huber
_FLOATS = [np.float64, np.float32]
_PRINT_LOCK = threading.Lock()


# --- small helpers ------------------------------------------------------------------------

class _NoContext:
    """Stands in for sklearn.callback.CallbackContext where the API is missing."""

    def subcontext(self, *args, **kwargs):
        return self

    def call_on_fit_task_begin(self, **kwargs):
        return self

    def call_on_fit_task_end(self, **kwargs):
        return False


def _seeds(random_state, k):
    """k seeds for the core from random_state: None and integers are passed through (each
    model then equals gdfast.fit(random_state=...) on its problem); a RandomState or a
    Generator is drawn from, as scikit-learn does."""
    if random_state is None or (isinstance(random_state, numbers.Integral)
                                and not isinstance(random_state, bool)):
        return [random_state] * k
    if isinstance(random_state, np.random.RandomState):
        return [int(s) for s in random_state.randint(np.iinfo(np.int32).max, size=k)]
    if isinstance(random_state, np.random.Generator):
        return [int(s) for s in random_state.integers(np.iinfo(np.int64).max, size=k)]
    raise ValueError(f"random_state: expected None, an int, a numpy RandomState or Generator, "
                     f"got {random_state!r}")


def _check_sample_weight(sample_weight, n):
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight: expected numeric weights, got dtype {sw.dtype}")
    sw = sw.astype(np.float64)
    if sw.ndim == 0:
        sw = np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(f"sample_weight: expected shape ({n},), got {sw.shape}")
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (sw < 0).any():
        raise ValueError(f"sample_weight: weights must be non-negative, got a minimum of "
                         f"{sw.min()!r}")
    return sw


def _normalized(weights):
    """Weights rescaled to mean 1, so that the objective is the weighted mean of the row
    losses, sum(s * loss) / sum(s): integer weights then act as repeated rows, and the
    scale of the weights does not change the strength of the penalty."""
    if weights is None:
        return None
    total = float(weights.sum())
    if not total > 0:
        raise ValueError("sample_weight: all weights are zero (after class_weight); at least "
                         "one must be positive")
    return weights * (len(weights) / total)


def _decision(X, coef, intercept, n_threads):
    """X @ coef.T + intercept.  A dense float32/float64 X goes through the native kernel
    (rows split over n_threads threads) rather than a BLAS call: OpenBLAS's threads keep
    spinning for a while after one, and would slow the fit's next epoch down."""
    coef = np.asarray(coef)
    if (isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64)
            and X.flags.c_contiguous and np.result_type(X.dtype, coef.dtype) == X.dtype):
        K = 1 if coef.ndim == 1 else coef.shape[0]
        theta = np.concatenate([coef.reshape(-1), np.reshape(intercept, -1)]).astype(X.dtype)
        Z = np.empty((X.shape[0], K), dtype=X.dtype)
        _kernels.decision_dense(X, theta, K, Z, n_threads)
        return Z[:, 0] if coef.ndim == 1 else Z
    return np.asarray(X @ coef.T + intercept)


def _mean_loss(core_loss, X, y, sw, coef, intercept, epsilon, n_threads=1):
    """The weighted mean row loss of a model (coef (d,) or (K, d)) on rows X, y: the data
    term of gdfast's objective with the weights normalized, in float64."""
    Z = np.asarray(_decision(X, coef, intercept, n_threads), dtype=np.float64)
    if core_loss == "multinomial":
        loss = softmax_loss_dz(Z, y.astype(np.intp))[0]
    else:
        loss = row_loss_dz(core_loss, Z, y, epsilon)[0]
        if core_loss == "poisson":              # the half deviance, as the training loss
            loss = loss + np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0) - y
    return float(np.average(loss, weights=sw))


@dataclasses.dataclass
class _Task:
    """One model to train: a binary, multinomial or regression problem on the shared X."""
    index: int
    name: str                 # "class 'cat'", "output 2", or "" for the only model
    core_loss: str
    y: np.ndarray             # the targets in the core's encoding
    y_val: np.ndarray | None  # the validation targets, same encoding
    labels: int               # 2 for binary, K for multinomial, 0 for regression
    resume: object = None     # TrainingState to continue from
    coef_init: object = None
    intercept_init: object = None
    seed: object = None


@dataclasses.dataclass
class _Plan:
    """What every task of one fit/partial_fit call shares."""
    X: np.ndarray
    sw: np.ndarray | None
    X_val: np.ndarray | None
    sw_val: np.ndarray | None
    kwargs: dict
    max_epochs: int
    horizon: int | None
    tol: float | None
    early_stopping: bool
    verbose: int
    user_callback: object
    multi: bool
    with_callbacks: bool
    cb_X: object
    cb_y: object
    cb_metadata: dict
    n_threads: int = 1
    abort: threading.Event = dataclasses.field(default_factory=threading.Event)
    t_start: float = dataclasses.field(default_factory=time.perf_counter)


@dataclasses.dataclass
class _Outcome:
    coef: np.ndarray          # (K_m, d)
    intercept: np.ndarray     # (K_m,)
    state: object
    history: np.ndarray
    converged: bool
    hit_max_epochs: bool
    val_history: np.ndarray | None


# --- the shared base ------------------------------------------------------------------------

class _GDBase(BaseEstimator):
    """Parameters, training and bookkeeping shared by GDClassifier and GDRegressor."""

    # -- parameters ----------------------------------------------------------------------

    def _core_kwargs(self):
        """The gdfast.fit options of this estimator, as given (the core validates them)."""
        names = [n for n in _core.FIT_SIGNATURE.parameters
                 if n not in ("X", "y", "coef_init", "intercept_init", "sample_weight")]
        return {n: getattr(self, n) for n in names}

    def _check_own_params(self):
        _core._check_bool(self.early_stopping, "early_stopping")
        _core._check_bool(self.warm_start, "warm_start")
        _core._check_real(self.validation_fraction, "validation_fraction", low=0, high=1,
                          low_open=True, high_open=True)
        _core._check_int(self.max_epochs, "max_epochs", low=1)
        if self.tol is not None:
            _core._check_real(self.tol, "tol", low=0)
        _core._check_int(self.n_iter_no_change, "n_iter_no_change", low=1)
        if not isinstance(self.verbose, numbers.Integral):
            raise TypeError(f"verbose must be an integer, got {self.verbose!r}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got "
                            f"{type(self.callback).__name__}")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    # -- training ------------------------------------------------------------------------

    def _callback_root(self, **kwargs):
        if _CALLBACK_BASES:
            return self._init_callback_context(**kwargs)
        return _NoContext()

    def _train(self, tasks, plan, *, task_name):
        """Train every task (threads when there are several) and return their outcomes."""
        n_models = len(tasks)
        if plan.multi:
            root = self._callback_root(task_name=task_name, max_subtasks=n_models,
                                       sequential_subtasks=False)
        else:
            root = self._callback_root(task_name=task_name,
                                       max_subtasks=plan.max_epochs if task_name == "fit" else 0)
        root.call_on_fit_task_begin(estimator=self, X=plan.cb_X, y=plan.cb_y,
                                    metadata=plan.cb_metadata)
        total_threads = effective_n_threads(self.n_threads)
        if n_models == 1:
            plan.n_threads = total_threads
            outcomes = [self._train_one(tasks[0], plan, root, leaf_root=task_name != "fit")]
        else:
            workers = min(n_models, total_threads)
            plan.n_threads = max(1, total_threads // workers)
            contexts = [root.subcontext(task_name=t.name, task_id=t.index,
                                        max_subtasks=plan.max_epochs) for t in tasks]
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gdfast")
            try:
                futures = [pool.submit(self._train_one, task, plan, ctx)
                           for task, ctx in zip(tasks, contexts)]
                outcomes = [f.result() for f in futures]
            except BaseException:
                plan.abort.set()          # the other models stop after their current epoch
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        return root, outcomes

    def _train_one(self, task, plan, ctx, leaf_root=False):
        """Run one model through gdfast's driver; the per-epoch callback does validation,
        early stopping, verbose output, scikit-learn callbacks and the user's callback."""
        multi = plan.multi
        if multi:
            ctx.call_on_fit_task_begin(estimator=self, X=plan.cb_X, y=plan.cb_y,
                                       metadata=plan.cb_metadata)
        val_history = []
        best = {"loss": np.inf, "params": None, "no_improvement": 0}
        flags = {"early": False, "stopped": False}
        epoch_ctx_ok = plan.with_callbacks and not leaf_root

        def on_epoch(record):
            stop = False
            if plan.early_stopping:
                vl = _mean_loss(task.core_loss, plan.X_val, task.y_val, plan.sw_val,
                                record["coef"], record["intercept"], self.epsilon,
                                plan.n_threads)
                val_history.append(vl)
                if plan.tol is not None:
                    worse = vl > best["loss"] - plan.tol
                    best["no_improvement"] = best["no_improvement"] + 1 if worse else 0
                if vl < best["loss"]:
                    best["loss"] = vl
                    best["params"] = (np.array(record["coef"], copy=True),
                                      np.array(record["intercept"], copy=True))
                if plan.tol is not None and best["no_improvement"] >= self.n_iter_no_change:
                    flags["early"] = stop = True
            if plan.verbose:
                self._print_epoch(record, task, plan, val_history)
            if epoch_ctx_ok:
                sub = ctx.subcontext(task_name="epoch")
                sub.call_on_fit_task_begin(estimator=self, X=plan.cb_X, y=plan.cb_y,
                                           metadata=plan.cb_metadata)
                recon = None if multi else (lambda: self._reconstruction(
                    record["coef"], record["intercept"]))
                if sub.call_on_fit_task_end(estimator=self, X=plan.cb_X, y=plan.cb_y,
                                            metadata=plan.cb_metadata,
                                            reconstruction_attributes=recon):
                    flags["stopped"] = stop = True
            if plan.user_callback is not None:
                if plan.user_callback(dict(record, model=task.index)) is True:
                    flags["stopped"] = stop = True
            if plan.abort.is_set():
                flags["stopped"] = stop = True
            return stop

        kwargs = dict(plan.kwargs, loss=task.core_loss, random_state=task.seed,
                      n_threads=plan.n_threads, callback=on_epoch, verbose=0,
                      sample_weight=plan.sw, coef_init=task.coef_init,
                      intercept_init=task.intercept_init,
                      tol=None if plan.early_stopping else plan.tol,
                      max_epochs=plan.max_epochs)
        # task.y is in the kernels' encoding already; naming the label set lets rows that
        # lack a class (a partial_fit chunk, a one-vs-rest model) through unchanged
        classes = None
        if task.labels:
            classes = [-1.0, 1.0] if task.labels == 2 else np.arange(task.labels)
        horizon = plan.horizon
        if horizon is None:
            horizon = (0 if task.resume is None else task.resume.epochs) + plan.max_epochs
        res = _core.run_fit(NativeEngine, plan.X, task.y, kwargs, resume=task.resume,
                            horizon=horizon, classes=classes)
        state = res.state
        coef, intercept = res.coef, res.intercept
        if plan.early_stopping and best["params"] is not None:
            coef, intercept = best["params"]       # restore the best epoch's parameters
            theta = np.concatenate([np.ravel(coef), np.ravel(intercept)])
            state = dataclasses.replace(state, theta=theta.astype(state.theta.dtype))
        converged = bool(res.converged or flags["early"])
        hit_max = (not converged and not flags["stopped"]
                   and res.n_epochs == plan.max_epochs)
        if plan.verbose and converged:
            with _PRINT_LOCK:
                if flags["early"]:
                    print(f"Validation loss did not improve more than tol={plan.tol:f} for "
                          f"{self.n_iter_no_change} consecutive epochs. Stopping."
                          + (f" ({task.name})" if multi else ""), flush=True)
                print(f"Convergence after {res.n_epochs} epochs took "
                      f"{time.perf_counter() - plan.t_start:.2f} seconds"
                      + (f" ({task.name})" if multi else ""), flush=True)
        if multi:
            ctx.call_on_fit_task_end(estimator=self, X=plan.cb_X, y=plan.cb_y,
                                     metadata=plan.cb_metadata)
        return _Outcome(coef=np.atleast_2d(coef), intercept=np.atleast_1d(intercept),
                        state=state, history=res.loss_history, converged=converged,
                        hit_max_epochs=hit_max,
                        val_history=(np.asarray(val_history, dtype=np.float64)
                                     if plan.early_stopping else None))

    def _print_epoch(self, record, task, plan, val_history):
        coef = np.asarray(record["coef"], dtype=np.float64)
        intercept = np.asarray(record["intercept"], dtype=np.float64)
        bias = (f"{float(intercept):.6f}" if intercept.ndim == 0 else
                "[" + ", ".join(f"{b:.6f}" for b in intercept) + "]")
        suffix = f" ({task.name})" if plan.multi else ""
        lines = [f"-- Epoch {record['epoch']}{suffix}",
                 f"Norm: {np.linalg.norm(coef):.2f}, NNZs: {np.count_nonzero(coef)}, "
                 f"Bias: {bias}, T: {record['n_steps']}, Avg. loss: {record['loss']:f}"]
        if plan.early_stopping:
            lines.append(f"Validation loss: {val_history[-1]:f}")
        lines.append(f"Total training time: {time.perf_counter() - plan.t_start:.2f} seconds.")
        with _PRINT_LOCK:
            print("\n".join(lines), file=sys.stdout, flush=True)

    def _split(self, y_strat, n, seed):
        """Training and validation row indices for early stopping, both in row order."""
        idx = np.arange(n)
        train, val = train_test_split(idx, test_size=self.validation_fraction,
                                      random_state=seed, stratify=y_strat)
        return np.sort(train), np.sort(val)

    def _make_plan(self, X, sw, *, partial, y_strat, cb_y, sample_weight, n_models):
        """Split off the validation rows (fit with early_stopping), normalize the weights
        and collect the settings the tasks share.  Returns the plan, the seeds for the
        models and the training / validation row indices (None: all rows)."""
        random_state = self.random_state
        early = bool(self.early_stopping) and not partial
        if early:
            split_seed = _seeds(random_state, 1)[0]
            if split_seed is None:
                split_seed = int(np.random.default_rng().integers(np.iinfo(np.int32).max))
            train, val = self._split(y_strat, X.shape[0], split_seed)
            X_train, X_val = X[train], X[val]
            sw_train = None if sw is None else sw[train]
            sw_val = None if sw is None else sw[val]
            if sw_val is not None and not sw_val.sum() > 0:
                raise ValueError("sample_weight: the weights of the validation rows are all "
                                 "zero; use another random_state or validation_fraction")
        else:
            train = val = None
            X_train, X_val, sw_train, sw_val = X, None, sw, None
        seeds = _seeds(random_state, n_models)
        max_epochs = 1 if partial else self.max_epochs
        # cosine anneals over max_epochs epochs of training for partial_fit, and over the
        # epochs of this call for a fit (a warm start plans done + max_epochs)
        horizon = self.max_epochs if partial else None
        metadata = {} if sample_weight is None else {"sample_weight": sample_weight}
        plan = _Plan(X=X_train, sw=_normalized(sw_train), X_val=X_val, sw_val=sw_val,
                     kwargs=self._core_kwargs(), max_epochs=max_epochs, horizon=horizon,
                     tol=self.tol, early_stopping=early, verbose=self.verbose,
                     user_callback=self.callback, multi=n_models > 1,
                     with_callbacks=bool(getattr(self, "_skl_callbacks", None)),
                     cb_X=X, cb_y=cb_y, cb_metadata=metadata)
        return plan, seeds, train, val

    def _finish(self, root, outcomes, plan, *, continuing, partial, names):
        """Store the fitted attributes, close the callback task, warn on max_epochs."""
        coef = np.vstack([o.coef for o in outcomes])
        intercept = np.concatenate([o.intercept for o in outcomes])
        self._set_coef(coef, intercept)
        self._states = [o.state for o in outcomes]
        multi = len(outcomes) > 1
        previous = getattr(self, "loss_curve_", None) if continuing else None
        curves = []
        for j, o in enumerate(outcomes):
            prev = None if previous is None else (previous[j] if multi else previous)
            curves.append(o.history if prev is None else np.concatenate([prev, o.history]))
        self.loss_curve_ = curves if multi else curves[0]
        if not partial:
            vals = [o.val_history for o in outcomes]
            self.validation_loss_curve_ = (None if vals[0] is None
                                           else (vals if multi else vals[0]))
        elif not hasattr(self, "validation_loss_curve_"):
            self.validation_loss_curve_ = None
        self.n_iter_ = max(s.epochs for s in self._states)
        self.t_ = max(s.t for s in self._states)
        root.call_on_fit_task_end(estimator=self, X=plan.cb_X, y=plan.cb_y,
                                  metadata=plan.cb_metadata, reconstruction_attributes={})
        if not partial and plan.tol is not None:
            late = [name for name, o in zip(names, outcomes) if o.hit_max_epochs]
            if late:
                which = f" for {', '.join(late)}" if multi else ""
                what = "validation loss" if plan.early_stopping else "loss"
                warnings.warn(
                    f"{type(self).__name__}: max_epochs={self.max_epochs} ended the fit"
                    f"{which} before the {what} stopped improving by tol={plan.tol:g}; "
                    "increase max_epochs or tol, or tune learning_rate and schedule.",
                    ConvergenceWarning, stacklevel=5 if _CALLBACK_BASES else 4)

    def _forget(self):
        """Drop the previous model before a fit that starts over, so that a failed fit
        leaves an unfitted estimator rather than a mix of the old and the new."""
        for name in ("coef_", "intercept_", "_states", "loss_curve_", "validation_loss_curve_",
                     "n_iter_", "t_"):
            self.__dict__.pop(name, None)

    def _continuation(self, partial, coef_init, intercept_init, n_features):
        """Whether this call continues the previous training (partial_fit after any fit;
        fit with warm_start and no explicit init)."""
        if not self.__sklearn_is_fitted__():
            return False
        if partial:
            return True
        if not self.warm_start or coef_init is not None or intercept_init is not None:
            return False
        if n_features != self.coef_.shape[-1]:
            raise ValueError(f"warm_start: X has {n_features} features, but the model to "
                             f"continue was fit with {self.coef_.shape[-1]}; set "
                             "warm_start=False to start a new fit")
        return True

    @staticmethod
    def _split_init(value, n_models, name):
        """Split coef_init / intercept_init into one entry per model (None stays None);
        the core checks each entry's shape."""
        if value is None:
            return [None] * n_models
        arr = np.asarray(value)
        if n_models == 1:
            return [arr]
        if arr.ndim == 0 or arr.shape[0] != n_models:
            raise ValueError(f"{name}: expected {n_models} rows (one per model), got shape "
                             f"{arr.shape}")
        return [arr[j] for j in range(n_models)]

    def _reconstruction(self, coef, intercept):
        """Attributes that make a copy of this estimator predict with these parameters."""
        return self._coef_attrs(np.atleast_2d(np.array(coef, copy=True)),
                                np.atleast_1d(np.array(intercept, copy=True)))

    def _set_coef(self, coef, intercept):
        for name, value in self._coef_attrs(coef, intercept).items():
            setattr(self, name, value)

    def _decision(self, X):
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=_FLOATS, accept_sparse="csr")
        return np.asarray(X @ self.coef_.T) + self.intercept_

    # -- tags ----------------------------------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# --- the classifier -----------------------------------------------------------------------

def _has_proba(estimator):
    if estimator.loss not in ("logistic", "modified_huber"):
        raise AttributeError(f"probability estimates are not available for "
                             f"loss={estimator.loss!r}; use loss='logistic' or "
                             "'modified_huber'")
    return True


class GDClassifier(*_CALLBACK_BASES, ClassifierMixin, _GDBase):
    """Linear classifier trained by gradient descent with gdfast's OpenMP kernels.

    Every option of :func:`gdfast.fit` is a parameter with the same name and default,
    except ``loss`` (default ``"logistic"``); see gdfast.fit for their meaning.  The data
    arguments of gdfast.fit (``coef_init``, ``intercept_init``, ``sample_weight``) are
    arguments of :meth:`fit`.

    Parameters
    ----------
    loss : {"logistic", "hinge", "squared_hinge", "modified_huber"}, default="logistic"
    multi_class : {"auto", "multinomial", "ovr"}, default="auto"
        For more than two classes: "multinomial" fits one softmax model (loss="logistic"
        only); "ovr" fits one binary model per class, the classes trained in parallel
        threads; "auto" is "multinomial" for the logistic loss and "ovr" otherwise.  Two
        classes always give one binary model.
    class_weight : dict, "balanced" or None, default=None
        Multiplied into the sample weights (the weight of row i is
        sample_weight[i] * class_weight[y[i]] for every model, one-vs-rest included).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified), stop when the validation
        loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the
        parameters of the epoch with the lowest validation loss.
    validation_fraction : float in (0, 1), default=0.1
    warm_start : bool, default=False
        fit continues from the previous fit's training state (parameters, optimizer state,
        step count, schedule position, random generator).

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coef_ : ndarray (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray (1,) or (n_classes,)
    loss_curve_ : ndarray (epochs,), or a list of them (one per class) for one-vs-rest:
        the training objective per epoch since the last fit that did not continue.
    validation_loss_curve_ : like loss_curve_, for the epochs of the last fit with
        early_stopping; None without early stopping.
    n_iter_ : int, epochs since the last fit that did not continue (the most over models).
    t_ : int, optimizer steps since then (the most over models).
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    def __init__(self, loss="logistic", *, optimizer="sgd", learning_rate=0.01,
                 schedule="constant", batch_size=32, max_epochs=1000, tol=1e-3,
                 n_iter_no_change=5, alpha=1e-4, l1_ratio=0.0, fit_intercept=True,
                 shuffle=True, random_state=None, epsilon=0.1, momentum=None,
                 dampening=0.0, betas=(0.9, 0.999), eps=None, rho=0.99, centered=False,
                 amsgrad=False, power_t=0.5, gamma=None, step_size=10, clip_norm=None,
                 n_threads=None, parallel="deterministic", sparse_updates="dense",
                 verbose=0, callback=None, multi_class="auto",
                 class_weight=None, early_stopping=False, validation_fraction=0.1,
                 warm_start=False):
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.random_state = random_state
        self.epsilon = epsilon
        self.momentum = momentum
        self.dampening = dampening
        self.betas = betas
        self.eps = eps
        self.rho = rho
        self.centered = centered
        self.amsgrad = amsgrad
        self.power_t = power_t
        self.gamma = gamma
        self.step_size = step_size
        self.clip_norm = clip_norm
        self.n_threads = n_threads
        self.parallel = parallel
        self.sparse_updates = sparse_updates
        self.verbose = verbose
        self.callback = callback
        self.multi_class = multi_class
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start

    # -- parameters and layout ---------------------------------------------------------

    def _layout(self, n_classes):
        """'binary', 'multinomial' or 'ovr' for n_classes under the current parameters."""
        _core._check_choice(self.loss, "loss", CLASSIFIER_LOSSES + ("multinomial",))
        if self.loss == "multinomial":
            raise ValueError("loss='multinomial' is not a GDClassifier loss: use "
                             "loss='logistic' (multi_class='auto' or 'multinomial' fits the "
                             "softmax model for more than two classes)")
        _core._check_choice(self.multi_class, "multi_class", ("auto", "multinomial", "ovr"))
        if self.multi_class == "multinomial" and self.loss != "logistic":
            raise ValueError(f"multi_class='multinomial' needs loss='logistic', got "
                             f"loss={self.loss!r}; use multi_class='ovr'")
        if n_classes == 2:
            return "binary"
        if self.multi_class == "ovr" or self.loss != "logistic":
            return "ovr"
        return "multinomial"

    def _class_weights(self, classes, y_idx, partial):
        """class_weight[y[i]] per row (None without class_weight), as scikit-learn computes
        it (compute_class_weight: a dict may leave classes out, which then weigh 1)."""
        cw = self.class_weight
        if cw is None:
            return None
        if not (isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            raise ValueError(f"class_weight must be a dict, 'balanced' or None, got {cw!r}")
        if partial and isinstance(cw, str):
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: the class "
                "frequencies of one call are not those of the data. Compute the weights "
                "once with sklearn.utils.class_weight.compute_class_weight('balanced', "
                "classes=classes, y=y) on a large enough sample and pass them as a dict")
        weights = np.asarray(compute_class_weight(cw, classes=classes, y=classes[y_idx]),
                             dtype=np.float64)
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("class_weight: weights must be finite and non-negative")
        return weights[y_idx]

    def _coef_attrs(self, coef, intercept):
        return {"coef_": coef, "intercept_": intercept}

    # -- fitting -----------------------------------------------------------------------

    @_with_callbacks
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit the model on X, y (max_epochs epochs, or until tol / early stopping).

        coef_init : (n_classes, n_features), or (n_features,) / (1, n_features) for two
            classes; intercept_init : (n_classes,) or a scalar.  Both start a new fit even
            with warm_start.
        sample_weight : (n_samples,), non-negative; rescaled to mean 1 (with class_weight)
            so that integer weights act as repeated rows.
        """
        return self._fit(X, y, None, coef_init, intercept_init, sample_weight, partial=False)

    @_with_callbacks
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over X, y, continuing exactly where the previous call (fit or
        partial_fit) stopped.  ``classes`` (all the labels) is required on the first call.
        Early stopping and tol do not apply; a cosine schedule anneals over max_epochs
        calls."""
        return self._fit(X, y, classes, None, None, sample_weight, partial=True)

    def _fit(self, X, y, classes, coef_init, intercept_init, sample_weight, *, partial):
        self._check_own_params()
        first = not (partial and self.__sklearn_is_fitted__())
        if partial and first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = _validate_data(self, X, y, reset=first, dtype=_FLOATS, order="C",
                              accept_sparse="csr")
        check_classification_targets(y)
        continuing = self._continuation(partial, coef_init, intercept_init, X.shape[1])
        if partial:
            if classes is not None:
                classes = np.unique(np.asarray(classes))
                if not first and not np.array_equal(classes, self.classes_):
                    raise ValueError(f"classes={classes!r} is not the same as on the first "
                                     f"call to partial_fit ({self.classes_!r})")
            classes = self.classes_ if classes is None else classes
            unknown = np.setdiff1d(np.unique(y), classes)
            if len(unknown):
                raise ValueError(f"y contains labels not in classes: {unknown!r}")
            y_idx = np.searchsorted(classes, y)
        else:
            classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"the classifier needs samples of at least 2 classes in the data, "
                             f"but the data contains only 1 class: {classes[0]!r}")
        layout = self._layout(len(classes))
        if continuing:
            if layout != self._gd_layout or not np.array_equal(classes, self.classes_):
                raise ValueError("cannot continue the previous fit: its classes or its "
                                 "multi-class layout differ from this call's (set "
                                 "warm_start=False to start a new fit)")
        n = X.shape[0]
        sw = _check_sample_weight(sample_weight, n)
        cw = self._class_weights(classes, y_idx, partial)
        weights = cw if sw is None else (sw if cw is None else sw * cw)
        if weights is not None and not weights.sum() > 0:
            raise ValueError("sample_weight: all weights are zero (after class_weight); at "
                             "least one must be positive")

        if not continuing:
            self._forget()
        self.classes_ = classes
        self._gd_layout = layout
        n_models = len(classes) if layout == "ovr" else 1
        plan, seeds, train, val = self._make_plan(
            X, weights, partial=partial, y_strat=y_idx, cb_y=y,
            sample_weight=sample_weight, n_models=n_models)
        y_tr = y_idx if train is None else y_idx[train]
        y_va = None if val is None else y_idx[val]
        coefs = self._split_init(coef_init, n_models, "coef_init")
        intercepts = self._split_init(intercept_init, n_models, "intercept_init")
        states = self._states if continuing else [None] * n_models
        tasks, names = [], []
        for j in range(n_models):
            if layout == "multinomial":
                core_loss, labels = "multinomial", len(classes)
                yt = y_tr.astype(np.float64)
                yv = None if y_va is None else y_va.astype(np.float64)
                name = ""
            else:
                pos = 1 if layout == "binary" else j
                core_loss, labels = self.loss, 2
                yt = np.where(y_tr == pos, 1.0, -1.0)
                yv = None if y_va is None else np.where(y_va == pos, 1.0, -1.0)
                label = classes[j].item() if hasattr(classes[j], "item") else classes[j]
                name = f"class {label!r}" if layout == "ovr" else ""
            names.append(name)
            tasks.append(_Task(index=j, name=name, core_loss=core_loss, y=yt, y_val=yv,
                               labels=labels, resume=states[j], coef_init=coefs[j],
                               intercept_init=intercepts[j], seed=seeds[j]))
        root, outcomes = self._train(tasks, plan, task_name="partial_fit" if partial else "fit")
        self._finish(root, outcomes, plan, continuing=continuing, partial=partial, names=names)
        return self

    # -- prediction --------------------------------------------------------------------

    def decision_function(self, X):
        """Decision values: shape (n_samples,) for two classes (positive: classes_[1]),
        else (n_samples, n_classes)."""
        z = self._decision(X)
        return z.ravel() if z.shape[1] == 1 else z

    def predict(self, X):
        z = self.decision_function(X)
        if z.ndim == 1:
            return self.classes_[(z > 0).astype(np.intp)]
        return self.classes_[np.argmax(z, axis=1)]

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes): the sigmoid (binary logistic), the
        softmax (multinomial), normalized sigmoids (one-vs-rest logistic), or scikit-learn's
        (clip(z, -1, 1) + 1) / 2, normalized, for modified_huber."""
        z = self.decision_function(X)
        if self.loss == "logistic":
            if z.ndim == 1:
                p = _sigmoid(z)
                return np.column_stack([1 - p, p])
            if self._gd_layout == "multinomial":
                z = z - z.max(axis=1, keepdims=True)
                e = np.exp(z)
                return e / e.sum(axis=1, keepdims=True)
            p = _sigmoid(z)
            return p / p.sum(axis=1, keepdims=True)
        # modified_huber, as SGDClassifier
        p = (np.clip(z, -1, 1) + 1) / 2
        if z.ndim == 1:
            return np.column_stack([1 - p, p])
        total = p.sum(axis=1)
        zero = total == 0
        if zero.any():
            p[zero, :] = 1
            total[zero] = p.shape[1]
        return p / total[:, None]

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """The log of predict_proba."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"binary_only": False}


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


# --- the regressor ------------------------------------------------------------------------

class GDRegressor(*_CALLBACK_BASES, RegressorMixin, _GDBase):
    """Linear regressor trained by gradient descent with gdfast's OpenMP kernels.

    Every option of :func:`gdfast.fit` is a parameter with the same name and default; see
    gdfast.fit for their meaning.  The data arguments of gdfast.fit (``coef_init``,
    ``intercept_init``, ``sample_weight``) are arguments of :meth:`fit`.

    Parameters
    ----------
    loss : {"squared", "huber", "epsilon_insensitive", "poisson"}, default="squared"
        "poisson" predicts exp(X @ coef_ + intercept_) (log link).
    early_stopping, validation_fraction, warm_start : as for :class:`GDClassifier`
        (the validation split is not stratified).

    Attributes
    ----------
    coef_ : ndarray (n_features,) for a 1-D y, else (n_outputs, n_features): one model
        per output column, trained in parallel threads.
    intercept_ : scalar for a 1-D y, else ndarray (n_outputs,)
    loss_curve_, validation_loss_curve_, n_iter_, t_ : as for GDClassifier (one curve per
        output for a 2-D y).
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    def __init__(self, loss="squared", *, optimizer="sgd", learning_rate=0.01,
                 schedule="constant", batch_size=32, max_epochs=1000, tol=1e-3,
                 n_iter_no_change=5, alpha=1e-4, l1_ratio=0.0, fit_intercept=True,
                 shuffle=True, random_state=None, epsilon=0.1, momentum=None,
                 dampening=0.0, betas=(0.9, 0.999), eps=None, rho=0.99, centered=False,
                 amsgrad=False, power_t=0.5, gamma=None, step_size=10, clip_norm=None,
                 n_threads=None, parallel="deterministic", sparse_updates="dense",
                 verbose=0, callback=None, early_stopping=False,
                 validation_fraction=0.1, warm_start=False):
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.random_state = random_state
        self.epsilon = epsilon
        self.momentum = momentum
        self.dampening = dampening
        self.betas = betas
        self.eps = eps
        self.rho = rho
        self.centered = centered
        self.amsgrad = amsgrad
        self.power_t = power_t
        self.gamma = gamma
        self.step_size = step_size
        self.clip_norm = clip_norm
        self.n_threads = n_threads
        self.parallel = parallel
        self.sparse_updates = sparse_updates
        self.verbose = verbose
        self.callback = callback
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start

    def _coef_attrs(self, coef, intercept):
        if self._gd_layout == "single":
            return {"coef_": coef[0], "intercept_": intercept[0]}
        return {"coef_": coef, "intercept_": intercept}

    @_with_callbacks
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit the model on X, y (max_epochs epochs, or until tol / early stopping).

        y : (n_samples,) or (n_samples, n_outputs).  coef_init : (n_features,) or
        (n_outputs, n_features); intercept_init : a scalar or (n_outputs,).
        sample_weight : (n_samples,), non-negative; rescaled to mean 1 so that integer
        weights act as repeated rows.
        """
        return self._fit(X, y, coef_init, intercept_init, sample_weight, partial=False)

    @_with_callbacks
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X, y, continuing exactly where the previous call (fit or
        partial_fit) stopped.  Early stopping and tol do not apply; a cosine schedule
        anneals over max_epochs calls."""
        return self._fit(X, y, None, None, sample_weight, partial=True)

    def _fit(self, X, y, coef_init, intercept_init, sample_weight, *, partial):
        self._check_own_params()
        _core._check_choice(self.loss, "loss", REGRESSION_LOSSES)
        first = not (partial and self.__sklearn_is_fitted__())
        X, y = _validate_data(self, X, y, reset=first, dtype=_FLOATS, order="C",
                              accept_sparse="csr", multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        layout = "single" if y.ndim == 1 else "multi"
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        continuing = self._continuation(partial, coef_init, intercept_init, X.shape[1])
        if continuing and (layout != self._gd_layout
                           or (layout == "multi" and Y.shape[1] != self.coef_.shape[0])):
            raise ValueError("cannot continue the previous fit: it had a different number "
                             "of outputs (set warm_start=False to start a new fit)")
        n = X.shape[0]
        sw = _check_sample_weight(sample_weight, n)
        if sw is not None and not sw.sum() > 0:
            raise ValueError("sample_weight: all weights are zero; at least one must be "
                             "positive")
        if not continuing:
            self._forget()
        self._gd_layout = layout
        n_models = Y.shape[1]
        plan, seeds, train, val = self._make_plan(
            X, sw, partial=partial, y_strat=None, cb_y=y,
            sample_weight=sample_weight, n_models=n_models)
        Y_tr = Y if train is None else Y[train]
        Y_va = None if val is None else Y[val]
        coefs = self._split_init(coef_init, n_models, "coef_init")
        intercepts = self._split_init(intercept_init, n_models, "intercept_init")
        states = self._states if continuing else [None] * n_models
        tasks, names = [], []
        for j in range(n_models):
            name = f"output {j}" if n_models > 1 else ""
            names.append(name)
            tasks.append(_Task(
                index=j, name=name, core_loss=self.loss,
                y=np.ascontiguousarray(Y_tr[:, j]),
                y_val=None if Y_va is None else np.ascontiguousarray(Y_va[:, j]),
                labels=0, resume=states[j], coef_init=coefs[j],
                intercept_init=intercepts[j], seed=seeds[j]))
        root, outcomes = self._train(tasks, plan, task_name="partial_fit" if partial else "fit")
        self._finish(root, outcomes, plan, continuing=continuing, partial=partial, names=names)
        return self

    def predict(self, X):
        """X @ coef_.T + intercept_, or its exp for loss='poisson'; (n_samples,) for a 1-D
        y, else (n_samples, n_outputs)."""
        z = self._decision(X)
        return np.exp(z) if self.loss == "poisson" else z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multioutput": True}

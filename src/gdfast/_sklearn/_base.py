"""What GDClassifier and GDRegressor share: their own parameters' checks, planning a call
(validation split, weights, seeds), storing the fitted attributes, continuing a previous
fit (partial_fit, warm_start), predictions' decision values, the sample-weight checks, and
the documentation of gdfast.fit's options (with_fit_options).

Sample weights are rescaled to mean 1 (see _normalized), so that a model fitted here is
bitwise the model gdfast.fit returns for those weights.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from gdfast._api import FIT_SIGNATURE, fit
from gdfast._sklearn._compat import CALLBACK_BASES, validate_data
from gdfast._sklearn._runner import Plan
from gdfast._validation import check_bool, check_int, check_real, check_some_positive

FLOATS = [np.float64, np.float32]      # the dtypes the estimators fit in (X is converted)
# what random_state may be: the seeds of the models are drawn from a RandomState or Generator
RandomState = int | np.random.RandomState | np.random.Generator | None

# the arguments of gdfast.fit that are not estimator parameters (loss is, with its own doc)
_DATA_ARGS = ("X", "y", "coef_init", "intercept_init", "sample_weight")
_FIT_OPTIONS_MARK = "    {fit options}\n"


def with_fit_options(cls):
    """Class decorator: the line "{fit options}" of cls's docstring becomes the Parameters
    entries of gdfast.fit's options (all but loss and the data arguments), so that the
    estimators document them without writing them out again."""
    doc = fit.__doc__
    if cls.__doc__ is None or doc is None:        # python -OO
        return cls
    section = doc[doc.index("    Parameters\n"):doc.index("    Returns\n")]
    entries, name = {}, None
    for line in section.splitlines(keepends=True):
        if line.startswith("    ") and not line.startswith("     ") and " : " in line:
            name = line.split(" : ")[0].strip()
            entries[name] = ""
        if name is not None:
            entries[name] += line
    shared = [n for n in FIT_SIGNATURE.parameters if n not in _DATA_ARGS + ("loss",)]
    cls.__doc__ = cls.__doc__.replace(_FIT_OPTIONS_MARK, "".join(entries[n] for n in shared))
    return cls


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


def _normalized(weights):
    """Weights rescaled to mean 1, so that the objective is the weighted mean of the row
    losses, sum(s * loss) / sum(s): integer weights then act as repeated rows, and the
    scale of the weights does not change the strength of the penalty."""
    if weights is None:
        return None
    check_some_positive(weights, "sample_weight (after class_weight)")
    return weights * (len(weights) / float(weights.sum()))


class GDBase(BaseEstimator):
    """Parameters, planning and bookkeeping shared by GDClassifier and GDRegressor."""

    # -- parameters ----------------------------------------------------------------------

    def _core_kwargs(self):
        """The gdfast.fit options of this estimator, as given (the core validates them)."""
        names = [n for n in FIT_SIGNATURE.parameters if n not in _DATA_ARGS]
        return {n: getattr(self, n) for n in names}

    def _check_own_params(self):
        check_bool(self.early_stopping, "early_stopping")
        check_bool(self.warm_start, "warm_start")
        check_real(self.validation_fraction, "validation_fraction", low=0, high=1,
                   low_open=True, high_open=True)
        check_int(self.max_epochs, "max_epochs", low=1)
        if self.tol is not None and not (isinstance(self.tol, str) and self.tol == "auto"):
            check_real(self.tol, "tol", low=0, also=("auto", None))
        check_int(self.n_iter_no_change, "n_iter_no_change", low=1)
        if not isinstance(self.verbose, numbers.Integral):
            raise TypeError(f"verbose must be an integer, got {self.verbose!r}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got "
                            f"{type(self.callback).__name__}")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    # -- planning and storing a call (training: _runner.run_tasks) -------------------------

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
        plan = Plan(X=X_train, sw=_normalized(sw_train), X_val=X_val, sw_val=sw_val,
                    kwargs=self._core_kwargs(), max_epochs=max_epochs, horizon=horizon,
                    tol=self.tol, partial=partial, early_stopping=early, verbose=self.verbose,
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
        # what the "auto" options chose (the same for every model, but for the rate)
        first = outcomes[0].fit
        self.optimizer_, self.batch_size_ = first.optimizer, first.batch_size
        self.schedule_ = first.schedule
        rates = [o.fit.learning_rate for o in outcomes]
        self.learning_rate_ = np.array(rates) if multi else rates[0]
        self.n_iter_ = max(s.epochs for s in self._states)
        self.t_ = max(s.t for s in self._states)
        root.call_on_fit_task_end(estimator=self, X=plan.cb_X, y=plan.cb_y,
                                  metadata=plan.cb_metadata, reconstruction_attributes={})
        if not partial and plan.tol is not None:
            late = [name for name, o in zip(names, outcomes, strict=True) if o.hit_max_epochs]
            if late:
                which = f" for {', '.join(late)}" if multi else ""
                what = "validation loss" if plan.early_stopping else "loss"
                warnings.warn(
                    f"{type(self).__name__}: max_epochs={self.max_epochs} ended the fit"
                    f"{which} before the {what} stopped improving by tol={plan.tol!r}; "
                    "increase max_epochs or tol, or tune learning_rate and schedule.",
                    ConvergenceWarning, stacklevel=5 if CALLBACK_BASES else 4)

    def _forget(self):
        """Drop the previous model before a fit that starts over, so that a failed fit
        leaves an unfitted estimator rather than a mix of the old and the new."""
        for name in ("coef_", "intercept_", "_states", "loss_curve_", "validation_loss_curve_",
                     "n_iter_", "t_", "optimizer_", "batch_size_", "schedule_",
                     "learning_rate_"):
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
        X = validate_data(self, X, reset=False, dtype=FLOATS, accept_sparse="csr")
        return np.asarray(X @ self.coef_.T) + self.intercept_

    # -- tags ----------------------------------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

"""GDRegressor: a scikit-learn linear regressor on gdfast's kernels, one model per output
column for a 2-D y.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from gdfast._api import EpochCallback
from gdfast._options import REGRESSION_LOSSES
from gdfast._sklearn import _dask
from gdfast._sklearn._base import (
    FLOATS,
    GDBase,
    RandomState,
    with_fit_options,
)
from gdfast._sklearn._compat import CALLBACK_BASES, validate_data, with_callbacks
from gdfast._sklearn._runner import Task, run_tasks
from gdfast._validation import MatrixLike, check_choice, check_sample_weight, check_some_positive


@with_fit_options
class GDRegressor(*CALLBACK_BASES, RegressorMixin, GDBase):
    """Linear regressor trained by gradient descent with gdfast's OpenMP kernels.

    Every option of :func:`gdfast.fit` is a parameter with the same name, default and
    meaning; the data arguments of gdfast.fit (``coef_init``, ``intercept_init``,
    ``sample_weight``) are arguments of :meth:`fit`.  A model fitted here is bitwise the
    model gdfast.fit returns for the same settings and the sample weights rescaled to mean
    1.  ``random_state`` may also be a numpy RandomState, and the dict passed to
    ``callback`` also holds ``model``, the index of the output column it reports on.

    Parameters
    ----------
    loss : {"squared", "huber", "epsilon_insensitive", "poisson"}, default="squared"
        The loss per row; "poisson" predicts ``exp(X @ coef_ + intercept_)`` (log link).
    {fit options}
    early_stopping : bool, default=False
        As for :class:`GDClassifier` (the validation split is not stratified).
    validation_fraction : float in (0, 1), default=0.1
        The share of the rows held out for early stopping.
    warm_start : bool, default=False
        When True, fit continues from the previous fit's training state.

    Attributes
    ----------
    coef_ : numpy.ndarray
        Shape (n_features,) for a 1-D y, else (n_outputs, n_features): one model per
        output column, trained in parallel threads.
    intercept_ : numpy.floating or numpy.ndarray
        A scalar for a 1-D y, else shape (n_outputs,).
    loss_curve_ : numpy.ndarray or list of numpy.ndarray
        As for GDClassifier, one curve per output for a 2-D y.
    validation_loss_curve_ : numpy.ndarray, list of numpy.ndarray, or None
        As for GDClassifier.
    n_iter_ : int
        Epochs since the last fit that did not continue (the most over models).
    t_ : int
        Optimizer steps since then (the most over models).
    optimizer_ : str
        The optimizer of the last call: ``optimizer``, or what ``"auto"`` chose.
    learning_rate_ : float or numpy.ndarray of shape (n_models,)
        The base learning rate of the last call (see ``FitResult.learning_rate``), one per
        model when there are several.
    batch_size_ : int or None
        The rows per step of the last call; None for full-batch steps.
    schedule_ : str
        The learning-rate schedule of the last call.
    n_features_in_ : int
        The number of features seen by fit.
    feature_names_in_ : numpy.ndarray of shape (n_features,)
        The feature names seen by fit, when X had string column names.

    Examples
    --------
    >>> from gdfast import GDRegressor
    >>> from gdfast.datasets import make_regression
    >>> X, y, w, b = make_regression(n_samples=500, n_features=3)
    >>> reg = GDRegressor(optimizer="adam", learning_rate=0.05, random_state=0).fit(X, y)
    >>> reg.coef_.shape, bool(reg.score(X, y) > 0.9)
    ((3,), True)
    """

    def __init__(self, loss: str = "squared", *, optimizer: str = "auto",
                 learning_rate: float | str = "auto", schedule: str = "auto",
                 batch_size: int | str | None = "auto", max_epochs: int = 1000,
                 tol: float | str | None = "auto", n_iter_no_change: int = 5, alpha: float = 1e-4,
                 l1_ratio: float = 0.0, fit_intercept: bool = True, shuffle: bool = True,
                 random_state: RandomState = None, epsilon: float = 0.1,
                 momentum: float | None = None, dampening: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float | None = None,
                 rho: float = 0.99, centered: bool = False, amsgrad: bool = False,
                 power_t: float = 0.5, gamma: float | None = None, step_size: int = 10,
                 clip_norm: float | None = None, average: bool | int = False,
                 n_threads: int | None = None, parallel: str = "deterministic",
                 sparse_updates: str = "dense",
                 verbose: int = 0, callback: EpochCallback | None = None,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 warm_start: bool = False) -> None:
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
        self.average = average
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

    @with_callbacks
    def fit(self, X: MatrixLike, y: ArrayLike, coef_init: ArrayLike | None = None,
            intercept_init: ArrayLike | None = None,
            sample_weight: ArrayLike | None = None) -> GDRegressor:
        """Fit the model on X, y: max_epochs epochs, or until tol or early stopping.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The training data (fitted in float32 when it is float32, else in float64).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets; one model per column of a 2-D y.
        coef_init : array-like or None, default=None
            Initial coefficients, shape (n_features,) or (n_outputs, n_features).  Starts a
            new fit even with warm_start.
        intercept_init : array-like, float or None, default=None
            Initial intercepts, a scalar or shape (n_outputs,).  Starts a new fit even
            with warm_start.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative; rescaled to mean 1 so that integer weights act as repeated rows.

        Returns
        -------
        GDRegressor
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter or the data is not valid (the message names it).
        gdfast.DivergenceError
            If the loss or the parameters became NaN or infinite.
        """
        return self._fit(X, y, coef_init, intercept_init, sample_weight, partial=False)

    @with_callbacks
    def partial_fit(self, X: MatrixLike, y: ArrayLike,
                    sample_weight: ArrayLike | None = None) -> GDRegressor:
        """One epoch over X, y, continuing exactly where the previous call stopped.

        The previous call is fit or partial_fit.  Early stopping and tol do not apply; a
        cosine schedule anneals over max_epochs calls.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            A chunk of the training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets, with as many columns as on the first call.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            As for :meth:`fit`.

        Returns
        -------
        GDRegressor
            The updated estimator.

        Raises
        ------
        ValueError
            If y has another number of outputs than before, or a parameter or the data is
            not valid.
        gdfast.DivergenceError
            If the loss or the parameters became NaN or infinite.
        """
        return self._fit(X, y, None, None, sample_weight, partial=True)

    def _fit(self, X, y, coef_init, intercept_init, sample_weight, *, partial):
        if _dask.is_dask(X) or _dask.is_dask(y):
            check_choice(self.loss, "loss", REGRESSION_LOSSES)
            return _dask.fit(self, X, y, sample_weight, coef_init, intercept_init,
                             classifier=False, partial=partial)
        self._check_own_params()
        check_choice(self.loss, "loss", REGRESSION_LOSSES)
        first = not (partial and self.__sklearn_is_fitted__())
        X, y = validate_data(self, X, y, reset=first, dtype=FLOATS, order="C",
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
        sw = check_sample_weight(sample_weight, n)
        check_some_positive(sw, "sample_weight")
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
            tasks.append(Task(
                index=j, name=name, core_loss=self.loss,
                y=np.ascontiguousarray(Y_tr[:, j]),
                y_val=None if Y_va is None else np.ascontiguousarray(Y_va[:, j]),
                labels=0, resume=states[j], coef_init=coefs[j],
                intercept_init=intercepts[j], seed=seeds[j]))
        root, outcomes = run_tasks(self, tasks, plan,
                                   task_name="partial_fit" if partial else "fit")
        self._finish(root, outcomes, plan, continuing=continuing, partial=partial, names=names)
        return self

    def predict(self, X: MatrixLike) -> np.ndarray:
        """The model's predictions.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            ``X @ coef_.T + intercept_``, or its exp for loss="poisson"; shape (n_samples,)
            for a 1-D y, else (n_samples, n_outputs).
        """
        if _dask.is_dask(X):
            check_is_fitted(self)
            K = self.coef_.shape[0]
            return _dask.predict(self, "predict", X,
                                 None if self._gd_layout == "single" else K,
                                 _dask.output_dtype(X, self.coef_))
        z = self._decision(X)
        return np.exp(z) if self.loss == "poisson" else z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multioutput": True}

"""GDRegressor: a scikit-learn linear regressor on gdfast's kernels, one model per output
column for a 2-D y.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from gdfast._options import REGRESSION_LOSSES
from gdfast._sklearn._base import FLOATS, GDBase, check_sample_weight
from gdfast._sklearn._compat import CALLBACK_BASES, validate_data, with_callbacks
from gdfast._sklearn._runner import Task, run_tasks
from gdfast._validation import check_choice


class GDRegressor(*CALLBACK_BASES, RegressorMixin, GDBase):
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

    @with_callbacks
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit the model on X, y (max_epochs epochs, or until tol / early stopping).

        y : (n_samples,) or (n_samples, n_outputs).  coef_init : (n_features,) or
        (n_outputs, n_features); intercept_init : a scalar or (n_outputs,).
        sample_weight : (n_samples,), non-negative; rescaled to mean 1 so that integer
        weights act as repeated rows.
        """
        return self._fit(X, y, coef_init, intercept_init, sample_weight, partial=False)

    @with_callbacks
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X, y, continuing exactly where the previous call (fit or
        partial_fit) stopped.  Early stopping and tol do not apply; a cosine schedule
        anneals over max_epochs calls."""
        return self._fit(X, y, None, None, sample_weight, partial=True)

    def _fit(self, X, y, coef_init, intercept_init, sample_weight, *, partial):
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

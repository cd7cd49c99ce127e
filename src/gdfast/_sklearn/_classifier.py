"""GDClassifier: a scikit-learn linear classifier on gdfast's kernels, binary, multinomial
(softmax) or one-vs-rest, with class weights and probability estimates.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from gdfast._api import EpochCallback
from gdfast._losses import modified_huber_proba, sigmoid, softmax
from gdfast._options import CLASSIFICATION_LOSSES
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


def _has_proba(estimator):
    if estimator.loss not in ("logistic", "modified_huber"):
        raise AttributeError(f"probability estimates are not available for "
                             f"loss={estimator.loss!r}; use loss='logistic' or "
                             "'modified_huber'")
    return True


@with_fit_options
class GDClassifier(*CALLBACK_BASES, ClassifierMixin, GDBase):
    """Linear classifier trained by gradient descent with gdfast's OpenMP kernels.

    Every option of :func:`gdfast.fit` is a parameter with the same name, default and
    meaning, except ``loss`` (default ``"logistic"``); the data arguments of gdfast.fit
    (``coef_init``, ``intercept_init``, ``sample_weight``) are arguments of :meth:`fit`.
    A binary model fitted here is bitwise the model gdfast.fit returns for the same
    settings and the sample weights rescaled to mean 1.  ``random_state`` may also be a
    numpy RandomState, and the dict passed to ``callback`` also holds ``model``, the index
    of the model it reports on (one-vs-rest).

    Parameters
    ----------
    loss : {"logistic", "hinge", "squared_hinge", "modified_huber"}, default="logistic"
        The binary loss; ``"logistic"`` also gives the softmax model for more than two
        classes (see multi_class).
    {fit options}
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
        The share of the rows held out for early stopping.
    warm_start : bool, default=False
        When True, fit continues from the previous fit's training state (parameters,
        optimizer state, step count, schedule position, random generator).

    Attributes
    ----------
    classes_ : numpy.ndarray of shape (n_classes,)
        The sorted class labels.
    coef_ : numpy.ndarray
        Shape (1, n_features) for two classes, else (n_classes, n_features).
    intercept_ : numpy.ndarray
        Shape (1,) or (n_classes,).
    loss_curve_ : numpy.ndarray or list of numpy.ndarray
        The training objective per epoch since the last fit that did not continue; one
        curve per class for one-vs-rest.
    validation_loss_curve_ : numpy.ndarray, list of numpy.ndarray, or None
        Like ``loss_curve_``, for the epochs of the last fit with early_stopping; None without
        early stopping.
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
    >>> from gdfast import GDClassifier
    >>> from gdfast.datasets import make_classification
    >>> X, y = make_classification(n_samples=500, n_features=4, n_classes=3)
    >>> clf = GDClassifier(optimizer="adam", learning_rate=0.01, random_state=0).fit(X, y)
    >>> clf.coef_.shape, clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape
    ((3, 4), (2,), (2, 3))
    """

    def __init__(self, loss: str = "logistic", *, optimizer: str = "auto",
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
                 multi_class: str = "auto", class_weight: dict | str | None = None,
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
        self.multi_class = multi_class
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start

    # -- parameters and layout ---------------------------------------------------------

    def _layout(self, n_classes):
        """'binary', 'multinomial' or 'ovr' for n_classes under the current parameters."""
        check_choice(self.loss, "loss", CLASSIFICATION_LOSSES)
        if self.loss == "multinomial":
            raise ValueError("loss='multinomial' is not a GDClassifier loss: use "
                             "loss='logistic' (multi_class='auto' or 'multinomial' fits the "
                             "softmax model for more than two classes)")
        check_choice(self.multi_class, "multi_class", ("auto", "multinomial", "ovr"))
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

    @with_callbacks
    def fit(self, X: MatrixLike, y: ArrayLike, coef_init: ArrayLike | None = None,
            intercept_init: ArrayLike | None = None,
            sample_weight: ArrayLike | None = None) -> GDClassifier:
        """Fit the model on X, y: max_epochs epochs, or until tol or early stopping.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The training data (fitted in float32 when it is float32, else in float64).
        y : array-like of shape (n_samples,)
            The class labels, at least two distinct ones.
        coef_init : array-like or None, default=None
            Initial coefficients, shape (n_classes, n_features), or (n_features,) or
            (1, n_features) for two classes.  Starts a new fit even with warm_start.
        intercept_init : array-like, float or None, default=None
            Initial intercepts, shape (n_classes,), or a scalar for two classes.  Starts a
            new fit even with warm_start.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative; rescaled to mean 1 (with class_weight) so that integer weights
            act as repeated rows.

        Returns
        -------
        GDClassifier
            The fitted estimator.

        Raises
        ------
        ValueError
            If a parameter or the data is not valid (the message names it).
        gdfast.DivergenceError
            If the loss or the parameters became NaN or infinite.
        """
        return self._fit(X, y, None, coef_init, intercept_init, sample_weight, partial=False)

    @with_callbacks
    def partial_fit(self, X: MatrixLike, y: ArrayLike, classes: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> GDClassifier:
        """One epoch over X, y, continuing exactly where the previous call stopped.

        The previous call is fit or partial_fit.  Early stopping and tol do not apply; a
        cosine schedule anneals over max_epochs calls.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            A chunk of the training data.
        y : array-like of shape (n_samples,)
            Its class labels (a chunk may lack some classes).
        classes : array-like or None, default=None
            All the class labels: required on the first call, and the same on later ones.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            As for :meth:`fit`.

        Returns
        -------
        GDClassifier
            The updated estimator.

        Raises
        ------
        ValueError
            If classes is missing on the first call or differs later, y has labels not in
            classes, or a parameter or the data is not valid.
        gdfast.DivergenceError
            If the loss or the parameters became NaN or infinite.
        """
        return self._fit(X, y, classes, None, None, sample_weight, partial=True)

    def _fit(self, X, y, classes, coef_init, intercept_init, sample_weight, *, partial):
        if _dask.is_dask(X) or _dask.is_dask(y):
            return _dask.fit(self, X, y, sample_weight, coef_init, intercept_init,
                             classifier=True, partial=partial)
        self._check_own_params()
        first = not (partial and self.__sklearn_is_fitted__())
        if partial and first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = validate_data(self, X, y, reset=first, dtype=FLOATS, order="C",
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
        sw = check_sample_weight(sample_weight, n)
        cw = self._class_weights(classes, y_idx, partial)
        weights = cw if sw is None else (sw if cw is None else sw * cw)
        check_some_positive(weights, "sample_weight (after class_weight)")

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
            tasks.append(Task(index=j, name=name, core_loss=core_loss, y=yt, y_val=yv,
                              labels=labels, resume=states[j], coef_init=coefs[j],
                              intercept_init=intercepts[j], seed=seeds[j]))
        root, outcomes = run_tasks(self, tasks, plan,
                                   task_name="partial_fit" if partial else "fit")
        self._finish(root, outcomes, plan, continuing=continuing, partial=partial, names=names)
        return self

    # -- prediction --------------------------------------------------------------------

    def decision_function(self, X: MatrixLike) -> np.ndarray:
        """The decision values ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Shape (n_samples,) for two classes (positive: the class ``classes_[1]``), else
            (n_samples, n_classes).
        """
        if _dask.is_dask(X):
            check_is_fitted(self)
            K = self.coef_.shape[0]
            return _dask.predict(self, "decision_function", X, None if K == 1 else K,
                                 _dask.output_dtype(X, self.coef_))
        z = self._decision(X)
        return z.ravel() if z.shape[1] == 1 else z

    def predict(self, X: MatrixLike) -> np.ndarray:
        """The predicted class of each row.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Labels from ``classes_``: the class of the largest decision value.
        """
        if _dask.is_dask(X):
            check_is_fitted(self)
            return _dask.predict(self, "predict", X, None, self.classes_.dtype)
        z = self.decision_function(X)
        if z.ndim == 1:
            return self.classes_[(z > 0).astype(np.intp)]
        return self.classes_[np.argmax(z, axis=1)]

    @available_if(_has_proba)
    def predict_proba(self, X: MatrixLike) -> np.ndarray:
        """Class probabilities, for loss="logistic" or "modified_huber".

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``: the sigmoid (binary logistic), the
            softmax (multinomial), normalized sigmoids (one-vs-rest logistic), or
            scikit-learn's (clip(z, -1, 1) + 1) / 2, normalized, for modified_huber.
        """
        if _dask.is_dask(X):
            check_is_fitted(self)
            return _dask.predict(self, "predict_proba", X, len(self.classes_),
                                 _dask.output_dtype(X, self.coef_))
        z = self.decision_function(X)
        if self.loss == "logistic":
            if z.ndim == 1:
                p = sigmoid(z)
                return np.column_stack([1 - p, p])
            if self._gd_layout == "multinomial":
                return softmax(z)
            p = sigmoid(z)
            return p / p.sum(axis=1, keepdims=True)
        # modified_huber, as SGDClassifier
        p = modified_huber_proba(z)
        if z.ndim == 1:
            return np.column_stack([1 - p, p])
        total = p.sum(axis=1)
        zero = total == 0
        if zero.any():
            p[zero, :] = 1
            total[zero] = p.shape[1]
        return p / total[:, None]

    @available_if(_has_proba)
    def predict_log_proba(self, X: MatrixLike) -> np.ndarray:
        """The log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Log-probabilities (-inf where a probability is 0).
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"binary_only": False}

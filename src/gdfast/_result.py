"""What a fit returns: FitResult (parameters, loss history, predictions), the DivergenceError
that carries the result so far, and the TrainingState a fit can be continued from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdfast._losses import modified_huber_proba, sigmoid, softmax
from gdfast._options import BINARY_LOSSES, PROBA_LOSSES
from gdfast._validation import MatrixLike, as_predict_X, is_dask


@dataclass
class TrainingState:
    """Where a fit stopped, enough to continue it exactly: the parameters, the optimizer
    state, the step count, the schedule's and the stopping rule's position, and the random
    generator.  FitResult.state holds one; gdfast's estimators pass it back to continue
    (partial_fit, warm_start)."""
    theta: np.ndarray          # flat parameters [coef (K*d), intercept (K)]
    opt_state: np.ndarray      # flat optimizer state (n_state * P)
    optimizer: str
    t: int                     # optimizer steps taken
    epochs: int                # epochs completed
    plateau_lr: float
    best_loss: float
    no_improvement: int
    rng: np.random.Generator
    learning_rate: float | None = None   # the base rate learning_rate="auto" settled on
    average: int = 0                     # averaging's first step (0: none); the averaged
                                         # parameters are opt_state's last P entries


class FitResult:
    """The outcome of :func:`gdfast.fit`: the parameters, the losses and the predictions.

    Built by the fit (not meant to be constructed directly).

    Attributes
    ----------
    coef : numpy.ndarray
        The coefficients, in the dtype of the fit: shape (n_features,), or
        (n_classes, n_features) for ``loss="multinomial"``.
    intercept : numpy.floating or numpy.ndarray
        A scalar of the fit's dtype, or shape (n_classes,) for ``loss="multinomial"``.
    classes : numpy.ndarray or None
        The sorted class labels for classification losses (for binary losses the second
        is the positive class); None for regression losses.
    loss : str
        The loss the model was fit with.
    loss_history : numpy.ndarray
        float64, shape (n_epochs,): the objective of each epoch, the mean over rows of
        sample_weight * loss, each taken at the parameters its batch saw during the pass,
        plus the penalty at the end of the epoch.
    n_epochs : int
        Epochs completed.
    n_steps : int
        Optimizer steps taken.
    converged : bool
        True when the fit stopped by its stopping rule (``tol``; for ``"lbfgs"`` also when
        no step can lower the objective at the precision of the fit's dtype).
    optimizer : str
        The optimizer that ran: the one given, or the choice of ``optimizer="auto"``.
    learning_rate : float
        The base learning rate the fit used: the one given, or the one
        ``learning_rate="auto"`` derived from the data (after any reduction by its
        safeguard).  For ``"lbfgs"``, the length of the last line-search step.
    batch_size : int or None
        The rows per step; None for full-batch steps.
    schedule : str
        The learning-rate schedule that ran (the choice of ``schedule="auto"``).
    warm_start : dict or None
        Where ``optimizer="auto"`` started its ``"lbfgs"`` fit from one epoch of averaged
        SGD (many rows per parameter, a classification or huber loss, well-scaled dense
        columns): that epoch's ``optimizer``, ``batch_size``, ``learning_rate``, ``average``
        and ``epochs``, and ``from_mean``: whether L-BFGS went on from the epoch's mean
        (False where the mean was above the start, and L-BFGS began at the start).  The
        epoch is the fit's first (in ``loss_history``, ``n_epochs`` and the callbacks), and
        its steps count in ``n_steps``.  None otherwise.
    dtype : numpy.dtype
        The dtype of the fit and of its coefficients.
    n_features : int
        The number of features.

    Examples
    --------
    >>> import gdfast
    >>> from gdfast.datasets import make_classification
    >>> X, y = make_classification(200, 3)
    >>> res = gdfast.fit(X, y, loss="logistic", max_epochs=5, tol=None)
    >>> res.coef.shape, res.n_epochs, res.loss_history.shape
    ((3,), 5, (5,))
    >>> res.predict(X[:4]).shape, res.predict_proba(X[:4]).shape
    ((4,), (4, 2))
    """

    coef: np.ndarray
    intercept: np.floating | np.ndarray
    classes: np.ndarray | None
    loss: str
    loss_history: np.ndarray
    n_epochs: int
    n_steps: int
    converged: bool
    state: TrainingState       # what gdfast's estimators continue from (partial_fit, warm_start)
    optimizer: str
    learning_rate: float
    batch_size: int | None
    schedule: str
    warm_start: dict | None = None     # (a class default: results pickled before it existed)

    def __init__(self, *, coef, intercept, classes, loss, loss_history, n_epochs, n_steps,
                 converged, state, optimizer, learning_rate, batch_size, schedule,
                 warm_start=None):
        self.coef = coef
        self.intercept = intercept
        self.classes = classes
        self.loss = loss
        self.loss_history = loss_history
        self.n_epochs = n_epochs
        self.n_steps = n_steps
        self.converged = converged
        self.state = state
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.schedule = schedule
        self.warm_start = warm_start

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the fit and of its coefficients."""
        return self.coef.dtype

    @property
    def n_features(self) -> int:
        """The number of features."""
        return self.coef.shape[-1]

    def __repr__(self) -> str:
        last = f"{self.loss_history[-1]:.6g}" if len(self.loss_history) else "n/a"
        return (f"FitResult(loss={self.loss!r}, optimizer={self.optimizer!r}, "
                f"learning_rate={self.learning_rate:.4g}, coef.shape={self.coef.shape}, "
                f"dtype={self.dtype}, n_epochs={self.n_epochs}, n_steps={self.n_steps}, "
                f"converged={self.converged}, final_loss={last})")

    def decision_function(self, X: MatrixLike) -> np.ndarray:
        """The decision values ``X @ coef.T + intercept``.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Shape (n_samples,), or (n_samples, n_classes) for ``loss="multinomial"``.

        Raises
        ------
        ValueError
            If X is not a 2-D numeric array, or has another number of features than the
            model.
        """
        if is_dask(X):
            return _lazy(self, "decision_function", X,
                         None if self.coef.ndim == 1 else self.coef.shape[0], self.dtype)
        X = as_predict_X(X, self.n_features)
        return np.asarray(X @ self.coef.T) + self.intercept

    def predict(self, X: MatrixLike) -> np.ndarray:
        """The model's predictions.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Shape (n_samples,): class labels for classification losses, exp(decision) for
            ``"poisson"`` (the mean under the log link), the decision values for the other
            regression losses.

        Raises
        ------
        ValueError
            As :meth:`decision_function`.
        """
        if is_dask(X):
            return _lazy(self, "predict", X, None,
                         self.dtype if self.classes is None else self.classes.dtype)
        z = self.decision_function(X)
        if self.loss == "multinomial":
            return self.classes[np.argmax(z, axis=1)]
        if self.loss in BINARY_LOSSES:
            return self.classes[(z > 0).astype(np.intp)]
        if self.loss == "poisson":
            return np.exp(z)
        return z

    def predict_proba(self, X: MatrixLike) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        numpy.ndarray
            Shape (n_samples, n_classes), columns in the order of ``classes``: the logistic
            sigmoid, scikit-learn's (clip(z, -1, 1) + 1) / 2 for ``"modified_huber"``, the
            softmax for ``"multinomial"``.

        Raises
        ------
        ValueError
            If the loss is not ``"logistic"``, ``"modified_huber"`` or ``"multinomial"``,
            or as :meth:`decision_function`.
        """
        if self.loss not in PROBA_LOSSES:
            raise ValueError(f"predict_proba needs loss in {PROBA_LOSSES}; this model was fit "
                             f"with loss={self.loss!r}")
        if is_dask(X):
            return _lazy(self, "predict_proba", X, len(self.classes), self.dtype)
        z = self.decision_function(X)
        if self.loss == "multinomial":
            return softmax(z)
        p = sigmoid(z) if self.loss == "logistic" else modified_huber_proba(z)
        return np.column_stack([1 - p, p])


def _lazy(model, name, X, n_outputs, dtype):
    """model.<name> over the row-chunks of a dask collection, lazily (gdfast.dask); the
    decision values' dtype is that of X @ coef (float32 only when both are)."""
    from gdfast._dask.predict import map_blocks, output_dtype
    if np.dtype(dtype).kind == "f":
        dtype = output_dtype(X, model.coef)
    return map_blocks(model, name, X, n_outputs, dtype)


class DivergenceError(FloatingPointError):
    """The loss or the parameters became NaN or infinite during a fit.

    Raised by :func:`gdfast.fit` (and by the estimators) instead of returning a model that
    has diverged; what was fitted until then is in ``result``.

    Parameters
    ----------
    message : str
        What happened, and what to try.
    epoch : int
        See Attributes.
    step : int
        See Attributes.
    result : FitResult
        See Attributes.

    Attributes
    ----------
    epoch : int
        The epoch (1-based) in which the fit diverged.
    step : int
        The optimizer step (1-based, counted over the whole fit) it had reached.
    result : FitResult
        The parameters at that point and the loss history of the completed epochs.

    Examples
    --------
    >>> import numpy as np
    >>> import gdfast
    >>> X, y = np.array([[1e3], [-1e3]]), np.array([1.0, -1.0])
    >>> try:
    ...     gdfast.fit(X, y, optimizer="sgd", learning_rate=1.0, tol=None)
    ... except gdfast.DivergenceError as exc:
    ...     print(exc.epoch == exc.result.n_epochs + 1)
    True
    """

    def __init__(self, message: str, *, epoch: int, step: int, result: FitResult):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.result = result

"""GDClassifier and GDRegressor on dask collections: fit dispatches here (gdfast.dask.run, one
model per binary problem, multinomial problem or output, as the in-memory runner does), and
the predictions map over the blocks lazily.  The label set, the class counts and the weights'
mean are reductions; no block is gathered on the client."""
from __future__ import annotations

import numpy as np

from gdfast._dask.predict import output_dtype  # noqa: F401 - the hooks' dtype
from gdfast._sklearn._base import _seeds
from gdfast._validation import is_dask  # noqa: F401 - the estimators' dispatch


def _refuse(estimator, partial):
    if partial:
        raise TypeError("partial_fit takes in-memory chunks; for dask collections use fit, "
                        "which trains on every block")


# -- early stopping: a held-out part of every block ------------------------------------------

def _held_out(seed, index, n, fraction):
    """The validation rows of block index (n rows): each row with probability fraction, drawn
    from (seed, index), and at least one row of a block of two or more."""
    mask = np.random.default_rng([seed, index]).random(n) < fraction
    if n >= 2 and not mask.any():
        mask[0] = True
    if n >= 2 and mask.all():
        mask[0] = False
    return mask


def _part(block, seed, fraction, validation, block_info=None):
    index = block_info[None]["chunk-location"][0]
    mask = _held_out(seed, index, block.shape[0], fraction)
    return block[mask if validation else ~mask]


def _split(arrays, seed, fraction):
    """(training parts, validation parts) of dask arrays with the same row chunks."""
    rows = arrays[0].chunks[0]
    masks = [_held_out(seed, i, n, fraction) for i, n in enumerate(rows)]
    out = []
    for validation in (False, True):
        sizes = tuple(int(m.sum() if validation else (~m).sum()) for m in masks)
        parts = []
        for a in arrays:
            if a is None:
                parts.append(None)
                continue
            chunks = (sizes,) + a.chunks[1:]
            parts.append(a.map_blocks(_part, seed, fraction, validation, dtype=a.dtype,
                                      chunks=chunks, meta=a._meta))
        out.append(parts)
    return out


def _block_loss(X, y, sw, coef, intercept, core_loss, epsilon, positive):
    """(sum sw * loss, sum sw) of a model on one block (the estimator's validation loss)."""
    from gdfast._losses import row_losses
    from gdfast._validation import as_float_2d
    n = X.shape[0]
    if n == 0:
        return 0.0, 0.0
    if core_loss == "multinomial":
        target = np.searchsorted(positive, y).astype(np.float64)
    elif positive is not None:
        target = np.where(y == positive, 1.0, -1.0)
    else:
        target = np.asarray(y, dtype=np.float64)
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    Xa = as_float_2d(X, "X")
    Xa = Xa.matrix if hasattr(Xa, "matrix") else Xa
    Z = np.asarray(Xa @ np.asarray(coef).T, dtype=np.float64) + intercept
    return float(w @ row_losses(core_loss, Z, target, epsilon)), float(w.sum())


def _validation_loss(parts, coef, intercept, core_loss, epsilon, positive):
    import dask
    from dask import delayed
    X, y, sw = parts
    xs, ys = X.to_delayed().ravel(), y.to_delayed().ravel()
    ss = [None] * len(xs) if sw is None else list(sw.to_delayed().ravel())
    got = dask.compute(*[delayed(_block_loss, pure=False)(
        xb, yb, sb, coef, intercept, core_loss, epsilon, positive)
        for xb, yb, sb in zip(xs, ys, ss, strict=True)])
    total = sum(g[0] for g in got)
    weight = sum(g[1] for g in got)
    if not weight > 0:
        raise ValueError("sample_weight: the weights of the validation rows are all zero; use "
                         "another random_state or validation_fraction")
    return total / weight


class _EarlyStop:
    """The per-epoch callback of an early-stopped model, as the in-memory runner's."""

    def __init__(self, estimator, parts, core_loss, positive, user_callback, index):
        from gdfast._auto import AUTO_FIRST_ORDER_TOL
        self.est, self.parts = estimator, parts
        self.core_loss, self.positive = core_loss, positive
        self.user, self.index = user_callback, index
        self.tol = AUTO_FIRST_ORDER_TOL if estimator.tol == "auto" else estimator.tol
        self.history, self.best, self.params, self.stale = [], np.inf, None, 0
        self.stopped = False

    def __call__(self, record):
        del self.history[record["epoch"] - 1:]      # an epoch taken back is reported again
        vl = _validation_loss(self.parts, np.asarray(record["coef"]),
                              np.asarray(record["intercept"]), self.core_loss,
                              self.est.epsilon, self.positive)
        self.history.append(vl)
        stop = False
        if self.tol is not None:
            self.stale = self.stale + 1 if vl > self.best - self.tol else 0
        if vl < self.best:
            self.best = vl
            self.params = (np.array(record["coef"], copy=True),
                           np.array(record["intercept"], copy=True))
        if self.tol is not None and self.stale >= self.est.n_iter_no_change:
            self.stopped = stop = True
        if self.user is not None and self.user(dict(record, model=self.index)) is True:
            stop = True
        return stop


def _row_weights(y, table, classes):
    """class_weight per row: table[index of y's label in classes]."""
    return table[np.searchsorted(classes, y)]


def fit(estimator, X, y, sample_weight, coef_init, intercept_init, *, classifier,
        partial=False):
    import dask

    import gdfast.dask as gdd
    _refuse(estimator, partial)
    estimator._check_own_params()
    from gdfast._dask.data import as_blocks
    if y is None:
        raise ValueError("y: expected the targets, got None")
    # X, y and the weights with the same row chunks (a split or a product of them needs it)
    Xd, yd, swd = as_blocks(X, y, sample_weight)
    continuing = estimator._continuation(False, coef_init, intercept_init, Xd.shape[1])
    options = estimator._core_kwargs()
    for name in ("callback", "verbose"):
        options.pop(name, None)
    user_callback, verbose = estimator.callback, estimator.verbose
    if classifier:
        classes, counts = dask.compute(*_unique(yd))
        from sklearn.utils.multiclass import check_classification_targets
        check_classification_targets(classes)       # continuous y: refused, as in memory
        if len(classes) < 2:
            raise ValueError(f"the classifier needs samples of at least 2 classes in the data, "
                             f"but the data contains only 1 class: {classes[0]!r}")
        layout = estimator._layout(len(classes))
        weights = None
        if estimator.class_weight is not None:
            from sklearn.utils.class_weight import compute_class_weight
            cw = estimator.class_weight
            if not (isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
                raise ValueError(f"class_weight must be a dict, 'balanced' or None, got {cw!r}")
            y_like = np.repeat(classes, counts)         # the labels' counts, not the rows
            table = np.asarray(compute_class_weight(cw, classes=classes, y=y_like),
                               dtype=np.float64)
            if not np.isfinite(table).all() or (table < 0).any():
                raise ValueError("class_weight: weights must be finite and non-negative")
            weights = yd.map_blocks(_row_weights, table, classes, dtype=np.float64)
        if weights is not None:
            weights = weights if swd is None else weights * swd
        else:
            weights = swd
    else:
        layout, classes = "single", None
        weights = swd
    if continuing and (layout != estimator._gd_layout or (
            classifier and not np.array_equal(classes, estimator.classes_))):
        raise ValueError("cannot continue the previous fit: its classes or its layout differ "
                         "from this call's (set warm_start=False to start a new fit)")
    n_models = len(classes) if layout == "ovr" else 1
    seeds = _seeds(estimator.random_state, n_models)
    early = bool(estimator.early_stopping)
    if early:
        split_seed = _seeds(estimator.random_state, 1)[0]
        if split_seed is None:
            split_seed = int(np.random.default_rng().integers(np.iinfo(np.int32).max))
        train, val = _split([Xd, yd, weights], split_seed, estimator.validation_fraction)
        Xd, yd, weights = train
    if weights is not None:
        # the training rows' weights rescaled to mean 1, as in memory (_base._normalized)
        total = float(weights.sum().compute())
        if not total > 0:
            raise ValueError("sample_weight (after class_weight): all weights are zero; at "
                             "least one must be positive")
        weights = weights * (Xd.shape[0] / total)
    coefs = estimator._split_init(coef_init, n_models, "coef_init")
    intercepts = estimator._split_init(intercept_init, n_models, "intercept_init")
    states = estimator._states if continuing else [None] * n_models
    if not continuing:
        estimator._forget()
    results, stoppers = [], []
    for j in range(n_models):
        kw = dict(options, random_state=seeds[j], sample_weight=weights,
                  coef_init=coefs[j], intercept_init=intercepts[j], verbose=verbose)
        if user_callback is not None:
            kw["callback"] = (lambda rec, j=j: user_callback(dict(rec, model=j)))
        if layout == "multinomial":
            kw["loss"], target, positive = "multinomial", yd, classes
        elif layout == "ovr":
            target, positive = yd == classes[j], classes[j]
        elif classifier:
            target, positive = yd, classes[1]
        else:
            target, positive = yd, None
        stopper = None
        if early:
            # the held-out loss stops the fit, as in memory (tol applies to it)
            stopper = _EarlyStop(estimator, val, kw["loss"] if layout == "multinomial"
                                 else estimator.loss, positive, user_callback, j)
            kw["callback"], kw["tol"] = stopper, None
        # a continued fit's cosine plans its epochs so far and this call's, as in memory
        horizon = None if states[j] is None else states[j].epochs + estimator.max_epochs
        res = gdd.run(Xd, target, kw, resume=states[j], horizon=horizon)
        if stopper is not None and stopper.params is not None:
            import dataclasses
            res.coef, res.intercept = stopper.params       # the best epoch's parameters
            if not res.state.average:
                theta = np.concatenate([np.ravel(res.coef), np.ravel(res.intercept)])
                res.state = dataclasses.replace(res.state,
                                                theta=theta.astype(res.state.theta.dtype))
        results.append(res)
        stoppers.append(stopper)
    coef = np.vstack([np.atleast_2d(r.coef) for r in results])
    intercept = np.concatenate([np.atleast_1d(r.intercept) for r in results])
    estimator._gd_layout = layout
    estimator._set_coef(coef, intercept)
    estimator._states = [r.state for r in results]
    if classifier:
        estimator.classes_ = classes
    estimator.n_features_in_ = int(Xd.shape[1])
    multi = n_models > 1
    curves = [r.loss_history for r in results]
    previous = getattr(estimator, "loss_curve_", None) if continuing else None
    if previous is not None:
        curves = [np.concatenate([p, c]) for p, c in
                  zip(previous if multi else [previous], curves, strict=True)]
    estimator.loss_curve_ = curves if multi else curves[0]
    vals = [None if st is None else np.asarray(st.history) for st in stoppers]
    estimator.validation_loss_curve_ = None if not early else (vals if multi else vals[0])
    first = results[0]
    estimator.optimizer_, estimator.batch_size_ = first.optimizer, first.batch_size
    estimator.schedule_ = first.schedule
    rates = [r.learning_rate for r in results]
    estimator.learning_rate_ = np.array(rates) if multi else rates[0]
    estimator.n_iter_ = max(s.epochs for s in estimator._states)
    estimator.t_ = max(s.t for s in estimator._states)
    return estimator


def _unique(yd):
    """(labels, counts) of a dask array, lazily."""
    import dask.array as da
    return da.unique(yd, return_counts=True)


def predict(estimator, name, X, n_outputs, dtype):
    """estimator.<name> over the row-chunks of a dask collection, lazily."""
    from gdfast._dask.predict import map_blocks
    return map_blocks(estimator, name, X, n_outputs, dtype)

"""GDClassifier and GDRegressor on dask collections: fit dispatches here (gdfast.dask.run, one
model per binary problem, multinomial problem or output, as the in-memory runner does), and
the predictions map over the blocks lazily.  The label set, the class counts and the weights'
mean are reductions; no block is gathered on the client."""
from __future__ import annotations

import numpy as np

from gdfast._sklearn._base import _seeds


def is_dask(x):
    return callable(getattr(x, "__dask_graph__", None)) and x.__dask_graph__() is not None


def _refuse(estimator, partial):
    if partial:
        raise TypeError("partial_fit takes in-memory chunks; for dask collections use fit, "
                        "which trains on every block")
    if estimator.early_stopping:
        raise ValueError("early_stopping=True is not supported on dask collections yet: hold "
                         "out a part of the data and watch its loss in a callback, or set "
                         "early_stopping=False")


def _as_dask(x):
    import dask.array as da
    if x is None or (hasattr(x, "__dask_graph__") and not hasattr(x, "to_dask_array")):
        return x
    if hasattr(x, "to_dask_array"):
        return x.to_dask_array(lengths=True)
    return da.from_array(np.asarray(x), chunks=-1)


def _row_weights(y, table, classes):
    """class_weight per row: table[index of y's label in classes]."""
    return table[np.searchsorted(classes, y)]


def fit(estimator, X, y, sample_weight, coef_init, intercept_init, *, classifier,
        partial=False):
    import dask

    import gdfast.dask as gdd
    _refuse(estimator, partial)
    estimator._check_own_params()
    Xd = X.to_dask_array(lengths=True) if hasattr(X, "to_dask_array") else X
    if getattr(Xd, "ndim", 2) != 2:
        raise ValueError(f"X: expected a 2-D array, got shape {Xd.shape}")
    yd = _as_dask(y)
    if yd.ndim != 1:
        raise ValueError(f"y: expected a 1-D array on dask collections, got shape {yd.shape}")
    swd = _as_dask(sample_weight)
    continuing = estimator._continuation(False, coef_init, intercept_init, Xd.shape[1])
    options = estimator._core_kwargs()
    for name in ("callback", "verbose"):
        options.pop(name, None)
    user_callback, verbose = estimator.callback, estimator.verbose
    if classifier:
        classes, counts = dask.compute(*_unique(yd))
        if len(classes) < 2:
            raise ValueError(f"the classifier needs samples of at least 2 classes in the data, "
                             f"but the data contains only 1 class: {classes[0]!r}")
        layout = estimator._layout(len(classes))
        weights = None
        if estimator.class_weight is not None:
            from sklearn.utils.class_weight import compute_class_weight
            y_like = np.repeat(classes, counts)         # the labels' counts, not the rows
            table = np.asarray(compute_class_weight(estimator.class_weight, classes=classes,
                                                    y=y_like), dtype=np.float64)
            weights = yd.map_blocks(_row_weights, table, classes, dtype=np.float64)
        if weights is not None:
            weights = weights if swd is None else weights * swd
        else:
            weights = swd
    else:
        layout, classes = "single", None
        weights = swd
    if weights is not None:
        # rescaled to mean 1, as in memory (_base._normalized)
        total = float(weights.sum().compute())
        if not total > 0:
            raise ValueError("sample_weight (after class_weight): all weights are zero; at "
                             "least one must be positive")
        weights = weights * (Xd.shape[0] / total)
    if continuing and (layout != estimator._gd_layout or (
            classifier and not np.array_equal(classes, estimator.classes_))):
        raise ValueError("cannot continue the previous fit: its classes or its layout differ "
                         "from this call's (set warm_start=False to start a new fit)")
    n_models = len(classes) if layout == "ovr" else 1
    seeds = _seeds(estimator.random_state, n_models)
    coefs = estimator._split_init(coef_init, n_models, "coef_init")
    intercepts = estimator._split_init(intercept_init, n_models, "intercept_init")
    states = estimator._states if continuing else [None] * n_models
    if not continuing:
        estimator._forget()
    results = []
    for j in range(n_models):
        kw = dict(options, random_state=seeds[j], sample_weight=weights,
                  coef_init=coefs[j], intercept_init=intercepts[j], verbose=verbose)
        if user_callback is not None:
            kw["callback"] = (lambda rec, j=j: user_callback(dict(rec, model=j)))
        if layout == "multinomial":
            kw["loss"], target, model_classes = "multinomial", yd, None
        elif layout == "ovr":
            target = yd == classes[j]
            model_classes = None
        else:
            target, model_classes = yd, None
        res = gdd.run(Xd, target, kw, resume=states[j], classes=model_classes)
        results.append(res)
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
    estimator.validation_loss_curve_ = None
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

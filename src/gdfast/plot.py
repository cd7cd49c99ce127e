"""Pictures of training: the loss epoch by epoch, one curve per fit (``pip install
"gdfast[plot]"``, matplotlib).

    >>> import gdfast, gdfast.plot
    >>> from gdfast.datasets import make_classification
    >>> X, y = make_classification(2000, 10)
    >>> runs = {f"sgd, lr {lr:g}": gdfast.fit(X, y, loss="logistic", optimizer="sgd",
    ...                                       learning_rate=lr, max_epochs=15, tol=None,
    ...                                       random_state=0)
    ...         for lr in (1e-3, 1e-2, 1e-1)}
    >>> ax = gdfast.plot.plot_loss(runs)          # gradient descent in action
    >>> ax.get_xlabel(), len(ax.get_lines())
    ('epoch', 3)

No pyplot: the figure is a plain ``matplotlib.figure.Figure`` (no window, no global state);
``save_figure(ax.figure, path)`` writes it (``ax.figure.savefig(path)`` works too, without the
guarantee that a failed write leaves an old file intact).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

try:
    from matplotlib.figure import Figure
except ImportError as exc:          # the optional dependency: say how to get it
    raise ImportError('gdfast.plot needs matplotlib: pip install "gdfast[plot]"') from exc

__all__ = ["plot_loss", "save_figure"]

# log scale for the loss when its values span more than this ratio
LOG_RATIO = 10.0


def save_figure(figure, path, **savefig_kwargs):
    """figure.savefig to path through a temporary file beside it, renamed over it once
    complete: a write that fails leaves an existing file intact.  The format follows the
    name's extension (``.png``, ``.svg``, ``.pdf``)."""
    import os

    from gdfast._atomic import atomic_write
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    atomic_write(path, lambda f: figure.savefig(f, format=fmt, **savefig_kwargs))


def _curves(name, model):
    """[(label, training losses, validation losses or None)] of a FitResult or an estimator
    (one per model of a one-vs-rest or multi-output estimator)."""
    if hasattr(model, "loss_history"):
        val = getattr(model, "validation_history", None)     # set by ``gdfast train``
        return [(name, np.asarray(model.loss_history, dtype=float),
                 None if val is None else np.asarray(val, dtype=float))]
    if hasattr(model, "loss_curve_"):
        train, val = model.loss_curve_, getattr(model, "validation_loss_curve_", None)
        if isinstance(train, list):
            vals = val if isinstance(val, list) else [None] * len(train)
            return [(f"{name} [{j}]" if name else f"model {j}", np.asarray(t, dtype=float),
                     None if v is None else np.asarray(v, dtype=float))
                    for j, (t, v) in enumerate(zip(train, vals, strict=True))]
        return [(name, np.asarray(train, dtype=float),
                 None if val is None else np.asarray(val, dtype=float))]
    raise TypeError(f"plot_loss: expected FitResults or fitted gdfast estimators, got "
                    f"{type(model).__name__}")


def plot_loss(results, ax=None, *, log: bool | str = "auto", gap: bool = False,
              title: str | None = None):
    """The loss per epoch of one or several fits, and their validation loss where there is one.

    Parameters
    ----------
    results : FitResult, fitted GDClassifier / GDRegressor, a list of them, or a dict
        {label: result}
        The fits to draw, one curve each (an estimator with several models, one per model).
        The validation loss of an estimator fitted with ``early_stopping=True`` is drawn
        dashed, in its training curve's colour.
    ax : matplotlib Axes or None, default=None
        Where to draw; None makes a new Figure (without pyplot) and its Axes.
    log : bool or "auto", default="auto"
        A logarithmic loss axis; "auto": when the positive losses span more than a factor of
        10 (a fit that drives the loss towards 0, or a diverging one).
    gap : bool, default=False
        Draw each loss's distance above the smallest loss of any curve, relative to it,
        ``(loss - best) / abs(best)``, on a log axis: how fast each fit approaches the optimum
        (a point at the best itself is left out).
    title : str or None, default=None
        The Axes' title.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on; ``ax.figure.savefig(path)`` writes the picture.

    Raises
    ------
    TypeError
        If an entry is neither a FitResult nor a fitted gdfast estimator.
    ValueError
        If there is nothing to draw, or log is not a bool or "auto".
    """
    if not (isinstance(log, bool) or log == "auto"):
        raise ValueError(f"log: expected True, False or 'auto', got {log!r}")
    if isinstance(results, Mapping):
        named = [(str(k), v) for k, v in results.items()]
    elif isinstance(results, (list, tuple)):
        named = [(f"fit {j + 1}" if len(results) > 1 else "", r) for j, r in enumerate(results)]
    else:
        named = [("", results)]
    curves = [c for name, model in named for c in _curves(name, model)]
    if not curves or all(len(t) == 0 for _, t, _ in curves):
        raise ValueError("plot_loss: no loss to draw (no fit, or fits of no epoch)")
    if ax is None:
        ax = Figure(figsize=(7.0, 4.5), layout="constrained").add_subplot()
    if gap:
        best = min(float(np.nanmin(c)) for _, t, v in curves for c in (t, v)
                   if c is not None and len(c) and np.isfinite(c).any())
        scale = abs(best) if best != 0 else 1.0

        def above(c):
            if c is None:
                return None
            d = (c - best) / scale
            return np.where(d > 0, d, np.nan)

        curves = [(label, above(t), above(v)) for label, t, v in curves]
        log = True
    values = []
    for label, train, val in curves:
        epochs = np.arange(1, len(train) + 1)
        (line,) = ax.plot(epochs, train, label=label or "training loss", linewidth=1.6)
        values.append(train)
        if val is not None and len(val):
            ax.plot(np.arange(1, len(val) + 1), val, linestyle="--", color=line.get_color(),
                    label=f"{label} (validation)" if label else "validation loss")
            values.append(val)
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.empty(0)])
    positive = finite[finite > 0]
    if log == "auto":
        log = positive.size > 0 and positive.size == finite.size and \
            positive.max() > LOG_RATIO * positive.min()
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("(loss - best) / |best|" if gap else "loss" + (" (log scale)" if log else ""))
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if len(ax.get_lines()) > 1 or any(label for label, _, _ in curves):
        ax.legend(fontsize="small")
    return ax

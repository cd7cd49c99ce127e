"""gdfast.save and gdfast.load: models in a file that executes nothing when it is read.

The format (docs/guide/saving.md): a zip archive in numpy's ``.npz`` layout, read with
``allow_pickle=False``.  Its member ``__meta__`` is UTF-8 JSON: the format's name and version,
the gdfast version that wrote it, what the file holds (a FitResult, a GDClassifier or a
GDRegressor) and every scalar of it; every array is a member of its own, of a numeric,
boolean or unicode dtype.  Class labels of object dtype are kept when they are all strings
(read back as an object array of str); other objects cannot be written without pickle, and
are refused.  The training state goes with the model, so a loaded model predicts the same and
continues its training exactly (warm_start, partial_fit).

A write goes to a temporary file beside the target, flushed to disk, then renamed over it: a
write that fails leaves the old file as it was.
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from gdfast._atomic import atomic_write
from gdfast._result import FitResult, TrainingState

FORMAT = "gdfast-model"
VERSION = 1
META = "__meta__"


class _Writer:
    """The arrays of a file and the JSON that names them."""

    def __init__(self):
        self.arrays = {}

    def array(self, name, value):
        value = np.asarray(value)
        if value.dtype.kind == "O":
            if not all(isinstance(v, str) for v in value.ravel()):
                raise TypeError(f"gdfast.save: {name} holds Python objects of types "
                                f"{sorted({type(v).__name__ for v in value.ravel()})}, which "
                                "cannot be written without pickle (labels must be numbers, "
                                "booleans or strings)")
            self.arrays[name] = value.astype(str)
            return {"array": name, "object": True}
        if value.dtype.kind not in "biufU":
            raise TypeError(f"gdfast.save: {name} has dtype {value.dtype}, which cannot be "
                            "written without pickle")
        self.arrays[name] = value
        return {"array": name}


def _read_array(ref, arrays):
    value = arrays[ref["array"]]
    return value.astype(object) if ref.get("object") else value


def _scalar(v):
    """A JSON scalar of a numpy or Python scalar."""
    if isinstance(v, np.generic):
        return v.item()
    return v


# -- what a file holds ------------------------------------------------------------------------

def _state_meta(state, w, prefix):
    return {
        "theta": w.array(f"{prefix}theta", state.theta),
        "opt_state": w.array(f"{prefix}opt_state", state.opt_state),
        "optimizer": state.optimizer, "t": int(state.t), "epochs": int(state.epochs),
        "plateau_lr": float(state.plateau_lr), "best_loss": float(state.best_loss),
        "no_improvement": int(state.no_improvement),
        "rng": state.rng.bit_generator.state,
        "learning_rate": None if state.learning_rate is None else float(state.learning_rate),
        "average": int(state.average),
    }


# the bit generators a saved state may name (a name read from a file picks nothing else)
_BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM,
                   "MT19937": np.random.MT19937, "Philox": np.random.Philox,
                   "SFC64": np.random.SFC64}


def _state_from(meta, arrays):
    bitgen = meta["rng"]
    generator = _BIT_GENERATORS[bitgen["bit_generator"]]()
    generator.state = bitgen
    return TrainingState(
        theta=_read_array(meta["theta"], arrays), opt_state=_read_array(meta["opt_state"], arrays),
        optimizer=meta["optimizer"], t=meta["t"], epochs=meta["epochs"],
        plateau_lr=meta["plateau_lr"], best_loss=meta["best_loss"],
        no_improvement=meta["no_improvement"], rng=np.random.Generator(generator),
        learning_rate=meta["learning_rate"], average=meta["average"])


def _result_meta(res, w):
    return {
        "coef": w.array("coef", res.coef), "intercept": w.array("intercept", res.intercept),
        "classes": None if res.classes is None else w.array("classes", res.classes),
        "loss": res.loss, "loss_history": w.array("loss_history", res.loss_history),
        "n_epochs": int(res.n_epochs), "n_steps": int(res.n_steps),
        "converged": bool(res.converged), "optimizer": res.optimizer,
        "learning_rate": None if res.learning_rate is None else float(res.learning_rate),
        "batch_size": None if res.batch_size is None else int(res.batch_size),
        "schedule": res.schedule,
        "warm_start": getattr(res, "warm_start", None),
        "state": None if res.state is None else _state_meta(res.state, w, "state."),
        # what a caller attached: JSON (the command line's columns and encoding), and a
        # validation loss per epoch
        "metadata": getattr(res, "metadata", None),
        "validation_history": (None if getattr(res, "validation_history", None) is None
                               else w.array("validation_history", res.validation_history)),
    }


def _result_from(meta, arrays):
    intercept = _read_array(meta["intercept"], arrays)
    res = FitResult(
        coef=_read_array(meta["coef"], arrays),
        intercept=intercept[()] if intercept.ndim == 0 else intercept,
        classes=None if meta["classes"] is None else _read_array(meta["classes"], arrays),
        loss=meta["loss"], loss_history=_read_array(meta["loss_history"], arrays),
        n_epochs=meta["n_epochs"], n_steps=meta["n_steps"], converged=meta["converged"],
        state=None if meta["state"] is None else _state_from(meta["state"], arrays),
        optimizer=meta["optimizer"], learning_rate=meta["learning_rate"],
        batch_size=meta["batch_size"], schedule=meta["schedule"],
        warm_start=meta.get("warm_start"))
    if meta.get("metadata") is not None:
        res.metadata = meta["metadata"]
    if meta.get("validation_history") is not None:
        res.validation_history = _read_array(meta["validation_history"], arrays)
    return res


# the estimators' fitted attributes: arrays, and scalars (JSON as they are)
_EST_ARRAYS = ("coef_", "intercept_", "classes_", "feature_names_in_")
_EST_SCALARS = ("n_features_in_", "_gd_layout", "n_iter_", "t_", "optimizer_", "batch_size_",
                "schedule_")


def _params_meta(est):
    """The estimator's parameters as JSON: a callback is not saved (None), a random_state
    that is not an int is saved as None, a class_weight dict as pairs."""
    out, dropped = {}, []
    for name, value in est.get_params(deep=False).items():
        if name == "callback":
            dropped += [name] if value is not None else []
            value = None
        elif name == "random_state" and not (value is None or isinstance(value, (int,
                                                                                 np.integer))):
            dropped.append(name)
            value = None
        elif name == "class_weight" and isinstance(value, dict):
            value = {"pairs": [[_scalar(k), float(v)] for k, v in value.items()]}
        out[name] = _scalar(value)
    return out, dropped


def _params_from(meta):
    params = dict(meta)
    cw = params.get("class_weight")
    if isinstance(cw, dict) and "pairs" in cw:
        params["class_weight"] = {k: v for k, v in cw["pairs"]}
    return params


def _curve(w, name, value):
    if value is None:
        return None
    if isinstance(value, list):
        return [w.array(f"{name}.{j}", v) for j, v in enumerate(value)]
    return w.array(name, value)


def _curve_from(ref, arrays):
    if ref is None:
        return None
    if isinstance(ref, list):
        return [_read_array(r, arrays) for r in ref]
    return _read_array(ref, arrays)


def _estimator_meta(est, w):
    if not est.__sklearn_is_fitted__():
        raise ValueError(f"gdfast.save: this {type(est).__name__} is not fitted yet")
    params, dropped = _params_meta(est)
    meta = {"params": params, "not_saved": dropped,
            "arrays": {n: w.array(n, getattr(est, n)) for n in _EST_ARRAYS if hasattr(est, n)},
            "scalars": {n: _scalar(getattr(est, n)) for n in _EST_SCALARS if hasattr(est, n)},
            "loss_curve_": _curve(w, "loss_curve_", est.loss_curve_),
            "validation_loss_curve_": _curve(w, "validation_loss_curve_",
                                             est.validation_loss_curve_),
            "states": [_state_meta(s, w, f"states.{j}.") for j, s in enumerate(est._states)]}
    rate = est.learning_rate_
    meta["learning_rate_"] = (w.array("learning_rate_", rate) if isinstance(rate, np.ndarray)
                              else _scalar(rate))
    return meta


def _estimator_from(kind, meta, arrays):
    from gdfast import _sklearn
    est = getattr(_sklearn, kind)(**_params_from(meta["params"]))
    # only the attributes a file may set, whatever names it holds
    for name in _EST_ARRAYS:
        if name in meta["arrays"]:
            setattr(est, name, _read_array(meta["arrays"][name], arrays))
    for name in _EST_SCALARS:
        if name in meta["scalars"]:
            setattr(est, name, meta["scalars"][name])
    est.loss_curve_ = _curve_from(meta["loss_curve_"], arrays)
    est.validation_loss_curve_ = _curve_from(meta["validation_loss_curve_"], arrays)
    est._states = [_state_from(s, arrays) for s in meta["states"]]
    rate = meta["learning_rate_"]
    est.learning_rate_ = _read_array(rate, arrays) if isinstance(rate, dict) else rate
    return est


# -- the public functions -----------------------------------------------------------------

def save(model, path) -> None:
    """Write a fitted model to a file that :func:`load` reads back (never with pickle).

    Parameters
    ----------
    model : FitResult, GDClassifier or GDRegressor
        A fitted model.  Its coefficients, labels, losses and training state are written, so
        the model read back predicts the same and can continue its training exactly.  An
        estimator's ``callback`` and a ``random_state`` that is not an int are not written
        (they come back as None).
    path : str or os.PathLike
        The file to write (``.gdm`` by convention; any name works).  An existing file is
        replaced only once the new one is complete: a write that fails leaves it intact.

    Raises
    ------
    TypeError
        If the model is not one of the above, or holds values (labels of Python objects
        other than strings) that cannot be written without pickle.
    ValueError
        If the estimator is not fitted.
    OSError
        If the file cannot be written (the old file, if any, is then unchanged).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, gdfast
    >>> from gdfast.datasets import make_classification
    >>> X, y = make_classification(500, 4)
    >>> res = gdfast.fit(X, y, loss="logistic")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.gdm")
    >>> gdfast.save(res, path)
    >>> back = gdfast.load(path)
    >>> bool(np.array_equal(back.predict_proba(X), res.predict_proba(X)))
    True
    """
    from gdfast import __version__
    w = _Writer()
    if isinstance(model, FitResult):
        kind, body = "FitResult", _result_meta(model, w)
    elif type(model).__name__ in ("GDClassifier", "GDRegressor") and \
            type(model).__module__.startswith("gdfast"):
        kind, body = type(model).__name__, _estimator_meta(model, w)
    else:
        raise TypeError(f"gdfast.save: expected a FitResult, GDClassifier or GDRegressor, got "
                        f"{type(model).__name__}")
    meta = {"format": FORMAT, "version": VERSION, "gdfast": __version__, "kind": kind,
            "model": body}
    text = json.dumps(meta).encode("utf-8")
    atomic_write(path, lambda f: np.savez(f, **{META: np.frombuffer(text, dtype=np.uint8)},
                                          **w.arrays))


def load(path):
    """Read a model that :func:`save` wrote; nothing in the file is executed.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    FitResult, GDClassifier or GDRegressor
        The model as it was saved (an estimator needs scikit-learn).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a gdfast model, is truncated or damaged, or was written by a newer
        gdfast in a format version this one does not read.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile) or META not in z.files:
                raise ValueError("no gdfast metadata")
            meta = json.loads(bytes(z[META]).decode("utf-8"))
            arrays = {k: z[k] for k in z.files if k != META}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError, UnicodeDecodeError,
            AttributeError) as exc:
        raise ValueError(f"{path}: not a gdfast model file, or a truncated or damaged one "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a gdfast model file (its metadata names no gdfast "
                         "model)")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{path}: written by gdfast {meta.get('gdfast', '?')} in model format "
                         f"version {version}; this gdfast reads versions up to {VERSION}: "
                         "upgrade gdfast to read it")
    try:
        kind, body = meta["kind"], meta["model"]
        if kind == "FitResult":
            return _result_from(body, arrays)
        if kind in ("GDClassifier", "GDRegressor"):
            return _estimator_from(kind, body, arrays)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{path}: a damaged gdfast model file ({type(exc).__name__}: "
                         f"{exc})") from None
    raise ValueError(f"{path}: holds a {kind!r}, which this gdfast does not know")

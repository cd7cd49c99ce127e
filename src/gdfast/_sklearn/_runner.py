"""Training the models of one estimator call: a binary, multinomial or regression model per
Task, several of them (one-vs-rest classes, output columns) at once in Python threads.

Each model goes through gdfast's driver with the native engine (run_fit), so a model fitted
here is bitwise the model gdfast.fit returns for the same settings.  The kernels release the
GIL; each thread gets its share of the thread count.  A per-epoch callback adds what the
driver does not know about: the validation loss and early stopping, scikit-learn's verbose
format, scikit-learn callbacks and the user's callback.
"""
from __future__ import annotations

import dataclasses
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gdfast import _kernels
from gdfast._api import run_fit
from gdfast._auto import AUTO_FIRST_ORDER_TOL
from gdfast._losses import row_losses
from gdfast._native import NativeEngine
from gdfast._sklearn._compat import callback_root
from gdfast._threads import effective_n_threads

_PRINT_LOCK = threading.Lock()


@dataclasses.dataclass
class Task:
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
class Plan:
    """What every task of one fit/partial_fit call shares."""
    X: np.ndarray
    sw: np.ndarray | None
    X_val: np.ndarray | None
    sw_val: np.ndarray | None
    kwargs: dict
    max_epochs: int
    horizon: int | None
    tol: float | str | None   # as given: "auto" means something else for lbfgs (the core)
    partial: bool             # partial_fit: one epoch on a part of the data
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
class Outcome:
    """What training one Task gave."""
    coef: np.ndarray          # (K_m, d)
    intercept: np.ndarray     # (K_m,)
    state: object
    history: np.ndarray
    converged: bool
    hit_max_epochs: bool
    val_history: np.ndarray | None
    fit: object               # the FitResult: what the "auto" options chose


def run_tasks(estimator, tasks, plan, *, task_name):
    """Train every task of estimator (threads when there are several): (the root callback
    context, their outcomes in the order of tasks)."""
    n_models = len(tasks)
    if plan.multi:
        root = callback_root(estimator, task_name=task_name, max_subtasks=n_models,
                             sequential_subtasks=False)
    else:
        root = callback_root(estimator, task_name=task_name,
                             max_subtasks=plan.max_epochs if task_name == "fit" else 0)
    root.call_on_fit_task_begin(estimator=estimator, X=plan.cb_X, y=plan.cb_y,
                                metadata=plan.cb_metadata)
    total_threads = effective_n_threads(estimator.n_threads)
    if n_models == 1:
        plan.n_threads = total_threads
        outcomes = [_train_one(estimator, tasks[0], plan, root,
                               leaf_root=task_name != "fit")]
    else:
        workers = min(n_models, total_threads)
        plan.n_threads = max(1, total_threads // workers)
        contexts = [root.subcontext(task_name=t.name, task_id=t.index,
                                    max_subtasks=plan.max_epochs) for t in tasks]
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gdfast")
        try:
            futures = [pool.submit(_train_one, estimator, task, plan, ctx)
                       for task, ctx in zip(tasks, contexts, strict=True)]
            outcomes = [f.result() for f in futures]
        except BaseException:
            plan.abort.set()          # the other models stop after their current epoch
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return root, outcomes


def _train_one(estimator, task, plan, ctx, leaf_root=False):
    """Run one model through gdfast's driver; the per-epoch callback does validation,
    early stopping, verbose output, scikit-learn callbacks and the user's callback."""
    multi = plan.multi
    if multi:
        ctx.call_on_fit_task_begin(estimator=estimator, X=plan.cb_X, y=plan.cb_y,
                                   metadata=plan.cb_metadata)
    val_history = []
    best = {"loss": np.inf, "params": None, "no_improvement": 0}
    # the validation loss's threshold: the first-order meaning of tol (absolute)
    val_tol = AUTO_FIRST_ORDER_TOL if plan.tol == "auto" else plan.tol
    flags = {"early": False, "stopped": False}
    epoch_ctx_ok = plan.with_callbacks and not leaf_root

    def on_epoch(record):
        stop = False
        # an epoch that learning_rate="auto" took back is reported again: it replaces the
        # validation losses from there on
        del val_history[record["epoch"] - 1:]
        if plan.early_stopping:
            vl = _mean_loss(task.core_loss, plan.X_val, task.y_val, plan.sw_val,
                            record["coef"], record["intercept"], estimator.epsilon,
                            plan.n_threads)
            val_history.append(vl)
            if val_tol is not None:
                worse = vl > best["loss"] - val_tol
                best["no_improvement"] = best["no_improvement"] + 1 if worse else 0
            if vl < best["loss"]:
                best["loss"] = vl
                best["params"] = (np.array(record["coef"], copy=True),
                                  np.array(record["intercept"], copy=True))
            if val_tol is not None and best["no_improvement"] >= estimator.n_iter_no_change:
                flags["early"] = stop = True
        if plan.verbose:
            _print_epoch(record, task, plan, val_history)
        if epoch_ctx_ok:
            sub = ctx.subcontext(task_name="epoch")
            sub.call_on_fit_task_begin(estimator=estimator, X=plan.cb_X, y=plan.cb_y,
                                       metadata=plan.cb_metadata)
            recon = None if multi else (lambda: estimator._reconstruction(
                record["coef"], record["intercept"]))
            if sub.call_on_fit_task_end(estimator=estimator, X=plan.cb_X, y=plan.cb_y,
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
    res = run_fit(NativeEngine, plan.X, task.y, kwargs, resume=task.resume,
                  horizon=horizon, classes=classes, incremental=plan.partial)
    state = res.state
    coef, intercept = res.coef, res.intercept
    if plan.early_stopping and best["params"] is not None:
        coef, intercept = best["params"]       # restore the best epoch's parameters
        if not state.average:
            # a continued fit starts from them; with averaging they are a mean, and it goes
            # on from its own iterate and running mean instead
            theta = np.concatenate([np.ravel(coef), np.ravel(intercept)])
            state = dataclasses.replace(state, theta=theta.astype(state.theta.dtype))
    converged = bool(res.converged or flags["early"])
    hit_max = (not converged and not flags["stopped"]
               and res.n_epochs == plan.max_epochs)
    if plan.verbose and converged:
        with _PRINT_LOCK:
            if flags["early"]:
                print(f"Validation loss did not improve more than tol={val_tol:f} for "
                      f"{estimator.n_iter_no_change} consecutive epochs. Stopping."
                      + (f" ({task.name})" if multi else ""), flush=True)
            print(f"Convergence after {res.n_epochs} epochs took "
                  f"{time.perf_counter() - plan.t_start:.2f} seconds"
                  + (f" ({task.name})" if multi else ""), flush=True)
    if multi:
        ctx.call_on_fit_task_end(estimator=estimator, X=plan.cb_X, y=plan.cb_y,
                                 metadata=plan.cb_metadata)
    return Outcome(coef=np.atleast_2d(coef), intercept=np.atleast_1d(intercept),
                   state=state, history=res.loss_history, converged=converged,
                   hit_max_epochs=hit_max,
                   val_history=(np.asarray(val_history, dtype=np.float64)
                                if plan.early_stopping else None), fit=res)


def _print_epoch(record, task, plan, val_history):
    """One epoch's lines in scikit-learn's SGD format (verbose > 0)."""
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
    return float(np.average(row_losses(core_loss, Z, y, epsilon), weights=sw))

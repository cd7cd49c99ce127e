"""The epoch driver, shared by both engines: it owns everything that happens between
epochs (the row order of each epoch, the learning-rate schedule, the loss history, stopping,
verbose output and callbacks) and builds the FitResult.

An engine (_native.NativeEngine, reference.ReferenceEngine) owns the parameters and the
optimizer state and runs one epoch at a time: ``run_epoch(order, lr) -> (ok, loss_sum)``,
``step_lr(lr)``, ``flat_state()``, and the attributes ``theta`` and ``t``.
"""
import sys
import time

import numpy as np

from gdfast import _kernels
from gdfast._losses import penalty
from gdfast._options import N_STATE, PLATEAU_FACTOR, QUASI_NEWTON, STEP_RULES
from gdfast._result import DivergenceError, FitResult, TrainingState
from gdfast._schedules import epoch_lr

SAFEGUARD_RETRIES = 40      # an epoch retried this often at ever smaller rates has diverged
SAFEGUARD_FACTOR = 4.0


class Shuffle:
    """The row order of a shuffled epoch: the uniformly random permutation of range(n) that
    the native Fisher-Yates shuffle (gd_permutation) draws from seed.  The reference engine
    takes it whole (array()); the native engine's dense epochs draw it as they go
    (gd_epoch_dense_shuffled), which reads the same order."""

    __slots__ = ("n", "seed")

    def __init__(self, n, seed):
        self.n, self.seed = int(n), int(seed)

    def array(self):
        return _kernels.permutation(self.n, self.seed)


def shuffled_order(rng, n):
    """An epoch's Shuffle, seeded by one 64-bit draw from rng: drawn whole faster than
    numpy's rng.permutation, and next to nothing when a native epoch on several threads draws
    it between its rows.  Both engines get their orders from here, so
    they see the same batches."""
    return Shuffle(n, int(rng.integers(0, 2**64, dtype=np.uint64)))


def averaged_theta(engine, spec, problem):
    """The parameters a result reports: the averaged ones once averaging has begun."""
    # after step `average` (a failed step is counted in t, but averages nothing; the step at
    # t == average itself leaves the mean equal to theta)
    if spec.average and engine.t > spec.average:
        P, K, d = problem.n_params, problem.n_outputs, problem.d
        row = N_STATE[spec.optimizer] * P
        theta = engine.flat_state()[row:row + P].copy()
        if not spec.fit_intercept:          # never stepped, so never averaged
            theta[K * d:] = engine.theta[K * d:]
        return theta
    return engine.theta.copy()


def drive(engine, setup, *, resume=None, horizon=None, start_loss=None, warm=None,
          max_retries=None):
    """Run the epochs of setup (a _problem.Setup) on engine and return the FitResult.

    resume: the TrainingState the fit continues (its schedule and stopping-rule position);
    horizon: the epoch count that per-epoch schedules plan for (cosine), when it is not
    max_epochs (partial_fit).  start_loss: the objective at the start when the caller has
    it (the safeguard's reference; None: computed here).  warm: (the FitResult of a warm
    start that this fit goes on from, the time it began): its epochs count as this fit's
    first ones, in the history, the callbacks' numbering and max_epochs (the caller reports
    the warm start on the result).  max_retries: the safeguard's reductions of the rate before
    the fit has diverged (None: SAFEGUARD_RETRIES).  Raises DivergenceError when the loss
    or the parameters stop being finite."""
    problem, spec, rng = setup.problem, setup.spec, setup.rng
    shuffle, max_epochs, tol = setup.shuffle, setup.max_epochs, setup.tol
    n_iter_no_change, verbose, callback = setup.n_iter_no_change, setup.verbose, setup.callback
    horizon = horizon or max_epochs
    max_retries = SAFEGUARD_RETRIES if max_retries is None else max_retries
    n, d, K = problem.n, problem.d, problem.n_outputs
    history = [] if warm is None else list(warm[0].loss_history)
    converged = False
    if resume is None:
        best_loss, no_improvement, plateau_lr, done = np.inf, 0, spec.learning_rate, 0
    else:
        best_loss, no_improvement = resume.best_loss, resume.no_improvement
        plateau_lr, done = resume.plateau_lr, resume.epochs
    lr = spec.learning_rate
    lbfgs = spec.optimizer in QUASI_NEWTON
    # learning_rate="auto" is safeguarded: an epoch that diverges, or ends above twice the
    # starting objective (a stable step's epoch can end a little above it, by the noise of
    # its batches, where the start is near the optimum), is undone and retried at a quarter
    # of the rate (lr_scale)
    safeguard = spec.auto_lr and not lbfgs and spec.schedule != "optimal"   # uses no rate
    lr_scale, start_loss, given_start = 1.0, np.inf, start_loss
    if safeguard and given_start is not None:
        start_loss = given_start
    elif safeguard:
        ok, _, loss_sum = engine.gradient(engine.theta)
        if ok:
            start_loss = loss_sum / n + problem.y_const + penalty(engine.theta, spec, K, d)
    t_start = time.perf_counter() if warm is None else warm[1]
    if verbose:
        print(f"gdfast: optimizer {spec.optimizer}, batch size "
              f"{'full' if spec.batch_size >= n else spec.batch_size}, schedule "
              f"{spec.schedule}" + ("" if lbfgs else f", learning rate {lr:.4g}"), flush=True)

    def output():
        return averaged_theta(engine, spec, problem)

    def result():
        theta = engine.theta.copy()
        coef, intercept = problem.unpack(output())
        base_lr = engine.step_lr(lr) if lbfgs else spec.learning_rate * lr_scale
        state = TrainingState(theta=theta, opt_state=engine.flat_state().copy(),
                              optimizer=spec.optimizer, t=engine.t, epochs=done + len(history),
                              plateau_lr=plateau_lr, best_loss=best_loss,
                              no_improvement=no_improvement, rng=rng,
                              learning_rate=base_lr if safeguard else None,
                              average=spec.average)
        return FitResult(coef=coef, intercept=intercept, classes=problem.classes,
                         loss=spec.loss, loss_history=np.asarray(history, dtype=np.float64),
                         n_epochs=len(history), n_steps=engine.t, converged=converged,
                         state=state, optimizer=spec.optimizer, learning_rate=base_lr,
                         batch_size=None if spec.batch_size >= n else spec.batch_size,
                         schedule=spec.schedule)

    def diverged(epoch, lr):
        return DivergenceError(
            f"the loss or the parameters became NaN or infinite at epoch {epoch + 1}, "
            f"step {engine.t}; try a smaller learning_rate (now {lr:g}) or "
            "learning_rate='auto', scaling the features (e.g. StandardScaler), or a larger "
            "alpha", epoch=epoch + 1, step=engine.t, result=result())

    # the safeguard's snapshots: where this epoch and the one before started (an epoch's loss
    # is taken at the parameters its batches saw, so a full batch's loss judges the step of
    # the epoch before); the row orders drawn for epochs taken back, to run them again
    before = previous = None
    redo, retries, epoch = [], 0, len(history)
    while epoch < max_epochs:
        # a full batch sums over every row whatever the order: no permutation is drawn
        if redo:
            order = redo.pop(0)
        else:
            order = shuffled_order(rng, n) if shuffle and spec.batch_size < n else None
        if safeguard:
            previous, before = before, (engine.theta.copy(), engine.flat_state().copy(),
                                        engine.t, order, best_loss, no_improvement, plateau_lr)
        lr = epoch_lr(spec, done + epoch, horizon, plateau_lr) * lr_scale
        ok, loss_sum = engine.run_epoch(order, lr)
        ok = ok and np.isfinite(engine.theta).all()
        loss = (loss_sum / n + problem.y_const + penalty(engine.theta, spec, K, d)
                if ok else np.nan)
        if safeguard and not (ok and loss <= 2 * start_loss):
            retries += 1
            if retries >= max_retries:
                raise diverged(epoch, lr)
            # take this epoch back, and the one before it when there is one, and run them
            # again at a quarter of the rate (the epoch taken back is reported again)
            lr_scale /= SAFEGUARD_FACTOR
            back = before if previous is None else previous
            redo = [order] + redo if previous is None else [previous[3], order] + redo
            if previous is not None:
                history.pop()
                epoch -= 1
            (theta, state, engine.t, _, best_loss, no_improvement, plateau_lr) = back
            engine.theta[...], engine.flat_state()[...] = theta, state
            before = previous = None
            continue
        if not ok:
            raise diverged(epoch, lr)
        history.append(loss)
        elapsed = time.perf_counter() - t_start
        step_lr = engine.step_lr(lr) if spec.schedule in STEP_RULES else lr
        if verbose:
            print(f"-- Epoch {epoch + 1}: loss {loss:.6g}, learning rate {step_lr:.4g}, "
                  f"steps {engine.t}, time {elapsed:.3f}s", file=sys.stdout, flush=True)
        if callback is not None:
            coef, intercept = problem.unpack(output())
            coef = coef.view()
            coef.flags.writeable = False
            if K > 1:
                intercept = intercept.view()
                intercept.flags.writeable = False
            record = {"epoch": epoch + 1, "loss": loss, "learning_rate": step_lr,
                      "n_steps": engine.t, "time": elapsed, "coef": coef,
                      "intercept": intercept}
            if callback(record) is True:
                break
        if lbfgs:
            if engine.converged:
                converged = True
                if verbose:
                    print(f"Converged after {epoch + 1} iterations", flush=True)
                break
        elif tol is not None or spec.schedule == "plateau":
            threshold = tol if tol is not None else 0.0
            no_improvement = no_improvement + 1 if loss > best_loss - threshold else 0
            best_loss = min(best_loss, loss)
            if no_improvement >= n_iter_no_change:
                # scikit-learn's "adaptive": divide while the rate is above 1e-6, else stop
                if spec.schedule == "plateau" and plateau_lr > spec.plateau_floor:
                    plateau_lr /= PLATEAU_FACTOR
                    no_improvement = 0
                elif tol is not None:
                    converged = True
                if converged:
                    if verbose:
                        print(f"Converged after {epoch + 1} epochs (tol={tol:g})", flush=True)
                    break
        epoch += 1
    return result()

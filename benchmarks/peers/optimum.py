"""The time to reach the optimum's objective within OPTIMUM_RTOL (relative), for any problem
of peers.problems: the optimum itself (a tight second-order solve, cached on disk), a gdfast
fit followed epoch by epoch, a library's solver run at decreasing tolerances; and the
peers command's section of it (run_optimum: logistic, gdfast's hand-set candidates against
scikit-learn's L-BFGS).  benchmarks/optimum.py runs the same functions on every problem."""
import hashlib
import os
import time
from pathlib import Path

import numpy as np

import gdfast
from benchmarks.common import ALPHA

from . import optional
from .measure import measure, wall
from .problems import GENERATOR_VERSION, Problem, objective
from .solvers import exact_solver, n_iter, peers_for

OPTIMUM_RTOL = 1e-3
OPTIMUM_MAX_S = 20.0         # peers: give up on a time-to-optimum configuration after this long
# A library's solver runs at each tolerance in turn, until a run reaches the target.
TOLERANCES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
PROBE_ITER = 10


def cache_dir():
    return Path(os.environ.get("GDFAST_OPTIMUM_CACHE")
                or Path.home() / ".cache" / "gdfast-optimum")


def solve_optimum(problem, alpha, cache=None):
    """{coef, intercept, value, solver, seconds, cached}: the optimum of `problem` at alpha by
    solvers.exact_solver, read from (or written to) the folder `cache` when one is given.  The
    key holds the problem, its size, alpha and GENERATOR_VERSION; F is recomputed from the
    stored coefficients each time."""
    solver, description = exact_solver(problem, alpha)
    path = None
    if cache is not None:
        key = f"{problem.key}-{problem.loss}-n{problem.n}-d{problem.d}-a{alpha:.3e}-" \
              f"g{GENERATOR_VERSION}-{hashlib.sha1(description.encode()).hexdigest()[:8]}"
        path = Path(cache) / f"{key}.npz"
        if path.exists():
            z = np.load(path)
            return dict(coef=z["coef"], intercept=z["intercept"], solver=description,
                        seconds=float(z["seconds"]), cached=True,
                        value=objective(problem, alpha, z["coef"], z["intercept"]))
    t0 = time.perf_counter()
    est = solver.fit(problem, None, None)
    seconds = time.perf_counter() - t0
    coef, intercept = solver.params(est, problem)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, coef=coef, intercept=intercept, seconds=seconds)
    return dict(coef=coef, intercept=intercept, solver=description, seconds=seconds,
                cached=False, value=objective(problem, alpha, coef, intercept))


def target_of(value):
    return value + OPTIMUM_RTOL * abs(value)


def gap(value, optimum):
    return (value - optimum) / abs(optimum)


def gdfast_run(problem, alpha, options, target, cap, stop_at_target):
    """One gdfast.fit(problem.X, problem.y, loss=..., alpha=..., **options), its objective F
    computed after every epoch by a callback that also stops it past `cap` seconds (or once
    F <= target with stop_at_target).  The callback's own time is measured and subtracted:
    `seconds` and the time of each epoch count the whole fit() call (validation included)
    without it.  An exception (DivergenceError included) is recorded, not raised."""
    curve, spent, t0 = [], 0.0, 0.0

    def callback(rec):
        nonlocal spent
        t_in = time.perf_counter()
        seconds = t_in - t0 - spent
        value = objective(problem, alpha, rec["coef"], rec["intercept"])
        curve.append((seconds, value))
        spent += time.perf_counter() - t_in
        return seconds > cap or (stop_at_target and value <= target)

    out = dict(options={k: v for k, v in options.items() if k != "random_state"}, error=None)
    t0 = time.perf_counter()
    try:
        res = gdfast.fit(problem.X, problem.y, loss=problem.loss, alpha=alpha,
                         callback=callback, **options)
    except gdfast.DivergenceError as e:
        res, out["error"] = e.result, f"DivergenceError: {e}"
    except Exception as e:          # a failure of one system is reported; the run goes on
        res, out["error"] = None, f"{type(e).__name__}: {e}"
    out["total_seconds"] = time.perf_counter() - t0 - spent
    reached = next((s for s, v in curve if v <= target and s <= cap), None)
    out |= dict(seconds=reached, reached=reached is not None, epochs=len(curve),
                capped=bool(curve) and curve[-1][0] > cap, curve=curve)
    if res is not None:
        value = objective(problem, alpha, res.coef, res.intercept)
        out |= dict(objective=value if np.isfinite(value) else None, n_epochs=res.n_epochs,
                    chosen={name: getattr(res, name, None) for name in
                            ("optimizer", "learning_rate", "batch_size", "schedule",
                             "warm_start")})
    return out


def peer_run(problem, alpha, peer, target, cap):
    """The time to the target of a library's solver: a fit at each of TOLERANCES in turn
    (one fit for a direct solver) until one reaches the target or takes more than `cap`
    seconds or uses all its iterations.  A first, untimed fit of PROBE_ITER iterations (a
    direct solver's first solve) warms the library up and gives the time per iteration, from
    which every fit's max_iter is set so that none runs far past the cap.  `seconds` is
    the reaching fit's time (the fastest one that reaches: each tighter fit does more
    iterations); a fit past the cap does not count as reaching."""
    runs = []
    try:
        t0 = time.perf_counter()
        est = peer.fit(problem, TOLERANCES[0], PROBE_ITER)
        per_iter = (time.perf_counter() - t0) / (n_iter(est) or PROBE_ITER)
        for tol in (TOLERANCES if peer.iterative else (None,)):
            max_iter = max(PROBE_ITER, int(cap / per_iter)) if peer.iterative else None
            t0 = time.perf_counter()
            est = peer.fit(problem, tol, max_iter)
            seconds = time.perf_counter() - t0
            value = objective(problem, alpha, *peer.params(est, problem))
            runs.append(dict(tol=tol, max_iter=max_iter, seconds=seconds, objective=value,
                             n_iter=n_iter(est)))
            if value <= target or seconds > cap or (n_iter(est) or 0) >= max_iter:
                break               # reached, or stopped by the cap: a tighter tol won't help
            if runs[-1]["n_iter"]:
                per_iter = seconds / runs[-1]["n_iter"]
        error = None
    except Exception as e:          # a library that rejects the problem is reported
        error = f"{type(e).__name__}: {e}"
    last = runs[-1] if runs else {}
    reached = last.get("objective", np.inf) <= target and last["seconds"] <= cap
    return dict(seconds=last["seconds"] if reached else None, reached=reached,
                objective=last.get("objective"), tol=last.get("tol"),
                n_iter=last.get("n_iter"), over_cap=bool(last) and last["seconds"] > cap,
                runs=runs, error=error)


# --- the peers command's section ----------------------------------------------------------

# Time-to-optimum candidates for gdfast: name -> fit keyword arguments, tuned by hand on
# the peers command's data at n = 50_000 and 400_000.
OPTIMUM_CONFIGS = {
    "full-batch nesterov lr=0.6": dict(optimizer="nesterov", batch_size=None,
                                       learning_rate=0.6),
    "full-batch gradient descent lr=1": dict(optimizer="sgd", batch_size=None,
                                             learning_rate=1.0),
    "adam 256 lr=1e-2, exponential gamma=0.3": dict(optimizer="adam", batch_size=256,
                                                    learning_rate=1e-2,
                                                    schedule="exponential", gamma=0.3),
    "sgd 32 lr=0.02, exponential gamma=0.3": dict(optimizer="sgd", batch_size=32,
                                                  learning_rate=0.02,
                                                  schedule="exponential", gamma=0.3),
}


def run_optimum(report, X, y, repeats):
    """The peers command's section: logistic on its data at ALPHA, gdfast's OPTIMUM_CONFIGS
    and scikit-learn's LogisticRegression(lbfgs), each timed `repeats` times once it reached
    the target (the median is reported)."""
    if optional("sklearn") is None:
        report.notes.append("time to optimum skipped: scikit-learn is not installed")
        return
    problem = Problem("peers", "peers' logistic problem", "logistic", X, y)
    optimum = solve_optimum(problem, ALPHA)
    target = target_of(optimum["value"])
    section = {"optimum": {optimum["solver"]: optimum["value"]}, "target": target,
               "gdfast": {}}
    lbfgs = next(p for p in peers_for(problem, ALPHA, gdfast.effective_n_threads(None))[0]
                 if p.library == "scikit-learn")
    found = peer_run(problem, ALPHA, lbfgs, target, OPTIMUM_MAX_S)
    if found["reached"]:
        max_iter = found["runs"][-1]["max_iter"]
        timing = measure(lambda: wall(lbfgs.fit, problem, found["tol"], max_iter), repeats)
        found |= {"seconds": timing.seconds, "runs": timing.runs, "others": timing.others}
        section["sklearn lbfgs"] = found
    else:
        section["sklearn lbfgs"] = None
    for name, kwargs in OPTIMUM_CONFIGS.items():
        options = dict(kwargs, max_epochs=10_000, tol=None, random_state=0)

        def seconds(options=options):
            return gdfast_run(problem, ALPHA, options, target, OPTIMUM_MAX_S, True)

        first = seconds()                                 # deterministic (random_state=0)
        result = first | {"runs": 1, "others": None}
        if first["reached"]:                              # the first run was the warm-up
            timing = measure(lambda s=seconds: s()["seconds"], repeats, warmup=False)
            result |= {"seconds": timing.seconds, "runs": timing.runs, "others": timing.others}
        section["gdfast"][name] = result
    reached = {k: v for k, v in section["gdfast"].items() if v["reached"]}
    if reached:
        section["best"] = min(reached, key=lambda k: reached[k]["seconds"])
        if section["sklearn lbfgs"]:
            report.measured["optimum_over_lbfgs"] = (reached[section["best"]]["seconds"]
                                                     / section["sklearn lbfgs"]["seconds"])
    report.sections["optimum"] = section

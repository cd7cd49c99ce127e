"""gdfast.dask side by side with dask-ml and with gdfast.fit in one process, on one
LocalCluster, every system judged by one objective F (peers/problems.py) against its cached
optimum F* (peers/optimum.py): the time to F* + 1e-3 |F*|.

    python benchmarks/dask_bench.py                 # the issue's sizes (~10 min here)
    python benchmarks/dask_bench.py --quick         # small problems (~1 min)
    python benchmarks/dask_bench.py --json /tmp/dask.json

Rows: (b) dense logistic 400 000 x 128, 8 chunks: gdfast.dask's defaults, dask-ml's
LogisticRegression(solver="lbfgs") and gdfast.fit in this process on as many threads as the
cluster has; (c) CSR logistic 1 000 000 x 2^20, 40 non-zeros a row, 8 chunks: gdfast.dask,
and what dask-ml does with it; (e) multinomial K = 10; and the client's extra memory during
a gdfast.dask fit (tracemalloc's peak, Python allocations and numpy's) at two sizes of n.
The cluster: LocalCluster(n_workers=2, threads_per_worker=1) unless --workers/--threads say
otherwise; the data is persisted on it before any clock starts.  dask-ml's objective is a sum
over the rows plus lambda/2 ||beta||^2 with the intercept penalized: C = 1 / (alpha n) gives
alpha's objective up to that intercept term.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from peers.optimum import cache_dir, gap, solve_optimum, target_of  # noqa: E402
from peers.problems import make_problem, objective  # noqa: E402

ALPHA = 1e-4
CAP = 60.0
CHUNKS = 8


def to_dask(problem, client, chunks):
    import dask.array as da
    X, y = problem.X, problem.y
    rows = -(-X.shape[0] // chunks)
    sparse = hasattr(X, "tocsr")
    Xd = da.from_array(X, chunks=(rows, X.shape[1]), asarray=not sparse)
    yd = da.from_array(np.asarray(y), chunks=rows)
    Xd, yd = client.persist([Xd, yd])
    from distributed import wait
    wait([Xd, yd])
    return Xd, yd


def timed_fit(fit, problem, target, **kwargs):
    """(seconds to the target or None, final gap, epochs, the result) of fit(..., callback)
    with F computed after each epoch; the callback's own time is left out."""
    curve, spent = [], 0.0
    t0 = time.perf_counter()

    def callback(rec):
        nonlocal spent
        t_in = time.perf_counter()
        value = objective(problem, ALPHA, rec["coef"], rec["intercept"])
        curve.append((t_in - t0 - spent, value))
        spent += time.perf_counter() - t_in
        return curve[-1][0] > CAP

    res = fit(callback=callback, **kwargs)
    reached = next((s for s, v in curve if v <= target), None)
    return reached, curve[-1][1], len(curve), res


def dask_ml_run(problem, Xd, yd, target, optimum):
    """dask-ml's LogisticRegression(solver="lbfgs") at growing max_iter: the time of the
    first fit that reaches the target."""
    try:
        from dask_ml.linear_model import LogisticRegression
    except ImportError as exc:
        return dict(error=f"not installed ({exc})")
    runs = []
    # an untimed first fit: dask-ml's imports and first compilations are not its solver's time
    try:
        LogisticRegression(solver="lbfgs", C=1.0 / (ALPHA * problem.n), max_iter=1).fit(Xd, yd)
    except Exception as exc:                   # recorded: what dask-ml does with it
        return dict(error=f"{type(exc).__name__}: {str(exc)[:200]}", runs=runs)
    for max_iter in (1, 2, 3, 4, 5, 6, 8, 10, 13, 20, 40, 80, 160):
        est = LogisticRegression(solver="lbfgs", C=1.0 / (ALPHA * problem.n),
                                 max_iter=max_iter, tol=1e-10)
        t0 = time.perf_counter()
        try:
            est.fit(Xd, yd)
        except Exception as exc:               # recorded: what dask-ml does with it
            return dict(error=f"{type(exc).__name__}: {str(exc)[:200]}", runs=runs)
        seconds = time.perf_counter() - t0
        value = objective(problem, ALPHA, np.ravel(est.coef_), float(np.ravel(est.intercept_)[0]))
        runs.append(dict(max_iter=max_iter, seconds=seconds, gap=gap(value, optimum)))
        if value <= target or seconds > CAP:
            break
    reached = runs[-1]["seconds"] if runs and runs[-1]["gap"] <= 1e-3 else None
    return dict(seconds=reached, runs=runs)


def case(key, n, d, client, threads, repeats, with_dask_ml=True):
    import gdfast
    import gdfast.dask as gdd
    problem = make_problem(key, n, d)
    opt = solve_optimum(problem, ALPHA, cache=cache_dir())
    target = target_of(opt["value"])
    Xd, yd = to_dask(problem, client, CHUNKS)
    row = dict(problem=key, n=n, d=d, optimum=opt["value"])
    runs = {"gdfast_dask": [], "gdfast_fit": []}
    # alternated, repeats times: the host's speed drifts, and the ratio compares runs taken
    # at the same moments; the median counts
    for _ in range(repeats):
        runs["gdfast_dask"].append(timed_fit(
            lambda **kw: gdd.fit(Xd, yd, loss=problem.loss, alpha=ALPHA, **kw),
            problem, target))
        runs["gdfast_fit"].append(timed_fit(
            lambda **kw: gdfast.fit(problem.X, problem.y, loss=problem.loss, alpha=ALPHA,
                                    n_threads=threads, **kw), problem, target))
    for name, got in runs.items():
        seconds = [g[0] for g in got]
        reached = all(sec is not None for sec in seconds)
        s, final, epochs, res = got[0]
        row[name] = dict(seconds=float(np.median(seconds)) if reached else None,
                         all_seconds=seconds, gap=gap(final, opt["value"]), epochs=epochs,
                         optimizer=res.optimizer)
    row["gdfast_fit"]["threads"] = threads
    if with_dask_ml and problem.loss == "logistic":
        row["dask_ml_lbfgs"] = dask_ml_run(problem, Xd, yd, target, opt["value"])
    client.cancel([Xd, yd])
    return row


def client_memory(client, n_values, d):
    """The peak of the client's allocations (tracemalloc) during a gdfast.dask fit, above
    what it held before, for each n: O(d) means the same figure for every n."""
    import gdfast.dask as gdd
    out = []
    for n in n_values:
        problem = make_problem("b", n, d)
        Xd, yd = to_dask(problem, client, CHUNKS)
        del problem
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        gdd.fit(Xd, yd, loss="logistic", alpha=ALPHA)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        client.cancel([Xd, yd])
        out.append(dict(n=n, d=d, peak_bytes=peak))
    return out


def host():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return dict(cpu=cpu, cores=os.cpu_count(), commit=commit,
                date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per worker")
    ap.add_argument("--repeats", type=int, default=3,
                    help="gdfast runs per system, alternated (the median counts)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster
    sizes = dict(b=(400_000, 128), c=(1_000_000, 2 ** 20), e=(200_000, 64))
    if args.quick:
        sizes = dict(b=(20_000, 32), c=(50_000, 2 ** 14), e=(20_000, 32))
    meta = host()
    print(f"# gdfast.dask benchmark, {meta['date']}, commit {meta['commit']}, {meta['cpu']}, "
          f"{meta['cores']} cores; LocalCluster {args.workers} x {args.threads}, "
          f"{CHUNKS} chunks, alpha {ALPHA}")
    rows = []
    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                      processes=True, dashboard_address=":0") as cluster, Client(cluster) as c:
        threads = args.workers * args.threads
        for key in ("b", "c", "e"):
            row = case(key, *sizes[key], c, threads, args.repeats)
            rows.append(row)
            print(json.dumps(row, default=float))
        mem = client_memory(c, (sizes["b"][0] // 4, sizes["b"][0]), sizes["b"][1])
    print("\n| problem | gdfast.dask s (median) | gdfast.fit s (1 process) | dask-ml lbfgs s | "
          "dask / fit | dask / dask-ml |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        g = r["gdfast_dask"]["seconds"]
        f = r.get("gdfast_fit", {}).get("seconds")
        m = r.get("dask_ml_lbfgs", {})
        ms = m.get("seconds")
        rng_d = r["gdfast_dask"]["all_seconds"]
        rng_f = r["gdfast_fit"]["all_seconds"]
        span = (f" ({fmt(min(rng_d))} to {fmt(max(rng_d))})" if None not in rng_d else "")
        fspan = (f" ({fmt(min(rng_f))} to {fmt(max(rng_f))})" if None not in rng_f else "")
        print(f"| ({r['problem']}) {r['n']} x {r['d']} | {fmt(g)}{span} | {fmt(f)}{fspan} | "
              f"{fmt(ms) if not m.get('error') else m['error'][:60]} | "
              f"{fmt(g / f if g and f else None, '.2f')} | "
              f"{fmt(g / ms if g and ms else None, '.3f')} |")
    for m in mem:
        print(f"client peak during a fit: n = {m['n']}, d = {m['d']}: "
              f"{m['peak_bytes'] / 2**20:.2f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(host=meta, rows=rows, client_memory=mem), f, indent=1,
                      default=float)


if __name__ == "__main__":
    main()

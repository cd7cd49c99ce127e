"""Time to the optimum: gdfast.fit with its defaults against scikit-learn, scikit-learn-intelex,
snapml and a grid of hand-set gdfast settings, side by side on six problems, every system
judged by one objective F (benchmarks/peers/problems.py) against a tightly solved optimum F*.

    python benchmarks/optimum.py --quick        # small problems, alpha 1e-4, tiny grid (~1 min)
    python benchmarks/optimum.py                # full size, alphas 1e-6 1e-4 1e-2, full grid
    python benchmarks/optimum.py --problems a,c --alphas 1e-4 --cap 30 --json /tmp/opt.json
    python benchmarks/optimum.py --check        # F and the alpha mappings, verified

The problems: (a) dense logistic, correlated columns scaled 1e-2 .. 1e2; (b) the same,
isotropic; (c) CSR logistic, 40 non-zeros a row; (d) squared loss (Ridge), unscaled columns;
(e) multinomial, K = 10; (f) poisson.  For each problem and alpha it prints a markdown table:
each system's time to reach F* + 1e-3 |F*|, its final relative gap (F - F*) / |F*|, its time
against scikit-learn's fastest and the best grid entry's, and PASS / FAIL for the targets of
gdfast's defaults (peers/optimum_report.py).  The optima are cached (peers/optimum.py);
--json writes every figure.  FAIL does not change the exit status (--check's does).
"""
import argparse
import datetime
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

import gdfast
from peers import optional
from peers.measure import cpu_counters, others_cores
from peers.optimum import (
    cache_dir,
    gap,
    gdfast_run,
    peer_run,
    solve_optimum,
    target_of,
)
from peers.optimum_report import (
    DIGITS_POINTS,
    defaults_targets,
    print_case,
    print_digits,
    print_header,
    print_summary,
    write_json,
)
from peers.problems import PROBLEMS, make_problem, objective
from peers.solvers import limit_sklearnex_threads, n_iter, peers_for

ALPHAS = (1e-6, 1e-4, 1e-2)
QUICK_ALPHAS = (1e-4,)
CAP_S, QUICK_CAP_S = 60.0, 2.0
GRID_BATCH = {"nesterov": None, "adam": 256, "sgd": 32}   # each optimizer's batch size
GRID_LRS = (1.0, 1e-1, 1e-2, 1e-3)
GRID_SCHEDULES = ("constant", "exponential", "plateau")
QUICK_GRID_LRS = {"nesterov": 1e-1, "adam": 1e-2, "sgd": 1e-2}    # constant schedule
# exponential's gamma per epoch: halve a mini-batch rate every epoch (an epoch is many
# steps), a full-batch rate (one step an epoch) more slowly
GAMMA = {True: 0.5, False: 0.99}
# A grid entry is stopped once slower than the best entry so far, or than GRID_SLACK times
# the fastest system of the case so far: the table needs the best entry, not the slow ones.
GRID_SLACK = 10.0


def grid(quick):
    """[(row name, gdfast.fit options)] of the hand-set settings."""
    out = []
    for optimizer, batch in GRID_BATCH.items():
        for lr in ((QUICK_GRID_LRS[optimizer],) if quick else GRID_LRS):
            for schedule in (("constant",) if quick else GRID_SCHEDULES):
                options = dict(optimizer=optimizer, batch_size=batch, learning_rate=lr,
                               schedule=schedule, max_epochs=100_000, tol=None,
                               random_state=0)
                if schedule == "exponential":
                    options["gamma"] = GAMMA[batch is not None]
                out.append((f"gdfast {optimizer} {batch or 'full'} lr={lr:g} {schedule}",
                            options))
    return out


def floor_seconds(X, repeats=5):
    w = np.ones(X.shape[1])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        X @ w
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def gap_or_none(value, optimum):
    return None if value is None else gap(value, optimum)


def gdfast_row(name, kind, run, optimum):
    chosen = run.get("chosen") or {}
    warm = chosen.get("warm_start")
    chosen = ", ".join(f"{k}={v}" for k, v in chosen.items()
                       if v is not None and k != "warm_start")
    outcome = ("error" if run["error"] and not run["error"].startswith("DivergenceError")
               else "diverged" if run["error"] else "reached" if run["reached"]
               else "pruned" if run.get("pruned") else "capped" if run["capped"]
               else "stopped")
    note = f"{outcome}, {run.get('n_epochs', run['epochs'])} epochs in " \
           f"{run['total_seconds']:.3g} s"
    if chosen:
        note += f"; chose {chosen}"
    if warm:
        note += (f", from {warm['epochs']} epoch of averaged {warm['optimizer']} (batch "
                 f"{warm['batch_size']}, lr {warm['learning_rate']:.3g})")
    if run["error"] and outcome == "error":
        note += f"; {run['error'][:120]}"
    return dict(name=name, library="gdfast", kind=kind, seconds=run["seconds"],
                gap=gap_or_none(run.get("objective"), optimum), outcome=outcome,
                note=note, error=run["error"], run=run)


def run_case(problem, alpha, args):
    optimum = solve_optimum(problem, alpha, args.cache)
    counters = cpu_counters()
    target = target_of(optimum["value"])
    case = dict(problem=problem.key, title=problem.title, loss=problem.loss, n=problem.n,
                d=problem.d, alpha=alpha, floor_s=floor_seconds(problem.X), target=target,
                optimum={k: v for k, v in optimum.items() if k not in ("coef", "intercept")},
                rows=[], notes=[])
    F = optimum["value"]
    print(f"  ({problem.key}) alpha={alpha:g}: gdfast defaults ...", flush=True)
    run = gdfast_run(problem, alpha, dict(random_state=0), target, args.cap, False)
    case["rows"].append(gdfast_row("gdfast defaults", "defaults", run, F))
    peers, case["notes"] = peers_for(problem, alpha, args.n_threads)
    for peer in peers:
        print(f"  ({problem.key}) alpha={alpha:g}: {peer.library} {peer.name} ...", flush=True)
        r = peer_run(problem, alpha, peer, target, args.cap)
        note = (f"tol={r['tol']:g}, {r['n_iter']} iterations" if r["tol"] is not None
                else "direct solve") if r["runs"] else ""
        if r["over_cap"]:
            note += f", {r['runs'][-1]['seconds']:.3g} s: over the cap"
        case["rows"].append(dict(name=f"{peer.library} {peer.name}", library=peer.library,
                                 kind="peer", seconds=r["seconds"],
                                 gap=gap_or_none(r["objective"], F),
                                 note=note + (f"; {r['error'][:120]}" if r["error"] else ""),
                                 error=r["error"], run=r))
    print(f"  ({problem.key}) alpha={alpha:g}: the grid ...", flush=True)
    fastest = min((r["seconds"] for r in case["rows"] if r["seconds"] is not None),
                  default=np.inf)
    best = min(args.cap, GRID_SLACK * fastest)
    for name, options in grid(args.quick):
        run = gdfast_run(problem, alpha, options, target, best, True)
        run["pruned"] = run["capped"] and best < args.cap
        if run["reached"]:
            best = min(best, run["seconds"])
        case["rows"].append(gdfast_row(name, "grid", run, F))
    below = [r["name"] for r in case["rows"] if r["gap"] is not None and r["gap"] < -1e-9]
    if below:
        case["notes"].append(f"below F* (the optimum is not exact): {', '.join(below)}")
    case["targets"] = defaults_targets(case)
    case["others"] = others_cores(counters, cpu_counters())
    return case


def digits_check():
    """load_digits, standardized: GDClassifier's defaults at alpha = 1/n against scikit-learn's
    model of the same objective, LogisticRegression(C=1) (multinomial) and its one-vs-rest
    form OneVsRestClassifier(LogisticRegression(C=1)), on the training set (fit and score on
    all rows) and on a fixed split (test_size 0.25)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    split = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)

    def scores(make):
        (Xa, Xb, ya, yb) = split
        return (make(len(y)).fit(X, y).score(X, y), make(len(ya)).fit(Xa, ya).score(Xb, yb))

    def logistic(n):
        return LogisticRegression(C=1.0, max_iter=10_000)

    rows = []
    for name, multi_class, reference in (
            ("GDClassifier() multinomial", "auto", logistic),
            ("GDClassifier(multi_class='ovr')", "ovr",
             lambda n: OneVsRestClassifier(logistic(n)))):
        lr_train, lr_test = scores(reference)
        row = dict(name=name, lr_train=lr_train, lr_test=lr_test, train=None, test=None)
        try:
            row["train"], row["test"] = scores(lambda n, mc=multi_class: gdfast.GDClassifier(
                alpha=1.0 / n, multi_class=mc, random_state=0))
            row["ok"] = (abs(row["train"] - lr_train) * 100 <= DIGITS_POINTS
                         and abs(row["test"] - lr_test) * 100 <= DIGITS_POINTS)
        except gdfast.DivergenceError as e:
            row |= dict(ok=False, error=f"DivergenceError: {e}")
        rows.append(row)
    return rows


CHECK_N, CHECK_D, CHECK_ALPHAS = 3_000, 6, (1e-2, 1e-4)
# a wrong alpha mapping moves a library's optimum by far more than 1e-3 relative; snapml's
# tightest fits stop up to a few 1e-5 above F* (seen on problem c at alpha 1e-4, whatever the
# intercept scaling), the others' within 1e-10
CHECK_GRAD, CHECK_LOSS, CHECK_PEER_GAP = 1e-6, 1e-9, 1e-4


def numerical_gradient(problem, alpha, coef, intercept, h=1e-6):
    """max |dF/dtheta| over the parameters by central differences (F from peers.problems)."""
    theta = np.concatenate([np.ravel(coef), np.ravel(intercept)])
    split = np.size(coef)

    def F(t):
        return objective(problem, alpha, t[:split].reshape(np.shape(coef)),
                         t[split:].reshape(np.shape(intercept)))

    worst = 0.0
    for i in range(theta.size):
        step = h * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        worst = max(worst, abs(F(up) - F(down)) / (2 * step))
    return worst


def check_mappings(n_threads):
    """--check, on small versions of every problem: F is stationary at the optimum that
    solvers.exact_solver finds with the mapped alpha (a wrong mapping leaves a gradient of
    the order of alpha |w|); gdfast's own epoch loss at the optimum (one full-batch epoch
    with a negligible rate) equals F; each library's solver at a tight tolerance reaches F*
    (n/a when it used all its iterations).  True when nothing failed."""
    print("| problem | alpha | check | figure | result |\n|---|---:|---|---:|---|")
    failed = 0
    for key in PROBLEMS:
        problem = make_problem(key, CHECK_N, 64 if key == "c" else CHECK_D)
        for alpha in CHECK_ALPHAS:
            opt = solve_optimum(problem, alpha)
            F = opt["value"]
            checks = [("|grad F| at the optimum, " + opt["solver"],
                       numerical_gradient(problem, alpha, opt["coef"], opt["intercept"]),
                       CHECK_GRAD)]
            res = gdfast.fit(problem.X, problem.y, loss=problem.loss, alpha=alpha,
                             coef_init=opt["coef"], intercept_init=opt["intercept"],
                             optimizer="sgd", learning_rate=1e-30, batch_size=None,
                             max_epochs=1, tol=None)
            checks.append(("gdfast's epoch loss vs F, relative", abs(gap(res.loss_history[0], F)),
                           CHECK_LOSS))
            for peer in peers_for(problem, alpha, n_threads)[0]:
                est = peer.fit(problem, 1e-10, 100_000)
                value = objective(problem, alpha, *peer.params(est, problem))
                used_all = peer.iterative and (n_iter(est) or 0) >= 100_000
                checks.append((f"{peer.library} {peer.name} gap at tol 1e-10", gap(value, F),
                               None if used_all else CHECK_PEER_GAP))
            for name, figure, bound in checks:
                result = "n/a" if bound is None else "PASS" if figure <= bound else "FAIL"
                failed += result == "FAIL"
                print(f"| {key} | {alpha:g} | {name} | {figure:.2e} | {result} |")
    print(f"\n{'all checks passed' if not failed else f'{failed} check(s) FAILED'}")
    return not failed


def host_meta(args, argv):
    root = Path(__file__).resolve().parent.parent

    def git(*cmd):
        try:
            return subprocess.run(["git", "-C", str(root), *cmd], capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), model)
    except OSError:
        pass
    threadpoolctl = optional("threadpoolctl")
    blas = ([f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)"
             for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
            if threadpoolctl else ["threadpoolctl not installed"])
    versions = {}
    for dist in ("gdfast", "numpy", "scipy", "scikit-learn", "scikit-learn-intelex", "snapml"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    commit = git("rev-parse", "--short", "HEAD")
    dirty = " (uncommitted changes)" if git("status", "--porcelain") else ""
    return dict(command=" ".join(["python benchmarks/optimum.py", *argv]),
                date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                host=model, cores=f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
                threads=f"{args.n_threads} (gdfast {gdfast.effective_n_threads(None)}; BLAS and "
                        "OpenMP limited by threadpoolctl, oneDAL by daal4py.daalinit, snapml "
                        "n_jobs)",
                commit=f"{commit}{dirty}",
                versions=", ".join(f"{k} {v}" for k, v in versions.items()),
                blas="; ".join(blas), cache=str(args.cache), cap=args.cap,
                grid_slack=GRID_SLACK)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"small problems, alpha {QUICK_ALPHAS[0]:g}, a tiny grid, cap "
                        f"{QUICK_CAP_S:g} s")
    parser.add_argument("--problems", default=",".join(PROBLEMS),
                        help="comma-separated problem keys (default: all of a..f)")
    parser.add_argument("--alphas", default=None,
                        help="comma-separated alphas (default 1e-6,1e-4,1e-2; --quick 1e-4)")
    parser.add_argument("--n-threads", type=int, default=os.cpu_count(),
                        help="threads for every system (default: all cores)")
    parser.add_argument("--cap", type=float, default=None,
                        help=f"seconds allowed to each system (default {CAP_S:g}; --quick "
                        f"{QUICK_CAP_S:g})")
    parser.add_argument("--n", type=int, default=None, help="rows of every problem (default: "
                        "each problem's size)")
    parser.add_argument("--cache", default=str(cache_dir()),
                        help="folder of the cached optima (default $GDFAST_OPTIMUM_CACHE or "
                        "~/.cache/gdfast-optimum)")
    parser.add_argument("--no-digits", action="store_true", help="skip the load_digits check")
    parser.add_argument("--check", action="store_true",
                        help="only verify F against gdfast's loss and the alpha mappings")
    parser.add_argument("--json", default=None, help="also write the raw figures here")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.n_threads):
        limit_sklearnex_threads(args.n_threads)
        if args.check:
            return 0 if check_mappings(args.n_threads) else 1
        args.cap = args.cap or (QUICK_CAP_S if args.quick else CAP_S)
        alphas = ([float(a) for a in args.alphas.split(",")] if args.alphas
                  else QUICK_ALPHAS if args.quick else ALPHAS)
        meta = host_meta(args, argv)
        gdfast.fit(np.ones((64, 2)), np.arange(64) % 2, loss="logistic")  # starts OpenMP
        cases = []
        for key in args.problems.split(","):
            n, d = PROBLEMS[key][2 if args.quick else 1]
            print(f"building ({key}) n={args.n or n}, d={d} ...", flush=True)
            problem = make_problem(key, args.n or n, d)
            for alpha in alphas:
                cases.append(run_case(problem, alpha, args))
            del problem
        digits = [] if args.no_digits else digits_check()
    meta["floor"] = next((f"numpy X @ w on (a)'s X (n={c['n']}): {c['floor_s']:.3g} s"
                          for c in cases if c["problem"] == "a"),
                         "problem (a) not run: see each table's floor")
    print()
    print_header(meta)
    for case in cases:
        print_case(case)
    if digits:
        print_digits(digits)
    print_summary(cases, digits)
    if args.json:
        write_json(meta, cases, digits, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

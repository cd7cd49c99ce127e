"""gdfast against its peers, in one process and one run, on the same data.

Dense logistic regression (default n=400_000, d=128, float64, all threads):

* the floor: numpy ``X @ w``, which reads X once;
* one epoch of gdfast (full-batch gradient, mini-batch Adam 256, mini-batch SGD 32,
  per-sample SGD), shuffled and ordered, of the numpy reference for the same jobs,
  of scikit-learn's SGDClassifier and of a PyTorch training loop;
* float32 / float64, 1 -> 2 threads against numpy's own scaling, the extra peak memory of
  a fit (in a fresh subprocess), and the time to reach the optimum's objective within
  1e-3 relative against scikit-learn's L-BFGS.
* the read floors, which are not targets but say what limits them: gdfast's read probe
  (_kernels.read_rows) reads X's rows with the epochs' row stream and prefetch and computes
  nothing; along a shuffled order it is a lower bound for a shuffled epoch, in row order on 1
  and all threads the bandwidth's own scaling.

    python benchmarks/peers.py [--quick] [--n N] [--d D] [--repeats R]
                               [--out benchmarks/peers.png] [--json out.json]

Sparse logistic regression (--sparse; default n=1_000_000, d=2^20, 40 non-zeros per row,
float64; --quick: n=100_000, d=2^17): the issue's CSR problem (benchmarks/common.py,
make_sparse_data), one epoch of scikit-learn's SGDClassifier and of gdfast's per-sample SGD
(1 thread, Hogwild on 2), lazy Adam 256 (1 thread, Hogwild on 2), the held-out accuracy of
each fit, and the extra peak memory of a gdfast fit against CSR bytes + O(d) state + 20 MiB.

    python benchmarks/peers.py --sparse [--quick] [--n N] [--d D] [--nnz K] [--repeats R]
                               [--out benchmarks/peers_sparse.png] [--json out.json]

Peers that are not installed are skipped with a note.  Times are medians over --repeats
runs (after one warm-up run), fewer when the runs of one row exceed RUN_BUDGET_S, more
when they took less than MIN_MEASURE_S in all; the "runs" column says how many.  The
floors, gdfast's epochs and its float32 epoch are measured side by side, in rounds that
call each of them once (measure_rounds), and so are the four timings of the thread
scaling: the host's speed drifts by tens of percent within minutes, and a ratio of two
figures taken minutes apart carried that drift.  The
"others" column gives the cores that other processes kept busy meanwhile (from
/proc/stat): on a shared machine, a flagged row is not to be trusted.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gdfast  # noqa: E402
from gdfast import _kernels  # noqa: E402
from benchmarks.common import (ALPHA, SPARSE_NNZ_PER_ROW, fit_kwargs,  # noqa: E402
                               fit_sklearn_quietly, heldout_scores, logistic_objective,
                               make_data, make_sparse_data, resolve, sklearn_sgd_sparse,
                               sparse_fit_kwargs)

RUN_BUDGET_S = 30.0          # stop repeating a row once its runs took this long
MIN_MEASURE_S = 0.2          # repeat a row beyond --repeats until its runs took this long
REFERENCE_MAX_S = 60.0       # estimate (don't run) a reference epoch expected to take longer
ESTIMATE_ROWS = 20_000       # rows of the subset the estimate is timed on
OPTIMUM_RTOL = 1e-3
OPTIMUM_MAX_S = 20.0         # give up on a time-to-optimum configuration after this long
OTHERS_WARN = 0.5            # other processes' cores above which a timing is flagged
SETTLE_S = 0.2               # pause before each measurement: OpenBLAS's and OpenMP's idle
                             # threads spin for a while after a call and would steal a core
LR = {"sgd": 0.01, "adam": 1e-3}     # also scikit-learn's eta0 and torch's Adam lr

# The epoch jobs: name -> (optimizer, batch_size); each runs shuffled, those in ORDERED also
# in row order.
FULL_BATCH, ADAM_256 = "full-batch gradient (sgd)", "mini-batch Adam 256"
SGD_32, PER_SAMPLE = "mini-batch SGD 32", "per-sample SGD (batch 1)"
JOBS = {FULL_BATCH: ("sgd", None), ADAM_256: ("adam", 256), SGD_32: ("sgd", 32),
        PER_SAMPLE: ("sgd", 1)}
ORDERED = (ADAM_256, SGD_32, PER_SAMPLE)

# Time-to-optimum candidates for gdfast: name -> fit keyword arguments, tuned by hand on
# this script's data at n = 50_000 and 400_000.
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

# The targets checked at the end: (name, measured key, comparison, threshold), the
# performance issue's targets as ratios of figures measured side by side in this run.
TARGETS = [
    ("full-batch epoch / floor", "full_batch_over_floor", "<=", 1.3),
    ("Adam 256 epoch / floor", "adam256_over_floor", "<=", 1.6),
    ("SGD 32 epoch / floor", "sgd32_over_floor", "<=", 2.0),
    ("per-sample SGD / sklearn SGDClassifier, fit() calls", "sgd1_over_sklearn", "<=", 0.2),
    ("Adam 256 epoch / best PyTorch loop epoch", "adam256_over_torch", "<=", 0.1),
    ("float32 / float64 Adam 256 epoch", "f32_over_f64", "<=", 0.6),
    ("thread speed-up, gdfast / numpy X @ w", "scaling_ratio", ">=", 0.9),
    ("extra peak memory of a fit / (5 % of X + 20 MiB)", "memory_over_budget", "<=", 1.0),
    ("time to optimum, gdfast / sklearn lbfgs", "optimum_over_lbfgs", "<", 1.0),
]


@dataclass
class Timing:
    seconds: float                   # median
    call_seconds: float | None       # median of the whole fit() call, where there is one
    runs: int
    others: float | None             # cores other processes used meanwhile (Linux only)


@dataclass
class Row:
    name: str
    library: str
    seconds: float | None            # per epoch (None: skipped)
    call_seconds: float | None = None
    runs: int = 0
    others: float | None = None
    estimated: bool = False
    note: str = ""
    accuracy: float | None = None    # sparse section: held-out accuracy (median over the runs)
    logloss: float | None = None     # ... and mean logistic loss

    @classmethod
    def timed(cls, name, library, timing, note=""):
        return cls(name, library, timing.seconds, timing.call_seconds, timing.runs,
                   timing.others, note=note)


@dataclass
class Report:
    meta: dict
    rows: list = field(default_factory=list)
    sections: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def optional(module):
    """The imported module, or None when it is not installed."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        return None


# --- timing -----------------------------------------------------------------------------

def cpu_counters():
    """(CPU seconds used by all processes, by this one, wall clock), None off Linux."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    except (OSError, ValueError):
        return None
    own = resource.getrusage(resource.RUSAGE_SELF)
    return ((user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK"),
            own.ru_utime + own.ru_stime, time.perf_counter())


def others_cores(before, after):
    """Cores that other processes kept busy between two cpu_counters(): on a shared
    machine, the sign that a timing is not to be trusted.  /proc/stat counts in 10 ms
    ticks, so over a window of w seconds this is good to about 0.02 / w cores."""
    if before is None or after is None or after[2] - before[2] < 0.1:
        return None                  # a shorter window would read 0 or 1 core, nothing between
    (all0, own0, t0), (all1, own1, t1) = before, after
    return max(0.0, ((all1 - all0) - (own1 - own0)) / (t1 - t0))


def measure(run, repeats, warmup=True):
    """Medians over `repeats` calls of run(), which returns seconds or a pair (epoch seconds,
    call seconds): fewer once the calls took RUN_BUDGET_S, more while they took less than
    MIN_MEASURE_S (a few milliseconds are at the mercy of one thread wake-up): measure_rounds
    with one run."""
    return measure_rounds({"run": ("run", run)}, repeats, warmup)["run"]


def measure_rounds(runs, repeats, warmup=True):
    """Side by side: {name: Timing} for runs = {name: (kind, run)}, run() as for measure().
    Every round calls each run once, in turn (the order reversed every other round), so a host
    that changes speed while they are measured changes all of them alike, and their ratios are
    taken at the same moments.  Before a call whose kind (numpy, gdfast) differs from the last
    call's, a pause of SETTLE_S lets the other library's idle threads stop spinning.  Rounds go
    on to --repeats, and beyond while a run's calls took less than MIN_MEASURE_S in all, until
    the rounds took RUN_BUDGET_S per run."""
    names = list(runs)
    times = {name: [] for name in names}
    last = [None]

    def call(name):
        kind, run = runs[name]
        if kind != last[0]:
            time.sleep(SETTLE_S)
            last[0] = kind
        out = run()
        return out if isinstance(out, tuple) else (out, None)

    before = cpu_counters()          # the warm-up too: a longer window, a steadier reading
    if warmup:
        for name in names:
            call(name)
    start, rounds = time.perf_counter(), 0
    while not rounds or (time.perf_counter() - start < RUN_BUDGET_S * len(names)
                         and (rounds < repeats or min(sum(t for t, _ in v)
                                                      for v in times.values()) < MIN_MEASURE_S)):
        for name in (names if rounds % 2 == 0 else names[::-1]):
            times[name].append(call(name))
        rounds += 1
    others = others_cores(before, cpu_counters())
    out = {}
    for name, v in times.items():
        calls = [c for _, c in v if c is not None]
        out[name] = Timing(statistics.median(t for t, _ in v),
                           statistics.median(calls) if calls else None, len(v), others)
    return out


def wall(fn, *args, **kwargs):
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def gdfast_epoch(fit, X, y, kwargs):
    """One epoch of fit (gdfast.fit or gdfast.reference.fit): (epoch seconds as the driver
    times it, i.e. without validation, shuffle included; the whole call's seconds)."""
    seen = {}
    t0 = time.perf_counter()
    fit(X, y, callback=lambda rec: seen.update(rec), **kwargs)
    return seen["time"], time.perf_counter() - t0


def time_epochs(fit, X, y, kwargs, repeats, warmup=True):
    return measure(lambda: gdfast_epoch(fit, X, y, kwargs), repeats, warmup)


def epoch_kwargs(optimizer, batch_size, shuffle=True, **extra):
    """gdfast.fit's arguments for one epoch of a job (logistic, alpha, random_state=0)."""
    return fit_kwargs(optimizer, batch_size, learning_rate=LR[optimizer], shuffle=shuffle,
                      **extra)


# --- the sections -------------------------------------------------------------------------

FLOOR64, FLOOR32 = "floor float64", "floor float32"
ADAM_256_F32, FULL_BATCH_F32 = f"{ADAM_256}, float32", f"{FULL_BATCH}, float32"


def epoch_jobs():
    """(row label, gdfast.fit arguments) of every epoch job: shuffled, and in row order too
    for those in ORDERED."""
    for name, (optimizer, batch_size) in JOBS.items():
        for shuffle in ((True, False) if name in ORDERED else (True,)):
            yield f"{name}{'' if shuffle else ', ordered'}", epoch_kwargs(optimizer, batch_size,
                                                                        shuffle)


def run_side_by_side(report, X, y, repeats, threads):
    """The floors (float64 and float32), every gdfast job, the float32 Adam 256 epoch and the
    read floors (read_floors), measured side by side (measure_rounds): the targets' ratios to
    the floor and float32 / float64 compare figures taken at the same moments.  Returns the
    floors' Timings."""
    X32 = X.astype(np.float32)
    runs = {FLOOR64: ("numpy", lambda: wall(np.matmul, X, np.ones(X.shape[1]))),
            FLOOR32: ("numpy", lambda: wall(np.matmul, X32, np.ones(X.shape[1], np.float32)))}
    runs |= read_floors(X, X32, threads)
    labels = []
    for label, kw in epoch_jobs():
        runs[label] = ("gdfast", lambda kw=kw: gdfast_epoch(gdfast.fit, X, y, kw))
        labels.append(label)
    runs[ADAM_256_F32] = ("gdfast", lambda: gdfast_epoch(gdfast.fit, X32, y,
                                                         epoch_kwargs(*JOBS[ADAM_256])))
    runs[FULL_BATCH_F32] = ("gdfast", lambda: gdfast_epoch(gdfast.fit, X32, y,
                                                           epoch_kwargs(*JOBS[FULL_BATCH])))
    timings = measure_rounds(runs, repeats)
    for label in labels:
        report.rows.append(Row.timed(label, "gdfast", timings[label]))
    f32, f64, floor32 = timings[ADAM_256_F32], timings[ADAM_256], timings[FLOOR32]
    report.rows.insert(report.rows.index(row(report, "gdfast", ADAM_256)) + 1,
                       Row.timed(ADAM_256_F32, "gdfast", f32,
                                 note=f"float32 floor {floor32.seconds:.4g} s"))
    full32 = timings[FULL_BATCH_F32]
    report.rows.insert(report.rows.index(row(report, "gdfast", FULL_BATCH)) + 1,
                       Row.timed(FULL_BATCH_F32, "gdfast", full32))
    report.sections["float32"] = {"float32_s": f32.seconds, "float64_s": f64.seconds,
                                  "full_batch_float32_s": full32.seconds,
                                  "full_batch_float64_s": timings[FULL_BATCH].seconds,
                                  "ratio": f32.seconds / f64.seconds,
                                  "floor32_s": floor32.seconds,
                                  "floor64_s": timings[FLOOR64].seconds}
    report.measured["f32_over_f64"] = f32.seconds / f64.seconds
    report.sections["read"] = {name: timings[name].seconds for name in READS}
    report.sections["read"] |= {"adam256_s": f64.seconds, "adam256_f32_s": f32.seconds}
    return timings[FLOOR64], floor32


# The read floors: gdfast's read probe (_kernels.read_rows) reads X's rows along an order
# with the epochs' row stream (one contiguous range of positions per thread, the same software
# prefetch) and computes nothing but column sums.  Shuffled, its time is what reading X in an
# epoch's random row order costs on this machine, a lower bound for a shuffled epoch (which
# also reads y and meets once a batch) that numpy's X @ w (rows in order) is not.  Not a
# target: it says what limits the shuffled ones.
READ64, READ32 = "read floor float64, shuffled", "read floor float32, shuffled"
READ64_ORDERED = "read floor float64, in order"
READS = (READ64, READ32, READ64_ORDERED)


def read_floors(X, X32, threads):
    """measure_rounds runs of the read floors, along one permutation drawn as the epochs draw
    theirs (not timed)."""
    perm = _kernels.permutation(len(X), 0)
    in_order = np.empty(0, np.int64)
    return {READ64: ("gdfast", lambda: wall(_kernels.read_rows, X, perm, threads)),
            READ32: ("gdfast", lambda: wall(_kernels.read_rows, X32, perm, threads)),
            READ64_ORDERED: ("gdfast", lambda: wall(_kernels.read_rows, X, in_order, threads))}


def run_reference_jobs(report, X, y, repeats):
    for label, kw in epoch_jobs():
        report.rows.append(time_job("reference", gdfast.reference.fit, label, X, y, kw, repeats))


def time_job(engine, fit, label, X, y, kw, repeats):
    warmup = True
    if engine == "reference" and kw["batch_size"] == 1:    # one numpy step per row
        m = min(len(y), ESTIMATE_ROWS)
        subset = gdfast_epoch(fit, X[:m], y[:m], kw)[0]
        estimate = subset * len(y) / m
        if estimate > REFERENCE_MAX_S:
            return Row(label, engine, estimate, estimated=True, runs=1,
                       note=f"ESTIMATED from {m} rows ({subset:.3g} s), not run")
        warmup = False                                       # the subset warmed up
    return Row.timed(label, engine, time_epochs(fit, X, y, kw, repeats, warmup))


def run_sklearn_sgd(report, X, y, repeats):
    name = "SGDClassifier log_loss, 1 epoch"
    linear_model = optional("sklearn.linear_model")
    if linear_model is None:
        report.rows.append(Row(name, "scikit-learn", None, note="not installed: skipped"))
        return
    from sklearn.exceptions import ConvergenceWarning

    def one_epoch():
        clf = linear_model.SGDClassifier(loss="log_loss", max_iter=1, tol=None,
                                         learning_rate="constant", eta0=LR["sgd"],
                                         alpha=ALPHA, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            seconds = wall(clf.fit, X, y)
        return seconds, seconds

    report.rows.append(Row.timed(name, "scikit-learn", measure(one_epoch, repeats),
                                 note=f"whole fit() call, per-sample, eta0={LR['sgd']}"))


def run_torch(report, X, y, repeats, n_threads):
    name = "PyTorch Adam 256 loop"
    torch = optional("torch")
    if torch is None:
        report.rows.append(Row(name, "torch", None, note="not installed: skipped"))
        return
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(X.dtype))
    old_threads = torch.get_num_threads()
    timings = {}
    for threads in sorted({1, n_threads}):
        torch.set_num_threads(threads)
        timings[threads] = measure(torch_adam_epoch(torch, Xt, yt), repeats)
    torch.set_num_threads(old_threads)
    best = min(timings, key=lambda t: timings[t].seconds)
    each = ", ".join(f"{t} thread(s) {tm.seconds:.4g} s" for t, tm in timings.items())
    report.rows.append(Row.timed(name, "torch", timings[best],
                                 note=f"best at {best} thread(s); {each}"))


def torch_adam_epoch(torch, Xt, yt, batch_size=256):
    """A function running one epoch of the usual PyTorch loop: nn.Linear, BCEWithLogitsLoss,
    Adam (weight decay alpha on the weights only, as gdfast), batches sliced from a shuffled
    permutation.  It returns the epoch's seconds."""
    n, d = Xt.shape
    torch.manual_seed(0)
    model = torch.nn.Linear(d, 1, dtype=Xt.dtype)
    opt = torch.optim.Adam([{"params": [model.weight], "weight_decay": ALPHA},
                            {"params": [model.bias], "weight_decay": 0.0}], lr=LR["adam"])
    criterion = torch.nn.BCEWithLogitsLoss()

    def epoch():
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            criterion(model(Xt[idx]).squeeze(1), yt[idx]).backward()
            opt.step()
        return time.perf_counter() - t0

    return epoch


def run_scaling(report, X, y, repeats, n_threads):
    threadpoolctl = optional("threadpoolctl")
    if threadpoolctl is None or n_threads < 2:
        report.notes.append("thread scaling skipped: " + ("threadpoolctl is not installed"
                            if threadpoolctl is None else f"only {n_threads} thread"))
        return
    w = np.ones(X.shape[1])

    def numpy_one_thread():
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            return wall(np.matmul, X, w)

    def gdfast_on(threads):
        kw = epoch_kwargs(*JOBS[FULL_BATCH], n_threads=threads)
        return lambda: gdfast_epoch(gdfast.fit, X, y, kw)

    # six kinds: a pause before each call, so that no call follows its own library's call on
    # another thread count while that one's idle threads still spin.  The read probe in row
    # order (read_floors) gives the scaling of reading X alone, with gdfast's prefetch.
    in_order = np.empty(0, np.int64)
    t = measure_rounds({"numpy 1": ("numpy 1", numpy_one_thread),
                        "numpy n": ("numpy n", lambda: wall(np.matmul, X, w)),
                        "gdfast 1": ("gdfast 1", gdfast_on(1)),
                        "gdfast n": ("gdfast n", gdfast_on(n_threads)),
                        "read 1": ("read 1", lambda: wall(_kernels.read_rows, X, in_order, 1)),
                        "read n": ("read n", lambda: wall(_kernels.read_rows, X, in_order,
                                                          n_threads))}, repeats)
    np1, npn, g1, gn = t["numpy 1"], t["numpy n"], t["gdfast 1"], t["gdfast n"]
    s_gd, s_np = g1.seconds / gn.seconds, np1.seconds / npn.seconds
    report.sections["scaling"] = {
        "threads": n_threads, "gdfast_1": g1.seconds, "gdfast_n": gn.seconds,
        "gdfast_speedup": s_gd, "numpy_1": np1.seconds, "numpy_n": npn.seconds,
        "numpy_speedup": s_np, "ratio": s_gd / s_np,
        "read_1": t["read 1"].seconds, "read_n": t["read n"].seconds,
        "others": max_others(g1, gn, np1, npn, t["read 1"], t["read n"])}
    report.measured["scaling_ratio"] = s_gd / s_np


def max_others(*timings):
    values = [t.others for t in timings if t.others is not None]
    return max(values) if values else None


# The child that measures one fit's extra peak RSS (run_memory, run_sparse_memory): {build}
# makes X and y, {fit} fits, {size} names the data's size in MiB.
MEMORY_CHILD = """
import json, sys
sys.path.insert(0, {here!r})
import gdfast
from benchmarks.common import make_data, make_sparse_data, sparse_fit_kwargs
spec = json.loads(sys.argv[1])

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024          # kB -> MiB

{build}
rss, hwm = status("VmRSS"), status("VmHWM")
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                    # resets VmHWM to VmRSS
    method, base = "VmHWM reset by clear_refs", rss
except OSError:
    method, base = "VmHWM after - before", hwm
{fit}
print(json.dumps(dict(method=method, extra_mib=status("VmHWM") - base,
                      build_slack_mib=hwm - rss, {size})))
"""


def run_memory(report, n, d):
    """Extra peak RSS of one fit in a fresh interpreter: the peak during fit() minus the RSS
    just before it.  The peak is the child's VmHWM, reset to the current RSS by writing "5"
    to /proc/self/clear_refs; where that is refused, VmHWM before and after the fit are
    compared, which is close because make_data builds X in chunks (the "build peak above
    RSS" column says by how much it could hide).  getrusage's ru_maxrss is not used: in a
    child spawned by this large process it starts at the parent's peak."""
    code = MEMORY_CHILD.format(
        here=str(HERE), fit='gdfast.fit(X, y, **spec["kwargs"])', size="x_mib=X.nbytes / 2**20",
        build='X, y = make_data("float64", spec["n"], spec["d"])   # chunked: a low peak')
    results = {}
    for name, (optimizer, batch_size) in JOBS.items():
        spec = dict(n=n, d=d, kwargs=epoch_kwargs(optimizer, batch_size))
        out = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], check=True,
                             capture_output=True, text=True, cwd=HERE)
        results[name] = json.loads(out.stdout)
    x_mib = next(iter(results.values()))["x_mib"]
    budget = 0.05 * x_mib + 20
    worst = max(r["extra_mib"] for r in results.values())
    report.sections["memory"] = {"jobs": results, "x_mib": x_mib, "budget_mib": budget,
                                 "worst_extra_mib": worst}
    report.measured["memory_over_budget"] = worst / budget


def objective_and_grad(theta, X, ypm, alpha):
    """The L2-regularized logistic objective (intercept unpenalized, y in +-1) and its
    gradient, theta = (w, b)."""
    w, b = theta[:-1], theta[-1]
    m = ypm * (X @ w + b)
    f = np.mean(np.logaddexp(0.0, -m)) + alpha / 2 * (w @ w)
    r = -ypm * np.exp(-np.logaddexp(0.0, m)) / len(m)     # d mean / d p = -y sigmoid(-m) / n
    return f, np.concatenate([X.T @ r + alpha * w, [r.sum()]])


def solve_optimum(report, X, y):
    """The optimum objective, by scipy's L-BFGS-B at tight tolerance (scikit-learn's lbfgs at
    tol=1e-10 as a cross-check); the lowest of the two is the reference value."""
    found = {}
    optimize = optional("scipy.optimize")
    if optimize is not None:
        ypm = np.where(y > 0, 1.0, -1.0)
        res = optimize.minimize(objective_and_grad, np.zeros(X.shape[1] + 1), jac=True,
                                args=(X, ypm, ALPHA), method="L-BFGS-B",
                                options=dict(maxiter=10_000, gtol=1e-10, ftol=1e-15))
        found["scipy L-BFGS-B"] = float(res.fun)
    clf = sklearn_lbfgs(X, y, max_iter=10_000, tol=1e-10)
    if clf is not None:
        found["sklearn lbfgs tol=1e-10"] = logistic_objective(X, y, clf.coef_[0],
                                                              clf.intercept_[0])
    if not found:
        report.notes.append("time to optimum skipped: neither scipy nor scikit-learn")
        return None
    return found


def sklearn_lbfgs(X, y, max_iter, tol=1e-12):
    """LogisticRegression(solver='lbfgs', C=1/(alpha n)): scikit-learn minimizes
    C sum_i log(1 + exp(-y_i p_i)) + 1/2 ||w||^2; divided by C n this is
    (1/n) sum_i log(1 + exp(-y_i p_i)) + 1/(2 C n) ||w||^2, our objective when
    1/(C n) = alpha.  The intercept is unpenalized in both."""
    linear_model = optional("sklearn.linear_model")
    if linear_model is None:
        return None
    from sklearn.exceptions import ConvergenceWarning
    clf = linear_model.LogisticRegression(solver="lbfgs", C=1.0 / (ALPHA * len(y)),
                                          max_iter=max_iter, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def lbfgs_time_to(X, y, target, repeats):
    """The fewest L-BFGS iterations (doubling, then bisection) whose fit reaches target,
    and the median time of that fit."""
    def reaches(k):
        clf = sklearn_lbfgs(X, y, k)
        return logistic_objective(X, y, clf.coef_[0], clf.intercept_[0]) <= target

    hi = 1
    while not reaches(hi):
        hi *= 2
        if hi > 4096:
            return None
    lo = hi // 2                     # fails (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
    timing = measure(lambda: wall(sklearn_lbfgs, X, y, hi), repeats)
    return {"iterations": hi, "seconds": timing.seconds, "runs": timing.runs,
            "others": timing.others}


def gdfast_time_to(X, y, target, kwargs):
    """One gdfast fit, stopped by a callback on the epoch loss: once it is within the target,
    the objective at the current parameters is recomputed (timed too) and the fit stops
    when that confirms it.  The epoch loss alone can stop too early: it is taken along the
    epoch (full batch: at the previous iterate) and momentum methods overshoot."""
    def stop(rec):
        if rec["time"] > OPTIMUM_MAX_S:
            return True
        return (rec["loss"] <= target
                and logistic_objective(X, y, rec["coef"], rec["intercept"]) <= target)

    t0 = time.perf_counter()
    res = gdfast.fit(X, y, callback=stop, **fit_kwargs(max_epochs=10_000, **kwargs))
    seconds = time.perf_counter() - t0
    final = logistic_objective(X, y, res.coef, res.intercept)
    return {"seconds": seconds, "epochs": res.n_epochs, "objective": final,
            "reached": bool(final <= target)}


def run_optimum(report, X, y, repeats):
    found = solve_optimum(report, X, y)
    if found is None:
        return
    target = min(found.values()) * (1 + OPTIMUM_RTOL)
    section = {"optimum": found, "target": target, "gdfast": {}}
    section["sklearn lbfgs"] = lbfgs_time_to(X, y, target, repeats) if optional("sklearn") else None
    for name, kwargs in OPTIMUM_CONFIGS.items():
        first = gdfast_time_to(X, y, target, kwargs)     # deterministic (random_state=0)
        result = first | {"runs": 1, "others": None}
        if first["reached"]:                             # the first run was the warm-up
            timing = measure(lambda kw=kwargs: gdfast_time_to(X, y, target, kw)["seconds"],
                             repeats, warmup=False)
            result |= {"seconds": timing.seconds, "runs": timing.runs, "others": timing.others}
        section["gdfast"][name] = result
    reached = {k: v for k, v in section["gdfast"].items() if v["reached"]}
    if reached:
        section["best"] = min(reached, key=lambda k: reached[k]["seconds"])
        if section["sklearn lbfgs"]:
            report.measured["optimum_over_lbfgs"] = (reached[section["best"]]["seconds"]
                                                     / section["sklearn lbfgs"]["seconds"])
    report.sections["optimum"] = section


def row(report, library, name):
    return next(r for r in report.rows if r.library == library and r.name == name)


# --- output ----------------------------------------------------------------------------

def busy(others):
    """The 'others' column: cores other processes kept busy, '!' when enough to spoil it."""
    if others is None:
        return ""
    return f"{others:.2f}" + ("!" if others > OTHERS_WARN else "")


def print_report(report):
    meta = report.meta
    print(f"\ngdfast {meta['gdfast']} peers: logistic, n={meta['n']}, d={meta['d']}, float64, "
          f"{meta['threads']} threads (OpenMP {meta['openmp']}), repeats={meta['repeats']}; "
          f"load average {meta['load_before']:.2f} before, {meta['load_after']:.2f} after; "
          f"other processes used {busy(meta['others'])} cores on average")
    fl = meta["floor_s"]
    print(f"floor: numpy X @ w = {fl:.4g} s, median of {meta['floor_runs']} "
          f"({meta['x_mib']:.0f} MiB, {meta['x_mib'] / 1024 / fl:.1f} GiB/s; "
          f"others {busy(meta['floor_others'])})\n")
    header = (f"{'job':<36}{'library':<13}{'s/epoch':>10}{'x floor':>8}{'call s':>10}"
              f"{'runs':>5}{'others':>7}  note")
    print(header)
    print("-" * len(header))
    for r in report.rows:
        sec = "skipped" if r.seconds is None else f"{r.seconds:.4g}" + ("*" if r.estimated else "")
        ratio = "" if r.seconds is None else f"{r.seconds / fl:.1f}"
        call = "" if r.call_seconds is None else f"{r.call_seconds:.4g}"
        print(f"{r.name:<36}{r.library:<13}{sec:>10}{ratio:>8}{call:>10}{r.runs:>5}"
              f"{busy(r.others):>7}  {r.note}")
    print("s/epoch: the epoch as gdfast's driver times it (no validation); call s: the whole\n"
          "fit() call; * estimated, not run; others: cores that other processes kept busy\n"
          f"meanwhile (! above {OTHERS_WARN}: that row is not to be trusted)")
    s = report.sections
    if "float32" in s:
        f = s["float32"]
        if "full_batch_float32_s" in f:
            print(f"\nfloat32 / float64, {FULL_BATCH} (rows in order): "
                  f"{f['full_batch_float32_s']:.4g} / {f['full_batch_float64_s']:.4g} s = "
                  f"{f['full_batch_float32_s'] / f['full_batch_float64_s']:.2f}", end="")
        print(f"\nfloat32 / float64, {ADAM_256}: {f['float32_s']:.4g} / {f['float64_s']:.4g} s "
              f"= {f['ratio']:.2f} (floors {f['floor32_s']:.4g} / {f['floor64_s']:.4g} s "
              f"= {f['floor32_s'] / f['floor64_s']:.2f})")
    if "scaling" in s:
        c = s["scaling"]
        print(f"1 -> {c['threads']} threads: {FULL_BATCH} {c['gdfast_1']:.4g} -> "
              f"{c['gdfast_n']:.4g} s (x{c['gdfast_speedup']:.2f}); numpy X @ w "
              f"{c['numpy_1']:.4g} -> {c['numpy_n']:.4g} s (x{c['numpy_speedup']:.2f}); "
              f"ratio of speed-ups {c['ratio']:.2f} (others {busy(c['others'])})")
        if "read_1" in c:
            print(f"  the read floor in order alone: {c['read_1']:.4g} -> {c['read_n']:.4g} s "
                  f"(x{c['read_1'] / c['read_n']:.2f})")
    if "read" in s:
        print_reads(s["read"], report.meta["floor_s"])
    if "memory" in s:
        m = s["memory"]
        print(f"\nextra peak memory of one fit (fresh subprocess, X = {m['x_mib']:.0f} MiB, "
              f"budget 5 % of X + 20 MiB = {m['budget_mib']:.1f} MiB):")
        for name, r in m["jobs"].items():
            print(f"  {name:<38}{r['extra_mib']:>8.1f} MiB   ({r['method']}; build peak above "
                  f"RSS {r['build_slack_mib']:.1f} MiB)")
    if "optimum" in s:
        print_optimum(s["optimum"])
    print_targets(report)
    for note in report.notes:
        print(f"note: {note}")


def print_reads(r, floor):
    """What limits the shuffled epochs: the read floors against the floor and the epochs."""
    print(f"\nread floors (the rows read with the epochs' prefetch, nothing computed; side by side "
          f"with the floor):\n  in order float64 {r[READ64_ORDERED]:.4g} s "
          f"(x{r[READ64_ORDERED] / floor:.2f} floor); shuffled float64 {r[READ64]:.4g} s "
          f"(x{r[READ64] / floor:.2f} floor), float32 {r[READ32]:.4g} s "
          f"(float32 / float64 {r[READ32] / r[READ64]:.2f})\n"
          f"  {ADAM_256} / shuffled read floor: float64 {r['adam256_s'] / r[READ64]:.2f}, "
          f"float32 {r['adam256_f32_s'] / r[READ32]:.2f}")


def print_optimum(o):
    values = ", ".join(f"{k} {v:.10f}" for k, v in o["optimum"].items())
    print(f"\ntime to the optimum objective within {OPTIMUM_RTOL:g} relative "
          f"(optimum: {values}; target {o['target']:.10f}):")
    lb = o["sklearn lbfgs"]
    if lb:
        print(f"  {'sklearn LogisticRegression lbfgs, C=1/(alpha n)':<48}{lb['seconds']:>8.3f} s"
              f"  {lb['iterations']} iterations, median of {lb['runs']}, others "
              f"{busy(lb['others'])}")
    for name, r in o["gdfast"].items():
        mark = "  <- best" if o.get("best") == name else ""
        print(f"  {'gdfast ' + name:<48}{r['seconds']:>8.3f} s  {r['epochs']} epochs, "
              f"objective {r['objective']:.10f} {'reached' if r['reached'] else 'NOT reached'},"
              f" median of {r['runs']}, others {busy(r['others'])}{mark}")


def print_targets(report, targets=TARGETS):
    others = report.meta["others"]
    if others is not None and others > OTHERS_WARN:
        print(f"\nWARNING: other processes kept {others:.2f} cores busy on average during this "
              "run:\nits timings, and the results below, are not to be trusted.")
    width = max(54, max(len(t[0]) for t in targets) + 2)
    print(f"\n{'target':<{width}}{'wanted':>10}{'measured':>10}  result")
    for name, key, op, threshold in targets:
        value = report.measured.get(key)
        wanted = f"{op} {threshold:g}"
        if value is None:
            print(f"{name:<{width}}{wanted:>10}{'n/a':>10}  not measured")
            continue
        ok = {"<=": value <= threshold, "<": value < threshold, ">=": value >= threshold}[op]
        print(f"{name:<{width}}{wanted:>10}{value:>10.3f}  {'PASS' if ok else 'FAIL'}")


def plot(report, path):
    matplotlib = optional("matplotlib")
    if matplotlib is None:
        report.notes.append("matplotlib is not installed: no chart")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in report.rows if r.seconds is not None]
    colors = {"gdfast": "tab:blue", "reference": "tab:gray", "scikit-learn": "tab:orange",
              "torch": "tab:red"}
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(rows) + 1.5))
    labels = [f"{r.library}: {r.name}" + (" (estimated)" if r.estimated else "") for r in rows]
    bars = ax.barh(labels, [r.seconds for r in rows], color=[colors[r.library] for r in rows])
    for bar, r in zip(bars, rows, strict=True):
        if r.estimated:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.axvline(report.meta["floor_s"], color="k", linestyle="--", label="floor: numpy X @ w")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("seconds per epoch (log scale)")
    m = report.meta
    ax.set_title(f"logistic regression, n={m['n']}, d={m['d']}, float64, {m['threads']} threads")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nchart written to {path}")


# --- the sparse section (--sparse) ------------------------------------------------------------

SPARSE_SIZE = (1_000_000, 2**20)          # the issue's n, d
SPARSE_QUICK_SIZE = (100_000, 2**17)
SPARSE_N_TEST = 100_000                   # held-out rows (at most n // 5)
SPARSE_ACCURACY_TOL = 0.01                # per-sample SGD vs scikit-learn's, held out
SKLEARN_SGD = "SGDClassifier log_loss, optimal"
# row name -> SPARSE_MODES key (benchmarks/common.py)
SPARSE_SGD1, SPARSE_HOG2 = "per-sample SGD, 1 thread", "per-sample SGD, Hogwild 2 threads"
SPARSE_ADAM1, SPARSE_ADAM_HOG2 = "lazy Adam 256, 1 thread", "lazy Adam 256, Hogwild 2 threads"
SPARSE_JOBS = {SPARSE_SGD1: "sgd-1thread", SPARSE_HOG2: "sgd-hogwild-2",
               SPARSE_ADAM1: "lazy-adam-256", SPARSE_ADAM_HOG2: "lazy-adam-256-hogwild-2"}

# The issue's sparse targets.  The speed-ups compare whole fit() calls (scikit-learn has no
# other); the Adam / SGD ratio compares epochs as gdfast's driver times them, both 1 thread.
SPARSE_TARGETS = [
    ("per-sample SGD 1 thread: speed-up over sklearn SGDClassifier", "sparse_sgd1_speedup",
     ">=", 1.5),
    ("per-sample SGD Hogwild 2 threads: speed-up over sklearn", "sparse_hogwild2_speedup",
     ">=", 2.5),
    ("lazy Adam 256 epoch / per-sample SGD epoch (1 thread)", "sparse_adam256_over_sgd1",
     "<=", 2.0),
    ("peak memory / (CSR + O(d) state + 20 MiB), worst fit", "sparse_memory_over_budget",
     "<=", 1.0),
]


def csr_bytes(X):
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


def sparse_state_bytes(X, y, kwargs):
    """The O(d) memory that a gdfast fit of X (CSR) with these arguments allocates by design,
    item by item in bytes: NativeEngine's buffers (src/gdfast/_native.py), built from the
    spec that gdfast.fit itself resolves (benchmarks/common.py, resolve), and the result's
    copies.  With P = K (d + 1) parameters (K = 1 output here) of `itemsize` bytes:

      theta        P values: the coefficients and intercepts the engine updates in place;
      opt_state    N_STATE[optimizer] * P values (sgd: none; adam: 3 vectors: m, v and
                   amsgrad's max v, zero pages until written);
      sparse_work  Config.csr_work_bytes(d, batch_size, n_threads): the sparse path's aux[d]
                   doubles (shared), then per thread (1; n_threads under Hogwild) a gradient
                   accumulator of P, the batch's dloss/dz, a touched-feature list of d int64
                   and d flag bytes (csrc/gd_kernels.c, sp_layout);
      result       the FitResult returned: coef/intercept (a copy of theta) and
                   state.opt_state (a copy of opt_state, for warm restarts).

    Not counted: the engine's dense work buffer (Config.work_size(d) values, np.empty, written
    by the block path only: the sparse path never touches its pages, so they take no RSS; if
    it did, the measured peak would show it), and the O(n) buffers (the shuffled row order,
    n int64, and y encoded in X's dtype), which have to fit in the 20 MiB."""
    from gdfast._options import N_STATE

    problem, spec, _ = resolve(X, y, **kwargs)
    itemsize, K, d = problem.dtype.itemsize, problem.n_outputs, problem.d
    cfg = _kernels.Config(**spec.kernel_config(K, d, itemsize))
    n_threads = gdfast.effective_n_threads(kwargs.get("n_threads"))
    theta = problem.n_params * itemsize
    state = N_STATE[spec.optimizer] * problem.n_params * itemsize
    items = {"theta": theta, "opt_state": state,
             "sparse_work": cfg.csr_work_bytes(d, spec.batch_size, n_threads),
             "result": theta + state}
    not_counted = {"dense_work (untouched)": cfg.work_size(d) * itemsize,
                   "order + y (O(n))": problem.n * (8 + itemsize)}
    return items, not_counted


def run_sparse_memory(report, X, y, nnz):
    """Extra peak RSS of one gdfast fit on the CSR data, per mode, in a fresh interpreter
    that builds the same data (as run_memory does for dense X); measured = extra peak + the
    CSR arrays, budget = the CSR arrays + sparse_state_bytes + 20 MiB."""
    n, d = X.shape
    code = MEMORY_CHILD.format(
        here=str(HERE), build='X, y, *_ = make_sparse_data(spec["n"], spec["d"], spec["nnz"])',
        fit='gdfast.fit(X, y, **sparse_fit_kwargs(spec["mode"]))',
        size="csr_mib=(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20")
    jobs, csr_mib = {}, csr_bytes(X) / 2**20
    for name, mode in SPARSE_JOBS.items():
        kwargs = sparse_fit_kwargs(mode)
        if gdfast.effective_n_threads(kwargs["n_threads"]) != kwargs["n_threads"]:
            report.notes.append(f"sparse memory: {name} skipped (not {kwargs['n_threads']} "
                                "threads here)")
            continue
        spec = dict(n=n, d=d, nnz=nnz, mode=mode)
        out = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], check=True,
                             capture_output=True, text=True, cwd=HERE)
        r = json.loads(out.stdout)
        items, not_counted = sparse_state_bytes(X, y, kwargs)
        r["state_mib"] = {k: v / 2**20 for k, v in items.items()}
        r["not_counted_mib"] = {k: v / 2**20 for k, v in not_counted.items()}
        r["budget_mib"] = csr_mib + sum(items.values()) / 2**20 + 20
        r["measured_mib"] = csr_mib + r["extra_mib"]
        r["ratio"] = r["measured_mib"] / r["budget_mib"]
        jobs[name] = r
    if not jobs:
        return
    worst = max(jobs, key=lambda k: jobs[k]["ratio"])
    report.sections["sparse_memory"] = {"jobs": jobs, "csr_mib": csr_mib, "worst": worst}
    report.measured["sparse_memory_over_budget"] = jobs[worst]["ratio"]


def sparse_timed(report, name, library, one_fit, X_test, y_test, repeats, note=""):
    """Times one_fit() -> (coef, intercept, epoch seconds or None) with measure(), and scores
    every fit it made (the warm-up too) on the held-out rows; the row gives the median
    accuracy and log loss, the note their range when the runs differ (Hogwild)."""
    scores = []

    def run():
        t0 = time.perf_counter()
        coef, intercept, epoch = one_fit()
        call = time.perf_counter() - t0
        scores.append(heldout_scores(X_test, y_test, coef, intercept))
        return (call if epoch is None else epoch), call

    r = Row.timed(name, library, measure(run, repeats), note=note)
    accs, losses = [a for a, _ in scores], [lo for _, lo in scores]
    r.accuracy, r.logloss = statistics.median(accs), statistics.median(losses)
    if max(accs) > min(accs):
        r.note = (r.note + "; " if r.note else "") + (f"accuracy {min(accs):.4f}.."
                                                      f"{max(accs):.4f} over {len(accs)} fits")
    report.rows.append(r)
    return r


def run_sparse_sklearn(report, X, y, X_test, y_test, repeats):
    if optional("sklearn.linear_model") is None:
        report.rows.append(Row(SKLEARN_SGD, "scikit-learn", None, note="not installed: skipped"))
        return

    def one_fit():
        clf = fit_sklearn_quietly(sklearn_sgd_sparse(), X, y)
        return clf.coef_.ravel(), clf.intercept_, None

    sparse_timed(report, SKLEARN_SGD, "scikit-learn", one_fit, X_test, y_test, repeats,
                 note="whole fit() call, per-sample, 1 thread")


def run_sparse_gdfast(report, X, y, X_test, y_test, repeats):
    for name, mode in SPARSE_JOBS.items():
        kwargs = sparse_fit_kwargs(mode)
        if gdfast.effective_n_threads(kwargs["n_threads"]) != kwargs["n_threads"]:
            report.rows.append(Row(name, "gdfast", None, note=f"skipped: gdfast cannot use "
                                   f"{kwargs['n_threads']} threads here"))
            continue

        def one_fit(kw=kwargs):
            seen = {}
            res = gdfast.fit(X, y, callback=lambda rec: seen.update(rec), **kw)
            return res.coef, res.intercept, seen["time"]

        sparse_timed(report, name, "gdfast", one_fit, X_test, y_test, repeats,
                     note=f"mode {mode}")


SPARSE_PAIRED_ROUNDS = 5


def run_sparse_paired(report, X, y, rounds):
    """The lazy Adam / per-sample SGD ratio measured in pairs: `rounds` rounds of one epoch of
    each (1 thread), back to back, the order alternating, and the median of the per-round
    ratios.  The target row divides the two jobs' medians, which were measured some seconds
    apart; a shared host whose speed drifts in between moves that ratio (by 0.1 to 0.3 in this
    project's runs), a pair much less.  A check printed beside the target, not the target."""
    kw = {name: sparse_fit_kwargs(SPARSE_JOBS[name]) for name in (SPARSE_ADAM1, SPARSE_SGD1)}
    if any(gdfast.effective_n_threads(k["n_threads"]) != k["n_threads"] for k in kw.values()):
        return

    def epoch(name):
        seen = {}
        gdfast.fit(X, y, callback=lambda rec: seen.update(rec), **kw[name])
        return seen["time"]

    pairs = []
    for r in range(rounds):
        order = (SPARSE_ADAM1, SPARSE_SGD1) if r % 2 == 0 else (SPARSE_SGD1, SPARSE_ADAM1)
        t = {name: epoch(name) for name in order}
        pairs.append((t[SPARSE_ADAM1], t[SPARSE_SGD1]))
    ratios = [a / b for a, b in pairs]
    report.sections["sparse_paired"] = {"pairs": pairs, "ratios": ratios,
                                        "median": statistics.median(ratios)}


def sparse_ratios(report):
    rows = {r.name: r for r in report.rows if r.seconds is not None}
    out = {}
    sk = rows.get(SKLEARN_SGD)
    if sk is not None:
        for key, name in (("sparse_sgd1_speedup", SPARSE_SGD1),
                          ("sparse_hogwild2_speedup", SPARSE_HOG2)):
            if name in rows:
                out[key] = sk.call_seconds / rows[name].call_seconds
    if SPARSE_ADAM1 in rows and SPARSE_SGD1 in rows:
        out["sparse_adam256_over_sgd1"] = rows[SPARSE_ADAM1].seconds / rows[SPARSE_SGD1].seconds
    return out


def sparse_checks(report):
    """Not targets, sanity: gdfast's per-sample SGD runs scikit-learn's algorithm (same loss,
    alpha, schedule), so its held-out accuracy should be within SPARSE_ACCURACY_TOL of
    scikit-learn's; Hogwild's within it of the deterministic run's.  Lazy Adam runs another
    algorithm, whose accuracy is only reported."""
    rows = {r.name: r for r in report.rows if r.accuracy is not None}
    short = {SKLEARN_SGD: "sklearn", SPARSE_SGD1: "SGD 1 thread", SPARSE_HOG2: "SGD Hogwild 2",
             SPARSE_ADAM1: "lazy Adam 1 thread", SPARSE_ADAM_HOG2: "lazy Adam Hogwild 2"}
    pairs = [(SPARSE_SGD1, SKLEARN_SGD), (SPARSE_HOG2, SKLEARN_SGD), (SPARSE_HOG2, SPARSE_SGD1),
             (SPARSE_ADAM_HOG2, SPARSE_ADAM1)]
    checks = []
    for a, b in pairs:
        if a in rows and b in rows:
            diff = rows[a].accuracy - rows[b].accuracy
            checks.append({"name": f"{short[a]} - {short[b]}", "diff": diff,
                           "ok": bool(abs(diff) <= SPARSE_ACCURACY_TOL)})
    return checks


def print_sparse_report(report):
    m = report.meta
    print(f"\ngdfast {m['gdfast']} peers, sparse: logistic, CSR n={m['n']}, d={m['d']}, "
          f"{m['nnz']} non-zeros per row, float64 (X: {m['csr_mib']:.0f} MiB of data + "
          f"indices + indptr), OpenMP {m['openmp']}, {m['threads']} threads available, "
          f"repeats={m['repeats']}; load average {m['load_before']:.2f} before, "
          f"{m['load_after']:.2f} after; other processes used {busy(m['others'])} cores on "
          "average")
    print(f"held out: {m['n_test']} more rows of the same problem; the planted w scores "
          f"accuracy {m['planted_accuracy']:.4f} on them\n")
    sk = next((r for r in report.rows if r.library == "scikit-learn" and r.seconds), None)
    header = (f"{'job':<36}{'library':<13}{'s/epoch':>9}{'call s':>9}{'speed-up':>9}"
              f"{'runs':>5}{'others':>7}{'accuracy':>9}{'logloss':>9}  note")
    print(header)
    print("-" * len(header))
    for r in report.rows:
        if r.seconds is None:
            print(f"{r.name:<36}{r.library:<13}{'skipped':>9}  {r.note}")
            continue
        up = "" if sk is None else f"{sk.call_seconds / r.call_seconds:.2f}x"
        print(f"{r.name:<36}{r.library:<13}{r.seconds:>9.4g}{r.call_seconds:>9.4g}{up:>9}"
              f"{r.runs:>5}{busy(r.others):>7}{r.accuracy:>9.4f}{r.logloss:>9.4g}  {r.note}")
    print("s/epoch: the epoch as gdfast's driver times it (no validation; scikit-learn: the "
          "call); call s:\nthe whole fit() call; speed-up: scikit-learn's call s / this row's; "
          "accuracy, logloss:\nheld out, median over the fits; others: cores that other "
          f"processes kept busy meanwhile\n(! above {OTHERS_WARN}: that row is not to be "
          "trusted)")
    if "sparse_memory" in report.sections:
        s = report.sections["sparse_memory"]
        print(f"\npeak memory of one gdfast fit (fresh subprocess; CSR arrays {s['csr_mib']:.1f}"
              " MiB; budget = CSR + O(d) state + 20 MiB):")
        for name, r in s["jobs"].items():
            items = ", ".join(f"{k} {v:.1f}" for k, v in r["state_mib"].items())
            print(f"  {name:<34} extra {r['extra_mib']:6.1f} MiB -> {r['measured_mib']:7.1f}"
                  f" / {r['budget_mib']:7.1f} MiB = {r['ratio']:.3f}   (O(d) state: {items})")
        print("  (" + next(iter(s["jobs"].values()))["method"] + "; not counted in the budget: "
              + ", ".join(f"{k} {v:.1f} MiB" for k, v in
                          next(iter(s["jobs"].values()))["not_counted_mib"].items()) + ")")
    paired = report.sections.get("sparse_paired")
    if paired:
        print(f"\nlazy Adam / per-sample SGD in {len(paired['pairs'])} back-to-back pairs (1 "
              "thread, order alternating): " + ", ".join(f"{a:.3f}/{b:.3f}"
                                                     for a, b in paired["pairs"]))
        print(f"  median of the pairs' ratios {paired['median']:.3f} (range "
              f"{min(paired['ratios']):.3f} to {max(paired['ratios']):.3f}); a check beside the "
              "target below, which divides the rows' medians")
    checks = report.sections.get("sparse_checks", [])
    if checks:
        print(f"\nchecks: held-out accuracy differences, wanted within +-{SPARSE_ACCURACY_TOL} "
              "(the same algorithm)")
        for c in checks:
            print(f"  {c['name']:<44}{c['diff']:+.4f}  {'ok' if c['ok'] else 'CHECK'}")
    print_targets(report, SPARSE_TARGETS)
    for note in report.notes:
        print(f"note: {note}")


def plot_sparse(report, path):
    matplotlib = optional("matplotlib")
    if matplotlib is None:
        report.notes.append("matplotlib is not installed: no chart")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in report.rows if r.seconds is not None]
    colors = {"gdfast": "tab:blue", "scikit-learn": "tab:orange"}
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    labels = [f"{r.library}: {r.name} (acc {r.accuracy:.3f})" for r in rows]
    bars = ax.barh(labels, [r.call_seconds for r in rows],
                   color=[colors[r.library] for r in rows])
    sk = next((r for r in rows if r.library == "scikit-learn"), None)
    if sk is not None:
        ax.axvline(sk.call_seconds, color="k", linestyle="--")
        for bar, r in zip(bars, rows, strict=True):      # speed-up over scikit-learn
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {sk.call_seconds / r.call_seconds:.2f}x", va="center")
    ax.set_xlim(0, 1.15 * max(r.call_seconds for r in rows))
    ax.invert_yaxis()
    ax.set_xlabel("seconds per one-epoch fit() call (dashed: scikit-learn; labels: speed-up "
                  "over it)")
    m = report.meta
    ax.set_title(f"sparse logistic, CSR n={m['n']}, d={m['d']}, {m['nnz']} nnz/row, float64",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nchart written to {path}")


def main_sparse(args):
    n, d = SPARSE_QUICK_SIZE if args.quick else SPARSE_SIZE
    n, d = args.n or n, args.d or d
    repeats = args.repeats or (1 if args.quick else 3)
    n_test = min(SPARSE_N_TEST, max(1, n // 5))
    print(f"building the CSR problem: n={n} (+{n_test} held out), d={d}, {args.nnz} non-zeros "
          "per row ...", flush=True)
    X, y, X_test, y_test, w = make_sparse_data(n, d, args.nnz, n_test=n_test)
    gdfast.fit(X[:1000], y[:1000], **sparse_fit_kwargs("sgd-hogwild-2"))  # starts OpenMP threads
    print(f"running: {repeats} repeat(s) ...", flush=True)
    load_before, counters = os.getloadavg()[0], cpu_counters()
    report = Report(meta=dict(section="sparse", gdfast=gdfast.__version__, n=n, d=d,
                              nnz=args.nnz, n_test=n_test, threads=gdfast.effective_n_threads(None),
                              openmp=gdfast.openmp_enabled(), repeats=repeats,
                              csr_mib=csr_bytes(X) / 2**20,
                              planted_accuracy=heldout_scores(X_test, y_test, w, 0.0)[0],
                              python=platform.python_version(), numpy=np.__version__,
                              load_before=load_before))
    run_sparse_sklearn(report, X, y, X_test, y_test, repeats)
    run_sparse_gdfast(report, X, y, X_test, y_test, repeats)
    run_sparse_paired(report, X, y, 1 if args.quick else SPARSE_PAIRED_ROUNDS)
    run_sparse_memory(report, X, y, args.nnz)
    report.measured |= sparse_ratios(report)
    report.sections["sparse_checks"] = sparse_checks(report)
    report.sections["sparse_targets"] = [
        {"target": name, "key": key, "wanted": f"{op} {threshold:g}",
         "measured": report.measured.get(key),
         "result": (None if key not in report.measured else
                    "PASS" if {"<=": report.measured[key] <= threshold,
                               ">=": report.measured[key] >= threshold}[op] else "FAIL")}
        for name, key, op, threshold in SPARSE_TARGETS]
    report.meta |= {"load_after": os.getloadavg()[0],
                    "others": others_cores(counters, cpu_counters())}
    print_sparse_report(report)
    plot_sparse(report, args.out or str(HERE / "peers_sparse.png"))
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=1, default=float))
        print(f"results written to {args.json}")
    return 0


# --- main -------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sparse", action="store_true",
                        help="run the sparse (CSR) section instead of the dense one")
    parser.add_argument("--n", type=int, default=None,
                        help="rows (default 400_000; --sparse: 1_000_000)")
    parser.add_argument("--d", type=int, default=None,
                        help="features (default 128; --sparse: 2^20)")
    parser.add_argument("--nnz", type=int, default=SPARSE_NNZ_PER_ROW,
                        help="--sparse: non-zeros per row (default 40)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per row, median reported (default 5, 3 with --quick; "
                        "--sparse: 3, 1 with --quick; more for rows under 0.2 s in all, "
                        "fewer past 30 s)")
    parser.add_argument("--quick", action="store_true",
                        help="n=50_000 and 3 repeats (--sparse: n=100_000, d=2^17, 1 repeat)")
    parser.add_argument("--out", default=None, help="PNG bar chart (default "
                        "benchmarks/peers.png; --sparse: benchmarks/peers_sparse.png)")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.sparse:
        return main_sparse(args)
    args.d = args.d or 128
    args.out = args.out or str(HERE / "peers.png")
    n = args.n or (50_000 if args.quick else 400_000)
    repeats = args.repeats or (3 if args.quick else 5)
    threads = gdfast.effective_n_threads(None)

    X, y = make_data("float64", n, args.d)
    gdfast.fit(X[:1000], y[:1000], **epoch_kwargs("adam", 256))   # starts OpenMP threads
    print(f"running: n={n}, d={args.d}, {threads} threads ...", flush=True)
    load_before, counters = os.getloadavg()[0], cpu_counters()
    report = Report(meta=dict(gdfast=gdfast.__version__, n=n, d=args.d, threads=threads,
                              openmp=gdfast.openmp_enabled(), repeats=repeats,
                              x_mib=X.nbytes / 2**20,
                              python=platform.python_version(), numpy=np.__version__,
                              load_before=load_before))
    floor64, _ = run_side_by_side(report, X, y, repeats, threads)
    report.meta |= dict(floor_s=floor64.seconds, floor_runs=floor64.runs,
                        floor_others=floor64.others)
    run_reference_jobs(report, X, y, repeats)
    run_sklearn_sgd(report, X, y, repeats)
    run_torch(report, X, y, repeats, threads)
    run_scaling(report, X, y, repeats, threads)
    run_memory(report, n, args.d)
    run_optimum(report, X, y, repeats)
    report.measured |= derived_ratios(report, floor64.seconds)
    report.meta |= {"load_after": os.getloadavg()[0],
                    "others": others_cores(counters, cpu_counters())}

    print_report(report)
    plot(report, args.out)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=1, default=float))
        print(f"results written to {args.json}")
    return 0


def derived_ratios(report, floor64):
    out = {"full_batch_over_floor": row(report, "gdfast", FULL_BATCH).seconds / floor64,
           "adam256_over_floor": row(report, "gdfast", ADAM_256).seconds / floor64,
           "sgd32_over_floor": row(report, "gdfast", SGD_32).seconds / floor64}
    peers = {r.library: r for r in report.rows if r.seconds is not None}
    if "scikit-learn" in peers:          # both whole fit() calls: sklearn has no other
        out["sgd1_over_sklearn"] = (row(report, "gdfast", PER_SAMPLE).call_seconds
                                    / peers["scikit-learn"].call_seconds)
    if "torch" in peers:
        out["adam256_over_torch"] = (row(report, "gdfast", ADAM_256).seconds
                                     / peers["torch"].seconds)
    return out


if __name__ == "__main__":
    sys.exit(main())

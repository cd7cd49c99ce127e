"""The extra peak memory of one fit, measured in a fresh interpreter (dense: against 5 % of X
+ 20 MiB; sparse: against the CSR arrays + the O(d) state a fit allocates by design
+ 20 MiB)."""
import json
import subprocess
import sys

import gdfast
from benchmarks.common import N_STATE, _kernels, resolve, sparse_fit_kwargs

from . import HERE
from .jobs import JOBS, SPARSE_JOBS, epoch_kwargs

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
                   and each feature's slot in it, d int32 (csrc/gd_csr_sparse.h, sp_layout);
      result       the FitResult returned: coef/intercept (a copy of theta) and
                   state.opt_state (a copy of opt_state, for warm restarts).

    Not counted: the engine's dense work buffer (Config.work_size(d) values, np.empty, written
    by the block path only: the sparse path never touches its pages, so they take no RSS; if
    it did, the measured peak would show it), and the O(n) buffers (the shuffled row order,
    n int64, and y encoded in X's dtype), which have to fit in the 20 MiB."""
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

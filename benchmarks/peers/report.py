"""The report: its rows and sections (Row, Report), the targets it checks (TARGETS,
SPARSE_TARGETS), and its printing, dense and sparse."""
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .jobs import ADAM_256, FULL_BATCH, READ32, READ64, READ64_ORDERED, SPARSE_ACCURACY_TOL
from .optimum import OPTIMUM_RTOL

OTHERS_WARN = 0.5            # other processes' cores above which a timing is flagged


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


def row(report, library, name):
    return next(r for r in report.rows if r.library == library and r.name == name)


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
              f"  tol={lb['tol']:g}: {lb['n_iter']} iterations, median of {lb['runs']}, others "
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


def sparse_target_results(report):
    """SPARSE_TARGETS with what was measured and PASS/FAIL, for the JSON."""
    return [
        {"target": name, "key": key, "wanted": f"{op} {threshold:g}",
         "measured": report.measured.get(key),
         "result": (None if key not in report.measured else
                    "PASS" if {"<=": report.measured[key] <= threshold,
                               ">=": report.measured[key] >= threshold}[op] else "FAIL")}
        for name, key, op, threshold in SPARSE_TARGETS]


def write_json(report, path):
    Path(path).write_text(json.dumps(asdict(report), indent=1, default=float))
    print(f"results written to {path}")

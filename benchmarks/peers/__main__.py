"""The command (see __init__.py): its arguments, and the order of a run's sections, dense or
sparse (--sparse)."""
# ruff: noqa: E402 (the imports follow the sys.path fix below)
import argparse
import os
import platform
import sys
from pathlib import Path

# `python benchmarks/peers` puts benchmarks/peers/ first on sys.path: benchmarks/ goes there
# instead, from where `peers` and `benchmarks.common` import (and the modules of this folder
# cannot shadow top-level ones).  Absolute imports below: here __main__ is no package member.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import numpy as np

import gdfast
import peers
from benchmarks.common import (
    SPARSE_NNZ_PER_ROW,
    heldout_scores,
    make_data,
    make_sparse_data,
    sparse_fit_kwargs,
)
from peers import HERE
from peers.dense import derived_ratios, run_reference_jobs, run_scaling, run_side_by_side
from peers.jobs import SPARSE_N_TEST, SPARSE_QUICK_SIZE, SPARSE_SIZE, epoch_kwargs
from peers.libraries import run_sklearn_sgd, run_torch
from peers.measure import cpu_counters, others_cores
from peers.memory import csr_bytes, run_memory, run_sparse_memory
from peers.optimum import run_optimum
from peers.plot import plot, plot_sparse
from peers.report import (
    Report,
    print_report,
    print_sparse_report,
    sparse_target_results,
    write_json,
)
from peers.sparse import (
    SPARSE_PAIRED_ROUNDS,
    run_sparse_gdfast,
    run_sparse_paired,
    run_sparse_sklearn,
    sparse_checks,
    sparse_ratios,
)


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
    report.sections["sparse_targets"] = sparse_target_results(report)
    report.meta |= {"load_after": os.getloadavg()[0],
                    "others": others_cores(counters, cpu_counters())}
    print_sparse_report(report)
    plot_sparse(report, args.out or str(HERE / "peers_sparse.png"))
    if args.json:
        write_json(report, args.json)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=peers.__doc__.split("\n\n")[0])
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
        write_json(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

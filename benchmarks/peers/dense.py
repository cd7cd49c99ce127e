"""The dense section's measurements of gdfast and its numpy reference: the floors, gdfast's
epochs, its float32 epochs and the read floors side by side (run_side_by_side), the numpy
reference's epochs, the 1 -> n thread scaling against numpy's, and the ratios to the floor
that the targets check."""
import numpy as np

import gdfast
from benchmarks.common import _kernels, read_probe

from . import optional
from .jobs import (
    ADAM_256,
    ADAM_256_F32,
    FLOOR32,
    FLOOR64,
    FULL_BATCH,
    FULL_BATCH_F32,
    JOBS,
    PER_SAMPLE,
    READ32,
    READ64,
    READ64_ORDERED,
    READS,
    SGD_32,
    epoch_jobs,
    epoch_kwargs,
)
from .measure import gdfast_epoch, max_others, measure_rounds, time_epochs, wall
from .report import Row, row

REFERENCE_MAX_S = 60.0       # estimate (don't run) a reference epoch expected to take longer
ESTIMATE_ROWS = 20_000       # rows of the subset the estimate is timed on


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


# The read floors: gdfast's read probe (benchmarks.common.read_probe) reads X's rows along an
# order
# with the epochs' row stream (one contiguous range of positions per thread, the same software
# prefetch) and computes nothing but column sums.  Shuffled, its time is what reading X in an
# epoch's random row order costs on this machine, a lower bound for a shuffled epoch (which
# also reads y and meets once a batch) that numpy's X @ w (rows in order) is not.  Not a
# target: it says what limits the shuffled ones.
def read_floors(X, X32, threads):
    """measure_rounds runs of the read floors, along one permutation drawn as the epochs draw
    theirs (not timed)."""
    perm = _kernels.permutation(len(X), 0)
    in_order = np.empty(0, np.int64)
    return {READ64: ("gdfast", lambda: wall(read_probe, X, perm, threads)),
            READ32: ("gdfast", lambda: wall(read_probe, X32, perm, threads)),
            READ64_ORDERED: ("gdfast", lambda: wall(read_probe, X, in_order, threads))}


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
                        "read 1": ("read 1", lambda: wall(read_probe, X, in_order, 1)),
                        "read n": ("read n", lambda: wall(read_probe, X, in_order,
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

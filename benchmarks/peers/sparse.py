"""The sparse section's measurements: one epoch of scikit-learn's SGDClassifier and of gdfast's
sparse modes on the CSR problem, scored on held-out rows, the lazy Adam / SGD pairs, and the
ratios and accuracy checks derived from them."""
import statistics
import time

import gdfast
from benchmarks.common import (
    fit_sklearn_quietly,
    heldout_scores,
    sklearn_sgd_sparse,
    sparse_fit_kwargs,
)

from . import optional
from .jobs import (
    SKLEARN_SGD,
    SPARSE_ACCURACY_TOL,
    SPARSE_ADAM1,
    SPARSE_ADAM_HOG2,
    SPARSE_HOG2,
    SPARSE_JOBS,
    SPARSE_SGD1,
)
from .measure import measure
from .report import Row


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

"""The time-to-optimum command's report (benchmarks/optimum.py): the targets of gdfast's
defaults, the host's header, one markdown table per problem and alpha, the load_digits
check, and the JSON of the raw figures."""
import json
from pathlib import Path

from .optimum import OPTIMUM_RTOL
from .report import OTHERS_WARN, busy

# The targets of gdfast's defaults (issue 21), checked per problem and alpha.
DEFAULTS_GAP = 1e-4          # where the defaults stop, relative to the optimum
SPEED_MIN_N = 100_000        # the speed target against scikit-learn holds from this many rows
SKLEARN_RATIO = 0.5          # defaults' time to OPTIMUM_RTOL / scikit-learn's best
GRID_RATIO = 1.5             # defaults' time / the best hand-set grid entry's
DIGITS_POINTS = 0.5          # accuracy within this many points of LogisticRegression(C=1)
TOP_GRID_ROWS = 5            # grid rows printed (the fastest that reached the target)


def fastest(rows, **match):
    """The fastest row that reached the target among those matching every key, or None."""
    found = [r for r in rows if r["seconds"] is not None
             and all(r.get(k) == v for k, v in match.items())]
    return min(found, key=lambda r: r["seconds"]) if found else None


def ratio(a, b):
    return None if a is None or b is None else a / b


def num(x, spec=".3g"):
    return "-" if x is None else format(x, spec)


def defaults_targets(case):
    """[(target, figure, True / False / None for not applicable)] for gdfast's defaults."""
    rows = case["rows"]
    d = next(r for r in rows if r["kind"] == "defaults")
    t, error = d["seconds"], d.get("error") or ""
    out = [(f"stops within {DEFAULTS_GAP:g} of the optimum", f"gap {num(d['gap'])}",
            d["gap"] is not None and d["gap"] <= DEFAULTS_GAP),
           ("no DivergenceError", error.split(":")[0] or "none",
            not error.startswith("DivergenceError"))]
    sk = fastest(rows, library="scikit-learn")
    name = f"time to {OPTIMUM_RTOL:g} <= {SKLEARN_RATIO:g} x scikit-learn's fastest"
    if case["n"] < SPEED_MIN_N:
        out.append((name, f"n/a (n < {SPEED_MIN_N})", None))
    else:
        out.append((name, against(t, sk, "scikit-learn"),
                    t is not None and (sk is None or t <= SKLEARN_RATIO * sk["seconds"])))
    for r in rows:
        if r["library"] in ("sklearnex", "snapml"):
            out.append((f"faster than {r['name']}", against(t, r, r["name"]),
                        t is not None and (r["seconds"] is None or t < r["seconds"])))
    g = fastest(rows, kind="grid")
    out.append((f"time <= {GRID_RATIO:g} x the best grid entry", against(t, g, "the grid"),
                t is not None and (g is None or t <= GRID_RATIO * g["seconds"])))
    return out


def against(t, other, label):
    """The figure of a speed target: the defaults' time over the other row's (None: no row
    of `label` reached the target)."""
    if t is None:
        return "the defaults did not reach it"
    if other is None or other["seconds"] is None:
        return f"{t:.3g} s; {label}: not reached"
    return f"x{t / other['seconds']:.3g} ({t:.3g} s vs {other['seconds']:.3g} s)"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def print_header(meta):
    print(f"# gdfast time to the optimum ({meta['date']})\n")
    for key in ("command", "host", "cores", "threads", "floor", "commit", "versions", "blas",
                "cache"):
        print(f"- {key}: {meta[key]}")
    print(f"- time to {OPTIMUM_RTOL:g}: the first epoch (gdfast) or the fastest fit (libraries,"
          " at tolerances 1e-2 .. 1e-8) whose objective F is within "
          f"{OPTIMUM_RTOL:g} x |F*| of F*; gdfast's times leave out the callback that computes "
          "F after each epoch; each system is capped at "
          f"{meta['cap']:g} s; grid entries are stopped once slower than the best so far "
          f"or {meta['grid_slack']:g} x the fastest system's time (pruned)")


def print_case(case):
    o = case["optimum"]
    print(f"\n## ({case['problem']}) {case['title']}: n={case['n']}, d={case['d']}, "
          f"alpha={case['alpha']:g}\n")
    print(f"F* = {o['value']:.12g} by {o['solver']} ({o['seconds']:.3g} s"
          f"{', cached' if o['cached'] else ''}); floor (numpy X @ w) {case['floor_s']:.3g} s; "
          f"other processes kept {busy(case['others'])} cores busy meanwhile")
    if case["others"] is not None and case["others"] > OTHERS_WARN:
        print("WARNING: another process shared the cores: these timings are not to be trusted")
    for note in case["notes"]:
        print(f"note: {note}")
    sk = fastest(case["rows"], library="scikit-learn")
    g = fastest(case["rows"], kind="grid")
    print(f"\n| system | time to {OPTIMUM_RTOL:g} (s) | final rel. gap | x scikit-learn "
          "| x best grid | note |\n|---|---:|---:|---:|---:|---|")
    grid = sorted((r for r in case["rows"] if r["kind"] == "grid" and r["seconds"] is not None),
                  key=lambda r: r["seconds"])[:TOP_GRID_ROWS]
    for r in [r for r in case["rows"] if r["kind"] != "grid"] + grid:
        t = r["seconds"]
        print(f"| {r['name']} | {num(t) if t is not None else 'not reached'} | "
              f"{num(r['gap'], '.2e')} | {num(ratio(t, sk and sk['seconds']), '.2f')} | "
              f"{num(ratio(t, g and g['seconds']), '.2f')} | {r['note']} |")
    counts = {}
    for r in case["rows"]:
        if r["kind"] == "grid":
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    print(f"\ngrid: {sum(counts.values())} entries, "
          + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + "\n")
    for name, figure, ok in case["targets"]:
        print(f"- {verdict(ok)} {name}: {figure}")


def print_digits(rows):
    print("\n## load_digits (standardized), alpha = 1/n against LogisticRegression(C=1)\n\n"
          "scikit-learn: LogisticRegression(C=1) for the multinomial model, "
          "OneVsRestClassifier(LogisticRegression(C=1)) for one-vs-rest, the same objectives\n\n"
          "| model | train accuracy | scikit-learn | test accuracy | scikit-learn "
          "| result |\n|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {num(r['train'], '.4f')} | {r['lr_train']:.4f} | "
              f"{num(r['test'], '.4f')} | {r['lr_test']:.4f} | {verdict(r['ok'])}"
              f"{' ' + r['error'] if r.get('error') else ''} |")


def print_summary(cases, digits):
    print("\n## summary of the defaults' targets\n")
    for case in cases:
        marks = [verdict(ok) for _, _, ok in case["targets"]]
        print(f"- ({case['problem']}) alpha={case['alpha']:g}: {marks.count('PASS')} PASS, "
              f"{marks.count('FAIL')} FAIL, {marks.count('n/a')} n/a")
    if digits:
        print(f"- load_digits: {sum(r['ok'] is True for r in digits)} of {len(digits)} PASS")


def write_json(meta, cases, digits, path):
    Path(path).write_text(json.dumps({"meta": meta, "cases": cases, "digits": digits},
                                     indent=1, default=float))
    print(f"\nresults written to {path}")

"""Two builds side by side: a peers run of each, alternated, in one command.

A refactoring claims "no change in speed"; a benchmark run before it and one after it,
minutes apart, measure the host's drift as much as the change.  This script alternates the
two (A B A B ...) and prints, for every figure the peers benchmark writes to its JSON, the
median over the rounds of each side and their ratio B / A::

    python benchmarks/ab_builds.py --rounds 3 \\
      --a "cd /tmp/old && PYTHONPATH=/tmp/site-old python benchmarks/peers.py --quick" \\
      --b "PYTHONPATH=/tmp/site-new python benchmarks/peers.py --quick"

Each command is run by the shell with ``--json FILE --out FILE.png`` appended.  The figures
compared: the seconds of every gdfast row (an epoch, or a whole call where there is no
epoch) and every derived ratio of the report ("measured": epoch / floor and the like, which
carry their own floor and so are the fairer comparison).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def figures(report):
    out = {f"ratio {k}": v for k, v in report.get("measured", {}).items()
           if isinstance(v, (int, float))}
    for row in report.get("rows", []):
        if row.get("library") == "gdfast" and row.get("seconds") is not None:
            out[f"seconds {row['name']}"] = row["seconds"]
    return out


def run(cmd, tmp, tag):
    path = Path(tmp) / f"{tag}.json"
    subprocess.run(f"{cmd} --json {path} --out {path.with_suffix('.png')}", shell=True,
                   check=True, stdout=subprocess.DEVNULL)
    return figures(json.loads(path.read_text()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="the baseline's peers command")
    ap.add_argument("--b", required=True, help="the candidate's peers command")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    got = {"a": [], "b": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for side in ("a", "b"):
                print(f"round {r + 1}/{args.rounds}: {side}", file=sys.stderr, flush=True)
                got[side].append(run(getattr(args, side), tmp, f"{side}{r}"))
    keys = [k for k in got["a"][0] if all(k in f for f in got["a"] + got["b"])]
    print(f"{'figure':<58}{'A median':>12}{'B median':>12}{'B / A':>8}")
    for k in keys:
        a = statistics.median(f[k] for f in got["a"])
        b = statistics.median(f[k] for f in got["b"])
        print(f"{k:<58}{a:>12.4g}{b:>12.4g}{b / a if a else float('nan'):>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

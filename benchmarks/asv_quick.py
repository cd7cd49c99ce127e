"""Every asv benchmark once, on small problems, against the gdfast that this Python imports: a
smoke test of the asv suite for CI, which asserts no timing.

    python benchmarks/asv_quick.py [more `asv run` options, e.g. --bench FitEpoch]

It runs `asv run --python=same --quick --dry-run --show-stderr` with

* GDFAST_BENCH_SMALL=1, which shrinks the suites' problems (benchmarks/common.py);
* ASV_PYTHONPATH=$PYTHONPATH: asv drops PYTHONPATH from the environment of the processes
  that import and run the benchmarks and sets ASV_PYTHONPATH's value there instead, so a
  gdfast found through PYTHONPATH (e.g. `pip install --target DIR`) is the one benchmarked;
* a copy of asv.conf.json whose results and HTML folders lie in a temporary folder: even
  with --dry-run asv writes benchmarks.json and machine.json into its results folder, and
  this run leaves nothing in the tree;
* the machine "gdfast-quick" (`asv machine --yes`, in ~/.asv-machine.json), so that asv asks
  nothing and a machine already described there for real runs is left as it is.

Exit status: non-zero when a benchmark fails (asv 0.6 exits 2 then), when the suite does not
import, and when asv's output reports a failed benchmark whatever asv's own status (asv
versions differ in that).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MACHINE = "gdfast-quick"
# asv's status line of a benchmark: "[ 42.86%] ··· bench_x.Suite.time_y   ok", "... failed"
# or, parameterized, "... 2/3 failed".
FAILED = re.compile(r"^\[[ \d.]+%\] ·+ \S+\s+(\d+/\d+ )?failed$")


def quick_config(tmp):
    """asv.conf.json with absolute folders and the results and HTML in tmp."""
    text = (HERE / "asv.conf.json").read_text()
    conf = json.loads("\n".join(line for line in text.splitlines()
                                if not line.lstrip().startswith("//")))
    for key in ("repo", "benchmark_dir", "env_dir"):
        conf[key] = str((HERE / conf[key]).resolve())
    conf["results_dir"], conf["html_dir"] = str(tmp / "results"), str(tmp / "html")
    path = tmp / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=1))
    return path


def main(argv):
    env = dict(os.environ, GDFAST_BENCH_SMALL="1",
               ASV_PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    asv = [sys.executable, "-m", "asv"]
    with tempfile.TemporaryDirectory(prefix="gdfast-asv-") as tmp:
        config = quick_config(Path(tmp))
        subprocess.run(asv + ["machine", "--yes", "--machine", MACHINE, "--config", str(config)],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        run = subprocess.Popen(
            asv + ["run", "--config", str(config), "--machine", MACHINE, "--python=same",
                   "--quick", "--dry-run", "--show-stderr", *argv],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        failed = []
        for line in run.stdout:
            sys.stdout.write(line)
            if FAILED.match(line.rstrip()):
                failed.append(line.strip())
        status = run.wait()
    if failed:
        print(f"\nasv_quick: {len(failed)} failed benchmark line(s) in asv's output (asv exit "
              f"status {status}):\n  " + "\n  ".join(failed), file=sys.stderr)
    return status or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

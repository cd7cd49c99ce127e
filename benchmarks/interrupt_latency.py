"""Ctrl-C latency of a long native fit: the time from SIGINT to the KeyboardInterrupt handler.

A child Python process fits a multinomial model (default n=150_000, d=400, 200 classes,
float64, n_threads=1: an epoch takes seconds) with batch_size None (full batch) and 256.
It wraps the native engine's epoch kernels (_kernels.epoch_dense and epoch_dense_shuffled,
which gdfast's NativeEngine calls through the module's attributes) so that it announces the
first kernel call of each fit.  The parent waits for that line, waits --pause seconds more
so that the signal lands inside the kernel, reads time.perf_counter() and sends SIGINT; the
child reads time.perf_counter() in its `except KeyboardInterrupt` and reports it.  On Linux
perf_counter is CLOCK_MONOTONIC, one clock for all processes, so the difference of the two
readings is the latency as a user at the keyboard sees it.

    python benchmarks/interrupt_latency.py [--repeats 5] [--pause 0.5] [--json out.json]

It prints the median and the largest latency over --repeats interrupts per batch size
against TARGET_S, and says whether the target was met; it asserts nothing on time.
"""
import argparse
import json
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_S = 0.5
WAIT_S = 300.0               # give up on a child that says nothing for this long
BATCH_SIZES = (None, 256)

# The child: builds the data once, then fits case after case until each is interrupted,
# printing "running" at the first kernel call of a fit and "interrupted <perf_counter> <the
# function that raised>" in its KeyboardInterrupt handler.  gdfast's private _kernels comes
# through benchmarks.common, where every benchmark imports gdfast's private modules.
CHILD = """
import json, sys, time, traceback
sys.path.insert(0, {here!r})
import numpy as np
import gdfast
from benchmarks.common import _kernels

spec = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.standard_normal((spec["n"], spec["d"]))
y = rng.integers(0, spec["classes"], spec["n"])
announced = [False]

def announcing(kernel):
    def call(*args, **kwargs):
        if not announced[0]:
            announced[0] = True
            print("running", flush=True)
        return kernel(*args, **kwargs)
    return call

for name in ("epoch_dense", "epoch_dense_shuffled"):
    setattr(_kernels, name, announcing(getattr(_kernels, name)))

for batch_size in spec["cases"]:
    announced[0] = False
    try:
        gdfast.fit(X, y, loss="multinomial", optimizer="sgd", learning_rate=1e-3,
                   batch_size=batch_size, max_epochs=1_000_000, tol=None, n_threads=1,
                   random_state=0)
    except KeyboardInterrupt as exc:
        t = time.perf_counter()
        print("interrupted", t, traceback.extract_tb(exc.__traceback__)[-1].name, flush=True)
    else:
        print("finished", flush=True)
"""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Child:
    """The child process and a thread that queues its stdout lines, so that every wait has
    a timeout."""

    def __init__(self, spec):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD.format(here=str(HERE)), json.dumps(spec)],
            stdout=subprocess.PIPE, text=True, cwd=HERE)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.split())
        self.lines.put(None)                 # end of output

    def expect(self, word):
        try:
            words = self.lines.get(timeout=WAIT_S)
        except queue.Empty:
            raise RuntimeError(f"the child said nothing for {WAIT_S:g} s") from None
        if words is None or words[0] != word:
            raise RuntimeError(f"the child said {words!r}, expected {word!r} "
                               f"(exit status {self.proc.poll()})")
        return words

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def measure(spec, repeats, pause):
    """{batch_size: [(latency seconds, the function that raised KeyboardInterrupt)]}:
    `repeats` interrupts per batch size, one child."""
    cases = [b for b in spec["batch_sizes"] for _ in range(repeats)]
    child = Child(dict(spec, cases=cases))
    latencies = {b: [] for b in spec["batch_sizes"]}
    try:
        for batch_size in cases:
            child.expect("running")
            time.sleep(pause)
            t0 = time.perf_counter()
            os.kill(child.proc.pid, signal.SIGINT)
            _, t1, where = child.expect("interrupted")
            latencies[batch_size].append((float(t1) - t0, where))
    finally:
        child.close()
    return latencies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="interrupts per batch size (default 5)")
    parser.add_argument("--pause", type=float, default=0.5,
                        help="seconds between the kernel's start and SIGINT (default 0.5)")
    parser.add_argument("--n", type=int, default=150_000, help="rows (default 150_000)")
    parser.add_argument("--d", type=int, default=400, help="features (default 400)")
    parser.add_argument("--classes", type=int, default=200, help="classes (default 200)")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    spec = dict(n=args.n, d=args.d, classes=args.classes, batch_sizes=list(BATCH_SIZES))
    print(f"building n={args.n}, d={args.d} in a child process; {args.repeats} interrupts per "
          "batch size ...", flush=True)
    latencies = measure(spec, args.repeats, args.pause)

    print(f"\nCtrl-C latency, SIGINT to KeyboardInterrupt handler: multinomial, n={args.n}, "
          f"d={args.d}, {args.classes} classes, float64, n_threads=1, SIGINT {args.pause:g} s "
          f"after the epoch kernel started; {cpu_model()}\n")
    header = (f"{'batch_size':<12}{'runs':>5}{'median s':>10}{'max s':>10}{'target s':>10}"
              "  met  raised in")
    print(header)
    print("-" * len(header))
    results = {}
    for batch_size, runs in latencies.items():
        values, where = [t for t, _ in runs], sorted({w for _, w in runs})
        med, worst = statistics.median(values), max(values)
        met = worst <= TARGET_S
        results[str(batch_size)] = dict(latencies_s=values, median_s=med, max_s=worst,
                                        target_met=met, raised_in=where)
        print(f"{str(batch_size):<12}{len(values):>5}{med:>10.4f}{worst:>10.4f}"
              f"{TARGET_S:>10g}  {'yes' if met else 'NO ':<5}{', '.join(where)}")
    print("met: the largest latency within the target; raised in: the innermost function of "
          "the\nKeyboardInterrupt's traceback (the epoch kernel when the signal reached it)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            dict(spec, repeats=args.repeats, pause_s=args.pause, target_s=TARGET_S,
                 cpu=cpu_model(), python=platform.python_version(), cases=results), indent=1))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

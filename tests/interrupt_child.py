"""A child process for the Ctrl-C test and benchmark: a long fit that the parent interrupts.

    python tests/interrupt_child.py BATCH_SIZE|lbfgs [N_ROWS N_FEATURES N_CLASSES]

It prints ``kernel running`` once a native epoch kernel (with ``lbfgs``: a full-gradient
kernel of optimizer="lbfgs") is running, then waits for the
parent's SIGINT.  On KeyboardInterrupt it prints when it caught it (time.perf_counter, the
monotonic clock the parent shares on Linux), how each epoch kernel call ended, the number of
completed epochs and of live threads, and whether a new fit works.

Why ``kernel running`` proves what it says: the switch interval is set far beyond the test's
length, so the main thread gives the GIL up only where it blocks or releases it, and nothing
between the gate below and the kernel's ``nogil`` loop does either.  The announcing thread
needs the GIL to print, so it prints only once the main thread is inside the kernel.
"""
import signal
import sys
import threading
import time

import numpy as np

import gdfast
from gdfast import _kernels

sys.setswitchinterval(100.0)
# Python's own Ctrl-C handler, whatever this process inherited: a process started in the
# background by a shell without job control inherits SIGINT ignored, Python then installs no
# handler, and the kernel leaves an ignored SIGINT ignored (csrc/gd_runtime.c).
signal.signal(signal.SIGINT, signal.default_int_handler)
in_kernel = threading.Event()
calls = []                     # how each gated kernel call ended


def gate(real):
    def call(*args):
        in_kernel.set()
        try:
            out = real(*args)
        except KeyboardInterrupt:
            calls.append("interrupted")
            raise
        calls.append("returned")
        return out
    return call


def announce():
    in_kernel.wait()
    print(f"kernel running {time.perf_counter():.6f}", flush=True)


def main(argv):
    if argv[0] == "lbfgs":
        kernels, options = ("grad_dense",), dict(optimizer="lbfgs")
    else:
        kernels = ("epoch_dense", "epoch_dense_shuffled")
        options = dict(optimizer="sgd", learning_rate=0.01,
                       batch_size=None if argv[0] == "None" else int(argv[0]))
    n, d, k = (int(a) for a in argv[1:4]) if len(argv) >= 4 else (60_000, 200, 100)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    for name in kernels:
        setattr(_kernels, name, gate(getattr(_kernels, name)))
    announcer = threading.Thread(target=announce, daemon=True)   # no hang if no kernel runs
    announcer.start()
    epochs = []
    try:
        gdfast.fit(X, y, loss="multinomial", max_epochs=10_000, tol=None, n_threads=1,
                   callback=lambda rec: epochs.append(rec["epoch"]), **options)
        print("finished", flush=True)
    except KeyboardInterrupt:
        caught = time.perf_counter()
        announcer.join()
        print(f"interrupted {caught:.6f}", flush=True)
        print(f"calls {' '.join(calls)}", flush=True)
        print(f"epochs {len(epochs)}", flush=True)
        print(f"threads {threading.active_count()}", flush=True)
        gdfast.fit(X[:200], y[:200] % 2, loss="logistic", max_epochs=2)
        print("fit after interrupt ok", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

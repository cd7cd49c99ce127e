"""Two CSR kernels side by side with what they replaced, in one run, as ratios:

- the full gradient over wide coefficients (each lbfgs evaluation) read in two passes with a
  row buffer, against the fused row-by-row loop (no buffer): the same bits, checked here;
- the lazy Polyak-Ruppert mean of averaged per-sample SGD on sparse X, against the same epoch
  without averaging (before the lazy mean, averaging took the block path's dense step: O(d)
  a step, hours for an epoch of the full problem);
- the column moments of the L-BFGS preconditioner (gd_csr_moments), against the floor: run
  with two builds on the path in turn to compare them.

    python benchmarks/sparse_kernels.py                 # 1 000 000 x 2^20, 40 a row
    python benchmarks/sparse_kernels.py --n 100000 --d 262144 --repeats 3

Each figure is the best of --repeats calls, the two sides alternated.  The problem is the
issue's synthetic CSR logistic one (benchmarks/common.py, make_sparse_data).
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gdfast  # noqa: E402
from benchmarks.common import csr_gradient_calls, make_sparse_data  # noqa: E402
from gdfast import _kernels  # noqa: E402


def best_alternated(calls, repeats):
    best = [np.inf] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            t0 = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def gradient_passes(X, y, repeats, n_threads):
    two_pass, fused = csr_gradient_calls(X, y, n_threads)
    out = {}
    t_fused, t_two = best_alternated([lambda: out.update(fused=fused()),
                                      lambda: out.update(two=two_pass())], repeats)
    same = (np.array_equal(out["fused"][0], out["two"][0])
            and out["fused"][1] == out["two"][1])
    return t_fused, t_two, same


def moments_pass(X, repeats, n_threads):
    none = np.empty(0, dtype=X.dtype)
    return best_alternated([lambda: _kernels.csr_moments(X.data, X.indices, X.indptr,
                                                         X.shape[1], none, n_threads)],
                           repeats)[0]


def averaged_epochs(X, y, repeats, n_threads):
    kw = dict(loss="logistic", optimizer="sgd", learning_rate=0.05, batch_size=1, alpha=1e-5,
              max_epochs=1, tol=None, random_state=0, n_threads=n_threads)
    return best_alternated([lambda: gdfast.fit(X, y, average=False, **kw),
                            lambda: gdfast.fit(X, y, average=True, **kw)], repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=2 ** 20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    X, y, *_ = make_sparse_data(args.n, args.d, random_state=0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout
    w = np.ones(args.d)
    floor = best_alternated([lambda: X @ w], args.repeats)[0]
    print(f"# CSR kernels: n={args.n}, d={args.d}, {X.nnz // args.n} a row; commit "
          f"{commit.strip()}; floor (scipy X @ w, 1 thread) {floor:.3f} s")
    for nt in sorted({1, args.n_threads}):
        fused, two, same = gradient_passes(X, y, args.repeats, nt)
        print(f"full gradient, {nt} thread(s): fused {fused:.3f} s, two passes {two:.3f} s, "
              f"ratio {two / fused:.2f}; same bits: {'yes' if same else 'NO'}")
    for nt in sorted({1, args.n_threads}):
        t = moments_pass(X, args.repeats, nt)
        print(f"column moments, {nt} thread(s): {t:.3f} s, {t / floor:.2f} x the floor")
    plain, avg = averaged_epochs(X, y, args.repeats, 1)
    print(f"per-sample sgd epoch: plain {plain:.3f} s, averaged (lazy mean) {avg:.3f} s, "
          f"ratio {avg / plain:.2f}")


if __name__ == "__main__":
    main()

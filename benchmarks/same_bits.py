"""Same bits before and after a change: a fixed list of fits, hashed.

Every loss x optimizer x batch kind (per-sample, mini-batch, full batch) x dtype, dense and
CSR, on 1 and 2 threads, through the public ``gdfast.fit``.  A refactoring that claims to
change nothing a user relies on records the hashes on the old build and compares them on
the new one::

    python benchmarks/same_bits.py record before.json     # on the old build
    python benchmarks/same_bits.py compare before.json    # on the new build: exit 1 on any change

The hash covers coef, intercept and the loss history (their bytes), so a difference in the
last bit of any of them shows.  A fit that diverges records where it did.
"""
import argparse
import hashlib
import itertools
import json
import sys

import numpy as np

import gdfast

LOSSES = ("squared", "huber", "epsilon_insensitive", "poisson", "logistic", "hinge",
          "squared_hinge", "modified_huber", "multinomial")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
LR = {"sgd": 0.02, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.05, "rmsprop": 0.005,
      "adam": 0.005, "adamw": 0.005}
BATCHES = (1, 256, None)     # per-sample, mini-batch, full batch
DTYPES = (np.float32, np.float64)
LAYOUTS = ("dense", "csr")
THREADS = (1, 2)
N, D = 3000, 24


def problem(loss, dtype, layout):
    rng = np.random.default_rng(42)
    X = rng.standard_normal((N, D)) * np.linspace(0.5, 1.5, D)
    if layout == "csr":
        X[rng.random((N, D)) < 0.7] = 0.0
    w = rng.standard_normal(D) / np.sqrt(D)
    z = X @ w + 0.2
    if loss == "multinomial":
        y = np.argmax(X @ rng.standard_normal((3, D)).T + rng.gumbel(size=(N, 3)), axis=1)
    elif loss in ("logistic", "hinge", "squared_hinge", "modified_huber"):
        y = (z + 0.5 * rng.standard_normal(N) > 0).astype(np.int64)
    elif loss == "poisson":
        y = rng.poisson(np.exp(0.5 * z)).astype(np.float64)
    else:
        y = z + 0.3 * rng.standard_normal(N)
    sw = rng.uniform(0.5, 2.0, N)
    X = X.astype(dtype)
    if layout == "csr":
        import scipy.sparse as sp
        X = sp.csr_matrix(X)
    return X, y, sw


def cases():
    return itertools.product(LOSSES, OPTIMIZERS, BATCHES, DTYPES, LAYOUTS, THREADS)


def run_all():
    out, cache = {}, {}
    for loss, opt, bs, dtype, layout, nt in cases():
        key = f"{loss}/{opt}/{bs}/{np.dtype(dtype).name}/{layout}/{nt}"
        if (loss, dtype, layout) not in cache:
            cache[(loss, dtype, layout)] = problem(loss, dtype, layout)
        X, y, sw = cache[(loss, dtype, layout)]
        kw = dict(loss=loss, optimizer=opt, learning_rate=LR[opt], batch_size=bs, max_epochs=2,
                  tol=None, alpha=1e-3, l1_ratio=0.15, random_state=0, n_threads=nt,
                  sample_weight=sw if layout == "csr" else None)
        if layout == "csr" and opt in ("adagrad", "rmsprop", "adam", "adamw") and bs == 256:
            kw["sparse_updates"] = "lazy"
        try:
            res = gdfast.fit(X, y, **kw)
        except gdfast.DivergenceError as e:
            out[key] = f"diverged at epoch {e.epoch}, step {e.step}"
            continue
        h = hashlib.sha256()
        for a in (res.coef, np.asarray(res.intercept), np.asarray(res.loss_history)):
            h.update(np.ascontiguousarray(a).tobytes())
        out[key] = h.hexdigest()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["record", "compare"])
    ap.add_argument("file")
    args = ap.parse_args(argv)
    got = run_all()
    if args.action == "record":
        with open(args.file, "w") as f:
            json.dump(got, f, indent=0, sort_keys=True)
        print(f"recorded {len(got)} fits in {args.file}")
        return 0
    with open(args.file) as f:
        want = json.load(f)
    changed = [k for k in want if got.get(k) != want[k]]
    missing = sorted(set(got) ^ set(want))
    for k in changed[:20]:
        print(f"changed: {k}: {want[k][:16]} -> {str(got.get(k))[:16]}")
    print(f"{len(want) - len(changed)} of {len(want)} fits the same bits; "
          f"{len(changed)} changed; {len(missing)} not in both")
    return 1 if changed or missing else 0


if __name__ == "__main__":
    sys.exit(main())

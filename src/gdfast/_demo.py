"""``gdfast demo`` (and ``python -m gdfast demo``): trains the defaults (optimizer="auto") and
every first-order optimizer on a built-in synthetic problem and prints the loss per epoch and
the time of the native and the numpy reference fits; ``--dask`` trains on a local Dask cluster
instead, against the same fits in this process; ``--plot`` draws the loss curves."""
import sys
import time

import numpy as np

import gdfast
from gdfast.datasets import make_classification

DEMO_LEARNING_RATES = {"sgd": 0.05, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.05,
                       "rmsprop": 0.001, "adam": 0.002, "adamw": 0.002}


def demo(args):
    X, y = make_classification(args.n_samples, args.n_features,
                               dtype=np.float32 if args.float32 else np.float64)
    n_train = int(0.8 * len(y))
    Xtr, ytr, Xte, yte = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    n_threads = gdfast.effective_n_threads(args.n_threads)
    print(f"gdfast {gdfast.__version__} demo: logistic regression, {n_train} train / "
          f"{len(yte)} test rows, {args.n_features} features, {X.dtype}, batch_size "
          f"{args.batch_size}, {args.epochs} epochs, {n_threads} thread(s), OpenMP "
          f"{'on' if gdfast.openmp_enabled() else 'off'}")
    shown = sorted({1, 2, max(1, args.epochs // 2), args.epochs})
    header = (f"{'optimizer':<10}{'lr':>8} " + "".join(f"{'loss@' + str(e):>11}" for e in shown)
              + f"{'test acc':>10}{'native s':>10}" + ("" if args.no_reference else
                                                      f"{'numpy s':>10}{'speed-up':>10}"))
    print(header)
    print("-" * len(header))
    common = dict(loss="logistic", max_epochs=args.epochs, alpha=1e-4, random_state=0,
                  n_threads=args.n_threads)
    # the defaults first (full-batch L-BFGS here; it may converge before the last epoch shown)
    runs = [("auto", "auto", {})] + [
        (opt, f"{lr:g}", dict(optimizer=opt, learning_rate=lr, batch_size=args.batch_size,
                              tol=None)) for opt, lr in DEMO_LEARNING_RATES.items()]
    fitted = {}
    for name, lr, options in runs:
        kw = dict(common, **options)
        t0 = time.perf_counter()
        res = gdfast.fit(Xtr, ytr, **kw)
        t_native = time.perf_counter() - t0
        fitted[f"{name} (lr {lr})" if lr != "auto" else "defaults (auto)"] = res
        acc = float(np.mean(res.predict(Xte) == yte))
        h = res.loss_history
        row = (f"{name:<10}{lr:>8} " + "".join(f"{h[min(e, len(h)) - 1]:>11.5f}" for e in shown)
               + f"{acc:>10.4f}{t_native:>10.3f}")
        if not args.no_reference:
            t0 = time.perf_counter()
            gdfast.reference.fit(Xtr, ytr, **kw)
            t_ref = time.perf_counter() - t0
            row += f"{t_ref:>10.3f}{t_ref / t_native:>9.1f}x"
        print(row, flush=True)
    if args.plot:
        from gdfast.plot import plot_loss, save_figure
        ax = plot_loss(fitted, gap=True, title=f"gdfast demo: logistic regression, {n_train} "
                                               f"rows, batch size {args.batch_size}")
        save_figure(ax.figure, args.plot, dpi=110)
        print(f"the loss curves: {args.plot}")
    return 0


def demo_dask(args):
    """The demo's problem in 8 chunks on a LocalCluster of --workers processes x 1 thread:
    gdfast.dask's defaults (full batch) and two mixed mini-batch optimizers, each against
    gdfast.fit in this process on the cluster's thread count."""
    try:
        import dask.array as da
        from distributed import Client, LocalCluster

        import gdfast.dask as gdd
    except ImportError:
        print('python -m gdfast demo --dask: needs pip install "gdfast[dask]"', file=sys.stderr)
        return 2
    X, y = make_classification(args.n_samples, args.n_features,
                               dtype=np.float32 if args.float32 else np.float64)
    n_train = int(0.8 * len(y))
    Xtr, ytr, Xte, yte = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    rows = -(-n_train // 8)
    print(f"gdfast {gdfast.__version__} demo on Dask: logistic regression, {n_train} train rows "
          f"in 8 chunks, {len(yte)} test rows, {args.n_features} features, {X.dtype}; "
          f"LocalCluster of {args.workers} worker processes x 1 thread", flush=True)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        Xd = client.persist(da.from_array(Xtr, chunks=(rows, Xtr.shape[1])))
        yd = client.persist(da.from_array(ytr, chunks=rows))
        header = (f"{'optimizer':<10}{'epochs':>7}{'final loss':>12}{'test acc':>10}"
                  f"{'dask s':>9}{'1 process s':>13}{'same loss':>11}")
        print(header)
        print("-" * len(header))
        runs = [("auto", {}), ("adam", dict(optimizer="adam", learning_rate=0.002,
                                            batch_size=args.batch_size, tol=None)),
                ("sgd", dict(optimizer="sgd", learning_rate=0.05,
                             batch_size=args.batch_size, tol=None))]
        fitted = {}
        for name, options in runs:
            kw = dict(loss="logistic", max_epochs=args.epochs, alpha=1e-4, random_state=0,
                      **options)
            t0 = time.perf_counter()
            res = gdd.fit(Xd, yd, **kw)
            t_dask = time.perf_counter() - t0
            t0 = time.perf_counter()
            one = gdfast.fit(Xtr, ytr, n_threads=args.workers, **kw)
            t_one = time.perf_counter() - t0
            acc = float(np.mean(res.predict(Xte) == yte))
            close = abs(res.loss_history[-1] - one.loss_history[-1]) <= 1e-3
            print(f"{name:<10}{res.n_epochs:>7}{res.loss_history[-1]:>12.6f}{acc:>10.4f}"
                  f"{t_dask:>9.3f}{t_one:>13.3f}{'yes' if close else 'no':>11}", flush=True)
            fitted[f"{name} on Dask"] = res
    if args.plot:
        from gdfast.plot import plot_loss, save_figure
        ax = plot_loss(fitted, gap=True,
                       title=f"gdfast demo on Dask: {n_train} rows in 8 chunks")
        save_figure(ax.figure, args.plot, dpi=110)
        print(f"the loss curves: {args.plot}")
    return 0


def add_parser(sub):
    """The demo subcommand of the command line (gdfast.cli)."""
    p = sub.add_parser("demo", help="train every optimizer on a built-in synthetic problem",
                       description=__doc__)
    p.add_argument("--n-samples", type=int, default=50000)
    p.add_argument("--n-features", type=int, default=50)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--n-threads", type=int, default=None)
    p.add_argument("--float32", action="store_true", help="fit in float32")
    p.add_argument("--no-reference", action="store_true", help="skip the numpy reference fits")
    p.add_argument("--dask", action="store_true",
                   help="train on a local Dask cluster (needs gdfast[dask])")
    p.add_argument("--workers", type=int, default=2, help="--dask: worker processes")
    p.add_argument("--plot", metavar="PNG", help="draw the loss curves of the fits to PNG "
                   "(needs gdfast[plot])")
    p.set_defaults(run=run)
    return p


def run(args, error):
    from gdfast.cli import check_plot
    check_plot(args.plot)          # a mistake ends here, in one line, before any fit
    return demo_dask(args) if args.dask else demo(args)

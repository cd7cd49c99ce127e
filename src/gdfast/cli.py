"""The ``gdfast`` command line (also ``python -m gdfast``): train a model on a file, predict
and evaluate with it, and the demo.

    gdfast train DATA --label COL [fit options as --kebab-case] [--validation FRACTION|FILE]
                 [--stream [--chunk-rows N]] [--model OUT] [--plot PNG]
    gdfast predict MODEL DATA [--out FILE] [--proba]
    gdfast evaluate MODEL DATA
    gdfast compare DATA --label COL --optimizers sgd,adam,... [--learning-rates ...] --plot PNG
    gdfast demo [--dask] [--plot PNG]

A user's mistake (a missing file, an unknown format, a malformed line, a label column that does
not exist, an option out of range) ends in one line on stderr naming the problem, exit status
2, and nothing written.  See docs/guide/command-line.md.
"""
from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
import time

import numpy as np

import gdfast
from gdfast import _demo
from gdfast._api import FIT_SIGNATURE

# fit's keywords that a command line does not set (the data, and what takes Python objects)
NOT_OPTIONS = {"X", "y", "callback", "verbose", "sample_weight", "coef_init", "intercept_init"}


class UserError(Exception):
    """A mistake of the user's: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _value(text):
    """A fit option's value from the command line: none, true/false, a number, a pair
    "a,b", or the text itself (gdfast.fit checks it and names the option when it is wrong)."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    if "," in text:
        return tuple(_value(part) for part in text.split(","))
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _fit_options(parser, skip=()):
    group = parser.add_argument_group("fit options (gdfast.fit's keywords; see its help)")
    for name, param in FIT_SIGNATURE.parameters.items():
        if name in NOT_OPTIONS or name in skip:
            continue
        default = None if param.default is inspect.Parameter.empty else param.default
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"fit_{name}", type=_value,
                           default=argparse.SUPPRESS, metavar="VALUE",
                           help=f"default {default!r}")


def _check_output(path, what):
    if path is not None:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UserError(f"{what}: no such folder: {folder}")


def check_plot(path):
    """--plot PNG: its folder exists and matplotlib is there (before any fit)."""
    if path is None:
        return
    _check_output(path, "--plot")
    try:
        from gdfast import plot  # noqa: F401
    except ImportError as exc:
        raise UserError(f"--plot: {exc}") from None


def _format(path, fmt):
    from gdfast import io
    try:
        return io.format_of(path, fmt)
    except io.DataError as exc:
        raise UserError(str(exc)) from None


def _check_label(args):
    """--label is required but for svmlight files, which hold their labels."""
    if args.label is None and _format(args.data, args.format) != "svmlight":
        raise UserError("--label: the label column is required (svmlight files hold their "
                        "labels)")


def _read(path, label=None, fmt=None, categories=None, label_optional=False):
    from gdfast import io
    try:
        return io.read_table(path, label, format=fmt, categories=categories,
                             label_optional=label_optional)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (io.DataError, ImportError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:                       # a folder, a file it may not read
        raise UserError(f"{path}: {exc.strerror or exc}") from None


def _mean_loss(res, X, y, epsilon=0.1):
    """The mean row loss of a fitted result on rows X with labels y (in the user's labels);
    epsilon: the width of huber and epsilon_insensitive, as the fit had it."""
    from gdfast._losses import row_losses
    Z = np.asarray(res.decision_function(X), dtype=np.float64)
    if res.loss == "multinomial":
        target = np.searchsorted(res.classes, y)
    elif res.classes is not None:
        target = np.where(y == res.classes[1], 1.0, -1.0)
    else:
        target = np.asarray(y, dtype=np.float64)
    return float(row_losses(res.loss, Z, target, epsilon).mean())


def _fraction(text):
    """--validation's value as a number, or None for a file name."""
    try:
        return float(text)
    except ValueError:
        return None


def _validation_rows(args, X, y, columns, categories, options):
    """(X, y, X_val, y_val): --validation FRACTION holds out that fraction of the rows (drawn
    from random_state); --validation FILE reads a file with the training file's columns."""
    if args.validation is None:
        return X, y, None, None
    fraction = _fraction(args.validation)
    if fraction is None:
        table = _read(args.validation, args.label, args.format, categories=categories)
        if table.y is None:
            raise UserError(f"--validation: {args.validation} has no label column "
                            f"{args.label!r}")
        if columns is not None and table.columns != columns:
            raise UserError(f"--validation: {args.validation}: its columns are not the "
                            f"training file's")
        if table.X.shape[1] != (len(columns) if columns is not None
                                else categories["svmlight"][0]):
            raise UserError(f"--validation: {args.validation} has {table.X.shape[1]} "
                            f"columns, the training file more or fewer")
        return X, y, table.X, table.y
    if X is None:
        raise UserError("--validation: with --stream, give a file of validation rows (a "
                        "fraction would hold the whole file in memory)")
    if not 0 < fraction < 1:
        raise UserError(f"--validation: expected a fraction in (0, 1) or a file, got "
                        f"{args.validation}")
    seed = options.get("random_state", 0)
    rng = np.random.default_rng(seed if isinstance(seed, int) else 0)
    held = rng.random(len(y)) < fraction
    if held.all() or not held.any():
        raise UserError("--validation: the fraction leaves no training or no validation row")
    return X[~held], y[~held], X[held], y[held]


def train(args, error):
    from gdfast import _api
    from gdfast._native import NativeEngine
    _check_output(args.model, "--model")
    check_plot(args.plot)
    options = {k[4:]: v for k, v in vars(args).items() if k.startswith("fit_")}
    _check_label(args)
    stream = None
    if args.stream:
        from gdfast import io
        if args.validation is not None and _fraction(args.validation) is not None:
            raise UserError("--validation: with --stream, give a file of validation rows (a "
                            "fraction would hold the whole file in memory)")
        bs = options.get("batch_size")
        try:
            stream = io.open_stream(args.data, args.label, format=args.format,
                                    chunk_rows=args.chunk_rows,
                                    batch_size=bs if isinstance(bs, int) and
                                    not isinstance(bs, bool) else None,
                                    cache_dir=args.cache_dir,
                                    n_threads=options.get("n_threads"))
        except FileNotFoundError:
            raise UserError(f"{args.data}: no such file") from None
        except (ValueError, ImportError) as exc:
            raise UserError(str(exc).splitlines()[0]) from None
        except OSError as exc:
            # a folder given as DATA, a full disk under the cache
            raise UserError(f"{exc.filename or args.data}: {exc.strerror or exc}") from None
        X = y = None
        columns, categories = stream.columns, stream.categories
    else:
        if args.chunk_rows is not None or args.cache_dir is not None:
            raise UserError(f"--{'chunk-rows' if args.chunk_rows is not None else 'cache-dir'}:"
                            " only with --stream")
        table = _read(args.data, args.label, args.format)
        X, y, columns, categories = table.X, table.y, table.columns, table.categories
    try:
        X, y, X_val, y_val = _validation_rows(args, X, y, columns, categories, options)
        res = _fit_with_table(args, options, X, y, X_val, y_val, stream, _api, NativeEngine)
    finally:
        if stream is not None:
            stream.close()
    res.metadata = {"columns": columns, "categories": categories,
                    "label": args.label, "epsilon": options.get("epsilon", 0.1)}
    if args.model:
        gdfast.save(res, args.model)
    if args.plot:
        from gdfast.plot import plot_loss, save_figure
        ax = plot_loss({os.path.basename(args.data): res},
                       title=f"gdfast train {os.path.basename(args.data)}")
        save_figure(ax.figure, args.plot, dpi=110)
    if not args.quiet:
        warm = getattr(res, "warm_start", None)
        print(f"{res.optimizer}"
              + (f" from {warm['epochs']} epoch of averaged {warm['optimizer']}" if warm else "")
              + f", {res.n_epochs} epochs, converged: {res.converged}"
              + (f"; model: {args.model}" if args.model else "")
              + (f"; plot: {args.plot}" if args.plot else ""))
    return 0


def _fit_with_table(args, options, X, y, X_val, y_val, stream, _api, NativeEngine):
    """The fit of gdfast train, printing its per-epoch table (and a progress bar through
    long epochs on a terminal); the result with validation_history when there are
    validation rows."""
    history, header = [], []
    bar = None if args.quiet or args.no_progress else _Bar.start()
    say = print if bar is None else bar.print
    t0 = time.perf_counter()
    loss_name = options.get("loss", "squared")
    classes = None
    if loss_name in _classification_losses():
        classes = np.unique(y) if stream is None else None

    def on_epoch(record):
        # the header once the fit runs: a refused option prints nothing but its error
        if not args.quiet and record["epoch"] == 1 and not header:
            header.append(True)
            say(f"{'epoch':>6} {'loss':>12} {'validation':>12} {'learning rate':>14} "
                f"{'time s':>8}")
        # an epoch the safeguard of learning_rate="auto" took back is reported again
        del history[record["epoch"] - 1:]
        val = math.nan
        if X_val is not None:
            view = _Partial(record, loss_name, classes if classes is not None else
                            meta.get("classes"))
            val = _mean_loss(view, X_val, y_val, options.get("epsilon", 0.1))
        history.append(val)
        if not args.quiet:
            say(f"{record['epoch']:>6} {record['loss']:>12.6g} {val:>12.6g} "
                f"{record['learning_rate']:>14.4g} {time.perf_counter() - t0:>8.3f}")
        if bar is not None:
            bar.epoch(record["epoch"] + 1)

    meta = {}
    try:
        if stream is not None:
            from gdfast import _stream

            def load(loss, classes):
                problem = _stream.StreamProblem(stream, loss, classes)
                meta["classes"] = problem.classes
                return problem
            res = _api.run_fit(_stream.StreamEngine, None, None,
                               dict(options, callback=on_epoch), load=load,
                               progress=None if bar is None else bar.rows)
        else:
            res = _api.run_fit(NativeEngine, X, y, dict(options, callback=on_epoch),
                               progress=None if bar is None else bar.rows)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    except gdfast.DivergenceError as exc:
        raise UserError(f"the fit diverged: {str(exc).splitlines()[0]}") from None
    finally:
        if bar is not None:
            bar.stop()
    if X_val is not None:
        res.validation_history = np.asarray(history)
    return res


class _Bar:
    """gdfast train's progress bar (rich) through an epoch's rows, on a terminal; the table's
    lines print above it."""

    def __init__(self, progress):
        self.progress = progress
        self.task = progress.add_task("epoch 1", total=None)

    @classmethod
    def start(cls):
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )
        except ImportError:
            return None
        console = Console()
        if not console.is_terminal:
            return None
        progress = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("rows"), TimeElapsedColumn(),
                            console=console, transient=True)
        progress.start()
        return cls(progress)

    def rows(self, done, total):
        self.progress.update(self.task, completed=done, total=total)

    def epoch(self, number):
        self.progress.reset(self.task, description=f"epoch {number}", total=None)

    def print(self, line):
        self.progress.console.print(line, highlight=False, markup=False)

    def stop(self):
        self.progress.stop()


class _Partial:
    """A fit's epoch record seen as a result (decision values for the validation loss)."""

    def __init__(self, record, loss, classes):
        self.coef, self.intercept = record["coef"], record["intercept"]
        self.loss, self.classes = loss, classes

    def decision_function(self, X):
        return np.asarray(X @ np.asarray(self.coef).T) + self.intercept


def _classification_losses():
    from gdfast._options import CLASSIFICATION_LOSSES
    return CLASSIFICATION_LOSSES


def _load(path):
    try:
        return gdfast.load(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such model file") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _model_table(model, path, fmt):
    meta = getattr(model, "metadata", None) or {}
    table = _read(path, meta.get("label"), fmt, categories=meta.get("categories"),
                  label_optional=True)
    columns = meta.get("columns")
    if columns is not None and table.columns != columns:
        missing = [c for c in columns if c not in table.columns][:5]
        extra = [c for c in table.columns if c not in columns][:5]
        raise UserError(f"{path}: its columns are not the model's"
                        + (f"; missing {missing}" if missing else "")
                        + (f"; not in the model {extra}" if extra else ""))
    return table


def predict(args, error):
    _check_output(args.out, "--out")
    model = _load(args.model)
    table = _model_table(model, args.data, args.format)
    try:
        if args.proba:
            values = model.predict_proba(table.X)
            header = ",".join(f"p({c})" for c in model.classes)
        else:
            values = model.predict(table.X)[:, None]
            header = "prediction"
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    lines = [header] + [",".join(str(v) for v in row) for row in values.tolist()]
    text = "\n".join(lines) + "\n"
    if args.out:
        from gdfast._atomic import atomic_write
        atomic_write(args.out, lambda f: f.write(text.encode("utf-8")))
    else:
        sys.stdout.write(text)
    return 0


def evaluate(args, error):
    model = _load(args.model)
    table = _model_table(model, args.data, args.format)
    if table.y is None:
        label = (getattr(model, "metadata", None) or {}).get("label")
        raise UserError(f"{args.data}: no label column {label!r} to evaluate against")
    X, y = table.X, table.y
    epsilon = (getattr(model, "metadata", None) or {}).get("epsilon", 0.1)
    print(f"rows {len(y)}, loss {_mean_loss(model, X, y, epsilon):.6g}")
    pred = model.predict(X)
    if model.classes is not None:
        print(f"accuracy {float(np.mean(pred == y)):.4f}")
        classes = list(model.classes)
        width = max(8, *(len(str(c)) for c in classes)) + 2
        print("confusion (rows: true, columns: predicted)")
        print(" " * width + "".join(f"{str(c):>{width}}" for c in classes))
        for c in classes:
            counts = [int(np.sum((y == c) & (pred == p))) for p in classes]
            print(f"{str(c):>{width}}" + "".join(f"{k:>{width}}" for k in counts))
    else:
        ss = float(np.sum((y - np.mean(y)) ** 2))
        r2 = 1 - float(np.sum((y - pred) ** 2)) / ss if ss > 0 else math.nan
        print(f"R^2 {r2:.4f}")
    return 0


def compare(args, error):
    check_plot(args.plot)
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    rates = (["auto"] if args.learning_rates is None else
             [_value(r) for r in args.learning_rates.split(",") if r.strip()])
    if not optimizers or not rates:
        raise UserError("--optimizers and --learning-rates need at least one value each")
    _check_label(args)
    table = _read(args.data, args.label, args.format)
    options = {k[4:]: v for k, v in vars(args).items() if k.startswith("fit_")}
    runs = {}
    print(f"{'optimizer':<10} {'learning rate':>14} {'epochs':>7} {'final loss':>12} "
          f"{'time s':>8}", flush=True)
    for opt in optimizers:
        for lr in rates:
            kw = dict(options, optimizer=opt, learning_rate=lr)
            if opt == "lbfgs":
                kw.pop("learning_rate")
            t0 = time.perf_counter()
            try:
                res = gdfast.fit(table.X, table.y, **kw)
            except (ValueError, TypeError) as exc:
                raise UserError(f"{opt}, learning rate {lr}: {str(exc).splitlines()[0]}") \
                    from None
            except gdfast.DivergenceError as exc:
                res = exc.result                      # drawn up to where it diverged
            seconds = time.perf_counter() - t0
            name = opt if opt == "lbfgs" else f"{opt}, lr {lr}"
            runs[name] = res
            print(f"{opt:<10} {res.learning_rate:>14.4g} {res.n_epochs:>7} "
                  f"{res.loss_history[-1]:>12.6g} {seconds:>8.3f}", flush=True)
            if opt == "lbfgs":
                break
    from gdfast.plot import plot_loss, save_figure
    ax = plot_loss(runs, gap=True, title=f"gdfast compare {os.path.basename(args.data)}")
    save_figure(ax.figure, args.plot, dpi=110)
    print(f"the loss curves: {args.plot}")
    return 0


def build_parser():
    parser = _Parser(prog="gdfast", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("train", help="train a model on a data file")
    p.add_argument("data", metavar="DATA",
                   help=".csv, .tsv, .parquet, .npy, .npz or svmlight (.svm, .libsvm)")
    p.add_argument("--label", help="the label column (an index for .npy; svmlight files "
                   "hold their labels)")
    p.add_argument("--format", help="the data's format, when not its extension's")
    p.add_argument("--validation", metavar="FRACTION|FILE",
                   help="hold out this fraction of the rows, or read this file, and report "
                   "the validation loss each epoch")
    p.add_argument("--stream", action="store_true",
                   help="read the file in chunks (files larger than memory): chunks in a "
                   "random order, rows shuffled within each; see the guide")
    p.add_argument("--chunk-rows", type=int, metavar="N",
                   help="rows per chunk with --stream (default: about 64 MiB a chunk)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="where --stream caches the parsed chunks (default: the temporary "
                   "folder; about the data's size as float64)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (shown on a terminal when rich is installed)")
    p.add_argument("--model", metavar="OUT", help="save the model here (gdfast.save)")
    p.add_argument("--plot", metavar="PNG", help="draw the loss per epoch here")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    _fit_options(p)
    p.set_defaults(run=train)
    p = sub.add_parser("compare", help="train several optimizers and learning rates on a "
                       "data file and draw their loss curves")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--label", help="the label column (svmlight files hold their labels)")
    p.add_argument("--format")
    p.add_argument("--optimizers", required=True, help="comma-separated, e.g. sgd,adam,lbfgs")
    p.add_argument("--learning-rates", help="comma-separated (default: auto)")
    p.add_argument("--plot", metavar="PNG", required=True)
    _fit_options(p, skip=("optimizer", "learning_rate"))
    p.set_defaults(run=compare)
    p = sub.add_parser("predict", help="predict with a saved model")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--format")
    p.add_argument("--out", metavar="FILE", help="write the predictions here (CSV), not stdout")
    p.add_argument("--proba", action="store_true", help="class probabilities")
    p.set_defaults(run=predict)
    p = sub.add_parser("evaluate", help="a saved model's loss and accuracy or R^2 on a file")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--format")
    p.set_defaults(run=evaluate)
    _demo.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"gdfast {args.command}"

    def error(message):
        parser.exit(2, f"{prog}: {message}\n")

    try:
        return args.run(args, error)
    except UserError as exc:
        error(str(exc))
    except KeyboardInterrupt:
        parser.exit(130, f"{prog}: interrupted\n")

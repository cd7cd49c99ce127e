"""The other libraries' dense epochs: scikit-learn's SGDClassifier and a PyTorch training
loop, each skipped with a note when it is not installed."""
import time
import warnings

from benchmarks.common import ALPHA

from . import optional
from .jobs import LR
from .measure import measure, wall
from .report import Row


def run_sklearn_sgd(report, X, y, repeats):
    name = "SGDClassifier log_loss, 1 epoch"
    linear_model = optional("sklearn.linear_model")
    if linear_model is None:
        report.rows.append(Row(name, "scikit-learn", None, note="not installed: skipped"))
        return
    from sklearn.exceptions import ConvergenceWarning

    def one_epoch():
        clf = linear_model.SGDClassifier(loss="log_loss", max_iter=1, tol=None,
                                         learning_rate="constant", eta0=LR["sgd"],
                                         alpha=ALPHA, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            seconds = wall(clf.fit, X, y)
        return seconds, seconds

    report.rows.append(Row.timed(name, "scikit-learn", measure(one_epoch, repeats),
                                 note=f"whole fit() call, per-sample, eta0={LR['sgd']}"))


def run_torch(report, X, y, repeats, n_threads):
    name = "PyTorch Adam 256 loop"
    torch = optional("torch")
    if torch is None:
        report.rows.append(Row(name, "torch", None, note="not installed: skipped"))
        return
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(X.dtype))
    old_threads = torch.get_num_threads()
    timings = {}
    for threads in sorted({1, n_threads}):
        torch.set_num_threads(threads)
        timings[threads] = measure(torch_adam_epoch(torch, Xt, yt), repeats)
    torch.set_num_threads(old_threads)
    best = min(timings, key=lambda t: timings[t].seconds)
    each = ", ".join(f"{t} thread(s) {tm.seconds:.4g} s" for t, tm in timings.items())
    report.rows.append(Row.timed(name, "torch", timings[best],
                                 note=f"best at {best} thread(s); {each}"))


def torch_adam_epoch(torch, Xt, yt, batch_size=256):
    """A function running one epoch of the usual PyTorch loop: nn.Linear, BCEWithLogitsLoss,
    Adam (weight decay alpha on the weights only, as gdfast), batches sliced from a shuffled
    permutation.  It returns the epoch's seconds."""
    n, d = Xt.shape
    torch.manual_seed(0)
    model = torch.nn.Linear(d, 1, dtype=Xt.dtype)
    opt = torch.optim.Adam([{"params": [model.weight], "weight_decay": ALPHA},
                            {"params": [model.bias], "weight_decay": 0.0}], lr=LR["adam"])
    criterion = torch.nn.BCEWithLogitsLoss()

    def epoch():
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            criterion(model(Xt[idx]).squeeze(1), yt[idx]).backward()
            opt.step()
        return time.perf_counter() - t0

    return epoch

"""gdfast against its peers, in one process and one run, on the same data.

Dense logistic regression (default n=400_000, d=128, float64, all threads):

* the floor: numpy ``X @ w``, which reads X once;
* one epoch of gdfast (full-batch gradient, mini-batch Adam 256, mini-batch SGD 32,
  per-sample SGD), shuffled and ordered, of the numpy reference for the same jobs,
  of scikit-learn's SGDClassifier and of a PyTorch training loop;
* float32 / float64, 1 -> 2 threads against numpy's own scaling, the extra peak memory of
  a fit (in a fresh subprocess), and the time to reach the optimum's objective within
  1e-3 relative against scikit-learn's L-BFGS.
* the read floors, which are not targets but say what limits them: gdfast's read probe
  (benchmarks.common.read_probe) reads X's rows with the epochs' row stream and prefetch and
  computes nothing; along a shuffled order it is a lower bound for a shuffled epoch, in row
  order on 1 and all threads the bandwidth's own scaling.

    python benchmarks/peers.py [--quick] [--n N] [--d D] [--repeats R]
                            [--out benchmarks/peers.png] [--json out.json]

Sparse logistic regression (--sparse; default n=1_000_000, d=2^20, 40 non-zeros per row,
float64; --quick: n=100_000, d=2^17): the issue's CSR problem (benchmarks/common.py,
make_sparse_data), one epoch of scikit-learn's SGDClassifier and of gdfast's per-sample SGD
(1 thread, Hogwild on 2), lazy Adam 256 (1 thread, Hogwild on 2), the held-out accuracy of
each fit, and the extra peak memory of a gdfast fit against CSR bytes + O(d) state + 20 MiB.

    python benchmarks/peers.py --sparse [--quick] [--n N] [--d D] [--nnz K] [--repeats R]
                            [--out benchmarks/peers_sparse.png] [--json out.json]

Peers that are not installed are skipped with a note.  Times are medians over --repeats
runs (after one warm-up run), fewer when the runs of one row exceed RUN_BUDGET_S, more
when they took less than MIN_MEASURE_S in all; the "runs" column says how many.  The
floors, gdfast's epochs and its float32 epoch are measured side by side, in rounds that
call each of them once (measure_rounds), and so are the four timings of the thread
scaling: the host's speed drifts by tens of percent within minutes, and a ratio of two
figures taken minutes apart carried that drift.  The
"others" column gives the cores that other processes kept busy meanwhile (from
/proc/stat): on a shared machine, a flagged row is not to be trusted.

`python benchmarks/peers.py ...` and, from benchmarks/, `python -m peers ...` run the same
command.  The modules, one concern each: __main__ (the arguments and the order of a run's
sections), jobs (what is measured, under which row names), measure (timing side by side, the
other processes' cores), dense (gdfast's and the reference's dense epochs, floors, read
floors, thread scaling), libraries (scikit-learn's and PyTorch's dense epochs), optimum (the
time to the optimum), memory (a fit's extra peak memory, in a child process), sparse (the
CSR section's measurements), report (rows, targets, the printed tables), plot (the charts).
benchmarks/optimum.py, the time-to-optimum command, uses optimum and three modules of its
own: problems (its problems and the objective F), solvers (the libraries' solvers and alpha
mappings), optimum_report (its targets, tables and JSON).
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent     # benchmarks/: benchmarks.common, default outputs


def optional(module):
    """The imported module, or None when it is not installed."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        return None

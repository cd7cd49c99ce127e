"""What is measured, under which row names: the dense epoch jobs and the rows measured beside
them (floors, float32, read floors), and the sparse jobs and sizes.  The measuring modules,
the memory child and the report share these names."""
from benchmarks.common import fit_kwargs

LR = {"sgd": 0.01, "adam": 1e-3}     # also scikit-learn's eta0 and torch's Adam lr

# The epoch jobs: name -> (optimizer, batch_size); each runs shuffled, those in ORDERED also
# in row order.
FULL_BATCH, ADAM_256 = "full-batch gradient (sgd)", "mini-batch Adam 256"
SGD_32, PER_SAMPLE = "mini-batch SGD 32", "per-sample SGD (batch 1)"
JOBS = {FULL_BATCH: ("sgd", None), ADAM_256: ("adam", 256), SGD_32: ("sgd", 32),
        PER_SAMPLE: ("sgd", 1)}
ORDERED = (ADAM_256, SGD_32, PER_SAMPLE)

# The rows measured side by side with the epochs (dense.run_side_by_side): the floors, the
# float32 epochs, and the read floors (dense.read_floors).
FLOOR64, FLOOR32 = "floor float64", "floor float32"
ADAM_256_F32, FULL_BATCH_F32 = f"{ADAM_256}, float32", f"{FULL_BATCH}, float32"
READ64, READ32 = "read floor float64, shuffled", "read floor float32, shuffled"
READ64_ORDERED = "read floor float64, in order"
READS = (READ64, READ32, READ64_ORDERED)


def epoch_kwargs(optimizer, batch_size, shuffle=True, **extra):
    """gdfast.fit's arguments for one epoch of a job (logistic, alpha, random_state=0)."""
    return fit_kwargs(optimizer, batch_size, learning_rate=LR[optimizer], shuffle=shuffle,
                      **extra)


def epoch_jobs():
    """(row label, gdfast.fit arguments) of every epoch job: shuffled, and in row order too
    for those in ORDERED."""
    for name, (optimizer, batch_size) in JOBS.items():
        for shuffle in ((True, False) if name in ORDERED else (True,)):
            yield f"{name}{'' if shuffle else ', ordered'}", epoch_kwargs(optimizer, batch_size,
                                                                        shuffle)


# --- the sparse section (--sparse) ------------------------------------------------------------

SPARSE_SIZE = (1_000_000, 2**20)          # the n, d
SPARSE_QUICK_SIZE = (100_000, 2**17)
SPARSE_N_TEST = 100_000                   # held-out rows (at most n // 5)
SPARSE_ACCURACY_TOL = 0.01                # per-sample SGD vs scikit-learn's, held out
SKLEARN_SGD = "SGDClassifier log_loss, optimal"
# row name -> SPARSE_MODES key (benchmarks/common.py)
SPARSE_SGD1, SPARSE_HOG2 = "per-sample SGD, 1 thread", "per-sample SGD, Hogwild 2 threads"
SPARSE_ADAM1, SPARSE_ADAM_HOG2 = "lazy Adam 256, 1 thread", "lazy Adam 256, Hogwild 2 threads"
SPARSE_JOBS = {SPARSE_SGD1: "sgd-1thread", SPARSE_HOG2: "sgd-hogwild-2",
               SPARSE_ADAM1: "lazy-adam-256", SPARSE_ADAM_HOG2: "lazy-adam-256-hogwild-2"}

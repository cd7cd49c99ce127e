"""The option tables of a fit: the names gdfast.fit accepts, their integer codes in the
native kernels, the defaults that depend on another option, and the kernels' parallel layout.

Every table of names lives here once; validation (_problem.py), the engines, the driver and
the estimators read them from this module.
"""
from gdfast import _kernels

# --- names and their codes ----------------------------------------------------------------
# The codes come from csrc/gdfast.h (GD_LOSS_*, GD_OPT_*, ...) through _kernels: written once.

LOSSES = _kernels.LOSS_CODES                  # name -> GD_LOSS_*
BINARY_LOSSES = ("logistic", "hinge", "squared_hinge", "modified_huber")
CLASSIFICATION_LOSSES = BINARY_LOSSES + ("multinomial",)
REGRESSION_LOSSES = ("squared", "huber", "epsilon_insensitive", "poisson")
PROBA_LOSSES = ("logistic", "modified_huber", "multinomial")
OPTIMIZERS = _kernels.OPTIMIZER_CODES          # name -> GD_OPT_*
# optimizers that run in Python around the engines' full gradient (_lbfgs.py)
QUASI_NEWTON = ("lbfgs",)
OPTIMIZER_NAMES = tuple(OPTIMIZERS) + QUASI_NEWTON
# optimizer state vectors of P values each (gd_n_state); lbfgs keeps its pairs in Python
N_STATE = {name: _kernels.n_state(code) for name, code in OPTIMIZERS.items()} | {"lbfgs": 0}
ADAPTIVE_OPTIMIZERS = ("adagrad", "rmsprop", "adam", "adamw")
SPARSE_UPDATES = _kernels.SPARSE_UPDATES_CODES  # name -> GD_SPARSE_*
PARALLEL = ("deterministic", "hogwild")
SCHEDULES = ("constant", "invscaling", "optimal", "exponential", "step", "cosine", "plateau")
# the schedules the kernels apply per step (GD_SCHED_*); the rest change the rate per epoch
STEP_RULES = {name: code for name, code in _kernels.SCHEDULE_CODES.items()
              if name != "constant"}
# every other schedule: each step takes the epoch's rate (GD_SCHED_CONSTANT)
EPOCH_RATE = _kernels.SCHEDULE_CODES["constant"]

# --- defaults that depend on another option -----------------------------------------------

DEFAULT_EPS = {"adagrad": 1e-10, "rmsprop": 1e-8, "adam": 1e-8, "adamw": 1e-8}  # torch's
DEFAULT_GAMMA = {"exponential": 0.95, "step": 0.1}
PLATEAU_FACTOR = 5.0
PLATEAU_MIN_LR = 1e-6

# --- the parallel layout of the native kernels --------------------------------------------
# (see csrc/gdfast.h, "Determinism").  The results depend on these, never on the thread
# count; tests shrink them to exercise many blocks (they patch this dict: it is the one the
# engine reads).
# 16-row blocks let two threads share a 32-row batch (a 128-feature float64 batch of 32 rows,
# 4096 multiply-adds, is the smallest that opens threads).
# share: how threads that each take the optimizer step share a batch's blocks (SHARES); the
# results are the same bits for every choice.
LAYOUT = {"block_rows": 16, "max_blocks": 256, "work_bytes": 16 << 20,
          "min_parallel_work": 4096, "share": "measured"}
SHARES = _kernels.SHARE_CODES                 # gd_config.share: name -> GD_SHARE_*

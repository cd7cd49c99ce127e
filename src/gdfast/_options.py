"""The option tables of a fit: the names gdfast.fit accepts, their integer codes in the
native kernels, the defaults that depend on another option, and the kernels' parallel layout.

Every table of names lives here once; validation (_problem.py), the engines, the driver and
the estimators read them from this module.
"""

# --- names and their codes ----------------------------------------------------------------
# The integer codes are those of csrc/gdfast.h (GD_LOSS_*, GD_OPT_*, GD_SCHED_*, GD_SHARE_*):
# change them together.

LOSSES = {
    "squared": 0, "logistic": 1, "hinge": 2, "squared_hinge": 3, "modified_huber": 4,
    "huber": 5, "epsilon_insensitive": 6, "poisson": 7, "multinomial": 8,
}
BINARY_LOSSES = ("logistic", "hinge", "squared_hinge", "modified_huber")
CLASSIFICATION_LOSSES = BINARY_LOSSES + ("multinomial",)
REGRESSION_LOSSES = ("squared", "huber", "epsilon_insensitive", "poisson")
PROBA_LOSSES = ("logistic", "modified_huber", "multinomial")
OPTIMIZERS = {
    "sgd": 0, "momentum": 1, "nesterov": 2, "adagrad": 3, "rmsprop": 4, "adam": 5, "adamw": 6,
}
N_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 3, "adam": 3,
           "adamw": 3}
ADAPTIVE_OPTIMIZERS = ("adagrad", "rmsprop", "adam", "adamw")
SPARSE_UPDATES = ("dense", "lazy")
PARALLEL = ("deterministic", "hogwild")
SCHEDULES = ("constant", "invscaling", "optimal", "exponential", "step", "cosine", "plateau")
STEP_RULES = {"invscaling": 1, "optimal": 2}     # GD_SCHED_*: per step; the rest are per epoch

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
SHARES = {"even": 0, "measured": 1, "skewed": 2}    # gd_config.share (GD_SHARE_*)

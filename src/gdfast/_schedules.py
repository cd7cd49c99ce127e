"""Learning-rate schedules: the base rate of each epoch (constant, exponential, step, cosine,
plateau) and the t0 of the per-step 'optimal' rule.

The per-step rules themselves (invscaling, optimal) run inside the engines, once per
optimizer step: the native kernels' gd_step_lr (csrc/) and reference.step_lr.  The plateau
rule's rate is kept by the driver, which sees the loss history (_driver.py).
"""
import math

import numpy as np

from gdfast._losses import row_loss_dz


def epoch_lr(spec, epoch, horizon, plateau_lr):
    """The base learning rate of epoch (0-based, counted over the whole training) for the
    per-epoch schedules; cosine anneals to 0 over `horizon` epochs."""
    s, lr = spec.schedule, spec.learning_rate
    if s == "exponential":
        return lr * spec.gamma ** epoch
    if s == "step":
        return lr * spec.gamma ** (epoch // spec.step_size)
    if s == "cosine":
        return lr * (1 + math.cos(math.pi * min(epoch, horizon) / horizon)) / 2
    if s == "plateau":
        return plateau_lr
    return lr


def optimal_t0(loss, alpha, epsilon):
    """scikit-learn's t0 for learning_rate='optimal' (Bottou): the initial rate is
    typw / max(1, dloss(p=-typw, y=1)) with typw = sqrt(1 / sqrt(alpha))."""
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    base = "logistic" if loss == "multinomial" else loss
    _, dz = row_loss_dz(base, np.array([-typw]), np.array([1.0]), epsilon)
    eta0 = typw / max(1.0, float(dz[0]))
    return 1.0 / (eta0 * alpha)

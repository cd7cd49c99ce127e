"""DaskEngine: the driver's engine interface (_driver.py) over a DaskProblem.

- Full batch: each block's gradient sum by the native kernel on the worker that holds the
  block, summed in a fixed tree over the block index, the step taken here by the native
  update rule (gd_update).  The same steps as gdfast.fit on the concatenated rows, up to the
  order of the gradient's additions, and the same bits for a given chunking on any cluster.
- Batches smaller than the data: parameter mixing (Zinkevich et al. 2010; local SGD).  Every
  block runs its own epoch (its rows in an order drawn from the driver's seed) with the native
  epoch kernels from the common parameters and optimizer state, for sync_every steps (None: a
  whole pass over the block); the parameters and state are then averaged, weighted by the rows
  each block went through, and the next round starts from the average.  With one block it is
  gdfast.fit's epoch itself.

Only the parameters, the optimizer state and the gradients travel: O(n_params) a block.
"""
from __future__ import annotations

import numpy as np

from gdfast import _kernels
from gdfast._dask import tasks
from gdfast._driver import Shuffle
from gdfast._threads import effective_n_threads
from gdfast.reference import clip_gradient

_GOLDEN = 0x9E3779B97F4A7C15


def block_seed(seed, index):
    """The seed of block index's row order in an epoch whose order the driver seeded with seed
    (block 0 takes the driver's own: one block gives gdfast.fit's epoch)."""
    return (seed + index * _GOLDEN) % 2 ** 64


class DaskEngine:
    """Owns theta and the optimizer state on the client; the blocks' work on the workers."""

    native = True

    def __init__(self, problem, spec, theta, n_threads, opt_state=None, t=0, *,
                 sync_every=None, worker_threads=None):
        self.problem, self.spec = problem, spec
        self.n_threads = effective_n_threads(n_threads)
        self.worker_threads = worker_threads
        K, d, dtype = problem.n_outputs, problem.d, problem.dtype
        self.cfg = _kernels.Config(**spec.kernel_config(K, d, dtype.itemsize))
        self.config = tasks.config_items(spec.kernel_config(K, d, dtype.itemsize))
        self.theta = theta
        self.state = (np.zeros(self.cfg.state_rows() * problem.n_params, dtype=dtype)
                      if opt_state is None else opt_state)
        self.t = t
        self.sync_every = sync_every
        self._gram = None

    # -- full-batch passes ------------------------------------------------------------------

    def _sum(self, config, theta, n_params, zero_y=False):
        p = self.problem
        ok, g, loss = p.reduce(tasks.gradient, tasks.combine_gradients, np.array(theta),
                               config, n_params, zero_y=zero_y, n_threads=self.worker_threads,
                               result_bytes=8 * n_params)
        return ok and np.isfinite(loss), (g / p.n).astype(p.dtype), loss

    def gradient(self, theta):
        """(ok, the data gradient over all rows at theta, the sum of sw_i * loss_i)."""
        return self._sum(self.config, theta, self.problem.n_params)

    def gram(self, v):
        """(1/n) sum_i sw_i x_i x_i^T v over the rows extended by a 1 (NativeEngine.gram)."""
        if self._gram is None:
            import dataclasses
            p = self.problem
            self._gram = tasks.config_items(dataclasses.replace(self.spec, loss="squared")
                                            .kernel_config(1, p.d, p.dtype.itemsize))
        return self._sum(self._gram, v, self.problem.d + 1, zero_y=True)[1]

    def _full_batch_step(self, lr_epoch):
        p, spec = self.problem, self.spec
        ok, grad, loss = self.gradient(self.theta)
        self.t += 1
        if not ok:
            return False, loss
        K, d = p.n_outputs, p.d
        if not spec.fit_intercept:
            # gd_update steps every entry it is given: a zero gradient leaves the intercepts
            # (and their optimizer state) exactly as they are, as the epoch kernels do
            grad[K * d:] = 0
        if spec.clip_norm > 0:
            clip_gradient(grad[:p.n_params if spec.fit_intercept else K * d], spec.clip_norm)
        lr = self.cfg.step_lr(lr_epoch, self.t)
        status = _kernels.update(self.cfg, self.theta, grad, self.state, p.n_outputs * p.d,
                                 self.t, lr, self.n_threads)
        return status == _kernels.STATUS_OK, loss

    # -- parameter mixing -------------------------------------------------------------------

    def _rounds(self):
        """Per round, the (block, start, stop) position ranges of each block's epoch."""
        bs, k = self.spec.batch_size, self.sync_every
        steps = [-(-n // min(bs, n)) if n else 0 for n in self.problem.block_rows]
        if k is None:
            return [[(i, 0, n) for i, n in enumerate(self.problem.block_rows) if n]]
        rounds = []
        for r in range(-(-max(steps) // k)):
            part = []
            for i, n in enumerate(self.problem.block_rows):
                b = min(bs, n) if n else 0
                if n and r * k < steps[i]:
                    part.append((i, r * k * b, min((r + 1) * k * b, n)))
            rounds.append(part)
        return rounds

    def _mix(self, order, lr_epoch):
        p, spec = self.problem, self.spec
        total, ok = 0.0, True
        for part in self._rounds():
            rows = sum(stop - start for _, start, stop in part)
            th, st = self.theta.copy(), self.state.copy()
            calls = []
            for i, start, stop in part:
                seed = None if order is None else block_seed(order.seed, i)
                # the weight 1.0 of a lone block keeps its parameters' bits
                weight = 1.0 if len(part) == 1 else (stop - start) / rows
                calls.append((tasks.train, i, (th, st, self.t, spec, p.n_outputs, lr_epoch, seed,
                                               start, stop, weight, self.worker_threads), {}))
            out = p.run(calls, tasks.combine_trained,
                        result_bytes=8 * (th.shape[0] + st.shape[0]))
            round_ok, theta, state, loss, t = out
            total += loss
            self.theta[...] = theta
            self.state[...] = state
            self.t = t
            if not round_ok:
                ok = False
                break
        return ok, total

    # -- the driver's interface -------------------------------------------------------------

    def run_epoch(self, order, lr_epoch):
        if self.spec.batch_size >= self.problem.n:
            return self._full_batch_step(lr_epoch)
        if order is not None and not isinstance(order, Shuffle):
            raise TypeError("DaskEngine: an epoch's order is a Shuffle or None")
        return self._mix(order, lr_epoch)

    def flat_state(self):
        return self.state

    def step_lr(self, lr_epoch):
        return self.cfg.step_lr(lr_epoch, max(self.t, 1))

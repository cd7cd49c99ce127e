"""The native engine: runs whole epochs in the C kernels (csrc/), without the GIL."""
import threading

import numpy as np

from gdfast import _kernels
from gdfast._driver import Shuffle
from gdfast._options import N_STATE
from gdfast._threads import effective_n_threads


class NativeEngine:
    """Owns theta, the optimizer state and the kernels' work buffer; one epoch per call."""

    native = True

    def __init__(self, problem, spec, theta, n_threads, opt_state=None, t=0):
        self.n_threads = effective_n_threads(n_threads)
        self.problem, self.spec = problem, spec
        dtype, K, d = problem.dtype, problem.n_outputs, problem.d
        self.cfg = _kernels.Config(**spec.kernel_config(K, d, dtype.itemsize))
        self.theta = theta
        self.state = (np.zeros(N_STATE[spec.optimizer] * problem.n_params, dtype=dtype)
                      if opt_state is None else opt_state)
        self.work = np.empty(self.cfg.work_size(d), dtype=dtype)
        self.t = t
        self._sw = problem.sw if problem.sw is not None else np.empty(0, dtype=dtype)
        self._identity = np.empty(0, dtype=np.int64)
        self._order = None       # the shuffled epochs' row order (dense X)
        if problem.sparse:
            # the sparse path's buffers (untouched pages cost no memory when the block path runs)
            self.sparse_work = np.empty(
                self.cfg.csr_work_bytes(d, spec.batch_size, self.n_threads), dtype=np.uint8)

    def run_epoch(self, order, lr_epoch):
        p, bs = self.problem, self.spec.batch_size
        shuffle = None
        if isinstance(order, Shuffle) and not p.sparse:
            # drawn by the epoch as it goes, into a buffer kept across epochs
            if self._order is None:
                self._order = np.empty(p.n, dtype=np.int64)
            shuffle = _kernels.shuffle_init(self._order, order.seed)
            order = self._order
        elif isinstance(order, Shuffle):
            order = order.array()
        order = self._identity if order is None else np.ascontiguousarray(order, np.int64)
        # Ctrl-C reaches a running kernel only in the main thread (where Python handles it);
        # KeyboardInterrupt is raised from the epoch kernel's call.  If the SIGINT handler does
        # not raise, the kernel returns early and the epoch resumes where it stopped.
        interruptible = threading.current_thread() is threading.main_thread()
        start, total = 0, 0.0
        while True:
            t_before = self.t
            if p.sparse:
                X = p.X
                status, self.t, loss = _kernels.epoch_csr(
                    self.cfg, X.data, X.indices, X.indptr, p.d, p.y, self._sw, order, start,
                    p.n, bs, lr_epoch, self.theta, self.state, self.work, self.sparse_work,
                    self.t, self.n_threads, interruptible)
            elif shuffle is not None:
                status, self.t, loss = _kernels.epoch_dense_shuffled(
                    self.cfg, p.X, p.y, self._sw, order, shuffle, start, p.n, bs, lr_epoch,
                    self.theta, self.state, self.work, self.t, self.n_threads, interruptible)
            else:
                status, self.t, loss = _kernels.epoch_dense(
                    self.cfg, p.X, p.y, self._sw, order, start, p.n, bs, lr_epoch, self.theta,
                    self.state, self.work, self.t, self.n_threads, interruptible)
            total += loss
            if status != _kernels.STATUS_INTERRUPTED:
                break
            start += (self.t - t_before) * bs
        if status == _kernels.STATUS_ARGUMENT:
            raise RuntimeError("gdfast: the native kernel rejected its arguments (a bug; "
                               "please report it)")
        return status == _kernels.STATUS_OK, total

    def flat_state(self):
        return self.state

    def step_lr(self, lr_epoch):
        return self.cfg.step_lr(lr_epoch, max(self.t, 1))

"""The native engine: runs whole epochs in the C kernels (csrc/), without the GIL."""
import dataclasses
import threading

import numpy as np

from gdfast import _kernels
from gdfast._driver import Shuffle
from gdfast._options import OPTIMIZERS
from gdfast._threads import effective_n_threads

# an epoch with a progress report runs in about this many segments
PROGRESS_SEGMENTS = 50


class NativeEngine:
    """Owns theta, the optimizer state and the kernels' work buffer; one epoch per call."""

    native = True
    can_warm_start = True     # optimizer="auto" may start lbfgs from SGD steps (_api)

    def __init__(self, problem, spec, theta, n_threads, opt_state=None, t=0):
        self.n_threads = effective_n_threads(n_threads)
        self.problem, self.spec = problem, spec
        dtype, K, d = problem.dtype, problem.n_outputs, problem.d
        self.cfg = _kernels.Config(**spec.kernel_config(K, d, dtype.itemsize))
        self.theta = theta
        # the optimizer's state vectors, then with averaging the mean and its compensation
        self.state = (np.zeros(self.cfg.state_rows() * problem.n_params, dtype=dtype)
                      if opt_state is None else opt_state)
        self.work = np.empty(self.cfg.work_size(d), dtype=dtype)
        self.t = t
        self._sw = problem.sw if problem.sw is not None else np.empty(0, dtype=dtype)
        self._identity = np.empty(0, dtype=np.int64)
        self._order = None       # the shuffled epochs' row order (dense X)
        self._gram = None        # gram()'s kernel configuration and buffers
        self._rowbuf = None      # grad_csr's row buffer (_row_buffer)
        self.progress = None     # progress(done, total) within an epoch, or None
        if problem.sparse and spec.optimizer in OPTIMIZERS:
            # the sparse path's buffers (untouched pages cost no memory when the block path runs)
            self.sparse_work = np.empty(
                self.cfg.csr_work_bytes(d, spec.batch_size, self.n_threads), dtype=np.uint8)

    def use(self, problem):
        """Run the next epochs on problem's rows (another chunk of a streamed file: the same
        features, outputs and dtype), keeping the parameters, state, step and buffers; None
        lets go of the rows until the next call."""
        self.problem = problem
        if problem is None:
            self._sw = None
            return
        self._sw = problem.sw if problem.sw is not None else np.empty(0, dtype=problem.dtype)
        if self._order is not None and self._order.shape[0] < problem.n:
            self._order = None

    def run_epoch(self, order, lr_epoch, start=0, stop=None):
        """Positions start..stop (None: the end) of the epoch's row order, in batches counted
        from start.  Returns (ok, the sum of sw_i * loss_i over those rows)."""
        p, bs = self.problem, self.spec.batch_size
        stop = p.n if stop is None else stop
        shuffle = None
        if isinstance(order, Shuffle) and not p.sparse:
            # drawn by the epoch as it goes, into a buffer kept across epochs
            if self._order is None:
                self._order = np.empty(p.n, dtype=np.int64)
            order_buffer = self._order[:p.n]
            shuffle = _kernels.shuffle_init(order_buffer, order.seed)
            order = order_buffer
        elif isinstance(order, Shuffle):
            order = order.array()
        order = self._identity if order is None else np.ascontiguousarray(order, np.int64)
        progress = getattr(self, "progress", None)
        if progress is None:
            return self._run(order, shuffle, start, stop, lr_epoch)
        # a progress report (gdfast train's bar) every segment of whole batches: the same
        # batches and parameters; the epoch's loss is summed segment by segment
        seg = max(bs, -(-(stop - start) // PROGRESS_SEGMENTS // bs) * bs)
        ok, total = True, 0.0
        for s in range(start, stop, seg):
            ok, loss = self._run(order, shuffle, s, min(s + seg, stop), lr_epoch)
            total += loss
            progress(min(s + seg, stop) - start, stop - start)
            if not ok:
                break
        return ok, total

    def _run(self, order, shuffle, start, stop, lr_epoch):
        p, bs = self.problem, self.spec.batch_size
        # Ctrl-C reaches a running kernel only in the main thread (where Python handles it);
        # KeyboardInterrupt is raised from the epoch kernel's call.  If the SIGINT handler does
        # not raise, the kernel returns early and the epoch resumes where it stopped.
        interruptible = threading.current_thread() is threading.main_thread()
        total = 0.0
        while True:
            t_before = self.t
            if p.sparse:
                X = p.X
                status, self.t, loss = _kernels.epoch_csr(
                    self.cfg, X.data, X.indices, X.indptr, p.d, p.y, self._sw, order, start,
                    stop, bs, lr_epoch, self.theta, self.state, self.work, self.sparse_work,
                    self.t, self.n_threads, interruptible)
            elif shuffle is not None:
                status, self.t, loss = _kernels.epoch_dense_shuffled(
                    self.cfg, p.X, p.y, self._sw, order, shuffle, start, stop, bs, lr_epoch,
                    self.theta, self.state, self.work, self.t, self.n_threads, interruptible)
            else:
                status, self.t, loss = _kernels.epoch_dense(
                    self.cfg, p.X, p.y, self._sw, order, start, stop, bs, lr_epoch, self.theta,
                    self.state, self.work, self.t, self.n_threads, interruptible)
            total += loss
            if status != _kernels.STATUS_INTERRUPTED:
                break
            start += (self.t - t_before) * bs
        if status == _kernels.STATUS_ARGUMENT:
            raise RuntimeError("gdfast: the native kernel rejected its arguments (a bug; "
                               "please report it)")
        return status == _kernels.STATUS_OK, total

    def gradient(self, theta):
        """(ok, the data gradient over all rows at theta, the sum of sw_i * loss_i): one pass
        of the fused kernel on n_threads threads."""
        return self._full_gradient(self.cfg, self.problem.y, theta, self.work)

    def gram(self, v):
        """(1/n) sum_i sw_i x_i x_i^T v over the rows extended by a 1 (v: d + 1 entries): the
        squared loss's gradient at y = 0, one pass of the same kernel."""
        if self._gram is None:
            p = self.problem
            cfg = _kernels.Config(**dataclasses.replace(self.spec, loss="squared")
                                  .kernel_config(1, p.d, p.dtype.itemsize))
            self._gram = (cfg, np.zeros(p.n, dtype=p.dtype),
                          np.empty(cfg.work_size(p.d), dtype=p.dtype))
        cfg, zeros, work = self._gram
        ok, grad, _ = self._full_gradient(cfg, zeros, v, work)
        return grad

    def _full_gradient(self, cfg, y, theta, work, rowbuf=True):
        """rowbuf=False: without the row buffer (the fused loop; the same bits, for the
        benchmarks)."""
        p = self.problem
        grad = np.empty(theta.shape[0], dtype=p.dtype)
        # as run_epoch: Ctrl-C raises KeyboardInterrupt from the kernel's call; a pass that a
        # non-raising SIGINT handler stopped is incomplete, and runs again
        interruptible = threading.current_thread() is threading.main_thread()
        status = _kernels.STATUS_INTERRUPTED
        while status == _kernels.STATUS_INTERRUPTED:
            if p.sparse:
                X = p.X
                status, loss = _kernels.grad_csr(
                    cfg, X.data, X.indices, X.indptr, p.d, y, self._sw, self._identity, theta,
                    grad, work, self.n_threads, interruptible,
                    self._row_buffer(cfg) if rowbuf else None)
            else:
                status, loss = _kernels.grad_dense(
                    cfg, p.X, y, self._sw, self._identity, theta, grad, work, self.n_threads,
                    interruptible)
        if status == _kernels.STATUS_ARGUMENT:
            raise RuntimeError("gdfast: the native kernel rejected its arguments (a bug; "
                               "please report it)")
        return status == _kernels.STATUS_OK, grad, loss

    def _row_buffer(self, cfg):
        """grad_csr's row buffer for cfg (None where none helps): where the coefficients
        outgrow the cache, the pass reads each run of rows twice, keeping one of theta and the
        gradient hot at a time (csrc/gd_csr_block.h).  At most 4 MiB a thread, kept."""
        p = self.problem
        need = cfg.csr_rowbuf_len(p.d, p.dtype.itemsize, self.n_threads)
        if need == 0:
            return None
        if self._rowbuf is None or self._rowbuf.shape[0] < need:
            self._rowbuf = np.empty(need, dtype=p.dtype)
        return self._rowbuf

    def flat_state(self):
        return self.state

    def step_lr(self, lr_epoch):
        return self.cfg.step_lr(lr_epoch, max(self.t, 1))

"""A fit streamed from a file (gdfast.io.fit_stream): the chunks of a StreamedFile
(_chunks.py) as the blocks of the block engine that gdfast.dask runs, here in one process,
one chunk in memory at a time.

- Full batch (the defaults' lbfgs, batch_size=None): each gradient is summed chunk by chunk
  in the fixed pairwise tree over the chunk index, as gdfast.dask sums its blocks.
- Smaller batches run sequentially, not mixed: the epoch visits the chunks one after another,
  each continuing from the parameters, optimizer state and step count the chunk before left.
  Shuffled epochs visit the chunks in a random order and shuffle the rows within each chunk
  (not across chunks); with shuffle=False the chunks come in the file's order and their rows
  in order, and since every chunk but the last holds a multiple of the batch size, the batches
  are those of gdfast.fit on the whole file: the same parameters, bit for bit.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from gdfast import _api, _kernels
from gdfast._blocks import BlockProblem, tree
from gdfast._dask import tasks
from gdfast._dask.engine import DaskEngine, block_seed
from gdfast._driver import Shuffle
from gdfast._native import NativeEngine
from gdfast._problem import Problem


class StreamProblem(BlockProblem):
    """The Problem interface over the chunks of a StreamedFile, read (and validated) one at a
    time; the last chunk read stays in memory (a file of one chunk is read once)."""

    def __init__(self, source, loss, classes):
        self.source, self.loss = source, loss
        self.dtype = np.dtype(np.float64)
        self.sparse = source.sparse
        self.n, self.d = source.n, source.d
        self.block_rows = list(source.block_rows)
        self.starts = source.starts
        self._last = (None, None)
        scans = [tasks.scan(source.labels(i), None, loss=loss, index=i,
                            start=int(self.starts[i])) for i in range(self.n_blocks)]
        summary = tree(scans, tasks.combine_scans)
        self._set_labels(summary, loss, classes)
        self.sw_sum, self.has_weights = summary["sw_sum"], False
        self.y_const = summary.get("ylogy", 0.0) / self.n
        self._mean_target = summary.get("sw_y", 0.0) / self.sw_sum if self.sw_sum else 0.0
        self._nnz = None

    @property
    def nnz(self):
        if self._nnz is None:
            self._nnz = int(self.reduce(tasks.nnz, lambda a, b: a + b))
        return self._nnz

    def block(self, i):
        if self._last[0] != i:
            self._last = (None, None)            # one chunk in memory, not two
            X, y = self.source.read(i)
            # every value was checked by the pass that wrote the chunk: not again each epoch
            self._last = (i, tasks.prepare(X, y, None, loss=self.loss, dtype=self.dtype,
                                           classes=self.classes, index=i,
                                           start=int(self.starts[i]), finite=False))
        return self._last[1]

    def run(self, calls, combine=None, result_bytes=0):
        """fn(chunk, *args, **kwargs) for each (fn, chunk index, args, kwargs), in order; with
        combine, their reduction in the fixed tree over the calls' order."""
        values = [fn(self.block(i), *args, **kwargs) for fn, i, args, kwargs in calls]
        return values if combine is None else tree(values, combine)


class StreamEngine(DaskEngine):
    """DaskEngine's full-batch steps over the chunks; smaller batches sequential (above)."""

    def __init__(self, problem, spec, theta, n_threads, opt_state=None, t=0):
        super().__init__(problem, spec, theta, n_threads, opt_state, t,
                         worker_threads=n_threads)
        self.progress = None     # progress(rows done, n) after each chunk of an epoch
        self._engines = {}

    def _chunk_engine(self, block):
        """The native engine of one chunk's epoch: one engine for the whole fit, its data
        swapped chunk by chunk (its buffers are O(n_features), allocated once), stepping
        this engine's own theta and state in place."""
        p = self.problem
        problem = Problem(X=block.X, y=block.y, sw=block.sw, n_outputs=p.n_outputs,
                          classes=None, y_const=0.0)
        spec = replace(self.spec, batch_size=min(self.spec.batch_size, block.n))
        # one engine a batch size: a last chunk shorter than a batch has its own
        engine = self._engines.get(spec.batch_size)
        if engine is None or engine.spec != spec:
            engine = self._engines[spec.batch_size] = NativeEngine(
                problem, spec, self.theta, self.n_threads, opt_state=self.state, t=self.t)
        else:
            engine.use(problem)
            engine.t = self.t
        return engine

    def _mix(self, order, lr_epoch):
        p = self.problem
        chunks = (range(p.n_blocks) if order is None else
                  _kernels.permutation(p.n_blocks, block_seed(order.seed, p.n_blocks)))
        total, done = 0.0, 0
        for i in map(int, chunks):
            n_i = p.block_rows[i]
            if not n_i:
                continue
            engine = self._chunk_engine(p.block(i))
            seed = None if order is None else block_seed(order.seed, i)
            ok, loss = engine.run_epoch(None if seed is None else Shuffle(n_i, seed), lr_epoch)
            engine.use(None)            # the chunk goes before the next one is read
            self.t = engine.t
            total += loss
            done += n_i
            if self.progress is not None:
                self.progress(done, p.n)
            if not (ok and np.isfinite(self.theta).all()):
                return False, total
        return True, total

    def run_epoch(self, order, lr_epoch):
        if order is not None and not isinstance(order, Shuffle):
            raise TypeError("StreamEngine: an epoch's order is a Shuffle or None")
        return super().run_epoch(order, lr_epoch)


def fit(source, options, **run_fit_args):
    """gdfast.fit's options on an open StreamedFile."""
    if options.get("sample_weight") is not None:
        raise ValueError("sample_weight: a streamed fit takes no sample weights (every row "
                         "weighs 1; fit in memory to weigh them)")
    return _api.run_fit(StreamEngine, None, None, options,
                        load=lambda loss, classes: StreamProblem(source, loss, classes),
                        **run_fit_args)

"""The fast path of a call on held blocks: one actor (BlockServer) on each worker that holds
blocks runs the calls of its blocks, reading them from the worker's own memory.  The client
talks to the actors directly, without a round through the scheduler and a task per block,
which is most of the cost of a pass when the blocks are small.

It is only a shortcut: the calls and their results are those of the task path
(DaskProblem.run), whose fixed tree then sums them.  Whenever a block is not where it was (a
worker died, dask moved or recomputed it) or an actor fails, the call goes the task path,
where dask finds or recomputes the blocks, and the servers are planned afresh.
"""
from __future__ import annotations

from gdfast._dask.tasks import Packed

MISSING = "gdfast-missing-block"
ACTOR_START_S = 30.0      # an actor that does not start within this is given up
POLL_S = 0.25             # how often a wait for an actor checks that its worker is alive


class BlockServer:
    """Runs (fn, args, kwargs) on blocks of its worker, named by their keys."""

    def __init__(self):
        from distributed import get_worker
        worker = get_worker()
        self._data = worker.data
        # as many blocks at once as the worker has threads (the kernels release the GIL)
        self._threads = max(1, int(worker.state.nthreads))
        self._pool = None

    def run(self, keys, packed):
        try:
            blocks = [self._data[key] for key in keys]
        except KeyError:
            return MISSING
        calls = [(b, fn, a, kw) for b, (fn, a, kw) in zip(blocks, packed.value, strict=True)]
        if self._threads == 1 or len(calls) == 1:
            return [fn(b, *a, **kw) for b, fn, a, kw in calls]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="gdfast-block")
        return list(self._pool.map(lambda c: c[1](c[0], *c[2], **c[3]), calls))


class Servers:
    """The client's side: which worker serves which block, and its actor."""

    def __init__(self, client, futures):
        self.client, self.futures = client, futures
        self.keys = [f.key for f in futures]
        self.plan = None          # the worker of each block
        self.actors = {}
        self.failures = 0

    def _make_plan(self):
        who = self.client.who_has(self.futures)
        alive = set(self.client.scheduler_info(n_workers=-1)["workers"])
        load, plan = {}, []
        for key in self.keys:
            holders = sorted(w for w in who.get(key, ()) if w in alive)
            if not holders:
                return None
            # a block held twice goes to the less loaded holder
            w = min(holders, key=lambda h: load.get(h, 0))
            load[w] = load.get(w, 0) + 1
            plan.append(w)
        return plan

    def _actor(self, worker):
        if worker not in self.actors:
            future = self.client.submit(BlockServer, workers=[worker], actor=True, pure=False,
                                        allow_other_workers=False)
            self.actors[worker] = (future, future.result(timeout=ACTOR_START_S))
        return self.actors[worker][1]

    def run(self, calls):
        """The results of calls [(fn, block index, args, kwargs)] in order, or None when this
        path cannot run them now (the caller then takes the task path)."""
        if self.failures >= 3:
            return None
        try:
            if self.plan is None:
                self.plan = self._make_plan()
                if self.plan is None:
                    return None
            groups = {}
            for j, call in enumerate(calls):
                groups.setdefault(self.plan[call[1]], []).append(j)
            pending = []
            for worker, js in groups.items():
                actor = self._actor(worker)
                pending.append((js, worker, actor.run(
                    [self.keys[calls[j][1]] for j in js],
                    Packed([(calls[j][0], calls[j][2], calls[j][3]) for j in js]))))
            values = [None] * len(calls)
            missing = False
            for js, worker, future in pending:
                out = self._wait(future, worker)
                if isinstance(out, str) and out == MISSING:
                    missing = True
                    continue
                for j, v in zip(js, out, strict=True):
                    values[j] = v
        except Exception:           # noqa: BLE001 - the task path runs it, and raises
            # a worker or its actor gone: the task path, and a new plan next time
            self.failures += 1
            self._reset()
            return None
        if missing:
            self._reset()
            return None
        return values

    def _wait(self, future, worker):
        """The actor's result; an error as soon as its worker has left the cluster (a call to
        a killed worker may otherwise wait for ever)."""
        while True:
            try:
                return future.result(timeout=POLL_S)
            except TimeoutError:
                if worker not in self.client.scheduler_info(n_workers=-1)["workers"]:
                    raise RuntimeError(f"worker {worker} left during a call") from None

    def _reset(self):
        self.plan = None
        self.actors = {}

    def close(self):
        self._reset()

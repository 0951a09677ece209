"""to_pool: each call on the warm process pool (``process-pool`` mode, ``cpu`` tools in ``hybrid``):
forkserver workers, one per usable core by default, started once per process and reused by every run
(:mod:`agent_core._pool`). Calls are pickled across; CPU work runs in parallel on every core.

Each call is stamped where it ran (the worker's ``perf_counter``: CLOCK_MONOTONIC, one clock for every
process on the machine), so time spent queued behind other calls is not the call's time.

Calls queue in the lane, and one per worker is handed to the executor at a time (the executor moves
calls to its workers' queue eagerly, where no cancel reaches them).

TIMEOUT: the worker interrupts its own call with an alarm (SIGALRM at the call's deadline): ``timeout``,
and the worker is free again. A call stuck where the alarm cannot reach it holds its worker until the
run's bound; then the pool is killed and replaced. CANCEL: a call still queued in the lane never runs;
one already running in a worker runs to its end or its alarm. A worker that dies (a segfault) breaks the pool:
every call still in it is ``crashed`` (BrokenProcessPool) and the pool is replaced after the run.
"""
from __future__ import annotations

import collections
import contextlib
import threading
from concurrent.futures import Future, InvalidStateError
from concurrent.futures.process import BrokenProcessPool

from .._execute import Outcome, classify
from .._pool import discard_pool, warm_pool
from ..calls import pool_task
from ..machine import default_processes
from . import Job, Lane


class PoolLane(Lane):
    name = "pool"
    title = "process pool"
    in_process = False
    remote = True

    def __init__(self, size: int | None = None, options=None) -> None:
        super().__init__(size or default_processes(), options)
        self.replaced = False           # the pool broke, or had to be killed: the next run gets a fresh one
        self._inner: dict[Future, Future] = {}
        self._waiting: collections.deque[tuple[Job, Future]] = collections.deque()
        self._sent = 0                  # calls in the executor now: at most one per worker
        self._lock = threading.Lock()

    def prepare(self, workload) -> None:
        self._pool = warm_pool(self.size)

    def submit(self, job: Job) -> Future:
        """Calls wait here, not in the executor (which takes them off its queue eagerly, past any cancel):
        one per worker is sent, the next as one comes back."""
        out: Future = Future()
        with self._lock:
            self._waiting.append((job, out))
        self._feed()
        return out

    def _feed(self) -> None:
        while True:
            with self._lock:
                while self._waiting and self._waiting[0][1].done():     # cancelled while it waited
                    self._waiting.popleft()
                if self._sent >= self.size or not self._waiting:
                    return
                job, out = self._waiting.popleft()
                self._sent += 1
            self._send(job, out)

    def _send(self, job: Job, out: Future) -> None:
        try:
            inner = self._pool.submit(pool_task, job.call.tool, job.call.params, job.ctx)
        except BrokenProcessPool as exc:
            inner = Future()
            inner.set_exception(exc)
        self._inner[out] = inner
        inner.add_done_callback(lambda done: self._came_back(done, out))

    def _came_back(self, done: Future, out: Future) -> None:
        with self._lock:
            self._sent -= 1
        self._settle(done, out)
        self._feed()

    def _settle(self, done: Future, out: Future) -> None:
        if done.cancelled():
            out.cancel()
            return
        try:
            outcome = done.result()
        except BrokenProcessPool:
            self.replaced = True
            outcome = Outcome("crashed", error="BrokenProcessPool: a pool worker died, and every call still in "
                                               "the pool was lost with it")
        except Exception as exc:  # e.g. a result that could not be pickled
            status, message = classify(exc)
            outcome = Outcome(status, error=message)
        with contextlib.suppress(InvalidStateError):     # its awaiting task was cancelled meanwhile
            out.set_result(outcome)

    def cancel(self, future: Future) -> bool:
        with self._lock:
            waiting = any(out is future for _, out in self._waiting)
        if waiting:
            future.cancel()                     # never sent: it never runs
        elif future in self._inner:
            self._inner[future].cancel()        # in the executor: dropped if no worker took it yet
        return False

    def give_up(self) -> None:
        """The run's bound passed with calls still in the pool: kill it after the run."""
        self.replaced = True

    def close(self) -> None:
        if self.replaced or any(not f.done() for f in self._inner.values()):
            self.replaced = True
            discard_pool(self._pool)

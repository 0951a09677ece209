"""to_thread: each call on a pool of daemon threads started before the clock (``threads`` mode, ``blocking``
tools in ``hybrid``), sized by the engine: asyncio's default executor has only min(32, cores + 4) workers.

TIMEOUT: Python cannot kill a thread. At the call's deadline (counted from when a thread picked it up)
a watchdog stops waiting for it: the call is ``timeout`` with ``detail["abandoned"]``, and its thread
runs on by itself until the call returns (``agent_core.abandoned_calls()`` lists it meanwhile; daemon
threads never hold the process's exit). CANCEL: a call still queued never runs; one already running is
abandoned the same way (``cancelled``, still running). Like ``anyio.to_thread.run_sync`` with
``abandon_on_cancel=True``.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import Future

from .._execute import Outcome
from .._threads import DaemonThreadPool
from ..calls import call_blocking
from . import Job, Lane

DEFAULT_THREADS = 32


class ThreadLane(Lane):
    name = "thread"
    title = "thread pool"
    where = "in its own thread"
    default_size = DEFAULT_THREADS

    def prepare(self, workload) -> None:
        self._threads = DaemonThreadPool(self.size, "thread")
        self._lock = threading.Lock()
        self._jobs: dict[Future, tuple[Job, Future]] = {}
        self._watchdog = _Watchdog(self._overdue)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._watchdog.stop()

    def submit(self, job: Job) -> Future:
        out: Future = Future()
        out.set_running_or_notify_cancel()       # only this lane settles it (a thread cannot be cancelled)
        self._jobs[out] = (job, self._threads.submit(self._work, job, out))
        return out

    def cancel(self, future: Future) -> bool:
        job, inner = self._jobs[future]
        with self._lock:
            if future.done():
                return False
            if inner.cancel():
                future.set_result(Outcome("cancelled", error="cancelled before a thread picked it up"))
                return False
            job.abandon("cancelled")             # recorded before the thread can come back
            future.set_result(Outcome("cancelled", {"abandoned": True}))
            return True

    def _work(self, job: Job, out: Future) -> None:
        job.begin(threading.current_thread().name)
        self._watchdog.watch(time.monotonic() + job.timeout_s, out)
        outcome = call_blocking(job.call.tool, job.call.params, job.ctx)
        with self._lock:
            late = out.done()
            if not late:
                out.set_result(outcome)
        if late:
            job.came_back()

    def _overdue(self, out: Future) -> None:
        job, _ = self._jobs[out]
        with self._lock:
            if out.done():
                return
            job.abandon("timeout")
            out.set_result(Outcome("timeout", {"abandoned": True}))


class _Watchdog:
    """One thread that wakes at the earliest deadline among running calls and reports each overdue one."""

    def __init__(self, overdue) -> None:
        self._overdue = overdue
        self._heap: list[tuple[float, int, Future]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        threading.Thread(target=self._run, name="thread-lane-watchdog", daemon=True).start()

    def watch(self, deadline: float, out: Future) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline, next(self._seq), out))
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._wake.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                if self._stopped:
                    return
                _, _, out = heapq.heappop(self._heap)
            if not out.done():
                self._overdue(out)

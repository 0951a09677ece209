"""Cancellation: a run is cancelled by ``on_error="cancel-siblings"`` (the first call that fails) or by
its bound (``MAX_RUN_S``). Tasks on the loop are cancelled at once; queued work as it is reached.
Running threads and pool tasks cannot be stopped: their lanes say how they end."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from ..workload import MAX_RUN_S

BOUND_REASON = f"cancelled: the run reached its {MAX_RUN_S:g} s bound"


class Cancellation:
    def __init__(self, now: Callable[[], float], done: Callable[[int], bool]) -> None:
        self._now, self._done = now, done
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[int, asyncio.Task] = {}

    def cancel(self, reason: str) -> None:
        """Cancel every call that has not finished (the first reason given is the one reported)."""
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
        if self._loop is not None:
            for i, task in list(self._tasks.items()):
                if not self._done(i):
                    self._loop.call_soon_threadsafe(task.cancel)

    def cancelled(self) -> bool:
        """Whether the run is cancelled; past its bound, it becomes so."""
        if not self._event.is_set() and self._now() >= MAX_RUN_S:
            self.cancel(BOUND_REASON)
        return self._event.is_set()

    def past_bound(self) -> bool:
        return self._now() >= MAX_RUN_S

    def left_s(self) -> float:
        return max(0.0, MAX_RUN_S - self._now())

    def track(self, loop: asyncio.AbstractEventLoop, index: int, task: asyncio.Task) -> None:
        """A call's task on the run's loop, to be cancelled with the run."""
        self._loop = loop
        self._tasks[index] = task

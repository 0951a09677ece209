"""The ledger: one record per call. The first word on a call is the one that counts: a thread that comes
back after it was abandoned, or a task finishing as it is cancelled, cannot overwrite its record."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .._execute import Outcome
from ..records import TaskRecord
from ..workload import Call

# calls abandoned in their threads, across runs: (run, call id) -> when they were abandoned
_ABANDONED: dict[tuple[int, str], float] = {}
_ABANDONED_LOCK = threading.Lock()


def abandoned_calls() -> list[str]:
    """Calls whose threads were abandoned at their timeout and are still running (in this process)."""
    with _ABANDONED_LOCK:
        return [call_id for _, call_id in _ABANDONED]


class Ledger:
    """Who started where and when, and how each call ended. ``on_record`` and ``on_start`` are the run's
    observers (called from whichever thread finished or started the call: keep them quick and
    thread-safe); ``on_failure`` hears of every call that did not end ok."""

    def __init__(self, calls: list[Call], on_record: Callable[[TaskRecord], None] | None = None,
                 on_start: Callable[[Call, float, str], None] | None = None,
                 on_failure: Callable[[TaskRecord], None] | None = None) -> None:
        n = len(calls)
        self.calls = calls
        self.records: list[TaskRecord | None] = [None] * n
        self.started: list[float | None] = [None] * n
        self.lanes: list[str] = [""] * n
        self._abandoned: set[int] = set()
        self._closed = False
        self._lock = threading.Lock()
        self._on_record, self._on_start, self._on_failure = on_record, on_start, on_failure
        self.on_release: Callable[[], None] | None = None   # the last abandoned call came back after the run

    def begin(self, call: Call, start: float, lane: str) -> None:
        self.started[call.index], self.lanes[call.index] = start, lane
        if self._on_start is not None:
            self._on_start(call, start, lane)

    def done(self, call: Call) -> bool:
        return self.records[call.index] is not None

    def record(self, call: Call, start: float, end: float, outcome: Outcome, worker: str) -> TaskRecord | None:
        detail = dict(outcome.detail)
        if call.fault:
            detail["fault"] = call.fault
        record = TaskRecord(call.id, call.tool, call.kind, outcome.worker or worker, start, end, outcome.cpu_s,
                            outcome.status, outcome.error, detail, [self.calls[d].id for d in call.deps], call.stage)
        # (self.calls: the run's calls as built; `call` may be the one filled in from its dependencies' results)
        with self._lock:
            if self.records[call.index] is not None:
                return None
            self.records[call.index] = record
        if self._on_record is not None:
            self._on_record(record)
        if record.status not in ("ok", "cancelled") and self._on_failure is not None:
            self._on_failure(record)
        return record

    def abandon(self, call: Call, start: float, end: float, outcome: Outcome) -> TaskRecord | None:
        """Record a call whose thread is given up on; it is counted as running until :meth:`came_back`."""
        record = self.record(call, start, end, outcome, self.lanes[call.index])
        if record is not None:
            with self._lock:
                self._abandoned.add(call.index)
            with _ABANDONED_LOCK:
                _ABANDONED[(id(self), call.id)] = time.monotonic()
        return record

    def came_back(self, call: Call) -> None:
        """An abandoned call's thread returned; the last one after the run lets the run's resources go."""
        with self._lock:
            if call.index not in self._abandoned:
                return
            self._abandoned.discard(call.index)
            release = self._closed and not self._abandoned
        with _ABANDONED_LOCK:
            _ABANDONED.pop((id(self), call.id), None)
        if release and self.on_release is not None:
            self.on_release()

    def close(self) -> bool:
        """The run is over: True if its resources can go now (no abandoned call may still use them)."""
        with self._lock:
            self._closed = True
            return not self._abandoned

    def abandoned_ids(self) -> list[str]:
        with self._lock:
            return [self.calls[i].id for i in sorted(self._abandoned)]

"""A run: its calls, its one clock, its lanes, its resources and, at the end, its report.

Work that is not the workload (starting the backend, warming pools, building clients, creating the
database) happens in :meth:`Run.prepare`, before the clock starts, and is reported as ``setup_s``.
Observers are given at construction: ``on_record`` (each finished call), ``on_start`` (each call as it
starts, with its lane) and ``on_clock`` (the clock started); they are called from whichever thread did
the work, so keep them quick and thread-safe.
"""
from __future__ import annotations

import gc
import itertools
import threading
import time
from collections.abc import Callable

from .._execute import Outcome
from ..lanes import Lane, make_lane
from ..modes import get_mode
from ..records import RunReport, TaskRecord
from ..workload import Call, Options, Workload
from .cancel import Cancellation
from .dispatch import Dispatch
from .ledger import Ledger
from .resources import Resources

Clock = Callable[[], float]
FULL_COLLECT_EVERY = 10
NO_FULL_COLLECTIONS = 1 << 30       # gen-2 threshold while a run holds the collector: never reached
_prepared = itertools.count(1)


class _Collector:
    """The cyclic collector while runs are going: the heap that was there before is frozen (kept out of every
    scan), and full collections wait until the last run ends. Runs may overlap (several threads of one
    process): the first one in freezes, the last one out lets go.

    Why full collections wait: after ``gc.freeze()`` the collector sizes "the old generation" from what it
    finds unfrozen (almost nothing), so it ran a full collection every 10 young-generation-1 collections over
    the run's own live objects (the dicts of a CPU call): 11 full collections in six analysis calls of 120,000
    words, +4.7 % of the calls' instructions (cachegrind), where a pool worker, whose heap is not frozen,
    ran one. With them deferred, the calling process executes the same calls in 0.5 % fewer instructions than
    a worker: the sequential baseline is not handicapped (``scripts/physics_probe.py``). Young collections go
    on as usual; cycles that survive them wait for the end of the run (at most ``MAX_RUN_S``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._threshold = gc.get_threshold()

    def hold(self) -> None:
        with self._lock:
            self._holders += 1
            if self._holders == 1:
                gc.freeze()
                self._threshold = gc.get_threshold()
                gc.set_threshold(self._threshold[0], self._threshold[1], NO_FULL_COLLECTIONS)

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                gc.set_threshold(*self._threshold)
                gc.unfreeze()


_collector = _Collector()


class Run:
    def __init__(self, workload: Workload, mode: str, options: Options, clock: Clock = time.perf_counter,
                 on_record: Callable[[TaskRecord], None] | None = None,
                 on_start: Callable[[Call, float, str], None] | None = None,
                 on_clock: Callable[[float], None] | None = None) -> None:
        self.workload, self.mode, self.options, self.clock = workload, mode, options, clock
        self.strategy = get_mode(mode)
        self.plan = self.strategy.plan(workload, options.workers)
        self.calls = workload.calls()
        self.waits = _waits(self.calls, options.barrier)
        self.resolved: dict[int, Call] = {}         # a call as it ran, filled in from its dependencies' results
        self.t0 = clock()
        self.started_at = 0.0
        self.setup_s = 0.0
        self._holding = False           # this run holds the collector (prepare() got that far)
        self.ledger = Ledger(self.calls, on_record, on_start, self._failed)
        self.cancel = Cancellation(self.now, lambda i: self.ledger.records[i] is not None)
        self.resources = Resources(workload, options)
        routes = self.strategy.ROUTES
        used = dict.fromkeys(routes[kind] for kind in routes if workload.count_kind(kind))
        self.lanes: dict[str, Lane] = {name: make_lane(name, self.plan.sizes.get(name), options) for name in used}
        self.dispatch = Dispatch(self)
        self.prepared: list[Lane] = []          # lanes prepared, then opened (loop modes): what is closed after
        self.opened: list[Lane] = []
        self._on_clock = on_clock

    @property
    def real_clock(self) -> bool:
        """Stamps from other processes (their ``perf_counter``) can be placed on this clock."""
        return self.clock is time.perf_counter

    def now(self) -> float:
        return self.clock() - self.t0

    def lane_for(self, call: Call) -> Lane:
        return self.lanes[self.strategy.ROUTES[call.kind]]

    def ready(self, call: Call) -> Call | None:
        """The call as it will run, now that what it waits for is done; None if it will not run (then it is
        recorded here: a dependency that failed, or a tool the model did not ask for)."""
        if not call.deps and not call.resolve:
            return call
        from ..pipelines import NotRun, blocks, resolve
        records = self.ledger.records
        for d in call.deps:
            if blocks(records[d]):
                ended = records[d].status if records[d] is not None else "without a result"
                return self._not_run(call, "cancelled", f"not run: {self.calls[d].id}, which it needs, ended {ended}")
        try:
            self.resolved[call.index] = resolved = resolve(call, self.workload, records)
            return resolved
        except NotRun as exc:
            return self._not_run(call, exc.status, exc.error)

    def _not_run(self, call: Call, status: str, error: str) -> None:
        t = self.now()
        self.ledger.record(call, t, t, Outcome(status, error=error), "not started")
        return None

    def _failed(self, record: TaskRecord) -> None:
        if self.options.on_error == "cancel-siblings":
            self.cancel.cancel(f"cancelled: {record.id} ended {record.status} and on_error is cancel-siblings")

    # -- before and after the clock ------------------------------------------------------------------------
    def prepare(self) -> None:
        t = self.clock()
        self.resources.prepare()
        for lane in self.lanes.values():
            lane.prepare(self.workload)
            self.prepared.append(lane)          # what fails to prepare is not closed: its own error is the one told
        # Everything alive now (the host's modules, Streamlit's and pandas' heaps) is kept out of the cyclic
        # collector's scans until the run ends: a full collection over a big app heap stops the world for
        # 10-25 ms. The run's own young garbage is still collected as usual (see _Collector). Undone in cleanup().
        # freeze() resets the young generation's count, so back-to-back runs would never collect on their own,
        # and unfreeze() hands what was frozen to the oldest generation: collect here, before the clock (a young
        # collection each run, a full one every FULL_COLLECT_EVERY runs: 80-180 ms over an app-sized heap).
        gc.collect() if next(_prepared) % FULL_COLLECT_EVERY == 0 else gc.collect(1)
        _collector.hold()
        self._holding = True
        self.setup_s = self.clock() - t

    async def open_lanes(self) -> None:
        for lane in self.lanes.values():
            await lane.open(self.workload)
            self.opened.append(lane)

    async def aclose_lanes(self) -> None:
        for lane in self.opened:
            await lane.aclose()

    def start_clock(self) -> None:
        self.started_at, self.t0 = time.time(), self.clock()
        if self._on_clock is not None:
            self._on_clock(self.started_at)

    def cleanup(self) -> None:
        """Release what the run held. What an abandoned thread may still use is released when the last one
        comes back; a pool that broke, or that may still run an abandoned task, is replaced."""
        if self._holding:
            self._holding = False
            _collector.release()
        for lane in self.prepared:
            lane.close()
        self.ledger.on_release = self.resources.release
        if self.ledger.close():
            self.resources.release()

    # -- the report ----------------------------------------------------------------------------------------
    def report(self, wall_s: float, loop_lag: list[tuple[float, float]] | None = None) -> RunReport:
        reason = self.cancel.reason or "never started"
        tasks = [r if r is not None else TaskRecord(c.id, c.tool, c.kind, "not started", wall_s, wall_s, 0.0,
                                                    "cancelled", reason, deps=self.workload.dep_ids(c), stage=c.stage)
                 for c, r in zip(self.calls, self.ledger.records, strict=True)]
        return RunReport.of(self.mode, wall_s, tasks, self.workload, self.options, workers=self.plan.workers,
                            loop_lag=loop_lag, setup_s=self.setup_s, started_at=self.started_at,
                            abandoned=self.ledger.abandoned_ids(),
                            pool_replaced=any(getattr(lane, "replaced", False) for lane in self.lanes.values()))


def _waits(calls: list[Call], barrier: bool) -> list[tuple[int, ...]]:
    """What each call waits for: its own dependencies or, with a barrier, also every call of the stage before its
    own (a graph run in supersteps). A flat workload's calls wait for nothing."""
    if not barrier:
        return [c.deps for c in calls]
    stages = list(dict.fromkeys(c.stage for c in calls))
    members: dict[str, list[int]] = {}
    for c in calls:
        members.setdefault(c.stage, []).append(c.index)
    out = []
    for c in calls:
        at = stages.index(c.stage)
        before = members[stages[at - 1]] if at else []
        out.append(tuple(sorted(set(c.deps) | set(before))))
    return out

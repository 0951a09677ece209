"""Lanes: the places a call can run. One module each, one small interface, one registry (:data:`LANES`).

A lane only *runs* a call where it lives; the engine (:mod:`agent_core.engine`) owns the policy: the
clock, the records, the run's bound, cancellation and the report. A mode names, per kind of tool, the
lane its calls go to (``ROUTES``); it never reads a clock.

The interface (a lane implements ``run``, ``call`` or ``submit``; the engine uses what is there)::

    prepare(workload)        before the clock, off any event loop: pools warm, clients built
    async open() / aclose()  on the run's event loop (loop modes only): loop-bound resources
    run(job) -> Outcome      blocking, in the calling thread
    async call(job) -> Outcome          awaited on the run's event loop
    submit(job) -> Future[Outcome]      a concurrent future, resolved from wherever the call ran
    cancel(future) -> bool   after a cancel: True if the call is still running (a thread cannot be stopped)
    close()                  after the run: release what this run held (shared pools stay warm)

A :class:`Job` is one call on its way through a lane: the call, its context, and the hooks a lane uses to
tell the engine that the call started here and now (``job.begin(worker)``), that it was abandoned, and
that an abandoned call came back. Each lane's docstring says what a TIMEOUT and a CANCEL do there.
"""
from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from concurrent.futures import Future

from .._execute import Outcome
from ..errors import BadInput

# name -> "module:Class"; the one list of lanes
LANES: dict[str, str] = {
    "here": "agent_core.lanes.here:HereLane",
    "loop": "agent_core.lanes.loop:LoopLane",
    "thread": "agent_core.lanes.to_thread:ThreadLane",
    "pool": "agent_core.lanes.to_pool:PoolLane",
    "child": "agent_core.lanes.to_child:ChildLane",
    "dask": "agent_core.lanes.to_dask:DaskLane",
}


class Job:
    """One call on its way through a lane. ``begin(worker)`` stamps its start on the run's clock, from the
    thread that starts it; ``abandon(outcome)`` and ``came_back()`` report a call whose thread was given up."""

    __slots__ = ("call", "ctx", "begin", "abandon", "came_back", "timeout_s")

    def __init__(self, call, ctx, timeout_s: float, begin: Callable[[str], float],
                 abandon: Callable[[Outcome], None], came_back: Callable[[], None]) -> None:
        self.call, self.ctx, self.timeout_s = call, ctx, timeout_s
        self.begin, self.abandon, self.came_back = begin, abandon, came_back


class Lane:
    """Defaults shared by every lane. ``in_process``: a call here runs in this process (a crash in it takes
    the caller down, so such runs are hosted in a sacrificial child). ``remote``: a call here runs in
    another process and gets a context without this process's clients. ``where``: the words for a call
    that overran its timeout here because nothing could interrupt it (None: the lane interrupts it).
    ``title``: what a group of such lanes is called in words (a trace's process names)."""

    name = ""
    title = ""
    in_process = True
    remote = False
    where: str | None = None
    default_size = 1

    def __init__(self, size: int | None = None, options=None) -> None:
        self.size = size or self.default_size
        self.options = options          # the run's Options (None outside a run)

    def prepare(self, workload) -> None:
        """Before the clock, off the loop."""

    async def open(self, workload) -> None:
        """On the run's loop, before the clock."""

    async def aclose(self) -> None:
        """On the run's loop, after the clock."""

    def close(self) -> None:
        """After the run."""

    def cancel(self, future: Future) -> bool:
        """Drop a submitted call if it has not started; True if it is still running and cannot be stopped."""
        future.cancel()
        return False

    async def call(self, job: Job) -> Outcome:
        """By default a lane that submits is awaited through its future; cancelling the await cancels it."""
        future = self.submit(job)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self.cancel(future)
            raise

    def submit(self, job: Job) -> Future:
        raise NotImplementedError(f"the {self.name} lane has no submit")


def lane_class(name: str) -> type[Lane]:
    if name not in LANES:
        raise BadInput(f"unknown lane {name!r}: allowed are {', '.join(LANES)}")
    module, cls = LANES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_lane(name: str, size: int | None = None, options=None) -> Lane:
    return lane_class(name)(size, options)

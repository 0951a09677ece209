"""Driving a run: in this thread (``sequential``, ``threads``, ``process-pool``, ``distributed``) or on an
event loop in this process (``asyncio``, ``subprocess``, ``hybrid``: the loop's lag is measured).

Calls whose lane runs them inline go one after another in this thread; the others are submitted to
their lanes, or started as tasks on the loop, and waited for. The run's bound (``MAX_RUN_S``) cancels
whatever is still pending; past it, what cannot be cancelled is given up on and recorded as a timeout.
"""
from __future__ import annotations

import asyncio
import queue
from collections import deque
from concurrent.futures import Future

from ..heartbeat import Heartbeat
from ..records import RunReport
from ..workload import Call
from .cancel import BOUND_REASON
from .run import Run

POLL_S = 0.05               # how often a cancelled run looks again at calls it is waiting for


def execute(run: Run) -> RunReport:
    """Run a set-up :class:`Run` in this thread (a loop mode on a loop of its own) and report it."""
    if run.strategy.LOOP:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(on_loop(run))
        raise RuntimeError("agent_core.run() was called from a running event loop: use `await agent_core.arun(...)`")
    return in_thread(run)


def in_thread(run: Run) -> RunReport:
    try:
        run.prepare()
        run.start_clock()
        _schedule(run)
        wall = run.now()
    finally:
        run.cleanup()
    return run.report(wall)


def _schedule(run: Run) -> None:
    """Start each call once what it waits for is done (a flat workload's: at once): calls whose lane runs them
    inline go one after another in this thread, the others are submitted to their lanes; then wait for what is
    out. A call whose dependency failed is recorded as not run, and what waits for it is released in turn."""
    waiting = [set(w) for w in run.waits]
    users: dict[int, list[int]] = {}
    for i, w in enumerate(run.waits):
        for d in w:
            users.setdefault(d, []).append(i)
    ready = deque(i for i, w in enumerate(waiting) if not w)
    finished: queue.SimpleQueue[int] = queue.SimpleQueue()      # calls whose futures resolved, from any thread
    inline: deque[Call] = deque()
    out: dict[int, Future] = {}                                  # submitted, not yet released

    def release(i: int) -> None:
        if (future := out.pop(i, None)) is not None and future.done():
            future.result()                     # a bug in the engine itself should not pass silently
        for u in users.get(i, ()):
            waiting[u].discard(i)
            if not waiting[u]:
                ready.append(u)

    while ready or inline or out:
        while ready:
            call = run.calls[ready.popleft()]
            resolved = run.ready(call)
            if resolved is None:
                release(call.index)
            elif hasattr(run.lane_for(resolved), "run"):
                inline.append(resolved)
            else:
                out[call.index] = future = run.dispatch.submit(resolved)
                future.add_done_callback(lambda _, i=call.index: finished.put(i))
        _drain(finished, out, release)
        if ready:
            continue
        if inline:
            call = inline.popleft()
            run.dispatch.inline(call)
            release(call.index)
        elif out:
            _wait(run, out, finished, release)


def _drain(finished: queue.SimpleQueue, out: dict, release, timeout: float | None = None) -> None:
    """Release every submitted call whose future resolved; with ``timeout``, first wait that long for one."""
    try:
        i = finished.get(timeout=timeout) if timeout is not None else finished.get_nowait()
    except queue.Empty:
        return
    while True:
        if i in out:
            release(i)
        try:
            i = finished.get_nowait()
        except queue.Empty:
            return


def _wait(run: Run, out: dict[int, Future], finished: queue.SimpleQueue, release) -> None:
    """Wait for a submitted call to resolve. Once the run is cancelled, drop what has not started and, past the
    run's bound, give up on what is still out (what waits for it is then released, and recorded as not run)."""
    _drain(finished, out, release, POLL_S if run.cancel.cancelled() else run.cancel.left_s() + 0.001)
    if not run.cancel.cancelled():
        return
    for i, future in list(out.items()):
        if future.done():
            continue
        call = run.resolved.get(i, run.calls[i])
        run.dispatch.drop(call)
        if run.cancel.past_bound():
            run.dispatch.give_up(call)
        if run.ledger.done(call):
            out.pop(i)
            release(i)


async def on_loop(run: Run) -> RunReport:
    """Run it on the running loop, with the heartbeat measuring how late the loop wakes."""
    heartbeat = Heartbeat(run.clock)
    try:
        await asyncio.to_thread(run.prepare)
        await run.open_lanes()
        heartbeat.start()
        await asyncio.sleep(0)          # the heartbeat's first beat is scheduled before the clock starts
        run.start_clock()
        await _gather(run)
        wall = run.now()
    finally:
        await heartbeat.stop()
        await run.aclose_lanes()
        run.cleanup()
    return run.report(wall, heartbeat.since(run.t0))


async def _gather(run: Run) -> None:
    """Every call as a task on this loop (at most ``plan.limit`` at once), until all are done; a pipeline's call
    first waits, on the loop, for what it needs.

    ``plan.stagger`` yields to the loop after starting each task, so their first steps (building a request,
    opening a connection: ~1 ms each) are not all taken in one loop iteration: the loop keeps answering
    while the calls start (max lag ~6 ms instead of ~13 ms for 30 mixed calls), at the price of a loop
    iteration per call (~15% of throughput at 1,000 calls)."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(run.plan.limit) if run.plan.limit else None
    done = [asyncio.Event() for _ in run.calls]

    async def one(call: Call):
        try:
            for d in run.waits[call.index]:
                await done[d].wait()
            if (resolved := run.ready(call)) is None:
                return None
            if gate is None:
                return await run.dispatch.awaited(resolved)
            async with gate:
                return await run.dispatch.awaited(resolved)
        except asyncio.CancelledError:
            run.dispatch.cancelled(call)        # cancelled while it waited (a call's own cancel is recorded too)
            raise
        finally:
            done[call.index].set()

    tasks = []
    for call in run.calls:
        task = asyncio.ensure_future(one(call))
        run.cancel.track(loop, call.index, task)
        tasks.append(task)
        if run.plan.stagger and not run.waits[call.index]:
            await asyncio.sleep(0)                  # this task takes its first step; the loop breathes
    bound = loop.call_later(run.cancel.left_s(), run.cancel.cancel, BOUND_REASON)
    try:
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        bound.cancel()
    for result in results:
        if isinstance(result, Exception):       # a bug in the engine itself should not pass silently
            raise result

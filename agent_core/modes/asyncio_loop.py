"""asyncio: every call on one event loop, the way naive asyncio code does it.

``io`` tools are awaited and overlap. ``blocking`` and ``cpu`` tools have no async API, so they are
called directly in a coroutine and freeze the loop for as long as they run: the trap, made visible by
the heartbeat. ``workers``, when given, caps how many calls are in flight (a semaphore).
"""
from __future__ import annotations

import asyncio

from . import Plan

SUMMARY = "one event loop: I/O overlaps, but blocking and CPU calls run on the loop and freeze it"
LOOP = True
MAX_WORKERS = 500


def plan(workload, workers: int | None) -> Plan:
    return Plan(workers=workers)


async def schedule(run) -> None:
    limit = asyncio.Semaphore(run.workers) if run.workers else None

    async def one(call):
        if limit is None:
            return await run.call_on_loop(call)
        async with limit:
            return await run.call_on_loop(call)

    await asyncio.gather(*(one(call) for call in run.calls))

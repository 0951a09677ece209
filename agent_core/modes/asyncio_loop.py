"""asyncio: every call on one event loop, the way naive asyncio code does it.

``io`` tools are awaited (and cancelled at their timeout by ``asyncio.timeout``) and overlap. The other
tools have no async API, so they are called directly in a coroutine and freeze the loop for as long as
they run: the trap, made visible by the heartbeat (a ``sandboxed_script`` runs unprotected, on the
loop's own thread). ``async_twins`` awaits ``aiosqlite`` for ``memory_write`` instead. ``workers``,
when given, caps how many calls are in flight (a semaphore).
"""
from __future__ import annotations

from . import ALL_KINDS, Plan

SUMMARY = "one event loop: I/O overlaps, but blocking and CPU calls run on the loop and freeze it"
IN_PROCESS_KINDS = ALL_KINDS
LOOP = True
MAX_WORKERS = 500


def plan(workload, workers: int | None) -> Plan:
    return Plan(workers=workers, async_http=True)


async def schedule(run) -> None:
    await run.gather(run.calls, run.call_on_loop, limit=run.workers)
